/*
 * meshtunectl.c -- the command line client of meshtuned's HTTP API.
 *
 * One request per command, over TCP or a unix stream socket, bounded by a
 * timeout; aligned tables for people, the daemon's JSON for scripts
 * (--json).  Exit status: 0 done, 1 the daemon failed or could not be
 * reached, 2 usage.
 *
 * The HTTP exchange is a small HTTP/1.1 client on a bufferevent ("Connection:
 * close", a Content-Length reply), not evhttp's: in libevent 2.1 an
 * evhttp_connection always (re)connects by host name, so it cannot use a
 * unix socket even when handed a connected one, and it reports a refused
 * connection as a reply with code 0 and no errno, while this program must
 * say why it could not reach the daemon.
 *
 * Shell and core: main, the table of commands and the exchange do the
 * I/O; the rest turns parsed JSON into text.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include "meshtuned.h"

#define CTL_DEFAULT_ADDR	"127.0.0.1:9120"
#define CTL_ENV_ADDR		"MESHTUNE_API"
#define CTL_ENV_TOKEN		"MESHTUNE_TOKEN_FILE"
#define CTL_TOKEN_MAX		128	/* bytes of a token file read */
#define CTL_TOKEN_HEX		64	/* what meshtuned writes: hex digits */
#define CTL_TIMEOUT_S		5
#define CTL_MAX_TIMEOUT_S	3600
#define CTL_MAX_HEAD		16384		/* status line and headers */
#define CTL_MAX_BODY		(64 * 1024 * 1024)
#define CTL_ACTIONS_N		20		/* actions without -n */
#define CTL_LAST_COL		60		/* last column, not on a tty */
#define CTL_LAST_COL_MIN	20		/* ... at least, on a tty */

enum {
	CTL_OK = 0,		/* done */
	CTL_EDAEMON = 1,	/* daemon error or unreachable */
	CTL_EUSAGE = 2		/* bad command line */
};

struct ctl {
	struct event_base	*base;
	const char		*addr;		/* as given */
	const char		*addr_from;	/* "-s", "MESHTUNE_API", NULL */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 json;
	int			 timeout_s;
	const char		*token_file;	/* -k or MESHTUNE_TOKEN_FILE */
	char			 token[CTL_TOKEN_MAX];	/* "": none */
	int			 server_known;	/* server_uid found */
	uid_t			 server_uid;	/* who serves the last reply */
};

/* An answer: the HTTP status code and the body, NUL-terminated. */
struct ctl_reply {
	int			 code;
	char			*body;
	size_t			 len;
};

/* One exchange in flight. */
struct ctl_xfer {
	struct ctl		*ctl;
	struct bufferevent	*bev;
	struct event		*timer;
	int			 connected;
	int			 done;
	int			 failed;
	int			 unreachable;	/* failed before connecting */
	int			 have_head;
	long long		 clen;		/* Content-Length, or -1 */
	int			 code;
	char			 err[256];
};

struct ctl_cmd;
typedef int	ctl_handler(struct ctl *, const struct ctl_cmd *, int,
		    char **);

/* A command: its name, its arguments for usage, a line of help. */
struct ctl_cmd {
	const char	*name;
	const char	*args;
	const char	*help;
	ctl_handler	*run;
};

static ctl_handler	ctl_status;
static ctl_handler	ctl_series;
static ctl_handler	ctl_strategies;
static ctl_handler	ctl_actions;
static ctl_handler	ctl_reload;
static ctl_handler	ctl_pause;
static ctl_handler	ctl_resume;
static ctl_handler	ctl_knobs;

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", "", "version, uptime, ingestion counters, last tick",
	    ctl_status },
	{ "series", "[NAME]", "list the series, or one series' statistics",
	    ctl_series },
	{ "strategies", "", "the loaded strategies and their counters",
	    ctl_strategies },
	{ "actions", "[-n N] [--strategy S] [--since TIME]",
	    "the newest rows of the audit log", ctl_actions },
	{ "reload", "", "reload the configuration and the plugins",
	    ctl_reload },
	{ "pause", "", "apply no actions until resume", ctl_pause },
	{ "resume", "[KNOB]", "end a pause, or release a manual knob",
	    ctl_resume },
	{ "knobs", "", "every knob and trigger: value, bounds, what holds it",
	    ctl_knobs },
};

/* A table column: its heading and whether it holds numbers. */
struct ctl_col {
	const char	*head;
	int		 right;
};

struct ctl_table {
	const struct ctl_col	*cols;
	size_t			 ncols;
	char			**cell;		/* nrows * ncols */
	size_t			 nrows;
};

/* Units by the suffix of a series name (before its tags). */
static const struct {
	const char	*suffix;
	const char	*unit;
} ctl_units[] = {
	{ "_ms", "ms" },
	{ "_mb", "MiB" },
	{ "_pct", "%" },
	{ "_bytes", "B" },
};

static void	ctl_err(const char *, ...) __printflike(1, 2);

