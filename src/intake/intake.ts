// The EventGate-compatible job event intake, without HTTP: one request body in, the answer out.
// Every event is checked (JSON, mediawiki/job schema, stream = mediawiki.job.<type>); valid ones
// are produced with acks=all as the exact bytes MediaWiki sent (see event-slices.ts). Answers as
// EventGate does: 201 all accepted; 202 with hasty (answered before Kafka confirms); 207 some
// invalid or failed, with those listed; 400 all invalid; 500 none could be produced.
import type { Logger } from '../observability/logger.js';
import { eventSlices } from './event-slices.js';
import type { IntakeMetrics } from './metrics.js';
import type { EventRoutes, Route } from './routes.js';
import { validateJobEvent } from './validate-event.js';

export interface IntakeMessage extends Route {
  readonly value: Buffer;
}

/** Produces messages with acks=all; rejects when Kafka did not take all of them. */
export type ProduceFn = (messages: readonly IntakeMessage[]) => Promise<void>;

export interface IntakeAnswer {
  readonly status: 201 | 202 | 207 | 400 | 500;
  /** Response JSON (undefined = empty body). */
  readonly body?: IntakeReport;
}

interface Failure {
  readonly status: 'invalid' | 'error';
  readonly event: unknown;
  readonly context: { readonly errors?: string[]; readonly message?: string };
}

export interface IntakeReport {
  readonly invalid: Failure[];
  readonly error: Failure[];
}

export class IntakeError extends Error {
  constructor(
    readonly httpStatus: 400 | 413,
    message: string,
  ) {
    super(message);
    this.name = 'IntakeError';
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class EventIntake {
  constructor(
    private readonly routes: EventRoutes,
    private readonly produce: ProduceFn,
    private readonly metrics: IntakeMetrics,
    private readonly logger: Logger,
    private readonly maxEvents: number,
  ) {}

  /** @throws IntakeError for a body that is not JSON or holds too many events */
  async handle(body: Buffer, hasty: boolean): Promise<IntakeAnswer> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new IntakeError(400, `request body is not JSON: ${errorText(error)}`);
    }
    const values = Array.isArray(parsed) ? (parsed as unknown[]) : [parsed];
    if (values.length > this.maxEvents) {
      throw new IntakeError(413, `${values.length} events in one request; at most ${this.maxEvents}`);
    }
    const { slices } = eventSlices(body);
    if (slices.length !== values.length) {
      // Cannot happen for valid JSON; refuse rather than produce the wrong bytes.
      throw new IntakeError(400, 'could not delimit the events in the request body');
    }
    const invalid: Failure[] = [];
    const messages: IntakeMessage[] = [];
    const accepted: unknown[] = [];
    values.forEach((value, index) => {
      const checked = validateJobEvent(value);
      if (!checked.ok) {
        invalid.push({ status: 'invalid', event: value, context: { errors: checked.errors } });
        return;
      }
      messages.push({ ...this.routes.route(checked), value: slices[index] as Buffer });
      accepted.push(value);
    });
    this.metrics.events('invalid', invalid.length);
    if (messages.length === 0) return { status: 400, body: { invalid, error: [] } };

    const sent = this.produce(messages).then(
      () => {
        this.metrics.events('accepted', messages.length);
        return undefined;
      },
      (error: unknown) => {
        this.metrics.events('error', messages.length);
        this.logger.error('Could not produce events to Kafka', {
          events: messages.length,
          topics: [...new Set(messages.map((m) => m.topic))],
          hasty,
          error: errorText(error),
        });
        return errorText(error);
      },
    );
    if (hasty) {
      void sent;
      return { status: 202, ...(invalid.length > 0 ? { body: { invalid, error: [] } } : {}) };
    }
    const failed = await sent;
    if (failed === undefined) {
      return invalid.length === 0 ? { status: 201 } : { status: 207, body: { invalid, error: [] } };
    }
    const error = accepted.map<Failure>((event) => ({
      status: 'error',
      event,
      context: { message: `Kafka did not take the event: ${failed}` },
    }));
    return { status: invalid.length === 0 ? 500 : 207, body: { invalid, error } };
  }
}
