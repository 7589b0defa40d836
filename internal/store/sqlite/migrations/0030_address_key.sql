-- The deployment's secret key for shipping addresses; see the PostgreSQL
-- migration.
CREATE TABLE deployment_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    address_key BLOB NOT NULL CHECK (length(address_key) >= 32)
);
