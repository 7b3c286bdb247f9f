#!/usr/bin/env bash
# traffic_daily, channels_daily, goals_daily, devices_daily and
# pages_daily.bounces read per-day aggregates that the writer counts in
# memory (issue 18, analyze/store/store_agg.c); they must equal what grouping
# visit_log (or the visits view) gives: after one load of each generator mix,
# after a load in parts (open visits carried over, days read back from the
# database), after a late line for a finished day, after SIGKILLs and a
# resume, and after migrating a version-8 or version-7 database, whose
# aggregates are built from visit_log.
source "$(dirname "$0")/lib.sh"
GENLOG=${GENLOG:-$(dirname "$BOUSSOLE")/boussole-genlog}
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }

# the views as they were before the aggregates (schema version 7)
OLD_TRAFFIC="WITH h AS (SELECT day, site, SUM(hits) AS hits, SUM(bot_hits) AS bot_hits FROM hit_counts GROUP BY day, site),
 v AS (SELECT day, site, COUNT(*) AS visits, SUM(pageviews) AS pageviews, COUNT(DISTINCT visitor) AS visitors,
   SUM(pageviews = 1 AND clicks = 0) AS bounces FROM visit_log GROUP BY day, site)
 SELECT h.day, h.site, h.hits, h.bot_hits, COALESCE(v.pageviews, 0) AS pageviews, COALESCE(v.visits, 0) AS visits,
  COALESCE(v.visitors, 0) AS visitors, COALESCE(v.bounces, 0) AS bounces
 FROM h LEFT JOIN v ON v.day = h.day AND v.site = h.site"
OLD_CHANNELS="SELECT day, site, channel, source, medium, campaign, COUNT(*) AS visits, COUNT(DISTINCT visitor) AS visitors,
  SUM(pageviews) AS pageviews, SUM(pageviews = 1 AND clicks = 0) AS bounces, SUM(conversions) AS conversions
 FROM visit_log GROUP BY day, site, channel, source, medium, campaign"
OLD_GOALS="SELECT v.day, v.site, g.goal, v.channel, COUNT(vg.visit_id) AS conversions, COUNT(*) AS visits
 FROM visit_log v CROSS JOIN goals g LEFT JOIN visit_goals vg ON vg.visit_id = v.visit_id AND vg.goal = g.goal
 GROUP BY v.day, v.site, g.goal, v.channel"

# schema 9's additions, as the visits view (and visit_log for visitors) give them
OLD_LANDING="SELECT day, site, landing_path, COUNT(*), SUM(bounced) FROM visits GROUP BY 1, 2, 3"
NEW_LANDING="SELECT day, site, path, entries, bounces FROM pages_daily WHERE entries > 0 OR bounces > 0"
OLD_DEVICES="SELECT day, site, device, channel, COUNT(*) AS visits, COUNT(DISTINCT visitor) AS visitors,
  SUM(pageviews) AS pageviews, SUM(pageviews = 1 AND clicks = 0) AS bounces, SUM(conversions) AS conversions
 FROM visit_log GROUP BY day, site, device, channel"

