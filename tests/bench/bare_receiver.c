/*
 * bare_receiver.c -- the ceiling for the ingest benchmark: the least a
 * StatsD receiver can do and still be one.
 *
 * Binds a UDP socket on 127.0.0.1 (port 0 unless -p), asks for an 8 MiB
 * receive buffer, drains it with blocking recvmmsg (64 datagrams of up to
 * 64 KiB), splits each datagram into lines, reads each line's name up to
 * ":", its first value (a plain decimal, by hand) and its type up to the
 * next "|", and adds the value to a per-name entry of an open-addressing
 * hash table (FNV-1a of the name).  Tags and rates are not looked at.  No
 * meshtune code is used, on purpose.
 *
 * With -g it asks for UDP_GRO, as meshtuned does, and cuts a coalesced
 * train of datagrams back into datagrams by the segment size the kernel
 * attaches; without, every datagram is one message.
 *
 * It prints {"port":N} on start.  SIGUSR1 prints a report line, SIGTERM
 * or SIGINT prints one and exits:
 *	{"bare":{"lines":..,"bad":..,"datagrams":..,"names":..,
 *	"kernel_drops":..}}
 * kernel_drops is the socket's SO_RXQ_OVFL counter.
 *
 * usage: bare_receiver [-g] [-p port]
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BR_BATCH	64
#define BR_DGRAM	65536
#define BR_TABLE	(1u << 16)	/* names; full table: counted as bad */
#define BR_NAME_MAX	200

struct br_entry {
	uint64_t	 hash;
	uint32_t	 len;		/* 0: empty */
	char		 name[BR_NAME_MAX];
	uint64_t	 count;
	double		 sum;
};

static volatile sig_atomic_t	 report, stop;
static struct br_entry		*table;
static uint64_t			 nlines, nbad, ndgrams, nnames, kdrops;
static uint32_t			 kdrops_last;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else
		stop = 1;
}

static __attribute__((__noreturn__)) void
die(const char *what)
{
	fprintf(stderr, "bare_receiver: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The entry of name, made if new; NULL if the table is full. */
static struct br_entry *
lookup(const char *name, uint32_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	uint32_t	 i, n;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ULL;
	for (i = (uint32_t)h & (BR_TABLE - 1), n = 0; n < BR_TABLE;
	    i = (i + 1) & (BR_TABLE - 1), n++) {
		struct br_entry *e = &table[i];

		if (e->len == 0) {
			if (nnames >= BR_TABLE / 2)
				return NULL;
			e->hash = h;
			e->len = len;
			memcpy(e->name, name, len);
			nnames++;
			return e;
		}
		if (e->hash == h && e->len == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	}
	return NULL;
}

/* One line [p, e): name ":" value ... "|" type ...; 0 or -1 (bad). */
static int
line(const char *p, const char *e)
{
	const char		*name = p, *colon;
	struct br_entry		*ent;
	double			 v = 0, scale = 0;
	int			 digits = 0;

	colon = memchr(p, ':', (size_t)(e - p));
	if (colon == NULL || colon == name || colon - name > BR_NAME_MAX)
		return -1;
	for (p = colon + 1; p < e && *p != '|' && *p != ':'; p++) {
		if (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p - '0');
			scale *= 10;
			digits++;
		} else if (*p == '.' && scale == 0)
			scale = 1;
		else if (!(p == colon + 1 && (*p == '-' || *p == '+')))
			return -1;
	}
	if (digits == 0)
		return -1;
	if (scale > 1)
		v /= scale;
	while (p < e && *p != '|')
		p++;
	if (p == e || p + 1 == e)
		return -1;		/* no type */
	if ((ent = lookup(name, (uint32_t)(colon - name))) == NULL)
		return -1;
	ent->count++;
	ent->sum += v;
	return 0;
}

static void
datagram(const char *p, size_t len)
{
	const char	*e = p + len, *nl;

	while (p < e) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			nl = e;
		if (nl > p) {
			nlines++;
			if (line(p, nl) == -1)
				nbad++;
		}
		p = nl + 1;
	}
}

static void
print_report(void)
{
	printf("{\"bare\":{\"lines\":%llu,\"bad\":%llu,\"datagrams\":%llu,"
	    "\"names\":%llu,\"kernel_drops\":%llu}}\n",
	    (unsigned long long)nlines, (unsigned long long)nbad,
	    (unsigned long long)ndgrams, (unsigned long long)nnames,
	    (unsigned long long)kdrops);
	fflush(stdout);
}

static void
note_drops(struct msghdr *mh)
{
	struct cmsghdr	*c;
	uint32_t	 d;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SO_RXQ_OVFL) {
			memcpy(&d, CMSG_DATA(c), sizeof(d));
			kdrops += (uint32_t)(d - kdrops_last);
			kdrops_last = d;
		}
}

