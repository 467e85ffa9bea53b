/*
 * test_actuator.c -- the actuator backends against real peers on the
 * test's own event_base: a unix-socket server (an evconnlistener), child
 * processes running /bin/sh scripts, an evhttp server on 127.0.0.1 and
 * temporary files; plus teardown with operations in flight.
 *
 * Every loop is bounded by a deadline; every child is reaped.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "meshtuned.h"

#define DEADLINE_MS	5000	/* no test loop runs longer */
#define MAXRES		16
#define MAXCONN		32

struct res {
	int			 ok;
	enum actuator_opkind	 kind;
	double			 value, old, requested;
	int			 readback;
	char			 error[ACTUATOR_ERRLEN];
	char			 knob[64];
	uint64_t		 elapsed_us;
};

/* What the servers saw last. */
struct seen {
	char			 op[8];
	char			 knob[64];
	double			 value;
	int			 has_value;
	int			 requests;
	char			 ctype[64];
	char			 method[8];
	char			 path[64];
};

struct env {
	struct event_base	*base;
	char			 dir[PATH_MAX];
	struct res		 r[MAXRES];
	int			 n;
	/* unix server */
	struct evconnlistener	*lis;
	char			 sock[PATH_MAX];
	struct bufferevent	*conn[MAXCONN];
	/* http server */
	struct evhttp		*http;
	int			 port;
	struct evhttp_request	*held;	/* a "slow" request, never answered */
	struct seen		 seen;
	/* an actuator to free from a callback */
	struct actuator		*free_me;
};

static struct env	*E;

/* snprintf that must not cut (paths in the temporary directory). */
static void __printflike(3, 4)
fmt(char *buf, size_t len, const char *f, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len);
}

/*
 * Helpers.
 */
static void
done_cb(const struct actuator_result *r, void *arg)
{
	struct env	*e = arg;
	struct res	*x;

	assert_true(e->n < MAXRES);
	x = &e->r[e->n++];
	x->ok = r->ok;
	x->kind = r->kind;
	x->value = r->value;
	x->old = r->old_value;
	x->requested = r->requested;
	x->readback = r->readback;
	x->elapsed_us = r->elapsed_us;
	fmt(x->knob, sizeof(x->knob), "%s", r->knob);
	fmt(x->error, sizeof(x->error), "%s",
	    r->error != NULL ? r->error : "");
	assert_true(r->ok ? r->error == NULL : r->error != NULL);
	if (e->free_me != NULL) {
		actuator_free(e->free_me);
		e->free_me = NULL;
	}
}

static void
deadline_cb(evutil_socket_t fd, short events, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until want results arrived or ms passed; returns e->n. */
static int
run_for(struct env *e, int want, int ms)
{
	struct event	*ev;
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	int		 expired = 0;

	ev = evtimer_new(e->base, deadline_cb, &expired);
	assert_non_null(ev);
	assert_int_equal(evtimer_add(ev, &tv), 0);
	while (e->n < want && !expired)
		assert_int_not_equal(event_base_loop(e->base, EVLOOP_ONCE),
		    -1);
	event_free(ev);
	return e->n;
}

static void
run_until(struct env *e, int want)
{
	assert_int_equal(run_for(e, want, DEADLINE_MS), want);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_int_not_equal(fd, -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *
read_text(const char *path, char *buf, size_t len)
{
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDONLY);
	assert_int_not_equal(fd, -1);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static struct mt_knob_conf
knob(const char *name, const char *path)
{
	struct mt_knob_conf	 k;

	memset(&k, 0, sizeof(k));
	k.name = (char *)name;
	k.path = (char *)path;
	k.min = 0;
	k.max = 1e12;
	k.initial = NAN;
	return k;
}

static struct actuator *
mk(struct env *e, struct mt_actuator_conf *c)
{
	struct actuator	*a;
	char		 err[ACTUATOR_ERRLEN];

	a = actuator_new(e->base, c, err, sizeof(err));
	if (a == NULL)
		fail_msg("actuator_new: %s", err);
	return a;
}

static void
assert_contains(const char *s, const char *sub)
{
	if (strstr(s, sub) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", s, sub);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct env	*e;

	e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->base = event_base_new();
	assert_non_null(e->base);
	fmt(e->dir, sizeof(e->dir), "/tmp/mt-actuator-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	{
		char	 canon[PATH_MAX];

		assert_non_null(realpath(e->dir, canon));
		fmt(e->dir, sizeof(e->dir), "%s", canon);
	}
	E = e;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env	*e = *state;
	size_t		 i;

	for (i = 0; i < MAXCONN; i++)
		if (e->conn[i] != NULL)
			bufferevent_free(e->conn[i]);
	if (e->lis != NULL)
		evconnlistener_free(e->lis);
	if (e->http != NULL)
		evhttp_free(e->http);
	event_base_free(e->base);
	nftw(e->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(e);
	return 0;
}

/*
 * The unix-socket server.  The knob name picks the behaviour.
 */
static int
srv_slot(struct env *e, struct bufferevent *bev)
{
	int	 i;

	for (i = 0; i < MAXCONN; i++)
		if (e->conn[i] == bev)
			return i;
	return -1;
}

static void
srv_close(struct env *e, struct bufferevent *bev)
{
	int	 i = srv_slot(e, bev);

	assert_true(i >= 0);
	e->conn[i] = NULL;
	bufferevent_free(bev);
}

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	srv_close(arg, bev);
}

/* Parse one request line and record it in e->seen. */
static void
seen_request(struct env *e, const char *text, size_t len)
{
	cJSON	*o, *op, *k, *v;

	o = cJSON_ParseWithLength(text, len);
	assert_non_null(o);
	op = cJSON_GetObjectItemCaseSensitive(o, "op");
	k = cJSON_GetObjectItemCaseSensitive(o, "knob");
	v = cJSON_GetObjectItemCaseSensitive(o, "value");
	assert_true(cJSON_IsString(op) && cJSON_IsString(k));
	fmt(e->seen.op, sizeof(e->seen.op), "%s", op->valuestring);
	fmt(e->seen.knob, sizeof(e->seen.knob), "%s", k->valuestring);
	e->seen.has_value = v != NULL;
	if (v != NULL) {
		assert_true(cJSON_IsNumber(v));
		e->seen.value = v->valuedouble;
	}
	/* A set carries a value and a get does not. */
	assert_int_equal(e->seen.has_value, strcmp(e->seen.op, "set") == 0);
	e->seen.requests++;
	cJSON_Delete(o);
}

/* The reply the knob name asks for, or NULL for none. */
static char *
reply_for(struct env *e)
{
	const char	*k = e->seen.knob;
	char		*s;
	double		 v = e->seen.has_value ? e->seen.value : 42;

	if (strcmp(k, "ok") == 0 || strncmp(k, "net.", 4) == 0)
		xasprintf(&s, "{\"ok\":true,\"value\":%.17g}\n", v);
	else if (strcmp(k, "clamp") == 0)
		xasprintf(&s, "{\"ok\":true,\"value\":64}\n");
	else if (strcmp(k, "err") == 0)
		s = xstrdup("{\"ok\":false,\"error\":\"knob is frozen\"}\n");
	else if (strcmp(k, "garbage") == 0)
		s = xstrdup("hello there\n");
	else if (strcmp(k, "notobj") == 0)
		s = xstrdup("[1,2,3]\n");
	else if (strcmp(k, "novalue") == 0)
		s = xstrdup("{\"ok\":true}\n");
	else if (strcmp(k, "strvalue") == 0)
		s = xstrdup("{\"ok\":true,\"value\":\"16\"}\n");
	else if (strcmp(k, "noerror") == 0)
		s = xstrdup("{\"ok\":false}\n");
	else if (strcmp(k, "noline") == 0)
		s = xstrdup("{\"ok\":true,");
	else if (strcmp(k, "long") == 0) {
		/* One byte over the limit, then the newline. */
		s = xmalloc(ACTUATOR_MAX_REPLY + 3);
		memset(s, 'x', ACTUATOR_MAX_REPLY + 1);
		s[ACTUATOR_MAX_REPLY + 1] = '\n';
		s[ACTUATOR_MAX_REPLY + 2] = '\0';
	} else if (strcmp(k, "maxline") == 0) {
		/* Exactly at the limit: still a good reply. */
		s = xmalloc(ACTUATOR_MAX_REPLY + 2);
		memset(s, ' ', ACTUATOR_MAX_REPLY);
		memcpy(s, "{\"ok\":true,\"value\":9}", 21);
		s[ACTUATOR_MAX_REPLY] = '\n';
		s[ACTUATOR_MAX_REPLY + 1] = '\0';
	} else if (strcmp(k, "longnonl") == 0) {
		s = xmalloc(3 * ACTUATOR_MAX_REPLY + 1);
		memset(s, 'y', 3 * ACTUATOR_MAX_REPLY);
		s[3 * ACTUATOR_MAX_REPLY] = '\0';
	} else
		s = NULL;	/* "silent", "close" */
	return s;
}

/* Close once the reply is written. */
static void
srv_write_close_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		srv_close(arg, bev);
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	struct env	*e = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line, *rep;
	size_t		 len;

	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) == NULL)
		return;
	seen_request(e, line, len);
	free(line);
	if (strcmp(e->seen.knob, "close") == 0) {
		srv_close(e, bev);
		return;
	}
	if ((rep = reply_for(e)) != NULL) {
		assert_int_equal(bufferevent_write(bev, rep, strlen(rep)), 0);
		free(rep);
		if (strcmp(e->seen.knob, "noline") == 0 ||
		    strcmp(e->seen.knob, "longnonl") == 0)
			bufferevent_setcb(bev, NULL, srv_write_close_cb,
			    srv_event_cb, e);
	}
}

static void
srv_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct env		*e = arg;
	struct bufferevent	*bev;
	int			 i;

	bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	i = srv_slot(e, NULL);
	assert_true(i >= 0);
	e->conn[i] = bev;
	bufferevent_setcb(bev, srv_read_cb, NULL, srv_event_cb, e);
	assert_int_equal(bufferevent_enable(bev, EV_READ | EV_WRITE), 0);
}

