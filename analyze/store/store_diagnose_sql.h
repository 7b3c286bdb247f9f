/*
 * The SQL of `boussole diagnose` (store_diagnose.c): read-only queries over
 * the analyst views of SPEC §6 (and visit_pages, visit_conversions), never
 * the tables behind them, so that a diagnosis shows what an analyst would
 * find with sqlite3.  Parameters are text: ?1 first day, ?2 last day.
 */
#ifndef BSL_STORE_DIAGNOSE_SQL_H
#define BSL_STORE_DIAGNOSE_SQL_H

/* The dimensions of a visit, in the order every segment query returns
 * them (see enum bsl_diag_query in store_diagnose.h). */
#define SQL_DIAG_DIMS "channel, source, medium, campaign, landing_path, device"
#define SQL_DIAG_V_DIMS                                                        \
  "v.channel, v.source, v.medium, v.campaign, v.landing_path, v.device"

/* Written for both backends: no SUM of a comparison (PostgreSQL has no
 * sum(boolean)); joins on a visit go through SQL_DIAG_SAME_VISIT, since a
 * visit_id is unique per host only in a PostgreSQL fleet (SPEC §9). */
#define SQL_DIAG_SAME_VISIT(a, b) " " a ".visit_id = " b ".visit_id"
#define PG_SQL_DIAG_SAME_VISIT(a, b)                                           \
  " " a ".host = " b ".host AND " a ".visit_id = " b ".visit_id"

#define SQL_DIAG_VISITS                                                        \
  "SELECT " SQL_DIAG_DIMS ", COUNT(*), SUM(bounced),"                          \
  " SUM(CASE WHEN conversions > 0 THEN 1 ELSE 0 END),"                         \
  " SUM(pageviews), SUM(clicks) FROM visits WHERE day BETWEEN ?1 AND ?2"       \
  " GROUP BY 1, 2, 3, 4, 5, 6"

#define SQL_DIAG_GOALS_ON(same)                                                \
  "SELECT " SQL_DIAG_V_DIMS ", c.goal, COUNT(*) FROM visit_conversions c"      \
  " JOIN visits v ON" same("v", "c")                                           \
  " WHERE c.day BETWEEN ?1 AND ?2 GROUP BY 1, 2, 3, 4, 5, 6, 7"
#define SQL_DIAG_GOALS SQL_DIAG_GOALS_ON(SQL_DIAG_SAME_VISIT)
#define PG_SQL_DIAG_GOALS SQL_DIAG_GOALS_ON(PG_SQL_DIAG_SAME_VISIT)

/* The pages of the visits: pageviews and those reaching 75% (SPEC §5:
 * a pageview's scroll depth is its visit's highest for that page). */
#define SQL_DIAG_SCROLL_ON(same)                                               \
  "SELECT " SQL_DIAG_V_DIMS ", SUM(p.pageviews),"                              \
  " SUM(CASE WHEN p.max_scroll >= 75 THEN p.pageviews ELSE 0 END)"             \
  " FROM visit_pages p JOIN visits v ON" same("v", "p")                        \
  " WHERE v.day BETWEEN ?1 AND ?2 AND p.pageviews > 0"                         \
  " GROUP BY 1, 2, 3, 4, 5, 6"
#define SQL_DIAG_SCROLL SQL_DIAG_SCROLL_ON(SQL_DIAG_SAME_VISIT)
#define PG_SQL_DIAG_SCROLL SQL_DIAG_SCROLL_ON(PG_SQL_DIAG_SAME_VISIT)

/* Each page on its own: pageviews, entries, pageviews reaching 75%, click
 * beacons sent from it. */
#define SQL_DIAG_PAGES                                                         \
  "WITH pg AS (SELECT path, SUM(pageviews) AS pv, SUM(entries) AS en,"         \
  "  SUM(scroll_75) AS s75 FROM pages_daily WHERE day BETWEEN ?1 AND ?2"       \
  "  GROUP BY path),"                                                          \
  " ck AS (SELECT path, SUM(events) AS clicks FROM events_daily"               \
  "  WHERE day BETWEEN ?1 AND ?2 AND event = 'click' GROUP BY path)"           \
  " SELECT pg.path, pg.pv, pg.en, pg.s75, COALESCE(ck.clicks, 0)"              \
  " FROM pg LEFT JOIN ck ON ck.path = pg.path"

