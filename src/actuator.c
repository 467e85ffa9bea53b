/*
 * actuator.c -- the actuator registry: a const table of backends (one per
 * actuator_<type>.c, in the manner of OpenSMTPD's table backends), the
 * life of one operation, and the helpers the backends share.
 *
 * An operation (a get or a set of one knob) is always asynchronous.  The
 * registry owns its timeout and its completion: a backend reports the
 * outcome with actuator_op_done() or actuator_op_fail(), possibly from
 * inside its own get/set, and the registry delivers it to the caller from
 * a separate event on the loop, never re-entrantly.  Whatever way an
 * operation ends (done, failed, timed out, cancelled, actuator freed), the
 * backend's release hook is called exactly once, from outside the
 * backend's own callbacks, to stop what is still running and free it.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "meshtuned.h"

#define ACTUATOR_DEFAULT_TIMEOUT_MS	1000

enum op_state {
	OP_RUNNING,		/* started, no outcome yet */
	OP_FINISHED		/* outcome recorded, delivery pending */
};

struct actuator_op {
	TAILQ_ENTRY(actuator_op) entry;
	struct actuator		*act;
	enum actuator_opkind	 kind;
	enum op_state		 state;
	char			*knob;
	char			*path;		/* file knobs, or NULL */
	double			 value;		/* set: requested */
	double			 initial;	/* knob's configured initial */
	actuator_done_fn	 done_fn;
	void			*done_arg;
	struct event		*ev_timeout;
	struct event		*ev_done;
	const char		*stage;		/* for the timeout message */
	void			*data;		/* the backend's */
	uint64_t		 start_us;
	/* the outcome */
	int			 ok;
	int			 readback;
	double			 result;
	double			 old_value;
	char			 error[ACTUATOR_ERRLEN];
};

struct actuator_memo {
	char			*knob;
	double			 value;
};

struct actuator {
	char			*name;
	const struct actuator_backend *backend;
	struct event_base	*base;
	int64_t			 timeout_ms;
	void			*data;		/* the backend's */
	TAILQ_HEAD(, actuator_op) ops;
	size_t			 nops;
	struct actuator_memo	*memo;
	size_t			 nmemo;
	uint64_t		 started, succeeded, failed, timeouts;
};

struct actuators {
	struct actuator		**v;
	size_t			  n;
};

/* The backends, looked up by the configured "type". */
static const struct actuator_backend *const actuator_backends[] = {
	&actuator_backend_unix,
	&actuator_backend_exec,
	&actuator_backend_http,
	&actuator_backend_file,
	&actuator_backend_log,
	NULL
};

/*
 * The backend called type ("unix", "exec", "http", "file", "log"), or
 * NULL if there is none.
 */
const struct actuator_backend *
actuator_backend_lookup(const char *type)
{
	size_t	 i;

	if (type == NULL)
		return NULL;
	for (i = 0; actuator_backends[i] != NULL; i++)
		if (strcmp(actuator_backends[i]->name, type) == 0)
			return actuator_backends[i];
	return NULL;
}

/*
 * Create the actuator that conf describes, driven by base.  Copies what it
 * needs from conf, so conf may be freed afterwards.  Returns NULL and
 * writes the reason into err (errlen bytes) on an unknown type or a
 * configuration the backend refuses.  Free with actuator_free().
 */
