// The role manifests `puppet apply` builds the hosts with: the module's classes with this farm's
// data, as a site's roles/profiles would pass them from Hiera.
import { join } from 'node:path';
import { APP_PORT, fqdn, HOSTS, REDIS_PORT, type HostPlan } from './topology.js';

export interface RoleData {
  /** host name → address */
  readonly addresses: ReadonlyMap<string, string>;
  /** The deploy user's public key (authorized on runner hosts). */
  readonly deployPublicKey: string;
  /** $wgSecretKey of the wikis (Special:RunJobs signatures, signed events). */
  readonly secretKey: string;
  /** The MediaWiki farm directory (shared by both app servers). */
  readonly farmDir: string;
  /** The checkout, for the endpoint files (as a config repo would provide them). */
  readonly repo: string;
  readonly canaryWiki: string;
}

const q = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const list = (items: readonly string[]): string => `[${items.map(q).join(', ')}]`;

function scapCfg(data: RoleData): string {
  // /etc/scap.cfg: what WMF's class scap writes on every host (here only git_server).
  return `file { '/etc/scap.cfg':
  ensure  => file,
  content => "[global]\\ngit_server: ${data.addresses.get('deploy')}\\n",
  mode    => '0644',
}
`;
}

function deployRole(data: RoleData): string {
  const runners = HOSTS.filter((h) => h.role === 'runner');
  return `${scapCfg(data)}
class { 'jobrunner::scap_target':
  deploy_user_home => '/home/deploy-service',
}
class { 'jobrunner::dsh':
  groups => {
    'jobrunner-canary' => ${list(runners.filter((h) => h.canary).map((h) => fqdn(h.name)))},
    'jobrunner'        => ${list(runners.filter((h) => !h.canary).map((h) => fqdn(h.name)))},
  },
}
`;
}

function appRole(host: HostPlan, data: RoleData): string {
  const runners = HOSTS.filter((h) => h.role === 'runner').map((h) => data.addresses.get(h.name) ?? '');
  const partitions = HOSTS.filter((h) => h.role === 'redis').map(
    (h) => `${data.addresses.get(h.name)}:${REDIS_PORT}`,
  );
  return `class { 'jobrunner::appserver':
  listen_address    => ${q(data.addresses.get(host.name) ?? '')},
  port              => ${APP_PORT},
  allowed_sources   => ${list(runners)},
  docroot           => ${q(join(data.farmDir, 'docroot'))},
  endpoint_files    => {
    'rpc/RunJobs.php'      => ${q(join(data.repo, 'scripts/farm/rpc/RunJobs.php'))},
    'rpc/RunSingleJob.php' => ${q(join(data.repo, 'scripts/farm/RunSingleJob.php'))},
  },
  # The runners dispatch through Special:RunJobs (signed with the secret) until the farm's
  # rpc/RunJobs.php accepts non-loopback callers.
  allowed_paths     => ['/rpc/RunJobs.php', '/rpc/RunSingleJob.php', '/index.php'],
  event_secret      => Sensitive(${q(data.secretKey)}),
  pool_max_children => 8,
  pool_env          => {
    'MW_CONFIG_FILE'                  => ${q(join(data.farmDir, 'FarmSettings.php'))},
    'MW_INSTALL_PATH'                 => '/usr/share/mediawiki',
    'JOBRUNNER_FARM_REDIS_PARTITIONS' => ${q(partitions.join(','))},
  },
}
`;
}

function runnerRole(host: HostPlan, data: RoleData): string {
  const partitions = HOSTS.filter((h) => h.role === 'redis').map(
    (h) => `${data.addresses.get(h.name)}:${REDIS_PORT}`,
  );
  const app = data.addresses.get(host.appServer ?? 'app1');
  const chron = host.chron ? 'running' : 'stopped';
  return `${scapCfg(data)}
class { 'jobrunner::scap_target':
  deploy_user_home => '/home/deploy-service',
  public_key       => ${q(data.deployPublicKey)},
}
class { 'jobrunner':
  redis_queues          => ${list(partitions)},
  dispatch_kind         => 'special-runjobs',
  dispatch_base_urls    => { '*' => ${q(`http://${app}:${APP_PORT}/index.php?wiki=%(db)u`)} },
  mediawiki_secret_key  => Sensitive(${q(data.secretKey)}),
  groups                => { 'basic' => { 'runners' => 3, 'include' => ['*'] } },
  # Short batches, so a drain takes seconds.
  runner_settings       => { 'highPriorityMaxTime' => 3, 'lowPriorityMaxTime' => 3 },
  chron_settings        => { 'intervalMs' => 500, 'leaseTtlMs' => 5000 },
  drain_timeout_seconds => 30,
  node_binary           => ${q(process.execPath)},
  chron_ensure          => '${chron}',
  chron_enable          => ${host.chron ? 'true' : 'false'},
  deploy_canary_wiki    => ${host.canary ? q(data.canaryWiki) : 'undef'},
  deploy_check_settings => { 'JOBRUNNER_ERROR_WINDOW' => 5, 'JOBRUNNER_CHECK_STATE_DIR' => '/tmp/jobrunner-deploy-checks' },
}
`;
}

export function roleManifest(host: HostPlan, data: RoleData): string | undefined {
  switch (host.role) {
    case 'deploy':
      return deployRole(data);
    case 'app':
      return appRole(host, data);
    case 'runner':
      return runnerRole(host, data);
    case 'redis':
      return undefined;
  }
}
