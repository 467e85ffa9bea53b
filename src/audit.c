/*
 * audit.c -- the SQLite audit log: actions, events, strategies, decisions.
 *
 * One writer thread owns the read-write connection.  The event loop thread
 * only queues jobs (a copy of the row to write) and returns at once; the
 * writer takes every queued job, runs them in one transaction (group
 * commit), then hands the results that somebody waits for (the id of a new
 * action, the newest rows as JSON) back to the event loop through a pipe, so
 * that their callbacks run on the loop thread, after the commit.  A second,
 * read-only connection serves the start-up queries (pending rows, cooldowns,
 * verifications), which run on the loop thread before it starts.
 *
 * The schema is versioned by PRAGMA user_version and built by a table of
 * migrations, one step per version.  Every statement is a prepared one.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "meshtuned.h"

#define AUDIT_BUSY_MS		5000	/* busy_timeout of both connections */
#define AUDIT_BATCH_MAX		256	/* jobs in one transaction */
#define AUDIT_QUEUE_MAX		100000	/* queued jobs before we refuse */
#define AUDIT_RETAIN_CHUNK	1000	/* rows deleted per table and pass */
#define AUDIT_RETAIN_EVERY_S	3600	/* retention runs hourly */
#define AUDIT_WRITER_NICE	5	/* the writer thread's nice value */

/*
 * The migrations: steps[i] takes the schema from version i to i + 1.  A
 * step is never edited once released; a change is a new step.
 */
static const char *const audit_steps[AUDIT_SCHEMA_VERSION] = {
	/* 0 -> 1: the tables of DESIGN.md. */
	"CREATE TABLE actions ("
	"  id INTEGER PRIMARY KEY,"
	"  ts TEXT NOT NULL,"
	"  strategy TEXT,"
	"  kind TEXT NOT NULL CHECK (kind IN ('set','trigger','rollback')),"
	"  knob TEXT NOT NULL,"
	"  old_value REAL,"
	"  new_value REAL,"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('pending','applied','failed','dry_run','rejected')),"
	"  outcome TEXT CHECK (outcome IN ('kept','rolled_back','unverified')),"
	"  reason TEXT,"
	"  evidence TEXT,"
	"  actuator TEXT,"
	"  error TEXT,"
	"  parent_id INTEGER);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  ts TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  source TEXT,"
	"  message TEXT,"
	"  detail TEXT);"
	"CREATE TABLE strategies ("
	"  id INTEGER PRIMARY KEY,"
	"  ts TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  path TEXT,"
	"  sha256 TEXT,"
	"  abi TEXT);"
	"CREATE TABLE decisions ("
	"  id INTEGER PRIMARY KEY,"
	"  strategy TEXT NOT NULL,"
	"  knob TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  first_ts TEXT NOT NULL,"
	"  last_ts TEXT NOT NULL);",

	/* 1 -> 2: what the governor needs to verify, and the indexes. */
	"ALTER TABLE actions ADD COLUMN expect_metric TEXT;"
	"ALTER TABLE actions ADD COLUMN expect_stat TEXT;"
	"ALTER TABLE actions ADD COLUMN expect_dir INTEGER;"
	"ALTER TABLE actions ADD COLUMN baseline REAL;"
	"ALTER TABLE actions ADD COLUMN verify_s INTEGER;"
	"ALTER TABLE actions ADD COLUMN done_ts TEXT;"
	"ALTER TABLE actions ADD COLUMN outcome_ts TEXT;"
	"CREATE INDEX actions_ts ON actions (ts);"
	"CREATE INDEX actions_strategy_ts ON actions (strategy, ts);"
	"CREATE INDEX actions_status_knob ON actions (status, knob);"
	"CREATE INDEX actions_outcome ON actions (outcome)"
	"  WHERE outcome IS NOT NULL;"
	"CREATE INDEX actions_parent ON actions (parent_id)"
	"  WHERE parent_id IS NOT NULL;"
	"CREATE INDEX events_ts ON events (ts);"
	"CREATE INDEX decisions_last_ts ON decisions (last_ts);"
	"CREATE UNIQUE INDEX decisions_key ON decisions (reason, strategy, knob);",

	/* 2 -> 3: how the governor judged an action (JSON). */
	"ALTER TABLE actions ADD COLUMN verdict TEXT;",
};

/* The writer's statements, prepared once at open. */
enum {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_ACT_INSERT, ST_ACT_UPDATE, ST_ACT_OUTCOME,
	ST_EVENT, ST_STRATEGY, ST_DEC_UPDATE, ST_DEC_INSERT, ST_DEC_NAMES,
	ST_RET_ACTIONS, ST_RET_EVENTS, ST_RET_DECISIONS, ST_RET_STRATEGIES,
	ST_NEWEST,
	ST_MAX
};

#define ROW_COLS \
	"id, ts, strategy, kind, knob, old_value, new_value, status, " \
	"outcome, reason, evidence, actuator, error, parent_id, " \
	"expect_metric, expect_stat, expect_dir, baseline, verify_s, " \
	"done_ts, outcome_ts, verdict"

static const char *const audit_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_ACT_INSERT] = "INSERT INTO actions (ts, strategy, kind, knob, "
	    "old_value, new_value, status, reason, evidence, actuator, error, "
	    "parent_id, expect_metric, expect_stat, expect_dir, baseline, "
	    "verify_s, done_ts, verdict) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
	[ST_ACT_UPDATE] = "UPDATE actions SET status = ?2, "
	    "new_value = coalesce(?3, new_value), error = ?4, done_ts = ?5 "
	    "WHERE id = ?1 AND status = 'pending'",
	[ST_ACT_OUTCOME] = "UPDATE actions SET outcome = ?2, outcome_ts = ?3, "
	    "verdict = coalesce(?4, verdict) "
	    "WHERE id = ?1 AND status = 'applied' AND outcome IS NULL",
	[ST_EVENT] = "INSERT INTO events (ts, kind, source, message, detail) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_STRATEGY] = "INSERT INTO strategies (ts, name, path, sha256, abi) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_DEC_UPDATE] = "UPDATE decisions SET count = count + 1, "
	    "last_ts = ?4 WHERE reason = ?3 AND strategy = ?1 AND knob = ?2",
	[ST_DEC_INSERT] = "INSERT INTO decisions (strategy, knob, reason, "
	    "count, first_ts, last_ts) VALUES (?1, ?2, ?3, 1, ?4, ?4)",
	[ST_DEC_NAMES] = "SELECT count(*) FROM decisions WHERE reason = ?3 "
	    "AND strategy = ?1 AND knob <> ?2",
	[ST_RET_ACTIONS] = "DELETE FROM actions WHERE id IN (SELECT id FROM "
	    "actions WHERE ts < ?1 AND status <> 'pending' LIMIT ?2)",
	[ST_RET_EVENTS] = "DELETE FROM events WHERE id IN (SELECT id FROM "
	    "events WHERE ts < ?1 LIMIT ?2)",
	[ST_RET_DECISIONS] = "DELETE FROM decisions WHERE id IN (SELECT id "
	    "FROM decisions WHERE last_ts < ?1 LIMIT ?2)",
	[ST_RET_STRATEGIES] = "DELETE FROM strategies WHERE id IN (SELECT id "
	    "FROM strategies WHERE ts < ?1 LIMIT ?2)",
	[ST_NEWEST] = "SELECT " ROW_COLS " FROM actions "
	    "ORDER BY id DESC LIMIT ?1",
};

static const char *const audit_kinds[] = {
	[AUDIT_SET] = "set", [AUDIT_TRIGGER] = "trigger",
	[AUDIT_ROLLBACK] = "rollback",
};
static const char *const audit_statuses[] = {
	[AUDIT_PENDING] = "pending", [AUDIT_APPLIED] = "applied",
	[AUDIT_FAILED] = "failed", [AUDIT_DRY_RUN] = "dry_run",
	[AUDIT_REJECTED] = "rejected",
};
static const char *const audit_outcomes[] = {
	[AUDIT_OUTCOME_NONE] = NULL, [AUDIT_KEPT] = "kept",
	[AUDIT_ROLLED_BACK] = "rolled_back", [AUDIT_UNVERIFIED] = "unverified",
};

