/*
 * The store's report queries (see store_report.h): every statement of
 * `boussole report`, read-only, over the analyst views only - the report
 * reads the same interface analysts do, so it shows what they would find.
 * Statements are prepared once through the store's statement cache and reset
 * on every path.
 */
#include "store_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_internal.h"

#define SQL_REPORT_HAS                                                         \
  "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1"                         \
  " AND type IN ('table', 'view')"

#define SQL_REPORT_RANGE                                                       \
  "SELECT MIN(day), MAX(day), (SELECT group_concat(site, ', ') FROM"           \
  "  (SELECT DISTINCT site FROM traffic_daily WHERE site <> ''"                \
  "   ORDER BY site LIMIT 4) AS s) FROM traffic_daily"

#define SQL_REPORT_DAYS                                                        \
  "SELECT day, SUM(hits), SUM(bot_hits), SUM(pageviews), SUM(visits),"         \
  " SUM(visitors), SUM(bounces) FROM traffic_daily"                            \
  " WHERE day BETWEEN ?1 AND ?2 GROUP BY day ORDER BY day"

#define SQL_REPORT_DAY_CHANNELS                                                \
  "SELECT day, channel, SUM(visits), SUM(conversions) FROM channels_daily"     \
  " WHERE day BETWEEN ?1 AND ?2 GROUP BY day, channel ORDER BY day, channel"

#define SQL_REPORT_CHANNELS                                                    \
  "SELECT channel, SUM(visits), SUM(visitors), SUM(pageviews), SUM(bounces),"  \
  " SUM(conversions) FROM channels_daily WHERE day BETWEEN ?1 AND ?2"          \
  " GROUP BY channel ORDER BY 2 DESC, 1"

#define SQL_REPORT_SOURCES                                                     \
  "SELECT source, medium, SUM(visits), SUM(conversions) FROM channels_daily"   \
  " WHERE day BETWEEN ?1 AND ?2 GROUP BY source, medium"                       \
  " ORDER BY 3 DESC, 1, 2 LIMIT CAST(?3 AS INTEGER)"

#define SQL_REPORT_PAGES                                                       \
  "SELECT path, SUM(pageviews), SUM(entries),"                                 \
  " SUM(pageviews * avg_scroll_depth) / SUM(pageviews), SUM(scroll_75)"        \
  " FROM pages_daily WHERE day BETWEEN ?1 AND ?2 GROUP BY path"                \
  " ORDER BY 2 DESC, 1 LIMIT CAST(?3 AS INTEGER)"

#define SQL_REPORT_CLICKS                                                      \
  "SELECT target, path, SUM(events) FROM events_daily"                         \
  " WHERE day BETWEEN ?1 AND ?2 AND event = 'click' GROUP BY target, path"     \
  " ORDER BY 3 DESC, 1, 2 LIMIT CAST(?3 AS INTEGER)"

#define SQL_REPORT_GOALS                                                       \
  "SELECT goal, SUM(conversions), SUM(visits) FROM goals_daily"                \
  " WHERE day BETWEEN ?1 AND ?2 GROUP BY goal ORDER BY 2 DESC, 1"

#define SQL_REPORT_CAMPAIGNS_VISITS                                            \
  "SELECT campaign, SUM(visits), SUM(conversions) FROM channels_daily"         \
  " WHERE day BETWEEN ?1 AND ?2 AND campaign <> '' GROUP BY campaign"          \
  " ORDER BY 2 DESC, 1 LIMIT CAST(?3 AS INTEGER)"

#define SQL_REPORT_CAMPAIGNS                                                   \
  "WITH c AS (SELECT campaign, SUM(sent) AS sent,"                             \
  "   SUM(delivered) AS delivered, SUM(opens) AS opens,"                       \
  "   SUM(clicks) AS clicks, SUM(bounces) AS bounces,"                         \
  "   SUM(unsubscribes) AS unsubscribes, SUM(spend) AS spend"                  \
  "   FROM campaigns_daily WHERE day BETWEEN ?1 AND ?2 GROUP BY campaign),"    \
  " v AS (SELECT campaign, SUM(visits) AS visits,"                             \
  "   SUM(conversions) AS conversions FROM channels_daily"                     \
  "   WHERE day BETWEEN ?1 AND ?2 AND campaign <> '' GROUP BY campaign),"      \
  " k AS (SELECT campaign FROM c UNION SELECT campaign FROM v)"                \
  " SELECT k.campaign, COALESCE(c.sent, 0), COALESCE(c.delivered, 0),"         \
  "  COALESCE(c.opens, 0), COALESCE(c.clicks, 0), COALESCE(c.bounces, 0),"     \
  "  COALESCE(c.unsubscribes, 0), COALESCE(c.spend, 0),"                       \
  "  COALESCE(v.visits, 0), COALESCE(v.conversions, 0)"                        \
  " FROM k LEFT JOIN c ON c.campaign = k.campaign"                             \
  " LEFT JOIN v ON v.campaign = k.campaign"                                    \
  " ORDER BY COALESCE(c.sent, 0) DESC, COALESCE(v.visits, 0) DESC, k.campaign" \
  " LIMIT CAST(?3 AS INTEGER)"

