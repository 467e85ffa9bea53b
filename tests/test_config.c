/*
 * test_config.c -- the configuration: defaults, every error path, from a
 * string and from a file, and the manual documenting every key.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meshtuned.h"

/* One bad document and the single error it must produce. */
struct bad_case {
	const char	*json;
	const char	*error;		/* without the "FILE: " prefix */
};

static const struct bad_case bad_cases[] = {
	{ "{\"tick_interval_ms\": 50}",
	  "tick_interval_ms: expected an integer in 100..3600000, got 50" },
	{ "{\"tick_interval_ms\": 150.5}",
	  "tick_interval_ms: expected an integer in 100..3600000, got 150.5" },
	{ "{\"tick_interval_ms\": \"5s\"}",
	  "tick_interval_ms: expected an integer in 100..3600000, got \"5s\"" },
	{ "{\"window\": {\"seconds\": 0}}",
	  "window.seconds: expected an integer in 1..86400, got 0" },
	{ "{\"window\": {\"slices\": 7}}",
	  "window.slices: expected a divisor of window.seconds x 1000 ms, "
	  "got 7" },
	{ "{\"window\": 60}", "window: expected an object, got 60" },
	{ "{\"windows\": {}}",
	  "windows: expected one of tick_interval_ms, window, listen, node, "
	  "limits, audit, dry_run, governor, plugin_dir, actuators, knobs, "
	  "triggers, strategies, statsd, got an unknown key" },
	{ "{\"governor\": {\"guards\": [{\"metric\": \"x\", "
	  "\"stat\": \"p96\", \"max_rise_pct\": 10}]}}",
	  "governor.guards[0].stat: expected count, rate, sum, min, max, "
	  "mean, p50, p90, p95, p99, p999, last or total, got \"p96\"" },
	{ "{\"governor\": {\"guards\": [{\"metric\": \"x\", "
	  "\"stat\": \"p95\"}]}}",
	  "governor.guards[0]: expected exactly one of max_rise_pct and "
	  "max_fall_pct, got neither" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"knobs\": "
	  "{\"x\": {\"actuator\": \"a\", \"min\": 0, \"max\": 1, "
	  "\"guards\": [{\"metric\": \"y\", \"stat\": \"mean\", "
	  "\"max_rise_pct\": 5, \"max_fall_pct\": 5}]}}}",
	  "knobs[\"x\"].guards[0]: expected exactly one of max_rise_pct "
	  "and max_fall_pct, got both" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"knobs\": "
	  "{\"x\": {\"actuator\": \"a\", \"min\": 0, \"max\": 1}}, "
	  "\"triggers\": {\"x\": {\"actuator\": \"a\", \"min\": 0, "
	  "\"max\": 1}}}",
	  "triggers[\"x\"]: expected a name that is not also a knob, got "
	  "\"x\" in both" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"triggers\": "
	  "{\"t\": {\"actuator\": \"a\", \"min\": 0, \"max\": 1, "
	  "\"initial\": 0}}}",
	  "triggers[\"t\"].initial: expected one of actuator, min, max, "
	  "cooldown_s, owner, path, got an unknown key" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"triggers\": "
	  "{\"t\": {\"actuator\": \"b\", \"min\": 0, \"max\": 1}}}",
	  "triggers[\"t\"].actuator: expected the name of an entry of "
	  "\"actuators\", got \"b\"" },
	{ "{\"listen\": {\"stats_udp\": \"127.0.0.1:1\"}}",
	  "listen.stats_udp: expected one of statsd_udp, statsd_unix, "
	  "statsd_rcvbuf, api, allow_non_loopback, api_token_file, api_hosts, "
	  "api_max_connections, api_request_timeout_s, got an unknown key" },
	/* Names: charset, length, "..", NUL; every message keeps its end. */
	{ "{\"actuators\": {\"a..b\": {\"type\": \"log\"}}}",
	  "actuators[\"a..b\"]: expected a name of 1 to 64 characters from "
	  "A-Z a-z 0-9 _ . - (starting with a letter, a digit or _, no "
	  "\"..\"), got \"a..b\" (4 bytes)" },
	{ "{\"actuators\": {\"a b\\n\": {\"type\": \"log\"}}}",
	  "actuators[\"a b\\x0a\"]: expected a name of 1 to 64 characters "
	  "from A-Z a-z 0-9 _ . - (starting with a letter, a digit or _, no "
	  "\"..\"), got \"a b\\x0a\" (4 bytes)" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"knobs\": {\"-k\": "
	  "{\"actuator\": \"a\", \"min\": 0, \"max\": 1}}}",
	  "knobs[\"-k\"]: expected a name of 1 to 64 characters from "
	  "A-Z a-z 0-9 _ . - (starting with a letter, a digit or _, no "
	  "\"..\"), got \"-k\" (2 bytes)" },
	{ "{\"strategies\": [{\"name\": \"../x\", \"module\": \"a.so\"}]}",
	  "strategies[0].name: expected a name of 1 to 64 characters from "
	  "A-Z a-z 0-9 _ . - (starting with a letter, a digit or _, no "
	  "\"..\"), got \"../x\" (4 bytes)" },
	{ "{\"strategies\": [{\"name\": \"s\", \"module\": \"a b.so\"}]}",
	  "strategies[0].module: expected a file name in plugin_dir of at "
	  "most 255 characters from A-Z a-z 0-9 _ . - + (not starting with .), "
	  "got \"a b.so\"" },
	{ "{\"knobs\": {\"a\\u0000b\": {}}}",
	  "line 1, column 14: expected no NUL character, got \"\\u0000\"" },
	/* An escaped backslash before "u0000" is no NUL: the next error. */
	{ "{\"plugin_dir\": \"\\\\u0000\", \"dry_run\": 1}",
	  "dry_run: expected true or false, got 1" },
	/* Listeners beyond loopback need listen.allow_non_loopback. */
	{ "{\"listen\": {\"api\": \"0.0.0.0:9120\"}}",
	  "listen.api: expected a loopback address (127.0.0.1, [::1]) or a "
	  "unix socket path, got \"0.0.0.0:9120\"; to listen beyond "
	  "loopback, add \"api\" to listen.allow_non_loopback" },
	{ "{\"listen\": {\"statsd_udp\": \"[::]:8125\", "
	  "\"allow_non_loopback\": [\"api\"]}}",
	  "listen.statsd_udp: expected a loopback address (127.0.0.1, [::1]) "
	  "or a unix socket path, got \"[::]:8125\"; to listen beyond "
	  "loopback, add \"statsd_udp\" to listen.allow_non_loopback" },
	{ "{\"listen\": {\"allow_non_loopback\": [\"statsd_unix\"]}}",
	  "listen.allow_non_loopback: expected \"api\" or \"statsd_udp\", "
	  "got \"statsd_unix\"" },
	{ "{\"listen\": {\"api_token_file\": \"api.token\"}}",
	  "listen.api_token_file: expected an absolute path, got "
	  "\"api.token\"" },
	{ "{\"actuators\": {\"f\": {\"type\": \"file\", \"allow\": "
	  "[\"/sys/fs/cgroup/x/../../etc/passwd\"]}}}",
	  "actuators[\"f\"].allow: expected absolute paths without \".\", "
	  "\"..\", \"//\" or a trailing \"/\", got "
	  "\"/sys/fs/cgroup/x/../../etc/passwd\"" },
	{ "{\"dry_run\": 1}", "dry_run: expected true or false, got 1" },
	{ "{\"statsd\": {\"gauge_sign_udp\": \"add\"}}",
	  "statsd.gauge_sign_udp: expected \"value\" or \"delta\", got "
	  "\"add\"" },
	{ "{\"statsd\": {\"events\": \"keep\"}}",
	  "statsd.events: expected \"audit\" or \"drop\", got \"keep\"" },
	{ "{\"dry_run\": false, \"dry_run\": true}",
	  "dry_run: expected each key once, got it twice" },
	{ "{\"plugin_dir\": \"\"}",
	  "plugin_dir: expected a non-empty string, got \"\"" },
	{ "{\"plugin_dir\": [\"/a\"]}",
	  "plugin_dir: expected a non-empty string, got an array" },
	{ "{\"listen\": {\"statsd_udp\": \"localhost:8125\"}}",
	  "listen.statsd_udp: expected HOST:PORT with a numeric address "
	  "(127.0.0.1:8125, [::1]:8125), got \"localhost:8125\"" },
	{ "{\"listen\": {\"statsd_udp\": \"127.0.0.1\"}}",
	  "listen.statsd_udp: expected HOST:PORT with a numeric address "
	  "(127.0.0.1:8125, [::1]:8125), got \"127.0.0.1\"" },
	{ "{\"listen\": {\"statsd_udp\": \"/run/x.sock\"}}",
	  "listen.statsd_udp: expected HOST:PORT, got \"/run/x.sock\"" },
	{ "{\"listen\": {\"statsd_unix\": \"run/x.sock\"}}",
	  "listen.statsd_unix: expected an absolute path, got \"run/x.sock\"" },
	{ "{\"listen\": {\"statsd_rcvbuf\": 10}}",
	  "listen.statsd_rcvbuf: expected an integer in 65536..1073741824, "
	  "got 10" },
	{ "{\"limits\": {\"max_series\": -1}}",
	  "limits.max_series: expected an integer in 1..1000000, got -1" },
	{ "{\"audit\": {\"retention_days\": true}}",
	  "audit.retention_days: expected an integer in 0..36500, got true" },
	{ "{\"audit\": {\"max_size_mb\": -1}}",
	  "audit.max_size_mb: expected an integer in 0..1048576, got -1" },
	{ "{\"audit\": {\"on_bad_file\": \"adopt\"}}",
	  "audit.on_bad_file: expected \"refuse\" or \"move\", got \"adopt\"" },
	{ "{\"governor\": {\"flap_reversals\": null}}",
	  "governor.flap_reversals: expected an integer in 1..1000, got null" },
	{ "{\"actuators\": []}",
	  "actuators: expected an object of named entries, got an array" },
	{ "{\"actuators\": {\"a\": {}}}",
	  "actuators[\"a\"].type: expected a string (unix, exec, http, file "
	  "or log), got nothing" },
	{ "{\"actuators\": {\"a\": {\"type\": \"ftp\"}}}",
	  "actuators[\"a\"].type: expected unix, exec, http, file or log, "
	  "got \"ftp\"" },
	{ "{\"actuators\": {\"a\": {\"type\": \"unix\"}}}",
	  "actuators[\"a\"].path: expected a value when type is \"unix\", "
	  "got none" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\", \"url\": \"http://x\"}}}",
	  "actuators[\"a\"].url: expected nothing when type is \"log\", "
	  "got a value" },
	{ "{\"actuators\": {\"a\": {\"type\": \"http\", \"url\": \"ftp://x\"}}}",
	  "actuators[\"a\"].url: expected an http:// URL, got \"ftp://x\"" },
	{ "{\"actuators\": {\"a\": {\"type\": \"exec\", \"argv\": [\"x\"]}}}",
	  "actuators[\"a\"].argv: expected an absolute program path first, "
	  "got \"x\"" },
	{ "{\"actuators\": {\"a\": {\"type\": \"exec\", \"argv\": []}}}",
	  "actuators[\"a\"].argv: expected a value when type is \"exec\", "
	  "got none" },
	{ "{\"actuators\": {\"a\": {\"type\": \"exec\", \"argv\": \"/x\"}}}",
	  "actuators[\"a\"].argv: expected an array of at most 256 strings, "
	  "got \"/x\"" },
	{ "{\"actuators\": {\"a\": {\"type\": \"exec\", \"argv\": [\"/x\", 3]}}}",
	  "actuators[\"a\"].argv[1]: expected a non-empty string, got 3" },
	{ "{\"actuators\": {\"a\": {\"type\": \"file\", \"allow\": [\"x\"]}}}",
	  "actuators[\"a\"].allow: expected absolute paths without \".\", "
	  "\"..\", \"//\" or a trailing \"/\", got \"x\"" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}, \"a\": {\"type\": "
	  "\"log\"}}}",
	  "actuators[\"a\"]: expected each name once, got it twice" },
	{ "{\"knobs\": {\"k\": {\"min\": 1, \"max\": 2}}}",
	  "knobs[\"k\"].actuator: expected a string (name of the actuator "
	  "that turns it), got nothing" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"knobs\": {\"k\": "
	  "{\"actuator\": \"b\", \"min\": 1, \"max\": 2}}}",
	  "knobs[\"k\"].actuator: expected the name of an entry of "
	  "\"actuators\", got \"b\"" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"knobs\": {\"k\": "
	  "{\"actuator\": \"a\", \"min\": 3, \"max\": 2}}}",
	  "knobs[\"k\"].min: expected at most max (2), got 3" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"knobs\": {\"k\": "
	  "{\"actuator\": \"a\", \"min\": 1, \"max\": 2, \"initial\": 9}}}",
	  "knobs[\"k\"].initial: expected a number in 1..2, got 9" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"knobs\": {\"k\": "
	  "{\"actuator\": \"a\", \"min\": 1, \"max\": 2, \"owner\": \"s\"}}}",
	  "knobs[\"k\"].owner: expected the name of an entry of "
	  "\"strategies\", got \"s\"" },
	{ "{\"actuators\": {\"a\": {\"type\": \"file\", \"allow\": [\"/x\"]}},"
	  " \"knobs\": {\"k\": {\"actuator\": \"a\", \"min\": 1, \"max\": 2, "
	  "\"path\": \"/y\"}}}",
	  "knobs[\"k\"].path: expected a file on the allow list of actuator "
	  "\"a\", got \"/y\"" },
	{ "{\"actuators\": {\"a\": {\"type\": \"file\", \"allow\": [\"/x\"]}},"
	  " \"knobs\": {\"k\": {\"actuator\": \"a\", \"min\": 1, \"max\": 2}}}",
	  "knobs[\"k\"].path: expected a file on the allow list of actuator "
	  "\"a\", got nothing" },
	{ "{\"actuators\": {\"a\": {\"type\": \"log\"}}, \"knobs\": {\"k\": "
	  "{\"actuator\": \"a\", \"min\": 1, \"max\": 2, \"path\": \"/y\"}}}",
	  "knobs[\"k\"].path: expected nothing for a knob of a log actuator, "
	  "got \"/y\"" },
	{ "{\"strategies\": {}}",
	  "strategies: expected an array of objects, got an object" },
	{ "{\"strategies\": [3]}", "strategies[0]: expected an object, got 3" },
	{ "{\"strategies\": [{\"name\": \"a\", \"module\": \"a.so\", "
	  "\"mode\": \"auto\"}]}",
	  "strategies[0].mode: expected \"apply\" or \"advise\", got \"auto\"" },
	{ "{\"strategies\": [{\"name\": \"a\", \"module\": \"../a.so\"}]}",
	  "strategies[0].module: expected a file name in plugin_dir, got the "
	  "path \"../a.so\"" },
	{ "{\"strategies\": [{\"name\": \"a\", \"module\": \"a.so\"}, "
	  "{\"name\": \"a\", \"module\": \"b.so\"}]}",
	  "strategies[1].name: expected a unique name, got \"a\" again" },
	{ "{\"strategies\": [{\"name\": \"a\", \"module\": \"a.so\", "
	  "\"config\": []}]}",
	  "strategies[0].config: expected an object, got an array" },
	{ "{\"strategies\": [{\"module\": \"a.so\"}]}",
	  "strategies[0].name: expected a string (instance name, unique), "
	  "got nothing" },
	{ "[1, 2]", "expected an object, got an array" },
	{ "{\"a\": 1,\n \"b\": }", "line 2, column 7: expected valid JSON, "
	  "got }" },
	{ "{\"a\": 1", "line 1, column 8: expected valid JSON, got the end "
	  "of the file" },
	{ "", "line 1, column 1: expected valid JSON, got the end of the "
	  "file" },
};

