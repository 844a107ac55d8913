// Server-side filtering of s-queuesWithJobs for a runner that runs a finite set of job types.
// Members are PHP json_encode([type, domain]) (mediawiki-redis-queue.md §3.2), so every member of a
// type starts with the same bytes: `["<type as PHP encodes it>",`. An SSCAN with MATCH on that
// prefix makes Redis drop the other members before they are sent, so the runner parses only queues
// it can run. Redis still examines every member, so pages stay as small as without MATCH.

import { phpJsonEncodeStrings } from '../mediawiki/php-encoding.js';

/**
 * More types than this and the walk reads the set unfiltered: each type is one more pass of Redis
 * over the whole set, which costs Redis more than sending the members costs the runner.
 */
export const MAX_MATCH_TYPES = 4;

/** Escapes Redis glob metacharacters (`*`, `?`, `[`, `]`, `\`) so they match themselves. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** MATCH pattern for the members of one type, e.g. `\["refreshLinks",*` for refreshLinks. */
export function typeMatchPattern(type: string): string {
  const encoded = phpJsonEncodeStrings([type]); // ["<type>"]
  return `${escapeGlob(encoded.slice(0, -1))},*`;
}

/**
 * The MATCH patterns a reconciliation walk uses, one walk of the set each: one per type when the
 * runner's types are a short finite list, or [null] (one unfiltered walk) when a group includes
 * every type (`types` null) or the list is long. An empty list means no walk at all.
 */
export function walkPatterns(types: readonly string[] | null): readonly (string | null)[] {
  if (types === null || types.length > MAX_MATCH_TYPES) return [null];
  return [...new Set(types)].sort().map(typeMatchPattern);
}
