#!/usr/bin/env bash
# make bench: the project's endpoints under wrk beside the stack floor, at each data size.
#
#   BENCH_SIZES="10000 1000000"  data sizes (one PostgreSQL database each, kept between runs)
#   BENCH_DURATION=20s           wrk duration per run      BENCH_REPEATS=3  interleaved repeats
#   BENCH_ONLY="api_create ..."  endpoints to run (default: all)
# Writes bench/out/<timestamp>/results.txt (RESULT lines) and prints the summary table.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
cd "$ROOT"
VENV=${VENV:-$ROOT/.venv}
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
SIZES=${BENCH_SIZES:-"10000 1000000"}
DURATION=${BENCH_DURATION:-20s}
REPEATS=${BENCH_REPEATS:-3}
PORT=${BENCH_PORT:-8101}
FLOOR_PORT=${BENCH_FLOOR_PORT:-8201}
PGURL=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
OUT="$HERE/out/$(date +%Y%m%d-%H%M%S)"
# One secret for prepare.py and the server: session hashes depend on it.
export SECRET_KEY=bench-only-secret-key-not-for-production-use-0123456789
mkdir -p "$OUT"
RESULTS="$OUT/results.txt"
ENDPOINTS=${BENCH_ONLY:-"api_create api_list_status api_list_phone api_lookup page_case page_list"}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

cleanup() {
  [[ -f "$OUT/gunicorn.pid" ]] && kill "$(cat "$OUT/gunicorn.pid")" 2>/dev/null || true
  "$SHARED/floor/serve.sh" stop "$FLOOR_PORT" || true
}
trap cleanup EXIT

# DEBUG off serves hashed static files from the manifest, as production does.
DEBUG=0 "$VENV/bin/python" manage.py collectstatic --noinput -v0

echo "== stack floor on :$FLOOR_PORT"
FLOOR_TOKEN=$("$SHARED/floor/serve.sh" start "$VENV" "$FLOOR_PORT" | sed -n 's/^TOKEN=//p')
FLOOR_PID=/tmp/bench-floor-$FLOOR_PORT.pid
FLOOR_DB=${FLOOR_DB_NAME:-bench_floor}

cpu() {  # pidfile db: CPU seconds of that server's processes and database backends
  "$VENV/bin/python" "$HERE/cpu.py" "$1" "$2"
}

run_wrk() {  # name pidfile db script url [env...]
  local name=$1 pidfile=$2 db=$3 script=$4 url=$5; shift 5
  local before after line requests
  before=$(cpu "$pidfile" "$db")
  line=$(env "$@" LUA_DIR="$SHARED/lua" BENCH_NAME="$name" \
    wrk -t2 -c8 -d"$DURATION" --timeout 30s --latency -s "$script" "$url" | grep '^RESULT')
  after=$(cpu "$pidfile" "$db")
  requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")
  echo "$line cpu_ms=$(python3 -c "print(f'{1000 * ($after - $before) / max($requests, 1):.2f}')")" \
    | tee -a "$RESULTS"
}

for size in $SIZES; do
  db="fc_bench_$size"
  psql "$PGURL/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
    || psql -q "$PGURL/postgres" -c "CREATE DATABASE $db"
  export DATABASE_URL="$PGURL/$db"
  data="$OUT/data-$size"
  echo "== preparing $db ($size cases)"
  "$VENV/bin/python" "$HERE/prepare.py" "$size" "$data" | tee -a "$OUT/prepare.log"
  cp "$data/queries.json" "$OUT/queries-$size.json"
  # shellcheck disable=SC1090
  set -a; source "$data/env"; set +a
  echo "== gunicorn -w 2 -k sync on :$PORT (DEBUG off, CONN_MAX_AGE=600)"
  PRODUCTION=0 DEBUG=0 \
    ALLOWED_HOSTS=127.0.0.1,localhost CONN_MAX_AGE=600 LOG_LEVEL=WARNING \
    CACHE_URL=${BENCH_CACHE_URL:-redis://127.0.0.1:6379/7} \
    API_INTEGRATION_THROTTLE_RATE=1000000/min \
    "$VENV/bin/gunicorn" fraudcenter.wsgi -w 2 -k sync -b "127.0.0.1:$PORT" \
    --log-level warning --pid "$OUT/gunicorn.pid" --daemon
  for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
  for rep in $(seq 1 "$REPEATS"); do
    echo "== size $size, repeat $rep"
    run_wrk "floor_drf@$size" "$FLOOR_PID" "$FLOOR_DB" "$SHARED/lua/post_floor.lua" \
      "http://127.0.0.1:$FLOOR_PORT/floor/drf-cases/" TOKEN="$FLOOR_TOKEN"
    run_wrk "floor_plain@$size" "$FLOOR_PID" "$FLOOR_DB" "$SHARED/lua/post_floor.lua" \
      "http://127.0.0.1:$FLOOR_PORT/floor/cases/" TOKEN=
    for ep in $ENDPOINTS; do
      if [[ $ep == api_create ]]; then
        run_wrk "$ep@$size" "$OUT/gunicorn.pid" "$db" "$HERE/lua/create_case.lua" \
          "http://127.0.0.1:$PORT/api/v1/cases/" \
          TOKEN="$TOKEN" BENCH_RUN="$(date +%s)$rep" KNOWN_SUBSCRIBERS="$KNOWN_SUBSCRIBERS"
      elif [[ $ep == page_* ]]; then
        run_wrk "$ep@$size" "$OUT/gunicorn.pid" "$db" "$HERE/lua/get_paths.lua" \
          "http://127.0.0.1:$PORT" \
          SESSIONID="$SESSIONID" TOKEN= PATHS_FILE="$data/$ep.txt"
      else
        run_wrk "$ep@$size" "$OUT/gunicorn.pid" "$db" "$HERE/lua/get_paths.lua" \
          "http://127.0.0.1:$PORT" \
          TOKEN="$TOKEN" SESSIONID= PATHS_FILE="$data/$ep.txt"
      fi
    done
  done
  kill "$(cat "$OUT/gunicorn.pid")"; rm -f "$OUT/gunicorn.pid"; sleep 1
done

"$VENV/bin/python" "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"
