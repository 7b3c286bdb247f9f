/*
 * Unit tests of config/metrics.c, the KPI metric catalogue: every metric of
 * SPEC §8 is in the table with its kind, the goal it needs, the data it
 * reads and how a sample value and a change of it are shown; and the
 * configuration enforces the table's rules (a goal where one is needed and
 * nowhere else, "5%" targets for percentages only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define TMPDIR_PREFIX "/tmp/bsl-metrics.XXXXXX"
#include "tmpdir.h"

#include "config.h"
#include "metrics.h"

#define V BSL_METRIC_SRC_VISITS
#define P BSL_METRIC_SRC_PAGES
#define C BSL_METRIC_SRC_CLICKS
#define K BSL_METRIC_SRC_CAMPAIGNS

/* SPEC §8, written out independently of the table. */
static const struct expect {
  const char *name;
  enum bsl_metric_kind kind;
  bool needs_goal, campaigns;
  unsigned sources, segment_sources;
  double sample;
  const char *shown;
  double change;
  const char *change_shown;
} SPEC[] = {
    {"pageviews", BSL_METRIC_COUNT, false, false, P, P, 1234567, "1,234,567",
     1250, "+1,250"},
    {"visits", BSL_METRIC_COUNT, false, false, V, V, 1200, "1,200", 150,
     "+150"},
    {"visitors", BSL_METRIC_COUNT, false, false, V, V, 1234.5, "1,234.50",
     -12.5, "-12.5"},
    {"bounce_rate", BSL_METRIC_RATE, false, false, V, V, 0.4123, "41.2%",
     -0.0138, "-1.4 pt"},
    {"conversions", BSL_METRIC_COUNT, true, false, V, V, 12.5, "12.50", 0.004,
     "+0.004"},
    {"conversion_rate", BSL_METRIC_RATE, true, false, V, V, 0.0412, "4.1%",
     0.0001, "+0.01 pt"},
    {"avg_scroll_depth", BSL_METRIC_MEAN, false, false, P, P, 52, "52.0%", 2.5,
     "+2.5 pt"},
    {"scroll_rate", BSL_METRIC_RATE, false, false, P, P, 0.05, "5.0%", 0,
     "0.0 pt"},
    {"clicks", BSL_METRIC_COUNT, false, false, P | C, V, 3, "3", -2, "-2"},
    {"click_rate", BSL_METRIC_RATE, false, false, P | C, P | V, 0.125, "12.5%",
     0.02, "+2.0 pt"},
    {"open_rate", BSL_METRIC_RATE, false, true, K, K, 0.2, "20.0%", -0.05,
     "-5.0 pt"},
    {"campaign_click_rate", BSL_METRIC_RATE, false, true, K, K, 0.031, "3.1%",
     0.00123, "+0.1 pt"},
    {"cost_per_conversion", BSL_METRIC_MONEY, true, true, V | K, V | K, 3.75,
     "3.75", 0.5, "+0.5"},
};
#define N_SPEC (sizeof SPEC / sizeof *SPEC)

static void test_every_metric(void **state) {
  (void)state;
  assert_int_equal(N_SPEC, BSL_METRIC_N);
  for (size_t i = 0; i < N_SPEC; i++) {
    const struct expect *e = &SPEC[i];
    const bsl_metric *m = bsl_metric_find(e->name);
    if (!m)
      fail_msg("%s: not in the catalogue", e->name);
    assert_ptr_equal(m, &bsl_metrics[m->id]);
    assert_int_equal(m->id, i); /* the order of SPEC §8 */
    assert_string_equal(m->name, e->name);
    if (m->kind != e->kind || m->needs_goal != e->needs_goal ||
        bsl_metric_reads_campaigns(m) != e->campaigns)
      fail_msg("%s: kind %d goal %d campaigns %d", e->name, m->kind,
               m->needs_goal, bsl_metric_reads_campaigns(m));
    if (m->sources != e->sources || m->segment_sources != e->segment_sources)
      fail_msg("%s: sources %#x/%#x, want %#x/%#x", e->name, m->sources,
               m->segment_sources, e->sources, e->segment_sources);
    /* a rate, and only a rate, is a fraction shown in percent */
    assert_int_equal(m->percent, m->kind == BSL_METRIC_RATE);
    assert_non_null(m->unit);
    assert_non_null(m->change_unit);
    assert_non_null(m->scale);
    char b[64];
    bsl_metric_format(e->name, e->sample, b, sizeof b);
    if (strcmp(b, e->shown) != 0)
      fail_msg("%s: %g shown \"%s\", want \"%s\"", e->name, e->sample, b,
               e->shown);
    bsl_metric_format_change(e->name, e->change, b, sizeof b);
    if (strcmp(b, e->change_shown) != 0)
      fail_msg("%s: change %g shown \"%s\", want \"%s\"", e->name, e->change, b,
               e->change_shown);
    bsl_metric_format(e->name, NAN, b, sizeof b);
    assert_string_equal(b, "-");
    bsl_metric_format(e->name, INFINITY, b, sizeof b);
    assert_string_equal(b, "-");
    bsl_metric_format_change(e->name, NAN, b, sizeof b);
    assert_string_equal(b, "-");
  }
  assert_null(bsl_metric_find("revenue"));
  assert_null(bsl_metric_find(NULL));
  assert_null(bsl_metric_find("Visits"));
}

