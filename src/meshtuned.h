/*
 * meshtuned.h -- the one internal header of meshtune.
 *
 * Prototypes are grouped by the file that defines them, so this header is
 * also a map of the modules.  Public plugin types live in
 * include/meshtune/strategy.h and never name anything declared here.
 */
#ifndef MESHTUNED_H
#define MESHTUNED_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

struct event_base;

/* log.c */
void		 log_init(int, int);
void		 log_close(void);
void		 log_set_verbose(int);
int		 log_get_verbose(void);
void		 log_msg(int, const char *, ...) __printflike(2, 3);
void		 log_warn(const char *, ...) __printflike(1, 2);
void		 log_warnx(const char *, ...) __printflike(1, 2);
void		 log_info(const char *, ...) __printflike(1, 2);
void		 log_debug(const char *, ...) __printflike(1, 2);
__dead void	 fatal(const char *, ...) __printflike(1, 2);
__dead void	 fatalx(const char *, ...) __printflike(1, 2);

/* xmalloc.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);
int		 xasprintf(char **, const char *, ...) __printflike(2, 3);

/* clock.c */
uint64_t	 clock_mono_ms(void);
uint64_t	 clock_mono_us(void);
uint64_t	 clock_wall_ms(void);
void		 clock_format_iso(uint64_t, char *, size_t);

/* config.c */
/* A JSON array or object of named entries, parsed into an array of structs. */
struct conf_list {
	void		*v;
	size_t		 n;
};
#define CONF_FOREACH(type, var, list)					\
	for (type *var = (list).v; var < (type *)(list).v + (list).n; var++)

struct conf_strlist {
	char		**v;
	size_t		  n;
};

struct mt_actuator_conf {
	char		*name;		/* key in "actuators"; first field */
	char		*type;		/* unix exec http file log */
	char		*path;		/* unix: control socket */
	char		*url;		/* http */
	struct conf_strlist argv;	/* exec */
	struct conf_strlist allow;	/* file */
	int64_t		 timeout_ms;
};

struct mt_knob_conf {
	char		*name;		/* key in "knobs"; first field */
	char		*actuator;
	char		*path;		/* file actuator: the file to write */
	char		*owner;		/* strategy that owns it, or NULL */
	double		 min, max;
	double		 initial;	/* NAN: read from the actuator */
	double		 max_step_pct;
	int64_t		 cooldown_s;
	int64_t		 verify_s;	/* 0: one window */
	int64_t		 for_s;
};

struct mt_strategy_conf {
	char		*name;		/* instance name; first field */
	char		*module;	/* file name in plugin_dir */
	char		*mode;		/* "apply" or "advise" */
	char		*config;	/* JSON text handed to init */
	int64_t		 priority;
	int64_t		 budget_ms;
	int64_t		 max_failures;
};

struct mt_config {
	char		*file;		/* where it was read from */
	int64_t		 tick_interval_ms;
	int64_t		 window_seconds;
	int64_t		 window_slices;
	char		*statsd_udp;	/* NULL: disabled */
	char		*statsd_unix;
	int64_t		 statsd_rcvbuf;
	char		*api;
	char		*pid_file;
	char		*proc_root;
	int64_t		 max_series;
	int64_t		 series_idle_s;
	char		*audit_path;
	int64_t		 retention_days;
	int		 dry_run;
	int64_t		 max_actions_per_hour;
	int64_t		 flap_reversals;
	int64_t		 flap_window_s;
	char		*plugin_dir;
	struct conf_list actuators;	/* struct mt_actuator_conf */
	struct conf_list knobs;		/* struct mt_knob_conf */
	struct conf_list strategies;	/* struct mt_strategy_conf */
};

/* Every error of one parse, each "FILE: key.path: expected ..., got ...". */
struct conf_errors {
	char		**v;
	size_t		  n;
};

struct mt_config *config_load_file(const char *, struct conf_errors *);
struct mt_config *config_load_string(const char *, const char *,
		    struct conf_errors *);
void		 config_free(struct mt_config *);
void		 config_errors_clear(struct conf_errors *);
const struct mt_actuator_conf *config_actuator(const struct mt_config *,
		    const char *);
const struct mt_knob_conf *config_knob(const struct mt_config *, const char *);
size_t		 config_key_paths(const char ***);
int		 config_parse_addr(const char *, struct sockaddr_storage *,
		    socklen_t *);

/* daemon.c */
struct event;

/* The daemon's state, shared by its subsystems; one per process. */
struct daemon {
	struct event_base	*base;
	struct mt_config	*conf;		/* the running configuration */
	const char		*conf_path;
	int			 force_dry_run;	/* -n: survives reloads */
	int			 paused;	/* POST /v1/pause */
	int			 stopping;
	struct api		*api;
	uint64_t		 started_ms;	/* monotonic */
	struct event		*ev_signal[3];
	struct event		*ev_tick;
	uint64_t		 ticks;
	uint64_t		 reloads;
	uint64_t		 reload_failures;
	struct {
		uint64_t	 wall_ms;
		uint64_t	 duration_us;
		unsigned int	 proposals;
		unsigned int	 actions;
	} last_tick;
};

