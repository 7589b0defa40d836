#!/usr/bin/env bash
# Installs the docker compose plugin (Compose v2, a Go program) where no
# package offers it (Debian 12 has only the old Python docker-compose 1.29):
# builds github.com/docker/compose/v2 at COMPOSE_VERSION from the Go module
# proxy, once, into ~/.cache/shopstream/compose-VERSION, and links it into
# the Docker CLI's plugin directory (${DOCKER_CONFIG:-~/.docker}/cli-plugins).
# The module's go.mod carries exclude directives, which `go install
# module@version` refuses, so it is built from a copy of the module.
set -euo pipefail

version="${COMPOSE_VERSION:-v2.40.3}"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/shopstream/compose-$version"
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

say() { echo "compose-plugin.sh: $*" >&2; }

if [[ ! -x "$dir/docker-compose" ]]; then
	command -v go >/dev/null || { say "go not found"; exit 1; }
	t0=$SECONDS
	say "building docker compose $version from the Go module proxy (a few minutes, once)"
	tmp="$(mktemp -d)"
	trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
	src="$(cd "$tmp" && go mod download -json "github.com/docker/compose/v2@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[[ -d "$src/cmd" ]] || { say "github.com/docker/compose/v2@$version has no cmd/"; exit 1; }
	cp -r "$src" "$tmp/compose"
	chmod -R u+w "$tmp/compose"
	mkdir -p "$dir"
	(cd "$tmp/compose" && CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" -o "$dir/docker-compose.tmp" ./cmd)
	mv "$dir/docker-compose.tmp" "$dir/docker-compose"
	say "built in $((SECONDS - t0)) s"
fi
mkdir -p "$plugins"
ln -sfn "$dir/docker-compose" "$plugins/docker-compose"
docker compose version
