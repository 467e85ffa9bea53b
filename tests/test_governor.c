/*
 * test_governor.c -- every rule of the governor, one test each, on a fake
 * monotonic clock (governor_clock), against a fake node that serves the
 * unix actuator protocol on the test's own event loop, with a real audit
 * log in a temporary directory.
 *
 * The fake node remembers its knobs, counts gets and sets, can refuse a
 * set, answer a value other than the one asked (its own limit), hold a
 * request without answering (an operation in flight), and checks, when a
 * set arrives, that the pending row is already committed.  Each test
 * drives the loop only until the governor is idle, bounded in time.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sqlite3.h>

#include "meshtuned.h"
#include "meshtune/strategy.h"

#define S		1000ULL		/* ms per second */
#define T0		(1000 * S)	/* fake clock at the start */
#define MAX_CONNS	32

/* The fake clock every governor of this test runs on. */
static uint64_t	fake_now;

static uint64_t
fake_clock(void)
{
	return fake_now;
}

struct node {
	struct evconnlistener	*lev;
	sqlite3			*db;		/* to see the pending row */
	struct bufferevent	*conns[MAX_CONNS];
	char			 names[8][32];
	double			 values[8];
	size_t			 nknobs;
	int			 gets, sets;
	int			 fail_set;	/* answer ok:false */
	int			 hold_set;	/* apply, never answer */
	int			 hold_get;	/* never answer a get */
	double			 cap;		/* apply at most this */
	int			 pending_seen;	/* sets with a pending row */
	int			 pending_missing;
};

struct fx {
	char			 dir[256];
	char			 dbpath[300];
	char			 sock[300];
	struct event_base	*base;
	struct daemon		 d;
	struct node		 node;
	sqlite3			*db;
};

/*
 * The fake node.
 */

static double *
node_knob(struct node *n, const char *name)
{
	size_t	i;

	for (i = 0; i < n->nknobs; i++)
		if (strcmp(n->names[i], name) == 0)
			return &n->values[i];
	return NULL;
}

static void
node_put(struct node *n, const char *name, double v)
{
	double	*p;

	if ((p = node_knob(n, name)) == NULL) {
		assert_true(n->nknobs < nitems(n->values));
		snprintf(n->names[n->nknobs], sizeof(n->names[0]), "%s", name);
		p = &n->values[n->nknobs++];
	}
	*p = v;
}

static double
node_get(struct node *n, const char *name)
{
	double	*p = node_knob(n, name);

	assert_non_null(p);
	return *p;
}

static void
node_forget(struct node *n, struct bufferevent *bev)
{
	size_t	i;

	for (i = 0; i < MAX_CONNS; i++)
		if (n->conns[i] == bev)
			n->conns[i] = NULL;
	bufferevent_free(bev);
}

/* Is the pending row of this set committed? */
static int
node_pending_row(struct node *n, const char *knob, double value)
{
	sqlite3_stmt	*st;
	int		 found = 0;

	assert_int_equal(sqlite3_prepare_v2(n->db, "SELECT count(*) FROM "
	    "actions WHERE knob = ?1 AND status = 'pending' AND "
	    "new_value = ?2", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, knob, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 2, value);
	if (sqlite3_step(st) == SQLITE_ROW)
		found = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return found > 0;
}

static void
node_read_cb(struct bufferevent *bev, void *arg)
{
	struct node	*n = arg;
	struct evbuffer	*out = bufferevent_get_output(bev);
	cJSON		*req, *op, *knob, *value;
	char		*line;
	double		*cur, v;

	line = evbuffer_readln(bufferevent_get_input(bev), NULL,
	    EVBUFFER_EOL_LF);
	if (line == NULL)
		return;
	req = cJSON_Parse(line);
	free(line);
	assert_non_null(req);
	op = cJSON_GetObjectItem(req, "op");
	knob = cJSON_GetObjectItem(req, "knob");
	assert_true(cJSON_IsString(op) && cJSON_IsString(knob));
	cur = node_knob(n, knob->valuestring);
	if (strcmp(op->valuestring, "get") == 0) {
		n->gets++;
		if (n->hold_get)
			;
		else if (cur == NULL)
			evbuffer_add_printf(out, "{\"ok\":false,\"error\":"
			    "\"no such knob\"}\n");
		else
			evbuffer_add_printf(out, "{\"ok\":true,\"value\":"
			    "%.17g}\n", *cur);
	} else {
		assert_string_equal(op->valuestring, "set");
		value = cJSON_GetObjectItem(req, "value");
		assert_true(cJSON_IsNumber(value));
		n->sets++;
		if (node_pending_row(n, knob->valuestring,
		    value->valuedouble))
			n->pending_seen++;
		else
			n->pending_missing++;
		v = value->valuedouble;
		if (!isnan(n->cap) && v > n->cap)
			v = n->cap;
		if (n->fail_set)
			evbuffer_add_printf(out, "{\"ok\":false,\"error\":"
			    "\"node says no\"}\n");
		else {
			node_put(n, knob->valuestring, v);
			if (!n->hold_set)
				evbuffer_add_printf(out, "{\"ok\":true,"
				    "\"value\":%.17g}\n", v);
		}
	}
	cJSON_Delete(req);
}

static void
node_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		node_forget(arg, bev);
}

static void
node_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct node		*n = arg;
	struct bufferevent	*bev;
	size_t			 i;

	bev = bufferevent_socket_new(evconnlistener_get_base(lev), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	for (i = 0; i < MAX_CONNS && n->conns[i] != NULL; i++)
		;
	assert_true(i < MAX_CONNS);
	n->conns[i] = bev;
	bufferevent_setcb(bev, node_read_cb, NULL, node_event_cb, n);
	assert_int_equal(bufferevent_enable(bev, EV_READ | EV_WRITE), 0);
}

static void
node_start(struct fx *fx)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(fx->sock) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, fx->sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 16), 0);
	fx->node.lev = evconnlistener_new(fx->base, node_accept_cb, &fx->node,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd);
	assert_non_null(fx->node.lev);
	fx->node.cap = NAN;
}

/*
 * Fixture.
 */

static int
setup(void **state)
{
	struct fx	*fx;
	const char	*tmp = getenv("TMPDIR");

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "%s/test_governor.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->dbpath, sizeof(fx->dbpath), "%s/audit.db", fx->dir);
	snprintf(fx->sock, sizeof(fx->sock), "%s/node.sock", fx->dir);
	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->d.base = fx->base;
	node_start(fx);
	node_put(&fx->node, "k", 8);
	fake_now = T0;
	governor_clock(fake_clock);
	*state = fx;
	return 0;
}

/* Run the loop without blocking until the governor is idle (bounded). */
static void
pump(struct fx *fx)
{
	uint64_t	deadline = clock_mono_ms() + 10000;

	for (;;) {
		assert_int_not_equal(event_base_loop(fx->base,
		    EVLOOP_NONBLOCK), -1);
		if (fx->d.governor == NULL ||
		    governor_in_flight(fx->d.governor) == 0)
			break;
		assert_true(clock_mono_ms() < deadline);
		usleep(500);
	}
	if (fx->d.audit != NULL)
		assert_int_equal(audit_sync(fx->d.audit), 0);
	assert_int_not_equal(event_base_loop(fx->base, EVLOOP_NONBLOCK), -1);
}

/* Run the loop until *counter reaches want (bounded). */
static void
pump_until(struct fx *fx, const int *counter, int want)
{
	uint64_t	deadline = clock_mono_ms() + 10000;

	while (*counter < want) {
		assert_int_not_equal(event_base_loop(fx->base,
		    EVLOOP_NONBLOCK), -1);
		assert_true(clock_mono_ms() < deadline);
		usleep(500);
	}
}

