#!/usr/bin/env bash
# Big loads: `ingest` parks its open visits (README, "Guarantees under
# ordinary operations") and keeps visit_log_day up row by row, whatever the
# input's size: the index is there during and after a load of 64 MiB or
# more, and the views equal those of the same lines from stdin.  A
# database left without the index (by `run` killed while it read a backlog
# as a bulk load, test_live_backlog.sh, or by an older version's killed
# load) gets it back at the next start.
source "$(dirname "$0")/lib.sh"
GENLOG=${GENLOG:-$(dirname "$BOUSSOLE")/boussole-genlog}
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }

ingest() { local db=$1; shift; "$BOUSSOLE" ingest -q --no-progress --site www.example.com --db "$db" "$@"; }
has_day_index() { q "$1" "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'visit_log_day'"; }

"$GENLOG" -n 300000 -s 5 --days 3 --site www.example.com > "$WORK/big.log"
size=$(stat -c %s "$WORK/big.log")
expect_eq "input is over 64 MiB" "$([ "$size" -ge $((64 << 20)) ] && echo yes || echo "no: $size bytes")" yes

"$BOUSSOLE" ingest -q --no-progress --site www.example.com --db "$WORK/bulk.db" "$WORK/big.log" &
pid=$!
seen=0 missing=0
while kill -0 "$pid" 2>/dev/null; do
  # (before its schema is there, the database has no index to look at)
  n=$(q "$WORK/bulk.db" "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE name = 'visit_log_day')
    FROM sqlite_master WHERE name = 'visit_log'" 2>/dev/null || true)
  [ "$n" = 1 ] && seen=$((seen + 1))
  [ "$n" = 0 ] && missing=$((missing + 1))
  sleep 0.02
done
wait "$pid"
expect_eq "the index is there during the load (seen $seen times)" "$missing" 0
expect_eq "index there after the load" "$(has_day_index "$WORK/bulk.db")" 1
ingest "$WORK/normal.db" - < "$WORK/big.log"
dump_views "$WORK/bulk.db" > "$WORK/bulk.txt"
dump_views "$WORK/normal.db" > "$WORK/normal.txt"
expect_eq "big load == the same lines from stdin" "$(cmp -s "$WORK/bulk.txt" "$WORK/normal.txt" && echo same || diff "$WORK/bulk.txt" "$WORK/normal.txt" | head -5)" same
expect "$WORK/bulk.db" "SELECT SUM(hits) FROM traffic_daily" 300000
expect "$WORK/bulk.db" "PRAGMA integrity_check" ok

# a database without the index: the next start (any ingest) rebuilds it
cp "$WORK/bulk.db" "$WORK/noindex.db"
cp "$WORK/bulk.db.salts" "$WORK/noindex.db.salts"
sqlite3 "$WORK/noindex.db" "DROP INDEX visit_log_day"
head -n 10 "$WORK/big.log" > "$WORK/small.log"
ingest "$WORK/noindex.db" "$WORK/small.log"
expect_eq "index rebuilt by the next start" "$(has_day_index "$WORK/noindex.db")" 1
# small.log is a file of its own (another fingerprint): its 10 lines count
expect "$WORK/noindex.db" "SELECT SUM(hits) FROM traffic_daily" 300010
expect "$WORK/noindex.db" "PRAGMA integrity_check" ok
finish
