#!/usr/bin/env bash
# traffic_daily, channels_daily and goals_daily read per-day aggregates that
# the writer counts in memory (issue 18, analyze/store/store_agg.c); they
# must equal what grouping visit_log gives (the views' former definitions):
# after one load, after a load in parts (open visits carried over, days read
# back from the database), after a late line for a finished day, and after
# migrating a version-7 database, whose aggregates are built from visit_log.
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

# same_as_visit_log WHAT DB: each view has exactly the rows of its old query
same_as_visit_log() {
  local what=$1 db=$2 v old n
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
    + (SELECT COUNT(*) FROM visit_log) - (SELECT SUM(visits) FROM visit_quarters)")
  expect_eq "$what: device and quarter-hour counters = grouping visit_log" "$n" 0
  expect_eq "$what: views not empty" "$(q "$db" "SELECT (SELECT COUNT(*) FROM channels_daily) > 50 AND (SELECT SUM(conversions) FROM goals_daily) > 0")" 1
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
ingest one "$WORK/r.log"
same_as_visit_log "one load" "$WORK/one.db"

# in three parts: each run starts with nothing in memory, the open visits
# and the days already counted come from the database
split -n l/3 -d "$WORK/r.log" "$WORK/part"
conf parts
for p in "$WORK"/part0*; do ingest parts "$p"; done
same_as_visit_log "three loads" "$WORK/parts.db"
expect_eq "three loads == one load" \
  "$(dump_views "$WORK/parts.db" | md5sum)" "$(dump_views "$WORK/one.db" | md5sum)"

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

# a version-7 database (as the last release left it) is migrated
cp "$WORK/one.db" "$WORK/v7.db"
cp "$WORK/one.db.salts" "$WORK/v7.db.salts"
sqlite3 "$WORK/v7.db" "DROP VIEW traffic_daily; DROP VIEW channels_daily; DROP VIEW goals_daily;
  DROP TRIGGER visit_goal_in; DROP TRIGGER visit_goal_out;
  DROP TABLE visit_segments; DROP TABLE visit_days; DROP TABLE goal_counts;
  DROP TABLE visit_devices; DROP TABLE visit_quarters;
  CREATE VIEW traffic_daily AS $OLD_TRAFFIC; CREATE VIEW channels_daily AS $OLD_CHANNELS;
  CREATE VIEW goals_daily AS $OLD_GOALS; PRAGMA user_version = 7"
"$BOUSSOLE" report --db "$WORK/v7.db" > /dev/null
expect "$WORK/v7.db" "PRAGMA user_version" 8
same_as_visit_log "migrated" "$WORK/v7.db"
expect_eq "migrated == written by this version" \
  "$(dump_views "$WORK/v7.db" | md5sum)" "$(dump_views "$WORK/one.db" | md5sum)"
# and it goes on counting from there
conf v7
ingest v7 "$WORK/late.log"
same_as_visit_log "migrated, then loaded" "$WORK/v7.db"
finish
