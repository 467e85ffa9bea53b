/*
 * ingest_statsd.c -- StatsD listeners: UDP (IPv4 or IPv6) and a unix
 * datagram socket, drained in batches with recvmmsg into the parser
 * (statsd.c) and the registry (metrics.c).
 *
 * The kernel's drop counter for each socket (SO_RXQ_OVFL) is kept, so
 * loss in the socket buffer is visible next to the parser's drops.
 *
 * UDP sockets ask for UDP_GRO: a sender that hands the kernel a train of
 * equal-sized datagrams in one call (UDP GSO, UDP_SEGMENT) has it
 * delivered here as one message with the segment size attached, which
 * ingest_dgrams() cuts back into the datagrams it was made of.  The
 * kernel then pays its receive path once per train instead of once per
 * datagram, the bulk of the cost per line; datagrams sent one by one
 * arrive as before.
 *
 * One read callback handles at most INGEST_ROUNDS batches before it
 * returns to the event loop, so a flood cannot starve ticks or the API.
 *
 * Light traffic is read in batches too: when a wake-up finds less than
 * one recvmmsg batch on a UDP socket, the socket stops waking the loop
 * and is read again later, by a timer, for as long as that finds data;
 * an empty read goes back to waiting on the socket.  The timer's delay
 * adapts to the traffic (ingest_defer_next()): it starts at
 * INGEST_DEFER_MIN_MS, doubles while a read finds fewer than
 * INGEST_WAKE_LOW datagrams and the socket buffer was under
 * 1/INGEST_FILL_LOW full, halves when a read finds more than
 * INGEST_WAKE_HIGH or the buffer was over 1/INGEST_FILL_HIGH full, and
 * never exceeds the time a burst of INGEST_BURST_BPMS bytes (as the
 * kernel counts them, about 1 KiB per small datagram) a millisecond
 * takes to fill the buffer, nor INGEST_DEFER_MAX_MS.  Each wake-up finds
 * the code and the series cold (other processes ran meanwhile), so its
 * cost is paid per wake-up and per series it touches, not per line: at
 * 100k lines/s in datagrams of 10 lines, 64 ms gives ~16 wake-ups/s with
 * ~640 datagrams, about six lines per series for 1,000 series, where 16
 * ms (the first design) left under two and cost 40% more CPU.  The
 * price is at most 64 ms of latency on samples that feed windows of
 * seconds.  With the default 8 MiB buffer (16 MiB as the kernel counts)
 * the delay may reach 64 ms; an unprivileged daemon held to rmem_max
 * (often 208 KiB) stays at the 2 ms minimum.  What the buffer rule cannot
 * see is a burst that starts within one delay and outruns
 * INGEST_BURST_BPMS; the read after such a burst goes back to the
 * socket.  Under heavy traffic every read is full and nothing is
 * deferred.  Unix datagram sockets are never deferred: their queue holds
 * only net.unix.max_dgram_qlen datagrams. *
 * How lines are read follows the configuration's "statsd" object: the
 * gauge sign rule of the socket a datagram came from, and the container,
 * cardinality and timestamp fields (statsd_opts).  Events and service
 * checks go to ingest_events.c.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include <linux/sock_diag.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "meshtuned.h"

#define INGEST_BATCH	32		/* datagrams per recvmmsg */
#define INGEST_DGRAM	65536		/* largest datagram kept whole */
#define INGEST_ROUNDS	64		/* batches per wake-up */

struct ingest_sock {
	int		 fd;
	struct event	*ev;
	struct event	*ev_defer;	/* light traffic: the read timer */
	unsigned int	 defer_ms;	/* its current delay */
	char		*desc;		/* "udp 127.0.0.1:8125" */
	char		*unix_path;	/* to unlink at stop */
	uint32_t	 kernel_drops;	/* last SO_RXQ_OVFL value seen */
	uint8_t		 gauge_delta;	/* statsd.gauge_sign_*: "delta" */
	struct ingest	*in;
};

