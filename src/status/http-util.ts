// Small HTTP helpers for the status server: responses with safe default headers (every body passes
// through the secret masker), bounded JSON request bodies, typed query parameters.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { maskStrings } from '../observability/secret-mask.js';

export type Masker = (text: string) => string;

/** A request the server refuses with a status and a plain message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const COMMON_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

export function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType: string,
  mask: Masker,
  headers: Record<string, string> = {},
): void {
  const payload = Buffer.from(mask(body), 'utf8');
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'Content-Type': contentType,
    'Content-Length': String(payload.length),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : payload);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  mask: Masker,
  headers: Record<string, string> = {},
): void {
  // Masked string by string before serializing: JSON escaping would hide a secret with `"` or `\`.
  send(
    res,
    status,
    JSON.stringify(maskStrings(value, mask)),
    'application/json; charset=utf-8',
    mask,
    headers,
  );
}

/** Reads a JSON object body of at most `maxBytes`. */
export async function readJsonBody(
  req: IncomingMessage,
  maxBytes = 16 * 1024,
): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'expected a JSON body (Content-Type: application/json)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) throw new HttpError(413, `request body larger than ${maxBytes} bytes`);
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** A non-empty string field of a request body, or undefined when absent. */
export function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new HttpError(400, `"${name}" must be a string`);
  return value;
}

export function requiredString(body: Record<string, unknown>, name: string): string {
  const value = optionalString(body, name);
  if (value === undefined) throw new HttpError(400, `"${name}" is required`);
  return value;
}

/** An integer query parameter within [min, max], or the default when absent. */
export function intParam(
  params: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new HttpError(400, `query parameter "${name}" must be a whole number`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new HttpError(400, `query parameter "${name}" must be between ${min} and ${max}`);
  return value;
}

/** A query parameter that must be one of `allowed`, or undefined when absent. */
export function enumParam<T extends string>(
  params: URLSearchParams,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new HttpError(400, `query parameter "${name}" must be one of ${allowed.join(', ')}`);
  }
  return raw as T;
}

export function stringParam(params: URLSearchParams, name: string): string | undefined {
  const raw = params.get(name);
  return raw === null || raw === '' ? undefined : raw;
}
