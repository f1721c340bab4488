#!/usr/bin/env bash
# A throw-away single-node Ceph for the RBD store's tests and benchmarks:
# one monitor (msgr v2 only, 127.0.0.1), one manager, one OSD on memstore
# (data in memory, no block device), cephx on, pools of size 1, all under
# one directory, each daemon started directly (no systemd) with its own pid
# file, and stopped by those pids.
#
#   scripts/ceph.sh start DIR [PORT]   # prints the env file DIR/env
#   scripts/ceph.sh stop DIR
#
# DIR/env has CEPH_CONF, CEPH_FSID, CEPH_POOL (an rbd pool, "images"),
# CEPH_USER ("glance": profile rbd on the pool) and CEPH_ADMIN_KEYRING.
# Needs Debian's ceph-mon, ceph-mgr, ceph-osd and ceph-common (16.2).
# Environment: CEPH_MEMSTORE_BYTES (the OSD's memory store, default 6 GiB,
# allocated as data is written).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop DIR [PORT]" >&2
	exit 2
fi

stop() {
	local d=$1 pidf pid
	for pidf in "$d"/run/osd.0.pid "$d"/run/mgr.x.pid "$d"/run/mon.a.pid; do
		[ -f "$pidf" ] || continue
		pid=$(cat "$pidf")
		# Only ours: the pid's command line must name this directory's conf.
		if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$d/ceph.conf"; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$pidf"
	done
}

if [ "$cmd" = stop ]; then
	stop "$(cd "$dir" && pwd)"
	exit 0
fi
if [ "$cmd" != start ]; then
	echo "unknown command $cmd" >&2
	exit 2
fi

for bin in ceph-mon ceph-mgr ceph-osd ceph ceph-authtool monmaptool rbd; do
	command -v "$bin" >/dev/null || { echo "$bin not found: apt-get install ceph-mon ceph-mgr ceph-osd ceph-common" >&2; exit 1; }
done

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
port=${3:-$((20000 + RANDOM % 20000))}
fsid=$(cat /proc/sys/kernel/random/uuid)
mkdir -p "$dir"/{run,log,mon,mgr,osd,keys}
conf=$dir/ceph.conf

cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$port]
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind msgr2 = true
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
auth allow insecure global id reclaim = false
# The suite's clients and Glint must not hang when the cluster goes away.
rados mon op timeout = 30
rados osd op timeout = 30
client mount timeout = 30
[client]
# No admin sockets for clients: command-line tools would complain about
# each other's.
admin socket =
[client.admin]
keyring = $dir/admin.keyring
[client.glance]
keyring = $dir/glance.keyring
[mon]
mon data = $dir/mon
keyring = $dir/keys/mon.keyring
mon cluster log file = $dir/log/cluster.log
# Commit map changes at once (tests create and remove pools).
paxos propose interval = 0.01
paxos min wait = 0.001
mon data avail crit = 1
mon data avail warn = 2
[mgr]
mgr data = $dir/mgr
keyring = $dir/keys/mgr.keyring
[osd]
osd data = $dir/osd
keyring = $dir/keys/osd.keyring
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-6442450944}
osd max object name len = 256
osd max object namespace len = 64
osd op num shards = 1
osd op num threads per shard = 2
EOF

auth() { ceph-authtool "$@" >/dev/null; }
auth --create-keyring "$dir/keys/mon.keyring" --gen-key -n mon. --cap mon 'allow *'
auth --create-keyring "$dir/admin.keyring" --gen-key -n client.admin \
	--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *'
auth --create-keyring "$dir/keys/mgr.keyring" --gen-key -n mgr.x \
	--cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *'
auth --create-keyring "$dir/keys/osd.keyring" --gen-key -n osd.0 \
	--cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *'
for k in admin.keyring keys/mgr.keyring keys/osd.keyring; do
	auth "$dir/keys/mon.keyring" --import-keyring "$dir/$k"
done

monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keys/mon.keyring" 2>>"$dir/log/mkfs.log"
ceph-mon -c "$conf" -i a 2>>"$dir/log/start.log"

c() { timeout 60 ceph -c "$conf" "$@"; }
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
c osd new "$osd_uuid" 0 >/dev/null
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" 2>>"$dir/log/mkfs.log"
ceph-osd -c "$conf" -i 0 2>>"$dir/log/start.log"
ceph-mgr -c "$conf" -i x 2>>"$dir/log/start.log"

for _ in $(seq 120); do
	if c osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'; then break; fi
	sleep 0.5
done
c osd stat -f json | grep -q '"num_up_osds":1' || { echo "the OSD did not come up; see $dir/log" >&2; exit 1; }

pool=images
c osd pool create "$pool" 8 8 >/dev/null 2>&1
c osd pool application enable "$pool" rbd >/dev/null 2>&1
timeout 60 rbd -c "$conf" pool init "$pool"
c auth get-or-create client.glance mon 'profile rbd' osd "profile rbd pool=$pool" mgr "profile rbd pool=$pool" -o "$dir/glance.keyring" 2>/dev/null

cat >"$dir/env" <<EOF
CEPH_CONF=$conf
CEPH_FSID=$fsid
CEPH_POOL=$pool
CEPH_USER=glance
CEPH_ADMIN_KEYRING=$dir/admin.keyring
CEPH_PORT=$port
EOF
cat "$dir/env"
