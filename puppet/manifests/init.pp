# @summary Installs and configures jobrunner and jobchron on a MediaWiki job-runner host.
#
# Renders `/etc/jobrunner/jobrunner.conf` (JSON, shared by both daemons), the secret files it
# points to, the systemd units and (with `log_file`) a logrotate rule, and manages the two
# services. The code bundle itself is deployed separately (scap3 or a package) to `install_dir`.
#
# A config change reloads both daemons (SIGHUP: the runner keeps its running jobs). A change of
# what they read only at startup (Redis servers and password, statsd, status server, log file,
# secret files) or of a unit restarts them instead (the runner drains first). In the passive
# datacenter the units are masked, so a deploy tool (scap `require_valid_service`) or a reboot
# cannot start them.
#
# @example Production-style jobrunner host
#   class { 'jobrunner':
#     redis_queues      => ['rdb1001.eqiad.wmnet', 'rdb1001.eqiad.wmnet:6380'],
#     redis_aggregators => ['rdb1001.eqiad.wmnet:6378'],
#     redis_password    => Sensitive('secret'),
#     dispatcher        => 'http://127.0.0.1:9006/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u',
#     groups            => {
#       'basic'  => { 'weight' => 20, 'include' => ['*'], 'exclude' => ['AssembleUploadChunks'] },
#       'upload' => { 'weight' => 7, 'include' => ['AssembleUploadChunks'] },
#     },
#     load_factor       => 1.1,
#     statsd_host       => 'statsd.eqiad.wmnet',
#     datacenter_mode   => 'active',
#   }
#
# @param redis_queues
#   Every queue partition server (`redis.queues`), as `host[:port]`.
# @param redis_aggregators
#   Aggregator servers in HA order (`redis.aggregators`); defaults to `redis_queues`, as in production.
# @param redis_password
#   Redis AUTH password (`redis.password`). Makes the config file content Sensitive.
# @param redis_connect_timeout_ms
#   `redis.connectTimeoutMs`; the daemon default (5000) when undef.
# @param redis_command_timeout_ms
#   `redis.commandTimeoutMs`; the daemon default (5000) when undef.
# @param groups
#   Runner groups in loop order. Each has `runners` (fixed) or `weight` (sized with `load_factor`
#   × CPUs by `jobrunner::size_groups`), plus `include`, `exclude` and `low-priority` job type lists.
# @param load_factor
#   Runner slots per CPU for weighted groups (production: 1.1 jobrunners, 0.7 videoscalers).
# @param processor_count
#   CPUs used for sizing; defaults to the `processors.count` fact.
# @param limits
#   `limits`: per-type `attempts`, `claimTTL`, `real` (s) and `memory`, each with a `*` fallback.
# @param dispatcher
#   Command or http(s) URL template with `%(db)`, `%(type)`, `%(maxtime)`, `%(maxmem)` placeholders.
#   Required unless `dispatch_kind` is `special-runjobs`.
# @param dispatch_kind
#   `dispatch.kind`; undef lets the daemon infer it from `dispatcher`.
# @param dispatch_connect_timeout_ms
#   `dispatch.connectTimeoutMs` for HTTP dispatch; daemon default when undef.
# @param dispatch_base_urls
#   `dispatch.baseUrls` for `special-runjobs`: wiki ID (or `*`) => index.php URL.
# @param mediawiki_secret_key
#   `$wgSecretKey` for `special-runjobs` signing. Written to `<config_dir>/mediawiki-secret-key`
#   (mode 0400, owned by the service user) and referenced as `dispatch.secretKeyFile`.
# @param runner_settings
#   Further `runner` tunables, keyed as in the config file (e.g. `maxPerQueue`).
# @param drain_timeout_seconds
#   `runner.drainTimeoutSeconds`: how long running jobs may finish on stop. The unit's
#   `TimeoutStopSec` is derived from it.
# @param kill_grace_seconds
#   `runner.killGraceSeconds`: SIGTERM → SIGKILL grace for children; also part of `TimeoutStopSec`.
# @param chron_settings
#   `chron` tunables, keyed as in the config file (e.g. `intervalMs`).
# @param statsd_host
#   statsd host; no metrics when undef.
# @param statsd_port
#   statsd UDP port.
# @param statsd_prefix
#   First segment of every metric name.
# @param status_enabled
#   Whether the daemons run their HTTP status servers (health, readiness, metrics).
# @param status_address
#   Address the status servers listen on.
# @param status_allowed_hosts
#   `status.allowedHosts`: names the status servers answer to besides IP addresses, localhost and
#   the host name (DNS rebinding guard). Defaults to the node's FQDN.
# @param runner_status_port
#   jobrunner's status port.
# @param chron_status_port
#   jobchron's status port.
# @param admin_token
#   Admin token of the status servers; written to `<config_dir>/admin-token` (mode 0400, owned by
#   root: the daemons read it before they switch to the service user, so job children cannot).
#   Without it the status servers are read-only. At least 24 printable
#   characters, 8 of them different (e.g. `openssl rand -hex 16`); a weaker one is refused.
# @param log_level
#   `logging.level`.
# @param log_file
#   Optional JSON-lines file written in addition to the journal. Enables a logrotate rule that
#   makes the daemons reopen the file (SIGUSR1) instead of restarting them.
# @param log_rotate_count
#   Rotated log files kept (daily rotation).
# @param manage_log_dir
#   Create the directory of `log_file` (root, 0755). Set false when it is shared, e.g. `/var/log`.
# @param backend
#   `backend`: the job queue the daemons work on. `kafka` needs `kafka`, `memcached` needs
#   `memcached`; the catalog fails to compile without them.
# @param kafka
#   The `kafka` section (`Jobrunner::Kafka`, keys as in the config file): brokers, datacenter and the
#   RunSingleJob `endpoint` at least. Required with `backend => 'kafka'`, which then needs no
#   `dispatcher`. The kafka backend does not reload, so any config change restarts the daemons.
# @param memcached
#   The `memcached` section (`Jobrunner::Memcached`): the registry's servers and every wiki's job
#   table. Required with `backend => 'memcached'`.
# @param install_dir
#   Where the built bundle is deployed (contains `dist/cli/jobrunner.js`).
# @param node_binary
#   Node.js (>= 20) interpreter.
# @param service_user
#   User the daemons (and their PHP children) run as.
# @param service_group
#   Group of `service_user`; may read the config file.
# @param manage_user
#   Create `service_user` and `service_group` as system accounts. Set false for an existing
#   user such as `www-data`.
# @param config_dir
#   Directory of `jobrunner.conf` and the secret files.
# @param unit_dir
#   Where the systemd units are written. Not `/etc/systemd/system`, where a unit file would
#   prevent masking.
# @param unit_read_write_paths
#   The only places the daemons and their PHP children may write besides their private /tmp
#   (`ProtectSystem=strict` + `ReadWritePaths=`; missing paths are skipped). The directory of
#   `log_file` is added. List wherever jobs write (uploads, caches).
# @param unit_ip_address_allow
#   With entries: `IPAddressDeny=any` and these `IPAddressAllow=` (addresses, prefixes, or
#   `localhost`, `link-local`, `multicast`); they must cover Redis, databases, memcached and
#   whatever jobs fetch. Empty (default): no IP filter.
# @param logrotate_dir
#   Directory for the logrotate rule.
# @param datacenter_mode
#   `passive` stops and masks both units whatever the `*_ensure`/`*_enable` values say.
# @param runner_ensure
#   Whether jobrunner runs (active datacenter).
# @param runner_enable
#   Whether jobrunner starts at boot (active datacenter).
# @param chron_ensure
#   Whether jobchron runs (active datacenter).
# @param chron_enable
#   Whether jobchron starts at boot (active datacenter).
# @param chron_masked
#   Mask jobchron on a host that must never run it (a runner-only host where jobchron runs on a
#   few other hosts). `chron_ensure => 'stopped'` alone does not keep it down: a deploy restarts
#   every unit named in scap's `service_name` (`service jobchron restart` starts a stopped unit);
#   scap (`require_valid_service`), `restart-services.mjs` and a reboot skip a masked one.
# @param manage_services
#   Manage the service state. When false only the files are written (images, containers).
# @param validate_config
#   Check a new config with the bundle's `jobrunner --check-config` before it replaces the old one
#   (skipped while the bundle is not yet deployed).
# @param manage_deploy_checks
#   Write the settings file of the scap3 deploy checks (`deploy_checks_file`): the live config
#   file, `node_binary`, `service_user` as the user the checks run as, and `deploy_canary_wiki`.
# @param deploy_checks_file
#   Settings file the deploy checks read (`KEY=VALUE` lines; `scap/scripts/lib/settings.mjs`).
# @param deploy_canary_wiki
#   Wiki ID the `takes_work` deploy check pushes null jobs to (`JOBRUNNER_CANARY_WIKI`). Set it on
#   canary hosts; without it that check is skipped.
# @param deploy_check_settings
#   Further deploy check settings by name, e.g. `{ 'JOBRUNNER_ERROR_WINDOW' => 60 }`.
# @param manage_deploy_sudo
#   Where sudo is installed (fact `jobrunner_sudo_installed`), give `deploy_user` the rules the
#   deploy needs in `<sudoers_dir>/jobrunner-deploy` (checked with visudo before it is written):
#   restart jobchron as root, and run the deploy check scripts of a deployed revision as
#   `service_user` with `node_binary`. False removes that file.
# @param deploy_user
#   The user scap3 deploys as.
# @param sudoers_dir
#   Directory for the sudo rules (`@includedir` of `/etc/sudoers`).
class jobrunner (
  Array[Jobrunner::Redisaddress, 1] $redis_queues,
  Optional[Array[Jobrunner::Redisaddress, 1]] $redis_aggregators = undef,
  Optional[Sensitive[String]] $redis_password = undef,
  Optional[Integer[1]] $redis_connect_timeout_ms = undef,
  Optional[Integer[1]] $redis_command_timeout_ms = undef,
  Hash[String[1], Jobrunner::Group, 1] $groups = { 'basic' => { 'weight' => 1, 'include' => ['*'] } },
  Variant[Integer[0], Float[0.0]] $load_factor = 1.0,
  Optional[Integer[1]] $processor_count = undef,
  Jobrunner::Limits $limits = {},
  Optional[String[1]] $dispatcher = undef,
  Optional[Enum['command', 'http', 'special-runjobs']] $dispatch_kind = undef,
  Optional[Integer[1]] $dispatch_connect_timeout_ms = undef,
  Hash[String[1], Pattern[/\Ahttps?:\/\/\S+\z/]] $dispatch_base_urls = {},
  Optional[Sensitive[String[1]]] $mediawiki_secret_key = undef,
  Jobrunner::Runnersettings $runner_settings = {},
  Jobrunner::Seconds $drain_timeout_seconds = 60,
  Jobrunner::Seconds $kill_grace_seconds = 5,
  Jobrunner::Chronsettings $chron_settings = {},
  Optional[Pattern[/\A\S+\z/]] $statsd_host = undef,
  Integer[1, 65535] $statsd_port = 8125,
  Pattern[/\A[A-Za-z0-9_.-]+\z/] $statsd_prefix = 'jobrunner',
  Boolean $status_enabled = true,
  Pattern[/\A\S+\z/] $status_address = '127.0.0.1',
  Array[Pattern[/\A[A-Za-z0-9_.-]+\z/]] $status_allowed_hosts = [$facts['networking']['fqdn']].filter |$name| { $name =~ NotUndef },
  Jobrunner::Port $runner_status_port = 9150,
  Jobrunner::Port $chron_status_port = 9151,
  Optional[Sensitive[Jobrunner::Admintoken]] $admin_token = undef,
  Enum['error', 'warn', 'info', 'debug'] $log_level = 'info',
  Optional[Jobrunner::Absolutepath] $log_file = undef,
  Integer[1] $log_rotate_count = 7,
  Boolean $manage_log_dir = true,
  Enum['redis', 'kafka', 'memcached'] $backend = 'redis',
  Optional[Jobrunner::Kafka] $kafka = undef,
  Optional[Jobrunner::Memcached] $memcached = undef,
  Jobrunner::Absolutepath $install_dir = '/srv/deployment/jobrunner/jobrunner',
  Jobrunner::Absolutepath $node_binary = '/usr/bin/node',
  Pattern[/\A[a-z_][a-z0-9_.-]*\z/] $service_user = 'jobrunner',
  Pattern[/\A[a-z_][a-z0-9_.-]*\z/] $service_group = 'jobrunner',
  Boolean $manage_user = true,
  Jobrunner::Absolutepath $config_dir = '/etc/jobrunner',
  Jobrunner::Absolutepath $unit_dir = '/lib/systemd/system',
  Array[Jobrunner::Absolutepath] $unit_read_write_paths = ['/srv', '/var/cache', '/var/lib', '/var/log', '/var/tmp'],
  Array[Pattern[/\A[0-9A-Za-z.:\/-]+\z/]] $unit_ip_address_allow = [],
  Jobrunner::Absolutepath $logrotate_dir = '/etc/logrotate.d',
  Enum['active', 'passive'] $datacenter_mode = 'active',
  Jobrunner::Serviceensure $runner_ensure = 'running',
  Boolean $runner_enable = true,
  Jobrunner::Serviceensure $chron_ensure = 'running',
  Boolean $chron_enable = true,
  Boolean $chron_masked = false,
  Boolean $manage_services = true,
  Boolean $validate_config = true,
  Boolean $manage_deploy_checks = true,
  Jobrunner::Absolutepath $deploy_checks_file = '/etc/default/jobrunner-deploy-checks',
  Optional[Pattern[/\A[^\s'"]+\z/]] $deploy_canary_wiki = undef,
  Hash[Jobrunner::Deploychecksetting, Variant[Pattern[/\A[^\s'"]+\z/], Numeric]] $deploy_check_settings = {},
  Boolean $manage_deploy_sudo = true,
  Pattern[/\A[a-z_][a-z0-9_.-]*\z/] $deploy_user = 'deploy-service',
  Jobrunner::Absolutepath $sudoers_dir = '/etc/sudoers.d',
) {
  if $backend == 'kafka' and $kafka =~ Undef {
    fail("jobrunner: backend 'kafka' needs the kafka parameter (brokers, datacenter, endpoint)")
  }
  if $backend == 'memcached' and $memcached =~ Undef {
    fail("jobrunner: backend 'memcached' needs the memcached parameter (servers, wikis)")
  }
  if $backend == 'kafka' and $dispatcher =~ Undef and $dispatch_kind =~ Undef {
    # Kafka runs every event through kafka.endpoint: no dispatcher needed.
  } elsif $dispatch_kind == 'special-runjobs' {
    if $dispatch_base_urls.empty {
      fail('jobrunner: dispatch_kind special-runjobs needs dispatch_base_urls')
    }
    if $mediawiki_secret_key =~ Undef {
      fail('jobrunner: dispatch_kind special-runjobs needs mediawiki_secret_key')
    }
  } elsif $dispatcher =~ Undef {
    fail('jobrunner: dispatcher is required unless dispatch_kind is special-runjobs')
  } elsif $dispatch_kind == 'http' and $dispatcher !~ /\Ahttps?:\/\// {
    fail('jobrunner: dispatch_kind http needs an http:// or https:// dispatcher URL template')
  }
  [['redis_queues', $redis_queues], ['redis_aggregators', $redis_aggregators.lest || { [] }]].each |$list| {
    if $list[1].unique.length != $list[1].length {
      fail("jobrunner: ${list[0]} lists a server twice: ${list[1]}")
    }
  }

  $config_file = "${config_dir}/jobrunner.conf"
  $passive = $datacenter_mode == 'passive'
  $runner_script = "${install_dir}/dist/cli/jobrunner.js"
  $chron_script = "${install_dir}/dist/cli/jobchron.js"
  # The passive datacenter overrides the per-service state.
  $runner_state = $passive ? { true => 'stopped', default => $runner_ensure }
  $chron_state = $passive ? { true => 'stopped', default => $chron_ensure }

  contain jobrunner::install
  contain jobrunner::config

  class { 'jobrunner::runner':
    ensure                => $runner_state,
    config_file           => $config_file,
    script                => $runner_script,
    install_dir           => $install_dir,
    node_binary           => $node_binary,
    service_user          => $service_user,
    service_group         => $service_group,
    enable                => $runner_enable,
    masked                => $passive,
    manage_service        => $manage_services,
    unit_dir              => $unit_dir,
    drain_timeout_seconds => $drain_timeout_seconds,
    kill_grace_seconds    => $kill_grace_seconds,
  }
  contain jobrunner::runner

  class { 'jobrunner::chron':
    ensure         => $chron_state,
    config_file    => $config_file,
    script         => $chron_script,
    install_dir    => $install_dir,
    node_binary    => $node_binary,
    service_user   => $service_user,
    service_group  => $service_group,
    enable         => $chron_enable,
    masked         => $passive or $chron_masked,
    manage_service => $manage_services,
    unit_dir       => $unit_dir,
  }
  contain jobrunner::chron

  # Deploy check settings and sudo rules for scap3 (they name the service user).
  contain jobrunner::deploy

  Class['jobrunner::install'] -> Class['jobrunner::config']
  Class['jobrunner::install'] -> Class['jobrunner::deploy']
  Class['jobrunner::config'] -> Class['jobrunner::runner']
  Class['jobrunner::config'] -> Class['jobrunner::chron']
}
