#!/usr/bin/env bash
# A Prefect server for the many-cities benchmark, on loopback, in the background; on SQLite (Prefect's default)
# or on PostgreSQL 15 (Debian's package) with --postgres.
#
#   scripts/prefect-server.sh [start] [--postgres] [--port P] [--fresh]
#   scripts/prefect-server.sh stop
#   scripts/prefect-server.sh status
#
# start   the server on 127.0.0.1:P (default: a free port), PREFECT_HOME in data/prefect-bench/ (its SQLite
#         database, settings, server.log); prints the PREFECT_API_URL to export and how to stop.
#         --postgres: a PostgreSQL cluster in data/prefect-pg/ (initdb on first use), started on a free loopback
#         port, database `prefect`, and the server on it through PREFECT_API_DATABASE_CONNECTION_URL
#         (postgresql+asyncpg; asyncpg comes with prefect and is in requirements.lock).
#         --fresh: start from an empty database (removes data/prefect-bench/prefect.db, or the cluster).
# stop    the server, then the PostgreSQL cluster if one runs; their data stays.
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to the system's `postgres` user and every
# pg_ctl/initdb/psql runs through `runuser -u postgres` (data/prefect-pg/ is chowned to it; the checkout's
# folders must be readable by it). As any other user, the cluster is that user's. Connections are loopback TCP
# only, with a password (scram-sha-256) generated at initdb into data/prefect-pg/password (mode 0600).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
PREFECT=$ROOT/.venv/bin/prefect
HOST=127.0.0.1
STATE=$ROOT/data/prefect-bench
PGDATA_DIR=$ROOT/data/prefect-pg
PGBIN=${JUKI_PG_BIN:-/usr/lib/postgresql/15/bin}
STARTUP_SECONDS=${JUKI_SERVE_STARTUP_SECONDS:-180}

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

cmd=start postgres=0 port='' fresh=0
while (($#)); do
    case $1 in
        start|stop|status) cmd=$1 ;;
        --postgres) postgres=1 ;;
        --port) port=${2:?--port needs a number}; shift ;;
        --fresh) fresh=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "prefect-server: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# As root, PostgreSQL's programs run as the postgres user; otherwise as oneself.
