// jobqueue status for backend kafka: the rules of the config with the job topics each consumes
// now, and the lag of every consumer group read from Kafka (end offsets against committed
// offsets), so it works without the runner. When the runner's status server answers, the events it
// is executing, holding and waiting to run are shown too.
import type { JobrunnerConfig, KafkaConfig, KafkaRuleConfig } from '../../config/types.js';
import { GroupLagReader, type TopicLag } from '../../kafka/group-lag.js';
import { ruleConsumers, type ConsumerRole, type RuleConsumer } from '../../kafka/rule-consumers.js';
import { assignJobTopics } from '../../kafka/rule-topics.js';
import type { RuleStats, StageTimesSnapshot } from '../../kafka/stats.js';
import { jobTopic } from '../../kafka/topics.js';
import type { CliIo } from './context.js';
import { CliError, EXIT_OK, EXIT_USAGE } from './errors.js';
import { formatTable, plural, type Column } from './output.js';
import { fetchRunnerStatus, type RunnerStatus } from './runner-status.js';

export interface KafkaStatusArgs {
  /** Only the rule that runs this job type. */
  readonly type?: string;
  readonly json: boolean;
}

export interface KafkaConsumerLag extends TopicLag {
  readonly role: ConsumerRole;
}

export interface KafkaRuleStatus {
  readonly name: string;
  readonly lowTraffic: boolean;
  readonly partitioned: boolean;
  readonly concurrency: number;
  readonly jobTopics: readonly string[];
  /** Job events not yet consumed (main group; partitioned rules: partitioner + partitions). */
  readonly lag: number;
  /** Retry and delayed messages not yet committed (includes those the runner holds in memory). */
  readonly retryLag: number;
  readonly consumers: readonly KafkaConsumerLag[];
  /**
   * From the runner's /status when it answered (waitingOnLiveClaim and stages are missing when that
   * runner is older than them).
   */
  readonly runner?: Pick<RuleStats, 'executing' | 'waiting' | 'held' | 'inFlight' | 'counters'> &
    Partial<Pick<RuleStats, 'waitingOnLiveClaim' | 'stages'>>;
}

export interface KafkaStatus {
  readonly generatedAt: string;
  readonly brokers: readonly string[];
  readonly datacenter: string;
  readonly serviceName: string;
  readonly rules: readonly KafkaRuleStatus[];
  readonly runner: RunnerStatus;
}

function kafkaSection(config: JobrunnerConfig): KafkaConfig {
  if (config.kafka === undefined) {
    throw new CliError(
      `backend kafka needs a kafka section (brokers, datacenter, rules) in ${config.sourcePath}`,
      EXIT_USAGE,
    );
  }
  return config.kafka;
}

/** Reads the whole picture: topic list, lag per consumer group, and the runner if it answers. */
export async function collectKafkaStatus(
  config: JobrunnerConfig,
  args: KafkaStatusArgs,
): Promise<KafkaStatus> {
  const kafka = kafkaSection(config);
  const naming = { datacenter: kafka.datacenter, serviceName: kafka.serviceName };
  const reader = new GroupLagReader({
    brokers: kafka.brokers,
    clientId: `${kafka.clientId}-jobqueue`,
    startFrom: kafka.startFrom,
  });
  const kafkaError = (what: string) => (error: unknown) => {
    const detail = error instanceof Error ? error.message : String(error);
    throw new CliError(`cannot ${what} on Kafka brokers ${kafka.brokers.join(', ')}: ${detail}`);
  };
  let plans: { rule: KafkaRuleConfig; jobTopics: string[]; consumers: RuleConsumer[] }[];
  let lags: TopicLag[];
  let runner: RunnerStatus;
  try {
    const topics = await reader.listTopics().catch(kafkaError('list topics'));
    const assigned = assignJobTopics(kafka.rules, topics, naming);
    let rules = kafka.rules.map((rule) => ({ rule, jobTopics: assigned.get(rule.name) ?? [] }));
    if (args.type !== undefined) {
      // The rule that runs (or, before its topic exists, would run) this type, with only that topic.
      const topic = jobTopic(naming, args.type);
      const exists = topics.includes(topic);
      const owners = assignJobTopics(kafka.rules, [topic], naming);
      rules = rules
        .filter(({ rule }) => owners.get(rule.name)?.includes(topic))
        .map(({ rule }) => ({ rule, jobTopics: exists ? [topic] : [] }));
    }
    plans = rules.map(({ rule, jobTopics }) => ({
      rule,
      jobTopics,
      consumers: ruleConsumers(rule, jobTopics, naming),
    }));
    [lags, runner] = await Promise.all([
      reader.read(plans.flatMap((p) => p.consumers)).catch(kafkaError('read consumer offsets')),
      fetchRunnerStatus(config),
    ]);
  } finally {
    await reader.close().catch(() => undefined);
  }
  const runnerRules = new Map(runner.reachable ? runner.stats.rules.map((r) => [r.name, r]) : []);
  return {
    generatedAt: new Date().toISOString(),
    brokers: kafka.brokers,
    datacenter: kafka.datacenter,
    serviceName: kafka.serviceName,
    runner,
    rules: plans.map(({ rule, jobTopics, consumers }) => {
      const rows = consumers.flatMap((c) =>
        c.topics.map((topic) => {
          const lag = lags.find((l) => l.groupId === c.groupId && l.topic === topic);
          if (lag === undefined) throw new Error(`no lag read for ${c.groupId} on ${topic}`);
          return { ...lag, role: c.role };
        }),
      );
      const sum = (roles: ConsumerRole[]) =>
        rows.filter((r) => roles.includes(r.role)).reduce((total, r) => total + r.lag, 0);
      const live = runnerRules.get(rule.name);
      return {
        name: rule.name,
        lowTraffic: rule.lowTraffic,
        partitioned: rule.partitioned !== undefined,
        concurrency: rule.concurrency,
        jobTopics,
        lag: sum(['main', 'partitioner', 'partitions']),
        retryLag: sum(['retry']),
        consumers: rows,
        ...(live
          ? {
              runner: {
                executing: live.executing,
                waiting: live.waiting,
                held: live.held,
                inFlight: live.inFlight,
                counters: live.counters,
                waitingOnLiveClaim: live.waitingOnLiveClaim,
                stages: live.stages,
              },
            }
          : {}),
      };
    }),
  };
}

