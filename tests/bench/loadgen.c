/*
 * loadgen.c -- StatsD load generator for the ingest benchmark.
 *
 * Sends StatsD lines to a UDP address (host:port, loopback in the
 * benchmark) or a unix datagram socket (unix:/path), K lines per
 * datagram, at a given rate in lines per second, over a fixed set of
 * series, until a number of lines or of seconds is reached.  Everything
 * it sends is made up front from a fixed seed, so two runs send the same
 * bytes; the send loop only paces sendmmsg calls.
 *
 * Series: -c N series, each given a type by the mix -m T,G,C (percent of
 * timers, gauges, counters; the rest, if any, are histograms):
 *	timers	  lg.rtt_ms.<i/64>:<v>|ms|#peer:n<i%64>   (-T0: no tag,
 *		  lg.rtt_ms.<i>:<v>|ms), v about lognormal, median 2
 *	gauges	  lg.queue.<i>:<v>|g
 *	counters  lg.ops.<i>:1|c
 *	histos	  lg.bytes.<i>:<v>|h
 * with fixed-width numbers ("lg.rtt_ms.00012:02.345|ms|#peer:n07") and
 * the shorter types' names padded after "lg." with "_", so that every
 * line of a run has the same length (35 bytes, 25 without tags) and so
 * every datagram too (GSO below needs that).  Each pass over the pool
 * names every series once, in a shuffled order.
 *
 * -G (UDP only): send with UDP GSO (UDP_SEGMENT), up to 64 datagrams per
 * send, so the sending core pays the IP and UDP output path once per 64
 * datagrams instead of once per datagram.  GSO needs datagrams of one
 * size: with the equal lines above they are (were they not, the
 * shorter would be padded with "\n", empty lines that receivers skip).
 * The receiver still gets one datagram of K lines per datagram.  Without it, one core
 * of this machine's loopback sends only about 100k datagrams/s.
 *
 * Pacing: the loop sends what is due (rate x elapsed - sent), at most
 * -b datagrams per sendmmsg, and sleeps when nothing is due for more than
 * 100 us, else spins.  With -G it holds what is due until it fills one
 * GSO send or its first datagram has waited -q microseconds (default
 * 1000; 0: send each datagram as soon as it is due), as a client that
 * flushes its buffer every millisecond would: sent one by one, a paced
 * flow at a few hundred thousand datagrams/s went out in calls of about
 * one datagram, and GSO (and the receiver's GRO) saved nothing.  Rate 0 sends as fast as it can.  A sender that
 * fell behind (descheduled on a busy machine) owes at most LG_CATCHUP_NS
 * of lines: the rest is forgiven, counted as "behind_lines", and shows
 * in the rate achieved.  Else, with GSO, it would make up a 50 ms stall
 * in one burst at tens of times the rate, and the receiver's loss would
 * measure the sender's stalls.
 *
 * When done it prints one JSON line: what was sent (lines, datagrams,
 * bytes), for how long, the rate achieved, and send errors (datagrams the
 * kernel refused: they are not counted as sent).
 *
 * usage: loadgen -a ADDR [-r lines/s] [-k K] [-c series] [-m T,G,C]
 *	  [-T 0|1] [-n lines] [-t seconds] [-s seed] [-b batch] [-G]
 *	  [-q microseconds]
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LG_BATCH_MAX	1024
#define LG_POOL_LINES	65536		/* at least; rounded to K and c */
#define LG_LINE_MAX	96
#define LG_GSO_SEGS	64		/* the kernel's UDP_MAX_SEGMENTS */
#define LG_GSO_BYTES	65000		/* payload of one GSO send */
#define LG_CATCHUP_NS	2000000		/* most lateness made up in a burst */

enum lg_type { LG_TIMER, LG_GAUGE, LG_COUNTER, LG_HISTO };

