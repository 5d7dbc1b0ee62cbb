# syntax=docker/dockerfile:1
# Scorebot: one static binary on a distroless, non-root base.
#   docker build -t ghcr.io/scorebot/scorebot:dev .
# The bot needs no git binary at run time: `bot serve` talks git through go-git (pure Go);
# only `bot dev` and the tests shell out to `git http-backend`.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -buildid=" -o /out/bot ./cmd/bot

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/bot /bot
# distroless's nonroot user; the Kubernetes manifests (deploy/) run as the same uid.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/bot"]
CMD ["serve"]
