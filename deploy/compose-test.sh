#!/usr/bin/env bash
# Builds the image and runs deploy/docker-compose.yml end to end, then tears
# it down (volumes too): waits until serve's /healthz answers, Prometheus
# has scraped records stored by the processors, and Grafana is up. Needs
# Docker with the compose plugin; CI (.ci/run) runs it where Docker exists.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v docker >/dev/null || { echo "docker not found" >&2; exit 1; }
project=shopstream-ci
export DASHBOARD_PORT="${DASHBOARD_PORT:-18050}" PROMETHEUS_PORT="${PROMETHEUS_PORT:-19090}" GRAFANA_PORT="${GRAFANA_PORT:-13000}"
export GENERATE_HISTORY="${GENERATE_HISTORY:-1h}"
mkdir -p secrets
for s in postgres_password grafana_admin_password; do
	[[ -s "secrets/$s" ]] || od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"secrets/$s"
done
compose() { docker compose -p "$project" -f docker-compose.yml "$@"; }

compose config -q
trap 'status=$?; ((status == 0)) || compose logs --tail 50; compose down -v; exit $status' EXIT
compose up -d --build

# waitfor DESCRIPTION SECONDS COMMAND...: runs COMMAND every 2 s until it succeeds.
waitfor() {
	local what=$1 secs=$2
	shift 2
	for ((i = 0; i < secs; i += 2)); do
		if "$@" >/dev/null 2>&1; then
			echo "ok: $what"
			return 0
		fi
		sleep 2
	done
	echo "timed out after ${secs}s: $what" >&2
	return 1
}
stored() {
	curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query?query=sum(shopstream_records_total)" |
		grep -Eq '"value":\[[0-9.]+,"[1-9]'
}
waitfor "serve /healthz" 300 curl -fsS "http://127.0.0.1:$DASHBOARD_PORT/healthz"
waitfor "records stored, scraped by Prometheus" 300 stored
waitfor "Grafana /api/health" 120 curl -fsS "http://127.0.0.1:$GRAFANA_PORT/api/health"
compose logs token | grep -q 'ss1_' || { echo "the token step printed no token" >&2; exit 1; }
echo "PASS"
