# syntax=docker/dockerfile:1
# One image for every Pulse role (compose.yaml picks the role with PULSE_ROLES):
# the dashboard is built with node, embedded by the Go build, and shipped in a static,
# non-root runtime image.

FROM node:22-alpine AS web
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=web /src/frontend/dist ./frontend/dist
ARG VERSION=dev
# Only the modules the binary imports are fetched (go.mod also lists the task tool's).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -tags nomsgpack -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /pulse ./cmd/pulse \
    && mkdir -p /rootfs/data /rootfs/archive

# cc, not static: the archive's query engine (DuckDB) is C++ linked in with cgo, and needs glibc
# and libstdc++ at run time.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /pulse /usr/local/bin/pulse
# The data directory (embedded search index) and the archive folder belong to the non-root user, so a named volume
# mounted there inherits that owner.
COPY --from=build --chown=65532:65532 /rootfs/data /data
COPY --from=build --chown=65532:65532 /rootfs/archive /archive
USER 65532:65532
WORKDIR /data
ENV PULSE_ADDR=:8080 \
    PULSE_DATA_DIR=/data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["pulse", "health"]
ENTRYPOINT ["pulse"]
CMD ["serve"]
