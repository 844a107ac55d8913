import { describe, expect, it } from 'vitest';
import {
  countRunJobs,
  extractLastJsonObject,
  parseRunJobsOutput,
  type RunJobsResult,
} from '../../src/mediawiki/runjobs-result.js';

function ok(stdout: string): RunJobsResult {
  const parsed = parseRunJobsOutput(stdout);
  if ('error' in parsed) throw new Error(`unexpected parse error: ${parsed.error}`);
  return parsed.result;
}

function err(stdout: string): string {
  const parsed = parseRunJobsOutput(stdout);
  if ('result' in parsed) throw new Error(`expected an error, got ${JSON.stringify(parsed.result)}`);
  return parsed.error;
}

// Pretty-printed as runJobs.php --result=json prints it (4 spaces, no trailing newline).
const THREE_NULL_JOBS = JSON.stringify(
  {
    jobs: [
      { type: 'null', status: 'ok', error: null, time: 1 },
      { type: 'null', status: 'ok', error: null, time: 0 },
      {
        type: 'mwlabThrow',
        status: 'failed',
        error: 'RuntimeException: mwlabThrow: {deliberate} "x"',
        time: 0,
      },
    ],
    reached: 'none-ready',
    backoffs: [],
    elapsed: 1,
  },
  null,
  4,
);

