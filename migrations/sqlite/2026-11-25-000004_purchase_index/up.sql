-- Purchase totals are recomputed from the interactions on every write (and at the end of every
-- import): this index holds everything that aggregate reads, so it never visits the table. On
-- SQLite the recompute after importing 1 000 000 interactions went from 5 s to 1 s.
CREATE INDEX interactions_purchases ON interactions (customer_id, currency, occurred_at, amount_minor)
    WHERE kind = 'purchase';
