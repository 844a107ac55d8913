// MediaWiki's HashRing (includes/libs/HashRing.php, 1.31+), reproduced decision for decision so a
// jobrunner push to a JobQueueFederated setup lands de-duplicatable jobs on the same partition as
// MediaWiki would (reference: mediawiki-redis-queue.md §12). Consumers and the chron scan every
// partition and do not need this.
//
// Ring: per location intval(weight / total × 40 × locationCount) groups of 4 points, each group
// from hash("<location>-<i>") read as 4 little-endian uint32. Item position: first 4 bytes of
// hash(item) as a little-endian uint32; the item belongs to the first point at or after it,
// wrapping to the first point (MediaWiki's own binary search, quirks included).
import { createHash, randomInt } from 'node:crypto';
import { sha1Base36ToHex } from './dedup-sha1.js';

const HASHES_PER_LOCATION = 40;
const SECTORS_PER_HASH = 4;

export class HashRingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HashRingError';
  }
}

interface RingNode {
  readonly position: number;
  readonly location: string;
}

export interface HashRingOptions {
  /** Node hash algorithm (MediaWiki default 'sha1'). */
  readonly algorithm?: string;
  /** Clock in UNIX seconds, for ejection expiry (tests). */
  readonly now?: () => number;
}

export class HashRing {
  private readonly algorithm: string;
  private readonly weights: Map<string, number>;
  private readonly baseRing: RingNode[];
  private readonly ejectedUntil = new Map<string, number>();
  private liveRing: RingNode[] | null = null;
  private readonly now: () => number;

  /** weights: location → weight (zero-weight locations are dropped, negative ones rejected). */
  constructor(weights: Readonly<Record<string, number>>, options: HashRingOptions = {}) {
    this.algorithm = options.algorithm ?? 'sha1';
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    const entries = Object.entries(weights);
    if (entries.some(([, w]) => w < 0)) throw new HashRingError('Location weight cannot be negative.');
    this.weights = new Map(entries.filter(([, w]) => w !== 0));
    if (this.weights.size === 0) throw new HashRingError('No locations with non-zero weight.');
    this.baseRing = this.buildRing();
  }

  private digest(value: string, bytes: number): Buffer {
    const hash = createHash(this.algorithm).update(value, 'utf8').digest();
    if (hash.length < bytes) throw new HashRingError(`${this.algorithm} gives fewer than ${bytes * 8} bits`);
    return hash;
  }

