/*
 * audit.c -- the SQLite audit log: actions, events, strategies, decisions.
 *
 * The file is meshtune's or nothing: before anything is written, the file
 * at the path is inspected (audit_file.c) and one of another program, a
 * damaged one or one of a newer meshtune is refused, untouched, or moved
 * aside when configured.  Ours carry PRAGMA application_id; the logs of
 * meshtunes from before it (schema 1 and 2) are migrated and stamped.
 *
 * One writer thread owns the read-write connection.  The event loop thread
 * only queues jobs (a copy of the row to write) and returns at once; the
 * writer takes every queued job, runs them in one transaction (group
 * commit), then hands the results that somebody waits for (the id of a new
 * action) back to the event loop through a pipe, so that their callbacks
 * run on the loop thread, after the commit.
 *
 * A write is never dropped: when the database cannot be written for now (a
 * writer lock held by someone else, a full disk, an I/O error), the writer
 * rolls back, says so (once, then at growing intervals), waits and tries
 * the same batch again, while the jobs wait in memory in order.  Only a
 * job SQLite refuses for itself (a constraint) fails alone, and even that
 * reaches the daemon's log as a JSON line.  Memory stays bounded because
 * refusals are folded into counters in memory as in the table, and new
 * actions are refused (so not applied) once AUDIT_BACKLOG_MAX jobs wait.
 *
 * Reads for the API (GET /v1/actions) run in a reader thread on a
 * read-only connection: in WAL mode they never wait for the writer's lock.
 * A read waits at most AUDIT_READ_WAIT_MS for the writes queued before it,
 * so that normally it sees them.  A third, read-only connection serves the
 * start-up queries (pending rows, cooldowns, verifications), which run on
 * the loop thread before it starts.
 *
 * Housekeeping, in the writer thread: rows older than retention_days go,
 * then the oldest rows while the file's data is larger than max_bytes,
 * then the free pages are given back (auto_vacuum = incremental, which new
 * files get and older ones are converted to once by a VACUUM at start).
 *
 * The schema is versioned by PRAGMA user_version and built by a table of
 * migrations, one step per version.  Every statement is a prepared one.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

#define AUDIT_DECISION_SLACK	4	/* names waiting, times the cap */
#define AUDIT_BUSY_MS		1000	/* the writer's busy_timeout; then it
					   rolls back, says so, tries again */
#define AUDIT_OPEN_BUSY_MS	30000	/* a migration, start-up reads wait */
#define AUDIT_READ_BUSY_MS	500	/* the API reader's busy_timeout */
#define AUDIT_READ_WAIT_MS	200	/* a read waits this long at most for
					   the writes queued before it */
#define AUDIT_BATCH_MAX		256	/* jobs in one transaction */
#define AUDIT_BACKLOG_MAX	10000	/* jobs waiting: new actions refused */
#define AUDIT_BACKLOG_HARD	100000	/* ... and new events, strategies */
#define AUDIT_CHUNK		1000	/* rows deleted per table and pass */
#define AUDIT_VACUUM_PAGES	"2048"	/* pages given back per pass */
#define AUDIT_HOUSEKEEP_S	300	/* housekeeping runs every 5 minutes */
#define AUDIT_CLOSE_WAIT_MS	20000	/* at stop, what still cannot be
					   written then goes to the log */
#define AUDIT_RETRY_MIN_MS	100	/* waits between tries: 0.1 s ... */
#define AUDIT_RETRY_MAX_MS	2000	/* ... doubling up to 2 s */
#define AUDIT_WARN_FIRST_MS	10000	/* "still cannot write" after 10 s, */
#define AUDIT_WARN_MAX_MS	600000	/* then doubling up to 10 min */
#define AUDIT_WAL_LIMIT		"8388608"	/* journal_size_limit, bytes */
#define AUDIT_WRITER_NICE	5	/* the writer thread's nice value */

/* How a statement or job ended, in the writer. */
#define RUN_OK		0
#define RUN_REFUSED	(-1)	/* this job can never be written */
#define RUN_STALLED	(-2)	/* nothing can be written now: retry */

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
	ST_SIZE, ST_ROWS, ST_CAP_CUTOFF, ST_VACUUM,
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
	[ST_DEC_UPDATE] = "UPDATE decisions SET count = count + ?5, "
	    "last_ts = max(last_ts, ?4) "
	    "WHERE reason = ?3 AND strategy = ?1 AND knob = ?2",
	[ST_DEC_INSERT] = "INSERT INTO decisions (strategy, knob, reason, "
	    "count, first_ts, last_ts) VALUES (?1, ?2, ?3, ?5, ?6, ?4)",
	[ST_DEC_NAMES] = "SELECT count(*) FROM decisions WHERE reason = ?3 "
	    "AND strategy = ?1 AND knob <> ?2",
	/* The oldest ?2 rows up to ?1 (rows of one millisecond may be many). */
	[ST_RET_ACTIONS] = "DELETE FROM actions WHERE id IN (SELECT id FROM "
	    "actions WHERE ts <= ?1 AND status <> 'pending' ORDER BY ts "
	    "LIMIT ?2)",
	[ST_RET_EVENTS] = "DELETE FROM events WHERE id IN (SELECT id FROM "
	    "events WHERE ts <= ?1 ORDER BY ts LIMIT ?2)",
	[ST_RET_DECISIONS] = "DELETE FROM decisions WHERE id IN (SELECT id "
	    "FROM decisions WHERE last_ts <= ?1 ORDER BY last_ts LIMIT ?2)",
	[ST_RET_STRATEGIES] = "DELETE FROM strategies WHERE id IN (SELECT id "
	    "FROM strategies WHERE ts <= ?1 ORDER BY ts LIMIT ?2)",
	/* Bytes of data, bytes a page, free pages. */
	[ST_SIZE] = "SELECT (p.page_count - f.freelist_count) * s.page_size, "
	    "s.page_size, f.freelist_count FROM pragma_page_count() p, "
	    "pragma_freelist_count() f, pragma_page_size() s",
	/* About how many rows (ids are dense): O(log n), not a count. */
	[ST_ROWS] = "SELECT (SELECT coalesce(max(id) - min(id) + 1, 0) "
	    "FROM actions) + (SELECT coalesce(max(id) - min(id) + 1, 0) "
	    "FROM events)",
	/* The time of the ?1-th oldest row that retention may delete. */
	[ST_CAP_CUTOFF] = "SELECT max(ts) FROM (SELECT ts FROM (SELECT ts "
	    "FROM actions WHERE status <> 'pending' UNION ALL SELECT ts "
	    "FROM events) ORDER BY ts LIMIT ?1)",
	[ST_VACUUM] = "PRAGMA incremental_vacuum(" AUDIT_VACUUM_PAGES ")",
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

/*
 * SQLite's primary result codes after which nothing can be written for now
 * although the rows are fine: the writer waits and tries again.  Any other
 * error is the job's own (a constraint, a bad value) and fails it alone.
 */
static const int audit_stall_codes[] = {
	SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM,
	SQLITE_CANTOPEN, SQLITE_PROTOCOL, SQLITE_READONLY, SQLITE_CORRUPT,
	SQLITE_NOTADB, SQLITE_PERM, SQLITE_NOLFS, SQLITE_ABORT,
	SQLITE_INTERRUPT,
};

enum job_type {
	JOB_ACTION, JOB_UPDATE, JOB_OUTCOME, JOB_RECONCILE, JOB_EVENT,
	JOB_STRATEGY, JOB_DECISION, JOB_HOUSEKEEP, JOB_CONVERT, JOB_NEWEST,
	JOB_SYNC
};

/* The steps of a housekeeping job, each as many passes as it needs. */
enum { HK_AGE, HK_SIZE, HK_VACUUM, HK_DONE };

/*
 * One unit of work for the writer (or, JOB_NEWEST, the reader).  Strings
 * are owned copies; which fields mean what depends on the type (see the
 * audit_* functions that fill them).  The pass_* fields are what the
 * current try of a transaction did, kept only once it commits.
 */
