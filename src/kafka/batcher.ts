// Collects calls made during one turn of the event loop and hands them to one function together:
// the runner then pays one Redis round trip (and one system call each way) for every event that
// became ready in the same turn, instead of one per event. A batch also goes at `maxSize` items.

export type BatchFn<I, O> = (items: readonly I[]) => Promise<readonly O[]>;

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

export class Batcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly run: BatchFn<I, O>,
    private readonly maxSize: number,
  ) {}

  /** Resolves with this item's result; rejects when the batch's call fails. */
  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxSize) this.flush();
      // setImmediate, not nextTick: it runs after every I/O callback of this poll phase, so the
      // events of all responses read in one turn share the batch.
      else this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    this.run(batch.map((p) => p.item)).then(
      (results) => {
        batch.forEach((p, i) => {
          if (i < results.length) p.resolve(results[i] as O);
          else p.reject(new Error(`batch call returned ${results.length} results for ${batch.length} items`));
        });
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error);
      },
    );
  }
}
