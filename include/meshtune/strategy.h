/*
 * meshtune/strategy.h -- the strategy plugin SDK of meshtune.
 *
 * This is the only header a strategy includes.  It depends on <stdint.h>
 * and <stddef.h> alone, names no type of the daemon, and compiles as C99
 * or later and as C++ (designated initializers in the macros below need
 * C++20).  meshtune-strategy(3) is the tutorial; this file is the
 * reference.
 *
 * A strategy is a shared object that exports one function,
 * meshtune_strategy_v1(), returning a descriptor (struct mt_strategy).
 * The daemon (the "host") hands each strategy a table of functions
 * (struct mt_host_api) through which it reads series statistics and knobs
 * and proposes changes.  A strategy links against nothing of the daemon's:
 * everything goes through that table.  Strategies only *propose*; the
 * governor decides, actuates, verifies and records.
 *
 * Versioning
 *	MT_ABI_MAJOR changes only with an incompatible change; the entry
 *	symbol is then renamed (meshtune_strategy_v2) and a host refuses a
 *	descriptor whose abi_major differs from its own.  MT_ABI_MINOR grows
 *	when fields are appended to a struct.  THE STRUCTS BELOW ARE
 *	APPEND-ONLY: a field is never removed, reordered or retyped, and a new
 *	field goes at the end with a comment "since 1.N".  Every struct that
 *	crosses the boundary starts with (or carries) its size as the side that
 *	filled it knew it, so each side reads a field only after MT_HAS() says
 *	the other side's struct is large enough to hold it; a NULL function
 *	pointer means "not provided".  An appended field must start at or
 *	after the previous version's sizeof (never in its tail padding), or
 *	MT_HAS() would see it in an older struct; the 1.0 structs have no
 *	tail padding on LP64 and ILP32.
 *
 * Threading and timing
 *	Every callback (init, should_apply, apply, destroy) and every host
 *	function runs on the daemon's single event-loop thread.  A callback
 *	must not block: no sleeping, no network or disk I/O, no waiting on
 *	locks.  Each should_apply and apply is timed against a budget
 *	(default 10 ms for both together); an instance that fails (MT_ERR)
 *	or overruns its budget several times in a row (default 3) is disabled
 *	until the daemon reloads it.  Host functions must not be called from
 *	another thread or after the callback that received the ctx returned.
 *
 * Memory and strings
 *	Strings the host passes in (config_json, values written by host
 *	functions) are valid only during the call.  Strings the strategy
 *	passes to the host (an mt_action's fields, log text) need to be valid
 *	only during the host call: the host copies what it keeps.  The
 *	descriptor must stay valid until the object is unloaded: make it a
 *	static const object.
 *
 * Instances
 *	One shared object may run as several instances with different
 *	configurations (the "strategies" array of meshtuned.conf(5)).  Keep
 *	ALL per-instance state in the object init stores in *statep; do not
 *	use mutable globals.  Each instance has its own struct mt_ctx.
 */
#ifndef MESHTUNE_STRATEGY_H
#define MESHTUNE_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_ABI_MAJOR	1	/* incompatible change: bump, rename entry */
#define MT_ABI_MINOR	0	/* fields appended */

/*
 * Result codes.  Host functions return MT_OK or a negative code;
 * should_apply returns 1 (act), 0 (stay quiet) or a negative code; apply
 * returns MT_OK (proposed), MT_NOOP (decided to do nothing) or a negative
 * code.  A negative return from should_apply or apply counts as an error
 * towards disabling the instance; use MT_ERR.
 */
#define MT_OK		 0	/* success */
#define MT_NOOP		 1	/* apply: nothing to propose after all */
#define MT_ERR		-1	/* failure (callbacks return this) */
#define MT_ENOENT	-2	/* no such series, statistic, knob or key */
#define MT_ENODATA	-3	/* series known, but no samples in window */
#define MT_EINVAL	-4	/* bad argument (NULL name, NaN, bad kind) */
#define MT_ELIMIT	-5	/* too many proposals in this evaluation */
#define MT_EPERM	-6	/* not allowed now (propose outside apply) */

/* Log levels for mt_host_api.log. */
#define MT_LOG_DEBUG	0	/* shown with meshtuned -v */
#define MT_LOG_INFO	1
#define MT_LOG_WARN	2

/* Kinds of action (struct mt_action.kind). */
#define MT_ACT_SET	1	/* set knob to value */
#define MT_ACT_TRIGGER	2	/* fire a one-shot trigger named knob */

/*
 * The host's per-instance context.  Opaque: pass it back to every host
 * function.  It is valid from init until destroy.
 */
struct mt_ctx;

/*
 * MT_HAS(p, type, field): true when the struct *p, whose size member says
 * how large the other side built it, contains field.  Read any field
 * newer than 1.0 only after this check, e.g.
 *	if (MT_HAS(host, struct mt_host_api, quantile) && host->quantile)
 */
