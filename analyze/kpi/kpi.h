/*
 * KPI evaluation (SPEC §8): one value per closed period computed from the
 * aggregates, the state of each KPI over its window, alerts on entering and
 * leaving a flagged state, and the measured effect of recorded adjustments.
 *
 * Rules chosen here (README, "KPIs"):
 *  - A day is closed once the clock has passed its end (in the configured
 *    zone) by BSL_KPI_GRACE_SECONDS, or once the newest visit activity in the
 *    database has; a week (Monday to Sunday) closes with its Sunday.  With an
 *    explicit horizon day (`kpi --at D`, a backtest) exactly the periods
 *    ending on or before D are closed and later data is ignored.
 *  - A backtest of a day after today is refused.  A backtest records its
 *    evaluation (and raises alerts) only where no real evaluation has been
 *    recorded for the KPI yet, in increasing order, and only when the end of
 *    D has passed: it replays history into a fresh store, and never moves
 *    state recorded by a real evaluation.  A real evaluation always records.
 *  - no_data needs BSL_KPI_SILENT_PERIODS closed periods since the data
 *    began (the first day with hits): before that a KPI without an
 *    observation is `insufficient` (SPEC §8).
 *  - A period whose denominator is zero (no visits for conversion_rate, no
 *    pageviews in the segment for pageviews...) is a missing observation.
 *  - A daily KPI uses the seasonal (weekday) Mann–Kendall test when its
 *    window shows a weekly cycle: at least 14 observations, every weekday
 *    observed twice, and a Kruskal–Wallis test of the Theil–Sen residuals by
 *    weekday with p < 0.05.
 *  - For window/2 periods from an adjustment (its own period included) a KPI
 *    that would be `stalled` is in state `grace` instead (not flagged).
 *  - `since` is the first day of the earliest period of the current run of
 *    the state (the state every later closed period also had).
 *
 * Ownership: results are owned by the caller and freed with
 * bsl_kpi_results_free().  Every function returns 0 or -1 with a one-line
 * message in err.
 */
#ifndef BSL_KPI_H
#define BSL_KPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"
#include "store_kpi.h"

#define BSL_KPI_GRACE_SECONDS 3600
#define BSL_KPI_ALERT_TIMEOUT_MS 10000
#define BSL_KPI_MIN_OBS 7
#define BSL_KPI_SILENT_PERIODS 3
#define BSL_KPI_ALPHA 0.05
/* alert_command deliveries: attempts before giving up, the first retry
 * delay (doubled at each failure, up to the maximum), seconds */
#define BSL_KPI_DELIVERY_ATTEMPTS 10
#define BSL_KPI_RETRY_FIRST 60
#define BSL_KPI_RETRY_MAX (6 * 3600)
#define BSL_KPI_LEASE_MARGIN 60

enum bsl_kpi_state {
  BSL_KPI_NO_DATA,
  BSL_KPI_INSUFFICIENT,
  BSL_KPI_MET,
  BSL_KPI_IMPROVING,
  BSL_KPI_OFF_TRACK,
  BSL_KPI_DECLINING,
  BSL_KPI_STALLED,
  BSL_KPI_GRACE,
};

/* "no_data", "insufficient", "met", "improving", "off_track", "declining",
 * "stalled", "grace". */
const char *bsl_kpi_state_name(enum bsl_kpi_state st);
/* True for stalled, declining, off_track and no_data. */
bool bsl_kpi_state_flagged(enum bsl_kpi_state st);

/* One KPI's closed periods.  Period i starts on day first_day + i * L (days
 * since 1970-01-01; L = 1 or 7).  value[i] is NAN for a missing observation. */
typedef struct bsl_kpi_series {
  enum bsl_kpi_period period;
  int32_t first_day;
  size_t n;
  double *value;
  int64_t *count; /* the denominator (or, for counts, the base) per period */
} bsl_kpi_series;

typedef struct bsl_kpi_assessment {
  enum bsl_kpi_state state;
  size_t observations;     /* in the window */
  double level;            /* median of the last 7 observations (NAN: none) */
  double last;             /* the latest observation (NAN: none) */
  double slope, intercept; /* Theil–Sen, per period; t = period index */
  double p_value, s;       /* Mann–Kendall */
  bool seasonal;           /* the seasonal test was used */
  double projected;        /* the line at the deadline, within what the
                              metric can be (NAN: no deadline) */
  double needed;           /* the slope per period that would reach the
                              target by the deadline from the line's value
                              now (NAN: no deadline, or past it) */
  bool in_grace;           /* an adjustment's grace covers this period */
} bsl_kpi_assessment;

