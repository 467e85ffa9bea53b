#!/bin/sh
# gov_unjudged.sh -- end to end, issue 15's second hole: a strategy that
# names a metric which never gets data cannot decide whether its change
# is checked.  The proposer fixture raises net.batch_delay_ms of the
# simulated node from 5 to 50 ms, "expecting" no.such.metric to fall;
# the governor's guard (net.rtt_ms p95 may rise 10 %) judges the change
# alone, finds the round trip slower, and rolls it back.  The node's knob
# and the audit rows tell it, not only the log.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/gov_lib.sh"

write_conf '"readback_s": 1, "guards": [ { "metric": "net.rtt_ms",
    "stat": "p95", "max_rise_pct": 10 } ]' \
    '"net.batch_delay_ms": { "actuator": "node", "min": 0, "max": 50,
    "initial": 5, "cooldown_s": 30, "max_step_pct": 1000, "verify_s": 5 }' \
    '' \
    '{ "name": "careless", "module": "proposer.so", "config": {
    "knob": "net.batch_delay_ms", "value": 50,
    "expect_metric": "no.such.metric", "expect_stat": "p95",
    "expect_dir": -1, "wait_series": "net.rtt_ms", "wait_count": 60 } }'
start_daemon
wait_started
start_node calm

# Applied, judged five seconds later by the guard, rolled back.
poll "SELECT count(*) FROM actions WHERE kind = 'set' AND status = 'applied'" 20
A=$(q "SELECT id FROM actions WHERE kind = 'set'")
poll "SELECT count(*) FROM actions WHERE kind = 'rollback' AND
    status = 'applied' AND parent_id = $A" 20
poll "SELECT count(*) FROM actions WHERE id = $A AND outcome IS NOT NULL" 5
[ "$(node_get net.batch_delay_ms)" = 5 ] ||
    fail "the node's net.batch_delay_ms is $(node_get net.batch_delay_ms)"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "meshtuned exited $DSTATUS"
stop_node

echo "--- the change and its verdict:"
q "SELECT id, kind, old_value, new_value, status, outcome, parent_id, verdict
    FROM actions ORDER BY id"
[ "$(q "SELECT printf('%g|%g|%s|%s', old_value, new_value, status, outcome)
    FROM actions WHERE id = $A")" = "5|50|applied|rolled_back" ] ||
    fail "action $A: $(q "SELECT * FROM actions WHERE id = $A")"
# The guard decided; the expectation could not be measured.
[ "$(q "SELECT json_extract(verdict, '\$.decided_by') || '|' ||
    json_extract(verdict, '\$.expectation.result') || '|' ||
    json_extract(verdict, '\$.expectation.why') || '|' ||
    json_extract(verdict, '\$.guards[0].result') FROM actions
    WHERE id = $A")" = "guard|unmeasurable|no such series|worse" ] ||
    fail "verdict: $(q "SELECT verdict FROM actions WHERE id = $A")"
# The round trip rose more than 10 %, from enough samples both times.
[ "$(q "SELECT json_extract(verdict, '\$.guards[0].after') >
    1.1 * json_extract(verdict, '\$.guards[0].baseline') AND
    json_extract(verdict, '\$.guards[0].count_before') >= 20 AND
    json_extract(verdict, '\$.guards[0].count_after') >= 20
    FROM actions WHERE id = $A")" = 1 ] || fail "guard figures"
[ "$(q "SELECT printf('%g|%g|%s', old_value, new_value, status) FROM actions
    WHERE parent_id = $A")" = "50|5|applied" ] || fail "the rollback row"
# Exactly one change and one rollback: the strategy is held after it.
[ "$(q "SELECT count(*) FROM actions")" = 2 ] || fail "more actions"
# The node saw 50, then 5 again.
grep -q "knob net.batch_delay_ms 5 -> 50" "$T/sim.log" || fail "no set to 50"
grep -q "knob net.batch_delay_ms 50 -> 5" "$T/sim.log" || fail "no set back"
echo "ok: an unjudgeable harmful change was judged by the guard and undone:"
q "SELECT 'net.rtt_ms p95 ' || json_extract(verdict, '\$.guards[0].baseline')
    || ' -> ' || json_extract(verdict, '\$.guards[0].after') || ' ms'
    FROM actions WHERE id = $A"
