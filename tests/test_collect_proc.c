/*
 * test_collect_proc.c -- the /proc parsers on text, and the collector on
 * fixture trees (tests/fixtures/proc), temporary trees and the real /proc.
 *
 * log_warnx and log_info are wrapped (-Wl,--wrap) so the tests can count
 * how often the collector warns.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meshtuned.h"

/*
 * Log capture.
 */
void	__wrap_log_warnx(const char *, ...) __printflike(1, 2);
void	__wrap_log_info(const char *, ...) __printflike(1, 2);

static int	nwarn, ninfo;
static char	last_warn[512], last_info[512];

void
__wrap_log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(last_warn, sizeof(last_warn), fmt, ap);
	va_end(ap);
	nwarn++;
}

void
__wrap_log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(last_info, sizeof(last_info), fmt, ap);
	va_end(ap);
	ninfo++;
}

/*
 * Sample capture.
 */
struct sample {
	char	 name[64];
	char	 tags[64];
	int	 kind;
	double	 value;
};

struct rec {
	struct sample	 s[1024];
	int		 n;
};

static void
rec_emit(const char *name, const char *tags, int kind, double value,
    void *arg)
{
	struct rec	*r = arg;

	assert_true(r->n < (int)nitems(r->s));
	assert_true(strlen(name) < sizeof(r->s[0].name));
	snprintf(r->s[r->n].name, sizeof(r->s[0].name), "%s", name);
	if (tags != NULL)
		assert_true(strlen(tags) < sizeof(r->s[0].tags));
	snprintf(r->s[r->n].tags, sizeof(r->s[0].tags), "%s",
	    tags != NULL ? tags : "");
	r->s[r->n].kind = kind;
	r->s[r->n].value = value;
	r->n++;
}

static const struct sample *
find(const struct rec *r, const char *name, const char *tags)
{
	int	 i, found = -1;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->s[i].name, name) == 0 &&
		    strcmp(r->s[i].tags, tags != NULL ? tags : "") == 0) {
			assert_int_equal(found, -1);	/* one per round */
			found = i;
		}
	return found == -1 ? NULL : &r->s[found];
}

