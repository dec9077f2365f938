ALTER TABLE loyalty_rewards DROP COLUMN updated_at;
ALTER TABLE loyalty_rewards DROP COLUMN version;
