// The multi-host rehearsal farm (issue 17): hosts as namespaces of this machine (host.ts), built by
// `puppet apply` of the module with role manifests (roles.ts), the MediaWiki farm served by php-fpm
// + Apache on two app servers, two Redis partition hosts, three job-runner hosts reached by ssh,
// and a deploy host running Wikimedia's scap (unmodified, from a private virtualenv).
//
//   const farm = await RehearsalFarm.build({ family: 'jr17-' });
//   try { await farm.scap(['deploy', '-v', 'message']); ... } finally { await farm.destroy(); }
//
// Each farm gets its own id (farm.prefix = 'jr17-k3x9-'), so farms of concurrent runs do not
// collide. destroy() removes every namespace, cable, mount and process even after a failure, and
// build() first sweeps the family's farms whose owner process is dead (sweep.ts).
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { buildFarm } from '../farm/mediawiki-farm.js';
import { Host } from './host.js';
import { Switch } from './network.js';
import { APACHE_UNIT, gitHttpUnit, PHP_FPM_UNIT, redisUnit, SSH_UNIT } from './os-units.js';
import { roleManifest, type RoleData } from './roles.js';
import { run, type RunResult } from './run.js';
import { claimFarmId, releaseFarmId, removeFarm, sweepDeadFarms } from './sweep.js';
import { fqdn, HOSTS, REDIS_PORT, type HostPlan } from './topology.js';

export const DEFAULT_SCAP_VENV = '/opt/jobrunner-scap';
export const DEPLOY_USER = 'deploy-service';
export const REPO_DIR = '/srv/deployment/jobrunner/jobrunner';
/** The job type the rehearsal pushes: a null job that writes a ledger line (scripts/farm/MwlabJob.php). */
export const LEDGER_JOB_TYPE = 'rehearsalLedger';
/** A job that sleeps params.seconds, writing a ledger line when it starts and when it is done. */
export const SLEEP_JOB_TYPE = 'rehearsalSleep';

/** One ledger line: a job run to its end (or, in the "started" ledger, begun). */
export interface LedgerEntry {
  /** "<wiki> <batch> <seq>": the job. */
  readonly job: string;
  /** The host whose PHP ran it (an app server, or a runner host running runJobs.php). */
  readonly host: string;
  /** When the line was written (ms since the epoch). */
  readonly at: number;
}

export interface PushOptions {
  readonly type?: string;
  /** Merged into every job's params (e.g. { seconds: 8 } for the sleep type). */
  readonly params?: Record<string, unknown>;
}

export interface FarmOptions {
  /** Family of the farm's names (`jr17-`); the farm's own prefix adds an id (`jr17-k3x9-`). */
  readonly family: string;
  /** Parent of the farm directory; not /tmp, which each host replaces with its own. */
  readonly baseDir?: string;
  /** First three octets of the farm's private subnet. */
  readonly subnet?: string;
  readonly wikis?: number;
  readonly scapVenv?: string;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export class RehearsalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RehearsalError';
  }
}

/** Fails loudly, naming the missing part, before anything is created. */
export function requireRehearsalTools(scapVenv: string): void {
  const needs: [string, string][] = [
    ['/usr/sbin/sshd', 'openssh-server'],
    ['/usr/bin/ssh', 'openssh-client'],
    ['/usr/sbin/php-fpm8.2', 'php8.2-fpm'],
    ['/usr/sbin/apache2', 'apache2'],
    ['/usr/bin/redis-server', 'redis-server'],
    ['/usr/bin/puppet', 'puppet'],
    ['/usr/bin/nsenter', 'util-linux'],
    ['/usr/bin/python3', 'python3'],
  ];
  for (const [file, pkg] of needs) {
    if (!existsSync(file))
      throw new RehearsalError(
        `${file} is missing (Debian package ${pkg}): run 'sudo bash scripts/setup.sh'`,
      );
  }
  if (!existsSync(join(scapVenv, 'bin', 'scap'))) {
    throw new RehearsalError(
      `scap is not installed in ${scapVenv}: run 'sudo bash scripts/setup.sh' (scripts/rehearsal/install-scap.sh)`,
    );
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new RehearsalError('the rehearsal farm needs root (network namespaces, bind mounts)');
  }
}

