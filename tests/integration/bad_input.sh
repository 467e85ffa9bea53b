#!/bin/sh
# bad_input.sh -- the real meshtuned against bad input and limits: every
# malformed-line reason counted by name, binary garbage, the largest UDP
# datagrams, lines without a newline, the unix datagram listener, 10,000
# names past a cap of 500, and a flood: the daemon stays up, answers the
# API, keeps the good lines and accounts for every line sent.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ingest_lib.sh"

# A small socket buffer, so the flood overflows it and drops are counted.
start_ingest_daemon '"window": { "seconds": 600, "slices": 60 },
  "limits": { "max_series": 500 },
  "statsd": { "timestamps": "window", "container_id": "tag" },
  "listen": { "statsd_udp": "127.0.0.1:0", "statsd_unix": "'"$T"'/statsd.sock",
              "statsd_rcvbuf": 65536, "api": "127.0.0.1:0" }'
wait_for "$T/log" "ingest: listening on unix $T/statsd.sock" $((5 * SLOW))

# send [unix] < python-expression: send the datagrams (a list of bytes)
# one by one, waiting for each to be read (the buffer is small).
send() {
	if [ "${1:-}" = unix ]; then dest="$T/statsd.sock"; else dest=$UPORT; fi
	python3 -c 'import socket, sys, time, json, urllib.request
dest, aport, expr = sys.argv[1], sys.argv[2], sys.stdin.read()
dgrams = eval(expr)
if dest.isdigit():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    addr = ("127.0.0.1", int(dest))
else:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    addr = dest
def read():
    with urllib.request.urlopen("http://127.0.0.1:%s/v1/status" % aport,
                                timeout=10) as r:
        return json.load(r)["ingest"]["datagrams"]
base = read()
for i, d in enumerate(dgrams):
    s.sendto(d, addr)
    for _ in range(2000):		# at most 20 s a datagram
        if read() > base + i:
            break
        time.sleep(0.01)
    else:
        sys.exit("datagram %d never read" % i)
' "$dest" "$APORT" || fail "send failed"
}

# errors JSON of /v1/status as "reason=n ..." (sorted).
errors() {
	jget /v1/status '" ".join("%s=%d" % kv for kv in sorted(d["ingest"]["errors"].items()))'
}

# 1. One bad line per reason, between good lines, in one datagram.
send <<'PY'
[b"good.a:1|c\n"
 b"bad{name:1|c\n"
 b"bv:abc|c\n"
 b"bt:1|x\n"
 b"br:1|c|@2\n"
 b"btag:1|c|#a=1\n"
 b"bf:1|c|Tnow\n"
 + b"x" * 16385 + b":1|c\n"
 b"ni:nan|g\n"
 b"st:1|c|T1000\n"
 b"_e{5,4}:title|text too long\n"
 b"_sc|check|7\n"
 b"good.a:1|c"]
PY
want="bad_event=1 bad_field=1 bad_name=1 bad_rate=1 bad_service_check=1 bad_tag=1 bad_type=1 bad_value=1 nan_inf=1 stale=1 too_long=1"
[ "$(errors)" = "$want" ] || fail "errors by reason: $(errors)"
[ "$(jget /v1/status 'd["ingest"]["lines"]')" -eq 13 ] || fail "lines != 13"
[ "$(jget /v1/series/good.a 'd["total"]')" -eq 2 ] ||
    fail "good lines around the bad ones lost"
grep -qx 'meshtuned_ingest_errors_total{reason="too_long"} 1' \
    "$(api /metrics > "$T/m" && echo "$T/m")" || fail "/metrics errors"

# 2. Lines without a newline, CRLF, empty lines.
send <<'PY'
[b"nonl.g:5|g", b"crlf.c:1|c\r\n\n\n", b"\n", b"nonl.g:+2|g"]
PY
# (DogStatsD gauges by default: "+2" sets the gauge to 2.)
[ "$(jget /v1/series/nonl.g 'd["last"]')" -eq 2 ] || fail "no-newline lines"
[ "$(jget /v1/series/crlf.c 'd["total"]')" -eq 1 ] || fail "CRLF line"
[ "$(jget /v1/status 'd["ingest"]["lines"]')" -eq 16 ] ||
    fail "empty lines counted as lines"

# 3. Binary garbage (fixed seed), each datagram ending in one good line.
send <<'PY'
__import__("random").seed(7) or [bytes(__import__("random").getrandbits(8)
    for _ in range(__import__("random").randrange(1, 3000))) +
    b"\ngood.after_garbage:1|c\n" for _ in range(200)] + [b"\0\xff" * 500]
PY
[ "$(jget /v1/series/good.after_garbage 'd["total"]')" -eq 200 ] ||
    fail "good lines after garbage lost"
kill -0 "$DPID" || fail "daemon died on garbage"

# 4. The largest UDP datagrams (65,507 bytes), all valid lines; the last
# line has no newline.  And one datagram over 64 KiB on the unix socket.
before=$(jget /v1/status 'd["ingest"]["lines"]')
send <<'PY'
[b"big.cnt:1|c\n" * 5458 + b"big.cnt:1|c"] * 5
PY
[ "$(jget /v1/series/big.cnt 'd["total"]')" -eq $((5459 * 5)) ] ||
    fail "lines of 64 KiB datagrams lost: $(cat "$T/json")"
[ "$(jget /v1/status 'd["ingest"]["lines"]')" -eq $((before + 5459 * 5)) ] ||
    fail "lines of 64 KiB datagrams not counted"
