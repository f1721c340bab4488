#!/bin/bash
# keystone.sh — install, bootstrap and run Debian's Keystone (identity v3)
# on 127.0.0.1 for Glint's tests and for trying Glint with Keystone.
#
# Usage (as root, Debian 12):
#   scripts/keystone.sh start  [DIR] [--port N] [--image-url URL] [--token-expiration S]
#   scripts/keystone.sh stop   [DIR]
#   scripts/keystone.sh status [DIR]
#
#   DIR   directory holding keystone.conf, the sqlite database, the fernet
#         and credential keys, the uwsgi log and PID file, and accounts.env
#         (default /tmp/glint-keystone; created).
#   --port N         port to listen on (default: $PORT, else 5000).
#   --image-url URL  register URL as the public, internal and admin endpoint
#                    of the "image" service (Glint); without it, existing
#                    image endpoints are left alone.
#   --token-expiration S  [token] expiration: tokens live S seconds (default
#                    3600). Tests of expired tokens start a second Keystone
#                    with a short lifetime in a DIR and on a port of its own;
#                    [token] allow_expired_window stays Keystone's 48 hours.
#
# Keystone runs from /usr/bin/keystone-wsgi-public under uwsgi with ONE
# worker process and one thread (with several threads on sqlite, a write
# can fail with "database is locked"), fernet
# tokens valid for one hour (--token-expiration), and this content
# (created if missing):
#
#   domain   Default
#   projects admin, service, alpha, beta         (all in Default)
#   roles    admin, member, reader, service
#   users    (password)           role on project
#            admin  (admin-pass)          admin on admin, on domain Default
#                                         and on the system
#            glint  (glint-pass)          service and admin on service
#            alpha-member (alpha-member-pass)  member on alpha
#            alpha-reader (alpha-reader-pass)  reader on alpha
#            beta-member  (beta-member-pass)   member on beta
#   services identity (keystone) and image (glint), region RegionOne
#
# Glance's install guide gives its service user the admin role on the
# service project; Glint's user gets it too, plus "service" for
# service_token_roles.
#
# `start` prints PID=, URL= and ACCOUNTS= lines once Keystone answers.
# ACCOUNTS names DIR/accounts.env (shell syntax: the passwords, user ids
# and project ids above). The first start on a machine bootstraps a
# database and creates that content (about a minute); the result is kept as
# a template under ${XDG_CACHE_HOME:-$HOME/.cache}/glint, keyed by the
# Keystone version, and later starts copy it (Keystone's own start-up,
# several seconds, is what remains).
set -euo pipefail

die() { echo "keystone.sh: $*" >&2; exit 1; }

cmd=${1:-}
[ -n "$cmd" ] || die "usage: $0 start|stop|status [DIR] [--port N] [--image-url URL] [--token-expiration S]"
shift
DIR=/tmp/glint-keystone
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then DIR=$1; shift; fi
PORT=${PORT:-5000}
IMAGE_URL=
TOKEN_EXPIRATION=3600
while [ $# -gt 0 ]; do
  case $1 in
    --port) PORT=${2:?--port needs a value}; shift 2 ;;
    --port=*) PORT=${1#--port=}; shift ;;
    --image-url) IMAGE_URL=${2:?--image-url needs a value}; shift 2 ;;
    --image-url=*) IMAGE_URL=${1#--image-url=}; shift ;;
    --token-expiration) TOKEN_EXPIRATION=${2:?--token-expiration needs a value}; shift 2 ;;
    --token-expiration=*) TOKEN_EXPIRATION=${1#--token-expiration=}; shift ;;
    *) die "unknown argument: $1" ;;
  esac
done
case $PORT in ''|*[!0-9]*) die "bad port: $PORT" ;; esac
case $TOKEN_EXPIRATION in ''|*[!0-9]*|0) die "bad token expiration: $TOKEN_EXPIRATION" ;; esac
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
PIDFILE=$DIR/uwsgi.pid
CONF=$DIR/keystone.conf
URL=http://127.0.0.1:$PORT
PY=/usr/bin/python3 # the OpenStack libraries are Debian's, not whatever python3 is first on PATH

