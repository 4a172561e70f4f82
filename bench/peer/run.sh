#!/usr/bin/env bash
# Reproduce the PEER (django-helpdesk 2.6.1) performance measurements from
# scratch: venv, database, seed, query counts, load tests, summary.
# (Copy of ../shared/bench/peer/run.sh, extended: cpu_ms per request on every
# RESULT line, summary.json beside summary.md, a final SUMMARY_JSON=<path> line.)
#
#   bash run.sh            # full run, ~11 minutes on a 2-core box
#
# Knobs (environment): PEER_VENV (/tmp/peer-venv), PEER_STATE_DIR
# (/tmp/peer-bench), PEER_PORT (8765), PEER_TICKETS (100000), PEER_DURATION
# (20s), PEER_CONC (8), PEER_REPEAT (3 = the wrk runs are repeated in
# interleaved rounds, the summary reports the median), FRESH_VENV (1 = delete
# and recreate the venv; 0 = reuse it if it holds django-helpdesk 2.6.1).
#
# CPU per request: around every wrk / loadgen.py run, ../cpu.py samples the CPU
# seconds of the gunicorn master + its workers + the PostgreSQL backends of
# $DB (from /proc); the RESULT line gets cpu_ms=<(after-before)*1000/requests>.
# Output: summary.md and summary.json in the run folder; the last line printed
# is SUMMARY_JSON=<path>.
#
# Needs root (apt-get for wrk if missing, su postgres for the database).
# Starts the PostgreSQL 15 cluster if it is down, and stops it again at the
# end in that case (PEER_KEEP_PG=1 keeps it running).
# All traffic goes to 127.0.0.1 only; every load run is bounded in time and
# count; the gunicorn it starts is stopped by PID on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEER_VENV:-/tmp/peer-venv}"
STATE="${PEER_STATE_DIR:-/tmp/peer-bench}"
PORT="${PEER_PORT:-8765}"
TICKETS="${PEER_TICKETS:-100000}"
DURATION="${PEER_DURATION:-20s}"
CONC="${PEER_CONC:-8}"
REPEAT="${PEER_REPEAT:-3}"
FRESH_VENV="${FRESH_VENV:-1}"
WORKERS=2
WRK_THREADS=2
BASE="http://127.0.0.1:${PORT}"
DB=peer_helpdesk

export PEER_STATE_DIR="$STATE" PEER_CREDS="$STATE/creds.env"
export PYTHONPATH="$HERE" DJANGO_SETTINGS_MODULE=settings LUA_DIR="$HERE/lua" PYTHONDONTWRITEBYTECODE=1
RUN_DIR="$STATE/run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN_DIR"
LOG="$RUN_DIR/results.txt"
GUNICORN_PID_FILE="$STATE/gunicorn.pid"
T_START=$(date +%s)

step() { echo "== [$(date -u +%H:%M:%S) +$(( $(date +%s) - T_START ))s] $*" | tee -a "$LOG"; }
log() { tee -a "$LOG"; }
PY="$VENV/bin/python"
CPU_PY="$HERE/../cpu.py"   # bench/cpu.py of this project (stdlib only)
[[ -f "$CPU_PY" ]] || { echo "missing $CPU_PY"; exit 1; }

# CPU seconds so far of the peer's gunicorn master + workers + its DB backends
cpu_now() { "$PY" "$CPU_PY" "$GUNICORN_PID_FILE" "$DB"; }
# with_cpu CMD...: runs a load generator (output captured), samples cpu_now
# before and after, appends " cpu_ms=<ms per request>" to its RESULT line(s)
# and writes everything to the log.
with_cpu() {
  local out before after
  out=$(mktemp)
  before=$(cpu_now)
  "$@" >"$out" 2>&1 || { cat "$out" | log; rm -f "$out"; return 1; }
  after=$(cpu_now)
  awk -v b="$before" -v a="$after" '
    /^RESULT / {
      n = 0
      for (i = 2; i <= NF; i++) if ($i ~ /^requests=/) n = substr($i, 10) + 0
      if (n < 1) n = 1
      printf "%s cpu_ms=%.2f\n", $0, 1000 * (a - b) / n
      next
    }
    { print }' "$out" | log
  rm -f "$out"
}

