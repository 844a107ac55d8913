// A small memcached client (text protocol) for the legacy registry: get, set, add, delete, version.
// Why our own: no memcached client is among the installed dependencies, and the registry needs only
// these commands. One connection, requests answered in order (the protocol is strictly FIFO); a
// timeout or a broken connection fails every request in flight and the next call reconnects.
import { Socket } from 'node:net';

export class MemcachedError extends Error {
  constructor(
    message: string,
    /** host:port of the server. */
    readonly server: string,
  ) {
    super(message);
    this.name = 'MemcachedError';
  }
}

export interface MemcachedItem {
  readonly value: Buffer;
  readonly flags: number;
}

export interface MemcachedClientOptions {
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
}

/** Parses one reply from the front of `buffer`; returns null until the whole reply is there. */
type ReplyParser = (buffer: Buffer) => { consumed: number; value: unknown } | null;

interface Pending {
  readonly parse: ReplyParser;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const CRLF = Buffer.from('\r\n');
const MAX_KEY_BYTES = 250;

function checkKey(key: string): void {
  const bytes = Buffer.from(key);
  if (bytes.length === 0 || bytes.length > MAX_KEY_BYTES || bytes.some((b) => b <= 0x20 || b === 0x7f)) {
    throw new TypeError(
      `memcached key ${JSON.stringify(key)} must be 1-250 bytes without spaces or control characters`,
    );
  }
}

/** One CRLF-terminated line at the front of the buffer, or null. */
function line(buffer: Buffer): { text: string; end: number } | null {
  const at = buffer.indexOf(CRLF);
  return at === -1 ? null : { text: buffer.toString('latin1', 0, at), end: at + 2 };
}

function replyError(text: string): Error | null {
  if (text === 'ERROR' || text.startsWith('CLIENT_ERROR') || text.startsWith('SERVER_ERROR')) {
    return new Error(`memcached replied ${text}`);
  }
  return null;
}

/** One-line replies: returns the line (errors become exceptions). */
const simpleReply: ReplyParser = (buffer) => {
  const found = line(buffer);
  if (!found) return null;
  const error = replyError(found.text);
  return { consumed: found.end, value: error ?? found.text };
};

/** VALUE <key> <flags> <bytes>\r\n<data>\r\n ... END\r\n (a single key). */
const getReply: ReplyParser = (buffer) => {
  const first = line(buffer);
  if (!first) return null;
  if (first.text === 'END') return { consumed: first.end, value: null };
  const error = replyError(first.text);
  if (error) return { consumed: first.end, value: error };
  const match = /^VALUE \S+ (\d+) (\d+)(?: \d+)?$/.exec(first.text);
  if (!match)
    return {
      consumed: buffer.length,
      value: new Error(`unexpected memcached reply ${JSON.stringify(first.text)}`),
    };
  const flags = Number(match[1]);
  const bytes = Number(match[2]);
  const dataEnd = first.end + bytes;
  if (buffer.length < dataEnd + 2 + 5) return null; // data, CRLF, "END\r\n"
  const value = Buffer.from(buffer.subarray(first.end, dataEnd));
  const tail = buffer.toString('latin1', dataEnd, dataEnd + 7);
  if (!tail.startsWith('\r\nEND\r\n')) {
    return { consumed: buffer.length, value: new Error('malformed memcached VALUE reply') };
  }
  return { consumed: dataEnd + 7, value: { value, flags } satisfies MemcachedItem };
};

export class MemcachedClient {
  readonly server: string;
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;

  constructor(
    readonly host: string,
    readonly port: number,
    options: MemcachedClientOptions = {},
  ) {
    this.server = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2000;
  }

  async get(key: string): Promise<MemcachedItem | null> {
    checkKey(key);
    return (await this.request(Buffer.from(`get ${key}\r\n`, 'latin1'), getReply)) as MemcachedItem | null;
  }

  /** Stores unconditionally. exptime 0 = no expiry. */
  async set(key: string, value: Buffer, options: { flags?: number; exptime?: number } = {}): Promise<void> {
    const reply = await this.store('set', key, value, options);
    if (reply !== 'STORED') throw new MemcachedError(`set ${key}: ${reply}`, this.server);
  }

  /** Stores only when the key is absent; false when it exists (how BagOStuff locks work). */
  async add(
    key: string,
    value: Buffer,
    options: { flags?: number; exptime?: number } = {},
  ): Promise<boolean> {
    const reply = await this.store('add', key, value, options);
    if (reply === 'STORED') return true;
    if (reply === 'NOT_STORED') return false;
    throw new MemcachedError(`add ${key}: ${reply}`, this.server);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const reply = await this.request(Buffer.from(`delete ${key}\r\n`, 'latin1'), simpleReply);
    if (reply === 'DELETED') return true;
    if (reply === 'NOT_FOUND') return false;
    throw new MemcachedError(`delete ${key}: ${String(reply)}`, this.server);
  }

  /** The server's version string; doubles as a reachability check. */
  async version(): Promise<string> {
    const reply = String(await this.request(Buffer.from('version\r\n'), simpleReply));
    if (!reply.startsWith('VERSION '))
      throw new MemcachedError(`unexpected version reply ${reply}`, this.server);
    return reply.slice('VERSION '.length);
  }

  close(): void {
    this.fail(new MemcachedError('client closed', this.server));
  }

  private async store(
    command: 'set' | 'add',
    key: string,
    value: Buffer,
    options: { flags?: number; exptime?: number },
  ): Promise<string> {
    checkKey(key);
    const header = Buffer.from(
      `${command} ${key} ${options.flags ?? 0} ${options.exptime ?? 0} ${value.length}\r\n`,
      'latin1',
    );
    return String(await this.request(Buffer.concat([header, value, CRLF]), simpleReply));
  }

  private async request(bytes: Buffer, parse: ReplyParser): Promise<unknown> {
    const socket = await this.connect();
    const value = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new MemcachedError(`no reply within ${this.commandTimeoutMs} ms`, this.server));
      }, this.commandTimeoutMs);
      this.pending.push({ parse, resolve, reject, timer });
      socket.write(bytes);
    });
    if (value instanceof Error) throw new MemcachedError(value.message, this.server);
    return value;
  }

  private connect(): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<Socket>((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new MemcachedError(`cannot connect within ${this.connectTimeoutMs} ms`, this.server));
      }, this.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        this.socket = socket;
        resolve(socket);
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (error: Error) => {
        clearTimeout(timer);
        if (this.socket === socket) this.fail(new MemcachedError(error.message, this.server));
        else reject(new MemcachedError(`cannot connect: ${error.message}`, this.server));
      });
      socket.on('close', () => {
        if (this.socket === socket) this.fail(new MemcachedError('connection closed', this.server));
      });
      socket.connect(this.port, this.host);
    }).finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const head = this.pending[0];
      if (!head) {
        this.buffer = Buffer.alloc(0); // unsolicited bytes: nothing waits for them
        return;
      }
      const parsed = head.parse(this.buffer);
      if (!parsed) return;
      this.pending.shift();
      clearTimeout(head.timer);
      this.buffer = this.buffer.subarray(parsed.consumed);
      head.resolve(parsed.value);
    }
  }

  /** Drops the connection and fails everything in flight (their replies can no longer be matched). */
  private fail(error: Error): void {
    const socket = this.socket;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    socket?.destroy();
    for (const request of this.pending.splice(0)) {
      clearTimeout(request.timer);
      request.reject(error);
    }
  }
}
