-- 100 000 customers, straight into the table (the API is what is measured, not the seeding).
INSERT INTO customers (id, given_name, family_name, email, phone, other_emails, other_phones,
    address_line1, address_line2, city, region, postal_code, country, birth_date, social_handles,
    occupation, income_band, education, household_size, preferences, tags, custom_attributes,
    acquisition_channel, lifecycle_stage, search_text, version, created_at, updated_at, archived_at)
SELECT format('01900000-%s-7%s-8000-%s', lpad(to_hex(i / 65536), 4, '0'), lpad(to_hex(i % 4096), 3, '0'), lpad(to_hex(i), 12, '0'))::uuid,
    'Given' || i, 'Family' || i, 'c' || i || '@example.com', '+3491' || (1000000 + i), '[]', '[]',
    'Calle ' || i, NULL, (ARRAY['Madrid', 'Roma', 'Sevilla', 'Milano'])[i % 4 + 1],
    NULL, NULL, (ARRAY['ES', 'IT'])[i % 2 + 1], '1980-01-01', '{}',
    NULL, 'middle', NULL, 2, '{}', '["seeded"]', '{}', 'referral', 'customer',
    'given' || i || ' family' || i || ' c' || i || '@example.com', 1,
    timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute',
    timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute', NULL
FROM generate_series(1, 100000) AS i;
INSERT INTO customer_tags (customer_id, tag) SELECT id, 'seeded' FROM customers WHERE tags = '["seeded"]'::jsonb;
ANALYZE;