static void
ctl_err(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("meshtunectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
ctl_usage_line(FILE *f, const char *lead, const struct ctl_cmd *cmd)
{
	fprintf(f, "%s meshtunectl [-s ADDR] [-t SECONDS] [--json] %s%s%s\n",
	    lead, cmd->name, *cmd->args != '\0' ? " " : "", cmd->args);
}

static void
ctl_usage(FILE *f)
{
	size_t	i, col, len;

	fprintf(f, "usage: meshtunectl [-hV] [-k FILE] [-s ADDR] [-t SECONDS] "
	    "[--json] command [args]\n");
	fputs("commands:", f);
	col = 9;
	for (i = 0; i < nitems(ctl_cmds); i++) {
		len = strlen(ctl_cmds[i].name) + strlen(ctl_cmds[i].args) +
		    (*ctl_cmds[i].args != '\0') + 3;
		if (col + len > 79) {
			fputs("\n         ", f);
			col = 9;
		}
		col += len;
		fprintf(f, " %s%s%s%s", ctl_cmds[i].name,
		    *ctl_cmds[i].args != '\0' ? " " : "", ctl_cmds[i].args,
		    i + 1 < nitems(ctl_cmds) ? " |" : "\n");
	}
}

/* Say what is wrong with a command's arguments; returns CTL_EUSAGE. */
static int	ctl_bad_args(const struct ctl_cmd *, const char *, ...)
		    __printflike(2, 3);

static int
ctl_bad_args(const struct ctl_cmd *cmd, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("meshtunectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ctl_usage_line(stderr, "usage:", cmd);
	return CTL_EUSAGE;
}

/*
 * Text: control characters from the daemon (a strategy's reason, say)
 * never reach the terminal; width counts UTF-8 characters.
 */
static char *
ctl_clean(const char *s)
{
	char	*out = xstrdup(s != NULL ? s : "-");
	char	*p;

	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	return out;
}

static size_t
ctl_width(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* Print s in at most max characters (0: no limit), "..." if cut. */
static void
ctl_put_fit(const char *s, size_t max)
{
	size_t	n = 0;
	const char *p;

	if (max == 0 || ctl_width(s) <= max) {
		fputs(s, stdout);
		return;
	}
	if (max <= 3) {
		printf("%.*s", (int)max, "...");
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80 && n++ == max - 3)
			break;
	}
	printf("%.*s...", (int)(p - s), s);
}

static void
ctl_pad(size_t n)
{
	while (n-- > 0)
		putchar(' ');
}

static void
ctl_table_init(struct ctl_table *t, const struct ctl_col *cols, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
}

/* Add a row of ncols strings (NULL prints as "-"); they are copied. */
static void
ctl_table_add(struct ctl_table *t, const char *const *vals)
{
	size_t	i;

	t->cell = xreallocarray(t->cell, (t->nrows + 1) * t->ncols,
	    sizeof(*t->cell));
	for (i = 0; i < t->ncols; i++)
		t->cell[t->nrows * t->ncols + i] = ctl_clean(vals[i]);
	t->nrows++;
}

/* The terminal's width, or 0 when standard output is not a terminal. */
static size_t
ctl_columns(void)
{
	struct winsize	ws;

	if (!isatty(STDOUT_FILENO) ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == -1 || ws.ws_col == 0)
		return 0;
	return ws.ws_col;
}

/*
 * Print the heading and the rows, columns two spaces apart; the last
 * column is cut to what the terminal has left, or CTL_LAST_COL
 * characters when not on a terminal.  Frees the table.
 */
static void
ctl_table_print(struct ctl_table *t)
{
	size_t	*w, i, r, used = 0, last, cols;
	const char *s;

	w = xcalloc(t->ncols, sizeof(*w));
	for (i = 0; i < t->ncols; i++) {
		w[i] = ctl_width(t->cols[i].head);
		for (r = 0; r < t->nrows; r++)
			if (ctl_width(t->cell[r * t->ncols + i]) > w[i])
				w[i] = ctl_width(t->cell[r * t->ncols + i]);
		if (i + 1 < t->ncols)
			used += w[i] + 2;
	}
	if ((cols = ctl_columns()) == 0)
		last = CTL_LAST_COL;
	else if (cols > used + CTL_LAST_COL_MIN)
		last = cols - used;
	else
		last = CTL_LAST_COL_MIN;
	for (r = 0; r <= t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			s = r == 0 ? t->cols[i].head :
			    t->cell[(r - 1) * t->ncols + i];
			if (i + 1 == t->ncols) {
				ctl_put_fit(s, last);
				break;
			}
			if (t->cols[i].right)
				ctl_pad(w[i] - ctl_width(s));
			fputs(s, stdout);
			if (!t->cols[i].right)
				ctl_pad(w[i] - ctl_width(s));
			fputs("  ", stdout);
		}
		putchar('\n');
	}
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cell[i]);
	free(t->cell);
	free(w);
}

/* "key   value" for key/value listings. */
static void
ctl_kv(const char *key, const char *val)
{
	char	*clean = ctl_clean(val);

	printf("%-16s%s\n", key, clean);
	free(clean);
}

/*
 * A number as the daemon sent it: every digit it takes to read back the
 * same (number_format), so that a knob's value in a table is the value
 * set; "-" for none.
 */
static void
ctl_fmt_num(double v, char *buf, size_t len)
{
	if (number_format(v, buf, len) == -1)
		snprintf(buf, len, "-");
}

/* A measured statistic for people: integers whole, others to 4 digits. */
static void
ctl_fmt_stat(double v, char *buf, size_t len)
{
	if (isnan(v) || isinf(v))
		snprintf(buf, len, "-");
	else if (v == trunc(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v == 0 ? 0.0 : v);
	else if (fabs(v) >= 1000)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.4g", v);
}

static const char *
ctl_jstr(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A member as a number; NaN when absent, null or not a number. */
static double
ctl_jnum(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void
ctl_jnum_fmt(const cJSON *o, const char *name, char *buf, size_t len)
{
	ctl_fmt_num(ctl_jnum(o, name), buf, len);
}

static const char *
ctl_jbool(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsBool(v))
		return "-";
	return cJSON_IsTrue(v) ? "yes" : "no";
}

/* Microseconds for people. */
static void
ctl_fmt_us(double us, char *buf, size_t len)
{
	if (isnan(us))
		snprintf(buf, len, "-");
	else if (us < 1000)
		snprintf(buf, len, "%.0f us", us);
	else if (us < 1e6)
		snprintf(buf, len, "%.1f ms", us / 1e3);
	else
		snprintf(buf, len, "%.2f s", us / 1e6);
}

static int
ctl_digits(const char **pp, int n, int *out)
{
	int	i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*pp)[i]))
			return -1;
		v = v * 10 + (*pp)[i] - '0';
	}
	*pp += n;
	*out = v;
	return 0;
}

/*
 * Parse an ISO-8601 time into ms since the epoch:
 * YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:]MM].  Without a zone it
 * is local time.  Returns 0, or -1 if s is not such a time.
 */
static int
ctl_parse_iso(const char *s, int64_t *ms)
{
	struct tm	tm;
	time_t		t;
	int		y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, digits;
	int		zone = 0, off = 0, oh, om, sign;

	if (ctl_digits(&s, 4, &y) == -1 || *s++ != '-' ||
	    ctl_digits(&s, 2, &mo) == -1 || *s++ != '-' ||
	    ctl_digits(&s, 2, &d) == -1)
		return -1;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (ctl_digits(&s, 2, &h) == -1 || *s++ != ':' ||
		    ctl_digits(&s, 2, &mi) == -1)
			return -1;
		if (*s == ':') {
			s++;
			if (ctl_digits(&s, 2, &sec) == -1)
				return -1;
			if (*s == '.') {
				s++;
				if (!isdigit((unsigned char)*s))
					return -1;
				for (digits = 0; isdigit((unsigned char)*s);
				    s++, digits++)
					if (digits < 3)
						frac = frac * 10 + *s - '0';
				for (; digits < 3; digits++)
					frac *= 10;
			}
		}
	}
	if (*s == 'Z' || *s == 'z') {
		zone = 1;
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (ctl_digits(&s, 2, &oh) == -1)
			return -1;
		if (*s == ':')
			s++;
		if (ctl_digits(&s, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		zone = 1;
		off = sign * (oh * 3600 + om * 60);
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60 || y < 1970)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	if ((t = zone ? timegm(&tm) : mktime(&tm)) == (time_t)-1)
		return -1;
	/* timegm and mktime roll February 30 into March: refuse it. */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	*ms = ((int64_t)t - off) * 1000 + frac;
	return 0;
}

/*
 * --since: an ISO-8601 time, or a span back from now: N followed by s, m,
 * h, d or w.  Returns 0 and the time in ms since the epoch, or -1.
 */
static int
ctl_parse_since(const char *s, int64_t now_ms, int64_t *out)
{
	static const struct {
		char	 unit;
		int64_t	 ms;
	} spans[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 },
		{ 'd', 86400000 }, { 'w', 604800000 },
	};
	long long	 n;
	char		*ep;
	size_t		 i;

	if (isdigit((unsigned char)*s)) {
		errno = 0;
		n = strtoll(s, &ep, 10);
		if (errno == 0 && ep[0] != '\0' && ep[1] == '\0') {
			for (i = 0; i < nitems(spans); i++) {
				if (spans[i].unit != *ep)
					continue;
				if (n > 100LL * 366 * 86400000 / spans[i].ms)
					return -1;
				*out = now_ms - n * spans[i].ms;
				return 0;
			}
		}
	}
	return ctl_parse_iso(s, out);
}

