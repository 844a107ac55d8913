// Several jobchron instances on the same partitions: they share the partitions out (fair share),
// never maintain one partition at the same time, and a killed instance's partitions are taken over
// once its leases expire. Checked in-process and with real `node dist/cli/jobchron.js` processes.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Chron } from '../../src/chron/chron.js';
import { INSTANCES_KEY, LEASE_KEY } from '../../src/chron/keys.js';
import type { PartitionPassReport } from '../../src/chron/partition-worker.js';
import { isAlive, waitForExit } from '../../src/farm/process-tree.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { captureLogger, type LogLine } from '../support/log-capture.js';
import { ConfigDir, startChron, waitFor, type ChronProcess } from './chron-support.js';
import { requireFreshBuild } from '../support/fresh-build.js';

const CLI = join(import.meta.dirname, '../../dist/cli/jobchron.js');

interface PassInterval {
  readonly partition: string;
  readonly instance: string;
  readonly fence: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** Fails if two different instances were inside a pass over the same partition at the same time. */
function expectNoOverlap(intervals: readonly PassInterval[]): void {
  const byPartition = new Map<string, PassInterval[]>();
  for (const i of intervals) byPartition.set(i.partition, [...(byPartition.get(i.partition) ?? []), i]);
  for (const [partition, list] of byPartition) {
    list.sort((x, y) => x.startedAt - y.startedAt);
    for (let k = 1; k < list.length; k++) {
      const prev = list[k - 1] as PassInterval;
      const next = list[k] as PassInterval;
      if (prev.instance !== next.instance) {
        expect(
          next.startedAt,
          `${partition}: ${next.instance} started inside ${prev.instance}'s pass`,
        ).toBeGreaterThanOrEqual(prev.endedAt);
        expect(next.fence, `${partition}: a takeover must come with a higher fence`).toBeGreaterThan(
          prev.fence,
        );
      } else {
        expect(next.fence).toBeGreaterThanOrEqual(prev.fence);
      }
    }
  }
}

let servers: RedisServerHandle[];
let clients: Redis[];
let configs: ConfigDir;

beforeAll(async () => {
  servers = await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()]);
  clients = servers.map((s) => new Redis({ host: s.host, port: s.port }));
  configs = new ConfigDir();
});

afterAll(async () => {
  for (const c of clients ?? []) c.disconnect();
  await Promise.all((servers ?? []).map((s) => s.stop()));
  configs?.cleanup();
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.flushall()));
});

describe('several jobchron instances', () => {
  it('share the partitions and never maintain one partition at the same time (in-process)', async () => {
    const config = configs.load({
      queues: servers.map((s) => s.address),
      chron: { intervalMs: 30, leaseTtlMs: 1000 },
    });
    const intervals: PassInterval[] = [];
    const record = (r: PartitionPassReport) =>
      intervals.push({
        partition: r.partition,
        instance: r.instanceId,
        fence: Number(r.fence),
        startedAt: r.startedAt,
        endedAt: r.endedAt,
      });
    const make = (id: string) =>
      new Chron(config, {
        logger: captureLogger('jobchron', 'info').logger,
        instanceId: id,
        onPartitionPass: record,
      });
    const a = make('instance-a');
    const b = make('instance-b');
    try {
      await Promise.all([a.start(), b.start()]);
      const held = (c: Chron) => c.getStats().partitions.filter((p) => p.leaseHeld).length;
      // 3 partitions, 2 instances: fair share 2, so one holds 2 and the other 1, all 3 covered.
      await waitFor('a balanced assignment', () => {
        const [x, y] = [held(a), held(b)];
        return x + y === 3 && Math.max(x, y) === 2 && Math.min(x, y) === 1;
      });
      const count = intervals.length;
      await waitFor('more passes after balancing', () => intervals.length >= count + 60);
      expect(a.getStats().liveInstances).toBe(2);
      expect(b.getStats().targetPartitions).toBe(2);

      // One instance leaves cleanly: it releases its leases and the other takes everything over.
      await a.stop();
      await waitFor('the survivor to hold every partition', () => held(b) === 3);
      const after = intervals.length;
      await waitFor('passes by the survivor', () => intervals.length >= after + 10);
      expectNoOverlap(intervals);
      const instances = new Set(intervals.map((i) => i.instance));
      expect(instances).toEqual(new Set(['instance-a', 'instance-b']));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('take over the partitions of a killed jobchron process once its leases expire', async () => {
    requireFreshBuild([CLI]);
    const file = configs.write({
      queues: servers.slice(0, 2).map((s) => s.address),
      chron: { intervalMs: 50, leaseTtlMs: 1500 },
    });
    const procs: ChronProcess[] = [];
    const launch = () => {
      const proc = startChron(CLI, file, true);
      procs.push(proc);
      return proc;
    };
    const intervals = () =>
      procs.flatMap(({ child, lines }) =>
        lines
          .filter((l) => l.msg === 'partition pass')
          .map((l) => ({
            partition: String(l.partition),
            instance: String(child.pid),
            fence: Number(l.fence),
            startedAt: Number(l.startedAt),
            endedAt: Number(l.endedAt),
          })),
      );
    const partitionsOf = (lines: LogLine[], since = 0) =>
      new Set(
        lines
          .slice(since)
          .filter((l) => l.msg === 'partition pass')
          .map((l) => String(l.partition)),
      );

    try {
      const first = launch();
      const second = launch();
      await waitFor('both processes to maintain one partition each', () => {
        const [x, y] = [
          partitionsOf(first.lines, first.lines.length - 20),
          partitionsOf(second.lines, second.lines.length - 20),
        ];
        return x.size === 1 && y.size === 1 && [...x][0] !== [...y][0];
      });
      expect(await clients[0]?.zcard(INSTANCES_KEY)).toBe(2);

      // SIGKILL: no clean release. The survivor must wait out the lease, then take the partition.
      const victimPartition = [...partitionsOf(first.lines, first.lines.length - 20)][0];
      first.child.kill('SIGKILL');
      expect(await first.exit).toBeNull();
      const mark = second.lines.length;
      await waitFor(
        'the survivor to take the dead one’s partition',
        () => partitionsOf(second.lines, mark).size === 2,
      );
      expect(partitionsOf(second.lines, mark)).toContain(victimPartition);
      const takeover = second.lines.find(
        (l, i) => i >= mark && l.msg === 'Partition lease acquired' && l.partition === victimPartition,
      );
      expect(takeover).toBeDefined();
      expectNoOverlap(intervals());

      second.child.kill('SIGTERM');
      expect(await second.exit).toBe(0);
      for (const c of clients.slice(0, 2)) expect(await c.get(LEASE_KEY)).toBeNull();
    } finally {
      for (const { child } of procs) {
        if (child.pid !== undefined && isAlive(child.pid)) {
          child.kill('SIGKILL');
          await waitForExit(child.pid, 5000);
        }
      }
    }
  });
});