running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # make sure the PID is still a uwsgi we started for this DIR
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/uwsgi.ini" || return 1
  echo "$pid"
}

install_pkgs() {
  local need=()
  [ -x /usr/bin/keystone-wsgi-public ] || need+=(keystone)
  command -v uwsgi >/dev/null 2>&1 || need+=(uwsgi-core)
  [ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || need+=(uwsgi-plugin-python3)
  [ ${#need[@]} -eq 0 ] && return 0
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "keystone.sh: installing ${need[*]}" >&2
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null
  # Debian's keystone package starts a system-wide Keystone on :5000 via
  # its own uwsgi; ours runs per DIR, so stop that one if it came up.
  if [ -x /etc/init.d/keystone ]; then /etc/init.d/keystone stop >/dev/null 2>&1 || true; fi
}

write_conf() { # DIR [EXPIRATION]
  local d=$1 exp=${2:-3600}
  cat >"$d/keystone.conf" <<EOF
[DEFAULT]
log_file = $d/keystone.log
use_stderr = false
[database]
connection = sqlite:///$d/keystone.db
[token]
provider = fernet
expiration = $exp
[fernet_tokens]
key_repository = $d/fernet-keys
[fernet_receipts]
key_repository = $d/fernet-receipts
[credential]
key_repository = $d/credential-keys
[cache]
enabled = false
[identity]
# Test passwords: the cheapest bcrypt cost, so logins take milliseconds
# rather than a good part of a second of CPU.
password_hash_rounds = 4
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOF
}

# bootstrap makes a fresh database and keys in DIR $1.
bootstrap() {
  local d=$1 km="keystone-manage --config-file $1/keystone.conf"
  write_conf "$d"
  mkdir -p "$d/fernet-keys" "$d/fernet-receipts" "$d/credential-keys"
  $km db_sync >>"$d/bootstrap.log" 2>&1 || { cat "$d/bootstrap.log" >&2; die "db_sync failed"; }
  $km fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >>"$d/bootstrap.log" 2>&1
  $km credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >>"$d/bootstrap.log" 2>&1
  $km bootstrap --bootstrap-password admin-pass --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-public-url "$URL/v3/" --bootstrap-internal-url "$URL/v3/" \
    --bootstrap-admin-url "$URL/v3/" >>"$d/bootstrap.log" 2>&1 || { cat "$d/bootstrap.log" >&2; die "bootstrap failed"; }
  # Write-ahead logging: Keystone's reads then never make a write fail
  # with "database is locked" (its rollback journal did, now and then).
  "$PY" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL").fetchall()' "$d/keystone.db"
}

# ensure_content DIR URL MODE: through the Keystone at URL, with MODE
# "all" create whatever is missing of the projects, users, roles and
# endpoints listed at the top and write DIR/accounts.env; with MODE "image"
# only point the image endpoints at $IMAGE_URL (when set).
ensure_content() {
  KS_URL=$2 KS_MODE=$3 KS_IMAGE_URL=$IMAGE_URL KS_OUT=$1/accounts.env "$PY" - <<'EOF'
import json, os, urllib.request, urllib.error

url = os.environ["KS_URL"] + "/v3"
image_url = os.environ["KS_IMAGE_URL"]
mode = os.environ["KS_MODE"]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read()
            return r, (json.loads(data) if data else None)
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read()[:500]!r}")

if mode == "image" and not image_url:
    raise SystemExit(0)

r, _ = call("POST", "/auth/tokens?nocatalog", {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": "admin", "domain": {"id": "default"}, "password": "admin-pass"}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
tok = r.headers["X-Subject-Token"]

def find(kind, name, **extra):
    _, body = call("GET", f"/{kind}?name={name}", token=tok)
    items = body[kind]
    if items:
        return items[0]["id"]
    singular = kind[:-1]
    _, body = call("POST", f"/{kind}", {singular: {"name": name, **extra}}, token=tok)
    return body[singular]["id"]

if mode == "all":
    roles = {n: find("roles", n) for n in ("admin", "member", "reader", "service")}
    projects = {n: find("projects", n, domain_id="default") for n in ("admin", "service", "alpha", "beta")}
    users = {}
    for name, project, rs in (("glint", "service", ("service", "admin")),
                              ("alpha-member", "alpha", ("member",)),
                              ("alpha-reader", "alpha", ("reader",)),
                              ("beta-member", "beta", ("member",))):
        uid = find("users", name, domain_id="default", password=name + "-pass", default_project_id=projects[project])
        users[name] = uid
        for role in rs:
            call("PUT", f"/projects/{projects[project]}/users/{uid}/roles/{roles[role]}", token=tok)
    users["admin"] = find("users", "admin")
    # for domain-scoped tokens
    call("PUT", f"/domains/default/users/{users['admin']}/roles/{roles['admin']}", token=tok)
    with open(os.environ["KS_OUT"], "w") as f:
        for name, uid in users.items():
            key = name.upper().replace("-", "_")
            f.write(f"{key}_USER_ID={uid}\n{key}_PASSWORD={name}-pass\n")
        for name, pid in projects.items():
            f.write(f"{name.upper()}_PROJECT_ID={pid}\n")

if image_url:
    _, body = call("GET", "/endpoints", token=tok)
    _, svcs = call("GET", "/services", token=tok)
    sid = next((s["id"] for s in svcs["services"] if s["type"] == "image"), None)
    if sid is None:
        _, b = call("POST", "/services", {"service": {"type": "image", "name": "glint",
                                                      "description": "Glint Image service"}}, token=tok)
        sid = b["service"]["id"]
    have = {ep["interface"]: ep for ep in body["endpoints"] if ep["service_id"] == sid}
    for iface in ("public", "internal", "admin"):
        if iface in have:
            if have[iface]["url"] != image_url:
                call("PATCH", f"/endpoints/{have[iface]['id']}", {"endpoint": {"url": image_url}}, token=tok)
        else:
            call("POST", "/endpoints", {"endpoint": {"service_id": sid, "interface": iface,
                                                     "url": image_url, "region_id": "RegionOne"}}, token=tok)
EOF
}

# set_identity_url DIR: point the identity endpoints in DIR's database at
# $URL (a copied template was bootstrapped on another port), before
# Keystone runs on it.
set_identity_url() {
  "$PY" - "$1/keystone.db" "$URL/v3/" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with db:
    db.execute("UPDATE endpoint SET url = ? WHERE service_id IN (SELECT id FROM service WHERE type = 'identity')",
               (sys.argv[2],))
db.close()
EOF
}

# run_uwsgi DIR PORT: start Keystone on DIR's configuration and wait until
# it answers.
run_uwsgi() {
  local d=$1 port=$2 i
  cat >"$d/uwsgi.ini" <<EOF
[uwsgi]
# http11-socket keeps connections alive like a real front end; with plain
# http-socket uwsgi closes each one after a response, and a client reusing
# it gets "connection reset by peer".
plugins = python3
http11-socket = 127.0.0.1:$port
wsgi-file = /usr/bin/keystone-wsgi-public
master = true
processes = 1
lazy-apps = true
need-app = true
buffer-size = 65535
env = OS_KEYSTONE_CONFIG_FILES=$d/keystone.conf
pidfile = $d/uwsgi.pid
EOF
  rm -f "$d/uwsgi.pid"
  setsid uwsgi --ini "$d/uwsgi.ini" --daemonize2 "$d/uwsgi.log" </dev/null >/dev/null 2>&1 \
    || die "uwsgi did not start; see $d/uwsgi.log"
  # Loading Keystone's app takes seconds (more on a busy machine); the
  # socket accepts meanwhile, so wait for an answer, not a connection.
  for i in $(seq 1 120); do
    if curl -fsS -o /dev/null --max-time 30 "http://127.0.0.1:$port/v3" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  tail -n 40 "$d/uwsgi.log" "$d/keystone.log" >&2 2>/dev/null || true
  stop_uwsgi "$d"
  die "Keystone did not answer on http://127.0.0.1:$port/v3"
}

# stop_uwsgi DIR: stop the uwsgi started on DIR, if it still runs.
stop_uwsgi() {
  local d=$1 pid i
  [ -f "$d/uwsgi.pid" ] || return 0
  pid=$(cat "$d/uwsgi.pid")
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$d/uwsgi.ini"; then
    kill -INT "$pid" 2>/dev/null || true # uwsgi's master stops its worker on SIGINT (SIGTERM reloads)
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$d/uwsgi.pid"
}

# make_template TMPL: a bootstrapped database with all the content, made
# once (under a lock) and copied by later starts.
make_template() {
  local t=$1
  rm -rf "$t.tmp" && mkdir -p "$t.tmp"
  bootstrap "$t.tmp"
  run_uwsgi "$t.tmp" "$PORT"
  if ! ensure_content "$t.tmp" "$URL" all; then
    stop_uwsgi "$t.tmp"
    die "creating the test accounts failed; see $t.tmp/keystone.log"
  fi
  stop_uwsgi "$t.tmp"
  "$PY" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()' "$t.tmp/keystone.db"
  rm -f "$t.tmp/keystone.db-wal" "$t.tmp/keystone.db-shm" "$t.tmp/uwsgi.ini"
  rm -rf "$t" && mv "$t.tmp" "$t"
}

do_start() {
  local pid
  if pid=$(running_pid); then
    echo "keystone.sh: already running in $DIR" >&2
    if ! grep -qx "expiration = $TOKEN_EXPIRATION" "$CONF"; then
      echo "keystone.sh: it keeps the token lifetime it was started with ($(grep -m1 '^expiration' "$CONF"))" >&2
    fi
    ensure_content "$DIR" "$URL" image
    echo "PID=$pid"; echo "URL=$URL"; echo "ACCOUNTS=$DIR/accounts.env"
    return 0
  fi
  local ver cache tmpl
  cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/glint
  mkdir -p "$cache"
  # Test binaries start their Keystones in parallel: one installs at a time.
  ( flock 9; install_pkgs ) 9>"$cache/keystone-install.lock"
  ver=$(dpkg-query -W -f '${Version}' keystone 2>/dev/null || echo unknown)
  tmpl=$cache/keystone-template-v4-${ver//[^A-Za-z0-9.+-]/_}
  if [ ! -f "$DIR/keystone.db" ]; then
    (
      flock 9
      [ -f "$tmpl/accounts.env" ] || make_template "$tmpl"
    ) 9>"$cache/keystone-template.lock"
    cp -a "$tmpl/keystone.db" "$tmpl/fernet-keys" "$tmpl/fernet-receipts" "$tmpl/credential-keys" \
      "$tmpl/accounts.env" "$DIR/"
  fi
  write_conf "$DIR" "$TOKEN_EXPIRATION"
  set_identity_url "$DIR"
  run_uwsgi "$DIR" "$PORT"
  [ -f "$DIR/accounts.env" ] || ensure_content "$DIR" "$URL" all
  ensure_content "$DIR" "$URL" image
  echo "PID=$(cat "$PIDFILE")"
  echo "URL=$URL"
  echo "ACCOUNTS=$DIR/accounts.env"
}

case $cmd in
  start) do_start ;;
  stop) stop_uwsgi "$DIR" ;;
  status)
    if pid=$(running_pid); then echo "running PID=$pid URL=$URL"; else echo "stopped"; exit 3; fi ;;
  *) die "unknown command: $cmd" ;;
esac
