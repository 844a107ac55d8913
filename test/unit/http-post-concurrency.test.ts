// The HTTP dispatcher's connection pool must never make one dispatch wait for another: a cap on
// connections per origin at or below the slot count would queue the express (or burst) slot's
// request behind the slices running on the same MediaWiki endpoint (issue 14). The server here
// answers no request until all of them have arrived, so a queueing pool never finishes.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpPoster } from '../../src/runner/dispatch/http-post.js';

const CONCURRENT = 12;
const held: ServerResponse[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on('end', () => {
    held.push(res);
    if (held.length < CONCURRENT) return;
    for (const r of held.splice(0)) r.end('{"jobs":[],"reached":"none-ready"}');
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const r of held.splice(0)) r.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('HttpPoster', () => {
  it(`runs ${CONCURRENT} requests to one origin at once (no per-origin connection cap)`, async () => {
    const { port } = server.address() as AddressInfo;
    const poster = new HttpPoster(5000);
    const abort = new AbortController();
    const outcomes = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) =>
        poster.post({
          url: new URL(`http://127.0.0.1:${port}/rpc/RunJobs.php?i=${i}`),
          body: 'maxtime=1',
          // Far beyond what the test needs; only a queueing pool would come near it.
          timeoutMs: 20_000,
          abort: abort.signal,
        }),
      ),
    );
    expect(outcomes.map((o) => o.kind)).toEqual(Array(CONCURRENT).fill('response'));
  });
});
