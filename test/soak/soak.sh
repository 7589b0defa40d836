#!/usr/bin/env bash
# A bounded soak of `shopstream run`: starts it on a free loopback port with
# an empty data directory, samples its disk and memory every INTERVAL
# seconds, prints the table, then the least-squares slope of the data
# directory and of RSS over the samples after the retention window, and
# fails (exit 1) if either grows faster than its tolerance.
#
#   test/soak/soak.sh [options] [-- extra flags for shopstream run]
#
#   -b BIN        the shopstream binary (default: go build into a temporary dir)
#   -d MINUTES    length of the run (default 30)
#   -i SECONDS    sampling interval (default 60)
#   -w MINUTES    retention window: every --retain-* age and the embedded
#                 broker's --retain-broker (default 10)
#   -s MINUTES    first minute of the slope (default: the window + 5, so the
#                 first passes that delete have run)
#   -D MIB        tolerance of the data directory's slope, MiB a minute (default 1)
#   -R MIB        tolerance of RSS's slope, MiB a minute (default 2)
#   -M            leave the bounds of what run keeps in memory at run's
#                 defaults; without it they are set small, so that they
#                 bind within the run as the window does for the ages:
#                 --recommend-max-customers 20000 --recommend-max-pairs 200000
#                 --fraud-max-customers 5000 --fraud-max-entities 5000
#   -k            keep the data directory and the run's log afterwards
#
# Everything else is run's default (10 transactions/s after a 540-day
# backfill). The run's stderr goes to DIR/run.log with GODEBUG=gctrace=1, so
# the live heap after each collection can be compared with RSS:
#   grep -o '[0-9]*->[0-9]*->[0-9]* MB' DIR/run.log
# The table goes to stdout; the verdict is the last line. Sizes: the
# database file, its write-ahead log, the embedded broker's directory and
# the whole data directory (du, so sparse and freed space is not counted);
# RSS is VmRSS of the process; heap is the live heap after the latest
# collection (gctrace); stored is /api/v1/summary's transactions_total;
# load is the 1-minute load average. The heap's slope is printed beside the
# others but does not decide the verdict.
set -euo pipefail

bin="" minutes=30 interval=60 window=10 from="" tol_disk=1 tol_rss=2 keep=0 bounds=1
while getopts "b:d:i:w:s:D:R:Mkh" o; do
	case "$o" in
	b) bin="$OPTARG" ;;
	d) minutes="$OPTARG" ;;
	i) interval="$OPTARG" ;;
	w) window="$OPTARG" ;;
	s) from="$OPTARG" ;;
	D) tol_disk="$OPTARG" ;;
	R) tol_rss="$OPTARG" ;;
	k) keep=1 ;;
	M) bounds=0 ;;
	*) sed -n '2,38p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ "${1:-}" == "--" ]] && shift
