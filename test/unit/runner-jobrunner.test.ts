// JobRunner lifecycle with a fake backend and a fake dispatcher whose results the test controls:
// slot reuse, immediate refill, drain, abort, reload, failure reporting, stats.
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueListing, ReadyQueue } from '../../src/backend/types.js';
import { parseConfigText } from '../../src/config/load.js';
import type { JobrunnerConfig } from '../../src/config/types.js';
import { captureLogger } from '../support/log-capture.js';
import type { Metrics } from '../../src/observability/statsd.js';
import type { DispatchRequest, DispatchResult, Dispatcher } from '../../src/runner/dispatch/types.js';
import { planReload } from '../../src/runner/reload-plan.js';
import { JobRunner } from '../../src/runner/runner.js';

function config(groups: Record<string, unknown>, runner: Record<string, unknown> = {}): JobrunnerConfig {
  return parseConfigText(
    JSON.stringify({
      groups,
      redis: { aggregators: ['127.0.0.1:1'], queues: ['127.0.0.1:1'] },
      dispatcher: 'php runJobs.php --wiki=%(db)x --type=%(type)x',
      runner: { discoveryIntervalMs: 5, ...runner },
    }),
    '/test/jobrunner.conf',
  );
}

class FakeBackend {
  listing: QueueListing<ReadyQueue> = { queues: [], errors: [] };
  polls = 0;
  async listReadyQueues(): Promise<QueueListing<ReadyQueue>> {
    this.polls++;
    return this.listing;
  }
}

interface Call {
  request: DispatchRequest;
  signal: AbortSignal;
  resolve: (r: DispatchResult) => void;
  settled: boolean;
}

class FakeDispatcher implements Dispatcher {
  readonly kind = 'command' as const;
  readonly calls: Call[] = [];
  closed = false;
  /** When set, answers every dispatch at once with this. */
  auto: ((r: DispatchRequest) => DispatchResult) | null = null;