stop_server() {
  if [[ -f "$GUNICORN_PID_FILE" ]]; then
    local pid; pid=$(cat "$GUNICORN_PID_FILE")
    # only our gunicorn master (guards against a stale pid file)
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "gunicorn wsgi:application"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -f "$GUNICORN_PID_FILE"
  fi
}
PG_STARTED_HERE=0
cleanup() {
  stop_server
  # leave PostgreSQL as we found it (set PEER_KEEP_PG=1 to keep it running)
  if [[ "$PG_STARTED_HERE" == 1 && "${PEER_KEEP_PG:-0}" != 1 ]]; then
    pg_ctlcluster --skip-systemctl-redirect 15 main stop || true
  fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- tools / db
step "tools"
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if ! pg_lsclusters -h | awk '$1==15 && $2=="main"' | grep -q online; then
  pg_ctlcluster --skip-systemctl-redirect 15 main start
  PG_STARTED_HERE=1
fi

step "machine facts"
{
  echo "nproc: $(nproc)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "memory: $(free -g | awk '/^Mem:/{print $2" GiB"}')"
  echo "os: $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "python3: $(python3 --version 2>&1)"
  echo "postgresql: $(cd /tmp && su postgres -c "psql -tAc 'show server_version'")" \
       "(shared_buffers=$(cd /tmp && su postgres -c "psql -tAc 'show shared_buffers'")," \
       "synchronous_commit=$(cd /tmp && su postgres -c "psql -tAc 'show synchronous_commit'"))"
  echo "wrk: $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
} | log

# ---------------------------------------------------------------- venv
step "venv $VENV (fresh=$FRESH_VENV)"
if [[ "$FRESH_VENV" == 1 ]]; then rm -rf "$VENV"; fi
if [[ -x "$PY" ]] && ! "$PY" -c 'import importlib.metadata as m, gunicorn, psycopg
assert m.version("django-helpdesk") == "2.6.1"' 2>/dev/null; then
  echo "venv $VENV is incomplete (no django-helpdesk 2.6.1); recreating it" | log
  rm -rf "$VENV"
fi
if [[ ! -x "$PY" ]]; then
  python3 -m venv "$VENV"
  if ! "$VENV/bin/pip" install -q --disable-pip-version-check -c "$HERE/constraints.txt" \
      "django-helpdesk==2.6.1" gunicorn "psycopg[binary]" >"$RUN_DIR/pip.log" 2>&1; then
    cat "$RUN_DIR/pip.log"; exit 1
  fi
fi
"$VENV/bin/pip" freeze --disable-pip-version-check 2>/dev/null \
  | grep -iE '^(django|django-helpdesk|djangorestframework|gunicorn|psycopg|psycopg-binary)==' | log

# ---------------------------------------------------------------- database
step "database $DB (drop + create)"
(cd /tmp && su postgres -c "psql -v ON_ERROR_STOP=1 -q") <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'peer') THEN
    CREATE ROLE peer;
  END IF;
END \$\$;
ALTER ROLE peer LOGIN PASSWORD 'peer';
DROP DATABASE IF EXISTS $DB WITH (FORCE);
CREATE DATABASE $DB OWNER peer;
SQL
"$PY" -m django migrate -v0

step "seed ($TICKETS tickets)"
"$PY" "$HERE/seed.py" --tickets "$TICKETS" --creds "$PEER_CREDS" 2>&1 | log
(cd /tmp && su postgres -c "psql -q -c CHECKPOINT")
# shellcheck disable=SC1090
source "$PEER_CREDS"
QUEUE_IDS="$QUEUE1_ID,$QUEUE2_ID,$QUEUE3_ID"

step "SQL queries per request (CaptureQueriesContext, in-process test Client)"
"$PY" "$HERE/count_queries.py" --creds "$PEER_CREDS" --json "$RUN_DIR/queries.json" 2>&1 | log

