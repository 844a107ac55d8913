// Starts one of the benchmarks' helper scripts (a .js beside this module: the trivial executor, the
// statsd receiver) in its own node process, as the peers a runner talks to run apart from it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface HelperScript {
  readonly child: ChildProcess;
  /** The first line the script printed: that it is ready (and, for some, its port). */
  readonly firstLine: string;
  /** Everything it printed so far. */
  output(): string;
}

export async function startHelperScript(file: string, args: readonly string[] = []): Promise<HelperScript> {
  const script = fileURLToPath(new URL(`./${file}`, import.meta.url));
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (output += chunk));
  const firstLine = await new Promise<string>((resolve, reject) => {
    const ready = (): void => {
      const end = output.indexOf('\n');
      if (end < 0) return;
      child.stdout.off('data', ready);
      resolve(output.slice(0, end).trim());
    };
    child.stdout.on('data', ready);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before it was ready`)));
  });
  return { child, firstLine, output: () => output };
}
