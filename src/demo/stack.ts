// Everything the demo runs on, started in order and registered for clean-up as it goes: a private
// redis-server, a two-wiki MediaWiki farm, optionally php -S for the HTTP dispatcher, the Redis
// event watcher, the demo's jobrunner.conf, and jobchron + jobrunner as child processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DaemonProcess } from '../bench/common/daemon-process.js';
import { JobEventTracker } from '../bench/common/job-events.js';
import { farmQueue } from '../bench/common/queue-totals.js';
import { waitFor } from '../bench/common/wait.js';
import { buildFarm, type MediaWikiFarm } from '../farm/mediawiki-farm.js';
import { trackDir, untrackDir } from '../farm/process-tree.js';
import { startRedisServer } from '../farm/redis-server.js';
import type { QueueRef } from '../mediawiki/queue-keys.js';
import { RedisQueueStore } from '../redis/queue-store.js';
import type { Cleanup } from './cleanup.js';
import { DaemonLogTally } from './daemon-logs.js';
import {
  FAILING_ATTEMPTS,
  FAILING_CLAIM_TTL,
  MAIN_RUNNERS,
  RETRY_RUNNERS,
  writeDemoConfig,
} from './demo-config.js';
import type { DemoOptions } from './options.js';
import { FAILING_TYPE, PROBE_TYPE } from './workload.js';

export class DemoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoError';
  }
}

export interface DemoStack {
  readonly farm: MediaWikiFarm;
  readonly store: RedisQueueStore;
  readonly tracker: JobEventTracker;
  readonly runner: DaemonProcess;
  readonly chron: DaemonProcess;
  readonly logs: DaemonLogTally;
  /** Throws a DemoError when a daemon is no longer running. */
  checkDaemons(): void;
  /** Every queue a job was stored in so far. */
  knownQueues(): QueueRef[];
}

export async function startDemoStack(
  options: DemoOptions,
  cleanup: Cleanup,
  say: (text: string) => void,
  onFarm: (settingsFile: string) => void,
): Promise<DemoStack> {
  say('starting a private redis-server and a 2-wiki MediaWiki farm (temp dirs)…');
  const redis = await startRedisServer();
  cleanup.add('stop redis-server', () => redis.stop());
  const farm = await buildFarm({ redis });
  onFarm(farm.settingsFile);
  cleanup.add('remove the MediaWiki farm', () => farm.destroy());
  await farm.setExtraJobTypes({ [PROBE_TYPE]: 'null' });
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-demo-'));
  trackDir(dir);
  cleanup.add('remove the demo dir', () => {
    rmSync(dir, { recursive: true, force: true });
    untrackDir(dir);
  });
  say(`MediaWiki ${farm.mediawikiVersion} farm in ${farm.dir} (wikis ${farm.wikis.join(', ')})`);
  say(`redis-server (pid ${redis.pid}) at ${redis.address}; demo files in ${dir}`);

  let dispatcher = farm.runJobsCommand();
  if (options.dispatch === 'http') {
    const web = await farm.startWebServer({ workers: MAIN_RUNNERS + RETRY_RUNNERS });
    cleanup.add('stop php -S', () => web.stop());
    dispatcher = web.rpcRunJobsTemplate();
    say(`dispatching over HTTP to ${web.baseUrl}/rpc/RunJobs.php`);
  }

  const tracker = await JobEventTracker.start(redis);
  cleanup.add('stop watching Redis', () => tracker.stop());
  const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
  await client.connect();
  cleanup.add('disconnect from Redis', () => client.disconnect());

  const configFile = join(dir, 'jobrunner.conf');
  writeDemoConfig(configFile, redis.address, dispatcher);
  say(
    `wrote ${configFile}: group main (${MAIN_RUNNERS} runners, every type but ${FAILING_TYPE}; htmlCacheUpdate and ` +
      `refreshLinks low-priority) and group retries (${RETRY_RUNNERS} runner for ${FAILING_TYPE}: claimTTL ` +
      `${FAILING_CLAIM_TTL} s, ${FAILING_ATTEMPTS} attempts)`,
  );

  const logs = new DaemonLogTally();
  let chronStarted = false;
  let runnerStarted = false;
  const chron = DaemonProcess.start({
    name: 'jobchron',
    configFile,
    logFile: join(dir, 'jobchron.log'),
    onLine: (line) => {
      if (line.msg === 'jobchron started') chronStarted = true;
      logs.onChronLine(line);
    },
  });
  cleanup.add('stop jobchron', async () => void (await chron.stop(10_000)));
  const runner = DaemonProcess.start({
    name: 'jobrunner',
    configFile,
    verbose: true, // per-dispatch lines carry the ok / failed counts the summary checks
    logFile: join(dir, 'jobrunner.log'),
    onLine: (line) => {
      if (line.msg === 'Starting job runner') runnerStarted = true;
      logs.onRunnerLine(line);
    },
  });
  cleanup.add('stop jobrunner', async () => void (await runner.stop(30_000)));
  const checkDaemons = () => {
    for (const d of [runner, chron]) {
      if (!d.running) throw new DemoError(`${d.name} exited unexpectedly; its last output:\n${d.tail()}`);
    }
  };
  await waitFor(
    'jobrunner and jobchron to start',
    () => {
      checkDaemons();
      return runnerStarted && chronStarted;
    },
    { timeoutMs: 20_000 },
  );
  say(`jobchron (pid ${chron.pid}) and jobrunner (pid ${runner.pid}) running`);
  return {
    farm,
    store: new RedisQueueStore(client),
    tracker,
    runner,
    chron,
    logs,
    checkDaemons,
    knownQueues: () => tracker.queues().map((q) => farmQueue(q.wiki, q.type)),
  };
}
