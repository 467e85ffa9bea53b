#!/bin/sh
# simnode.sh -- meshtune-simnode end to end: StatsD lines over UDP and a
# unix datagram socket, the control protocol (get, set, refusals,
# garbage, partial lines, many clients), the pid file, the exit status at
# the end of --duration and on SIGTERM, and usage errors.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

SIM="$top_builddir/meshtune-simnode"
command -v python3 >/dev/null 2>&1 || { echo "python3 not found: skipped"; exit 77; }

# ctl REQUEST...: send each request line on one connection, print answers.
ctl() {
	python3 - "$T/ctl.sock" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
f = s.makefile("r")
for req in sys.argv[2:]:
    s.sendall(req.encode() + b"\n")
    print(f.readline().strip())
PY
}

# 1. UDP: a sink on a free port, a 5 s run at --speed 20.
python3 "$top_srcdir/tests/integration/simnode_udp.py" "$T/port" "$T/udp" 8 &
SINK=$!
PIDS="$PIDS $SINK"
n=100
while [ ! -s "$T/port" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
[ -s "$T/port" ] || fail "the UDP sink did not start"
port=$(cat "$T/port")

"$SIM" --statsd "127.0.0.1:$port" --control "$T/ctl.sock" \
    --pid-file "$T/pid" --scenario congestion --seed 7 --speed 20 \
    --duration 5 --verbose 2>"$T/log" &
SPID=$!
PIDS="$PIDS $SPID"
wait_for "$T/log" "phase calm" 5
n=100
while [ ! -S "$T/ctl.sock" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
[ -S "$T/ctl.sock" ] || fail "no control socket"
[ "$(cat "$T/pid")" = "$SPID" ] || fail "pid file holds $(cat "$T/pid"), not $SPID"

out=$(ctl '{"op":"get","knob":"net.batch_size"}' \
    '{"op":"set","knob":"net.batch_size","value":16}' \
    '{"op":"get","knob":"net.batch_size"}' \
    '{"op":"set","knob":"net.batch_size","value":65}' \
    '{"op":"set","knob":"net.batch_size","value":12.5}' \
    '{"op":"set","knob":"mesh.retransmits","value":-1}' \
    '{"op":"get","knob":"no.such"}' \
    'garbage {' \
    '{"op":"frob","knob":"net.batch_size"}' \
    '{"op":"set","knob":"net.batch_size","value":"16"}' \
    '[1,2]' \
    '{"op":"set","knob":"mem.trim","value":1}' \
    '{"op":"get","knob":"consensus.round_timeout_ms"}')
expect='{"ok":true,"value":8}
{"ok":true,"value":16}
{"ok":true,"value":16}
{"ok":false,"error":"net.batch_size: 65 is out of bounds [1, 64]"}
{"ok":false,"error":"net.batch_size: 12.5 is not a whole number"}
{"ok":false,"error":"mesh.retransmits: -1 is out of bounds [0, 3]"}
{"ok":false,"error":"unknown knob \"no.such\""}
{"ok":false,"error":"expected one JSON object per line"}
{"ok":false,"error":"unknown op \"frob\": expected \"set\" or \"get\""}
{"ok":false,"error":"\"value\" must be a number"}
{"ok":false,"error":"expected one JSON object per line"}
{"ok":true,"value":1}
{"ok":true,"value":2000}'
[ "$out" = "$expect" ] || fail "control answers:
$out"
grep -q "knob net.batch_size 8 -> 16" "$T/log" || fail "no log line for the set"
grep -q "refused set: net.batch_size: 65 is out of bounds" "$T/log" ||
    fail "no log line for the refusal"

# Partial lines, CRLF, many clients at once, an idle one, a huge line.
python3 - "$T/ctl.sock" <<'PY' || fail "control robustness"
import socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s
idle = conn()                       # says nothing at all
many = [conn() for _ in range(50)]
for i, s in enumerate(many):
    s.sendall(b'{"op":"get",')      # half a request each
for i, s in enumerate(many):
    s.sendall(b'"knob":"mesh.ttl"}\r\n')
for s in many:
    line = s.makefile("r").readline()
    assert line == '{"ok":true,"value":8}\n', line
    s.close()
big = conn()
big.sendall(b"x" * 10000)
ans = big.makefile("r").readline()
assert "too long" in ans, ans
try:                                # and then closed (EOF or reset)
    assert big.recv(10) == b""
except ConnectionResetError:
    pass
s = conn()                          # still serving
s.sendall(b'{"op":"get","knob":"net.batch_size"}\n')
assert s.makefile("r").readline() == '{"ok":true,"value":16}\n'
idle.close()
PY

wait "$SPID" || fail "exit status $? at the end of --duration"
grep -q "duration over, stopping" "$T/log" || fail "no stop line"
[ ! -e "$T/pid" ] || fail "pid file left behind"
[ ! -e "$T/ctl.sock" ] || fail "control socket left behind"
wait "$SINK" || true

# The sample lines: well formed, the names of STRATEGIES.md, batched.
grep -v '^#' "$T/udp" > "$T/lines"
[ "$(wc -l < "$T/lines")" -gt 2000 ] || fail "only $(wc -l < "$T/lines") lines"
if grep -Ev '^[a-z_.]+:-?[0-9]+(\.[0-9]+)?\|(ms|h|g|c)(\|#peer:p[0-9]+)?$' \
    "$T/lines" > "$T/badlines"; then
	fail "malformed lines: $(head -3 "$T/badlines")"
fi
for name in net.rtt_ms net.msg_bytes net.send_queue net.batch_msgs \
    net.tx_bytes net.rx_bytes consensus.round_ms consensus.ops \
    consensus.verify_ms consensus.pending consensus.batch_ops \
    mem.heap_mb mem.cache_mb mem.cache_hit_pct mesh.hops mesh.peers \
    mesh.loss_pct mesh.link_quality mesh.propagation_ms mesh.dup_pct; do
	grep -q "^$name:" "$T/lines" || fail "no $name line"
done
grep -q '^net.rtt_ms:[0-9.]*|ms|#peer:p[0-7]$' "$T/lines" ||
    fail "net.rtt_ms without a peer tag"
grep -q '^mesh.link_quality:[0-9]*|g|#peer:p[0-7]$' "$T/lines" ||
    fail "mesh.link_quality without a peer tag"
if awk -F'[:|]' '$NF ~ /pct/ && ($2 < 0 || $2 > 100)' "$T/lines" | grep -q .; then
	fail "a percentage outside 0-100"
fi
summary=$(grep '^# datagrams' "$T/udp")
dgrams=$(echo "$summary" | awk '{print $3}')
maxb=$(echo "$summary" | awk '{print $5}')
[ "$maxb" -le 1400 ] || fail "datagram of $maxb bytes"
[ "$(wc -l < "$T/lines")" -gt $((dgrams * 5)) ] ||
    fail "$dgrams datagrams for $(wc -l < "$T/lines") lines: not batched"
grep -q "phase congestion" "$T/log" || fail "no phase line"

# 2. A unix datagram sink, SIGTERM, and the same seed twice.
python3 - "$T/dgram.sock" "$T/unix" 60 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.monotonic() + float(sys.argv[3])    # a bound; killed sooner
with open(sys.argv[2], "w") as out:
    while time.monotonic() < end:
        try:
            out.write(s.recv(65536).decode())
            out.flush()
        except socket.timeout:
            pass
PY
SINK=$!
PIDS="$PIDS $SINK"
n=100
while [ ! -S "$T/dgram.sock" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
"$SIM" --statsd-unix "$T/dgram.sock" --pid-file "$T/pid2" --speed 50 \
    --control "$T/ctl2.sock" \
    2>"$T/log2" &
SPID=$!
PIDS="$PIDS $SPID"
wait_for "$T/log2" "started" 5
# Lines arrive (however long this machine takes), then the stop.
wait_for "$T/unix" "^mem.heap_mb:" 20
kill -TERM "$SPID"
st=0
wait "$SPID" || st=$?
[ "$st" -eq 0 ] || fail "exit status $st after SIGTERM"
grep -q "SIGTERM received, stopping" "$T/log2" || fail "no SIGTERM line"
[ ! -e "$T/pid2" ] || fail "pid file left behind after SIGTERM"
kill -TERM "$SINK" 2>/dev/null || true
wait "$SINK" 2>/dev/null || true
grep -q '^mem.heap_mb:[0-9.]*|g$' "$T/unix" || fail "nothing over unix dgram"

# 3. Usage errors exit 2 and say why; --help exits 0.
for args in "--speed 0" "--speed x" "--peers 0" "--peers 2.5" \
    "--scenario storm" "--statsd 127.0.0.1" "--seed -1" "--bogus" \
    "--statsd 127.0.0.1:1 --statsd-unix /x" "extra"; do
	st=0
	# shellcheck disable=SC2086
	"$SIM" $args 2>"$T/err" || st=$?
	[ "$st" -eq 2 ] || fail "'$args' exited $st"
	grep -q "^usage: meshtune-simnode" "$T/err" || fail "'$args': no usage"
done
"$SIM" --help | grep -q "net.batch_size  *\[1, 64\] initial 8" ||
    fail "--help does not list the knobs"
echo "simnode: ok"
