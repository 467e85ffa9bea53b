/*
 * log.c -- logging to stderr (foreground) or syslog, and fatal errors.
 *
 * log_warn appends strerror(errno) and leaves errno as it found it;
 * log_warnx does not append it.  libevent's own messages come here too.
 *
 * Two guards stand between a fault and the log:
 *
 *	A line longer than LOG_LINE_MAX is cut in the middle, not at the
 *	end: its head and its tail are kept, since the reason is usually
 *	last ("refused strategy \"<4 KB name>\": name too long").
 *
 *	A message repeated more than LOG_BURST times in LOG_WINDOW_MS is
 *	suppressed until the window ends, and then one line says how many
 *	were and what the last one was.  Messages count as the same when
 *	they differ only in their numbers (an action id, a descriptor, a
 *	count; not digits within a name, as in "eth1" or "queue.0"), so a
 *	storm of "accept: Too many open files" or of one actuator's
 *	failures is cut to a few lines while different knobs' and
 *	different errors' lines all get through.  Debug lines, asked for
 *	with -v, and fatal ones are never suppressed.  log_start runs a
 *	timer that reports a suppression once its window is over even if
 *	nothing else is logged.
 */
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>

#include "meshtuned.h"

#define LOG_NKEYS	64	/* distinct messages tracked at once */

/* One message being counted: its key, its window, what was held back. */
struct log_key {
	uint64_t	 hash;		/* priority and text, numbers folded */
	uint64_t	 window_ms;	/* start of its window; 0: free slot */
	uint64_t	 used_ms;	/* last seen, for replacement */
	unsigned int	 lines;		/* written in this window */
	unsigned int	 suppressed;	/* held back in this window */
	int		 pri;
	char		 last[LOG_SUMMARY_MAX];	/* the last one held back */
};

static int		 log_to_stderr = 1;
static int		 log_verbose;
static struct log_key	 log_keys[LOG_NKEYS];
static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct event	*log_ev_flush;

static void	log_vwrite(int, const char *, va_list) __printflike(2, 0);
static void	log_event_cb(int, const char *);

/*
 * Set up logging: to stderr when foreground is set, else to syslog with
 * the daemon facility.  verbose 0 logs info and up, 1 adds debug.
 */
