#!/usr/bin/env bash
# `make serve`: the deployments of prefect.yaml on a local Prefect server, with a worker, in the foreground.
#
#   1. a Prefect server on 127.0.0.1:$JUKI_SERVE_PORT (default 4200); its database and settings live in
#      data/prefect/ (PREFECT_HOME), so runs and schedules survive a restart and nothing is written to ~
#   2. waits for /api/health, creates (or overwrites) the process work pool juki-process
#   3. `prefect --no-prompt deploy --all` from the checkout, then the automations of automations.yaml
#   4. a process worker for juki-process: same venv, flow runs in the checkout, data/ as the store
# Ctrl-C stops the worker (and any flow run it started), then the server, quietly, and ends with status 0.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=$VENV/bin/python
PREFECT=$VENV/bin/prefect
HOST=127.0.0.1
PORT=${JUKI_SERVE_PORT:-4200}
POOL=juki-process
STARTUP_SECONDS=${JUKI_SERVE_STARTUP_SECONDS:-180}

[[ -x $PREFECT ]] || { echo "serve: $PREFECT is missing: run \`make serve\` (it builds .venv)" >&2; exit 2; }
[[ $PORT =~ ^[0-9]+$ ]] || { echo "serve: JUKI_SERVE_PORT must be a port number, not '$PORT'" >&2; exit 2; }

export PREFECT_HOME=$ROOT/data/prefect
export PREFECT_API_URL=http://$HOST:$PORT/api
export PREFECT_UI_API_URL=$PREFECT_API_URL
export PREFECT_SERVER_ANALYTICS_ENABLED=false
# The Makefile quiets Prefect to WARNING for the command line; here the worker's and the flow runs'
# INFO lines are what one watches (and what the UI's Logs tab shows).
export PREFECT_LOGGING_LEVEL=${JUKI_SERVE_LOG_LEVEL:-INFO}
mkdir -p "$PREFECT_HOME"
SERVER_LOG=$PREFECT_HOME/server.log

