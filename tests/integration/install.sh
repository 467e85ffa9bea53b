#!/bin/sh
# install.sh -- meshtune as a user installs it, in a private network
# namespace where one can be had (so the installed configuration's fixed
# ports are free):
#  1. make install DESTDIR=...: files only under DESTDIR/PREFIX, no
#     libtool .la among the strategies; make uninstall removes them all.
#  2. configure --prefix=$T/prefix, make install (under strace where
#     there is one): nothing written outside the test's directory; the
#     unit under the prefix; the installed configuration names only paths
#     under the prefix (or /proc).
#  3. The unit: systemd-analyze verify, and security exposure <= 2.0
#     (where systemd-analyze is).
#  4. The SDK, from the installed files alone: the installed template and
#     its cmocka test against the installed mock host; an out-of-tree
#     strategy built with pkg-config --cflags only, -Wall -Wextra -Werror
#     -pedantic, unit-tested as a shared object through the mock host,
#     installed in pkg-config's plugindir; meshtuned -t refusing it with a
#     string where it reads a number, naming the key.
#  5. The README's "Running beside a node" on the installed files: the
#     installed meshtune-simnode and meshtuned with their defaults and
#     the configuration unchanged (under the unit's system call filter,
#     where libseccomp is), an action in the audit log, meshtunectl
#     showing it, the audit log private (umask 077, directory 0700).
set -eu
if [ -z "${MT_NETNS:-}" ]; then
	for u in "unshare -n" "unshare -rn"; do
		if $u true 2>/dev/null; then
			MT_NETNS=1 exec $u sh "$0" "$@"
		fi
	done
fi
. "$top_srcdir/tests/integration/lib.sh"

for t in pkg-config sqlite3 python3 make; do
	command -v $t >/dev/null 2>&1 || { echo "no $t: skipped"; exit 77; }
done
pkg-config --exists cmocka || { echo "no cmocka: skipped"; exit 77; }
CC=${CC:-cc}
if [ -n "${MT_NETNS:-}" ]; then
	ip link set lo up 2>/dev/null ||
	    python3 -c 'import fcntl, socket, struct
s = socket.socket()
fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x40))' ||
	    fail "cannot bring up loopback in the namespace"
fi

# 1. DESTDIR: everything under DESTDIR/PREFIX, and gone after uninstall.
root="$T/root"
prefix=$(sed -n 's/^prefix=//p' "$top_builddir/meshtune.pc")
make -s -C "$top_builddir" install DESTDIR="$root" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "make install DESTDIR failed"; }
find "$root" -type f -o -type l | sed "s|^$root||" > "$T/files"
[ -s "$T/files" ] || fail "make install DESTDIR installed nothing"
if grep -v "^$prefix/" "$T/files" > "$T/outside"; then
	fail "installed outside $prefix: $(head -5 "$T/outside")"
fi
if grep -q "/meshtune/strategies/.*\.la$" "$T/files"; then
	fail "libtool .la files in the plugin directory"
fi
make -s -C "$top_builddir" uninstall DESTDIR="$root" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "make uninstall DESTDIR failed"; }
left=$(find "$root" -type f | sed "s|^$root||")
[ -z "$left" ] || fail "left after uninstall: $(echo "$left" | head -5)"

# 2. A prefix of our own, from a fresh configure.
P="$T/prefix"
B="$T/build"
src=$top_srcdir
if [ -e "$top_srcdir/config.status" ]; then
	# Configured in place: a VPATH build of it is refused; copy it.
	make -s -C "$top_builddir" distdir distdir="$T/src" >/dev/null 2>&1 ||
	    fail "make distdir failed"
	src="$T/src"
fi
mkdir "$B"
(cd "$B" && "$src/configure" --prefix="$P" --disable-dependency-tracking \
    CC="$CC" CFLAGS="-O1" >"$T/configure.log" 2>&1) ||
    { tail -20 "$T/configure.log"; fail "configure --prefix failed"; }
