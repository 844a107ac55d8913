// backend kafka dedup claims against a real redis-server: claimed before the run, given back on
// failure, kept as records on success, and a dead runner's claims not counted.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { Deduplicator, type ClaimResult } from '../../src/kafka/dedup.js';
import { idKeyState } from '../../src/kafka/dedup-state.js';
import { waitReady } from '../../src/redis/connection.js';
import type { JobEventView } from '../../src/kafka/job-event.js';
import { quietLogger } from './kafka-support.js';

let server: RedisServerHandle;
let client: Redis;
const deduplicators: Deduplicator[] = [];
const cleanupLate: Redis[] = [];
const config = {
  enabled: true,
  prefix: 'T',
  idWindowSeconds: 3600,
  sha1WindowSeconds: 3600,
  rootWindowSeconds: 86400,
};

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis({ host: server.host, port: server.port });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(deduplicators.map((d) => d.stop()));
  for (const late of cleanupLate) late.disconnect();
  client?.disconnect();
  await server?.stop();
});

async function dedup(): Promise<Deduplicator> {
  const d = new Deduplicator(client, config, quietLogger());
  deduplicators.push(d);
  await d.start(`test-${deduplicators.length}`, 30_000, 5000);
  return d;
}

const T0 = Date.parse('2030-01-01T00:00:00Z');

/** The script's answer for one claim: 'w' (held by another live process), a duplicate, '-' claimed. */
function kindOf(result: ClaimResult): string {
  if (result.heldElsewhere === true) return 'w';
  return result.duplicate ?? '-';
}

function event(over: Partial<JobEventView>): JobEventView {
  return {
    type: 't',
    database: 'wiki1',
    id: undefined,
    dtMs: T0,
    domain: undefined,
    stream: undefined,
    requestId: undefined,
    delayUntilMs: undefined,
    sha1: undefined,
    rootSignature: undefined,
    rootDtMs: undefined,
    rootDt: undefined,
    jobqueuePartition: undefined,
    ...over,
  };
}

