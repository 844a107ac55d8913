// Seeded generators of bad input for the fuzz suites: every case is reproducible from (seed, index),
// and a failing case is reported with both so it can be replayed alone.

export type Random = () => number;

/** Mulberry32. */
export function seeded(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function int(r: Random, min: number, max: number): number {
  return min + Math.floor(r() * (max - min + 1));
}

export function pick<T>(r: Random, items: readonly T[]): T {
  const item = items[Math.floor(r() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** Strings that have broken parsers, paths, shells and URLs before. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\n',
  '\r\n',
  '\0',
  '\u2028',
  '../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '$(touch /tmp/pwned)',
  '`id`',
  "'; rm -rf / #",
  '"; rm -rf / #',
  '| cat /etc/shadow',
  '&& reboot',
  '%(db)x',
  '%s%s%s%n',
  '{{x}}',
  '${HOME}',
  'http://evil.example/',
  '//evil.example/x',
  '@evil.example',
  '?a=1&b=2#frag',
  '%00',
  '%0d%0aSet-Cookie: x=1',
  'a\nb',
  '\u00e9\u0301',
  '\ud83d\ude00',
  '\ud800',
  'x'.repeat(5000),
  '-1',
  '1e309',
  'NaN',
  'null',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
];

/** A random JSON-ish value of any type, including the nasty strings. */
export function anyValue(r: Random, depth = 0): unknown {
  switch (int(r, 0, depth > 2 ? 6 : 8)) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return pick(r, [0, -1, 1, 2 ** 31, 2 ** 53 + 2, 0.5, -0.0, 1e308]);
    case 3:
    case 4:
      return pick(r, NASTY_STRINGS);
    case 5:
      return randomText(r, int(r, 0, 40));
    case 6:
      return int(r, -5, 100000);
    case 7:
      return Array.from({ length: int(r, 0, 3) }, () => anyValue(r, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = int(r, 0, 3); i > 0; i--) out[pick(r, NASTY_STRINGS)] = anyValue(r, depth + 1);
      return out;
    }
  }
}

/** Random text over printable ASCII, JSON/PHP punctuation and a few control and non-ASCII chars. */
export function randomText(r: Random, length: number): string {
  const alphabet = 'abcXYZ019 :;,{}[]"\'\\/%$`|&<>\n\t\u00e9\u0000sibadONC';
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(r() * alphabet.length)] ?? '';
  return s;
}

/** Random bytes, biased towards the bytes that matter to PHP serialize and gzip. */
export function randomBytes(r: Random, length: number): Buffer {
  const special = Buffer.from('sibadONC:;{}"0123456789\\\x00\xff\x1f\x8b');
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    out[i] = r() < 0.6 ? (special[Math.floor(r() * special.length)] ?? 0) : Math.floor(r() * 256);
  }
  return out;
}

/** One of: flip a byte, delete a span, duplicate a span, truncate, insert random bytes. */
export function mutateBytes(r: Random, input: Buffer): Buffer {
  if (input.length === 0) return randomBytes(r, int(r, 1, 16));
  const at = int(r, 0, input.length - 1);
  switch (int(r, 0, 4)) {
    case 0: {
      const copy = Buffer.from(input);
      copy[at] = Math.floor(r() * 256);
      return copy;
    }
    case 1:
      return Buffer.concat([
        input.subarray(0, at),
        input.subarray(Math.min(input.length, at + int(r, 1, 8))),
      ]);
    case 2: {
      const span = input.subarray(at, at + int(r, 1, 12));
      return Buffer.concat([input.subarray(0, at), span, span, input.subarray(at + span.length)]);
    }
    case 3:
      return input.subarray(0, at);
    default:
      return Buffer.concat([input.subarray(0, at), randomBytes(r, int(r, 1, 6)), input.subarray(at)]);
  }
}

/** Same for text. */
export function mutateText(r: Random, input: string): string {
  return mutateBytes(r, Buffer.from(input, 'utf8')).toString('utf8');
}
