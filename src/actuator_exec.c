/*
 * actuator_exec.c -- the "exec" backend: run a program, no shell.
 *
 * A set runs argv with every "{knob}" and "{value}" in argv[1..] replaced
 * by the knob's name and the value (integers without decimals), stdin
 * from /dev/null, in its own process group, with an empty signal mask,
 * default signal handlers, no other descriptors and a small environment
 * (PATH, MESHTUNE_OP, MESHTUNE_KNOB, MESHTUNE_VALUE).  Exit status 0 is
 * success; then a first stdout line that is a number is taken as the
 * value in effect (a read-back), otherwise the requested value is
 * reported.  A non-zero status fails with the status and the first line
 * of stderr; death by a signal fails naming the signal.  On a timeout or
 * a cancel the whole process group is killed (SIGKILL) and reaped.
 *
 * A get runs nothing: programs are setters.  It returns the last value
 * set through this actuator, else the knob's "initial", else fails.
 *
 * The child's exit is watched with a pidfd (Linux >= 5.3), or, where
 * there is none, by polling waitpid(WNOHANG) every 10 ms.  Only that
 * pid is ever waited for, so other children of the daemon are safe, as
 * long as nobody else reaps with waitpid(-1).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "meshtuned.h"

#define EXEC_OUTMAX	4096	/* bytes kept of stdout and of stderr */
#define EXEC_POLL_MS	10	/* waitpid polling without a pidfd */

extern char	**environ;

/* A child, running or killed and waiting to be reaped. */
struct exec_child {
	LIST_ENTRY(exec_child)	 entry;
	struct exec_conf	*ec;
	struct actuator_op	*op;		/* NULL once orphaned */
	pid_t			 pid;
	int			 reaped;
	int			 pidfd;		/* -1: polling */
	struct event		*ev_exit;
	int			 outfd, errfd;	/* -1 once at EOF */
	struct event		*ev_out, *ev_err;
	char			 out[EXEC_OUTMAX + 1];
	size_t			 outlen;
	char			 err[EXEC_OUTMAX + 1];
	size_t			 errlen;
};

struct exec_conf {
	char			**argv;		/* NULL-terminated copy */
	size_t			  argc;
	struct event_base	 *base;
	LIST_HEAD(, exec_child)	  orphans;	/* killed, not reaped yet */
};

static int
actuator_exec_configure(struct actuator *a, const struct mt_actuator_conf *c,
    char *err, size_t errlen)
{
	struct exec_conf	*ec;
	size_t			 i;

	if (c->argv.n == 0 || c->argv.v[0][0] != '/') {
		snprintf(err, errlen, "\"argv\" must start with an absolute "
		    "program path");
		return -1;
	}
	if (strstr(c->argv.v[0], "{knob}") != NULL ||
	    strstr(c->argv.v[0], "{value}") != NULL) {
		snprintf(err, errlen, "the program path \"%s\" may not hold "
		    "placeholders", c->argv.v[0]);
		return -1;
	}
	ec = xcalloc(1, sizeof(*ec));
	ec->argc = c->argv.n;
	ec->argv = xreallocarray(NULL, ec->argc + 1, sizeof(*ec->argv));
	for (i = 0; i < ec->argc; i++)
		ec->argv[i] = xstrdup(c->argv.v[i]);
	ec->argv[ec->argc] = NULL;
	ec->base = actuator_base(a);
	LIST_INIT(&ec->orphans);
	actuator_set_data(a, ec);
	return 0;
}

/* s with every "{knob}" and "{value}" replaced; the caller frees it. */
static char *
exec_subst(const char *s, const char *knob, const char *value)
{
	size_t	 len = 0, cap = strlen(s) + 1, add;
	char	*out = xmalloc(cap);
	const char *rep;

	while (*s != '\0') {
		rep = NULL;
		if (strncmp(s, "{knob}", 6) == 0) {
			rep = knob;
			s += 6;
		} else if (strncmp(s, "{value}", 7) == 0) {
			rep = value;
			s += 7;
		}
		add = rep != NULL ? strlen(rep) : 1;
		if (len + add + 1 > cap) {
			cap = (len + add + 1) * 2;
			out = xreallocarray(out, cap, 1);
		}
		if (rep != NULL)
			memcpy(out + len, rep, add);
		else
			out[len] = *s++;
		len += add;
	}
	out[len] = '\0';
	return out;
}