DT_PATH=$("$PY" -c "from count_queries import datatables_path; print(datatables_path($QUEUE1_ID, 1))" 2>/dev/null | tail -1)
[[ "$DT_PATH" == /datatables_ticket_list/* ]] || { echo "could not build the datatables URL"; exit 1; }

# ---------------------------------------------------------------- server
step "gunicorn: $WORKERS sync workers on 127.0.0.1:$PORT"
stop_server
(cd "$HERE" && exec "$VENV/bin/gunicorn" wsgi:application -w "$WORKERS" -k sync \
  -b "127.0.0.1:$PORT" --timeout 300 --log-level warning --pid "$GUNICORN_PID_FILE" \
  >"$RUN_DIR/gunicorn.log" 2>&1) &
for _ in $(seq 1 50); do
  curl -sf -o /dev/null "$BASE/floor/ping/" && break
  sleep 0.2
done
curl -sf -o /dev/null "$BASE/floor/ping/" || { echo "gunicorn did not start"; cat "$RUN_DIR/gunicorn.log"; exit 1; }
"$VENV/bin/gunicorn" --version 2>&1 | head -1 | log

drain() { sleep 5; curl -s -o /dev/null -m 300 "$BASE/floor/ping/" || true; }

wrk_run() { # name url script [TOKEN] [SESSIONID]
  local name=$1 url=$2 script=$3 token=${4:-} sid=${5:-}
  step "wrk $name: -t$WRK_THREADS -c$CONC -d$DURATION $url"
  with_cpu env BENCH_NAME="$name" TOKEN="$token" SESSIONID="$sid" QUEUE_IDS="$QUEUE_IDS" \
    wrk -t"$WRK_THREADS" -c"$CONC" -d"$DURATION" --timeout 30s --latency \
    -s "$HERE/lua/$script" "$url"
  drain
}
ticket_rows() { PGPASSWORD=peer psql -h 127.0.0.1 -U peer -d "$DB" -tAc "select count(*) from helpdesk_ticket"; }

step "warm-up (bounded: 2 of each read, 20 of each write)"
for i in 1 2; do
  curl -s -o /dev/null -H "Authorization: Token $TOKEN" -H "Accept: application/json" \
    "$BASE/api/tickets/?queue=$QUEUE1_ID&status=1"
  curl -s -o /dev/null -b "sessionid=$SESSIONID" "$BASE/tickets/?queue=$QUEUE1_ID&status=1"
  curl -s -o /dev/null -b "sessionid=$SESSIONID" "$BASE$DT_PATH"
done
# warm-up writes go to the floor table only, so the ticket table stays at
# exactly $TICKETS rows for the read measurements below
for i in $(seq 1 20); do
  curl -s -o /dev/null -H "Content-Type: application/json" -d '{"title":"warm-up","priority":3}' "$BASE/floor/cases/"
  curl -s -o /dev/null -H "Authorization: Token $TOKEN" -H "Content-Type: application/json" \
    -d '{"title":"warm-up","priority":3}' "$BASE/floor/drf-cases/"
done

# ---------------------------------------------------------------- reads (b)
# Reads first, while the ticket table holds exactly the seeded rows.
step "b1 API list /api/tickets/?queue=Q&status=1 (loadgen.py; too slow for a 20 s wrk run)"
with_cpu "$PY" "$HERE/loadgen.py" --name b1_api_list_c1 --url "$BASE/api/tickets/?queue=$QUEUE1_ID&status=1" \
  --token "$TOKEN" --concurrency 1 --requests 3 --max-seconds 90 --timeout 280
with_cpu "$PY" "$HERE/loadgen.py" --name b1_api_list_c$CONC --url "$BASE/api/tickets/?queue=$QUEUE1_ID&status=1" \
  --token "$TOKEN" --concurrency "$CONC" --requests 16 --max-seconds 150 --timeout 280
drain

for rep in $(seq 1 "$REPEAT"); do
  wrk_run "b2_staff_html_list#$rep" "$BASE/tickets/?queue=$QUEUE1_ID&status=1" get.lua "" "$SESSIONID"
  wrk_run "b3_staff_datatables_json#$rep" "$BASE$DT_PATH" get.lua "" "$SESSIONID"
done

# ---------------------------------------------------------------- writes (a, d)
created=0
for rep in $(seq 1 "$REPEAT"); do
  n_before=$(ticket_rows)
  wrk_run "a_api_create_ticket#$rep" "$BASE/api/tickets/" post_ticket.lua "$TOKEN"
  created=$(( created + $(ticket_rows) - n_before ))
  wrk_run "d_floor_plain_django_create#$rep" "$BASE/floor/cases/" post_floor.lua
  wrk_run "d2_floor_drf_token_create#$rep" "$BASE/floor/drf-cases/" post_floor.lua "$TOKEN"
done
echo "tickets rows added by the a_api_create_ticket runs: $created" \
  "(wrk does not count requests still in flight when a run ends)" | log

step "info: API create with HTTP Basic auth instead of a token (3 sequential requests)"
for i in 1 2 3; do
  curl -s -o /dev/null -w "basic-auth create: http %{http_code} in %{time_total}s\n" \
    -u "$BENCH_USER:bench-password" -H "Content-Type: application/json" -H "Accept: application/json" \
    -d "{\"queue\": $QUEUE1_ID, \"title\": \"basic-auth probe $i\", \"description\": \"probe\", \"priority\": 3}" \
    "$BASE/api/tickets/" | log
done

step "stop gunicorn"
stop_server
if grep -qiE "error|exception|timeout" "$RUN_DIR/gunicorn.log"; then
  echo "gunicorn log has errors:" | log; tail -20 "$RUN_DIR/gunicorn.log" | log
fi

# ---------------------------------------------------------------- summary
step "summary -> $RUN_DIR/summary.md, $RUN_DIR/summary.json"
"$PY" "$HERE/summarize.py" "$LOG" "$RUN_DIR/queries.json" "$RUN_DIR/summary.json" >"$RUN_DIR/summary.md"
cat "$RUN_DIR/summary.md"
step "done in $(( $(date +%s) - T_START ))s; full log $LOG"
echo "SUMMARY_JSON=$RUN_DIR/summary.json" | log
