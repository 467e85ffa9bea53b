/*
 * api_conn.c -- the API's connections: how many, for how long, and what
 * happens when descriptors run out.
 *
 * libevent 2.1's evhttp accepts without limit, restarts its timeout at
 * every byte (a client sending one byte a second lives for ever) and,
 * when accept() fails for want of descriptors, retries at once and logs
 * every failure.  This module watches every connection evhttp makes:
 *
 *	A cap.  At most max connections are open.  A new one past the cap
 *	closes the connection that has waited longest for its request
 *	(answered 503), or else the one whose reply, begun at least
 *	API_CONN_SLOW_MS ago, its client has still not taken (closed
 *	without a word), or, if every one is being answered, is itself
 *	answered 503 and closed.  At most a batch of max / 2 connections
 *	(64 at most) is accepted per turn of the event loop, so that one
 *	accepted before them reads its request before they could close it:
 *	a client that sends its request at once is served even while slow
 *	ones hold the cap and more keep coming.
 *
 *	A whole-request deadline.  A request must arrive complete within
 *	timeout of the connection opening, or of the last reply on it; the
 *	clock does not restart with each byte.  Late ones get 408.  A
 *	reply, once begun, must be taken by the client within timeout as
 *	well (evhttp's own timeout restarts with every write, so a client
 *	reading a large reply slowly held its connection for ever): past
 *	it the connection is shut down.  A handler that answers later has
 *	no deadline until its reply begins.
 *
 *	Bounded input.  evhttp reads on while a reply is being written, so
 *	a client pipelining requests behind one it does not read made it
 *	buffer gigabytes; at most API_CONN_INPUT_MAX (more than a whole
 *	request of api.c's may be) is read ahead, the rest waits in the
 *	socket.
 *
 *	Bounded output.  Replies wait in memory until their clients take
 *	them: a few hundred connections asking for a large /metrics and
 *	reading none held gigabytes until their deadline.  When the
 *	replies held pass API_CONN_OUTPUT_MAX (or twice the largest one,
 *	if that is more, so that two clients may always take a reply of
 *	any size at once), each new request first closes the connections
 *	whose replies began first until the rest fit: a client that reads
 *	has taken its reply long before.
 *
 *	Accept backs off.  When accept() fails (EMFILE, ENFILE, ENOBUFS,
 *	...) the listeners stop for 10 ms, doubling up to 1 s while it
 *	goes on, and the API_CONN_FREE_FDS connections that have waited
 *	longest for their requests are closed to free descriptors; log.c
 *	folds the warnings.
 *
 * How it sees connections without an accept hook of its own (evhttp's
 * is internal): evhttp asks the bevcb for each new connection's
 * bufferevent; the record made there is completed ("adopted") by an
 * event run right after the accept callback, when the bufferevent holds
 * its socket and its callbacks point at the evhttp_connection.  The
 * connection's close callback removes the record.  A handler that needs
 * to hear of the close itself uses api_conn_on_close(), which chains.
 * Descriptors are only ever shut down after fstat() shows they are still
 * the socket that was adopted, and a periodic sweep drops the record of
 * a connection whose close went unseen.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "meshtuned.h"

#define API_CONN_TICK_MS	250	/* deadline check */
#define API_CONN_SWEEP_TICKS	4	/* sweep every fourth tick */
#define API_CONN_BACKOFF_MIN	10	/* ms, first pause of accept */
#define API_CONN_BACKOFF_MAX	1000	/* ms */
#define API_CONN_MAX_LISTENERS	4
#define API_CONN_BATCH_MAX	64	/* accepted per turn of the loop */
#define API_CONN_FREE_FDS	16	/* closed when accept runs out */

enum api_conn_state {
	CONN_NEWBORN,		/* made by the bevcb, not adopted yet */
	CONN_WAITING,		/* reading a request */
	CONN_BUSY,		/* handled, or its reply being written */
	CONN_KILLED		/* shut down; evhttp will free it */
};

