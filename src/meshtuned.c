/*
 * meshtuned.c -- main(): the command line, then the daemon.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "meshtuned.h"

#define DEFAULT_CONF	MT_SYSCONFDIR "/meshtune/meshtuned.conf"

static __dead void
usage(void)
{
	fprintf(stderr, "usage: meshtuned [-fntvV] [-c file]\n");
	exit(1);
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
	const char		*conf_path = DEFAULT_CONF;
	int			 ch, foreground = 0, check = 0, verbose = 0;
	int			 dry_run = 0, status;

	while ((ch = getopt(argc, argv, "c:fntvV")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			dry_run = 1;
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

	log_init(foreground || check, verbose);
	memset(&d, 0, sizeof(d));
	d.conf_path = conf_path;
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
	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon");
	report_non_loopback(d.conf, 0);
	status = daemon_run(&d);
	log_close();
	return status;
}