enum job_type {
	JOB_ACTION, JOB_UPDATE, JOB_OUTCOME, JOB_RECONCILE, JOB_EVENT,
	JOB_STRATEGY, JOB_DECISION, JOB_RETENTION, JOB_NEWEST, JOB_SYNC
};

/*
 * One unit of work for the writer.  Strings are owned copies; which fields
 * mean what depends on the type (see the audit_* functions that fill them).
 */
struct job {
	enum job_type		 type;
	char			 ts[AUDIT_TS_LEN];
	int64_t			 id;		/* target, or the new row */
	int			 kind, status, outcome;
	double			 old_value, new_value, baseline;
	int64_t			 parent_id;
	int			 expect_dir, verify_s, limit;
	char			*strategy, *knob, *reason, *evidence;
	char			*actuator, *error, *metric, *stat;
	char			*verdict;	/* action, outcome */
	char			*s1, *s2, *s3, *s4;	/* event, strategy */
	int64_t			 removed;	/* retention: rows so far */
	int			 more;		/* retention: not finished */
	int			 rc;		/* 0 done, -1 failed */
	char			*json;		/* JOB_NEWEST: the answer */
	int			 synced;	/* JOB_SYNC: reached */
	audit_id_cb		 id_cb;
	audit_json_cb		 json_cb;
	void			*arg;
	TAILQ_ENTRY(job)	 entry;
};
TAILQ_HEAD(jobq, job);

struct audit {
	char			*path;
	int			 retention_days;
	sqlite3			*db;		/* writer thread only */
	sqlite3			*rdb;		/* loop thread: start-up reads */
	sqlite3_stmt		*st[ST_MAX];
	struct event_base	*base;
	struct event		*ev_wake;
	struct event		*ev_retain;
	int			 wake[2];	/* writer -> loop pipe */
	pthread_t		 thread;

	pthread_mutex_t		 mtx;		/* guards all below */
	pthread_cond_t		 cond;		/* work queued, or stopping */
	pthread_cond_t		 sync_cond;	/* a JOB_SYNC was reached */
	struct jobq		 queue;		/* loop -> writer */
	struct jobq		 done;		/* writer -> loop callbacks */
	int			 stopping;
	struct audit_stats	 stats;
};

static void	 job_free(struct job *);
static char	*dupnull(const char *);
static int	 set_err(char *, size_t, const char *, ...)
		    __printflike(3, 4);
static int	 db_step_all(sqlite3 *, const char *);
static int	 db_user_version(sqlite3 *, int *);
static int	 db_migrate(struct audit *, char *, size_t);
static int	 db_pragma_text(sqlite3 *, const char *, char *, size_t);
static int	 bind_text(sqlite3_stmt *, int, const char *);
static int	 bind_real(sqlite3_stmt *, int, double);
static int	 st_done(struct audit *, int);
static int	 job_exec(struct audit *, struct job *);
static void	 job_log(struct job *);
static void	 worker_batch(struct audit *, struct jobq *);
static void	*worker_main(void *);
static int	 submit(struct audit *, struct job *);
static void	 deliver(struct audit *);
static void	 wake_cb(evutil_socket_t, short, void *);
static void	 retain_cb(evutil_socket_t, short, void *);
static cJSON	*json_text(const char *);
static char	*rows_json(sqlite3_stmt *);
static int	 rows_read(struct audit *, const char *, int, uint64_t,
		    struct audit_row **, size_t *);

/* The name of a kind ("set"), or NULL if out of range. */
const char *
audit_kind_name(enum audit_kind k)
{
	if ((unsigned)k >= nitems(audit_kinds))
		return NULL;
	return audit_kinds[k];
}

/* The name of a status ("pending"), or NULL if out of range. */
const char *
audit_status_name(enum audit_status s)
{
	if ((unsigned)s >= nitems(audit_statuses))
		return NULL;
	return audit_statuses[s];
}

/* The name of an outcome ("kept"); NULL for AUDIT_OUTCOME_NONE or junk. */
const char *
audit_outcome_name(enum audit_outcome o)
{
	if ((unsigned)o >= nitems(audit_outcomes))
		return NULL;
	return audit_outcomes[o];
}

static int
name_lookup(const char *const *names, size_t n, const char *s)
{
	size_t	i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/*
 * Write wall-clock milliseconds as the audit log's timestamp,
 * "2026-11-22T17:05:07.123Z", into buf (at least AUDIT_TS_LEN bytes).
 * Returns 0, or -1 if the time cannot be represented or buf is too small.
 */
int
audit_format_ts(uint64_t ms, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);
	int		n;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return -1;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

/*
 * Parse an audit timestamp (exactly the format audit_format_ts writes) into
 * wall-clock milliseconds.  Returns 0, or -1 if s is malformed.
 */
int
audit_parse_ts(const char *s, uint64_t *ms)
{
	struct tm	tm;
	time_t		t;
	int		y, mo, d, h, mi, sec, frac, n = 0;

	if (s == NULL || strlen(s) != AUDIT_TS_LEN - 1)
		return -1;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%n", &y, &mo, &d, &h, &mi,
	    &sec, &frac, &n) != 7 || n != AUDIT_TS_LEN - 2 || s[n] != 'Z')
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 || frac < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1 || t < 0)
		return -1;
	*ms = (uint64_t)t * 1000 + (uint64_t)frac;
	return 0;
}

static void
now_ts(char *buf)
{
	if (audit_format_ts(clock_wall_ms(), buf, AUDIT_TS_LEN) == -1)
		fatalx("audit: the clock is out of range");
}

