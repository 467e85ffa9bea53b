/*
 * api.c -- the local HTTP API (libevent evhttp): one table of routes,
 * JSON replies, JSON errors, and limits on request size and time.
 *
 * Handlers only read in-memory state or hand work to other modules, so
 * no request blocks the event loop.  Every request passes api_auth's
 * checks (Host, Origin, and for any method but GET and HEAD the
 * credential) before its route's handler runs, and every connection is
 * watched by api_conn (a cap, a whole-request deadline, accept backing
 * off when descriptors run out): a route added to the table gets both.
 * A handler that answers later hears of its client leaving through
 * api_on_close, never evhttp_connection_set_closecb.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "meshtuned.h"

#define API_MAX_HEADERS	8192
#define API_MAX_BODY	65536
#define API_TIMEOUT_S	10	/* evhttp's, between two reads or writes */
#define API_SOCKET_MODE	0660	/* the unix socket, whatever the umask */
#define API_BACKLOG	512
#define API_FD_RESERVE	64	/* descriptors kept for all but the API */

struct api {
	struct evhttp		*http;
	struct api_auth		*auth;
	struct api_conns	*conns;
	char			*unix_path;	/* to unlink at stop */
	char			*bound;		/* what listen.api was */
	int			 port;		/* chosen TCP port, or 0 */
	uint64_t		 requests;
	uint64_t		 errors;
};

typedef void	api_handler(struct daemon *, struct evhttp_request *,
		    const char *);

/* A route: a path (or, with prefix set, a path prefix) and its methods. */
struct api_route {
	const char	*path;
	int		 prefix;
	int		 methods;	/* EVHTTP_REQ_GET | ... */
	api_handler	*handler;
};

static api_handler	api_status;
static api_handler	api_series_list;
static api_handler	api_series_one;
static api_handler	api_strategies;
static api_handler	api_actions;
static api_handler	api_post_reload;
static api_handler	api_post_pause;
static api_handler	api_post_resume;
static api_handler	api_metrics;
static api_handler	api_knobs;

static const struct api_route api_routes[] = {
	{ "/v1/status", 0, EVHTTP_REQ_GET, api_status },
	{ "/v1/series", 0, EVHTTP_REQ_GET, api_series_list },
	{ "/v1/series/", 1, EVHTTP_REQ_GET, api_series_one },
	{ "/v1/strategies", 0, EVHTTP_REQ_GET, api_strategies },
	{ "/v1/actions", 0, EVHTTP_REQ_GET, api_actions },
	{ "/v1/reload", 0, EVHTTP_REQ_POST, api_post_reload },
	{ "/v1/pause", 0, EVHTTP_REQ_POST, api_post_pause },
	{ "/v1/resume", 0, EVHTTP_REQ_POST, api_post_resume },
	{ "/metrics", 0, EVHTTP_REQ_GET, api_metrics },
	{ "/v1/knobs", 0, EVHTTP_REQ_GET, api_knobs },
};

/* Send a JSON document and free it. */
void
api_reply_json(struct evhttp_request *req, int code, cJSON *doc)
{
	struct evbuffer	*buf;
	char		*text;

	text = number_json_print(doc);
	cJSON_Delete(doc);
	if ((buf = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new", __func__);
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", buf);
	evbuffer_free(buf);
}

/* Send {"error": "..."} with an HTTP error code. */
void
api_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	cJSON	*doc;
	char	*msg;
	va_list	 ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("%s", __func__);
	va_end(ap);
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "error", msg);
	free(msg);
	api_reply_json(req, code, doc);
}

/* {"ok": true} */
void
api_reply_ok(struct evhttp_request *req)
{
	cJSON	*doc = cJSON_CreateObject();

	cJSON_AddTrueToObject(doc, "ok");
	api_reply_json(req, 200, doc);
}

/*
 * The value of query parameter name of req, copied into buf; 0 if found,
 * -1 if absent.
 */
int
api_query_param(struct evhttp_request *req, const char *name, char *buf,
    size_t len)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq	 params;
	const char		*q, *v;
	int			 found = -1;

	if (uri == NULL || (q = evhttp_uri_get_query(uri)) == NULL)
		return -1;
	TAILQ_INIT(&params);
	if (evhttp_parse_query_str(q, &params) == -1)
		return -1;
	if ((v = evhttp_find_header(&params, name)) != NULL &&
	    strlen(v) < len) {
		snprintf(buf, len, "%s", v);
		found = 0;
	}
	evhttp_clear_headers(&params);
	return found;
}

