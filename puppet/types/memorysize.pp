# @summary A PHP memory size for `limits.memory`: digits with an optional K/M/G suffix, or -1.
type Jobrunner::Memorysize = Pattern[/\A(?:[0-9]+[KMGkmg]?|-1)\z/]