struct ingest {
	struct daemon		*d;
	struct ingest_sock	 socks[2];
	size_t			 nsocks;
	struct statsd_parser	 parser;
	struct metrics_batch	 batch;		/* lines of one recvmmsg */
	struct ingest_events	*events;	/* _e{...} and _sc|... */
	struct ingest_stats	 stats;
	/* recvmmsg scratch: pages are touched only as datagrams need them. */
	struct mmsghdr		 msgs[INGEST_BATCH];
	struct iovec		 iov[INGEST_BATCH];
	char			 ctl[INGEST_BATCH][CMSG_SPACE(sizeof(uint32_t)) +
				    CMSG_SPACE(sizeof(int))];
	char			*bufs;		/* INGEST_BATCH x INGEST_DGRAM */
};


/*
 * Set the parser's options from a configuration: what the "statsd" keys
 * say, the same for every socket but the gauge sign rule, which
 * ingest_lines_begin() sets per socket.  Returns 1 if a line may now
 * parse otherwise than before.
 */
static int
ingest_apply_conf(struct ingest *in, const struct mt_config *c)
{
	struct statsd_opts	*o = &in->parser.opts, old = *o;
	size_t			 i;

	o->container_tag = strcmp(c->statsd_container_id, "tag") == 0;
	o->cardinality_tag = strcmp(c->statsd_cardinality, "tag") == 0;
	o->timestamps = strcmp(c->statsd_timestamps, "window") == 0;
	o->max_age_s = c->window_seconds;
	for (i = 0; i < in->nsocks; i++)
		in->socks[i].gauge_delta = strcmp(in->socks[i].unix_path ?
		    c->statsd_gauge_unix : c->statsd_gauge_udp, "delta") == 0;
	metrics_set_set_max(in->d->metrics, (size_t)c->statsd_set_max);
	return old.container_tag != o->container_tag ||
	    old.cardinality_tag != o->cardinality_tag ||
	    old.timestamps != o->timestamps || old.max_age_s != o->max_age_s;
}

/* Before the datagrams of a read from is: its options. */
static void
ingest_lines_begin(struct ingest_sock *is)
{
	struct statsd_opts	*o = &is->in->parser.opts;

	o->gauge_delta = is->gauge_delta;
	if (o->timestamps)
		o->now_s = (int64_t)(clock_wall_ms() / 1000);
}

/* The cumulative drop count the kernel attached to a message, if any. */
static void
ingest_note_drops(struct ingest_sock *is, struct msghdr *mh)
{
	struct cmsghdr	*c;
	uint32_t	 drops;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
			memcpy(&drops, CMSG_DATA(c), sizeof(drops));
			if (drops != is->kernel_drops) {
				is->in->stats.kernel_drops +=
				    (uint32_t)(drops - is->kernel_drops);
				is->kernel_drops = drops;
			}
		}
	}
}

/* The segment size of a message UDP GRO coalesced, or 0. */
static size_t
ingest_gro_size(struct msghdr *mh)
{
	struct cmsghdr	*c;
	int		 size;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			memcpy(&size, CMSG_DATA(c), sizeof(size));
			return size > 0 ? (size_t)size : 0;
		}
	return 0;
}

/*
 * Parse the datagrams of one message (one, or a coalesced train of
 * datagrams of seg bytes, the last maybe shorter) into the batch;
 * returns how many.
 */
static unsigned int
ingest_dgrams(struct ingest *in, const char *buf, size_t len, size_t seg)
{
	struct metrics		*m = in->d->metrics;
	size_t			 off = 0, n;
	unsigned int		 count = 0;

	if (seg == 0)
		seg = len;
	do {
		n = len - off < seg ? len - off : seg;
		metrics_batch_datagram(&in->batch, m, buf + off, n,
		    in->stats.now_ms);
		off += n;
		count++;
	} while (off < len);
	return count;
}

/*
 * Read and ingest up to INGEST_ROUNDS batches of messages; returns how
 * many datagrams, or -1 if the socket still has more.
 */
