#!/usr/bin/env bash
# Live mode, rotation with a backlog (issue 12, item 1): when `boussole run`
# is behind at a rotation, the rest of the rotated file must be modelled
# before any line of the new one, or a visitor's 23:59 pageview comes before
# their 23:58 landing (two bounced visits instead of one).  Each case feeds
# the same generated lines (two days, in 24 chunks) through a rotation while
# the daemon is behind, then compares every view with one clean, in-order
# `boussole ingest` of the same lines:
#  (a) rotation while the daemon is stopped (SIGTERM, rotate, restart);
#  (b) rotation while it is SIGSTOPped, then SIGCONT;
#  (c) rotation while another process holds the database's write lock
#      (commits fail, reading pauses);
#  (d) a burst of 275k lines, then a rotation at once;
#  (e) a start with four generations on disk, numbered and compressed
#      (access.log.3.gz .. access.log);
#  (f) the same with dateext names (access.log-20261101.gz ..).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
command -v gzip >/dev/null || { echo "SKIP: gzip not installed"; exit 77; }

T0=$(now_ms)
N=${BSL_ROTATION_LINES:-600000}
SITE=www.example.com
"$GENLOG" -n "$N" -s 5 --days 2 --site "$SITE" > "$WORK/all.log"
(cd "$WORK" && split -n l/24 -d -a 2 all.log chunk.)
# chunks A B: chunks A to B, in order
chunks() {
  local i
  for i in $(seq "$1" "$2"); do cat "$WORK/chunk.$(printf %02d "$i")"; done
}

# lines_in A B: how many lines chunks A to B hold
lines_in() { chunks "$1" "$2" | wc -l; }
FIRST=$(lines_in 0 1)

# setup NAME: a case directory $C with logs/ and its config $C/b.conf
setup() {
  C=$WORK/$1
  mkdir -p "$C/logs"
  cat > "$C/b.conf" <<EOF
[boussole]
db = $C/b.db
flush_interval = 1s

[source "www"]
path = $C/logs/access.log*
site = $SITE
EOF
  : > "$C/run.log"
}

# the reference: one clean, in-order ingest (all.log matches no source)
setup ref
"$BOUSSOLE" ingest -q --no-progress -c "$C/b.conf" --db "$WORK/clean.db" \
  --site "$SITE" "$WORK/all.log"
[ "$(q "$WORK/clean.db" 'SELECT SUM(hits) FROM traffic_daily')" = "$N" ] \
  || { echo "FAIL: the clean run did not count $N hits"; exit 1; }

# check NAME: waits for every line, stops the daemon, compares every view
check() {
  local t0
  t0=$(now_ms)
  wait_until 60 db_has_lines "$C/b.db" "$N" \
    || echo "($1) read $(lines_read "$C/b.db") of $N lines after 60 s"
  sleep 1.2 # one more scan: a duplicate would show now
  run_stop
  expect_eq "($1) boussole run exits 0 within 2 s of SIGTERM" "$STOPPED" ok
  expect "$C/b.db" "SELECT SUM(lines), SUM(rejects) FROM sources" "$N|0"
  local cmp
  cmp=$(views_compare "$WORK/clean.db" "$C/b.db")
  expect_eq "($1) every view == one clean in-order ingest" "$cmp" same
  echo "($1) caught up in $((($(now_ms) - t0) / 1000)) s; views: $cmp"
  if grep -E 'level=error' "$C/run.log" | grep -v 'database is locked'; then
    expect_eq "($1) no error logged" "see above" none
  fi
  rm -rf "$C/logs"
}

# ---- (a) rotation while stopped (the recipe of issue 12) ----
setup stopped
run_start "$C/b.conf" "$C/run.log"
chunks 0 1 >> "$C/logs/access.log"
sleep 2.5
run_stop
expect_eq "(a) first stop" "$STOPPED" ok
chunks 2 11 >> "$C/logs/access.log"
mv "$C/logs/access.log" "$C/logs/access.log.1"
chunks 12 23 >> "$C/logs/access.log"
run_start "$C/b.conf" "$C/run.log"
check a

