/*
 * audit_file.c -- what lies at the audit log's path, found out before
 * anything is written there.
 *
 * The audit log is meshtune's or nothing: a file is adopted only when it
 * is absent, empty, or carries meshtune's application id (or is the log of
 * a meshtune from before application ids, recognised by its schema).
 * Everything else -- another program's database, a damaged file, the log
 * of a newer meshtune -- is refused, and refusing must leave it exactly as
 * it was: no journal-mode switch, no table, no -wal or -shm file.  So the
 * inspection reads the header with read(2), then asks SQLite through a
 * read-only connection, "immutable" (no locks, no -shm) when no -wal or
 * -journal file exists, since the main file then holds everything.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "meshtuned.h"

#define HEADER_LEN	100		/* the SQLite database header */
#define MAGIC		"SQLite format 3"	/* and its NUL: 16 bytes */
#define INSPECT_BUSY_MS	2000		/* a -wal being recovered by another */

/* The tables every meshtune schema has had since version 1. */
static const char *const audit_tables[] = {
	"actions", "decisions", "events", "strategies",
};

/* Files SQLite keeps beside a database, moved along with it. */
static const char *const companions[] = { "-wal", "-shm", "-journal" };

static const char *const kind_names[] = {
	[AUDIT_FILE_NEW] = "absent or empty",
	[AUDIT_FILE_EMPTY] = "an empty SQLite database",
	[AUDIT_FILE_OURS] = "a meshtune audit log",
	[AUDIT_FILE_LEGACY] = "an audit log of an earlier meshtune",
	[AUDIT_FILE_FUTURE] = "the audit log of a newer meshtune",
	[AUDIT_FILE_FOREIGN] = "not a meshtune audit log",
	[AUDIT_FILE_CORRUPT] = "damaged or not an SQLite database",
	[AUDIT_FILE_ERROR] = "unreadable",
};

/* What a kind means, for messages ("not a meshtune audit log"). */
const char *
audit_file_kind_name(enum audit_file_kind k)
{
	if ((unsigned)k >= nitems(kind_names))
		return "unknown";
	return kind_names[k];
}

static int	classify(struct audit_file *, enum audit_file_kind,
		    const char *, ...) __printflike(3, 4);
static int	move_err(char *, size_t, const char *, ...)
		    __printflike(3, 4);

static int
classify(struct audit_file *f, enum audit_file_kind kind, const char *fmt,
    ...)
{
	va_list	 ap;
	char	*p;

	f->kind = kind;
	va_start(ap, fmt);
	vsnprintf(f->what, sizeof(f->what), fmt, ap);
	va_end(ap);
	/* One line: SQLite's own messages may hold newlines. */
	for (p = f->what; *p != '\0'; p++)
		if ((unsigned char)*p < ' ')
			*p = ' ';
	return kind == AUDIT_FILE_ERROR ? -1 : 0;
}

static int
exists(const char *path, const char *suffix)
{
	struct stat	st;
	char		p[PATH_MAX];

	if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix) >= sizeof(p))
		return 0;
	return lstat(p, &st) == 0;
}

/*
 * "file:" and path as an SQLite URI, every byte outside a safe set
 * percent-encoded (so '?', '#' and '%' in a name mean themselves), and a
 * second leading slash too (it would start an authority).
 */
static char *
uri_of(const char *path, const char *query)
{
	static const char	 safe[] = "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-/";
	size_t			 i, n = strlen(path);
	char			*u, *p;

	u = p = xmalloc(5 + n * 3 + strlen(query) + 2);
	memcpy(p, "file:", 5);
	p += 5;
	for (i = 0; i < n; i++) {
		if (strchr(safe, path[i]) != NULL && (i != 1 ||
		    path[0] != '/' || path[1] != '/'))
			*p++ = path[i];
		else
			p += sprintf(p, "%%%02X", (unsigned char)path[i]);
	}
	*p++ = '?';
	strcpy(p, query);
	return u;
}

