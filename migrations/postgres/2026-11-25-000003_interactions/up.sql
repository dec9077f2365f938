-- Interactions: every contact with a customer, purchases among them.
CREATE TABLE interactions (
    id               UUID PRIMARY KEY,
    customer_id      UUID NOT NULL REFERENCES customers (id),
    channel          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    direction        TEXT,
    occurred_at      TIMESTAMPTZ NOT NULL,
    subject          TEXT,
    body             TEXT,
    source           TEXT NOT NULL,
    external_ref     TEXT,
    metadata         JSONB NOT NULL,
    amount_minor     BIGINT,
    currency         TEXT,
    product_category TEXT,
    campaign_id      UUID,
    order_ref        TEXT,
    agent_type       TEXT,
    agent_id         UUID,
    version          BIGINT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
-- Creating a record again with the same (source, external_ref) finds the first one; imports
-- look references up in batches by external_ref alone, hence that column first.
CREATE UNIQUE INDEX interactions_external_ref ON interactions (external_ref, source)
    WHERE external_ref IS NOT NULL;
-- A customer's history (timeline, purchase summary) and the global list, both by time.
CREATE INDEX interactions_customer ON interactions (customer_id, occurred_at, id);
CREATE INDEX interactions_occurred ON interactions (occurred_at, id);
CREATE INDEX interactions_campaign ON interactions (campaign_id, occurred_at, id)
    WHERE campaign_id IS NOT NULL;

-- Purchases per customer and currency, derived from the interactions on every write path.
CREATE TABLE customer_purchase_totals (
    customer_id       UUID NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    currency          TEXT NOT NULL,
    purchase_count    BIGINT NOT NULL,
    total_minor       BIGINT NOT NULL,
    first_purchase_at TIMESTAMPTZ NOT NULL,
    last_purchase_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, currency)
);

-- Customers from other systems: import is idempotent through this reference.
ALTER TABLE customers ADD COLUMN external_ref TEXT;
CREATE UNIQUE INDEX customers_external_ref ON customers (external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX customers_phone ON customers (phone);

-- After a merge the duplicate's identifiers (id, e-mail, phone) still find the survivor.
CREATE TABLE customer_aliases (
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    customer_id UUID NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX customer_aliases_customer ON customer_aliases (customer_id);

-- The record of every merge, with the duplicate as it was.
CREATE TABLE customer_merges (
    id                  UUID PRIMARY KEY,
    survivor_id         UUID NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    duplicate_id        UUID NOT NULL,
    duplicate           JSONB NOT NULL,
    moved_interactions  BIGINT NOT NULL,
    merged_by           TEXT,
    merged_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX customer_merges_survivor ON customer_merges (survivor_id, merged_at);
