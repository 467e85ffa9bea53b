/*
 * test_ingest_events.c -- the rule that bounds the audit rows StatsD
 * events and service checks may add (events_fold_admit(),
 * ingest_events.c): at most the limit a minute, the rest folded and
 * handed back once for one row when the minute is over.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "meshtuned.h"

static void
test_fold(void **state)
{
	struct events_fold	f;
	int			flush, i, written = 0;

	(void)state;
	memset(&f, 0, sizeof(f));
	/* A flood in minute 1: three rows, the rest folded by kind. */
	for (i = 0; i < 100; i++) {
		written += events_fold_admit(&f, 60000 + (uint64_t)i * 10, 3,
		    i % 4 == 0, &flush);
		assert_int_equal(flush, 0);
	}
	assert_int_equal(written, 3);
	assert_int_equal(f.folded[0] + f.folded[1], 97);
	assert_int_equal(f.folded[1], 25 - 1);	/* the first was written */
	/* The next minute hands minute 1's counts back once, and starts. */
	assert_int_equal(events_fold_admit(&f, 120000, 3, 0, &flush), 1);
	assert_int_equal(flush, 1);
	assert_int_equal(f.flush[0] + f.flush[1], 97);
	assert_int_equal(f.flush_minute, 1);
	assert_int_equal(f.folded[0] + f.folded[1], 0);
	assert_int_equal(events_fold_admit(&f, 120001, 3, 0, &flush), 1);
	assert_int_equal(flush, 0);
	/* A minute that folded nothing hands nothing back. */
	assert_int_equal(events_fold_admit(&f, 300000, 3, 1, &flush), 1);
	assert_int_equal(flush, 0);
	/* A limit of 0 writes nothing. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(events_fold_admit(&f, 1, 0, 0, &flush), 0);
	assert_int_equal(f.folded[0], 1);
}

/*
 * While the audit log cannot be written (a lock held from the sqlite3
 * shell), every row waits in memory: events are folded, not queued, so a
 * node's events cannot pile up there, and their count reaches the log
 * once it can be written.
 */
static void
test_fold_while_stalled(void **state)
{
	static struct statsd_parser	 sp;
	static const char		 ev[] = "_e{5,4}:title|text";
	const struct ingest_events_stats *st;
	struct conf_errors		 errs = { NULL, 0 };
	struct audit_stats		 as;
	struct statsd_line		 ln;
	struct ingest_events		*ie;
	struct daemon			 d;
	sqlite3				*lock, *db;
	sqlite3_stmt			*q;
	char				 dir[] = "/tmp/test_ingest_events.XXXXXX";
	char				 path[64], err[512], p[80];
	int				 i;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.db", dir);
	assert_non_null(d.base = event_base_new());
	d.conf = config_load_string("{ \"statsd\": { \"events_per_minute\": "
	    "1000 } }", "test", &errs);
	assert_non_null(d.conf);
	if ((d.audit = audit_open(d.base, path, 0, err, sizeof(err))) == NULL)
		fail_msg("audit_open: %s", err);
	assert_int_equal(audit_sync(d.audit), 0);
	assert_int_equal(sqlite3_open(path, &lock), SQLITE_OK);
	assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	ie = ingest_events_new(&d);
	statsd_init(&sp);
	assert_int_equal(statsd_parse_line(&sp, ev, strlen(ev), &ln),
	    STATSD_OK);

	/* The first waits for the lock, which stalls the writer. */
	ingest_events_line(&ln, ie);
	for (i = 0; i < 300; i++) {
		audit_get_stats(d.audit, &as);
		if (as.stalled_ms > 0)
			break;
		usleep(50000);
	}
	assert_true(as.stalled_ms > 0);
	for (i = 0; i < 100; i++)
		ingest_events_line(&ln, ie);
	st = ingest_events_stats(ie);
	assert_int_equal(st->audited, 1);
	assert_int_equal(st->folded, 100);
	audit_get_stats(d.audit, &as);
	assert_true(as.queued <= 1);

	/* The lock goes: the event, then the row of the 100 folded. */
	assert_int_equal(sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(lock);
	ingest_events_free(ie);
	assert_int_equal(audit_sync(d.audit), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM "
	    "events WHERE kind = 'statsd_event'), (SELECT json_extract(detail, "
	    "'$.events') FROM events WHERE kind = 'statsd_events_folded')", -1,
	    &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	assert_int_equal(sqlite3_column_int(q, 1), 100);
	sqlite3_finalize(q);
	sqlite3_close(db);

	audit_close(d.audit);
	config_free(d.conf);
	event_base_free(d.base);
	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", path, (const char *[]){ "",
		    "-wal", "-shm" }[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_fold_while_stalled),
	};

	log_init(1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
