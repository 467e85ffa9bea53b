/*
 * config.c -- the JSON configuration, checked against one table of keys.
 *
 * Every key has a type, a range, a default and a line of help.  Parsing
 * never stops at the first mistake: each error is collected as
 * "FILE: key.path: expected ..., got ..." so an operator sees all of them
 * in one run.  Parsing has no side effects, so -t and SIGHUP can use it
 * before anything is swapped in.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "meshtuned.h"

#define CONF_MAX_BYTES	(1024 * 1024)	/* a config is small; refuse more */
#define CONF_MAX_LIST	256		/* strings in an argv or allow list */
#define CONF_QUOTE_MAX	200		/* characters of a value in a message */
#define CONF_QUOTE_BUF	(CONF_QUOTE_MAX * 4 + 4)
#define CONF_MODULE_MAX	255		/* bytes of a module file name */

enum conf_type {
	CT_INT,		/* int64_t, integral JSON number */
	CT_DOUBLE,	/* double, finite JSON number */
	CT_BOOL,	/* int, JSON true/false */
	CT_STRING,	/* char *, non-empty; null or absent leaves default */
	CT_STRLIST,	/* struct conf_strlist, array of non-empty strings */
	CT_OBJECT,	/* nested keys filling the same struct */
	CT_MAP,		/* struct conf_list: object of name -> struct */
	CT_ARRAY,	/* struct conf_list: array of structs */
	CT_JSON,	/* char *, any JSON object kept as compact text */
};

struct conf_table;

struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 off;	/* in the struct being filled */
	double			 min, max;
	const char		*def;	/* default as text; NULL: none */
	int			 required;
	const struct conf_table	*sub;	/* CT_OBJECT, CT_MAP, CT_ARRAY */
	const char		*help;
};

struct conf_table {
	const struct conf_key	*keys;
	size_t			 nkeys;
	size_t			 size;	/* element size for CT_MAP/CT_ARRAY */
};

#define TABLE(k, sz)	{ k, nitems(k), sz }
#define OFF(type, f)	offsetof(struct type, f)
#define I64MAX		9007199254740992.0	/* exact in a double */

static const struct conf_key window_keys[] = {
	{ "seconds", CT_INT, OFF(mt_config, window_seconds), 1, 86400, "60",
	  0, NULL, "length of the sliding window" },
	{ "slices", CT_INT, OFF(mt_config, window_slices), 1, 3600, "60",
	  0, NULL, "sub-windows the window advances by" },
};
static const struct conf_table window_table = TABLE(window_keys, 0);

static const struct conf_key listen_keys[] = {
	{ "statsd_udp", CT_STRING, OFF(mt_config, statsd_udp), 0, 0, NULL,
	  0, NULL, "HOST:PORT for StatsD over UDP; absent: disabled" },
	{ "statsd_unix", CT_STRING, OFF(mt_config, statsd_unix), 0, 0, NULL,
	  0, NULL, "path of a unix datagram socket for StatsD" },
	{ "statsd_rcvbuf", CT_INT, OFF(mt_config, statsd_rcvbuf), 65536,
	  1 << 30, "8388608", 0, NULL, "socket receive buffer in bytes" },
	{ "api", CT_STRING, OFF(mt_config, api), 0, 0, NULL,
	  0, NULL, "HOST:PORT or unix socket path of the HTTP API" },
	{ "allow_non_loopback", CT_STRLIST,
	  OFF(mt_config, allow_non_loopback), 0, 0, NULL, 0, NULL,
	  "listeners (api, statsd_udp) that may bind beyond loopback" },
	{ "api_token_file", CT_STRING, OFF(mt_config, api_token_file), 0, 0,
	  NULL, 0, NULL, "the API token; default api.token beside audit.path" },
	{ "api_hosts", CT_STRLIST, OFF(mt_config, api_hosts), 0, 0, NULL,
	  0, NULL, "more host names the API answers to in Host and Origin" },
	{ "api_max_connections", CT_INT, OFF(mt_config, api_max_connections),
	  1, 65536, "512", 0, NULL, "API connections open at once" },
	{ "api_request_timeout_s", CT_INT,
	  OFF(mt_config, api_request_timeout_s), 1, 300, "10", 0, NULL,
	  "a whole request must arrive within this" },
};
static const struct conf_table listen_table = TABLE(listen_keys, 0);

static const struct conf_key node_keys[] = {
	{ "pid_file", CT_STRING, OFF(mt_config, pid_file), 0, 0, NULL,
	  0, NULL, "pid file of the node process" },
	{ "proc_root", CT_STRING, OFF(mt_config, proc_root), 0, 0, "/proc",
	  0, NULL, "where /proc is mounted" },
};
static const struct conf_table node_table = TABLE(node_keys, 0);

static const struct conf_key limits_keys[] = {
	{ "max_series", CT_INT, OFF(mt_config, max_series), 1, 1000000,
	  "10000", 0, NULL, "series kept at most; new ones past it dropped" },
	{ "series_idle_s", CT_INT, OFF(mt_config, series_idle_s), 1, 604800,
	  "600", 0, NULL, "a series without samples this long is removed" },
};
static const struct conf_table limits_table = TABLE(limits_keys, 0);

static const struct conf_key audit_keys[] = {
	{ "path", CT_STRING, OFF(mt_config, audit_path), 0, 0,
	  MT_LOCALSTATEDIR "/lib/meshtune/audit.db", 0, NULL,
	  "SQLite audit log" },
	{ "retention_days", CT_INT, OFF(mt_config, retention_days), 0, 36500,
	  "30", 0, NULL, "rows older than this are deleted; 0 keeps all" },
	{ "max_size_mb", CT_INT, OFF(mt_config, audit_max_size_mb), 0,
	  1048576, "0", 0, NULL, "the oldest rows go past it; 0: no cap" },
	{ "on_bad_file", CT_STRING, OFF(mt_config, audit_on_bad_file), 0, 0,
	  "refuse", 0, NULL, "refuse, or move aside, a file not meshtune's" },
};
static const struct conf_table audit_table = TABLE(audit_keys, 0);

static const struct conf_key guard_keys[] = {
	{ "metric", CT_STRING, OFF(mt_guard_conf, metric), 0, 0, NULL,
	  1, NULL, "series whose statistic is watched" },
	{ "stat", CT_STRING, OFF(mt_guard_conf, stat), 0, 0, NULL,
	  1, NULL, "the statistic: p95, mean, last, rate, ..." },
	{ "max_rise_pct", CT_DOUBLE, OFF(mt_guard_conf, max_rise_pct), 0,
	  1e6, NULL, 0, NULL, "largest rise allowed, percent" },
	{ "max_fall_pct", CT_DOUBLE, OFF(mt_guard_conf, max_fall_pct), 0,
	  100, NULL, 0, NULL, "largest fall allowed, percent" },
};
static const struct conf_table guard_table =
    TABLE(guard_keys, sizeof(struct mt_guard_conf));

