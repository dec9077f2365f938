-- Rewards can be edited: a version for If-Match (bumped by every change, stock included, so an
-- edit never overwrites a concurrent redemption's decrement) and when it last changed.
ALTER TABLE loyalty_rewards ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE loyalty_rewards ADD COLUMN updated_at TIMESTAMPTZ;
UPDATE loyalty_rewards SET updated_at = created_at;