make -s -C "$B" -j2 >"$T/build.log" 2>&1 ||
    { tail -30 "$T/build.log"; fail "the prefix build failed"; }
mkdir "$T/tmp"
if command -v strace >/dev/null 2>&1; then
	TMPDIR="$T/tmp" strace -f -qq -y -o "$T/strace" -e status=successful \
	    -e trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,unlink,unlinkat,rmdir,chmod,fchmodat,chown,fchownat,lchown,truncate,utimensat \
	    make -s -C "$B" install >"$T/install.log" 2>&1 ||
	    { tail -30 "$T/install.log"; fail "make install failed"; }
	# Every path written must be under $T (prefix, build, tmp).  -y
	# shows what a descriptor names (AT_FDCWD<cwd>, 3</dir>), so paths
	# relative to one are resolved too.
	python3 - "$T/strace" "$T" > "$T/outside" <<'PY' ||
import os, re, sys
log, top = sys.argv[1], sys.argv[2].rstrip("/") + "/"
writes = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
bad = set()
def check(call, path):
    path = os.path.normpath(path)
    if not (path + "/").startswith(top) and \
            path not in ("/dev/null", "/dev/tty"):
        bad.add("%s %s" % (call, path))
for line in open(log, errors="replace"):
    m = re.match(r"\s*\d+\s+(\w+)\((.*)\)\s+=\s*(\S+)", line)
    if not m:
        continue
    call, args, ret = m.groups()
    if call in ("open", "openat") and not writes.search(args):
        continue
    # A path relative to a descriptor: fd<dir>, "path".
    for d, path in re.findall(r'\w+<([^>]*)>, "((?:[^"\\]|\\.)*)"', args):
        check(call, path if path.startswith("/") else d + "/" + path)
    for path in re.findall(r'"((?:[^"\\]|\\.)*)"', args):
        if path.startswith("/"):
            check(call, path)
    r = re.match(r"\d+<([^>]*)>", ret)
    if r:
        check(call, r.group(1))
for b in sorted(bad):
    print(b)
sys.exit(1 if bad else 0)
PY
	    fail "make install wrote outside the prefix: $(head -5 "$T/outside")"
else
	echo "no strace: writes outside the prefix not traced"
	make -s -C "$B" install >"$T/install.log" 2>&1 ||
	    { tail -30 "$T/install.log"; fail "make install failed"; }
fi
for f in sbin/meshtuned bin/meshtunectl bin/meshtune-simnode \
    include/meshtune/strategy.h include/meshtune/mockhost.h \
    lib/pkgconfig/meshtune.pc lib/pkgconfig/meshtune-mockhost.pc \
    etc/meshtune/meshtuned.conf etc/meshtune/meshtuned.conf.example \
    lib/meshtune/strategies/network.so share/meshtune/template.c \
    share/meshtune/template_test.c share/man/man8/meshtuned.8 \
    share/man/man3/meshtune-mockhost.3; do
	[ -e "$P/$f" ] || fail "$f not installed"
done
if ls "$P"/lib/meshtune/strategies/*.la >/dev/null 2>&1; then
	fail "libtool .la files in the plugin directory"
fi
if grep -l "@[A-Z]*DIR@" "$P"/share/man/man*/* > "$T/unsubst"; then
	fail "placeholders left in $(cat "$T/unsubst")"
fi
# Every path of the installed configuration is under the prefix.
python3 - "$P/etc/meshtune/meshtuned.conf" "$P" <<'PY' || fail "configuration paths"
import json, sys
conf, prefix = json.load(open(sys.argv[1])), sys.argv[2] + "/"
def walk(v, key):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(x, key + "." + k if key else k)
    elif isinstance(v, list):
        for x in v:
            walk(x, key)
    elif isinstance(v, str) and v.startswith("/") and v != "/proc" and \
            not v.startswith(prefix):
        sys.exit("%s: %s is outside the prefix" % (key, v))
