-- The deployment's secret key for shipping addresses (event.AddressKey:
-- the stored shipping_address, the entity stage's address:<key>, ring
-- reasons). One row, inserted once by the first process that needs it
-- (INSERT … ON CONFLICT DO NOTHING, then read), so every process of the
-- deployment keys addresses alike; --address-key-file overrides it.
CREATE TABLE deployment_settings (
    id          smallint PRIMARY KEY CHECK (id = 1),
    address_key bytea NOT NULL CHECK (length(address_key) >= 32)
);
