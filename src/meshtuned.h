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

/* config.c */

/* daemon.c */

/* window.c */

/* statsd.c */

/* metrics.c */

/* collect_proc.c */

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

#endif /* MESHTUNED_H */
