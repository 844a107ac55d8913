// The Kafka executor's HTTP/1.1 response reader (src/kafka/http/response-parser.ts): every framing
// RFC 9112 allows a server, the same result however the bytes are split across reads, and a clear
// HttpProtocolError for anything malformed.
import { describe, expect, it } from 'vitest';
import {
  HttpProtocolError,
  MAX_HEAD_BYTES,
  ResponseParser,
  type ParsedResponse,
} from '../../src/kafka/http/response-parser.js';

/** Feeds `raw` in pieces of `step` bytes; the response, or undefined if it never completed. */
function parse(raw: string | Buffer, step = Infinity, cap = 1024): ParsedResponse | undefined {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
  const parser = new ResponseParser(cap);
  for (let i = 0; i < bytes.length; i += step) {
    const result = parser.feed(bytes.subarray(i, Math.min(bytes.length, i + step)));
    if (result !== undefined) {
      if (i + step < bytes.length) throw new Error('completed before the last piece');
      return result;
    }
  }
  return undefined;
}

/** The same response must come out whatever the read sizes. */
function parseEveryWay(raw: string): ParsedResponse {
  const whole = parse(raw);
  expect(whole).toBeDefined();
  for (const step of [1, 2, 3, 7, 16]) expect(parse(raw, step)).toEqual(whole);
  return whole as ParsedResponse;
}

describe('ResponseParser', () => {
  it('takes a 200 with an empty body from its status line, without headers or body', () => {
    const r = parseEveryWay('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: timeout=5\r\n\r\n');
    expect(r).toEqual({
      status: 200,
      headers: undefined,
      body: undefined,
      keepAlive: true,
      keepAliveHintMs: 5000,
    });
  });

  it('reads past a 2xx body it does not keep', () => {
    const r = parseEveryWay('HTTP/1.1 202 Accepted\r\ncontent-length: 5\r\n\r\nhello');
    expect(r).toMatchObject({ status: 202, body: undefined, keepAlive: true });
  });

  it('keeps a failure headers (lower-case, repeats joined) and body', () => {
    const r = parseEveryWay(
      'HTTP/1.1 503 Service Unavailable\r\nX-Readonly: 1\r\nVia: a\r\nvia: b\r\nContent-Length: 7\r\n\r\nbusy!\r\n',
    );
    expect(r.status).toBe(503);
    expect(r.headers).toEqual({ 'x-readonly': '1', via: 'a, b', 'content-length': '7' });
    expect(r.body?.toString('latin1')).toBe('busy!\r\n');
  });

  it('keeps header names that are Object.prototype names as plain headers', () => {
    const r = parseEveryWay('HTTP/1.1 500 X\r\n__proto__: a\r\nconstructor: b\r\nContent-Length: 0\r\n\r\n');
    expect(Object.keys(r.headers ?? {})).toEqual(['__proto__', 'constructor', 'content-length']);
    expect(r.headers?.['__proto__']).toBe('a');
    expect(r.headers?.constructor).toBe('b');
  });

  it('decodes chunked bodies with extensions and trailers', () => {
    const raw =
      'HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n';
    const r = parseEveryWay(raw);
    expect(r.body?.toString('latin1')).toBe('Wikipedia in\r\n\r\nchunks.');
    expect(r.keepAlive).toBe(true);
  });

  it('keeps at most the body cap of a failure, and still reads the whole response', () => {
    const body = 'x'.repeat(5000);
    const r = parse(`HTTP/1.1 500 Oops\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 333, 1000);
    expect(r?.body?.length).toBe(1000);
  });

  it('skips interim 1xx responses', () => {
    const r = parseEveryWay(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    );
    expect(r.status).toBe(200);
  });

  it('has no body for 204 and 304, whatever Content-Length says', () => {
    expect(parseEveryWay('HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n').status).toBe(204);
    expect(parseEveryWay('HTTP/1.1 304 Not Modified\r\n\r\n').status).toBe(304);
  });

  it('reads a body without length to the end of the connection, and does not reuse it', () => {
    const parser = new ResponseParser(100);
    expect(parser.feed(Buffer.from('HTTP/1.1 500 Oops\r\n\r\npart one, '))).toBeUndefined();
    expect(parser.feed(Buffer.from('part two'))).toBeUndefined();
    const r = parser.end();
    expect(r.body?.toString()).toBe('part one, part two');
    expect(r.keepAlive).toBe(false);
  });

  it('does not reuse the connection when the server asks to close, speaks HTTP/1.0, or sends TE with a length', () => {
    expect(parseEveryWay('HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(
      false,
    );
    expect(
      parseEveryWay('HTTP/1.1 200 OK\r\nConnection: x, close\r\nContent-Length: 0\r\n\r\n').keepAlive,
    ).toBe(false);
    expect(parseEveryWay('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(
      parseEveryWay('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').keepAlive,
    ).toBe(true);
    const smuggle = parseEveryWay(
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    expect(smuggle.keepAlive).toBe(false);
  });

  it('reports a response cut short by the end of the connection', () => {
    const headless = new ResponseParser(10);
    headless.feed(Buffer.from('HTTP/1.1 200 O'));
    expect(() => headless.end()).toThrow(/closed the connection before the response headers ended/);
    const bodyless = new ResponseParser(10);
    bodyless.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc'));
    expect(() => bodyless.end()).toThrow(/before the response body ended/);
    expect(() => new ResponseParser(10).end()).toThrow(HttpProtocolError);
  });

  it.each([
    ['a status line that is not HTTP/1.x', 'HTTP/2 200 OK\r\n\r\n', /not an HTTP\/1.x status line/],
    ['a status that is not three digits', 'HTTP/1.1 20 OK\r\n\r\n', /not an HTTP\/1.x status line/],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /malformed header line/],
    ['a header name with a space', 'HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', /malformed header line/],
    ['a folded header line', 'HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n', /malformed header/],
    ['a bare LF inside a header value', 'HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n', /malformed header line/],
    [
      'a non-numeric Content-Length',
      'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n',
      /malformed Content-Length/,
    ],
    [
      'two different Content-Lengths',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      /conflicting/,
    ],
    [
      'a bad chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      /malformed chunk size/,
    ],
    [
      'chunk data without its CRLF',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX',
      /not followed by CRLF/,
    ],
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', /switched protocols/],
  ])('refuses %s', (_what, raw, message) => {
    for (const step of [Infinity, 1]) {
      let error: unknown;
      try {
        parse(raw, step);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HttpProtocolError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it("refuses bytes after the response in the same read (a later read is the connection's to refuse)", () => {
    expect(() => parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n')).toThrow(
      /bytes after the end of the response/,
    );
  });

  it('refuses a header block longer than the limit, before reading all of it', () => {
    const parser = new ResponseParser(10);
    parser.feed(Buffer.from('HTTP/1.1 200 OK\r\n'));
    const line = Buffer.from(`X-Filler: ${'a'.repeat(1000)}\r\n`);
    let error: unknown;
    try {
      for (let i = 0; i < MAX_HEAD_BYTES / line.length + 2; i++) parser.feed(line);
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toMatch(/response headers longer than 65536 bytes/);
  });
});