struct actuator *
actuator_new(struct event_base *base, const struct mt_actuator_conf *conf,
    char *err, size_t errlen)
{
	const struct actuator_backend	*b;
	struct actuator			*a;
	char				 berr[ACTUATOR_ERRLEN];

	if ((b = actuator_backend_lookup(conf->type)) == NULL) {
		snprintf(err, errlen, "actuator \"%s\": unknown type \"%s\"",
		    conf->name != NULL ? conf->name : "",
		    conf->type != NULL ? conf->type : "");
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	a->name = xstrdup(conf->name != NULL ? conf->name : conf->type);
	a->backend = b;
	a->base = base;
	a->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms :
	    ACTUATOR_DEFAULT_TIMEOUT_MS;
	TAILQ_INIT(&a->ops);
	berr[0] = '\0';
	if (b->configure(a, conf, berr, sizeof(berr)) == -1) {
		snprintf(err, errlen, "actuator \"%s\": %s", a->name,
		    berr[0] != '\0' ? berr : "configuration refused");
		free(a->name);
		free(a);
		return NULL;
	}
	return a;
}

/* Unlink op from its actuator and let the backend release it. */
static void
actuator_op_release(struct actuator_op *op)
{
	struct actuator	*a = op->act;

	TAILQ_REMOVE(&a->ops, op, entry);
	a->nops--;
	if (a->backend->release != NULL)
		a->backend->release(op);
	op->data = NULL;
	event_free(op->ev_timeout);
	event_free(op->ev_done);
	op->ev_timeout = op->ev_done = NULL;
}

static void
actuator_op_free(struct actuator_op *op)
{
	free(op->knob);
	free(op->path);
	free(op);
}

/* Deliver the outcome of op to its caller, then free op. */
static void
actuator_op_deliver(struct actuator_op *op)
{
	struct actuator		*a = op->act;
	struct actuator_result	 r;

	actuator_op_release(op);
	if (op->ok)
		a->succeeded++;
	else
		a->failed++;
	memset(&r, 0, sizeof(r));
	r.kind = op->kind;
	r.actuator = a->name;
	r.knob = op->knob;
	r.ok = op->ok;
	r.value = op->result;
	r.old_value = op->old_value;
	r.requested = op->kind == ACTUATOR_SET ? op->value : NAN;
	r.readback = op->readback;
	r.error = op->ok ? NULL : op->error;
	r.elapsed_us = clock_mono_us() - op->start_us;
	/* The callback may free the actuator: op is no longer on it. */
	if (op->done_fn != NULL)
		op->done_fn(&r, op->done_arg);
	actuator_op_free(op);
}

static void
actuator_op_done_cb(evutil_socket_t fd, short events, void *arg)
{
	actuator_op_deliver(arg);
}

static void
actuator_op_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct actuator_op	*op = arg;

	if (op->state != OP_RUNNING)
		return;
	op->state = OP_FINISHED;
	op->ok = 0;
	op->readback = 0;
	op->act->timeouts++;
	snprintf(op->error, sizeof(op->error), "timeout after %lld ms%s%s%s",
	    (long long)op->act->timeout_ms, op->stage != NULL ? " (" : "",
	    op->stage != NULL ? op->stage : "", op->stage != NULL ? ")" : "");
	actuator_op_deliver(op);
}

static struct actuator_op *
actuator_op_start(struct actuator *a, enum actuator_opkind kind,
    const struct mt_knob_conf *knob, double value, actuator_done_fn fn,
    void *arg)
{
	struct actuator_op	*op;
	struct timeval		 tv;

	op = xcalloc(1, sizeof(*op));
	op->act = a;
	op->kind = kind;
	op->state = OP_RUNNING;
	op->knob = xstrdup(knob->name != NULL ? knob->name : "");
	op->path = knob->path != NULL ? xstrdup(knob->path) : NULL;
	op->value = value;
	op->initial = knob->initial;
	op->done_fn = fn;
	op->done_arg = arg;
	op->result = NAN;
	op->old_value = NAN;
	op->start_us = clock_mono_us();
	op->ev_timeout = evtimer_new(a->base, actuator_op_timeout_cb, op);
	op->ev_done = event_new(a->base, -1, 0, actuator_op_done_cb, op);
	if (op->ev_timeout == NULL || op->ev_done == NULL)
		fatalx("%s: event_new failed", __func__);
	tv.tv_sec = a->timeout_ms / 1000;
	tv.tv_usec = (a->timeout_ms % 1000) * 1000;
	/*
	 * libevent counts from the time it cached when this loop iteration
	 * began, which a busy iteration leaves behind: count from now, as
	 * start_us does, or the timeout could come early.
	 */
	if (event_base_update_cache_time(a->base) == -1)
		log_warnx("%s: cannot update the loop's time", __func__);
	if (evtimer_add(op->ev_timeout, &tv) == -1)
		fatalx("%s: evtimer_add failed", __func__);
	TAILQ_INSERT_TAIL(&a->ops, op, entry);
	a->nops++;
	a->started++;

	if (kind == ACTUATOR_SET && !isfinite(value))
		actuator_op_fail(op, "value %g is not a finite number", value);
	else if (kind == ACTUATOR_SET)
		a->backend->set(op);
	else
		a->backend->get(op);
	return op;
}