#define MT_HAS(p, type, field)						\
	(offsetof(type, field) + sizeof(((type *)0)->field) <=		\
	    (size_t)(p)->size)

/* Shorthand for the host table: the function exists and is non-NULL. */
#define MT_HOST_HAS(host, fn)						\
	(MT_HAS(host, struct mt_host_api, fn) && (host)->fn != NULL)

/*
 * A proposal: set a knob or fire a trigger, with why and what should
 * happen.  Fill it on the stack, starting from MT_ACTION_INIT (which sets
 * size), and hand it to host->propose(), which copies everything; the
 * strings need to live only during that call.
 */
struct mt_action {
	uint32_t	 size;		/* sizeof(struct mt_action) as built */
	int32_t		 kind;		/* MT_ACT_SET or MT_ACT_TRIGGER */
	const char	*knob;		/* knob or trigger name, required */
	double		 value;		/* new value (SET); argument (TRIGGER) */
	const char	*reason;	/* one sentence with the numbers that
					   led to it, required: "net.rtt_ms p95
					   142 ms > 100 ms over 611 samples" */
	const char	*evidence;	/* JSON object text with the values
					   read, or NULL; stored in the audit
					   log's evidence column */
	const char	*expect_metric;	/* series expected to change, or NULL
					   (nothing to verify) */
	const char	*expect_stat;	/* its statistic: "p95", "mean", ... */
	int32_t		 expect_dir;	/* -1 should fall, +1 should rise,
					   0 no expectation */
	int32_t		 reserved;	/* 0; keeps the 1.0 struct free of
					   tail padding (see Versioning) */
	/* Append new fields here only. */
};
#define MT_ACTION_INIT	{ sizeof(struct mt_action), 0, NULL, 0.0, NULL, \
			    NULL, NULL, NULL, 0, 0 }

/*
 * Host -> strategy: the functions a strategy may call.  Append-only.  Any
 * pointer may be NULL (not provided by this host); check newer ones with
 * MT_HOST_HAS().  Every function takes the instance's ctx first.
 *
 * Statistics are read from one immutable snapshot per tick, so
 * should_apply and apply see the same numbers.  Statistic names (stat):
 *	count	samples in the window	rate	per second (samples or,
 *	sum	sum of samples			for counters, the counted amount)
 *	min max mean				last	latest gauge value
 *	p50 p90 p95 p99 p999 quantiles		total	counter total
 * A series key is the StatsD name plus sorted tags: "net.rtt_ms{peer=a}".
 */
struct mt_host_api {
	uint32_t	 abi_major;	/* MT_ABI_MAJOR of the host */
	uint32_t	 abi_minor;	/* MT_ABI_MINOR of the host */
	uint32_t	 size;		/* sizeof(struct mt_host_api) in host */

	/* Log one line, printf-style, prefixed with the instance name. */
	void		(*log)(struct mt_ctx *, int level, const char *fmt,
			    ...)
#if defined(__GNUC__) || defined(__clang__)
			    __attribute__((__format__(__printf__, 3, 4)))
#endif
			    ;
	/* Monotonic milliseconds (not wall time); for hysteresis timers. */
	uint64_t	(*now_ms)(struct mt_ctx *);
	/*
	 * Read statistic stat of series into *out.  MT_OK, MT_ENOENT (no
	 * such series, or the statistic does not exist for its type),
	 * MT_ENODATA (no samples in the window), MT_EINVAL.
	 */
	int		(*stat)(struct mt_ctx *, const char *series,
			    const char *stat, double *out);
	/* Quantile q in [0, 1] of series; codes as for stat. */
	int		(*quantile)(struct mt_ctx *, const char *series,
			    double q, double *out);
	/*
	 * Read a knob's current value and its configured bounds; any out
	 * pointer may be NULL.  MT_OK or MT_ENOENT (unknown knob).
	 */
	int		(*knob)(struct mt_ctx *, const char *knob, double *value,
			    double *min, double *max);
	/*
	 * Propose an action; only allowed inside apply (else MT_EPERM).  The
	 * host validates and copies it: MT_OK (queued for the governor,
	 * which may still refuse it), MT_EINVAL (no knob or reason, bad
	 * kind, value not finite, evidence not a JSON object), MT_ELIMIT.
	 */
	int		(*propose)(struct mt_ctx *, const struct mt_action *);
	/*
	 * Read the instance's configuration, so a strategy needs no JSON
	 * parser of its own.  key is a member name; nested objects are
	 * reached with '/' ("limits/p95").  config_number accepts numbers
	 * and booleans (1/0); config_string copies a string, NUL-terminated,
	 * into buf.  MT_OK, MT_ENOENT (absent: use your default), MT_EINVAL
	 * (present but of another type, or too long for buf).
	 */
	int		(*config_number)(struct mt_ctx *, const char *key,
			    double *out);
	int		(*config_string)(struct mt_ctx *, const char *key,
			    char *buf, size_t len);
	/* Append new functions here only. */
};

