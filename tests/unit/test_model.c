/*
 * Unit tests of the audience model: session timeout boundaries, the day
 * split in a non-UTC zone, late (out-of-order) landings, resuming open
 * visits from the store, salt expiry and the numbering of visitor keys once
 * their salt is gone.  Hits are built by hand; results
 * are read back with SQL from the store's views.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changeset.h"
#include "classify.h"
#include "fault.h"
#include "model.h"
#include "store.h"

static const char *const STATICS[] = {"css", "js", "png"};
static char dir[64];
static char db_path[128];

typedef struct fixture {
  bsl_store *store;
  bsl_classifier *cls;
  bsl_model *model;
  int site;
} fixture;

static const char UA[] =
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

static bsl_str S(const char *s) {
  return (bsl_str){s, strlen(s)};
}

static bsl_hit pageview(const char *addr, int64_t t, const char *path,
                        const char *query) {
  bsl_hit h = {0};
  h.remote_addr = S(addr);
  h.method = S("GET");
  h.path = S(path);
  h.query = S(query ? query : "");
  h.user_agent = S(UA);
  h.time = t;
  h.status = 200;
  h.bytes = 1;
  h.has_request = true;
  return h;
}

static size_t max_open; /* the cap open_model() gives the next model */

static void open_model(fixture *f, const char *tz) {
  char err[512];
  assert_int_equal(bsl_store_open(&f->store, db_path, err, sizeof err), 0);
  bsl_classifier_options co = {.static_extensions = STATICS,
                               .n_static_extensions = 3};
  assert_int_equal(bsl_classifier_create(&f->cls, &co, err, sizeof err), 0);
  static const char *const goal_names[] = {"signup"};
  static const char *const goal_paths[] = {"^/thank-you"};
  bsl_model_options mo = {.session_timeout = 1800,
                          .beacon_path = "/collect",
                          .timezone = tz,
                          .goal_names = goal_names,
                          .goal_patterns = goal_paths,
                          .n_goals = 1,
                          .classifier = f->cls,
                          .store = f->store,
                          .max_open_visits = max_open};
  assert_int_equal(bsl_model_create(&f->model, &mo, err, sizeof err), 0);
  f->site = bsl_model_site(f->model, "www.example.com");
  assert_true(f->site >= 0);
}

static void flush_and_close(fixture *f) {
  bsl_changeset *cs = bsl_changeset_create();
  assert_non_null(cs);
  assert_int_equal(bsl_model_flush(f->model, cs), 0);
  bsl_model_flush_done(f->model);
  assert_int_equal(bsl_store_commit_changeset(f->store, cs), 0);
  bsl_changeset_destroy(cs);
  bsl_model_destroy(f->model);
  bsl_classifier_destroy(f->cls);
  bsl_store_close(f->store);
}

/* Rows of SQL run on the database at PATH, "a|b;" per row. */
static char *query_in(const char *path, const char *sql) {
  static char out[4096];
  sqlite3 *db;
  sqlite3_stmt *st;
  out[0] = '\0';
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  size_t n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const unsigned char *t = sqlite3_column_text(st, c);
      n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", c ? "|" : "",
                            t ? (const char *)t : "");
    }
    n += (size_t)snprintf(out + n, sizeof out - n, ";");
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

static char *query(const char *sql) {
  return query_in(db_path, sql);
}

/* the same in the salts file beside the database */
static char *query_salts(const char *sql) {
  char path[160];
  snprintf(path, sizeof path, "%s.salts", db_path);
  return query_in(path, sql);
}

