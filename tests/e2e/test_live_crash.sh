#!/usr/bin/env bash
# Live mode, SPEC §7 "exactly once" under SIGKILL (issue 3, "done means" 2):
# a writer appends 200k generated lines in chunks and rotates the log the
# three ways logrotate does (rename + create, copytruncate, gzip of an old
# generation) while `boussole run` is SIGKILLed at random moments (at least
# 20 times) and restarted.  A last run catches up and is stopped with
# SIGTERM; every view must then equal a clean one-shot `boussole ingest` of
# the same lines in one file.
#
# Half the runs (at random) commit only every 5 s, so they are killed with
# everything they read uncommitted: the next run starts behind, often with
# a rotation in between, and must read each rotation set oldest first
# (issue 12, item 1).  Kills that land while a run has read lines but not
# committed them are counted; the test fails if none did.
#
# The writer is the only appender, so its copytruncate (cp, then truncate,
# with no append in between) loses nothing: every line must count once.
#
# A failure is rare and depends on timing: when a check fails, the work dir
# is kept (its path is printed) for the diagnosis: full.log, clean.db,
# live.db, logs/ as the writer left them, and boussole.log, every run's log
# ('--- killed' between runs).  BSL_KEEP_WORK=1 keeps it whatever happens.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
command -v gzip >/dev/null || { echo "SKIP: gzip not installed"; exit 77; }

T0=$(now_ms)
N=${BSL_CRASH_LINES:-200000}
CHUNK=2000
MIN_KILLS=${BSL_CRASH_KILLS:-20}
SITE=www.example.com
DB=$WORK/live.db
LOG=$WORK/boussole.log
mkdir -p "$WORK/logs" "$WORK/chunks"

"$GENLOG" -n "$N" -s 23 --days 2 --site "$SITE" > "$WORK/full.log"
cat > "$WORK/boussole.conf" <<EOF
[boussole]
db = $DB
flush_interval = 100ms

[source "www"]
path = $WORK/logs/access.log*
site = $SITE
EOF
# the same, but commits so rarely that a run is killed before its first one
sed 's/^flush_interval = .*/flush_interval = 5s/' "$WORK/boussole.conf" > "$WORK/slow.conf"

# the reference: one clean batch run over the same lines, same settings
"$BOUSSOLE" ingest -q --no-progress -c "$WORK/boussole.conf" --db "$WORK/clean.db" \
  --site "$SITE" "$WORK/full.log"
dump_views "$WORK/clean.db" > "$WORK/clean.txt"
[ "$(q "$WORK/clean.db" 'SELECT SUM(hits) FROM traffic_daily')" = "$N" ] \
  || { echo "FAIL: the clean run did not count $N hits"; exit 1; }

# ---- the writer ----
(cd "$WORK/chunks" && split -l "$CHUNK" -d -a 4 "$WORK/full.log" c.)
# shift generations: .K.gz -> .K+1.gz, .1 -> .2, then gzip .2 (delaycompress)
shift_generations() {
  local d=$WORK/logs k
  for k in $(ls "$d" | sed -n 's/^access\.log\.\([0-9]*\)\.gz$/\1/p' | sort -rn); do
    mv "$d/access.log.$k.gz" "$d/access.log.$((k + 1)).gz"
  done
  if [ -e "$d/access.log.1" ]; then
    mv "$d/access.log.1" "$d/access.log.2"
    gzip "$d/access.log.2"
  fi
}
writer() {
  local i=0 kind=0 c d=$WORK/logs
  for c in "$WORK"/chunks/c.*; do
    cat "$c" >> "$d/access.log"
    i=$((i + 1))
    echo $((i * CHUNK)) > "$WORK/written.tmp"
    mv "$WORK/written.tmp" "$WORK/written"
    if [ $((i % 9)) -eq 0 ]; then
      shift_generations
      case $((kind % 2)) in
        0) mv "$d/access.log" "$d/access.log.1"; : > "$d/access.log"; echo "rename+create" ;;
        1) cp "$d/access.log" "$d/access.log.1"; : > "$d/access.log"; echo "copytruncate" ;;
      esac
      kind=$((kind + 1))
    fi
    sleep "0.$((RANDOM % 20 + 5))"
  done >> "$WORK/rotations"
  touch "$WORK/writer-done"
}
writer &
WRITER_PID=$!
bg_track "$WRITER_PID"

# ---- SIGKILL at random moments, at least MIN_KILLS times ----
kills=0
mid_read=0
slow_kills=0
while [ ! -e "$WORK/writer-done" ] || [ "$kills" -lt "$MIN_KILLS" ]; do
  conf=$WORK/boussole.conf
  slow=$((RANDOM % 2))
  [ "$slow" -eq 1 ] && conf=$WORK/slow.conf
  run_start "$conf" "$LOG"
  sleep "0.$((RANDOM % 90 + 10))"
  written=$(cat "$WORK/written" 2>/dev/null || echo 0)
  if kill -9 "$RUN_PID" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$RUN_PID" 2>/dev/null || true
  # mid-read: this run had opened a file, and lines already written were
  # not committed when it died
  if awk '/^--- killed/ { run = ""; next } { run = run $0 "\n" } END { printf "%s", run }' "$LOG" | grep -c 'msg="reading ' >/dev/null \
    && [ "$(lines_read "$DB")" -lt "$written" ]; then
    mid_read=$((mid_read + 1))
    slow_kills=$((slow_kills + slow))
  fi
  echo "--- killed" >> "$LOG"
  # a run that could not start at all would make every kill meaningless
  if grep -q '^boussole: ' "$LOG"; then echo "FAIL: boussole run failed:"; cat "$LOG"; exit 1; fi
done
wait "$WRITER_PID"
echo "killed $kills times, $mid_read of them mid-read ($slow_kills before any commit of a 5 s-flush run); rotations: $(sort "$WORK/rotations" | uniq -c | tr '\n' ' ')"
echo "lines committed before the last run: $(lines_read "$DB") of $N"

expect_eq "some kills landed mid-read" "$([ "$mid_read" -gt 0 ] && echo yes)" yes

# the writer's files hold every line exactly once (checks the test itself)
total=0
for f in "$WORK"/logs/access.log*; do total=$((total + $(zcat -f "$f" | wc -l))); done
[ "$total" -eq "$N" ] || { echo "FAIL: the writer left $total lines, not $N"; exit 1; }

# ---- a last run catches up; SIGTERM commits and stops ----
run_start "$WORK/boussole.conf" "$LOG"
if ! wait_until 60 db_has_lines "$DB" "$N"; then
  echo "boussole read $(lines_read "$DB") of $N lines after 60 s"
fi
# a .gz is looked at 2 s after its last change: give a late duplicate the
# time to show up
sleep 2.5
run_stop
expect_eq "boussole run exits 0 within 2 s of SIGTERM" "$STOPPED" ok
expect "$DB" "SELECT SUM(lines), SUM(rejects) FROM sources" "$N|0"
dump_views "$DB" > "$WORK/live.txt"
expect_eq "killed $kills times while rotating == one clean ingest" \
  "$(cmp -s "$WORK/clean.txt" "$WORK/live.txt" && echo same || diff "$WORK/clean.txt" "$WORK/live.txt" | head -20)" same
if grep -E 'level=error' "$LOG"; then
  expect_eq "no error logged" "see above" "none"
fi
echo "took $((($(now_ms) - T0) / 1000)) s"
[ "$FAILS" -eq 0 ] || BSL_KEEP_WORK=1 # live_lib.sh's cleanup keeps $WORK
finish