/*
 * Read the current value of knob through a.  Returns at once; fn(result,
 * arg) is called later on the loop thread, exactly once, unless the
 * operation is cancelled or the actuator freed first.  knob is copied.
 * The handle returned is valid until fn is called or the operation is
 * cancelled; callers may ignore it.  Never fails: every failure, a
 * timeout included, comes through fn with ok == 0 and an error text.
 */
struct actuator_op *
actuator_get(struct actuator *a, const struct mt_knob_conf *knob,
    actuator_done_fn fn, void *arg)
{
	return actuator_op_start(a, ACTUATOR_GET, knob, NAN, fn, arg);
}

/*
 * Set knob to value through a, reading it back where the backend can.
 * Same contract as actuator_get(); result->value is the value in effect
 * afterwards and result->old_value, where known, the one before.
 */
struct actuator_op *
actuator_set(struct actuator *a, const struct mt_knob_conf *knob,
    double value, actuator_done_fn fn, void *arg)
{
	return actuator_op_start(a, ACTUATOR_SET, knob, value, fn, arg);
}

/*
 * Stop op and free it; its callback is never called.  op must be a
 * handle whose callback has not been called yet and is not running (a
 * callback must not cancel its own operation: it is freed on return).
 */
void
actuator_cancel(struct actuator_op *op)
{
	actuator_op_release(op);
	actuator_op_free(op);
}

/*
 * Free a and everything it holds.  Operations still in flight are stopped
 * (sockets closed, child processes killed and reaped) and their callbacks
 * are never called.  NULL is allowed.
 */
void
actuator_free(struct actuator *a)
{
	struct actuator_op	*op;
	size_t			 i;

	if (a == NULL)
		return;
	while ((op = TAILQ_FIRST(&a->ops)) != NULL)
		actuator_cancel(op);
	if (a->backend->free != NULL)
		a->backend->free(a);
	for (i = 0; i < a->nmemo; i++)
		free(a->memo[i].knob);
	free(a->memo);
	free(a->name);
	free(a);
}

/* The configured name of a. */
const char *
actuator_name(const struct actuator *a)
{
	return a->name;
}

/* The backend type of a ("unix", ...). */
const char *
actuator_type(const struct actuator *a)
{
	return a->backend->name;
}

/* How many operations of a are in flight (started, not yet delivered). */
size_t
actuator_pending(const struct actuator *a)
{
	return a->nops;
}

/* Counters of a since it was created. */
void
actuator_get_stats(const struct actuator *a, struct actuator_stats *st)
{
	st->started = a->started;
	st->succeeded = a->succeeded;
	st->failed = a->failed;
	st->timeouts = a->timeouts;
	st->pending = a->nops;
}

/*
 * Every actuator of conf, created on base.  Returns NULL if any of them
 * cannot be created: then every reason is appended to errs (free with
 * config_errors_clear()) and nothing is kept.  Free with actuators_free().
 */
struct actuators *
actuators_new(struct event_base *base, const struct mt_config *conf,
    struct conf_errors *errs)
{
	struct actuators	*as;
	struct actuator		*a;
	char			 err[ACTUATOR_ERRLEN];
	int			 bad = 0;

	as = xcalloc(1, sizeof(*as));
	as->v = xreallocarray(NULL, conf->actuators.n + 1, sizeof(*as->v));
	CONF_FOREACH(struct mt_actuator_conf, c, conf->actuators) {
		if ((a = actuator_new(base, c, err, sizeof(err))) == NULL) {
			errs->v = xreallocarray(errs->v, errs->n + 1,
			    sizeof(*errs->v));
			errs->v[errs->n++] = xstrdup(err);
			bad = 1;
			continue;
		}
		as->v[as->n++] = a;
	}
	if (bad) {
		actuators_free(as);
		return NULL;
	}
	return as;
}

/* Free every actuator of as, as actuator_free() does.  NULL is allowed. */
void
actuators_free(struct actuators *as)
{
	size_t	 i;

	if (as == NULL)
		return;
	for (i = 0; i < as->n; i++)
		actuator_free(as->v[i]);
	free(as->v);
	free(as);
}

