#!/usr/bin/env bash
# Runs deploy/docker-compose.yml end to end, then tears it down (volumes
# too): waits until serve's /healthz answers, both processors of the one
# consumer group own partitions and have stored records, Prometheus has
# scraped them, Grafana is up, and the token step printed a token that
# serve takes (and serve refuses a request without one). Needs
# Docker with the compose plugin. Ports 18050, 19090 and 13000, project
# shopstream-ci.
#
# Environment, besides the compose file's own variables (IMAGE, KAFKA_IMAGE,
# ...: deploy/.env.example):
#   COMPOSE_TEST_BUILD=0       run the image IMAGE names as it is (default:
#                              `up --build` builds it from the Dockerfile)
#   COMPOSE_TEST_WITHOUT=grafana  services not to start (space-separated),
#                              for images that cannot be had; their checks
#                              are skipped, and said to be
#   COMPOSE_TEST_TIMEOUT=300   seconds each wait may take
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v docker >/dev/null || { echo "docker not found" >&2; exit 1; }
docker compose version >/dev/null 2>&1 || { echo "docker compose (the compose plugin) not found" >&2; exit 1; }
project=shopstream-ci
export DASHBOARD_PORT="${DASHBOARD_PORT:-18050}" PROMETHEUS_PORT="${PROMETHEUS_PORT:-19090}" GRAFANA_PORT="${GRAFANA_PORT:-13000}"
export GENERATE_HISTORY="${GENERATE_HISTORY:-1h}"
timeout="${COMPOSE_TEST_TIMEOUT:-300}"
mkdir -p secrets
for s in postgres_password grafana_admin_password; do
	[[ -s "secrets/$s" ]] || (umask 022 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"secrets/$s")
done
compose() { docker compose -p "$project" -f docker-compose.yml "$@"; }

compose config -q
without=" ${COMPOSE_TEST_WITHOUT:-} "
services=()
for s in $(compose config --services); do
	[[ "$without" == *" $s "* ]] || services+=("$s")
done
if [[ -n "${COMPOSE_TEST_WITHOUT:-}" ]]; then
	echo "not started:${without% }"
fi
build=--build
[[ "${COMPOSE_TEST_BUILD:-1}" == 0 ]] && build=--no-build

# A run that was cut short may have left the project behind (its volumes
# hold a database made with another password): start from nothing.
compose down -v --remove-orphans >/dev/null 2>&1 || true
trap 'status=$?; ((status == 0)) || { compose ps -a; compose logs --tail 50; }; compose down -v --remove-orphans; exit $status' EXIT
start=$SECONDS
compose up -d "$build" "${services[@]}"

# waitfor DESCRIPTION COMMAND...: runs COMMAND every 2 s until it succeeds.
waitfor() {
	local what=$1
	shift
	for ((i = 0; i < timeout; i += 2)); do
		if "$@" >/dev/null 2>&1; then
			echo "ok: $what ($((SECONDS - start)) s after up)"
			return 0
		fi
		sleep 2
	done
	echo "timed out after ${timeout}s: $what" >&2
	return 1
}
# query PROMQL: the value of Prometheus' instant query, one line a series.
query() {
	curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" --data-urlencode "query=$1" |
		grep -Eo '"value":\[[0-9.]+,"[^"]*"\]' | sed -E 's/.*,"([^"]*)"\]/\1/'
}
is() { [[ "$(query "$1")" == "$2" ]]; }

waitfor "serve /healthz" curl -fsS "http://127.0.0.1:$DASHBOARD_PORT/healthz"
# Two processors in one group: each owns some of the topic's partitions, and
# together all of them, once each (two groups would own them twice).
partitions="$(compose exec -T kafka printenv KAFKA_NUM_PARTITIONS)"
shared() { is 'count(shopstream_partitions_assigned > 0)' 2 && is 'sum(shopstream_partitions_assigned)' "$partitions"; }
waitfor "process-1 and process-2 share the topic's $partitions partitions (Prometheus)" shared
waitfor "both processors stored records (shopstream_records_total, scraped by Prometheus)" \
	is 'count(sum by (instance) (shopstream_records_total{outcome="stored"}) > 0)' 2
echo "records stored: $(query 'sum by (instance) (shopstream_records_total{outcome="stored"})' | paste -sd' ')"
waitfor "every scrape target up" is 'count(up == 0) or vector(0)' 0
if [[ "$without" == *" grafana "* ]]; then
	echo "skipped: Grafana /api/health (not started)"
else
	waitfor "Grafana /api/health" curl -fsS "http://127.0.0.1:$GRAFANA_PORT/api/health"
fi
token="$(compose logs token | grep -o 'ss1_[0-9]*_[A-Za-z0-9_-]*' | head -n 1 || true)"
[[ -n "$token" ]] || { echo "the token step printed no token" >&2; exit 1; }
echo "ok: the token step printed a token"
# serve listens on the network, so every request needs a token: none is
# 401, the token step's is let in.
http_status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
api="http://127.0.0.1:$DASHBOARD_PORT/api/v1/summary"
[[ "$(http_status "$api")" == 401 ]] || { echo "serve answered $(http_status "$api") to a request without a token, want 401" >&2; exit 1; }
[[ "$(http_status -H "Authorization: Bearer $token" "$api")" == 200 ]] ||
	{ echo "serve answered $(http_status -H "Authorization: Bearer $token" "$api") to the token step's token, want 200" >&2; exit 1; }
echo "ok: serve refuses a request without a token (401) and takes the token step's (200)"
echo "PASS ($((SECONDS - start)) s from up)"
