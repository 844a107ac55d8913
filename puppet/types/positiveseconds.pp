# @summary A duration in seconds greater than zero (integer or fraction).
type Jobrunner::Positiveseconds = Variant[Integer[1], Float[0.001]]
