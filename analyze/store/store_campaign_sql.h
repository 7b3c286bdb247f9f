/*
 * SQL of the campaign-log feature: schema migration (1 -> 2) and statements.
 *
 * Internal tables:
 *  - campaign_counts: additive counters per day and campaign (the campaign
 *    name percent-decoded, '+' as space, lower-cased: the form visit_log
 *    keeps utm_campaign in, so the two join with `=`).  spend is kept in
 *    millionths of a currency unit so sums are exact.
 *  - campaign_recipients: human opens and clicks per day, campaign and
 *    recipient (a keyed 64-bit hash, never the address): the unique counts.
 *  - campaign_machine_state: what the machine-activity rule remembers of a
 *    recipient (last delivery, last click), saved with the read positions so
 *    a restart classifies the next click as an uninterrupted run would.
 * The view campaigns_daily is the analysts' interface (SPEC §6).
 */
#ifndef BSL_STORE_CAMPAIGN_SQL_H
#define BSL_STORE_CAMPAIGN_SQL_H

#define SQL_MIGRATION_CAMPAIGNS                                                \
  "CREATE TABLE campaign_counts(day TEXT NOT NULL, campaign TEXT NOT NULL,"    \
  " sent INTEGER NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0,"    \
  " opens INTEGER NOT NULL DEFAULT 0, clicks INTEGER NOT NULL DEFAULT 0,"      \
  " bounces INTEGER NOT NULL DEFAULT 0,"                                       \
  " unsubscribes INTEGER NOT NULL DEFAULT 0,"                                  \
  " spend_micros INTEGER NOT NULL DEFAULT 0,"                                  \
  " machine_opens INTEGER NOT NULL DEFAULT 0,"                                 \
  " machine_clicks INTEGER NOT NULL DEFAULT 0,"                                \
  " PRIMARY KEY(day, campaign)) WITHOUT ROWID;"                                \
  "CREATE TABLE campaign_recipients(day TEXT NOT NULL,"                        \
  " campaign TEXT NOT NULL, recipient INTEGER NOT NULL,"                       \
  " opens INTEGER NOT NULL, clicks INTEGER NOT NULL,"                          \
  " PRIMARY KEY(day, campaign, recipient)) WITHOUT ROWID;"                     \
  "CREATE TABLE campaign_machine_state(campaign TEXT NOT NULL,"                \
  " recipient INTEGER NOT NULL, delivered_at INTEGER, click_at INTEGER,"       \
  " click_url INTEGER NOT NULL, click_day TEXT NOT NULL,"                      \
  " click_human INTEGER NOT NULL, seen INTEGER NOT NULL,"                      \
  " PRIMARY KEY(campaign, recipient)) WITHOUT ROWID;"                          \
  "CREATE INDEX visit_log_campaign ON visit_log(campaign, day)"                \
  " WHERE campaign <> '';"                                                     \
  "CREATE VIEW campaigns_daily AS"                                             \
  " WITH c AS (SELECT day, campaign, sent, delivered, opens, clicks,"          \
  "   bounces, unsubscribes, spend_micros, machine_opens, machine_clicks"      \
  "   FROM campaign_counts),"                                                  \
  " u AS (SELECT day, campaign, SUM(opens > 0) AS unique_opens,"               \
  "   SUM(clicks > 0) AS unique_clicks FROM campaign_recipients"               \
  "   GROUP BY day, campaign),"                                                \
  " v AS (SELECT day, campaign, COUNT(*) AS visits,"                           \
  "   SUM(conversions) AS conversions FROM visit_log"                          \
  "   WHERE campaign <> ''"                                                    \
  "    AND campaign IN (SELECT campaign FROM campaign_counts)"                 \
  "   GROUP BY day, campaign),"                                                \
  " k AS (SELECT day, campaign FROM c UNION SELECT day, campaign FROM v)"      \
  " SELECT k.day, k.campaign,"                                                 \
  "  COALESCE(c.sent, 0) AS sent, COALESCE(c.delivered, 0) AS delivered,"      \
  "  COALESCE(c.opens, 0) AS opens, COALESCE(c.clicks, 0) AS clicks,"          \
  "  COALESCE(c.bounces, 0) AS bounces,"                                       \
  "  COALESCE(c.unsubscribes, 0) AS unsubscribes,"                             \
  "  COALESCE(c.spend_micros, 0) / 1000000.0 AS spend,"                        \
  "  COALESCE(v.visits, 0) AS visits,"                                         \
  "  COALESCE(v.conversions, 0) AS conversions,"                               \
  "  COALESCE(u.unique_opens, 0) AS unique_opens,"                             \
  "  COALESCE(u.unique_clicks, 0) AS unique_clicks,"                           \
  "  COALESCE(c.machine_opens, 0) AS machine_opens,"                           \
  "  COALESCE(c.machine_clicks, 0) AS machine_clicks,"                         \
  "  CASE WHEN COALESCE(v.conversions, 0) > 0"                                 \
  "   THEN COALESCE(c.spend_micros, 0) / 1000000.0 / v.conversions"            \
  "  END AS cost_per_conversion,"                                              \
  "  CASE WHEN COALESCE(c.delivered, 0) > 0"                                   \
  "   THEN COALESCE(u.unique_opens, 0) * 1.0 / c.delivered END AS open_rate,"  \
  "  CASE WHEN COALESCE(c.delivered, 0) > 0"                                   \
  "   THEN COALESCE(u.unique_clicks, 0) * 1.0 / c.delivered"                   \
  "  END AS campaign_click_rate"                                               \
  " FROM k LEFT JOIN c ON c.day = k.day AND c.campaign = k.campaign"           \
  " LEFT JOIN u ON u.day = k.day AND u.campaign = k.campaign"                  \
  " LEFT JOIN v ON v.day = k.day AND v.campaign = k.campaign;"

#define SQL_CAMPAIGN_ADD                                                       \
  "INSERT INTO campaign_counts(day, campaign, sent, delivered, opens, clicks," \
  " bounces, unsubscribes, spend_micros, machine_opens, machine_clicks)"       \
  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"                      \
  " ON CONFLICT(day, campaign) DO UPDATE SET"                                  \
  " sent = sent + excluded.sent, delivered = delivered + excluded.delivered,"  \
  " opens = opens + excluded.opens, clicks = clicks + excluded.clicks,"        \
  " bounces = bounces + excluded.bounces,"                                     \
  " unsubscribes = unsubscribes + excluded.unsubscribes,"                      \
  " spend_micros = spend_micros + excluded.spend_micros,"                      \
  " machine_opens = machine_opens + excluded.machine_opens,"                   \
  " machine_clicks = machine_clicks + excluded.machine_clicks"

#define SQL_CAMPAIGN_RECIPIENT_ADD                                             \
  "INSERT INTO campaign_recipients(day, campaign, recipient, opens, clicks)"   \
  " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(day, campaign, recipient)"          \
  " DO UPDATE SET opens = opens + excluded.opens,"                             \
  " clicks = clicks + excluded.clicks"

#define SQL_CAMPAIGN_STATE_PUT                                                 \
  "INSERT OR REPLACE INTO campaign_machine_state(campaign, recipient,"         \
  " delivered_at, click_at, click_url, click_day, click_human, seen)"          \
  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"

#define SQL_CAMPAIGN_STATE_DELETE                                              \
  "DELETE FROM campaign_machine_state WHERE campaign = ?1 AND recipient = ?2"

#define SQL_CAMPAIGN_STATE_LOAD                                                \
  "SELECT campaign, recipient, delivered_at, click_at, click_url, click_day,"  \
  " click_human, seen FROM campaign_machine_state"

#endif
