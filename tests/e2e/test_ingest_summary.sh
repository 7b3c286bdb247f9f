#!/usr/bin/env bash
# The ingest summary after a failed commit (issue 12, item 6c): the file
# whose commit failed counts as failed, and the line says its lines were
# not saved, while a file committed before it counts as read.  "Disk full"
# is RLIMIT_FSIZE, as in test_faults.sh.
source "$(dirname "$0")/lib.sh"
GENLOG=${GENLOG:-$(dirname "$BOUSSOLE")/boussole-genlog}
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }

"$GENLOG" -n 30000 -s 11 --days 2 --site www.example.com > "$WORK/all.log"
head -n 50 "$WORK/all.log" > "$WORK/small.log"
tail -n +51 "$WORK/all.log" > "$WORK/big.log"
"$BOUSSOLE" ingest -q --db "$WORK/full.db" - < /dev/null # the database exists, empty

RC=0
# 384 KiB of WAL: the small file's commit fits, the big file's does not (the
# budget grew from 64 with the per-day aggregate tables of schema 8, and
# from 96 with the 16 KiB pages of new databases: a commit writes whole
# pages, one or more per table it touches; 320 is the least that fits)
(ulimit -f 384 && "$BOUSSOLE" ingest --no-progress --db "$WORK/full.db" "$WORK/small.log" "$WORK/big.log") \
  > "$WORK/out" 2> "$WORK/err" || RC=$?
echo "summary: $(cat "$WORK/out")"
echo "error:   $(cat "$WORK/err")"
expect_eq "disk full: exit status 2" "$RC" 2
expect_eq "disk full: one error line naming the database" \
  "$(grep -cE 'full.db: .*(disk I/O error|disk is full)' "$WORK/err")" 1
expect_eq "disk full: the committed file counts as read, the other as failed" \
  "$(grep -c '^boussole: 1 file read, 0 unchanged, 1 failed: ' "$WORK/out")" 1
expect_eq "disk full: the summary says the lines were not saved" \
  "$(grep -c 'not saved: the next ingest reads them again$' "$WORK/out")" 1
expect "$WORK/full.db" "SELECT SUM(hits) FROM traffic_daily" 50

# room again: the next ingest reads them, and its summary claims nothing unsaved
RC=0
"$BOUSSOLE" ingest --no-progress --db "$WORK/full.db" "$WORK/small.log" "$WORK/big.log" > "$WORK/out" 2> "$WORK/err" || RC=$?
expect_eq "room again: exit status 0" "$RC" 0
expect_eq "room again: summary" \
  "$(grep -cE '^boussole: 1 file read, 1 unchanged, 0 failed: 29950 lines, 29950 hits, 0 rejects in [0-9.]+ s \([0-9]+ lines/s\)$' "$WORK/out")" 1
expect "$WORK/full.db" "SELECT SUM(hits) FROM traffic_daily" 30000
finish
