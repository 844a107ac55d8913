// The real MediaWiki 1.39 test farm: N SQLite wikis sharing one Redis job queue, with helpers to
// push jobs, edit pages, run runJobs.php and serve the wikis over HTTP. Used by integration tests,
// the demo and the benchmarks.
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeshellarg } from '../mediawiki/php-encoding.js';
import { eventBusPath, mediawikiPath, requireFarmPrerequisites } from './farm-paths.js';
import { startFarmWebServer, type FarmWebServer } from './farm-web-server.js';
import { startFpmWebServer } from './fpm-web-server.js';
import { ensureFarmTemplate } from './farm-template.js';
import { parseLastJson, runCommand, type CommandResult } from './php-command.js';
import { trackDir, untrackDir } from './process-tree.js';
import type { RedisServerHandle } from './redis-server.js';
import { startFarmDatabases, type MariaDbFarm } from './mariadb-farm.js';

export type ExtraJobBehaviour = 'null' | 'fail' | 'throw' | 'sleep';
const BEHAVIOURS: readonly string[] = ['null', 'fail', 'throw', 'sleep'];

export interface BuildFarmOptions {
  /** Farm directory; default a fresh temp dir, removed by destroy(). A given dir is kept. */
  dir?: string;
  /** wiki1..wikiN; default 2. */
  wikis?: number;
  /**
   * More wikis: e.g. "wiki+é" (an ID that needs rawurlencode in Redis keys) or "DB-PREFIX" (a wiki
   * with table prefix PREFIX, [A-Za-z0-9_]+). No "/", whitespace or quotes; DB names must be unique.
   */
  extraWikis?: string[];
  /** The job-queue Redis: a fixture handle (its password is used too) or "host:port". */
  redis: RedisServerHandle | string;
  redisPassword?: string;
  /** JobQueueRedis 'compression' => 'gzip'. */
  gzip?: boolean;
  /** 'db' = core JobQueueDB instead of Redis; 'eventbus' = EventBus's JobQueueEventBus (needs eventBus). */
  queue?: 'redis' | 'db' | 'eventbus';
  /** Load the EventBus extension (REL1_39, farm-paths eventBusPath()): job events and its REST executor. */
  eventBus?: boolean;
  /** Where EventBus POSTs events (an EventGate-style http://HOST:PORT/v1/events). */
  eventServiceUrl?: string;
  /** host:port of a memcached to use as MediaWiki's main cache (default: none). */
  memcached?: string;
  /** Debug log groups runJobs, JobExecutor, redis, JobQueueRedis, JobQueue in DIR/logs/. */
  debugLog?: boolean;
  /**
   * Install the wikis on MariaDB instead of SQLite: `sections` private mariadbd servers (default 2),
   * the wikis spread over them in turn, JobQueueDB (queue 'db') in each wiki's own database with
   * `claimTTL` seconds (default 3600). The servers are stopped by destroy().
   */
  mariadb?: { sections?: number; claimTTL?: number };
}

export interface PushJobsOptions {
  type?: string;
  count?: number;
  /** Release time = now + delaySeconds (delayed jobs). */
  delaySeconds?: number;
  /** removeDuplicates, identical params: N pushes give one job. */
  dedupe?: boolean;
  params?: Record<string, unknown>;
  usleep?: number;
  lives?: number;
  batch?: number;
  /** Root-job params (Job::newRootJobParams); a string is the root key (default "mwfarm:<type>"). */
  root?: boolean | string;
}

export interface RunJobsOptions {
  type?: string;
  maxJobs?: number;
  maxTime?: number;
  /**
   * Honour MediaWiki's job back-offs (default false). After a failed job MediaWiki backs its type
   * off at random (1 in 50) in a file shared by every run, which would make a test's next run pop
   * nothing; tests that do not study back-offs pass --nothrottle.
   */
  throttle?: boolean;
}

export interface ShowJobsOptions {
  group?: boolean;
  list?: boolean;
  status?: string;
  type?: string;
}

