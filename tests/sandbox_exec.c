/*
 * sandbox_exec.c -- run a program under a system call allow list, the way
 * systemd applies a unit's SystemCallFilter= with SystemCallErrorNumber=
 * EPERM: every call named in ALLOW and not in DENY is allowed, any other
 * fails with EPERM, for this process and everything it executes.
 *
 *	sandbox_exec ALLOW DENY program [argument ...]
 *
 * ALLOW and DENY hold one system call name per line (what
 * `systemd-analyze syscall-filter GROUP` lists, groups expanded).  Names
 * this architecture lacks are skipped.  Exit 125 on a setup error, else
 * the program's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#define MAXNAMES	2048

static char	*deny[MAXNAMES];
static size_t	 ndeny;

/* Read one name per line of path into v; -1 on error. */
static int
read_names(const char *path, char **v, size_t *n)
{
	char	 line[256];
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "sandbox_exec: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, " \t\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (*n == MAXNAMES || (v[*n] = strdup(line)) == NULL) {
			fprintf(stderr, "sandbox_exec: %s: too many names\n",
			    path);
			fclose(f);
			return -1;
		}
		(*n)++;
	}
	fclose(f);
	return 0;
}

static int
denied(const char *name)
{
	size_t	i;

	for (i = 0; i < ndeny; i++)
		if (strcmp(deny[i], name) == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	static char	*allow[MAXNAMES];
	size_t		 nallow = 0, i, rules = 0;
	scmp_filter_ctx	 ctx;
	int		 nr;

	if (argc < 4) {
		fprintf(stderr, "usage: sandbox_exec ALLOW DENY program "
		    "[argument ...]\n");
		return 125;
	}
	if (read_names(argv[1], allow, &nallow) == -1 ||
	    read_names(argv[2], deny, &ndeny) == -1)
		return 125;
	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL) {
		fprintf(stderr, "sandbox_exec: seccomp_init failed\n");
		return 125;
	}
	for (i = 0; i < nallow; i++) {
		if (denied(allow[i]))
			continue;
		if ((nr = seccomp_syscall_resolve_name(allow[i])) ==
		    __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0) {
			fprintf(stderr, "sandbox_exec: cannot allow %s\n",
			    allow[i]);
			return 125;
		}
		rules++;
	}
	if (rules == 0 || seccomp_load(ctx) < 0) {
		fprintf(stderr, "sandbox_exec: cannot load the filter (%zu "
		    "calls allowed)\n", rules);
		return 125;
	}
	seccomp_release(ctx);
	execvp(argv[3], argv + 3);
	fprintf(stderr, "sandbox_exec: %s: %s\n", argv[3], strerror(errno));
	return 125;
}
