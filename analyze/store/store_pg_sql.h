/*
 * The SQL of the PostgreSQL store (store_pg.c): schema, views and
 * statements.  The views keep the names and columns of the SQLite ones
 * (store_sql.h, SPEC §6) and sum over the hosts of a fleet (SPEC §9); the
 * tables behind them carry the writing host in every key, so that hosts
 * never update the same row (no lock waits, no deadlocks between them).
 *
 * Versions are numbered as the SQLite schema's (PRAGMA user_version there,
 * the schema_version table here): a PostgreSQL database starts at the
 * version of the build that created it (PG_SCHEMA_BASE), and a later schema
 * change adds its step to both lists.
 */
#ifndef BSL_STORE_PG_SQL_H
#define BSL_STORE_PG_SQL_H

/* hll precision: 2^16 registers of 5 bits, a standard error of 0.41%, so
 * SPEC §9's 2% is about 5 standard errors; exact (explicit: 8 bytes a
 * visitor) up to ~5,000 visitors a segment and day, 40 KB at most above.
 * 2^14 (0.8%) missed 2% in ~1 of 5 runs of the fleet test: each segment
 * row is its own draw, and a test compares dozens of them. */
#define PG_HLL "16, 5"

#define PG_SCHEMA_BASE 5

#define PG_SQL_ISO(col)                                                        \
  "to_char(to_timestamp(" col ") AT TIME ZONE 'UTC',"                          \
  " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define PG_SQL_NOW_ISO                                                         \
  "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define PG_SQL_VERSION_TABLE                                                   \
  "CREATE TABLE IF NOT EXISTS schema_version(version integer NOT NULL)"
#define PG_SQL_VERSION_GET "SELECT max(version) FROM schema_version"
#define PG_SQL_VERSION_SET "INSERT INTO schema_version(version) VALUES($1)"
/* one migrating process at a time, whichever host starts first */
#define PG_SQL_MIGRATE_LOCK "SELECT pg_advisory_xact_lock(7335611829000000001)"

