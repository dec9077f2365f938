DROP TABLE loyalty_consumptions;
DROP TABLE loyalty_lots;
DROP TABLE loyalty_entries;
DROP TABLE loyalty_programs;