static int
count_prefix(const struct rec *r, const char *prefix)
{
	int	 i, n = 0;

	for (i = 0; i < r->n; i++)
		if (strncmp(r->s[i].name, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

static void
expect(const struct rec *r, const char *name, const char *tags, int kind,
    double value)
{
	const struct sample	*s;

	s = find(r, name, tags);
	if (s == NULL)
		fail_msg("no sample %s{%s}", name, tags != NULL ? tags : "");
	assert_int_equal(s->kind, kind);
	if (fabs(s->value - value) > 1e-9 * fmax(1.0, fabs(value)))
		fail_msg("%s{%s} = %.9g, expected %.9g", name,
		    tags != NULL ? tags : "", s->value, value);
}

static int
round_of(struct proc_collector *pc, uint64_t now_ms, struct rec *r)
{
	int	 n;

	r->n = 0;
	n = proc_collect(pc, now_ms, rec_emit, r);
	assert_int_equal(n, r->n);
	return n;
}

/*
 * Paths, temporary trees.
 */
static void
fixture(char *buf, size_t size, const char *rel)
{
	const char	*top = getenv("top_srcdir");
	int		 n;

	if (top == NULL)
		top = ".";
	n = snprintf(buf, size, "%s/tests/fixtures/proc/%s", top, rel);
	assert_true(n > 0 && (size_t)n < size);
}

struct tmp {
	char	 dir[64];
	char	 root[PATH_MAX];	/* dir/root: symlink or directory */
	char	 pidfile[PATH_MAX];	/* dir/node.pid */
};

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
tmp_setup(void **state)
{
	struct tmp	*t;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/mt-test-proc-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->root, sizeof(t->root), "%s/root", t->dir);
	snprintf(t->pidfile, sizeof(t->pidfile), "%s/node.pid", t->dir);
	nwarn = ninfo = 0;
	last_warn[0] = last_info[0] = '\0';
	*state = t;
	return 0;
}

static int
tmp_teardown(void **state)
{
	struct tmp	*t = *state;
	int		 rc;

	rc = nftw(t->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return rc;
}

/* Point dir/root at a fixture tree. */
static void
link_root(struct tmp *t, const char *tree)
{
	char	 target[PATH_MAX];

	fixture(target, sizeof(target), tree);
	if (unlink(t->root) == -1)
		assert_int_equal(errno, ENOENT);
	assert_int_equal(symlink(target, t->root), 0);
}

/* Write root-relative (or absolute) file, making parent directories. */
static void
write_file(const struct tmp *t, const char *rel, const char *text)
{
	char	 path[PATH_MAX], *p;
	FILE	*f;
	int	 n;

	if (rel[0] == '/')
		n = snprintf(path, sizeof(path), "%s", rel);
	else
		n = snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	for (p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) == -1)
			assert_int_equal(errno, EEXIST);
		*p = '/';
	}
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
write_pid(const struct tmp *t, int pid)
{
	char	 buf[32];

	snprintf(buf, sizeof(buf), "%d\n", pid);
	write_file(t, t->pidfile, buf);
}

/* A /proc/PID/stat line with the fields the collector reads. */
static void
write_pid_stat(const struct tmp *t, int pid, char state, unsigned utime,
    unsigned stime, unsigned start)
{
	char	 rel[64], line[512];

	snprintf(rel, sizeof(rel), "%d/stat", pid);
	snprintf(line, sizeof(line), "%d (node) %c 1 %d %d 0 -1 0 0 0 0 0 "
	    "%u %u 0 0 20 0 4 0 %u 1000 100 0 0 0 0\n", pid, state, pid, pid,
	    utime, stime, start);
	write_file(t, rel, line);
}

static void
write_pid_status(const struct tmp *t, int pid, unsigned vol,
    unsigned nonvol)
{
	char	 rel[64], text[512];

	snprintf(rel, sizeof(rel), "%d/status", pid);
	snprintf(text, sizeof(text), "Name:\tnode\nVmRSS:\t  1024 kB\n"
	    "Threads:\t4\nvoluntary_ctxt_switches:\t%u\n"
	    "nonvoluntary_ctxt_switches:\t%u\n", vol, nonvol);
	write_file(t, rel, text);
}

static double
hz(void)
{
	long	 v = sysconf(_SC_CLK_TCK);

	assert_true(v > 0);
	return (double)v;
}

/*
 * Parsers.
 */
static void
test_parse_pidfile(void **state)
{
	pid_t	 pid = 0;

	assert_int_equal(proc_parse_pidfile("4242\n", &pid), 0);
	assert_int_equal(pid, 4242);
	assert_int_equal(proc_parse_pidfile("  17 \r\n", &pid), 0);
	assert_int_equal(pid, 17);
	assert_int_equal(proc_parse_pidfile("2147483647", &pid), 0);
	assert_int_equal(pid, 2147483647);
	pid = 5;
	assert_int_equal(proc_parse_pidfile("", &pid), -1);
	assert_int_equal(proc_parse_pidfile("\n", &pid), -1);
	assert_int_equal(proc_parse_pidfile("0\n", &pid), -1);
	assert_int_equal(proc_parse_pidfile("-5\n", &pid), -1);
	assert_int_equal(proc_parse_pidfile("42x\n", &pid), -1);
	assert_int_equal(proc_parse_pidfile("12 13\n", &pid), -1);
	assert_int_equal(proc_parse_pidfile("2147483648", &pid), -1);
	assert_int_equal(proc_parse_pidfile("99999999999999999999999", &pid),
	    -1);
	assert_int_equal(pid, 5);
}

static void
test_parse_pid_stat(void **state)
{
	struct proc_pid_stat	 st;
	const char		*line = "4242 (mesh (node) x) S 1 4242 "
	    "4242 0 -1 4194560 100 0 0 0 1000 500 0 0 20 0 17 0 777 "
	    "123456789 51200 "
	    "18446744073709551615 1 1 0\n";

	assert_int_equal(proc_parse_pid_stat(line, &st), 0);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.utime, 1000);
	assert_int_equal(st.stime, 500);
	assert_int_equal(st.starttime, 777);

	/* a command name of ") (" and a zombie */
	assert_int_equal(proc_parse_pid_stat("9 () () Z 1 9 9 0 -1 0 0 0 0 "
	    "0 18446744073709551615 2 0 0 20 0 1 0 55\n", &st), 0);
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.utime, UINT64_MAX);
	assert_int_equal(st.stime, 2);
	assert_int_equal(st.starttime, 55);

	/* truncated, missing parentheses, bad numbers, overflow */
	assert_int_equal(proc_parse_pid_stat("4242 (mesh) S 1 4242 4242 0 -1 "
	    "4194560 100 0 0 0 10", &st), -1);
	assert_int_equal(proc_parse_pid_stat("4242 (mesh) S 1 4242 4242 0 -1 "
	    "0 0 0 0 0 1000 500 0 0 20 0 17 0 77", &st), -1);
	assert_int_equal(proc_parse_pid_stat("4242 mesh S 1 4242 4242 0 -1 "
	    "0 0 0 0 0 1000 500 0 0 20 0 17 0 777\n", &st), -1);
	assert_int_equal(proc_parse_pid_stat("4242 (mesh) S 1 4242 4242 0 -1 "
	    "0 0 0 0 0 1x00 500 0 0 20 0 17 0 777\n", &st), -1);
	assert_int_equal(proc_parse_pid_stat("4242 (mesh) S 1 4242 4242 0 -1 "
	    "0 0 0 0 0 -10 500 0 0 20 0 17 0 777\n", &st), -1);
	assert_int_equal(proc_parse_pid_stat("4242 (mesh) S 1 4242 4242 0 -1 "
	    "0 0 0 0 0 18446744073709551616 500 0 0 20 0 17 0 777\n", &st),
	    -1);
	assert_int_equal(proc_parse_pid_stat("4242 (mesh) S 1 4242 4242 0 -1 "
	    "0 0 0 0 0 1 500  0 0 20 0 17 0 777\n", &st), -1);
	assert_int_equal(proc_parse_pid_stat("4242 (mesh)", &st), -1);
	assert_int_equal(proc_parse_pid_stat("4242 (mesh) ", &st), -1);
	assert_int_equal(proc_parse_pid_stat("", &st), -1);
}

