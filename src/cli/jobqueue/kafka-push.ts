// jobqueue push --backend kafka: produces mediawiki/job events as EventBus does (same fields, key
// order and mediawiki_signature) to <datacenter>.mediawiki.job.<type>, for smoke tests and
// canaries on a farm whose jobs go through Kafka.
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../config/errors.js';
import { readSecretFile } from '../../config/secret-file.js';
import type { JobrunnerConfig } from '../../config/types.js';
import { JobSpecError } from '../../kafka/errors.js';
import { produceJobEvents, type JobEventSpec } from '../../kafka/producer.js';
import { jobTopic } from '../../kafka/topics.js';
import type { CliIo } from './context.js';
import { CliError, EXIT_OK, EXIT_USAGE } from './errors.js';
import { isoSeconds, plural } from './output.js';
import { buildParams, MAX_PUSH_COUNT, type PushArgs } from './push.js';

export type KafkaPushArgs = Pick<
  PushArgs,
  'wiki' | 'type' | 'count' | 'delay' | 'params' | 'dedupe' | 'title' | 'namespace' | 'json'
> & {
  /** File with $wgSecretKey; default dispatch.secretKeyFile of the config. */
  readonly secretKeyFile?: string;
};

/** $wgSecretKey for signing, from --secret-key-file or dispatch.secretKeyFile; undefined: unsigned. */
export function pushSecretKey(
  config: JobrunnerConfig,
  secretKeyFile: string | undefined,
): { key: string; from: string } | undefined {
  const [file, what] =
    secretKeyFile !== undefined
      ? [secretKeyFile, '--secret-key-file']
      : [config.dispatch.secretKeyFile, 'dispatch.secretKeyFile'];
  if (file === undefined) return undefined;
  try {
    return { key: readSecretFile(file, what), from: what };
  } catch (error) {
    if (error instanceof ConfigError) {
      const problem = error.problems[0];
      throw new CliError(problem ? `${problem.file}: ${problem.message}` : error.message, EXIT_USAGE);
    }
    throw error;
  }
}

export async function runKafkaPush(
  config: JobrunnerConfig,
  args: KafkaPushArgs,
  io: CliIo,
  addSecret: (secret: string) => void,
): Promise<number> {
  const kafka = config.kafka;
  if (kafka === undefined) {
    throw new CliError(
      `--backend kafka needs a kafka section (brokers, datacenter) in ${config.sourcePath}`,
      EXIT_USAGE,
    );
  }
  if (!Number.isInteger(args.count) || args.count < 1 || args.count > MAX_PUSH_COUNT) {
    throw new CliError(`--count must be a whole number from 1 to ${MAX_PUSH_COUNT}`, EXIT_USAGE);
  }
  if (args.delay !== undefined && (!Number.isFinite(args.delay) || args.delay < 0)) {
    throw new CliError('--delay must be a number of seconds >= 0', EXIT_USAGE);
  }
  const secret = pushSecretKey(config, args.secretKeyFile);
  if (secret !== undefined) addSecret(secret.key);
  const now = new Date();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  // The release time goes in as releaseTimestamp: the builder sets params.jobReleaseTimestamp and
  // delay_until together, as EventBus does for a delayed job.
  const params = buildParams({ ...args, delay: undefined }, nowSeconds);
  // Test types run as NullJob-style jobs, which read removeDuplicates from their params.
  if (args.dedupe) params.set('removeDuplicates', true);
  const releaseAt = args.delay === undefined ? undefined : nowSeconds + Math.ceil(args.delay);
  // One push is one "request": the events share a request ID, like jobs pushed by one web request.
  // --dedupe hashes like a Job object (requestId and release time left out), so repeated pushes of
  // the same params carry the same sha1.
  const spec: JobEventSpec = {
    type: args.type,
    database: args.wiki,
    params,
    // The 24 hex digits of WebRequest::getRequestId().
    requestId: randomBytes(12).toString('hex'),
    ...(releaseAt !== undefined && releaseAt > nowSeconds ? { releaseTimestamp: releaseAt } : {}),
    ...(args.dedupe ? { removeDuplicates: true } : {}),
  };
  let produced;
  try {
    produced = await produceJobEvents({
      brokers: kafka.brokers,
      datacenter: kafka.datacenter,
      clientId: `${kafka.clientId}-jobqueue`,
      events: Array.from({ length: args.count }, () => ({ ...spec, params: params.clone() })),
      ...(secret !== undefined ? { secretKey: secret.key } : {}),
      now,
    });
  } catch (error) {
    if (error instanceof JobSpecError) throw new CliError(error.message, EXIT_USAGE);
    const detail = error instanceof Error ? error.message : String(error);
    throw new CliError(`cannot produce to Kafka brokers ${kafka.brokers.join(', ')}: ${detail}`);
  }
  const topic = jobTopic({ datacenter: kafka.datacenter, serviceName: kafka.serviceName }, args.type);
  const release = releaseAt !== undefined && releaseAt > nowSeconds ? releaseAt : null;
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({
        backend: 'kafka',
        wiki: args.wiki,
        type: args.type,
        topic,
        produced: produced.produced,
        signed: secret !== undefined,
        releaseAt: release,
        ids: produced.ids,
      })}\n`,
    );
  } else {
    const delayed = release !== null ? `, released at ${isoSeconds(release)}` : '';
    const signed = secret !== undefined ? `signed with ${secret.from}` : 'unsigned';
    io.stdout.write(
      `Produced ${plural(produced.produced, 'job event')} of type ${args.type} for ${args.wiki} to ${topic} (${signed})${delayed}.\n`,
    );
  }
  if (secret === undefined) {
    io.stderr.write(
      'jobqueue: warning: no dispatch.secretKeyFile in the config and no --secret-key-file: the events carry no mediawiki_signature (RunSingleJob.php rejects them unless $wgRunSingleJobAllowUnsigned)\n',
    );
  }
  return EXIT_OK;
}
