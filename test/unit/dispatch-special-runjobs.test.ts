import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../support/log-capture.js';
import {
  runJobsStringToSign,
  signRunJobsParams,
  signedRunJobsBody,
  wfArrayToCgi,
} from '../../src/mediawiki/special-runjobs.js';
import { createMasker } from '../../src/runner/dispatch/masking.js';
import {
  SpecialRunJobsDispatcher,
  UNLIMITED_MAXJOBS,
} from '../../src/runner/dispatch/special-runjobs-dispatcher.js';
import { UnsafeUrlValueError } from '../../src/runner/dispatch/placeholders.js';
import type { DispatchRequest } from '../../src/runner/dispatch/types.js';

const silent = silentLogger();

// runjobs-contract.md §5.2 reference string.
const REFERENCE =
  'async=0&maxjobs=100&maxtime=30&sigexpiry=1795829900&stats=1&tasks=jobs&title=Special%3ARunJobs&type=null';

describe('Special:RunJobs signing', () => {
  it('builds the reference string to sign (ksorted, PHP urlencode)', () => {
    const params = {
      title: 'Special:RunJobs',
      tasks: 'jobs',
      type: 'null',
      maxjobs: 100,
      maxtime: 30,
      async: 0,
      stats: 1,
      sigexpiry: 1795829900,
    };
    expect(runJobsStringToSign(params)).toBe(REFERENCE);
    // Value from PHP: hash_hmac('sha1', REFERENCE, '0123456789abcdef-secret').
    expect(signRunJobsParams(params, '0123456789abcdef-secret')).toBe(
      '24afbfe72e73297e8066b70f6ea9396dd48a3227',
    );
    expect(signedRunJobsBody(params, '0123456789abcdef-secret')).toBe(
      `${REFERENCE}&signature=24afbfe72e73297e8066b70f6ea9396dd48a3227`,
    );
  });

  it('signs only the recognised parameters and never the signature itself', () => {
    const base = { title: 'Special:RunJobs', tasks: 'jobs', sigexpiry: 5 };
    const withExtras = { ...base, wiki: 'wiki1', signature: 'abc', foo: 'bar' };
    expect(runJobsStringToSign(withExtras)).toBe(runJobsStringToSign(base));
    expect(signRunJobsParams(withExtras, 'k')).toBe(signRunJobsParams(base, 'k'));
  });

  it('encodes like PHP urlencode: space as +, ~ as %7E, UTF-8 bytes', () => {
    // Values from PHP: urlencode / hash_hmac('sha1', …, 'k').
    const params = {
      type: 'a b~c/ü',
      title: 'Special:RunJobs',
      tasks: 'jobs',
      maxjobs: 1000,
      maxtime: 60,
      async: 0,
      stats: 1,
      sigexpiry: 1795829900,
    };
    expect(runJobsStringToSign(params)).toBe(
      'async=0&maxjobs=1000&maxtime=60&sigexpiry=1795829900&stats=1&tasks=jobs&title=Special%3ARunJobs&type=a+b%7Ec%2F%C3%BC',
    );
    expect(signRunJobsParams(params, 'k')).toBe('48ea551e99d8f7864d763c2c12d5e38eb3c026aa');
    expect(wfArrayToCgi({ b: 'x y', a: '1' })).toBe('b=x+y&a=1');
  });
});

describe('SpecialRunJobsDispatcher request building', () => {
  const request: DispatchRequest = {
    wiki: 'wiki2',
    domain: 'wiki2',
    type: 'refreshLinks',
    maxTime: 60,
    maxMem: '300M',
    realLimitSeconds: 300,
    maxJobs: 0,
  };

  function dispatcher(baseUrls: Record<string, string>): SpecialRunJobsDispatcher {
    return new SpecialRunJobsDispatcher({
      baseUrls,
      secretKey: 'sekrit',
      connectTimeoutMs: 1000,
      logger: silent,
      mask: createMasker(['sekrit']),
      now: () => 1_800_000_000.7,
    });
  }

  it('appends title to a base URL that already has a query, and substitutes %(db)u in "*"', async () => {
    const d = dispatcher({
      wiki1: 'http://127.0.0.1:8080/index.php?wiki=wiki1',
      '*': 'http://127.0.0.1:8080/index.php?wiki=%(db)u',
    });
    expect(d.endpointFor({ ...request, wiki: 'wiki1' })?.href).toBe(
      'http://127.0.0.1:8080/index.php?wiki=wiki1&title=Special%3ARunJobs',
    );
    expect(d.endpointFor({ ...request, wiki: 'a b' })?.href).toBe(
      'http://127.0.0.1:8080/index.php?wiki=a%20b&title=Special%3ARunJobs',
    );
    expect(dispatcher({ wiki2: 'http://h/w/index.php' }).endpointFor(request)?.href).toBe(
      'http://h/w/index.php?title=Special%3ARunJobs',
    );
    expect(dispatcher({ wiki9: 'http://h/index.php' }).endpointFor(request)).toBeNull();
    await d.close();
  });

  it('signs async=0, stats=1, maxjobs (0 → large), maxtime and an expiry of now + limits.real', async () => {
    const d = dispatcher({ '*': 'http://h/index.php' });
    const body = d.bodyFor(request);
    const expected = {
      async: 0,
      maxjobs: UNLIMITED_MAXJOBS,
      maxtime: 60,
      sigexpiry: 1_800_000_300,
      stats: 1,
      tasks: 'jobs',
      title: 'Special:RunJobs',
      type: 'refreshLinks',
    };
    expect(body).toBe(`${runJobsStringToSign(expected)}&signature=${signRunJobsParams(expected, 'sekrit')}`);
    expect(d.bodyFor({ ...request, maxJobs: 7 })).toContain('maxjobs=7&');
    await d.close();
  });

  it('never lets a wiki ID move the request to another path (dot segments), and sends nothing', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const d = dispatcher({ '*': `http://127.0.0.1:${port}/%(db)u/w/index.php` });
    for (const wiki of ['..', '.']) {
      expect(() => d.endpointFor({ ...request, wiki })).toThrow(UnsafeUrlValueError);
      const result = await d.dispatch({ ...request, wiki }, new AbortController().signal);
      expect(result.outcome).toBe('error');
      expect(result.error).toMatch(/dot segment .* not dispatched/);
    }
    // Dots inside a longer ID, or a type of '..' in the query, are ordinary values.
    expect(d.endpointFor({ ...request, wiki: '..x' })?.pathname).toBe('/..x/w/index.php');
    expect(d.endpointFor({ ...request, type: '..' })?.pathname).toBe('/wiki2/w/index.php');
    expect(seen).toEqual([]);
    await d.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('refuses an empty or invalid baseUrls map at construction', () => {
    expect(() => dispatcher({ '*': 'http://h/w/../index.php' })).toThrow(/dot segment "\.\."/);
    expect(() => dispatcher({})).toThrow(/dispatch\.baseUrls is empty/);
    expect(() => dispatcher({ '*': 'not a url' })).toThrow(/dispatch\.baseUrls\["\*"\].*not a valid URL/);
    expect(() => dispatcher({ '*': 'http://h/?w=%(db)x' })).toThrow(/use %\(db\)u/);
  });
});

describe('masking', () => {
  it('hides secrets, signature values and URL passwords', () => {
    const mask = createMasker(['sekrit', undefined, '']);
    expect(mask('key sekrit; body a=1&signature=0123abcdef&b=2; http://user:pw@host/x')).toBe(
      'key ***; body a=1&signature=***&b=2; http://user:***@host/x',
    );
  });
});
