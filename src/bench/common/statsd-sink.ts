// Starts statsd-sink-server.js in its own process: a statsd target for a benchmark's runner, so
// the runner pays for its metrics as in production without a receiver on its own thread.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
  const script = fileURLToPath(new URL('./statsd-sink-server.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (output += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    const ready = (): void => {
      if (!output.includes('\n')) return;
      child.stdout.off('data', ready);
      resolve(Number(output.trim()));
    };
    child.stdout.on('data', ready);
    child.once('exit', (code) => reject(new Error(`statsd sink exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    pid: child.pid ?? 0,
    async stop() {
      const before = output.length;
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(output.slice(before).trim() || '{"datagrams":0,"lines":0,"bytes":0}') as SinkCounts;
    },
  };
}