# same_as_visit_log WHAT DB [partial]: each view has exactly the rows of its
# old query (and, unless partial: a load cut short, rows to compare)
same_as_visit_log() {
  local what=$1 db=$2 partial=${3:-} v old n
  for v in traffic_daily channels_daily goals_daily; do
    case $v in
      traffic_daily) old=$OLD_TRAFFIC ;;
      channels_daily) old=$OLD_CHANNELS ;;
      goals_daily) old=$OLD_GOALS ;;
    esac
    n=$(q "$db" "SELECT (SELECT COUNT(*) FROM (SELECT * FROM $v EXCEPT SELECT * FROM ($old)))
      + (SELECT COUNT(*) FROM (SELECT * FROM ($old) EXCEPT SELECT * FROM $v))")
    expect_eq "$what: $v = grouping visit_log" "$n" 0
  done
  # what report reads for devices and quarter hours
  n=$(q "$db" "SELECT (SELECT COUNT(*) FROM (SELECT day, site, device, visits, bounces, conversions FROM visit_devices
      WHERE visits > 0 EXCEPT SELECT day, site, device, COUNT(*), SUM(pageviews = 1 AND clicks = 0),
      SUM(conversions) FROM visit_log GROUP BY 1, 2, 3))
    + (SELECT COUNT(*) FROM (SELECT day, site, quarter, visits FROM visit_quarters WHERE visits > 0
      EXCEPT SELECT day, site, started_at / 900, COUNT(*) FROM visit_log GROUP BY 1, 2, 3))
    + (SELECT COUNT(DISTINCT device) FROM visit_log) - (SELECT COUNT(*) FROM (SELECT DISTINCT device FROM visit_devices WHERE visits > 0))
    + (SELECT COUNT(*) FROM visit_log) - COALESCE((SELECT SUM(visits) FROM visit_quarters), 0)")
  expect_eq "$what: device and quarter-hour counters = grouping visit_log" "$n" 0
  # schema 9: bounce by landing page is SUM(bounces) / SUM(entries) of
  # pages_daily; both count a visit on its landing page and day
  n=$(q "$db" "SELECT (SELECT COUNT(*) FROM ($NEW_LANDING EXCEPT $OLD_LANDING))
    + (SELECT COUNT(*) FROM ($OLD_LANDING EXCEPT $NEW_LANDING))")
  expect_eq "$what: pages_daily entries, bounces = visits by landing page" "$n" 0
  n=$(q "$db" "SELECT (SELECT COUNT(*) FROM (SELECT * FROM devices_daily EXCEPT $OLD_DEVICES))
    + (SELECT COUNT(*) FROM ($OLD_DEVICES EXCEPT SELECT * FROM devices_daily))")
  expect_eq "$what: devices_daily = grouping visit_log by device x channel" "$n" 0
  # what a KPI filtered by channel reads (store_kpi_sql.h): the device x
  # channel counters summed over devices, visitors included (a visitor's
  # key hashes its user agent, so it has one device), and clicks
  n=$(q "$db" "SELECT (SELECT COUNT(*) FROM (SELECT day, site, channel, SUM(visits), SUM(visitors),
      SUM(bounces), SUM(conversions), SUM(clicks) FROM visit_device_channels GROUP BY 1, 2, 3
      HAVING SUM(visits) > 0 EXCEPT SELECT day, site, channel, COUNT(*), COUNT(DISTINCT visitor),
      SUM(pageviews = 1 AND clicks = 0), SUM(conversions), SUM(clicks) FROM visit_log GROUP BY 1, 2, 3))
    + (SELECT COUNT(*) FROM (SELECT day, site, channel, COUNT(*), COUNT(DISTINCT visitor),
      SUM(pageviews = 1 AND clicks = 0), SUM(conversions), SUM(clicks) FROM visit_log GROUP BY 1, 2, 3
      EXCEPT SELECT day, site, channel, SUM(visits), SUM(visitors), SUM(bounces), SUM(conversions),
      SUM(clicks) FROM visit_device_channels GROUP BY 1, 2, 3 HAVING SUM(visits) > 0))")
  expect_eq "$what: device x channel counters by channel (KPI filter) = grouping visit_log by channel" "$n" 0
  [ -n "$partial" ] || expect_eq "$what: bounces and devices not empty" "$(q "$db" "SELECT (SELECT SUM(bounces) FROM pages_daily) > 0
    AND (SELECT COUNT(DISTINCT device) FROM devices_daily) > 1 AND (SELECT COUNT(DISTINCT channel) FROM devices_daily) > 1")" 1
  [ -n "$partial" ] || expect_eq "$what: views not empty" "$(q "$db" "SELECT (SELECT COUNT(*) FROM channels_daily) > 50 AND (SELECT SUM(conversions) FROM goals_daily) > 0")" 1
}

