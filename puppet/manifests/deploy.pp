# @summary What the scap3 deploy checks need on a target: their settings file and the sudo rules.
#
# The settings file (`deploy_checks_file`) names the live config, the Node.js binary, the user the
# checks re-run as and, on canaries, the wiki the `takes_work` check pushes null jobs to. The sudo
# rules let `deploy_user` restart jobchron and run the checks of a deployed revision as the service
# user; they are written (and checked with visudo) only where sudo is installed.
#
# @api private
class jobrunner::deploy {
  if $jobrunner::manage_deploy_checks {
    $managed = {
      'JOBRUNNER_CONFIG_FILE' => $jobrunner::config_file,
      'JOBRUNNER_NODE'        => $jobrunner::node_binary,
      'JOBRUNNER_CHECK_USER'  => $jobrunner::service_user,
      'JOBRUNNER_CANARY_WIKI' => $jobrunner::deploy_canary_wiki,
    }.filter |$key, $value| { $value =~ NotUndef }
    # Used by the template: managed keys first, then the others sorted.
    $settings = $managed + $jobrunner::deploy_check_settings.keys.sort.map |$key| {
      [$key, $jobrunner::deploy_check_settings[$key]]
    }.convert_to(Hash)

    file { $jobrunner::deploy_checks_file:
      ensure  => file,
      content => template('jobrunner/deploy-checks.env.erb'),
      owner   => 'root',
      group   => 'root',
      # The checks read it as the deploy user, then again as the service user.
      mode    => '0644',
    }
  }

  if $facts['jobrunner_sudo_installed'] == true {
    $sudoers_file = "${jobrunner::sudoers_dir}/jobrunner-deploy"
    if !$jobrunner::manage_deploy_sudo {
      file { $sudoers_file:
        ensure => absent,
      }
    } else {
      $deploy_user = $jobrunner::deploy_user
      $service_user = $jobrunner::service_user
      # Of the characters paths may hold here (Jobrunner::Absolutepath), only ':' means something
      # to sudoers inside a command; it is escaped.
      $node_command = $jobrunner::node_binary.regsubst(/:/, '\\\\:', 'G')
      # scap keeps revisions in <git_deploy_dir>/<repo>-cache/revs/<sha>; install_dir links to one.
      $scripts_glob = "${jobrunner::install_dir}-cache/revs/*/scap/scripts/*".regsubst(/:/, '\\\\:', 'G')
      file { $sudoers_file:
        ensure       => file,
        content      => template('jobrunner/sudoers-deploy.erb'),
        owner        => 'root',
        group        => 'root',
        mode         => '0440',
        validate_cmd => '/usr/sbin/visudo -c -q -f %',
      }
    }
  }
}
