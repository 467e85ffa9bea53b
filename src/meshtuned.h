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

#endif /* MESHTUNED_H */