struct job {
	enum job_type		 type;
	uint64_t		 seq;		/* order of submission */
	char			 ts[AUDIT_TS_LEN];
	char			 last_ts[AUDIT_TS_LEN];	/* decision */
	int64_t			 id;		/* target, or the new row */
	int			 kind, status, outcome;
	double			 old_value, new_value, baseline;
	int64_t			 parent_id;
	int			 expect_dir, verify_s, limit;
	int64_t			 count;		/* decision: refusals */
	char			*strategy, *knob, *reason, *evidence;
	char			*actuator, *error, *metric, *stat;
	char			*verdict;	/* action, outcome */
	char			*s1, *s2, *s3, *s4;	/* event, strategy */
	int			 phase;		/* housekeeping: HK_* */
	int			 by_age;	/* ts is a retention cutoff */
	uint64_t		 max_bytes;	/* size cap, 0: none */
	int64_t			 removed_age, removed_cap, freed;
	int64_t			 pass_removed, pass_freed;
	int			 pass_more;	/* the step is not finished */
	uint64_t		 queued_ms;	/* JOB_NEWEST: when asked */
	uint64_t		 want;		/* JOB_NEWEST: writes to wait for */
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
	sqlite3			*db;		/* writer thread only */
	sqlite3			*rdb;		/* loop thread: start-up reads */
	sqlite3			*qdb;		/* reader thread: the API */
	sqlite3_stmt		*st[ST_MAX];	/* on db */
	sqlite3_stmt		*newest;	/* on qdb */
	struct event_base	*base;
	struct event		*ev_wake;
	struct event		*ev_housekeep;
	int			 wake[2];	/* threads -> loop pipe */
	pthread_t		 writer, reader;

	/* Writer thread only. */
	int			 incremental;	/* auto_vacuum = incremental */
	int			 want_checkpoint;
	int			 stall_code;	/* why it cannot write */
	char			 stall_msg[512];
	unsigned int		 stall_tries;
	uint64_t		 warn_next_ms, warn_every_ms;

	pthread_mutex_t		 mtx;		/* guards all below */
	pthread_cond_t		 cond;		/* work queued, or stopping */
	pthread_cond_t		 rcond;		/* read queued, or stopping */
	pthread_cond_t		 sync_cond;	/* a JOB_SYNC was reached */
	pthread_cond_t		 commit_cond;	/* a batch ended; writer gone */
	pthread_cond_t		 stall_cond;	/* audit_close gave up */
	struct jobq		 queue;		/* loop -> writer */
	struct jobq		 decisions;	/* refusals, folded, -> writer */
	struct jobq		 rqueue;	/* loop -> reader */
	struct jobq		 done;		/* threads -> loop callbacks */
	struct audit_opts	 opts;
	uint64_t		 seq_queued;	/* last job submitted */
	uint64_t		 seq_done;	/* last job the writer finished */
	uint64_t		 stall_start_ms; /* writes failing since; 0 */
	int			 stopping;
	int			 abandon;	/* stop retrying: log the rest */
	int			 writer_done;
	struct audit_stats	 stats;
};

static void	 job_free(struct job *);
static char	*dupnull(const char *);
static int	 set_err(char *, size_t, const char *, ...)
		    __printflike(3, 4);
static int	 db_step_all(sqlite3 *, const char *);
static int	 db_user_version(sqlite3 *, int *);
static int	 db_pragma_text(sqlite3 *, const char *, char *, size_t);
static int	 bind_text(sqlite3_stmt *, int, const char *);
static int	 bind_real(sqlite3_stmt *, int, double);
static int	 st_run(struct audit *, int);
static int	 job_exec(struct audit *, struct job *);
static void	 job_log(struct job *, int);
static void	 writer_batch(struct audit *, struct jobq *);
static void	*writer_main(void *);
static void	*reader_main(void *);
static int	 submit(struct audit *, struct job *);
static void	 deliver(struct audit *);
static void	 wake(struct audit *);
static void	 wake_cb(evutil_socket_t, short, void *);
static void	 housekeep_cb(evutil_socket_t, short, void *);
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

/*
 * Bring the schema of a file inspected as f up to AUDIT_SCHEMA_VERSION and
 * stamp it with meshtune's application id, all in one transaction: the
 * file is migrated whole or left as it was.
 */
static int
db_migrate(struct audit *a, const struct audit_file *f, char *err,
    size_t errlen)
{
	char	 msg[512], sql[64];
	int	 v, from;

	if (db_step_all(a->db, "BEGIN IMMEDIATE") == -1 ||
	    db_user_version(a->db, &from) == -1) {
		db_msg(a->db, msg, sizeof(msg));
		db_step_all(a->db, "ROLLBACK");
		return set_err(err, errlen, "audit: %s: reading the schema "
		    "version: %s", a->path, msg);
	}
	if (from != f->version || from < 0 || from > AUDIT_SCHEMA_VERSION) {
		db_step_all(a->db, "ROLLBACK");
		return set_err(err, errlen, "audit: %s: schema version %d "
		    "changed to %d while it was being opened", a->path,
		    f->version, from);
	}
	for (v = from; v < AUDIT_SCHEMA_VERSION; v++) {
		if (db_step_all(a->db, audit_steps[v]) == -1) {
			db_msg(a->db, msg, sizeof(msg));
			db_step_all(a->db, "ROLLBACK");
			return set_err(err, errlen, "audit: %s: migrating the "
			    "schema from version %d to %d: %s", a->path, v,
			    v + 1, msg);
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    AUDIT_SCHEMA_VERSION);
	if (db_step_all(a->db, sql) == -1)
		goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d",
	    (int)AUDIT_APP_ID);
	if (db_step_all(a->db, sql) == -1 ||
	    db_step_all(a->db, "COMMIT") == -1)
		goto fail;
	if (from != AUDIT_SCHEMA_VERSION)
		log_info("audit: %s: schema version %d -> %d", a->path, from,
		    AUDIT_SCHEMA_VERSION);
	if (f->app_id != AUDIT_APP_ID && f->kind == AUDIT_FILE_LEGACY)
		log_info("audit: %s: an earlier meshtune's log, now stamped "
		    "with meshtune's application id", a->path);
	return 0;

fail:
	db_msg(a->db, msg, sizeof(msg));
	db_step_all(a->db, "ROLLBACK");
	return set_err(err, errlen, "audit: %s: migrating the schema: %s",
	    a->path, msg);
}

static int
db_open(const char *path, int flags, int busy_ms, sqlite3 **dbp, char *err,
    size_t errlen)
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
	if (sqlite3_busy_timeout(*dbp, busy_ms) != SQLITE_OK) {
		db_msg(*dbp, msg, sizeof(msg));
		sqlite3_close(*dbp);
		*dbp = NULL;
		return set_err(err, errlen, "audit: %s: busy_timeout: %s",
		    path, msg);
	}
	return 0;
}

/*
 * Open the writer's connection on a file inspected as f (new, empty, ours
 * or an earlier meshtune's): new files get incremental auto_vacuum, all
 * WAL mode, synchronous FULL and a bounded WAL, then the schema.
 */
static int
db_open_writer(struct audit *a, const struct audit_file *f, char *err,
    size_t errlen)
{
	char	msg[512], mode[32];
	int	fresh = f->kind == AUDIT_FILE_NEW || f->kind == AUDIT_FILE_EMPTY;

	if (db_open(a->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    AUDIT_OPEN_BUSY_MS, &a->db, err, errlen) == -1)
		return -1;
	/* Only possible before the first table: new files only. */
	if (fresh && db_step_all(a->db, "PRAGMA auto_vacuum = INCREMENTAL") ==
	    -1)
		return set_err(err, errlen, "audit: %s: auto_vacuum: %s",
		    a->path, db_msg(a->db, msg, sizeof(msg)));
	if (db_pragma_text(a->db, "PRAGMA journal_mode = WAL", mode,
	    sizeof(mode)) == -1)
		return set_err(err, errlen, "audit: %s: setting WAL mode: %s",
		    a->path, db_msg(a->db, msg, sizeof(msg)));
	if (strcmp(mode, "wal") != 0)
		return set_err(err, errlen, "audit: %s: WAL mode refused "
		    "(journal mode is %s)", a->path, mode);
	/* FULL: a commit (the pending row) survives a power cut too. */
	if (db_step_all(a->db, "PRAGMA synchronous = FULL") == -1 ||
	    db_step_all(a->db, "PRAGMA journal_size_limit = "
	    AUDIT_WAL_LIMIT) == -1)
		return set_err(err, errlen, "audit: %s: pragmas: %s", a->path,
		    db_msg(a->db, msg, sizeof(msg)));
	if ((f->version != AUDIT_SCHEMA_VERSION || f->app_id != AUDIT_APP_ID) &&
	    db_migrate(a, f, err, errlen) == -1)
		return -1;
	/* An empty file with a header may have kept auto_vacuum off. */
	if (db_pragma_text(a->db, "PRAGMA auto_vacuum", mode,
	    sizeof(mode)) == -1)
		return set_err(err, errlen, "audit: %s: auto_vacuum: %s",
		    a->path, db_msg(a->db, msg, sizeof(msg)));
	a->incremental = strcmp(mode, "2") == 0;
	if (sqlite3_busy_timeout(a->db, AUDIT_BUSY_MS) != SQLITE_OK)
		return set_err(err, errlen, "audit: %s: busy_timeout: %s",
		    a->path, db_msg(a->db, msg, sizeof(msg)));
	return 0;
}