/*
 * Strategy -> host: the descriptor.  Append-only.  Start its initializer
 * with MT_STRATEGY_HEADER.  The host checks abi_major, size, name and the
 * required callbacks before it calls anything else.
 */
struct mt_strategy {
	uint32_t	 abi_major;	/* MT_ABI_MAJOR the plugin was built for */
	uint32_t	 abi_minor;	/* MT_ABI_MINOR the plugin was built for */
	uint32_t	 size;		/* sizeof(struct mt_strategy) as built */
	uint32_t	 period_ms;	/* evaluate at most this often; 0 = every
					   tick */
	const char	*name;		/* module name, required:
					   [A-Za-z0-9_.-], 1 to 64 bytes */
	const char	*version;	/* the strategy's own version, or NULL */
	const char	*summary;	/* one line: what it tunes, or NULL */
	/*
	 * Required.  Parse config_json (a JSON object as text, "{}" when the
	 * configuration has none) or read it with host->config_number, keep
	 * host, allocate state and store it in *statep.  On error return
	 * MT_ERR with a message in err (errlen bytes, NUL-terminated); the
	 * instance is then refused and destroy is not called.
	 */
	int		(*init)(const struct mt_host_api *host,
			    struct mt_ctx *ctx, const char *config_json,
			    void **statep, char *err, size_t errlen);
	/*
	 * Required.  Cheap test on the current snapshot: 1 to run apply,
	 * 0 to stay quiet (including "too few samples"), MT_ERR on failure.
	 * It must not propose.
	 */
	int		(*should_apply)(void *state, struct mt_ctx *ctx);
	/* Required.  Propose actions; MT_OK, MT_NOOP or MT_ERR. */
	int		(*apply)(void *state, struct mt_ctx *ctx);
	/* Optional.  Free state; called once when the instance unloads. */
	void		(*destroy)(void *state);
	/* Append new fields here only. */
};

/* The first three fields of every descriptor. */
#define MT_STRATEGY_HEADER						\
	.abi_major = MT_ABI_MAJOR,					\
	.abi_minor = MT_ABI_MINOR,					\
	.size = sizeof(struct mt_strategy)

/*
 * The entry point, the one symbol a strategy exports.  The host calls it
 * once per instance, before init, with its table; return the static
 * descriptor, or NULL to refuse (for example when host->abi_minor is too
 * old for a function you need).
 */
#define MT_ENTRY	"meshtune_strategy_v1"
typedef const struct mt_strategy *(*mt_entry_fn)(const struct mt_host_api *);

/*
 * MT_STRATEGY_EXPORT(id) opens the definition of the entry point:
 *	MT_STRATEGY_EXPORT(template)
 *	{
 *		return &template_strategy;
 *	}
 * Normally it defines meshtune_strategy_v1 with default visibility (build
 * with -fvisibility=hidden so nothing else is exported).  With -DMT_STATIC
 * it defines meshtune_strategy_<id> instead, so that several strategies
 * link into one program (tests, built-ins); declare those with
 * MT_STRATEGY_DECLARE(id).
 */
#if defined(__GNUC__) || defined(__clang__)
#define MT_VISIBLE	__attribute__((__visibility__("default")))
#define MT_MAYBE_UNUSED	__attribute__((__unused__))
#else
#define MT_VISIBLE
#define MT_MAYBE_UNUSED
#endif

#ifdef __cplusplus
#define MT_EXTERN_C	extern "C"
#else
#define MT_EXTERN_C
#endif

#define MT_STRATEGY_DECLARE(id)						\
	MT_EXTERN_C const struct mt_strategy *				\
	    meshtune_strategy_##id(const struct mt_host_api *)

/*
 * The parameter is named host for the body's use and marked maybe-unused,
 * so an entry point that ignores it stays clean under -Wall -Wextra.
 */
#ifdef MT_STATIC
#define MT_STRATEGY_EXPORT(id)						\
	MT_STRATEGY_DECLARE(id);					\
	MT_EXTERN_C const struct mt_strategy *				\
	    meshtune_strategy_##id(					\
	    const struct mt_host_api *host MT_MAYBE_UNUSED)
#else
#define MT_STRATEGY_EXPORT(id)						\
	MT_EXTERN_C MT_VISIBLE const struct mt_strategy *		\
	    meshtune_strategy_v1(					\
	    const struct mt_host_api *host MT_MAYBE_UNUSED)
#endif

/* The entry point's prototype, for plugins (hosts use dlsym(MT_ENTRY)). */
#ifndef MT_STATIC
MT_VISIBLE const struct mt_strategy *
	meshtune_strategy_v1(const struct mt_host_api *);
#endif

#ifdef __cplusplus
}
#endif

#endif /* MESHTUNE_STRATEGY_H */