describe('dedup claims', () => {
  it('a claimed sha1 makes older identical events duplicates; release gives it back; done keeps it', async () => {
    const d = await dedup();
    const a = event({ id: 'a', sha1: 's1' });
    const b = event({ id: 'b', sha1: 's1' });
    const first = await d.claim('r1', a, T0 + 5000, { isRetry: false });
    expect(first.duplicate).toBeUndefined();
    expect((await d.claim('r1', b, T0 + 5001, { isRetry: false })).duplicate).toBe('sha1');
    if (first.duplicate !== undefined) throw new Error('unreachable');
    await d.finish(first.claim, 'release');
    // Given back: b runs now, and a's ID is free again.
    const second = await d.claim('r1', b, T0 + 6000, { isRetry: false });
    expect(second.duplicate).toBeUndefined();
    if (second.duplicate !== undefined) throw new Error('unreachable');
    await d.finish(second.claim, 'done');
    await d.written();
    expect(await client.get('T_dedupe_r1_wiki1_s1')).toBe(String(T0 + 6000));
    expect(await idKeyState(client, 'T', 'T_dedupe_r1_wiki1_b')).toBe('ran');
    expect((await d.claim('r1', b, T0 + 7000, { isRetry: false })).duplicate).toBe('id');
    // An event made after that run started (within the 1 s of slack) runs again.
    expect(
      (await d.claim('r1', event({ id: 'c', sha1: 's1', dtMs: T0 + 5500 }), T0 + 8000, { isRetry: false }))
        .duplicate,
    ).toBeUndefined();
  });

  it('a retry ignores claims; claims of a runner that died (alive key gone) do not count', async () => {
    const first = await dedup();
    const second = await dedup();
    const e = event({ id: 'x', sha1: 's2', rootSignature: 'root', rootDtMs: T0 });
    expect((await first.claim('r2', e, T0 + 5000, { isRetry: false })).duplicate).toBeUndefined();
    // Live and not run: in flight at the other process, so wait ('w'), not a duplicate.
    expect(kindOf(await second.claim('r2', e, T0 + 6000, { isRetry: false }))).toBe('w');
    // A retry of the same event (its failed attempt's claim could not be given back) still runs.
    expect((await second.claim('r2', e, T0 + 6000, { isRetry: true })).duplicate).toBeUndefined();

    const dying = await dedup();
    const f = event({ id: 'z', sha1: 's3', rootSignature: 'root3', rootDtMs: T0 + 1 });
    expect((await dying.claim('r2', f, T0 + 5000, { isRetry: false })).duplicate).toBeUndefined();
    expect(kindOf(await second.claim('r2', f, T0 + 5000, { isRetry: false }))).toBe('w');
    await dying.stop(); // as after kill -9 once its alive key expired
    expect((await second.claim('r2', f, T0 + 6000, { isRetry: false })).duplicate).toBeUndefined();
  });

  it('a runner restarted with the same instance ID makes its previous process claims void at once', async () => {
    const before = new Deduplicator(client, config, quietLogger());
    deduplicators.push(before);
    await before.start('host-a', 30_000, 5000);
    const e = event({ id: 'k', sha1: 's9' });
    expect((await before.claim('r4', e, T0 + 5000, { isRetry: false })).duplicate).toBeUndefined();
    // kill -9: no stop(), the alive key is still there; the replacement starts with the same ID.
    const after = new Deduplicator(client, config, quietLogger());
    deduplicators.push(after);
    await after.start('host-a', 30_000, 5000);
    expect(await client.exists(before.aliveKey)).toBe(0);
    expect((await after.claim('r4', e, T0 + 6000, { isRetry: false })).duplicate).toBeUndefined();
  });

  it('a restarted runner whose Redis was not reachable at start takes over before its first claim', async () => {
    const before = new Deduplicator(client, config, quietLogger());
    deduplicators.push(before);
    await before.start('host-b', 30_000, 5000);
    const e = event({ id: 'late', sha1: 's10' });
    expect((await before.claim('r5', e, T0 + 5000, { isRetry: false })).duplicate).toBeUndefined();
    // The replacement's connection does not queue commands and is not connected yet at start
    // (as on a loaded machine, or with Redis down): the takeover fails there.
    const late = new Redis({
      host: server.host,
      port: server.port,
      lazyConnect: true,
      enableOfflineQueue: false,
    });
    const after = new Deduplicator(late, config, quietLogger());
    deduplicators.push(after);
    await after.start('host-b', 30_000, 50);
    expect(await client.exists(before.aliveKey)).toBe(1);
    cleanupLate.push(late);
    // Its failed first command started the connection; wait until it is up.
    expect(await waitReady(late, 10_000)).toBe(true);
    // The predecessor's claim must not make the event it had in flight a duplicate.
    expect((await after.claim('r5', e, T0 + 6000, { isRetry: false })).duplicate).toBeUndefined();
    expect(await client.exists(before.aliveKey)).toBe(0);
  });

  it("another live process's unrun ID claim: 'w' until it ran ('i') or its owner died (claimed)", async () => {
    const a = await dedup();
    const b = await dedup();
    const key = (id: string): string => `T_dedupe_r9_wiki1_${id}`;
    const ids = ['only-id', 'with-sha1'];
    const events = [event({ id: 'only-id' }), event({ id: 'with-sha1', sha1: 'w-s1' })];
    const claims = await Promise.all(events.map((e) => a.claim('r9', e, T0 + 5000, { isRetry: false })));
    const values = await Promise.all(ids.map((id) => client.get(key(id))));
    for (const e of events) {
      // B (another process) waits; nothing is written for it; A itself (same process) gets 'i'.
      expect(kindOf(await b.claim('r9', e, T0 + 6000, { isRetry: false }))).toBe('w');
      expect(kindOf(await a.claim('r9', e, T0 + 6000, { isRetry: false }))).toBe('id');
    }
    expect(await Promise.all(ids.map((id) => client.get(key(id))))).toEqual(values);
    // An older event with the same sha1 and another ID stays a sha1 duplicate of the live claim.
    const older = event({ id: 'older', sha1: 'w-s1', dtMs: T0 });
    expect(kindOf(await b.claim('r9', older, T0 + 6000, { isRetry: false }))).toBe('sha1');
    // A runs the first: its done record says so, and B's next ask is a duplicate.
    const first = claims[0];
    if (first === undefined || first.duplicate !== undefined) throw new Error('unreachable');
    await a.finish(first.claim, 'done');
    await a.written();
    expect(kindOf(await b.claim('r9', events[0] as JobEventView, T0 + 7000, { isRetry: false }))).toBe('id');
    // The second is still in flight at A; A dies (alive key gone, no finish): B claims and runs it.
    expect(kindOf(await b.claim('r9', events[1] as JobEventView, T0 + 7000, { isRetry: false }))).toBe('w');
    await client.del(a.aliveKey);
    const taken = await b.claim('r9', events[1] as JobEventView, T0 + 8000, { isRetry: false });
    expect(kindOf(taken)).toBe('-');
    if (taken.duplicate !== undefined) throw new Error('unreachable');
    expect(await client.get(key('with-sha1'))).toBe(`c:${b.incarnation}.${taken.claim?.seq}`);
  });

  it('a released claim is free for the process that waited; a retry never waits', async () => {
    const a = await dedup();
    const b = await dedup();
    const e = event({ id: 'handed', rootSignature: 'h-root', rootDtMs: T0 });
    const held = await a.claim('r10', e, T0 + 5000, { isRetry: false });
    if (held.duplicate !== undefined) throw new Error('unreachable');
    expect(kindOf(await b.claim('r10', e, T0 + 6000, { isRetry: false }))).toBe('w');
    // A retry counts only runs: it takes the live unrun claim over (the waiting runner's bound).
    const retry = await b.claim('r10', e, T0 + 6000, { isRetry: true });
    expect(kindOf(retry)).toBe('-');
    if (retry.duplicate !== undefined) throw new Error('unreachable');
    await b.finish(retry.claim, 'release');
    // A gives its claim back (as a runner does for an event whose partition moved): B claims it.
    const again = await a.claim('r10', e, T0 + 7000, { isRetry: false });
    if (again.duplicate !== undefined) throw new Error('unreachable');
    expect(kindOf(await b.claim('r10', e, T0 + 7000, { isRetry: false }))).toBe('w');
    await a.finish(again.claim, 'release');
    expect(kindOf(await b.claim('r10', e, T0 + 8000, { isRetry: false }))).toBe('-');
  });

  it('root claims: an older root leaf is a duplicate of a claimed newer one', async () => {
    const d = await dedup();
    const newer = event({ id: 'n', rootSignature: 'sig', rootDtMs: T0 + 60_000 });
    const older = event({ id: 'o', rootSignature: 'sig', rootDtMs: T0 });
    expect((await d.claim('r3', newer, T0 + 70_000, { isRetry: false })).duplicate).toBeUndefined();
    expect((await d.claim('r3', older, T0 + 70_001, { isRetry: false })).duplicate).toBe('root');
  });
  it('the finishes and claims of one event-loop turn are one script call, finishes first', async () => {
    const d = await dedup();
    const a = event({ id: 'ta', sha1: 'turn' });
    const b = event({ id: 'tb', sha1: 'turn' });
    const c = event({ id: 'tc', sha1: 'other' });
    const first = await d.claim('r5', a, T0 + 5000, { isRetry: false });
    if (first.duplicate !== undefined) throw new Error('a was taken for a duplicate');
    const evalCalls = async (): Promise<number> => {
      const stats = await client.info('commandstats');
      return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    };
    const before = await evalCalls();
    // Same turn: a's claim given back, b (same sha1, newer run start) and c claimed.
    const [, second, third] = await Promise.all([
      d.finish(first.claim, 'release'),
      d.claim('r5', b, T0 + 6000, { isRetry: false }),
      d.claim('r5', c, T0 + 6000, { isRetry: false }),
    ]);
    expect(await evalCalls()).toBe(before + 1);
    expect(second.duplicate).toBeUndefined();
    expect(third.duplicate).toBeUndefined();
    expect(await client.get('T_dedupe_r5_wiki1_ta')).toBeNull();
    expect(await client.get('T_dedupe_r5_wiki1_turn')).toMatch(
      new RegExp(`^${T0 + 6000}:${d.incarnation}\\.`),
    );
  });

  it('events with only an ID: one of several in a turn runs; release, done, retry and a dead claimer', async () => {
    const d = await dedup();
    const e = event({ id: 'only-id', domain: 'w.example' });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => d.claim('r6', e, T0 + 5000, { isRetry: false })),
    );
    expect(results.filter((r) => r.duplicate === undefined)).toHaveLength(1);
    expect(results.filter((r) => r.duplicate === 'id')).toHaveLength(9);
    const won = results.find((r) => r.duplicate === undefined);
    if (won === undefined || won.duplicate !== undefined) throw new Error('unreachable');
    expect(await client.get('T_dedupe_r6_w.example_only-id')).toBe(`c:${d.incarnation}.${won.claim?.seq}`);
    // A retry ignores the live claim and takes it over; released, the key is free again.
    const retry = await d.claim('r6', e, T0 + 6000, { isRetry: true });
    if (retry.duplicate !== undefined) throw new Error('the retry was taken for a duplicate');
    expect(await client.get('T_dedupe_r6_w.example_only-id')).toBe(`c:${d.incarnation}.${retry.claim?.seq}`);
    await d.finish(retry.claim, 'release');
    expect(await client.get('T_dedupe_r6_w.example_only-id')).toBeNull();
    // The first claim's own finish finds the key no longer its own and leaves it alone.
    await d.finish(won.claim, 'done');
    await d.written();
    expect(await client.get('T_dedupe_r6_w.example_only-id')).toBeNull();
    const again = await d.claim('r6', e, T0 + 7000, { isRetry: false });
    if (again.duplicate !== undefined) throw new Error('a released ID was taken for a duplicate');
    await d.finish(again.claim, 'done');
    await d.written();
    // The key keeps the claim; the runner's done record says it ran.
    expect(await client.get('T_dedupe_r6_w.example_only-id')).toBe(`c:${d.incarnation}.${again.claim?.seq}`);
    expect(await idKeyState(client, 'T', 'T_dedupe_r6_w.example_only-id')).toBe('ran');
    expect(await client.ttl('T_dedupe_r6_w.example_only-id')).toBeGreaterThan(3000);
    expect((await d.claim('r6', e, T0 + 8000, { isRetry: false })).duplicate).toBe('id');
    // A dead runner's claim is taken over by a live one.
    const dying = await dedup();
    const f = event({ id: 'orphan' });
    expect((await dying.claim('r6', f, T0, { isRetry: false })).duplicate).toBeUndefined();
    await dying.stop();
    const taken = await d.claim('r6', f, T0 + 1000, { isRetry: false });
    if (taken.duplicate !== undefined) throw new Error("a dead runner's claim counted");
    expect(await client.get('T_dedupe_r6_wiki1_orphan')).toBe(`c:${d.incarnation}.${taken.claim?.seq}`);
  });

  it('IDs, sha1s and domains with any characters make their exact keys', async () => {
    const d = await dedup();
    const odd = 'a "quoted" \\ back_slash\u0000nul é 日本 \ud800lone';
    const e = event({ id: odd, sha1: `s ${odd}`, domain: `d${odd}`, rootSignature: `r${odd}`, rootDtMs: T0 });
    const first = await d.claim('r7', e, T0 + 5000, { isRetry: false });
    if (first.duplicate !== undefined) throw new Error('unreachable');
    await d.finish(first.claim, 'done');
    await d.written();
    // As UTF-8 encoding writes them: the lone surrogate becomes U+FFFD.
    const fixed = (text: string): string => Buffer.from(text, 'utf8').toString('utf8');
    expect(await idKeyState(client, 'T', fixed(`T_dedupe_r7_d${odd}_${odd}`))).toBe('ran');
    expect(await client.get(fixed(`T_dedupe_r7_d${odd}_s ${odd}`))).toBe(String(T0 + 5000));
    expect(await client.get(fixed(`T_dedupe_r7_r${odd}`))).toBe(String(T0));
    expect((await d.claim('r7', e, T0 + 6000, { isRetry: false })).duplicate).toBe('id');
  });

  it("a dead runner's done record: what it ran stays a duplicate, what it had not run is taken over", async () => {
    const dying = await dedup();
    const ran = Array.from({ length: 5 }, (_, i) => event({ id: `ran-${i}` }));
    const running = Array.from({ length: 3 }, (_, i) => event({ id: `running-${i}` }));
    const claims = await Promise.all(
      [...ran, ...running].map((e) => dying.claim('r8', e, T0, { isRetry: false })),
    );
    // Out of order, as a runner finishes them: the last two that ran finish first.
    for (const i of [3, 4, 0, 1, 2]) {
      const c = claims[i];
      if (c === undefined || c.duplicate !== undefined) throw new Error('unreachable');
      await dying.finish(c.claim, 'done');
      await dying.written();
    }
    // Killed: its alive key gone, the three running events never finished.
    await client.del(dying.aliveKey);
    const key = (id: string): string => `T_dedupe_r8_wiki1_${id}`;
    for (const e of ran) expect(await idKeyState(client, 'T', key(e.id ?? ''))).toBe('ran');
    for (const e of running) expect(await idKeyState(client, 'T', key(e.id ?? ''))).toBe('abandoned');
    const live = await dedup();
    for (const e of ran) {
      expect((await live.claim('r8', e, T0 + 1000, { isRetry: false })).duplicate).toBe('id');
      // A retry counts runs too.
      expect((await live.claim('r8', e, T0 + 1000, { isRetry: true })).duplicate).toBe('id');
    }
    for (const e of running) {
      expect((await live.claim('r8', e, T0 + 1000, { isRetry: false })).duplicate).toBeUndefined();
      expect(await idKeyState(client, 'T', key(e.id ?? ''))).toBe('claimed');
    }
  });
});