/*
 * The state of KPI K at the end of its first UPTO periods of S, given the
 * periods in which adjustments fall (ADJ[0..n_adj-1], ascending).  Pure.
 */
int bsl_kpi_assess(const bsl_kpi_conf *k, const bsl_kpi_series *s, size_t upto,
                   const size_t *adj, size_t n_adj, bsl_kpi_assessment *out);

/* Effect of an adjustment falling in period P, measured at the end of the
 * first UPTO periods (periods from END on are not "after" it: END is the
 * next adjustment's period or SIZE_MAX).  Returns 1 with the effect when at
 * least 3 observations follow P and 3 precede it, 0 when not yet known. */
typedef struct bsl_kpi_effect {
  double effect; /* mean_after - mean_before */
  double p_value;
  double mean_before, mean_after;
  size_t n_before, n_after;
} bsl_kpi_effect;
int bsl_kpi_effect_of(const bsl_kpi_series *s, size_t upto, size_t p,
                      size_t end, bsl_kpi_effect *out);

typedef struct bsl_kpi_result {
  char name[128];
  char metric[32];
  enum bsl_kpi_period period;
  enum bsl_kpi_state state;
  bool flagged;
  char previous_state[16]; /* as recorded before this evaluation, or "" */
  char event[16];          /* "raised", "resolved" or "" */
  long long raised_id;     /* the alert raised now, or 0 */
  long long resolved_id;   /* the alert resolved now, or 0 */
  bsl_kpi_assessment a;
  double target; /* NAN when none */
  char deadline[11];
  char since[11];
  int periods_in_state;
  char horizon[11]; /* the last closed day */
  size_t n_periods;
  /* the latest adjustment, if any */
  bool adjusted;
  char adjusted_at[32];
  char note[256];
  bool has_effect;
  bsl_kpi_effect effect;
  size_t n_adjustments; /* recorded for it up to the evaluation */
  int window;           /* periods */
  int direction;        /* +1 higher is better, -1 lower */
  bool recorded;        /* this evaluation is now the recorded one */
  bool reset_closed;    /* --reset closed an open alert of this KPI */
  /* what the state means and the next step, in words: one paragraph that
   * names the KPI (alerts, kpi_status.message) */
  char message[1200];
} bsl_kpi_result;

typedef struct bsl_kpi_eval_options {
  int64_t now;        /* the clock (Unix seconds) */
  const char *at_day; /* NULL, or YYYY-MM-DD: evaluate as of the end of it */
  bool reset;         /* first forget the recorded status, series and open
                         alerts of every configured KPI (`kpi --reset`) */
  bool fire_alerts;   /* queue each raise/resolve for alert_command, and
                         deliver what is due after the commit */
  bool wait_alerts;   /* wait for it (up to the timeout) instead of detach */
  bool retry_pending; /* deliver every pending one, due or not (`kpi`) */
  int alert_timeout_ms;
} bsl_kpi_eval_options;

/*
 * Checks a backtest day: YYYY-MM-DD, and not after today (at clock NOW, in
 * the configured zone).  Returns 0, or -1 with a one-line message in err
 * ("--at 2030-01-01: after today (2026-12-04, UTC); ...").
 */
int bsl_kpi_check_at(const bsl_config *cfg, const char *at_day, int64_t now,
                     char *err, size_t errlen);

/*
 * Evaluates every configured KPI.  The evaluation is recorded (kpi_series,
 * kpi_status, alerts, adjustment effects; one transaction, which must not be
 * open already) when it is real (no at_day), or when it is a backtest the
 * rules above let record; otherwise it only reports.  Alerts are raised and
 * resolved only on recorded transitions, and alert_command runs after the
 * commit.  *RESULTS has one entry per KPI, in configuration order.
 */
int bsl_kpi_evaluate_ex(const bsl_config *cfg, bsl_store *store,
                        const bsl_kpi_eval_options *opts,
                        bsl_kpi_result **results, size_t *n, char *err,
                        size_t errlen);

/* The live mode's call: clock NOW, alert_command detached when FIRE_ALERTS. */
int bsl_kpi_evaluate(const bsl_config *cfg, bsl_store *store, int64_t now,
                     bool fire_alerts, bsl_kpi_result **results, size_t *n,
                     char *err, size_t errlen);

void bsl_kpi_results_free(bsl_kpi_result *results, size_t n);

