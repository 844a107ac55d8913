// backend => 'kafka' / 'memcached' through a real `puppet apply`: the module writes their config
// sections from typed parameters, the apply's own validate_cmd (`jobrunner --check-config`) accepts
// the file, and both daemons accept it afterwards. Before these parameters existed the check failed
// ("a kafka section ... is required") and the file was never written.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireFreshBuild } from '../support/fresh-build.js';
import {
  classDeclaration,
  puppetSandbox,
  type PuppetRun,
  type PuppetSandbox,
} from '../support/puppet-apply.js';
import { runProcess } from '../support/run-process.js';

const ROOT = resolve('.');
const CLI = { jobrunner: join(ROOT, 'dist/cli/jobrunner.js'), jobchron: join(ROOT, 'dist/cli/jobchron.js') };

let sandbox: PuppetSandbox;

beforeAll(() => {
  requireFreshBuild(Object.values(CLI));
  sandbox = puppetSandbox('jobrunner-puppet-backends-');
});

afterAll(() => sandbox?.remove());

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

/** Applies the class into `<sandbox>/<name>` with validation on (install_dir is this checkout). */
async function apply(name: string, params: Record<string, string>): Promise<PuppetRun> {
  const dir = join(sandbox.dir, name);
  for (const sub of ['etc', 'units', 'logrotate']) mkdirSync(join(dir, sub), { recursive: true });
  return sandbox.apply(
    classDeclaration('jobrunner', {
      redis_queues: `['127.0.0.1:6379']`,
      service_user: `'${userInfo().username}'`,
      service_group: `'${primaryGroup()}'`,
      manage_user: 'false',
      manage_services: 'false',
      manage_deploy_checks: 'false',
      manage_deploy_sudo: 'false',
      validate_config: 'true',
      config_dir: `'${join(dir, 'etc')}'`,
      unit_dir: `'${join(dir, 'units')}'`,
      logrotate_dir: `'${join(dir, 'logrotate')}'`,
      install_dir: `'${ROOT}'`,
      node_binary: `'${process.execPath}'`,
      ...params,
    }),
  );
}

async function render(name: string, params: Record<string, string>): Promise<string> {
  const result = await apply(name, params);
  expect(result.problems, result.output).toEqual([]);
  expect(result.exitCode, result.output).toBe(2);
  return join(sandbox.dir, name, 'etc/jobrunner.conf');
}

async function checkConfig(file: string): Promise<void> {
  for (const [name, cli] of Object.entries(CLI)) {
    const result = await runProcess(process.execPath, [cli, '--check-config', `--config-file=${file}`]);
    expect({ name, out: result.stdout + result.stderr }).toMatchObject({
      out: expect.stringMatching(/config OK/),
    });
    expect(result.code).toBe(0);
  }
}

describe('puppet apply with the non-Redis backends', () => {
  it("backend => 'kafka' writes a kafka section both daemons accept, without a dispatcher", async () => {
    const file = await render('kafka', {
      backend: `'kafka'`,
      kafka: `{
    'brokers'      => ['127.0.0.1:9092'],
    'datacenter'   => 'eqiad',
    'endpoint'     => 'http://10.0.0.5:9006/rpc/RunSingleJob.php',
    'ruleDefaults' => { 'concurrency' => 4, 'retryFactor' => 1.5 },
    'rules'        => { 'video' => { 'types' => ['webVideoTranscode'], 'concurrency' => 1 } },
    'lowTraffic'   => { 'excludeTypes' => ['webVideoTranscode'] },
  }`,
    });
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(config.backend).toBe('kafka');
    expect(config.kafka).toMatchObject({ brokers: ['127.0.0.1:9092'], datacenter: 'eqiad' });
    expect(config).not.toHaveProperty('dispatcher');
    await checkConfig(file);
  }, 120_000);

  it("backend => 'memcached' writes a memcached section both daemons accept", async () => {
    const file = await render('memcached', {
      backend: `'memcached'`,
      dispatcher: `'php /srv/mediawiki/multiversion/MWScript.php runJobs.php --wiki=%(db)x --type=%(type)x --result=json'`,
      memcached: `{
    'servers'           => ['127.0.0.1:11211'],
    'wikis'             => {
      'enwiki'   => { 'dsn' => 'mysql:host=127.0.0.1;dbname=enwiki', 'user' => 'wikiuser', 'passwordFile' => 'db-password' },
      'testwiki' => { 'dsn' => 'sqlite:/srv/sqlite/testwiki_jobqueue.sqlite', 'tablePrefix' => 'mw_' },
    },
    'staleAfterSeconds' => 120,
  }`,
    });
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(config.backend).toBe('memcached');
    expect(config.memcached).toMatchObject({ servers: ['127.0.0.1:11211'], staleAfterSeconds: 120 });
    await checkConfig(file);
  }, 120_000);

  it('a kafka section the daemons reject is never written (validate_cmd runs --check-config)', async () => {
    // Puppet's types accept this (a rule with neither types nor typePattern is a semantic error the
    // daemon's validation finds): the apply must fail and leave no file behind.
    const result = await apply('kafka-bad', {
      backend: `'kafka'`,
      kafka: `{ 'brokers' => ['127.0.0.1:9092'], 'datacenter' => 'eqiad', 'endpoint' => 'http://x/RunSingleJob.php', 'rules' => { 'empty' => {} } }`,
    });
    // Bit 4: a resource failed (the config file's validate_cmd); other files may have changed.
    expect(result.exitCode & 4, result.output).toBe(4);
    expect(result.output).toMatch(/kafka\.rules\.empty/);
    expect(existsSync(join(sandbox.dir, 'kafka-bad', 'etc/jobrunner.conf'))).toBe(false);
  }, 120_000);
});
