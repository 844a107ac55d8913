# @summary The MediaWiki side the runners call: RunJobs endpoints behind php-fpm and Apache.
#
# Installs the endpoint files (`rpc/RunJobs.php`, the RunSingleJob endpoint, ... from
# `endpoint_files`) into the docroot, a php-fpm pool of their own, and an Apache site that listens
# only on the internal address and lets only the runner hosts (`allowed_sources`) reach the listed
# paths; everything else gets 403. The secret for signed events (`$wgSecretKey` of the wikis,
# checked by the RunSingleJob endpoint and by Special:RunJobs) is written to a file only the pool
# user can read, and its path is passed to PHP as `JOBRUNNER_EVENT_SECRET_FILE`.
#
# Services are refreshed on change when `manage_services` is true: php-fpm is reloaded, Apache
# reloaded gracefully.
#
# @example
#   class { 'jobrunner::appserver':
#     listen_address  => '10.64.0.12',
#     allowed_sources => ['10.64.16.0/24'],
#     docroot         => '/srv/mediawiki/docroot/jobrunner',
#     endpoint_files  => {
#       'rpc/RunJobs.php'      => '/srv/mediawiki-config/rpc/RunJobs.php',
#       'rpc/RunSingleJob.php' => '/srv/mediawiki-config/rpc/RunSingleJob.php',
#     },
#     event_secret    => Sensitive('...'),
#     pool_env        => { 'MW_INSTALL_PATH' => '/srv/mediawiki/php' },
#   }
#
# @param listen_address
#   The internal address Apache listens on (never a wildcard).
# @param port
#   Apache port of the site (production: 9006).
# @param allowed_sources
#   Runner hosts (addresses or CIDR ranges) that may reach the site; Apache `Require ip`.
# @param docroot
#   Document root; the endpoint files are copied below it.
# @param endpoint_files
#   Path below `docroot` => file to copy there (the endpoints as the wiki farm's config repo has
#   them). The directories below `docroot` are created.
# @param allowed_paths
#   URL paths (below `docroot`) the site serves to the runners; others get 403. Special:RunJobs
#   dispatch needs `/index.php`.
# @param event_secret
#   Secret for signed events / Special:RunJobs (`$wgSecretKey`, at least 32 characters). Undef
#   writes no secret file.
# @param secret_dir
#   Directory of the secret file (`<secret_dir>/event-secret`).
# @param pool_name
#   php-fpm pool name (also the socket `/run/php/<pool_name>.sock`).
# @param pool_user
#   User (and group) the pool's PHP workers run as.
# @param pool_max_children
#   `pm.max_children`: the most requests the pool runs at once. Size it to the runner slots
#   pointed at this host.
# @param request_timeout_seconds
#   `request_terminate_timeout` of the pool and Apache's proxy timeout (a dispatch's maxtime plus
#   a margin).
# @param pool_env
#   Environment of the PHP workers (e.g. `MW_INSTALL_PATH`, `MW_CONFIG_FILE`).
# @param php_fpm_pool_dir
#   php-fpm's `pool.d`.
# @param apache_dir
#   Apache's configuration root (`sites-enabled/`, `mods-enabled/` below it).
# @param php_fpm_service
#   php-fpm service name.
# @param apache_service
#   Apache service name.
# @param manage_services
#   Declare both services running and refresh them on change.
class jobrunner::appserver (
  Pattern[/\A[0-9A-Fa-f.:]+\z/] $listen_address,
  Array[Pattern[/\A[0-9A-Fa-f.:]+(\/[0-9]{1,3})?\z/], 1] $allowed_sources,
  Hash[Pattern[/\A[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\z/], Jobrunner::Absolutepath, 1] $endpoint_files,
  Jobrunner::Absolutepath $docroot = '/srv/mediawiki/docroot/jobrunner',
  Jobrunner::Port $port = 9006,
  Array[Pattern[/\A\/[A-Za-z0-9_.\/-]+\z/], 1] $allowed_paths = ['/rpc/RunJobs.php', '/rpc/RunSingleJob.php'],
  Optional[Sensitive[String[1]]] $event_secret = undef,
  Jobrunner::Absolutepath $secret_dir = '/etc/jobrunner-appserver',
  Pattern[/\A[a-z][a-z0-9_-]*\z/] $pool_name = 'jobrunner-rpc',
  Pattern[/\A[a-z_][a-z0-9_.-]*\z/] $pool_user = 'www-data',
  Integer[1] $pool_max_children = 16,
  Integer[1] $request_timeout_seconds = 1260,
  Hash[Pattern[/\A[A-Za-z_][A-Za-z0-9_]*\z/], Pattern[/\A[^\n"]*\z/]] $pool_env = {},
  Jobrunner::Absolutepath $php_fpm_pool_dir = '/etc/php/8.2/fpm/pool.d',
  Jobrunner::Absolutepath $apache_dir = '/etc/apache2',
  String[1] $php_fpm_service = 'php8.2-fpm',
  String[1] $apache_service = 'apache2',
  Boolean $manage_services = true,
) {
  if $listen_address in ['0.0.0.0', '::'] {
    fail('jobrunner::appserver: listen_address must be the internal address, not a wildcard')
  }
  # Sensitive[String[32]] is not enforced on the wrapped value, hence the explicit check.
  if $event_secret =~ NotUndef and $event_secret.unwrap.length < 32 {
    fail('jobrunner::appserver: event_secret must be at least 32 characters')
  }
  $socket = "/run/php/${pool_name}.sock"
  $secret_file = "${secret_dir}/event-secret"
  $php_fpm_notify = $manage_services ? { true => Service[$php_fpm_service], default => undef }
  $apache_notify = $manage_services ? { true => Service[$apache_service], default => undef }

  # The endpoint files and the directories they need below the docroot.
  $subdirs = $endpoint_files.keys.map |$path| { $path.regsubst('/?[^/]+\z', '') }.filter |$dir| { !$dir.empty }.unique
  $dirs = $subdirs.map |$dir| {
    $parts = $dir.split('/')
    $parts.length.map |$i| { "${docroot}/${parts[0, $i + 1].join('/')}" }
  }.flatten.unique
  file { [$docroot] + $dirs:
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }
  $endpoint_files.each |$path, $source| {
    file { "${docroot}/${path}":
      ensure => file,
      source => $source,
      owner  => 'root',
      group  => 'root',
      mode   => '0644',
    }
  }

  $secret_ensure = $event_secret ? { undef => absent, default => file }
  file { $secret_dir:
    ensure => directory,
    owner  => 'root',
    group  => $pool_user,
    mode   => '0750',
  }
  file { $secret_file:
    ensure    => $secret_ensure,
    content   => $event_secret,
    owner     => $pool_user,
    group     => $pool_user,
    mode      => '0400',
    show_diff => false,
    notify    => $php_fpm_notify,
  }

  $env = $pool_env + ($event_secret ? { undef => {}, default => { 'JOBRUNNER_EVENT_SECRET_FILE' => $secret_file } })
  file { "${php_fpm_pool_dir}/${pool_name}.conf":
    ensure  => file,
    content => template('jobrunner/appserver-fpm-pool.conf.erb'),
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    notify  => $php_fpm_notify,
  }

  # mod_proxy_fcgi hands PHP to the pool; authz_host gives `Require ip`.
  ['proxy', 'proxy_fcgi', 'authz_host'].each |$mod| {
    file { "${apache_dir}/mods-enabled/${mod}.load":
      ensure => link,
      target => "../mods-available/${mod}.load",
      notify => $apache_notify,
    }
  }
  file { "${apache_dir}/sites-enabled/50-jobrunner-rpc.conf":
    ensure  => file,
    content => template('jobrunner/appserver-site.conf.erb'),
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    notify  => $apache_notify,
  }

  if $manage_services {
    service { $php_fpm_service:
      ensure => running,
      enable => true,
    }
    service { $apache_service:
      ensure  => running,
      enable  => true,
      restart => '/usr/sbin/apachectl graceful',
      require => Service[$php_fpm_service],
    }
  }
}
