/*
 * actuator_file.c -- the "file" backend: sysctls under /proc/sys and the
 * node's cgroup v2 files, on an allow list.
 *
 * A knob's path must be exactly on the actuator's allow list, written
 * plainly (absolute, no ".", "..", "//" or trailing "/").  Checking a
 * path and then opening it by name is a race: a directory on the path
 * (a delegated cgroup, owned by the node's user) can be swapped for a
 * symlink in between.  So every open resolves the path in one step the
 * kernel enforces, openat2() with RESOLVE_NO_SYMLINKS: a symlink
 * anywhere on the path, at the moment of the open, fails it with ELOOP.
 * Where openat2 is missing (old kernels, seccomp filters that answer
 * ENOSYS) the path is walked one component at a time from "/", each
 * directory opened O_PATH|O_NOFOLLOW|O_DIRECTORY relative to the last,
 * which is as strict.  The file must be a regular file with one link (a
 * hard link to a file elsewhere leaves the list as a symlink would); a
 * set opens it once, and reads, writes and reads back through that
 * descriptor.
 *
 * A set reads the old value, writes the new one (opened O_WRONLY|O_TRUNC,
 * as a shell redirection does, so that plain files do not keep a tail of
 * the old text) and reads it back; the result carries both.  Value
 * formats, chosen by the file's name:
 *
 *	cpu.max		"QUOTA PERIOD" or "max PERIOD": the knob is the
 *			quota in microseconds, -1 for "max"; a set keeps
 *			the period it read.
 *	memory.high, memory.max, memory.low, memory.min, memory.swap.max,
 *	memory.swap.high, pids.max
 *			one integer or "max" (the knob's -1).
 *	anything else	one number (sysctls, cpu.weight, ...).  If the old
 *			value is an integer the new one must be one too.
 *
 * Integers are written without decimals.  Files in /proc/sys and cgroupfs
 * answer at once, so the I/O is done inline; the outcome is still
 * delivered from a separate event, as for every backend.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meshtuned.h"

#define FILE_MAXTEXT	256	/* bytes read from a knob file */

enum file_format {
	FF_NUMBER,		/* one number */
	FF_MAXABLE,		/* one integer or "max" */
	FF_CPU_MAX		/* "QUOTA|max PERIOD" */
};

static const struct {
	const char		*name;
	enum file_format	 format;
} file_formats[] = {
	{ "cpu.max", FF_CPU_MAX },
	{ "memory.high", FF_MAXABLE },
	{ "memory.max", FF_MAXABLE },
	{ "memory.low", FF_MAXABLE },
	{ "memory.min", FF_MAXABLE },
	{ "memory.swap.max", FF_MAXABLE },
	{ "memory.swap.high", FF_MAXABLE },
	{ "pids.max", FF_MAXABLE },
};

struct file_conf {
	char		**allow;
	size_t		  nallow;
};

/* What a knob file holds. */
struct file_value {
	double		 value;		/* -1 for "max" */
	int		 integer;	/* the text was an integer */
	long long	 period;	/* cpu.max */
};

/* Tests set it to take the component walk even where openat2 works. */
static int	file_force_walk;

