# tests/integration/gov_lib.sh -- helpers of the governor's end-to-end
# tests (gov_*.sh), sourced after lib.sh: the simulated node, its control
# socket, the audit log, the proposer fixture.

SIM="$top_builddir/meshtune-simnode"
FIXTURES="$top_builddir/tests/strategies/.libs"
DB="$T/audit.db"
for t in python3 sqlite3; do
	command -v $t >/dev/null 2>&1 || { echo "no $t: skipped"; exit 77; }
done

# q SQL: one query on the audit log (waits for the writer's locks).
q() {
	sqlite3 -cmd ".timeout 5000" "$DB" "$1"
}

# poll SQL SECONDS: until the query prints something other than 0.
poll() {
	n=$(( $2 * 10 ))
	while [ "$n" -gt 0 ]; do
		r=$(q "$1" 2>/dev/null || echo 0)
		[ -n "$r" ] && [ "$r" != 0 ] && return 0
		sleep 0.1
		n=$((n - 1))
	done
	fail "timed out waiting for: $1"
}

# node REQUEST: one request line to the node's control socket; prints the
# answer's value, or the whole answer if it is not ok.
node() {
	python3 - "$T/ctl.sock" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
r = json.loads(s.makefile("r").readline())
print("%g" % r["value"] if r.get("ok") else r)
PY
}
node_get() {
	node "{\"op\":\"get\",\"knob\":\"$1\"}"
}
node_set() {
	node "{\"op\":\"set\",\"knob\":\"$1\",\"value\":$2}"
}

# start_node [SCENARIO]: meshtune-simnode sending to meshtuned's StatsD
# socket, serving $T/ctl.sock; waits for the socket.
start_node() {
	"$SIM" --statsd-unix "$T/statsd.sock" --control "$T/ctl.sock" \
	    --scenario "${1:-calm}" --seed 7 --duration 120 --verbose \
	    2>"$T/sim.log" &
	NPID=$!
	PIDS="$PIDS $NPID"
	n=100
	while [ ! -S "$T/ctl.sock" ] && [ $n -gt 0 ]; do
		sleep 0.05
		n=$((n - 1))
	done
	[ -S "$T/ctl.sock" ] || fail "the simulated node did not start"
}

stop_node() {
	kill -TERM "$NPID" 2>/dev/null || true
	wait "$NPID" 2>/dev/null || true
}

# write_conf GOVERNOR KNOBS TRIGGERS STRATEGIES: a configuration for the
# simulated node (JSON members of each object or array).
write_conf() {
	cat > "$T/conf" <<CONF
{
  "tick_interval_ms": 200,
  "window": { "seconds": 4, "slices": 4 },
  "listen": { "statsd_unix": "$T/statsd.sock", "api": "$T/api.sock" },
  "audit": { "path": "$DB" },
  "plugin_dir": "$FIXTURES",
  "governor": { $1 },
  "actuators": { "node": { "type": "unix", "path": "$T/ctl.sock",
                           "timeout_ms": 2000 } },
  "knobs": { $2 },
  "triggers": { $3 },
  "strategies": [ $4 ]
}
CONF
}
