/*
 * bench_audit.c -- what the audit log costs the event loop.
 *
 * A burst of 1000 actions goes through the audit log the governor's way,
 * eight in flight at a time: begin a pending row, and when its commit is
 * reported (on the loop) mark it applied and give it an outcome, with an
 * event every ten actions.  Meanwhile a 1 ms timer measures how late the
 * loop gets to it.  Figures:
 *   audit_commit_us_p50/p99  begin queued -> id callback on the loop
 *   loop_stall_max_us        the longest lateness of the 1 ms timer during
 *                            a burst, median of 5 bursts (target: <= 1000)
 *   loop_stall_worst_us      the longest of all 5 bursts
 *   loop_stall_idle_max_us   the same as loop_stall_max_us, over 5 idle
 *                            periods as long as the bursts, interleaved:
 *                            the machine's own noise
 *   loop_late_p99_us         the 99th percentile lateness during bursts
 *   loop_late_idle_p99_us    the same while idle
 *   loop_busy_max_us         the most CPU time the loop thread spent
 *                            between two ticks during the bursts: the
 *                            stall our work causes, without the noise
 *   loop_busy_idle_max_us    the same while idle
 *   begin_submit_ns_p50      audit_action_begin's own cost on the loop
 *   submit_us_max            the longest audit_* call on the loop (wall)
 *   actions_per_s            burst throughput
 *   queue_1000_us            queuing 1000 actions in one loop callback
 *   reader_commit_us_p50/p99 audit_commit_us of one more burst while another
 *                            connection holds a read transaction (BEGIN;
 *                            SELECT), as a person in the sqlite3 shell may
 *   reader_loop_busy_max_us  loop_busy_max_us during that burst
 * The audit trail's JSON log lines go to /dev/null while measuring.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "meshtuned.h"

#define BURST		1000
#define RUNS		5
#define MAXTICKS	200000
#define CHAINS		8
#define TICK_US		1000

static struct event_base	*base;
static struct audit		*audit;
static uint64_t			 last_tick_us, stall_max_us, submit_max_us;
static uint64_t			 last_cpu_us, busy_max_us[3];
static uint64_t			*submit_ns;
static size_t			 nsubmit;
static uint64_t			*late_us[3];	/* by measuring */
static size_t			 nlate[3];
static int			 measuring;	/* 0 no, 1 idle, 2 busy */
static long			 begun, finished;
static uint64_t			*commit_us;
static size_t			 ncommit;

static void	begin_one(void);

/* CPU time of the calling thread: what the loop itself spent. */
static uint64_t
thread_cpu_us(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	uint64_t	now = clock_mono_us(), cpu = thread_cpu_us(), late;

	/*
	 * Lateness in wall time counts the machine's noise (other tenants,
	 * preemption); the loop thread's CPU time between two ticks is what
	 * the work on the loop (our callbacks, the audit's delivery) cost.
	 */
	if (measuring && last_cpu_us != 0 &&
	    cpu - last_cpu_us > busy_max_us[measuring])
		busy_max_us[measuring] = cpu - last_cpu_us;
	last_cpu_us = cpu;

	if (measuring && last_tick_us != 0) {
		late = now - last_tick_us > TICK_US ?
		    now - last_tick_us - TICK_US : 0;
		if (late > stall_max_us)
			stall_max_us = late;
		if (nlate[measuring] < MAXTICKS)
			late_us[measuring][nlate[measuring]++] = late;
	}
	last_tick_us = now;
}

static void
timed(uint64_t t0)
{
	uint64_t	d = clock_mono_us() - t0;

	if (d > submit_max_us)
		submit_max_us = d;
}

