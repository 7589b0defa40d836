#!/bin/sh
# pgstat.sh: where PostgreSQL's time and WAL go per statement of the
# processor's batch writes, run the deployed way (a `shopstream broker`
# child, `shopstream process` with its default flags, `shopstream
# generate` at full speed), against a PostgreSQL cluster that loads
# pg_stat_statements (shared_preload_libraries) and tracks I/O timing.
#
#   [PGSTAT_PRE=SQL] [PGSTAT_CREATE=OPTIONS] [PGSTAT_START=TIME] [PGSTAT_LOCKS=0]
#     test/perf/pgstat.sh BIN PGDATA SOCKETDIR PORT RECORDS CUSTOMERS [process flags...]
#
# PGDATA is the cluster's data directory (its postmaster.pid names the
# server whose CPU is counted: the postmaster and its children, the
# children that ended included), SOCKETDIR and PORT where it listens. A
# database of its own (perf_<pid>) is created and dropped. The counters
# (pg_stat_statements, pg_stat_wal, the WAL position, the CPU of both
# processes) are taken just before the generator starts and when the sum
# of the transactions topic's committed offsets reaches RECORDS, then,
# with the labels topic on, once no label event is left pending (at most
# 30 s more: the labels consumer's sweep applies the last ones; the
# throughput is still taken at the last transaction's commit). Then,
# per table of the batch path, the rows inserted and updated (HOT among
# them) and the heap's and indexes' sizes. Binds only to 127.0.0.1.
#
# The generator's simulated history ends within the day before the run
# (`generate --start auto`, found before the counters start), as the
# bench's deployed phase has it: from the generator's default start
# (2026-01-01) the records were months old, and the processor's
# retention (--retain-rollups 30d) deleted the rollup rows its batches
# had just written. PGSTAT_START=TIME starts it at TIME instead (e.g.
# 2026-01-01T00:00:00Z, the runs before).
#
# Unless PGSTAT_LOCKS=0, pg_stat_activity is sampled every 0.1 s (plus a
# psql's start) from the generator's start to the last commit, and the
# backends waiting on a lock are counted by wait event and statement (the
# lines "lock waits sampled"), with the deadlocks the database counted
# (pg_stat_database.deadlocks) over the run.
set -eu
bin=$1 pgdata=$2 sock=$3 port=$4 records=$5 customers=$6
shift 6
db=perf_$$
psqlc() { psql -X -q -At -h "$sock" -p "$port" -U postgres "$@"; }
url="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
broker=127.0.0.1:$((20000 + $$ % 10000))
http=127.0.0.1:$((30000 + $$ % 10000))

# PGSTAT_CREATE: options of the run's CREATE DATABASE, e.g.
# "TEMPLATE template0 LC_COLLATE 'C'" to measure the text keys compared
# bytewise instead of by the cluster's collation.
psqlc -d postgres -c "CREATE DATABASE $db ${PGSTAT_CREATE:-}"
cleanup() {
	[ -n "${sp:-}" ] && kill "$sp" 2>/dev/null && wait "$sp" 2>/dev/null
	rm -f "/tmp/pgstat_locks_$$"
	[ -n "${pp:-}" ] && kill "$pp" 2>/dev/null && wait "$pp" 2>/dev/null
	[ -n "${bp:-}" ] && kill "$bp" 2>/dev/null && wait "$bp" 2>/dev/null
	psqlc -d postgres -c "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT

"$bin" broker --addr "$broker" --log-level warn &
bp=$!
"$bin" process --brokers "$broker" --postgres "$url" --addr "$http" --log-level warn "$@" &
pp=$!
i=0
until curl -fs "http://$http/healthz" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 600 ] || { echo "process not healthy" >&2; exit 1; }
	sleep 0.1
done
psqlc -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
# PGSTAT_PRE: SQL run on the migrated schema before the counters start,
# e.g. a storage or index change measured before it becomes a migration.
[ -z "${PGSTAT_PRE:-}" ] || psqlc -d "$db" -c "$PGSTAT_PRE"

# CPU time in clock ticks (user + system) of one process, and of the
# PostgreSQL server: the postmaster, the children it reaped and those alive.
cpu_of() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
pg_cpu() {
	pm=$(head -1 "$pgdata/postmaster.pid")
	t=$(sed 's/.*) //' "/proc/$pm/stat" | awk '{print $12 + $13 + $14 + $15}')
	for s in /proc/[0-9]*/stat; do
		sed 's/.*) //' "$s" 2>/dev/null | awk -v pm="$pm" '$2 == pm {print $12 + $13}'
	done | awk -v t="$t" '{t += $1} END {print t}'
}
# The records `process` committed, from its metrics (as lib.sh's): a psql
# per poll costs about 25 ms of CPU and a backend's start in the server.
committed() { curl -fs "http://$http/metrics" | awk '/^shopstream_records_total\{/ {n += $2} END {printf "%.0f\n", n}'; }
pending() { psqlc -d "$db" -c "SELECT count(*) FROM label_events WHERE state = 0"; }

# The generator's start (above), found before anything is counted.
start=${PGSTAT_START:-$("$bin" generate --out /dev/null --rate 0 --count "$records" --customers "$customers" --seed 1 --start auto 2>&1 |
	sed -n 's/^generate: --start auto: //p')}
[ -n "$start" ] || { echo "no generator start" >&2; exit 1; }

