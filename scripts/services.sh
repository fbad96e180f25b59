#!/usr/bin/env bash
# Private MariaDB and Redis for the demo and for poking around by hand: the
# shell twin of internal/testenv, from the same my.cnf template
# (internal/testenv/mariadb.cnf) and init.sql.
#
#   scripts/services.sh start DIR   start both on free 127.0.0.1 ports, write DIR/env
#   scripts/services.sh env DIR     print DIR/env as export lines: eval "$(scripts/services.sh env DIR)"
#   scripts/services.sh stop DIR    stop both, by the PIDs recorded in DIR
#   scripts/services.sh port        print a free 127.0.0.1 port (for other listeners)
#
# Tunables for start: MYSQL_SERVER_ID (default 1), REDIS_NOTIFY_KEYSPACE_EVENTS (default "").
# Root has no password: mariadb --defaults-file="$MYSQL_CNF" logs in over the socket.
set -euo pipefail

TESTENV=$(cd "$(dirname "${BASH_SOURCE[0]}")/../internal/testenv" && pwd)
START_TIMEOUT=30 # seconds for a server to accept connections
STOP_TIMEOUT=60  # seconds after SIGTERM before SIGKILL

die() { echo "services.sh: $*" >&2; exit 1; }

bin() { # bin NAME: path of NAME in PATH or /usr/sbin (where Debian puts mariadbd)
	command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; } ||
		die "$1 not found: run scripts/deps.sh"
}

# free_port: a port nothing listens on, below Linux's ephemeral range
# (32768+) so outgoing connections do not take it meanwhile. The server
# still may lose the race; start_* retries with another port.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

alive() { kill -0 "$1" 2>/dev/null; }

# wait_ready PID WHAT LOG CMD...: poll CMD until it succeeds; fail if PID
# dies or START_TIMEOUT passes. Returns 2 when the port was taken.
wait_ready() {
	local pid=$1 what=$2 log=$3 deadline=$((SECONDS + START_TIMEOUT))
	shift 3
	until "$@" >/dev/null 2>&1; do
		if ! alive "$pid"; then
			grep -q "Address already in use" "$log" 2>/dev/null && return 2
			echo "services.sh: $what exited while starting; $log ends with:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			echo "services.sh: $what not ready after ${START_TIMEOUT}s; $log ends with:" >&2
			tail -n 20 "$log" >&2
			kill -KILL "$pid" 2>/dev/null || true
			return 1
		fi
		sleep 0.1
	done
}

start_mysql() { # start_mysql [NAME [SERVER_ID]]: a MariaDB in $DIR/NAME (default mysql)
	local name=${1:-mysql} id=${2:-${MYSQL_SERVER_ID:-1}} port rc attempt
	local d=$DIR/$name
	mkdir -p "$d/data" "$d/tmp"
	for attempt in 1 2 3; do
		port=$(free_port)
		sed -e "s|@DIR@|$d|g" -e "s|@PORT@|$port|g" -e "s|@SERVER_ID@|$id|g" \
			-e "s|@USER@|$(id -un)|g" "$TESTENV/mariadb.cnf" >"$d/my.cnf"
		if ((attempt == 1)); then
			"$(bin mariadb-install-db)" --defaults-file="$d/my.cnf" --auth-root-authentication-method=normal \
				--skip-test-db --extra-file="$TESTENV/init.sql" >"$d/install.log" 2>&1 ||
				{ tail -n 20 "$d/install.log" "$d/error.log" >&2 || true; die "mariadb-install-db failed in $d"; }
		fi
		"$(bin mariadbd)" --defaults-file="$d/my.cnf" >>"$d/mariadbd.out" 2>&1 &
		echo $! >"$DIR/$name.pid"
		rc=0
		wait_ready $! mariadbd "$d/error.log" "$(bin mariadb)" --defaults-file="$d/my.cnf" -e "SELECT 1" || rc=$?
		((rc == 0)) && { MYSQL_PORT=$port; return; }
		((rc == 2)) || die "mariadbd did not start (dir $d)"
	done
	die "mariadbd: no free port after 3 tries"
}

