// The pure parts of the migration and legacy backend (no servers): conversions between a job-table
// row, a Redis blob and a mediawiki/job event; the registry format; dedup rules; checkpoint, rate
// limiter and progress line. The end-to-end behaviour is in migrate-*.test.ts / legacy-*.test.ts.
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signEventJson } from '../../src/kafka/job-event-builder.js';
import { phpJsonEncode } from '../../src/kafka/php-json-encode.js';
import {
  decodeRegistry,
  encodeRegistry,
  registryFromCounts,
  RegistryFormatError,
} from '../../src/legacy/registry-format.js';
import { unixToTsMw } from '../../src/legacy/mw-timestamp.js';
import type { JobRow } from '../../src/legacy/job-table-client.js';
import { PhpArray, PhpFloat, phpSerialize } from '../../src/mediawiki/php-serialize.js';
import { encodeJobBlob } from '../../src/mediawiki/job-blob.js';
import { CheckpointWriter, loadCheckpoint } from '../../src/migrate/checkpoint.js';
import { jobToRow, rowId, rowToJob, type RowContext } from '../../src/migrate/convert/db-row.js';
import { ignoresDuplicates } from '../../src/migrate/convert/dedup-rules.js';
import { eventToJob, jobToEvent } from '../../src/migrate/convert/job-event.js';
import { blobToJob, jobToBlobFields } from '../../src/migrate/convert/redis-blob.js';
import {
  contentHash,
  CorruptJobError,
  dashedUuid,
  idFromEventId,
  stableId,
  type MigratedJob,
} from '../../src/migrate/job.js';
import { phpJsonDecode } from '../../src/migrate/php-json-decode.js';
import { LineProgress } from '../../src/migrate/progress.js';
import { RateLimiter } from '../../src/migrate/rate-limiter.js';

const NOW = 1795829900;
const ctx: RowContext = { wiki: 'wiki1', now: NOW, claimTTL: () => 3600, maxAttempts: () => 3 };

function row(overrides: Partial<JobRow> = {}): JobRow {
  const params = PhpArray.from([
    ['table', 'templatelinks'],
    ['recursive', true],
    ['rootJobSignature', 'f628445490e657a3bbd1d4d62a6447bcc215899c'],
    ['rootJobTimestamp', '20261128013736'],
    ['pages', PhpArray.from([[202, PhpArray.list([0, 'Foo'])]])],
    ['ratio', new PhpFloat(1.5)],
    ['requestId', '4729d0555932cbfe74a14b17'],
  ]);
  return {
    id: 42,
    cmd: 'htmlCacheUpdate',
    namespace: 10,
    title: 'Box',
    timestamp: '20261128013736',
    params: phpSerialize(params),
    random: 7,
    attempts: 0,
    token: '',
    tokenTimestamp: null,
    sha1: '0jq6bdxa5evogki924xi033iiodmadf',
    ...overrides,
  };
}

function job(outcome: ReturnType<typeof rowToJob>): MigratedJob {
  if (!('job' in outcome)) throw new Error(`skipped: ${outcome.skip}`);
  return outcome.job;
}