  private buildRing(): RingNode[] {
    const count = this.weights.size;
    let total = 0;
    for (const w of this.weights.values()) total += w;
    // A PHP array: appends take the next index, unset leaves a hole, count() is the live size.
    const ring = new Map<number, RingNode>();
    let nextIndex = 0;
    const claimed = new Map<number, { node: string; index: number }>();
    for (const [location, weight] of this.weights) {
      const quartets = Math.trunc((weight / total) * HASHES_PER_LOCATION * count);
      for (let qi = 0; qi < quartets; qi++) {
        const hash = this.digest(`${location}-${qi}`, 16);
        for (let gi = 0; gi < SECTORS_PER_HASH; gi++) {
          const position = hash.readUInt32LE(gi * 4);
          const node = `${qi * SECTORS_PER_HASH + gi}@${location}`;
          const previous = claimed.get(position);
          if (previous) {
            // Duplicate position: the node name decides (PHP string comparison), like MediaWiki.
            if (Buffer.compare(Buffer.from(previous.node), Buffer.from(node)) > 0) continue;
            ring.delete(previous.index);
          }
          ring.set(nextIndex++, { position, location });
          // MediaWiki records count($ring) - 1, which is not the new index after an unset: kept.
          claimed.set(position, { node, index: ring.size - 1 });
        }
      }
    }
    const sorted = [...ring.values()].sort((a, b) => a.position - b.position);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]?.position === sorted[i - 1]?.position)
        throw new HashRingError('Duplicate node positions.');
    }
    return sorted;
  }

  private itemPosition(item: string): number {
    return this.digest(item, 4).readUInt32LE(0);
  }

  /** HashRing::findNodeIndexForPosition(), including its wrap-to-0 fallbacks. */
  private static findNodeIndex(position: number, ring: readonly RingNode[]): number {
    const count = ring.length;
    let low = 0;
    let high = count;
    for (;;) {
      const mid = Math.trunc((low + high) / 2);
      if (mid === count) return 0;
      const midVal = ring[mid]?.position ?? 0;
      const prevVal = mid === 0 ? 0 : (ring[mid - 1]?.position ?? 0);
      if (position <= midVal && position > prevVal) return mid;
      if (midVal < position) low = mid + 1;
      else high = mid - 1;
      if (low > high) return 0;
    }
  }

  private ring(live: boolean): RingNode[] {
    if (!live || this.ejectedUntil.size === 0) return this.baseRing;
    const now = this.now();
    const minExpiry = Math.min(...this.ejectedUntil.values());
    if (this.liveRing === null || minExpiry <= now) {
      for (const [location, expiry] of this.ejectedUntil)
        if (expiry <= now) this.ejectedUntil.delete(location);
      this.liveRing =
        this.ejectedUntil.size > 0
          ? this.baseRing.filter((n) => !this.ejectedUntil.has(n.location))
          : this.baseRing;
    }
    if (this.liveRing.length === 0) throw new HashRingError('The live ring is currently empty.');
    return this.liveRing;
  }

  /** Up to `limit` distinct locations for the item, clockwise from its position. */
  getLocations(item: string, limit: number, live = false): string[] {
    const ring = this.ring(live);
    if (this.weights.size === 1) return limit > 0 && ring[0] ? [ring[0].location] : [];
    const start = HashRing.findNodeIndex(this.itemPosition(item), ring);
    const locations: string[] = [];
    let index = start;
    let first = true;
    while (locations.length < limit) {
      if (!first) {
        index = index + 1 < ring.length ? index + 1 : 0;
        if (index === start) break;
      }
      first = false;
      const location = ring[index]?.location;
      if (location !== undefined && !locations.includes(location)) locations.push(location);
    }
    return locations;
  }

  getLocation(item: string): string {
    return this.getLocations(item, 1)[0] as string;
  }

  /** The item's location among locations not currently ejected. */
  getLiveLocation(item: string): string {
    return this.getLocations(item, 1, true)[0] as string;
  }

  /** Ejects a location for ttl seconds; false when that leaves no live location. */
  ejectFromLiveRing(location: string, ttlSeconds: number): boolean {
    if (!this.weights.has(location)) throw new HashRingError(`No location '${location}' in the ring.`);
    this.ejectedUntil.set(location, this.now() + ttlSeconds);
    this.liveRing = null;
    return this.ejectedUntil.size < this.weights.size;
  }

  /** Weights of the locations not currently ejected. */
  getLiveLocationWeights(): Map<string, number> {
    const now = this.now();
    const live = new Map<string, number>();
    for (const [location, weight] of this.weights) {
      const expiry = this.ejectedUntil.get(location);
      if (expiry === undefined || expiry <= now) live.set(location, weight);
    }
    return live;
  }
}

/**
 * JobQueueFederated placement of one job: de-duplicatable jobs (non-empty sha1) by the ring on
 * their 40-hex dedup hash; others on a weight-random live partition.
 */
export function partitionForJob(ring: HashRing, job: { readonly sha1: string }): string {
  if (job.sha1 !== '') return ring.getLiveLocation(sha1Base36ToHex(job.sha1));
  const weights = [...ring.getLiveLocationWeights()];
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  let pick = (randomInt(0, 2 ** 47) / 2 ** 47) * total;
  for (const [location, weight] of weights) {
    pick -= weight;
    if (pick < 0) return location;
  }
  return weights[weights.length - 1]?.[0] ?? ring.getLiveLocation('');
}
