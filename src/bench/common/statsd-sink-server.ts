// The benchmarks' statsd receiver, run as its own process (as a statsd agent is): counts the UDP
// datagrams and lines it gets and throws them away. Usage: node statsd-sink-server.js; prints its
// port when listening and, on SIGTERM, {"datagrams":N,"lines":N,"bytes":N} before it exits.
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

const counts = { datagrams: 0, lines: 0, bytes: 0 };
const socket = createSocket('udp4');
socket.on('message', (message: Buffer) => {
  counts.datagrams++;
  counts.bytes += message.length;
  let lines = 1;
  for (let i = message.indexOf(10); i >= 0; i = message.indexOf(10, i + 1)) lines++;
  counts.lines += lines;
});
socket.bind(0, '127.0.0.1', () => process.stdout.write(`${(socket.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify(counts)}\n`, () => process.exit(0));
});
