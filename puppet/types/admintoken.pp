# @summary The status servers' admin token: at least 24 printable ASCII characters, no whitespace.
#
# It must fit an `Authorization: Bearer` header; the daemons also refuse tokens with fewer than 8
# different characters (`--check-config`, Puppet's validate_cmd). Make one with `openssl rand -hex 16`.
type Jobrunner::Admintoken = Pattern[/\A[!-~]{24,}\z/]
