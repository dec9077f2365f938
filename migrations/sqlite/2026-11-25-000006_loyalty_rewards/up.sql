-- The rewards catalog: what points buy.
CREATE TABLE loyalty_rewards (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    kind            TEXT NOT NULL,
    cost_points     BIGINT NOT NULL,
    percent_off     BIGINT,
    amount_minor    BIGINT,
    currency        TEXT,
    partner         TEXT,
    quantity        BIGINT NOT NULL,
    stock           BIGINT CHECK (stock IS NULL OR stock >= 0),
    active          BOOLEAN NOT NULL,
    created_at      TEXT NOT NULL
);

-- A reward bought with points: the `redeem` entry that paid for it, the codes issued, and if
-- cancelled the entry that gave the points back.
CREATE TABLE loyalty_redemptions (
    id              TEXT PRIMARY KEY NOT NULL,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    reward_id       TEXT NOT NULL REFERENCES loyalty_rewards (id),
    points          BIGINT NOT NULL,
    codes           TEXT NOT NULL,
    terms           TEXT NOT NULL,
    entry_id        TEXT NOT NULL REFERENCES loyalty_entries (id),
    cancel_entry_id TEXT REFERENCES loyalty_entries (id),
    created_at      TEXT NOT NULL,
    cancelled_at    TEXT
);
CREATE INDEX loyalty_redemptions_customer ON loyalty_redemptions (customer_id, created_at, id);

-- Reward codes are unique across every redemption.
CREATE TABLE loyalty_reward_codes (
    code          TEXT PRIMARY KEY NOT NULL,
    redemption_id TEXT NOT NULL REFERENCES loyalty_redemptions (id)
);
