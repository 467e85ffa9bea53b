#!/bin/sh
# api_abuse.sh -- any local user tries to lock out the API, end to end:
# 1,000 connections that send a request a byte at a time, all held by a
# daemon allowed 4,096 descriptors (where the hard limit allows), while
# a normal client is timed (each answer within 1 s), every slow one
# closed by the whole-request deadline however it trickles; then the
# same against the default cap of 512 connections, past which the
# oldest waiting are closed first, and against a daemon allowed only 128
# descriptors, the cap kept below them; the log stays short.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "no python3: skipped"; exit 77; }

run() {	# NOFILE MAX: the daemon's soft descriptor limit ("": as is),
	# listen.api_max_connections
	cat > "$T/conf" <<CONF
{ "listen": { "api": "127.0.0.1:0", "api_request_timeout_s": 2,
              "api_max_connections": $2 },
  "audit": { "path": "$T/audit.db" } }
CONF
	if [ -n "$1" ]; then
		start_daemon sh -c "ulimit -n $1 && exec \"\$@\"" limit
	else
		start_daemon
	fi
	wait_for "$T/log" "api: listening on 127.0.0.1 port" 10
	wait_started 10
	port=$(sed -n 's/.*api: listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$T/log")
	python3 "$top_srcdir/tests/integration/api_abuse.py" "$port" 1000 2 \
	    > "$T/out" 2>"$T/err" || fail "limit ${1:-none}: $(cat "$T/err") \
$(cat "$T/out")"
	cat "$T/out"
	stop_daemon
	[ "$DSTATUS" -eq 0 ] || fail "meshtuned exited $DSTATUS"
	# No storm: a few lines about the API at most.
	n=$(grep -c 'api:' "$T/log" || true)
	[ "$n" -lt 30 ] || fail "$n log lines about the API"
}

hard=$(ulimit -H -n)
many=4096
[ "$hard" = unlimited ] || [ "$hard" -ge "$many" ] || many=$hard
run "$many" 2000
run "" 512
run 128 512
grep -q 'api: at most 42 connections, not 512 (listen.api_max_connections): the process may open 128 descriptors' \
    "$T/log" || fail "no word of the cap kept below the descriptors"
echo "api_abuse: ok"
