# @summary Whether a daemon should be running.
type Jobrunner::Serviceensure = Enum['running', 'stopped']
