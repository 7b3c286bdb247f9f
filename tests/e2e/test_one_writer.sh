#!/usr/bin/env bash
# One writer (SPEC §7, issue 12 item 2): at most one process writes a store.
# A second `run` or `ingest` on it exits 2 at once with one line on stderr
# naming the holder (pid and command); readers are never blocked; a killed
# holder leaves no stale lock; a reload (SIGHUP) keeps the lock; a `run` on
# another database is not refused.  Cases:
#  (1) a second `run` on the same config;
#  (2) `ingest -c` (catch-up) and `ingest --db same.db FILE` while run runs:
#      refused, the database unchanged; then what the message advises (add
#      the files to a [source], SIGHUP) reads them, and the reloaded daemon
#      still holds the lock;
#  (3) kpi, report and sqlite3 read while run holds the lock;
#  (4) after SIGKILL of the holder, a new ingest and run start;
#  (5) 120,000 lines appended while a second run and ingests try to write:
#      every view equals one clean ingest of the same lines;
#  (6) two concurrent ingests of the same lines on one database;
#  (7) a reload naming a database another run writes is refused (the old
#      configuration and its lock kept); one naming a free database moves
#      the lock there.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
command -v timeout >/dev/null || { echo "SKIP: timeout(1) not installed"; exit 77; }
T0=$(now_ms)

# config DIR [SECTION...]: writes DIR/b.conf (database DIR/b.db, one source
# DIR/logs/access.log*, then SECTIONs)
config() {
  local dir=$1 s
  shift
  {
    printf '[boussole]\ndb = %s/b.db\nflush_interval = 200ms\n' "$dir"
    printf '\n[source "www"]\npath = %s/logs/access.log*\nsite = www.example.com\n' "$dir"
    for s in "$@"; do printf '\n%b\n' "$s"; done
  } > "$dir/b.conf.new"
  mv "$dir/b.conf.new" "$dir/b.conf"
}
# attempt NAME CMD...: runs a writer that should be refused, 10 s at most;
# sets RC, MS (its duration), ERR (its stderr file)
attempt() {
  local name=$1 t0
  shift
  ERR=$WORK/$name.err
  t0=$(now_ms)
  RC=0
  timeout 10 "$@" > "$WORK/$name.out" 2> "$ERR" || RC=$?
  MS=$(($(now_ms) - t0))
}
# refused WHAT PID CMD: the last attempt exited 2 within 5 s with one line
# on stderr naming PID and CMD (the holder's command)
refused() {
  expect_eq "$1: exit status 2" "$RC" 2
  expect_eq "$1: exits within 5 s (took $MS ms)" "$([ "$MS" -lt 5000 ] && echo yes)" yes
  expect_eq "$1: one line on stderr ($(head -c 600 "$ERR"))" "$(wc -l < "$ERR")" 1
  expect_eq "$1: names the holder, pid $2 ($3)" \
    "$(grep -cE "pid $2 \([^)]*boussole $3( |\))" "$ERR")" 1
}
state() { dump_views "$1"; q "$1" "SELECT source, path, fingerprint, offset, lines, rejects FROM sources ORDER BY 1,2"; }
same_views() { cmp -s <(dump_views "$1") <(dump_views "$2") && echo same || diff <(dump_views "$1") <(dump_views "$2") | head -5; }
fail_with_log() { echo "FAIL: $1"; echo "--- boussole log"; cat "$2"; exit 1; }
stop_ok() {
  run_stop "$2"
  expect_eq "$1: boussole run exits 0 within 2 s of SIGTERM" "$STOPPED" ok
}

"$GENLOG" -n 120000 -s 7 --days 2 --site www.example.com > "$WORK/all.log"

# ------------------------------------------------------- (1) a second run
A=$WORK/a
mkdir -p "$A/logs" "$A/old"
config "$A"
head -n 3000 "$WORK/all.log" > "$A/logs/access.log"
run_start "$A/b.conf" "$A/run.log"
FIRST=$RUN_PID
wait_until 20 db_has_hits "$A/b.db" 3000 || fail_with_log "(1) the first 3000 lines were not counted" "$A/run.log"
attempt run2 "$BOUSSOLE" run -c "$A/b.conf"
refused "(1) second run" "$FIRST" run
echo "(1) second run: $(cat "$ERR")"
expect_eq "(1) hits after the second run" "$(hits_counted "$A/b.db")" 3000

