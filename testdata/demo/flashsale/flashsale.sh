#!/usr/bin/env bash
# Write-behind demo: a flash sale. 1,000 items in stock, 5,000 concurrent
# buyers through the IncrBy script (floor 0): exactly 1,000 sell, and the
# flusher brings MySQL to 0 as well. Private MariaDB and Redis in a temp dir
# (scripts/services.sh), stopped by PID at the end.
#
#   bash testdata/demo/flashsale/flashsale.sh      (STOCK=, BUYERS= to change the numbers)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cachesync-flashsale-XXXXXX")
PID=
cleanup() {
	local rc=$?
	[[ -n $PID ]] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
	scripts/services.sh stop "$DIR" || true
	if ((rc == 0)); then rm -rf "$DIR"; else echo "flashsale.sh: logs kept in $DIR" >&2; fi
}
trap cleanup EXIT

echo "== starting MariaDB and Redis in $DIR"
scripts/services.sh start "$DIR"
set -a; . "$DIR/env"; set +a
sql() { mariadb --defaults-file="$MYSQL_CNF" "$@"; }
sql -e "CREATE DATABASE shop; CREATE TABLE shop.stock (sku VARCHAR(32) PRIMARY KEY, qty INT NOT NULL)"

cat >"$DIR/cachesync.yaml" <<YAML
source: {addr: "$MYSQL_ADDR", user: root, flavor: mariadb, server_id: 4201}
checkpoint: {path: "$DIR/cachesync.pos"}
redis: {addrs: ["$REDIS_ADDR"]}
http: {addr: "off"}
rules:
  - table: shop.stock
    keys: ["stock:{sku}", "product:{sku}:page"]
    write_behind: {stream: "wb:stock", keys: ["stock:{sku}"]}
YAML

echo "== starting cachesync run (tailer, deleter and write-behind flusher)"
go build -o "$DIR/cachesync" ./cmd/cachesync
"$DIR/cachesync" run --config "$DIR/cachesync.yaml" >"$DIR/cachesync.log" 2>&1 &
PID=$!
for _ in $(seq 300); do grep -q "flusher active" "$DIR/cachesync.log" && break; sleep 0.1; done

echo "== the sale: ${BUYERS:-5000} buyers, ${STOCK:-1000} in stock"
go run ./testdata/demo/flashsale

for _ in $(seq 300); do
	qty=$(sql -N -e "SELECT qty FROM shop.stock WHERE sku = 'tee-42'")
	[[ $qty == 0 ]] && break
	sleep 0.1
done
echo "   Redis stock:tee-42 = $(redis-cli -p "$REDIS_PORT" GET stock:tee-42), MySQL qty = $qty"
[[ $qty == 0 ]] || { echo "flashsale.sh: MySQL did not reach 0" >&2; exit 1; }
echo "== sold out, nothing oversold, MySQL agrees"