/* snprintf for error texts, which may be cut. */
static void __printflike(3, 4)
file_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Whether path is absolute with no "." or ".." component, "//" or end "/". */
static int
file_plain_path(const char *path)
{
	const char	*c, *end;
	size_t		 len;

	if (path[0] != '/' || path[1] == '\0')
		return 0;
	for (c = path + 1; ; c = end + 1) {
		if ((end = strchr(c, '/')) == NULL)
			end = c + strlen(c);
		len = (size_t)(end - c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (*end == '\0')
			return 1;
	}
}

static int
actuator_file_configure(struct actuator *a, const struct mt_actuator_conf *c,
    char *err, size_t errlen)
{
	struct file_conf	*fc;
	size_t			 i;

	for (i = 0; i < c->allow.n; i++)
		if (!file_plain_path(c->allow.v[i])) {
			file_err(err, errlen, "allow: \"%s\" is not a plain "
			    "absolute path (no \".\", \"..\", \"//\" or "
			    "trailing \"/\")", c->allow.v[i]);
			return -1;
		}
	fc = xcalloc(1, sizeof(*fc));
	fc->nallow = c->allow.n;
	fc->allow = xreallocarray(NULL, fc->nallow + 1, sizeof(*fc->allow));
	for (i = 0; i < c->allow.n; i++)
		fc->allow[i] = xstrdup(c->allow.v[i]);
	actuator_set_data(a, fc);
	return 0;
}

static void
actuator_file_free(struct actuator *a)
{
	struct file_conf	*fc = actuator_data(a);
	size_t			 i;

	for (i = 0; i < fc->nallow; i++)
		free(fc->allow[i]);
	free(fc->allow);
	free(fc);
}

static int
file_allowed(const struct file_conf *fc, const char *path)
{
	size_t	 i;

	for (i = 0; i < fc->nallow; i++)
		if (strcmp(fc->allow[i], path) == 0)
			return 1;
	return 0;
}

static enum file_format
file_format_of(const char *path)
{
	const char	*base = strrchr(path, '/');
	size_t		 i;

	base = base != NULL ? base + 1 : path;
	for (i = 0; i < nitems(file_formats); i++)
		if (strcmp(file_formats[i].name, base) == 0)
			return file_formats[i].format;
	return FF_NUMBER;
}

/* Parse one number token of len bytes at s. */
static int
file_number(const char *s, size_t len, double *v, int *integer)
{
	char	 buf[64], *end;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*v = strtod(buf, &end);
	if (end == buf || *end != '\0' || errno != 0 || !isfinite(*v))
		return -1;
	*integer = strspn(buf + (buf[0] == '-' || buf[0] == '+'),
	    "0123456789") == len - (buf[0] == '-' || buf[0] == '+');
	return 0;
}

/*
 * Parse the text of a knob file in format ff.  Returns 0, or -1 with the
 * reason in err.
 */
static int
file_parse(enum file_format ff, const char *text, struct file_value *fv,
    char *err, size_t errlen)
{
	const char	*tok[3];
	size_t		 toklen[3], n = 0;
	const char	*p = text;
	double		 period;
	int		 integer;

	while (*p != '\0') {
		p += strspn(p, " \t\n");
		if (*p == '\0')
			break;
		if (n == nitems(tok))
			goto bad;
		tok[n] = p;
		toklen[n] = strcspn(p, " \t\n");
		p += toklen[n++];
	}
	memset(fv, 0, sizeof(*fv));
	switch (ff) {
	case FF_NUMBER:
		if (n != 1 || file_number(tok[0], toklen[0], &fv->value,
		    &fv->integer) == -1)
			goto bad;
		return 0;
	case FF_MAXABLE:
		if (n != 1)
			goto bad;
		fv->integer = 1;
		if (toklen[0] == 3 && strncmp(tok[0], "max", 3) == 0) {
			fv->value = -1;
			return 0;
		}
		if (file_number(tok[0], toklen[0], &fv->value,
		    &integer) == -1 || !integer || fv->value < 0)
			goto bad;
		return 0;
	case FF_CPU_MAX:
		if (n != 2 || file_number(tok[1], toklen[1], &period,
		    &integer) == -1 || !integer || period <= 0 ||
		    period > 1e9)
			goto bad;
		fv->period = (long long)period;
		fv->integer = 1;
		if (toklen[0] == 3 && strncmp(tok[0], "max", 3) == 0) {
			fv->value = -1;
			return 0;
		}
		if (file_number(tok[0], toklen[0], &fv->value,
		    &integer) == -1 || !integer || fv->value <= 0)
			goto bad;
		return 0;
	}
 bad:
	file_err(err, errlen, "unexpected contents \"%.*s\" (expected %s)",
	    (int)strcspn(text, "\n"), text,
	    ff == FF_CPU_MAX ? "\"QUOTA PERIOD\" or \"max PERIOD\"" :
	    ff == FF_MAXABLE ? "one integer or \"max\"" : "one number");
	return -1;
}

/*
 * Open the plain absolute path one component at a time: each directory
 * O_PATH|O_NOFOLLOW|O_DIRECTORY relative to the one before, the file
 * itself with flags|O_NOFOLLOW.  A symlink anywhere fails with ELOOP.
 * Returns the descriptor, or -1 with errno set.
 */
static int
file_open_walk(const char *path, int flags)
{
	struct stat	 st;
	char		 comp[NAME_MAX + 1];
	const char	*c = path + 1, *end;
	size_t		 len;
	int		 dfd, fd, e;

	if ((dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		if ((end = strchr(c, '/')) == NULL)
			end = c + strlen(c);
		if ((len = (size_t)(end - c)) >= sizeof(comp)) {
			close(dfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, c, len);
		comp[len] = '\0';
		if (*end == '\0')
			fd = openat(dfd, comp, flags | O_NOFOLLOW);
		else
			fd = openat(dfd, comp, O_PATH | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		e = errno;
		/* O_NOFOLLOW says ELOOP for the file, ENOTDIR on the way. */
		if (fd == -1 && e == ENOTDIR && fstatat(dfd, comp, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			e = ELOOP;
		close(dfd);
		if (fd == -1 || *end == '\0') {
			errno = e;
			return fd;
		}
		dfd = fd;
		c = end + 1;
	}
}

/*
 * Open the plain absolute path with flags, following no symlink on the
 * way: openat2(RESOLVE_NO_SYMLINKS), or the walk where the kernel has no
 * openat2.  Returns the descriptor, or -1 with errno set (ELOOP for a
 * symlink on the path).
 */
static int
file_open_nofollow(const char *path, int flags)
{
#if defined(HAVE_LINUX_OPENAT2_H) && defined(SYS_openat2)
	struct open_how	 how;
	long		 fd;

	if (!file_force_walk) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_NOFOLLOW);
		how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
		if (fd != -1 || (errno != ENOSYS && errno != EPERM))
			return (int)fd;
	}
#endif
	return file_open_walk(path, flags);
}

/*
 * Make the file actuator walk paths one component at a time even where
 * openat2 works (tests of the fallback); 0 restores the default.
 */
void
actuator_file_force_walk(int on)
{
	file_force_walk = on;
}

/*
 * Open path (allowed, plain) with flags; refuse all but plain files.
 * Returns the descriptor and its stat in *st, or -1 with the reason.
 */
static int
file_open(const char *path, int flags, struct stat *st, char *err,
    size_t errlen)
{
	int		 fd;

	fd = file_open_nofollow(path, flags | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY);
	if (fd == -1) {
		file_err(err, errlen, "open %s for %s: %s", path,
		    (flags & O_ACCMODE) == O_RDONLY ? "reading" : "writing",
		    errno == ELOOP ? "a symbolic link on the path (refused)" :
		    errno == EXDEV ? "the path leaves its tree (refused)" :
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1) {
		file_err(err, errlen, "fstat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		file_err(err, errlen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	/* A hard link to a file elsewhere leaves the allow list too. */
	if (st->st_nlink != 1) {
		file_err(err, errlen, "%s has %ju links (refused)", path,
		    (uintmax_t)st->st_nlink);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Read and parse what fd (path, for messages) holds, from offset 0.
 * Returns 0, or -1 with the reason in err.
 */
static int
file_read_fd(int fd, const char *path, enum file_format ff,
    struct file_value *fv, char *err, size_t errlen)
{
	char		 text[FILE_MAXTEXT + 1], why[ACTUATOR_ERRLEN];
	ssize_t		 n;

	do
		n = pread(fd, text, sizeof(text) - 1, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		file_err(err, errlen, "read %s: %s", path, strerror(errno));
		return -1;
	}
	text[n] = '\0';
	if (n == FILE_MAXTEXT || memchr(text, '\0', (size_t)n) != NULL) {
		file_err(err, errlen, "%s: unexpected contents (binary or "
		    "longer than %d bytes)", path, FILE_MAXTEXT - 1);
		return -1;
	}
	if (file_parse(ff, text, fv, why, sizeof(why)) == -1) {
		file_err(err, errlen, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

static int
file_read(const char *path, enum file_format ff, struct file_value *fv,
    char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd, rc;

	if ((fd = file_open(path, O_RDONLY, &st, err, errlen)) == -1)
		return -1;
	rc = file_read_fd(fd, path, ff, fv, err, errlen);
	close(fd);
	return rc;
}

/* Write text to fd (path, for messages) from offset 0, replacing all. */
static int
file_write_fd(int fd, const char *path, const char *text, char *err,
    size_t errlen)
{
	size_t		 len = strlen(text);
	ssize_t		 n;

	/*
	 * A plain file must not keep a tail of its old text.  procfs and
	 * cgroupfs may refuse the truncate; their files take the whole
	 * value from one write anyway.
	 */
	if (ftruncate(fd, 0) == -1 && errno != EINVAL && errno != EPERM &&
	    errno != EACCES)
		log_debug("actuator: truncate %s: %s", path, strerror(errno));
	do
		n = pwrite(fd, text, len, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1 || (size_t)n != len) {
		file_err(err, errlen, "write %s: %s", path, n == -1 ?
		    strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

/*
 * The path of the knob of op, checked against the allow list.  Returns
 * it, or NULL after failing op.  Whether it leads to the file without a
 * symlink is checked by every open.
 */
static const char *
file_check_path(struct actuator_op *op)
{
	struct file_conf	*fc = actuator_data(actuator_op_actuator(op));
	const char		*path = actuator_op_path(op);

	if (path == NULL) {
		actuator_op_fail(op, "knob \"%s\" has no \"path\"",
		    actuator_op_knob(op));
		return NULL;
	}
	if (!file_allowed(fc, path)) {
		actuator_op_fail(op, "%s is not on the allow list", path);
		return NULL;
	}
	return path;
}

static void
actuator_file_get(struct actuator_op *op)
{
	char			 err[ACTUATOR_ERRLEN];
	struct file_value	 fv;
	const char		*path;

	if ((path = file_check_path(op)) == NULL)
		return;
	if (file_read(path, file_format_of(path), &fv, err,
	    sizeof(err)) == -1) {
		actuator_op_fail(op, "%s", err);
		return;
	}
	actuator_op_done(op, fv.value, 1);
}

/*
 * Set the knob of op.  The file is opened once, read and write, and the
 * old value, the write and the read-back all go through that one
 * descriptor: whatever happens to the path after the open, a set writes
 * the file it read, and reads back the file it wrote.  A file that
 * cannot be opened for writing is still read, so that the failure says
 * what it held.
 */
static void
actuator_file_set(struct actuator_op *op)
{
	char			 err[ACTUATOR_ERRLEN], why[ACTUATOR_ERRLEN];
	char			 num[NUMBER_MAXLEN], text[128];
	struct file_value	 old, now;
	struct stat		 st;
	enum file_format	 ff;
	const char		*path;
	double			 v = actuator_op_value(op);
	int			 fd;

	if ((path = file_check_path(op)) == NULL)
		return;
	ff = file_format_of(path);
	if ((fd = file_open(path, O_RDWR, &st, err, sizeof(err))) == -1) {
		if (file_read(path, ff, &old, why, sizeof(why)) == 0)
			actuator_op_old(op, old.value);
		actuator_op_fail(op, "%s", err);
		return;
	}
	if (file_read_fd(fd, path, ff, &old, err, sizeof(err)) == -1)
		goto fail;
	actuator_op_old(op, old.value);
	if (old.integer && v != trunc(v)) {
		file_err(err, sizeof(err), "value %g is not an integer, and "
		    "%s holds integers", v, path);
		goto fail;
	}
	if ((ff == FF_MAXABLE && v < 0 && v != -1) ||
	    (ff == FF_CPU_MAX && v <= 0 && v != -1)) {
		file_err(err, sizeof(err), "value %g is out of the format of "
		    "%s (%s, or -1 for \"max\")", v, path,
		    ff == FF_CPU_MAX ? "a positive quota" : "at least 0");
		goto fail;
	}
	if (ff != FF_NUMBER && v == -1)
		snprintf(num, sizeof(num), "max");
	else if (actuator_format_value(v, num, sizeof(num)) == -1) {
		file_err(err, sizeof(err), "cannot format value %g", v);
		goto fail;
	}
	if (ff == FF_CPU_MAX)
		snprintf(text, sizeof(text), "%s %lld\n", num, old.period);
	else
		snprintf(text, sizeof(text), "%s\n", num);
	if (file_write_fd(fd, path, text, err, sizeof(err)) == -1)
		goto fail;
	/* Written: from here on the set happened, whatever the read says. */
	if (file_read_fd(fd, path, ff, &now, err, sizeof(err)) == -1) {
		log_warnx("actuator: %s: written, but not read back: %s",
		    path, err);
		close(fd);
		actuator_op_done(op, v, 0);
		return;
	}
	close(fd);
	actuator_op_done(op, now.value, 1);
	return;
 fail:
	close(fd);
	actuator_op_fail(op, "%s", err);
}

const struct actuator_backend actuator_backend_file = {
	.name = "file",
	.configure = actuator_file_configure,
	.get = actuator_file_get,
	.set = actuator_file_set,
	.release = NULL,
	.free = actuator_file_free,
};
