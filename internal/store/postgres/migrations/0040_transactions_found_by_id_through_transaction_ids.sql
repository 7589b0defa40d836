-- transactions loses its key (transaction_id, event_time). Since 0013 the
-- stored ids have a table of their own, transaction_ids, whose key on the
-- id alone is what refuses a transaction stored already; the key of
-- transactions refused nothing more (its event time makes it unique per
-- day table only), and served the searches by id. Keeping it cost every
-- stored transaction an insert into a third B-tree of random keys: a
-- COPY of 400,000 transactions into a copy of a day table holding a
-- million took 4.0 to 4.4 s with the key and 2.8 to 2.9 s without it,
-- and 355 against 278 MB of WAL.
--
-- transaction_ids now holds where each id's row is: its event time (which
-- day table), partition and offset (that table's (kafka_partition,
-- kafka_offset) index). A search by id joins the two (Queries.TxByID),
-- and looks in one day table, where a probe of the key looked in every
-- day's.
--
-- The table is made again from the stored transactions and replaces the
-- old one; an id whose transaction is no longer stored (none should be:
-- the two are pruned together) keeps its row, with the new columns NULL.
-- On a large store this reads every transaction and takes a while
-- (docs/deploy.md, "Migrations that take a while").
CREATE TABLE transaction_ids_0040 (
    transaction_id  text COLLATE "C" NOT NULL,
    event_time      timestamptz,
    kafka_partition integer,
    kafka_offset    bigint
);
INSERT INTO transaction_ids_0040 (transaction_id, event_time, kafka_partition, kafka_offset)
SELECT DISTINCT ON (i.transaction_id) i.transaction_id, t.event_time, t.kafka_partition, t.kafka_offset
FROM transaction_ids i LEFT JOIN transactions t ON t.transaction_id = i.transaction_id
ORDER BY i.transaction_id, t.event_time;
DROP TABLE transaction_ids;
ALTER TABLE transaction_ids_0040 RENAME TO transaction_ids;
ALTER TABLE transaction_ids ADD CONSTRAINT transaction_ids_pkey PRIMARY KEY (transaction_id);
ALTER TABLE transactions DROP CONSTRAINT transactions_pkey;
