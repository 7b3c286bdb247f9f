#!/usr/bin/env bash
# `run` reads a backlog as a bulk load (issue 18): with at least 64 MiB
# unread at start, more than the database holds, it drops visit_log_day and
# parks its open visits as `ingest` does, says so, reads everything, builds
# the index again once caught up and leaves nothing parked.  The views
# equal those of `ingest` on the same file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"

SITE=www.example.com
mkdir -p "$WORK/logs"
# ~77 MB: above BSL_BATCH_BULK_MIN_BYTES (64 MiB)
"$GENLOG" -n 300000 --days 2 --site "$SITE" > "$WORK/logs/access.log"
follow_conf "$WORK/b.conf" "$WORK/live.db" "$WORK/logs/access.log" 200ms "$SITE"

index_present() {
  [ "$(qs "$WORK/live.db" "SELECT COUNT(*) FROM sqlite_master WHERE name = 'visit_log_day'")" = 1 ]
}
run_start "$WORK/b.conf" "$WORK/run.log"
wait_until 300 db_has_lines "$WORK/live.db" 300000 ||
  expect_eq "lines committed" "$(lines_read "$WORK/live.db")" 300000
expect_eq "the backlog is read as a bulk load" \
  "$(grep -c 'reading a backlog of [0-9]* bytes as a bulk load' "$WORK/run.log")" 1
if wait_until 60 index_present; then got=yes; else got=no; fi
expect_eq "visit_log_day built again once caught up" "$got" yes
# the open visits it parked while reading the backlog are in visit_log
# once it has caught up (the commit after parking stops writes them)
parked_none() { [ "$(qs "$WORK/live.db" "SELECT COUNT(*) FROM visit_parked")" = 0 ]; }
if wait_until 30 parked_none; then got=yes; else got=no; fi
expect_eq "nothing parked once caught up" "$got" yes
run_stop
expect_eq "run stops cleanly" "$STOPPED" ok

"$BOUSSOLE" ingest -q --no-progress --site "$SITE" --db "$WORK/ref.db" "$WORK/logs/access.log"
expect_eq "views as ingest's" "$(views_compare "$WORK/ref.db" "$WORK/live.db")" same

# a small backlog is not a bulk load: the index stays
: > "$WORK/logs/access.log"
"$GENLOG" -n 1000 --site "$SITE" -s 2 > "$WORK/logs/small.log"
follow_conf "$WORK/b.conf" "$WORK/small.db" "$WORK/logs/small.log" 200ms "$SITE"
run_start "$WORK/b.conf" "$WORK/run2.log"
wait_until 60 db_has_lines "$WORK/small.db" 1000 ||
  expect_eq "small: lines committed" "$(lines_read "$WORK/small.db")" 1000
run_stop
expect_eq "small: no bulk load" "$(grep -c 'bulk load' "$WORK/run2.log" || true)" 0
expect "$WORK/small.db" "SELECT COUNT(*) FROM sqlite_master WHERE name = 'visit_log_day'" 1
finish
