// The benchmarks' trivial executor, run as its own process: answers every HTTP/1.1 request with
// "200" and an empty body. It reads just enough HTTP (the header block and Content-Length) to find
// where each request ends, because Node's full HTTP server costs more CPU per request than the
// runner under test and would make the executor, not the runner, the bottleneck. Chunked or
// malformed requests get "400" and the connection is closed (the runner always sends
// Content-Length). Usage: node trivial-executor-server.js <port>; prints "ready" when listening.
import { createServer, type Socket } from 'node:net';

const OK = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: timeout=60\r\n\r\n');
const BAD = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
const END = Buffer.from('\r\n\r\n');
const LENGTH = /\r\ncontent-length:[ \t]*([0-9]{1,9})[ \t]*\r\n/i;

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let replies = 0;
    for (;;) {
      const end = pending.indexOf(END);
      if (end < 0) break;
      const head = pending.toString('latin1', 0, end + 2);
      const length = LENGTH.exec(head);
      if (length === null || /\r\ntransfer-encoding:/i.test(head)) {
        socket.end(BAD);
        return;
      }
      const total = end + 4 + Number(length[1]);
      if (pending.length < total) break;
      pending = pending.subarray(total);
      replies++;
    }
    if (replies === 0) return;
    // Pipelined requests of one read are answered with one write.
    socket.write(replies === 1 ? OK : Buffer.concat(Array.from({ length: replies }, () => OK)));
  });
  socket.on('error', () => socket.destroy());
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`usage: trivial-executor-server.js <port>, not '${process.argv[2] ?? ''}'\n`);
  process.exit(2);
}
createServer(serve).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
