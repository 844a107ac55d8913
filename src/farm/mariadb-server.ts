// A private MariaDB server for tests, the demo and benchmarks: its own data dir, socket and free
// loopback port in a temp dir, stopped by PID. The data dir is created by mariadb-install-db, or
// copied from a stopped server's dir (the farm template), so one install serves many test farms.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { MissingDependencyError, requireExecutable } from './process-tree.js';
import { portInUse, RestartableServer, retryOnPortTaken, withDataDir } from './server-fixture.js';
import { spawnServer, type SpawnedServer } from './spawn-server.js';

export interface MariaDbServerOptions {
  /** Server dir to use (kept on stop): data/ inside it is reused when present. Default: a temp dir. */
  dir?: string;
  /** Copy this data dir (of a cleanly stopped server) instead of running mariadb-install-db. */
  seedDataDir?: string;
}

export interface MariaDbHandle {
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:PORT" (MediaWiki's $wgDBserver form). */
  readonly address: string;
  /** Unix socket: the OS user running the tests is an admin account there (unix_socket auth). */
  readonly socket: string;
  readonly dir: string;
  readonly dataDir: string;
  /** PID of the current server process (changes after restart()). */
  readonly pid: number;
  /** Runs SQL as the admin over the socket; resolves with the tab-separated rows. */
  sql(statements: string): Promise<string>;
  /** Creates (or re-passwords) a TCP account on 127.0.0.1 with every privilege. */
  createUser(user: string, password: string): Promise<void>;
  /** SIGTERM (clean InnoDB shutdown; SIGKILL after 30 s); removes the temp dir unless given `dir`. */
  stop(): Promise<void>;
  /** SIGKILL, keeping the dir: restart() recovers the data as after a crash. */
  kill9(): Promise<void>;
  /** Stops the server if running and starts it again on the same port and data dir. */
  restart(): Promise<void>;
}

const HOST = '127.0.0.1';

/** Small InnoDB files and buffers: many test servers share a 2-core machine and its disk. */
const SERVER_TUNING = [
  '--innodb-log-file-size=8M',
  '--innodb-buffer-pool-size=32M',
  '--performance-schema=OFF',
  '--skip-name-resolve',
  '--skip-log-bin',
  '--max-connections=200',
];

/** mariadbd and friends live in /usr/sbin, which a non-root PATH may lack. */
function binary(name: string): string {
  const sbin = join('/usr/sbin', name);
  if (existsSync(sbin)) return sbin;
  try {
    return requireExecutable(name);
  } catch {
    throw new MissingDependencyError(`${name} (Debian package mariadb-server)`);
  }
}

function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { maxBuffer: 64 << 20, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} failed: ${(stderr || error.message).trim()}`));
        else resolve(stdout);
      },
    );
    child.stdin?.on('error', () => undefined); // the client may exit before reading (server not up yet)
    child.stdin?.end(input ?? '');
  });
}

/** A SQL string literal (MariaDB's escapes; NO_BACKSLASH_ESCAPES is off by default). */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0')}'`;
}

class MariaDbServer extends RestartableServer implements MariaDbHandle {
  readonly host = HOST;
  private readonly osUser = userInfo().username;

  constructor(
    readonly port: number,
    dir: string,
    ownsDir: boolean,
  ) {
    super('mariadbd', dir, ownsDir, 30_000);
  }

  get address(): string {
    return `${HOST}:${this.port}`;
  }

  get socket(): string {
    return join(this.dir, 'mariadb.sock');
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The server's own temp dir: servers bootstrapping side by side must not share /tmp files. */
  get tmpDir(): string {
    return join(this.dir, 'tmp');
  }

  /** Creates data/ if missing: a copy of `seed`, or a fresh mariadb-install-db. */
  async prepare(seed: string | undefined): Promise<void> {
    mkdirSync(this.tmpDir, { recursive: true });
    if (existsSync(join(this.dataDir, 'mysql'))) return;
    rmSync(this.dataDir, { recursive: true, force: true });
    if (seed !== undefined) {
      cpSync(seed, this.dataDir, { recursive: true });
      return;
    }
    await run(binary('mariadb-install-db'), [
      '--no-defaults',
      `--datadir=${this.dataDir}`,
      `--user=${this.osUser}`,
      '--auth-root-authentication-method=socket',
      `--auth-root-socket-user=${this.osUser}`,
      '--skip-test-db',
      '--innodb-log-file-size=8M',
      `--tmpdir=${this.tmpDir}`,
    ]);
  }

  protected spawn(): Promise<SpawnedServer> {
    const logFile = join(this.dir, 'mariadb.err');
    return spawnServer({
      name: `mariadbd on ${this.address}`,
      command: binary('mariadbd'),
      args: [
        '--no-defaults',
        `--datadir=${this.dataDir}`,
        `--socket=${this.socket}`,
        `--pid-file=${join(this.dir, 'mariadb.pid')}`,
        `--log-error=${logFile}`,
        `--port=${this.port}`,
        `--bind-address=${HOST}`,
        `--user=${this.osUser}`,
        `--tmpdir=${this.tmpDir}`,
        ...SERVER_TUNING,
      ],
      cwd: this.dir,
      logFile,
      timeoutMs: 60_000,
      probe: async () => (await this.sql('SELECT 1')).trim() === '1',
    });
  }

  sql(statements: string): Promise<string> {
    return run(
      binary('mariadb'),
      ['--no-defaults', `--socket=${this.socket}`, `--user=${this.osUser}`, '--batch', '--skip-column-names'],
      statements,
    );
  }

  async createUser(user: string, password: string): Promise<void> {
    const account = `${sqlString(user)}@'${HOST}'`;
    await this.sql(
      `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${sqlString(password)};\n` +
        `ALTER USER ${account} IDENTIFIED BY ${sqlString(password)};\n` +
        `GRANT ALL PRIVILEGES ON *.* TO ${account};\n`,
    );
  }
}

export async function startMariaDb(opts: MariaDbServerOptions = {}): Promise<MariaDbHandle> {
  binary('mariadbd');
  return withDataDir(opts.dir, 'jobrunner-mariadb-', (dir, ownsDir) =>
    retryOnPortTaken(
      async () => {
        const server = new MariaDbServer(await freePort(HOST), dir, ownsDir);
        await server.prepare(opts.seedDataDir);
        await server.start();
        return server;
      },
      portInUse,
      5,
    ),
  );
}
