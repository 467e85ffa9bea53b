#!/bin/sh
# sdk_headers.sh -- the installed SDK headers, <meshtune/strategy.h> and
# <meshtune/mockhost.h>, compile without a warning under -Wall -Wextra
# -Werror -pedantic: in C (C99 to C17) and C++ (C++20, which the
# designated initializers of MT_STRATEGY_HEADER need), with and without
# MT_STATIC, with an entry point that ignores its host argument.  Every
# C and C++ compiler found is tried (cc, gcc, clang, c++, g++, clang++).
set -eu
: "${top_srcdir:?run through make check}"
T=$(mktemp -d /tmp/meshtune-sdk.XXXXXX)
trap 'rm -rf "$T"' EXIT

cat > "$T/s.c" <<'C'
#include <meshtune/strategy.h>
#include <meshtune/mockhost.h>

static int
s_init(const struct mt_host_api *h, struct mt_ctx *c, const char *j,
    void **s, char *e, size_t l)
{
	(void)h; (void)c; (void)j; (void)e; (void)l;
	*s = NULL;
	return MT_OK;
}

static int
s_eval(void *s, struct mt_ctx *c)
{
	struct mt_action a = MT_ACTION_INIT;

	(void)s; (void)c;
	return a.kind;
}

static const struct mt_strategy desc = {
	MT_STRATEGY_HEADER,
	.period_ms = 0,
	.name = "s",
	.version = "1",
	.summary = "header check",
	.init = s_init,
	.should_apply = s_eval,
	.apply = s_eval,
	.destroy = NULL,
};

MT_STRATEGY_EXPORT(s)
{
	return &desc;
}
C
cp "$T/s.c" "$T/s.cc"

warn="-Wall -Wextra -Werror -pedantic -Wshadow"
tried=0
failed=0
try() {	# compiler source flags...
	cc=$1 src=$2
	shift 2
	tried=$((tried + 1))
	if ! "$cc" "$@" $warn -I"$top_srcdir/include" -fPIC -c "$src" \
	    -o "$T/s.o" 2>"$T/err"; then
		echo "FAIL: $cc $* $src:" >&2
		head -20 "$T/err" >&2
		failed=$((failed + 1))
	fi
}
for cc in cc gcc clang; do
	command -v "$cc" >/dev/null || continue
	for std in c99 c11 c17 gnu11; do
		try "$cc" "$T/s.c" -std=$std -Wstrict-prototypes \
		    -Wmissing-prototypes
		try "$cc" "$T/s.c" -std=$std -Wstrict-prototypes \
		    -Wmissing-prototypes -DMT_STATIC
	done
done
cxx=0
for cc in c++ g++ clang++; do
	command -v "$cc" >/dev/null || continue
	cxx=1
	try "$cc" "$T/s.cc" -std=c++20 -Wmissing-declarations
	try "$cc" "$T/s.cc" -std=c++20 -Wmissing-declarations -DMT_STATIC
done
[ "$cxx" -eq 1 ] || echo "no C++ compiler: C++ not checked"
[ "$failed" -eq 0 ] || { echo "FAIL: $failed of $tried builds" >&2; exit 1; }
echo "sdk_headers: $tried builds clean"