/* "ingest": lines, errors by reason, dropped, kernel_drops, ... */
static void
api_status_ingest(struct daemon *d, cJSON *doc)
{
	const struct statsd_stats	*ps = ingest_parser_stats(d);
	const struct ingest_stats	*is = ingest_stats(d);
	const struct metrics_stats	*ms = metrics_stats(d->metrics);
	cJSON				*in, *errors;
	int				 r;

	in = cJSON_AddObjectToObject(doc, "ingest");
	cJSON_AddNumberToObject(in, "lines", (double)ps->lines);
	errors = cJSON_AddObjectToObject(in, "errors");
	for (r = 1; r < STATSD_NREASONS; r++)
		cJSON_AddNumberToObject(errors,
		    statsd_reason_name((enum statsd_reason)r),
		    (double)ps->errors[r]);
	cJSON_AddNumberToObject(in, "samples", (double)ms->values);
	cJSON_AddNumberToObject(in, "dropped", (double)(ms->values_dropped +
	    ms->values_refused + ms->set_full));
	cJSON_AddNumberToObject(in, "series_dropped",
	    (double)ms->series_dropped);
	cJSON_AddNumberToObject(in, "type_conflicts",
	    (double)ms->type_conflicts);
	cJSON_AddNumberToObject(in, "values_refused",
	    (double)ms->values_refused);
	cJSON_AddNumberToObject(in, "set_full", (double)ms->set_full);
	cJSON_AddNumberToObject(in, "fields_ignored",
	    (double)ps->fields_ignored);
	cJSON_AddNumberToObject(in, "events", (double)ps->events);
	cJSON_AddNumberToObject(in, "service_checks",
	    (double)ps->service_checks);
	cJSON_AddNumberToObject(in, "events_audited",
	    (double)ingest_event_stats(d)->audited);
	cJSON_AddNumberToObject(in, "events_folded",
	    (double)ingest_event_stats(d)->folded);
	cJSON_AddNumberToObject(in, "events_dropped",
	    (double)ingest_event_stats(d)->dropped);
	cJSON_AddNumberToObject(in, "kernel_drops", (double)is->kernel_drops);
	cJSON_AddNumberToObject(in, "datagrams", (double)is->datagrams);
	cJSON_AddNumberToObject(in, "truncated", (double)is->truncated);
	cJSON_AddNumberToObject(in, "rcvbuf", is->rcvbuf);
	cJSON_AddNumberToObject(in, "memory_bytes",
	    (double)metrics_bytes(d->metrics));
}

/* "api": the token file, connections and refusals. */
static void
api_status_api(struct api *api, cJSON *doc)
{
	struct api_conn_stats	 cs;
	struct api_auth_stats	 as;
	cJSON			*o = cJSON_AddObjectToObject(doc, "api");

	cJSON_AddStringToObject(o, "token_file",
	    api_auth_token_file(api->auth));
	api_conns_get_stats(api->conns, &cs);
	api_auth_get_stats(api->auth, &as);
	cJSON_AddNumberToObject(o, "requests", (double)api->requests);
	cJSON_AddNumberToObject(o, "connections", (double)cs.open);
	cJSON_AddNumberToObject(o, "max_connections", (double)cs.max);
	cJSON_AddNumberToObject(o, "accepted", (double)cs.accepted);
	cJSON_AddNumberToObject(o, "evicted", (double)cs.evicted);
	cJSON_AddNumberToObject(o, "refused", (double)cs.refused);
	cJSON_AddNumberToObject(o, "timed_out", (double)cs.timed_out);
	cJSON_AddNumberToObject(o, "accept_errors", (double)cs.accept_errors);
	cJSON_AddBoolToObject(o, "accept_paused", cs.accept_paused);
	cJSON_AddNumberToObject(o, "refused_host", (double)as.refused_host);
	cJSON_AddNumberToObject(o, "refused_origin",
	    (double)as.refused_origin);
	cJSON_AddNumberToObject(o, "refused_type", (double)as.refused_type);
	cJSON_AddNumberToObject(o, "refused_auth", (double)as.refused_auth);
}

