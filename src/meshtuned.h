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

#endif /* MESHTUNED_H */