int		 daemon_run(struct daemon *);
int		 daemon_reload(struct daemon *);

/* api.c */
struct evhttp_request;
struct cJSON;
int		 api_start(struct daemon *);
void		 api_stop(struct daemon *);
int		 api_reload(struct daemon *, const struct mt_config *);
void		 api_reply_json(struct evhttp_request *, int, struct cJSON *);
void		 api_reply_error(struct evhttp_request *, int, const char *,
		    ...) __printflike(3, 4);
void		 api_reply_ok(struct evhttp_request *);
int		 api_query_param(struct evhttp_request *, const char *, char *,
		    size_t);

/* window.c */

/* statsd.c */

/* metrics.c */

/* collect_proc.c */
#define PROC_MAX_IFACES	64	/* interfaces tracked from net/dev */
#define PROC_IFNAMSIZ	16	/* the kernel's IFNAMSIZ, with the NUL */

enum proc_kind {
	PROC_GAUGE = 0,		/* value is the current level */
	PROC_COUNTER = 1	/* value is the increment since last round */
};

/* One sample; tags are canonical "k=v,k2=v2" or NULL. */
typedef void	(*proc_emit_fn)(const char *name, const char *tags,
		    int kind, double value, void *arg);

struct proc_collector;

struct proc_pid_stat {			/* /proc/PID/stat */
	char		state;		/* R, S, D, Z, ... */
	uint64_t	utime;		/* clock ticks */
	uint64_t	stime;
	uint64_t	starttime;	/* ticks after boot: tells restarts */
};

struct proc_pid_status {		/* /proc/PID/status */
	int		have_rss;	/* VmRSS seen (zombies lack it) */
	uint64_t	rss_kb;
	int		have_threads;
	uint64_t	threads;
	int		have_ctxsw;	/* both *ctxt_switches seen */
	uint64_t	ctxsw;		/* voluntary + nonvoluntary */
};

struct proc_cpu_times {		/* the "cpu" line of /proc/stat */
	uint64_t	total;		/* all but guest time, ticks */
	uint64_t	idle;		/* idle + iowait */
};

struct proc_netdev {			/* one line of /proc/net/dev */
	char		name[PROC_IFNAMSIZ];
	uint64_t	rx_bytes, rx_packets, rx_drops;
	uint64_t	tx_bytes, tx_packets, tx_drops;
};

int		 proc_parse_pidfile(const char *, pid_t *);
int		 proc_parse_pid_stat(const char *, struct proc_pid_stat *);
int		 proc_parse_pid_status(const char *,
		    struct proc_pid_status *);
int		 proc_parse_statm_rss(const char *, uint64_t *);
int		 proc_parse_stat_cpu(const char *, struct proc_cpu_times *);
int		 proc_parse_meminfo_avail(const char *, uint64_t *);
int		 proc_parse_netdev(const char *, struct proc_netdev *,
		    size_t, size_t *);
int		 proc_parse_snmp_retrans(const char *, uint64_t *);
int		 proc_parse_psi_some_avg10(const char *, double *);
struct proc_collector *proc_collector_new(const char *, const char *);
void		 proc_collector_free(struct proc_collector *);
int		 proc_collect(struct proc_collector *, uint64_t,
		    proc_emit_fn, void *);

/* audit.c */

/* plugin.c */
struct cJSON;
struct mt_ctx;
struct mt_host_api;
struct plugin_set;
struct plugin_inst;

#define PLUGIN_BUDGET_US	10000	/* default per-evaluation budget */
#define PLUGIN_MAX_STRIKES	3	/* default failures in a row */
#define PLUGIN_MAX_PROPOSALS	16	/* per evaluation */

enum plugin_event_type {
	PLUGIN_EV_LOADED,	/* instance running: write a strategies row */
	PLUGIN_EV_REFUSED,	/* load refused: write an events row */
	PLUGIN_EV_DISABLED,	/* too many errors/overruns: events row */
	PLUGIN_EV_UNLOADED	/* unloaded (reload, removal, shutdown) */
};

/* What plugin.c reports to the daemon; strings valid during the call. */
struct plugin_event {
	enum plugin_event_type	 type;
	const char		*instance;	/* instance name */
	const char		*module;	/* module file name as configured */
	const char		*path;		/* full path, or NULL */
	const char		*reason;	/* stable code: "symlink", ... */
	const char		*message;	/* the line that was logged */
	const char		*sha256;	/* hex digest, or NULL */
	int			 plugin_abi_major; /* -1: unknown */
	int			 plugin_abi_minor;
	int			 host_abi_major;
	int			 host_abi_minor;
};
typedef void (*plugin_event_fn)(const struct plugin_event *, void *);

