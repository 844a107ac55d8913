// PHP serialize()/unserialize() over bytes, for MediaWiki job blobs.
//
// Why hand-written: the npm PHP-serialize packages work on JS strings, so `s:<len>` is counted in
// UTF-16 code units and binary strings (the gzip envelope's raw DEFLATE bytes, any non-UTF-8 param)
// cannot survive a round trip. MediaWiki's blobs need byte-exact binary strings: lengths count
// bytes, and serialize(unserialize(blob)) must give back the same bytes MediaWiki wrote.
//
// Value model (round-trips what PHP 8.2 writes):
//   N; → null   b: → boolean   i: → number (bigint outside ±2^53)   d: → PhpFloat
//   s: → string when the bytes are valid UTF-8, otherwise Buffer
//   a: → PhpArray (ordered, int|string keys)   O: → PhpObject (class name + properties)
// References (r:/R:), custom serialization (C:), enums (E:) and escaped strings (S:) are rejected.
import { isUtf8 } from 'node:buffer';

export type PhpInt = number | bigint;
export type PhpString = string | Buffer;
export type PhpKey = PhpInt | PhpString;
export type PhpValue = null | boolean | PhpInt | PhpFloat | PhpString | PhpArray | PhpObject;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DEFAULT_MAX_DEPTH = 256;

/** A PHP float; kept apart from ints so `d:1;` and `i:1;` stay distinct. */
export class PhpFloat {
  constructor(readonly value: number) {}
}

/** Failure to read serialized bytes; `offset` is the byte where `expected` was not found. */
export class PhpUnserializeError extends Error {
  constructor(
    readonly offset: number,
    readonly expected: string,
  ) {
    super(`PHP unserialize failed at byte ${offset}: expected ${expected}`);
    this.name = 'PhpUnserializeError';
  }
}

/** A JS value PHP cannot hold (fractional key, lone surrogate, …). */
export class PhpSerializeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PhpSerializeError';
  }
}

function intToCanonical(value: bigint): PhpInt {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

function bytesToPhpString(bytes: Buffer): PhpString {
  return isUtf8(bytes) ? bytes.toString('utf8') : Buffer.from(bytes);
}

function phpStringBytes(value: PhpString): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (/\p{Cs}/u.test(value)) throw new PhpSerializeError('string holds a lone UTF-16 surrogate');
  return Buffer.from(value, 'utf8');
}

/**
 * PHP's array key rule: a string that is a canonical decimal int within int64 ("202", "-5", not
 * "05" or "-0") becomes an int key. Buffers that are valid UTF-8 become strings.
 */
export function normalizeKey(key: PhpKey): PhpKey {
  if (typeof key === 'number') {
    if (!Number.isSafeInteger(key)) throw new PhpSerializeError(`array key ${key} is not an integer`);
    return key;
  }
  if (typeof key === 'bigint') {
    if (key < INT64_MIN || key > INT64_MAX) throw new PhpSerializeError(`array key ${key} exceeds int64`);
    return intToCanonical(key);
  }
  const text = Buffer.isBuffer(key) ? bytesToPhpString(key) : key;
  if (typeof text === 'string' && /^(0|-?[1-9][0-9]{0,18})$/.test(text)) {
    const big = BigInt(text);
    if (big >= INT64_MIN && big <= INT64_MAX) return intToCanonical(big);
  }
  return text;
}

function mapKey(key: PhpKey): string {
  if (typeof key === 'number' || typeof key === 'bigint') return 'i' + String(key);
  if (Buffer.isBuffer(key)) return 'b' + key.toString('latin1');
  return 's' + key;
}

/** An ordered PHP array. Setting an existing key keeps its position, like PHP. */
export class PhpArray implements Iterable<[PhpKey, PhpValue]> {
  private readonly items = new Map<string, [PhpKey, PhpValue]>();

  static from(entries: Iterable<readonly [PhpKey, PhpValue]>): PhpArray {
    const array = new PhpArray();
    for (const [key, value] of entries) array.set(key, value);
    return array;
  }

