#!/bin/sh
# floors.sh: what PostgreSQL spends alone on two writes every stored
# transaction of `process` makes, outside the pipeline (docs/benchmarks.md,
# "What two cores allow the stream"), in a scratch database of the server
# at SOCKETDIR:PORT, dropped at the end:
#
#   test/perf/floors.sh SOCKETDIR PORT
#
#  1. the customer's upsert, as `process` sends it (unnest of arrays,
#     ON CONFLICT DO UPDATE with least/greatest/sums): 200,000 rows in 20
#     statements of 10,000, half of them new, into a table of 500,000 with
#     the customers table's key and fillfactor; then the same loop without
#     the INSERT, whose time (building the arrays) is subtracted;
#  2. a million rows of the transactions table's shape inserted by one
#     INSERT … SELECT into a plain table and into a table partitioned by
#     event time whose rows all land in its DEFAULT partition, each with
#     the three indexes of transactions.
#
# Each prints psql's "Time:" lines. Binds only to 127.0.0.1.
set -eu
sock=$1 port=$2
db=floors_$$
psql -h "$sock" -p "$port" -U postgres -X -q -c "CREATE DATABASE $db TEMPLATE template0 LC_COLLATE 'C'" postgres
trap 'psql -h "$sock" -p "$port" -U postgres -X -q -c "DROP DATABASE IF EXISTS $db" postgres' EXIT
q() { psql -h "$sock" -p "$port" -U postgres -d "$db" -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "== 1. the customer's upsert: 200,000 rows (first line), then the array building alone (second)"
q <<'SQL'
CREATE TABLE cfloor (customer_id text COLLATE "C" PRIMARY KEY, first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL, orders bigint NOT NULL, revenue_cents bigint NOT NULL) WITH (fillfactor = 80);
INSERT INTO cfloor SELECT 'C' || lpad(md5(i::text), 16, '0'), now(), now(), 1, 100 FROM generate_series(1, 500000) i;
VACUUM ANALYZE cfloor;
CHECKPOINT;
CREATE TEMP TABLE cbatch AS SELECT 'C' || lpad(md5(i::text), 16, '0') AS id, i FROM generate_series(400001, 600000) i;
\timing on
DO $$
DECLARE b int; ids text[]; f timestamptz[]; l timestamptz[]; o bigint[]; r bigint[];
BEGIN
FOR b IN 0..19 LOOP
  SELECT array_agg(id), array_agg(now()), array_agg(now()), array_agg(1::bigint), array_agg(250::bigint) INTO ids, f, l, o, r
    FROM cbatch WHERE i > 400000 + b * 10000 AND i <= 400000 + (b + 1) * 10000;
  INSERT INTO cfloor AS c (customer_id, first_seen, last_seen, orders, revenue_cents)
  SELECT * FROM unnest(ids, f, l, o, r)
  ON CONFLICT (customer_id) DO UPDATE SET first_seen = least(c.first_seen, excluded.first_seen),
    last_seen = greatest(c.last_seen, excluded.last_seen), orders = c.orders + excluded.orders,
    revenue_cents = c.revenue_cents + excluded.revenue_cents;
END LOOP;
END $$;
DO $$
DECLARE b int; ids text[]; f timestamptz[]; l timestamptz[]; o bigint[]; r bigint[];
BEGIN
FOR b IN 0..19 LOOP
  SELECT array_agg(id), array_agg(now()), array_agg(now()), array_agg(1::bigint), array_agg(250::bigint) INTO ids, f, l, o, r
    FROM cbatch WHERE i > 400000 + b * 10000 AND i <= 400000 + (b + 1) * 10000;
END LOOP;
END $$;
SQL

echo "== 2. a million transactions' rows: into a plain table (first line), into a partitioned one's DEFAULT partition (second)"
q <<'SQL'
CREATE TABLE src AS SELECT 'T' || md5(i::text) AS transaction_id, 'C' || lpad((abs(hashtext(i::text)) % 1000000)::text, 7, '0') AS customer_id,
  timestamptz '2026-12-06 00:00:00+00' + i * interval '80 ms' AS event_time, (i % 50000)::bigint AS total_cents, 'GBP'::text AS currency,
  'card'::text AS payment_method, 'web'::text AS channel, '411111'::text AS card_bin, '1234'::text AS card_last4,
  'D' || md5((i % 700000)::text) AS device_id, '10.1.2.3'::text AS ip_address, 'GB'::text AS billing_country, 'GB'::text AS shipping_country,
  ('[{"product_id":"P' || (i % 5000) || '","category":"electronics","quantity":1,"unit_price_cents":' || (i % 50000) ||
   '},{"product_id":"P' || (i % 3000) || '","category":"books","quantity":2,"unit_price_cents":999}]')::json AS items,
  (i % 12)::int AS kafka_partition, (i / 12)::bigint AS kafka_offset, 0.1::real AS risk, 'approve'::text AS decision, '[]'::json AS reasons,
  NULL::real AS shadow_risk, CASE WHEN i % 50 = 0 THEN ARRAY[1,2,3,4,5,6,7,8,9,10,11,12]::real[] END AS features, now() AS produced_at, now() AS stored_at
  FROM generate_series(1, 1000000) i;
CREATE TABLE tplain (LIKE src);
CREATE INDEX ON tplain (customer_id, event_time);
CREATE INDEX ON tplain (kafka_partition, kafka_offset);
CREATE INDEX ON tplain (kafka_partition, kafka_offset) WHERE features IS NOT NULL;
CREATE TABLE tpart (LIKE src) PARTITION BY RANGE (event_time);
CREATE INDEX ON tpart (customer_id, event_time);
CREATE INDEX ON tpart (kafka_partition, kafka_offset);
CREATE INDEX ON tpart (kafka_partition, kafka_offset) WHERE features IS NOT NULL;
CREATE TABLE tpart_default PARTITION OF tpart DEFAULT;
CREATE TABLE tpart_p1 PARTITION OF tpart FOR VALUES FROM ('2026-12-08') TO ('2026-12-09');
CHECKPOINT;
\timing on
INSERT INTO tplain SELECT * FROM src;
INSERT INTO tpart SELECT * FROM src;
SQL
