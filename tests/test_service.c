/*
 * test_service.c -- meshtuned/service.c: the directories the daemon
 * makes (modes, parents, refusals, another user's refused), the pid file
 * (locked, a second daemon refused with the first one's pid, a stale
 * file reused, removed at exit; another user's file, a link, a FIFO
 * refused) and where the log goes.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meshtuned.h"

static char	tmp[] = "/tmp/meshtune-service.XXXXXX";

static mode_t
mode_of(const char *path)
{
	struct stat	sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static void
test_mkdir_for(void **state)
{
	char	path[512], err[512];
	mode_t	old = umask(0);

	/* Missing parents 0755, the file's own directory as asked. */
	snprintf(path, sizeof(path), "%s/var/lib/meshtune/audit.db", tmp);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/var/lib/meshtune", tmp);
	assert_int_equal(mode_of(path), 0700);
	snprintf(path, sizeof(path), "%s/var/lib", tmp);
	assert_int_equal(mode_of(path), 0755);
	snprintf(path, sizeof(path), "%s/var", tmp);
	assert_int_equal(mode_of(path), 0755);
	/* Again: nothing to do. */
	snprintf(path, sizeof(path), "%s/var/lib/meshtune/audit.db", tmp);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), 0);

	/* A directory others may write in is worth a warning. */
	snprintf(path, sizeof(path), "%s/open", tmp);
	assert_int_equal(mkdir(path, 0777), 0);
	snprintf(path, sizeof(path), "%s/open/audit.db", tmp);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "writable by group or others"));
	/* ... unless sticky, as /tmp is. */
	snprintf(path, sizeof(path), "%s/open", tmp);
	assert_int_equal(chmod(path, 01777), 0);
	snprintf(path, sizeof(path), "%s/open/audit.db", tmp);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), 0);

	/* A file where a directory should be. */
	snprintf(path, sizeof(path), "%s/file", tmp);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(path, sizeof(path), "%s/file/audit.db", tmp);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a directory"));
	snprintf(path, sizeof(path), "%s/file/sub/audit.db", tmp);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "file: not a directory"));
	snprintf(path, sizeof(path), "%s/none/sub/audit.db", tmp);
	assert_int_equal(chmod(tmp, 0500), 0);
	if (geteuid() != 0) {
		assert_int_equal(service_mkdir_for(path, 0700, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "cannot create"));
	}
	assert_int_equal(chmod(tmp, 0700), 0);

	/* Relative and top-level paths need nothing. */
	assert_int_equal(service_mkdir_for("audit.db", 0700, err,
	    sizeof(err)), 0);
	assert_int_equal(service_mkdir_for("/audit.db", 0700, err,
	    sizeof(err)), 0);
	umask(old);
}

/*
 * A directory on the way that another user owns (pre-made by them, or a
 * symlink to theirs) is refused: that user could swap the audit log's
 * files for links to root's.  Needs root, to give directories away.
 */
static void
test_mkdir_foreign(void **state)
{
	char	path[1024], dir[512], err[1024];

	if (geteuid() != 0) {
		print_message("# not root: skipped\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/theirs", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	snprintf(path, sizeof(path), "%s/audit.db", dir);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "theirs belongs to user 65534, neither "
	    "root nor meshtuned's (uid 0): refused"));
	/* Above the directory too, where meshtuned would make it. */
	snprintf(path, sizeof(path), "%s/state/audit.db", dir);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "theirs belongs to user 65534"));
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(access(path, F_OK), -1);
	/* Through a symlink of root's: the directory it leads to counts. */
	snprintf(path, sizeof(path), "%s/link", tmp);
	assert_int_equal(symlink(dir, path), 0);
	snprintf(path, sizeof(path), "%s/link/audit.db", tmp);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "link belongs to user 65534"));
	/* Root's own, or a symlink to it (systemd's DynamicUser=), is fine. */
	assert_int_equal(chown(dir, 0, 0), 0);
	assert_int_equal(service_mkdir_for(path, 0700, err, sizeof(err)), 0);
}

/*
 * A pid file that is not meshtuned's own is refused, and left as it
 * was: another user's (which that user could fill with any pid), a
 * symlink, a hard link to another file, a FIFO.
 */
