#!/bin/sh
# show_failures.sh [BUILDDIR] -- after a failed make check: for each test
# that failed, its log's first failing lines (where it went wrong, which
# the end of a long log rarely shows) and then its last lines.  Used by
# tests/check.sh and .ci/run.
cd "${1:-.}" || exit 1
# What a test says when it fails (TAP "not ok", a script's "FAIL: ..."),
# else what a crash or a sanitizer leaves.
verdict='^not ok|^(FAIL|ERROR)|FAIL:'
crash='[Ff]atal|[Ee]rror:|[Aa]ssert|==[0-9]+==|runtime error|Sanitizer|Segmentation|Aborted|timed out'
find . -name '*.trs' | sort | while read -r trs; do
	grep -Eq '^:test-result: (FAIL|ERROR|XPASS)' "$trs" || continue
	log=${trs%.trs}.log
	echo "=== ${log#./}"
	[ -f "$log" ] || { echo "(no log)"; continue; }
	first=$(grep -En -m 1 -- "$verdict" "$log" | cut -d: -f1)
	[ -n "$first" ] ||
	    first=$(grep -En -m 1 -- "$crash" "$log" | cut -d: -f1)
	if [ -n "$first" ]; then
		from=$((first > 3 ? first - 3 : 1))
		echo "--- first failing lines (from line $from):"
		sed -n "${from},$((first + 15))p" "$log"
	fi
	echo "--- last lines:"
	tail -n 15 "$log"
done
