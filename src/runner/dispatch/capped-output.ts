// Bounded collectors for child output and HTTP bodies: the stream is always read to its end (so a
// child never blocks on a full pipe) but only a bounded part is kept in memory.

/** Keeps the first `cap` bytes; counts the rest. */
export class HeadCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  totalBytes = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    if (this.kept >= this.cap) return;
    const part = chunk.length <= this.cap - this.kept ? chunk : chunk.subarray(0, this.cap - this.kept);
    this.chunks.push(part);
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.totalBytes > this.kept;
  }

  text(): string {
    return Buffer.concat(this.chunks, this.kept).toString('utf8');
  }
}

/** Keeps the last `cap` bytes; counts everything. */
export class TailCapture {
  private chunks: Buffer[] = [];
  private kept = 0;
  totalBytes = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.chunks.length > 1 && this.kept - (this.chunks[0] as Buffer).length >= this.cap) {
      this.kept -= (this.chunks.shift() as Buffer).length;
    }
  }

  get truncated(): boolean {
    return this.totalBytes > this.cap;
  }

  text(): string {
    const all = Buffer.concat(this.chunks, this.kept);
    return (all.length > this.cap ? all.subarray(all.length - this.cap) : all).toString('utf8');
  }
}

export const EXCERPT_BYTES = 4096;

/**
 * At most ~4 KiB of `text` for an error report: whole when short, otherwise its head and tail
 * (the message usually opens an error, the cause often closes it).
 */
export function excerptOf(text: string, limit = EXCERPT_BYTES): string {
  const trimmed = text.trim();
  if (trimmed.length <= limit) return trimmed;
  const half = Math.floor((limit - 40) / 2);
  const omitted = trimmed.length - 2 * half;
  return `${trimmed.slice(0, half)}\n… [${omitted} characters omitted] …\n${trimmed.slice(-half)}`;
}
