#!/bin/sh
# control.sh -- control quality benchmark (issue 7, "Control quality").
#
# For each scenario, meshtune-simnode runs three ways with the same seed:
#
#   static    meshtuned with no strategies, only recording the metrics:
#             the node keeps its initial knobs;
#   dry_run   meshtuned with the bundled strategies, -n: decisions are
#             recorded, nothing is applied (the node runs as in static);
#   applying  meshtuned with the bundled strategies turning the knobs.
#
# Everything runs --speed SPEED times faster than real time, and
# meshtuned's times are scaled to match (tests/bench/control.py conf:
# window 60/SPEED s, tick 5000/SPEED ms, cooldowns, verify = one window,
# the strategies' window_s, cooldown_s and per-second rates), so the
# control loop sees the node as it would at speed 1.  The three modes of
# a scenario run side by side (CONTROL_SERIAL=1: one after the other);
# each uses little CPU.
#
# The target metric of each scenario (control.py TARGETS, the
# thresholds of STRATEGIES.md) is sampled from GET /v1/series/NAME every
# model second:
#
#   congestion          net.rtt_ms p95 <= 100 ms
#   memory-pressure     mem.heap_mb last <= 409.6 MiB (0.8 x 512)
#   peer-churn          mesh.loss_pct p90 <= 5 %
#   consensus-backlog   consensus.ops rate >= 100 per second
#
# Figures, one JSON object per line, in model seconds:
#
#   recover_s              from the start of the disturbance (model
#                          t = 60 s) until the target is met for good
#                          (up to the disturbance's end at t = 360 s);
#                          0 if it never left, null if it never came back
#   time_above_target_pct  share of the disturbance's samples off target
#   actions, rollbacks     applied (dry_run: recorded) actions; rollbacks
#   flaps, reversals       flap events; one strategy turning one knob
#                          back the way it came
#   failed                 actions refused by the node or the governor
#   worse_not_rolled_back  applied actions whose expected statistic got
#                          worse and that were not rolled back
#   rollbacks_late         rollbacks later than verify window + 2 ticks
#   guard:SERIES.STAT      mean over the disturbance
#
# and, per scenario, the targets of the issue as pass/fail lines:
# recover_within_2_windows, above_target_third_of_static, zero_flaps,
# worse_rolled_back.
#
# Environment: top_builddir, top_srcdir (required), CONTROL_SPEED (10),
# CONTROL_SEED (7), CONTROL_SCENARIOS ("congestion memory-pressure
# peer-churn consensus-backlog"), CONTROL_SERIAL (0), CONTROL_MODES
# ("static dry_run applying"; the verdicts need static and applying),
# KEEP_TMP.
set -eu

: "${top_builddir:?run through make bench}"
: "${top_srcdir:?run through make bench}"
SPEED=${CONTROL_SPEED:-10}
SEED=${CONTROL_SEED:-7}
SCENARIOS=${CONTROL_SCENARIOS:-congestion memory-pressure peer-churn consensus-backlog}
SERIAL=${CONTROL_SERIAL:-0}
MODES=${CONTROL_MODES:-static dry_run applying}
HELPER=$top_srcdir/tests/bench/control.py
DAEMON=$top_builddir/meshtuned
SIM=$top_builddir/meshtune-simnode
PLUGINS=$top_builddir/strategies/.libs

for t in python3 sqlite3; do
	command -v $t >/dev/null 2>&1 || {
		echo "control.sh: $t is needed" >&2
		exit 1
	}
done