static const struct conf_key governor_keys[] = {
	{ "max_actions_per_hour", CT_INT, OFF(mt_config, max_actions_per_hour),
	  0, 100000, "20", 0, NULL, "global action budget" },
	{ "flap_reversals", CT_INT, OFF(mt_config, flap_reversals), 1, 1000,
	  "3", 0, NULL, "direction reversals that freeze a knob" },
	{ "flap_window_s", CT_INT, OFF(mt_config, flap_window_s), 1, 604800,
	  "900", 0, NULL, "window in which reversals are counted" },
	{ "readback_s", CT_INT, OFF(mt_config, readback_s), 0, 86400, "5",
	  0, NULL, "period of reading managed knobs back; 0: never" },
	{ "refused_names_max", CT_INT, OFF(mt_config, refused_names_max), 1,
	  100000, "64", 0, NULL, "knob names with their own decisions "
	  "row per strategy and reason" },
	{ "guards", CT_ARRAY, OFF(mt_config, guards), 0, 0, NULL, 0,
	  &guard_table, "guard metrics of every knob" },
};
static const struct conf_table governor_table = TABLE(governor_keys, 0);

static const struct conf_key actuator_keys[] = {
	{ "type", CT_STRING, OFF(mt_actuator_conf, type), 0, 0, NULL,
	  1, NULL, "unix, exec, http, file or log" },
	{ "path", CT_STRING, OFF(mt_actuator_conf, path), 0, 0, NULL,
	  0, NULL, "unix: the node's control socket" },
	{ "url", CT_STRING, OFF(mt_actuator_conf, url), 0, 0, NULL,
	  0, NULL, "http: loopback URL to POST to" },
	{ "argv", CT_STRLIST, OFF(mt_actuator_conf, argv), 0, 0, NULL,
	  0, NULL, "exec: program and arguments, {knob} and {value}" },
	{ "allow", CT_STRLIST, OFF(mt_actuator_conf, allow), 0, 0, NULL,
	  0, NULL, "file: paths that may be written" },
	{ "timeout_ms", CT_INT, OFF(mt_actuator_conf, timeout_ms), 1, 600000,
	  "1000", 0, NULL, "give up on a get or set after this" },
};
static const struct conf_table actuator_table =
    TABLE(actuator_keys, sizeof(struct mt_actuator_conf));

static const struct conf_key knob_keys[] = {
	{ "actuator", CT_STRING, OFF(mt_knob_conf, actuator), 0, 0, NULL,
	  1, NULL, "name of the actuator that turns it" },
	{ "min", CT_DOUBLE, OFF(mt_knob_conf, min), -1e15, 1e15, NULL,
	  1, NULL, "lowest value meshtune may set" },
	{ "max", CT_DOUBLE, OFF(mt_knob_conf, max), -1e15, 1e15, NULL,
	  1, NULL, "highest value meshtune may set" },
	{ "initial", CT_DOUBLE, OFF(mt_knob_conf, initial), -1e15, 1e15, NULL,
	  0, NULL, "value assumed at start; absent: read it back" },
	{ "cooldown_s", CT_INT, OFF(mt_knob_conf, cooldown_s), 0, 604800,
	  "60", 0, NULL, "least time between two actions on it" },
	{ "max_step_pct", CT_DOUBLE, OFF(mt_knob_conf, max_step_pct), 1,
	  10000, "100", 0, NULL, "largest change per action, percent" },
	{ "verify_s", CT_INT, OFF(mt_knob_conf, verify_s), 0, 604800, "0",
	  0, NULL, "wait before verifying; 0: one window" },
	{ "for_s", CT_INT, OFF(mt_knob_conf, for_s), 0, 604800, "0",
	  0, NULL, "a proposal must persist this long" },
	{ "owner", CT_STRING, OFF(mt_knob_conf, owner), 0, 0, NULL,
	  0, NULL, "the only strategy allowed to turn it" },
	{ "path", CT_STRING, OFF(mt_knob_conf, path), 0, 0, NULL,
	  0, NULL, "file actuator: file to write, on its allow list" },
	{ "guards", CT_ARRAY, OFF(mt_knob_conf, guards), 0, 0, NULL, 0,
	  &guard_table, "guard metrics of this knob" },
	{ "keep_unjudged", CT_BOOL, OFF(mt_knob_conf, keep_unjudged), 0, 0,
	  "false", 0, NULL, "keep a change nothing can judge" },
};
static const struct conf_table knob_table =
    TABLE(knob_keys, sizeof(struct mt_knob_conf));

/* A trigger: a knob's table without what a one-shot has no use for. */
static const struct conf_key trigger_keys[] = {
	{ "actuator", CT_STRING, OFF(mt_knob_conf, actuator), 0, 0, NULL,
	  1, NULL, "name of the actuator that fires it" },
	{ "min", CT_DOUBLE, OFF(mt_knob_conf, min), -1e15, 1e15, NULL,
	  1, NULL, "lowest argument allowed" },
	{ "max", CT_DOUBLE, OFF(mt_knob_conf, max), -1e15, 1e15, NULL,
	  1, NULL, "highest argument allowed" },
	{ "cooldown_s", CT_INT, OFF(mt_knob_conf, cooldown_s), 0, 604800,
	  "60", 0, NULL, "least time between two firings" },
	{ "owner", CT_STRING, OFF(mt_knob_conf, owner), 0, 0, NULL,
	  0, NULL, "the only strategy allowed to fire it" },
	{ "path", CT_STRING, OFF(mt_knob_conf, path), 0, 0, NULL,
	  0, NULL, "file actuator: file to write, on its allow list" },
};
static const struct conf_table trigger_table =
    TABLE(trigger_keys, sizeof(struct mt_knob_conf));

static const struct conf_key strategy_keys[] = {
	{ "name", CT_STRING, OFF(mt_strategy_conf, name), 0, 0, NULL,
	  1, NULL, "instance name, unique" },
	{ "module", CT_STRING, OFF(mt_strategy_conf, module), 0, 0, NULL,
	  1, NULL, "shared object in plugin_dir" },
	{ "mode", CT_STRING, OFF(mt_strategy_conf, mode), 0, 0, "apply",
	  0, NULL, "apply, or advise (dry run for it alone)" },
	{ "priority", CT_INT, OFF(mt_strategy_conf, priority), -1000, 1000,
	  "0", 0, NULL, "higher wins a conflict over a knob" },
	{ "budget_ms", CT_INT, OFF(mt_strategy_conf, budget_ms), 1, 10000,
	  "10", 0, NULL, "time allowed per callback" },
	{ "max_failures", CT_INT, OFF(mt_strategy_conf, max_failures), 1,
	  1000, "3", 0, NULL, "errors or overruns in a row that disable it" },
	{ "config", CT_JSON, OFF(mt_strategy_conf, config), 0, 0, "{}",
	  0, NULL, "object handed to the strategy's init" },
};
static const struct conf_table strategy_table =
    TABLE(strategy_keys, sizeof(struct mt_strategy_conf));

