// The legacy ready-queue registry value, as MediaWiki's JobQueueAggregatorMemc (1.21–1.32, the
// nextJobDB.php era) kept it in memcached under "jobqueue:aggregator:ready-queues:v1":
//
//   serialize(['pendingDBs' => [<type> => [<wiki>, ...]], 'timestamp' => <UNIX time of the rebuild>])
//
// stored by BagOStuff with flags 1 (MemcachedClient::SERIALIZED). jobrunner adds one key MediaWiki
// never read, 'readyCounts' => [<type> => [<wiki> => <ready jobs>]], so the runner can weigh queues;
// readers that know only pendingDBs are unaffected.
import { inflateSync } from 'node:zlib';
import {
  PhpArray,
  phpSerialize,
  phpUnserialize,
  PhpUnserializeError,
  type PhpValue,
} from '../mediawiki/php-serialize.js';

/** MediaWiki's MemcachedClient flag bits. */
export const FLAG_SERIALIZED = 1;
export const FLAG_COMPRESSED = 2;
/** php-memcached (PECL) marks PHP-serialized values with this type code in the low nibble. */
const PECL_SERIALIZED = 4;

export class RegistryFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryFormatError';
  }
}

export interface LegacyRegistry {
  /** UNIX time of the rebuild. */
  readonly timestamp: number;
  /** type → wikis with pending work (MediaWiki's pendingDBs). */
  readonly pending: ReadonlyMap<string, readonly string[]>;
  /** type → wiki → ready jobs; null when the writer was not jobrunner (MediaWiki's own value). */
  readonly readyCounts: ReadonlyMap<string, ReadonlyMap<string, number>> | null;
}

/** Builds the registry from per-queue ready counts (queues with 0 are left out). */
export function registryFromCounts(
  counts: Iterable<{ type: string; wiki: string; ready: number }>,
  timestamp: number,
): LegacyRegistry {
  const pending = new Map<string, string[]>();
  const readyCounts = new Map<string, Map<string, number>>();
  for (const { type, wiki, ready } of counts) {
    if (ready <= 0) continue;
    const wikis = pending.get(type) ?? [];
    if (!wikis.includes(wiki)) wikis.push(wiki);
    pending.set(type, wikis);
    const byWiki = readyCounts.get(type) ?? new Map<string, number>();
    byWiki.set(wiki, (byWiki.get(wiki) ?? 0) + ready);
    readyCounts.set(type, byWiki);
  }
  return { timestamp, pending, readyCounts };
}

export function encodeRegistry(registry: LegacyRegistry): Buffer {
  const pendingDBs = new PhpArray();
  for (const [type, wikis] of registry.pending) pendingDBs.set(type, PhpArray.list(wikis));
  const value = PhpArray.from([
    ['pendingDBs', pendingDBs],
    ['timestamp', registry.timestamp],
  ]);
  if (registry.readyCounts) {
    const counts = new PhpArray();
    for (const [type, byWiki] of registry.readyCounts) counts.set(type, PhpArray.from(byWiki));
    value.set('readyCounts', counts);
  }
  return phpSerialize(value);
}

function keyText(key: PhpValue | number | bigint): string {
  return Buffer.isBuffer(key) ? key.toString('utf8') : String(key);
}

function asArray(value: PhpValue | undefined, what: string): PhpArray {
  if (!(value instanceof PhpArray)) throw new RegistryFormatError(`${what} is not an array`);
  return value;
}

/** Decodes a stored value; flags tell how BagOStuff wrote it. */
export function decodeRegistry(bytes: Buffer, flags: number): LegacyRegistry {
  let raw = bytes;
  if (flags & FLAG_COMPRESSED) {
    try {
      raw = inflateSync(bytes);
    } catch (error) {
      throw new RegistryFormatError(`compressed value does not inflate: ${(error as Error).message}`);
    }
  }
  if (!(flags & FLAG_SERIALIZED) && (flags & 0xf) !== PECL_SERIALIZED) {
    throw new RegistryFormatError(`flags ${flags} do not mark a PHP-serialized value`);
  }
  let value: PhpValue;
  try {
    value = phpUnserialize(raw);
  } catch (error) {
    if (error instanceof PhpUnserializeError) throw new RegistryFormatError(error.message);
    throw error;
  }
  const top = asArray(value, 'the registry');
  const timestamp = top.get('timestamp');
  if (typeof timestamp !== 'number') throw new RegistryFormatError("'timestamp' is not an integer");
  const pending = new Map<string, string[]>();
  for (const [type, wikis] of asArray(top.get('pendingDBs'), "'pendingDBs'")) {
    pending.set(
      keyText(type),
      [...asArray(wikis, `pendingDBs[${keyText(type)}]`).values()].map((w) => {
        if (typeof w !== 'string' && typeof w !== 'number') {
          throw new RegistryFormatError(`pendingDBs[${keyText(type)}] holds a non-string wiki`);
        }
        return String(w);
      }),
    );
  }
  let readyCounts: Map<string, Map<string, number>> | null = null;
  const countsValue = top.get('readyCounts');
  if (countsValue !== undefined) {
    readyCounts = new Map();
    for (const [type, byWiki] of asArray(countsValue, "'readyCounts'")) {
      const map = new Map<string, number>();
      for (const [wiki, count] of asArray(byWiki, `readyCounts[${keyText(type)}]`)) {
        if (typeof count !== 'number')
          throw new RegistryFormatError(`readyCounts[${keyText(type)}][${keyText(wiki)}] is not an integer`);
        map.set(keyText(wiki), count);
      }
      readyCounts.set(keyText(type), map);
    }
  }
  return { timestamp, pending, readyCounts };
}