T=$(mktemp -d /tmp/meshtune-control.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "control.sh: kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Model seconds: calm 60, disturbance 300, and 10 more; in real seconds.
DUR=$(python3 -c "print(370 / $SPEED)")
STEP=$(python3 -c "print(1 / $SPEED)")
SIMDUR=$(python3 -c "print(400 / $SPEED)")	# a bound; stopped before

# run SCENARIO MODE: one run in $T/SCENARIO-MODE; its figures in "out".
# Runs in a subshell of its own, which stops its processes however it ends.
run() {
	D=$T/$1-$2
	dpid="" spid="" qpid=""
	trap 'for p in $qpid $spid $dpid; do kill -TERM $p 2>/dev/null; done' EXIT
	trap 'exit 1' INT TERM
	mkdir -p "$D"
	python3 "$HELPER" conf "$2" "$D" "$SPEED" "$top_srcdir" "$PLUGINS" \
	    > "$D/conf"
	flag=""
	[ "$2" = dry_run ] && flag=-n
	"$DAEMON" -f -v $flag -c "$D/conf" 2>"$D/log" &
	dpid=$!
	n=200
	until grep -q "info: meshtuned [0-9.]* started (" "$D/log" 2>/dev/null
	do
		n=$((n - 1))
		[ $n -gt 0 ] && kill -0 $dpid 2>/dev/null || {
			echo "control.sh: meshtuned did not start:" >&2
			cat "$D/log" >&2
			kill -TERM $dpid 2>/dev/null || true
			return 1
		}
		sleep 0.05
	done
	t0=$(python3 -c "import time; print(repr(time.time()))")
	"$SIM" --statsd-unix "$D/statsd.sock" --control "$D/ctl.sock" \
	    --pid-file "$D/node.pid" --scenario "$1" --seed "$SEED" \
	    --speed "$SPEED" --duration "$SIMDUR" 2>"$D/sim.log" &
	spid=$!
	# shellcheck disable=SC2046
	python3 "$HELPER" sample "$D/api.sock" "$D/samples" "$STEP" "$DUR" \
	    $(python3 "$HELPER" series "$1") &
	qpid=$!
	wait $qpid || echo "control.sh: the sampler exited $?" >&2
	# meshtuned first, so that it never acts on a node that is gone.
	kill -TERM $dpid
	wait $dpid || echo "control.sh: meshtuned exited $?" >&2
	kill -TERM $spid 2>/dev/null || true
	wait $spid || echo "control.sh: simnode exited $?" >&2
	qpid="" spid="" dpid=""
	python3 "$HELPER" report "$1" "$2" "$D/samples" "$D/audit.db" \
	    "$t0" "$SPEED" > "$D/out" 2>"$D/actions"
}

# fig SCENARIO MODE METRIC: a figure of a finished run ("null" if none).
fig() {
	python3 - "$T/$1-$2/out" "$3" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["metric"] == sys.argv[2]:
        print("null" if o["value"] is None else o["value"])
        break
else:
    print("null")
PY
}

verdict() {	# scenario metric pass(0/1) detail
	printf '{"bench":"control","scenario":"%s","mode":"applying","metric":"%s","value":%s,"detail":"%s"}\n' \
	    "$1" "$2" "$3" "$4"
}

for s in $SCENARIOS; do
	pids=""
	for m in $MODES; do
		( run "$s" "$m" ) &
		PIDS="$PIDS $!"
		if [ "$SERIAL" = 1 ]; then
			wait $! || exit 1
		else
			pids="$pids $!"
		fi
	done
	for p in $pids; do wait "$p" || exit 1; done
	for m in $MODES; do
		cat "$T/$s-$m/out"
		echo "control.sh: $s $m:" >&2
		cat "$T/$s-$m/actions" >&2
	done
	case " $MODES " in *" static "*) ;; *) continue ;; esac
	case " $MODES " in *" applying "*) ;; *) continue ;; esac
	# The issue's targets, judged on the applying run.
	rec=$(fig "$s" applying recover_s)
	above=$(fig "$s" applying time_above_target_pct)
	sabove=$(fig "$s" static time_above_target_pct)
	flaps=$(fig "$s" applying flaps)
	rev=$(fig "$s" applying reversals)
	worse=$(fig "$s" applying worse_not_rolled_back)
	late=$(fig "$s" applying rollbacks_late)
	ok=$(python3 -c "print(int('$rec' != 'null' and $rec <= 120))")
	verdict "$s" recover_within_2_windows "$ok" "recover_s $rec <= 120"
	ok=$(python3 -c "print(int('$above' != 'null' and '$sabove' != 'null' and $above <= $sabove / 3))")
	verdict "$s" above_target_third_of_static "$ok" \
	    "applying $above% vs static $sabove%"
	ok=$(python3 -c "print(int($flaps == 0 and $rev == 0))")
	verdict "$s" zero_flaps "$ok" "flap events $flaps, reversals $rev"
	ok=$(python3 -c "print(int($worse == 0 and $late == 0))")
	verdict "$s" worse_rolled_back "$ok" \
	    "worse and kept $worse, rolled back late $late"
done