static const struct conf_key statsd_keys[] = {
	{ "gauge_sign_udp", CT_STRING, OFF(mt_config, statsd_gauge_udp), 0, 0,
	  "value", 0, NULL, "+N/-N on UDP: \"value\" sets, \"delta\" adjusts" },
	{ "gauge_sign_unix", CT_STRING, OFF(mt_config, statsd_gauge_unix), 0,
	  0, "value", 0, NULL, "the same on the unix socket" },
	{ "container_id", CT_STRING, OFF(mt_config, statsd_container_id), 0,
	  0, "ignore", 0, NULL, "|c: field: \"ignore\" or \"tag\"" },
	{ "cardinality", CT_STRING, OFF(mt_config, statsd_cardinality), 0, 0,
	  "ignore", 0, NULL, "|card: field: \"ignore\" or \"tag\"" },
	{ "timestamps", CT_STRING, OFF(mt_config, statsd_timestamps), 0, 0,
	  "ignore", 0, NULL, "|T field: \"ignore\", or \"window\" to drop "
	  "samples older than the window" },
	{ "events", CT_STRING, OFF(mt_config, statsd_events), 0, 0, "audit",
	  0, NULL, "events and service checks: \"audit\" or \"drop\"" },
	{ "events_per_minute", CT_INT, OFF(mt_config,
	  statsd_events_per_minute), 0, 100000, "60", 0, NULL,
	  "events rows a minute; more are folded into one" },
	{ "set_max_values", CT_INT, OFF(mt_config, statsd_set_max), 1,
	  1000000, "4096", 0, NULL, "distinct members a set keeps" },
};
static const struct conf_table statsd_table = TABLE(statsd_keys, 0);

static const struct conf_key top_keys[] = {
	{ "tick_interval_ms", CT_INT, OFF(mt_config, tick_interval_ms), 100,
	  3600000, "5000", 0, NULL, "how often strategies are evaluated" },
	{ "window", CT_OBJECT, 0, 0, 0, NULL, 0, &window_table, NULL },
	{ "listen", CT_OBJECT, 0, 0, 0, NULL, 0, &listen_table, NULL },
	{ "node", CT_OBJECT, 0, 0, 0, NULL, 0, &node_table, NULL },
	{ "limits", CT_OBJECT, 0, 0, 0, NULL, 0, &limits_table, NULL },
	{ "audit", CT_OBJECT, 0, 0, 0, NULL, 0, &audit_table, NULL },
	{ "dry_run", CT_BOOL, OFF(mt_config, dry_run), 0, 0, "false",
	  0, NULL, "evaluate and record, apply nothing" },
	{ "governor", CT_OBJECT, 0, 0, 0, NULL, 0, &governor_table, NULL },
	{ "plugin_dir", CT_STRING, OFF(mt_config, plugin_dir), 0, 0,
	  MT_PLUGINDIR, 0, NULL, "where strategy modules are loaded from" },
	{ "actuators", CT_MAP, OFF(mt_config, actuators), 0, 0, NULL,
	  0, &actuator_table, "named actuator backends" },
	{ "knobs", CT_MAP, OFF(mt_config, knobs), 0, 0, NULL,
	  0, &knob_table, "the knobs meshtune may turn" },
	{ "triggers", CT_MAP, OFF(mt_config, triggers), 0, 0, NULL,
	  0, &trigger_table, "the one-shot triggers meshtune may fire" },
	{ "strategies", CT_ARRAY, OFF(mt_config, strategies), 0, 0, NULL,
	  0, &strategy_table, "strategy instances, in evaluation order" },
	{ "statsd", CT_OBJECT, 0, 0, 0, NULL, 0, &statsd_table, NULL },
};
static const struct conf_table top_table = TABLE(top_keys, 0);

/* State of one parse: where errors go. */
struct conf_parse {
	const char		*file;
	struct conf_errors	*errs;
};

static void	conf_error(struct conf_parse *, const char *, const char *,
		    ...) __printflike(3, 4);
static void	conf_field_error(struct conf_parse *, const char *,
		    const char *, const char *, ...) __printflike(4, 5);
static void	conf_walk(struct conf_parse *, const cJSON *,
		    const struct conf_table *, void *, const char *);
static void	conf_defaults(const struct conf_table *, void *);
static void	conf_release(const struct conf_table *, void *);

/*
 * Record one error.  fmt describes what was expected and what was found;
 * it is prefixed with the file and the key path.
 */
static void
conf_error(struct conf_parse *p, const char *path, const char *fmt, ...)
{
	char	*msg, *line;
	va_list	 ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("%s", __func__);
	va_end(ap);
	if (path != NULL && *path != '\0')
		xasprintf(&line, "%s: %s: %s", p->file, path, msg);
	else
		xasprintf(&line, "%s: %s", p->file, msg);
	free(msg);
	p->errs->v = xreallocarray(p->errs->v, p->errs->n + 1, sizeof(char *));
	p->errs->v[p->errs->n++] = line;
}

/* Record an error about field of the entry at path ("knobs[\"x\"].min"). */
static void
conf_field_error(struct conf_parse *p, const char *path, const char *field,
    const char *fmt, ...)
{
	char	*full, *msg;
	va_list	 ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("%s", __func__);
	va_end(ap);
	xasprintf(&full, "%s.%s", path, field);
	conf_error(p, full, "%s", msg);
	free(full);
	free(msg);
}

/*
 * s as it may appear in a message: printable ASCII, any other byte as
 * \xNN, at most CONF_QUOTE_MAX characters and "..." when cut.  The text
 * lives in one of eight rotating buffers, so that a message may quote a
 * few values at once (parsing is single-threaded).
 */
static const char *
conf_q(const char *s)
{
	static char	 bufs[8][CONF_QUOTE_BUF];
	static int	 next;
	char		*b = bufs[next++ % 8];
	size_t		 i, o = 0;

	if (s == NULL)
		return "(null)";
	for (i = 0; s[i] != '\0'; i++) {
		if (i == CONF_QUOTE_MAX) {
			memcpy(b + o, "...", 3);
			o += 3;
			break;
		}
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '"' || s[i] == '\\')
			o += (size_t)snprintf(b + o, CONF_QUOTE_BUF - o,
			    "\\x%02x", (unsigned char)s[i]);
		else
			b[o++] = s[i];
	}
	b[o] = '\0';
	return b;
}

/*
 * Whether name is a valid name for an actuator, knob, trigger or
 * strategy: 1 to CONFIG_NAME_MAX bytes of A-Z a-z 0-9 _ . -, starting
 * with a letter, a digit or _, with no "..".  Names end up in log lines,
 * audit rows, URLs and file names; these rules keep them plain.
 */
int
config_name_ok(const char *name)
{
	size_t	len = strlen(name);

	return len >= 1 && len <= CONFIG_NAME_MAX &&
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") == len && name[0] != '.' && name[0] != '-' &&
	    strstr(name, "..") == NULL;
}

