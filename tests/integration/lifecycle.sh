#!/bin/sh
# lifecycle.sh -- start the real daemon, reload it with a valid and an
# invalid file, stop it, and check what it logged and its exit status;
# then -t and usage errors; then the same life under valgrind.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

good_conf() {
	cat > "$T/conf" <<CONF
{ "tick_interval_ms": $1, "audit": { "path": "$T/audit.db" } }
CONF
}

life() {
	secs=$1
	shift
	good_conf 100
	start_daemon "$@"
	wait_for "$T/log" "started ($T/conf)" "$secs"
	wait_for "$T/log" "debug: tick 2 took" "$secs"

	good_conf 150
	kill -HUP "$DPID"
	wait_for "$T/log" "tick interval now 150 ms" "$secs"
	wait_for "$T/log" "configuration reloaded" "$secs"

	printf '{ "window": { "seconds": "x" }, "tick_interval_ms": 1 }' \
	    > "$T/conf"
	kill -HUP "$DPID"
	wait_for "$T/log" "keeping the running configuration" "$secs"
	grep -q "warning: $T/conf: window.seconds: expected an integer in 1..86400, got \"x\"" "$T/log" ||
	    fail "bad reload did not name file, key and expectation"
	grep -q "reload failed with 2 errors" "$T/log" ||
	    fail "bad reload did not count both errors"
	# Still ticking on the old configuration.
	before=$(count "$T/log" "debug: tick ")
	wait_for "$T/log" "debug: tick $((before + 2)) took" "$secs"
	kill -0 "$DPID" || fail "daemon died after a bad reload"
}

# 1. Plain run: reloads, then SIGTERM exits 0.  Promptly is a matter of
# what it waits for, not of this machine's speed: a tick of 60 s is due
# long after the bound, so a stop that waited for it would fail.
life 5
good_conf 60000
kill -HUP "$DPID"
wait_for "$T/log" "tick interval now 60000 ms" 5
stop_daemon 20
[ "$DSTATUS" -eq 0 ] || fail "exit status $DSTATUS after SIGTERM"
grep -q "info: SIGTERM received, stopping" "$T/log" || fail "no stop line"
grep -q "info: stopped" "$T/log" || fail "no stopped line"

# 2. SIGINT is a clean stop too.
good_conf 100
start_daemon
wait_started 20
kill -INT "$DPID"
wait "$DPID" || fail "exit status $? after SIGINT"
grep -q "SIGINT received, stopping" "$T/log" || fail "no SIGINT line"

# 3. -t: valid, invalid, unreadable; usage errors exit 1.
good_conf 100
out=$("$top_builddir/meshtuned" -t -c "$T/conf") || fail "-t rejected a good file"
[ "$out" = "$T/conf: configuration OK" ] || fail "-t said: $out"
printf '{ "tick_interval_ms": 1, "bogus": true }' > "$T/bad"
st=0
"$top_builddir/meshtuned" -t -c "$T/bad" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] || fail "-t on a bad file exited $st"
grep -qx "$T/bad: bogus: expected one of .*, got an unknown key" "$T/err" ||
    fail "unknown key not reported: $(cat "$T/err")"
grep -qx "meshtuned: 2 configuration errors" "$T/err" || fail "no error count"
# An actuator its backend refuses (an http URL off loopback) fails -t too.
printf '{ "actuators": { "a": { "type": "http", "url": "http://10.1.2.3/x" } } }' \
    > "$T/bad"
st=0
"$top_builddir/meshtuned" -t -c "$T/bad" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] || fail "-t accepted a non-loopback http actuator"
grep -q "^$T/bad: actuators: actuator \"a\": .*must be a loopback" "$T/err" ||
    fail "non-loopback actuator: $(cat "$T/err")"
st=0
"$top_builddir/meshtuned" -t -c "$T/nonexistent" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] || fail "-t on a missing file exited $st"
st=0
"$top_builddir/meshtuned" -Z 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "^usage: meshtuned" "$T/err" || fail "usage: $st"
"$top_builddir/meshtuned" -V | grep -qx "meshtuned [0-9.]*" || fail "-V"

# 4. No leak over start, reload and stop.
if [ -n "${VALGRIND:-}" ] && ! sanitized; then
	life 60 "$VALGRIND" --quiet --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect,possible \
	    --show-leak-kinds=definite,indirect,possible --error-exitcode=99
	stop_daemon
	[ "$DSTATUS" -eq 0 ] || fail "valgrind run exited $DSTATUS"
	if grep -q "==[0-9]*==" "$T/log"; then
		fail "valgrind reported errors"
	fi
else
	echo "valgrind part skipped (no valgrind, or a sanitizer build)"
fi
echo "lifecycle: ok"
