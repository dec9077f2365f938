#!/usr/bin/env bash
# Support-desk throughput (docs/benchmarks.md, "Tickets"), on SQLite and PostgreSQL.
#
#   bench/tickets.sh [sqlite|postgres|both]      DURATION=10s CONNECTIONS=32 THREADS=2
#
# Puts four SLA policies (one per priority; urgent and high in Madrid business hours), seeds
# 1 000 customers through the API, then loads with wrk:
# - create: POST /tickets for a random customer (policy chosen, both clocks computed); this
#   also fills the desk for the reads;
# - get: GET /tickets/{id} of a random ticket (clocks computed on read);
# - list: GET /tickets?status=new,open&limit=50 (50 tickets, each with its clocks);
# - breached: GET /tickets?sla_breached=false&limit=50;
# - customer: GET /customers/{id}/tickets of a random customer.
# On PostgreSQL the tables are analysed between the load and the reads (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKENDS=${1:-both}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18082}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
cargo build --release --bin rapport
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/rapport
mkdir -p bench/out

load() {
    local backend=$1 name=$2 script=$3 out="bench/out/tickets-$1-$2.txt"
    shift 3
    env "$@" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "bench/$script" "http://127.0.0.1:$PORT" > "$out"
    printf '%-9s %-9s %10s req/s   p50 %8s   p99 %8s\n' "$backend" "$name" \
        "$(awk '/Requests\/sec/ {print $2}' "$out")" "$(awk '$1=="50%" {print $2}' "$out")" "$(awk '$1=="99%" {print $2}' "$out")"
    if grep -q "Non-2xx" "$out"; then echo "!! $backend $name: $(grep 'Non-2xx' "$out")"; fi
}

run() {
    local backend=$1 url
    case $backend in
        sqlite) rm -f bench/out/tickets.db*; url="sqlite://$PWD/bench/out/tickets.db" ;;
        postgres)
            psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS rapport_tickets WITH (FORCE)" -c "CREATE DATABASE rapport_tickets"
            url="${PG_ADMIN%/*}/rapport_tickets" ;;
    esac
    DATABASE_URL=$url RAPPORT_BIND=127.0.0.1:$PORT "$BIN" > bench/out/tickets-server.out 2>&1 &
    local pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
    local key
    key=$(grep -o 'rk_[A-Za-z0-9_-]*' bench/out/tickets-server.out | head -n 1)
    api() { curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "$@"; }
    local madrid='{"time_zone":"Europe/Madrid","hours":[{"days":["mon","tue","wed","thu","fri"],"open":"09:00","close":"17:00"}],"holidays":["2026-12-25"]}'
    api "http://127.0.0.1:$PORT/api/v1/sla-policies" -d "{\"name\":\"Urgent\",\"priority\":\"urgent\",\"first_response_minutes\":60,\"resolution_minutes\":480,\"calendar\":$madrid}" >/dev/null
    api "http://127.0.0.1:$PORT/api/v1/sla-policies" -d "{\"name\":\"High\",\"priority\":\"high\",\"first_response_minutes\":240,\"resolution_minutes\":1440,\"calendar\":$madrid}" >/dev/null
    api "http://127.0.0.1:$PORT/api/v1/sla-policies" -d '{"name":"Normal","priority":"normal","first_response_minutes":480,"resolution_minutes":4320}' >/dev/null
    api "http://127.0.0.1:$PORT/api/v1/sla-policies" -d '{"name":"Low","priority":"low","first_response_minutes":1440,"resolution_minutes":10080}' >/dev/null
    : > bench/out/tickets-customers.txt
    for i in $(seq 1 1000); do
        api "http://127.0.0.1:$PORT/api/v1/customers" -d "{\"given_name\":\"T$i\"}" \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' >> bench/out/tickets-customers.txt
    done
    load "$backend" create ticket_create.lua KEY="$key" IDS_FILE=bench/out/tickets-customers.txt
    # What autovacuum does within a minute of the load above; without it PostgreSQL plans the
    # status list for the near-empty table it last saw (a bitmap scan and a sort of every row).
    if [ "$backend" = postgres ]; then psql -q "${PG_ADMIN%/*}/rapport_tickets" -c "ANALYZE"; fi
    api "http://127.0.0.1:$PORT/api/v1/tickets?limit=200" | python3 -c 'import json,sys; [print(t["id"]) for t in json.load(sys.stdin)["data"]]' > bench/out/tickets-ids.txt
    echo "tickets: $(api "http://127.0.0.1:$PORT/api/v1/tickets/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tickets"])')"
    load "$backend" get ticket_get.lua KEY="$key" IDS_FILE=bench/out/tickets-ids.txt
    load "$backend" list ticket_list.lua KEY="$key" QUERY='status=new,open&limit=50'
    load "$backend" breached ticket_list.lua KEY="$key" QUERY='sla_breached=false&limit=50'
    load "$backend" customer ticket_get.lua KEY="$key" IDS_FILE=bench/out/tickets-customers.txt PATH_PREFIX=/api/v1/customers/ PATH_SUFFIX=/tickets
    kill $pid; wait $pid 2>/dev/null || true
    trap - EXIT
}

case $BACKENDS in
    sqlite|postgres) run "$BACKENDS" ;;
    both) run sqlite; run postgres ;;
esac