# A checkpoint first, so that no timed one (and its full-page images)
# falls inside a run of a few minutes by chance.
psqlc -d "$db" -c "CHECKPOINT"
psqlc -d "$db" -c "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset_shared('wal')" >/dev/null
lsn0=$(psqlc -d "$db" -c "SELECT pg_current_wal_lsn()")
dl0=$(psqlc -d "$db" -c "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
if [ "${PGSTAT_LOCKS:-1}" != 0 ]; then
	# One line per backend waiting on a lock, every 0.1 s, until the
	# stored offsets reach RECORDS (or the script ends).
	(while :; do
		psqlc -d "$db" -c "SELECT '-' UNION ALL SELECT wait_event || ' ' || left(regexp_replace(query, '\s+', ' ', 'g'), 60)
			FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'" 2>/dev/null
		sleep 0.1
	done) >"/tmp/pgstat_locks_$$" &
	sp=$!
fi
# The machine's idle time (all cores, /proc/stat's fourth and fifth
# fields: idle and iowait) from the generator's start to the last commit.
idle() { awk '/^cpu / {print $5 + $6}' /proc/stat; }
go0=$(cpu_of "$pp") pg0=$(pg_cpu) br0=$(cpu_of "$bp") id0=$(idle) t0=$(date +%s.%N)
"$bin" generate --brokers "$broker" --rate 0 --count "$records" --customers "$customers" --seed 1 --start "$start"
until [ "$(committed)" -ge "$records" ]; do sleep 0.2; done
t1=$(date +%s.%N) id1=$(idle) br1=$(cpu_of "$bp")
if [ -n "${sp:-}" ]; then kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null || true; sp=; fi
dl1=$(psqlc -d "$db" -c "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
i=0
until [ "$(pending)" -eq 0 ] || [ $i -ge 150 ]; do i=$((i + 1)); sleep 0.2; done
go1=$(cpu_of "$pp") pg1=$(pg_cpu)
lsn1=$(psqlc -d "$db" -c "SELECT pg_current_wal_lsn()")

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "generator start: $start"
if [ -f "/tmp/pgstat_locks_$$" ]; then
	echo "lock waits sampled: $(grep -cv '^-$' "/tmp/pgstat_locks_$$") backends waiting in $(grep -c '^-$' "/tmp/pgstat_locks_$$") samples, deadlocks $((dl1 - dl0))"
	grep -v '^-$' "/tmp/pgstat_locks_$$" | sort | uniq -c | sort -rn | head -8
fi
awk -v hz="$(getconf CLK_TCK)" -v n="$records" -v t0="$t0" -v t1="$t1" -v g0="$go0" -v g1="$go1" -v p0="$pg0" -v p1="$pg1" -v b0="$br0" -v b1="$br1" -v i0="$id0" -v i1="$id1" -v cores="$(nproc)" 'BEGIN {
	printf "records %d in %.1f s (%.0f tx/s, generator start to last commit)\n", n, t1 - t0, n / (t1 - t0)
	printf "process CPU %.1f µs/tx, PostgreSQL CPU %.1f µs/tx\n", (g1 - g0) / hz / n * 1e6, (p1 - p0) / hz / n * 1e6
	printf "broker CPU %.1f µs/tx; the machine idle %.0f%% of %d cores (generator start to last commit)\n", (b1 - b0) / hz / n * 1e6, (i1 - i0) / hz / (t1 - t0) / cores * 100, cores }'
psqlc -d "$db" -v n="$records" -v a="'$lsn0'" -v b="'$lsn1'" <<'SQL'
SELECT format('WAL %s bytes/tx (%s), records %s, full-page images %s',
	round(pg_wal_lsn_diff(:b, :a) / :n), pg_size_pretty(pg_wal_lsn_diff(:b, :a)),
	wal_records, wal_fpi) FROM pg_stat_wal;
SELECT format('label events: %s pending, %s applied, %s expired',
	count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state = 1), count(*) FILTER (WHERE state = 2)) FROM label_events;
-- The labels path: the statements only the labels consumer runs (its
-- rollup and offset statements share their text with the processor's
-- and are counted with them below).
SELECT format('labels path (its own statements): %s calls, %s µs/tx, WAL %s bytes/tx',
	coalesce(sum(calls), 0), round(coalesce(sum(total_exec_time), 0)::numeric * 1000 / :n, 2), round(coalesce(sum(wal_bytes), 0) / :n))
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND query ~ '(label_events|upsert_labels|INTO labels|status = status|enable_seqscan|t\.shadow_risk, l\.fraud, l\.scenario, a\.status)';
\pset format aligned
\pset footer off
-- One line per statement text: a merge from a temporary table is a new
-- statement to pg_stat_statements in every transaction (the table is).
SELECT sum(calls) AS calls, round(sum(total_exec_time)::numeric) AS total_ms, sum(rows) AS rows,
	round((sum(total_exec_time) * 1000 / :n)::numeric, 2) AS exec_us_per_tx,
	round(sum(wal_bytes) / :n) AS wal_b_per_tx, round(sum(wal_fpi)::numeric / :n, 3) AS fpi_per_tx,
	round(sum(blk_write_time)::numeric) AS write_ms, statement
FROM (SELECT *, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS statement FROM pg_stat_statements
	WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS s
GROUP BY statement ORDER BY sum(total_exec_time) DESC LIMIT 20;
-- Per table: rows inserted and updated (HOT: updated in place, no index
-- entry) in the run, and the heap's and indexes' size at its end.
SELECT relname AS table, n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS hot,
	round(n_tup_ins::numeric / :n, 3) AS ins_per_tx, round(n_tup_upd::numeric / :n, 3) AS upd_per_tx,
	pg_size_pretty(pg_table_size(relid)) AS heap, pg_size_pretty(pg_indexes_size(relid)) AS indexes
FROM pg_stat_user_tables
WHERE relname IN ('transaction_ids', 'customers', 'quality_minutes', 'fraud_rollups', 'window_metrics', 'labels')
	OR relname LIKE 'transactions%'
ORDER BY n_tup_ins + n_tup_upd DESC LIMIT 12;
SQL
