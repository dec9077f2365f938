#!/usr/bin/env bash
# Earn and redeem throughput (docs/benchmarks.md, "Loyalty"), on SQLite and PostgreSQL.
#
#   bench/loyalty.sh [sqlite|postgres|both]      DURATION=10s CONNECTIONS=32 THREADS=2
#
# Seeds 1 000 customers through the API, puts the seeds' supermarket program and a 10-point
# reward, gives every customer 1 000 000 points, then loads with wrk:
# - earn: POST /interactions, a purchase of a random customer (it earns points in the same
#   transaction: program, tier, lot);
# - redeem: POST /customers/{id}/loyalty/redemptions of a random customer (row lock, lots
#   consumed earliest expiry first, codes issued).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKENDS=${1:-both}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18081}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
cargo build --release --bin rapport
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/rapport
mkdir -p bench/out

run() {
    local backend=$1 url
    case $backend in
        sqlite) rm -f bench/out/loyalty.db*; url="sqlite://$PWD/bench/out/loyalty.db" ;;
        postgres)
            psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS rapport_loyalty WITH (FORCE)" -c "CREATE DATABASE rapport_loyalty"
            url="${PG_ADMIN%/*}/rapport_loyalty" ;;
    esac
    DATABASE_URL=$url RAPPORT_BIND=127.0.0.1:$PORT "$BIN" > bench/out/loyalty-server.out 2>&1 &
    local pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
    local key api
    key=$(grep -o 'rk_[A-Za-z0-9_-]*' bench/out/loyalty-server.out | head -n 1)
    api() { curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "$@"; }
    api -X PUT "http://127.0.0.1:$PORT/api/v1/loyalty/program" -d '{"earn_rules":[{"currency":"USD","points_per_unit":1}],"tiers":[{"name":"bronze","min_points":0,"earn_multiplier_percent":100},{"name":"silver","min_points":1000,"earn_multiplier_percent":125},{"name":"gold","min_points":5000,"earn_multiplier_percent":150}],"expiry_days":365}' >/dev/null
    local reward
    reward=$(api "http://127.0.0.1:$PORT/api/v1/loyalty/rewards" -d '{"name":"Coffee","kind":"voucher","cost_points":10}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    : > bench/out/loyalty-ids.txt
    for i in $(seq 1 1000); do
        local id
        id=$(api "http://127.0.0.1:$PORT/api/v1/customers" -d "{\"given_name\":\"L$i\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
        api "http://127.0.0.1:$PORT/api/v1/customers/$id/loyalty/transactions" -d '{"points":1000000,"reason":"bench"}' >/dev/null
        echo "$id" >> bench/out/loyalty-ids.txt
    done
    for case in earn:purchase.lua redeem:redeem.lua; do
        local name=${case%%:*} script=${case#*:}
        KEY=$key REWARD=$reward IDS_FILE=bench/out/loyalty-ids.txt wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
            -s "bench/$script" "http://127.0.0.1:$PORT" > "bench/out/loyalty-$backend-$name.txt"
        printf '%-9s %-7s %10s req/s   p50 %8s   p99 %8s\n' "$backend" "$name" \
            "$(awk '/Requests\/sec/ {print $2}' "bench/out/loyalty-$backend-$name.txt")" \
            "$(awk '$1=="50%" {print $2}' "bench/out/loyalty-$backend-$name.txt")" \
            "$(awk '$1=="99%" {print $2}' "bench/out/loyalty-$backend-$name.txt")"
        if grep -q "Non-2xx" "bench/out/loyalty-$backend-$name.txt"; then
            echo "!! $backend $name: $(grep 'Non-2xx' "bench/out/loyalty-$backend-$name.txt")"
        fi
    done
    kill $pid; wait $pid 2>/dev/null || true
    trap - EXIT
}

case $BACKENDS in
    sqlite|postgres) run "$BACKENDS" ;;
    both) run sqlite; run postgres ;;
esac