export class RehearsalFarm {
  readonly hosts = new Map<string, Host>();
  readonly addresses = new Map<string, string>();
  private constructor(
    readonly opts: Required<Omit<FarmOptions, 'log'>> & { log: (line: string) => void },
    readonly dir: string,
    readonly network: Switch,
    readonly repo: string,
    readonly id: string,
  ) {}

  /** Prefix of this farm's namespaces and directory: `<family><id>-`. */
  get prefix(): string {
    return `${this.opts.family}${this.id}-`;
  }

  static async build(options: FarmOptions): Promise<RehearsalFarm> {
    const opts = {
      baseDir: '/var/tmp',
      subnet: '10.217.0',
      wikis: 4,
      scapVenv: DEFAULT_SCAP_VENV,
      log: () => undefined,
      ...options,
    };
    requireRehearsalTools(opts.scapVenv);
    const swept = await sweepDeadFarms(opts.family, opts.baseDir);
    if (swept.length > 0) opts.log(`removed leftovers of dead farms ${swept.join(', ')}`);
    const id = claimFarmId(opts.family, opts.baseDir);
    const prefix = `${opts.family}${id}-`;
    let dir: string;
    try {
      dir = mkdtempSync(join(opts.baseDir, `${prefix}farm-`));
    } catch (error) {
      releaseFarmId(opts.family, id, opts.baseDir);
      throw error;
    }
    chmodSync(dir, 0o755);
    const farm = new RehearsalFarm(opts, dir, new Switch(prefix), resolve('.'), id);
    try {
      await farm.create();
    } catch (error) {
      await farm.destroy();
      throw error;
    }
    return farm;
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new RehearsalError(`no host ${name}`);
    return host;
  }

  get farmDir(): string {
    return join(this.dir, 'mediawiki');
  }

