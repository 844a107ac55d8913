// jobrunner-intake: the intake (validation, routing, Kafka producer with acks=all) behind its HTTP
// server. startIntake() is what tests, the demo and the benchmark use; runIntakeDaemon() adds the
// signals and systemd readiness for the CLI.
//   SIGTERM / SIGINT  stop taking requests, let open ones finish and their produces complete, exit 0.
//   SIGHUP            logged; configuration changes apply on restart.
import { Batcher } from '../kafka/batcher.js';
import { ProduceAcks, Producer } from '@platformatic/kafka';
import type { JobrunnerConfig } from '../config/types.js';
import type { DaemonLogger, Logger } from '../observability/logger.js';
import { announceReady, announceStopping } from '../observability/daemon-lifecycle.js';
import { createStatsd, type Metrics } from '../observability/statsd.js';
import { EventIntake, type IntakeMessage } from './intake.js';
import { IntakeMetrics } from './metrics.js';
import { EventRoutes } from './routes.js';
import { startIntakeServer } from './server.js';

export class IntakeSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntakeSetupError';
  }
}

export interface RunningIntake {
  readonly port: number;
  /** http://HOST:PORT/v1/events, for $wgEventServices */
  readonly url: string;
  stats(): IntakeStats;
  stop(): Promise<void>;
}

export interface IntakeStats {
  readonly role: 'jobrunner-intake';
  readonly startedAt: string;
  readonly brokers: readonly string[];
  readonly datacenter: string;
  readonly ready: boolean;
  readonly events: { accepted: number; invalid: number; error: number };
  readonly producing: number;
}

/** Requests whose events share one produce at most (50 events each: 1,000 events). */
const PRODUCE_BATCH_REQUESTS = 20;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function startIntake(
  config: JobrunnerConfig,
  deps: { logger: Logger; metrics?: Metrics },
): Promise<RunningIntake> {
  const kafka = config.kafka;
  const settings = config.intake;
  if (kafka === undefined || settings === undefined) {
    throw new IntakeSetupError(
      'jobrunner-intake needs a kafka section (brokers, datacenter) in the configuration file',
    );
  }
  const logger = deps.logger.child({ role: 'jobrunner-intake' });
  const metrics = new IntakeMetrics(deps.metrics ?? createStatsd(config.statsd, logger));
  const producer = new Producer({
    clientId: `${kafka.clientId}-intake`,
    bootstrapBrokers: [...kafka.brokers],
    acks: ProduceAcks.ALL,
    // As EventGate's Kafka does: a job topic appears with its first event.
    autocreateTopics: true,
    retries: 3,
    retryDelay: 250,
  });
  let failures = 0;
  let everWorked = false;
  let producing = 0;
  const send = async (batches: readonly (readonly IntakeMessage[])[]): Promise<readonly undefined[]> => {
    const messages = batches.flat();
    producing += messages.length;
    try {
      await producer.send({
        acks: ProduceAcks.ALL,
        messages: messages.map((m) => ({
          topic: m.topic,
          value: m.value,
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
        })),
      });
      failures = 0;
      everWorked = true;
      return batches.map(() => undefined);
    } catch (error) {
      failures++;
      throw error;
    } finally {
      producing -= messages.length;
    }
  };
  // The events of every request read in the same turn of the event loop go to Kafka in one produce
  // (one acks=all round trip shared by concurrent requests instead of one each): fewer, larger
  // produce requests cost the broker and this process less, which is what keeps the tail short.
  const requests = new Batcher(send, PRODUCE_BATCH_REQUESTS);
  const produce = (messages: readonly IntakeMessage[]): Promise<void> => requests.add(messages);
  // Readiness before the first request: can the brokers be asked for metadata?
  void producer.metadata({ topics: [] }).then(
    () => {
      everWorked = true;
    },
    (error: unknown) =>
      logger.warn('Kafka not reachable yet', { brokers: kafka.brokers, error: errorText(error) }),
  );
  const intake = new EventIntake(
    new EventRoutes(kafka),
    produce,
    metrics,
    logger,
    settings.maxEventsPerRequest,
  );
  const startedAt = new Date().toISOString();
  const stats = (): IntakeStats => ({
    role: 'jobrunner-intake',
    startedAt,
    brokers: kafka.brokers,
    datacenter: kafka.datacenter,
    ready: everWorked && failures === 0,
    events: metrics.snapshot(),
    producing,
  });
  let server;
  try {
    server = await startIntakeServer(settings, {
      intake,
      metrics,
      logger,
      ready: () => everWorked && failures === 0,
      status: stats,
    });
  } catch (error) {
    await Promise.allSettled([producer.close(), metrics.close()]);
    throw new IntakeSetupError(
      `cannot listen on ${settings.address}:${settings.port} (intake.address, intake.port): ${errorText(error)}`,
    );
  }
  logger.info('Intake listening', { url: server.url, brokers: kafka.brokers, datacenter: kafka.datacenter });
  let stopped: Promise<void> | undefined;
  return {
    port: server.port,
    url: server.url,
    stats,
    stop(): Promise<void> {
      stopped ??= (async () => {
        await server.close();
        // Hasty requests may still be producing.
        for (let i = 0; i < 100 && producing > 0; i++) await new Promise((r) => setTimeout(r, 50));
        await Promise.allSettled([producer.close(), metrics.close()]);
        logger.info('Intake stopped');
      })();
      return stopped;
    },
  };
}

/** The CLI daemon: resolves null while it runs (exit on a signal), or an exit code. */
export async function runIntakeDaemon(config: JobrunnerConfig, logger: DaemonLogger): Promise<number | null> {
  let intake: RunningIntake;
  try {
    intake = await startIntake(config, { logger });
  } catch (error) {
    logger.error('Cannot start the intake', { error: errorText(error) });
    return 1;
  }
  process.on('uncaughtException', (error) => logger.error('Unhandled error', { error: errorText(error) }));
  process.on('unhandledRejection', (error) =>
    logger.error('Unhandled promise rejection', { error: errorText(error) }),
  );
  // systemd's ExecReload sends SIGHUP; without a handler Node would exit.
  process.on('SIGHUP', () =>
    logger.warn('SIGHUP: jobrunner-intake does not reload its configuration; restart it to apply changes'),
  );
  let stopping = false;
  const onStop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(0);
    stopping = true;
    logger.info('Caught signal; stopping', { signal });
    void announceStopping(logger);
    void intake.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('Error while stopping', { error: errorText(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  await announceReady(logger);
  return null;
}
