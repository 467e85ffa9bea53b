/*
 * actuator_unix.c -- the "unix" backend: one JSON line per request to the
 * node's control socket (a stream socket), one connection per request:
 *
 *	-> {"op":"set","knob":"net.batch_size","value":16}
 *	<- {"ok":true,"value":16}	or	{"ok":false,"error":"..."}
 *
 * A fresh connection per operation keeps the backend stateless: a node
 * that restarts, hangs or garbles one reply costs that operation only.
 * The reply must be one line of at most ACTUATOR_MAX_REPLY bytes ending
 * in a newline; "value" is required when "ok" is true, for a set too.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "meshtuned.h"

struct unix_conf {
	struct sockaddr_un	 sun;
	socklen_t		 sunlen;
};

struct unix_op {
	struct bufferevent	*bev;
};

static int
actuator_unix_configure(struct actuator *a, const struct mt_actuator_conf *c,
    char *err, size_t errlen)
{
	struct unix_conf	*uc;
	size_t			 len;

	if (c->path == NULL) {
		snprintf(err, errlen, "no \"path\" for the control socket");
		return -1;
	}
	len = strlen(c->path);
	uc = xcalloc(1, sizeof(*uc));
	if (len == 0 || len >= sizeof(uc->sun.sun_path)) {
		snprintf(err, errlen, "socket path \"%s\" is empty or longer "
		    "than %zu bytes", c->path, sizeof(uc->sun.sun_path) - 1);
		free(uc);
		return -1;
	}
	uc->sun.sun_family = AF_UNIX;
	memcpy(uc->sun.sun_path, c->path, len + 1);
	uc->sunlen = offsetof(struct sockaddr_un, sun_path) + len + 1;
	actuator_set_data(a, uc);
	return 0;
}

static void
actuator_unix_free(struct actuator *a)
{
	free(actuator_data(a));
}

static void
actuator_unix_read_cb(struct bufferevent *bev, void *arg)
{
	struct actuator_op	*op = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 eol;
	size_t			 len;
	double			 v;
	char			 err[ACTUATOR_ERRLEN];
	char			*line;

	eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (eol.pos < 0) {
		if (evbuffer_get_length(in) > ACTUATOR_MAX_REPLY) {
			bufferevent_disable(bev, EV_READ | EV_WRITE);
			actuator_op_fail(op, "bad reply: no newline in the "
			    "first %d bytes", ACTUATOR_MAX_REPLY);
		}
		return;
	}
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	len = (size_t)eol.pos;
	if (len > ACTUATOR_MAX_REPLY) {
		actuator_op_fail(op, "bad reply: line of %zu bytes, more "
		    "than %d", len, ACTUATOR_MAX_REPLY);
		return;
	}
	line = (char *)evbuffer_pullup(in, (ev_ssize_t)len);
	switch (actuator_parse_reply(line, len, &v, err, sizeof(err))) {
	case 1:
		actuator_op_done(op, v, 1);
		break;
	default:
		actuator_op_fail(op, "%s", err);
		break;
	}
}

static void
actuator_unix_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct actuator_op	*op = arg;
	struct unix_conf	*uc = actuator_data(actuator_op_actuator(op));
	int			 saved = EVUTIL_SOCKET_ERROR();
	size_t			 left;

	bufferevent_disable(bev, EV_READ | EV_WRITE);
	left = evbuffer_get_length(bufferevent_get_input(bev));
	if (what & BEV_EVENT_EOF) {
		if (left == 0)
			actuator_op_fail(op, "%s: connection closed without "
			    "a reply", uc->sun.sun_path);
		else
			actuator_op_fail(op, "%s: connection closed in the "
			    "middle of a reply line (%zu bytes, no newline)",
			    uc->sun.sun_path, left);
	} else
		actuator_op_fail(op, "%s: %s", uc->sun.sun_path,
		    saved != 0 ? strerror(saved) : "socket error");
}

static void
actuator_unix_start(struct actuator_op *op)
{
	struct actuator		*a = actuator_op_actuator(op);
	struct unix_conf	*uc = actuator_data(a);
	struct unix_op		*uo;
	char			*req;
	int			 fd;

	actuator_op_stage(op, "connecting");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		actuator_op_fail(op, "socket: %s", strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&uc->sun, uc->sunlen) == -1) {
		if (errno == EAGAIN)
			actuator_op_fail(op, "connect %s: %s (the node's "
			    "backlog is full)", uc->sun.sun_path,
			    strerror(errno));
		else
			actuator_op_fail(op, "connect %s: %s",
			    uc->sun.sun_path, strerror(errno));
		close(fd);
		return;
	}
	uo = xcalloc(1, sizeof(*uo));
	uo->bev = bufferevent_socket_new(actuator_base(a), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (uo->bev == NULL) {
		close(fd);
		free(uo);
		actuator_op_fail(op, "bufferevent_socket_new failed");
		return;
	}
	actuator_op_set_data(op, uo);
	bufferevent_setcb(uo->bev, actuator_unix_read_cb, NULL,
	    actuator_unix_event_cb, op);
	bufferevent_setwatermark(uo->bev, EV_READ, 0, ACTUATOR_MAX_REPLY + 2);
	req = actuator_request_json(op);
	if (bufferevent_write(uo->bev, req, strlen(req)) == -1 ||
	    bufferevent_enable(uo->bev, EV_READ | EV_WRITE) == -1)
		actuator_op_fail(op, "cannot queue the request");
	free(req);
	actuator_op_stage(op, "waiting for the reply");
}

static void
actuator_unix_release(struct actuator_op *op)
{
	struct unix_op	*uo = actuator_op_data(op);

	if (uo == NULL)
		return;
	bufferevent_free(uo->bev);
	free(uo);
}

const struct actuator_backend actuator_backend_unix = {
	.name = "unix",
	.configure = actuator_unix_configure,
	.get = actuator_unix_start,
	.set = actuator_unix_start,
	.release = actuator_unix_release,
	.free = actuator_unix_free,
};
