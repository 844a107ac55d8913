// A private redis-server for tests, the demo and benchmarks: free loopback port, own temp dir,
// no persistence unless asked, stopped by PID.
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import {
  requireExecutable,
  MissingDependencyError,
  terminate,
  untrackPid,
  trackDir,
  untrackDir,
} from './process-tree.js';
import { spawnServer, ServerStartError, type SpawnedServer } from './spawn-server.js';
import { tcpRequest, respCommand } from './tcp-probe.js';

export interface RedisServerOptions {
  /** AOF persistence with fsync on every write, so data survives restart() and even kill9(). */
  appendOnly?: boolean;
  /** requirepass */
  password?: string;
  /** Data dir to use (kept on stop). Default: a fresh temp dir, removed on stop. */
  dir?: string;
}

export interface RedisServerHandle {
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly address: string;
  readonly dir: string;
  /** PID of the current server process (changes after restart()). */
  readonly pid: number;
  readonly password: string | undefined;
  /** SIGTERM (SIGKILL after 5 s); removes the temp dir unless the caller passed `dir`. */
  stop(): Promise<void>;
  /** SIGKILL, keeping the dir so restart() can bring the same data back (with appendOnly). */
  kill9(): Promise<void>;
  /** Stops the server if running and starts it again on the same port and dir. */
  restart(): Promise<void>;
}

const HOST = '127.0.0.1';

function redisBinary(): string {
  try {
    return requireExecutable('redis-server');
  } catch (err) {
    if (err instanceof MissingDependencyError) {
      throw new MissingDependencyError('redis-server (Debian package redis-server)');
    }
    throw err;
  }
}

/** True once the server answers PING (or asks for AUTH); false while it is still loading the AOF. */
async function answers(port: number, password: string | undefined): Promise<boolean> {
  const request = (password === undefined ? '' : respCommand('AUTH', password)) + respCommand('PING');
  const expected = password === undefined ? 1 : 2;
  const reply = await tcpRequest(HOST, port, request, (r) => r.split('\r\n').length > expected, 500);
  return reply.includes('+PONG');
}

class RedisServer implements RedisServerHandle {
  readonly host = HOST;
  private server: SpawnedServer | undefined;
  private running = false;

  constructor(
    private readonly binary: string,
    readonly port: number,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly opts: RedisServerOptions,
  ) {}

  get address(): string {
    return `${HOST}:${this.port}`;
  }

  get pid(): number {
    if (!this.server) throw new Error('redis-server is not running');
    return this.server.pid;
  }

  get password(): string | undefined {
    return this.opts.password;
  }

  async start(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      HOST,
      '--dir',
      this.dir,
      '--daemonize',
      'no',
      '--save',
      '',
      '--logfile',
      join(this.dir, 'redis.log'),
      '--appendonly',
      this.opts.appendOnly ? 'yes' : 'no',
    ];
    if (this.opts.appendOnly) args.push('--appendfsync', 'always');
    if (this.opts.password !== undefined) args.push('--requirepass', this.opts.password);
    this.server = await spawnServer({
      name: `redis-server on ${this.address}`,
      command: this.binary,
      args,
      cwd: this.dir,
      logFile: join(this.dir, 'redis.log'),
      probe: () => answers(this.port, this.opts.password),
    });
    this.running = true;
  }

  private async halt(graceMs: number): Promise<void> {
    if (!this.server || !this.running) return;
    this.running = false;
    await terminate(this.server.pid, graceMs);
    untrackPid(this.server.pid);
  }

  async stop(): Promise<void> {
    await this.halt(5000);
    if (this.ownsDir) {
      rmSync(this.dir, { recursive: true, force: true });
      untrackDir(this.dir);
    }
  }

  async kill9(): Promise<void> {
    await this.halt(0);
  }

  async restart(): Promise<void> {
    await this.halt(5000);
    await this.start();
  }
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = redisBinary();
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'jobrunner-redis-'));
  mkdirSync(dir, { recursive: true });
  if (ownsDir) trackDir(dir);
  for (let attempt = 1; ; attempt++) {
    const server = new RedisServer(binary, await freePort(HOST), dir, ownsDir, opts);
    try {
      await server.start();
      return server;
    } catch (err) {
      // The port can be taken between freePort() and redis binding it; try another one.
      if (err instanceof ServerStartError && err.portInUse && attempt < 5) continue;
      if (ownsDir) {
        rmSync(dir, { recursive: true, force: true });
        untrackDir(dir);
      }
      throw err;
    }
  }
}
