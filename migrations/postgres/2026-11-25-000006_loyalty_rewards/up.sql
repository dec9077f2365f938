-- The rewards catalog: what points buy.
CREATE TABLE loyalty_rewards (
    id              UUID PRIMARY KEY NOT NULL,
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
    created_at      TIMESTAMPTZ NOT NULL
);

-- A reward bought with points: the `redeem` entry that paid for it, the codes issued, and if
-- cancelled the entry that gave the points back.
CREATE TABLE loyalty_redemptions (
    id              UUID PRIMARY KEY NOT NULL,
    customer_id     UUID NOT NULL REFERENCES customers (id),
    reward_id       UUID NOT NULL REFERENCES loyalty_rewards (id),
    points          BIGINT NOT NULL,
    codes           JSONB NOT NULL,
    terms           JSONB NOT NULL,
    entry_id        UUID NOT NULL REFERENCES loyalty_entries (id),
    cancel_entry_id UUID REFERENCES loyalty_entries (id),
    created_at      TIMESTAMPTZ NOT NULL,
    cancelled_at    TIMESTAMPTZ
);
CREATE INDEX loyalty_redemptions_customer ON loyalty_redemptions (customer_id, created_at, id);

-- Reward codes are unique across every redemption.
CREATE TABLE loyalty_reward_codes (
    code          TEXT PRIMARY KEY NOT NULL,
    redemption_id UUID NOT NULL REFERENCES loyalty_redemptions (id)
);
