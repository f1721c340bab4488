#!/bin/bash
# reference-glance.sh — install, configure and run Debian's glance-api (Zed,
# 25.x) as a reference server for differential testing against Glint.
#
# Usage (as root, Debian 12):
#   scripts/reference-glance.sh start [DIR] [--port N] [--set SECTION.OPTION=VALUE]...
#   scripts/reference-glance.sh stop  [DIR]
#   scripts/reference-glance.sh status [DIR]
#
#   DIR   directory holding the config, sqlite database, image store, staging
#         area, log and PID file (default /tmp/reference-glance; created).
#         `start` rewrites the config but keeps an existing database and
#         images; remove DIR for a clean server.
#   --port N      port to listen on (default: $PORT, else 9393); 127.0.0.1 only.
#   --set S.O=V   extra option written into glance-api.conf, e.g.
#                 --set DEFAULT.image_size_cap=1048576 (repeatable).
#   --trusted-headers
#                 run the pipeline keystonemiddleware feeds, without
#                 keystonemiddleware: identity is taken from X-Identity-Status,
#                 X-Project-Id, X-Roles, X-User-Id request headers (what
#                 Glance's own functional tests do). For differential tests
#                 of policy only: never expose such a server.
#   --no-schema-image
#                 do not load Debian's /etc/glance/schema-image.json (extra
#                 typed image properties kernel_id, os_distro, ...): an empty
#                 schema-image.json is placed in DIR, which is searched first.
#
# The server runs the no-auth paste pipeline ([paste_deploy] flavor unset),
# the eventlet server from /usr/bin/glance-api, one worker, a sqlite database
# and the filesystem store. `start` prints the PID and the URL on stdout
# (lines "PID=..." and "URL=...") once GET /versions answers.
set -euo pipefail

die() { echo "reference-glance: $*" >&2; exit 1; }

cmd=${1:-}
[ -n "$cmd" ] || die "usage: $0 start|stop|status [DIR] [--port N] [--set S.O=V]..."
shift
DIR=/tmp/reference-glance
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then DIR=$1; shift; fi
PORT=${PORT:-9393}
SETS=()
SCHEMA_IMAGE=debian
TRUSTED=
while [ $# -gt 0 ]; do
  case $1 in
    --port) PORT=${2:?--port needs a value}; shift 2 ;;
    --port=*) PORT=${1#--port=}; shift ;;
    --set) SETS+=("${2:?--set needs SECTION.OPTION=VALUE}"); shift 2 ;;
    --set=*) SETS+=("${1#--set=}"); shift ;;
    --no-schema-image) SCHEMA_IMAGE=none; shift ;;
    --trusted-headers) TRUSTED=1; shift ;;
    *) die "unknown argument: $1" ;;
  esac
done
case $PORT in ''|*[!0-9]*) die "bad port: $PORT" ;; esac
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
PIDFILE=$DIR/glance-api.pid
CONF=$DIR/glance-api.conf
URL=http://127.0.0.1:$PORT

running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # make sure the PID still belongs to a glance-api we started
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "glance-api --config-file $CONF" || return 1
  echo "$pid"
}

do_stop() {
  local pid i
  if ! pid=$(running_pid); then
    echo "reference-glance: not running (no live PID in $PIDFILE)" >&2
    rm -f "$PIDFILE"
    return 0
  fi
  # glance-api was started with setsid: its PID is the process-group id
  # shared with its worker children, so signal the whole group.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  echo "stopped glance-api (PID $pid)"
}

install_glance() {
  if [ -x /usr/bin/glance-api ] && [ -x /usr/bin/glance-manage ] \
     && dpkg-query -W -f='${Status}' glance-api 2>/dev/null | grep -q "ok installed"; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "glance-api is not installed and installing it needs root"
  export DEBIAN_FRONTEND=noninteractive
  # The package's postinst may try to start the packaged service; that one
  # listens on 9292, not on our port, so it does not get in the way.
  # no package lists yet (fresh system) or a stale mirror: update first
  if ! apt-cache show glance-api >/dev/null 2>&1 \
     || ! apt-get install -y --no-install-recommends glance-api; then
    apt-get update
    apt-get install -y --no-install-recommends glance-api
  fi
  [ -x /usr/bin/glance-api ] || die "glance-api still missing after apt-get install"
}