static void
governor_down(struct fx *fx)
{
	governor_stop(&fx->d);
	pump(fx);	/* callbacks owed to a stopped governor */
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	size_t		 i;
	char		 cmd[600];

	if (fx->d.governor != NULL)
		governor_down(fx);
	if (fx->d.audit != NULL)
		audit_close(fx->d.audit);
	metrics_free(fx->d.metrics);
	config_free(fx->d.conf);
	if (fx->db != NULL)
		sqlite3_close(fx->db);
	if (fx->node.db != NULL)
		sqlite3_close(fx->node.db);
	for (i = 0; i < MAX_CONNS; i++)
		if (fx->node.conns[i] != NULL)
			bufferevent_free(fx->node.conns[i]);
	evconnlistener_free(fx->node.lev);
	event_base_free(fx->base);
	governor_clock(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

struct opts {
	const char	*knobs;		/* JSON members of "knobs" */
	int		 budget;	/* max_actions_per_hour, 0: 100 */
	int		 flap_n;	/* flap_reversals, 0: 100 */
	int		 flap_w;	/* flap_window_s, 0: 600 */
	int		 dry_run;
	const char	*governor;	/* more "governor" members, ", ..." */
	const char	*triggers;	/* JSON members of "triggers" */
};

/*
 * Knob k: cooldown_s cd, verify_s vs; a change nothing can judge is kept
 * (keep_unjudged), so that the rules other than verification can be
 * tested on their own; KNOB_STRICT leaves it out.
 */
#define KNOB_KCV(cd, vs, extra) "\"k\": { \"actuator\": \"node\", " \
	"\"min\": 1, \"max\": 64, \"initial\": 8, \"cooldown_s\": " cd \
	", \"verify_s\": " vs ", \"keep_unjudged\": true " extra " }"
#define KNOB_KC(cd, extra)	KNOB_KCV(cd, "1", extra)
#define KNOB_K(extra)	KNOB_KC("0", extra)
#define KNOB_STRICT(vs, extra) "\"k\": { \"actuator\": \"node\", " \
	"\"min\": 1, \"max\": 64, \"initial\": 8, \"cooldown_s\": 10" \
	", \"verify_s\": " vs " " extra " }"

static struct mt_config *
fx_config(struct fx *fx, const struct opts *o)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct mt_config	*c;
	char			*text;
	size_t			 i;

	xasprintf(&text, "{ \"window\": { \"seconds\": 10, \"slices\": 10 },"
	    " \"audit\": { \"path\": \"%s\", \"retention_days\": 30 },"
	    " \"dry_run\": %s,"
	    " \"governor\": { \"max_actions_per_hour\": %d,"
	    "   \"flap_reversals\": %d, \"flap_window_s\": %d,"
	    "   \"readback_s\": 0 %s },"
	    " \"actuators\": { \"node\": { \"type\": \"unix\", \"path\": \"%s\","
	    "   \"timeout_ms\": 5000 } },"
	    " \"knobs\": { %s }, \"triggers\": { %s },"
	    " \"strategies\": ["
	    "   { \"name\": \"alpha\", \"module\": \"a.so\", \"priority\": 0 },"
	    "   { \"name\": \"beta\", \"module\": \"b.so\", \"priority\": 10 }"
	    " ] }", fx->dbpath, o->dry_run ? "true" : "false",
	    o->budget ? o->budget : 100, o->flap_n ? o->flap_n : 100,
	    o->flap_w ? o->flap_w : 600, o->governor ? o->governor : "",
	    fx->sock,
	    o->knobs ? o->knobs : KNOB_K(""), o->triggers ? o->triggers : "");
	c = config_load_string(text, "test", &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.v[i]);
	config_errors_clear(&errs);
	free(text);
	assert_non_null(c);
	return c;
}

/* Configuration, registry and audit log; no governor yet. */
static void
fx_open(struct fx *fx, const struct opts *o)
{
	char	err[512];

	fx->d.conf = fx_config(fx, o);
	fx->d.metrics = metrics_new(10, 10, 100);
	assert_non_null(fx->d.metrics);
	fx->d.audit = audit_open(fx->base, fx->dbpath, 30, err, sizeof(err));
	if (fx->d.audit == NULL)
		fail_msg("%s", err);
	assert_int_equal(sqlite3_open_v2(fx->dbpath, &fx->db,
	    SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_open_v2(fx->dbpath, &fx->node.db,
	    SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
}

static void
fx_start(struct fx *fx, const struct opts *o)
{
	fx_open(fx, o);
	assert_int_equal(governor_start(&fx->d), 0);
	pump(fx);
}

static void
fx_restart(struct fx *fx)
{
	governor_down(fx);
	assert_int_equal(governor_start(&fx->d), 0);
	pump(fx);
}

/*
 * Proposals and the audit log.
 */

struct prop {
	const char	*strategy;	/* "alpha" (0) or "beta" (10) */
	const char	*knob;
	double		 value;
	int		 advise;
	const char	*metric;	/* expect: p95 should fall */
	double		 baseline;
	uint64_t	 count;
};

static void
propose(struct fx *fx, const struct prop *pr)
{
	struct mt_action	a = MT_ACTION_INIT;
	struct gov_proposal	gp;

	a.kind = MT_ACT_SET;
	a.knob = pr->knob != NULL ? pr->knob : "k";
	a.value = pr->value;
	a.reason = "test";
	if (pr->metric != NULL) {
		a.expect_metric = pr->metric;
		a.expect_stat = "p95";
		a.expect_dir = -1;
	}
	memset(&gp, 0, sizeof(gp));
	gp.strategy = pr->strategy != NULL ? pr->strategy : "alpha";
	gp.priority = strcmp(gp.strategy, "beta") == 0 ? 10 : 0;
	gp.advise = pr->advise;
	gp.action = &a;
	gp.baseline = pr->metric != NULL ? pr->baseline : NAN;
	gp.baseline_count = pr->count;
	governor_propose(fx->d.governor, &gp, fake_now);
}

/* One tick at fake_now: decide, then let everything it started finish. */
static unsigned int
decide(struct fx *fx)
{
	unsigned int	n = governor_decide(fx->d.governor, fake_now);

	pump(fx);
	return n;
}

/* Propose value for k as alpha and decide: the common case. */
static unsigned int
tick_k(struct fx *fx, double value)
{
	struct prop	pr = { .value = value };

	propose(fx, &pr);
	return decide(fx);
}

static int64_t
q_int(struct fx *fx, const char *fmt, ...) __printflike(2, 3);

static int64_t
q_int(struct fx *fx, const char *fmt, ...)
{
	sqlite3_stmt	*st;
	va_list		 ap;
	char		*sql;
	int64_t		 v = -1;

	va_start(ap, fmt);
	assert_int_not_equal(vasprintf(&sql, fmt, ap), -1);
	va_end(ap);
	if (sqlite3_prepare_v2(fx->db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(fx->db));
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	free(sql);
	return v;
}

/* The count of a decisions row, 0 if there is none. */
static int64_t
refusals(struct fx *fx, const char *strategy, const char *knob,
    const char *reason)
{
	int64_t	n = q_int(fx, "SELECT count FROM decisions WHERE strategy = "
	    "'%s' AND knob = '%s' AND reason = '%s'", strategy, knob, reason);

	return n < 0 ? 0 : n;
}

static int64_t
nactions(struct fx *fx)
{
	return q_int(fx, "SELECT count(*) FROM actions");
}

static int64_t
last_id(struct fx *fx)
{
	return q_int(fx, "SELECT max(id) FROM actions");
}

static int
row_is(struct fx *fx, int64_t id, const char *kind, const char *status,
    double old_value, double new_value)
{
	return q_int(fx, "SELECT count(*) FROM actions WHERE id = %lld AND "
	    "kind = '%s' AND status = '%s' AND old_value = %.17g AND "
	    "new_value = %.17g", (long long)id, kind, status, old_value,
	    new_value) == 1;
}

static double
believed(struct fx *fx, const char *knob)
{
	double	v;

	assert_int_equal(governor_knob(fx->d.governor, knob, &v, NULL, NULL),
	    0);
	return v;
}

static void
feed(struct fx *fx, double value, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		assert_int_equal(metrics_add(fx->d.metrics, "net.rtt_ms",
		    STATSD_TIMER, value, fake_now), 0);
}

/*
 * Rule 1: knob known, not manual.
 */

static void
t_unknown_knob(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { 0 };
	struct prop	 pr = { .knob = "nope", .value = 3 };

	fx_start(fx, &o);
	propose(fx, &pr);
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "alpha", "nope", "unknown_knob"), 1);
	assert_int_equal(nactions(fx), 0);
	assert_int_equal(fx->node.gets + fx->node.sets, 0);
	assert_int_equal(governor_knob(fx->d.governor, "nope", NULL, NULL,
	    NULL), -1);
}

static void
t_manual(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { 0 };
	int64_t		 id;

	fx_start(fx, &o);
	assert_int_equal(tick_k(fx, 16), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, 16));
	/* Someone turns it behind meshtune's back. */
	node_put(&fx->node, "k", 30);
	fake_now += S;
	assert_int_equal(tick_k(fx, 20), 1);
	id = last_id(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND status = 'rejected' AND error LIKE '%%reads 30%%changed "
	    "outside meshtune%%'", (long long)id), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'manual_change' AND source = 'k'"), 1);
	assert_int_equal(fx->node.sets, 1);
	assert_true(node_get(&fx->node, "k") == 30);
	assert_true(believed(fx, "k") == 30);
	/* Left alone until resumed. */
	fake_now += S;
	assert_int_equal(tick_k(fx, 40), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "manual"), 1);
	assert_int_equal(fx->node.sets, 1);
	assert_int_equal(governor_resume(fx->d.governor, "k"), 0);
	assert_int_equal(governor_resume(fx->d.governor, "k"), -1);
	assert_int_equal(tick_k(fx, 40), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 30, 40));
	assert_true(node_get(&fx->node, "k") == 40);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'resume' AND source = 'k'"), 1);
}