# a run on another database is another store: not refused
"$BOUSSOLE" run -c "$A/b.conf" --db "$A/other.db" 2>> "$A/other.log" &
OTHER=$!
bg_track "$OTHER"
wait_until 20 db_has_hits "$A/other.db" 3000 || fail_with_log "(1) run --db other.db did not read" "$A/other.log"
stop_ok "(1) run --db other.db" "$OTHER"
expect_eq "(1) run --db other.db: hits" "$(hits_counted "$A/other.db")" 3000
# --db naming the same file by another path is the same store
attempt run3 "$BOUSSOLE" run -c "$A/b.conf" --db "$A/logs/../b.db"
refused "(1) run --db same file by another path" "$FIRST" run

# ------------------------------------------------------- (2) ingest while run runs
sed -n '3001,4000p' "$WORK/all.log" > "$A/old/access.log.1" # not in its sources
sed -n '4001,5000p' "$WORK/all.log" > "$A/extra.log"
before=$(state "$A/b.db")
attempt ingest_c "$BOUSSOLE" ingest --no-progress -c "$A/b.conf"
refused "(2) ingest -c (catch-up)" "$FIRST" run
echo "(2) ingest -c: $(cat "$ERR")"
attempt ingest_db "$BOUSSOLE" ingest --no-progress --db "$A/b.db" --site www.example.com "$A/old/access.log.1"
refused "(2) ingest --db same.db FILE" "$FIRST" run
cd "$A"
attempt ingest_rel "$BOUSSOLE" ingest --no-progress --db b.db "$A/extra.log"
cd "$OLDPWD"
refused "(2) ingest --db relative path" "$FIRST" run
expect_eq "(2) the refused ingests changed nothing" \
  "$(diff <(echo "$before") <(state "$A/b.db") > "$WORK/state.diff" && echo same || head -c 400 "$WORK/state.diff")" same
# what the message says to do: add them to a [source] of the daemon, SIGHUP
config "$A" "[source \"old\"]\npath = $A/old/access.log*\nsite = www.example.com"
kill -HUP "$FIRST"
wait_until 20 db_has_hits "$A/b.db" 4000 || echo "(2) after the reload: $(hits_counted "$A/b.db") hits, 4000 expected"
attempt run4 "$BOUSSOLE" run -c "$A/b.conf"
refused "(2) after SIGHUP, the daemon still holds it: second run" "$FIRST" run
expect_eq "(2) the reloaded daemon is still running" "$(kill -0 "$FIRST" 2>/dev/null && echo yes)" yes
expect_eq "(2) the reloaded daemon did not refuse itself" "$(logged "$A/run.log" 'being written' && echo yes || echo no)" no

# ------------------------------------------------------- (3) readers are not blocked
RC=0
"$BOUSSOLE" kpi -c "$A/b.conf" > "$WORK/kpi.out" 2>&1 || RC=$?
expect_eq "(3) kpi while run holds the lock: exit 0 or 1 ($(head -c 300 "$WORK/kpi.out"))" "$([ "$RC" -le 1 ] && echo ok)" ok
RC=0
"$BOUSSOLE" report -c "$A/b.conf" > "$WORK/report.out" 2>&1 || RC=$?
expect_eq "(3) report while run holds the lock: exit 0" "$RC" 0
expect_eq "(3) report shows the site" "$(grep -c 'www.example.com' "$WORK/report.out" | sed 's/^[1-9][0-9]*$/yes/')" yes
expect "$A/b.db" "SELECT SUM(hits) FROM traffic_daily" 4000

