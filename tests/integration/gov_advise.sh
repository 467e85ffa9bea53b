#!/bin/sh
# gov_advise.sh -- end to end, issue 15's fourth hole, second half: a
# strategy in advise mode whose condition lasts.  An hour of fake clock
# (libfaketime, 360 times real time: a 5 s tick every 14 ms) with a
# proposal every tick writes one dry_run row per knob cooldown (300 s),
# thirteen an hour, not 720, and counts the repeats in the decisions
# table; nothing reaches the node.
set -eu
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/gov_lib.sh"

# libfaketime (its multi-threaded build: the audit log has a writer
# thread), preloaded into meshtuned alone.
FT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1)
[ -n "$FT" ] || { echo "no libfaketime: skipped"; exit 77; }
# It comes before the sanitizer's runtime in the list of libraries.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

write_conf '"readback_s": 60' \
    '"net.batch_size": { "actuator": "node", "min": 1, "max": 64,
    "initial": 8, "cooldown_s": 300 }' \
    '' \
    '{ "name": "advisor", "module": "proposer.so", "mode": "advise",
      "config": { "knob": "net.batch_size", "value": 16 } }'
sed -i 's/"tick_interval_ms": 200/"tick_interval_ms": 5000/' "$T/conf"
start_node calm
start_daemon env LD_PRELOAD="$FT" FAKETIME="+0 x360" \
    FAKETIME_DONT_RESET=1
wait_started
poll "SELECT (julianday(max(last_ts)) - julianday(min(first_ts))) * 86400
    >= 3600 FROM decisions" 60
# The proposals made so far (a loaded machine runs fewer ticks an hour).
made=$("$top_builddir/meshtunectl" -s "$T/api.sock" --json strategies |
    python3 -c 'import json, sys; print(int(json.load(sys.stdin)[0]["proposals"]))') ||
    fail "meshtunectl strategies"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "meshtuned exited $DSTATUS"
got=$(node_get net.batch_size)
stop_node

echo "--- dry_run rows:"
q "SELECT id, ts, knob, old_value, new_value, status FROM actions"
q "SELECT strategy, knob, reason, count, first_ts, last_ts FROM decisions"
rows=$(q "SELECT count(*) FROM actions WHERE status = 'dry_run'")
span=$(q "SELECT round((julianday(max(last_ts)) - julianday(min(first_ts)))
    * 86400) FROM decisions")
folded=$(q "SELECT count FROM decisions WHERE strategy = 'advisor' AND
    knob = 'net.batch_size' AND reason = 'dry_run'")
[ "$(q "SELECT count(*) FROM actions")" = "$rows" ] || fail "other rows"
# One row a cooldown: the run lasts an hour or a little more.
max=$(( ${span%.*} / 300 + 1 ))
[ "$rows" -ge 12 ] && [ "$rows" -le "$max" ] ||
    fail "$rows dry_run rows in $span s"
# Every proposal is a row or a counted repeat; most are repeats.
[ $((rows + folded)) -ge "$made" ] ||
    fail "$made proposals, $rows rows and $folded repeats"
[ "$made" -ge 200 ] && [ "$folded" -ge $((made - rows)) ] ||
    fail "only $folded repeats counted of $made proposals"
# One a cooldown apart, no closer.
[ "$(q "SELECT count(*) FROM actions a JOIN actions b ON b.id = a.id + 1
    WHERE (julianday(b.ts) - julianday(a.ts)) * 86400 < 299")" = 0 ] ||
    fail "two dry_run rows within a cooldown"
[ "$got" = 8 ] || fail "the node's net.batch_size is $got"
echo "ok: $rows dry_run rows and $folded counted repeats in $span s of fake clock"
