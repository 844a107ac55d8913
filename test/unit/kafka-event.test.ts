// mediawiki/job events: PHP-compatible JSON, EventBus field order and signature, reading events from
// raw bytes, and what each HTTP answer leads to.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { classify, reasonText } from '../../src/kafka/outcome.js';
import { JobEventError } from '../../src/kafka/errors.js';
import { parseDelayUntil, parseJobEvent } from '../../src/kafka/job-event.js';
import { buildJobEvent, isoSeconds } from '../../src/kafka/job-event-builder.js';
import { phpJsonEncode, PhpJsonError } from '../../src/kafka/php-json-encode.js';
import { PhpArray, PhpFloat } from '../../src/mediawiki/php-serialize.js';

describe('phpJsonEncode (json_encode with unescaped slashes and unicode)', () => {
  it('writes what PHP 8.2 writes', () => {
    // Expected strings were taken from `php -r 'echo json_encode(..., JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE);'`.
    expect(phpJsonEncode('a/b"\\\u0001\u001f\u007f\u2028é😀<>&\t\n')).toBe(
      '"a/b\\"\\\\\\u0001\\u001f\u007f\\u2028é😀<>&\\t\\n"',
    );
    expect(phpJsonEncode(new PhpFloat(1))).toBe('1');
    expect(phpJsonEncode(new PhpFloat(0.1))).toBe('0.1');
    expect(phpJsonEncode(new PhpFloat(1e25))).toBe('1.0e+25');
    expect(phpJsonEncode(new PhpFloat(1.5e-7))).toBe('1.5e-7');
    expect(phpJsonEncode(new PhpFloat(-0))).toBe('-0');
    const mixed = PhpArray.from([
      ['a', new PhpArray()],
      ['c', PhpArray.list([1, 2])],
      ['d', PhpArray.from([[1, 1]])],
    ]);
    expect(phpJsonEncode(mixed)).toBe('{"a":[],"c":[1,2],"d":{"1":1}}');
    expect(
      phpJsonEncode(
        PhpArray.from([
          ['b', 1],
          ['10', 2],
        ]),
      ),
    ).toBe('{"b":1,"10":2}');
  });

  it('refuses what json_encode cannot encode', () => {
    expect(() => phpJsonEncode(new PhpFloat(Infinity))).toThrow(PhpJsonError);
    expect(() => phpJsonEncode(Buffer.from([0xff]))).toThrow(PhpJsonError);
    expect(() => phpJsonEncode('\ud800')).toThrow(PhpJsonError);
  });
});

describe('buildJobEvent', () => {
  const now = new Date('2030-05-01T12:00:00.750Z');

  it('writes EventBus fields in EventBus order and signs the compact JSON', () => {
    const built = buildJobEvent(
      {
        type: 'refreshLinks',
        database: 'enwiki',
        domain: 'en.wikipedia.org',
        params: { namespace: 0, title: 'Foo' },
        releaseTimestamp: Date.parse('2030-05-01T12:05:00Z') / 1000,
        removeDuplicates: true,
        rootJobKey: 'refreshlinks:Template:X',
        id: '11111111-2222-4333-8444-555555555555',
        requestId: 'req-1',
      },
      { secretKey: 'secret', now },
    );
    const text = built.bytes.toString('utf8');
    const event = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(event)).toEqual([
      '$schema',
      'meta',
      'database',
      'type',
      'delay_until',
      'sha1',
      'root_event',
      'params',
      'mediawiki_signature',
    ]);
    expect(event.meta).toEqual({
      uri: 'https://placeholder.invalid/wiki/Special:Badtitle',
      request_id: 'req-1',
      id: '11111111-2222-4333-8444-555555555555',
      dt: '2030-05-01T12:00:00Z',
      domain: 'en.wikipedia.org',
      stream: 'mediawiki.job.refreshLinks',
    });
    expect(event.delay_until).toBe('2030-05-01T12:05:00Z');
    expect(event.sha1).toMatch(/^[0-9a-f]{40}$/);
    expect(event.root_event).toEqual({
      signature: createHash('sha1').update('refreshlinks:Template:X').digest('hex'),
      dt: '2030-05-01T12:00:00Z',
    });
    const unsigned = text.replace(/,"mediawiki_signature":"[0-9a-f]{40}"\}$/, '}');
    expect(event.mediawiki_signature).toBe(createHmac('sha1', 'secret').update(unsigned).digest('hex'));
    expect(built.stream).toBe('mediawiki.job.refreshLinks');
  });

  it('has no signature without a key, and refuses bad specs', () => {
    const built = buildJobEvent({ type: 'null', database: 'wiki1' }, { now });
    expect(built.bytes.toString('utf8')).not.toContain('mediawiki_signature');
    expect(() => buildJobEvent({ type: '', database: 'wiki1' })).toThrow('job type');
    expect(() => buildJobEvent({ type: 'a b', database: 'wiki1' })).toThrow('job type');
    expect(() => buildJobEvent({ type: 'null', database: '' })).toThrow('database');
  });

  it('writes ISO-8601 seconds like wfTimestamp(TS_ISO_8601)', () => {
    expect(isoSeconds(Date.parse('2030-01-02T03:04:05.999Z'))).toBe('2030-01-02T03:04:05Z');
  });
});