# ------------------------------------------------------- (4) no stale lock
kill -9 "$FIRST"
wait "$FIRST" 2>/dev/null || true
sed -n '5001,6000p' "$WORK/all.log" >> "$A/logs/access.log"
RC=0
"$BOUSSOLE" ingest -q --no-progress -c "$A/b.conf" 2> "$WORK/ingest4.err" || RC=$?
expect_eq "(4) ingest after SIGKILL of the holder: exit 0 ($(head -c 300 "$WORK/ingest4.err"))" "$RC" 0
expect_eq "(4) ingest after SIGKILL: hits" "$(hits_counted "$A/b.db")" 5000
run_start "$A/b.conf" "$A/run.log"
SECOND=$RUN_PID
sed -n '6001,7000p' "$WORK/all.log" >> "$A/logs/access.log"
wait_until 20 db_has_hits "$A/b.db" 6000 || echo "(4) run after SIGKILL: $(hits_counted "$A/b.db") hits, 6000 expected"
attempt run5 "$BOUSSOLE" run -c "$A/b.conf"
refused "(4) the new run holds it" "$SECOND" run
kill -9 "$SECOND"
wait "$SECOND" 2>/dev/null || true
run_start "$A/b.conf" "$A/run.log"
sed -n '7001,7500p' "$WORK/all.log" >> "$A/logs/access.log"
wait_until 20 db_has_hits "$A/b.db" 6500 || echo "(4) run after a second SIGKILL: $(hits_counted "$A/b.db") hits, 6500 expected"
stop_ok "(4) run after SIGKILL" "$RUN_PID"
expect_eq "(4) the lock file stays (deleting it would race)" "$([ -e "$A/b.db.lock" ] && echo yes)" yes

# ------------------------------------------------------- (5) end to end
E=$WORK/e
mkdir -p "$E/logs"
config "$E"
head -n 20000 "$WORK/all.log" > "$E/logs/access.log"
run_start "$E/b.conf" "$E/run.log"
HOLDER=$RUN_PID
wait_until 30 db_has_hits "$E/b.db" 20000 || fail_with_log "(5) the first 20000 lines were not counted" "$E/run.log"
# the rest in 10 chunks; a second run and two ingests try to write meanwhile
next=20001
for k in $(seq 1 10); do
  sed -n "${next},$((next + 9999))p" "$WORK/all.log" >> "$E/logs/access.log"
  next=$((next + 10000))
  case $k in
    2) attempt e_run "$BOUSSOLE" run -c "$E/b.conf"
       refused "(5) second run during appends" "$HOLDER" run ;;
    4) attempt e_ingest "$BOUSSOLE" ingest --no-progress -c "$E/b.conf"
       refused "(5) ingest -c during appends" "$HOLDER" run ;;
    6) attempt e_ingest_db "$BOUSSOLE" ingest --no-progress --db "$E/b.db" --site www.example.com "$E/logs/access.log"
       refused "(5) ingest --db during appends" "$HOLDER" run ;;
    *) sleep 0.2 ;;
  esac
done
wait_until 60 db_has_hits "$E/b.db" 120000 || echo "(5) counted $(hits_counted "$E/b.db") of 120000 hits"
sleep 0.5
stop_ok "(5)" "$HOLDER"
"$BOUSSOLE" ingest -q --no-progress --db "$E/clean.db" --site www.example.com "$WORK/all.log"
echo "(5) hits: $(hits_counted "$E/b.db") (clean ingest: $(hits_counted "$E/clean.db")); visitors: $(q "$E/b.db" 'SELECT SUM(visitors) FROM traffic_daily') (clean: $(q "$E/clean.db" 'SELECT SUM(visitors) FROM traffic_daily'))"
expect "$E/b.db" "SELECT SUM(hits) FROM traffic_daily" 120000
expect_eq "(5) every view == one clean ingest" "$(same_views "$E/clean.db" "$E/b.db")" same

# ------------------------------------------------------- (6) two ingests at once
F=$WORK/f
mkdir -p "$F"
cp "$WORK/all.log" "$F/access.log"
# the first reads the same lines from a pipe that stalls half-way, so the
# second surely starts while it holds the store
{ head -n 60000 "$F/access.log"; sleep 3; tail -n +60001 "$F/access.log"; } \
  | "$BOUSSOLE" ingest -q --no-progress --db "$F/f.db" --site www.example.com - 2> "$F/first.err" &