export interface MediaWikiFarm {
  readonly dir: string;
  readonly wikis: string[];
  /** DIR/FarmSettings.php, the MW_CONFIG_FILE. */
  readonly settingsFile: string;
  /** The $wgSecretKey of every wiki (signs Special:RunJobs). */
  readonly secretKey: string;
  readonly secretKeyFile: string;
  readonly redisAddress: string;
  /** Warm opcache file cache shared by farms built from the same template. */
  readonly opcacheDir: string;
  readonly mediawikiPath: string;
  readonly mediawikiVersion: string;
  /** The MariaDB servers of a farm built with `mariadb` (undefined for SQLite farms). */
  readonly mariadb: MariaDbFarm | undefined;
  /** process.env plus MW_CONFIG_FILE, JOBRUNNER_FARM_REDIS (and password/gzip/queue/memcached), plus extra. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Only the farm variables env() adds (no process.env). */
  farmEnv(): Record<string, string>;
  /**
   * jobrunner.conf dispatcher template with the original placeholders. Starts with
   * `env MW_CONFIG_FILE=… JOBRUNNER_FARM_REDIS=… php …` so it works without the farm environment.
   */
  runJobsCommand(): string;
  pushJobs(wiki: string, opts?: PushJobsOptions): Promise<number>;
  edit(wiki: string, title: string, text: string): Promise<void>;
  importPages(wiki: string, pages: Record<string, string>): Promise<void>;
  /** runJobs.php --result=json; the parsed JSON. */
  runJobs(wiki: string, opts?: RunJobsOptions): Promise<unknown>;
  showJobs(wiki: string, opts?: ShowJobsOptions): Promise<string>;
  setExtraJobTypes(map: Record<string, ExtraJobBehaviour>): Promise<void>;
  /** Any maintenance script: php <MW>/maintenance/<script> --wiki=<wiki> ...args. */
  maintenance(wiki: string, script: string, args?: string[], input?: string): Promise<CommandResult>;
  /**
   * `env`: extra variables for this server only (e.g. JOBRUNNER_FARM_UNSIGNED_EVENTS). `server`:
   * 'php' (default) one `php -S`, `workers` its PHP_CLI_SERVER_WORKERS; 'fpm' Apache httpd in front
   * of a php-fpm pool of `workers` children, as production runs MediaWiki (fpm-web-server.ts).
   */
  startWebServer(opts?: StartWebServerOptions): Promise<FarmWebServer>;
  /**
   * The same wikis and databases with MediaWiki's job queue switched ('redis' after a cutover, 'db'
   * before it). The view owns neither the dir nor the database servers.
   */
  withQueue(queue: 'redis' | 'db'): MediaWikiFarm;
  /**
   * Switches the wikis' job queue (JOBRUNNER_FARM_QUEUE) for commands and web servers started from
   * now on, as a deploy of a new $wgJobTypeConf would; 'eventbus' needs the farm built with eventBus.
   */
  setQueue(queue: 'redis' | 'db' | 'eventbus'): void;
  /** Stops web servers started here and removes the farm dir (unless the caller chose it). */
  destroy(): Promise<void>;
}

export type { FarmWebServer } from './farm-web-server.js';

export type WebServerKind = 'php' | 'fpm';

export interface StartWebServerOptions {
  workers?: number;
  server?: WebServerKind;
  env?: NodeJS.ProcessEnv;
}

class Farm implements MediaWikiFarm {
  readonly settingsFile: string;
  readonly secretKeyFile: string;
  readonly mediawikiPath = mediawikiPath();
  private readonly servers = new Set<FarmWebServer>();
  private destroyed = false;

  constructor(
    readonly dir: string,
    readonly wikis: string[],
    readonly secretKey: string,
    readonly redisAddress: string,
    readonly opcacheDir: string,
    readonly mediawikiVersion: string,
    private readonly variables: Record<string, string>,
    private readonly ownsDir: boolean,
    readonly mariadb: MariaDbFarm | undefined = undefined,
    /** destroy() stops the MariaDB servers (false for withQueue() views). */
    private readonly ownsDatabases = true,
  ) {
    this.settingsFile = join(dir, 'FarmSettings.php');
    this.secretKeyFile = join(dir, 'secret.key');
  }

