/*
 * The per-day visit aggregates behind traffic_daily, channels_daily,
 * goals_daily, devices_daily and pages_daily's bounces (issue 18), SQLite
 * only.  Those views used to group every
 * visit row of the days asked for at each query (COUNT(DISTINCT visitor)
 * over temp B-trees: seconds for a month at 10M lines); now they read
 * per-day tables that the writer keeps (store_agg.c: counted in memory,
 * written once per commit and segment) and keep their names, columns and
 * values.  Conversions by goal are rare, so a trigger on visit_goals counts
 * them (the visit row is always written before its goals).
 *
 * Included by store_sql.h and store_agg.c only.
 */
#ifndef BSL_STORE_AGG_SQL_H
#define BSL_STORE_AGG_SQL_H

#define AGG_SEG_COLS "day, site, channel, source, medium, campaign"
#define AGG_BOUNCE "(pageviews = 1 AND clicks = 0)"

/* 7 -> 8: the tables, filled from visit_log, and the views on them. */
#define SQL_MIGRATION_AGGREGATES                                               \
  "CREATE TABLE visit_segments(day TEXT NOT NULL, site TEXT NOT NULL,"         \
  " channel TEXT NOT NULL, source TEXT NOT NULL, medium TEXT NOT NULL,"        \
  " campaign TEXT NOT NULL, visits INTEGER NOT NULL,"                          \
  " visitors INTEGER NOT NULL, pageviews INTEGER NOT NULL,"                    \
  " bounces INTEGER NOT NULL, conversions INTEGER NOT NULL,"                   \
  " PRIMARY KEY(" AGG_SEG_COLS ")) WITHOUT ROWID;"                             \
  "CREATE TABLE visit_days(day TEXT NOT NULL, site TEXT NOT NULL,"             \
  " visits INTEGER NOT NULL, visitors INTEGER NOT NULL,"                       \
  " pageviews INTEGER NOT NULL, bounces INTEGER NOT NULL,"                     \
  " clicks INTEGER NOT NULL, conversions INTEGER NOT NULL,"                    \
  " PRIMARY KEY(day, site)) WITHOUT ROWID;"                                    \
  "CREATE TABLE visit_devices(day TEXT NOT NULL, site TEXT NOT NULL,"          \
  " device TEXT NOT NULL, visits INTEGER NOT NULL, bounces INTEGER NOT NULL,"  \
  " conversions INTEGER NOT NULL, PRIMARY KEY(day, site, device))"             \
  " WITHOUT ROWID;"                                                            \
  "CREATE TABLE visit_quarters(day TEXT NOT NULL, site TEXT NOT NULL,"         \
  " quarter INTEGER NOT NULL, visits INTEGER NOT NULL,"                        \
  " PRIMARY KEY(day, site, quarter)) WITHOUT ROWID;"                           \
  "INSERT INTO visit_devices(day, site, device, visits, bounces, conversions)" \
  " SELECT day, site, device, COUNT(*), SUM(" AGG_BOUNCE "), SUM(conversions)" \
  " FROM visit_log GROUP BY day, site, device;"                                \
  "INSERT INTO visit_quarters(day, site, quarter, visits)"                     \
  " SELECT day, site, started_at / 900, COUNT(*) FROM visit_log"               \
  " GROUP BY day, site, started_at / 900;"                                     \
  "CREATE TABLE goal_counts(day TEXT NOT NULL, site TEXT NOT NULL,"            \
  " channel TEXT NOT NULL, goal TEXT NOT NULL, conversions INTEGER NOT NULL,"  \
  " PRIMARY KEY(day, site, channel, goal)) WITHOUT ROWID;"                     \
  "INSERT INTO visit_segments(" AGG_SEG_COLS ", visits, visitors, pageviews,"  \
  " bounces, conversions) SELECT " AGG_SEG_COLS ", COUNT(*),"                  \
  " COUNT(DISTINCT visitor), SUM(pageviews), SUM(" AGG_BOUNCE "),"             \
  " SUM(conversions) FROM visit_log GROUP BY " AGG_SEG_COLS ";"                \
  "INSERT INTO visit_days(day, site, visits, visitors, pageviews, bounces,"    \
  " clicks, conversions) SELECT day, site, COUNT(*), COUNT(DISTINCT visitor)," \
  " SUM(pageviews), SUM(" AGG_BOUNCE "), SUM(clicks), SUM(conversions)"        \
  " FROM visit_log GROUP BY day, site;"                                        \
  "INSERT INTO goal_counts(day, site, channel, goal, conversions)"             \
  " SELECT v.day, v.site, v.channel, g.goal, COUNT(*) FROM visit_goals g"      \
  " JOIN visit_log v ON v.visit_id = g.visit_id"                               \
  " GROUP BY v.day, v.site, v.channel, g.goal;"                                \
  "CREATE TRIGGER visit_goal_in AFTER INSERT ON visit_goals BEGIN"             \
  " INSERT INTO goal_counts(day, site, channel, goal, conversions)"            \
  "  SELECT day, site, channel, new.goal, 1 FROM visit_log"                    \
  "  WHERE visit_id = new.visit_id"                                            \
  "  ON CONFLICT(day, site, channel, goal) DO UPDATE"                          \
  "  SET conversions = conversions + 1; END;"                                  \
  "CREATE TRIGGER visit_goal_out AFTER DELETE ON visit_goals BEGIN"            \
  " UPDATE goal_counts SET conversions = conversions - 1"                      \
  "  WHERE (day, site, channel, goal) = (SELECT day, site, channel, old.goal"  \
  "  FROM visit_log WHERE visit_id = old.visit_id); END;"                      \
  "DROP VIEW traffic_daily;"                                                   \
  "CREATE VIEW traffic_daily AS"                                               \
  " WITH h AS (SELECT day, site, SUM(hits) AS hits,"                           \
  "   SUM(bot_hits) AS bot_hits FROM hit_counts GROUP BY day, site)"           \
  " SELECT h.day, h.site, h.hits, h.bot_hits,"                                 \
  "  COALESCE(v.pageviews, 0) AS pageviews, COALESCE(v.visits, 0) AS visits,"  \
  "  COALESCE(v.visitors, 0) AS visitors, COALESCE(v.bounces, 0) AS bounces"   \
  " FROM h LEFT JOIN visit_days v ON v.day = h.day AND v.site = h.site;"       \
  "DROP VIEW channels_daily;"                                                  \
  "CREATE VIEW channels_daily AS"                                              \
  " SELECT " AGG_SEG_COLS ", visits, visitors, pageviews, bounces,"            \
  "  conversions FROM visit_segments WHERE visits > 0;"                        \
  "DROP VIEW goals_daily;"                                                     \
  "CREATE VIEW goals_daily AS"                                                 \
  " SELECT c.day, c.site, g.goal, c.channel,"                                  \
  "  COALESCE(gc.conversions, 0) AS conversions, c.visits"                     \
  " FROM (SELECT day, site, channel, SUM(visits) AS visits"                    \
  "  FROM visit_segments GROUP BY day, site, channel HAVING SUM(visits) > 0)"  \
  "  AS c CROSS JOIN goals g"                                                  \
  " LEFT JOIN goal_counts gc ON gc.day = c.day AND gc.site = c.site"           \
  "  AND gc.channel = c.channel AND gc.goal = g.goal;"

