# @summary A Redis server as written in `redis.queues` / `redis.aggregators`.
#
# `host`, `host:port`, `[v6addr]`, `[v6addr]:port`, or a bare IPv6 address (no port).
type Jobrunner::Redisaddress = Pattern[
  /\A[A-Za-z0-9_.-]+(?::[0-9]{1,5})?\z/,
  /\A\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?\z/,
  /\A[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*\z/,
]