/*
 * Rule 2: bounds and step.
 */

static void
t_bounds(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_K(", \"max_step_pct\": 10000") };

	fx_start(fx, &o);
	assert_int_equal(tick_k(fx, 1000), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, 64));
	assert_true(node_get(&fx->node, "k") == 64);
	fake_now += S;
	assert_int_equal(tick_k(fx, -5), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 64, 1));
	assert_true(node_get(&fx->node, "k") == 1);
}

static void
t_max_step(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_K(", \"max_step_pct\": 50") };

	fx_start(fx, &o);
	assert_int_equal(tick_k(fx, 64), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, 12));
	fake_now += S;
	assert_int_equal(tick_k(fx, 1), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 12, 6));
	assert_true(node_get(&fx->node, "k") == 6);
}

static void
t_no_change(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = "\"k\": { \"actuator\": \"node\", "
	    "\"min\": 1, \"max\": 64, \"initial\": 64, \"cooldown_s\": 0 }" };

	node_put(&fx->node, "k", 64);
	fx_start(fx, &o);
	assert_int_equal(tick_k(fx, 128), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "no_change"), 1);
	assert_int_equal(nactions(fx), 0);
	assert_int_equal(fx->node.gets + fx->node.sets, 0);
}

/*
 * Rule 3: sustained for for_s, tick after tick.
 */

static void
t_for_s(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_K(", \"for_s\": 10") };

	fx_start(fx, &o);
	assert_int_equal(tick_k(fx, 16), 0);
	fake_now += 5 * S;
	assert_int_equal(tick_k(fx, 16), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "not_sustained"), 2);
	fake_now += 5 * S;
	assert_int_equal(tick_k(fx, 16), 1);
	assert_true(node_get(&fx->node, "k") == 16);
	/* A tick without the proposal starts the run again. */
	fake_now += 5 * S;
	assert_int_equal(decide(fx), 0);
	fake_now += 5 * S;
	assert_int_equal(tick_k(fx, 32), 0);
	fake_now += 5 * S;
	assert_int_equal(tick_k(fx, 32), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "not_sustained"), 4);
	fake_now += 5 * S;
	assert_int_equal(tick_k(fx, 32), 1);
	assert_true(node_get(&fx->node, "k") == 32);
	/* Two strategies proposing each tick keep a run each. */
	fake_now += 5 * S;
	assert_int_equal(decide(fx), 0);
	{
		struct prop b = { .strategy = "beta", .value = 64 };
		struct prop a = { .value = 64 };
		int i;

		for (i = 0; i < 3; i++) {
			fake_now += 5 * S;
			propose(fx, &b);
			propose(fx, &a);
			assert_int_equal(decide(fx), i == 2);
		}
	}
	assert_int_equal(refusals(fx, "beta", "k", "not_sustained"), 2);
	assert_true(node_get(&fx->node, "k") == 64);
}

/*
 * Rule 4: cooldown, budget, flapping.
 */

static void
t_cooldown(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = "\"k\": { \"actuator\": \"node\", "
	    "\"min\": 1, \"max\": 64, \"initial\": 8, \"cooldown_s\": 30, "
	    "\"verify_s\": 1, \"keep_unjudged\": true }" };

	fx_start(fx, &o);
	assert_int_equal(tick_k(fx, 16), 1);
	fake_now += 10 * S;
	assert_int_equal(tick_k(fx, 32), 0);
	fake_now += 19 * S;
	assert_int_equal(tick_k(fx, 32), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "cooldown"), 2);
	assert_int_equal(fx->node.sets, 1);
	fake_now += 2 * S;
	assert_int_equal(tick_k(fx, 32), 1);
	assert_true(node_get(&fx->node, "k") == 32);
}

#define KNOBS_ABC	"\"a\": { \"actuator\": \"node\", \"min\": 1, " \
	"\"max\": 64, \"initial\": 8, \"cooldown_s\": 0, \"verify_s\": 1, " \
	"\"keep_unjudged\": true }, " \
	"\"b\": { \"actuator\": \"node\", \"min\": 1, \"max\": 64, " \
	"\"initial\": 8, \"cooldown_s\": 0, \"verify_s\": 1, " \
	"\"keep_unjudged\": true }, " \
	"\"c\": { \"actuator\": \"node\", \"min\": 1, \"max\": 64, " \
	"\"initial\": 8, \"cooldown_s\": 0, \"verify_s\": 1, " \
	"\"keep_unjudged\": true }"

static void
abc_nodes(struct fx *fx)
{
	node_put(&fx->node, "a", 8);
	node_put(&fx->node, "b", 8);
	node_put(&fx->node, "c", 8);
}

static void
t_budget(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOBS_ABC, .budget = 2 };
	struct prop	 a = { .knob = "a", .value = 16 };
	struct prop	 b = { .knob = "b", .value = 16 };
	struct prop	 c = { .knob = "c", .value = 16 };

	abc_nodes(fx);
	fx_start(fx, &o);
	/* In one tick: the two in flight count already. */
	propose(fx, &a);
	propose(fx, &b);
	propose(fx, &c);
	assert_int_equal(decide(fx), 2);
	assert_int_equal(refusals(fx, "alpha", "c", "budget"), 1);
	fake_now += 60 * S;
	propose(fx, &c);
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "alpha", "c", "budget"), 2);
	assert_true(node_get(&fx->node, "c") == 8);
	/* An hour after the first two. */
	fake_now += 3541 * S;
	propose(fx, &c);
	assert_int_equal(decide(fx), 1);
	assert_true(node_get(&fx->node, "c") == 16);
}

static void
t_flap(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .flap_n = 2, .flap_w = 100 };

	fx_start(fx, &o);
	assert_int_equal(tick_k(fx, 16), 1);
	fake_now += S;
	assert_int_equal(tick_k(fx, 8), 1);		/* reversal 1 */
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE "
	    "kind = 'flap'"), 0);
	fake_now += S;
	assert_int_equal(tick_k(fx, 16), 1);		/* reversal 2 */
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE "
	    "kind = 'flap' AND source = 'k' AND message LIKE "
	    "'%%reversals%%'"), 1);
	fake_now += S;
	assert_int_equal(tick_k(fx, 8), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "flapping"), 1);
	assert_int_equal(fx->node.sets, 3);
	fake_now += 98 * S;
	assert_int_equal(tick_k(fx, 8), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "flapping"), 2);
	fake_now += 2 * S;
	assert_int_equal(tick_k(fx, 8), 1);
	assert_true(node_get(&fx->node, "k") == 8);
}

/*
 * Rule 5: owner, priority, undoing a higher priority.
 */

static void
t_owner(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_K(", \"owner\": \"alpha\"") };
	struct prop	 b = { .strategy = "beta", .value = 16 };

	fx_start(fx, &o);
	propose(fx, &b);
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "beta", "k", "not_owner"), 1);
	assert_int_equal(fx->node.sets, 0);
	assert_int_equal(tick_k(fx, 16), 1);
	assert_true(node_get(&fx->node, "k") == 16);
}

static void
t_conflict(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { 0 };
	struct prop	 a = { .value = 16 };
	struct prop	 b = { .strategy = "beta", .value = 4 };

	fx_start(fx, &o);
	propose(fx, &a);
	propose(fx, &b);
	assert_int_equal(decide(fx), 1);
	assert_int_equal(refusals(fx, "alpha", "k", "conflict"), 1);
	assert_int_equal(fx->node.sets, 1);
	assert_true(node_get(&fx->node, "k") == 4);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE "
	    "strategy = 'beta' AND status = 'applied'"), 1);
}

