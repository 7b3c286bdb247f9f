/*
 * The KPI metric catalogue (SPEC §8) and the one formatter of KPI values; see
 * metrics.h.  The display rules are the table's: a rate is a percentage with
 * one decimal, like every percentage of the report; a count has thousands
 * separators, and two decimals only when it is not whole (a median of an
 * even number of periods, a mean, a projection); scroll depth is in points
 * of 0-100 with one decimal; an amount has two decimals.
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* How each kind is shown, and its unit in words. */
#define AS_COUNT                                                               \
  .kind = BSL_METRIC_COUNT, .decimals = 2, .grouped = true, .unit = "",        \
  .change_unit = "", .scale = "a count"
#define AS_RATE                                                                \
  .kind = BSL_METRIC_RATE, .percent = true, .decimals = 1, .unit = "%",        \
  .change_unit = " pt", .scale = "a fraction from 0 to 1"

#define VISITS BSL_METRIC_SRC_VISITS
#define PAGES BSL_METRIC_SRC_PAGES
#define CLICKS BSL_METRIC_SRC_CLICKS
#define CAMPAIGNS BSL_METRIC_SRC_CAMPAIGNS

const bsl_metric bsl_metrics[BSL_METRIC_N] = {
    [BSL_METRIC_PAGEVIEWS] = {.name = "pageviews",
                              .id = BSL_METRIC_PAGEVIEWS,
                              .sources = PAGES,
                              .segment_sources = PAGES,
                              AS_COUNT},
    [BSL_METRIC_VISITS] = {.name = "visits",
                           .id = BSL_METRIC_VISITS,
                           .sources = VISITS,
                           .segment_sources = VISITS,
                           AS_COUNT},
    [BSL_METRIC_VISITORS] = {.name = "visitors",
                             .id = BSL_METRIC_VISITORS,
                             .sources = VISITS,
                             .segment_sources = VISITS,
                             AS_COUNT},
    [BSL_METRIC_BOUNCE_RATE] = {.name = "bounce_rate",
                                .id = BSL_METRIC_BOUNCE_RATE,
                                .sources = VISITS,
                                .segment_sources = VISITS,
                                AS_RATE},
    [BSL_METRIC_CONVERSIONS] = {.name = "conversions",
                                .id = BSL_METRIC_CONVERSIONS,
                                .needs_goal = true,
                                .sources = VISITS,
                                .segment_sources = VISITS,
                                AS_COUNT},
    [BSL_METRIC_CONVERSION_RATE] = {.name = "conversion_rate",
                                    .id = BSL_METRIC_CONVERSION_RATE,
                                    .needs_goal = true,
                                    .sources = VISITS,
                                    .segment_sources = VISITS,
                                    AS_RATE},
    [BSL_METRIC_AVG_SCROLL_DEPTH] = {.name = "avg_scroll_depth",
                                     .id = BSL_METRIC_AVG_SCROLL_DEPTH,
                                     .kind = BSL_METRIC_MEAN,
                                     .sources = PAGES,
                                     .segment_sources = PAGES,
                                     .decimals = 1,
                                     .unit = "%",
                                     .change_unit = " pt",
                                     .scale = "in points of 0-100"},
    [BSL_METRIC_SCROLL_RATE] = {.name = "scroll_rate",
                                .id = BSL_METRIC_SCROLL_RATE,
                                .sources = PAGES,
                                .segment_sources = PAGES,
                                AS_RATE},
    /* a day counts when it has pageviews or clicks in the path, or visits
     * in the segment */
    [BSL_METRIC_CLICKS] = {.name = "clicks",
                           .id = BSL_METRIC_CLICKS,
                           .sources = PAGES | CLICKS,
                           .segment_sources = VISITS,
                           AS_COUNT},
    [BSL_METRIC_CLICK_RATE] = {.name = "click_rate",
                               .id = BSL_METRIC_CLICK_RATE,
                               .sources = PAGES | CLICKS,
                               .segment_sources = PAGES | VISITS,
                               AS_RATE},
    [BSL_METRIC_OPEN_RATE] = {.name = "open_rate",
                              .id = BSL_METRIC_OPEN_RATE,
                              .sources = CAMPAIGNS,
                              .segment_sources = CAMPAIGNS,
                              AS_RATE},
    [BSL_METRIC_CAMPAIGN_CLICK_RATE] = {.name = "campaign_click_rate",
                                        .id = BSL_METRIC_CAMPAIGN_CLICK_RATE,
                                        .sources = CAMPAIGNS,
                                        .segment_sources = CAMPAIGNS,
                                        AS_RATE},
    /* spend over the conversions of the days that have campaign data */
    [BSL_METRIC_COST_PER_CONVERSION] = {.name = "cost_per_conversion",
                                        .id = BSL_METRIC_COST_PER_CONVERSION,
                                        .kind = BSL_METRIC_MONEY,
                                        .needs_goal = true,
                                        .sources = VISITS | CAMPAIGNS,
                                        .segment_sources = VISITS | CAMPAIGNS,
                                        .decimals = 2,
                                        .unit = "",
                                        .change_unit = "",
                                        .scale = "an amount"},
};

const bsl_metric *bsl_metric_find(const char *name) {
  for (size_t i = 0; name && i < BSL_METRIC_N; i++)
    if (strcmp(bsl_metrics[i].name, name) == 0)
      return &bsl_metrics[i];
  return NULL;
}

bool bsl_metric_reads_campaigns(const bsl_metric *m) {
  return m && (m->sources & BSL_METRIC_SRC_CAMPAIGNS);
}

