# make build | test | demo | bench | torture | fmt | vet
# `test` and `demo` first run scripts/deps.sh, which installs MariaDB, Redis,
# gcc, Prometheus (promtool and a private server for the deploy/ tests) and
# nutcracker (twemproxy, for the ketama ring test) with apt where missing and checks for Go 1.26+ (see README).
GO ?= go

.PHONY: build test demo bench torture fmt vet

build:
	$(GO) build ./...

# CACHESYNC_REQUIRE_SERVICES=1: an integration test that cannot find MariaDB
# or Redis fails instead of skipping, so this target cannot pass by skipping.
test:
	bash scripts/deps.sh
	MYSQL_ROOT_PASSWORD=check CACHESYNC_MYSQL_PASSWORD=check docker-compose -f docker-compose.yml config -q
	$(GO) vet ./...
	CACHESYNC_REQUIRE_SERVICES=1 $(GO) test -race -count=1 -timeout 40m ./...

demo:
	bash scripts/deps.sh
	bash scripts/demo.sh

# The whole-process benchmarks against the floor (scripts/bench.sh: burst,
# steady, large transaction, catch-up of 1M and 5M waiting rows; about 20
# minutes); a goal missed is exit 3, the figures and PNG charts are in
# bench-results/.
bench:
	bash scripts/deps.sh
	bash scripts/bench.sh

# The cache-aside race measured per mode (app-delete, single, double, lease)
# on private MariaDB and Redis (scripts/torture.sh, cmd/cachesync-torture);
# flags in TORTURE_ARGS, the JSON in torture-results/.
torture:
	bash scripts/deps.sh
	bash scripts/torture.sh $(TORTURE_ARGS)

fmt:
	$(GO) fmt ./...

vet:
	$(GO) vet ./...
