#!/usr/bin/env bash
# Installs what `make test` and `make demo` need on Debian or Ubuntu: the
# MariaDB and Redis binaries (tests and the demo start private copies of
# them, see scripts/services.sh; the system services are never started or
# used), redis-cli, gcc for `go test -race`, and Prometheus (promtool checks
# deploy/prometheus/alerts.yml; a private prometheus scrapes a test run),
# and nutcracker (twemproxy: the ketama ring layout is checked against it).
# Checks that Go >= 1.26 is on the PATH. Safe to run again: installs only what is missing.
set -euo pipefail

GO_MIN_MINOR=26

die() { echo "deps.sh: $*" >&2; exit 1; }

check_go() {
	if ! command -v go >/dev/null; then
		local hint="install Go from the official distribution (Debian's golang package is too old)"
		[[ -x /usr/local/go/bin/go ]] && hint="/usr/local/go/bin/go exists: add /usr/local/go/bin to PATH"
		die "Go 1.$GO_MIN_MINOR or newer is required and 'go' is not on the PATH; $hint"
	fi
	local v
	v=$(go env GOVERSION) # go1.26.3, or go1.27rc1
	if [[ ! $v =~ ^go1\.([0-9]+) ]] || ((BASH_REMATCH[1] < GO_MIN_MINOR)); then
		die "Go 1.$GO_MIN_MINOR or newer is required, found $v at $(command -v go): install a newer one"
	fi
	echo "deps.sh: $v ok"
}

# Packages, each with the command that shows it is already there.
declare -A WANT=(
	[mariadb-server]=mariadbd        # also brings mariadb-install-db and the mariadb client
	[redis-server]=redis-server
	[redis-tools]=redis-cli
	[gcc]=gcc                        # go test -race needs cgo
	[libc6-dev]=/usr/include/stdio.h
	[ca-certificates]=/etc/ssl/certs/ca-certificates.crt # go downloads modules over HTTPS
	[docker-compose]=docker-compose  # validates docker-compose.yml; installed without its Recommends (no Docker engine)
	[prometheus]=promtool            # promtool and prometheus for deploy/ (tests start a private one; the service is never used)
	[nutcracker]=nutcracker          # twemproxy: sink's ketama layout is checked against a private one (the service is never used)
)

# Installed with --no-install-recommends: docker-compose recommends the whole
# Docker engine, which these machines cannot run and tests do not need;
# prometheus recommends the node exporter, another service nothing here uses.
NO_RECOMMENDS=" docker-compose prometheus nutcracker "

present() {
	case $1 in
	/*) [[ -e $1 ]] ;;
	*) command -v "$1" >/dev/null || [[ -x /usr/sbin/$1 ]] ;;
	esac
}

missing_packages() {
	local pkg
	for pkg in "${!WANT[@]}"; do
		present "${WANT[$pkg]}" || echo "$pkg"
	done | sort
}

# The Debian packages start their service from the maintainer scripts via
# invoke-rc.d (or deb-systemd-invoke). A policy-rc.d that answers 101
# ("action forbidden") stops that, as Debian's own docker images do; we only
# ever run private servers. An existing policy-rc.d is left alone.
POLICY=/usr/sbin/policy-rc.d
forbid_service_starts() {
	[[ -e $POLICY ]] && return
	printf '#!/bin/sh\n# written by cachesync scripts/deps.sh for the length of an apt-get install\nexit 101\n' |
		$SUDO tee "$POLICY" >/dev/null
	$SUDO chmod 755 "$POLICY"
	trap '$SUDO rm -f "$POLICY"' EXIT
}

main() {
	check_go
	command -v apt-get >/dev/null || die "this script knows only apt-get (Debian, Ubuntu); install MariaDB, Redis and gcc yourself"
	SUDO=
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "run as root, or install sudo"
		SUDO=sudo
	fi
	local missing
	missing=$(missing_packages)
	if [[ -z $missing ]]; then
		echo "deps.sh: MariaDB, Redis, redis-cli, gcc, docker-compose, Prometheus and nutcracker are installed"
		return
	fi
	echo "deps.sh: installing ${missing//$'\n'/ }"
	forbid_service_starts
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# shellcheck disable=SC2086 # one word per package
	local pkg plain=() lean=()
	for pkg in $missing; do
		if [[ $NO_RECOMMENDS == *" $pkg "* ]]; then lean+=("$pkg"); else plain+=("$pkg"); fi
	done
	if ((${#plain[@]})); then
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${plain[@]}"
	fi
	if ((${#lean[@]})); then
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${lean[@]}"
	fi
	echo "deps.sh: done (the system's mariadb, redis and prometheus services were not started; nothing here uses them)"
}

main "$@"
