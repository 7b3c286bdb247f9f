/*
 * SQL of the KPI feature (store_kpi.c): the 2 -> 3 and 3 -> 4 schema
 * migrations and the statements.  Tables kpi_* are internal; the views
 * kpi_series, kpi_status, alerts and adjustments are the analysts' interface
 * (SPEC §6).
 */
#ifndef BSL_STORE_KPI_SQL_H
#define BSL_STORE_KPI_SQL_H

#define SQL_MIGRATION_KPI                                                      \
  "CREATE TABLE kpi_values(kpi TEXT NOT NULL, period TEXT NOT NULL,"           \
  " period_start TEXT NOT NULL, value REAL, n INTEGER NOT NULL,"               \
  " PRIMARY KEY(kpi, period)) WITHOUT ROWID;"                                  \
  "CREATE TABLE kpi_state(kpi TEXT PRIMARY KEY, metric TEXT NOT NULL,"         \
  " state TEXT NOT NULL, since TEXT NOT NULL, period TEXT,"                    \
  " value REAL, last_value REAL, slope REAL, intercept REAL, p_value REAL,"    \
  " seasonal INTEGER NOT NULL, observations INTEGER NOT NULL,"                 \
  " target REAL, deadline TEXT, projected REAL,"                               \
  " adjusted_at TEXT, effect REAL, effect_p_value REAL,"                       \
  " message TEXT NOT NULL, evaluated_at TEXT NOT NULL,"                        \
  " evaluated_unix INTEGER NOT NULL) WITHOUT ROWID;"                           \
  "CREATE TABLE kpi_alerts(alert_id INTEGER PRIMARY KEY, kpi TEXT NOT NULL,"   \
  " state TEXT NOT NULL, previous_state TEXT NOT NULL,"                        \
  " raised_at TEXT NOT NULL, resolved_at TEXT, resolved_state TEXT,"           \
  " message TEXT NOT NULL);"                                                   \
  "CREATE INDEX kpi_alerts_open ON kpi_alerts(kpi) WHERE resolved_at IS NULL;" \
  "CREATE TABLE kpi_adjustments(adjustment_id INTEGER PRIMARY KEY,"            \
  " kpi TEXT NOT NULL, at TEXT NOT NULL, at_unix INTEGER NOT NULL,"            \
  " note TEXT NOT NULL, effect REAL, effect_p_value REAL,"                     \
  " mean_before REAL, mean_after REAL, n_before INTEGER, n_after INTEGER);"    \
  "CREATE INDEX kpi_adjustments_kpi ON kpi_adjustments(kpi, at_unix);"         \
  "CREATE VIEW kpi_series AS"                                                  \
  " SELECT kpi, period, period_start, value, n FROM kpi_values;"               \
  "CREATE VIEW kpi_status AS"                                                  \
  " SELECT kpi, state, since, value, slope, p_value, target, deadline,"        \
  "  projected, evaluated_at, metric, period, last_value, intercept,"          \
  "  seasonal, observations, adjusted_at, effect, effect_p_value, message,"    \
  "  state IN ('stalled', 'declining', 'off_track', 'no_data') AS flagged"     \
  " FROM kpi_state;"                                                           \
  "CREATE VIEW alerts AS"                                                      \
  " SELECT alert_id, kpi, state, raised_at, resolved_at, message,"             \
  "  previous_state, resolved_state FROM kpi_alerts;"                          \
  "CREATE VIEW adjustments AS"                                                 \
  " SELECT kpi, at, note, effect, effect_p_value, mean_before, mean_after,"    \
  "  n_before, n_after, adjustment_id FROM kpi_adjustments;"

/* 3 -> 4: which recorded evaluations are backtests (`kpi --at`), so that a
 * backtest never moves state recorded by a real evaluation (a state stamped
 * after the migration's clock can only come from a backtest of a day after
 * today, which older builds accepted); and the delivery of each raise and
 * resolve to alert_command, with its attempts, so that a failed one is seen
 * in the alerts view and retried.  A delivery is 'pending' (to be tried at
 * next_unix, not while a process holds its lease), 'delivered', 'failed'
 * (given up) or 'cancelled' (by `kpi --reset`); the JSON sent is kept in
 * payload, so a retry sends what the first attempt did. */
