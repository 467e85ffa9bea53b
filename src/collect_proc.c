/*
 * collect_proc.c -- /proc collectors: the node process and the host.
 *
 * Called once a second by the daemon's timer.  The parsers at the top take
 * the text of one /proc file and return values; they do no I/O.  The
 * collector below reads the files under a configurable root (so tests run
 * on fixture trees), keeps the previous readings for rates and deltas, and
 * hands each sample to a callback.
 *
 * Samples (kind PROC_GAUGE unless said):
 *   proc.cpu_pct      node CPU, percent of one core (utime+stime deltas)
 *   proc.rss_mb       node resident set, MiB (status VmRSS, else statm)
 *   proc.threads      node threads (status Threads)
 *   proc.fds          open descriptors of the node (entries of PID/fd)
 *   proc.ctxsw        node context switches per second (vol + nonvol)
 *   host.cpu_pct      all CPUs busy, 0-100 (/proc/stat deltas)
 *   host.mem_avail_mb MemAvailable, MiB
 *   host.psi_{cpu,mem,io}_pct  PSI "some avg10"; absent without PSI
 *   net.if.{rx,tx}_{bytes,packets,drops}  PROC_COUNTER, tag iface=NAME
 *   tcp.retransmits   PROC_COUNTER (Tcp RetransSegs of /proc/net/snmp)
 * Counters are emitted as DELTAS since the previous round (the registry
 * adds them up), never as totals; the first round after a baseline is
 * taken emits none.  A counter that goes backwards (interface recreated)
 * starts a new baseline and emits nothing that round.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meshtuned.h"

#define PROC_BUFSIZ	65536	/* longer files are cut */

enum node_state {
	NODE_UNKNOWN,		/* before the first round */
	NODE_OK,
	NODE_NO_PIDFILE,	/* pid file missing or unreadable */
	NODE_BAD_PIDFILE,	/* pid file without a valid pid */
	NODE_DEAD		/* no <root>/<pid>, or a zombie */
};

struct psi_source {
	const char	*file;		/* under <root>/pressure/ */
	const char	*metric;
};

static const struct psi_source psi_sources[] = {
	{ "cpu",	"host.psi_cpu_pct" },
	{ "memory",	"host.psi_mem_pct" },
	{ "io",		"host.psi_io_pct" },
};

struct netdev_field {
	const char	*metric;
	size_t		 off;		/* into struct proc_netdev */
};

static const struct netdev_field netdev_fields[] = {
	{ "net.if.rx_bytes",	offsetof(struct proc_netdev, rx_bytes) },
	{ "net.if.tx_bytes",	offsetof(struct proc_netdev, tx_bytes) },
	{ "net.if.rx_packets", offsetof(struct proc_netdev, rx_packets) },
	{ "net.if.tx_packets", offsetof(struct proc_netdev, tx_packets) },
	{ "net.if.rx_drops",	offsetof(struct proc_netdev, rx_drops) },
	{ "net.if.tx_drops",	offsetof(struct proc_netdev, tx_drops) },
};

struct proc_collector {
	char		*root;
	char		*pid_file;	/* NULL: host metrics only */
	long		 hz;		/* sysconf(_SC_CLK_TCK) */
	long		 pagesize;

	/* file contents and getdents64 records; one round at a time */
	char		 buf[PROC_BUFSIZ] __attribute__((aligned(8)));

	/* node */
	enum node_state	 state;
	pid_t		 pid;		/* of the state last logged */
	int		 have_node;	/* baseline below is valid */
	uint64_t	 node_start;	/* starttime, changes on restart */
	uint64_t	 node_ms;
	uint64_t	 node_ticks;
	int		 have_ctxsw;
	uint64_t	 node_ctxsw;
	int		 fd_warned;

	/* host */
	int		 have_cpu;
	struct proc_cpu_times cpu;
	int		 have_retrans;
	uint64_t	 retrans;
	int		 have_ifs;
	size_t		 nifs;
	struct proc_netdev ifs[PROC_MAX_IFACES];
	struct proc_netdev cur_ifs[PROC_MAX_IFACES];
	unsigned int	 psi_missing;	/* bit per psi_sources[] */
	int		 ifs_capped;

