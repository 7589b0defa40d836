#!/usr/bin/env bash
# The container tests as CI runs them, on a machine that reaches no
# container registry: starts a private Docker daemon (local/dockerd.sh),
# makes the base images locally (local/images.sh), builds the image from
# the repository's Dockerfile with them, checks it (image-test.sh), runs
# the compose file end to end with them (compose-test.sh; without Grafana
# where its image is absent, as no reachable registry has it), and stops
# the daemon again (its data root, with the images and build cache, stays
# for the next run). Needs root, dockerd, the docker CLI with the compose
# plugin (local/compose-plugin.sh), debootstrap, mvn and go.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
repo="$(cd .. && pwd)"

step() { printf -- '--- %s\n' "$*"; }
t0=$SECONDS
took() { echo "    ($(($SECONDS - $1)) s)"; }

step "Docker daemon (local/dockerd.sh start)"
started=0
local/dockerd.sh status >/dev/null 2>&1 || started=1
host="$(local/dockerd.sh start)"
export "$host"
((started == 0)) || trap 'local/dockerd.sh stop' EXIT
docker version -f 'client {{.Client.Version}}, server {{.Server.Version}} (API {{.Server.APIVersion}})'
docker compose version
export DOCKER_BUILDKIT=0 # the classic builder: BuildKit's front end would be pulled from a registry

step "Base images (local/images.sh)"
t=$SECONDS
vars="$(local/images.sh)"
echo "$vars"
while IFS= read -r v; do export "${v?}"; done <<<"$vars"
took $t

step "Image (docker build with GO_IMAGE and RUNTIME_IMAGE)"
t=$SECONDS
export IMAGE="${IMAGE:-shopstream:ci}"
version="$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)"
log="$(mktemp)"
if ! docker build --network host -t "$IMAGE" \
	--build-arg "GO_IMAGE=$GO_IMAGE" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" \
	--build-arg "VERSION=$version" --build-arg "COMMIT=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)" \
	--build-arg "BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$repo" >"$log" 2>&1; then
	cat "$log" >&2
	exit 1
fi
rm -f "$log"
docker image ls "$IMAGE" --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
took $t

step "Image checks (image-test.sh)"
t=$SECONDS
./image-test.sh
took $t

step "docker compose end to end (compose-test.sh)"
t=$SECONDS
export COMPOSE_TEST_BUILD=0
if ! docker image inspect "${GRAFANA_IMAGE:-grafana/grafana:12.1.1}" >/dev/null 2>&1; then
	echo "Grafana's image ${GRAFANA_IMAGE:-grafana/grafana:12.1.1} is not here, and no reachable registry has it: the compose file runs without Grafana"
	export COMPOSE_TEST_WITHOUT="${COMPOSE_TEST_WITHOUT:-} grafana"
fi
./compose-test.sh
took $t

# Images no tag names any more (earlier builds of the image).
docker image prune -f >/dev/null
echo "container tests passed in $((SECONDS - t0)) s"
