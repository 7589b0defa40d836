#!/bin/sh
# steady.sh: whether `shopstream process`, run the deployed way (a
# `shopstream broker` child, `process` with its default flags), keeps up
# with a stream offered at a fixed rate into a fresh database, second by
# second: the processor's lag (the sum of shopstream_consumer_lag_records)
# and its resident memory, and the statements running for more than 0.3 s.
#
#   test/perf/steady.sh BIN SOCKETDIR PORT RATE SECONDS [process flags...]
#
# SOCKETDIR and PORT are where a PostgreSQL cluster listens; a database of
# its own (steady_<pid>) is created and dropped. The generator offers RATE
# transactions/s for SECONDS over a shop of 1,000,000 customers
# (`generate --rate RATE --duration SECONDS`). Lines:
#
#   t=41s stored=798734 lag=12674 rss=916M
#
# with `process`'s log in steady_<pid>.log under $TMPDIR (kept). With
# --memprofile FILE among the process flags, the heap profile at its stop
# says what held the memory (`go tool pprof -top BIN FILE`). Binds only to
# 127.0.0.1.
set -eu
bin=$1 sock=$2 port=$3 rate=$4 secs=$5
shift 5
name=steady
. "$(dirname "$0")/lib.sh"

"$bin" generate --brokers "$broker" --rate "$rate" --duration "${secs}s" --customers 1000000 --seed 2 >/dev/null 2>&1 &
gp=$!
t0=$(date +%s)
while kill -0 "$gp" 2>/dev/null; do
	sleep 1
	lag=$(curl -s "http://$http/metrics" | awk '/^shopstream_consumer_lag_records/ {s += $2} END {print s + 0}')
	rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pp/status")
	echo "t=$(($(date +%s) - t0))s stored=$(stored) lag=$lag rss=${rss}M"
	psqlc -d "$db" -c "SELECT '   ' || backend_type || ' ' || state || ' ' || coalesce(wait_event, '-') || ' ' ||
		(now() - query_start)::text || ' ' || left(regexp_replace(query, '\s+', ' ', 'g'), 90)
		FROM pg_stat_activity WHERE state <> 'idle' AND pid <> pg_backend_pid() AND now() - query_start > interval '0.3 s'" || true
done
gp=
echo "process log: $log"
