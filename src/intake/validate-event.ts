// Checks one decoded intake event: the mediawiki/job schema (Ajv), then what a schema cannot say:
// the stream must be mediawiki.job.<the event's type>, so a client cannot write into another topic
// (jobrunner's retry, error or partitioned topics, or another type's).
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { JOB_EVENT_SCHEMA } from './job-event-schema.js';

export interface ValidEvent {
  readonly ok: true;
  readonly type: string;
  readonly database: string;
  readonly stream: string;
  /** params.jobqueue_partition, for rules partitioned by search cluster. */
  readonly jobqueuePartition: string | undefined;
}

export interface InvalidEvent {
  readonly ok: false;
  /** One line per problem, e.g. "/meta/dt: must match pattern …". */
  readonly errors: string[];
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, strict: false }).compile(JOB_EVENT_SCHEMA);
  return compiled;
}

function describe(error: ErrorObject): string {
  return `${error.instancePath === '' ? '/' : error.instancePath}: ${error.message ?? 'invalid'}`;
}

export function validateJobEvent(value: unknown): ValidEvent | InvalidEvent {
  const validate = validator();
  if (!validate(value)) return { ok: false, errors: (validate.errors ?? []).map(describe) };
  const event = value as {
    type: string;
    database: string;
    meta: { stream: string };
    params?: Record<string, unknown> | [];
  };
  const expected = `mediawiki.job.${event.type}`;
  if (event.meta.stream !== expected) {
    return {
      ok: false,
      errors: [
        `/meta/stream: must be '${expected}' (the stream of the event's type), not '${event.meta.stream}'`,
      ],
    };
  }
  const params = event.params;
  const partition =
    params !== undefined && !Array.isArray(params) && typeof params.jobqueue_partition === 'string'
      ? params.jobqueue_partition
      : undefined;
  return {
    ok: true,
    type: event.type,
    database: event.database,
    stream: event.meta.stream,
    jobqueuePartition: partition,
  };
}