static void
test_parse_pid_status(void **state)
{
	struct proc_pid_status	 ss;

	assert_int_equal(proc_parse_pid_status("Name:\tx\nVmRSS:\t  204800 "
	    "kB\nThreads:\t17\nvoluntary_ctxt_switches:\t1000\n"
	    "nonvoluntary_ctxt_switches:\t200\n", &ss), 0);
	assert_true(ss.have_rss && ss.have_threads && ss.have_ctxsw);
	assert_int_equal(ss.rss_kb, 204800);
	assert_int_equal(ss.threads, 17);
	assert_int_equal(ss.ctxsw, 1200);

	/* a zombie has no VmRSS; an old kernel no ctxt switches */
	assert_int_equal(proc_parse_pid_status("Name:\tx\nThreads:\t1\n",
	    &ss), 0);
	assert_false(ss.have_rss);
	assert_false(ss.have_ctxsw);
	assert_true(ss.have_threads);
	assert_int_equal(ss.threads, 1);

	/* only one of the two context switch lines: not reported */
	assert_int_equal(proc_parse_pid_status("Threads:\t2\n"
	    "voluntary_ctxt_switches:\t5\n", &ss), 0);
	assert_false(ss.have_ctxsw);

	/* malformed values, no known key, a cut last line */
	assert_int_equal(proc_parse_pid_status("VmRSS:\t lots kB\n", &ss), -1);
	assert_int_equal(proc_parse_pid_status("VmRSS:\t 12 MB\n", &ss), -1);
	assert_int_equal(proc_parse_pid_status("Threads:\t-1\n", &ss), -1);
	assert_int_equal(proc_parse_pid_status("Threads:\t3 4\n", &ss), -1);
	assert_int_equal(proc_parse_pid_status("Name:\tx\n", &ss), -1);
	assert_int_equal(proc_parse_pid_status("", &ss), -1);
	assert_int_equal(proc_parse_pid_status("Threads:\t3\nVmRSS:\t 12",
	    &ss), 0);
	assert_false(ss.have_rss);
	assert_int_equal(ss.threads, 3);
	assert_int_equal(proc_parse_pid_status("Threads:\t3", &ss), -1);
}

static void
test_parse_statm(void **state)
{
	uint64_t	 pages = 0;

	assert_int_equal(proc_parse_statm_rss("220000 51200 3000 100 0 "
	    "60000 0\n", &pages), 0);
	assert_int_equal(pages, 51200);
	assert_int_equal(proc_parse_statm_rss("garbage\n", &pages), -1);
	assert_int_equal(proc_parse_statm_rss("1\n", &pages), -1);
	assert_int_equal(proc_parse_statm_rss("1 2", &pages), -1);
	assert_int_equal(proc_parse_statm_rss("1 2x 3\n", &pages), -1);
}

static void
test_parse_stat_cpu(void **state)
{
	struct proc_cpu_times	 ct;

	/* guest and guest_nice are already in user and nice */
	assert_int_equal(proc_parse_stat_cpu("cpu  1000 10 500 8000 500 "
	    "3 4 5 50 7\ncpu0 1 2 3 4\n", &ct), 0);
	assert_int_equal(ct.total, 1000 + 10 + 500 + 8000 + 500 + 3 + 4 + 5);
	assert_int_equal(ct.idle, 8500);
	/* a 2.4 kernel: four fields */
	assert_int_equal(proc_parse_stat_cpu("cpu 1 2 3 4\n", &ct), 0);
	assert_int_equal(ct.total, 10);
	assert_int_equal(ct.idle, 4);

	assert_int_equal(proc_parse_stat_cpu("cpu  1 2\n", &ct), -1);
	assert_int_equal(proc_parse_stat_cpu("cpu0 1 2 3 4\n", &ct), -1);
	assert_int_equal(proc_parse_stat_cpu("cpu  1 2 3 4", &ct), -1);
	assert_int_equal(proc_parse_stat_cpu("cpu  1 2 x 4\n", &ct), -1);
	assert_int_equal(proc_parse_stat_cpu("cpu  18446744073709551615 1 1 "
	    "1\n", &ct), -1);
	assert_int_equal(proc_parse_stat_cpu("intr 1\ncpu 1 2 3 4\n", &ct),
	    -1);
	assert_int_equal(proc_parse_stat_cpu("", &ct), -1);
}

static void
test_parse_meminfo(void **state)
{
	uint64_t	 kb = 0;

	assert_int_equal(proc_parse_meminfo_avail("MemTotal:  4096000 kB\n"
	    "MemFree:  500000 kB\nMemAvailable:    1048576 kB\n", &kb), 0);
	assert_int_equal(kb, 1048576);
	assert_int_equal(proc_parse_meminfo_avail("MemTotal:  4096000 kB\n",
	    &kb), -1);
	assert_int_equal(proc_parse_meminfo_avail("MemAvailable: 12 MB\n",
	    &kb), -1);
	assert_int_equal(proc_parse_meminfo_avail("MemAvailable: 12 kB",
	    &kb), -1);
	assert_int_equal(proc_parse_meminfo_avail("MemAvailable: kB\n", &kb),
	    -1);
}

#define NETDEV_HDR \
	"Inter-|   Receive                                                |" \
	"  Transmit\n face |bytes    packets errs drop fifo frame compressed " \
	"multicast|bytes    packets errs drop fifo colls carrier compressed\n"

