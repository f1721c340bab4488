#!/bin/bash
# bench-glint.sh — glintbench's suite against Glint alone, configured as a
# deployment runs it: its database (SQLite, PostgreSQL or MySQL/MariaDB)
# and its identity (noauth, or Keystone with the suite run as a project
# member). scripts/bench.sh is the comparison with Glance on the embedded
# default; this script measures the other configurations. See
# docs/performance.md.
#
# Usage (as root; Keystone is installed and run by scripts/keystone.sh):
#   DB=postgres scripts/bench-glint.sh
#   DB=mysql AUTH=keystone scripts/bench-glint.sh
#
# Environment (defaults in brackets):
#   DB          sqlite, postgres or mysql [sqlite]
#   DB_URL      the [database] connection; the database is dropped and
#               created first [postgres: postgresql://postgres@127.0.0.1:5432/glintbench?sslmode=disable,
#               mysql: mysql://root@127.0.0.1:3306/glintbench]
#   AUTH        noauth or keystone [noauth]; with keystone the suite runs
#               as alpha-member (role member on project alpha)
#   WORK        scratch directory, recreated [/var/tmp/glintbench-deploy]
#   OUT         results directory [/var/tmp/glintbench-results/deploy-DB-AUTH-DATE]
#   IMAGES      image counts for the list scenarios [10000]
#   SCENARIOS   [suite]; DURATION [8s]; MIXED [20s]; SEED_C [64]
#   UPLOAD_SIZE [1GiB]; PARALLEL_SIZE [256MiB]; GLINT_PORT [9496]; KEYSTONE_PORT [5055]
#
# Output: OUT/glint.txt (the table), OUT/glint.json, OUT/run.txt.
set -euo pipefail

die() { echo "bench-glint.sh: $*" >&2; exit 1; }
log() { echo "bench-glint.sh: $*" >&2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DB=${DB:-sqlite}
AUTH=${AUTH:-noauth}
WORK=${WORK:-/var/tmp/glintbench-deploy}
OUT=${OUT:-/var/tmp/glintbench-results/deploy-$DB-$AUTH-$(date +%Y%m%d-%H%M%S)}
IMAGES=${IMAGES:-10000}
SCENARIOS=${SCENARIOS:-suite}
DURATION=${DURATION:-8s}
MIXED=${MIXED:-20s}
SEED_C=${SEED_C:-64}
UPLOAD_SIZE=${UPLOAD_SIZE:-1GiB}
PARALLEL_SIZE=${PARALLEL_SIZE:-256MiB}
GLINT_PORT=${GLINT_PORT:-9496}
KEYSTONE_PORT=${KEYSTONE_PORT:-5055}

[ "$(id -u)" = 0 ] || die "run as root (Keystone is installed and run by scripts/keystone.sh)"
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
case $WORK in /|/tmp|/var/tmp|"$ROOT"*) die "WORK=$WORK: choose a dedicated directory" ;; esac
case $AUTH in noauth|keystone) ;; *) die "AUTH=$AUTH: noauth or keystone" ;; esac

