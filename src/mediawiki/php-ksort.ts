// PHP 8 ksort() with default flags (SORT_REGULAR), needed to hash job params the way MediaWiki does.
// Key comparison follows PHP 8: int/int numerically; string/string numerically when both are numeric
// strings, else bytewise; int/string numerically when the string is numeric, else the int's decimal
// text bytewise against the string. Ties keep insertion order (PHP 8 sorts are stable).
// PHP's own algorithm (insertion sort / hybrid quicksort) is not reproduced: for pathological key
// sets where this comparison is not transitive, the order can differ from PHP's.
import { PhpArray, type PhpKey } from './php-serialize.js';

type Numeric =
  { readonly kind: 'int'; readonly value: bigint } | { readonly kind: 'float'; readonly value: number };

const WHITESPACE = /^[ \t\n\r\v\f]*|[ \t\n\r\v\f]*$/g;

/** PHP's is_numeric_string(): optional surrounding whitespace, sign, decimal or float syntax. */
function numericString(bytes: Buffer): Numeric | null {
  const text = bytes.toString('latin1').replace(WHITESPACE, '');
  if (!/^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text)) return null;
  if (/^[+-]?[0-9]+$/.test(text)) {
    const value = BigInt(text);
    if (value >= -(2n ** 63n) && value < 2n ** 63n) return { kind: 'int', value };
  }
  return { kind: 'float', value: Number(text) };
}

function compareNumeric(a: Numeric, b: Numeric): number {
  if (a.kind === 'int' && b.kind === 'int') return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  const x = Number(a.value);
  const y = Number(b.value);
  return x < y ? -1 : x > y ? 1 : 0;
}

function keyBytes(key: string | Buffer): Buffer {
  return Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
}

function compareBytes(a: Buffer, b: Buffer): number {
  return Math.sign(Buffer.compare(a, b));
}

/** PHP 8's comparison of two array keys under ksort(SORT_REGULAR). */
export function comparePhpKeys(a: PhpKey, b: PhpKey): number {
  const aInt = typeof a === 'number' || typeof a === 'bigint';
  const bInt = typeof b === 'number' || typeof b === 'bigint';
  if (aInt && bInt)
    return compareNumeric({ kind: 'int', value: BigInt(a) }, { kind: 'int', value: BigInt(b) });
  if (!aInt && !bInt) {
    const aBytes = keyBytes(a);
    const bBytes = keyBytes(b);
    const aNum = numericString(aBytes);
    const bNum = aNum && numericString(bBytes);
    return aNum && bNum ? compareNumeric(aNum, bNum) : compareBytes(aBytes, bBytes);
  }
  if (aInt && !bInt) return compareIntToString(BigInt(a), keyBytes(b));
  if (!aInt && bInt) return -compareIntToString(BigInt(b), keyBytes(a));
  return 0;
}

function compareIntToString(value: bigint, text: Buffer): number {
  const numeric = numericString(text);
  if (numeric) return compareNumeric({ kind: 'int', value }, numeric);
  return compareBytes(Buffer.from(String(value), 'latin1'), text);
}

/** ksort($array) as a new array (the input is left alone). */
export function phpKsort(array: PhpArray): PhpArray {
  const entries = [...array.entries()];
  entries.sort(([a], [b]) => comparePhpKeys(a, b)); // Array#sort is stable
  return PhpArray.from(entries);
}
