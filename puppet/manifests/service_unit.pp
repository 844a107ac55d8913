# @summary A systemd unit for one daemon, and the service that runs it.
#
# Refresh semantics: a notification from the config (see `jobrunner::config`) reloads the daemon
# (`systemctl reload`, i.e. SIGHUP). A change of the unit file, or of a setting the daemons read
# only at startup, runs `daemon-reload` and `try-restart`, so a stopped or masked unit stays
# stopped.
#
# @api private
#
# @param description
#   The unit's Description.
# @param script
#   The daemon's entry point (JavaScript file in the bundle).
# @param config_file
#   Path of jobrunner.conf.
# @param install_dir
#   Bundle directory (working directory).
# @param node_binary
#   Node.js interpreter.
# @param service_user
#   User= of the unit.
# @param service_group
#   Group= of the unit.
# @param ensure
#   Service state.
# @param enable
#   Start at boot.
# @param masked
#   Mask the unit instead of enabling or disabling it.
# @param manage_service
#   Declare the service (and the restart on unit changes) at all.
# @param unit_dir
#   Directory of the unit file.
# @param timeout_start_sec
#   TimeoutStartSec= (readiness).
# @param timeout_stop_sec
#   TimeoutStopSec=.
# @param limit_nofile
#   LimitNOFILE=.
# @param environment
#   Environment= entries.
# @param extra_args
#   Extra arguments after `--config-file`.
# @param restrict_privileges
#   Add NoNewPrivileges and the seccomp-based hardening.
# @param read_write_paths
#   `ReadWritePaths=` under `ProtectSystem=strict`.
# @param ip_address_allow
#   `IPAddressAllow=` entries; with any, everything else is denied.
# @param node_flags
#   Node.js/V8 flags before the script. The default keeps V8's young generation at 1 MB per
#   semi-space: a daemon's RSS then stays near its live heap (jobrunner at 100,000 queues: about
#   65 MB instead of 95 MB; README "Scale").
# @param remove_ipc
#   `RemoveIPC=yes`: only for a user of this service alone (it removes all of the user's IPC
#   objects at stop).
define jobrunner::service_unit (
  String[1] $description,
  Jobrunner::Absolutepath $script,
  Jobrunner::Absolutepath $config_file,
  Jobrunner::Absolutepath $install_dir,
  Jobrunner::Absolutepath $node_binary,
  String[1] $service_user,
  String[1] $service_group,
  Jobrunner::Serviceensure $ensure,
  Boolean $enable,
  Boolean $masked,
  Boolean $manage_service,
  Jobrunner::Absolutepath $unit_dir,
  Integer[1] $timeout_start_sec,
  Integer[1] $timeout_stop_sec,
  Integer[1] $limit_nofile,
  Hash[Jobrunner::Envname, String] $environment,
  Array[String[1]] $extra_args,
  Boolean $restrict_privileges,
  # From the jobrunner class when it is declared (getvar: the runner and chron classes also work alone).
  Array[Jobrunner::Absolutepath] $read_write_paths = (
    getvar('jobrunner::unit_read_write_paths', ['/srv', '/var/cache', '/var/lib', '/var/log', '/var/tmp'])
    + getvar('jobrunner::log_file').then |$file| { [$file.regsubst(/\/[^\/]*\z/, '')] }.lest || { [] }
  ).unique,
  Array[String[1]] $ip_address_allow = getvar('jobrunner::unit_ip_address_allow', []),
  Boolean $remove_ipc = getvar('jobrunner::manage_user', false),
  Array[Pattern[/\A--[a-z0-9-]+(=[^\s]+)?\z/]] $node_flags = ['--max-semi-space-size=1'],
) {
  $unit_file = "${unit_dir}/${title}.service"

  file { $unit_file:
    ensure  => file,
    content => template('jobrunner/daemon.service.erb'),
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
  }

  if $manage_service {
    $enable_state = $masked ? { true => 'mask', default => $enable }

    # Also notified by jobrunner::config when a setting read only at startup changes.
    exec { "jobrunner: restart ${title}.service":
      command     => "systemctl daemon-reload && systemctl try-restart ${title}.service",
      path        => ['/usr/bin', '/bin'],
      provider    => 'shell',
      refreshonly => true,
      # try-restart waits for the drain and for readiness.
      timeout     => $timeout_stop_sec + $timeout_start_sec,
      subscribe   => File[$unit_file],
    }

    service { $title:
      ensure    => $ensure,
      enable    => $enable_state,
      hasstatus => true,
      # A refresh (config change) is a reload: SIGHUP, running jobs keep running.
      restart   => "/bin/systemctl reload ${title}.service",
      require   => [File[$unit_file], Exec["jobrunner: restart ${title}.service"]],
    }
  }
}