describe('parseJobEvent', () => {
  it('reads the fields the runner decides on', () => {
    const built = buildJobEvent(
      { type: 'htmlCacheUpdate', database: 'wiki1', rootJobKey: 'k', removeDuplicates: true },
      { now: new Date('2030-01-01T00:00:00Z') },
    );
    const view = parseJobEvent(built.bytes);
    expect(view).toMatchObject({
      type: 'htmlCacheUpdate',
      database: 'wiki1',
      id: built.id,
      dtMs: Date.parse('2030-01-01T00:00:00Z'),
      domain: 'wiki1',
      stream: 'mediawiki.job.htmlCacheUpdate',
      rootDt: '2030-01-01T00:00:00Z',
      delayUntilMs: undefined,
    });
    expect(view.sha1).toMatch(/^[0-9a-f]{40}$/);
  });

  it('says what is wrong with a message it cannot run', () => {
    const bad = (text: string) => () => parseJobEvent(Buffer.from(text));
    expect(() => parseJobEvent(undefined)).toThrow('empty message');
    expect(bad('[1]')).toThrow('not a JSON object');
    expect(bad('{"database":"w","params":{}}')).toThrow("missing or empty 'type'");
    expect(bad('{"type":"t","database":"w"}')).toThrow("missing 'params' object");
    expect(bad('{"type":"t","database":"w","params":[1]}')).toThrow(JobEventError);
    expect(parseJobEvent(Buffer.from('{"type":"t","database":"w","params":[]}')).type).toBe('t');
  });

  it('accepts ISO-8601 and old UNIX-second delay_until, and rejects anything else', () => {
    expect(parseDelayUntil('2030-01-01T00:00:00Z')).toBe(Date.parse('2030-01-01T00:00:00Z'));
    expect(parseDelayUntil(1_900_000_000)).toBe(1_900_000_000_000);
    expect(parseDelayUntil('1900000000')).toBe(1_900_000_000_000);
    expect(parseDelayUntil(undefined)).toBeUndefined();
    expect(() => parseDelayUntil('tomorrow')).toThrow('neither ISO-8601 nor UNIX seconds');
    expect(() => parseDelayUntil(true)).toThrow(JobEventError);
  });
});

describe('classify', () => {
  const response = (status: number, readonly = false, body = '') =>
    ({ kind: 'response', status, readonly, body, headers: {} }) as const;
  const rules = { ignoreStatus: [412], retriesLeft: 2 };

  it('maps answers to done, ignored, retry, read-only retry and error', () => {
    expect(classify(response(200), rules)).toEqual({ kind: 'ok' });
    expect(classify(response(204), rules)).toEqual({ kind: 'ok' });
    expect(classify(response(412), rules)).toEqual({ kind: 'ignored', status: 412 });
    expect(classify(response(503), rules)).toMatchObject({ kind: 'retry', status: 503 });
    expect(classify(response(500, true), { ...rules, retriesLeft: 0 })).toMatchObject({ kind: 'readonly' });
    expect(classify(response(500), { ...rules, retriesLeft: 0 })).toMatchObject({
      kind: 'error',
      reason: 'HTTP 500 (no retries left)',
    });
    expect(classify(response(404, false, 'no such wiki'), rules)).toEqual({
      kind: 'error',
      status: 404,
      reason: 'HTTP 404: no such wiki',
    });
    expect(classify(response(302), rules)).toMatchObject({ kind: 'error' });
    expect(classify({ kind: 'timeout', message: 'no response within 5 ms' }, rules)).toMatchObject({
      kind: 'retry',
      status: 0,
    });
    expect(classify({ kind: 'error', message: 'ECONNREFUSED' }, { ...rules, retriesLeft: 0 })).toMatchObject({
      kind: 'error',
      status: 0,
    });
  });

  it("handles both executors' codes: EventBus REST 423 read-only, 501 disabled, 400/403/415/422", () => {
    // 423 (EventBus: wiki read-only) is retried without using up an attempt, even with none left.
    expect(classify(response(423), { ...rules, retriesLeft: 0 })).toMatchObject({ kind: 'readonly' });
    // 501 ($wgEventBusEnableRunJobAPI off): retrying cannot help; straight to the error topic.
    expect(classify(response(501), rules)).toMatchObject({ kind: 'error', status: 501 });
    for (const status of [400, 403, 415, 422]) {
      expect(classify(response(status), rules)).toMatchObject({ kind: 'error', status });
    }
    // EventBus REST 500 (job failed) and WMF RunSingleJob.php 500 (e.g. unknown wiki): retried.
    expect(classify(response(500, false, '{"message":"Internal Server Error"}'), rules)).toMatchObject({
      kind: 'retry',
    });
  });

  it('turns HTML error pages into one line', () => {
    expect(
      reasonText(500, '<html><head><title>Internal error - Wiki</title></head><body>x</body></html>'),
    ).toBe('HTTP 500: Internal error - Wiki');
    expect(reasonText(500, 'a\n  b')).toBe('HTTP 500: a b');
  });
});
