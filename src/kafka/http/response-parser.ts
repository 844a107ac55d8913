// Reads one HTTP/1.1 response from the bytes of a keep-alive connection, as they arrive. The
// executor sends one request at a time per connection, so one parser serves one request. It knows
// what a RunSingleJob client needs and no more: the status, whether the connection may be reused,
// and for a failure its headers and the start of its body (for the error report). Framing follows
// RFC 9112 section 6: no body for 1xx/204/304, chunked when Transfer-Encoding says so (then
// Content-Length is ignored and the connection is not reused), else Content-Length, else the body
// runs to the end of the connection. Anything malformed is an HttpProtocolError, never a guess.

/** The response could not be read; the connection must not be used again. */
export class HttpProtocolError extends Error {
  override readonly name = 'HttpProtocolError';
}

export interface ParsedResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". Only for statuses >= 300. */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Up to bodyCap bytes of the body, only for statuses >= 300. */
  readonly body: Buffer | undefined;
  /** False when the server asked to close, spoke HTTP/1.0, or framing leaves doubt. */
  readonly keepAlive: boolean;
  /** The server's Keep-Alive timeout hint in ms (Keep-Alive: timeout=N), when it gave one. */
  readonly keepAliveHintMs: number | undefined;
}

/** Largest header block read (status line and headers). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Largest chunk-size line (with extensions) or trailer line. */
const MAX_LINE_BYTES = 4096;
const CRLF_CRLF = Buffer.from('\r\n\r\n');
const HEADER_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\0\r\n]*$/;
/** Lengths of the names parseHead reads in a 2xx: content-length, transfer-encoding, connection, keep-alive. */
const FRAMING_NAME_LENGTHS = new Set([14, 17, 10]);

/**
 * The status of "HTTP/1.x NNN[ reason]" (the first `end` characters of head).
 * @throws HttpProtocolError
 */
