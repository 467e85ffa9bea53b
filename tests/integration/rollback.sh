#!/bin/sh
# rollback.sh -- end to end: the template strategy doubles a knob of a
# tiny test node, the node gets slower for it, and meshtuned verifies the
# change, finds it worse, and rolls it back; the audit log tells the
# story in order.
#
# The test node (python3) serves the unix actuator protocol on a stream
# socket (one JSON line per connection) and sends net.rtt_ms samples over
# StatsD that grow with its knob: 50 + 10 * knob ms (8 -> 130, 16 -> 210).
set -eu
. "$top_srcdir/tests/integration/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "no python3: skipped"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "no sqlite3: skipped"; exit 77; }

cat > "$T/node.py" <<'PY'
import json, os, random, socket, sys, threading, time

path, port, logpath = sys.argv[1], int(sys.argv[2]), sys.argv[3]
knobs = {"net.batch_size": 8.0}
lock = threading.Lock()
log = open(logpath, "a", buffering=1)

def send_samples():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    while True:
        with lock:
            v = knobs["net.batch_size"]
        lines = "\n".join("net.rtt_ms:%.3f|ms" %
            (50 + 10 * v + random.uniform(-5, 5)) for _ in range(5))
        s.sendto(lines.encode(), ("127.0.0.1", port))
        time.sleep(0.02)

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
threading.Thread(target=send_samples, daemon=True).start()
log.write("ready\n")
while True:
    c, _ = srv.accept()
    line = c.makefile("rb").readline()
    try:
        req = json.loads(line)
        with lock:
            if req["knob"] not in knobs:
                reply = {"ok": False, "error": "no such knob"}
            elif req["op"] == "set":
                knobs[req["knob"]] = float(req["value"])
                reply = {"ok": True, "value": knobs[req["knob"]]}
            else:
                reply = {"ok": True, "value": knobs[req["knob"]]}
        log.write("%s %s %g\n" % (req["op"], req["knob"], reply.get("value", -1)))
    except Exception as e:
        reply = {"ok": False, "error": str(e)}
    c.sendall((json.dumps(reply) + "\n").encode())
    c.close()
PY

cat > "$T/conf" <<CONF
{
  "tick_interval_ms": 200,
  "window": { "seconds": 2, "slices": 4 },
  "listen": { "statsd_udp": "127.0.0.1:0" },
  "audit": { "path": "$T/audit.db" },
  "plugin_dir": "$top_builddir/strategies/.libs",
  "governor": { "max_actions_per_hour": 20, "flap_reversals": 3,
                "flap_window_s": 60, "readback_s": 0 },
  "actuators": { "node": { "type": "unix", "path": "$T/node.sock",
                           "timeout_ms": 1000 } },
  "knobs": { "net.batch_size": { "actuator": "node", "min": 1, "max": 64,
                                 "initial": 8, "cooldown_s": 10,
                                 "verify_s": 2 } },
  "strategies": [ { "name": "batcher", "module": "template.so",
                    "config": { "series": "net.rtt_ms", "stat": "p95",
                                "threshold": 100, "min_count": 50,
                                "knob": "net.batch_size", "factor": 2 } } ]
}
CONF

DB="$T/audit.db"
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

start_daemon
wait_for "$T/log" "ingest: listening on udp 127.0.0.1:" 5
port=$(sed -n 's/.*ingest: listening on udp 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
    "$T/log" | head -n 1)
[ -n "$port" ] || fail "no StatsD port in the log"
python3 "$T/node.py" "$T/node.sock" "$port" "$T/node.log" &
NPID=$!
PIDS="$PIDS $NPID"
wait_for "$T/node.log" "ready" 5

# The strategy acts, meshtuned verifies after verify_s, and rolls back.
poll "SELECT count(*) FROM actions WHERE kind = 'rollback' AND status = 'applied'" 20
poll "SELECT count(*) FROM actions WHERE outcome = 'rolled_back'" 5
# Five ticks more (a second): no new action (the doubled cooldown holds
# the knob).
wait_ticks 5
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "meshtuned exited $DSTATUS"

echo "--- the story:"
q "SELECT id, ts, kind, old_value, new_value, status, outcome, parent_id,
    done_ts, outcome_ts FROM actions ORDER BY id"

# 1. Exactly two actions: the change and its rollback.
[ "$(q "SELECT count(*) FROM actions")" = 2 ] ||
    fail "expected 2 actions, got $(q "SELECT count(*) FROM actions")"
