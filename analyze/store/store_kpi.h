/*
 * The store's KPI side (store_kpi.c holds all of this feature's SQL): daily
 * inputs of the KPI metrics read from the aggregates, and the persisted KPI
 * series, states, alerts and adjustments behind the views kpi_series,
 * kpi_status, alerts and adjustments.
 *
 * Errors as in store.h: 0 on success, -1 with bsl_store_error() set.
 * Strings passed in stay owned by the caller.
 */
#ifndef BSL_STORE_KPI_H
#define BSL_STORE_KPI_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* Which aggregate a KPI metric reads (see SQL_KPI_DAYS_* for columns). */
enum bsl_kpi_source {
  BSL_KPI_SRC_VISITS,    /* visits, visitors, bounces, conversions, clicks */
  BSL_KPI_SRC_PAGES,     /* pageviews, scroll sum, pageviews >= 75% */
  BSL_KPI_SRC_CLICKS,    /* click beacons */
  BSL_KPI_SRC_CAMPAIGNS, /* delivered, unique opens, unique clicks, spend */
};

#define BSL_KPI_DAY_COLS 5

/* Called once per day that has rows, in day order; COL[0..ncol-1] are the
 * source's columns in the order listed above. */
typedef int (*bsl_kpi_day_cb)(void *ctx, const char *day, const double *col,
                              int ncol);

/*
 * Reads SRC per day for days FROM..TO (inclusive, YYYY-MM-DD), restricted to
 * the segment FILTER_KEY = FILTER_VALUE (FILTER_KEY NULL: all) and, for
 * conversions, to GOAL (NULL: every goal).  For BSL_KPI_SRC_CLICKS and
 * BSL_KPI_SRC_CAMPAIGNS FILTER_KEY must be NULL, "path" or "campaign"
 * respectively.  A non-zero return of CB stops the walk and is returned.
 */
int bsl_store_kpi_days(bsl_store *s, enum bsl_kpi_source src,
                       const char *filter_key, const char *filter_value,
                       const char *goal, const char *from, const char *to,
                       bsl_kpi_day_cb cb, void *ctx);

/* 1 when the campaigns_daily view exists (campaign logs are supported by
 * this database), 0 if not. */
int bsl_store_kpi_has_campaigns(bsl_store *s);

/*
 * The extent of the data: FIRST and LAST day with hits ("" when none; with
 * CAMPAIGNS also the first campaign day counts) and the newest visit
 * activity in Unix seconds (*NEWEST = INT64_MIN when none).
 */
int bsl_store_kpi_range(bsl_store *s, bool campaigns, char first[11],
                        char last[11], int64_t *newest);

/* Replaces the stored series of KPI: call clear, then put per period
 * (VALUE NAN for a missing observation). */
int bsl_store_kpi_series_clear(bsl_store *s, const char *kpi);
int bsl_store_kpi_series_put(bsl_store *s, const char *kpi, const char *period,
                             const char *period_start, double value, int64_t n);

/* The recorded state of a KPI.  Returns 1 and fills OUT when there is one,
 * 0 when the KPI was never evaluated. */
typedef struct bsl_kpi_stored {
  char state[16];
  char since[11];
  char period[16];
  int64_t evaluated_unix;
  bool backtest; /* recorded by `kpi --at` */
} bsl_kpi_stored;
int bsl_store_kpi_state_get(bsl_store *s, const char *kpi, bsl_kpi_stored *out);

/* One kpi_status row; doubles NAN and strings NULL are stored as NULL. */
typedef struct bsl_kpi_status_row {
  const char *kpi, *metric, *state, *since, *period;
  double value, last_value, slope, intercept, p_value;
  bool seasonal;
  int64_t observations;
  double target;
  const char *deadline;
  double projected;
  const char *adjusted_at;
  double effect, effect_p_value;
  const char *message;
  const char *evaluated_at;
  int64_t evaluated_unix;
  bool backtest;
} bsl_kpi_status_row;
int bsl_store_kpi_state_put(bsl_store *s, const bsl_kpi_status_row *row);

/* Forgets KPI's recorded status and series, closes its open alert at AT
 * with resolved_state 'reset' and cancels its pending deliveries; *CLOSED is
 * 1 when an alert was open. */