static int setup(void **state) {
  (void)state;
  max_open = 0;
  strcpy(dir, "/tmp/bsl-model-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(db_path, sizeof db_path, "%s/m.db", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* 2026-11-02T10:00:00Z */
#define T0 1793613600

static void test_timeout_boundary(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "UTC");
  bsl_hit h = pageview("1.1.1.1", T0, "/a", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  h = pageview("1.1.1.1", T0 + 1800, "/b", NULL); /* gap == timeout */
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  h = pageview("1.1.1.1", T0 + 3601, "/c", NULL); /* gap > timeout */
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  flush_and_close(&f);
  assert_string_equal(
      query("SELECT pageviews, landing_path, exit_path, bounced FROM visits "
            "ORDER BY visit_id"),
      "2|/a|/b|0;1|/c|/c|1;");
}

static void test_day_split_in_zone(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "Europe/Paris");
  /* 22:50Z and 23:10Z on 2 Nov are 23:50 and 00:10 in Paris (UTC+1) */
  int64_t t = T0 + 12 * 3600 + 50 * 60;
  bsl_hit h = pageview("2.2.2.2", t, "/a", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  h = pageview("2.2.2.2", t + 20 * 60, "/b", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  flush_and_close(&f);
  assert_string_equal(
      query("SELECT day, hits, visits, bounces FROM traffic_daily ORDER BY "
            "day"),
      "2026-11-02|1|1|1;2026-11-03|1|1|1;");
}

static void test_late_landing_and_goal(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "UTC");
  bsl_hit h = pageview("3.3.3.3", T0 + 60, "/thank-you", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  /* the real landing arrives late (logs are not always in time order) */
  h = pageview("3.3.3.3", T0, "/landing", NULL);
  h.referer = S("https://www.google.com/search?q=x");
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  flush_and_close(&f);
  assert_string_equal(
      query("SELECT landing_path, exit_path, channel, started_at, ended_at "
            "FROM visits"),
      "/landing|/"
      "thank-you|organic_search|2026-11-02T10:00:00Z|2026-11-02T10:01:00Z;");
  assert_string_equal(query("SELECT path, entries FROM pages_daily ORDER BY "
                            "path"),
                      "/landing|1;/thank-you|0;");
  assert_string_equal(query("SELECT channel, conversions, visits FROM "
                            "goals_daily"),
                      "organic_search|1|1;");
}

static void test_resume_open_visit(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "UTC");
  bsl_hit h = pageview("4.4.4.4", T0, "/a", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  flush_and_close(&f);
  /* a later run continues the same visit, converts, and scrolls */
  open_model(&f, "UTC");
  assert_int_equal(bsl_model_open_visits(f.model), 1);
  h = pageview("4.4.4.4", T0 + 600, "/thank-you", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  bsl_hit b = pageview("4.4.4.4", T0 + 620, "/collect", "e=scroll&d=90");
  b.referer = S("https://www.example.com/thank-you");
  assert_int_equal(bsl_model_hit(f.model, f.site, &b), 0);
  flush_and_close(&f);
  assert_string_equal(
      query("SELECT COUNT(*), SUM(pageviews), MAX(max_scroll) FROM visits"),
      "1|2|90;");
  assert_string_equal(query("SELECT conversions FROM channels_daily"), "1;");
  assert_string_equal(query("SELECT path, scroll_75 FROM pages_daily ORDER BY "
                            "path"),
                      "/a|0;/thank-you|1;");
}

/* Paths with a quote, a backslash and a control byte come back whole from
 * the pages JSON, written by the writer (a closed visit) and by the model
 * (an open one), and the landing and exit (the pages' own paths) match. */
static void test_pages_json_round_trip(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "UTC");
  const char *paths[] = {"/q\"uote", "/back\\slash", "/ctrl\x01x"};
  for (int i = 0; i < 3; i++) {
    bsl_hit h = pageview("5.5.5.5", T0 + i, paths[i], NULL);
    assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  }
  /* after the timeout: the first visit closes, a second one stays open;
   * its landing arrives second (late), its exit first */
  for (int i = 2; i >= 0; i -= 2) {
    bsl_hit h = pageview("5.5.5.5", T0 + 4000 + i, paths[i], NULL);
    assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  }
  flush_and_close(&f);
  assert_string_equal(
      query("SELECT visit_id, path, pageviews, entries FROM visit_pages "
            "ORDER BY visit_id, path"),
      "1|/back\\slash|1|0;1|/ctrl\x01x|1|0;1|/q\"uote|1|1;"
      "2|/ctrl\x01x|1|0;2|/q\"uote|1|1;");
  assert_string_equal(query("SELECT landing_path, exit_path FROM visits "
                            "ORDER BY started_at"),
                      "/q\"uote|/ctrl\x01x;/q\"uote|/ctrl\x01x;");
}

static void test_salts_expire(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "UTC");
  for (int d = 0; d < 4; d++) {
    bsl_hit h = pageview("5.5.5.5", T0 + d * 86400, "/a", NULL);
    assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  }
  flush_and_close(&f);
  /* days 2..5 Nov seen: only the newest two days keep a salt, in the
   * salts file, never in the database */
  assert_string_equal(query_salts("SELECT day FROM day_salts ORDER BY day"),
                      "2026-11-04;2026-11-05;");
  assert_string_equal(
      query("SELECT COUNT(*) FROM sqlite_master WHERE name = 'day_salts'"),
      "0;");
  assert_string_equal(query("SELECT COUNT(*) FROM visits"), "4;");
}

/* Once a day's salt is deleted, its visitor keys are replaced by per-day
 * numbers (negative; keys are positive): the visitors of the day stay what
 * they were, and a copy of the salt can no longer find anyone.  A line that
 * comes after that for the day gets a fresh salt and so counts as a new
 * visitor (README), and is numbered at the next commit. */
static void test_keys_replaced_after_two_days(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "UTC");
  const struct {
    const char *addr;
    int64_t t;
  } hits[] = {
      {"7.7.7.1", T0},             /* day 2 Nov: 7.1 twice (two visits) */
      {"7.7.7.1", T0 + 3 * 3600},  /* and 7.2 once */
      {"7.7.7.2", T0 + 60},        /* */
      {"7.7.7.1", T0 + 86400},     /* 3 Nov */
      {"7.7.7.3", T0 + 2 * 86400}, /* 4 Nov */
      {"7.7.7.3", T0 + 3 * 86400}, /* 5 Nov */
  };
  for (size_t i = 0; i < sizeof hits / sizeof *hits; i++) {
    bsl_hit h = pageview(hits[i].addr, hits[i].t, "/a", NULL);
    assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  }
  flush_and_close(&f);
  assert_string_equal(
      query("SELECT day, visits, visitors FROM traffic_daily ORDER BY day"),
      "2026-11-02|3|2;2026-11-03|1|1;2026-11-04|1|1;2026-11-05|1|1;");
  assert_string_equal(query("SELECT day, MAX(visitor) < 0, MIN(visitor) > 0 "
                            "FROM visit_log GROUP BY day ORDER BY day"),
                      "2026-11-02|1|0;2026-11-03|1|0;2026-11-04|0|1;"
                      "2026-11-05|0|1;");
  /* the two visits of 7.1 on 2 Nov still share their number */
  assert_string_equal(query("SELECT COUNT(DISTINCT visitor) FROM visit_log "
                            "WHERE day = '2026-11-02'"),
                      "2;");
  /* a resumed model knows the newest day: a late line for 2 Nov is a new
   * visitor, numbered too; 4 Nov keeps its salt and key */
  open_model(&f, "UTC");
  bsl_hit late = pageview("7.7.7.1", T0 + 4 * 3600, "/late", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &late), 0);
  bsl_hit again = pageview("7.7.7.3", T0 + 2 * 86400 + 7200, "/b", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &again), 0);
  flush_and_close(&f);
  assert_string_equal(
      query("SELECT day, visits, visitors FROM traffic_daily ORDER BY day"),
      "2026-11-02|4|3;2026-11-03|1|1;2026-11-04|2|1;2026-11-05|1|1;");
  assert_string_equal(query("SELECT COUNT(*) FROM visit_log WHERE visitor > 0 "
                            "AND day < '2026-11-04'"),
                      "0;");
  assert_string_equal(query_salts("SELECT day FROM day_salts ORDER BY day"),
                      "2026-11-04;2026-11-05;");
}

