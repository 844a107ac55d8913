// Wiki IDs and job types come from Redis keys and Kafka events, i.e. from anyone who can push a job.
// 1,200 generated hostile names (shell metacharacters, ../, URL tricks, newlines, quotes) must stay
// one inert value in dispatcher commands (actually executed here, argv and /bin/sh modes), in
// RunJobs URLs, in statsd metric names and in JSON log lines.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { rawurlencode } from '../../src/mediawiki/php-encoding.js';
import { createLogger } from '../../src/observability/logger.js';
import { metricName } from '../../src/observability/statsd.js';
import { buildCommand } from '../../src/runner/dispatch/command-line.js';
import {
  UnsafeUrlValueError,
  renderUrlTemplate,
  type PlaceholderValues,
} from '../../src/runner/dispatch/placeholders.js';
import { parseCommandTemplate } from '../../src/runner/dispatch/shell-words.js';
import { NASTY_STRINGS, int, pick, seeded, type Random } from '../fuzz/generators.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CASES = 1200;
const scratch = mkdtempSync(join(tmpdir(), 'jobrunner-injection-'));
const CANARY = join(scratch, 'pwned');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const ATTACKS = [
  `$(touch ${CANARY})`,
  `\`touch ${CANARY}\``,
  `; touch ${CANARY}`,
  `' ; touch ${CANARY} ; '`,
  `" ; touch ${CANARY} ; "`,
  `\n touch ${CANARY}`,
  `| touch ${CANARY}`,
  `&& touch ${CANARY}`,
  `$'\\x3b' touch ${CANARY}`,
  `\\'; touch ${CANARY}; #`,
  '--wiki=other',
  '-rf',
  '%(type)x',
  '${JR_DB}',
  'EOF',
  ')',
  '..',
  '.',
];

/** A hostile name: attacks and nasty strings glued together (no NUL: argv cannot carry one). */
function hostileName(r: Random): string {
  let s = '';
  for (let n = int(r, 1, 3); n > 0; n--) s += pick(r, r() < 0.5 ? ATTACKS : NASTY_STRINGS);
  s = s.replace(/\0/g, '').replace(/[\ud800-\udfff]/g, 'x');
  return s === '' ? 'x' : s;
}

function values(r: Random): PlaceholderValues {
  return { db: hostileName(r), type: hostileName(r), maxtime: '30', maxmem: '300M', maxjobs: '0' };
}

/** What `$( … )` gives back: the output without its trailing newlines. */
const substituted = (value: string) => value.replace(/\n+$/, '');

// argv mode (no shell), and shell mode with the value unquoted, in double and in single quotes,
// inside "$( … )", inside ${VAR:-…} (quoted and not) and in an unquoted here-document.
const TEMPLATES = [
  { template: "printf '[%s]\\n' %(db)x %(type)x", expect: (v: PlaceholderValues) => [v.db, v.type] },
  { template: "printf '[%s]\\n' %(db)x %(type)x | cat", expect: (v: PlaceholderValues) => [v.db, v.type] },
  {
    template: "printf '[%s]\\n' \"%(db)x\" '%(type)x'; true",
    expect: (v: PlaceholderValues) => [v.db, v.type],
  },
  {
    template: "printf '[%s]\\n' --wiki=%(db)u --type=%(type)u 2>&1",
    expect: (v: PlaceholderValues) => [`--wiki=${rawurlencode(v.db)}`, `--type=${rawurlencode(v.type)}`],
  },
  {
    template: 'printf \'[%s]\\n\' "$(printf \'%s\' %(db)x)" "$(printf \'%s\' "%(type)x")"',
    expect: (v: PlaceholderValues) => [substituted(v.db), substituted(v.type)],
  },
  {
    template: 'printf \'[%s]\\n\' ${JR_UNSET_X:-%(db)x} "${JR_UNSET_X:-%(type)x}"',
    expect: (v: PlaceholderValues) => [v.db, v.type],
  },
  {
    template: 'cat <<EOF\n[%(db)x]\n[%(type)x]\nEOF',
    expect: (v: PlaceholderValues) => [v.db, v.type],
  },
];

