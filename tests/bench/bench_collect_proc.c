/*
 * bench_collect_proc.c -- cost of one /proc collection round against the
 * real /proc, with this process as the node.  Prints JSON lines:
 * round_us (median of 9 runs of 200 rounds) and samples per round.
 * Usage: bench_collect_proc [rounds]
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meshtuned.h"

static void
count_cb(const char *name, const char *tags, int kind, double value,
    void *arg)
{
	(*(long *)arg)++;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct proc_collector	*pc;
	char			 pidfile[] = "/tmp/mt-bench-proc-XXXXXX";
	double			 us[9];
	uint64_t		 t0;
	long			 samples = 0;
	int			 fd, rounds = 200, run, i;

	if (argc > 1 && (rounds = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: bench_collect_proc [rounds]\n");
		return 1;
	}
	if ((fd = mkstemp(pidfile)) == -1) {
		perror("mkstemp");
		return 1;
	}
	if (dprintf(fd, "%d\n", (int)getpid()) < 0 || close(fd) == -1) {
		perror(pidfile);
		(void)unlink(pidfile);
		return 1;
	}
	log_init(1, 0);
	pc = proc_collector_new("/proc", pidfile);
	proc_collect(pc, clock_mono_ms(), count_cb, &samples);
	for (run = 0; run < (int)nitems(us); run++) {
		samples = 0;
		t0 = clock_mono_us();
		for (i = 0; i < rounds; i++)
			proc_collect(pc, clock_mono_ms() + 1 + (uint64_t)i,
			    count_cb, &samples);
		us[run] = (double)(clock_mono_us() - t0) / rounds;
	}
	qsort(us, nitems(us), sizeof(us[0]), cmp_double);
	printf("{\"bench\":\"collect_proc\",\"metric\":\"round_us\","
	    "\"value\":%.1f,\"unit\":\"us\"}\n", us[nitems(us) / 2]);
	printf("{\"bench\":\"collect_proc\",\"metric\":\"samples_per_round\","
	    "\"value\":%.1f,\"unit\":\"samples\"}\n",
	    (double)samples / rounds);
	proc_collector_free(pc);
	if (unlink(pidfile) == -1) {
		perror(pidfile);
		return 1;
	}
	return 0;
}
