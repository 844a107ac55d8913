// Starts the trivial executor (trivial-executor-server.js) in its own process and measures what it
// can answer alone, so a benchmark can show the executor is not its bottleneck.
import type { ChildProcess } from 'node:child_process';
import { Pool } from 'undici';
import { freePort } from '../../farm/free-port.js';
import { startHelperScript } from './helper-script.js';

export interface TrivialExecutor {
  readonly url: string;
  readonly child: ChildProcess;
}

export async function startTrivialExecutor(path = '/rpc/RunSingleJob.php'): Promise<TrivialExecutor> {
  const port = await freePort();
  const { child } = await startHelperScript('trivial-executor-server.js', [String(port)]);
  return { url: `http://127.0.0.1:${port}${path}`, child };
}

/**
 * Requests per second the executor answers to a bare undici client (`connections` keep-alive
 * connections, one request in flight on each), POSTing `body` `count` times.
 */
export async function executorCapacity(
  url: string,
  body: Buffer,
  count: number,
  connections: number,
): Promise<number> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const response = await pool.request({
        path: target.pathname,
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      await response.body.dump();
      if (response.statusCode !== 200) throw new Error(`trivial executor answered ${response.statusCode}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return count / seconds;
}
