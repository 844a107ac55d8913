# @summary jobchron tunables written to the `chron` section (names as in the config file).
type Jobrunner::Chronsettings = Struct[{
  Optional[intervalMs]        => Integer[1],
  Optional[perCategoryLimit]  => Integer[1, 5000],
  Optional[pruneAfterSeconds] => Integer[1],
  Optional[leaseTtlMs]        => Integer[1000],
  Optional[batchSize]         => Integer[1],
  Optional[writeReadyHash]    => Boolean,
  Optional[fullWalkSeconds]   => Integer[1, 86400],
  Optional[watchChanges]      => Boolean,
}]
