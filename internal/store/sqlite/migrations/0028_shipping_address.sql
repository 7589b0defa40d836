-- The shipping address's key: see the PostgreSQL migration of the same number.
ALTER TABLE transactions ADD COLUMN shipping_address TEXT NOT NULL DEFAULT '';
