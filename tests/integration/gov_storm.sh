#!/bin/sh
# gov_storm.sh -- end to end, issue 15's fourth hole, first half: a
# strategy proposing made-up knob names, 16 new ones a tick, five ticks a
# second.  Refusals fold per (strategy, reason): refused_names_max (8)
# names get a decisions row each, every other one counts in the row of
# knob "*"; nothing else is written and the node's knob is untouched.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/gov_lib.sh"

write_conf '"readback_s": 1, "refused_names_max": 8' \
    '"net.batch_size": { "actuator": "node", "min": 1, "max": 64,
    "initial": 8 }' \
    '' \
    '{ "name": "storm", "module": "proposer.so", "config": {
      "random_names": 16, "seed": 42 } }'
start_daemon
wait_started
start_node calm
poll "SELECT coalesce(sum(count), 0) >= 400 FROM decisions" 30
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "meshtuned exited $DSTATUS"
got=$(node_get net.batch_size)
stop_node

echo "--- decisions:"
q "SELECT strategy, knob, reason, count FROM decisions ORDER BY count"
total=$(q "SELECT sum(count) FROM decisions")
[ "$(q "SELECT count(*) FROM decisions")" = 9 ] ||
    fail "$(q "SELECT count(*) FROM decisions") decisions rows, not 8 + 1"
[ "$(q "SELECT count(*) FROM decisions WHERE strategy = 'storm' AND
    reason = 'unknown_knob'")" = 9 ] || fail "rows of another kind"
# Every proposal counted: whole ticks of 16.
[ $((total % 16)) = 0 ] || fail "$total refusals: not whole ticks of 16"
[ "$(q "SELECT count FROM decisions WHERE knob = '*'")" -ge $((total - 8 * 2)) ] ||
    fail "the names past the cap are not counted together"
[ "$(q "SELECT count(*) FROM actions")" = 0 ] || fail "actions written"
[ "$got" = 8 ] || fail "the node's net.batch_size is $got"
echo "ok: $total proposals of made-up names in 9 decisions rows"
