#!/usr/bin/env bash
# make bench: every whole-process scenario in one run, on private MariaDB,
# Redis and Kafka (kfake) the benchmarks start themselves on free loopback
# ports — burst (200,000 rows), steady rate (500/s and 5,000/s, and 500/s
# from one connection, for
# CACHESYNC_BENCH_STEADY, default 20s) and the 1,000,000-row transaction —
# for the floor (cmd/cachesync-floor), cachesync direct and cachesync on
# Kafka. Prints one table (each figure beside the floor's from this run and
# the target it is held to) and writes:
#   $BENCH_OUT/bench.txt   the raw `go test -bench` output (benchstat reads it)
#   $BENCH_OUT/bench.json  the table as JSON
# BENCH_OUT defaults to ./bench-results. BENCH selects scenarios (a go test
# -bench pattern, default all three). Exit 0 when every goal is met, 3 when
# figures were produced but some goal was missed, anything else on failure.
# Takes about 6 minutes on 2 cores. Never run two at once on one machine.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${BENCH_OUT:-bench-results}
PATTERN=${BENCH:-'^Benchmark(Burst|Steady|LargeTransaction)$'}
mkdir -p "$OUT"
{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go env GOVERSION)"
	echo "# go test ./cmd/cachesync -run '^\$' -bench '$PATTERN' -benchtime 1x"
} >"$OUT/bench.txt"
CACHESYNC_REQUIRE_SERVICES=1 go test ./cmd/cachesync -run '^$' -bench "$PATTERN" -benchtime 1x -timeout 60m \
	| tee -a "$OUT/bench.txt"
echo
go run ./cmd/cachesync-bench -json "$OUT/bench.json" <"$OUT/bench.txt"
