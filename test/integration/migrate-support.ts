// Shared pieces of the legacy-backend and migration integration tests: the built CLIs (checked to be
// newer than their sources), config files for a farm, running them, and job-table counting.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { JobTableClient, type JobTableDb } from '../../src/legacy/job-table-client.js';
import { runProcess, type ProcessRun } from '../support/run-process.js';
import { requireFreshBuild } from '../support/fresh-build.js';

export const JOBQUEUE = resolve('dist/cli/jobqueue.js');
export const JOBRUNNER = resolve('dist/cli/jobrunner.js');
export const JOBCHRON = resolve('dist/cli/jobchron.js');

/** Fails loudly when dist/ is missing or older than the sources these tests exercise. */
export function requireBuiltClis(): void {
  requireFreshBuild([JOBQUEUE, JOBRUNNER, JOBCHRON]);
}

export interface ConfigParts {
  farm: MediaWikiFarm;
  redis?: string;
  memcached?: string;
  backend?: 'redis' | 'memcached' | 'kafka';
  extra?: Record<string, unknown>;
}

/**
 * A jobrunner.conf for the farm: memcached section over its job tables (SQLite files, or the wikis'
 * MariaDB databases) when memcached is given.
 */
export function writeFarmConfig(file: string, parts: ConfigParts): string {
  const redis = parts.redis ?? '127.0.0.1:9';
  const config: Record<string, unknown> = {
    ...(parts.backend ? { backend: parts.backend } : {}),
    groups: { basic: { runners: 2, include: ['*'] } },
    redis: { aggregators: [redis], queues: [redis] },
    dispatcher: parts.farm.runJobsCommand(),
    chron: { intervalMs: 200 },
    runner: { discoveryIntervalMs: 100, noneReadyBackoffSeconds: 1 },
    status: { enabled: false },
    ...(parts.memcached
      ? {
          memcached: {
            servers: [parts.memcached],
            wikis: Object.fromEntries(
              parts.farm.wikis.map((wiki) => [
                wiki,
                parts.farm.mariadb?.legacyWiki(wiki) ?? {
                  dsn: `sqlite:${parts.farm.dir}/data/${wiki}_jobqueue.sqlite`,
                },
              ]),
            ),
          },
        }
      : {}),
    ...(parts.extra ?? {}),
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Runs `jobqueue <args>` from dist to the end. */
export function runJobqueue(args: string[], cwd?: string): Promise<ProcessRun> {
  return runProcess(process.execPath, [JOBQUEUE, ...args], cwd !== undefined ? { cwd } : {});
}

/** Rows per wiki in the farm's job tables. */
export async function jobTableRows(
  tables: JobTableClient,
  farm: MediaWikiFarm,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const wiki of farm.wikis) {
    const summary = await tables.summary(
      farmJobTable(farm, wiki),
      { default: { claimTTL: 3600, attempts: 3 }, types: {} },
      Date.now() / 1000,
    );
    out.set(
      wiki,
      summary.reduce((n, s) => n + s.unclaimed + s.claimed, 0),
    );
  }
  return out;
}

/** Where a farm wiki's job table is: its SQLite file, or its MariaDB database. */
export function farmJobTable(farm: MediaWikiFarm, wiki: string): JobTableDb {
  const mariadb = farm.mariadb;
  if (!mariadb) return { dsn: `sqlite:${farm.dir}/data/${wiki}_jobqueue.sqlite`, prefix: '' };
  const entry = mariadb.legacyWiki(wiki);
  return { dsn: entry.dsn, user: entry.user, password: mariadb.password, prefix: entry.tablePrefix ?? '' };
}

export function total(counts: Map<string, number>): number {
  return [...counts.values()].reduce((a, b) => a + b, 0);
}

/** Runs a bash script of the repo (the cutover wrappers) with extra environment. */
export function runScript(script: string, args: string[], env: Record<string, string>): Promise<ProcessRun> {
  return runProcess('bash', [resolve(script), ...args], { env: { ...process.env, ...env } });
}
