// The original dispatcher placeholders: %(db) %(type) %(maxtime) %(maxmem), each with an encoding
// suffix, `u` (PHP rawurlencode) or `x` (PHP escapeshellarg) — original-jobrunner.md §4.5.
// Added here: %(maxjobs), runner.maxJobsPerDispatch ("0" = no limit, as runJobs.php --maxjobs=0).
import { rawurlencode } from '../../mediawiki/php-encoding.js';
import type { DispatchRequest } from './types.js';

export type PlaceholderName = 'db' | 'type' | 'maxtime' | 'maxmem' | 'maxjobs';
export type PlaceholderEncoding = 'u' | 'x';
export type PlaceholderValues = Readonly<Record<PlaceholderName, string>>;

export interface Placeholder {
  readonly name: PlaceholderName;
  readonly encoding: PlaceholderEncoding;
}

/** A dispatcher template or base URL that can never work; thrown when the dispatcher is created. */
export class DispatchConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DispatchConfigError';
  }
}

/**
 * A value that would change where a URL points: '.' or '..' as a whole path segment, which the URL
 * parser resolves (also when percent-encoded as %2e, so encoding cannot keep it). Per request: that
 * dispatch fails and its jobs stay queued.
 */
export class UnsafeUrlValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeUrlValueError';
  }
}

const NAMES: readonly string[] = ['db', 'type', 'maxtime', 'maxmem', 'maxjobs'];
const PLACEHOLDER = /%\(([A-Za-z_][A-Za-z0-9_]*)\)([A-Za-z])/y;

/**
 * The placeholder starting at `index` of `text`, with its length, or null when `text[index]` does
 * not start one. Anything shaped like a placeholder but unknown is a configuration error (the
 * original left it in the command, where it broke the shell or the URL).
 */
export function placeholderAt(
  text: string,
  index: number,
  where: string,
): { placeholder: Placeholder; length: number } | null {
  PLACEHOLDER.lastIndex = index;
  const match = PLACEHOLDER.exec(text);
  if (!match) return null;
  const [whole, name = '', encoding = ''] = match;
  if (!NAMES.includes(name) || (encoding !== 'u' && encoding !== 'x')) {
    throw new DispatchConfigError(
      `${where}: unknown placeholder ${whole}; known are %(db)x %(type)x %(maxtime)x %(maxmem)x %(maxjobs)x ` +
        `(x = shell-escaped, u = URL-encoded)`,
    );
  }
  return { placeholder: { name: name as PlaceholderName, encoding }, length: whole.length };
}

/** Values for one dispatch; %(db) is the wiki ID. */
export function placeholderValues(request: DispatchRequest): PlaceholderValues {
  return {
    db: request.wiki,
    type: request.type,
    maxtime: String(request.maxTime),
    maxmem: request.maxMem,
    maxjobs: String(request.maxJobs),
  };
}

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/** The dot segments ('.', '..', '%2e%2e'…) of a URL's path, before any parser resolves them. */
function dotSegments(url: string): string[] {
  const path = url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, '').split(/[?#]/, 1)[0] ?? '';
  return path.split(/[/\\]/).filter((segment) => DOT_SEGMENT.test(segment));
}

/**
 * Renders a URL template: %(…)u is rawurlencoded. %(…)x (shell quoting) means nothing inside a
 * URL, so it is refused; checkUrlTemplate() reports that when the dispatcher is created.
 * @throws UnsafeUrlValueError when a value makes a dot segment in the path (e.g. wiki ID '..' in
 *   http://host/%(db)u/w/index.php would reach http://host/w/index.php)
 */
export function renderUrlTemplate(template: string, values: PlaceholderValues, where: string): string {
  const url = renderValues(template, values, where);
  const dots = dotSegments(url);
  if (dots.length > 0) {
    throw new UnsafeUrlValueError(
      `${where}: wiki ${JSON.stringify(values.db)} / type ${JSON.stringify(values.type)} would put the ` +
        `dot segment ${JSON.stringify(dots[0])} into the URL path, which sends the request elsewhere; not dispatched`,
    );
  }
  return url;
}

function renderValues(template: string, values: PlaceholderValues, where: string): string {
  let out = '';
  for (let i = 0; i < template.length;) {
    const found = template[i] === '%' ? placeholderAt(template, i, where) : null;
    if (!found) {
      out += template[i];
      i++;
      continue;
    }
    if (found.placeholder.encoding === 'x') {
      throw new DispatchConfigError(
        `${where}: %(${found.placeholder.name})x is shell quoting and cannot be used in a URL; ` +
          `use %(${found.placeholder.name})u`,
      );
    }
    out += rawurlencode(values[found.placeholder.name]);
    i += found.length;
  }
  return out;
}

/** Validates a URL template with sample values; returns the parsed sample URL. */
export function checkUrlTemplate(template: string, where: string): URL {
  const sample = renderValues(
    template,
    { db: 'wiki', type: 'type', maxtime: '30', maxmem: '300M', maxjobs: '0' },
    where,
  );
  let url: URL;
  try {
    url = new URL(sample);
  } catch {
    throw new DispatchConfigError(`${where}: ${JSON.stringify(template)} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DispatchConfigError(`${where}: URL must be http:// or https://, got ${url.protocol}`);
  }
  const dots = dotSegments(sample);
  if (dots.length > 0) {
    throw new DispatchConfigError(
      `${where}: the URL path has the dot segment ${JSON.stringify(dots[0])}; write the path without it`,
    );
  }
  return url;
}