#define SQL_MIGRATION_KPI_4                                                    \
  "ALTER TABLE kpi_state ADD COLUMN backtest INTEGER NOT NULL DEFAULT 0;"      \
  "UPDATE kpi_state SET backtest = 1"                                          \
  " WHERE evaluated_unix > CAST(strftime('%s', 'now') AS INTEGER);"            \
  "DROP VIEW IF EXISTS kpi_status;"                                            \
  "CREATE VIEW kpi_status AS"                                                  \
  " SELECT kpi, state, since, value, slope, p_value, target, deadline,"        \
  "  projected, evaluated_at, metric, period, last_value, intercept,"          \
  "  seasonal, observations, adjusted_at, effect, effect_p_value, message,"    \
  "  state IN ('stalled', 'declining', 'off_track', 'no_data') AS flagged,"    \
  "  backtest"                                                                 \
  " FROM kpi_state;"                                                           \
  "CREATE TABLE kpi_deliveries(delivery_id INTEGER PRIMARY KEY,"               \
  " alert_id INTEGER NOT NULL, kpi TEXT NOT NULL, event TEXT NOT NULL,"        \
  " payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"            \
  " attempts INTEGER NOT NULL DEFAULT 0, next_unix INTEGER NOT NULL,"          \
  " lease_unix INTEGER, delivered_at TEXT, last_error TEXT,"                   \
  " UNIQUE(alert_id, event));"                                                 \
  "CREATE INDEX kpi_deliveries_pending ON kpi_deliveries(kpi, delivery_id)"    \
  " WHERE status = 'pending';"                                                 \
  "DROP VIEW IF EXISTS alerts;"                                                \
  "CREATE VIEW alerts AS"                                                      \
  " SELECT a.alert_id, a.kpi, a.state, a.raised_at, a.resolved_at, a.message," \
  "  a.previous_state, a.resolved_state,"                                      \
  "  r.status AS delivery, r.attempts AS delivery_attempts, r.delivered_at,"   \
  "  r.last_error,"                                                            \
  "  CASE WHEN r.status = 'pending' THEN"                                      \
  "   strftime('%Y-%m-%dT%H:%M:%SZ', r.next_unix, 'unixepoch') END"            \
  "   AS next_attempt_at,"                                                     \
  "  s.status AS resolve_delivery, s.attempts AS resolve_delivery_attempts,"   \
  "  s.delivered_at AS resolve_delivered_at, s.last_error AS "                 \
  "resolve_last_error"                                                         \
  " FROM kpi_alerts a"                                                         \
  " LEFT JOIN kpi_deliveries r ON r.alert_id = a.alert_id"                     \
  "  AND r.event = 'raised'"                                                   \
  " LEFT JOIN kpi_deliveries s ON s.alert_id = a.alert_id"                     \
  "  AND s.event = 'resolved';"

/* Data range: first and last day with hits, newest visit activity. */
#define SQL_KPI_HIT_RANGE                                                      \
  "SELECT MIN(day), MAX(day), (SELECT MAX(ended_at) FROM visit_log)"           \
  " FROM hit_counts"
#define SQL_KPI_HAS_CAMPAIGNS                                                  \
  "SELECT COUNT(*) FROM sqlite_master WHERE name = 'campaigns_daily'"
#define SQL_KPI_CAMPAIGN_RANGE "SELECT MIN(day) FROM campaigns_daily"

/* The segment filter ?3 = key (NULL: none), ?4 = value, on visit_log v;
 * `path` means the landing page for visit metrics. */
#define SQL_KPI_VISIT_FILTER                                                   \
  " (?3 IS NULL OR CASE ?3 WHEN 'channel' THEN v.channel"                      \
  " WHEN 'source' THEN v.source WHEN 'medium' THEN v.medium"                   \
  " WHEN 'campaign' THEN v.campaign WHEN 'device' THEN v.device"               \
  " WHEN 'path' THEN v.landing_path END = ?4)"

/* Per day: visits, visitors, bounces, conversions of goal ?5 (all goals
 * when NULL), clicks inside visits. */
#define SQL_KPI_DAYS_VISITS                                                    \
  "SELECT v.day, COUNT(*), COUNT(DISTINCT v.visitor),"                         \
  " SUM(v.pageviews = 1 AND v.clicks = 0),"                                    \
  " SUM(CASE WHEN ?5 IS NULL THEN v.conversions ELSE EXISTS(SELECT 1"          \
  "  FROM visit_goals g WHERE g.visit_id = v.visit_id AND g.goal = ?5) END),"  \
  " SUM(v.clicks)"                                                             \
  " FROM visit_log v WHERE v.day BETWEEN ?1 AND ?2 AND" SQL_KPI_VISIT_FILTER   \
  " GROUP BY v.day"

/* The same, for the whole site of a single-site database, from the per-day
 * aggregates (store_agg_sql.h): a day's visitors summed over sites would
 * count twice who visited two sites, hence SQL_KPI_SITES first. */
#define SQL_KPI_SITES                                                          \
  "SELECT COUNT(DISTINCT site) FROM visit_days WHERE day BETWEEN ?1 AND ?2"