static void
t_undoes_higher(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_K(""), .flap_w = 600 };
	struct prop	 b = { .strategy = "beta", .value = 16 };

	fx_start(fx, &o);
	propose(fx, &b);
	assert_int_equal(decide(fx), 1);
	fake_now += 5 * S;
	assert_int_equal(tick_k(fx, 8), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "undoes_higher_priority"),
	    1);
	assert_true(node_get(&fx->node, "k") == 16);
	/* The same direction is no undoing. */
	assert_int_equal(tick_k(fx, 32), 1);
	assert_true(node_get(&fx->node, "k") == 32);
	/* Past the window a lower priority may undo it. */
	fake_now += S;
	b.value = 64;
	propose(fx, &b);
	assert_int_equal(decide(fx), 1);
	fake_now += 601 * S;
	assert_int_equal(tick_k(fx, 32), 1);
	assert_true(node_get(&fx->node, "k") == 32);
}

/*
 * Rule 6: paused, dry run.
 */

static void
t_paused(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { 0 };

	fx_start(fx, &o);
	fx->d.paused = 1;
	assert_int_equal(tick_k(fx, 16), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "paused"), 1);
	assert_int_equal(nactions(fx), 0);
	assert_int_equal(fx->node.gets + fx->node.sets, 0);
	fx->d.paused = 0;
	assert_int_equal(tick_k(fx, 16), 1);
	assert_true(node_get(&fx->node, "k") == 16);
}

static void
t_dry_run(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .dry_run = 1 };

	fx_start(fx, &o);
	assert_int_equal(tick_k(fx, 16), 1);
	assert_true(row_is(fx, last_id(fx), "set", "dry_run", 8, 16));
	assert_int_equal(fx->node.gets + fx->node.sets, 0);
	assert_true(node_get(&fx->node, "k") == 8);
	assert_true(believed(fx, "k") == 8);
}

static void
t_advise(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { 0 };
	struct prop	 pr = { .value = 16, .advise = 1 };

	fx_start(fx, &o);
	propose(fx, &pr);
	assert_int_equal(decide(fx), 1);
	assert_true(row_is(fx, last_id(fx), "set", "dry_run", 8, 16));
	assert_int_equal(fx->node.gets + fx->node.sets, 0);
	assert_true(believed(fx, "k") == 8);
	/* The same proposal from a strategy in apply mode is applied. */
	assert_int_equal(tick_k(fx, 16), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, 16));
}

/*
 * Rule 7: apply.
 */

static void
t_apply(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { 0 };

	fx_start(fx, &o);
	fx->node.cap = 12;	/* the node takes at most 12 */
	assert_int_equal(tick_k(fx, 16), 1);
	/* The pending row was committed when the node saw the set. */
	assert_int_equal(fx->node.pending_seen, 1);
	assert_int_equal(fx->node.pending_missing, 0);
	assert_int_equal(fx->node.gets, 1);	/* read before the set */
	assert_int_equal(fx->node.sets, 1);
	/* Applied with what the node says is in effect. */
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, 12));
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE "
	    "done_ts IS NOT NULL AND actuator = 'node' AND error IS NULL"), 1);
	assert_true(believed(fx, "k") == 12);
	/* The next read-back agrees: no manual mark. */
	fake_now += S;
	assert_int_equal(tick_k(fx, 6), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 12, 6));
}

/*
 * A failed action backs off like a cooldown, doubled for each failure in
 * a row: a knob with cooldown_s 60 fails once in 15 s of proposals, not
 * at every tick.  A success ends the streak.
 */
static void
t_actuator_failure(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KC("60", "") };
	int		 i;

	fx_start(fx, &o);
	fx->node.fail_set = 1;
	assert_int_equal(tick_k(fx, 16), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND status = 'failed' AND error LIKE '%%node says no%%'",
	    (long long)last_id(fx)), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'actuator_fault' AND source = 'k' AND message LIKE "
	    "'%%node says no%%'"), 1);
	assert_true(believed(fx, "k") == 8);
	/* A proposal every 200 ms for 15 s: no second try. */
	for (i = 0; i < 75; i++) {
		fake_now += S / 5;
		assert_int_equal(tick_k(fx, 16), 0);
	}
	assert_int_equal(refusals(fx, "alpha", "k", "failure_backoff"), 75);
	assert_int_equal(fx->node.sets, 1);
	/* 60 s after it: the second try, which fails too: now 120 s. */
	fake_now += 45 * S;
	assert_int_equal(tick_k(fx, 16), 1);
	assert_int_equal(fx->node.sets, 2);
	/* Restarted, the governor remembers the streak. */
	fx_restart(fx);
	fake_now += 119 * S;
	assert_int_equal(tick_k(fx, 16), 0);
	assert_int_equal(fx->node.sets, 2);
	assert_int_equal(refusals(fx, "alpha", "k", "failure_backoff"), 76);
	fx->node.fail_set = 0;
	fake_now += 2 * S;
	assert_int_equal(tick_k(fx, 16), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, 16));
	/* A success ends the streak: the next wait is the cooldown. */
	fake_now += 61 * S;
	fx->node.fail_set = 1;
	assert_int_equal(tick_k(fx, 32), 1);
	fake_now += 61 * S;
	fx->node.fail_set = 0;
	assert_int_equal(tick_k(fx, 32), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 16, 32));
}

/*
 * Rule 8: verification.
 */

static int64_t
apply_expecting(struct fx *fx, double value, uint64_t count)
{
	struct prop	pr = { .value = value, .metric = "net.rtt_ms",
			    .baseline = 100, .count = count };

	propose(fx, &pr);
	assert_int_equal(decide(fx), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, value));
	return last_id(fx);
}

#define KNOB_VERIFY	KNOB_KCV("0", "5", "")

static void
t_verify_kept(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_VERIFY };
	int64_t		 id;

	fx_start(fx, &o);
	id = apply_expecting(fx, 16, 50);
	/* Verifying: the knob waits. */
	fake_now += 2 * S;
	feed(fx, 80, 30);
	assert_int_equal(tick_k(fx, 32), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "verifying"), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome IS NULL", (long long)id), 1);
	fake_now += 4 * S;
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'kept'", (long long)id), 1);
	assert_int_equal(nactions(fx), 1);
	assert_true(node_get(&fx->node, "k") == 16);
}

/*
 * A proposal in the tick where the knob's verification ends is judged
 * after the verification: the knob is free again, not "verifying".
 */
static void
t_verify_then_judge(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_VERIFY };
	int64_t		 id;

	fx_start(fx, &o);
	id = apply_expecting(fx, 16, 50);
	fake_now += 5 * S;
	feed(fx, 80, 30);
	assert_int_equal(tick_k(fx, 32), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'kept'", (long long)id), 1);
	assert_int_equal(refusals(fx, "alpha", "k", "verifying"), 0);
	assert_int_equal(nactions(fx), 2);
}

static void
t_verify_rollback(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KCV("10", "5", "") };
	int64_t		 id, rb;

	fx_start(fx, &o);
	id = apply_expecting(fx, 16, 50);
	fake_now += 6 * S;
	feed(fx, 95, 30);	/* better, but not by 10 % */
	decide(fx);
	rb = last_id(fx);
	assert_true(rb == id + 1);
	assert_true(row_is(fx, rb, "rollback", "applied", 16, 8));
	assert_int_equal(q_int(fx, "SELECT parent_id FROM actions WHERE id = "
	    "%lld", (long long)rb), id);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'rolled_back'", (long long)id), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND reason LIKE 'rollback of action %lld%%' AND evidence "
	    "LIKE '%%\"after\":9%%'", (long long)rb, (long long)id), 1);
	assert_true(node_get(&fx->node, "k") == 8);
	assert_true(believed(fx, "k") == 8);
	/* Everyone waits for the knob's cooldown after the rollback. */
	fake_now += 9 * S;
	assert_int_equal(tick_k(fx, 16), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "cooldown"), 1);
	propose(fx, &(struct prop){ .strategy = "beta", .value = 4 });
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "beta", "k", "cooldown"), 1);
	/*
	 * Alpha, whose change was rolled back, is held for twice the
	 * cooldown (20 s); beta, which did nothing wrong, is not.
	 */
	fake_now += 6 * S;
	assert_int_equal(tick_k(fx, 16), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "rollback_hold"), 1);
	propose(fx, &(struct prop){ .strategy = "beta", .value = 4 });
	assert_int_equal(decide(fx), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, 4));
	assert_true(node_get(&fx->node, "k") == 4);
}

