/*
 * The store's diagnosis side (store_diagnose.c, SQL in
 * store_diagnose_sql.h): the read-only queries `boussole diagnose` runs over
 * the analyst views.  Rows come to a callback as a bsl_report_row
 * (store_report.h); the range, the daily totals, the goals and the campaign
 * funnels are the report's own queries (bsl_store_report_query).
 *
 * Errors as in store.h: 0 (or the callback's non-zero return), -1 with
 * bsl_store_error() set.  Parameters are text, owned by the caller.
 */
#ifndef BSL_STORE_DIAGNOSE_H
#define BSL_STORE_DIAGNOSE_H

#include "store_report.h"

enum bsl_diag_query {
  /* ?1 from, ?2 to: channel, source, medium, campaign, landing_path,
   * device, visits, bounces, converted visits (any goal), pageviews,
   * clicks */
  BSL_DQ_VISITS,
  /* ?1 from, ?2 to: the six dimensions, goal, converted visits */
  BSL_DQ_GOALS,
  /* ?1 from, ?2 to: the six dimensions, pageviews, pageviews >= 75% */
  BSL_DQ_SCROLL,
  /* ?1 from, ?2 to: path, pageviews, entries, pageviews >= 75%, clicks */
  BSL_DQ_PAGES,
  /* ?1 from, ?2 to: event (scroll, click), first day, last day (up to ?2),
   * events from ?1, events in all */
  BSL_DQ_BEACONS,
  /* ?1 from, ?2 to, ?3 key, ?4 value, ?5 goal: day, visits, bounces,
   * conversions of the goal, pageviews, clicks */
  BSL_DQ_SERIES_VISITS,
  /* ?1 from, ?2 to, ?3 key, ?4 value: day, pageviews, pageviews >= 75% */
  BSL_DQ_SERIES_SCROLL,
  /* ?1 from, ?2 to, ?3 path: day, pageviews, pageviews >= 75%, clicks */
  BSL_DQ_SERIES_PAGE,
  BSL_DQ_COUNT_
};

/* Runs query Q with P[0..np-1] bound as ?1, ?2...; CB per row. */
int bsl_store_diag_query(bsl_store *s, enum bsl_diag_query q,
                         const char *const *p, int np, bsl_report_row_cb cb,
                         void *ctx);

#endif
