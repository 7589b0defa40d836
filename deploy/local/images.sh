#!/usr/bin/env bash
# Makes local stand-ins for the images the Dockerfile and the compose file
# pull, for machines that reach no container registry, from what they do
# reach: Debian's packages, the Go module proxy and Maven Central. Builds
# them in the Docker daemon DOCKER_HOST names (deploy/local/dockerd.sh) and
# prints, one a line, the variables that point the build and the compose
# file at them:
#
#   GO_IMAGE=...          the Dockerfile's build stage (for golang:1.26): Debian
#                         and the Go toolchain go.mod names (golang/)
#   RUNTIME_IMAGE=...     the Dockerfile's runtime (for distroless/static:nonroot):
#                         nothing but /etc/passwd and /etc/group with nonroot
#                         (65532), its home, /tmp, CA certificates and time zones
#   KAFKA_IMAGE=...       for apache/kafka (kafka/)
#   POSTGRES_IMAGE=...    for postgres:17: Debian's PostgreSQL 15 (postgres/)
#   PROMETHEUS_IMAGE=...  for prom/prometheus: Debian's Prometheus 2.42 (prometheus/)
#
# Grafana is in none of those registries: there is no stand-in for it.
# Every image starts from a Debian bookworm made with debootstrap
# (shopstream-local/debian:bookworm), made once and kept in the daemon; the
# Go image is made again when the base, the toolchain or its Dockerfile
# changed, the others are built every time, from the build cache when
# nothing changed.
# Builds run with --network host (their apt-get and Maven need it; the
# private daemon gives containers no way out). Needs root, docker,
# debootstrap, mvn and go; progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/shopstream/local-images"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=bookworm
base="shopstream-local/debian:$suite"
runtime="shopstream-local/static:nonroot"