/* The error for a name that config_name_ok refuses. */
static void
conf_bad_name(struct conf_parse *p, const char *path, const char *name)
{
	conf_error(p, path, "expected a name of 1 to %d characters from "
	    "A-Z a-z 0-9 _ . - (starting with a letter, a digit or _, no "
	    "\"..\"), got \"%s\" (%zu bytes)", CONFIG_NAME_MAX, conf_q(name),
	    strlen(name));
}

/* Describe a JSON value for "got ...", e.g. "got \"sixty\"" or "got an array". */
static void
conf_describe(const cJSON *v, char *buf, size_t len)
{
	if (v == NULL)
		snprintf(buf, len, "nothing");
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%.17g", v->valuedouble);
	else if (cJSON_IsString(v))
		snprintf(buf, len, "\"%s\"", conf_q(v->valuestring));
	else if (cJSON_IsBool(v))
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNull(v))
		snprintf(buf, len, "null");
	else if (cJSON_IsArray(v))
		snprintf(buf, len, "an array");
	else
		snprintf(buf, len, "an object");
}

static void
conf_expected(struct conf_parse *p, const char *path, const char *what,
    const cJSON *v)
{
	char	got[CONF_QUOTE_BUF + 8];

	conf_describe(v, got, sizeof(got));
	conf_error(p, path, "expected %s, got %s", what, got);
}

/* Format a range for messages: "an integer in 1..3600". */
static void
conf_range(const struct conf_key *k, char *buf, size_t len)
{
	snprintf(buf, len, "%s in %.15g..%.15g",
	    k->type == CT_INT ? "an integer" : "a number", k->min, k->max);
}

static void
conf_set_string_list(struct conf_parse *p, const cJSON *v, void *field,
    const char *path)
{
	struct conf_strlist	*l = field;
	const cJSON		*e;
	char			*epath;
	int			 n = cJSON_GetArraySize(v);
	size_t			 i = 0;

	if (!cJSON_IsArray(v) || n > CONF_MAX_LIST) {
		conf_expected(p, path, "an array of at most 256 strings", v);
		return;
	}
	if (n == 0)
		return;
	l->v = xcalloc((size_t)n + 1, sizeof(char *));
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e) || *e->valuestring == '\0') {
			xasprintf(&epath, "%s[%zu]", path, i);
			conf_expected(p, epath, "a non-empty string", e);
			free(epath);
		} else
			l->v[l->n++] = xstrdup(e->valuestring);
		i++;
	}
}

/* Whether a member of obj before v has the same name (JSON allows it). */
static int
conf_repeated(const cJSON *obj, const cJSON *v)
{
	const cJSON	*prev;

	for (prev = obj->child; prev != v; prev = prev->next)
		if (strcmp(prev->string, v->string) == 0)
			return 1;
	return 0;
}

/* Parse a CT_MAP or CT_ARRAY into a struct conf_list of sub->size elements. */
static void
conf_set_list(struct conf_parse *p, const struct conf_key *k, const cJSON *v,
    void *field, const char *path)
{
	struct conf_list	*l = field;
	const struct conf_table	*sub = k->sub;
	const cJSON		*e;
	char			*epath, *elem;
	int			 n = cJSON_GetArraySize(v);

	if (k->type == CT_MAP && !cJSON_IsObject(v)) {
		conf_expected(p, path, "an object of named entries", v);
		return;
	}
	if (k->type == CT_ARRAY && !cJSON_IsArray(v)) {
		conf_expected(p, path, "an array of objects", v);
		return;
	}
	if (n == 0)
		return;
	l->v = xcalloc((size_t)n, sub->size);
	cJSON_ArrayForEach(e, v) {
		elem = (char *)l->v + l->n * sub->size;
		if (k->type == CT_MAP) {
			xasprintf(&epath, "%s[\"%s\"]", path,
			    conf_q(e->string));
			if (conf_repeated(v, e)) {
				conf_error(p, epath, "expected each name once, "
				    "got it twice");
				free(epath);
				continue;
			}
			if (!config_name_ok(e->string))
				conf_bad_name(p, epath, e->string);
			/* Every map entry struct starts with its name. */
			*(char **)elem = xstrdup(e->string);
		} else
			xasprintf(&epath, "%s[%zu]", path, l->n);
		l->n++;
		conf_defaults(sub, elem);
		conf_walk(p, e, sub, elem, epath);
		free(epath);
	}
}

/* Check one JSON value against its key and store it at base + k->off. */
static void
conf_set(struct conf_parse *p, const struct conf_key *k, const cJSON *v,
    void *base, const char *path)
{
	void	*field = (char *)base + k->off;
	char	 what[96];
	double	 d;

	switch (k->type) {
	case CT_INT:
	case CT_DOUBLE:
		conf_range(k, what, sizeof(what));
		if (!cJSON_IsNumber(v)) {
			conf_expected(p, path, what, v);
			break;
		}
		d = v->valuedouble;
		if (!isfinite(d) || d < k->min || d > k->max ||
		    (k->type == CT_INT && d != floor(d)))
			conf_expected(p, path, what, v);
		else if (k->type == CT_INT)
			*(int64_t *)field = (int64_t)d;
		else
			*(double *)field = d;
		break;
	case CT_BOOL:
		if (!cJSON_IsBool(v))
			conf_expected(p, path, "true or false", v);
		else
			*(int *)field = cJSON_IsTrue(v);
		break;
	case CT_STRING:
		if (cJSON_IsNull(v) && !k->required) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (!cJSON_IsString(v) || *v->valuestring == '\0')
			conf_expected(p, path, "a non-empty string", v);
		else {
			free(*(char **)field);
			*(char **)field = xstrdup(v->valuestring);
		}
		break;
	case CT_STRLIST:
		conf_set_string_list(p, v, field, path);
		break;
	case CT_OBJECT:
		conf_walk(p, v, k->sub, base, path);
		break;
	case CT_MAP:
	case CT_ARRAY:
		conf_set_list(p, k, v, field, path);
		break;
	case CT_JSON:
		if (!cJSON_IsObject(v)) {
			conf_expected(p, path, "an object", v);
			break;
		}
		free(*(char **)field);
		*(char **)field = number_json_print((cJSON *)v);
		break;
	}
}

static const struct conf_key *
conf_find(const struct conf_table *t, const char *name)
{
	size_t	i;

	for (i = 0; i < t->nkeys; i++)
		if (strcmp(t->keys[i].name, name) == 0)
			return &t->keys[i];
	return NULL;
}

/* "path.name", or "name" at the top; the caller frees it. */
static char *
conf_join(const char *path, const char *name)
{
	char	*s;

	if (*path == '\0')
		return xstrdup(conf_q(name));
	xasprintf(&s, "%s.%s", path, conf_q(name));
	return s;
}

/* Reject an unknown key, listing the ones that are allowed there. */
static void
conf_unknown(struct conf_parse *p, const struct conf_table *t,
    const char *path)
{
	char	known[512];
	size_t	i, len = 0;

	known[0] = '\0';
	for (i = 0; i < t->nkeys && len < sizeof(known); i++)
		len += (size_t)snprintf(known + len, sizeof(known) - len,
		    "%s%s", i ? ", " : "", t->keys[i].name);
	conf_error(p, path, "expected one of %s, got an unknown key", known);
}