#define SQL_KPI_DAYS_VISITS_SITE                                               \
  "SELECT d.day, d.visits, d.visitors, d.bounces,"                             \
  " CASE WHEN ?5 IS NULL THEN d.conversions ELSE (SELECT"                      \
  "  COALESCE(SUM(g.conversions), 0) FROM goal_counts g"                       \
  "  WHERE g.day = d.day AND g.site = d.site AND g.goal = ?5) END, d.clicks"   \
  " FROM visit_days d WHERE d.day BETWEEN ?1 AND ?2 AND d.visits > 0"          \
  " AND ?3 IS NULL AND ?4 IS NULL ORDER BY d.day"

/* The same for one channel (?3 = 'channel', ?4 the channel) of a single-site
 * database, from the per-day device x channel counters: a visitor's key
 * hashes its user agent, which decides its device, so summing a channel's
 * visitors over devices counts nobody twice. */
#define SQL_KPI_DAYS_VISITS_CHANNEL                                            \
  "SELECT d.day, SUM(d.visits), SUM(d.visitors), SUM(d.bounces),"              \
  " CASE WHEN ?5 IS NULL THEN SUM(d.conversions) ELSE (SELECT"                 \
  "  COALESCE(SUM(g.conversions), 0) FROM goal_counts g WHERE g.day = d.day"   \
  "  AND g.site = d.site AND g.channel = ?4 AND g.goal = ?5) END,"             \
  " SUM(d.clicks) FROM visit_device_channels d"                                \
  " WHERE d.day BETWEEN ?1 AND ?2 AND ?3 = 'channel' AND d.channel = ?4"       \
  " GROUP BY d.day, d.site HAVING SUM(d.visits) > 0 ORDER BY d.day"

/* Per day: pageviews, sum of pageviews x scroll depth, pageviews reaching
 * 75%: from pages_daily for the whole site or one page (?3 NULL or 'path'),
 * from the pages of the segment's visits otherwise. */
#define SQL_KPI_DAYS_PAGES                                                     \
  "SELECT day, SUM(pageviews), SUM(pageviews * avg_scroll_depth),"             \
  " SUM(scroll_75) FROM pages_daily WHERE day BETWEEN ?1 AND ?2"               \
  " AND (?3 IS NULL OR path = ?4) GROUP BY day"
#define SQL_KPI_DAYS_PAGES_SEGMENT                                             \
  "SELECT v.day, SUM(p.pageviews), SUM(p.pageviews * p.max_scroll),"           \
  " SUM(CASE WHEN p.max_scroll >= 75 THEN p.pageviews ELSE 0 END)"             \
  " FROM visit_pages p JOIN visit_log v ON v.visit_id = p.visit_id"            \
  " WHERE v.day BETWEEN ?1 AND ?2 AND p.pageviews > 0 "                        \
  "AND" SQL_KPI_VISIT_FILTER " GROUP BY v.day"

/* Per day: click beacons (every one, also outside visits), optionally on
 * page ?3 only. */
#define SQL_KPI_DAYS_CLICKS                                                    \
  "SELECT day, SUM(events) FROM event_counts"                                  \
  " WHERE day BETWEEN ?1 AND ?2 AND event = 'click'"                           \
  " AND (?3 IS NULL OR path = ?3) GROUP BY day"

/* Per day from the campaign logs, optionally for campaign ?3: recipients
 * who opened / clicked (as campaigns_daily.open_rate counts them). */
#define SQL_KPI_DAYS_CAMPAIGNS                                                 \
  "SELECT day, SUM(delivered), SUM(unique_opens), SUM(unique_clicks),"         \
  " SUM(spend)"                                                                \
  " FROM campaigns_daily WHERE day BETWEEN ?1 AND ?2"                          \
  " AND (?3 IS NULL OR campaign = ?3) GROUP BY day"

#define SQL_KPI_VALUES_CLEAR "DELETE FROM kpi_values WHERE kpi = ?1"
#define SQL_KPI_VALUE_PUT                                                      \
  "INSERT OR REPLACE INTO kpi_values(kpi, period, period_start, value, n)"     \
  " VALUES(?1, ?2, ?3, ?4, ?5)"

#define SQL_KPI_STATE_GET                                                      \
  "SELECT state, since, evaluated_unix, period, backtest FROM kpi_state"       \
  " WHERE kpi = ?1"
#define SQL_KPI_STATE_PUT                                                      \
  "INSERT OR REPLACE INTO kpi_state(kpi, metric, state, since, period, value," \
  " last_value, slope, intercept, p_value, seasonal, observations, target,"    \
  " deadline, projected, adjusted_at, effect, effect_p_value, message,"        \
  " evaluated_at, evaluated_unix, backtest) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"    \
  " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,"   \
  " ?22)"