/* "-0.0" is a rounded tiny negative (a projection just under zero): 0. */
static void drop_negative_zero(char *num) {
  if (num[0] == '-' && strspn(num + 1, "0.,") == strlen(num + 1))
    memmove(num, num + 1, strlen(num));
}

/* X with DECIMALS digits after the point and thousands separators. */
static void group(double x, int decimals, char *out, size_t cap) {
  char digits[48], buf[72];
  snprintf(digits, sizeof digits, "%.*f", decimals, fabs(x));
  size_t n = strcspn(digits, "."), o = 0;
  if (x < 0)
    buf[o++] = '-';
  for (size_t i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0)
      buf[o++] = ',';
    buf[o++] = digits[i];
  }
  snprintf(buf + o, sizeof buf - o, "%s", digits + n);
  snprintf(out, cap, "%s", buf);
}

/* The number of a value X already on the display scale, without its unit;
 * M NULL: shown like a count. */
static void number(const bsl_metric *m, double x, char *out, size_t cap) {
  int decimals = m ? m->decimals : 2;
  if (fabs(x) >= 1e15) /* beyond any real data; keeps the text short */
    snprintf(out, cap, "%.3g", x);
  else if (!m || m->grouped)
    group(x, fabs(x - rint(x)) < 1e-9 ? 0 : decimals, out, cap);
  else
    snprintf(out, cap, "%.*f", decimals, x);
  drop_negative_zero(out);
}

void bsl_metric_format(const char *metric, double value, char *out,
                       size_t cap) {
  if (!cap)
    return;
  if (!isfinite(value)) {
    snprintf(out, cap, "-");
    return;
  }
  const bsl_metric *m = bsl_metric_find(metric);
  char num[64];
  number(m, m && m->percent ? value * 100 : value, num, sizeof num);
  snprintf(out, cap, "%s%s", num, m ? m->unit : "");
}

/* "+0.0123" with 3 significant digits below 1000, grouped from there;
 * X on the display scale. */
static void signed_sig3(const bsl_metric *m, double x, char *out, size_t cap) {
  char num[64];
  if (fabs(x) < 999.5) /* %.3g would turn to an exponent from there */
    snprintf(num, sizeof num, "%.3g", fabs(x));
  else
    number(m, fabs(x), num, sizeof num);
  /* no sign on a change that rounds to none */
  const char *sign = strspn(num, "0.,") == strlen(num) ? "" : x < 0 ? "-" : "+";
  snprintf(out, cap, "%s%s%s", sign, num, m ? m->change_unit : "");
}

/* The change of METRIC on the display scale into *X, with its entry in
 * *M; false, with OUT "-", when there is nothing to show. */
static bool display_change(const char *metric, double change, char *out,
                           size_t cap, const bsl_metric **m, double *x) {
  if (!cap)
    return false;
  if (!isfinite(change)) {
    snprintf(out, cap, "-");
    return false;
  }
  *m = bsl_metric_find(metric);
  *x = *m && (*m)->percent ? change * 100 : change;
  return true;
}

void bsl_metric_format_change(const char *metric, double change, char *out,
                              size_t cap) {
  const bsl_metric *m;
  double x;
  if (!display_change(metric, change, out, cap, &m, &x))
    return;
  if (!m || strcmp(m->change_unit, " pt") != 0) {
    signed_sig3(m, x, out, cap);
    return;
  }
  /* points: on the value's own precision ("-0.9 pt" beside "4.1%"), and
   * a change too small for it still told from none */
  if (fabs(x) < 0.05 && x != 0)
    snprintf(out, cap, "%c%.1g pt", x < 0 ? '-' : '+', fabs(x));
  else if (fabs(x) < 0.05)
    snprintf(out, cap, "0.0 pt");
  else
    snprintf(out, cap, "%c%.*f pt", x < 0 ? '-' : '+', m->decimals, fabs(x));
}

void bsl_metric_format_trend(const char *metric, double change, char *out,
                             size_t cap) {
  const bsl_metric *m;
  double x;
  if (display_change(metric, change, out, cap, &m, &x))
    signed_sig3(m, x, out, cap);
}

double bsl_metric_clamp(const char *metric, double value) {
  const bsl_metric *m = bsl_metric_find(metric);
  if (!m || isnan(value))
    return value;
  double hi = m->kind == BSL_METRIC_RATE             ? 1
              : m->id == BSL_METRIC_AVG_SCROLL_DEPTH ? 100
                                                     : INFINITY;
  return value < 0 ? 0 : value > hi ? hi : value;
}

void bsl_metric_format_p(double p, char *out, size_t cap) {
  if (!cap)
    return;
  if (!isfinite(p))
    snprintf(out, cap, "-");
  else if (p < 0.001)
    snprintf(out, cap, "p<0.001");
  else if (p < 0.01)
    snprintf(out, cap, "p=%.3f", p);
  else
    snprintf(out, cap, "p=%.2f", p);
}

void bsl_metric_names(bool goal_only, const char *sep, const char *last,
                      char *out, size_t cap) {
  const char *names[BSL_METRIC_N];
  size_t n = 0, o = 0;
  for (size_t i = 0; i < BSL_METRIC_N; i++)
    if (!goal_only || bsl_metrics[i].needs_goal)
      names[n++] = bsl_metrics[i].name;
  if (cap)
    out[0] = '\0';
  for (size_t i = 0; i < n && o < cap; i++) {
    int w = snprintf(out + o, cap - o, "%s%s",
                     i == 0 ? "" : (i + 1 == n ? last : sep), names[i]);
    if (w < 0)
      break;
    o += (size_t)w;
  }
}