static void test_format_edges(void **state) {
  (void)state;
  char b[64];
  /* a projection just under zero is 0, not "-0.0" */
  bsl_metric_format("conversion_rate", -0.00001, b, sizeof b);
  assert_string_equal(b, "0.0%");
  bsl_metric_format("visits", -0.001, b, sizeof b);
  assert_string_equal(b, "0.00");
  bsl_metric_format("visits", -1234.5, b, sizeof b);
  assert_string_equal(b, "-1,234.50");
  bsl_metric_format("cost_per_conversion", 1234.5, b, sizeof b);
  assert_string_equal(b, "1234.50");
  bsl_metric_format("visits", 1e300, b, sizeof b);
  assert_string_equal(b, "1e+300");
  /* a name from another configuration: like a count */
  bsl_metric_format("revenue", 1200, b, sizeof b);
  assert_string_equal(b, "1,200");
  bsl_metric_format(NULL, 0.5, b, sizeof b);
  assert_string_equal(b, "0.50");
  bsl_metric_format_change("revenue", 12, b, sizeof b);
  assert_string_equal(b, "+12");
  /* large changes keep their separators instead of an exponent */
  bsl_metric_format_change("visits", -999.7, b, sizeof b);
  assert_string_equal(b, "-999.70");
  bsl_metric_format_change("visits", 1e6, b, sizeof b);
  assert_string_equal(b, "+1,000,000");
  /* always terminated, cut to the buffer */
  bsl_metric_format("visits", 1234567, b, 4);
  assert_string_equal(b, "1,2");
  b[0] = 'x';
  bsl_metric_format("visits", 1, b, 0);
  assert_int_equal(b[0], 'x');
}

/* Issue 16: a change of a percentage is in points, on the value's
 * precision; a trend keeps its digits; projections stay possible. */
static void test_points_trend_clamp_p(void **state) {
  (void)state;
  char b[64];
  /* an adjustment's effect on a rate: points, never "%" */
  bsl_metric_format_change("conversion_rate", -0.00924, b, sizeof b);
  assert_string_equal(b, "-0.9 pt");
  bsl_metric_format_change("bounce_rate", 0.021, b, sizeof b);
  assert_string_equal(b, "+2.1 pt");
  bsl_metric_format_change("bounce_rate", -0.0002, b, sizeof b);
  assert_string_equal(b, "-0.02 pt");
  for (size_t i = 0; i < BSL_METRIC_N; i++) {
    bsl_metric_format_change(bsl_metrics[i].name, -0.00924, b, sizeof b);
    if (strchr(b, '%'))
      fail_msg("%s: change shown \"%s\"", bsl_metrics[i].name, b);
    bsl_metric_format_trend(bsl_metrics[i].name, -0.000311, b, sizeof b);
    if (strchr(b, '%'))
      fail_msg("%s: trend shown \"%s\"", bsl_metrics[i].name, b);
  }
  /* a slope per day keeps 3 significant digits */
  bsl_metric_format_trend("conversion_rate", -0.000311, b, sizeof b);
  assert_string_equal(b, "-0.0311 pt");
  bsl_metric_format_trend("visits", 12.345, b, sizeof b);
  assert_string_equal(b, "+12.3");
  bsl_metric_format_trend("visits", NAN, b, sizeof b);
  assert_string_equal(b, "-");
  /* projections: a rate within 0-100%, a count at 0 */
  assert_true(bsl_metric_clamp("conversion_rate", -0.0186) == 0);
  assert_true(bsl_metric_clamp("bounce_rate", 1.7) == 1);
  assert_true(bsl_metric_clamp("conversion_rate", 0.506) == 0.506);
  assert_true(bsl_metric_clamp("avg_scroll_depth", 140) == 100);
  assert_true(bsl_metric_clamp("visits", -12) == 0);
  assert_true(bsl_metric_clamp("visits", 1e6) == 1e6);
  assert_true(bsl_metric_clamp("cost_per_conversion", -3) == 0);
  assert_true(isnan(bsl_metric_clamp("visits", NAN)));
  assert_true(bsl_metric_clamp("revenue", -3) == -3);
  /* p-values */
  bsl_metric_format_p(0.52, b, sizeof b);
  assert_string_equal(b, "p=0.52");
  bsl_metric_format_p(0.0123, b, sizeof b);
  assert_string_equal(b, "p=0.01");
  bsl_metric_format_p(0.0042, b, sizeof b);
  assert_string_equal(b, "p=0.004");
  bsl_metric_format_p(0.0, b, sizeof b);
  assert_string_equal(b, "p<0.001");
  bsl_metric_format_p(0.0004, b, sizeof b);
  assert_string_equal(b, "p<0.001");
  bsl_metric_format_p(NAN, b, sizeof b);
  assert_string_equal(b, "-");
}