static const char *
conf_type_name(enum conf_type t)
{
	switch (t) {
	case CT_INT:
		return "an integer";
	case CT_DOUBLE:
		return "a number";
	case CT_BOOL:
		return "true or false";
	case CT_STRING:
		return "a string";
	case CT_STRLIST:
		return "an array of strings";
	case CT_ARRAY:
		return "an array";
	default:
		return "an object";
	}
}

/* Walk a JSON object against a table, filling base. */
static void
conf_walk(struct conf_parse *p, const cJSON *obj, const struct conf_table *t,
    void *base, const char *path)
{
	const struct conf_key	*k;
	const cJSON		*v;
	char			*kpath;
	size_t			 i;

	if (!cJSON_IsObject(obj)) {
		conf_expected(p, path, "an object", obj);
		return;
	}
	cJSON_ArrayForEach(v, obj) {
		kpath = conf_join(path, v->string);
		if (conf_repeated(obj, v))
			conf_error(p, kpath, "expected each key once, "
			    "got it twice");
		else if ((k = conf_find(t, v->string)) == NULL)
			conf_unknown(p, t, kpath);
		else
			conf_set(p, k, v, base, kpath);
		free(kpath);
	}
	for (i = 0; i < t->nkeys; i++) {
		k = &t->keys[i];
		if (k->required && !cJSON_HasObjectItem(obj, k->name)) {
			kpath = conf_join(path, k->name);
			conf_error(p, kpath, "expected %s (%s), got nothing",
			    conf_type_name(k->type), k->help);
			free(kpath);
		}
	}
}

/* Fill base with the defaults of a table (nested objects included). */
static void
conf_defaults(const struct conf_table *t, void *base)
{
	const struct conf_key	*k;
	void			*field;
	size_t			 i;

	for (i = 0; i < t->nkeys; i++) {
		k = &t->keys[i];
		field = (char *)base + k->off;
		switch (k->type) {
		case CT_INT:
			*(int64_t *)field = k->def ? strtoll(k->def, NULL, 10) : 0;
			break;
		case CT_DOUBLE:
			*(double *)field = k->def ? strtod(k->def, NULL) : NAN;
			break;
		case CT_BOOL:
			*(int *)field = k->def && strcmp(k->def, "true") == 0;
			break;
		case CT_STRING:
		case CT_JSON:
			*(char **)field = k->def ? xstrdup(k->def) : NULL;
			break;
		case CT_OBJECT:
			conf_defaults(k->sub, base);
			break;
		case CT_STRLIST:
		case CT_MAP:
		case CT_ARRAY:
			break;		/* zeroed by the caller's calloc */
		}
	}
}

/* Free everything a table's keys own inside base (not base itself). */
static void
conf_release(const struct conf_table *t, void *base)
{
	const struct conf_key	*k;
	struct conf_strlist	*sl;
	struct conf_list	*l;
	void			*field;
	size_t			 i, j;

	for (i = 0; i < t->nkeys; i++) {
		k = &t->keys[i];
		field = (char *)base + k->off;
		switch (k->type) {
		case CT_STRING:
		case CT_JSON:
			free(*(char **)field);
			break;
		case CT_STRLIST:
			sl = field;
			for (j = 0; j < sl->n; j++)
				free(sl->v[j]);
			free(sl->v);
			break;
		case CT_OBJECT:
			conf_release(k->sub, base);
			break;
		case CT_MAP:
		case CT_ARRAY:
			l = field;
			for (j = 0; j < l->n; j++) {
				void *elem = (char *)l->v + j * k->sub->size;
				if (k->type == CT_MAP)
					free(*(char **)elem);
				conf_release(k->sub, elem);
			}
			free(l->v);
			break;
		default:
			break;
		}
	}
}

/*
 * Whether the walk already reported an error inside the entry at path:
 * the cross-key rules skip such an entry rather than report it twice.
 */
static int
conf_entry_failed(struct conf_parse *p, const char *path)
{
	size_t	i, flen = strlen(p->file), plen = strlen(path);

	for (i = 0; i < p->errs->n; i++)
		if (strncmp(p->errs->v[i] + flen + 2, path, plen) == 0)
			return 1;
	return 0;
}

/*
 * Parse "HOST:PORT" with a numeric IPv4 host or a bracketed IPv6 one
 * ("[::1]:8125"); port 0 is allowed.  Returns 0 and fills ss and len, or
 * -1 if the text is not such an address.
 */
int
config_parse_addr(const char *text, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 host[INET6_ADDRSTRLEN];
	const char		*colon, *end;
	unsigned long		 port;
	char			*ep;
	size_t			 hlen;

	if (*text == '[') {
		if ((end = strchr(text, ']')) == NULL || end[1] != ':')
			return -1;
		text++;
		colon = end + 1;
	} else {
		if ((colon = strchr(text, ':')) == NULL ||
		    strchr(colon + 1, ':') != NULL)
			return -1;
		end = colon;
	}
	hlen = (size_t)(end - text);
	if (hlen == 0 || hlen >= sizeof(host) || colon[1] == '\0')
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &ep, 10);
	if (*ep != '\0' || errno != 0 || port > 65535 || colon[1] == '-' ||
	    colon[1] == '+')
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1 && end == colon) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 &&
	    end != colon) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	} else
		return -1;
	return 0;
}

/*
 * Whether ss is a loopback address: 127.0.0.0/8, ::1, or 127.0.0.0/8
 * mapped into IPv6.
 */
int
config_addr_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		    sin6->sin6_addr.s6_addr[12] == 127;
	}
	return ss->ss_family == AF_UNIX;
}

/* The listeners that may be opened beyond loopback, by their key. */
static const char *const conf_remote_ok[] = { "api", "statsd_udp" };

/*
 * Whether the listener listen.key (one of conf_remote_ok) may bind its
 * address beyond loopback: listen.allow_non_loopback names it.
 */
static int
conf_remote_allowed(const struct mt_config *c, const char *key)
{
	size_t	i;

	for (i = 0; i < c->allow_non_loopback.n; i++)
		if (strcmp(c->allow_non_loopback.v[i], key) == 0)
			return 1;
	return 0;
}

/*
 * A listen address: HOST:PORT with a numeric host, or an absolute path.
 * A host beyond loopback needs key (the listener's name under "listen")
 * on listen.allow_non_loopback; key NULL: not a listener.
 */
