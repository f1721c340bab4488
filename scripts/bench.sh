#!/bin/bash
# bench.sh — issue 4's benchmark: Glint against the reference Glance
# (Debian glance-api 25.1, sqlite, file store, noauth, 2 workers) and
# against the machine's own limits, in one run. See docs/performance.md.
#
# Usage (as root; installs glance-api through scripts/reference-glance.sh
# when it is missing):
#   scripts/bench.sh
#
# Environment (defaults in brackets):
#   WORK            scratch directory, recreated [/var/tmp/glintbench]
#   OUT             results directory [/var/tmp/glintbench-results/DATE]
#   GLINT_IMAGES    image counts for Glint's list scenarios [10000,100000]
#   GLANCE_IMAGES   image counts for Glance's [10000] (seeding Glance through
#                   its API runs at ~50 creates/s: 100,000 would take 30 min)
#   DURATION        time bound of each metadata scenario [8s]
#   MIXED           duration of the mixed load [20s]
#   SEED_C_GLINT    seeding concurrency on Glint [64]; SEED_C_GLANCE [16]
#   UPLOAD_SIZE     [1GiB]; PARALLEL_SIZE [256MiB]
#   GLINT_PORT [9494], GLANCE_PORT [9393], STARTUP_PORT [9495]
#   GO_BENCH=1      also run `go test -bench . ./bench/` into the results
#
# Output: OUT/glint.txt, glance.txt, *-startup.txt (tables),
# the same as JSON, and OUT/summary.md (the comparison with ratios and the
# issue's targets), which is also printed at the end.
set -euo pipefail

die() { echo "bench.sh: $*" >&2; exit 1; }
log() { echo "bench.sh: $*" >&2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/var/tmp/glintbench}
OUT=${OUT:-/var/tmp/glintbench-results/$(date +%Y%m%d-%H%M%S)}
GLINT_IMAGES=${GLINT_IMAGES:-10000,100000}
GLANCE_IMAGES=${GLANCE_IMAGES:-10000}
DURATION=${DURATION:-8s}
MIXED=${MIXED:-20s}
SEED_C_GLINT=${SEED_C_GLINT:-64}
SEED_C_GLANCE=${SEED_C_GLANCE:-16}
UPLOAD_SIZE=${UPLOAD_SIZE:-1GiB}
PARALLEL_SIZE=${PARALLEL_SIZE:-256MiB}
GLINT_PORT=${GLINT_PORT:-9494}
GLANCE_PORT=${GLANCE_PORT:-9393}
STARTUP_PORT=${STARTUP_PORT:-9495}

[ "$(id -u)" = 0 ] || die "run as root (the reference Glance is installed and run by scripts/reference-glance.sh)"
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || die "go not found"
case $WORK in /|/tmp|/var/tmp|"$ROOT"*) die "WORK=$WORK: choose a dedicated directory" ;; esac

BIN=$WORK/bin
GLINT_DIR=$WORK/glint
GLANCE_DIR=$WORK/glance
GLINT_PID=

cleanup() {
  if [ -n "$GLINT_PID" ] && kill -0 "$GLINT_PID" 2>/dev/null; then
    kill -TERM "$GLINT_PID" 2>/dev/null || true
    wait "$GLINT_PID" 2>/dev/null || true
  fi
  "$ROOT/scripts/reference-glance.sh" stop "$GLANCE_DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$WORK"
mkdir -p "$BIN" "$GLINT_DIR" "$OUT"
log "results go to $OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files in the work tree"
  echo "nproc: $(nproc)"
  echo "loadavg: $(cat /proc/loadavg)"
  echo "glance-api: $(dpkg-query -W -f='${Version}' glance-api 2>/dev/null || echo 'not installed yet')"
  echo "go: $(go version)"
} >"$OUT/run.txt"

log "building glint and glintbench"
(cd "$ROOT" && go build -o "$BIN/glint" ./cmd/glint && go build -o "$BIN/glintbench" ./bench/cmd/glintbench)
GB=$BIN/glintbench

# 1. Glint's start-up: exec to the first 200 of GET /versions (the first
#    start in an empty data directory, then restarts on it).
printf '[DEFAULT]\nbind_port = %s\n' "$STARTUP_PORT" >"$WORK/startup.conf"
log "glint start-up"
"$GB" -target glint -scenarios startup -work-dir "$WORK" \
  -startup-cmd "$BIN/glint serve --data-dir {dir} --config-file $WORK/startup.conf" \
  -startup-url "http://127.0.0.1:$STARTUP_PORT/versions" -startup-runs 5 \
  -json "$OUT/glint-startup.json" >"$OUT/glint-startup.txt"