/*
 * Delivers the pending raises and resolves to alert_command (outside any
 * transaction; each attempt is recorded in its own).  With WAIT each command
 * runs to completion here; without, it is handed to a detached supervisor
 * and its outcome recorded by a later call - `run` calls this at every
 * flush.  ALL_PENDING: every pending delivery now, not only those whose
 * back-off has passed.  Failures are logged on stderr with their attempt;
 * *SENT (may be NULL) counts the deliveries made or started.  Returns 0, or
 * -1 with err set when the store fails.
 */
typedef struct bsl_kpi_deliver_options {
  int64_t now;
  bool wait;
  bool all_pending;
  int timeout_ms; /* 0: BSL_KPI_ALERT_TIMEOUT_MS */
} bsl_kpi_deliver_options;
int bsl_kpi_deliver(const bsl_config *cfg, bsl_store *store,
                    const bsl_kpi_deliver_options *o, size_t *sent, char *err,
                    size_t errlen);

/* alert_command attempts that failed, and deliveries given up after
 * BSL_KPI_DELIVERY_ATTEMPTS, since the process started (`run` exports them
 * as metrics).  Either pointer may be NULL. */
void bsl_kpi_delivery_failures(uint64_t *attempts_failed, uint64_t *given_up);

/*
 * The last closed day at clock NOW (YYYY-MM-DD into DAY, "" before any
 * data): `run` evaluates when it changes.
 */
int bsl_kpi_closed_through(const bsl_config *cfg, bsl_store *store, int64_t now,
                           char day[11], char *err, size_t errlen);

/*
 * Records that the team changed something for KPI at AT (Unix seconds),
 * with its id in *ID.  Refused (-1, one line in err) when KPI has no [kpi]
 * section, NOTE is empty, or AT is after NOW: a change is recorded once it
 * is made.
 */
int bsl_kpi_adjust(const bsl_config *cfg, bsl_store *store, const char *kpi,
                   const char *note, int64_t at, int64_t now, int64_t *id,
                   char *err, size_t errlen);

/* Hands every recorded adjustment (KPI's only when not NULL) to CB, by KPI
 * then time (store_kpi.h).  Returns 0, or -1 with err set. */
int bsl_kpi_adjustments(bsl_store *store, const char *kpi,
                        bsl_kpi_adjustment_cb cb, void *ctx, char *err,
                        size_t errlen);

/* Removes adjustment ID (a mistaken one), handing what it was to CB.
 * Returns 1, 0 when there is no such adjustment, or -1 with err set.  The
 * KPI's status is re-evaluated without it at the next evaluation. */
int bsl_kpi_adjust_remove(bsl_store *store, int64_t id,
                          bsl_kpi_adjustment_cb cb, void *ctx, char *err,
                          size_t errlen);

/*
 * Parses a time: YYYY-MM-DD (the start of that day), YYYY-MM-DDTHH:MM[:SS]
 * (both in ZONE, the configured timezone), optionally followed by Z or
 * +HH:MM/-HH:MM (then absolute).  Returns 0 or -1.
 */
int bsl_kpi_parse_time(const char *text, const char *zone, int64_t *out);

/*
 * The verdict on an adjustment's effect, in words, into OUT: "not measured
 * yet (3 periods after it are needed)" when EFFECT is NAN; "no measurable
 * effect yet (-0.9 pt, p=0.41: could be chance)" when P_VALUE >= 0.05;
 * "+2.1 pt, significant (p=0.01)" otherwise, followed by ": an improvement"
 * or ": a setback" when DIRECTION (+1 higher is better, -1 lower is better,
 * 0 unknown) says which.  Changes are bsl_metric_format_change()'s.
 */
void bsl_kpi_effect_verdict(const char *metric, int direction, double effect,
                            double p_value, char *out, size_t cap);

/*
 * Writes R->message from R's state, assessment, adjustments and effect: one
 * paragraph naming the KPI that says what the state means in plain words
 * and, for a flagged state, the next step (stalled: what was tried and
 * when, or to record a change with `boussole adjust`; no_data: what to
 * check; declining: `boussole diagnose`; off_track: the pace the target
 * needs).  CFG may be NULL (the beacon path is then the default's).
 */
void bsl_kpi_describe(const bsl_config *cfg, const bsl_kpi_conf *k,
                      bsl_kpi_result *r);

/* Formats a slope per period of K ("+0.0123 pt/day"); values are
 * bsl_metric_format_trend()'s (metrics.h). */
void bsl_kpi_format_slope(const bsl_kpi_conf *k, double slope, char *out,
                          size_t cap);

#endif
