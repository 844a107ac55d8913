// When each queue next needs upkeep, so a round visits only what is due instead of every queue.
// A min-heap of (due, key) with a Map holding each key's current due time; superseded heap entries
// are skipped when they surface (lazy deletion). The heap is rebuilt when stale entries outnumber
// live ones, so memory stays proportional to the queues indexed. Times are in any one unit (jobchron
// uses UNIX seconds, the runner's candidate index milliseconds).

interface Entry {
  readonly due: number;
  readonly key: string;
}

export class DueIndex {
  private readonly dueByKey = new Map<string, number>();
  private heap: Entry[] = [];

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.dueByKey.size;
  }

  has(key: string): boolean {
    return this.dueByKey.has(key);
  }

  keys(): IterableIterator<string> {
    return this.dueByKey.keys();
  }

  /**
   * Records that `key` falls due at `due`, keeping the earlier time when it is already
   * indexed. Returns false (and keeps nothing) when the index is full: the caller's walk of the
   * farm will see the queue again.
   */
  note(key: string, due: number): boolean {
    const current = this.dueByKey.get(key);
    if (current !== undefined && current <= due) return true;
    if (current === undefined && this.dueByKey.size >= this.maxEntries) return false;
    this.dueByKey.set(key, due);
    this.push({ due, key });
    this.compactIfWasteful();
    return true;
  }

  /** Replaces whatever is indexed for `key` (a visit has just read the queue's true state). */
  set(key: string, due: number | null): boolean {
    this.dueByKey.delete(key);
    return due === null ? true : this.note(key, due);
  }

  delete(key: string): void {
    this.dueByKey.delete(key);
  }

  clear(): void {
    this.dueByKey.clear();
    this.heap = [];
  }

  /** Removes and returns up to `max` keys due at or before `now`, earliest first. */
  takeDue(now: number, max: number): string[] {
    const out: string[] = [];
    while (out.length < max && this.heap.length > 0) {
      const top = this.heap[0] as Entry;
      if (this.dueByKey.get(top.key) !== top.due) {
        this.pop();
        continue;
      }
      if (top.due > now) break;
      this.pop();
      this.dueByKey.delete(top.key);
      out.push(top.key);
    }
    return out;
  }

  /** The earliest due time indexed, or null. */
  earliest(): number | null {
    while (this.heap.length > 0) {
      const top = this.heap[0] as Entry;
      if (this.dueByKey.get(top.key) === top.due) return top.due;
      this.pop();
    }
    return null;
  }

  private compactIfWasteful(): void {
    if (this.heap.length < 1024 || this.heap.length < 2 * this.dueByKey.size) return;
    this.heap = [...this.dueByKey].map(([key, due]) => ({ key, due }));
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Entry).due <= entry.due) break;
      heap[i] = heap[parent] as Entry;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): void {
    const last = this.heap.pop();
    if (last === undefined || this.heap.length === 0) return;
    this.heap[0] = last;
    this.down(0);
  }

  private down(start: number): void {
    const heap = this.heap;
    const entry = heap[start] as Entry;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && (heap[right] as Entry).due < (heap[left] as Entry).due ? right : left;
      if ((heap[child] as Entry).due >= entry.due) break;
      heap[i] = heap[child] as Entry;
      i = child;
    }
    heap[i] = entry;
  }
}
