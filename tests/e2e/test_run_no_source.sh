#!/usr/bin/env bash
# `run` with nothing to read says so at start (issue 17): a configuration
# without any [source], and the built-in defaults (no -c), log a warning
# naming the fix instead of sitting silently; the daemon still runs (a
# reload may add a source) and stops cleanly.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
cd "$WORK"
printf '[boussole]\ndb = %s/a.db\n' "$WORK" > a.conf
# the signal handlers are in place once it says it is running
running() { logged "$1" 'running with 0 source'; }

run_start a.conf a.log
wait_until 10 running a.log || cat a.log
expect_eq "no [source] in the file: warning" "$(grep -c 'a.conf has no \[source\]: nothing to read' a.log)" 1
run_stop
expect_eq "still runs, stops cleanly" "$STOPPED" ok

"$BOUSSOLE" run --db "$WORK/b.db" 2>b.log &
RUN_PID=$!
bg_track "$RUN_PID"
wait_until 10 running b.log || cat b.log
expect_eq "built-in defaults: warning" "$(grep -c 'the built-in defaults have no \[source\] (no -c): nothing to read' b.log)" 1
run_stop
expect_eq "defaults: stops cleanly" "$STOPPED" ok

# with a source, no such warning
mkdir logs && : > logs/access.log
printf '[boussole]\ndb = %s/c.db\n[source "www"]\npath = %s/logs/access.log\n' "$WORK" "$WORK" > c.conf
run_start c.conf c.log
wait_until 10 logged c.log 'running with 1 source' || cat c.log
run_stop
expect_eq "with a source: no warning" "$(grep -c 'nothing to read' c.log || true)" 0
finish