# 2. Both servers, fresh.
printf '[DEFAULT]\nbind_port = %s\n' "$GLINT_PORT" >"$GLINT_DIR/glint.conf"
"$BIN/glint" serve --data-dir "$GLINT_DIR/data" --config-file "$GLINT_DIR/glint.conf" >"$GLINT_DIR/glint.log" 2>&1 &
GLINT_PID=$!
"$GB" wait -url "http://127.0.0.1:$GLINT_PORT/versions" -timeout 30s >&2 || { cat "$GLINT_DIR/glint.log" >&2; die "glint did not start"; }
log "glint PID $GLINT_PID"

GLANCE_OUT=$("$ROOT/scripts/reference-glance.sh" start "$GLANCE_DIR" --port "$GLANCE_PORT" --set DEFAULT.workers=2)
GLANCE_PID=$(sed -n 's/^PID=//p' <<<"$GLANCE_OUT")
[ -n "$GLANCE_PID" ] || die "no PID from reference-glance.sh: $GLANCE_OUT"
log "glance PID $GLANCE_PID (workers 2)"

common=(-duration "$DURATION" -mixed-duration "$MIXED" -upload-size "$UPLOAD_SIZE" -parallel-size "$PARALLEL_SIZE"
        -work-dir "$WORK" -scenarios limits,suite)

# 3. The suite against Glint, then against Glance (one at a time: 2 cores).
#    Each run measures the machine's limits (hashing, disk write with fsync
#    in WORK, which holds both stores, and a loopback sendfile copy) right
#    before its data path, so its ratios compare figures taken under the
#    same load from the rest of the machine.
log "suite against glint (images $GLINT_IMAGES)"
"$GB" -target glint -url "http://127.0.0.1:$GLINT_PORT" -pid "$GLINT_PID" -images "$GLINT_IMAGES" \
  -seed-c "$SEED_C_GLINT" "${common[@]}" -json "$OUT/glint.json" >"$OUT/glint.txt" 2> >(tee "$OUT/glint.log" >&2)
log "suite against glance (images $GLANCE_IMAGES)"
"$GB" -target glance -url "http://127.0.0.1:$GLANCE_PORT" -pid "$GLANCE_PID" -pid-tree -images "$GLANCE_IMAGES" \
  -seed-c "$SEED_C_GLANCE" "${common[@]}" -json "$OUT/glance.json" >"$OUT/glance.txt" 2> >(tee "$OUT/glance.log" >&2)
grep -c "database is locked" "$GLANCE_DIR/glance-api.log" >"$OUT/glance-database-locked.count" || true

if kill -TERM "$GLINT_PID" 2>/dev/null; then
  wait "$GLINT_PID" 2>/dev/null || true
else
  log "glint (PID $GLINT_PID) had already exited: see $GLINT_DIR/glint.log"
  echo "glint PID $GLINT_PID had exited before the end of the run (see glint.log)" >>"$OUT/run.txt"
fi
cp "$GLINT_DIR/glint.log" "$OUT/glint-server.log" 2>/dev/null || true
GLINT_PID=
"$ROOT/scripts/reference-glance.sh" stop "$GLANCE_DIR" >&2

# 4. Glance's start-up, on its configuration and its database of the run.
log "glance start-up"
"$GB" -target glance -scenarios startup -pid-tree -work-dir "$WORK" \
  -startup-cmd "/usr/bin/glance-api --config-file $GLANCE_DIR/glance-api.conf" \
  -startup-url "http://127.0.0.1:$GLANCE_PORT/versions" -startup-runs 3 \
  -json "$OUT/glance-startup.json" >"$OUT/glance-startup.txt"

if [ "${GO_BENCH:-}" = 1 ]; then
  log "go test -bench . ./bench/"
  (cd "$ROOT" && go test -run '^$' -bench . ./bench/) >"$OUT/go-bench.txt" 2>&1 || log "go test -bench failed (see $OUT/go-bench.txt)"
fi

echo "loadavg at end: $(cat /proc/loadavg)" >>"$OUT/run.txt"
"$GB" compare -glint "$OUT/glint.json,$OUT/glint-startup.json" \
  -glance "$OUT/glance.json,$OUT/glance-startup.json" -o "$OUT/summary.md"
cat "$OUT/run.txt" "$OUT/summary.md"
log "results in $OUT"
