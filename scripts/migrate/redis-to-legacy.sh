#!/usr/bin/env bash
# Rollback of legacy-to-redis: Redis → JobQueueDB tables (delayed jobs stay in Redis: JobQueueDB has none).
# Stop/start order: /work/notes/migrate-readme.md (README "Cutover runbook").
#   bash scripts/migrate/redis-to-legacy.sh [--rehearse] [--config FILE] [jobqueue migrate options...]
set -euo pipefail
# shellcheck source=scripts/migrate/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_cutover redis memcached redis-to-legacy "$@"
