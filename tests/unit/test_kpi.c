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
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "alert.h"
#include "config.h"
#include "kpi.h"
#include "metrics.h"
#include "store.h"

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

/* Issue 16: a straight line carries a rate anywhere; the projection stays
 * within what the metric can be. */
static void test_projection_clamped(void **state) {
  (void)state;
  /* 6% falling by 0.06 point a day: the line crosses 0 long before the
   * deadline, a year away */
  for (size_t i = 0; i < 60; i++)
    vals[i] = 0.06 - 0.0006 * (double)i + 0.0001 * noise(i);
  bsl_kpi_conf k = conf(1, 0.08, "2027-03-31");
  bsl_kpi_assessment a;
  assert_int_equal(assess(&k, 60, NULL, 0, &a), BSL_KPI_DECLINING);
  assert_true(a.projected == 0);
  assert_true(a.intercept + a.slope * 400 < 0); /* what the line said */
  /* a rate rising to more than 100% */
  for (size_t i = 0; i < 60; i++)
    vals[i] = 0.30 + 0.01 * (double)i + 0.001 * noise(i);
  k = conf(1, 0.99, "2027-03-31");
  assert_int_equal(assess(&k, 60, NULL, 0, &a), BSL_KPI_IMPROVING);
  assert_true(a.projected == 1);
  /* a count does not go below zero */
  for (size_t i = 0; i < 60; i++)
    vals[i] = 600 - 10 * (double)i + noise(i);
  k = conf(1, 1000, "2027-03-31");
  k.metric = "visits";
  assert_int_equal(assess(&k, 60, NULL, 0, &a), BSL_KPI_DECLINING);
  assert_true(a.projected == 0);
}

static void test_effect_verdict(void **state) {
  (void)state;
  char b[192];
  bsl_kpi_effect_verdict("conversion_rate", 1, NAN, NAN, b, sizeof b);
  assert_string_equal(b, "not measured yet (3 periods after it are needed)");
  bsl_kpi_effect_verdict("conversion_rate", 1, -0.00924, 0.41, b, sizeof b);
  assert_string_equal(b, "no measurable effect yet (-0.9 pt, p=0.41: could be "
                         "chance)");
  bsl_kpi_effect_verdict("conversion_rate", 1, 0.021, 0.0123, b, sizeof b);
  assert_string_equal(b, "+2.1 pt, significant (p=0.01): an improvement");
  bsl_kpi_effect_verdict("bounce_rate", -1, 0.021, 0.0001, b, sizeof b);
  assert_string_equal(b, "+2.1 pt, significant (p<0.001): a setback");
  bsl_kpi_effect_verdict("visits", 0, 150, 0.002, b, sizeof b);
  assert_string_equal(b, "+150, significant (p=0.002)");
}

/* The message of every state: says what it means without repeating the
 * name, in points and plain p-values; every flagged state has a next
 * step. */
