/*
 * The store's report side (store_report.c holds all of this feature's SQL):
 * read-only queries over the analyst views of SPEC §6 that `boussole report`
 * summarises.  Each query is named by an enum and hands its rows to a
 * callback as a bsl_report_row; the column order of each query is listed
 * below.  The views of later features (campaigns_daily, kpi_*, alerts,
 * adjustments) may be missing from a database: ask bsl_store_report_has()
 * before running a query that reads them, or its preparation fails.
 *
 * Errors as in store.h: 0 on success (or the callback's non-zero return),
 * -1 with bsl_store_error() set.  Strings passed in stay owned by the caller
 * and must live until the call returns; row strings are valid only during
 * the callback.
 */
#ifndef BSL_STORE_REPORT_H
#define BSL_STORE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

#define BSL_REPORT_ROW_MAX 32

/* One result row: NCOL columns with their names; TEXT[i] is NULL for SQL
 * NULL, NUM[i] is the column as a number (NAN for NULL). */
typedef struct bsl_report_row {
  int ncol;
  const char *name[BSL_REPORT_ROW_MAX];
  const char *text[BSL_REPORT_ROW_MAX];
  double num[BSL_REPORT_ROW_MAX];
} bsl_report_row;

typedef int (*bsl_report_row_cb)(void *ctx, const bsl_report_row *row);

enum bsl_report_query {
  /* (no params) first day, last day of traffic_daily, sites joined by ", " */
  BSL_RQ_RANGE,
  /* ?1 from, ?2 to: day, hits, bot_hits, pageviews, visits, visitors,
   * bounces, conversions (from channels_daily); one row per day with data */
  BSL_RQ_DAYS,
  /* ?1 from, ?2 to: day, channel, visits */
  BSL_RQ_DAY_CHANNELS,
  /* ?1 from, ?2 to: channel, visits, visitors, pageviews, bounces,
   * conversions; most visits first */
  BSL_RQ_CHANNELS,
  /* ?1 from, ?2 to, ?3 limit: source, medium, visits, conversions */
  BSL_RQ_SOURCES,
  /* ?1 from, ?2 to, ?3 limit: path, pageviews, entries, avg_scroll_depth,
   * scroll_75; most pageviews first */
  BSL_RQ_PAGES,
  /* ?1 from, ?2 to, ?3 limit: target, path, events of the click beacons */
  BSL_RQ_CLICKS,
  /* ?1 from, ?2 to: goal, conversions, visits */
  BSL_RQ_GOALS,
  /* ?1 from, ?2 to, ?3 limit: campaign, visits, conversions (from the visits'
   * utm_campaign) - for databases without campaigns_daily */
  BSL_RQ_CAMPAIGNS_VISITS,
  /* ?1 from, ?2 to, ?3 limit: campaign, sent, delivered, opens, clicks,
   * bounces, unsubscribes, spend, visits, conversions: the campaign logs
   * joined with the visits' utm_campaign */
  BSL_RQ_CAMPAIGNS,
  /* (no params) every kpi_status column, by name; ordered by kpi */
  BSL_RQ_KPI_STATUS,
  /* ?1 kpi: period, period_start, value, n; in period order */
  BSL_RQ_KPI_SERIES,
  /* ?1 kpi: at, note, effect, effect_p_value; oldest first */
  BSL_RQ_KPI_ADJUSTMENTS,
  /* ?1 kpi: state, raised_at, resolved_at; oldest first */
  BSL_RQ_KPI_ALERTS,
  /* ?1 from, ?2 to: status, hits, bot_hits (status_daily); most hits
   * first */
  BSL_RQ_STATUS,
  /* ?1 from, ?2 to: device, visits, bounces, conversions (the visits
   * view); most visits first */
  BSL_RQ_DEVICES,
  /* ?1 from, ?2 to: the start of a quarter hour (Unix seconds / 900) and
   * the visits begun in it (the visits view's started_at): quarter hours,
   * so that any zone's hours, half-hour offsets included, can be cut from
   * them */
  BSL_RQ_QUARTERS,
  /* ?1 from, ?2 to, ?3 limit: path, hits of not_found_daily (people's
   * requests answered 404); most hits first */
  BSL_RQ_NOT_FOUND,
  BSL_RQ_COUNT_
};

/* 1 when a table or view named NAME exists, 0 when not, -1 on error. */
int bsl_store_report_has(bsl_store *s, const char *name);

/*
 * Runs query Q with the text parameters P[0..np-1] (bound as ?1, ?2, ...;
 * a limit is given as decimal text) and calls CB per row.  A non-zero return of
 * CB stops the walk and is returned.
 */
int bsl_store_report_query(bsl_store *s, enum bsl_report_query q,
                           const char *const *p, int np, bsl_report_row_cb cb,
                           void *ctx);

#endif
