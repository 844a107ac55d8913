#!/usr/bin/env bash
# Idempotent machine set-up for jobrunner's demo, tests and benchmarks (Debian 12, run as root).
# Installs only what is missing: Debian packages for the real MediaWiki farm, node modules, the build.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages the real test parts need: Redis, memcached, PHP + MediaWiki 1.39, Chromium for the
# dashboard test, sudo for visudo (the Puppet module's sudo rules), MariaDB + php-mysql for the legacy
# era's JobQueueDB on its real database (the tests start private mariadbd instances; the Debian
# service stays stopped), prometheus for promtool and the alerting-rules test, openssl for the
# Kafka executor's https test (a throwaway certificate). Kept in one list so later features add to it.
APT_PACKAGES=(
  redis-server memcached
  php-cli php-redis php-sqlite3 php-mbstring php-xml php-intl php-apcu php-memcached
  mediawiki
  puppet puppet-lint puppet-strings ruby-rspec-puppet ruby-puppetlabs-spec-helper ruby-rspec-puppet-facts
  systemd logrotate
  sudo
  chromium
  mariadb-server php-mysql
  prometheus
  openssl
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages (${missing[*]}) and not root: run 'sudo bash scripts/setup.sh' once"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  # Keep package scripts from starting system services (apache2, redis, memcached, mariadb): the tests and the
  # demo start their own private servers on free loopback ports.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# node modules: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# Build: tsc is incremental enough at this size; always rebuilding keeps dist/ honest.
npm run --silent build

# >>> backend kafka (issue 7) -----------------------------------------------------------------------
# Java 17 and Maven, then the jars of the private Kafka 4 broker the Kafka tests, demo and benchmarks
# start (scripts/kafka/fetch-jars.sh: `mvn dependency:copy-dependencies` once; a no-op when present).
kafka_missing=()
command -v java >/dev/null || kafka_missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || kafka_missing+=(maven)
if [ ${#kafka_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages (${kafka_missing[*]}) and not root: run 'sudo bash scripts/setup.sh' once"
    exit 1
  fi
  log "installing Debian packages: ${kafka_missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${kafka_missing[@]}" >/dev/null
fi
bash scripts/kafka/fetch-jars.sh
# ConsumerPerformance for `npm run bench:kafka` (issue 16).
bash scripts/kafka/fetch-jars.sh --tools
# <<< backend kafka ---------------------------------------------------------------------------------

# >>> multi-host rehearsal (issue 17) ---------------------------------------------------------------
# The rehearsal farm (scripts/rehearsal/, test/rehearsal/): hosts are network namespaces reached by
# ssh, MediaWiki app servers run php-fpm behind Apache, and Wikimedia's scap (vendored, unmodified)
# deploys from a private virtualenv.
rehearsal_missing=()
for pkg in openssh-server openssh-client php8.2-fpm apache2 iproute2 python3-venv git; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || rehearsal_missing+=("$pkg")
done
if [ ${#rehearsal_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages (${rehearsal_missing[*]}) and not root: run 'sudo bash scripts/setup.sh' once"
    exit 1
  fi
  log "installing Debian packages: ${rehearsal_missing[*]}"
  policy=/usr/sbin/policy-rc.d
  rehearsal_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    rehearsal_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "${rehearsal_missing[@]}" >/dev/null
  [ "$rehearsal_policy" = 1 ] && rm -f "$policy"
fi
if [ -d "$(pwd)/../shared/vendor/scap" ] || [ -d "$(pwd)/../../shared/vendor/scap" ] || [ -n "${JOBRUNNER_SCAP_SOURCE:-}" ]; then
  bash scripts/rehearsal/install-scap.sh
else
  log "no vendored scap next to this checkout (../shared/vendor/scap): the multi-host rehearsal will fail saying so"
fi
# <<< multi-host rehearsal --------------------------------------------------------------------------