after_seed=()
case $DB in
  sqlite) DB_URL=${DB_URL:-} ;;
  postgres)
    DB_URL=${DB_URL:-postgresql://postgres@127.0.0.1:5432/glintbench?sslmode=disable}
    name=${DB_URL##*/}; name=${name%%\?*}
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
    # A deployment's PostgreSQL keeps the planner's statistics current
    # (autovacuum); where it is off, as on the development machine, the
    # seeded tables are analyzed before their list scenarios instead.
    if [ "$(psql -h 127.0.0.1 -U postgres -tAc 'SHOW autovacuum')" != on ]; then
      after_seed=(-after-seed "psql -q -h 127.0.0.1 -U postgres -d $name -c ANALYZE")
    fi ;;
  mysql)
    DB_URL=${DB_URL:-mysql://root@127.0.0.1:3306/glintbench}
    name=${DB_URL##*/}; name=${name%%\?*}
    mysql -h 127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $name; CREATE DATABASE $name" ;;
  *) die "DB=$DB: sqlite, postgres or mysql" ;;
esac

BIN=$WORK/bin
GLINT_PID=
cleanup() {
  if [ -n "$GLINT_PID" ] && kill -0 "$GLINT_PID" 2>/dev/null; then
    kill -TERM "$GLINT_PID" 2>/dev/null || true
    wait "$GLINT_PID" 2>/dev/null || true
  fi
  [ "$AUTH" != keystone ] || "$ROOT/scripts/keystone.sh" stop "$WORK/keystone" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$WORK"
mkdir -p "$BIN" "$WORK/glint" "$OUT"
log "results go to $OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files in the work tree"
  echo "database: $DB ${DB_URL:-(embedded default)}"
  echo "identity: $AUTH"
  [ ${#after_seed[@]} = 0 ] || echo "after seeding: ${after_seed[1]} (autovacuum is off)"
  echo "loadavg: $(cat /proc/loadavg)"
} >"$OUT/run.txt"

log "building glint and glintbench"
(cd "$ROOT" && go build -o "$BIN/glint" ./cmd/glint && go build -o "$BIN/glintbench" ./bench/cmd/glintbench)

CONF=$WORK/glint/glint.conf
printf '[DEFAULT]\nbind_port = %s\n' "$GLINT_PORT" >"$CONF"
[ -z "$DB_URL" ] || printf '[database]\nconnection = %s\n' "$DB_URL" >>"$CONF"
token=()
if [ "$AUTH" = keystone ]; then
  ks=$("$ROOT/scripts/keystone.sh" start "$WORK/keystone" --port "$KEYSTONE_PORT" --image-url "http://127.0.0.1:$GLINT_PORT")
  KS_URL=$(sed -n 's/^URL=//p' <<<"$ks")
  # shellcheck disable=SC1090
  . "$(sed -n 's/^ACCOUNTS=//p' <<<"$ks")"
  cat >>"$CONF" <<EOF
[paste_deploy]
flavor = keystone
[keystone_authtoken]
www_authenticate_uri = $KS_URL
auth_url = $KS_URL
auth_type = password
username = glint
password = $GLINT_PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
token_cache_time = 300
EOF
  curl -sf -D "$WORK/token.headers" -o /dev/null -H 'Content-Type: application/json' "$KS_URL/v3/auth/tokens" -d @- <<EOF || die "no token from Keystone"
{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "alpha-member",
 "domain": {"id": "default"}, "password": "$ALPHA_MEMBER_PASSWORD"}}},
 "scope": {"project": {"id": "$ALPHA_PROJECT_ID"}}}}
EOF
  tr -d '\r' <"$WORK/token.headers" | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p' >"$WORK/token"
  token=(-token-file "$WORK/token")
  log "Keystone at $KS_URL; the suite runs as alpha-member"
fi

"$BIN/glint" serve --data-dir "$WORK/glint/data" --config-file "$CONF" >"$WORK/glint/glint.log" 2>&1 &
GLINT_PID=$!
"$BIN/glintbench" wait -url "http://127.0.0.1:$GLINT_PORT/versions" -timeout 60s >&2 || { cat "$WORK/glint/glint.log" >&2; die "glint did not start"; }
log "glint PID $GLINT_PID ($DB, $AUTH)"

"$BIN/glintbench" -target "glint-$DB-$AUTH" -url "http://127.0.0.1:$GLINT_PORT" -pid "$GLINT_PID" "${token[@]}" "${after_seed[@]}" \
  -images "$IMAGES" -seed-c "$SEED_C" -duration "$DURATION" -mixed-duration "$MIXED" \
  -upload-size "$UPLOAD_SIZE" -parallel-size "$PARALLEL_SIZE" -work-dir "$WORK" -scenarios "$SCENARIOS" \
  -json "$OUT/glint.json" >"$OUT/glint.txt" 2> >(tee "$OUT/glint.log" >&2)
cp "$WORK/glint/glint.log" "$OUT/glint-server.log" 2>/dev/null || true
echo "loadavg at end: $(cat /proc/loadavg)" >>"$OUT/run.txt"
cat "$OUT/run.txt" "$OUT/glint.txt"
log "results in $OUT"