static int
ingest_drain(struct ingest_sock *is)
{
	struct ingest		*in = is->in;
	struct metrics		*m = in->d->metrics;
	int			 round, n, i, got = 0;
	unsigned int		 dgrams;

	for (round = 0; round < INGEST_ROUNDS; round++) {
		for (i = 0; i < INGEST_BATCH; i++) {
			in->msgs[i].msg_hdr.msg_controllen = sizeof(in->ctl[i]);
			in->msgs[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(is->fd, in->msgs, INGEST_BATCH, MSG_DONTWAIT,
		    NULL);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				in->stats.recv_errors++;
				log_warn("ingest: %s: recvmmsg", is->desc);
			}
			return got;
		}
		in->stats.now_ms = clock_mono_ms();
		ingest_lines_begin(is);
		for (i = 0; i < n; i++) {
			struct msghdr *mh = &in->msgs[i].msg_hdr;

			if (mh->msg_flags & MSG_TRUNC) {
				/* Larger than INGEST_DGRAM: cannot be whole. */
				in->stats.datagrams++;
				in->stats.truncated++;
				got++;
				continue;
			}
			dgrams = ingest_dgrams(in, in->iov[i].iov_base,
			    in->msgs[i].msg_len, ingest_gro_size(mh));
			in->stats.datagrams += dgrams;
			got += (int)dgrams;
		}
		/* Before the buffers are read into again. */
		metrics_batch_flush(&in->batch, m, in->stats.now_ms);
		if (n > 0)
			ingest_note_drops(is,
			    &in->msgs[n - 1].msg_hdr);
		if (n < INGEST_BATCH)
			return got;
	}
	return -1;
}

/*
 * The delay before the next deferred read, from the current one (ms),
 * the datagrams the read just made found (got), and how full the socket
 * buffer was before it (queued of bufsize bytes; bufsize 0: not known):
 * twice as long while reads find little and the buffer is nearly empty,
 * half when a read finds much or the buffer is filling, never longer
 * than a burst of INGEST_BURST_BPMS takes to fill the buffer
 * (INGEST_DEFER_BLIND_MS if its size is not known), always within
 * [INGEST_DEFER_MIN_MS, INGEST_DEFER_MAX_MS].  Pure: the policy of
 * ingest_defer_cb().
 */
unsigned int
ingest_defer_next(unsigned int ms, int got, size_t queued, size_t bufsize)
{
	int		full = bufsize > 0 && queued > bufsize / INGEST_FILL_HIGH;
	int		roomy = bufsize == 0 || queued < bufsize / INGEST_FILL_LOW;
	size_t		cap = bufsize > 0 ? bufsize / INGEST_BURST_BPMS :
			    INGEST_DEFER_BLIND_MS;

	if (cap > INGEST_DEFER_MAX_MS)
		cap = INGEST_DEFER_MAX_MS;
	if (got > INGEST_WAKE_HIGH || full) {
		if (ms > INGEST_DEFER_MIN_MS)
			ms /= 2;
	} else if (got < INGEST_WAKE_LOW && roomy && ms < cap)
		ms *= 2;
	if (ms > cap)
		ms = (unsigned int)cap;
	if (ms < INGEST_DEFER_MIN_MS)
		ms = INGEST_DEFER_MIN_MS;
	return ms;
}

/*
 * Bytes queued in the socket's receive buffer and its size, as the kernel
 * counts them (skb overhead included); both 0 if it cannot tell.
 */
static void
ingest_fill(const struct ingest_sock *is, size_t *queued, size_t *bufsize)
{
	uint32_t	mem[SK_MEMINFO_VARS];
	socklen_t	len = sizeof(mem);

	*queued = *bufsize = 0;
	if (getsockopt(is->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
	    len > SK_MEMINFO_RCVBUF * sizeof(mem[0])) {
		*queued = mem[SK_MEMINFO_RMEM_ALLOC];
		*bufsize = mem[SK_MEMINFO_RCVBUF];
	}
}

/* Read again defer_ms from now; -1 if the timer cannot be set. */
static int
ingest_defer(struct ingest_sock *is)
{
	struct timeval	tv;

	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)is->defer_ms * 1000;
	return evtimer_add(is->ev_defer, &tv);
}

/* The socket is readable: drain it; if that was little, defer the next. */
static void
ingest_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ingest_sock	*is = arg;
	int			 got;

	got = ingest_drain(is);
	/*
	 * A unix datagram socket queues at most net.unix.max_dgram_qlen
	 * datagrams (often 10) and blocks or refuses its sender past that:
	 * it is read as soon as it is readable, never later.
	 */
	if (got < 0 || got >= INGEST_BATCH || is->unix_path != NULL ||
	    event_del(is->ev) == -1)
		return;
	is->defer_ms = INGEST_DEFER_MIN_MS;
	if (ingest_defer(is) == -1) {
		log_warnx("ingest: %s: cannot defer reads", is->desc);
		if (event_add(is->ev, NULL) == -1)
			fatalx("ingest: %s: cannot watch the socket again",
			    is->desc);
	}
}

