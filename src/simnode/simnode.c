/*
 * simnode.c -- meshtune-simnode: a simulated mesh gaming node.
 *
 * A thin libevent shell around the pure model of simnode_model.c: a step
 * timer runs the model at --speed times real time, samples go out as
 * StatsD lines (many per datagram), and a unix stream socket serves the
 * `unix' actuator protocol of DESIGN.md, one JSON line per request.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "meshtuned.h"

#define PROG		"meshtune-simnode"
#define UDP_DGRAM_MAX	1400	/* stay under a typical MTU */
#define UNIX_DGRAM_MAX	8192
#define CTL_LINE_MAX	4096	/* longest request line */
#define CTL_IDLE_S	60	/* an idle control client is closed */
#define CTL_MAX_CONNS	256
#define CATCHUP_MAX	1000	/* model steps per timer callback at most */
/* The node paths of the installed meshtuned.conf, so both agree as shipped. */
#define DEFAULT_CONTROL		MT_RUNSTATEDIR "/meshnode/ctl.sock"
#define DEFAULT_PID_FILE	MT_RUNSTATEDIR "/meshnode.pid"

struct sn_conn {
	struct simnode		*sn;
	struct bufferevent	*bev;
	int			 closing;	/* free once output drained */
	TAILQ_ENTRY(sn_conn)	 entry;
};

struct simnode {
	struct event_base	*base;
	struct simmodel		*model;
	double			 speed;
	uint64_t		 start_us;	/* real, monotonic */
	uint64_t		 steps;
	int			 verbose;
	const char		*pid_file;
	const char		*ctl_path;
	struct evconnlistener	*listener;
	int			 nconns;
	TAILQ_HEAD(, sn_conn)	 conns;
	struct event		*ev_step, *ev_stop, *ev_sig[2];

	/* StatsD output */
	int			 fd;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 buf[UNIX_DGRAM_MAX];
	size_t			 len, max;
	uint64_t		 lines, dgrams, send_errors;
};

static int	sn_verbose;

static void	sn_log(const char *, const char *, ...) __printflike(2, 3);

static void
sn_log(const char *level, const char *fmt, ...)
{
	va_list	 ap;

	if (strcmp(level, "debug") == 0 && !sn_verbose)
		return;
	fprintf(stderr, PROG ": %s: ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static __dead void
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, PROG ": %s\n", why);
	fprintf(stderr,
	    "usage: " PROG " [--statsd HOST:PORT | --statsd-unix PATH] "
	    "[--control PATH]\n"
	    "                        [--pid-file PATH] [--scenario NAME] "
	    "[--seed N] [--speed X]\n"
	    "                        [--duration S] [--peers N] [--verbose] "
	    "[--help]\n");
	exit(2);
}

/*
 * StatsD output: lines are packed into one datagram until the next would
 * not fit, then it goes.  A send that fails (nobody listening, buffer
 * full) drops that datagram; the count is logged now and then.
 */
static void
statsd_flush(struct simnode *sn)
{
	if (sn->len == 0)
		return;
	if (sendto(sn->fd, sn->buf, sn->len, 0, (struct sockaddr *)&sn->ss,
	    sn->sslen) == -1) {
		if (sn->send_errors++ % 1000 == 0)
			sn_log("warning", "statsd send: %s (%llu datagrams "
			    "dropped so far)", strerror(errno),
			    (unsigned long long)sn->send_errors);
	} else
		sn->dgrams++;
	sn->len = 0;
}

/* Format v: whole numbers without a point, others with 3 decimals. */
static void
fmt_value(char *b, size_t len, double v)
{
	char	*p;

	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(b, len, "%lld", (long long)v);
		return;
	}
	snprintf(b, len, "%.3f", v);
	p = b + strlen(b) - 1;
	while (*p == '0')
		*p-- = '\0';
	if (*p == '.')
		*p = '\0';
}

