#!/usr/bin/env bash
# Installs Wikimedia's scap (the unmodified copy in ../shared/vendor/scap) into a private virtualenv
# for the multi-host rehearsal (scripts/rehearsal/, test/rehearsal/). Idempotent: a venv whose
# `scap version` matches the vendored version is kept.
#
#   scripts/rehearsal/install-scap.sh [VENDOR_DIR] [VENV_DIR]
#
# The source is copied to a temp dir first: pip builds in place and the vendored tree stays as is.
# Debian's /usr/bin/python3 is used so that the unprivileged deploy user can run the venv.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# The vendored tree sits beside the checkout (../shared/vendor); a worktree is one level deeper.
ROOT=$(cd "$HERE/../.." && pwd)
default_vendor=$ROOT/../shared/vendor/scap
[ -d "$default_vendor" ] || default_vendor=$ROOT/../../shared/vendor/scap
VENDOR=${1:-${JOBRUNNER_SCAP_SOURCE:-$default_vendor}}
VENV=${2:-${JOBRUNNER_SCAP_VENV:-/opt/jobrunner-scap}}

die() { echo "install-scap: $*" >&2; exit 1; }
[ -f "$VENDOR/scap/version.py" ] || die "no scap source at $VENDOR (set JOBRUNNER_SCAP_SOURCE)"
want=$(sed -n "s/^__version__ = ['\"]\(.*\)['\"].*/\1/p" "$VENDOR/scap/version.py")
[ -n "$want" ] || die "cannot read the version from $VENDOR/scap/version.py"
# `scap version` refuses to run as root, so the version is read from the installed package.
installed() { "$VENV/bin/python" -c 'import scap.version; print(scap.version.__version__)' 2>/dev/null; }
if [ -x "$VENV/bin/scap" ] && [ "$(installed)" = "$want" ]; then
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "scap $want is not installed in $VENV and this is not root: run 'sudo bash scripts/setup.sh'"
echo "install-scap: installing scap $want into $VENV" >&2
stage=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-scap-src.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -a "$VENDOR/." "$stage/"
chmod -R u+w "$stage"
rm -rf "$VENV"
/usr/bin/python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "$stage" >"$stage/pip.log" 2>&1 ||
  die "pip install failed: $(tail -c 3000 "$stage/pip.log")"
chmod -R a+rX "$VENV"
[ "$(installed)" = "$want" ] || die "$VENV does not hold scap $want after pip install"
