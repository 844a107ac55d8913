#!/usr/bin/env bash
# Builds what scap ships and commits it to the deploy repo (scap.cfg git_repo jobrunner/jobrunner):
#   dist/                 the compiled daemons and CLIs (npm run build)
#   node_modules/         production dependencies only, copied from this checkout's installed tree
#   package.json, package-lock.json, scap/, BUILD-INFO.json (source revision, Node.js version/ABI)
# Targets only `git fetch` that repo from the deploy host: nothing is downloaded or built there.
# Native modules (unix-dgram, @node-rs/crc32) are copied as built here, so run this on the targets'
# distribution and Node.js major version (check-config.mjs compares the ABI on every target).
#
#   scap/tools/build-deploy-repo.sh --deploy-repo DIR [--rev REV | --working-tree] [--prebuilt]
#                                   [--message TEXT] [--no-commit]
#
#   --deploy-repo DIR  git work tree of the deploy repo; its content is replaced by the new build
#   --rev REV          source revision to build (default HEAD), exported with `git archive`
#   --working-tree     build the checkout's files as they are (tracked and untracked, not ignored)
#   --prebuilt         with --working-tree: take the checkout's existing dist/ instead of building
#   --message TEXT     appended to the commit message
#   --no-commit        leave the new content uncommitted in DIR
#
# Needs node_modules installed from the same package-lock.json (`npm ci`); it is only read.
set -euo pipefail

die() {
  echo "build-deploy-repo: $*" >&2
  exit 1
}
usage() {
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
DEPLOY=""
REV="HEAD"
WORKING_TREE=0
PREBUILT=0
MESSAGE=""
COMMIT=1
while [ $# -gt 0 ]; do
  case "$1" in
    --deploy-repo) [ $# -ge 2 ] || usage; DEPLOY="$2"; shift 2 ;;
    --deploy-repo=*) DEPLOY="${1#*=}"; shift ;;
    --rev) [ $# -ge 2 ] || usage; REV="$2"; shift 2 ;;
    --rev=*) REV="${1#*=}"; shift ;;
    --working-tree) WORKING_TREE=1; shift ;;
    --prebuilt) PREBUILT=1; shift ;;
    --message) [ $# -ge 2 ] || usage; MESSAGE="$2"; shift 2 ;;
    --message=*) MESSAGE="${1#*=}"; shift ;;
    --no-commit) COMMIT=0; shift ;;
    -h|--help) usage ;;
    *) echo "build-deploy-repo: unknown argument: $1" >&2; usage ;;
  esac
done
[ -n "$DEPLOY" ] || die "--deploy-repo DIR is required"
[ "$PREBUILT" = 0 ] || [ "$WORKING_TREE" = 1 ] || die "--prebuilt only goes with --working-tree"
git -C "$DEPLOY" rev-parse --git-dir >/dev/null 2>&1 || die "$DEPLOY is not a git work tree (git init it, or clone the deploy repo)"
DEPLOY=$(cd "$DEPLOY" && pwd)
case "$DEPLOY/" in "$SOURCE/"*) die "the deploy repo must live outside the source checkout ($SOURCE)" ;; esac
[ -d "$SOURCE/node_modules" ] || die "$SOURCE/node_modules is missing: run npm ci first"

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-build.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/src" "$STAGE/out"