static void
statsd_emit(const char *name, const char *tag, const char *type, double value,
    void *arg)
{
	struct simnode	*sn = arg;
	char		 line[256], v[64];
	int		 n;

	fmt_value(v, sizeof(v), value);
	if (tag != NULL)
		n = snprintf(line, sizeof(line), "%s:%s|%s|#peer:%s\n", name, v,
		    type, tag);
	else
		n = snprintf(line, sizeof(line), "%s:%s|%s\n", name, v, type);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	if (sn->len + (size_t)n > sn->max)
		statsd_flush(sn);
	memcpy(sn->buf + sn->len, line, (size_t)n);
	sn->len += (size_t)n;
	sn->lines++;
}

static int
statsd_open(struct simnode *sn, const char *inet, const char *path)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&sn->ss;
	int			 family;

	memset(&sn->ss, 0, sizeof(sn->ss));
	if (path != NULL) {
		if (strlen(path) >= sizeof(sun->sun_path)) {
			sn_log("error", "--statsd-unix %s: path too long",
			    path);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, strlen(path) + 1);
		sn->sslen = sizeof(*sun);
		sn->max = UNIX_DGRAM_MAX;
		family = AF_UNIX;
	} else {
		if (config_parse_addr(inet, &sn->ss, &sn->sslen) == -1)
			usage("--statsd: expected HOST:PORT with a numeric "
			    "address");
		sn->max = UDP_DGRAM_MAX;
		family = sn->ss.ss_family;
	}
	if ((sn->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		sn_log("error", "statsd socket: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The control protocol: {"op":"set","knob":K,"value":V} or
 * {"op":"get","knob":K}, answered {"ok":true,"value":V} or
 * {"ok":false,"error":"..."}.  Returns the answer, a malloc'd line.
 */
static char *
ctl_handle(struct simnode *sn, const char *line, size_t len)
{
	cJSON		*req, *op, *knob, *val, *ans;
	char		 err[256];
	double		 v, old;
	char		*out, *res;
	int		 ok = 0;

	err[0] = '\0';
	if ((req = cJSON_ParseWithLength(line, len)) == NULL ||
	    !cJSON_IsObject(req)) {
		snprintf(err, sizeof(err), "expected one JSON object per line");
		goto done;
	}
	op = cJSON_GetObjectItemCaseSensitive(req, "op");
	knob = cJSON_GetObjectItemCaseSensitive(req, "knob");
	val = cJSON_GetObjectItemCaseSensitive(req, "value");
	if (!cJSON_IsString(op)) {
		snprintf(err, sizeof(err), "\"op\" must be \"set\" or \"get\"");
		goto done;
	}
	if (!cJSON_IsString(knob)) {
		snprintf(err, sizeof(err), "\"knob\" must be a string");
		goto done;
	}
	if (strcmp(op->valuestring, "get") == 0) {
		if (simmodel_knob_get(sn->model, knob->valuestring, &v, err,
		    sizeof(err)) == 0) {
			ok = 1;
			sn_log("debug", "get %s = %g", knob->valuestring, v);
		}
	} else if (strcmp(op->valuestring, "set") == 0) {
		if (!cJSON_IsNumber(val)) {
			snprintf(err, sizeof(err),
			    "\"value\" must be a number");
			goto done;
		}
		v = val->valuedouble;
		if (simmodel_knob_get(sn->model, knob->valuestring, &old, err,
		    sizeof(err)) == 0 && simmodel_knob_set(sn->model,
		    knob->valuestring, v, err, sizeof(err)) == 0) {
			ok = 1;
			sn_log("info", "t=%.1fs knob %s %g -> %g",
			    simmodel_now_ms(sn->model) / 1000.0,
			    knob->valuestring, old, v);
		} else
			sn_log("warning", "refused set: %s", err);
	} else
		snprintf(err, sizeof(err), "unknown op \"%.64s\": expected "
		    "\"set\" or \"get\"", op->valuestring);
done:
	cJSON_Delete(req);
	if ((ans = cJSON_CreateObject()) == NULL)
		fatalx("cJSON_CreateObject: out of memory");
	if (cJSON_AddBoolToObject(ans, "ok", ok) == NULL ||
	    (ok ? cJSON_AddNumberToObject(ans, "value", v) :
	    cJSON_AddStringToObject(ans, "error", err)) == NULL ||
	    (out = number_json_print(ans)) == NULL)
		fatalx("cJSON: out of memory");
	cJSON_Delete(ans);
	xasprintf(&res, "%s\n", out);
	cJSON_free(out);
	return res;
}

static void
conn_free(struct sn_conn *c)
{
	c->sn->nconns--;
	TAILQ_REMOVE(&c->sn->conns, c, entry);
	bufferevent_free(c->bev);
	free(c);
}

static void
conn_reply(struct sn_conn *c, const char *s)
{
	if (bufferevent_write(c->bev, s, strlen(s)) == -1)
		c->closing = 1;
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct sn_conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line, *ans;
	size_t		 n;

	if (c->closing)
		return;
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF)) != NULL) {
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n > CTL_LINE_MAX) {
			free(line);
			goto toolong;
		}
		if (strspn(line, " \t") != n) {
			ans = ctl_handle(c->sn, line, n);
			conn_reply(c, ans);
			free(ans);
		}
		free(line);
	}
	if (evbuffer_get_length(in) <= CTL_LINE_MAX)
		return;
