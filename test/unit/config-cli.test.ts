// The daemons' shared command line and --check-config.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseDaemonArgs, reportUsageError, runCheckConfig, UsageError } from '../../src/cli/daemon-cli.js';

const SAMPLE = 'test/fixtures/configs/jobrunner.sample.conf';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function usageErrorOf(argv: string[], name: 'jobrunner' | 'jobchron' = 'jobrunner'): UsageError {
  try {
    parseDaemonArgs(argv, name);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('expected a UsageError');
}

describe('parseDaemonArgs', () => {
  it('accepts --config-file=PATH (the original form) and --config-file PATH', () => {
    expect(parseDaemonArgs(['--config-file=/etc/jobrunner/jobrunner.conf'], 'jobrunner')).toEqual({
      configFile: '/etc/jobrunner/jobrunner.conf',
      checkConfig: false,
      verbose: false,
    });
    expect(
      parseDaemonArgs(['--config-file', '/etc/jr.conf', '--verbose', '--check-config'], 'jobchron'),
    ).toEqual({
      configFile: '/etc/jr.conf',
      checkConfig: true,
      verbose: true,
    });
  });

  it('takes -c PATH like jobqueue, and defaults to /etc/jobrunner/jobrunner.conf', () => {
    expect(parseDaemonArgs(['-c', '/etc/jr.conf'], 'jobrunner').configFile).toBe('/etc/jr.conf');
    expect(parseDaemonArgs(['--verbose'], 'jobchron')).toEqual({
      configFile: '/etc/jobrunner/jobrunner.conf',
      checkConfig: false,
      verbose: true,
    });
  });

  it('rejects an empty --config-file with a usage error', () => {
    const error = usageErrorOf(['--config-file=']);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(
      "jobrunner: --config-file must not be empty (the jobrunner.conf to use)\nRun 'jobrunner --help' for usage.",
    );
    expect(usageErrorOf(['--config-file']).message).toBe(
      "jobrunner: Not enough arguments following: config-file\nRun 'jobrunner --help' for usage.",
    );
  });

  it('takes -h, --verbose=true/false, and does not take the next option as a path', () => {
    expect(usageErrorOf(['-h']).exitCode).toBe(0);
    expect(parseDaemonArgs(['--verbose=false', '--check-config=true'], 'jobrunner')).toMatchObject({
      verbose: false,
      checkConfig: true,
    });
    expect(usageErrorOf(['--config-file', '--verbose']).message).toContain(
      'Not enough arguments following: config-file',
    );
    expect(usageErrorOf(['-x']).message).toContain('Unknown argument: x');
    expect(usageErrorOf(['--user=www-data']).message).toContain('--user and --group go together');
    expect(parseDaemonArgs(['--user=jobrunner', '--group=jobrunner'], 'jobchron').runAs).toEqual({
      user: 'jobrunner',
      group: 'jobrunner',
    });
  });

  it('rejects unknown options, stray arguments and repeats', () => {
    expect(usageErrorOf(['--config-file=/x', '--bogus'], 'jobchron').message).toBe(
      "jobchron: Unknown argument: bogus\nRun 'jobchron --help' for usage.",
    );
    expect(usageErrorOf(['/x.conf']).message).toContain('Unknown argument: /x.conf');
    expect(usageErrorOf(['--config-file=/a', '--config-file=/b']).message).toContain(
      '--config-file was given more than once',
    );
    expect(usageErrorOf(['--config-file=/a', '--verbose=yes']).message).toContain(
      "--verbose takes no value (got 'yes')",
    );
  });

  it('answers --help and --version with exit code 0', () => {
    const help = usageErrorOf(['--help'], 'jobchron');
    expect(help.exitCode).toBe(0);
    expect(help.message).toContain(
      'Usage: jobchron [-c PATH | --config-file=PATH] [--check-config] [--verbose] [--user=U --group=G]',
    );
    expect(help.message).toContain('/etc/jobrunner/jobrunner.conf');
    expect(help.message).toContain('--config-file');
    expect(help.message).toContain('--check-config');
    const version = usageErrorOf(['--version']);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(version).toMatchObject({ exitCode: 0, message: pkg.version });
  });

  it('prints usage errors to stderr and help to stdout', () => {
    const out = new Capture();
    const err = new Capture();
    expect(reportUsageError(usageErrorOf(['--help']), out, err)).toBe(0);
    expect(reportUsageError(usageErrorOf(['--config-file=']), out, err)).toBe(1);
    expect(out.text).toContain('Usage: jobrunner');
    expect(err.text).toContain('--config-file must not be empty');
  });
});

describe('runCheckConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const check = (file: string) => {
    const out = new Capture();
    const err = new Capture();
    const code = runCheckConfig(file, out, err);
    return { code, out: out.text, err: err.text };
  };

  it('accepts the original sample', () => {
    expect(check(SAMPLE)).toEqual({
      code: 0,
      out: `config OK: ${SAMPLE} (5 groups, 2 queue partitions, backend redis)\n`,
      err: '',
    });
  });

  it('prints warnings to stderr and still succeeds', () => {
    const result = check('test/fixtures/configs/production.conf');
    expect(result.code).toBe(0);
    expect(result.out).toBe(
      'config OK: test/fixtures/configs/production.conf (3 groups, 4 queue partitions, backend redis)\n',
    );
    expect(result.err).toBe(
      'warning: test/fixtures/configs/production.conf:34:24: limits.real.*: 60 s is raised to runner.minRealSeconds (120 s)\n',
    );
  });

  it('fails with the problems of a broken file', () => {
    expect(check('test/fixtures/configs/broken/unknown-key.conf')).toEqual({
      code: 1,
      out: '',
      err: "test/fixtures/configs/broken/unknown-key.conf:4:7: groups.basic.runers: unknown key 'runers' in groups.basic; did you mean 'runners'?\n",
    });
  });

  it('checks the secret files a config names, without printing them', () => {
    const conf = join(dir, 'jobrunner.conf');
    writeFileSync(
      conf,
      JSON.stringify({
        groups: { basic: { runners: 1, include: ['*'] } },
        redis: { aggregators: ['127.0.0.1'], queues: ['127.0.0.1'] },
        dispatch: {
          kind: 'special-runjobs',
          baseUrls: { '*': 'http://127.0.0.1/w/index.php' },
          secretKeyFile: 'key',
        },
        status: { adminTokenFile: 'token' },
      }),
    );
    writeFileSync(join(dir, 'token'), 'admin-token-value-0123456789\n');
    const missing = check(conf);
    expect(missing).toEqual({
      code: 1,
      out: '',
      err: `${join(dir, 'key')}: dispatch.secretKeyFile: cannot read the file: it does not exist\n`,
    });
    writeFileSync(join(dir, 'key'), 'wg-secret-key-value');
    const ok = check(conf);
    expect(ok).toEqual({
      code: 0,
      out: `config OK: ${conf} (1 groups, 1 queue partitions, backend redis)\n`,
      err: '',
    });
    expect(JSON.stringify([missing, ok])).not.toMatch(/wg-secret-key-value|admin-token-value/);
  });

  it('runs every check the daemons run at start: dispatcher template, URLs, admin token strength', () => {
    const conf = (extra: object) => {
      const file = join(dir, `start-${Object.keys(extra).join('-')}.conf`);
      writeFileSync(
        file,
        JSON.stringify({
          groups: { basic: { runners: 1, include: ['*'] } },
          redis: { aggregators: ['127.0.0.1'], queues: ['127.0.0.1'] },
          dispatcher: 'php runJobs.php --wiki=%(db)x',
          ...extra,
        }),
      );
      return file;
    };
    const unknown = check(conf({ dispatcher: 'x %(bogus)x' }));
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/dispatch\.template: unknown placeholder %\(bogus\)x/);
    const badUrl = check(conf({ dispatcher: 'http://127.0.0.1/rpc/RunJobs.php?wiki=%(db)x' }));
    expect(badUrl).toMatchObject({ code: 1, out: '' });
    expect(badUrl.err).toMatch(/%\(db\)x is shell quoting/);
    writeFileSync(join(dir, 'short-token'), 'x\n');
    const short = check(conf({ status: { adminTokenFile: 'short-token' } }));
    expect(short).toEqual({
      code: 1,
      out: '',
      err:
        `${join(dir, 'short-token')}: status.adminTokenFile: the token has 1 characters; at least 24 are ` +
        'required (make one with `openssl rand -hex 16`); admin actions stay refused until it is replaced\n',
    });
    writeFileSync(join(dir, 'dull-token'), 'abababababababababababababab');
    expect(check(conf({ status: { adminTokenFile: 'dull-token' } })).err).toMatch(
      /only 2 different characters; at least 8/,
    );
    expect(check(conf({})).code).toBe(0);
  });
});
