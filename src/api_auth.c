/*
 * api_auth.c -- who may ask the API what: the checks every request
 * passes before its handler runs, and the API token.
 *
 * meshtuned runs as root beside a live node, and any web page the
 * operator opens can make the browser send requests to 127.0.0.1.  So:
 *
 *	Host must name this server: localhost, a loopback address, the
 *	numeric address the client connected to, or one of listen.api_hosts
 *	(and, if it has a port, the bound one).  A page whose own name was
 *	made to resolve to 127.0.0.1 (DNS rebinding) sends its own name:
 *	421, for reads too.
 *
 *	Origin, when sent, must be such a server too (http, same port), and
 *	Sec-Fetch-Site, when sent, "same-origin" or "none": 403.  A
 *	browser sends both with every cross-site request it makes.
 *
 *	A request that changes state (any method but GET and HEAD, so a
 *	route added later is covered) needs a credential: the token that
 *	api_auth_new writes to a file only meshtuned's user can read, sent
 *	as "Authorization: Bearer TOKEN", or the unix socket's peer
 *	credentials (SO_PEERCRED) of root or of meshtuned's own user.  A
 *	browser cannot send an Authorization header cross-site without a
 *	CORS preflight, which the API never grants: 401 without it, 403
 *	with a wrong one.  Its Content-Type, if any, must be
 *	application/json, never one of the types a browser sends
 *	cross-site without asking (text/plain, forms): 415.
 *
 *	Each header these checks read (Host, Origin, Sec-Fetch-Site,
 *	Content-Type, Authorization) comes at most once: a proxy in front
 *	could check one copy and meshtuned read the other.  400.
 *
 * Every refusal is a JSON error saying what was refused and why.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "meshtuned.h"

#define API_TOKEN_BYTES	32
#define API_TOKEN_HEX	(API_TOKEN_BYTES * 2)

struct api_auth {
	char			*token_file;
	char			 token[API_TOKEN_HEX + 1];
	dev_t			 dev;		/* the token file we wrote */
	ino_t			 ino;
	int			 port;		/* bound TCP port; 0: unix */
	struct conf_strlist	 hosts;		/* listen.api_hosts (copies) */
	struct api_auth_stats	 stats;
};

