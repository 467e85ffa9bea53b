#!/bin/sh
# man-lint.sh -- every manual page is clean under mandoc -Tlint (warnings
# and errors; style hints about pages not installed here are ignored).
set -eu
: "${top_srcdir:?run through make check}"
if [ -z "${MANDOC:-}" ]; then
	echo "mandoc not found: skipped (apt-get install mandoc)"
	exit 77
fi
status=0
for page in "$top_srcdir"/man/*.[1-8]; do
	if ! "$MANDOC" -Tlint -Wwarning "$page"; then
		echo "FAIL: $page"
		status=1
	fi
done
exit $status