static void
conf_check_listen(struct conf_parse *p, const struct mt_config *c,
    const char *path, const char *addr, int unix_ok, int inet_ok,
    const char *key)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	 sun;
	socklen_t		 len;

	if (addr == NULL)
		return;
	if (addr[0] == '/') {
		if (!unix_ok)
			conf_error(p, path, "expected HOST:PORT, got \"%s\"",
			    conf_q(addr));
		else if (strlen(addr) >= sizeof(sun.sun_path))
			conf_error(p, path, "expected a socket path shorter "
			    "than %zu bytes, got %zu", sizeof(sun.sun_path),
			    strlen(addr));
		return;
	}
	if (!inet_ok)
		conf_error(p, path, "expected an absolute path, got \"%s\"",
		    conf_q(addr));
	else if (config_parse_addr(addr, &ss, &len) == -1)
		conf_error(p, path, "expected HOST:PORT with a numeric "
		    "address (127.0.0.1:8125, [::1]:8125), got \"%s\"",
		    conf_q(addr));
	else if (key != NULL && !config_addr_loopback(&ss) &&
	    !conf_remote_allowed(c, key))
		conf_error(p, path, "expected a loopback address (127.0.0.1, "
		    "[::1]) or a unix socket path, got \"%s\"; to listen "
		    "beyond loopback, add \"%s\" to listen.allow_non_loopback",
		    conf_q(addr), key);
}

/*
 * The listeners of c that bind beyond loopback, as allowed by
 * listen.allow_non_loopback: one line each, "listen.api binds
 * 0.0.0.0:9120 beyond loopback (listen.allow_non_loopback)", for -t
 * and the start-up log.  Returns the number of lines; the caller frees
 * each and the array.
 */
size_t
config_non_loopback(const struct mt_config *c, char ***lines)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*addr;
	size_t			 i, n = 0;

	*lines = NULL;
	for (i = 0; i < nitems(conf_remote_ok); i++) {
		addr = strcmp(conf_remote_ok[i], "api") == 0 ? c->api :
		    c->statsd_udp;
		if (addr == NULL || addr[0] == '/' ||
		    config_parse_addr(addr, &ss, &len) == -1 ||
		    config_addr_loopback(&ss))
			continue;
		*lines = xreallocarray(*lines, n + 1, sizeof(char *));
		xasprintf(&(*lines)[n++], "listen.%s binds %s beyond loopback "
		    "(listen.allow_non_loopback)", conf_remote_ok[i], addr);
	}
	return n;
}

static int
conf_in_list(const struct conf_strlist *l, const char *s)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/*
 * Whether path is absolute and plain: no "." or ".." component, no "//",
 * no trailing "/".  An allow-listed file is named exactly as the kernel
 * walks it, with nothing a rename of a directory could make point
 * elsewhere.
 */
static int
conf_plain_path(const char *path)
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

/* Rules of one actuator that the key table cannot express. */
static void
conf_check_actuator(struct conf_parse *p, const struct mt_actuator_conf *a)
{
	static const struct {
		const char	*type;
		int		 path, url, argv, allow;	/* 1 required */
	} rules[] = {
		{ "unix", 1, 0, 0, 0 },
		{ "exec", 0, 0, 1, 0 },
		{ "http", 0, 1, 0, 0 },
		{ "file", 0, 0, 0, 1 },
		{ "log", 0, 0, 0, 0 },
	};
	char	*path;
	size_t	 i, j;

	if (a->type == NULL)
		return;		/* already reported as missing */
	for (i = 0; i < nitems(rules); i++)
		if (strcmp(rules[i].type, a->type) == 0)
			break;
	xasprintf(&path, "actuators[\"%s\"]", conf_q(a->name));
	if (conf_entry_failed(p, path)) {
		free(path);
		return;
	}
	if (i == nitems(rules)) {
		conf_field_error(p, path, "type", "expected unix, exec, http, "
		    "file or log, got \"%s\"", conf_q(a->type));
		free(path);
		return;
	}
#define CONF_REQUIRE(field, present)					\
	if (rules[i].field && !(present))				\
		conf_field_error(p, path, #field, "expected a value when "\
		    "type is \"%s\", got none", a->type);		\
	else if (!rules[i].field && (present))				\
		conf_field_error(p, path, #field, "expected nothing when "\
		    "type is \"%s\", got a value", a->type)
	CONF_REQUIRE(path, a->path != NULL);
	CONF_REQUIRE(url, a->url != NULL);
	CONF_REQUIRE(argv, a->argv.n > 0);
	CONF_REQUIRE(allow, a->allow.n > 0);
#undef CONF_REQUIRE
	if (a->path != NULL) {
		char *fpath;

		xasprintf(&fpath, "%s.path", path);
		conf_check_listen(p, NULL, fpath, a->path, 1, 0, NULL);
		free(fpath);
	}
	if (a->url != NULL && strncmp(a->url, "http://", 7) != 0)
		conf_field_error(p, path, "url", "expected an http:// URL, "
		    "got \"%s\"", conf_q(a->url));
	if (a->argv.n > 0 && a->argv.v[0][0] != '/')
		conf_field_error(p, path, "argv", "expected an absolute "
		    "program path first, got \"%s\"", conf_q(a->argv.v[0]));
	for (j = 0; j < a->allow.n; j++)
		if (!conf_plain_path(a->allow.v[j]))
			conf_field_error(p, path, "allow", "expected absolute "
			    "paths without \".\", \"..\", \"//\" or a trailing "
			    "\"/\", got \"%s\"", conf_q(a->allow.v[j]));
	free(path);
}

static int
conf_has_strategy(const struct mt_config *c, const char *name)
{
	CONF_FOREACH(struct mt_strategy_conf, s, c->strategies)
		if (s->name != NULL && strcmp(s->name, name) == 0)
			return 1;
	return 0;
}

/*
 * The statistics a strategy, a guard or a verification may name (the
 * host's stat function, meshtune-strategy(3)).  Returns 1 if name is one.
 */
int
config_stat_name(const char *name)
{
	static const char *const stats[] = { "count", "rate", "sum", "min",
	    "max", "mean", "p50", "p90", "p95", "p99", "p999", "last",
	    "total" };
	size_t	i;

	for (i = 0; name != NULL && i < nitems(stats); i++)
		if (strcmp(stats[i], name) == 0)
			return 1;
	return 0;
}

/* Rules of the guards of list at path: a statistic, one tolerance. */
static void
conf_check_guards(struct conf_parse *p, const struct conf_list *l,
    const char *at)
{
	char	*path;
	size_t	 i = 0;

	CONF_FOREACH(struct mt_guard_conf, gd, *l) {
		xasprintf(&path, "%s[%zu]", at, i++);
		if (conf_entry_failed(p, path)) {
			free(path);
			continue;
		}
		if (!config_stat_name(gd->stat))
			conf_field_error(p, path, "stat", "expected count, "
			    "rate, sum, min, max, mean, p50, p90, p95, p99, "
			    "p999, last or total, got \"%s\"", gd->stat);
		if (isnan(gd->max_rise_pct) == isnan(gd->max_fall_pct))
			conf_error(p, path, "expected exactly one of "
			    "max_rise_pct and max_fall_pct, got %s",
			    isnan(gd->max_rise_pct) ? "neither" : "both");
		free(path);
	}
}

/*
 * Rules of one knob or trigger (table is "knobs" or "triggers"): a known
 * actuator, sane bounds, a permitted path, guards that make sense, and
 * one name for one thing.
 */
