-- The loyalty program: every change is a new version, kept; a ledger entry names the version
-- that produced it.
CREATE TABLE loyalty_programs (
    version    BIGINT PRIMARY KEY NOT NULL,
    definition JSONB NOT NULL,
    changed_by TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

-- The points ledger, append-only: entries are never changed or deleted. A customer's balance is
-- the sum of their entries' points.
CREATE TABLE loyalty_entries (
    id              UUID PRIMARY KEY NOT NULL,
    customer_id     UUID NOT NULL REFERENCES customers (id),
    kind            TEXT NOT NULL,
    points          BIGINT NOT NULL,
    reason          TEXT,
    source_type     TEXT NOT NULL,
    source_id       UUID,
    reverses_id     UUID REFERENCES loyalty_entries (id),
    program_version BIGINT REFERENCES loyalty_programs (version),
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX loyalty_entries_customer ON loyalty_entries (customer_id, created_at, id);
-- Whether an entry was reversed, and what a purchase (or a redemption) earned.
CREATE INDEX loyalty_entries_reverses ON loyalty_entries (reverses_id) WHERE reverses_id IS NOT NULL;
CREATE INDEX loyalty_entries_source ON loyalty_entries (source_id) WHERE source_id IS NOT NULL;

-- Every award is a lot: what is left of it and when it expires. Taking points consumes lots,
-- earliest expiry first, then oldest; `remaining` is what the lot's consumptions left.
CREATE TABLE loyalty_lots (
    entry_id    UUID PRIMARY KEY NOT NULL REFERENCES loyalty_entries (id),
    customer_id UUID NOT NULL REFERENCES customers (id),
    points      BIGINT NOT NULL,
    remaining   BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= points),
    awarded_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ
);
CREATE INDEX loyalty_lots_customer ON loyalty_lots (customer_id, awarded_at);

-- Which lots an entry that takes points consumed, and how much of each.
CREATE TABLE loyalty_consumptions (
    entry_id UUID NOT NULL REFERENCES loyalty_entries (id),
    lot_id   UUID NOT NULL REFERENCES loyalty_lots (entry_id),
    points   BIGINT NOT NULL CHECK (points > 0),
    PRIMARY KEY (entry_id, lot_id)
);
CREATE INDEX loyalty_consumptions_lot ON loyalty_consumptions (lot_id);