static char *
dupnull(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

static int
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* "unable to open database file (No such file or directory)" */
static const char *
db_msg(sqlite3 *db, char *buf, size_t len)
{
	int	e;

	if (db == NULL)
		return "out of memory";
	e = sqlite3_system_errno(db);
	if (e != 0)
		snprintf(buf, len, "%s (%s)", sqlite3_errmsg(db), strerror(e));
	else
		snprintf(buf, len, "%s", sqlite3_errmsg(db));
	return buf;
}

/* Prepare and run every statement of sql, throwing rows away. */
static int
db_step_all(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	const char	*tail = sql;
	int		 rc;

	while (*tail != '\0') {
		if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK)
			return -1;
		if (st == NULL)		/* white space or a comment */
			continue;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/* Run a pragma that answers one text value (journal_mode). */
static int
db_pragma_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt		*st;
	const unsigned char	*v;
	int			 rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (v = sqlite3_column_text(st, 0)) != NULL) {
		snprintf(out, len, "%s", (const char *)v);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
db_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt	*st;
	int		 rc = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Bring the schema up to AUDIT_SCHEMA_VERSION, one step per transaction. */
static int
db_migrate(struct audit *a, char *err, size_t errlen)
{
	char	 msg[512], sql[64];
	int	 v, from;

	if (db_step_all(a->db, "BEGIN IMMEDIATE") == -1 ||
	    db_user_version(a->db, &from) == -1 ||
	    db_step_all(a->db, "COMMIT") == -1)
		return set_err(err, errlen, "audit: %s: reading the schema "
		    "version: %s", a->path, db_msg(a->db, msg, sizeof(msg)));
	if (from < 0 || from > AUDIT_SCHEMA_VERSION)
		return set_err(err, errlen, "audit: %s: schema version %d is "
		    "not one this meshtuned knows (0 to %d)", a->path, from,
		    AUDIT_SCHEMA_VERSION);
	for (v = from; v < AUDIT_SCHEMA_VERSION; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (db_step_all(a->db, "BEGIN IMMEDIATE") == -1)
			goto fail;
		if (db_step_all(a->db, audit_steps[v]) == -1 ||
		    db_step_all(a->db, sql) == -1) {
			db_msg(a->db, msg, sizeof(msg));
			db_step_all(a->db, "ROLLBACK");
			return set_err(err, errlen, "audit: %s: migrating the "
			    "schema from version %d to %d: %s", a->path, v,
			    v + 1, msg);
		}
		if (db_step_all(a->db, "COMMIT") == -1)
			goto fail;
	}
	if (from != AUDIT_SCHEMA_VERSION)
		log_info("audit: %s: schema version %d -> %d", a->path, from,
		    AUDIT_SCHEMA_VERSION);
	return 0;

fail:
	db_msg(a->db, msg, sizeof(msg));
	db_step_all(a->db, "ROLLBACK");
	return set_err(err, errlen, "audit: %s: migrating the schema: %s",
	    a->path, msg);
}

static int
db_open(const char *path, int flags, sqlite3 **dbp, char *err, size_t errlen)
{
	char	msg[512];

	*dbp = NULL;
	if (sqlite3_open_v2(path, dbp, flags, NULL) != SQLITE_OK) {
		db_msg(*dbp, msg, sizeof(msg));
		sqlite3_close(*dbp);
		*dbp = NULL;
		return set_err(err, errlen, "audit: %s: cannot open: %s",
		    path, msg);
	}
	sqlite3_extended_result_codes(*dbp, 1);
	if (sqlite3_busy_timeout(*dbp, AUDIT_BUSY_MS) != SQLITE_OK) {
		db_msg(*dbp, msg, sizeof(msg));
		sqlite3_close(*dbp);
		*dbp = NULL;
		return set_err(err, errlen, "audit: %s: busy_timeout: %s",
		    path, msg);
	}
	return 0;
}

/*
 * Open (creating it if needed) the audit log at path, in WAL mode, and
 * bring its schema to AUDIT_SCHEMA_VERSION.  Starts the writer thread and
 * adds two events to base: the writer's wake-up and an hourly retention
 * timer that deletes rows older than retention_days (0 keeps everything).
 * Blocks; call it at start-up.  The parent directory must exist.
 * Returns the handle, or NULL with a message naming the path and the SQLite
 * error in err.  audit_close frees it.
 */
struct audit *
audit_open(struct event_base *base, const char *path, int retention_days,
    char *err, size_t errlen)
{
	struct audit	*a;
	struct timeval	 tv = { AUDIT_RETAIN_EVERY_S, 0 };
	char		 msg[512], mode[32];
	int		 i, e;

	if (base == NULL || path == NULL || *path == '\0') {
		set_err(err, errlen, "audit: no event base or path");
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	a->path = xstrdup(path);
	a->base = base;
	a->retention_days = retention_days > 0 ? retention_days : 0;
	a->wake[0] = a->wake[1] = -1;
	TAILQ_INIT(&a->queue);
	TAILQ_INIT(&a->done);

	if (db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &a->db,
	    err, errlen) == -1)
		goto fail;
	if (db_pragma_text(a->db, "PRAGMA journal_mode = WAL", mode,
	    sizeof(mode)) == -1) {
		set_err(err, errlen, "audit: %s: setting WAL mode: %s", path,
		    db_msg(a->db, msg, sizeof(msg)));
		goto fail;
	}
	if (strcmp(mode, "wal") != 0) {
		set_err(err, errlen, "audit: %s: WAL mode refused (journal "
		    "mode is %s)", path, mode);
		goto fail;
	}
	/* FULL: a commit (the pending row) survives a power cut too. */
	if (db_step_all(a->db, "PRAGMA synchronous = FULL") == -1) {
		set_err(err, errlen, "audit: %s: synchronous: %s", path,
		    db_msg(a->db, msg, sizeof(msg)));
		goto fail;
	}
	if (db_migrate(a, err, errlen) == -1)
		goto fail;
	for (i = 0; i < ST_MAX; i++) {
		if (sqlite3_prepare_v3(a->db, audit_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &a->st[i], NULL) != SQLITE_OK) {
			set_err(err, errlen, "audit: %s: preparing \"%s\": %s",
			    path, audit_sql[i], db_msg(a->db, msg,
			    sizeof(msg)));
			goto fail;
		}
	}
	if (db_open(path, SQLITE_OPEN_READONLY, &a->rdb, err, errlen) == -1)
		goto fail;

	if (pipe2(a->wake, O_NONBLOCK | O_CLOEXEC) == -1) {
		set_err(err, errlen, "audit: pipe2: %s", strerror(errno));
		goto fail;
	}
	a->ev_wake = event_new(base, a->wake[0], EV_READ | EV_PERSIST,
	    wake_cb, a);
	if (a->ev_wake == NULL || event_add(a->ev_wake, NULL) == -1) {
		set_err(err, errlen, "audit: cannot add the wake-up event");
		goto fail;
	}
	if (a->retention_days > 0) {
		a->ev_retain = event_new(base, -1, EV_PERSIST, retain_cb, a);
		if (a->ev_retain == NULL ||
		    event_add(a->ev_retain, &tv) == -1) {
			set_err(err, errlen, "audit: cannot add the retention "
			    "timer");
			goto fail;
		}
	}

	if (pthread_mutex_init(&a->mtx, NULL) != 0 ||
	    pthread_cond_init(&a->cond, NULL) != 0 ||
	    pthread_cond_init(&a->sync_cond, NULL) != 0)
		fatalx("audit: cannot initialise a mutex");
	if ((e = pthread_create(&a->thread, NULL, worker_main, a)) != 0) {
		set_err(err, errlen, "audit: pthread_create: %s",
		    strerror(e));
		pthread_mutex_destroy(&a->mtx);
		pthread_cond_destroy(&a->cond);
		pthread_cond_destroy(&a->sync_cond);
		goto fail;
	}
	log_info("audit: %s: open, schema version %d, retention %d days",
	    path, AUDIT_SCHEMA_VERSION, a->retention_days);
	if (a->retention_days > 0)
		audit_retention(a, clock_wall_ms());
	return a;

fail:
	if (a->ev_retain != NULL)
		event_free(a->ev_retain);
	if (a->ev_wake != NULL)
		event_free(a->ev_wake);
	for (i = 0; i < 2; i++)
		if (a->wake[i] != -1)
			close(a->wake[i]);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(a->st[i]);
	sqlite3_close(a->rdb);
	sqlite3_close(a->db);
	free(a->path);
	free(a);
	return NULL;
}

/*
 * Flush and close: refuse new work, let the writer commit everything queued,
 * join it, run the callbacks still owed (on the caller's thread, which must
 * be the event loop thread), and close the database.  Safe with NULL.
 */
void
audit_close(struct audit *a)
{
	struct job	*j;
	int		 i;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mtx);
	a->stopping = 1;
	pthread_cond_broadcast(&a->cond);
	pthread_cond_broadcast(&a->sync_cond);
	pthread_mutex_unlock(&a->mtx);
	if (pthread_join(a->thread, NULL) != 0)
		fatalx("audit: cannot join the writer thread");
	deliver(a);
	while ((j = TAILQ_FIRST(&a->queue)) != NULL) {	/* not reached */
		TAILQ_REMOVE(&a->queue, j, entry);
		job_free(j);
	}

	if (a->ev_retain != NULL)
		event_free(a->ev_retain);
	event_free(a->ev_wake);
	close(a->wake[0]);
	close(a->wake[1]);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(a->st[i]);
	sqlite3_close(a->rdb);
	if (sqlite3_close(a->db) != SQLITE_OK)
		log_warnx("audit: %s: close: %s", a->path,
		    sqlite3_errmsg(a->db));
	pthread_mutex_destroy(&a->mtx);
	pthread_cond_destroy(&a->cond);
	pthread_cond_destroy(&a->sync_cond);
	log_info("audit: %s: closed", a->path);
	free(a->path);
	free(a);
}

/* Counters for /v1/status and tests; a consistent copy. */
void
audit_get_stats(struct audit *a, struct audit_stats *s)
{
	pthread_mutex_lock(&a->mtx);
	*s = a->stats;
	pthread_mutex_unlock(&a->mtx);
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->strategy);
	free(j->knob);
	free(j->reason);
	free(j->evidence);
	free(j->actuator);
	free(j->error);
	free(j->metric);
	free(j->stat);
	free(j->verdict);
	free(j->s1);
	free(j->s2);
	free(j->s3);
	free(j->s4);
	if (j->json != NULL)
		cJSON_free(j->json);
	free(j);
}

