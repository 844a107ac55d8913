#!/usr/bin/env bash
# Builds, idempotently, a MediaWiki 1.39 test farm from Debian's /usr/share/mediawiki:
# N SQLite wikis (wiki1..wikiN) behind one settings file, DIR/FarmSettings.php (use it through env
# MW_CONFIG_FILE; it reads the job-queue Redis from env JOBRUNNER_FARM_REDIS).
#
#   bash scripts/mw-farm.sh DIR [--wikis N] [--extra-wiki ID]...
#
# --extra-wiki adds a wiki with that ID besides wiki1..wikiN, e.g. one whose ID needs rawurlencode in
# Redis keys ("wiki+é"), or "DB-PREFIX" for a wiki with a table prefix (maintenance scripts split
# --wiki=DB-PREFIX into MW_DB and MW_PREFIX; PREFIX matches [A-Za-z0-9_]+). IDs may not contain "/",
# whitespace or quotes, may not start with "." and no two wikis may share a DB name.
#
# Layout of DIR: FarmSettings.php, farm/ (test job class, pushJobs.php), wikis.list, wikis/<id>/
# (installer output), data/ (SQLite files), secret.key (the farm's $wgSecretKey, mode 0600),
# job-types.json (extra test job types), docroot/ (for `php -S`: MediaWiki + rpc/RunJobs.php and
# rpc/RunSingleJob.php), tmp/,
# cache/, logs/, opcache/ (for php -d opcache.file_cache=...). A second run on a complete DIR changes
# nothing; a larger --wikis adds the missing wikis.
set -euo pipefail

usage() {
  echo "usage: $0 DIR [--wikis N] [--extra-wiki ID]..." >&2
  exit 2
}

die() {
  echo "mw-farm: $*" >&2
  exit 1
}

DIR=""
WIKIS=2
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --wikis) [ $# -ge 2 ] || usage; WIKIS="$2"; shift 2 ;;
    --wikis=*) WIKIS="${1#--wikis=}"; shift ;;
    --extra-wiki) [ $# -ge 2 ] || usage; EXTRA+=("$2"); shift 2 ;;
    --extra-wiki=*) EXTRA+=("${1#--extra-wiki=}"); shift ;;
    -h|--help) usage ;;
    -*) echo "mw-farm: unknown option $1" >&2; usage ;;
    *) [ -z "$DIR" ] || usage; DIR="$1"; shift ;;
  esac