static char	tmpdir[] = "/tmp/test_config.XXXXXX";

static int
setup_tmp(void **state)
{
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown_tmp(void **state)
{
	char	cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
write_file(const char *name, const char *text, size_t len)
{
	char	*path;
	FILE	*f;

	xasprintf(&path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Exactly one error, equal to "name: expected". */
static void
assert_one_error(struct conf_errors *errs, const char *name,
    const char *expected)
{
	char	*want;

	xasprintf(&want, "%s: %s", name, expected);
	if (errs->n != 1) {
		for (size_t i = 0; i < errs->n; i++)
			print_error("  got: %s\n", errs->v[i]);
		fail_msg("expected 1 error, got %zu, wanted: %s", errs->n, want);
	}
	assert_string_equal(errs->v[0], want);
	free(want);
	config_errors_clear(errs);
}

static void
test_defaults(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct mt_config	*c;

	c = config_load_string("{}", "empty", &errs);
	assert_non_null(c);
	assert_int_equal(errs.n, 0);
	assert_int_equal(c->tick_interval_ms, 5000);
	assert_int_equal(c->window_seconds, 60);
	assert_int_equal(c->window_slices, 60);
	assert_null(c->statsd_udp);
	assert_null(c->statsd_unix);
	assert_null(c->api);
	assert_int_equal(c->statsd_rcvbuf, 8388608);
	assert_null(c->pid_file);
	assert_string_equal(c->proc_root, "/proc");
	assert_int_equal(c->max_series, 10000);
	assert_int_equal(c->series_idle_s, 600);
	assert_string_equal(c->audit_path,
	    MT_LOCALSTATEDIR "/lib/meshtune/audit.db");
	assert_int_equal(c->retention_days, 30);
	assert_int_equal(c->audit_max_size_mb, 0);
	assert_string_equal(c->audit_on_bad_file, "refuse");
	assert_false(c->dry_run);
	assert_int_equal(c->max_actions_per_hour, 20);
	assert_int_equal(c->flap_reversals, 3);
	assert_int_equal(c->flap_window_s, 900);
	assert_string_equal(c->plugin_dir, MT_PLUGINDIR);
	assert_int_equal(c->actuators.n, 0);
	assert_int_equal(c->knobs.n, 0);
	assert_int_equal(c->strategies.n, 0);
	config_free(c);
}

static void
test_entry_defaults(void **state)
{
	struct conf_errors		 errs = { NULL, 0 };
	struct mt_config		*c;
	const struct mt_knob_conf	*k;
	const struct mt_strategy_conf	*s;

	c = config_load_string("{\"actuators\": {\"a\": {\"type\": \"log\"}},"
	    "\"knobs\": {\"k\": {\"actuator\": \"a\", \"min\": 1, \"max\": 9}},"
	    "\"strategies\": [{\"name\": \"s\", \"module\": \"s.so\"}]}",
	    "entries", &errs);
	assert_non_null(c);
	assert_int_equal(config_actuator(c, "a")->timeout_ms, 1000);
	assert_null(config_actuator(c, "b"));
	k = config_knob(c, "k");
	assert_non_null(k);
	assert_string_equal(k->name, "k");
	assert_true(isnan(k->initial));
	assert_int_equal(k->cooldown_s, 60);
	assert_true(k->max_step_pct == 100);
	assert_int_equal(k->verify_s, 0);
	assert_null(k->owner);
	s = c->strategies.v;
	assert_string_equal(s->mode, "apply");
	assert_string_equal(s->config, "{}");
	assert_int_equal(s->priority, 0);
	assert_int_equal(s->budget_ms, 10);
	assert_int_equal(s->max_failures, 3);
	config_free(c);
}

static void
test_values(void **state)
{
	struct conf_errors		 errs = { NULL, 0 };
	struct mt_config		*c;
	const struct mt_actuator_conf	*a;
	const struct mt_strategy_conf	*s;

	c = config_load_string("{\"tick_interval_ms\": 250, "
	    "\"window\": {\"seconds\": 10, \"slices\": 40},"
	    "\"listen\": {\"statsd_udp\": \"[::1]:0\", \"statsd_unix\": "
	    "\"/tmp/s.sock\", \"api\": \"/tmp/api.sock\"},"
	    "\"dry_run\": true, \"node\": {\"pid_file\": null},"
	    "\"audit\": {\"retention_days\": 0, \"max_size_mb\": 64, "
	    "\"on_bad_file\": \"move\"},"
	    "\"actuators\": {\"x\": {\"type\": \"exec\", \"argv\": "
	    "[\"/bin/set\", \"{knob}\", \"{value}\"], \"timeout_ms\": 50}},"
	    "\"strategies\": [{\"name\": \"n\", \"module\": \"n.so\", "
	    "\"mode\": \"advise\", \"priority\": -3, "
	    "\"config\": {\"a\": [1, 2], \"b\": \"x\"}}]}", "values", &errs);
	for (size_t i = 0; i < errs.n; i++)
		print_error("%s\n", errs.v[i]);
	assert_non_null(c);
	assert_int_equal(c->tick_interval_ms, 250);
	assert_int_equal(c->window_slices, 40);
	assert_string_equal(c->statsd_udp, "[::1]:0");
	assert_string_equal(c->statsd_unix, "/tmp/s.sock");
	assert_string_equal(c->api, "/tmp/api.sock");
	assert_null(c->pid_file);
	assert_true(c->dry_run);
	/* 0 keeps everything, as meshtune-audit(5) says. */
	assert_int_equal(c->retention_days, 0);
	assert_int_equal(c->audit_max_size_mb, 64);
	assert_string_equal(c->audit_on_bad_file, "move");
	a = config_actuator(c, "x");
	assert_int_equal(a->argv.n, 3);
	assert_string_equal(a->argv.v[2], "{value}");
	assert_int_equal(a->timeout_ms, 50);
	s = c->strategies.v;
	assert_string_equal(s->mode, "advise");
	assert_int_equal(s->priority, -3);
	assert_string_equal(s->config, "{\"a\":[1,2],\"b\":\"x\"}");
	config_free(c);
}

static void
test_bad_strings(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	size_t			 i;

	for (i = 0; i < nitems(bad_cases); i++) {
		assert_null(config_load_string(bad_cases[i].json, "conf",
		    &errs));
		assert_one_error(&errs, "conf", bad_cases[i].error);
	}
}

static void
test_bad_files(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	char			*path;
	size_t			 i;

	for (i = 0; i < nitems(bad_cases); i++) {
		path = write_file("bad.conf", bad_cases[i].json,
		    strlen(bad_cases[i].json));
		assert_null(config_load_file(path, &errs));
		assert_one_error(&errs, path, bad_cases[i].error);
		free(path);
	}
}

static void
test_every_error_in_one_run(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };

	assert_null(config_load_string("{\"tick_interval_ms\": 1, "
	    "\"window\": {\"seconds\": \"x\", \"nope\": 1}, \"dry_run\": 0, "
	    "\"listen\": {\"api\": \"nohost\"}, \"bogus\": 2}", "many", &errs));
	assert_int_equal(errs.n, 6);
	assert_string_equal(errs.v[0], "many: tick_interval_ms: expected an "
	    "integer in 100..3600000, got 1");
	assert_string_equal(errs.v[5], "many: listen.api: expected HOST:PORT "
	    "with a numeric address (127.0.0.1:8125, [::1]:8125), got "
	    "\"nohost\"");
	config_errors_clear(&errs);
	assert_null(errs.v);
	assert_int_equal(errs.n, 0);
}

static void
test_file_errors(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	char			*path, *big, *want;

	xasprintf(&path, "%s/missing.conf", tmpdir);
	assert_null(config_load_file(path, &errs));
	assert_one_error(&errs, path, "cannot open: No such file or "
	    "directory");
	free(path);

	assert_null(config_load_file(tmpdir, &errs));
	xasprintf(&want, "expected a regular file of at most %d bytes",
	    1024 * 1024);
	assert_one_error(&errs, tmpdir, want);

	big = xcalloc(1, 1024 * 1024 + 2);
	memset(big, ' ', 1024 * 1024 + 1);
	path = write_file("big.conf", big, 1024 * 1024 + 1);
	assert_null(config_load_file(path, &errs));
	assert_one_error(&errs, path, want);
	free(path);
	free(big);
	free(want);

	path = write_file("nul.conf", "{}\0{}", 5);
	assert_null(config_load_file(path, &errs));
	assert_one_error(&errs, path, "expected JSON text, got a NUL byte at "
	    "offset 2");
	free(path);
}

static void
test_bundled_config(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct mt_config	*c;
	char			*path;
	const char		*srcdir = getenv("top_srcdir");

	xasprintf(&path, "%s/etc/meshtuned.conf", srcdir ? srcdir : "..");
	c = config_load_file(path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		print_error("%s\n", errs.v[i]);
	assert_non_null(c);
	assert_string_equal(c->file, path);
	assert_string_equal(c->statsd_udp, "127.0.0.1:8125");
	assert_non_null(config_knob(c, "net.batch_size"));
	config_free(c);
	free(path);
}

/* meshtuned.conf(5) must document every key of the table. */
static void
test_manual_documents_every_key(void **state)
{
	const char	**paths, *srcdir = getenv("top_srcdir");
	char		 *man, *file, *needle, *leaf;
	size_t		  n, i, len = 0;
	FILE		 *f;

	xasprintf(&file, "%s/man/meshtuned.conf.5", srcdir ? srcdir : "..");
	f = fopen(file, "r");
	assert_non_null(f);
	man = xcalloc(1, 256 * 1024);
	len = fread(man, 1, 256 * 1024 - 1, f);
	assert_true(len > 0);
	fclose(f);
	n = config_key_paths(&paths);
	assert_true(n > 40);
	for (i = 0; i < n; i++) {
		/* The page lists leaf keys in .It Ic lines. */
		leaf = strrchr(paths[i], '.');
		leaf = leaf ? leaf + 1 : (char *)paths[i];
		xasprintf(&needle, "Ic %s", leaf);
		if (strstr(man, needle) == NULL)
			fail_msg("%s does not document %s", file, paths[i]);
		free(needle);
		free((char *)paths[i]);
	}
	free(paths);
	free(man);
	free(file);
}

/* A 4 KB name: refused with its length, the reason kept, the name cut. */
static void
test_long_name(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	char			*name, *json;
	size_t			 n = 4000;

	name = xmalloc(n + 1);
	memset(name, 'n', n);
	name[n] = '\0';
	xasprintf(&json, "{\"strategies\": [{\"name\": \"%s\", "
	    "\"module\": \"a.so\"}], \"knobs\": {\"%s\": "
	    "{\"actuator\": \"a\", \"min\": 1, \"max\": 2}}}", name, name);
	assert_null(config_load_string(json, "long", &errs));
	assert_true(errs.n >= 2);
	for (size_t i = 0; i < errs.n; i++) {
		assert_true(strlen(errs.v[i]) < 1024);
		if (strstr(errs.v[i], "expected a name") != NULL)
			assert_non_null(strstr(errs.v[i], "nnn...\" (4000 "
			    "bytes)"));
	}
	assert_non_null(strstr(errs.v[0], "(starting with a letter"));
	config_errors_clear(&errs);
	free(json);
	free(name);

	/* 64 bytes is the longest name; a legal one of them loads. */
	assert_true(config_name_ok("net.batch_size"));
	assert_true(config_name_ok("_x-1.y"));
	assert_false(config_name_ok(""));
	assert_false(config_name_ok(".hidden"));
	assert_false(config_name_ok("a/b"));
	assert_false(config_name_ok("a..b"));
	assert_false(config_name_ok("caf\xc3\xa9"));
	name = xmalloc(66);
	memset(name, 'k', 65);
	name[65] = '\0';
	assert_false(config_name_ok(name));
	name[64] = '\0';
	assert_true(config_name_ok(name));
	free(name);
}

/* Loopback or not, and what -t reports of an allowed exposure. */
static void
test_non_loopback(void **state)
{
	static const char *const loop[] = {
		"127.0.0.1:1", "127.9.9.9:1", "[::1]:1", "[::ffff:127.0.0.1]:1",
	};
	static const char *const remote[] = {
		"0.0.0.0:1", "10.0.0.1:1", "[::]:1", "[::ffff:10.0.0.1]:1",
		"128.0.0.1:1",
	};
	struct conf_errors	 errs = { NULL, 0 };
	struct sockaddr_storage	 ss;
	struct mt_config	*c;
	socklen_t		 len;
	char			**lines;
	size_t			 i, n;

	for (i = 0; i < nitems(loop); i++) {
		assert_int_equal(config_parse_addr(loop[i], &ss, &len), 0);
		assert_true(config_addr_loopback(&ss));
	}
	for (i = 0; i < nitems(remote); i++) {
		assert_int_equal(config_parse_addr(remote[i], &ss, &len), 0);
		if (config_addr_loopback(&ss))
			fail_msg("%s taken for loopback", remote[i]);
	}
	c = config_load_string("{\"listen\": {\"api\": \"0.0.0.0:9120\", "
	    "\"statsd_udp\": \"127.0.0.1:8125\", "
	    "\"allow_non_loopback\": [\"api\", \"statsd_udp\"]}}", "open",
	    &errs);
	assert_non_null(c);
	n = config_non_loopback(c, &lines);
	assert_int_equal(n, 1);
	assert_string_equal(lines[0], "listen.api binds 0.0.0.0:9120 beyond "
	    "loopback (listen.allow_non_loopback)");
	free(lines[0]);
	free(lines);
	config_free(c);
}

static void
test_parse_addr(void **state)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:+5", "1.2.3:80", "localhost:80", "::1:80",
		"[::1]8125", "[::1]:", "[127.0.0.1]:80", ":80", "[]:80",
		"127.0.0.1:80x",
	};
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	size_t			 i;

	assert_int_equal(config_parse_addr("127.0.0.1:8125", &ss, &len), 0);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 8125);
	assert_int_equal(len, sizeof(*sin));
	assert_int_equal(config_parse_addr("[::1]:0", &ss, &len), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 0);
	assert_int_equal(len, sizeof(*sin6));
	for (i = 0; i < nitems(bad); i++)
		if (config_parse_addr(bad[i], &ss, &len) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_entry_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad_strings),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_every_error_in_one_run),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_bundled_config),
		cmocka_unit_test(test_manual_documents_every_key),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_non_loopback),
	};

	log_init(1, 0);
	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
