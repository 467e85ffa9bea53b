#!/bin/sh
# audit_file.sh -- end to end: the audit log is meshtune's or nothing.
# At start, meshtuned refuses another program's SQLite database (an app's
# "users" table, in rollback-journal mode), a damaged meshtune log and the
# log of a newer meshtune: it exits 1 with a message naming the file, and
# the file keeps every byte (same SHA-256) with no -wal or -shm beside it.
# With audit.on_bad_file "move" the file is moved aside, bytes intact, and
# a new log starts, whose first event says where the old one went.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

command -v sqlite3 >/dev/null 2>&1 || { echo "no sqlite3: skipped"; exit 77; }

DB="$T/audit.db"
q() {
	sqlite3 -cmd ".timeout 5000" "$DB" "$1"
}

conf() {	# on_bad_file
	cat > "$T/conf" <<CONF
{ "tick_interval_ms": 200, "audit": { "path": "$DB", "on_bad_file": "$1" } }
CONF
}

# refused WHAT: meshtuned exits 1 naming the file and saying WHAT, and
# leaves the file as it was.
refused() {
	sum=$(sha256sum < "$DB")
	status=0
	timeout 60 "$top_builddir/meshtuned" -f -c "$T/conf" 2>"$T/log" ||
	    status=$?
	[ "$status" = 1 ] || fail "exit status $status, not 1, for $1"
	grep -q "audit: $DB: $1 (.*): refused and left untouched" "$T/log" ||
	    fail "no refusal naming $DB and saying '$1'"
	[ "$(sha256sum < "$DB")" = "$sum" ] || fail "$1: the file changed"
	[ ! -e "$DB-wal" ] && [ ! -e "$DB-shm" ] && [ ! -e "$DB-journal" ] ||
	    fail "$1: files left beside it: $(ls "$T")"
	echo "ok: refused, untouched: $(grep 'refused and left' "$T/log")"
}

# 1. Another program's database.
conf refuse
sqlite3 "$DB" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
    INSERT INTO users (name) VALUES ('ada'), ('bob');"
refused "not a meshtune audit log"
[ "$(q "PRAGMA journal_mode")" = delete ] || fail "journal mode changed"
[ "$(q "SELECT group_concat(name) FROM sqlite_master")" = users ] ||
    fail "tables added"

# 2. The same with "move": moved aside whole, a new log in its place.
conf move
sum=$(sha256sum < "$DB")
start_daemon
wait_started 20
stop_daemon
[ "$DSTATUS" -eq 0 ] || fail "exit status $DSTATUS with on_bad_file move"
moved=$(q "SELECT json_extract(detail, '\$.to') FROM events
    WHERE kind = 'audit_moved'")
case "$moved" in
"$DB".refused-*) ;;
*) fail "no audit_moved event naming the new place: '$moved'" ;;
esac
[ "$(sha256sum < "$moved")" = "$sum" ] || fail "the moved file changed"
grep -q "warning: audit: $DB: not a meshtune audit log .*: moved to $moved" \
    "$T/log" || fail "no warning of the move"
[ "$(q "PRAGMA application_id")" = 1297372494 ] || fail "no application id"
[ "$(q "PRAGMA auto_vacuum")" = 2 ] || fail "auto_vacuum not incremental"
rm -f "$moved"

# 3. A damaged meshtune log: a page in the middle overwritten.
conf refuse
q "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
    WHERE i < 3000) INSERT INTO events (ts, kind, source, message)
    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'reload', 'test',
    printf('row %d of many, long enough to fill pages', i) FROM n"
pages=$(q "PRAGMA page_count")
size=$(q "PRAGMA page_size")
[ "$pages" -gt 20 ] || fail "only $pages pages"
[ ! -e "$DB-wal" ] || fail "a -wal file left by sqlite3"
head -c "$size" /dev/zero | tr '\0' 'Z' |
    dd of="$DB" bs="$size" seek=$((pages / 2)) conv=notrunc 2>/dev/null
refused "damaged or not an SQLite database"

# 4. The log of a newer meshtune: its application id, schema version 99.
rm -f "$DB"
start_daemon
wait_started 20
stop_daemon
q "PRAGMA user_version = 99"
refused "the audit log of a newer meshtune"
grep -q "schema version 99" "$T/log" || fail "version not named"

# 5. Not SQLite at all.
printf 'meshtune? no, a text file that happens to be here\n' > "$DB"
refused "damaged or not an SQLite database"

echo "ok: foreign, damaged, newer and non-SQLite files refused untouched"
