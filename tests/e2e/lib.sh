# Helpers for the end-to-end tests: each test runs the real boussole binary
# on files it writes, then checks the views with the sqlite3 shell.
set -euo pipefail

: "${BOUSSOLE:?set BOUSSOLE to the boussole binary}"
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 shell not installed"; exit 77; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bsl-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILS=0
CHECKS=0

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
  for v in traffic_daily status_daily pages_daily channels_daily events_daily goals_daily; do
    echo "== $v"
    q "$db" "SELECT * FROM $v ORDER BY 1,2,3,4,5"
  done
  echo "== visits"
  q "$db" "SELECT visit_id, site, day, started_at, ended_at, pageviews, channel, source, medium, campaign, device, landing_path, exit_path, max_scroll, bounced FROM visits ORDER BY visit_id"
  echo "== rejects"
  q "$db" "SELECT source, offset, reason, excerpt FROM rejects ORDER BY offset"
}

finish() {
  if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS of $CHECKS checks failed"
    exit 1
  fi
  echo "all $CHECKS checks passed"
}
