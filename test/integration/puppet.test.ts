// The Puppet module (puppet/) and its templates (templates/) through the real Debian tools:
// puppet parser validate, puppet-lint, rspec-puppet, puppet-strings, a real `puppet apply` that
// renders every file into a temp dir (checked against the JSON Schema, by both daemons'
// --check-config, systemd-analyze verify and logrotate), and `puppet apply --noop` of the example.
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireFreshBuild } from '../support/fresh-build.js';

const ROOT = resolve('.');
const MODULE = join(ROOT, 'puppet');
const SCHEMA = join(ROOT, 'src/config/jobrunner.schema.json');
const CLI = { jobrunner: join(ROOT, 'dist/cli/jobrunner.js'), jobchron: join(ROOT, 'dist/cli/jobchron.js') };

/** Tool → Debian package (scripts/setup.sh installs them). */
const TOOLS: Record<string, string> = {
  puppet: 'puppet',
  'puppet-lint': 'puppet-lint',
  rspec: 'ruby-rspec-puppet',
  'systemd-analyze': 'systemd',
  logrotate: 'logrotate',
  visudo: 'sudo',
};

/** Ruby library → Debian package, used by the specs and puppet-strings. */
const RUBY_LIBRARIES: Record<string, string> = {
  'rspec-puppet': 'ruby-rspec-puppet',
  'rspec-puppet-facts': 'ruby-rspec-puppet-facts',
  'puppetlabs_spec_helper/puppet_spec_helper': 'ruby-puppetlabs-spec-helper',
  'puppet-strings': 'puppet-strings',
};

// This sandbox denies reading /proc/1/environ; Facter logs that as an error on every run. It is
// the only line tolerated: any other error or warning fails the test.
const SANDBOX_NOISE = /Facter: Permission denied @ rb_sysopen - \/proc\/1\/environ/;

let work: string;
let puppetBase: string[];

interface Run {
  exitCode: number;
  output: string;
  problems: string[];
}

async function run(file: string, args: string[], cwd = ROOT): Promise<Run> {
  const result = await execa(file, args, { cwd, reject: false, all: true, env: { NO_COLOR: '1' } });
  const output = result.all ?? '';
  const problems = output
    .split('\n')
    .filter((line) => /\b(Error|Warning|ERROR|WARN)\b/.test(line) && !SANDBOX_NOISE.test(line));
  return { exitCode: result.exitCode ?? -1, output, problems };
}

function puppetApply(manifest: string, extra: string[] = []): Promise<Run> {
  return run('puppet', ['apply', ...puppetBase, '--detailed-exitcodes', ...extra, manifest]);
}

function mode(path: string): string {
  return (statSync(path).mode & 0o7777).toString(8).padStart(4, '0');
}

/** Validates data against the schema file as is (no defaults filled in). Authoring strictness is
 * left to the schema's own tests, so a new schema keyword cannot break this check. */
function schemaValidator() {
  return new Ajv2020({ allErrors: true, strict: false }).compile(
    JSON.parse(readFileSync(SCHEMA, 'utf8')) as object,
  );
}

/** The current user's primary group name: rendered files are owned by whoever runs the test. */
function primaryGroup(): string {
  const gid = String(userInfo().gid);
  const entry = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[2] === gid);
  if (!entry?.[0]) throw new Error(`no /etc/group entry for gid ${gid}`);
  return entry[0];
}

function ppFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return ppFiles(path);
    return entry.name.endsWith('.pp') ? [path] : [];
  });
}