toolong:
	conn_reply(c, "{\"ok\":false,\"error\":\"request line too long\"}\n");
	c->closing = 1;
	bufferevent_disable(bev, EV_READ);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
conn_write(struct bufferevent *bev, void *arg)
{
	struct sn_conn	*c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) ==
	    0)
		conn_free(c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct sn_conn	*c = arg;

	if (what & BEV_EVENT_TIMEOUT)
		sn_log("debug", "control client idle for %d s: closed",
		    CTL_IDLE_S);
	conn_free(c);
}

static void
ctl_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct simnode		*sn = arg;
	struct sn_conn		*c;
	struct timeval		 tv = { CTL_IDLE_S, 0 };
	static const char	 busy[] =
	    "{\"ok\":false,\"error\":\"too many connections\"}\n";

	if (sn->nconns >= CTL_MAX_CONNS) {
		(void)write(fd, busy, sizeof(busy) - 1);
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->sn = sn;
	if ((c->bev = bufferevent_socket_new(sn->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		sn_log("warning", "bufferevent_socket_new failed");
		close(fd);
		free(c);
		return;
	}
	sn->nconns++;
	TAILQ_INSERT_TAIL(&sn->conns, c, entry);
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1)
		conn_free(c);
}

static void
ctl_error(struct evconnlistener *l, void *arg)
{
	sn_log("warning", "control accept: %s", strerror(errno));
}

static int
ctl_open(struct simnode *sn, const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		sn_log("error", "--control %s: path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* A stale socket of an earlier run goes; anything else stays. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    unlink(path) == -1) {
		sn_log("error", "unlink %s: %s", path, strerror(errno));
		return -1;
	}
	sn->listener = evconnlistener_new_bind(sn->base, ctl_accept, sn,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64,
	    (struct sockaddr *)&sun, sizeof(sun));
	if (sn->listener == NULL) {
		sn_log("error", "control socket %s: %s", path,
		    strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(sn->listener, ctl_error);
	sn->ctl_path = path;
	return 0;
}

static int
pidfile_write(const char *path)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL) {
		sn_log("error", "pid file %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) == EOF) {
		sn_log("error", "pid file %s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

/* Create the missing directory of path (0755: meshtuned must reach it). */
static int
make_dir_for(const char *path)
{
	char	err[512];

	if (service_mkdir_for(path, 0755, err, sizeof(err)) == -1) {
		sn_log("error", "%s", err);
		return -1;
	}
	return 0;
}

/* Run every model step that is due by now, then send what they made. */
static void
step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct simnode	*sn = arg;
	uint64_t	 due, n = 0;

	due = (uint64_t)((double)(clock_mono_us() - sn->start_us) *
	    sn->speed / (1000.0 * SIMMODEL_STEP_MS));
	while (sn->steps < due && n++ < CATCHUP_MAX) {
		if (simmodel_step(sn->model, statsd_emit, sn))
			sn_log("info", "t=%.1fs phase %s",
			    simmodel_now_ms(sn->model) / 1000.0 -
			    SIMMODEL_STEP_MS / 1000.0,
			    simmodel_phase(sn->model));
		sn->steps++;
	}
	if (sn->steps < due) {
		/* Too far behind: skip ahead rather than spin. */
		sn_log("warning", "model %llu steps behind real time",
		    (unsigned long long)(due - sn->steps));
		sn->start_us += (uint64_t)((double)(due - sn->steps) *
		    1000.0 * SIMMODEL_STEP_MS / sn->speed);
	}
	statsd_flush(sn);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct simnode	*sn = arg;

	if (what & EV_SIGNAL)
		sn_log("info", "%s received, stopping",
		    fd == SIGTERM ? "SIGTERM" : "SIGINT");
	else
		sn_log("info", "duration over, stopping");
	event_base_loopbreak(sn->base);
}

static int
parse_num(const char *s, double min, double max, double *out)
{
	char	*ep;

	errno = 0;
	*out = strtod(s, &ep);
	return s[0] != '\0' && *ep == '\0' && errno == 0 && isfinite(*out) &&
	    *out >= min && *out <= max ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "statsd", required_argument, NULL, 's' },
		{ "statsd-unix", required_argument, NULL, 'u' },
		{ "control", required_argument, NULL, 'c' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "scenario", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'r' },
		{ "speed", required_argument, NULL, 'x' },
		{ "duration", required_argument, NULL, 'd' },
		{ "peers", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct simnode	 sn;
	const char	*inet = NULL, *unixp = NULL, *ctl = DEFAULT_CONTROL;
	const char	*scenario = "calm";
	char		*ep;
	double		 duration = 0, peers = 8, period_us;
	unsigned long long seed = 1;
	struct timeval	 tv;
	int		 ch, status = 1;
	size_t		 i;

	memset(&sn, 0, sizeof(sn));
	TAILQ_INIT(&sn.conns);
	sn.fd = -1;
	sn.speed = 1;
	sn.pid_file = DEFAULT_PID_FILE;
	while ((ch = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			inet = optarg;
			break;
		case 'u':
			unixp = optarg;
			break;
		case 'c':
			ctl = optarg;
			break;
		case 'p':
			sn.pid_file = optarg;
			break;
		case 'S':
			scenario = optarg;
			break;
		case 'r':
			errno = 0;
			seed = strtoull(optarg, &ep, 0);
			if (optarg[0] == '\0' || optarg[0] == '-' ||
			    *ep != '\0' || errno != 0)
				usage("--seed: expected an unsigned integer");
			break;
		case 'x':
			if (parse_num(optarg, 0.01, 1000, &sn.speed) == -1)
				usage("--speed: expected a number in "
				    "0.01..1000");
			break;
		case 'd':
			if (parse_num(optarg, 0, 1e9, &duration) == -1)
				usage("--duration: expected seconds >= 0");
			break;
		case 'n':
			if (parse_num(optarg, 1, SIMMODEL_MAX_PEERS,
			    &peers) == -1 || peers != floor(peers))
				usage("--peers: expected a whole number in "
				    "1..64");
			break;
		case 'v':
			sn.verbose = sn_verbose = 1;
			break;
		case 'h':
			fprintf(stdout, "%s: a simulated mesh gaming node; "
			    "see meshtune-simnode(1)\nscenarios:", PROG);
			for (i = 0; simmodel_scenario_name(i) != NULL; i++)
				fprintf(stdout, " %s",
				    simmodel_scenario_name(i));
			fprintf(stdout, "\nknobs:\n");
			for (i = 0; i < simmodel_knob_count(); i++) {
				const struct simmodel_knob *k =
				    simmodel_knob_at(i);

				if (k->trigger)
					fprintf(stdout, "  %-28s trigger\n",
					    k->name);
				else
					fprintf(stdout, "  %-28s [%g, %g] "
					    "initial %g\n", k->name, k->min,
					    k->max, k->initial);
			}
			return 0;
		default:
			usage(NULL);
		}
	}
	if (optind != argc)
		usage("unexpected argument");
	if (inet != NULL && unixp != NULL)
		usage("--statsd and --statsd-unix exclude each other");
	if (inet == NULL && unixp == NULL)
		inet = "127.0.0.1:8125";
	if ((sn.model = simmodel_new(scenario, seed, (int)peers)) == NULL)
		usage("--scenario: expected calm, congestion, "
		    "memory-pressure, peer-churn, consensus-backlog or mixed");

	signal(SIGPIPE, SIG_IGN);
	if ((sn.base = event_base_new()) == NULL) {
		sn_log("error", "event_base_new failed");
		goto out;
	}
	if (statsd_open(&sn, inet, unixp) == -1)
		goto out;
	if (make_dir_for(ctl) == -1 || ctl_open(&sn, ctl) == -1)
		goto out;
	if (make_dir_for(sn.pid_file) == -1 ||
	    pidfile_write(sn.pid_file) == -1) {
		sn.pid_file = NULL;
		goto out;
	}

	period_us = 1000.0 * SIMMODEL_STEP_MS / sn.speed;
	if (period_us < 1000)
		period_us = 1000;
	tv.tv_sec = (time_t)(period_us / 1e6);
	tv.tv_usec = (suseconds_t)fmod(period_us, 1e6);
	if ((sn.ev_step = event_new(sn.base, -1, EV_PERSIST, step_cb,
	    &sn)) == NULL || event_add(sn.ev_step, &tv) == -1 ||
	    (sn.ev_sig[0] = evsignal_new(sn.base, SIGTERM, stop_cb,
	    &sn)) == NULL || event_add(sn.ev_sig[0], NULL) == -1 ||
	    (sn.ev_sig[1] = evsignal_new(sn.base, SIGINT, stop_cb,
	    &sn)) == NULL || event_add(sn.ev_sig[1], NULL) == -1) {
		sn_log("error", "cannot set up events");
		goto out;
	}
	if (duration > 0) {
		tv.tv_sec = (time_t)duration;
		tv.tv_usec = (suseconds_t)((duration - floor(duration)) * 1e6);
		if ((sn.ev_stop = evtimer_new(sn.base, stop_cb, &sn)) == NULL ||
		    evtimer_add(sn.ev_stop, &tv) == -1) {
			sn_log("error", "cannot set up the duration timer");
			goto out;
		}
	}
	sn_log("info", "started: scenario %s, seed %llu, speed %g, %d peers, "
	    "statsd %s%s%s, pid %ld", scenario, seed, sn.speed, (int)peers,
	    unixp != NULL ? unixp : inet, ctl != NULL ? ", control " : "",
	    ctl != NULL ? ctl : "", (long)getpid());
	sn_log("info", "t=0.0s phase %s", simmodel_phase(sn.model));
	sn.start_us = clock_mono_us();
	if (event_base_dispatch(sn.base) == -1) {
		sn_log("error", "event loop failed");
		goto out;
	}
	statsd_flush(&sn);
	sn_log("info", "stopped at t=%.1fs: %llu lines in %llu datagrams, "
	    "%llu send errors", simmodel_now_ms(sn.model) / 1000.0,
	    (unsigned long long)sn.lines, (unsigned long long)sn.dgrams,
	    (unsigned long long)sn.send_errors);
	status = 0;
out:
	if (sn.ev_step != NULL)
		event_free(sn.ev_step);
	if (sn.ev_stop != NULL)
		event_free(sn.ev_stop);
	for (i = 0; i < nitems(sn.ev_sig); i++)
		if (sn.ev_sig[i] != NULL)
			event_free(sn.ev_sig[i]);
	while (!TAILQ_EMPTY(&sn.conns))
		conn_free(TAILQ_FIRST(&sn.conns));
	if (sn.listener != NULL) {
		evconnlistener_free(sn.listener);
		if (unlink(sn.ctl_path) == -1)
			sn_log("warning", "unlink %s: %s", sn.ctl_path,
			    strerror(errno));
	}
	if (sn.pid_file != NULL && unlink(sn.pid_file) == -1)
		sn_log("warning", "unlink %s: %s", sn.pid_file,
		    strerror(errno));
	if (sn.fd != -1)
		close(sn.fd);
	if (sn.base != NULL)
		event_base_free(sn.base);
	simmodel_free(sn.model);
	return status;
}
