#!/usr/bin/env bash
# Parking (README, "Guarantees under ordinary operations"): `ingest` keeps
# the open visits of each commit in visit_parked, and writes a visit's row
# to visit_log once.  Checked on busy days (the realistic mix, 3 days, a
# commit every 2,000 lines, so that many visits are open at each):
#   1. a whole load leaves nothing parked, and every view equals the same
#      load committed in one go (nothing parked on the way);
#   2. a load SIGKILLed with visits parked: each view agrees with
#      visit_log (a parked visit counts nowhere yet), and the days of
#      parked visits keep their visitor keys;
#   3. `boussole run`, started on that database, resumes the parked
#      visits: once it has caught up, every view equals the clean load;
#   4. so does an `ingest` resuming a second killed load.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }

N=120000
SITE=www.example.com
mkdir -p "$WORK/logs"
"$GENLOG" -n "$N" -s 11 --days 3 --realistic --site "$SITE" > "$WORK/f.log"
size=$(stat -c %s "$WORK/f.log")
printf '[boussole]\ndb = %s/unused.db\n' "$WORK" > "$WORK/b.conf"
load() { # load DB [ingest options...]
  local db=$1
  shift
  "$BOUSSOLE" ingest -q --no-progress -c "$WORK/b.conf" --db "$db" \
    --site "$SITE" "$@" "$WORK/f.log"
}

# ---- 1. whole loads ----
load "$WORK/clean.db" --flush-lines 2000
load "$WORK/once.db" --flush-lines 100000000
dump_views "$WORK/clean.db" > "$WORK/clean.txt"
expect "$WORK/clean.db" "SELECT (SELECT COUNT(*) FROM visit_parked) + (SELECT COUNT(*) FROM visit_parked_days)" 0
expect_eq "a whole load leaves its open visits in visit_log" \
  "$(q "$WORK/clean.db" "SELECT COUNT(*) > 0 FROM visit_log WHERE is_open = 1")" 1
expect_eq "2,000-line commits == one commit" \
  "$(dump_views "$WORK/once.db" | cmp -s - "$WORK/clean.txt" && echo same)" same
t0=$(now_ms)
load "$WORK/timing.db" --flush-lines 2000
T=$(($(now_ms) - t0))
[ "$T" -ge 200 ] || T=200

# ---- 2. killed with visits parked ----
# killed_load DB: SIGKILLs a load at a random moment until one leaves
# visits parked (prints how many tries it took, or "none")
killed_load() {
  local db=$1 i pid ms
  for i in $(seq 1 30); do
    rm -f "$db" "$db"-* "$db".*
    ms=$((T / 5 + RANDOM % (T * 3 / 5 + 1)))
    # (boussole itself in the background, not load(): a SIGKILL must reach it)
    "$BOUSSOLE" ingest -q --no-progress -c "$WORK/b.conf" --db "$db" \
      --site "$SITE" --flush-lines 2000 "$WORK/f.log" &
    pid=$!
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ "$(q "$db" "SELECT COUNT(*) FROM visit_parked" 2>/dev/null)" = 1 ]; then
      echo "$i"
      return
    fi
  done
  echo none
}
tries=$(killed_load "$WORK/killed.db")
expect_eq "a SIGKILL left visits parked (tries: $tries)" "$([ "$tries" != none ] && echo yes)" yes
if [ "$tries" != none ]; then
  db=$WORK/killed.db
  expect_eq "killed: visits per day = visit_log's" \
    "$(q "$db" "SELECT COUNT(*) FROM (SELECT day, site, visits FROM traffic_daily WHERE visits > 0
       EXCEPT SELECT day, site, COUNT(*) FROM visit_log GROUP BY 1, 2)")" 0
  expect_eq "killed: channels_daily = visit_log's" \
    "$(q "$db" "SELECT COUNT(*) FROM (SELECT day, site, channel, source, medium, campaign, visits, pageviews
       FROM channels_daily EXCEPT SELECT day, site, channel, source, medium, campaign, COUNT(*),
       SUM(pageviews) FROM visit_log GROUP BY 1, 2, 3, 4, 5, 6)")" 0
  expect_eq "killed: entries by landing page = visit_log's" \
    "$(q "$db" "SELECT COUNT(*) FROM (SELECT day, site, path, entries FROM pages_daily WHERE entries > 0
       EXCEPT SELECT day, site, landing_path, COUNT(*) FROM visit_log GROUP BY 1, 2, 3)")" 0
  expect_eq "killed: the parked visits' days are listed" \
    "$(q "$db" "SELECT COUNT(*) > 0 FROM visit_parked_days")" 1
  expect_eq "killed: no visitor of a parked visit's day numbered" \
    "$(q "$db" "SELECT COUNT(*) FROM visit_log WHERE visitor < 0 AND (day, site) IN
       (SELECT day, site FROM visit_parked_days)")" 0

  # ---- 3. run resumes them ----
  cp "$WORK/f.log" "$WORK/logs/access.log" # the same file, by content
  follow_conf "$WORK/run.conf" "$db" "$WORK/logs/access.log" 100ms "$SITE"
  run_start "$WORK/run.conf" "$WORK/run.log"
  wait_until 120 db_has_lines "$db" "$N" || echo "run read $(lines_read "$db") of $N lines"
  run_stop
  expect_eq "run exits 0 within 2 s of SIGTERM" "$STOPPED" ok
  expect_eq "run resumed the parked visits: views == one clean load" \
    "$(dump_views "$db" | cmp -s - "$WORK/clean.txt" && echo same ||
      diff <(dump_views "$db") "$WORK/clean.txt" | head -10)" same
  expect "$db" "SELECT COUNT(*) FROM visit_parked" 0
fi

# ---- 4. ingest resumes them ----
tries=$(killed_load "$WORK/killed2.db")
if [ "$tries" != none ]; then
  load "$WORK/killed2.db" --flush-lines 2000
  expect_eq "ingest resumed the parked visits: views == one clean load" \
    "$(dump_views "$WORK/killed2.db" | cmp -s - "$WORK/clean.txt" && echo same)" same
  expect "$WORK/killed2.db" "SELECT COUNT(*) FROM visit_parked" 0
else
  expect_eq "a second SIGKILL left visits parked" no yes
fi
finish
