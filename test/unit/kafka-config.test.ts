// The kafka section of jobrunner.conf: defaults, rule merging, the checks the schema cannot make,
// and which job topics each rule takes.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';
import { parseJobEvent } from '../../src/kafka/job-event.js';
import { partitionFor } from '../../src/kafka/partition.js';
import { assignJobTopics } from '../../src/kafka/rule-topics.js';

const base = {
  backend: 'kafka',
  redis: { aggregators: ['127.0.0.1:6379'], queues: ['127.0.0.1:6379'] },
};

function load(kafka: Record<string, unknown>) {
  return parseConfigText(
    JSON.stringify({
      ...base,
      kafka: {
        brokers: ['127.0.0.1:9092'],
        datacenter: 'eqiad',
        endpoint: 'http://127.0.0.1/rpc/RunSingleJob.php',
        ...kafka,
      },
    }),
    'k.conf',
  );
}

function problems(kafka: Record<string, unknown>): string[] {
  try {
    load(kafka);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('kafka section', () => {
  it('fills in defaults and merges ruleDefaults into each rule; no groups or dispatcher needed', () => {
    const config = load({
      rules: { refreshLinks: { types: ['refreshLinks'], concurrency: 20, retryLimit: 0 } },
    });
    const kafka = config.kafka;
    expect(kafka).toMatchObject({
      serviceName: 'jobrunner',
      startFrom: 'earliest',
      commitIntervalMs: 500,
      delayHoldSeconds: 600,
    });
    expect(
      kafka?.rules.map((r) => [r.name, r.concurrency, r.retryLimit, r.retryDelayMs, r.lowTraffic]),
    ).toEqual([
      ['refreshLinks', 20, 0, 60000, false],
      ['low_traffic_jobs', 50, 2, 60000, true],
    ]);
    expect(kafka?.rules[0]).toMatchObject({
      ignoreStatus: [412],
      timeoutMs: 420000,
      endpoint: 'http://127.0.0.1/rpc/RunSingleJob.php',
    });
    expect(kafka?.dedup).toEqual({
      enabled: true,
      prefix: 'JRKQ',
      idWindowSeconds: 3600,
      sha1WindowSeconds: 3600,
      rootWindowSeconds: 86400,
    });
    expect(config.groups).toEqual([]);
  });

  it('reports rule mistakes with their path', () => {
    expect(problems({ rules: { 'bad name': { types: ['a'] } } })).toEqual([
      "kafka.rules[\"bad name\"]: rule name 'bad name' may contain only letters, digits, '_' and '-' (it names consumer groups and topics)",
    ]);
    expect(problems({ rules: { a: {} } })).toEqual([
      "kafka.rules.a: a rule needs 'types' (a list of job types) or 'typePattern' (a regular expression)",
    ]);
    expect(problems({ rules: { a: { types: ['x'] }, b: { types: ['y', 'x'] } } })).toEqual([
      "kafka.rules.b.types[1]: job type 'x' already belongs to rule 'a'; a type may belong to one rule only",
    ]);
    expect(problems({ rules: { a: { typePattern: '(' } } })[0]).toMatch(
      /^kafka\.rules\.a\.typePattern: not a valid regular expression/,
    );
    expect(problems({ rules: { a: { types: ['x', 'y'], partitioned: { map: { enwiki: 0 } } } } })).toEqual([
      "kafka.rules.a.partitioned: a partitioned rule needs exactly one job type in 'types'",
    ]);
    expect(
      problems({ rules: { a: { types: ['x'], partitioned: { map: { enwiki: 3 }, partitions: 2 } } } }),
    ).toEqual([
      'kafka.rules.a.partitioned.partitions: partition 3 is used but the topic has only 2 partitions (0..1)',
    ]);
    expect(problems({ endpoint: 'http://{database}.wiki/rest.php' })[0]).toMatch(
      /^kafka\.endpoint: 'http:\/\/\{database\}\.wiki\/rest\.php' is not a usable URL/,
    );
    expect(problems({ endpoint: 'http://h/{db}' })[0]).toMatch(/^kafka\.endpoint: .* not a usable URL/);
    expect(problems({ lowTraffic: { enabled: false } })).toEqual([
      'kafka.rules: no rules: add kafka.rules or enable kafka.lowTraffic, otherwise no job runs',
    ]);
    expect(problems({ brokers: ['host:99999'] })[0]).toMatch(/^kafka\.brokers\[0\]: expected "host:port"/);
  });

  it('needs the kafka section for backend kafka, and groups otherwise', () => {
    const text = (extra: Record<string, unknown>) => JSON.stringify({ ...base, ...extra });
    expect(() => parseConfigText(text({ groups: { g: { runners: 1 } } }), 'k.conf')).toThrow(
      "kafka: backend is 'kafka', so a kafka section (brokers, datacenter, endpoint) is required",
    );
    expect(() => parseConfigText(text({ backend: 'redis', dispatcher: 'x' }), 'k.conf')).toThrow(
      "missing required key 'groups' at the top level",
    );
  });

  it('gives explicit types first, then patterns in file order, then the low-traffic rule', () => {
    const config = load({
      rules: {
        cirrus: { typePattern: '^cirrusSearch', excludeTypes: ['cirrusSearchCheckerJob'] },
        links: { types: ['refreshLinks', 'cirrusSearchLinksUpdate'] },
      },
      lowTraffic: { excludeTypes: ['webVideoTranscode'] },
    });
    const topics = [
      'eqiad.mediawiki.job.refreshLinks',
      'eqiad.mediawiki.job.cirrusSearchLinksUpdate',
      'eqiad.mediawiki.job.cirrusSearchElasticaWrite',
      'eqiad.mediawiki.job.cirrusSearchCheckerJob',
      'eqiad.mediawiki.job.webVideoTranscode',
      'eqiad.mediawiki.job.null',
      'codfw.mediawiki.job.null',
      'eqiad.jobrunner.retry.links',
      '__consumer_offsets',
    ];
    const assigned = assignJobTopics(config.kafka?.rules ?? [], topics, {
      datacenter: 'eqiad',
      serviceName: 'jobrunner',
    });
    expect(Object.fromEntries(assigned)).toEqual({
      cirrus: ['eqiad.mediawiki.job.cirrusSearchElasticaWrite'],
      links: ['eqiad.mediawiki.job.cirrusSearchLinksUpdate', 'eqiad.mediawiki.job.refreshLinks'],
      low_traffic_jobs: ['eqiad.mediawiki.job.cirrusSearchCheckerJob', 'eqiad.mediawiki.job.null'],
    });
  });
});

describe('partitioned rules', () => {
  const event = (database: string, jobqueuePartition?: string) => ({
    ...parseJobEvent(Buffer.from(JSON.stringify({ type: 't', database, params: {} }))),
    jobqueuePartition,
  });

  it('partitions by database (default) or by params.jobqueue_partition', () => {
    const config = load({
      endpoint: 'http://127.0.0.1/w/rest.php/eventbus/v0/internal/job/execute?wiki={database}',
      rules: {
        refreshLinks: { types: ['refreshLinks'], partitioned: { map: { enwiki: 0, dewiki: 4 }, default: 2 } },
        cirrus: {
          types: ['cirrusSearchElasticaWrite'],
          partitioned: {
            key: 'params.jobqueue_partition',
            map: { 'codfw-0': 1, 'eqiad-0': 2 },
            default: 1,
            partitions: 6,
          },
        },
      },
    });
    const [byDb, byCluster] = (config.kafka?.rules ?? []).map((r) => r.partitioned);
    if (byDb === undefined || byCluster === undefined) throw new Error('rules missing');
    expect(byDb.key).toBe('database');
    expect(partitionFor(byDb, event('dewiki'))).toBe(4);
    expect(partitionFor(byDb, event('frwiki'))).toBe(2);
    expect(partitionFor(byDb, event('constructor'))).toBe(2);
    expect(byCluster).toMatchObject({ key: 'params.jobqueue_partition', partitions: 6 });
    expect(partitionFor(byCluster, event('enwiki', 'eqiad-0'))).toBe(2);
    expect(partitionFor(byCluster, event('enwiki', 'cloudelastic-1'))).toBe(1);
    expect(partitionFor(byCluster, event('enwiki'))).toBe(1);
    expect(partitionFor(byCluster, event('enwiki', '__proto__'))).toBe(1);
    // The parser reads the param from the event.
    const parsed = parseJobEvent(
      Buffer.from(
        '{"type":"cirrusSearchElasticaWrite","database":"enwiki","params":{"jobqueue_partition":"codfw-0"}}',
      ),
    );
    expect(partitionFor(byCluster, parsed)).toBe(1);
  });
});
