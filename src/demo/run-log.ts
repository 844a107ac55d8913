// Reads MediaWiki's runJobs debug log (farm option debugLog): JobRunner::executeJob writes
// "<date> <time> <host> <wiki>: <type> <title> <params> t=<ms> good" (or "error=…") for every job
// it runs, whichever entry point called it (runJobs.php, rpc/RunSingleJob.php, EventBus's REST
// executor). The Kafka demo counts runs per marker param from it.
import { existsSync, readFileSync } from 'node:fs';

export interface LoggedRun {
  readonly type: string;
  readonly marker: string | undefined;
  readonly seq: string | undefined;
  /** When the job finished (ms; the log has whole seconds). */
  readonly at: number;
  readonly good: boolean;
}

export function readRunLog(file: string): LoggedRun[] {
  if (!existsSync(file)) return [];
  const runs: LoggedRun[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\S+) (\S+) \S+ \S+: (\S+) [^\n]* t=\S+ (good|error)/.exec(line);
    if (m === null) continue;
    runs.push({
      type: m[3] ?? '',
      marker: / marker=(\S+)/.exec(line)?.[1],
      seq: / seq=(\d+)/.exec(line)?.[1],
      at: Date.parse(`${m[1]}T${m[2]}Z`),
      good: m[4] === 'good',
    });
  }
  return runs;
}
