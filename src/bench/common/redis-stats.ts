// Redis load figures: INFO commandstats deltas (which count commands run inside Lua scripts too),
// a MONITOR sample that separates commands sent by clients from those run by scripts, and Redis
// CPU time.
import { Redis } from 'ioredis';
import { connect } from 'node:net';
import { respCommand } from '../../farm/tcp-probe.js';
import type { RedisTarget } from './job-events.js';

export type CommandCounts = ReadonlyMap<string, number>;

/** cmdstat_<name>:calls=N,... → name → N. */
export function parseCommandStats(info: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) counts.set(match[1] as string, Number(match[2]));
  }
  return counts;
}

export async function commandStats(client: Redis): Promise<Map<string, number>> {
  return parseCommandStats(await client.info('commandstats'));
}

/** after − before per command, without commands whose count did not change. */
export function commandDelta(before: CommandCounts, after: CommandCounts): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) {
    const diff = calls - (before.get(name) ?? 0);
    if (diff > 0) delta.set(name, diff);
  }
  return delta;
}

/** used_cpu_sys + used_cpu_user of the server (s). */
export async function redisCpuSeconds(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const value = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 'NaN');
  return value('used_cpu_sys') + value('used_cpu_user');
}

export interface MonitorSample {
  /** Commands sent by clients (the runner's EVALSHA counts once). */
  readonly clientCommands: Map<string, number>;
  /** Commands run inside Lua scripts. */
  readonly scriptCommands: Map<string, number>;
  readonly seconds: number;
}

/**
 * Watches MONITOR for `seconds` over a plain socket (ioredis' monitor mode loses track of replies
 * on a busy server). MONITOR lines look like
 *   +1700000000.123456 [0 127.0.0.1:50000] "evalsha" "..."   (a client)
 *   +1700000000.123500 [0 lua] "LLEN" "..."                    (inside a script)
 */
export function monitorSample(target: RedisTarget, seconds: number): Promise<MonitorSample> {
  const clientCommands = new Map<string, number>();
  const scriptCommands = new Map<string, number>();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port });
    let buffer = '';
    let started = false;
    const timer = setTimeout(() => {
      socket.destroy();
      if (started) resolve({ clientCommands, scriptCommands, seconds });
      else reject(new Error('MONITOR did not start'));
    }, seconds * 1000);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      const auth = target.password ? respCommand('AUTH', target.password) : '';
      socket.write(auth + respCommand('MONITOR'));
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let end = buffer.indexOf('\r\n');
      while (end >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\r\n');
        if (line === '+OK') {
          started = true;
          continue;
        }
        if (line.startsWith('-')) {
          clearTimeout(timer);
          socket.destroy();
          reject(new Error(`MONITOR: ${line.slice(1)}`));
          return;
        }
        const match = /^\+[0-9.]+ \[[0-9]+ ([^\]]+)\] "([^"]*)"/.exec(line);
        if (!match) continue;
        const counts = match[1] === 'lua' ? scriptCommands : clientCommands;
        const name = (match[2] as string).toLowerCase();
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export function sumCounts(counts: CommandCounts): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
}

/** "evalsha 100, llen 50" sorted by count. */
export function formatCounts(counts: CommandCounts, perSeconds?: number): string {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${perSeconds ? (n / perSeconds).toFixed(1) : n}`)
    .join(', ');
}