static void
test_parse_netdev(void **state)
{
	struct proc_netdev	 ifs[4];
	size_t			 n;

	/* a value glued to the colon, as older kernels print big ones */
	assert_int_equal(proc_parse_netdev(NETDEV_HDR
	    "    lo:    3267      29    0    0    0     0          0         0"
	    "     3268      30    0    0    0     0       0          0\n"
	    "  eth0:19680309     468    1    2    0     0          0         0"
	    "    28094     337    0    3    0     0       0          0\n",
	    ifs, nitems(ifs), &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ifs[0].name, "lo");
	assert_int_equal(ifs[0].rx_bytes, 3267);
	assert_int_equal(ifs[0].rx_packets, 29);
	assert_int_equal(ifs[0].tx_bytes, 3268);
	assert_int_equal(ifs[0].tx_packets, 30);
	assert_string_equal(ifs[1].name, "eth0");
	assert_int_equal(ifs[1].rx_bytes, 19680309);
	assert_int_equal(ifs[1].rx_drops, 2);
	assert_int_equal(ifs[1].tx_bytes, 28094);
	assert_int_equal(ifs[1].tx_packets, 337);
	assert_int_equal(ifs[1].tx_drops, 3);

	/* the cap: two lines, room for one */
	assert_int_equal(proc_parse_netdev(NETDEV_HDR
	    "a: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	    "b: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", ifs, 1, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(ifs[0].name, "a");
	assert_int_equal(ifs[0].tx_drops, 12);

	/* bad lines are skipped, good ones kept */
	assert_int_equal(proc_parse_netdev(NETDEV_HDR
	    "  junk\n"
	    "  eth0: 1 2 3\n"
	    " : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	    "waytoolonginterfacename: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	    "a: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"
	    "b: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 -16\n"
	    "ok: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	    "ok: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	    "cut: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", ifs, nitems(ifs),
	    &n), 8);
	assert_int_equal(n, 1);
	assert_string_equal(ifs[0].name, "ok");

	/* not a net/dev file */
	assert_int_equal(proc_parse_netdev("lo: 1 2 3\n", ifs, nitems(ifs),
	    &n), -1);
	assert_int_equal(proc_parse_netdev("Inter-| x\n", ifs, nitems(ifs),
	    &n), -1);
	assert_int_equal(proc_parse_netdev("Inter-| x\nface\n"
	    "a|: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", ifs, nitems(ifs),
	    &n), -1);
	assert_int_equal(proc_parse_netdev("", ifs, nitems(ifs), &n), -1);
	assert_int_equal(n, 0);
	/* a header alone: no interfaces */
	assert_int_equal(proc_parse_netdev(NETDEV_HDR, ifs, nitems(ifs), &n),
	    0);
	assert_int_equal(n, 0);
}

static void
test_parse_snmp(void **state)
{
	uint64_t	 v = 0;

	assert_int_equal(proc_parse_snmp_retrans("Ip: Forwarding DefaultTTL\n"
	    "Ip: 1 64\nTcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens "
	    "PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs "
	    "RetransSegs InErrs OutRsts InCsumErrors\nTcp: 1 200 120000 -1 13 "
	    "2 0 0 0 468 330 107 0 2 0\nUdp: InDatagrams\nUdp: 10\n", &v), 0);
	assert_int_equal(v, 107);
	/* the column is looked up, not assumed */
	assert_int_equal(proc_parse_snmp_retrans("Tcp: RetransSegs MaxConn\n"
	    "Tcp: 9 -1\n", &v), 0);
	assert_int_equal(v, 9);

	assert_int_equal(proc_parse_snmp_retrans("Tcp: RtoAlgorithm "
	    "RetransSegs\nTcp: 1\n", &v), -1);
	assert_int_equal(proc_parse_snmp_retrans("Tcp: RtoAlgorithm "
	    "RetransSegs\n", &v), -1);
	assert_int_equal(proc_parse_snmp_retrans("Tcp: RtoAlgorithm InErrs\n"
	    "Tcp: 1 2\n", &v), -1);
	assert_int_equal(proc_parse_snmp_retrans("Tcp: RetransSegs\n"
	    "Tcp: -3\n", &v), -1);
	assert_int_equal(proc_parse_snmp_retrans("Tcp: RetransSegs\n"
	    "Tcp: 3", &v), -1);
	assert_int_equal(proc_parse_snmp_retrans("Udp: RetransSegs\n"
	    "Udp: 3\n", &v), -1);
	assert_int_equal(proc_parse_snmp_retrans("", &v), -1);
	assert_int_equal(v, 9);
}

static void
test_parse_psi(void **state)
{
	double	 v = -1;

	assert_int_equal(proc_parse_psi_some_avg10("some avg10=1.50 avg60=0.50 "
	    "avg300=0.25 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 "
	    "total=0\n", &v), 0);
	assert_true(v == 1.5);
	/* the cpu file of kernels before 5.13 has no "full" line */
	assert_int_equal(proc_parse_psi_some_avg10("some avg10=100.00 "
	    "avg60=0.50 avg300=0.25 total=1\n", &v), 0);
	assert_true(v == 100.0);
	assert_int_equal(proc_parse_psi_some_avg10("some avg10=0.00 "
	    "avg60=0.50 avg300=0.25 total=1\n", &v), 0);
	assert_true(v == 0.0);

	assert_int_equal(proc_parse_psi_some_avg10("some avg10=100.01 "
	    "avg60=0 avg300=0 total=1\n", &v), -1);
	assert_int_equal(proc_parse_psi_some_avg10("some avg10=abc avg60=0\n",
	    &v), -1);
	assert_int_equal(proc_parse_psi_some_avg10("some avg10=nan avg60=0\n",
	    &v), -1);
	assert_int_equal(proc_parse_psi_some_avg10("some avg10=-1 avg60=0\n",
	    &v), -1);
	assert_int_equal(proc_parse_psi_some_avg10("some avg10=1.5x avg60=0\n",
	    &v), -1);
	assert_int_equal(proc_parse_psi_some_avg10("some avg10=1e999 "
	    "avg60=0\n", &v), -1);
	assert_int_equal(proc_parse_psi_some_avg10("full avg10=1.00 avg60=0\n",
	    &v), -1);
	assert_int_equal(proc_parse_psi_some_avg10("some avg60=1.0 "
	    "avg10=2.0\n", &v), -1);
	assert_int_equal(proc_parse_psi_some_avg10("some avg10=1.50", &v), -1);
	assert_int_equal(proc_parse_psi_some_avg10("", &v), -1);
	assert_true(v == 0.0);
}

/*
 * The collector on fixture trees.
 */

/* round1 -> round2 -> round2: exact values, deltas and rates. */
static void
test_collect_rounds(void **state)
{
	struct tmp		*t = *state;
	struct proc_collector	*pc;
	struct rec		*r;
	char			 pidfile[PATH_MAX];

	assert_non_null(r = calloc(1, sizeof(*r)));
	fixture(pidfile, sizeof(pidfile), "node.pid");
	link_root(t, "round1");
	pc = proc_collector_new(t->root, pidfile);

	/* first round: levels only, no rates, no counters */
	assert_int_equal(round_of(pc, 10000, r), 7);
	expect(r, "proc.rss_mb", NULL, PROC_GAUGE, 200.0);
	expect(r, "proc.threads", NULL, PROC_GAUGE, 17);
	expect(r, "proc.fds", NULL, PROC_GAUGE, 5);
	expect(r, "host.mem_avail_mb", NULL, PROC_GAUGE, 1024.0);
	expect(r, "host.psi_cpu_pct", NULL, PROC_GAUGE, 1.5);
	expect(r, "host.psi_mem_pct", NULL, PROC_GAUGE, 0.0);
	expect(r, "host.psi_io_pct", NULL, PROC_GAUGE, 3.75);
	assert_null(find(r, "proc.cpu_pct", NULL));
	assert_null(find(r, "host.cpu_pct", NULL));
	assert_int_equal(count_prefix(r, "net."), 0);
	assert_int_equal(count_prefix(r, "tcp."), 0);
	assert_int_equal(nwarn, 0);
	assert_int_equal(ninfo, 1);
	assert_non_null(strstr(last_info, "4242"));

	/* second round, one second later */
	link_root(t, "round2");
	assert_int_equal(round_of(pc, 11000, r), 23);
	/* (1040+510) - (1000+500) = 50 ticks in 1 s */
	expect(r, "proc.cpu_pct", NULL, PROC_GAUGE, 50.0 * 100.0 / hz());
	expect(r, "proc.ctxsw", NULL, PROC_GAUGE, 300.0);
	expect(r, "proc.rss_mb", NULL, PROC_GAUGE, 205.0);
	expect(r, "proc.threads", NULL, PROC_GAUGE, 18);
	expect(r, "proc.fds", NULL, PROC_GAUGE, 7);
	/* total 10000 -> 10500 (guest excluded), idle 8500 -> 8850 */
	expect(r, "host.cpu_pct", NULL, PROC_GAUGE, 30.0);
	expect(r, "host.mem_avail_mb", NULL, PROC_GAUGE, 1000.0);
	expect(r, "host.psi_cpu_pct", NULL, PROC_GAUGE, 2.25);
	expect(r, "host.psi_mem_pct", NULL, PROC_GAUGE, 10.5);
	expect(r, "host.psi_io_pct", NULL, PROC_GAUGE, 0.0);
	expect(r, "net.if.rx_bytes", "iface=lo", PROC_COUNTER, 500);
	expect(r, "net.if.tx_bytes", "iface=lo", PROC_COUNTER, 500);
	expect(r, "net.if.rx_packets", "iface=lo", PROC_COUNTER, 5);
	expect(r, "net.if.tx_packets", "iface=lo", PROC_COUNTER, 5);
	expect(r, "net.if.rx_drops", "iface=lo", PROC_COUNTER, 0);
	expect(r, "net.if.tx_drops", "iface=lo", PROC_COUNTER, 0);
	expect(r, "net.if.rx_bytes", "iface=eth0", PROC_COUNTER, 100000);
	expect(r, "net.if.tx_bytes", "iface=eth0", PROC_COUNTER, 60000);
	expect(r, "net.if.rx_packets", "iface=eth0", PROC_COUNTER, 80);
	expect(r, "net.if.tx_packets", "iface=eth0", PROC_COUNTER, 50);
	expect(r, "net.if.rx_drops", "iface=eth0", PROC_COUNTER, 3);
	expect(r, "net.if.tx_drops", "iface=eth0", PROC_COUNTER, 0);
	expect(r, "tcp.retransmits", NULL, PROC_COUNTER, 7);

	/* the same readings 500 ms later: zero rates and deltas */
	assert_int_equal(round_of(pc, 11500, r), 22);
	expect(r, "proc.cpu_pct", NULL, PROC_GAUGE, 0.0);
	expect(r, "proc.ctxsw", NULL, PROC_GAUGE, 0.0);
	expect(r, "net.if.rx_bytes", "iface=eth0", PROC_COUNTER, 0);
	expect(r, "tcp.retransmits", NULL, PROC_COUNTER, 0);
	assert_null(find(r, "host.cpu_pct", NULL));	/* no ticks passed */

	/* back to round1 two seconds later: every counter went back */
	link_root(t, "round1");
	assert_int_equal(round_of(pc, 13500, r), 7);
	assert_int_equal(count_prefix(r, "net."), 0);
	assert_null(find(r, "tcp.retransmits", NULL));
	assert_null(find(r, "proc.cpu_pct", NULL));
	assert_null(find(r, "host.cpu_pct", NULL));
	/* ... and round2 after that measures from the new baseline */
	link_root(t, "round2");
	assert_int_equal(round_of(pc, 15500, r), 23);
	expect(r, "proc.cpu_pct", NULL, PROC_GAUGE, 50.0 * 100.0 / hz() / 2);
	expect(r, "proc.ctxsw", NULL, PROC_GAUGE, 150.0);
	expect(r, "tcp.retransmits", NULL, PROC_COUNTER, 7);
	assert_int_equal(nwarn, 0);
	assert_int_equal(ninfo, 1);

	proc_collector_free(pc);
	free(r);
}

/* A kernel without PSI: the pressure samples are simply absent. */
static void
test_collect_nopsi(void **state)
{
	struct proc_collector	*pc;
	struct rec		*r;
	char			 root[PATH_MAX], pidfile[PATH_MAX];
	int			 i;

	assert_non_null(r = calloc(1, sizeof(*r)));
	fixture(root, sizeof(root), "nopsi");
	fixture(pidfile, sizeof(pidfile), "node.pid");
	pc = proc_collector_new(root, pidfile);
	for (i = 0; i < 3; i++) {
		assert_int_equal(round_of(pc, 1000 + 1000 * i, r),
		    i == 0 ? 4 : 19);
		assert_int_equal(count_prefix(r, "host.psi"), 0);
		expect(r, "host.mem_avail_mb", NULL, PROC_GAUGE, 1024.0);
		expect(r, "proc.threads", NULL, PROC_GAUGE, 17);
	}
	assert_int_equal(nwarn, 0);
	proc_collector_free(pc);
	free(r);
}

/* A stale pid file: warned once, host metrics go on. */
static void
test_collect_stale(void **state)
{
	struct proc_collector	*pc;
	struct rec		*r;
	char			 root[PATH_MAX], pidfile[PATH_MAX];
	int			 i;

	assert_non_null(r = calloc(1, sizeof(*r)));
	fixture(root, sizeof(root), "round1");
	fixture(pidfile, sizeof(pidfile), "stale.pid");
	pc = proc_collector_new(root, pidfile);
	for (i = 0; i < 3; i++) {
		assert_int_equal(round_of(pc, 1000 + 1000 * i, r),
		    i == 0 ? 4 : 17);
		assert_int_equal(count_prefix(r, "proc."), 0);
		expect(r, "host.mem_avail_mb", NULL, PROC_GAUGE, 1024.0);
		expect(r, "host.psi_io_pct", NULL, PROC_GAUGE, 3.75);
		assert_null(find(r, "host.cpu_pct", NULL));  /* no ticks */
	}
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "31337"));
	assert_non_null(strstr(last_warn, "not running"));
	assert_int_equal(ninfo, 0);
	proc_collector_free(pc);

	/* a pid file without a pid */
	nwarn = 0;
	fixture(pidfile, sizeof(pidfile), "bad.pid");
	pc = proc_collector_new(root, pidfile);
	assert_int_equal(round_of(pc, 1000, r), 4);
	assert_int_equal(round_of(pc, 2000, r), 4 + 13);
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "no valid pid"));
	proc_collector_free(pc);
	free(r);
}

