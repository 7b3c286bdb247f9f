#!/usr/bin/env bash
# `run` commits by lines as well as by time (issue 18): with a flush
# interval of an hour, a backlog of 300,000 lines is committed every
# 131,072 lines (BSL_BATCH_FLUSH_LINES) without waiting for the tick, so
# what waits for a commit does not grow with the rate times the interval.
# (Commits also come every 8,192 visits begun or closed,
# BSL_PIPELINE_PENDING_VISITS: either way, never by the hour's tick.)
# What is left after the last full step is committed as soon as reading
# has caught up (a commit came due by lines: reading was behind), not at
# the hour's tick, and the views equal those of `ingest` on the same file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"

SITE=www.example.com
mkdir -p "$WORK/logs"
"$GENLOG" -n 300000 --days 2 --site "$SITE" > "$WORK/all.log"
: > "$WORK/logs/access.log"
follow_conf "$WORK/b.conf" "$WORK/live.db" "$WORK/logs/access.log" 1h "$SITE"

run_start "$WORK/b.conf" "$WORK/run.log"
wait_until 20 logged "$WORK/run.log" 'running with' ||
  expect_eq "run started" "$(cat "$WORK/run.log")" "running with ..."
cat "$WORK/all.log" >> "$WORK/logs/access.log"

# two steps of 131,072 lines each, long before the hour's tick
two_steps() { [ "$(lines_read "$WORK/live.db")" -ge 262144 ]; }
if wait_until 120 two_steps; then got=yes; else got="no: $(lines_read "$WORK/live.db") lines"; fi
expect_eq "committed by lines, not by the hour" "$got" yes
all_read() { [ "$(lines_read "$WORK/live.db")" -ge 300000 ]; }
if wait_until 120 all_read; then got=yes; else got="no: $(lines_read "$WORK/live.db") lines"; fi
expect_eq "the rest committed once caught up, not at the hour's tick" "$got" yes

run_stop
expect_eq "run stops cleanly" "$STOPPED" ok
expect "$WORK/live.db" "SELECT SUM(lines) FROM sources" 300000

"$BOUSSOLE" ingest -q --no-progress --site "$SITE" --db "$WORK/ref.db" "$WORK/all.log"
expect_eq "views as ingest's" "$(views_compare "$WORK/ref.db" "$WORK/live.db")" same
finish
