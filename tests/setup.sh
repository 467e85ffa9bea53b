#!/bin/sh
# tests/setup.sh -- install the Debian packages meshtune needs (saying
# which), then build it in _build/.  Sourced or run by tests/demo.sh and
# tests/check.sh; "setup.sh test" also installs what the tests need.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build_pkgs="gcc make autoconf automake libtool pkg-config libevent-dev
libcjson-dev libsqlite3-dev sqlite3"
# Tests: g++ checks the SDK headers as C++, libseccomp-dev builds the
# helper that runs meshtuned under the unit's system call filter, strace
# and iproute2 serve install.sh (writes outside the prefix; loopback in a
# network namespace of its own).
test_pkgs="libcmocka-dev mandoc valgrind clang curl python3 prometheus
python3-statsd nodejs g++ libseccomp-dev strace iproute2 libfaketime"

need=$build_pkgs
[ "${1:-build}" = test ] && need="$need $test_pkgs"

missing=""
for p in $need; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing missing Debian packages:$missing"
	if [ "$(id -u)" -eq 0 ]; then
		sudo=""
	elif command -v sudo >/dev/null 2>&1; then
		sudo=sudo
	else
		echo "setup: run as root, or install them: apt-get install$missing" >&2
		exit 1
	fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
	    --no-install-recommends $missing
else
	echo "setup: all build dependencies are installed"
fi

cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure --enable-werror
make -j"$(nproc)"

# The StatsD client the end-to-end test drives (tests/integration/
# clients.sh), from the npm registry into the build tree, never the source.
if [ "${1:-build}" = test ] && [ ! -d tests/npm/node_modules/hot-shots ] &&
    command -v npm >/dev/null 2>&1; then
	echo "setup: installing hot-shots (npm) into _build/tests/npm"
	mkdir -p tests/npm
	npm install --prefix tests/npm --no-audit --no-fund --loglevel=error \
	    hot-shots@17.1.1 || echo "setup: npm install hot-shots failed"
fi
