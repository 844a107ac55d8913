// One-shot TCP request/response used to tell when a freshly started server answers.
import { connect } from 'node:net';

/**
 * Sends `request` to host:port and resolves with what the server sent back once `complete(reply)`
 * says enough has arrived. Rejects on connection errors or after `timeoutMs`.
 */
export function tcpRequest(
  host: string,
  port: number,
  request: string,
  complete: (reply: string) => boolean,
  timeoutMs = 1000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const socket = connect({ host, port });
    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply);
    };
    const timer = setTimeout(() => finish(new Error(`no reply from ${host}:${port}`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (complete(reply)) finish(null);
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () =>
      finish(complete(reply) ? null : new Error(`connection to ${host}:${port} closed`)),
    );
  });
}

/** RESP encoding of one command, safe for arguments with spaces or CRLF. */
export function respCommand(...args: string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}