/* The whole schema of version PG_SCHEMA_BASE. */
#define PG_SQL_SCHEMA                                                          \
  "CREATE EXTENSION IF NOT EXISTS hll;"                                        \
  "CREATE TABLE hosts(host text PRIMARY KEY,"                                  \
  " commit_seq bigint NOT NULL DEFAULT 0, pid bigint, role text,"              \
  " command text, machine text, since text);"                                  \
  "CREATE TABLE meta(host text NOT NULL, key text NOT NULL,"                   \
  " value bigint NOT NULL, PRIMARY KEY(host, key));"                           \
  "CREATE TABLE day_salts(day text PRIMARY KEY, salt bytea NOT NULL);"         \
  "CREATE TABLE files(file_id bigserial PRIMARY KEY, host text NOT NULL,"      \
  " source text NOT NULL, path text NOT NULL, fingerprint text NOT NULL,"      \
  " fp_len integer NOT NULL, \"offset\" bigint NOT NULL DEFAULT 0,"            \
  " lines bigint NOT NULL DEFAULT 0, hits bigint NOT NULL DEFAULT 0,"          \
  " rejects bigint NOT NULL DEFAULT 0, updated_at text NOT NULL,"              \
  " UNIQUE(host, fp_len, fingerprint));"                                       \
  "CREATE TABLE reject_samples(reject_id bigserial PRIMARY KEY,"               \
  " host text NOT NULL, source text NOT NULL, path text NOT NULL,"             \
  " \"offset\" bigint NOT NULL, reason text NOT NULL, excerpt text NOT NULL);" \
  "CREATE TABLE hit_counts(day text NOT NULL, site text NOT NULL,"             \
  " status integer NOT NULL, host text NOT NULL, hits bigint NOT NULL,"        \
  " bot_hits bigint NOT NULL, PRIMARY KEY(day, site, status, host));"          \
  "CREATE TABLE event_counts(day text NOT NULL, site text NOT NULL,"           \
  " path text NOT NULL, event text NOT NULL, target text NOT NULL,"            \
  " host text NOT NULL, events bigint NOT NULL,"                               \
  " PRIMARY KEY(day, site, path, event, target, host));"                       \
  "CREATE TABLE page_counts(day text NOT NULL, site text NOT NULL,"            \
  " path text NOT NULL, host text NOT NULL, pageviews bigint NOT NULL,"        \
  " entries bigint NOT NULL, scroll_sum bigint NOT NULL,"                      \
  " scroll_75 bigint NOT NULL, PRIMARY KEY(day, site, path, host));"           \
  "CREATE TABLE visit_log(host text NOT NULL, visit_id bigint NOT NULL,"       \
  " site text NOT NULL, day text NOT NULL, visitor bigint NOT NULL,"           \
  " started_at bigint NOT NULL, ended_at bigint NOT NULL,"                     \
  " pageviews bigint NOT NULL, clicks bigint NOT NULL,"                        \
  " conversions bigint NOT NULL, max_scroll integer NOT NULL,"                 \
  " channel text NOT NULL, source text NOT NULL, medium text NOT NULL,"        \
  " campaign text NOT NULL, device text NOT NULL,"                             \
  " landing_path text NOT NULL, exit_path text NOT NULL,"                      \
  " pages text NOT NULL DEFAULT '[]', is_open integer NOT NULL,"               \
  " PRIMARY KEY(host, visit_id));"                                             \
  "CREATE INDEX visit_log_day ON visit_log(day, site);"                        \
  "CREATE INDEX visit_log_open ON visit_log(host) WHERE is_open = 1;"          \
  "CREATE INDEX visit_log_campaign ON visit_log(campaign, day)"                \
  " WHERE campaign <> '';"                                                     \
  "CREATE TABLE visit_goals(host text NOT NULL, visit_id bigint NOT NULL,"     \
  " goal text NOT NULL, PRIMARY KEY(host, visit_id, goal));"                   \
  "CREATE TABLE goals(goal text PRIMARY KEY, path text NOT NULL);"             \
  /* distinct visitors: one sketch per host and segment, unioned by the    \
   * views (a visitor seen by two hosts counts once) */                        \
  "CREATE TABLE visitor_sketches(day text NOT NULL, site text NOT NULL,"       \
  " channel text NOT NULL, source text NOT NULL, medium text NOT NULL,"        \
  " campaign text NOT NULL, host text NOT NULL, sketch hll NOT NULL,"          \
  " PRIMARY KEY(day, site, channel, source, medium, campaign, host));"         \
  "CREATE TABLE campaign_counts(day text NOT NULL, campaign text NOT NULL,"    \
  " host text NOT NULL, sent bigint NOT NULL DEFAULT 0,"                       \
  " delivered bigint NOT NULL DEFAULT 0, opens bigint NOT NULL DEFAULT 0,"     \
  " clicks bigint NOT NULL DEFAULT 0, bounces bigint NOT NULL DEFAULT 0,"      \
  " unsubscribes bigint NOT NULL DEFAULT 0,"                                   \
  " spend_micros bigint NOT NULL DEFAULT 0,"                                   \
  " machine_opens bigint NOT NULL DEFAULT 0,"                                  \
  " machine_clicks bigint NOT NULL DEFAULT 0,"                                 \
  " PRIMARY KEY(day, campaign, host));"                                        \
  "CREATE TABLE campaign_recipients(day text NOT NULL,"                        \
  " campaign text NOT NULL, recipient bigint NOT NULL, host text NOT NULL,"    \
  " opens bigint NOT NULL, clicks bigint NOT NULL,"                            \
  " PRIMARY KEY(day, campaign, recipient, host));"                             \
  "CREATE TABLE campaign_machine_state(host text NOT NULL,"                    \
  " campaign text NOT NULL, recipient bigint NOT NULL, delivered_at bigint,"   \
  " click_at bigint, click_url bigint NOT NULL, click_day text NOT NULL,"      \
  " click_human integer NOT NULL, seen bigint NOT NULL,"                       \
  " PRIMARY KEY(host, campaign, recipient));"                                  \
  "CREATE TABLE kpi_values(kpi text NOT NULL, period text NOT NULL,"           \
  " period_start text NOT NULL, value float8, n bigint NOT NULL,"              \
  " PRIMARY KEY(kpi, period));"                                                \
  "CREATE TABLE kpi_state(kpi text PRIMARY KEY, metric text NOT NULL,"         \
  " state text NOT NULL, since text NOT NULL, period text,"                    \
  " value float8, last_value float8, slope float8, intercept float8,"          \
  " p_value float8, seasonal integer NOT NULL, observations integer NOT NULL," \
  " target float8, deadline text, projected float8,"                           \
  " adjusted_at text, effect float8, effect_p_value float8,"                   \
  " message text NOT NULL, evaluated_at text NOT NULL,"                        \
  " evaluated_unix bigint NOT NULL, backtest integer NOT NULL DEFAULT 0);"     \
  "CREATE TABLE kpi_alerts(alert_id bigserial PRIMARY KEY, kpi text NOT NULL," \
  " state text NOT NULL, previous_state text NOT NULL,"                        \
  " raised_at text NOT NULL, resolved_at text, resolved_state text,"           \
  " message text NOT NULL);"                                                   \
  "CREATE TABLE kpi_adjustments(adjustment_id bigserial PRIMARY KEY,"          \
  " kpi text NOT NULL, at text NOT NULL, at_unix bigint NOT NULL,"             \
  " note text NOT NULL, effect float8, effect_p_value float8,"                 \
  " mean_before float8, mean_after float8, n_before bigint, n_after bigint);"  \
  "CREATE TABLE kpi_deliveries(delivery_id bigserial PRIMARY KEY,"             \
  " alert_id bigint NOT NULL, kpi text NOT NULL, event text NOT NULL,"         \
  " payload text NOT NULL, status text NOT NULL DEFAULT 'pending',"            \
  " attempts integer NOT NULL DEFAULT 0, next_unix bigint NOT NULL,"           \
  " lease_unix bigint, delivered_at text, last_error text,"                    \
  " UNIQUE(alert_id, event));" PG_SQL_VIEWS

/* the analyst API: the SQLite views' names and columns, summed over hosts,
 * plus `host` where a row is one host's */
