// scap/scap.cfg with its environment overlays and target lists, and scap/checks.yaml, read the way
// scap3 reads them: Python's ConfigParser, sections by the deploy host's domain, overlays from
// scap/environments/<env>/, and checks.yaml through PyYAML. This file needs no root and no scap
// install, so the lookup rules are re-implemented below and the parsing is cross-checked against
// the real ConfigParser and PyYAML with python3; scap itself reads them in the multi-host
// rehearsal (test/integration/rehearsal-farm.test.ts).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';

const SCAP_DIR = resolve('scap');
const PRODUCTION_DEPLOY_HOST = 'deploy1002.eqiad.wmnet';
const BETA_DEPLOY_HOST = 'deployment-deploy03.deployment-prep.eqiad.wmflabs';

// ---------------------------------------------------------------------------------------------
// ConfigParser (Python 3 defaults: delimiters "=" and ":", full-line "#" and ";" comments,
// lower-cased option names, indented continuation lines, strict duplicates within one file).

type Sections = Map<string, Map<string, string>>;

class IniError extends Error {}

function parseIni(text: string, file: string, into: Sections = new Map()): Sections {
  const seenSections = new Set<string>();
  const seenOptions = new Set<string>();
  let section: Map<string, string> | undefined;
  let sectionName = '';
  let lastOption: string | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const where = `${file}:${index + 1}`;
    const stripped = line.trim();
    if (stripped.startsWith('#') || stripped.startsWith(';')) return;
    if (stripped === '') {
      lastOption = undefined;
      return;
    }
    if (/^\s/.test(line) && section && lastOption !== undefined) {
      section.set(lastOption, `${section.get(lastOption)}\n${stripped}`);
      return;
    }
    const header = /^\[(.+)\]$/.exec(stripped);
    if (header) {
      sectionName = header[1] ?? '';
      if (seenSections.has(sectionName))
        throw new IniError(`${where}: section [${sectionName}] already exists`);
      seenSections.add(sectionName);
      section = into.get(sectionName) ?? new Map<string, string>();
      into.set(sectionName, section);
      lastOption = undefined;
      return;
    }
    if (!section) throw new IniError(`${where}: no section header before: ${stripped}`);
    const option = /^(.*?)\s*[=:]\s*(.*)$/.exec(stripped);
    if (!option || (option[1] ?? '') === '') throw new IniError(`${where}: not "key: value": ${stripped}`);
    const key = (option[1] ?? '').toLowerCase();
    if (seenOptions.has(`${sectionName}\0${key}`)) {
      throw new IniError(`${where}: option ${key} already set in [${sectionName}]`);
    }
    seenOptions.add(`${sectionName}\0${key}`);
    section.set(key, option[2] ?? '');
    lastOption = key;
  });
  return into;
}

/** Sections in the order scap applies them, later ones winning: global, then domain suffixes. */
function sectionOrder(fqdn: string): string[] {
  const parts = fqdn.split('.');
  const suffixes = parts.map((_, i) => parts.slice(i).join('.')).reverse();
  return ['global', ...suffixes];
}

type ScapConfig = Record<string, string> & { environment?: string };

/**
 * scap's config.load() for a deploy from `fqdn`: scap/scap.cfg, then (with an environment)
 * scap/environments/<env>/scap.cfg, merged into one parser; an `environment:` value loads again
 * with that environment.
 */
function loadScapConfig(fqdn: string, environment?: string): ScapConfig {
  if (environment !== undefined && !existsSync(join(SCAP_DIR, 'environments', environment))) {
    throw new Error(`Environment ${environment} does not exist!`);
  }
  const files = [join(SCAP_DIR, 'scap.cfg')];
  const overlay = environment && join(SCAP_DIR, 'environments', environment, 'scap.cfg');
  if (overlay && existsSync(overlay)) files.push(overlay);
  const sections: Sections = new Map();
  for (const file of files) parseIni(readFileSync(file, 'utf8'), file, sections);
  const config: Record<string, string> = {};
  const defaults = sections.get('DEFAULT') ?? new Map<string, string>();
  for (const name of sectionOrder(fqdn)) {
    const section = sections.get(name);
    if (!section) continue;
    for (const [key, value] of [...defaults, ...section]) config[key] = value;
  }
  if (environment === undefined && config.environment) return loadScapConfig(fqdn, config.environment);
  return { ...config, ...(environment === undefined ? {} : { environment }) };
}