/* Every column, by name: the view gains columns as the KPI feature grows,
 * and the report uses those it knows. */
#define SQL_REPORT_KPI_STATUS "SELECT * FROM kpi_status ORDER BY kpi"

#define SQL_REPORT_KPI_SERIES                                                  \
  "SELECT period, period_start, value, n FROM kpi_series WHERE kpi = ?1"       \
  " ORDER BY period_start"

#define SQL_REPORT_KPI_ADJUSTMENTS                                             \
  "SELECT at, note, effect, effect_p_value FROM adjustments WHERE kpi = ?1"    \
  " ORDER BY at"

#define SQL_REPORT_KPI_ALERTS                                                  \
  "SELECT state, raised_at, resolved_at FROM alerts WHERE kpi = ?1"            \
  " ORDER BY raised_at"

#define SQL_REPORT_STATUS                                                      \
  "SELECT status, SUM(hits), SUM(bot_hits) FROM status_daily"                  \
  " WHERE day BETWEEN ?1 AND ?2 GROUP BY status ORDER BY 2 DESC, 1"

/* Devices and quarter hours from the per-day counters (store_agg_sql.h):
 * as grouping the visits, without reading a row per visit. */
#define SQL_REPORT_DEVICES                                                     \
  "SELECT device, SUM(visits), SUM(bounces), SUM(conversions)"                 \
  " FROM visit_devices WHERE day BETWEEN ?1 AND ?2 GROUP BY device"            \
  " HAVING SUM(visits) > 0 ORDER BY 2 DESC, 1"

#define SQL_REPORT_QUARTERS                                                    \
  "SELECT quarter, SUM(visits) FROM visit_quarters"                            \
  " WHERE day BETWEEN ?1 AND ?2 GROUP BY quarter HAVING SUM(visits) > 0"       \
  " ORDER BY 1"

#define SQL_REPORT_NOT_FOUND                                                   \
  "SELECT path, SUM(hits) FROM not_found_daily WHERE day BETWEEN ?1 AND ?2"    \
  " GROUP BY path ORDER BY 2 DESC, 1 LIMIT CAST(?3 AS INTEGER)"

/* Indexed by enum bsl_report_query; the statement cache keys on these
 * pointers, so each query is prepared once. */
static const char *const QUERY_SQL[BSL_RQ_COUNT_] = {
    [BSL_RQ_RANGE] = SQL_REPORT_RANGE,
    [BSL_RQ_DAYS] = SQL_REPORT_DAYS,
    [BSL_RQ_DAY_CHANNELS] = SQL_REPORT_DAY_CHANNELS,
    [BSL_RQ_CHANNELS] = SQL_REPORT_CHANNELS,
    [BSL_RQ_SOURCES] = SQL_REPORT_SOURCES,
    [BSL_RQ_PAGES] = SQL_REPORT_PAGES,
    [BSL_RQ_CLICKS] = SQL_REPORT_CLICKS,
    [BSL_RQ_GOALS] = SQL_REPORT_GOALS,
    [BSL_RQ_CAMPAIGNS_VISITS] = SQL_REPORT_CAMPAIGNS_VISITS,
    [BSL_RQ_CAMPAIGNS] = SQL_REPORT_CAMPAIGNS,
    [BSL_RQ_KPI_STATUS] = SQL_REPORT_KPI_STATUS,
    [BSL_RQ_KPI_SERIES] = SQL_REPORT_KPI_SERIES,
    [BSL_RQ_KPI_ADJUSTMENTS] = SQL_REPORT_KPI_ADJUSTMENTS,
    [BSL_RQ_KPI_ALERTS] = SQL_REPORT_KPI_ALERTS,
    [BSL_RQ_STATUS] = SQL_REPORT_STATUS,
    [BSL_RQ_DEVICES] = SQL_REPORT_DEVICES,
    [BSL_RQ_QUARTERS] = SQL_REPORT_QUARTERS,
    [BSL_RQ_NOT_FOUND] = SQL_REPORT_NOT_FOUND,
};

/* PostgreSQL's text of the queries that use SQLite's own functions or its
 * per-day counters
 * (bsl_store__pg_rows's dialect() does the rest: parameters, aggregates) */
#define PG_SQL_REPORT_QUARTERS                                                 \
  "SELECT CAST(extract(epoch FROM started_at::timestamptz) AS bigint) / 900,"  \
  " COUNT(*) FROM visits WHERE day BETWEEN ?1 AND ?2 GROUP BY 1 ORDER BY 1"
#define PG_SQL_REPORT_DEVICES                                                  \
  "SELECT device, COUNT(*), SUM(bounced), SUM(conversions) FROM visits"        \
  " WHERE day BETWEEN ?1 AND ?2 GROUP BY device ORDER BY 2 DESC, 1"
static const char *const QUERY_PG_SQL[BSL_RQ_COUNT_] = {
    [BSL_RQ_DEVICES] = PG_SQL_REPORT_DEVICES,
    [BSL_RQ_QUARTERS] = PG_SQL_REPORT_QUARTERS,
};