#define PG_SQL_VIEWS                                                           \
  "CREATE VIEW status_daily AS"                                                \
  " SELECT day, site, status, SUM(hits)::bigint AS hits,"                      \
  "  SUM(bot_hits)::bigint AS bot_hits FROM hit_counts"                        \
  " GROUP BY day, site, status;"                                               \
  "CREATE VIEW traffic_daily AS"                                               \
  " WITH h AS (SELECT day, site, SUM(hits)::bigint AS hits,"                   \
  "   SUM(bot_hits)::bigint AS bot_hits FROM hit_counts GROUP BY day, site),"  \
  " v AS (SELECT day, site, COUNT(*) AS visits,"                               \
  "   SUM(pageviews)::bigint AS pageviews,"                                    \
  "   SUM((pageviews = 1 AND clicks = 0)::int)::bigint AS bounces"             \
  "   FROM visit_log GROUP BY day, site),"                                     \
  " u AS (SELECT day, site,"                                                   \
  "   round(hll_cardinality(hll_union_agg(sketch)))::bigint AS visitors"       \
  "   FROM visitor_sketches GROUP BY day, site)"                               \
  " SELECT h.day, h.site, h.hits, h.bot_hits,"                                 \
  "  COALESCE(v.pageviews, 0) AS pageviews, COALESCE(v.visits, 0) AS visits,"  \
  "  COALESCE(u.visitors, 0) AS visitors, COALESCE(v.bounces, 0) AS bounces"   \
  " FROM h LEFT JOIN v ON v.day = h.day AND v.site = h.site"                   \
  " LEFT JOIN u ON u.day = h.day AND u.site = h.site;"                         \
  "CREATE VIEW pages_daily AS"                                                 \
  " SELECT day, site, path, SUM(pageviews)::bigint AS pageviews,"              \
  "  SUM(entries)::bigint AS entries,"                                         \
  "  SUM(scroll_sum)::float8 / SUM(pageviews) AS avg_scroll_depth,"            \
  "  SUM(scroll_75)::bigint AS scroll_75"                                      \
  " FROM page_counts GROUP BY day, site, path HAVING SUM(pageviews) > 0;"      \
  "CREATE VIEW visit_pages AS"                                                 \
  " SELECT v.host, v.visit_id, j.value ->> 0 AS path,"                         \
  "  (j.value ->> 1)::bigint AS pageviews, (j.value ->> 2)::bigint AS entries," \
  "  (j.value ->> 3)::integer AS max_scroll"                                   \
  " FROM visit_log v, json_array_elements(v.pages::json) j;"                   \
  "CREATE VIEW channels_daily AS"                                              \
  " WITH v AS (SELECT day, site, channel, source, medium, campaign,"           \
  "   COUNT(*) AS visits, SUM(pageviews)::bigint AS pageviews,"                \
  "   SUM((pageviews = 1 AND clicks = 0)::int)::bigint AS bounces,"            \
  "   SUM(conversions)::bigint AS conversions FROM visit_log"                  \
  "   GROUP BY day, site, channel, source, medium, campaign),"                 \
  " u AS (SELECT day, site, channel, source, medium, campaign,"                \
  "   round(hll_cardinality(hll_union_agg(sketch)))::bigint AS visitors"       \
  "   FROM visitor_sketches"                                                   \
  "   GROUP BY day, site, channel, source, medium, campaign)"                  \
  " SELECT v.day, v.site, v.channel, v.source, v.medium, v.campaign,"          \
  "  v.visits, COALESCE(u.visitors, 0) AS visitors, v.pageviews, v.bounces,"   \
  "  v.conversions FROM v LEFT JOIN u USING (day, site, channel, source,"      \
  "  medium, campaign);"                                                       \
  "CREATE VIEW events_daily AS"                                                \
  " SELECT day, site, path, event, target, SUM(events)::bigint AS events"      \
  " FROM event_counts GROUP BY day, site, path, event, target;"                \
  "CREATE VIEW goals_daily AS"                                                 \
  " SELECT v.day, v.site, g.goal, v.channel,"                                  \
  "  COUNT(vg.visit_id) AS conversions, COUNT(*) AS visits"                    \
  " FROM visit_log v CROSS JOIN goals g"                                       \
  " LEFT JOIN visit_goals vg ON vg.host = v.host"                              \
  "  AND vg.visit_id = v.visit_id AND vg.goal = g.goal"                        \
  " GROUP BY v.day, v.site, g.goal, v.channel;"                                \
  "CREATE VIEW visits AS"                                                      \
  " SELECT visit_id, site, day, " PG_SQL_ISO("started_at") " AS started_at,"   \
  "  " PG_SQL_ISO("ended_at") " AS ended_at,"                                  \
  "  pageviews, channel, source, medium, campaign, device, landing_path,"      \
  "  exit_path, max_scroll, (pageviews = 1 AND clicks = 0)::int AS bounced,"   \
  "  clicks, conversions, ended_at - started_at AS duration,"                  \
  "  is_open, host FROM visit_log;"                                            \
  "CREATE VIEW sources AS"                                                     \
  " SELECT source, path, fingerprint, \"offset\", lines, rejects, updated_at," \
  "  hits, host FROM files;"                                                   \
  "CREATE VIEW rejects AS"                                                     \
  " SELECT source, path, \"offset\", reason, excerpt, host"                    \
  " FROM reject_samples;"                                                      \
  "CREATE VIEW campaigns_daily AS"                                             \
  " WITH c AS (SELECT day, campaign, SUM(sent) AS sent,"                       \
  "   SUM(delivered) AS delivered, SUM(opens) AS opens,"                       \
  "   SUM(clicks) AS clicks, SUM(bounces) AS bounces,"                         \
  "   SUM(unsubscribes) AS unsubscribes, SUM(spend_micros) AS spend_micros,"   \
  "   SUM(machine_opens) AS machine_opens,"                                    \
  "   SUM(machine_clicks) AS machine_clicks"                                   \
  "   FROM campaign_counts GROUP BY day, campaign),"                           \
  " r AS (SELECT day, campaign, recipient, SUM(opens) AS opens,"               \
  "   SUM(clicks) AS clicks FROM campaign_recipients"                          \
  "   GROUP BY day, campaign, recipient),"                                     \
  " u AS (SELECT day, campaign, SUM((opens > 0)::int) AS unique_opens,"        \
  "   SUM((clicks > 0)::int) AS unique_clicks FROM r GROUP BY day, campaign)," \
  " v AS (SELECT day, campaign, COUNT(*) AS visits,"                           \
  "   SUM(conversions) AS conversions FROM visit_log"                          \
  "   WHERE campaign <> ''"                                                    \
  "    AND campaign IN (SELECT campaign FROM campaign_counts)"                 \
  "   GROUP BY day, campaign),"                                                \
  " k AS (SELECT day, campaign FROM c UNION SELECT day, campaign FROM v)"      \
  " SELECT k.day, k.campaign,"                                                 \
  "  COALESCE(c.sent, 0)::bigint AS sent,"                                     \
  "  COALESCE(c.delivered, 0)::bigint AS delivered,"                           \
  "  COALESCE(c.opens, 0)::bigint AS opens,"                                   \
  "  COALESCE(c.clicks, 0)::bigint AS clicks,"                                 \
  "  COALESCE(c.bounces, 0)::bigint AS bounces,"                               \
  "  COALESCE(c.unsubscribes, 0)::bigint AS unsubscribes,"                     \
  "  COALESCE(c.spend_micros, 0)::float8 / 1000000.0 AS spend,"                \
  "  COALESCE(v.visits, 0)::bigint AS visits,"                                 \
  "  COALESCE(v.conversions, 0)::bigint AS conversions,"                       \
  "  COALESCE(u.unique_opens, 0)::bigint AS unique_opens,"                     \
  "  COALESCE(u.unique_clicks, 0)::bigint AS unique_clicks,"                   \
  "  COALESCE(c.machine_opens, 0)::bigint AS machine_opens,"                   \
  "  COALESCE(c.machine_clicks, 0)::bigint AS machine_clicks,"                 \
  "  CASE WHEN COALESCE(v.conversions, 0) > 0"                                 \
  "   THEN COALESCE(c.spend_micros, 0)::float8 / 1000000.0 / v.conversions"    \
  "  END AS cost_per_conversion,"                                              \
  "  CASE WHEN COALESCE(c.delivered, 0) > 0"                                   \
  "   THEN COALESCE(u.unique_opens, 0)::float8 / c.delivered END AS open_rate," \
  "  CASE WHEN COALESCE(c.delivered, 0) > 0"                                   \
  "   THEN COALESCE(u.unique_clicks, 0)::float8 / c.delivered"                 \
  "  END AS campaign_click_rate"                                               \
  " FROM k LEFT JOIN c ON c.day = k.day AND c.campaign = k.campaign"           \
  " LEFT JOIN u ON u.day = k.day AND u.campaign = k.campaign"                  \
  " LEFT JOIN v ON v.day = k.day AND v.campaign = k.campaign;"                 \
  "CREATE VIEW kpi_series AS"                                                  \
  " SELECT kpi, period, period_start, value, n FROM kpi_values;"               \
  "CREATE VIEW kpi_status AS"                                                  \
  " SELECT kpi, state, since, value, slope, p_value, target, deadline,"        \
  "  projected, evaluated_at, metric, period, last_value, intercept,"          \
  "  seasonal, observations, adjusted_at, effect, effect_p_value, message,"    \
  "  (state IN ('stalled', 'declining', 'off_track', 'no_data'))::int"         \
  "  AS flagged, backtest FROM kpi_state;"                                     \
  "CREATE VIEW alerts AS"                                                      \
  " SELECT a.alert_id, a.kpi, a.state, a.raised_at, a.resolved_at, a.message," \
  "  a.previous_state, a.resolved_state,"                                      \
  "  r.status AS delivery, r.attempts AS delivery_attempts, r.delivered_at,"   \
  "  r.last_error,"                                                            \
  "  CASE WHEN r.status = 'pending' THEN " PG_SQL_ISO("r.next_unix") " END"    \
  "   AS next_attempt_at,"                                                     \
  "  s.status AS resolve_delivery, s.attempts AS resolve_delivery_attempts,"   \
  "  s.delivered_at AS resolve_delivered_at,"                                  \
  "  s.last_error AS resolve_last_error"                                       \
  " FROM kpi_alerts a"                                                         \
  " LEFT JOIN kpi_deliveries r ON r.alert_id = a.alert_id"                     \
  "  AND r.event = 'raised'"                                                   \
  " LEFT JOIN kpi_deliveries s ON s.alert_id = a.alert_id"                     \
  "  AND s.event = 'resolved';"                                                \
  "CREATE VIEW adjustments AS"                                                 \
  " SELECT kpi, at, note, effect, effect_p_value, mean_before, mean_after,"    \
  "  n_before, n_after, adjustment_id FROM kpi_adjustments;"