struct api_conn {
	TAILQ_ENTRY(api_conn)	 entry;		/* in the list of its state */
	struct api_conns	*cs;
	enum api_conn_state	 state;
	struct bufferevent	*bev;		/* newborn: our reference */
	struct evhttp_connection *evcon;	/* once adopted */
	evutil_socket_t		 fd;
	dev_t			 dev;
	ino_t			 ino;
	uint64_t		 since_ms;	/* waiting for a request
						   since */
	uint64_t		 reply_ms;	/* busy: its reply seen
						   begun at; 0: not yet */
	uint64_t		 served;	/* replies written on it */
	int			 refuse;	/* past the cap: 503 when
						   adopted */
	api_conn_close_fn	*onclose;	/* api_conns_on_close */
	void			*onclose_arg;
};
TAILQ_HEAD(api_connq, api_conn);

struct api_conns {
	struct event_base	*base;
	size_t			 max;
	uint64_t		 timeout_ms;
	struct api_connq	 lists[4];	/* by enum api_conn_state */
	size_t			 count[4];
	struct event		*ev_adopt;
	struct event		*ev_tick;
	struct event		*ev_resume;
	unsigned int		 ticks;
	struct evconnlistener	*lev[API_CONN_MAX_LISTENERS];
	size_t			 nlev;
	size_t			 batch;		/* accepted this turn */
	size_t			 batch_max;
	int			 batch_full;	/* listeners off till adopt */
	unsigned int		 backoff_ms;	/* 0: accepting */
	struct api_conn_stats	 stats;
};

/* Listener error callbacks get evhttp's argument: find ours by listener. */
static struct {
	struct evconnlistener	*lev;
	struct api_conns	*cs;
} api_conn_listeners[API_CONN_MAX_LISTENERS];

static void
conn_move(struct api_conn *c, enum api_conn_state to)
{
	struct api_conns	*cs = c->cs;

	TAILQ_REMOVE(&cs->lists[c->state], c, entry);
	cs->count[c->state]--;
	c->state = to;
	TAILQ_INSERT_TAIL(&cs->lists[to], c, entry);
	cs->count[to]++;
}

static void
conn_free(struct api_conn *c)
{
	struct api_conns	*cs = c->cs;

	TAILQ_REMOVE(&cs->lists[c->state], c, entry);
	cs->count[c->state]--;
	if (c->bev != NULL)
		bufferevent_decref(c->bev);
	free(c);
}

/* Connections that count against the cap: all but the killed ones. */
static size_t
conn_live(const struct api_conns *cs)
{
	return cs->count[CONN_NEWBORN] + cs->count[CONN_WAITING] +
	    cs->count[CONN_BUSY];
}

/* Whether c's descriptor is still the socket that was adopted. */
static int
conn_same(const struct api_conn *c)
{
	struct stat	st;

	return c->fd >= 0 && fstat(c->fd, &st) == 0 && st.st_dev == c->dev &&
	    st.st_ino == c->ino;
}

/*
 * Answer code with a JSON error and shut the connection down; evhttp
 * sees the end of it and frees it, and the close callback the record.
 * Only for connections that have no reply under way.  A keep-alive
 * connection idle since its last reply (nothing of a next request in
 * the socket) is closed without an answer, which its client would take
 * for the answer to the request it sends next.
 */
static void
conn_kill(struct api_conn *c, int code, const char *why)
{
	char	 buf[512];
	int	 n, len, unread = 0;

	if (!conn_same(c)) {
		/* Closed without our hearing: forget it. */
		c->cs->stats.lost++;
		conn_free(c);
		return;
	}
	if (c->served > 0 && ioctl(c->fd, FIONREAD, &unread) == 0 &&
	    unread == 0) {
		(void)shutdown(c->fd, SHUT_RDWR);
		conn_move(c, CONN_KILLED);
		return;
	}
	len = (int)strlen(why) + 13;	/* {"error":"..."}\n */
	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %d\r\n"
	    "Connection: close\r\n\r\n{\"error\":\"%s\"}\n", code,
	    code == 408 ? "Request Timeout" : "Service Unavailable", len, why);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)send(c->fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)shutdown(c->fd, SHUT_RDWR);
	conn_move(c, CONN_KILLED);
}

/*
 * The oldest connection still waiting for its request, if it has waited
 * at least min_ms; NULL if there is none.
 */
