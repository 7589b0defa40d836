-- Erased customers: see the PostgreSQL migration of the same number.
CREATE TABLE erasures (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    key       TEXT NOT NULL UNIQUE,
    pseudonym TEXT NOT NULL,
    erased_at INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    rows      TEXT NOT NULL
);

ALTER TABLE transactions ADD COLUMN ip_country TEXT NOT NULL DEFAULT '';
ALTER TABLE transactions ADD COLUMN ip_hosting INTEGER NOT NULL DEFAULT 0;
