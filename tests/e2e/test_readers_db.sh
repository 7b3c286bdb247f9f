#!/usr/bin/env bash
# The reading commands never create a database (SPEC §8, issue 13 item 6):
# `kpi`, `adjust`, `report` and `diagnose` on a missing path, on a 0-byte file and on a
# SQLite file that is not boussole's exit 2 with one line naming the path,
# and leave the path as it was - a mistyped --db must never become an empty
# store that fires no_data alerts.  `ingest` still creates the database.
source "$(dirname "$0")/lib.sh"

run() { set +e; "$BOUSSOLE" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; RC=$?; set -e; }

cat > "$WORK/k.conf" <<CONF
[boussole]
alert_command = cat >> $WORK/sent.jsonl
[kpi "visits"]
metric = visits
CONF
: > "$WORK/sent.jsonl"

reader() {
  case $1 in
    kpi) run kpi -c "$WORK/k.conf" --db "$2" ;;
    adjust) run adjust -c "$WORK/k.conf" --db "$2" visits --note "new banner" ;;
    report) run report -c "$WORK/k.conf" --db "$2" ;;
    diagnose) run diagnose -c "$WORK/k.conf" --db "$2" ;;
  esac
}

for cmd in kpi adjust report diagnose; do
  # a path that does not exist
  DB=$WORK/nosuch-$cmd.db
  reader "$cmd" "$DB"
  expect_eq "$cmd on a missing database exits 2" "$RC" 2
  expect_eq "$cmd on a missing database: one line" "$(wc -l < "$WORK/stderr")" 1
  expect_eq "$cmd on a missing database names it" "$(grep -c -- "$DB: no such database" "$WORK/stderr")" 1
  expect_eq "$cmd on a missing database does not create it" "$(ls "$WORK" | grep -c "nosuch-$cmd" || true)" 0
  # in a directory that does not exist either
  reader "$cmd" "$WORK/nodir/b.db"
  expect_eq "$cmd in a missing directory exits 2" "$RC" 2
  # a 0-byte file
  DB=$WORK/empty-$cmd.db
  : > "$DB"
  reader "$cmd" "$DB"
  expect_eq "$cmd on a 0-byte file exits 2" "$RC" 2
  expect_eq "$cmd on a 0-byte file: one line" "$(wc -l < "$WORK/stderr")" 1
  expect_eq "$cmd on a 0-byte file names it" "$(grep -c -- "$DB: empty file, not a boussole database" "$WORK/stderr")" 1
  expect_eq "$cmd on a 0-byte file leaves it empty" "$(wc -c < "$DB")" 0
  expect_eq "$cmd on a 0-byte file: no -wal/-shm left" "$(ls "$WORK" | grep -c "empty-$cmd.db-" || true)" 0
  # somebody else's SQLite database
  DB=$WORK/other-$cmd.db
  sqlite3 "$DB" "CREATE TABLE notes(x)"
  reader "$cmd" "$DB"
  expect_eq "$cmd on another SQLite database exits 2" "$RC" 2
  expect_eq "$cmd on another SQLite database names it" "$(grep -c -- "$DB: not a boussole database" "$WORK/stderr")" 1
  expect "$DB" "SELECT group_concat(name) FROM sqlite_master" notes
done
expect_eq "no alert was sent" "$(wc -c < "$WORK/sent.jsonl")" 0

# ingest creates the database; then every reader works on it
DB=$WORK/b.db
printf '1.2.3.4 - - [02/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"\n' > "$WORK/a.log"
run ingest -q -c "$WORK/k.conf" --db "$DB" "$WORK/a.log"
expect_eq "ingest creates the database" "$RC" 0
for cmd in kpi adjust report diagnose; do
  reader "$cmd" "$DB"
  expect_eq "$cmd on the ingested database works" "$([ "$RC" -le 1 ] && echo ok || cat "$WORK/stderr")" ok
done

finish
