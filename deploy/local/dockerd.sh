#!/usr/bin/env bash
# A private Docker daemon for the container tests (deploy/container-test.sh),
# beside any other on the machine: its own socket, data root and exec root,
# and no changes to the host's firewall or forwarding (--iptables=false
# --ip-forward=false: containers reach each other and the host, not the
# outside; published ports go through docker-proxy).
#
#   deploy/local/dockerd.sh start   start it unless it runs; print DOCKER_HOST=unix://...
#   deploy/local/dockerd.sh stop    stop it (images, build cache and volumes stay)
#   deploy/local/dockerd.sh status  print DOCKER_HOST=... if it runs
#
# The data root is kept between runs under $SHOPSTREAM_DOCKER_ROOT (default
# ~/.cache/shopstream/docker), so the base images and the build's layers are
# made once per machine. Storage driver overlay2 where the kernel offers
# overlayfs, else vfs (slower, every layer a full copy). Needs root and
# dockerd (Debian: apt-get install docker.io).
set -euo pipefail

root="${SHOPSTREAM_DOCKER_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/shopstream/docker}"
run="$root/run"
sock="$run/docker.sock"
pidfile="$run/dockerd.pid"
log="$run/dockerd.log"

say() { echo "dockerd.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

running() {
	[[ -s "$pidfile" ]] || return 1
	local pid
	pid="$(cat "$pidfile")"
	[[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "^dockerd .*--data-root $root/data "
}

answers() { DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; }

start() {
	if running && answers; then
		echo "DOCKER_HOST=unix://$sock"
		return 0
	fi
	[[ "$(id -u)" == 0 ]] || die "dockerd needs root"
	command -v dockerd >/dev/null || die "dockerd not found (Debian: apt-get install docker.io)"
	command -v docker >/dev/null || die "docker (the client) not found"
	mkdir -p "$run" "$root/data" "$root/exec"
	local driver=vfs
	# overlay2 needs overlayfs, and a data root on a file system it can sit on.
	if grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null; then
		driver=overlay2
	fi
	# A data root made with another driver keeps it (its images are there).
	[[ -d "$root/data/vfs" && ! -d "$root/data/overlay2" ]] && driver=vfs
	local t0=$SECONDS
	# setsid: the daemon outlives this script; stop ends it. The inner shell
	# writes its own pid, then becomes dockerd.
	# shellcheck disable=SC2016
	setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" \
		dockerd --data-root "$root/data" --exec-root "$root/exec" --pidfile "$run/dockerd.own.pid" \
		--host "unix://$sock" --storage-driver "$driver" --iptables=false --ip-forward=false \
		>"$log" 2>&1 </dev/null &
	for ((i = 0; i < 300; i++)); do
		if answers; then
			say "dockerd ($driver) answers on $sock in $((SECONDS - t0)) s (log $log)"
			echo "DOCKER_HOST=unix://$sock"
			return 0
		fi
		if ((i > 5)) && ! running; then
			tail -n 30 "$log" >&2
			die "dockerd exited during start-up"
		fi
		sleep 0.2
	done
	tail -n 30 "$log" >&2
	stop
	die "dockerd did not answer within 60 s"
}

stop() {
	running || { rm -f "$pidfile"; return 0; }
	local pid
	pid="$(cat "$pidfile")"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		running || { rm -f "$pidfile"; say "stopped"; return 0; }
		sleep 0.2
	done
	say "dockerd (pid $pid) did not stop within 30 s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}

status() {
	if running && answers; then
		echo "DOCKER_HOST=unix://$sock"
	else
		say "not running"
		return 1
	fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
	echo "usage: $0 start | stop | status" >&2
	exit 2
	;;
esac
