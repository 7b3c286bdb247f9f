/*
 * Unit tests of analyze/kpi.c (the state machine of SPEC §8 on synthetic
 * series, adjustments' grace and effect, time parsing) and analyze/alert.c
 * (JSON escaping, running alert_command with failures and timeouts).  The
 * statistics themselves are checked against references in test_stats.c;
 * here the expected states follow from series built to have them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "kpi.h"

#define MAXN 200

/* 2026-03-02 is a Monday: day number 20514. */
#define MONDAY 20514

static double vals[MAXN];
static int64_t counts[MAXN];

/* Deterministic pseudo-random noise in [-1, 1) (a multiplicative hash). */
static double noise(size_t i) {
  uint32_t h = (uint32_t)(i + 1) * 2654435761u;
  return (double)(h >> 8) / (double)(1u << 23) - 1;
}

static bsl_kpi_series series(size_t n) {
  for (size_t i = 0; i < n; i++)
    counts[i] = 100;
  return (bsl_kpi_series){.period = BSL_PERIOD_DAY,
                          .first_day = MONDAY,
                          .n = n,
                          .value = vals,
                          .count = counts};
}

static bsl_kpi_conf conf(int direction, double target, const char *deadline) {
  bsl_kpi_conf k = {.name = "k",
                    .metric = "conversion_rate",
                    .period = BSL_PERIOD_DAY,
                    .direction = direction,
                    .target = target,
                    .has_target = !isnan(target),
                    .window = 28,
                    .min_change = 0.05};
  if (deadline)
    snprintf(k.deadline, sizeof k.deadline, "%s", deadline);
  return k;
}

static enum bsl_kpi_state assess(const bsl_kpi_conf *k, size_t n,
                                 const size_t *adj, size_t nadj,
                                 bsl_kpi_assessment *a) {
  bsl_kpi_series s = series(n);
  assert_int_equal(bsl_kpi_assess(k, &s, n, adj, nadj, a), 0);
  return a->state;
}

static void test_improving_and_off_track(void **state) {
  (void)state;
  /* 2% rising by 0.1 point a day, with noise of +-0.05 point */
  for (size_t i = 0; i < 60; i++)
    vals[i] = 0.02 + 0.001 * (double)i + 0.0005 * noise(i);
  bsl_kpi_assessment a;
  /* day 59 = 2026-04-30; the line reaches ~0.20 on 2026-08-31 */
  bsl_kpi_conf k = conf(1, 0.15, "2026-08-31");
  assert_int_equal(assess(&k, 60, NULL, 0, &a), BSL_KPI_IMPROVING);
  assert_true(a.p_value < 0.001);
  assert_true(fabs(a.slope - 0.001) < 0.0001);
  assert_false(a.seasonal);
  assert_int_equal(a.observations, 28);
  /* the same line misses 0.15 by 2026-05-31 (it projects ~0.11) */
  k = conf(1, 0.15, "2026-05-31");
  assert_int_equal(assess(&k, 60, NULL, 0, &a), BSL_KPI_OFF_TRACK);
  assert_true(a.projected > 0.10 && a.projected < 0.12);
  /* without a deadline there is nothing to be off track for */
  k = conf(1, 0.15, NULL);
  assert_int_equal(assess(&k, 60, NULL, 0, &a), BSL_KPI_IMPROVING);
  /* a falling KPI whose direction is down improves */
  k = conf(-1, NAN, NULL);
  assert_int_equal(assess(&k, 60, NULL, 0, &a), BSL_KPI_DECLINING);
}

static void test_met_stalled_declining(void **state) {
  (void)state;
  bsl_kpi_assessment a;
  for (size_t i = 0; i < 40; i++)
    vals[i] = 0.041 + 0.002 * noise(i);
  bsl_kpi_conf k = conf(1, 0.05, "2027-03-31");
  assert_int_equal(assess(&k, 40, NULL, 0, &a), BSL_KPI_STALLED);
  assert_true(a.p_value > 0.05);
  assert_true(fabs(a.level - 0.041) < 0.003);
  k = conf(1, 0.04, NULL);
  assert_int_equal(assess(&k, 40, NULL, 0, &a), BSL_KPI_MET);
  k = conf(-1, 0.05, NULL); /* lower is better: 4.1% meets 5% */
  assert_int_equal(assess(&k, 40, NULL, 0, &a), BSL_KPI_MET);
  for (size_t i = 0; i < 40; i++)
    vals[i] = 0.08 - 0.001 * (double)i + 0.0004 * noise(i);
  k = conf(1, 0.1, NULL);
  assert_int_equal(assess(&k, 40, NULL, 0, &a), BSL_KPI_DECLINING);
  assert_true(a.slope < 0);
}