/* ---- statements ($1 is the host wherever a row is one host's) ---- */

#define PG_SQL_HOST_ROW                                                        \
  "INSERT INTO hosts(host) VALUES($1) ON CONFLICT(host) DO NOTHING"
#define PG_SQL_HOST_SEQ "SELECT commit_seq FROM hosts WHERE host = $1"
/* the fence: this commit is number $2 + 1 of the host, or none */
#define PG_SQL_HOST_FENCE                                                      \
  "UPDATE hosts SET commit_seq = $2 + 1 WHERE host = $1 AND commit_seq = $2"
#define PG_SQL_WRITER_LOCK                                                     \
  "SELECT pg_try_advisory_lock(733561182, hashtext($1))"
#define PG_SQL_WRITER_SET                                                      \
  "UPDATE hosts SET pid = $2, role = $3, command = $4, machine = $5,"          \
  " since = " PG_SQL_NOW_ISO " WHERE host = $1"
#define PG_SQL_WRITER_GET                                                      \
  "SELECT pid, role, command, machine, since FROM hosts WHERE host = $1"

#define PG_SQL_META_GET "SELECT value FROM meta WHERE host = $1 AND key = $2"
#define PG_SQL_META_SET                                                        \
  "INSERT INTO meta(host, key, value) VALUES($1, $2, $3)"                      \
  " ON CONFLICT(host, key) DO UPDATE SET value = EXCLUDED.value"

#define PG_SQL_SALT_LOAD "SELECT day, salt FROM day_salts"
/* get-or-create: the first host to need a day's salt makes it, every other
 * one reads it (so a visitor has one key on every host) */
#define PG_SQL_SALT_CLAIM                                                      \
  "WITH ins AS (INSERT INTO day_salts(day, salt) VALUES($1, $2)"               \
  " ON CONFLICT(day) DO NOTHING RETURNING salt)"                               \
  " SELECT salt FROM ins UNION ALL"                                            \
  " SELECT salt FROM day_salts WHERE day = $1"
#define PG_SQL_SALT_PUT                                                        \
  "INSERT INTO day_salts(day, salt) VALUES($1, $2)"                            \
  " ON CONFLICT(day) DO NOTHING"
#define PG_SQL_SALT_DELETE "DELETE FROM day_salts WHERE day < $1"

/* visitor keys of days whose salt is gone become numbers (see
 * store_sql.h): a keyed hash under the random key $3 of this statement */
#define PG_SQL_NUMBER_VISITORS                                                 \
  "UPDATE visit_log SET visitor = -1 - (('x' || substr(md5($3 ||"              \
  " visitor::text), 1, 16))::bit(64)::bigint & 9223372036854775807)"           \
  " WHERE host = $1 AND day < $2 AND visitor > 0 AND (day, site) NOT IN"       \
  " (SELECT day, site FROM visit_log WHERE host = $1 AND is_open = 1)"

