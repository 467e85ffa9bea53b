/*
 * actuator_file.c -- the "file" backend: sysctls under /proc/sys and the
 * node's cgroup v2 files, on an allow list.
 *
 * A knob's path must be exactly on the actuator's allow list, and so must
 * the path it resolves to (realpath): a symlink pointing elsewhere is
 * refused.  The file is opened with O_NOFOLLOW|O_NONBLOCK and must be a
 * regular file.  A set reads the old value, writes the new one (opened
 * O_WRONLY|O_TRUNC, as a shell redirection does, so that plain files do
 * not keep a tail of the old text) and reads it back; the result carries
 * both.  Value formats, chosen by the file's name:
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

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
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

/* snprintf for error texts, which may be cut. */
static void __printflike(3, 4)
file_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
actuator_file_configure(struct actuator *a, const struct mt_actuator_conf *c,
    char *err, size_t errlen)
{
	struct file_conf	*fc;
	size_t			 i;

	for (i = 0; i < c->allow.n; i++)
		if (c->allow.v[i][0] != '/') {
			file_err(err, errlen, "allow: \"%s\" is not an "
			    "absolute path", c->allow.v[i]);
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

/* Open path (resolved, allowed) with flags; refuse all but plain files. */
static int
file_open(const char *path, int flags, char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd;

	fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		file_err(err, errlen, "open %s for %s: %s", path,
		    (flags & O_ACCMODE) == O_RDONLY ? "reading" : "writing",
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		file_err(err, errlen, "fstat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		file_err(err, errlen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

static int
file_read(const char *path, enum file_format ff, struct file_value *fv,
    char *err, size_t errlen)
{
	char	 text[FILE_MAXTEXT + 1], why[ACTUATOR_ERRLEN];
	ssize_t	 n;
	int	 fd;

	if ((fd = file_open(path, O_RDONLY, err, errlen)) == -1)
		return -1;
	do
		n = read(fd, text, sizeof(text) - 1);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		file_err(err, errlen, "read %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
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
file_write(const char *path, const char *text, char *err, size_t errlen)
{
	size_t	 len = strlen(text);
	ssize_t	 n;
	int	 fd;

	if ((fd = file_open(path, O_WRONLY | O_TRUNC, err, errlen)) == -1)
		return -1;
	do
		n = write(fd, text, len);
	while (n == -1 && errno == EINTR);
	if (n == -1 || (size_t)n != len) {
		file_err(err, errlen, "write %s: %s", path, n == -1 ?
		    strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	if (close(fd) == -1) {
		file_err(err, errlen, "close %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The resolved path of the knob of op, checked against the allow list,
 * in resolved (PATH_MAX bytes).  Returns 0, or -1 after failing op.
 */
static int
file_check_path(struct actuator_op *op, char *resolved)
{
	struct file_conf	*fc = actuator_data(actuator_op_actuator(op));
	const char		*path = actuator_op_path(op);

	if (path == NULL) {
		actuator_op_fail(op, "knob \"%s\" has no \"path\"",
		    actuator_op_knob(op));
		return -1;
	}
	if (!file_allowed(fc, path)) {
		actuator_op_fail(op, "%s is not on the allow list", path);
		return -1;
	}
	if (realpath(path, resolved) == NULL) {
		actuator_op_fail(op, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!file_allowed(fc, resolved)) {
		actuator_op_fail(op, "%s resolves to %s, which is not on the "
		    "allow list", path, resolved);
		return -1;
	}
	return 0;
}

static void
actuator_file_get(struct actuator_op *op)
{
	char			 resolved[PATH_MAX], err[ACTUATOR_ERRLEN];
	struct file_value	 fv;

	if (file_check_path(op, resolved) == -1)
		return;
	if (file_read(resolved, file_format_of(resolved), &fv, err,
	    sizeof(err)) == -1) {
		actuator_op_fail(op, "%s", err);
		return;
	}
	actuator_op_done(op, fv.value, 1);
}

static void
actuator_file_set(struct actuator_op *op)
{
	char			 resolved[PATH_MAX], err[ACTUATOR_ERRLEN];
	char			 num[64], text[128];
	struct file_value	 old, now;
	enum file_format	 ff;
	double			 v = actuator_op_value(op);

	if (file_check_path(op, resolved) == -1)
		return;
	ff = file_format_of(resolved);
	if (file_read(resolved, ff, &old, err, sizeof(err)) == -1) {
		actuator_op_fail(op, "%s", err);
		return;
	}
	actuator_op_old(op, old.value);
	if (old.integer && v != trunc(v)) {
		actuator_op_fail(op, "value %g is not an integer, and %s "
		    "holds integers", v, resolved);
		return;
	}
	if ((ff == FF_MAXABLE && v < 0 && v != -1) ||
	    (ff == FF_CPU_MAX && v <= 0 && v != -1)) {
		actuator_op_fail(op, "value %g is out of the format of %s "
		    "(%s, or -1 for \"max\")", v, resolved,
		    ff == FF_CPU_MAX ? "a positive quota" : "at least 0");
		return;
	}
	if (ff != FF_NUMBER && v == -1)
		snprintf(num, sizeof(num), "max");
	else if (actuator_format_value(v, num, sizeof(num)) == -1) {
		actuator_op_fail(op, "cannot format value %g", v);
		return;
	}
	if (ff == FF_CPU_MAX)
		snprintf(text, sizeof(text), "%s %lld\n", num, old.period);
	else
		snprintf(text, sizeof(text), "%s\n", num);
	if (file_write(resolved, text, err, sizeof(err)) == -1 ||
	    file_read(resolved, ff, &now, err, sizeof(err)) == -1) {
		actuator_op_fail(op, "%s", err);
		return;
	}
	actuator_op_done(op, now.value, 1);
}

const struct actuator_backend actuator_backend_file = {
	.name = "file",
	.configure = actuator_file_configure,
	.get = actuator_file_get,
	.set = actuator_file_set,
	.release = NULL,
	.free = actuator_file_free,
};
