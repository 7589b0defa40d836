#!/bin/sh
# outbox.sh: what the outbox's two updates per message (the claim's lease,
# then delivered_at) write at each fill factor (migration 0039), measured
# on copies of the outbox of a database kept by
# `KEEPDB=1 test/perf/burst.sh ...`:
#
#   test/perf/outbox.sh SOCKETDIR PORT DATABASE [FILLFACTOR...]
#
# For each fill factor (default: 100 50 100 50) it copies the outbox's
# messages five times into a table of that fill factor with the outbox's
# indexes, claims them 500 at a time as DeliverOutboxBatch does, then marks
# them all delivered, and prints the WAL per message of each step and the
# table's pages afterwards. Nothing is checkpointed in between, as in a
# stream, where a message is claimed soon after its insert. It drops the
# copy. Binds only to 127.0.0.1 (a socket directory).
set -eu
sock=$1 port=$2 db=$3
shift 3
[ $# -gt 0 ] || set -- 100 50 100 50
for ff in "$@"; do
	psql -h "$sock" -p "$port" -U postgres -d "$db" -X -q -v ON_ERROR_STOP=1 -v ff="$ff" <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS outbox_ff;
CREATE TABLE outbox_ff (LIKE outbox INCLUDING DEFAULTS INCLUDING STORAGE) WITH (fillfactor = :ff);
ALTER TABLE outbox_ff ADD PRIMARY KEY (id);
CREATE INDEX ON outbox_ff (next_attempt_at) WHERE delivered_at IS NULL;
INSERT INTO outbox_ff (id, kind, target, msg_key, headers, payload, created_at, attempts, next_attempt_at)
	SELECT o.id + g * 100000000, kind, target, msg_key, headers, payload, created_at, 0, now() - interval '1 hour'
	FROM outbox o, generate_series(0, 4) g;
SELECT pg_current_wal_lsn() AS l0 \gset
DO $$
DECLARE n int;
BEGIN
	LOOP
		UPDATE outbox_ff SET next_attempt_at = now() + interval '1 minute'
			WHERE id IN (SELECT id FROM outbox_ff WHERE delivered_at IS NULL AND next_attempt_at <= now()
				ORDER BY next_attempt_at, id LIMIT 500 FOR UPDATE SKIP LOCKED);
		GET DIAGNOSTICS n = ROW_COUNT;
		EXIT WHEN n = 0;
	END LOOP;
END $$;
SELECT pg_current_wal_lsn() AS l1 \gset
UPDATE outbox_ff SET delivered_at = now() WHERE delivered_at IS NULL;
SELECT pg_current_wal_lsn() AS l2 \gset
\pset footer off
SELECT :ff AS fillfactor, count(*) AS messages,
	round(pg_wal_lsn_diff(:'l1', :'l0') / count(*)) AS claim_wal_bytes_per_message,
	round(pg_wal_lsn_diff(:'l2', :'l1') / count(*)) AS delivered_wal_bytes_per_message,
	pg_relation_size('outbox_ff') / 8192 AS pages
FROM outbox_ff;
DROP TABLE outbox_ff;
SQL
done