static void test_messages(void **state) {
  (void)state;
  bsl_kpi_conf k = conf(1, 0.08, "2026-12-31");
  k.name = "email-signup-rate";
  k.filter_key = "channel";
  k.filter_value = "email";
  for (int st = BSL_KPI_NO_DATA; st <= BSL_KPI_GRACE; st++) {
    for (int adjusted = 0; adjusted < 2; adjusted++) {
      bsl_kpi_result r = {.state = (enum bsl_kpi_state)st,
                          .target = 0.08,
                          .periods_in_state = 12,
                          .n_periods = 40,
                          .a = {.level = 0.041,
                                .slope = -0.000311,
                                .intercept = 0.05,
                                .p_value = 0.0,
                                .s = -40,
                                .observations = 28,
                                .projected = -0.0186,
                                .needed = 0.0004}};
      snprintf(r.name, sizeof r.name, "%s", k.name);
      snprintf(r.since, sizeof r.since, "2026-02-01");
      if (adjusted) {
        r.adjusted = true;
        r.n_adjustments = 2;
        snprintf(r.adjusted_at, sizeof r.adjusted_at, "2026-02-14T09:00:00Z");
        snprintf(r.note, sizeof r.note, "new landing page");
        r.has_effect = true;
        r.effect = (bsl_kpi_effect){.effect = -0.00924, .p_value = 0.41};
      }
      r.a.projected = bsl_metric_clamp(k.metric, r.a.projected);
      bsl_kpi_describe(NULL, &k, &r);
      const char *m = r.message;
      if (strncmp(m, "email-signup-rate ", 18) != 0 ||
          strstr(m + 1, "email-signup-rate has") ||
          strstr(m, "email-signup-rate: email-signup-rate"))
        fail_msg("state %d: the name once, first: %s", st, m);
      if (strstr(m, "p=0.000") || strstr(m, "%/day") || strstr(m, "-0.0%") ||
          strstr(m, "-1.9%"))
        fail_msg("state %d: %s", st, m);
      /* a change is never written in "%" after a sign */
      for (const char *c = m; (c = strpbrk(c, "+-")); c++) {
        size_t d = strspn(c + 1, "0123456789.");
        if (d && c[1 + d] == '%')
          fail_msg("state %d: a change in %%: %s", st, m);
      }
      if (bsl_kpi_state_flagged((enum bsl_kpi_state)st) &&
          !strstr(m, "Next step: "))
        fail_msg("state %d: no next step: %s", st, m);
      if (st == BSL_KPI_STALLED) {
        if (adjusted && !strstr(m, "Tried so far: 2 recorded changes, the "
                                   "last on 2026-02-14 (\"new landing "
                                   "page\"): no measurable effect yet (-0.9 "
                                   "pt, p=0.41"))
          fail_msg("stalled, adjusted: %s", m);
        if (!adjusted && !strstr(m, "boussole adjust email-signup-rate "
                                    "--note TEXT"))
          fail_msg("stalled: %s", m);
      }
      if (st == BSL_KPI_DECLINING &&
          !strstr(m, "boussole diagnose --from 2026-02-01"))
        fail_msg("declining: %s", m);
      if (st == BSL_KPI_NO_DATA && !strstr(m, "channel=email"))
        fail_msg("no_data: %s", m);
      if (st == BSL_KPI_OFF_TRACK &&
          !strstr(m, "0.0% by 2026-12-31, short of the target 8.0%"))
        fail_msg("off_track: %s", m);
    }
  }
  /* stalled, but the line through the window would reach the target */
  bsl_kpi_result r = {.state = BSL_KPI_STALLED,
                      .target = 0.08,
                      .periods_in_state = 5,
                      .a = {.level = 0.05,
                            .slope = 0.0002,
                            .p_value = 0.52,
                            .s = 20,
                            .projected = 0.1}};
  snprintf(r.name, sizeof r.name, "k");
  bsl_kpi_describe(NULL, &k, &r);
  if (!strstr(r.message, "would reach 10.0% by 2026-12-31, but the trend is "
                         "not significant, so that projection is not to be "
                         "relied on") ||
      !strstr(r.message, "p=0.52"))
    fail_msg("stalled above target: %s", r.message);
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

/* Runs bsl_alert_run() with stderr sent to a file; returns its result and
 * leaves what was logged in LOG (malloc'd). */
static int run_logged(const char *cmd, int timeout_ms, char *err, size_t errlen,
                      char **log) {
  char path[] = "/tmp/bsl-alert-log-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  const char json[] = "{\"kpi\":\"x\"}\n";
  int rc = bsl_alert_run(cmd, json, strlen(json), timeout_ms, "alert 7 raised",
                         err, errlen);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  off_t size = lseek(fd, 0, SEEK_END);
  *log = calloc(1, (size_t)size + 1);
  assert_non_null(*log);
  assert_int_equal(pread(fd, *log, (size_t)size, 0), size);
  close(fd);
  unlink(path);
  return rc;
}

static int count_lines(const char *s, const char *prefix) {
  int n = 0;
  for (const char *l = s; *l;) {
    if (strncmp(l, prefix, strlen(prefix)) == 0)
      n++;
    const char *nl = strchr(l, '\n');
    if (!nl)
      break;
    l = nl + 1;
  }
  return n;
}

static void test_alert_run(void **state) {
  (void)state;
  char dir[] = "/tmp/bsl-alert-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char cmd[256], path[128], err[512];
  snprintf(path, sizeof path, "%s/got.json", dir);
  snprintf(cmd, sizeof cmd, "cat > '%s'", path);
  const char json[] = "{\"kpi\":\"x\"}\n";
  assert_int_equal(
      bsl_alert_run(cmd, json, strlen(json), 5000, "a", err, sizeof err), 0);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char got[64] = "";
  assert_non_null(fgets(got, sizeof got, f));
  fclose(f);
  assert_string_equal(got, json);
  /* a failing command is reported with its last line of output */
  assert_int_equal(bsl_alert_run("echo no route >&2; exit 3", json,
                                 strlen(json), 5000, "a", err, sizeof err),
                   -1);
  assert_string_equal(err, "exited with status 3: no route");
  /* a command that never reads its input: no SIGPIPE */
  assert_int_equal(
      bsl_alert_run("true", json, strlen(json), 5000, "a", err, sizeof err), 0);
  /* a hanging command is killed at the timeout, with its children */
  time_t t0 = time(NULL);
  assert_int_equal(bsl_alert_run("sleep 30; true", json, strlen(json), 300, "a",
                                 err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "timed out after 300 ms"));
  assert_true(time(NULL) - t0 < 5);
  /* detached: returns at once, the command still runs, the outcome comes
   * through the handle */
  snprintf(path, sizeof path, "%s/detached.json", dir);
  snprintf(cmd, sizeof cmd, "sleep 0.2; cat > '%s'; exit 4", path);
  int64_t t1 = (int64_t)time(NULL);
  int h;
  assert_int_equal(
      bsl_alert_start(cmd, json, strlen(json), 5000, "a", &h, err, sizeof err),
      0);
  assert_true(time(NULL) - t1 < 2);
  bool done = true;
  assert_int_equal(bsl_alert_poll(h, &done, err, sizeof err), 0);
  assert_false(done);
  int rc = 0;
  for (int i = 0; i < 200 && !done; i++) {
    usleep(20000);
    rc = bsl_alert_poll(h, &done, err, sizeof err);
  }
  assert_true(done);
  assert_int_equal(rc, -1);
  assert_string_equal(err, "exited with status 4");
  f = fopen(path, "r");
  assert_non_null(f);
  got[0] = '\0';
  assert_non_null(fgets(got, sizeof got, f));
  fclose(f);
  assert_string_equal(got, json);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* The command's output goes to the log prefixed, escaped, capped. */
static void test_alert_output(void **state) {
  (void)state;
  char err[512], *log;
  assert_int_equal(
      run_logged("printf 'one\\ntwo \\033[2J\\tx\\r\\n\\342\\200\\256rtl "
                 "caf\\303\\251 "
                 "\\377\\n'; printf 'level=error msg=forged\\n' >&2",
                 5000, err, sizeof err, &log),
      0);
  assert_string_equal(log,
                      "boussole: alert 7 raised: alert_command output: one\n"
                      "boussole: alert 7 raised: alert_command output: two "
                      "\\x1b[2J\\tx\\r\n"
                      "boussole: alert 7 raised: alert_command output: "
                      "\\u202ertl caf\xc3\xa9 \\xff\n"
                      "boussole: alert 7 raised: alert_command output: "
                      "level=error msg=forged\n");
  free(log);
  /* 30 MB: 64 KiB logged, in lines under PIPE_BUF, the rest counted */
  assert_int_equal(run_logged("head -c 30000000 /dev/zero | tr '\\0' x; echo; "
                              "echo the end; exit 1",
                              10000, err, sizeof err, &log),
                   -1);
  assert_string_equal(err, "exited with status 1: the end");
  size_t len = strlen(log);
  assert_true(len > 64 * 1024 && len < 80 * 1024);
  int lines = count_lines(log, "boussole: alert 7 raised: ");
  int all = 0;
  for (const char *c = log; *c; c++)
    all += *c == '\n';
  assert_int_equal(lines, all);
  for (const char *l = log; *l;) {
    const char *nl = strchr(l, '\n');
    assert_true(nl - l < 4096);
    l = nl + 1;
  }
  assert_non_null(strstr(log, ": 29934471 more bytes of output not logged "
                              "(64 KiB logged)\n"));
  free(log);
}

/* Nothing the command started outlives it: background jobs, and children
 * that left its process group and session with setsid. */
static void test_alert_leftovers(void **state) {
  (void)state;
  char cmd[512], err[512], *log;
  unsigned tag = (unsigned)getpid() % 100000;
  snprintf(cmd, sizeof cmd,
           "setsid sleep 8%05u1 & setsid sh -c 'sleep 8%05u2 & exec sleep "
           "8%05u3' & sleep 8%05u4 & echo started",
           tag, tag, tag, tag);
  time_t t0 = time(NULL);
  assert_int_equal(run_logged(cmd, 5000, err, sizeof err, &log), 0);
  assert_true(time(NULL) - t0 < 4);
  free(log);
  char probe[128];
  snprintf(probe, sizeof probe, "pgrep -f 'sleep 8%05u[1-4]' > /dev/null", tag);
  int found = system(probe);
  if (found == 0) { /* leave nothing behind, then fail */
    snprintf(probe, sizeof probe, "pkill -9 -f 'sleep 8%05u[1-4]'", tag);
    assert_int_equal(system(probe), 0);
  }
  assert_int_not_equal(found, 0);
  /* the same once the timeout kills the command */
  snprintf(cmd, sizeof cmd, "setsid sleep 8%05u5 & sleep 30", tag);
  assert_int_equal(run_logged(cmd, 300, err, sizeof err, &log), -1);
  free(log);
  snprintf(probe, sizeof probe, "pgrep -f 'sleep 8%05u[5]' > /dev/null", tag);
  assert_int_not_equal(system(probe), 0);
}

/* ---- deliveries with back-off, as `run` makes them (detached) ---- */

static char ddir[64];

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* "status|attempts|last_error" of the raise of KPI's latest alert (sqlite3
 * on the side, as an analyst would read the view). */
static void delivery_of(const char *db, const char *kpi, char *out,
                        size_t cap) {
  sqlite3 *h;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(
      sqlite3_prepare_v2(h,
                         "SELECT delivery || '|' || delivery_attempts || '|' "
                         "|| COALESCE(last_error, '') FROM alerts WHERE kpi "
                         "= ?1 ORDER BY alert_id DESC LIMIT 1",
                         -1, &st, NULL),
      SQLITE_OK);
  sqlite3_bind_text(st, 1, kpi, -1, SQLITE_STATIC);
  out[0] = '\0';
  if (sqlite3_step(st) == SQLITE_ROW)
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
}

/* Calls bsl_kpi_deliver at clock NOW until the raises of both KPIs read
 * WANT (the detached supervisors report asynchronously). */
static void deliver_until(const bsl_config *cfg, bsl_store *st, const char *db,
                          int64_t now, const char *want) {
  char got[256] = "", other[256] = "", err[512];
  bsl_kpi_deliver_options o = {.now = now};
  for (int i = 0; i < 300; i++) {
    assert_int_equal(bsl_kpi_deliver(cfg, st, &o, NULL, err, sizeof err), 0);
    delivery_of(db, "quiet", got, sizeof got);
    delivery_of(db, "never", other, sizeof other);
    if (strcmp(got, want) == 0 && strcmp(other, want) == 0)
      return;
    usleep(20000);
  }
  fail_msg("deliveries: expected \"%s\", got \"%s\" and \"%s\"", want, got,
           other);
}

static void test_deliver_backoff(void **state) {
  (void)state;
  snprintf(ddir, sizeof ddir, "/tmp/bsl-deliver-XXXXXX");
  assert_non_null(mkdtemp(ddir));
  char db[128], conf[128], script[128], flag[128], text[1024], err[512];
  snprintf(db, sizeof db, "%s/k.db", ddir);
  snprintf(conf, sizeof conf, "%s/k.conf", ddir);
  snprintf(script, sizeof script, "%s/notify.sh", ddir);
  snprintf(flag, sizeof flag, "%s/up", ddir);
  snprintf(text, sizeof text,
           "#!/bin/sh\ncat > /dev/null\n[ -e %s ] || { echo down; exit 1; "
           "}\n",
           flag);
  write_text(script, text);
  assert_int_equal(chmod(script, 0755), 0);
  snprintf(text, sizeof text,
           "[boussole]\ndb = %s\nalert_command = %s\n"
           "[kpi \"quiet\"]\nmetric = visits\nfilter = channel=email\n"
           "[kpi \"never\"]\nmetric = pageviews\nfilter = path=/nowhere\n",
           db, script);
  write_text(conf, text);
  bsl_config *cfg;
  assert_int_equal(bsl_config_load(&cfg, conf, err, sizeof err), 0);
  bsl_store *st;
  assert_int_equal(bsl_store_open(&st, db, err, sizeof err), 0);
  /* hits on the 5 days before today: both segments silent, so no_data */
  int64_t now = (int64_t)time(NULL);
  assert_int_equal(bsl_store_begin(st), 0);
  for (int ago = 5; ago >= 1; ago--) {
    time_t t = (time_t)(now - ago * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    assert_int_equal(bsl_store_add_hits(st, day, "", 200, 10, 0), 0);
  }
  assert_int_equal(bsl_store_commit(st), 0);

  bsl_kpi_result *res;
  size_t n;
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int null = open("/dev/null", O_WRONLY);
  dup2(null, STDERR_FILENO); /* the failures are logged: not here */
  assert_int_equal(
      bsl_kpi_evaluate(cfg, st, now, true, &res, &n, err, sizeof err), 0);
  assert_int_equal(res[0].state, BSL_KPI_NO_DATA);
  assert_string_equal(res[0].event, "raised");
  bsl_kpi_results_free(res, n);
  /* the detached attempt fails and is recorded */
  deliver_until(cfg, st, db, now, "pending|1|exited with status 1: down");
  /* not retried before its back-off */
  size_t sent = 9;
  bsl_kpi_deliver_options o = {.now = now + BSL_KPI_RETRY_FIRST - 1};
  assert_int_equal(bsl_kpi_deliver(cfg, st, &o, &sent, err, sizeof err), 0);
  assert_int_equal(sent, 0);
  /* retried once it has passed, and delivered */
  write_text(flag, "");
  o.now = now + BSL_KPI_RETRY_FIRST;
  assert_int_equal(bsl_kpi_deliver(cfg, st, &o, &sent, err, sizeof err), 0);
  assert_int_equal(sent, 2);
  deliver_until(cfg, st, db, o.now, "delivered|2|");
  /* a delivered alert is never sent again */
  o.now += 7 * 86400;
  assert_int_equal(bsl_kpi_deliver(cfg, st, &o, &sent, err, sizeof err), 0);
  assert_int_equal(sent, 0);

  /* always failing: doubling delays, given up after the last attempt */
  unlink(flag);
  assert_int_equal(bsl_store_begin(st), 0);
  bsl_store_rollback(st);
  bsl_kpi_eval_options eo = {.now = now, .reset = true, .fire_alerts = true};
  assert_int_equal(bsl_kpi_evaluate_ex(cfg, st, &eo, &res, &n, err, sizeof err),
                   0);
  bsl_kpi_results_free(res, n);
  int64_t t = now;
  char want[64];
  for (int a = 1; a <= BSL_KPI_DELIVERY_ATTEMPTS; a++) {
    snprintf(want, sizeof want, "%s|%d|exited with status 1: down",
             a < BSL_KPI_DELIVERY_ATTEMPTS ? "pending" : "failed", a);
    deliver_until(cfg, st, db, t, want);
    int64_t delay = BSL_KPI_RETRY_FIRST << (a - 1);
    if (delay > BSL_KPI_RETRY_MAX)
      delay = BSL_KPI_RETRY_MAX;
    o.now = t + delay - 1; /* not a second early */
    assert_int_equal(bsl_kpi_deliver(cfg, st, &o, &sent, err, sizeof err), 0);
    assert_int_equal(sent, 0);
    t += delay;
  }
  o.now = t + 30 * 86400;
  assert_int_equal(bsl_kpi_deliver(cfg, st, &o, &sent, err, sizeof err), 0);
  assert_int_equal(sent, 0);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(null);

  bsl_store_close(st);
  bsl_config_destroy(cfg);
  snprintf(text, sizeof text, "rm -rf '%s'", ddir);
  assert_int_equal(system(text), 0);
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
      cmocka_unit_test(test_projection_clamped),
      cmocka_unit_test(test_effect_verdict),
      cmocka_unit_test(test_messages),
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test(test_alert_json),
      cmocka_unit_test(test_alert_run),
      cmocka_unit_test(test_alert_output),
      cmocka_unit_test(test_alert_leftovers),
      cmocka_unit_test(test_deliver_backoff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
