#!/usr/bin/env bash
# Builds, idempotently, a MediaWiki 1.39 test farm from Debian's /usr/share/mediawiki:
# N SQLite wikis (wiki1..wikiN) behind one settings file, DIR/FarmSettings.php (use it through env
# MW_CONFIG_FILE; it reads the job-queue Redis from env JOBRUNNER_FARM_REDIS).
#
#   bash scripts/mw-farm.sh DIR [--wikis N] [--extra-wiki ID]... [--db sqlite|mysql]
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
#
# --db mysql installs the wikis on running MariaDB/MySQL servers instead of SQLite, the legacy era's
# layout: several servers ("sections"), each holding several wiki databases. It reads
#   JOBRUNNER_FARM_DB_SERVERS  "s1=127.0.0.1:3306,s2=127.0.0.1:3307": section names and addresses
#   JOBRUNNER_FARM_DB_USER     an account on every server allowed to create databases
#   DIR/db.pass                its password (mode 0600; never on a command line)
# Wikis go to the sections in turn (wiki1 → s1, wiki2 → s2, wiki3 → s1, ...), listed in
# DIR/db-sections.list ("wiki section" lines); FarmSettings.php then takes each wiki's server address
# from JOBRUNNER_FARM_DB_SERVERS, so a copy of the farm can run against servers on other ports.
set -euo pipefail

usage() {
  echo "usage: $0 DIR [--wikis N] [--extra-wiki ID]... [--db sqlite|mysql]" >&2
  exit 2
}

die() {
  echo "mw-farm: $*" >&2
  exit 1
}

DIR=""
WIKIS=2
EXTRA=()
DBTYPE=sqlite
while [ $# -gt 0 ]; do
  case "$1" in
    --wikis) [ $# -ge 2 ] || usage; WIKIS="$2"; shift 2 ;;
    --wikis=*) WIKIS="${1#--wikis=}"; shift ;;
    --extra-wiki) [ $# -ge 2 ] || usage; EXTRA+=("$2"); shift 2 ;;
    --extra-wiki=*) EXTRA+=("${1#--extra-wiki=}"); shift ;;
    --db) [ $# -ge 2 ] || usage; DBTYPE="$2"; shift 2 ;;
    --db=*) DBTYPE="${1#--db=}"; shift ;;
    -h|--help) usage ;;
    -*) echo "mw-farm: unknown option $1" >&2; usage ;;
    *) [ -z "$DIR" ] || usage; DIR="$1"; shift ;;
  esac
done
[ -n "$DIR" ] || usage
[[ "$WIKIS" =~ ^[1-9][0-9]*$ ]] || die "--wikis must be a positive integer, not '$WIKIS'"
[[ "$DBTYPE" = sqlite || "$DBTYPE" = mysql ]] || die "--db must be sqlite or mysql, not '$DBTYPE'"
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
db_modules=(pdo_sqlite)
[ "$DBTYPE" = sqlite ] || db_modules=(pdo_sqlite mysqli pdo_mysql)
for module in redis "${db_modules[@]}"; do
  grep -qix "$module" <<<"$modules" || die "PHP module $module is missing: run 'sudo bash scripts/setup.sh'"
done

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
cd "$DIR"
[ ! -f db-type ] || [ "$(cat db-type)" = "$DBTYPE" ] || die "$DIR was built with --db $(cat db-type), not --db $DBTYPE"
[ -f db-type ] || echo "$DBTYPE" > db-type

# --db mysql: section name → address, and the account to install with.
declare -A SECTION_ADDR=()
SECTIONS=()
if [ "$DBTYPE" = mysql ]; then
  [ -n "${JOBRUNNER_FARM_DB_SERVERS:-}" ] || die "--db mysql needs env JOBRUNNER_FARM_DB_SERVERS (s1=host:port,...)"
  [ -n "${JOBRUNNER_FARM_DB_USER:-}" ] || die "--db mysql needs env JOBRUNNER_FARM_DB_USER"
  [ -s db.pass ] || die "--db mysql needs the database password in $DIR/db.pass"
  IFS=',' read -r -a pairs <<<"$JOBRUNNER_FARM_DB_SERVERS"
  for pair in "${pairs[@]}"; do
    [[ "$pair" =~ ^([A-Za-z0-9_]+)=([A-Za-z0-9_.:-]+)$ ]] ||
      die "JOBRUNNER_FARM_DB_SERVERS: '$pair' is not SECTION=HOST:PORT"
    SECTIONS+=("${BASH_REMATCH[1]}")
    SECTION_ADDR["${BASH_REMATCH[1]}"]="${BASH_REMATCH[2]}"
  done
fi
mkdir -p wikis data tmp cache logs opcache farm docroot/rpc

# Copies a file only when its content differs, so a rebuild of an up-to-date farm writes nothing.
sync_file() {
  cmp -s "$1" "$2" || install -m 0644 "$1" "$2"
}
sync_file "$SRC/FarmSettings.php" FarmSettings.php
sync_file "$SRC/MwlabJob.php" farm/MwlabJob.php
sync_file "$SRC/pushJobs.php" farm/pushJobs.php
sync_file "$SRC/eventBusJobEvents.php" farm/eventBusJobEvents.php # issue 16
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
  if [ "$DBTYPE" = mysql ]; then
    install_mysql_wiki "$id" "$db" "$prefix" "$staging"
    return
  fi
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

