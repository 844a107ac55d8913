// Slows down guessing of the admin token: each client address may get a few 401s in a burst, then
// one per `refillSeconds`; beyond that its admin requests get 429 before the token is compared (so
// a right guess is not told apart either). Only failures cost: an operator with the right token is
// never throttled by their own successes. There is deliberately no farm-wide bucket: anyone could
// then lock every operator out, and a 24-character token is out of reach of spread guessing anyway.

export interface AuthThrottleOptions {
  /** Wrong tokens one address may send in a row. */
  readonly burst: number;
  /** One more wrong token is allowed per this many seconds. */
  readonly refillSeconds: number;
  /** Milliseconds clock; injectable for tests. */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Addresses remembered at most; full buckets are dropped first (they carry no state). */
const MAX_ADDRESSES = 10_000;

export class AuthThrottle {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(private readonly options: AuthThrottleOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `address` may try again; 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const bucket = this.refill(this.buckets.get(address));
    if (!bucket || bucket.tokens >= 1) return 0;
    return Math.ceil((1 - bucket.tokens) * this.options.refillSeconds);
  }

  /** Records a wrong or missing token from `address`. */
  failed(address: string): void {
    let bucket = this.refill(this.buckets.get(address));
    if (!bucket) {
      if (this.buckets.size >= MAX_ADDRESSES) this.prune();
      bucket = { tokens: this.options.burst, at: this.now() };
      this.buckets.set(address, bucket);
    }
    bucket.tokens -= 1;
  }

  private refill(bucket: Bucket | undefined): Bucket | undefined {
    if (!bucket) return undefined;
    const now = this.now();
    const gained = (now - bucket.at) / 1000 / this.options.refillSeconds;
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + gained);
    bucket.at = now;
    return bucket;
  }

  private prune(): void {
    for (const [address, bucket] of this.buckets) {
      if ((this.refill(bucket)?.tokens ?? 0) >= this.options.burst) this.buckets.delete(address);
    }
    // Still full of throttled addresses: forget the oldest half rather than grow without bound.
    let drop = this.buckets.size >= MAX_ADDRESSES ? this.buckets.size / 2 : 0;
    for (const address of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(address);
    }
  }
}