# 1. The source files.
if [ "$WORKING_TREE" = 1 ]; then
  SOURCE_REV="$(git -C "$SOURCE" rev-parse HEAD)"
  DIRTY=true
  (cd "$SOURCE" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$STAGE/src"
else
  SOURCE_REV="$(git -C "$SOURCE" rev-parse --verify "$REV^{commit}")" || die "unknown revision $REV"
  DIRTY=false
  git -C "$SOURCE" archive --format=tar "$SOURCE_REV" | tar -xf - -C "$STAGE/src"
fi

# 2. The installed dependency tree must be the one this package-lock.json describes.
cmp -s "$STAGE/src/package-lock.json" "$SOURCE/package-lock.json" ||
  die "package-lock.json of $REV differs from the one node_modules was installed from: build from a checkout at that revision"
(cd "$SOURCE" && npm ls --omit=dev --all --parseable >"$STAGE/prod-deps.txt" 2>"$STAGE/npm-ls.err") ||
  die "node_modules does not match package-lock.json (run npm ci): $(head -c 2000 "$STAGE/npm-ls.err")"

# 3. Compile (or take the existing build).
if [ "$PREBUILT" = 1 ]; then
  [ -f "$SOURCE/dist/cli/jobrunner.js" ] || die "--prebuilt: $SOURCE/dist has no build (npm run build)"
  cp -a "$SOURCE/dist" "$STAGE/src/dist"
else
  ln -s "$SOURCE/node_modules" "$STAGE/src/node_modules"
  (cd "$STAGE/src" && npm run --silent build) >"$STAGE/build.log" 2>&1 ||
    die "npm run build failed:
$(tail -c 4000 "$STAGE/build.log")"
fi

# 4. Assemble the bundle.
OUT="$STAGE/out"
cp -a "$STAGE/src/dist" "$OUT/dist"
cp -a "$STAGE/src/package.json" "$STAGE/src/package-lock.json" "$OUT/"
cp -a "$STAGE/src/scap" "$OUT/scap"
mkdir -p "$OUT/node_modules"
while IFS= read -r dep; do
  [ "$dep" = "$SOURCE" ] && continue
  rel="${dep#"$SOURCE"/}"
  case "$rel" in node_modules/*) ;; *) die "unexpected dependency path from npm ls: $dep" ;; esac
  mkdir -p "$OUT/$(dirname "$rel")"
  [ -e "$OUT/$rel" ] || cp -a "$dep" "$OUT/$rel"
done <"$STAGE/prod-deps.txt"
SOURCE_REV="$SOURCE_REV" DIRTY="$DIRTY" node -e '
  const info = {
    sourceRevision: process.env.SOURCE_REV,
    sourceDirty: process.env.DIRTY === "true",
    builtAt: new Date().toISOString(),
    nodeVersion: process.version,
    nodeModulesAbi: process.versions.modules,
    platform: process.platform,
    arch: process.arch,
  };
  process.stdout.write(JSON.stringify(info, null, 2) + "\n");
' >"$OUT/BUILD-INFO.json"

# 5. Replace the deploy repo's content and commit.
find "$DEPLOY" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
cp -a "$OUT/." "$DEPLOY/"
# --force: packages may ship .gitignore files that would drop some of their own files.
git -C "$DEPLOY" add --all --force .
if [ "$COMMIT" = 0 ]; then
  echo "build-deploy-repo: $DEPLOY updated from ${SOURCE_REV:0:12} (not committed)"
  exit 0
fi
if git -C "$DEPLOY" diff --cached --quiet 2>/dev/null && git -C "$DEPLOY" rev-parse --verify -q HEAD >/dev/null; then
  echo "build-deploy-repo: nothing changed in $DEPLOY"
  exit 0
fi
SUBJECT="Build jobrunner ${SOURCE_REV:0:12}"
[ "$DIRTY" = true ] && SUBJECT="$SUBJECT (working tree)"
BODY="Source: $SOURCE_REV
Node.js: $(node -p 'process.version + " (modules ABI " + process.versions.modules + ")"')"
[ -n "$MESSAGE" ] && BODY="$BODY

$MESSAGE"
git -C "$DEPLOY" \
  -c user.name="${GIT_AUTHOR_NAME:-$(git -C "$DEPLOY" config user.name || echo 'jobrunner build')}" \
  -c user.email="${GIT_AUTHOR_EMAIL:-$(git -C "$DEPLOY" config user.email || echo 'jobrunner-build@localhost')}" \
  commit -q -m "$SUBJECT" -m "$BODY"
echo "build-deploy-repo: committed $(git -C "$DEPLOY" rev-parse --short HEAD) to $DEPLOY (source ${SOURCE_REV:0:12})"
