# @summary jobrunner-intake: the EventGate-compatible intake for MediaWiki's EventBus job events.
#
# Declared on its own, on hosts that take MediaWiki's job events for the Kafka backend (point
# `$wgEventServices` at `http://<intake.address>:<intake.port>/v1/events`). It reads the same
# jobrunner.conf as the daemons (the `kafka` and `intake` sections), so declare the `jobrunner`
# class on the host too, or write that file otherwise.
#
# On stop, systemd sends SIGTERM: the intake stops taking requests, lets open ones finish and their
# events reach Kafka, and exits; `timeout_stop_sec` leaves room for that.
#
# @param config_file
#   Path of jobrunner.conf.
# @param script
#   The intake's entry point in the bundle (`dist/cli/jobrunner-intake.js`).
# @param install_dir
#   Bundle directory, used as the working directory.
# @param node_binary
#   Node.js interpreter.
# @param service_user
#   User the intake runs as.
# @param service_group
#   Group the intake runs as.
# @param ensure
#   Whether the service runs.
# @param enable
#   Whether the service starts at boot (ignored when masked).
# @param masked
#   Mask the unit: nothing can start it.
# @param manage_service
#   Manage the service at all; when false only the unit file is written.
# @param unit_dir
#   Directory of the unit file.
# @param timeout_start_sec
#   How long systemd waits for the readiness notification.
# @param timeout_stop_sec
#   How long a stop may take (open requests finish, events reach Kafka).
# @param limit_nofile
#   Open file limit (client connections count against it).
# @param environment
#   Extra environment variables, e.g. `NODE_OPTIONS`.
# @param extra_args
#   Extra command-line arguments, e.g. `['--verbose']`.
# @param ip_address_allow
#   `IPAddressAllow=` entries (everything else denied): the MediaWiki hosts that POST events and the
#   Kafka brokers. Empty (the default) means no IP filter. Not inherited from the runners' list.
class jobrunner::intake (
  Jobrunner::Absolutepath $config_file = '/etc/jobrunner/jobrunner.conf',
  Jobrunner::Absolutepath $script = '/srv/deployment/jobrunner/deploy/dist/cli/jobrunner-intake.js',
  Jobrunner::Absolutepath $install_dir = '/srv/deployment/jobrunner/deploy',
  Jobrunner::Absolutepath $node_binary = '/usr/bin/node',
  String[1] $service_user = 'jobrunner',
  String[1] $service_group = 'jobrunner',
  Jobrunner::Serviceensure $ensure = 'running',
  Boolean $enable = true,
  Boolean $masked = false,
  Boolean $manage_service = true,
  Jobrunner::Absolutepath $unit_dir = '/lib/systemd/system',
  Integer[1] $timeout_start_sec = 60,
  Integer[10] $timeout_stop_sec = 30,
  Integer[1] $limit_nofile = 10000,
  Hash[Jobrunner::Envname, String] $environment = {},
  Array[String[1]] $extra_args = [],
  Array[String[1]] $ip_address_allow = [],
) {
  jobrunner::service_unit { 'jobrunner-intake':
    ensure              => $ensure,
    description         => 'MediaWiki job event intake (EventBus to Kafka)',
    script              => $script,
    config_file         => $config_file,
    install_dir         => $install_dir,
    node_binary         => $node_binary,
    service_user        => $service_user,
    service_group       => $service_group,
    enable              => $enable,
    masked              => $masked,
    manage_service      => $manage_service,
    unit_dir            => $unit_dir,
    timeout_start_sec   => $timeout_start_sec,
    timeout_stop_sec    => $timeout_stop_sec,
    limit_nofile        => $limit_nofile,
    environment         => $environment,
    extra_args          => $extra_args,
    restrict_privileges => true,
    ip_address_allow    => $ip_address_allow,
  }
}
