// The job blob stored in `h-data` (reference: mediawiki-redis-queue.md §4): PHP serialize() of
// [type, namespace, title, params, rtimestamp, uuid, sha1, timestamp] in that order, optionally in
// the gzip envelope O:8:"stdClass":2:{s:4:"blob";<raw DEFLATE>;s:3:"enc";s:4:"gzip";}.
import { randomUUID } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { phpToJson, type JsonValue } from './php-json.js';
import {
  PhpArray,
  PhpFloat,
  PhpObject,
  PhpUnserializeError,
  phpSerialize,
  phpUnserialize,
  type PhpValue,
} from './php-serialize.js';

/** MediaWiki writes the envelope only for plain blobs of at least this many bytes. */
export const GZIP_MIN_BYTES = 1024;
/** Upper bound on an inflated blob, so a hostile envelope cannot exhaust memory. */
export const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

export const JOB_FIELD_ORDER = [
  'type',
  'namespace',
  'title',
  'params',
  'rtimestamp',
  'uuid',
  'sha1',
  'timestamp',
] as const;

/** What encodeJobBlob() writes. */
export interface JobFields {
  readonly type: string;
  /** params.namespace, or -1 (NS_SPECIAL) for jobs without a title. */
  readonly namespace: number;
  /** params.title (DB key), or ''. */
  readonly title: string;
  readonly params: PhpArray;
  /** Release UNIX time, 0 when not delayed. MediaWiki writes delayed ones as a digit string. */
  readonly rtimestamp: number | string;
  /** 32 lowercase hex; also the job ID. */
  readonly uuid: string;
  /** 31-char base-36 dedup hash, or '' when the job does not ignore duplicates. */
  readonly sha1: string;
  /** Enqueue UNIX time. */
  readonly timestamp: number;
}

/** A decoded blob: the fields in friendly form, plus what is needed to reproduce it exactly. */
export interface JobBlob extends JobFields {
  readonly rtimestamp: number;
  /** How it was stored. */
  readonly compression: 'gzip' | null;
  /** JSON view of params for operators (lossy: see phpToJson). */
  readonly paramsJson: JsonValue;
  /** The decoded top-level array as stored; encodeJobFields(fields) gives the plain blob back. */
  readonly fields: PhpArray;
}

/** A blob that MediaWiki could not turn into a job either (its unserialize() gives false). */
export class JobBlobError extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'JobBlobError';
  }
}

/** A new job ID: UUIDv4 as 32 lowercase hex (GlobalIdGenerator::newRawUUIDv4). */
export function newJobUuid(): string {
  return randomUUID().replace(/-/g, '');
}

function unserializeOrThrow(bytes: Buffer, what: string): PhpValue {
  try {
    return phpUnserialize(bytes);
  } catch (error) {
    if (error instanceof PhpUnserializeError) {
      throw new JobBlobError(`${what}: ${error.message}`, error.offset);
    }
    throw new JobBlobError(`${what}: ${String(error)}`);
  }
}

/** Undoes the gzip envelope exactly as JobQueueRedis::unserialize() does. */
function openEnvelope(envelope: PhpObject): Buffer {
  const enc = envelope.properties.get('enc');
  if (enc !== 'gzip') throw new JobBlobError(`blob is a ${envelope.className} object without enc "gzip"`);
  const deflated = envelope.properties.get('blob');
  if (typeof deflated !== 'string' && !Buffer.isBuffer(deflated)) {
    throw new JobBlobError('gzip envelope has no string "blob"');
  }
  const bytes = Buffer.isBuffer(deflated) ? deflated : Buffer.from(deflated, 'utf8');
  try {
    return inflateRawSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (error) {
    throw new JobBlobError(`gzip envelope does not inflate: ${(error as Error).message}`);
  }
}

function intField(fields: PhpArray, name: string): number {
  const value = fields.get(name);
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?[0-9]{1,15}$/.test(value)) return Number(value);
  throw new JobBlobError(`job field "${name}" is ${describe(value)}, not an integer`);
}

function stringField(fields: PhpArray, name: string): string {
  const value = fields.get(name);
  if (typeof value === 'string') return value;
  throw new JobBlobError(`job field "${name}" is ${describe(value)}, not a UTF-8 string`);
}

function describe(value: PhpValue | undefined): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (value instanceof PhpArray) return 'an array';
  if (value instanceof PhpFloat) return 'a float';
  if (value instanceof PhpObject) return `a ${value.className} object`;
  if (Buffer.isBuffer(value)) return 'a binary string';
  return `${typeof value} ${JSON.stringify(String(value))}`;
}

/** Decodes an `h-data` value. Throws only JobBlobError (never for a readable MediaWiki blob). */
export function decodeJobBlob(raw: Buffer): JobBlob {
  let value = unserializeOrThrow(raw, 'blob');
  let compression: 'gzip' | null = null;
  if (value instanceof PhpObject) {
    value = unserializeOrThrow(openEnvelope(value), 'inflated gzip blob');
    compression = 'gzip';
  }
  if (!(value instanceof PhpArray)) throw new JobBlobError(`blob holds ${describe(value)}, not an array`);
  const params = value.get('params');
  if (!(params instanceof PhpArray))
    throw new JobBlobError(`job field "params" is ${describe(params)}, not an array`);
  const type = stringField(value, 'type');
  if (type === '') throw new JobBlobError('job field "type" is empty');
  return {
    type,
    namespace: intField(value, 'namespace'),
    title: stringField(value, 'title'),
    params,
    rtimestamp: intField(value, 'rtimestamp'),
    uuid: stringField(value, 'uuid'),
    sha1: stringField(value, 'sha1'),
    timestamp: intField(value, 'timestamp'),
    compression,
    paramsJson: phpToJson(params),
    fields: value,
  };
}

/** The top-level array in MediaWiki's field order. */
export function jobFieldsArray(job: JobFields): PhpArray {
  return PhpArray.from([
    ['type', job.type],
    ['namespace', job.namespace],
    ['title', job.title],
    ['params', job.params],
    ['rtimestamp', job.rtimestamp],
    ['uuid', job.uuid],
    ['sha1', job.sha1],
    ['timestamp', job.timestamp],
  ]);
}

export interface EncodeOptions {
  /** 'gzip' = the queue's top-level `compression => 'gzip'`. */
  readonly compression?: 'gzip' | null;
}

/** JobQueueRedis::serialize() of an already-built field array. */
export function encodeJobFields(fields: PhpArray, options: EncodeOptions = {}): Buffer {
  const blob = phpSerialize(fields);
  if (options.compression !== 'gzip' || blob.length < GZIP_MIN_BYTES) return blob;
  const envelope = new PhpObject(
    'stdClass',
    PhpArray.from([
      ['blob', deflateRawSync(blob)],
      ['enc', 'gzip'],
    ]),
  );
  const packed = phpSerialize(envelope);
  return packed.length < blob.length ? packed : blob;
}

/** Serializes a job the way MediaWiki's JobQueueRedis does (8 fields, optional gzip envelope). */
export function encodeJobBlob(job: JobFields, options: EncodeOptions = {}): Buffer {
  return encodeJobFields(jobFieldsArray(job), options);
}