/* 8 -> 9: bounces by landing page, and visits by device x channel, as
 * per-day counters like the ones above (issue 18: analysts grouped the
 * visits view for these).  A visit's bounce is counted on its landing
 * page and day, as pages_daily's entries are (model.c counts an entry on
 * the page a visit lands on, on the visit's day), so SUM(bounces) /
 * SUM(entries) is the bounce rate of a landing page.  It goes into
 * page_counts itself: no join in pages_daily; a row the writer adds there
 * before the model's (pageviews 0) stays hidden until its pageviews come,
 * in the same commit. */
#define AGG_DEVCHAN_COLS "day, site, device, channel"
#define SQL_MIGRATION_DEVICES                                                  \
  "ALTER TABLE page_counts ADD COLUMN bounces INTEGER NOT NULL DEFAULT 0;"     \
  "INSERT INTO page_counts(day, site, path, pageviews, entries, scroll_sum,"   \
  " scroll_75, bounces) SELECT day, site, landing_path, 0, 0, 0, 0,"           \
  " SUM(" AGG_BOUNCE ") FROM visit_log WHERE true"                             \
  " GROUP BY day, site, landing_path HAVING SUM(" AGG_BOUNCE ") > 0"           \
  " ON CONFLICT(day, site, path) DO UPDATE SET bounces = excluded.bounces;"    \
  "DROP VIEW pages_daily;"                                                     \
  "CREATE VIEW pages_daily AS"                                                 \
  " SELECT day, site, path, pageviews, entries,"                               \
  "  scroll_sum * 1.0 / pageviews AS avg_scroll_depth, scroll_75, bounces"     \
  " FROM page_counts WHERE pageviews > 0;"                                     \
  "CREATE TABLE visit_device_channels(day TEXT NOT NULL, site TEXT NOT NULL,"  \
  " device TEXT NOT NULL, channel TEXT NOT NULL, visits INTEGER NOT NULL,"     \
  " visitors INTEGER NOT NULL, pageviews INTEGER NOT NULL,"                    \
  " bounces INTEGER NOT NULL, conversions INTEGER NOT NULL,"                   \
  " clicks INTEGER NOT NULL,"                                                  \
  " PRIMARY KEY(" AGG_DEVCHAN_COLS ")) WITHOUT ROWID;"                         \
  "INSERT INTO visit_device_channels(" AGG_DEVCHAN_COLS ", visits, visitors,"  \
  " pageviews, bounces, conversions, clicks) SELECT " AGG_DEVCHAN_COLS ","     \
  " COUNT(*), COUNT(DISTINCT visitor), SUM(pageviews), SUM(" AGG_BOUNCE "),"   \
  " SUM(conversions), SUM(clicks) FROM visit_log GROUP BY " AGG_DEVCHAN_COLS   \
  ";"                                                                          \
  "CREATE VIEW devices_daily AS"                                               \
  " SELECT " AGG_DEVCHAN_COLS ", visits, visitors, pageviews, bounces,"        \
  "  conversions FROM visit_device_channels WHERE visits > 0;"