beforeAll(async () => {
  for (const [tool, pkg] of Object.entries(TOOLS)) {
    const found = await execa('sh', ['-c', `command -v ${tool}`], { reject: false });
    if (found.exitCode !== 0) {
      throw new Error(`${tool} is missing (Debian package ${pkg}): run \`sudo bash scripts/setup.sh\``);
    }
  }
  for (const [library, pkg] of Object.entries(RUBY_LIBRARIES)) {
    const loaded = await execa('ruby', ['-e', `require 'rspec'; require '${library}'`], { reject: false });
    if (loaded.exitCode !== 0) {
      throw new Error(
        `Ruby library ${library} is missing (Debian package ${pkg}): run \`sudo bash scripts/setup.sh\``,
      );
    }
  }
  requireFreshBuild(Object.values(CLI));
  work = mkdtempSync(join(tmpdir(), 'jobrunner-puppet-'));
  const modulepath = join(work, 'modules');
  mkdirSync(modulepath);
  // Puppet finds a module by its directory name, and the checkout directory is "puppet".
  symlinkSync(MODULE, join(modulepath, 'jobrunner'));
  puppetBase = [
    `--modulepath=${modulepath}`,
    `--confdir=${join(work, 'conf')}`,
    `--vardir=${join(work, 'var')}`,
    `--codedir=${join(work, 'code')}`,
    `--logdir=${join(work, 'log')}`,
    '--color=false',
  ];
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('static checks', () => {
  it('puppet parser validate accepts every manifest, type alias, function and example', async () => {
    const files = ['manifests', 'types', 'functions', 'examples'].flatMap((dir) =>
      ppFiles(join(MODULE, dir)),
    );
    expect(files.length).toBeGreaterThan(10);
    const result = await run('puppet', ['parser', 'validate', ...puppetBase, ...files]);
    expect(result.problems).toEqual([]);
    expect(result.exitCode).toBe(0);
  });

  it('puppet-lint finds nothing (warnings fail, see .puppet-lint.rc)', async () => {
    // puppet-lint 3.0.1 checks only its first path argument, so one run per directory.
    for (const dir of ['manifests', 'types', 'functions', 'examples']) {
      const result = await run('puppet-lint', [dir], MODULE);
      expect({ dir, output: result.output.trim() }).toEqual({ dir, output: '' });
      expect(result.exitCode).toBe(0);
    }
  });

  it('the rspec-puppet specs pass', async () => {
    const result = await run('rspec', [], MODULE);
    const summary = /(\d+) examples?, (\d+) failures?/.exec(result.output);
    expect(summary, result.output).not.toBeNull();
    expect(Number(summary?.[1])).toBeGreaterThan(50);
    expect(Number(summary?.[2]), result.output).toBe(0);
    expect(result.exitCode).toBe(0);
  }, 180_000);

  it('REFERENCE.md is what puppet-strings generates from the current sources', async () => {
    const out = join(work, 'REFERENCE.md');
    const result = await run('puppet', ['strings', 'generate', '--format', 'markdown', '--out', out], MODULE);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).toContain('100.00% documented');
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(MODULE, 'REFERENCE.md'), 'utf8'));
  }, 120_000);
});