A=$(q "SELECT id FROM actions WHERE kind = 'set'")
R=$(q "SELECT id FROM actions WHERE kind = 'rollback'")
[ -n "$A" ] && [ -n "$R" ] || fail "no set or no rollback row"
[ "$R" -gt "$A" ] || fail "rollback $R is not after action $A"

# 2. The change: applied 8 -> 16 by the strategy, then rolled back.
[ "$(q "SELECT printf('%s|%s|%g|%g|%s|%s|%s', strategy, knob, old_value,
    new_value, status, outcome, actuator) FROM actions WHERE id = $A")" = \
    "batcher|net.batch_size|8|16|applied|rolled_back|node" ] ||
    fail "action $A: $(q "SELECT * FROM actions WHERE id = $A")"
[ "$(q "SELECT printf('%s|%s|%d', expect_metric, expect_stat, expect_dir)
    FROM actions WHERE id = $A")" = "net.rtt_ms|p95|-1" ] ||
    fail "action $A does not say what it expected"
# Its verdict: the expectation decided, p95 up instead of down.
[ "$(q "SELECT json_extract(verdict, '\$.decided_by') || '|' ||
    json_extract(verdict, '\$.expectation.result') || '|' ||
    (json_extract(verdict, '\$.expectation.after') >
    json_extract(verdict, '\$.expectation.baseline'))
    FROM actions WHERE id = $A")" = "expectation|not_improved|1" ] ||
    fail "action $A verdict: $(q "SELECT verdict FROM actions WHERE id = $A")"

# 3. The rollback: 16 -> 8, its parent, and why (the p95 rose).
[ "$(q "SELECT printf('%g|%g|%s|%d', old_value, new_value, status,
    parent_id) FROM actions WHERE id = $R")" = "16|8|applied|$A" ] ||
    fail "rollback $R: $(q "SELECT * FROM actions WHERE id = $R")"
[ "$(q "SELECT json_extract(evidence, '\$.verify.after') >
    json_extract(evidence, '\$.verify.baseline') AND
    json_extract(evidence, '\$.verify.count') >= 20 AND
    reason LIKE 'rollback of action $A:%' FROM actions WHERE id = $R")" = 1 ] ||
    fail "rollback $R: evidence or reason wrong"

# 4. In order: A written, applied, verified verify_s later by the
#    rollback, which is applied before A's outcome is recorded.
[ "$(q "SELECT a.ts <= a.done_ts AND a.done_ts < r.ts AND
    (julianday(r.ts) - julianday(a.done_ts)) * 86400 >= 1.9 AND
    r.ts <= r.done_ts AND r.done_ts <= a.outcome_ts
    FROM actions a, actions r WHERE a.id = $A AND r.id = $R")" = 1 ] ||
    fail "rows out of order"
[ "$(q "SELECT count(*) FROM events WHERE kind = 'start' AND ts <=
    (SELECT ts FROM actions WHERE id = $A)")" -ge 1 ] ||
    fail "no start event before the action"
# While it was verified the strategy kept asking, and was refused.
[ "$(q "SELECT coalesce(sum(count), 0) FROM decisions WHERE
    strategy = 'batcher' AND knob = 'net.batch_size' AND
    reason = 'verifying'")" -ge 1 ] || fail "no 'verifying' refusals"
[ "$(q "SELECT count(*) FROM decisions WHERE strategy = 'batcher' AND
    reason = 'cooldown'")" = 1 ] || fail "no 'cooldown' refusal after the rollback"

# 5. The node saw: read, set 16, read, set 8; and holds 8 again.
[ "$(grep '^set ' "$T/node.log" | tr '\n' ' ')" = \
    "set net.batch_size 16 set net.batch_size 8 " ] ||
    fail "node sets: $(grep '^set ' "$T/node.log" | tr '\n' ' ')"
[ "$(grep -c '^get ' "$T/node.log")" = 2 ] || fail "node reads: $(cat "$T/node.log")"
got=$(python3 -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"{\"op\":\"get\",\"knob\":\"net.batch_size\"}\n")
print("%g" % json.loads(s.makefile("rb").readline())["value"])
' "$T/node.sock")
[ "$got" = 8 ] || fail "node knob is $got, not back to 8"

kill -TERM "$NPID" 2>/dev/null || true
wait "$NPID" 2>/dev/null || true
echo "ok: applied, verified worse, rolled back, in order"
