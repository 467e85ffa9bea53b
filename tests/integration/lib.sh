# tests/integration/lib.sh -- shared helpers for the end-to-end tests.
# Each test gets a private temp dir and stops every process it started.

: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"

T=$(mktemp -d /tmp/meshtune-test.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
[ -n "${KEEP_TMP:-}" ] && trap - EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$T/log" ] && { echo "--- daemon log:" >&2; cat "$T/log" >&2; }
	exit 1
}

# wait_for FILE PATTERN [SECONDS]: poll until grep finds PATTERN.
wait_for() {
	n=$(( ${3:-5} * 20 ))
	while [ "$n" -gt 0 ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
		n=$((n - 1))
	done
	fail "timed out waiting for '$2' in $1"
}

# wait_started [SECONDS]: the daemon's own "started" line, written once
# every subsystem is up (the audit log's JSON copy of its start event
# comes earlier).
wait_started() {
	wait_for "$T/log" "info: meshtuned [0-9.]* started (" "${1:-10}"
}

# wait_ticks N [SECONDS]: until the daemon (run with -v) has ticked N
# more times: "for a while" in the daemon's own time, which a loaded
# machine stretches, rather than a fixed sleep.
wait_ticks() {
	before=$(count "$T/log" "debug: tick [0-9]* took")
	wait_for "$T/log" "debug: tick $((before + $1)) took" "${2:-30}"
}

# count FILE PATTERN: lines matching.
count() {
	grep -c -- "$2" "$1" 2>/dev/null || true
}

# start_daemon [WRAPPER...]: meshtuned -f -v on $T/conf, log in $T/log.
start_daemon() {
	# Empty the log first, so no wait_for sees the last run's lines.
	: > "$T/log"
	"$@" "$top_builddir/meshtuned" -f -v -c "$T/conf" 2>>"$T/log" &
	DPID=$!
	PIDS="$PIDS $DPID"
}

# stop_daemon [SECONDS]: SIGTERM, wait for the exit (30 s at most, then
# SIGKILL and fail: a stop that hangs must not hang the suite), set
# DSTATUS.
stop_daemon() {
	kill -TERM "$DPID"
	n=$(( ${1:-30} * 20 ))
	while kill -0 "$DPID" 2>/dev/null; do
		# A zombie has exited: its status waits for us.
		case $(ps -o stat= -p "$DPID" 2>/dev/null) in Z*) break;; esac
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			kill -KILL "$DPID" 2>/dev/null || true
			fail "meshtuned did not stop within ${1:-30} s of SIGTERM"
		fi
		sleep 0.05
	done
	DSTATUS=0
	wait "$DPID" || DSTATUS=$?
}

# A sanitizer build cannot run under valgrind.
sanitized() {
	[ -n "${SAN_CFLAGS:-}" ]
}
