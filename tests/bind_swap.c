/*
 * bind_swap.c -- an LD_PRELOAD shim for api_guard.sh: bind() on a unix
 * socket path does bind, then, as a user who may write in the socket's
 * directory could between meshtuned's bind and its chmod, moves the new
 * socket aside and puts a symlink to $MESHTUNE_TEST_BIND_SWAP in its
 * place.  meshtuned must not change that file's mode.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int	bind(int, const struct sockaddr *, socklen_t);

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int		(*real)(int, const struct sockaddr *,
				    socklen_t);
	const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
	const char		*target = getenv("MESHTUNE_TEST_BIND_SWAP");
	char			 aside[sizeof(sun->sun_path) + 8];
	int			 rc, e;

	if (real == NULL &&
	    (real = (int (*)(int, const struct sockaddr *, socklen_t))
	    dlsym(RTLD_NEXT, "bind")) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real(fd, sa, len);
	if (rc == -1 || target == NULL || sa->sa_family != AF_UNIX ||
	    sun->sun_path[0] != '/')
		return rc;
	e = errno;
	snprintf(aside, sizeof(aside), "%s.aside", sun->sun_path);
	if (rename(sun->sun_path, aside) == 0)
		(void)symlink(target, sun->sun_path);
	errno = e;
	return rc;
}
