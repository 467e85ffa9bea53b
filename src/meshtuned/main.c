/*
 * main.c -- meshtuned's main(): the command line, then the daemon.
 *
 * The order: options, where the log goes, the configuration (and for -t
 * the plugins and actuators, then exit), the directories the daemon
 * writes in, the pid file (locked before detaching, so a second daemon
 * is refused on the terminal), detaching, and daemon_run().
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "meshtuned.h"

#define DEFAULT_CONF	MT_SYSCONFDIR "/meshtune/meshtuned.conf"

#define USAGE	"usage: meshtuned [-fhntvV] [-c file] [-p pidfile]\n"

/* A usage error: the synopsis on standard error, exit 1. */
static __dead void
usage(void)
{
	fprintf(stderr, USAGE);
	exit(1);
}

/* -h: the synopsis and what each option does, on standard output. */
static void
help(void)
{
	printf(USAGE
	    "  -c file     configuration (default %s)\n"
	    "  -f          stay in the foreground, log to standard error\n"
	    "  -h          print this help and exit\n"
	    "  -n          dry run: evaluate and record, apply nothing\n"
	    "  -p pidfile  write the process id to pidfile, locked while "
	    "running\n"
	    "  -t          check the configuration, load every plugin, "
	    "exit\n"
	    "  -v          more logging (debug); -V print the version\n"
	    "See meshtuned(8).\n", DEFAULT_CONF);
}

/*
 * path made absolute against the working directory, since a detached
 * daemon works in /: a relative -c file would not be found again on
 * SIGHUP, nor a relative pid file at exit.  Free the result.  (-t and
 * the configuration's error messages keep the path as given.)
 */
static char *
absolute(const char *path)
{
	char	cwd[PATH_MAX], *abs;

	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("getcwd");
	xasprintf(&abs, "%s/%s", cwd, path);
	return abs;
}

/*
 * Create the directories the daemon writes in, when missing: the audit
 * log's (0700: it holds every decision), the StatsD socket's and the pid
 * file's (0755, so the node reaches the socket).  -1 after printing why.
 */
static int
make_dirs(const struct mt_config *conf, const char *pid_file)
{
	const struct {
		const char	*path;
		mode_t		 mode;
	} dirs[] = {
		{ conf->audit_path, 0700 },
		{ conf->statsd_unix, 0755 },
		{ pid_file, 0755 },
	};
	char	err[512];
	size_t	i;
	int	r;

	for (i = 0; i < nitems(dirs); i++) {
		if (dirs[i].path == NULL)
			continue;
		r = service_mkdir_for(dirs[i].path, dirs[i].mode, err,
		    sizeof(err));
		if (r == -1) {
			fprintf(stderr, "meshtuned: %s\n", err);
			return -1;
		}
		if (r == 1)
			log_warnx("%s", err);
	}
	return 0;
}

/*
 * A detached daemon works in /, where a relative path of the
 * configuration names another file than the one -t and -f see: say
 * which paths are relative.  -1 if any is.
 */
static int
check_relative(const struct mt_config *c)
{
	const struct {
		const char	*key;
		const char	*path;
	} paths[] = {
		{ "audit.path", c->audit_path },
		{ "plugin_dir", c->plugin_dir },
		{ "node.pid_file", c->pid_file },
		{ "node.proc_root", c->proc_root },
	};
	size_t	i;
	int	rc = 0;

	for (i = 0; i < nitems(paths); i++)
		if (paths[i].path != NULL && paths[i].path[0] != '/') {
			fprintf(stderr, "meshtuned: %s: %s: \"%s\" is relative, "
			    "but meshtuned works in / once detached: give an "
			    "absolute path, or run with -f\n", c->file,
			    paths[i].key, paths[i].path);
			rc = -1;
		}
	return rc;
}

/*
 * Say which listeners bind beyond loopback (listen.allow_non_loopback):
 * on standard output for -t, as warnings in the log at start-up.
 */
static void
report_non_loopback(const struct mt_config *c, int check)
{
	char	**lines;
	size_t	  i, n;

	n = config_non_loopback(c, &lines);
	for (i = 0; i < n; i++) {
		if (check)
			printf("%s: notice: %s\n", c->file, lines[i]);
		else
			log_warnx("%s", lines[i]);
		free(lines[i]);
	}
	free(lines);
}

/* Print every configuration error to stderr; -t and start-up use it. */
static void
report_errors(struct conf_errors *errs)
{
	size_t	i;

	for (i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", errs->v[i]);
	fprintf(stderr, "meshtuned: %zu configuration error%s\n", errs->n,
	    errs->n == 1 ? "" : "s");
	config_errors_clear(errs);
}

int
main(int argc, char **argv)
{
	struct daemon		 d;
	struct conf_errors	 errs = { NULL, 0 };
	const char		*log_why;
	const char		*conf_path = DEFAULT_CONF;
	char			*abs_conf, *pid_file = NULL;
	char			 err[512];
	int			 ch, foreground = 0, check = 0, verbose = 0;
	int			 dry_run = 0, status, to_stderr, pid_fd = -1;

	while ((ch = getopt(argc, argv, "c:fhnp:tvV")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'h':
			help();
			return 0;
		case 'n':
			dry_run = 1;
			break;
		case 'p':
			free(pid_file);
			pid_file = absolute(optarg);
			break;
		case 't':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("meshtuned %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	to_stderr = service_log_stderr(foreground || check, &log_why);
	log_init(to_stderr, verbose);
	memset(&d, 0, sizeof(d));
	d.force_dry_run = dry_run;
	if ((d.conf = config_load_file(conf_path, &errs)) == NULL) {
		report_errors(&errs);
		return 1;
	}
	if (dry_run)
		d.conf->dry_run = 1;
	if (check) {
		size_t refused = engine_check(d.conf);
		struct event_base *base = event_base_new();

		if (base == NULL)
			fatalx("cannot create an event loop");
		if (governor_check_actuators(base, d.conf, &errs) == -1) {
			report_errors(&errs);
			event_base_free(base);
			config_free(d.conf);
			return 1;
		}
		event_base_free(base);

		if (refused > 0) {
			config_free(d.conf);
			fprintf(stderr, "meshtuned: %zu strateg%s refused\n",
			    refused, refused == 1 ? "y" : "ies");
			return 1;
		}
		report_non_loopback(d.conf, 1);
		config_free(d.conf);
		printf("%s: configuration OK\n", conf_path);
		return 0;
	}
	if ((!foreground && check_relative(d.conf) == -1) ||
	    make_dirs(d.conf, pid_file) == -1) {
		config_free(d.conf);
		return 1;
	}
	if (pid_file != NULL &&
	    (pid_fd = service_pidfile_open(pid_file, err, sizeof(err))) == -1) {
		fprintf(stderr, "meshtuned: %s\n", err);
		config_free(d.conf);
		return 1;
	}
	d.conf_path = abs_conf = absolute(conf_path);
	if (!foreground && service_detach(to_stderr) == -1)
		fatal("detach");
	if (pid_fd != -1 && service_pidfile_write(pid_fd, err,
	    sizeof(err)) == -1)
		log_warnx("%s", err);
	if (!foreground)
		log_info("logging to %s (%s)", to_stderr ? "standard error" :
		    "syslog", log_why);
	report_non_loopback(d.conf, 0);
	status = daemon_run(&d);
	if (pid_fd != -1)
		service_pidfile_close(pid_file, pid_fd);
	free(pid_file);
	free(abs_conf);
	log_close();
	return status;
}