static void test_min_change(void **state) {
  (void)state;
  /* a perfectly monotone but tiny rise: significant, yet slope x window =
   * 28 * 1e-5 = 0.00028 < 5% of ~0.05 = 0.0025 -> stalled */
  for (size_t i = 0; i < 40; i++)
    vals[i] = 0.05 + 0.00001 * (double)i;
  bsl_kpi_assessment a;
  bsl_kpi_conf k = conf(1, 0.1, NULL);
  assert_int_equal(assess(&k, 40, NULL, 0, &a), BSL_KPI_STALLED);
  assert_true(a.p_value < 0.001);
  k.min_change = 0.001; /* 0.1% of the median: now it counts */
  assert_int_equal(assess(&k, 40, NULL, 0, &a), BSL_KPI_IMPROVING);
}

static void test_no_data_and_insufficient(void **state) {
  (void)state;
  bsl_kpi_assessment a;
  bsl_kpi_conf k = conf(1, 0.05, NULL);
  for (size_t i = 0; i < 40; i++)
    vals[i] = 0.04 + 0.001 * noise(i);
  vals[37] = vals[38] = vals[39] = NAN;
  assert_int_equal(assess(&k, 40, NULL, 0, &a), BSL_KPI_NO_DATA);
  assert_true(bsl_kpi_state_flagged(a.state));
  vals[37] = 0.04; /* one observation in the last 3 periods is enough */
  assert_int_equal(assess(&k, 40, NULL, 0, &a), BSL_KPI_STALLED);
  /* missing periods are skipped, not zeros: 6 observations only */
  for (size_t i = 0; i < 40; i++)
    vals[i] = i % 5 == 0 ? 0.04 : NAN;
  assert_int_equal(assess(&k, 26, NULL, 0, &a), BSL_KPI_INSUFFICIENT);
  assert_int_equal(a.observations, 6);
  /* A KPI whose data began fewer than 3 periods ago is insufficient, never
   * no_data: the first days of a deployment raise no "tracking may be
   * broken" alert (SPEC §8). */
  for (size_t i = 0; i < 40; i++)
    vals[i] = NAN;
  assert_int_equal(assess(&k, 0, NULL, 0, &a), BSL_KPI_INSUFFICIENT);
  assert_int_equal(assess(&k, 1, NULL, 0, &a), BSL_KPI_INSUFFICIENT);
  assert_int_equal(assess(&k, 2, NULL, 0, &a), BSL_KPI_INSUFFICIENT);
  assert_false(bsl_kpi_state_flagged(a.state));
  assert_int_equal(assess(&k, 3, NULL, 0, &a), BSL_KPI_NO_DATA);
  vals[0] = 0.04; /* observed on day one, silent since: no_data from day 4 */
  assert_int_equal(assess(&k, 3, NULL, 0, &a), BSL_KPI_INSUFFICIENT);
  assert_int_equal(assess(&k, 4, NULL, 0, &a), BSL_KPI_NO_DATA);
  /* weekly: counted in weeks */
  k.period = BSL_PERIOD_WEEK;
  bsl_kpi_series s = series(2);
  s.period = BSL_PERIOD_WEEK;
  vals[0] = NAN;
  assert_int_equal(bsl_kpi_assess(&k, &s, 2, NULL, 0, &a), 0);
  assert_int_equal(a.state, BSL_KPI_INSUFFICIENT);
}

static void test_weekly_cycle(void **state) {
  (void)state;
  /* flat with weekends at half the weekday level */
  for (size_t i = 0; i < 56; i++)
    vals[i] = (i % 7 >= 5 ? 0.02 : 0.04) + 0.0005 * noise(i);
  bsl_kpi_assessment a;
  bsl_kpi_conf k = conf(1, 0.1, NULL);
  assert_int_equal(assess(&k, 56, NULL, 0, &a), BSL_KPI_STALLED);
  assert_true(a.seasonal);
  /* the same cycle on a rising line: the seasonal test sees the rise */
  for (size_t i = 0; i < 56; i++)
    vals[i] =
        (i % 7 >= 5 ? 0.02 : 0.04) + 0.001 * (double)i + 0.0005 * noise(i);
  assert_int_equal(assess(&k, 56, NULL, 0, &a), BSL_KPI_IMPROVING);
  assert_true(a.seasonal);
  assert_true(fabs(a.slope - 0.001) < 0.0002);
  /* weekly KPIs never use the weekday test */
  bsl_kpi_series s = series(56);
  s.period = BSL_PERIOD_WEEK;
  k.period = BSL_PERIOD_WEEK;
  assert_int_equal(bsl_kpi_assess(&k, &s, 56, NULL, 0, &a), 0);
  assert_false(a.seasonal);
}

