# @summary One runner group (a runner loop) before sizing.
#
# Give either `runners` (a fixed slot count) or `weight` (sized by `jobrunner::size_groups` as
# production did: ceil(weight / sum of weights × floor(load factor × CPUs))).
# The list keys keep the config file's spelling, including `low-priority`.
type Jobrunner::Group = Struct[{
  Optional[runners]        => Integer[0],
  Optional[weight]         => Integer[0],
  Optional[include]        => Array[Jobrunner::Jobtype],
  Optional[exclude]        => Array[Jobrunner::Jobtype],
  Optional['low-priority'] => Array[Jobrunner::Jobtype],
}]