/* The cap closes the least recently active visits, down to 15/16 of it;
 * a closed visitor who comes back starts a new visit. */
static void test_open_visit_cap(void **state) {
  (void)state;
  fixture f;
  max_open = 16;
  open_model(&f, "UTC");
  char addr[32];
  /* 17 visitors, one per second: the 17th goes over the cap of 16, which
   * closes the oldest two (17 - 15): visitors 0 and 1 */
  for (int i = 0; i < 17; i++) {
    snprintf(addr, sizeof addr, "10.0.0.%d", i);
    bsl_hit h = pageview(addr, T0 + i, "/a", NULL);
    assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  }
  assert_int_equal(bsl_model_open_visits(f.model), 15);
  assert_int_equal(bsl_model_closed_early(f.model), 2);
  /* visitor 1 returns within the timeout: a new visit; visitor 2's second
   * pageview extends the open one */
  bsl_hit again = pageview("10.0.0.1", T0 + 60, "/b", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &again), 0);
  bsl_hit more = pageview("10.0.0.2", T0 + 61, "/b", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &more), 0);
  flush_and_close(&f);
  assert_string_equal(query("SELECT COUNT(*), SUM(pageviews) FROM visits"),
                      "18|19;");
  assert_string_equal(
      query("SELECT visits, visitors, bounces FROM traffic_daily"),
      "18|17|17;");
  assert_string_equal(query("SELECT COUNT(*) FROM visits WHERE is_open = 0"),
                      "2;");
}

/* A resumed model caps exactly as one that never stopped: the open visits
 * and the site clock come back from the store. */
static void test_cap_after_resume(void **state) {
  (void)state;
  fixture f;
  max_open = 16;
  open_model(&f, "UTC");
  char addr[32];
  for (int i = 0; i < 10; i++) {
    snprintf(addr, sizeof addr, "10.0.1.%d", i);
    bsl_hit h = pageview(addr, T0 + i, "/a", NULL);
    assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  }
  flush_and_close(&f);
  open_model(&f, "UTC");
  assert_int_equal(bsl_model_open_visits(f.model), 10);
  for (int i = 10; i < 17; i++) {
    snprintf(addr, sizeof addr, "10.0.1.%d", i);
    bsl_hit h = pageview(addr, T0 + i, "/a", NULL);
    assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  }
  assert_int_equal(bsl_model_open_visits(f.model), 15);
  flush_and_close(&f);
  /* the two closed early are the two oldest, as without the restart */
  assert_string_equal(
      query("SELECT GROUP_CONCAT(started_at) FROM (SELECT started_at FROM "
            "visits WHERE is_open = 0 ORDER BY started_at)"),
      "2026-11-02T10:00:00Z,2026-11-02T10:00:01Z;");
}

