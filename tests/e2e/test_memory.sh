#!/usr/bin/env bash
# Bounded memory that never loses data (issue 12, item 4; SPEC §7 "Bounded
# memory", "Exactly once").
#
# 1. An address flood (bench/flood.sh: a new client address on most lines)
#    with max_open_visits = 1000: the cap closes visits early, the summary
#    says how many, and the numbers are those of the documented rule (a
#    visitor returning after the cap closed their visit starts a new one).
# 2. The same flood ingested under SIGKILL at random instants, then resumed,
#    and read by `run` (killed and restarted too): every view equals one
#    clean capped ingest, so the cap does not depend on commit boundaries.
# 3. Memory running out (ulimit -v, no cap): ingest stops with exit 2 and a
#    message, commits no read position past a line whose effects were lost,
#    and the next run resumes exactly: every view equals a clean ingest.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
FLOOD=${BSL_SOURCE_DIR:?}/bench/flood.sh
[ -x "$FLOOD" ] || { echo "SKIP: $FLOOD missing"; exit 77; }

B=$BOUSSOLE
SITE=www.example.com
mkdir -p "$WORK/logs"
# 200k lines in 20 minutes; a return visit comes 3,000 lines after the first,
# past a cap of 1,000 open visits
"$FLOOD" 200000 20 1793613600 3000 > "$WORK/f.log"
conf() { # conf FILE CAP [DB]
  printf '[boussole]\nmax_open_visits = %s\nflush_interval = 200ms\n%s\n' \
    "$2" "${3:+db = $3}" > "$1"
}
conf "$WORK/cap.conf" 1000
conf "$WORK/nocap.conf" 0

# ---- 1. the cap and what it does to the numbers ----
out=$("$B" ingest -c "$WORK/cap.conf" --no-progress --db "$WORK/clean.db" \
  --site "$SITE" "$WORK/f.log")
"$B" ingest -c "$WORK/nocap.conf" -q --no-progress --db "$WORK/nocap.db" \
  --site "$SITE" "$WORK/f.log"
early=$(sed -n 's/^boussole: \([0-9]*\) visits closed early.*/\1/p' <<<"$out")
returns=$(q "$WORK/nocap.db" "SELECT COUNT(*) FROM visits WHERE pageviews = 2")
expect_eq "uncapped: every return extends its visit" "$returns" 28143
expect "$WORK/nocap.db" "SELECT visits, visitors FROM traffic_daily" \
  "171857|171857"
# capped: each return came after its visit was closed, so it is a visit of
# its own; visitors (distinct keys) do not change
expect "$WORK/clean.db" "SELECT visits, visitors, pageviews FROM traffic_daily" \
  "200000|171857|200000"
expect "$WORK/clean.db" "SELECT COUNT(*) FROM visits WHERE pageviews > 1" "0"
CHECKS=$((CHECKS + 1))
if [ -z "$early" ] || [ "$early" -lt 150000 ]; then
  FAILS=$((FAILS + 1))
  echo "FAIL: summary should count the visits closed early, got: $out" >&2
fi
"$B" check -c "$WORK/cap.conf" | grep -q '^max_open_visits = 1000$' \
  || { FAILS=$((FAILS + 1)); echo "FAIL: check does not print max_open_visits" >&2; }
CHECKS=$((CHECKS + 1))
dump_views "$WORK/clean.db" > "$WORK/clean.txt"

# ---- 2. the cap across kills and restarts ----
kills=0
for i in $(seq 1 60); do
  [ "$kills" -ge 8 ] && break
  ms=$((RANDOM % 400 + 30))
  # started and killed by this shell, so that `wait` returns once it is gone
  # (timeout(1) killing its own group may return before its child exits)
  "$B" ingest -c "$WORK/cap.conf" -q --no-progress --flush-lines 2000 \
    --db "$WORK/k.db" --site "$SITE" "$WORK/f.log" 2>/dev/null & pid=$!
  sleep "$(printf '0.%03d' "$ms")"
  kill -KILL "$pid" 2>/dev/null || true
  set +e
  wait "$pid" 2>/dev/null
  rc=$?
  set -e
  [ "$rc" -eq 137 ] && kills=$((kills + 1))
  [ "$rc" -eq 0 ] && rm -f "$WORK"/k.db* # finished before the kill: again