/* An ISO UTC time from the daemon, as local time for people. */
static void
ctl_local_time(const char *iso, char *buf, size_t len)
{
	struct tm	tm;
	int64_t		ms;
	time_t		t;

	if (iso == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	if (ctl_parse_iso(iso, &ms) == -1) {
		snprintf(buf, len, "%s", iso);
		return;
	}
	t = (time_t)(ms / 1000);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%s", iso);
}

/*
 * The address: HOST:PORT with a numeric host, [V6]:PORT, or an absolute
 * unix socket path, as listen.api is written.  Returns 0, or -1 if the
 * text is none of these.
 */
static int
ctl_parse_addr(struct ctl *c, const char *addr)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&c->ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&c->ss;

	memset(&c->ss, 0, sizeof(c->ss));
	if (addr[0] == '/') {
		if (strlen(addr) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, addr, strlen(addr) + 1);
		c->sslen = sizeof(*sun);
		return 0;
	}
	if (config_parse_addr(addr, &c->ss, &c->sslen) == -1)
		return -1;
	/* Port 0 picks a port to listen on; nothing can be reached there. */
	if (sin->sin_port == 0)
		return -1;
	return 0;
}

static void
ctl_xfer_finish(struct ctl_xfer *x)
{
	x->done = 1;
	event_base_loopbreak(x->ctl->base);
}

static void	ctl_xfer_fail(struct ctl_xfer *, const char *, ...)
		    __printflike(2, 3);

static void
ctl_xfer_fail(struct ctl_xfer *x, const char *fmt, ...)
{
	va_list	ap;

	if (x->done)
		return;
	va_start(ap, fmt);
	vsnprintf(x->err, sizeof(x->err), fmt, ap);
	va_end(ap);
	x->failed = 1;
	if (x->bev != NULL)
		bufferevent_disable(x->bev, EV_READ | EV_WRITE);
	ctl_xfer_finish(x);
}

/*
 * The status line and headers, without the blank line: the code, and
 * the Content-Length if there is one.  Returns 0, or -1 with x->err set.
 */
static int
ctl_parse_head(struct ctl_xfer *x, char *head)
{
	unsigned long long	 n;
	char			*line, *next, *v, *ep;

	if (strncmp(head, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)
	    head[7]) || head[8] != ' ' || !isdigit((unsigned char)head[9]) ||
	    !isdigit((unsigned char)head[10]) ||
	    !isdigit((unsigned char)head[11]) ||
	    (head[12] != ' ' && head[12] != '\r' && head[12] != '\0')) {
		ctl_xfer_fail(x, "not an HTTP reply");
		return -1;
	}
	x->code = (head[9] - '0') * 100 + (head[10] - '0') * 10 +
	    (head[11] - '0');
	x->clen = -1;
	for (line = strstr(head, "\r\n"); line != NULL; line = next) {
		line += 2;
		if ((next = strstr(line, "\r\n")) != NULL)
			*next = '\0';
		if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
			ctl_xfer_fail(x, "a chunked reply (not one meshtuned "
			    "sends)");
			return -1;
		}
		if (strncasecmp(line, "Content-Length:", 15) != 0)
			continue;
		for (v = line + 15; *v == ' ' || *v == '\t'; v++)
			;
		errno = 0;
		n = strtoull(v, &ep, 10);
		while (*ep == ' ' || *ep == '\t')
			ep++;
		if (!isdigit((unsigned char)*v) || *ep != '\0' ||
		    errno != 0 || n > CTL_MAX_BODY) {
			ctl_xfer_fail(x, "bad or too large Content-Length");
			return -1;
		}
		x->clen = (long long)n;
	}
	return 0;
}

static void
ctl_xfer_read(struct bufferevent *bev, void *arg)
{
	struct ctl_xfer		*x = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 end;
	char			*head;
	size_t			 len;

	if (x->done)
		return;
	if (!x->have_head) {
		end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (end.pos == -1) {
			if (evbuffer_get_length(in) > CTL_MAX_HEAD)
				ctl_xfer_fail(x, "reply headers too long");
			return;
		}
		len = (size_t)end.pos;
		head = xmalloc(len + 1);
		if (evbuffer_remove(in, head, len) != (int)len) {
			free(head);
			ctl_xfer_fail(x, "cannot read the reply headers");
			return;
		}
		head[len] = '\0';
		evbuffer_drain(in, 4);
		x->have_head = 1;
		if (ctl_parse_head(x, head) == -1) {
			free(head);
			return;
		}
		free(head);
	}
	len = evbuffer_get_length(in);
	if (len > CTL_MAX_BODY)
		ctl_xfer_fail(x, "reply larger than %d bytes", CTL_MAX_BODY);
	else if (x->clen >= 0 && len >= (size_t)x->clen)
		ctl_xfer_finish(x);
}

/* The address of ss as 16 bytes of IPv6 (IPv4 mapped) and its port. */
static int
ctl_inet_key(const struct sockaddr_storage *ss, unsigned char a[16],
    unsigned int *port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;

	memset(a, 0, 16);
	if (ss->ss_family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(a, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	} else
		return -1;
	return 0;
}

/*
 * An address as /proc/net/tcp or tcp6 prints it ("0100007F:2382": each
 * 32-bit word of the address in the host's order, then the port), as
 * ctl_inet_key makes it.  Returns 0, or -1 if malformed.
 */
static int
ctl_proc_key(const char *s, int v6, unsigned char a[16], unsigned int *port)
{
	char		 word[9], *ep;
	uint32_t	 w;
	int		 i, n = v6 ? 4 : 1;

	memset(a, 0, 16);
	if (!v6)
		a[10] = a[11] = 0xff;
	for (i = 0; i < n; i++) {
		memcpy(word, s + 8 * i, 8);
		word[8] = '\0';
		w = (uint32_t)strtoul(word, &ep, 16);
		if (*ep != '\0')
			return -1;
		memcpy(a + (v6 ? 4 * i : 12), &w, 4);
	}
	if (s[8 * n] != ':')
		return -1;
	*port = (unsigned int)strtoul(s + 8 * n + 1, &ep, 16);
	return ep == s + 8 * n + 5 ? 0 : -1;
}

/*
 * The user who serves the connection fd: the peer's credentials on a
 * unix socket; on TCP, the owner of the server's end of it, which
 * /proc/net/tcp and tcp6 list (the server is on this host, or the
 * connection is not found there).  Returns 0, or -1 if unknown.
 */
static int
ctl_server_uid(int fd, uid_t *uid)
{
	static const char *const tables[] = { "/proc/net/tcp",
	    "/proc/net/tcp6" };
	struct sockaddr_storage	 me, peer;
	struct ucred		 uc;
	socklen_t		 len;
	unsigned char		 me_a[16], peer_a[16], l_a[16], r_a[16];
	unsigned int		 me_p, peer_p, l_p, r_p;
	unsigned long		 u;
	char			 line[512], local[64], remote[64];
	FILE			*f;
	size_t			 i;
	int			 found = 0;

	len = sizeof(me);
	if (getsockname(fd, (struct sockaddr *)&me, &len) == -1)
		return -1;
	if (me.ss_family == AF_UNIX) {
		len = sizeof(uc);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1 ||
		    len != sizeof(uc))
			return -1;
		*uid = uc.uid;
		return 0;
	}
	len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == -1 ||
	    ctl_inet_key(&me, me_a, &me_p) == -1 ||
	    ctl_inet_key(&peer, peer_a, &peer_p) == -1)
		return -1;
	for (i = 0; i < nitems(tables) && !found; i++) {
		if ((f = fopen(tables[i], "re")) == NULL)
			continue;
		/* sl local rem st tx:rx tr:when retrnsmt uid ... */
		while (!found && fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "%*s %63s %63s %*s %*s %*s %*s %lu",
			    local, remote, &u) == 3 &&
			    ctl_proc_key(local, i == 1, l_a, &l_p) == 0 &&
			    ctl_proc_key(remote, i == 1, r_a, &r_p) == 0 &&
			    l_p == peer_p && r_p == me_p &&
			    memcmp(l_a, peer_a, 16) == 0 &&
			    memcmp(r_a, me_a, 16) == 0) {
				*uid = (uid_t)u;
				found = 1;
			}
		fclose(f);
	}
	return found ? 0 : -1;
}

