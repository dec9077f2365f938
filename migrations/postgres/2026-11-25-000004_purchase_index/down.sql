DROP INDEX interactions_purchases;