struct plugin_opts {
	const char		*dir;		/* plugin_dir */
	/*
	 * The daemon's host functions: now_ms, stat, quantile, knob and
	 * propose are used (NULL ones are absent for plugins; now_ms
	 * defaults to clock_mono_ms); log and config_* are plugin.c's own.
	 * propose receives a validated, full-size copy.  May be NULL.
	 */
	const struct mt_host_api *host;
	void			*udata;		/* plugin_ctx_udata default */
	uint64_t		 budget_us;	/* 0: PLUGIN_BUDGET_US */
	unsigned int		 max_strikes;	/* 0: PLUGIN_MAX_STRIKES */
	plugin_event_fn		 event_fn;	/* may be NULL */
	void			*event_arg;
};

/* One configured strategies[] entry, for plugin_sync. */
struct plugin_spec {
	const char		*name;
	const char		*module;
	const char		*config;	/* JSON object text or NULL */
};

/* Counters and identity of an instance, for /v1/strategies. */
struct plugin_stats {
	const char		*name;
	const char		*module;
	const char		*path;
	const char		*strategy;	/* descriptor name */
	const char		*version;
	const char		*summary;
	const char		*sha256;
	uint32_t		 abi_major;
	uint32_t		 abi_minor;
	int			 enabled;
	const char		*disabled_reason; /* NULL while enabled */
	uint64_t		 evaluations;
	uint64_t		 applies;
	uint64_t		 proposals;
	uint64_t		 errors;
	uint64_t		 overruns;
	uint64_t		 last_us;
	uint64_t		 max_us;
	unsigned int		 strikes;
};

struct plugin_set	*plugin_set_new(const struct plugin_opts *);
void			 plugin_set_free(struct plugin_set *);
void			 plugin_set_limits(struct plugin_set *, uint64_t,
			    unsigned int);
int			 plugin_load(struct plugin_set *, const char *,
			    const char *, const char *);
int			 plugin_unload(struct plugin_set *, const char *);
int			 plugin_reload(struct plugin_set *, const char *);
int			 plugin_sync(struct plugin_set *,
			    const struct plugin_spec *, size_t);
size_t			 plugin_count(const struct plugin_set *);
struct plugin_inst	*plugin_at(struct plugin_set *, size_t);
struct plugin_inst	*plugin_find(struct plugin_set *, const char *);
int			 plugin_eval(struct plugin_inst *, void *, uint64_t);
size_t			 plugin_eval_all(struct plugin_set *, void *,
			    uint64_t);
void			 plugin_get_stats(const struct plugin_inst *,
			    struct plugin_stats *);
void			 plugin_set_udata(struct plugin_inst *, void *);
struct plugin_inst	*plugin_ctx_inst(struct mt_ctx *);
const char		*plugin_ctx_name(struct mt_ctx *);
void			*plugin_ctx_udata(struct mt_ctx *);
void			*plugin_ctx_tick(struct mt_ctx *);
const char		*plugin_event_name(enum plugin_event_type);
int			 plugin_config_number(const struct cJSON *,
			    const char *, double *);
int			 plugin_config_string(const struct cJSON *,
			    const char *, char *, size_t);
struct mt_action;
const char		*plugin_action_check(const struct mt_action *);

/* sha256.c */
#define SHA256_LEN	32
#define SHA256_HEXLEN	(2 * SHA256_LEN + 1)
struct sha256 {
	uint32_t	h[8];
	uint64_t	len;
	uint8_t		buf[64];
	size_t		n;
};
void		 sha256_init(struct sha256 *);
void		 sha256_update(struct sha256 *, const void *, size_t);
void		 sha256_final(struct sha256 *, uint8_t [SHA256_LEN]);
void		 sha256_hex(const uint8_t [SHA256_LEN], char [SHA256_HEXLEN]);
int		 sha256_fd(int, char [SHA256_HEXLEN]);

/* simnode_model.c */
#define SIMMODEL_STEP_MS	100	/* model time per step */
#define SIMMODEL_MAX_PEERS	64

struct simmodel;

/* One knob of the simulated node (STRATEGIES.md bounds). */
struct simmodel_knob {
	const char	*name;
	double		 min, max, initial;
	int		 integer;	/* whole numbers only */
	int		 trigger;	/* any set fires it; no bounds */
};

/* One sample: type is "ms", "h", "g" or "c"; tag is a peer or NULL. */
typedef void	(*simmodel_emit_fn)(const char *name, const char *tag,
		    const char *type, double value, void *arg);

struct simmodel	*simmodel_new(const char *, uint64_t, int);
void		 simmodel_free(struct simmodel *);
int		 simmodel_step(struct simmodel *, simmodel_emit_fn, void *);
uint64_t	 simmodel_now_ms(const struct simmodel *);
const char	*simmodel_phase(const struct simmodel *);
size_t		 simmodel_knob_count(void);
const struct simmodel_knob *simmodel_knob_at(size_t);
int		 simmodel_knob_get(const struct simmodel *, const char *,
		    double *, char *, size_t);
int		 simmodel_knob_set(struct simmodel *, const char *, double,
		    char *, size_t);
const char	*simmodel_scenario_name(size_t);

#endif /* MESHTUNED_H */
