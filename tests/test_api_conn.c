/*
 * test_api_conn.c -- api_conn.c against a real evhttp server on the
 * test's own event_base and real client sockets: the cap closes the
 * connection that waited longest (503) and serves a whole request at
 * once; the deadline (408) is whole-request, restarted only by a reply;
 * a handler's close callback is chained; a reply the client does not
 * read is given up at the deadline too, and requests pipelined behind
 * one being answered are read no further than API_CONN_INPUT_MAX; more
 * than API_CONN_OUTPUT_MAX of unread replies held closes the oldest; and
 * when accept() runs out of descriptors (the process limited to 48) the
 * listener backs off, frees descriptors, and logs a few lines, not a
 * storm.
 *
 * Every loop is bounded by a deadline; the child is reaped; the
 * descriptor limit is restored.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "meshtuned.h"

struct srv {
	struct event_base	*base;
	struct evhttp		*http;
	struct api_conns	*cs;
	int			 port;
	struct evhttp_request	*held;		/* GET /hold: never answered */
	int			 closed;	/* its close callback ran */
	int			 handled;	/* requests handled */
	struct evhttp_connection *last;		/* the last one's */
	char			 fill[65536];	/* GET /big: 16 MB of it */
};

#define BIG_REPLY	(16 * 1024 * 1024)

static void
srv_closed(struct evhttp_connection *evcon, void *arg)
{
	struct srv	*s = arg;

	s->closed++;
	s->held = NULL;
}

static void
srv_cb(struct evhttp_request *req, void *arg)
{
	struct srv	*s = arg;
	struct evbuffer	*b;

	if (api_conns_request(s->cs, req) == -1) {
		evhttp_send_error(req, 503, NULL);
		return;
	}
	s->handled++;
	s->last = evhttp_request_get_connection(req);
	if (strcmp(evhttp_request_get_uri(req), "/big") == 0) {
		/* More than the kernel's socket buffers hold. */
		b = evbuffer_new();
		assert_int_equal(evbuffer_expand(b, BIG_REPLY), 0);
		while (evbuffer_get_length(b) < BIG_REPLY)
			evbuffer_add(b, s->fill, sizeof(s->fill));
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
		return;
	}
	if (strcmp(evhttp_request_get_uri(req), "/hold") == 0) {
		s->held = req;
		api_conns_on_close(s->cs, req, srv_closed, s);
		return;
	}
	b = evbuffer_new();
	evbuffer_add_printf(b, "ok\n");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
srv_start(struct srv *s, size_t max, int timeout_s)
{
	struct sockaddr_in	 sin;
	struct evconnlistener	*lev;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	memset(s, 0, sizeof(*s));
	memset(s->fill, 'x', sizeof(s->fill));
	assert_non_null(s->base = event_base_new());
	assert_non_null(s->http = evhttp_new(s->base));
	assert_non_null(s->cs = api_conns_new(s->base, s->http, max,
	    timeout_s));
	evhttp_set_gencb(s->http, srv_cb, s);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 512), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	assert_non_null(lev = evconnlistener_new(s->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd));
	assert_non_null(evhttp_bind_listener(s->http, lev));
	assert_int_equal(api_conns_listener(s->cs, lev), 0);
}

static void
srv_stop(struct srv *s)
{
	evhttp_free(s->http);
	api_conns_free(s->cs);
	event_base_free(s->base);
}

/* Run the loop for ms. */
static void
spin(struct srv *s, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(s->base, &tv);
	event_base_dispatch(s->base);
}

/*
 * A client: connected, non-blocking, with text sent; rcvbuf, if not 0,
 * its receive buffer (set before connecting, so the window stays small).
 */
static int
client_rcvbuf(int port, const char *text, int rcvbuf)
{
	struct sockaddr_in	 sin;
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (rcvbuf != 0)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	if (text != NULL)
		assert_int_equal(write(fd, text, strlen(text)),
		    (ssize_t)strlen(text));
	return fd;
}

static int
client(int port, const char *text)
{
	return client_rcvbuf(port, text, 0);
}