/* An allocation failure while a hit is accounted fails the hit and every
 * later hit and flush: nothing partial can be committed. */
static void test_out_of_memory_is_sticky(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "UTC");
  bsl_fault_configure("visit:2");
  bsl_hit a = pageview("10.0.2.1", T0, "/a", NULL);
  bsl_hit b = pageview("10.0.2.2", T0 + 1, "/a", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &a), 0);
  assert_int_equal(bsl_model_hit(f.model, f.site, &b), -1);
  assert_int_equal(bsl_model_hit(f.model, f.site, &a), -1);
  bsl_changeset *cs = bsl_changeset_create();
  assert_non_null(cs);
  assert_int_equal(bsl_model_flush(f.model, cs), -1);
  bsl_changeset_destroy(cs);
  bsl_fault_configure(NULL);
  bsl_model_destroy(f.model);
  bsl_classifier_destroy(f.cls);
  bsl_store_close(f.store);
}

/* A visit with more pages and longer strings than it keeps inline (model.c
 * VISIT_INLINE_PAGES, VISIT_INLINE_TEXT): pages found again after they
 * moved, a late landing replacing the source, scroll on a moved page. */
static void test_many_pages_long_strings(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "UTC");
  char longpath[120] = "/long-";
  memset(longpath + 6, 'x', 100);
  longpath[106] = '\0';
  const char *paths[] = {longpath, "/p2", "/p3", "/p4", "/p5", "/p2"};
  for (int i = 0; i < 6; i++) {
    bsl_hit h = pageview("6.6.6.6", T0 + 100 + 10 * i, paths[i],
                         i ? NULL
                           : "utm_source=Some-Rather-Long-Newsletter-Name"
                             "&utm_campaign=Spring-Sale-With-A-Long-Name");
    assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  }
  bsl_hit b = pageview("6.6.6.6", T0 + 165, "/collect", "e=scroll&d=80");
  b.referer = S("https://www.example.com/p3");
  assert_int_equal(bsl_model_hit(f.model, f.site, &b), 0);
  bsl_hit late = pageview("6.6.6.6", T0, "/first", NULL);
  late.referer = S("https://www.google.com/search?q=x");
  assert_int_equal(bsl_model_hit(f.model, f.site, &late), 0);
  flush_and_close(&f);
  assert_string_equal(
      query("SELECT pageviews, landing_path, exit_path, channel, source, "
            "medium, campaign, max_scroll FROM visits"),
      "7|/first|/p2|organic_search|google|organic||80;");
  assert_string_equal(
      query("SELECT path, pageviews, entries, max_scroll FROM visit_pages "
            "ORDER BY path"),
      "/first|1|1|0;/long-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx|1|0|0;"
      "/p2|2|0|0;/p3|1|0|80;/p4|1|0|0;/p5|1|0|0;");
  assert_string_equal(query("SELECT SUM(pageviews), SUM(entries) FROM "
                            "pages_daily"),
                      "7|1;");
}

/* Thousands of visits closed in one flush, their ids spanning more than
 * one radix pass of the sort that orders them: each is written once. */
static void test_many_visits_closed_at_once(void **state) {
  (void)state;
  fixture f;
  open_model(&f, "UTC");
  for (int i = 0; i < 5000; i++) {
    char addr[32];
    snprintf(addr, sizeof addr, "10.1.%d.%d", i / 256, i % 256);
    bsl_hit h = pageview(addr, T0 + i / 10, "/a", NULL);
    assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  }
  /* moves the site's clock two timeouts on: the flush closes the others */
  bsl_hit h = pageview("10.2.0.1", T0 + 5000, "/a", NULL);
  assert_int_equal(bsl_model_hit(f.model, f.site, &h), 0);
  flush_and_close(&f);
  assert_string_equal(query("SELECT COUNT(*), COUNT(DISTINCT visit_id), "
                            "MIN(visit_id), MAX(visit_id), SUM(pageviews) "
                            "FROM visits"),
                      "5001|5001|1|5001|5001;");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_timeout_boundary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_day_split_in_zone, setup, teardown),
      cmocka_unit_test_setup_teardown(test_late_landing_and_goal, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_resume_open_visit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pages_json_round_trip, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_salts_expire, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys_replaced_after_two_days, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_open_visit_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cap_after_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_memory_is_sticky, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_many_pages_long_strings, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_many_visits_closed_at_once, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
