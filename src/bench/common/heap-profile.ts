// In-process V8 sampling heap profile of one phase of a benchmark, counting every allocation, also
// of objects already collected (node --heap-prof keeps only what is still alive). What a runner
// allocates per event sets how often the young generation is collected, and each collection copies
// everything still in flight: bytes per event, by part and by function, show where that comes from.
import { Session } from 'node:inspector/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface HeapNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}

export interface HeapPhase {
  /** Stops sampling and writes <dir>/<name>.heapprofile; returns the file. */
  stop(): Promise<string>;
}

export async function heapProfilePhase(dir: string, name: string): Promise<HeapPhase> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return {
    async stop(): Promise<string> {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      session.disconnect();
      const file = join(dir, `${name}.heapprofile`);
      writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}

const PARTS: readonly [string, (url: string) => boolean][] = [
  ['Kafka client (@platformatic/kafka)', (url) => url.includes('@platformatic/')],
  ['HTTP client (undici)', (url) => url.includes('/undici/')],
  ['Redis client (ioredis)', (url) => url.includes('/ioredis/') || url.includes('/redis-parser/')],
  ['jobrunner (dist/)', (url) => url.includes('/dist/') && !url.includes('/node_modules/')],
  ['node internals (streams, buffers, timers)', (url) => url.startsWith('node:')],
];

/** Lines "  part  1234 bytes/event (12 %)", then the `top` functions allocating most. */
export function formatHeapSummary(file: string, events: number, top = 8): string[] {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const parts = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const part = PARTS.find(([, match]) => match(url))?.[0] ?? 'other';
    parts.set(part, (parts.get(part) ?? 0) + node.selfSize);
    const where = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    functions.set(where, (functions.get(where) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(head);
  const line = (label: string, bytes: number): string =>
    `  ${label.padEnd(60)}${Math.round(bytes / events)
      .toString()
      .padStart(7)} bytes/event  (${((bytes / total) * 100).toFixed(0)} %)`;
  return [
    line('allocated in all', total),
    ...[...parts].sort((a, b) => b[1] - a[1]).map(([part, bytes]) => line(part, bytes)),
    `  functions allocating most:`,
    ...[...functions]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([where, bytes]) => line(`  ${where}`, bytes)),
  ];
}