done
"$B" ingest -c "$WORK/cap.conf" -q --no-progress --db "$WORK/k.db" \
  --site "$SITE" "$WORK/f.log"
expect_eq "ingest: kills that landed mid-ingest" "$([ "$kills" -gt 0 ] && echo yes)" yes
dump_views "$WORK/k.db" > "$WORK/k.txt"
expect_eq "ingest killed $kills times, resumed: views equal a clean run" \
  "$(diff "$WORK/clean.txt" "$WORK/k.txt" | head -5)" ""

# run: the flood file is a source; killed a few times while it catches up
cat > "$WORK/run.conf" <<EOF
[boussole]
db = $WORK/run.db
max_open_visits = 1000
flush_interval = 100ms

[source "www"]
path = $WORK/logs/access.log
site = $SITE
EOF
cp "$WORK/f.log" "$WORK/logs/access.log"
size=$(stat -c %s "$WORK/f.log")
caught_up() { [ "$(qs "$WORK/run.db" "SELECT MAX(offset) FROM sources")" = "$size" ]; }
run_kills=0
for i in 1 2 3 4 5 6; do
  "$B" run -c "$WORK/run.conf" 2>>"$WORK/run.log" & pid=$!
  bg_track "$pid"
  sleep "0.$((RANDOM % 6 + 2))"
  caught_up && { kill -TERM "$pid"; wait "$pid" || true; break; }
  kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
  run_kills=$((run_kills + 1))
done
"$B" run -c "$WORK/run.conf" 2>>"$WORK/run.log" & pid=$!
bg_track "$pid"
wait_until 60 caught_up || echo "run did not catch up" >&2
kill -TERM "$pid"; wait "$pid" || true
dump_views "$WORK/run.db" > "$WORK/run.txt"
expect_eq "run (killed $run_kills times) equals a clean capped ingest" \
  "$(diff "$WORK/clean.txt" "$WORK/run.txt" | head -5)" ""

