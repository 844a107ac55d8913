// Where the allocations of a sampling heap profile (profile-phase.ts, kind 'heap') came from: bytes
// per event by part (Kafka client, undici, ioredis, jobrunner, node internals) and the functions
// allocating most. What a runner allocates per event sets how often the young generation is
// collected, and each collection copies everything still in flight.
import { readFileSync } from 'node:fs';
import { CODE_PARTS } from './profile-summary.js';

interface HeapNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}

/** Lines "  part  1234 bytes/event (12 %)", then the `top` functions allocating most. */
export function formatHeapSummary(file: string, events: number, top = 8): string[] {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const parts = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const part = CODE_PARTS.find(([, match]) => match(url))?.[0] ?? 'other';
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