  farmEnv(): Record<string, string> {
    return { ...this.variables };
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, ...this.variables, ...extra };
  }

  private phpFlags(): string[] {
    return [
      '-d',
      'opcache.enable_cli=1',
      '-d',
      `opcache.file_cache=${this.opcacheDir}`,
      '-d',
      'opcache.file_cache_only=1',
    ];
  }

  runJobsCommand(): string {
    const assignments = Object.entries(this.variables).map(([k, v]) => `${k}=${escapeshellarg(v)}`);
    return [
      'env',
      ...assignments,
      'php',
      ...this.phpFlags(),
      join(this.mediawikiPath, 'maintenance', 'runJobs.php'),
      '--wiki=%(db)x --type=%(type)x --maxtime=%(maxtime)x --memory-limit=%(maxmem)x --result=json',
    ].join(' ');
  }

  private php(script: string, args: string[], input?: string): Promise<CommandResult> {
    return runCommand('php', [...this.phpFlags(), script, ...args], { env: this.env(), input });
  }

  private requireWiki(wiki: string): void {
    if (!this.wikis.includes(wiki)) {
      throw new Error(`farm ${this.dir} has no wiki '${wiki}' (wikis: ${this.wikis.join(', ')})`);
    }
  }

  maintenance(wiki: string, script: string, args: string[] = [], input?: string): Promise<CommandResult> {
    const path = script.startsWith('/') ? script : join(this.mediawikiPath, 'maintenance', script);
    return this.php(path, [`--wiki=${wiki}`, ...args], input);
  }

  async pushJobs(wiki: string, opts: PushJobsOptions = {}): Promise<number> {
    this.requireWiki(wiki);
    const args = [`--wiki=${wiki}`, `--type=${opts.type ?? 'null'}`, `--count=${opts.count ?? 1}`];
    if (opts.delaySeconds !== undefined) args.push(`--delay=${opts.delaySeconds}`);
    if (opts.dedupe) args.push('--dedupe');
    if (opts.params) args.push(`--params=${JSON.stringify(opts.params)}`);
    if (opts.usleep !== undefined) args.push(`--usleep=${opts.usleep}`);
    if (opts.lives !== undefined) args.push(`--lives=${opts.lives}`);
    if (opts.batch !== undefined) args.push(`--batch=${opts.batch}`);
    if (opts.root) args.push('--root');
    if (typeof opts.root === 'string') args.push(`--root-key=${opts.root}`);
    const { stdout } = await this.php(join(this.dir, 'farm', 'pushJobs.php'), args);
    const result = parseLastJson(stdout) as { pushed?: unknown };
    if (typeof result.pushed !== 'number') throw new Error(`pushJobs.php printed no count: ${stdout}`);
    return result.pushed;
  }

  async edit(wiki: string, title: string, text: string): Promise<void> {
    this.requireWiki(wiki);
    await this.maintenance(wiki, 'edit.php', ['--user=Admin', '--summary=mwfarm edit', title], text);
  }

  async importPages(wiki: string, pages: Record<string, string>): Promise<void> {
    this.requireWiki(wiki);
    // importTextFiles.php takes the title from the file name, which cannot hold "/": those go through edit.php.
    const dir = mkdtempSync(join(this.dir, 'tmp', 'import-'));
    try {
      const files: string[] = [];
      for (const [title, text] of Object.entries(pages)) {
        if (title.includes('/')) {
          await this.edit(wiki, title, text);
          continue;
        }
        const file = join(dir, `${title}.txt`);
        writeFileSync(file, text);
        files.push(file);
      }
      if (files.length > 0) {
        await this.maintenance(wiki, 'importTextFiles.php', [
          '--user=Admin',
          '--overwrite',
          '--rc',
          ...files,
        ]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async runJobs(wiki: string, opts: RunJobsOptions = {}): Promise<unknown> {
    this.requireWiki(wiki);
    const args = ['--result=json'];
    if (opts.type !== undefined) args.push(`--type=${opts.type}`);
    if (opts.maxJobs !== undefined) args.push(`--maxjobs=${opts.maxJobs}`);
    if (opts.maxTime !== undefined) args.push(`--maxtime=${opts.maxTime}`);
    if (opts.throttle !== true) args.push('--nothrottle');
    const { stdout } = await this.maintenance(wiki, 'runJobs.php', args);
    return parseLastJson(stdout);
  }

  async showJobs(wiki: string, opts: ShowJobsOptions = {}): Promise<string> {
    this.requireWiki(wiki);
    const args: string[] = [];
    if (opts.group) args.push('--group');
    if (opts.list) args.push('--list');
    if (opts.status !== undefined) args.push(`--status=${opts.status}`);
    if (opts.type !== undefined) args.push(`--type=${opts.type}`);
    return (await this.maintenance(wiki, 'showJobs.php', args)).stdout;
  }

  async setExtraJobTypes(map: Record<string, ExtraJobBehaviour>): Promise<void> {
    for (const [type, behaviour] of Object.entries(map)) {
      if (type === '') throw new Error('setExtraJobTypes: empty job type name');
      if (!BEHAVIOURS.includes(behaviour)) {
        throw new Error(`setExtraJobTypes: type '${type}' has unknown behaviour '${String(behaviour)}'`);
      }
    }
    const file = join(this.dir, 'job-types.json');
    writeFileSync(`${file}.tmp`, JSON.stringify(map, null, 2));
    renameSync(`${file}.tmp`, file); // readers see the old or the new file, never half of one
  }

  setQueue(queue: 'redis' | 'db' | 'eventbus'): void {
    if (queue === 'eventbus' && this.variables.JOBRUNNER_FARM_EVENTBUS === undefined) {
      throw new Error('setQueue(eventbus): build the farm with eventBus: true');
    }
    if (queue === 'redis') delete this.variables.JOBRUNNER_FARM_QUEUE;
    else this.variables.JOBRUNNER_FARM_QUEUE = queue;
  }

  async startWebServer(opts: StartWebServerOptions = {}): Promise<FarmWebServer> {
    const options = {
      docroot: join(this.dir, 'docroot'),
      env: this.env(opts.env),
      logDir: join(this.dir, 'logs'),
      workers: opts.workers,
    };
    const server =
      opts.server === 'fpm' ? await startFpmWebServer(options) : await startFarmWebServer(options);
    this.servers.add(server);
    const stop = server.stop.bind(server);
    return {
      ...server,
      stop: async () => {
        this.servers.delete(server);
        await stop();
      },
    };
  }

  withQueue(queue: 'redis' | 'db'): MediaWikiFarm {
    const variables = { ...this.variables };
    if (queue === 'db') variables.JOBRUNNER_FARM_QUEUE = 'db';
    else delete variables.JOBRUNNER_FARM_QUEUE;
    return new Farm(
      this.dir,
      this.wikis,
      this.secretKey,
      this.redisAddress,
      this.opcacheDir,
      this.mediawikiVersion,
      variables,
      false,
      this.mariadb,
      false,
    );
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.servers].map((s) => s.stop()));
    if (this.ownsDatabases) await this.mariadb?.stop();
    if (this.ownsDir) {
      rmSync(this.dir, { recursive: true, force: true });
      untrackDir(this.dir);
    }
  }
}

function farmVariables(
  opts: BuildFarmOptions,
  settingsFile: string,
  redisAddress: string,
): Record<string, string> {
  const vars: Record<string, string> = { MW_CONFIG_FILE: settingsFile, JOBRUNNER_FARM_REDIS: redisAddress };
  const password = opts.redisPassword ?? (typeof opts.redis === 'string' ? undefined : opts.redis.password);
  if (password !== undefined) vars.JOBRUNNER_FARM_REDIS_PASSWORD = password;
  if (opts.gzip) vars.JOBRUNNER_FARM_GZIP = '1';
  if (opts.queue === 'db' || opts.queue === 'eventbus') vars.JOBRUNNER_FARM_QUEUE = opts.queue;
  if (opts.eventBus || opts.queue === 'eventbus') vars.JOBRUNNER_FARM_EVENTBUS = eventBusPath();
  if (opts.eventServiceUrl) vars.JOBRUNNER_FARM_EVENT_SERVICE = opts.eventServiceUrl;
  if (opts.memcached) vars.JOBRUNNER_FARM_MEMCACHED = opts.memcached;
  if (opts.debugLog) vars.JOBRUNNER_FARM_DEBUG_LOG = '1';
  return vars;
}

/**
 * Builds a farm: the first call per content of scripts/mw-farm.sh + scripts/farm/ installs the wikis
 * into a cache dir (a few seconds); every farm is then a copy of it with its own SQLite files and
 * its own fresh secret key.
 */
export async function buildFarm(opts: BuildFarmOptions): Promise<MediaWikiFarm> {
  const version = requireFarmPrerequisites();
  const wikis = opts.wikis ?? 2;
  if (!Number.isInteger(wikis) || wikis < 1)
    throw new Error(`buildFarm: wikis must be an integer >= 1, not ${wikis}`);
  const sections = opts.mariadb ? (opts.mariadb.sections ?? 2) : 0;
  if (!Number.isInteger(sections) || sections < 0)
    throw new Error(`buildFarm: mariadb.sections must be an integer >= 1, not ${sections}`);
  const template = await ensureFarmTemplate({
    wikis,
    extraWikis: opts.extraWikis ?? [],
    ...(sections > 0 ? { mariadbSections: sections } : {}),
  });

  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'jobrunner-farm-'));
  if (ownsDir) trackDir(dir);
  if (!existsSync(join(dir, 'wikis.list'))) {
    mkdirSync(dir, { recursive: true });
    // The opcache file cache stays in the template (shared and warm); everything else is per farm.
    cpSync(template, dir, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (source) => source !== join(template, 'opcache'),
    });
    mkdirSync(join(dir, 'opcache'), { recursive: true });
    writeFileSync(join(dir, 'secret.key'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  const wikiList = readFileSync(join(dir, 'wikis.list'), 'utf8').split('\n').filter(Boolean);
  const secretKey = readFileSync(join(dir, 'secret.key'), 'utf8').trim();
  const redisAddress = typeof opts.redis === 'string' ? opts.redis : opts.redis.address;
  const settingsFile = join(dir, 'FarmSettings.php');
  const variables = farmVariables(opts, settingsFile, redisAddress);
  const mariadb = sections > 0 ? await startFarmDatabases(dir) : undefined;
  if (mariadb) {
    variables.JOBRUNNER_FARM_DB_SERVERS = mariadb.serversVariable();
    if (opts.mariadb?.claimTTL !== undefined)
      variables.JOBRUNNER_FARM_CLAIM_TTL = String(opts.mariadb.claimTTL);
  }
  return new Farm(
    dir,
    wikiList,
    secretKey,
    redisAddress,
    join(template, 'opcache'),
    version,
    variables,
    ownsDir,
    mariadb,
  );
}
