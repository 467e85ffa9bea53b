#!/bin/sh
# crash.sh -- kill -9 the daemon in the middle of a stream of actions, 20
# times in a row on one audit log: every time PRAGMA integrity_check is
# "ok", every actuation that ran has its row, and the next start
# reconciles the rows left pending.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

tmpl="$top_builddir/strategies/.libs/template.so"
plugins="$T/plugins"
mkdir -m 0755 "$plugins"
cp "$tmpl" "$plugins/template.so"
chmod 0755 "$plugins/template.so"

# Eighty template instances, each doubling or halving its own knob whenever
# net.rtt_ms p95 exceeds 1 ms: a burst of actions on a log actuator
# (nothing applied, every set logged before its reply).  Each round has
# knobs of its own: a knob rolled back stays in its (longer) cooldown
# across restarts, as it should, and would leave later rounds idle.
write_conf() {	# round
	knobs="" strategies=""
	for i in $(seq 0 79); do
		knobs="$knobs${knobs:+,} \"r$1k$i\": { \"actuator\": \"log\",
		    \"min\": 1, \"max\": 1024, \"initial\": 2,
		    \"cooldown_s\": 0 }"
		strategies="$strategies${strategies:+,} { \"name\": \"s$i\",
		    \"module\": \"template.so\", \"config\": {
		    \"knob\": \"r$1k$i\", \"threshold\": 1, \"min_count\": 1,
		    \"factor\": $(( i % 2 ? 2 : 0 )).5 } }"
	done
	cat > "$T/conf" <<CONF
{ "tick_interval_ms": 100, "window": { "seconds": 1, "slices": 10 },
  "listen": { "statsd_udp": "127.0.0.1:0" },
  "audit": { "path": "$T/audit.db" },
  "plugin_dir": "$plugins",
  "governor": { "max_actions_per_hour": 100000 },
  "actuators": { "log": { "type": "log" } },
  "knobs": { $knobs },
  "strategies": [ $strategies ] }
CONF
}

feed() {	# keep net.rtt_ms above the threshold until the daemon dies
	python3 - "$1" "$DPID" <<'PY' &
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 120       # a bound, should the kill never come
while time.monotonic() < end:
    try:
        os.kill(pid, 0)
    except OSError:
        break
    s.sendto(b"net.rtt_ms:50|ms\n" * 20, ("127.0.0.1", port))
    time.sleep(0.02)
PY
	PIDS="$PIDS $!"
}

# wait_actuations N SECONDS: until this round's knobs have been actuated
# N times (however long a loaded machine takes), bounded.
wait_actuations() {
	n=$(($2 * 20))
	while [ "$n" -gt 0 ]; do
		[ "$(count "$T/log" "actuator log: r${round}k")" -ge "$1" ] &&
		    return 0
		sleep 0.05
		n=$((n - 1))
	done
	fail "round $round: fewer than $1 actuations in $2 s" \
	    "($(count "$T/log" "actuator log: r${round}k"))"
}

total=0
for round in $(seq 1 20); do
	write_conf "$round"
	: > "$T/log"
	first=$(sqlite3 "$T/audit.db" "select coalesce(max(id), 0) from actions" \
	    2>/dev/null || echo 0)
	start_daemon
	wait_started 20
	udp=$(sed -n 's/.*listening on udp 127.0.0.1:\([0-9]*\)$/\1/p' "$T/log")
	[ -n "$udp" ] || fail "round $round: no StatsD port in the log"
	feed "$udp"
	# Die at a different point of the burst each round: after 10 to 54
	# actuations (its first ticks give about 80 at once; later ones
	# wait on verifications), not after a fixed time, which a loaded
	# machine fills with fewer.
	wait_actuations $((10 + (round * 37) % 45)) 60
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null || true
	ok=$(sqlite3 "$T/audit.db" "pragma integrity_check")
	[ "$ok" = ok ] || fail "round $round: integrity_check: $ok"
	# Every "actuator log: kN = V" line must have its row (pending or
	# already updated): the row is committed before the actuator runs.
	sed -n 's/.*actuator log: \(r[0-9]*k[0-9]*\) = \([0-9.]*\) .*/\1 \2/p' "$T/log" |
	    sort | uniq -c > "$T/ran"
	while read -r n knob value; do
		rows=$(sqlite3 "$T/audit.db" "select count(*) from actions
		    where knob = '$knob' and new_value = $value
		    and id > $first")
		[ "$rows" -ge "$n" ] ||
		    fail "round $round: $knob = $value ran $n times, $rows rows"
		total=$((total + n))
	done < "$T/ran"
done
# Each round waited for its own share of the burst: the rows checked
# above are at least their sum (680).
[ "$total" -ge 680 ] || fail "only $total actuations in 20 rounds"

# A last start, with every round's knobs, reconciles what the kills left
# pending.
write_conf 20
sed -i "s/\"knobs\": {/\"knobs\": { $(seq 1 19 | while read -r r; do
    for i in $(seq 0 79); do printf '"r%dk%d": { "actuator": "log", "min": 1, "max": 1024 }, ' "$r" "$i"; done
done)/" "$T/conf"
: > "$T/log"
start_daemon
wait_started 20
n=0
while [ "$(sqlite3 "$T/audit.db" "select count(*) from actions
    where status = 'pending'")" != 0 ]; do
	n=$((n + 1)); [ "$n" -lt 100 ] || fail "pending rows not reconciled"
	sleep 0.1
done
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "exit status $DSTATUS"
echo "crash: ok ($total actuations over 20 kills, all recorded)"
