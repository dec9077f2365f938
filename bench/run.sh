#!/usr/bin/env bash
# Load-tests Rapport's customer endpoints with wrk, on SQLite and PostgreSQL, over 100 000 seeded
# customers: GET by id, POST, the first list page and page 1 000 (keyset cursor).
#
#   bench/run.sh [sqlite|postgres|both]      DURATION=10s CONNECTIONS=32 THREADS=2
#   SERVER=bare bench/run.sh …               the same load on crates/server/examples/bare.rs: the
#                                            same rows and store code with no auth, metrics,
#                                            logging or validation (the baseline)
#
# Prints req/s and p50/p99 per case; raw wrk output goes to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKENDS=${1:-both}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }; }

mkdir -p bench/out
SERVER=${SERVER:-rapport}
if [ "$SERVER" = bare ]; then
    cargo build --release --example bare
    BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/examples/bare
else
    cargo build --release --bin rapport
    BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/rapport
fi

summary() { # name file
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' "$2")
    p50=$(awk '$1=="50%" {print $2}' "$2")
    p99=$(awk '$1=="99%" {print $2}' "$2")
    printf '%-7s %-10s %-28s %10s req/s   p50 %8s   p99 %8s\n' "$SERVER" "$BACKEND" "$1" "$rps" "$p50" "$p99" | tee -a bench/out/summary.txt
    # Errors would make the figures meaningless: say so loudly.
    if grep -q "Non-2xx" "$2"; then
        echo "!! $BACKEND $1: $(grep 'Non-2xx' "$2")" | tee -a bench/out/summary.txt
    fi
}

load() { # name script [env...]
    local name=$1 script=$2
    shift 2
    env "$@" KEY="$KEY" IDS_FILE=bench/out/ids.txt wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s "bench/$script" "http://127.0.0.1:$PORT" > "bench/out/$BACKEND-$name.txt"
    summary "$name" "bench/out/$BACKEND-$name.txt"
}

cursor() { # sort-key id → opaque cursor, as the API makes them
    python3 -c 'import base64,json,sys; print(base64.urlsafe_b64encode(json.dumps(["customers",{"s":"created_at","k":sys.argv[1],"id":sys.argv[2]}],separators=(",",":")).encode()).decode().rstrip("="))' "$1" "$2"
}

run() {
    BACKEND=$1
    local url query
    case $BACKEND in
        sqlite)
            rm -f bench/out/bench.db*
            url="sqlite://$PWD/bench/out/bench.db"
            query() { python3 bench/sqlite.py bench/out/bench.db "$1"; } ;;
        postgres)
            psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS rapport_bench WITH (FORCE)" -c "CREATE DATABASE rapport_bench"
            url="${PG_ADMIN%/*}/rapport_bench"
            query() { psql -qtA "$url" -c "$1"; } ;;
    esac
    DATABASE_URL=$url RAPPORT_BIND=127.0.0.1:$PORT "$BIN" > bench/out/server.out 2> bench/out/server.err &
    local pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
    KEY=$(grep -o 'rk_[A-Za-z0-9_-]*' bench/out/server.out | head -n 1 || echo none)
    case $BACKEND in
        sqlite) python3 bench/sqlite.py bench/out/bench.db < bench/seed_sqlite.sql ;;
        postgres) psql -q "$url" -f bench/seed_postgres.sql ;;
    esac
    query "SELECT id FROM customers ORDER BY random() LIMIT 5000" > bench/out/ids.txt
    # The 50 000th customer by creation: the cursor of page 1 000 of 50.
    local row k id
    row=$(query "SELECT created_at, id FROM customers ORDER BY created_at, id LIMIT 1 OFFSET 49999")
    k=$(python3 -c 'import sys,datetime; s=sys.argv[1].replace(" ","T"); s=s[:-3]+"+00:00" if s.endswith("+00") else s.replace("Z","+00:00"); print(datetime.datetime.fromisoformat(s).isoformat().replace("+00:00","+00:00"))' "${row%|*}")
    id=${row#*|}
    echo "customers: $(query 'SELECT count(*) FROM customers')"
    local deep
    deep=$(curl -sf -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/customers?limit=50&sort=created_at&cursor=$(cursor "$k" "$id")" |
        python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(len(d), d[0]["given_name"])')
    echo "page 1000 starts with: $deep (expect 50 Given50001)"

    load get-by-id get.lua
    load list-page-1 list.lua PAGE_QUERY="limit=50&sort=created_at"
    load list-page-1000 list.lua PAGE_QUERY="limit=50&sort=created_at&cursor=$(cursor "$k" "$id")"
    load post post.lua
    kill $pid; wait $pid 2>/dev/null || true
    trap - EXIT
}

: > bench/out/summary.txt
case $BACKENDS in
    sqlite|postgres) run "$BACKENDS" ;;
    both) run sqlite; run postgres ;;
esac
echo; cat bench/out/summary.txt