describe('parseRunJobsOutput', () => {
  it('reads the normal pretty-printed result and counts per type', () => {
    const result = ok(THREE_NULL_JOBS);
    expect(result.reached).toBe('none-ready');
    expect(result.backoffs).toEqual({});
    expect(result.elapsed).toBe(1);
    expect(result.jobs).toHaveLength(3);
    expect(result.jobs[2]).toEqual({
      type: 'mwlabThrow',
      status: 'failed',
      error: 'RuntimeException: mwlabThrow: {deliberate} "x"',
      time: 0,
    });
    const counts = countRunJobs(result);
    expect(counts.ok).toBe(2);
    expect(counts.failed).toBe(1);
    expect({ ...counts.byType }).toEqual({ null: { ok: 2, failed: 0 }, mwlabThrow: { ok: 0, failed: 1 } });
  });

  it('accepts backoffs as an object of expiry floats', () => {
    const result = ok(
      '{"jobs":[],"reached":"none-ready","backoffs":{"refreshLinks":1690000000.1234},"elapsed":0}',
    );
    expect(result.backoffs).toEqual({ refreshLinks: 1690000000.1234 });
  });

  it('accepts early-return shapes without backoffs and elapsed', () => {
    expect(ok('{"jobs":[],"reached":"none-possible"}')).toEqual({
      jobs: [],
      reached: 'none-possible',
      backoffs: {},
      elapsed: null,
    });
    expect(ok('{"jobs":[],"reached":"read-only"}').reached).toBe('read-only');
  });

  it('skips PHP notices printed before the JSON', () => {
    const stdout =
      'PHP Notice:  Undefined index: {foo} in /srv/x.php on line 3\n' +
      'Warning: something "quoted {" happened\n' +
      THREE_NULL_JOBS;
    expect(ok(stdout).jobs).toHaveLength(3);
  });

  it('takes the last object of concatenated --wait output', () => {
    const first =
      '{"jobs":[{"type":"null","status":"ok","error":null,"time":0}],"reached":"none-ready","backoffs":[],"elapsed":0}';
    const last = '{"jobs":[],"reached":"time-limit","backoffs":[],"elapsed":5}';
    expect(ok(`${first}${last}`).reached).toBe('time-limit');
    expect(ok(`${first}\n${last}\n`).reached).toBe('time-limit');
  });

  it('handles braces and escaped quotes inside strings when scanning backwards', () => {
    const job = { type: 'x', status: 'failed', error: 'a \\"} {{ \\\\" } "{', time: 3 };
    const text = `notice {\n${JSON.stringify({ jobs: [job], reached: 'none-ready' })}`;
    const result = ok(text);
    expect(result.jobs[0]?.error).toBe(job.error);
  });

  it('tolerates a short message after the JSON', () => {
    expect(ok(`${THREE_NULL_JOBS}\nPHP Warning: shutdown {oops}`).jobs).toHaveLength(3);
  });

  it('reports empty output and garbage clearly', () => {
    expect(err('')).toMatch(/empty output/);
    expect(err('   \n ')).toMatch(/empty output/);
    expect(err('mwlab: unknown wiki')).toBe('no JSON object in output');
    expect(err('<html><body>500 Internal Server Error</body></html>')).toBe('no JSON object in output');
    expect(err('Request must use POST.')).toBe('no JSON object in output');
    expect(err('{"jobs": [')).toMatch(/no JSON object|does not parse/);
    expect(err('oops } and }}')).toMatch(/no JSON object/);
  });

  it('validates the shape and names the offending field', () => {
    expect(err('[1,2]')).toMatch(/no JSON object|not a JSON object/);
    expect(err('{"reached":"none-ready"}')).toBe('`jobs` is not an array (missing)');
    expect(err('{"jobs":{},"reached":"none-ready"}')).toMatch(/^`jobs` is not an array/);
    expect(err('{"jobs":[]}')).toMatch(/^`reached` is not a string/);
    expect(err('{"jobs":[5],"reached":"x"}')).toMatch(/^`jobs\[0\]` is a number/);
    expect(err('{"jobs":[{"status":"ok"}],"reached":"x"}')).toMatch(/^`jobs\[0\]\.type` is not a string/);
    expect(err('{"jobs":[{"type":"t","status":"done"}],"reached":"x"}')).toMatch(
      /`jobs\[0\]\.status` is "done"/,
    );
    expect(err('{"jobs":[{"type":"t","status":"ok","error":5}],"reached":"x"}')).toMatch(/jobs\[0\]\.error/);
    expect(err('{"jobs":[{"type":"t","status":"ok","time":"1"}],"reached":"x"}')).toMatch(/jobs\[0\]\.time/);
    expect(err('{"jobs":[],"reached":"x","backoffs":[1]}')).toMatch(/^`backoffs` is an array/);
    expect(err('{"jobs":[],"reached":"x","backoffs":{"t":"soon"}}')).toMatch(/^`backoffs\["t"\]`/);
    expect(err('{"jobs":[],"reached":"x","elapsed":"5"}')).toMatch(/^`elapsed` is a string/);
  });

  it('defaults missing per-job error/time and keeps a "__proto__" type as a plain key', () => {
    const result = ok(
      '{"jobs":[{"type":"__proto__","status":"ok"}],"reached":"x","backoffs":{"__proto__":5}}',
    );
    expect(result.jobs[0]).toEqual({ type: '__proto__', status: 'ok', error: null, time: 0 });
    expect(Object.keys(result.backoffs)).toEqual(['__proto__']);
    expect(countRunJobs(result).byType['__proto__']).toEqual({ ok: 1, failed: 0 });
  });

  it('parses a huge result after a huge preamble efficiently', () => {
    const jobs = Array.from({ length: 50_000 }, (_, i) => ({
      type: `t${i % 7}`,
      status: i % 10 === 0 ? 'failed' : 'ok',
      error: i % 10 === 0 ? 'Error: "x" {y}' : null,
      time: i % 5,
    }));
    const json = JSON.stringify({ jobs, reached: 'job-limit', backoffs: [], elapsed: 7 }, null, 4);
    const preamble = 'PHP Notice: { noisy\n'.repeat(200_000); // ~4 MB of notices with stray braces
    const result = ok(preamble + json);
    expect(result.jobs).toHaveLength(50_000);
    expect(countRunJobs(result).failed).toBe(5000);
  });

  it('extractLastJsonObject scans only the final object', () => {
    expect(extractLastJsonObject('a {"x":1} b {"y":{"z":"}"}}')).toEqual({ value: { y: { z: '}' } } });
    expect(extractLastJsonObject('nothing here')).toEqual({ error: 'no JSON object in output' });
  });
});
