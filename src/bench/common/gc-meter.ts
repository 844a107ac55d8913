// Garbage collection in this process during one phase of a benchmark: how many young-generation
// (scavenge) and full collections ran and how long the main thread spent in them. A runner that
// allocates per event pays for it here, in proportion to what is still alive at each scavenge.
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

export interface GcFigures {
  readonly minor: number;
  readonly major: number;
  /** Main-thread milliseconds in collections (the pauses; concurrent marking is not in it). */
  readonly pauseMs: number;
}

export interface GcMeter {
  stop(): Promise<GcFigures>;
}

export function startGcMeter(): GcMeter {
  let minor = 0;
  let major = 0;
  let pauseMs = 0;
  const count = (entries: readonly PerformanceEntry[]): void => {
    for (const entry of entries) {
      // Node 20 puts the collection's kind in `detail` (its typings do not declare it).
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
      else major++;
      pauseMs += entry.duration;
    }
  };
  const observer = new PerformanceObserver((list) => count(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    async stop(): Promise<GcFigures> {
      // Entries are delivered asynchronously: let the last ones arrive before reading.
      await new Promise((resolve) => setImmediate(resolve));
      count(observer.takeRecords());
      observer.disconnect();
      return { minor, major, pauseMs };
    },
  };
}