static void
api_status(struct daemon *d, struct evhttp_request *req, const char *rest)
{
	cJSON	*doc, *tick, *listen;

	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "version", PACKAGE_VERSION);
	cJSON_AddNumberToObject(doc, "uptime_s",
	    (double)(clock_mono_ms() - d->started_ms) / 1000.0);
	cJSON_AddBoolToObject(doc, "dry_run", d->conf->dry_run);
	cJSON_AddBoolToObject(doc, "paused", d->paused);
	cJSON_AddNumberToObject(doc, "reloads", (double)d->reloads);
	cJSON_AddNumberToObject(doc, "reload_failures",
	    (double)d->reload_failures);
	cJSON_AddNumberToObject(doc, "series", (double)metrics_count(d->metrics));
	api_status_ingest(d, doc);
	listen = cJSON_AddObjectToObject(doc, "listen");
	if (d->api != NULL && d->api->port != 0)
		cJSON_AddNumberToObject(listen, "api_port", d->api->port);
	if (d->api != NULL)
		api_status_api(d->api, doc);
	if (ingest_stats(d)->udp_port != 0)
		cJSON_AddNumberToObject(listen, "statsd_udp_port",
		    ingest_stats(d)->udp_port);
	tick = cJSON_AddObjectToObject(doc, "last_tick");
	cJSON_AddNumberToObject(tick, "count", (double)d->ticks);
	if (d->last_tick.wall_ms != 0) {
		char ts[32];

		clock_format_iso(d->last_tick.wall_ms, ts, sizeof(ts));
		cJSON_AddStringToObject(tick, "time", ts);
	} else
		cJSON_AddNullToObject(tick, "time");
	cJSON_AddNumberToObject(tick, "duration_us",
	    (double)d->last_tick.duration_us);
	cJSON_AddNumberToObject(tick, "proposals", d->last_tick.proposals);
	cJSON_AddNumberToObject(tick, "actions", d->last_tick.actions);
	api_reply_json(req, 200, doc);
}

static void
api_series_list_cb(struct series *s, void *arg)
{
	cJSON	*item = cJSON_CreateObject();

	cJSON_AddStringToObject(item, "name", series_key(s));
	cJSON_AddStringToObject(item, "type", statsd_type_name(series_type(s)));
	cJSON_AddItemToArray(arg, item);
}

static void
api_series_list(struct daemon *d, struct evhttp_request *req,
    const char *rest)
{
	cJSON	*doc = cJSON_CreateArray();

	metrics_foreach(d->metrics, api_series_list_cb, doc);
	api_reply_json(req, 200, doc);
}

/* Add a number, or null when it is NaN (no samples, not this type). */
static void
api_add_number(cJSON *o, const char *name, double v)
{
	if (isnan(v))
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, v);
}

static void
api_series_one(struct daemon *d, struct evhttp_request *req,
    const char *rest)
{
	struct series_stats	 st;
	struct series		*s;
	cJSON			*doc;
	char			*key, tname[16];
	size_t			 len;
	int			 t = STATSD_NTYPES;

	if ((key = evhttp_uridecode(rest, 0, &len)) == NULL ||
	    strlen(key) != len) {	/* %00 would cut the name short */
		free(key);
		api_reply_error(req, 400, "bad series name encoding");
		return;
	}
	/* ?type=: the series of that type, when a name has several. */
	if (api_query_param(req, "type", tname, sizeof(tname)) == 0)
		for (t = 0; t < STATSD_NTYPES &&
		    strcmp(statsd_type_name((enum statsd_type)t), tname) != 0;
		    t++)
			;
	if (t == STATSD_NTYPES && api_query_param(req, "type", tname,
	    sizeof(tname)) == 0) {
		api_reply_error(req, 400, "bad type \"%s\": timer, histogram, "
		    "distribution, gauge, counter or set", tname);
		free(key);
		return;
	}
	if ((s = metrics_find_type(d->metrics, key, (enum statsd_type)t)) ==
	    NULL) {
		api_reply_error(req, 404, "no series %s", key);
		free(key);
		return;
	}
	free(key);
	series_stats(d->metrics, s, clock_mono_ms(), &st);
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "name", series_key(s));
	cJSON_AddStringToObject(doc, "type", statsd_type_name(series_type(s)));
	cJSON_AddNumberToObject(doc, "window_s", st.window_s);
	cJSON_AddNumberToObject(doc, "count", (double)st.w.count);
	api_add_number(doc, "rate", st.w.rate);
	api_add_number(doc, "sum", st.w.sum);
	api_add_number(doc, "min", st.w.min);
	api_add_number(doc, "max", st.w.max);
	api_add_number(doc, "mean", st.w.mean);
	api_add_number(doc, "p50", st.w.p50);
	api_add_number(doc, "p90", st.w.p90);
	api_add_number(doc, "p95", st.w.p95);
	api_add_number(doc, "p99", st.w.p99);
	api_add_number(doc, "p999", st.w.p999);
	api_add_number(doc, "last", st.last);
	if (series_type(s) == STATSD_COUNTER)
		api_add_number(doc, "total", st.total);
	api_reply_json(req, 200, doc);
}

