# @summary scap's target lists on the deploy host, from Puppet data (`/etc/dsh/group/<name>`).
#
# `scap/scap.cfg` names the lists (`dsh_targets: jobrunner`, `canary_dsh_targets:
# jobrunner-canary`, the passive overlay `jobrunner-passive`); scap reads a name that is not a file
# in the repo's `scap/` directory from `/etc/dsh/group`. So the lists follow Hiera (or a PuppetDB
# query in the caller) instead of files committed to the deploy repo.
#
# @example
#   class { 'jobrunner::dsh':
#     groups => {
#       'jobrunner-canary'  => ['mw1306.eqiad.wmnet'],
#       'jobrunner'         => ['mw1307.eqiad.wmnet', 'mw1308.eqiad.wmnet'],
#       'jobrunner-passive' => ['mw2259.codfw.wmnet'],
#     },
#   }
#
# @param groups
#   List name => host names (one per line in the file, in this order).
# @param dir
#   Where scap looks for lists (`/etc/dsh/group`).
class jobrunner::dsh (
  Hash[Pattern[/\A[A-Za-z0-9_.-]+\z/], Array[Pattern[/\A[A-Za-z0-9.-]+\z/]]] $groups,
  Jobrunner::Absolutepath $dir = '/etc/dsh/group',
) {
  $all_hosts = $groups.values.flatten
  if $all_hosts.unique.length != $all_hosts.length {
    fail('jobrunner::dsh: a host is listed twice (in one group or in two); scap would deploy it twice')
  }

  # /etc/dsh is dsh's own directory; only the group directory is created if missing.
  file { [$dir.regsubst('/[^/]+\z', ''), $dir]:
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }
  $groups.each |$name, $hosts| {
    file { "${dir}/${name}":
      ensure  => file,
      content => "# Managed by Puppet (jobrunner::dsh)\n${hosts.map |$h| { "${h}\n" }.join('')}",
      owner   => 'root',
      group   => 'root',
      mode    => '0644',
    }
  }
}