# run catching up a flood from offset 0: while the writer thread is busy
# with one commit and the next is due, reading waits, so its memory stays
# that of ingest (it used to read on and hold every new visit: 228 MB
# against ingest's 57 MB on 600k flood lines).  And a commit is made as
# soon as it is due, not at the end of the read it fell in: each read is up
# to 65,536 lines, as many new visits in a flood, 8 times what a commit
# carries (run held 125 MB against ingest's 77 MB on these 400k lines)
if command -v /usr/bin/time >/dev/null; then
  "$FLOOD" 400000 20 1793613600 3000 > "$WORK/logs/access.log"
  size=$(stat -c %s "$WORK/logs/access.log")
  rm -f "$WORK"/run.db*
  "$B" run -c "$WORK/run.conf" 2>>"$WORK/run.log" & pid=$!
  bg_track "$pid"
  wait_until 120 caught_up || echo "run did not catch up" >&2
  run_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  /usr/bin/time -f %M -o "$WORK/ingest.kb" "$B" ingest -c "$WORK/cap.conf" -q \
    --no-progress --db "$WORK/flood-ingest.db" --site "$SITE" "$WORK/logs/access.log"
  ingest_kb=$(cat "$WORK/ingest.kb")
  echo "flood catch-up peak RSS: run $run_kb KB, ingest $ingest_kb KB"
  # (ASan keeps freed memory in quarantine, up to 256 MB: its RSS follows
  # how much each one allocated and freed, not what it holds.  Measured
  # when `ingest` began to park its open visits: run 455 against ingest
  # 346 MB in the ASan build, 52 against 50 MB in the release build)
  if ldd "$B" 2>/dev/null | grep -c 'lib[at]san' >/dev/null; then
    echo "note: sanitizer build, run's and ingest's memory are not compared"
  else
    expect_eq "run catching up a flood holds no more than 1.15 x ingest's memory + 8 MB" \
      "$([ "$run_kb" -le $((ingest_kb * 115 / 100 + 8192)) ] && echo yes)" yes
  fi
  # every flood address is a new visitor of the day: the exact counts of
  # distinct visitors hold one pair per visitor and day, segment, device x
  # channel.  Past the pairs' budget they go to a temporary table, so the
  # cap bounds memory again (a 64k-slot budget here, 2M by default; they
  # used to take 633 MB of bench/flood_rss.sh's 3M lines), views unchanged
  BSL_AGG_PAIR_SLOTS=65536 /usr/bin/time -f %M -o "$WORK/spill.kb" "$B" ingest \
    -c "$WORK/cap.conf" -q --no-progress --db "$WORK/flood-spill.db" --site "$SITE" \
    "$WORK/logs/access.log"
  spill_kb=$(cat "$WORK/spill.kb")
  echo "flood peak RSS: pairs in memory $ingest_kb KB, past a 64k-slot budget $spill_kb KB"
  # (ASan keeps freed memory in quarantine: its RSS says nothing here)
  if ldd "$B" 2>/dev/null | grep -c 'lib[at]san' >/dev/null; then
    echo "note: sanitizer build, the spilled pairs' memory is not compared"
  else
    # (a difference, not a ratio: the pairs are ~20 MB of this flood in
    # memory, and the rest of ingest's memory shrank in issue 18's third
    # round, 77 -> 51 MB, which took a 0.7 ratio to its edge: 35.9 MB
    # spilled against 50.6 MB; without the spill both are the same)
    expect_eq "a flood's visitor pairs past their budget leave memory (RSS 8 MB lower)" \
      "$([ "$spill_kb" -le $((ingest_kb - 8192)) ] && echo yes)" yes
  fi
  expect_eq "spilled visitor pairs count the same" \
    "$(dump_views "$WORK/flood-spill.db" | md5sum)" "$(dump_views "$WORK/flood-ingest.db" | md5sum)"
  cp "$WORK/f.log" "$WORK/logs/access.log" # the source of what follows
  size=$(stat -c %s "$WORK/f.log")
else
  echo "SKIP: /usr/bin/time (package time) missing: run's flood memory not checked"
  SKIPS=$((SKIPS + 1))
fi

# ---- 3. out of memory, then resume ----
# an injected failure where a visit is allocated (the place where a dropped
# pageview used to go unnoticed and be committed past), at three points
for n in 20000 30000 40000; do # each run counts from where the last stopped
  set +e
  BSL_FAIL_ALLOC=visit:$n "$B" ingest -c "$WORK/nocap.conf" -q --no-progress \
    --flush-lines 5000 --db "$WORK/inj.db" --site "$SITE" "$WORK/f.log" \
    2>"$WORK/inj.err"
  rc=$?
  set -e
  expect_eq "injected failure at visit $n: exit 2" "$rc" 2
  expect_eq "injected failure at visit $n: says out of memory" \
    "$(grep -c '^boussole: out of memory at .*f.log offset [0-9]*; stopped' "$WORK/inj.err")" 1
  off=$(q "$WORK/inj.db" "SELECT MAX(offset) FROM sources")
  # (pages_daily: the pageviews the commits counted, line by line; a visit
  # of them may still be parked, out of traffic_daily until it lands)
  expect_eq "injected failure at visit $n: nothing committed past the lost pageview" \
    "$(q "$WORK/inj.db" "SELECT SUM(pageviews) FROM pages_daily")" \
    "$(head -c "${off:-0}" "$WORK/f.log" | wc -l)"
done
"$B" ingest -c "$WORK/nocap.conf" -q --no-progress --db "$WORK/inj.db" \
  --site "$SITE" "$WORK/f.log"
