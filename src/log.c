/*
 * log.c -- logging to stderr (foreground) or syslog, and fatal errors.
 *
 * log_warn appends strerror(errno) and leaves errno as it found it;
 * log_warnx does not append it.  libevent's own messages come here too.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>

#include "meshtuned.h"

static int	log_to_stderr = 1;
static int	log_verbose;

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

/* Close syslog if it was opened. */
void
log_close(void)
{
	if (!log_to_stderr)
		closelog();
	event_set_log_callback(NULL);
}

static void
log_vwrite(int pri, const char *fmt, va_list ap)
{
	static const char *const names[] = {
		[LOG_ERR] = "error", [LOG_WARNING] = "warning",
		[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
	};
	char		 buf[4096];
	int		 saved = errno;

	if (pri == LOG_DEBUG && log_verbose < 1)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_to_stderr) {
		fprintf(stderr, "meshtuned: %s: %s\n",
		    pri < (int)nitems(names) && names[pri] ? names[pri] : "log",
		    buf);
		fflush(stderr);
	} else
		syslog(pri, "%s", buf);
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
	char	buf[4096];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_WARNING, "%s: %s", buf, strerror(saved));
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
	char	 buf[1024];
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "fatal: %s: %s", buf, strerror(saved));
	exit(1);
}

__dead void
fatalx(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "fatal: %s", buf);
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
