#!/usr/bin/env bash
# `run` commits by lines as well as by time (issue 18): with a flush
# interval of an hour, a backlog of 300,000 lines is committed every
# 131,072 lines (BSL_BATCH_FLUSH_LINES) without waiting for the tick, so
# what waits for a commit does not grow with the rate times the interval.
# The generated log begins fewer than 32,768 visits, so the other early
# commit (an address flood's, BSL_PIPELINE_PENDING_VISITS) does not fire.
# What is left after the last full step is committed by SIGTERM, and the
# views equal those of `ingest` on the same file.
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
n=$(lines_read "$WORK/live.db")
expect_eq "the lines after the last step wait for a commit" \
  "$([ "$n" -lt 300000 ] && echo yes || echo "no: $n")" yes

run_stop
expect_eq "run stops cleanly" "$STOPPED" ok
# SIGTERM commits what was read; on a loaded machine the tail may not have
# reached the end of the file yet, and the rest waits for the next start:
# an ingest of the configured source catches it up from there
n=$(lines_read "$WORK/live.db")
expect_eq "the stop committed at least the two steps" \
  "$([ "$n" -ge 262144 ] && echo yes || echo "no: $n")" yes
"$BOUSSOLE" ingest -q --no-progress -c "$WORK/b.conf"
expect "$WORK/live.db" "SELECT SUM(lines) FROM sources" 300000

"$BOUSSOLE" ingest -q --no-progress --site "$SITE" --db "$WORK/ref.db" "$WORK/all.log"
expect_eq "views as ingest's" "$(views_compare "$WORK/ref.db" "$WORK/live.db")" same
finish
