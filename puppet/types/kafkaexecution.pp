# @summary How a Kafka rule runs its events (`kafka.ruleDefaults`, and per rule or `lowTraffic`).
#
# Names as in the config file; an unset key takes the rule defaults, then the daemon's.
type Jobrunner::Kafkaexecution = Struct[{
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