#define PG_SQL_FP_LENS                                                         \
  "SELECT DISTINCT fp_len FROM files WHERE host = $1 ORDER BY fp_len"
#define PG_SQL_FILE_FIND                                                       \
  "SELECT file_id, source, path, fingerprint, fp_len, \"offset\", lines,"      \
  " hits, rejects FROM files WHERE host = $1 AND fp_len = $2"                  \
  " AND fingerprint = $3"
#define PG_SQL_FILE_INSERT                                                     \
  "INSERT INTO files(host, source, path, fingerprint, fp_len, \"offset\","     \
  " lines, hits, rejects, updated_at) VALUES($1, $2, $3, $4, $5, $6, $7, $8,"  \
  " $9, " PG_SQL_NOW_ISO ") RETURNING file_id"
#define PG_SQL_FILE_UPDATE                                                     \
  "UPDATE files SET source = $2, path = $3, fingerprint = $4, fp_len = $5,"    \
  " \"offset\" = $6, lines = $7, hits = $8, rejects = $9,"                     \
  " updated_at = " PG_SQL_NOW_ISO " WHERE file_id = $10 AND host = $1"
#define PG_SQL_REJECT_ADD                                                      \
  "INSERT INTO reject_samples(host, source, path, \"offset\", reason,"         \
  " excerpt) VALUES($1, $2, $3, $4, $5, $6)"

/* Counter deltas of one commit as arrays ($2...), summed per key (a retried
 * commit may carry one key twice) and applied in key order, so that two
 * transactions lock rows in the same order. */
#define PG_SQL_HITS_ADD                                                        \
  "INSERT INTO hit_counts(day, site, status, host, hits, bot_hits)"            \
  " SELECT d, s, st, $1, SUM(h), SUM(b) FROM unnest($2::text[], $3::text[],"   \
  " $4::int[], $5::bigint[], $6::bigint[]) AS t(d, s, st, h, b)"               \
  " GROUP BY d, s, st ORDER BY d, s, st"                                       \
  " ON CONFLICT(day, site, status, host) DO UPDATE"                            \
  " SET hits = hit_counts.hits + EXCLUDED.hits,"                               \
  " bot_hits = hit_counts.bot_hits + EXCLUDED.bot_hits"
#define PG_SQL_EVENTS_ADD                                                      \
  "INSERT INTO event_counts(day, site, path, event, target, host, events)"     \
  " SELECT d, s, p, e, tg, $1, SUM(n) FROM unnest($2::text[], $3::text[],"     \
  " $4::text[], $5::text[], $6::text[], $7::bigint[]) AS t(d, s, p, e, tg, n)" \
  " GROUP BY d, s, p, e, tg ORDER BY d, s, p, e, tg"                           \
  " ON CONFLICT(day, site, path, event, target, host) DO UPDATE"               \
  " SET events = event_counts.events + EXCLUDED.events"
/* The steps after PG_SCHEMA_BASE, numbered as SQLite's MIGRATIONS
 * (store_sql.h): entry K takes version PG_SCHEMA_BASE + K to the next. */
static const char *const PG_MIGRATIONS[] = {
    /* 5 -> 6: which goals each visit converted (visit_id is per host) */
    "CREATE VIEW visit_conversions AS"
    " SELECT g.visit_id, v.site, v.day, g.goal, g.host FROM visit_goals g"
    " JOIN visit_log v ON v.host = g.host AND v.visit_id = g.visit_id;",
    /* 6 -> 7: not_found_daily, people's 404s by path, summed over hosts */
    "CREATE TABLE not_found_counts(day text NOT NULL, site text NOT NULL,"
    " path text NOT NULL, host text NOT NULL, hits bigint NOT NULL,"
    " PRIMARY KEY(day, site, path, host));"
    "CREATE VIEW not_found_daily AS"
    " SELECT day, site, path, SUM(hits)::bigint AS hits"
    " FROM not_found_counts GROUP BY day, site, path;",
    /* 7 -> 8: nothing here.  SQLite's step adds per-day visit aggregates
     * that its writer counts in memory (store_agg.c); PostgreSQL's views
     * keep grouping visit_log, with the hll sketches for visitors, since
     * several hosts write the same days.  The step keeps the numbering
     * aligned. */
    "DO $$ BEGIN END $$;",
    /* 8 -> 9: pages_daily's bounces (a visit's, on its landing page and
     * day, as entries) and devices_daily, computed from the host rows as
     * the other views are; visitors by device x channel from their own
     * sketches, filled at each commit (PG_SQL_DEVICE_SKETCHES_ADD) and here
     * from the visits already there.  (A landing path longer than
     * BSL_PAGE_PATH_MAX bytes: its entries are counted under its first
     * bytes, its bounces under the whole path.)  CREATE OR REPLACE keeps
     * pages_daily's grants. */
    "CREATE TABLE device_sketches(day text NOT NULL, site text NOT NULL,"
    " device text NOT NULL, channel text NOT NULL, host text NOT NULL,"
    " sketch hll NOT NULL, PRIMARY KEY(day, site, device, channel, host));"
    "INSERT INTO device_sketches(day, site, device, channel, host, sketch)"
    " SELECT day, site, device, channel, host,"
    " hll_add_agg(hll_hash_bigint(visitor), " PG_HLL ") FROM visit_log"
    " GROUP BY day, site, device, channel, host;"
    "CREATE VIEW devices_daily AS"
    " WITH v AS (SELECT day, site, device, channel, COUNT(*) AS visits,"
    "   SUM(pageviews)::bigint AS pageviews,"
    "   SUM((pageviews = 1 AND clicks = 0)::int)::bigint AS bounces,"
    "   SUM(conversions)::bigint AS conversions FROM visit_log"
    "   GROUP BY day, site, device, channel),"
    " u AS (SELECT day, site, device, channel,"
    "   round(hll_cardinality(hll_union_agg(sketch)))::bigint AS visitors"
    "   FROM device_sketches GROUP BY day, site, device, channel)"
    " SELECT v.day, v.site, v.device, v.channel, v.visits,"
    "  COALESCE(u.visitors, 0) AS visitors, v.pageviews, v.bounces,"
    "  v.conversions FROM v LEFT JOIN u USING (day, site, device, channel);"
    "CREATE OR REPLACE VIEW pages_daily AS"
    " WITH p AS (SELECT day, site, path, SUM(pageviews)::bigint AS pageviews,"
    "   SUM(entries)::bigint AS entries,"
    "   SUM(scroll_sum)::float8 / SUM(pageviews) AS avg_scroll_depth,"
    "   SUM(scroll_75)::bigint AS scroll_75"
    "   FROM page_counts GROUP BY day, site, path HAVING SUM(pageviews) > 0),"
    " b AS (SELECT day, site, landing_path AS path,"
    "   SUM((pageviews = 1 AND clicks = 0)::int)::bigint AS bounces"
    "   FROM visit_log GROUP BY day, site, landing_path)"
    " SELECT p.day, p.site, p.path, p.pageviews, p.entries,"
    "  p.avg_scroll_depth, p.scroll_75, COALESCE(b.bounces, 0) AS bounces"
    " FROM p LEFT JOIN b USING (day, site, path);",
    /* 9 -> 10: nothing here.  SQLite's step adds visit_parked, where its
     * ingest parks open visits (store.h, "Parking"); a fleet's hosts write
     * their open visits to visit_log as they go.  The step keeps the
     * numbering aligned. */
    "DO $$ BEGIN END $$;",
};

