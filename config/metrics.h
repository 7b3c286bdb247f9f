/*
 * The KPI metric catalogue (SPEC §8): one row per metric a [kpi] may name,
 * saying what the metric is, what it reads and how it is shown.  Everything
 * else asks this table: config.c validates `metric =`, `goal =` and
 * `target =` against it, analyze/kpi plans each series from it, and every
 * output that shows a KPI value (the `kpi` table and messages, alerts, the
 * report's text and HTML) prints it with bsl_metric_format().
 *
 * Adding a metric is a row here plus, in analyze/kpi/kpi.c, how its daily
 * numerator and denominator come from the per-day columns (a switch on
 * enum bsl_metric_id, so the compiler points at the missing case).
 *
 * The table is static data; nothing here allocates.
 */
#ifndef BSL_METRICS_H
#define BSL_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* Every metric, in the order of SPEC §8 (the order of bsl_metrics[]). */
enum bsl_metric_id {
  BSL_METRIC_PAGEVIEWS,
  BSL_METRIC_VISITS,
  BSL_METRIC_VISITORS,
  BSL_METRIC_BOUNCE_RATE,
  BSL_METRIC_CONVERSIONS,
  BSL_METRIC_CONVERSION_RATE,
  BSL_METRIC_AVG_SCROLL_DEPTH,
  BSL_METRIC_SCROLL_RATE,
  BSL_METRIC_CLICKS,
  BSL_METRIC_CLICK_RATE,
  BSL_METRIC_OPEN_RATE,
  BSL_METRIC_CAMPAIGN_CLICK_RATE,
  BSL_METRIC_COST_PER_CONVERSION,
  BSL_METRIC_N
};

/* What a value is; a period's value is the sum of its days for a count, and
 * the sum of the numerators over the sum of the denominators otherwise. */
enum bsl_metric_kind {
  BSL_METRIC_COUNT, /* how many: pageviews, visits... */
  BSL_METRIC_RATE,  /* a fraction from 0 to 1 of a base */
  BSL_METRIC_MEAN,  /* an average per unit of a base, in the metric's unit */
  BSL_METRIC_MONEY, /* an amount in currency units per unit of a base */
};

/* The per-day sources (analyze/store, bsl_store_kpi_days) a metric reads. */
enum {
  BSL_METRIC_SRC_VISITS = 1 << 0,    /* visits, bounces, conversions */
  BSL_METRIC_SRC_PAGES = 1 << 1,     /* pageviews, scroll depth */
  BSL_METRIC_SRC_CLICKS = 1 << 2,    /* click beacons per page */
  BSL_METRIC_SRC_CAMPAIGNS = 1 << 3, /* deliveries, opens, clicks, spend */
};

typedef struct bsl_metric {
  const char *name; /* as written after `metric =` */
  enum bsl_metric_id id;
  enum bsl_metric_kind kind;
  bool needs_goal; /* counts the conversions of the KPI's [goal] */
  /* BSL_METRIC_SRC_* read without a filter or with a path filter, and with
   * a filter on another dimension of a visit (click beacons are kept per
   * page: in a channel, say, they are counted from the visits instead). */
  unsigned sources;
  unsigned segment_sources;
  /* How a value is shown (bsl_metric_format): */
  bool percent;     /* a fraction shown times 100; a target may be "5%" */
  int decimals;     /* digits after the point */
  bool grouped;     /* thousands separators, a whole value without decimals */
  const char *unit; /* written after a value: "%", or "" */
  /* written after a change of the value (bsl_metric_format_change): " pt"
   * (percentage points) where a value is in percent or points of 0-100 */
  const char *change_unit;
  const char *scale; /* the unit in words, for messages: "a count" */
} bsl_metric;

/* Indexed by enum bsl_metric_id. */
extern const bsl_metric bsl_metrics[BSL_METRIC_N];

/* The metric called NAME; NULL when the catalogue has none (or NAME is
 * NULL). */
const bsl_metric *bsl_metric_find(const char *name);

/* Whether M reads campaign data (campaigns_daily): such a KPI may only be
 * filtered by campaign. */
bool bsl_metric_reads_campaigns(const bsl_metric *m);

/*
 * Formats VALUE of the metric called METRIC in OUT (CAP bytes, always
 * NUL-terminated): "4.1%" for a rate of 0.0412, "1,200" visits, "1,234.50"
 * for a fractional count (a median, mean or projection), "52.0%" of scroll
 * depth, "3.75" of cost.  NAN and infinities are "-".  A name the catalogue
 * does not know (a database written by another configuration) is shown
 * like a count.
 */
void bsl_metric_format(const char *metric, double value, char *out, size_t cap);

/*
 * Formats a change of a value of METRIC (an adjustment's effect, a change
 * against a previous period) in OUT, always signed (0 unsigned): a change of
 * a percentage is in percentage points on the value's own precision ("-0.9
 * pt" beside "4.1%"; a change under 0.05 point keeps one significant digit,
 * "+0.01 pt"), never "%"; any other with 3 significant digits in the unit
 * of the value ("+12.5" visits, "+1,250" from 1000 up).  NAN and infinities
 * are "-".
 */
void bsl_metric_format_change(const char *metric, double change, char *out,
                              size_t cap);

/*
 * Formats a trend (a slope per period) of METRIC: signed, 3 significant
 * digits, in points for percentages ("-0.0311 pt", to which the caller adds
 * "/day"), "+12.5" for counts.  NAN and infinities are "-".
 */
void bsl_metric_format_trend(const char *metric, double change, char *out,
                             size_t cap);

/*
 * VALUE of METRIC brought within what the metric can be: a rate within 0
 * and 1, a scroll depth within 0 and 100, anything else at least 0.  For
 * projections, which a straight line can carry anywhere.  NAN and unknown
 * metrics pass unchanged.
 */
double bsl_metric_clamp(const char *metric, double value);

/* A p-value for people: "p=0.52", "p=0.012", "p<0.001"; NAN is "-". */
void bsl_metric_format_p(double p, char *out, size_t cap);

/*
 * Writes the names of the catalogue, or only of the metrics that take a goal
 * when GOAL_ONLY, to OUT (CAP bytes): separated by SEP, the last two by LAST
 * ("a b c" with " " and " "; "a, b and c" with ", " and " and ").  For
 * messages; cut short when CAP is too small.
 */
void bsl_metric_names(bool goal_only, const char *sep, const char *last,
                      char *out, size_t cap);

#endif
