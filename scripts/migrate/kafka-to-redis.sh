#!/usr/bin/env bash
# Rollback of redis-to-kafka: pending Kafka events → Redis; moves the runner's consumer offsets past them.
# Stop/start order: /work/notes/migrate-readme.md (README "Cutover runbook").
#   bash scripts/migrate/kafka-to-redis.sh [--rehearse] [--config FILE] [jobqueue migrate options...]
set -euo pipefail
# shellcheck source=scripts/migrate/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_cutover kafka redis kafka-to-redis "$@"
