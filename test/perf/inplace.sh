#!/bin/sh
# inplace.sh: what the product rollup's covering index (migration 0031,
# dropped by 0038) and the customer list's twin of the key (0032 once
# 0034 made every text column compare as bytes, dropped by 0037) cost the
# writes that keep those tables, measured on copies of the tables of a
# database kept by `KEEPDB=1 test/perf/burst.sh ...`:
#
#   test/perf/inplace.sh SOCKETDIR PORT DATABASE
#
# It copies each table twice, with each set of indexes, then upserts the
# same rows into each copy alternately: one steady product fold run's rows
# (today's day rows and the last hour's, every sum changed) six times, and
# every customer's analytics row twice. It prints each upsert's time and
# WAL, then the updates made in place (HOT) and the 30-day totals' plan of
# both product copies, and drops the copies. Binds only to 127.0.0.1.
set -eu
sock=$1 port=$2 db=$3
q() { psql -h "$sock" -p "$port" -U postgres -d "$db" -X -q -v ON_ERROR_STOP=1 "$@"; }

q <<'SQL'
DROP TABLE IF EXISTS pw_covering, pw_inplace, pw_src, ca_twin, ca_key, ca_src;
CREATE TABLE pw_covering (LIKE product_windows INCLUDING DEFAULTS INCLUDING STORAGE) WITH (toast_tuple_target = 128);
CREATE TABLE pw_inplace (LIKE product_windows INCLUDING DEFAULTS INCLUDING STORAGE) WITH (toast_tuple_target = 128, fillfactor = 70);
INSERT INTO pw_covering SELECT * FROM product_windows ORDER BY granularity, window_start;
INSERT INTO pw_inplace SELECT * FROM product_windows ORDER BY granularity, window_start;
ALTER TABLE pw_covering ADD PRIMARY KEY (granularity, window_start, product_id, currency);
CREATE INDEX ON pw_covering (granularity, window_start) INCLUDE (product_id, currency, units, orders, revenue_minor);
CREATE INDEX ON pw_covering (product_id, granularity, window_start);
ALTER TABLE pw_inplace ADD PRIMARY KEY (granularity, window_start, product_id, currency);
CREATE INDEX ON pw_inplace (product_id, granularity, window_start);
CREATE TABLE pw_src AS SELECT * FROM product_windows
	WHERE (granularity = 'day' AND window_start = (SELECT max(window_start) FROM product_windows WHERE granularity = 'day'))
		OR (granularity = 'hour' AND window_start = (SELECT max(window_start) FROM product_windows WHERE granularity = 'hour'));
CREATE TABLE ca_twin (LIKE customer_analytics INCLUDING DEFAULTS);
CREATE TABLE ca_key (LIKE customer_analytics INCLUDING DEFAULTS);
INSERT INTO ca_twin SELECT * FROM customer_analytics;
INSERT INTO ca_key SELECT * FROM customer_analytics;
ALTER TABLE ca_twin ADD PRIMARY KEY (customer_id);
ALTER TABLE ca_key ADD PRIMARY KEY (customer_id);
CREATE INDEX ON ca_twin (customer_id COLLATE "C");
CREATE INDEX ON ca_twin (clv DESC NULLS LAST);
CREATE INDEX ON ca_key (clv DESC NULLS LAST);
CREATE INDEX ON ca_twin (segment, customer_id);
CREATE INDEX ON ca_key (segment, customer_id);
CREATE TABLE ca_src AS SELECT * FROM customer_analytics;
UPDATE ca_src SET recency_days = recency_days + 1, clv = clv * 1.01;
VACUUM ANALYZE pw_covering, pw_inplace, ca_twin, ca_key;
CHECKPOINT;
SQL
echo "product rows per fold run: $(q -At -c 'SELECT count(*) FROM pw_src'); customers: $(q -At -c 'SELECT count(*) FROM ca_src')"

# upsert TABLE SQL: one upsert's time and WAL.
upsert() {
	q -At -F ' ' <<SQL
SELECT pg_current_wal_lsn() AS l0, clock_timestamp() AS t0 \gset
$2;
SELECT '$1', round(extract(epoch FROM clock_timestamp() - :'t0') * 1000) || ' ms', pg_wal_lsn_diff(pg_current_wal_lsn(), :'l0') || ' bytes of WAL';
SQL
}
for i in 1 2 3 4 5 6; do
	for t in pw_covering pw_inplace; do
		upsert $t "INSERT INTO $t SELECT granularity, window_start, product_id, currency, units + 1, orders + 1, revenue_minor + 100, customers FROM pw_src
			ON CONFLICT (granularity, window_start, product_id, currency) DO UPDATE SET units = excluded.units, orders = excluded.orders,
			revenue_minor = excluded.revenue_minor, customers = excluded.customers"
	done
done
for i in 1 2; do
	for t in ca_twin ca_key; do
		upsert $t "INSERT INTO $t SELECT * FROM ca_src ON CONFLICT (customer_id) DO UPDATE SET recency_days = excluded.recency_days,
			clv = excluded.clv, updated_at = excluded.updated_at"
	done
done
q -c "SELECT relname, n_tup_upd AS updated, n_tup_hot_upd AS in_place FROM pg_stat_user_tables WHERE relname IN ('pw_covering', 'pw_inplace') ORDER BY 1"
q -c "VACUUM ANALYZE pw_covering, pw_inplace"
for t in pw_covering pw_inplace; do
	q -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT product_id, currency, sum(units), sum(orders), sum(revenue_minor) FROM $t
		WHERE granularity = 'day' AND window_start >= (SELECT max(window_start) FROM $t WHERE granularity = 'day') - interval '30 days'
		GROUP BY product_id, currency" | grep -E ' Scan |Execution'
done
q -c "DROP TABLE pw_covering, pw_inplace, pw_src, ca_twin, ca_key, ca_src"
