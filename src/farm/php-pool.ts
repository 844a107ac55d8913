// A web server for the farm that queues like a php-fpm pool: N single-process `php -S` servers
// behind a small front that hands each request to an idle one, or holds it until one is idle.
//
// Why not `php -S` with PHP_CLI_SERVER_WORKERS: its workers share the listening socket and a
// worker busy with one request may already have accepted the next connection, which then waits
// for the first request to end although other workers are idle (README "Scheduling": an express
// dispatch waited 1–7 s that way in bench:overload). php-fpm's children accept only while idle, so
// production does not queue like that; this front does the same for the benchmarks.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFarmWebServer, type FarmWebServer, type WebServerOptions } from './farm-web-server.js';

const HOST = '127.0.0.1';

interface Waiting {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

export async function startFarmWebPool(opts: WebServerOptions & { size: number }): Promise<FarmWebServer> {
  if (!Number.isInteger(opts.size) || opts.size < 1)
    throw new Error(`php pool: size must be a whole number ≥ 1, not ${opts.size}`);
  const started = await Promise.allSettled(
    Array.from({ length: opts.size }, () => startFarmWebServer({ ...opts, workers: 1 })),
  );
  const backends = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(backends.map((b) => b.stop()));
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  const idle = [...backends];
  const queue: Waiting[] = [];

  const drain = (): void => {
    while (idle.length > 0 && queue.length > 0) {
      const backend = idle.shift() as FarmWebServer;
      const { req, res } = queue.shift() as Waiting;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        idle.push(backend);
        drain();
      };
      const upstream = request(
        {
          host: HOST,
          port: backend.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: false,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.once('close', release);
        },
      );
      upstream.once('error', (error) => {
        release();
        if (res.headersSent) res.destroy(error);
        else res.writeHead(502, { 'content-type': 'text/plain' }).end(`php pool: ${error.message}\n`);
      });
      // A client that gives up frees nothing here: php -S runs the request to its end anyway.
      req.pipe(upstream);
    }
  };

  const front = createServer((req, res) => {
    queue.push({ req, res });
    drain();
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, HOST, () => resolve());
  });
  const port = (front.address() as AddressInfo).port;
  const baseUrl = `http://${HOST}:${port}`;
  let stopped = false;
  return {
    port,
    // The front runs in this process; the first backend stands for the pool's PHP side.
    pid: (backends[0] as FarmWebServer).pid,
    baseUrl,
    indexUrl: (wiki) => `${baseUrl}/index.php?wiki=${encodeURIComponent(wiki)}`,
    rpcRunJobsTemplate: () =>
      `${baseUrl}/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u`,
    async stop() {
      if (stopped) return;
      stopped = true;
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await Promise.all(backends.map((b) => b.stop()));
    },
  };
}
