#!/usr/bin/env bash
# The image cache benchmark (docs/performance.md#the-image-cache): two
# glint nodes on one versitygw S3 store (the binary the S3 tests build into
# ~/.cache/glint/bin), one without a cache (the baseline), one with flavor
# caching; glintbench's limits and download scenarios on the first, its
# cache scenario (a miss, then hits) on the second. SIZE (512MiB) is the
# image size. Run it under nice on a shared machine.
set -euo pipefail
B=${BENCH_DIR:-/tmp/glint-bench-cache}
cd "$(dirname "$0")/.."
mkdir -p $B
go build -o $B/glint ./cmd/glint
go build -o $B/glintbench ./bench/cmd/glintbench
rm -rf $B/s3 $B/a $B/b $B/work; mkdir -p $B/s3 $B/a $B/b $B/work
S3PORT=19471; APORT=19481; BPORT=19482
~/.cache/glint/bin/versitygw --access benchaccess --secret benchsecret --port 127.0.0.1:$S3PORT posix $B/s3 > $B/versitygw.log 2>&1 &
S3PID=$!
echo $S3PID > $B/s3.pid
sleep 2
cat > $B/policy.yaml <<P
"cache_list": ""
P
for n in a b; do
  port=$APORT; flavor=""
  if [ $n = b ]; then port=$BPORT; flavor="caching"; fi
  cat > $B/$n.conf <<C
[DEFAULT]
bind_port = $port
cache_prefetcher_interval = 5
[glint]
data_dir = $B/$n
[paste_deploy]
flavor = $flavor
[oslo_policy]
policy_file = $B/policy.yaml
[glance_store]
stores = file,s3
default_store = s3
s3_store_host = http://127.0.0.1:$S3PORT
s3_store_access_key = benchaccess
s3_store_secret_key = benchsecret
s3_store_bucket = glance$n
s3_store_create_bucket_on_put = true
C
done
$B/glint serve --config-file $B/a.conf > $B/a.log 2>&1 & APID=$!
$B/glint serve --config-file $B/b.conf > $B/b.log 2>&1 & BPID=$!
echo "$APID $BPID" > $B/glint.pids
trap 'kill $APID $BPID $S3PID 2>/dev/null || true' EXIT
for p in $APORT $BPORT; do for i in $(seq 100); do curl -sf http://127.0.0.1:$p/healthcheck >/dev/null && break; sleep 0.2; done; done
SIZE=${SIZE:-1GiB}
# Same run, same load: loopback limit, a download without cache, the cache's miss and hits.
$B/glintbench -target glint-nocache -url http://127.0.0.1:$APORT -pid $APID -scenarios limits,download -upload-size $SIZE -work-dir $B/work -json $B/nocache.json
$B/glintbench -target glint-cache -url http://127.0.0.1:$BPORT -pid $BPID -scenarios cache -upload-size $SIZE -downloads 3 -work-dir $B/work -json $B/cache.json
$B/glintbench -target glint-nocache -url http://127.0.0.1:$APORT -pid $APID -scenarios limits,download -upload-size $SIZE -work-dir $B/work -json $B/nocache2.json
