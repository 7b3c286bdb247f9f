/*
 * All SQL text of the store, in one place.  Internal tables may change
 * between versions (each change is a new entry in MIGRATIONS); the views are
 * the analysts' stable interface (SPEC §6).
 */
#ifndef BSL_STORE_SQL_H
#define BSL_STORE_SQL_H

#include "store_agg_sql.h"      /* SQL_MIGRATION_AGGREGATES */
#include "store_campaign_sql.h" /* SQL_MIGRATION_CAMPAIGNS */
#include "store_kpi_sql.h"      /* SQL_MIGRATION_KPI, _KPI_4 */

/* Visitor keys of days whose salt is gone become numbers: in each (day,
 * site) whose visits are all closed, the key of every visit with id >= ?2
 * (all the keys left: meta keyed_from) and day < ?1 becomes
 * bsl_number(key), a keyed hash made negative under a random key that
 * lives for this one statement (store.c).  A day's keys never come back
 * once its salt is gone, so each visitor's visits are numbered together,
 * get one number, and COUNT(DISTINCT visitor) of every day and segment
 * stays what it was; numbers are negative and keys positive. */
#define SQL_NUMBER_WHERE                                                       \
  " visitor > 0 AND (day, site) NOT IN (SELECT day, site FROM visit_log"       \
  " WHERE is_open = 1 UNION ALL SELECT day, site FROM visit_parked_days)"
#define SQL_NUMBER_VISITORS                                                    \
  "UPDATE visit_log SET visitor = bsl_number(visitor)"                         \
  " WHERE visit_id >= ?2 AND day < ?1 AND" SQL_NUMBER_WHERE
/* The same when no visit before ?1 is open: the NOT IN above holds for
 * every row then, and testing it was a third of the statement's work. */
#define SQL_NUMBER_VISITORS_NONE_OPEN                                          \
  "UPDATE visit_log SET visitor = bsl_number(visitor)"                         \
  " WHERE visit_id >= ?2 AND day < ?1 AND visitor > 0"
#define SQL_OPEN_BEFORE                                                        \
  "SELECT 1 FROM visit_log WHERE is_open = 1 AND day < ?1"                     \
  " UNION ALL SELECT 1 FROM visit_parked_days WHERE day < ?1 LIMIT 1"

/* 3 -> 4, see MIGRATIONS.  "live" are the days from the day before the
 * newest salt on: their salts are kept, and with them their keys. */
#define SQL_SALTS_LIVE_FROM                                                    \
  "(SELECT COALESCE(date(MAX(day), '-1 day'), '9999-12-31') FROM day_salts)"
#define SQL_MIGRATION_SALTS_OUT                                                \
  "INSERT OR REPLACE INTO meta(key, value) SELECT 'newest_day', d FROM"        \
  " (SELECT CAST(julianday(MAX(day)) - 2440587.5 AS INTEGER) AS d"             \
  " FROM day_salts) WHERE d IS NOT NULL;"                                      \
  "INSERT OR REPLACE INTO meta(key, value)"                                    \
  " SELECT 'numbered_before', value - 1 FROM meta WHERE key = 'newest_day';"   \
  "UPDATE visit_log SET visitor = CASE visitor & 0x7fffffffffffffff"           \
  "  WHEN 0 THEN 1 ELSE visitor & 0x7fffffffffffffff END"                      \
  " WHERE visitor < 0 AND (day >= " SQL_SALTS_LIVE_FROM                        \
  "  OR (day, site) IN (SELECT day, site FROM visit_log WHERE is_open = 1));"  \
  "UPDATE visit_log SET visitor = bsl_number(visitor)"                         \
  " WHERE day < " SQL_SALTS_LIVE_FROM " AND (day, site) NOT IN"                \
  " (SELECT day, site FROM visit_log WHERE is_open = 1);"                      \
  "INSERT OR REPLACE INTO meta(key, value) SELECT 'keyed_from',"               \
  " COALESCE(MIN(visit_id), (SELECT COALESCE(MAX(visit_id), 0) + 1"            \
  " FROM visit_log)) FROM visit_log WHERE visitor > 0;"                        \
  "DELETE FROM day_salts;"                                                     \
  "DROP TABLE day_salts;"

/* 5 -> 6: the paths of 404s (issue 16), as GoAccess shows "Not Found
 * URLs": people's requests only (bots excluded: a scanner's probes would
 * flood it with paths nobody links to); a new view, every earlier view
 * unchanged. */
