/*
 * The diagnosis (`boussole diagnose`, SPEC §10): over a date range, the
 * segments of the site (channel, source/medium, campaign, landing page,
 * device and some pairs) whose conversion, bounce, scroll or click rate
 * differs from the rest of the site by more than chance; the biggest movers
 * against the previous period of the same length; leaks (pages that lose
 * their entries, campaigns whose clicks bring no visits or whose visits do
 * not convert, beacons that stopped); and a ready-to-paste [kpi] block per
 * top finding.  bsl_diag_gather() reads the views once (store_diagnose.h)
 * and computes everything; the renderers (render.c, html.c) only print.
 *
 * The discipline (README "Diagnose"): a segment is tested only with at
 * least BSL_DIAG_MIN_SIZE visits (pageviews for scroll and click rates) in
 * it and outside it; each test is a two-proportion z test, or Fisher's
 * exact test when an expected cell is under 5 (the conditional binomial
 * test for click and count rates); the q-values come from one
 * Benjamini–Hochberg adjustment over every test of the run; a finding needs
 * q < BSL_DIAG_FDR and a relative difference of at least BSL_DIAG_MIN_EFFECT.
 *
 * Ownership: bsl_diag_gather() returns a bsl_diag owned by the caller, freed
 * with bsl_diag_destroy() (NULL is a no-op); every string in it is owned by
 * it.  Text from logs (paths, campaigns, sources) is kept as stored: each
 * renderer escapes it for its output (escape.h).  Functions return 0 or -1
 * with one line in the caller's buffer.
 */
#ifndef BSL_DIAGNOSE_H
#define BSL_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

#define BSL_DIAG_DEFAULT_DAYS 28
#define BSL_DIAG_MAX_DAYS 3660
#define BSL_DIAG_MIN_SIZE 100     /* visits (pageviews) in a tested segment */
#define BSL_DIAG_FDR 0.05         /* Benjamini–Hochberg level */
#define BSL_DIAG_MIN_EFFECT 0.10  /* relative difference from the site */
#define BSL_DIAG_MOVER_COUNT 0.20 /* relative change of a count mover */
#define BSL_DIAG_MAX_OBJECTIVES 5
#define BSL_DIAG_OBJECTIVE_DAYS 90 /* default horizon of a proposed target */

typedef struct bsl_diag_finding {
  char *dimension;  /* "channel", "landing_page", "campaign+device"... */
  char *segment;    /* "email", "/promo", "spring + mobile" */
  char *metric;     /* conversion_rate bounce_rate scroll_rate click_rate */
  char *goal;       /* conversion_rate: the goal; else NULL */
  const char *unit; /* what SIZE counts: "visits" or "pageviews" */
  bool better;      /* good for the site (a low bounce rate is better) */
  double segment_value, site_value, rest_value;
  double ci_lo, ci_hi; /* 95% interval of segment_value */
  double size;         /* the denominator: visits or pageviews */
  double count;        /* the numerator in the segment */
  double p_value, q_value;
  bool exact; /* Fisher's or the binomial test */
  /* (segment - site) x size: conversions, bounces, pageviews at 75% or
   * clicks the difference is worth; and that over the site's total */
  double impact, impact_share;
  const char *impact_unit;
  /* the same visits under other names ("campaign spring-news; channel
   * email"): one finding is kept, the most specific; NULL when none */
  char *also;
} bsl_diag_finding;

typedef struct bsl_diag_mover {
  char *dimension, *segment;
  char *metric;             /* visits conversions bounce_rate conversion_rate */
  char *goal;               /* conversions and conversion_rate: the goal */
  bool better;              /* good for the site */
  double value, prev_value; /* counts, or rates 0..1 */
  double size, prev_size;   /* visits */
  double p_value, q_value;
  bool exact;
  double impact; /* visits, conversions or bounces gained (+) or lost */
  double impact_share;
  const char *impact_unit;
  char *also; /* as in bsl_diag_finding */
} bsl_diag_mover;

typedef struct bsl_diag_leak {
  char *kind;    /* page, campaign_no_visits, campaign_no_conversions,
                    beacons_stopped */
  char *subject; /* the page, campaign or beacon event */
  char *message; /* one sentence: what is wrong and what to check */
  double size;   /* entries, clicks, visits or pageviews concerned */
} bsl_diag_leak;

typedef struct bsl_diag_objective {
  char *name;      /* the [kpi "NAME"] */
  char *kpi_block; /* NULL when skipped */
  char *how;       /* how the baseline, target and deadline were chosen,
                      or why no block could be written */
  size_t finding;  /* index in findings */
  double baseline, target;
  char deadline[11];
} bsl_diag_objective;

typedef struct bsl_diag {
  char from[11], to[11], prev_from[11], prev_to[11];
  char data_first[11], data_last[11]; /* "" for an empty database */
  int n_days;
  char generated_at[32];
  bool default_range; /* the range ends at the newest complete day */
  double visits, prev_visits, bounces, converted, pageviews;
  char **goals; /* the goals of goals_daily in the range */
  size_t n_goals;
  double *goal_conversions; /* per goal, in the range */
  size_t n_segments, n_tests;
  bsl_diag_finding *findings; /* ranked by impact_share, biggest first */
  size_t n_findings;
  bsl_diag_mover *movers; /* ranked by impact_share */
  size_t n_movers;
  bsl_diag_leak *leaks;
  size_t n_leaks;
  bsl_diag_objective *objectives;
  size_t n_objectives;
} bsl_diag;

typedef struct bsl_diag_options {
  const char *from, *to; /* YYYY-MM-DD or NULL for the defaults */
  int64_t now;           /* the clock, for generated_at */
  /* names of the configuration's [kpi] sections: a proposed block never
   * takes one, so that it pastes beside them */
  const char *const *kpi_names;
  size_t n_kpi_names;
} bsl_diag_options;

/*
 * Reads the views for OPTS's range (and the period before it) and computes
 * the diagnosis.  Errors: a bad --from/--to (the message names the option),
 * --from after --to, a range over BSL_DIAG_MAX_DAYS, storage errors, out of
 * memory.
 */
int bsl_diag_gather(bsl_store *st, const bsl_diag_options *opts, bsl_diag **out,
                    char *err, size_t errlen);
void bsl_diag_destroy(bsl_diag *d);

/* Terminal text within 100 columns; ANSI colours when COLOR. */
int bsl_diag_write_text(const bsl_diag *d, FILE *out, bool color);
/* One JSON object: findings, movers, leaks, objectives (README). */
int bsl_diag_write_json(const bsl_diag *d, FILE *out);
/* The self-contained HTML page (html.c). */
int bsl_diag_write_html(const bsl_diag *d, FILE *out);

/* "conversion rate (signup)", "bounce rate": a metric in words. */
void bsl_diag_metric_words(const char *metric, const char *goal, char *out,
                           size_t cap);

#endif