static void test_names(void **state) {
  (void)state;
  char b[512];
  bsl_metric_names(false, " ", " ", b, sizeof b);
  assert_string_equal(b, "pageviews visits visitors bounce_rate conversions "
                         "conversion_rate avg_scroll_depth scroll_rate clicks "
                         "click_rate open_rate campaign_click_rate "
                         "cost_per_conversion");
  bsl_metric_names(true, ", ", " and ", b, sizeof b);
  assert_string_equal(b, "conversions, conversion_rate and "
                         "cost_per_conversion");
  bsl_metric_names(true, ", ", " and ", b, 8);
  assert_string_equal(b, "convers");
}

/* Loads a config of TEXT; returns 0 or the load's error in ERR. */
static int load(const char *text, char *err, size_t errlen) {
  const char *path = plain_file(text, strlen(text));
  bsl_config *cfg = NULL;
  int rc = bsl_config_load(&cfg, path, err, errlen);
  bsl_config_destroy(cfg);
  return rc;
}

static void test_config_follows_the_table(void **state) {
  (void)state;
  for (size_t i = 0; i < BSL_METRIC_N; i++) {
    const bsl_metric *m = &bsl_metrics[i];
    char text[512], err[2048];
    /* without a goal: refused exactly when the metric needs one */
    snprintf(text, sizeof text, "[kpi k]\nmetric = %s\n", m->name);
    int rc = load(text, err, sizeof err);
    if ((rc != 0) != m->needs_goal)
      fail_msg("%s without a goal: rc %d (%s)", m->name, rc, err);
    if (rc != 0 && !strstr(err, "goal: missing (required by metric"))
      fail_msg("%s: %s", m->name, err);
    /* with a goal: refused exactly when the metric takes none */
    snprintf(text, sizeof text,
             "[goal g]\npath = ^/ok\n[kpi k]\nmetric = %s\ngoal = g\n",
             m->name);
    rc = load(text, err, sizeof err);
    if ((rc != 0) == m->needs_goal)
      fail_msg("%s with a goal: rc %d (%s)", m->name, rc, err);
    if (rc != 0 && !strstr(err, "only conversions, conversion_rate and "
                                "cost_per_conversion take a goal"))
      fail_msg("%s: %s", m->name, err);
    /* a percentage target: for percentages only; a rate is at most 1 */
    snprintf(text, sizeof text,
             "[goal g]\npath = ^/ok\n[kpi k]\nmetric = %s\n%starget = 5%%\n",
             m->name, m->needs_goal ? "goal = g\n" : "");
    rc = load(text, err, sizeof err);
    if ((rc == 0) != m->percent)
      fail_msg("%s target = 5%%: rc %d (%s)", m->name, rc, err);
    if (rc != 0 && !strstr(err, m->scale))
      fail_msg("%s: %s", m->name, err);
    snprintf(text, sizeof text,
             "[goal g]\npath = ^/ok\n[kpi k]\nmetric = %s\n%starget = 40\n",
             m->name, m->needs_goal ? "goal = g\n" : "");
    rc = load(text, err, sizeof err);
    if ((rc != 0) != m->percent)
      fail_msg("%s target = 40: rc %d (%s)", m->name, rc, err);
  }
  char err[2048];
  assert_int_not_equal(load("[kpi k]\nmetric = revenue\n", err, sizeof err), 0);
  assert_non_null(strstr(err, "unknown metric \"revenue\" (pageviews visits "
                              "visitors bounce_rate conversions "
                              "conversion_rate avg_scroll_depth scroll_rate "
                              "clicks click_rate open_rate "
                              "campaign_click_rate cost_per_conversion)"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_metric),
      cmocka_unit_test(test_format_edges),
      cmocka_unit_test(test_points_trend_clamp_p),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_config_follows_the_table),
  };
  return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
