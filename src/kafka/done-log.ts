// What one runner process ran, as its dedup done record says it (kafka-dedup.lua reads it):
// "<from>:<next>[;<next - open seq>,...]" means every seq from `from` up to below `next` ran,
// except the open ones (claimed and not run yet, or given back without Redis confirming it). An
// event with only an ID thus costs Redis no command to finish: the record, one SET per call,
// carries every finished run. Open seqs are as many as events in flight, plus claims whose fate
// Redis did not confirm; those are dropped once their keys have expired.

/** Open seqs kept at most. */
export const MAX_OPEN = 4096;

export class DoneLog {
  /** Open seqs with the time they were claimed, oldest first (Map keeps insertion order). */
  private readonly open = new Map<number, number>();
  /** The lowest seq the record may say ran. */
  private from = 1;
  /** Changed since the last record(). */
  changed = false;

  constructor(private readonly windowMs: number) {}

  get openCount(): number {
    return this.open.size;
  }

  /** A claim is about to be written: until settled it counts as not run. */
  claimed(seq: number, now: number): void {
    this.open.set(seq, now);
    this.changed = true;
  }

  /** It ran, or nothing of it stays in Redis (a duplicate, a confirmed release). */
  settled(seq: number): void {
    if (this.open.delete(seq)) this.changed = true;
  }

  /**
   * The record for every seq below `next`. Past MAX_OPEN open seqs (a long Redis outage: every
   * claim of it stays open) the older half is dropped and `from` moves above them: their runs then
   * count as not run, so dedup is weaker for a while, but nothing that did not run can pass for run.
   */
  record(next: number, now: number): string {
    this.changed = false;
    if (this.open.size > MAX_OPEN) {
      let drop = this.open.size - MAX_OPEN / 2;
      for (const seq of this.open.keys()) {
        if (drop-- <= 0) break;
        this.open.delete(seq);
        if (seq >= this.from) this.from = seq + 1;
      }
    }
    const expired = now - this.windowMs;
    const backs: number[] = [];
    for (const [seq, at] of this.open) {
      // Expired: its key is gone, so whether it ran no longer matters.
      if (at < expired || seq < this.from) this.open.delete(seq);
      else backs.push(next - seq);
    }
    const range = `${this.from}:${next}`;
    return backs.length === 0 ? range : `${range};${backs.join(',')}`;
  }
}

/** Whether `seq` ran by the record (as kafka-dedup.lua decides). */
export function recordSaysRan(record: string | null, seq: number): boolean {
  const match = /^([0-9]+):([0-9]+)(?:;([0-9,]*))?$/.exec(record ?? '');
  if (match === null) return false;
  const from = Number(match[1]);
  const next = Number(match[2]);
  if (seq < from || seq >= next) return false;
  const open = (match[3] ?? '').split(',').filter((d) => d !== '');
  return !open.some((back) => next - Number(back) === seq);
}