  private async create(): Promise<void> {
    const { log, subnet } = this.opts;
    const prefix = this.prefix;
    for (const plan of HOSTS) this.addresses.set(plan.name, `${subnet}.${plan.octet}`);
    const hostsFile = HOSTS.map((h) => `${this.addresses.get(h.name)} ${fqdn(h.name)} ${h.name}\n`).join('');

    log('network: switch and one namespace per host');
    await this.network.create();
    for (const plan of HOSTS) {
      const ns = `${prefix}${plan.name}`;
      await run(['ip', 'netns', 'add', ns]);
      await this.network.connect(plan.name, ns, `${this.addresses.get(plan.name)}/24`);
      const host = new Host({
        name: plan.name,
        ns,
        root: join(this.dir, 'hosts', plan.name),
        address: this.addresses.get(plan.name) ?? '',
        hostsFile,
        unitsDist: join(this.repo, 'dist', 'rehearsal', 'units'),
      });
      this.hosts.set(plan.name, host);
      await host.boot();
    }

    log('MediaWiki farm (shared by both app servers)');
    const mw = await buildFarm({ dir: this.farmDir, wikis: this.opts.wikis, redis: 'partitioned:0' });
    writeFileSync(
      join(this.farmDir, 'job-types.json'),
      `${JSON.stringify({ [LEDGER_JOB_TYPE]: 'null', [SLEEP_JOB_TYPE]: 'sleep' })}\n`,
    );
    mkdirSync(join(this.farmDir, 'logs'), { recursive: true });
    // The app servers' PHP runs as www-data (uid 33 on Debian, in every host's /etc copy).
    await run(['chown', '-R', 'www-data:www-data', this.farmDir]);
    const secretKey = mw.secretKey;
    this.wikis = mw.wikis;

    log('Redis partition hosts');
    for (const plan of HOSTS.filter((h) => h.role === 'redis')) {
      const host = this.host(plan.name);
      host.installUnit('redis-partition.service', redisUnit(host.address));
      await host.systemctl('enable', '--now', 'redis-partition.service');
      await host.systemctl('start', 'redis-partition.service');
    }

    log('OS units: php-fpm and Apache on app servers, sshd on runners');
    for (const plan of HOSTS) {
      const host = this.host(plan.name);
      if (plan.role === 'app') {
        host.installUnit('php8.2-fpm.service', PHP_FPM_UNIT);
        host.installUnit('apache2.service', APACHE_UNIT);
      }
      if (plan.role === 'runner') {
        host.installUnit('ssh.service', SSH_UNIT);
        await host.systemctl('start', 'ssh.service');
      }
    }

    log('puppet apply: deploy host role');
    const deploy = this.host('deploy');
    const partitions = HOSTS.filter((h) => h.role === 'redis').map(
      (h) => `${this.addresses.get(h.name)}:${REDIS_PORT}`,
    );
    const base: Omit<RoleData, 'deployPublicKey'> = {
      addresses: this.addresses,
      secretKey,
      farmDir: this.farmDir,
      repo: this.repo,
      canaryWiki: this.wikis[0] ?? 'wiki1',
      // The farm's command, with the partitions, and without its opcache file cache: that lives in
      // the machine's /tmp, and each host has its own.
      runJobsCommand: mw
        .runJobsCommand()
        .replace(/^env /, `env JOBRUNNER_FARM_REDIS_PARTITIONS=${partitions.join(',')} `)
        .replace(/ -d opcache\.\S+/g, ''),
    };
    await this.applyRole(HOSTS[0] as HostPlan, { ...base, deployPublicKey: '' }, true);
    const home = `/home/${DEPLOY_USER}`;
    // scap deploy insists on a keyholder key (/etc/keyholder.d/<ssh_user with _>, used as ssh's
    // IdentityFile); WMF's keyholder agent holds it there. Here it is a plain key of the deploy user.
    const keyFile = `/etc/keyholder.d/${DEPLOY_USER.replace(/\W/g, '_')}`;
    await deploy.exec(['mkdir', '-p', '/etc/keyholder.d']);
    await deploy.exec([
      'ssh-keygen',
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      `${DEPLOY_USER}@deploy`,
      '-f',
      keyFile,
    ]);
    await deploy.exec(['chown', `${DEPLOY_USER}:${DEPLOY_USER}`, keyFile, `${keyFile}.pub`]);
    const publicKey = readFileSync(deploy.path(`${keyFile}.pub`), 'utf8').trim();
    // Every host has the machine's host keys (a copy of /etc): trust them for each runner's names.
    const hostKey = readFileSync('/etc/ssh/ssh_host_ed25519_key.pub', 'utf8')
      .split(' ')
      .slice(0, 2)
      .join(' ');
    const knownHosts = HOSTS.filter((h) => h.role === 'runner')
      .map((h) => `${fqdn(h.name)},${h.name},${this.addresses.get(h.name)} ${hostKey}\n`)
      .join('');
    writeFileSync(deploy.path(`${home}/.ssh/known_hosts`), knownHosts);
    await deploy.exec(['chown', `${DEPLOY_USER}:${DEPLOY_USER}`, `${home}/.ssh/known_hosts`]);
    this.roleData = { ...base, deployPublicKey: publicKey };

    log('puppet apply: app servers and runner hosts');
    await Promise.all(
      HOSTS.filter((h) => h.role === 'app' || h.role === 'runner').map((plan) =>
        this.applyRole(plan, this.roleData, true),
      ),
    );

    log('deploy repo and its HTTP server on the deploy host');
    deploy.installUnit('git-http.service', gitHttpUnit(deploy.address));
    await deploy.systemctl('start', 'git-http.service');
    await this.buildRelease('initial build');
  }