struct lg_opts {
	const char	*addr;
	double		 rate;		/* lines/s; 0: flat out */
	unsigned int	 k;
	unsigned int	 series;
	unsigned int	 mix[3];	/* timers, gauges, counters: percent */
	int		 tags;
	uint64_t	 max_lines;
	double		 max_secs;
	uint64_t	 seed;
	unsigned int	 batch;
	int		 gso;
	uint64_t	 quantum_ns;	/* -G: longest hold of a due datagram */
};

struct lg_pool {
	char		*buf;
	size_t		*off, *len;	/* per datagram */
	size_t		 ndgram;
	size_t		 bytes;
	char		*fixed;		/* -G: datagram i at i * dlen */
	size_t		 dlen;		/* -G: the one datagram size */
};

static volatile sig_atomic_t	 stop;
static uint64_t			 rng;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: loadgen -a host:port|unix:/path [-r lines/s] "
	    "[-k lines/datagram] [-c series]\n"
	    "\t[-m timers,gauges,counters] [-T 0|1] [-n lines] [-t seconds] "
	    "[-s seed] [-b batch] [-G] [-q us]\n");
	exit(2);
}

static __attribute__((__noreturn__)) void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *
lg_alloc(size_t n)
{
	void	*p;

	if ((p = calloc(1, n)) == NULL)
		die("calloc");
	return p;
}

