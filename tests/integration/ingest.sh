#!/bin/sh
# ingest.sh -- end to end: the real meshtuned with StatsD over UDP and the
# API on port 0.  100,000 lognormal timer values (fixed seed) must all be
# counted, with p50/p90/p99/p999 within 0.5% of the exact nearest-rank
# values; then /v1/status, tags in URL-encoded names, sampled counters,
# HTTP errors as JSON, and /metrics through promtool.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ingest_lib.sh"

# Gauge signs as Etsy statsd reads them (the default is DogStatsD's).
start_ingest_daemon '"window": { "seconds": 600, "slices": 60 },
  "statsd": { "gauge_sign_udp": "delta" },
  "listen": { "statsd_udp": "127.0.0.1:0", "api": "127.0.0.1:0" }'

# 1. 100,000 timer values, many lines per datagram, paced.
python3 - "$UPORT" "$T/values" <<'PY' || fail "sender failed"
import random, socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20261122)
vals = [rng.lognormvariate(3.0, 1.0) for _ in range(100000)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
lines = ["ingest.rtt_ms:%r|ms\n" % v for v in vals]
sent = 0
for i in range(0, len(lines), 250):		# 250 lines, ~7 KB a datagram
    s.sendto("".join(lines[i:i + 250]).encode(), ("127.0.0.1", port))
    sent += 1
    if sent % 20 == 0:
        time.sleep(0.002)
with open(out, "w") as f:
    f.write("%d\n" % sent)
    f.write("\n".join(repr(v) for v in vals) + "\n")
PY
DGRAMS=$(head -n 1 "$T/values")
[ "$DGRAMS" -eq 400 ] || fail "sent $DGRAMS datagrams, expected 400"
wait_json /v1/status "d['ingest']['datagrams'] >= $DGRAMS" 20

# count exact, quantiles within 0.5% of the exact nearest-rank values.
api /v1/series/ingest.rtt_ms > "$T/rtt.json" || fail "GET ingest.rtt_ms"
python3 - "$T/values" "$T/rtt.json" <<'PY' || fail "quantiles: see above"
import json, math, sys
vals = sorted(float(x) for x in open(sys.argv[1]).read().split()[1:])
d = json.load(open(sys.argv[2]))
n = len(vals)
bad = []
if d["name"] != "ingest.rtt_ms" or d["type"] != "timer":
    bad.append("name/type %r %r" % (d["name"], d["type"]))
if d["count"] != n:
    bad.append("count %r, expected %d" % (d["count"], n))
# Exact in the daemon; cJSON prints 15 digits when they read back within
# DBL_EPSILON, so allow a few ulps here.
if (abs(d["min"] - vals[0]) > 1e-14 * vals[0] or
        abs(d["max"] - vals[-1]) > 1e-14 * vals[-1]):
    bad.append("min/max %r %r, expected %r %r" %
               (d["min"], d["max"], vals[0], vals[-1]))
if abs(d["sum"] - math.fsum(vals)) > 1e-9 * math.fsum(vals):
    bad.append("sum %r, expected %r" % (d["sum"], math.fsum(vals)))
for key, per_mille in (("p50", 500), ("p90", 900), ("p99", 990),
                       ("p999", 999)):
    rank = -(-per_mille * n // 1000)	# ceil(q n), exactly
    exact = vals[rank - 1]
    err = abs(d[key] - exact) / exact
    print("%s: %.6g exact %.6g error %.3f%%" % (key, d[key], exact,
                                                100 * err))
    if err > 0.005:
        bad.append("%s %r, exact %r: %.3f%% off" % (key, d[key], exact,
                                                    100 * err))
if d["last"] is not None:
    bad.append("a timer has a last value: %r" % d["last"])
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# /v1/status: every line read, none dropped by the kernel or the parser.
[ "$(jget /v1/status 'd["ingest"]["lines"]')" -eq 100000 ] ||
    fail "ingest.lines is not 100000: $(cat "$T/json")"
[ "$(jget /v1/status 'd["ingest"]["samples"]')" -eq 100000 ] ||
    fail "ingest.samples is not 100000"
[ "$(jget /v1/status 'd["ingest"]["kernel_drops"]')" -eq 0 ] ||
    fail "the kernel dropped datagrams"
[ "$(jget /v1/status 'sum(d["ingest"]["errors"].values())')" -eq 0 ] ||
    fail "parse errors: $(cat "$T/json")"
[ "$(jget /v1/status 'd["ingest"]["dropped"]')" -eq 0 ] ||
    fail "values dropped"
[ "$(jget /v1/status 'd["ingest"]["datagrams"]')" -eq "$DGRAMS" ] ||
    fail "datagrams counted is not $DGRAMS"
[ "$(jget /v1/status 'd["series"]')" -eq 1 ] || fail "series is not 1"

# 2. Tags, sampled counters, gauges: looked up by URL-encoded keys.
python3 - "$UPORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"ingest.tagged_ms:5|ms|#zone:eu-west,peer:a3\n"
         b"ingest.tagged_ms:7|ms|#peer:a3,zone:eu-west\n"
         b"ingest.url:1|g|#u:http://x/y?a:b\n" +
         b"ingest.ops:1|c|@0.1\n" * 10 +
         b"ingest.queue:4|g\ningest.queue:+3|g\ningest.queue:-2|g",
         ("127.0.0.1", int(sys.argv[1])))
PY
wait_json /v1/status "d['ingest']['lines'] == 100000 + 16" 10
# curl's own encoding of the raw braces and commas is not trusted: encode.
enc() {
	python3 -c 'import sys, urllib.parse
print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}
key='ingest.tagged_ms{peer=a3,zone=eu-west}'
[ "$(jget "/v1/series/$(enc "$key")" 'd["name"]')" = "$key" ] ||
    fail "tagged series not found by its encoded key: $(cat "$T/json")"
[ "$(jget "/v1/series/$(enc "$key")" 'd["count"]')" -eq 2 ] ||
    fail "both tag orders are not in one series"
key='ingest.url{u=http://x/y?a:b}'
[ "$(jget "/v1/series/$(enc "$key")" 'd["last"]')" -eq 1 ] ||
    fail "series with / ? : in a tag value not found"
[ "$(jget /v1/series/ingest.ops 'd["total"]')" -eq 100 ] ||
    fail "10 x 1@0.1 is not a total of 100: $(cat "$T/json")"
[ "$(jget /v1/series/ingest.ops 'd["type"]')" = counter ] || fail "ops type"
[ "$(jget /v1/series/ingest.queue 'd["last"]')" -eq 5 ] ||
    fail "gauge 4 +3 -2 is not 5: $(cat "$T/json")"
[ "$(jget /v1/series 'sorted(x["name"] for x in d)')" = \
    "['ingest.ops', 'ingest.queue', 'ingest.rtt_ms', 'ingest.tagged_ms', 'ingest.tagged_ms{peer=a3,zone=eu-west}', 'ingest.url', 'ingest.url{u=http://x/y?a:b}']" ] ||
    fail "/v1/series: $(cat "$T/json")"

# 2b. A train of 8 datagrams sent in one call (UDP GSO, as loadgen -G
# does): with UDP_GRO the daemon gets it as one message and must cut it
# at the segment size, where each datagram ends without a newline; a
# line glued across that boundary would be a parse error.
LINES0=$(jget /v1/status 'd["ingest"]["lines"]')
DG0=$(jget /v1/status 'd["ingest"]["datagrams"]')
python3 - "$UPORT" <<'PY' || fail "GSO sender failed"
import socket, sys
UDP_SEGMENT = 103		# linux/udp.h
seg = b"ingest.gro:1|c\ningest.gro:1|c"	# 29 bytes, no final newline
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, len(seg))
s.sendto(seg * 7 + b"ingest.gro:1|c", ("127.0.0.1", int(sys.argv[1])))
PY
wait_json /v1/status "d['ingest']['lines'] == $LINES0 + 15" 10
[ "$(jget /v1/status 'd["ingest"]["datagrams"]')" -eq $((DG0 + 8)) ] ||
    fail "a GSO train of 8 is not 8 datagrams: $(cat "$T/json")"
