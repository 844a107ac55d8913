# @summary Writes jobrunner.conf, the secret files it references and the logrotate rule.
#
# The config data is assembled here as a Puppet hash and serialized by `jobrunner.conf.erb`, so the
# file is always valid JSON. Keys left undef are omitted and the daemons apply their defaults.
#
# @api private
class jobrunner::config {
  $user = $jobrunner::service_user
  $group = $jobrunner::service_group
  $secret_key_file = "${jobrunner::config_dir}/mediawiki-secret-key"
  $admin_token_file = "${jobrunner::config_dir}/admin-token"
  $fingerprint_file = "${jobrunner::config_dir}/startup-settings.sha256"
  # A config change is applied with a reload; a change of what the daemons read only at startup
  # (see $startup_settings) restarts them instead.
  $notify_services = $jobrunner::manage_services ? {
    true    => [Service['jobrunner'], Service['jobchron']],
    default => [],
  }
  $restart_services = $jobrunner::manage_services ? {
    true    => [Exec['jobrunner: restart jobrunner.service'], Exec['jobrunner: restart jobchron.service']],
    default => [],
  }

  file { $jobrunner::config_dir:
    ensure => directory,
    owner  => 'root',
    group  => $group,
    mode   => '0750',
  }

  $secret_key_ensure = $jobrunner::mediawiki_secret_key ? { undef => absent, default => file }
  $admin_token_ensure = $jobrunner::admin_token ? { undef => absent, default => file }

  # Secrets live in their own files (0400, service user) so the config can name them by path. The
  # daemons read them at startup, so a change restarts them (via the fingerprint below).
  file { $secret_key_file:
    ensure    => $secret_key_ensure,
    content   => $jobrunner::mediawiki_secret_key,
    owner     => $user,
    group     => $group,
    mode      => '0400',
    show_diff => false,
  }
  # Root's alone: the daemons read it as root and then switch to the service user (--user), so
  # their job children, which run as that user, cannot read it.
  file { $admin_token_file:
    ensure    => $admin_token_ensure,
    content   => $jobrunner::admin_token,
    owner     => 'root',
    group     => 'root',
    mode      => '0400',
    show_diff => false,
  }

  $groups = jobrunner::size_groups(
    $jobrunner::groups,
    $jobrunner::load_factor,
    $jobrunner::processor_count.lest || { $facts['processors']['count'] },
  )

  $redis = {
    'aggregators'      => $jobrunner::redis_aggregators.lest || { $jobrunner::redis_queues },
    'queues'           => $jobrunner::redis_queues,
    'password'         => $jobrunner::redis_password.then |$password| { $password.unwrap },
    'connectTimeoutMs' => $jobrunner::redis_connect_timeout_ms,
    'commandTimeoutMs' => $jobrunner::redis_command_timeout_ms,
  }.filter |$key, $value| { $value =~ NotUndef }

  $dispatch = {
    'kind'             => $jobrunner::dispatch_kind,
    'connectTimeoutMs' => $jobrunner::dispatch_connect_timeout_ms,
    'baseUrls'         => $jobrunner::dispatch_base_urls.empty ? { true => undef, default => $jobrunner::dispatch_base_urls },
    'secretKeyFile'    => $jobrunner::mediawiki_secret_key ? { undef => undef, default => $secret_key_file },
  }.filter |$key, $value| { $value =~ NotUndef }

  $status = {
    'enabled'        => $jobrunner::status_enabled,
    'address'        => $jobrunner::status_address,
    'runnerPort'     => $jobrunner::runner_status_port,
    'chronPort'      => $jobrunner::chron_status_port,
    'adminTokenFile' => $jobrunner::admin_token ? { undef => undef, default => $admin_token_file },
    'allowedHosts'   => $jobrunner::status_allowed_hosts.empty ? { true => undef, default => $jobrunner::status_allowed_hosts },
  }.filter |$key, $value| { $value =~ NotUndef }

  $logging = {
    'level' => $jobrunner::log_level,
    'file'  => $jobrunner::log_file,
  }.filter |$key, $value| { $value =~ NotUndef }

  $statsd = $jobrunner::statsd_host ? {
    undef   => undef,
    default => {
      'host'   => $jobrunner::statsd_host,
      'port'   => $jobrunner::statsd_port,
      'prefix' => $jobrunner::statsd_prefix,
    },
  }

