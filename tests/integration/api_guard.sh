#!/bin/sh
# api_guard.sh -- only the operator steers, end to end against the real
# daemon: what a web page in the operator's browser can send (a
# cross-site POST with a simple content type, a DNS-rebound Host, a CORS
# preflight), a local user without the token, a wrong token, the unix
# socket's peer credentials and modes under umask 000; meshtunectl still
# steers with no extra step; -t refuses or reports listeners beyond
# loopback; and doubles come back exact from the JSON and /metrics.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

command -v curl >/dev/null 2>&1 || { echo "no curl: skipped"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "no python3: skipped"; exit 77; }
CTL="$top_builddir/meshtunectl"

cat > "$T/conf" <<CONF
{ "tick_interval_ms": 1000,
  "listen": { "api": "127.0.0.1:0", "statsd_udp": "127.0.0.1:0" },
  "audit": { "path": "$T/audit.db" } }
CONF
start_daemon
wait_for "$T/log" "api: listening on 127.0.0.1 port" 10
wait_started 10
PORT=$(sed -n 's/.*api: listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$T/log")
UDP=$(sed -n 's/.*ingest: listening on udp 127.0.0.1:\([0-9]*\).*/\1/p' "$T/log")
URL="http://127.0.0.1:$PORT"
TOKEN=$(cat "$T/api.token")

# req WANT METHOD PATH [CURL ARGS...]: the status must be WANT; the body
# is in $T/body, the headers in $T/head.
req() {
	want=$1 method=$2 path=$3
	shift 3
	code=$(curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' \
	    -X "$method" "$@" "$URL$path") || true
	[ "$code" = "$want" ] || fail "$method $path $*: HTTP $code, \
expected $want: $(cat "$T/body")"
	if [ "$want" != 200 ]; then
		python3 -c "import json, sys
d = json.load(open('$T/body'))
assert isinstance(d.get('error'), str) and d['error'], d" ||
		    fail "$method $path: no JSON error: $(cat "$T/body")"
	fi
}
paused() {
	curl -s "$URL/v1/status" | python3 -c "import json, sys
sys.exit(0 if json.load(sys.stdin)['paused'] is $1 else 1)" ||
	    fail "paused is not $1"
}

# 1. The token file: fresh, 64 hex digits, readable by its owner only,
# named by /v1/status.
[ "$(stat -c %a "$T/api.token")" = 600 ] ||
    fail "token file mode $(stat -c %a "$T/api.token")"
echo "$TOKEN" | grep -Eqx '[0-9a-f]{64}' || fail "token: $TOKEN"
req 200 GET /v1/status
python3 -c "import json
d = json.load(open('$T/body'))
assert d['api']['token_file'] == '$T/api.token', d['api']"

# 2. Host: a DNS-rebound name is refused, reads included.
req 421 GET /v1/status -H "Host: evil.example:$PORT"
grep -q 'Host \\"evil.example' "$T/body" || fail "421 does not say why"
req 421 GET /v1/actions -H "Host: evil.example"
req 421 GET /metrics -H "Host: meshtune.local:$PORT"
req 421 GET /v1/status -H "Host: 127.0.0.1:$((PORT == 65535 ? 1 : PORT + 1))"
req 200 GET /v1/status -H "Host: localhost:$PORT"
req 200 GET /v1/status -H "Host: 127.0.0.1"
req 200 GET /v1/status -H "Host: [::1]:$PORT"

# 3. What a page can send: the issue's attack, and each part of it.
req 403 POST /v1/pause -H "Origin: http://evil.example" \
    -H "Content-Type: text/plain" --data x
req 403 POST /v1/pause -H "Origin: null"
req 403 POST /v1/pause -H "Origin: http://127.0.0.1:$((PORT == 65535 ? 1 : PORT + 1))" \
    -H "Authorization: Bearer $TOKEN"
req 403 POST /v1/pause -H "Sec-Fetch-Site: cross-site" \
    -H "Authorization: Bearer $TOKEN"
req 403 GET /v1/status -H "Origin: http://evil.example"
req 415 POST /v1/pause -H "Content-Type: text/plain" \
    -H "Authorization: Bearer $TOKEN" --data x
req 415 POST /v1/pause -H "Content-Type: application/x-www-form-urlencoded" \
    -H "Authorization: Bearer $TOKEN" --data x=1
req 415 POST /v1/reload -H "Content-Type: multipart/form-data; boundary=x" \
    -H "Authorization: Bearer $TOKEN" --data x
paused False
# A preflight is never granted.
req 403 OPTIONS /v1/pause -H "Origin: http://evil.example" \
    -H "Access-Control-Request-Method: POST"
if grep -qi '^access-control-' "$T/head"; then
	fail "CORS headers sent: $(cat "$T/head")"
fi
req 405 OPTIONS /v1/pause -H "Access-Control-Request-Method: POST"
if grep -qi '^access-control-' "$T/head"; then
	fail "CORS headers sent: $(cat "$T/head")"
fi

# A header these checks read, sent twice, is refused (400): a proxy in
# front could check one and meshtuned use the other.
# raw WANT HEADERS: a POST /v1/pause with the token and these header
# lines (separated by |), its status code must be WANT.
raw() {
	code=$(python3 - "$PORT" "$TOKEN" "$2" <<'PY'
import socket, sys
port, token, extra = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(('127.0.0.1', port), timeout=10)
head = ['POST /v1/pause HTTP/1.1', 'Authorization: Bearer ' + token,
        'Content-Length: 0', 'Connection: close']
head += [h for h in extra.split('|') if h]
s.sendall(('\r\n'.join(head) + '\r\n\r\n').encode())
data = b''
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.split(b' ')[1].decode() if data else 'none')
PY
)
	[ "$code" = "$1" ] || fail "POST with $2: HTTP $code, expected $1"
}
raw 400 "Host: 127.0.0.1:$PORT|Host: evil.example"
raw 400 "Host: 127.0.0.1|Origin: http://127.0.0.1:$PORT|Origin: http://evil.example"
raw 400 "Host: 127.0.0.1|Content-Type: application/json|Content-Type: text/plain"
raw 400 "Host: 127.0.0.1|Sec-Fetch-Site: same-origin|sec-fetch-site: cross-site"
raw 400 "Host: 127.0.0.1|Authorization: Bearer x"
paused False
raw 200 "Host: 127.0.0.1:$PORT|Origin: http://127.0.0.1:$PORT"
curl -s -X POST -H "Authorization: Bearer $TOKEN" "$URL/v1/resume" >/dev/null
paused False

# 4. A local user without the token, or with a wrong one.
req 401 POST /v1/pause
grep -qi '^www-authenticate: bearer' "$T/head" || fail "401 without WWW-Authenticate"
grep -q "$T/api.token" "$T/body" || fail "401 does not name the token file"
req 401 POST /v1/resume
req 401 POST /v1/reload
req 403 POST /v1/pause -H "Authorization: Bearer 0000$TOKEN"
req 403 POST /v1/pause -H "Authorization: Bearer $(echo "$TOKEN" | tr 0-9a-f a-f0-9)"
paused False

# 5. The operator: the token, same-origin requests, meshtunectl.
req 200 POST /v1/pause -H "Authorization: Bearer $TOKEN"
paused True
req 200 POST /v1/resume -H "Authorization: Bearer $TOKEN" \
    -H "Origin: http://127.0.0.1:$PORT" -H "Sec-Fetch-Site: same-origin" \
    -H "Content-Type: application/json"
paused False
"$CTL" -s "127.0.0.1:$PORT" pause >/dev/null || fail "meshtunectl pause"
paused True
"$CTL" -s "127.0.0.1:$PORT" resume >/dev/null || fail "meshtunectl resume"
paused False
"$CTL" -s "127.0.0.1:$PORT" reload >/dev/null || fail "meshtunectl reload"
# listen.api_hosts takes effect at a reload.
req 421 GET /v1/status -H "Host: meshtune.test:$PORT"
sed -i 's|"api": "127.0.0.1:0",|"api": "127.0.0.1:0", "api_hosts": ["meshtune.test"],|' \
    "$T/conf"
"$CTL" -s "127.0.0.1:$PORT" reload >/dev/null || fail "reload with api_hosts"
req 200 GET /v1/status -H "Host: MESHTUNE.test:$PORT"
req 200 GET /v1/status -H "Origin: http://meshtune.test:$PORT"
echo "$TOKEN" > "$T/copy"
"$CTL" -k "$T/copy" -s "127.0.0.1:$PORT" pause >/dev/null ||
    fail "meshtunectl -k"
printf "%064d\n" 0 > "$T/copy"
st=0
MESHTUNE_TOKEN_FILE="$T/copy" "$CTL" -s "127.0.0.1:$PORT" resume \
    2>"$T/err" || st=$?
[ "$st" -eq 1 ] || fail "a wrong token: exit $st"
grep -q 'meshtuned: wrong API token' "$T/err" || fail "wrong token: $(cat "$T/err")"
paused True

# 6. Doubles read back exactly: DBL_MAX in a gauge, through the JSON
# (cJSON's own printing gives 15 digits, read back as infinity) and
# /metrics.
python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'big.value:1.7976931348623157e308|g\nsmall.value:0.30000000000000004|g',
    ('127.0.0.1', $UDP))"
