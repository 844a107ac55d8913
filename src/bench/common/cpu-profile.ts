// In-process V8 CPU profile of one phase of a benchmark (node --cpu-prof covers the whole process,
// set-up and load generation included). Writes a .cpuprofile Chrome DevTools and speedscope open.
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PhaseProfile {
  /** Stops profiling and writes <dir>/<name>.cpuprofile; returns the file. */
  stop(): Promise<string>;
}

export async function profilePhase(dir: string, name: string): Promise<PhaseProfile> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop(): Promise<string> {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      const file = join(dir, `${name}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}
