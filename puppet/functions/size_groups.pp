# @summary Resolves runner slot counts, sizing weighted groups the way production did.
#
# Groups that give `runners` keep it. Groups that give `weight` share the host's concurrency,
# floor(`load_factor` × `processor_count`), in proportion to their weight:
# ceil(weight / sum of all weights × concurrency). A weight of 0 gives 0 runners (a disabled loop).
# The group order is kept, because the daemon numbers its loops in file order.
#
# @param groups
#   Group name => group, each with exactly one of `runners` or `weight`.
# @param load_factor
#   Slots per CPU (production: 1.1 on jobrunners, 0.7 on videoscalers).
# @param processor_count
#   CPUs of the host, usually `$facts['processors']['count']`.
#
# @return [Hash[String[1], Jobrunner::Sizedgroup]]
#   The groups with `runners` set and `weight` removed.
#
# @example Production jobrunner weights on a 24-CPU host
#   jobrunner::size_groups({
#     'basic'  => { 'weight' => 20, 'include' => ['*'] },
#     'upload' => { 'weight' => 7, 'include' => ['AssembleUploadChunks'] },
#   }, 1.1, 24)
#   # => { 'basic' => { 'runners' => 20, 'include' => ['*'] }, 'upload' => { 'runners' => 7, ... } }
function jobrunner::size_groups(
  Hash[String[1], Jobrunner::Group, 1] $groups,
  Variant[Integer[0], Float[0.0]] $load_factor,
  Integer[1] $processor_count,
) >> Hash[String[1], Jobrunner::Sizedgroup] {
  $groups.each |String $name, Hash $group| {
    if ('runners' in $group) == ('weight' in $group) {
      fail("jobrunner: group '${name}' must have exactly one of 'runners' or 'weight'")
    }
  }
  $total_weight = $groups.reduce(0) |Integer $sum, Tuple $entry| {
    $sum + $entry[1].dig('weight').lest || { 0 }
  }
  # The small epsilon keeps products such as 0.7 × 30 (20.999… in floating point) at 21.
  $concurrency = floor($load_factor * $processor_count + 0.000001)

  Hash($groups.map |String $name, Hash $group| {
    $runners = 'runners' in $group ? {
      true    => $group['runners'],
      # Integer ceil(weight × concurrency / total): no floating-point rounding at the boundary.
      default => $total_weight ? {
        0       => 0,
        default => ($group['weight'] * $concurrency + $total_weight - 1) / $total_weight,
      },
    }
    [$name, { 'runners' => $runners } + ($group - ['runners', 'weight'])]
  })
}