[ "$(jget /v1/status 'd["ingest"]["truncated"]')" -eq 0 ] || fail "truncated"

# 5. The unix datagram listener.
send unix <<'PY'
[b"unix.c:1|c\nunix.c:2|c", b"unix.t:3|ms|#via:unix"]
PY
[ "$(jget /v1/series/unix.c 'd["total"]')" -eq 3 ] || fail "unix counter"
[ "$(jget /v1/series/unix.t%7Bvia%3Dunix%7D 'd["count"]')" -eq 1 ] ||
    fail "unix tagged timer"
send unix <<'PY'
[b"unix.c:1|c\n" * 7000]
PY
[ "$(jget /v1/status 'd["ingest"]["truncated"]')" -eq 1 ] ||
    fail "a 77,000 byte unix datagram is not counted as truncated"
[ "$(jget /v1/series/unix.c 'd["total"]')" -eq 3 ] ||
    fail "a truncated datagram was parsed"
# A blocking sender is never held back: the socket queues only
# net.unix.max_dgram_qlen datagrams (often 10), so a read delay there
# (it was deferred like UDP) capped it: near 170 datagrams/s with the
# default buffer, 0.9 s for these 3,000 with this one's 2 ms delays.
python3 - "$T/statsd.sock" "$SLOW" <<'PY' || fail "unix sender held back"
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.settimeout(10)
t0 = time.monotonic()
for i in range(3000):
    s.sendto(b"unix.fast:1|c", sys.argv[1])
took = time.monotonic() - t0
print("bad_input.sh: 3000 unix datagrams sent in %.2f s" % took)
sys.exit(took > 0.4 * int(sys.argv[2]))
PY
wait_json /v1/series/unix.fast 'd["total"] == 3000' 5 ||
    fail "unix.fast total is not 3000"

# 6. The flood series exists before the cap is reached.
send <<'PY'
[b"flood.c:0|c"]
PY

# 7. 10,000 distinct names past a cap of 500.
held=$(jget /v1/status 'd["series"]')
# Nine series so far, one of them tagged, plus its bare-name aggregate.
[ "$held" -eq 10 ] || fail "expected 10 series before the cap test, $held"
send <<'PY'
[b"".join(b"cap.n%d:1|c\n" % i for i in range(j, j + 500))
 for j in range(0, 10000, 500)]
PY
[ "$(jget /v1/status 'd["series"]')" -eq 500 ] || fail "series != cap"
[ "$(jget /v1/status 'd["ingest"]["series_dropped"]')" -eq \
    $((10000 - (500 - held))) ] || fail "series_dropped: $(cat "$T/json")"
[ "$(jget /v1/series 'len(d)')" -eq 500 ] || fail "/v1/series length"
# Held series still take values.
send <<'PY'
[b"good.a:1|c\ncap.n0:1|c"]
PY
[ "$(jget /v1/series/good.a 'd["total"]')" -eq 3 ] || fail "held series"
[ "$(jget /v1/series/cap.n0 'd["total"]')" -eq 2 ] || fail "cap.n0"
[ "$(jget /v1/series/cap.n9999 '"error" in d')" = True ] ||
    fail "cap.n9999 admitted, or no JSON error for it"

# 8. A flood: 200,000 lines, 20 a datagram, as fast as Python sends.  The
# API answers during it; afterwards lines + kernel drops add up.
lines0=$(jget /v1/status 'd["ingest"]["lines"]')
drops0=$(jget /v1/status 'd["ingest"]["kernel_drops"]')
python3 - "$UPORT" > "$T/flood.out" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d = b"flood.c:1|c\n" * 20
for _ in range(10000):
    s.sendto(d, ("127.0.0.1", int(sys.argv[1])))
PY
FPID=$!
PIDS="$PIDS $FPID"
slowest=0
for i in 1 2 3 4 5; do
	t0=$(date +%s%N)
	curl -sS --max-time $SLOW -o /dev/null \
	    "http://127.0.0.1:$APORT/v1/status" ||
	    fail "API did not answer within $SLOW s during the flood"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -gt "$slowest" ] && slowest=$ms
done
wait "$FPID" || fail "flood sender failed: $(cat "$T/flood.out")"
echo "flood: slowest /v1/status answer ${slowest} ms"
status_quiet
# The kernel's drop count rides on the next datagram read: send one.
send <<'PY'
[b"flood.marker:1|g"]
PY
kill -0 "$DPID" || fail "daemon died in the flood"
lines=$(( $(jget /v1/status 'd["ingest"]["lines"]') - lines0 - 1 ))
drops=$(( $(jget /v1/status 'd["ingest"]["kernel_drops"]') - drops0 ))
got=$(jget /v1/series/flood.c 'd["total"]')
echo "flood: $lines lines read, $drops datagrams dropped by the kernel"
[ $((lines + drops * 20)) -eq 200000 ] ||
    fail "lines $lines + 20 x drops $drops != 200000 sent"
[ "$got" -eq "$lines" ] || fail "flood.c total $got != lines read $lines"
grep -qx "meshtuned_ingest_kernel_drops_total $((drops0 + drops))" \
    "$(api /metrics > "$T/m" && echo "$T/m")" || fail "/metrics drops"

# The daemon is still healthy and stops cleanly.
[ "$(jget /v1/status 'd["version"]')" != "" ] || fail "no status"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "exit status $DSTATUS"
[ ! -e "$T/statsd.sock" ] || fail "unix socket left behind"
echo "bad_input: ok"
