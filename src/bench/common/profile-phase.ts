// In-process V8 profile of one phase of a benchmark (node --cpu-prof / --heap-prof cover the whole
// process, set-up and load generation included): a CPU profile (.cpuprofile, which Chrome DevTools
// and speedscope open) or a sampling heap profile that counts every allocation, also of objects
// already collected (--heap-prof keeps only what is still alive at the end).
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type ProfileKind = 'cpu' | 'heap';

export interface PhaseProfile {
  /** Stops profiling and writes <dir>/<name>.cpuprofile or .heapprofile; returns the file. */
  stop(): Promise<string>;
}

export async function profilePhase(
  dir: string,
  name: string,
  kind: ProfileKind = 'cpu',
): Promise<PhaseProfile> {
  const session = new Session();
  session.connect();
  if (kind === 'cpu') {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  } else {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  return {
    async stop(): Promise<string> {
      const profile =
        kind === 'cpu'
          ? (await session.post('Profiler.stop')).profile
          : (await session.post('HeapProfiler.stopSampling')).profile;
      session.disconnect();
      const file = join(dir, `${name}.${kind}profile`);
      writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}