static void
conf_check_knob(struct conf_parse *p, const struct mt_config *c,
    const struct mt_knob_conf *k, const char *table)
{
	const struct mt_actuator_conf	*a;
	char				*path, *gpath;

	xasprintf(&path, "%s[\"%s\"]", table, conf_q(k->name));
	if (conf_entry_failed(p, path)) {
		free(path);
		return;
	}
	if (strcmp(table, "triggers") == 0 && config_knob(c, k->name) != NULL)
		conf_error(p, path, "expected a name that is not also a knob, "
		    "got \"%s\" in both", conf_q(k->name));
	xasprintf(&gpath, "%s.guards", path);
	conf_check_guards(p, &k->guards, gpath);
	free(gpath);
	if (k->min > k->max)
		conf_field_error(p, path, "min", "expected at most max "
		    "(%.15g), got %.15g", k->max, k->min);
	if (!isnan(k->initial) && (k->initial < k->min ||
	    k->initial > k->max))
		conf_field_error(p, path, "initial", "expected a number in "
		    "%.15g..%.15g, got %.15g", k->min, k->max, k->initial);
	if (k->owner != NULL && !conf_has_strategy(c, k->owner))
		conf_field_error(p, path, "owner", "expected the name of an "
		    "entry of \"strategies\", got \"%s\"", conf_q(k->owner));
	a = k->actuator != NULL ? config_actuator(c, k->actuator) : NULL;
	if (k->actuator == NULL || (a != NULL && a->type == NULL))
		;	/* reported by the walk */
	else if (a == NULL)
		conf_field_error(p, path, "actuator", "expected the name of "
		    "an entry of \"actuators\", got \"%s\"",
		    conf_q(k->actuator));
	else if (strcmp(a->type, "file") == 0 && k->path == NULL)
		conf_field_error(p, path, "path", "expected a file on the "
		    "allow list of actuator \"%s\", got nothing",
		    conf_q(a->name));
	else if (strcmp(a->type, "file") == 0 &&
	    !conf_in_list(&a->allow, k->path))
		conf_field_error(p, path, "path", "expected a file on the "
		    "allow list of actuator \"%s\", got \"%s\"",
		    conf_q(a->name), conf_q(k->path));
	else if (strcmp(a->type, "file") != 0 && k->path != NULL)
		conf_field_error(p, path, "path", "expected nothing for a "
		    "knob of a %s actuator, got \"%s\"", a->type,
		    conf_q(k->path));
	free(path);
}

static void
conf_check_strategy(struct conf_parse *p, const struct mt_config *c,
    const struct mt_strategy_conf *s, size_t idx)
{
	char	path[32];

	snprintf(path, sizeof(path), "strategies[%zu]", idx);
	if (conf_entry_failed(p, path))
		return;
	if (s->mode != NULL && strcmp(s->mode, "apply") != 0 &&
	    strcmp(s->mode, "advise") != 0)
		conf_field_error(p, path, "mode", "expected \"apply\" or "
		    "\"advise\", got \"%s\"", conf_q(s->mode));
	if (s->module != NULL && strchr(s->module, '/') != NULL)
		conf_field_error(p, path, "module", "expected a file name in "
		    "plugin_dir, got the path \"%s\"", conf_q(s->module));
	else if (s->module != NULL && (strlen(s->module) > CONF_MODULE_MAX ||
	    strspn(s->module, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
	    "rstuvwxyz0123456789_.-+") != strlen(s->module) ||
	    s->module[0] == '.'))
		conf_field_error(p, path, "module", "expected a file name in "
		    "plugin_dir of at most %d characters from A-Z a-z 0-9 _ . "
		    "- + (not starting with .), got \"%s\"", CONF_MODULE_MAX,
		    conf_q(s->module));
	if (s->name == NULL)
		return;
	if (!config_name_ok(s->name)) {
		char	*npath;

		xasprintf(&npath, "%s.name", path);
		conf_bad_name(p, npath, s->name);
		free(npath);
		return;
	}
	CONF_FOREACH(struct mt_strategy_conf, o, c->strategies) {
		if (o == s)
			break;
		if (o->name != NULL && strcmp(o->name, s->name) == 0) {
			conf_field_error(p, path, "name", "expected a unique "
			    "name, got \"%s\" again", conf_q(s->name));
			break;
		}
	}
}

/* A string key that must be one of two words. */
static void
conf_check_word(struct conf_parse *p, const char *path, const char *v,
    const char *a, const char *b)
{
	if (v != NULL && strcmp(v, a) != 0 && strcmp(v, b) != 0)
		conf_error(p, path, "expected \"%s\" or \"%s\", got \"%s\"",
		    a, b, v);
}

/* Cross-key rules, run after the table walk. */
static void
conf_check(struct conf_parse *p, const struct mt_config *c)
{
	size_t	i = 0;

	/* Runs after a walk that may have failed: fields can be unset. */
	if ((c->window_seconds * 1000) % c->window_slices != 0)
		conf_error(p, "window.slices", "expected a divisor of "
		    "window.seconds x 1000 ms, got %lld",
		    (long long)c->window_slices);
	if (c->window_slices > c->window_seconds * 1000)
		conf_error(p, "window.slices", "expected at most one slice "
		    "per ms, got %lld", (long long)c->window_slices);
	if (c->audit_on_bad_file != NULL &&
	    strcmp(c->audit_on_bad_file, "refuse") != 0 &&
	    strcmp(c->audit_on_bad_file, "move") != 0)
		conf_error(p, "audit.on_bad_file", "expected \"refuse\" or "
		    "\"move\", got \"%s\"", conf_q(c->audit_on_bad_file));
	conf_check_listen(p, c, "listen.statsd_udp", c->statsd_udp, 0, 1,
	    "statsd_udp");
	conf_check_listen(p, c, "listen.statsd_unix", c->statsd_unix, 1, 0,
	    NULL);
	conf_check_listen(p, c, "listen.api", c->api, 1, 1, "api");
	for (i = 0; i < c->allow_non_loopback.n; i++) {
		size_t	j;

		for (j = 0; j < nitems(conf_remote_ok); j++)
			if (strcmp(c->allow_non_loopback.v[i],
			    conf_remote_ok[j]) == 0)
				break;
		if (j == nitems(conf_remote_ok))
			conf_error(p, "listen.allow_non_loopback", "expected "
			    "\"api\" or \"statsd_udp\", got \"%s\"",
			    conf_q(c->allow_non_loopback.v[i]));
	}
	if (c->api_token_file != NULL && c->api_token_file[0] != '/')
		conf_error(p, "listen.api_token_file", "expected an absolute "
		    "path, got \"%s\"", conf_q(c->api_token_file));
	CONF_FOREACH(struct mt_actuator_conf, a, c->actuators)
		conf_check_actuator(p, a);
	CONF_FOREACH(struct mt_knob_conf, k, c->knobs)
		conf_check_knob(p, c, k, "knobs");
	CONF_FOREACH(struct mt_knob_conf, k, c->triggers)
		conf_check_knob(p, c, k, "triggers");
	conf_check_guards(p, &c->guards, "governor.guards");
	i = 0;
	CONF_FOREACH(struct mt_strategy_conf, s, c->strategies)
		conf_check_strategy(p, c, s, i++);
	conf_check_word(p, "statsd.gauge_sign_udp", c->statsd_gauge_udp,
	    "value", "delta");
	conf_check_word(p, "statsd.gauge_sign_unix", c->statsd_gauge_unix,
	    "value", "delta");
	conf_check_word(p, "statsd.container_id", c->statsd_container_id,
	    "ignore", "tag");
	conf_check_word(p, "statsd.cardinality", c->statsd_cardinality,
	    "ignore", "tag");
	conf_check_word(p, "statsd.timestamps", c->statsd_timestamps,
	    "ignore", "window");
	conf_check_word(p, "statsd.events", c->statsd_events, "audit",
	    "drop");
}

