// jobrunner's own Kafka messages. Retry and delayed messages carry the original event's bytes
// unchanged (change-propagation wrapped a re-serialized copy, which can break mediawiki_signature);
// what the runner needs to know travels in headers. Error events follow change-propagation's
// /error/0.0.3 shape with the raw event as a string.
import { randomUUID } from 'node:crypto';
import type { JobEventView } from './job-event.js';
import type { LaneMessage } from './lane.js';
import type { OutgoingMessage } from './outbox.js';

export const HEADER_NOT_BEFORE = 'jobrunner-not-before';
export const HEADER_RETRIES_LEFT = 'jobrunner-retries-left';
export const HEADER_ATTEMPT = 'jobrunner-attempt';
export const HEADER_REASON = 'jobrunner-reason';
export const HEADER_SOURCE = 'jobrunner-source';

/** "topic/partition/offset" of the message a follow-up was made from (first one wins). */
function source(message: LaneMessage): string {
  return message.headers.get(HEADER_SOURCE) ?? `${message.topic}/${message.partition}/${message.offset}`;
}

export function parseIntHeader(message: LaneMessage, name: string): number | undefined {
  const text = message.headers.get(name);
  if (text === undefined || !/^-?[0-9]+$/.test(text)) return undefined;
  return Number(text);
}

export function delayedMessage(topic: string, message: LaneMessage, notBefore: number): OutgoingMessage {
  return {
    topic,
    value: message.value ?? Buffer.alloc(0),
    headers: { [HEADER_NOT_BEFORE]: String(Math.round(notBefore)), [HEADER_SOURCE]: source(message) },
  };
}

export interface RetryInfo {
  readonly notBefore: number;
  readonly retriesLeft: number;
  /** Attempts made so far (including the one that just failed). */
  readonly attempt: number;
  readonly reason: string;
}

export function retryMessage(topic: string, message: LaneMessage, info: RetryInfo): OutgoingMessage {
  return {
    topic,
    value: message.value ?? Buffer.alloc(0),
    headers: {
      [HEADER_NOT_BEFORE]: String(Math.round(info.notBefore)),
      [HEADER_RETRIES_LEFT]: String(info.retriesLeft),
      [HEADER_ATTEMPT]: String(info.attempt),
      [HEADER_REASON]: info.reason.slice(0, 1000),
      [HEADER_SOURCE]: source(message),
    },
  };
}

/**
 * The same message again, to the end of its topic (a long delay, or a runner stopping); with
 * `notBefore`, due no earlier than that (a paused queue's event).
 */
export function requeuedMessage(message: LaneMessage, notBefore?: number): OutgoingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of message.headers) headers[k] = v;
  headers[HEADER_SOURCE] = source(message);
  if (notBefore !== undefined) headers[HEADER_NOT_BEFORE] = String(Math.round(notBefore));
  return { topic: message.topic, value: message.value ?? Buffer.alloc(0), headers };
}

export interface ErrorDetails {
  readonly topic: string;
  readonly emitterId: string;
  readonly stream: string;
  readonly message: LaneMessage;
  readonly event: JobEventView | undefined;
  readonly reason: string;
  readonly status: number;
  readonly attempts: number;
  readonly responseHeaders?: Readonly<Record<string, string>>;
  readonly responseBody?: string;
  readonly now: number;
  /** Largest message to produce: the response parts are trimmed to fit (kafka.maxFollowUpBytes). */
  readonly maxBytes: number;
}

/** Room left for the message's headers and the record's own overhead. */
const RECORD_OVERHEAD = 2048;

/**
 * The /error/0.0.3 event, trimmed to fit maxBytes: the response body (10 KB at most) shrinks, then
 * the response headers go. The raw event is never cut; if it alone is too large the message stays
 * too large and the outbox writes it to the dead-letter file.
 */
export function errorMessage(details: ErrorDetails): OutgoingMessage {
  const limit = details.maxBytes - RECORD_OVERHEAD;
  let value = errorEventBytes(details, 10_000, true);
  for (const [bodyCap, withHeaders] of [
    [10_000, false],
    [1000, false],
    [0, false],
  ] as const) {
    if (value.length <= limit) break;
    value = errorEventBytes(details, bodyCap, withHeaders);
  }
  return {
    topic: details.topic,
    value,
    headers: {
      [HEADER_SOURCE]: source(details.message),
      [HEADER_REASON]: details.reason.slice(0, 1000),
    },
  };
}

function errorEventBytes(details: ErrorDetails, bodyCap: number, withHeaders: boolean): Buffer {
  const { message, event } = details;
  const body = {
    $schema: '/error/0.0.3',
    meta: {
      id: randomUUID(),
      dt: new Date(details.now).toISOString(),
      stream: details.stream,
      domain: event?.domain ?? event?.database ?? 'unknown',
      uri: `kafka://${source(message)}`,
      ...(event?.requestId !== undefined ? { request_id: event.requestId } : {}),
    },
    emitter_id: details.emitterId,
    raw_event: (message.value ?? Buffer.alloc(0)).toString('utf8'),
    message: details.reason,
    stack: '',
    details: {
      status: details.status,
      attempts: details.attempts,
      source: source(message),
      ...(details.responseHeaders && withHeaders ? { headers: details.responseHeaders } : {}),
      ...(details.responseBody !== undefined ? { body: details.responseBody.slice(0, bodyCap) } : {}),
    },
  };
  return Buffer.from(JSON.stringify(body), 'utf8');
}