/*
 * A rollback the node refuses is tried again after 10 s, 20 s, ... with
 * the knob held meanwhile; the first one that works settles the action.
 */
static void
t_rollback_retried(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KCV("10", "5", "") };
	int64_t		 id, rb;

	fx_start(fx, &o);
	id = apply_expecting(fx, 16, 50);
	fake_now += 6 * S;
	feed(fx, 150, 30);	/* worse */
	fx->node.fail_set = 1;
	decide(fx);
	rb = last_id(fx);
	assert_true(row_is(fx, rb, "rollback", "failed", 16, 8));
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome IS NULL", (long long)id), 1);
	assert_true(node_get(&fx->node, "k") == 16);
	/* Held: no other change while the rollback waits. */
	fake_now += 5 * S;
	assert_int_equal(tick_k(fx, 32), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "verifying"), 1);
	/* Second try, 10 s after the first, fails too; the third works. */
	fake_now += 5 * S;
	decide(fx);
	assert_true(last_id(fx) == rb + 1);
	assert_true(row_is(fx, rb + 1, "rollback", "failed", 16, 8));
	fx->node.fail_set = 0;
	fake_now += 19 * S;
	decide(fx);
	assert_true(last_id(fx) == rb + 1);
	fake_now += 1 * S;
	decide(fx);
	assert_true(row_is(fx, rb + 2, "rollback", "applied", 16, 8));
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND parent_id = %lld AND reason LIKE '%%try 3%%'",
	    (long long)(rb + 2), (long long)id), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'rolled_back'", (long long)id), 1);
	assert_true(node_get(&fx->node, "k") == 8);
	assert_true(believed(fx, "k") == 8);
}

/* After ROLLBACK_TRIES refusals the governor says so and lets go. */
static void
t_rollback_gives_up(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KCV("10", "5", "") };
	int64_t		 id;
	int		 i;

	fx_start(fx, &o);
	id = apply_expecting(fx, 16, 50);
	fake_now += 6 * S;
	feed(fx, 150, 30);
	fx->node.fail_set = 1;
	decide(fx);
	for (i = 0; i < 10; i++) {
		fake_now += 400 * S;
		decide(fx);
	}
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE "
	    "kind = 'rollback' AND status = 'failed' AND parent_id = %lld",
	    (long long)id), 6);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'rollback_failed' AND source = 'k' AND message LIKE "
	    "'%%after 6 tries%%'"), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome IS NULL", (long long)id), 1);
	assert_true(node_get(&fx->node, "k") == 16);
}

static void
t_verify_unverified(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_VERIFY };
	int64_t		 id;

	fx_start(fx, &o);
	/* Too few samples after the change. */
	id = apply_expecting(fx, 16, 50);
	fake_now += 6 * S;
	feed(fx, 10, 5);
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'unverified'", (long long)id), 1);
	assert_int_equal(nactions(fx), 1);
	/* Too few samples behind the baseline: no baseline at all. */
	fake_now += 20 * S;
	{
		struct prop pr = { .value = 32, .metric = "net.rtt_ms",
		    .baseline = 100, .count = 5 };

		propose(fx, &pr);
	}
	assert_int_equal(decide(fx), 1);
	id = last_id(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND status = 'applied' AND baseline IS NULL AND verify_s = "
	    "5", (long long)id), 1);
	fake_now += 6 * S;
	feed(fx, 500, 30);	/* would be a rollback with a baseline */
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'unverified'", (long long)id), 1);
	assert_true(node_get(&fx->node, "k") == 32);
}

/*
 * Decisions fold.
 */

static void
t_folding(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { 0 };
	int		 i;

	fx_start(fx, &o);
	fx->d.paused = 1;
	for (i = 0; i < 3; i++) {
		fake_now += S;
		assert_int_equal(tick_k(fx, 16), 0);
	}
	assert_int_equal(q_int(fx, "SELECT count(*) FROM decisions"), 1);
	assert_int_equal(refusals(fx, "alpha", "k", "paused"), 3);
	assert_int_equal(nactions(fx), 0);
}

/*
 * Restart: state rebuilt from the audit log.
 */

static void
t_restart_cooldown(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KC("60", "") };

	fx_start(fx, &o);
	assert_int_equal(tick_k(fx, 16), 1);
	fx_restart(fx);
	assert_true(believed(fx, "k") == 16);
	fake_now += 10 * S;
	assert_int_equal(tick_k(fx, 32), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "cooldown"), 1);
	assert_int_equal(fx->node.sets, 1);
	fake_now += 51 * S;
	assert_int_equal(tick_k(fx, 32), 1);
	/* Believed 16, reads 16: not taken for a manual change. */
	assert_true(row_is(fx, last_id(fx), "set", "applied", 16, 32));
}

static void
t_restart_rollback_cooldown(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KCV("10", "5", "") };

	fx_start(fx, &o);
	apply_expecting(fx, 16, 50);
	fake_now += 6 * S;
	feed(fx, 150, 30);
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE "
	    "kind = 'rollback' AND status = 'applied'"), 1);
	fx_restart(fx);
	/* Still held for 20 s after the restart. */
	fake_now += 15 * S;
	assert_int_equal(tick_k(fx, 16), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "rollback_hold"), 1);
	fake_now += 6 * S;
	assert_int_equal(tick_k(fx, 16), 1);
}

static void
t_restart_verify(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_VERIFY };
	int64_t		 id;

	fx_start(fx, &o);
	id = apply_expecting(fx, 16, 50);
	fake_now += S;
	fx_restart(fx);
	/* Not due yet: the restart keeps the due time. */
	fake_now += S;
	assert_int_equal(tick_k(fx, 32), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "verifying"), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome IS NULL", (long long)id), 1);
	fake_now += 5 * S;
	feed(fx, 50, 30);
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'kept'", (long long)id), 1);
}

/* A pending row as a crash leaves it. */
static int64_t
crash_row(struct fx *fx, double old_value, double new_value)
{
	struct audit_action	row;

	memset(&row, 0, sizeof(row));
	row.strategy = "alpha";
	row.kind = AUDIT_SET;
	row.knob = "k";
	row.old_value = old_value;
	row.new_value = new_value;
	row.status = AUDIT_PENDING;
	row.reason = "before the crash";
	row.actuator = "node";
	row.baseline = NAN;
	assert_int_equal(audit_action_begin(fx->d.audit, &row, NULL, NULL),
	    0);
	assert_int_equal(audit_sync(fx->d.audit), 0);
	return last_id(fx);
}

static void
t_restart_reconcile(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KC("60", "") };
	int64_t		 held, lost;

	fx_open(fx, &o);
	held = crash_row(fx, 8, 16);
	node_put(&fx->node, "k", 16);	/* the set got through */
	assert_int_equal(governor_start(&fx->d), 0);
	pump(fx);
	assert_true(row_is(fx, held, "set", "applied", 8, 16));
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'reconcile' AND message LIKE 'action %lld %%'",
	    (long long)held), 1);
	assert_true(believed(fx, "k") == 16);
	/* It counts as an action: the knob cools down. */
	fake_now += 10 * S;
	assert_int_equal(tick_k(fx, 32), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "cooldown"), 1);

	/* A set that did not get through. */
	lost = crash_row(fx, 16, 32);
	fx_restart(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND status = 'failed' AND error LIKE '%%reads 16%%'",
	    (long long)lost), 1);
	assert_true(believed(fx, "k") == 16);
	fake_now += 61 * S;
	assert_int_equal(tick_k(fx, 32), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 16, 32));
}

static void
t_restart_in_flight(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KC("60", "") };
	int64_t		 id;

	fx_start(fx, &o);
	/* Stopped while the set is in flight: the node applied it. */
	fx->node.hold_set = 1;
	propose(fx, &(struct prop){ .value = 16 });
	assert_int_equal(governor_decide(fx->d.governor, fake_now), 1);
	pump_until(fx, &fx->node.sets, 1);
	id = last_id(fx);
	assert_int_equal(governor_in_flight(fx->d.governor), 1);
	governor_down(fx);
	assert_true(row_is(fx, id, "set", "pending", 8, 16));
	fx->node.hold_set = 0;
	assert_int_equal(governor_start(&fx->d), 0);
	pump(fx);
	assert_true(row_is(fx, id, "set", "applied", 8, 16));
	/* Stopped before the pending row was even committed. */
	fake_now += 61 * S;
	propose(fx, &(struct prop){ .value = 32 });
	assert_int_equal(governor_decide(fx->d.governor, fake_now), 1);
	governor_down(fx);
	assert_int_equal(fx->node.sets, 1);
	assert_int_equal(governor_start(&fx->d), 0);
	pump(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND status = 'failed'", (long long)id + 1), 1);
	assert_true(node_get(&fx->node, "k") == 16);
}

