DROP TABLE customer_tags;
DROP TABLE customers;
DROP TABLE refresh_tokens;
DROP TABLE api_keys;
DROP TABLE users;
DROP TABLE settings;
