// What a benchmark ran on: CPU, cores, memory, OS and the versions of node, PHP, Redis and
// MediaWiki, so every published figure names its machine.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { mediawikiPath } from '../../farm/farm-paths.js';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly ramGiB: number;
  readonly os: string;
  readonly kernel: string;
  readonly node: string;
  readonly php: string;
  readonly redis: string;
  readonly mediawiki: string;
  /** 1, 5 and 15 minute load averages when the info was collected. */
  readonly loadAverage: readonly number[];
}

/** First line of a command's output, or "unavailable (<reason>)". */
function commandOutput(command: string, args: string[], pick: (text: string) => string | undefined): string {
  try {
    const text = execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    });
    return pick(text) ?? text.trim().split('\n')[0] ?? 'unknown';
  } catch (error) {
    return `unavailable (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
  }
}

function osName(): string {
  const file = '/etc/os-release';
  if (!existsSync(file)) return process.platform;
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync(file, 'utf8'));
  return pretty?.[1] ?? process.platform;
}

function mediawikiVersion(): string {
  const defines = `${mediawikiPath()}/includes/Defines.php`;
  if (!existsSync(defines)) return 'not installed';
  return /define\(\s*'MW_VERSION',\s*'([^']+)'/.exec(readFileSync(defines, 'utf8'))?.[1] ?? 'unknown';
}

export function collectMachineInfo(): MachineInfo {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    kernel: release(),
    node: process.version,
    php: commandOutput(
      'php',
      ['-r', 'echo PHP_VERSION, " (phpredis ", phpversion("redis") ?: "none", ")";'],
      () => undefined,
    ),
    redis: commandOutput('redis-server', ['--version'], (t) => /v=(\S+)/.exec(t)?.[1]),
    mediawiki: mediawikiVersion(),
    loadAverage: loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

export function formatMachineInfo(info: MachineInfo): string {
  return [
    `CPU:       ${info.cpuModel} (${info.cores} cores)`,
    `RAM:       ${info.ramGiB} GiB`,
    `OS:        ${info.os}, kernel ${info.kernel}`,
    `node:      ${info.node}`,
    `PHP:       ${info.php}`,
    `Redis:     ${info.redis}`,
    `MediaWiki: ${info.mediawiki}`,
    `Load:      ${info.loadAverage.join(' ')} (1, 5, 15 min)`,
  ].join('\n');
}

/** A warning when other work was running (figures taken then are not comparable), else null. */
export function busyMachineWarning(info: MachineInfo): string | null {
  const oneMinute = info.loadAverage[0] ?? 0;
  if (oneMinute <= info.cores * 0.5) return null;
  return `warning: load average ${oneMinute} on ${info.cores} cores: other work is running and will skew these figures`;
}
