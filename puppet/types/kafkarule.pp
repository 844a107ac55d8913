# @summary One Kafka rule (`kafka.rules.<name>`): the job types it consumes and how it runs them.
#
# Give `types` or `typePattern` (a JavaScript regular expression over the job types of the
# `<datacenter>.mediawiki.job.<type>` topics). The execution keys of
# `Jobrunner::Kafkaexecution` may be set here too and override `ruleDefaults`.
type Jobrunner::Kafkarule = Struct[{
  Optional[types]                   => Array[Jobrunner::Jobtype],
  Optional[typePattern]             => String[1],
  Optional[excludeTypes]            => Array[Jobrunner::Jobtype],
  Optional[partitioned]             => Struct[{
    map                  => Hash[String[1], Integer[0]],
    Optional['default']  => Integer[0],
    Optional[partitions] => Integer[1],
  }],
  Optional[endpoint]                => Jobrunner::Kafkaendpoint,
  Optional[concurrency]             => Integer[1],
  Optional[timeoutMs]               => Integer[1],
  Optional[retryLimit]              => Integer[0],
  Optional[retryDelayMs]            => Integer[0],
  Optional[retryFactor]             => Variant[Integer[1], Float[1.0]],
  Optional[ignoreStatus]            => Array[Integer[100, 599]],
  Optional[claimTtlSeconds]         => Integer[0],
  Optional[rootClaimTtlSeconds]     => Integer[0],
  Optional[disableDelayedExecution] => Boolean,
}]