	/* this round */
	proc_emit_fn	 emit;
	void		*arg;
	int		 emitted;
};

/*
 * Parsing helpers.  Numbers are plain unsigned decimals: no sign, no
 * spaces inside, and an overflow is an error.
 */
static const char *
skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int
parse_u64(const char **pp, uint64_t *out)
{
	const char	*p = *pp;
	uint64_t	 v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*pp = p;
	*out = v;
	return 0;
}

/* A number that ends at a blank, end of line or end of text. */
static int
parse_u64_field(const char **pp, uint64_t *out)
{
	const char	*p = skip_blank(*pp);

	if (parse_u64(&p, out) == -1)
		return -1;
	if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\0')
		return -1;
	*pp = p;
	return 0;
}

/* Length of the complete line at p (without its '\n'), or -1 if cut. */
static ssize_t
line_len(const char *p)
{
	const char	*nl;

	if ((nl = strchr(p, '\n')) == NULL)
		return -1;
	return nl - p;
}

/*
 * Find the complete line that starts with key (e.g. "VmRSS:") and return
 * a pointer just past the key, or NULL.
 */
static const char *
find_key(const char *text, const char *key)
{
	const char	*p = text;
	size_t		 klen = strlen(key);

	while (*p != '\0') {
		if (line_len(p) == -1)
			return NULL;
		if (strncmp(p, key, klen) == 0)
			return p + klen;
		p = strchr(p, '\n') + 1;
	}
	return NULL;
}

/* "Key:  123 kB" style value: the number and the rest of the line. */
static int
parse_kv_u64(const char *p, uint64_t *out, int want_kb)
{
	if (parse_u64_field(&p, out) == -1)
		return -1;
	p = skip_blank(p);
	if (want_kb) {
		if (strncmp(p, "kB", 2) != 0)
			return -1;
		p = skip_blank(p + 2);
	}
	return *p == '\n' ? 0 : -1;
}

/*
 * Parse a pid file: a positive decimal pid, optionally surrounded by
 * white space.  Returns 0 and sets *pid, or -1 if malformed.
 */
int
proc_parse_pidfile(const char *text, pid_t *pid)
{
	const char	*p = text;
	uint64_t	 v;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (parse_u64(&p, &v) == -1 || v == 0 || v > INT_MAX)
		return -1;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '\0')
		return -1;
	*pid = (pid_t)v;
	return 0;
}

/*
 * Parse /proc/PID/stat: state, utime, stime and starttime.  The command
 * name may hold spaces and parentheses, so fields are counted from the
 * last ')'.  Returns 0, or -1 if the line is malformed or truncated.
 */
int
proc_parse_pid_stat(const char *text, struct proc_pid_stat *st)
{
	const char	*p;
	uint64_t	 v;
	int		 field;

	if (strchr(text, '(') == NULL || (p = strrchr(text, ')')) == NULL)
		return -1;
	if (p[1] != ' ' || p[2] == '\0' || (p[3] != ' '))
		return -1;
	memset(st, 0, sizeof(*st));
	st->state = p[2];
	p += 3;
	/* p is at the blank before field 4 */
	for (field = 4; field <= 22; field++) {
		if (*p != ' ')
			return -1;
		p++;
		if (field == 14 || field == 15 || field == 22) {
			if (parse_u64(&p, &v) == -1)
				return -1;
			if (field == 14)
				st->utime = v;
			else if (field == 15)
				st->stime = v;
			else
				st->starttime = v;
		} else {
			if (*p == ' ' || *p == '\n' || *p == '\0')
				return -1;
			while (*p != ' ' && *p != '\n' && *p != '\0')
				p++;
		}
	}
	/* a kernel line goes on; a cut one must not end inside a number */
	if (*p != ' ' && *p != '\n')
		return -1;
	return 0;
}

/*
 * Parse /proc/PID/status for VmRSS, Threads and the two context switch
 * counts; each found one sets its have_ flag.  Returns 0, or -1 if none
 * was found or one of them is malformed.
 */
