/*
 * simnode_model.c -- the pure model behind meshtune-simnode.
 *
 * No I/O and no clock: simmodel_step() advances model time by
 * SIMMODEL_STEP_MS and hands every sample to a callback, so a seed gives
 * the same sample stream bit for bit, and the unit tests can run hours of
 * model time in a second.
 *
 * The model, in short (meshtune-simnode(1) has the long form):
 *
 * Network.  Messages arrive as a Poisson stream into a send queue
 * (SN_SENDQ_MAX, overflow dropped and counted as net.drops).  One radio
 * sends batches: it flushes when batch_size messages wait or the oldest
 * has waited batch_delay_ms, whichever comes first, and only when idle.
 * A frame costs C_FRAME_MS (channel access, header, link ack) plus a
 * reserved slot of C_SLOT_MS for each of the batch_size slots (the
 * connection event is negotiated for a full batch, so an almost empty
 * frame still holds the air for the whole batch) plus C_BYTE_MS per wire
 * byte; mesh overhead (advertising, connection upkeep per peer, relaying
 * others' traffic) takes a share of the air, and lost frames are sent
 * again.  So batching amortises C_FRAME_MS under load (capacity rises
 * with batch_size) but costs delay and air at light load.  Messages of
 * compress_min_bytes or more are compressed (wire size 35-65 %), which
 * costs CPU per KiB.  rtt = queueing + linger + frame + path there and
 * back (per hop latency, per hop retransmissions) + receive processing
 * and worker wake-up (idle_sleep_ms).
 *
 * Mesh.  --peers N others; we hold D direct links (D <= max_peers and
 * <= the neighbours in radio range; links break at the phase's churn rate
 * and missing ones are found again at a rate set by adv_interval_ms).
 * Peer i at rank r (best links first) is 1 hop away when r < D, farther
 * ones sit on a tree with branching max(1, D - 1); without relaying, the
 * paths of 2 or more hops grow by one.  A peer beyond ttl hops is
 * unreachable.  Each hop loses a frame with p = (100 - quality) / 200 and
 * retries up to retransmits times; a lost ack (p / 2) with retries left
 * delivers a duplicate.  Relaying floods extra copies, Poisson with mean
 * FLOOD_K * (ttl - hops) * D / 8.
 *
 * Consensus.  Operations arrive as a Poisson stream into pending; one
 * round at a time takes up to consensus.batch_size of them through three
 * broadcast phases (fixed cost, send queue wait, the time to reach a
 * quorum), verification (ops + missed votes, spread over verify_threads
 * on the cores left free, with a per-thread contention overhead) and
 * execution (on the worker threads, slower with cache misses).  A round
 * longer than its timeout, or a faulty leader, times out: a view change,
 * and the batch is proposed again with the timeout * 1.5.  round_ms runs
 * from the first proposal to finality, so it includes timeouts.
 *
 * Memory and CPU.  heap = base + 1.5 * cache + vote cache + queues +
 * fragmentation (grows with allocation churn, mem.trim frees 90 % of it;
 * reported as mem.frag_mb, what the allocator holds but the node does not
 * use, as glibc's mallinfo2() fordblks or jemalloc's resident - allocated);
 * the cache fills toward min(cache_max_mb, 1.1 * working set) and its hit
 * rate is sqrt(cache / working set).  CPU demand (base, messages,
 * compression, verification, execution, misses, polling, oversubscribed
 * workers) over SN_NCPU cores gives the utilisation U, and every CPU
 * stage is stretched by 1 + U^4 / (1 - U) (U capped at 0.95).
 */
#include <sys/types.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshtuned.h"

/* Model constants; meshtune-simnode(1) lists them. */
#define SN_NCPU		4	/* model cores, fixed for repeatability */
#define SN_SENDQ_MAX	1024	/* send queue capacity, messages */
#define SN_HEAP_LIMIT	512.0	/* configured max heap, MiB */
#define C_FRAME_MS	6.0	/* per frame: channel access, header, ack */
#define C_SLOT_MS	0.2	/* per reserved message slot */
#define C_BYTE_MS	0.002	/* per wire byte: 500 kB/s */
#define C_MSG_CPU_MS	0.3	/* CPU to build or parse a message */
#define C_ZIP_MS	0.3	/* CPU to set up a compression */
#define C_ZIP_MS_KB	1.0	/* CPU to compress one KiB */
#define HOP_MS		4.0	/* per hop latency, plus an exponential */
#define HOP_JITTER_MS	2.0	/*   jitter of this mean */
#define RETRY_MS	10.0	/* a hop's retransmission timeout */
#define ADV_AIR_MS	1.2	/* air per advertisement */
#define CONN_AIR	0.005	/* air share per connected peer */
#define RELAY_AIR	0.03	/* air share of relaying at 8 peers */
#define FLOOD_K		0.025	/* flood copies per spare ttl hop */
#define PHASE_FIXED_MS	110.0	/* fixed cost of one consensus phase */
#define C_SIG_MS	2.0	/* CPU per signature verification */
#define C_EXEC_MS	4.0	/* CPU per operation executed */
#define C_MISS_MS	1.5	/* CPU per cache miss */
#define VOTE_CACHE_MB	6.0	/* heap of the vote cache */
#define CACHE_OVERHEAD	1.5	/* heap per MiB of cache payload */
#define MSG_SAMPLES_S	250.0	/* per-message samples per model second */
#define BATCH_SAMPLES_S	100.0	/* per-batch samples per model second */
#define STATS_WINDOW	50	/* steps in the loss/dup sliding window */