/*
 * Where text escapes a NUL character ("\\u0000"), or NULL: cJSON would
 * end the C string there, and "a\\u0000b" would quietly become "a".
 */
static const char *
conf_find_nul(const char *text)
{
	const char	*s;

	for (s = text; *s != '\0'; s++) {
		if (*s != '\\')
			continue;
		if (s[1] == 'u' && strncmp(s + 2, "0000", 4) == 0)
			return s;
		if (s[1] != '\0')
			s++;	/* an escaped character, "\\\\" included */
	}
	return NULL;
}

/* The line and column of at in text. */
static void
conf_position(const char *text, const char *at, int *line, int *col)
{
	const char	*s;

	*line = *col = 1;
	for (s = text; s < at; s++) {
		if (*s == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

static void
conf_nul_error(struct conf_parse *p, const char *text, const char *at)
{
	int	line, col;

	conf_position(text, at, &line, &col);
	conf_error(p, NULL, "line %d, column %d: expected no NUL character, "
	    "got \"\\u0000\"", line, col);
}

/* Turn cJSON's error position into a line and column. */
static void
conf_syntax_error(struct conf_parse *p, const char *text, const char *at)
{
	int		 line, col;
	char		 near[24];
	size_t		 n;

	if (at == NULL)
		at = text + strlen(text);
	conf_position(text, at, &line, &col);
	for (n = 0; n < sizeof(near) - 1 && at[n] != '\0' && at[n] != '\n'; n++)
		near[n] = at[n];
	near[n] = '\0';
	conf_error(p, NULL, "line %d, column %d: expected valid JSON, got %s",
	    line, col, n ? conf_q(near) : "the end of the file");
}

/*
 * Parse text (named name in messages) into a new configuration.  Returns
 * it, or NULL with every error appended to errs.  The caller frees the
 * result with config_free and the errors with config_errors_clear.
 */
struct mt_config *
config_load_string(const char *text, const char *name,
    struct conf_errors *errs)
{
	struct conf_parse	 p = { name, errs };
	struct mt_config	*c;
	cJSON			*root;
	const char		*end = NULL;
	size_t			 before = errs->n;

	if ((end = conf_find_nul(text)) != NULL) {
		conf_nul_error(&p, text, end);
		return NULL;
	}
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (root == NULL) {
		conf_syntax_error(&p, text, cJSON_GetErrorPtr());
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(name);
	conf_defaults(&top_table, c);
	conf_walk(&p, root, &top_table, c, "");
	cJSON_Delete(root);
	/* A trigger has no value to start from, nor a step. */
	CONF_FOREACH(struct mt_knob_conf, k, c->triggers)
		k->initial = NAN;
	conf_check(&p, c);
	if (errs->n != before) {
		config_free(c);
		return NULL;
	}
	return c;
}

/*
 * Read and parse a configuration file.  Returns the configuration, or
 * NULL with the errors (a read error included) appended to errs.
 */
struct mt_config *
config_load_file(const char *path, struct conf_errors *errs)
{
	struct conf_parse	 p = { path, errs };
	struct mt_config	*c;
	struct stat		 st;
	char			*text;
	size_t			 got = 0;
	ssize_t			 n = 0;
	int			 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		conf_error(&p, NULL, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONF_MAX_BYTES) {
		conf_error(&p, NULL, "expected a regular file of at most "
		    "%d bytes", CONF_MAX_BYTES);
		close(fd);
		return NULL;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		conf_error(&p, NULL, "cannot read: %s",
		    n == -1 ? strerror(errno) : "file shrank while reading");
		free(text);
		return NULL;
	}
	text[got] = '\0';
	if (strlen(text) != got) {
		conf_error(&p, NULL, "expected JSON text, got a NUL byte at "
		    "offset %zu", strlen(text));
		free(text);
		return NULL;
	}
	c = config_load_string(text, path, errs);
	free(text);
	return c;
}

/* Free a configuration and everything it owns; NULL is a no-op. */
void
config_free(struct mt_config *c)
{
	if (c == NULL)
		return;
	conf_release(&top_table, c);
	free(c->file);
	free(c);
}

/* Free the messages of errs and empty it. */
void
config_errors_clear(struct conf_errors *errs)
{
	size_t	i;

	for (i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

/*
 * Whether two optional settings are the same: both absent, or equal
 * strings.  Reload hooks use it to see what changed.
 */
int
config_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The actuator called name, or NULL. */
const struct mt_actuator_conf *
config_actuator(const struct mt_config *c, const char *name)
{
	CONF_FOREACH(struct mt_actuator_conf, a, c->actuators)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

/* The knob called name, or NULL. */
const struct mt_knob_conf *
config_knob(const struct mt_config *c, const char *name)
{
	CONF_FOREACH(struct mt_knob_conf, k, c->knobs)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* The trigger called name, or NULL. */
const struct mt_knob_conf *
config_trigger(const struct mt_config *c, const char *name)
{
	CONF_FOREACH(struct mt_knob_conf, k, c->triggers)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static size_t
conf_collect_paths(const struct conf_table *t, const char *prefix,
    const char ***out, size_t n)
{
	const struct conf_key	*k;
	char			*path;
	size_t			 i;

	for (i = 0; i < t->nkeys; i++) {
		k = &t->keys[i];
		if (*prefix == '\0')
			path = xstrdup(k->name);
		else
			xasprintf(&path, "%s.%s", prefix, k->name);
		if (k->type != CT_OBJECT) {
			*out = xreallocarray(*out, n + 1, sizeof(char *));
			(*out)[n++] = path;
		}
		if (k->sub != NULL)
			n = conf_collect_paths(k->sub, path, out, n);
		if (k->type == CT_OBJECT)
			free(path);
	}
	return n;
}

/*
 * Every key path of the table ("window.seconds", "knobs.min", ...), for
 * checking that the manual documents each one.  The caller frees each
 * string and the array.
 */
size_t
config_key_paths(const char ***out)
{
	*out = NULL;
	return conf_collect_paths(&top_table, "", out, 0);
}
