#!/usr/bin/env bash
# Cutover legacy (JobQueueDB tables + memcached registry) → Redis.
# Stop/start order: /work/notes/migrate-readme.md (README "Cutover runbook").
#   bash scripts/migrate/legacy-to-redis.sh [--rehearse] [--config FILE] [jobqueue migrate options...]
set -euo pipefail
# shellcheck source=scripts/migrate/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_cutover memcached redis legacy-to-redis "$@"