write_config() {
  mkdir -p "$DIR/images" "$DIR/staging" "$DIR/tasks_store" "$DIR/work" "$DIR/lock"
  # Paste config: Debian's file, copied so that the run does not depend on
  # /etc/glance permissions; healthcheck disable-file pointed into DIR.
  # The cors filter builds its own oslo.config object, which reads
  # /etc/glance/glance-api.conf unless oslo_config_file names a file:
  # point it at this run's configuration so that [cors] applies.
  sed -e "s#^disable_by_file_path = .*#disable_by_file_path = $DIR/healthcheck_disable#" \
    -e "s#^oslo_config_program = glance-api\$#&\noslo_config_file = $CONF#" \
    /etc/glance/glance-api-paste.ini >"$DIR/glance-api-paste.ini"
  FLAVOR_LINE="# flavor unset: no-auth pipeline \"glance-api\""
  if [ -n "$TRUSTED" ]; then
    printf '\n[pipeline:glance-api-trusted]\npipeline = cors healthcheck http_proxy_to_wsgi versionnegotiation osprofiler context rootapp\n' \
      >>"$DIR/glance-api-paste.ini"
    FLAVOR_LINE="flavor = trusted"
  fi
  if [ "$SCHEMA_IMAGE" = none ]; then
    echo '{}' >"$DIR/schema-image.json"
  else
    rm -f "$DIR/schema-image.json"   # oslo.config then finds /etc/glance/schema-image.json
  fi
  cat >"$CONF" <<EOF
# written by reference-glance.sh
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $PORT
workers = 1
node_staging_uri = file://$DIR/staging
log_file = $DIR/glance-api.log
debug = false
use_stderr = false
enabled_import_methods = [glance-direct,web-download,copy-image]

[database]
connection = sqlite:///$DIR/glance.sqlite

[paste_deploy]
$FLAVOR_LINE
config_file = $DIR/glance-api-paste.ini

[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = $DIR/images

[os_glance_staging_store]
filesystem_store_datadir = $DIR/staging

[os_glance_tasks_store]
filesystem_store_datadir = $DIR/tasks_store

[task]
work_dir = $DIR/work

[oslo_concurrency]
lock_path = $DIR/lock

[oslo_policy]
enforce_new_defaults = false
EOF
  local kv section opt val
  for kv in "${SETS[@]+"${SETS[@]}"}"; do
    case $kv in *.*=*) ;; *) die "--set wants SECTION.OPTION=VALUE, got: $kv" ;; esac
    # the option is after the last dot before '=': sections may have dots
    # ([cors.NAME]), option names have none
    opt=${kv%%=*}; val=${kv#*=}; section=${opt%.*}; opt=${opt##*.}
    # oslo.config: a later assignment in the same file wins, and sections
    # may be repeated, so appending is enough.
    printf '\n[%s]\n%s = %s\n' "$section" "$opt" "$val" >>"$CONF"
  done
}

# GET /versions answers 200? (python3 is a dependency of glance; curl may
# be missing on a minimal system)
versions_answers() {
  python3 - "$URL/versions" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

do_start() {
  local pid i
  if pid=$(running_pid); then
    die "already running (PID $pid, $PIDFILE); run '$0 stop $DIR' first"
  fi
  install_glance
  if command -v ss >/dev/null && ss -ltn "sport = :$PORT" | grep -q LISTEN; then
    die "port $PORT is already in use"
  fi
  write_config
  glance-manage --config-file "$CONF" db_sync >"$DIR/db_sync.log" 2>&1 \
    || { cat "$DIR/db_sync.log" >&2; die "glance-manage db_sync failed"; }
  # setsid: own session/process group (so `stop` can signal the worker
  # children too) and no controlling terminal.
  setsid /usr/bin/glance-api --config-file "$CONF" </dev/null >"$DIR/glance-api.out" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  for i in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$DIR/glance-api.out" >&2
      tail -n 30 "$DIR/glance-api.log" >&2 2>/dev/null || true
      rm -f "$PIDFILE"
      die "glance-api exited during start-up (see $DIR/glance-api.log)"
    fi
    if versions_answers; then
      echo "PID=$pid"
      echo "URL=$URL"
      return 0
    fi
    sleep 0.2
  done
  do_stop >/dev/null
  die "glance-api did not answer GET $URL/versions within 30s (see $DIR/glance-api.log)"
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  status)
    if pid=$(running_pid); then echo "running PID=$pid URL=$(sed -n 's/^bind_port = //p' "$CONF" | head -1 | sed 's#^#http://127.0.0.1:#')"; else echo "not running"; exit 3; fi ;;
  *) die "unknown command $cmd (start|stop|status)" ;;
esac