static void
unix_server(struct env *e)
{
	struct sockaddr_un	 sun;

	fmt(e->sock, sizeof(e->sock), "%s/ctl.sock", e->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	fmt(sun.sun_path, sizeof(sun.sun_path), "%s", e->sock);
	e->lis = evconnlistener_new_bind(e->base, srv_accept_cb, e,
	    LEV_OPT_CLOSE_ON_FREE, 16, (struct sockaddr *)&sun, sizeof(sun));
	assert_non_null(e->lis);
}

static struct actuator *
unix_actuator(struct env *e, const char *path, int64_t timeout_ms)
{
	struct mt_actuator_conf	 c;

	memset(&c, 0, sizeof(c));
	c.name = "node";
	c.type = "unix";
	c.path = (char *)path;
	c.timeout_ms = timeout_ms;
	return mk(e, &c);
}

/*
 * Registry.
 */
static void
test_lookup(void **state)
{
	const char	*types[] = { "unix", "exec", "http", "file", "log" };
	size_t		 i;

	for (i = 0; i < nitems(types); i++) {
		assert_non_null(actuator_backend_lookup(types[i]));
		assert_string_equal(actuator_backend_lookup(types[i])->name,
		    types[i]);
	}
	assert_null(actuator_backend_lookup("ftp"));
	assert_null(actuator_backend_lookup(NULL));
}

static void
test_new_refused(void **state)
{
	struct env		*e = *state;
	struct mt_actuator_conf	 c;
	struct actuator		*a;
	char			 err[ACTUATOR_ERRLEN], longpath[200];

	memset(&c, 0, sizeof(c));
	c.name = "x";
	c.type = "ftp";
	assert_null(actuator_new(e->base, &c, err, sizeof(err)));
	assert_contains(err, "unknown type \"ftp\"");
	c.type = "http";
	c.url = "http://192.0.2.1:8080/knobs";
	assert_null(actuator_new(e->base, &c, err, sizeof(err)));
	assert_contains(err, "loopback");
	c.url = "http://example.com/knobs";
	assert_null(actuator_new(e->base, &c, err, sizeof(err)));
	assert_contains(err, "loopback");
	c.url = "https://127.0.0.1/knobs";
	assert_null(actuator_new(e->base, &c, err, sizeof(err)));
	c.url = "http://user@127.0.0.1/knobs";
	assert_null(actuator_new(e->base, &c, err, sizeof(err)));
	/* Loopback in every spelling is accepted. */
	c.url = "http://[::1]:8080/knobs";
	a = actuator_new(e->base, &c, err, sizeof(err));
	assert_non_null(a);
	actuator_free(a);
	c.url = "http://127.1.2.3/";
	a = actuator_new(e->base, &c, err, sizeof(err));
	assert_non_null(a);
	actuator_free(a);
	c.type = "unix";
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	c.path = longpath;
	assert_null(actuator_new(e->base, &c, err, sizeof(err)));
	assert_contains(err, "longer than");
	c.type = "exec";
	c.path = NULL;
	c.argv.v = (char *[]){ "{knob}", "x" };
	c.argv.n = 2;
	assert_null(actuator_new(e->base, &c, err, sizeof(err)));
	assert_contains(err, "absolute");
}

static void
test_actuators_from_config(void **state)
{
	struct env		*e = *state;
	struct conf_errors	 errs = { NULL, 0 };
	struct mt_config	*conf;
	struct actuators	*as;
	struct actuator		*a;
	const char		*text =
	    "{ \"actuators\": {"
	    "  \"node\": { \"type\": \"unix\", \"path\": \"/run/x.sock\" },"
	    "  \"admin\": { \"type\": \"http\","
	    "    \"url\": \"http://127.0.0.1:8080/admin/knobs\" },"
	    "  \"tool\": { \"type\": \"exec\", \"argv\": [\"/bin/true\","
	    "    \"{knob}\", \"{value}\"], \"timeout_ms\": 250 },"
	    "  \"sys\": { \"type\": \"file\","
	    "    \"allow\": [\"/proc/sys/net/core/rmem_max\"] },"
	    "  \"dry\": { \"type\": \"log\" } } }";
	const char		*bad =
	    "{ \"actuators\": {"
	    "  \"a\": { \"type\": \"http\", \"url\": \"http://10.0.0.1/\" },"
	    "  \"b\": { \"type\": \"http\", \"url\": \"http://[::2]/\" } } }";

	conf = config_load_string(text, "test", &errs);
	assert_non_null(conf);
	as = actuators_new(e->base, conf, &errs);
	assert_non_null(as);
	assert_int_equal(errs.n, 0);
	a = actuators_find(as, "tool");
	assert_non_null(a);
	assert_string_equal(actuator_type(a), "exec");
	assert_string_equal(actuator_name(a), "tool");
	assert_string_equal(actuator_type(actuators_find(as, "sys")), "file");
	assert_null(actuators_find(as, "nope"));
	assert_int_equal(actuators_pending(as), 0);
	actuators_free(as);
	config_free(conf);

	conf = config_load_string(bad, "test", &errs);
	assert_non_null(conf);
	assert_null(actuators_new(e->base, conf, &errs));
	assert_int_equal(errs.n, 2);	/* every refusal, not the first */
	assert_contains(errs.v[0], "actuator \"a\"");
	assert_contains(errs.v[1], "actuator \"b\"");
	config_errors_clear(&errs);
	config_free(conf);
}

static void
test_format_value(void **state)
{
	char	 buf[64];

	assert_int_equal(actuator_format_value(16, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "16");
	assert_int_equal(actuator_format_value(-1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "-1");
	assert_int_equal(actuator_format_value(1073741824.0, buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "1073741824");
	assert_int_equal(actuator_format_value(0.1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0.1");
	assert_int_equal(actuator_format_value(2.5, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2.5");
	assert_int_equal(actuator_format_value(NAN, buf, sizeof(buf)), -1);
	assert_int_equal(actuator_format_value(INFINITY, buf, sizeof(buf)),
	    -1);
	assert_int_equal(actuator_format_value(123456, buf, 4), -1);
}

static void
test_parse_reply(void **state)
{
	char	 err[ACTUATOR_ERRLEN];
	double	 v = 0;

	assert_int_equal(actuator_parse_reply("{\"ok\":true,\"value\":16}\n",
	    23, &v, err, sizeof(err)), 1);
	assert_true(v == 16);
	assert_int_equal(actuator_parse_reply("{\"ok\":false,\"error\":\"no\"}",
	    25, &v, err, sizeof(err)), 0);
	assert_string_equal(err, "refused: no");
	assert_int_equal(actuator_parse_reply("{\"ok\":1}", 8, &v, err,
	    sizeof(err)), -1);
	assert_contains(err, "no boolean \"ok\"");
	assert_int_equal(actuator_parse_reply("{\"ok\":true,\"value\":null}",
	    24, &v, err, sizeof(err)), -1);
	assert_contains(err, "without a number \"value\"");
	assert_int_equal(actuator_parse_reply("", 0, &v, err, sizeof(err)),
	    -1);
	assert_contains(err, "not JSON");
	/* Control bytes are not copied into the error text. */
	assert_int_equal(actuator_parse_reply("\x01\x1b[2J", 5, &v, err,
	    sizeof(err)), -1);
	assert_null(strchr(err, '\x1b'));
}

/*
 * unix
 */
static void
test_unix_set_get(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("net.batch_size", NULL);

	unix_server(e);
	a = unix_actuator(e, e->sock, 2000);
	actuator_set(a, &k, 16, done_cb, e);
	/* Never delivered from inside the call. */
	assert_int_equal(e->n, 0);
	assert_int_equal(actuator_pending(a), 1);
	run_until(e, 1);
	assert_true(e->r[0].ok);
	assert_true(e->r[0].value == 16);
	assert_true(e->r[0].requested == 16);
	assert_true(e->r[0].readback);
	assert_true(isnan(e->r[0].old));
	assert_string_equal(e->r[0].knob, "net.batch_size");
	assert_string_equal(e->seen.op, "set");
	assert_string_equal(e->seen.knob, "net.batch_size");
	assert_true(e->seen.value == 16);

	actuator_get(a, &k, done_cb, e);
	run_until(e, 2);
	assert_true(e->r[1].ok);
	assert_int_equal(e->r[1].kind, ACTUATOR_GET);
	assert_true(e->r[1].value == 42);
	assert_true(isnan(e->r[1].requested));
	assert_string_equal(e->seen.op, "get");

	/* The node may clamp: the value in effect is reported. */
	k.name = "clamp";
	actuator_set(a, &k, 100, done_cb, e);
	run_until(e, 3);
	assert_true(e->r[2].ok && e->r[2].value == 64);
	k.name = "maxline";
	actuator_get(a, &k, done_cb, e);
	run_until(e, 4);
	if (!e->r[3].ok) fail_msg("%s", e->r[3].error);
	assert_true(e->r[3].value == 9);
	assert_int_equal(actuator_pending(a), 0);
	actuator_free(a);
}

/*
 * libevent times its timers on CLOCK_MONOTONIC_COARSE (a tick, 4 ms at
 * HZ=250), the actuator's elapsed_us on CLOCK_MONOTONIC: a timeout may
 * look up to one tick short.
 */
#define COARSE_US	10000

/*
 * An operation started late in a busy loop iteration still waits its
 * whole timeout: libevent's cached time is from the iteration's start.
 */
struct late_start {
	struct env		*e;
	struct actuator		*a;
	struct mt_knob_conf	 k;
};

static void
late_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct late_start	*l = arg;

	(void)fd;
	(void)what;
	usleep(150000);		/* the iteration's work */
	actuator_set(l->a, &l->k, 5, done_cb, l->e);
}

static void
test_timeout_counts_from_start(void **state)
{
	struct env		*e = *state;
	struct late_start	 l;
	struct timeval		 now = { 0, 0 };

	unix_server(e);
	l.e = e;
	l.a = unix_actuator(e, e->sock, 300);
	l.k = knob("silent", NULL);
	assert_int_equal(event_base_once(e->base, -1, EV_TIMEOUT,
	    late_start_cb, &l, &now), 0);
	run_until(e, 1);
	assert_false(e->r[0].ok);
	assert_contains(e->r[0].error, "timeout after 300 ms");
	assert_true(e->r[0].elapsed_us >= 300000 - COARSE_US);
	actuator_free(l.a);
}

struct unix_case {
	const char	*knob;
	const char	*error;
};

static void
test_unix_failures(void **state)
{
	static const struct unix_case cases[] = {
		{ "err", "refused: knob is frozen" },
		{ "garbage", "bad reply: not JSON: \"hello there\"" },
		{ "notobj", "bad reply: not a JSON object" },
		{ "novalue", "without a number \"value\"" },
		{ "strvalue", "without a number \"value\"" },
		{ "noerror", "without a string \"error\"" },
		{ "long", "bad reply: line of 4097 bytes, more than 4096" },
		{ "longnonl", "no newline in the first 4096 bytes" },
		{ "close", "connection closed without a reply" },
		{ "noline", "connection closed in the middle of a reply" },
		{ "silent", "timeout after 300 ms (waiting for the reply)" },
	};
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k;
	size_t			 i;

	unix_server(e);
	a = unix_actuator(e, e->sock, 300);
	for (i = 0; i < nitems(cases); i++) {
		k = knob(cases[i].knob, NULL);
		actuator_set(a, &k, 5, done_cb, e);
		run_until(e, (int)i + 1);
		assert_false(e->r[i].ok);
		assert_true(isnan(e->r[i].value));
		assert_contains(e->r[i].error, cases[i].error);
	}
	/* The timeout is the configured one, give or take the loop. */
	assert_true(e->r[nitems(cases) - 1].elapsed_us >= 300000 - COARSE_US);
	assert_true(e->r[nitems(cases) - 1].elapsed_us < 2000000);
	actuator_free(a);
}

static void
test_unix_no_server(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("ok", NULL);
	struct sockaddr_un	 sun;
	char			 path[PATH_MAX];
	int			 fd;

	fmt(path, sizeof(path), "%s/absent.sock", e->dir);
	a = unix_actuator(e, path, 1000);
	actuator_set(a, &k, 1, done_cb, e);
	run_until(e, 1);
	assert_false(e->r[0].ok);
	assert_contains(e->r[0].error, "No such file or directory");
	assert_contains(e->r[0].error, path);
	actuator_free(a);

	/* Bound but not listening: refused. */
	fmt(path, sizeof(path), "%s/dead.sock", e->dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_not_equal(fd, -1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	fmt(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	a = unix_actuator(e, path, 1000);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 2);
	assert_false(e->r[1].ok);
	assert_contains(e->r[1].error, "Connection refused");
	actuator_free(a);
	close(fd);
}

static void
test_unix_concurrent(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k[3];
	int			 i;

	unix_server(e);
	a = unix_actuator(e, e->sock, 300);
	k[0] = knob("silent", NULL);
	k[1] = knob("ok", NULL);
	k[2] = knob("err", NULL);
	for (i = 0; i < 3; i++)
		actuator_set(a, &k[i], i + 1, done_cb, e);
	assert_int_equal(actuator_pending(a), 3);
	run_until(e, 3);
	/* A hung request delays no other. */
	assert_string_equal(e->r[0].knob, "ok");
	assert_string_equal(e->r[1].knob, "err");
	assert_string_equal(e->r[2].knob, "silent");
	assert_true(e->r[0].ok && e->r[0].value == 2);
	assert_false(e->r[1].ok);
	assert_contains(e->r[2].error, "timeout");
	actuator_free(a);
}

/*
 * exec
 */
static char *
script(struct env *e, const char *name, const char *body)
{
	static char	 path[PATH_MAX];
	char		*text;

	fmt(path, sizeof(path), "%s/%s", e->dir, name);
	xasprintf(&text, "#!/bin/sh\n%s\n", body);
	write_file(path, text, 0755);
	free(text);
	return path;
}

static struct actuator *
exec_actuator(struct env *e, const char *prog, int64_t timeout_ms)
{
	struct mt_actuator_conf	 c;
	char			*argv[4];

	argv[0] = (char *)prog;
	argv[1] = "--knob={knob}";
	argv[2] = "{value}";
	argv[3] = "{knob}={value}";
	memset(&c, 0, sizeof(c));
	c.name = "tool";
	c.type = "exec";
	c.argv.v = argv;
	c.argv.n = 4;
	c.timeout_ms = timeout_ms;
	return mk(e, &c);
}

static void
assert_no_children(void)
{
	int	 status;

	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void
test_exec_ok(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("net.batch_size", NULL);
	char			 args[PATH_MAX], buf[256], *body;

	fmt(args, sizeof(args), "%s/args", e->dir);
	xasprintf(&body, "printf '%%s|%%s|%%s|%%s|%%s|%%s\\n' \"$1\" \"$2\" "
	    "\"$3\" \"$MESHTUNE_OP\" \"$MESHTUNE_KNOB\" \"$MESHTUNE_VALUE\" "
	    "> %s\necho \"$2\"\nexit 0", args);
	a = exec_actuator(e, script(e, "ok.sh", body), 2000);
	free(body);

	/* Nothing set and no initial: get cannot know. */
	actuator_get(a, &k, done_cb, e);
	run_until(e, 1);
	assert_false(e->r[0].ok);
	assert_contains(e->r[0].error, "cannot read");

	actuator_set(a, &k, 16, done_cb, e);
	assert_int_equal(e->n, 1);
	run_until(e, 2);
	assert_true(e->r[1].ok);
	assert_true(e->r[1].value == 16);
	assert_true(e->r[1].readback);	/* from stdout */
	assert_string_equal(read_text(args, buf, sizeof(buf)),
	    "--knob=net.batch_size|16|net.batch_size=16|set|net.batch_size|"
	    "16\n");

	/* A value with decimals, and a get that remembers it. */
	actuator_set(a, &k, 2.5, done_cb, e);
	run_until(e, 3);
	assert_true(e->r[2].ok && e->r[2].value == 2.5);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 4);
	assert_true(e->r[3].ok && e->r[3].value == 2.5);
	assert_false(e->r[3].readback);
	actuator_free(a);
	assert_no_children();
}

static void
test_exec_output(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("k", NULL);

	/* Far more output than a pipe holds: drained, not deadlocked. */
	a = exec_actuator(e, script(e, "chatty.sh",
	    "i=0; while [ $i -lt 2000 ]; do "
	    "echo 'applied, a long line of chatter, and more of it here'; "
	    "echo 'warning chatter on stderr, more than a pipe holds' >&2; "
	    "i=$((i+1)); done; exit 0"), 5000);
	actuator_set(a, &k, 7, done_cb, e);
	run_until(e, 1);
	assert_true(e->r[0].ok);
	assert_true(e->r[0].value == 7);	/* stdout not a number */
	assert_false(e->r[0].readback);
	actuator_free(a);
	assert_no_children();
}

static void
test_exec_failures(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("net.batch_size", NULL);
	char			 pidfile[PATH_MAX], buf[64], *body;
	pid_t			 pid;

	a = exec_actuator(e, script(e, "three.sh",
	    "echo \"no such knob: $2\" >&2; echo second line >&2; exit 3"),
	    2000);
	actuator_set(a, &k, 16, done_cb, e);
	run_until(e, 1);
	assert_false(e->r[0].ok);
	assert_contains(e->r[0].error, "three.sh exited with status 3: "
	    "no such knob: 16");
	assert_null(strstr(e->r[0].error, "second line"));
	actuator_free(a);

	a = exec_actuator(e, script(e, "killed.sh", "kill -9 $$"), 2000);
	actuator_set(a, &k, 16, done_cb, e);
	run_until(e, 2);
	assert_false(e->r[1].ok);
	assert_contains(e->r[1].error, "killed by signal 9");
	actuator_free(a);

	fmt(pidfile, sizeof(pidfile), "%s/pid", e->dir);
	xasprintf(&body, "echo $$ > %s\nexec sleep 30", pidfile);
	a = exec_actuator(e, script(e, "slow.sh", body), 300);
	free(body);
	actuator_set(a, &k, 16, done_cb, e);
	run_until(e, 3);
	assert_false(e->r[2].ok);
	assert_contains(e->r[2].error, "timeout after 300 ms (program "
	    "running)");
	pid = (pid_t)atol(read_text(pidfile, buf, sizeof(buf)));
	assert_true(pid > 0);
	/* Killed at once, reaped by the loop soon after. */
	(void)run_for(e, 99, 200);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_no_children();
	actuator_free(a);

	a = exec_actuator(e, "/nonexistent/program", 2000);
	actuator_set(a, &k, 16, done_cb, e);
	run_until(e, 4);
	assert_false(e->r[3].ok);
	assert_contains(e->r[3].error, "cannot run /nonexistent/program: "
	    "No such file or directory");
	actuator_free(a);

	/* Not executable. */
	write_file(pidfile, "#!/bin/sh\nexit 0\n", 0644);
	a = exec_actuator(e, pidfile, 2000);
	actuator_set(a, &k, 16, done_cb, e);
	run_until(e, 5);
	assert_false(e->r[4].ok);
	assert_contains(e->r[4].error, "Permission denied");
	actuator_free(a);

	/* Not a finite value: refused before anything runs. */
	a = exec_actuator(e, "/bin/true", 2000);
	actuator_set(a, &k, NAN, done_cb, e);
	run_until(e, 6);
	assert_false(e->r[5].ok);
	assert_contains(e->r[5].error, "not a finite number");
	actuator_free(a);
	assert_no_children();
}

static void
test_exec_initial(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("k", NULL);

	k.initial = 8;
	a = exec_actuator(e, "/bin/true", 2000);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 1);
	assert_true(e->r[0].ok && e->r[0].value == 8);
	assert_false(e->r[0].readback);
	actuator_free(a);
}

/*
 * http
 */
static void
http_cb(struct evhttp_request *req, void *arg)
{
	struct env	*e = arg;
	struct evbuffer	*body = evhttp_request_get_input_buffer(req);
	struct evbuffer	*out;
	const char	*ct, *k;
	char		*rep, *text;
	size_t		 len = evbuffer_get_length(body);
	int		 code = 200;

	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	fmt(e->seen.ctype, sizeof(e->seen.ctype), "%s", ct != NULL ?
	    ct : "");
	fmt(e->seen.method, sizeof(e->seen.method), "%s",
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" :
	    "other");
	fmt(e->seen.path, sizeof(e->seen.path), "%s",
	    evhttp_request_get_uri(req));
	text = (char *)evbuffer_pullup(body, -1);
	seen_request(e, text, len);
	k = e->seen.knob;
	if (strcmp(k, "slow") == 0) {
		e->held = req;
		return;
	}
	if (strcmp(k, "500") == 0) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (strcmp(k, "503json") == 0) {
		code = 503;
		rep = xstrdup("{\"ok\":false,\"error\":\"overloaded\"}");
	} else if (strcmp(k, "big") == 0) {
		rep = xmalloc(3 * ACTUATOR_MAX_REPLY);
		memset(rep, ' ', 3 * ACTUATOR_MAX_REPLY - 1);
		rep[3 * ACTUATOR_MAX_REPLY - 1] = '\0';
	} else if ((rep = reply_for(e)) == NULL)
		rep = xstrdup("");
	out = evbuffer_new();
	assert_non_null(out);
	evbuffer_add(out, rep, strlen(rep));
	free(rep);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Busy", out);
	evbuffer_free(out);
}

static void
http_server(struct env *e)
{
	struct evhttp_bound_socket	*bs;
	struct sockaddr_in		 sin;
	socklen_t			 len = sizeof(sin);

	e->http = evhttp_new(e->base);
	assert_non_null(e->http);
	evhttp_set_gencb(e->http, http_cb, e);
	bs = evhttp_bind_socket_with_handle(e->http, "127.0.0.1", 0);
	assert_non_null(bs);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &len), 0);
	e->port = ntohs(sin.sin_port);
}

static struct actuator *
http_actuator(struct env *e, const char *host, int port, int64_t timeout_ms)
{
	struct mt_actuator_conf	 c;
	struct actuator		*a;
	char			*url;

	xasprintf(&url, "http://%s:%d/admin/knobs?v=1", host, port);
	memset(&c, 0, sizeof(c));
	c.name = "admin";
	c.type = "http";
	c.url = url;
	c.timeout_ms = timeout_ms;
	a = mk(e, &c);
	free(url);
	return a;
}

static void
test_http_ok(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("net.batch_size", NULL);

	http_server(e);
	a = http_actuator(e, "localhost", e->port, 2000);
	actuator_set(a, &k, 16, done_cb, e);
	assert_int_equal(e->n, 0);
	run_until(e, 1);
	assert_true(e->r[0].ok);
	assert_true(e->r[0].value == 16);
	assert_true(e->r[0].readback);
	assert_string_equal(e->seen.method, "POST");
	assert_string_equal(e->seen.path, "/admin/knobs?v=1");
	assert_string_equal(e->seen.ctype, "application/json");
	assert_string_equal(e->seen.op, "set");
	assert_true(e->seen.value == 16);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 2);
	assert_true(e->r[1].ok && e->r[1].value == 42);
	assert_string_equal(e->seen.op, "get");
	actuator_free(a);
}

static void
test_http_failures(void **state)
{
	static const struct unix_case cases[] = {
		{ "err", "refused: knob is frozen" },
		{ "500", "HTTP 500" },
		{ "503json", "HTTP 503: refused: overloaded" },
		{ "garbage", "bad reply: not JSON" },
		{ "novalue", "without a number \"value\"" },
		{ "big", "response body too long" },
		{ "slow", "timeout after 300 ms (waiting for the response)" },
	};
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k;
	size_t			 i;

	http_server(e);
	a = http_actuator(e, "127.0.0.1", e->port, 300);
	for (i = 0; i < nitems(cases); i++) {
		k = knob(cases[i].knob, NULL);
		actuator_set(a, &k, 3, done_cb, e);
		run_until(e, (int)i + 1);
		assert_false(e->r[i].ok);
		assert_contains(e->r[i].error, cases[i].error);
	}
	assert_non_null(e->held);
	actuator_free(a);
}

static void
test_http_refused(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("ok", NULL);
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, port;

	/* A port that was free a moment ago and has no listener now. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_not_equal(fd, -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);

	a = http_actuator(e, "127.0.0.1", port, 2000);
	actuator_set(a, &k, 1, done_cb, e);
	run_until(e, 1);
	assert_false(e->r[0].ok);
	assert_contains(e->r[0].error, "connection refused");
	/* Refused at once, not by the timeout. */
	assert_true(e->r[0].elapsed_us < 1000000);
	actuator_free(a);
}

/* Accept and close at once, before any response. */
static void
close_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(*(int *)arg)++;
	close(fd);
}

static void
test_http_closed_early(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("ok", NULL);
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 accepted = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->lis = evconnlistener_new_bind(e->base, close_accept_cb, &accepted,
	    LEV_OPT_CLOSE_ON_FREE, 16, (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(e->lis);
	assert_int_equal(getsockname(evconnlistener_get_fd(e->lis),
	    (struct sockaddr *)&sin, &len), 0);
	a = http_actuator(e, "127.0.0.1", ntohs(sin.sin_port), 2000);
	actuator_set(a, &k, 1, done_cb, e);
	run_until(e, 1);
	assert_int_equal(accepted, 1);
	assert_false(e->r[0].ok);
	assert_contains(e->r[0].error, "http://127.0.0.1:");
	assert_null(strstr(e->r[0].error, "timeout"));
	actuator_free(a);
}

/*
 * file
 */
static struct actuator *
file_actuator(struct env *e, char **allow, size_t n)
{
	struct mt_actuator_conf	 c;

	memset(&c, 0, sizeof(c));
	c.name = "sys";
	c.type = "file";
	c.allow.v = allow;
	c.allow.n = n;
	return mk(e, &c);
}

static void
test_file_plain(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k;
	char			 path[PATH_MAX], buf[64], *allow[1];

	fmt(path, sizeof(path), "%s/rmem_max", e->dir);
	write_file(path, "212992\n", 0644);
	allow[0] = path;
	a = file_actuator(e, allow, 1);
	k = knob("net.core.rmem_max", path);

	actuator_get(a, &k, done_cb, e);
	assert_int_equal(e->n, 0);
	run_until(e, 1);
	assert_true(e->r[0].ok && e->r[0].value == 212992);
	assert_true(e->r[0].readback);

	/* Shorter than the old text: no tail of it is left. */
	actuator_set(a, &k, 16, done_cb, e);
	run_until(e, 2);
	assert_true(e->r[1].ok);
	assert_true(e->r[1].value == 16);
	assert_true(e->r[1].old == 212992);
	assert_string_equal(read_text(path, buf, sizeof(buf)), "16\n");

	/* The file holds integers: 2.5 is out of its format. */
	actuator_set(a, &k, 2.5, done_cb, e);
	run_until(e, 3);
	assert_false(e->r[2].ok);
	assert_contains(e->r[2].error, "not an integer");
	assert_string_equal(read_text(path, buf, sizeof(buf)), "16\n");

	/* A file of decimals takes decimals. */
	write_file(path, "0.5\n", 0644);
	actuator_set(a, &k, 0.25, done_cb, e);
	run_until(e, 4);
	assert_true(e->r[3].ok && e->r[3].value == 0.25);
	assert_true(e->r[3].old == 0.5);

	/* Garbage in the file. */
	write_file(path, "4096 131072 6291456\n", 0644);
	actuator_set(a, &k, 1, done_cb, e);
	run_until(e, 5);
	assert_false(e->r[4].ok);
	assert_contains(e->r[4].error, "unexpected contents \"4096 131072 "
	    "6291456\" (expected one number)");
	assert_string_equal(read_text(path, buf, sizeof(buf)),
	    "4096 131072 6291456\n");
	actuator_free(a);
}

static void
test_file_refused(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k;
	char			 ok[PATH_MAX], secret[PATH_MAX], link[PATH_MAX];
	char			 link2[PATH_MAX], fifo[PATH_MAX], buf[64];
	char			*allow[5];

	fmt(ok, sizeof(ok), "%s/ok", e->dir);
	fmt(secret, sizeof(secret), "%s/secret", e->dir);
	fmt(link, sizeof(link), "%s/link", e->dir);
	fmt(link2, sizeof(link2), "%s/link2", e->dir);
	fmt(fifo, sizeof(fifo), "%s/fifo", e->dir);
	write_file(ok, "1\n", 0644);
	write_file(secret, "7\n", 0644);
	assert_int_equal(symlink(secret, link), 0);
	assert_int_equal(symlink(ok, link2), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	allow[0] = ok;
	allow[1] = link;
	allow[2] = link2;
	allow[3] = fifo;
	allow[4] = e->dir;
	a = file_actuator(e, allow, 5);

	k = knob("secret", secret);		/* not on the list */
	actuator_set(a, &k, 9, done_cb, e);
	run_until(e, 1);
	assert_false(e->r[0].ok);
	assert_contains(e->r[0].error, "is not on the allow list");

	k = knob("link", link);			/* escapes the list */
	actuator_set(a, &k, 9, done_cb, e);
	run_until(e, 2);
	assert_false(e->r[1].ok);
	assert_contains(e->r[1].error, "a symbolic link on the path "
	    "(refused)");
	assert_string_equal(read_text(secret, buf, sizeof(buf)), "7\n");

	k = knob("link2", link2);		/* no symlink, even onto it */
	actuator_set(a, &k, 9, done_cb, e);
	run_until(e, 3);
	assert_false(e->r[2].ok);
	assert_contains(e->r[2].error, "a symbolic link on the path");
	assert_string_equal(read_text(ok, buf, sizeof(buf)), "1\n");

	k = knob("fifo", fifo);			/* never blocks on it */
	actuator_get(a, &k, done_cb, e);
	run_until(e, 4);
	assert_false(e->r[3].ok);
	assert_contains(e->r[3].error, "not a regular file");

	k = knob("dir", e->dir);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 5);
	assert_false(e->r[4].ok);
	assert_contains(e->r[4].error, "not a regular file");

	k = knob("nopath", NULL);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 6);
	assert_false(e->r[5].ok);
	assert_contains(e->r[5].error, "has no \"path\"");

	unlink(ok);
	k = knob("gone", ok);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 7);
	assert_false(e->r[6].ok);
	assert_contains(e->r[6].error, "No such file or directory");
	actuator_free(a);
}

/*
 * The allowed file replaced by a hard link to a file elsewhere (where
 * fs.protected_hardlinks is off, anyone may link a file of root's into
 * a directory they own): refused, for reading as for writing, and the
 * other file keeps its text.  Knob files (sysctls, cgroup files) have
 * one link.
 */
static void
test_file_hardlink(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k;
	char			 path[PATH_MAX], other[PATH_MAX], buf[64];
	char			*allow[1];

	fmt(path, sizeof(path), "%s/cpu.weight", e->dir);
	fmt(other, sizeof(other), "%s/passwd", e->dir);
	write_file(other, "100\n", 0644);
	assert_int_equal(link(other, path), 0);
	allow[0] = path;
	a = file_actuator(e, allow, 1);
	k = knob("cpu.weight", path);
	actuator_set(a, &k, 200, done_cb, e);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 2);
	assert_false(e->r[0].ok);
	assert_contains(e->r[0].error, "has 2 links (refused)");
	assert_false(e->r[1].ok);
	assert_contains(e->r[1].error, "has 2 links (refused)");
	assert_string_equal(read_text(other, buf, sizeof(buf)), "100\n");
	actuator_free(a);
}

/*
 * A symlink in place of a directory on an allowed path (a delegated
 * cgroup directory swapped by its owner) is refused, whichever way the
 * path is resolved: openat2 or the component walk.
 */
static void
file_dir_symlink(struct env *e)
{
	struct actuator		*a;
	struct mt_knob_conf	 k;
	char			 dir[PATH_MAX], real[PATH_MAX], out[PATH_MAX];
	char			 path[PATH_MAX], target[PATH_MAX], buf[64];
	char			*allow[1];

	fmt(dir, sizeof(dir), "%s/cg", e->dir);
	fmt(real, sizeof(real), "%s/cg.real", e->dir);
	fmt(out, sizeof(out), "%s/elsewhere", e->dir);
	fmt(path, sizeof(path), "%s/cpu.weight", dir);
	fmt(target, sizeof(target), "%s/cpu.weight", out);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(out, 0755), 0);
	write_file(path, "100\n", 0644);
	write_file(target, "100\n", 0644);
	allow[0] = path;
	a = file_actuator(e, allow, 1);
	k = knob("cpu.weight", path);

	actuator_set(a, &k, 200, done_cb, e);
	run_until(e, 1);
	assert_true(e->r[0].ok && e->r[0].value == 200);
	assert_string_equal(read_text(path, buf, sizeof(buf)), "200\n");

	assert_int_equal(rename(dir, real), 0);
	assert_int_equal(symlink(out, dir), 0);
	actuator_set(a, &k, 300, done_cb, e);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 3);
	assert_false(e->r[1].ok);
	assert_contains(e->r[1].error, "open ");
	assert_contains(e->r[1].error, "/cg/cpu.weight for writing: a "
	    "symbolic link on the path (refused)");
	assert_false(e->r[2].ok);
	assert_contains(e->r[2].error, "a symbolic link on the path");
	assert_string_equal(read_text(target, buf, sizeof(buf)), "100\n");

	/* The last component a symlink: refused too. */
	assert_int_equal(unlink(dir), 0);
	assert_int_equal(rename(real, dir), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(target, path), 0);
	actuator_set(a, &k, 400, done_cb, e);
	run_until(e, 4);
	assert_false(e->r[3].ok);
	assert_contains(e->r[3].error, "a symbolic link on the path");
	assert_string_equal(read_text(target, buf, sizeof(buf)), "100\n");
	actuator_free(a);
}

static void
test_file_dir_symlink(void **state)
{
	file_dir_symlink(*state);
}

/* The same, and the plain cases, through the component walk. */
static void
test_file_walk(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k;
	char			 path[PATH_MAX], buf[64], *allow[1];

	actuator_file_force_walk(1);
	file_dir_symlink(e);
	fmt(path, sizeof(path), "%s/cg/sub/memory.high", e->dir);
	fmt(buf, sizeof(buf), "%s/cg/sub", e->dir);
	assert_int_equal(mkdir(buf, 0755), 0);
	write_file(path, "max\n", 0644);
	allow[0] = path;
	a = file_actuator(e, allow, 1);
	k = knob("mem.high", path);
	actuator_set(a, &k, 1048576, done_cb, e);
	run_until(e, 5);
	assert_true(e->r[4].ok && e->r[4].value == 1048576);
	assert_true(e->r[4].old == -1);
	assert_string_equal(read_text(path, buf, sizeof(buf)), "1048576\n");
	unlink(path);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 6);
	assert_false(e->r[5].ok);
	assert_contains(e->r[5].error, "No such file or directory");
	actuator_free(a);
	actuator_file_force_walk(0);
}

