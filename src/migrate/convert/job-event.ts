// mediawiki/job event (EventBus REL1_35+, reference kafka-jobqueue.md §3–§4) ⇄ MigratedJob.
//
// Job → event: the fields EventBus writes, in its key order; meta.id is the job ID with dashes,
// meta.dt the enqueue time, delay_until the release time, sha1 the dedup hash in hex (only for jobs
// that ignore duplicates), root_event from the root-job params, params as stored; signed with
// $wgSecretKey when one is given. Event → job: the reverse; attempts are not part of an event.
import { isUtf8 } from 'node:buffer';
import { sha1Base36ToHex, sha1HexToBase36 } from '../../mediawiki/dedup-sha1.js';
import { releaseTimestampToUnix } from '../../mediawiki/new-job.js';
import { PhpArray, PhpFloat, type PhpValue } from '../../mediawiki/php-serialize.js';
import { PLACEHOLDER_URI, JOB_SCHEMA, isoSeconds, signEventJson } from '../../kafka/job-event-builder.js';
import { phpJsonEncode, phpJsonString } from '../../kafka/php-json-encode.js';
import { JOB_STREAM_PREFIX } from '../../kafka/topics.js';
import { CorruptJobError, dashedUuid, idFromEventId, stableId, type MigratedJob } from '../job.js';
import { phpJsonDecode, PhpJsonDecodeError } from '../php-json-decode.js';

export interface EventOptions {
  /** $wgSecretKey; without it the event carries no mediawiki_signature. */
  readonly secretKey?: string;
  /** meta.domain (the wiki's host name); default the wiki ID. */
  readonly metaDomain?: (wiki: string) => string;
}

function tsMwToIso(value: PhpValue | undefined): string | undefined {
  if (typeof value !== 'string' || !/^[0-9]{14}$/.test(value)) return undefined;
  return `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}T${value.slice(8, 10)}:${value.slice(10, 12)}:${value.slice(12, 14)}Z`;
}

/**
 * Params as EventBus would send them: as stored, plus namespace/title from the top level when the
 * params lack them and the job has a real title (old JobQueueDB rows kept the title in columns only).
 */
function eventParams(job: MigratedJob): PhpArray {
  const titled = job.namespace !== -1 || job.title !== '';
  if (!titled || (job.params.has('namespace') && job.params.has('title'))) return job.params;
  const params = job.params.clone();
  if (!params.has('namespace')) params.set('namespace', job.namespace);
  if (!params.has('title')) params.set('title', job.title);
  return params;
}

export function jobToEvent(job: MigratedJob, options: EventOptions = {}): Buffer {
  const params = eventParams(job);
  const requestId = params.get('requestId');
  const q = phpJsonString;
  // The envelope is always the same object shape, so it is written directly (the same bytes
  // phpJsonEncode would give for it); only params go through the generic encoder.
  let json =
    `{"$schema":${q(JOB_SCHEMA)},"meta":{"uri":${q(PLACEHOLDER_URI)}` +
    `,"request_id":${q(typeof requestId === 'string' ? requestId : stableId(`request:${job.id}`).slice(0, 24))}` +
    `,"id":${q(dashedUuid(job.id))},"dt":${q(isoSeconds(job.enqueueTimestamp * 1000))}` +
    `,"domain":${q(options.metaDomain?.(job.wiki) ?? job.wiki)},"stream":${q(`${JOB_STREAM_PREFIX}${job.type}`)}}` +
    `,"database":${q(job.wiki)},"type":${q(job.type)}`;
  if (job.releaseTimestamp > 0) json += `,"delay_until":${q(isoSeconds(job.releaseTimestamp * 1000))}`;
  if (job.sha1 !== '') json += `,"sha1":${q(sha1Base36ToHex(job.sha1))}`;
  const signature = params.get('rootJobSignature');
  const rootDt = tsMwToIso(params.get('rootJobTimestamp'));
  if (typeof signature === 'string' && rootDt !== undefined) {
    json += `,"root_event":{"signature":${q(signature)},"dt":${q(rootDt)}}`;
  }
  json += `,"params":${phpJsonEncode(params)}}`;
  if (options.secretKey === undefined) return Buffer.from(json, 'utf8');
  // Appending the key to the object gives the same bytes as encoding it again with the key last.
  const signed = signEventJson(json, options.secretKey);
  return Buffer.from(`${json.slice(0, -1)},"mediawiki_signature":"${signed}"}`, 'utf8');
}

function field(array: PhpArray, name: string): PhpValue | undefined {
  return array.get(name);
}

function isoToUnix(value: PhpValue | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** delay_until: ISO-8601 since 2019, UNIX seconds before. */
function delayUntil(value: PhpValue | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value;
  if (value instanceof PhpFloat) return Math.floor(value.value);
  if (typeof value === 'string' && /^[0-9]{1,12}$/.test(value)) return Number(value);
  const unix = isoToUnix(value);
  if (unix === undefined)
    throw new CorruptJobError(`delay_until ${JSON.stringify(String(value))} is not a time`);
  return unix;
}

/**
 * @param now UNIX seconds: a job released later than this is 'delayed'
 * @throws CorruptJobError when the bytes are not a job event RunSingleJob could run
 */
export function eventToJob(bytes: Buffer, now: number): MigratedJob {
  if (bytes.length === 0) throw new CorruptJobError('empty message');
  if (!isUtf8(bytes)) throw new CorruptJobError('message is not valid UTF-8');
  let value: PhpValue;
  try {
    value = phpJsonDecode(bytes.toString('utf8'));
  } catch (error) {
    throw new CorruptJobError(
      `not JSON: ${error instanceof PhpJsonDecodeError ? error.message : String(error)}`,
    );
  }
  if (!(value instanceof PhpArray)) throw new CorruptJobError('not a JSON object');
  const type = field(value, 'type');
  const database = field(value, 'database');
  if (typeof type !== 'string' || type === '') throw new CorruptJobError("missing or empty 'type'");
  if (typeof database !== 'string' || database === '')
    throw new CorruptJobError("missing or empty 'database'");
  const params = field(value, 'params');
  if (!(params instanceof PhpArray)) throw new CorruptJobError("missing 'params' object");
  const meta = field(value, 'meta');
  const metaArray = meta instanceof PhpArray ? meta : new PhpArray();
  const metaId = field(metaArray, 'id');
  const namespace = params.get('namespace');
  const title = params.get('title');
  let release = delayUntil(field(value, 'delay_until'));
  if (release === undefined) {
    try {
      release = Number(releaseTimestampToUnix(params.get('jobReleaseTimestamp')) ?? 0);
    } catch (error) {
      throw new CorruptJobError(error instanceof Error ? error.message : String(error));
    }
  }
  const sha1 = field(value, 'sha1');
  return {
    id:
      typeof metaId === 'string' && metaId !== ''
        ? idFromEventId(metaId)
        : stableId(`event-bytes:${bytes.toString('base64')}`),
    type,
    wiki: database,
    namespace: typeof namespace === 'number' ? namespace : -1,
    title: typeof title === 'string' ? title : '',
    params,
    releaseTimestamp: release,
    enqueueTimestamp: isoToUnix(field(metaArray, 'dt')) ?? 0,
    sha1: typeof sha1 === 'string' && /^[0-9a-f]{40}$/.test(sha1) ? sha1HexToBase36(sha1) : '',
    attempts: 0,
    state: release > now ? 'delayed' : 'ready',
    claimedAt: null,
  };
}
