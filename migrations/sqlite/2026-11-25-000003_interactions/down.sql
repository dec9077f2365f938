DROP TABLE customer_merges;
DROP TABLE customer_aliases;
DROP INDEX customers_phone;
DROP INDEX customers_external_ref;
ALTER TABLE customers DROP COLUMN external_ref;
DROP TABLE customer_purchase_totals;
DROP TABLE interactions;