/*
 * Look at what lies at path before anything is written there.  A file
 * meshtune may use: 0.  One it must not (another program's, damaged, a
 * newer meshtune's): refused with a message in err naming it (-1), or,
 * with move_bad, moved aside (its new name in moved, what it was in *was)
 * and 0, f then saying the path is free.
 */
static int
audit_claim(const char *path, const struct audit_opts *o,
    struct audit_file *f, struct audit_file *was, char *moved,
    size_t movedlen, char *err, size_t errlen)
{
	static const int	 refused[] = {
		[AUDIT_FILE_FUTURE] = 1, [AUDIT_FILE_FOREIGN] = 1,
		[AUDIT_FILE_CORRUPT] = 1, [AUDIT_FILE_ERROR] = 0,
	};
	char			 msg[512];

	*moved = '\0';
	if (audit_file_inspect(path, f) == -1)
		return set_err(err, errlen, "audit: %s: cannot read it: %s",
		    path, f->what);
	if ((size_t)f->kind >= nitems(refused) || !refused[f->kind])
		return 0;
	if (!o->move_bad)
		return set_err(err, errlen, "audit: %s: %s (%s): refused and "
		    "left untouched; remove it, or set audit.on_bad_file to "
		    "\"move\" to have it moved aside", path,
		    audit_file_kind_name(f->kind), f->what);
	if (audit_file_move_aside(path, moved, movedlen, msg,
	    sizeof(msg)) == -1)
		return set_err(err, errlen, "audit: %s: %s (%s): refused, and "
		    "cannot be moved aside: %s", path,
		    audit_file_kind_name(f->kind), f->what, msg);
	log_warnx("audit: %s: %s (%s): moved to %s; a new log starts", path,
	    audit_file_kind_name(f->kind), f->what, moved);
	*was = *f;
	memset(f, 0, sizeof(*f));
	f->kind = AUDIT_FILE_NEW;
	snprintf(f->what, sizeof(f->what), "new, the file found there moved "
	    "aside");
	return 0;
}

/* Initialise a condition variable that waits on the monotonic clock. */
static void
cond_init(pthread_cond_t *c)
{
	pthread_condattr_t	attr;

	if (pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(c, &attr) != 0)
		fatalx("audit: cannot initialise a condition variable");
	pthread_condattr_destroy(&attr);
}

/* The monotonic time ms from now, for pthread_cond_timedwait. */
static struct timespec
deadline_in(uint64_t ms)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/*
 * Queue the conversion of a file without incremental auto_vacuum: one
 * VACUUM, first of all jobs, in the writer thread.
 */
static void
queue_convert(struct audit *a)
{
	struct job	*j;

	j = xcalloc(1, sizeof(*j));
	j->type = JOB_CONVERT;
	now_ts(j->ts);
	(void)submit(a, j);
}

/*
 * Open the audit log at path, creating it if absent or empty, after making
 * sure it is meshtune's (see audit_file_inspect): a file of another
 * program, a damaged one or one of a newer meshtune is refused and left
 * untouched, or with o->move_bad moved aside (an "audit_moved" event in
 * the new log says where).  Brings the schema to AUDIT_SCHEMA_VERSION in
 * WAL mode.  Starts the writer and reader threads and adds two events to
 * base: the threads' wake-up and the housekeeping timer (retention,
 * size cap, space given back; run once now).  Blocks; call it at
 * start-up.  The parent directory must exist.  Returns the handle, or NULL
 * with a message naming the path in err.  audit_close frees it.
 */
