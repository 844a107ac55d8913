// MediaWiki's per-job dedup hash (reference: mediawiki-redis-queue.md §4.1, §9.1):
// sha1(serialize(getDeduplicationInfo())) in hex, and base_convert(hex, 16, 36, 31) for the Redis
// `sha1` field / h-idBySha1. The hex form is what JobQueueFederated's HashRing places by.
//
// Two variants exist in MediaWiki 1.39 and give different hashes for the same params:
// - 'job' (Job::getDeduplicationInfo, jobs built as Job objects, e.g. by edits): drops
//   rootJobSignature, rootJobTimestamp, jobReleaseTimestamp and requestId, then ksort()s.
// - 'jobSpecification' (JobSpecification, e.g. JobQueueGroup::push(new JobSpecification(...))):
//   drops rootJobSignature, rootJobTimestamp, jobReleaseTimestamp and the removeDuplicatesIgnoreParams
//   fields; it keeps requestId and does NOT sort.
// Job subclasses may drop more (CategoryMembershipChangeJob drops revTimestamp): pass ignoreParams.
import { createHash } from 'node:crypto';
import { PhpArray, phpSerialize } from './php-serialize.js';
import { phpKsort } from './php-ksort.js';

export type DedupVariant = 'job' | 'jobSpecification';

export interface DedupOptions {
  /** Default 'job'. */
  readonly variant?: DedupVariant;
  /** Extra params to leave out (removeDuplicatesIgnoreParams, or a subclass's own removals). */
  readonly ignoreParams?: readonly string[];
}

export interface DedupHash {
  /** 40 lowercase hex (EventBus `sha1`, HashRing placement). */
  readonly hex: string;
  /** 31-char lowercase base 36, zero-padded (JobQueueRedis `sha1` field). */
  readonly base36: string;
}

const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

export class BaseConvertError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BaseConvertError';
  }
}

/**
 * Wikimedia\base_convert(): arbitrary-length base conversion, lowercase digits, left-padded with
 * '0' to `pad`. Input is case-insensitive; invalid input throws BaseConvertError (PHP returns false).
 */
export function baseConvert(input: string, fromBase: number, toBase: number, pad = 1): string {
  for (const base of [fromBase, toBase]) {
    if (!Number.isInteger(base) || base < 2 || base > 36)
      throw new BaseConvertError(`base ${base} is not 2..36`);
  }
  const allowed = DIGITS.slice(0, fromBase);
  const lower = input.toLowerCase();
  if (lower === '' || [...lower].some((c) => !allowed.includes(c))) {
    throw new BaseConvertError(`"${input}" is not a base-${fromBase} number`);
  }
  let value = 0n;
  const from = BigInt(fromBase);
  for (const c of lower) value = value * from + BigInt(DIGITS.indexOf(c));
  return value.toString(toBase).padStart(pad, '0');
}

/** The params MediaWiki hashes: the removals of the chosen variant, then ksort for 'job'. */
export function dedupParams(params: PhpArray, options: DedupOptions = {}): PhpArray {
  const variant = options.variant ?? 'job';
  const copy = params.clone();
  const drop = [
    'rootJobSignature',
    'rootJobTimestamp',
    'jobReleaseTimestamp',
    ...(options.ignoreParams ?? []),
  ];
  if (variant === 'job') drop.push('requestId');
  for (const key of drop) copy.delete(key);
  return variant === 'job' ? phpKsort(copy) : copy;
}

/** serialize(['type' => type, 'params' => dedup params]) — the bytes that get hashed. */
export function dedupInfoBytes(type: string, params: PhpArray, options: DedupOptions = {}): Buffer {
  return phpSerialize(
    PhpArray.from([
      ['type', type],
      ['params', dedupParams(params, options)],
    ]),
  );
}

/** The dedup hash of a job in both forms. */
export function dedupSha1(type: string, params: PhpArray, options: DedupOptions = {}): DedupHash {
  const hex = createHash('sha1')
    .update(dedupInfoBytes(type, params, options))
    .digest('hex');
  return { hex, base36: sha1HexToBase36(hex) };
}

/** base_convert(hex, 16, 36, 31). */
export function sha1HexToBase36(hex: string): string {
  return baseConvert(hex, 16, 36, 31);
}

/** The reverse: a 31-char base-36 Redis sha1 back to 40 hex. */
export function sha1Base36ToHex(base36: string): string {
  return baseConvert(base36, 36, 16, 40);
}