describe('conversions', () => {
  it('row → blob → event → job keeps the content, the ID, the dedup hash and PHP types', () => {
    const fromRow = job(rowToJob(row(), ctx));
    expect(fromRow.id).toBe(rowId('wiki1', row()));
    expect(fromRow.id).toMatch(/^[0-9a-f]{12}5[0-9a-f]{3}[89ab][0-9a-f]{15}$/); // name-based UUID layout
    expect(fromRow).toMatchObject({
      type: 'htmlCacheUpdate',
      enqueueTimestamp: 1795829856,
      sha1: '0jq6bdxa5evogki924xi033iiodmadf',
      state: 'ready',
    });

    const blob = encodeJobBlob(jobToBlobFields(fromRow));
    const fromBlob = blobToJob(
      { id: fromRow.id, state: 'unclaimed', score: null, attempts: 0, blob },
      { wiki: 'wiki1', type: 'htmlCacheUpdate', now: NOW, claimTTL: () => 3600 },
    );
    expect('job' in fromBlob && contentHash(fromBlob.job)).toBe(contentHash(fromRow));

    const event = jobToEvent(fromRow, { secretKey: 'k'.repeat(32) });
    const text = event.toString('utf8');
    expect(text).toMatch(
      /^\{"\$schema":"\/mediawiki\/job\/1\.0\.0","meta":\{"uri":"[^"]+","request_id":"4729d0555932cbfe74a14b17","id":"[0-9a-f-]{36}","dt":"2026-11-28T01:37:36Z","domain":"wiki1","stream":"mediawiki\.job\.htmlCacheUpdate"\},"database":"wiki1","type":"htmlCacheUpdate","sha1":"f?[0-9a-f]{40}","root_event":\{"signature":"f628445490e657a3bbd1d4d62a6447bcc215899c","dt":"2026-11-28T01:37:36Z"\},"params":\{/,
    );
    // Integer-like keys keep their place; floats are written as PHP writes them.
    expect(text).toContain('"pages":{"202":[0,"Foo"]},"ratio":1.5');
    const fromEvent = eventToJob(event, NOW);
    expect(fromEvent.id).toBe(fromRow.id);
    expect(fromEvent.sha1).toBe(fromRow.sha1);
    expect(fromEvent.params.get('ratio')).toBeInstanceOf(PhpFloat);
    expect([...fromEvent.params.keys()]).toEqual([...fromRow.params.keys(), 'namespace', 'title']);
    expect(contentHash(fromEvent)).toBe(contentHash(fromRow));
    // As with EventBus, a zero-fraction float reaches the job as an int (json_encode writes 1.0 as 1).
    const whole = { ...fromRow, params: PhpArray.from([['ratio', new PhpFloat(1)]]) };
    expect(eventToJob(jobToEvent(whole), NOW).params.get('ratio')).toBe(1);
  });

  it('signs events so a verifier that re-encodes the decoded body (as EventBus does) agrees', () => {
    const event = jobToEvent(job(rowToJob(row(), ctx)), { secretKey: 's'.repeat(32) });
    const decoded = phpJsonDecode(event.toString('utf8')) as PhpArray;
    const signature = decoded.get('mediawiki_signature');
    decoded.delete('mediawiki_signature');
    expect(signature).toBe(signEventJson(phpJsonEncode(decoded), 's'.repeat(32)));
  });

  it('row → job → row gives the row MediaWiki would have written', () => {
    const fromRow = job(rowToJob(row(), ctx));
    const back = jobToRow(fromRow);
    expect(back).toMatchObject({
      cmd: 'htmlCacheUpdate',
      namespace: 10,
      title: 'Box',
      timestamp: '20261128013736',
      token: '',
      tokenTimestamp: null,
      sha1: row().sha1,
    });
    expect(back.params.equals(row().params)).toBe(true);
    // Delayed jobs: release time from params, as MediaWiki's getReleaseTimestamp().
    const delayed = eventToJob(jobToEvent({ ...fromRow, releaseTimestamp: NOW + 600 }), NOW);
    expect(delayed).toMatchObject({ state: 'delayed', releaseTimestamp: NOW + 600 });
  });

  it('classifies claims: fresh ones stay, stale ones move as ready with their attempts, used-up ones are abandoned', () => {
    const claimed = (age: number, attempts: number) =>
      rowToJob(row({ token: 'a'.repeat(32), tokenTimestamp: unixToTsMw(NOW - age), attempts }), ctx);
    expect(claimed(60, 1)).toEqual({
      skip: expect.stringMatching(/^claimed 60 s ago and may be running \(claimTTL 3600 s\)/),
    });
    expect(job(claimed(4000, 1))).toMatchObject({ state: 'ready', attempts: 1 });
    expect(job(claimed(60, 3))).toMatchObject({ state: 'abandoned', attempts: 3, claimedAt: NOW - 60 });
    const abandoned = jobToRow(job(claimed(60, 3)));
    expect(abandoned).toMatchObject({ attempts: 3, tokenTimestamp: unixToTsMw(NOW - 60) });
    expect(abandoned.token).toMatch(/^[0-9a-f]{32}$/);
  });

  it('names what is wrong with corrupt records', () => {
    expect(() => rowToJob(row({ params: Buffer.from('a:1:{s:1:"x";') }), ctx)).toThrow(CorruptJobError);
    expect(() => rowToJob(row({ params: Buffer.from('s:3:"abc";') }), ctx)).toThrow(/not a serialized array/);
    expect(() => rowToJob(row({ cmd: Buffer.from([0xff]) }), ctx)).toThrow(/job_cmd is empty or not UTF-8/);
    expect(() => eventToJob(Buffer.from('{"type":"x"}'), NOW)).toThrow(/missing or empty 'database'/);
    expect(() => eventToJob(Buffer.from([0x7b, 0xff, 0x7d]), NOW)).toThrow(/not valid UTF-8/);
    expect(() =>
      blobToJob(
        { id: 'f'.repeat(32), state: 'unclaimed', score: null, attempts: 0, blob: null },
        { wiki: 'w', type: 't', now: NOW, claimTTL: () => 1 },
      ),
    ).toThrow(/h-data has no entry/);
  });

  it('keeps IDs across backends: 32 hex ↔ dashed meta.id', () => {
    const id = stableId('wiki1/job/1/x');
    expect(idFromEventId(dashedUuid(id))).toBe(id);
    expect(idFromEventId('not-a-uuid')).toBe(stableId('event:not-a-uuid'));
  });
});

describe('json_decode as PHP does it', () => {
  it('keeps key order, ints, floats and escapes', () => {
    const value = phpJsonDecode(
      '{"b":1,"202":2.5,"a":[1,{"x":null}],"e":"\\u00e9\\n","big":9223372036854775808,"neg":-3}',
    ) as PhpArray;
    expect([...value.keys()]).toEqual(['b', 202, 'a', 'e', 'big', 'neg']);
    expect(value.get(202)).toEqual(new PhpFloat(2.5));
    expect(value.get('e')).toBe('é\n');
    expect(value.get('big')).toBeInstanceOf(PhpFloat);
    expect(value.get('neg')).toBe(-3);
    expect(() => phpJsonDecode('{"a":1,}')).toThrow(/expected a string key/);
  });
});

describe('dedup rules for job-table rows', () => {
  it('follows the core job classes', () => {
    const p = (entries: [string, unknown][]) => PhpArray.from(entries as [string, never][]);
    expect(ignoresDuplicates('recentChangesUpdate', p([]))).toBe(true);
    expect(ignoresDuplicates('htmlCacheUpdate', p([['pages', PhpArray.from([[1, 'x']])]]))).toBe(true);
    expect(
      ignoresDuplicates(
        'htmlCacheUpdate',
        p([
          [
            'pages',
            PhpArray.from([
              [1, 'x'],
              [2, 'y'],
            ]),
          ],
        ]),
      ),
    ).toBe(false);
    expect(ignoresDuplicates('refreshLinks', p([['range', 'x']]))).toBe(false);
    expect(ignoresDuplicates('null', p([['removeDuplicates', true]]))).toBe(true);
    expect(ignoresDuplicates('someExtensionJob', p([]))).toBe(false);
    expect(ignoresDuplicates('someExtensionJob', p([]), new Set(['someExtensionJob']))).toBe(true);
    expect(job(rowToJob(row({ cmd: 'cdnPurge' }), ctx)).sha1).toBe('');
  });
});

describe('legacy registry format', () => {
  it('round-trips and reads a value MediaWiki stored (no counts)', () => {
    const registry = registryFromCounts(
      [
        { type: 'refreshLinks', wiki: 'enwiki', ready: 3 },
        { type: 'refreshLinks', wiki: '123', ready: 1 },
        { type: 'null', wiki: 'enwiki', ready: 0 },
      ],
      1795829823,
    );
    const bytes = encodeRegistry(registry);
    expect(bytes.toString()).toBe(
      'a:3:{s:10:"pendingDBs";a:1:{s:12:"refreshLinks";a:2:{i:0;s:6:"enwiki";i:1;s:3:"123";}}s:9:"timestamp";i:1795829823;s:11:"readyCounts";a:1:{s:12:"refreshLinks";a:2:{s:6:"enwiki";i:3;i:123;i:1;}}}',
    );
    const back = decodeRegistry(bytes, 1);
    expect(back.pending.get('refreshLinks')).toEqual(['enwiki', '123']);
    expect(back.readyCounts?.get('refreshLinks')?.get('123')).toBe(1);
    const mw = decodeRegistry(
      Buffer.from('a:2:{s:10:"pendingDBs";a:1:{s:4:"null";a:1:{i:0;s:5:"wiki2";}}s:9:"timestamp";i:5;}'),
      1,
    );
    expect(mw).toEqual({ timestamp: 5, pending: new Map([['null', ['wiki2']]]), readyCounts: null });
    expect(() => decodeRegistry(Buffer.from('x'), 0)).toThrow(RegistryFormatError);
  });
});

describe('checkpoint, rate limiter, progress', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-migrate-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a checkpoint whose last line was torn by a kill', () => {
    const file = join(dir, 'cp');
    const writer = new CheckpointWriter(file, {
      t: 'header',
      version: 1,
      runId: 'r',
      from: 'redis',
      to: 'kafka',
      wikis: [],
      types: [],
      createdAt: 'x',
    });
    writer.copied('w\tt', ['a', 'b']);
    writer.mark('dc.mediawiki.job.t', { '0': '5' });
    writer.close();
    appendFileSync(file, '{"t":"copied","q":"w\\tt","ids":["c"');
    const state = loadCheckpoint(file);
    expect([...(state?.copied.get('w\tt') ?? [])]).toEqual(['a', 'b']);
    expect(state?.marks.get('dc.mediawiki.job.t')).toEqual({ '0': '5' });
    expect(state?.done).toBe(false);
    writeFileSync(join(dir, 'bad'), 'hello\n{}\n');
    expect(() => loadCheckpoint(join(dir, 'bad'))).toThrow(/not a checkpoint record/);
  });

  it('spreads writes at the given rate', async () => {
    let now = 0;
    const slept: number[] = [];
    const limiter = new RateLimiter(
      100,
      () => now,
      async (ms) => {
        slept.push(ms);
        now += ms;
      },
    );
    expect(limiter.chunkSize(1000)).toBe(25);
    for (let i = 0; i < 4; i++) await limiter.take(25);
    expect(slept).toEqual([250, 250, 250]);
    expect(new RateLimiter(undefined).chunkSize(1000)).toBe(1000);
  });

  it('shows done/total, rate and ETA', () => {
    let now = 0;
    const out = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;
    const progress = new LineProgress(out, () => now);
    progress.start(1000);
    now = 2000;
    progress.advance(250, 'wiki1 null');
    expect(progress.line()).toBe(
      '[######..................] 250/1000 jobs  125 jobs/s  ETA 6s  copying wiki1 null',
    );
  });
});
