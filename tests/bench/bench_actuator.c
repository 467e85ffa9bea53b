/*
 * bench_actuator.c -- round-trip time of one set through each backend,
 * sequentially, on one event_base: unix (against an in-process server
 * on the same loop, so client and server work are both counted), http
 * (an in-process evhttp server), exec (/bin/true), file (a temporary
 * file) and log.  Prints JSON lines: set_us, the median and p90 of N sets.
 * Usage: bench_actuator [sets]
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "meshtuned.h"

static struct event_base	*base;
static int			 done, failed;

static void
done_cb(const struct actuator_result *r, void *arg)
{
	if (!r->ok) {
		fprintf(stderr, "bench_actuator: %s\n", r->error);
		failed = 1;
	}
	done = 1;
}

/* A reply with the value of the request, to a line or a body. */
static char *
answer(const char *text, size_t len)
{
	cJSON	*o, *v;
	char	*s;

	o = cJSON_ParseWithLength(text, len);
	v = o != NULL ? cJSON_GetObjectItemCaseSensitive(o, "value") : NULL;
	xasprintf(&s, "{\"ok\":true,\"value\":%.17g}\n",
	    cJSON_IsNumber(v) ? v->valuedouble : 0.0);
	cJSON_Delete(o);
	return s;
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	char	*line, *rep;
	size_t	 len;

	if ((line = evbuffer_readln(bufferevent_get_input(bev), &len,
	    EVBUFFER_EOL_LF)) == NULL)
		return;
	rep = answer(line, len);
	bufferevent_write(bev, rep, strlen(rep));
	free(rep);
	free(line);
}

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	bufferevent_free(bev);
}

static void
srv_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct bufferevent	*bev;

	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("bufferevent_socket_new");
	bufferevent_setcb(bev, srv_read_cb, NULL, srv_event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
http_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	struct evbuffer	*out = evbuffer_new();
	char		*rep;

	rep = answer((char *)evbuffer_pullup(in, -1),
	    evbuffer_get_length(in));
	evbuffer_add(out, rep, strlen(rep));
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
	free(rep);
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
bench(const char *name, struct mt_actuator_conf *c, const char *path,
    int n)
{
	struct actuator		*a;
	struct mt_knob_conf	 k;
	char			 err[ACTUATOR_ERRLEN];
	double			*us;
	uint64_t		 t0;
	int			 i;

	if ((a = actuator_new(base, c, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	memset(&k, 0, sizeof(k));
	k.name = "net.batch_size";
	k.path = (char *)path;
	k.initial = NAN;
	us = xcalloc(n, sizeof(*us));
	for (i = 0; i < n; i++) {
		done = 0;
		t0 = clock_mono_us();
		actuator_set(a, &k, 1 + i % 64, done_cb, NULL);
		while (!done)
			event_base_loop(base, EVLOOP_ONCE);
		us[i] = (double)(clock_mono_us() - t0);
		if (failed)
			exit(1);
	}
	qsort(us, n, sizeof(*us), cmp_double);
	printf("{\"bench\":\"actuator\",\"metric\":\"%s_set_us\","
	    "\"value\":%.1f,\"unit\":\"us\",\"p90\":%.1f,\"n\":%d}\n",
	    name, us[n / 2], us[n * 9 / 10], n);
	free(us);
	actuator_free(a);
}

int
main(int argc, char **argv)
{
	struct mt_actuator_conf		 c;
	struct evconnlistener		*lis;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bs;
	struct sockaddr_un		 sun;
	struct sockaddr_in		 sin;
	socklen_t			 len = sizeof(sin);
	char				 dir[] = "/tmp/mt-bench-act-XXXXXX";
	char				 path[PATH_MAX], url[64], *allow[1];
	char				*xargv[3];
	int				 n = argc > 1 ? atoi(argv[1]) : 500, fd;

	if (n < 10)
		n = 10;
	signal(SIGPIPE, SIG_IGN);
	log_init(1, 0);
	if ((base = event_base_new()) == NULL || mkdtemp(dir) == NULL)
		fatal("setup");

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/ctl.sock", dir);
	lis = evconnlistener_new_bind(base, srv_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE, 64, (struct sockaddr *)&sun, sizeof(sun));
	if (lis == NULL)
		fatal("listen %s", sun.sun_path);
	memset(&c, 0, sizeof(c));
	c.name = "node";
	c.type = "unix";
	c.path = sun.sun_path;
	c.timeout_ms = 5000;
	bench("unix", &c, NULL, n);

	if ((http = evhttp_new(base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_gencb(http, http_cb, NULL);
	if ((bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0)) ==
	    NULL || getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &len) == -1)
		fatal("http bind");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/knobs",
	    ntohs(sin.sin_port));
	memset(&c, 0, sizeof(c));
	c.name = "admin";
	c.type = "http";
	c.url = url;
	c.timeout_ms = 5000;
	bench("http", &c, NULL, n);

	memset(&c, 0, sizeof(c));
	c.name = "tool";
	c.type = "exec";
	xargv[0] = "/bin/true";
	xargv[1] = "{knob}";
	xargv[2] = "{value}";
	c.argv.v = xargv;
	c.argv.n = 3;
	c.timeout_ms = 5000;
	bench("exec", &c, NULL, n / 5 > 10 ? n / 5 : 10);

	snprintf(path, sizeof(path), "%s/rmem_max", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, "8\n", 2) != 2 || close(fd) == -1)
		fatal("%s", path);
	allow[0] = path;
	memset(&c, 0, sizeof(c));
	c.name = "sys";
	c.type = "file";
	c.allow.v = allow;
	c.allow.n = 1;
	bench("file", &c, path, n);

	/* The log backend logs every set: keep it off the terminal. */
	if ((fd = open("/dev/null", O_WRONLY)) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1 || close(fd) == -1)
		fatal("/dev/null");
	memset(&c, 0, sizeof(c));
	c.name = "dry";
	c.type = "log";
	bench("log", &c, NULL, n);

	evhttp_free(http);
	evconnlistener_free(lis);
	event_base_free(base);
	unlink(path);
	unlink(sun.sun_path);
	rmdir(dir);
	return 0;
}