static void
ctl_xfer_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_xfer	*x = arg;
	int		 e = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		x->connected = 1;
		x->ctl->server_known = ctl_server_uid(bufferevent_getfd(bev),
		    &x->ctl->server_uid) == 0;
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (!x->connected) {
			x->unreachable = 1;
			ctl_xfer_fail(x, "%s", strerror(e));
		} else
			ctl_xfer_fail(x, "connection lost: %s", strerror(e));
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* What came with the close may complete the reply. */
		ctl_xfer_read(bev, x);
		if (x->done)
			return;
		if (!x->have_head)
			ctl_xfer_fail(x, "connection closed without a reply");
		else if (x->clen >= 0)
			ctl_xfer_fail(x, "reply cut short");
		else
			ctl_xfer_finish(x);
	}
}

static void
ctl_xfer_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_xfer	*x = arg;

	if (!x->connected) {
		x->unreachable = 1;
		ctl_xfer_fail(x, "no connection within %d s",
		    x->ctl->timeout_s);
	} else
		ctl_xfer_fail(x, "no reply within %d s", x->ctl->timeout_s);
}

/*
 * Send one request and wait for the whole reply, at most timeout_s
 * seconds.  Returns 0 and the reply (the caller frees r->body), or -1
 * after saying why on standard error.
 */
static int
ctl_http(struct ctl *c, const char *method, const char *path,
    struct ctl_reply *r)
{
	struct ctl_xfer		 x;
	struct evbuffer		*in;
	struct timeval		 tv;
	struct sigaction	 sa, old;
	int			 rc = -1;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	x.ctl = c;
	x.clen = -1;
	/* A daemon that goes away mid-write must not kill us. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, &old) == -1)
		fatal("sigaction");
	if ((x.bev = bufferevent_socket_new(c->base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (x.timer = evtimer_new(c->base, ctl_xfer_timeout, &x)) == NULL)
		fatalx("out of memory");
	bufferevent_setcb(x.bev, ctl_xfer_read, NULL, ctl_xfer_event, &x);
	if (bufferevent_enable(x.bev, EV_READ | EV_WRITE) == -1 ||
	    evbuffer_add_printf(bufferevent_get_output(x.bev),
	    "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: meshtunectl/%s\r\n"
	    "Accept: application/json\r\nConnection: close\r\n%s%s%s%s\r\n",
	    method, path, c->ss.ss_family == AF_UNIX ? "localhost" : c->addr,
	    PACKAGE_VERSION, strcmp(method, "POST") == 0 ?
	    "Content-Length: 0\r\n" : "",
	    c->token[0] != '\0' ? "Authorization: Bearer " : "", c->token,
	    c->token[0] != '\0' ? "\r\n" : "") == -1)
		fatalx("cannot queue the request");
	tv.tv_sec = c->timeout_s;
	tv.tv_usec = 0;
	evtimer_add(x.timer, &tv);
	if (bufferevent_socket_connect(x.bev, (struct sockaddr *)&c->ss,
	    (int)c->sslen) == -1 && !x.done) {
		x.unreachable = 1;
		ctl_xfer_fail(&x, "%s", strerror(errno));
	}
	while (!x.done)
		if (event_base_loop(c->base, EVLOOP_ONCE) == -1)
			ctl_xfer_fail(&x, "event loop failed");
	if (x.failed && x.unreachable)
		ctl_err("cannot reach meshtuned at %s: %s (is it running? "
		    "see -s)", c->addr, x.err);
	else if (x.failed)
		ctl_err("bad reply from meshtuned at %s: %s", c->addr, x.err);
	else {
		in = bufferevent_get_input(x.bev);
		r->len = x.clen >= 0 ? (size_t)x.clen :
		    evbuffer_get_length(in);
		r->body = xmalloc(r->len + 1);
		if (evbuffer_remove(in, r->body, r->len) != (int)r->len)
			fatalx("evbuffer_remove");
		r->body[r->len] = '\0';
		r->code = x.code;
		rc = 0;
	}
	event_free(x.timer);
	bufferevent_free(x.bev);
	if (sigaction(SIGPIPE, &old, NULL) == -1)
		fatal("sigaction");
	return rc;
}

/*
 * A request whose answer is JSON.  Returns CTL_OK with the parsed
 * document and the reply (the caller frees both), or CTL_EDAEMON after
 * printing the daemon's error or what went wrong.
 */
static int
ctl_call(struct ctl *c, const char *method, const char *path, cJSON **docp,
    struct ctl_reply *r)
{
	cJSON		*doc;
	const char	*msg;

	*docp = NULL;
	if (ctl_http(c, method, path, r) == -1)
		return CTL_EDAEMON;
	doc = cJSON_ParseWithLength(r->body, r->len);
	if (r->code != 200) {
		if ((msg = ctl_jstr(doc, "error")) != NULL)
			ctl_err("meshtuned: %s", msg);
		else
			ctl_err("meshtuned answered HTTP %d to %s %s", r->code,
			    method, path);
	} else if (doc == NULL)
		ctl_err("bad reply from meshtuned at %s: not JSON", c->addr);
	else {
		*docp = doc;
		return CTL_OK;
	}
	cJSON_Delete(doc);
	free(r->body);
	r->body = NULL;
	return CTL_EDAEMON;
}

/* --json: the daemon's text as it came, ending in a newline. */
static void
ctl_put_raw(const struct ctl_reply *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		putchar('\n');
}

/*
 * Options of a command: --json always, and whatever long/short options
 * the command adds (handled by its own loop).  This one is for commands
 * with only --json and at most max operands; returns the index of the
 * first operand, or -1 after a usage message.
 */
static int
ctl_simple_args(struct ctl *c, const struct ctl_cmd *cmd, int argc,
    char **argv, int max)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int	ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j')
			c->json = 1;
		else {
			ctl_bad_args(cmd, "%s: unknown option %s", cmd->name,
			    argv[optind - 1]);
			return -1;
		}
	}
	if (argc - optind > max) {
		ctl_bad_args(cmd, "%s: unexpected argument %s", cmd->name,
		    argv[optind + max]);
		return -1;
	}
	return optind;
}

static const struct ctl_cmd *
ctl_cmd_find(const char *name)
{
	size_t	i;

	for (i = 0; i < nitems(ctl_cmds); i++)
		if (strcmp(ctl_cmds[i].name, name) == 0)
			return &ctl_cmds[i];
	return NULL;
}

static void
ctl_fmt_uptime(double s, char *buf, size_t len)
{
	long long	t;

	if (isnan(s)) {
		snprintf(buf, len, "-");
		return;
	}
	t = (long long)s;
	if (t >= 86400)
		snprintf(buf, len, "%lldd %02lldh %02lldm", t / 86400,
		    t % 86400 / 3600, t % 3600 / 60);
	else if (t >= 3600)
		snprintf(buf, len, "%lldh %02lldm %02llds", t / 3600,
		    t % 3600 / 60, t % 60);
	else if (t >= 60)
		snprintf(buf, len, "%lldm %02llds", t / 60, t % 60);
	else
		snprintf(buf, len, "%.1fs", s);
}

