# @summary The `memcached` section, required with `backend => 'memcached'` (the legacy era).
#
# `servers` hold the ready-queue registry; `wikis` maps every wiki ID to where its `job` table
# lives (a PDO DSN, `sqlite:<file>` or `mysql:host=...;dbname=...`). A MySQL password is read from
# `passwordFile`, never written into the config file.
type Jobrunner::Memcached = Struct[{
  servers                     => Array[Pattern[/\A\S+\z/], 1],
  wikis                       => Hash[Pattern[/\A\S+\z/], Struct[{
    dsn                    => Pattern[/\A(sqlite|mysql):.+\z/],
    Optional[tablePrefix]  => Pattern[/\A[A-Za-z0-9_]*\z/],
    Optional[user]         => String[1],
    Optional[passwordFile] => String[1],
  }], 1],
  Optional[registryKey]       => Pattern[/\A[!-~]{1,250}\z/],
  Optional[staleAfterSeconds] => Integer[0],
  Optional[connectTimeoutMs]  => Integer[1],
  Optional[commandTimeoutMs]  => Integer[1],
  Optional[php]               => String[1],
}]
