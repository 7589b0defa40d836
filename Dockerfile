# syntax=docker/dockerfile:1
#
# shopstream as one static binary in a distroless image: no shell, no
# package manager, running as the unprivileged user "nonroot" (65532).
#
#   docker build -t shopstream:dev --build-arg VERSION=$(git describe --tags --always) .
#
# The image runs `shopstream serve --addr :8050` unless given another command
# (docker run shopstream:dev process --brokers ...). Its health check is the
# binary itself (`shopstream healthcheck`), since the image has no curl; the
# default probes :8050/healthz, and deploy/docker-compose.yml sets each
# service's own. docs/deploy.md describes the image and how it is run.
#
# The two images it starts from are build arguments, for machines that
# reach no registry: CI builds this file with GO_IMAGE and RUNTIME_IMAGE
# made locally by deploy/local/images.sh (docs/deploy.md).

ARG GO_IMAGE=golang:1.26
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
# The official golang images set GOTOOLCHAIN=local, which would build with
# the image's own Go even when go.mod's toolchain line names a newer patch
# release (the one with the standard library's security fixes,
# docs/security.md); auto fetches that toolchain when the image's is older.
ENV GOTOOLCHAIN=auto
WORKDIR /src
# Modules first, so a change of the sources reuses the downloaded modules.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG BUILD_DATE=unknown
# CGO_ENABLED=0: a static binary (the SQLite driver is pure Go), which the
# distroless "static" image needs.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
	-ldflags "-s -w \
	-X github.com/shopstream/shopstream/internal/cli.version=${VERSION} \
	-X github.com/shopstream/shopstream/internal/cli.commit=${COMMIT} \
	-X github.com/shopstream/shopstream/internal/cli.date=${BUILD_DATE}" \
	-o /out/shopstream ./cmd/shopstream

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/shopstream /shopstream
USER nonroot:nonroot
# The embedded store's default --data-dir (./data) lands in the home of
# nonroot; deployments with PostgreSQL write nothing to disk.
WORKDIR /home/nonroot
EXPOSE 8050 8051
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
	CMD ["/shopstream", "healthcheck", "--quiet", "--url", "http://127.0.0.1:8050/healthz"]
ENTRYPOINT ["/shopstream"]
CMD ["serve", "--addr", ":8050"]