healthy() {
    "$PY" - "$PREFECT_API_URL/health" <<'EOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

if healthy; then
    echo "serve: a Prefect server already answers on $HOST:$PORT (another \`make serve\`?)." >&2
    echo "       stop it, or choose another port: make serve SERVE_PORT=4300" >&2
    exit 1
fi

server_pid='' worker_pid=''

# The pids of a process and all its descendants (a flow run may be in a session of its own).
tree() {
    "$PY" -c 'import sys, psutil
p = psutil.Process(int(sys.argv[1]))
print(*[p.pid] + [c.pid for c in p.children(recursive=True)])' "$1" 2>/dev/null || true
}

alive() {
    local pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}

# Stop processes (pids given): signal $3, up to $2 seconds' grace, then KILL what is left.
stop() {
    local name=$1 grace=$2 sig=$3
    shift 3
    alive "$@" || return 0
    echo "serve: stopping the $name …" >&2
    kill -"$sig" "$@" 2>/dev/null || true
    for _ in $(seq $((grace * 4))); do
        alive "$@" || return 0
        sleep 0.25
    done
    echo "serve: the $name did not exit within ${grace} s of SIG$sig: killed" >&2
    kill -KILL "$@" 2>/dev/null || true
}

cleanup() {
    trap - INT TERM EXIT
    local runs=''
    if [[ -n $worker_pid ]] && kill -0 "$worker_pid" 2>/dev/null; then
        runs=$(tree "$worker_pid")
        runs=${runs#"$worker_pid"}
        # Prefect 3.9.1's worker takes SIGINT (or TERM) as its Ctrl-C but here never finished that shutdown,
        # printing "Received SIGINT…" and its queue's "Still processing items…" on the way: KILL it, which
        # stops it at once and says nothing. It holds no state of ours; the server notices its heartbeats end.
        echo "serve: stopping the worker …" >&2
        kill -KILL "$worker_pid" 2>/dev/null || true
    fi
    # A flow run it started gets TERM, so Prefect records it Crashed (and on_crashed reports it) while the
    # server is still up; each file is applied in one DuckDB transaction, so the store stays whole.
    # shellcheck disable=SC2086
    [[ -z ${runs// /} ]] || stop "flow run(s) the worker started" 30 TERM $runs
    # shellcheck disable=SC2046
    [[ -z $server_pid ]] || stop server 30 TERM $(tree "$server_pid")
    echo "serve: stopped (the server's data stays in ${PREFECT_HOME#"$ROOT"/})" >&2
}
trap cleanup EXIT
# Ctrl-C is how one stops `make serve`: after the clean stop the script ends with 0, so make (which gets the
# same SIGINT) ends quietly instead of printing "make: *** [Makefile: serve] Error 130".
trap 'exit 0' INT
trap 'exit 143' TERM

echo "serve: starting the Prefect server on http://$HOST:$PORT (log: ${SERVER_LOG#"$ROOT"/}) …" >&2
# setsid: Ctrl-C reaches this script only, which then stops worker and server in order.
setsid "$PREFECT" server start --host "$HOST" --port "$PORT" --analytics-off >"$SERVER_LOG" 2>&1 &
server_pid=$!

waited=0
until healthy; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "serve: the server exited; the end of ${SERVER_LOG#"$ROOT"/}:" >&2
        tail -n 20 "$SERVER_LOG" >&2
        exit 1
    fi
    if (( waited >= STARTUP_SECONDS * 2 )); then
        echo "serve: no answer from $PREFECT_API_URL/health after ${STARTUP_SECONDS} s; see ${SERVER_LOG#"$ROOT"/}" >&2
        exit 1
    fi
    sleep 0.5
    waited=$((waited + 1))
done
echo "serve: the server answers ($((waited / 2)) s)" >&2

# --overwrite: the pool is always the one prefect.yaml names, whatever an earlier serve left behind.
"$PREFECT" work-pool create "$POOL" --type process --overwrite >/dev/null
echo "serve: work pool $POOL (process)" >&2

DEPLOY_LOG=$PREFECT_HOME/deploy.log
echo "serve: deploying prefect.yaml (log: ${DEPLOY_LOG#"$ROOT"/}) …" >&2
deploy=(--all)
if ! "$PREFECT" --no-prompt deploy "${deploy[@]}" >"$DEPLOY_LOG" 2>&1; then
    echo "serve: \`prefect deploy\` failed; the end of ${DEPLOY_LOG#"$ROOT"/}:" >&2
    tail -n 30 "$DEPLOY_LOG" >&2
    exit 1
fi
# automations.yaml: its call-webhook actions need the id of the Webhook block juki-failure-webhook.
"$PY" - "$ROOT/automations.yaml" <<'EOF' >&2 || echo "serve: the automations were not created (see above)" >&2
import sys, yaml
from prefect.automations import Automation
from prefect.blocks.webhook import Webhook

try:
    block = str(Webhook.load("juki-failure-webhook", _sync=True)._block_document_id)
except ValueError:
    sys.exit(print("serve: no Webhook block juki-failure-webhook: the 08:00 alert (automations.yaml) is not set up"))
text = open(sys.argv[1], encoding="utf-8").read().replace("{{ juki-failure-webhook }}", block)
for spec in yaml.safe_load(text)["automations"]:
    try:
        Automation.read(name=spec["name"]).delete()  # the file is the truth: replace, never duplicate
    except ValueError:
        pass
    Automation.model_validate(spec).create()
    print(f"serve: automation '{spec['name']}'")
EOF
# What the server now holds: flow/deployment and its schedule.
DEPLOYED=$("$PY" - "$PREFECT_API_URL" <<'EOF'
import sys, httpx
api = sys.argv[1]
flows = {f["id"]: f["name"] for f in httpx.post(f"{api}/flows/filter", json={}, timeout=10).json()}
for d in sorted(httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json(), key=lambda d: d["name"]):
    when = "; ".join(f"cron '{s['schedule']['cron']}' {s['schedule'].get('timezone') or 'UTC'}"
                     for s in d["schedules"] if s["active"] and "cron" in s["schedule"]) or "on demand"
    print(f"                {flows.get(d['flow_id'], '?') + '/' + d['name']:<30} {when}")
EOF
)

# Hand-off keys: the flow reads $JUKI_<NAME>_KEY (or a Prefect Secret block juki-<name>-key).
# `make demo` writes local ones under data/keys/; the worker passes them on to its flow runs.
while read -r name key_env; do
    if [[ -z ${!key_env:-} && -r $ROOT/data/keys/$name.key ]]; then
        export "$key_env=$(tr -d '[:space:]' <"$ROOT/data/keys/$name.key")"
        echo "serve: hand-off key for $name from data/keys/$name.key" >&2
    elif [[ -z ${!key_env:-} ]]; then
        echo "serve: no key for $name in \$$key_env or data/keys/$name.key (\`make demo\` writes one):" \
             "unless a Prefect Secret block juki-${name//_/-}-key holds it, its hand-off is refused" >&2
    fi
done < <("$PY" -c 'from tasks.handoff import load_subscribers
for s in load_subscribers().values(): print(s.name, s.key_env)')

echo "serve: starting a worker for $POOL …" >&2
setsid "$PREFECT" worker start --pool "$POOL" --type process --name juki-local &
worker_pid=$!

cat <<EOF

  Prefect UI    http://$HOST:$PORT
  deployments
$DEPLOYED
  run one now   in another terminal:
                  export PREFECT_API_URL=$PREFECT_API_URL
                  .venv/bin/prefect deployment run 'daily-linkage/daily-linkage'
                (or the deployment's "Run" button in the UI); the worker below picks it up.
  stop          Ctrl-C (stops the worker, then the server; runs and schedules stay in data/prefect/)

EOF

# In the foreground until Ctrl-C, or until server or worker ends on its own.
while kill -0 "$server_pid" 2>/dev/null && kill -0 "$worker_pid" 2>/dev/null; do
    sleep 1
done
kill -0 "$server_pid" 2>/dev/null || echo "serve: the server exited; see ${SERVER_LOG#"$ROOT"/}" >&2
kill -0 "$worker_pid" 2>/dev/null || echo "serve: the worker exited" >&2
exit 1