/*
 * Deferred read: again later while there is data, sooner or later as the
 * read found much or little; else back to waiting on the socket.
 */
static void
ingest_defer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ingest_sock	*is = arg;
	size_t			 queued, bufsize;
	int			 got;

	ingest_fill(is, &queued, &bufsize);
	got = ingest_drain(is);
	if (got > 0) {
		is->defer_ms = ingest_defer_next(is->defer_ms, got, queued,
		    bufsize);
		if (ingest_defer(is) == 0)
			return;
	}
	/* Idle, more than a wake-up's worth, or no timer: the socket. */
	if (event_add(is->ev, NULL) == -1)
		fatalx("ingest: %s: cannot watch the socket again", is->desc);
}

/* Set the receive buffer, forcing past rmem_max when permitted. */
static void
ingest_rcvbuf(struct ingest_sock *is, int want)
{
	int		got = 0;
	socklen_t	len = sizeof(got);

	if (setsockopt(is->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want,
	    sizeof(want)) == -1 &&
	    setsockopt(is->fd, SOL_SOCKET, SO_RCVBUF, &want,
	    sizeof(want)) == -1)
		log_warn("ingest: %s: SO_RCVBUF %d", is->desc, want);
	if (getsockopt(is->fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0)
		log_info("ingest: %s: receive buffer %d bytes (asked %d)",
		    is->desc, got / 2, want);
	is->in->stats.rcvbuf = got / 2;
}

static int
ingest_bind_udp(struct ingest_sock *is, const char *addr)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 one = 1;
	char			 port[8];

	if (config_parse_addr(addr, &ss, &len) == -1) {
		log_warnx("ingest: bad address %s", addr);
		return -1;
	}
	is->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (is->fd == -1) {
		log_warn("ingest: socket for %s", addr);
		return -1;
	}
	if (bind(is->fd, (struct sockaddr *)&ss, len) == -1) {
		log_warn("ingest: cannot bind udp %s", addr);
		return -1;
	}
	len = sizeof(ss);
	if (getsockname(is->fd, (struct sockaddr *)&ss, &len) == -1) {
		log_warn("ingest: getsockname");
		return -1;
	}
	snprintf(port, sizeof(port), "%u", ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port));
	is->in->stats.udp_port = atoi(port);
	xasprintf(&is->desc, "udp %.*s:%s", (int)(strrchr(addr, ':') - addr),
	    addr, port);
	if (setsockopt(is->fd, SOL_SOCKET, SO_RXQ_OVFL, &one,
	    sizeof(one)) == -1)
		log_warn("ingest: %s: SO_RXQ_OVFL (kernel drops not counted)",
		    is->desc);
	if (setsockopt(is->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == -1)
		log_warn("ingest: %s: UDP_GRO (trains of datagrams are read "
		    "one by one)", is->desc);
	return 0;
}