/* One set of the race: where its outcome lands. */
struct race {
	int		 done, ok, failed, lied;
	int		 realdir;	/* O_PATH of the real directory */
	double		 value;
	char		 error[ACTUATOR_ERRLEN];
};

static void
race_cb(const struct actuator_result *r, void *arg)
{
	struct race	*x = arg;
	char		 buf[64];
	ssize_t		 n;
	int		 fd;

	x->done = 1;
	if (!r->ok) {
		x->failed++;
		snprintf(x->error, sizeof(x->error), "%s", r->error);
		return;
	}
	x->ok++;
	/* An applied set must be in the real file, whatever its name now. */
	fd = openat(x->realdir, "knob", O_RDONLY);
	assert_int_not_equal(fd, -1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	if (strtod(buf, NULL) != x->value || r->value != x->value)
		x->lied++;
}

/*
 * The race of issue 21: a child swaps a directory on an allowed path for
 * a symlink to another directory and back, as fast as it can, while the
 * actuator sets the knob again and again.  Nothing outside the allow list
 * may ever be written, and every set that says it applied must have
 * written the real file.  Runs until both outcomes were seen many times
 * (bounded by count and time), with openat2 and then with the walk.
 */
static void
file_race(struct env *e)
{
	struct actuator		*a;
	struct mt_knob_conf	 k;
	struct race		 x;
	char			 dir[PATH_MAX], moved[PATH_MAX], out[PATH_MAX];
	char			 path[PATH_MAX], decoy[PATH_MAX], buf[64];
	char			*allow[1];
	uint64_t		 start = clock_mono_ms();
	pid_t			 pid;
	int			 i, status;

	fmt(dir, sizeof(dir), "%s/race", e->dir);
	fmt(moved, sizeof(moved), "%s/race.moved", e->dir);
	fmt(out, sizeof(out), "%s/outside", e->dir);
	fmt(path, sizeof(path), "%s/knob", dir);
	fmt(decoy, sizeof(decoy), "%s/knob", out);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(out, 0755), 0);
	write_file(path, "1\n", 0644);
	write_file(decoy, "12345\n", 0644);	/* a number: worth writing */
	memset(&x, 0, sizeof(x));
	x.realdir = open(dir, O_PATH | O_DIRECTORY);
	assert_int_not_equal(x.realdir, -1);
	allow[0] = path;
	a = file_actuator(e, allow, 1);
	k = knob("race", path);

	if ((pid = fork()) == 0) {
		/* A few microseconds in each state: both outcomes happen. */
		struct timespec	 ts = { 0, 20000 };

		for (;;) {
			if (rename(dir, moved) == 0) {
				(void)symlink(out, dir);
				nanosleep(&ts, NULL);
				(void)unlink(dir);
				(void)rename(moved, dir);
			}
			nanosleep(&ts, NULL);
		}
	}
	assert_true(pid > 0);
	for (i = 0; i < 200000 && (x.ok < 100 || x.failed < 100) &&
	    clock_mono_ms() - start < 30000; i++) {
		x.done = 0;
		x.value = (double)(i + 2);
		actuator_set(a, &k, x.value, race_cb, &x);
		while (!x.done)
			assert_int_not_equal(event_base_loop(e->base,
			    EVLOOP_ONCE), -1);
		if (strcmp(read_text(decoy, buf, sizeof(buf)), "12345\n") != 0)
			break;
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Nothing written outside, no applied set that was not. */
	assert_string_equal(read_text(decoy, buf, sizeof(buf)), "12345\n");
	assert_int_equal(x.lied, 0);
	/* The race did run: both outcomes, each many times. */
	if (x.ok < 100 || x.failed < 100)
		fail_msg("after %d sets in %llu ms: %d applied, %d failed",
		    i, (unsigned long long)(clock_mono_ms() - start), x.ok,
		    x.failed);
	close(x.realdir);
	actuator_free(a);
}

static void
test_file_race(void **state)
{
	file_race(*state);
}

static void
test_file_race_walk(void **state)
{
	actuator_file_force_walk(1);
	file_race(*state);
	actuator_file_force_walk(0);
}

static void
test_file_cgroup(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k, m;
	char			 cpu[PATH_MAX], mem[PATH_MAX], buf[64];
	char			*allow[2];

	fmt(cpu, sizeof(cpu), "%s/cpu.max", e->dir);
	fmt(mem, sizeof(mem), "%s/memory.high", e->dir);
	write_file(cpu, "max 100000\n", 0644);
	write_file(mem, "max\n", 0644);
	allow[0] = cpu;
	allow[1] = mem;
	a = file_actuator(e, allow, 2);
	k = knob("cpu.quota_us", cpu);
	m = knob("mem.high", mem);

	actuator_get(a, &k, done_cb, e);
	run_until(e, 1);
	assert_true(e->r[0].ok && e->r[0].value == -1);	/* "max" */

	actuator_set(a, &k, 50000, done_cb, e);
	run_until(e, 2);
	assert_true(e->r[1].ok && e->r[1].value == 50000);
	assert_true(e->r[1].old == -1);
	assert_string_equal(read_text(cpu, buf, sizeof(buf)),
	    "50000 100000\n");	/* the period is kept */

	actuator_set(a, &k, -1, done_cb, e);
	run_until(e, 3);
	assert_true(e->r[2].ok && e->r[2].value == -1 && e->r[2].old == 50000);
	assert_string_equal(read_text(cpu, buf, sizeof(buf)), "max 100000\n");

	actuator_set(a, &k, 0, done_cb, e);
	run_until(e, 4);
	assert_false(e->r[3].ok);
	assert_contains(e->r[3].error, "out of the format");

	actuator_set(a, &m, 1073741824.0, done_cb, e);
	run_until(e, 5);
	assert_true(e->r[4].ok && e->r[4].value == 1073741824.0);
	assert_true(e->r[4].old == -1);
	assert_string_equal(read_text(mem, buf, sizeof(buf)), "1073741824\n");

	actuator_set(a, &m, -5, done_cb, e);
	run_until(e, 6);
	assert_false(e->r[5].ok);
	assert_contains(e->r[5].error, "out of the format");

	write_file(cpu, "100000\n", 0644);	/* no period */
	actuator_get(a, &k, done_cb, e);
	run_until(e, 7);
	assert_false(e->r[6].ok);
	assert_contains(e->r[6].error, "\"QUOTA PERIOD\" or \"max PERIOD\"");
	actuator_free(a);
}

static void
test_file_permission(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k;
	char			*allow[1], before[64], after[64];
	const char		*path = "/proc/sys/kernel/ngroups_max";

	/*
	 * Tests run as root, which writes through mode bits on ordinary
	 * files; a 0444 sysctl refuses even root (EACCES), and a read-only
	 * /proc/sys (containers) refuses with EROFS.
	 */
	if (access(path, R_OK) == -1)
		skip();
	read_text(path, before, sizeof(before));
	allow[0] = (char *)path;
	a = file_actuator(e, allow, 1);
	k = knob("kernel.ngroups_max", path);
	actuator_set(a, &k, atof(before), done_cb, e);
	run_until(e, 1);
	assert_false(e->r[0].ok);
	if (strstr(e->r[0].error, "Permission denied") == NULL &&
	    strstr(e->r[0].error, "Read-only file system") == NULL)
		fail_msg("unexpected error: %s", e->r[0].error);
	assert_contains(e->r[0].error, "for writing");
	assert_true(e->r[0].old == atof(before));
	read_text(path, after, sizeof(after));
	assert_string_equal(before, after);
	actuator_free(a);
}

/*
 * log
 */
static void
test_log(void **state)
{
	struct env		*e = *state;
	struct mt_actuator_conf	 c;
	struct actuator		*a;
	struct mt_knob_conf	 k = knob("net.batch_size", NULL);

	memset(&c, 0, sizeof(c));
	c.name = "dry";
	c.type = "log";
	a = mk(e, &c);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 1);
	assert_false(e->r[0].ok);
	assert_contains(e->r[0].error, "no value known");
	k.initial = 8;
	actuator_get(a, &k, done_cb, e);
	run_until(e, 2);
	assert_true(e->r[1].ok && e->r[1].value == 8);
	actuator_set(a, &k, 32, done_cb, e);
	assert_int_equal(e->n, 2);
	run_until(e, 3);
	assert_true(e->r[2].ok && e->r[2].value == 32);
	assert_false(e->r[2].readback);
	actuator_get(a, &k, done_cb, e);
	run_until(e, 4);
	assert_true(e->r[3].ok && e->r[3].value == 32);
	actuator_set(a, &k, INFINITY, done_cb, e);
	run_until(e, 5);
	assert_false(e->r[4].ok);
	actuator_free(a);
}

