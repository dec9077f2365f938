-- Idempotency-Key support: the first response to a POST, replayed for retries with the same key.
CREATE TABLE idempotency_keys (
    principal        TEXT NOT NULL,
    key              TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    status_code      INTEGER,
    response_body    BLOB,
    response_headers TEXT,
    created_at       TEXT NOT NULL,
    completed_at     TEXT,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
