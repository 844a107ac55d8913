#!/usr/bin/env bash
# Cutover Redis → Kafka (mediawiki/job events for jobrunner's Kafka runner).
# Stop/start order: /work/notes/migrate-readme.md (README "Cutover runbook").
#   bash scripts/migrate/redis-to-kafka.sh [--rehearse] [--config FILE] [jobqueue migrate options...]
set -euo pipefail
# shellcheck source=scripts/migrate/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_cutover redis kafka redis-to-kafka "$@"
