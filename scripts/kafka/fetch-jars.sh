#!/usr/bin/env bash
# Fetches, once, the jars of a single-node Apache Kafka broker (see scripts/kafka/pom.xml) into one
# directory that is the broker's classpath. Idempotent: does nothing when the directory already holds
# the jars of the pom's content (a stamp file records the pom's hash).
#
#   bash scripts/kafka/fetch-jars.sh [DIR]
#   bash scripts/kafka/fetch-jars.sh --tools [DIR]
#
# DIR: argument, else env JOBRUNNER_KAFKA_LIBS, else /opt/jobrunner-kafka/libs. The test fixture
# (src/farm/kafka-broker.ts) reads the same variable and default.
# --tools: Kafka's command-line tools (tools-pom.xml: ConsumerPerformance for `npm run bench:kafka`)
# into DIR, else env JOBRUNNER_KAFKA_TOOLS, else /opt/jobrunner-kafka/tools.
# Needs java (17+) and mvn (Debian packages openjdk-17-jre-headless and maven) and access to Maven
# Central (or the mirror configured in ~/.m2/settings.xml).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "${1:-}" = "--tools" ]; then
  shift
  pom="$here/tools-pom.xml"
  main_jar="kafka-tools-[0-9]*.jar"
  dir="${1:-${JOBRUNNER_KAFKA_TOOLS:-/opt/jobrunner-kafka/tools}}"
else
  pom="$here/pom.xml"
  main_jar="kafka_2.13-*.jar"
  dir="${1:-${JOBRUNNER_KAFKA_LIBS:-/opt/jobrunner-kafka/libs}}"
fi

die() {
  echo "kafka-jars: $*" >&2
  exit 1
}

want="$(sha256sum "$pom" | cut -d' ' -f1)"
stamp="$dir/.pom.sha256"
# shellcheck disable=SC2086 # $main_jar is a glob
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && ls "$dir"/$main_jar >/dev/null 2>&1; then
  exit 0
fi

command -v java >/dev/null || die "java is missing (Debian package openjdk-17-jre-headless)"
command -v mvn >/dev/null || die "mvn is missing (Debian package maven)"

# Copy into a staging dir beside the target and swap it in, so a failed or interrupted fetch never
# leaves a half-filled classpath behind.
parent="$(dirname "$dir")"
mkdir -p "$parent"
staging="$(mktemp -d "$parent/.libs-staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
echo "kafka-jars: fetching the jars of $(basename "$pom") into $dir (Maven Central)" >&2
started=$SECONDS
if ! mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
  -DoutputDirectory="$staging/libs" -DincludeScope=runtime \
  -Dmaven.repo.local="${JOBRUNNER_KAFKA_M2:-$parent/m2}" >"$staging/mvn.log" 2>&1; then
  cat "$staging/mvn.log" >&2
  die "mvn dependency:copy-dependencies failed (is Maven Central reachable?)"
fi
# shellcheck disable=SC2086
ls "$staging/libs"/$main_jar >/dev/null 2>&1 || die "mvn finished but no $main_jar was copied"
echo "$want" > "$staging/libs/.pom.sha256"
rm -rf "$dir.old"
[ ! -e "$dir" ] || mv "$dir" "$dir.old"
mv "$staging/libs" "$dir"
rm -rf "$dir.old"
echo "kafka-jars: $(find "$dir" -name '*.jar' | wc -l) jars in $dir ($((SECONDS - started)) s)" >&2