static struct job *
job_new(enum job_type type)
{
	struct job	*j;

	j = xcalloc(1, sizeof(*j));
	j->type = type;
	j->old_value = j->new_value = j->baseline = NAN;
	now_ts(j->ts);
	return j;
}

/* Queue j for the writer; never blocks on the database. */
static int
submit(struct audit *a, struct job *j)
{
	uint64_t	dropped;

	pthread_mutex_lock(&a->mtx);
	if (a->stopping || a->stats.queued >= AUDIT_QUEUE_MAX) {
		dropped = ++a->stats.dropped;
		pthread_mutex_unlock(&a->mtx);
		if ((dropped & (dropped - 1)) == 0)	/* 1, 2, 4, 8... */
			log_warnx("audit: %s: %s: %" PRIu64 " writes refused",
			    a->path, a->stopping ? "closing" : "queue full",
			    dropped);
		job_free(j);
		return -1;
	}
	TAILQ_INSERT_TAIL(&a->queue, j, entry);
	a->stats.queued++;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mtx);
	return 0;
}

/*
 * Queue a new action row.  Every string in act is copied.  Once the row is
 * committed, cb(id, arg) runs on the event loop thread with its id (so an
 * AUDIT_PENDING row is durable before the caller runs the actuator), or
 * with -1 if SQLite refused it.  cb may be NULL.  Returns 0 when queued,
 * -1 (cb is not called) if act is invalid, the queue is full or the log is
 * closing.
 */
int
audit_action_begin(struct audit *a, const struct audit_action *act,
    audit_id_cb cb, void *arg)
{
	struct job	*j;

	if (act == NULL || act->knob == NULL ||
	    audit_kind_name(act->kind) == NULL ||
	    audit_status_name(act->status) == NULL) {
		log_warnx("audit: action_begin: invalid action");
		return -1;
	}
	j = job_new(JOB_ACTION);
	j->kind = act->kind;
	j->status = act->status;
	j->old_value = act->old_value;
	j->new_value = act->new_value;
	j->baseline = act->baseline;
	j->parent_id = act->parent_id;
	j->expect_dir = act->expect_dir;
	j->verify_s = act->verify_s;
	j->strategy = dupnull(act->strategy);
	j->knob = xstrdup(act->knob);
	j->reason = dupnull(act->reason);
	j->evidence = dupnull(act->evidence);
	j->actuator = dupnull(act->actuator);
	j->error = dupnull(act->error);
	j->metric = dupnull(act->expect_metric);
	j->stat = dupnull(act->expect_stat);
	j->verdict = dupnull(act->verdict);
	j->id_cb = cb;
	j->arg = arg;
	return submit(a, j);
}

static int
update_job(struct audit *a, enum job_type type, int64_t id,
    enum audit_status status, double value, const char *text)
{
	struct job	*j;

	if (id <= 0 || (status != AUDIT_APPLIED && status != AUDIT_FAILED &&
	    (status != AUDIT_REJECTED || type != JOB_UPDATE))) {
		log_warnx("audit: action %" PRId64 ": invalid update", id);
		return -1;
	}
	j = job_new(type);
	j->id = id;
	j->status = status;
	j->new_value = value;
	j->error = dupnull(text);
	return submit(a, j);
}

/*
 * Record what the actuator did with action id, which must be pending:
 * status AUDIT_APPLIED or AUDIT_FAILED (or AUDIT_REJECTED: the governor
 * refused it after all, error saying why), the value read back (NAN keeps
 * new_value as it was) and the error (NULL if none).  The time is now.
 * Returns 0 when queued, -1 on a bad argument or a full/closing queue.
 */
int
audit_action_update(struct audit *a, int64_t id, enum audit_status status,
    double value, const char *error)
{
	return update_job(a, JOB_UPDATE, id, status, value, error);
}

/*
 * Record the verification outcome of an applied action, once.  Returns 0
 * when queued, -1 on a bad argument or a full/closing queue.
 */
int
audit_action_outcome(struct audit *a, int64_t id, enum audit_outcome outcome)
{
	struct job	*j;

	if (id <= 0 || audit_outcome_name(outcome) == NULL) {
		log_warnx("audit: action %" PRId64 ": invalid outcome", id);
		return -1;
	}
	j = job_new(JOB_OUTCOME);
	j->id = id;
	j->outcome = outcome;
	return submit(a, j);
}

/*
 * Record the outcome of an applied action, once, with the governor's
 * verdict (JSON text: which check decided, see meshtune-audit(5)); a NULL
 * verdict keeps the one stored.  Returns 0 when queued, -1 on a bad
 * argument or a full/closing queue.
 */
int
audit_action_judged(struct audit *a, int64_t id, enum audit_outcome outcome,
    const char *verdict)
{
	struct job	*j;

	if (id <= 0 || audit_outcome_name(outcome) == NULL) {
		log_warnx("audit: action %" PRId64 ": invalid outcome", id);
		return -1;
	}
	j = job_new(JOB_OUTCOME);
	j->id = id;
	j->outcome = outcome;
	j->verdict = dupnull(verdict);
	return submit(a, j);
}

/*
 * Crash reconciliation: a row left pending by the previous run (see
 * audit_pending) is marked AUDIT_APPLIED or AUDIT_FAILED, after the caller
 * has read the knob back (value: what it reads, NAN if unknown; new_value
 * is not changed), and an event of kind "reconcile" records it, note
 * (required) saying what was found.  Both in one transaction.  Returns 0
 * when queued, -1 otherwise.
 */
int
audit_reconcile(struct audit *a, int64_t id, enum audit_status status,
    double value, const char *note)
{
	if (note == NULL)
		return -1;
	return update_job(a, JOB_RECONCILE, id, status, value, note);
}

/*
 * Queue an events row: kind ("start", "stop", "reload", "plugin_error",
 * "plugin_disabled", "actuator_fault", "manual_change", "reconcile"...),
 * the source (module or plugin), a message for people and detail (JSON
 * text, or NULL).  Returns 0 when queued, -1 otherwise.
 */
int
audit_event(struct audit *a, const char *kind, const char *source,
    const char *message, const char *detail)
{
	struct job	*j;

	if (kind == NULL)
		return -1;
	j = job_new(JOB_EVENT);
	j->s1 = xstrdup(kind);
	j->s2 = dupnull(source);
	j->s3 = dupnull(message);
	j->s4 = dupnull(detail);
	return submit(a, j);
}

/*
 * Queue a strategies row for a module just loaded: instance name, path of
 * the .so, its SHA-256 in hex and the ABI it was built for ("1.0").
 * Returns 0 when queued, -1 otherwise.
 */
int
audit_strategy(struct audit *a, const char *name, const char *path,
    const char *sha256, const char *abi)
{
	struct job	*j;

	if (name == NULL)
		return -1;
	j = job_new(JOB_STRATEGY);
	j->s1 = xstrdup(name);
	j->s2 = dupnull(path);
	j->s3 = dupnull(sha256);
	j->s4 = dupnull(abi);
	return submit(a, j);
}

/*
 * Count one refusal by the governor: the decisions row for (strategy, knob,
 * reason code) gets count + 1 and last_ts now, or is created with count 1.
 * knob may be NULL (stored as "").  Returns 0 when queued, -1 otherwise.
 */
int
audit_decision(struct audit *a, const char *strategy, const char *knob,
    const char *reason)
{
	return audit_decision_capped(a, strategy, knob, reason, 0);
}

/*
 * As audit_decision, with at most cap knob names (0: no limit) having a
 * row of their own per (strategy, reason): past that, a refusal of a name
 * without a row counts in the row of knob AUDIT_DECISION_OTHERS.
 */
