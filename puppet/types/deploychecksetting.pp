# @summary A setting of the scap deploy checks that `deploy_check_settings` may give.
#
# The names of `scap/scripts/lib/settings.mjs`, which rejects any other key. The config file,
# Node.js binary, check user and canary wiki are written from their own class parameters.
type Jobrunner::Deploychecksetting = Enum[
  'JOBRUNNER_CANARY_JOBS',
  'JOBRUNNER_CHECK_TIMEOUT',
  'JOBRUNNER_ERROR_WINDOW',
  'JOBRUNNER_ERROR_MIN_FAILURES',
  'JOBRUNNER_ERROR_MAX_RATIO',
  'JOBRUNNER_ERROR_FACTOR',
  'JOBRUNNER_CHECK_STATE_DIR',
  'JOBRUNNER_SYSTEMCTL',
  'JOBRUNNER_SUPERVISOR',
  'JOBRUNNER_RUN_DIR',
  'JOBRUNNER_STOP_TIMEOUT',
]
