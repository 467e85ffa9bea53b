/*
 * actuator_http.c -- the "http" backend: POST the unix backend's JSON to
 * a loopback URL with the evhttp client, one connection per request:
 *
 *	POST /admin/knobs HTTP/1.1
 *	Content-Type: application/json
 *
 *	{"op":"set","knob":"net.batch_size","value":16}
 *
 * answered by a 2xx status and {"ok":true,"value":16} or
 * {"ok":false,"error":"..."} as the body (at most ACTUATOR_MAX_REPLY
 * bytes).  Another status fails the operation, quoting the body's
 * "error" when it has one.  The host must be a loopback address literal
 * (127.0.0.0/8 or [::1]) or "localhost", so no name is ever resolved and
 * nothing leaves the machine.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "meshtuned.h"

struct http_conf {
	char		*host;		/* address literal, no brackets */
	char		*hosthdr;	/* Host: header */
	int		 port;
	char		*path;		/* path and query */
};

struct http_op {
	struct evhttp_connection	*evcon;
	int				 error;	/* error_cb was called */
	enum evhttp_request_error	 why;
	int				 saved_errno;
};

static int
actuator_http_configure(struct actuator *a, const struct mt_actuator_conf *c,
    char *err, size_t errlen)
{
	struct evhttp_uri	*uri;
	struct http_conf	*hc;
	struct in_addr		 in4;
	struct in6_addr		 in6;
	const char		*scheme, *host, *path, *query;
	char			 addr[INET6_ADDRSTRLEN + 2];
	size_t			 len;
	int			 port;

	if (c->url == NULL) {
		snprintf(err, errlen, "no \"url\"");
		return -1;
	}
	if ((uri = evhttp_uri_parse_with_flags(c->url, 0)) == NULL) {
		snprintf(err, errlen, "cannot parse url \"%s\"", c->url);
		return -1;
	}
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	if (scheme == NULL || strcmp(scheme, "http") != 0 || host == NULL ||
	    evhttp_uri_get_userinfo(uri) != NULL) {
		snprintf(err, errlen, "url \"%s\": expected http://HOST[:PORT]"
		    "/PATH", c->url);
		evhttp_uri_free(uri);
		return -1;
	}
	len = strlen(host);
	if (strcmp(host, "localhost") == 0)
		snprintf(addr, sizeof(addr), "127.0.0.1");
	else if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
	    len - 2 < sizeof(addr)) {
		memcpy(addr, host + 1, len - 2);
		addr[len - 2] = '\0';
	} else
		snprintf(addr, sizeof(addr), "%s", host);
	if (!((inet_pton(AF_INET, addr, &in4) == 1 &&
	    (ntohl(in4.s_addr) >> 24) == 127) ||
	    (inet_pton(AF_INET6, addr, &in6) == 1 &&
	    IN6_IS_ADDR_LOOPBACK(&in6)))) {
		snprintf(err, errlen, "url \"%s\": host must be a loopback "
		    "address (127.x.x.x, [::1] or localhost)", c->url);
		evhttp_uri_free(uri);
		return -1;
	}
	port = evhttp_uri_get_port(uri);
	if (port == -1)
		port = 80;
	if (port <= 0 || port > 65535) {
		snprintf(err, errlen, "url \"%s\": bad port", c->url);
		evhttp_uri_free(uri);
		return -1;
	}
	hc = xcalloc(1, sizeof(*hc));
	hc->host = xstrdup(addr);
	hc->port = port;
	xasprintf(&hc->hosthdr, "%s:%d", host, port);
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	xasprintf(&hc->path, "%s%s%s", path != NULL && path[0] != '\0' ?
	    path : "/", query != NULL ? "?" : "", query != NULL ? query : "");
	evhttp_uri_free(uri);
	actuator_set_data(a, hc);
	return 0;
}

static void
actuator_http_free(struct actuator *a)
{
	struct http_conf	*hc = actuator_data(a);

	free(hc->host);
	free(hc->hosthdr);
	free(hc->path);
	free(hc);
}

static const char *
http_error_name(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "timeout";
	case EVREQ_HTTP_EOF:
		return "connection closed before a complete response";
	case EVREQ_HTTP_INVALID_HEADER:
		return "invalid response header";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "buffer error";
	case EVREQ_HTTP_REQUEST_CANCEL:
		return "request cancelled";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "response body too long";
	}
	return "unknown error";
}

static void
actuator_http_error_cb(enum evhttp_request_error why, void *arg)
{
	struct actuator_op	*op = arg;
	struct http_op		*ho = actuator_op_data(op);

	ho->error = 1;
	ho->why = why;
	ho->saved_errno = errno;
}

