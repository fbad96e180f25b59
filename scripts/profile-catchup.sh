#!/usr/bin/env bash
# Where cachesync's time goes while it catches up (issue 17): a backlog of N
# single-row changes is written while cachesync is stopped, then cachesync
# drains it with a CPU profile of the whole drain, and the profile is cut
# into pipeline stages (µs of cachesync CPU per row). By hand, not in CI:
#
#   scripts/profile-catchup.sh MODE [N]    MODE: direct | kafka | kafka-batch | writethrough[-kafka|-kafka-batch]
#
# Private MariaDB and Redis (scripts/services.sh) and, for Kafka, cmd/devkafka,
# all on loopback in a temp dir, stopped by PID at exit. N defaults to
# 1000000. Prints the Redis commands run (calls, µs per call and per row),
# rows/s, peak RSS, CPU seconds of cachesync and Redis, and the stage table; the profile (PROFILE_SECONDS long, default N/40000 + 5)
# stays in the temp dir when KEEP=1.
set -euo pipefail
MODE=${1:?usage: profile-catchup.sh direct|kafka|kafka-batch|writethrough[-kafka|-kafka-batch] [N]} N=${2:-1000000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
W=$(mktemp -d "${TMPDIR:-/tmp}/cachesync-profile-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	scripts/services.sh stop "$W/svc" >/dev/null 2>&1 || true
	[[ ${KEEP:-} == 1 ]] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
go build -o "$W/cachesync" ./cmd/cachesync
go build -o "$W/devkafka" ./cmd/devkafka
scripts/services.sh start "$W/svc" >/dev/null
# shellcheck source=/dev/null
. "$W/svc/env"
sql() { mariadb --defaults-file="$MYSQL_CNF" "$@"; }
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks (1/100 s)
HTTP=127.0.0.1:$(scripts/services.sh port)
transport=""
if [[ $MODE == *kafka* ]]; then
	msg=row
	[[ $MODE == *kafka-batch ]] && msg=batch
	"$W/devkafka" --listen 127.0.0.1:0 >"$W/kafka.addr" 2>"$W/kafka.log" &
	PIDS+=($!)
	for _ in $(seq 50); do [[ -s $W/kafka.addr ]] && break; sleep 0.1; done
	transport="transport: {kind: kafka, kafka: {brokers: [\"$(head -1 "$W/kafka.addr")\"], topic: inv, group: cs, create_topic: true, partitions: 4, message: $msg}}"
fi
rule='keys: ["user:{id}", "user:email:{email}"]
    watch: [id, email, name]'
[[ $MODE == writethrough* ]] && rule='keys: ["user:{id}"]
    action: set
    value: {json: [id, email, name]}'
cat >"$W/c.yaml" <<YAML
source: {addr: "$MYSQL_ADDR", user: root, flavor: mariadb, server_id: 4299}
checkpoint: {store: file, path: $W/pos}
redis: {addrs: ["$REDIS_ADDR"]}
delete: {second_delay: 500ms}
http: {addr: "$HTTP", pprof: true}
$transport
rules:
  - table: cu.users
    $rule
YAML
sql -e "CREATE DATABASE cu; CREATE TABLE cu.users (id BIGINT UNSIGNED PRIMARY KEY, email VARCHAR(191), name VARCHAR(100), visits INT NOT NULL DEFAULT 0); INSERT INTO cu.users (id, email, name) SELECT seq, CONCAT('u', seq, '@x.io'), 'n' FROM cu.seq_1_to_$N"
ready() { for _ in $(seq 150); do curl -sf "http://$HTTP/readyz" >/dev/null && return; sleep 0.2; done; echo "cachesync did not get ready" >&2; exit 1; }
GOMEMLIMIT=96MiB "$W/cachesync" run --config "$W/c.yaml" >"$W/log1" 2>&1 &
P=$!
ready
kill -TERM $P && wait $P || true # its checkpoint is now the position before the backlog
for ((lo = 1; lo <= N; lo += 1000)); do echo "UPDATE cu.users SET name = 'b$lo' WHERE id BETWEEN $lo AND $((lo + 999));"; done | sql
if [[ $MODE != writethrough* ]]; then
	seq 1 "$N" | awk '{printf "*3\r\n$3\r\nSET\r\n$%d\r\nuser:%d\r\n$1\r\nx\r\n", length("user:" $1), $1}' | rcli --pipe >/dev/null
fi
rcli config resetstat >/dev/null # commandstats from here on: the drain's
r0=$(cpu "$REDIS_PID")
start=$(date +%s.%N)
GOMEMLIMIT=96MiB "$W/cachesync" run --config "$W/c.yaml" >"$W/log2" 2>&1 &
P=$!
PIDS+=($P)
ready
# Long enough for the drain (idle time after it adds no samples).
curl -s "http://$HTTP/debug/pprof/profile?seconds=${PROFILE_SECONDS:-$((N / 40000 + 5))}" -o "$W/cpu.prof" &
PROF=$!
last=$((N - 999))
if [[ $MODE == writethrough* ]]; then
	until [[ $(rcli get "user:$N") == *"\"b$last\""* ]]; do sleep 0.01; done
else
	until [[ $(rcli exists "user:$N") == 0 ]]; do sleep 0.01; done
fi
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$P/status")
# What Redis ran for the drain (commands inside scripts are counted too).
rcli info commandstats | awk -F'[:,=]' -v n="$N" '/^cmdstat_/ && $3 >= n / 1000 {
	printf "redis %-14s %9d calls %8.2f us/call %6.2f us/row\n", substr($1, 9), $3, $7, $5 / n }' >&2
r1=$(cpu "$REDIS_PID") c1=$(cpu "$P")
wait $PROF || true
kill -TERM $P && wait $P || true
awk -v s="$start" -v e="$end" -v n="$N" -v h="$hwm" -v c="$c1" -v r="$((r1 - r0))" -v m="$MODE" 'BEGIN {
	printf "%s, %d rows: %.0f rows/s, peak RSS %.1f MiB; CPU per row: cachesync %.2f us (whole life), redis %.2f us\n", m, n, n / (e - s), h / 1024, c * 10000 / n, r * 10000 / n }'