# ---- (b) rotation while SIGSTOPped ----
setup sigstop
run_start "$C/b.conf" "$C/run.log"
chunks 0 1 >> "$C/logs/access.log"
wait_until 20 db_has_lines "$C/b.db" "$FIRST" || echo "(b) the first chunks were not read"
kill -STOP "$RUN_PID"
chunks 2 11 >> "$C/logs/access.log"
mv "$C/logs/access.log" "$C/logs/access.log.1"
chunks 12 23 >> "$C/logs/access.log"
kill -CONT "$RUN_PID"
check b

# ---- (c) rotation while the write lock is held elsewhere ----
setup lock
run_start "$C/b.conf" "$C/run.log"
chunks 0 1 >> "$C/logs/access.log"
wait_until 20 db_has_lines "$C/b.db" "$FIRST" || echo "(c) the first chunks were not read"
# an analyst's write transaction, held until $C/unlock exists
{ echo "BEGIN IMMEDIATE;"; echo "SELECT 'locked';"
  while [ ! -e "$C/unlock" ]; do sleep 0.1; done; echo "COMMIT;"; } \
  | sqlite3 -batch "$C/b.db" > "$C/sqlite.out" 2>&1 &
LOCK_PID=$!
bg_track "$LOCK_PID"
lock_held() { grep -q locked "$C/sqlite.out"; }
wait_until 20 lock_held || { echo "FAIL: (c) sqlite3 did not take the lock"; cat "$C/sqlite.out"; exit 1; }
head -n 1000 "$WORK/chunk.02" >> "$C/logs/access.log" # read; its commit fails
wait_until 20 logged "$C/run.log" 'reading paused' || echo "(c) reading did not pause"
tail -n +1001 "$WORK/chunk.02" >> "$C/logs/access.log"
chunks 3 11 >> "$C/logs/access.log"
mv "$C/logs/access.log" "$C/logs/access.log.1"
chunks 12 23 >> "$C/logs/access.log"
sleep 1.5 # scans see the rotation while the lock is held
touch "$C/unlock"
wait "$LOCK_PID" || true
expect_eq "(c) logged that reading paused" "$(logged "$C/run.log" 'reading paused' && echo yes)" yes
check c

# ---- (d) a burst, then a rotation at once ----
setup burst
: > "$C/logs/access.log"
run_start "$C/b.conf" "$C/run.log"
wait_until 20 logged "$C/run.log" 'running with' || echo "(d) did not start"
sleep 0.3
chunks 0 10 >> "$C/logs/access.log" # 275k lines
mv "$C/logs/access.log" "$C/logs/access.log.1"
chunks 11 23 >> "$C/logs/access.log"
check d

# ---- (e) a start with numbered generations on disk, oldest compressed ----
setup numbered
chunks 0 4 | gzip > "$C/logs/access.log.3.gz"
chunks 5 9 | gzip > "$C/logs/access.log.2.gz"
touch -d '1 hour ago' "$C"/logs/*.gz
chunks 10 15 > "$C/logs/access.log.1"
chunks 16 23 > "$C/logs/access.log"
run_start "$C/b.conf" "$C/run.log"
check e

# ---- (f) the same with dateext names ----
setup dateext
chunks 0 4 | gzip > "$C/logs/access.log-20261101.gz"
chunks 5 9 | gzip > "$C/logs/access.log-20261102.gz"
touch -d '1 hour ago' "$C"/logs/*.gz
chunks 10 15 > "$C/logs/access.log-20261103"
chunks 16 23 > "$C/logs/access.log"
run_start "$C/b.conf" "$C/run.log"
check f

echo "took $((($(now_ms) - T0) / 1000)) s"
finish
