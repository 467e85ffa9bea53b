# tests/integration/audit_episode.sh -- sourced by audit_lock.sh and
# audit_full.sh: an episode of two verified actions against a tiny test
# node, during which the audit log cannot be written for a while.
#
# The node (python3) serves the unix actuator protocol and sends net.rtt_ms
# samples of 50 + 1000 / knob ms, so each doubling of net.batch_size by the
# template strategy (threshold 100) helps: 8 -> 16 (175 -> 112 ms) and
# 16 -> 32 (-> 81 ms), each verified 2 s later and kept.  Then it stops.
#
# episode_start DBPATH: write the config, start meshtuned and the node.
# The caller then waits for episode_first_applied, makes the log
# unwritable, waits for episode_decided_meanwhile, makes it writable again,
# and calls episode_check, which stops everything and checks that every
# decision reached the file.

command -v python3 >/dev/null 2>&1 || { echo "no python3: skipped"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "no sqlite3: skipped"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "no curl: skipped"; exit 77; }

cat > "$T/node.py" <<'PY'
import json, random, socket, sys, threading, time

path, port, logpath = sys.argv[1], int(sys.argv[2]), sys.argv[3]
knob = [8.0]
lock = threading.Lock()
log = open(logpath, "a", buffering=1)

def send_samples():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    while True:
        with lock:
            v = knob[0]
        lines = "\n".join("net.rtt_ms:%.3f|ms" %
            (50 + 1000 / v + random.uniform(-2, 2)) for _ in range(5))
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
            if req["op"] == "set":
                knob[0] = float(req["value"])
            reply = {"ok": True, "value": knob[0]}
        log.write("%s %g\n" % (req["op"], knob[0]))
    except Exception as e:
        reply = {"ok": False, "error": str(e)}
    c.sendall((json.dumps(reply) + "\n").encode())
    c.close()
PY

episode_start() {
	DB=$1
	cat > "$T/conf" <<CONF
{
  "tick_interval_ms": 200,
  "window": { "seconds": 2, "slices": 4 },
  "listen": { "statsd_udp": "127.0.0.1:0", "api": "127.0.0.1:0" },
  "audit": { "path": "$DB" },
  "plugin_dir": "$top_builddir/strategies/.libs",
  "actuators": { "node": { "type": "unix", "path": "$T/node.sock",
                           "timeout_ms": 2000 } },
  "knobs": { "net.batch_size": { "actuator": "node", "min": 1, "max": 64,
                                 "initial": 8, "cooldown_s": 1,
                                 "verify_s": 2 } },
  "strategies": [ { "name": "batcher", "module": "template.so",
                    "config": { "series": "net.rtt_ms", "stat": "p95",
                                "threshold": 100, "min_count": 50,
                                "knob": "net.batch_size", "factor": 2 } } ]
}
CONF
	start_daemon
	wait_for "$T/log" "ingest: listening on udp 127.0.0.1:" 10
	wait_for "$T/log" "api: listening on 127.0.0.1 port" 10
	udp=$(sed -n 's/.*ingest: listening on udp 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
	    "$T/log" | head -n 1)
	API=$(sed -n 's/.*api: listening on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' \
	    "$T/log" | head -n 1)
	[ -n "$udp" ] && [ -n "$API" ] || fail "no StatsD or API port in the log"
	python3 "$T/node.py" "$T/node.sock" "$udp" "$T/node.log" &
	NPID=$!
	PIDS="$PIDS $NPID"
	wait_for "$T/node.log" "ready" 10
}

q() {
	sqlite3 -cmd ".timeout 10000" "$DB" "$1"
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

# The first action applied, its row in the file: the log is still fine.
episode_first_applied() {
	poll "SELECT count(*) FROM actions WHERE status = 'applied'" 30
	STALL_FROM=$(date +%s)
}

# While the log cannot be written, the governor decides on: the first
# action's verification ends (a verdict logged) and the second action is
# decided (its pending row waits); and at least MIN seconds go by, longer
# than any busy timeout the writer might give up after.
episode_decided_meanwhile() {	# MIN
	wait_for "$T/log" "governor: action [0-9]* on net.batch_size: .*: kept" 30
	wait_for "$T/log" "governor: batcher: net.batch_size 16 -> 32" 30
	while [ $(( $(date +%s) - STALL_FROM )) -lt "$1" ]; do
		sleep 0.2
	done
	[ "$(q "SELECT count(*) FROM actions")" = 1 ] ||
	    fail "rows were written while the log could not be"
}

# time_get: GET /v1/actions, print its time in ms; fail past 10 s.
time_get() {
	t=$(curl -s -o "$T/get.json" -w '%{time_total}' --max-time 10 \
	    "http://127.0.0.1:$API/v1/actions?limit=5") ||
	    fail "GET /v1/actions failed or took over 10 s"
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' \
	    "$T/get.json" || fail "GET /v1/actions: not JSON: $(cat "$T/get.json")"
	python3 -c 'import sys; print(int(float(sys.argv[1]) * 1000))' "$t"
}

# After the stall: both actions applied and kept; every verdict and every
# refusal the governor logged is in the file; nothing was "not written".
episode_check() {
	poll "SELECT count(*) FROM actions WHERE outcome IS NOT NULL AND
	    new_value = 32" 30
	stop_daemon
	[ "$DSTATUS" -eq 0 ] || fail "meshtuned exited $DSTATUS"
	kill -TERM "$NPID" 2>/dev/null || true
	wait "$NPID" 2>/dev/null || true
	echo "--- what meshtuned said about the log:"
	grep "audit: $DB: \(cannot\|still cannot\|writing again\)" "$T/log" || true
	echo "--- the story:"
	q "SELECT id, ts, old_value, new_value, status, outcome, done_ts,
	    outcome_ts FROM actions ORDER BY id"
	[ "$(q "SELECT group_concat(printf('%g>%g:%s:%s', old_value,
	    new_value, status, outcome), ' ') FROM actions")" = \
	    "8>16:applied:kept 16>32:applied:kept" ] ||
	    fail "actions: $(q "SELECT * FROM actions")"
	verdicts=$(count "$T/log" "governor: action [0-9]* on net.batch_size: .*: \(kept\|rolled_back\|unverified\)$")
	[ "$verdicts" = 2 ] || fail "$verdicts verdicts logged, not 2"
	[ "$(q "SELECT count(*) FROM actions WHERE outcome IS NOT NULL")" = \
	    "$verdicts" ] || fail "a verdict did not reach the file"
	[ "$(q "SELECT count(*) FROM actions WHERE status = 'pending'")" = 0 ] ||
	    fail "a row left pending"
	# Every refusal the governor logged (-v) is counted in the file.
	refusals=$(count "$T/log" "debug: governor: batcher on net.batch_size refused: ")
	[ "$(q "SELECT coalesce(sum(count), 0) FROM decisions")" = \
	    "$refusals" ] || fail "$refusals refusals logged, \
$(q "SELECT coalesce(sum(count), 0) FROM decisions") in the file"
	! grep -q "audit: not written" "$T/log" || fail "rows not written"
	[ "$(q "SELECT count(*) FROM events WHERE kind = 'stop'")" = 1 ] ||
	    fail "no stop event"
	[ "$(q "PRAGMA integrity_check")" = ok ] || fail "integrity_check"
}