static struct api_conn *
conn_oldest(struct api_conns *cs, uint64_t now, uint64_t min_ms)
{
	struct api_conn	*c = TAILQ_FIRST(&cs->lists[CONN_WAITING]);

	if (c == NULL || now - c->since_ms < min_ms)
		return NULL;
	return c;
}

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct api_conn		*c = arg;
	api_conn_close_fn	*fn = c->onclose;
	void			*fnarg = c->onclose_arg;

	conn_free(c);
	if (fn != NULL)
		fn(evcon, fnarg);
}

static void
conn_listeners(struct api_conns *cs, int on)
{
	size_t	i;

	for (i = 0; i < cs->nlev; i++)
		if (on)
			evconnlistener_enable(cs->lev[i]);
		else
			evconnlistener_disable(cs->lev[i]);
}

/*
 * The bytes of reply a busy connection holds for its client; notes when
 * its reply began (first seen held) in c->reply_ms.
 */
static size_t
conn_held(struct api_conn *c, uint64_t now)
{
	struct bufferevent	*bev;
	size_t			 len;

	if ((bev = evhttp_connection_get_bufferevent(c->evcon)) == NULL)
		return 0;
	len = evbuffer_get_length(bufferevent_get_output(bev));
	if (len > 0 && c->reply_ms == 0)
		c->reply_ms = now;
	return len;
}

/*
 * Close a busy connection without a word (its reply is under way), and
 * free its reply at once: a turn of the loop may run many requests
 * before evhttp would see a shutdown, and libevent frees a bufferevent's
 * buffers only at the end of the turn.  Its close callback frees the
 * record.  counter counts it.
 */
static void
conn_drop_reply(struct api_conn *c, uint64_t *counter)
{
	struct bufferevent	*bev;
	struct evbuffer		*out;

	if (!conn_same(c)) {
		c->cs->stats.lost++;
		conn_free(c);
		return;
	}
	(*counter)++;
	if ((bev = evhttp_connection_get_bufferevent(c->evcon)) != NULL) {
		out = bufferevent_get_output(bev);
		(void)evbuffer_drain(out, evbuffer_get_length(out));
	}
	evhttp_connection_free(c->evcon);
}

/*
 * A busy connection: note when its reply begins, and shut the
 * connection down once the reply has taken longer than the deadline.
 */
static void
conn_reply_check(struct api_conn *c, uint64_t now)
{
	(void)conn_held(c, now);
	if (c->reply_ms != 0 && now - c->reply_ms >= c->cs->timeout_ms)
		conn_drop_reply(c, &c->cs->stats.timed_out);
}

/*
 * The busy connection whose reply began first, at least API_CONN_SLOW_MS
 * before now, and is still held; NULL if there is none.
 */
static struct api_conn *
conn_slowest(struct api_conns *cs, uint64_t now)
{
	struct api_conn	*c, *slowest = NULL;

	TAILQ_FOREACH(c, &cs->lists[CONN_BUSY], entry)
		if (conn_held(c, now) > 0 &&
		    now - c->reply_ms >= API_CONN_SLOW_MS &&
		    (slowest == NULL || c->reply_ms < slowest->reply_ms))
			slowest = c;
	return slowest;
}

/*
 * Past API_CONN_OUTPUT_MAX of replies held (or twice the largest), close
 * the connections whose replies began first until the rest fit.
 */
static void
conn_shed(struct api_conns *cs, uint64_t now)
{
	struct api_conn	*c, *oldest;
	size_t		 held, len, largest;

	for (;;) {
		held = largest = 0;
		oldest = NULL;
		TAILQ_FOREACH(c, &cs->lists[CONN_BUSY], entry) {
			if ((len = conn_held(c, now)) == 0)
				continue;
			held += len;
			if (len > largest)
				largest = len;
			if (oldest == NULL || c->reply_ms < oldest->reply_ms)
				oldest = c;
		}
		if (oldest == NULL || held <= API_CONN_OUTPUT_MAX ||
		    held <= 2 * largest)
			return;
		log_debug("api: %zu bytes of replies held; closing the "
		    "connection whose reply began %llu ms ago", held,
		    (unsigned long long)(now - oldest->reply_ms));
		conn_drop_reply(oldest, &cs->stats.evicted);
	}
}