static void
api_strategies(struct daemon *d, struct evhttp_request *req,
    const char *rest)
{
	struct plugin_stats	 st;
	cJSON			*doc = cJSON_CreateArray(), *o;
	const char		*why;
	char			 abi[16], ts[32];
	uint64_t		 when;
	size_t			 i;

	for (i = 0; i < plugin_count(d->engine); i++) {
		plugin_get_stats(plugin_at(d->engine, i), &st);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", st.name);
		cJSON_AddStringToObject(o, "module", st.module);
		cJSON_AddStringToObject(o, "strategy", st.strategy);
		cJSON_AddStringToObject(o, "version",
		    st.version ? st.version : "");
		snprintf(abi, sizeof(abi), "%u.%u", st.abi_major,
		    st.abi_minor);
		cJSON_AddStringToObject(o, "abi", abi);
		cJSON_AddBoolToObject(o, "enabled", st.enabled);
		if (st.disabled_reason != NULL)
			cJSON_AddStringToObject(o, "disabled_reason",
			    st.disabled_reason);
		cJSON_AddNumberToObject(o, "evaluations",
		    (double)st.evaluations);
		cJSON_AddNumberToObject(o, "proposals", (double)st.proposals);
		cJSON_AddNumberToObject(o, "errors", (double)st.errors);
		cJSON_AddNumberToObject(o, "overruns", (double)st.overruns);
		cJSON_AddNumberToObject(o, "last_duration_us",
		    (double)st.last_us);
		cJSON_AddNumberToObject(o, "max_duration_us",
		    (double)st.max_us);
		why = governor_last_decision(d->governor, st.name, &when);
		if (why != NULL) {
			clock_format_iso(when, ts, sizeof(ts));
			cJSON_AddStringToObject(o, "last_decision", why);
			cJSON_AddStringToObject(o, "last_decision_time", ts);
		} else
			cJSON_AddNullToObject(o, "last_decision");
		cJSON_AddItemToArray(doc, o);
	}
	api_reply_json(req, 200, doc);
}

/*
 * A request waiting for the audit writer.  If the client goes away first,
 * libevent frees the request: the close callback forgets it.
 */
struct api_pending {
	struct daemon			*d;
	struct evhttp_request		*req;
};

static void
api_pending_closed(struct evhttp_connection *conn, void *arg)
{
	struct api_pending	*p = arg;

	p->req = NULL;
}

static void
api_actions_done(const char *json, void *arg)
{
	struct api_pending	*p = arg;
	struct evbuffer		*buf;

	if (p->req != NULL && p->d->api != NULL) {
		api_on_close(p->d, p->req, NULL, NULL);
		if (json == NULL)
			api_reply_error(p->req, 500, "audit log query failed");
		else if ((buf = evbuffer_new()) != NULL) {
			evbuffer_add(buf, json, strlen(json));
			evbuffer_add(buf, "\n", 1);
			evhttp_add_header(evhttp_request_get_output_headers(
			    p->req), "Content-Type", "application/json");
			evhttp_send_reply(p->req, 200, "OK", buf);
			evbuffer_free(buf);
		}
	}
	free(p);
}