  dispatch(request: DispatchRequest, signal: AbortSignal): Promise<DispatchResult> {
    if (this.auto) return Promise.resolve(this.auto(request));
    return new Promise((resolve) => {
      const call: Call = { request, signal, settled: false, resolve: () => {} };
      call.resolve = (r) => {
        call.settled = true;
        resolve(r);
      };
      signal.addEventListener('abort', () => call.resolve(aborted()));
      this.calls.push(call);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  pending(): Call[] {
    return this.calls.filter((c) => !c.settled);
  }
}

function ok(reached: string, jobs = 1, type = 'null'): DispatchResult {
  return {
    outcome: 'ok',
    result: {
      jobs: Array.from({ length: jobs }, () => ({ type, status: 'ok' as const, error: null, time: 1 })),
      reached,
      backoffs: {},
      elapsed: jobs,
    },
    okJobs: jobs,
    failedJobs: 0,
    byType: jobs > 0 ? { [type]: { ok: jobs, failed: 0 } } : {},
    target: 'php runJobs.php',
    durationMs: 5,
  };
}

function failed(error: string): DispatchResult {
  return {
    outcome: 'error',
    result: null,
    okJobs: 0,
    failedJobs: 0,
    byType: {},
    errorKind: 'exit-code',
    error,
    excerpt: 'mwlab: unknown wiki',
    exitCode: 1,
    target: "php runJobs.php --wiki='nope'",
    durationMs: 3,
  };
}

function aborted(): DispatchResult {
  return {
    outcome: 'aborted',
    result: null,
    okJobs: 0,
    failedJobs: 0,
    byType: {},
    errorKind: 'aborted',
    killed: 'SIGTERM',
    target: 'php runJobs.php',
    durationMs: 1,
  };
}

class RecordingMetrics implements Metrics {
  readonly counts = new Map<string, number>();
  readonly timings: string[] = [];
  increment(segments: readonly string[], delta = 1): void {
    const name = segments.join('.');
    this.counts.set(name, (this.counts.get(name) ?? 0) + delta);
  }
  timing(segments: readonly string[]): void {
    this.timings.push(segments.join('.'));
  }
  gauge(): void {}
  async close(): Promise<void> {}
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

function q(wiki: string, type: string, ready: number): ReadyQueue {
  return { wiki, domain: wiki, type, ready, partition: '127.0.0.1:1' };
}

const runners: JobRunner[] = [];
function make(cfg: JobrunnerConfig) {
  const backend = new FakeBackend();
  const dispatcher = new FakeDispatcher();
  const metrics = new RecordingMetrics();
  const { lines, logger } = captureLogger('jobrunner');
  const runner = new JobRunner(cfg, {
    backend,
    dispatcher,
    logger,
    metrics,
    hostname: 'host1',
    random: () => 0,
  });
  runners.push(runner);
  return { backend, dispatcher, metrics, lines, runner };
}

afterEach(async () => {
  for (const r of runners.splice(0)) await r.stop(false);
});

describe('JobRunner', () => {
  it('never reuses a slot before its dispatch resolved, and refills at once when it does', async () => {
    const { backend, dispatcher, runner, metrics } = make(config({ g: { runners: 2, include: ['*'] } }));
    backend.listing = { queues: [q('w1', 'a', 1000), q('w2', 'b', 1000)], errors: [] };
    runner.start();
    await until(() => dispatcher.calls.length === 2, 'two dispatches');
    // Many polls later, still exactly two: both slots are busy.
    const polls = backend.polls;
    await until(() => backend.polls > polls + 5, 'more polls');
    expect(dispatcher.calls).toHaveLength(2);
    expect(runner.stats().groups[0]?.busy).toBe(2);
    dispatcher.calls[0]?.resolve(ok('job-limit', 10));
    await until(() => dispatcher.calls.length === 3, 'a third dispatch');
    expect(dispatcher.pending()).toHaveLength(2);
    expect(metrics.counts.get('start-runner.host1')).toBe(1);
    expect(metrics.counts.get('spawn.host1')).toBe(3);
    expect(metrics.counts.get('pop.null.ok.host1')).toBe(10);
    expect(metrics.timings).toContain('dispatch-time.a.host1');
  });

  it('dispatches the next run right after a job-limit result, without waiting for a poll', async () => {
    const { backend, dispatcher, runner } = make(
      config({ g: { runners: 1, include: ['*'] } }, { discoveryIntervalMs: 3_600_000 }),
    );
    backend.listing = { queues: [q('w', 'a', 100_000)], errors: [] };
    runner.start();
    await until(() => dispatcher.calls.length === 1, 'first dispatch');
    for (let i = 1; i <= 5; i++) {
      dispatcher.calls[i - 1]?.resolve(ok('job-limit', 100));
      await until(() => dispatcher.calls.length === i + 1, `dispatch ${i + 1}`);
    }
    expect(backend.polls).toBe(1);
    expect(runner.stats().totals).toMatchObject({ dispatches: 6, jobsOk: 500 });
  });

  it('passes the long slice while nothing else waits, and runs a quiet queue in the express slot at once', async () => {
    const { backend, dispatcher, runner } = make(config({ g: { runners: 2, include: ['*'] } }));
    backend.listing = { queues: [q('big', 'refreshLinks', 100_000)], errors: [] };
    runner.start();
    // The backlog takes both slots (the express one lends itself: nothing quiet ran yet).
    await until(() => dispatcher.pending().length === 2, 'two dispatches of the backlog');
    expect(dispatcher.calls.map((c) => c.request.maxTime)).toEqual([10, 10]);
    // The lent express slot ends its short slice; a quiet queue has shown up meanwhile.
    backend.listing = { queues: [q('big', 'refreshLinks', 100_000), q('small', 'echo', 1)], errors: [] };
    const seen = backend.polls;
    await until(() => backend.polls > seen + 1, 'a poll that lists the quiet queue');
    dispatcher.pending()[1]?.resolve(ok('time-limit', 30));
    await until(() => dispatcher.pending().length === 2, 'the quiet queue dispatched');
    expect(dispatcher.calls[2]?.request).toMatchObject({ wiki: 'small', type: 'echo', maxTime: 1 });
    // With the quiet queue done and nothing quiet left, the express slot stays free for a while.
    backend.listing = { queues: [q('big', 'refreshLinks', 100_000)], errors: [] };
    dispatcher.pending()[1]?.resolve(ok('none-ready', 1));
    const polls = backend.polls;
    await until(() => backend.polls > polls + 5, 'a few polls');
    expect(dispatcher.pending()).toHaveLength(1);
    await runner.stop(false);
  });

  it('passes mode maxtime, limits and maxjobs in the request (policy legacy)', async () => {
    const cfg = parseConfigText(
      JSON.stringify({
        groups: { g: { runners: 1, include: ['*'] } },
        redis: { aggregators: ['127.0.0.1:1'], queues: ['127.0.0.1:1'] },
        dispatcher: 'php runJobs.php --wiki=%(db)x --type=%(type)x',
        limits: { real: { '*': 300, big: 900 }, memory: { '*': '300M', big: '1G' } },
        runner: { discoveryIntervalMs: 5, maxJobsPerDispatch: 500, scheduling: { policy: 'legacy' } },
      }),
      '/test/jobrunner.conf',
    );
    const { backend, dispatcher, runner } = make(cfg);
    backend.listing = { queues: [q('w', 'big', 5)], errors: [] };
    runner.start();
    await until(() => dispatcher.calls.length === 1, 'dispatch');
    expect(dispatcher.calls[0]?.request).toEqual({
      wiki: 'w',
      domain: 'w',
      type: 'big',
      maxTime: 60,
      maxMem: '1G',
      realLimitSeconds: 900,
      maxJobs: 500,
    });
  });

  it('logs one clear line per failed dispatch, records it and backs the queue off', async () => {
    const { backend, dispatcher, runner, lines, metrics } = make(
      config({ g: { runners: 2, include: ['*'] } }, { failureBackoffSeconds: 60 }),
    );
    backend.listing = { queues: [q('nope', 'a', 5), q('w', 'b', 5000)], errors: [] };
    dispatcher.auto = (r) =>
      r.wiki === 'nope' ? failed('runJobs exited with status 1') : ok('job-limit', 5);
    runner.start();
    await until(() => dispatcher.calls.length === 0 && runner.stats().totals.dispatches > 20, 'dispatches');
    const stats = runner.stats();
    const failures = lines.filter((l) => l.msg === 'Dispatch failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      level: 'error',
      wiki: 'nope',
      type: 'a',
      target: "php runJobs.php --wiki='nope'",
      error: 'runJobs exited with status 1',
      excerpt: 'mwlab: unknown wiki',
      backoffMs: 60_000,
    });
    expect(stats.totals.errors).toBe(1);
    expect(stats.recentFailures).toHaveLength(1);
    expect(stats.backoffs).toContainEqual(expect.objectContaining({ reason: 'failure' }));
    expect(metrics.counts.get('runner-status.error')).toBe(1);
  });

  it('drains: takes no new work, lets children finish, exits cleanly', async () => {
    const { backend, dispatcher, runner } = make(config({ g: { runners: 2, include: ['*'] } }));
    backend.listing = { queues: [q('w', 'a', 1000), q('w', 'b', 1000)], errors: [] };
    runner.start();
    await until(() => dispatcher.calls.length === 2, 'two dispatches');
    let stopped = false;
    const stopping = runner.stop(true).then(() => (stopped = true));
    await until(() => runner.stats().state === 'draining', 'draining');
    dispatcher.calls[0]?.resolve(ok('job-limit', 3));
    await new Promise((r) => setTimeout(r, 30));
    expect(stopped).toBe(false);
    expect(dispatcher.calls).toHaveLength(2);
    dispatcher.calls[1]?.resolve(ok('none-ready', 3));
    await stopping;
    expect(dispatcher.calls.every((c) => !c.signal.aborted)).toBe(true);
    expect(runner.stats().state).toBe('stopped');
    expect(runner.stats().totals.jobsOk).toBe(6);
  });

  it('aborts children still running when the drain timeout passes', async () => {
    const { backend, dispatcher, runner, lines } = make(
      config({ g: { runners: 1, include: ['*'] } }, { drainTimeoutSeconds: 0.05 }),
    );
    backend.listing = { queues: [q('w', 'a', 1000)], errors: [] };
    runner.start();
    await until(() => dispatcher.calls.length === 1, 'dispatch');
    await runner.stop(true);
    expect(dispatcher.calls[0]?.signal.aborted).toBe(true);
    expect(runner.stats().totals.aborted).toBe(1);
    expect(lines.some((l) => l.msg === 'Drain timeout reached; stopping children')).toBe(true);
  });

  it('reload resizes groups live: added slots start, removed busy slots finish first', async () => {
    const abcd = ['a', 'b', 'c', 'd'];
    const { backend, dispatcher, runner } = make(config({ g: { runners: 3, include: abcd } }));
    backend.listing = {
      queues: [q('w', 'a', 1000), q('w', 'b', 1000), q('w', 'c', 1000), q('w', 'd', 1000), q('x', 'e', 1000)],
      errors: [],
    };
    const pendingOf = (types: string[]) => dispatcher.pending().filter((c) => types.includes(c.request.type));
    runner.start();
    await until(() => dispatcher.calls.length === 3, 'three dispatches');
    runner.reload(config({ g: { runners: 1, include: abcd }, h: { runners: 2, include: ['e'] } }));
    await until(() => pendingOf(['e']).length === 2, 'group h started');
    let g = runner.stats().groups.find((x) => x.name === 'g');
    expect(g?.slots).toHaveLength(3);
    expect(g?.slots.filter((s) => s.retiring)).toHaveLength(2);
    // Children of retiring slots are not aborted; when they finish, their slots disappear.
    expect(dispatcher.calls.some((c) => c.signal.aborted)).toBe(false);
    for (const c of pendingOf(abcd)) c.resolve(ok('job-limit', 1));
    await until(() => runner.stats().groups.find((x) => x.name === 'g')?.slots.length === 1, 'g shrunk');
    await until(() => pendingOf(abcd).length === 1, 'g refilled');
    g = runner.stats().groups.find((x) => x.name === 'g');
    expect(g?.busy).toBe(1);
    // Removing a group entirely: its busy slots finish, then the group disappears.
    runner.reload(config({ g: { runners: 1, include: abcd } }));
    expect(
      runner
        .stats()
        .groups.find((x) => x.name === 'h')
        ?.slots.every((s) => s.retiring),
    ).toBe(true);
    for (const c of pendingOf(['e'])) c.resolve(ok('none-ready', 0));
    await until(() => runner.stats().groups.every((x) => x.name !== 'h'), 'h gone');
    expect(pendingOf(['e'])).toHaveLength(0);
  });

  it('a new dispatcher from a reload is used for new work; the old one is closed', async () => {
    const { backend, dispatcher, runner } = make(config({ g: { runners: 1, include: ['*'] } }));
    backend.listing = { queues: [q('w', 'a', 1000)], errors: [] };
    runner.start();
    await until(() => dispatcher.calls.length === 1, 'dispatch');
    const second = new FakeDispatcher();
    runner.reload(config({ g: { runners: 1, include: ['*'] } }), second);
    expect(dispatcher.closed).toBe(true);
    dispatcher.calls[0]?.resolve(ok('job-limit', 1));
    await until(() => second.calls.length === 1, 'dispatch on the new dispatcher');
  });

  it('keeps serving when the backend call throws, and logs the partition error once', async () => {
    const { backend, dispatcher, runner, lines, metrics } = make(
      config({ g: { runners: 1, include: ['*'] } }),
    );
    let fail = false;
    backend.listReadyQueues = async () => {
      backend.polls++;
      if (fail) throw new Error('connection lost');
      return { queues: [], errors: [] };
    };
    runner.start();
    await until(() => backend.polls > 0, 'first poll');
    fail = true;
    await until(() => backend.polls > 6, 'polls');
    expect(lines.filter((l) => l.msg?.toString().startsWith('Discovery failed'))).toHaveLength(1);
    expect(metrics.counts.get('redis-error.host1')).toBeGreaterThan(1);
    backend.listReadyQueues = async () => ({ queues: [q('w', 'a', 5)], errors: [] });
    await until(() => dispatcher.calls.length === 1, 'dispatch after recovery');
    expect(lines.some((l) => l.msg === 'Discovery works again for a partition')).toBe(true);
  });

  it('counts idle loops (rate-limited) and reports stats for the status server', async () => {
    const { backend, runner, metrics } = make(config({ g: { runners: 2, include: ['*'] } }));
    runner.start();
    await until(() => backend.polls > 10, 'polls');
    expect(metrics.counts.get('idle.host1')).toBeGreaterThan(0);
    const stats = runner.stats();
    expect(stats).toMatchObject({
      state: 'running',
      knownQueues: 0,
      groups: [{ name: 'g', runners: 2, busy: 0, mode: 'high' }],
      pickupLatency: { measure: 'enqueue-to-dispatch', count: 0 },
      noticeLatency: { measure: 'notice-to-dispatch', count: 0 },
    });
  });
});

describe('planReload', () => {
  it('builds a new dispatcher only when dispatch settings change and names what needs a restart', () => {
    const base = config({ g: { runners: 1, include: ['*'] } });
    expect(planReload(base, config({ g: { runners: 5, include: ['*'] } }))).toEqual({
      dispatcherChanged: false,
      needsRestart: [],
    });
    expect(planReload(base, config({ g: { runners: 1, include: ['*'] } }, { killGraceSeconds: 9 }))).toEqual({
      dispatcherChanged: true,
      needsRestart: [],
    });
    const moved = parseConfigText(
      JSON.stringify({
        groups: { g: { runners: 1, include: ['*'] } },
        redis: { aggregators: ['127.0.0.1:2'], queues: ['127.0.0.1:2'] },
        dispatcher: 'php other.php --wiki=%(db)x --type=%(type)x',
        statsd: '127.0.0.1:8125',
        runner: { discoveryIntervalMs: 5 },
      }),
      '/test/jobrunner.conf',
    );
    expect(planReload(base, moved)).toEqual({ dispatcherChanged: true, needsRestart: ['redis', 'statsd'] });
  });
});