/* The bufferevent of a connection evhttp is setting up: make a record. */
static struct bufferevent *
conn_bevcb(struct event_base *base, void *arg)
{
	struct api_conns	*cs = arg;
	struct api_conn		*c, *victim;
	struct bufferevent	*bev;

	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ==
	    NULL)
		fatalx("%s: out of memory", __func__);
	c = xcalloc(1, sizeof(*c));
	c->cs = cs;
	c->state = CONN_NEWBORN;
	c->fd = -1;
	c->bev = bev;
	bufferevent_incref(bev);	/* alive until adopted, whatever */
	cs->stats.accepted++;
	cs->backoff_ms = 0;
	if (++cs->batch >= cs->batch_max && !cs->batch_full) {
		/* The rest wait in the backlog for the next turn. */
		cs->batch_full = 1;
		conn_listeners(cs, 0);
	}
	if (conn_live(cs) >= cs->max) {
		if ((victim = conn_oldest(cs, 0, 0)) != NULL) {
			cs->stats.evicted++;
			conn_kill(victim, 503, "too many connections: this "
			    "one waited longest for its request");
		} else if ((victim = conn_slowest(cs, clock_mono_ms())) !=
		    NULL)
			conn_drop_reply(victim, &cs->stats.evicted);
		else {
			cs->stats.refused++;
			c->refuse = 1;
		}
	}
	TAILQ_INSERT_TAIL(&cs->lists[CONN_NEWBORN], c, entry);
	cs->count[CONN_NEWBORN]++;
	event_active(cs->ev_adopt, EV_TIMEOUT, 0);
	return bev;
}

/* Complete the records of the connections accepted since the last run. */
static void
conn_adopt_cb(evutil_socket_t fd, short events, void *arg)
{
	struct api_conns	*cs = arg;
	struct api_conn		*c;
	struct bufferevent	*bev;
	struct stat		 st;
	bufferevent_event_cb	 ecb;
	void			*cbarg;

	cs->batch = 0;
	if (cs->batch_full) {
		cs->batch_full = 0;
		if (cs->backoff_ms == 0)
			conn_listeners(cs, 1);
	}
	while ((c = TAILQ_FIRST(&cs->lists[CONN_NEWBORN])) != NULL) {
		bev = c->bev;
		bufferevent_getcb(bev, NULL, NULL, &ecb, &cbarg);
		c->fd = bufferevent_getfd(bev);
		/* evhttp gave up on it already, or it is not evhttp's. */
		if (ecb == NULL || cbarg == NULL || c->fd < 0 ||
		    evhttp_connection_get_bufferevent(cbarg) != bev ||
		    fstat(c->fd, &st) == -1) {
			conn_free(c);
			continue;
		}
		c->evcon = cbarg;
		bufferevent_setwatermark(bev, EV_READ, 0,
		    API_CONN_INPUT_MAX);
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->bev = NULL;
		bufferevent_decref(bev);
		evhttp_connection_set_closecb(c->evcon, conn_closed, c);
		c->since_ms = clock_mono_ms();
		conn_move(c, CONN_WAITING);
		if (c->refuse)
			conn_kill(c, 503, "too many connections");
	}
}

/* Deadlines, and now and then the sweep for closes that went unseen. */
static void
conn_tick_cb(evutil_socket_t fd, short events, void *arg)
{
	struct api_conns	*cs = arg;
	struct api_conn		*c, *next;
	uint64_t		 now = clock_mono_ms();
	char			 why[96];
	int			 s;

	while ((c = conn_oldest(cs, now, cs->timeout_ms)) != NULL) {
		cs->stats.timed_out++;
		snprintf(why, sizeof(why), "the request did not arrive whole "
		    "within %llu s", (unsigned long long)cs->timeout_ms / 1000);
		conn_kill(c, 408, why);
	}
	for (c = TAILQ_FIRST(&cs->lists[CONN_BUSY]); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_reply_check(c, now);
	}
	if (++cs->ticks % API_CONN_SWEEP_TICKS != 0)
		return;
	for (s = CONN_WAITING; s <= CONN_KILLED; s++)
		for (c = TAILQ_FIRST(&cs->lists[s]); c != NULL; c = next) {
			next = TAILQ_NEXT(c, entry);
			if (!conn_same(c)) {
				cs->stats.lost++;
				log_debug("api: connection on fd %d closed "
				    "unseen", (int)c->fd);
				conn_free(c);
			}
		}
}

