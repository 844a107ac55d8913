# @summary One runner group as written to `jobrunner.conf` (slot count resolved).
type Jobrunner::Sizedgroup = Struct[{
  runners                  => Integer[0],
  Optional[include]        => Array[Jobrunner::Jobtype],
  Optional[exclude]        => Array[Jobrunner::Jobtype],
  Optional['low-priority'] => Array[Jobrunner::Jobtype],
}]