function statusOf(head: string, end: number): number {
  const c = (i: number): number => head.charCodeAt(i);
  const digit = (i: number): number => {
    const d = c(i) - 48;
    return d >= 0 && d <= 9 ? d : NaN;
  };
  const status = digit(9) * 100 + digit(10) * 10 + digit(11);
  if (
    !head.startsWith('HTTP/1.') ||
    (c(7) !== 48 && c(7) !== 49) ||
    c(8) !== 32 ||
    Number.isNaN(status) ||
    (end > 12 && c(12) !== 32) ||
    end < 12
  ) {
    throw new HttpProtocolError(
      `not an HTTP/1.x status line: ${JSON.stringify(head.slice(0, Math.min(end, 100)))}`,
    );
  }
  return status;
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close' | 'done';

const EMPTY = Buffer.alloc(0);

export class ResponseParser {
  private state: State = 'head';
  /** Bytes of an incomplete head or line, kept across chunks. */
  private pending: Buffer = EMPTY;
  private status = 0;
  private keepAlive = true;
  private keepAliveHintMs: number | undefined;
  private headers: Record<string, string> | undefined;
  /** Body bytes still to come (length and chunk-data states). */
  private remaining = 0;
  private bodyParts: Buffer[] | undefined;
  private bodySize = 0;

  constructor(private readonly bodyCap: number) {}

  /**
   * Takes the next bytes. Returns the response once it is complete (bytes after it are a protocol
   * error: nothing else was asked for); undefined while more are needed.
   * @throws HttpProtocolError
   */
  feed(chunk: Buffer): ParsedResponse | undefined {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = EMPTY;
    while (data.length > 0) {
      switch (this.state) {
        case 'head':
          data = this.readHead(data);
          break;
        case 'length':
        case 'chunk-data':
          data = this.readCounted(data);
          break;
        case 'chunk-size':
          data = this.readChunkSize(data);
          break;
        case 'chunk-end':
          data = this.readChunkEnd(data);
          break;
        case 'trailers':
          data = this.readTrailer(data);
          break;
        case 'close':
          this.keepBody(data, data.length);
          data = EMPTY;
          break;
        case 'done':
          throw new HttpProtocolError(`${data.length} bytes after the end of the response`);
      }
      // The read* steps move the state on.
      if ((this.state as State) === 'done') {
        if (data.length > 0)
          throw new HttpProtocolError(`${data.length} bytes after the end of the response`);
        return this.result();
      }
    }
    return undefined;
  }

  /**
   * The connection ended. Completes a body that runs to the end of the connection.
   * @throws HttpProtocolError when the response was not complete
   */
  end(): ParsedResponse {
    if (this.state === 'close') {
      this.state = 'done';
      return this.result();
    }
    const where =
      this.state === 'head' ? 'before the response headers ended' : 'before the response body ended';
    throw new HttpProtocolError(`the server closed the connection ${where}`);
  }

  private result(): ParsedResponse {
    const failed = this.status >= 300;
    const parts = this.bodyParts;
    return {
      status: this.status,
      headers: failed ? (this.headers ?? {}) : undefined,
      body: failed ? (parts === undefined || parts.length === 0 ? EMPTY : Buffer.concat(parts)) : undefined,
      keepAlive: this.keepAlive,
      keepAliveHintMs: this.keepAliveHintMs,
    };
  }

  private keepBody(data: Buffer, n: number): void {
    if (this.bodyParts === undefined || this.bodySize >= this.bodyCap || n === 0) return;
    const take = Math.min(n, this.bodyCap - this.bodySize);
    // Copied: the chunk's memory is the socket's, and a slice would keep all of it alive.
    this.bodyParts.push(Buffer.from(data.subarray(0, take)));
    this.bodySize += take;
  }

  /** Body bytes of a known count: the whole body (length) or one chunk (chunk-data). */
  private readCounted(data: Buffer): Buffer {
    const n = Math.min(this.remaining, data.length);
    this.keepBody(data, n);
    this.remaining -= n;
    if (this.remaining === 0) this.state = this.state === 'length' ? 'done' : 'chunk-end';
    return data.subarray(n);
  }

  private readHead(data: Buffer): Buffer {
    const end = data.indexOf(CRLF_CRLF);
    if (end < 0) {
      if (data.length > MAX_HEAD_BYTES) {
        throw new HttpProtocolError(`response headers longer than ${MAX_HEAD_BYTES} bytes`);
      }
      this.pending = data;
      return EMPTY;
    }
    if (end > MAX_HEAD_BYTES)
      throw new HttpProtocolError(`response headers longer than ${MAX_HEAD_BYTES} bytes`);
    this.parseHead(data.toString('latin1', 0, end));
    return data.subarray(end + 4);
  }

  private parseHead(head: string): void {
    let lineEnd = head.indexOf('\r\n');
    if (lineEnd < 0) lineEnd = head.length;
    const status = statusOf(head, lineEnd);
    const http10 = head.charCodeAt(7) === 48; // "HTTP/1.0"
    const keep = status >= 300;
    const headers: Record<string, string> | undefined = keep ? Object.create(null) : undefined;
    let length: number | undefined;
    let chunked = false;
    let transferEncoding = false;
    let connection = '';
    let keepAliveHeader: string | undefined;
    let pos = lineEnd + 2;
    while (pos < head.length) {
      let next = head.indexOf('\r\n', pos);
      if (next < 0) next = head.length;
      const line = head.slice(pos, next);
      // One test per line: a token, a colon, a value without NUL, CR or LF (also no bare LF).
      if (!HEADER_LINE.test(line))
        throw new HttpProtocolError(`malformed header line: ${JSON.stringify(line.slice(0, 100))}`);
      pos = next + 2;
      const colon = line.indexOf(':');
      // Only the framing headers matter unless the response is kept (a failure): most lines of a
      // 2xx are skipped by their name's length alone.
      if (headers === undefined && !FRAMING_NAME_LENGTHS.has(colon)) continue;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      switch (name) {
        case 'content-length': {
          if (!/^[0-9]{1,15}$/.test(value)) {
            throw new HttpProtocolError(`malformed Content-Length: ${JSON.stringify(value.slice(0, 100))}`);
          }
          const n = Number(value);
          if (length !== undefined && length !== n)
            throw new HttpProtocolError('conflicting Content-Length headers');
          length = n;
          break;
        }
        case 'transfer-encoding':
          transferEncoding = true;
          // The final coding decides: chunked, or (anything else) the body runs to the close.
          chunked = /(?:^|,)[ \t]*chunked[ \t]*$/i.test(value);
          break;
        case 'connection':
          connection += `,${value.toLowerCase()}`;
          break;
        case 'keep-alive':
          keepAliveHeader = value;
          break;
      }
      if (headers !== undefined) headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    if (status < 200) {
      // 1xx: an interim response; the final one follows. 101 would switch protocols: never asked for.
      if (status === 101)
        throw new HttpProtocolError('the server switched protocols (101), which was never asked for');
      return;
    }
    this.status = status;
    this.headers = headers;
    if (keep) this.bodyParts = [];
    if (connection !== '') {
      const closeAsked = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/.test(connection);
      const keepAliveAsked = /(?:^|,)[ \t]*keep-alive[ \t]*(?:,|$)/.test(connection);
      this.keepAlive = !closeAsked && (!http10 || keepAliveAsked);
    } else {
      this.keepAlive = !http10;
    }
    if (keepAliveHeader !== undefined) {
      const hint = /(?:^|,)[ \t]*timeout[ \t]*=[ \t]*([0-9]{1,9})/i.exec(keepAliveHeader);
      if (hint !== null) this.keepAliveHintMs = Number(hint[1]) * 1000;
    }
    if (status === 204 || status === 304) {
      this.state = 'done';
    } else if (transferEncoding) {
      // A length beside a transfer coding may be a smuggling attempt: read by the coding, then close.
      if (length !== undefined) this.keepAlive = false;
      if (chunked) {
        this.state = 'chunk-size';
      } else {
        this.state = 'close';
        this.keepAlive = false;
      }
    } else if (length !== undefined) {
      this.remaining = length;
      this.state = length === 0 ? 'done' : 'length';
    } else {
      this.state = 'close';
      this.keepAlive = false;
    }
  }

  /** A line ending in CRLF at the start of data, or undefined (kept in pending) until complete. */
  private line(data: Buffer, what: string): { text: string; rest: Buffer } | undefined {
    const end = data.indexOf('\r\n');
    if (end < 0) {
      if (data.length > MAX_LINE_BYTES)
        throw new HttpProtocolError(`${what} longer than ${MAX_LINE_BYTES} bytes`);
      this.pending = data;
      return undefined;
    }
    if (end > MAX_LINE_BYTES) throw new HttpProtocolError(`${what} longer than ${MAX_LINE_BYTES} bytes`);
    return { text: data.toString('latin1', 0, end), rest: data.subarray(end + 2) };
  }

  private readChunkSize(data: Buffer): Buffer {
    const line = this.line(data, 'chunk size line');
    if (line === undefined) return EMPTY;
    const match = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;[^\r\n\0]*)?$/.exec(line.text);
    if (match === null)
      throw new HttpProtocolError(`malformed chunk size: ${JSON.stringify(line.text.slice(0, 100))}`);
    const size = parseInt(match[1] as string, 16);
    if (size === 0) {
      this.state = 'trailers';
    } else {
      this.remaining = size;
      this.state = 'chunk-data';
    }
    return line.rest;
  }

  private readChunkEnd(data: Buffer): Buffer {
    if (data.length < 2) {
      this.pending = data;
      return EMPTY;
    }
    if (data[0] !== 13 || data[1] !== 10) throw new HttpProtocolError('chunk data not followed by CRLF');
    this.state = 'chunk-size';
    return data.subarray(2);
  }

  /** Trailer fields after the last chunk are read and dropped, up to the empty line. */
  private readTrailer(data: Buffer): Buffer {
    const line = this.line(data, 'trailer line');
    if (line === undefined) return EMPTY;
    if (line.text === '') this.state = 'done';
    else if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/.test(line.text)) {
      throw new HttpProtocolError(`malformed trailer line: ${JSON.stringify(line.text.slice(0, 100))}`);
    }
    return line.rest;
  }
}