/* Malformed and truncated files: skipped, the good parts kept. */
static void
test_collect_malformed(void **state)
{
	struct proc_collector	*pc;
	struct rec		*r;
	char			 root[PATH_MAX], pidfile[PATH_MAX];

	assert_non_null(r = calloc(1, sizeof(*r)));
	fixture(root, sizeof(root), "malformed");
	fixture(pidfile, sizeof(pidfile), "node.pid");
	pc = proc_collector_new(root, pidfile);
	assert_int_equal(round_of(pc, 1000, r), 0);
	/* the node is alive (its directory exists) but has no fd dir */
	assert_int_equal(ninfo, 1);
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "fds"));
	/* only lo, the one good net/dev line, gives deltas */
	assert_int_equal(round_of(pc, 2000, r), 6);
	assert_int_equal(count_prefix(r, "net.if."), 6);
	expect(r, "net.if.rx_bytes", "iface=lo", PROC_COUNTER, 0);
	expect(r, "net.if.tx_drops", "iface=lo", PROC_COUNTER, 0);
	assert_int_equal(nwarn, 1);
	proc_collector_free(pc);
	free(r);
}

/*
 * The collector on temporary trees.
 */

/* Pid file missing, present, stale, ...: one log line per change. */
static void
test_collect_log_once(void **state)
{
	struct tmp		*t = *state;
	struct proc_collector	*pc;
	struct rec		*r;
	uint64_t		 now = 1000;

	assert_non_null(r = calloc(1, sizeof(*r)));
	link_root(t, "round1");
	pc = proc_collector_new(t->root, t->pidfile);

	round_of(pc, now += 1000, r);
	round_of(pc, now += 1000, r);
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "node.pid"));
	assert_int_equal(count_prefix(r, "proc."), 0);
	expect(r, "host.mem_avail_mb", NULL, PROC_GAUGE, 1024.0);

	write_pid(t, 4242);
	round_of(pc, now += 1000, r);
	assert_int_equal(ninfo, 1);
	expect(r, "proc.threads", NULL, PROC_GAUGE, 17);
	round_of(pc, now += 1000, r);
	expect(r, "proc.cpu_pct", NULL, PROC_GAUGE, 0.0);
	assert_int_equal(ninfo, 1);

	assert_int_equal(unlink(t->pidfile), 0);
	round_of(pc, now += 1000, r);
	round_of(pc, now += 1000, r);
	assert_int_equal(nwarn, 2);
	assert_int_equal(count_prefix(r, "proc."), 0);

	write_pid(t, 31337);
	round_of(pc, now += 1000, r);
	round_of(pc, now += 1000, r);
	assert_int_equal(nwarn, 3);
	write_pid(t, 31338);		/* another dead pid is a change */
	round_of(pc, now += 1000, r);
	round_of(pc, now += 1000, r);
	assert_int_equal(nwarn, 4);
	assert_non_null(strstr(last_warn, "31338"));

	write_pid(t, 4242);
	round_of(pc, now += 1000, r);
	assert_int_equal(ninfo, 2);
	/* no stale baseline from before the gap */
	assert_null(find(r, "proc.cpu_pct", NULL));
	assert_null(find(r, "proc.ctxsw", NULL));
	round_of(pc, now += 1000, r);
	expect(r, "proc.cpu_pct", NULL, PROC_GAUGE, 0.0);
	assert_int_equal(nwarn, 4);
	assert_int_equal(ninfo, 2);

	proc_collector_free(pc);
	free(r);
}