  /** A list (keys 0…n-1). */
  static list(values: Iterable<PhpValue>): PhpArray {
    const array = new PhpArray();
    for (const value of values) array.push(value);
    return array;
  }

  /** From a record. Beware: JS objects list integer-like keys first, whatever the written order. */
  static fromRecord(record: Readonly<Record<string, PhpValue>>): PhpArray {
    return PhpArray.from(Object.entries(record));
  }

  get size(): number {
    return this.items.size;
  }

  has(key: PhpKey): boolean {
    return this.items.has(mapKey(normalizeKey(key)));
  }

  get(key: PhpKey): PhpValue | undefined {
    return this.items.get(mapKey(normalizeKey(key)))?.[1];
  }

  set(key: PhpKey, value: PhpValue): this {
    const normal = normalizeKey(key);
    const id = mapKey(normal);
    const existing = this.items.get(id);
    if (existing) existing[1] = value;
    else this.items.set(id, [normal, value]);
    return this;
  }

  /** Appends with the next int key (PHP 8.2: max int key + 1, at least 0). */
  push(value: PhpValue): this {
    let next = 0n;
    for (const [key] of this.items.values()) {
      if ((typeof key === 'number' || typeof key === 'bigint') && BigInt(key) >= next)
        next = BigInt(key) + 1n;
    }
    return this.set(intToCanonical(next), value);
  }

  delete(key: PhpKey): boolean {
    return this.items.delete(mapKey(normalizeKey(key)));
  }

  *entries(): IterableIterator<[PhpKey, PhpValue]> {
    for (const [key, value] of this.items.values()) yield [key, value];
  }

  *keys(): IterableIterator<PhpKey> {
    for (const [key] of this.items.values()) yield key;
  }

  *values(): IterableIterator<PhpValue> {
    for (const [, value] of this.items.values()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[PhpKey, PhpValue]> {
    return this.entries();
  }

  /** A shallow copy. */
  clone(): PhpArray {
    return PhpArray.from(this.entries());
  }

  /** True when the keys are 0…n-1 in order (PHP's array_is_list). */
  isList(): boolean {
    let index = 0;
    for (const key of this.keys()) {
      if (key !== index) return false;
      index++;
    }
    return true;
  }
}

/** A PHP object: class name plus properties (serialized with string names). */
export class PhpObject {
  constructor(
    readonly className: string,
    readonly properties: PhpArray = new PhpArray(),
  ) {}
}

// ---------------------------------------------------------------------------------------------
// serialize

/** PHP 8.2 float text with serialize_precision = -1 (shortest round-trip digits, php_gcvt layout). */
export function phpFloatText(value: number): string {
  if (Number.isNaN(value)) return 'NAN';
  if (value === Infinity) return 'INF';
  if (value === -Infinity) return '-INF';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const sign = value < 0 ? '-' : '';
  const [mantissa = '', exponent = '0'] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const decpt = Number(exponent) + 1; // value = 0.<digits> × 10^decpt
  if (decpt < 0 ? decpt < -3 : decpt > 17) {
    const rest = digits.length > 1 ? digits.slice(1) : '0';
    const exp = decpt - 1;
    return `${sign}${digits[0] ?? '0'}.${rest}E${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (digits.length <= decpt) return sign + digits + '0'.repeat(decpt - digits.length);
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

class Writer {
  readonly chunks: Buffer[] = [];
  private text = '';

  ascii(part: string): void {
    this.text += part;
  }

  bytes(part: Buffer): void {
    this.flush();
    this.chunks.push(part);
  }

  flush(): void {
    if (this.text !== '') this.chunks.push(Buffer.from(this.text, 'latin1'));
    this.text = '';
  }
}

function writeString(out: Writer, value: PhpString): void {
  const bytes = phpStringBytes(value);
  out.ascii(`s:${bytes.length}:"`);
  out.bytes(bytes);
  out.ascii('";');
}

function writeEntries(out: Writer, entries: PhpArray, objectKeys: boolean, depth: number): void {
  out.ascii(`${entries.size}:{`);
  for (const [key, value] of entries) {
    if (typeof key === 'number' || typeof key === 'bigint') {
      if (objectKeys) writeString(out, String(key));
      else out.ascii(`i:${key};`);
    } else {
      writeString(out, key);
    }
    writeValue(out, value, depth + 1);
  }
  out.ascii('}');
}

function writeValue(out: Writer, value: PhpValue, depth: number): void {
  if (depth > 4096) throw new PhpSerializeError('value nests too deeply (cycle?)');
  if (value === null) out.ascii('N;');
  else if (typeof value === 'boolean') out.ascii(value ? 'b:1;' : 'b:0;');
  else if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > INT64_MAX) throw new PhpSerializeError(`integer ${value} exceeds int64`);
    out.ascii(`i:${value};`);
  } else if (typeof value === 'number') {
    out.ascii(Number.isSafeInteger(value) ? `i:${value};` : `d:${phpFloatText(value)};`);
  } else if (value instanceof PhpFloat) out.ascii(`d:${phpFloatText(value.value)};`);
  else if (typeof value === 'string' || Buffer.isBuffer(value)) writeString(out, value);
  else if (value instanceof PhpArray) {
    out.ascii('a:');
    writeEntries(out, value, false, depth);
  } else {
    const name = phpStringBytes(value.className);
    out.ascii(`O:${name.length}:"`);
    out.bytes(name);
    out.ascii('":');
    writeEntries(out, value.properties, true, depth);
  }
}

/** PHP serialize(). A JS number is written as i: when it is a safe integer, otherwise as d:. */
export function phpSerialize(value: PhpValue): Buffer {
  const out = new Writer();
  writeValue(out, value, 0);
  out.flush();
  return out.chunks.length === 1 && out.chunks[0] ? out.chunks[0] : Buffer.concat(out.chunks);
}

// ---------------------------------------------------------------------------------------------
// unserialize

const C_COLON = 0x3a;
const C_SEMI = 0x3b;
const C_QUOTE = 0x22;
const C_OPEN = 0x7b;
const C_CLOSE = 0x7d;

class Reader {
  pos = 0;

