#!/bin/bash
# glance-diff.sh — run the Glance-vs-Glint differential test end to end:
# fresh reference Glance (scripts/reference-glance.sh) on 127.0.0.1:9393,
# freshly built Glint on 127.0.0.1:9494, both with image_size_cap=1048576,
# then `go test -tags glance ./test/glance/`, then stop both.
#
# Usage (as root): scripts/glance-diff.sh [REPORT_FILE]
#   REPORT_FILE  where the grouped difference report is written
#                (default /tmp/glance-diff-report.txt)
# Extra arguments for go test can be given in GO_TEST_FLAGS
# (e.g. GO_TEST_FLAGS='-v -run TestGlanceVsGlint').
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPORT=${1:-/tmp/glance-diff-report.txt}
GDIR=/tmp/glance-diff-glance
LDIR=/tmp/glance-diff-glint
CAP=1048576

cleanup() {
  "$ROOT/scripts/reference-glance.sh" stop "$GDIR" >/dev/null 2>&1 || true
  if [ -f "$LDIR/glint.pid" ]; then
    kill "$(cat "$LDIR/glint.pid")" 2>/dev/null || true
    rm -f "$LDIR/glint.pid"
  fi
}
trap cleanup EXIT

"$ROOT/scripts/reference-glance.sh" stop "$GDIR" >/dev/null 2>&1 || true
rm -rf "$GDIR" "$LDIR"
mkdir -p "$LDIR"

(cd "$ROOT" && go build -o "$LDIR/glint" ./cmd/glint)
cat >"$LDIR/glint.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9494
image_size_cap = $CAP
EOF
"$LDIR/glint" serve --data-dir "$LDIR/data" --config-file "$LDIR/glint.conf" >"$LDIR/glint.log" 2>&1 &
echo $! >"$LDIR/glint.pid"

PORT=9393 "$ROOT/scripts/reference-glance.sh" start "$GDIR" --set "DEFAULT.image_size_cap=$CAP"

for _ in $(seq 1 50); do
  curl -fsS -o /dev/null http://127.0.0.1:9494/versions 2>/dev/null && break
  sleep 0.2
done

rc=0
(cd "$ROOT" && GLANCE_URL=http://127.0.0.1:9393 GLINT_URL=http://127.0.0.1:9494 \
  GLANCE_DIFF_REPORT="$REPORT" go test -tags glance -count=1 ${GO_TEST_FLAGS:-} ./test/glance/) \
  >"$LDIR/go-test.out" 2>&1 || rc=$?
head -n 1 "$REPORT" 2>/dev/null || tail -n 20 "$LDIR/go-test.out"
echo "report: $REPORT   test output: $LDIR/go-test.out"
exit $rc
