#!/usr/bin/env bash
# Checks the image the Dockerfile built (IMAGE, default shopstream:dev) as
# it runs: the binary is static and alone (no shell, nothing to run but
# /shopstream), `shopstream version` works, the default command (serve on
# :8050, with the embedded store in a volume holding an API token) runs as
# uid and gid 65532, and the image's HEALTHCHECK reports it healthy. Needs
# Docker; removes what it made.
set -euo pipefail

image="${IMAGE:-shopstream:dev}"
name="shopstream-image-test-$$"
volume="$name"
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	docker rm -f "$name" "$name-files" >/dev/null 2>&1 || true
	docker volume rm -f "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT

user="$(docker image inspect -f '{{.Config.User}}' "$image")"
[[ "$user" == nonroot:nonroot ]] || fail "the image runs as user '$user', want nonroot:nonroot"
[[ "$(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$image")" == *'"/shopstream","healthcheck"'* ]] ||
	fail "the image's HEALTHCHECK does not run shopstream healthcheck"
echo "ok: user nonroot:nonroot, HEALTHCHECK runs shopstream healthcheck"

# What is in the image, file by file (less what the engine adds to every
# container: /.dockerenv, /dev, /proc, /sys, /etc/hostname, hosts, resolv.conf).
docker create --name "$name-files" "$image" >/dev/null
engine='^(\.dockerenv|(dev|proc|sys)/.*|etc/(hostname|hosts|resolv\.conf|mtab))$'
files="$(docker export "$name-files" | tar -t | grep -Ev "$engine")"
for sh in bin/sh bin/bash bin/busybox usr/bin/sh usr/bin/env; do
	! grep -qx "$sh" <<<"$files" || fail "the image has /$sh"
done
executables="$(docker export "$name-files" | tar -tv | awk '$1 ~ /^-..x/ { print $NF }' | grep -Ev "$engine" || true)"
[[ "$executables" == shopstream ]] || fail "executables in the image: $(paste -sd' ' <<<"$executables"), want shopstream alone"
tmp="$(mktemp -d)"
docker cp "$name-files:/shopstream" "$tmp/shopstream"
if command -v go >/dev/null; then
	go version -m "$tmp/shopstream" | grep -q 'CGO_ENABLED=0' || fail "the binary was not built with CGO_ENABLED=0"
fi
# A static binary has no program interpreter (the ELF header INTERP).
if command -v readelf >/dev/null; then
	! readelf -lW "$tmp/shopstream" | grep -q INTERP || fail "the binary is dynamically linked"
fi
rm -rf "$tmp"
if docker run --rm --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
	fail "/bin/sh runs in the image"
fi
echo "ok: $(wc -l <<<"$files") files, no shell, one executable (/shopstream, static)"

out="$(docker run --rm "$image" version)"
echo "ok: shopstream version: $out"

# The default command, as deployed: serve listens on :8050 once a token exists.
docker run --rm -v "$volume:/home/nonroot" "$image" token create --role admin --name image-test >/dev/null
docker run -d --name "$name" -v "$volume:/home/nonroot" "$image" >/dev/null
pid="$(docker inspect -f '{{.State.Pid}}' "$name")"
ids="$(awk '/^(Uid|Gid):/ { print $1, $2, $3, $4, $5 }' "/proc/$pid/status" 2>/dev/null || true)"
[[ "$ids" == $'Uid: 65532 65532 65532 65532\nGid: 65532 65532 65532 65532' ]] ||
	fail "the running process has ids '$ids', want 65532 throughout"
echo "ok: the default command runs as uid and gid 65532"
for ((i = 0; i < 90; i++)); do
	health="$(docker inspect -f '{{.State.Health.Status}}' "$name")"
	[[ "$health" == healthy ]] && break
	[[ "$(docker inspect -f '{{.State.Running}}' "$name")" == true ]] || { docker logs "$name" >&2; fail "the container exited"; }
	sleep 1
done
[[ "$health" == healthy ]] || { docker logs "$name" >&2; docker inspect -f '{{json .State.Health}}' "$name" >&2; fail "health $health after 90 s"; }
echo "ok: HEALTHCHECK reports healthy ($i s after start)"
echo "PASS"
