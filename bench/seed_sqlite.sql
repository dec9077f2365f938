-- 100 000 customers, straight into the table (the API is what is measured, not the seeding).
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO customers (id, given_name, family_name, email, phone, other_emails, other_phones,
    address_line1, address_line2, city, region, postal_code, country, birth_date, social_handles,
    occupation, income_band, education, household_size, preferences, tags, custom_attributes,
    acquisition_channel, lifecycle_stage, search_text, version, created_at, updated_at, archived_at)
SELECT unhex(printf('01900000%04x7%03x8000%012x', i / 65536, i % 4096, i)),
    'Given' || i, 'Family' || i, 'c' || i || '@example.com', '+3491' || (1000000 + i), '[]', '[]',
    'Calle ' || i, NULL, CASE i % 4 WHEN 0 THEN 'Madrid' WHEN 1 THEN 'Roma' WHEN 2 THEN 'Sevilla' ELSE 'Milano' END,
    NULL, NULL, CASE i % 2 WHEN 0 THEN 'ES' ELSE 'IT' END, '1980-01-01', '{}',
    NULL, 'middle', NULL, 2, '{}', '["seeded"]', '{}', 'referral', 'customer',
    'given' || i || ' family' || i || ' c' || i || '@example.com', 1,
    strftime('%Y-%m-%dT%H:%M:%S', '2024-01-01', '+' || i || ' minutes') || '.000000Z',
    strftime('%Y-%m-%dT%H:%M:%S', '2024-01-01', '+' || i || ' minutes') || '.000000Z', NULL
FROM n;
INSERT INTO customer_tags (customer_id, tag) SELECT id, 'seeded' FROM customers WHERE tags = '["seeded"]';
