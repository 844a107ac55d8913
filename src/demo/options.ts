// Command line of the demo and the sizes of its workload.

export interface DemoSizes {
  /** Pages using the demo template, per wiki (their import and the template edit queue real jobs). */
  readonly pages: number;
  /** Null jobs per wiki. */
  readonly nullJobs: number;
  /** Null jobs released after delaySeconds. */
  readonly delayedJobs: number;
  readonly delaySeconds: number;
  /** Identical de-duplicated jobs pushed in one batch (MediaWiki stores one). */
  readonly dedupePushes: number;
  /** Jobs of the failing type mwlabFail (retried once, then abandoned). */
  readonly failingJobs: number;
  /** Single jobs pushed one at a time to measure pickup latency. */
  readonly probes: number;
  /** Give up when the work is not done after this long (s). */
  readonly timeoutSeconds: number;
}

export interface DemoOptions {
  readonly quick: boolean;
  /** redis: jobchron + jobrunner on JobQueueRedis; kafka: EventBus → jobrunner-intake → Kafka → jobrunner. */
  readonly backend: 'redis' | 'kafka';
  readonly dispatch: 'command' | 'http';
  readonly sizes: DemoSizes;
}

export class DemoUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoUsageError';
  }
}

export const USAGE = `Usage: npm run demo [-- --quick] [-- --http] [-- --backend kafka]
  --quick           a smaller workload (about 20 s), as used by the test suite
  --http            dispatch to rpc/RunJobs.php on a php -S server instead of running runJobs.php
  --backend kafka   MediaWiki's EventBus → jobrunner-intake → Kafka → jobrunner (backend kafka)`;

const FULL: DemoSizes = {
  pages: 40,
  nullJobs: 400,
  delayedJobs: 20,
  delaySeconds: 4,
  dedupePushes: 50,
  failingJobs: 3,
  probes: 12,
  timeoutSeconds: 90,
};

const QUICK: DemoSizes = {
  pages: 10,
  nullJobs: 100,
  delayedJobs: 5,
  delaySeconds: 2,
  dedupePushes: 20,
  failingJobs: 2,
  probes: 5,
  timeoutSeconds: 45,
};

export function parseDemoArgs(argv: readonly string[]): DemoOptions | 'help' {
  let quick = false;
  let dispatch: DemoOptions['dispatch'] = 'command';
  let backend: DemoOptions['backend'] = 'redis';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--backend' || arg.startsWith('--backend=')) {
      const value = arg === '--backend' ? argv[++i] : arg.slice('--backend='.length);
      if (value !== 'redis' && value !== 'kafka') {
        throw new DemoUsageError(`--backend must be 'redis' or 'kafka', not '${value ?? ''}'\n${USAGE}`);
      }
      backend = value;
    } else if (arg === '--quick') quick = true;
    else if (arg === '--http') dispatch = 'http';
    else if (arg === '--help' || arg === '-h') return 'help';
    else throw new DemoUsageError(`unknown argument '${arg}'\n${USAGE}`);
  }
  return { quick, backend, dispatch, sizes: quick ? QUICK : FULL };
}
