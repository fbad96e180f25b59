# cachesync: a static binary on a minimal, non-root image.
#   docker build -t cachesync .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/cachesync ./cmd/cachesync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cachesync /usr/local/bin/cachesync
USER nonroot:nonroot
WORKDIR /var/lib/cachesync
ENTRYPOINT ["/usr/local/bin/cachesync"]
CMD ["run", "--config", "/etc/cachesync/cachesync.yaml"]