/* The actuator of as called name, or NULL. */
struct actuator *
actuators_find(const struct actuators *as, const char *name)
{
	size_t	 i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < as->n; i++)
		if (strcmp(as->v[i]->name, name) == 0)
			return as->v[i];
	return NULL;
}

/* Operations in flight over every actuator of as. */
size_t
actuators_pending(const struct actuators *as)
{
	size_t	 i, n = 0;

	for (i = 0; i < as->n; i++)
		n += as->v[i]->nops;
	return n;
}

/*
 * For backends.
 */

/* The event_base a runs on. */
struct event_base *
actuator_base(const struct actuator *a)
{
	return a->base;
}

/* The backend's private state of a, or NULL. */
void *
actuator_data(const struct actuator *a)
{
	return a->data;
}

/* Set the backend's private state of a (configure does it). */
void
actuator_set_data(struct actuator *a, void *data)
{
	a->data = data;
}

/* The timeout of every operation of a, in ms. */
int64_t
actuator_timeout_ms(const struct actuator *a)
{
	return a->timeout_ms;
}

/* The actuator op runs on. */
struct actuator *
actuator_op_actuator(const struct actuator_op *op)
{
	return op->act;
}

/* The knob op reads or sets. */
const char *
actuator_op_knob(const struct actuator_op *op)
{
	return op->knob;
}

/* The knob's path (file knobs), or NULL. */
const char *
actuator_op_path(const struct actuator_op *op)
{
	return op->path;
}

/* The requested value of a set (NAN for a get). */
double
actuator_op_value(const struct actuator_op *op)
{
	return op->value;
}

/* The knob's configured initial value, NAN if none. */
double
actuator_op_initial(const struct actuator_op *op)
{
	return op->initial;
}

/* ACTUATOR_GET or ACTUATOR_SET. */
enum actuator_opkind
actuator_op_kind(const struct actuator_op *op)
{
	return op->kind;
}

/* The backend's per-operation state, or NULL. */
void *
actuator_op_data(const struct actuator_op *op)
{
	return op->data;
}

/* Set the backend's per-operation state; release frees it. */
void
actuator_op_set_data(struct actuator_op *op, void *data)
{
	op->data = data;
}

/*
 * Name what op is doing now ("connecting", "waiting for the reply"), for
 * the timeout message.  stage must be a static string.
 */
void
actuator_op_stage(struct actuator_op *op, const char *stage)
{
	op->stage = stage;
}

/* Record the value the knob had before a set (the file backend reads it). */
void
actuator_op_old(struct actuator_op *op, double old)
{
	op->old_value = old;
}

/* Whether op has an outcome already (done, failed or timed out). */
int
actuator_op_finished(const struct actuator_op *op)
{
	return op->state != OP_RUNNING;
}

/* Stop the timer of op and schedule the delivery of its outcome. */
static void
actuator_op_finish(struct actuator_op *op)
{
	op->state = OP_FINISHED;
	evtimer_del(op->ev_timeout);
	event_active(op->ev_done, 0, 0);
}

/*
 * Report that op succeeded with value (read, or in effect after a set);
 * readback says whether value was read from the target rather than
 * echoed or remembered.  A set also remembers value (actuator_memo_*).
 * Ignored if op has an outcome already.  The caller gets it later, from
 * a separate event.
 */
void
actuator_op_done(struct actuator_op *op, double value, int readback)
{
	if (op->state != OP_RUNNING)
		return;
	op->ok = 1;
	op->result = value;
	op->readback = readback;
	if (op->kind == ACTUATOR_SET && isfinite(value))
		actuator_memo_put(op->act, op->knob, value);
	actuator_op_finish(op);
}

/*
 * Report that op failed, with a printf-style error text for the audit
 * row.  Ignored if op has an outcome already.
 */
void
actuator_op_fail(struct actuator_op *op, const char *fmt, ...)
{
	va_list	 ap;

	if (op->state != OP_RUNNING)
		return;
	op->ok = 0;
	va_start(ap, fmt);
	vsnprintf(op->error, sizeof(op->error), fmt, ap);
	va_end(ap);
	actuator_op_finish(op);
}

/*
 * The value last set through a for knob, in *value.  Returns 0, or -1 if
 * nothing was set yet.
 */
