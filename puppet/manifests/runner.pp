# @summary The jobrunner daemon: its systemd unit and service.
#
# Declared by the `jobrunner` class, which passes the paths, the account and the service state;
# the remaining parameters can be set through Hiera (`jobrunner::runner::limit_nofile`, ...).
#
# On stop, systemd sends SIGTERM to the daemon only (`KillMode=mixed`): it stops dispatching, lets
# running PHP children finish for `drain_timeout_seconds`, kills the rest and exits. `TimeoutStopSec`
# leaves room for that plus `kill_grace_seconds` and a margin before systemd kills the whole group.
#
# @param config_file
#   Path of jobrunner.conf.
# @param script
#   The daemon's entry point in the bundle (`dist/cli/jobrunner.js`).
# @param install_dir
#   Bundle directory, used as the working directory.
# @param node_binary
#   Node.js interpreter.
# @param service_user
#   User the daemon and its children run as.
# @param service_group
#   Group the daemon and its children run as.
# @param ensure
#   Whether the service runs.
# @param enable
#   Whether the service starts at boot (ignored when masked).
# @param masked
#   Mask the unit (passive datacenter): nothing, not even a deploy, can start it.
# @param manage_service
#   Manage the service at all; when false only the unit file is written.
# @param unit_dir
#   Directory of the unit file.
# @param drain_timeout_seconds
#   The config's `runner.drainTimeoutSeconds`.
# @param kill_grace_seconds
#   The config's `runner.killGraceSeconds`.
# @param stop_margin_seconds
#   Extra stop time after drain and kill grace (closing Redis, flushing metrics).
# @param timeout_start_sec
#   How long systemd waits for the daemon's readiness notification.
# @param limit_nofile
#   Open file limit (children's pipes and sockets count against it).
# @param environment
#   Extra environment variables, e.g. `NODE_OPTIONS`.
# @param extra_args
#   Extra command-line arguments, e.g. `['--verbose']`.
# @param node_flags
#   Node.js/V8 flags before the script. By default they depend on `jobrunner::backend`: redis and
#   memcached keep V8's young generation at 1 MB per semi-space (RSS near the live heap, README
#   "Scale"); kafka gets 32 MB, because its runner allocates for every event it runs and each
#   young-generation collection copies every event in flight: 1 MB semi-spaces cost it about a
#   third more CPU per event, 8 MB a tenth more than 32 (README "Backend kafka").
# @param allow_setuid_children
#   Drop the hardening that relies on no_new_privs (NoNewPrivileges and the seccomp-based options)
#   for MediaWiki setups whose jobs run setuid helpers such as firejail.
class jobrunner::runner (
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
  Jobrunner::Seconds $drain_timeout_seconds = 60,
  Jobrunner::Seconds $kill_grace_seconds = 5,
  Integer[0] $stop_margin_seconds = 30,
  Integer[1] $timeout_start_sec = 90,
  Integer[1] $limit_nofile = 10000,
  Hash[Jobrunner::Envname, String] $environment = {},
  Array[String[1]] $extra_args = [],
  Boolean $allow_setuid_children = false,
  Optional[Array[Pattern[/\A--[a-z0-9-]+(=[^\s]+)?\z/]]] $node_flags = undef,
) {
  $semi_space_mb = getvar('jobrunner::backend', 'redis') ? { 'kafka' => 32, default => 1 }
  $flags = $node_flags.lest || { ["--max-semi-space-size=${semi_space_mb}"] }

  jobrunner::service_unit { 'jobrunner':
    ensure              => $ensure,
    description         => 'MediaWiki job runner (dispatches ready job queues)',
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
    timeout_stop_sec    => ceiling($drain_timeout_seconds + $kill_grace_seconds) + $stop_margin_seconds,
    limit_nofile        => $limit_nofile,
    environment         => $environment,
    extra_args          => $extra_args,
    restrict_privileges => !$allow_setuid_children,
    node_flags          => $flags,
  }
}
