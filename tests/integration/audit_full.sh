#!/bin/sh
# audit_full.sh -- end to end: the disk holding the audit log fills up (a
# small tmpfs this test mounts, filled to the last block) through an
# episode with verifications.  Writes fail and wait, with a few warnings
# rather than one per try; GET /v1/actions is still answered; once space
# is freed, every row and every outcome the governor decided is in the
# file.  Skipped (77) where mounting a tmpfs is not allowed.
set -eu
. "$top_srcdir/tests/integration/lib.sh"

MNT="$T/mnt"
mkdir "$MNT"
if ! mount -t tmpfs -o size=8m,mode=0700 tmpfs "$MNT" 2>/dev/null; then
	echo "cannot mount a tmpfs here: skipped"
	exit 77
fi
# Stop what runs in it before unmounting it, then the rest of lib.sh's.
trap 'for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	rm -rf "$T"' EXIT

. "$top_srcdir/tests/integration/audit_episode.sh"

episode_start "$MNT/audit.db"
episode_first_applied

# Fill it: dd stops at ENOSPC; then the last partial block.
dd if=/dev/zero of="$MNT/fill" bs=64k 2>/dev/null || true
dd if=/dev/zero of="$MNT/fill2" bs=512 2>/dev/null || true
echo "disk full: $(df -k "$MNT" | tail -1)"
STALL_FROM=$(date +%s)

wait_for "$T/log" "audit: $DB: cannot write: database or disk is full" 30
t1=$(time_get)
echo "GET /v1/actions with the disk full: $t1 ms"
episode_decided_meanwhile 3
rm -f "$MNT/fill" "$MNT/fill2"
wait_for "$T/log" "audit: $DB: writing again after" 30
warnings=$(count "$T/log" "warning: audit: $DB: \(cannot\|still cannot\) write")
[ "$warnings" -le 3 ] || fail "$warnings warnings about one full disk"

episode_check
echo "ok: the disk was full for $(( $(date +%s) - STALL_FROM )) s or more, nothing lost"