int
actuator_memo_get(const struct actuator *a, const char *knob, double *value)
{
	size_t	 i;

	for (i = 0; i < a->nmemo; i++)
		if (strcmp(a->memo[i].knob, knob) == 0) {
			*value = a->memo[i].value;
			return 0;
		}
	return -1;
}

/* Remember value as the last one set through a for knob. */
void
actuator_memo_put(struct actuator *a, const char *knob, double value)
{
	size_t	 i;

	for (i = 0; i < a->nmemo; i++)
		if (strcmp(a->memo[i].knob, knob) == 0) {
			a->memo[i].value = value;
			return;
		}
	a->memo = xreallocarray(a->memo, a->nmemo + 1, sizeof(*a->memo));
	a->memo[a->nmemo].knob = xstrdup(knob);
	a->memo[a->nmemo].value = value;
	a->nmemo++;
}

/*
 * Write value as text into buf (len bytes): integers without decimals,
 * others in the shortest form that reads back the same.  Returns 0, or
 * -1 if it does not fit or value is not finite.
 */
int
actuator_format_value(double value, char *buf, size_t len)
{
	return number_format(value, buf, len) == -1 ? -1 : 0;
}

/*
 * The request line of op in the unix and http wire format, with its
 * newline: {"op":"set","knob":"net.batch_size","value":16} or
 * {"op":"get","knob":"..."}.  The caller frees it.
 */
char *
actuator_request_json(const struct actuator_op *op)
{
	cJSON	*o;
	char	*text, *line;

	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("%s: out of memory", __func__);
	if (cJSON_AddStringToObject(o, "op", op->kind == ACTUATOR_SET ?
	    "set" : "get") == NULL ||
	    cJSON_AddStringToObject(o, "knob", op->knob) == NULL ||
	    (op->kind == ACTUATOR_SET &&
	    cJSON_AddNumberToObject(o, "value", op->value) == NULL))
		fatalx("%s: out of memory", __func__);
	text = number_json_print(o);
	cJSON_Delete(o);
	xasprintf(&line, "%s\n", text);
	cJSON_free(text);
	return line;
}

/* Copy at most 60 bytes of s, printable ASCII only, for an error text. */
static void
actuator_quote(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	 i, j = 0;

	for (i = 0; i < len && j + 4 < outlen && i < 60; i++)
		out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < len && j + 4 < outlen) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
}

/*
 * Read a reply in the unix and http wire format: {"ok":true,"value":16}
 * or {"ok":false,"error":"..."}, len bytes at text (no NUL needed, a
 * trailing newline allowed).  Returns 1 and sets *value when the reply
 * says ok, 0 when it reports an error (its text in err), and -1 when the
 * reply itself is bad (garbage, not an object, missing or mistyped
 * fields): then err says what was wrong.  err is errlen bytes.
 */
int
actuator_parse_reply(const char *text, size_t len, double *value,
    char *err, size_t errlen)
{
	cJSON		*o, *ok, *v, *e;
	char		 q[80];
	int		 ret = -1;

	actuator_quote(text, len, q, sizeof(q));
	if ((o = cJSON_ParseWithLength(text, len)) == NULL) {
		snprintf(err, errlen, "bad reply: not JSON: \"%s\"", q);
		return -1;
	}
	if (!cJSON_IsObject(o)) {
		snprintf(err, errlen, "bad reply: not a JSON object: \"%s\"",
		    q);
		goto out;
	}
	ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
	if (!cJSON_IsBool(ok)) {
		snprintf(err, errlen, "bad reply: no boolean \"ok\": \"%s\"",
		    q);
		goto out;
	}
	if (cJSON_IsFalse(ok)) {
		e = cJSON_GetObjectItemCaseSensitive(o, "error");
		if (!cJSON_IsString(e)) {
			snprintf(err, errlen, "bad reply: \"ok\":false "
			    "without a string \"error\": \"%s\"", q);
			goto out;
		}
		actuator_quote(e->valuestring, strlen(e->valuestring), q,
		    sizeof(q));
		snprintf(err, errlen, "refused: %s", q);
		ret = 0;
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "value");
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
		snprintf(err, errlen, "bad reply: \"ok\":true without a "
		    "number \"value\": \"%s\"", q);
		goto out;
	}
	*value = v->valuedouble;
	ret = 1;
 out:
	cJSON_Delete(o);
	return ret;
}
