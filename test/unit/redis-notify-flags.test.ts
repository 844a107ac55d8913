// Merging the list-event classes into notify-keyspace-events without dropping anyone else's flags,
// and reading the queue back from the key a push notification names.
import { describe, expect, it } from 'vitest';
import { parseReadyListKey, queueKey } from '../../src/mediawiki/queue-keys.js';
import {
  ensureNotifications,
  LIST_EVENTS,
  mergeNotifyFlags,
  ZSET_EVENTS,
} from '../../src/redis/notify-flags.js';

describe('mergeNotifyFlags', () => {
  it('adds E and l to an empty value', () => {
    expect(mergeNotifyFlags('')).toBe('El');
  });
  it('keeps flags others rely on', () => {
    expect(mergeNotifyFlags('Kx')).toBe('KxEl');
    expect(mergeNotifyFlags('gxE')).toBe('gxEl');
    expect(mergeNotifyFlags('lK')).toBe('lKE');
  });
  it('changes nothing when list keyevents are already on (A includes l)', () => {
    expect(mergeNotifyFlags('El')).toBeNull();
    expect(mergeNotifyFlags('AKE')).toBeNull();
    expect(mergeNotifyFlags('A')).toBe('AE');
  });
});

describe('mergeNotifyFlags for jobchron (sorted sets)', () => {
  it('adds E and z, keeping the list flags the runner set', () => {
    expect(mergeNotifyFlags('', ZSET_EVENTS)).toBe('Ez');
    expect(mergeNotifyFlags('lE', ZSET_EVENTS)).toBe('lEz');
    expect(mergeNotifyFlags('AE', ZSET_EVENTS)).toBeNull();
    expect(mergeNotifyFlags('Ez', ZSET_EVENTS)).toBeNull();
  });
});

describe('parseReadyListKey', () => {
  it('reads wiki ID and type back from any l-unclaimed key MediaWiki builds', () => {
    expect(parseReadyListKey('enwiki:jobqueue:refreshLinks:l-unclaimed')).toEqual({
      wiki: 'enwiki',
      type: 'refreshLinks',
    });
    const odd = { wiki: 'wiki+é', type: 'a;b$(x)\'" c/d é:x' };
    expect(parseReadyListKey(queueKey(odd.type, odd.wiki, 'l-unclaimed'))).toEqual(odd);
    expect(parseReadyListKey(queueKey('null', 'db-mediawiki-pre', 'l-unclaimed'))).toEqual({
      wiki: 'db-pre',
      type: 'null',
    });
  });
  it('returns null for other keys and undecodable parts', () => {
    expect(parseReadyListKey('enwiki:jobqueue:refreshLinks:z-delayed')).toBeNull();
    expect(parseReadyListKey('some:other:list')).toBeNull();
    expect(parseReadyListKey('a:b:jobqueue:t:l-unclaimed')).toBeNull();
    expect(parseReadyListKey('%FF%FE:jobqueue:t:l-unclaimed')).toBeNull();
  });
});

describe('ensureNotifications', () => {
  /** A server whose CONFIG GET answers only once both daemons have read: the race at start-up. */
  function racingServer(initial: string) {
    let value = initial;
    let reads = 0;
    let release: () => void = () => undefined;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    const client = {
      config: async (op: string, _name: string, next?: string) => {
        if (op === 'SET') {
          value = next ?? '';
          return 'OK';
        }
        const seen = value;
        reads += 1;
        if (reads === 2) release();
        await bothRead;
        return ['notify-keyspace-events', seen];
      },
    } as unknown as Parameters<typeof ensureNotifications>[0];
    return { client, value: () => value };
  }

  it('a runner and a jobchron that read the flags at the same moment keep both classes', async () => {
    const server = racingServer('Kx');
    await Promise.all([
      ensureNotifications(server.client, LIST_EVENTS),
      ensureNotifications(server.client, ZSET_EVENTS),
    ]);
    for (const flag of ['K', 'x', 'E', 'l', 'z']) expect(server.value()).toContain(flag);
  });

  it('changes nothing when the needed classes are already there', async () => {
    const server = racingServer('AE');
    const [a, b] = await Promise.all([
      ensureNotifications(server.client, LIST_EVENTS),
      ensureNotifications(server.client, ZSET_EVENTS),
    ]);
    expect([a.now, b.now, server.value()]).toEqual(['AE', 'AE', 'AE']);
  });
});
