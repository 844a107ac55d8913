# @summary A duration in seconds, zero or more (integer or fraction).
type Jobrunner::Seconds = Variant[Integer[0], Float[0.0]]