int
proc_parse_pid_status(const char *text, struct proc_pid_status *st)
{
	const char	*p;
	uint64_t	 vol, nonvol;

	memset(st, 0, sizeof(*st));
	if ((p = find_key(text, "VmRSS:")) != NULL) {
		if (parse_kv_u64(p, &st->rss_kb, 1) == -1)
			return -1;
		st->have_rss = 1;
	}
	if ((p = find_key(text, "Threads:")) != NULL) {
		if (parse_kv_u64(p, &st->threads, 0) == -1)
			return -1;
		st->have_threads = 1;
	}
	p = find_key(text, "voluntary_ctxt_switches:");
	if (p != NULL) {
		if (parse_kv_u64(p, &vol, 0) == -1)
			return -1;
		if ((p = find_key(text, "nonvoluntary_ctxt_switches:")) !=
		    NULL) {
			if (parse_kv_u64(p, &nonvol, 0) == -1 ||
			    vol > UINT64_MAX - nonvol)
				return -1;
			st->ctxsw = vol + nonvol;
			st->have_ctxsw = 1;
		}
	}
	if (!st->have_rss && !st->have_threads && !st->have_ctxsw)
		return -1;
	return 0;
}

/*
 * Parse /proc/PID/statm: the second field, resident pages.  Returns 0,
 * or -1 if malformed.
 */
int
proc_parse_statm_rss(const char *text, uint64_t *pages)
{
	const char	*p = text;
	uint64_t	 size;

	if (line_len(p) == -1 || parse_u64_field(&p, &size) == -1 ||
	    parse_u64_field(&p, pages) == -1)
		return -1;
	return 0;
}

/*
 * Parse the first line of /proc/stat, "cpu  user nice system idle iowait
 * irq softirq steal guest guest_nice".  total omits guest and guest_nice
 * (the kernel counts them in user and nice already); idle is idle plus
 * iowait.  Needs at least four fields.  Returns 0, or -1 if malformed.
 */
int
proc_parse_stat_cpu(const char *text, struct proc_cpu_times *ct)
{
	const char	*p = text;
	uint64_t	 v[8];
	int		 n;

	if (strncmp(p, "cpu ", 4) != 0 || line_len(p) == -1)
		return -1;
	p += 4;
	memset(v, 0, sizeof(v));
	for (n = 0; n < 8; n++) {
		p = skip_blank(p);
		if (*p == '\n')
			break;
		if (parse_u64_field(&p, &v[n]) == -1)
			return -1;
	}
	if (n < 4)
		return -1;
	ct->total = 0;
	for (n = 0; n < 8; n++) {
		if (ct->total > UINT64_MAX - v[n])
			return -1;
		ct->total += v[n];
	}
	ct->idle = v[3] + v[4];
	return 0;
}

/*
 * Parse /proc/meminfo for MemAvailable (kernels since 3.14).  Returns 0
 * and the value in kB, or -1 if absent or malformed.
 */
int
proc_parse_meminfo_avail(const char *text, uint64_t *kb)
{
	const char	*p;

	if ((p = find_key(text, "MemAvailable:")) == NULL)
		return -1;
	return parse_kv_u64(p, kb, 1);
}

static int
parse_netdev_line(const char *p, struct proc_netdev *nd)
{
	const char	*colon;
	uint64_t	 v[16];
	size_t		 len;
	int		 i;

	p = skip_blank(p);
	if ((colon = strchr(p, ':')) == NULL)
		return -1;
	len = (size_t)(colon - p);
	if (len == 0 || len >= sizeof(nd->name) ||
	    memchr(p, ' ', len) != NULL || memchr(p, '\t', len) != NULL)
		return -1;
	memset(nd, 0, sizeof(*nd));
	memcpy(nd->name, p, len);
	p = colon + 1;
	for (i = 0; i < 16; i++)
		if (parse_u64_field(&p, &v[i]) == -1)
			return -1;
	if (*skip_blank(p) != '\n')
		return -1;
	nd->rx_bytes = v[0];
	nd->rx_packets = v[1];
	nd->rx_drops = v[3];
	nd->tx_bytes = v[8];
	nd->tx_packets = v[9];
	nd->tx_drops = v[11];
	return 0;
}

/*
 * Parse /proc/net/dev into at most max entries of ifs; *n is set to the
 * number stored.  The two header lines are skipped.  Returns the number
 * of lines skipped because they are malformed, truncated, name a
 * duplicate interface or are past max (0 for a clean file), or -1 if the
 * text has no net/dev header.
 */
