#!/usr/bin/env bash
# A real, single-node Apache Kafka broker (KRaft: broker and controller in one
# JVM) on 127.0.0.1, for the integration tests in CI and by hand.
#
#   test/kafka/kafka.sh start [PORT]   fetch Kafka if needed, start the broker,
#                                      print KAFKA_BROKERS=127.0.0.1:PORT
#   test/kafka/kafka.sh stop           stop it and remove its data
#   test/kafka/kafka.sh status         print KAFKA_BROKERS=... if it runs
#   test/kafka/kafka.sh fetch          only fetch Kafka into test/kafka/lib
#
# PORT (or $KAFKA_PORT) defaults to 19092; 0 picks a free port, and so does the
# default when 19092 is taken. Kafka and its dependencies come from Maven
# Central through pom.xml (version there), cached in ~/.m2 and test/kafka/lib;
# the broker's configuration, data and log live in test/kafka/run. Both are
# git-ignored. Only the KAFKA_BROKERS line goes to stdout, so
#   eval "$(test/kafka/kafka.sh start)"
# sets it in the calling shell; progress and errors go to stderr.
#
# Environment: KAFKA_PORT; KAFKA_START_TIMEOUT (seconds, default 120: the
# start takes 2-8 s, but once took 31 s on a 2-core machine busy compiling);
# KAFKA_HEAP_OPTS (default -Xms256m -Xmx1g); JAVA_HOME or java on PATH (17+).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib="$here/lib"
run="$here/run"
pidfile="$run/kafka.pid"
log="$run/kafka.log"

say() { echo "kafka.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

kafka_version() {
	sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml" | head -n1
}

java_bin() {
	if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
		echo "$JAVA_HOME/bin/java"
	elif command -v java >/dev/null 2>&1; then
		command -v java
	else
		die "java not found: install a JDK 17 or newer (apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME"
	fi
}

# port_in_use PORT: true when something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port FROM: the first port at or above FROM that nothing listens on.
free_port() {
	local p=$1
	while port_in_use "$p"; do
		p=$((p + 1))
		((p < 65535)) || die "no free port found above $1"
	done
	echo "$p"
}

# running: true when the pid file names a live Kafka broker of ours.
running() {
	[[ -f "$pidfile" ]] || return 1
	local pid
	pid="$(cat "$pidfile")"
	[[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'
}

fetch() {
	local version jar
	version="$(kafka_version)"
	[[ -n "$version" ]] || die "no <kafka.version> in $here/pom.xml"
	jar="$lib/kafka_2.13-$version.jar"
	if [[ -f "$jar" && -f "$lib/.complete-$version" ]]; then
		return 0
	fi
	command -v mvn >/dev/null 2>&1 || die "mvn not found: install Maven (apt-get install -y maven)"
	say "fetching Apache Kafka $version and its dependencies into $lib (Maven, cached in ~/.m2)"
	local t0=$SECONDS
	rm -rf "$lib"
	# The dependency plugin makes lib itself; a failed fetch leaves no .complete
	# marker, so the next start fetches again.
	(cd "$here" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies) >&2 ||
		die "fetching Kafka $version with Maven failed (see above)"
	[[ -f "$jar" ]] || die "Maven finished but $jar is missing"
	touch "$lib/.complete-$version"
	say "fetched Kafka $version in $((SECONDS - t0)) s"
}

write_config() {
	local port=$1 cport=$2
	cat >"$run/server.properties" <<EOF
# Written by test/kafka/kafka.sh: one node, KRaft, for tests only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$run/data
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
	cat >"$run/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

start() {
	local want=${1:-${KAFKA_PORT:-}}
	if running; then
		say "already running (pid $(cat "$pidfile"))"
		cat "$run/brokers"
		return 0
	fi
	rm -rf "$run"
	fetch

	local port
	if [[ -z "$want" ]]; then
		port="$(free_port 19092)"
		[[ "$port" == 19092 ]] || say "port 19092 is taken; using $port"
	elif [[ "$want" == 0 ]]; then
		port="$(free_port 19092)"
	else
		[[ "$want" =~ ^[0-9]+$ ]] || die "port must be a number, got '$want'"
		! port_in_use "$want" || die "port $want is already in use"
		port=$want
	fi
	local cport
	cport="$(free_port $((port + 1)))"

	local java
	java="$(java_bin)"
	local jv
	jv="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
	[[ -n "$jv" && "$jv" -ge 17 ]] || die "Kafka $(kafka_version) needs Java 17 or newer; $java is version ${jv:-unknown}"

	mkdir -p "$run/data"
	write_config "$port" "$cport"
	local jvm=(-Djava.awt.headless=true -Dlog4j2.configurationFile="$run/log4j2.properties" -cp "$lib/*")

	# A cluster id is 16 random bytes, base64url without padding (22 chars),
	# not starting with '-', which the tool would take for an option (Kafka's
	# own Uuid.randomUuid skips those too).
	local cluster_id=-
	while [[ "$cluster_id" == -* ]]; do
		cluster_id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
	done
	local t0=$SECONDS
	"$java" "${jvm[@]}" kafka.tools.StorageTool format --ignore-formatted \
		--cluster-id "$cluster_id" --config "$run/server.properties" >"$run/format.log" 2>&1 || {
		cat "$run/format.log" >&2
		die "formatting the storage in $run/data failed"
	}

	# setsid: the broker outlives this script and the shell that ran it, and a
	# Ctrl-C in that shell does not reach it; stop ends it.
	# The inner shell writes its own pid, then becomes the JVM.
	# shellcheck disable=SC2016,SC2086
	setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" \
		"$java" ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC "${jvm[@]}" \
		kafka.Kafka "$run/server.properties" >"$log" 2>&1 </dev/null &

	local timeout=${KAFKA_START_TIMEOUT:-120}
	local deadline=$((SECONDS + timeout))
	while ! port_in_use "$port"; do
		local why=""
		if [[ -s "$pidfile" ]] && ! running; then
			why="the broker exited during start-up"
		elif ((SECONDS >= deadline)); then
			why="the broker did not answer on 127.0.0.1:$port within ${timeout}s"
		fi
		if [[ -n "$why" ]]; then
			say "$why; last lines of $log:"
			tail -n 40 "$log" >&2 || true
			stop_broker
			exit 1
		fi
		sleep 0.2
	done
	echo "KAFKA_BROKERS=127.0.0.1:$port" >"$run/brokers"
	say "Kafka $(kafka_version) started in $((SECONDS - t0)) s (pid $(cat "$pidfile"), log $log)"
	cat "$run/brokers"
}

# stop_broker ends the broker (TERM, then KILL after 20 s) but keeps run/.
stop_broker() {
	running || return 0
	local pid i
	pid="$(cat "$pidfile")"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		running || return 0
		sleep 0.2
	done
	say "the broker (pid $pid) did not stop within 20 s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		running || return 0
		sleep 0.1
	done
}

stop() {
	stop_broker
	rm -rf "$run"
	say "stopped"
}

status() {
	if running; then
		cat "$run/brokers"
	else
		say "not running"
		return 1
	fi
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) stop ;;
status) status ;;
fetch) fetch ;;
*)
	echo "usage: $0 start [PORT] | stop | status | fetch" >&2
	exit 2
	;;
esac
