# @summary The `limits` section: per-job-type maps with `*` as the fallback.
#
# `attempts` and `claimTTL` are used by jobchron, `real` (seconds) and `memory` by jobrunner.
# Keys missing here get the daemons' defaults.
type Jobrunner::Limits = Struct[{
  Optional[attempts] => Hash[Jobrunner::Jobtype, Integer[1]],
  Optional[claimTTL] => Hash[Jobrunner::Jobtype, Integer[1]],
  Optional[real]     => Hash[Jobrunner::Jobtype, Integer[1]],
  Optional[memory]   => Hash[Jobrunner::Jobtype, Jobrunner::Memorysize],
}]