expect_eq "after injected failures and a resume: views equal a clean run" \
  "$(diff <(dump_views "$WORK/nocap.db") <(dump_views "$WORK/inj.db") | head -5)" ""

# run: the same failure ends the daemon (exit 2, the reason logged); the
# next start resumes from the last commit
sed -e "s|^db = .*|db = $WORK/run-oom.db|" -e 's/^max_open_visits = .*/max_open_visits = 0/' \
  "$WORK/run.conf" > "$WORK/run-oom.conf"
for n in 30000 60000; do
  set +e
  BSL_FAIL_ALLOC=visit:$n timeout 60 "$B" run -c "$WORK/run-oom.conf" \
    2>"$WORK/run-oom.err"
  rc=$?
  set -e
  expect_eq "run, injected failure at visit $n: exits 2 by itself" "$rc" 2
  expect_eq "run, injected failure at visit $n: logs out of memory" \
    "$(grep -c 'level=error msg="out of memory at' "$WORK/run-oom.err")" 1
done
caught_up_oom() { [ "$(qs "$WORK/run-oom.db" "SELECT MAX(offset) FROM sources")" = "$size" ]; }
"$B" run -c "$WORK/run-oom.conf" 2>>"$WORK/run.log" & pid=$!
bg_track "$pid"
wait_until 60 caught_up_oom || echo "run did not catch up" >&2
kill -TERM "$pid"; wait "$pid" || true
expect_eq "run after injected failures and a restart: views equal a clean run" \
  "$(diff <(dump_views "$WORK/nocap.db") <(dump_views "$WORK/run-oom.db") | head -5)" ""

if ldd "$B" 2>/dev/null | grep -c 'lib[at]san' >/dev/null; then
  echo "note: sanitizer build, the ulimit -v part is skipped (ASan reserves terabytes of address space)"
else
  "$FLOOD" 600000 20 1793613600 3000 > "$WORK/g.log"
  "$B" ingest -c "$WORK/nocap.conf" -q --no-progress --db "$WORK/g-clean.db" \
    --site "$SITE" "$WORK/g.log"
  dump_views "$WORK/g-clean.db" > "$WORK/g-clean.txt"
  ooms=0
  for lim in 200000 260000 330000 420000; do
    set +e
    (ulimit -v "$lim"; exec "$B" ingest -c "$WORK/nocap.conf" -q --no-progress \
      --db "$WORK/oom.db" --site "$SITE" "$WORK/g.log") 2>"$WORK/oom.err"
    rc=$?
    set -e
    if grep -q 'out of memory' "$WORK/oom.err"; then
      ooms=$((ooms + 1))
      expect_eq "out of memory exits 2" "$rc" 2
      expect_eq "out of memory: one line on stderr" \
        "$(grep -c 'out of memory' "$WORK/oom.err")" 1
      # committed hits never exceed what was read before the failure, and
      # the stored offset is a line boundary of what was committed
      off=$(q "$WORK/oom.db" "SELECT MAX(offset) FROM sources")
      hits=$(q "$WORK/oom.db" "SELECT COALESCE(SUM(hits), 0) FROM traffic_daily")
      expect_eq "after OOM ($lim KB): hits committed = lines before the offset" \
        "$hits" "$(head -c "${off:-0}" "$WORK/g.log" | wc -l)"
    fi
  done
  expect_eq "ulimit -v made ingest run out of memory at least once" \
    "$([ "$ooms" -gt 0 ] && echo yes)" yes
  "$B" ingest -c "$WORK/nocap.conf" -q --no-progress --db "$WORK/oom.db" \
    --site "$SITE" "$WORK/g.log"
  dump_views "$WORK/oom.db" > "$WORK/oom.txt"
  expect_eq "after $ooms out-of-memory stops and a resume: views equal a clean run" \
    "$(diff "$WORK/g-clean.txt" "$WORK/oom.txt" | head -5)" ""
fi
echo "ingest kills: $kills, run kills: $run_kills"
finish