int
audit_decision_capped(struct audit *a, const char *strategy,
    const char *knob, const char *reason, int cap)
{
	struct job	*j;

	if (strategy == NULL || reason == NULL || cap < 0)
		return -1;
	j = job_new(JOB_DECISION);
	j->strategy = xstrdup(strategy);
	j->knob = xstrdup(knob == NULL ? "" : knob);
	j->reason = xstrdup(reason);
	j->limit = cap;
	return submit(a, j);
}

/*
 * Queue a retention pass: delete rows older than retention_days before
 * now_ms (wall clock), in chunks so that other writes are not held up;
 * pending actions are kept.  audit_open queues one and repeats it hourly.
 * Returns 0 when queued or when retention is off, -1 otherwise.
 */
int
audit_retention(struct audit *a, uint64_t now_ms)
{
	struct job	*j;
	uint64_t	 keep;

	if (a->retention_days <= 0)
		return 0;
	keep = (uint64_t)a->retention_days * 86400 * 1000;
	j = job_new(JOB_RETENTION);
	if (audit_format_ts(now_ms > keep ? now_ms - keep : 0, j->ts,
	    sizeof(j->ts)) == -1) {
		job_free(j);
		return -1;
	}
	return submit(a, j);
}

/*
 * The newest limit actions (1 to AUDIT_LIMIT_MAX; more is clamped), newest
 * first, as a JSON array of objects named by column, for GET /v1/actions.
 * The writer thread runs the query after the writes queued before it;
 * cb(json, arg) runs on the event loop thread, json valid only during the
 * call, or NULL on error.  Returns 0 when queued, -1 (cb not called)
 * otherwise.
 */
int
audit_actions_json(struct audit *a, int limit, audit_json_cb cb, void *arg)
{
	struct job	*j;

	if (limit <= 0 || cb == NULL)
		return -1;
	j = job_new(JOB_NEWEST);
	j->limit = limit > AUDIT_LIMIT_MAX ? AUDIT_LIMIT_MAX : limit;
	j->json_cb = cb;
	j->arg = arg;
	return submit(a, j);
}

/*
 * Wait until every write queued before this call is committed.  Blocks:
 * for start-up (before the start-up queries), shutdown and tests, never
 * on a running event loop.  Returns 0, or -1 if the log is closing.
 */
int
audit_sync(struct audit *a)
{
	struct job	*j;
	int		 rc;

	j = job_new(JOB_SYNC);
	pthread_mutex_lock(&a->mtx);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mtx);
		job_free(j);
		return -1;
	}
	TAILQ_INSERT_TAIL(&a->queue, j, entry);
	a->stats.queued++;
	pthread_cond_signal(&a->cond);
	while (!j->synced)
		pthread_cond_wait(&a->sync_cond, &a->mtx);
	rc = j->rc;
	pthread_mutex_unlock(&a->mtx);
	job_free(j);
	return rc;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int
bind_real(sqlite3_stmt *st, int i, double v)
{
	if (isnan(v) || isinf(v))
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_double(st, i, v);
}

/* Step a writer statement to its end and reset it; -1 on an error. */
static int
st_done(struct audit *a, int which)
{
	sqlite3_stmt	*st = a->st[which];
	char		 msg[512];
	int		 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("audit: %s: %s: %s", a->path, audit_sql[which],
		    db_msg(a->db, msg, sizeof(msg)));
		return -1;
	}
	return 0;
}

/* An error while binding: log it, clear the statement. */
static int
bind_fail(struct audit *a, int which)
{
	char	msg[512];

	log_warnx("audit: %s: binding %s: %s", a->path, audit_sql[which],
	    db_msg(a->db, msg, sizeof(msg)));
	sqlite3_reset(a->st[which]);
	sqlite3_clear_bindings(a->st[which]);
	return -1;
}

/* Valid JSON text stays; anything else is stored as a JSON string. */
static char *
json_normal(char *text)
{
	cJSON	*j;
	char	*out;

	if (text == NULL || (j = cJSON_Parse(text)) != NULL) {
		if (text != NULL)
			cJSON_Delete(j);
		return text;
	}
	if ((j = cJSON_CreateString(text)) == NULL ||
	    (out = cJSON_PrintUnformatted(j)) == NULL)
		fatalx("audit: out of memory");
	cJSON_Delete(j);
	free(text);
	text = xstrdup(out);
	cJSON_free(out);
	return text;
}

static int
exec_action(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st = a->st[ST_ACT_INSERT];
	int		 rc = 0;

	j->evidence = json_normal(j->evidence);
	rc |= sqlite3_bind_text(st, 1, j->ts, -1, SQLITE_STATIC);
	rc |= bind_text(st, 2, j->strategy);
	rc |= bind_text(st, 3, audit_kinds[j->kind]);
	rc |= bind_text(st, 4, j->knob);
	rc |= bind_real(st, 5, j->old_value);
	rc |= bind_real(st, 6, j->new_value);
	rc |= bind_text(st, 7, audit_statuses[j->status]);
	rc |= bind_text(st, 8, j->reason);
	rc |= bind_text(st, 9, j->evidence);
	rc |= bind_text(st, 10, j->actuator);
	rc |= bind_text(st, 11, j->error);
	rc |= j->parent_id > 0 ? sqlite3_bind_int64(st, 12, j->parent_id) :
	    sqlite3_bind_null(st, 12);
	rc |= bind_text(st, 13, j->metric);
	rc |= bind_text(st, 14, j->stat);
	rc |= j->metric != NULL ? sqlite3_bind_int(st, 15, j->expect_dir) :
	    sqlite3_bind_null(st, 15);
	rc |= bind_real(st, 16, j->baseline);
	rc |= j->verify_s > 0 ? sqlite3_bind_int(st, 17, j->verify_s) :
	    sqlite3_bind_null(st, 17);
	rc |= bind_text(st, 18, j->status == AUDIT_PENDING ? NULL : j->ts);
	j->verdict = json_normal(j->verdict);
	rc |= bind_text(st, 19, j->verdict);
	if (rc != SQLITE_OK)
		return bind_fail(a, ST_ACT_INSERT);
	if (st_done(a, ST_ACT_INSERT) == -1)
		return -1;
	j->id = sqlite3_last_insert_rowid(a->db);
	return 0;
}