static void
test_pidfile_foreign(void **state)
{
	struct stat	 sb;
	char		 path[512], other[512], err[512], buf[64];
	int		 fd;
	FILE		*f;

	snprintf(path, sizeof(path), "%s/foreign.pid", tmp);
	snprintf(other, sizeof(other), "%s/precious", tmp);
	assert_non_null(f = fopen(other, "w"));
	fputs("keep\n", f);
	fclose(f);
	/* A symlink. */
	assert_int_equal(symlink(other, path), 0);
	assert_int_equal(service_pidfile_open(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a symbolic link (refused)"));
	assert_int_equal(unlink(path), 0);
	/* A hard link. */
	assert_int_equal(link(other, path), 0);
	assert_int_equal(service_pidfile_open(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than one link (refused)"));
	assert_int_equal(unlink(path), 0);
	assert_non_null(f = fopen(other, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "keep\n");
	/* A FIFO: refused at once, not waited on. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(service_pidfile_open(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file (refused)"));
	assert_int_equal(unlink(path), 0);
	/* Another user's file. */
	if (geteuid() == 0) {
		assert_non_null(f = fopen(path, "w"));
		fputs("1\n", f);
		fclose(f);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(service_pidfile_open(path, err, sizeof(err)),
		    -1);
		assert_non_null(strstr(err, "another user's file (refused)"));
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_size, 2);
		assert_int_equal(unlink(path), 0);
	}
	/* Its own, left by a crash: reused. */
	assert_true((fd = service_pidfile_open(path, err, sizeof(err))) >= 0);
	service_pidfile_close(path, fd);
}

static void
test_pidfile(void **state)
{
	char	path[512], err[512], buf[64], want[64];
	int	fd, fd2, status;
	pid_t	pid;
	FILE	*f;

	snprintf(path, sizeof(path), "%s/meshtuned.pid", tmp);
	fd = service_pidfile_open(path, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(service_pidfile_write(fd, err, sizeof(err)), 0);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	assert_string_equal(buf, want);

	/* A second daemon (another open file description) is refused. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char	e[512], w[128];

		if (service_pidfile_open(path, e, sizeof(e)) != -1)
			_exit(1);
		snprintf(w, sizeof(w), "another meshtuned is running (pid "
		    "%ld)", (long)getppid());
		_exit(strstr(e, w) != NULL ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* At exit the file goes, and the lock with it. */
	service_pidfile_close(path, fd);
	assert_int_equal(access(path, F_OK), -1);

	/* A stale file (a crash: no lock) is reused. */
	assert_non_null(f = fopen(path, "w"));
	fputs("99999999\n", f);
	fclose(f);
	fd2 = service_pidfile_open(path, err, sizeof(err));
	assert_true(fd2 >= 0);
	assert_int_equal(service_pidfile_write(fd2, err, sizeof(err)), 0);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, want);
	service_pidfile_close(path, fd2);

	/* An unusable path says so. */
	snprintf(path, sizeof(path), "%s/nodir/meshtuned.pid", tmp);
	assert_int_equal(service_pidfile_open(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
}

static void
test_log_destination(void **state)
{
	const char	*why;
	struct stat	 sb;
	char		 env[64];

	assert_int_equal(service_log_stderr(1, &why), 1);
	assert_string_equal(why, "-f");

	/* Standard error is the journal when JOURNAL_STREAM names it. */
	assert_int_equal(fstat(STDERR_FILENO, &sb), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)sb.st_dev,
	    (unsigned long long)sb.st_ino);
	assert_int_equal(setenv("JOURNAL_STREAM", env, 1), 0);
	assert_int_equal(service_log_stderr(0, &why), 1);
	assert_string_equal(why, "standard error is the journal");

	/* Another stream (a child's stderr, redirected) is not. */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)sb.st_dev,
	    (unsigned long long)sb.st_ino + 1);
	assert_int_equal(setenv("JOURNAL_STREAM", env, 1), 0);
	service_log_stderr(0, &why);
	assert_string_not_equal(why, "standard error is the journal");
	assert_int_equal(setenv("JOURNAL_STREAM", "garbage", 1), 0);
	service_log_stderr(0, &why);
	assert_string_not_equal(why, "standard error is the journal");
	unsetenv("JOURNAL_STREAM");

	/* No syslog daemon: standard error, not the void. */
	if (access("/dev/log", F_OK) == -1) {
		assert_int_equal(service_log_stderr(0, &why), 1);
		assert_string_equal(why, "no syslog daemon on /dev/log");
	}
}

static int
setup(void **state)
{
	if (mkdtemp(tmp) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mkdir_for),
		cmocka_unit_test(test_pidfile),
		cmocka_unit_test(test_mkdir_foreign),
		cmocka_unit_test(test_pidfile_foreign),
		cmocka_unit_test(test_log_destination),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
