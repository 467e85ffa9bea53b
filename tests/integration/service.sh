#!/bin/sh
# service.sh -- meshtuned as a service, detached: -h, the pid file
# (written, locked against a second daemon, removed at stop), the state
# directory it creates (0700), a relative -c file still found on SIGHUP
# after it moved to /, and where its log goes without -f: the journal
# (JOURNAL_STREAM names standard error) or, with no syslog daemon,
# standard error rather than nowhere; relative paths in the
# configuration refused when it detaches.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

D="$top_builddir/meshtuned"

# -h: usage on standard output, exit 0, every option named.
out=$("$D" -h) || fail "-h exited $?"
for o in "-c file" "-f" "-h" "-n" "-p pidfile" "-t" "-v"; do
	echo "$out" | grep -q -- "^  $o " || fail "-h does not explain $o"
done
echo "$out" | head -1 | grep -q "^usage: meshtuned \[-fhntvV\] \[-c file\] \[-p pidfile\]$" ||
    fail "-h synopsis: $(echo "$out" | head -1)"

cat > "$T/conf" <<CONF
{ "tick_interval_ms": 100,
  "listen": { "statsd_udp": "127.0.0.1:0", "api": "127.0.0.1:0" },
  "audit": { "path": "$T/state/lib/meshtune/audit.db" } }
CONF

# pid_gone PID: wait (bounded) until it has exited.
pid_gone() {
	n=400
	while kill -0 "$1" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || fail "pid $1 still running"
		sleep 0.05
	done
}

# 1. Detached, standard error on "the journal": the parent returns 0 at
# once, the daemon writes its pid file and says where it logs.
: > "$T/log"
journal=$(stat -c '%d:%i' "$T/log")
(cd "$T" && JOURNAL_STREAM=$journal "$D" -v -c conf -p run/meshtuned.pid \
    2>>"$T/log") || fail "detaching meshtuned exited $?"
wait_started 20
wait_for "$T/log" "logging to standard error (standard error is the journal)" 5
pid=$(cat "$T/run/meshtuned.pid")
PIDS="$PIDS $pid"
kill -0 "$pid" || fail "pid file names $pid, not running"
[ "$(stat -c %a "$T/state/lib/meshtune")" = 700 ] ||
    fail "state directory mode $(stat -c %a "$T/state/lib/meshtune")"

# A second daemon on the same pid file is refused, on the terminal (a
# bound, should it start after all).
st=0
timeout 20 "$D" -f -c "$T/conf" -p "$T/run/meshtuned.pid" 2>"$T/err" ||
    st=$?
[ "$st" -eq 1 ] || fail "second daemon exited $st"
grep -q "another meshtuned is running (pid $pid)" "$T/err" ||
    fail "second daemon: $(cat "$T/err")"

# SIGHUP finds the relative -c file though the daemon works in /.
kill -HUP "$pid"
wait_for "$T/log" "configuration reloaded" 10
grep -q "started ($T/conf)" "$T/log" || fail "conf path not made absolute"

kill -TERM "$pid"
pid_gone "$pid"
wait_for "$T/log" "info: stopped" 5
[ ! -e "$T/run/meshtuned.pid" ] || fail "pid file left behind"

# 2. No syslog daemon, no journal: standard error still gets the log.
if [ -e /dev/log ]; then
	echo "syslog present: the no-syslog case is not checked"
else
	: > "$T/log"
	"$D" -c "$T/conf" -p "$T/run/meshtuned.pid" 2>>"$T/log" ||
	    fail "detaching meshtuned exited $?"
	wait_started 20
	grep -q "logging to standard error (no syslog daemon on /dev/log)" \
	    "$T/log" || fail "no word on where the log goes"
	pid=$(cat "$T/run/meshtuned.pid")
	PIDS="$PIDS $pid"
	kill -TERM "$pid"
	pid_gone "$pid"
	wait_for "$T/log" "info: stopped" 5
fi
# 3. A relative path in the configuration names another file once the
# daemon works in /: detaching with one is refused at once, naming it
# (it created the directory here, then failed to open the audit log
# there, after the parent had exited 0).  With -f it is used as given.
mkdir -p "$T/rel"
cat > "$T/rel/conf" <<CONF
{ "listen": { "api": "127.0.0.1:0" },
  "audit": { "path": "state/audit.db" }, "plugin_dir": "plugins" }
CONF
st=0
(cd "$T/rel" && "$D" -c conf 2>"$T/err") || st=$?
[ "$st" -eq 1 ] || fail "detached with relative paths: exit $st"
grep -q "audit.path: \"state/audit.db\" is relative" "$T/err" ||
    fail "relative audit.path: $(cat "$T/err")"
grep -q "plugin_dir: \"plugins\" is relative" "$T/err" ||
    fail "relative plugin_dir: $(cat "$T/err")"
[ ! -e "$T/rel/state" ] || fail "a directory made before the refusal"
: > "$T/log"
(cd "$T/rel" && exec "$D" -f -c conf 2>>"$T/log") &
DPID=$!
PIDS="$PIDS $DPID"
wait_started 20
[ -f "$T/rel/state/audit.db" ] || fail "-f: no relative audit log"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "-f with relative paths: exit $DSTATUS"
echo "service: ok"
