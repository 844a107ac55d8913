// A private redis-server for tests, the demo and benchmarks: free loopback port, own temp dir,
// no persistence unless asked, stopped by PID.
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { requireExecutable } from './process-tree.js';
import { portInUse, RestartableServer, retryOnPortTaken, withDataDir } from './server-fixture.js';
import { spawnServer, type SpawnedServer } from './spawn-server.js';
import { tcpRequest, respCommand } from './tcp-probe.js';

export interface RedisServerOptions {
  /** AOF persistence with fsync on every write, so data survives restart() and even kill9(). */
  appendOnly?: boolean;
  /** requirepass */
  password?: string;
  /** Data dir to use (kept on stop). Default: a fresh temp dir, removed on stop. */
  dir?: string;
  /** More redis-server options, e.g. ['--rename-command', 'CONFIG', '']. */
  extraArgs?: readonly string[];
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

/** True once the server answers PING (or asks for AUTH); false while it is still loading the AOF. */
async function answers(port: number, password: string | undefined): Promise<boolean> {
  const request = (password === undefined ? '' : respCommand('AUTH', password)) + respCommand('PING');
  const expected = password === undefined ? 1 : 2;
  const reply = await tcpRequest(HOST, port, request, (r) => r.split('\r\n').length > expected, 500);
  return reply.includes('+PONG');
}

class RedisServer extends RestartableServer implements RedisServerHandle {
  readonly host = HOST;

  constructor(
    private readonly binary: string,
    readonly port: number,
    dir: string,
    ownsDir: boolean,
    private readonly opts: RedisServerOptions,
  ) {
    super('redis-server', dir, ownsDir, 5000);
  }

  get address(): string {
    return `${HOST}:${this.port}`;
  }

  get password(): string | undefined {
    return this.opts.password;
  }

  protected spawn(): Promise<SpawnedServer> {
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
    args.push(...(this.opts.extraArgs ?? []));
    return spawnServer({
      name: `redis-server on ${this.address}`,
      command: this.binary,
      args,
      cwd: this.dir,
      logFile: join(this.dir, 'redis.log'),
      probe: () => answers(this.port, this.opts.password),
    });
  }
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = requireExecutable('redis-server', 'redis-server (Debian package redis-server)');
  return withDataDir(opts.dir, 'jobrunner-redis-', (dir, ownsDir) =>
    retryOnPortTaken(
      async () => {
        const server = new RedisServer(binary, await freePort(HOST), dir, ownsDir, opts);
        await server.start();
        return server;
      },
      portInUse,
      5,
    ),
  );
}