go tool pprof -top -cum -nodecount 3000 "$W/cachesync" "$W/cpu.prof" 2>/dev/null | awk -v per="$(awk -v c="$c1" -v n="$N" 'BEGIN {print c * 10000 / n}')" '
function sec(x) { return x ~ /ms$/ ? substr(x, 1, length(x) - 2) / 1000 : substr(x, 1, length(x) - 1) }
/Total samples =/ { for (i = 1; i <= NF; i++) if ($i == "=") total = sec($(i + 1)) }
NF >= 6 && $4 ~ /s$/ { cum[$6] = sec($4) }
END {
	n = split("binlog read + decode (go-mysql)|github.com/go-mysql-org/go-mysql/replication.(*BinlogSyncer).onStream;" \
		"render keys|github.com/cachesync/cachesync/keys.(*Table).Render;" \
		"encode messages|github.com/cachesync/cachesync/sink/kafkamsg.AppendEncoded;" \
		"produce (kafka-go writer)|github.com/segmentio/kafka-go.(*Writer).WriteMessages+github.com/segmentio/kafka-go.(*conn).run;" \
		"fetch (kafka-go reader)|github.com/segmentio/kafka-go.(*Reader).start.func1;" \
		"decode messages|github.com/cachesync/cachesync/sink/kafkamsg.Decode;" \
		"delete (Redis round trips)|github.com/cachesync/cachesync/sink.(*Deleter).Run+github.com/cachesync/cachesync/sink.(*Deleter).runFirst.func1+github.com/cachesync/cachesync/sink.(*Deleter).startFirst.func1;" \
		"checkpoint|github.com/cachesync/cachesync/checkpoint.(*Saver).Run;" \
		"garbage collector (background)|runtime.gcBgMarkWorker", st, ";")
	printf "| stage | share | us/row |\n| --- | ---: | ---: |\n"
	for (i = 1; i <= n; i++) {
		split(st[i], kv, "|"); m = split(kv[2], fs, "+"); v = 0
		for (j = 1; j <= m; j++) v += cum[fs[j]]
		if (v == 0) continue
		printf "| %s | %.0f%% | %.2f |\n", kv[1], 100 * v / total, per * v / total; acc += v
	}
	printf "| the rest (handler, hand-overs, scheduler, syscalls) | %.0f%% | %.2f |\n", 100 * (total - acc) / total, per * (total - acc) / total
}'
