#!/usr/bin/env bash
# make torture: the cache-aside race measured (cmd/cachesync-torture) on a
# private MariaDB and Redis that this script starts (scripts/services.sh) in
# a temp dir and stops again, whatever happens. Arguments are passed to the
# command (make passes TORTURE_ARGS), e.g.
#   make torture TORTURE_ARGS='-modes app-delete,double -duration 60s'
# TORTURE_REPLICA=1 also starts a MariaDB replica of it (services.sh
# replica), whose address reaches the command as $REPLICA_ADDR: readers then
# fill from the replica, lagged at random, and mode replica-aware runs, e.g.
#   make torture TORTURE_REPLICA=1 TORTURE_ARGS='-modes double,lease,replica-aware'
# Prints one table and writes the report as JSON to $TORTURE_OUT (default
# ./torture-results/torture.json).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${TORTURE_OUT:-torture-results}
mkdir -p "$OUT"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cachesync-torture.XXXXXX")
trap 'bash scripts/services.sh stop "$DIR"; rm -rf "$DIR"' EXIT
bash scripts/services.sh start "$DIR"
if [[ ${TORTURE_REPLICA:-} == 1 ]]; then # readers fill from a replica: -replica, mode replica-aware
	bash scripts/services.sh replica "$DIR"
fi
eval "$(bash scripts/services.sh env "$DIR")"
go build -o "$DIR/cachesync-torture" ./cmd/cachesync-torture
"$DIR/cachesync-torture" -json "$OUT/torture.json" "$@"
