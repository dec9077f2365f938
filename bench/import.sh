#!/usr/bin/env bash
# Times `rapport import interactions` on SQLite and PostgreSQL (docs/benchmarks.md, "Import").
#
#   bench/import.sh ROWS [--shuffle]        DIR=/tmp/rapport-import  BACKENDS="sqlite postgres"
#
# Makes the files with bench/import_data.py if they are missing, imports 10 000 customers into a
# fresh database, then the interactions file, and prints the CLI's own rows/s with the peak
# resident memory (/usr/bin/time). Run it on a quiet machine: other work moves these figures.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:?rows}
SHUFFLE=${2:-}
DIR=${DIR:-/tmp/rapport-import}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
cargo build --release --bin rapport
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/rapport
FILE=$DIR/interactions_${ROWS}${SHUFFLE:+_shuffled}.ndjson
[ -f "$FILE" ] || python3 bench/import_data.py "$DIR" "$ROWS" $SHUFFLE
for backend in $BACKENDS; do
    case $backend in
        sqlite)
            rm -f "$DIR"/bench.db*
            export DATABASE_URL=sqlite://$DIR/bench.db ;;
        postgres)
            psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS rapport_import WITH (FORCE)" -c "CREATE DATABASE rapport_import"
            export DATABASE_URL=${PG_ADMIN%/*}/rapport_import ;;
    esac
    "$BIN" import customers "$DIR/customers.ndjson" 2>&1 | tail -n 1
    # Start timing on a quiet machine: the previous run's gigabyte of dirty pages is written back
    # first (that writeback cost the PostgreSQL run after SQLite's 15 %).
    sync
    sleep 5
    /usr/bin/time -f "peak memory %M KB" "$BIN" import interactions "$FILE" 2>&1 |
        grep -E "^interactions:|peak memory" | sed "s/^/$backend: /"
done
