// The command dispatcher against real processes: a fake runJobs script (test/fixtures/executors)
// that prints results, fails, hangs, spawns process trees and floods its output.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, sleep } from '../../src/farm/process-tree.js';
import { createLogger } from '../../src/observability/logger.js';
import { parseConfigText } from '../../src/config/load.js';
import { createDispatcher } from '../../src/runner/dispatch/index.js';
import { CommandDispatcher } from '../../src/runner/dispatch/command-dispatcher.js';
import { createMasker } from '../../src/runner/dispatch/masking.js';
import type { DispatchRequest } from '../../src/runner/dispatch/types.js';

// Run through bash so the test does not depend on the script's executable bit.
const FAKE = `bash ${resolve('test/fixtures/executors/fake-runjobs.sh')}`;
const dir = mkdtempSync(join(tmpdir(), 'jobrunner-dispatch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const logLines: string[] = [];
const logger = createLogger({
  service: 'test',
  level: 'debug',
  stream: new Writable({
    write(chunk: Buffer, _enc, cb: () => void) {
      logLines.push(chunk.toString());
      cb();
    },
  }),
});

function request(overrides: Partial<DispatchRequest> = {}): DispatchRequest {
  return {
    wiki: 'wiki1',
    domain: 'wiki1',
    type: 'null',
    maxTime: 30,
    maxMem: '300M',
    realLimitSeconds: 30,
    maxJobs: 0,
    ...overrides,
  };
}

function dispatcher(template: string, killGraceSeconds = 0.3, secrets: string[] = []): CommandDispatcher {
  return new CommandDispatcher({
    template,
    killGraceSeconds,
    env: process.env,
    logger,
    mask: createMasker(secrets),
  });
}

let fileCounter = 0;
function tempFile(name: string): string {
  return join(dir, `${name}-${++fileCounter}`);
}

/** Waits until `file` lists at least `count` "role pid" lines; returns them. */
async function pidsWhenReady(file: string, count: number): Promise<{ role: string; pid: number }[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
    if (lines.length >= count) {
      return lines.map((line) => {
        const [role = '', pid = ''] = line.split(' ');
        return { role, pid: Number(pid) };
      });
    }
    if (Date.now() > deadline)
      throw new Error(`${file} never listed ${count} processes: ${lines.join(', ')}`);
    await sleep(10);
  }
}

function survivors(pids: { pid: number }[]): number[] {
  return pids.map((p) => p.pid).filter((pid) => isAlive(pid));
}

describe('command dispatcher with real processes', () => {
  it('runs the template without a shell and counts the jobs of a valid result', async () => {
    const d = dispatcher(`${FAKE} json 3`);
    expect(d.direct).toBe(true);
    const result = await d.dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('ok');
    expect(result.okJobs).toBe(3);
    expect(result.failedJobs).toBe(0);
    expect(result.byType).toEqual({ null: { ok: 3, failed: 0 } });
    expect(result.result?.reached).toBe('none-ready');
    expect(result.exitCode).toBe(0);
    expect(result.target).toBe(`${FAKE} json 3`);
    expect(result.killed).toBeUndefined();
  });

  it('reads a result preceded by PHP notices', async () => {
    const result = await dispatcher(`${FAKE} notice`).dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('ok');
    expect(result.okJobs).toBe(2);
  });

  it('never lets a hostile type or wiki inject commands, with or without a shell', async () => {
    const pwned = tempFile('pwned');
    const nasty = `a;b$(touch ${pwned})'"\n\`touch ${pwned}\` && touch ${pwned} |x> ${pwned}`;
    for (const template of [
      `${FAKE} args %(type)x.argv --wiki=%(db)x --type=%(type)x`, // argv
      `${FAKE} args %(type)x.argv --wiki=%(db)x --type=%(type)x "--q=%(type)x" '--s=%(type)x' | cat`, // sh -c
    ]) {
      const argvFile = join(dir, 'injection');
      const d = dispatcher(template.replace('%(type)x.argv', argvFile));
      const result = await d.dispatch(request({ type: nasty, wiki: "it's" }), new AbortController().signal);
      expect(result.outcome, result.error).toBe('ok');
      const argv = readFileSync(argvFile, 'utf8').split('\0').slice(0, -1);
      expect(argv.slice(1, 3)).toEqual(["--wiki=it's", `--type=${nasty}`]);
      if (template.includes('| cat')) expect(argv.slice(3)).toEqual([`--q=${nasty}`, `--s=${nasty}`]);
      expect(existsSync(pwned)).toBe(false);
    }
  });

  it('passes leading NAME=value words as environment', async () => {
    const file = tempFile('env');
    const d = dispatcher(`MW_TEST_VALUE=%(db)x-%(maxmem)x ${FAKE} env ${file} MW_TEST_VALUE`);
    expect(d.direct).toBe(true);
    const result = await d.dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('ok');
    expect(readFileSync(file, 'utf8')).toBe('wiki1-300M');
  });

  it('reports a non-zero exit with the stderr excerpt', async () => {
    const result = await dispatcher(`${FAKE} fail 3`).dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('exit-code');
    expect(result.exitCode).toBe(3);
    expect(result.error).toBe(
      'exited with status 3: JobQueueConnectionError from line 764 of /usr/share/mediawiki/includes/jobqueue/JobQueueRedis.php: Unable to connect to redis server 127.0.0.1:6399.',
    );
    expect(result.excerpt).toContain('#0 /usr/share/mediawiki/includes/jobqueue/JobQueueRedis.php(112)');
  });

  it('uses stdout for the message when stderr is empty', async () => {
    const result = await dispatcher(`${FAKE} stdout-fail`).dispatch(request(), new AbortController().signal);
    expect(result.errorKind).toBe('exit-code');
    expect(result.error).toBe('exited with status 1: mwlab: unknown wiki');
  });

  it('reports death by a signal it did not send', async () => {
    const result = await dispatcher(`${FAKE} signal`).dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('signal');
    expect(result.signal).toBe('SIGKILL');
    expect(result.killed).toBeUndefined();
  });

  it('reports output that is not a runJobs result as bad-output', async () => {
    const result = await dispatcher(`${FAKE} garbage`).dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('bad-output');
    expect(result.error).toBe('output is not a runJobs result: no JSON object in output');
    expect(result.excerpt).toBe('<html><body>Fatal error</body></html>');
  });

  it('reports a command that cannot be started', async () => {
    const result = await dispatcher('/nonexistent/php runJobs.php').dispatch(
      request(),
      new AbortController().signal,
    );
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('spawn');
    expect(result.error).toMatch(/could not start \/nonexistent\/php: .*ENOENT/);
  });

  it('on timeout kills the whole tree (argv mode), SIGTERM first', async () => {
    const file = tempFile('tree');
    const d = dispatcher(`${FAKE} tree ${file}`);
    const pending = d.dispatch(request({ realLimitSeconds: 0.5 }), new AbortController().signal);
    const pids = (await pidsWhenReady(file, 5)).filter((p) => p.role !== 'parent');
    expect(survivors(pids)).toHaveLength(4);
    const result = await pending;
    expect(result.outcome).toBe('timeout');
    expect(result.errorKind).toBe('timeout');
    expect(result.killed).toBe('SIGTERM');
    expect(result.error).toMatch(/no result within 0.5s \(limits.real\); process group sent SIGTERM/);
    expect(survivors(pids)).toEqual([]);
  });

  it('on timeout kills the whole tree under /bin/sh -c too (B7), including the shell', async () => {
    const file = tempFile('shtree');
    // "; true" keeps dash from exec'ing the script, so the shell stays in between.
    const d = dispatcher(`${FAKE} tree ${file}; true`);
    expect(d.direct).toBe(false);
    const pending = d.dispatch(request({ realLimitSeconds: 0.5 }), new AbortController().signal);
    const pids = await pidsWhenReady(file, 5);
    expect(survivors(pids)).toHaveLength(5); // sh, script, two children, grandchild
    const result = await pending;
    expect(result.outcome).toBe('timeout');
    expect(survivors(pids)).toEqual([]);
  });

  it('escalates to SIGKILL when the tree ignores SIGTERM, and only then resolves', async () => {
    const file = tempFile('stubborn');
    const d = dispatcher(`${FAKE} stubborn ${file}`, 0.3);
    const pending = d.dispatch(request({ realLimitSeconds: 0.5 }), new AbortController().signal);
    const pids = await pidsWhenReady(file, 2);
    const result = await pending;
    expect(result.outcome).toBe('timeout');
    expect(result.killed).toBe('SIGKILL');
    expect(result.signal).toBe('SIGKILL');
    expect(survivors(pids)).toEqual([]);
  });

  it('abort stops the tree with outcome aborted', async () => {
    const file = tempFile('abort');
    const controller = new AbortController();
    const d = dispatcher(`${FAKE} tree ${file}`);
    const pending = d.dispatch(request({ realLimitSeconds: 60 }), controller.signal);
    const pids = (await pidsWhenReady(file, 5)).filter((p) => p.role !== 'parent');
    controller.abort('drain timeout');
    const result = await pending;
    expect(result.outcome).toBe('aborted');
    expect(result.errorKind).toBe('aborted');
    expect(result.error).toBe('dispatch aborted (drain timeout); process group sent SIGTERM');
    expect(survivors(pids)).toEqual([]);
    // An already-aborted signal starts nothing.
    const again = await d.dispatch(request(), controller.signal);
    expect(again.outcome).toBe('aborted');
  });

  it('kills processes a finished child left in its group', async () => {
    for (const mode of ['stray', 'stray-pipe']) {
      const file = tempFile(mode);
      const result = await dispatcher(`${FAKE} ${mode} ${file}`).dispatch(
        request({ realLimitSeconds: 30 }),
        new AbortController().signal,
      );
      expect(result.outcome).toBe('ok');
      expect(result.okJobs).toBe(1);
      const pids = await pidsWhenReady(file, 1);
      expect(survivors(pids)).toEqual([]);
    }
    expect(logLines.some((l) => l.includes('left processes behind'))).toBe(true);
  });

  it('drains 20 MB of output without blocking and reports it instead of a bogus parse', async () => {
    const result = await dispatcher(`${FAKE} huge 20`).dispatch(request(), new AbortController().signal);
    expect(result.outcome).toBe('error');
    expect(result.errorKind).toBe('bad-output');
    expect(result.exitCode).toBe(0);
    expect(result.error).toBe(
      `stdout was ${20 * 1024 * 1024} bytes, over the ${8 * 1024 * 1024}-byte cap; result not parsed`,
    );
    expect(result.excerpt?.length).toBeLessThanOrEqual(4096);
  });

  it('parses a large valid result (100,000 jobs, ~6 MB)', async () => {
    const result = await dispatcher(`${FAKE} big-json 100000`).dispatch(
      request(),
      new AbortController().signal,
    );
    expect(result.outcome, result.error).toBe('ok');
    expect(result.okJobs).toBe(100_000);
    expect(result.result?.reached).toBe('job-limit');
  });

  it('runs many dispatches concurrently and close() waits for them', async () => {
    const d = dispatcher(`${FAKE} json %(maxtime)x`);
    const results = Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) => d.dispatch(request({ maxTime: n }), new AbortController().signal)),
    );
    await d.close();
    expect((await results).map((r) => r.okJobs)).toEqual([1, 2, 3, 4, 5, 6]);
    const refused = await d.dispatch(request(), new AbortController().signal);
    expect(refused.outcome).toBe('aborted');
    expect(refused.error).toBe('dispatcher is closed');
  });

  it('masks secrets in the target and excerpts', async () => {
    const result = await dispatcher(`${FAKE} stdout-fail --password=hunter22`, 0.3, ['hunter22']).dispatch(
      request(),
      new AbortController().signal,
    );
    expect(result.target).toBe(`${FAKE} stdout-fail --password=***`);
  });
});