struct audit *
audit_open_opts(struct event_base *base, const char *path,
    const struct audit_opts *o, char *err, size_t errlen)
{
	struct audit		*a;
	struct audit_file	 f, was;
	struct timeval		 tv = { AUDIT_HOUSEKEEP_S, 0 };
	char			 msg[512], moved[PATH_MAX + 64], *detail;
	cJSON			*d;
	int			 i, e;

	if (base == NULL || path == NULL || *path == '\0' || o == NULL) {
		set_err(err, errlen, "audit: no event base or path");
		return NULL;
	}
	if (audit_claim(path, o, &f, &was, moved, sizeof(moved), err,
	    errlen) == -1)
		return NULL;
	a = xcalloc(1, sizeof(*a));
	a->path = xstrdup(path);
	a->base = base;
	a->opts = *o;
	a->opts.retention_days = o->retention_days > 0 ? o->retention_days : 0;
	a->wake[0] = a->wake[1] = -1;
	TAILQ_INIT(&a->queue);
	TAILQ_INIT(&a->decisions);
	TAILQ_INIT(&a->rqueue);
	TAILQ_INIT(&a->done);
	if (pthread_mutex_init(&a->mtx, NULL) != 0)
		fatalx("audit: cannot initialise a mutex");
	cond_init(&a->cond);
	cond_init(&a->rcond);
	cond_init(&a->sync_cond);
	cond_init(&a->commit_cond);
	cond_init(&a->stall_cond);

	if (db_open_writer(a, &f, err, errlen) == -1)
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
	if (db_open(path, SQLITE_OPEN_READONLY, AUDIT_OPEN_BUSY_MS, &a->rdb,
	    err, errlen) == -1 ||
	    db_open(path, SQLITE_OPEN_READONLY, AUDIT_READ_BUSY_MS, &a->qdb,
	    err, errlen) == -1)
		goto fail;
	if (sqlite3_prepare_v3(a->qdb, "SELECT " ROW_COLS " FROM actions "
	    "ORDER BY id DESC LIMIT ?1", -1, SQLITE_PREPARE_PERSISTENT,
	    &a->newest, NULL) != SQLITE_OK) {
		set_err(err, errlen, "audit: %s: preparing the reader: %s",
		    path, db_msg(a->qdb, msg, sizeof(msg)));
		goto fail;
	}

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
	a->ev_housekeep = event_new(base, -1, EV_PERSIST, housekeep_cb, a);
	if (a->ev_housekeep == NULL ||
	    event_add(a->ev_housekeep, &tv) == -1) {
		set_err(err, errlen, "audit: cannot add the housekeeping "
		    "timer");
		goto fail;
	}

	if ((e = pthread_create(&a->writer, NULL, writer_main, a)) != 0) {
		set_err(err, errlen, "audit: pthread_create: %s",
		    strerror(e));
		goto fail;
	}
	if ((e = pthread_create(&a->reader, NULL, reader_main, a)) != 0) {
		set_err(err, errlen, "audit: pthread_create: %s",
		    strerror(e));
		pthread_mutex_lock(&a->mtx);
		a->stopping = 1;
		pthread_cond_broadcast(&a->cond);
		pthread_mutex_unlock(&a->mtx);
		pthread_join(a->writer, NULL);
		goto fail;
	}
	log_info("audit: %s: open (%s), schema version %d, retention %d "
	    "days, size cap %" PRIu64 " MB", path, f.what,
	    AUDIT_SCHEMA_VERSION, a->opts.retention_days,
	    a->opts.max_bytes / (1024 * 1024));
	if (!a->incremental)
		queue_convert(a);
	if (*moved != '\0') {
		if ((d = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(d, "from", path) == NULL ||
		    cJSON_AddStringToObject(d, "to", moved) == NULL ||
		    cJSON_AddStringToObject(d, "kind",
		    audit_file_kind_name(was.kind)) == NULL ||
		    cJSON_AddStringToObject(d, "why", was.what) == NULL ||
		    (detail = cJSON_PrintUnformatted(d)) == NULL)
			fatalx("audit: out of memory");
		cJSON_Delete(d);
		snprintf(msg, sizeof(msg), "the file found here was %s; "
		    "moved to %s", audit_file_kind_name(was.kind), moved);
		(void)audit_event(a, "audit_moved", "audit", msg, detail);
		cJSON_free(detail);
	}
	audit_retention(a, clock_wall_ms());
	return a;

fail:
	if (a->ev_housekeep != NULL)
		event_free(a->ev_housekeep);
	if (a->ev_wake != NULL)
		event_free(a->ev_wake);
	for (i = 0; i < 2; i++)
		if (a->wake[i] != -1)
			close(a->wake[i]);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(a->st[i]);
	sqlite3_finalize(a->newest);
	sqlite3_close(a->qdb);
	sqlite3_close(a->rdb);
	sqlite3_close(a->db);
	pthread_mutex_destroy(&a->mtx);
	pthread_cond_destroy(&a->cond);
	pthread_cond_destroy(&a->rcond);
	pthread_cond_destroy(&a->sync_cond);
	pthread_cond_destroy(&a->commit_cond);
	pthread_cond_destroy(&a->stall_cond);
	free(a->path);
	free(a);
	return NULL;
}

/*
 * audit_open_opts with rows kept retention_days (0: for ever), no size
 * cap, and a file that is not meshtune's refused.
 */
struct audit *
audit_open(struct event_base *base, const char *path, int retention_days,
    char *err, size_t errlen)
{
	struct audit_opts	o = { .retention_days = retention_days };

	return audit_open_opts(base, path, &o, err, errlen);
}

/*
 * Take new retention and size cap settings (a reload), and run the
 * housekeeping at once.  move_bad matters only at open, and is ignored.
 */
void
audit_set_opts(struct audit *a, const struct audit_opts *o)
{
	pthread_mutex_lock(&a->mtx);
	a->opts.retention_days = o->retention_days > 0 ? o->retention_days : 0;
	a->opts.max_bytes = o->max_bytes;
	pthread_mutex_unlock(&a->mtx);
	audit_retention(a, clock_wall_ms());
}

/*
 * Flush and close: refuse new work, let the writer commit everything queued
 * (waiting up to close_wait_ms, 20 s by default, if the database cannot be
 * written; after that, what is left goes to the daemon's log as JSON lines
 * "audit: not written: ..." and the id callbacks owed get -1), join the
 * threads, run the callbacks still owed (on the caller's thread, which must
 * be the event loop thread), and close the database.  Safe with NULL.
 */
void
audit_close(struct audit *a)
{
	struct timespec	 until;
	struct job	*j;
	int		 i, wait_ms;

	if (a == NULL)
		return;
	wait_ms = a->opts.close_wait_ms > 0 ? a->opts.close_wait_ms :
	    AUDIT_CLOSE_WAIT_MS;
	until = deadline_in((uint64_t)wait_ms);
	pthread_mutex_lock(&a->mtx);
	a->stopping = 1;
	pthread_cond_broadcast(&a->cond);
	pthread_cond_broadcast(&a->rcond);
	pthread_cond_broadcast(&a->sync_cond);
	while (!a->writer_done) {
		if (pthread_cond_timedwait(&a->commit_cond, &a->mtx,
		    &until) == ETIMEDOUT && !a->writer_done) {
			a->abandon = 1;
			pthread_cond_broadcast(&a->stall_cond);
			log_warnx("audit: %s: stopping, and still cannot "
			    "write after %.1f s: the rows left go to this log "
			    "instead", a->path, (double)wait_ms / 1000);
			break;
		}
	}
	pthread_mutex_unlock(&a->mtx);
	if (pthread_join(a->writer, NULL) != 0 ||
	    pthread_join(a->reader, NULL) != 0)
		fatalx("audit: cannot join the writer and reader threads");
	deliver(a);
	while ((j = TAILQ_FIRST(&a->queue)) != NULL) {	/* not reached */
		TAILQ_REMOVE(&a->queue, j, entry);
		job_free(j);
	}

	event_free(a->ev_housekeep);
	event_free(a->ev_wake);
	close(a->wake[0]);
	close(a->wake[1]);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(a->st[i]);
	sqlite3_finalize(a->newest);
	sqlite3_close(a->qdb);
	sqlite3_close(a->rdb);
	if (sqlite3_close(a->db) != SQLITE_OK)
		log_warnx("audit: %s: close: %s", a->path,
		    sqlite3_errmsg(a->db));
	pthread_mutex_destroy(&a->mtx);
	pthread_cond_destroy(&a->cond);
	pthread_cond_destroy(&a->rcond);
	pthread_cond_destroy(&a->sync_cond);
	pthread_cond_destroy(&a->commit_cond);
	pthread_cond_destroy(&a->stall_cond);
	log_info("audit: %s: closed", a->path);
	free(a->path);
	free(a);
}

/* Counters for /v1/status and tests; a consistent copy. */
void
audit_get_stats(struct audit *a, struct audit_stats *s)
{
	uint64_t	now = clock_mono_ms();

	pthread_mutex_lock(&a->mtx);
	*s = a->stats;
	s->stalled_ms = a->stall_start_ms != 0 && now > a->stall_start_ms ?
	    now - a->stall_start_ms : 0;
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

/*
 * Queue j for the writer; never blocks on the database.  Refused (j is
 * freed, -1) when the log is closing; a new action when AUDIT_BACKLOG_MAX
 * jobs already wait (the governor then applies nothing); a new event or
 * strategies row past AUDIT_BACKLOG_HARD (it goes to the daemon's log as
 * "not written" instead).  What follows an action already begun (its
 * update, its outcome) is always taken, so nothing begun is ever lost, and
 * memory stays bounded.
 */
static int
submit(struct audit *a, struct job *j)
{
	uint64_t	refused;
	int		closing, full;

	pthread_mutex_lock(&a->mtx);
	closing = a->stopping;
	full = (j->type == JOB_ACTION &&
	    a->stats.queued >= AUDIT_BACKLOG_MAX) ||
	    ((j->type == JOB_EVENT || j->type == JOB_STRATEGY) &&
	    a->stats.queued >= AUDIT_BACKLOG_HARD);
	if (closing || full) {
		refused = ++a->stats.refused;
		pthread_mutex_unlock(&a->mtx);
		if ((refused & (refused - 1)) == 0)	/* 1, 2, 4, 8... */
			log_warnx("audit: %s: %s: %" PRIu64 " writes refused",
			    a->path, closing ? "closing" : "too many rows "
			    "wait to be written", refused);
		if (j->type != JOB_ACTION)
			job_log(j, 0);
		job_free(j);
		return -1;
	}
	j->seq = ++a->seq_queued;
	TAILQ_INSERT_TAIL(&a->queue, j, entry);
	a->stats.queued++;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mtx);
	return 0;
}

/*
 * Queue a new action row.  Every string in act is copied.  Once the row is
 * committed, cb(id, arg) runs on the event loop thread with its id (so an
 * AUDIT_PENDING row is durable before the caller runs the actuator; while
 * the file cannot be written, that is later), or with -1 if SQLite refused
 * the row itself or the log closed before it could be written.  cb may be
 * NULL.  Returns 0 when queued, -1 (cb is not called) if act is invalid,
 * AUDIT_BACKLOG_MAX jobs wait already or the log is closing.
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
 * Returns 0 when queued, -1 on a bad argument or a closing log.
 */
int
audit_action_update(struct audit *a, int64_t id, enum audit_status status,
    double value, const char *error)
{
	return update_job(a, JOB_UPDATE, id, status, value, error);
}

/*
 * Record the verification outcome of an applied action, once.  Returns 0
 * when queued, -1 on a bad argument or a closing log.
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
 * argument or a closing log.
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
 * knob may be NULL (stored as "").  Refusals wait for the writer folded by
 * key, in memory as in the table, so a long stall costs no more memory
 * than one entry per key.  Returns 0 when queued, -1 otherwise.
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
 * without a row counts in the row of knob AUDIT_DECISION_OTHERS (the
 * writer knows which names have one).  While the writer lags, at most
 * AUDIT_DECISION_SLACK x cap names wait per (strategy, reason), the rest
 * folded at once under AUDIT_DECISION_OTHERS: a storm of made-up names
 * costs bounded memory.
 */
int
audit_decision_capped(struct audit *a, const char *strategy,
    const char *knob, const char *reason, int cap)
{
	struct job	*j, *o;
	int		 names = 0;

	if (strategy == NULL || reason == NULL || cap < 0)
		return -1;
	if (knob == NULL)
		knob = "";
	j = job_new(JOB_DECISION);
	pthread_mutex_lock(&a->mtx);
	if (a->stopping) {
		a->stats.refused++;
		pthread_mutex_unlock(&a->mtx);
		job_free(j);
		return -1;
	}
again:
	TAILQ_FOREACH(o, &a->decisions, entry) {
		if (strcmp(o->reason, reason) != 0 ||
		    strcmp(o->strategy, strategy) != 0)
			continue;
		if (strcmp(o->knob, knob) == 0) {
			o->count++;
			memcpy(o->last_ts, j->ts, sizeof(o->last_ts));
			pthread_mutex_unlock(&a->mtx);
			job_free(j);
			return 0;
		}
		if (strcmp(o->knob, AUDIT_DECISION_OTHERS) != 0)
			names++;
	}
	if (cap > 0 && names >= AUDIT_DECISION_SLACK * cap &&
	    strcmp(knob, AUDIT_DECISION_OTHERS) != 0) {
		knob = AUDIT_DECISION_OTHERS;
		names = 0;
		goto again;
	}
	j->limit = cap;
	j->strategy = xstrdup(strategy);
	j->knob = xstrdup(knob);
	j->reason = xstrdup(reason);
	j->count = 1;
	memcpy(j->last_ts, j->ts, sizeof(j->last_ts));
	j->seq = ++a->seq_queued;
	TAILQ_INSERT_TAIL(&a->decisions, j, entry);
	a->stats.queued++;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mtx);
	return 0;
}

