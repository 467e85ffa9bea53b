#!/bin/sh
# clients.sh -- real StatsD client libraries against the real meshtuned
# (issue 18): Debian's python3-statsd (Etsy-style) and npm's hot-shots in
# its default DogStatsD mode (installed under the build tree by
# tests/setup.sh), over UDP and the unix datagram socket.  Counts, sums,
# tags, sets, negative and sampled values are checked through the API
# exactly; events and service checks through the audit log.  Both
# libraries sample with a random draw: the test replaces it by one that
# always sends, so every sampled line arrives and the counts are exact.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/ingest_lib.sh"

PY=/usr/bin/python3
NODE_PATH="$top_builddir/tests/npm/node_modules"
export NODE_PATH
$PY -c 'import statsd' 2>/dev/null ||
    { echo "no python3-statsd (tests/setup.sh installs it): skipped"; exit 77; }
command -v node >/dev/null 2>&1 && [ -d "$NODE_PATH/hot-shots" ] ||
    { echo "no hot-shots in $NODE_PATH (tests/setup.sh): skipped"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "no sqlite3: skipped"; exit 77; }

# The unix socket reads gauge signs as deltas (Etsy), UDP as values.
start_ingest_daemon '"window": { "seconds": 600, "slices": 60 },
  "statsd": { "gauge_sign_unix": "delta" },
  "listen": { "statsd_udp": "127.0.0.1:0", "statsd_unix": "'"$T"'/statsd.sock",
              "api": "127.0.0.1:0" }'
wait_for "$T/log" "ingest: listening on unix $T/statsd.sock" $((5 * SLOW))

# 1. python3-statsd: UDP, then the unix socket (the library's client with
# a unix datagram socket in place of its UDP one).
$PY - "$UPORT" "$T/statsd.sock" <<'PYEND' || fail "python3-statsd sender"
import socket, sys, statsd, statsd.client.base as base
base.random.random = lambda: 0.0        # always send sampled stats

class UnixStatsClient(statsd.StatsClient):
    def __init__(self, path, prefix):
        statsd.StatsClient.__init__(self, '127.0.0.1', 9, prefix=prefix)
        self._sock.close()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._addr = path

for c in (statsd.StatsClient('127.0.0.1', int(sys.argv[1]), prefix='py'),
          UnixStatsClient(sys.argv[2], 'pyu')):
    c.incr('count', 5)
    c.incr('count', 5)
    for _ in range(4):
        c.incr('sampled', 1, rate=0.5)  # "py.sampled:1|c|@0.5"
    c.timing('lat', 320, rate=0.1)      # 10 samples
    c.timing('lat', 80)
    c.gauge('neg', -5)                  # "0|g" then "-5|g"
    c.gauge('d', 10)
    c.gauge('d', 3, delta=True)         # "+3|g"
    for u in ('alice', 'bob', 'alice'):
        c.set('users', u)
    with c.pipeline() as p:             # one datagram, several lines
        p.incr('pipe')
        p.incr('pipe')
        p.timing('pt', 7)
    c.incr('done')
PYEND
wait_json /v1/series/py.done 'd["total"] == 1' 10
wait_json /v1/series/pyu.done 'd["total"] == 1' 10

# check KEY EXPR: the Python expression EXPR holds for /v1/series/KEY.
check() {
	v=$(jget "/v1/series/$(enc "$1")" "bool($2)") ||
	    fail "$1: no series"
	[ "$v" = True ] || fail "$1: not $2: $(cat "$T/json")"
}
enc() {
	$PY -c 'import sys, urllib.parse
print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}
for p in py pyu; do
	check $p.count 'd["total"] == 10 and d["type"] == "counter"'
	check $p.sampled 'd["total"] == 8'
	check $p.lat 'd["count"] == 11 and d["sum"] == 3280 and d["min"] == 80'
	check $p.lat 'd["max"] == 320 and d["type"] == "timer"'
	check $p.neg 'd["last"] == -5 and d["min"] == -5'
	check $p.users 'd["count"] == 2 and d["type"] == "set"'
	check $p.pipe 'd["total"] == 2'
	check $p.pt 'd["count"] == 1 and d["sum"] == 7'
done
check py.d 'd["last"] == 3'		# UDP: "+3" sets (DogStatsD)
check pyu.d 'd["last"] == 13'		# unix: "+3" adds (Etsy)

