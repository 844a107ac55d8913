// Starts statsd-sink-server.js in its own process: a statsd target for a benchmark's runner, so
// the runner pays for its metrics as in production without a receiver on its own thread.
import { startHelperScript } from './helper-script.js';

export interface SinkCounts {
  readonly datagrams: number;
  readonly lines: number;
  readonly bytes: number;
}

export interface StatsdSinkProcess {
  readonly port: number;
  readonly pid: number;
  /** Stops the sink; resolves with what it received. */
  stop(): Promise<SinkCounts>;
}

export async function startStatsdSink(): Promise<StatsdSinkProcess> {
  const { child, firstLine, output } = await startHelperScript('statsd-sink-server.js');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port: Number(firstLine),
    pid: child.pid ?? 0,
    async stop() {
      const before = output().length;
      child.kill('SIGTERM');
      await exited;
      const counts = output().slice(before).trim();
      return JSON.parse(counts || '{"datagrams":0,"lines":0,"bytes":0}') as SinkCounts;
    },
  };
}
