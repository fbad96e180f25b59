#!/usr/bin/env bash
# make demo: cachesync end to end on a private MariaDB and Redis.
#
# Starts both in a temp dir (scripts/services.sh), loads testdata/demo/schema.sql,
# caches a few keys in Redis, runs cachesync on testdata/demo/cachesync.yaml,
# writes to MariaDB and shows each key as cachesync deletes it. Everything it
# started is stopped, by PID, when it exits. KEEP=1 keeps the temp dir (logs,
# checkpoint); it is always kept after a failure.
#
#   MODE=direct (default)  the in-process transport
#   MODE=kafka             cmd/devkafka as the broker, cachesync as two processes:
#                          --role tailer (binlog -> Kafka) and --role consumer
#                          (Kafka -> Redis), on testdata/demo/cachesync-kafka.yaml
#   MYSQL_PASSWORD         the cachesync user's password (default: random)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SERVICES=scripts/services.sh
WAIT=30 # seconds for cachesync to get ready, and then to invalidate

die() { echo "demo.sh: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

case ${MODE:=direct} in
direct) CONFIG=testdata/demo/cachesync.yaml ;;
kafka) CONFIG=testdata/demo/cachesync-kafka.yaml ;;
*) die "MODE=$MODE: want direct or kafka" ;;
esac

DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cachesync-demo-XXXXXX")
export DEMO_DIR
PIDS=() # processes started here (services.sh tracks its own)