static void
api_actions(struct daemon *d, struct evhttp_request *req, const char *rest)
{
	struct api_pending	*p;
	char			 arg[16], *ep;
	long			 limit = 50;

	if (api_query_param(req, "limit", arg, sizeof(arg)) == 0) {
		limit = strtol(arg, &ep, 10);
		if (*arg == '\0' || *ep != '\0' || limit < 1 ||
		    limit > AUDIT_LIMIT_MAX) {
			api_reply_error(req, 400, "limit: expected an integer "
			    "in 1..%d, got \"%s\"", AUDIT_LIMIT_MAX, arg);
			return;
		}
	}
	p = xcalloc(1, sizeof(*p));
	p->d = d;
	p->req = req;
	api_on_close(d, req, api_pending_closed, p);
	if (audit_actions_json(d->audit, (int)limit, api_actions_done, p) ==
	    -1) {
		api_on_close(d, req, NULL, NULL);
		free(p);
		api_reply_error(req, 503, "audit log busy");
	}
}

static void
api_post_reload(struct daemon *d, struct evhttp_request *req, const char *rest)
{
	if (daemon_reload(d) == -1)
		api_reply_error(req, 400, "reload failed; the running "
		    "configuration is kept (see the log)");
	else
		api_reply_ok(req);
}

static void
api_post_pause(struct daemon *d, struct evhttp_request *req, const char *rest)
{
	governor_pause(d, 1, "api");
	api_reply_ok(req);
}

static void
api_post_resume(struct daemon *d, struct evhttp_request *req, const char *rest)
{
	char	knob[256];

	if (api_query_param(req, "knob", knob, sizeof(knob)) == 0) {
		if (governor_resume(d->governor, knob) == -1)
			api_reply_error(req, 404, "no knob %s is marked manual",
			    knob);
		else
			api_reply_ok(req);
		return;
	}
	governor_pause(d, 0, "api");
	api_reply_ok(req);
}

/* GET /v1/knobs: every knob and trigger (governor.c). */
static void
api_knobs(struct daemon *d, struct evhttp_request *req, const char *rest)
{
	api_reply_json(req, 200, governor_knobs_json(d->governor));
}

static void
api_metrics(struct daemon *d, struct evhttp_request *req, const char *rest)
{
	struct prom_self	 self;
	struct evbuffer		*buf;

	memset(&self, 0, sizeof(self));
	self.parser = ingest_parser_stats(d);
	self.ingest = ingest_stats(d);
	self.events = ingest_event_stats(d);
	self.metrics = metrics_stats(d->metrics);
	self.series = metrics_count(d->metrics);
	self.ticks = d->ticks;
	self.reloads = d->reloads;
	self.uptime_s = (double)(clock_mono_ms() - d->started_ms) / 1000.0;
	self.tick_duration_s = (double)d->last_tick.duration_us / 1e6;
	if ((buf = evbuffer_new()) == NULL) {
		api_reply_error(req, 500, "out of memory");
		return;
	}
	prom_write(buf, d->metrics, clock_mono_ms(), &self);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

/* Find the route for path; sets *rest to what follows a prefix route. */
static const struct api_route *
api_route_find(const char *path, const char **rest)
{
	const struct api_route	*r;
	size_t			 i, len;

	for (i = 0; i < nitems(api_routes); i++) {
		r = &api_routes[i];
		len = strlen(r->path);
		if (r->prefix ? strncmp(path, r->path, len) == 0 &&
		    path[len] != '\0' : strcmp(path, r->path) == 0) {
			*rest = path + (r->prefix ? len : strlen(path));
			return r;
		}
	}
	return NULL;
}

/*
 * Call fn(evcon, arg) when the client of req goes away before its reply;
 * fn NULL cancels.  Handlers that answer later use this, never
 * evhttp_connection_set_closecb, whose one slot api_conn holds.
 */
void
api_on_close(struct daemon *d, struct evhttp_request *req,
    api_conn_close_fn *fn, void *arg)
{
	api_conns_on_close(d->api != NULL ? d->api->conns : NULL, req, fn,
	    arg);
}

static void
api_dispatch(struct evhttp_request *req, void *arg)
{
	struct daemon		*d = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const struct api_route	*r;
	const char		*path, *rest;
	int			 method = evhttp_request_get_command(req);

	d->api->requests++;
	/* Whole: no deadline until its reply is written. */
	if (api_conns_request(d->api->conns, req) == -1) {
		d->api->errors++;
		api_reply_error(req, 503, "connection closed by meshtuned");
		return;
	}
	/* Host and Origin first: a refused site learns nothing, not 404. */
	if (api_auth_check(d->api->auth, req, 0) == -1) {
		d->api->errors++;
		return;
	}
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || *path == '\0') {
		d->api->errors++;
		api_reply_error(req, 400, "bad request URI");
		return;
	}
	if ((r = api_route_find(path, &rest)) == NULL) {
		d->api->errors++;
		api_reply_error(req, 404, "no such resource: %s", path);
		return;
	}
	if ((r->methods & method) == 0) {
		d->api->errors++;
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", r->methods == EVHTTP_REQ_GET ? "GET" : "POST");
		api_reply_error(req, 405, "%s takes %s", r->path,
		    r->methods == EVHTTP_REQ_GET ? "GET" : "POST");
		return;
	}
	/* Anything but a read changes state: it takes the credential. */
	if ((method & (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)) == 0 &&
	    api_auth_check(d->api->auth, req, 1) == -1) {
		d->api->errors++;
		return;
	}
	r->handler(d, req, rest);
}

