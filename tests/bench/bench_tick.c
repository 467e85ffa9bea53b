/*
 * bench_tick.c -- the cost of one tick: five strategy instances evaluated
 * over one snapshot, then the governor, with 1,000 and 10,000 series in
 * the registry (each with a window of samples), the real engine, governor
 * and audit log.  Prints tick_us p50 and p99 as JSON lines.
 */
#include <sys/types.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "meshtuned.h"

#define TICKS		2000
#define SAMPLES		100	/* per series, in the window */

static int	cmp_u64(const void *, const void *);

/* CPU time of this thread: unlike the wall clock, not inflated when the
 * shared machine preempts us. */
static uint64_t
thread_cpu_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
report(const char *metric, uint64_t *v, size_t nseries)
{
	qsort(v, TICKS, sizeof(*v), cmp_u64);
	printf("{\"bench\":\"tick\",\"metric\":\"%s\",\"stat\":\"p50\","
	    "\"series\":%zu,\"strategies\":5,\"value\":%llu,\"unit\":\"us\"}\n",
	    metric, nseries, (unsigned long long)v[TICKS / 2]);
	printf("{\"bench\":\"tick\",\"metric\":\"%s\",\"stat\":\"p99\","
	    "\"series\":%zu,\"strategies\":5,\"value\":%llu,\"unit\":\"us\"}\n",
	    metric, nseries, (unsigned long long)v[TICKS * 99 / 100]);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static const char *
bench_config(const char *dir)
{
	static char	buf[4096];
	static const char *series[] = { "net.rtt_ms", "consensus.round_ms",
	    "mem.heap_mb", "mesh.hops", "net.send_queue" };
	size_t		i, len;

	len = (size_t)snprintf(buf, sizeof(buf), "{ \"tick_interval_ms\": 5000,"
	    " \"audit\": { \"path\": \"%s/audit.db\" }, \"plugin_dir\": \"%s\","
	    " \"limits\": { \"max_series\": 20000 },"
	    " \"actuators\": { \"log\": { \"type\": \"log\" } }, \"knobs\": {",
	    dir, BENCH_PLUGIN_DIR);
	for (i = 0; i < nitems(series); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    "%s \"k%zu\": { \"actuator\": \"log\", \"min\": 1, \"max\": "
		    "1e9, \"initial\": 8, \"cooldown_s\": 60 }", i ? "," : "", i);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len,
	    " }, \"strategies\": [");
	for (i = 0; i < nitems(series); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    "%s { \"name\": \"s%zu\", \"module\": \"template.so\", "
		    "\"config\": { \"series\": \"%s\", \"knob\": \"k%zu\", "
		    "\"threshold\": 10, \"min_count\": 20 } }", i ? "," : "",
		    i, series[i], i);
	snprintf(buf + len, sizeof(buf) - len, " ] }");
	return buf;
}

static void
bench(size_t nseries, const char *dir)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct daemon		 d;
	uint64_t		*us, *cpu, now;
	char			 key[64];
	size_t			 i, j;

	memset(&d, 0, sizeof(d));
	d.conf = config_load_string(bench_config(dir), "bench", &errs);
	if (d.conf == NULL) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		exit(1);
	}
	d.base = event_base_new();
	d.audit = audit_open(d.base, d.conf->audit_path, 30, key, sizeof(key));
	d.metrics = metrics_new(60, 60, 20000);
	if (d.base == NULL || d.audit == NULL || d.metrics == NULL ||
	    governor_start(&d) == -1 || engine_start(&d) == -1) {
		fprintf(stderr, "bench_tick: set-up failed\n");
		exit(1);
	}
	now = clock_mono_ms();
	for (i = 0; i < nseries; i++) {
		if (i < 5)
			snprintf(key, sizeof(key), "%s", (const char *[]){
			    "net.rtt_ms", "consensus.round_ms", "mem.heap_mb",
			    "mesh.hops", "net.send_queue" }[i]);
		else
			snprintf(key, sizeof(key), "node.series_%zu{peer=p%zu}",
			    i, i % 16);
		for (j = 0; j < SAMPLES; j++)
			metrics_add(d.metrics, key, STATSD_TIMER,
			    5.0 + (double)((i * 7 + j * 13) % 97), now -
			    60000 + j * 600);
	}
	us = xcalloc(TICKS, sizeof(*us));
	cpu = xcalloc(TICKS, sizeof(*cpu));
	for (i = 0; i < TICKS; i++) {
		uint64_t t0 = clock_mono_us(), c0 = thread_cpu_us();

		engine_tick(&d, now + i * 5);
		us[i] = clock_mono_us() - t0;
		cpu[i] = thread_cpu_us() - c0;
		event_base_loop(d.base, EVLOOP_NONBLOCK);
	}
	report("tick_us", us, nseries);
	report("tick_cpu_us", cpu, nseries);
	free(us);
	free(cpu);
	engine_stop(&d);
	governor_stop(&d);
	metrics_free(d.metrics);
	audit_close(d.audit);
	event_base_free(d.base);
	config_free(d.conf);
}

int
main(void)
{
	char	dir[] = "/tmp/bench_tick.XXXXXX", cmd[64];

	log_init(1, 0);
	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	/* Quiet: the governor logs every action at info. */
	if (freopen("/dev/null", "w", stderr) == NULL)
		fatal("freopen");
	bench(1000, dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	if (mkdtemp(strcpy(dir, "/tmp/bench_tick.XXXXXX")) == NULL)
		fatal("mkdtemp");
	bench(10000, dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) != 0;
}
