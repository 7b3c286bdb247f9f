/*
 * Unit tests of the report helpers: escaping of hostile log text for HTML,
 * JSON and the terminal, sparklines, number and date formatting, and a
 * report gathered from a small database (sections present or omitted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* gcc 12 at -O3 takes the buffer open_memstream() fills for a pointer to
 * the local that holds it (-Wdangling-pointer false positive). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "report.h"
#include "store.h"

/* Runs WRITE into a memory stream; the caller frees the text. */
static char *html_of(const char *s, size_t max) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  bsl_html_text(f, s, max);
  fclose(f);
  return buf;
}

static char *json_of(const char *s) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  bsl_json_string(f, s);
  fclose(f);
  return buf;
}

static void test_html_escapes_markup(void **state) {
  (void)state;
  char *h = html_of("<script>alert(1)</script>", 0);
  assert_string_equal(h, "&lt;script&gt;alert(1)&lt;/script&gt;");
  free(h);
  h = html_of("\"><img src=x onerror=alert(1)>", 0);
  assert_string_equal(h, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
  free(h);
  h = html_of("a&b 'c'", 0);
  assert_string_equal(h, "a&amp;b &#39;c&#39;");
  free(h);
}

static void test_html_controls_and_bad_utf8(void **state) {
  (void)state;
  char *h = html_of("\x1b[31mred\x7f", 0);
  assert_string_equal(h, "\\x1b[31mred\\x7f");
  assert_null(strchr(h, 0x1b));
  free(h);
  /* invalid, overlong and surrogate sequences; a C1 control; RLO */
  h = html_of("a\xff"
              "b\xc0\xaf"
              "c\xed\xa0\x80"
              "d\xc2\x9b"
              "e\xe2\x80\xae",
              0);
  assert_string_equal(h, "a\xef\xbf\xbd"
                         "b\xef\xbf\xbd\xef\xbf\xbd"
                         "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                         "d\xef\xbf\xbd"
                         "e\xef\xbf\xbd");
  free(h);
  /* valid multibyte text passes; truncation counts characters */
  h = html_of("caf\xc3\xa9 \xe2\x86\x92 ok", 0);
  assert_string_equal(h, "caf\xc3\xa9 \xe2\x86\x92 ok");
  free(h);
  h = html_of("<<<<<<", 4);
  assert_string_equal(h, "&lt;&lt;&lt;\xe2\x80\xa6");
  free(h);
  /* a truncated sequence at the end of the string */
  h = html_of("x\xe2\x86", 0);
  assert_string_equal(h, "x\xef\xbf\xbd\xef\xbf\xbd");
  free(h);
}

static void test_json_string(void **state) {
  (void)state;
  char *j = json_of("say \"hi\"\\\n\t<script>&\x1b\x01");
  assert_string_equal(j, "\"say \\\"hi\\\"\\\\\\n\\t\\u003cscript\\u003e"
                         "\\u0026\\u001b\\u0001\"");
  free(j);
  j = json_of("\xff\xc3\xa9");
  assert_string_equal(j, "\"\xef\xbf\xbd\xc3\xa9\"");
  free(j);
  /* C1 CSI and a right-to-left override are escaped, never raw */
  j = json_of("a\xc2\x9b"
              "2J\xe2\x80\xae"
              "b\xe2\x81\xa9");
  assert_string_equal(j, "\"a\\u009b2J\\u202eb\\u2069\"");
  free(j);
  j = json_of(NULL);
  assert_string_equal(j, "null");
  free(j);
}

static void test_term_text(void **state) {
  (void)state;
  char out[64];
  size_t w = bsl_term_text("\x1b[31mred\x1b[0m", 40, out, sizeof out);
  assert_string_equal(out, "\\x1b[31mred\\x1b[0m");
  assert_int_equal(w, 18);
  assert_null(strchr(out, 0x1b));
  w = bsl_term_text("/a-very-long-path/of/pages", 10, out, sizeof out);
  assert_string_equal(out, "/a-very-l\xe2\x80\xa6");
  assert_int_equal(w, 10);
  /* a control is never cut in half */
  w = bsl_term_text("ab\x1b"
                    "cdef",
                    5, out, sizeof out);
  assert_string_equal(out, "ab\xe2\x80\xa6");
  assert_int_equal(w, 3);
  /* the buffer bounds the copy */
  char small[8];
  bsl_term_text("abcdefghijkl", 40, small, sizeof small);
  assert_true(strlen(small) < sizeof small);
  w = bsl_term_text(NULL, 10, out, sizeof out);
  assert_int_equal(w, 0);
  assert_string_equal(out, "");
}

static void test_sparkline(void **state) {
  (void)state;
  char out[256];
  double v[] = {0, 1, 2, 3, 4, 5, 6, 7};
  size_t n = bsl_report_sparkline(v, 8, 30, out, sizeof out);
  assert_int_equal(n, 8);
  assert_string_equal(out, "▁▂▃▄▅▆▇█");
  double g[] = {1, NAN, 3};
  n = bsl_report_sparkline(g, 3, 30, out, sizeof out);
  assert_int_equal(n, 3);
  assert_string_equal(out, "▁ █");
  /* 8 values into 4 cells: bucket means 0.5, 2.5, 4.5, 6.5 */
  n = bsl_report_sparkline(v, 8, 4, out, sizeof out);
  assert_int_equal(n, 4);
  assert_string_equal(out, "▁▃▆█");
  double flat[] = {5, 5, 5};
  bsl_report_sparkline(flat, 3, 10, out, sizeof out);
  assert_string_equal(out, "▄▄▄");
  double zero[] = {0, 0};
  bsl_report_sparkline(zero, 2, 10, out, sizeof out);
  assert_string_equal(out, "▁▁");
  /* too small a buffer: whole cells only */
  char tiny[8];
  n = bsl_report_sparkline(v, 8, 8, tiny, sizeof tiny);
  assert_int_equal(n, 2);
  assert_int_equal(strlen(tiny), 6);
  assert_int_equal(bsl_report_sparkline(v, 0, 8, out, sizeof out), 0);
}

static void test_numbers(void **state) {
  (void)state;
  char b[32];
  bsl_report_format_count(0, b, sizeof b);
  assert_string_equal(b, "0");
  bsl_report_format_count(999, b, sizeof b);
  assert_string_equal(b, "999");
  bsl_report_format_count(1234567, b, sizeof b);
  assert_string_equal(b, "1,234,567");
  bsl_report_format_count(-1000, b, sizeof b);
  assert_string_equal(b, "-1,000");
  bsl_report_format_count(NAN, b, sizeof b);
  assert_string_equal(b, "-");
  bsl_report_format_compact(950, b, sizeof b);
  assert_string_equal(b, "950");
  bsl_report_format_compact(12345, b, sizeof b);
  assert_string_equal(b, "12.3k");
  bsl_report_format_compact(4.5e6, b, sizeof b);
  assert_string_equal(b, "4.5M");
  bsl_report_format_percent(0.4123, b, sizeof b);
  assert_string_equal(b, "41.2%");
  bsl_report_format_change(110, 100, b, sizeof b);
  assert_string_equal(b, "+10.0%");
  bsl_report_format_change(90, 100, b, sizeof b);
  assert_string_equal(b, "-10.0%");
  bsl_report_format_change(5, 0, b, sizeof b);
  assert_string_equal(b, "new");
  bsl_report_format_change(0, 0, b, sizeof b);
  assert_string_equal(b, "-");
  bsl_report_format_points(0.05, 0.032, b, sizeof b);
  assert_string_equal(b, "+1.8 pt");
  /* KPI values: tests/unit/test_metrics.c */
}

static void test_days(void **state) {
  (void)state;
  bool ok;
  char d[11];
  assert_int_equal(bsl_report_parse_day("1970-01-01", &ok), 0);
  assert_true(ok);
  int64_t x = bsl_report_parse_day("2024-02-29", &ok);
  assert_true(ok);
  bsl_report_format_day(x + 1, d);
  assert_string_equal(d, "2024-03-01");
  bsl_report_format_day(x - 60, d);
  assert_string_equal(d, "2023-12-31");
  bsl_report_parse_day("2023-02-29", &ok);
  assert_false(ok);
  bsl_report_parse_day("2024-13-01", &ok);
  assert_false(ok);
  bsl_report_parse_day("2024-1-01", &ok);
  assert_false(ok);
  bsl_report_parse_day("yesterday", &ok);
  assert_false(ok);
}

/* A database with two days of traffic written through plain SQL on the
 * internal tables, then a report over it. */
/* The visit both report tests start from. */
static const bsl_visit_row VISIT = {.visit_id = 1,
                                    .site = "s",
                                    .day = "2026-03-02",
                                    .visitor = 7,
                                    .started_at = 1772409600,
                                    .ended_at = 1772409700,
                                    .pageviews = 2,
                                    .channel = "email",
                                    .source = "news",
                                    .medium = "email",
                                    .campaign = "<script>",
                                    .device = "desktop",
                                    .landing_path = "/<b>",
                                    .exit_path = "/<b>",
                                    .pages_json = "[]"};

/* A new store in a new directory DIR (a mkdtemp template), its file in
 * PATH, with hits on 2026-03-01 and 03-02 and a transaction open. */
static bsl_store *two_days(char *dir, char path[128]) {
  char err[512];
  assert_non_null(mkdtemp(dir));
  snprintf(path, 128, "%s/t.db", dir);
  bsl_store *st;
  assert_int_equal(bsl_store_open(&st, path, err, sizeof err), 0);
  assert_int_equal(bsl_store_begin(st), 0);
  assert_int_equal(bsl_store_add_hits(st, "2026-03-01", "s", 200, 10, 2), 0);
  assert_int_equal(bsl_store_add_hits(st, "2026-03-02", "s", 200, 20, 1), 0);
  return st;
}

static void test_gather(void **state) {
  (void)state;
  char dir[] = "/tmp/bsl-report-XXXXXX", path[128], err[512];
  bsl_store *st = two_days(dir, path);
  assert_int_equal(
      bsl_store_add_page_counts(st, "2026-03-02", "s", "/<b>", 4, 2, 200, 1),
      0);
  assert_int_equal(bsl_store_put_visit(st, &VISIT), 0);
  assert_int_equal(bsl_store_commit(st), 0);

  bsl_report *r;
  /* the next day: 2026-03-02 has ended (the partial day is
   * test_complete_day_and_sections's) */
  bsl_report_options o = {.now = 1772409600 + 86400};
  assert_int_equal(bsl_report_gather(st, &o, &r, err, sizeof err), 0);
  assert_string_equal(r->to, "2026-03-02");
  assert_string_equal(r->from, "2026-02-03");
  assert_string_equal(r->prev_to, "2026-02-02");
  assert_int_equal(r->n_days, 28);
  assert_true(r->cur.hits == 30);
  assert_true(r->cur.visits == 1);
  assert_true(r->days[27].channel_visits[BSL_CH_EMAIL] == 1);
  assert_int_equal(r->n_pages, 1);
  assert_true(fabs(r->pages[0].avg_scroll - 50) < 1e-9);
  assert_int_equal(r->n_campaigns, 1);
  assert_string_equal(r->campaigns[0].campaign, "<script>");

  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_int_equal(bsl_report_write_html(r, f), 0);
  fclose(f);
  assert_non_null(strstr(buf, "&lt;script&gt;"));
  assert_null(strstr(buf, "<script"));
  assert_non_null(strstr(buf, "Content-Security-Policy"));
  free(buf);
  f = open_memstream(&buf, &len);
  assert_int_equal(bsl_report_write_text(r, f, false), 0);
  fclose(f);
  assert_non_null(strstr(buf, "TRAFFIC"));
  assert_null(strchr(buf, 0x1b));
  free(buf);
  bsl_report_destroy(r);

  /* bad ranges name the option */
  o.from = "2026-03-05";
  o.to = "2026-03-01";
  assert_int_equal(bsl_report_gather(st, &o, &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "--from"));
  o.from = NULL;
  o.to = "2026-02-30";
  assert_int_equal(bsl_report_gather(st, &o, &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "--to"));
  o.from = "2000-01-01";
  o.to = "2026-01-01";
  assert_int_equal(bsl_report_gather(st, &o, &r, err, sizeof err), -1);
  bsl_report_destroy(NULL);

  bsl_store_close(st);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* Runs a writer into a memory stream; the caller frees the text. */
static char *render(const bsl_report *r, int what) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  if (what == 0)
    assert_int_equal(bsl_report_write_text(r, f, false), 0);
  else if (what == 1)
    assert_int_equal(bsl_report_write_json(r, f), 0);
  else
    assert_int_equal(bsl_report_write_html(r, f), 0);
  fclose(f);
  return buf;
}

/* Issue 16: the default range ends on the last complete day in the
 * configured zone; status codes, 404 paths, devices and hours; a KPI in
 * plain words with a chart on round ticks within 0-100%. */
static void test_complete_day_and_sections(void **state) {
  (void)state;
  char dir[] = "/tmp/bsl-report-XXXXXX", path[128], err[512];
  bsl_store *st = two_days(dir, path);
  assert_int_equal(bsl_store_add_hits(st, "2026-03-02", "s", 404, 5, 2), 0);
  assert_int_equal(
      bsl_store_add_not_found(st, "2026-03-02", "s", "/caf%C3%A9%3Cb%3E+x", 3),
      0);
  bsl_visit_row v = VISIT; /* began 2026-03-02T00:00:00Z */
  v.pageviews = 1;
  v.channel = "direct";
  v.source = "(direct)";
  v.medium = "(none)";
  v.campaign = "";
  v.device = "tablet";
  v.landing_path = v.exit_path = "/";
  assert_int_equal(bsl_store_put_visit(st, &v), 0);
  assert_int_equal(bsl_store_commit(st), 0);

  bsl_report *r;
  /* 2026-03-02 12:00 UTC: the newest day is today, still being logged */
  bsl_report_options o = {.now = 1772409600 + 43200};
  assert_int_equal(bsl_report_gather(st, &o, &r, err, sizeof err), 0);
  assert_string_equal(r->to, "2026-03-01");
  assert_string_equal(r->partial_day, "2026-03-02");
  bsl_report_destroy(r);
  /* 2026-03-03 00:30 UTC: over in UTC, not yet at UTC-05:00 */
  o.now = 1772409600 + 86400 + 1800;
  assert_int_equal(bsl_report_gather(st, &o, &r, err, sizeof err), 0);
  assert_string_equal(r->to, "2026-03-02");
  assert_string_equal(r->partial_day, "");
  assert_true(r->hours[0] == 1); /* began at midnight UTC */
  bsl_report_destroy(r);
  o.timezone = "-05:00";
  assert_int_equal(bsl_report_gather(st, &o, &r, err, sizeof err), 0);
  assert_string_equal(r->to, "2026-03-01");
  assert_string_equal(r->zone, "-05:00");
  bsl_report_destroy(r);
  /* the sections, over the day */
  o.from = o.to = "2026-03-02";
  assert_int_equal(bsl_report_gather(st, &o, &r, err, sizeof err), 0);
  assert_true(r->hours[19] == 1); /* 19:00 the evening before, at -05:00 */
  assert_int_equal(r->n_statuses, 2);
  assert_int_equal(r->statuses[1].status, 404);
  assert_true(r->statuses[1].hits == 5 && r->statuses[1].bot_hits == 2);
  assert_string_equal(bsl_report_status_text(404), "Not Found");
  assert_true(r->has_not_found);
  assert_int_equal(r->n_not_found, 1);
  assert_true(r->not_found[0].hits == 3);
  assert_int_equal(r->n_devices, 1);
  assert_string_equal(r->devices[0].device, "tablet");
  assert_true(r->devices[0].visits == 1 && r->devices[0].bounces == 1);
  char *text = render(r, 0);
  assert_non_null(strstr(text, "\nSTATUS CODES"));
  assert_non_null(strstr(text, "404 Not Found"));
  assert_non_null(strstr(text, "\nTOP 404 PATHS"));
  assert_non_null(strstr(text, "\nDEVICES"));
  assert_non_null(strstr(text, "\nVISITS BY HOUR OF DAY"));
  free(text);
  char *json = render(r, 1);
  assert_non_null(strstr(json, "\"status_codes\":[{\"status\":200"));
  assert_non_null(
      strstr(json, "\"not_found\":[{\"path\":\"/caf%C3%A9%3Cb%3E+x\""));
  assert_non_null(strstr(json, "\"devices\":[{\"device\":\"tablet\""));
  assert_non_null(strstr(json, "\"timezone\":\"-05:00\""));
  free(json);
  char *html = render(r, 2);
  /* the path decoded for reading, escaped; as logged in the title */
  assert_non_null(strstr(html, ">/caf\xc3\xa9&lt;b&gt;+x</td>"));
  assert_non_null(strstr(html, "title=\"/caf%C3%A9%3Cb%3E+x\""));
  assert_non_null(strstr(html, "Visits by hour of day"));
  free(html);
  bsl_report_destroy(r);
  bsl_store_close(st);

  /* a KPI as `boussole kpi` recorded it (an older build's negative
   * projection included) */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char sql[4096];
  int n = snprintf(sql, sizeof sql,
                   "INSERT INTO kpi_state(kpi, metric, state, since, period,"
                   " value, last_value, slope, intercept, p_value, seasonal,"
                   " observations, target, deadline, projected, message,"
                   " evaluated_at, evaluated_unix) VALUES('signup', "
                   "'conversion_rate', 'stalled', '2026-02-20', '2026-03-02',"
                   " 0.041, 0.04, -0.0005, 0.05, 0.0, 0, 20, 0.08,"
                   " '2027-03-31', -0.0186, 'signup has stalled at 4.1%%. "
                   "Next step: record a change.', '2026-03-03T00:00:00Z',"
                   " 1772496000);"
                   "INSERT INTO kpi_adjustments(kpi, at, at_unix, note, "
                   "effect, effect_p_value) VALUES('signup', "
                   "'2026-02-25T09:00:00Z', 1772010000, 'new page', "
                   "-0.00924, 0.41);");
  for (int d = 0; d < 10; d++)
    n += snprintf(sql + n, sizeof sql - (size_t)n,
                  "INSERT INTO kpi_values VALUES('signup', '2026-02-%02d', "
                  "'2026-02-%02d', %.4f, 100);",
                  19 + d, 19 + d, 0.046 - 0.0005 * d);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(bsl_store_open_existing(&st, path, err, sizeof err), 0);
  o.from = NULL;
  o.to = "2026-03-02";
  assert_int_equal(bsl_report_gather(st, &o, &r, err, sizeof err), 0);
  assert_int_equal(r->n_kpis, 1);
  text = render(r, 0);
  assert_non_null(strstr(text, "p<0.001"));
  assert_null(strstr(text, "p=0.00"));
  assert_non_null(strstr(text, "effect: no measurable effect yet (-0.9 pt, "
                               "p=0.41: could be chance)"));
  assert_non_null(strstr(text, "Next step: record a change."));
  assert_null(strstr(text, "%/day"));
  assert_null(strstr(text, "-1.9%")); /* the projection, clamped */
  assert_non_null(strstr(text, "projected 0.0%"));
  free(text);
  html = render(r, 2);
  assert_non_null(strstr(html, "no measurable effect yet (-0.9 pt"));
  assert_null(strstr(html, "-0.924"));
  /* the KPI chart: round ticks within 0-100%, the trend cut at 0% */
  const char *svg = strstr(html, "aria-label=\"KPI series\"");
  assert_non_null(svg);
  const char *end = strstr(svg, "</svg>");
  int ticks = 0;
  for (const char *p = svg; (p = strstr(p, "text-anchor=\"end\">")) && p < end;
       p++) {
    double x;
    char pct;
    if (sscanf(p + 18, "%lf%c", &x, &pct) == 2 && pct == '%') {
      ticks++;
      if (x < 0 || x > 100 || fabs(x * 2 - rint(x * 2)) > 1e-9)
        fail_msg("tick %.3f%% is not round or not a rate", x);
    }
  }
  assert_true(ticks >= 3);
  const char *trend = strstr(svg, "class=\"trend\"");
  assert_non_null(trend);
  double y1, y2;
  assert_int_equal(sscanf(strstr(trend, "y1=") + 4, "%lf", &y1), 1);
  assert_int_equal(sscanf(strstr(trend, "y2=") + 4, "%lf", &y2), 1);
  assert_true(y1 <= 230 - 24 + 0.05 && y2 <= 230 - 24 + 0.05);
  free(html);
  bsl_report_destroy(r);
  bsl_store_close(st);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_html_escapes_markup),
      cmocka_unit_test(test_html_controls_and_bad_utf8),
      cmocka_unit_test(test_json_string),
      cmocka_unit_test(test_term_text),
      cmocka_unit_test(test_sparkline),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_days),
      cmocka_unit_test(test_gather),
      cmocka_unit_test(test_complete_day_and_sections),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