n=0
until curl -sf "$URL/v1/series/small.value" -o "$T/small" 2>/dev/null; do
	n=$((n + 1))
	[ "$n" -lt 100 ] || fail "the gauges never arrived"
	sleep 0.1
done
req 200 GET /v1/series/big.value
python3 -c "import json, sys
d = json.load(open('$T/body'))
assert d['last'] == sys.float_info.max, d
assert d['max'] == sys.float_info.max, d
s = json.load(open('$T/small'))
assert s['last'] == 0.1 + 0.2, s" || fail "doubles: $(cat "$T/body") $(cat "$T/small")"
req 200 GET /metrics
grep -q '^meshtune_big_value_sum 1.7976931348623157e+308$' "$T/body" ||
    fail "/metrics: $(grep big_value "$T/body")"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "exit $DSTATUS"
[ ! -e "$T/api.token" ] || fail "the token file outlived the daemon"

# 7. The unix socket, made under umask 000: mode 0660, and the StatsD
# socket too; root's peer credentials need no token; another user, even
# let in by a wider mode, reads but cannot steer.
cat > "$T/conf" <<CONF
{ "listen": { "api": "$T/api.sock", "statsd_unix": "$T/statsd.sock" },
  "audit": { "path": "$T/audit.db" } }
CONF
old_umask=$(umask)
umask 000
start_daemon
umask "$old_umask"
wait_for "$T/log" "api: listening on $T/api.sock" 10
wait_started 10
[ "$(stat -c %a "$T/api.sock")" = 660 ] ||
    fail "api socket mode $(stat -c %a "$T/api.sock") under umask 000"
