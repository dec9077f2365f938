#!/usr/bin/env bash
# Property-based API check against the served OpenAPI document: no 5xx, and every response
# (status, content type, headers, body) conforms to the document.
#
#   pip install schemathesis && scripts/schemathesis.sh
#
# The key-revocation operation is left out: the fuzzer would revoke the admin key it runs with.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18091}
DIR=$(mktemp -d)
cargo build --release --bin rapport
DATABASE_URL="sqlite://$DIR/st.db" target/release/rapport --bind "127.0.0.1:$PORT" > "$DIR/out" 2> "$DIR/err" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
KEY=$(grep -o 'rk_[A-Za-z0-9_-]*' "$DIR/out" | head -n 1)
# The coverage phase runs on its own: run together with the others, schemathesis 4.32 crashed
# inside hypothesis ("AST constructor recursion depth mismatch") on operations with query
# parameters. Alone it usually passes, but the same tool crash was seen once on
# POST /customers/import (that operation passed when run by itself with --include-operation-id);
# a crash reported by schemathesis itself is not a finding against the API.
for phases in examples,fuzzing,stateful coverage; do
    schemathesis run "http://127.0.0.1:$PORT/api/v1/openapi.json" -H "Authorization: Bearer $KEY" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
        --exclude-operation-id revoke_api_key --max-examples "${MAX_EXAMPLES:-100}" --workers 2 --phases "$phases" "$@"
done
