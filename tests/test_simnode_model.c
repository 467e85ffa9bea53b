/*
 * test_simnode_model.c -- the simulated node's model, pure: the same seed
 * gives the same samples, the knobs are refused out of bounds, and each
 * knob moves its metric the way meshtune-simnode(1) says, in both
 * directions, by more than the noise.
 */
#include <sys/types.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meshtuned.h"

#define SEED	42

static int	 sim_peers = 8;	/* --peers of simulate() */

/* Every value of one metric name over a run. */
struct series {
	const char	*name;
	double		*v;
	size_t		 n, cap;
	double		 sum;
};

struct run {
	struct series	 s[48];
	size_t		 ns;
	uint64_t	 hash;		/* FNV-1a of every sample */
	uint64_t	 samples;
	int		 bad;		/* a name, type or value out of line */
};

static void
collect(const char *name, const char *tag, const char *type, double value,
    void *arg)
{
	struct run	*r = arg;
	struct series	*s = NULL;
	const unsigned char *p;
	size_t		 i;
	char		 key[256];

	snprintf(key, sizeof(key), "%s|%s|%s|%.17g", name, type,
	    tag != NULL ? tag : "", value);
	for (p = (const unsigned char *)key; *p != '\0'; p++)
		r->hash = (r->hash ^ *p) * 0x100000001b3ULL;
	r->samples++;
	if (!isfinite(value) || value < 0 ||
	    (strcmp(type, "ms") != 0 && strcmp(type, "h") != 0 &&
	    strcmp(type, "g") != 0 && strcmp(type, "c") != 0) ||
	    (strstr(name, "_pct") != NULL && value > 100) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz_.") != strlen(name))
		r->bad++;
	for (i = 0; i < r->ns; i++)
		if (strcmp(r->s[i].name, name) == 0) {
			s = &r->s[i];
			break;
		}
	if (s == NULL) {
		assert_true(r->ns < nitems(r->s));
		s = &r->s[r->ns++];
		s->name = name;		/* the model's string constants */
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = xreallocarray(s->v, s->cap, sizeof(double));
	}
	s->v[s->n++] = value;
	s->sum += value;
}

static void
run_free(struct run *r)
{
	size_t	 i;

	for (i = 0; i < r->ns; i++)
		free(r->s[i].v);
	free(r);
}

/*
 * Run scenario with knobs set (name, value pairs, NULL-terminated) for
 * skip model seconds unrecorded, then secs recorded.
 */
static struct run *
simulate(const char *scenario, double skip, double secs, ...)
{
	struct simmodel	*m;
	struct run	*r = xcalloc(1, sizeof(*r));
	const char	*knob;
	char		 err[256];
	va_list		 ap;
	long		 i;

	r->hash = 0xcbf29ce484222325ULL;
	m = simmodel_new(scenario, SEED, sim_peers);
	assert_non_null(m);
	va_start(ap, secs);
	while ((knob = va_arg(ap, const char *)) != NULL) {
		double v = va_arg(ap, double);

		if (simmodel_knob_set(m, knob, v, err, sizeof(err)) != 0)
			fail_msg("%s", err);
	}
	va_end(ap);
	for (i = 0; i < (long)(skip * 1000 / SIMMODEL_STEP_MS); i++)
		simmodel_step(m, NULL, NULL);
	for (i = 0; i < (long)(secs * 1000 / SIMMODEL_STEP_MS); i++)
		simmodel_step(m, collect, r);
	simmodel_free(m);
	return r;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The exact q-quantile (nearest rank) of a metric; fails if absent. */
static double
quant(struct run *r, const char *name, double q)
{
	size_t	 i, k;

	for (i = 0; i < r->ns; i++)
		if (strcmp(r->s[i].name, name) == 0) {
			qsort(r->s[i].v, r->s[i].n, sizeof(double), cmp_double);
			k = (size_t)ceil(q * (double)r->s[i].n);
			return r->s[i].v[k > 0 ? k - 1 : 0];
		}
	fail_msg("no samples of %s", name);
	return NAN;
}

/* Sum of a metric (counters) per model second. */
static double
rate(struct run *r, const char *name, double secs)
{
	size_t	 i;

	for (i = 0; i < r->ns; i++)
		if (strcmp(r->s[i].name, name) == 0)
			return r->s[i].sum / secs;
	return 0;
}

static void
test_determinism(void **state)
{
	struct run	*a, *b, *c;

	(void)state;
	a = simulate("mixed", 0, 400, NULL);
	b = simulate("mixed", 0, 400, NULL);
	c = simulate("mixed", 0, 400, "net.batch_size", 16.0, NULL);
	assert_true(a->samples > 50000);
	assert_int_equal(a->samples, b->samples);
	assert_true(a->hash == b->hash);
	assert_true(a->hash != c->hash);
	assert_int_equal(a->bad, 0);
	run_free(a);
	run_free(b);
	run_free(c);
}

static void
test_seed_matters(void **state)
{
	struct simmodel	*m1, *m2;
	struct run	*a = xcalloc(1, sizeof(*a)), *b = xcalloc(1, sizeof(*b));
	int		 i;

	(void)state;
	m1 = simmodel_new("calm", 1, 8);
	m2 = simmodel_new("calm", 2, 8);
	for (i = 0; i < 100; i++) {
		simmodel_step(m1, collect, a);
		simmodel_step(m2, collect, b);
	}
	assert_true(a->hash != b->hash);
	simmodel_free(m1);
	simmodel_free(m2);
	run_free(a);
	run_free(b);
}

/*
 * Steps of scenario on seed SEED, recorded from step from on, with knob
 * set to value at step at (at < 0: never).
 */
static struct run *
steps_with(const char *scenario, long n, long from, const char *knob,
    double value, long at)
{
	struct simmodel	*m;
	struct run	*r = xcalloc(1, sizeof(*r));
	char		 err[256];
	long		 i;

	r->hash = 0xcbf29ce484222325ULL;
	m = simmodel_new(scenario, SEED, sim_peers);
	assert_non_null(m);
	for (i = 0; i < n; i++) {
		if (i == at && simmodel_knob_set(m, knob, value, err,
		    sizeof(err)) != 0)
			fail_msg("%s", err);
		simmodel_step(m, i >= from ? collect : NULL, r);
	}
	simmodel_free(m);
	return r;
}

/* The share of the samples of name that are equal in a and b. */
static double
same_share(const struct run *a, const struct run *b, const char *name)
{
	const struct series	*sa = NULL, *sb = NULL;
	size_t			 i, same = 0;

	for (i = 0; i < a->ns; i++)
		if (strcmp(a->s[i].name, name) == 0)
			sa = &a->s[i];
	for (i = 0; i < b->ns; i++)
		if (strcmp(b->s[i].name, name) == 0)
			sb = &b->s[i];
	assert_non_null(sa);
	assert_non_null(sb);
	assert_int_equal(sa->n, sb->n);
	for (i = 0; i < sa->n; i++)
		same += sa->v[i] == sb->v[i];
	return (double)same / (double)sa->n;
}

/*
 * Common random numbers: the chance events of a step do not depend on
 * what the knobs did before, so a knob of another part of the node
 * leaves the mesh's losses as they were, bit for bit, and a knob set one
 * step later than in another run changes little once both are set.
 * Before, one stream fed everything: a vote cache drawing for its hits
 * shifted every lost frame after it.
 */
static void
test_common_random(void **state)
{
	struct run	*a, *b, *c, *d;
	double		 sl, sp;

	(void)state;
	a = steps_with("peer-churn", 3600, 600, NULL, 0, -1);
	b = steps_with("peer-churn", 3600, 600, "consensus.vote_cache", 1,
	    300);
	assert_true(a->hash != b->hash);	/* the knob did something */
	assert_true(same_share(a, b, "mesh.loss_pct") == 1.0);
	assert_true(same_share(a, b, "mesh.peers") == 1.0);
	/* Retransmits set at step 700 or 701: the same losses later. */
	c = steps_with("peer-churn", 3600, 1400, "mesh.retransmits", 2, 700);
	d = steps_with("peer-churn", 3600, 1400, "mesh.retransmits", 2, 701);
	sl = same_share(c, d, "mesh.loss_pct");
	sp = same_share(c, d, "mesh.peers");
	print_message("# retransmits a step apart: same loss %.0f %%, peers "
	    "%.0f %%\n", 100 * sl, 100 * sp);
	assert_true(sl > 0.9);
	assert_true(sp == 1.0);
	run_free(a);
	run_free(b);
	run_free(c);
	run_free(d);
}

/* Every metric of STRATEGIES.md that the node sends shows up. */
static void
test_names(void **state)
{
	static const char *const names[] = {
		"net.rtt_ms", "net.msg_bytes", "net.send_queue",
		"net.batch_msgs", "net.tx_bytes", "net.rx_bytes",
		"net.retransmits", "net.compress_pct", "consensus.round_ms",
		"consensus.ops", "consensus.verify_ms", "consensus.pending",
		"consensus.batch_ops", "consensus.timeouts",
		"consensus.view_changes", "consensus.vote_cache_misses",
		"mem.heap_mb", "mem.cache_mb", "mem.frag_mb",
		"mem.cache_hit_pct", "mesh.hops", "mesh.peers", "mesh.loss_pct",
		"mesh.link_quality", "mesh.propagation_ms", "mesh.dup_pct",
	};
	struct run	*r;
	size_t		 i;

	(void)state;
	r = simulate("peer-churn", 60, 300, NULL);
	for (i = 0; i < nitems(names); i++)
		assert_false(isnan(quant(r, names[i], 0.5)));
	assert_int_equal(r->bad, 0);
	run_free(r);
}

static void
test_bounds(void **state)
{
	struct simmodel			*m;
	const struct simmodel_knob	*k;
	char				 err[256];
	double				 v;
	size_t				 i;

	(void)state;
	assert_null(simmodel_new("storm", 1, 8));
	assert_null(simmodel_new("calm", 1, 0));
	assert_null(simmodel_new("calm", 1, SIMMODEL_MAX_PEERS + 1));
	m = simmodel_new("calm", 1, 8);
	assert_int_equal(simmodel_knob_count(), 16);
	assert_null(simmodel_knob_at(simmodel_knob_count()));
	for (i = 0; i < simmodel_knob_count(); i++) {
		k = simmodel_knob_at(i);
		assert_int_equal(simmodel_knob_get(m, k->name, &v, err,
		    sizeof(err)), 0);
		assert_true(v == k->initial);
		if (k->trigger)
			continue;
		assert_int_equal(simmodel_knob_set(m, k->name, k->max + 1,
		    err, sizeof(err)), -1);
		assert_non_null(strstr(err, "out of bounds"));
		assert_int_equal(simmodel_knob_set(m, k->name, k->min - 1,
		    err, sizeof(err)), -1);
		assert_int_equal(simmodel_knob_set(m, k->name, NAN, err,
		    sizeof(err)), -1);
		/* Refused means unchanged. */
		assert_int_equal(simmodel_knob_get(m, k->name, &v, err,
		    sizeof(err)), 0);
		assert_true(v == k->initial);
		assert_int_equal(simmodel_knob_set(m, k->name, k->max, err,
		    sizeof(err)), 0);
		assert_int_equal(simmodel_knob_set(m, k->name, k->min, err,
		    sizeof(err)), 0);
	}
	/* The bounds of STRATEGIES.md. */
	assert_int_equal(simmodel_knob_set(m, "net.batch_size", 65, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "net.batch_size: 65 is out of bounds [1, 64]");
	assert_int_equal(simmodel_knob_set(m, "net.batch_size", 64, err,
	    sizeof(err)), 0);
	assert_int_equal(simmodel_knob_set(m, "net.batch_size", 12.5, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "whole number"));
	assert_int_equal(simmodel_knob_set(m, "mem.cache_max_mb", 51.2, err,
	    sizeof(err)), 0);
	assert_int_equal(simmodel_knob_set(m, "mesh.retransmits", 4, err,
	    sizeof(err)), -1);
	assert_int_equal(simmodel_knob_set(m, "consensus.round_timeout_ms",
	    199, err, sizeof(err)), -1);
	assert_int_equal(simmodel_knob_set(m, "mem.trim", 1, err,
	    sizeof(err)), 0);
	assert_int_equal(simmodel_knob_set(m, "no.such", 1, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "unknown knob \"no.such\"");
	assert_int_equal(simmodel_knob_get(m, "no.such", &v, err,
	    sizeof(err)), -1);
	simmodel_free(m);
}

/* Congestion: 8 is over target, 32 back under, 64 over-reserves. */
static void
test_congestion_batching(void **state)
{
	struct run	*init, *b16, *b32, *b64;
	double		 p8, p16, p32, p64;

	(void)state;
	init = simulate("congestion", 90, 120, NULL);
	b16 = simulate("congestion", 90, 120, "net.batch_size", 16.0, NULL);
	b32 = simulate("congestion", 90, 120, "net.batch_size", 32.0, NULL);
	b64 = simulate("congestion", 90, 120, "net.batch_size", 64.0, NULL);
	p8 = quant(init, "net.rtt_ms", 0.95);
	p16 = quant(b16, "net.rtt_ms", 0.95);
	p32 = quant(b32, "net.rtt_ms", 0.95);
	p64 = quant(b64, "net.rtt_ms", 0.95);
	print_message("# congestion rtt p95: batch 8 %.0f, 16 %.0f, "
	    "32 %.0f, 64 %.0f ms\n", p8, p16, p32, p64);
	assert_true(p8 > 100);
	assert_true(quant(init, "net.send_queue", 0.9) > 8);
	assert_true(p16 < 0.9 * p8);		/* a step helps already */
	assert_true(p32 < 100);
	assert_true(quant(b32, "net.send_queue", 0.9) < 1000);
	assert_true(p64 > p32);			/* too far hurts again */
	run_free(init);
	run_free(b16);
	run_free(b32);
	run_free(b64);
}

/* Calm: batching only adds delay, and shrinking back is possible. */
static void
test_calm_batching(void **state)
{
	struct run	*init, *big, *linger;
	double		 p, pbig, plinger;

	(void)state;
	init = simulate("calm", 0, 300, NULL);
	big = simulate("calm", 0, 300, "net.batch_size", 64.0, NULL);
	linger = simulate("calm", 0, 300, "net.batch_delay_ms", 50.0, NULL);
	p = quant(init, "net.rtt_ms", 0.95);
	pbig = quant(big, "net.rtt_ms", 0.95);
	plinger = quant(linger, "net.rtt_ms", 0.95);
	print_message("# calm rtt p95: initial %.1f, batch 64 %.1f, "
	    "delay 50 %.1f ms\n", p, pbig, plinger);
	assert_true(p < 50);
	assert_true(quant(init, "net.send_queue", 0.9) < 1);
	assert_true(pbig > 1.2 * p);
	assert_true(quant(big, "net.rtt_ms", 0.5) >
	    1.2 * quant(init, "net.rtt_ms", 0.5));
	assert_true(plinger > p + 20);
	run_free(init);
	run_free(big);
	run_free(linger);
}

/* Compression trades CPU for bytes. */
static void
test_compression(void **state)
{
	struct run	*init, *all;

	(void)state;
	init = simulate("congestion", 90, 60, "net.batch_size", 32.0, NULL);
	all = simulate("congestion", 90, 60, "net.batch_size", 32.0,
	    "net.compress_min_bytes", 128.0, NULL);
	assert_true(rate(all, "net.tx_bytes", 60) <
	    0.8 * rate(init, "net.tx_bytes", 60));
	assert_true(quant(all, "cpu.util_pct", 0.5) >
	    quant(init, "cpu.util_pct", 0.5) + 3);
	run_free(init);
	run_free(all);
}

/* Memory pressure: a smaller cache lowers the heap and the hit rate. */
static void
test_memory(void **state)
{
	struct run	*init, *small, *big;
	double		 h, hs, limit = 0.8 * 512;

	(void)state;
	init = simulate("memory-pressure", 90, 60, NULL);
	small = simulate("memory-pressure", 90, 60, "mem.cache_max_mb",
	    40.96, NULL);
	big = simulate("memory-pressure", 90, 60, "mem.cache_max_mb", 128.0,
	    NULL);
	h = quant(init, "mem.heap_mb", 0.5);
	hs = quant(small, "mem.heap_mb", 0.5);
	print_message("# memory heap p50: cache 64 %.0f, 41 %.0f, 128 %.0f "
	    "MiB\n", h, hs, quant(big, "mem.heap_mb", 0.5));
	assert_true(h > limit);
	assert_true(hs < limit);
	assert_true(quant(big, "mem.heap_mb", 0.5) > h + 50);
	assert_true(quant(small, "mem.cache_hit_pct", 0.5) <
	    quant(init, "mem.cache_hit_pct", 0.5) - 5);
	assert_true(quant(big, "mem.cache_hit_pct", 0.5) >
	    quant(init, "mem.cache_hit_pct", 0.5) + 5);
	/* Calm: the working set fits, the hit rate is high. */
	run_free(init);
	init = simulate("calm", 0, 60, NULL);
	assert_true(quant(init, "mem.cache_hit_pct", 0.5) > 90);
	assert_true(quant(init, "mem.heap_mb", 0.5) < 0.6 * 512);
	run_free(init);
	run_free(small);
	run_free(big);
}

/* mem.trim frees the fragmentation at once. */
static void
test_trim(void **state)
{
	struct simmodel	*m;
	struct run	*before = xcalloc(1, sizeof(*before));
	struct run	*after = xcalloc(1, sizeof(*after));
	char		 err[64];
	int		 i;

	(void)state;
	m = simmodel_new("memory-pressure", SEED, 8);
	for (i = 0; i < 3000; i++)
		simmodel_step(m, i >= 2990 ? collect : NULL, before);
	assert_int_equal(simmodel_knob_set(m, "mem.trim", 1, err,
	    sizeof(err)), 0);
	for (i = 0; i < 10; i++)
		simmodel_step(m, collect, after);
	assert_true(quant(after, "mem.heap_mb", 0.5) <
	    quant(before, "mem.heap_mb", 0.5) - 20);
	/* mem.frag_mb reports it: 90 % of it went, as much as the heap. */
	assert_true(quant(after, "mem.frag_mb", 0.5) <
	    0.15 * quant(before, "mem.frag_mb", 0.5));
	assert_true(fabs((quant(before, "mem.heap_mb", 0.5) -
	    quant(after, "mem.heap_mb", 0.5)) - (quant(before, "mem.frag_mb",
	    0.5) - quant(after, "mem.frag_mb", 0.5))) < 3);
	simmodel_free(m);
	run_free(before);
	run_free(after);
}

/* Churn: retransmits cut loss and add duplicates; ttl too low loses. */
static void
test_mesh(void **state)
{
	struct run	*r0, *r1, *r2, *r3, *ttl2, *ttl8, *ttl16;
	double		 l1, l3;

	(void)state;
	r0 = simulate("peer-churn", 90, 120, "mesh.retransmits", 0.0, NULL);
	r1 = simulate("peer-churn", 90, 120, NULL);
	r2 = simulate("peer-churn", 90, 120, "mesh.retransmits", 2.0, NULL);
	r3 = simulate("peer-churn", 90, 120, "mesh.retransmits", 3.0, NULL);
	l1 = quant(r1, "mesh.loss_pct", 0.9);
	l3 = quant(r3, "mesh.loss_pct", 0.5);
	print_message("# churn loss p90: retransmits 0 %.1f, 1 %.1f, 2 %.1f, "
	    "3 %.1f %%\n", quant(r0, "mesh.loss_pct", 0.9), l1,
	    quant(r2, "mesh.loss_pct", 0.9), quant(r3, "mesh.loss_pct", 0.9));
	assert_true(l1 > 5);
	assert_true(quant(r0, "mesh.loss_pct", 0.9) > 2 * l1);
	assert_true(quant(r2, "mesh.loss_pct", 0.9) < 5);
	assert_true(quant(r2, "mesh.loss_pct", 0.5) <
	    quant(r1, "mesh.loss_pct", 0.5) / 2);
	assert_true(l3 < quant(r1, "mesh.loss_pct", 0.5) / 3);
	assert_true(quant(r3, "mesh.dup_pct", 0.5) >
	    quant(r1, "mesh.dup_pct", 0.5) + 3);
	assert_true(rate(r3, "net.retransmits", 120) >
	    rate(r1, "net.retransmits", 120));

	/* ttl in a sparse mesh: 30 peers, 3 links each, up to 5 hops. */
	sim_peers = 30;
	ttl8 = simulate("calm", 0, 120, "mesh.max_peers", 3.0, NULL);
	ttl2 = simulate("calm", 0, 120, "mesh.max_peers", 3.0, "mesh.ttl",
	    2.0, NULL);
	ttl16 = simulate("calm", 0, 120, "mesh.max_peers", 3.0, "mesh.ttl",
	    16.0, NULL);
	sim_peers = 8;
	assert_true(quant(ttl8, "mesh.hops", 0.99) >= 4);
	assert_true(quant(ttl8, "mesh.loss_pct", 0.5) < 5);
	assert_true(quant(ttl2, "mesh.loss_pct", 0.5) > 30);
	assert_true(quant(ttl2, "mesh.hops", 1) <= 2);
	assert_true(quant(ttl16, "mesh.dup_pct", 0.5) >
	    quant(ttl8, "mesh.dup_pct", 0.5) + 2);
	assert_true(quant(ttl2, "mesh.dup_pct", 0.5) <
	    quant(ttl8, "mesh.dup_pct", 0.5));
	run_free(ttl8);
	run_free(r0);
	run_free(r1);
	run_free(r2);
	run_free(r3);
	run_free(ttl2);
	run_free(ttl16);
}

/* More direct peers: fewer hops, more air. */
static void
test_max_peers(void **state)
{
	struct simmodel	*m;
	struct run	*few, *many;
	char		 err[64];
	int		 i;

	(void)state;
	few = xcalloc(1, sizeof(*few));
	many = xcalloc(1, sizeof(*many));
	m = simmodel_new("calm", SEED, 20);
	assert_int_equal(simmodel_knob_set(m, "mesh.max_peers", 3, err,
	    sizeof(err)), 0);
	for (i = 0; i < 1200; i++)
		simmodel_step(m, i >= 600 ? collect : NULL, few);
	assert_int_equal(simmodel_knob_set(m, "mesh.max_peers", 20, err,
	    sizeof(err)), 0);
	for (i = 0; i < 1200; i++)
		simmodel_step(m, i >= 600 ? collect : NULL, many);
	assert_true(quant(few, "mesh.hops", 0.5) >
	    quant(many, "mesh.hops", 0.5));
	assert_true(quant(few, "mesh.peers", 0.5) == 3);
	assert_true(quant(many, "mesh.peers", 0.5) > 15);
	/* The air of 20 connections shows up as a slower frame. */
	assert_true(quant(many, "net.rtt_ms", 0.5) > 0);
	simmodel_free(m);
	run_free(few);
	run_free(many);
}

/* Backlog: a bigger consensus batch raises the finalized ops rate. */
static void
test_consensus_batch(void **state)
{
	struct run	*init, *b100;
	double		 r, r100;

	(void)state;
	init = simulate("consensus-backlog", 90, 120, NULL);
	b100 = simulate("consensus-backlog", 90, 120, "consensus.batch_size",
	    100.0, NULL);
	r = rate(init, "consensus.ops", 120);
	r100 = rate(b100, "consensus.ops", 120);
	print_message("# backlog ops/s: batch 50 %.1f, 100 %.1f\n", r, r100);
	assert_true(r < 100);
	assert_true(quant(init, "consensus.pending", 0.5) > 2 * 50);
	assert_true(r100 > 1.1 * r);
	assert_true(quant(b100, "consensus.pending", 0.9) <
	    quant(init, "consensus.pending", 0.9) / 4);
	run_free(init);
	run_free(b100);
}

/* Verify threads help on idle cores and hurt on busy ones. */
static void
test_verify_threads(void **state)
{
	struct run	*c1, *c4, *b2, *b4;

	(void)state;
	c1 = simulate("calm", 0, 120, "consensus.verify_threads", 1.0, NULL);
	c4 = simulate("calm", 0, 120, "consensus.verify_threads", 4.0, NULL);
	b2 = simulate("consensus-backlog", 90, 120, NULL);
	b4 = simulate("consensus-backlog", 90, 120,
	    "consensus.verify_threads", 4.0, NULL);
	assert_true(quant(c4, "consensus.verify_ms", 0.5) <
	    0.6 * quant(c1, "consensus.verify_ms", 0.5));
	assert_true(quant(b4, "consensus.verify_ms", 0.5) >
	    1.05 * quant(b2, "consensus.verify_ms", 0.5));
	run_free(c1);
	run_free(c4);
	run_free(b2);
	run_free(b4);
}

/* Round timeout: too short times out, too long waits out the faults. */
static void
test_round_timeout(void **state)
{
	struct run	*init, *low, *high;

	(void)state;
	init = simulate("calm", 0, 120, NULL);
	low = simulate("calm", 0, 120, "consensus.round_timeout_ms", 300.0,
	    NULL);
	assert_true(rate(init, "consensus.timeouts", 120) == 0);
	assert_true(rate(low, "consensus.timeouts", 120) > 0.5);
	assert_true(rate(low, "consensus.view_changes", 120) > 0.5);
	assert_true(quant(low, "consensus.round_ms", 0.5) >
	    quant(init, "consensus.round_ms", 0.5) + 100);
	run_free(init);
	run_free(low);
	init = simulate("peer-churn", 90, 300, NULL);
	high = simulate("peer-churn", 90, 300, "consensus.round_timeout_ms",
	    8000.0, NULL);
	assert_true(rate(init, "consensus.timeouts", 300) > 0);
	assert_true(quant(high, "consensus.round_ms", 0.99) >
	    quant(init, "consensus.round_ms", 0.99) + 2000);
	run_free(init);
	run_free(high);
}

/* The vote cache turns misses into hits and costs heap. */
static void
test_vote_cache(void **state)
{
	struct run	*off, *on;

	(void)state;
	off = simulate("calm", 0, 60, NULL);
	on = simulate("calm", 0, 60, "consensus.vote_cache", 1.0, NULL);
	assert_true(rate(off, "consensus.vote_cache_misses", 60) > 10);
	assert_true(rate(off, "consensus.vote_cache_hits", 60) == 0);
	assert_true(rate(on, "consensus.vote_cache_hits", 60) >
	    rate(on, "consensus.vote_cache_misses", 60));
	assert_true(quant(on, "mem.heap_mb", 0.5) >
	    quant(off, "mem.heap_mb", 0.5) + 3);
	run_free(off);
	run_free(on);
}

/* Idle sleep: shorter cuts the wake-up tail and costs CPU. */
static void
test_idle_sleep(void **state)
{
	struct run	*s10, *s100;

	(void)state;
	s10 = simulate("calm", 0, 300, "cpu.idle_sleep_ms", 10.0, NULL);
	s100 = simulate("calm", 0, 300, "cpu.idle_sleep_ms", 100.0, NULL);
	assert_true(quant(s100, "net.rtt_ms", 0.99) >
	    quant(s10, "net.rtt_ms", 0.99) + 20);
	assert_true(quant(s10, "cpu.util_pct", 0.5) >
	    quant(s100, "cpu.util_pct", 0.5) + 1);
	run_free(s10);
	run_free(s100);
}

/* The mixed scenario walks through its phases on time. */
static void
test_phases(void **state)
{
	struct simmodel	*m;
	int		 i, changes = 0;

	(void)state;
	m = simmodel_new("mixed", SEED, 8);
	assert_string_equal(simmodel_phase(m), "calm");
	for (i = 0; i < 600; i++)
		changes += simmodel_step(m, NULL, NULL);
	assert_int_equal(changes, 0);
	changes += simmodel_step(m, NULL, NULL);
	assert_int_equal(changes, 1);
	assert_string_equal(simmodel_phase(m), "congestion");
	for (i = 0; i < 2400; i++)
		changes += simmodel_step(m, NULL, NULL);
	assert_string_equal(simmodel_phase(m), "memory-pressure");
	assert_int_equal(changes, 3);
	assert_int_equal(simmodel_now_ms(m), 3001 * SIMMODEL_STEP_MS);
	simmodel_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_seed_matters),
		cmocka_unit_test(test_common_random),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_congestion_batching),
		cmocka_unit_test(test_calm_batching),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_mesh),
		cmocka_unit_test(test_max_peers),
		cmocka_unit_test(test_consensus_batch),
		cmocka_unit_test(test_verify_threads),
		cmocka_unit_test(test_round_timeout),
		cmocka_unit_test(test_vote_cache),
		cmocka_unit_test(test_idle_sleep),
		cmocka_unit_test(test_phases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