conf() {
  cat > "$WORK/$1.conf" <<CONF
[boussole]
db = $WORK/$1.db
[goal "signup"]
path = ^/thank-you
[goal "pricing"]
path = ^/pricing
CONF
}
ingest() { local c=$1; shift; "$BOUSSOLE" ingest -q --no-progress --site www.example.com -c "$WORK/$c.conf" "$@"; }

"$GENLOG" -n 60000 -s 3 --days 6 --realistic > "$WORK/r.log"
conf one
t0=$(date +%s%3N)
ingest one "$WORK/r.log"
T=$(($(date +%s%3N) - t0))
same_as_visit_log "one load" "$WORK/one.db"
"$GENLOG" -n 60000 -s 5 --days 4 > "$WORK/d.log"
conf default
ingest default "$WORK/d.log"
same_as_visit_log "default mix" "$WORK/default.db"

# in three parts: each run starts with nothing in memory, the open visits
# and the days already counted come from the database
split -n l/3 -d "$WORK/r.log" "$WORK/part"
conf parts
for p in "$WORK"/part0*; do ingest parts "$p"; done
same_as_visit_log "three loads" "$WORK/parts.db"
expect_eq "three loads == one load" \
  "$(dump_views "$WORK/parts.db" | md5sum)" "$(dump_views "$WORK/one.db" | md5sum)"

# a day whose distinct visitors outgrow the pairs' memory budget (an
# address flood) counts them in a temporary table instead: the smallest
# budget (BSL_AGG_PAIR_SLOTS) spills at once, in one load and in three
# (where the days already counted are read back, then spill again), and
# every view is the same as with the pairs in memory
conf spill
BSL_AGG_PAIR_SLOTS=4096 ingest spill "$WORK/r.log"
same_as_visit_log "spilled pairs" "$WORK/spill.db"
expect_eq "spilled pairs == pairs in memory" \
  "$(dump_views "$WORK/spill.db" | md5sum)" "$(dump_views "$WORK/one.db" | md5sum)"
conf spillparts
for p in "$WORK"/part0*; do BSL_AGG_PAIR_SLOTS=4096 ingest spillparts "$p"; done
expect_eq "spilled pairs in three loads == one load" \
  "$(dump_views "$WORK/spillparts.db" | md5sum)" "$(dump_views "$WORK/one.db" | md5sum)"

# a late line for the second day (finished, dropped from memory), from a
# visitor already counted that day and from a new one
line=$(grep -m1 ' "GET /pricing ' "$WORK/r.log" | grep -F "$(sed -n 's/.*\[\([0-9]*\/[A-Za-z]*\/[0-9]*\):.*/\1/p' "$WORK/r.log" | sort -u | sed -n 2p)" || true)
[ -n "$line" ] || line=$(sed -n '30000p' "$WORK/r.log")
{
  echo "$line" | sed 's/:\([0-9][0-9]\):\([0-9][0-9]\):\([0-9][0-9]\) /:23:59:\3 /'
  echo "$line" | sed 's/^[^ ]*/198.51.100.77/; s/:\([0-9][0-9]\):\([0-9][0-9]\):\([0-9][0-9]\) /:23:58:\3 /'
} > "$WORK/late.log"
ingest parts "$WORK/late.log"
same_as_visit_log "a late line" "$WORK/parts.db"