say() { echo "images.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

for c in docker debootstrap mvn go; do
	command -v "$c" >/dev/null || die "$c not found"
done
docker version >/dev/null 2>&1 || die "no Docker daemon answers (DOCKER_HOST=${DOCKER_HOST:-unset}); start one with deploy/local/dockerd.sh start"
export DOCKER_BUILDKIT=0 # the classic builder: BuildKit's front end would be pulled from a registry

have() { docker image inspect "$1" >/dev/null 2>&1; }

# build TAG DIR [ARGS...]: builds DIR's Dockerfile on $base.
build() {
	local tag=$1 dir=$2 t0=$SECONDS
	shift 2
	docker build --network host --build-arg "BASE=$base" -t "$tag" "$@" "$dir" >"$cache/build.log" 2>&1 || {
		tail -n 40 "$cache/build.log" >&2
		die "building $tag from $dir failed (log $cache/build.log)"
	}
	say "$tag ($((SECONDS - t0)) s)"
}

mkdir -p "$cache"

# The certificate authorities this machine adds to Debian's
# (/usr/local/share/ca-certificates) are trusted in the images too: the
# network between this machine and the registries may present one of them.
# The base is made again when they change, or this recipe (recipe=).
local_cas=(/usr/local/share/ca-certificates/*.crt)
[[ -e "${local_cas[0]}" ]] || local_cas=()
key="recipe=1 cas=$(cat "${local_cas[@]}" </dev/null | sha256sum | cut -c1-16)"
made_as() { docker image inspect -f '{{index .Config.Labels "shopstream.local"}}' "$1" 2>/dev/null; }

# Debian, and the runtime made from its files.
if [[ "$(made_as "$base")" != "$key" ]] || [[ "$(made_as "$runtime")" != "$key" ]]; then
	t0=$SECONDS
	tmp="$(mktemp -d "$cache/rootfs.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	say "debootstrap $suite from $mirror (minbase, with ca-certificates and tzdata)"
	mkdir -p "$cache/debs"
	debootstrap --variant=minbase --include=ca-certificates,tzdata --cache-dir="$cache/debs" "$suite" "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 || {
		tail -n 30 "$tmp/debootstrap.log" >&2
		die "debootstrap failed"
	}
	r="$tmp/rootfs"
	cat >"$r/etc/apt/sources.list" <<-LIST
		deb $mirror $suite main
		deb $mirror $suite-updates main
		deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $suite-security main
	LIST
	if ((${#local_cas[@]})); then
		cp "${local_cas[@]}" "$r/usr/local/share/ca-certificates/"
		chroot "$r" update-ca-certificates >/dev/null 2>&1
	fi
	# Packages installed in a build start no services, as in Debian's own images.
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 755 "$r/usr/sbin/policy-rc.d"
	rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log
	tar --numeric-owner -C "$r" -c . | docker import --change 'CMD ["bash"]' --change "LABEL shopstream.local=\"$key\"" - "$base" >/dev/null
	say "$base ($((SECONDS - t0)) s)"

	# The runtime: distroless/static's contents that a static Go binary uses.
	s="$tmp/static"
	mkdir -p "$s/etc/ssl/certs" "$s/usr/share" "$s/home/nonroot" "$s/tmp"
	printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
		'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$s/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$s/etc/group"
	cp "$r/etc/ssl/certs/ca-certificates.crt" "$s/etc/ssl/certs/"
	cp -a "$r/usr/share/zoneinfo" "$s/usr/share/"
	cp "$r/etc/os-release" "$s/etc/"
	chown 65532:65532 "$s/home/nonroot"
	chmod 700 "$s/home/nonroot"
	chmod 1777 "$s/tmp"
	tar --numeric-owner -C "$s" -c . |
		docker import --change 'USER 65532' --change 'WORKDIR /home/nonroot' \
			--change "LABEL shopstream.local=\"$key\"" - "$runtime" >/dev/null
	say "$runtime"
	rm -rf "$tmp"
	trap - EXIT
fi

# Go: the toolchain go.mod names (GOTOOLCHAIN=auto fetches it from the proxy).
# Its context is large (the whole toolchain): the image is built again only
# when the base, the toolchain or the Dockerfile changed.
goversion="$(cd "$repo" && GOTOOLCHAIN=auto go env GOVERSION)"
goroot="$(cd "$repo" && GOTOOLCHAIN=auto go env GOROOT)"
[[ -x "$goroot/bin/go" ]] || die "no Go toolchain at $goroot"
golang="shopstream-local/golang:${goversion#go}"
gokey="$(docker image inspect -f '{{.Id}}' "$base") $goversion $(sha256sum <"$here/golang/Dockerfile" | cut -c1-16)"
if [[ "$(made_as "$golang")" == "$gokey" ]]; then
	say "$golang (made before)"
else
	build "$golang" "$goroot" -f "$here/golang/Dockerfile" --label "shopstream.local=$gokey"
fi

# Kafka: the version of the compose file's apache/kafka tag, from Maven Central.
kversion="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml" | head -n1)"
ctx="$cache/kafka-$kversion"
if [[ ! -f "$ctx/.complete" ]]; then
	say "fetching Apache Kafka $kversion with its tools from Maven Central (cached in ~/.m2)"
	rm -rf "$ctx"
	mkdir -p "$ctx"
	cp "$here/kafka/pom.xml" "$ctx/"
	(cd "$ctx" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies) >"$cache/mvn.log" 2>&1 || {
		cat "$cache/mvn.log" >&2
		die "fetching Kafka $kversion failed"
	}
	touch "$ctx/.complete"
fi
cp "$here/kafka/Dockerfile" "$here/kafka/run" "$here/kafka/kafka-broker-api-versions.sh" "$here/kafka/log4j2.properties" "$ctx/"
kafka="shopstream-local/kafka:$kversion"
build "$kafka" "$ctx"

postgres="shopstream-local/postgres:15"
build "$postgres" "$here/postgres"
prometheus="shopstream-local/prometheus:2.42"
build "$prometheus" "$here/prometheus"

cat <<-VARS
	GO_IMAGE=$golang
	RUNTIME_IMAGE=$runtime
	KAFKA_IMAGE=$kafka
	POSTGRES_IMAGE=$postgres
	PROMETHEUS_IMAGE=$prometheus
VARS
