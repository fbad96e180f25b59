#!/usr/bin/env bash
# make bench: every whole-process scenario in one run, on private MariaDB,
# Redis and Kafka (kfake) the benchmarks start themselves on free loopback
# ports — burst (200,000 rows), steady rate (500/s and 5,000/s, and 500/s
# from one connection, for CACHESYNC_BENCH_STEADY, default 20s), the 1,000,000-row transaction and
# catch-up (a backlog of CACHESYNC_BENCH_CATCHUP row changes waiting in the
# binlog, default 1000000,5000000, drained by each target from the same
# position) — for the floor (cmd/cachesync-floor), cachesync direct and
# cachesync on Kafka, plus the decode-only ceiling, and write-through in
# catch-up and at a steady rate. Prints one table (each figure beside the floor's from this run
# and the target it is held to) and writes:
#   $BENCH_OUT/bench.txt   the raw `go test -bench` output (benchstat reads it)
#   $BENCH_OUT/bench.json  the table as JSON
#   $BENCH_OUT/*.png       charts: catch-up rows/s, steady latencies
#   $BENCH_OUT/steady-*.txt  every steady latency (µs), for the distribution chart
# BENCH_OUT defaults to ./bench-results. BENCH selects scenarios (a go test
# -bench pattern, default all four). Exit 0 when every goal is met, 3 when
# figures were produced but some goal was missed, anything else on failure.
# Takes about 20 minutes on 2 cores (catch-up of 5,000,000 rows is half of
# it; CACHESYNC_BENCH_CATCHUP=1000000 makes it about 10). Never run two at
# once on one machine.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${BENCH_OUT:-bench-results}
PATTERN=${BENCH:-'^Benchmark(Burst|Steady|LargeTransaction|CatchUp)$'}
export CACHESYNC_BENCH_CATCHUP=${CACHESYNC_BENCH_CATCHUP:-1000000,5000000}
mkdir -p "$OUT"
rm -f "$OUT"/steady-*.txt # samples of an earlier run would be plotted as this one's
{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go env GOVERSION)"
	echo "# CACHESYNC_BENCH_CATCHUP=$CACHESYNC_BENCH_CATCHUP go test ./cmd/cachesync -run '^\$' -bench '$PATTERN' -benchtime 1x"
} >"$OUT/bench.txt"
CACHESYNC_REQUIRE_SERVICES=1 CACHESYNC_BENCH_SAMPLES="$OUT" go test ./cmd/cachesync -run '^$' -bench "$PATTERN" -benchtime 1x -timeout 90m \
	| tee -a "$OUT/bench.txt"
echo
# Built, not `go run`: go run turns the tool's exit 3 (a goal missed) into 1.
TOOL=$(mktemp -d)
trap 'rm -rf "$TOOL"' EXIT
go build -o "$TOOL/cachesync-bench" ./cmd/cachesync-bench
"$TOOL/cachesync-bench" -json "$OUT/bench.json" -plots "$OUT" <"$OUT/bench.txt"