describe(`hostile wiki IDs and job types (FUZZ_SEED=${SEED}, ${CASES} cases)`, () => {
  it('stay single literal arguments in executed dispatcher commands; nothing else runs', () => {
    const parsed = TEMPLATES.map((t) => ({ ...t, parsed: parseCommandTemplate(t.template) }));
    expect(parsed.map((p) => p.parsed.shellReason === null)).toEqual([
      true,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    for (let i = 0; i < CASES; i++) {
      const r = seeded(SEED + i);
      const v = values(r);
      const t = parsed[i % parsed.length];
      if (!t) throw new Error('no template');
      const spec = buildCommand(t.parsed, v);
      const run = spawnSync(spec.file, [...spec.args], {
        env: { ...process.env, ...spec.env },
        encoding: 'utf8',
      });
      expect(run.status, `case ${i}: ${spec.display}\n${run.stderr}`).toBe(0);
      expect(run.stdout, `case ${i}: ${spec.display}`).toBe(
        t
          .expect(v)
          .map((a) => `[${a}]\n`)
          .join(''),
      );
    }
    expect(existsSync(CANARY), 'an injected command ran').toBe(false);
  });

  it('cannot change host, path or parameters of a RunJobs URL', () => {
    const template = 'http://127.0.0.1:9005/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u';
    for (let i = 0; i < CASES; i++) {
      const v = values(seeded(SEED + i));
      const url = new URL(renderUrlTemplate(template, v, 'dispatcher'));
      expect(url.host).toBe('127.0.0.1:9005');
      expect(url.pathname).toBe('/rpc/RunJobs.php');
      expect(url.hash).toBe('');
      expect([...url.searchParams.keys()]).toEqual(['wiki', 'type', 'maxtime']);
      expect(url.searchParams.get('wiki')).toBe(v.db);
      expect(url.searchParams.get('type')).toBe(v.type);
    }
  });

  it('cannot move a URL to another path through dot segments (refused instead)', () => {
    const template = 'http://127.0.0.1:9005/%(db)u/w/index.php?type=%(type)u';
    let refused = 0;
    for (let i = 0; i < CASES; i++) {
      const v = values(seeded(SEED + i));
      let rendered: string;
      try {
        rendered = renderUrlTemplate(template, v, 'dispatcher');
      } catch (error) {
        expect(error).toBeInstanceOf(UnsafeUrlValueError);
        expect(['.', '..']).toContain(v.db);
        refused++;
        continue;
      }
      const url = new URL(rendered);
      expect(url.host).toBe('127.0.0.1:9005');
      expect(url.pathname).toBe(`/${rawurlencode(v.db)}/w/index.php`);
      expect(url.searchParams.get('type')).toBe(v.type);
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('cannot add levels to, or break the line format of, statsd metric names', () => {
    for (let i = 0; i < CASES; i++) {
      const v = values(seeded(SEED + i));
      const name = metricName('jobrunner', 'pop', v.type, v.db, 'ok');
      expect(name).toMatch(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){4}$/);
    }
  });

  it('stay one JSON log line each, read back unchanged (no forged log entries)', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ service: 'jobrunner', stream, level: 'debug' });
    const sent: PlaceholderValues[] = [];
    for (let i = 0; i < CASES; i++) {
      const v = values(seeded(SEED + i));
      sent.push(v);
      logger.info(`dispatch start ${v.type}`, { wiki: v.db, type: v.type });
    }
    const text = lines.join('');
    const parsed = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toHaveLength(CASES);
    parsed.forEach((entry, i) => {
      expect(entry.wiki, `case ${i}: ${JSON.stringify(entry)} ${JSON.stringify(sent[i])}`).toBe(sent[i]?.db);
      expect(entry.type).toBe(sent[i]?.type);
      expect(entry.msg).toBe(`dispatch start ${sent[i]?.type}`);
    });
  });
});