describe('createDispatcher', () => {
  function config(extra: Record<string, unknown>): ReturnType<typeof parseConfigText> {
    return parseConfigText(
      JSON.stringify({
        groups: { basic: { runners: 1, include: ['*'] } },
        redis: { aggregators: ['127.0.0.1:6379'], queues: ['127.0.0.1:6379'] },
        ...extra,
      }),
      join(dir, 'jobrunner.json'),
    );
  }

  it('builds a command dispatcher for a command template', async () => {
    const d = createDispatcher(config({ dispatcher: `${FAKE} json 1` }), { logger });
    expect(d.kind).toBe('command');
    expect((await d.dispatch(request(), new AbortController().signal)).okJobs).toBe(1);
    await d.close();
  });

  it('treats the original curl form as an HTTP dispatcher and an http URL as http', async () => {
    const curl = createDispatcher(
      config({ dispatcher: "curl -XPOST -s -a 'http://127.0.0.1:9/rpc/RunJobs.php?wiki=%(db)u'" }),
      { logger },
    );
    expect(curl.kind).toBe('http');
    await curl.close();
    const http = createDispatcher(config({ dispatcher: 'http://127.0.0.1:9/rpc/RunJobs.php?wiki=%(db)u' }), {
      logger,
    });
    expect(http.kind).toBe('http');
    await http.close();
  });

  it('refuses templates that can never work, naming the problem', () => {
    expect(() => createDispatcher(config({ dispatcher: 'php run.php --wiki=%(wiki)x' }), { logger })).toThrow(
      /dispatch\.template: unknown placeholder %\(wiki\)x/,
    );
    expect(() =>
      createDispatcher(
        config({
          dispatch: {
            kind: 'special-runjobs',
            baseUrls: { '*': 'http://h/' },
            secretKeyFile: join(dir, 'missing'),
          },
        }),
        {
          logger,
        },
      ),
    ).toThrow(/dispatch\.secretKeyFile/);
  });
});
