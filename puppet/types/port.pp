# @summary A TCP/UDP port; 0 lets the daemon pick a free port where the config allows it.
type Jobrunner::Port = Integer[0, 65535]
