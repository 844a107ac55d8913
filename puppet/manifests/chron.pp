# @summary The jobchron daemon (Redis job queue maintenance): its systemd unit and service.
#
# Declared by the `jobrunner` class, which passes the paths, the account and the service state;
# the remaining parameters can be set through Hiera (`jobrunner::chron::limit_nofile`, ...).
# jobchron has no children and exits within 5 s of SIGTERM, so its stop timeout is short.
#
# @param config_file
#   Path of jobrunner.conf.
# @param script
#   The daemon's entry point in the bundle (`dist/cli/jobchron.js`).
# @param install_dir
#   Bundle directory, used as the working directory.
# @param node_binary
#   Node.js interpreter.
# @param service_user
#   User the daemon runs as.
# @param service_group
#   Group the daemon runs as.
# @param ensure
#   Whether the service runs.
# @param enable
#   Whether the service starts at boot (ignored when masked).
# @param masked
#   Mask the unit (passive datacenter).
# @param manage_service
#   Manage the service at all; when false only the unit file is written.
# @param unit_dir
#   Directory of the unit file.
# @param timeout_stop_sec
#   Stop timeout; the daemon needs at most 5 s.
# @param timeout_start_sec
#   How long systemd waits for the daemon's readiness notification.
# @param limit_nofile
#   Open file limit.
# @param environment
#   Extra environment variables, e.g. `NODE_OPTIONS`.
# @param extra_args
#   Extra command-line arguments, e.g. `['--verbose']`.
class jobrunner::chron (
  Jobrunner::Absolutepath $config_file,
  Jobrunner::Absolutepath $script,
  Jobrunner::Absolutepath $install_dir,
  Jobrunner::Absolutepath $node_binary,
  String[1] $service_user,
  String[1] $service_group,
  Jobrunner::Serviceensure $ensure = 'running',
  Boolean $enable = true,
  Boolean $masked = false,
  Boolean $manage_service = true,
  Jobrunner::Absolutepath $unit_dir = '/lib/systemd/system',
  Integer[6] $timeout_stop_sec = 30,
  Integer[1] $timeout_start_sec = 90,
  Integer[1] $limit_nofile = 10000,
  Hash[Jobrunner::Envname, String] $environment = {},
  Array[String[1]] $extra_args = [],
) {
  jobrunner::service_unit { 'jobchron':
    ensure              => $ensure,
    description         => 'MediaWiki job queue maintenance (jobchron)',
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
  }
}
