-- Staff users and API keys are versioned like every other resource: the ETag is "v{version}",
-- If-Match guards their merge patches, every change bumps it.
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE api_keys ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