[ "$(stat -c %a "$T/statsd.sock")" = 660 ] ||
    fail "statsd socket mode $(stat -c %a "$T/statsd.sock") under umask 000"
UCURL="curl -s --unix-socket $T/api.sock"
[ "$($UCURL -o /dev/null -w '%{http_code}' -X POST http://localhost/v1/pause)" = 200 ] ||
    fail "root over the unix socket was refused"
"$CTL" -s "$T/api.sock" resume >/dev/null || fail "meshtunectl over unix"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
	chmod 0711 "$T"
	st=0
	$AS_NOBODY "$CTL" -s "$T/api.sock" status >/dev/null 2>&1 || st=$?
	[ "$st" -eq 1 ] || fail "nobody reached a 0660 socket"
	chmod 0666 "$T/api.sock"
	$AS_NOBODY "$CTL" -s "$T/api.sock" status >/dev/null ||
	    fail "nobody cannot read through a 0666 socket"
	code=$($AS_NOBODY curl -s -o /dev/null -w '%{http_code}' \
	    --unix-socket "$T/api.sock" -X POST http://localhost/v1/pause)
	[ "$code" = 401 ] || fail "nobody's POST: HTTP $code"
	st=0
	$AS_NOBODY "$CTL" -s "$T/api.sock" pause >/dev/null 2>"$T/err" || st=$?
	[ "$st" -eq 1 ] || fail "nobody paused: exit $st"
	grep -q 'needs a credential' "$T/err" || fail "nobody: $(cat "$T/err")"
	chmod 0700 "$T"
fi
stop_daemon

# 7b. A socket's mode is set without following a symlink: someone who
# may write in its directory swaps the new socket for a link to a file
# of root's between bind and chmod (bind_swap.so does it every time).
SWAP="$top_builddir/tests/.libs/bind_swap.so"
[ -f "$SWAP" ] || fail "no $SWAP"
echo secret > "$T/target"
chmod 0600 "$T/target"
mkdir -p "$T/sock"
cat > "$T/conf" <<CONF
{ "listen": { "api": "127.0.0.1:0", "statsd_unix": "$T/sock/statsd.sock" },
  "audit": { "path": "$T/audit.db" } }
CONF
start_daemon env LD_PRELOAD="$SWAP" MESHTUNE_TEST_BIND_SWAP="$T/target" \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
wait_started 10
[ -L "$T/sock/statsd.sock" ] || fail "bind_swap.so did not swap the socket"
[ "$(stat -c %a "$T/target")" = 600 ] ||
    fail "StatsD: chmod followed the symlink: $(stat -c %a "$T/target")"
grep -q "ingest: chmod $T/sock/statsd.sock" "$T/log" ||
    fail "no warning about the StatsD socket's mode"
stop_daemon
cat > "$T/conf" <<CONF
{ "listen": { "api": "$T/sock/api.sock" }, "audit": { "path": "$T/audit.db" } }
CONF
start_daemon env LD_PRELOAD="$SWAP" MESHTUNE_TEST_BIND_SWAP="$T/target" \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
n=0
while kill -0 "$DPID" 2>/dev/null && [ "$n" -lt 200 ]; do
	case $(ps -o stat= -p "$DPID" 2>/dev/null) in Z*) break;; esac
	n=$((n + 1))
	sleep 0.05