static void
conn_resume_cb(evutil_socket_t fd, short events, void *arg)
{
	conn_listeners(arg, 1);
}

/*
 * accept() failed with something other than a retry: pause the
 * listeners, and free a descriptor by closing the oldest waiting
 * connection.
 */
static void
conn_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct api_conns	*cs = NULL;
	struct api_conn		*victim;
	struct timeval		 tv;
	size_t			 i;
	int			 e = EVUTIL_SOCKET_ERROR(), n;

	for (i = 0; i < nitems(api_conn_listeners); i++)
		if (api_conn_listeners[i].lev == lev)
			cs = api_conn_listeners[i].cs;
	if (cs == NULL) {
		evconnlistener_disable(lev);
		return;
	}
	cs->stats.accept_errors++;
	cs->backoff_ms = cs->backoff_ms == 0 ? API_CONN_BACKOFF_MIN :
	    cs->backoff_ms * 2 > API_CONN_BACKOFF_MAX ? API_CONN_BACKOFF_MAX :
	    cs->backoff_ms * 2;
	conn_listeners(cs, 0);
	for (n = 0; n < API_CONN_FREE_FDS &&
	    (victim = conn_oldest(cs, 0, 0)) != NULL; n++) {
		cs->stats.evicted++;
		conn_kill(victim, 503, "out of descriptors: this one waited "
		    "long for its request");
	}
	tv.tv_sec = cs->backoff_ms / 1000;
	tv.tv_usec = (cs->backoff_ms % 1000) * 1000;
	evtimer_add(cs->ev_resume, &tv);
	log_warnx("api: cannot accept a connection: %s; %zu open, accepting "
	    "again in %u ms", strerror(e), conn_live(cs), cs->backoff_ms);
}

/*
 * Watch the connections of http: at most max at once, each request
 * whole within timeout_s.  Returns the watcher, or NULL if its events
 * cannot be made.  Free it after evhttp_free(http).
 */
struct api_conns *
api_conns_new(struct event_base *base, struct evhttp *http, size_t max,
    int timeout_s)
{
	struct api_conns	*cs;
	struct timeval		 tv = { 0, API_CONN_TICK_MS * 1000 };
	int			 i;

	cs = xcalloc(1, sizeof(*cs));
	cs->base = base;
	api_conns_set_limits(cs, max, timeout_s);
	for (i = 0; i < 4; i++)
		TAILQ_INIT(&cs->lists[i]);
	if ((cs->ev_adopt = event_new(base, -1, 0, conn_adopt_cb, cs)) ==
	    NULL ||
	    (cs->ev_tick = event_new(base, -1, EV_PERSIST, conn_tick_cb,
	    cs)) == NULL ||
	    (cs->ev_resume = evtimer_new(base, conn_resume_cb, cs)) == NULL ||
	    event_add(cs->ev_tick, &tv) == -1) {
		api_conns_free(cs);
		return NULL;
	}
	evhttp_set_bevcb(http, conn_bevcb, cs);
	return cs;
}

/* New limits, as api_conns_new takes them; open connections stay. */
void
api_conns_set_limits(struct api_conns *cs, size_t max, int timeout_s)
{
	cs->max = max > 0 ? max : 1;
	cs->batch_max = cs->max / 2 > API_CONN_BATCH_MAX ? API_CONN_BATCH_MAX :
	    cs->max / 2 > 0 ? cs->max / 2 : 1;
	cs->timeout_ms = (uint64_t)timeout_s * 1000;
}

/*
 * Have lev (a listener of the watched evhttp) back off when accept()
 * fails.  Returns 0, or -1 if too many listeners are watched.
 */
int
api_conns_listener(struct api_conns *cs, struct evconnlistener *lev)
{
	size_t	i;

	if (cs->nlev == API_CONN_MAX_LISTENERS)
		return -1;
	for (i = 0; i < nitems(api_conn_listeners); i++)
		if (api_conn_listeners[i].lev == NULL)
			break;
	if (i == nitems(api_conn_listeners))
		return -1;
	api_conn_listeners[i].lev = lev;
	api_conn_listeners[i].cs = cs;
	cs->lev[cs->nlev++] = lev;
	evconnlistener_set_error_cb(lev, conn_accept_error_cb);
	return 0;
}

