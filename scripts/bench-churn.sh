#!/bin/bash
# bench-churn.sh — issue 32's churn benchmark: the cycle create → 4 KiB
# upload → list 50 → delete (glintbench -scenarios cycle, 4 clients) on a
# fresh database, then with DELETED deleted images added, then with LIVE
# live images added on top, then on a fresh database again (to bracket
# the machine's noise), and on a fresh database holding 50 live images
# (so that the list returns a full page, as with LIVE images), one after
# the other in one session. Each stage
# restarts Glint on its database; the images are seeded in bulk through
# Glint's database layer (glintbench seed → db.SeedChurn), with Glint
# stopped, and the planner's statistics refreshed (ANALYZE) after. See
# docs/performance.md.
#
# Usage:
#   scripts/bench-churn.sh                   # SQLite, the embedded default
#   DB=postgres scripts/bench-churn.sh
#
# Environment (defaults in brackets):
#   DB        sqlite or postgres or mysql [sqlite]
#   DB_URL    the [database] connection of the server databases: the
#             databases NAME_fresh, NAME_churned and NAME_full are dropped
#             and created as the stages need them
#             [postgres: postgresql://postgres@127.0.0.1:5432/glintchurn?sslmode=disable,
#              mysql: mysql://root@127.0.0.1:3306/glintchurn]
#   DELETED   deleted images [200000]; LIVE live images [200000]
#   DURATION  of each cycle run [20s]; C clients [4]
#   ROUNDS    then this many more rounds of fresh, deleted+live and
#             fresh+50 in turn (their means in the summary) [0]
#   WORK      scratch directory, recreated [/var/tmp/glint-churn]
#   OUT       results [/var/tmp/glintbench-results/churn-DB-DATE]
#   PORT      Glint's port [9497]
#
# Output: OUT/summary.txt (cycles/s and server CPU per cycle by stage, and
# the ratio to the first fresh run), OUT/STAGE.json, OUT/STAGE.txt, logs.
set -euo pipefail

die() { echo "bench-churn.sh: $*" >&2; exit 1; }
log() { echo "bench-churn.sh: $*" >&2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DB=${DB:-sqlite}
DELETED=${DELETED:-200000}
LIVE=${LIVE:-200000}
DURATION=${DURATION:-20s}
C=${C:-4}
ROUNDS=${ROUNDS:-0}
WORK=${WORK:-/var/tmp/glint-churn}
OUT=${OUT:-/var/tmp/glintbench-results/churn-$DB-$(date +%Y%m%d-%H%M%S)}
PORT=${PORT:-9497}
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
case $WORK in /|/tmp|/var/tmp|"$ROOT"*) die "WORK=$WORK: choose a dedicated directory" ;; esac

case $DB in
  sqlite) ;;
  postgres) DB_URL=${DB_URL:-postgresql://postgres@127.0.0.1:5432/glintchurn?sslmode=disable} ;;
  mysql) DB_URL=${DB_URL:-mysql://root@127.0.0.1:3306/glintchurn} ;;
  *) die "DB=$DB: sqlite, postgres or mysql" ;;
esac

# use_db KIND points the next stages at the database of KIND (churned,
# fresh or full): CONN, and DATA, Glint's data directory for it.
use_db() {
  DATA=$WORK/data-$1
  case $DB in
    sqlite) CONN="sqlite:///$DATA/glint.db" ;;
    *) local base=${DB_URL%%\?*}; CONN="${base}_$1${DB_URL#"$base"}" ;; # the database NAME_KIND
  esac
}

# fresh_db KIND empties the database of KIND and uses it.
fresh_db() {
  use_db "$1"
  rm -rf "$DATA"
  mkdir -p "$DATA"
  local name=${CONN##*/}
  name=${name%%\?*}
  case $DB in
    postgres) psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null ;;
    mysql) mysql -h 127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $name; CREATE DATABASE $name" ;;
  esac
}

GLINT_PID=
stop_glint() {
  if [ -n "$GLINT_PID" ] && kill -0 "$GLINT_PID" 2>/dev/null; then
    kill -TERM "$GLINT_PID" 2>/dev/null || true
    wait "$GLINT_PID" 2>/dev/null || true
  fi
  GLINT_PID=
}
trap stop_glint EXIT
trap 'exit 130' INT TERM