static void test_grace_after_adjustment(void **state) {
  (void)state;
  for (size_t i = 0; i < 60; i++)
    vals[i] = 0.041 + 0.002 * noise(i);
  bsl_kpi_conf k = conf(1, 0.05, NULL);
  bsl_kpi_assessment a;
  /* adjusted in period 50: periods 50..63 (window/2 = 14) are in grace */
  size_t adj = 50;
  assert_int_equal(assess(&k, 51, &adj, 1, &a), BSL_KPI_GRACE);
  assert_false(bsl_kpi_state_flagged(a.state));
  assert_int_equal(assess(&k, 60, &adj, 1, &a), BSL_KPI_GRACE);
  adj = 46; /* 46 + 14 = 60: period 59 is the last in grace */
  assert_int_equal(assess(&k, 60, &adj, 1, &a), BSL_KPI_GRACE);
  adj = 45;
  assert_int_equal(assess(&k, 60, &adj, 1, &a), BSL_KPI_STALLED);
  /* grace only replaces stalled: declining stays flagged */
  for (size_t i = 0; i < 60; i++)
    vals[i] = 0.08 - 0.001 * (double)i;
  adj = 55;
  assert_int_equal(assess(&k, 60, &adj, 1, &a), BSL_KPI_DECLINING);
}

static void test_effect(void **state) {
  (void)state;
  for (size_t i = 0; i < 30; i++)
    vals[i] = 0.04 + 0.001 * noise(i);
  for (size_t i = 30; i < 40; i++)
    vals[i] = 0.06 + 0.001 * noise(i);
  bsl_kpi_series s = series(40);
  bsl_kpi_effect e;
  /* adjusted in period 29: periods 30..32 are after it */
  assert_int_equal(bsl_kpi_effect_of(&s, 32, 29, SIZE_MAX, &e), 0);
  assert_int_equal(bsl_kpi_effect_of(&s, 33, 29, SIZE_MAX, &e), 1);
  assert_int_equal(e.n_after, 3);
  assert_int_equal(e.n_before, 3);
  /* 3 above 3, no ties: exact p = 2 / C(6,3) = 0.1 */
  assert_true(fabs(e.p_value - 0.1) < 1e-12);
  assert_int_equal(bsl_kpi_effect_of(&s, 35, 29, SIZE_MAX, &e), 1);
  /* 5 vs 5 separated: exact p = 2 / C(10,5) = 2/252 */
  assert_true(fabs(e.p_value - 2.0 / 252) < 1e-12);
  double before = 0, after = 0;
  for (size_t i = 24; i < 29; i++) /* the adjustment's period is neither */
    before += vals[i] / 5;
  for (size_t i = 30; i < 35; i++)
    after += vals[i] / 5;
  assert_true(fabs(e.mean_before - before) < 1e-12);
  assert_true(fabs(e.effect - (after - before)) < 1e-12);
  /* a later adjustment ends the "after" periods */
  assert_int_equal(bsl_kpi_effect_of(&s, 40, 29, 33, &e), 1);
  assert_int_equal(e.n_after, 3);
}

static void test_parse_time(void **state) {
  (void)state;
  int64_t t;
  assert_int_equal(bsl_kpi_parse_time("2026-03-02", "UTC", &t), 0);
  assert_int_equal(t, (int64_t)MONDAY * 86400);
  assert_int_equal(bsl_kpi_parse_time("2026-03-02T10:30", "UTC", &t), 0);
  assert_int_equal(t, (int64_t)MONDAY * 86400 + 37800);
  assert_int_equal(bsl_kpi_parse_time("2026-03-02T10:30:15Z", "+02:00", &t), 0);
  assert_int_equal(t, (int64_t)MONDAY * 86400 + 37815);
  assert_int_equal(bsl_kpi_parse_time("2026-03-02T10:30:00", "+02:00", &t), 0);
  assert_int_equal(t, (int64_t)MONDAY * 86400 + 37800 - 7200);
  assert_int_equal(bsl_kpi_parse_time("2026-03-02T10:30:00-05:00", "UTC", &t),
                   0);
  assert_int_equal(t, (int64_t)MONDAY * 86400 + 37800 + 18000);
  assert_int_equal(bsl_kpi_parse_time("2026-02-30", "UTC", &t), -1);
  assert_int_equal(bsl_kpi_parse_time("2026-03-02T25:00", "UTC", &t), -1);
  assert_int_equal(bsl_kpi_parse_time("yesterday", "UTC", &t), -1);
}

