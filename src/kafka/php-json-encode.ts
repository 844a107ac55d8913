// PHP's json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), i.e. MediaWiki's
// FormatJson::encode($value, false, FormatJson::ALL_OK), which EventBus signs. Output is a fixed
// point of PHP's decode-then-encode, so a verifier that re-encodes the decoded body gets the same
// bytes: lists are [...], other arrays {...}, an empty array is [], zero-fraction floats print
// without ".0" (json_encode has no JSON_PRESERVE_ZERO_FRACTION here).
import { PhpArray, PhpFloat, PhpObject, phpFloatText, type PhpValue } from '../mediawiki/php-serialize.js';

export class PhpJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PhpJsonError';
  }
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** A JSON string as PHP writes it with unescaped slashes and unicode (U+2028/9 stay escaped). */
export function phpJsonString(text: string): string {
  if (/\p{Cs}/u.test(text))
    throw new PhpJsonError('string holds a lone UTF-16 surrogate (invalid UTF-8 in PHP)');
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/["\\\u0000-\u001f\u2028\u2029]/g, (c) => {
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) return short;
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return `"${escaped}"`;
}

function bufferText(value: Buffer): string {
  const text = value.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(value)) {
    throw new PhpJsonError('string is not valid UTF-8 (json_encode would fail)');
  }
  return text;
}

function keyText(key: number | bigint | string | Buffer): string {
  if (typeof key === 'number' || typeof key === 'bigint') return `"${String(key)}"`;
  return phpJsonString(Buffer.isBuffer(key) ? bufferText(key) : key);
}

export function phpJsonEncode(value: PhpValue): string {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof PhpFloat) {
    if (!Number.isFinite(value.value)) throw new PhpJsonError(`${value.value} cannot be encoded as JSON`);
    return phpFloatText(value.value).replace('E', 'e');
  }
  if (typeof value === 'string') return phpJsonString(value);
  if (Buffer.isBuffer(value)) return phpJsonString(bufferText(value));
  if (value instanceof PhpArray) {
    if (value.isList()) return `[${[...value.values()].map(phpJsonEncode).join(',')}]`;
    return `{${[...value.entries()].map(([k, v]) => `${keyText(k)}:${phpJsonEncode(v)}`).join(',')}}`;
  }
  if (value instanceof PhpObject) {
    const parts = [...value.properties.entries()].map(([k, v]) => `${keyText(k)}:${phpJsonEncode(v)}`);
    return `{${parts.join(',')}}`;
  }
  throw new PhpJsonError(`cannot encode ${typeof value}`);
}
