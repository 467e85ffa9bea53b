#!/bin/sh
# replay_statsd.sh -- run the StatsD fuzz corpus through the fuzz target's
# checks with the plain replay driver (no libFuzzer needed).
bin="$top_builddir/tests/fuzz/replay_statsd"
corpus="$top_srcdir/tests/fuzz/corpus/statsd"
[ -x "$bin" ] || { echo "missing $bin" >&2; exit 99; }
[ -d "$corpus" ] || { echo "missing $corpus" >&2; exit 99; }
exec "$bin" "$corpus"