/* `kpi --reset`: forget what was recorded for KPI ?1; its open alert is
 * closed at ?2 as 'reset' (no message is sent for it). */
#define SQL_KPI_RESET_VALUES "DELETE FROM kpi_values WHERE kpi = ?1"
#define SQL_KPI_RESET_STATE "DELETE FROM kpi_state WHERE kpi = ?1"
#define SQL_KPI_RESET_ALERTS                                                   \
  "UPDATE kpi_alerts SET resolved_at = ?2, resolved_state = 'reset'"           \
  " WHERE kpi = ?1 AND resolved_at IS NULL RETURNING alert_id"
#define SQL_KPI_RESET_DELIVERIES                                               \
  "UPDATE kpi_deliveries SET status = 'cancelled',"                            \
  " last_error = 'cancelled by kpi --reset', lease_unix = NULL"                \
  " WHERE kpi = ?1 AND status = 'pending'"

/* Deliveries to alert_command. */
#define SQL_KPI_DELIVERY_ADD                                                   \
  "INSERT INTO kpi_deliveries(alert_id, kpi, event, payload, next_unix)"       \
  " VALUES(?1, ?2, ?3, ?4, ?5)"
/* Pending deliveries due at ?1 (every pending one when ?2), oldest first,
 * at most ?3; a KPI's deliveries go in order, so one waits while an older
 * one of its KPI is pending. */
#define SQL_KPI_DELIVERY_DUE                                                   \
  "SELECT d.delivery_id, d.alert_id, d.kpi, d.event, d.payload, d.attempts"    \
  " FROM kpi_deliveries d WHERE d.status = 'pending'"                          \
  " AND (?2 OR d.next_unix <= ?1)"                                             \
  " AND (d.lease_unix IS NULL OR d.lease_unix <= ?1)"                          \
  " AND NOT EXISTS (SELECT 1 FROM kpi_deliveries e WHERE e.kpi = d.kpi"        \
  "  AND e.status = 'pending' AND e.delivery_id < d.delivery_id)"              \
  " ORDER BY d.delivery_id LIMIT ?3"
/* Takes delivery ?1 for an attempt, if nobody has since it was read with
 * ?2 attempts: retry at ?3 should it fail, leased until ?4. */
#define SQL_KPI_DELIVERY_CLAIM                                                 \
  "UPDATE kpi_deliveries SET attempts = attempts + 1, next_unix = ?3,"         \
  " lease_unix = ?4 WHERE delivery_id = ?1 AND attempts = ?2"                  \
  " AND status = 'pending'"
#define SQL_KPI_DELIVERY_DONE                                                  \
  "UPDATE kpi_deliveries SET status = ?2, delivered_at = ?3, last_error = ?4," \
  " lease_unix = NULL WHERE delivery_id = ?1"

#define SQL_KPI_ALERT_RESOLVE                                                  \
  "UPDATE kpi_alerts SET resolved_at = ?2, resolved_state = ?3"                \
  " WHERE kpi = ?1 AND resolved_at IS NULL RETURNING alert_id"
#define SQL_KPI_ALERT_RAISE                                                    \
  "INSERT INTO kpi_alerts(kpi, state, previous_state, raised_at, message)"     \
  " VALUES(?1, ?2, ?3, ?4, ?5)"

#define SQL_KPI_ADJUST_ADD                                                     \
  "INSERT INTO kpi_adjustments(kpi, at, at_unix, note)"                        \
  " VALUES(?1, strftime('%Y-%m-%dT%H:%M:%SZ', ?2, 'unixepoch'), ?2, ?3)"
#define SQL_KPI_ADJUST_LIST                                                    \
  "SELECT adjustment_id, at, at_unix, note FROM kpi_adjustments"               \
  " WHERE kpi = ?1 AND at_unix <= ?2 ORDER BY at_unix, adjustment_id"
/* `adjust --list [KPI]`: ?1 NULL lists every KPI's */
#define SQL_KPI_ADJUST_ALL                                                     \
  "SELECT adjustment_id, kpi, at, note, effect, effect_p_value, n_after"       \
  " FROM kpi_adjustments WHERE ?1 IS NULL OR kpi = ?1"                         \
  " ORDER BY kpi, at_unix, adjustment_id"
#define SQL_KPI_ADJUST_REMOVE                                                  \
  "DELETE FROM kpi_adjustments WHERE adjustment_id = ?1 RETURNING kpi, at,"    \
  " note"
#define SQL_KPI_ADJUST_EFFECT                                                  \
  "UPDATE kpi_adjustments SET effect = ?2, effect_p_value = ?3,"               \
  " mean_before = ?4, mean_after = ?5, n_before = ?6, n_after = ?7"            \
  " WHERE adjustment_id = ?1"

#endif
