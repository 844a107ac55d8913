// Generated bad input, seeded and reproducible (FUZZ_SEED, default below), at least 1,000 cases per
// parser: config files, job blobs, runJobs output, Kafka job events and daemon command lines. Each
// case must end in a result or the parser's own typed error with a message that says what is
// wrong; never another exception (a crash), never a secret in the message.
import { describe, expect, it } from 'vitest';
import { UsageError, parseDaemonArgs } from '../../src/cli/daemon-cli.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';
import { JobEventError } from '../../src/kafka/errors.js';
import { parseJobEvent } from '../../src/kafka/job-event.js';
import { JobBlobError, decodeJobBlob, encodeJobBlob } from '../../src/mediawiki/job-blob.js';
import { PhpArray } from '../../src/mediawiki/php-serialize.js';
import { parseRunJobsOutput } from '../../src/mediawiki/runjobs-result.js';
import {
  NASTY_STRINGS,
  anyValue,
  int,
  mutateBytes,
  mutateText,
  pick,
  randomBytes,
  randomText,
  seeded,
  type Random,
} from './generators.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CASES = 1500;
const SECRET = 'fuzz-redis-S3cret-9f2e';

interface Tally {
  accepted: number;
  rejected: number;
}

/** Runs `CASES` cases; a case that throws something unexpected fails with its seed and index. */
function fuzz(name: string, run: (r: Random, index: number) => 'accepted' | 'rejected'): Tally {
  const tally: Tally = { accepted: 0, rejected: 0 };
  for (let i = 0; i < CASES; i++) {
    const r = seeded(SEED + i * 7919);
    try {
      tally[run(r, i)]++;
    } catch (error) {
      throw new Error(
        `${name}: case ${i} (FUZZ_SEED=${SEED}) crashed: ${(error as Error).stack ?? String(error)}`,
      );
    }
  }
  return tally;
}

// ---- configs ----

function baseConfig(): Record<string, unknown> {
  return {
    groups: {
      basic: { runners: 3, include: ['*'], exclude: ['webVideoTranscode'], 'low-priority': ['refreshLinks'] },
    },
    limits: { attempts: { '*': 3 }, claimTTL: { '*': 3600 }, real: { '*': 300 }, memory: { '*': '300M' } },
    redis: {
      aggregators: ['127.0.0.1:6379'],
      queues: ['127.0.0.1:6379', '127.0.0.1:6380'],
      password: SECRET,
    },
    statsd: '127.0.0.1:8125',
    dispatcher:
      'php runJobs.php --wiki=%(db)x --type=%(type)x --maxtime=%(maxtime)x --memory-limit=%(maxmem)x',
    runner: { maxPerQueue: 2 },
    chron: { intervalMs: 1000 },
    status: { enabled: true, address: '127.0.0.1' },
    logging: { level: 'info' },
  };
}

/** A path of keys to a random node of `value`. */
function randomPath(r: Random, value: unknown): string[] {
  const path: string[] = [];
  let node = value;
  while (node !== null && typeof node === 'object' && r() < 0.75) {
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const key = pick(r, keys);
    path.push(key);
    node = (node as Record<string, unknown>)[key];
  }
  return path;
}

function setAt(root: Record<string, unknown>, path: string[], value: unknown, remove: boolean): void {
  if (path.length === 0) return;
  let node: Record<string, unknown> = root;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path[path.length - 1] as string;
  if (remove) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = value;
}

function badConfigText(r: Random): string {
  const config = baseConfig();
  const kind = int(r, 0, 5);
  if (kind <= 2) {
    // Structural change: wrong type / removed / unknown key, one to three times.
    for (let n = int(r, 1, 3); n > 0; n--) {
      const path = randomPath(r, config);
      if (path[0] === 'redis' && path[1] === 'password') continue; // keep the secret where it belongs
      if (kind === 2)
        setAt(config, [...path.slice(0, -1), pick(r, NASTY_STRINGS) || 'x'], anyValue(r), false);
      else setAt(config, path, anyValue(r), kind === 1 && r() < 0.5);
    }
    return `// fuzz\n${JSON.stringify(config, null, 2)}\n`;
  }
  const text = `// fuzz\n${JSON.stringify(config, null, 2)}\n`;
  if (kind === 3) return mutateText(r, text);
  if (kind === 4) return text.slice(0, int(r, 0, text.length - 1));
  return randomText(r, int(r, 0, 200));
}

// ---- job blobs ----

function validBlob(r: Random): Buffer {
  const params = new PhpArray();
  for (let n = int(r, 0, 4); n > 0; n--)
    params.set(pick(r, ['seq', 'title', 'pages', 'x']), randomText(r, int(r, 0, 12)));
  return encodeJobBlob(
    {
      type: pick(r, ['null', 'refreshLinks', 'htmlCacheUpdate']),
      namespace: int(r, -1, 10),
      title: randomText(r, int(r, 0, 10)),
      params,
      uuid: 'a'.repeat(32),
      sha1: '',
      timestamp: 1795829823,
      rtimestamp: 0,
    },
    { compression: r() < 0.3 ? 'gzip' : undefined },
  );
}

// ---- runJobs output ----

