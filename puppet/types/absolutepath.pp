# @summary An absolute file system path that is safe to write into a systemd unit and a logrotate file.
#
# Only letters, digits and `_ . / + @ : -` are allowed: no spaces, `%` or `$`, which systemd would
# expand or split.
type Jobrunner::Absolutepath = Pattern[/\A\/[A-Za-z0-9_.\/+@:-]*\z/]