done
[ -n "$DIR" ] || usage
[[ "$WIKIS" =~ ^[1-9][0-9]*$ ]] || die "--wikis must be a positive integer, not '$WIKIS'"
for id in "${EXTRA[@]}"; do
  [[ -n "$id" && "$id" != .* && "$id" != -* && ! "$id" =~ [/[:space:]\'\"] ]] ||
    die "--extra-wiki '$id': a wiki ID may not be empty, start with '.' or '-', or contain '/', whitespace or quotes"
  [[ "$id" != *-* || "${id#*-}" =~ ^[A-Za-z0-9_]+$ ]] ||
    die "--extra-wiki '$id': the table prefix after '-' must match [A-Za-z0-9_]+"
done

MW="${MW_INSTALL_PATH:-/usr/share/mediawiki}"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/farm"
command -v php >/dev/null || die "php is missing: run 'sudo bash scripts/setup.sh'"
[ -f "$MW/maintenance/install.php" ] || die "MediaWiki is missing at $MW: run 'sudo bash scripts/setup.sh'"
modules="$(php -m)"
for module in redis pdo_sqlite; do
  grep -qix "$module" <<<"$modules" || die "PHP module $module is missing: run 'sudo bash scripts/setup.sh'"
done

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
cd "$DIR"
mkdir -p wikis data tmp cache logs opcache farm docroot/rpc

# Copies a file only when its content differs, so a rebuild of an up-to-date farm writes nothing.
sync_file() {
  cmp -s "$1" "$2" || install -m 0644 "$1" "$2"
}
sync_file "$SRC/FarmSettings.php" FarmSettings.php
sync_file "$SRC/MwlabJob.php" farm/MwlabJob.php
sync_file "$SRC/pushJobs.php" farm/pushJobs.php
sync_file "$SRC/prefixTables.php" farm/prefixTables.php
sync_file "$SRC/rpc/RunJobs.php" docroot/rpc/RunJobs.php
sync_file "$SRC/RunSingleJob.php" docroot/rpc/RunSingleJob.php # backend kafka (issue 7)
[ -f job-types.json ] || echo '{}' > job-types.json

if [ ! -s secret.key ]; then
  (umask 077 && php -r 'echo bin2hex(random_bytes(32)), "\n";' > secret.key.tmp && mv secret.key.tmp secret.key)
fi

# docroot: MediaWiki's top level through symlinks (PHP resolves them, so $IP is still $MW) plus rpc/.
for entry in "$MW"/*; do
  name="$(basename "$entry")"
  [ "$name" = LocalSettings.php ] && continue
  [ "$(readlink "docroot/$name" 2>/dev/null)" = "$entry" ] || ln -sfn "$entry" "docroot/$name"
done

install_wiki() {
  local id="$1"
  local staging="wikis/.installing-$id"
  local db="${id%%-*}"
  local prefix=""
  [[ "$id" != *-* ]] || prefix="${id#*-}"
  rm -rf "$staging" data/"$db".sqlite data/"$db"_*.sqlite
  mkdir -p "$staging"
  (umask 077 && php -r 'echo bin2hex(random_bytes(16)), "\n";' > "$staging/pass")
  # install.php refuses to run if the settings file it resolves exists: point it at nothing.
  if ! MW_CONFIG_FILE="$DIR/.no-settings-while-installing.php" php "$MW/maintenance/install.php" \
    --dbtype sqlite --dbpath "$DIR/data" --dbname "$db" --server http://127.0.0.1 --scriptpath "" \
    --confpath "$DIR/$staging" --passfile "$DIR/$staging/pass" --lang en --skins Vector \
    "$id" Admin >"$staging/install.log" 2>&1; then
    cat "$staging/install.log" >&2
    die "install.php failed for $id"
  fi
  [ -f "$staging/LocalSettings.php" ] || { cat "$staging/install.log" >&2; die "install.php wrote no LocalSettings.php for $id"; }
  # Make the data path relative to the farm (FarmSettings.php sets $mwfarmDir) and drop the per-wiki
  # secrets: the farm has one $wgSecretKey.
  sed -i \
    -e 's|^\$wgSQLiteDataDir = .*|$wgSQLiteDataDir = "$mwfarmDir/data";|' \
    -e '/^\$wgSecretKey = /d' -e '/^\$wgUpgradeKey = /d' \
    "$staging/LocalSettings.php"
  grep -q 'mwfarmDir/data' "$staging/LocalSettings.php" || die "unexpected installer output for $id (no \$wgSQLiteDataDir)"
  if [ -n "$prefix" ]; then
    # The SQLite installer ignores --dbprefix; prefix the tables afterwards.
    php "$SRC/prefixTables.php" "data/$db.sqlite" "$prefix" || die "could not prefix the tables of $id"
    sed -i -e "s|^\\\$wgDBname = .*|&\\n\\\$wgDBprefix = \"$prefix\";|" "$staging/LocalSettings.php"
    grep -q "^\\\$wgDBprefix = \"$prefix\";" "$staging/LocalSettings.php" || die "could not set \$wgDBprefix for $id"
  fi
  mv "$staging/install.log" "logs/install-$id.log"
  rm -f "$staging/pass"
  rm -rf "wikis/$id"
  mv "$staging" "wikis/$id"
  echo "mw-farm: installed $id" >&2
}

installed=0
wanted=()
for i in $(seq 1 "$WIKIS"); do wanted+=("wiki$i"); done
wanted+=("${EXTRA[@]}")
dbs="$(printf '%s\n' "${wanted[@]}" | sed 's/-.*//' | sort | uniq -d)"
[ -z "$dbs" ] || die "two wikis share the DB name '$(head -1 <<<"$dbs")'"
for id in "${wanted[@]}"; do
  if [ ! -f "wikis/$id/LocalSettings.php" ] || [ ! -f "data/${id%%-*}.sqlite" ]; then
    install_wiki "$id"
    installed=1
  fi
done

# wikis.list: the wanted wikis in order (so wiki1 stays the default), then any other installed ones;
# rewritten only when it changes.
list="$(
  printf '%s\n' "${wanted[@]}"
  find wikis -mindepth 2 -maxdepth 2 -name LocalSettings.php | cut -d/ -f2 | grep -v '^\.' | sort -V |
    grep -vxF -f <(printf '%s\n' "${wanted[@]}") || true
)"
[ "$(cat wikis.list 2>/dev/null)" = "$list" ] || printf '%s\n' "$list" > wikis.list

# Warm-up after an install: builds the l10n cache (cache/l10n_cache-en.cdb) and the opcache file cache
# once, so the first real runJobs.php of every copy of this farm starts fast. Needs no Redis (db queue).
if [ "$installed" = 1 ]; then
  MW_CONFIG_FILE="$DIR/FarmSettings.php" JOBRUNNER_FARM_QUEUE=db php -d opcache.enable_cli=1 \
    -d opcache.file_cache="$DIR/opcache" -d opcache.file_cache_only=1 \
    "$MW/maintenance/runJobs.php" --wiki="${wanted[0]}" --type=null --result=json >logs/warm-up.log 2>&1 ||
    { cat logs/warm-up.log >&2; die "warm-up runJobs.php failed"; }
fi