int
proc_parse_netdev(const char *text, struct proc_netdev *ifs, size_t max,
    size_t *n)
{
	const char	*p = text;
	ssize_t		 len;
	size_t		 i;
	int		 skipped = 0, line;

	*n = 0;
	if (strncmp(p, "Inter-|", 7) != 0)
		return -1;
	for (line = 0; *p != '\0'; line++) {
		if ((len = line_len(p)) == -1) {
			skipped++;	/* cut short */
			break;
		}
		if (line >= 2) {
			if (*n >= max ||
			    parse_netdev_line(p, &ifs[*n]) == -1)
				skipped++;
			else {
				for (i = 0; i < *n; i++)
					if (strcmp(ifs[i].name,
					    ifs[*n].name) == 0)
						break;
				if (i == *n)
					(*n)++;
				else
					skipped++;
			}
		} else if (line == 1 && memchr(p, '|', (size_t)len) == NULL)
			return -1;
		p += len + 1;
	}
	if (line < 2)
		return -1;
	return skipped;
}

/*
 * Parse /proc/net/snmp for Tcp RetransSegs: the "Tcp:" header line names
 * the columns and the next "Tcp:" line holds the values.  Returns 0, or
 * -1 if absent or malformed.
 */
int
proc_parse_snmp_retrans(const char *text, uint64_t *out)
{
	const char	*hdr, *val, *p;
	ssize_t		 hlen;
	size_t		 tlen;
	int		 col, i;

	if ((hdr = find_key(text, "Tcp:")) == NULL)
		return -1;
	if ((hlen = line_len(hdr)) == -1 ||
	    (val = find_key(hdr + hlen + 1, "Tcp:")) == NULL)
		return -1;
	/* find the column of RetransSegs in the header */
	p = hdr;
	for (col = 0;; col++) {
		p = skip_blank(p);
		if (*p == '\n')
			return -1;
		tlen = strcspn(p, " \t\n");
		if (tlen == strlen("RetransSegs") &&
		    strncmp(p, "RetransSegs", tlen) == 0)
			break;
		p += tlen;
	}
	/* skip col values (some are signed, e.g. MaxConn -1) */
	p = val;
	for (i = 0; i < col; i++) {
		p = skip_blank(p);
		if (*p == '\n')
			return -1;
		p += strcspn(p, " \t\n");
	}
	if (parse_u64_field(&p, out) == -1)
		return -1;
	return 0;
}

/*
 * Parse a PSI file (/proc/pressure/{cpu,memory,io}) for the avg10 of the
 * "some" line, a percentage.  Returns 0, or -1 if absent, malformed or
 * outside 0..100.
 */
int
proc_parse_psi_some_avg10(const char *text, double *pct)
{
	const char	*p;
	char		*end;
	double		 v;
	ssize_t		 len;

	if (strncmp(text, "some ", 5) != 0 || (len = line_len(text)) == -1)
		return -1;
	p = text + 5;
	p = skip_blank(p);
	if (strncmp(p, "avg10=", 6) != 0)
		return -1;
	p += 6;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtod(p, &end);
	if (errno != 0 || end == p || (*end != ' ' && *end != '\n') ||
	    !isfinite(v) || v < 0.0 || v > 100.0)
		return -1;
	*pct = v;
	return 0;
}

/*
 * The collector.
 */

/*
 * Create a collector reading under proc_root (NULL: "/proc") and taking
 * the node's pid from pid_file (NULL: host metrics only).  Both strings
 * are copied.  Never returns NULL; free with proc_collector_free().
 */
struct proc_collector *
proc_collector_new(const char *proc_root, const char *pid_file)
{
	struct proc_collector	*pc;

	pc = xcalloc(1, sizeof(*pc));
	pc->root = xstrdup(proc_root != NULL ? proc_root : "/proc");
	if (pid_file != NULL)
		pc->pid_file = xstrdup(pid_file);
	if ((pc->hz = sysconf(_SC_CLK_TCK)) <= 0) {
		log_warnx("%s: sysconf(_SC_CLK_TCK) failed, assuming 100",
		    __func__);
		pc->hz = 100;
	}
	if ((pc->pagesize = sysconf(_SC_PAGESIZE)) <= 0) {
		log_warnx("%s: sysconf(_SC_PAGESIZE) failed, assuming 4096",
		    __func__);
		pc->pagesize = 4096;
	}
	pc->state = NODE_UNKNOWN;
	return pc;
}

