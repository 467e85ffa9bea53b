/*
 * service.c -- what meshtuned needs to run as a service: where its log
 * lines go, the directories it writes in, and its pid file.
 *
 * Where logs go (service_log_stderr):
 *	-f, or standard error connected to the journal ($JOURNAL_STREAM
 *	names its device and inode, as systemd sets it), or no syslog
 *	daemon listening on /dev/log: standard error, kept open when
 *	meshtuned detaches.  Otherwise syslog, daemon facility.
 * So a detached daemon on a host without syslog (a container, a minimal
 * system) still says what it does, and nothing is logged into the void.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meshtuned.h"

#define SYSLOG_PATH	"/dev/log"

/* 1 if $JOURNAL_STREAM ("DEV:INODE") is the file on standard error. */
static int
stderr_is_journal(void)
{
	const char		*env = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 sb;
	char			 end;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &sb) == -1)
		return 0;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

/* 1 if a syslog daemon accepts datagrams on path (what syslog(3) uses). */
static int
syslog_listening(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, ok;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return 0;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	if (ok)
		return 1;
	/* Some syslog daemons listen on a stream socket instead. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

/*
 * Decide where the log goes (see the top of this file): 1 for standard
 * error, 0 for syslog.  *why gets a short reason for the start-up line.
 */
int
service_log_stderr(int foreground, const char **why)
{
	if (foreground) {
		*why = "-f";
		return 1;
	}
	if (stderr_is_journal()) {
		*why = "standard error is the journal";
		return 1;
	}
	if (!syslog_listening(SYSLOG_PATH)) {
		*why = "no syslog daemon on " SYSLOG_PATH;
		return 1;
	}
	*why = "syslog";
	return 0;
}

/*
 * Detach from the terminal: fork, setsid, chdir /, standard input and
 * output to /dev/null, and standard error too unless keep_stderr (the
 * log goes there).  -1 with errno on failure.
 */
int
service_detach(int keep_stderr)
{
	int	fd;

	if (daemon(0, 1) == -1)
		return -1;
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    (!keep_stderr && dup2(fd, STDERR_FILENO) == -1)) {
		close(fd);
		return -1;
	}
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

/*
 * Whether sb, the directory dir, may hold meshtuned's files: owned by
 * root or by meshtuned's user.  Anyone else who owns it (or a directory
 * above it) can swap what it holds for a link to a file of root's.
 * 0, or -1 with a sentence in err.
 */
static int
dir_owner_ok(const char *dir, const struct stat *sb, char *err,
    size_t errlen)
{
	if (sb->st_uid == 0 || sb->st_uid == geteuid())
		return 0;
	snprintf(err, errlen, "%s belongs to user %lu, neither root nor "
	    "meshtuned's (uid %lu): refused, as that user could replace "
	    "what meshtuned keeps there", dir, (unsigned long)sb->st_uid,
	    (unsigned long)geteuid());
	return -1;
}

/*
 * Create the directory that will hold file path, if missing: mode for
 * the directory itself, 0755 for any missing parent (as mkdir -p), both
 * less the umask.  Every directory on the way that exists must belong to
 * root or to meshtuned's user (-1).  An existing directory is left as
 * it is, but one that others may write in (without the sticky bit) is
 * worth a warning, which goes into err with 1 returned.  0 when all is
 * well, -1 with a sentence in err when the directory cannot be made or
 * is refused.
 */
int
service_mkdir_for(const char *path, mode_t mode, char *err, size_t errlen)
{
	char		 dir[PATH_MAX], *p;
	struct stat	 sb;
	size_t		 len;
	int		 last, existed = 0;

	len = strlen(path);
	if (len == 0 || len >= sizeof(dir)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	memcpy(dir, path, len + 1);
	if ((p = strrchr(dir, '/')) == NULL)
		return 0;		/* relative to the working directory */
	if (p == dir)
		return 0;		/* in / */
	*p = '\0';
	/* Each component in turn, from the top: made, or checked. */
	for (p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		last = *p == '\0';
		*p = '\0';
		existed = 1;
		if (stat(dir, &sb) == -1) {
			if (mkdir(dir, last ? mode : 0755) == 0)
				existed = 0;
			else if (errno != EEXIST || stat(dir, &sb) == -1) {
				snprintf(err, errlen, "cannot create %s: %s",
				    dir, strerror(errno));
				return -1;
			}
		}
		if (existed && !S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "%s: not a directory", dir);
			return -1;
		}
		if (existed && dir_owner_ok(dir, &sb, err, errlen) == -1)
			return -1;
		if (last)
			break;
		*p = '/';
	}
	if (existed && (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (sb.st_mode & S_ISVTX) == 0) {
		snprintf(err, errlen, "%s is writable by group or others",
		    dir);
		return 1;
	}
	return 0;
}

/*
 * Open and lock the pid file, before detaching, so that a second
 * meshtuned on the same file is refused at once with the first one's
 * pid.  Returns the descriptor, or -1 with a sentence in err.  The lock
 * lives as long as the descriptor (in the detached child too); a file
 * left behind by a crash holds no lock and is simply reused, if it is
 * meshtuned's own: a plain file of its user with one link.  Another
 * user's file (made in a directory others may write in, such as /tmp)
 * would let that user put any pid in it for the next "kill $(cat ...)",
 * and a symlink or hard link would have meshtuned write a file not its
 * own: refused.
 */
int
service_pidfile_open(const char *path, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 buf[32];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY, 0644)) == -1) {
		snprintf(err, errlen, "pid file %s: %s", path,
		    errno == ELOOP ? "a symbolic link (refused)" :
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "pid file %s: fstat: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
	    sb.st_nlink != 1) {
		snprintf(err, errlen, "pid file %s: %s (refused)", path,
		    !S_ISREG(sb.st_mode) ? "not a regular file" :
		    sb.st_uid != geteuid() ? "another user's file" :
		    "a file with more than one link");
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(err, errlen, "pid file %s: another meshtuned "
			    "is running (pid %s)", path,
			    buf[0] != '\0' ? buf : "unknown");
		} else
			snprintf(err, errlen, "pid file %s: lock: %s", path,
			    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Write this process's pid into the locked pid file.  0, or -1. */
int
service_pidfile_write(int fd, char *err, size_t errlen)
{
	char	buf[32];
	int	len;

	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, buf, (size_t)len, 0) != (ssize_t)len) {
		snprintf(err, errlen, "pid file: write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Remove the pid file and drop its lock, at exit. */
void
service_pidfile_close(const char *path, int fd)
{
	if (fd == -1)
		return;
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
	close(fd);
}