/*
 * Listen on a unix stream socket, mode API_SOCKET_MODE whatever the
 * umask: the socket is made that mode before bind (Linux gives the file
 * the socket's mode, less the umask), so the file is never more open
 * than that, and set to exactly it after.  Refuses to replace anything
 * but a socket.
 */
static int
api_bind_unix(struct daemon *d, const char *path)
{
	struct evconnlistener	*lev;
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd;

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("api: %s exists and is not a socket", path);
			return -1;
		}
		if (unlink(path) == -1) {
			log_warn("api: unlink %s", path);
			return -1;
		}
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("api: socket for %s", path);
		return -1;
	}
	if (fchmod(fd, API_SOCKET_MODE) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("api: cannot listen on %s", path);
		close(fd);
		return -1;
	}
	d->api->unix_path = xstrdup(path);
	/* The name itself: a symlink put there is not followed. */
	if (fchmodat(AT_FDCWD, path, API_SOCKET_MODE, AT_SYMLINK_NOFOLLOW) ==
	    -1 ||
	    listen(fd, API_BACKLOG) == -1) {
		log_warn("api: cannot listen on %s", path);
		close(fd);
		return -1;
	}
	if ((lev = evconnlistener_new(d->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd)) == NULL) {
		log_warnx("api: cannot watch %s", path);
		close(fd);
		return -1;
	}
	/* evhttp owns the listener now. */
	if (evhttp_bind_listener(d->api->http, lev) == NULL) {
		log_warnx("api: cannot serve on %s", path);
		evconnlistener_free(lev);
		return -1;
	}
	if (api_conns_listener(d->api->conns, lev) == -1)
		log_warnx("api: %s: accept will not back off", path);
	log_info("api: listening on %s", path);
	return 0;
}

/*
 * Listen on HOST:PORT with a backlog of API_BACKLOG (evhttp's own bind
 * keeps 128), and serve it.
 */
static int
api_bind_tcp(struct daemon *d, const char *addr)
{
	struct evconnlistener		*lev;
	struct sockaddr_storage		 ss;
	socklen_t			 len;
	char				 host[INET6_ADDRSTRLEN + 2];
	int				 fd, on = 1;

	if (config_parse_addr(addr, &ss, &len) == -1) {
		log_warnx("api: bad address %s", addr);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("api: socket for %s", addr);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, API_BACKLOG) == -1) {
		log_warn("api: cannot listen on %s", addr);
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		log_warn("api: getsockname");
		close(fd);
		return -1;
	}
	if ((lev = evconnlistener_new(d->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd)) == NULL) {
		log_warnx("api: cannot watch %s", addr);
		close(fd);
		return -1;
	}
	if (evhttp_bind_listener(d->api->http, lev) == NULL) {
		log_warnx("api: cannot serve on %s", addr);
		evconnlistener_free(lev);
		return -1;
	}
	if (api_conns_listener(d->api->conns, lev) == -1)
		log_warnx("api: %s: accept will not back off", addr);
	d->api->port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	api_auth_set_port(d->api->auth, d->api->port);
	snprintf(host, sizeof(host), "%.*s", (int)(strrchr(addr, ':') - addr),
	    addr);
	log_info("api: listening on %s port %d", host[0] == '[' ?
	    (host[strlen(host) - 1] = '\0', host + 1) : host, d->api->port);
	return 0;
}

