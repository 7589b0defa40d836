#!/bin/sh
# paced.sh: what `shopstream process`, run the deployed way (a `shopstream
# broker` child, `process` with its default flags plus those given), costs
# per transaction and how long a transaction takes to be stored, when the
# stream is offered at a fixed rate below the processor's speed, into a
# fresh database:
#
#   test/perf/paced.sh BIN SOCKETDIR PORT RATE COUNT [process flags...]
#
# SOCKETDIR and PORT are where a PostgreSQL cluster of this host listens
# (its data directory readable, for the server's CPU); a database of its own
# (paced_<pid>) is created and dropped. The generator offers COUNT
# transactions at RATE/s over a shop of 1,000,000 customers. It prints one
# line:
#
#   rate=5000 stored=200000 batches=1488 process_us_per_tx=56.2 pg_us_per_tx=74.7 p50_ms=34.4 p95_ms=59.4 p99_ms=80.8 p999_ms=257.5
#
# batches: the processor's database transactions that stored rows (distinct
# stored_at values); CPU: user + system of the `process` child over its life,
# and of the cluster (postmaster, the children it reaped and those alive)
# from the generator's start to the last stored record; latency: each
# row's stored_at (the database's now() in the writing transaction) minus
# its produced_at (the record's Kafka timestamp). Binds only to 127.0.0.1.
# With KEEPDB=1 in the environment the database is kept, to look into.
set -eu
bin=$1 sock=$2 port=$3 rate=$4 count=$5
shift 5
name=paced
. "$(dirname "$0")/lib.sh"

pgdata=$(psqlc -d postgres -c "SHOW data_directory")
postmaster=$(head -1 "$pgdata/postmaster.pid")
# The cluster's CPU ticks: the postmaster with the children it reaped, and
# its children alive.
pgticks() {
	a=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat")
	b=0
	for c in $(pgrep -P "$postmaster"); do
		b=$((b + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
	done
	echo $((a + b))
}

pg0=$(pgticks)
"$bin" generate --brokers "$broker" --rate "$rate" --count "$count" --customers 1000000 --seed 2 >/dev/null 2>&1
wait_committed "$count" 300
pg1=$(pgticks)
proc=$(awk '{print $14 + $15}' "/proc/$pp/stat")
hz=$(getconf CLK_TCK)
batches=$(psqlc -d "$db" -c "SELECT count(DISTINCT stored_at) FROM transactions")
lat=$(psqlc -d "$db" -F ' ' -c "SELECT round(p[1]::numeric, 1), round(p[2]::numeric, 1), round(p[3]::numeric, 1), round(p[4]::numeric, 1)
	FROM (SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99, 0.999]) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - produced_at) * 1000) p
	FROM transactions) s")
set -- $lat
awk -v rate="$rate" -v n="$count" -v b="$batches" -v proc="$proc" -v pg=$((pg1 - pg0)) -v hz="$hz" \
	-v p50="$1" -v p95="$2" -v p99="$3" -v p999="$4" 'BEGIN {
	printf "rate=%s stored=%d batches=%d process_us_per_tx=%.1f pg_us_per_tx=%.1f p50_ms=%s p95_ms=%s p99_ms=%s p999_ms=%s\n",
		rate, n, b, proc / hz / n * 1e6, pg / hz / n * 1e6, p50, p95, p99, p999 }'