static uint64_t
mono_ns(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void
begun_cb(int64_t id, void *arg)
{
	uint64_t	t0, queued = (uint64_t)(uintptr_t)arg;

	if (id <= 0)
		fatalx("bench: action_begin failed");
	commit_us[ncommit++] = clock_mono_us() - queued;
	t0 = clock_mono_us();
	if (audit_action_update(audit, id, AUDIT_APPLIED, 16, NULL) == -1 ||
	    audit_action_outcome(audit, id, AUDIT_KEPT) == -1)
		fatalx("bench: update refused");
	timed(t0);
	if (++finished % 10 == 0) {
		t0 = clock_mono_us();
		audit_event(audit, "actuator_fault", "bench", "simulated",
		    "{\"n\":1}");
		timed(t0);
	}
	begin_one();
	if (finished == begun && begun == BURST)
		event_base_loopbreak(base);
}

static void
begin_one(void)
{
	struct audit_action	act = {
		.strategy = "network", .kind = AUDIT_SET,
		.knob = "net.batch_size", .old_value = 8, .new_value = 16,
		.status = AUDIT_PENDING,
		.reason = "net.rtt_ms p95 above 80 ms for 30 s",
		.evidence = "{\"net.rtt_ms\":{\"p95\":88.5,\"count\":1200},"
		    "\"net.send_queue\":{\"mean\":41}}",
		.actuator = "node", .expect_metric = "net.rtt_ms",
		.expect_stat = "p95", .expect_dir = -1, .baseline = 88.5,
		.verify_s = 60,
	};
	uint64_t		t0, ns;

	if (begun >= BURST)
		return;
	t0 = clock_mono_us();
	ns = mono_ns();
	if (audit_action_begin(audit, &act, begun_cb,
	    (void *)(uintptr_t)t0) == -1)
		fatalx("bench: action_begin refused");
	submit_ns[nsubmit++] = mono_ns() - ns;
	timed(t0);
	begun++;
}

static void
start_cb(evutil_socket_t fd, short ev, void *arg)
{
	int	i;

	for (i = 0; i < CHAINS; i++)
		begin_one();
}

static void
stop_cb(evutil_socket_t fd, short ev, void *arg)
{
	event_base_loopbreak(base);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
figure(const char *metric, double value, const char *unit)
{
	printf("{\"bench\":\"audit\",\"metric\":\"%s\",\"value\":%.1f,"
	    "\"unit\":\"%s\"}\n", metric, value, unit);
}

/* Run the loop for us microseconds, or until a burst ends. */
static void
run_for(uint64_t us)
{
	struct timeval	 tv = { (time_t)(us / 1000000),
			    (suseconds_t)(us % 1000000) };
	struct event	*stop;

	if ((stop = evtimer_new(base, stop_cb, NULL)) == NULL ||
	    evtimer_add(stop, &tv) == -1)
		fatalx("bench: timer");
	event_base_dispatch(base);
	event_free(stop);
}

int
main(void)
{
	struct event_config	*cfg;
	struct event		*tick, *once;
	struct timeval		 tv = { 0, TICK_US }, zero = { 0, 0 };
	struct audit_action	 act = { .strategy = "bench",
				    .kind = AUDIT_SET, .knob = "k",
				    .new_value = 1, .status = AUDIT_DRY_RUN };
	const char		*tmp = getenv("TMPDIR");
	char			 dir[256], path[300], err[512];
	uint64_t		 t0, d, burst_us = 0, queue_us;
	uint64_t		 busy[RUNS], idle[RUNS], p50, p99, busy_cpu;
	sqlite3			*rd;
	sqlite3_stmt		*st, *bst;
	int64_t			 held;
	double			 rate;
	int			 run, i, devnull, saved;

	log_init(1, 0);
	snprintf(dir, sizeof(dir), "%s/bench_audit.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	snprintf(path, sizeof(path), "%s/audit.db", dir);

	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == -1 ||
	    (base = event_base_new_with_config(cfg)) == NULL)
		fatalx("bench: event base");
	event_config_free(cfg);
	if ((audit = audit_open(base, path, 30, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	commit_us = xcalloc(BURST * (RUNS + 1), sizeof(*commit_us));
	submit_ns = xcalloc(BURST * (RUNS + 1), sizeof(*submit_ns));
	for (i = 1; i < 3; i++)
		late_us[i] = xcalloc(MAXTICKS, sizeof(*late_us[i]));
	if ((devnull = open("/dev/null", O_WRONLY)) == -1 ||
	    (saved = dup(STDERR_FILENO)) == -1)
		fatal("bench: /dev/null");
	if ((tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL)) == NULL ||
	    event_add(tick, &tv) == -1)
		fatalx("bench: timer");

	fflush(stderr);
	dup2(devnull, STDERR_FILENO);
	for (run = 0; run < RUNS; run++) {
		/* A burst ... */
		begun = finished = 0;
		stall_max_us = 0;
		last_tick_us = last_cpu_us = 0;
		measuring = 2;
		once = evtimer_new(base, start_cb, NULL);
		evtimer_add(once, &zero);
		t0 = clock_mono_us();
		event_base_dispatch(base);
		d = clock_mono_us() - t0;
		burst_us += d;
		event_free(once);
		busy[run] = stall_max_us;
		/* ... and as long idle, for the machine's own noise. */
		stall_max_us = 0;
		last_tick_us = last_cpu_us = 0;
		measuring = 1;
		run_for(d);
		idle[run] = stall_max_us;
	}
	measuring = 0;
	busy_cpu = busy_max_us[2];
	rate = (double)ncommit * 1e6 / (double)burst_us;
	qsort(commit_us, ncommit, sizeof(*commit_us), cmp_u64);
	p50 = commit_us[ncommit / 2];
	p99 = commit_us[(ncommit * 99) / 100];

	/* One more burst with a reader holding a snapshot. */
	if (sqlite3_open_v2(path, &rd, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(rd, "SELECT count(*) FROM actions",
	    -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(rd, "BEGIN", -1, &bst, NULL) != SQLITE_OK ||
	    sqlite3_step(bst) != SQLITE_DONE ||
	    sqlite3_step(st) != SQLITE_ROW)
		fatalx("bench: reader: %s", sqlite3_errmsg(rd));
	held = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	ncommit = 0;
	begun = finished = 0;
	busy_max_us[2] = 0;
	last_tick_us = last_cpu_us = 0;
	measuring = 2;
	once = evtimer_new(base, start_cb, NULL);
	evtimer_add(once, &zero);
	event_base_dispatch(base);
	event_free(once);
	measuring = 0;
	if (audit_sync(audit) == -1 || sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_column_int64(st, 0) != held)
		fatalx("bench: the reader's snapshot moved");
	sqlite3_finalize(st);
	sqlite3_finalize(bst);
	sqlite3_close(rd);
	qsort(commit_us, ncommit, sizeof(*commit_us), cmp_u64);

	/* Queuing a whole burst at once, from one callback. */
	t0 = clock_mono_us();
	for (i = 0; i < BURST; i++)
		if (audit_action_begin(audit, &act, NULL, NULL) == -1)
			fatalx("bench: action_begin refused");
	queue_us = clock_mono_us() - t0;
	if (audit_sync(audit) == -1)
		fatalx("bench: sync");
	audit_close(audit);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(devnull);
	event_free(tick);
	event_base_free(base);

	for (i = 1; i < 3; i++)
		qsort(late_us[i], nlate[i], sizeof(*late_us[i]), cmp_u64);
	qsort(busy, RUNS, sizeof(*busy), cmp_u64);
	qsort(submit_ns, nsubmit, sizeof(*submit_ns), cmp_u64);
	qsort(idle, RUNS, sizeof(*idle), cmp_u64);
	figure("audit_commit_us_p50", (double)p50, "us");
	figure("audit_commit_us_p99", (double)p99, "us");
	figure("loop_stall_max_us", (double)busy[RUNS / 2], "us");
	figure("loop_stall_worst_us", (double)busy[RUNS - 1], "us");
	figure("loop_stall_idle_max_us", (double)idle[RUNS / 2], "us");
	figure("loop_late_p99_us", (double)late_us[2][(nlate[2] * 99) / 100],
	    "us");
	figure("loop_late_idle_p99_us",
	    (double)late_us[1][(nlate[1] * 99) / 100], "us");
	figure("loop_busy_max_us", (double)busy_cpu, "us");
	figure("loop_busy_idle_max_us", (double)busy_max_us[1], "us");
	figure("begin_submit_ns_p50", (double)submit_ns[nsubmit / 2], "ns");
	figure("submit_us_max", (double)submit_max_us, "us");
	figure("actions_per_s", rate, "1/s");
	figure("queue_1000_us", (double)queue_us, "us");
	figure("reader_commit_us_p50", (double)commit_us[ncommit / 2], "us");
	figure("reader_commit_us_p99",
	    (double)commit_us[(ncommit * 99) / 100], "us");
	figure("reader_loop_busy_max_us", (double)busy_max_us[2], "us");
	free(commit_us);
	free(submit_ns);
	free(late_us[1]);
	free(late_us[2]);

	snprintf(err, sizeof(err), "%s-wal", path);
	unlink(err);
	snprintf(err, sizeof(err), "%s-shm", path);
	unlink(err);
	unlink(path);
	rmdir(dir);
	return 0;
}