/** The real ConfigParser's view of the same deploy, from python3. */
function pythonScapConfig(fqdn: string, environment?: string): Record<string, string> {
  const program = `
import configparser, json, os, sys
scap, fqdn, env = sys.argv[1], sys.argv[2], sys.argv[3] or None
files = [os.path.join(scap, 'scap.cfg')]
if env and os.path.isfile(os.path.join(scap, 'environments', env, 'scap.cfg')):
    files.append(os.path.join(scap, 'environments', env, 'scap.cfg'))
parser = configparser.ConfigParser()
for f in files:
    with open(f) as fh:
        parser.read_file(fh)
parts = fqdn.split('.')
order = ['global'] + ['.'.join(parts[i:]) for i in range(len(parts))][::-1]
out = {}
for s in order:
    if parser.has_section(s):
        out.update(dict(parser.items(s, True)))
print(json.dumps(out))
`;
  return JSON.parse(python(['-c', program, SCAP_DIR, fqdn, environment ?? ''])) as Record<string, string>;
}

function python(args: string[]): string {
  try {
    return execFileSync('python3', args, { encoding: 'utf8' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new Error('python3 is missing: it reads scap.cfg and checks.yaml as scap does');
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// scap's value types (config.py DEFAULT_CONFIG) and known keys (deployment reference §1.3).

const BOOLEAN_WORDS = ['1', 'yes', 'true', 'on', '0', 'no', 'false', 'off'];
const BOOLEAN_KEYS = [
  'git_submodules',
  'git_upstream_submodules',
  'config_deploy',
  'perform_checks',
  'require_valid_service',
];
const INTEGER_KEYS = ['group_size', 'cache_revs', 'tags_to_keep', 'batch_size'];
const FLOAT_KEYS = ['service_timeout'];
const KNOWN_KEYS = new Set([
  'git_repo',
  'dsh_targets',
  'git_deploy_dir',
  'git_repo_user',
  'ssh_user',
  'git_submodules',
  'git_upstream_submodules',
  'git_binary_manager',
  'git_rev',
  'git_server',
  'server_groups',
  'group_size',
  'failure_limit',
  'service_name',
  'service_port',
  'service_timeout',
  'require_valid_service',
  'lock_file',
  'config_deploy',
  'nrpe_dir',
  'perform_checks',
  'batch_size',
  'cache_revs',
  'tags_to_keep',
  'environment',
  'keyholder_key',
]);
const STAGES = ['fetch', 'config_deploy', 'promote', 'finalize', 'rollback', 'config_diff'];
const CHECK_STAGES = [...STAGES, 'restart_service', 'handle_service'];

/** Known keys, and per-group / per-stage keys (a group an overlay dropped may keep its keys). */
function isKnownKey(key: string): boolean {
  if (KNOWN_KEYS.has(key)) return true;
  if (/^[a-z0-9]+_(dsh_targets|group_size|failure_limit)$/.test(key)) return true;
  const perStage = /^(.+)_batch_size$/.exec(key);
  return perStage !== null && CHECK_STAGES.includes(perStage[1] ?? '');
}

function serverGroups(config: ScapConfig): string[] {
  return (config.server_groups ?? 'default').split(',').map((g) => g.trim());
}

/**
 * The target list of a group as scap finds it: an env-specific file, else scap/<name>, else
 * /etc/dsh/group/<name> on the deploy host.
 */
function targetFile(config: ScapConfig, group: string): string {
  const name = group === 'default' ? config.dsh_targets : config[`${group}_dsh_targets`];
  if (!name) throw new Error(`group ${group} has no ${group === 'default' ? '' : `${group}_`}dsh_targets`);
  const envFile = config.environment && join(SCAP_DIR, 'environments', config.environment, name);
  if (envFile && existsSync(envFile)) return envFile;
  return existsSync(join(SCAP_DIR, name)) ? join(SCAP_DIR, name) : join('/etc/dsh/group', name);
}

/** The example deploy host's lists (puppet/examples/deploy_host.pp, class jobrunner::dsh). */
function exampleDshGroups(): Map<string, string[]> {
  const text = readFileSync('puppet/examples/deploy_host.pp', 'utf8');
  const groups = new Map<string, string[]>();
  for (const match of text.matchAll(/'([a-z-]+)'\s*=>\s*\[([^\]]*)\]/g)) {
    groups.set(
      match[1] ?? '',
      [...(match[2] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1] ?? ''),
    );
  }
  return groups;
}

/** Hosts of a group from the example Puppet data (the file lives on the deploy host only). */
function targetHosts(file: string): string[] {
  expect(file.startsWith('/etc/dsh/group/'), `${file} must come from Puppet, not the repo`).toBe(true);
  const hosts = exampleDshGroups().get(file.slice('/etc/dsh/group/'.length));
  if (hosts === undefined) throw new Error(`puppet/examples/deploy_host.pp has no group for ${file}`);
  return hosts;
}

const FQDN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

function expectValidConfig(config: ScapConfig): void {
  const groups = serverGroups(config);
  for (const key of Object.keys(config)) expect(isKnownKey(key), `unknown scap key ${key}`).toBe(true);
  for (const key of BOOLEAN_KEYS) {
    if (config[key] !== undefined) expect(BOOLEAN_WORDS, key).toContain(config[key]?.toLowerCase());
  }
  for (const key of Object.keys(config)) {
    if (INTEGER_KEYS.includes(key) || key.endsWith('_group_size') || key.endsWith('_batch_size')) {
      expect(config[key], key).toMatch(/^\d+$/);
    }
    if (key === 'failure_limit' || key.endsWith('_failure_limit'))
      expect(config[key], key).toMatch(/^\d+%?$/);
  }
  for (const key of FLOAT_KEYS)
    if (config[key] !== undefined) expect(Number(config[key]), key).toBeGreaterThan(0);
  expect(config.git_repo).toBe('jobrunner/jobrunner');
  expect(config.lock_file).toBeTruthy();
  for (const group of groups) {
    const file = targetFile(config, group);
    const hosts = targetHosts(file);
    expect(hosts.length, `${file} lists no host`).toBeGreaterThan(0);
    for (const host of hosts) expect(host, file).toMatch(FQDN);
  }
}

function runnerStatusPortDefault(): number {
  const schema = JSON.parse(readFileSync('src/config/jobrunner.schema.json', 'utf8')) as {
    $defs: { status: { properties: { runnerPort: { default: number } } } };
  };
  return schema.$defs.status.properties.runnerPort.default;
}

describe('scap.cfg', () => {
  it('parses like Python ConfigParser for every deploy host and environment', () => {
    const cases: [string, string | undefined][] = [
      [PRODUCTION_DEPLOY_HOST, undefined],
      [PRODUCTION_DEPLOY_HOST, 'passive'],
      [BETA_DEPLOY_HOST, 'beta'],
    ];
    for (const [host, env] of cases) {
      // `environment` is the argument on our side and a file value on Python's; the tests below check it.
      const { environment: _ours, ...ours } = loadScapConfig(host, env);
      const { environment: _theirs, ...theirs } = pythonScapConfig(host, env);
      expect(ours, `${host} ${env ?? ''}`).toEqual(theirs);
    }
  });

  it('deploys to the canary group first, then the rest in batches, restarting both daemons', () => {
    const config = loadScapConfig(PRODUCTION_DEPLOY_HOST);
    expectValidConfig(config);
    expect(config.environment).toBeUndefined();
    expect(serverGroups(config)).toEqual(['canary', 'default']);
    expect(config.git_server).toBe('deploy1002.eqiad.wmnet');
    expect(config.group_size).toBe('5');
    expect(config.canary_group_size).toBe('1');
    expect(config.canary_failure_limit).toBe('0');
    expect(config.service_name?.split(',').map((s) => s.trim())).toEqual(['jobrunner', 'jobchron']);
    expect(config.require_valid_service?.toLowerCase()).toBe('true');
    expect(config.perform_checks?.toLowerCase()).toBe('true');
    // The port scap polls is the runner's status server, not Apache's 9005.
    expect(Number(config.service_port)).toBe(runnerStatusPortDefault());
    expect(targetFile(config, 'canary')).toBe('/etc/dsh/group/jobrunner-canary');
    const canary = targetHosts(targetFile(config, 'canary'));
    const rest = targetHosts(targetFile(config, 'default'));
    expect(canary.filter((h) => rest.includes(h))).toEqual([]);
  });

  it('picks the beta overlay by the beta deploy host domain', () => {
    const config = loadScapConfig(BETA_DEPLOY_HOST);
    expectValidConfig(config);
    expect(config.environment).toBe('beta');
    expect(serverGroups(config)).toEqual(['default']);
    expect(targetFile(config, 'default')).toBe('/etc/dsh/group/jobrunner-beta');
    // Inherited from scap/scap.cfg.
    expect(config.service_name).toBe('jobrunner,jobchron');
    // [wmnet] does not apply outside wmnet: the overlay names the beta deploy host (scap deploy
    // refuses to start without a git_server).
    expect(config.git_server).toBe('deployment-deploy03.deployment-prep.eqiad.wmflabs');
  });

  it('the passive overlay ships code without a restart or port check', () => {
    const config = loadScapConfig(PRODUCTION_DEPLOY_HOST, 'passive');
    expectValidConfig(config);
    expect(serverGroups(config)).toEqual(['default']);
    // Empty values: scap's restart stage returns early on both.
    expect(config.service_name).toBe('');
    expect(config.service_port).toBe('');
    const passive = targetHosts(targetFile(config, 'default'));
    const primary = loadScapConfig(PRODUCTION_DEPLOY_HOST);
    const active = [
      ...targetHosts(targetFile(primary, 'default')),
      ...targetHosts(targetFile(primary, 'canary')),
    ];
    expect(passive.filter((h) => active.includes(h))).toEqual([]);
    expect(config.lock_file).toBe(primary.lock_file);
  });

  it('rejects an environment that does not exist, as scap does', () => {
    expect(() => loadScapConfig(PRODUCTION_DEPLOY_HOST, 'staging')).toThrow(
      /Environment staging does not exist/,
    );
  });

  it('the parser enforces ConfigParser rules the files rely on', () => {
    const parsed = parseIni(
      '[global]\nKey: a\nother = b c\n  continued\n# comment\n; comment\n[wmnet]\nempty:\n',
      'x',
    );
    expect(Object.fromEntries(parsed.get('global') ?? [])).toEqual({ key: 'a', other: 'b c\ncontinued' });
    expect(parsed.get('wmnet')?.get('empty')).toBe('');
    expect(() => parseIni('key: value\n', 'x')).toThrow(/x:1: no section header/);
    expect(() => parseIni('[a]\nk: 1\nK: 2\n', 'x')).toThrow(/x:3: option k already set/);
    expect(() => parseIni('[a]\n[a]\n', 'x')).toThrow(/x:2: section \[a\] already exists/);
    expect(sectionOrder('deploy1002.eqiad.wmnet')).toEqual([
      'global',
      'wmnet',
      'eqiad.wmnet',
      'deploy1002.eqiad.wmnet',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// checks.yaml

const CHECKS_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['checks'],
  additionalProperties: false,
  properties: {
    checks: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[a-z][a-z0-9_]*$' },
      additionalProperties: {
        type: 'object',
        required: ['command'],
        additionalProperties: false,
        properties: {
          type: { enum: ['command', 'nrpe', 'script'] },
          command: { type: 'string', minLength: 1 },
          stage: { enum: CHECK_STAGES },
          after: { enum: CHECK_STAGES },
          before: { enum: CHECK_STAGES },
          timeout: { type: 'number', exclusiveMinimum: 0 },
          group: { type: 'string', minLength: 1 },
        },
        oneOf: [{ required: ['stage'] }, { required: ['after'] }, { required: ['before'] }],
      },
    },
  },
} as const;

interface CheckEntry {
  type?: string;
  command: string;
  stage?: string;
  after?: string;
  before?: string;
  timeout?: number;
  group?: string;
}

/** checks.yaml as scap sees it: PyYAML's safe_load, through python3. */
function loadChecks(): { checks: Record<string, CheckEntry> } {
  const program = 'import json, sys, yaml\nprint(json.dumps(yaml.safe_load(open(sys.argv[1]))))';
  try {
    return JSON.parse(python(['-c', program, join(SCAP_DIR, 'checks.yaml')])) as {
      checks: Record<string, CheckEntry>;
    };
  } catch (error) {
    if (String(error).includes("No module named 'yaml'")) {
      throw new Error('PyYAML is missing (Debian python3-yaml): scap reads checks.yaml with it');
    }
    throw error;
  }
}

/** The time limit a check script gives itself: runCheck('name', import.meta.url, SECONDS, ...). */
function scriptDefaultTimeout(script: string): number {
  const match = /runCheck\(\s*'[^']+',\s*import\.meta\.url,\s*(\d+)/.exec(readFileSync(script, 'utf8'));
  if (!match) throw new Error(`${script}: no runCheck(name, import.meta.url, seconds, ...)`);
  return Number(match[1]);
}

describe('checks.yaml', () => {
  const doc = loadChecks();
  const entries = Object.entries(doc.checks);
  const groups = serverGroups(loadScapConfig(PRODUCTION_DEPLOY_HOST));

  it('matches the checks schema', () => {
    // strictRequired off: the oneOf branches name properties declared one level up.
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
    const validate = ajv.compile(CHECKS_SCHEMA);
    expect(validate(doc), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it('every script check names an executable node script in scap/scripts', () => {
    const scripts = entries.filter(([, c]) => c.type === 'script');
    expect(scripts.length).toBe(entries.length);
    for (const [name, check] of scripts) {
      const file = join(SCAP_DIR, 'scripts', check.command);
      expect(existsSync(file), `${name}: ${file}`).toBe(true);
      expect(() => accessSync(file, constants.X_OK), `${name}: ${file} is not executable`).not.toThrow();
      expect(readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n'), `${file} shebang`).toBe(true);
      // scap kills a check at its timeout; the script must give its own verdict first.
      expect(check.timeout, name).toBeGreaterThanOrEqual(scriptDefaultTimeout(file) + 10);
    }
  });

  it('groups are server groups; restart checks run health, then work, then error rate', () => {
    for (const [name, check] of entries)
      if (check.group !== undefined) expect(groups, name).toContain(check.group);
    const stageOf = (c: CheckEntry) => c.stage ?? c.after ?? c.before;
    expect(Object.fromEntries(entries.map(([n, c]) => [n, stageOf(c)]))).toEqual({
      error_rate_baseline: 'fetch',
      live_config: 'promote',
      health: 'restart_service',
      takes_work: 'restart_service',
      error_rate: 'restart_service',
    });
    expect(doc.checks.error_rate?.group).toBe('canary');
    expect(doc.checks.error_rate_baseline?.group).toBe('canary');
  });
});

describe('scap/scripts and scap/tools', () => {
  const scriptDir = join(SCAP_DIR, 'scripts');
  const files = [
    ...readdirSync(scriptDir).map((f) => join(scriptDir, f)),
    ...readdirSync(join(scriptDir, 'lib')).map((f) => join(scriptDir, 'lib', f)),
  ].filter((f) => f.endsWith('.mjs'));

  it('scripts use only Node.js built-ins and each other, so they run from the bundle offline', () => {
    for (const file of files) {
      const imports = [...readFileSync(file, 'utf8').matchAll(/^import\s[^;]*?from\s+'([^']+)'/gms)].map(
        (m) => m[1],
      );
      for (const spec of imports) expect(spec, file).toMatch(/^(node:|\.\/|\.\.\/)/);
    }
  });

  it('entry points are executable', () => {
    const entryPoints = [
      ...readdirSync(scriptDir)
        .filter((f) => f.endsWith('.mjs'))
        .map((f) => join(scriptDir, f)),
      join(SCAP_DIR, 'tools', 'build-deploy-repo.sh'),
    ];
    expect(entryPoints).toContain(join(scriptDir, 'restart-services.mjs'));
    for (const file of entryPoints) {
      expect(statSync(file).mode & 0o111, `${file} is not executable`).not.toBe(0);
    }
  });
});