/*
 * Queue a housekeeping pass, done by the writer in steps so that other
 * writes are not held up: delete rows older than retention_days before
 * now_ms (wall clock), then the oldest rows while the data is larger than
 * the size cap, then give the free pages back to the file system.
 * Pending actions are kept.  audit_open queues one and the timer repeats
 * it every AUDIT_HOUSEKEEP_S.  Returns 0 when queued, -1 otherwise.
 */
int
audit_retention(struct audit *a, uint64_t now_ms)
{
	struct job	*j;
	uint64_t	 keep;
	int		 days;

	j = job_new(JOB_HOUSEKEEP);
	pthread_mutex_lock(&a->mtx);
	days = a->opts.retention_days;
	j->max_bytes = a->opts.max_bytes;
	pthread_mutex_unlock(&a->mtx);
	if (days > 0) {
		keep = (uint64_t)days * 86400 * 1000 + 1;
		if (audit_format_ts(now_ms > keep ? now_ms - keep : 0, j->ts,
		    sizeof(j->ts)) == -1) {
			job_free(j);
			return -1;
		}
		j->by_age = 1;
	}
	if (submit(a, j) == -1)
		return -1;
	pthread_mutex_lock(&a->mtx);
	a->stats.housekeeping++;
	pthread_mutex_unlock(&a->mtx);
	return 0;
}

/*
 * The newest limit actions (1 to AUDIT_LIMIT_MAX; more is clamped), newest
 * first, as a JSON array of objects named by column, for GET /v1/actions.
 * The reader thread runs the query on its own connection, which never
 * waits for the writer's lock: once the writes queued before this call are
 * committed, or after AUDIT_READ_WAIT_MS with what is committed by then.
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
	j->queued_ms = clock_mono_ms();
	pthread_mutex_lock(&a->mtx);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mtx);
		job_free(j);
		return -1;
	}
	j->want = a->seq_queued;
	TAILQ_INSERT_TAIL(&a->rqueue, j, entry);
	pthread_cond_signal(&a->rcond);
	pthread_mutex_unlock(&a->mtx);
	return 0;
}

/*
 * Wait until every write queued before this call is committed (or, at
 * close, given up on).  Blocks, for as long as the file cannot be written:
 * for start-up (before the start-up queries), shutdown and tests, never on
 * a running event loop.  Returns 0, or -1 if the log is closing or the
 * writes were given up.
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
	j->seq = ++a->seq_queued;
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

/* An SQLite result as RUN_OK, RUN_STALLED (try later) or RUN_REFUSED. */
static int
run_code(int rc)
{
	size_t	i;

	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return RUN_OK;
	for (i = 0; i < nitems(audit_stall_codes); i++)
		if ((rc & 0xff) == audit_stall_codes[i])
			return RUN_STALLED;
	return RUN_REFUSED;
}

/*
 * Why the writer cannot write, kept for its warning (a ROLLBACK would
 * clear SQLite's message).
 */
static int
stalled(struct audit *a, int rc)
{
	a->stall_code = rc;
	db_msg(a->db, a->stall_msg, sizeof(a->stall_msg));
	return RUN_STALLED;
}

/*
 * Step a writer statement to its end and reset it.  Returns RUN_OK,
 * RUN_STALLED (the reason kept for writer_wait) or RUN_REFUSED (logged:
 * the statement's own fault).
 */
static int
st_run(struct audit *a, int which)
{
	sqlite3_stmt	*st = a->st[which];
	char		 msg[512];
	int		 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (run_code(rc) == RUN_STALLED)
		stalled(a, sqlite3_extended_errcode(a->db));
	else if (rc != SQLITE_DONE)
		log_warnx("audit: %s: %s: %s", a->path, audit_sql[which],
		    db_msg(a->db, msg, sizeof(msg)));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return run_code(rc);
}

/* An error while binding: say why, clear the statement. */
static int
bind_fail(struct audit *a, int which)
{
	char	msg[512];
	int	rc = sqlite3_extended_errcode(a->db);

	if (rc == SQLITE_OK)
		rc = SQLITE_ERROR;
	if (run_code(rc) == RUN_STALLED)
		stalled(a, rc);
	else
		log_warnx("audit: %s: binding %s: %s", a->path,
		    audit_sql[which], db_msg(a->db, msg, sizeof(msg)));
	sqlite3_reset(a->st[which]);
	sqlite3_clear_bindings(a->st[which]);
	return run_code(rc);
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
	int		 rc = 0, run;

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
	if ((run = st_run(a, ST_ACT_INSERT)) != RUN_OK)
		return run;
	j->id = sqlite3_last_insert_rowid(a->db);
	return RUN_OK;
}

