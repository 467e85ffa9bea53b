#!/bin/sh
# install.sh -- make install into a DESTDIR, build an out-of-tree strategy
# against the installed header with nothing but `pkg-config --cflags
# meshtune`, and have the installed meshtuned load it and record an action.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

command -v pkg-config >/dev/null || { echo "no pkg-config: skipped"; exit 77; }
command -v sqlite3 >/dev/null || { echo "no sqlite3 shell: skipped"; exit 77; }
root="$T/root"
make -s -C "$top_builddir" install DESTDIR="$root" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "make install failed"; }
prefix=$(sed -n 's/^prefix=//p' "$top_builddir/meshtune.pc")
libdir=$(pkg-config --variable=libdir "$top_builddir/meshtune.pc")
sbin=$(find "$root" -path '*/sbin/meshtuned' -type f | head -1)
[ -x "$sbin" ] || fail "meshtuned not installed"
for f in include/meshtune/strategy.h lib/pkgconfig/meshtune.pc \
    etc/meshtune/meshtuned.conf.example share/man/man8/meshtuned.8; do
	[ -f "$root$prefix/$f" ] || fail "$prefix/$f not installed"
done
grep -q "@SYSCONFDIR@" "$root$prefix/share/man/man8/meshtuned.8" &&
    fail "installed man page still has @SYSCONFDIR@"

# The strategy an author would write: proposes net.batch_size 16 once it
# has seen net.rtt_ms.
mkdir -p "$T/src"
cat > "$T/src/mystrategy.c" <<'C'
#include <meshtune/strategy.h>

static const struct mt_host_api *host;

static int
my_init(const struct mt_host_api *h, struct mt_ctx *ctx, const char *config,
    void **statep, char *err, size_t errlen)
{
	host = h;
	*statep = (void *)0;
	return MT_OK;
}

static int
my_should_apply(void *state, struct mt_ctx *ctx)
{
	double	n;

	return host->stat(ctx, "net.rtt_ms", "count", &n) == MT_OK && n > 0;
}

static int
my_apply(void *state, struct mt_ctx *ctx)
{
	struct mt_action a = MT_ACTION_INIT;

	a.kind = MT_ACT_SET;
	a.knob = "net.batch_size";
	a.value = 16;
	a.reason = "out-of-tree strategy saw net.rtt_ms";
	return host->propose(ctx, &a);
}

static const struct mt_strategy my = {
	MT_STRATEGY_HEADER,
	.name = "mystrategy", .version = "0.1", .summary = "test",
	.init = my_init, .should_apply = my_should_apply, .apply = my_apply,
};

MT_STRATEGY_EXPORT(mystrategy)
{
	return &my;
}
C
cflags=$(PKG_CONFIG_PATH="$root$libdir/pkgconfig" \
    PKG_CONFIG_SYSROOT_DIR="$root" pkg-config --cflags meshtune)
case "$cflags" in *"$root"*) ;; *) fail "pkg-config gave '$cflags'";; esac
mkdir -m 0755 "$T/plugins"
${CC:-cc} -shared -fPIC -fvisibility=hidden $cflags \
    -o "$T/plugins/mystrategy.so" "$T/src/mystrategy.c" ||
    fail "out-of-tree strategy did not build with pkg-config --cflags only"
chmod 0755 "$T/plugins/mystrategy.so"

cat > "$T/conf" <<CONF
{ "tick_interval_ms": 100,
  "listen": { "statsd_udp": "127.0.0.1:0" },
  "audit": { "path": "$T/audit.db" },
  "plugin_dir": "$T/plugins",
  "actuators": { "log": { "type": "log" } },
  "knobs": { "net.batch_size": { "actuator": "log", "min": 1, "max": 64,
                                 "initial": 8 } },
  "strategies": [ { "name": "mine", "module": "mystrategy.so" } ] }
CONF
"$sbin" -t -c "$T/conf" | grep -q "strategy mine: mystrategy 0.1" ||
    fail "installed meshtuned -t did not load the strategy"
"$sbin" -f -c "$T/conf" 2>"$T/log" &
DPID=$!
PIDS="$PIDS $DPID"
wait_started 20
udp=$(sed -n 's/.*listening on udp 127.0.0.1:\([0-9]*\)$/\1/p' "$T/log")
python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'net.rtt_ms:12|ms\n', ('127.0.0.1', $udp))"
wait_for "$T/log" "net.batch_size = 16" 10
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "exit status $DSTATUS"
row=$(sqlite3 "$T/audit.db" "select strategy, knob, old_value, new_value,
    status from actions")
[ "$row" = "mine|net.batch_size|8.0|16.0|applied" ] || fail "audit row: $row"
echo "install: ok"