static int
ingest_bind_unix(struct ingest_sock *is, const char *path)
{
	struct sockaddr_un	sun;
	struct stat		st;

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("ingest: %s exists and is not a socket", path);
			return -1;
		}
		if (unlink(path) == -1) {
			log_warn("ingest: unlink %s", path);
			return -1;
		}
	}
	is->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (is->fd == -1) {
		log_warn("ingest: socket for %s", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	/*
	 * The node may run as another user of the same group: mode 0660,
	 * whatever the umask.  Linux makes the file with the socket's mode
	 * less the umask, so it is never more open than that, and chmod
	 * sets it exactly, on the socket's name itself: not following a
	 * symlink someone who may write in its directory put there.
	 */
	if (fchmod(is->fd, 0660) == -1 ||
	    bind(is->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("ingest: cannot bind %s", path);
		return -1;
	}
	if (fchmodat(AT_FDCWD, path, 0660, AT_SYMLINK_NOFOLLOW) == -1)
		log_warn("ingest: chmod %s", path);
	is->unix_path = xstrdup(path);
	xasprintf(&is->desc, "unix %s", path);
	return 0;
}

static int
ingest_open(struct ingest *in, const char *addr, int is_unix)
{
	struct ingest_sock	*is = &in->socks[in->nsocks++];

	is->in = in;
	is->fd = -1;
	if ((is_unix ? ingest_bind_unix(is, addr) :
	    ingest_bind_udp(is, addr)) == -1)
		return -1;
	ingest_rcvbuf(is, (int)in->d->conf->statsd_rcvbuf);
	is->ev = event_new(in->d->base, is->fd, EV_READ | EV_PERSIST,
	    ingest_read_cb, is);
	is->ev_defer = evtimer_new(in->d->base, ingest_defer_cb, is);
	if (is->ev == NULL || is->ev_defer == NULL ||
	    event_add(is->ev, NULL) == -1) {
		log_warnx("ingest: cannot watch %s", is->desc);
		return -1;
	}
	log_info("ingest: listening on %s", is->desc);
	return 0;
}

/* Open the StatsD listeners of the configuration; none is fine. */
int
ingest_start(struct daemon *d)
{
	struct ingest	*in;
	int		 i;

	in = d->ingest = xcalloc(1, sizeof(*in));
	in->d = d;
	statsd_init(&in->parser);
	metrics_batch_init(&in->batch, &in->parser);
	in->events = ingest_events_new(d);
	in->batch.event_fn = ingest_events_line;
	in->batch.event_arg = in->events;
	in->bufs = xmalloc((size_t)INGEST_BATCH * INGEST_DGRAM);
	for (i = 0; i < INGEST_BATCH; i++) {
		in->iov[i].iov_base = in->bufs + (size_t)i * INGEST_DGRAM;
		in->iov[i].iov_len = INGEST_DGRAM;
		in->msgs[i].msg_hdr.msg_iov = &in->iov[i];
		in->msgs[i].msg_hdr.msg_iovlen = 1;
		in->msgs[i].msg_hdr.msg_control = in->ctl[i];
	}
	if (d->conf->statsd_udp != NULL &&
	    ingest_open(in, d->conf->statsd_udp, 0) == -1)
		return -1;
	if (d->conf->statsd_unix != NULL &&
	    ingest_open(in, d->conf->statsd_unix, 1) == -1)
		return -1;
	(void)ingest_apply_conf(in, d->conf);
	if (in->nsocks == 0)
		log_info("ingest: no StatsD listener configured");
	return 0;
}

/* Close the listeners; frees what ingest_start made, even half-made. */
void
ingest_stop(struct daemon *d)
{
	struct ingest	*in = d->ingest;
	size_t		 i;

	if (in == NULL)
		return;
	for (i = 0; i < in->nsocks; i++) {
		struct ingest_sock *is = &in->socks[i];

		if (is->ev != NULL)
			event_free(is->ev);
		if (is->ev_defer != NULL)
			event_free(is->ev_defer);
		if (is->fd != -1)
			close(is->fd);
		if (is->unix_path != NULL && unlink(is->unix_path) == -1)
			log_warn("ingest: unlink %s", is->unix_path);
		free(is->unix_path);
		free(is->desc);
	}
	ingest_events_free(in->events);
	free(in->bufs);
	free(in);
	d->ingest = NULL;
}

/* Listener addresses take effect at restart; the buffer size at once. */
int
ingest_reload(struct daemon *d, const struct mt_config *nc)
{
	const struct mt_config	*oc = d->conf;
	size_t			 i;

	if (!config_same(oc->statsd_udp, nc->statsd_udp) ||
	    !config_same(oc->statsd_unix, nc->statsd_unix))
		log_warnx("ingest: listen.statsd_* changed; it takes effect "
		    "when meshtuned restarts");
	if (oc->statsd_rcvbuf != nc->statsd_rcvbuf)
		for (i = 0; i < d->ingest->nsocks; i++)
			ingest_rcvbuf(&d->ingest->socks[i],
			    (int)nc->statsd_rcvbuf);
	if (ingest_apply_conf(d->ingest, nc))
		metrics_forget_forms(d->metrics);
	return 0;
}

/* Counters for /v1/status and /metrics. */
const struct ingest_stats *
ingest_stats(const struct daemon *d)
{
	return &d->ingest->stats;
}

/* The events writer's counters: rows written, folded, dropped. */
const struct ingest_events_stats *
ingest_event_stats(const struct daemon *d)
{
	return ingest_events_stats(d->ingest->events);
}

/* The parser's counters: lines read and errors by reason. */
const struct statsd_stats *
ingest_parser_stats(const struct daemon *d)
{
	return &d->ingest->parser.stats;
}
