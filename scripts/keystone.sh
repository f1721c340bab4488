#!/bin/bash
# keystone.sh — install, bootstrap and run Debian's Keystone (identity v3)
# on 127.0.0.1 for Glint's tests and for trying Glint with Keystone.
#
# Usage (as root, Debian 12):
#   scripts/keystone.sh start  [DIR] [--port N] [--image-url URL]
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
#
# Keystone runs from /usr/bin/keystone-wsgi-public under uwsgi with ONE
# worker process (sqlite does not take concurrent writers well), fernet
# tokens valid for one hour, and this content (created if missing):
#
#   domain   Default
#   projects admin, service, alpha, beta         (all in Default)
#   roles    admin, member, reader, service
#   users    (password)           role on project
#            admin  (admin-pass)          admin on admin (and system admin)
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
# ACCOUNTS names DIR/accounts.env (shell syntax: the names, passwords and
# project ids above). The first bootstrap (db_sync + bootstrap, ~30 s) is
# cached as a template under ${XDG_CACHE_HOME:-$HOME/.cache}/glint, keyed by
# the Keystone version; later starts copy it.
set -euo pipefail

die() { echo "keystone.sh: $*" >&2; exit 1; }

cmd=${1:-}
[ -n "$cmd" ] || die "usage: $0 start|stop|status [DIR] [--port N] [--image-url URL]"
shift
DIR=/tmp/glint-keystone
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then DIR=$1; shift; fi
PORT=${PORT:-5000}
IMAGE_URL=
while [ $# -gt 0 ]; do
  case $1 in
    --port) PORT=${2:?--port needs a value}; shift 2 ;;
    --port=*) PORT=${1#--port=}; shift ;;
    --image-url) IMAGE_URL=${2:?--image-url needs a value}; shift 2 ;;
    --image-url=*) IMAGE_URL=${1#--image-url=}; shift ;;
    *) die "unknown argument: $1" ;;
  esac
done
case $PORT in ''|*[!0-9]*) die "bad port: $PORT" ;; esac
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

do_stop() {
  local pid i
  if ! pid=$(running_pid); then
    rm -f "$PIDFILE"
    return 0
  fi
  # uwsgi's master shuts its worker down on SIGINT (SIGTERM means reload)
  kill -INT "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
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

write_conf() { # DIR
  local d=$1
  cat >"$d/keystone.conf" <<EOF
[DEFAULT]
log_file = $d/keystone.log
use_stderr = false
[database]
connection = sqlite:///$d/keystone.db
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = $d/fernet-keys
[fernet_receipts]
key_repository = $d/fernet-receipts
[credential]
key_repository = $d/credential-keys
[cache]
enabled = false
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
}

# ensure_content creates the projects, users, roles and endpoints listed at
# the top through Keystone's API, and writes DIR/accounts.env.
ensure_content() {
  KS_URL=$URL KS_IMAGE_URL=$IMAGE_URL KS_OUT=$DIR/accounts.env "$PY" - <<'EOF'
import json, os, urllib.request, urllib.error

url = os.environ["KS_URL"] + "/v3"
image_url = os.environ["KS_IMAGE_URL"]

def call(method, path, body=None, token=None, ok=(200, 201, 204)):
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return r, (json.loads(data) if data else None)
    except urllib.error.HTTPError as e:
        if e.code in ok:
            return e, None
        raise SystemExit(f"{method} {path}: {e.code} {e.read()[:500]!r}")

r, _ = call("POST", "/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {"user": {
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

# Keep the identity endpoint on this port (a template may come from another one).
_, body = call("GET", "/endpoints", token=tok)
_, svcs = call("GET", "/services", token=tok)
by_type = {s["type"]: s["id"] for s in svcs["services"]}
for ep in body["endpoints"]:
    if ep["service_id"] == by_type.get("identity") and ep["url"] != url + "/":
        call("PATCH", f"/endpoints/{ep['id']}", {"endpoint": {"url": url + "/"}}, token=tok)
if image_url:
    sid = by_type.get("image")
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

with open(os.environ["KS_OUT"], "w") as f:
    f.write(f"KEYSTONE_URL={url}\n")
    for name, uid in users.items():
        key = name.upper().replace("-", "_")
        f.write(f"{key}_USER_ID={uid}\n{key}_PASSWORD={name}-pass\n")
    for name, pid in projects.items():
        f.write(f"{name.upper()}_PROJECT_ID={pid}\n")
EOF
}

do_start() {
  local pid
  if pid=$(running_pid); then
    echo "keystone.sh: already running in $DIR" >&2
    ensure_content
    echo "PID=$pid"; echo "URL=$URL"; echo "ACCOUNTS=$DIR/accounts.env"
    return 0
  fi
  install_pkgs
  local ver cache tmpl
  ver=$(dpkg-query -W -f '${Version}' keystone 2>/dev/null || echo unknown)
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/glint
  tmpl=$cache/keystone-template-${ver//[^A-Za-z0-9.+-]/_}
  if [ ! -f "$DIR/keystone.db" ]; then
    mkdir -p "$cache"
    (
      flock 9
      if [ ! -f "$tmpl/keystone.db" ]; then
        rm -rf "$tmpl.tmp" && mkdir -p "$tmpl.tmp"
        bootstrap "$tmpl.tmp"
        rm -rf "$tmpl" && mv "$tmpl.tmp" "$tmpl"
      fi
    ) 9>"$cache/keystone-template.lock"
    cp -a "$tmpl/keystone.db" "$tmpl/fernet-keys" "$tmpl/fernet-receipts" "$tmpl/credential-keys" "$DIR/"
  fi
  write_conf "$DIR"
  cat >"$DIR/uwsgi.ini" <<EOF
[uwsgi]
plugins = python3
http-socket = 127.0.0.1:$PORT
wsgi-file = /usr/bin/keystone-wsgi-public
master = true
processes = 1
threads = 4
lazy-apps = true
die-on-term = true
need-app = true
buffer-size = 65535
env = OS_KEYSTONE_CONFIG_FILES=$CONF
pidfile = $PIDFILE
logto = $DIR/uwsgi.log
EOF
  rm -f "$PIDFILE"
  setsid uwsgi --ini "$DIR/uwsgi.ini" --daemonize2 "$DIR/uwsgi.log" </dev/null >/dev/null 2>&1 \
    || die "uwsgi did not start; see $DIR/uwsgi.log"
  local i
  for i in $(seq 1 300); do
    if curl -fsS -o /dev/null --max-time 2 "$URL/v3"; then break; fi
    sleep 0.1
    if [ "$i" -eq 300 ]; then
      tail -n 40 "$DIR/uwsgi.log" "$DIR/keystone.log" >&2 2>/dev/null || true
      do_stop
      die "Keystone did not answer on $URL/v3 within 30s"
    fi
  done
  ensure_content
  echo "PID=$(cat "$PIDFILE")"
  echo "URL=$URL"
  echo "ACCOUNTS=$DIR/accounts.env"
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  status)
    if pid=$(running_pid); then echo "running PID=$pid URL=$URL"; else echo "stopped"; exit 3; fi ;;
  *) die "unknown command: $cmd" ;;
esac