  wikis: readonly string[] = [];
  private roleData: RoleData | undefined;

  /** The module linked as "jobrunner" in a modulepath every host can read. */
  private modulepath(): string {
    const dir = join(this.dir, 'modules');
    if (!existsSync(join(dir, 'jobrunner'))) {
      mkdirSync(dir, { recursive: true });
      symlinkSync(join(this.repo, 'puppet'), join(dir, 'jobrunner'));
    }
    return dir;
  }

  /** `puppet apply` of a host's role; returns the run (exit 0: no change, 2: changes). */
  async applyRole(
    plan: HostPlan,
    data: RoleData | undefined = this.roleData,
    mustSucceed = true,
  ): Promise<RunResult> {
    if (!data) throw new RehearsalError('role data is not ready');
    const manifest = roleManifest(plan, data);
    if (manifest === undefined) throw new RehearsalError(`host ${plan.name} has no Puppet role`);
    const host = this.host(plan.name);
    writeFileSync(host.path('/tmp/role.pp'), manifest);
    const result = await host.exec(
      [
        'puppet',
        'apply',
        '--detailed-exitcodes',
        '--color=false',
        `--modulepath=${this.modulepath()}`,
        '--confdir=/tmp/puppet/conf',
        '--vardir=/tmp/puppet/var',
        '--codedir=/tmp/puppet/code',
        '--logdir=/tmp/puppet/log',
        '/tmp/role.pp',
      ],
      { check: false },
    );
    if (mustSucceed && result.code !== 0 && result.code !== 2) {
      throw new RehearsalError(
        `puppet apply on ${plan.name} failed (exit ${result.code}):\n${(result.stdout + result.stderr).slice(-4000)}`,
      );
    }
    return result;
  }

  /**
   * Commits a build of this checkout to the deploy repo (scap/tools/build-deploy-repo.sh,
   * --working-tree --prebuilt: the current dist/). `mutate` may change the staged tree before the
   * commit (a broken build). Returns the commit.
   */
  async buildRelease(message: string, mutate?: (repoDir: string) => void): Promise<string> {
    const deploy = this.host('deploy');
    const repoDir = deploy.path(REPO_DIR);
    mkdirSync(repoDir, { recursive: true });
    const safe = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' };
    const env = {
      ...process.env,
      ...safe,
      GIT_AUTHOR_NAME: 'rehearsal',
      GIT_AUTHOR_EMAIL: 'rehearsal@localhost',
      GIT_COMMITTER_NAME: 'rehearsal',
      GIT_COMMITTER_EMAIL: 'rehearsal@localhost',
    };
    if (!existsSync(join(repoDir, '.git'))) {
      await run(['git', 'init', '-q', repoDir], { env });
      // scap asks git for the repo's remote URL (a deploy repo is a clone of its Gerrit repo).
      await run(
        ['git', '-C', repoDir, 'remote', 'add', 'origin', 'https://gerrit.invalid/jobrunner/deploy'],
        { env },
      );
    }
    const tool = join(this.repo, 'scap', 'tools', 'build-deploy-repo.sh');
    await run(
      [tool, '--deploy-repo', repoDir, '--working-tree', '--prebuilt', '--no-commit', '--message', message],
      { env },
    );
    if (mutate) {
      mutate(repoDir);
      await run(['git', '-C', repoDir, 'add', '--all', '--force', '.'], { env });
    }
    await run(['git', '-C', repoDir, 'commit', '-q', '--allow-empty', '-m', message], { env });
    await deploy.exec(['chown', '-R', `${DEPLOY_USER}:${DEPLOY_USER}`, '/srv/deployment/jobrunner']);
    return (await run(['git', '-C', repoDir, 'rev-parse', 'HEAD'], { env })).stdout.trim();
  }