static void
actuator_http_done_cb(struct evhttp_request *req, void *arg)
{
	struct actuator_op	*op = arg;
	struct http_op		*ho = actuator_op_data(op);
	struct http_conf	*hc = actuator_data(actuator_op_actuator(op));
	struct evbuffer		*body;
	const char		*text;
	char			 err[ACTUATOR_ERRLEN];
	size_t			 len;
	double			 v;
	int			 code, r;

	code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	if (code == 0) {
		if (ho->error && ho->why == EVREQ_HTTP_EOF &&
		    ho->saved_errno != 0)
			actuator_op_fail(op, "http://%s%s: %s (%s)",
			    hc->hosthdr, hc->path, http_error_name(ho->why),
			    strerror(ho->saved_errno));
		else if (ho->error)
			actuator_op_fail(op, "http://%s%s: %s", hc->hosthdr,
			    hc->path, http_error_name(ho->why));
		else
			actuator_op_fail(op, "http://%s%s: cannot connect "
			    "(connection refused)", hc->hosthdr, hc->path);
		return;
	}
	body = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(body);
	if (len > ACTUATOR_MAX_REPLY) {
		actuator_op_fail(op, "http://%s%s: body of %zu bytes, more "
		    "than %d", hc->hosthdr, hc->path, len, ACTUATOR_MAX_REPLY);
		return;
	}
	text = (const char *)evbuffer_pullup(body, -1);
	r = actuator_parse_reply(text != NULL ? text : "", len, &v, err,
	    sizeof(err));
	if (code < 200 || code > 299) {
		if (r == 0)
			actuator_op_fail(op, "HTTP %d: %s", code, err);
		else
			actuator_op_fail(op, "HTTP %d %s", code,
			    evhttp_request_get_response_code_line(req) != NULL ?
			    evhttp_request_get_response_code_line(req) : "");
		return;
	}
	if (r == 1)
		actuator_op_done(op, v, 1);
	else
		actuator_op_fail(op, "%s", err);
}

static void
actuator_http_start(struct actuator_op *op)
{
	struct actuator		*a = actuator_op_actuator(op);
	struct http_conf	*hc = actuator_data(a);
	struct http_op		*ho;
	struct evhttp_request	*req;
	struct evkeyvalq	*h;
	struct timeval		 tv;
	char			*body;
	int64_t			 ms = actuator_timeout_ms(a) + 1000;

	ho = xcalloc(1, sizeof(*ho));
	actuator_op_set_data(op, ho);
	ho->evcon = evhttp_connection_base_new(actuator_base(a), NULL,
	    hc->host, (unsigned short)hc->port);
	if (ho->evcon == NULL) {
		actuator_op_fail(op, "evhttp_connection_base_new failed");
		return;
	}
	/* The registry's timeout fires first; this one is a backstop. */
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evhttp_connection_set_timeout_tv(ho->evcon, &tv);
	evhttp_connection_set_retries(ho->evcon, 0);
	evhttp_connection_set_max_body_size(ho->evcon, ACTUATOR_MAX_REPLY);
	evhttp_connection_set_max_headers_size(ho->evcon, 8192);
	if ((req = evhttp_request_new(actuator_http_done_cb, op)) == NULL) {
		actuator_op_fail(op, "evhttp_request_new failed");
		return;
	}
	evhttp_request_set_error_cb(req, actuator_http_error_cb);
	h = evhttp_request_get_output_headers(req);
	body = actuator_request_json(op);
	body[strcspn(body, "\n")] = '\0';
	if (evhttp_add_header(h, "Host", hc->hosthdr) == -1 ||
	    evhttp_add_header(h, "Content-Type", "application/json") == -1 ||
	    evhttp_add_header(h, "Connection", "close") == -1 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body,
	    strlen(body)) == -1) {
		free(body);
		evhttp_request_free(req);
		actuator_op_fail(op, "cannot build the request");
		return;
	}
	free(body);
	actuator_op_stage(op, "waiting for the response");
	if (evhttp_make_request(ho->evcon, req, EVHTTP_REQ_POST,
	    hc->path) == -1)
		actuator_op_fail(op, "http://%s%s: cannot start the request",
		    hc->hosthdr, hc->path);
}

static void
actuator_http_release(struct actuator_op *op)
{
	struct http_op	*ho = actuator_op_data(op);

	if (ho == NULL)
		return;
	/* Frees a request still queued without calling its callbacks. */
	if (ho->evcon != NULL)
		evhttp_connection_free(ho->evcon);
	free(ho);
}

const struct actuator_backend actuator_backend_http = {
	.name = "http",
	.configure = actuator_http_configure,
	.get = actuator_http_start,
	.set = actuator_http_start,
	.release = actuator_http_release,
	.free = actuator_http_free,
};
