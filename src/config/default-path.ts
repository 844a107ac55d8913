// Where the daemons and the jobqueue CLI look for jobrunner.conf when -c/--config-file is not
// given: the path the Puppet module writes (puppet/manifests/init.pp, config_dir).
export const DEFAULT_CONFIG_FILE = '/etc/jobrunner/jobrunner.conf';
