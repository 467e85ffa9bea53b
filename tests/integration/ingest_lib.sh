# tests/integration/ingest_lib.sh -- helpers of the ingestion tests, on
# top of lib.sh: start meshtuned with StatsD and the API on port 0, query
# the API as JSON, wait for counters.

command -v python3 >/dev/null 2>&1 || { echo "no python3: skipped"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "no curl: skipped"; exit 77; }

# Sanitized binaries are several times slower: scale waits and limits.
if sanitized; then SLOW=4; else SLOW=1; fi

# start_ingest_daemon EXTRA_JSON: port 0 everywhere, an empty /proc root
# (no host series), audit in $T; sets UPORT and APORT from the log.
start_ingest_daemon() {
	mkdir -p "$T/proc"
	cat > "$T/conf" <<CONF
{ "tick_interval_ms": 1000,
  "audit": { "path": "$T/audit.db" },
  "node": { "proc_root": "$T/proc" },
  $1 }
CONF
	start_daemon
	wait_for "$T/log" "api: listening on 127.0.0.1 port " $((5 * SLOW))
	wait_for "$T/log" "ingest: listening on udp 127.0.0.1:" $((5 * SLOW))
	UPORT=$(sed -n 's/.*ingest: listening on udp 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
	    "$T/log" | head -n 1)
	APORT=$(sed -n 's/.*api: listening on 127\.0\.0\.1 port \([0-9]*\)$/\1/p' \
	    "$T/log" | head -n 1)
	[ -n "$UPORT" ] && [ "$UPORT" -gt 0 ] || fail "no udp port in the log"
	[ -n "$APORT" ] && [ "$APORT" -gt 0 ] || fail "no api port in the log"
	# /v1/status tells the same ports.
	[ "$(jget /v1/status 'd["listen"]["statsd_udp_port"]')" = "$UPORT" ] ||
	    fail "/v1/status statsd_udp_port is not $UPORT"
	[ "$(jget /v1/status 'd["listen"]["api_port"]')" = "$APORT" ] ||
	    fail "/v1/status api_port is not $APORT"
}

# Functions used inside $(...) must not call fail or exit: in dash the
# subshell would run lib.sh's EXIT trap, stop the daemon and remove $T.
# They print why on stderr and return 1.

# api PATH [CURL ARGS...]: the body on stdout.
api() {
	p=$1
	shift
	curl -sS --max-time $((5 * SLOW)) "$@" "http://127.0.0.1:$APORT$p" || {
		echo "GET $p: curl failed" >&2
		return 1
	}
}

# jget PATH EXPR: print the Python expression EXPR of the JSON d at PATH.
jget() {
	api "$1" > "$T/json" || return 1
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(int(v) if isinstance(v, float) and v.is_integer() else v)' \
	    "$T/json" "$2" || {
		echo "GET $1: cannot evaluate $2 on $(cat "$T/json")" >&2
		return 1
	}
}

# wait_json PATH EXPR SECONDS: poll until the Python expression is true.
wait_json() {
	n=$(( $3 * SLOW * 10 ))
	while [ "$n" -gt 0 ]; do
		[ "$(jget "$1" "bool($2)" || echo error)" = True ] && return 0
		sleep 0.1
		n=$((n - 1))
	done
	fail "timed out waiting for $2 on $1: $(cat "$T/json")"
}

# status_quiet: wait until the daemon has read every datagram sent so far
# (the datagram count stops moving for half a second).
status_quiet() {
	last=-1
	n=$((100 * SLOW))
	while [ "$n" -gt 0 ]; do
		cur=$(jget /v1/status 'd["ingest"]["datagrams"]') ||
		    fail "no /v1/status"
		[ "$cur" = "$last" ] && return 0
		last=$cur
		sleep 0.5
		n=$((n - 1))
	done
	fail "datagram count never settled"
}
