#!/bin/sh
# file_race.sh -- issue 21's race, end to end: the daemon writes four
# allow-listed files through the file actuator (the step_up fixture
# proposes +1 on every 100 ms tick) while a racer swaps the directory
# that holds them for a symlink to another directory and back, as the
# owner of a delegated cgroup could.  Nothing outside the allow list may
# ever be written, and every audit row must tell the truth: an applied
# row's value reached the real file (the governor reads each knob back
# before the next set, so a write that went elsewhere would show as a
# manual change), a failed row says why.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "no python3: skipped"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "no sqlite3: skipped"; exit 77; }

fix="$top_builddir/tests/strategies/.libs"
[ -f "$fix/step_up.so" ] || fail "step_up.so not built"
mkdir -m 0755 "$T/plugins" "$T/cg" "$T/outside"
cp "$fix/step_up.so" "$T/plugins/"
chmod 0755 "$T/plugins/step_up.so"
knobs=""
allow=""
defs=""
for i in 0 1 2 3; do
	echo 0 > "$T/cg/k$i"
	echo 12345 > "$T/outside/k$i"	# a number: worth writing, if reached
	knobs="$knobs${knobs:+,}f.k$i"
	allow="$allow${allow:+, }\"$T/cg/k$i\""
	defs="$defs${defs:+,
}    \"f.k$i\": { \"actuator\": \"sys\", \"path\": \"$T/cg/k$i\", \"min\": 0,
               \"max\": 1000000, \"cooldown_s\": 0,
               \"keep_unjudged\": true }"
done
cat > "$T/conf" <<CONF
{ "tick_interval_ms": 100,
  "window": { "seconds": 1, "slices": 1 },
  "audit": { "path": "$T/audit.db" },
  "plugin_dir": "$T/plugins",
  "governor": { "max_actions_per_hour": 100000, "flap_reversals": 1000,
                "flap_window_s": 1 },
  "actuators": { "sys": { "type": "file", "allow": [ $allow ] } },
  "knobs": {
$defs
  },
  "strategies": [ { "name": "step", "module": "step_up.so",
                    "config": { "knobs": "$knobs" } } ]
}
CONF

# The racer: the real directory and a symlink to the other one take
# turns at the allowed name, a little while each.
cat > "$T/race.py" <<'PY'
import os, sys, time
top = sys.argv[1]
cg, moved, out = top + "/cg", top + "/cg.moved", top + "/outside"
end = time.monotonic() + 90
while time.monotonic() < end and not os.path.exists(top + "/stop"):
    os.rename(cg, moved)
    os.symlink(out, cg)
    time.sleep(0.0003)
    os.unlink(cg)
    os.rename(moved, cg)
    time.sleep(0.0003)
PY

start_daemon
wait_started 20
python3 "$T/race.py" "$T" &
RPID=$!
PIDS="$PIDS $RPID"

# Until both outcomes were recorded often enough (bounded).  Each knob
# waits a window for its verification after a change and backs off after
# failures (issue 15), so 25 of each take about 20 s.
rows() {
	sqlite3 "$T/audit.db" "select count(*) from actions where
	    knob like 'f.k%' and status = '$1'" 2>/dev/null || echo 0
}
outside_intact() {
	for i in 0 1 2 3; do
		[ "$(cat "$T/outside/k$i")" = 12345 ] ||
		    fail "$T/outside/k$i was written: $(cat "$T/outside/k$i")"
	done
}
no_manual_change() {
	m=$(sqlite3 "$T/audit.db" "select message from events where kind =
	    'manual_change'" 2>/dev/null || true)
	[ -z "$m" ] || fail "a knob read back other than it was set: $m"
}
n=0
while [ "$(rows applied)" -lt 25 ] || [ "$(rows failed)" -lt 25 ]; do
	outside_intact
	no_manual_change
	n=$((n + 1))
	[ "$n" -le 600 ] || fail "after 60 s: $(rows applied) applied, \
$(rows failed) failed"
	sleep 0.1
done
touch "$T/stop"
wait "$RPID" || fail "the racer failed"
[ -d "$T/cg" ] && [ ! -L "$T/cg" ] || fail "the racer left $T/cg moved"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "meshtuned exited $DSTATUS"

# 1. Nothing outside the allow list was written.
outside_intact

# 2. The rows tell the truth.
sqlite3 "$T/audit.db" "select count(*) from actions where status =
    'pending'" | grep -qx 0 || fail "pending rows left"
no_manual_change
bad=$(sqlite3 "$T/audit.db" "select id || ': ' || coalesce(error, '') from
    actions where knob like 'f.k%' and status = 'failed' and
    error not like '%a symbolic link on the path (refused)%' and
    error not like '%No such file or directory%'")
[ -z "$bad" ] || fail "failed rows without the reason: $bad"
for i in 0 1 2 3; do
	# Applied values rise one by one past each failure, and the file
	# holds the last of them.
	last=$(sqlite3 "$T/audit.db" "select new_value from actions where
	    knob = 'f.k$i' and status = 'applied' order by id desc limit 1")
	python3 -c "import sys; sys.exit(float('$last') != \
float(open('$T/cg/k$i').read()))" ||
	    fail "f.k$i: last applied $last, file $(cat "$T/cg/k$i")"
	sqlite3 "$T/audit.db" "select count(*) from actions a join actions b
	    on b.knob = a.knob and b.id > a.id and b.status = 'applied'
	    where a.knob = 'f.k$i' and a.status = 'applied' and
	    b.new_value <= a.new_value" | grep -qx 0 ||
	    fail "f.k$i: applied values do not rise"
done

# 3. The failures were logged, a storm cut short with a count.
lines=$(count "$T/log" "governor: f.k[0-3]: not applied")
[ "$lines" -gt 0 ] || fail "no failure in the log"
failed=$(rows failed)
echo "applied $(rows applied), failed $failed, failure lines logged $lines"
exit 0