walk(conf, "")
PY
grep -q "^  \"plugin_dir\": \"$P/lib/meshtune/strategies\",$" \
    "$P/etc/meshtune/meshtuned.conf" || fail "installed plugin_dir"

# 3. The unit: where systemd is, under the prefix, valid, locked down.
unit="$P/lib/systemd/system/meshtuned.service"
if pkg-config --exists systemd; then
	[ -f "$unit" ] || fail "no unit under the prefix"
	grep -q "^ExecStart=$P/sbin/meshtuned -f -c $P/etc/meshtune/meshtuned.conf$" \
	    "$unit" || fail "unit ExecStart"
fi
if [ -f "$unit" ] && command -v systemd-analyze >/dev/null 2>&1; then
	systemd-analyze verify --man=no "$unit" >"$T/verify" 2>&1 ||
	    fail "systemd-analyze verify: $(cat "$T/verify")"
	systemd-analyze security --offline=true "$unit" >"$T/security" 2>&1 ||
	    true
	score=$(sed -n 's/.*Overall exposure level for meshtuned.service: \([0-9.]*\).*/\1/p' \
	    "$T/security")
	[ -n "$score" ] || fail "no exposure level: $(tail -5 "$T/security")"
	python3 -c "import sys; sys.exit(not $score <= 2.0)" ||
	    fail "exposure $score > 2.0: $(grep '✗' "$T/security")"
	echo "unit: exposure $score"
else
	echo "no unit or no systemd-analyze: the unit is not checked"
fi

# 4. The SDK from the installed files alone.
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
rpath="-Wl,-rpath,$P/lib"
mkdir "$T/sdk"
cp "$P/share/meshtune/template.c" "$P/share/meshtune/template_test.c" \
    "$T/sdk/"
# shellcheck disable=SC2046
$CC -DMT_STATIC -Wall -Wextra -Werror -o "$T/sdk/template_test" \
    "$T/sdk/template_test.c" "$T/sdk/template.c" \
    $(pkg-config --cflags --libs meshtune-mockhost cmocka) $rpath \
    2>"$T/cc.log" || fail "template test did not build: $(cat "$T/cc.log")"
"$T/sdk/template_test" >"$T/sdk/out" 2>&1 ||
    fail "installed template test: $(cat "$T/sdk/out")"

# The strategy an author writes: proposes net.batch_size = its "value"
# (a number, default 16) once it has seen net.rtt_ms.
cat > "$T/sdk/mystrategy.c" <<'C'
#include <stdio.h>
#include <stdlib.h>

#include <meshtune/strategy.h>

struct my {
	const struct mt_host_api	*host;
	double				 value;
};

static int
my_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config, void **statep, char *err, size_t errlen)
{
	struct my	*m;
	int		 r;

	(void)config;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return MT_ERR;
	m->host = host;
	r = host->config_number(ctx, "value", &m->value);
	if (r == MT_ENOENT)
		m->value = 16;
	else if (r != MT_OK) {
		snprintf(err, errlen, "config \"value\" must be a number");
		free(m);
		return MT_ERR;
	}
	*statep = m;
	return MT_OK;
}

static int
my_should_apply(void *state, struct mt_ctx *ctx)
{
	struct my	*m = state;
	double		 n;

	return m->host->stat(ctx, "net.rtt_ms", "count", &n) == MT_OK &&
	    n > 0;
}

static int
my_apply(void *state, struct mt_ctx *ctx)
{
	struct my		*m = state;
	struct mt_action	 a = MT_ACTION_INIT;

	a.kind = MT_ACT_SET;
	a.knob = "net.batch_size";
	a.value = m->value;
	a.reason = "out-of-tree strategy saw net.rtt_ms";
	return m->host->propose(ctx, &a);
}

