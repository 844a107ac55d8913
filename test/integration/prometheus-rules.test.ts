// The shipped Prometheus rules (puppet/files/prometheus/): promtool checks and unit-tests them,
// every alert links to a runbook section that exists, and a real Prometheus scraping a real
// jobrunner and jobchron sees JobQueuePartitionUnreachable fire when a Redis partition stops
// answering (SIGSTOP) and resolve when it answers again (SIGCONT). Only the rules' `for:` is
// shortened for that run; promtool's unit tests cover the real durations.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/farm/free-port.js';
import { requireExecutable } from '../../src/farm/process-tree.js';
import { startPrometheus, type PrometheusHandle } from '../../src/farm/prometheus-server.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { killDaemons, startDaemon, type Daemon } from '../support/daemon.js';
import { requireFreshBuild } from '../support/fresh-build.js';
import { until } from '../support/until.js';

const RULES_DIR = resolve('puppet/files/prometheus');
const RULES = join(RULES_DIR, 'jobrunner_rules.yml');

function promtool(...args: string[]): string {
  const binary = requireExecutable('promtool', 'promtool (Debian package prometheus)');
  return execFileSync(binary, args, { cwd: RULES_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('Prometheus rules', () => {
  it('pass promtool check rules and promtool test rules', () => {
    expect(promtool('check', 'rules', 'jobrunner_rules.yml')).toContain('SUCCESS: 15 rules found');
    expect(promtool('test', 'rules', 'jobrunner_rules.test.yml')).toContain('SUCCESS');
  });

  it('give every alert a runbook_url to a section of runbook.md, and a promtool unit test', () => {
    const rules = readFileSync(RULES, 'utf8');
    const tests = readFileSync(join(RULES_DIR, 'jobrunner_rules.test.yml'), 'utf8');
    const runbook = readFileSync(join(RULES_DIR, 'runbook.md'), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^## (.+)$/gm)].map((m) => (m[1] ?? '').toLowerCase()));
    const alerts = rules.split(/\n(?= +- alert: )/).slice(1);
    expect(alerts.map((a) => /- alert: (\w+)/.exec(a)?.[1])).toEqual([
      'JobQueueBacklogOld',
      'JobQueueAbandonedGrowing',
      'JobrunnerDispatchErrors',
      'JobchronNoPass',
      'JobrunnerNotTakingWork',
      'JobQueuePartitionUnreachable',
      'JobrunnerKafkaLag',
    ]);
    for (const alert of alerts) {
      const name = /- alert: (\w+)/.exec(alert)?.[1] ?? '';
      expect(alert, name).toContain(
        `runbook_url: 'puppet/files/prometheus/runbook.md#${name.toLowerCase()}'`,
      );
      expect(anchors.has(name.toLowerCase()), `runbook section for ${name}`).toBe(true);
      expect(tests, `a promtool test for ${name}`).toContain(`alertname: ${name}`);
    }
  });
});

describe('a real Prometheus scraping both daemons', () => {
  let up: RedisServerHandle;
  let flaky: RedisServerHandle;
  let prometheus: PrometheusHandle;
  let dir: string;
  const daemons: Daemon[] = [];

  beforeAll(async () => {
    requireFreshBuild([resolve('dist/cli/jobrunner.js'), resolve('dist/cli/jobchron.js')]);
    dir = mkdtempSync(join(tmpdir(), 'jr15-prom-'));
    [up, flaky] = await Promise.all([startRedisServer(), startRedisServer()]);
    const [runnerPort, chronPort] = [await freePort(), await freePort()];
    const config = join(dir, 'jobrunner.conf');
    writeFileSync(
      config,
      JSON.stringify({
        groups: { basic: { runners: 1, include: ['*'] } },
        redis: {
          aggregators: [up.address],
          queues: [up.address, flaky.address],
          connectTimeoutMs: 500,
          commandTimeoutMs: 500,
        },
        dispatcher: 'true',
        chron: { intervalMs: 500 },
        status: { enabled: true, address: '127.0.0.1', runnerPort, chronPort },
      }),
    );
    for (const cli of ['jobrunner', 'jobchron']) {
      daemons.push(startDaemon(resolve(`dist/cli/${cli}.js`), config, { verbose: false }));
    }
    // The shipped rules with every `for:` shortened to 2 s.
    const rules = join(dir, 'rules.yml');
    writeFileSync(rules, readFileSync(RULES, 'utf8').replace(/^(\s+for: ).+$/gm, '$12s'));
    prometheus = await startPrometheus({
      targets: { jobrunner: [`127.0.0.1:${runnerPort}`], jobchron: [`127.0.0.1:${chronPort}`] },
      ruleFiles: [rules],
    });
  });

  afterAll(async () => {
    if (flaky) process.kill(flaky.pid, 'SIGCONT');
    await killDaemons(daemons);
    await Promise.allSettled([prometheus?.stop(), up?.stop(), flaky?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  interface Alert {
    labels: Record<string, string>;
    state: string;
  }
  async function alerts(): Promise<Alert[]> {
    const body = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
      data: { alerts: Alert[] };
    };
    return body.data.alerts;
  }
  const unreachable = async (state: string) =>
    (await alerts()).some(
      (a) =>
        a.labels.alertname === 'JobQueuePartitionUnreachable' &&
        a.labels.partition === flaky.address &&
        a.state === state,
    );
  async function scrapedUp(job: string): Promise<boolean> {
    const q = encodeURIComponent(`up{job="${job}"}`);
    const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=${q}`)).json()) as {
      data: { result: { value: [number, string] }[] };
    };
    return body.data.result[0]?.value[1] === '1';
  }
  const logs = () => daemons.flatMap((d) => d.logs.map((l) => JSON.stringify(l))).join('\n');

  it('fires JobQueuePartitionUnreachable while a partition is stopped, and resolves it after', async () => {
    await until(
      async () => (await scrapedUp('jobrunner')) && (await scrapedUp('jobchron')),
      'both daemons scraped',
      60_000,
      {
        detail: logs,
      },
    );
    expect(await unreachable('firing')).toBe(false);

    process.kill(flaky.pid, 'SIGSTOP');
    await until(() => unreachable('firing'), 'the alert firing', 90_000, { detail: logs });
    const firing = (await alerts()).find((a) => a.labels.alertname === 'JobQueuePartitionUnreachable');
    expect(firing?.labels).toMatchObject({ severity: 'critical', partition: flaky.address });
    // The healthy partition is not reported.
    expect(
      (await alerts()).some(
        (a) => a.labels.alertname === 'JobQueuePartitionUnreachable' && a.labels.partition === up.address,
      ),
    ).toBe(false);

    process.kill(flaky.pid, 'SIGCONT');
    await until(
      async () => !(await unreachable('firing')) && !(await unreachable('pending')),
      'the alert resolved',
      90_000,
      {
        detail: logs,
      },
    );
  });
});
