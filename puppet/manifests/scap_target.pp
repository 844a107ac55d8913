# @summary What a scap3 target needs to receive jobrunner deploys (like WMF's `scap::target`).
#
# The deploy user with its ssh key, the deploy directory `<deploy_root>/jobrunner` owned by it
# (scap's `git_repo_user`; the `jobrunner` and `jobrunner-cache` entries inside are scap's), and the
# sudo rules scap itself uses in promote: `sudo -n /usr/sbin/service <name> restart|reload`. The
# `jobrunner` class adds the rules the deploy checks need (jobchron, the service user).
#
# @example
#   class { 'jobrunner::scap_target':
#     public_key => 'ssh-ed25519 AAAAC3Nza... deploy-service@deploy1002',
#   }
#
# @param deploy_user
#   scap's `ssh_user` and `git_repo_user` (`scap/scap.cfg`).
# @param deploy_group
#   Primary group of `deploy_user`.
# @param deploy_user_home
#   Home directory of `deploy_user` (WMF: `/var/lib/scap`); its `.ssh/authorized_keys` is managed.
# @param public_key
#   The deploy host's public key for `deploy_user` (one `authorized_keys` line). Undef leaves no
#   key, so nothing can deploy.
# @param manage_user
#   Create `deploy_user` and `deploy_group` as system accounts.
# @param deploy_root
#   scap's `git_deploy_dir`.
# @param service_names
#   Units scap restarts (`service_name` in `scap/scap.cfg`) that get a sudo rule here.
# @param sudoers_dir
#   Directory for the sudo rules. Written only where sudo is installed (fact
#   `jobrunner_sudo_installed`), checked with visudo first.
class jobrunner::scap_target (
  Pattern[/\A[a-z_][a-z0-9_.-]*\z/] $deploy_user = 'deploy-service',
  Pattern[/\A[a-z_][a-z0-9_.-]*\z/] $deploy_group = 'deploy-service',
  Jobrunner::Absolutepath $deploy_user_home = '/var/lib/scap',
  Optional[Pattern[/\A(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+\/=]+( [^\n]*)?\z/]] $public_key = undef,
  Boolean $manage_user = true,
  Jobrunner::Absolutepath $deploy_root = '/srv/deployment',
  Array[Pattern[/\A[A-Za-z0-9_.@-]+\z/]] $service_names = ['jobrunner'],
  Jobrunner::Absolutepath $sudoers_dir = '/etc/sudoers.d',
) {
  if $manage_user {
    group { $deploy_group:
      ensure => present,
      system => true,
    }
    user { $deploy_user:
      ensure     => present,
      system     => true,
      gid        => $deploy_group,
      home       => $deploy_user_home,
      managehome => false,
      # scap runs `scap deploy-local` through ssh, which needs a login shell.
      shell      => '/bin/bash',
      comment    => 'scap3 deploys',
      require    => Group[$deploy_group],
      before     => File[$deploy_user_home],
    }
  }

  file { [$deploy_user_home, "${deploy_user_home}/.ssh"]:
    ensure => directory,
    owner  => $deploy_user,
    group  => $deploy_group,
    mode   => '0700',
  }
  $key_ensure = $public_key ? { undef => absent, default => file }
  file { "${deploy_user_home}/.ssh/authorized_keys":
    ensure  => $key_ensure,
    content => $public_key.then |$key| { "${key}\n" },
    owner   => $deploy_user,
    group   => $deploy_group,
    mode    => '0600',
  }

  file { $deploy_root:
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }
  # scap creates jobrunner/jobrunner (a link) and jobrunner/jobrunner-cache in here.
  file { "${deploy_root}/jobrunner":
    ensure => directory,
    owner  => $deploy_user,
    group  => $deploy_group,
    mode   => '0755',
  }

  if $facts['jobrunner_sudo_installed'] == true {
    $rules = $service_names.map |$name| {
      "${deploy_user} ALL=(root) NOPASSWD: /usr/sbin/service ${name} restart, /usr/sbin/service ${name} reload"
    }
    file { "${sudoers_dir}/jobrunner-scap":
      ensure       => file,
      content      => "# Managed by Puppet (jobrunner::scap_target): what scap runs in promote.\n${rules.join("\n")}\n",
      owner        => 'root',
      group        => 'root',
      mode         => '0440',
      validate_cmd => '/usr/sbin/visudo -c -q -f %',
    }
  }
}
