// Starts the trivial executor (trivial-executor-server.js) in its own process and measures what it
// can answer alone, so a benchmark can show the executor is not its bottleneck.
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../../farm/free-port.js';
import { EventExecutor } from '../../kafka/executor.js';
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
 * Requests per second the executor answers to the runner's own HTTP client (EventExecutor with
 * `connections` keep-alive connections, one request in flight on each), POSTing `body` `count`
 * times: the same client the runner uses, without the runner's work around it.
 */
export async function executorCapacity(
  url: string,
  body: Buffer,
  count: number,
  connections: number,
): Promise<number> {
  const target = new URL(url);
  const executor = new EventExecutor(connections);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const result = await executor.execute({ url: target, body, timeoutMs: 30_000 });
      if (result.kind !== 'response' || result.status !== 200) {
        throw new Error(
          `trivial executor answered ${result.kind === 'response' ? result.status : result.message}`,
        );
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  await executor.close();
  return count / seconds;
}
