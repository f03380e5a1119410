#!/usr/bin/env bash
# Start N optviz replicas (Streamlit processes) and Debian's nginx in front of them, on loopback only.
#
#   deploy/start_replicas.sh start [N]   start N replicas (default 2) + nginx, return when all are healthy
#   deploy/start_replicas.sh stop        stop nginx and the replicas this script started
#   deploy/start_replicas.sh status      list the processes and their health
#   deploy/start_replicas.sh run [N]     start, then wait; Ctrl-C or SIGTERM stops everything
#
# Environment: OPTVIZ_RUNDIR (default /tmp/optviz-replicas), OPTVIZ_NGINX_PORT (8080),
# OPTVIZ_REPLICA_PORT (8601: replicas use 8601, 8602, ...), PYTHON (python3).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNDIR="${OPTVIZ_RUNDIR:-/tmp/optviz-replicas}"
NGINX_PORT="${OPTVIZ_NGINX_PORT:-8080}"
BASE_PORT="${OPTVIZ_REPLICA_PORT:-8601}"
PYTHON="${PYTHON:-python3}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"

healthy() {  # healthy URL -> 0 once it answers "ok"
    "$PYTHON" - "$1" <<'PY'
import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).read().strip() == b"ok" else 1)
except Exception:
    sys.exit(1)
PY
}

wait_healthy() {  # wait_healthy URL SECONDS
    local i
    for ((i = 0; i < $2 * 2; i++)); do
        healthy "$1" && return 0
        sleep 0.5
    done
    echo "not healthy after $2 s: $1" >&2
    return 1
}

start() {
    local n="${1:-2}"
    if [[ -f "$RUNDIR/pids" ]]; then
        echo "already started (see $RUNDIR/pids); run '$0 stop' first" >&2
        exit 1
    fi
    [[ -x "$NGINX" ]] || { echo "nginx not found: apt-get install -y nginx" >&2; exit 1; }
    mkdir -p "$RUNDIR"/{client_body,proxy,fastcgi,uwsgi,scgi}
    : > "$RUNDIR/pids"
    # Replicas must share the cookie secret, or an XSRF cookie from one fails on the other.
    local secret
    secret="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')"
    local servers="" i port
    for ((i = 0; i < n; i++)); do
        port=$((BASE_PORT + i))
        (
            cd "$ROOT"
            # exec: the recorded pid is the Streamlit process itself, so stop reaches it directly
            OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
            STREAMLIT_SERVER_COOKIE_SECRET="$secret" \
            STREAMLIT_CLIENT_SHOW_ERROR_DETAILS=none \
            STREAMLIT_CLIENT_TOOLBAR_MODE=viewer \
            exec "$PYTHON" -m streamlit run app.py --server.headless true --server.port "$port" \
                --server.address 127.0.0.1 --browser.gatherUsageStats false \
                > "$RUNDIR/replica-$port.log" 2>&1
        ) &
        echo "replica $port $!" >> "$RUNDIR/pids"
        servers+="        server 127.0.0.1:$port max_fails=2 fail_timeout=10s;"$'\n'
    done
    local user=""
    if [[ "$(id -u)" == 0 ]]; then
        user="user www-data;"
        chown -R www-data "$RUNDIR"/{client_body,proxy,fastcgi,uwsgi,scgi} 2>/dev/null || user="user root;"
    fi
    SERVERS="$servers" RUNDIR="$RUNDIR" LISTEN="127.0.0.1:$NGINX_PORT" USER_LINE="$user" "$PYTHON" - \
        "$ROOT/deploy/nginx.conf" "$RUNDIR/nginx.conf" <<'PY'
import os, sys
out = []
for line in open(sys.argv[1]):
    if not line.lstrip().startswith("#"):  # the template's comments name the placeholders
        for key, env in (("{{SERVERS}}", "SERVERS"), ("{{RUNDIR}}", "RUNDIR"), ("{{LISTEN}}", "LISTEN"), ("{{USER}}", "USER_LINE")):
            line = line.replace(key, os.environ[env].rstrip("\n"))
    out.append(line)
open(sys.argv[2], "w").write("".join(out))
PY
    if ! "$NGINX" -t -q -p "$RUNDIR" -c "$RUNDIR/nginx.conf" -g "daemon on;" \
        || ! "$NGINX" -p "$RUNDIR" -c "$RUNDIR/nginx.conf" -g "daemon on;"; then
        stop
        exit 1
    fi
    echo "nginx $(cat "$RUNDIR/nginx.pid")" >> "$RUNDIR/pids"
    for ((i = 0; i < n; i++)); do
        wait_healthy "http://127.0.0.1:$((BASE_PORT + i))/_stcore/health" 90 || { stop; exit 1; }
    done
    wait_healthy "http://127.0.0.1:$NGINX_PORT/_stcore/health" 30 || { stop; exit 1; }
    echo "optviz: $n replicas on ports $BASE_PORT..$((BASE_PORT + n - 1)) behind nginx at http://127.0.0.1:$NGINX_PORT"
}

stop() {
    [[ -f "$RUNDIR/pids" ]] || { echo "nothing to stop"; return 0; }
    if [[ -f "$RUNDIR/nginx.conf" && -f "$RUNDIR/nginx.pid" ]]; then
        "$NGINX" -p "$RUNDIR" -c "$RUNDIR/nginx.conf" -s quit 2>/dev/null || true
    fi
    local kind id pid
    while read -r kind id pid; do
        [[ "$kind" == nginx ]] && pid="$id"
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
    done < "$RUNDIR/pids"
    local i
    for ((i = 0; i < 20; i++)); do
        local alive=0
        while read -r kind id pid; do
            [[ "$kind" == nginx ]] && pid="$id"
            kill -0 "$pid" 2>/dev/null && alive=1
        done < "$RUNDIR/pids"
        ((alive)) || break
        sleep 0.5
    done
    while read -r kind id pid; do
        [[ "$kind" == nginx ]] && pid="$id"
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    done < "$RUNDIR/pids"
    rm -f "$RUNDIR/pids"
    echo "stopped"
}

status() {
    [[ -f "$RUNDIR/pids" ]] || { echo "not running"; return 0; }
    local kind id pid state
    while read -r kind id pid; do
        if [[ "$kind" == nginx ]]; then
            pid="$id"
            state=$(healthy "http://127.0.0.1:$NGINX_PORT/_stcore/health" && echo healthy || echo "not answering")
            echo "nginx   pid $pid  port $NGINX_PORT  $state"
        else
            state=$(healthy "http://127.0.0.1:$id/_stcore/health" && echo healthy || echo "not answering")
            echo "replica pid $pid  port $id  $state"
        fi
    done < "$RUNDIR/pids"
}

case "${1:-}" in
    start) start "${2:-2}" ;;
    stop) stop ;;
    status) status ;;
    run)
        start "${2:-2}"
        trap 'stop; exit 0' INT TERM
        while true; do sleep 1; done
        ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
esac