cleanup() {
	local rc=$? pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	"$SERVICES" stop "$DEMO_DIR" || true
	if ((rc == 0)) && [[ ${KEEP:-} != 1 ]]; then
		rm -rf "$DEMO_DIR"
	else
		echo "demo.sh: logs and checkpoint kept in $DEMO_DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "starting MariaDB and Redis in $DEMO_DIR"
"$SERVICES" start "$DEMO_DIR"
set -a
# shellcheck source=/dev/null
. "$DEMO_DIR/env"
set +a
sql() { mariadb --defaults-file="$MYSQL_CNF" "$@"; }
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

step "loading testdata/demo/schema.sql (database shop: users, orders)"
sql <testdata/demo/schema.sql

step "creating user cachesync: REPLICATION SLAVE, REPLICATION CLIENT on *.*, SELECT on shop.*"
export MYSQL_PASSWORD=${MYSQL_PASSWORD:-demo-$RANDOM$RANDOM}
pw=${MYSQL_PASSWORD//\\/\\\\}
pw=${pw//\'/\\\'}
# For 'localhost' and '127.0.0.1' too: those accounts would otherwise win
# over '%' for local clients. The password goes on stdin, not argv.
for host in localhost 127.0.0.1 %; do
	echo "CREATE USER 'cachesync'@'$host' IDENTIFIED BY '$pw';"
	echo "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cachesync'@'$host';"
	echo "GRANT SELECT ON shop.* TO 'cachesync'@'$host';"
done | sql

step "Redis: announcing every delete (notify-keyspace-events Eg)"
rcli CONFIG SET notify-keyspace-events Eg >/dev/null
rcli --csv SUBSCRIBE __keyevent@0__:del > >(tee "$DEMO_DIR/deletes.csv" |
	sed -un 's/^"message","__keyevent@0__:del","\(.*\)"$/   invalidated: \1/p') 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q '^"subscribe"' "$DEMO_DIR/deletes.csv" 2>/dev/null && break; sleep 0.1; done

# Keys the writes below make stale, new rows' keys included (a cache may
# hold a "no such user" for them), and keys they must leave alone.
STALE=(user:4 user:email:dave@example.com
	user:1 user:email:alice@example.com user:email:alice@new.example
	user:3 user:email:carol@example.com
	order:3 user:1:orders order:1)
KEPT=(user:2 user:email:bob@example.com order:2 user:2:orders)
step "caching ${#STALE[@]} keys the writes will make stale and ${#KEPT[@]} they must not touch"
for k in "${STALE[@]}" "${KEPT[@]}"; do rcli SET "$k" cached >/dev/null; done

step "building and starting cachesync run --config $CONFIG"
go build -o "$DEMO_DIR/cachesync" ./cmd/cachesync || die "cmd/cachesync does not build"
DEMO_HTTP_ADDR=127.0.0.1:$("$SERVICES" port)
export DEMO_HTTP_ADDR
ROLE=all
if [[ $MODE == kafka ]]; then
	go build -o "$DEMO_DIR/devkafka" ./cmd/devkafka || die "cmd/devkafka does not build"
	KAFKA_ADDR=127.0.0.1:$("$SERVICES" port)
	export KAFKA_ADDR
	echo "   devkafka (in-memory development broker, not for production) on $KAFKA_ADDR"
	"$DEMO_DIR/devkafka" --listen "$KAFKA_ADDR" >"$DEMO_DIR/devkafka.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/${KAFKA_ADDR%:*}/${KAFKA_ADDR##*:}") 2>/dev/null && break; sleep 0.1; done
	# The deleting side as its own process: several would share the topic's
	# partitions as one consumer group. Its metrics are off (one port each).
	DEMO_HTTP_ADDR=off "$DEMO_DIR/cachesync" run --config "$CONFIG" --role consumer --log-format console \
		>"$DEMO_DIR/consumer.log" 2>&1 &
	CONSUMER_PID=$!
	PIDS=("$CONSUMER_PID" "${PIDS[@]}")
	for ((i = 0; ; i++)); do
		grep -q "consuming" "$DEMO_DIR/consumer.log" 2>/dev/null && break
		kill -0 "$CONSUMER_PID" 2>/dev/null || { tail -n 30 "$DEMO_DIR/consumer.log" >&2; die "cachesync --role consumer exited"; }
		((i < WAIT * 10)) || { tail -n 30 "$DEMO_DIR/consumer.log" >&2; die "cachesync --role consumer not ready after ${WAIT}s"; }
		sleep 0.1
	done
	echo "   consumer ready (pid $CONSUMER_PID, log $DEMO_DIR/consumer.log)"
	ROLE=tailer
fi
"$DEMO_DIR/cachesync" run --config "$CONFIG" --role "$ROLE" --log-format console \
	>"$DEMO_DIR/cachesync.log" 2>&1 &
CACHESYNC_PID=$!
PIDS=("$CACHESYNC_PID" "${PIDS[@]}") # stopped first, while Redis is still up

readyz() { # HTTP GET /readyz with bash alone: no curl on a fresh machine
	local status
	exec 3<>"/dev/tcp/${DEMO_HTTP_ADDR%:*}/${DEMO_HTTP_ADDR##*:}" || return 1
	printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3
	read -r status <&3
	exec 3>&-
	[[ $status == *" 200"* ]]
}
cachesync_failed() {
	echo "demo.sh: $1; $DEMO_DIR/cachesync.log ends with:" >&2
	tail -n 30 "$DEMO_DIR/cachesync.log" >&2
	exit 1
}
# Ready once it has a start position (saved in the checkpoint) or says so:
# writes from then on are in its binlog range.
for ((i = 0; ; i++)); do
	[[ -s $DEMO_DIR/cachesync.pos ]] || (readyz) 2>/dev/null && break
	kill -0 "$CACHESYNC_PID" 2>/dev/null || cachesync_failed "cachesync exited"
	((i < WAIT * 10)) || cachesync_failed "cachesync not ready after ${WAIT}s"
	sleep 0.1
done
echo "   ready (pid $CACHESYNC_PID, metrics on http://$DEMO_HTTP_ADDR/metrics)"

step "writing to MariaDB"
write() { echo "   mysql> $1"; sql shop -e "$1"; }
start_us=${EPOCHREALTIME/./}
write "INSERT INTO users (email, name) VALUES ('dave@example.com', 'Dave')"
write "UPDATE users SET email = 'alice@new.example' WHERE id = 1"
write "UPDATE users SET updated_at = NOW(3) WHERE id = 2  -- no watched column changed: nothing to do"
write "DELETE FROM users WHERE id = 3"
write "INSERT INTO orders (user_id, total, status) VALUES (1, 42.00, 'new')"
write "UPDATE orders SET status = 'shipped' WHERE id = 1"

left=${#STALE[@]}
for ((i = 0; i < WAIT * 10; i++)); do
	left=$(rcli EXISTS "${STALE[@]}")
	((left == 0)) && break
	kill -0 "$CACHESYNC_PID" 2>/dev/null || cachesync_failed "cachesync exited"
	sleep 0.1
done
took_ms=$(((${EPOCHREALTIME/./} - start_us) / 1000))
sleep 1 # the second deletes (delete.second_delay) and the last event lines

step "summary"
fail=0
for k in "${STALE[@]}"; do
	if (($(rcli EXISTS "$k") == 0)); then echo "   ok    $k invalidated"; else echo "   FAIL  $k still cached"; fail=1; fi
done
for k in "${KEPT[@]}"; do
	if (($(rcli EXISTS "$k") == 1)); then echo "   ok    $k kept"; else echo "   FAIL  $k deleted, though no write touched it"; fail=1; fi
done
echo "   checkpoint: $(tr -d '\n' <"$DEMO_DIR/cachesync.pos" 2>/dev/null || echo none)"
((fail == 0)) || cachesync_failed "$left of ${#STALE[@]} stale keys still cached after ${WAIT}s, or a kept key was deleted"
echo "   all ${#STALE[@]} stale keys invalidated within ${took_ms}ms of the first write; ${#KEPT[@]} others kept"