/* What fd has received, spinning s until a reply or ms; "" if none. */
static const char *
reply(struct srv *s, int fd, int ms, char *buf, size_t len)
{
	uint64_t	 end = clock_mono_ms() + (uint64_t)ms;
	size_t		 got = 0;
	ssize_t		 n;

	buf[0] = '\0';
	while (clock_mono_ms() < end) {
		spin(s, 20);
		while (got < len - 1 && (n = read(fd, buf + got,
		    len - 1 - got)) > 0)
			got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL && (strstr(buf, "ok\n") !=
		    NULL || strstr(buf, "\"}\n") != NULL))
			break;
	}
	return buf;
}

static const char	 SLOW[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
static const char	 WHOLE[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/* Past the cap: the oldest waiting one goes, a whole request is served. */
static void
test_cap(void **state)
{
	struct api_conn_stats	 st;
	struct srv		 s;
	char			 buf[1024];
	int			 slow[4], fd, i;

	(void)state;
	srv_start(&s, 4, 30);
	for (i = 0; i < 4; i++) {
		slow[i] = client(s.port, SLOW);
		spin(&s, 30);
	}
	api_conns_get_stats(s.cs, &st);
	assert_int_equal(st.open, 4);
	assert_int_equal(st.max, 4);
	fd = client(s.port, WHOLE);
	assert_non_null(strstr(reply(&s, fd, 2000, buf, sizeof(buf)),
	    "HTTP/1.1 200 OK"));
	close(fd);
	assert_non_null(strstr(reply(&s, slow[0], 2000, buf, sizeof(buf)),
	    "HTTP/1.1 503 Service Unavailable"));
	assert_non_null(strstr(buf, "{\"error\":\"too many connections: "
	    "this one waited longest for its request\"}"));
	assert_string_equal(reply(&s, slow[1], 100, buf, sizeof(buf)), "");
	for (i = 0; i < 4; i++)
		close(slow[i]);
	spin(&s, 100);
	api_conns_get_stats(s.cs, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.open, 0);
	assert_int_equal(st.accepted, 5);
	srv_stop(&s);
}

/*
 * Past the cap with every connection busy: the new one is answered 503
 * and closed, and its request, though whole, is never handled.
 */
static void
test_refused(void **state)
{
	struct api_conn_stats	 st;
	struct srv		 s;
	char			 buf[1024];
	int			 busy, fd;

	(void)state;
	srv_start(&s, 1, 30);
	busy = client(s.port, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	spin(&s, 100);
	assert_non_null(s.held);
	assert_int_equal(s.handled, 1);
	fd = client(s.port, WHOLE);
	assert_non_null(strstr(reply(&s, fd, 2000, buf, sizeof(buf)),
	    "HTTP/1.1 503 Service Unavailable"));
	assert_non_null(strstr(buf, "{\"error\":\"too many connections\"}"));
	spin(&s, 100);
	assert_int_equal(s.handled, 1);
	api_conns_get_stats(s.cs, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.evicted, 0);
	close(fd);
	close(busy);
	srv_stop(&s);
}

/*
 * The deadline is the whole request's: a byte every 200 ms does not
 * extend it, a reply does (keep-alive requests each get their own).
 */
static void
test_deadline(void **state)
{
	struct api_conn_stats	 st;
	struct srv		 s;
	char			 buf[1024];
	uint64_t		 t0;
	int			 fd, ka, n = 0;

	(void)state;
	srv_start(&s, 16, 1);
	t0 = clock_mono_ms();
	fd = client(s.port, SLOW);
	ka = client(s.port, WHOLE);
	assert_non_null(strstr(reply(&s, ka, 2000, buf, sizeof(buf)),
	    "200 OK"));
	buf[0] = '\0';
	while (clock_mono_ms() - t0 < 3000 && strstr(buf, "408") == NULL) {
		(void)write(fd, "x", 1);
		reply(&s, fd, 200, buf, sizeof(buf));
		/* The keep-alive connection asks again every 600 ms. */
		if (++n % 3 == 0) {
			(void)write(ka, WHOLE, strlen(WHOLE));
			assert_non_null(strstr(reply(&s, ka, 2000, buf + 512,
			    512), "200 OK"));
			buf[512] = '\0';
		}
	}
	assert_non_null(strstr(buf, "HTTP/1.1 408 Request Timeout"));
	assert_non_null(strstr(buf, "the request did not arrive whole within "
	    "1 s"));
	/* Closed at 1 s and a tick, though it sent a byte every 200 ms. */
	assert_true(clock_mono_ms() - t0 < 2000);
	close(fd);
	/*
	 * Idle after a reply: closed at the deadline too, but without an
	 * answer, which its client would take for the next request's.
	 */
	assert_string_equal(reply(&s, ka, 1600, buf, sizeof(buf)), "");
	assert_int_equal(read(ka, buf, sizeof(buf)), 0);
	close(ka);
	spin(&s, 100);
	api_conns_get_stats(s.cs, &st);
	assert_int_equal(st.timed_out, 2);
	assert_int_equal(st.open, 0);
	srv_stop(&s);
}

/*
 * A request being answered has no deadline, and its handler's close
 * callback (chained behind the watcher's) runs when the connection goes:
 * here because the server stops, as evhttp notices a client that left
 * only when it answers.
 */
static void
test_on_close(void **state)
{
	struct api_conn_stats	 st;
	struct srv		 s;
	int			 fd;

	(void)state;
	srv_start(&s, 16, 1);
	fd = client(s.port, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	spin(&s, 100);
	assert_non_null(s.held);
	spin(&s, 1500);
	assert_non_null(s.held);
	api_conns_get_stats(s.cs, &st);
	assert_int_equal(st.timed_out, 0);
	assert_int_equal(st.open, 1);
	evhttp_free(s.http);
	assert_int_equal(s.closed, 1);
	assert_null(s.held);
	api_conns_get_stats(s.cs, &st);
	assert_int_equal(st.open, 0);
	close(fd);
	api_conns_free(s.cs);
	event_base_free(s.base);
}

/*
 * A reply its client does not read (a "slow read") holds the connection
 * no longer than the deadline: it is shut down, so that such clients
 * cannot keep every connection busy, and a new client is served.
 */
static void
test_reply_deadline(void **state)
{
	struct api_conn_stats	 st;
	struct srv		 s;
	char			 buf[1024];
	uint64_t		 t0;
	int			 fd, ok;

	(void)state;
	srv_start(&s, 1, 1);
	fd = client_rcvbuf(s.port, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n",
	    4096);
	t0 = clock_mono_ms();
	do {
		spin(&s, 50);
		api_conns_get_stats(s.cs, &st);
	} while (st.timed_out == 0 && clock_mono_ms() - t0 < 5000);
	print_message("# the unread reply given up after %llu ms\n",
	    (unsigned long long)(clock_mono_ms() - t0));
	assert_int_equal(s.handled, 1);
	assert_int_equal(st.timed_out, 1);
	/* Its one connection is free: the next client is served. */
	ok = client(s.port, WHOLE);
	assert_non_null(strstr(reply(&s, ok, 2000, buf, sizeof(buf)),
	    "HTTP/1.1 200 OK"));
	close(ok);
	close(fd);
	srv_stop(&s);
}

/*
 * Requests pipelined behind a reply the client does not read: meshtuned
 * reads at most API_CONN_INPUT_MAX of them; the rest waits in the socket
 * (without the bound it read gigabytes).
 */
static void
test_pipelined_input(void **state)
{
	struct evbuffer	*in;
	struct srv	 s;
	static char	 chunk[65536];
	size_t		 len = 0, sent = 0, held;
	uint64_t	 t0;
	ssize_t		 n;
	int		 fd;

	(void)state;
	srv_start(&s, 16, 30);
	fd = client_rcvbuf(s.port, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n",
	    4096);
	t0 = clock_mono_ms();
	while (s.handled == 0 && clock_mono_ms() - t0 < 2000)
		spin(&s, 20);
	assert_int_equal(s.handled, 1);
	while (len + strlen(WHOLE) <= sizeof(chunk)) {
		memcpy(chunk + len, WHOLE, strlen(WHOLE));
		len += strlen(WHOLE);
	}
	/* 32 MB at most, for half a second at most. */
	t0 = clock_mono_ms();
	while (sent < 32 * 1024 * 1024 && clock_mono_ms() - t0 < 500) {
		while (sent < 32 * 1024 * 1024 &&
		    (n = write(fd, chunk, len)) > 0)
			sent += (size_t)n;
		spin(&s, 10);
	}
	in = bufferevent_get_input(evhttp_connection_get_bufferevent(s.last));
	held = evbuffer_get_length(in);
	print_message("# %zu bytes sent, %zu read and held\n", sent, held);
	assert_true(held <= API_CONN_INPUT_MAX);
	assert_int_equal(s.handled, 1);
	close(fd);
	spin(&s, 100);
	srv_stop(&s);
}

/*
 * Past the cap with every connection busy writing a reply its client
 * does not take: a new connection closes the one whose reply began
 * first, once that is API_CONN_SLOW_MS old, rather than be refused
 * (slow readers could otherwise hold the cap till their deadline).
 */
static void
test_cap_slow_readers(void **state)
{
	struct api_conn_stats	 st;
	struct srv		 s;
	char			 buf[1024];
	uint64_t		 t0, t1;
	int			 big[2], fd, i;

	(void)state;
	srv_start(&s, 2, 30);
	t1 = clock_mono_ms();
	for (i = 0; i < 2; i++) {
		big[i] = client_rcvbuf(s.port, "GET /big HTTP/1.1\r\n"
		    "Host: x\r\n\r\n", 4096);
		t0 = clock_mono_ms();
		while (s.handled < i + 1 && clock_mono_ms() - t0 < 5000)
			spin(&s, 10);
		assert_int_equal(s.handled, i + 1);
	}
	/* Young replies are left to their readers: refused. */
	fd = client(s.port, WHOLE);
	reply(&s, fd, 2000, buf, sizeof(buf));
	close(fd);
	if (clock_mono_ms() - t1 < API_CONN_SLOW_MS)
		assert_non_null(strstr(buf, "503 Service Unavailable"));
	else	/* too slow a machine to tell */
		print_message("# young replies not checked\n");
	t0 = clock_mono_ms();
	while (clock_mono_ms() - t0 < API_CONN_SLOW_MS + 300)
		spin(&s, 50);
	fd = client(s.port, WHOLE);
	assert_non_null(strstr(reply(&s, fd, 2000, buf, sizeof(buf)),
	    "200 OK"));
	api_conns_get_stats(s.cs, &st);
	assert_int_equal(st.evicted, 1);
	close(fd);
	for (i = 0; i < 2; i++)
		close(big[i]);
	spin(&s, 100);
	srv_stop(&s);
}

/*
 * Many clients that ask for large replies and read none: past
 * API_CONN_OUTPUT_MAX of replies held, a new request first closes the
 * connections whose replies began first, so meshtuned holds a bounded
 * amount however many connections do this.
 */
static void
test_output_budget(void **state)
{
	struct api_conn_stats	 st;
	struct srv		 s;
	char			 buf[1024];
	uint64_t		 t0;
	int			 big[8], fd, i, n;

	(void)state;
	srv_start(&s, 64, 30);
	n = API_CONN_OUTPUT_MAX / BIG_REPLY + 2;
	assert_true(n <= (int)nitems(big));
	for (i = 0; i < n; i++) {
		big[i] = client_rcvbuf(s.port, "GET /big HTTP/1.1\r\n"
		    "Host: x\r\n\r\n", 4096);
		t0 = clock_mono_ms();
		while (s.handled < i + 1 && clock_mono_ms() - t0 < 5000)
			spin(&s, 10);
		assert_int_equal(s.handled, i + 1);
	}
	/*
	 * The request that found more than API_CONN_OUTPUT_MAX held (the
	 * last one) closed the oldest.  One more closes the next.
	 */
	api_conns_get_stats(s.cs, &st);
	assert_int_equal(st.evicted, 1);
	fd = client(s.port, WHOLE);
	assert_non_null(strstr(reply(&s, fd, 2000, buf, sizeof(buf)),
	    "200 OK"));
	api_conns_get_stats(s.cs, &st);
	assert_int_equal(st.evicted, 2);
	/* Their connections go once evhttp sees them shut. */
	t0 = clock_mono_ms();
	while (st.open != (size_t)n - 1 && clock_mono_ms() - t0 < 2000) {
		spin(&s, 20);
		api_conns_get_stats(s.cs, &st);
	}
	assert_int_equal(st.open, (size_t)n - 1);	/* n - 2 big, fd */
	close(fd);
	for (i = 0; i < n; i++)
		close(big[i]);
	spin(&s, 100);
	srv_stop(&s);
}

static char	 errpath[] = "/tmp/test_api_conn.XXXXXX";

/*
 * Out of descriptors: a child holds 100 connections while the server
 * may open 48 descriptors; accept fails, backs off and frees some, and a
 * whole request sent after them is still answered, within seconds, with
 * few log lines.
 */
static void
test_descriptors_run_out(void **state)
{
	struct api_conn_stats	 st;
	struct rlimit		 saved, rl;
	struct srv		 s;
	char			 buf[4096], *p;
	uint64_t		 t0;
	pid_t			 pid;
	int			 pfd[2], efd, saved_err, i, status;
	int			 answered = 0, lines = 0;
	ssize_t			 n;
	FILE			*f;

	(void)state;
	srv_start(&s, 1000, 30);
	assert_int_equal(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		close(pfd[0]);
		for (i = 0; i < 100; i++)
			(void)client(s.port, SLOW);	/* held till exit */
		i = client(s.port, WHOLE);
		fcntl(i, F_SETFL, 0);
		n = read(i, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		(void)write(pfd[1], strstr(buf, "200 OK") != NULL ? "Y" : "N",
		    1);
		_exit(0);
	}
	assert_true(pid > 0);
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	/* The server's process, from here on, may open 48 descriptors. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	rl = saved;
	rl.rlim_cur = 48;
	fflush(stderr);
	assert_true((efd = mkstemp(errpath)) >= 0);
	saved_err = dup(STDERR_FILENO);
	dup2(efd, STDERR_FILENO);
	close(efd);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	t0 = clock_mono_ms();
	while (!answered && clock_mono_ms() - t0 < 10000) {
		spin(&s, 20);
		if (read(pfd[0], buf, 1) == 1)
			answered = buf[0] == 'Y' ? 1 : -1;
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	fflush(stderr);
	dup2(saved_err, STDERR_FILENO);
	close(saved_err);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(pfd[0]);
	api_conns_get_stats(s.cs, &st);
	assert_non_null(f = fopen(errpath, "r"));
	while (fgets(buf, sizeof(buf), f) != NULL)
		if ((p = strstr(buf, "api: cannot accept a connection: "
		    "Too many open files")) != NULL)
			lines++;
	fclose(f);
	unlink(errpath);
	print_message("# answered %d after %llu ms; %llu accept errors, "
	    "%llu evicted, %d log lines\n", answered,
	    (unsigned long long)(clock_mono_ms() - t0),
	    (unsigned long long)st.accept_errors,
	    (unsigned long long)st.evicted, lines);
	assert_int_equal(answered, 1);
	assert_true(st.accept_errors > 0);
	assert_true(st.evicted > 0);
	/* Backing off: tens of failures, not the thousands a spin makes. */
	assert_true(st.accept_errors < 200);
	assert_true(lines > 0 && lines <= LOG_BURST);
	srv_stop(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_on_close),
		cmocka_unit_test(test_reply_deadline),
		cmocka_unit_test(test_pipelined_input),
		cmocka_unit_test(test_output_budget),
		cmocka_unit_test(test_cap_slow_readers),
		cmocka_unit_test(test_descriptors_run_out),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init(1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