# The section of wiki number N (1-based position in the wanted list): round robin.
section_of() {
  echo "${SECTIONS[$((($1 - 1) % ${#SECTIONS[@]}))]}"
}

# --db mysql: installs wiki $1 (database $2, table prefix $3) on its section's server, from scratch.
install_mysql_wiki() {
  local id="$1" db="$2" prefix="$3" staging="$4"
  local section="${WIKI_SECTION[$id]}"
  local server="${SECTION_ADDR[$section]}"
  # A half-done earlier install leaves tables behind; start from an empty database.
  MWFARM_DB_SERVER="$server" MWFARM_DB_NAME="$db" php -r '
    [$host, $port] = explode(":", getenv("MWFARM_DB_SERVER")) + [1 => "3306"];
    $m = new mysqli($host, getenv("JOBRUNNER_FARM_DB_USER"), trim(file_get_contents("db.pass")), "", (int)$port);
    $m->query("DROP DATABASE IF EXISTS `" . str_replace("`", "``", getenv("MWFARM_DB_NAME")) . "`");
  ' || die "cannot reach the $section server $server for $id"
  if ! MW_CONFIG_FILE="$DIR/.no-settings-while-installing.php" php "$MW/maintenance/install.php" \
    --dbtype mysql --dbserver "$server" --dbname "$db" --dbprefix "$prefix" \
    --dbuser "$JOBRUNNER_FARM_DB_USER" --dbpassfile "$DIR/db.pass" \
    --server http://127.0.0.1 --scriptpath "" \
    --confpath "$DIR/$staging" --passfile "$DIR/$staging/pass" --lang en --skins Vector \
    "$id" Admin >"$staging/install.log" 2>&1; then
    cat "$staging/install.log" >&2
    die "install.php failed for $id on $section ($server)"
  fi
  [ -f "$staging/LocalSettings.php" ] || { cat "$staging/install.log" >&2; die "install.php wrote no LocalSettings.php for $id"; }
  # The server address and password come from FarmSettings.php (env and db.pass), so copies of the
  # farm follow their own servers and the password is in one file only; one $wgSecretKey per farm.
  sed -i -e '/^\$wgDBserver = /d' -e '/^\$wgDBpassword = /d' -e '/^\$wgSecretKey = /d' \
    -e '/^\$wgUpgradeKey = /d' "$staging/LocalSettings.php"
  mv "$staging/install.log" "logs/install-$id.log"
  rm -f "$staging/pass"
  rm -rf "wikis/$id"
  mv "$staging" "wikis/$id"
  echo "mw-farm: installed $id on $section ($server)" >&2
}

installed=0
wanted=()
for i in $(seq 1 "$WIKIS"); do wanted+=("wiki$i"); done
wanted+=("${EXTRA[@]}")
dbs="$(printf '%s\n' "${wanted[@]}" | sed 's/-.*//' | sort | uniq -d)"
[ -z "$dbs" ] || die "two wikis share the DB name '$(head -1 <<<"$dbs")'"
declare -A WIKI_SECTION=()
if [ "$DBTYPE" = mysql ]; then
  # Sections of wikis installed earlier stay; new wikis go round robin by their position.
  if [ -f db-sections.list ]; then
    while read -r wiki section; do WIKI_SECTION["$wiki"]="$section"; done < db-sections.list
  fi
  n=0
  for id in "${wanted[@]}"; do
    n=$((n + 1))
    [ -n "${WIKI_SECTION[$id]:-}" ] || WIKI_SECTION["$id"]="$(section_of "$n")"
    [ -n "${SECTION_ADDR[${WIKI_SECTION[$id]}]:-}" ] ||
      die "wiki $id is on section ${WIKI_SECTION[$id]}, which JOBRUNNER_FARM_DB_SERVERS does not name"
  done
  sections_list="$(for id in "${!WIKI_SECTION[@]}"; do echo "$id ${WIKI_SECTION[$id]}"; done | sort -V)"
  [ "$(cat db-sections.list 2>/dev/null)" = "$sections_list" ] || printf '%s\n' "$sections_list" > db-sections.list
fi
for id in "${wanted[@]}"; do
  if [ ! -f "wikis/$id/LocalSettings.php" ] || { [ "$DBTYPE" = sqlite ] && [ ! -f "data/${id%%-*}.sqlite" ]; }; then
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
  # MariaDB farms: run the installer's own jobs (main page, recent changes), so every copy of the farm
  # starts with empty job tables, like the SQLite farms' separate job databases.
  if [ "$DBTYPE" = mysql ]; then
    for id in "${wanted[@]}"; do
      MW_CONFIG_FILE="$DIR/FarmSettings.php" JOBRUNNER_FARM_QUEUE=db php "$MW/maintenance/runJobs.php" \
        --wiki="$id" --nothrottle >>logs/warm-up.log 2>&1 || { cat logs/warm-up.log >&2; die "runJobs.php failed for $id"; }
    done
  fi
fi