/* store_agg.c: the deltas of one commit ... */
#define SQL_AGG_SEGMENT_ADD                                                    \
  "INSERT INTO visit_segments(" AGG_SEG_COLS ", visits, visitors, pageviews,"  \
  " bounces, conversions) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "    \
  "?11)"                                                                       \
  " ON CONFLICT(" AGG_SEG_COLS ") DO UPDATE SET"                               \
  " visits = visits + excluded.visits, visitors = visitors + "                 \
  "excluded.visitors,"                                                         \
  " pageviews = pageviews + excluded.pageviews,"                               \
  " bounces = bounces + excluded.bounces,"                                     \
  " conversions = conversions + excluded.conversions"
#define SQL_AGG_DAY_ADD                                                        \
  "INSERT INTO visit_days(day, site, visits, visitors, pageviews, bounces,"    \
  " clicks, conversions) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"               \
  " ON CONFLICT(day, site) DO UPDATE SET"                                      \
  " visits = visits + excluded.visits, visitors = visitors + "                 \
  "excluded.visitors,"                                                         \
  " pageviews = pageviews + excluded.pageviews,"                               \
  " bounces = bounces + excluded.bounces, clicks = clicks + excluded.clicks,"  \
  " conversions = conversions + excluded.conversions"
#define SQL_AGG_DEVICE_ADD                                                     \
  "INSERT INTO visit_devices(day, site, device, visits, bounces, conversions)" \
  " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(day, site, device) DO UPDATE"   \
  " SET visits = visits + excluded.visits,"                                    \
  " bounces = bounces + excluded.bounces,"                                     \
  " conversions = conversions + excluded.conversions"
#define SQL_AGG_QUARTER_ADD                                                    \
  "INSERT INTO visit_quarters(day, site, quarter, visits)"                     \
  " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(day, site, quarter) DO UPDATE"          \
  " SET visits = visits + excluded.visits"
