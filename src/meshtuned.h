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
struct window;
struct window_stats {
	uint64_t	 count;		/* samples in the window */
	uint64_t	 underflow;	/* of them below 2^-20 (0 included) */
	uint64_t	 overflow;	/* of them at or above 2^30 */
	double		 rate;		/* count / window seconds */
	double		 sum;
	double		 min;
	double		 max;
	double		 mean;
	double		 p50;
	double		 p90;
	double		 p95;
	double		 p99;
	double		 p999;
};
struct window	*window_new(unsigned int, unsigned int, uint64_t);
void		 window_free(struct window *);
int		 window_record(struct window *, double, uint64_t);
void		 window_stats(struct window *, uint64_t, struct window_stats *);
int		 window_quantiles(struct window *, uint64_t, const double *,
		    size_t, double *);
size_t		 window_bytes(const struct window *);
int		 window_check(const struct window *);

/* statsd.c */

/* metrics.c */

/* collect_proc.c */

/* audit.c */

/* plugin.c */

#endif /* MESHTUNED_H */