/* Free a collector and everything it holds; NULL is allowed. */
void
proc_collector_free(struct proc_collector *pc)
{
	if (pc == NULL)
		return;
	free(pc->root);
	free(pc->pid_file);
	free(pc);
}

/* Make <root>/<rel> (or rel itself when root is NULL). */
static int
make_path(char *path, size_t size, const char *root, const char *rel)
{
	int	 n;

	if (root != NULL)
		n = snprintf(path, size, "%s/%s", root, rel);
	else
		n = snprintf(path, size, "%s", rel);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Read a file into pc->buf, NUL-terminated, at most PROC_BUFSIZ - 1
 * bytes (the rest is cut; line parsers drop a cut last line).  Returns
 * the length, or -1 with errno set.
 */
static ssize_t
read_text(struct proc_collector *pc, const char *path)
{
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, saved;

	/* O_NONBLOCK: a FIFO planted as pid file must not hang the loop */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	while (len < sizeof(pc->buf) - 1) {
		n = read(fd, pc->buf + len, sizeof(pc->buf) - 1 - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			(void)close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (close(fd) == -1)
		log_debug("proc: close %s: %s", path, strerror(errno));
	pc->buf[len] = '\0';
	return (ssize_t)len;
}

/* read_text() of <root>/<rel>. */
static ssize_t
read_proc(struct proc_collector *pc, const char *rel, char *path,
    size_t size)
{
	if (make_path(path, size, pc->root, rel) == -1)
		return -1;
	return read_text(pc, path);
}

static void
emit(struct proc_collector *pc, const char *name, const char *tags,
    int kind, double value)
{
	pc->emit(name, tags, kind, value, pc->arg);
	pc->emitted++;
}

/*
 * Count the entries of dir, without "." and "..", with getdents64 into
 * pc->buf (no allocation).  Returns the count or -1 with errno set.
 */
static long
count_dir(struct proc_collector *pc, const char *dir)
{
	struct dirent64	 d;
	ssize_t		 n, off;
	long		 count = 0;
	int		 fd, saved;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		n = getdents64(fd, pc->buf, sizeof(pc->buf));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			(void)close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		for (off = 0; off < n; off += d.d_reclen) {
			if ((size_t)(n - off) <
			    offsetof(struct dirent64, d_name) + 2)
				break;
			/* copy the fixed part: no aliasing or alignment trap */
			memcpy(&d, pc->buf + off,
			    offsetof(struct dirent64, d_name));
			if (d.d_reclen == 0 || d.d_reclen > n - off)
				break;
			if (strcmp(pc->buf + off +
			    offsetof(struct dirent64, d_name), ".") != 0 &&
			    strcmp(pc->buf + off +
			    offsetof(struct dirent64, d_name), "..") != 0)
				count++;
		}
	}
	if (close(fd) == -1)
		log_debug("proc: close %s: %s", dir, strerror(errno));
	return count;
}

/*
 * Log a change of the node's state: once per (state, pid), a warning for
 * trouble and an info line when the node is (back) up.
 */
static void
node_set_state(struct proc_collector *pc, enum node_state st, pid_t pid,
    const char *why)
{
	if (st == pc->state && pid == pc->pid)
		return;
	switch (st) {
	case NODE_OK:
		if (pc->state == NODE_OK)
			log_info("proc: node restarted, pid %d (was %d)",
			    (int)pid, (int)pc->pid);
		else
			log_info("proc: watching node pid %d", (int)pid);
		break;
	case NODE_NO_PIDFILE:
		log_warnx("proc: node pid file %s: %s; retrying every round",
		    pc->pid_file, why);
		break;
	case NODE_BAD_PIDFILE:
		log_warnx("proc: node pid file %s: no valid pid; retrying "
		    "every round", pc->pid_file);
		break;
	case NODE_DEAD:
		log_warnx("proc: node pid %d from %s is not running (%s); "
		    "retrying every round", (int)pid, pc->pid_file, why);
		break;
	case NODE_UNKNOWN:
		break;
	}
	pc->state = st;
	pc->pid = pid;
}

/*
 * Find the node's pid and read its stat into st (*have_stat says whether
 * it parsed).  Returns 0 and logs the change if the node is not up.
 */
static pid_t
node_find(struct proc_collector *pc, struct proc_pid_stat *st,
    int *have_stat)
{
	char		 path[PATH_MAX], rel[64];
	pid_t		 pid;

	if (read_text(pc, pc->pid_file) == -1) {
		node_set_state(pc, NODE_NO_PIDFILE, 0, strerror(errno));
		return 0;
	}
	if (proc_parse_pidfile(pc->buf, &pid) == -1) {
		node_set_state(pc, NODE_BAD_PIDFILE, 0, NULL);
		return 0;
	}
	(void)snprintf(rel, sizeof(rel), "%d/stat", (int)pid);
	if (read_proc(pc, rel, path, sizeof(path)) == -1) {
		node_set_state(pc, NODE_DEAD, pid, strerror(errno));
		return 0;
	}
	*have_stat = 1;
	if (proc_parse_pid_stat(pc->buf, st) == -1) {
		log_debug("proc: %s: malformed, skipped", path);
		*have_stat = 0;		/* alive, but no CPU figures */
	} else if (st->state == 'Z' || st->state == 'X') {
		node_set_state(pc, NODE_DEAD, pid, "zombie");
		return 0;
	}
	node_set_state(pc, NODE_OK, pid, NULL);
	return pid;
}

static void
collect_node(struct proc_collector *pc, uint64_t now_ms)
{
	struct proc_pid_stat	 st;
	struct proc_pid_status	 ss;
	char			 path[PATH_MAX], rel[64];
	uint64_t		 ticks, pages;
	double			 dms;
	long			 nfds;
	pid_t			 pid, was = pc->pid;
	int			 have_stat;

	if ((pid = node_find(pc, &st, &have_stat)) == 0) {
		pc->have_node = pc->have_ctxsw = 0;
		return;
	}
	if (pid != was)
		pc->have_node = pc->have_ctxsw = pc->fd_warned = 0;
	dms = (double)now_ms - (double)pc->node_ms;

	/* CPU: ticks over elapsed time, against the same process only */
	if (have_stat) {
		ticks = st.utime + st.stime;
		if (pc->have_node && st.starttime == pc->node_start &&
		    ticks >= pc->node_ticks && dms > 0)
			emit(pc, "proc.cpu_pct", NULL, PROC_GAUGE,
			    (double)(ticks - pc->node_ticks) * 100000.0 /
			    ((double)pc->hz * dms));
		if (!pc->have_node || st.starttime != pc->node_start)
			pc->have_ctxsw = 0;
		pc->have_node = 1;
		pc->node_start = st.starttime;
		pc->node_ticks = ticks;
	} else
		pc->have_node = 0;

	(void)snprintf(rel, sizeof(rel), "%d/status", (int)pid);
	memset(&ss, 0, sizeof(ss));
	if (read_proc(pc, rel, path, sizeof(path)) == -1)
		log_debug("proc: %s: %s", path, strerror(errno));
	else if (proc_parse_pid_status(pc->buf, &ss) == -1) {
		log_debug("proc: %s: malformed, skipped", path);
		memset(&ss, 0, sizeof(ss));
	}
	if (ss.have_rss)
		emit(pc, "proc.rss_mb", NULL, PROC_GAUGE,
		    (double)ss.rss_kb / 1024.0);
	else {
		(void)snprintf(rel, sizeof(rel), "%d/statm", (int)pid);
		if (read_proc(pc, rel, path, sizeof(path)) == -1)
			log_debug("proc: %s: %s", path, strerror(errno));
		else if (proc_parse_statm_rss(pc->buf, &pages) == -1)
			log_debug("proc: %s: malformed, skipped", path);
		else
			emit(pc, "proc.rss_mb", NULL, PROC_GAUGE,
			    (double)pages * (double)pc->pagesize /
			    (1024.0 * 1024.0));
	}
	if (ss.have_threads)
		emit(pc, "proc.threads", NULL, PROC_GAUGE,
		    (double)ss.threads);
	if (ss.have_ctxsw) {
		if (pc->have_ctxsw && ss.ctxsw >= pc->node_ctxsw && dms > 0)
			emit(pc, "proc.ctxsw", NULL, PROC_GAUGE,
			    (double)(ss.ctxsw - pc->node_ctxsw) * 1000.0 /
			    dms);
		pc->have_ctxsw = have_stat;	/* need starttime to trust */
		pc->node_ctxsw = ss.ctxsw;
	} else
		pc->have_ctxsw = 0;
	pc->node_ms = now_ms;

	(void)snprintf(rel, sizeof(rel), "%d/fd", (int)pid);
	if (make_path(path, sizeof(path), pc->root, rel) == -1 ||
	    (nfds = count_dir(pc, path)) == -1) {
		if (!pc->fd_warned)
			log_warnx("proc: cannot count fds of node pid %d: "
			    "%s: %s", (int)pid, path, strerror(errno));
		pc->fd_warned = 1;
	} else
		emit(pc, "proc.fds", NULL, PROC_GAUGE, (double)nfds);
}

static void
collect_cpu_mem(struct proc_collector *pc)
{
	struct proc_cpu_times	 ct;
	char			 path[PATH_MAX];
	double			 dt, di, pct;
	uint64_t		 kb;

	if (read_proc(pc, "stat", path, sizeof(path)) == -1)
		log_debug("proc: %s: %s", path, strerror(errno));
	else if (proc_parse_stat_cpu(pc->buf, &ct) == -1)
		log_debug("proc: %s: malformed, skipped", path);
	else {
		if (pc->have_cpu) {
			/* iowait may step back on NO_HZ kernels: clamp */
			dt = (double)ct.total - (double)pc->cpu.total;
			di = (double)ct.idle - (double)pc->cpu.idle;
			if (dt > 0) {
				pct = 100.0 * (dt - di) / dt;
				pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
				emit(pc, "host.cpu_pct", NULL, PROC_GAUGE,
				    pct);
			}
		}
		pc->have_cpu = 1;
		pc->cpu = ct;
	}

	if (read_proc(pc, "meminfo", path, sizeof(path)) == -1)
		log_debug("proc: %s: %s", path, strerror(errno));
	else if (proc_parse_meminfo_avail(pc->buf, &kb) == -1)
		log_debug("proc: %s: no MemAvailable, skipped", path);
	else
		emit(pc, "host.mem_avail_mb", NULL, PROC_GAUGE,
		    (double)kb / 1024.0);
}

static void
collect_psi(struct proc_collector *pc)
{
	char		 path[PATH_MAX], rel[32];
	double		 pct;
	size_t		 i;

	for (i = 0; i < nitems(psi_sources); i++) {
		(void)snprintf(rel, sizeof(rel), "pressure/%s",
		    psi_sources[i].file);
		if (read_proc(pc, rel, path, sizeof(path)) == -1) {
			/* no PSI (ENOENT) or disabled (EOPNOTSUPP): quiet */
			if (!(pc->psi_missing & (1U << i)))
				log_debug("proc: %s: %s; not reported", path,
				    strerror(errno));
			pc->psi_missing |= 1U << i;
			continue;
		}
		pc->psi_missing &= ~(1U << i);
		if (proc_parse_psi_some_avg10(pc->buf, &pct) == -1)
			log_debug("proc: %s: malformed, skipped", path);
		else
			emit(pc, psi_sources[i].metric, NULL, PROC_GAUGE,
			    pct);
	}
}

/* Tag value: characters outside [A-Za-z0-9_.@-] become '_'. */
static void
iface_tags(char *tags, size_t size, const char *name)
{
	size_t	 i, n;
	char	 c;

	if (size < sizeof("iface=")) {
		tags[0] = '\0';
		return;
	}
	memcpy(tags, "iface=", sizeof("iface="));
	n = sizeof("iface=") - 1;
	for (i = 0; name[i] != '\0' && n + 1 < size; i++, n++) {
		c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-' || c == '@'))
			c = '_';
		tags[n] = c;
	}
	tags[n] = '\0';
}

static const struct proc_netdev *
iface_prev(const struct proc_collector *pc, const char *name, size_t hint)
{
	size_t	 i;

	if (hint < pc->nifs && strcmp(pc->ifs[hint].name, name) == 0)
		return &pc->ifs[hint];
	for (i = 0; i < pc->nifs; i++)
		if (strcmp(pc->ifs[i].name, name) == 0)
			return &pc->ifs[i];
	return NULL;
}

static void
collect_net(struct proc_collector *pc)
{
	const struct proc_netdev *old, *cur;
	char		 path[PATH_MAX];
	char		 tags[sizeof("iface=") + PROC_IFNAMSIZ];
	uint64_t	 a, b, retrans;
	size_t		 i, j, n;
	int		 skipped;

	if (read_proc(pc, "net/dev", path, sizeof(path)) == -1)
		log_debug("proc: %s: %s", path, strerror(errno));
	else if ((skipped = proc_parse_netdev(pc->buf, pc->cur_ifs,
	    nitems(pc->cur_ifs), &n)) == -1)
		log_debug("proc: %s: malformed, skipped", path);
	else {
		if (skipped > 0) {
			if (n == nitems(pc->cur_ifs) && !pc->ifs_capped)
				log_info("proc: %s: more than %zu interfaces;"
				    " the rest are not reported", path, n);
			pc->ifs_capped = n == nitems(pc->cur_ifs);
			log_debug("proc: %s: %d lines skipped", path,
			    skipped);
		}
		for (i = 0; pc->have_ifs && i < n; i++) {
			cur = &pc->cur_ifs[i];
			if ((old = iface_prev(pc, cur->name, i)) == NULL)
				continue;	/* new: baseline only */
			for (j = 0; j < nitems(netdev_fields); j++) {
				memcpy(&a, (const char *)old +
				    netdev_fields[j].off, sizeof(a));
				memcpy(&b, (const char *)cur +
				    netdev_fields[j].off, sizeof(b));
				if (b < a)
					break;
			}
			if (j < nitems(netdev_fields)) {
				log_debug("proc: %s: counters of %s went "
				    "back; new baseline", path, cur->name);
				continue;
			}
			iface_tags(tags, sizeof(tags), cur->name);
			for (j = 0; j < nitems(netdev_fields); j++) {
				memcpy(&a, (const char *)old +
				    netdev_fields[j].off, sizeof(a));
				memcpy(&b, (const char *)cur +
				    netdev_fields[j].off, sizeof(b));
				emit(pc, netdev_fields[j].metric, tags,
				    PROC_COUNTER, (double)(b - a));
			}
		}
		memcpy(pc->ifs, pc->cur_ifs, n * sizeof(pc->ifs[0]));
		pc->nifs = n;
		pc->have_ifs = 1;
	}

	if (read_proc(pc, "net/snmp", path, sizeof(path)) == -1)
		log_debug("proc: %s: %s", path, strerror(errno));
	else if (proc_parse_snmp_retrans(pc->buf, &retrans) == -1)
		log_debug("proc: %s: no Tcp RetransSegs, skipped", path);
	else {
		if (pc->have_retrans && retrans >= pc->retrans)
			emit(pc, "tcp.retransmits", NULL, PROC_COUNTER,
			    (double)(retrans - pc->retrans));
		pc->have_retrans = 1;
		pc->retrans = retrans;
	}
}

/*
 * Run one round at monotonic time now_ms: read the node (if a pid file
 * is configured) and the host, and call emit for each sample.  Files
 * that are missing or malformed are skipped (debug log); a missing pid
 * file or dead node is logged once per change and retried next round.
 * Rates use the time since the node's previous round; counters are
 * deltas since the previous round.  Returns the number of samples
 * emitted (never fails).
 */
int
proc_collect(struct proc_collector *pc, uint64_t now_ms, proc_emit_fn fn,
    void *arg)
{
	pc->emit = fn;
	pc->arg = arg;
	pc->emitted = 0;
	if (pc->pid_file != NULL)
		collect_node(pc, now_ms);
	collect_cpu_mem(pc);
	collect_psi(pc);
	collect_net(pc);
	pc->emit = NULL;
	pc->arg = NULL;
	return pc->emitted;
}
