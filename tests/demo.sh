#!/bin/sh
# tests/demo.sh -- README command one: install what is missing, build, and
# show meshtune tuning a simulated mesh gaming node.
#
# meshtune-simnode runs the "mixed" scenario (calm, congestion, memory
# pressure, peer churn, consensus backlog) four times faster than real
# time; meshtuned runs the five bundled strategies against it, both on
# unix sockets in a temporary directory.  The demo prints a line per
# decision and per verification, the node's key metrics every 10 s, and
# a summary at the end.  It stops by itself after DEMO_SECONDS (240) or on
# Ctrl-C, stops both processes, and keeps the audit log to look at.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/tests/setup.sh" build
build="$top/_build"
seconds=${DEMO_SECONDS:-240}
speed=${DEMO_SPEED:-4}

state=$(mktemp -d /tmp/meshtune-demo.XXXXXX)
sed -e "s|@STATE@|$state|g" -e "s|@PLUGINDIR@|$build/strategies/.libs|g" \
    "$top/tests/demo.conf.in" > "$state/meshtuned.conf"
db="$state/audit.db"
ctl() { "$build/meshtunectl" -s "$state/api.sock" "$@"; }

pids=""
finish() {
	trap - INT TERM EXIT
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	follow
	rm -f "$state"/*.sock "$state/node.pid"
	summary
	exit 0
}

summary() {
	echo
	echo "== what meshtune did =========================================="
	sqlite3 -column -header "$db" "
	    select strategy, knob, kind, status,
	        coalesce(outcome, '-') as outcome, count(*) as n
	    from actions group by 1, 2, 3, 4, 5 order by 1, 2" 2>/dev/null ||
	    echo "(no audit log: meshtuned did not start; see $state/meshtuned.log)"
	echo
	echo "== what it refused, and why ==================================="
	sqlite3 -column -header "$db" "
	    select strategy, knob, reason, count from decisions
	    order by count desc limit 12" 2>/dev/null || true
	echo
	echo "The audit log is $db; try:"
	echo "  sqlite3 -column -header $db \\"
	echo "    \"select id, ts, strategy, knob, old_value, new_value, status, outcome, reason"
	echo "     from actions order by id\""
	echo "Logs: $state/meshtuned.log $state/simnode.log"
	echo "Remove it all with: rm -r $state"
}

# Print the decisions and verifications meshtuned logged since line
# $seen of its log, as "HH:MM:SS  text".
seen=0
follow() {
	total=$(wc -l < "$state/meshtuned.log")
	[ "$total" -gt "$seen" ] || return 0
	sed -n "$((seen + 1)),${total}p" "$state/meshtuned.log" |
	    grep -E 'governor: (action |rollback |dry run: |[a-z]+: [^ ]+ [-0-9.e+nan]+ -> )|reversed direction|marked manual|not applied' |
	    sed 's/^meshtuned: [a-z]*: governor: //' |
	    while read -r line; do
		printf '%s  %s\n' "$(date +%H:%M:%S)" "$line"
	    done
	seen=$total
}

metric() {	# SERIES STAT -> value rounded, or "-"
	ctl --json series "$1" 2>/dev/null |
	    sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" |
	    awk '{ printf "%.1f", $1 } END { if (NR == 0) printf "-" }'
}

trap finish INT TERM EXIT

echo "demo: state in $state"
"$build/meshtuned" -f -c "$state/meshtuned.conf" 2>"$state/meshtuned.log" &
pids="$pids $!"
n=0
until grep -q "info: meshtuned [0-9.]* started (" "$state/meshtuned.log"; do
	n=$((n + 1))
	if [ "$n" -gt 100 ] || ! kill -0 $pids 2>/dev/null; then
		cat "$state/meshtuned.log"
		echo "demo: meshtuned did not start" >&2
		exit 1
	fi
	sleep 0.1
done
"$build/meshtune-simnode" --statsd-unix "$state/statsd.sock" \
    --control "$state/ctl.sock" --pid-file "$state/node.pid" \
    --scenario mixed --seed 7 --speed "$speed" --duration "$seconds" \
    2>"$state/simnode.log" &
sim=$!
pids="$sim $pids"

echo "demo: meshtune-simnode runs the mixed scenario at ${speed}x for ${seconds} s;"
echo "      meshtuned evaluates 5 strategies every second (Ctrl-C to stop early)"
echo

t=0
while kill -0 "$sim" 2>/dev/null; do
	sleep 1
	t=$((t + 1))
	follow
	[ $((t % 10)) -eq 0 ] || continue
	phase=$(sed -n 's/.*phase \([a-z-]*\).*/\1/p' "$state/simnode.log" |
	    tail -1)
	printf '%s  -- %-17s rtt p95 %s ms | heap %s MiB | loss p90 %s%% | ops %s/s\n' \
	    "$(date +%H:%M:%S)" "${phase:-?}" \
	    "$(metric net.rtt_ms p95)" "$(metric mem.heap_mb last)" \
	    "$(metric mesh.loss_pct p90)" "$(metric consensus.ops rate)"
done
finish
