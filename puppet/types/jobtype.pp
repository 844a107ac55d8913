# @summary A MediaWiki job type name, or `*` for every type.
type Jobrunner::Jobtype = String[1]
