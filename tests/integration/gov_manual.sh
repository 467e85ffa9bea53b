#!/bin/sh
# gov_manual.sh -- end to end, issue 15's third hole: a knob changed
# behind meshtune's back.  The proposer fixture keeps asking for
# net.batch_size 16 on the simulated node; once meshtune has set it, the
# operator sets 32 through the node's own control socket.  Within
# seconds the read-back marks the knob manual (an events row with both
# values), meshtunectl knobs says so, and meshtune leaves the knob alone
# until meshtunectl resume releases it.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/gov_lib.sh"

CTL="$top_builddir/meshtunectl"
write_conf '"readback_s": 1' \
    '"net.batch_size": { "actuator": "node", "min": 1, "max": 64,
    "initial": 8, "cooldown_s": 1, "verify_s": 1, "keep_unjudged": true }' \
    '' \
    '{ "name": "wants16", "module": "proposer.so", "config": {
    "knob": "net.batch_size", "value": 16 } }'
start_daemon
wait_started
start_node calm

poll "SELECT count(*) FROM actions WHERE kind = 'set' AND status = 'applied'
    AND new_value = 16" 10
[ "$(node_get net.batch_size)" = 16 ] || fail "meshtune did not set 16"

# The operator, at the node.
node_set net.batch_size 32 >/dev/null
t0=$(date +%s)
poll "SELECT count(*) FROM events WHERE kind = 'manual_change' AND
    source = 'net.batch_size'" 10
t1=$(date +%s)
[ $((t1 - t0)) -le 5 ] || fail "seen after $((t1 - t0)) s"
[ "$(q "SELECT json_extract(detail, '\$.old') || '|' ||
    json_extract(detail, '\$.new') FROM events WHERE
    kind = 'manual_change'")" = "16|32" ] ||
    fail "manual_change: $(q "SELECT * FROM events WHERE kind = 'manual_change'")"

# Both views say so.
"$CTL" -s "$T/api.sock" knobs > "$T/knobs" || fail "meshtunectl knobs failed"
cat "$T/knobs"
grep -q "^net.batch_size  *knob  *32  *1..64 .*manual (meshtune set 16, reads 32)" \
    "$T/knobs" || fail "meshtunectl knobs does not show the manual knob"
"$CTL" -s "$T/api.sock" --json knobs | python3 -c '
import json, sys
k = json.load(sys.stdin)[0]
assert k["name"] == "net.batch_size" and k["state"] == "manual", k
assert k["manual"]["old"] == 16 and k["manual"]["new"] == 32, k
assert k["value"] == 32 and k["min"] == 1 and k["max"] == 64, k
' || fail "GET /v1/knobs"

# Hands off: the strategy still asks for 16 every tick, and is refused.
before=$(q "SELECT coalesce(sum(count), 0) FROM decisions WHERE
    reason = 'manual'")
sleep 2
after=$(q "SELECT coalesce(sum(count), 0) FROM decisions WHERE
    reason = 'manual'")
[ "$after" -gt "$before" ] || fail "no 'manual' refusals ($before, $after)"
[ "$(node_get net.batch_size)" = 32 ] || fail "meshtune moved the knob"
nact=$(q "SELECT count(*) FROM actions")

# Released: meshtune may move it again, and does.
"$CTL" -s "$T/api.sock" resume net.batch_size | grep -q "released" ||
    fail "resume"
poll "SELECT count(*) FROM events WHERE kind = 'resume' AND
    source = 'net.batch_size'" 5
poll "SELECT count(*) FROM actions WHERE id > $nact AND status = 'applied' AND
    old_value = 32 AND new_value = 16" 10
[ "$(node_get net.batch_size)" = 16 ] || fail "not set again after resume"
# A second resume of a knob that is not manual is an error.
if "$CTL" -s "$T/api.sock" resume net.batch_size 2>"$T/err"; then
	fail "resume of a knob not manual succeeded"
fi
grep -q "is marked manual" "$T/err" || fail "resume error: $(cat "$T/err")"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "meshtuned exited $DSTATUS"
stop_node
# No row was written while the knob was manual.
[ "$(q "SELECT count(*) FROM actions WHERE ts > (SELECT ts FROM events
    WHERE kind = 'manual_change') AND ts < (SELECT ts FROM events WHERE
    kind = 'resume' AND source = 'net.batch_size')")" = 0 ] ||
    fail "actions while manual"
echo "ok: a change at the node was seen in $((t1 - t0)) s and left alone until resume"
