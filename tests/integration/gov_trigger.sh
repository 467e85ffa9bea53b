#!/bin/sh
# gov_trigger.sh -- end to end, issue 15's first hole: triggers skipped
# every bound.  On the simulated node, mem.trim is declared with the
# arguments 0..1 and a 2 s cooldown.  One fixture fires it with 1e9 every
# tick, another fires an undeclared trigger, a third fires mem.trim 1:
# the first two are refused with their reason codes and never reach the
# node, the third fires once per cooldown, and the node never holds more
# than 1.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/gov_lib.sh"

write_conf '"readback_s": 1, "max_actions_per_hour": 1000' \
    '"net.batch_size": { "actuator": "node", "min": 1, "max": 64,
    "initial": 8 }' \
    '"mem.trim": { "actuator": "node", "min": 0, "max": 1,
    "cooldown_s": 2 }' \
    '{ "name": "huge", "module": "proposer.so", "config": {
      "kind": "trigger", "knob": "mem.trim", "value": 1e9 } },
    { "name": "undeclared", "module": "proposer.so", "config": {
      "kind": "trigger", "knob": "mem.gc", "value": 1 } },
    { "name": "asset", "module": "proposer.so", "config": {
      "kind": "set", "knob": "mem.trim", "value": 1 } },
    { "name": "trim", "module": "proposer.so", "config": {
      "kind": "trigger", "knob": "mem.trim", "value": 1 } }'
start_daemon
wait_started
start_node calm

poll "SELECT count(*) FROM actions WHERE kind = 'trigger' AND
    status = 'applied'" 10
first=$(q "SELECT ts FROM actions WHERE kind = 'trigger' ORDER BY id LIMIT 1")
poll "SELECT (julianday('now') - julianday('$first')) * 86400 > 5" 10
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "meshtuned exited $DSTATUS"
got=$(node_get mem.trim)
stop_node

echo "--- decisions:"
q "SELECT strategy, knob, reason, count FROM decisions ORDER BY strategy"
echo "--- actions:"
q "SELECT id, ts, strategy, kind, knob, new_value, status FROM actions"

# Out of range, undeclared, or a trigger proposed as a knob: refused.
[ "$(q "SELECT count FROM decisions WHERE strategy = 'huge' AND
    knob = 'mem.trim' AND reason = 'out_of_range'")" -ge 10 ] ||
    fail "no out_of_range refusals"
[ "$(q "SELECT count FROM decisions WHERE strategy = 'undeclared' AND
    knob = 'mem.gc' AND reason = 'unknown_trigger'")" -ge 10 ] ||
    fail "no unknown_trigger refusals"
[ "$(q "SELECT count FROM decisions WHERE strategy = 'asset' AND
    knob = 'mem.trim' AND reason = 'not_a_knob'")" -ge 10 ] ||
    fail "no not_a_knob refusals"
# Only the well-formed one fired: within range, once per cooldown.
[ "$(q "SELECT count(*) FROM actions WHERE strategy <> 'trim'")" = 0 ] ||
    fail "a refused proposal has an action row"
[ "$(q "SELECT count(*) FROM actions WHERE new_value < 0 OR
    new_value > 1")" = 0 ] || fail "an action outside 0..1"
[ "$(q "SELECT count(*) FROM actions a JOIN actions b ON b.id > a.id AND
    (julianday(b.ts) - julianday(a.ts)) * 86400 < 1.9
    WHERE a.status = 'applied' AND b.status = 'applied'")" = 0 ] ||
    fail "two firings within the cooldown"
fired=$(q "SELECT count(*) FROM actions WHERE kind = 'trigger' AND
    status = 'applied' AND new_value = 1")
[ "$fired" -ge 2 ] || fail "fired $fired times"
[ "$(q "SELECT count FROM decisions WHERE strategy = 'trim' AND
    reason = 'cooldown'")" -ge 5 ] || fail "no cooldown refusals"
# The node: mem.trim 1, never 1e9; the knobs untouched.
[ "$got" = 1 ] || fail "the node's mem.trim is $got"
grep -q "knob mem.trim .* -> 1e+09" "$T/sim.log" && fail "the node saw 1e9"
[ "$(grep -c "knob mem.trim .* -> 1$" "$T/sim.log")" = "$fired" ] ||
    fail "the node saw $(grep -c "knob mem.trim" "$T/sim.log") firings, not $fired"
echo "ok: $fired firings within range and cooldown; 1e9 and mem.gc refused"