/* Scroll and click beacons up to ?2: first and last day seen, and the
 * events from ?1 on. */
#define SQL_DIAG_BEACONS                                                       \
  "SELECT event, MIN(day), MAX(day),"                                          \
  " SUM(CASE WHEN day >= ?1 THEN events ELSE 0 END), SUM(events)"              \
  " FROM events_daily WHERE event IN ('scroll', 'click') AND day <= ?2"        \
  " GROUP BY event ORDER BY event"

/* One segment per day, for a proposed objective: ?3 the filter key
 * (channel source medium campaign path device, '' for none), ?4 its value,
 * ?5 a goal.  `path` is the landing page, as for a [kpi] visit metric. */
#define SQL_DIAG_FILTER                                                        \
  " (?3 = '' OR CASE ?3 WHEN 'channel' THEN v.channel"                         \
  " WHEN 'source' THEN v.source WHEN 'medium' THEN v.medium"                   \
  " WHEN 'campaign' THEN v.campaign WHEN 'device' THEN v.device"               \
  " WHEN 'path' THEN v.landing_path END = ?4)"
/* day, visits, bounces, conversions of ?5, pageviews, clicks */
#define SQL_DIAG_SERIES_VISITS_ON(same)                                        \
  "SELECT v.day, COUNT(*), SUM(v.bounced), SUM(CASE WHEN EXISTS(SELECT 1 FROM" \
  " visit_conversions c WHERE" same("c", "v") " AND c.goal = ?5)"             \
  " THEN 1 ELSE 0 END),"                                                       \
  " SUM(v.pageviews), SUM(v.clicks) FROM visits v"                             \
  " WHERE v.day BETWEEN ?1 AND ?2 AND" SQL_DIAG_FILTER                         \
  " GROUP BY v.day ORDER BY v.day"
#define SQL_DIAG_SERIES_VISITS SQL_DIAG_SERIES_VISITS_ON(SQL_DIAG_SAME_VISIT)
#define PG_SQL_DIAG_SERIES_VISITS                                              \
  SQL_DIAG_SERIES_VISITS_ON(PG_SQL_DIAG_SAME_VISIT)
/* day, pageviews, pageviews reaching 75% of the segment's visits */
#define SQL_DIAG_SERIES_SCROLL_ON(same)                                        \
  "SELECT v.day, SUM(p.pageviews),"                                            \
  " SUM(CASE WHEN p.max_scroll >= 75 THEN p.pageviews ELSE 0 END)"             \
  " FROM visit_pages p JOIN visits v ON" same("v", "p")                        \
  " WHERE v.day BETWEEN ?1 AND ?2 AND p.pageviews > 0 AND" SQL_DIAG_FILTER     \
  " GROUP BY v.day ORDER BY v.day"
#define SQL_DIAG_SERIES_SCROLL SQL_DIAG_SERIES_SCROLL_ON(SQL_DIAG_SAME_VISIT)
#define PG_SQL_DIAG_SERIES_SCROLL                                              \
  SQL_DIAG_SERIES_SCROLL_ON(PG_SQL_DIAG_SAME_VISIT)
/* day, pageviews, pageviews reaching 75%, click beacons of page ?3 */
#define SQL_DIAG_SERIES_PAGE                                                   \
  "WITH pg AS (SELECT day, SUM(pageviews) AS pv, SUM(scroll_75) AS s75"        \
  "  FROM pages_daily WHERE day BETWEEN ?1 AND ?2 AND path = ?3"               \
  "  GROUP BY day),"                                                           \
  " ck AS (SELECT day, SUM(events) AS clicks FROM events_daily"                \
  "  WHERE day BETWEEN ?1 AND ?2 AND path = ?3 AND event = 'click'"            \
  "  GROUP BY day)"                                                            \
  " SELECT pg.day, pg.pv, pg.s75, COALESCE(ck.clicks, 0) FROM pg"              \
  " LEFT JOIN ck ON ck.day = pg.day ORDER BY pg.day"

#endif
