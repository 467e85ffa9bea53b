#!/bin/sh
# ctl.sh -- meshtunectl against the real daemon: every command over TCP
# and a unix socket, --json parsed and checked with python3, the tables
# for people, audit rows made by the template strategy on a log
# actuator; then the daemon absent, bad addresses, bad arguments, fake
# servers that hang or answer nonsense; then valgrind.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }
CTL="$top_builddir/meshtunectl"
PLUGINS="$top_builddir/strategies/.libs"
[ -f "$PLUGINS/template.so" ] || fail "no $PLUGINS/template.so"
unset MESHTUNE_API

# ctl STATUS ARGS...: run meshtunectl, want STATUS; output in $T/out, $T/err.
ctl() {
	want=$1
	shift
	st=0
	${WRAP:-} "$CTL" "$@" >"$T/out" 2>"$T/err" || st=$?
	[ "$st" -eq "$want" ] || fail "meshtunectl $*: exit $st, expected \
$want; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"
	if grep -Eq "==[0-9]+==|runtime error:" "$T/err"; then
		fail "valgrind or sanitizer: meshtunectl $*: $(cat "$T/err")"
	fi
}

# pycheck CODE: python3 with d = the JSON in $T/out, out = its text.
pycheck() {
	python3 -c "import json, sys, datetime
out = open('$T/out').read()
d = json.loads(out)
$1" || fail "check failed: $1
on: $(cat "$T/out")"
}

# has FILE REGEX: a line of FILE matches the extended regex.
has() {
	grep -Eq -- "$2" "$1" || fail "no line like '$2' in $1: $(cat "$1")"
}