  /** Runs scap on the deploy host as the deploy user, from the repo (`scap deploy -v "msg"` etc.). */
  scap(args: readonly string[], timeoutMs = 600_000): Promise<RunResult> {
    return this.host('deploy').exec(
      [
        'env',
        `HOME=/home/${DEPLOY_USER}`,
        `USER=${DEPLOY_USER}`,
        'sh',
        '-c',
        `cd ${REPO_DIR} && exec "$@"`,
        'scap',
        join(this.opts.scapVenv, 'bin', 'scap'),
        ...args,
      ],
      { user: DEPLOY_USER, check: false, timeoutMs },
    );
  }

  /**
   * Pushes `count` ledger jobs to `wiki` through MediaWiki (php on app1, JobQueueRedis); resolves
   * to when MediaWiki's last push returned (ms since the epoch).
   */
  async pushJobs(wiki: string, count: number, batch: string, opts: PushOptions = {}): Promise<number> {
    if (/\s/.test(batch)) throw new RehearsalError(`batch name ${JSON.stringify(batch)} has whitespace`);
    const partitions = HOSTS.filter((h) => h.role === 'redis').map(
      (h) => `${this.addresses.get(h.name)}:${REDIS_PORT}`,
    );
    const result = await this.host('app1').exec(
      [
        'env',
        `MW_CONFIG_FILE=${join(this.farmDir, 'FarmSettings.php')}`,
        `JOBRUNNER_FARM_REDIS_PARTITIONS=${partitions.join(',')}`,
        'php',
        join(this.farmDir, 'farm', 'pushJobs.php'),
        `--wiki=${wiki}`,
        `--type=${opts.type ?? LEDGER_JOB_TYPE}`,
        `--count=${count}`,
        `--params=${JSON.stringify({ ...opts.params, ledger: 'rehearsal', batch })}`,
      ],
      { user: 'www-data' },
    );
    const report = /\{"pushed".*\}/.exec(result.stdout)?.[0];
    const pushedAt = report ? (JSON.parse(report) as { pushedAt?: unknown }).pushedAt : undefined;
    if (typeof pushedAt !== 'number')
      throw new RehearsalError(`pushJobs.php on app1 printed no push report: ${result.stdout.slice(-500)}`);
    return pushedAt * 1000;
  }

  /** redis-cli on a Redis partition host (its own server); the reply as text (--raw). */
  async redisCli(host: string, args: readonly string[]): Promise<string> {
    const result = await this.host(host).exec(['redis-cli', '-p', String(REDIS_PORT), '--raw', ...args]);
    return result.stdout.trim();
  }

  /** The jobs run, one "<wiki> <batch> <seq>" per run (a job run twice is there twice). */
  ledger(): string[] {
    return this.ledgerEntries().map((e) => e.job);
  }

  /** The ledger's lines: runs to the end, or (`started`) sleep jobs begun. */
  ledgerEntries(which: 'done' | 'started' = 'done'): LedgerEntry[] {
    const file = join(this.farmDir, 'logs', `ledger-rehearsal${which === 'started' ? '-started' : ''}.log`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [wiki, batch, seq, host, at] = line.split(' ');
        return { job: `${wiki} ${batch} ${seq}`, host: host ?? '', at: Number(at) * 1000 };
      });
  }

  /** Kills every host and removes the namespaces, cables and directories. */
  async destroy(): Promise<void> {
    const started = Date.now();
    for (const host of this.hosts.values()) host.kill();
    const removed = await removeFarm(this.prefix, this.opts.baseDir);
    const killedAt = Date.now();
    rmSync(this.dir, { recursive: true, force: true });
    releaseFarmId(this.opts.family, this.id, this.opts.baseDir);
    this.opts.log(
      `farm ${this.id} removed: ${removed.namespaces.length} namespaces in ${((killedAt - started) / 1000).toFixed(1)} s, files in ${((Date.now() - killedAt) / 1000).toFixed(1)} s`,
    );
  }
}