static void
t_restart_budget(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOBS_ABC, .budget = 2 };
	struct prop	 a = { .knob = "a", .value = 16 };
	struct prop	 b = { .knob = "b", .value = 16 };
	struct prop	 c = { .knob = "c", .value = 16 };

	abc_nodes(fx);
	fx_start(fx, &o);
	propose(fx, &a);
	assert_int_equal(decide(fx), 1);
	propose(fx, &b);
	assert_int_equal(decide(fx), 1);
	fx_restart(fx);
	fake_now += 60 * S;
	propose(fx, &c);
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "alpha", "c", "budget"), 1);
	assert_true(node_get(&fx->node, "c") == 8);
}

/*
 * Reload: refused while anything is in flight.
 */

static void
t_reload(void **state)
{
	struct fx		*fx = *state;
	struct opts		 o = { .knobs = KNOBS_ABC };
	struct mt_config	*nc;

	abc_nodes(fx);
	fx_start(fx, &o);
	/* An action waiting for its pending row. */
	propose(fx, &(struct prop){ .knob = "a", .value = 16 });
	assert_int_equal(governor_decide(fx->d.governor, fake_now), 1);
	nc = fx_config(fx, &o);
	assert_int_equal(governor_reload(&fx->d, nc), -1);
	pump(fx);
	/* Idle: the knob table is rebuilt, state kept. */
	assert_int_equal(governor_reload(&fx->d, nc), 0);
	config_free(fx->d.conf);
	fx->d.conf = nc;
	assert_true(believed(fx, "a") == 16);
	assert_true(believed(fx, "c") == 8);
	fake_now += S;
	propose(fx, &(struct prop){ .knob = "c", .value = 16 });
	assert_int_equal(decide(fx), 1);
	assert_true(node_get(&fx->node, "c") == 16);
}

static void
t_reload_reading(void **state)
{
	struct fx		*fx = *state;
	struct opts		 o = { 0 };
	struct mt_config	*nc;
	int64_t			 id;

	/* A read of a row left pending is in flight at the reload. */
	fx_open(fx, &o);
	id = crash_row(fx, 8, 16);
	fx->node.hold_get = 1;
	assert_int_equal(governor_start(&fx->d), 0);
	pump_until(fx, &fx->node.gets, 1);
	assert_int_equal(governor_in_flight(fx->d.governor), 1);
	nc = fx_config(fx, &o);
	assert_int_equal(governor_reload(&fx->d, nc), -1);
	config_free(nc);
	/* Stopping cancels it; the row waits for the next start. */
	governor_down(fx);
	assert_true(row_is(fx, id, "set", "pending", 8, 16));
}


/*
 * Issue 15: the governor's promises, one test each.
 */

/* Add n samples of value to series name (type: STATSD_TIMER, ...). */
static void
feed_series(struct fx *fx, const char *name, enum statsd_type type,
    double value, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		assert_int_equal(metrics_add(fx->d.metrics, name, type, value,
		    fake_now), 0);
}

/* A proposal of any kind, with an expectation (metric NULL: none). */
static void
propose_x(struct fx *fx, const char *strategy, int kind, const char *knob,
    double value, const char *metric, const char *stat, int dir)
{
	struct mt_action	a = MT_ACTION_INIT;
	struct gov_proposal	gp;

	a.kind = kind;
	a.knob = knob;
	a.value = value;
	a.reason = "test";
	a.expect_metric = metric;
	a.expect_stat = stat;
	a.expect_dir = dir;
	memset(&gp, 0, sizeof(gp));
	gp.strategy = strategy;
	gp.priority = strcmp(strategy, "beta") == 0 ? 10 : 0;
	gp.action = &a;
	gp.baseline = NAN;
	governor_propose(fx->d.governor, &gp, fake_now);
}

static void
fire(struct fx *fx, const char *strategy, const char *name, double arg)
{
	propose_x(fx, strategy, MT_ACT_TRIGGER, name, arg, NULL, NULL, 0);
}

#define TRIG_TRIM	"\"trim\": { \"actuator\": \"node\", \"min\": 0, " \
	"\"max\": 1, \"cooldown_s\": 300 }"

/* Triggers are declared; each name is a knob or a trigger, not both. */
static void
t_trigger_declared(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .triggers = TRIG_TRIM };

	node_put(&fx->node, "trim", 0);
	node_put(&fx->node, "gc", 0);
	fx_start(fx, &o);
	fire(fx, "alpha", "gc", 1);		/* not declared */
	fire(fx, "alpha", "k", 1);		/* a knob, not a trigger */
	propose_x(fx, "alpha", MT_ACT_SET, "trim", 1, NULL, NULL, 0);
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "alpha", "gc", "unknown_trigger"), 1);
	assert_int_equal(refusals(fx, "alpha", "k", "not_a_trigger"), 1);
	assert_int_equal(refusals(fx, "alpha", "trim", "not_a_knob"), 1);
	assert_int_equal(nactions(fx), 0);
	assert_int_equal(fx->node.gets + fx->node.sets, 0);
	/* The declared one fires: no read, one set, no verification. */
	fire(fx, "alpha", "trim", 1);
	assert_int_equal(decide(fx), 1);
	assert_true(q_int(fx, "SELECT count(*) FROM actions WHERE id = %lld "
	    "AND kind = 'trigger' AND status = 'applied' AND new_value = 1 "
	    "AND old_value IS NULL AND verify_s IS NULL",
	    (long long)last_id(fx)) == 1);
	assert_int_equal(fx->node.sets, 1);
	assert_int_equal(fx->node.gets, 0);
	assert_true(node_get(&fx->node, "trim") == 1);
	/* A trigger never changes what the governor believes of a knob. */
	assert_true(believed(fx, "k") == 8);
	/* The host sees it with its range; its value is the last argument. */
	{
		double v, lo, hi;

		assert_int_equal(governor_knob(fx->d.governor, "trim", &v,
		    &lo, &hi), 0);
		assert_true(v == 1 && lo == 0 && hi == 1);
	}
}

/* An argument out of range is refused, never passed on nor clamped. */
static void
t_trigger_range(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .triggers = TRIG_TRIM };
	int		 i;

	node_put(&fx->node, "trim", 0);
	fx_start(fx, &o);
	for (i = 0; i < 5; i++) {
		fake_now += S;
		fire(fx, "alpha", "trim", 1e9);
		fire(fx, "beta", "trim", -1);
		assert_int_equal(decide(fx), 0);
	}
	assert_int_equal(refusals(fx, "alpha", "trim", "out_of_range"), 5);
	assert_int_equal(refusals(fx, "beta", "trim", "out_of_range"), 5);
	assert_int_equal(nactions(fx), 0);
	assert_int_equal(fx->node.sets, 0);
	assert_true(node_get(&fx->node, "trim") == 0);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE "
	    "new_value > 1 OR new_value < 0"), 0);
}

/* A trigger has its cooldown and counts against the budget. */
static void
t_trigger_cooldown_budget(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .triggers = TRIG_TRIM, .budget = 2 };

	node_put(&fx->node, "trim", 0);
	fx_start(fx, &o);
	fire(fx, "alpha", "trim", 1);
	assert_int_equal(decide(fx), 1);
	fake_now += 299 * S;
	fire(fx, "alpha", "trim", 0.5);
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "alpha", "trim", "cooldown"), 1);
	assert_int_equal(fx->node.sets, 1);
	/* One knob change, and the budget of two is spent. */
	assert_int_equal(tick_k(fx, 16), 1);
	fake_now += 2 * S;
	fire(fx, "alpha", "trim", 0.5);
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "alpha", "trim", "budget"), 1);
	assert_int_equal(fx->node.sets, 2);
}

/* The guard metric net.rtt_ms p95 may rise 10 %; x.score should rise. */
#define GUARD_RTT	"\"guards\": [ { \"metric\": \"net.rtt_ms\", " \
	"\"stat\": \"p95\", \"max_rise_pct\": 10 } ]"

