// PHP json_decode($text, true) into PhpValues: object key order kept exactly (JSON.parse would move
// integer-like keys such as refreshLinks' page IDs to the front), ints and floats kept apart
// ("1" → i:1, "1.0" → d:1), {} and [] both arrays as in PHP. Used to turn a mediawiki/job event's
// params back into the PHP array MediaWiki would have built from it.
import { PhpArray, PhpFloat, type PhpValue } from '../mediawiki/php-serialize.js';

export class PhpJsonDecodeError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at character ${offset}`);
    this.name = 'PhpJsonDecodeError';
  }
}

const MAX_DEPTH = 512;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string): never {
    throw new PhpJsonDecodeError(message, this.pos);
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  value(depth: number): PhpValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === 't' && this.text.startsWith('true', this.pos)) return ((this.pos += 4), true);
    if (c === 'f' && this.text.startsWith('false', this.pos)) return ((this.pos += 5), false);
    if (c === 'n' && this.text.startsWith('null', this.pos)) return ((this.pos += 4), null);
    return this.number();
  }

  object(depth: number): PhpArray {
    this.pos++;
    const out = new PhpArray();
    this.skipSpace();
    if (this.text[this.pos] === '}') return (this.pos++, out);
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      out.set(key, this.value(depth + 1));
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === '}') return out;
      if (next !== ',') this.fail("expected ',' or '}'");
    }
  }

  array(depth: number): PhpArray {
    this.pos++;
    const out = new PhpArray();
    this.skipSpace();
    if (this.text[this.pos] === ']') return (this.pos++, out);
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === ']') return out;
      if (next !== ',') this.fail("expected ',' or ']'");
    }
  }

  string(): string {
    const start = ++this.pos;
    let out = '';
    let chunkStart = start;
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (Number.isNaN(c)) this.fail('unterminated string');
      if (c === 0x22) {
        out += this.text.slice(chunkStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += this.text.slice(chunkStart, this.pos);
      const escape = this.text[this.pos + 1];
      this.pos += 2;
      switch (escape) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = this.text.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.fail('bad escape');
      }
      chunkStart = this.pos;
    }
  }

  number(): PhpValue {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(
      this.text.slice(this.pos, this.pos + 400),
    );
    if (!match) this.fail('unexpected character');
    const text = match[0];
    this.pos += text.length;
    if (match[2] === undefined && match[3] === undefined) {
      const big = BigInt(text);
      if (big >= INT64_MIN && big <= INT64_MAX) {
        return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(big)
          : big;
      }
    }
    return new PhpFloat(Number(text)); // PHP: beyond int64 is a float too
  }
}

/** json_decode($text, true) of already UTF-8-checked text; throws PhpJsonDecodeError on bad JSON. */
export function phpJsonDecode(text: string): PhpValue {
  const parser = new Parser(text);
  const value = parser.value(0);
  parser.skipSpace();
  if (parser.pos !== text.length) parser.fail('trailing characters');
  return value;
}
