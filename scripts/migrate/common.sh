#!/usr/bin/env bash
# Shared body of the cutover wrappers in scripts/migrate/: a dry run first (what would move), then
# the real `jobqueue migrate ... --delete-source`, resuming an interrupted run automatically.
# Sourced by the wrappers; see /work/notes/migrate-readme.md (README "Cutover runbook") for the order
# in which to stop and start services around them.
#
# Environment:
#   JOBRUNNER_CONFIG           jobrunner.conf with the sections of both ends (default /etc/jobrunner/jobrunner.conf)
#   JOBQUEUE                   the jobqueue command (default: node <repo>/dist/cli/jobqueue.js)
#   JOBQUEUE_MIGRATE_STATE     directory for checkpoints and reports (default /var/lib/jobrunner/migrate)
set -euo pipefail

migrate_usage() {
  cat >&2 <<USAGE
usage: $0 [--rehearse] [--yes] [--config FILE] [jobqueue migrate options...]
  --rehearse       only the dry run: read and convert everything, write nothing
  --yes            do not ask before deleting the migrated jobs from the source
  --config FILE    jobrunner.conf (default \$JOBRUNNER_CONFIG or /etc/jobrunner/jobrunner.conf)
  other options (--wiki, --type, --rate, --to-config, ...) are passed to jobqueue migrate
USAGE
  exit 2
}

# run_cutover FROM TO NAME "$@"
run_cutover() {
  local from="$1" to="$2" name="$3"
  shift 3
  local here root config state rehearse=0 yes=0
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  root="$(cd "$here/../.." && pwd)"
  config="${JOBRUNNER_CONFIG:-/etc/jobrunner/jobrunner.conf}"
  state="${JOBQUEUE_MIGRATE_STATE:-/var/lib/jobrunner/migrate}"
  local passthrough=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --rehearse) rehearse=1; shift ;;
      --yes) yes=1; shift ;;
      --config) [ $# -ge 2 ] || migrate_usage; config="$2"; shift 2 ;;
      --config=*) config="${1#--config=}"; shift ;;
      -h|--help) migrate_usage ;;
      --dry-run|--resume|--delete-source|--checkpoint|--checkpoint=*)
        echo "$0: $1 is chosen by this wrapper" >&2; exit 2 ;;
      *) passthrough+=("$1"); shift ;;
    esac
  done
  local -a jobqueue
  if [ -n "${JOBQUEUE:-}" ]; then
    read -r -a jobqueue <<<"$JOBQUEUE"
  else
    jobqueue=(node "$root/dist/cli/jobqueue.js")
  fi
  mkdir -p "$state"
  local checkpoint="$state/$name.checkpoint"
  local stamp
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  local -a common=(migrate --from "$from" --to "$to" -c "$config" "${passthrough[@]}")

  echo "== $name: dry run (nothing is written)" >&2
  "${jobqueue[@]}" "${common[@]}" --dry-run
  if [ "$rehearse" = 1 ]; then
    echo "== $name: rehearsal only; nothing was changed" >&2
    return 0
  fi

  local -a resume=()
  if [ -f "$checkpoint" ] && ! grep -q '"t":"done"' "$checkpoint"; then
    echo "== $name: continuing the interrupted migration of $checkpoint" >&2
    resume=(--resume)
  fi
  if [ "$yes" != 1 ]; then
    if [ ! -t 0 ]; then
      echo "$0: not a terminal: pass --yes to copy and then delete the migrated jobs from $from" >&2
      return 2
    fi
    local answer
    read -r -p "Copy the jobs above to $to, verify them and DELETE them from $from? [y/N] " answer
    case "$answer" in
      y|Y|yes|YES) ;;
      *) echo "== $name: nothing was changed" >&2; return 1 ;;
    esac
  fi
  echo "== $name: copy, verify, delete the verified jobs from the source" >&2
  local status=0
  "${jobqueue[@]}" "${common[@]}" --delete-source --checkpoint "$checkpoint" "${resume[@]}" \
    --report-file "$state/$name-$stamp.json" || status=$?
  echo "== $name: report above and in $state/$name-$stamp.json (exit $status)" >&2
  echo "== $name: what is still on the source (jobs pushed after their queue was read); rerun until this finds nothing" >&2
  "${jobqueue[@]}" "${common[@]}" --dry-run >&2 || true
  return "$status"
}