  constructor(
    readonly input: Buffer,
    readonly maxDepth: number,
  ) {}

  fail(expected: string, at = this.pos): never {
    throw new PhpUnserializeError(at, expected);
  }

  expectByte(code: number, what: string): void {
    if (this.input[this.pos] !== code) this.fail(what);
    this.pos++;
  }

  /** Bytes up to (not including) the terminator, which is consumed. */
  until(terminator: number, what: string, maxLength: number): string {
    const start = this.pos;
    const end = this.input.indexOf(terminator, start);
    if (end === -1 || end - start > maxLength) this.fail(what, start);
    this.pos = end + 1;
    return this.input.toString('latin1', start, end);
  }

  length(what: string): number {
    const start = this.pos;
    const text = this.until(C_COLON, `${what} followed by ':'`, 16);
    if (!/^[0-9]+$/.test(text)) this.fail(what, start);
    const n = Number(text);
    if (n > this.input.length - this.pos) this.fail(`${what} within the input (${n} is too large)`, start);
    return n;
  }

  rawString(what: string): Buffer {
    const n = this.length(`${what} length`);
    this.expectByte(C_QUOTE, `'"' opening ${what}`);
    const start = this.pos;
    if (start + n + 1 > this.input.length) this.fail(`${n} bytes of ${what}`, start);
    this.pos += n;
    this.expectByte(C_QUOTE, `'"' closing ${what} of ${n} bytes`);
    return this.input.subarray(start, start + n);
  }

  int(): PhpInt {
    const start = this.pos;
    const text = this.until(C_SEMI, "integer followed by ';'", 24);
    if (!/^[+-]?[0-9]+$/.test(text)) this.fail('integer', start);
    const value = BigInt(text);
    if (value < INT64_MIN || value > INT64_MAX) this.fail('integer within int64', start);
    return intToCanonical(value);
  }