# 2. hot-shots, DogStatsD mode: tags, |c: container fields, sets, events
# and service checks, over UDP and the unix socket ("uds").
DD_ENV=test node - "$UPORT" "$T/statsd.sock" <<'JSEND' || fail "hot-shots"
const StatsD = require('hot-shots');
Math.random = () => 0;                  // always send sampled stats
const [port, path] = process.argv.slice(2);
const clients = [
  ['hs', new StatsD({ host: '127.0.0.1', port: Number(port),
    errorHandler: e => { console.error(e); process.exit(1); } })],
  ['hsu', new StatsD({ protocol: 'uds', path,
    errorHandler: e => { console.error(e); process.exit(1); } })],
];
for (const [p, c] of clients) {
  c.increment(p + '.count', 3, 0.5, ['a:1']);
  c.increment(p + '.count', 2, ['a:1']);
  c.timing(p + '.lat', 320, 0.1, { route: '/u/{id}' });
  c.gauge(p + '.g', -1);
  c.set(p + '.users', 'alice');
  c.set(p + '.users', 'bob');
  c.histogram(p + '.hist', -4);
  c.histogram(p + '.hist', 6);
  c.distribution(p + '.dist', 2.5, ['k:x', 'k:y']);
  c.increment(p + '.twice');
  c.timing(p + '.twice', 5);
  c.event(p + ' deploy', 'v2 is out', { alert_type: 'success' }, ['svc:x']);
  c.check(p + '.up', c.CHECKS.CRITICAL, { message: 'disk full' });
  c.increment(p + '.done');
}
setTimeout(() => { for (const [, c] of clients) c.close(); }, 500);
JSEND
wait_json "/v1/series/$(enc 'hs.done{env=test}')" 'd["total"] == 1' 10
wait_json "/v1/series/$(enc 'hsu.done{env=test}')" 'd["total"] == 1' 10
for p in hs hsu; do
	check "$p.count{a=1,env=test}" 'd["total"] == 8'
	check "$p.lat{env=test,route=/u/{id}}" 'd["count"] == 10'
	check "$p.lat{env=test,route=/u/{id}}" 'd["sum"] == 3200 and d["p50"] == 320'
	check "$p.g{env=test}" 'd["last"] == -1'
	check "$p.users{env=test}" 'd["count"] == 2'
	check "$p.hist{env=test}" 'd["count"] == 2 and d["min"] == -4 and d["sum"] == 2'
	check "$p.dist{env=test,k=x,k=y}" 'd["count"] == 1 and d["sum"] == 2.5'
	# One name, two types: a series each.
	check "$p.twice{env=test}" 'd["type"] == "counter" and d["total"] == 1'
	v=$(jget "/v1/series/$(enc "$p.twice{env=test}")?type=timer" \
	    'd["type"] == "timer" and d["sum"] == 5') || fail "?type=timer"
	[ "$v" = True ] || fail "$p.twice timer: $(cat "$T/json")"
done
code=$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$APORT/v1/series/hs.g%7Benv%3Dtest%7D?type=nope")
[ "$code" = 400 ] || fail "?type=nope: $code, expected 400"

# 3. Nothing refused; events and service checks counted, not malformed.
jget /v1/status 'd["ingest"]' > /dev/null
[ "$(jget /v1/status 'sum(d["ingest"]["errors"].values())')" -eq 0 ] ||
    fail "lines refused: $(cat "$T/json")"
[ "$(jget /v1/status 'd["ingest"]["dropped"]')" -eq 0 ] || fail "dropped"
[ "$(jget /v1/status 'd["ingest"]["events"]')" -eq 2 ] || fail "events"
[ "$(jget /v1/status 'd["ingest"]["service_checks"]')" -eq 2 ] ||
    fail "service checks: $(cat "$T/json")"
[ "$(jget /v1/status 'd["ingest"]["events_audited"]')" -eq 4 ] ||
    fail "events not audited: $(cat "$T/json")"
api /metrics > "$T/metrics" || fail "GET /metrics"
grep -qx 'meshtune_hs_users{env="test"} 2' "$T/metrics" ||
    fail "/metrics: the set as a gauge"
grep -qx 'meshtune_hs_dist_count{env="test",k="x,y"} 1' "$T/metrics" ||
    fail "/metrics: a repeated tag key as one label"
grep -qx 'meshtuned_ingest_events_total{kind="service_check"} 2' \
    "$T/metrics" || fail "/metrics: service checks"
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics < "$T/metrics" > "$T/promtool" 2>&1 ||
	    { cat "$T/promtool" >&2; fail "promtool check metrics"; }
fi

# The audit log has them as events rows (the writer commits in batches).
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "exit status $DSTATUS"
q() { sqlite3 "$T/audit.db" "$1"; }
[ "$(q "select count(*) from events where kind = 'statsd_event'")" -eq 2 ] ||
    fail "statsd_event rows: $(q 'select * from events')"
[ "$(q "select message from events where kind = 'statsd_event' and
    json_extract(detail, '$.alert_type') = 'success' and
    json_extract(detail, '$.tags[0]') = 'env:test' order by id
    limit 1")" = "hs deploy" ] || fail "event row: $(q 'select * from events')"
[ "$(q "select message from events where kind = 'statsd_service_check'
    order by id limit 1")" = "hs.up: critical: disk full" ] ||
    fail "service check row: $(q 'select * from events')"
[ "$(q "select json_extract(detail, '$.status') from events where
    kind = 'statsd_service_check' order by id limit 1")" -eq 2 ] ||
    fail "service check status"
echo "clients: ok"
