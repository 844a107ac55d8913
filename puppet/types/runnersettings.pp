# @summary jobrunner tunables written to the `runner` section (names as in the config file).
#
# `drainTimeoutSeconds` and `killGraceSeconds` are separate class parameters because the systemd
# unit's `TimeoutStopSec` is derived from them.
type Jobrunner::Runnersettings = Struct[{
  Optional[highPriorityMaxSeconds]        => Jobrunner::Positiveseconds,
  Optional[lowPriorityMaxSeconds]         => Jobrunner::Positiveseconds,
  Optional[highPriorityMaxTime]           => Integer[1],
  Optional[lowPriorityMaxTime]            => Integer[1],
  Optional[minRealSeconds]                => Integer[0],
  Optional[discoveryIntervalMs]           => Integer[1],
  Optional[wakeOnPush]                    => Boolean,
  Optional[idleDiscoveryIntervalMs]       => Integer[1],
  Optional[maxPerQueue]                   => Integer[1],
  Optional[maxPerWiki]                    => Integer[0],
  Optional[noneReadyBackoffSeconds]       => Jobrunner::Seconds,
  Optional[nonePossibleBackoffSeconds]    => Jobrunner::Seconds,
  Optional[wikiBackoffSeconds]            => Jobrunner::Seconds,
  Optional[failureBackoffSeconds]         => Jobrunner::Seconds,
  Optional[maxFailureBackoffSeconds]      => Jobrunner::Seconds,
  Optional[maxJobsPerDispatch]            => Integer[0],
  Optional[reconcileSeconds]              => Integer[1, 86400],
  Optional[wikiFailureQueues]             => Integer[0],
  Optional[maxFailingDispatchesPerSecond] => Variant[Integer[0], Float[0.0]],
  Optional[scheduling]                    => Struct[{
    Optional[policy]              => Enum['fair', 'legacy'],
    Optional[sliceSeconds]        => Integer[1],
    Optional[longSliceSeconds]    => Integer[1],
    Optional[expressSlots]        => Integer[0],
    Optional[expressMaxReady]     => Integer[1],
    Optional[expressSliceSeconds] => Integer[1],
    Optional[expressHoldSeconds]  => Jobrunner::Seconds,
    Optional[burstSlots]          => Integer[0],
    Optional[quietBurstSlots]     => Integer[0],
    Optional[overrunSeconds]      => Jobrunner::Seconds,
    Optional[wikiWeights]         => Hash[String[1], Variant[Integer[1, 1000], Float[0.0001, 1000.0]]],
    Optional[typeWeights]         => Hash[String[1], Variant[Integer[1, 1000], Float[0.0001, 1000.0]]],
  }],
}]