describe('files rendered by a real puppet apply', () => {
  let dir: string;
  let manifestFor: (overrides?: Record<string, string>) => string;
  const user = userInfo().username;
  const group = primaryGroup();
  const conf = () => join(dir, 'etc/jobrunner.conf');
  const fingerprint = () => readFileSync(join(dir, 'etc/startup-settings.sha256'), 'utf8');

  beforeAll(async () => {
    dir = join(work, 'render');
    mkdirSync(join(dir, 'units'), { recursive: true });
    mkdirSync(join(dir, 'logrotate'), { recursive: true });
    mkdirSync(join(dir, 'sudoers.d'), { recursive: true });
    // Everything goes into the temp dir; services are not managed (no systemd as PID 1 here).
    // Parameters as Puppet source text, so a test can replace one.
    const base: Record<string, string> = {
      redis_queues: `['127.0.0.1:6379', '127.0.0.1:6380', '[::1]:6381']`,
      redis_aggregators: `['127.0.0.1:6378']`,
      redis_password: `Sensitive('p@ss "word"')`,
      dispatcher: `'php /srv/mediawiki/multiversion/MWScript.php runJobs.php --wiki=%(db)x --type=%(type)x --maxtime=%(maxtime)x --memory-limit=%(maxmem)x --result=json'`,
      groups: `{
    'basic'  => { 'weight' => 20, 'include' => ['*'], 'exclude' => ['webVideoTranscode'], 'low-priority' => ['refreshLinks'] },
    'upload' => { 'weight' => 7, 'include' => ['AssembleUploadChunks'] },
    'gwt'    => { 'runners' => 1, 'include' => ['gwtoolsetUploadMediafileJob'] },
  }`,
      load_factor: '1.1',
      processor_count: '24',
      limits: `{ 'attempts' => { '*' => 3, 'renameUser' => 6 }, 'real' => { '*' => 300, 'webVideoTranscode' => 86400 }, 'memory' => { '*' => '300M' } }`,
      runner_settings: `{ 'maxPerQueue' => 3 }`,
      chron_settings: `{ 'intervalMs' => 2000 }`,
      statsd_host: `'127.0.0.1'`,
      admin_token: `Sensitive('admin-token-value-0123456789')`,
      log_file: `'${join(dir, 'log/jobrunner.log')}'`,
      service_user: `'${user}'`,
      service_group: `'${group}'`,
      manage_user: 'false',
      manage_services: 'false',
      config_dir: `'${join(dir, 'etc')}'`,
      unit_dir: `'${join(dir, 'units')}'`,
      logrotate_dir: `'${join(dir, 'logrotate')}'`,
      install_dir: `'${ROOT}'`,
      node_binary: `'${process.execPath}'`,
      deploy_checks_file: `'${join(dir, 'deploy-checks')}'`,
      sudoers_dir: `'${join(dir, 'sudoers.d')}'`,
      deploy_canary_wiki: `'testwiki'`,
      deploy_check_settings: `{ 'JOBRUNNER_ERROR_WINDOW' => 45, 'JOBRUNNER_ERROR_MAX_RATIO' => 0.2 }`,
    };
    let count = 0;
    manifestFor = (overrides = {}) => {
      const params = { ...base, ...overrides };
      const file = join(dir, `site-${++count}.pp`);
      const body = Object.entries(params)
        .map(([name, value]) => `  ${name} => ${value},`)
        .join('\n');
      writeFileSync(file, `class { 'jobrunner':\n${body}\n}\n`);
      return file;
    };
    const result = await puppetApply(manifestFor());
    expect(result.problems, result.output).toEqual([]);
    expect(result.exitCode, result.output).toBe(2); // 2 = changes applied, no failures
  }, 120_000);

  it('writes jobrunner.conf as JSON that the schema accepts, groups sized 20/7 x 1.1 x 24 CPUs', () => {
    const text = readFileSync(conf(), 'utf8');
    const config = JSON.parse(text) as Record<string, unknown>;
    const validate = schemaValidator();
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    expect(config.groups).toEqual({
      basic: {
        runners: 20,
        include: ['*'],
        exclude: ['webVideoTranscode'],
        'low-priority': ['refreshLinks'],
      },
      upload: { runners: 7, include: ['AssembleUploadChunks'] },
      gwt: { runners: 1, include: ['gwtoolsetUploadMediafileJob'] },
    });
    expect(config.redis).toMatchObject({ password: 'p@ss "word"', aggregators: ['127.0.0.1:6378'] });
    expect(config.status).toMatchObject({ adminTokenFile: join(dir, 'etc/admin-token') });
  });

  it('both daemons accept it with --check-config (which also reads the secret files)', async () => {
    for (const cli of Object.values(CLI)) {
      const result = await run(process.execPath, [cli, '--check-config', `--config-file=${conf()}`]);
      expect(result.output).toMatch(/config OK/);
      expect(result.exitCode).toBe(0);
    }
  });

  it('keeps secrets readable by the service only: config 0440, secret files 0400', () => {
    expect(mode(conf())).toBe('0440');
    expect(mode(join(dir, 'etc'))).toBe('0750');
    expect(mode(join(dir, 'etc/admin-token'))).toBe('0400');
    expect(readFileSync(join(dir, 'etc/admin-token'), 'utf8')).toBe('admin-token-value-0123456789');
    expect(mode(join(dir, 'etc/startup-settings.sha256'))).toBe('0400');
    expect(fingerprint()).not.toContain('p@ss');
    expect(mode(join(dir, 'log/jobrunner.log'))).toBe('0640');
  });

  it('renders units that systemd-analyze verify accepts without a warning', async () => {
    for (const unit of ['jobrunner.service', 'jobchron.service']) {
      const result = await run('systemd-analyze', ['verify', join(dir, 'units', unit)]);
      expect({ unit, output: result.output.trim() }).toEqual({ unit, output: '' });
      expect(result.exitCode).toBe(0);
    }
    const runner = readFileSync(join(dir, 'units/jobrunner.service'), 'utf8');
    expect(runner).toContain(
      `ExecStart=!${process.execPath} --max-semi-space-size=1 ${CLI.jobrunner} --config-file=${conf()} --user=${user} --group=${group}\n`,
    );
    expect(runner).toMatch(/^KillMode=mixed$/m);
    expect(runner).toMatch(/^TimeoutStopSec=95$/m); // drain 60 + kill grace 5 + 30
  });

  it('renders units that systemd-analyze security --offline=yes rates at most 3.0 (hardened)', async () => {
    for (const unit of ['jobrunner.service', 'jobchron.service']) {
      const result = await run('systemd-analyze', ['security', '--offline=yes', join(dir, 'units', unit)]);
      const level = /Overall exposure level for \S+: (\d+\.\d)/.exec(result.output)?.[1];
      expect(level, result.output).toBeDefined();
      console.log(`systemd-analyze security --offline=yes ${unit}: ${level}`);
      expect(Number(level), result.output).toBeLessThanOrEqual(3.0);
    }
    const runner = readFileSync(join(dir, 'units/jobrunner.service'), 'utf8');
    expect(runner).toMatch(/^ProtectSystem=strict$/m);
    expect(runner).toMatch(/^ReadWritePaths=-.*\/log$/m); // the log_file directory
  });

  it('renders a logrotate rule that logrotate accepts and that never restarts a daemon', async () => {
    const rule = join(dir, 'logrotate/jobrunner');
    const result = await run('logrotate', ['--debug', `--state=${join(dir, 'logrotate.state')}`, rule]);
    expect(result.output).not.toMatch(/^error:/m);
    expect(result.exitCode, result.output).toBe(0);
    expect(readFileSync(rule, 'utf8')).not.toMatch(/systemctl (try-)?(restart|reload)|service \S+ restart/);
  });

  it('writes the deploy check settings that the checks themselves accept', async () => {
    const file = join(dir, 'deploy-checks');
    expect(mode(file)).toBe('0644');
    // The real loader of scap/scripts (unknown keys and malformed lines are errors there).
    const script = `import(${JSON.stringify(join(ROOT, 'scap/scripts/lib/settings.mjs'))}).then((m) => {
      const s = m.loadSettings({ JOBRUNNER_DEPLOY_CHECKS_ENV: ${JSON.stringify(file)} });
      console.log(JSON.stringify(s));
    });`;
    const result = await run(process.execPath, ['--input-type=module', '-e', script]);
    expect(result.exitCode, result.output).toBe(0);
    expect(JSON.parse(result.output)).toMatchObject({
      configFile: conf(),
      node: process.execPath,
      checkUser: user,
      canaryWiki: 'testwiki',
      errorWindowSeconds: 45,
      errorMaxRatio: 0.2,
    });
  });

  it('writes sudo rules for the deploy user that visudo accepts (0440)', async () => {
    const file = join(dir, 'sudoers.d/jobrunner-deploy');
    expect(mode(file)).toBe('0440');
    const check = await run('visudo', ['-c', '-f', file]);
    expect(check.exitCode, check.output).toBe(0);
    const rules = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(rules).toEqual([
      'deploy-service ALL=(root) NOPASSWD: ' +
        ['start', 'stop', 'restart', 'reload', 'status']
          .map((a) => `/usr/sbin/service jobchron ${a}`)
          .join(', '),
      `deploy-service ALL=(${user}) NOPASSWD: ${process.execPath} ${ROOT}-cache/revs/*/scap/scripts/*`,
    ]);
  });

  it('changes nothing on a second run', async () => {
    const result = await puppetApply(manifestFor());
    expect(result.problems, result.output).toEqual([]);
    expect(result.exitCode, result.output).toBe(0);
  }, 60_000);

  it('refuses a config that --check-config rejects, keeping the old file (validate_cmd)', async () => {
    const before = readFileSync(conf(), 'utf8');
    const result = await puppetApply(
      manifestFor({ runner_settings: `{ 'failureBackoffSeconds' => 10, 'maxFailureBackoffSeconds' => 5 }` }),
    );
    expect(result.exitCode, result.output).toBe(4); // 4 = failures, nothing else changed
    expect(result.output).toMatch(/maxFailureBackoffSeconds/);
    expect(readFileSync(conf(), 'utf8')).toBe(before);
  }, 60_000);

  it('changes the restart fingerprint for startup settings only', async () => {
    const start = fingerprint();
    const live = await puppetApply(manifestFor({ chron_settings: `{ 'intervalMs' => 5000 }` }));
    expect(live.exitCode, live.output).toBe(2);
    expect(JSON.parse(readFileSync(conf(), 'utf8'))).toMatchObject({ chron: { intervalMs: 5000 } });
    expect(fingerprint()).toBe(start); // a reload applies it

    const restart = await puppetApply(manifestFor({ statsd_port: '8126' }));
    expect(restart.exitCode, restart.output).toBe(2);
    expect(fingerprint()).not.toBe(start); // connections are made at startup: restart
  }, 60_000);
});