/* splitmix64: small, fast, fixed sequence for a seed. */
static uint64_t
rnd(void)
{
	uint64_t	z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
rnd01(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static unsigned long long
num_arg(const char *s, unsigned long long max)
{
	char			*ep;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &ep, 10);
	if (errno != 0 || ep == s || *ep != '\0' || v > max)
		usage();
	return v;
}

/* Natural line lengths, by type: see the formats in line_make(). */
static const int lg_natural[2][4] = {
	{ 25, 21, 16, 21 },		/* timers without a tag */
	{ 35, 21, 16, 21 },		/* timers with #peer */
};

/*
 * One line of series i into dst (LG_LINE_MAX bytes), pad filler "_"
 * characters after "lg." so that every line of a run is as long; returns
 * its length.
 */
static int
line_make(char *dst, const struct lg_opts *o, const uint8_t *types,
    unsigned int i, int width)
{
	static const char	 fill[] = "____________________";
	int			 pad = width - lg_natural[o->tags][types[i]];
	double			 v;

	switch (types[i]) {
	case LG_TIMER:
		/* About lognormal, median 2 ms, in (0.3, 12). */
		v = exp(log(2.0) + 1.2 * (rnd01() + rnd01() + rnd01() - 1.5));
		if (o->tags)
			return snprintf(dst, LG_LINE_MAX,
			    "lg.%.*srtt_ms.%05u:%06.3f|ms|#peer:n%02u", pad,
			    fill, i / 64, v, i % 64);
		return snprintf(dst, LG_LINE_MAX, "lg.%.*srtt_ms.%05u:%06.3f|ms",
		    pad, fill, i, v);
	case LG_GAUGE:
		return snprintf(dst, LG_LINE_MAX, "lg.%.*squeue.%05u:%04u|g",
		    pad, fill, i, (unsigned int)(rnd() % 5000));
	case LG_COUNTER:
		return snprintf(dst, LG_LINE_MAX, "lg.%.*sops.%05u:1|c", pad,
		    fill, i);
	default:
		return snprintf(dst, LG_LINE_MAX, "lg.%.*sbytes.%05u:%04u|h",
		    pad, fill, i, (unsigned int)(rnd() % 1500));
	}
}

/* Make the datagrams: passes over every series in a shuffled order. */
static void
pool_make(struct lg_pool *pl, const struct lg_opts *o)
{
	uint8_t		*types;
	unsigned int	*order, i, j, t, pick;
	size_t		 nlines, cap, n = 0, l;
	int		 w, width = 0;

	memset(pl, 0, sizeof(*pl));
	types = lg_alloc(o->series);
	for (i = 0; i < o->series; i++) {
		pick = (unsigned int)(rnd() % 100);
		if (pick < o->mix[0])
			types[i] = LG_TIMER;
		else if (pick < o->mix[0] + o->mix[1])
			types[i] = LG_GAUGE;
		else if (pick < o->mix[0] + o->mix[1] + o->mix[2])
			types[i] = LG_COUNTER;
		else
			types[i] = LG_HISTO;
		if (lg_natural[o->tags][types[i]] > width)
			width = lg_natural[o->tags][types[i]];
	}
	/* Whole passes over the series, a whole number of datagrams. */
	nlines = LG_POOL_LINES > o->series ? LG_POOL_LINES : o->series;
	nlines = (nlines + o->series - 1) / o->series * o->series;
	nlines = (nlines + o->k - 1) / o->k * o->k;
	cap = nlines * (LG_LINE_MAX + 1);
	pl->buf = lg_alloc(cap);
	pl->ndgram = nlines / o->k;
	pl->off = lg_alloc(pl->ndgram * sizeof(*pl->off));
	pl->len = lg_alloc(pl->ndgram * sizeof(*pl->len));
	order = lg_alloc(o->series * sizeof(*order));
	for (i = 0; i < o->series; i++)
		order[i] = i;
	for (l = 0; l < nlines; l++) {
		if (l % o->series == 0) {
			for (i = o->series - 1; i > 0; i--) {
				j = (unsigned int)(rnd() % (i + 1));
				t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		}
		if (l % o->k == 0)
			pl->off[l / o->k] = n;
		else
			pl->buf[n++] = '\n';
		w = line_make(pl->buf + n, o, types, order[l % o->series],
		    width);
		if (w != width) {
			fprintf(stderr, "loadgen: line of %d bytes, not %d\n",
			    w, width);
			exit(1);
		}
		n += (size_t)w;
		if (l % o->k == o->k - 1)
			pl->len[l / o->k] = n - pl->off[l / o->k];
	}
	pl->bytes = n;
	if (o->gso) {
		/* Equal lines make equal datagrams; pad if ever not. */
		for (l = 0; l < pl->ndgram; l++)
			if (pl->len[l] > pl->dlen)
				pl->dlen = pl->len[l];
		pl->fixed = lg_alloc(pl->ndgram * pl->dlen);
		memset(pl->fixed, '\n', pl->ndgram * pl->dlen);
		for (l = 0; l < pl->ndgram; l++)
			memcpy(pl->fixed + l * pl->dlen, pl->buf + pl->off[l],
			    pl->len[l]);
	}
	free(order);
	free(types);
}

static int
sock_open(const char *addr)
{
	struct sockaddr_in	 sin;
	struct sockaddr_un	 sun;
	char			 host[64];
	const char		*colon;
	int			 fd, sndbuf = 4 << 20;

	if (strncmp(addr, "unix:", 5) == 0) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(addr + 5) >= sizeof(sun.sun_path))
			usage();
		strcpy(sun.sun_path, addr + 5);
		if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			die(addr);
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    (size_t)(colon - addr) >= sizeof(host))
			usage();
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)num_arg(colon + 1, 65535));
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			usage();
		if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			die(addr);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
	    sizeof(sndbuf)) == -1 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF,
	    &sndbuf, sizeof(sndbuf)) == -1)
		die("SO_SNDBUF");
	return fd;
}

