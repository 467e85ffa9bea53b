#!/bin/sh
# plugins.sh -- the real daemon loading strategies: every kind of refusal
# is logged with file, reason and both ABI versions, lands in the audit
# log's events table, and leaves the daemon running the good ones; a
# failing strategy is disabled; SIGHUP adds, removes and reloads
# strategies without losing series windows; -t reports refusals.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

fix="$top_builddir/tests/strategies/.libs"
tmpl="$top_builddir/strategies/.libs/template.so"
[ -f "$tmpl" ] || fail "template.so not built"
plugins="$T/plugins"
mkdir -m 0755 "$plugins"
for f in bad_abi short_size no_callbacks no_symbol init_fails errs_always; do
	cp "$fix/$f.so" "$plugins/$f.so"
done
cp "$tmpl" "$plugins/template.so"
cp "$tmpl" "$plugins/groupw.so"
chmod 0755 "$plugins"/*.so
chmod 0775 "$plugins/groupw.so"
ln -s template.so "$plugins/link.so"

conf() {
	cat > "$T/conf" <<CONF
{ "tick_interval_ms": 100,
  "listen": { "api": "127.0.0.1:0", "statsd_udp": "127.0.0.1:0" },
  "audit": { "path": "$T/audit.db" },
  "plugin_dir": "$plugins",
  "actuators": { "log": { "type": "log" } },
  "knobs": { "net.batch_size": { "actuator": "log", "min": 1, "max": 64,
                                 "initial": 8 } },
  "strategies": [ $1 ] }
CONF
}
s() { printf '{ "name": "%s", "module": "%s.so"%s }' "$1" "$2" "${3:-}"; }

conf "$(s good template), $(s abi bad_abi), $(s short short_size),
      $(s nocb no_callbacks), $(s nosym no_symbol), $(s missing nothere),
      $(s initf init_fails), $(s gw groupw), $(s link link),
      $(s flaky errs_always ', "max_failures": 2')"

# -t loads every plugin and fails on the refusals.
st=0
"$top_builddir/meshtuned" -t -c "$T/conf" >"$T/t.out" 2>"$T/t.err" || st=$?
[ "$st" -eq 1 ] || fail "-t exited $st with refused plugins"
grep -q "^strategy good: template" "$T/t.out" || fail "-t did not list good"
grep -q "meshtuned: 8 strategies refused" "$T/t.err" ||
    fail "-t count: $(tail -1 "$T/t.err")"

start_daemon
wait_started 20
wait_for "$T/log" "strategy \"flaky\" disabled" 10

check_refused() {	# instance reason
	grep -q "plugin: strategy \"$1\" refused: file .*: $2: .*(host ABI 1.0, plugin ABI" "$T/log" ||
	    fail "no refusal line for $1 ($2)"
}
check_refused abi abi_major
grep -q "strategy \"abi\" refused: .*plugin ABI 2.0)" "$T/log" ||
    fail "abi refusal does not name the plugin's ABI"
check_refused short short_struct
check_refused nocb no_callbacks
check_refused nosym no_symbol
check_refused missing missing_file
check_refused initf init_failed
check_refused gw writable
check_refused link symlink

api=$(sed -n 's/.*api: listening on .* port \([0-9]*\)$/\1/p' "$T/log")
udp=$(sed -n 's/.*listening on udp 127.0.0.1:\([0-9]*\)$/\1/p' "$T/log")
curl -sf "http://127.0.0.1:$api/v1/strategies" > "$T/strategies.json"
python3 - "$T/strategies.json" <<'PY' || fail "bad /v1/strategies"
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert set(s) == {"good", "flaky"}, s.keys()
assert s["good"]["enabled"] and s["good"]["abi"] == "1.0"
assert not s["flaky"]["enabled"] and s["flaky"]["errors"] >= 2, s["flaky"]
assert s["good"]["evaluations"] > 0
PY

# Each refusal and the disablement are rows of the events table.
sqlite3 "$T/audit.db" "select source from events where kind = 'plugin_error'
    order by source" | tr '\n' ' ' > "$T/ev"
[ "$(cat "$T/ev")" = "abi gw initf link missing nocb nosym short " ] ||
    fail "plugin_error events: $(cat "$T/ev")"
[ "$(sqlite3 "$T/audit.db" "select count(*) from events
    where kind = 'plugin_disabled' and source = 'flaky'")" = 1 ] ||
    fail "no plugin_disabled event"
[ "$(sqlite3 "$T/audit.db" "select count(*) from strategies
    where name = 'good' and length(sha256) = 64 and abi = '1.0'")" = 1 ] ||
    fail "no strategies row for good"

# A series window survives a reload that changes the strategies.
printf 'net.rtt_ms:5|ms\nnet.rtt_ms:7|ms\n' |
    python3 -c "import sys,socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.stdin.buffer.read(), ('127.0.0.1', $udp))"
n=0
until curl -sf "http://127.0.0.1:$api/v1/series/net.rtt_ms" | grep -q '"count":2'; do
	n=$((n + 1)); [ "$n" -lt 50 ] || fail "samples never arrived"; sleep 0.1
done
conf "$(s good template ', "config": { "threshold": 500 }'),
      $(s second template), $(s flaky errs_always ', "config": { "ok_every": 1 }')"
kill -HUP "$DPID"
wait_for "$T/log" "configuration reloaded" 10
curl -sf "http://127.0.0.1:$api/v1/strategies" > "$T/strategies.json"
python3 - "$T/strategies.json" <<'PY' || fail "bad /v1/strategies after reload"
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert set(s) == {"good", "second", "flaky"}, s.keys()
assert all(x["enabled"] for x in s.values()), s
PY
curl -sf "http://127.0.0.1:$api/v1/series/net.rtt_ms" | grep -q '"count":2' ||
    fail "reload lost the series window"
kill -0 "$DPID" || fail "daemon died"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "exit status $DSTATUS"
echo "plugins: ok"