/* Read what fd has now into buf (keeping at most EXEC_OUTMAX bytes). */
static int
exec_drain(int fd, char *buf, size_t *len)
{
	char	 tmp[4096];
	ssize_t	 n;
	size_t	 take;

	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;	/* EOF or error: done with it */
		take = (size_t)n;
		if (take > EXEC_OUTMAX - *len)
			take = EXEC_OUTMAX - *len;
		memcpy(buf + *len, tmp, take);
		*len += take;
		buf[*len] = '\0';
	}
}

static void
exec_close_out(struct exec_child *ch)
{
	if (ch->ev_out != NULL)
		event_free(ch->ev_out);
	if (ch->ev_err != NULL)
		event_free(ch->ev_err);
	ch->ev_out = ch->ev_err = NULL;
	if (ch->outfd != -1)
		close(ch->outfd);
	if (ch->errfd != -1)
		close(ch->errfd);
	ch->outfd = ch->errfd = -1;
}

/* Free ch; the child must be reaped already. */
static void
exec_child_free(struct exec_child *ch)
{
	exec_close_out(ch);
	if (ch->ev_exit != NULL)
		event_free(ch->ev_exit);
	if (ch->pidfd != -1)
		close(ch->pidfd);
	free(ch);
}

static void
exec_out_cb(evutil_socket_t fd, short events, void *arg)
{
	struct exec_child	*ch = arg;

	if (fd == ch->outfd) {
		if (exec_drain(fd, ch->out, &ch->outlen) == -1) {
			event_free(ch->ev_out);
			ch->ev_out = NULL;
			close(ch->outfd);
			ch->outfd = -1;
		}
	} else if (exec_drain(fd, ch->err, &ch->errlen) == -1) {
		event_free(ch->ev_err);
		ch->ev_err = NULL;
		close(ch->errfd);
		ch->errfd = -1;
	}
}

