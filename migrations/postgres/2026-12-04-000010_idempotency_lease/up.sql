-- An Idempotency-Key reservation belongs to one attempt (`owner`) until `lease_until`; a retry
-- after that takes it over. The stored response commits in the write's own transaction, guarded
-- by `owner`, so a key is either answered or free to retry, never stuck.
ALTER TABLE idempotency_keys ADD COLUMN owner TEXT;
ALTER TABLE idempotency_keys ADD COLUMN lease_until TIMESTAMPTZ;