/* A restart under the same pid (new starttime) or a new pid. */
static void
test_collect_restart(void **state)
{
	struct tmp		*t = *state;
	struct proc_collector	*pc;
	struct rec		*r;

	assert_non_null(r = calloc(1, sizeof(*r)));
	/* a tree with only the node: host files missing are no error */
	write_pid(t, 100);
	write_pid_stat(t, 100, 'S', 100, 0, 500);
	write_pid_status(t, 100, 10, 0);
	write_file(t, "100/fd/0", "");
	pc = proc_collector_new(t->root, t->pidfile);

	assert_int_equal(round_of(pc, 1000, r), 3);
	expect(r, "proc.rss_mb", NULL, PROC_GAUGE, 1.0);
	expect(r, "proc.threads", NULL, PROC_GAUGE, 4);
	expect(r, "proc.fds", NULL, PROC_GAUGE, 1);

	/* same pid, started again: no rate across the restart */
	write_pid_stat(t, 100, 'S', 150, 0, 900);
	write_pid_status(t, 100, 5, 0);
	assert_int_equal(round_of(pc, 2000, r), 3);
	assert_null(find(r, "proc.cpu_pct", NULL));
	assert_null(find(r, "proc.ctxsw", NULL));

	write_pid_stat(t, 100, 'R', 160, 10, 900);
	write_pid_status(t, 100, 25, 5);
	assert_int_equal(round_of(pc, 4000, r), 5);
	expect(r, "proc.cpu_pct", NULL, PROC_GAUGE, 20.0 * 100.0 / hz() / 2);
	expect(r, "proc.ctxsw", NULL, PROC_GAUGE, 12.5);

	/* a new pid */
	write_pid(t, 101);
	write_pid_stat(t, 101, 'S', 170, 10, 900);
	write_pid_status(t, 101, 30, 5);
	assert_int_equal(round_of(pc, 5000, r), 2);	/* no fd dir */
	assert_null(find(r, "proc.cpu_pct", NULL));
	assert_int_equal(ninfo, 2);
	assert_non_null(strstr(last_info, "restarted"));
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "fds"));

	/* a zombie counts as dead */
	write_pid_stat(t, 101, 'Z', 170, 10, 900);
	assert_int_equal(round_of(pc, 6000, r), 0);
	assert_int_equal(nwarn, 2);
	assert_non_null(strstr(last_warn, "zombie"));

	/* the fd warning is once per node, not once per collector */
	write_pid(t, 102);
	write_pid_stat(t, 102, 'S', 1, 1, 1000);
	write_pid_status(t, 102, 1, 1);
	assert_int_equal(round_of(pc, 7000, r), 2);
	assert_int_equal(round_of(pc, 8000, r), 4);
	expect(r, "proc.cpu_pct", NULL, PROC_GAUGE, 0.0);
	assert_int_equal(nwarn, 3);
	assert_non_null(strstr(last_warn, "fds of node pid 102"));

	proc_collector_free(pc);
	free(r);
}