/* The first line of s (at most 200 bytes), for an error text. */
static void
exec_first_line(const char *s, char *out, size_t outlen)
{
	size_t	 n = strcspn(s, "\n");

	if (n > 200)
		n = 200;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* The child exited with status: report it to its operation. */
static void
exec_report(struct exec_child *ch, int status)
{
	struct actuator_op	*op = ch->op;
	char			 line[256], *end;
	double			 v;

	if (ch->outfd != -1)
		(void)exec_drain(ch->outfd, ch->out, &ch->outlen);
	if (ch->errfd != -1)
		(void)exec_drain(ch->errfd, ch->err, &ch->errlen);
	exec_close_out(ch);
	exec_first_line(ch->err, line, sizeof(line));
	if (WIFSIGNALED(status)) {
		actuator_op_fail(op, "%s killed by signal %d (%s)%s%s",
		    ch->ec->argv[0], WTERMSIG(status),
		    strsignal(WTERMSIG(status)), line[0] != '\0' ? ": " : "",
		    line);
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		actuator_op_fail(op, "%s exited with status %d%s%s",
		    ch->ec->argv[0], WEXITSTATUS(status),
		    line[0] != '\0' ? ": " : "", line);
		return;
	}
	exec_first_line(ch->out, line, sizeof(line));
	errno = 0;
	v = strtod(line, &end);
	while (*end == ' ' || *end == '\t' || *end == '\r')
		end++;
	if (line[0] != '\0' && end != line && *end == '\0' && errno == 0 &&
	    isfinite(v))
		actuator_op_done(op, v, 1);
	else
		actuator_op_done(op, actuator_op_value(op), 0);
}

/* Reap ch if it has exited: returns 1 (status set) or 0. */
static int
exec_reap(struct exec_child *ch, int *status)
{
	pid_t	 r;

	do
		r = waitpid(ch->pid, status, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r == -1) {
		/* Someone else reaped it; report what we cannot know. */
		log_warn("%s: waitpid %ld", __func__, (long)ch->pid);
		*status = W_EXITCODE(255, 0);
	}
	ch->reaped = 1;
	return 1;
}

static void
exec_exit_cb(evutil_socket_t fd, short events, void *arg)
{
	struct exec_child	*ch = arg;
	int			 status;

	if (!exec_reap(ch, &status))
		return;		/* polling, or a spurious wake-up */
	event_del(ch->ev_exit);
	if (ch->op == NULL) {
		/* Killed after a timeout or cancel: now reaped. */
		LIST_REMOVE(ch, entry);
		exec_child_free(ch);
		return;
	}
	exec_report(ch, status);
	/* release (called later by the registry) frees ch. */
}

/* Kill the process group of ch; reap it now or leave it to the loop. */
static void
exec_kill(struct exec_child *ch)
{
	int	 status;

	if (kill(-ch->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("%s: kill %ld", __func__, (long)-ch->pid);
	if (kill(ch->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("%s: kill %ld", __func__, (long)ch->pid);
	exec_close_out(ch);
	if (exec_reap(ch, &status)) {
		exec_child_free(ch);
		return;
	}
	/* ev_exit stays armed: exec_exit_cb reaps and frees it. */
	ch->op = NULL;
	LIST_INSERT_HEAD(&ch->ec->orphans, ch, entry);
}

static int
exec_spawn(struct exec_conf *ec, struct actuator_op *op, const char *value,
    pid_t *pid, int *outfd, int *errfd, char *err, size_t errlen)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 none, all;
	char				**argv, *env[5];
	int				 out[2] = { -1, -1 };
	int				 errp[2] = { -1, -1 };
	int				 rc, ret = -1;
	size_t				 i;

	argv = xreallocarray(NULL, ec->argc + 1, sizeof(*argv));
	argv[0] = xstrdup(ec->argv[0]);
	for (i = 1; i < ec->argc; i++)
		argv[i] = exec_subst(ec->argv[i], actuator_op_knob(op), value);
	argv[ec->argc] = NULL;
	env[0] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin");
	xasprintf(&env[1], "MESHTUNE_OP=%s",
	    actuator_op_kind(op) == ACTUATOR_SET ? "set" : "get");
	xasprintf(&env[2], "MESHTUNE_KNOB=%s", actuator_op_knob(op));
	xasprintf(&env[3], "MESHTUNE_VALUE=%s", value);
	env[4] = NULL;

	if (pipe2(out, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(errp, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	/* The child's ends block, as programs expect. */
	if (fcntl(out[1], F_SETFL, 0) == -1 ||
	    fcntl(errp[1], F_SETFL, 0) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		goto out;
	}
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		snprintf(err, errlen, "posix_spawn: %s", strerror(rc));
		goto out;
	}
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		snprintf(err, errlen, "posix_spawn: %s", strerror(rc));
		goto out;
	}
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
	    O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, errp[1], 2)) != 0 ||
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
#endif
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0)
		snprintf(err, errlen, "posix_spawn setup: %s", strerror(rc));
	else if ((rc = posix_spawn(pid, argv[0], &fa, &attr, argv,
	    env)) != 0)
		snprintf(err, errlen, "cannot run %s: %s", argv[0],
		    strerror(rc));
	else
		ret = 0;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
 out:
	if (out[1] != -1)
		close(out[1]);
	if (errp[1] != -1)
		close(errp[1]);
	if (ret == 0) {
		*outfd = out[0];
		*errfd = errp[0];
	} else {
		if (out[0] != -1)
			close(out[0]);
		if (errp[0] != -1)
			close(errp[0]);
	}
	for (i = 0; i < ec->argc; i++)
		free(argv[i]);
	free(argv);
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	return ret;
}

static void
actuator_exec_set(struct actuator_op *op)
{
	struct exec_conf	*ec = actuator_data(actuator_op_actuator(op));
	struct exec_child	*ch;
	struct timeval		 poll = { 0, EXEC_POLL_MS * 1000 };
	char			 value[64], err[ACTUATOR_ERRLEN];
	int			 outfd, errfd;
	pid_t			 pid;

	if (actuator_format_value(actuator_op_value(op), value,
	    sizeof(value)) == -1) {
		actuator_op_fail(op, "cannot format value %g",
		    actuator_op_value(op));
		return;
	}
	/* posix_spawn reports this too, but not everywhere (valgrind). */
	if (access(ec->argv[0], X_OK) == -1) {
		actuator_op_fail(op, "cannot run %s: %s", ec->argv[0],
		    strerror(errno));
		return;
	}
	if (exec_spawn(ec, op, value, &pid, &outfd, &errfd, err,
	    sizeof(err)) == -1) {
		actuator_op_fail(op, "%s", err);
		return;
	}
	ch = xcalloc(1, sizeof(*ch));
	ch->ec = ec;
	ch->op = op;
	ch->pid = pid;
	ch->outfd = outfd;
	ch->errfd = errfd;
	actuator_op_set_data(op, ch);
	actuator_op_stage(op, "program running");
	ch->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (ch->pidfd != -1)
		ch->ev_exit = event_new(ec->base, ch->pidfd, EV_READ |
		    EV_PERSIST, exec_exit_cb, ch);
	else
		ch->ev_exit = event_new(ec->base, -1, EV_PERSIST,
		    exec_exit_cb, ch);
	ch->ev_out = event_new(ec->base, outfd, EV_READ | EV_PERSIST,
	    exec_out_cb, ch);
	ch->ev_err = event_new(ec->base, errfd, EV_READ | EV_PERSIST,
	    exec_out_cb, ch);
	if (ch->ev_exit == NULL || ch->ev_out == NULL || ch->ev_err == NULL ||
	    event_add(ch->ev_exit, ch->pidfd != -1 ? NULL : &poll) == -1 ||
	    event_add(ch->ev_out, NULL) == -1 ||
	    event_add(ch->ev_err, NULL) == -1)
		actuator_op_fail(op, "cannot watch the child process");
}

static void
actuator_exec_get(struct actuator_op *op)
{
	struct actuator	*a = actuator_op_actuator(op);
	double		 v;

	if (actuator_memo_get(a, actuator_op_knob(op), &v) == 0)
		actuator_op_done(op, v, 0);
	else if (!isnan(actuator_op_initial(op)))
		actuator_op_done(op, actuator_op_initial(op), 0);
	else
		actuator_op_fail(op, "exec actuators cannot read a knob: "
		    "nothing set yet and no \"initial\" configured");
}

static void
actuator_exec_release(struct actuator_op *op)
{
	struct exec_child	*ch = actuator_op_data(op);

	if (ch == NULL)
		return;
	if (!ch->reaped)
		exec_kill(ch);	/* timeout or cancel: still running */
	else
		exec_child_free(ch);
}

static void
actuator_exec_free(struct actuator *a)
{
	struct exec_conf	*ec = actuator_data(a);
	struct exec_child	*ch;
	size_t			 i;
	int			 status;

	/* Killed already; SIGKILL cannot be ignored, so this is short. */
	while ((ch = LIST_FIRST(&ec->orphans)) != NULL) {
		LIST_REMOVE(ch, entry);
		(void)kill(-ch->pid, SIGKILL);
		(void)kill(ch->pid, SIGKILL);
		while (waitpid(ch->pid, &status, 0) == -1 && errno == EINTR)
			;
		exec_child_free(ch);
	}
	for (i = 0; i < ec->argc; i++)
		free(ec->argv[i]);
	free(ec->argv);
	free(ec);
}

const struct actuator_backend actuator_backend_exec = {
	.name = "exec",
	.configure = actuator_exec_configure,
	.get = actuator_exec_get,
	.set = actuator_exec_set,
	.release = actuator_exec_release,
	.free = actuator_exec_free,
};