void
log_init(int foreground, int verbose)
{
	log_to_stderr = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog("meshtuned", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	event_set_log_callback(log_event_cb);
	tzset();
}

/* Change the verbosity at runtime (reload, SIGUSR2 style toggles). */
void
log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

int
log_get_verbose(void)
{
	return log_verbose;
}

/* Close syslog if it was opened, after saying what was suppressed. */
void
log_close(void)
{
	log_suppressed_flush(UINT64_MAX);
	if (!log_to_stderr)
		closelog();
	event_set_log_callback(NULL);
}

/* Write one finished line, cutting its middle if it is too long. */
static void
log_emit(int pri, const char *line)
{
	static const char *const names[] = {
		[LOG_ERR] = "error", [LOG_WARNING] = "warning",
		[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
	};
	char		 cut[LOG_LINE_MAX + 64];
	const char	*text = line;

	if (log_cut(line, cut, sizeof(cut)))
		text = cut;
	if (log_to_stderr) {
		fprintf(stderr, "meshtuned: %s: %s\n",
		    pri < (int)nitems(names) && names[pri] ? names[pri] : "log",
		    text);
		fflush(stderr);
	} else
		syslog(pri, "%s", text);
}

/*
 * Copy line into buf (len bytes) with its middle cut out when it is
 * longer than LOG_LINE_MAX: the first two thirds of that and the last
 * third are kept, around " [... N bytes cut ...] ".  Returns 1 if it cut
 * (buf holds the result), 0 if line is short enough as it is.
 */
int
log_cut(const char *line, char *buf, size_t len)
{
	size_t	 n = strlen(line), head, tail;
	char	 mid[48];

	if (n <= LOG_LINE_MAX)
		return 0;
	head = LOG_LINE_MAX * 2 / 3;
	tail = LOG_LINE_MAX / 3;
	/* Whole UTF-8 characters only at both cuts. */
	while (head > 0 && ((unsigned char)line[head] & 0xc0) == 0x80)
		head--;
	while (tail > 0 && ((unsigned char)line[n - tail] & 0xc0) == 0x80)
		tail--;
	snprintf(mid, sizeof(mid), " [... %zu bytes cut ...] ",
	    n - head - tail);
	snprintf(buf, len, "%.*s%s%s", (int)head, line, mid, line + n - tail);
	return 1;
}

/*
 * FNV-1a of the priority and the text, each number as one '#': a run of
 * digits that does not continue a word, so that "action 123", "fd 7",
 * "1.5" and "10.0.0.1" fold while names such as "f.k0", "eth1",
 * "queue.0" or "peer-2" keep their digits (a storm about one must not
 * hide the others).
 */
static uint64_t
log_hash(int pri, const char *text)
{
	const char	*s;
	uint64_t	 h = 0xcbf29ce484222325ULL ^ (uint64_t)pri;
	int		 fold = 0, word = 0;

	for (s = text; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9') {
			if (fold)
				continue;
			if (!word) {
				fold = 1;
				h = (h ^ '#') * 0x100000001b3ULL;
				continue;
			}
		} else {
			fold = 0;
			word = (*s >= 'a' && *s <= 'z') ||
			    (*s >= 'A' && *s <= 'Z') || *s == '_' ||
			    ((*s == '.' || *s == '-') && word);
		}
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	}
	return h;
}

/* The summary line of a key whose window held lines back; clears it. */
static void
log_summary(struct log_key *k, char *buf, size_t len)
{
	snprintf(buf, len, "%u similar message%s suppressed in %d s, the "
	    "last: %s", k->suppressed, k->suppressed == 1 ? "" : "s",
	    LOG_WINDOW_MS / 1000, k->last);
	k->suppressed = 0;
}

/*
 * Decide whether a line of priority pri and text may be written now
 * (1) or is suppressed (0).  If a window ended with lines held back (of
 * this message, or of the one whose slot it takes), its summary is
 * copied into summary and its priority into *spri; else summary is "".
 */
static int
log_admit(int pri, const char *text, uint64_t now, char *summary,
    size_t len, int *spri)
{
	struct log_key	*k, *free_k = NULL, *old_k = NULL;
	uint64_t	 h = log_hash(pri, text);
	size_t		 i;
	int		 ok;

	summary[0] = '\0';
	pthread_mutex_lock(&log_mtx);
	for (i = 0; i < LOG_NKEYS; i++) {
		k = &log_keys[i];
		if (k->window_ms == 0) {
			if (free_k == NULL)
				free_k = k;
			continue;
		}
		if (k->hash == h)
			break;
		if (old_k == NULL || k->used_ms < old_k->used_ms)
			old_k = k;
	}
	if (i == LOG_NKEYS) {
		/* A new message: a free slot, or the least recent one. */
		k = free_k != NULL ? free_k : old_k;
		if (k->window_ms != 0 && k->suppressed > 0) {
			log_summary(k, summary, len);
			*spri = k->pri;
		}
		memset(k, 0, sizeof(*k));
		k->hash = h;
		k->window_ms = now;
	} else if (now - k->window_ms >= LOG_WINDOW_MS) {
		if (k->suppressed > 0) {
			log_summary(k, summary, len);
			*spri = k->pri;
		}
		k->window_ms = now;
		k->lines = 0;
	}
	k->pri = pri;
	k->used_ms = now;
	if ((ok = k->lines < LOG_BURST))
		k->lines++;
	else {
		k->suppressed++;
		snprintf(k->last, sizeof(k->last), "%s", text);
	}
	pthread_mutex_unlock(&log_mtx);
	return ok;
}

/*
 * Write the summaries of suppressed messages whose window has ended by
 * now_ms (UINT64_MAX: all of them, as at exit).
 */
void
log_suppressed_flush(uint64_t now_ms)
{
	char	 line[LOG_SUMMARY_MAX + 96];
	size_t	 i;
	int	 pri;

	for (i = 0; i < LOG_NKEYS; i++) {
		pthread_mutex_lock(&log_mtx);
		line[0] = '\0';
		pri = log_keys[i].pri;
		if (log_keys[i].window_ms != 0 && log_keys[i].suppressed > 0 &&
		    (now_ms == UINT64_MAX ||
		    now_ms - log_keys[i].window_ms >= LOG_WINDOW_MS))
			log_summary(&log_keys[i], line, sizeof(line));
		pthread_mutex_unlock(&log_mtx);
		if (line[0] != '\0')
			log_emit(pri, line);
	}
}

static void
log_suppressed_cb(evutil_socket_t fd, short events, void *arg)
{
	log_suppressed_flush(clock_mono_ms());
}

/*
 * Report suppressed messages once a second from base, so that the count
 * of a storm that stopped is not held until the next message.  Returns
 * 0, or -1 if the timer cannot be made.
 */
int
log_start(struct event_base *base)
{
	struct timeval	tv = { 1, 0 };

	if ((log_ev_flush = event_new(base, -1, EV_PERSIST, log_suppressed_cb,
	    NULL)) == NULL || event_add(log_ev_flush, &tv) == -1) {
		log_warnx("log: cannot start the flush timer");
		return -1;
	}
	return 0;
}

/* Stop the timer log_start made; what is pending is written at once. */
void
log_stop(void)
{
	if (log_ev_flush != NULL)
		event_free(log_ev_flush);
	log_ev_flush = NULL;
	log_suppressed_flush(UINT64_MAX);
}

/* Forget every count (tests). */
void
log_reset(void)
{
	pthread_mutex_lock(&log_mtx);
	memset(log_keys, 0, sizeof(log_keys));
	pthread_mutex_unlock(&log_mtx);
}

static void
log_vwrite(int pri, const char *fmt, va_list ap)
{
	char		 buf[LOG_LINE_MAX + 1], summary[LOG_SUMMARY_MAX + 96];
	char		*text = buf;
	va_list		 aq;
	int		 saved = errno, n, spri = pri;

	if (pri == LOG_DEBUG && log_verbose < 1)
		return;
	va_copy(aq, ap);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	/* Longer than the buffer: format it whole, so the tail survives. */
	if (n >= (int)sizeof(buf) && vasprintf(&text, fmt, aq) == -1)
		text = buf;
	va_end(aq);
	summary[0] = '\0';
	if (pri == LOG_DEBUG || pri == LOG_ERR ||
	    log_admit(pri, text, clock_mono_ms(), summary, sizeof(summary),
	    &spri)) {
		if (summary[0] != '\0')
			log_emit(spri, summary);
		log_emit(pri, text);
	} else if (summary[0] != '\0')
		log_emit(spri, summary);
	if (text != buf)
		free(text);
	errno = saved;
}

/* Log at a syslog priority, without errno. */
void
log_msg(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(pri, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	char	*buf;
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	if (vasprintf(&buf, fmt, ap) == -1)
		buf = NULL;
	va_end(ap);
	log_msg(LOG_WARNING, "%s: %s", buf != NULL ? buf : fmt,
	    strerror(saved));
	free(buf);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

__dead void
fatal(const char *fmt, ...)
{
	char	*buf;
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	if (vasprintf(&buf, fmt, ap) == -1)
		buf = NULL;
	va_end(ap);
	log_msg(LOG_ERR, "fatal: %s: %s", buf != NULL ? buf : fmt,
	    strerror(saved));
	exit(1);
}

__dead void
fatalx(const char *fmt, ...)
{
	char	*buf;
	va_list	 ap;

	va_start(ap, fmt);
	if (vasprintf(&buf, fmt, ap) == -1)
		buf = NULL;
	va_end(ap);
	log_msg(LOG_ERR, "fatal: %s", buf != NULL ? buf : fmt);
	exit(1);
}

/* libevent's messages, mapped onto our priorities. */
static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}