/* One integer from a statement; -1 with the SQLite code in *rc if none. */
static int
q_int(sqlite3 *db, const char *sql, int64_t *out, int *rc)
{
	sqlite3_stmt	*st;

	if ((*rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return -1;
	if ((*rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		*rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return *rc == SQLITE_OK ? 0 : -1;
}

/* The first row of PRAGMA quick_check: "ok", or the first problem. */
static int
q_check(sqlite3 *db, char *out, size_t len, int *rc)
{
	sqlite3_stmt		*st;
	const unsigned char	*s;

	if ((*rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st,
	    NULL)) != SQLITE_OK)
		return -1;
	if ((*rc = sqlite3_step(st)) == SQLITE_ROW) {
		s = sqlite3_column_text(st, 0);
		snprintf(out, len, "%s", s != NULL ? (const char *)s : "?");
		*rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return *rc == SQLITE_OK ? 0 : -1;
}

/*
 * The user tables, sorted and comma-separated, into out (cut to fit);
 * *n counts every schema object (tables, indexes, views, triggers).
 */
static int
q_tables(sqlite3 *db, char *out, size_t len, int64_t *n, int *rc)
{
	sqlite3_stmt		*st;
	const unsigned char	*s;
	size_t			 off = 0;

	out[0] = '\0';
	if (q_int(db, "SELECT count(*) FROM sqlite_master", n, rc) == -1)
		return -1;
	if ((*rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master "
	    "WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
	    "ORDER BY name", -1, &st, NULL)) != SQLITE_OK)
		return -1;
	while ((*rc = sqlite3_step(st)) == SQLITE_ROW) {
		s = sqlite3_column_text(st, 0);
		if (s != NULL && off < len)
			off += snprintf(out + off, len - off, "%s%s",
			    off ? "," : "", (const char *)s);
	}
	sqlite3_finalize(st);
	if (*rc != SQLITE_DONE)
		return -1;
	*rc = SQLITE_OK;
	return 0;
}

/* Whether the comma-separated list has every table of audit_tables. */
static int
has_audit_tables(const char *list, const char **missing)
{
	const char	*p;
	size_t		 i, n;
	int		 found;

	for (i = 0; i < nitems(audit_tables); i++) {
		n = strlen(audit_tables[i]);
		found = 0;
		for (p = list; *p != '\0'; p += strcspn(p, ",") +
		    (p[strcspn(p, ",")] == ',')) {
			if (strncmp(p, audit_tables[i], n) == 0 &&
			    (p[n] == ',' || p[n] == '\0'))
				found = 1;
		}
		if (!found) {
			*missing = audit_tables[i];
			return 0;
		}
	}
	return 1;
}

/* What SQLite said, as a kind: damage, or trouble reading the file. */
static int
sqlite_trouble(struct audit_file *f, sqlite3 *db, int rc, const char *doing)
{
	int	e = db != NULL ? sqlite3_system_errno(db) : 0;

	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
	case SQLITE_RANGE:
		return classify(f, AUDIT_FILE_CORRUPT, "%s: %s", doing,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	default:
		return classify(f, AUDIT_FILE_ERROR, "%s: %s%s%s%s", doing,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
		    e ? " (" : "", e ? strerror(e) : "", e ? ")" : "");
	}
}

/* The schema's answers, as a kind. */
static int
judge(struct audit_file *f, int64_t objects, const char *tables)
{
	const char	*missing = NULL;

	if (f->app_id == AUDIT_APP_ID) {
		if (f->version > AUDIT_SCHEMA_VERSION)
			return classify(f, AUDIT_FILE_FUTURE, "schema version "
			    "%d, newer than this meshtune's %d", f->version,
			    AUDIT_SCHEMA_VERSION);
		if (f->version >= 1 && !has_audit_tables(tables, &missing))
			return classify(f, AUDIT_FILE_CORRUPT, "meshtune's "
			    "application id, but no table \"%s\"", missing);
		return classify(f, AUDIT_FILE_OURS, "schema version %d",
		    f->version);
	}
	if (f->app_id == 0 && f->version == 0 && objects == 0)
		return classify(f, AUDIT_FILE_EMPTY, "no tables");
	if (f->app_id == 0 && f->version >= 1 &&
	    f->version <= AUDIT_LEGACY_VERSION &&
	    has_audit_tables(tables, &missing))
		return classify(f, AUDIT_FILE_LEGACY, "schema version %d, no "
		    "application id yet", f->version);
	return classify(f, AUDIT_FILE_FOREIGN, "application id %u (0x%08x, "
	    "meshtune's is 0x%08x), schema version %d, tables: %s",
	    (unsigned)f->app_id, (unsigned)f->app_id, (unsigned)AUDIT_APP_ID,
	    f->version, *tables != '\0' ? tables : "none");
}

/*
 * Find out what lies at path, changing nothing there: f->kind says what,
 * f->what says why in words for a message; version, app_id and
 * auto_vacuum are filled once SQLite could read the file.  Reads the whole
 * file once (PRAGMA quick_check).  Returns 0, or -1 when the file cannot
 * be read at all (f->kind is AUDIT_FILE_ERROR, f->what says why).
 */
int
audit_file_inspect(const char *path, struct audit_file *f)
{
	struct stat	 st;
	unsigned char	 hdr[HEADER_LEN];
	sqlite3		*db = NULL;
	char		*uri, check[200], tables[400];
	int64_t		 v, objects;
	ssize_t		 n;
	int		 fd, rc, ret;

	memset(f, 0, sizeof(*f));
	if (stat(path, &st) == -1) {
		if (errno != ENOENT)
			return classify(f, AUDIT_FILE_ERROR, "%s",
			    strerror(errno));
		if (exists(path, "-wal") || exists(path, "-journal"))
			return classify(f, AUDIT_FILE_CORRUPT, "no database, "
			    "but a -wal or -journal file of one");
		return classify(f, AUDIT_FILE_NEW, "absent");
	}
	if (!S_ISREG(st.st_mode))
		return classify(f, AUDIT_FILE_ERROR, "not a regular file");
	if (st.st_size == 0 && !exists(path, "-wal"))
		return classify(f, AUDIT_FILE_NEW, "empty (0 bytes)");

	if (st.st_size > 0) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return classify(f, AUDIT_FILE_ERROR, "%s",
			    strerror(errno));
		n = pread(fd, hdr, sizeof(hdr), 0);
		close(fd);
		if (n == -1)
			return classify(f, AUDIT_FILE_ERROR, "%s",
			    strerror(errno));
		if (n < HEADER_LEN || memcmp(hdr, MAGIC, sizeof(MAGIC)) != 0)
			return classify(f, AUDIT_FILE_CORRUPT, "no SQLite "
			    "header");
	}

	uri = uri_of(path, exists(path, "-wal") || exists(path, "-journal") ?
	    "mode=ro" : "mode=ro&immutable=1");
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_URI, NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		ret = sqlite_trouble(f, db, rc, "opening read-only");
		sqlite3_close(db);
		return ret;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, INSPECT_BUSY_MS);
	if (q_check(db, check, sizeof(check), &rc) == -1) {
		ret = sqlite_trouble(f, db, rc, "checking");
		goto out;
	}
	if (strcmp(check, "ok") != 0) {
		ret = classify(f, AUDIT_FILE_CORRUPT, "PRAGMA quick_check: "
		    "%s", check);
		goto out;
	}
	if (q_int(db, "PRAGMA application_id", &v, &rc) == -1) {
		ret = sqlite_trouble(f, db, rc, "reading the application id");
		goto out;
	}
	f->app_id = (uint32_t)v;
	if (q_int(db, "PRAGMA user_version", &v, &rc) == -1) {
		ret = sqlite_trouble(f, db, rc, "reading the schema version");
		goto out;
	}
	f->version = (int)v;
	if (q_int(db, "PRAGMA auto_vacuum", &v, &rc) == -1) {
		ret = sqlite_trouble(f, db, rc, "reading auto_vacuum");
		goto out;
	}
	f->auto_vacuum = (int)v;
	if (q_tables(db, tables, sizeof(tables), &objects, &rc) == -1) {
		ret = sqlite_trouble(f, db, rc, "reading the schema");
		goto out;
	}
	ret = judge(f, objects, tables);
out:
	sqlite3_close(db);
	return ret;
}

static int
move_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Move the file at path, and any -wal, -shm or -journal file beside it,
 * to "PATH.refused-YYYYmmddTHHMMSSZ" (".1", ".2"... if taken), never
 * replacing anything.  The new name goes to to.  Returns 0, or -1 with a
 * message in err; a failed move puts back what it had moved.
 */
int
audit_file_move_aside(const char *path, char *to, size_t tolen, char *err,
    size_t errlen)
{
	char		 stamp[32], from_c[PATH_MAX], to_c[PATH_MAX];
	struct tm	 tm;
	time_t		 now = time(NULL);
	size_t		 i, moved;
	int		 n, e;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return move_err(err, errlen, "the clock is out of range");
	for (n = 0; n < 100; n++) {
		if (n == 0)
			e = snprintf(to, tolen, "%s.refused-%s", path, stamp);
		else
			e = snprintf(to, tolen, "%s.refused-%s.%d", path,
			    stamp, n);
		if (e < 0 || (size_t)e + sizeof("-journal") > tolen)
			return move_err(err, errlen, "%s: name too long",
			    path);
		if (!exists(to, "") && !exists(to, "-wal") &&
		    !exists(to, "-shm") && !exists(to, "-journal"))
			break;
	}
	if (n == 100)
		return move_err(err, errlen, "%s: no free name to move it to",
		    path);
	if (renameat2(AT_FDCWD, path, AT_FDCWD, to, RENAME_NOREPLACE) == -1)
		return move_err(err, errlen, "moving %s to %s: %s", path, to,
		    strerror(errno));
	for (moved = 0; moved < nitems(companions); moved++) {
		snprintf(from_c, sizeof(from_c), "%s%s", path,
		    companions[moved]);
		snprintf(to_c, sizeof(to_c), "%s%s", to, companions[moved]);
		if (renameat2(AT_FDCWD, from_c, AT_FDCWD, to_c,
		    RENAME_NOREPLACE) == -1 && errno != ENOENT)
			break;
	}
	if (moved == nitems(companions))
		return 0;
	move_err(err, errlen, "moving %s%s to %s%s: %s", path,
	    companions[moved], to, companions[moved], strerror(errno));
	for (i = 0; i < moved; i++) {
		snprintf(from_c, sizeof(from_c), "%s%s", path, companions[i]);
		snprintf(to_c, sizeof(to_c), "%s%s", to, companions[i]);
		(void)renameat2(AT_FDCWD, to_c, AT_FDCWD, from_c,
		    RENAME_NOREPLACE);
	}
	(void)renameat2(AT_FDCWD, to, AT_FDCWD, path, RENAME_NOREPLACE);
	return -1;
}