FIRST_INGEST=$!
bg_track "$FIRST_INGEST"
holds() { [ -s "$F/f.db.lock" ] || [ -s "$F/f.db" ]; }
wait_until 10 holds || true
sleep 0.5
attempt f_second "$BOUSSOLE" ingest -q --no-progress --db "$F/f.db" --site www.example.com "$F/access.log"
refused "(6) second ingest of the same file" "$FIRST_INGEST" ingest
echo "(6) second ingest: $(cat "$ERR")"
RC=0
wait "$FIRST_INGEST" || RC=$?
expect_eq "(6) the first ingest exits 0 ($(head -c 300 "$F/first.err"))" "$RC" 0
"$BOUSSOLE" ingest -q --no-progress --db "$F/f.db" --site www.example.com "$F/access.log" # known: adds nothing
echo "(6) hits: $(hits_counted "$F/f.db") (one ingest: 120000)"
expect_eq "(6) totals == one ingest" "$(same_views "$E/clean.db" "$F/f.db")" same
# and started together: whichever loses, the totals are one ingest's
G=$WORK/g
mkdir -p "$G"
"$BOUSSOLE" ingest -q --no-progress --db "$G/g.db" --site www.example.com "$F/access.log" 2> "$G/1.err" &
P1=$!
"$BOUSSOLE" ingest -q --no-progress --db "$G/g.db" --site www.example.com "$F/access.log" 2> "$G/2.err" &
P2=$!
bg_track "$P1"
bg_track "$P2"
R1=0 R2=0
wait "$P1" || R1=$?
wait "$P2" || R2=$?
echo "(6) started together: exit statuses $R1 and $R2"
expect_eq "(6) started together: each exits 0 or 2" "$(case "$R1$R2" in 00|02|20) echo ok ;; *) echo "$R1 $R2" ;; esac)" ok
echo "(6) started together: hits $(hits_counted "$G/g.db")"
expect_eq "(6) started together: totals == one ingest" "$(same_views "$E/clean.db" "$G/g.db")" same

# ------------------------------------------------------- (7) a reload that changes the database
H=$WORK/h
mkdir -p "$H/logs"
config "$H"
head -n 1000 "$WORK/all.log" > "$H/logs/access.log"
"$BOUSSOLE" run -c "$H/b.conf" 2>> "$H/x.log" &
X=$!
bg_track "$X"
wait_until 20 db_has_hits "$H/b.db" 1000 || fail_with_log "(7) X did not read" "$H/x.log"
"$BOUSSOLE" run -c "$H/b.conf" --db "$H/y.db" 2>> "$H/y.log" &
Y=$!
bg_track "$Y"
wait_until 20 db_has_hits "$H/y.db" 1000 || fail_with_log "(7) Y did not read" "$H/y.log"
sed -i "s|^db = .*|db = $H/y.db|" "$H/b.conf"
kill -HUP "$X"
wait_until 20 logged "$H/x.log" 'new configuration failed.*being written by pid '"$Y" \
  || echo "(7) X did not report the refused reload"
expect_eq "(7) reload to a database Y writes: refused naming Y" \
  "$(logged "$H/x.log" "new configuration failed.*y.db is being written by pid $Y " && echo yes)" yes
attempt h_run1 "$BOUSSOLE" run -c "$H/b.conf" --db "$H/b.db"
refused "(7) after the refused reload, X still holds b.db" "$X" run
sed -i "s|^db = .*|db = $H/z.db|" "$H/b.conf"
kill -HUP "$X"
wait_until 20 db_has_hits "$H/z.db" 1000 || echo "(7) X did not move to z.db"
attempt h_run2 "$BOUSSOLE" run -c "$H/b.conf"
refused "(7) after the reload to z.db, X holds z.db" "$X" run
RC=0
"$BOUSSOLE" ingest -q --no-progress -c "$H/b.conf" --db "$H/b.db" 2> "$WORK/h_ingest.err" || RC=$?
expect_eq "(7) after the move, b.db is free ($(head -c 300 "$WORK/h_ingest.err"))" "$RC" 0
stop_ok "(7) X" "$X"
stop_ok "(7) Y" "$Y"

echo "one writer: $((($(now_ms) - T0) / 1000)) s"
finish
