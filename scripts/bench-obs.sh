#!/bin/bash
# bench-obs.sh — the hot paths (show, list, upload, download) with
# [metrics] off and on, in one run: two Glint nodes on the embedded
# default, the same glintbench scenarios against each in turn, ROUNDS
# times (off, on, off, on, …) so that the machine's drift falls on both.
# The node with metrics on is scraped once a second while it runs, as
# a Prometheus would. See docs/performance.md.
#
# Usage: scripts/bench-obs.sh   (nice -n 10 on a shared machine)
#
# Environment (defaults in brackets):
#   WORK         scratch directory, recreated [/var/tmp/glintbench-obs]
#   OUT          results directory [/var/tmp/glintbench-results/obs-DATE]
#   ROUNDS [2]; IMAGES [2000]; DURATION [5s]; C [8]; N [20000]
#   UPLOAD_SIZE [256MiB]; UPLOADS [2]; DOWNLOADS [3]
#   PORT_OFF [9591], PORT_ON [9592]
#   SCENARIOS    glintbench's scenarios [show,list,upload,download]
#   SCRAPE       0: do not scrape the node with metrics on [1]
#   ORDER        the order of the two nodes in each round ["off on"]
#   TRACING=1    also turn [tracing] on in the "on" node (spans exported
#                to an endpoint nobody listens on: the cost of making them)
#
# Output: OUT/{off,on}-ROUND.txt and .json, OUT/run.txt.
set -euo pipefail

die() { echo "bench-obs.sh: $*" >&2; exit 1; }
log() { echo "bench-obs.sh: $*" >&2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/var/tmp/glintbench-obs}
OUT=${OUT:-/var/tmp/glintbench-results/obs-$(date +%Y%m%d-%H%M%S)}
ROUNDS=${ROUNDS:-2}
IMAGES=${IMAGES:-2000}
DURATION=${DURATION:-5s}
C=${C:-8}
N=${N:-20000}
UPLOAD_SIZE=${UPLOAD_SIZE:-256MiB}
UPLOADS=${UPLOADS:-2}
DOWNLOADS=${DOWNLOADS:-3}
PORT_OFF=${PORT_OFF:-9591}
PORT_ON=${PORT_ON:-9592}
TRACING=${TRACING:-}
ORDER=${ORDER:-off on}
SCENARIOS=${SCENARIOS:-show,list,upload,download}
SCRAPE=${SCRAPE:-1}

command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
case $WORK in /|/tmp|/var/tmp|"$ROOT"*) die "WORK=$WORK: choose a dedicated directory" ;; esac

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$WORK"
mkdir -p "$WORK/bin" "$OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "nproc: $(nproc)"
  echo "loadavg: $(cat /proc/loadavg)"
  echo "nice: $(nice); rounds $ROUNDS; images $IMAGES; duration $DURATION; c $C; upload $UPLOAD_SIZE x $UPLOADS; downloads $DOWNLOADS; tracing ${TRACING:-off}; order $ORDER; scenarios $SCENARIOS; scrape $SCRAPE"
} >"$OUT/run.txt"

log "building glint and glintbench"
(cd "$ROOT" && go build -o "$WORK/bin/glint" ./cmd/glint && go build -o "$WORK/bin/glintbench" ./bench/cmd/glintbench)

declare -A PID
for mode in off on; do
  port=PORT_${mode^^}; port=${!port}
  mkdir -p "$WORK/$mode"
  conf=$WORK/$mode/glint.conf
  printf '[DEFAULT]\nbind_port = %s\n' "$port" >"$conf"
  if [ "$mode" = on ]; then
    printf '[metrics]\nenabled = true\n' >>"$conf"
    [ -z "$TRACING" ] || printf '[tracing]\nenabled = true\notlp_endpoint = http://127.0.0.1:1/v1/traces\n' >>"$conf"
  fi
  "$WORK/bin/glint" serve --data-dir "$WORK/$mode/data" --config-file "$conf" >"$WORK/$mode/glint.log" 2>&1 &
  PID[$mode]=$!
  PIDS+=("$!")
  "$WORK/bin/glintbench" wait -url "http://127.0.0.1:$port/versions" -timeout 60s >&2 || { cat "$WORK/$mode/glint.log" >&2; die "glint ($mode) did not start"; }
done

# The scrapes of the node with metrics on.
if [ "$SCRAPE" != 0 ]; then
  ( while :; do curl -sf -o /dev/null "http://127.0.0.1:$PORT_ON/metrics" || true; sleep 1; done ) &
  PIDS+=("$!")
fi

for round in $(seq "$ROUNDS"); do
  for mode in $ORDER; do
    port=PORT_${mode^^}; port=${!port}
    log "round $round: metrics $mode"
    "$WORK/bin/glintbench" -url "http://127.0.0.1:$port" -target "metrics-$mode" \
      -scenarios "$SCENARIOS" -images "$IMAGES" -duration "$DURATION" -c "$C" -n "$N" \
      -upload-size "$UPLOAD_SIZE" -uploads "$UPLOADS" -downloads "$DOWNLOADS" -pid "${PID[$mode]}" \
      -work-dir "$WORK/data" -json "$OUT/$mode-$round.json" >"$OUT/$mode-$round.txt"
  done
done
curl -sf "http://127.0.0.1:$PORT_ON/metrics" >"$OUT/metrics.txt" || true
echo "loadavg after: $(cat /proc/loadavg)" >>"$OUT/run.txt"
log "done: $OUT"