/* The knobs, in the order of enum sn_knob. */
enum sn_knob {
	K_NET_BATCH, K_NET_DELAY, K_NET_COMPRESS,
	K_CONS_BATCH, K_CONS_TIMEOUT, K_CONS_VERIFY, K_CONS_VOTECACHE,
	K_MEM_CACHE, K_MEM_TRIM,
	K_CPU_WORKERS, K_CPU_IDLE,
	K_MESH_TTL, K_MESH_MAXPEERS, K_MESH_RETX, K_MESH_ADV, K_MESH_RELAY,
	K_COUNT
};

static const struct simmodel_knob knobs[K_COUNT] = {
	{ "net.batch_size", 1, 64, 8, 1, 0 },
	{ "net.batch_delay_ms", 0, 50, 5, 0, 0 },
	{ "net.compress_min_bytes", 128, 65536, 1024, 1, 0 },
	{ "consensus.batch_size", 1, 200, 50, 1, 0 },
	{ "consensus.round_timeout_ms", 200, 10000, 2000, 0, 0 },
	{ "consensus.verify_threads", 1, SN_NCPU, 2, 1, 0 },
	{ "consensus.vote_cache", 0, 1, 0, 1, 0 },
	{ "mem.cache_max_mb", 8, 512, 64, 0, 0 },
	{ "mem.trim", 0, 0, 0, 0, 1 },
	{ "cpu.worker_threads", 1, 2 * SN_NCPU, SN_NCPU, 1, 0 },
	{ "cpu.idle_sleep_ms", 10, 100, 50, 0, 0 },
	{ "mesh.ttl", 2, 16, 8, 1, 0 },
	{ "mesh.max_peers", 3, 20, 8, 1, 0 },
	{ "mesh.retransmits", 0, 3, 1, 1, 0 },
	{ "mesh.adv_interval_ms", 20, 2000, 1000, 0, 0 },
	{ "mesh.relay", 0, 1, 1, 1, 0 },
};

/* What a phase does to the load; one row per kind. */
struct sn_phase {
	const char	*name;
	double		 msg_rate;	/* messages sent per second */
	double		 small_bytes;	/* median of the small messages */
	double		 big_frac;	/* share of big (snapshot) messages */
	double		 op_rate;	/* consensus operations per second */
	double		 fault_p;	/* chance a round's leader fails */
	double		 base_heap_mb;
	double		 ws_mb;		/* working set the cache serves */
	double		 frag_mb_s;	/* fragmentation growth per second */
	double		 cpu_base;	/* cores busy with game logic */
	double		 quality;	/* mean link quality, 0-100 */
	double		 range_frac;	/* share of peers in radio range */
	double		 churn;		/* link breaks per link per second */
};

enum sn_kind { P_CALM, P_CONGESTION, P_MEMORY, P_CHURN, P_BACKLOG };

/*
 * Columns: messages/s, small bytes, big share, ops/s, fault chance,
 * base heap MiB, working set MiB, fragmentation MiB/s, busy cores, link
 * quality, share in range, link breaks/s.
 */
static const struct sn_phase phases[] = {
	[P_CALM] = { "calm",
	    30, 200, 0.15, 40, 0, 120, 40, 0.02, 0.6, 96, 1.0, 0.002 },
	[P_CONGESTION] = { "congestion",
	    800, 120, 0.03, 40, 0, 130, 40, 0.05, 0.8, 94, 1.0, 0.002 },
	[P_MEMORY] = { "memory-pressure",
	    30, 200, 0.15, 40, 0, 320, 160, 0.15, 0.7, 96, 1.0, 0.002 },
	[P_CHURN] = { "peer-churn",
	    30, 200, 0.15, 40, 0.03, 120, 40, 0.02, 0.6, 55, 0.6, 0.1 },
	[P_BACKLOG] = { "consensus-backlog",
	    30, 200, 0.15, 120, 0, 140, 40, 0.03, 1.6, 96, 1.0, 0.002 },
};

/* A scenario: phases in sequence; seconds 0 means until the end. */
struct sn_step {
	enum sn_kind	 kind;
	unsigned int	 seconds;
};
struct sn_scenario {
	const char		*name;
	const struct sn_step	*steps;
	size_t			 nsteps;
};

#define ONE(kind) { { P_CALM, 60 }, { kind, 300 }, { P_CALM, 0 } }
static const struct sn_step s_calm[] = { { P_CALM, 0 } };
static const struct sn_step s_cong[] = ONE(P_CONGESTION);
static const struct sn_step s_mem[] = ONE(P_MEMORY);
static const struct sn_step s_churn[] = ONE(P_CHURN);
static const struct sn_step s_backlog[] = ONE(P_BACKLOG);
static const struct sn_step s_mixed[] = {
	{ P_CALM, 60 }, { P_CONGESTION, 180 }, { P_CALM, 60 },
	{ P_MEMORY, 180 }, { P_CALM, 60 }, { P_CHURN, 180 }, { P_CALM, 60 },
	{ P_BACKLOG, 180 }, { P_CALM, 0 }
};
#undef ONE

static const struct sn_scenario scenarios[] = {
	{ "calm", s_calm, nitems(s_calm) },
	{ "congestion", s_cong, nitems(s_cong) },
	{ "memory-pressure", s_mem, nitems(s_mem) },
	{ "peer-churn", s_churn, nitems(s_churn) },
	{ "consensus-backlog", s_backlog, nitems(s_backlog) },
	{ "mixed", s_mixed, nitems(s_mixed) },
};

