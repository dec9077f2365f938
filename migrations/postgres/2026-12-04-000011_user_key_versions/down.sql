ALTER TABLE api_keys DROP COLUMN version;
ALTER TABLE users DROP COLUMN version;