  # Rendered by templates/jobrunner.conf.erb; key order here is the file's key order. Unset and
  # empty sections are left out (the daemons default them).
  $config = {
    'backend'    => $jobrunner::backend,
    'groups'     => $groups,
    'limits'     => $jobrunner::limits,
    'redis'      => $redis,
    'statsd'     => $statsd,
    'dispatcher' => $jobrunner::dispatcher,
    'dispatch'   => $dispatch,
    'runner'     => $jobrunner::runner_settings + {
      'drainTimeoutSeconds' => $jobrunner::drain_timeout_seconds,
      'killGraceSeconds'    => $jobrunner::kill_grace_seconds,
    },
    'chron'      => $jobrunner::chron_settings,
    'status'     => $status,
    'logging'    => $logging,
    'kafka'      => $jobrunner::kafka,
    'memcached'  => $jobrunner::memcached,
  }.filter |$key, $value| { $value =~ NotUndef and !($value =~ Hash and $value.empty) }

  $content = template('jobrunner/jobrunner.conf.erb')
  # Skipped while the bundle is not deployed yet (first Puppet run before the first deploy).
  $check_config = "${jobrunner::node_binary} ${jobrunner::runner_script} --check-config --config-file=%"
  $validate_cmd = $jobrunner::validate_config ? {
    true    => "test ! -e ${jobrunner::runner_script} || ${check_config}",
    default => undef,
  }
  # The Redis password is inline: keep the content out of reports and diffs when it is set.
  $config_content = $jobrunner::redis_password ? { undef => $content, default => Sensitive($content) }

  file { $jobrunner::config_file:
    ensure       => file,
    content      => $config_content,
    owner        => 'root',
    group        => $group,
    mode         => '0440',
    validate_cmd => $validate_cmd,
    require      => [File[$secret_key_file], File[$admin_token_file]],
    notify       => $notify_services,
  }

  # What the daemons read only at startup (src/runner/reload-plan.ts), plus the secret files,
  # whose contents they do not re-read on reload. Only a hash of it is written (root, 0400).
  $startup_settings = {
    'backend'      => $jobrunner::backend,
    'redis'        => $redis,
    'statsd'       => $statsd,
    'status'       => $status,
    'logging.file' => $jobrunner::log_file,
    'secrets'      => [$jobrunner::admin_token, $jobrunner::mediawiki_secret_key].map |$secret| {
      $secret.then |$value| { $value.unwrap }
    },
  } + {
    # backend kafka reloads nothing (src/kafka/daemon.ts), so there the whole config counts. Only
    # added when set, so hosts without them keep their fingerprint (and are not restarted).
    'kafka'     => $jobrunner::backend ? { 'kafka' => $config, default => $jobrunner::kafka },
    'memcached' => $jobrunner::memcached,
  }.filter |$key, $value| { $value =~ NotUndef }
  file { $fingerprint_file:
    ensure  => file,
    content => template('jobrunner/startup-fingerprint.erb'),
    owner   => 'root',
    group   => 'root',
    mode    => '0400',
    require => File[$jobrunner::config_file],
    notify  => $restart_services,
  }

  if $jobrunner::log_file {
    $log_dir = $jobrunner::log_file.regsubst('/[^/]+\z', '')
    if $jobrunner::manage_log_dir and !$log_dir.empty {
      file { $log_dir:
        ensure => directory,
        owner  => 'root',
        group  => 'root',
        mode   => '0755',
        before => File[$jobrunner::log_file],
      }
    }
    # Created here because the daemons (not root) cannot create files in a root-owned directory.
    file { $jobrunner::log_file:
      ensure => file,
      owner  => $user,
      group  => $group,
      mode   => '0640',
    }
    $log_rotate_count = $jobrunner::log_rotate_count
    $log_file = $jobrunner::log_file
    file { "${jobrunner::logrotate_dir}/jobrunner":
      ensure  => file,
      content => template('jobrunner/logrotate.erb'),
      owner   => 'root',
      group   => 'root',
      mode    => '0644',
    }
  } else {
    file { "${jobrunner::logrotate_dir}/jobrunner":
      ensure => absent,
    }
  }
}
