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
#   # a million images on SQLite, paged through while other processes
#   # checkpoint and back the database up (docs/operations.md):
#   SCENARIOS=list IMAGES=1000000 SEED_TIMEOUT=4h MAX_TIME=6h TIMEOUT=10m \
#     OTHER_LOAD=1 nice -n 19 scripts/bench-glint.sh
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
#   SEED_TIMEOUT  time bound of seeding each image count [15m]
#   TIMEOUT       timeout of each metadata request [2m]
#   MAX_TIME      time bound of the whole glintbench run [1h]
#   OTHER_LOAD    1: (sqlite only) while glintbench runs, other processes
#               share the database: a sqlite3 shell checkpoints once a
#               second (PASSIVE, FULL, RESTART, TRUNCATE in turn) and an
#               online backup starts every BACKUP_EVERY [10] s (the shell's
#               .backup, VACUUM INTO, glint db backup in turn), each
#               checked with PRAGMA quick_check and its image count, then
#               deleted. Logged in OUT/other.log, summed in OUT/run.txt;
#               the script exits 1 if any of them or any request failed.
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
SEED_TIMEOUT=${SEED_TIMEOUT:-15m}
TIMEOUT=${TIMEOUT:-2m}
MAX_TIME=${MAX_TIME:-1h}
OTHER_LOAD=${OTHER_LOAD:-}
BACKUP_EVERY=${BACKUP_EVERY:-10}

[ "$(id -u)" = 0 ] || die "run as root (Keystone is installed and run by scripts/keystone.sh)"
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
case $WORK in /|/tmp|/var/tmp|"$ROOT"*) die "WORK=$WORK: choose a dedicated directory" ;; esac
case $AUTH in noauth|keystone) ;; *) die "AUTH=$AUTH: noauth or keystone" ;; esac
case $OTHER_LOAD in ""|0) OTHER_LOAD= ;; 1)
  [ "$DB" = sqlite ] || die "OTHER_LOAD=1 needs DB=sqlite"
  command -v sqlite3 >/dev/null || die "OTHER_LOAD=1 needs the sqlite3 shell" ;;
  *) die "OTHER_LOAD=$OTHER_LOAD: 1 or empty" ;; esac

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
LOAD_PIDS=()
cleanup() {
  for p in "${LOAD_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
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
  echo "nice: $(nice); seed timeout $SEED_TIMEOUT, request timeout $TIMEOUT, max time $MAX_TIME"
  [ -z "$OTHER_LOAD" ] || echo "other processes: sqlite3 $(sqlite3 --version | cut -d' ' -f1) checkpoints every 1 s, a backup every ${BACKUP_EVERY} s"
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

# The other processes of OTHER_LOAD=1. Each line of OUT/other.log:
#   TIME KIND WHAT SECONDS ok|busy|FAIL DETAIL
# A checkpoint that answers busy (a reader or writer kept it from
# finishing, which PRAGMA wal_checkpoint reports as a result, not an
# error) is legal and counted apart.
DBFILE=$WORK/glint/data/glint.db
other_log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >>"$OUT/other.log"; }
checkpoints() {
  local modes=(PASSIVE FULL RESTART TRUNCATE) n=0 m t0 out rc st
  while :; do
    m=${modes[n++ % 4]} t0=$(date +%s.%N)
    out=$(sqlite3 -bail -cmd '.timeout 10000' "$DBFILE" "PRAGMA wal_checkpoint($m)" 2>&1) && rc=0 || rc=$?
    st=ok; [ "$rc" = 0 ] || st=FAIL; [ "$st" = FAIL ] || [ "${out%%|*}" = 0 ] || st=busy
    other_log checkpoint "$m" "$(echo "$(date +%s.%N) - $t0" | bc)" "$st" "rc=$rc ${out//$'\n'/ }"
    sleep 1
  done
}
backups() {
  local kinds=(shell-backup vacuum-into glint-db-backup) n=0 k f t0 out rc st chk
  mkdir -p "$WORK/backups"
  while :; do
    k=${kinds[n % 3]} f=$WORK/backups/$k-$n.db t0=$(date +%s)
    n=$((n + 1))
    case $k in
      shell-backup) out=$(sqlite3 -bail -cmd '.timeout 10000' "$DBFILE" ".backup '$f'" 2>&1) && rc=0 || rc=$? ;;
      vacuum-into) out=$(sqlite3 -bail -cmd '.timeout 10000' "$DBFILE" "VACUUM INTO '$f'" 2>&1) && rc=0 || rc=$? ;;
      glint-db-backup) out=$("$BIN/glint" db backup --config-file "$CONF" --data-dir "$WORK/glint/data" "$f" 2>&1) && rc=0 || rc=$? ;;
    esac
    st=FAIL chk=
    if [ "$rc" = 0 ]; then
      chk=$(sqlite3 -bail "$f" "PRAGMA quick_check" "SELECT count(*) FROM images" 2>&1) || true
      [ "${chk%%$'\n'*}" != ok ] || st=ok
    fi
    other_log backup "$k" "$(( $(date +%s) - t0 ))" "$st" "rc=$rc size=$(stat -c %s "$f" 2>/dev/null || echo -) check=${chk//$'\n'/ } ${out//$'\n'/ }"
    rm -f "$f"
    sleep $(( BACKUP_EVERY - ($(date +%s) - t0) > 0 ? BACKUP_EVERY - ($(date +%s) - t0) : 0 ))
  done
}
if [ -n "$OTHER_LOAD" ]; then
  : >"$OUT/other.log"
  checkpoints & LOAD_PIDS+=($!)
  backups & LOAD_PIDS+=($!)
  log "other processes: checkpoints and backups (PIDs ${LOAD_PIDS[*]}), logged in $OUT/other.log"
