// The exact bytes of each event in an intake request body: the body itself for one event, or each
// element of a top-level JSON array. Events are produced as these slices, never re-serialized, so
// mediawiki_signature (computed by MediaWiki over its own compact JSON) still verifies; a
// JSON.parse/JSON.stringify copy would move number-like keys (e.g. `pages` maps keyed by page ID)
// to the front and drop the ".0" of floats.
//
// The body must already be known to be valid JSON (JSON.parse succeeded): this scanner only finds
// where top-level values begin and end.

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = new Set([0x5b, 0x7b]); // [ {
const CLOSE = new Set([0x5d, 0x7d]); // ] }
const COMMA = 0x2c;

function skipSpace(body: Buffer, i: number): number {
  while (i < body.length && SPACE.has(body[i] as number)) i++;
  return i;
}

/** Index just past the string starting at body[i] (a quote). */
function skipString(body: Buffer, i: number): number {
  for (i++; i < body.length; i++) {
    const c = body[i];
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return i;
}

/** Index just past the JSON value starting at body[i]. */
function skipValue(body: Buffer, i: number): number {
  const first = body[i] as number;
  if (first === QUOTE) return skipString(body, i);
  if (OPEN.has(first)) {
    let depth = 0;
    while (i < body.length) {
      const c = body[i] as number;
      if (c === QUOTE) {
        i = skipString(body, i);
        continue;
      }
      if (OPEN.has(c)) depth++;
      else if (CLOSE.has(c) && --depth === 0) return i + 1;
      i++;
    }
    return i;
  }
  // number, true, false, null
  while (i < body.length) {
    const c = body[i] as number;
    if (c === COMMA || CLOSE.has(c) || SPACE.has(c)) break;
    i++;
  }
  return i;
}

/**
 * One Buffer view (no copy) per event: array elements in order, or the one value. `isArray` tells
 * which the body was.
 */
export function eventSlices(body: Buffer): { isArray: boolean; slices: Buffer[] } {
  let i = skipSpace(body, 0);
  if (body[i] !== 0x5b) {
    const end = skipValue(body, i);
    return { isArray: false, slices: [body.subarray(i, end)] };
  }
  const slices: Buffer[] = [];
  i = skipSpace(body, i + 1);
  while (i < body.length && body[i] !== 0x5d) {
    const end = skipValue(body, i);
    slices.push(body.subarray(i, end));
    i = skipSpace(body, end);
    if (body[i] === COMMA) i = skipSpace(body, i + 1);
  }
  return { isArray: true, slices };
}