static int
exec_update(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st = a->st[ST_ACT_UPDATE];
	int		 rc = 0;

	rc |= sqlite3_bind_int64(st, 1, j->id);
	rc |= bind_text(st, 2, audit_statuses[j->status]);
	rc |= bind_real(st, 3, j->type == JOB_RECONCILE ? NAN : j->new_value);
	rc |= bind_text(st, 4, j->error);
	rc |= sqlite3_bind_text(st, 5, j->ts, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		return bind_fail(a, ST_ACT_UPDATE);
	if (st_done(a, ST_ACT_UPDATE) == -1)
		return -1;
	if (sqlite3_changes(a->db) != 1) {
		log_warnx("audit: action %" PRId64 " is not pending: "
		    "update to %s ignored", j->id, audit_statuses[j->status]);
		return -1;
	}
	return 0;
}

static int
exec_event(struct audit *a, const char *ts, const char *kind,
    const char *source, const char *message, const char *detail)
{
	sqlite3_stmt	*st = a->st[ST_EVENT];
	int		 rc = 0;

	rc |= sqlite3_bind_text(st, 1, ts, -1, SQLITE_STATIC);
	rc |= bind_text(st, 2, kind);
	rc |= bind_text(st, 3, source);
	rc |= bind_text(st, 4, message);
	rc |= bind_text(st, 5, detail);
	if (rc != SQLITE_OK)
		return bind_fail(a, ST_EVENT);
	return st_done(a, ST_EVENT);
}

static int
exec_reconcile(struct audit *a, struct job *j)
{
	char	*msg, *detail;
	cJSON	*d;
	int	 rc;

	if (exec_update(a, j) == -1)
		return -1;
	xasprintf(&msg, "action %" PRId64 " left pending by the previous "
	    "run: %s: %s", j->id, audit_statuses[j->status], j->error);
	if ((d = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(d, "id", (double)j->id) == NULL ||
	    cJSON_AddStringToObject(d, "status",
	    audit_statuses[j->status]) == NULL ||
	    (isnan(j->new_value) ?
	    cJSON_AddNullToObject(d, "read_back") :
	    cJSON_AddNumberToObject(d, "read_back", j->new_value)) == NULL ||
	    (detail = cJSON_PrintUnformatted(d)) == NULL)
		fatalx("audit: out of memory");
	cJSON_Delete(d);
	rc = exec_event(a, j->ts, "reconcile", "audit", msg, detail);
	/* Keep them for the log line. */
	free(j->s3);
	j->s3 = msg;
	free(j->s4);
	j->s4 = xstrdup(detail);
	cJSON_free(detail);
	return rc;
}

/* Rows of (strategy, reason) other than the overflow row; -1 on error. */
static int
decision_names(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st = a->st[ST_DEC_NAMES];
	int		 n = -1;

	if (bind_text(st, 1, j->strategy) != SQLITE_OK ||
	    bind_text(st, 2, AUDIT_DECISION_OTHERS) != SQLITE_OK ||
	    bind_text(st, 3, j->reason) != SQLITE_OK)
		return bind_fail(a, ST_DEC_NAMES);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return n;
}

static int
exec_decision(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st;
	int		 i, which, rc, n;

	for (i = 0; i < 2; i++) {
		which = i == 0 ? ST_DEC_UPDATE : ST_DEC_INSERT;
		/* A new name past the cap counts with the others. */
		if (i == 1 && j->limit > 0 && strcmp(j->knob,
		    AUDIT_DECISION_OTHERS) != 0) {
			if ((n = decision_names(a, j)) == -1)
				return -1;
			if (n >= j->limit) {
				free(j->knob);
				j->knob = xstrdup(AUDIT_DECISION_OTHERS);
				i = -1;
				continue;
			}
		}
		st = a->st[which];
		rc = 0;
		rc |= bind_text(st, 1, j->strategy);
		rc |= bind_text(st, 2, j->knob);
		rc |= bind_text(st, 3, j->reason);
		rc |= sqlite3_bind_text(st, 4, j->ts, -1, SQLITE_STATIC);
		if (rc != SQLITE_OK)
			return bind_fail(a, which);
		if (st_done(a, which) == -1)
			return -1;
		if (sqlite3_changes(a->db) == 1)
			return 0;
	}
	return -1;
}

static int
exec_retention(struct audit *a, struct job *j)
{
	static const int	 which[] = { ST_RET_ACTIONS, ST_RET_EVENTS,
				    ST_RET_DECISIONS, ST_RET_STRATEGIES };
	size_t			 i;
	int			 n;

	j->more = 0;
	for (i = 0; i < nitems(which); i++) {
		if (sqlite3_bind_text(a->st[which[i]], 1, j->ts, -1,
		    SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int(a->st[which[i]], 2,
		    AUDIT_RETAIN_CHUNK) != SQLITE_OK)
			return bind_fail(a, which[i]);
		if (st_done(a, which[i]) == -1)
			return -1;
		n = sqlite3_changes(a->db);
		j->removed += n;
		if (n == AUDIT_RETAIN_CHUNK)
			j->more = 1;
	}
	return 0;
}

static int
exec_newest(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st = a->st[ST_NEWEST];

	if (sqlite3_bind_int(st, 1, j->limit) != SQLITE_OK)
		return bind_fail(a, ST_NEWEST);
	j->json = rows_json(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (j->json == NULL) {
		log_warnx("audit: %s: reading the newest actions: %s",
		    a->path, sqlite3_errmsg(a->db));
		return -1;
	}
	return 0;
}

/* Run one job inside the current transaction. */
static int
job_exec(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st;
	int		 rc = 0;

	switch (j->type) {
	case JOB_ACTION:
		return exec_action(a, j);
	case JOB_UPDATE:
		return exec_update(a, j);
	case JOB_OUTCOME:
		st = a->st[ST_ACT_OUTCOME];
		rc |= sqlite3_bind_int64(st, 1, j->id);
		rc |= bind_text(st, 2, audit_outcomes[j->outcome]);
		rc |= sqlite3_bind_text(st, 3, j->ts, -1, SQLITE_STATIC);
		j->verdict = json_normal(j->verdict);
		rc |= bind_text(st, 4, j->verdict);
		if (rc != SQLITE_OK)
			return bind_fail(a, ST_ACT_OUTCOME);
		if (st_done(a, ST_ACT_OUTCOME) == -1)
			return -1;
		if (sqlite3_changes(a->db) != 1) {
			log_warnx("audit: action %" PRId64 " is not applied "
			    "or has an outcome: %s ignored", j->id,
			    audit_outcomes[j->outcome]);
			return -1;
		}
		return 0;
	case JOB_RECONCILE:
		return exec_reconcile(a, j);
	case JOB_EVENT:
		j->s4 = json_normal(j->s4);
		return exec_event(a, j->ts, j->s1, j->s2, j->s3, j->s4);
	case JOB_STRATEGY:
		st = a->st[ST_STRATEGY];
		rc |= sqlite3_bind_text(st, 1, j->ts, -1, SQLITE_STATIC);
		rc |= bind_text(st, 2, j->s1);
		rc |= bind_text(st, 3, j->s2);
		rc |= bind_text(st, 4, j->s3);
		rc |= bind_text(st, 5, j->s4);
		if (rc != SQLITE_OK)
			return bind_fail(a, ST_STRATEGY);
		return st_done(a, ST_STRATEGY);
	case JOB_DECISION:
		return exec_decision(a, j);
	case JOB_RETENTION:
		return exec_retention(a, j);
	case JOB_NEWEST:
		return exec_newest(a, j);
	case JOB_SYNC:
		return 0;
	}
	return -1;
}

static cJSON *
json_text(const char *text)
{
	cJSON	*j;

	if (text == NULL)
		return cJSON_CreateNull();
	if ((j = cJSON_Parse(text)) != NULL)
		return j;
	return cJSON_CreateString(text);
}

static void
add_str(cJSON *o, const char *name, const char *s)
{
	if ((s == NULL ? cJSON_AddNullToObject(o, name) :
	    cJSON_AddStringToObject(o, name, s)) == NULL)
		fatalx("audit: out of memory");
}

static void
add_num(cJSON *o, const char *name, double v)
{
	if ((isnan(v) || isinf(v) ? cJSON_AddNullToObject(o, name) :
	    cJSON_AddNumberToObject(o, name, v)) == NULL)
		fatalx("audit: out of memory");
}

static void
add_json(cJSON *o, const char *name, const char *text)
{
	cJSON	*v;

	if ((v = json_text(text)) == NULL ||
	    !cJSON_AddItemToObject(o, name, v))
		fatalx("audit: out of memory");
}

/*
 * The committed job as one JSON line in the daemon's log, so that syslog
 * or journald shipping carries the audit trail.
 */
static void
job_log(struct job *j)
{
	cJSON	*o;
	char	*s;

	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("audit: out of memory");
	switch (j->type) {
	case JOB_ACTION:
		add_str(o, "table", "actions");
		add_str(o, "op", "insert");
		add_num(o, "id", (double)j->id);
		add_str(o, "ts", j->ts);
		add_str(o, "strategy", j->strategy);
		add_str(o, "kind", audit_kinds[j->kind]);
		add_str(o, "knob", j->knob);
		add_num(o, "old_value", j->old_value);
		add_num(o, "new_value", j->new_value);
		add_str(o, "status", audit_statuses[j->status]);
		add_str(o, "reason", j->reason);
		add_json(o, "evidence", j->evidence);
		add_str(o, "actuator", j->actuator);
		add_str(o, "error", j->error);
		add_num(o, "parent_id", j->parent_id > 0 ?
		    (double)j->parent_id : NAN);
		add_str(o, "expect_metric", j->metric);
		add_str(o, "expect_stat", j->stat);
		add_num(o, "expect_dir", j->metric != NULL ?
		    j->expect_dir : NAN);
		add_num(o, "baseline", j->baseline);
		add_num(o, "verify_s", j->verify_s > 0 ? j->verify_s : NAN);
		add_json(o, "verdict", j->verdict);
		break;
	case JOB_UPDATE:
		add_str(o, "table", "actions");
		add_str(o, "op", "update");
		add_num(o, "id", (double)j->id);
		add_str(o, "done_ts", j->ts);
		add_str(o, "status", audit_statuses[j->status]);
		add_num(o, "new_value", j->new_value);
		add_str(o, "error", j->error);
		break;
	case JOB_OUTCOME:
		add_str(o, "table", "actions");
		add_str(o, "op", "outcome");
		add_num(o, "id", (double)j->id);
		add_str(o, "outcome_ts", j->ts);
		add_str(o, "outcome", audit_outcomes[j->outcome]);
		if (j->verdict != NULL)
			add_json(o, "verdict", j->verdict);
		break;
	case JOB_RECONCILE:
		add_str(o, "table", "actions");
		add_str(o, "op", "reconcile");
		add_num(o, "id", (double)j->id);
		add_str(o, "done_ts", j->ts);
		add_str(o, "status", audit_statuses[j->status]);
		add_str(o, "error", j->error);
		add_num(o, "read_back", j->new_value);
		break;
	case JOB_EVENT:
		add_str(o, "table", "events");
		add_str(o, "ts", j->ts);
		add_str(o, "kind", j->s1);
		add_str(o, "source", j->s2);
		add_str(o, "message", j->s3);
		add_json(o, "detail", j->s4);
		break;
	case JOB_STRATEGY:
		add_str(o, "table", "strategies");
		add_str(o, "ts", j->ts);
		add_str(o, "name", j->s1);
		add_str(o, "path", j->s2);
		add_str(o, "sha256", j->s3);
		add_str(o, "abi", j->s4);
		break;
	default:
		cJSON_Delete(o);
		return;
	}
	if ((s = cJSON_PrintUnformatted(o)) == NULL)
		fatalx("audit: out of memory");
	log_info("audit: %s", s);
	cJSON_free(s);
	cJSON_Delete(o);
}

static int
tx(struct audit *a, int which)
{
	return st_done(a, which);
}

/*
 * Run a batch in one transaction.  If the transaction cannot be committed
 * (or SQLite rolled it back under us), run each job again in its own, so
 * that one bad job costs only itself.
 */
static void
worker_batch(struct audit *a, struct jobq *batch)
{
	struct job	*j;
	struct jobq	 requeue, done;
	int		 ok, commits = 0, wake = 0, synced = 0;
	uint64_t	 written = 0, failed = 0;

	ok = tx(a, ST_BEGIN) == 0;
	if (ok) {
		TAILQ_FOREACH(j, batch, entry) {
			j->rc = job_exec(a, j);
			if (sqlite3_get_autocommit(a->db)) {
				ok = 0;		/* rolled back by SQLite */
				break;
			}
		}
	}
	if (ok && tx(a, ST_COMMIT) == 0)
		commits++;
	else {
		if (!sqlite3_get_autocommit(a->db))
			tx(a, ST_ROLLBACK);
		TAILQ_FOREACH(j, batch, entry) {
			j->id = j->type == JOB_ACTION ? 0 : j->id;
			if (j->json != NULL) {
				cJSON_free(j->json);
				j->json = NULL;
			}
			if (tx(a, ST_BEGIN) == -1) {
				j->rc = -1;
				continue;
			}
			j->rc = job_exec(a, j);
			if (sqlite3_get_autocommit(a->db))
				j->rc = -1;
			else if (j->rc == 0 && tx(a, ST_COMMIT) == 0)
				commits++;
			else {
				j->rc = -1;
				tx(a, ST_ROLLBACK);
			}
		}
	}

	TAILQ_INIT(&requeue);
	TAILQ_INIT(&done);
	while ((j = TAILQ_FIRST(batch)) != NULL) {
		TAILQ_REMOVE(batch, j, entry);
		if (j->rc == 0 && j->type != JOB_SYNC && j->type != JOB_NEWEST)
			written++;
		else if (j->rc != 0)
			failed++;
		if (j->rc == 0)
			job_log(j);
		if (j->type == JOB_ACTION && j->rc != 0)
			j->id = -1;
		if (j->type == JOB_RETENTION && j->rc == 0 && j->more) {
			TAILQ_INSERT_TAIL(&requeue, j, entry);
			continue;
		}
		if (j->type == JOB_RETENTION && j->rc == 0 && j->removed > 0)
			log_info("audit: %s: retention removed %" PRId64
			    " rows older than %s", a->path, j->removed, j->ts);
		if (j->type == JOB_SYNC) {
			j->synced = 1;
			synced = 1;
			continue;		/* audit_sync frees it */
		}
		if (j->id_cb != NULL || j->json_cb != NULL) {
			TAILQ_INSERT_TAIL(&done, j, entry);
			wake = 1;
			continue;
		}
		job_free(j);
	}

	pthread_mutex_lock(&a->mtx);
	a->stats.written += written;
	a->stats.failed += failed;
	a->stats.commits += commits;
	TAILQ_CONCAT(&a->done, &done, entry);
	while ((j = TAILQ_FIRST(&requeue)) != NULL) {
		TAILQ_REMOVE(&requeue, j, entry);
		TAILQ_INSERT_TAIL(&a->queue, j, entry);
		a->stats.queued++;
	}
	if (synced)
		pthread_cond_broadcast(&a->sync_cond);
	pthread_mutex_unlock(&a->mtx);
	if (wake && write(a->wake[1], "", 1) == -1 && errno != EAGAIN)
		log_warn("audit: waking the event loop");
}

static void *
worker_main(void *arg)
{
	struct audit	*a = arg;
	struct jobq	 batch;
	struct job	*j;
	int		 n;

#ifdef __linux__
	/*
	 * The event loop must win the CPU over this thread on a busy host
	 * (Linux nice applies to one thread); the writer is not urgent.
	 */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), AUDIT_WRITER_NICE) == -1)
		log_debug("audit: setpriority: %s", strerror(errno));
#endif
	for (;;) {
		pthread_mutex_lock(&a->mtx);
		while (TAILQ_EMPTY(&a->queue) && !a->stopping)
			pthread_cond_wait(&a->cond, &a->mtx);
		if (TAILQ_EMPTY(&a->queue)) {
			pthread_mutex_unlock(&a->mtx);
			break;
		}
		TAILQ_INIT(&batch);
		for (n = 0; n < AUDIT_BATCH_MAX &&
		    (j = TAILQ_FIRST(&a->queue)) != NULL; n++) {
			TAILQ_REMOVE(&a->queue, j, entry);
			TAILQ_INSERT_TAIL(&batch, j, entry);
			a->stats.queued--;
		}
		pthread_mutex_unlock(&a->mtx);
		worker_batch(a, &batch);
	}
	return NULL;
}

/* On the loop thread: run the callbacks of committed jobs. */
static void
deliver(struct audit *a)
{
	struct jobq	 done;
	struct job	*j;

	TAILQ_INIT(&done);
	pthread_mutex_lock(&a->mtx);
	TAILQ_CONCAT(&done, &a->done, entry);
	pthread_mutex_unlock(&a->mtx);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, entry);
		if (j->id_cb != NULL)
			j->id_cb(j->id, j->arg);
		if (j->json_cb != NULL)
			j->json_cb(j->rc == 0 ? j->json : NULL, j->arg);
		job_free(j);
	}
}

