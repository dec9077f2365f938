-- Foundation: settings, staff users, API keys, refresh tokens, customers.
-- Keep in step with migrations/sqlite: same tables, columns and indexes; native types here.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    disabled_at   TIMESTAMPTZ
);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_by   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE refresh_tokens (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  UUID NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE customers (
    id                  UUID PRIMARY KEY,
    given_name          TEXT,
    family_name         TEXT,
    email               TEXT,
    phone               TEXT,
    other_emails        JSONB NOT NULL,
    other_phones        JSONB NOT NULL,
    address_line1       TEXT,
    address_line2       TEXT,
    city                TEXT,
    region              TEXT,
    postal_code         TEXT,
    country             TEXT,
    birth_date          DATE,
    social_handles      JSONB NOT NULL,
    occupation          TEXT,
    income_band         TEXT,
    education           TEXT,
    household_size      INTEGER,
    preferences         JSONB NOT NULL,
    tags                JSONB NOT NULL,
    custom_attributes   JSONB NOT NULL,
    acquisition_channel TEXT,
    lifecycle_stage     TEXT NOT NULL,
    search_text         TEXT NOT NULL,
    version             BIGINT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    archived_at         TIMESTAMPTZ
);
CREATE INDEX customers_created ON customers (created_at, id);
CREATE INDEX customers_updated ON customers (updated_at, id);
CREATE INDEX customers_email ON customers (email);
CREATE INDEX customers_city ON customers (city);
CREATE INDEX customers_country ON customers (country);
CREATE INDEX customers_stage ON customers (lifecycle_stage);

CREATE TABLE customer_tags (
    customer_id UUID NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (tag, customer_id);