[ "$(jget /v1/series/ingest.gro 'd["total"]')" -eq 15 ] ||
    fail "GSO train: total is not 15: $(cat "$T/json")"
[ "$(jget /v1/status 'sum(d["ingest"]["errors"].values())')" -eq 0 ] ||
    fail "GSO train: parse errors: $(cat "$T/json")"

# 3. HTTP errors: JSON bodies, right codes.
# http_check METHOD PATH CODE: status code and a JSON {"error": ...} body.
http_check() {
	code=$(curl -sS --max-time $((5 * SLOW)) -o "$T/body" -D "$T/head" \
	    -w '%{http_code}' -X "$1" "http://127.0.0.1:$APORT$2") ||
	    fail "$1 $2: curl failed"
	[ "$code" = "$3" ] || fail "$1 $2: $code, expected $3"
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d["error"], str) and d["error"], d' "$T/body" ||
	    fail "$1 $2: body is not a JSON error: $(cat "$T/body")"
	grep -qi '^content-type: application/json' "$T/head" ||
	    fail "$1 $2: not application/json"
}
http_check GET /v1/series/no.such.series 404
grep -q 'no.such.series' "$T/body" || fail "404 does not name the series"
http_check GET "/v1/series/$(enc 'ingest.tagged_ms{peer=a3}')" 404
http_check POST /v1/series/ingest.ops 405
grep -qi '^allow: GET' "$T/head" || fail "405 without Allow: GET"
http_check POST /v1/status 405
http_check DELETE /metrics 405
http_check GET /v1/reload 405
grep -qi '^allow: POST' "$T/head" || fail "405 without Allow: POST"
http_check GET /v2/nothing 404
http_check GET /v1/series/ 404
# A name that decodes to a NUL byte is a bad encoding, not a lookup of
# the name cut short.
http_check GET /v1/series/ingest.ops%00x 400