static void test_alert_json(void **state) {
  (void)state;
  bsl_alert_event ev = {.event = "raised",
                        .kpi = "a\"b\\c",
                        .state = "stalled",
                        .previous_state = NULL,
                        .value = 0.041,
                        .target = NAN,
                        .slope = -0.5,
                        .p_value = 0.43,
                        .since = "2026-03-01",
                        .message = "line1\nline2\t\x01 caf\xc3\xa9 \xff",
                        .alert_id = 7,
                        .at = "2026-03-13T00:00:00Z"};
  char out[1024];
  int len = bsl_alert_json(&ev, out, sizeof out);
  assert_true(len > 0);
  assert_int_equal((size_t)len, strlen(out));
  assert_string_equal(
      out, "{\"kpi\":\"a\\\"b\\\\c\",\"state\":\"stalled\",\"previous_state\":"
           "null,\"value\":0.041,\"target\":null,\"slope\":-0.5,\"p_value\":"
           "0.43,\"since\":\"2026-03-01\",\"message\":\"line1\\nline2\\t"
           "\\u0001 caf\xc3\xa9 \\ufffd\",\"event\":\"raised\",\"alert_id\":7,"
           "\"at\":\"2026-03-13T00:00:00Z\"}");
  assert_int_equal(bsl_alert_json(&ev, out, 20), -1);
}

static void test_alert_run(void **state) {
  (void)state;
  char dir[] = "/tmp/bsl-alert-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char cmd[256], path[128], err[256];
  snprintf(path, sizeof path, "%s/got.json", dir);
  snprintf(cmd, sizeof cmd, "cat > '%s'", path);
  const char json[] = "{\"kpi\":\"x\"}\n";
  assert_int_equal(
      bsl_alert_run(cmd, json, strlen(json), 5000, true, err, sizeof err), 0);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char got[64] = "";
  assert_non_null(fgets(got, sizeof got, f));
  fclose(f);
  assert_string_equal(got, json);
  /* a failing command is reported, not fatal */
  assert_int_equal(
      bsl_alert_run("exit 3", json, strlen(json), 5000, true, err, sizeof err),
      -1);
  assert_non_null(strstr(err, "exited with status 3"));
  /* a command that never reads its input: no SIGPIPE */
  assert_int_equal(
      bsl_alert_run("true", json, strlen(json), 5000, true, err, sizeof err),
      0);
  /* a hanging command is killed at the timeout, with its children */
  time_t t0 = time(NULL);
  assert_int_equal(bsl_alert_run("sleep 30; true", json, strlen(json), 300,
                                 true, err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "timed out after 300 ms"));
  assert_true(time(NULL) - t0 < 5);
  /* detached: returns at once, the command still runs */
  snprintf(path, sizeof path, "%s/detached.json", dir);
  snprintf(cmd, sizeof cmd, "sleep 0.2; cat > '%s'", path);
  t0 = time(NULL);
  assert_int_equal(
      bsl_alert_run(cmd, json, strlen(json), 5000, false, err, sizeof err), 0);
  assert_true(time(NULL) - t0 < 2);
  for (int i = 0; i < 100 && access(path, F_OK) != 0; i++)
    usleep(50000);
  usleep(100000);
  f = fopen(path, "r");
  assert_non_null(f);
  got[0] = '\0';
  assert_non_null(fgets(got, sizeof got, f));
  fclose(f);
  assert_string_equal(got, json);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_improving_and_off_track),
      cmocka_unit_test(test_met_stalled_declining),
      cmocka_unit_test(test_min_change),
      cmocka_unit_test(test_no_data_and_insufficient),
      cmocka_unit_test(test_weekly_cycle),
      cmocka_unit_test(test_grace_after_adjustment),
      cmocka_unit_test(test_effect),
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test(test_alert_json),
      cmocka_unit_test(test_alert_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