#define SQL_AGG_DEVCHAN_ADD                                                    \
  "INSERT INTO visit_device_channels(" AGG_DEVCHAN_COLS ", visits, visitors,"  \
  " pageviews, bounces, conversions, clicks) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"   \
  " ?7, ?8, ?9, ?10) ON CONFLICT(" AGG_DEVCHAN_COLS ") DO UPDATE SET"          \
  " visits = visits + excluded.visits,"                                        \
  " visitors = visitors + excluded.visitors,"                                  \
  " pageviews = pageviews + excluded.pageviews,"                               \
  " bounces = bounces + excluded.bounces,"                                     \
  " conversions = conversions + excluded.conversions,"                         \
  " clicks = clicks + excluded.clicks"
#define SQL_AGG_LANDING_ADD                                                    \
  "INSERT INTO page_counts(day, site, path, pageviews, entries, scroll_sum,"   \
  " scroll_75, bounces) VALUES(?1, ?2, ?3, 0, ?4, 0, 0, ?5)"                   \
  " ON CONFLICT(day, site, path) DO UPDATE"                                    \
  " SET entries = entries + excluded.entries,"                                 \
  " bounces = bounces + excluded.bounces"
/* ... what is already counted of a day (its visitors' segments) ... */
/* store_agg.c: the pairs of days whose distinct visitors outgrew the
 * memory budget (an address flood), in a private temporary table: same
 * rows, same counts, read and written one visit at a time. */
#define SQL_AGG_SPILL_CREATE                                                   \
  "CREATE TEMP TABLE IF NOT EXISTS agg_pairs(day BLOB NOT NULL,"               \
  " agg BLOB NOT NULL, visitor INTEGER NOT NULL, n INTEGER NOT NULL,"          \
  " PRIMARY KEY(agg, visitor)) WITHOUT ROWID"
#define SQL_AGG_SPILL_DROP "DROP TABLE IF EXISTS temp.agg_pairs"
#define SQL_AGG_SPILL_ADD                                                      \
  "INSERT INTO temp.agg_pairs(day, agg, visitor, n) VALUES(?1, ?2, ?3, ?4)"    \
  " ON CONFLICT(agg, visitor) DO UPDATE SET n = n + excluded.n RETURNING n"
#define SQL_AGG_SPILL_TAKE                                                     \
  "UPDATE temp.agg_pairs SET n = n - 1 WHERE agg = ?1 AND visitor = ?2"        \
  " AND n > 0 RETURNING n"
#define SQL_AGG_SPILL_FORGET "DELETE FROM temp.agg_pairs WHERE day = ?1"
#define SQL_AGG_DAY_COUNTED                                                    \
  "SELECT 1 FROM visit_days WHERE day = ?1 AND site = ?2"
/* Numbered visitors (< 0, store.c) are left out: no key can ever equal a
 * number, and a numbered visit never changes, so its pairs would only hold
 * memory (all of a day's, when older lines come after newer ones). */
#define SQL_AGG_DAY_LOAD                                                       \
  "SELECT channel, source, medium, campaign, visitor, device FROM visit_log"   \
  " WHERE day = ?1 AND site = ?2 AND visitor > 0"
/* ... the open visits as counted (their next row replaces them) ... */
#define SQL_AGG_OPEN_LOAD                                                      \
  "SELECT visit_id, " AGG_SEG_COLS ", device, visitor, pageviews, clicks,"     \
  " conversions, started_at, landing_path FROM visit_log WHERE is_open = 1"
/* ... and the goals of an open visit that changes channel or day. */
#define SQL_AGG_GOALS_MOVE                                                     \
  "INSERT INTO goal_counts(day, site, channel, goal, conversions)"             \
  " SELECT ?1, ?2, ?3, goal, ?5 FROM visit_goals WHERE visit_id = ?4"          \
  " ON CONFLICT(day, site, channel, goal) DO UPDATE"                           \
  " SET conversions = conversions + excluded.conversions"

#endif