#define PG_SQL_NOT_FOUND_ADD                                                   \
  "INSERT INTO not_found_counts(day, site, path, host, hits)"                  \
  " SELECT d, s, p, $1, SUM(n) FROM unnest($2::text[], $3::text[],"            \
  " $4::text[], $5::bigint[]) AS t(d, s, p, n)"                                \
  " GROUP BY d, s, p ORDER BY d, s, p"                                         \
  " ON CONFLICT(day, site, path, host) DO UPDATE"                              \
  " SET hits = not_found_counts.hits + EXCLUDED.hits"
#define PG_SQL_PAGES_ADD                                                       \
  "INSERT INTO page_counts(day, site, path, host, pageviews, entries,"         \
  " scroll_sum, scroll_75)"                                                    \
  " SELECT d, s, p, $1, SUM(a), SUM(b), SUM(c), SUM(e) FROM unnest($2::text[]," \
  " $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],"         \
  " $8::bigint[]) AS t(d, s, p, a, b, c, e)"                                   \
  " GROUP BY d, s, p ORDER BY d, s, p"                                         \
  " ON CONFLICT(day, site, path, host) DO UPDATE"                              \
  " SET pageviews = page_counts.pageviews + EXCLUDED.pageviews,"               \
  " entries = page_counts.entries + EXCLUDED.entries,"                         \
  " scroll_sum = page_counts.scroll_sum + EXCLUDED.scroll_sum,"                \
  " scroll_75 = page_counts.scroll_75 + EXCLUDED.scroll_75"

/* Visits of one commit: the last version of each ($2.. arrays in the
 * order of bsl_visit_row), and their visitors into the sketches. */
#define PG_SQL_VISITS_UNNEST                                                   \
  " FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[],"           \
  " $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],"    \
  " $11::int[], $12::text[], $13::text[], $14::text[], $15::text[],"           \
  " $16::text[], $17::text[], $18::text[], $19::int[], $20::text[])"           \
  " WITH ORDINALITY AS t(id, site, day, visitor, sa, ea, pv, cl, cv, ms, ch,"  \
  " src, med, camp, dev, lp, ep, op, pages, ord)"
#define PG_SQL_VISITS_PUT                                                      \
  "INSERT INTO visit_log(host, visit_id, site, day, visitor, started_at,"      \
  " ended_at, pageviews, clicks, conversions, max_scroll, channel, source,"    \
  " medium, campaign, device, landing_path, exit_path, is_open, pages)"        \
  " SELECT DISTINCT ON (id) $1, id, site, day, visitor, sa, ea, pv, cl, cv,"   \
  " ms, ch, src, med, camp, dev, lp, ep, op, pages" PG_SQL_VISITS_UNNEST        \
  " ORDER BY id, ord DESC"                                                     \
  " ON CONFLICT(host, visit_id) DO UPDATE SET site = EXCLUDED.site,"           \
  " day = EXCLUDED.day, visitor = EXCLUDED.visitor,"                           \
  " started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,"           \
  " pageviews = EXCLUDED.pageviews, clicks = EXCLUDED.clicks,"                 \
  " conversions = EXCLUDED.conversions, max_scroll = EXCLUDED.max_scroll,"     \
  " channel = EXCLUDED.channel, source = EXCLUDED.source,"                     \
  " medium = EXCLUDED.medium, campaign = EXCLUDED.campaign,"                   \
  " device = EXCLUDED.device, landing_path = EXCLUDED.landing_path,"           \
  " exit_path = EXCLUDED.exit_path, is_open = EXCLUDED.is_open,"               \
  " pages = EXCLUDED.pages"
/* a visitor added twice to a sketch counts once: a replay adds nothing */
#define PG_SQL_SKETCHES_ADD                                                    \
  "INSERT INTO visitor_sketches(day, site, channel, source, medium, campaign," \
  " host, sketch) SELECT day, site, ch, src, med, camp, $1,"                   \
  " hll_add_agg(hll_hash_bigint(visitor), " PG_HLL ")" PG_SQL_VISITS_UNNEST    \
  " GROUP BY day, site, ch, src, med, camp"                                    \
  " ORDER BY day, site, ch, src, med, camp"                                    \
  " ON CONFLICT(day, site, channel, source, medium, campaign, host)"           \
  " DO UPDATE SET sketch = hll_union(visitor_sketches.sketch,"                 \
  " EXCLUDED.sketch)"
