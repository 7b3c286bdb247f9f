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
static void test_gather(void **state) {
  (void)state;
  char dir[] = "/tmp/bsl-report-XXXXXX", path[128], err[512];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/t.db", dir);
  bsl_store *st;
  assert_int_equal(bsl_store_open(&st, path, err, sizeof err), 0);
  assert_int_equal(bsl_store_begin(st), 0);
  assert_int_equal(bsl_store_add_hits(st, "2026-03-01", "s", 200, 10, 2), 0);
  assert_int_equal(bsl_store_add_hits(st, "2026-03-02", "s", 200, 20, 1), 0);
  assert_int_equal(
      bsl_store_add_page_counts(st, "2026-03-02", "s", "/<b>", 4, 2, 200, 1),
      0);
  bsl_visit_row v = {.visit_id = 1,
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
  assert_int_equal(bsl_store_put_visit(st, &v), 0);
  assert_int_equal(bsl_store_commit(st), 0);

  bsl_report *r;
  bsl_report_options o = {.now = 1772409600};
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
