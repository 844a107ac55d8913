// Signing of Special:RunJobs requests, byte for byte as MediaWiki core checks them
// (SpecialRunJobs::getQuerySignature, runjobs-contract.md §5.2): keep the recognised parameters,
// drop `signature`, ksort, wfArrayToCgi (PHP urlencode), lowercase hex HMAC-SHA1 under $wgSecretKey.
import { createHmac } from 'node:crypto';
import { urlencode } from './php-encoding.js';

/** The parameter names Special:RunJobs reads; only these are signed. */
export const SPECIAL_RUNJOBS_PARAMS: readonly string[] = [
  'title',
  'tasks',
  'sigexpiry',
  'signature',
  'maxjobs',
  'maxtime',
  'type',
  'async',
  'stats',
];

export type RunJobsParams = Readonly<Record<string, string | number>>;

/** MediaWiki wfArrayToCgi() for flat string/number values, in the given key order. */
export function wfArrayToCgi(params: RunJobsParams): string {
  return Object.entries(params)
    .map(([key, value]) => `${urlencode(key)}=${urlencode(String(value))}`)
    .join('&');
}

/** PHP ksort() of string keys that are not numeric: plain byte order. */
function ksorted(params: RunJobsParams): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const key of Object.keys(params).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    out[key] = params[key] as string | number;
  }
  return out;
}

/** The exact string MediaWiki signs for these parameters. */
export function runJobsStringToSign(params: RunJobsParams): string {
  const signed: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(params)) {
    if (key !== 'signature' && SPECIAL_RUNJOBS_PARAMS.includes(key)) signed[key] = value;
  }
  return wfArrayToCgi(ksorted(signed));
}

/** Lowercase hex HMAC-SHA1 of runJobsStringToSign(params) keyed with `secret` ($wgSecretKey). */
export function signRunJobsParams(params: RunJobsParams, secret: string): string {
  return createHmac('sha1', secret).update(runJobsStringToSign(params), 'utf8').digest('hex');
}

/** Form body for the POST: the signed parameters (sorted) plus `&signature=<hex>`. */
export function signedRunJobsBody(params: RunJobsParams, secret: string): string {
  return `${runJobsStringToSign(params)}&signature=${signRunJobsParams(params, secret)}`;
}