# 4. /metrics: our families, then promtool on the whole page.
api /metrics -D "$T/mhead" > "$T/metrics" || fail "GET /metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/mhead" ||
    fail "/metrics content type"
grep -qx 'meshtune_ingest_rtt_seconds_count 100000' "$T/metrics" ||
    fail "/metrics lacks the timer's count"
grep -qx 'meshtune_ingest_ops_total 100' "$T/metrics" ||
    fail "/metrics lacks the counter"
grep -qx 'meshtune_ingest_tagged_seconds_count{peer="a3",zone="eu-west"} 2' \
    "$T/metrics" || fail "/metrics lacks the tagged timer"
grep -qx 'meshtuned_ingest_lines_total 100031' "$T/metrics" ||
    fail "/metrics lacks meshtuned_ingest_lines_total"
grep -qx 'meshtuned_ingest_kernel_drops_total 0' "$T/metrics" ||
    fail "/metrics lacks meshtuned_ingest_kernel_drops_total"
# Six series sent, and the bare-name aggregates of the two tagged ones.
grep -qx 'meshtuned_series 8' "$T/metrics" || fail "/metrics series"
[ "$(grep -c '^# TYPE meshtune_ingest_rtt_seconds summary$' "$T/metrics")" \
    -eq 1 ] || fail "TYPE not once per family"
if command -v promtool >/dev/null 2>&1; then
	st=0
	promtool check metrics < "$T/metrics" > "$T/promtool" 2>&1 || st=$?
	if [ "$st" -ne 0 ] || [ -s "$T/promtool" ]; then
		cat "$T/promtool" >&2
		fail "promtool check metrics: exit $st"
	fi
	echo "promtool check metrics: clean"
else
	echo "promtool not installed (Debian package prometheus): skipped"
fi

kill -0 "$DPID" || fail "daemon died"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "exit status $DSTATUS"
echo "ingest: ok"
