// Slows down guessing of the admin token: each client address may get a few 401s in a burst, then
// one per `refillSeconds`; beyond that its admin requests get 429 without the token being compared.
// A farm-wide bucket (ten times larger) bounds guessing spread over many addresses. Only failures
// cost: an operator with the right token is never throttled by their own successes.

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
  private readonly all: Bucket;
  private readonly now: () => number;

  constructor(private readonly options: AuthThrottleOptions) {
    this.now = options.now ?? Date.now;
    this.all = { tokens: options.burst * 10, at: this.now() };
  }

  /** Seconds until `address` may try again; 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const own = this.refill(this.buckets.get(address), this.options.burst);
    const all = this.refill(this.all, this.options.burst * 10);
    const short = Math.max(own && own.tokens < 1 ? 1 - own.tokens : 0, all.tokens < 1 ? 1 - all.tokens : 0);
    return short === 0 ? 0 : Math.ceil(short * this.options.refillSeconds);
  }

  /** Records a wrong or missing token from `address`. */
  failed(address: string): void {
    let own = this.refill(this.buckets.get(address), this.options.burst);
    if (!own) {
      if (this.buckets.size >= MAX_ADDRESSES) this.prune();
      own = { tokens: this.options.burst, at: this.now() };
      this.buckets.set(address, own);
    }
    own.tokens -= 1;
    this.refill(this.all, this.options.burst * 10).tokens -= 1;
  }

  private refill<B extends Bucket | undefined>(bucket: B, capacity: number): B {
    if (!bucket) return bucket;
    const now = this.now();
    const gained = (now - bucket.at) / 1000 / this.options.refillSeconds;
    bucket.tokens = Math.min(capacity, bucket.tokens + gained);
    bucket.at = now;
    return bucket;
  }

  private prune(): void {
    for (const [address, bucket] of this.buckets) {
      if (this.refill(bucket, this.options.burst).tokens >= this.options.burst) this.buckets.delete(address);
    }
    // Still full of throttled addresses: forget the oldest half rather than grow without bound.
    if (this.buckets.size >= MAX_ADDRESSES) {
      let drop = this.buckets.size / 2;
      for (const address of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(address);
      }
    }
  }
}