static int
ctl_status(struct ctl *c, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	struct ctl_reply	 r;
	const cJSON		*in, *errors, *e, *tick;
	cJSON			*doc;
	char			 buf[512], n[32], more[256], when[64];
	double			 total = 0;
	size_t			 off = 0;
	int			 rc;

	if (ctl_simple_args(c, cmd, argc, argv, 0) == -1)
		return CTL_EUSAGE;
	if ((rc = ctl_call(c, "GET", "/v1/status", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		ctl_put_raw(&r);
		goto out;
	}
	ctl_kv("version", ctl_jstr(doc, "version"));
	ctl_fmt_uptime(ctl_jnum(doc, "uptime_s"), buf, sizeof(buf));
	ctl_kv("uptime", buf);
	ctl_kv("dry run", ctl_jbool(doc, "dry_run"));
	ctl_kv("paused", ctl_jbool(doc, "paused"));
	ctl_jnum_fmt(doc, "series", buf, sizeof(buf));
	ctl_kv("series", buf);
	in = cJSON_GetObjectItemCaseSensitive(doc, "ingest");
	ctl_jnum_fmt(in, "lines", buf, sizeof(buf));
	ctl_kv("ingest lines", buf);
	errors = cJSON_GetObjectItemCaseSensitive(in, "errors");
	more[0] = '\0';
	cJSON_ArrayForEach(e, errors) {
		if (!cJSON_IsNumber(e) || e->valuedouble == 0 ||
		    e->string == NULL)
			continue;
		total += e->valuedouble;
		ctl_fmt_num(e->valuedouble, n, sizeof(n));
		if (off < sizeof(more))
			off += (size_t)snprintf(more + off, sizeof(more) - off,
			    "%s%s %s", off == 0 ? " (" : ", ", e->string, n);
	}
	if (off > 0 && off < sizeof(more) - 1)
		strcat(more, ")");
	if (cJSON_IsObject(errors)) {
		ctl_fmt_num(total, n, sizeof(n));
		snprintf(buf, sizeof(buf), "%s%s", n, more);
	} else
		snprintf(buf, sizeof(buf), "-");
	ctl_kv("ingest errors", buf);
	ctl_jnum_fmt(in, "dropped", buf, sizeof(buf));
	ctl_kv("ingest dropped", buf);
	ctl_jnum_fmt(in, "kernel_drops", buf, sizeof(buf));
	ctl_kv("kernel drops", buf);
	tick = cJSON_GetObjectItemCaseSensitive(doc, "last_tick");
	if (ctl_jstr(tick, "time") == NULL)
		snprintf(buf, sizeof(buf), "none yet");
	else {
		ctl_local_time(ctl_jstr(tick, "time"), when, sizeof(when));
		ctl_fmt_us(ctl_jnum(tick, "duration_us"), n, sizeof(n));
		snprintf(buf, sizeof(buf), "%s, took %s, %.0f proposals, "
		    "%.0f actions", when, n, ctl_jnum(tick, "proposals"),
		    ctl_jnum(tick, "actions"));
	}
	ctl_kv("last tick", buf);
	ctl_jnum_fmt(doc, "reloads", n, sizeof(n));
	ctl_jnum_fmt(doc, "reload_failures", more, sizeof(more));
	snprintf(buf, sizeof(buf), "%s (%s failed)", n, more);
	ctl_kv("reloads", buf);
out:
	cJSON_Delete(doc);
	free(r.body);
	return CTL_OK;
}

static int
ctl_cmp_name(const void *a, const void *b)
{
	const char	*na = ctl_jstr(*(const cJSON *const *)a, "name");
	const char	*nb = ctl_jstr(*(const cJSON *const *)b, "name");

	return strcmp(na != NULL ? na : "", nb != NULL ? nb : "");
}

/* The unit of a series, from the suffix of its name before any tags. */
static const char *
ctl_unit(const char *key)
{
	size_t	len, slen, i;

	len = strcspn(key, "{");
	for (i = 0; i < nitems(ctl_units); i++) {
		slen = strlen(ctl_units[i].suffix);
		if (len > slen &&
		    strncmp(key + len - slen, ctl_units[i].suffix, slen) == 0)
			return ctl_units[i].unit;
	}
	return NULL;
}

static void
ctl_stat_line(const cJSON *doc, const char *name, const char *unit)
{
	char	num[64], buf[96];
	double	v = ctl_jnum(doc, name);

	ctl_fmt_stat(v, num, sizeof(num));
	if (isnan(v) || unit == NULL)
		snprintf(buf, sizeof(buf), "%s", num);
	else if (unit[0] == '/')
		snprintf(buf, sizeof(buf), "%s%s", num, unit);
	else
		snprintf(buf, sizeof(buf), "%s %s", num, unit);
	ctl_kv(name, buf);
}

static void
ctl_series_one(const cJSON *doc)
{
	static const char *const stats[] = { "sum", "min", "max", "mean",
	    "p50", "p90", "p95", "p99", "p999", "last", "total" };
	const char	*name = ctl_jstr(doc, "name");
	const char	*type = ctl_jstr(doc, "type");
	const char	*unit = name != NULL ? ctl_unit(name) : NULL;
	char		 rate[32];
	size_t		 i;

	ctl_kv("name", name);
	ctl_kv("type", type);
	ctl_stat_line(doc, "window_s", "s");
	ctl_stat_line(doc, "count", NULL);
	/* A counter's rate is its unit per second, others' samples. */
	if (type != NULL && unit != NULL && strcmp(type, "counter") == 0) {
		snprintf(rate, sizeof(rate), "%s/s", unit);
		ctl_stat_line(doc, "rate", rate);
	} else
		ctl_stat_line(doc, "rate", "/s");
	for (i = 0; i < nitems(stats); i++)
		if (strcmp(stats[i], "total") != 0 ||
		    cJSON_HasObjectItem(doc, "total"))
			ctl_stat_line(doc, stats[i], unit);
}

static int
ctl_series(struct ctl *c, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct ctl_col cols[] = { { "NAME", 0 }, { "TYPE", 0 } };
	struct ctl_table	 t;
	struct ctl_reply	 r;
	cJSON			*doc, *item, **v;
	const char		*row[2];
	char			*path, *enc;
	size_t			 n = 0, i;
	int			 first, rc;

	first = ctl_simple_args(c, cmd, argc, argv, 1);
	if (first == -1)
		return CTL_EUSAGE;
	if (first < argc) {
		if (argv[first][0] == '\0')
			return ctl_bad_args(cmd,
			    "series: empty series name");
		if ((enc = evhttp_uriencode(argv[first], -1, 0)) == NULL)
			fatalx("out of memory");
		xasprintf(&path, "/v1/series/%s", enc);
		free(enc);
		rc = ctl_call(c, "GET", path, &doc, &r);
		free(path);
		if (rc != CTL_OK)
			return rc;
		if (c->json)
			ctl_put_raw(&r);
		else
			ctl_series_one(doc);
		goto out;
	}
	if ((rc = ctl_call(c, "GET", "/v1/series", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		ctl_put_raw(&r);
		goto out;
	}
	v = xreallocarray(NULL, (size_t)cJSON_GetArraySize(doc) + 1,
	    sizeof(*v));
	cJSON_ArrayForEach(item, doc)
		v[n++] = item;
	qsort(v, n, sizeof(*v), ctl_cmp_name);
	ctl_table_init(&t, cols, nitems(cols));
	for (i = 0; i < n; i++) {
		row[0] = ctl_jstr(v[i], "name");
		row[1] = ctl_jstr(v[i], "type");
		ctl_table_add(&t, row);
	}
	ctl_table_print(&t);
	free(v);
out:
	cJSON_Delete(doc);
	free(r.body);
	return CTL_OK;
}

static int
ctl_strategies(struct ctl *c, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct ctl_col cols[] = {
		{ "NAME", 0 }, { "ENABLED", 0 }, { "EVALUATIONS", 1 },
		{ "PROPOSALS", 1 }, { "ERRORS", 1 }, { "LAST RUN", 1 },
		{ "LAST DECISION", 0 },
	};
	struct ctl_table	 t;
	struct ctl_reply	 r;
	const cJSON		*s;
	cJSON			*doc;
	const char		*row[nitems(cols)], *why;
	char			 ev[32], pr[32], er[32], us[32], *dec;
	int			 rc;

	if (ctl_simple_args(c, cmd, argc, argv, 0) == -1)
		return CTL_EUSAGE;
	if ((rc = ctl_call(c, "GET", "/v1/strategies", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		ctl_put_raw(&r);
		goto out;
	}
	ctl_table_init(&t, cols, nitems(cols));
	cJSON_ArrayForEach(s, doc) {
		ctl_jnum_fmt(s, "evaluations", ev, sizeof(ev));
		ctl_jnum_fmt(s, "proposals", pr, sizeof(pr));
		ctl_jnum_fmt(s, "errors", er, sizeof(er));
		ctl_fmt_us(ctl_jnum(s, "last_duration_us"), us, sizeof(us));
		dec = NULL;
		if ((why = ctl_jstr(s, "disabled_reason")) != NULL)
			xasprintf(&dec, "disabled: %s", why);
		row[0] = ctl_jstr(s, "name");
		row[1] = ctl_jbool(s, "enabled");
		row[2] = ev;
		row[3] = pr;
		row[4] = er;
		row[5] = us;
		row[6] = dec != NULL ? dec : ctl_jstr(s, "last_decision");
		ctl_table_add(&t, row);
		free(dec);
	}
	ctl_table_print(&t);
out:
	cJSON_Delete(doc);
	free(r.body);
	return CTL_OK;
}

/* Whether an audit row passes --strategy and --since. */
static int
ctl_action_match(const cJSON *a, const char *strategy, int have_since,
    int64_t since)
{
	const char	*s;
	int64_t		 ms;

	if (strategy != NULL && ((s = ctl_jstr(a, "strategy")) == NULL ||
	    strcmp(s, strategy) != 0))
		return 0;
	if (have_since && ((s = ctl_jstr(a, "ts")) == NULL ||
	    ctl_parse_iso(s, &ms) == -1 || ms < since))
		return 0;
	return 1;
}

static void
ctl_actions_table(const cJSON *doc)
{
	static const struct ctl_col cols[] = {
		{ "ID", 1 }, { "TIME", 0 }, { "STRATEGY", 0 }, { "KIND", 0 },
		{ "KNOB", 0 }, { "CHANGE", 0 }, { "STATUS", 0 },
		{ "OUTCOME", 0 }, { "REASON", 0 },
	};
	struct ctl_table	 t;
	const cJSON		*a;
	const char		*row[nitems(cols)], *err, *why;
	char			 id[32], when[64], o[32], n[32], change[80];
	char			*reason;

	ctl_table_init(&t, cols, nitems(cols));
	cJSON_ArrayForEach(a, doc) {
		ctl_jnum_fmt(a, "id", id, sizeof(id));
		ctl_local_time(ctl_jstr(a, "ts"), when, sizeof(when));
		ctl_jnum_fmt(a, "old_value", o, sizeof(o));
		ctl_jnum_fmt(a, "new_value", n, sizeof(n));
		snprintf(change, sizeof(change), "%s -> %s", o, n);
		why = ctl_jstr(a, "reason");
		if ((err = ctl_jstr(a, "error")) != NULL)
			xasprintf(&reason, "%s (error: %s)",
			    why != NULL ? why : "-", err);
		else
			reason = xstrdup(why != NULL ? why : "-");
		row[0] = id;
		row[1] = when;
		row[2] = ctl_jstr(a, "strategy");
		row[3] = ctl_jstr(a, "kind");
		row[4] = ctl_jstr(a, "knob");
		row[5] = change;
		row[6] = ctl_jstr(a, "status");
		row[7] = ctl_jstr(a, "outcome");
		row[8] = reason;
		ctl_table_add(&t, row);
		free(reason);
	}
	ctl_table_print(&t);
}

static int
ctl_actions(struct ctl *c, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "strategy", required_argument, NULL, 'S' },
		{ "since", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_reply	 r;
	cJSON			*doc, *a, *next;
	const char		*strategy = NULL;
	char			*ep, *text, path[64];
	int64_t			 since = 0;
	long			 limit = CTL_ACTIONS_N, kept = 0;
	int			 ch, have_since = 0, filter, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":n:", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			c->json = 1;
			break;
		case 'n':
			errno = 0;
			limit = strtol(optarg, &ep, 10);
			if (*optarg == '\0' || *ep != '\0' || errno != 0 ||
			    limit < 1 || limit > AUDIT_LIMIT_MAX)
				return ctl_bad_args(cmd, "actions: -n: "
				    "expected a number in 1..%d, got \"%s\"",
				    AUDIT_LIMIT_MAX, optarg);
			break;
		case 'S':
			strategy = optarg;
			break;
		case 'T':
			if (ctl_parse_since(optarg, (int64_t)clock_wall_ms(),
			    &since) == -1)
				return ctl_bad_args(cmd, "actions: --since: "
				    "expected an ISO-8601 time or a span like "
				    "30s, 10m, 2h, 1d, 1w; got \"%s\"", optarg);
			have_since = 1;
			break;
		case ':':
			return ctl_bad_args(cmd, "actions: %s needs an "
			    "argument", argv[optind - 1]);
		default:
			return ctl_bad_args(cmd, "actions: unknown option %s",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctl_bad_args(cmd, "actions: unexpected argument %s",
		    argv[optind]);
	/* Filters look through as many rows as the daemon gives. */
	filter = strategy != NULL || have_since;
	snprintf(path, sizeof(path), "/v1/actions?limit=%ld",
	    filter ? (long)AUDIT_LIMIT_MAX : limit);
	if ((rc = ctl_call(c, "GET", path, &doc, &r)) != CTL_OK)
		return rc;
	if (!cJSON_IsArray(doc)) {
		ctl_err("bad reply from meshtuned at %s: not an array",
		    c->addr);
		rc = CTL_EDAEMON;
		goto out;
	}
	if (c->json && !filter) {
		ctl_put_raw(&r);
		goto out;
	}
	for (a = doc->child; a != NULL; a = next) {
		next = a->next;
		if (kept < limit && ctl_action_match(a, strategy, have_since,
		    since))
			kept++;
		else
			cJSON_Delete(cJSON_DetachItemViaPointer(doc, a));
	}
	if (c->json) {
		text = number_json_print(doc);
		puts(text);
		free(text);
	} else
		ctl_actions_table(doc);
out:
	cJSON_Delete(doc);
	free(r.body);
	return rc;
}

/*
 * Read the API token from path into c->token.  The file must hold what
 * meshtuned writes there, CTL_TOKEN_HEX hexadecimal digits on one line,
 * so that the first line of another file (a secret named by whatever
 * answers at the API's address) is never sent as a credential.  With
 * owner set, it must also be a regular file of *owner that its group
 * and others cannot read.  Returns 0, or -1 with a sentence in why.
 */
static int
ctl_read_token(struct ctl *c, const char *path, const uid_t *owner,
    char *why, size_t whylen)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 len;
	int		 fd;

	c->token[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
	    (owner != NULL ? O_NOFOLLOW : 0))) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		close(fd);
		return -1;
	}
	if (owner != NULL && (st.st_uid != *owner ||
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)) {
		snprintf(why, whylen, "meshtuned at %s is served by user %lu, "
		    "but its token file %s belongs to user %lu, mode %04o: "
		    "not read (give the token with -k)", c->addr,
		    (unsigned long)*owner, path, (unsigned long)st.st_uid,
		    (unsigned int)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	n = read(fd, c->token, sizeof(c->token) - 1);
	close(fd);
	if (n == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	c->token[n] = '\0';
	len = strspn(c->token, "0123456789abcdef");
	if (len != CTL_TOKEN_HEX || (c->token[len] != '\0' &&
	    strcmp(c->token + len, "\n") != 0)) {
		c->token[0] = '\0';
		snprintf(why, whylen, "not a meshtuned API token (%d "
		    "hexadecimal digits)", CTL_TOKEN_HEX);
		return -1;
	}
	c->token[len] = '\0';
	return 0;
}

/*
 * The credential for a request that changes state: the token from -k or
 * MESHTUNE_TOKEN_FILE, or else from the file the daemon names in
 * /v1/status, if the user who answered owns it (anyone may answer at
 * the API's address while meshtuned is away).  Over the unix socket,
 * root and meshtuned's own user need none, so a token they cannot read
 * is no error there.  Returns CTL_OK, or CTL_EDAEMON after saying why.
 */
static int
ctl_load_token(struct ctl *c)
{
	struct ctl_reply	 r;
	const cJSON		*api;
	cJSON			*doc;
	const char		*path;
	char			 why[512];
	int			 rc;

	if (c->token_file != NULL) {
		if (ctl_read_token(c, c->token_file, NULL, why,
		    sizeof(why)) == -1) {
			ctl_err("cannot read the API token %s: %s",
			    c->token_file, why);
			return CTL_EDAEMON;
		}
		return CTL_OK;
	}
	if ((rc = ctl_call(c, "GET", "/v1/status", &doc, &r)) != CTL_OK)
		return rc;
	api = cJSON_GetObjectItemCaseSensitive(doc, "api");
	rc = CTL_OK;
	if ((path = ctl_jstr(api, "token_file")) == NULL)
		;
	else if (!c->server_known) {
		if (c->ss.ss_family != AF_UNIX) {
			ctl_err("cannot tell which user serves %s, so the "
			    "token file it names is not read; give the token "
			    "with -k", c->addr);
			rc = CTL_EDAEMON;
		}
	} else if (ctl_read_token(c, path, &c->server_uid, why,
	    sizeof(why)) == -1 && c->ss.ss_family != AF_UNIX) {
		ctl_err("cannot read the API token %s: %s (changing "
		    "meshtuned's state takes root or the user it runs as, or "
		    "its unix socket; see -k)", path, why);
		rc = CTL_EDAEMON;
	}
	cJSON_Delete(doc);
	free(r.body);
	return rc;
}

/* A POST answered by {"ok": true}: say what was done. */
static int
ctl_post(struct ctl *c, const char *path, const char *done)
{
	struct ctl_reply	 r;
	cJSON			*doc;
	int			 rc;

	if ((rc = ctl_load_token(c)) != CTL_OK ||
	    (rc = ctl_call(c, "POST", path, &doc, &r)) != CTL_OK)
		return rc;
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok"))) {
		ctl_err("bad reply from meshtuned at %s: no \"ok\"", c->addr);
		rc = CTL_EDAEMON;
	} else if (c->json)
		ctl_put_raw(&r);
	else
		printf("%s\n", done);
	cJSON_Delete(doc);
	free(r.body);
	return rc;
}

static int
ctl_reload(struct ctl *c, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	if (ctl_simple_args(c, cmd, argc, argv, 0) == -1)
		return CTL_EUSAGE;
	return ctl_post(c, "/v1/reload", "configuration and plugins reloaded");
}

static int
ctl_pause(struct ctl *c, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	if (ctl_simple_args(c, cmd, argc, argv, 0) == -1)
		return CTL_EUSAGE;
	return ctl_post(c, "/v1/pause", "paused: no actions are applied "
	    "until resume");
}

static int
ctl_resume(struct ctl *c, const struct ctl_cmd *cmd, int argc,
    char **argv)
{
	char	*enc, *path, *done, *knob;
	int	 first, rc;

	first = ctl_simple_args(c, cmd, argc, argv, 1);
	if (first == -1)
		return CTL_EUSAGE;
	if (first == argc)
		return ctl_post(c, "/v1/resume", "resumed");
	if (argv[first][0] == '\0')
		return ctl_bad_args(cmd,
		    "resume: empty knob name");
	if ((enc = evhttp_uriencode(argv[first], -1, 0)) == NULL)
		fatalx("out of memory");
	xasprintf(&path, "/v1/resume?knob=%s", enc);
	knob = ctl_clean(argv[first]);
	xasprintf(&done, "knob %s released: meshtune may move it again",
	    knob);
	rc = ctl_post(c, path, done);
	free(knob);
	free(done);
	free(path);
	free(enc);
	return rc;
}

/* Append "; part" (or "part" first) to the growing text *s. */
static void
ctl_join(char **s, const char *fmt, ...) __printflike(2, 3);

static void
ctl_join(char **s, const char *fmt, ...)
{
	va_list	 ap;
	char	*part, *t;

	va_start(ap, fmt);
	if (vasprintf(&part, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	xasprintf(&t, "%s%s%s", *s != NULL ? *s : "", *s != NULL ? "; " : "",
	    part);
	free(part);
	free(*s);
	*s = t;
}

/* What holds a knob of /v1/knobs, for people: "cooldown 23s (cpu)". */
static char *
ctl_knob_state(const cJSON *k)
{
	const cJSON	*x, *h;
	char		 a[32], b[32], *s = NULL;
	const char	*by;

	if (cJSON_IsObject(x = cJSON_GetObjectItemCaseSensitive(k,
	    "manual"))) {
		ctl_jnum_fmt(x, "old", a, sizeof(a));
		ctl_jnum_fmt(x, "new", b, sizeof(b));
		ctl_join(&s, "manual (meshtune set %s, reads %s)", a, b);
	}
	if (!strcmp(ctl_jstr(k, "state") ? ctl_jstr(k, "state") : "", "busy"))
		ctl_join(&s, "in flight");
	if (!isnan(ctl_jnum(k, "verifying"))) {
		ctl_jnum_fmt(k, "verifying", a, sizeof(a));
		ctl_join(&s, "verifying #%s", a);
	}
	if (cJSON_IsObject(x = cJSON_GetObjectItemCaseSensitive(k,
	    "frozen"))) {
		ctl_jnum_fmt(x, "left_s", a, sizeof(a));
		by = ctl_jstr(x, "by");
		ctl_join(&s, "frozen %ss (reversals by %s)", a, by ? by : "-");
	}
	if (cJSON_IsObject(x = cJSON_GetObjectItemCaseSensitive(k,
	    "backoff"))) {
		ctl_jnum_fmt(x, "left_s", a, sizeof(a));
		ctl_jnum_fmt(x, "failures", b, sizeof(b));
		ctl_join(&s, "backoff %ss (%s failures)", a, b);
	}
	if (cJSON_IsObject(x = cJSON_GetObjectItemCaseSensitive(k,
	    "cooldown"))) {
		ctl_jnum_fmt(x, "left_s", a, sizeof(a));
		by = ctl_jstr(x, "by");
		ctl_join(&s, "cooldown %ss (after %s%s)", a,
		    strcmp(ctl_jstr(x, "cause") ? ctl_jstr(x, "cause") : "",
		    "rollback") == 0 ? "the rollback of " : "", by ? by : "-");
	}
	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(k, "holds")) {
		ctl_jnum_fmt(h, "left_s", a, sizeof(a));
		by = ctl_jstr(h, "strategy");
		ctl_join(&s, "%s held %ss (%s)", by ? by : "-", a,
		    ctl_jstr(h, "cause") ? ctl_jstr(h, "cause") : "-");
	}
	if (s == NULL)
		s = xstrdup("ok");
	return s;
}

static int
ctl_knobs(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct ctl_col cols[] = {
		{ "NAME", 0 }, { "KIND", 0 }, { "VALUE", 1 }, { "BOUNDS", 0 },
		{ "OWNER", 0 }, { "STATE", 0 }, { "LAST ACTION", 0 },
	};
	struct ctl_table	 t;
	struct ctl_reply	 r;
	const cJSON		*k, *l;
	cJSON			*doc;
	const char		*row[nitems(cols)];
	char			 v[32], lo[32], hi[32], bounds[80], o[32], n[32];
	char			 id[32], *state, *last;
	int			 rc;

	if (ctl_simple_args(c, cmd, argc, argv, 0) == -1)
		return CTL_EUSAGE;
	if ((rc = ctl_call(c, "GET", "/v1/knobs", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		ctl_put_raw(&r);
		goto out;
	}
	ctl_table_init(&t, cols, nitems(cols));
	cJSON_ArrayForEach(k, doc) {
		ctl_jnum_fmt(k, "value", v, sizeof(v));
		ctl_jnum_fmt(k, "min", lo, sizeof(lo));
		ctl_jnum_fmt(k, "max", hi, sizeof(hi));
		snprintf(bounds, sizeof(bounds), "%s..%s", lo, hi);
		state = ctl_knob_state(k);
		last = NULL;
		if (cJSON_IsObject(l = cJSON_GetObjectItemCaseSensitive(k,
		    "last_action"))) {
			ctl_jnum_fmt(l, "id", id, sizeof(id));
			ctl_jnum_fmt(l, "old_value", o, sizeof(o));
			ctl_jnum_fmt(l, "new_value", n, sizeof(n));
			xasprintf(&last, "#%s %s %s -> %s %s (%s)", id,
			    ctl_jstr(l, "kind") ? ctl_jstr(l, "kind") : "-",
			    o, n, ctl_jstr(l, "status") ?
			    ctl_jstr(l, "status") : "-",
			    ctl_jstr(l, "strategy") ?
			    ctl_jstr(l, "strategy") : "-");
		}
		row[0] = ctl_jstr(k, "name");
		row[1] = ctl_jstr(k, "kind");
		row[2] = v;
		row[3] = bounds;
		row[4] = ctl_jstr(k, "owner");
		row[5] = state;
		row[6] = last;
		ctl_table_add(&t, row);
		free(state);
		free(last);
	}
	ctl_table_print(&t);
out:
	cJSON_Delete(doc);
	free(r.body);
	return CTL_OK;
}

static void
ctl_help(void)
{
	size_t	i;

	ctl_usage(stdout);
	printf("\ncommands:\n");
	for (i = 0; i < nitems(ctl_cmds); i++)
		printf("  %-12s%s\n", ctl_cmds[i].name, ctl_cmds[i].help);
	printf("\noptions:\n"
	    "  -s ADDR     meshtuned's API: HOST:PORT or a unix socket path\n"
	    "              (default: $%s, else %s)\n"
	    "  -t SECONDS  give up on a request after this long (default %d)\n"
	    "  -k FILE     the API token, for reload, pause and resume\n"
	    "              (default: $%s, else the file meshtuned names)\n"
	    "  --json      print the daemon's JSON, for scripts\n"
	    "  -h, --help  this text;  -V, --version  the version\n",
	    CTL_ENV_ADDR, CTL_DEFAULT_ADDR, CTL_TIMEOUT_S, CTL_ENV_TOKEN);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_cmd	*cmd;
	struct ctl		 c;
	const char		*env;
	char			*ep;
	long			 n;
	int			 ch, rc;

	log_init(1, 0);
	tzset();
	memset(&c, 0, sizeof(c));
	c.timeout_s = CTL_TIMEOUT_S;
	c.addr = CTL_DEFAULT_ADDR;
	if ((env = getenv(CTL_ENV_ADDR)) != NULL && *env != '\0') {
		c.addr = env;
		c.addr_from = CTL_ENV_ADDR;
	}
	if ((env = getenv(CTL_ENV_TOKEN)) != NULL && *env != '\0')
		c.token_file = env;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:hk:s:t:V", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			ctl_help();
			return CTL_OK;
		case 'k':
			c.token_file = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 's':
			c.addr = optarg;
			c.addr_from = "-s";
			break;
		case 't':
			errno = 0;
			n = strtol(optarg, &ep, 10);
			if (*optarg == '\0' || *ep != '\0' || errno != 0 ||
			    n < 1 || n > CTL_MAX_TIMEOUT_S) {
				ctl_err("-t: expected seconds in 1..%d, got "
				    "\"%s\"", CTL_MAX_TIMEOUT_S, optarg);
				ctl_usage(stderr);
				return CTL_EUSAGE;
			}
			c.timeout_s = (int)n;
			break;
		case 'V':
			printf("meshtunectl %s\n", PACKAGE_VERSION);
			return CTL_OK;
		case ':':
			ctl_err("%s needs an argument", argv[optind - 1]);
			ctl_usage(stderr);
			return CTL_EUSAGE;
		default:
			ctl_err("unknown option %s", argv[optind - 1]);
			ctl_usage(stderr);
			return CTL_EUSAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		ctl_err("no command given");
		ctl_usage(stderr);
		return CTL_EUSAGE;
	}
	if ((cmd = ctl_cmd_find(argv[0])) == NULL) {
		ctl_err("unknown command \"%s\"", argv[0]);
		ctl_usage(stderr);
		return CTL_EUSAGE;
	}
	if (ctl_parse_addr(&c, c.addr) == -1) {
		ctl_err("bad address \"%s\"%s%s: expected HOST:PORT with a "
		    "numeric host and a port in 1..65535 (127.0.0.1:9120, "
		    "[::1]:9120) or an absolute unix socket path", c.addr,
		    c.addr_from != NULL ? " from " : "",
		    c.addr_from != NULL ? c.addr_from : "");
		return CTL_EUSAGE;
	}
	if ((c.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	rc = cmd->run(&c, cmd, argc, argv);
	event_base_free(c.base);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_err("cannot write the output");
		return CTL_EDAEMON;
	}
	return rc;
}