#define SQL_MIGRATION_NOT_FOUND                                                \
  "CREATE TABLE not_found_counts(day TEXT NOT NULL, site TEXT NOT NULL,"       \
  " path TEXT NOT NULL, hits INTEGER NOT NULL,"                                \
  " PRIMARY KEY(day, site, path)) WITHOUT ROWID;"                              \
  "CREATE VIEW not_found_daily AS"                                             \
  " SELECT day, site, path, hits FROM not_found_counts;"

/* 9 -> 10: open visits parked during an ingest (store.h, "Parking";
 * store_park.c): their rows in one blob, and the days they hold back from
 * the numbering as open visits in visit_log do. */
#define SQL_MIGRATION_PARKED                                                   \
  "CREATE TABLE visit_parked(part INTEGER PRIMARY KEY, visits BLOB NOT NULL);" \
  "CREATE TABLE visit_parked_days(day TEXT NOT NULL, site TEXT NOT NULL,"      \
  " PRIMARY KEY(day, site)) WITHOUT ROWID;"
/* store_park.c */
#define SQL_PARK_GET "SELECT visits FROM visit_parked ORDER BY part"
#define SQL_PARK_DROP "DELETE FROM visit_parked"
#define SQL_PARK_DAYS_DROP "DELETE FROM visit_parked_days"
#define SQL_PARK_PUT "INSERT INTO visit_parked(part, visits) VALUES(?1, ?2)"
#define SQL_PARK_DAY_PUT                                                       \
  "INSERT OR IGNORE INTO visit_parked_days(day, site) VALUES(?1, ?2)"

