#!/usr/bin/env bash
# Upload and download speed of a glint with the RBD store next to `rbd
# import` / `rbd export` of the same data on the same cluster, in the same
# run (a single-node Ceph from scripts/ceph.sh, memstore). Figures on a
# shared machine are noisy: compare the ratios, and run it more than once.
#
#   bench/rbd.sh [SIZE_MIB]      # default 1024
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1024}
work=$(mktemp -d /tmp/glint-rbd-bench.XXXXXX)
glint_pid=
cleanup() {
	[ -n "$glint_pid" ] && kill "$glint_pid" 2>/dev/null || true
	scripts/ceph.sh stop "$work/ceph" || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "building glint -tags rbd,pacific"
go build -tags rbd,pacific -o "$work/glint" ./cmd/glint
eval "$(scripts/ceph.sh start "$work/ceph" | sed 's/^/export /')"
head -c "${size}M" /dev/urandom >"$work/data"

mbps() { awk -v b=$((size << 20)) -v s="$1" 'BEGIN { printf "%.0f MB/s (%.1f s)", b / s / 1e6, s }'; }
timed() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }

rbd="rbd -c $CEPH_CONF --id $CEPH_USER"
t_import=$(timed $rbd import --no-progress "$work/data" "$CEPH_POOL/bench-import")
t_export=$(timed sh -c "$rbd export --no-progress $CEPH_POOL/bench-import - >/dev/null")
$rbd rm --no-progress "$CEPH_POOL/bench-import" >/dev/null

port=$((20000 + RANDOM % 20000))
cat >"$work/glance-api.conf" <<CONF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $port
[glance_store]
stores = file, rbd
default_store = rbd
rbd_store_pool = $CEPH_POOL
rbd_store_user = $CEPH_USER
rbd_store_ceph_conf = $CEPH_CONF
CONF
"$work/glint" serve --data-dir "$work/glint-data" --config-file "$work/glance-api.conf" >"$work/glint.log" 2>&1 &
glint_pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 120); do curl -fs "$url/versions" >/dev/null && break; sleep 0.5; done
id=$(curl -fs -X POST -H 'Content-Type: application/json' "$url/v2/images" \
	-d '{"name": "bench", "disk_format": "raw", "container_format": "bare"}' | sed 's/.*"id": *"\([^"]*\)".*/\1/')
t_up=$(timed curl -fsS -X PUT -H 'Content-Type: application/octet-stream' -T "$work/data" "$url/v2/images/$id/file")
t_down=$(timed sh -c "curl -fsS $url/v2/images/$id/file >/dev/null")
curl -fs -X DELETE "$url/v2/images/$id"

echo "size:                 $size MiB"
echo "rbd import:           $(mbps "$t_import")"
echo "glint upload (PUT):   $(mbps "$t_up")"
echo "rbd export:           $(mbps "$t_export")"
echo "glint download (GET): $(mbps "$t_down")"
awk -v i="$t_import" -v u="$t_up" -v e="$t_export" -v d="$t_down" \
	'BEGIN { printf "upload/import: %.0f%%   download/export: %.0f%%\n", 100 * i / u, 100 * e / d }'
