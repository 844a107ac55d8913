# @summary The name of an environment variable set in a systemd unit.
type Jobrunner::Envname = Pattern[/\A[A-Za-z_][A-Za-z0-9_]*\z/]