struct sn_msg {
	double		 t;		/* enqueued, model ms */
	double		 zip_ms;	/* compression time before it */
	uint32_t	 bytes;		/* before compression */
	uint32_t	 wire;		/* after */
	uint8_t		 peer;
};

struct sn_peer {
	double		 offset;	/* fixed quality offset */
	double		 noise;		/* AR(1) quality noise */
	double		 quality;	/* 0-100 */
	int		 rank;		/* 0 = best link */
	int		 hops;		/* 0: unreachable */
	char		 tag[16];	/* "pN" */
};

struct simmodel {
	uint64_t	 seed;
	uint64_t	*rng;		/* the stream urand() draws from */
	uint64_t	 nrng[4];	/* radio: messages, delivery */
	uint64_t	 crng[4];	/* consensus: operations, rounds */
	uint64_t	 mrng[4];	/* memory: fragmentation */
	uint64_t	 srng[4];	/* which samples to emit */
	uint64_t	 trng[4];	/* topology: churn and link noise */
	double		 kv[K_COUNT];
	const struct sn_scenario *sc;
	size_t		 si;		/* current scenario step */
	uint64_t	 phase_start;	/* model ms */
	uint64_t	 now;		/* model ms */
	uint64_t	 trims;
	int		 npeers;
	struct sn_peer	 peer[SIMMODEL_MAX_PEERS];
	double		 direct;	/* D, connected peers */
	double		 util;		/* CPU utilisation, smoothed */
	double		 util_verify;	/* verification's share of util */
	double		 cpu_ms;	/* CPU demand this step */
	double		 cpu_verify_ms;
	double		 cpu_extra_ms;	/* one-off work for the next step */

	/* network */
	struct sn_msg	 q[SN_SENDQ_MAX];
	size_t		 qhead, qlen;
	double		 next_arr;
	double		 busy_until;
	double		 slot_air;	/* last per-message air, for waits */

	/* consensus */
	uint64_t	 pending;
	int		 in_round;
	double		 round_end;
	double		 round_first;	/* first proposal of this batch */
	int		 round_ok;
	int		 round_attempt;
	uint64_t	 round_n;
	double		 round_verify;

	/* memory */
	double		 cache_mb;
	double		 frag_mb;

	/* loss and duplicates over the last STATS_WINDOW steps */
	double		 w_exp[STATS_WINDOW], w_lost[STATS_WINDOW];
	double		 w_recv[STATS_WINDOW], w_dup[STATS_WINDOW];

	/* this step's counters */
	double		 c_tx, c_rx, c_retx, c_drop, c_ops, c_timeouts;
	double		 c_views, c_vhit, c_vmiss;

	simmodel_emit_fn emit;
	void		*arg;
};

/*
 * PRNG: xoshiro256** seeded through splitmix64.
 */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