# SIGKILL at random moments of a load that commits every 1,000 lines (the
# delays spread over 10-80% of the time one load took), then the load
# finished: the counters hold what was committed, exactly once
conf killed
kills=0
for i in $(seq 1 20); do
  [ "$kills" -ge 3 ] && break
  ms=$((T / 10 + RANDOM % (T * 7 / 10 + 1)))
  "$BOUSSOLE" ingest -q --no-progress --flush-lines 1000 --site www.example.com \
    -c "$WORK/killed.conf" "$WORK/r.log" &
  pid=$!
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
  if [ "$rc" = 137 ]; then
    kills=$((kills + 1))
    # killed before its first commit: nothing to compare yet
    [ "$(q "$WORK/killed.db" "SELECT COUNT(*) FROM sqlite_master WHERE name = 'visit_log'" 2>/dev/null)" = 1 ] &&
      same_as_visit_log "killed after $ms ms" "$WORK/killed.db" partial
  else
    rm -f "$WORK/killed.db" "$WORK/killed.db"-* "$WORK/killed.db".*
  fi
done
echo "SIGKILLs that landed mid-load: $kills"
expect_eq "SIGKILLs that landed mid-load" "$([ "$kills" -ge 1 ] && echo some || echo none)" some
ingest killed "$WORK/r.log"
same_as_visit_log "killed, then resumed" "$WORK/killed.db"
expect_eq "killed, then resumed == one load" \
  "$(dump_views "$WORK/killed.db" | md5sum)" "$(dump_views "$WORK/one.db" | md5sum)"

# databases of versions 9 (as the last release left it), 8 and 7 are migrated
OLD_PAGES="SELECT day, site, path, pageviews, entries, scroll_sum * 1.0 / pageviews AS avg_scroll_depth, scroll_75
 FROM page_counts WHERE pageviews > 0"
TO_V9="DROP TABLE visit_parked; DROP TABLE visit_parked_days; PRAGMA user_version = 9;"
TO_V8="DROP VIEW devices_daily; DROP TABLE visit_device_channels;
  DROP VIEW pages_daily; ALTER TABLE page_counts DROP COLUMN bounces;
  DELETE FROM page_counts WHERE pageviews = 0; CREATE VIEW pages_daily AS $OLD_PAGES;
  PRAGMA user_version = 8;"
TO_V7="DROP VIEW traffic_daily; DROP VIEW channels_daily; DROP VIEW goals_daily;
  DROP TRIGGER visit_goal_in; DROP TRIGGER visit_goal_out;
  DROP TABLE visit_segments; DROP TABLE visit_days; DROP TABLE goal_counts;
  DROP TABLE visit_devices; DROP TABLE visit_quarters;
  CREATE VIEW traffic_daily AS $OLD_TRAFFIC; CREATE VIEW channels_daily AS $OLD_CHANNELS;
  CREATE VIEW goals_daily AS $OLD_GOALS; PRAGMA user_version = 7;"
for v in 9 8 7; do
  cp "$WORK/one.db" "$WORK/v$v.db"
  cp "$WORK/one.db.salts" "$WORK/v$v.db.salts"
  case $v in
    9) sqlite3 "$WORK/v$v.db" "$TO_V9" ;;
    8) sqlite3 "$WORK/v$v.db" "$TO_V9 $TO_V8" ;;
    *) sqlite3 "$WORK/v$v.db" "$TO_V9 $TO_V8 $TO_V7" ;;
  esac
  [ "$v" = 9 ] || expect_eq "version-$v copy: no bounces" \
    "$(q "$WORK/v$v.db" "SELECT COUNT(*) FROM pragma_table_info('pages_daily') WHERE name = 'bounces'")" 0
  "$BOUSSOLE" report --db "$WORK/v$v.db" > /dev/null
  expect "$WORK/v$v.db" "PRAGMA user_version" 10
  same_as_visit_log "migrated from $v" "$WORK/v$v.db"
  expect_eq "migrated from $v == written by this version" \
    "$(dump_views "$WORK/v$v.db" | md5sum)" "$(dump_views "$WORK/one.db" | md5sum)"
  # and it goes on counting from there
  conf "v$v"
  ingest "v$v" "$WORK/late.log"
  same_as_visit_log "migrated from $v, then loaded" "$WORK/v$v.db"
done
finish
