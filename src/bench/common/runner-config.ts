// jobrunner.conf files for the demo and the benchmarks, written as JSON with a comment saying who
// wrote them. The status servers are off so several runs never fight over ports.
import { writeFileSync } from 'node:fs';

export interface GroupSpec {
  readonly runners: number;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly 'low-priority'?: readonly string[];
}

export interface RunnerConfigSpec {
  /** Who wrote the file and why (first-line comment). */
  readonly comment: string;
  readonly redisAddress: string;
  readonly dispatcher?: string;
  readonly dispatch?: Readonly<Record<string, unknown>>;
  readonly groups: Readonly<Record<string, GroupSpec>>;
  readonly limits?: Readonly<Record<string, Readonly<Record<string, number | string>>>>;
  readonly runner?: Readonly<Record<string, unknown>>;
  readonly chron?: Readonly<Record<string, number | boolean>>;
}

/** The config as a JSON object (the daemons validate it on start). */
export function runnerConfigObject(spec: RunnerConfigSpec): Record<string, unknown> {
  return {
    groups: spec.groups,
    ...(spec.limits ? { limits: spec.limits } : {}),
    redis: { aggregators: [spec.redisAddress], queues: [spec.redisAddress] },
    ...(spec.dispatcher !== undefined ? { dispatcher: spec.dispatcher } : {}),
    ...(spec.dispatch ? { dispatch: spec.dispatch } : {}),
    ...(spec.runner ? { runner: spec.runner } : {}),
    ...(spec.chron ? { chron: spec.chron } : {}),
    status: { enabled: false },
  };
}

export function writeRunnerConfig(file: string, spec: RunnerConfigSpec): void {
  const body = JSON.stringify(runnerConfigObject(spec), null, 2);
  writeFileSync(file, `// ${spec.comment.replace(/\n/g, ' ')}\n${body}\n`);
}