/*
 * Teardown and cancel.
 */
static void
test_teardown_in_flight(void **state)
{
	struct env		*e = *state;
	struct actuator		*u, *x, *h, *l, *f;
	struct mt_actuator_conf	 c;
	struct mt_knob_conf	 ks = knob("silent", NULL);
	struct mt_knob_conf	 kh = knob("slow", NULL);
	struct mt_knob_conf	 kl = knob("l", NULL);
	char			 pidfile[PATH_MAX], buf[64], *body;
	pid_t			 pid;
	int			 i;

	unix_server(e);
	http_server(e);
	fmt(pidfile, sizeof(pidfile), "%s/pid", e->dir);
	xasprintf(&body, "echo $$ > %s\nexec sleep 30", pidfile);
	u = unix_actuator(e, e->sock, 5000);
	x = exec_actuator(e, script(e, "slow.sh", body), 5000);
	free(body);
	h = http_actuator(e, "127.0.0.1", e->port, 5000);
	memset(&c, 0, sizeof(c));
	c.name = "dry";
	c.type = "log";
	l = mk(e, &c);
	for (i = 0; i < 3; i++) {
		actuator_set(u, &ks, i, done_cb, e);
		actuator_set(h, &kh, i, done_cb, e);
	}
	actuator_set(x, &ks, 1, done_cb, e);
	/* Let every request reach its peer, and the script start. */
	for (i = 0; i < 100 && (e->seen.requests < 6 ||
	    access(pidfile, R_OK) == -1); i++)
		(void)run_for(e, 1, 20);
	assert_int_equal(e->n, 0);
	assert_int_equal(e->seen.requests, 6);
	pid = (pid_t)atol(read_text(pidfile, buf, sizeof(buf)));
	assert_true(pid > 0);
	/* Finished but not delivered yet: freed without a callback. */
	actuator_set(l, &kl, 1, done_cb, e);
	assert_int_equal(actuator_pending(u), 3);
	assert_int_equal(actuator_pending(x), 1);
	assert_int_equal(actuator_pending(h), 3);
	assert_int_equal(actuator_pending(l), 1);

	actuator_free(u);
	actuator_free(x);
	actuator_free(h);
	actuator_free(l);
	/* The child is dead and reaped, synchronously. */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_no_children();
	(void)run_for(e, 1, 200);
	assert_int_equal(e->n, 0);

	/* cancel: one op goes, its neighbour still completes. */
	f = unix_actuator(e, e->sock, 5000);
	ks = knob("ok", NULL);
	actuator_cancel(actuator_set(f, &ks, 5, done_cb, e));
	actuator_set(f, &ks, 6, done_cb, e);
	run_until(e, 1);
	(void)run_for(e, 2, 100);
	assert_int_equal(e->n, 1);
	assert_true(e->r[0].ok && e->r[0].value == 6);
	actuator_free(f);
}