describe('Special:RunJobs dispatch rendered by puppet apply', () => {
  it('writes the secret key file and a config that the schema and --check-config accept', async () => {
    const dir = join(work, 'special');
    mkdirSync(dir, { recursive: true });
    const manifest = join(dir, 'site.pp');
    writeFileSync(
      manifest,
      `class { 'jobrunner':
  redis_queues         => ['127.0.0.1'],
  dispatch_kind        => 'special-runjobs',
  dispatch_base_urls   => { '*' => 'http://127.0.0.1:8080/%(db)u/index.php', 'enwiki' => 'https://en.example.org/w/index.php' },
  mediawiki_secret_key => Sensitive('0123456789abcdef0123456789abcdef'),
  service_user         => '${userInfo().username}',
  service_group        => '${primaryGroup()}',
  manage_user          => false,
  manage_services      => false,
  config_dir           => '${join(dir, 'etc')}',
  unit_dir             => '${dir}',
  logrotate_dir        => '${dir}',
  install_dir          => '${ROOT}',
  node_binary          => '${process.execPath}',
  deploy_checks_file   => '${join(dir, 'deploy-checks')}',
  sudoers_dir          => '${dir}',
}
`,
    );
    const result = await puppetApply(manifest);
    expect(result.problems, result.output).toEqual([]);
    expect(result.exitCode, result.output).toBe(2);

    const confFile = join(dir, 'etc/jobrunner.conf');
    const config = JSON.parse(readFileSync(confFile, 'utf8')) as Record<string, unknown>;
    const validate = schemaValidator();
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    expect(config.dispatch).toEqual({
      kind: 'special-runjobs',
      baseUrls: {
        '*': 'http://127.0.0.1:8080/%(db)u/index.php',
        enwiki: 'https://en.example.org/w/index.php',
      },
      secretKeyFile: join(dir, 'etc/mediawiki-secret-key'),
    });
    expect(mode(join(dir, 'etc/mediawiki-secret-key'))).toBe('0400');
    const check = await run(process.execPath, [CLI.jobrunner, '--check-config', `--config-file=${confFile}`]);
    expect(check.exitCode, check.output).toBe(0);
  }, 60_000);
});

describe('the example manifest', () => {
  it('puppet apply --noop of examples/init.pp succeeds', async () => {
    const result = await puppetApply(join(MODULE, 'examples/init.pp'), ['--noop']);
    expect(result.problems, result.output).toEqual([]);
    expect([0, 2], result.output).toContain(result.exitCode);
    expect(result.output).toMatch(
      /File\[\/etc\/jobrunner\/jobrunner\.conf\]\/ensure: current_value \[redacted\], should be \[redacted\] \(noop\)/,
    );
    expect(result.output).toMatch(
      /Service\[jobrunner\]\/ensure: current_value 'stopped', should be 'running' \(noop\)/,
    );
  }, 120_000);
});