/*
 * listen.api_max_connections, kept below the descriptors the process may
 * open: API_FD_RESERVE of them for the rest of meshtuned (half, if there
 * are few), and of what is left two thirds, since the connections closed
 * for new ones hold theirs a moment longer.  So the API alone never takes
 * the audit log's, the actuators' or the collectors' descriptors.
 */
static size_t
api_max_connections(const struct mt_config *c)
{
	struct rlimit	 rl;
	rlim_t		 fit;
	size_t		 max = (size_t)c->api_max_connections;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur == RLIM_INFINITY)
		return max;
	fit = (rl.rlim_cur > 2 * API_FD_RESERVE ?
	    rl.rlim_cur - API_FD_RESERVE : rl.rlim_cur / 2) * 2 / 3;
	if (fit < max) {
		log_warnx("api: at most %llu connections, not %zu "
		    "(listen.api_max_connections): the process may open %llu "
		    "descriptors (LimitNOFILE)", (unsigned long long)fit, max,
		    (unsigned long long)rl.rlim_cur);
		max = fit > 0 ? (size_t)fit : 1;
	}
	return max;
}

/* Start the HTTP API on listen.api; absent, there is none. */
int
api_start(struct daemon *d)
{
	const char	*addr = d->conf->api;
	char		 err[512];

	if (addr == NULL) {
		log_info("api: disabled (no listen.api)");
		return 0;
	}
	d->api = xcalloc(1, sizeof(*d->api));
	d->api->bound = xstrdup(addr);
	if ((d->api->auth = api_auth_new(d->conf, err, sizeof(err))) == NULL) {
		log_warnx("api: token (listen.api_token_file): %s", err);
		return -1;
	}
	if ((d->api->http = evhttp_new(d->base)) == NULL) {
		log_warnx("api: evhttp_new failed");
		return -1;
	}
	if ((d->api->conns = api_conns_new(d->base, d->api->http,
	    api_max_connections(d->conf),
	    (int)d->conf->api_request_timeout_s)) == NULL) {
		log_warnx("api: cannot watch connections");
		return -1;
	}
	evhttp_set_max_headers_size(d->api->http, API_MAX_HEADERS);
	evhttp_set_max_body_size(d->api->http, API_MAX_BODY);
	evhttp_set_timeout(d->api->http, API_TIMEOUT_S);
	evhttp_set_allowed_methods(d->api->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(d->api->http, api_dispatch, d);
	if (addr[0] == '/')
		return api_bind_unix(d, addr);
	return api_bind_tcp(d, addr);
}

/* Stop serving; frees everything api_start made (also after a failure). */
void
api_stop(struct daemon *d)
{
	if (d->api == NULL)
		return;
	/* evhttp closes its connections, whose records go with them. */
	if (d->api->http != NULL)
		evhttp_free(d->api->http);
	api_conns_free(d->api->conns);
	api_auth_free(d->api->auth);
	if (d->api->unix_path != NULL) {
		if (unlink(d->api->unix_path) == -1 && errno != ENOENT)
			log_warn("api: unlink %s", d->api->unix_path);
		free(d->api->unix_path);
	}
	free(d->api->bound);
	free(d->api);
	d->api = NULL;
}

/*
 * The connection limits and listen.api_hosts take effect at once; a new
 * listen.api or listen.api_token_file at the next start: say so.
 */
int
api_reload(struct daemon *d, const struct mt_config *nc)
{
	const char	*old = d->api ? d->api->bound : NULL;

	if (!config_same(old, nc->api))
		log_warnx("api: listen.api changed; it takes effect when "
		    "meshtuned restarts");
	if (d->api == NULL)
		return 0;
	if (!config_same(d->conf->api_token_file, nc->api_token_file))
		log_warnx("api: listen.api_token_file changed; it takes "
		    "effect when meshtuned restarts");
	api_conns_set_limits(d->api->conns, api_max_connections(nc),
	    (int)nc->api_request_timeout_s);
	api_auth_set_hosts(d->api->auth, &nc->api_hosts);
	return 0;
}
