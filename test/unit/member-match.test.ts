import { describe, expect, it } from 'vitest';
import { makeQueueId } from '../../src/mediawiki/queue-keys.js';
import { escapeGlob, MAX_MATCH_TYPES, typeMatchPattern, walkPatterns } from '../../src/redis/member-match.js';
import { runnableTypes } from '../../src/runner/runnable-types.js';

/** Redis's glob matching for the subset the patterns use: `\x` literal, `*` any run. */
function globMatches(pattern: string, text: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') re += (pattern[++i] ?? '').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '*') re += '[\\s\\S]*';
    else if (c === '?' || c === '[') throw new Error(`unescaped ${c} in ${pattern}`);
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$').test(text);
}

describe('escapeGlob', () => {
  it('escapes every Redis glob metacharacter and nothing else', () => {
    expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
    expect(escapeGlob('refreshLinks.x-y_z')).toBe('refreshLinks.x-y_z');
  });
});

describe('typeMatchPattern', () => {
  it('is the escaped start of the PHP-encoded member', () => {
    expect(typeMatchPattern('refreshLinks')).toBe('\\["refreshLinks",*');
  });

  it.each(['refreshLinks', 'a*b', 'x[1]?', 'with/slash', 'back\\slash', 'quo"te', 'ünïcode', 'a,b'])(
    'matches the members of %s and no other type',
    (type) => {
      const pattern = typeMatchPattern(type);
      expect(globMatches(pattern, makeQueueId(type, 'enwiki'))).toBe(true);
      expect(globMatches(pattern, makeQueueId(type, 'x"],["y'))).toBe(true);
      for (const other of [`${type}x`, `x${type}`, type.slice(0, -1) || 'z', 'refreshLinks2']) {
        if (other !== type) expect(globMatches(pattern, makeQueueId(other, 'enwiki'))).toBe(false);
      }
    },
  );
});

describe('walkPatterns', () => {
  it('walks unfiltered for every type or for many types, once per type for a few', () => {
    expect(walkPatterns(null)).toEqual([null]);
    const many = Array.from({ length: MAX_MATCH_TYPES + 1 }, (_, i) => `t${i}`);
    expect(walkPatterns(many)).toEqual([null]);
    expect(walkPatterns(['b', 'a', 'b'])).toEqual(['\\["a",*', '\\["b",*']);
    expect(walkPatterns([])).toEqual([]);
  });
});

describe('runnableTypes', () => {
  const group = (include: string[], exclude: string[] = [], lowPriority: string[] = []) => ({
    name: 'g',
    runners: 1,
    include,
    exclude,
    lowPriority,
  });

  it('is null when any group includes every type', () => {
    expect(runnableTypes([group(['a']), group(['*'], ['b'])])).toBeNull();
  });

  it('is the union of includes and low-priority types, minus each group’s excludes', () => {
    expect(runnableTypes([group(['b', 'a'], ['a'], ['c']), group(['a', 'd'])])).toEqual(['a', 'b', 'c', 'd']);
    expect(runnableTypes([group(['a'], ['a'])])).toEqual([]);
    expect(runnableTypes([])).toEqual([]);
  });
});