/* devices_daily's visitors, as PG_SQL_SKETCHES_ADD's */
#define PG_SQL_DEVICE_SKETCHES_ADD                                             \
  "INSERT INTO device_sketches(day, site, device, channel, host, sketch)"      \
  " SELECT day, site, dev, ch, $1,"                                            \
  " hll_add_agg(hll_hash_bigint(visitor), " PG_HLL ")" PG_SQL_VISITS_UNNEST    \
  " GROUP BY day, site, dev, ch ORDER BY day, site, dev, ch"                   \
  " ON CONFLICT(day, site, device, channel, host)"                             \
  " DO UPDATE SET sketch = hll_union(device_sketches.sketch,"                  \
  " EXCLUDED.sketch)"
#define PG_SQL_GOALS_PUT                                                       \
  "INSERT INTO visit_goals(host, visit_id, goal)"                              \
  " SELECT DISTINCT $1, id, g FROM unnest($2::bigint[], $3::text[])"           \
  " AS t(id, g) ON CONFLICT DO NOTHING"

#define PG_SQL_OPEN_VISITS                                                     \
  "SELECT visit_id, site, day, visitor, started_at, ended_at, pageviews,"      \
  " clicks, conversions, max_scroll, channel, source, medium, campaign,"       \
  " device, landing_path, exit_path FROM visit_log"                            \
  " WHERE host = $1 AND is_open = 1 ORDER BY visit_id"
#define PG_SQL_OPEN_PAGES                                                      \
  "SELECT v.visit_id, j.value ->> 0, j.value ->> 1, j.value ->> 2,"            \
  " j.value ->> 3 FROM visit_log v, json_array_elements(v.pages::json) j"      \
  " WHERE v.host = $1 AND v.is_open = 1"
#define PG_SQL_OPEN_GOALS                                                      \
  "SELECT g.visit_id, g.goal FROM visit_goals g JOIN visit_log v"              \
  " ON v.host = g.host AND v.visit_id = g.visit_id"                            \
  " WHERE g.host = $1 AND v.is_open = 1"
#define PG_SQL_GOAL_SYNC                                                       \
  "INSERT INTO goals(goal, path) VALUES($1, $2)"                               \
  " ON CONFLICT(goal) DO UPDATE SET path = EXCLUDED.path"                      \
  " WHERE goals.path <> EXCLUDED.path"
#define PG_SQL_DB_BYTES "SELECT pg_database_size(current_database())"

/* campaign logs (store_campaign.c), per host */
#define PG_SQL_CAMPAIGN_ADD                                                    \
  "INSERT INTO campaign_counts(host, day, campaign, sent, delivered, opens,"   \
  " clicks, bounces, unsubscribes, spend_micros, machine_opens,"               \
  " machine_clicks) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)" \
  " ON CONFLICT(day, campaign, host) DO UPDATE SET"                            \
  " sent = campaign_counts.sent + EXCLUDED.sent,"                              \
  " delivered = campaign_counts.delivered + EXCLUDED.delivered,"               \
  " opens = campaign_counts.opens + EXCLUDED.opens,"                           \
  " clicks = campaign_counts.clicks + EXCLUDED.clicks,"                        \
  " bounces = campaign_counts.bounces + EXCLUDED.bounces,"                     \
  " unsubscribes = campaign_counts.unsubscribes + EXCLUDED.unsubscribes,"      \
  " spend_micros = campaign_counts.spend_micros + EXCLUDED.spend_micros,"      \
  " machine_opens = campaign_counts.machine_opens + EXCLUDED.machine_opens,"   \
  " machine_clicks = campaign_counts.machine_clicks + EXCLUDED.machine_clicks"
#define PG_SQL_CAMPAIGN_RECIPIENT_ADD                                          \
  "INSERT INTO campaign_recipients(host, day, campaign, recipient, opens,"     \
  " clicks) VALUES($1, $2, $3, $4, $5, $6)"                                    \
  " ON CONFLICT(day, campaign, recipient, host) DO UPDATE"                     \
  " SET opens = campaign_recipients.opens + EXCLUDED.opens,"                   \
  " clicks = campaign_recipients.clicks + EXCLUDED.clicks"
#define PG_SQL_CAMPAIGN_STATE_PUT                                              \
  "INSERT INTO campaign_machine_state(host, campaign, recipient,"              \
  " delivered_at, click_at, click_url, click_day, click_human, seen)"          \
  " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)"                                \
  " ON CONFLICT(host, campaign, recipient) DO UPDATE SET"                      \
  " delivered_at = EXCLUDED.delivered_at, click_at = EXCLUDED.click_at,"       \
  " click_url = EXCLUDED.click_url, click_day = EXCLUDED.click_day,"           \
  " click_human = EXCLUDED.click_human, seen = EXCLUDED.seen"
#define PG_SQL_CAMPAIGN_STATE_DELETE                                           \
  "DELETE FROM campaign_machine_state WHERE host = $1 AND campaign = $2"       \
  " AND recipient = $3"
#define PG_SQL_CAMPAIGN_STATE_LOAD                                             \
  "SELECT campaign, recipient, delivered_at, click_at, click_url, click_day,"  \
  " click_human, seen FROM campaign_machine_state WHERE host = $1"

/* ---- KPIs (store_kpi.c): kpi_* tables are the fleet's, not a host's;
 * the statements of store_kpi_sql.h in PostgreSQL's dialect ---- */
#define PG_SQL_KPI_VISIT_FILTER                                                \
  " ($3::text IS NULL OR CASE $3::text WHEN 'channel' THEN v.channel"          \
  " WHEN 'source' THEN v.source WHEN 'medium' THEN v.medium"                   \
  " WHEN 'campaign' THEN v.campaign WHEN 'device' THEN v.device"               \
  " WHEN 'path' THEN v.landing_path END = $4::text)"
