// The intake's byte slicing: each event of a request body exactly as the client wrote it.
import { describe, expect, it } from 'vitest';
import { eventSlices } from '../../src/intake/event-slices.js';
import { validateJobEvent } from '../../src/intake/validate-event.js';

const text = (body: string) => eventSlices(Buffer.from(body, 'utf8')).slices.map((b) => b.toString('utf8'));

describe('eventSlices', () => {
  it('returns each array element byte for byte, never re-serialized', () => {
    const a = '{"params":{"pages":{"12":[0,"Foo"],"7":[0,"Bar"]},"x":1.0,"e":[],"o":{}}}';
    const b = '{"s":"a \\"quoted\\" ] } [ { , string","t":"\\\\"}';
    expect(text(`[${a},${b}]`)).toEqual([a, b]);
    expect(text(` \n[ ${a} ,\n\t${b} ]\n`)).toEqual([a, b]);
    expect(text(`[1, "two", null, true, [3, [4]], {"k": -2.5e3}]`)).toEqual([
      '1',
      '"two"',
      'null',
      'true',
      '[3, [4]]',
      '{"k": -2.5e3}',
    ]);
    expect(text('[]')).toEqual([]);
    expect(eventSlices(Buffer.from(`  ${a}  `)).isArray).toBe(false);
    expect(text(`  ${a}  `)).toEqual([a]);
    // Multi-byte UTF-8 is sliced on byte positions.
    const u = '{"t":"ünï😀"}';
    expect(text(`[${u},${u}]`)).toEqual([u, u]);
    // JSON.stringify would have reordered the number-like keys: the slice keeps them.
    expect(JSON.stringify(JSON.parse(a))).not.toBe(a);
  });
});

describe('validateJobEvent', () => {
  const good = {
    $schema: '/mediawiki/job/1.0.0',
    meta: {
      dt: '2030-01-01T00:00:00Z',
      stream: 'mediawiki.job.refreshLinks',
      id: 'x',
      domain: 'en.wikipedia.org',
    },
    database: 'enwiki',
    type: 'refreshLinks',
    params: { jobqueue_partition: 'eqiad-0' },
  };

  it('accepts mediawiki/job events and reads what routing needs', () => {
    expect(validateJobEvent(good)).toEqual({
      ok: true,
      type: 'refreshLinks',
      database: 'enwiki',
      stream: 'mediawiki.job.refreshLinks',
      jobqueuePartition: 'eqiad-0',
    });
    expect(validateJobEvent({ ...good, params: [] })).toMatchObject({ ok: true });
  });

  it('names what is wrong, and keeps clients out of other topics', () => {
    const errors = (value: unknown) => {
      const result = validateJobEvent(value);
      return result.ok ? [] : result.errors;
    };
    expect(errors({ ...good, database: '' })).toEqual(['/database: must NOT have fewer than 1 characters']);
    expect(errors({ ...good, meta: { ...good.meta, dt: 'yesterday' } })[0]).toMatch(
      /^\/meta\/dt: must match pattern/,
    );
    expect(errors({ ...good, type: 'a/../b' })[0]).toMatch(/^\/type: must match pattern/);
    expect(errors({ ...good, meta: { ...good.meta, stream: 'jobrunner.retry.x' } })).toEqual([
      "/meta/stream: must be 'mediawiki.job.refreshLinks' (the stream of the event's type), not 'jobrunner.retry.x'",
    ]);
    expect(errors('not an event')).toEqual(['/: must be object']);
    expect(errors({ ...good, root_event: { signature: 's' } })[0]).toMatch(
      /root_event: must have required property 'dt'/,
    );
  });
});
