// PHP's string encoders, reproduced byte for byte: MediaWiki builds Redis key names and the
// Special:RunJobs signature with them, so any difference means talking to different keys.

/** PHP rawurlencode(): RFC 3986, everything but A-Z a-z 0-9 - _ . ~ becomes %XX (uppercase hex). */
export function rawurlencode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** PHP rawurldecode(). Malformed escapes are left as they are, like PHP does. */
export function rawurldecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/** PHP urlencode(): like rawurlencode, but space becomes '+' and '~' becomes %7E (used by wfArrayToCgi). */
export function urlencode(value: string): string {
  return rawurlencode(value).replace(/%20/g, '+').replace(/~/g, '%7E');
}

/** PHP escapeshellarg() on Linux: single-quote the value, each ' written as '\''. */
export function escapeshellarg(value: string): string {
  return "'" + value.replace(/'/g, "'\\''") + "'";
}

/**
 * PHP json_encode() of a list of strings with default flags: '/' escaped as '\/', non-ASCII as
 * lowercase \uXXXX. Used for queue IDs such as ["refreshLinks","enwiki"].
 */
export function phpJsonEncodeStrings(values: readonly string[]): string {
  const parts = values.map((v) =>
    JSON.stringify(v)
      .replace(/\//g, '\\/')
      .replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')),
  );
  return '[' + parts.join(',') + ']';
}