static void
test_free_from_callback(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct mt_knob_conf	 k1 = knob("ok", NULL);
	struct mt_knob_conf	 k2 = knob("silent", NULL);

	unix_server(e);
	a = unix_actuator(e, e->sock, 5000);
	actuator_set(a, &k2, 1, done_cb, e);
	actuator_set(a, &k1, 2, done_cb, e);
	e->free_me = a;		/* the first callback frees a */
	run_until(e, 1);
	assert_null(e->free_me);
	(void)run_for(e, 2, 100);
	assert_int_equal(e->n, 1);
	assert_string_equal(e->r[0].knob, "ok");
}

static void
test_stats(void **state)
{
	struct env		*e = *state;
	struct actuator		*a;
	struct actuator_stats	 st;
	struct mt_knob_conf	 k = knob("ok", NULL);
	struct mt_knob_conf	 s = knob("silent", NULL);
	struct mt_knob_conf	 g = knob("garbage", NULL);

	unix_server(e);
	a = unix_actuator(e, e->sock, 200);
	actuator_set(a, &k, 1, done_cb, e);
	actuator_set(a, &s, 1, done_cb, e);
	actuator_set(a, &g, 1, done_cb, e);
	actuator_get_stats(a, &st);
	assert_int_equal(st.started, 3);
	assert_int_equal(st.pending, 3);
	run_until(e, 3);
	actuator_get_stats(a, &st);
	assert_int_equal(st.succeeded, 1);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.pending, 0);
	actuator_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_lookup),
		T(test_new_refused),
		T(test_actuators_from_config),
		T(test_format_value),
		T(test_parse_reply),
		T(test_unix_set_get),
		T(test_unix_failures),
		T(test_timeout_counts_from_start),
		T(test_unix_no_server),
		T(test_unix_concurrent),
		T(test_exec_ok),
		T(test_exec_output),
		T(test_exec_failures),
		T(test_exec_initial),
		T(test_http_ok),
		T(test_http_failures),
		T(test_http_refused),
		T(test_http_closed_early),
		T(test_file_plain),
		T(test_file_refused),
		T(test_file_dir_symlink),
		T(test_file_walk),
		T(test_file_hardlink),
		T(test_file_race),
		T(test_file_race_walk),
		T(test_file_cgroup),
		T(test_file_permission),
		T(test_log),
		T(test_teardown_in_flight),
		T(test_free_from_callback),
		T(test_stats),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	log_init(1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
