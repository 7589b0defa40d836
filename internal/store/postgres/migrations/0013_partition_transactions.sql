-- transactions becomes range-partitioned by event time, one partition per
-- UTC day (transactions_pYYYYMMDD), so retention drops a whole day at once
-- instead of deleting it row by row (--retain-transactions).
--
-- The table as it was becomes the DEFAULT partition, without copying a
-- row: it keeps the days stored so far, and every event of a day that has
-- no partition of its own (history, late events). The retention job
-- creates the partitions of the coming days ahead of the stream and
-- deletes what is past the retention from the default partition in
-- bounded batches.
--
-- A partitioned table's primary key must include the partition key, so
-- it is (transaction_id, event_time): that alone would let one id be
-- stored again with another event time. The stored ids therefore also go
-- into transaction_ids, whose primary key is the id alone: it is what
-- refuses a transaction stored already (the exactly-once dedup), written
-- in the same transaction, and pruned with the transactions.
ALTER TABLE transactions VALIDATE CONSTRAINT transactions_total_cents_check;
ALTER TABLE transactions RENAME TO transactions_default;
-- Its key on the id alone gives way to the partitioned key (built on
-- attach) and to transaction_ids.
ALTER TABLE transactions_default DROP CONSTRAINT transactions_pkey;
ALTER INDEX transactions_customer_idx RENAME TO transactions_default_customer_idx;
ALTER INDEX transactions_partition_idx RENAME TO transactions_default_partition_idx;

CREATE TABLE transactions (
    transaction_id   text NOT NULL,
    customer_id      text NOT NULL,
    event_time       timestamptz NOT NULL,
    total_cents      bigint NOT NULL,
    currency         text NOT NULL,
    payment_method   text NOT NULL,
    channel          text NOT NULL,
    card_bin         text NOT NULL,
    card_last4       text NOT NULL,
    device_id        text NOT NULL,
    ip_address       text NOT NULL,
    billing_country  text NOT NULL,
    shipping_country text NOT NULL,
    items            json NOT NULL,
    kafka_partition  integer NOT NULL,
    kafka_offset     bigint NOT NULL,
    risk             real NOT NULL,
    decision         text NOT NULL,
    reasons          json NOT NULL,
    shadow_risk      real,
    features         real[],
    produced_at      timestamptz NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transactions_total_cents_check CHECK (total_cents >= 0),
    PRIMARY KEY (transaction_id, event_time)
) PARTITION BY RANGE (event_time);
CREATE INDEX transactions_customer_idx ON transactions (customer_id, event_time);
CREATE INDEX transactions_partition_idx ON transactions (kafka_partition, kafka_offset);
ALTER TABLE transactions ATTACH PARTITION transactions_default DEFAULT;

CREATE TABLE transaction_ids (
    transaction_id text PRIMARY KEY
);
INSERT INTO transaction_ids (transaction_id) SELECT transaction_id FROM transactions_default;
