// A private memcached for tests and the demo: free loopback port, stopped by PID.
import { freePort } from './free-port.js';
import { requireExecutable, terminate, untrackPid } from './process-tree.js';
import { portInUse, retryOnPortTaken } from './server-fixture.js';
import { spawnServer } from './spawn-server.js';
import { tcpRequest } from './tcp-probe.js';
import { tmpdir } from 'node:os';

export interface MemcachedHandle {
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly address: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startMemcached(opts: { memoryMb?: number } = {}): Promise<MemcachedHandle> {
  const binary = requireExecutable('memcached', 'memcached (Debian package memcached)');
  return retryOnPortTaken(
    async () => {
      const port = await freePort(HOST);
      const args = ['-l', HOST, '-p', String(port), '-U', '0', '-m', String(opts.memoryMb ?? 64)];
      // memcached refuses to run as root unless told which user to stay.
      if (process.getuid?.() === 0) args.push('-u', 'root');
      const server = await spawnServer({
        name: `memcached on ${HOST}:${port}`,
        command: binary,
        args,
        cwd: tmpdir(),
        probe: async () =>
          (await tcpRequest(HOST, port, 'version\r\n', (r) => r.endsWith('\r\n'), 500)).startsWith('VERSION'),
      });
      let stopped = false;
      return {
        host: HOST,
        port,
        address: `${HOST}:${port}`,
        pid: server.pid,
        async stop() {
          if (stopped) return;
          stopped = true;
          await terminate(server.pid, 0); // nothing to persist; SIGTERM takes ~0.7 s
          untrackPid(server.pid);
        },
      };
    },
    portInUse,
    5,
  );
}
