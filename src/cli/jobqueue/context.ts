// What every jobqueue command starts from: the jobrunner.conf the daemons use, and one connection
// per queue partition made with a single attempt (a CLI should say "unreachable" at once rather
// than retry in the background). Partitions that cannot be reached are reported by name; the
// command still works on the others.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { RedisBackend } from '../../backend/redis-backend.js';
import { ConfigError } from '../../config/errors.js';
import { loadConfigFile } from '../../config/load.js';
import type { JobrunnerConfig, RedisServerAddress } from '../../config/types.js';
import { createLogger, maskSecrets, type Logger } from '../../observability/logger.js';
import { FarmQueues } from '../../status/farm-queues.js';
import { CliError, EXIT_USAGE } from './errors.js';

export interface CliIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface FarmContext {
  readonly config: JobrunnerConfig;
  readonly farm: FarmQueues;
  /** Partitions that could not be connected to, with the reason. */
  readonly unreachable: ReadonlyMap<string, string>;
  readonly logger: Logger;
  /** Masks the redis password in any text shown to the operator. */
  mask(text: string): string;
  close(): Promise<void>;
}

export function loadConfig(path: string): JobrunnerConfig {
  try {
    return loadConfigFile(path);
  } catch (error) {
    if (error instanceof ConfigError)
      throw new CliError(`invalid configuration:\n${error.message}`, EXIT_USAGE);
    throw error;
  }
}

/** Connects once; rejects with a plain reason (never the password). */
async function connectOnce(address: RedisServerAddress, config: JobrunnerConfig): Promise<Redis> {
  const client = new Redis({
    host: address.host,
    port: address.port,
    ...(config.redis.password ? { password: config.redis.password } : {}),
    connectTimeout: config.redis.connectTimeoutMs,
    commandTimeout: config.redis.commandTimeoutMs,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let lastError: Error | null = null;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (error) {
    client.disconnect();
    const reason =
      (lastError as Error | null)?.message ?? (error instanceof Error ? error.message : String(error));
    throw new Error(`cannot connect to Redis at ${address.raw}: ${reason}`);
  }
}

/**
 * Loads the config (unless given) and connects to its partitions (only `partition` when given).
 * `redisChosen`: the operator asked for the redis backend (--backend redis), whatever the config's.
 */
export async function openFarm(
  configFile: string,
  options: { partition?: string; config?: JobrunnerConfig; redisChosen?: boolean } = {},
): Promise<FarmContext> {
  const config = options.config ?? loadConfig(configFile);
  if (config.backend !== 'redis' && options.redisChosen !== true) {
    const kafkaHint =
      config.backend === 'kafka' ? ' (for backend kafka: jobqueue status, jobqueue push)' : '';
    throw new CliError(
      `this command works on the redis backend; ${configFile} has backend "${config.backend}"${kafkaHint}`,
      EXIT_USAGE,
    );
  }
  const secrets = config.redis.password ? [config.redis.password] : [];
  const mask = (text: string) => maskSecrets(text, secrets);
  const addresses = config.redis.queues.filter(
    (a) => options.partition === undefined || a.raw === options.partition,
  );
  if (addresses.length === 0) {
    const known = config.redis.queues.map((a) => a.raw).join(', ');
    throw new CliError(
      `--partition ${options.partition ?? ''} is not in redis.queues of ${configFile} (${known})`,
      EXIT_USAGE,
    );
  }
  const settled = await Promise.allSettled(addresses.map((address) => connectOnce(address, config)));
  const clients: { address: string; client: Redis }[] = [];
  const unreachable = new Map<string, string>();
  settled.forEach((outcome, i) => {
    const address = addresses[i]?.raw ?? '?';
    if (outcome.status === 'fulfilled') clients.push({ address, client: outcome.value });
    else
      unreachable.set(
        address,
        mask(outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason)),
      );
  });
  // Logs of the shared backend code are for daemons; the CLI reports problems itself.
  const logger = createLogger({ service: 'jobqueue', level: 'error', stream: nullStream(), secrets });
  const backend = new RedisBackend(clients, logger, { ownsClients: true });
  const farm = new FarmQueues(
    backend,
    addresses.map((a) => a.raw),
    unreachable,
  );
  return { config, farm, unreachable, logger, mask, close: () => backend.close() };
}

function nullStream(): NodeJS.WritableStream {
  return new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
}