done
DSTATUS=0
wait "$DPID" || DSTATUS=$?
[ "$DSTATUS" -eq 1 ] || fail "API socket swapped: exit $DSTATUS"
[ "$(stat -c %a "$T/target")" = 600 ] ||
    fail "API: chmod followed the symlink: $(stat -c %a "$T/target")"
grep -q "api: cannot listen on $T/sock/api.sock" "$T/log" ||
    fail "no error about the API socket"
rm -rf "$T/sock"

# 8. Beyond loopback: an error without the opt-in, reported with it.
for l in api statsd_udp; do
	printf '{ "listen": { "%s": "0.0.0.0:0" }, "audit": { "path": "%s" } }\n' \
	    "$l" "$T/audit.db" > "$T/open.conf"
	st=0
	"$top_builddir/meshtuned" -t -c "$T/open.conf" >"$T/out" 2>"$T/err" ||
	    st=$?
	[ "$st" -eq 1 ] || fail "-t accepted $l on 0.0.0.0 ($st)"
	grep -q "listen.$l: expected a loopback address .* add \"$l\" to listen.allow_non_loopback" \
	    "$T/err" || fail "-t: $(cat "$T/err")"
	printf '{ "listen": { "%s": "0.0.0.0:0", "allow_non_loopback": ["%s"] },
	    "audit": { "path": "%s" } }\n' "$l" "$l" "$T/audit.db" > "$T/open.conf"
	"$top_builddir/meshtuned" -t -c "$T/open.conf" >"$T/out" 2>"$T/err" ||
	    fail "-t refused the opt-in: $(cat "$T/err")"
	grep -q "notice: listen.$l binds 0.0.0.0:0 beyond loopback" "$T/out" ||
	    fail "-t did not report $l: $(cat "$T/out")"
done
echo "api_guard: listeners ok"