xnext(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static void
xseed(uint64_t s[4], uint64_t seed)
{
	int	i;

	for (i = 0; i < 4; i++)
		s[i] = splitmix64(&seed);
}

/*
 * Common random numbers.  Every step reseeds each stream from the seed,
 * the step number and the stream, and each part of the model draws from
 * its own stream, so the chance events of step n (link breaks, lost
 * frames, faulty leaders) are the same whatever the knobs did before:
 * two runs with one seed differ only by what their knobs do, not by a
 * knob set one step later shifting every draw after it.
 */
static void
reseed(struct simmodel *m)
{
	uint64_t	 step = m->now / SIMMODEL_STEP_MS;
	uint64_t	 x = m->seed ^ (step * 0xd1b54a32d192ed03ULL);

	xseed(m->nrng, x ^ 0x1111111111111111ULL);
	xseed(m->crng, x ^ 0x2222222222222222ULL);
	xseed(m->mrng, x ^ 0x3333333333333333ULL);
	xseed(m->srng, x ^ 0x5a5a5a5a5a5a5a5aULL);
	xseed(m->trng, x ^ 0xa5a5a5a5a5a5a5a5ULL);
}

/* Uniform in [0, 1) from the stream in use (m->rng). */
static double
urand(struct simmodel *m)
{
	return (double)(xnext(m->rng) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, 1) from the topology stream, so that the mesh moves the
 * same way whatever the knobs do to the traffic. */
static double
trand(struct simmodel *m)
{
	return (double)(xnext(m->trng) >> 11) * 0x1.0p-53;
}

static double
exprand(struct simmodel *m, double mean)
{
	return -mean * log1p(-urand(m));
}

static double
normrand(struct simmodel *m)
{
	double u = urand(m), v = urand(m);

	return sqrt(-2.0 * log1p(-u)) * cos(2.0 * M_PI * v);
}

static unsigned int
poisson(struct simmodel *m, double mean)
{
	double		 l = exp(-mean), p = 1.0;
	unsigned int	 k = 0;

	if (mean <= 0)
		return 0;
	if (mean > 30)
		return (unsigned int)fmax(0, floor(mean + sqrt(mean) *
		    normrand(m) + 0.5));
	do {
		k++;
		p *= urand(m);
	} while (p > l);
	return k - 1;
}

/* Should this one be emitted, at most per_s per second of rate? */
static int
sampled(struct simmodel *m, double rate, double per_s)
{
	if (rate <= per_s)
		return 1;
	return (double)(xnext(m->srng) >> 11) * 0x1.0p-53 < per_s / rate;
}

static const struct sn_phase *
cur(const struct simmodel *m)
{
	return &phases[m->sc->steps[m->si].kind];
}

/* CPU stretch of a stage at utilisation u. */
static double
slowdown(double u)
{
	u = fmin(fmax(u, 0), 0.95);
	return 1.0 + pow(u, 4) / (1.0 - u);
}

static void
emit(struct simmodel *m, const char *name, const char *tag, const char *type,
    double value)
{
	if (m->emit != NULL)
		m->emit(name, tag, type, value, m->arg);
}

/*
 * Mesh: link churn and rediscovery, then every peer's hops and quality.
 */
static void
mesh_update(struct simmodel *m, const struct sn_phase *ph, int second)
{
	double	 cap, pbreak, pfind, k, lvcap;
	double	 ubreak[SIMMODEL_MAX_PEERS], ufind[SIMMODEL_MAX_PEERS];
	int	 i, r, d, level;

	cap = fmin(m->kv[K_MESH_MAXPEERS],
	    floor(ph->range_frac * m->npeers + 0.5));
	/* Each link breaks at the churn rate; each missing one is found
	 * again after about four advertising intervals. */
	pbreak = ph->churn * SIMMODEL_STEP_MS / 1000.0;
	pfind = 1.0 - exp(-SIMMODEL_STEP_MS / (4.0 * m->kv[K_MESH_ADV]));
	/* Two draws per link slot, used or not: the same draws each run. */
	for (i = 0; i < SIMMODEL_MAX_PEERS; i++) {
		ubreak[i] = trand(m);
		ufind[i] = trand(m);
	}
	d = (int)m->direct;
	for (i = 0; i < (int)m->direct; i++)
		if (ubreak[i] < pbreak)
			d--;
	for (i = d; i < (int)cap; i++)
		if (ufind[i] < pfind)
			d++;
	if (d > (int)cap)
		d = (int)cap;
	m->direct = d;
	k = d > 1 ? d - 1 : 1;

	for (i = 0; i < m->npeers; i++) {
		struct sn_peer *p = &m->peer[i];

		if (second) {
			p->noise = 0.8 * p->noise + 2.0 * (trand(m) + trand(m) +
			    trand(m) - 1.5) * 2.0;
		}
		p->quality = fmin(100, fmax(5, ph->quality + p->offset +
		    p->noise));
		r = p->rank;
		if (d == 0) {
			p->hops = 0;
			continue;
		}
		if (r < d)
			level = 1;
		else {
			r -= d;
			level = 2;
			lvcap = d * k;
			while (r >= lvcap) {
				r -= (int)lvcap;
				level++;
				lvcap *= k;
			}
		}
		if (level >= 2 && m->kv[K_MESH_RELAY] == 0)
			level++;
		p->hops = level;
	}
}

/* One-way path delay to a peer with retries, for consensus broadcasts. */
static double
path_delay(struct simmodel *m, const struct sn_peer *p)
{
	double	 d = 0, pl = (100 - p->quality) / 200;
	int	 h, a;

	for (h = 0; h < p->hops; h++) {
		d += HOP_MS + exprand(m, HOP_JITTER_MS);
		for (a = 0; a < m->kv[K_MESH_RETX] && urand(m) < pl; a++)
			d += RETRY_MS;
	}
	return d;
}

/* Share of the air taken by mesh upkeep and relaying. */
static double
air_overhead(const struct simmodel *m, const struct sn_phase *ph)
{
	double	 o;

	o = ADV_AIR_MS / m->kv[K_MESH_ADV] + CONN_AIR * m->direct;
	if (m->kv[K_MESH_RELAY] != 0)
		o += RELAY_AIR * (m->direct / 8.0) *
		    fmin(2, sqrt(ph->msg_rate / phases[P_CALM].msg_rate)) *
		    (1 + FLOOD_K * m->kv[K_MESH_TTL]);
	return fmin(o, 0.6);
}

/*
 * Send one message along its path.  Returns the one-way delay or -1 when
 * it was lost; counts retransmissions and duplicates, and the hop-1
 * retries for the frame.
 */
static double
deliver(struct simmodel *m, const struct sn_peer *p, int *hop1_retries,
    double *dups)
{
	double	 d = 0, pl = (100 - p->quality) / 200;
	double	 ttl = m->kv[K_MESH_TTL];
	int	 h, a, got, retx = (int)m->kv[K_MESH_RETX];

	*hop1_retries = 0;
	*dups = 0;
	if (p->hops == 0 || p->hops > ttl)
		return -1;
	for (h = 0; h < p->hops; h++) {
		got = 0;
		for (a = 0; a <= retx; a++) {
			if (a > 0) {
				m->c_retx++;
				if (h == 0)
					(*hop1_retries)++;
				if (!got)
					d += RETRY_MS;
			}
			if (urand(m) < pl)
				continue;	/* frame lost */
			if (got)
				(*dups)++;
			got = 1;
			if (urand(m) >= pl / 2)
				break;		/* acked */
		}
		if (!got)
			return -1;
		if (h > 0)
			d += HOP_MS + exprand(m, HOP_JITTER_MS);
	}
	if (m->kv[K_MESH_RELAY] != 0)
		*dups += poisson(m, FLOOD_K * (ttl - p->hops) * m->direct /
		    8.0);
	return d;
}

static void
net_arrival(struct simmodel *m, const struct sn_phase *ph, double t)
{
	struct sn_msg	*msg;
	double		 b;

	if (m->qlen == SN_SENDQ_MAX) {
		m->c_drop++;
		/* Draw what it would have been: the same stream either way. */
		(void)urand(m);
		(void)urand(m);
		(void)urand(m);
		(void)urand(m);
		return;
	}
	msg = &m->q[(m->qhead + m->qlen) % SN_SENDQ_MAX];
	m->qlen++;
	msg->t = t;
	if (urand(m) < ph->big_frac)
		b = 2500 * exp(0.5 * normrand(m));
	else
		b = ph->small_bytes * exp(0.6 * normrand(m));
	b = fmax(24, fmin(60000, b));
	msg->bytes = (uint32_t)b;
	msg->peer = (uint8_t)(urand(m) * m->npeers);
	if (msg->bytes >= m->kv[K_NET_COMPRESS]) {
		double ratio = 0.35 + 0.3 * urand(m);

		msg->wire = (uint32_t)(b * ratio) + 1;
		msg->zip_ms = (C_ZIP_MS + b / 1024 * C_ZIP_MS_KB) *
		    slowdown(m->util);
		m->cpu_ms += C_ZIP_MS + b / 1024 * C_ZIP_MS_KB;
	} else {
		msg->wire = msg->bytes;
		msg->zip_ms = 0;
	}
	m->cpu_ms += C_MSG_CPU_MS;
}

/* Flush up to batch_size messages at time t. */
static void
net_flush(struct simmodel *m, const struct sn_phase *ph, double t)
{
	double	 wire = 0, air, rtt, d, dups, slow = slowdown(m->util);
	double	 idle = m->kv[K_CPU_IDLE], rate, extra = 0;
	size_t	 n, i, batch = (size_t)m->kv[K_NET_BATCH];
	int	 r1, maxr1 = 0;

	n = m->qlen < batch ? m->qlen : batch;
	for (i = 0; i < n; i++)
		wire += m->q[(m->qhead + i) % SN_SENDQ_MAX].wire;
	air = (C_FRAME_MS + C_SLOT_MS * (double)batch + C_BYTE_MS * wire) /
	    (1.0 - air_overhead(m, ph));
	m->slot_air = air / (double)n;
	rate = ph->msg_rate;
	for (i = 0; i < n; i++) {
		struct sn_msg	*msg = &m->q[m->qhead];
		struct sn_peer	*p = &m->peer[msg->peer];
		int		 w = STATS_WINDOW;

		m->qhead = (m->qhead + 1) % SN_SENDQ_MAX;
		m->qlen--;
		m->w_exp[m->now / SIMMODEL_STEP_MS % w] += 1;
		m->c_tx += msg->wire + 12;
		d = deliver(m, p, &r1, &dups);
		if (r1 > maxr1)
			maxr1 = r1;
		/* Selective repeat: a resent frame carries the failed ones. */
		extra += r1 * (C_SLOT_MS + C_BYTE_MS * msg->wire);
		m->c_tx += r1 * (msg->wire + 12.0);
		if (d < 0) {
			m->w_lost[m->now / SIMMODEL_STEP_MS % w] += 1;
			continue;
		}
		m->w_recv[m->now / SIMMODEL_STEP_MS % w] += 1 + dups;
		m->w_dup[m->now / SIMMODEL_STEP_MS % w] += dups;
		/* Symmetric traffic: what we get is what we send. */
		m->c_rx += (msg->wire + 12) * (1 + dups);
		m->cpu_ms += C_MSG_CPU_MS + 0.1 * dups;
		rtt = msg->zip_ms + (t - msg->t) + air + d +
		    p->hops * (HOP_MS + exprand(m, HOP_JITTER_MS)) +
		    C_MSG_CPU_MS * slow +
		    (urand(m) < 0.04 ? urand(m) * idle : 0);
		if (sampled(m, rate, MSG_SAMPLES_S)) {
			emit(m, "net.rtt_ms", p->tag, "ms", rtt);
			emit(m, "net.msg_bytes", NULL, "h", msg->bytes);
			emit(m, "mesh.hops", NULL, "h", p->hops);
			if (msg->wire != msg->bytes)
				emit(m, "net.compress_pct", NULL, "h",
				    100.0 * msg->wire / msg->bytes);
		}
	}
	/* The frame goes again as often as its worst receiver needed. */
	air += (maxr1 * C_FRAME_MS + extra) / (1.0 - air_overhead(m, ph));
	m->busy_until = t + air;
	if (sampled(m, rate / (double)batch, BATCH_SAMPLES_S))
		emit(m, "net.batch_msgs", NULL, "h", (double)n);
}

/* The radio between t0 and t1: arrivals and flushes in time order. */
static void
net_run(struct simmodel *m, const struct sn_phase *ph, double t0, double t1)
{
	double	 tf, tready, batch = m->kv[K_NET_BATCH];
	double	 delay = m->kv[K_NET_DELAY];

	if (m->next_arr < t0)
		m->next_arr = t0 + exprand(m, 1000.0 / ph->msg_rate);
	for (;;) {
		tf = INFINITY;
		if (m->qlen > 0) {
			if ((double)m->qlen >= batch)
				tready = m->q[(m->qhead + (size_t)batch - 1) %
				    SN_SENDQ_MAX].t;
			else
				tready = m->q[m->qhead].t + delay;
			tf = fmax(tready, m->busy_until);
		}
		if (m->next_arr <= tf) {
			if (m->next_arr >= t1)
				break;
			net_arrival(m, ph, m->next_arr);
			m->next_arr += exprand(m, 1000.0 / ph->msg_rate);
		} else {
			if (tf >= t1)
				break;
			net_flush(m, ph, tf);
		}
	}
}

/* Messages waiting for the radio (a batch inside its linger is not). */
static double
send_queue(const struct simmodel *m, double t)
{
	return m->busy_until > t ? (double)m->qlen : 0;
}

/* Start (or restart) a round at t. */
static void
cons_start(struct simmodel *m, const struct sn_phase *ph, double t)
{
	double	 dur = 0, wait, d[SIMMODEL_MAX_PEERS], far, v, ovh, par;
	double	 free_cores, slow = slowdown(m->util), hit, misses, vmiss;
	double	 timeout, workers;
	int	 i, j, n, quorum, reach, ph3;

	if (m->round_attempt == 0) {
		m->round_n = m->pending < m->kv[K_CONS_BATCH] ? m->pending :
		    (uint64_t)m->kv[K_CONS_BATCH];
		m->round_first = t;
	}
	n = (int)m->round_n;
	quorum = (2 * (m->npeers + 1)) / 3 + 1;	/* of all nodes, us too */
	wait = (double)m->qlen * m->slot_air;	/* behind the send queue */

	for (ph3 = 0; ph3 < 3; ph3++) {
		reach = 0;
		far = 0;
		for (i = 0; i < m->npeers; i++) {
			const struct sn_peer *p = &m->peer[i];

			if (p->hops == 0 || p->hops > m->kv[K_MESH_TTL])
				continue;
			d[reach] = path_delay(m, p);
			if (d[reach] > far)
				far = d[reach];
			reach++;
		}
		/* Insertion sort: at most SIMMODEL_MAX_PEERS entries. */
		for (i = 1; i < reach; i++)
			for (j = i; j > 0 && d[j - 1] > d[j]; j--) {
				v = d[j];
				d[j] = d[j - 1];
				d[j - 1] = v;
			}
		if (reach > 0)
			emit(m, "mesh.propagation_ms", NULL, "ms", wait + far);
		dur += PHASE_FIXED_MS * exp(0.25 * normrand(m)) + wait;
		if (reach >= quorum - 1)
			dur += quorum > 1 ? 2 * d[quorum - 2] : 0;
		else
			dur = INFINITY;
	}

	/* Verification: the ops, and the two votes rounds' misses. */
	hit = sqrt(fmin(1, m->cache_mb / ph->ws_mb));
	vmiss = 0;
	for (i = 0; i < 2 * (quorum - 1); i++) {
		if (m->kv[K_CONS_VOTECACHE] != 0 && urand(m) < 0.8 * hit)
			m->c_vhit++;
		else {
			m->c_vmiss++;
			vmiss++;
		}
	}
	v = (double)n + vmiss;
	ovh = 1 + 0.15 * (m->kv[K_CONS_VERIFY] - 1);
	free_cores = SN_NCPU * (1 - fmin(0.95, m->util - m->util_verify));
	par = fmax(1, fmin(m->kv[K_CONS_VERIFY], free_cores));
	m->round_verify = v * C_SIG_MS * ovh / par * slow;
	m->cpu_ms += v * C_SIG_MS * ovh;
	m->cpu_verify_ms += v * C_SIG_MS * ovh;

	/* Execution on the workers, two cache lookups per op. */
	misses = 2.0 * n * (1 - hit);
	workers = fmax(1, fmin(m->kv[K_CPU_WORKERS], free_cores));
	m->cpu_ms += n * C_EXEC_MS + misses * C_MISS_MS;
	dur += m->round_verify + (n * C_EXEC_MS + misses * C_MISS_MS) /
	    workers * slow;

	timeout = m->kv[K_CONS_TIMEOUT] * pow(1.5, m->round_attempt);
	m->in_round = 1;
	if (urand(m) < ph->fault_p || dur > timeout) {
		m->round_ok = 0;
		m->round_end = t + timeout;
	} else {
		m->round_ok = 1;
		m->round_end = t + dur;
	}
}

static void
cons_run(struct simmodel *m, const struct sn_phase *ph, double t0, double t1)
{
	unsigned int	 k;

	k = poisson(m, ph->op_rate * SIMMODEL_STEP_MS / 1000.0);
	m->pending += k;
	if (!m->in_round && m->pending > 0)
		cons_start(m, ph, t0);
	while (m->in_round && m->round_end < t1) {
		m->in_round = 0;
		if (m->round_ok) {
			m->pending -= m->round_n;
			m->c_ops += (double)m->round_n;
			emit(m, "consensus.round_ms", NULL, "ms",
			    m->round_end - m->round_first);
			emit(m, "consensus.verify_ms", NULL, "ms",
			    m->round_verify);
			emit(m, "consensus.batch_ops", NULL, "h",
			    (double)m->round_n);
			m->round_attempt = 0;
		} else {
			m->c_timeouts++;
			m->c_views++;
			m->round_attempt++;
		}
		if (m->pending > 0)
			cons_start(m, ph, m->round_end);
	}
}

static void
mem_update(struct simmodel *m, const struct sn_phase *ph)
{
	double	 want = fmin(m->kv[K_MEM_CACHE], 1.1 * ph->ws_mb);

	if (m->cache_mb > want)
		m->cache_mb = want;	/* evicted at once */
	else
		m->cache_mb = fmin(want, m->cache_mb + 5.0 *
		    SIMMODEL_STEP_MS / 1000.0);
	m->frag_mb = fmin(120, m->frag_mb + ph->frag_mb_s *
	    SIMMODEL_STEP_MS / 1000.0 * (0.5 + urand(m)));
}

static double
heap_mb(const struct simmodel *m, const struct sn_phase *ph)
{
	return ph->base_heap_mb + CACHE_OVERHEAD * m->cache_mb +
	    (m->kv[K_CONS_VOTECACHE] != 0 ? VOTE_CACHE_MB : 0) +
	    (double)m->qlen * 2.0 / 1024 + (double)m->pending * 2.0 / 1024 +
	    m->frag_mb;
}

static double
wsum(const double *w)
{
	double	 s = 0;
	int	 i;

	for (i = 0; i < STATS_WINDOW; i++)
		s += w[i];
	return s;
}

/* Clear the sliding-window slot this step writes into. */
static void
window_clear(struct simmodel *m)
{
	int	 i = (int)(m->now / SIMMODEL_STEP_MS % STATS_WINDOW);

	m->w_exp[i] = m->w_lost[i] = m->w_recv[i] = m->w_dup[i] = 0;
}

static void
emit_step(struct simmodel *m, const struct sn_phase *ph, double t1)
{
	double	 e, r, hit;
	int	 i;

	emit(m, "net.send_queue", NULL, "g", send_queue(m, t1));
	emit(m, "consensus.pending", NULL, "g", (double)m->pending);
#define COUNTER(name, v) do {						\
	if ((v) != 0)							\
		emit(m, name, NULL, "c", (v));				\
} while (0)
	COUNTER("net.tx_bytes", m->c_tx);
	COUNTER("net.rx_bytes", m->c_rx);
	COUNTER("net.retransmits", m->c_retx);
	COUNTER("net.drops", m->c_drop);
	COUNTER("consensus.ops", m->c_ops);
	COUNTER("consensus.timeouts", m->c_timeouts);
	COUNTER("consensus.view_changes", m->c_views);
	COUNTER("consensus.vote_cache_hits", m->c_vhit);
	COUNTER("consensus.vote_cache_misses", m->c_vmiss);
#undef COUNTER
	if ((m->now / SIMMODEL_STEP_MS) % 5 != 4)
		return;
	/* Twice a second: levels and the sliding-window rates. */
	hit = 100 * fmin(0.99, sqrt(fmin(1, m->cache_mb / ph->ws_mb)));
	emit(m, "mem.heap_mb", NULL, "g", heap_mb(m, ph));
	emit(m, "mem.cache_mb", NULL, "g", m->cache_mb);
	emit(m, "mem.frag_mb", NULL, "g", m->frag_mb);
	emit(m, "mem.cache_hit_pct", NULL, "g", hit);
	emit(m, "mesh.peers", NULL, "g", floor(m->direct + 0.5));
	e = wsum(m->w_exp);
	emit(m, "mesh.loss_pct", NULL, "g", e > 0 ? 100 * wsum(m->w_lost) /
	    e : 0);
	r = wsum(m->w_recv);
	emit(m, "mesh.dup_pct", NULL, "g", r > 0 ? 100 * wsum(m->w_dup) / r :
	    0);
	emit(m, "cpu.util_pct", NULL, "g", 100 * fmin(1, m->util));
	if ((m->now / SIMMODEL_STEP_MS) % 10 == 9)
		for (i = 0; i < m->npeers; i++)
			emit(m, "mesh.link_quality", m->peer[i].tag, "g",
			    floor(m->peer[i].quality + 0.5));
}

/*
 * Find a scenario by name.  Returns its index, or -1 when there is none.
 */
static int
scenario_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(scenarios); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return (int)i;
	return -1;
}