/* More interfaces than the cap; interfaces that come and go. */
static void
test_collect_iface_cap(void **state)
{
	struct tmp		*t = *state;
	struct proc_collector	*pc;
	struct rec		*r;
	char			*text;
	size_t			 size = 200 * 128, len;
	int			 i, round;

	assert_non_null(r = calloc(1, sizeof(*r)));
	assert_non_null(text = malloc(size));
	pc = proc_collector_new(t->root, NULL);
	for (round = 0; round < 4; round++) {
		len = (size_t)snprintf(text, size, "%s", NETDEV_HDR);
		for (i = 0; i < 100; i++) {
			if (round >= 2 && i == 0)
				continue;	/* if0 went away */
			if (round == 3 && i == 1) {
				/* if1 recreated: its counters restart */
				len += (size_t)snprintf(text + len, size - len,
				    "if1: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
				continue;
			}
			len += (size_t)snprintf(text + len, size - len,
			    "if%d: %d 10 0 0 0 0 0 0 %d 20 0 0 0 0 0 0\n", i,
			    1000 * (round + 1), 2000 * (round + 1));
			assert_true(len < size);
		}
		write_file(t, "net/dev", text);
		round_of(pc, 1000 * (uint64_t)(round + 1), r);
		switch (round) {
		case 0:
			assert_int_equal(r->n, 0);
			break;
		case 1:
			assert_int_equal(r->n, 64 * 6);
			expect(r, "net.if.rx_bytes", "iface=if0", PROC_COUNTER,
			    1000);
			expect(r, "net.if.tx_bytes", "iface=if63",
			    PROC_COUNTER, 2000);
			assert_null(find(r, "net.if.rx_bytes", "iface=if64"));
			break;
		case 2:
			/* if64 moves into the table: a baseline first */
			assert_int_equal(r->n, 63 * 6);
			assert_null(find(r, "net.if.rx_bytes", "iface=if0"));
			assert_null(find(r, "net.if.rx_bytes", "iface=if64"));
			break;
		case 3:
			assert_int_equal(r->n, 63 * 6);
			assert_null(find(r, "net.if.rx_bytes", "iface=if1"));
			expect(r, "net.if.rx_bytes", "iface=if64",
			    PROC_COUNTER, 1000);
			break;
		}
		for (i = 0; i < r->n; i++) {
			assert_int_equal(r->s[i].kind, PROC_COUNTER);
			assert_int_equal(strncmp(r->s[i].tags, "iface=if", 8),
			    0);
		}
	}
	assert_int_equal(ninfo, 1);	/* "more than 64 interfaces", once */

	/* odd characters in a name are made safe for the tag */
	write_file(t, "net/dev", NETDEV_HDR
	    "we,i=rd: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
	round_of(pc, 10000, r);
	write_file(t, "net/dev", NETDEV_HDR
	    "we,i=rd: 2 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
	round_of(pc, 11000, r);
	expect(r, "net.if.rx_bytes", "iface=we_i_rd", PROC_COUNTER, 1);

	proc_collector_free(pc);
	free(text);
	free(r);
}

/* A missing root, a FIFO, an over-long path: nothing emitted or hung. */
static void
test_collect_missing_root(void **state)
{
	struct tmp		*t = *state;
	struct proc_collector	*pc;
	struct rec		*r;
	char			*longroot;

	assert_non_null(r = calloc(1, sizeof(*r)));
	pc = proc_collector_new("/nonexistent/proc", "/nonexistent/pid");
	assert_int_equal(round_of(pc, 1000, r), 0);
	assert_int_equal(round_of(pc, 2000, r), 0);
	assert_int_equal(nwarn, 1);
	proc_collector_free(pc);

	/* a FIFO as pid file: no hang, just a bad pid file */
	nwarn = 0;
	assert_int_equal(mkfifo(t->pidfile, 0600), 0);
	pc = proc_collector_new("/nonexistent/proc", t->pidfile);
	assert_int_equal(round_of(pc, 1000, r), 0);
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "no valid pid"));
	proc_collector_free(pc);

	assert_non_null(longroot = malloc(PATH_MAX + 10));
	memset(longroot, 'a', PATH_MAX + 9);
	longroot[0] = '/';
	longroot[PATH_MAX + 9] = '\0';
	pc = proc_collector_new(longroot, NULL);
	assert_int_equal(round_of(pc, 1000, r), 0);
	proc_collector_free(pc);
	proc_collector_free(NULL);
	free(longroot);
	free(r);
}

/*
 * The real /proc, with this process as the node.
 */
static void
test_collect_real(void **state)
{
	struct tmp		*t = *state;
	struct proc_collector	*pc;
	struct rec		*r;
	const struct sample	*s;
	uint64_t		 t0, now;
	volatile double		 x = 0;
	long			 ncpu;
	int			 i;

	assert_non_null(r = calloc(1, sizeof(*r)));
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	assert_true(ncpu > 0);
	write_pid(t, (int)getpid());
	pc = proc_collector_new("/proc", t->pidfile);

	round_of(pc, clock_mono_ms(), r);
	assert_int_equal(ninfo, 1);
	assert_non_null(s = find(r, "proc.threads", NULL));
	assert_true(s->value >= 1 && s->value < 1000);
	assert_non_null(s = find(r, "proc.rss_mb", NULL));
	assert_true(s->value > 0.5 && s->value < 4096);
	assert_non_null(s = find(r, "proc.fds", NULL));
	assert_true(s->value >= 3 && s->value < 100000);
	assert_non_null(s = find(r, "host.mem_avail_mb", NULL));
	assert_true(s->value > 1);

	/* burn about 200 ms of CPU */
	t0 = clock_mono_ms();
	do {
		for (i = 0; i < 100000; i++)
			x += sqrt((double)i);
	} while (clock_mono_ms() - t0 < 200);
	usleep(50000);
	now = clock_mono_ms();
	round_of(pc, now, r);

	assert_non_null(s = find(r, "proc.cpu_pct", NULL));
	/* busy for 200 of ~250 ms, give or take tick granularity */
	assert_true(s->value >= 0 && s->value <= 100.0 * (double)ncpu + 10);
	assert_non_null(s = find(r, "proc.ctxsw", NULL));
	assert_true(s->value >= 0);
	assert_non_null(s = find(r, "host.cpu_pct", NULL));
	assert_true(s->value >= 0 && s->value <= 100);
	assert_non_null(s = find(r, "net.if.rx_bytes", "iface=lo"));
	assert_int_equal(s->kind, PROC_COUNTER);
	assert_true(s->value >= 0);
	assert_non_null(s = find(r, "tcp.retransmits", NULL));
	assert_true(s->value >= 0);
	if (access("/proc/pressure/cpu", R_OK) == 0) {
		assert_non_null(s = find(r, "host.psi_cpu_pct", NULL));
		assert_true(s->value >= 0 && s->value <= 100);
	} else
		assert_int_equal(count_prefix(r, "host.psi"), 0);
	assert_int_equal(nwarn, 0);
	for (i = 0; i < r->n; i++)
		assert_true(isfinite(r->s[i].value));

	proc_collector_free(pc);

	/* no pid file configured: host only, no warning */
	pc = proc_collector_new(NULL, NULL);
	round_of(pc, now, r);
	assert_int_equal(count_prefix(r, "proc."), 0);
	assert_non_null(find(r, "host.mem_avail_mb", NULL));
	assert_int_equal(nwarn, 0);
	proc_collector_free(pc);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_pidfile),
		cmocka_unit_test(test_parse_pid_stat),
		cmocka_unit_test(test_parse_pid_status),
		cmocka_unit_test(test_parse_statm),
		cmocka_unit_test(test_parse_stat_cpu),
		cmocka_unit_test(test_parse_meminfo),
		cmocka_unit_test(test_parse_netdev),
		cmocka_unit_test(test_parse_snmp),
		cmocka_unit_test(test_parse_psi),
		cmocka_unit_test_setup_teardown(test_collect_rounds,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_collect_nopsi,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_collect_stale,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_collect_malformed,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_collect_log_once,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_collect_restart,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_collect_iface_cap,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_collect_missing_root,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_collect_real,
		    tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
