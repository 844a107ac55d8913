# @summary Creates the service account the daemons and their PHP children run as.
#
# The code bundle is not installed here: it is deployed to `jobrunner::install_dir` by scap3 (or a
# package), and the units do not start until `dist/cli/jobrunner.js` exists there.
#
# @api private
class jobrunner::install {
  if $jobrunner::manage_user {
    group { $jobrunner::service_group:
      ensure => present,
      system => true,
    }
    user { $jobrunner::service_user:
      ensure     => present,
      system     => true,
      gid        => $jobrunner::service_group,
      home       => '/nonexistent',
      managehome => false,
      shell      => '/usr/sbin/nologin',
      comment    => 'MediaWiki job runner',
      require    => Group[$jobrunner::service_group],
    }
  }
}
