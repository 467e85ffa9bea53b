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
/*
 * The audit log: an SQLite file (WAL) written by one writer thread.  Every
 * audit_* call that writes only queues the work and returns at once; the
 * results that the caller needs (the id of a new action, the newest rows as
 * JSON) come back through a callback that runs on the event loop thread,
 * after the commit.  Tables and columns: meshtune-audit(5).
 */
#define AUDIT_SCHEMA_VERSION	2	/* PRAGMA user_version */
#define AUDIT_TS_LEN		25	/* "2026-11-22T17:05:07.123Z" + NUL */
#define AUDIT_LIMIT_MAX		10000	/* most rows audit_actions_json returns */

struct audit;

enum audit_kind {
	AUDIT_SET,			/* "set": a knob gets a value */
	AUDIT_TRIGGER,			/* "trigger": a one-shot operation */
	AUDIT_ROLLBACK			/* "rollback": undoes parent_id */
};

enum audit_status {
	AUDIT_PENDING,			/* written before the actuator runs */
	AUDIT_APPLIED,			/* the actuator succeeded */
	AUDIT_FAILED,			/* the actuator failed: see error */
	AUDIT_DRY_RUN,			/* decided, applied nothing */
	AUDIT_REJECTED			/* refused by the governor */
};

enum audit_outcome {
	AUDIT_OUTCOME_NONE,		/* NULL: not verified (yet) */
	AUDIT_KEPT,
	AUDIT_ROLLED_BACK,
	AUDIT_UNVERIFIED
};

/* A new action row; audit_action_begin copies every string. */
struct audit_action {
	const char		*strategy;	/* plugin name */
	enum audit_kind		 kind;
	const char		*knob;		/* knob or trigger name */
	double			 old_value;	/* NAN stores NULL */
	double			 new_value;	/* NAN stores NULL */
	enum audit_status	 status;	/* usually AUDIT_PENDING */
	const char		*reason;	/* the strategy's sentence */
	const char		*evidence;	/* JSON text, or NULL */
	const char		*actuator;	/* actuator name, or NULL */
	const char		*error;		/* NULL unless failed/rejected */
	int64_t			 parent_id;	/* rollback: undone action; or 0 */
	const char		*expect_metric;	/* effect to verify, or NULL */
	const char		*expect_stat;	/* e.g. "p95" */
	int			 expect_dir;	/* -1 should fall, +1 rise, 0 */
	double			 baseline;	/* expect_stat before; NAN: NULL */
	int			 verify_s;	/* verify after; 0: never */
};

/* An action row read back; strings are NULL for SQL NULL. */
struct audit_row {
	int64_t			 id;
	char			 ts[AUDIT_TS_LEN];
	uint64_t		 ts_ms;		/* ts as wall-clock ms */
	char			*strategy;
	enum audit_kind		 kind;
	char			*knob;
	double			 old_value;	/* NAN for NULL */
	double			 new_value;	/* NAN for NULL */
	enum audit_status	 status;
	enum audit_outcome	 outcome;
	char			*reason;
	char			*evidence;
	char			*actuator;
	char			*error;
	int64_t			 parent_id;	/* 0 for NULL */
	char			*expect_metric;
	char			*expect_stat;
	int			 expect_dir;
	double			 baseline;	/* NAN for NULL */
	int			 verify_s;	/* 0 for NULL */
	uint64_t		 done_ms;	/* left pending; 0 while pending */
	uint64_t		 verify_due_ms;	/* done_ms + verify_s, or 0 */
	uint64_t		 outcome_ms;	/* outcome set; 0 if not */
};

struct audit_stats {
	uint64_t		 queued;	/* jobs waiting for the writer */
	uint64_t		 written;	/* jobs committed */
	uint64_t		 failed;	/* jobs SQLite refused */
	uint64_t		 dropped;	/* refused: queue full or closing */
	uint64_t		 commits;	/* transactions committed */
};

/* Runs on the event loop thread: id > 0 once committed, or -1. */
typedef void	(*audit_id_cb)(int64_t, void *);
/* Runs on the event loop thread: a JSON array, or NULL on error. */
typedef void	(*audit_json_cb)(const char *, void *);

struct audit	*audit_open(struct event_base *, const char *, int, char *,
		    size_t);
void		 audit_close(struct audit *);
int		 audit_sync(struct audit *);
void		 audit_get_stats(struct audit *, struct audit_stats *);
int		 audit_action_begin(struct audit *, const struct audit_action *,
		    audit_id_cb, void *);
int		 audit_action_update(struct audit *, int64_t,
		    enum audit_status, double, const char *);
int		 audit_action_outcome(struct audit *, int64_t,
		    enum audit_outcome);
int		 audit_reconcile(struct audit *, int64_t, enum audit_status,
		    double, const char *);
int		 audit_event(struct audit *, const char *, const char *,
		    const char *, const char *);
int		 audit_strategy(struct audit *, const char *, const char *,
		    const char *, const char *);
int		 audit_decision(struct audit *, const char *, const char *,
		    const char *);
int		 audit_retention(struct audit *, uint64_t);
int		 audit_actions_json(struct audit *, int, audit_json_cb, void *);
int		 audit_pending(struct audit *, struct audit_row **, size_t *);
int		 audit_last_applied(struct audit *, struct audit_row **,
		    size_t *);
int		 audit_awaiting_verify(struct audit *, struct audit_row **,
		    size_t *);
int		 audit_applied_since(struct audit *, uint64_t,
		    struct audit_row **, size_t *);
void		 audit_rows_free(struct audit_row *, size_t);
const char	*audit_kind_name(enum audit_kind);
const char	*audit_status_name(enum audit_status);
const char	*audit_outcome_name(enum audit_outcome);
int		 audit_format_ts(uint64_t, char *, size_t);
int		 audit_parse_ts(const char *, uint64_t *);

/* plugin.c */

#endif /* MESHTUNED_H */