static void
opts_parse(int argc, char *argv[], struct lg_opts *o)
{
	char	*p, *ep;
	int	 ch, i;

	memset(o, 0, sizeof(*o));
	o->rate = 100000;
	o->k = 10;
	o->series = 1000;
	o->mix[0] = 60;
	o->mix[1] = 20;
	o->mix[2] = 20;
	o->tags = 1;
	o->max_lines = UINT64_MAX;
	o->max_secs = 10;
	o->seed = 1;
	o->batch = 64;
	o->quantum_ns = 1000000;
	while ((ch = getopt(argc, argv, "a:b:c:Gk:m:n:q:r:s:t:T:")) != -1) {
		switch (ch) {
		case 'G':
			o->gso = 1;
			break;
		case 'a':
			o->addr = optarg;
			break;
		case 'b':
			o->batch = (unsigned int)num_arg(optarg, LG_BATCH_MAX);
			break;
		case 'c':
			o->series = (unsigned int)num_arg(optarg, 99999);
			break;
		case 'k':
			o->k = (unsigned int)num_arg(optarg, 500);
			break;
		case 'm':
			p = optarg;
			for (i = 0; i < 3; i++) {
				errno = 0;
				o->mix[i] = (unsigned int)strtoul(p, &ep, 10);
				if (errno != 0 || ep == p || o->mix[i] > 100 ||
				    (i < 2 && *ep != ',') ||
				    (i == 2 && *ep != '\0'))
					usage();
				p = ep + 1;
			}
			if (o->mix[0] + o->mix[1] + o->mix[2] > 100)
				usage();
			break;
		case 'n':
			o->max_lines = num_arg(optarg, UINT64_MAX);
			break;
		case 'q':
			o->quantum_ns = num_arg(optarg, 1000000) * 1000;
			break;
		case 'r':
			o->rate = strtod(optarg, &ep);
			if (*ep != '\0' || !(o->rate >= 0))
				usage();
			break;
		case 's':
			o->seed = num_arg(optarg, UINT64_MAX);
			break;
		case 't':
			o->max_secs = strtod(optarg, &ep);
			if (*ep != '\0' || !(o->max_secs > 0))
				usage();
			break;
		case 'T':
			o->tags = (int)num_arg(optarg, 1);
			break;
		default:
			usage();
		}
	}
	if (o->addr == NULL || o->k == 0 || o->series == 0 || o->batch == 0 ||
	    optind != argc || (o->gso && strncmp(o->addr, "unix:", 5) == 0))
		usage();
}

