-- Erased customers (shopstream customer erase, DELETE /api/v1/customers/{id}).
-- The customer's id is not kept: key is the SHA-256 of it (hex), what the
-- processor and every batch write compare incoming records with, so that
-- a replay is pseudonymised on the way in; pseudonym is what replaced the
-- id in every table; rows counts what the erasure changed, per table (JSON).
CREATE TABLE erasures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key       text NOT NULL UNIQUE,
    pseudonym text NOT NULL,
    erased_at timestamptz NOT NULL,
    actor     text NOT NULL,
    rows      text NOT NULL
);

-- With --ip-hash-key-file the stored ip_address is a keyed hash; the
-- address's country and whether it belongs to a hosting provider are kept
-- beside it, so the fraud features replayed from the store stay the same.
ALTER TABLE transactions ADD COLUMN ip_country text NOT NULL DEFAULT '';
ALTER TABLE transactions ADD COLUMN ip_hosting boolean NOT NULL DEFAULT false;
