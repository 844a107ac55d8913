// JSON views of PHP values, for operators (jobqueue CLI output, status pages) and for building job
// params from JSON input. The view is lossy on purpose (ints and floats both become numbers); the
// PhpValue itself stays the source of truth for anything written back to Redis.
import { PhpArray, PhpFloat, PhpSerializeError, phpFloatText, type PhpValue } from './php-serialize.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * PHP value → JSON: lists become arrays, other arrays objects (JS puts integer-like keys first),
 * int64 beyond 2^53 and non-finite floats PHP's INF/-INF/NAN strings, binary strings {"$binary": base64},
 * objects {"$class": name, ...properties}.
 */
export function phpToJson(value: PhpValue): JsonValue {
  if (
    value === null ||
    typeof value === 'boolean' ||
    typeof value === 'number' ||
    typeof value === 'string'
  ) {
    return value;
  }
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof PhpFloat)
    return Number.isFinite(value.value) ? value.value : phpFloatText(value.value);
  if (Buffer.isBuffer(value)) return { $binary: value.toString('base64') };
  if (value instanceof PhpArray) {
    if (value.isList()) return [...value.values()].map(phpToJson);
    return entriesToObject(value);
  }
  return { $class: value.className, ...entriesToObject(value.properties) };
}

function entriesToObject(array: PhpArray): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const [key, item] of array) {
    const name = Buffer.isBuffer(key) ? key.toString('latin1') : String(key);
    out[name] = phpToJson(item);
  }
  return out;
}

/**
 * JSON → PHP value: integers become PHP ints, other numbers floats, arrays lists, objects arrays
 * (keys like "202" become int keys, as in PHP). Throws PhpSerializeError naming the path of a value
 * JSON should not contain.
 */
export function jsonToPhp(value: unknown, path = '$'): PhpValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PhpSerializeError(`${path}: ${value} is not a JSON number`);
    return Number.isSafeInteger(value) ? value : new PhpFloat(value);
  }
  if (Array.isArray(value)) return PhpArray.list(value.map((item, i) => jsonToPhp(item, `${path}[${i}]`)));
  if (typeof value === 'object') {
    const array = new PhpArray();
    for (const [key, item] of Object.entries(value)) array.set(key, jsonToPhp(item, `${path}.${key}`));
    return array;
  }
  throw new PhpSerializeError(`${path}: ${typeof value} cannot be a PHP value`);
}