start_redis() {
	local d=$DIR/redis port rc pid
	mkdir -p "$d"
	for _ in 1 2 3; do
		port=$(free_port)
		"$(bin redis-server)" --port "$port" --bind 127.0.0.1 --dir "$d" --logfile "$d/redis.log" \
			--daemonize no --save "" --appendonly no \
			--notify-keyspace-events "${REDIS_NOTIFY_KEYSPACE_EVENTS:-}" >>"$d/redis.out" 2>&1 &
		pid=$!
		echo "$pid" >"$DIR/redis.pid"
		rc=0
		# INFO's process_id must be ours: another server may hold the port.
		wait_ready "$pid" redis-server "$d/redis.log" \
			bash -c "redis-cli -p $port INFO server | grep -q '^process_id:$pid'" || rc=$?
		((rc == 0)) && { REDIS_PORT=$port; return; }
		((rc == 2)) || die "redis-server did not start (dir $d)"
	done
	die "redis-server: no free port after 3 tries"
}

write_env() {
	cat >"$DIR/env" <<EOF
MYSQL_ADDR=127.0.0.1:$MYSQL_PORT
MYSQL_HOST=127.0.0.1
MYSQL_PORT=$MYSQL_PORT
MYSQL_USER=root
MYSQL_SOCKET=$DIR/mysql/mysqld.sock
MYSQL_CNF=$DIR/mysql/my.cnf
MYSQL_PID=$(cat "$DIR/mysql.pid")
REDIS_ADDR=127.0.0.1:$REDIS_PORT
REDIS_HOST=127.0.0.1
REDIS_PORT=$REDIS_PORT
REDIS_PID=$(cat "$DIR/redis.pid")
SERVICES_DIR=$DIR
EOF
}

# stop_pid FILE PATTERN: SIGTERM the PID in FILE if its command line still
# matches PATTERN (so a reused PID is never hit), wait, then SIGKILL.
stop_pid() {
	local file=$1 pattern=$2 pid deadline
	[[ -f $file ]] || return 0
	pid=$(cat "$file")
	if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"; then
		kill -CONT "$pid" 2>/dev/null || true # a paused process cannot act on SIGTERM
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$((SECONDS + STOP_TIMEOUT))
		while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
		if alive "$pid"; then
			echo "services.sh: pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$file"
}

cmd_start() {
	[[ $DIR != *[[:space:]]* ]] || die "DIR must not contain spaces: $DIR"
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	for f in mysql.pid redis.pid; do
		if [[ -f $DIR/$f ]] && alive "$(cat "$DIR/$f")"; then
			die "$DIR already has running services; run: $0 stop $DIR"
		fi
	done
	trap cmd_stop EXIT # a half-started pair is stopped again
	start_mysql
	start_redis
	write_env
	trap - EXIT
	echo "services.sh: MariaDB on 127.0.0.1:$MYSQL_PORT, Redis on 127.0.0.1:$REDIS_PORT; settings in $DIR/env"
}

cmd_stop() {
	[[ -d $DIR ]] || return 0
	DIR=$(cd "$DIR" && pwd)
	stop_pid "$DIR/redis.pid" redis-server
	stop_pid "$DIR/replica.pid" "$DIR/replica/my.cnf"
	stop_pid "$DIR/mysql.pid" "$DIR/mysql/my.cnf"
}

# cmd_replica starts a second MariaDB replicating from the first in GTID
# mode (for make torture's replica readers) and adds REPLICA_ADDR to env.
cmd_replica() {
	[[ -f $DIR/env ]] || die "no $DIR/env: run $0 start $DIR first"
	DIR=$(cd "$DIR" && pwd)
	local primary
	primary=$(sed -n 's/^MYSQL_PORT=//p' "$DIR/env")
	start_mysql replica 2
	"$(bin mariadb)" --defaults-file="$DIR/replica/my.cnf" -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$primary,
		MASTER_USER='root', MASTER_PASSWORD='', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos; START SLAVE" ||
		die "replica: CHANGE MASTER / START SLAVE failed"
	echo "REPLICA_ADDR=127.0.0.1:$MYSQL_PORT" >>"$DIR/env"
	echo "services.sh: MariaDB replica on 127.0.0.1:$MYSQL_PORT"
}

cmd_env() {
	[[ -f $DIR/env ]] || die "no $DIR/env: run $0 start $DIR first"
	sed 's/^/export /' "$DIR/env"
}

usage="usage: $0 start|replica|stop|env DIR, or $0 port"
[[ $# == 1 && $1 == port ]] && { free_port; exit; }
[[ $# == 2 ]] || die "$usage"
DIR=$2
case $1 in
start) cmd_start ;;
replica) cmd_replica ;;
stop) cmd_stop ;;
env) cmd_env ;;
*) die "$usage" ;;
esac
