#!/usr/bin/env bash
# The API document against the server, on each backend: schemathesis (pinned) sends requests the
# document says are valid and requests it says are not, and fails on a valid request refused, an
# invalid one accepted, a deleted resource still served, a response the document does not
# describe, or any 5xx.
#
#   scripts/schemathesis.sh [BINARY]     (default target/debug/rapport: cargo build first)
#
# Needs python3 (schemathesis is installed in a virtualenv under target/) and PostgreSQL at
# 127.0.0.1:5432 (trust auth, user postgres). SCHEMATHESIS_EXAMPLES sets the examples per
# operation (25). The refusals that depend on state, which no document can rule out, are let
# through by scripts/schemathesis_hooks.py (it says which, and why).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
binary=${1:-target/debug/rapport}
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    dropdb -h 127.0.0.1 -U postgres --if-exists rapport_schemathesis 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run_backend() {
    local name=$1 url=$2 port key
    port=$(free_port)
    key=$(DATABASE_URL=$url "$binary" keys create --name schemathesis --scopes admin | sed -n 's/^secret: //p')
    DATABASE_URL=$url RAPPORT_BIND=127.0.0.1:$port "$binary" serve >"$work/$name.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
        curl -fsS "http://127.0.0.1:$port/health/live" >/dev/null 2>&1 && break
        sleep 0.2
    done
    echo "== schemathesis on $name (port $port)"
    local rc=0
    # Excluded: revoking an API key (the run's own key could be the one revoked). The coverage
    # phase runs on its own: run with the others, schemathesis 4.32 has crashed inside
    # hypothesis ("AST constructor recursion depth mismatch"), which is no finding on the API.
    for phases in examples,fuzzing,stateful coverage; do
        PYTHONPATH=scripts SCHEMATHESIS_HOOKS=schemathesis_hooks \
            "$venv/bin/schemathesis" run openapi/openapi.json \
            --url "http://127.0.0.1:$port" \
            --header "Authorization: Bearer $key" \
            --checks all \
            --exclude-operation-id revoke_api_key \
            --phases "$phases" \
            --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" \
            --workers 2 \
            --seed 1 \
            --no-color \
            --report junit --report-dir "target/schemathesis/$name-${phases%%,*}" || rc=$?
    done
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    if grep -q 'panicked' "$work/$name.log"; then
        echo "the server panicked:" >&2
        grep -A5 'panicked' "$work/$name.log" >&2
        rc=1
    fi
    return $rc
}

status=0
run_backend sqlite "sqlite://$work/rapport.db" || status=1
dropdb -h 127.0.0.1 -U postgres --if-exists rapport_schemathesis
createdb -h 127.0.0.1 -U postgres rapport_schemathesis
run_backend postgres "postgres://postgres@127.0.0.1:5432/rapport_schemathesis" || status=1
exit $status