fi

"$BIN/glintbench" -target "glint-$DB-$AUTH" -url "http://127.0.0.1:$GLINT_PORT" -pid "$GLINT_PID" "${token[@]}" "${after_seed[@]}" \
  -images "$IMAGES" -seed-c "$SEED_C" -seed-timeout "$SEED_TIMEOUT" -timeout "$TIMEOUT" -max-time "$MAX_TIME" \
  -duration "$DURATION" -mixed-duration "$MIXED" \
  -upload-size "$UPLOAD_SIZE" -parallel-size "$PARALLEL_SIZE" -work-dir "$WORK" -scenarios "$SCENARIOS" \
  -json "$OUT/glint.json" >"$OUT/glint.txt" 2> >(tee "$OUT/glint.log" >&2) && bench_rc=0 || bench_rc=$?
failed=0
if [ -n "$OTHER_LOAD" ]; then
  for p in "${LOAD_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; pkill -TERM -P "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  LOAD_PIDS=()
  {
    echo "other processes (OUT/other.log), by kind and result:"
    awk '{print "  " $2, $3, $5}' "$OUT/other.log" | sort | uniq -c
  } >>"$OUT/run.txt"
  ! grep -q ' FAIL ' "$OUT/other.log" || failed=1
fi
{
  echo "glintbench exit status: $bench_rc"
  echo "failed requests: $(jq '[.results[].errors] | add // 0' "$OUT/glint.json" 2>/dev/null || echo '?')"
  echo "server: $(grep -E '^Vm(HWM|RSS)' "/proc/$GLINT_PID/status" 2>/dev/null | tr -s ' \t' ' ' | paste -sd, -)"
  echo "server log lines with error|panic|unavailable: $(grep -ciE 'error|panic|unavailable' "$WORK/glint/glint.log" || true)"
  echo "database: $(du -b "$DBFILE" 2>/dev/null | cut -f1) bytes (main file)"
  echo "loadavg at end: $(cat /proc/loadavg)"
} >>"$OUT/run.txt"
[ "$(jq '[.results[].errors] | add // 0' "$OUT/glint.json" 2>/dev/null)" = 0 ] || failed=1
cp "$WORK/glint/glint.log" "$OUT/glint-server.log" 2>/dev/null || true
cat "$OUT/run.txt" "$OUT/glint.txt"
log "results in $OUT"
[ "$bench_rc" = 0 ] && [ "$failed" = 0 ] || exit 1
