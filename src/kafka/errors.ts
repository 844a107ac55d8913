// Typed errors of the Kafka backend.

/** An event that cannot be run as it is (bad JSON, missing fields, bad delay_until). */
export class JobEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobEventError';
  }
}

/** Kafka is not usable: a topic missing, the broker unreachable at start-up. */
export class KafkaSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaSetupError';
  }
}

/** The input of produceJobEvents() is not a valid job. */
export class JobSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobSpecError';
  }
}
