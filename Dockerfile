# cachesync: a static binary on a minimal, non-root image.
#   docker build -t cachesync .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/cachesync ./cmd/cachesync \
 && mkdir -p /out/state

# Nothing but the binary, the CA roots for TLS and an unprivileged user.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/cachesync /usr/local/bin/cachesync
COPY --from=build --chown=65532:65532 /out/state /var/lib/cachesync
USER 65532:65532
# A soft heap limit: the runtime collects harder near it instead of letting
# the heap double between collections; raise it with the container's limit.
ENV GOMEMLIMIT=96MiB
WORKDIR /var/lib/cachesync
ENTRYPOINT ["/usr/local/bin/cachesync"]
CMD ["run", "--config", "/etc/cachesync/cachesync.yaml"]
