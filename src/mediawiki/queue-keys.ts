// Redis key names exactly as MediaWiki 1.39's JobQueueRedis builds them (reference:
// mediawiki-redis-queue.md §3). The original chron skipped rawurlencode and the
// domain → wiki ID step (its bug W27); everything here goes through these functions.
import { phpJsonEncodeStrings, rawurlencode } from './php-encoding.js';

export const QUEUES_WITH_JOBS_KEY = 'global:jobqueue:s-queuesWithJobs';
export const READY_QUEUES_HASH_KEY = 'jobqueue:aggregator:h-ready-queues:v2';

export type QueueProp =
  | 'l-unclaimed'
  | 'z-claimed'
  | 'z-abandoned'
  | 'z-delayed'
  | 'h-data'
  | 'h-attempts'
  | 'h-idBySha1'
  | 'h-sha1ById';

export const QUEUE_PROPS: readonly QueueProp[] = [
  'l-unclaimed',
  'z-claimed',
  'z-abandoned',
  'z-delayed',
  'h-data',
  'h-attempts',
  'h-idBySha1',
  'h-sha1ById',
];

/** One (wiki, type) queue as named in s-queuesWithJobs. */
export interface QueueRef {
  /** Job type, e.g. "refreshLinks". */
  readonly type: string;
  /** MediaWiki DB domain as stored in the queue ID (db, db-prefix, db-schema-prefix). */
  readonly domain: string;
  /** The exact member string of s-queuesWithJobs; passed back to Redis unchanged. */
  readonly queueId: string;
}

/**
 * Decodes a DatabaseDomain string into its parts. MediaWiki escapes '-' inside a part as '?h'
 * and '?' as '??', and joins db, schema and prefix with '-' (schema omitted when null).
 */
export function parseDbDomain(domain: string): { db: string; schema: string | null; prefix: string } {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < domain.length; i++) {
    const c = domain[i];
    if (c === '?' && i + 1 < domain.length) {
      const next = domain[i + 1];
      if (next === 'h') {
        current += '-';
        i++;
        continue;
      }
      if (next === '?') {
        current += '?';
        i++;
        continue;
      }
    }
    if (c === '-') {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  if (parts.length >= 3) {
    return { db: parts[0] ?? '', schema: parts[1] ?? null, prefix: parts.slice(2).join('-') };
  }
  if (parts.length === 2) {
    return { db: parts[0] ?? '', schema: null, prefix: parts[1] ?? '' };
  }
  return { db: parts[0] ?? '', schema: null, prefix: '' };
}

/**
 * WikiMap::getWikiIdFromDbDomain(): "db", "db-prefix", or "db-schema-prefix"; the schema is dropped
 * when it is null or "mediawiki" (the Postgres default).
 */
export function wikiIdFromDomain(domain: string): string {
  const { db, schema, prefix } = parseDbDomain(domain);
  if (schema !== null && schema !== 'mediawiki') return `${db}-${schema}-${prefix}`;
  return prefix !== '' ? `${db}-${prefix}` : db;
}

/** Key prefix "<wikiId>:jobqueue:<type>" with each part rawurlencoded. */
export function queueKeyPrefix(type: string, domain: string): string {
  return [wikiIdFromDomain(domain), 'jobqueue', type].map(rawurlencode).join(':');
}

/** One per-queue key, e.g. queueKey('refreshLinks', 'enwiki', 'l-unclaimed'). */
export function queueKey(type: string, domain: string, prop: QueueProp): string {
  return queueKeyPrefix(type, domain) + ':' + rawurlencode(prop);
}

/**
 * The (wiki ID, type) of a queue's `l-unclaimed` key, as MediaWiki builds it; null for any other
 * key or one whose parts are not rawurlencoded UTF-8.
 */
export function parseReadyListKey(key: string): { wiki: string; type: string } | null {
  const parts = key.split(':');
  if (parts.length !== 4 || parts[1] !== 'jobqueue' || parts[3] !== 'l-unclaimed') return null;
  try {
    const wiki = decodeURIComponent(parts[0] as string);
    const type = decodeURIComponent(parts[2] as string);
    return wiki !== '' && type !== '' ? { wiki, type } : null;
  } catch {
    return null;
  }
}

/**
 * The parts of any per-queue key MediaWiki builds ("<wikiId>:jobqueue:<type>:<prop>", each part
 * rawurlencoded): the decoded wiki ID and type, the property and the key prefix; null otherwise.
 */
export function parseQueueKeyName(
  key: string,
): { wiki: string; type: string; prop: string; prefix: string } | null {
  const parts = key.split(':');
  if (parts.length !== 4 || parts[1] !== 'jobqueue') return null;
  try {
    const wiki = decodeURIComponent(parts[0] as string);
    const type = decodeURIComponent(parts[2] as string);
    if (wiki === '' || type === '') return null;
    return { wiki, type, prop: parts[3] as string, prefix: key.slice(0, key.lastIndexOf(':')) };
  } catch {
    return null;
  }
}

/** All eight per-queue keys, by property. */
export function queueKeys(type: string, domain: string): Record<QueueProp, string> {
  return queueKeysFromPrefix(queueKeyPrefix(type, domain));
}

/** All eight per-queue keys of the queue whose key prefix is `prefix`. */
export function queueKeysFromPrefix(prefix: string): Record<QueueProp, string> {
  const keys = {} as Record<QueueProp, string>;
  for (const prop of QUEUE_PROPS) keys[prop] = `${prefix}:${prop}`;
  return keys;
}

/** The s-queuesWithJobs member MediaWiki writes: PHP json_encode([type, domain]). */
export function makeQueueId(type: string, domain: string): string {
  return phpJsonEncodeStrings([type, domain]);
}

/** Decodes an s-queuesWithJobs member; null when it is not a JSON [type, domain] pair of strings. */
export function parseQueueId(queueId: string): QueueRef | null {
  let decoded: unknown;
  try {
    decoded = JSON.parse(queueId);
  } catch {
    return null;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) return null;
  const [type, domain] = decoded as unknown[];
  if (typeof type !== 'string' || typeof domain !== 'string' || type === '' || domain === '') return null;
  return { type, domain, queueId };
}

/** Field of the ready-queue hash: rawurlencode(type)/rawurlencode(domain). */
export function readyHashField(type: string, domain: string): string {
  return `${rawurlencode(type)}/${rawurlencode(domain)}`;
}

/** Root-job dedup key on the queue's own Redis (1.39: makeGlobalKey escaping of % and :). */
export function rootJobKey(domain: string, type: string, signature: string): string {
  const escape = (part: string) => part.replace(/%/g, '%25').replace(/:/g, '%3A');
  return ['global', 'jobqueue', domain, type, 'rootjob', signature].map(escape).join(':');
}