static const struct mt_strategy my = {
	MT_STRATEGY_HEADER,
	.name = "mystrategy", .version = "0.1", .summary = "test",
	.init = my_init, .should_apply = my_should_apply, .apply = my_apply,
	.destroy = free,
};

MT_STRATEGY_EXPORT(mystrategy)
{
	return &my;
}
C
cat > "$T/sdk/mytest.c" <<'C'
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <meshtune/mockhost.h>

static const char *so;

static void
test_proposes(void **state)
{
	struct mock_host	*mh = mock_host_new();

	(void)state;
	mock_host_set_knob(mh, "net.batch_size", 8, 1, 64);
	assert_int_equal(mock_host_load_file(mh, so), MT_OK);
	assert_int_equal(mock_host_eval(mh, NULL), 0);
	mock_host_set_stat(mh, "net.rtt_ms", "count", 3);
	assert_int_equal(mock_host_eval(mh, NULL), 1);
	assert_int_equal(mock_host_nproposals(mh), 1);
	assert_string_equal(mock_host_proposal(mh, 0)->knob, "net.batch_size");
	assert_true(mock_host_proposal(mh, 0)->value == 16);
	mock_host_free(mh);
}

static void
test_wrong_type(void **state)
{
	struct mock_host	*mh = mock_host_new();

	(void)state;
	assert_int_equal(mock_host_set_config(mh, "{\"value\": \"x\"}"), 0);
	assert_int_equal(mock_host_load_file(mh, so), MT_ERR);
	assert_string_equal(mock_host_init_error(mh),
	    "config \"value\" must be a number");
	mock_host_free(mh);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proposes),
		cmocka_unit_test(test_wrong_type),
	};

	so = argv[argc - 1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
C
cflags=$(pkg-config --cflags meshtune)
case "$cflags" in *"$P"*) ;; *) fail "pkg-config gave '$cflags'";; esac
plugindir=$(pkg-config --variable=plugindir meshtune)
[ "$plugindir" = "$P/lib/meshtune/strategies" ] ||
    fail "pkg-config plugindir is $plugindir"
# shellcheck disable=SC2086
$CC -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror -pedantic \
    $cflags -o "$T/sdk/mystrategy.so" "$T/sdk/mystrategy.c" 2>"$T/cc.log" ||
    fail "out-of-tree strategy: $(cat "$T/cc.log")"
# shellcheck disable=SC2046
$CC -Wall -Wextra -Werror -o "$T/sdk/mytest" "$T/sdk/mytest.c" \
    $(pkg-config --cflags --libs meshtune-mockhost cmocka) $rpath \
    2>"$T/cc.log" || fail "its unit test did not build: $(cat "$T/cc.log")"
"$T/sdk/mytest" "$T/sdk/mystrategy.so" >"$T/sdk/out" 2>&1 ||
    fail "out-of-tree strategy's unit test: $(cat "$T/sdk/out")"
install -m 0755 "$T/sdk/mystrategy.so" "$plugindir/mystrategy.so"

# meshtuned -t loads it from plugindir, and refuses a string for a
# number, naming the key.
cat > "$T/my.conf" <<CONF
{ "listen": { "statsd_udp": "127.0.0.1:0" },
  "audit": { "path": "$T/my.db" },
  "actuators": { "log": { "type": "log" } },
  "knobs": { "net.batch_size": { "actuator": "log", "min": 1, "max": 64 } },
  "strategies": [ { "name": "mine", "module": "mystrategy.so",
                    "config": { "value": 12 } } ] }
CONF
"$P/sbin/meshtuned" -t -c "$T/my.conf" >"$T/out" 2>&1 ||
    fail "-t refused the out-of-tree strategy: $(cat "$T/out")"
sed -i 's/"value": 12/"value": "12"/' "$T/my.conf"
st=0
"$P/sbin/meshtuned" -t -c "$T/my.conf" >"$T/out" 2>&1 || st=$?
[ "$st" -eq 1 ] || fail "-t passed a string where a number belongs"
grep -q 'strategy "mine" refused: .*config "value" must be a number' \
    "$T/out" || fail "-t did not name the key: $(cat "$T/out")"