static int
exec_update(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st = a->st[ST_ACT_UPDATE];
	int		 rc = 0, run;

	rc |= sqlite3_bind_int64(st, 1, j->id);
	rc |= bind_text(st, 2, audit_statuses[j->status]);
	rc |= bind_real(st, 3, j->type == JOB_RECONCILE ? NAN : j->new_value);
	rc |= bind_text(st, 4, j->error);
	rc |= sqlite3_bind_text(st, 5, j->ts, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		return bind_fail(a, ST_ACT_UPDATE);
	if ((run = st_run(a, ST_ACT_UPDATE)) != RUN_OK)
		return run;
	if (sqlite3_changes(a->db) != 1) {
		log_warnx("audit: action %" PRId64 " is not pending: "
		    "update to %s ignored", j->id, audit_statuses[j->status]);
		return RUN_REFUSED;
	}
	return RUN_OK;
}

static int
exec_outcome(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st = a->st[ST_ACT_OUTCOME];
	int		 rc = 0, run;

	rc |= sqlite3_bind_int64(st, 1, j->id);
	rc |= bind_text(st, 2, audit_outcomes[j->outcome]);
	rc |= sqlite3_bind_text(st, 3, j->ts, -1, SQLITE_STATIC);
	j->verdict = json_normal(j->verdict);
	rc |= bind_text(st, 4, j->verdict);
	if (rc != SQLITE_OK)
		return bind_fail(a, ST_ACT_OUTCOME);
	if ((run = st_run(a, ST_ACT_OUTCOME)) != RUN_OK)
		return run;
	if (sqlite3_changes(a->db) != 1) {
		log_warnx("audit: action %" PRId64 " is not applied or has an "
		    "outcome: %s ignored", j->id, audit_outcomes[j->outcome]);
		return RUN_REFUSED;
	}
	return RUN_OK;
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
	return st_run(a, ST_EVENT);
}

static int
exec_strategy(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st = a->st[ST_STRATEGY];
	int		 rc = 0;

	rc |= sqlite3_bind_text(st, 1, j->ts, -1, SQLITE_STATIC);
	rc |= bind_text(st, 2, j->s1);
	rc |= bind_text(st, 3, j->s2);
	rc |= bind_text(st, 4, j->s3);
	rc |= bind_text(st, 5, j->s4);
	if (rc != SQLITE_OK)
		return bind_fail(a, ST_STRATEGY);
	return st_run(a, ST_STRATEGY);
}

static int
exec_reconcile(struct audit *a, struct job *j)
{
	char	*msg, *detail;
	cJSON	*d;
	int	 run;

	if ((run = exec_update(a, j)) != RUN_OK)
		return run;
	xasprintf(&msg, "action %" PRId64 " left pending by the previous "
	    "run: %s: %s", j->id, audit_statuses[j->status], j->error);
	if ((d = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(d, "id", (double)j->id) == NULL ||
	    cJSON_AddStringToObject(d, "status",
	    audit_statuses[j->status]) == NULL ||
	    (isnan(j->new_value) ?
	    cJSON_AddNullToObject(d, "read_back") :
	    cJSON_AddNumberToObject(d, "read_back", j->new_value)) == NULL ||
	    (detail = number_json_print(d)) == NULL)
		fatalx("audit: out of memory");
	cJSON_Delete(d);
	run = exec_event(a, j->ts, "reconcile", "audit", msg, detail);
	/* Keep them for the log line. */
	free(j->s3);
	j->s3 = msg;
	free(j->s4);
	j->s4 = xstrdup(detail);
	cJSON_free(detail);
	return run;
}

/*
 * Rows of (strategy, reason) other than the overflow row into *n:
 * RUN_OK, or why not.
 */
static int
decision_names(struct audit *a, struct job *j, int *n)
{
	sqlite3_stmt	*st = a->st[ST_DEC_NAMES];
	int		 rc;

	if (bind_text(st, 1, j->strategy) != SQLITE_OK ||
	    bind_text(st, 2, AUDIT_DECISION_OTHERS) != SQLITE_OK ||
	    bind_text(st, 3, j->reason) != SQLITE_OK)
		return bind_fail(a, ST_DEC_NAMES);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_ROW)
		return RUN_OK;
	return run_code(rc) == RUN_STALLED ? stalled(a, rc) : RUN_REFUSED;
}

static int
exec_decision(struct audit *a, struct job *j)
{
	sqlite3_stmt	*st;
	int		 i, which, rc, run, n = 0;

	for (i = 0; i < 2; i++) {
		which = i == 0 ? ST_DEC_UPDATE : ST_DEC_INSERT;
		/* A new name past the cap counts with the others. */
		if (i == 1 && j->limit > 0 && strcmp(j->knob,
		    AUDIT_DECISION_OTHERS) != 0) {
			if ((run = decision_names(a, j, &n)) != RUN_OK)
				return run;
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
		rc |= sqlite3_bind_text(st, 4, j->last_ts, -1, SQLITE_STATIC);
		rc |= sqlite3_bind_int64(st, 5, j->count);
		if (which == ST_DEC_INSERT)
			rc |= sqlite3_bind_text(st, 6, j->ts, -1,
			    SQLITE_STATIC);
		if (rc != SQLITE_OK)
			return bind_fail(a, which);
		if ((run = st_run(a, which)) != RUN_OK)
			return run;
		if (sqlite3_changes(a->db) == 1)
			return RUN_OK;
	}
	return RUN_REFUSED;
}

/*
 * Delete the oldest rows up to cutoff (a timestamp), at most limit per
 * table; pass_more says a table had more.
 */
static int
hk_delete(struct audit *a, struct job *j, const char *cutoff, int64_t limit)
{
	static const int	 which[] = { ST_RET_ACTIONS, ST_RET_EVENTS,
				    ST_RET_DECISIONS, ST_RET_STRATEGIES };
	size_t			 i;
	int			 n, run;

	for (i = 0; i < nitems(which); i++) {
		if (sqlite3_bind_text(a->st[which[i]], 1, cutoff, -1,
		    SQLITE_TRANSIENT) != SQLITE_OK ||
		    sqlite3_bind_int64(a->st[which[i]], 2,
		    limit) != SQLITE_OK)
			return bind_fail(a, which[i]);
		if ((run = st_run(a, which[i])) != RUN_OK)
			return run;
		n = sqlite3_changes(a->db);
		j->pass_removed += n;
		if (n == limit)
			j->pass_more = 1;
	}
	return RUN_OK;
}

/* Bytes of data, page size and free pages of the writer's database. */
static int
hk_size(struct audit *a, int64_t *bytes, int64_t *page, int64_t *free_pages)
{
	sqlite3_stmt	*st = a->st[ST_SIZE];
	int		 rc;

	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*bytes = sqlite3_column_int64(st, 0);
		*page = sqlite3_column_int64(st, 1);
		*free_pages = sqlite3_column_int64(st, 2);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_ERROR;
	if (rc != SQLITE_OK && run_code(rc) == RUN_STALLED)
		stalled(a, sqlite3_extended_errcode(a->db));
	sqlite3_reset(st);
	return run_code(rc);
}

/* One integer from a writer statement without parameters. */
static int
st_int(struct audit *a, int which, int64_t *out)
{
	sqlite3_stmt	*st = a->st[which];
	int		 rc;

	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_ERROR;
	if (rc != SQLITE_OK && run_code(rc) == RUN_STALLED)
		stalled(a, sqlite3_extended_errcode(a->db));
	sqlite3_reset(st);
	return run_code(rc);
}

/*
 * The size cap: while the data is larger than max_bytes, delete the oldest
 * rows that retention may delete, about as many as take the data down to
 * 90% of the cap (at most AUDIT_CHUNK a table and pass), and look again in
 * the next pass.  Stops when only pending rows are left.
 */
static int
hk_cap(struct audit *a, struct job *j)
{
	sqlite3_stmt		*st = a->st[ST_CAP_CUTOFF];
	const unsigned char	*s;
	char			 cutoff[AUDIT_TS_LEN] = "";
	int64_t			 bytes, page, free_pages, rows = 0, k;
	int			 rc;

	if (j->max_bytes == 0)
		return RUN_OK;
	if ((rc = hk_size(a, &bytes, &page, &free_pages)) != RUN_OK)
		return rc;
	if (bytes <= 0 || (uint64_t)bytes <= j->max_bytes)
		return RUN_OK;
	if ((rc = st_int(a, ST_ROWS, &rows)) != RUN_OK)
		return rc;
	k = (int64_t)((double)(bytes - (int64_t)(j->max_bytes / 10 * 9)) *
	    (double)rows / (double)bytes) + 1;
	k = k < 1 ? 1 : k > AUDIT_CHUNK ? AUDIT_CHUNK : k;
	if (sqlite3_bind_int64(st, 1, k) != SQLITE_OK)
		return bind_fail(a, ST_CAP_CUTOFF);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((s = sqlite3_column_text(st, 0)) != NULL)
			snprintf(cutoff, sizeof(cutoff), "%s", s);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK && run_code(rc) == RUN_STALLED)
		stalled(a, sqlite3_extended_errcode(a->db));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_OK)
		return run_code(rc);
	if (*cutoff == '\0') {
		log_warnx("audit: %s: %" PRId64 " bytes of data, over the cap "
		    "of %" PRIu64 ", but nothing left that may be deleted",
		    a->path, bytes, j->max_bytes);
		return RUN_OK;
	}
	j->pass_more = 1;
	return hk_delete(a, j, cutoff, k);
}

/* Give up to AUDIT_VACUUM_PAGES free pages back to the file system. */
static int
hk_vacuum(struct audit *a, struct job *j)
{
	int64_t	bytes, page, before, after;
	int	rc;

	if (!a->incremental)
		return RUN_OK;
	if ((rc = hk_size(a, &bytes, &page, &before)) != RUN_OK ||
	    before == 0)
		return rc;
	if ((rc = st_run(a, ST_VACUUM)) != RUN_OK ||
	    (rc = hk_size(a, &bytes, &page, &after)) != RUN_OK)
		return rc;
	j->pass_freed = before - after;
	j->pass_more = after > 0 && after < before;
	return RUN_OK;
}

/* Retention by age: rows up to the job's cutoff, if it has one. */
static int
hk_age(struct audit *a, struct job *j)
{
	return j->by_age ? hk_delete(a, j, j->ts, AUDIT_CHUNK) : RUN_OK;
}

/* The steps of a housekeeping job, by HK_* phase. */
static int (*const hk_steps[HK_DONE])(struct audit *, struct job *) = {
	[HK_AGE] = hk_age, [HK_SIZE] = hk_cap, [HK_VACUUM] = hk_vacuum,
};

/* One pass of the current step of a housekeeping job. */
static int
exec_housekeep(struct audit *a, struct job *j)
{
	j->pass_removed = j->pass_freed = 0;
	j->pass_more = 0;
	if (j->phase < 0 || j->phase >= HK_DONE)
		return RUN_OK;
	return hk_steps[j->phase](a, j);
}

/*
 * After the commit of a pass: count what it did and move to the next step.
 * Returns 1 if the job has more to do (requeue it), 0 when finished.
 */
