// Where a CPU profile's time went, by part: the Kafka client, the HTTP client, the Redis client,
// jobrunner's own code, socket writes (on loopback they include the receiver's TCP work), garbage
// collection, idle. Self time of each sampled function, summed by the file it lives in.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/**
 * The code a function belongs to, by its script URL: the libraries on the runner's path, jobrunner
 * itself, Node's own modules. Shared with heap-summary.ts.
 */
export const CODE_PARTS: readonly [string, (url: string) => boolean][] = [
  // @platformatic/dynamic-buffer is the Kafka client's too.
  ['Kafka client (@platformatic/kafka)', (url) => url.includes('@platformatic/')],
  ['HTTP client (dist/kafka/http/)', (url) => url.includes('/dist/kafka/http/')],
  ['Redis client (ioredis)', (url) => url.includes('/ioredis/') || url.includes('/redis-parser/')],
  ['jobrunner (rest of dist/)', (url) => url.includes('/dist/') && !url.includes('/node_modules/')],
  ['node internals (streams, timers, buffers)', (url) => url.startsWith('node:')],
];

/** Where a sampled CPU tick went: what V8 names specially, then CODE_PARTS. */
const PARTS: readonly [string, (name: string, url: string) => boolean][] = [
  ['idle', (name) => name === '(idle)'],
  ['garbage collection', (name) => name === '(garbage collector)'],
  [
    'socket writes (syscalls)',
    (name) => ['writev', 'writeUtf8String', 'writeBuffer', 'writeLatin1String'].includes(name),
  ],
  ...CODE_PARTS.map(([part, match]): [string, (name: string, url: string) => boolean] => [
    part,
    (_, url) => match(url),
  ]),
];

/** Milliseconds per part, largest first, plus the total sampled. */
export function summarizeProfile(file: string): { total: number; parts: [string, number][] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parts = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    total += micros;
    const part =
      PARTS.find(([, match]) => match(frame?.functionName ?? '', frame?.url ?? ''))?.[0] ?? 'other';
    parts.set(part, (parts.get(part) ?? 0) + micros);
  });
  return {
    total: total / 1000,
    parts: [...parts]
      .map(([part, micros]): [string, number] => [part, micros / 1000])
      .sort((a, b) => b[1] - a[1]),
  };
}

/** Lines "  part  12.3 µs/event  (34 %)" for a profile of `events` events. */
export function formatProfileSummary(file: string, events: number): string[] {
  const { total, parts } = summarizeProfile(file);
  return parts.map(
    ([part, ms]) =>
      `  ${part.padEnd(44)}${((ms * 1000) / events).toFixed(1).padStart(7)} µs/event  (${((ms / total) * 100).toFixed(0)} %)`,
  );
}