/*
 * A guard that got worse beyond its tolerance rolls the change back even
 * when the strategy's own metric improved; the verdict says the guard
 * decided.
 */
static void
t_verify_guard_wins(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_STRICT("11", ""),
			    .governor = ", " GUARD_RTT };
	int64_t		 id;

	fx_start(fx, &o);
	feed(fx, 100, 50);
	feed_series(fx, "x.score", STATSD_TIMER, 10, 50);
	propose_x(fx, "alpha", MT_ACT_SET, "k", 16, "x.score", "p95", 1);
	assert_int_equal(decide(fx), 1);
	id = last_id(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND json_extract(verdict, '$.guards[0].baseline') = 100 "
	    "AND json_extract(verdict, '$.guards[0].count_before') = 50",
	    (long long)id), 1);
	fake_now += 11 * S;
	feed(fx, 130, 50);		/* 30 % worse */
	feed_series(fx, "x.score", STATSD_TIMER, 20, 50);	/* better */
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'rolled_back' AND json_extract(verdict, "
	    "'$.decided_by') = 'guard' AND json_extract(verdict, "
	    "'$.expectation.result') = 'improved' AND json_extract(verdict, "
	    "'$.guards[0].result') = 'worse' AND json_extract(verdict, "
	    "'$.guards[0].after') = 130", (long long)id), 1);
	assert_true(row_is(fx, last_id(fx), "rollback", "applied", 16, 8));
	assert_true(node_get(&fx->node, "k") == 8);
}

/*
 * An expectation that cannot be measured (none, a counter's p95, a
 * series without data) leaves the guards to judge: kept when they held.
 * A knob's own guard replaces the governor's on the same statistic.
 */
static void
t_verify_guards_alone(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_STRICT("11", ", \"guards\": [ { "
			    "\"metric\": \"net.rtt_ms\", \"stat\": \"p95\", "
			    "\"max_rise_pct\": 50 } ]"),
			    .governor = ", " GUARD_RTT };
	int64_t		 id;

	fx_start(fx, &o);
	feed(fx, 100, 50);
	feed_series(fx, "x.ops", STATSD_COUNTER, 1, 50);
	propose_x(fx, "alpha", MT_ACT_SET, "k", 16, "x.ops", "p95", -1);
	assert_int_equal(decide(fx), 1);
	id = last_id(fx);
	fake_now += 11 * S;
	feed(fx, 130, 50);	/* +30 %: over the governor's 10, under 50 */
	feed_series(fx, "x.ops", STATSD_COUNTER, 1, 50);
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'kept' AND json_extract(verdict, "
	    "'$.decided_by') = 'guards' AND json_extract(verdict, "
	    "'$.expectation.why') = 'no such statistic for this series' AND "
	    "json_array_length(verdict, '$.guards') = 1 AND json_extract("
	    "verdict, '$.guards[0].max_rise_pct') = 50",
	    (long long)id), 1);
	assert_int_equal(nactions(fx), 1);
	assert_true(node_get(&fx->node, "k") == 16);
}

/*
 * A change nothing can judge (no expectation, no guard with data) is
 * rolled back, unless the knob keeps unjudged changes (unverified).
 */
static void
t_verify_unjudged(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_STRICT("11", ""),
			    .governor = ", " GUARD_RTT };
	int64_t		 id;

	fx_start(fx, &o);
	propose_x(fx, "alpha", MT_ACT_SET, "k", 16, "no.such.metric", "p95",
	    -1);
	assert_int_equal(decide(fx), 1);
	id = last_id(fx);
	fake_now += 11 * S;
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'rolled_back' AND json_extract(verdict, "
	    "'$.decided_by') = 'nothing' AND json_extract(verdict, "
	    "'$.expectation.why') = 'no such series'",
	    (long long)id), 1);
	assert_true(row_is(fx, last_id(fx), "rollback", "applied", 16, 8));
	assert_true(node_get(&fx->node, "k") == 8);
}

static void
t_verify_keep_unjudged(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_STRICT("11",
			    ", \"keep_unjudged\": true") };
	int64_t		 id;

	fx_start(fx, &o);
	propose_x(fx, "alpha", MT_ACT_SET, "k", 16, NULL, NULL, 0);
	assert_int_equal(decide(fx), 1);
	id = last_id(fx);
	fake_now += 11 * S;
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'unverified' AND json_extract(verdict, "
	    "'$.decided_by') = 'nothing'", (long long)id), 1);
	assert_int_equal(nactions(fx), 1);
	assert_true(node_get(&fx->node, "k") == 16);
}

/*
 * A value meshtune did not set, seen on read-back, marks the knob manual
 * (an events row with both values), ends its verification and keeps
 * meshtune's hands off it until resumed.
 */
static void
t_readback_manual(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_STRICT("11", "") };
	int64_t		 id;
	cJSON		*doc, *k;

	fx_start(fx, &o);
	/* Nothing changed: a read-back is quiet. */
	governor_readback(fx->d.governor);
	pump_until(fx, &fx->node.gets, 1);
	pump(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'manual_change'"), 0);
	propose_x(fx, "alpha", MT_ACT_SET, "k", 16, NULL, NULL, 0);
	assert_int_equal(decide(fx), 1);
	id = last_id(fx);
	node_put(&fx->node, "k", 32);	/* the operator, at the node */
	fake_now += S;
	governor_readback(fx->d.governor);
	pump_until(fx, &fx->node.gets, 3);
	pump(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'manual_change' AND source = 'k' AND json_extract(detail, "
	    "'$.old') = 16 AND json_extract(detail, '$.new') = 32"), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'unverified' AND json_extract(verdict, "
	    "'$.decided_by') = 'manual'", (long long)id), 1);
	assert_true(believed(fx, "k") == 32);
	doc = governor_knobs_json(fx->d.governor);
	k = cJSON_GetArrayItem(doc, 0);
	assert_string_equal(cJSON_GetObjectItem(k, "state")->valuestring,
	    "manual");
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(k, "manual"),
	    "new")->valuedouble == 32);
	cJSON_Delete(doc);
	/* Hands off: no verification rolls it back, no proposal moves it. */
	fake_now += 20 * S;
	propose_x(fx, "beta", MT_ACT_SET, "k", 4, NULL, NULL, 0);
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "beta", "k", "manual"), 1);
	assert_int_equal(fx->node.sets, 1);
	assert_true(node_get(&fx->node, "k") == 32);
	/* Another read-back records nothing more. */
	governor_readback(fx->d.governor);
	pump_until(fx, &fx->node.gets, 4);
	pump(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'manual_change'"), 1);
	assert_int_equal(governor_resume(fx->d.governor, "k"), 0);
	propose_x(fx, "beta", MT_ACT_SET, "k", 16, NULL, NULL, 0);
	assert_int_equal(decide(fx), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 32, 16));
}

/*
 * Refusals fold per (strategy, reason): at most refused_names_max knob
 * names have a row, the rest count together under "*", across restarts.
 */
static void
t_refusal_names_cap(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .governor = ", \"refused_names_max\": 5" };
	char		 name[32];
	int		 i;

	fx_start(fx, &o);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "made.up.%d", i % 40);
		propose_x(fx, "alpha", MT_ACT_SET, name, 1, NULL, NULL, 0);
		if (i % 16 == 15)
			decide(fx);
	}
	decide(fx);
	fx_restart(fx);
	propose_x(fx, "alpha", MT_ACT_SET, "made.up.new", 1, NULL, NULL, 0);
	propose_x(fx, "alpha", MT_ACT_SET, "made.up.0", 1, NULL, NULL, 0);
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM decisions WHERE "
	    "strategy = 'alpha' AND reason = 'unknown_knob'"), 6);
	assert_int_equal(q_int(fx, "SELECT sum(count) FROM decisions WHERE "
	    "strategy = 'alpha' AND reason = 'unknown_knob'"), 102);
	assert_int_equal(refusals(fx, "alpha", "made.up.0", "unknown_knob"),
	    4);
	assert_int_equal(refusals(fx, "alpha", "*", "unknown_knob"),
	    102 - 4 - 3 * 4);
	/* Another strategy has its own five. */
	propose_x(fx, "beta", MT_ACT_SET, "made.up.39", 1, NULL, NULL, 0);
	decide(fx);
	assert_int_equal(refusals(fx, "beta", "made.up.39", "unknown_knob"),
	    1);
}

