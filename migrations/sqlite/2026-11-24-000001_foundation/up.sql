-- Foundation: settings, staff users, API keys, refresh tokens, customers.
-- Keep in step with migrations/postgres: same tables, columns and indexes; text UUIDs, RFC 3339 UTC text timestamps (fixed width, so they sort), JSON as text.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    disabled_at   TEXT
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_by   TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    revoked_at TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE customers (
    id                  TEXT PRIMARY KEY NOT NULL,
    given_name          TEXT,
    family_name         TEXT,
    email               TEXT,
    phone               TEXT,
    other_emails        TEXT NOT NULL,
    other_phones        TEXT NOT NULL,
    address_line1       TEXT,
    address_line2       TEXT,
    city                TEXT,
    region              TEXT,
    postal_code         TEXT,
    country             TEXT,
    birth_date          TEXT,
    social_handles      TEXT NOT NULL,
    occupation          TEXT,
    income_band         TEXT,
    education           TEXT,
    household_size      INTEGER,
    preferences         TEXT NOT NULL,
    tags                TEXT NOT NULL,
    custom_attributes   TEXT NOT NULL,
    acquisition_channel TEXT,
    lifecycle_stage     TEXT NOT NULL,
    search_text         TEXT NOT NULL,
    version             BIGINT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    archived_at         TEXT
);
CREATE INDEX customers_created ON customers (created_at, id);
CREATE INDEX customers_updated ON customers (updated_at, id);
CREATE INDEX customers_email ON customers (email);
CREATE INDEX customers_city ON customers (city);
CREATE INDEX customers_country ON customers (country);
CREATE INDEX customers_stage ON customers (lifecycle_stage);

CREATE TABLE customer_tags (
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (tag, customer_id);
