// A fixture server restarted on its own port waits while something else holds that port for a
// moment (on a busy machine an outgoing connection can be given a fixture's ephemeral port while
// the server is down), instead of failing the test that restarts it.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { until } from '../support/until.js';

let server: RedisServerHandle | undefined;
let holder: Server | undefined;

afterEach(async () => {
  holder?.close();
  await server?.stop();
});

function listenOn(port: number, host: string): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(null) : reject(error),
    );
    s.listen({ port, host, exclusive: true }, () => resolve(s));
  });
}

/** Listens on the port as soon as it is free: the very race this file is about can delay that. */
async function hold(port: number, host: string): Promise<Server> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const held = await listenOn(port, host);
    if (held) return held;
    if (Date.now() > deadline) throw new Error(`port ${port} still taken after 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('RestartableServer.restart', () => {
  it('waits for its port while another socket holds it, then serves the same data', async () => {
    server = await startRedisServer({ appendOnly: true });
    const redis = server;
    const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await client.connect();
    await client.set('kept', 'yes');
    client.disconnect();
    await redis.kill9();
    holder = await hold(redis.port, redis.host);
    const restarted = redis.restart();
    // The holder lets go only once a start has found the port taken.
    const log = join(redis.dir, 'redis.log');
    await until(
      () => existsSync(log) && /Address already in use/.test(readFileSync(log, 'utf8')),
      'a start that found the port taken',
    );
    holder.close();
    holder = undefined;
    await restarted;
    const again = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await again.connect();
    expect(await again.get('kept')).toBe('yes');
    again.disconnect();
  });
});