/*
 * Advise mode: one dry_run row per knob and direction per cooldown, the
 * repeats counted; an hour of a proposal every 5 s is 12 rows, not 720.
 */
static void
t_advise_fold(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KC("300", "") };
	struct prop	 up = { .value = 16, .advise = 1 };
	struct prop	 down = { .value = 4, .advise = 1 };
	int		 i;

	fx_start(fx, &o);
	for (i = 0; i < 720; i++) {
		propose(fx, &up);
		decide(fx);
		fake_now += 5 * S;
	}
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE "
	    "status = 'dry_run'"), 12);
	assert_int_equal(refusals(fx, "alpha", "k", "dry_run"), 720 - 12);
	/* The other direction is news: a row at once. */
	propose(fx, &down);
	assert_int_equal(decide(fx), 1);
	assert_true(row_is(fx, last_id(fx), "set", "dry_run", 8, 4));
	assert_int_equal(fx->node.gets + fx->node.sets, 0);
}

/* Pause and resume are events, once per change of state. */
static void
t_pause_events(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { 0 };

	fx_start(fx, &o);
	governor_pause(&fx->d, 1, "api");
	governor_pause(&fx->d, 1, "api");
	assert_int_equal(tick_k(fx, 16), 0);
	governor_pause(&fx->d, 0, "api");
	governor_pause(&fx->d, 0, "api");
	assert_int_equal(audit_sync(fx->d.audit), 0);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'pause' AND source = 'api'"), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'resume' AND source = 'api' AND id > (SELECT id FROM events "
	    "WHERE kind = 'pause')"), 1);
	assert_int_equal(refusals(fx, "alpha", "k", "paused"), 1);
	assert_int_equal(tick_k(fx, 16), 1);
}

/*
 * Rollbacks count toward the flap freeze of the strategy whose changes
 * they undid, not of the knob: after flap_reversals of them that
 * strategy is frozen off the knob, another is not; /v1/knobs says who.
 */
static void
t_rollback_freeze_whose(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_STRICT("1", ""), .flap_n = 2,
			    .flap_w = 3600 };
	cJSON		*doc, *k, *h;
	int		 i;

	fx_start(fx, &o);
	for (i = 0; i < 2; i++) {
		propose_x(fx, "alpha", MT_ACT_SET, "k", 16, NULL, NULL, 0);
		assert_int_equal(decide(fx), 1);
		fake_now += 2 * S;
		decide(fx);	/* unjudged: rolled back */
		assert_true(row_is(fx, last_id(fx), "rollback", "applied", 16,
		    8));
		fake_now += 200 * S;
	}
	assert_int_equal(q_int(fx, "SELECT count(*) FROM events WHERE kind = "
	    "'flap' AND source = 'k' AND message LIKE '%%strategy alpha%%'"),
	    1);
	propose_x(fx, "alpha", MT_ACT_SET, "k", 16, NULL, NULL, 0);
	assert_int_equal(decide(fx), 0);
	assert_int_equal(refusals(fx, "alpha", "k", "flapping"), 1);
	doc = governor_knobs_json(fx->d.governor);
	k = cJSON_GetArrayItem(doc, 0);
	h = cJSON_GetArrayItem(cJSON_GetObjectItem(k, "holds"), 0);
	assert_non_null(h);
	assert_string_equal(cJSON_GetObjectItem(h, "strategy")->valuestring,
	    "alpha");
	assert_string_equal(cJSON_GetObjectItem(h, "cause")->valuestring,
	    "flapping");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(k, "frozen")));
	cJSON_Delete(doc);
	/* Beta's change is judged on its own and moves the knob. */
	propose_x(fx, "beta", MT_ACT_SET, "k", 4, NULL, NULL, 0);
	assert_int_equal(decide(fx), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, 4));
	doc = governor_knobs_json(fx->d.governor);
	k = cJSON_GetArrayItem(doc, 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(k,
	    "cooldown"), "by")->valuestring, "beta");
	cJSON_Delete(doc);
}

/* The guards' baselines survive a restart: the verdict column keeps them. */
static void
t_restart_guards(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_STRICT("11", ""),
			    .governor = ", " GUARD_RTT };
	int64_t		 id;

	fx_start(fx, &o);
	feed(fx, 100, 50);
	propose_x(fx, "alpha", MT_ACT_SET, "k", 16, NULL, NULL, 0);
	assert_int_equal(decide(fx), 1);
	id = last_id(fx);
	fx_restart(fx);
	fake_now += 11 * S;
	feed(fx, 200, 50);
	decide(fx);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM actions WHERE id = "
	    "%lld AND outcome = 'rolled_back' AND json_extract(verdict, "
	    "'$.decided_by') = 'guard' AND json_extract(verdict, "
	    "'$.guards[0].baseline') = 100", (long long)id), 1);
	assert_true(node_get(&fx->node, "k") == 8);
}

/*
 * A proposal refused for what it is (out of range, not the owner's)
 * outranks no other: a strategy flooding bad proposals blocks nothing.
 */
static void
t_conflict_contenders(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_K(", \"owner\": \"alpha\""),
			    .triggers = TRIG_TRIM };

	node_put(&fx->node, "trim", 0);
	fx_start(fx, &o);
	fire(fx, "alpha", "trim", 1e9);
	fire(fx, "alpha", "trim", 1);
	propose_x(fx, "beta", MT_ACT_SET, "k", 32, NULL, NULL, 0);
	propose_x(fx, "alpha", MT_ACT_SET, "k", 4, NULL, NULL, 0);
	assert_int_equal(decide(fx), 2);
	assert_int_equal(refusals(fx, "alpha", "trim", "out_of_range"), 1);
	assert_int_equal(refusals(fx, "beta", "k", "not_owner"), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM decisions WHERE "
	    "reason = 'conflict'"), 0);
	assert_true(node_get(&fx->node, "trim") == 1);
	assert_true(node_get(&fx->node, "k") == 4);
}

/*
 * A higher-priority change that was rolled back is undone already: a
 * lower priority may then move the knob either way.
 */
static void
t_rollback_not_undone(void **state)
{
	struct fx	*fx = *state;
	struct opts	 o = { .knobs = KNOB_KCV("10", "5", ""),
			    .flap_w = 600 };

	fx_start(fx, &o);
	propose(fx, &(struct prop){ .strategy = "beta", .value = 16,
	    .metric = "net.rtt_ms", .baseline = 100, .count = 50 });
	assert_int_equal(decide(fx), 1);
	fake_now += 6 * S;
	feed(fx, 150, 30);
	decide(fx);
	assert_true(row_is(fx, last_id(fx), "rollback", "applied", 16, 8));
	fake_now += 11 * S;
	assert_int_equal(tick_k(fx, 4), 1);
	assert_true(row_is(fx, last_id(fx), "set", "applied", 8, 4));
	assert_int_equal(refusals(fx, "alpha", "k", "undoes_higher_priority"),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(t_unknown_knob),
		T(t_manual),
		T(t_bounds),
		T(t_max_step),
		T(t_no_change),
		T(t_for_s),
		T(t_cooldown),
		T(t_budget),
		T(t_flap),
		T(t_owner),
		T(t_conflict),
		T(t_undoes_higher),
		T(t_paused),
		T(t_dry_run),
		T(t_advise),
		T(t_apply),
		T(t_actuator_failure),
		T(t_verify_kept),
		T(t_verify_then_judge),
		T(t_verify_rollback),
		T(t_rollback_retried),
		T(t_rollback_gives_up),
		T(t_verify_unverified),
		T(t_folding),
		T(t_restart_cooldown),
		T(t_restart_rollback_cooldown),
		T(t_restart_verify),
		T(t_restart_reconcile),
		T(t_restart_in_flight),
		T(t_restart_budget),
		T(t_reload),
		T(t_reload_reading),
		T(t_trigger_declared),
		T(t_trigger_range),
		T(t_trigger_cooldown_budget),
		T(t_verify_guard_wins),
		T(t_verify_guards_alone),
		T(t_verify_unjudged),
		T(t_verify_keep_unjudged),
		T(t_readback_manual),
		T(t_refusal_names_cap),
		T(t_advise_fold),
		T(t_pause_events),
		T(t_rollback_freeze_whose),
		T(t_restart_guards),
		T(t_conflict_contenders),
		T(t_rollback_not_undone),
#undef T
	};

	log_init(1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
