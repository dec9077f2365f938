-- SQLite only (UUIDs as blobs); PostgreSQL has a native uuid type. Kept so both backends
-- have the same migration versions.
SELECT 1;
