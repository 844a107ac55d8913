// A private single-node Apache Kafka 4.x broker (KRaft: broker and controller in one JVM) for tests,
// the demo and benchmarks: storage formatted in a temp dir, free loopback ports, stopped by PID.
// The jars come from scripts/kafka/fetch-jars.sh (run by scripts/setup.sh).
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import {
  MissingDependencyError,
  requireExecutable,
  terminate,
  trackDir,
  untrackDir,
  untrackPid,
} from './process-tree.js';
import { runCommand } from './php-command.js';
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
  let java: string;
  try {
    java = requireExecutable('java');
  } catch (error) {
    if (error instanceof MissingDependencyError) {
      throw new MissingDependencyError('java 17+ (Debian package openjdk-17-jre-headless)');
    }
    throw error;
  }
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

class KafkaBroker implements KafkaBrokerHandle {
  readonly host = HOST;
  private server: SpawnedServer | undefined;
  private running = false;

  constructor(
    private readonly java: string,
    private readonly libs: string,
    readonly port: number,
    private readonly controllerPort: number,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly heapMb: number,
  ) {}

  get address(): string {
    return `${HOST}:${this.port}`;
  }

  get pid(): number {
    if (!this.server) throw new Error('the Kafka broker is not running');
    return this.server.pid;
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
    const clusterId = randomBytes(16).toString('base64url');
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

  async start(): Promise<void> {
    const from = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    this.server = await spawnServer({
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
    this.running = true;
  }

  private async halt(graceMs: number): Promise<void> {
    if (!this.server || !this.running) return;
    this.running = false;
    await terminate(this.server.pid, graceMs);
    untrackPid(this.server.pid);
  }

  async stop(): Promise<void> {
    await this.halt(15_000);
    if (this.ownsDir) {
      rmSync(this.dir, { recursive: true, force: true });
      untrackDir(this.dir);
    }
  }

  async kill9(): Promise<void> {
    await this.halt(0);
  }

  async restart(): Promise<void> {
    await this.halt(15_000);
    await this.start();
  }
}

export async function startKafkaBroker(opts: KafkaBrokerOptions = {}): Promise<KafkaBrokerHandle> {
  const { java, libs } = requireKafkaPrerequisites(opts.libsDir);
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'jobrunner-kafka-'));
  mkdirSync(dir, { recursive: true });
  if (ownsDir) trackDir(dir);
  for (let attempt = 1; ; attempt++) {
    const broker = new KafkaBroker(
      java,
      libs,
      await freePort(HOST),
      await freePort(HOST),
      dir,
      ownsDir,
      opts.heapMb ?? 512,
    );
    try {
      await broker.format(opts.defaultPartitions ?? 1);
      await broker.start();
      return broker;
    } catch (err) {
      // A port can be taken between freePort() and the bind; try other ones (storage stays valid).
      if (
        err instanceof ServerStartError &&
        /Address already in use|BindException/i.test(err.message) &&
        attempt < 4
      ) {
        continue;
      }
      if (ownsDir) {
        rmSync(dir, { recursive: true, force: true });
        untrackDir(dir);
      }
      throw err;
    }
  }
}