/* A random token in hex.  Returns 0, or -1 with errno set. */
static int
auth_random(char hex[API_TOKEN_HEX + 1])
{
	unsigned char	 b[API_TOKEN_BYTES];
	size_t		 got = 0, i;
	ssize_t		 n;

	while (got < sizeof(b)) {
		if ((n = getrandom(b + got, sizeof(b) - got, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	for (i = 0; i < sizeof(b); i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/*
 * Write the token to a new file beside path, mode 0600, and rename it
 * into place (a symlink or anything else at path is replaced, never
 * followed).  Returns 0, or -1 with the reason in err.
 */
static int
auth_write_token(struct api_auth *a, char *err, size_t errlen)
{
	struct stat	 st;
	char		*tmp;
	int		 fd;

	xasprintf(&tmp, "%s.XXXXXX", a->token_file);
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
		    strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, 0600) == -1 ||
	    write(fd, a->token, API_TOKEN_HEX) != API_TOKEN_HEX ||
	    write(fd, "\n", 1) != 1 || fstat(fd, &st) == -1 ||
	    close(fd) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	if (rename(tmp, a->token_file) == -1) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp,
		    a->token_file, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	return 0;
}

/*
 * Make a fresh token and write it to listen.api_token_file (by default
 * api.token beside audit.path).  Returns the checker, or NULL with the
 * reason in err.  api_auth_free removes the file.
 */
struct api_auth *
api_auth_new(const struct mt_config *c, char *err, size_t errlen)
{
	struct api_auth	*a;
	char		*dir;

	a = xcalloc(1, sizeof(*a));
	if (c->api_token_file != NULL)
		a->token_file = xstrdup(c->api_token_file);
	else {
		dir = xstrdup(c->audit_path);
		xasprintf(&a->token_file, "%s/api.token", dirname(dir));
		free(dir);
	}
	api_auth_set_hosts(a, &c->api_hosts);
	if (auth_random(a->token) == -1) {
		snprintf(err, errlen, "cannot make a token: getrandom: %s",
		    strerror(errno));
		api_auth_free(a);
		return NULL;
	}
	if (auth_write_token(a, err, errlen) == -1) {
		api_auth_free(a);
		return NULL;
	}
	return a;
}

/* Answer to the names of hosts (listen.api_hosts) from now on. */
void
api_auth_set_hosts(struct api_auth *a, const struct conf_strlist *hosts)
{
	size_t	i;

	for (i = 0; i < a->hosts.n; i++)
		free(a->hosts.v[i]);
	free(a->hosts.v);
	a->hosts.v = NULL;
	a->hosts.n = 0;
	if (hosts->n == 0)
		return;
	a->hosts.v = xcalloc(hosts->n, sizeof(char *));
	for (i = 0; i < hosts->n; i++)
		a->hosts.v[a->hosts.n++] = xstrdup(hosts->v[i]);
}

/* The TCP port the API is bound to (0: a unix socket), for Host. */
void
api_auth_set_port(struct api_auth *a, int port)
{
	a->port = port;
}

const char *
api_auth_token_file(const struct api_auth *a)
{
	return a->token_file;
}

void
api_auth_get_stats(const struct api_auth *a, struct api_auth_stats *st)
{
	*st = a->stats;
}

/* Remove the token file, if it is still the one written; free a. */
void
api_auth_free(struct api_auth *a)
{
	struct stat	st;
	size_t		i;

	if (a == NULL)
		return;
	if (a->ino != 0 && lstat(a->token_file, &st) == 0 &&
	    st.st_dev == a->dev && st.st_ino == a->ino &&
	    unlink(a->token_file) == -1)
		log_warn("api: unlink %s", a->token_file);
	for (i = 0; i < a->hosts.n; i++)
		free(a->hosts.v[i]);
	free(a->hosts.v);
	free(a->token_file);
	explicit_bzero(a->token, sizeof(a->token));
	free(a);
}

/* The socket of req's connection, or -1. */
static int
auth_fd(struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return -1;
	return bufferevent_getfd(bev);
}

/*
 * Split "name", "name:port", "[v6]" or "[v6]:port" into name (brackets
 * removed) and *port (-1 if none).  Returns 0, or -1 if malformed.
 */
static int
auth_split_host(const char *s, char *name, size_t len, long *port)
{
	const char	*end, *colon;
	char		*ep;
	size_t		 n;

	*port = -1;
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		s++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return -1;	/* a bare IPv6 address */
		end = colon != NULL ? colon : s + strlen(s);
	}
	if ((n = (size_t)(end - s)) == 0 || n >= len)
		return -1;
	memcpy(name, s, n);
	name[n] = '\0';
	if (colon != NULL) {
		errno = 0;
		*port = strtol(colon + 1, &ep, 10);
		if (colon[1] < '0' || colon[1] > '9' || *ep != '\0' ||
		    errno != 0 || *port > 65535)
			return -1;
	}
	return 0;
}

/*
 * Whether name is this server: localhost, a loopback address, the
 * address local (where the client connected), or a listen.api_hosts
 * name.
 */
static int
auth_host_ok(const struct api_auth *a, const char *name,
    const struct sockaddr_storage *local)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	const struct sockaddr_in *lin = (const struct sockaddr_in *)local;
	const struct sockaddr_in6 *lin6 = (const struct sockaddr_in6 *)local;
	size_t			 i;

	if (strcasecmp(name, "localhost") == 0)
		return 1;
	for (i = 0; i < a->hosts.n; i++)
		if (strcasecmp(name, a->hosts.v[i]) == 0)
			return 1;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, name, &sin->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		return config_addr_loopback(&ss) ||
		    (local->ss_family == AF_INET &&
		    lin->sin_addr.s_addr == sin->sin_addr.s_addr);
	}
	if (inet_pton(AF_INET6, name, &sin6->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		return config_addr_loopback(&ss) ||
		    (local->ss_family == AF_INET6 &&
		    memcmp(&lin6->sin6_addr, &sin6->sin6_addr,
		    sizeof(sin6->sin6_addr)) == 0);
	}
	return 0;
}

/*
 * Whether port (-1: none given, default_port assumed) is the bound one.
 * A Host without a port is taken as ours (only a browser's Origin means
 * port 80 by leaving it out).
 */
static int
auth_port_ok(const struct api_auth *a, long port, long default_port)
{
	if (a->port == 0)	/* a unix socket: no port to compare */
		return 1;
	return (port == -1 ? default_port : port) == a->port;
}

static int	auth_refuse(struct evhttp_request *, uint64_t *, int,
		    const char *, ...) __printflike(4, 5);

/* Count a refusal and answer it; returns -1. */
static int
auth_refuse(struct evhttp_request *req, uint64_t *counter, int code,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	(*counter)++;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("%s", __func__);
	va_end(ap);
	if (code == 401)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer realm=\"meshtuned\"");
	api_reply_error(req, code, "%s", msg);
	free(msg);
	return -1;
}

/*
 * Whether the presented token is ours, in time that does not depend on
 * where they differ (their length is no secret).
 */
static int
auth_token_equal(const char *presented, const char *ours)
{
	unsigned char	 d = 0;
	size_t		 i;

	if (strlen(presented) != API_TOKEN_HEX)
		return 0;
	for (i = 0; i < API_TOKEN_HEX; i++)
		d |= (unsigned char)(presented[i] ^ ours[i]);
	return d == 0;
}

/*
 * Whether the peer of fd, a unix socket, is root or meshtuned's user.
 */
static int
auth_peer_ok(int fd)
{
	struct ucred	 uc;
	socklen_t	 len = sizeof(uc);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 &&
	    len == sizeof(uc) && (uc.uid == 0 || uc.uid == geteuid());
}

/* The headers api_auth_check reads, each of which may come only once. */
static const char *const auth_single[] = {
	"Host", "Origin", "Sec-Fetch-Site", "Content-Type", "Authorization"
};

/* The first of auth_single that in holds more than once, or NULL. */
static const char *
auth_repeated(struct evkeyvalq *in)
{
	struct evkeyval	*kv;
	size_t		 i;
	int		 n;

	for (i = 0; i < nitems(auth_single); i++) {
		n = 0;
		TAILQ_FOREACH(kv, in, next)
			if (strcasecmp(kv->key, auth_single[i]) == 0 && ++n > 1)
				return auth_single[i];
	}
	return NULL;
}

/*
 * Check req before its handler runs: where it comes from, always, and
 * when changes says it would change state (not GET or HEAD), its type
 * and its credential.  Returns 0 to go on, or -1 after answering the
 * refusal (400, 421, 403, 415 or 401).
 */
int
api_auth_check(struct api_auth *a, struct evhttp_request *req, int changes)
{
	struct evkeyvalq	*in = evhttp_request_get_input_headers(req);
	struct sockaddr_storage	 local;
	socklen_t		 len = sizeof(local);
	const char		*host, *origin, *site, *ctype, *authz;
	char			 name[256], media[64];
	long			 port;
	size_t			 n;
	int			 fd = auth_fd(req);

	memset(&local, 0, sizeof(local));
	if (fd == -1 || getsockname(fd, (struct sockaddr *)&local, &len) ==
	    -1)
		local.ss_family = AF_UNSPEC;

	if ((host = auth_repeated(in)) != NULL)
		return auth_refuse(req, &a->stats.refused_host, 400,
		    "more than one %s header", host);

	/* Host: absent only from clients that are not browsers. */
	if ((host = evhttp_find_header(in, "Host")) != NULL &&
	    (auth_split_host(host, name, sizeof(name), &port) == -1 ||
	    !auth_host_ok(a, name, &local) ||
	    !auth_port_ok(a, port, a->port)))
		return auth_refuse(req, &a->stats.refused_host, 421,
		    "Host \"%s\" is not this server: meshtuned answers to "
		    "localhost, loopback addresses and the address it is "
		    "reached at (listen.api_hosts adds names)", host);

	/* Cross-site: what browsers say about where a request comes from. */
	if ((site = evhttp_find_header(in, "Sec-Fetch-Site")) != NULL &&
	    strcasecmp(site, "same-origin") != 0 &&
	    strcasecmp(site, "none") != 0)
		return auth_refuse(req, &a->stats.refused_origin, 403,
		    "cross-site request refused (Sec-Fetch-Site: %s)", site);
	if ((origin = evhttp_find_header(in, "Origin")) != NULL &&
	    (strncasecmp(origin, "http://", 7) != 0 ||
	    strchr(origin + 7, '/') != NULL ||
	    auth_split_host(origin + 7, name, sizeof(name), &port) == -1 ||
	    !auth_host_ok(a, name, &local) || !auth_port_ok(a, port, 80)))
		return auth_refuse(req, &a->stats.refused_origin, 403,
		    "cross-site request refused (Origin: %s)", origin);
	if (!changes)
		return 0;

	/* No type a browser may send cross-site without a preflight. */
	if ((ctype = evhttp_find_header(in, "Content-Type")) != NULL) {
		n = strcspn(ctype, ";");
		while (n > 0 && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
			n--;
		snprintf(media, sizeof(media), "%.*s", (int)n, ctype);
		if (n >= sizeof(media) ||
		    strcasecmp(media, "application/json") != 0)
			return auth_refuse(req, &a->stats.refused_type, 415,
			    "Content-Type \"%s\" refused: a request that "
			    "changes state takes application/json or none",
			    ctype);
	}

	/* The credential. */
	if ((authz = evhttp_find_header(in, "Authorization")) != NULL) {
		if (strncasecmp(authz, "Bearer ", 7) == 0 &&
		    auth_token_equal(authz + 7 + strspn(authz + 7, " "),
		    a->token))
			return 0;
		return auth_refuse(req, &a->stats.refused_auth, 403,
		    "wrong API token (the token in %s changes at every "
		    "start)", a->token_file);
	}
	if (local.ss_family == AF_UNIX && auth_peer_ok(fd))
		return 0;
	return auth_refuse(req, &a->stats.refused_auth, 401,
	    "this request changes meshtuned's state and needs a credential: "
	    "\"Authorization: Bearer TOKEN\" with the token in %s, or the "
	    "API's unix socket as root or meshtuned's user (meshtunectl "
	    "does either)", a->token_file);
}
