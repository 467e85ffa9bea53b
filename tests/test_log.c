/*
 * test_log.c -- log.c's guards: a storm of one message is cut to a
 * burst and a count, messages that differ in more than numbers all get
 * through, a window's count is reported when it ends (by the next line
 * or by the flush), and a long line keeps its head and its reason.
 * Standard error is redirected to a temporary file and read back; the
 * test includes log.c to drive its clock.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "../src/log.c"

static char	 errpath[] = "/tmp/test_log.XXXXXX";
static int	 saved_stderr = -1;

static int
setup(void **state)
{
	int	fd;

	(void)state;
	fflush(stderr);
	if ((fd = mkstemp(errpath)) == -1)
		return -1;
	saved_stderr = dup(STDERR_FILENO);
	if (saved_stderr == -1 || dup2(fd, STDERR_FILENO) == -1)
		return -1;
	close(fd);
	log_init(1, 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	unlink(errpath);
	return 0;
}

/* Empty the captured output and every count. */
static void
restart(void)
{
	fflush(stderr);
	assert_int_equal(ftruncate(STDERR_FILENO, 0), 0);
	assert_int_equal(lseek(STDERR_FILENO, 0, SEEK_SET), 0);
	log_reset();
}

/* What was logged since restart(); the caller frees it. */
static char *
captured(void)
{
	FILE	*f;
	char	*buf;
	long	 n;

	fflush(stderr);
	assert_non_null(f = fopen(errpath, "r"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
count(const char *text, const char *needle)
{
	int	n = 0;

	while ((text = strstr(text, needle)) != NULL) {
		n++;
		text += strlen(needle);
	}
	return n;
}

/* 10,000 accept failures: a burst, then silence until the count. */
static void
test_storm(void **state)
{
	char	*out;
	int	 i;

	(void)state;
	restart();
	for (i = 0; i < 10000; i++) {
		errno = EMFILE;
		log_warn("api: accept on fd %d", 7 + i % 3);
	}
	out = captured();
	assert_int_equal(count(out, "api: accept on fd"), LOG_BURST);
	assert_int_equal(count(out, "suppressed"), 0);
	free(out);
	/* The window is over: the count comes out with the last text. */
	log_suppressed_flush(clock_mono_ms() + LOG_WINDOW_MS);
	out = captured();
	assert_int_equal(count(out, "\n"), LOG_BURST + 1);
	assert_non_null(strstr(out, "meshtuned: warning: 9980 similar "
	    "messages suppressed in 10 s, the last: api: accept on fd 7: "
	    "Too many open files\n"));
	free(out);
	/* Reported once: nothing more to flush. */
	log_suppressed_flush(UINT64_MAX);
	out = captured();
	assert_int_equal(count(out, "suppressed"), 1);
	free(out);
}

/* Different messages are not one storm; debug lines are never cut. */
static void
test_distinct(void **state)
{
	char	*out, name[32];
	int	 i;

	(void)state;
	restart();
	for (i = 0; i < 3 * LOG_BURST; i++) {
		snprintf(name, sizeof(name), "knob%c", 'a' + i % 26);
		log_warnx("governor: %s: not applied: timeout", name);
	}
	/* Digits within a name are part of it: four keys, not one. */
	for (i = 0; i < 4 * LOG_BURST; i++)
		log_warnx("governor: f.k%d: not applied: open %d failed",
		    i % 4, i);
	/* So are digits after a dot or a dash within a name. */
	for (i = 0; i < 4 * LOG_BURST; i++)
		log_warnx("governor: queue.%d: not applied: refused", i % 4);
	for (i = 0; i < 4 * LOG_BURST; i++)
		log_warnx("actuator: peer-%d unreachable", i % 4);
	log_set_verbose(1);
	for (i = 0; i < 3 * LOG_BURST; i++)
		log_debug("tick %d took %d us", i, 100 + i);
	log_set_verbose(0);
	out = captured();
	/* 26 names: 26 keys of at most 3 lines each, none suppressed. */
	assert_int_equal(count(out, "not applied: timeout"), 3 * LOG_BURST);
	assert_int_equal(count(out, "debug: tick "), 3 * LOG_BURST);
	assert_int_equal(count(out, ": not applied: open "), 4 * LOG_BURST);
	assert_int_equal(count(out, ": not applied: refused"), 4 * LOG_BURST);
	assert_int_equal(count(out, " unreachable"), 4 * LOG_BURST);
	assert_int_equal(count(out, "suppressed"), 0);
	free(out);
	/* Numbers, decimals and addresses still fold, names or not. */
	restart();
	for (i = 0; i < 2 * LOG_BURST; i++)
		log_warnx("api: %d.%d.0.%d:%d took %d.%d ms, -%d", 10 + i,
		    i, i, 9000 + i, i, i, i);
	out = captured();
	assert_int_equal(count(out, " took "), LOG_BURST);
	free(out);
}

/* A line of the same message after its window reports the count first. */
static void
test_next_window(void **state)
{
	char	 summary[LOG_SUMMARY_MAX + 96], *out;
	uint64_t t0 = 1000000;
	int	 i, spri = 0, ok = 0;

	(void)state;
	restart();
	for (i = 0; i < LOG_BURST + 5; i++)
		ok += log_admit(LOG_INFO, "audit: 7 writes refused", t0 + i,
		    summary, sizeof(summary), &spri);
	assert_int_equal(ok, LOG_BURST);
	assert_string_equal(summary, "");
	/* Still in the window: suppressed, no summary yet. */
	assert_int_equal(log_admit(LOG_INFO, "audit: 8 writes refused",
	    t0 + LOG_WINDOW_MS - 1, summary, sizeof(summary), &spri), 0);
	assert_string_equal(summary, "");
	log_suppressed_flush(t0 + LOG_WINDOW_MS - 1);
	out = captured();
	assert_string_equal(out, "");
	free(out);
	/* The next window: admitted, after the count of the last one. */
	assert_int_equal(log_admit(LOG_INFO, "audit: 9 writes refused",
	    t0 + LOG_WINDOW_MS, summary, sizeof(summary), &spri), 1);
	assert_int_equal(spri, LOG_INFO);
	assert_string_equal(summary, "6 similar messages suppressed in 10 s, "
	    "the last: audit: 8 writes refused");
	/* A message whose slot is taken reports its count on the way out. */
	restart();
	for (i = 0; i < LOG_BURST + 1; i++)
		(void)log_admit(LOG_WARNING, "first", t0, summary,
		    sizeof(summary), &spri);
	for (i = 0; i < LOG_NKEYS - 1; i++) {
		char	text[32];

		snprintf(text, sizeof(text), "other %c%c", 'a' + i / 26,
		    'a' + i % 26);
		assert_int_equal(log_admit(LOG_INFO, text, t0 + 1 + i, summary,
		    sizeof(summary), &spri), 1);
		assert_string_equal(summary, "");
	}
	assert_int_equal(log_admit(LOG_INFO, "one too many", t0 + 100,
	    summary, sizeof(summary), &spri), 1);
	assert_int_equal(spri, LOG_WARNING);
	assert_string_equal(summary, "1 similar message suppressed in 10 s, "
	    "the last: first");
}

/* A 4 KB name in a refusal: the head and the reason both survive. */
static void
test_long_line(void **state)
{
	char	*name, *out, *line, cut[LOG_LINE_MAX + 64];
	size_t	 n = 4096;

	(void)state;
	restart();
	name = xmalloc(n + 1);
	memset(name, 'x', n);
	name[n] = '\0';
	log_warnx("config: strategy \"%s\" refused: name longer than 64 "
	    "bytes", name);
	out = captured();
	line = strstr(out, "warning: config: strategy \"xxx");
	assert_non_null(line);
	assert_non_null(strstr(line, "xxx\" refused: name longer than 64 "
	    "bytes\n"));
	assert_non_null(strstr(line, " bytes cut ...] "));
	assert_true(strlen(out) < LOG_LINE_MAX + 100);
	free(out);

	/* log_cut itself: short lines untouched, long ones exactly cut. */
	assert_int_equal(log_cut("short", cut, sizeof(cut)), 0);
	assert_int_equal(log_cut(name, cut, sizeof(cut)), 1);
	assert_int_equal(strncmp(cut, name, LOG_LINE_MAX * 2 / 3), 0);
	snprintf(name, n + 1, "%s", cut);
	assert_non_null(strstr(name, " [... 2049 bytes cut ...] "));
	free(name);

	/* log_warn keeps strerror at the end of a long line too. */
	restart();
	name = xmalloc(n + 1);
	memset(name, 'y', n);
	name[n] = '\0';
	errno = ENOSPC;
	log_warn("audit: %s", name);
	out = captured();
	assert_non_null(strstr(out, "yyy: No space left on device\n"));
	free(out);
	free(name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storm),
		cmocka_unit_test(test_distinct),
		cmocka_unit_test(test_next_window),
		cmocka_unit_test(test_long_line),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
