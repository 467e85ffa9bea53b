/*
 * test_audit.c -- the SQLite audit log: schema and migration, the action
 * state machine, decisions, events, strategies, retention, the queries of
 * the governor and the API, a reader holding a transaction, and the JSON
 * lines in the daemon's log.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cJSON.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "meshtuned.h"

struct fx {
	char			 dir[256];
	char			 path[300];
	struct event_base	*base;
	struct audit		*audit;
};

/* What a callback saw. */
struct got {
	struct event_base	*base;
	int			 calls;
	int64_t			 id;
	char			*json;
};

static int
setup(void **state)
{
	struct fx	*fx;
	const char	*tmp = getenv("TMPDIR");
	char		 err[512];

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "%s/test_audit.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/audit.db", fx->dir);
	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->audit = audit_open(fx->base, fx->path, 30, err, sizeof(err));
	if (fx->audit == NULL)
		fail_msg("audit_open: %s", err);
	*state = fx;
	return 0;
}

/* Like setup, but leaves the file to the test. */
static int
setup_empty(void **state)
{
	struct fx	*fx;
	const char	*tmp = getenv("TMPDIR");

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "%s/test_audit.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/audit.db", fx->dir);
	fx->base = event_base_new();
	assert_non_null(fx->base);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	char		 p[400];
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	size_t		 i;

	audit_close(fx->audit);
	event_base_free(fx->base);
	for (i = 0; i < nitems(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", fx->path, sfx[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

static sqlite3 *
raw_open(const char *path)
{
	sqlite3	*db;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
raw_exec(sqlite3 *db, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static int64_t
q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The first column of the first row as text (static buffer), or "NULL". */
static const char *
q_text(sqlite3 *db, const char *sql)
{
	static char	 buf[1024];
	sqlite3_stmt	*st;
	const char	*s;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	s = (const char *)sqlite3_column_text(st, 0);
	snprintf(buf, sizeof(buf), "%s", s == NULL ? "NULL" : s);
	sqlite3_finalize(st);
	return buf;
}

static int64_t
q_intf(sqlite3 *db, const char *fmt, ...)
{
	char	sql[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return q_int(db, sql);
}

static const char *
q_textf(sqlite3 *db, const char *fmt, ...)
{
	char	sql[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return q_text(db, sql);
}

/* The whole file at path, to compare bytes; NULL if absent. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf;
	int		 fd;

	*len = 0;
	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Whether path with a suffix ("-wal") exists. */
static int
companion(const char *path, const char *suffix)
{
	char	p[512];

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return access(p, F_OK) == 0;
}

static off_t
file_size(const char *path)
{
	struct stat	st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* Run the loop until *calls reaches want, for at most 5 s. */
static void
run_until(struct event_base *base, int *calls, int want)
{
	struct timeval	tv = { 0, 100000 };
	uint64_t	start = clock_mono_ms();

	while (*calls < want) {
		if (clock_mono_ms() - start > 5000)
			fail_msg("callbacks: %d of %d after 5 s", *calls, want);
		event_base_loopexit(base, &tv);
		assert_int_not_equal(event_base_dispatch(base), -1);
	}
}

static void
id_cb(int64_t id, void *arg)
{
	struct got	*g = arg;

	g->calls++;
	g->id = id;
	event_base_loopbreak(g->base);
}

static void
json_cb(const char *json, void *arg)
{
	struct got	*g = arg;

	g->calls++;
	free(g->json);
	g->json = json == NULL ? NULL : strdup(json);
	event_base_loopbreak(g->base);
}

static struct audit_action
mk_action(const char *strategy, const char *knob, double from, double to)
{
	struct audit_action	act = {
		.strategy = strategy, .kind = AUDIT_SET, .knob = knob,
		.old_value = from, .new_value = to, .status = AUDIT_PENDING,
		.reason = "p95 rtt above target for 30 s",
		.evidence = "{\"net.rtt_ms\":{\"p95\":88.5}}",
		.actuator = "node", .expect_metric = "net.rtt_ms",
		.expect_stat = "p95", .expect_dir = -1, .baseline = 88.5,
		.verify_s = 60,
	};

	return act;
}

/* Begin an action and wait for its id. */
static int64_t
begin_wait(struct fx *fx, const struct audit_action *act)
{
	struct got	g = { .base = fx->base };

	assert_int_equal(audit_action_begin(fx->audit, act, id_cb, &g), 0);
	run_until(fx->base, &g.calls, 1);
	assert_int_equal(g.calls, 1);
	assert_true(g.id > 0);
	return g.id;
}

static int
has_object(sqlite3 *db, const char *type, const char *name)
{
	return (int)q_intf(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = '%s' AND name = '%s'", type, name);
}

/* The columns of a table, comma-separated, in order. */
static const char *
columns(sqlite3 *db, const char *table)
{
	static char	 buf[1024];
	sqlite3_stmt	*st;
	char		 sql[128];
	size_t		 off = 0;

	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	buf[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s:%s",
		    off == 0 ? "" : ",", sqlite3_column_text(st, 1),
		    sqlite3_column_text(st, 2));
	sqlite3_finalize(st);
	return buf;
}

static const char *const v2_indexes[] = {
	"actions_ts", "actions_strategy_ts", "actions_status_knob",
	"actions_outcome", "actions_parent", "events_ts",
	"decisions_last_ts", "decisions_key",
};

static const char actions_cols[] =
    "id:INTEGER,ts:TEXT,strategy:TEXT,kind:TEXT,knob:TEXT,old_value:REAL,"
    "new_value:REAL,status:TEXT,outcome:TEXT,reason:TEXT,evidence:TEXT,"
    "actuator:TEXT,error:TEXT,parent_id:INTEGER,expect_metric:TEXT,"
    "expect_stat:TEXT,expect_dir:INTEGER,baseline:REAL,verify_s:INTEGER,"
    "done_ts:TEXT,outcome_ts:TEXT,verdict:TEXT";

static void
test_schema_empty(void **state)
{
	struct fx	*fx = *state;
	sqlite3		*db = raw_open(fx->path);
	size_t		 i;

	assert_int_equal(q_int(db, "PRAGMA user_version"),
	    AUDIT_SCHEMA_VERSION);
	assert_string_equal(q_text(db, "PRAGMA journal_mode"), "wal");
	assert_string_equal(columns(db, "actions"), actions_cols);
	assert_string_equal(columns(db, "events"),
	    "id:INTEGER,ts:TEXT,kind:TEXT,source:TEXT,message:TEXT,"
	    "detail:TEXT");
	assert_string_equal(columns(db, "strategies"),
	    "id:INTEGER,ts:TEXT,name:TEXT,path:TEXT,sha256:TEXT,abi:TEXT");
	assert_string_equal(columns(db, "decisions"),
	    "id:INTEGER,strategy:TEXT,knob:TEXT,reason:TEXT,count:INTEGER,"
	    "first_ts:TEXT,last_ts:TEXT");
	for (i = 0; i < nitems(v2_indexes); i++)
		assert_int_equal(has_object(db, "index", v2_indexes[i]), 1);
	/* The CHECK constraints hold the state machine's words. */
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO actions (ts, kind, "
	    "knob, status) VALUES ('x', 'set', 'k', 'bogus')", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Version 1 as 0.1.0 shipped it, written out by hand. */
static const char schema_v1[] =
    "CREATE TABLE actions (id INTEGER PRIMARY KEY, ts TEXT NOT NULL,"
    " strategy TEXT, kind TEXT NOT NULL CHECK (kind IN ('set','trigger',"
    "'rollback')), knob TEXT NOT NULL, old_value REAL, new_value REAL,"
    " status TEXT NOT NULL CHECK (status IN ('pending','applied','failed',"
    "'dry_run','rejected')), outcome TEXT CHECK (outcome IN ('kept',"
    "'rolled_back','unverified')), reason TEXT, evidence TEXT,"
    " actuator TEXT, error TEXT, parent_id INTEGER);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY, ts TEXT NOT NULL,"
    " kind TEXT NOT NULL, source TEXT, message TEXT, detail TEXT);"
    "CREATE TABLE strategies (id INTEGER PRIMARY KEY, ts TEXT NOT NULL,"
    " name TEXT NOT NULL, path TEXT, sha256 TEXT, abi TEXT);"
    "CREATE TABLE decisions (id INTEGER PRIMARY KEY, strategy TEXT NOT NULL,"
    " knob TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,"
    " first_ts TEXT NOT NULL, last_ts TEXT NOT NULL);"
    "INSERT INTO actions (ts, strategy, kind, knob, old_value, new_value,"
    " status, reason) VALUES ('2026-11-22T17:05:07.123Z', 'network', 'set',"
    " 'net.batch_size', 8, 16, 'pending', 'old row');"
    "INSERT INTO decisions (strategy, knob, reason, count, first_ts, last_ts)"
    " VALUES ('network', 'net.batch_size', 'cooldown', 4,"
    " '2026-11-22T17:05:07.123Z', '2026-11-22T17:06:07.123Z');"
    "PRAGMA user_version = 1;";

static void
test_migrate_from_v1(void **state)
{
	struct fx		*fx = *state;
	struct audit_row	*rows;
	struct got		 g = { .base = fx->base };
	size_t			 n, i;
	sqlite3			*db;
	char			 err[512];

	db = raw_open(fx->path);
	raw_exec(db, schema_v1);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 1);
	assert_int_equal(has_object(db, "index", "actions_ts"), 0);
	sqlite3_close(db);

	fx->audit = audit_open(fx->base, fx->path, 0, err, sizeof(err));
	if (fx->audit == NULL)
		fail_msg("audit_open: %s", err);

	db = raw_open(fx->path);
	assert_int_equal(q_int(db, "PRAGMA user_version"),
	    AUDIT_SCHEMA_VERSION);
	assert_string_equal(columns(db, "actions"), actions_cols);
	for (i = 0; i < nitems(v2_indexes); i++)
		assert_int_equal(has_object(db, "index", v2_indexes[i]), 1);
	/* Old rows are kept, new columns NULL. */
	assert_string_equal(q_text(db, "SELECT reason FROM actions WHERE "
	    "id = 1"), "old row");
	assert_string_equal(q_text(db, "SELECT done_ts FROM actions WHERE "
	    "id = 1"), "NULL");
	sqlite3_close(db);

	/* The old pending row is found for reconciliation ... */
	assert_int_equal(audit_pending(fx->audit, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, 1);
	assert_string_equal(rows[0].ts, "2026-11-22T17:05:07.123Z");
	assert_int_equal(rows[0].verify_s, 0);
	assert_true(isnan(rows[0].baseline));
	audit_rows_free(rows, n);

	/* ... and the old decisions row keeps folding under the new index. */
	assert_int_equal(audit_decision(fx->audit, "network",
	    "net.batch_size", "cooldown"), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	db = raw_open(fx->path);
	assert_int_equal(q_int(db, "SELECT count FROM decisions"), 5);
	assert_int_equal(q_int(db, "SELECT count(*) FROM decisions"), 1);
	sqlite3_close(db);

	/* Re-opening a current file migrates nothing and loses nothing. */
	audit_close(fx->audit);
	fx->audit = audit_open(fx->base, fx->path, 0, err, sizeof(err));
	assert_non_null(fx->audit);
	assert_int_equal(audit_actions_json(fx->audit, 10, json_cb, &g), 0);
	run_until(fx->base, &g.calls, 1);
	assert_non_null(g.json);
	assert_non_null(strstr(g.json, "\"reason\":\"old row\""));
	free(g.json);
}

/*
 * A newer meshtune's log (its application id, a schema version this one
 * does not know) is refused untouched; so is a file of version 99 without
 * the id (no meshtune ever wrote one).
 */
static void
test_newer_schema_refused(void **state)
{
	struct fx	*fx = *state;
	sqlite3		*db;
	char		 err[1024], sql[128], *before, *after;
	size_t		 n, m;

	db = raw_open(fx->path);
	snprintf(sql, sizeof(sql), "CREATE TABLE x (y); PRAGMA user_version "
	    "= 99; PRAGMA application_id = %d", (int)AUDIT_APP_ID);
	raw_exec(db, sql);
	sqlite3_close(db);
	before = slurp(fx->path, &n);
	assert_null(audit_open(fx->base, fx->path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, fx->path));
	assert_non_null(strstr(err, "newer meshtune"));
	assert_non_null(strstr(err, "schema version 99"));
	after = slurp(fx->path, &m);
	assert_true(n == m && memcmp(before, after, n) == 0);
	assert_false(companion(fx->path, "-wal"));
	assert_false(companion(fx->path, "-shm"));
	free(before);
	free(after);

	db = raw_open(fx->path);
	raw_exec(db, "PRAGMA application_id = 0");
	sqlite3_close(db);
	assert_null(audit_open(fx->base, fx->path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "not a meshtune audit log"));
	assert_non_null(strstr(err, "schema version 99"));
}

static void
test_open_errors(void **state)
{
	struct fx	*fx = *state;
	char		 err[512], path[400];
	int		 fd;

	/* A missing parent directory is reported, not created. */
	snprintf(path, sizeof(path), "%s/missing/audit.db", fx->dir);
	assert_null(audit_open(fx->base, path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "unable to open database file"));
	assert_non_null(strstr(err, "No such file or directory"));

	/* Something that is not a database. */
	fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "this is not an SQLite file, not at all, "
	    "no, it is just text that is long enough to be a header....\n",
	    100), 100);
	close(fd);
	assert_null(audit_open(fx->base, fx->path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, fx->path));
	assert_non_null(strstr(err, "not an SQLite database"));
	assert_non_null(strstr(err, "left untouched"));
}

static void
test_action_lifecycle(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act = mk_action("network", "net.batch_size",
				    8, 16);
	struct audit_stats	 st;
	sqlite3			*db;
	int64_t			 id, id2;
	uint64_t		 ms;

	id = begin_wait(fx, &act);
	/* Committed by the time the callback runs: a fresh reader sees it. */
	db = raw_open(fx->path);
	assert_string_equal(q_textf(db, "SELECT status FROM actions WHERE "
	    "id = %lld", (long long)id), "pending");
	assert_int_equal(audit_parse_ts(q_textf(db, "SELECT ts FROM actions "
	    "WHERE id = %lld", (long long)id), &ms), 0);
	assert_true(ms <= clock_wall_ms() && ms + 60000 > clock_wall_ms());
	assert_string_equal(q_textf(db, "SELECT done_ts FROM actions WHERE "
	    "id = %lld", (long long)id), "NULL");
	assert_string_equal(q_textf(db, "SELECT json_extract(evidence, "
	    "'$.\"net.rtt_ms\".p95') FROM actions WHERE id = %lld",
	    (long long)id), "88.5");

	assert_int_equal(audit_action_update(fx->audit, id, AUDIT_APPLIED,
	    16, NULL), 0);
	assert_int_equal(audit_action_outcome(fx->audit, id, AUDIT_KEPT), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	assert_string_equal(q_textf(db, "SELECT status || ',' || outcome || "
	    "',' || new_value FROM actions WHERE id = %lld", (long long)id),
	    "applied,kept,16.0");
	assert_int_equal(q_intf(db, "SELECT done_ts IS NOT NULL AND "
	    "outcome_ts >= done_ts FROM actions WHERE id = %lld",
	    (long long)id), 1);

	/* A failure keeps the error; NAN keeps the intended new_value. */
	act = mk_action("network", "net.batch_size", 16, 32);
	id2 = begin_wait(fx, &act);
	assert_true(id2 > id);
	assert_int_equal(audit_action_update(fx->audit, id2, AUDIT_FAILED,
	    NAN, "ctl.sock: connection refused"), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	assert_string_equal(q_textf(db, "SELECT status || ',' || new_value "
	    "|| ',' || error FROM actions WHERE id = %lld", (long long)id2),
	    "failed,32.0,ctl.sock: connection refused");

	/* The state machine: no second update, no outcome on a failure. */
	audit_get_stats(fx->audit, &st);
	assert_int_equal(st.failed, 0);
	assert_int_equal(audit_action_update(fx->audit, id, AUDIT_FAILED,
	    NAN, "late"), 0);
	assert_int_equal(audit_action_outcome(fx->audit, id2,
	    AUDIT_ROLLED_BACK), 0);
	assert_int_equal(audit_action_outcome(fx->audit, id,
	    AUDIT_ROLLED_BACK), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	audit_get_stats(fx->audit, &st);
	assert_int_equal(st.failed, 3);
	assert_string_equal(q_textf(db, "SELECT status || ',' || outcome "
	    "FROM actions WHERE id = %lld", (long long)id), "applied,kept");
	assert_string_equal(q_textf(db, "SELECT coalesce(outcome, 'none') "
	    "FROM actions WHERE id = %lld", (long long)id2), "none");

	/* Refused at once: bad arguments. */
	assert_int_equal(audit_action_update(fx->audit, id, AUDIT_PENDING,
	    1, NULL), -1);
	assert_int_equal(audit_action_update(fx->audit, 0, AUDIT_APPLIED,
	    1, NULL), -1);
	assert_int_equal(audit_action_outcome(fx->audit, id,
	    AUDIT_OUTCOME_NONE), -1);
	act.knob = NULL;
	assert_int_equal(audit_action_begin(fx->audit, &act, NULL, NULL), -1);

	/* A rollback row points at its parent; dry runs are done at once. */
	act = mk_action("network", "net.batch_size", 16, 8);
	act.kind = AUDIT_ROLLBACK;
	act.parent_id = id;
	act.verify_s = 0;
	id2 = begin_wait(fx, &act);
	act = mk_action("network", "net.batch_size", 8, 12);
	act.status = AUDIT_DRY_RUN;
	act.old_value = NAN;
	(void)begin_wait(fx, &act);
	assert_int_equal(q_intf(db, "SELECT parent_id FROM actions WHERE "
	    "id = %lld AND kind = 'rollback'", (long long)id2), id);
	assert_string_equal(q_text(db, "SELECT coalesce(old_value, 'null') "
	    "|| ',' || (done_ts = ts) FROM actions WHERE status = 'dry_run'"),
	    "null,1");
	sqlite3_close(db);
}

static void
test_decisions_fold(void **state)
{
	struct fx	*fx = *state;
	sqlite3		*db;
	int		 i;

	for (i = 0; i < 3; i++) {
		assert_int_equal(audit_decision(fx->audit, "network",
		    "net.batch_size", "cooldown"), 0);
		usleep(2000);
	}
	assert_int_equal(audit_decision(fx->audit, "network",
	    "net.batch_size", "bounds"), 0);
	assert_int_equal(audit_decision(fx->audit, "memory", NULL,
	    "cooldown"), 0);
	assert_int_equal(audit_decision(fx->audit, NULL, "k", "x"), -1);
	assert_int_equal(audit_sync(fx->audit), 0);

	db = raw_open(fx->path);
	assert_int_equal(q_int(db, "SELECT count(*) FROM decisions"), 3);
	assert_int_equal(q_int(db, "SELECT count FROM decisions WHERE "
	    "reason = 'cooldown' AND strategy = 'network'"), 3);
	assert_int_equal(q_int(db, "SELECT last_ts > first_ts FROM decisions "
	    "WHERE reason = 'cooldown' AND strategy = 'network'"), 1);
	assert_int_equal(q_int(db, "SELECT count FROM decisions WHERE "
	    "reason = 'bounds'"), 1);
	assert_string_equal(q_text(db, "SELECT '[' || knob || ']' FROM "
	    "decisions WHERE strategy = 'memory'"), "[]");
	sqlite3_close(db);
}

static void
test_events_strategies(void **state)
{
	struct fx	*fx = *state;
	sqlite3		*db;

	assert_int_equal(audit_event(fx->audit, "start", "meshtuned",
	    "meshtuned 0.1.0 started", "{\"pid\":42}"), 0);
	assert_int_equal(audit_event(fx->audit, "plugin_error", "plugin",
	    "bad.so: ABI major 2, host 1", "not json"), 0);
	assert_int_equal(audit_event(fx->audit, NULL, "x", "y", NULL), -1);
	assert_int_equal(audit_strategy(fx->audit, "network",
	    "/usr/lib/meshtune/strategies/network.so",
	    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	    "1.0"), 0);
	assert_int_equal(audit_sync(fx->audit), 0);

	db = raw_open(fx->path);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 2);
	assert_int_equal(q_int(db, "SELECT json_extract(detail, '$.pid') "
	    "FROM events WHERE kind = 'start'"), 42);
	/* Not JSON: stored as a JSON string, so json_* still work. */
	assert_string_equal(q_text(db, "SELECT json_extract(detail, '$') "
	    "FROM events WHERE kind = 'plugin_error'"), "not json");
	assert_string_equal(q_text(db, "SELECT source || '|' || message FROM "
	    "events WHERE kind = 'plugin_error'"),
	    "plugin|bad.so: ABI major 2, host 1");
	assert_string_equal(q_text(db, "SELECT name || '|' || abi || '|' || "
	    "length(sha256) FROM strategies"), "network|1.0|64");
	assert_int_equal(q_int(db, "SELECT ts LIKE '____-__-__T__:__:__.___Z' "
	    "FROM strategies"), 1);
	sqlite3_close(db);
}

static void
test_retention(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act;
	sqlite3			*db;
	char			 old[AUDIT_TS_LEN], sql[512];
	int			 i;

	for (i = 0; i < 6; i++) {
		act = mk_action("network", "net.batch_size", i, i + 1);
		act.status = i == 0 ? AUDIT_PENDING : AUDIT_DRY_RUN;
		assert_int_equal(audit_action_begin(fx->audit, &act, NULL,
		    NULL), 0);
		assert_int_equal(audit_event(fx->audit, "reload", "meshtuned",
		    "reloaded", NULL), 0);
	}
	assert_int_equal(audit_decision(fx->audit, "network", "k", "old"), 0);
	assert_int_equal(audit_decision(fx->audit, "network", "k", "new"), 0);
	assert_int_equal(audit_strategy(fx->audit, "old", "/x", "y", "1.0"),
	    0);
	assert_int_equal(audit_sync(fx->audit), 0);

	/* Age rows 1-3 (1 is pending) by 31 days, leave 4-6 fresh. */
	assert_int_equal(audit_format_ts(clock_wall_ms() - 31ULL * 86400000,
	    old, sizeof(old)), 0);
	db = raw_open(fx->path);
	snprintf(sql, sizeof(sql), "UPDATE actions SET ts = '%s' "
	    "WHERE id <= 3; UPDATE events SET ts = '%s' WHERE id <= 3;"
	    "UPDATE decisions SET first_ts = '%s', last_ts = '%s' "
	    "WHERE reason = 'old'; UPDATE strategies SET ts = '%s';",
	    old, old, old, old, old);
	raw_exec(db, sql);

	assert_int_equal(audit_retention(fx->audit, clock_wall_ms()), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	assert_string_equal(q_text(db, "SELECT group_concat(id) FROM (SELECT "
	    "id FROM actions ORDER BY id)"), "1,4,5,6");
	assert_string_equal(q_text(db, "SELECT group_concat(id) FROM (SELECT "
	    "id FROM events ORDER BY id)"), "4,5,6");
	assert_string_equal(q_text(db, "SELECT group_concat(reason) FROM "
	    "decisions"), "new");
	assert_int_equal(q_int(db, "SELECT count(*) FROM strategies"), 0);
	sqlite3_close(db);
}

static void
test_retention_chunks(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act = mk_action("cpu", "cpu.max", 1, 2);
	sqlite3			*db;
	char			 old[AUDIT_TS_LEN], sql[256];
	int			 i;

	act.status = AUDIT_REJECTED;
	act.error = "cooldown";
	for (i = 0; i < 2500; i++)
		assert_int_equal(audit_action_begin(fx->audit, &act, NULL,
		    NULL), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	assert_int_equal(audit_format_ts(clock_wall_ms() - 40ULL * 86400000,
	    old, sizeof(old)), 0);
	db = raw_open(fx->path);
	snprintf(sql, sizeof(sql), "UPDATE actions SET ts = '%s' "
	    "WHERE id <= 2400", old);
	raw_exec(db, sql);
	/* Three passes of 1000: the job requeues itself behind others. */
	assert_int_equal(audit_retention(fx->audit, clock_wall_ms()), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM actions"), 100);
	assert_int_equal(q_int(db, "SELECT min(id) FROM actions"), 2401);
	sqlite3_close(db);
}

static void
test_newest_json(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act;
	struct got		 g = { .base = fx->base };
	cJSON			*arr, *o;
	int			 i;

	for (i = 0; i < 30; i++) {
		act = mk_action(i % 2 ? "network" : "memory", "net.batch_size",
		    i, i + 1);
		act.status = AUDIT_DRY_RUN;
		assert_int_equal(audit_action_begin(fx->audit, &act, NULL,
		    NULL), 0);
	}
	/* Queued after the writes, so it sees all of them. */
	assert_int_equal(audit_actions_json(fx->audit, 5, json_cb, &g), 0);
	assert_int_equal(audit_actions_json(fx->audit, 0, json_cb, &g), -1);
	run_until(fx->base, &g.calls, 1);
	assert_non_null(g.json);
	arr = cJSON_Parse(g.json);
	assert_non_null(arr);
	assert_int_equal(cJSON_GetArraySize(arr), 5);
	for (i = 0; i < 5; i++) {
		o = cJSON_GetArrayItem(arr, i);
		assert_int_equal(cJSON_GetObjectItem(o, "id")->valuedouble,
		    30 - i);
		assert_int_equal(cJSON_GetObjectItem(o, "new_value")->
		    valuedouble, 30 - i);
		assert_string_equal(cJSON_GetObjectItem(o, "status")->
		    valuestring, "dry_run");
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "outcome")));
		/* evidence is JSON, not a string holding JSON */
		assert_true(cJSON_IsObject(cJSON_GetObjectItem(o,
		    "evidence")));
		assert_non_null(cJSON_GetObjectItem(o, "expect_metric"));
	}
	cJSON_Delete(arr);

	/* More than there are: all 30. */
	assert_int_equal(audit_actions_json(fx->audit, 1000000, json_cb, &g),
	    0);
	run_until(fx->base, &g.calls, 2);
	arr = cJSON_Parse(g.json);
	assert_int_equal(cJSON_GetArraySize(arr), 30);
	cJSON_Delete(arr);
	free(g.json);
}

static void
test_startup_state(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act;
	struct audit_row	*rows;
	size_t			 n;
	int64_t			 a1, a2, b1, c1, d1;
	sqlite3			*db;
	uint64_t		 t0 = clock_wall_ms();

	act = mk_action("network", "knob.a", 1, 2);
	a1 = begin_wait(fx, &act);
	audit_action_update(fx->audit, a1, AUDIT_APPLIED, 2, NULL);
	audit_action_outcome(fx->audit, a1, AUDIT_KEPT);
	act = mk_action("network", "knob.a", 2, 3);
	a2 = begin_wait(fx, &act);
	audit_action_update(fx->audit, a2, AUDIT_APPLIED, 3, NULL);
	act = mk_action("memory", "knob.b", 5, 6);
	b1 = begin_wait(fx, &act);		/* left pending: a "crash" */
	act = mk_action("cpu", "knob.c", 7, 8);
	act.verify_s = 0;
	c1 = begin_wait(fx, &act);
	audit_action_update(fx->audit, c1, AUDIT_APPLIED, 8, NULL);
	act = mk_action("cpu", "knob.d", 1, 0);
	d1 = begin_wait(fx, &act);
	audit_action_update(fx->audit, d1, AUDIT_FAILED, NAN, "timeout");
	assert_int_equal(audit_sync(fx->audit), 0);

	assert_int_equal(audit_pending(fx->audit, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, b1);
	assert_string_equal(rows[0].knob, "knob.b");
	assert_int_equal(rows[0].status, AUDIT_PENDING);
	assert_int_equal(rows[0].done_ms, 0);
	assert_true(rows[0].old_value == 5 && rows[0].new_value == 6);
	audit_rows_free(rows, n);

	assert_int_equal(audit_last_applied(fx->audit, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].knob, "knob.a");
	assert_int_equal(rows[0].id, a2);
	assert_true(rows[0].done_ms >= rows[0].ts_ms);
	assert_true(rows[0].done_ms + 1 >= t0);
	assert_string_equal(rows[1].knob, "knob.c");
	assert_int_equal(rows[1].id, c1);
	audit_rows_free(rows, n);

	assert_int_equal(audit_awaiting_verify(fx->audit, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, a2);
	assert_string_equal(rows[0].expect_metric, "net.rtt_ms");
	assert_string_equal(rows[0].expect_stat, "p95");
	assert_int_equal(rows[0].expect_dir, -1);
	assert_true(rows[0].baseline == 88.5);
	assert_int_equal(rows[0].verify_s, 60);
	assert_int_equal(rows[0].verify_due_ms, rows[0].done_ms + 60000);
	assert_int_equal(rows[0].outcome, AUDIT_OUTCOME_NONE);
	audit_rows_free(rows, n);

	assert_int_equal(audit_applied_since(fx->audit, t0 - 1000, &rows, &n),
	    0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].id, a1);
	assert_int_equal(rows[0].outcome, AUDIT_KEPT);
	assert_true(rows[0].outcome_ms >= rows[0].done_ms);
	audit_rows_free(rows, n);
	assert_int_equal(audit_applied_since(fx->audit, clock_wall_ms() +
	    60000, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rows);

	/* Reconcile the crash: row marked, event recorded, same commit. */
	assert_int_equal(audit_reconcile(fx->audit, b1, AUDIT_FAILED, 5,
	    "knob reads 5, the old value: not applied"), 0);
	assert_int_equal(audit_reconcile(fx->audit, b1, AUDIT_FAILED, 5,
	    NULL), -1);
	assert_int_equal(audit_sync(fx->audit), 0);
	assert_int_equal(audit_pending(fx->audit, &rows, &n), 0);
	assert_int_equal(n, 0);
	db = raw_open(fx->path);
	assert_string_equal(q_textf(db, "SELECT status || '|' || new_value || "
	    "'|' || error FROM actions WHERE id = %lld", (long long)b1),
	    "failed|6.0|knob reads 5, the old value: not applied");
	assert_int_equal(q_intf(db, "SELECT json_extract(detail, '$.id') FROM "
	    "events WHERE kind = 'reconcile'"), b1);
	assert_int_equal(q_int(db, "SELECT json_extract(detail, "
	    "'$.read_back') FROM events WHERE kind = 'reconcile'"), 5);
	sqlite3_close(db);
}

/*
 * A person in the sqlite3 shell holds a read transaction: writes still
 * commit while it is open (a third connection sees them, and no commit
 * waits for the 5 s busy timeout), the reader keeps its snapshot, and
 * afterwards every row is there.
 */
static void
test_concurrent_reader(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act = mk_action("network", "k", 1, 2);
	struct audit_stats	 st;
	sqlite3			*rd, *other;
	uint64_t		 t0, took, worst = 0;
	int			 i;

	for (i = 0; i < 10; i++)
		assert_int_equal(audit_action_begin(fx->audit, &act, NULL,
		    NULL), 0);
	assert_int_equal(audit_sync(fx->audit), 0);

	rd = raw_open(fx->path);
	raw_exec(rd, "BEGIN");
	assert_int_equal(q_int(rd, "SELECT count(*) FROM actions"), 10);

	for (i = 0; i < 300; i++) {
		act.new_value = i;
		t0 = clock_mono_ms();
		assert_int_equal(audit_action_begin(fx->audit, &act, NULL,
		    NULL), 0);
		if (i % 10 == 9) {
			assert_int_equal(audit_sync(fx->audit), 0);
			took = clock_mono_ms() - t0;
			worst = took > worst ? took : worst;
		}
	}
	/* Committed while the reader still holds its transaction. */
	other = raw_open(fx->path);
	assert_int_equal(q_int(other, "SELECT count(*) FROM actions"), 310);
	sqlite3_close(other);
	audit_get_stats(fx->audit, &st);
	assert_int_equal(st.failed, 0);
	/* No commit waited for the busy timeout (5 s). */
	assert_true(worst < 4000);
	/* The reader's snapshot has not moved. */
	assert_int_equal(q_int(rd, "SELECT count(*) FROM actions"), 10);
	raw_exec(rd, "COMMIT");
	assert_int_equal(q_int(rd, "SELECT count(*) FROM actions"), 310);
	assert_int_equal(q_int(rd, "SELECT count(DISTINCT new_value) FROM "
	    "actions WHERE id > 10"), 300);
	assert_string_equal(q_text(rd, "PRAGMA integrity_check"), "ok");
	sqlite3_close(rd);
}

/* audit_close commits what is queued and runs the callbacks owed. */
static void
test_close_flushes(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act = mk_action("network", "k", 1, 2);
	struct got		 g = { .base = fx->base };
	sqlite3			*db;
	char			 err[512];
	int			 i;

	fx->audit = audit_open(fx->base, fx->path, 0, err, sizeof(err));
	assert_non_null(fx->audit);
	for (i = 0; i < 500; i++)
		assert_int_equal(audit_action_begin(fx->audit, &act, id_cb,
		    &g), 0);
	audit_event(fx->audit, "stop", "meshtuned", "SIGTERM", NULL);
	audit_close(fx->audit);
	fx->audit = NULL;
	assert_int_equal(g.calls, 500);
	assert_int_equal(g.id, 500);
	db = raw_open(fx->path);
	assert_int_equal(q_int(db, "SELECT count(*) FROM actions"), 500);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 1);
	sqlite3_close(db);
}

/* Every action and event is also one JSON line in the daemon's log. */
static void
test_log_lines(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act = mk_action("network", "net.batch_size",
				    8, 16);
	char			 logpath[400], line[4096];
	FILE			*f;
	cJSON			*o;
	int			 saved, fd, found = 0;
	int64_t			 id;

	snprintf(logpath, sizeof(logpath), "%s/log", fx->dir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved != -1 && fd != -1);
	assert_int_not_equal(dup2(fd, STDERR_FILENO), -1);
	close(fd);

	id = begin_wait(fx, &act);
	audit_action_update(fx->audit, id, AUDIT_APPLIED, 16, NULL);
	audit_event(fx->audit, "actuator_fault", "actuator:node", "timeout",
	    "{\"after_ms\":1000}");
	assert_int_equal(audit_sync(fx->audit), 0);

	fflush(stderr);
	assert_int_not_equal(dup2(saved, STDERR_FILENO), -1);
	close(saved);

	f = fopen(logpath, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char	*p = strstr(line, "audit: {");

		if (p == NULL)
			continue;
		o = cJSON_Parse(p + strlen("audit: "));
		assert_non_null(o);
		if (strcmp(cJSON_GetObjectItem(o, "table")->valuestring,
		    "actions") == 0 && strcmp(cJSON_GetObjectItem(o,
		    "op")->valuestring, "insert") == 0) {
			assert_int_equal(cJSON_GetObjectItem(o, "id")->
			    valuedouble, id);
			assert_string_equal(cJSON_GetObjectItem(o, "status")->
			    valuestring, "pending");
			assert_string_equal(cJSON_GetObjectItem(o, "reason")->
			    valuestring, "p95 rtt above target for 30 s");
			assert_true(cJSON_IsObject(cJSON_GetObjectItem(o,
			    "evidence")));
			found |= 1;
		} else if (strcmp(cJSON_GetObjectItem(o, "table")->
		    valuestring, "actions") == 0) {
			assert_string_equal(cJSON_GetObjectItem(o, "status")->
			    valuestring, "applied");
			found |= 2;
		} else if (strcmp(cJSON_GetObjectItem(o, "table")->
		    valuestring, "events") == 0) {
			assert_string_equal(cJSON_GetObjectItem(o, "kind")->
			    valuestring, "actuator_fault");
			assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(
			    o, "detail"), "after_ms")->valuedouble, 1000);
			found |= 4;
		}
		cJSON_Delete(o);
	}
	fclose(f);
	unlink(logpath);
	assert_int_equal(found, 7);
}

static void
test_timestamps(void **state)
{
	char		buf[AUDIT_TS_LEN];
	uint64_t	ms;

	(void)state;
	assert_int_equal(audit_format_ts(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	assert_int_equal(audit_format_ts(1795367107123ULL, buf, sizeof(buf)),
	    0);
	assert_string_equal(buf, "2026-11-22T17:05:07.123Z");
	assert_int_equal(audit_parse_ts(buf, &ms), 0);
	assert_int_equal(ms, 1795367107123ULL);
	assert_int_equal(audit_format_ts(0, buf, 10), -1);
	assert_int_equal(audit_parse_ts("2026-11-22T17:05:07Z", &ms), -1);
	assert_int_equal(audit_parse_ts("2026-11-22 17:05:07.123Z", &ms), -1);
	assert_int_equal(audit_parse_ts("2026-13-22T17:05:07.123Z", &ms), -1);
	assert_int_equal(audit_parse_ts("2026-11-22T17:05:07.123+", &ms), -1);
	assert_int_equal(audit_parse_ts(NULL, &ms), -1);
	assert_string_equal(audit_kind_name(AUDIT_ROLLBACK), "rollback");
	assert_string_equal(audit_status_name(AUDIT_DRY_RUN), "dry_run");
	assert_string_equal(audit_outcome_name(AUDIT_ROLLED_BACK),
	    "rolled_back");
	assert_null(audit_outcome_name(AUDIT_OUTCOME_NONE));
	assert_null(audit_status_name((enum audit_status)42));
}

/*
 * The example queries of meshtune-audit(5) are answered from an index,
 * not by reading the whole table.
 */
static void
test_man_queries_indexed(void **state)
{
	static const char *const queries[] = {
		"SELECT ts, kind, knob, old_value, new_value, status, outcome,"
		" reason, evidence FROM actions WHERE strategy = 'network'"
		" AND ts >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour')"
		" ORDER BY ts",
		"SELECT a.id, a.ts, a.strategy, a.knob, a.old_value,"
		" a.new_value, a.reason, r.ts, r.reason FROM actions a"
		" LEFT JOIN actions r ON r.parent_id = a.id AND"
		" r.kind = 'rollback' WHERE a.outcome = 'rolled_back'"
		" ORDER BY a.id DESC",
		"SELECT reason, sum(count) AS refusals, count(*) AS pairs,"
		" max(last_ts) AS last FROM decisions GROUP BY reason"
		" ORDER BY refusals DESC",
		"SELECT id, ts, strategy, knob, new_value FROM actions"
		" WHERE status = 'pending'",
	};
	struct fx	*fx = *state;
	sqlite3		*db = raw_open(fx->path);
	sqlite3_stmt	*st;
	char		 sql[1024];
	const char	*detail;
	size_t		 i;
	int		 indexed;

	for (i = 0; i < nitems(queries); i++) {
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", queries[i]);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
		    SQLITE_OK);
		indexed = 0;
		while (sqlite3_step(st) == SQLITE_ROW) {
			detail = (const char *)sqlite3_column_text(st, 3);
			if (strstr(detail, "INDEX") != NULL)
				indexed = 1;
			if (strncmp(detail, "SCAN ", 5) == 0 &&
			    strstr(detail, "INDEX") == NULL)
				fail_msg("query %zu: %s", i, detail);
		}
		sqlite3_finalize(st);
		assert_true(indexed);
	}
	sqlite3_close(db);
}

/* Another program's tables, for the refusal tests. */
static const char foreign_sql[] =
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT);"
    "INSERT INTO users (name, email) VALUES ('ada', 'ada@example.org');"
    "INSERT INTO users (name, email) VALUES ('bob', 'bob@example.org');";

/*
 * audit_open refuses the file at fx->path with a message naming it and
 * saying want, and leaves it as it was: the same bytes, no -wal or -shm
 * file that was not there before.
 */
static void
assert_refused_untouched(struct fx *fx, const char *want)
{
	char	 err[1024], *before, *after;
	size_t	 n, m;
	int	 wal = companion(fx->path, "-wal");
	int	 shm = companion(fx->path, "-shm");

	before = slurp(fx->path, &n);
	assert_non_null(before);
	assert_null(audit_open(fx->base, fx->path, 30, err, sizeof(err)));
	assert_non_null(strstr(err, fx->path));
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\" is not in: %s", want, err);
	after = slurp(fx->path, &m);
	assert_non_null(after);
	assert_true(n == m && memcmp(before, after, n) == 0);
	assert_int_equal(companion(fx->path, "-wal"), wal);
	assert_int_equal(companion(fx->path, "-shm"), shm);
	assert_false(companion(fx->path, "-journal"));
	free(before);
	free(after);
}

/* Another program's database is never adopted, whatever its mode. */
static void
test_foreign_refused(void **state)
{
	struct fx	*fx = *state;
	sqlite3		*db;

	/* An app's database in WAL mode, closed cleanly. */
	db = raw_open(fx->path);
	raw_exec(db, "PRAGMA journal_mode = WAL");
	raw_exec(db, foreign_sql);
	sqlite3_close(db);
	assert_false(companion(fx->path, "-wal"));
	assert_refused_untouched(fx, "not a meshtune audit log");
	assert_refused_untouched(fx, "tables: users");
	db = raw_open(fx->path);
	assert_string_equal(q_text(db, "PRAGMA journal_mode"), "wal");
	assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master"), 1);
	sqlite3_close(db);
	assert_int_equal(unlink(fx->path), 0);

	/* In rollback-journal mode, with a schema version of its own. */
	db = raw_open(fx->path);
	raw_exec(db, foreign_sql);
	raw_exec(db, "PRAGMA user_version = 1");
	sqlite3_close(db);
	assert_refused_untouched(fx, "not a meshtune audit log");
	db = raw_open(fx->path);
	assert_string_equal(q_text(db, "PRAGMA journal_mode"), "delete");
	sqlite3_close(db);
	assert_int_equal(unlink(fx->path), 0);

	/* meshtune's tables, but another program's application id. */
	db = raw_open(fx->path);
	raw_exec(db, schema_v1);
	raw_exec(db, "PRAGMA application_id = 1196444487");
	sqlite3_close(db);
	assert_refused_untouched(fx, "application id 1196444487");
}

/* A meshtune log with a damaged page is refused before any write. */
static void
test_corrupt_refused(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act = mk_action("network", "k", 1, 2);
	char			 err[512], junk[65536];
	sqlite3			*db;
	int64_t			 pages, page;
	int			 i, fd;

	fx->audit = audit_open(fx->base, fx->path, 0, err, sizeof(err));
	assert_non_null(fx->audit);
	act.status = AUDIT_DRY_RUN;
	for (i = 0; i < 2000; i++)
		assert_int_equal(audit_action_begin(fx->audit, &act, NULL,
		    NULL), 0);
	assert_int_equal(audit_sync(fx->audit), 0);
	audit_close(fx->audit);
	fx->audit = NULL;
	assert_false(companion(fx->path, "-wal"));
	db = raw_open(fx->path);
	pages = q_int(db, "PRAGMA page_count");
	page = q_int(db, "PRAGMA page_size");
	sqlite3_close(db);
	assert_true(pages > 20 && page <= (int64_t)sizeof(junk));

	/* A page in the middle of the actions table, overwritten. */
	memset(junk, 0x5a, sizeof(junk));
	fd = open(fx->path, O_WRONLY);
	assert_true(fd != -1);
	assert_int_equal(pwrite(fd, junk, (size_t)page, pages / 2 * page),
	    page);
	close(fd);
	assert_refused_untouched(fx, "damaged");
}

/* With on_bad_file "move", a refused file is moved aside, never adopted. */
static void
test_bad_file_moved(void **state)
{
	struct fx		*fx = *state;
	struct audit_opts	 o = { .retention_days = 30, .move_bad = 1 };
	char			 err[1024], to[600], *before, *after;
	size_t			 n, m;
	sqlite3			*db;

	db = raw_open(fx->path);
	raw_exec(db, foreign_sql);
	sqlite3_close(db);
	before = slurp(fx->path, &n);
	fx->audit = audit_open_opts(fx->base, fx->path, &o, err, sizeof(err));
	if (fx->audit == NULL)
		fail_msg("audit_open_opts: %s", err);
	assert_int_equal(audit_sync(fx->audit), 0);

	db = raw_open(fx->path);
	assert_int_equal(q_int(db, "PRAGMA application_id"), AUDIT_APP_ID);
	assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "name = 'users'"), 0);
	assert_string_equal(q_text(db, "SELECT json_extract(detail, '$.from') "
	    "FROM events WHERE kind = 'audit_moved'"), fx->path);
	snprintf(to, sizeof(to), "%s", q_text(db, "SELECT json_extract("
	    "detail, '$.to') FROM events WHERE kind = 'audit_moved'"));
	sqlite3_close(db);
	assert_true(strncmp(to, fx->path, strlen(fx->path)) == 0);
	assert_true(strncmp(to + strlen(fx->path), ".refused-", 9) == 0);
	after = slurp(to, &m);
	assert_non_null(after);
	assert_true(n == m && memcmp(before, after, n) == 0);
	assert_int_equal(unlink(to), 0);
	free(before);
	free(after);
}

/*
 * Files that are meshtune's to take: absent, 0 bytes, an SQLite database
 * with no schema; and a log of meshtune 0.1 (schema 2, no application id,
 * no auto_vacuum), which is stamped and converted, its rows kept.
 */
static void
test_files_adopted(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act = mk_action("network", "k", 1, 2);
	char			 err[512];
	sqlite3			*db;
	int64_t			 id;
	int			 fd, i;

	for (i = 0; i < 2; i++) {
		if (i == 0) {
			fd = open(fx->path, O_WRONLY | O_CREAT, 0600);
			assert_true(fd != -1);
			close(fd);
		} else {
			db = raw_open(fx->path);
			raw_exec(db, "CREATE TABLE t (x); DROP TABLE t");
			sqlite3_close(db);
			assert_true(file_size(fx->path) > 0);
		}
		fx->audit = audit_open(fx->base, fx->path, 0, err,
		    sizeof(err));
		if (fx->audit == NULL)
			fail_msg("audit_open: %s", err);
		assert_int_equal(audit_sync(fx->audit), 0);
		db = raw_open(fx->path);
		assert_int_equal(q_int(db, "PRAGMA application_id"),
		    AUDIT_APP_ID);
		assert_int_equal(q_int(db, "PRAGMA user_version"),
		    AUDIT_SCHEMA_VERSION);
		assert_int_equal(q_int(db, "PRAGMA auto_vacuum"), 2);
		sqlite3_close(db);
		audit_close(fx->audit);
		fx->audit = NULL;
		assert_int_equal(unlink(fx->path), 0);
	}

	fx->audit = audit_open(fx->base, fx->path, 0, err, sizeof(err));
	assert_non_null(fx->audit);
	id = begin_wait(fx, &act);
	audit_close(fx->audit);
	fx->audit = NULL;
	db = raw_open(fx->path);
	/* As an older meshtune left it: no id, schema 2 (no verdict). */
	raw_exec(db, "PRAGMA application_id = 0; PRAGMA auto_vacuum = NONE; "
	    "ALTER TABLE actions DROP COLUMN verdict; "
	    "PRAGMA user_version = 2; VACUUM");
	assert_int_equal(q_int(db, "PRAGMA auto_vacuum"), 0);
	sqlite3_close(db);

	fx->audit = audit_open(fx->base, fx->path, 0, err, sizeof(err));
	if (fx->audit == NULL)
		fail_msg("audit_open: %s", err);
	assert_int_equal(audit_sync(fx->audit), 0);
	db = raw_open(fx->path);
	assert_int_equal(q_int(db, "PRAGMA application_id"), AUDIT_APP_ID);
	assert_int_equal(q_int(db, "PRAGMA auto_vacuum"), 2);
	assert_int_equal(q_intf(db, "SELECT count(*) FROM actions WHERE "
	    "id = %lld AND status = 'pending'", (long long)id), 1);
	sqlite3_close(db);
}

/* Sync until housekeeping (which requeues itself) has ended. */
static void
settle(struct fx *fx)
{
	struct audit_stats	st;
	int			i;

	for (i = 0; i < 10000; i++) {
		assert_int_equal(audit_sync(fx->audit), 0);
		audit_get_stats(fx->audit, &st);
		if (st.housekeeping == 0)
			return;
	}
	fail_msg("the housekeeping never ended");
}

/*
 * Another connection holds the write lock (as an operator's BEGIN
 * IMMEDIATE in the sqlite3 shell would), for longer than the writer's busy
 * timeout: the writes wait and are tried again, none is lost, and reads
 * for the API are answered meanwhile from what is committed.
 */
static void
test_writer_lock(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act = mk_action("network", "k", 1, 2);
	struct audit_stats	 st;
	struct got		 g = { .base = fx->base };
	struct got		 r = { .base = fx->base };
	sqlite3			*lock, *db;
	uint64_t		 t0;
	int64_t			 id;
	int			 i;

	id = begin_wait(fx, &act);
	lock = raw_open(fx->path);
	raw_exec(lock, "BEGIN IMMEDIATE");
	assert_int_equal(audit_action_update(fx->audit, id, AUDIT_APPLIED, 2,
	    NULL), 0);
	assert_int_equal(audit_action_outcome(fx->audit, id, AUDIT_KEPT), 0);
	assert_int_equal(audit_action_begin(fx->audit, &act, id_cb, &g), 0);
	for (i = 0; i < 50; i++) {
		assert_int_equal(audit_decision(fx->audit, "network", "k",
		    "cooldown"), 0);
		assert_int_equal(audit_event(fx->audit, "manual_change", "k",
		    "changed behind our back", NULL), 0);
	}
	/* Each try waits the busy timeout: at least two of them. */
	t0 = clock_mono_ms();
	do {
		audit_get_stats(fx->audit, &st);
		if (st.retries >= 2)
			break;
		usleep(20000);
	} while (clock_mono_ms() - t0 < 30000);
	assert_true(st.retries >= 2);
	assert_true(st.stalled_ms > 0);
	assert_int_equal(st.failed, 0);

	/* A read is answered at once, from what is committed. */
	t0 = clock_mono_ms();
	assert_int_equal(audit_actions_json(fx->audit, 10, json_cb, &r), 0);
	run_until(fx->base, &r.calls, 1);
	assert_true(clock_mono_ms() - t0 < 1000);
	assert_non_null(r.json);
	assert_non_null(strstr(r.json, "\"status\":\"pending\""));
	assert_null(strstr(r.json, "\"kept\""));
	assert_int_equal(g.calls, 0);
	free(r.json);

	raw_exec(lock, "COMMIT");
	sqlite3_close(lock);
	run_until(fx->base, &g.calls, 1);
	assert_true(g.id > id);
	assert_int_equal(audit_sync(fx->audit), 0);
	audit_get_stats(fx->audit, &st);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.stalled_ms, 0);
	db = raw_open(fx->path);
	assert_string_equal(q_textf(db, "SELECT status || '|' || outcome FROM "
	    "actions WHERE id = %lld", (long long)id), "applied|kept");
	assert_int_equal(q_int(db, "SELECT count(*) FROM actions"), 2);
	assert_int_equal(q_int(db, "SELECT count FROM decisions"), 50);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 50);
	sqlite3_close(db);
}

/*
 * While nothing can be written, jobs wait in memory, but not without
 * bound: once 10000 wait, new actions are refused (so never applied),
 * once 100000 wait, new events too, while what follows an action already
 * begun (its update, its outcome) is always taken.  Afterwards every job
 * taken is in the file.
 */
static void
test_backlog_bounded(void **state)
{
	struct fx		*fx = *state;
	struct audit_action	 act = mk_action("network", "k", 1, 2);
	struct audit_stats	 st;
	sqlite3			*lock, *db;
	int64_t			 id;
	int			 i, taken = 0, events;

	id = begin_wait(fx, &act);
	lock = raw_open(fx->path);
	raw_exec(lock, "BEGIN IMMEDIATE");
	act.status = AUDIT_DRY_RUN;
	for (i = 0; i < 20000; i++) {
		if (audit_action_begin(fx->audit, &act, NULL, NULL) == -1)
			break;
		taken++;
	}
	/* The writer holds one batch (at most 256) aside the waiting ones. */
	assert_true(taken >= 10000 && taken <= 10000 + 256);
	assert_int_equal(audit_action_begin(fx->audit, &act, NULL, NULL), -1);
	audit_get_stats(fx->audit, &st);
	assert_true(st.refused >= 2);
	assert_int_equal(audit_action_update(fx->audit, id, AUDIT_APPLIED, 2,
	    NULL), 0);
	assert_int_equal(audit_action_outcome(fx->audit, id, AUDIT_KEPT), 0);
	assert_int_equal(audit_event(fx->audit, "actuator_fault", "node",
	    "timeout", NULL), 0);
	/* Events (a StatsD flood, say) are taken up to 100000 waiting. */
	for (i = 0, events = 1; i < 200000; i++) {
		if (audit_event(fx->audit, "statsd_event", "statsd", "e",
		    NULL) == -1)
			break;
		events++;
	}
	/* taken - 1 actions, 2 jobs of the first, events: 100000 wait. */
	if (events + taken < 100000 - 2 || events + taken > 100000 + 256)
		fail_msg("%d events after %d actions", events, taken);
	assert_int_equal(audit_action_update(fx->audit, id, AUDIT_APPLIED, 2,
	    NULL), 0);		/* refused: not pending; but taken */
	raw_exec(lock, "COMMIT");
	sqlite3_close(lock);
	assert_int_equal(audit_sync(fx->audit), 0);
	db = raw_open(fx->path);
	assert_int_equal(q_int(db, "SELECT count(*) FROM actions"), taken + 1);
	assert_string_equal(q_textf(db, "SELECT status || '|' || outcome FROM "
	    "actions WHERE id = %lld", (long long)id), "applied|kept");
	assert_int_equal(q_int(db, "SELECT count(*) FROM events WHERE kind = "
	    "'actuator_fault'"), 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), events);
	sqlite3_close(db);
}

/*
 * Retention 0 keeps everything, however old; a reload to 30 days applies
 * at once.
 */
static void
test_retention_zero(void **state)
{
	struct fx		*fx = *state;
	struct audit_opts	 o = { .retention_days = 0 };
	struct audit_action	 act = mk_action("network", "k", 1, 2);
	char			 err[512];
	sqlite3			*db;
	int			 i;

	fx->audit = audit_open_opts(fx->base, fx->path, &o, err, sizeof(err));
	assert_non_null(fx->audit);
	act.status = AUDIT_DRY_RUN;
	for (i = 0; i < 5; i++) {
		assert_int_equal(audit_action_begin(fx->audit, &act, NULL,
		    NULL), 0);
		assert_int_equal(audit_event(fx->audit, "reload", "x", "y",
		    NULL), 0);
	}
	assert_int_equal(audit_decision(fx->audit, "network", "k", "flap"),
	    0);
	settle(fx);
	db = raw_open(fx->path);
	raw_exec(db, "UPDATE actions SET ts = '1990-01-01T00:00:00.000Z';"
	    "UPDATE events SET ts = '1990-01-01T00:00:00.000Z';"
	    "UPDATE decisions SET first_ts = '1990-01-01T00:00:00.000Z', "
	    "last_ts = '1990-01-01T00:00:00.000Z'");
	assert_int_equal(audit_retention(fx->audit, clock_wall_ms()), 0);
	settle(fx);
	assert_int_equal(q_int(db, "SELECT count(*) FROM actions"), 5);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 5);
	assert_int_equal(q_int(db, "SELECT count(*) FROM decisions"), 1);

	o.retention_days = 30;
	audit_set_opts(fx->audit, &o);
	settle(fx);
	assert_int_equal(q_int(db, "SELECT count(*) FROM actions"), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM decisions"), 0);
	sqlite3_close(db);
}

/*
 * The size cap: past it the oldest rows go (pending ones stay), until the
 * data fits, and the space is given back: the file shrinks.
 */
static void
test_size_cap(void **state)
{
	struct fx		*fx = *state;
	struct audit_opts	 o = { .retention_days = 0 };
	struct audit_action	 act = mk_action("network", "k", 1, 2);
	char			 err[512], msg[1100];
	sqlite3			*db;
	off_t			 before, after;
	int64_t			 pending, last, data;
	int			 i;

	fx->audit = audit_open_opts(fx->base, fx->path, &o, err, sizeof(err));
	assert_non_null(fx->audit);
	pending = begin_wait(fx, &act);
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	for (i = 0; i < 4000; i++)
		assert_int_equal(audit_event(fx->audit, "reload", "x", msg,
		    NULL), 0);
	settle(fx);
	db = raw_open(fx->path);
	raw_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	last = q_int(db, "SELECT max(id) FROM events");
	sqlite3_close(db);
	before = file_size(fx->path);
	assert_true(before > 4 * 1024 * 1024);

	o.max_bytes = 1024 * 1024;
	audit_set_opts(fx->audit, &o);
	settle(fx);
	db = raw_open(fx->path);
	data = q_int(db, "SELECT (p.page_count - f.freelist_count) * "
	    "s.page_size FROM pragma_page_count() p, "
	    "pragma_freelist_count() f, pragma_page_size() s");
	if (data > 1024 * 1024 || data < 512 * 1024)	/* not everything */
		fail_msg("%lld bytes of data", (long long)data);
	assert_int_equal(q_int(db, "PRAGMA freelist_count"), 0);
	assert_int_equal(q_intf(db, "SELECT count(*) FROM events WHERE "
	    "id = %lld", (long long)last), 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events WHERE "
	    "id = 1"), 0);
	assert_int_equal(q_intf(db, "SELECT count(*) FROM actions WHERE "
	    "id = %lld AND status = 'pending'", (long long)pending), 1);
	sqlite3_close(db);
	after = file_size(fx->path);
	if (after > 1024 * 1024 + 64 * 1024 || after >= before / 2)
		fail_msg("the file went from %lld to %lld bytes",
		    (long long)before, (long long)after);
}

/*
 * Stopping while the file cannot be written: audit_close waits
 * close_wait_ms, then gives up, and every row left reaches the daemon's
 * log as "audit: not written: {json}"; the callback owed gets -1.
 */
static void
test_close_gives_up(void **state)
{
	struct fx		*fx = *state;
	struct audit_opts	 o = { .close_wait_ms = 1500 };
	struct audit_action	 act = mk_action("network", "knob.late", 4,
				    5);
	struct got		 g = { .base = fx->base };
	char			 err[512], logpath[400], line[4096];
	sqlite3			*lock;
	uint64_t		 t0;
	FILE			*f;
	int			 saved, fd, found = 0;

	fx->audit = audit_open_opts(fx->base, fx->path, &o, err, sizeof(err));
	assert_non_null(fx->audit);
	assert_int_equal(audit_sync(fx->audit), 0);
	lock = raw_open(fx->path);
	raw_exec(lock, "BEGIN IMMEDIATE");

	snprintf(logpath, sizeof(logpath), "%s/log", fx->dir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved != -1 && fd != -1);
	assert_int_not_equal(dup2(fd, STDERR_FILENO), -1);
	close(fd);

	assert_int_equal(audit_action_begin(fx->audit, &act, id_cb, &g), 0);
	assert_int_equal(audit_event(fx->audit, "stop", "meshtuned",
	    "SIGTERM", NULL), 0);
	t0 = clock_mono_ms();
	audit_close(fx->audit);
	fx->audit = NULL;

	fflush(stderr);
	assert_int_not_equal(dup2(saved, STDERR_FILENO), -1);
	close(saved);
	raw_exec(lock, "ROLLBACK");
	sqlite3_close(lock);

	assert_true(clock_mono_ms() - t0 < 10000);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.id, -1);
	f = fopen(logpath, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "warning: audit: not written: {") == NULL)
			continue;
		if (strstr(line, "\"knob\":\"knob.late\"") != NULL &&
		    strstr(line, "\"status\":\"pending\"") != NULL)
			found |= 1;
		if (strstr(line, "\"kind\":\"stop\"") != NULL)
			found |= 2;
	}
	fclose(f);
	unlink(logpath);
	assert_int_equal(found, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test_setup_teardown(test_schema_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_v1,
		    setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused,
		    setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors,
		    setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_action_lifecycle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_decisions_fold, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events_strategies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retention_chunks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_newest_json, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_startup_state, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_reader, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_close_flushes,
		    setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_log_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_man_queries_indexed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_refused,
		    setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_refused,
		    setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_bad_file_moved,
		    setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_files_adopted,
		    setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_writer_lock, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backlog_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retention_zero,
		    setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_size_cap, setup_empty,
		    teardown),
		cmocka_unit_test_setup_teardown(test_close_gives_up,
		    setup_empty, teardown),
	};

	log_init(1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
