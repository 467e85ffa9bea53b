/*
 * test_prom.c -- cmocka tests for the Prometheus text exposition
 * (prom.c): the exact page for a small registry, family and label
 * collisions, unit mapping, and the daemon's own figures.
 */
#include <sys/types.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "meshtuned.h"

static struct statsd_parser	sp;

static void
add(struct metrics *m, const char *s, uint64_t now)
{
	struct statsd_line	ln;
	enum statsd_reason	r;

	r = statsd_parse_line(&sp, s, strlen(s), &ln);
	if (r != STATSD_OK)
		fail_msg("\"%s\" refused by the parser: %s", s,
		    statsd_reason_name(r));
	if (metrics_add_line(m, &ln, now) != ln.nvalues)
		fail_msg("\"%s\" not stored", s);
}

/* The page prom_write makes, as a NUL-terminated string. */
static char *
page(struct metrics *m, uint64_t now, const struct prom_self *self)
{
	struct evbuffer	*b;
	char		*s;
	size_t		 n;

	assert_non_null(b = evbuffer_new());
	prom_write(b, m, now, self);
	n = evbuffer_get_length(b);
	s = xmalloc(n + 1);
	assert_int_equal(evbuffer_remove(b, s, n), (int)n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

static void
assert_page(const char *got, const char *want)
{
	size_t	i, line = 1;

	if (strcmp(got, want) == 0)
		return;
	for (i = 0; got[i] == want[i]; i++)
		if (got[i] == '\n')
			line++;
	print_error("page differs at line %zu\n--- got:\n%s--- want:\n%s",
	    line, got, want);
	fail();
}

static int
setup(void **state)
{
	statsd_init(&sp);
	return 0;
}

/*
 * Summaries and counters, HELP and TYPE once per family, label names
 * mapped and values escaped, units to base units with scaled values,
 * NaN quantiles of an empty window, net.rtt and net_rtt in one family.
 */
static const char page_small[] =
"# HELP meshtune_consensus_ops_total consensus.ops (counter): total\n"
"# TYPE meshtune_consensus_ops_total counter\n"
"meshtune_consensus_ops_total{node=\"n1\"} 1\n"
"# HELP meshtune_io_read_bytes_total io.read_kb (counter): total\n"
"# TYPE meshtune_io_read_bytes_total counter\n"
"meshtune_io_read_bytes_total 3072\n"
"# HELP meshtune_lbl lbl (histogram): quantiles over the sliding window\n"
"# TYPE meshtune_lbl summary\n"
"meshtune_lbl{_z=\"y\",a_b=\"x:1\",quantile=\"0.5\"} 1\n"
"meshtune_lbl{_z=\"y\",a_b=\"x:1\",quantile=\"0.9\"} 1\n"
"meshtune_lbl{_z=\"y\",a_b=\"x:1\",quantile=\"0.95\"} 1\n"
"meshtune_lbl{_z=\"y\",a_b=\"x:1\",quantile=\"0.99\"} 1\n"
"meshtune_lbl{_z=\"y\",a_b=\"x:1\",quantile=\"0.999\"} 1\n"
"meshtune_lbl_sum{_z=\"y\",a_b=\"x:1\"} 1\n"
"meshtune_lbl_count{_z=\"y\",a_b=\"x:1\"} 1\n"
"# HELP meshtune_mem_heap_bytes mem.heap_mb (gauge): quantiles over the sliding window\n"
"# TYPE meshtune_mem_heap_bytes summary\n"
"meshtune_mem_heap_bytes{quantile=\"0.5\"} 2097152\n"
"meshtune_mem_heap_bytes{quantile=\"0.9\"} 2097152\n"
"meshtune_mem_heap_bytes{quantile=\"0.95\"} 2097152\n"
"meshtune_mem_heap_bytes{quantile=\"0.99\"} 2097152\n"
"meshtune_mem_heap_bytes{quantile=\"0.999\"} 2097152\n"
"meshtune_mem_heap_bytes_sum 2097152\n"
"meshtune_mem_heap_bytes_count 1\n"
"# HELP meshtune_net_rtt net.rtt (timer): quantiles over the sliding window\n"
"# TYPE meshtune_net_rtt summary\n"
"meshtune_net_rtt{quantile=\"0.5\"} 5\n"
"meshtune_net_rtt{quantile=\"0.9\"} 5\n"
"meshtune_net_rtt{quantile=\"0.95\"} 5\n"
"meshtune_net_rtt{quantile=\"0.99\"} 5\n"
"meshtune_net_rtt{quantile=\"0.999\"} 5\n"
"meshtune_net_rtt_sum 5\n"
"meshtune_net_rtt_count 1\n"
"# HELP meshtune_net_rtt_seconds net.rtt_ms (timer): quantiles over the sliding window\n"
"# TYPE meshtune_net_rtt_seconds summary\n"
"meshtune_net_rtt_seconds{peer=\"a\",quantile=\"0.5\"} 0.1\n"
"meshtune_net_rtt_seconds{peer=\"a\",quantile=\"0.9\"} 0.1\n"
"meshtune_net_rtt_seconds{peer=\"a\",quantile=\"0.95\"} 0.1\n"
"meshtune_net_rtt_seconds{peer=\"a\",quantile=\"0.99\"} 0.1\n"
"meshtune_net_rtt_seconds{peer=\"a\",quantile=\"0.999\"} 0.1\n"
"meshtune_net_rtt_seconds_sum{peer=\"a\"} 0.1\n"
"meshtune_net_rtt_seconds_count{peer=\"a\"} 1\n"
"meshtune_net_rtt_seconds{peer=\"b\",quantile=\"0.5\"} 0.25\n"
"meshtune_net_rtt_seconds{peer=\"b\",quantile=\"0.9\"} 0.25\n"
"meshtune_net_rtt_seconds{peer=\"b\",quantile=\"0.95\"} 0.25\n"
"meshtune_net_rtt_seconds{peer=\"b\",quantile=\"0.99\"} 0.25\n"
"meshtune_net_rtt_seconds{peer=\"b\",quantile=\"0.999\"} 0.25\n"
"meshtune_net_rtt_seconds_sum{peer=\"b\"} 0.25\n"
"meshtune_net_rtt_seconds_count{peer=\"b\"} 1\n"
"# HELP meshtune_old_lat_seconds old.lat_us (timer): quantiles over the sliding window\n"
"# TYPE meshtune_old_lat_seconds summary\n"
"meshtune_old_lat_seconds{quantile=\"0.5\"} NaN\n"
"meshtune_old_lat_seconds{quantile=\"0.9\"} NaN\n"
"meshtune_old_lat_seconds{quantile=\"0.95\"} NaN\n"
"meshtune_old_lat_seconds{quantile=\"0.99\"} NaN\n"
"meshtune_old_lat_seconds{quantile=\"0.999\"} NaN\n"
"meshtune_old_lat_seconds_sum 0\n"
"meshtune_old_lat_seconds_count 0\n"
"# HELP meshtune_path_len path.len (gauge): quantiles over the sliding window\n"
"# TYPE meshtune_path_len summary\n"
"meshtune_path_len{p=\"a\\\"b\\\\c\",quantile=\"0.5\"} 4\n"
"meshtune_path_len{p=\"a\\\"b\\\\c\",quantile=\"0.9\"} 4\n"
"meshtune_path_len{p=\"a\\\"b\\\\c\",quantile=\"0.95\"} 4\n"
"meshtune_path_len{p=\"a\\\"b\\\\c\",quantile=\"0.99\"} 4\n"
"meshtune_path_len{p=\"a\\\"b\\\\c\",quantile=\"0.999\"} 4\n"
"meshtune_path_len_sum{p=\"a\\\"b\\\\c\"} 4\n"
"meshtune_path_len_count{p=\"a\\\"b\\\\c\"} 1\n";

static struct metrics *
small_registry(int reversed)
{
	struct metrics	*m = metrics_new(10, 10, 100);

	add(m, "old.lat_us:5|ms", 0);		/* gone from the window */
	if (reversed) {
		add(m, "net_rtt:7|ms", 15000);
		add(m, "net.rtt:5|ms", 15000);
	} else {
		add(m, "net.rtt:5|ms", 15000);
		add(m, "net_rtt:7|ms", 15000);
	}
	add(m, "net.rtt_ms:250|ms|#peer:b", 15000);
	add(m, "net.rtt_ms:100|ms|#peer:a", 15000);
	add(m, "mem.heap_mb:2|g", 15000);
	add(m, "consensus.ops:3|c", 15000);
	add(m, "consensus.ops:1|c|@0.5", 15000);
	add(m, "consensus.ops:1|c|#node:n1", 15000);
	add(m, "io.read_kb:3|c", 15000);
	add(m, "lbl:1|h|#a-b:x:1,9z:y", 15000);
	/* Only the collectors' way in can carry " and \ in a value. */
	assert_int_equal(metrics_add(m, "path.len{p=a\"b\\c}", STATSD_GAUGE,
	    4, 15000), 0);
	return m;
}

static void
test_page(void **state)
{
	struct metrics	*m;
	char		*got;

	m = small_registry(0);
	got = page(m, 15500, NULL);
	assert_page(got, page_small);
	free(got);
	metrics_free(m);

	/* The same whatever the order series arrived in. */
	m = small_registry(1);
	got = page(m, 15500, NULL);
	assert_page(got, page_small);
	free(got);
	metrics_free(m);
}

/* The winner of a family collision does not change as the table grows. */
static void
test_collision_stable(void **state)
{
	struct metrics	*m = metrics_new(10, 10, 10000);
	char		*got, line[64];
	int		 i;

	add(m, "net_rtt:7|ms", 0);
	add(m, "net.rtt:5|ms", 0);
	for (i = 0; i < 3000; i++) {
		snprintf(line, sizeof(line), "filler%d:1|c", i);
		add(m, line, 0);
		if (i % 250 != 0)
			continue;
		got = page(m, 0, NULL);
		assert_non_null(strstr(got, "# HELP meshtune_net_rtt net.rtt "
		    "(timer)"));
		assert_non_null(strstr(got, "\nmeshtune_net_rtt_sum 5\n"));
		assert_null(strstr(got, "meshtune_net_rtt_sum 7"));
		free(got);
	}
	metrics_free(m);
}

/* A counter and a summary under one name: the first (by key) only. */
static void
test_collision_kinds(void **state)
{
	struct metrics	*m = metrics_new(10, 10, 100);
	char		*got;

	add(m, "q.total:1|g", 0);
	add(m, "q:2|c", 0);
	got = page(m, 0, NULL);
	assert_page(got,
	    "# HELP meshtune_q_total q (counter): total\n"
	    "# TYPE meshtune_q_total counter\n"
	    "meshtune_q_total 2\n");
	free(got);
	metrics_free(m);
}

/*
 * Series that would make the page invalid are left out: two tags that
 * map to one label name, a "quantile" tag on a summary, a summary family
 * that is the _sum or _count of another.
 */
static void
test_invalid_left_out(void **state)
{
	struct metrics	*m = metrics_new(10, 10, 100);
	char		*got;

	add(m, "dup:1|ms|#a.b:1,a_b:2", 0);
	add(m, "dup:1|ms|#a.b:1", 0);
	add(m, "qt:1|ms|#quantile:x", 0);
	add(m, "qc:1|c|#quantile:x", 0);	/* no quantile label here */
	add(m, "x:1|ms", 0);
	add(m, "x.sum:1|g", 0);
	add(m, "x.count:1|g", 0);
	got = page(m, 0, NULL);
	assert_page(got,
	    "# HELP meshtune_dup dup (timer): quantiles over the sliding window\n"
	    "# TYPE meshtune_dup summary\n"
	    "meshtune_dup{a_b=\"1\",quantile=\"0.5\"} 1\n"
	    "meshtune_dup{a_b=\"1\",quantile=\"0.9\"} 1\n"
	    "meshtune_dup{a_b=\"1\",quantile=\"0.95\"} 1\n"
	    "meshtune_dup{a_b=\"1\",quantile=\"0.99\"} 1\n"
	    "meshtune_dup{a_b=\"1\",quantile=\"0.999\"} 1\n"
	    "meshtune_dup_sum{a_b=\"1\"} 1\n"
	    "meshtune_dup_count{a_b=\"1\"} 1\n"
	    "# HELP meshtune_qc_total qc (counter): total\n"
	    "# TYPE meshtune_qc_total counter\n"
	    "meshtune_qc_total{quantile=\"x\"} 1\n"
	    "# HELP meshtune_x x (timer): quantiles over the sliding window\n"
	    "# TYPE meshtune_x summary\n"
	    "meshtune_x{quantile=\"0.5\"} 1\n"
	    "meshtune_x{quantile=\"0.9\"} 1\n"
	    "meshtune_x{quantile=\"0.95\"} 1\n"
	    "meshtune_x{quantile=\"0.99\"} 1\n"
	    "meshtune_x{quantile=\"0.999\"} 1\n"
	    "meshtune_x_sum 1\n"
	    "meshtune_x_count 1\n");
	free(got);
	metrics_free(m);
}

/* Values print as the shortest text that reads back exactly. */
static void
test_numbers(void **state)
{
	struct metrics	*m = metrics_new(10, 10, 100);
	char		*got;

	add(m, "a:0.1:0.2|c", 0);	/* 0.30000000000000004 */
	add(m, "big_s:1e21|c", 0);
	add(m, "cc_ns:2|c", 0);
	add(m, "dd_ns:3|c", 0);
	add(m, "ee:1.7976931348623157e308|c", 0);	/* DBL_MAX */
	add(m, "ff:1.7976931348623157e308|c", 0);
	add(m, "ff:1.7976931348623157e308|c", 0);	/* sums past it */
	got = page(m, 0, NULL);
	/* 15 digits would read back as +Inf. */
	assert_non_null(strstr(got,
	    "\nmeshtune_ee_total 1.7976931348623157e+308\n"));
	assert_non_null(strstr(got, "\nmeshtune_ff_total +Inf\n"));
	assert_non_null(strstr(got, "\nmeshtune_a_total 0.30000000000000004\n"));
	assert_non_null(strstr(got, "\nmeshtune_big_seconds_total 1e+21\n"));
	assert_non_null(strstr(got, "\nmeshtune_cc_seconds_total 2e-09\n"));
	assert_non_null(strstr(got,
	    "\nmeshtune_dd_seconds_total 3.0000000000000004e-09\n"));
	free(got);
	metrics_free(m);
}

/* Only a name's last word is read as a unit. */
static void
test_unit_last_word(void **state)
{
	struct metrics	*m = metrics_new(60, 60, 100);
	char		*got;

	add(m, "h.rate:2|c", 1000);
	add(m, "a.ms_total:3|c", 1000);
	add(m, "job.run_h:2|c", 1000);
	got = page(m, 2000, NULL);
	assert_non_null(strstr(got, "\nmeshtune_h_rate_total 2\n"));
	assert_non_null(strstr(got, "\nmeshtune_a_ms_total_total 3\n"));
	assert_non_null(strstr(got, "\nmeshtune_job_run_seconds_total 7200\n"));
	free(got);
	metrics_free(m);
}

static const char page_self[] =
"# HELP meshtuned_ingest_lines_total StatsD lines read, good or bad.\n"
"# TYPE meshtuned_ingest_lines_total counter\n"
"meshtuned_ingest_lines_total 42\n"
"# HELP meshtuned_ingest_errors_total StatsD lines dropped as malformed, by reason.\n"
"# TYPE meshtuned_ingest_errors_total counter\n"
"meshtuned_ingest_errors_total{reason=\"bad_name\"} 1\n"
"meshtuned_ingest_errors_total{reason=\"bad_value\"} 0\n"
"meshtuned_ingest_errors_total{reason=\"bad_type\"} 0\n"
"meshtuned_ingest_errors_total{reason=\"bad_rate\"} 0\n"
"meshtuned_ingest_errors_total{reason=\"bad_tag\"} 0\n"
"meshtuned_ingest_errors_total{reason=\"bad_field\"} 0\n"
"meshtuned_ingest_errors_total{reason=\"too_long\"} 0\n"
"meshtuned_ingest_errors_total{reason=\"nan_inf\"} 0\n"
"meshtuned_ingest_errors_total{reason=\"bad_event\"} 0\n"
"meshtuned_ingest_errors_total{reason=\"bad_service_check\"} 0\n"
"meshtuned_ingest_errors_total{reason=\"stale\"} 2\n"
"# HELP meshtuned_ingest_dropped_total Values dropped by the registry: series cap, refused value, set full.\n"
"# TYPE meshtuned_ingest_dropped_total counter\n"
"meshtuned_ingest_dropped_total 3\n"
"# HELP meshtuned_ingest_refused_total StatsD values the registry refused, by reason.\n"
"# TYPE meshtuned_ingest_refused_total counter\n"
"meshtuned_ingest_refused_total{reason=\"series_cap\"} 2\n"
"meshtuned_ingest_refused_total{reason=\"value_refused\"} 1\n"
"meshtuned_ingest_refused_total{reason=\"set_full\"} 0\n"
"# HELP meshtuned_ingest_events_total DogStatsD events and service checks read.\n"
"# TYPE meshtuned_ingest_events_total counter\n"
"meshtuned_ingest_events_total{kind=\"event\"} 0\n"
"meshtuned_ingest_events_total{kind=\"service_check\"} 0\n"
"# HELP meshtuned_ingest_fields_ignored_total Unknown StatsD fields skipped in good lines.\n"
"# TYPE meshtuned_ingest_fields_ignored_total counter\n"
"meshtuned_ingest_fields_ignored_total 0\n"
"# HELP meshtuned_ingest_kernel_drops_total Datagrams the kernel dropped for a full socket buffer.\n"
"# TYPE meshtuned_ingest_kernel_drops_total counter\n"
"meshtuned_ingest_kernel_drops_total 9\n"
"# HELP meshtuned_series Series held.\n"
"# TYPE meshtuned_series gauge\n"
"meshtuned_series 2\n"
"# HELP meshtuned_ticks_total Ticks run.\n"
"# TYPE meshtuned_ticks_total counter\n"
"meshtuned_ticks_total 7\n"
"# HELP meshtuned_tick_duration_seconds Duration of the last tick.\n"
"# TYPE meshtuned_tick_duration_seconds gauge\n"
"meshtuned_tick_duration_seconds 0.00025\n"
"# HELP meshtuned_reloads_total Successful configuration reloads.\n"
"# TYPE meshtuned_reloads_total counter\n"
"meshtuned_reloads_total 1\n"
"# HELP meshtuned_uptime_seconds Seconds since start.\n"
"# TYPE meshtuned_uptime_seconds gauge\n"
"meshtuned_uptime_seconds 12.5\n";

static void
test_self(void **state)
{
	struct metrics		*m = metrics_new(10, 10, 2);
	struct statsd_stats	 ps;
	struct ingest_stats	 is;
	struct prom_self	 self;
	char			*got;

	add(m, "a:1|c", 0);
	/* A refused value, a series past the cap, another type. */
	assert_int_equal(metrics_add(m, "hist", STATSD_HISTOGRAM, NAN, 0),
	    -1);
	assert_int_equal(metrics_add(m, "b", STATSD_GAUGE, 1, 0), -1);
	assert_int_equal(metrics_add(m, "a", STATSD_GAUGE, 1, 0), -1);
	memset(&ps, 0, sizeof(ps));
	memset(&is, 0, sizeof(is));
	memset(&self, 0, sizeof(self));
	ps.lines = 42;
	ps.errors[STATSD_BAD_NAME] = 1;
	ps.errors[STATSD_STALE] = 2;
	is.kernel_drops = 9;
	self.parser = &ps;
	self.ingest = &is;
	self.metrics = metrics_stats(m);
	self.series = metrics_count(m);
	self.ticks = 7;
	self.reloads = 1;
	self.uptime_s = 12.5;
	self.tick_duration_s = 0.00025;

	/* The daemon's own figures come after the series. */
	got = page(m, 1, &self);
	assert_true(strncmp(got, "# HELP meshtune_a_total a (counter): total\n"
	    "# TYPE meshtune_a_total counter\nmeshtune_a_total 1\n"
	    "# HELP meshtune_hist hist (histogram)", 131) == 0);
	assert_true(strlen(got) > strlen(page_self));
	assert_page(got + strlen(got) - strlen(page_self), page_self);
	free(got);

	/* No registry: the daemon's figures alone. */
	got = page(NULL, 0, &self);
	assert_page(got, page_self);
	free(got);

	/* Nothing at all: an empty page. */
	got = page(NULL, 0, NULL);
	assert_string_equal(got, "");
	free(got);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_page, setup),
		cmocka_unit_test_setup(test_collision_stable, setup),
		cmocka_unit_test_setup(test_collision_kinds, setup),
		cmocka_unit_test_setup(test_invalid_left_out, setup),
		cmocka_unit_test_setup(test_numbers, setup),
		cmocka_unit_test_setup(test_self, setup),
		cmocka_unit_test_setup(test_unit_last_word, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
