# syntax=docker/dockerfile:1

# wxgate as a container: a static binary on a minimal, non-root base.
#
#   docker build -t wxgate .
#   docker run --rm -p 8080:8080 -v wxgate-data:/data wxgate
#
# With no flags, serve makes development credentials in /data (for the
# emulator, not for WeChat). For real use give it the console's values, or a
# configuration file, through the environment:
#
#   docker run -p 8080:8080 -v wxgate-data:/data --env-file .env wxgate \
#     serve --state-dir /data --appid wx0123456789abcdef
#
# deploy/compose.yaml runs three replicas on PostgreSQL behind nginx;
# docs/operations.md says how to run it in production.

# Keep the tag in step with go.mod's go line. The official image sets
# GOTOOLCHAIN=local, so a go.mod that needs a newer Go fails the build
# plainly instead of downloading a toolchain. Pin a digest in production.
ARG GO_VERSION=1.26

# The builder runs on the build machine's own platform and cross-compiles
# (the code is pure Go), so `docker buildx build --platform
# linux/amd64,linux/arm64 .` needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src

# The modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ARG TARGETOS
ARG TARGETARCH
# CGO_ENABLED=0: SQLite is modernc.org/sqlite, pure Go, so the binary is
# static and needs no libc. -trimpath: no build paths in the binary.
# -ldflags "-s -w": no symbol table or DWARF (about a third smaller; panics
# still print their stack traces). -buildvcs=false: .git is not in the build
# context (.dockerignore), so there is nothing to stamp; `wxgate --version`
# shows "(devel)" and the Go version, and the image's revision label below
# names the commit.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/wxgate ./cmd/wxgate \
 && mkdir /out/data

# distroless/static rather than scratch: it already has what a static Go
# binary needs and scratch lacks (CA certificates for https webhooks,
# rediss:// and sslmode=verify-full, /etc/passwd with the unprivileged "nonroot" user 65532,
# tzdata, a writable /tmp), maintained and rebuilt for security fixes by its
# publisher, and still no shell or package manager to attack. The price:
# no shell for `docker exec` and no HEALTHCHECK (which needs a program to
# run); orchestrators probe GET /healthz (liveness) and GET /readyz
# (readiness) over HTTP instead (see docs/operations.md).
FROM gcr.io/distroless/static-debian12:nonroot

ARG REVISION=""
LABEL org.opencontainers.image.title="wxgate" \
      org.opencontainers.image.description="WeChat Mini Program message push gateway" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/wxgate/wxgate" \
      org.opencontainers.image.revision="${REVISION}"

COPY --from=build /out/wxgate /wxgate
# /data holds the SQLite database (sqlite:/data/wxgate.db, the default store
# with --state-dir /data) and the development credentials. It belongs to the
# nonroot user, so that a fresh named volume mounted there, which takes the
# image's ownership, is writable. SQLite is for one instance: several
# replicas need PostgreSQL (--store postgres://...).
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME ["/data"]

# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/wxgate"]
CMD ["serve", "--state-dir", "/data"]
