/*
 * The store's diagnosis queries (store_diagnose.h): the statements live in
 * store_diagnose_sql.h and run through the report's row walker, prepared
 * once in the store's statement cache.
 */
#include "store_diagnose.h"

#include <stdio.h>

#include "store_diagnose_sql.h"
#include "store_internal.h"

static const char *const QUERY_SQL[BSL_DQ_COUNT_] = {
    [BSL_DQ_VISITS] = SQL_DIAG_VISITS,
    [BSL_DQ_GOALS] = SQL_DIAG_GOALS,
    [BSL_DQ_SCROLL] = SQL_DIAG_SCROLL,
    [BSL_DQ_PAGES] = SQL_DIAG_PAGES,
    [BSL_DQ_BEACONS] = SQL_DIAG_BEACONS,
    [BSL_DQ_SERIES_VISITS] = SQL_DIAG_SERIES_VISITS,
    [BSL_DQ_SERIES_SCROLL] = SQL_DIAG_SERIES_SCROLL,
    [BSL_DQ_SERIES_PAGE] = SQL_DIAG_SERIES_PAGE,
};

/* PostgreSQL: the joins on a visit take its host too (a visit_id is
 * unique per host); dialect() in store_pg.c does the rest. */
static const char *const QUERY_PG_SQL[BSL_DQ_COUNT_] = {
    [BSL_DQ_GOALS] = PG_SQL_DIAG_GOALS,
    [BSL_DQ_SCROLL] = PG_SQL_DIAG_SCROLL,
    [BSL_DQ_SERIES_VISITS] = PG_SQL_DIAG_SERIES_VISITS,
    [BSL_DQ_SERIES_SCROLL] = PG_SQL_DIAG_SERIES_SCROLL,
};

static const char *const QUERY_WHAT[BSL_DQ_COUNT_] = {
    [BSL_DQ_VISITS] = "reading the segments of visits",
    [BSL_DQ_GOALS] = "reading visit_conversions",
    [BSL_DQ_SCROLL] = "reading visit_pages",
    [BSL_DQ_PAGES] = "reading pages_daily and events_daily",
    [BSL_DQ_BEACONS] = "reading the beacons of events_daily",
    [BSL_DQ_SERIES_VISITS] = "reading a segment's days from visits",
    [BSL_DQ_SERIES_SCROLL] = "reading a segment's days from visit_pages",
    [BSL_DQ_SERIES_PAGE] = "reading a page's days from pages_daily",
};

int bsl_store_diag_query(bsl_store *s, enum bsl_diag_query q,
                         const char *const *p, int np, bsl_report_row_cb cb,
                         void *ctx) {
  if ((int)q < 0 || q >= BSL_DQ_COUNT_) {
    snprintf(s->error, sizeof s->error, "%s: unknown diagnosis query", s->path);
    return -1;
  }
  const char *sql = s->pg && QUERY_PG_SQL[q] ? QUERY_PG_SQL[q] : QUERY_SQL[q];
  return bsl_store__rows(s, sql, QUERY_WHAT[q], p, np, cb, ctx);
}
