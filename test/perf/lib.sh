# lib.sh: the deployed shape that steady.sh and paced.sh measure, sourced by
# them once they have set bin (the shopstream binary), sock and port (where a
# PostgreSQL cluster of this host listens) and name (the prefix of the
# database and the log), with `process`'s extra flags as "$@". It creates a
# database of its own (NAME_<pid>), starts a `shopstream broker` child and
# `process` with its default flags and those given (log in
# $TMPDIR/NAME_<pid>.log), waits until `process` is healthy, and on exit
# stops the generator ($gp, when the caller started one), `process` and the
# broker and drops the database (kept with KEEPDB=1). It defines psqlc (psql
# against the cluster), stored (the records committed, the sum of the
# stored offsets), committed (the records `process` committed, stored or
# quarantined, from its metrics: cheaper to poll than a psql, about 25 ms
# of CPU a call and a backend's start in the server) and wait_committed N
# SECONDS (polls committed every 0.2 s until it reaches N; fails after
# SECONDS). Binds only to 127.0.0.1.
db=${name}_$$
psqlc() { psql -X -q -At -h "$sock" -p "$port" -U postgres "$@"; }
url="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
broker=127.0.0.1:$((20000 + $$ % 10000))
http=127.0.0.1:$((30000 + $$ % 10000))
log=${TMPDIR:-/tmp}/${name}_$$.log

psqlc -d postgres -c "CREATE DATABASE $db"
cleanup() {
	[ -n "${gp:-}" ] && kill "$gp" 2>/dev/null && wait "$gp" 2>/dev/null
	[ -n "${pp:-}" ] && kill "$pp" 2>/dev/null && wait "$pp" 2>/dev/null
	[ -n "${bp:-}" ] && kill "$bp" 2>/dev/null && wait "$bp" 2>/dev/null
	[ -n "${KEEPDB:-}" ] || psqlc -d postgres -c "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT

"$bin" broker --addr "$broker" --log-level warn &
bp=$!
"$bin" process --brokers "$broker" --postgres "$url" --addr "$http" --log-level info "$@" >"$log" 2>&1 &
pp=$!
i=0
until curl -fs "http://$http/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -ge 600 ] || ! kill -0 "$pp" 2>/dev/null; then
		echo "process not healthy: see $log" >&2
		exit 1
	fi
	sleep 0.1
done
stored() { psqlc -d "$db" -c "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE topic = 'transactions'"; }
committed() { curl -fs "http://$http/metrics" | awk '/^shopstream_records_total\{/ {n += $2} END {printf "%.0f\n", n}'; }
wait_committed() {
	_i=0
	while [ "$(committed)" -lt "$1" ]; do
		_i=$((_i + 1))
		if [ $_i -ge $(($2 * 5)) ]; then
			echo "not all $1 records stored after $2 s: see $log" >&2
			exit 1
		fi
		sleep 0.2
	done
}
