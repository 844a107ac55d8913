// PID 1 of a rehearsal host (its own PID, mount and network namespaces): the service manager
// stand-in. Named "systemd" (/proc/1/comm), so Puppet's systemd provider manages services through
// the stand-in systemctl, which reaches this process over SOCKET_PATH. SIGTERM stops every unit
// (each with its KillSignal and TimeoutStopSec) and exits.
//
//   node daemon.js [--boot]     --boot starts the enabled units first
import { createServer } from 'node:net';
import { chmodSync, rmSync } from 'node:fs';
import { runSystemctl } from './commands.js';
import { SOCKET_PATH, type Reply, type Request } from './protocol.js';
import { Supervisor } from './supervisor.js';

process.title = 'systemd';
const supervisor = new Supervisor();

const server = createServer((socket) => {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    const nl = buffer.indexOf('\n');
    if (nl < 0) return;
    let request: Request;
    try {
      request = JSON.parse(buffer.slice(0, nl)) as Request;
    } catch {
      socket.end(`${JSON.stringify({ code: 1, stdout: '', stderr: 'bad request\n' } satisfies Reply)}\n`);
      return;
    }
    void runSystemctl(supervisor, request.args, request.uid === 0).then((reply) =>
      socket.end(`${JSON.stringify(reply)}\n`),
    );
  });
  socket.on('error', () => undefined);
});

rmSync(SOCKET_PATH, { force: true });
server.listen(SOCKET_PATH, () => {
  // Anyone may ask (systemctl show/is-active work unprivileged); changes need root (commands.ts).
  chmodSync(SOCKET_PATH, 0o666);
  process.stdout.write('jr-units: ready\n');
  if (process.argv.includes('--boot')) void supervisor.boot();
});

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  server.close();
  void supervisor.shutdown().then(() => process.exit(0));
});