/* MIGRATIONS[i] brings the schema from user_version i to i + 1. */
static const char *const MIGRATIONS[] = {
    /* 0 -> 1: the batch-ingest model */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE day_salts(day TEXT PRIMARY KEY, salt BLOB NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE files("
    " file_id INTEGER PRIMARY KEY, source TEXT NOT NULL, path TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, fp_len INTEGER NOT NULL,"
    " offset INTEGER NOT NULL DEFAULT 0, lines INTEGER NOT NULL DEFAULT 0,"
    " hits INTEGER NOT NULL DEFAULT 0, rejects INTEGER NOT NULL DEFAULT 0,"
    " updated_at TEXT NOT NULL, UNIQUE(fp_len, fingerprint));"
    "CREATE TABLE reject_samples(reject_id INTEGER PRIMARY KEY,"
    " source TEXT NOT NULL, path TEXT NOT NULL, offset INTEGER NOT NULL,"
    " reason TEXT NOT NULL, excerpt TEXT NOT NULL);"
    "CREATE TABLE hit_counts(day TEXT NOT NULL, site TEXT NOT NULL,"
    " status INTEGER NOT NULL, hits INTEGER NOT NULL,"
    " bot_hits INTEGER NOT NULL, PRIMARY KEY(day, site, status))"
    " WITHOUT ROWID;"
    "CREATE TABLE event_counts(day TEXT NOT NULL, site TEXT NOT NULL,"
    " path TEXT NOT NULL, event TEXT NOT NULL, target TEXT NOT NULL,"
    " events INTEGER NOT NULL,"
    " PRIMARY KEY(day, site, path, event, target)) WITHOUT ROWID;"
    "CREATE TABLE visit_log(visit_id INTEGER PRIMARY KEY,"
    " site TEXT NOT NULL, day TEXT NOT NULL, visitor INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL,"
    " pageviews INTEGER NOT NULL, clicks INTEGER NOT NULL,"
    " conversions INTEGER NOT NULL, max_scroll INTEGER NOT NULL,"
    " channel TEXT NOT NULL, source TEXT NOT NULL, medium TEXT NOT NULL,"
    " campaign TEXT NOT NULL, device TEXT NOT NULL,"
    " landing_path TEXT NOT NULL, exit_path TEXT NOT NULL,"
    " pages TEXT NOT NULL DEFAULT '[]', is_open INTEGER NOT NULL);"
    "CREATE INDEX visit_log_day ON visit_log(day, site);"
    "CREATE INDEX visit_log_open ON visit_log(is_open) WHERE is_open = 1;"
    "CREATE TABLE page_counts(day TEXT NOT NULL, site TEXT NOT NULL,"
    " path TEXT NOT NULL, pageviews INTEGER NOT NULL,"
    " entries INTEGER NOT NULL, scroll_sum INTEGER NOT NULL,"
    " scroll_75 INTEGER NOT NULL, PRIMARY KEY(day, site, path))"
    " WITHOUT ROWID;"
    "CREATE TABLE visit_goals(visit_id INTEGER NOT NULL, goal TEXT NOT NULL,"
    " PRIMARY KEY(visit_id, goal)) WITHOUT ROWID;"
    "CREATE TABLE goals(goal TEXT PRIMARY KEY, path TEXT NOT NULL)"
    " WITHOUT ROWID;"
    /* the analyst API */
    "CREATE VIEW status_daily AS"
    " SELECT day, site, status, hits, bot_hits FROM hit_counts;"
    "CREATE VIEW traffic_daily AS"
    " WITH h AS (SELECT day, site, SUM(hits) AS hits,"
    "   SUM(bot_hits) AS bot_hits FROM hit_counts GROUP BY day, site),"
    " v AS (SELECT day, site, COUNT(*) AS visits,"
    "   SUM(pageviews) AS pageviews, COUNT(DISTINCT visitor) AS visitors,"
    "   SUM(pageviews = 1 AND clicks = 0) AS bounces"
    "   FROM visit_log GROUP BY day, site)"
    " SELECT h.day, h.site, h.hits, h.bot_hits,"
    "  COALESCE(v.pageviews, 0) AS pageviews, COALESCE(v.visits, 0) AS visits,"
    "  COALESCE(v.visitors, 0) AS visitors, COALESCE(v.bounces, 0) AS bounces"
    " FROM h LEFT JOIN v ON v.day = h.day AND v.site = h.site;"
    "CREATE VIEW pages_daily AS"
    " SELECT day, site, path, pageviews, entries,"
    "  scroll_sum * 1.0 / pageviews AS avg_scroll_depth, scroll_75"
    " FROM page_counts WHERE pageviews > 0;"
    /* one row per page of each visit, unpacked from visit_log.pages */
    "CREATE VIEW visit_pages AS"
    " SELECT v.visit_id, j.value ->> 0 AS path, j.value ->> 1 AS pageviews,"
    "  j.value ->> 2 AS entries, j.value ->> 3 AS max_scroll"
    " FROM visit_log v, json_each(v.pages) j;"
    "CREATE VIEW channels_daily AS"
    " SELECT day, site, channel, source, medium, campaign,"
    "  COUNT(*) AS visits, COUNT(DISTINCT visitor) AS visitors,"
    "  SUM(pageviews) AS pageviews,"
    "  SUM(pageviews = 1 AND clicks = 0) AS bounces,"
    "  SUM(conversions) AS conversions"
    " FROM visit_log GROUP BY day, site, channel, source, medium, campaign;"
    "CREATE VIEW events_daily AS"
    " SELECT day, site, path, event, target, events FROM event_counts;"
    "CREATE VIEW goals_daily AS"
    " SELECT v.day, v.site, g.goal, v.channel,"
    "  COUNT(vg.visit_id) AS conversions, COUNT(*) AS visits"
    " FROM visit_log v CROSS JOIN goals g"
    " LEFT JOIN visit_goals vg ON vg.visit_id = v.visit_id"
    "  AND vg.goal = g.goal"
    " GROUP BY v.day, v.site, g.goal, v.channel;"
    "CREATE VIEW visits AS"
    " SELECT visit_id, site, day,"
    "  strftime('%Y-%m-%dT%H:%M:%SZ', started_at, 'unixepoch') AS started_at,"
    "  strftime('%Y-%m-%dT%H:%M:%SZ', ended_at, 'unixepoch') AS ended_at,"
    "  pageviews, channel, source, medium, campaign, device, landing_path,"
    "  exit_path, max_scroll, (pageviews = 1 AND clicks = 0) AS bounced,"
    "  clicks, conversions, ended_at - started_at AS duration,"
    "  is_open FROM visit_log;"
    "CREATE VIEW sources AS"
    " SELECT source, path, fingerprint, offset, lines, rejects, updated_at,"
    "  hits FROM files;"
    "CREATE VIEW rejects AS"
    " SELECT source, path, offset, reason, excerpt FROM reject_samples;",
    /* 1 -> 2: campaign logs (store_campaign_sql.h) */
    SQL_MIGRATION_CAMPAIGNS,
    /* 2 -> 3: KPIs, alerts and adjustments (store_kpi_sql.h) */
    SQL_MIGRATION_KPI,
    /* 3 -> 4: backtests flagged, alert delivery (store_kpi_sql.h) */
    SQL_MIGRATION_KPI_4,
    /* 4 -> 5: the day salts leave the analyst database (issue 13): store.c
     * first copies them to "<db>.salts" (SQL_SALTS_*), durably; then this
     * drops them here, makes the keys of the days that keep a salt the
     * positive 63-bit form model.c computes, and numbers the others (see
     * SQL_NUMBER_VISITORS: visitors per day are unchanged). */
    SQL_MIGRATION_SALTS_OUT,
    /* 5 -> 6: which goals each visit converted, for `diagnose` (which reads
     * views only) and analysts: goals_daily has them per channel only. */
    "CREATE VIEW visit_conversions AS"
    " SELECT g.visit_id, v.site, v.day, g.goal FROM visit_goals g"
    " JOIN visit_log v ON v.visit_id = g.visit_id;",
    /* 6 -> 7: not_found_daily (the paths of 404s) */
    SQL_MIGRATION_NOT_FOUND,
    /* 7 -> 8: per-day visit aggregates under traffic_daily, channels_daily
     * and goals_daily (store_agg_sql.h, store_agg.c) */
    SQL_MIGRATION_AGGREGATES,
    /* 8 -> 9: pages_daily.bounces and devices_daily (store_agg_sql.h) */
    SQL_MIGRATION_DEVICES,
    /* 9 -> 10: visit_parked */
    SQL_MIGRATION_PARKED,
};

/* The version whose migration moves the salts out (store.c runs its C step
 * just before it); renumber with its place in MIGRATIONS. */
#define SALTS_OUT_VERSION 5

#define SQL_META_GET "SELECT value FROM meta WHERE key = ?1"
#define SQL_META_SET                                                           \
  "INSERT INTO meta(key, value) VALUES(?1, ?2)"                                \
  " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
/* The salts file, "<db>.salts" (store.c): its own small database, mode
 * 0600, opened by the writer only; version 1 of its schema. */
#define SQL_SALTS_SCHEMA                                                       \
  "CREATE TABLE IF NOT EXISTS day_salts(day TEXT PRIMARY KEY,"                 \
  " salt BLOB NOT NULL) WITHOUT ROWID;"                                        \
  "PRAGMA user_version = 1"
#define SQL_SALT_LOAD "SELECT day, salt FROM day_salts"
#define SQL_SALT_PUT                                                           \
  "INSERT OR REPLACE INTO day_salts(day, salt) VALUES(?1, ?2)"
#define SQL_SALT_DELETE "DELETE FROM day_salts WHERE day < ?1"
/* migration 4 reads the salts still in the analyst database */
#define SQL_OLD_SALTS                                                          \
  "SELECT day, salt FROM main.day_salts WHERE EXISTS (SELECT 1 FROM"           \
  " sqlite_master WHERE type = 'table' AND name = 'day_salts')"
#define SQL_KEYED_FROM                                                         \
  "SELECT COALESCE((SELECT MIN(visit_id) FROM visit_log WHERE"                 \
  " visit_id >= ?1 AND visitor > 0), (SELECT COALESCE(MAX(visit_id), 0) + 1"   \
  " FROM visit_log))"
#define SQL_FP_LENS "SELECT DISTINCT fp_len FROM files ORDER BY fp_len"
#define SQL_FILE_FIND                                                          \
  "SELECT file_id, source, path, fingerprint, fp_len, offset, lines, hits,"    \
  " rejects FROM files WHERE fp_len = ?1 AND fingerprint = ?2"
#define SQL_FILE_INSERT                                                        \
  "INSERT INTO files(source, path, fingerprint, fp_len, offset, lines, hits,"  \
  " rejects, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"               \
  " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
#define SQL_FILE_UPDATE                                                        \
  "UPDATE files SET source = ?1, path = ?2, fingerprint = ?3, fp_len = ?4,"    \
  " offset = ?5, lines = ?6, hits = ?7, rejects = ?8,"                         \
  " updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE file_id = ?9"
#define SQL_REJECT_ADD                                                         \
  "INSERT INTO reject_samples(source, path, offset, reason, excerpt)"          \
  " VALUES(?1, ?2, ?3, ?4, ?5)"
#define SQL_HITS_ADD                                                           \
  "INSERT INTO hit_counts(day, site, status, hits, bot_hits)"                  \
  " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(day, site, status) DO UPDATE"       \
  " SET hits = hits + excluded.hits, bot_hits = bot_hits + excluded.bot_hits"
#define SQL_EVENT_ADD                                                          \
  "INSERT INTO event_counts(day, site, path, event, target, events)"           \
  " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"                                            \
  " ON CONFLICT(day, site, path, event, target) DO UPDATE"                     \
  " SET events = events + excluded.events"
#define VISIT_COLUMNS                                                          \
  "visit_log(visit_id, site, day, visitor, started_at, ended_at, pageviews,"   \
  " clicks, conversions, max_scroll, channel, source, medium, campaign,"       \
  " device, landing_path, exit_path, is_open, pages)"
#define SQL_VISIT_PUT                                                          \
  "INSERT OR FAIL INTO " VISIT_COLUMNS " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"   \
  " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
/* New visits go 32 rows per statement: a statement's own cost (setting up
 * and halting the VM, opening cursors) was a third of a row's. */
#define VISIT_ROW "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
#define VISIT_ROWS4 VISIT_ROW "," VISIT_ROW "," VISIT_ROW "," VISIT_ROW
#define VISIT_ROWS16 VISIT_ROWS4 "," VISIT_ROWS4 "," VISIT_ROWS4 "," VISIT_ROWS4
#define SQL_VISIT_PUT_MANY_ROWS 32
#define SQL_VISIT_PUT_MANY                                                     \
  "INSERT OR FAIL INTO " VISIT_COLUMNS " VALUES " VISIT_ROWS16 "," VISIT_ROWS16

/* OR FAIL (not REPLACE or the default ABORT): a statement that cannot
 * abort half-way needs no statement journal, which made a visit row cost
 * three times as much to write.  Any failure rolls the whole commit back. */
#define SQL_VISIT_UPDATE                                                       \
  "UPDATE OR FAIL visit_log SET site = ?2, day = ?3, visitor = ?4,"            \
  " started_at = ?5, ended_at = ?6, pageviews = ?7, clicks = ?8,"              \
  " conversions = ?9, max_scroll = ?10, channel = ?11, source = ?12,"          \
  " medium = ?13, campaign = ?14, device = ?15, landing_path = ?16,"           \
  " exit_path = ?17, is_open = ?18, pages = ?19 WHERE visit_id = ?1"
#define SQL_DB_BYTES                                                           \
  "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size"
/* visit_log_day as migration 1 creates it; see bsl_store_day_index() */
#define SQL_DAY_INDEX_EXISTS                                                   \
  "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = "               \
  "'visit_log_day'"
#define SQL_DAY_INDEX_CREATE                                                   \
  "CREATE INDEX IF NOT EXISTS visit_log_day ON visit_log(day, site)"
#define SQL_DAY_INDEX_DROP "DROP INDEX IF EXISTS visit_log_day"
#define SQL_PAGE_COUNTS_ADD                                                    \
  "INSERT INTO page_counts(day, site, path, pageviews, entries, scroll_sum,"   \
  " scroll_75) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"                             \
  " ON CONFLICT(day, site, path) DO UPDATE"                                    \
  " SET pageviews = pageviews + excluded.pageviews,"                           \
  " entries = entries + excluded.entries,"                                     \
  " scroll_sum = scroll_sum + excluded.scroll_sum,"                            \
  " scroll_75 = scroll_75 + excluded.scroll_75"
#define SQL_NOT_FOUND_ADD                                                      \
  "INSERT INTO not_found_counts(day, site, path, hits) VALUES(?1, ?2, ?3, ?4)" \
  " ON CONFLICT(day, site, path) DO UPDATE SET hits = hits + excluded.hits"
#define SQL_VISIT_GOAL_PUT                                                     \
  "INSERT OR IGNORE INTO visit_goals(visit_id, goal) VALUES(?1, ?2)"
#define SQL_OPEN_VISITS                                                        \
  "SELECT visit_id, site, day, visitor, started_at, ended_at, pageviews,"      \
  " clicks, conversions, max_scroll, channel, source, medium, campaign,"       \
  " device, landing_path, exit_path FROM visit_log WHERE is_open = 1"          \
  " ORDER BY visit_id"
#define SQL_OPEN_PAGES                                                         \
  "SELECT v.visit_id, j.value ->> 0, j.value ->> 1, j.value ->> 2,"            \
  " j.value ->> 3 FROM visit_log v, json_each(v.pages) j"                      \
  " WHERE v.is_open = 1"
#define SQL_OPEN_GOALS                                                         \
  "SELECT g.visit_id, g.goal FROM visit_goals g"                               \
  " JOIN visit_log v ON v.visit_id = g.visit_id WHERE v.is_open = 1"
#define SQL_PARKED_PAGES                                                       \
  "SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3"          \
  " FROM json_each(?1) j"
#define SQL_PARKED_GOALS "SELECT goal FROM visit_goals WHERE visit_id = ?1"
#define SQL_GOAL_SYNC                                                          \
  "INSERT INTO goals(goal, path) VALUES(?1, ?2)"                               \
  " ON CONFLICT(goal) DO UPDATE SET path = excluded.path"

#endif