function badRunJobsOutput(r: Random): string {
  const good = JSON.stringify({
    jobs: [{ type: 'null', status: 'ok', error: null, time: 3 }],
    reached: 'none-ready',
    backoffs: [],
    elapsed: 3,
  });
  switch (int(r, 0, 6)) {
    case 0:
      return mutateText(r, good);
    case 1:
      return `PHP Warning: ${randomText(r, 30)}\n${mutateText(r, good)}`;
    case 2:
      return JSON.stringify(anyValue(r));
    case 3:
      return `<!DOCTYPE html><html><body>${randomText(r, 60)}</body></html>`;
    case 4:
      return randomText(r, int(r, 0, 300));
    case 5: {
      const v = JSON.parse(good) as Record<string, unknown>;
      v[pick(r, ['jobs', 'reached', 'backoffs', 'elapsed'])] = anyValue(r);
      return JSON.stringify(v);
    }
    default:
      return '{'.repeat(int(r, 1, 2000)) + '}'.repeat(int(r, 0, 2000));
  }
}

// ---- Kafka events ----

function badKafkaEvent(r: Random): Buffer | undefined {
  const event: Record<string, unknown> = {
    $schema: '/mediawiki/job/1.0.0',
    meta: { id: 'x', dt: '2026-11-28T00:00:00Z', domain: 'wiki1.local', stream: 'mediawiki.job.null' },
    database: 'wiki1',
    type: 'null',
    params: {},
    delay_until: '2026-11-28T00:00:10Z',
    root_event: { signature: 'sig', dt: '2026-11-28T00:00:00Z' },
  };
  switch (int(r, 0, 4)) {
    case 0:
      return mutateBytes(r, Buffer.from(JSON.stringify(event)));
    case 1: {
      for (let n = int(r, 1, 3); n > 0; n--) event[pick(r, Object.keys(event))] = anyValue(r);
      return Buffer.from(JSON.stringify(event));
    }
    case 2:
      return r() < 0.1 ? undefined : randomBytes(r, int(r, 0, 80));
    case 3:
      return Buffer.from(JSON.stringify(anyValue(r)));
    default: {
      delete event[pick(r, ['type', 'database', 'params', 'meta'])];
      return Buffer.from(JSON.stringify(event));
    }
  }
}

// ---- command lines ----

function badArgv(r: Random): string[] {
  const words = [
    '--config-file',
    '--config-file=',
    '--config-file=/etc/jobrunner/jobrunner.conf',
    '--check-config',
    '--check-config=yes',
    '--verbose',
    '--verbose=1',
    '--config',
    '-c',
    '--',
    '-',
    '--no-verbose',
    '--config-file=a --config-file=b',
    ...NASTY_STRINGS,
  ];
  return Array.from({ length: int(r, 0, 5) }, () =>
    r() < 0.8 ? pick(r, words) : randomText(r, int(r, 0, 12)),
  );
}

describe(`bad input (FUZZ_SEED=${SEED}, ${CASES} cases each)`, () => {
  it('configs: a ConfigError naming file and place, or a valid config; never a crash or a leaked secret', () => {
    const tally = fuzz('config', (r, i) => {
      const file = `/etc/jobrunner/fuzz-${i}.conf`;
      try {
        parseConfigText(badConfigText(r), file);
        return 'accepted';
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        expect(error.problems.length).toBeGreaterThan(0);
        for (const line of error.message.split('\n')) expect(line.startsWith(file), error.message).toBe(true);
        expect(error.message).not.toContain(SECRET);
        return 'rejected';
      }
    });
    expect(tally.rejected).toBeGreaterThan(CASES / 2);
  });

  it('job blobs: decodeJobBlob gives a job or a JobBlobError, never another exception', () => {
    const tally = fuzz('job blob', (r) => {
      const raw = r() < 0.85 ? mutateBytes(r, validBlob(r)) : randomBytes(r, int(r, 0, 64));
      try {
        const job = decodeJobBlob(raw);
        expect(typeof job.type).toBe('string');
        return 'accepted';
      } catch (error) {
        if (!(error instanceof JobBlobError)) throw error;
        expect(error.message.length).toBeGreaterThan(0);
        return 'rejected';
      }
    });
    expect(tally.rejected).toBeGreaterThan(CASES / 2);
  });

  it('runJobs output: parseRunJobsOutput returns a result or an error string, never throws', () => {
    const tally = fuzz('runJobs output', (r) => {
      const outcome = parseRunJobsOutput(badRunJobsOutput(r));
      if ('error' in outcome) {
        expect(outcome.error).toMatch(/\S/);
        expect(outcome.error.length).toBeLessThan(2000);
        return 'rejected';
      }
      expect(Array.isArray(outcome.result.jobs)).toBe(true);
      return 'accepted';
    });
    expect(tally.rejected).toBeGreaterThan(CASES / 2);
  });

  it('Kafka events: parseJobEvent gives a view or a JobEventError, never another exception', () => {
    const tally = fuzz('kafka event', (r) => {
      try {
        const view = parseJobEvent(badKafkaEvent(r));
        expect(view.type).not.toBe('');
        expect(view.database).not.toBe('');
        if (view.delayUntilMs !== undefined) expect(Number.isFinite(view.delayUntilMs)).toBe(true);
        return 'accepted';
      } catch (error) {
        if (!(error instanceof JobEventError)) throw error;
        expect(error.message).toMatch(/\S/);
        return 'rejected';
      }
    });
    expect(tally.rejected).toBeGreaterThan(CASES / 2);
  });

  it('command lines: parseDaemonArgs gives args or a UsageError with a hint, never another exception', () => {
    const tally = fuzz('argv', (r) => {
      const argv = badArgv(r);
      try {
        const args = parseDaemonArgs(argv, pick(r, ['jobrunner', 'jobchron'] as const));
        expect(args.configFile.trim()).not.toBe('');
        return 'accepted';
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        if (error.exitCode === 1) expect(error.message).toMatch(/^job(runner|chron): .*\n.*--help/s);
        return 'rejected';
      }
    });
    expect(tally.rejected).toBeGreaterThan(CASES / 10);
  });
});
