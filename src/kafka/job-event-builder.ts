// Builds mediawiki/job events the way EventBus (REL1_35+, JobQueueEventBus) does: the same fields in
// the same key order, ISO-8601 times, the dedup sha1 in hex, root_event from the root-job params,
// and mediawiki_signature = hex HMAC-SHA1 (keyed with $wgSecretKey) of the compact PHP JSON of the
// event without the signature (FormatJson::ALL_OK).
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { dedupSha1, type DedupOptions } from '../mediawiki/dedup-sha1.js';
import { jsonToPhp } from '../mediawiki/php-json.js';
import { PhpArray, PhpFloat, type PhpValue } from '../mediawiki/php-serialize.js';
import { JobSpecError } from './errors.js';
import { phpJsonEncode } from './php-json-encode.js';
import { JOB_STREAM_PREFIX } from './topics.js';

export const JOB_SCHEMA = '/mediawiki/job/1.0.0';
/** EventBus's deprecated meta.uri placeholder (T221368). */
export const PLACEHOLDER_URI = 'https://placeholder.invalid/wiki/Special:Badtitle';

export interface JobEventSpec {
  readonly type: string;
  /** The wiki ID (JobQueue::getDomain()), e.g. "enwiki". */
  readonly database: string;
  /** Job params: a plain JSON object (ints stay ints, other numbers become floats) or a PhpArray. */
  readonly params?: Readonly<Record<string, unknown>> | PhpArray;
  /** meta.domain: the wiki's host name; default the database name. */
  readonly domain?: string;
  /** Delayed job: release time (UNIX seconds); written to params.jobReleaseTimestamp and delay_until. */
  readonly releaseTimestamp?: number;
  /**
   * Job::ignoreDuplicates(): adds `sha1`. Params are left as given: core classes keep the flag out
   * of params (a NullJob-style job that reads it from params must have it there).
   */
  readonly removeDuplicates?: boolean;
  /**
   * Which getDeduplicationInfo() the sha1 follows; default as Job objects do. Variant
   * 'jobSpecification' also means no params.requestId: only Job objects add one.
   */
  readonly dedup?: DedupOptions;
  /** Root job: the key given to Job::newRootJobParams(); adds rootJob* params and root_event. */
  readonly rootJobKey?: string;
  /** meta.id; default a fresh UUIDv4. */
  readonly id?: string;
  /** meta.request_id (and params.requestId when absent, for Job objects); default a fresh ID. */
  readonly requestId?: string;
}

export interface BuildEventOptions {
  /** $wgSecretKey; without it the event has no mediawiki_signature. */
  readonly secretKey?: string;
  readonly now?: Date;
}

export interface BuiltJobEvent {
  /** The event's stream (mediawiki.job.<type>). */
  readonly stream: string;
  readonly id: string;
  /** The exact bytes to produce. */
  readonly bytes: Buffer;
}

/** wfTimestamp(TS_ISO_8601): whole seconds, UTC, "Z". */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** TS_MW (YYYYMMDDHHMMSS, UTC) → ISO-8601. */
function mwTimestampToIso(value: PhpValue | undefined): string | undefined {
  if (typeof value !== 'string' || !/^[0-9]{14}$/.test(value)) return undefined;
  return `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}T${value.slice(8, 10)}:${value.slice(10, 12)}:${value.slice(12, 14)}Z`;
}

function toParams(params: JobEventSpec['params']): PhpArray {
  if (params === undefined) return new PhpArray();
  if (params instanceof PhpArray) return params.clone();
  const value = jsonToPhp(params, 'params');
  if (!(value instanceof PhpArray)) throw new JobSpecError('params must be a JSON object');
  return value;
}

/** The HMAC-SHA1 hex signature of an event without its mediawiki_signature. */
export function signEventJson(unsignedJson: string, secretKey: string): string {
  return createHmac('sha1', secretKey).update(unsignedJson, 'utf8').digest('hex');
}

function newRequestId(): string {
  return createHash('sha1').update(randomUUID()).digest('hex').slice(0, 24);
}

export function buildJobEvent(spec: JobEventSpec, options: BuildEventOptions = {}): BuiltJobEvent {
  if (typeof spec.type !== 'string' || spec.type === '' || /\s/.test(spec.type)) {
    throw new JobSpecError(`job type ${JSON.stringify(spec.type)} must be a non-empty name without spaces`);
  }
  if (typeof spec.database !== 'string' || spec.database === '') {
    throw new JobSpecError('database (the wiki ID) must be a non-empty string');
  }
  const nowMs = (options.now ?? new Date()).getTime();
  const params = toParams(spec.params);
  const requestId =
    spec.requestId ??
    (typeof params.get('requestId') === 'string' ? String(params.get('requestId')) : newRequestId());
  // Job::__construct adds requestId to params; a JobSpecification does not.
  const jobObject = (spec.dedup?.variant ?? 'job') === 'job';
  if (jobObject && !params.has('requestId')) params.set('requestId', requestId);
  if (spec.releaseTimestamp !== undefined) {
    if (!Number.isFinite(spec.releaseTimestamp))
      throw new JobSpecError('releaseTimestamp must be UNIX seconds');
    params.set('jobReleaseTimestamp', Math.floor(spec.releaseTimestamp));
  }
  if (spec.rootJobKey !== undefined) {
    const sig = createHash('sha1').update(spec.rootJobKey, 'utf8').digest('hex');
    const ts = isoSeconds(nowMs).replace(/[-:TZ]/g, '');
    params.set('rootJobIsSelf', true).set('rootJobSignature', sig).set('rootJobTimestamp', ts);
  }

  const stream = `${JOB_STREAM_PREFIX}${spec.type}`;
  const id = spec.id ?? randomUUID();
  const meta = PhpArray.from([
    ['uri', PLACEHOLDER_URI],
    ['request_id', requestId],
    ['id', id],
    ['dt', isoSeconds(nowMs)],
    ['domain', spec.domain ?? spec.database],
    ['stream', stream],
  ]);
  const event = PhpArray.from([
    ['$schema', JOB_SCHEMA],
    ['meta', meta],
    ['database', spec.database],
    ['type', spec.type],
  ]);
  const release = params.get('jobReleaseTimestamp');
  const releaseSeconds =
    typeof release === 'number' ? release : release instanceof PhpFloat ? release.value : undefined;
  if (releaseSeconds !== undefined && releaseSeconds > 0) {
    event.set('delay_until', isoSeconds(releaseSeconds * 1000));
  }
  if (spec.removeDuplicates) event.set('sha1', dedupSha1(spec.type, params, spec.dedup).hex);
  const rootSignature = params.get('rootJobSignature');
  const rootDt = mwTimestampToIso(params.get('rootJobTimestamp'));
  if (typeof rootSignature === 'string' && rootDt !== undefined) {
    event.set(
      'root_event',
      PhpArray.from([
        ['signature', rootSignature],
        ['dt', rootDt],
      ]),
    );
  }
  event.set('params', params);
  let json = phpJsonEncode(event);
  if (options.secretKey !== undefined) {
    const signature = signEventJson(json, options.secretKey);
    event.set('mediawiki_signature', signature);
    json = phpJsonEncode(event);
  }
  return { stream, id, bytes: Buffer.from(json, 'utf8') };
}