/*
 * Create a model for scenario name with seed and npeers other peers
 * (1..SIMMODEL_MAX_PEERS), every knob at its initial value.  Returns NULL
 * when the scenario is unknown or npeers out of range.  Free it with
 * simmodel_free().
 */
struct simmodel *
simmodel_new(const char *name, uint64_t seed, int npeers)
{
	struct simmodel	*m;
	int		 sc, i, j, t;
	int		 order[SIMMODEL_MAX_PEERS];

	if ((sc = scenario_find(name)) == -1 || npeers < 1 ||
	    npeers > SIMMODEL_MAX_PEERS)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->sc = &scenarios[sc];
	m->seed = seed;
	xseed(m->nrng, seed);	/* the peers; every step reseeds */
	m->rng = m->nrng;
	for (i = 0; i < K_COUNT; i++)
		m->kv[i] = knobs[i].initial;
	m->npeers = npeers;
	for (i = 0; i < npeers; i++) {
		m->peer[i].offset = 4.0 * normrand(m);
		snprintf(m->peer[i].tag, sizeof(m->peer[i].tag), "p%d", i);
		order[i] = i;
	}
	/* Rank by the fixed offset: the best links are the direct ones. */
	for (i = 1; i < npeers; i++)
		for (j = i; j > 0 && m->peer[order[j - 1]].offset <
		    m->peer[order[j]].offset; j--) {
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (i = 0; i < npeers; i++)
		m->peer[order[i]].rank = i;
	m->direct = fmin(m->kv[K_MESH_MAXPEERS], npeers);
	m->cache_mb = fmin(m->kv[K_MEM_CACHE], 1.1 * cur(m)->ws_mb);
	m->util = 0.2;
	m->slot_air = C_FRAME_MS;
	return m;
}

/* Free a model; NULL is fine. */
void
simmodel_free(struct simmodel *m)
{
	free(m);
}

/*
 * Advance the model by SIMMODEL_STEP_MS and hand every sample of the step
 * to fn (which may be NULL).  Returns 1 when a new phase began at the start
 * of this step, else 0.
 */
int
simmodel_step(struct simmodel *m, simmodel_emit_fn fn, void *arg)
{
	const struct sn_phase	*ph;
	const struct sn_step	*st = &m->sc->steps[m->si];
	double			 t0 = (double)m->now;
	double			 t1 = t0 + SIMMODEL_STEP_MS, u;
	int			 changed = 0;

	if (st->seconds != 0 && m->now - m->phase_start >=
	    (uint64_t)st->seconds * 1000 && m->si + 1 < m->sc->nsteps) {
		m->si++;
		m->phase_start = m->now;
		changed = 1;
	}
	ph = cur(m);
	m->emit = fn;
	m->arg = arg;
	m->c_tx = m->c_rx = m->c_retx = m->c_drop = m->c_ops = 0;
	m->c_timeouts = m->c_views = m->c_vhit = m->c_vmiss = 0;
	m->cpu_ms = ph->cpu_base * SIMMODEL_STEP_MS + m->cpu_extra_ms;
	m->cpu_extra_ms = 0;
	m->cpu_verify_ms = 0;
	/* Polling wake-ups, and context switches past one thread a core. */
	m->cpu_ms += m->kv[K_CPU_WORKERS] * SIMMODEL_STEP_MS /
	    m->kv[K_CPU_IDLE] * 0.2;
	m->cpu_ms += fmax(0, m->kv[K_CPU_WORKERS] - SN_NCPU) * 0.04 *
	    SIMMODEL_STEP_MS;
	window_clear(m);
	reseed(m);

	mesh_update(m, ph, (m->now / SIMMODEL_STEP_MS) % 10 == 0);
	m->rng = m->nrng;
	net_run(m, ph, t0, t1);
	m->rng = m->crng;
	cons_run(m, ph, t0, t1);
	m->rng = m->mrng;
	mem_update(m, ph);
	m->rng = m->nrng;

	u = m->cpu_ms / (SIMMODEL_STEP_MS * SN_NCPU);
	m->util = 0.7 * m->util + 0.3 * u;
	m->util_verify = 0.7 * m->util_verify + 0.3 *
	    m->cpu_verify_ms / (SIMMODEL_STEP_MS * SN_NCPU);
	emit_step(m, ph, t1);
	m->now += SIMMODEL_STEP_MS;
	m->emit = NULL;
	m->arg = NULL;
	return changed;
}

/* Model time in ms since the start. */
uint64_t
simmodel_now_ms(const struct simmodel *m)
{
	return m->now;
}

/* Name of the phase the model is in ("calm", "congestion", ...). */
const char *
simmodel_phase(const struct simmodel *m)
{
	return cur(m)->name;
}

/* The number of knobs; simmodel_knob_at(i) for i below it. */
size_t
simmodel_knob_count(void)
{
	return K_COUNT;
}

/* The i-th knob's name, bounds and initial value, or NULL past the end. */
const struct simmodel_knob *
simmodel_knob_at(size_t i)
{
	return i < K_COUNT ? &knobs[i] : NULL;
}

static int
knob_find(const char *name)
{
	int	 i;

	for (i = 0; i < K_COUNT; i++)
		if (strcmp(knobs[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * Read a knob into *value (mem.trim reads as the last value written).
 * Returns 0, or -1 with a message in err when the knob is unknown.
 */
int
simmodel_knob_get(const struct simmodel *m, const char *name, double *value,
    char *err, size_t errlen)
{
	int	 i;

	if ((i = knob_find(name)) == -1) {
		snprintf(err, errlen, "unknown knob \"%s\"", name);
		return -1;
	}
	*value = m->kv[i];
	return 0;
}

/*
 * Set a knob.  Values outside the bounds, fractions for whole-number
 * knobs, NaN and infinities are refused, never clamped: -1 with a message
 * in err, and the model is unchanged.  Setting the trigger mem.trim (any
 * finite value) frees 90 % of the fragmentation at once.  Returns 0 on
 * success.
 */
int
simmodel_knob_set(struct simmodel *m, const char *name, double value,
    char *err, size_t errlen)
{
	const struct simmodel_knob	*k;
	int				 i;

	if ((i = knob_find(name)) == -1) {
		snprintf(err, errlen, "unknown knob \"%s\"", name);
		return -1;
	}
	k = &knobs[i];
	if (!isfinite(value)) {
		snprintf(err, errlen, "%s: value must be a finite number",
		    name);
		return -1;
	}
	if (k->trigger) {
		m->kv[i] = value;
		m->frag_mb *= 0.1;
		m->trims++;
		m->cpu_extra_ms += 400;	/* a compaction costs CPU */
		return 0;
	}
	if (value < k->min || value > k->max) {
		snprintf(err, errlen, "%s: %g is out of bounds [%g, %g]", name,
		    value, k->min, k->max);
		return -1;
	}
	if (k->integer && value != floor(value)) {
		snprintf(err, errlen, "%s: %g is not a whole number", name,
		    value);
		return -1;
	}
	m->kv[i] = value;
	return 0;
}

/*
 * Names of the scenarios, NULL-terminated, in the order of the manual.
 */
const char *
simmodel_scenario_name(size_t i)
{
	return i < nitems(scenarios) ? scenarios[i].name : NULL;
}