int bsl_store_kpi_reset(bsl_store *s, const char *kpi, const char *at,
                        int *closed);

/* Resolves the KPI's open alert (if any) at AT, noting the new STATE;
 * *ALERT_ID receives its id, or 0 when none was open. */
int bsl_store_kpi_alert_resolve(bsl_store *s, const char *kpi, const char *at,
                                const char *state, int64_t *alert_id);
/* Records a raised alert; *ALERT_ID receives its id. */
int bsl_store_kpi_alert_raise(bsl_store *s, const char *kpi, const char *state,
                              const char *previous_state, const char *at,
                              const char *message, int64_t *alert_id);

/* Queues the delivery of EVENT ("raised"/"resolved") of ALERT_ID to
 * alert_command: PAYLOAD is the JSON to send, due at NOW. */
int bsl_store_kpi_delivery_add(bsl_store *s, int64_t alert_id, const char *kpi,
                               const char *event, const char *payload,
                               int64_t now);

/* A pending delivery (strings valid during the callback only). */
typedef struct bsl_kpi_delivery {
  int64_t delivery_id, alert_id;
  const char *kpi, *event, *payload;
  int attempts;
} bsl_kpi_delivery;
typedef int (*bsl_kpi_delivery_cb)(void *ctx, const bsl_kpi_delivery *d);
/* The pending deliveries due at NOW (every pending one with ALL), oldest
 * first, at most LIMIT, none leased by a delivery in progress, and of each
 * KPI only the oldest pending one. */
int bsl_store_kpi_delivery_due(bsl_store *s, int64_t now, bool all, int limit,
                               bsl_kpi_delivery_cb cb, void *ctx);
/* Takes delivery ID (read with ATTEMPTS attempts) for one more attempt:
 * retried at NEXT should it fail, leased until LEASE.  Returns 1 when taken,
 * 0 when another process took it first. */
int bsl_store_kpi_delivery_claim(bsl_store *s, int64_t id, int attempts,
                                 int64_t next, int64_t lease);
/* Records the attempt's outcome: STATUS "delivered" (DELIVERED_AT set),
 * "pending" (to be retried) or "failed" (given up), with ERROR or NULL. */
int bsl_store_kpi_delivery_done(bsl_store *s, int64_t id, const char *status,
                                const char *delivered_at, const char *error);

/* Records an adjustment of KPI made at AT (Unix seconds). */
int bsl_store_kpi_adjust_add(bsl_store *s, const char *kpi, int64_t at,
                             const char *note, int64_t *adjustment_id);

/* Adjustments of KPI made at or before UNTIL, oldest first. */
typedef int (*bsl_kpi_adjust_cb)(void *ctx, int64_t id, const char *at,
                                 int64_t at_unix, const char *note);
int bsl_store_kpi_adjust_list(bsl_store *s, const char *kpi, int64_t until,
                              bsl_kpi_adjust_cb cb, void *ctx);

/* Every adjustment, or KPI's only (KPI non-NULL), by KPI then time; the
 * effect and its p-value are NAN while not known.  Strings are valid
 * during the callback only. */
typedef struct bsl_kpi_adjustment_row {
  int64_t id;
  const char *kpi, *at, *note;
  double effect, effect_p_value;
  int64_t n_after;
} bsl_kpi_adjustment_row;
typedef int (*bsl_kpi_adjustment_cb)(void *ctx,
                                     const bsl_kpi_adjustment_row *row);
int bsl_store_kpi_adjust_all(bsl_store *s, const char *kpi,
                             bsl_kpi_adjustment_cb cb, void *ctx);

/* Deletes adjustment ID, handing what it was to CB (effect fields NAN).
 * Returns 1 when it existed, 0 when there is none, -1 on error. */
int bsl_store_kpi_adjust_remove(bsl_store *s, int64_t id,
                                bsl_kpi_adjustment_cb cb, void *ctx);

/* Records the measured effect of an adjustment (NAN: not yet known). */
int bsl_store_kpi_adjust_effect(bsl_store *s, int64_t id, double effect,
                                double p_value, double mean_before,
                                double mean_after, int64_t n_before,
                                int64_t n_after);

#endif