# stage NAME: Glint on the stage's database, the cycle against it.
stage() {
  local name=$1
  printf '[DEFAULT]\nbind_port = %s\n[database]\nconnection = %s\n' "$PORT" "$CONN" >"$WORK/glint.conf"
  "$BIN/glint" serve --data-dir "$DATA" --config-file "$WORK/glint.conf" >"$OUT/$name-server.log" 2>&1 &
  GLINT_PID=$!
  "$BIN/glintbench" wait -url "http://127.0.0.1:$PORT/versions" -timeout 120s >&2 || { cat "$OUT/$name-server.log" >&2; die "glint did not start"; }
  "$BIN/glintbench" -target "glint-$DB-$name" -url "http://127.0.0.1:$PORT" -pid "$GLINT_PID" \
    -scenarios cycle -cycle-c "$C" -duration "$DURATION" -n 1000000 -work-dir "$WORK/bench" \
    -json "$OUT/$name.json" >"$OUT/$name.txt" 2> >(tee "$OUT/$name.log" >&2)
  stop_glint
  local line
  line=$(grep -o '[0-9.]* cycles/s.*' "$OUT/$name.log" | tail -1)
  echo "$name: ${line:-no result}" >>"$OUT/stages.txt"
}

seed() {
  log "seeding $*"
  "$BIN/glintbench" seed -db "$CONN" "$@" | tee -a "$OUT/seed.txt" >&2
}

rm -rf "$WORK"
BIN=$WORK/bin
mkdir -p "$BIN" "$OUT"
log "results go to $OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files in the work tree"
  echo "database: $DB; cycle: $C clients, $DURATION per stage; seeded: $DELETED deleted, then $LIVE live"
  echo "loadavg: $(cat /proc/loadavg)"
} >"$OUT/run.txt"
(cd "$ROOT" && go build -o "$BIN/glint" ./cmd/glint && go build -o "$BIN/glintbench" ./bench/cmd/glintbench)

fresh_db fresh
stage fresh
fresh_db churned
seed -deleted "$DELETED" -live 0 -id-prefix 5eed0000
stage deleted
seed -deleted 0 -live "$LIVE" -id-prefix 5eed0001
stage deleted+live
fresh_db fresh
stage fresh-again
# The control: a fresh database with a page's worth of live images, so
# that the list of 50 returns 50 images as it does with 200,000 (on an
# empty database it returns the few images the clients have in flight).
fresh_db full
seed -deleted 0 -live 50 -id-prefix 5eed0002
stage fresh+50
# Rounds alternating the fresh and the churned database, for a machine
# whose other load comes and goes.
for r in $(seq 1 "$ROUNDS"); do
  use_db fresh
  stage "fresh-r$r"
  use_db churned
  stage "deleted+live-r$r"
  use_db full
  stage "fresh+50-r$r"
done

python3 - "$OUT/stages.txt" >"$OUT/summary.txt" <<'EOF'
import re, sys
rows = []
for l in open(sys.argv[1]):
    m = re.match(r'(\S+): ([0-9.]+) cycles/s(?:, server CPU ([0-9.]+) ms per cycle)?', l.strip())
    if m:
        rows.append((m.group(1), float(m.group(2)), m.group(3) or '?'))
    else:
        print(l.strip())
rate = {n: r for n, r, _ in rows}
fresh, full = rows[0][1] if rows else 0, rate.get('fresh+50')
print(f"{'stage':18s} {'cycles/s':>8s}  {'CPU ms/cycle':>12s}  {'vs fresh':>8s}  {'vs fresh+50':>11s}")
for n, r, cpu in rows:
    vs50 = f"{100*r/full:.0f}%" if full else "-"
    print(f"{n:18s} {r:8.1f}  {cpu:>12s}  {100*r/fresh:7.0f}%  {vs50:>11s}")
def mean(prefix):
    v = [(r, cpu) for n, r, cpu in rows if n.startswith(prefix + '-r')]
    if not v:
        return None
    return sum(r for r, _ in v) / len(v), sum(float(c) for _, c in v if c != '?') / len(v)
f, c, p = mean('fresh'), mean('deleted+live'), mean('fresh+50')
if f and c and p:
    print(f"means of the rounds: fresh {f[0]:.1f} cycles/s ({f[1]:.2f} ms), deleted+live {c[0]:.1f} ({c[1]:.2f} ms), "
          f"fresh+50 {p[0]:.1f} ({p[1]:.2f} ms): deleted+live at {100*c[0]/f[0]:.0f}% of fresh, {100*c[0]/p[0]:.0f}% of fresh+50")
EOF
echo "loadavg at end: $(cat /proc/loadavg)" >>"$OUT/run.txt"
cat "$OUT/run.txt" "$OUT/summary.txt"
log "results in $OUT"