int
main(int argc, char *argv[])
{
	static struct mmsghdr	 msgs[LG_BATCH_MAX];
	static struct iovec	 iov[LG_BATCH_MAX];
	struct lg_opts		 o;
	struct lg_pool		 pl;
	struct sigaction	 sa;
	struct timespec		 nap;
	uint64_t		 t0, t, limit_ns, lines = 0, dgrams = 0;
	uint64_t		 bytes = 0, errs = 0, calls = 0, due, want;
	uint64_t		 behind = 0, catchup, first;
	size_t			 next = 0, per = 1, segs[LG_BATCH_MAX], left;
	unsigned int		 i, nb, nmsg;
	int			 fd, n;

	opts_parse(argc, argv, &o);
	rng = o.seed;
	pool_make(&pl, &o);
	fd = sock_open(o.addr);
	if (o.gso) {
		int seg = (int)pl.dlen;

		if (pl.dlen * 2 > LG_GSO_BYTES) {
			fprintf(stderr, "loadgen: datagrams too big for -G\n");
			return 1;
		}
		if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg,
		    sizeof(seg)) == -1)
			die("UDP_SEGMENT");
		per = LG_GSO_BYTES / pl.dlen;
		if (per > LG_GSO_SEGS)
			per = LG_GSO_SEGS;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		die("sigaction");

	limit_ns = (uint64_t)(o.max_secs * 1e9);
	t0 = now_ns();
	for (;;) {
		t = now_ns() - t0;
		if (stop || t >= limit_ns || lines >= o.max_lines)
			break;
		/* Lines due by now, in whole datagrams. */
		if (o.rate > 0) {
			due = (uint64_t)((double)t * 1e-9 * o.rate) - behind;
			catchup = (uint64_t)(LG_CATCHUP_NS * 1e-9 * o.rate) +
			    o.k;
			if (due > lines + catchup) {
				behind += due - lines - catchup;
				due = lines + catchup;
			}
			if (due > o.max_lines)
				due = o.max_lines;
			want = due > lines ? (due - lines + o.k - 1) / o.k : 0;
			if (want == 0) {
				/* Next datagram due in (k / rate) s. */
				double gap = (double)(lines + o.k - due) /
				    o.rate;

				if (gap > 100e-6) {
					nap.tv_sec = 0;
					nap.tv_nsec = (long)(gap * 1e9) - 50000;
					nanosleep(&nap, NULL);
				}
				continue;
			}
			/* Hold a partial GSO send up to the quantum. */
			first = (uint64_t)((double)(lines + behind) / o.rate *
			    1e9);
			if (want < per && t < first + o.quantum_ns) {
				uint64_t wait = first + o.quantum_ns - t;

				if (wait > 100000) {
					nap.tv_sec = 0;
					nap.tv_nsec = (long)(wait - 50000);
					nanosleep(&nap, NULL);
				}
				continue;
			}
		} else {
			uint64_t rem = o.max_lines - lines;

			want = rem / o.k + (rem % o.k != 0);
		}
		/* nb datagrams in nmsg messages (GSO: up to per each). */
		nb = 0;
		for (nmsg = 0; nmsg < o.batch && nb < want; nmsg++) {
			left = want - nb;
			if (left > per)
				left = per;
			if (left > pl.ndgram - next)
				left = pl.ndgram - next;	/* no wrap */
			if (o.gso) {
				iov[nmsg].iov_base = pl.fixed + next * pl.dlen;
				iov[nmsg].iov_len = left * pl.dlen;
			} else {
				iov[nmsg].iov_base = pl.buf + pl.off[next];
				iov[nmsg].iov_len = pl.len[next];
			}
			msgs[nmsg].msg_hdr.msg_iov = &iov[nmsg];
			msgs[nmsg].msg_hdr.msg_iovlen = 1;
			segs[nmsg] = left;
			nb += (unsigned int)left;
			next = (next + left) % pl.ndgram;
		}
		calls++;
		n = sendmmsg(fd, msgs, nmsg, 0);
		if (n == -1) {
			if (errno == EINTR)
				n = 0;
			else if (errno == ENOBUFS || errno == EAGAIN ||
			    errno == ECONNREFUSED) {
				/* Refused: not sent; a receiver backlog. */
				errs++;
				n = 0;
			} else
				die("sendmmsg");
		}
		for (i = 0; i < (unsigned int)n; i++) {
			bytes += msgs[i].msg_len;
			dgrams += segs[i];
			lines += segs[i] * o.k;
		}
		/* Not sent: take them again next time. */
		for (i = (unsigned int)n; i < nmsg; i++)
			next = (next + pl.ndgram - segs[i]) % pl.ndgram;
	}
	t = now_ns() - t0;
	printf("{\"loadgen\":{\"addr\":\"%s\",\"k\":%u,\"series\":%u,"
	    "\"tags\":%d,\"gso\":%d,\"quantum_us\":%llu,"
	    "\"mix\":[%u,%u,%u],\"seed\":%llu,"
	    "\"target_lps\":%.0f,\"lines\":%llu,\"datagrams\":%llu,"
	    "\"bytes\":%llu,\"send_errors\":%llu,\"calls\":%llu,"
	    "\"behind_lines\":%llu,\"seconds\":%.3f,\"lps\":%.0f}}\n", o.addr, o.k, o.series,
	    o.tags, o.gso, (unsigned long long)(o.quantum_ns / 1000),
	    o.mix[0], o.mix[1], o.mix[2], (unsigned long long)o.seed,
	    o.rate, (unsigned long long)lines, (unsigned long long)dgrams,
	    (unsigned long long)bytes, (unsigned long long)errs,
	    (unsigned long long)calls, (unsigned long long)behind,
	    (double)t / 1e9,
	    (double)lines / ((double)t / 1e9));
	close(fd);
	free(pl.buf);
	free(pl.off);
	free(pl.len);
	free(pl.fixed);
	return 0;
}
