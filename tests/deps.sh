#!/bin/sh
# deps.sh: checks for (and with "install", installs) the Debian packages pageturn builds and tests with.
# Usage: deps.sh check|install [build]
# With "build", only what building and installing the tools needs (make install): not the tools
# that only the tests use (kcat, jq, time, groff, mandoc, curl, redis-server).
set -u

missing=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
have_pc rdkafka        || missing="$missing librdkafka-dev"
have_pc jansson        || missing="$missing libjansson-dev"
have_pc zlib           || missing="$missing zlib1g-dev"
have_pc libmicrohttpd  || missing="$missing libmicrohttpd-dev"
have_pc hiredis        || missing="$missing libhiredis-dev"
command -v cc   >/dev/null 2>&1 || missing="$missing build-essential"
command -v zcat  >/dev/null 2>&1 || missing="$missing gzip"
if [ "${2:-}" != build ]; then
	command -v kcat >/dev/null 2>&1 || missing="$missing kcat"
	command -v jq   >/dev/null 2>&1 || missing="$missing jq"
	[ -x /usr/bin/time ]             || missing="$missing time"
	command -v groff >/dev/null 2>&1 || missing="$missing groff"
	command -v mandoc >/dev/null 2>&1 || missing="$missing mandoc"
	command -v curl  >/dev/null 2>&1 || missing="$missing curl"
	command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
fi

[ -z "$missing" ] && exit 0

if [ "${1:-check}" = check ]; then
	echo "pageturn: missing packages:$missing" >&2
	echo "pageturn: run 'make deps' (or: apt-get install$missing)" >&2
	exit 1
fi

if [ "$(id -u)" = 0 ]; then SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"
else
	echo "pageturn: missing packages:$missing" >&2
	echo "pageturn: run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "pageturn: installing$missing" >&2
$SUDO apt-get update -qq >&2 &&
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >&2 || {
	echo "pageturn: apt-get failed; run: apt-get update && apt-get install -y$missing" >&2
	exit 1
}