static const char *const QUERY_WHAT[BSL_RQ_COUNT_] = {
    [BSL_RQ_RANGE] = "reading the data range",
    [BSL_RQ_DAYS] = "reading traffic_daily",
    [BSL_RQ_DAY_CHANNELS] = "reading channels_daily per day",
    [BSL_RQ_CHANNELS] = "reading channels_daily",
    [BSL_RQ_SOURCES] = "reading sources of channels_daily",
    [BSL_RQ_PAGES] = "reading pages_daily",
    [BSL_RQ_CLICKS] = "reading events_daily",
    [BSL_RQ_GOALS] = "reading goals_daily",
    [BSL_RQ_CAMPAIGNS_VISITS] = "reading campaigns of channels_daily",
    [BSL_RQ_CAMPAIGNS] = "reading campaigns_daily",
    [BSL_RQ_KPI_STATUS] = "reading kpi_status",
    [BSL_RQ_KPI_SERIES] = "reading kpi_series",
    [BSL_RQ_KPI_ADJUSTMENTS] = "reading adjustments",
    [BSL_RQ_KPI_ALERTS] = "reading alerts",
    [BSL_RQ_STATUS] = "reading status_daily",
    [BSL_RQ_DEVICES] = "reading devices of visits",
    [BSL_RQ_QUARTERS] = "reading visits by hour",
    [BSL_RQ_NOT_FOUND] = "reading not_found_daily",
};

/* PostgreSQL: the same question of the catalogue */
#define PG_SQL_REPORT_HAS                                                      \
  "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?1"       \
  " AND table_schema = ANY (current_schemas(false))"

static int pg_count(void *ctx, int ncol, const char *const *name,
                    const char *const *text) {
  (void)name;
  *(int *)ctx = ncol > 0 && text[0] ? atoi(text[0]) : 0;
  return 0;
}

typedef struct pg_walk {
  bsl_report_row_cb cb;
  void *ctx;
} pg_walk;

static int pg_row(void *ctx, int ncol, const char *const *name,
                  const char *const *text) {
  const pg_walk *w = ctx;
  bsl_report_row row;
  row.ncol = ncol < BSL_REPORT_ROW_MAX ? ncol : BSL_REPORT_ROW_MAX;
  for (int i = 0; i < row.ncol; i++) {
    row.name[i] = name[i];
    row.text[i] = text[i];
    /* booleans of the views are integers in both stores */
    row.num[i] = text[i] ? strtod(text[i], NULL) : NAN;
  }
  return w->cb(w->ctx, &row);
}

int bsl_store_report_has(bsl_store *s, const char *name) {
  if (s->pg) {
    int n = 0;
    const char *p[] = {name};
    if (bsl_store__pg_rows(s, PG_SQL_REPORT_HAS, p, 1, pg_count, &n,
                           "looking up a view") != 0)
      return -1;
    return n > 0;
  }
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_REPORT_HAS);
  if (!st)
    return -1;
  bsl_store__bind_text(st, 1, name);
  int rc = sqlite3_step(st);
  int has = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_ROW)
    return bsl_store__fail(s, "looking up a view");
  return has;
}

int bsl_store_report_query(bsl_store *s, enum bsl_report_query q,
                           const char *const *p, int np, bsl_report_row_cb cb,
                           void *ctx) {
  if ((int)q < 0 || q >= BSL_RQ_COUNT_) {
    snprintf(s->error, sizeof s->error, "%s: unknown report query", s->path);
    return -1;
  }
  const char *sql = s->pg && QUERY_PG_SQL[q] ? QUERY_PG_SQL[q] : QUERY_SQL[q];
  return bsl_store__rows(s, sql, QUERY_WHAT[q], p, np, cb, ctx);
}

int bsl_store__rows(bsl_store *s, const char *sql, const char *what,
                    const char *const *p, int np, bsl_report_row_cb cb,
                    void *ctx) {
  if (s->pg) {
    pg_walk w = {cb, ctx};
    return bsl_store__pg_rows(s, sql, p, np, pg_row, &w, what);
  }
  sqlite3_stmt *st = bsl_store__stmt(s, sql);
  if (!st)
    return -1;
  for (int i = 0; i < np && i < sqlite3_bind_parameter_count(st); i++)
    bsl_store__bind_text(st, i + 1, p[i]);
  bsl_report_row row;
  row.ncol = sqlite3_column_count(st);
  if (row.ncol > BSL_REPORT_ROW_MAX)
    row.ncol = BSL_REPORT_ROW_MAX;
  int rc, cb_rc = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < row.ncol; i++) {
      row.name[i] = sqlite3_column_name(st, i);
      if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        row.text[i] = NULL;
        row.num[i] = NAN;
      } else {
        /* number first: asking for text converts the stored value */
        row.num[i] = sqlite3_column_double(st, i);
        row.text[i] = (const char *)sqlite3_column_text(st, i);
        if (!row.text[i])
          row.text[i] = "";
      }
    }
    if ((cb_rc = cb(ctx, &row)) != 0)
      break;
  }
  if (cb_rc == 0 && rc != SQLITE_DONE) {
    bsl_store__fail(s, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return -1;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return cb_rc;
}