/* One message: a datagram, or a GRO train of datagrams of seg bytes. */
static void
message(const char *p, size_t len, struct msghdr *mh)
{
	struct cmsghdr	*c;
	size_t		 seg = len, n;
	int		 size;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			memcpy(&size, CMSG_DATA(c), sizeof(size));
			if (size > 0)
				seg = (size_t)size;
		}
	do {
		n = len < seg ? len : seg;
		ndgrams++;
		datagram(p, n);
		p += n;
		len -= n;
	} while (len > 0);
}

int
main(int argc, char *argv[])
{
	static struct mmsghdr	 msgs[BR_BATCH];
	static struct iovec	 iov[BR_BATCH];
	static char		 ctl[BR_BATCH][CMSG_SPACE(sizeof(uint32_t)) +
				    CMSG_SPACE(sizeof(int))];
	struct sockaddr_in	 sin;
	struct sigaction	 sa;
	struct timeval		 tmo = { 0, 100000 };
	socklen_t		 slen = sizeof(sin);
	char			*bufs;
	int			 fd, ch, i, n, one = 1, gro = 0;
	int			 rcvbuf = 8 << 20;
	long			 port = 0;

	while ((ch = getopt(argc, argv, "gp:")) != -1) {
		switch (ch) {
		case 'g':
			gro = 1;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			if (port < 0 || port > 65535) {
				fprintf(stderr, "bare_receiver: bad port\n");
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: bare_receiver [-g] [-p port]\n");
			return 2;
		}
	}

	if ((table = calloc(BR_TABLE, sizeof(*table))) == NULL ||
	    (bufs = malloc((size_t)BR_BATCH * BR_DGRAM)) == NULL)
		die("malloc");
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	    sizeof(rcvbuf)) == -1 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF,
	    &rcvbuf, sizeof(rcvbuf)) == -1)
		die("SO_RCVBUF");
	if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) == -1)
		die("SO_RXQ_OVFL");
	if (gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == -1)
		die("UDP_GRO");
	/* Wake up now and then to see a signal that came just before. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) == -1)
		die("SO_RCVTIMEO");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("bind");
	if (getsockname(fd, (struct sockaddr *)&sin, &slen) == -1)
		die("getsockname");

	/* No SA_RESTART: a signal ends a blocked recvmmsg with EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (sigaction(SIGUSR1, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		die("sigaction");
	printf("{\"port\":%u}\n", ntohs(sin.sin_port));
	fflush(stdout);

	for (i = 0; i < BR_BATCH; i++) {
		iov[i].iov_base = bufs + (size_t)i * BR_DGRAM;
		iov[i].iov_len = BR_DGRAM;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_control = ctl[i];
	}
	while (!stop) {
		if (report) {
			report = 0;
			print_report();
		}
		for (i = 0; i < BR_BATCH; i++)
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		n = recvmmsg(fd, msgs, BR_BATCH, MSG_WAITFORONE, NULL);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("recvmmsg");
		}
		for (i = 0; i < n; i++)
			message(iov[i].iov_base, msgs[i].msg_len,
			    &msgs[i].msg_hdr);
		if (n > 0)
			note_drops(&msgs[n - 1].msg_hdr);
	}
	print_report();
	close(fd);
	free(bufs);
	free(table);
	return 0;
}
