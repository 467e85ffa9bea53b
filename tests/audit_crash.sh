#!/bin/sh
# audit_crash.sh -- kill -9 the audit writer in the middle of a burst of
# actions, 20 times in a row on the same file.  After every kill:
# PRAGMA integrity_check is ok and every action whose actuator ran (the
# helper printed its id after the pending row was committed) has its row.
# Each restart reconciles the rows the kill left pending; at the end none
# is left.
set -u
: "${top_builddir:?top_builddir is not set}"
helper="$top_builddir/tests/audit_crash_helper"
dir=$(mktemp -d "${TMPDIR:-/tmp}/audit_crash.XXXXXX") || exit 99
trap 'rm -rf "$dir"' EXIT INT TERM
db="$dir/audit.db"
start=$(date +%s)

i=1
while [ "$i" -le 20 ]; do
	"$helper" write "$db" 1000000 >"$dir/ids.$i" 2>"$dir/log" &
	pid=$!
	# Wait for the first actuated id (at most 5 s), then let the burst
	# run a varying while so that the kill lands anywhere in a commit.
	n=0
	while [ ! -s "$dir/ids.$i" ] && [ "$n" -lt 500 ]; do
		sleep 0.01
		n=$((n + 1))
	done
	if [ ! -s "$dir/ids.$i" ]; then
		echo "run $i: no action was committed in 5 s" >&2
		kill -KILL "$pid" 2>/dev/null
		cat "$dir/log" >&2
		exit 1
	fi
	sleep "0.$((i * 37 % 100))"
	if ! kill -KILL "$pid"; then
		echo "run $i: the helper ended before the kill" >&2
		exit 1
	fi
	wait "$pid" 2>/dev/null
	cat "$dir"/ids.* >"$dir/all"
	echo "run $i: $(wc -l <"$dir/ids.$i") actions actuated before the kill"
	if ! "$helper" check "$db" "$dir/all"; then
		echo "run $i: check failed" >&2
		exit 1
	fi
	if [ $(( $(date +%s) - start )) -gt 240 ]; then
		echo "run $i: over 240 s, giving up" >&2
		exit 1
	fi
	i=$((i + 1))
done

# A last start reconciles what the 20th kill left pending, and stops.
"$helper" write "$db" 10 >"$dir/ids.last" 2>"$dir/log" || {
	cat "$dir/log" >&2; exit 1; }
grep 'reconciled' "$dir/log"
cat "$dir"/ids.* >"$dir/all"
"$helper" check "$db" "$dir/all" clean || exit 1
echo "20 kills: integrity ok, every actuated action has its row"
exit 0
