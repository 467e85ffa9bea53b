/*
 * compat.h -- small gaps between glibc and the BSD idioms we write in.
 */
#ifndef MT_COMPAT_H
#define MT_COMPAT_H

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif
#ifndef __printflike
#define __printflike(f, a) __attribute__((__format__(__printf__, f, a)))
#endif
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#endif /* MT_COMPAT_H */
