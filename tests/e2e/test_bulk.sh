#!/usr/bin/env bash
# Bulk loads: an input of 64 MiB or more that is larger than the database is
# loaded without the visit_log_day index, which is built once at the end.
# The views must equal those of a normal load (stdin has no size, so it
# loads the usual way), the index must be back after the load, and a load
# killed while the index is gone must leave it rebuilt by the next start.
source "$(dirname "$0")/lib.sh"
GENLOG=${GENLOG:-$(dirname "$BOUSSOLE")/boussole-genlog}
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }

ingest() { local db=$1; shift; "$BOUSSOLE" ingest -q --no-progress --site www.example.com --db "$db" "$@"; }
has_day_index() { q "$1" "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'visit_log_day'"; }

"$GENLOG" -n 300000 -s 5 --days 3 --site www.example.com > "$WORK/big.log"
size=$(stat -c %s "$WORK/big.log")
expect_eq "input is over 64 MiB" "$([ "$size" -ge $((64 << 20)) ] && echo yes || echo "no: $size bytes")" yes

ingest "$WORK/bulk.db" "$WORK/big.log"
expect_eq "index back after a bulk load" "$(has_day_index "$WORK/bulk.db")" 1
ingest "$WORK/normal.db" - < "$WORK/big.log"
expect_eq "index kept by a normal load" "$(has_day_index "$WORK/normal.db")" 1
dump_views "$WORK/bulk.db" > "$WORK/bulk.txt"
dump_views "$WORK/normal.db" > "$WORK/normal.txt"
expect_eq "bulk load == normal load" "$(cmp -s "$WORK/bulk.txt" "$WORK/normal.txt" && echo same || diff "$WORK/bulk.txt" "$WORK/normal.txt" | head -5)" same
expect "$WORK/bulk.db" "SELECT SUM(hits) FROM traffic_daily" 300000
expect "$WORK/bulk.db" "PRAGMA integrity_check" ok

# killed mid-load: the index may be gone; the next start (any ingest) rebuilds it
"$BOUSSOLE" ingest -q --no-progress --site www.example.com --db "$WORK/killed.db" "$WORK/big.log" &
pid=$!
for _ in $(seq 1 100); do
  [ "$(q "$WORK/killed.db" "SELECT COUNT(*) FROM sqlite_master WHERE name = 'visit_log'" 2>/dev/null || echo 0)" = 1 ] &&
    [ "$(has_day_index "$WORK/killed.db" 2>/dev/null || echo 1)" = 0 ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
expect_eq "the load was killed while the index was gone" "$(has_day_index "$WORK/killed.db")" 0
head -n 10 "$WORK/big.log" > "$WORK/small.log"
ingest "$WORK/killed.db" "$WORK/small.log"
expect_eq "index rebuilt by the next start" "$(has_day_index "$WORK/killed.db")" 1
ingest "$WORK/killed.db" "$WORK/big.log"
dump_views "$WORK/killed.db" > "$WORK/killed.txt"
# big.log resumes where the killed load committed; small.log is a file of
# its own (another fingerprint), so its 10 lines count too
expect "$WORK/killed.db" "SELECT SUM(hits) FROM traffic_daily" 300010
finish