/* The record of the connection req came on, or NULL. */
static struct api_conn *
conn_find(struct api_conns *cs, struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct api_conn			*c;
	int				 s;

	if (cs == NULL || (evcon = evhttp_request_get_connection(req)) ==
	    NULL)
		return NULL;
	for (s = CONN_WAITING; s <= CONN_KILLED; s++)
		TAILQ_FOREACH(c, &cs->lists[s], entry)
			if (c->evcon == evcon)
				return c;
	return NULL;
}

/* The reply to a request was written: its connection waits again. */
static void
conn_request_done(struct evhttp_request *req, void *arg)
{
	struct api_conn	*c = conn_find(arg, req);

	if (c != NULL && c->state == CONN_BUSY) {
		c->since_ms = clock_mono_ms();
		c->served++;
		conn_move(c, CONN_WAITING);
	}
}

/*
 * A whole request arrived on req's connection: no deadline runs while
 * it is handled; its reply, once begun, must be taken within the
 * deadline; the next request's starts after the reply.
 * Returns 0, or -1 if the connection was already closed (shut down for a
 * newer one or its deadline, with the request still in the socket): the
 * request must not be handled, only answered.
 */
int
api_conns_request(struct api_conns *cs, struct evhttp_request *req)
{
	struct api_conn	*c = conn_find(cs, req);

	if (c != NULL && c->state == CONN_KILLED)
		return -1;
	if (c == NULL || c->state != CONN_WAITING)
		return 0;
	c->reply_ms = 0;
	conn_move(c, CONN_BUSY);
	evhttp_request_set_on_complete_cb(req, conn_request_done, cs);
	conn_shed(cs, clock_mono_ms());
	return 0;
}

/*
 * Call fn(evcon, arg) when the connection of req closes (the client went
 * away, or the API stops), as evhttp_connection_set_closecb does, which
 * handlers must not call themselves: it would take the watcher's place.
 * fn NULL cancels.
 */
void
api_conns_on_close(struct api_conns *cs, struct evhttp_request *req,
    api_conn_close_fn *fn, void *arg)
{
	struct api_conn	*c = conn_find(cs, req);

	if (c != NULL) {
		c->onclose = fn;
		c->onclose_arg = arg;
	} else	/* not watched: a connection seen closing, or no watcher */
		evhttp_connection_set_closecb(
		    evhttp_request_get_connection(req), fn, arg);
}

/* Counters, and the connections open now. */
void
api_conns_get_stats(const struct api_conns *cs, struct api_conn_stats *st)
{
	*st = cs->stats;
	st->open = conn_live(cs) + cs->count[CONN_KILLED];
	st->max = cs->max;
	st->accept_paused = cs->backoff_ms != 0 &&
	    evtimer_pending(cs->ev_resume, NULL);
}

/*
 * Free the watcher; after evhttp_free, which closes every connection.
 * Records left (never adopted) are dropped.
 */
void
api_conns_free(struct api_conns *cs)
{
	struct api_conn	*c;
	size_t		 i, j;
	int		 s;

	if (cs == NULL)
		return;
	for (s = 0; s < 4; s++)
		while ((c = TAILQ_FIRST(&cs->lists[s])) != NULL) {
			if (c->evcon != NULL && c->state != CONN_NEWBORN)
				evhttp_connection_set_closecb(c->evcon, NULL,
				    NULL);
			conn_free(c);
		}
	for (i = 0; i < cs->nlev; i++)
		for (j = 0; j < nitems(api_conn_listeners); j++)
			if (api_conn_listeners[j].lev == cs->lev[i])
				api_conn_listeners[j].lev = NULL;
	if (cs->ev_adopt != NULL)
		event_free(cs->ev_adopt);
	if (cs->ev_tick != NULL)
		event_free(cs->ev_tick);
	if (cs->ev_resume != NULL)
		event_free(cs->ev_resume);
	free(cs);
}