  float(): PhpFloat {
    const start = this.pos;
    const text = this.until(C_SEMI, "float followed by ';'", 400);
    if (text === 'INF') return new PhpFloat(Infinity);
    if (text === '-INF') return new PhpFloat(-Infinity);
    if (text === 'NAN') return new PhpFloat(NaN);
    if (!/^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text)) this.fail('float', start);
    return new PhpFloat(Number(text));
  }

  entries(depth: number, what: string): PhpArray {
    const start = this.pos;
    const count = this.length(`${what} element count`);
    // Each entry takes at least 4 bytes ("i:0;N;" is 6); refuse impossible counts up front.
    if (count * 4 > this.input.length - this.pos)
      this.fail(`${what} of ${count} elements within the input`, start);
    this.expectByte(C_OPEN, `'{' opening ${what}`);
    const array = new PhpArray();
    for (let i = 0; i < count; i++) {
      const keyAt = this.pos;
      const tag = this.input[this.pos];
      let key: PhpKey;
      if (tag === 0x69 /* i */) {
        this.pos++;
        this.expectByte(C_COLON, "':' after 'i'");
        key = this.int();
      } else if (tag === 0x73 /* s */) {
        this.pos++;
        this.expectByte(C_COLON, "':' after 's'");
        key = bytesToPhpString(this.rawString('key'));
        this.expectByte(C_SEMI, "';' after string key");
      } else {
        this.fail(`${what} key (i: or s:) for element ${i + 1} of ${count}`, keyAt);
      }
      array.set(key, this.value(depth + 1));
    }
    this.expectByte(C_CLOSE, `'}' closing ${what} of ${count} elements`);
    return array;
  }

  value(depth: number): PhpValue {
    if (depth > this.maxDepth) this.fail(`nesting depth at most ${this.maxDepth}`);
    const at = this.pos;
    const tag = this.input[this.pos];
    if (tag === undefined) this.fail('a value, found end of input');
    this.pos++;
    if (tag === 0x4e /* N */) {
      this.expectByte(C_SEMI, "';' after 'N'");
      return null;
    }
    this.expectByte(C_COLON, `':' after '${String.fromCharCode(tag)}'`);
    switch (tag) {
      case 0x62 /* b */: {
        const flag = this.input[this.pos];
        if (flag !== 0x30 && flag !== 0x31) this.fail("boolean '0' or '1'");
        this.pos++;
        this.expectByte(C_SEMI, "';' after boolean");
        return flag === 0x31;
      }
      case 0x69 /* i */:
        return this.int();
      case 0x64 /* d */:
        return this.float();
      case 0x73 /* s */: {
        const bytes = this.rawString('string');
        this.expectByte(C_SEMI, "';' after string");
        return bytesToPhpString(bytes);
      }
      case 0x61 /* a */:
        return this.entries(depth, 'array');
      case 0x4f /* O */: {
        const name = this.rawString('class name');
        if (!/^[A-Za-z_\\\x80-\xff][A-Za-z0-9_\\\x80-\xff]*$/.test(name.toString('latin1'))) {
          this.fail('a valid class name', at);
        }
        this.expectByte(C_COLON, "':' after class name");
        return new PhpObject(name.toString('utf8'), this.entries(depth, 'object'));
      }
      default:
        return this.fail('a supported type tag (N b i d s a O)', at);
    }
  }
}

export interface UnserializeOptions {
  /** Deepest array/object nesting accepted (default 256); deeper input fails instead of recursing. */
  readonly maxDepth?: number;
}

/**
 * PHP unserialize() of exactly one value; trailing bytes are an error. Duplicate keys overwrite in
 * place, like PHP. Only ever throws PhpUnserializeError.
 */
export function phpUnserialize(input: Buffer, options: UnserializeOptions = {}): PhpValue {
  const reader = new Reader(input, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  let value: PhpValue;
  try {
    value = reader.value(0);
  } catch (error) {
    if (error instanceof PhpUnserializeError) throw error;
    // Anything else (e.g. a stack overflow on a hostile maxDepth) is still reported as bad input.
    throw new PhpUnserializeError(reader.pos, `readable input (${String(error)})`);
  }
  if (reader.pos !== input.length) reader.fail('end of input after the value');
  return value;
}
