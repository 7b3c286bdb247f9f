# Helpers for the end-to-end tests: each test runs the real boussole binary
# on files it writes, then checks the views with the sqlite3 shell.
set -euo pipefail

: "${BOUSSOLE:?set BOUSSOLE to the boussole binary}"
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 shell not installed"; exit 77; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bsl-e2e.XXXXXX")
FAILS=0
CHECKS=0
SKIPS=0
FINISHED=

# exit_guard STATUS: run on exit (live_lib.sh's trap calls it too).  A test
# that exits 0 without reaching finish has not said what it checked: that
# is a failure, not a pass.
exit_guard() {
  if [ "$1" -eq 0 ] && [ -z "$FINISHED" ]; then
    echo "FAIL: the test exited 0 before finish (an early exit passes nothing)" >&2
    exit 1
  fi
}
trap 'rc=$?; rm -rf "$WORK"; exit_guard $rc' EXIT

# q DB SQL: prints the result rows, '|' separated
q() { sqlite3 -batch -noheader "$1" "$2"; }

# expect DB SQL EXPECTED: compares the query result with EXPECTED
expect() {
  local got
  got=$(q "$1" "$2" 2>&1) || true
  CHECKS=$((CHECKS + 1))
  if [ "$got" != "$3" ]; then
    FAILS=$((FAILS + 1))
    printf 'FAIL: %s\n  expected: %s\n  got:      %s\n' "$2" "$3" "$got" >&2
  fi
}

# expect_eq WHAT GOT EXPECTED
expect_eq() {
  CHECKS=$((CHECKS + 1))
  if [ "$2" != "$3" ]; then
    FAILS=$((FAILS + 1))
    printf 'FAIL: %s\n  expected: %s\n  got:      %s\n' "$1" "$3" "$2" >&2
  fi
}

# dump_views DB: every analyst view in a stable order (for comparisons)
dump_views() {
  local db=$1
  for v in traffic_daily status_daily pages_daily channels_daily events_daily goals_daily devices_daily; do
    echo "== $v"
    q "$db" "SELECT * FROM $v ORDER BY 1,2,3,4,5"
  done
  echo "== not_found_daily"
  q "$db" "SELECT * FROM not_found_daily ORDER BY 1,2,3"
  echo "== visits"
  q "$db" "SELECT visit_id, site, day, started_at, ended_at, pageviews, channel, source, medium, campaign, device, landing_path, exit_path, max_scroll, bounced FROM visits ORDER BY visit_id"
  echo "== rejects"
  q "$db" "SELECT source, offset, reason, excerpt FROM rejects ORDER BY offset"
}

# skip_part WHY: a part of the test cannot run here (a tool or a data file
# is missing); the rest goes on, and finish reports the test as skipped
# (exit 77, ctest's SKIP_RETURN_CODE) rather than passed, unless a check
# failed.  A test that can run nothing at all exits 77 itself, up front.
skip_part() {
  SKIPS=$((SKIPS + 1))
  echo "SKIP: $*"
}

# finish: the last line of every test.  Fails when a check failed, and when
# no check ran at all (a test that checks nothing cannot pass); exits 77
# when a part was skipped, else 0.
finish() {
  FINISHED=1
  if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS of $CHECKS checks failed"
    exit 1
  fi
  if [ "$CHECKS" -eq 0 ]; then
    echo "FAIL: no check ran"
    exit 1
  fi
  if [ "$SKIPS" -ne 0 ]; then
    echo "all $CHECKS checks passed, but $SKIPS part(s) skipped (see SKIP above)"
    exit 77
  fi
  echo "all $CHECKS checks passed"
  exit 0
}