static void
wake_cb(evutil_socket_t fd, short events, void *arg)
{
	char	buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	deliver(arg);
}

static void
retain_cb(evutil_socket_t fd, short events, void *arg)
{
	audit_retention(arg, clock_wall_ms());
}

/* The rows of a statement as a JSON array of objects named by column. */
static char *
rows_json(sqlite3_stmt *st)
{
	cJSON		*arr, *o;
	const char	*name, *text;
	char		*out;
	int		 rc, i, n;

	if ((arr = cJSON_CreateArray()) == NULL)
		fatalx("audit: out of memory");
	n = sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((o = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(arr, o))
			fatalx("audit: out of memory");
		for (i = 0; i < n; i++) {
			name = sqlite3_column_name(st, i);
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER:
				add_num(o, name,
				    (double)sqlite3_column_int64(st, i));
				break;
			case SQLITE_FLOAT:
				add_num(o, name, sqlite3_column_double(st, i));
				break;
			case SQLITE_NULL:
				add_str(o, name, NULL);
				break;
			default:
				text = (const char *)sqlite3_column_text(st,
				    i);
				if (strcmp(name, "evidence") == 0 ||
				    strcmp(name, "verdict") == 0)
					add_json(o, name, text);
				else
					add_str(o, name, text);
				break;
			}
		}
	}
	if (rc != SQLITE_DONE) {
		cJSON_Delete(arr);
		return NULL;
	}
	if ((out = cJSON_PrintUnformatted(arr)) == NULL)
		fatalx("audit: out of memory");
	cJSON_Delete(arr);
	return out;
}

