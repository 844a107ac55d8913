// Idle Redis load of jobrunner + jobchron with no runnable work: INFO commandstats before and after
// a window (commands inside Lua scripts included, as Redis counts them), then a MONITOR window of
// the same length that splits client-sent commands from in-script ones.
import { join } from 'node:path';
import type { BenchFarm } from './bench-farm.js';
import { DaemonPair } from './daemon-pair.js';
import { parkQueues } from './pickup.js';
import { commandDelta, commandStats, monitorSample, redisCpuSeconds, sumCounts } from './redis-stats.js';
import { writeRunnerConfig } from './runner-config.js';
import { ACTIVE_LINGER_MS } from '../../runner/discovery.js';
import { sleep } from '../../farm/process-tree.js';

export interface IdleOptions {
  readonly label: string;
  readonly dispatcher: string;
  readonly seconds: number;
  /** Queues holding a job of a type the runner's group does not run. */
  readonly parkedQueues: number;
}

export interface IdleResult {
  readonly label: string;
  readonly seconds: number;
  readonly commandsPerSecond: number;
  readonly byCommand: Record<string, number>;
  readonly clientCommandsPerSecond: number;
  readonly scriptCommandsPerSecond: number;
  readonly clientByCommand: Record<string, number>;
  /** Redis CPU time over the commandstats window, as a share of one core (%). */
  readonly redisCpuPercent: number;
}

function perSecond(counts: ReadonlyMap<string, number>, seconds: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1]))
    out[name] = Math.round((n / seconds) * 10) / 10;
  return out;
}

export async function measureIdleLoad(bench: BenchFarm, options: IdleOptions): Promise<IdleResult> {
  await bench.flush();
  if (options.parkedQueues > 0) await parkQueues(bench, options.parkedQueues);
  const configFile = join(bench.dir, `${options.label}.conf`);
  writeRunnerConfig(configFile, {
    comment: `bench:runner idle load (${options.label})`,
    redisAddress: bench.redis.address,
    dispatcher: options.dispatcher,
    groups: { bench: { runners: 4, include: ['null'] } },
  });
  const pair = await DaemonPair.start({ configFile, logDir: bench.dir }, options.label);
  try {
    // Past the runner's busy-poll linger after start, and a chron pass or two.
    await sleep(ACTIVE_LINGER_MS + 1500);
    const cpuBefore = await redisCpuSeconds(bench.client);
    const before = await commandStats(bench.client);
    await sleep(options.seconds * 1000);
    const delta = commandDelta(before, await commandStats(bench.client));
    const cpu = (await redisCpuSeconds(bench.client)) - cpuBefore;
    // Our own INFO calls inside the window (the "before" commandstats and the "after" cpu) are
    // counted too; they are not the daemons'.
    const info = (delta.get('info') ?? 0) - 1;
    if (info > 0) delta.set('info', info);
    else delta.delete('info');
    const monitor = await monitorSample(bench.redis, options.seconds);
    const stop = await pair.stop();
    if (stop.errors.length > 0)
      throw new Error(`daemon errors during ${options.label}:\n${stop.errors.join('\n')}`);
    return {
      label: options.label,
      seconds: options.seconds,
      commandsPerSecond: sumCounts(delta) / options.seconds,
      byCommand: perSecond(delta, options.seconds),
      clientCommandsPerSecond: sumCounts(monitor.clientCommands) / options.seconds,
      scriptCommandsPerSecond: sumCounts(monitor.scriptCommands) / options.seconds,
      clientByCommand: perSecond(monitor.clientCommands, options.seconds),
      redisCpuPercent: (cpu / options.seconds) * 100,
    };
  } catch (error) {
    await pair.stop().catch(() => undefined);
    throw error;
  }
}