# 9. meshtunectl hands no file to an impostor: a local user who holds the
# API's address (meshtuned stopped, or on another port) and names a file
# in its /v1/status gets nothing that is not a token of the user serving
# it.  The impostor records every Authorization header it is sent.
cat > "$T/impostor.py" <<'PY'
import json, socket, sys
path, portfile, seen = sys.argv[1:4]
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(8)
open(portfile, 'w').write('%d\n' % s.getsockname()[1])
s.settimeout(30)
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    c.settimeout(5)
    req = b''
    while b'\r\n\r\n' not in req:
        b = c.recv(4096)
        if not b:
            break
        req += b
    for line in req.decode('latin-1').split('\r\n'):
        if line.lower().startswith('authorization:'):
            open(seen, 'a').write(line + '\n')
    body = json.dumps({'version': 'x', 'ok': True,
                       'api': {'token_file': path}}).encode()
    c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
              b'Content-Length: %d\r\nConnection: close\r\n\r\n' % len(body)
              + body)
    c.close()
PY
# impostor FILE [WRAPPER...]: start one naming FILE; its port in $IPORT.
# It writes in $T/imp, which a user other than root may write in too.
mkdir -p "$T/imp"
chmod 1777 "$T/imp"
impostor() {
	f=$1
	shift
	rm -f "$T/imp/port" "$T/imp/seen"
	"$@" "${IPY:-python3}" "$T/impostor.py" "$f" "$T/imp/port" \
	    "$T/imp/seen" &
	IPID=$!
	PIDS="$PIDS $IPID"
	n=0
	until [ -s "$T/imp/port" ]; do
		n=$((n + 1))
		[ "$n" -lt 100 ] || fail "the impostor did not start"
		sleep 0.1
	done
	IPORT=$(cat "$T/imp/port")
}
# A secret that is no token: its first line is never sent.
printf 'root:$y$j9T$secrethash:19000:0:99999:7:::\n' > "$T/shadow"
chmod 0600 "$T/shadow"
impostor "$T/shadow"
st=0
"$CTL" -s "127.0.0.1:$IPORT" pause >/dev/null 2>"$T/err" || st=$?
kill "$IPID" 2>/dev/null || true
[ "$st" -eq 1 ] || fail "meshtunectl used a non-token file: exit $st"
[ ! -s "$T/imp/seen" ] || fail "sent to an impostor: $(cat "$T/imp/seen")"
grep -q "not a meshtuned API token" "$T/err" || fail "no reason: $(cat "$T/err")"
# -k too takes only a token.
st=0
"$CTL" -k "$T/shadow" -s "127.0.0.1:$IPORT" pause >/dev/null 2>"$T/err" ||
    st=$?
[ "$st" -eq 1 ] || fail "meshtunectl -k used a non-token file: exit $st"
grep -q "not a meshtuned API token" "$T/err" || fail "-k: $(cat "$T/err")"
# A token file of another user than the one serving: not read.
echo "$TOKEN" > "$T/tok"
chmod 0600 "$T/tok"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
    IPY=$($NOBODY sh -c 'command -v python3') && [ -n "$IPY" ]; then
	chmod 0755 "$T"
	impostor "$T/tok" $NOBODY
	st=0
	"$CTL" -s "127.0.0.1:$IPORT" pause >/dev/null 2>"$T/err" || st=$?
	kill "$IPID" 2>/dev/null || true
	chmod 0700 "$T"
	IPY=
	[ "$st" -eq 1 ] || fail "meshtunectl trusted nobody's server: exit $st"
	[ ! -s "$T/imp/seen" ] || fail "token sent to nobody: $(cat "$T/imp/seen")"
	grep -q "is served by user 65534, but its token file .* belongs to user 0" \
	    "$T/err" || fail "no reason: $(cat "$T/err")"
fi
# The same file named by a server of its owner's is used (the check
# above refuses the impostor, not every server).
impostor "$T/tok"
"$CTL" -s "127.0.0.1:$IPORT" pause >/dev/null 2>"$T/err" ||
    fail "meshtunectl refused its own user's server: $(cat "$T/err")"
kill "$IPID" 2>/dev/null || true
grep -qx "Authorization: Bearer $TOKEN" "$T/imp/seen" ||
    fail "the token was not sent: $(cat "$T/imp/seen" 2>/dev/null)"
echo "api_guard: impostors ok"