static char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char	*s;

	if ((s = sqlite3_column_text(st, i)) == NULL)
		return NULL;
	return xstrdup((const char *)s);
}

static double
col_real(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NAN;
	return sqlite3_column_double(st, i);
}

static uint64_t
col_ms(sqlite3_stmt *st, int i)
{
	uint64_t	ms;

	if (audit_parse_ts((const char *)sqlite3_column_text(st, i),
	    &ms) == -1)
		return 0;
	return ms;
}

/* One row of ROW_COLS into r; -1 if a column holds what it may not. */
static int
row_read(sqlite3_stmt *st, struct audit_row *r)
{
	const char	*ts;
	int		 k, s, o;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	ts = (const char *)sqlite3_column_text(st, 1);
	k = name_lookup(audit_kinds, nitems(audit_kinds),
	    (const char *)sqlite3_column_text(st, 3));
	s = name_lookup(audit_statuses, nitems(audit_statuses),
	    (const char *)sqlite3_column_text(st, 7));
	o = sqlite3_column_type(st, 8) == SQLITE_NULL ? AUDIT_OUTCOME_NONE :
	    name_lookup(audit_outcomes, nitems(audit_outcomes),
	    (const char *)sqlite3_column_text(st, 8));
	if (ts == NULL || audit_parse_ts(ts, &r->ts_ms) == -1 || k == -1 ||
	    s == -1 || o == -1) {
		log_warnx("audit: action %" PRId64 " is malformed", r->id);
		return -1;
	}
	snprintf(r->ts, sizeof(r->ts), "%s", ts);
	r->kind = k;
	r->status = s;
	r->outcome = o;
	r->strategy = col_str(st, 2);
	r->knob = col_str(st, 4);
	r->old_value = col_real(st, 5);
	r->new_value = col_real(st, 6);
	r->reason = col_str(st, 9);
	r->evidence = col_str(st, 10);
	r->actuator = col_str(st, 11);
	r->error = col_str(st, 12);
	r->parent_id = sqlite3_column_int64(st, 13);
	r->expect_metric = col_str(st, 14);
	r->expect_stat = col_str(st, 15);
	r->expect_dir = sqlite3_column_int(st, 16);
	r->baseline = col_real(st, 17);
	r->verify_s = sqlite3_column_int(st, 18);
	r->done_ms = col_ms(st, 19);
	r->outcome_ms = col_ms(st, 20);
	r->verdict = col_str(st, 21);
	if (r->done_ms != 0 && r->verify_s > 0)
		r->verify_due_ms = r->done_ms + (uint64_t)r->verify_s * 1000;
	return 0;
}

/*
 * Run a start-up query on the read connection.  If since_ms is not 0 it
 * binds ?1 as a timestamp.  Rows go to *rowsp (NULL if none), their count
 * to *np.
 */
static int
rows_read(struct audit *a, const char *sql, int bind_since, uint64_t since_ms,
    struct audit_row **rowsp, size_t *np)
{
	sqlite3_stmt	*st;
	struct audit_row *rows = NULL;
	char		 ts[AUDIT_TS_LEN], msg[512];
	size_t		 n = 0, cap = 0;
	int		 rc;

	*rowsp = NULL;
	*np = 0;
	if (sqlite3_prepare_v2(a->rdb, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("audit: %s: %s", a->path,
		    db_msg(a->rdb, msg, sizeof(msg)));
		return -1;
	}
	if (bind_since && (audit_format_ts(since_ms, ts, sizeof(ts)) == -1 ||
	    sqlite3_bind_text(st, 1, ts, -1, SQLITE_TRANSIENT) != SQLITE_OK)) {
		sqlite3_finalize(st);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			rows = xreallocarray(rows, cap, sizeof(*rows));
		}
		if (row_read(st, &rows[n]) == -1) {
			audit_rows_free(rows, n);
			sqlite3_finalize(st);
			return -1;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		log_warnx("audit: %s: reading actions: %s", a->path,
		    db_msg(a->rdb, msg, sizeof(msg)));
		audit_rows_free(rows, n);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	*rowsp = rows;
	*np = n;
	return 0;
}

/*
 * Start-up queries.  Each runs on the caller's thread on a read-only
 * connection, sees what is committed (call audit_sync first if writes were
 * queued), stores a freshly allocated array in *rowsp (NULL when empty;
 * free it with audit_rows_free) and the count in *np.  Return 0, or -1 on
 * an SQLite error (logged).  Meant for start-up, before the loop runs.
 */

/* Actions still pending, oldest first: the previous run crashed. */
int
audit_pending(struct audit *a, struct audit_row **rowsp, size_t *np)
{
	return rows_read(a, "SELECT " ROW_COLS " FROM actions "
	    "WHERE status = 'pending' ORDER BY id", 0, 0, rowsp, np);
}

/* Per knob, its newest applied action (for cooldowns), ordered by knob. */
int
audit_last_applied(struct audit *a, struct audit_row **rowsp, size_t *np)
{
	/* SQLite takes the bare columns from the row holding max(id). */
	return rows_read(a, "SELECT " ROW_COLS ", max(id) FROM actions "
	    "WHERE status = 'applied' GROUP BY knob ORDER BY knob", 0, 0,
	    rowsp, np);
}

/* Applied actions with verify_s and no outcome yet, oldest first. */
int
audit_awaiting_verify(struct audit *a, struct audit_row **rowsp, size_t *np)
{
	return rows_read(a, "SELECT " ROW_COLS " FROM actions "
	    "WHERE status = 'applied' AND outcome IS NULL AND verify_s > 0 "
	    "ORDER BY id", 0, 0, rowsp, np);
}

/*
 * Applied actions whose ts is at or after since_ms (wall clock), oldest
 * first: the hourly budget and the flap detector are rebuilt from them.
 */
int
audit_applied_since(struct audit *a, uint64_t since_ms,
    struct audit_row **rowsp, size_t *np)
{
	return rows_read(a, "SELECT " ROW_COLS " FROM actions "
	    "WHERE status = 'applied' AND ts >= ?1 ORDER BY id", 1, since_ms,
	    rowsp, np);
}

/*
 * Failed actions other than rollbacks whose ts is at or after since_ms
 * (wall clock), oldest first: a knob's failure back-off is rebuilt from
 * them.
 */
int
audit_failed_since(struct audit *a, uint64_t since_ms,
    struct audit_row **rowsp, size_t *np)
{
	return rows_read(a, "SELECT " ROW_COLS " FROM actions "
	    "WHERE status = 'failed' AND kind <> 'rollback' AND ts >= ?1 "
	    "ORDER BY id", 1, since_ms, rowsp, np);
}

/* Free an array from the start-up queries; safe with NULL. */
void
audit_rows_free(struct audit_row *rows, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(rows[i].strategy);
		free(rows[i].knob);
		free(rows[i].reason);
		free(rows[i].evidence);
		free(rows[i].actuator);
		free(rows[i].error);
		free(rows[i].expect_metric);
		free(rows[i].expect_stat);
		free(rows[i].verdict);
	}
	free(rows);
}