as_pg() {
    if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

healthy() {
    "$PY" - "$1/health" <<'EOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

pg_running() { [[ -f $PGDATA_DIR/cluster/postmaster.pid ]] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/cluster" status >/dev/null 2>&1; }

stop_all() {
    if [[ -f $STATE/server.pid ]]; then
        local pid
        pid=$(<"$STATE/server.pid")
        if kill -0 "$pid" 2>/dev/null; then
            echo "prefect-server: stopping the server (pid $pid) …" >&2
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -0 "$pid" 2>/dev/null && { echo "prefect-server: not stopped in 30 s: killed" >&2; kill -KILL -- "-$pid" 2>/dev/null || true; }
        fi
        rm -f "$STATE/server.pid" "$STATE/api_url" "$STATE/database"
    fi
    if pg_running; then
        echo "prefect-server: stopping PostgreSQL …" >&2
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/cluster" stop -m fast -s
    fi
    echo "prefect-server: stopped (data stays in data/prefect-bench/ and data/prefect-pg/)" >&2
}

case $cmd in
    stop) stop_all; exit 0 ;;
    status)
        if [[ -f $STATE/api_url ]] && healthy "$(<"$STATE/api_url")"; then
            echo "running: PREFECT_API_URL=$(<"$STATE/api_url") on $(<"$STATE/database"), server pid $(<"$STATE/server.pid")"
            pg_running && echo "PostgreSQL: $(head -1 "$PGDATA_DIR/cluster/postmaster.pid") (pid), port $(sed -n 4p "$PGDATA_DIR/cluster/postmaster.pid")"
            exit 0
        fi
        echo "not running"; exit 1 ;;
esac

[[ -x $PREFECT ]] || { echo "prefect-server: $PREFECT is missing: run \`make .venv/.installed\`" >&2; exit 2; }
if [[ -f $STATE/server.pid ]] && kill -0 "$(<"$STATE/server.pid")" 2>/dev/null; then
    echo "prefect-server: already running ($(<"$STATE/api_url")); \`$0 stop\` first" >&2
    exit 1
fi
mkdir -p "$STATE"
port=${port:-$(free_port)}
export PREFECT_HOME=$STATE
export PREFECT_SERVER_ANALYTICS_ENABLED=false
# Prefect refuses a flow run whose parameters pass 512 KiB as JSON: the list of all 1,741 cities is ~790 KB
# (docs/nation.md); 4 MiB lets the benchmark run the nation in one flow run. One run per prefecture stays under
# the default (北海道's 179 cities: ~80 KB).
export PREFECT_SERVER_API_MAX_PARAMETER_SIZE=${PREFECT_SERVER_API_MAX_PARAMETER_SIZE:-4194304}
# A request whose database call failed in a way the client may retry (SQLite's "database is locked", a
# PostgreSQL connection timeout) is answered 503 and retried; Prefect logs it only with this on: server.log says why.
export PREFECT_SERVER_LOG_RETRYABLE_ERRORS=${PREFECT_SERVER_LOG_RETRYABLE_ERRORS:-true}
export PREFECT_API_URL=http://$HOST:$port/api
export PREFECT_UI_API_URL=$PREFECT_API_URL

if ((postgres)); then
    [[ -x $PGBIN/initdb ]] || { echo "prefect-server: no PostgreSQL in $PGBIN (apt-get install postgresql; or set JUKI_PG_BIN)" >&2; exit 2; }
    if ((fresh)) && [[ -d $PGDATA_DIR ]]; then
        pg_running && as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/cluster" stop -m fast -s
        rm -rf "$PGDATA_DIR"
    fi
    if [[ ! -f $PGDATA_DIR/cluster/PG_VERSION ]]; then
        mkdir -p "$PGDATA_DIR"
        ((EUID == 0)) && chown postgres: "$PGDATA_DIR"
        chmod 0700 "$PGDATA_DIR"
        (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$PGDATA_DIR/password")
        ((EUID == 0)) && chown postgres: "$PGDATA_DIR/password"
        echo "prefect-server: initdb data/prefect-pg/cluster …" >&2
        as_pg "$PGBIN/initdb" -D "$PGDATA_DIR/cluster" -U prefect --pwfile="$PGDATA_DIR/password" \
            --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 \
            || { tail -n 20 "$STATE/initdb.log" >&2; exit 1; }
    fi
    if ! pg_running; then
        pgport=$(free_port)
        # listen on loopback only; its socket in the cluster's folder (not /var/run/postgresql, root's to create);
        # max_connections above the server's pool (5 + 10 overflow per API worker and per service loop)
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/cluster" -l "$PGDATA_DIR/postgres.log" -w -s start \
            -o "-c listen_addresses=$HOST -p $pgport -k $PGDATA_DIR -c max_connections=200"
    fi
    pgport=$(sed -n 4p "$PGDATA_DIR/cluster/postmaster.pid")
    password=$(as_pg cat "$PGDATA_DIR/password")
    if ! PGPASSWORD=$password as_pg "$PGBIN/psql" -h "$HOST" -p "$pgport" -U prefect -d postgres -tAc \
            "select 1 from pg_database where datname = 'prefect'" | grep -q 1; then
        PGPASSWORD=$password as_pg "$PGBIN/createdb" -h "$HOST" -p "$pgport" -U prefect prefect
    fi
    export PREFECT_API_DATABASE_CONNECTION_URL="postgresql+asyncpg://prefect:$password@$HOST:$pgport/prefect"
    database="postgresql on $HOST:$pgport (data/prefect-pg/)"
else
    ((fresh)) && rm -f "$STATE"/prefect.db "$STATE"/prefect.db-*
    database="sqlite (data/prefect-bench/prefect.db)"
fi

echo "prefect-server: starting on $PREFECT_API_URL, database $database (log: data/prefect-bench/server.log) …" >&2
# setsid: its own process group, which `stop` signals whole (the server's uvicorn and service children)
setsid "$PREFECT" server start --host "$HOST" --port "$port" --analytics-off >"$STATE/server.log" 2>&1 &
pid=$!
echo "$pid" >"$STATE/server.pid"
echo "$PREFECT_API_URL" >"$STATE/api_url"
echo "${database%% *}" >"$STATE/database"

waited=0
until healthy "$PREFECT_API_URL"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "prefect-server: the server exited; the end of data/prefect-bench/server.log:" >&2
        tail -n 20 "$STATE/server.log" >&2
        rm -f "$STATE/server.pid"
        exit 1
    fi
    if ((waited >= STARTUP_SECONDS * 2)); then
        echo "prefect-server: no answer from $PREFECT_API_URL/health after ${STARTUP_SECONDS} s; see data/prefect-bench/server.log" >&2
        exit 1
    fi
    sleep 0.5
    waited=$((waited + 1))
done

cat <<EOF
prefect-server: the server answers ($((waited / 2)) s), pid $pid, database $database

  export PREFECT_API_URL=$PREFECT_API_URL
  .venv/bin/python benchmarks/bench_nation.py --cities 50      # or any flow run against it
  UI      http://$HOST:$port
  stop    scripts/prefect-server.sh stop
EOF