rm -f "$plugindir/mystrategy.so"

# 5. Beside a node, as installed: no option but the scenario.
if [ -z "${MT_NETNS:-}" ] && ! python3 -c 'import socket
for p in (8125, 9120):
    s = socket.socket(socket.AF_INET,
        socket.SOCK_DGRAM if p == 8125 else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", p))' 2>/dev/null; then
	echo "no network namespace and ports 8125/9120 busy: run skipped"
	echo "install: ok (without the run)"
	exit 0
fi
sandbox=""
if [ -f "$unit" ] && command -v systemd-analyze >/dev/null 2>&1 &&
    [ -x "$top_builddir/tests/sandbox_exec" ]; then
	# The unit's SystemCallFilter= lines, groups expanded.
	python3 - "$unit" "$T/allow" "$T/deny" <<'PY' || fail "syscall lists"
import subprocess, sys
def expand(name, seen):
    if not name.startswith("@"):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name],
        capture_output=True, text=True, check=True).stdout.splitlines()
    calls = set()
    for line in out[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            calls |= expand(line, seen)
    return calls
allow, deny = set(), set()
for line in open(sys.argv[1]):
    if line.startswith("SystemCallFilter="):
        v = line.split("=", 1)[1].split()
        target = deny if v[0].startswith("~") else allow
        v[0] = v[0].lstrip("~")
        for n in v:
            target |= expand(n, set())
open(sys.argv[2], "w").write("\n".join(sorted(allow)) + "\n")
open(sys.argv[3], "w").write("\n".join(sorted(deny)) + "\n")
PY
	sandbox="$top_builddir/tests/sandbox_exec $T/allow $T/deny"
	echo "run: under the unit's system call filter"
fi
"$P/bin/meshtune-simnode" --scenario congestion --speed 20 --seed 7 \
    2>"$T/sim.log" &
PIDS="$PIDS $!"
wait_for "$T/sim.log" "started" 10
# shellcheck disable=SC2086
$sandbox "$P/sbin/meshtuned" -t >"$T/out" 2>&1 ||
    fail "installed meshtuned -t: $(cat "$T/out")"
: > "$T/log"
# The unit's UMask=0077.
# shellcheck disable=SC2086
(umask 077 && exec $sandbox "$P/sbin/meshtuned" -f) 2>"$T/log" &
DPID=$!
PIDS="$PIDS $DPID"
wait_started 30
db="$P/var/lib/meshtune/audit.db"
n=0
until [ "$(sqlite3 -cmd ".timeout 5000" "$db" \
    "select count(*) from actions where status = 'applied'" 2>/dev/null)" \
    -gt 0 ] 2>/dev/null; do
	n=$((n + 1))
	[ "$n" -lt 1200 ] || fail "no action applied in 120 s"
	sleep 0.1
done
"$P/bin/meshtunectl" actions -n 5 >"$T/ctl.out" 2>&1 ||
    fail "meshtunectl on the installed defaults: $(cat "$T/ctl.out")"
grep -q "applied" "$T/ctl.out" || fail "meshtunectl actions: $(cat "$T/ctl.out")"
[ "$(stat -c %a "$P/var/lib/meshtune")" = 700 ] ||
    fail "state directory $(stat -c %a "$P/var/lib/meshtune")"
[ "$(stat -c %a "$db")" = 600 ] || fail "audit log mode $(stat -c %a "$db")"
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "installed meshtuned exited $DSTATUS"
if grep -q "Operation not permitted" "$T/log"; then
	fail "a call the unit's filter refuses: $(grep "not permitted" "$T/log" | head -3)"
fi
sqlite3 "$db" "select strategy, knob, old_value, new_value, status
    from actions where status = 'applied' limit 3"
echo "install: ok"
