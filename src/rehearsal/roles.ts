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
  /** runJobs.php as a dispatcher command, for runner hosts that run MediaWiki themselves. */
  readonly runJobsCommand: string;
}

/** Seconds before jobchron puts back a claim whose runner went away (limits.claimTTL). */
export const CLAIM_TTL_SECONDS = 15;
/** jobchron's partition lease (chron.leaseTtlMs) and round interval (chron.intervalMs). */
export const LEASE_TTL_MS = 5000;
export const CHRON_INTERVAL_MS = 500;
/** runner.drainTimeoutSeconds on the runner hosts (Puppet drain_timeout_seconds). */
export const DRAIN_TIMEOUT_SECONDS = 30;

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
  const chron = host.chron ? 'running' : 'stopped';
  // Runner hosts with an app server dispatch to it through Special:RunJobs: MediaWiki holds the
  // claims there. One without runs runJobs.php itself, as the original's job runner hosts did
  // (MediaWiki installed on them, as www-data): its claims are its own, and are stranded when its
  // link goes down.
  const dispatch =
    host.appServer === undefined
      ? `dispatch_kind         => 'command',
  dispatcher            => ${q(data.runJobsCommand)},
  service_user          => 'www-data',
  service_group         => 'www-data',
  manage_user           => false,`
      : `dispatch_kind         => 'special-runjobs',
  dispatch_base_urls    => { '*' => ${q(`http://${data.addresses.get(host.appServer)}:${APP_PORT}/index.php?wiki=%(db)u`)} },`;
  return `${scapCfg(data)}
class { 'jobrunner::scap_target':
  deploy_user_home => '/home/deploy-service',
  public_key       => ${q(data.deployPublicKey)},
}
class { 'jobrunner':
  redis_queues          => ${list(partitions)},
  ${dispatch}
  mediawiki_secret_key  => Sensitive(${q(data.secretKey)}),
  groups                => { 'basic' => { 'runners' => 3, 'include' => ['*'] } },
  limits                => { 'claimTTL' => { '*' => ${CLAIM_TTL_SECONDS} } },
  # Short batches, so a drain takes seconds.
  runner_settings       => { 'highPriorityMaxTime' => 3, 'lowPriorityMaxTime' => 3 },
  chron_settings        => { 'intervalMs' => ${CHRON_INTERVAL_MS}, 'leaseTtlMs' => ${LEASE_TTL_MS} },
  drain_timeout_seconds => ${DRAIN_TIMEOUT_SECONDS},
  node_binary           => ${q(process.execPath)},
  chron_ensure          => '${chron}',
  chron_enable          => ${host.chron ? 'true' : 'false'},
  # Not merely stopped: scap's restart would start it again (service_name lists jobchron).
  chron_masked          => ${host.chron ? 'false' : 'true'},
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
