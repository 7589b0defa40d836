#!/bin/sh
# burst.sh: how long a transaction takes to be stored by `shopstream
# process`, run the deployed way (a `shopstream broker` child, `process`
# with its default flags plus those given), when a stream at a fixed rate
# follows a backlog, as in the bench's deployed phase: first BACKLOG
# records at full speed (`generate --rate 0 --start auto`, a simulated
# history ending within the day before now, over 1,000,000 customers),
# and once they are stored, RATE/s for SECONDS (the same shop continued:
# `generate --continue 1`, new transaction IDs). The
# background jobs (the product fold, the analytics refresh, the model
# training) are then still working through the backlog.
#
#   [BURST_WAIT=S] test/perf/burst.sh BIN SOCKETDIR PORT BACKLOG RATE SECONDS [process flags...]
#
# With BURST_WAIT, the paced part starts S seconds after the backlog was
# stored instead of at once.
#
# It prints the latency (stored_at, the database's now() in the writing
# transaction, minus produced_at, the record's Kafka timestamp) of the
# paced records produced 2 s or more after the backlog was stored:
#
#   n=581000 p50_ms=92.5 p95_ms=535.8 p99_ms=793.7
#
# then one line per second of produce time (records, p50 and worst ms),
# the statements that took the database's time during the paced part
# (pg_stat_statements, which the cluster must preload), and `process`'s
# lines about its background jobs (its log: burst_<pid>.log under
# $TMPDIR). SOCKETDIR and PORT are where a PostgreSQL cluster of this
# host listens; a database of its own (burst_<pid>) is created and
# dropped (kept with KEEPDB=1). Binds only to 127.0.0.1.
set -eu
bin=$1 sock=$2 port=$3 backlog=$4 rate=$5 secs=$6
shift 6
name=burst
. "$(dirname "$0")/lib.sh"

"$bin" generate --brokers "$broker" --rate 0 --count "$backlog" --start auto --customers 1000000 --seed 2 >/dev/null 2>&1
wait_committed "$backlog" 600
[ -z "${BURST_WAIT:-}" ] || sleep "$BURST_WAIT"
psqlc -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
t0=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
"$bin" generate --brokers "$broker" --rate "$rate" --duration "${secs}s" --customers 1000000 --seed 2 --continue 1 >/dev/null 2>&1
# Stored once the committed offsets stop moving for a second.
prev=-1
while :; do
	s=$(committed)
	[ "$s" = "$prev" ] && break
	prev=$s
	sleep 1
done
[ "$s" -gt "$backlog" ] || { echo "nothing of the paced part stored: see $log" >&2; exit 1; }
psqlc -d "$db" -F ' ' -c "SELECT 'n=' || n, 'p50_ms=' || round(p[1]::numeric, 1), 'p95_ms=' || round(p[2]::numeric, 1), 'p99_ms=' || round(p[3]::numeric, 1)
	FROM (SELECT count(*) AS n, percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - produced_at) * 1000) AS p
	FROM transactions WHERE produced_at >= '$t0'::timestamptz + interval '2 seconds') s"
psqlc -d "$db" -F ' ' -c "SELECT to_char(date_trunc('second', produced_at), 'HH24:MI:SS'), count(*),
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - produced_at) * 1000)::numeric),
	round(max(extract(epoch FROM stored_at - produced_at) * 1000)::numeric)
	FROM transactions WHERE produced_at >= '$t0' GROUP BY 1 ORDER BY 1"
psqlc -d "$db" -F ' | ' -c "SELECT calls, round(total_exec_time) AS ms, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 120)
	FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12"
grep -E 'msg="(analytics refreshed|product fold|fraud model trained)"' "$log" || true