for v in minutes interval window tol_disk tol_rss; do
	[[ "${!v}" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "soak.sh: invalid value ${!v} for $v: want a number" >&2; exit 2; }
done
[[ "$minutes" =~ ^[0-9]+$ && "$minutes" -ge 1 && "$minutes" -le 240 ]] || { echo "soak.sh: invalid value $minutes for -d: want 1 to 240 minutes" >&2; exit 2; }
from="${from:-$((window + 5))}"
[[ "$from" =~ ^[0-9]+$ && "$from" -lt "$minutes" ]] || { echo "soak.sh: the slope's first minute ($from) must be before the end (-d $minutes)" >&2; exit 2; }

dir="$(mktemp -d /tmp/shopstream-soak.XXXXXX)"
if [[ -z "$bin" ]]; then
	here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
	(cd "$here/../.." && go build -o "$dir/shopstream" ./cmd/shopstream)
	bin="$dir/shopstream"
fi
data="$dir/data"
pid=""
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [[ "$keep" == 1 ]]; then
		echo "soak.sh: kept $dir" >&2
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT

w="${window}m"
mem=()
if [[ "$bounds" == 1 ]]; then
	mem=(--recommend-max-customers 20000 --recommend-max-pairs 200000 --fraud-max-customers 5000 --fraud-max-entities 5000)
fi
GODEBUG=gctrace=1 "$bin" run --data-dir "$data" --addr 127.0.0.1:0 --duration "$((minutes + 1))m" \
	--retain-transactions "$w" --retain-minute-windows "$w" --retain-quarantine "$w" --retain-alerts "$w" \
	--retain-outbox "$w" --retain-rollups "$w" --retain-quality "$w" --retain-audit "$w" --retain-broker "$w" "${mem[@]}" "$@" >"$dir/run.out" 2>"$dir/run.log" &
pid=$!
url=""
for _ in $(seq 1 600); do
	url="$(sed -n 's/^shopstream is running: dashboard on \(http:[^ ,]*\).*/\1/p' "$dir/run.out" | head -n1)"
	[[ -n "$url" ]] && break
	kill -0 "$pid" 2>/dev/null || { cat "$dir/run.log" >&2; echo "soak.sh: shopstream run stopped before serving" >&2; exit 1; }
	sleep 0.1
done
[[ -n "$url" ]] || { echo "soak.sh: shopstream run did not print its address within a minute" >&2; exit 1; }
echo "soak: $bin run at $url, data in $data, $minutes min, every ${interval}s, retention window $w; memory bounds: ${mem[*]:-the defaults of run}; extra flags: $*"

mib() { echo $(( ${1:-0} / 1048576 )); }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
samples="$dir/samples"
: >"$samples"
printf '| min | db MiB | WAL MiB | Kafka MiB | data dir MiB | RSS MiB | heap MB | stored | load |\n|---|---|---|---|---|---|---|---|---|\n'
start=$(date +%s)
end=$((start + minutes * 60))
while :; do
	now=$(date +%s)
	kill -0 "$pid" 2>/dev/null || { echo "soak.sh: shopstream run stopped early" >&2; tail -n 20 "$dir/run.log" >&2; exit 1; }
	t=$(awk -v s=$((now - start)) 'BEGIN { printf "%.1f", s / 60 }')
	db=$(size "$data/shopstream.db")
	wal=$(size "$data/shopstream.db-wal")
	# du fails when a file it listed is removed before it reads it (the
	# broker's segments, SQLite's journal): what it counted stands.
	kafka=$(du -sb "$data/kafka" 2>/dev/null | cut -f1 || true)
	all=$(du -sb "$data" 2>/dev/null | cut -f1 || true)
	rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$pid/status" || true)
	# A sample must not end the soak: an answer that does not come within
	# 10 s (a loaded host) is shown as "?".
	stored=$(curl -s --max-time 10 "$url/api/v1/summary" | sed -n 's/.*"transactions_total":\([0-9]*\).*/\1/p' || true)
	# The live heap after the latest collection: gctrace's "a->b->c MB".
	heap=$(grep '^gc ' "$dir/run.log" | tail -n 1 | sed -n 's/.*->\([0-9]*\) MB,.*/\1/p' || true)
	load=$(cut -d' ' -f1 /proc/loadavg)
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$(mib "$db")" "$(mib "$wal")" "$(mib "$kafka")" "$(mib "$all")" "$(mib "$rss")" "${heap:-?}" "${stored:-?}" "$load"
	echo "$t $all $rss ${heap:-0}" >>"$samples"
	[[ $((now + interval)) -le $end ]] || break
	wait_s=$((interval - ($(date +%s) - now)))
	((wait_s <= 0)) || sleep "$wait_s"
done

# Least-squares slopes (MiB a minute) from minute $from on.
awk -v from="$from" -v td="$tol_disk" -v tr="$tol_rss" '
$1 >= from { n++; x[n] = $1; d[n] = $2 / 1048576; r[n] = $3 / 1048576; h[n] = $4 }
function slope(y,   i, sx, sy, sxx, sxy) {
	for (i = 1; i <= n; i++) { sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i] }
	return (n * sxy - sx * sy) / (n * sxx - sx * sx)
}
function span(y, unit,   i, lo, hi) {
	lo = hi = y[1]
	for (i = 2; i <= n; i++) { if (y[i] < lo) lo = y[i]; if (y[i] > hi) hi = y[i] }
	return sprintf("%.0f to %.0f %s", lo, hi, unit)
}
END {
	if (n < 3) { print "FAIL: fewer than 3 samples from minute " from " on"; exit 1 }
	sd = slope(d); sr = slope(r); sh = slope(h)
	printf "from minute %s (%d samples): data dir %s, slope %+.2f MiB/min (tolerance %s); RSS %s, slope %+.2f MiB/min (tolerance %s); live heap %s, slope %+.2f MB/min\n", from, n, span(d, "MiB"), sd, td, span(r, "MiB"), sr, tr, span(h, "MB"), sh
	if (sd > td || sr > tr) { print "FAIL: not flat (growing)"; exit 1 }
	print "PASS: flat"
}' "$samples"
