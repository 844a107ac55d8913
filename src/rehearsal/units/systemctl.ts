// The rehearsal hosts' `systemctl` (bind-mounted over /usr/bin/systemctl inside a host): hands the
// command line to the host's service manager stand-in (daemon.ts) and prints its answer.
import { connect } from 'node:net';
import { SOCKET_PATH, type Reply } from './protocol.js';

const socket = connect(SOCKET_PATH);
let text = '';
socket.setEncoding('utf8');
socket.on('connect', () =>
  socket.write(`${JSON.stringify({ args: process.argv.slice(2), uid: process.getuid?.() ?? -1 })}\n`),
);
socket.on('data', (chunk: string) => (text += chunk));
socket.on('error', (error) => {
  process.stderr.write(
    `System has not been booted with the rehearsal service manager (${SOCKET_PATH}: ${error.message})\n`,
  );
  process.exit(1);
});
socket.on('end', () => {
  const reply = JSON.parse(text) as Reply;
  process.stdout.write(reply.stdout);
  process.stderr.write(reply.stderr);
  process.exit(reply.code);
});