# until_ok SECONDS CMD...: retry CMD every 0.1 s until it succeeds.
until_ok() {
	n=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# conf API [one]: two knobs on a log actuator, each moved by an instance
# of the template strategy; with "one", only the first of each.
# (Only one knob: meshtuned crashes reloading two, see governor.c
# gov_knobs_sync.)
conf() {
	if [ "${2:-}" = one ]; then
		knob2=
		strat2=
	else
		knob2=',
    "net.window":     { "actuator": "rec", "min": 1, "max": 1000,
                        "initial": 10, "cooldown_s": 0 }'
		strat2=',
    { "name": "win", "module": "template.so",
      "config": { "series": "net.rtt_ms", "stat": "p50", "threshold": 100,
                  "min_count": 20, "knob": "net.window", "factor": 2 } }'
	fi
	cat > "$T/conf" <<CONF
{ "tick_interval_ms": 100,
  "window": { "seconds": 30, "slices": 30 },
  "listen": { "api": "$1", "statsd_udp": "127.0.0.1:0" },
  "audit": { "path": "$T/audit.db" },
  "plugin_dir": "$PLUGINS",
  "actuators": { "rec": { "type": "log" } },
  "knobs": {
    "net.batch_size": { "actuator": "rec", "min": 1, "max": 64,
                        "initial": 8, "cooldown_s": 0 }$knob2
  },
  "strategies": [
    { "name": "batch", "module": "template.so",
      "config": { "series": "net.rtt_ms", "stat": "p95", "threshold": 100,
                  "min_count": 20, "knob": "net.batch_size", "factor": 2 } }$strat2
  ]
}
CONF
}


# A port nothing listens on (bound, then closed).
free_port() {
	python3 -c "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

# 1. TCP: the daemon with an empty audit log.
conf 127.0.0.1:0
start_daemon
wait_for "$T/log" "api: listening on 127.0.0.1 port" 10
wait_for "$T/log" "listening on udp 127.0.0.1:" 10
PORT=$(sed -n 's/.*api: listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$T/log")
UDP=$(sed -n 's/.*ingest: listening on udp 127.0.0.1:\([0-9]*\).*/\1/p' "$T/log")
A="127.0.0.1:$PORT"

ctl 0 -s "$A" --json actions
pycheck 'assert d == [], d'
ctl 0 -s "$A" actions
[ "$(wc -l < "$T/out")" -eq 1 ] || fail "empty log, table: $(cat "$T/out")"
has "$T/out" '^ID +TIME +STRATEGY +KIND +KNOB +CHANGE +STATUS +OUTCOME +REASON$'

# 2. StatsD samples: 30 timer values 150..179 ms, a tagged one, a gauge,
# a counter, one bad line.
python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
lines = ['net.rtt_ms:%d|ms' % v for v in range(150, 180)]
lines += ['net.rtt_ms:300|ms|#peer:a', 'mem.heap_mb:512|g', 'bad line']
lines += ['consensus.ops:3|c'] * 30
for i in range(0, len(lines), 10):
    s.sendto('\n'.join(lines[i:i + 10]).encode(), ('127.0.0.1', $UDP))"
lines_in() {
	"$CTL" -s "$A" --json status > "$T/st" &&
	    python3 -c "import json, sys
sys.exit(json.load(open('$T/st'))['ingest']['lines'] != 63)"
}
until_ok 10 lines_in || fail "the daemon did not count 63 lines"

# status
ctl 0 -s "$A" --json status
pycheck 'assert d["paused"] is False and d["dry_run"] is False
assert d["ingest"]["lines"] == 63
assert sum(d["ingest"]["errors"].values()) == 1, d["ingest"]["errors"]
assert out.endswith("}\n")'
ctl 0 -s "$A" status
for k in version uptime "dry run" paused series "ingest lines" \
    "ingest errors" "ingest dropped" "kernel drops" "last tick"; do
	has "$T/out" "^$k  +[^ ]"
done
has "$T/out" '^paused +no$'
has "$T/out" '^ingest lines +63$'
has "$T/out" '^ingest errors +1 \([a-z_]+ 1\)$'
# --json may follow the command too.
ctl 0 -s "$A" status --json
pycheck 'assert d["ingest"]["lines"] == 63'

# series, the list: the /proc collectors may still be adding series,
# so list and count until two answers in a row agree (bounded).
n=0
while :; do
	ctl 0 -s "$A" --json series
	cp "$T/out" "$T/series.json"
	"$CTL" -s "$A" --json status > "$T/out"
	python3 -c "import json, sys
sys.exit(json.load(open('$T/out'))['series'] !=
    len(json.load(open('$T/series.json'))))" && break
	n=$((n + 1))
	[ "$n" -lt 20 ] || break
	sleep 0.2
done
pycheck "
s = json.load(open('$T/series.json'))
assert d['series'] == len(s), (d['series'], len(s))
t = {x['name']: x['type'] for x in s}
assert t['net.rtt_ms'] == 'timer' and t['net.rtt_ms{peer=a}'] == 'timer'
assert t['mem.heap_mb'] == 'gauge' and t['consensus.ops'] == 'counter'"
ctl 0 -s "$A" series
has "$T/out" '^NAME +TYPE$'
has "$T/out" '^net\.rtt_ms +timer$'
has "$T/out" '^net\.rtt_ms\{peer=a\} +timer$'
has "$T/out" '^consensus\.ops +counter$'
tail -n +2 "$T/out" | LC_ALL=C sort -c || fail "series not sorted"

# series NAME: statistics, units from the name, URL-encoded tags
ctl 0 -s "$A" --json series net.rtt_ms
# net.rtt_ms holds its 30 bare samples and the one of net.rtt_ms{peer=a}.
pycheck 'assert d["count"] == 31 and d["min"] == 150 and d["max"] == 300
assert d["type"] == "timer" and abs(d["p50"] - 165) < 2'
ctl 0 -s "$A" series net.rtt_ms
has "$T/out" '^name +net\.rtt_ms$'
has "$T/out" '^count +31$'
has "$T/out" '^min +150 ms$'
has "$T/out" '^max +300 ms$'
has "$T/out" '^p99 +[0-9.]+ ms$'
has "$T/out" '^rate +[0-9.]+/s$'
ctl 0 -s "$A" --json series 'net.rtt_ms{peer=a}'
pycheck 'assert d["name"] == "net.rtt_ms{peer=a}" and d["count"] == 1'
ctl 0 -s "$A" series 'net.rtt_ms{peer=a}'
has "$T/out" '^p50 +300 ms$'
ctl 0 -s "$A" series mem.heap_mb
has "$T/out" '^last +512 MiB$'
ctl 0 -s "$A" --json series consensus.ops
pycheck 'assert d["total"] == 90 and d["type"] == "counter"'
ctl 0 -s "$A" series consensus.ops
has "$T/out" '^total +90$'
ctl 1 -s "$A" series no.such
has "$T/err" '^meshtunectl: meshtuned: no series no\.such$'

# strategies
ctl 0 -s "$A" --json strategies
pycheck 'n = {s["name"]: s for s in d}
assert set(n) == {"batch", "win"}, n
assert all(s["enabled"] is True and s["evaluations"] > 0 for s in d)'
ctl 0 -s "$A" strategies
has "$T/out" '^NAME +ENABLED +EVALUATIONS +PROPOSALS +ERRORS +LAST RUN +LAST DECISION$'
has "$T/out" '^batch +yes +[0-9]+ +[0-9]+ +0 +[0-9.]+ (us|ms|s)'
has "$T/out" '^win +yes +[0-9]+ +[0-9]+ +0 +'

# 3. actions: both strategies proposed, the log actuator applied.
two_rows() {
	"$CTL" -s "$A" --json actions > "$T/act" &&
	    python3 -c "import json, sys
sys.exit({r['strategy'] for r in json.load(open('$T/act'))} != {'batch', 'win'})"
}
until_ok 10 two_rows || fail "no audit rows from both strategies: $(cat "$T/act")"
ctl 0 -s "$A" --json actions
cp "$T/out" "$T/all.json"
pycheck 'ids = [r["id"] for r in d]
assert ids == sorted(ids, reverse=True) and len(ids) >= 2
for r in d:
    assert r["kind"] == "set" and r["status"] == "applied", r
    assert r["knob"] == {"batch": "net.batch_size", "win": "net.window"}[r["strategy"]]'
ctl 0 -s "$A" --json actions -n 1
pycheck "a = json.load(open('$T/all.json'))
assert len(d) == 1 and d[0]['id'] == a[0]['id']"
ctl 0 -s "$A" --json actions --strategy win
pycheck 'assert len(d) >= 1 and all(r["strategy"] == "win" for r in d)'
ctl 0 -s "$A" --json actions --strategy nobody
pycheck 'assert d == []'
ctl 0 -s "$A" --json actions --since 2999-01-01T00:00:00Z
pycheck 'assert d == []'
ctl 0 -s "$A" actions --since 2999-01-01
[ "$(wc -l < "$T/out")" -eq 1 ] || fail "--since future: $(cat "$T/out")"
ctl 0 -s "$A" --json actions --since 1h
pycheck "assert d == json.load(open('$T/all.json'))"
newest=$(python3 -c "import json; print(json.load(open('$T/all.json'))[0]['ts'])")
ctl 0 -s "$A" --json actions --since "$newest"
pycheck "assert len(d) >= 1 and all(r['ts'] >= '$newest' for r in d)"
ctl 0 -s "$A" --json actions --since "$newest" -n 1 --strategy batch
pycheck 'assert len(d) <= 1 and all(r["strategy"] == "batch" for r in d)'

# The table: local time (TZ as POSIX rules: no tzdata needed), the
# change, the reason cut to 60 characters when not on a terminal.
for tz in UTC0:0 XST-9:9 YST5:-5; do
	name=${tz%:*}
	hours=${tz#*:}
	TZ=$name ctl 0 -s "$A" actions -n 1
	python3 - "$T/all.json" "$T/out" "$hours" <<'PY' || fail "actions table, TZ=$name: $(cat "$T/out")"
import datetime, json, sys
r = json.load(open(sys.argv[1]))[0]
text = open(sys.argv[2]).read().splitlines()
assert len(text) == 2, text
utc = datetime.datetime.strptime(r["ts"][:19], "%Y-%m-%dT%H:%M:%S")
local = (utc + datetime.timedelta(hours=int(sys.argv[3]))).strftime("%Y-%m-%d %H:%M:%S")
row = text[1]
reason = r["reason"] if len(r["reason"]) <= 60 else r["reason"][:57] + "..."
def n(v):
    return "%d" % v if v == int(v) else "%g" % v
want = ["%d" % r["id"], local, r["strategy"], "set", r["knob"],
        n(r["old_value"]) + " -> " + n(r["new_value"]), "applied", "-"]
for w in want:
    assert ("  " + w + "  ") in ("  " + row + "  "), (w, row)
assert row.endswith("  " + reason), (reason, row)
PY
done

# 4. pause, resume, resume KNOB, reload
ctl 0 -s "$A" pause
has "$T/out" '^paused: no actions are applied until resume$'
ctl 0 -s "$A" --json status
pycheck 'assert d["paused"] is True'
ctl 0 -s "$A" status
has "$T/out" '^paused +yes$'
ctl 0 -s "$A" --json resume
pycheck 'assert d == {"ok": True}'
ctl 0 -s "$A" --json status
pycheck 'assert d["paused"] is False'
ctl 1 -s "$A" resume no.such.knob
has "$T/err" '^meshtunectl: meshtuned: no knob no\.such\.knob is marked manual$'
MESHTUNE_API="$A" ctl 0 --json status
pycheck 'assert d["paused"] is False'
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "daemon exit status $DSTATUS"

# 5. The daemon absent: a clear message, exit 1.
ctl 1 -s "$A" status
[ "$(cat "$T/err")" = "meshtunectl: cannot reach meshtuned at $A: Connection refused (is it running? see -s)" ] ||
    fail "absent daemon: $(cat "$T/err")"

# 6. A unix socket, from -s and from MESHTUNE_API; the audit rows of 3;
# reload, a good one and a bad one.
conf "$T/api.sock" one
start_daemon
wait_for "$T/log" "api: listening on $T/api.sock" 10
ctl 0 -s "$T/api.sock" --json status
pycheck 'assert d["paused"] is False and "version" in d'
MESHTUNE_API="$T/api.sock" ctl 0 pause
MESHTUNE_API="$T/api.sock" ctl 0 --json status
pycheck 'assert d["paused"] is True'
ctl 0 -s "$T/api.sock" resume
ctl 0 -s "$T/api.sock" --json actions -n 10000
pycheck "a = json.load(open('$T/all.json'))
assert {r['id'] for r in a} <= {r['id'] for r in d}"
ctl 0 -s "$T/api.sock" strategies
has "$T/out" '^batch +yes'
ctl 0 -s "$T/api.sock" --json series
pycheck 'assert isinstance(d, list)'
ctl 0 -s "$T/api.sock" reload
has "$T/out" '^configuration and plugins reloaded$'
ctl 0 -s "$T/api.sock" --json status
pycheck 'assert d["reloads"] == 1 and d["reload_failures"] == 0'
cp "$T/conf" "$T/conf.good"
echo '{ "bogus": 1 }' > "$T/conf"
ctl 1 -s "$T/api.sock" reload
has "$T/err" '^meshtunectl: meshtuned: reload failed; the running configuration is kept'
cp "$T/conf.good" "$T/conf"
ctl 0 -s "$T/api.sock" --json reload
pycheck 'assert d == {"ok": True}'
ctl 0 -s "$T/api.sock" --json status
pycheck 'assert d["reloads"] == 2 and d["reload_failures"] == 1'

# 7. Valgrind: the commands, their error paths, both transports.
if [ -n "${VALGRIND:-}" ] && ! sanitized; then
	WRAP="$VALGRIND --quiet --leak-check=full --error-exitcode=99 \
--errors-for-leak-kinds=definite,indirect,possible \
--show-leak-kinds=definite,indirect,possible"
	ctl 0 -s "$T/api.sock" status
	ctl 0 -s "$T/api.sock" series
	ctl 0 -s "$T/api.sock" actions --strategy batch --since 1d
	ctl 0 -s "$T/api.sock" --json actions --strategy win
	ctl 0 -s "$T/api.sock" strategies
	ctl 0 -s "$T/api.sock" pause
	ctl 0 -s "$T/api.sock" resume
	ctl 1 -s "$T/api.sock" resume nope
	ctl 1 -s "$T/api.sock" series nope
	ctl 1 -s "$A" status
	ctl 2 -s "$T/api.sock" actions -n x
	WRAP=
else
	echo "valgrind part skipped (no valgrind, or a sanitizer build)"
fi
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "daemon exit status $DSTATUS"
ctl 1 -s "$T/api.sock" status
[ "$(cat "$T/err")" = "meshtunectl: cannot reach meshtuned at $T/api.sock: No such file or directory (is it running? see -s)" ] ||
    fail "absent unix daemon: $(cat "$T/err")"

# 8. Bad addresses (2, the syntax; 1, nothing there) and bad arguments.
for bad in localhost:9120 127.0.0.1 127.0.0.1:0 127.0.0.1:70000 \
    relative/sock "[::1]9120"; do
	ctl 2 -s "$bad" status
	grep -Fqx "meshtunectl: bad address \"$bad\" from -s: expected \
HOST:PORT with a numeric host and a port in 1..65535 (127.0.0.1:9120, \
[::1]:9120) or an absolute unix socket path" "$T/err" ||
	    fail "bad address $bad: $(cat "$T/err")"
done
MESHTUNE_API=bogus ctl 2 status
has "$T/err" 'bad address "bogus" from MESHTUNE_API'
ctl 1 -s "127.0.0.1:$(free_port)" strategies
has "$T/err" '^meshtunectl: cannot reach meshtuned at 127\.0\.0\.1:[0-9]+: Connection refused \(is it running\? see -s\)$'
ctl 2 -s "$A" frobnicate
has "$T/err" '^meshtunectl: unknown command "frobnicate"$'
has "$T/err" '^usage: meshtunectl '
ctl 2 -s "$A"
has "$T/err" '^usage: meshtunectl '
ctl 2 -s "$A" -q status
has "$T/err" '^meshtunectl: unknown option -q$'
ctl 2 -s
has "$T/err" '^meshtunectl: -s needs an argument$'
ctl 2 -t 0 -s "$A" status
has "$T/err" '^meshtunectl: -t: expected seconds'
for args in "actions -n 0" "actions -n x" "actions -n 10001" \
    "actions --since yesterday" "actions --since 10y" \
    "actions --since 2026-02-30" "actions --strategy" "actions extra" \
    "status extra" "series a b" "resume a b" "strategies --bogus"; do
	# shellcheck disable=SC2086
	ctl 2 -s "$A" $args
	has "$T/err" "^usage: meshtunectl \[-s ADDR\] \[-t SECONDS\] \[--json\] ${args%% *}"
done
ctl 0 -h
has "$T/out" '^usage: meshtunectl'
has "$T/out" 'MESHTUNE_API'
ctl 0 -V
has "$T/out" '^meshtunectl [0-9.]+$'

# 9. Fake servers: a hang hits the timeout, nonsense is named.
cat > "$T/fake.py" <<'PY'
import os, socket, sys
mode, portfile = sys.argv[1], sys.argv[2]
replies = {
    "nothttp": b"SSH-2.0-OpenSSH\r\n\r\n",
    "notjson": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "err500": b"HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nabc",
    "short": b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n{\"a\":1}",
    "eofbody": b"HTTP/1.0 200 OK\r\n\r\n{\"ok\": true}",
    "close": b"",
}
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(20)
buf = b""
while b"\r\n\r\n" not in buf:
    d = c.recv(4096)
    if not d:
        break
    buf += d
if mode == "hang":
    c.recv(1)		# until the client gives up
else:
    c.sendall(replies[mode])
c.close()
PY
# fake MODE ARGS...: serve MODE once, run meshtunectl -s there with ARGS.
fake() {
	mode=$1
	want=$2
	shift 2
	rm -f "$T/fport"
	python3 "$T/fake.py" "$mode" "$T/fport" &
	FPID=$!
	PIDS="$PIDS $FPID"
	wait_for "$T/fport" "[0-9]" 10
	ctl "$want" -s "127.0.0.1:$(cat "$T/fport")" "$@"
	wait "$FPID" || true
}
start=$(date +%s)
fake hang 1 -t 1 status
[ $(($(date +%s) - start)) -lt 4 ] || fail "-t 1 did not bound the request"
has "$T/err" '^meshtunectl: bad reply from meshtuned at 127\.0\.0\.1:[0-9]+: no reply within 1 s$'
fake nothttp 1 status
has "$T/err" 'not an HTTP reply$'
fake notjson 1 status
has "$T/err" 'bad reply from meshtuned at 127\.0\.0\.1:[0-9]+: not JSON$'
fake err500 1 status
has "$T/err" '^meshtunectl: meshtuned answered HTTP 500 to GET /v1/status$'
fake short 1 status
has "$T/err" 'reply cut short$'
fake close 1 status
has "$T/err" 'connection closed without a reply$'
echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef > "$T/faketoken"
fake eofbody 0 -k "$T/faketoken" --json pause
pycheck 'assert d == {"ok": True}'
echo "ctl: ok"
