// The intake's metrics: statsd (intake.events.<outcome>, intake.requests.<status>,
// intake.request_time) and the same as Prometheus families on /metrics.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metrics } from '../observability/statsd.js';

export type EventOutcome = 'accepted' | 'invalid' | 'error';

export class IntakeMetrics {
  readonly registry = new Registry();
  private readonly eventCounter: Counter<'outcome'>;
  private readonly requestCounter: Counter<'status'>;
  private readonly requestSeconds: Histogram;
  private readonly totals: Record<EventOutcome, number> = { accepted: 0, invalid: 0, error: 0 };

  constructor(private readonly statsd: Metrics) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.eventCounter = new Counter({
      name: 'jobqueue_intake_events_total',
      help: 'Job events received by the intake, by outcome (accepted = in Kafka with acks=all).',
      labelNames: ['outcome'],
      registers,
    });
    this.requestCounter = new Counter({
      name: 'jobqueue_intake_requests_total',
      help: 'Intake HTTP requests by response status.',
      labelNames: ['status'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'jobqueue_intake_request_seconds',
      help: 'Time from request start to response, seconds.',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
  }

  events(outcome: EventOutcome, count: number): void {
    if (count === 0) return;
    this.totals[outcome] += count;
    this.eventCounter.inc({ outcome }, count);
    this.statsd.increment(['intake', 'events', outcome], count);
  }

  request(status: number, ms: number): void {
    this.requestCounter.inc({ status: String(status) });
    this.requestSeconds.observe(ms / 1000);
    this.statsd.increment(['intake', 'requests', String(status)]);
    this.statsd.timing(['intake', 'request_time'], ms);
  }

  snapshot(): Readonly<Record<EventOutcome, number>> {
    return { ...this.totals };
  }

  close(): Promise<void> {
    return this.statsd.close();
  }
}
