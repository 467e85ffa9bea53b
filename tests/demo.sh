#!/bin/sh
# tests/demo.sh -- README command one: install what is missing, build, and
# run meshtuned in the foreground on the bundled configuration until
# Ctrl-C, with its state in a temporary directory.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/tests/setup.sh" build
state=$(mktemp -d /tmp/meshtune-demo.XXXXXX)
trap 'rm -rf "$state"' EXIT
sed -e "s|/var/lib/meshtune/audit.db|$state/audit.db|" \
    -e "s|/run/meshnode.pid|$state/meshnode.pid|" \
    -e "s|/run/meshnode/ctl.sock|$state/ctl.sock|" \
    -e "s|\"plugin_dir\": *\"[^\"]*\"|\"plugin_dir\": \"$top/_build/strategies/.libs\"|" \
    "$top/etc/meshtuned.conf" > "$state/meshtuned.conf"
echo "demo: meshtuned on $state/meshtuned.conf; Ctrl-C stops it"
"$top/_build/meshtuned" -f -v -c "$state/meshtuned.conf" || true