static int
housekeep_next(struct audit *a, struct job *j)
{
	if (j->phase == HK_AGE)
		j->removed_age += j->pass_removed;
	else if (j->phase == HK_SIZE)
		j->removed_cap += j->pass_removed;
	j->freed += j->pass_freed;
	if (!j->pass_more)
		j->phase++;
	if (j->phase < HK_DONE)
		return 1;
	if (j->removed_age > 0)
		log_info("audit: %s: retention removed %" PRId64 " rows up to "
		    "%s", a->path, j->removed_age, j->ts);
	if (j->removed_cap > 0)
		log_info("audit: %s: the size cap of %" PRIu64 " MB removed "
		    "%" PRId64 " of the oldest rows", a->path,
		    j->max_bytes / (1024 * 1024), j->removed_cap);
	if (j->freed > 0) {
		log_info("audit: %s: %" PRId64 " free pages given back",
		    a->path, j->freed);
		a->want_checkpoint = 1;
	}
	return 0;
}

/*
 * Give a file made without incremental auto_vacuum the mode, which needs a
 * VACUUM (a copy of the file, out of any transaction).  If it fails (no
 * room for the copy), the file goes on as it is, its free pages reused but
 * not given back, and the next start tries again.
 */
static int
exec_convert(struct audit *a)
{
	char	msg[512];

	if (db_step_all(a->db, "PRAGMA auto_vacuum = INCREMENTAL") == -1 ||
	    db_step_all(a->db, "VACUUM") == -1) {
		log_warnx("audit: %s: converting to incremental auto_vacuum: "
		    "%s; free pages are reused but not given back until it "
		    "succeeds (at a later start)", a->path,
		    db_msg(a->db, msg, sizeof(msg)));
		return RUN_REFUSED;
	}
	a->incremental = 1;
	log_info("audit: %s: converted to incremental auto_vacuum", a->path);
	return RUN_OK;
}

/* Run the query of a JOB_NEWEST on the reader's connection. */
static int
exec_newest(struct audit *a, struct job *j)
{
	char	msg[512];

	if (sqlite3_bind_int(a->newest, 1, j->limit) != SQLITE_OK) {
		sqlite3_reset(a->newest);
		return -1;
	}
	j->json = rows_json(a->newest);
	if (j->json == NULL)
		log_warnx("audit: %s: reading the newest actions: %s",
		    a->path, db_msg(a->qdb, msg, sizeof(msg)));
	sqlite3_reset(a->newest);
	sqlite3_clear_bindings(a->newest);
	return j->json == NULL ? -1 : 0;
}