const RULE_COLUMNS: Column<KafkaRuleStatus>[] = [
  { header: 'RULE', value: (r) => r.name + (r.lowTraffic ? ' (low traffic)' : '') },
  { header: 'TOPICS', value: (r) => String(r.jobTopics.length), align: 'right' },
  { header: 'LAG', value: (r) => String(r.lag), align: 'right' },
  { header: 'RETRY/DELAYED', value: (r) => String(r.retryLag), align: 'right' },
  {
    header: 'EXECUTING',
    value: (r) => (r.runner ? `${r.runner.executing}/${r.concurrency}` : '-'),
    align: 'right',
  },
  { header: 'WAITING', value: (r) => (r.runner ? String(r.runner.waiting) : '-'), align: 'right' },
  { header: 'HELD', value: (r) => (r.runner ? String(r.runner.held) : '-'), align: 'right' },
  { header: 'IN-FLIGHT', value: (r) => (r.runner ? String(r.runner.inFlight) : '-'), align: 'right' },
  {
    header: 'DEDUP-WAIT',
    value: (r) => (r.runner?.waitingOnLiveClaim !== undefined ? String(r.runner.waitingOnLiveClaim) : '-'),
    align: 'right',
  },
  { header: 'MS SLOT/REQUEST', value: (r) => stageMeans(r.runner?.stages), align: 'right' },
];

/**
 * Mean milliseconds an event that ran waited for a slot and spent in its request, since the runner
 * started: a slot wait near the request time means the rule's concurrency is what holds it back.
 */
function stageMeans(stages: StageTimesSnapshot | undefined): string {
  if (stages === undefined || stages.events === 0) return '-';
  const mean = (ms: number): string => (ms / stages.events).toFixed(1);
  return `${mean(stages.slotWaitMs)}/${mean(stages.executeMs)}`;
}

type ConsumerRow = KafkaConsumerLag & { readonly rule: string };

const CONSUMER_COLUMNS: Column<ConsumerRow>[] = [
  { header: 'RULE', value: (r) => r.rule },
  { header: 'TOPIC', value: (r) => r.topic + (r.exists ? '' : ' (not created yet)') },
  { header: 'CONSUMER GROUP', value: (r) => r.groupId },
  { header: 'PARTITIONS', value: (r) => String(r.partitions), align: 'right' },
  { header: 'END', value: (r) => String(r.endOffset), align: 'right' },
  { header: 'POSITION', value: (r) => String(r.position), align: 'right' },
  { header: 'LAG', value: (r) => String(r.lag), align: 'right' },
];

export function formatKafkaStatus(status: KafkaStatus): string {
  const lines = [
    `Kafka ${status.brokers.join(', ')}, datacenter ${status.datacenter}, service ${status.serviceName}: ${plural(status.rules.length, 'rule')}`,
    '',
    formatTable(RULE_COLUMNS, status.rules).trimEnd(),
    '',
    formatTable(
      CONSUMER_COLUMNS,
      status.rules.flatMap((rule) => rule.consumers.map((c) => ({ ...c, rule: rule.name }))),
    ).trimEnd(),
    '',
    status.runner.reachable
      ? `Runner: ${status.runner.url} (running since ${status.runner.startedAt})`
      : `Runner: not asked or not reachable${status.runner.url ? ` at ${status.runner.url}` : ''} (${status.runner.reason}); EXECUTING to MS SLOT/REQUEST need it`,
  ];
  return `${lines.join('\n')}\n`;
}

export async function runKafkaStatus(
  config: JobrunnerConfig,
  args: KafkaStatusArgs,
  io: CliIo,
  mask: (text: string) => string,
): Promise<number> {
  const status = await collectKafkaStatus(config, args);
  if (args.type !== undefined && status.rules.length === 0) {
    throw new CliError(`no rule of ${config.sourcePath} runs job type ${args.type}`, EXIT_USAGE);
  }
  io.stdout.write(mask(args.json ? `${JSON.stringify(status)}\n` : formatKafkaStatus(status)));
  return EXIT_OK;
}