/* visitors: exact when every host keys a visitor alike (shared salts) */
#define PG_SQL_KPI_DAYS_VISITS                                                 \
  "SELECT v.day, COUNT(*), COUNT(DISTINCT v.visitor),"                         \
  " SUM((v.pageviews = 1 AND v.clicks = 0)::int),"                             \
  " SUM(CASE WHEN $5::text IS NULL THEN v.conversions ELSE (EXISTS(SELECT 1"   \
  "  FROM visit_goals g WHERE g.host = v.host AND g.visit_id = v.visit_id"     \
  "  AND g.goal = $5::text))::int END),"                                       \
  " SUM(v.clicks)"                                                             \
  " FROM visit_log v WHERE v.day BETWEEN $1 AND $2 AND"                        \
  PG_SQL_KPI_VISIT_FILTER " GROUP BY v.day"
#define PG_SQL_KPI_DAYS_PAGES                                                  \
  "SELECT day, SUM(pageviews), SUM(pageviews * avg_scroll_depth),"             \
  " SUM(scroll_75) FROM pages_daily WHERE day BETWEEN $1 AND $2"               \
  " AND ($3::text IS NULL OR path = $4::text) GROUP BY day"
#define PG_SQL_KPI_DAYS_PAGES_SEGMENT                                          \
  "SELECT v.day, SUM(p.pageviews), SUM(p.pageviews * p.max_scroll),"           \
  " SUM(CASE WHEN p.max_scroll >= 75 THEN p.pageviews ELSE 0 END)"             \
  " FROM visit_pages p JOIN visit_log v ON v.host = p.host"                    \
  " AND v.visit_id = p.visit_id"                                               \
  " WHERE v.day BETWEEN $1 AND $2 AND p.pageviews > 0 AND"                     \
  PG_SQL_KPI_VISIT_FILTER " GROUP BY v.day"
#define PG_SQL_KPI_DAYS_CLICKS                                                 \
  "SELECT day, SUM(events) FROM event_counts"                                  \
  " WHERE day BETWEEN $1 AND $2 AND event = 'click'"                           \
  " AND ($3::text IS NULL OR path = $3::text) GROUP BY day"
#define PG_SQL_KPI_DAYS_CAMPAIGNS                                              \
  "SELECT day, SUM(delivered), SUM(unique_opens), SUM(unique_clicks),"         \
  " SUM(spend) FROM campaigns_daily WHERE day BETWEEN $1 AND $2"               \
  " AND ($3::text IS NULL OR campaign = $3::text) GROUP BY day"
#define PG_SQL_KPI_VALUE_PUT                                                   \
  "INSERT INTO kpi_values(kpi, period, period_start, value, n)"                \
  " VALUES($1, $2, $3, $4, $5) ON CONFLICT(kpi, period) DO UPDATE SET"         \
  " period_start = EXCLUDED.period_start, value = EXCLUDED.value,"             \
  " n = EXCLUDED.n"
#define PG_SQL_KPI_STATE_PUT                                                   \
  "INSERT INTO kpi_state(kpi, metric, state, since, period, value,"            \
  " last_value, slope, intercept, p_value, seasonal, observations, target,"    \
  " deadline, projected, adjusted_at, effect, effect_p_value, message,"        \
  " evaluated_at, evaluated_unix, backtest) VALUES($1, $2, $3, $4, $5, $6,"    \
  " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,"   \
  " $22) ON CONFLICT(kpi) DO UPDATE SET metric = EXCLUDED.metric,"             \
  " state = EXCLUDED.state, since = EXCLUDED.since, period = EXCLUDED.period," \
  " value = EXCLUDED.value, last_value = EXCLUDED.last_value,"                 \
  " slope = EXCLUDED.slope, intercept = EXCLUDED.intercept,"                   \
  " p_value = EXCLUDED.p_value, seasonal = EXCLUDED.seasonal,"                 \
  " observations = EXCLUDED.observations, target = EXCLUDED.target,"           \
  " deadline = EXCLUDED.deadline, projected = EXCLUDED.projected,"             \
  " adjusted_at = EXCLUDED.adjusted_at, effect = EXCLUDED.effect,"             \
  " effect_p_value = EXCLUDED.effect_p_value, message = EXCLUDED.message,"     \
  " evaluated_at = EXCLUDED.evaluated_at,"                                     \
  " evaluated_unix = EXCLUDED.evaluated_unix, backtest = EXCLUDED.backtest"
#define PG_SQL_KPI_DELIVERY_DUE                                                \
  "SELECT d.delivery_id, d.alert_id, d.kpi, d.event, d.payload, d.attempts"    \
  " FROM kpi_deliveries d WHERE d.status = 'pending'"                          \
  " AND ($2::int <> 0 OR d.next_unix <= $1::bigint)"                           \
  " AND (d.lease_unix IS NULL OR d.lease_unix <= $1::bigint)"                  \
  " AND NOT EXISTS (SELECT 1 FROM kpi_deliveries e WHERE e.kpi = d.kpi"        \
  "  AND e.status = 'pending' AND e.delivery_id < d.delivery_id)"              \
  " ORDER BY d.delivery_id LIMIT $3::int"
#define PG_SQL_KPI_DELIVERY_CLAIM                                              \
  "UPDATE kpi_deliveries SET attempts = attempts + 1, next_unix = $3,"         \
  " lease_unix = $4 WHERE delivery_id = $1 AND attempts = $2"                  \
  " AND status = 'pending' RETURNING delivery_id"
#define PG_SQL_KPI_ALERT_RAISE                                                 \
  "INSERT INTO kpi_alerts(kpi, state, previous_state, raised_at, message)"     \
  " VALUES($1, $2, $3, $4, $5) RETURNING alert_id"
#define PG_SQL_KPI_ADJUST_ADD                                                  \
  "INSERT INTO kpi_adjustments(kpi, at, at_unix, note)"                        \
  " VALUES($1, " PG_SQL_ISO("$2::bigint") ", $2, $3) RETURNING adjustment_id"
/* KPI evaluation and alerts: once per fleet, by whichever host gets it */
#define PG_SQL_FLEET_XACT_LOCK "SELECT pg_advisory_xact_lock(733561183, 1)"

#endif
