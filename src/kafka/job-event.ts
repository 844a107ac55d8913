// Reading a mediawiki/job event from the raw Kafka message. The bytes themselves are what gets
// POSTed (the signature covers them); this view only pulls out the fields the runner decides on.
import { JobEventError } from './errors.js';

export interface JobEventView {
  readonly type: string;
  readonly database: string;
  readonly id: string | undefined;
  /** meta.dt in ms, when present and valid. */
  readonly dtMs: number | undefined;
  readonly domain: string | undefined;
  readonly stream: string | undefined;
  readonly requestId: string | undefined;
  /** delay_until in ms; undefined when absent. */
  readonly delayUntilMs: number | undefined;
  readonly sha1: string | undefined;
  readonly rootSignature: string | undefined;
  /** root_event.dt in ms. */
  readonly rootDtMs: number | undefined;
  /** root_event.dt as written (dedup compares the stored value with it). */
  readonly rootDt: string | undefined;
  /** params.jobqueue_partition (CirrusSearch's search cluster), when a non-empty string. */
  readonly jobqueuePartition: string | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function isoMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * delay_until is ISO-8601 since 2019; before that it was UNIX seconds (a number or digit string).
 * Both are accepted. Anything else is an error rather than "run now" (change-propagation parsed it
 * to NaN and ran the job at once).
 */
export function parseDelayUntil(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  // A number too large for a time (1e308 s → Infinity ms) is rejected like any other bad value.
  if (typeof value === 'number' && Number.isFinite(value * 1000)) return value * 1000;
  if (typeof value === 'string' && /^[0-9]{1,12}(\.[0-9]+)?$/.test(value)) return Number(value) * 1000;
  const ms = isoMs(value);
  if (ms === undefined) {
    throw new JobEventError(`delay_until ${JSON.stringify(value)} is neither ISO-8601 nor UNIX seconds`);
  }
  return ms;
}

/** @throws JobEventError when the message is not a job event RunSingleJob could run */
export function parseJobEvent(raw: Buffer | undefined): JobEventView {
  if (raw === undefined || raw.length === 0) throw new JobEventError('empty message');
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new JobEventError(`not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isRecord(value)) throw new JobEventError('not a JSON object');
  const type = value.type;
  const database = value.database;
  if (typeof type !== 'string' || type === '') throw new JobEventError("missing or empty 'type'");
  if (typeof database !== 'string' || database === '') {
    throw new JobEventError("missing or empty 'database'");
  }
  // PHP writes empty params as [] and others as {...}.
  const params = value.params;
  if (!isRecord(params) && !(Array.isArray(params) && params.length === 0)) {
    throw new JobEventError("missing 'params' object");
  }
  const meta = isRecord(value.meta) ? value.meta : {};
  const root = isRecord(value.root_event) ? value.root_event : undefined;
  return {
    type,
    database,
    id: optionalString(meta.id),
    dtMs: isoMs(meta.dt),
    domain: optionalString(meta.domain),
    stream: optionalString(meta.stream),
    requestId: optionalString(meta.request_id),
    delayUntilMs: parseDelayUntil(value.delay_until),
    sha1: optionalString(value.sha1),
    rootSignature: root ? optionalString(root.signature) : undefined,
    rootDtMs: root ? isoMs(root.dt) : undefined,
    rootDt: root ? optionalString(root.dt) : undefined,
    jobqueuePartition: isRecord(params) ? optionalString(params.jobqueue_partition) : undefined,
  };
}
