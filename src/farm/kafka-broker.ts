// A private single-node Apache Kafka 4.x broker (KRaft: broker and controller in one JVM) for tests,
// the demo and benchmarks: storage formatted in a temp dir, free loopback ports, stopped by PID.
// The jars come from scripts/kafka/fetch-jars.sh (run by scripts/setup.sh).
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { MissingDependencyError, requireExecutable } from './process-tree.js';
import { runCommand } from './php-command.js';
import { RestartableServer, retryOnPortTaken, withDataDir } from './server-fixture.js';
import { ServerStartError, spawnServer, type SpawnedServer } from './spawn-server.js';

export const DEFAULT_KAFKA_LIBS = '/opt/jobrunner-kafka/libs';

export interface KafkaBrokerOptions {
  /** Directory with the broker jars; default env JOBRUNNER_KAFKA_LIBS or /opt/jobrunner-kafka/libs. */
  libsDir?: string;
  /** Data dir (kept on stop); default a fresh temp dir removed by stop(). */
  dir?: string;
  /** JVM heap (MB); default 512. */
  heapMb?: number;
  /** Partitions of auto-created topics; default 1. */
  defaultPartitions?: number;
}

export interface KafkaBrokerHandle {
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly address: string;
  readonly dir: string;
  /** PID of the current JVM (changes after restart()). */
  readonly pid: number;
  /** SIGTERM (SIGKILL after 15 s); removes the temp dir unless the caller passed `dir`. */
  stop(): Promise<void>;
  /** SIGKILL; data stays, so restart() brings the same topics and offsets back. */
  kill9(): Promise<void>;
  /** Stops the broker if running and starts it again on the same ports and data. */
  restart(): Promise<void>;
}

const HOST = '127.0.0.1';

export function kafkaLibsDir(): string {
  return process.env.JOBRUNNER_KAFKA_LIBS ?? DEFAULT_KAFKA_LIBS;
}

/** Checks java and the broker jars; throws MissingDependencyError naming what is missing. */
export function requireKafkaPrerequisites(libsDir = kafkaLibsDir()): { java: string; libs: string } {
  const java = requireExecutable('java', 'java 17+ (Debian package openjdk-17-jre-headless)');
  const jars = existsSync(libsDir) ? readdirSync(libsDir) : [];
  if (!jars.some((name) => /^kafka_2\.13-4\..*\.jar$/.test(name))) {
    throw new MissingDependencyError(
      `the Kafka 4.x broker jars (kafka_2.13-4.*.jar in ${libsDir}; fetch them with \`bash scripts/kafka/fetch-jars.sh\`)`,
    );
  }
  return { java, libs: libsDir };
}

function serverProperties(dir: string, port: number, controllerPort: number, partitions: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${HOST}:${controllerPort}`,
    `listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${HOST}:${port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${join(dir, 'data')}`,
    `num.partitions=${partitions}`,
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Tests join groups all the time; no reason to wait for more members.
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}

function log4jProperties(logFile: string): string {
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = file',
    `appender.file.fileName = ${logFile}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = info',
    'rootLogger.appenderRef.file.ref = file',
    'logger.kafka.name = kafka',
    'logger.kafka.level = info',
    'logger.apache.name = org.apache.kafka',
    'logger.apache.level = warn',
    '',
  ].join('\n');
}

class KafkaBroker extends RestartableServer implements KafkaBrokerHandle {
  readonly host = HOST;

  constructor(
    private readonly java: string,
    private readonly libs: string,
    readonly port: number,
    private readonly controllerPort: number,
    dir: string,
    ownsDir: boolean,
    private readonly heapMb: number,
  ) {
    super('the Kafka broker', dir, ownsDir, 15_000);
  }

  get address(): string {
    return `${HOST}:${this.port}`;
  }

  private get logFile(): string {
    return join(this.dir, 'server.log');
  }

  private jvmArgs(mainClass: string, ...args: string[]): string[] {
    return [
      `-Xms${Math.min(256, this.heapMb)}m`,
      `-Xmx${this.heapMb}m`,
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${join(this.dir, 'log4j2.properties')}`,
      '-cp',
      `${this.libs}/*`,
      mainClass,
      ...args,
    ];
  }

  /** Formats KRaft storage (once per data dir). */
  async format(partitions: number): Promise<void> {
    writeFileSync(
      join(this.dir, 'server.properties'),
      serverProperties(this.dir, this.port, this.controllerPort, partitions),
    );
    writeFileSync(join(this.dir, 'log4j2.properties'), log4jProperties(this.logFile));
    if (existsSync(join(this.dir, 'data', 'meta.properties'))) return;
    const clusterId = newClusterId();
    await runCommand(
      this.java,
      this.jvmArgs(
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        join(this.dir, 'server.properties'),
      ),
      { env: process.env, timeoutMs: 60_000 },
    );
  }

  protected spawn(): Promise<SpawnedServer> {
    const from = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    return spawnServer({
      name: `Kafka broker on ${this.address}`,
      command: this.java,
      args: this.jvmArgs('kafka.Kafka', join(this.dir, 'server.properties')),
      cwd: this.dir,
      logFile: this.logFile,
      timeoutMs: 90_000,
      probe: async () => {
        if (!existsSync(this.logFile)) return false;
        const text = readFileSync(this.logFile).subarray(from).toString('utf8');
        return text.includes('Kafka Server started');
      },
    });
  }
}

/** A start failed because a port was taken (the JVM logs a BindException). */
function bindFailed(error: unknown): boolean {
  return error instanceof ServerStartError && /Address already in use|BindException/i.test(error.message);
}

export async function startKafkaBroker(opts: KafkaBrokerOptions = {}): Promise<KafkaBrokerHandle> {
  const { java, libs } = requireKafkaPrerequisites(opts.libsDir);
  // Storage formatted on an earlier attempt stays valid on new ports.
  return withDataDir(opts.dir, 'jobrunner-kafka-', (dir, ownsDir) =>
    retryOnPortTaken(
      async () => {
        const broker = new KafkaBroker(
          java,
          libs,
          await freePort(HOST),
          await freePort(HOST),
          dir,
          ownsDir,
          opts.heapMb ?? 512,
        );
        await broker.format(opts.defaultPartitions ?? 1);
        await broker.start();
        return broker;
      },
      bindFailed,
      4,
    ),
  );
}

/**
 * A random cluster ID as Kafka writes them (16 bytes, base64url). Like Kafka's own Uuid, never one
 * starting with '-': StorageTool's argument parser would read it as an option (1 run in 64 failed).
 */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
