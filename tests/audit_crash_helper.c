/*
 * audit_crash_helper.c -- the daemon's side of the audit crash test
 * (tests/audit_crash.sh), which SIGKILLs it in the middle of a burst.
 *
 *   audit_crash_helper write DB N
 *	Open the audit log, reconcile the rows a previous run left pending
 *	(as the daemon does at start), then write N actions the governor's
 *	way: begin a pending row, and once it is committed print its id on
 *	stdout ("the actuator runs now"), then mark it applied.  Four actions
 *	are in flight at a time, with an event now and then.  Stops after N
 *	actions or 30 seconds.
 *
 *   audit_crash_helper check DB IDS [clean]
 *	Exit 0 if PRAGMA integrity_check says ok, the schema version is
 *	current and every id listed in the file IDS has its actions row;
 *	with "clean", also no row may be pending.
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "meshtuned.h"

#define CHAINS		4
#define TIME_LIMIT_MS	30000

static struct audit		*audit;
static struct event_base	*base;
static long			 todo, begun, finished;
static uint64_t			 started_ms;

static void	begin_one(void);

static void
begun_cb(int64_t id, void *arg)
{
	char	line[32];
	int	len;

	if (id <= 0)
		fatalx("action_begin failed");
	len = snprintf(line, sizeof(line), "%" PRId64 "\n", id);
	/* One write: a line is in the file whole or not at all. */
	if (write(STDOUT_FILENO, line, (size_t)len) != len)
		fatal("write");
	/* "actuating": the knob would be set here. */
	if (audit_action_update(audit, id, AUDIT_APPLIED, (double)(id % 64),
	    NULL) == -1)
		fatalx("action_update refused");
	finished++;
	if (finished % 50 == 0)
		audit_event(audit, "actuator_fault", "crash_helper",
		    "simulated fault", "{\"n\":1}");
	begin_one();
}

static void
begin_one(void)
{
	struct audit_action	act = {
		.strategy = "network", .kind = AUDIT_SET,
		.knob = "net.batch_size", .status = AUDIT_PENDING,
		.reason = "crash test burst",
		.evidence = "{\"net.rtt_ms\":{\"p95\":42.5}}",
		.actuator = "node", .expect_metric = "net.rtt_ms",
		.expect_stat = "p95", .expect_dir = -1, .verify_s = 60,
	};

	if (begun >= todo || clock_mono_ms() - started_ms > TIME_LIMIT_MS) {
		if (begun == finished)
			event_base_loopbreak(base);
		return;
	}
	act.old_value = (double)(begun % 64);
	act.new_value = (double)((begun + 1) % 64);
	act.baseline = 40.0 + (double)(begun % 7);
	if (audit_action_begin(audit, &act, begun_cb, NULL) == -1)
		fatalx("action_begin refused");
	begun++;
}

static int
do_write(const char *path, long n)
{
	struct audit_row	*rows;
	size_t			 nrows, i;
	char			 err[512];
	int			 c;

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((audit = audit_open(base, path, 0, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (audit_pending(audit, &rows, &nrows) == -1)
		fatalx("audit_pending");
	for (i = 0; i < nrows; i++)
		if (audit_reconcile(audit, rows[i].id, AUDIT_FAILED, NAN,
		    "interrupted by SIGKILL; the knob was not read back") == -1)
			fatalx("audit_reconcile");
	audit_rows_free(rows, nrows);
	audit_event(audit, "start", "crash_helper", "started", NULL);
	if (audit_sync(audit) == -1)
		fatalx("audit_sync");
	fprintf(stderr, "reconciled %zu pending rows\n", nrows);

	todo = n;
	started_ms = clock_mono_ms();
	for (c = 0; c < CHAINS; c++)
		begin_one();
	if (begun > 0 && event_base_dispatch(base) == -1)
		fatalx("event_base_dispatch");
	audit_event(audit, "stop", "crash_helper", "stopped", NULL);
	audit_close(audit);
	event_base_free(base);
	return 0;
}

static int
do_check(const char *path, const char *ids, int clean)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	FILE		*f;
	long long	 id;
	long		 n = 0;
	int		 bad = 0, rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		fatalx("%s: %s", path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		fatalx("integrity_check: %s", sqlite3_errmsg(db));
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		fprintf(stderr, "integrity_check: %s\n",
		    sqlite3_column_text(st, 0));
		bad = 1;
	}
	sqlite3_finalize(st);

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		fatalx("user_version: %s", sqlite3_errmsg(db));
	if (sqlite3_column_int(st, 0) != AUDIT_SCHEMA_VERSION) {
		fprintf(stderr, "user_version %d\n", sqlite3_column_int(st, 0));
		bad = 1;
	}
	sqlite3_finalize(st);

	if ((f = fopen(ids, "r")) == NULL)
		fatal("%s", ids);
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM actions "
	    "WHERE id = ?1 AND status IN ('pending', 'applied', 'failed')",
	    -1, &st, NULL) != SQLITE_OK)
		fatalx("prepare: %s", sqlite3_errmsg(db));
	/* A line cut by the kill has no newline: fscanf still reads it
	 * whole or not at all, since write(2) wrote each line at once. */
	while ((rc = fscanf(f, "%lld", &id)) == 1) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) != SQLITE_ROW ||
		    sqlite3_column_int(st, 0) != 1) {
			fprintf(stderr, "action %lld was actuated but has "
			    "no row\n", id);
			bad = 1;
		}
		sqlite3_reset(st);
		n++;
	}
	if (ferror(f))
		fatal("%s", ids);
	fclose(f);
	sqlite3_finalize(st);

	if (clean) {
		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM actions "
		    "WHERE status = 'pending'", -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW)
			fatalx("pending: %s", sqlite3_errmsg(db));
		if (sqlite3_column_int(st, 0) != 0) {
			fprintf(stderr, "%d rows still pending\n",
			    sqlite3_column_int(st, 0));
			bad = 1;
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	fprintf(stderr, "checked %ld actuated ids: %s\n", n,
	    bad ? "FAILED" : "ok");
	return bad;
}

int
main(int argc, char **argv)
{
	char	*end;
	long	 n;

	log_init(1, 0);
	if (argc == 4 && strcmp(argv[1], "write") == 0) {
		errno = 0;
		n = strtol(argv[3], &end, 10);
		if (errno != 0 || *end != '\0' || n < 0)
			fatalx("bad count %s", argv[3]);
		return do_write(argv[2], n);
	}
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "check") == 0)
		return do_check(argv[2], argv[3],
		    argc == 5 && strcmp(argv[4], "clean") == 0);
	fprintf(stderr, "usage: audit_crash_helper write DB N | "
	    "check DB IDS [clean]\n");
	return 2;
}