/* Run one job inside the current transaction: a RUN_* code. */
static int
job_exec(struct audit *a, struct job *j)
{
	switch (j->type) {
	case JOB_ACTION:
		return exec_action(a, j);
	case JOB_UPDATE:
		return exec_update(a, j);
	case JOB_OUTCOME:
		return exec_outcome(a, j);
	case JOB_RECONCILE:
		return exec_reconcile(a, j);
	case JOB_EVENT:
		j->s4 = json_normal(j->s4);
		return exec_event(a, j->ts, j->s1, j->s2, j->s3, j->s4);
	case JOB_STRATEGY:
		return exec_strategy(a, j);
	case JOB_DECISION:
		return exec_decision(a, j);
	case JOB_HOUSEKEEP:
		return exec_housekeep(a, j);
	case JOB_CONVERT:	/* out of transactions, see writer_batch */
	case JOB_NEWEST:	/* the reader's */
	case JOB_SYNC:
		return RUN_OK;
	}
	return RUN_REFUSED;
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
 * A job as one JSON line in the daemon's log: once committed ("audit:
 * {...}"), so that syslog or journald shipping carries the audit trail;
 * or, written 0, one that never reached the file ("audit: not written:
 * {...}", a warning), so that nothing is lost without a trace.
 */
static void
job_log(struct job *j, int written)
{
	cJSON	*o;
	char	*s;

	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("audit: out of memory");
	switch (j->type) {
	case JOB_ACTION:
		add_str(o, "table", "actions");
		add_str(o, "op", "insert");
		add_num(o, "id", written ? (double)j->id : NAN);
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
	case JOB_DECISION:
		if (written)		/* counters: no line each */
			goto none;
		add_str(o, "table", "decisions");
		add_str(o, "strategy", j->strategy);
		add_str(o, "knob", j->knob);
		add_str(o, "reason", j->reason);
		add_num(o, "count", (double)j->count);
		add_str(o, "first_ts", j->ts);
		add_str(o, "last_ts", j->last_ts);
		break;
	default:
		goto none;
	}
	if ((s = number_json_print(o)) == NULL)
		fatalx("audit: out of memory");
	if (written)
		log_info("audit: %s", s);
	else
		log_warnx("audit: not written: %s", s);
	cJSON_free(s);
none:
	cJSON_Delete(o);
}

/* Undo what a try of the batch did to its jobs, before the next one. */
static void
batch_reset(struct jobq *batch)
{
	struct job	*j;

	TAILQ_FOREACH(j, batch, entry) {
		if (j->type == JOB_ACTION)
			j->id = 0;
		j->pass_removed = j->pass_freed = 0;
		j->pass_more = 0;
	}
}

/*
 * Try the batch in one transaction.  RUN_OK once committed; RUN_REFUSED
 * with *bad the job SQLite refused for itself; RUN_STALLED if nothing can
 * be written now.  Either failure leaves the transaction to roll back.
 */
static int
batch_try(struct audit *a, struct jobq *batch, struct job **bad)
{
	struct job	*j;
	int		 run;

	*bad = NULL;
	if (st_run(a, ST_BEGIN) != RUN_OK)
		return RUN_STALLED;
	TAILQ_FOREACH(j, batch, entry) {
		if ((run = job_exec(a, j)) != RUN_OK) {
			*bad = j;
			return run;
		}
		if (sqlite3_get_autocommit(a->db))	/* rolled back */
			return stalled(a, sqlite3_extended_errcode(a->db));
	}
	if (st_run(a, ST_COMMIT) != RUN_OK)
		return RUN_STALLED;
	return RUN_OK;
}

/*
 * The database cannot be written now: say so (at once, then after
 * AUDIT_WARN_FIRST_MS and at doubling intervals, so a long stall does not
 * flood the log), and wait before the next try: 0.1 s for a lock (the
 * busy timeout has waited already), 0.1 s doubling to 2 s for a full disk
 * or an I/O error.  Returns 1 if audit_close gave up on the writes.
 */
static int
writer_wait(struct audit *a, size_t waiting)
{
	struct timespec	 until;
	uint64_t	 now = clock_mono_ms(), since, ms;
	int		 gave_up, code = a->stall_code & 0xff;

	pthread_mutex_lock(&a->mtx);
	a->stats.retries++;
	if (a->stall_start_ms == 0)
		a->stall_start_ms = now;
	since = a->stall_start_ms;
	waiting += a->stats.queued;
	pthread_mutex_unlock(&a->mtx);
	if (a->stall_tries == 0) {
		log_warnx("audit: %s: cannot write: %s; the rows wait in "
		    "memory, in order, and are tried again", a->path,
		    a->stall_msg);
		a->warn_every_ms = AUDIT_WARN_FIRST_MS;
		a->warn_next_ms = now + a->warn_every_ms;
	} else if (now >= a->warn_next_ms) {
		log_warnx("audit: %s: still cannot write after %" PRIu64
		    " s: %s; %zu rows wait", a->path, (now - since) / 1000,
		    a->stall_msg, waiting);
		a->warn_every_ms = a->warn_every_ms * 2 > AUDIT_WARN_MAX_MS ?
		    AUDIT_WARN_MAX_MS : a->warn_every_ms * 2;
		a->warn_next_ms = now + a->warn_every_ms;
	}
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		ms = AUDIT_RETRY_MIN_MS;
	else
		ms = a->stall_tries >= 5 ? AUDIT_RETRY_MAX_MS :
		    (uint64_t)AUDIT_RETRY_MIN_MS << a->stall_tries;
	if (ms > AUDIT_RETRY_MAX_MS)
		ms = AUDIT_RETRY_MAX_MS;
	a->stall_tries++;
	until = deadline_in(ms);
	pthread_mutex_lock(&a->mtx);
	while (!a->abandon && pthread_cond_timedwait(&a->stall_cond, &a->mtx,
	    &until) != ETIMEDOUT)
		;
	gave_up = a->abandon;
	pthread_mutex_unlock(&a->mtx);
	return gave_up;
}

/* A batch went through: if writes had been failing, say they work again. */
static void
writer_flowing(struct audit *a)
{
	uint64_t	since;

	if (a->stall_tries == 0)
		return;
	pthread_mutex_lock(&a->mtx);
	since = a->stall_start_ms;
	a->stall_start_ms = 0;
	pthread_mutex_unlock(&a->mtx);
	log_warnx("audit: %s: writing again after %.1f s and %u tries; "
	    "nothing was lost", a->path,
	    (double)(clock_mono_ms() - since) / 1000, a->stall_tries);
	a->stall_tries = 0;
}

/*
 * Run a batch in one transaction until it commits.  When the database
 * cannot be written, roll back, wait and try the same batch again (never
 * drop it); a job SQLite refuses for itself leaves the batch (failed,
 * logged) and the rest is tried again without it.  Only when audit_close
 * gives up do the jobs fail, each logged as "audit: not written".
 */
static void
writer_batch(struct audit *a, struct jobq *batch)
{
	struct job	*j, *bad;
	struct jobq	 refused, requeue, done;
	size_t		 n = 0;
	int		 run = RUN_STALLED, gave_up = 0, wake_loop = 0;
	int		 synced = 0;
	uint64_t	 written = 0, failed = 0, commits = 0, last = 0;
	uint64_t	 hk_ended = 0;

	TAILQ_INIT(&refused);
	TAILQ_FOREACH(j, batch, entry) {
		n++;
		last = j->seq > last ? j->seq : last;
	}
	j = TAILQ_FIRST(batch);
	if (j != NULL && j->type == JOB_CONVERT)
		j->rc = exec_convert(a) == RUN_OK ? 0 : -1;
	else {
		for (;;) {
			pthread_mutex_lock(&a->mtx);
			gave_up = a->abandon;
			pthread_mutex_unlock(&a->mtx);
			if (gave_up)
				break;
			run = batch_try(a, batch, &bad);
			if (run == RUN_OK)
				break;
			if (!sqlite3_get_autocommit(a->db))
				(void)st_run(a, ST_ROLLBACK);
			batch_reset(batch);
			if (run == RUN_REFUSED && bad != NULL) {
				bad->rc = -1;
				TAILQ_REMOVE(batch, bad, entry);
				TAILQ_INSERT_TAIL(&refused, bad, entry);
				n--;
				continue;
			}
			if ((gave_up = writer_wait(a, n)) != 0)
				break;
		}
		if (run == RUN_OK) {
			commits++;
			writer_flowing(a);
		}
		TAILQ_FOREACH(j, batch, entry)
			j->rc = run == RUN_OK ? 0 : -1;
		TAILQ_CONCAT(batch, &refused, entry);
	}

	TAILQ_INIT(&requeue);
	TAILQ_INIT(&done);
	while ((j = TAILQ_FIRST(batch)) != NULL) {
		TAILQ_REMOVE(batch, j, entry);
		if (j->type == JOB_SYNC) {
			j->synced = 1;
			synced = 1;
			continue;		/* audit_sync frees it */
		}
		if (j->type == JOB_CONVERT) {
			job_free(j);
			continue;
		}
		if (j->rc == 0)
			written++;
		else
			failed++;
		job_log(j, j->rc == 0);
		if (j->type == JOB_ACTION && j->rc != 0)
			j->id = -1;
		if (j->type == JOB_HOUSEKEEP && j->rc == 0 &&
		    housekeep_next(a, j)) {
			TAILQ_INSERT_TAIL(&requeue, j, entry);
			continue;
		}
		if (j->type == JOB_HOUSEKEEP)
			hk_ended++;
		if (j->id_cb != NULL || j->json_cb != NULL) {
			TAILQ_INSERT_TAIL(&done, j, entry);
			wake_loop = 1;
			continue;
		}
		job_free(j);
	}

	/* Pages given back leave the file once the WAL is copied into it. */
	if (a->want_checkpoint && !gave_up) {
		a->want_checkpoint = 0;
		(void)sqlite3_wal_checkpoint_v2(a->db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}

	pthread_mutex_lock(&a->mtx);
	a->stats.written += written;
	a->stats.failed += failed;
	a->stats.commits += commits;
	a->stats.housekeeping -= hk_ended;
	if (last > a->seq_done)
		a->seq_done = last;
	TAILQ_CONCAT(&a->done, &done, entry);
	while ((j = TAILQ_FIRST(&requeue)) != NULL) {
		TAILQ_REMOVE(&requeue, j, entry);
		TAILQ_INSERT_TAIL(&a->queue, j, entry);
		a->stats.queued++;
	}
	if (synced)
		pthread_cond_broadcast(&a->sync_cond);
	pthread_cond_broadcast(&a->commit_cond);
	pthread_mutex_unlock(&a->mtx);
	if (wake_loop)
		wake(a);
}

/*
 * The writer thread: take what is queued (a conversion alone, else up to
 * AUDIT_BATCH_MAX jobs and every folded refusal) and write it, until the
 * log closes and nothing is left.
 */
static void *
writer_main(void *arg)
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
		while (TAILQ_EMPTY(&a->queue) && TAILQ_EMPTY(&a->decisions) &&
		    !a->stopping)
			pthread_cond_wait(&a->cond, &a->mtx);
		if (TAILQ_EMPTY(&a->queue) && TAILQ_EMPTY(&a->decisions)) {
			a->writer_done = 1;
			pthread_cond_broadcast(&a->commit_cond);
			pthread_mutex_unlock(&a->mtx);
			break;
		}
		TAILQ_INIT(&batch);
		j = TAILQ_FIRST(&a->queue);
		if (j != NULL && j->type == JOB_CONVERT) {
			TAILQ_REMOVE(&a->queue, j, entry);
			TAILQ_INSERT_TAIL(&batch, j, entry);
			a->stats.queued--;
		} else {
			for (n = 0; n < AUDIT_BATCH_MAX &&
			    (j = TAILQ_FIRST(&a->queue)) != NULL &&
			    j->type != JOB_CONVERT; n++) {
				TAILQ_REMOVE(&a->queue, j, entry);
				TAILQ_INSERT_TAIL(&batch, j, entry);
				a->stats.queued--;
			}
			while ((j = TAILQ_FIRST(&a->decisions)) != NULL) {
				TAILQ_REMOVE(&a->decisions, j, entry);
				TAILQ_INSERT_TAIL(&batch, j, entry);
				a->stats.queued--;
			}
		}
		pthread_mutex_unlock(&a->mtx);
		writer_batch(a, &batch);
	}
	return NULL;
}

/*
 * The reader thread: answer reads of the API on its own read-only
 * connection, each once the writes queued before it are committed or
 * AUDIT_READ_WAIT_MS have passed, whichever comes first; at once while the
 * writer cannot write.
 */
static void *
reader_main(void *arg)
{
	struct audit	*a = arg;
	struct timespec	 until;
	struct job	*j;
	uint64_t	 now, waited;

	for (;;) {
		pthread_mutex_lock(&a->mtx);
		while (TAILQ_EMPTY(&a->rqueue) && !a->stopping)
			pthread_cond_wait(&a->rcond, &a->mtx);
		if ((j = TAILQ_FIRST(&a->rqueue)) == NULL) {
			pthread_mutex_unlock(&a->mtx);
			break;
		}
		now = clock_mono_ms();
		waited = now - j->queued_ms;
		if (waited < AUDIT_READ_WAIT_MS) {
			until = deadline_in(AUDIT_READ_WAIT_MS - waited);
			while (a->seq_done < j->want && !a->writer_done &&
			    a->stall_start_ms == 0 &&
			    pthread_cond_timedwait(&a->commit_cond, &a->mtx,
			    &until) != ETIMEDOUT)
				;
		}
		TAILQ_REMOVE(&a->rqueue, j, entry);
		pthread_mutex_unlock(&a->mtx);

		j->rc = exec_newest(a, j);

		pthread_mutex_lock(&a->mtx);
		TAILQ_INSERT_TAIL(&a->done, j, entry);
		pthread_mutex_unlock(&a->mtx);
		wake(a);
	}
	return NULL;
}

/* Have the event loop run deliver. */
static void
wake(struct audit *a)
{
	if (write(a->wake[1], "", 1) == -1 && errno != EAGAIN)
		log_warn("audit: waking the event loop");
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

/* The housekeeping timer: a pass, unless one is still under way. */
static void
housekeep_cb(evutil_socket_t fd, short events, void *arg)
{
	struct audit	*a = arg;
	uint64_t	 pending;

	pthread_mutex_lock(&a->mtx);
	pending = a->stats.housekeeping;
	pthread_mutex_unlock(&a->mtx);
	if (pending == 0)
		audit_retention(a, clock_wall_ms());
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
	if ((out = number_json_print(arr)) == NULL)
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
