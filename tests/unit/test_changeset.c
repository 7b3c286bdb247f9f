/*
 * Unit tests of changesets (analyze/store/changeset.c): records are applied
 * in the order they were made, inside the caller's transaction and nowhere
 * else; a failing record stops the rest; clearing forgets everything and
 * the buffers are reused with the right strings; a custom record's apply
 * runs once per application and its drop exactly once, whatever happens;
 * a changeset that ran out of memory says so, keeps saying so until
 * cleared, and never holds a custom record it could not keep.  Results are
 * read back with plain SQL from a second connection.
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
#include "fault.h"
#include "store.h"

#define TMPDIR_PREFIX "/tmp/test_changeset.XXXXXX"
#include "tmpdir.h"

/* ---- helpers ---- */

/* The rows of SQL on a fresh connection to DB, "a|b;" per row. */
static const char *rows(const char *db, const char *sql) {
  static char out[8192];
  sqlite3 *h;
  sqlite3_stmt *st;
  size_t n = 0;
  out[0] = '\0';
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW && n < sizeof out - 1) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const unsigned char *t = sqlite3_column_text(st, c);
      n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", c ? "|" : "",
                            t ? (const char *)t : "NULL");
    }
    n += (size_t)snprintf(out + n, sizeof out - n, ";");
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

static bsl_store *open_store(const char **path) {
  char err[512];
  bsl_store *s;
  *path = tmp_path(".db");
  assert_int_equal(bsl_store_open(&s, *path, err, sizeof err), 0);
  return s;
}

/* Applies CS in one transaction of S. */
static void apply_committed(bsl_store *s, const bsl_changeset *cs) {
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_apply(s, cs), 0);
  assert_int_equal(bsl_store_commit(s), 0);
}

/* A custom record's payload: what was done to it, and what it expects. */
typedef struct probe {
  int applies, drops;
  int64_t want_meta; /* the value of meta "k" its apply must see */
  int fail;          /* its apply fails */
  char *trace;       /* apply appends tag */
  char tag;
} probe;

static int probe_apply(bsl_store *s, void *arg) {
  probe *p = arg;
  p->applies++;
  int64_t v = -1;
  assert_int_equal(bsl_store_meta_get(s, "k", -1, &v), 0);
  assert_int_equal(v, p->want_meta);
  if (p->trace) {
    size_t n = strlen(p->trace);
    p->trace[n] = p->tag;
    p->trace[n + 1] = '\0';
  }
  return p->fail ? bsl_store_fail_with(s, "probe failed on purpose") : 0;
}

static void probe_drop(void *arg) {
  ((probe *)arg)->drops++;
}

/* ---- tests ---- */

/* Every kind of record lands, in the order recorded: a later meta value
 * wins, counters add up, a salt deleted after it was put is gone while a
 * later one stays, and each custom record sees exactly the writes recorded
 * before it. */
static void test_records_applied_in_order(void **state) {
  (void)state;
  const char *db;
  bsl_store *s = open_store(&db);
  bsl_changeset *cs = bsl_changeset_create();
  assert_non_null(cs);
  char trace[8] = "";
  probe a = {.want_meta = 1, .trace = trace, .tag = 'a'};
  probe b = {.want_meta = 2, .trace = trace, .tag = 'b'};

  bsl_changeset_meta_set(cs, "k", 1);
  bsl_changeset_custom(cs, probe_apply, probe_drop, &a);
  bsl_changeset_meta_set(cs, "k", 2);
  bsl_changeset_add_hits(cs, "2026-11-02", "www.example.com", 200, 3, 1);
  bsl_changeset_add_hits(cs, "2026-11-02", "www.example.com", 200, 4, 0);
  bsl_changeset_add_hits(cs, "2026-11-02", "www.example.com", 404, 1, 1);
  static const uint8_t salt1[4] = {0x00, 0x11, 0x00, 0xff};
  static const uint8_t salt3[3] = {0xab, 0x00, 0xcd};
  bsl_changeset_put_salt(cs, "2026-11-01", salt1, sizeof salt1);
  bsl_changeset_put_salt(cs, "2026-11-03", salt3, sizeof salt3);
  bsl_changeset_delete_salts_before(cs, "2026-11-02");
  bsl_changeset_custom(cs, probe_apply, probe_drop, &b);
  /* entries: 0, the store counts them from the visit rows */
  bsl_changeset_add_page_counts(cs, "2026-11-02", "www.example.com", "/a", 5, 0,
                                250, 1);
  bsl_changeset_add_page_counts(cs, "2026-11-02", "www.example.com", "/a", 1, 0,
                                100, 1);
  bsl_visit_row v = {.visit_id = 7,
                     .site = "www.example.com",
                     .day = "2026-11-02",
                     .visitor = 42,
                     .started_at = 1793613600,
                     .ended_at = 1793613660,
                     .pageviews = 2,
                     .max_scroll = 80,
                     .channel = "Direct",
                     .source = "(direct)",
                     .medium = "(none)",
                     .campaign = "",
                     .device = "desktop",
                     .landing_path = "/a",
                     .exit_path = "/b",
                     .pages_json = "[[\"/a\",1,1,80],[\"/b\",1,0,0]]"};
  bsl_changeset_put_visit(cs, &v);
  assert_false(bsl_changeset_failed(cs));

  apply_committed(s, cs);
  assert_string_equal(trace, "ab");
  assert_int_equal(a.applies, 1);
  assert_int_equal(b.applies, 1);
  assert_int_equal(a.drops + b.drops, 0); /* dropped when cleared */
  assert_string_equal(rows(db, "SELECT value FROM meta WHERE key = 'k'"), "2;");
  assert_string_equal(
      rows(db, "SELECT day, site, status, hits FROM status_daily "
               "ORDER BY status"),
      "2026-11-02|www.example.com|200|7;2026-11-02|www.example.com|404|1;");
  assert_string_equal(
      rows(db, "SELECT SUM(hits), SUM(bot_hits) FROM hit_counts"), "8|2;");
  /* salts never reach the analysts' database: bsl_store_apply() leaves
   * them to bsl_store_commit_changeset(), which writes their own file
   * around the transaction (test_pipeline, e2e test_salts) */
  assert_string_equal(
      rows(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'day_salts'"),
      "0;");
  assert_string_equal(
      rows(db, "SELECT path, pageviews, entries FROM pages_daily"), "/a|6|1;");
  assert_string_equal(
      rows(db, "SELECT visit_id, site, day, started_at, ended_at, pageviews, "
               "channel, device, landing_path, exit_path, max_scroll "
               "FROM visits"),
      "7|www.example.com|2026-11-02|2026-11-02T10:00:00Z|"
      "2026-11-02T10:01:00Z|2|Direct|desktop|/a|/b|80;");

  bsl_changeset_destroy(cs);
  assert_int_equal(a.drops, 1);
  assert_int_equal(b.drops, 1);
  bsl_store_close(s);
}

/* bsl_store_apply opens no transaction of its own: the caller's rollback
 * undoes everything, and nothing shows to another connection before the
 * caller commits. */
static void test_applied_inside_callers_transaction(void **state) {
  (void)state;
  const char *db;
  bsl_store *s = open_store(&db);
  bsl_changeset *cs = bsl_changeset_create();
  probe p = {.want_meta = 5};
  bsl_changeset_add_hits(cs, "2026-11-02", "www.example.com", 200, 10, 0);
  bsl_changeset_meta_set(cs, "k", 5);
  bsl_changeset_custom(cs, probe_apply, probe_drop, &p);

  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_apply(s, cs), 0);
  assert_string_equal(rows(db, "SELECT COUNT(*) FROM hit_counts"), "0;");
  bsl_store_rollback(s);
  assert_string_equal(rows(db, "SELECT COUNT(*) FROM hit_counts"), "0;");
  assert_string_equal(rows(db, "SELECT COUNT(*) FROM meta WHERE key = 'k'"),
                      "0;");

  /* the same changeset again, committed this time: applied once more */
  apply_committed(s, cs);
  assert_string_equal(rows(db, "SELECT SUM(hits) FROM hit_counts"), "10;");
  assert_int_equal(p.applies, 2);
  assert_int_equal(p.drops, 0);
  bsl_changeset_destroy(cs);
  assert_int_equal(p.drops, 1);
  bsl_store_close(s);
}

/* A record that fails stops the application there: it returns -1 with the
 * store's error, no later record runs, and the caller's rollback leaves
 * nothing behind. */
static void test_failing_record_stops_apply(void **state) {
  (void)state;
  const char *db;
  bsl_store *s = open_store(&db);
  bsl_changeset *cs = bsl_changeset_create();
  probe bad = {.want_meta = 1, .fail = 1};
  probe after = {.want_meta = 2};
  bsl_changeset_meta_set(cs, "k", 1);
  bsl_changeset_add_hits(cs, "2026-11-02", "www.example.com", 200, 10, 0);
  bsl_changeset_custom(cs, probe_apply, probe_drop, &bad);
  bsl_changeset_meta_set(cs, "k", 2);
  bsl_changeset_custom(cs, probe_apply, probe_drop, &after);

  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_apply(s, cs), -1);
  assert_non_null(strstr(bsl_store_error(s), "probe failed on purpose"));
  bsl_store_rollback(s);
  assert_int_equal(bad.applies, 1);
  assert_int_equal(after.applies, 0);
  assert_string_equal(rows(db, "SELECT COUNT(*) FROM hit_counts"), "0;");
  assert_string_equal(rows(db, "SELECT COUNT(*) FROM meta WHERE key = 'k'"),
                      "0;");
  bsl_changeset_destroy(cs);
  assert_int_equal(bad.drops, 1);
  assert_int_equal(after.drops, 1);
  bsl_store_close(s);
}

/* Clearing drops every custom record once and forgets every record; the
 * buffers are then reused, and strings recorded after the clear (shorter
 * ones over longer, enough of them to grow the buffers again) come out
 * right. */
static void test_clear_and_reuse(void **state) {
  (void)state;
  const char *db;
  bsl_store *s = open_store(&db);
  bsl_changeset *cs = bsl_changeset_create();
  probe p1 = {.want_meta = -1}, p2 = {.want_meta = -1};
  char site[128];
  for (int i = 0; i < 300; i++) {
    snprintf(site, sizeof site, "a-rather-long-site-name-%03d.example.com", i);
    bsl_changeset_add_hits(cs, "2026-11-02", site, 200, i + 1, 0);
  }
  bsl_changeset_custom(cs, probe_apply, probe_drop, &p1);
  bsl_changeset_custom(cs, probe_apply, probe_drop, &p2);
  apply_committed(s, cs);
  assert_string_equal(rows(db, "SELECT COUNT(*), SUM(hits) FROM hit_counts"),
                      "300|45150;");
  assert_string_equal(
      rows(db, "SELECT site, hits FROM hit_counts WHERE site LIKE '%-299.%'"),
      "a-rather-long-site-name-299.example.com|300;");

  bsl_changeset_clear(cs);
  assert_int_equal(p1.drops, 1);
  assert_int_equal(p2.drops, 1);
  assert_false(bsl_changeset_failed(cs));
  /* cleared: applying it writes nothing, calls nothing */
  apply_committed(s, cs);
  assert_int_equal(p1.applies, 1);
  assert_int_equal(p2.applies, 1);
  assert_string_equal(rows(db, "SELECT COUNT(*), SUM(hits) FROM hit_counts"),
                      "300|45150;");

  /* reused: only the new records, with their own strings */
  for (int i = 0; i < 1000; i++) {
    snprintf(site, sizeof site, "b%d.example", i);
    bsl_changeset_add_hits(cs, "2026-11-03", site, 200, 1, 0);
  }
  bsl_changeset_meta_set(cs, "k", 9);
  probe p3 = {.want_meta = 9};
  bsl_changeset_custom(cs, probe_apply, probe_drop, &p3);
  apply_committed(s, cs);
  assert_string_equal(rows(db, "SELECT COUNT(*), SUM(hits), MAX(length(site)) "
                               "FROM hit_counts WHERE day = '2026-11-03'"),
                      "1000|1000|12;");
  assert_string_equal(rows(db, "SELECT COUNT(*) FROM hit_counts WHERE day = "
                               "'2026-11-03' AND site NOT LIKE 'b%.example'"),
                      "0;");
  assert_string_equal(rows(db, "SELECT COUNT(*), SUM(hits) FROM hit_counts"),
                      "1300|46150;");
  assert_int_equal(p1.applies + p2.applies, 2);
  assert_int_equal(p3.applies, 1);
  assert_int_equal(p1.drops + p2.drops, 2); /* not dropped again */
  bsl_changeset_destroy(cs);
  assert_int_equal(p3.drops, 1);
  assert_int_equal(p1.drops + p2.drops, 2);
  bsl_store_close(s);
}

/* A custom record without a drop, and a changeset destroyed without being
 * cleared: each drop is still called once, and only once. */
static void test_custom_drop_exactly_once(void **state) {
  (void)state;
  bsl_changeset *cs = bsl_changeset_create();
  probe p[3] = {{0}, {0}, {0}};
  for (int i = 0; i < 3; i++)
    bsl_changeset_custom(cs, probe_apply, probe_drop, &p[i]);
  bsl_changeset_custom(cs, probe_apply, NULL, &p[0]);
  bsl_changeset_destroy(cs); /* never cleared */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(p[i].drops, 1);
    assert_int_equal(p[i].applies, 0);
  }
  bsl_changeset_destroy(NULL);
}

/* Out of memory while a changeset is built (BSL_FAIL_ALLOC=changeset:N):
 * it says so from then on, whatever is recorded after; a custom record it
 * could not keep is dropped at once (the changeset owns it) and never
 * again; clearing makes it usable again. */
static void test_failed_changeset(void **state) {
  (void)state;
  const char *db;
  bsl_store *s = open_store(&db);

  /* the very first growth fails: nothing is kept */
  bsl_changeset *cs = bsl_changeset_create();
  bsl_fault_configure("changeset:1");
  bsl_changeset_add_hits(cs, "2026-11-02", "www.example.com", 200, 1, 0);
  assert_true(bsl_changeset_failed(cs));
  bsl_fault_configure(NULL); /* memory is back: still failed */
  bsl_changeset_meta_set(cs, "k", 1);
  assert_true(bsl_changeset_failed(cs));
  probe lost = {0};
  bsl_changeset_custom(cs, probe_apply, probe_drop, &lost);
  assert_int_equal(lost.drops, 1); /* refused, so dropped right away */
  assert_true(bsl_changeset_failed(cs));
  bsl_changeset_clear(cs);
  assert_int_equal(lost.drops, 1);
  assert_int_equal(lost.applies, 0);
  assert_false(bsl_changeset_failed(cs));

  /* cleared, it works again */
  probe ok = {.want_meta = 3};
  bsl_changeset_meta_set(cs, "k", 3);
  bsl_changeset_custom(cs, probe_apply, probe_drop, &ok);
  assert_false(bsl_changeset_failed(cs));
  apply_committed(s, cs);
  assert_int_equal(ok.applies, 1);
  assert_string_equal(rows(db, "SELECT value FROM meta WHERE key = 'k'"), "3;");
  bsl_changeset_destroy(cs);
  assert_int_equal(ok.drops, 1);

  /* the record is kept but the custom list cannot grow (second growth of
   * a fresh changeset): the payload is dropped once, the record undone */
  cs = bsl_changeset_create();
  probe half = {0};
  bsl_fault_configure("changeset:2");
  bsl_changeset_custom(cs, probe_apply, probe_drop, &half);
  bsl_fault_configure(NULL);
  assert_true(bsl_changeset_failed(cs));
  assert_int_equal(half.drops, 1);
  bsl_changeset_destroy(cs);
  assert_int_equal(half.drops, 1);
  assert_int_equal(half.applies, 0);

  /* a string that cannot be copied fails the changeset too */
  cs = bsl_changeset_create();
  bsl_fault_configure("changeset:2"); /* ops grow, the arena does not */
  bsl_changeset_meta_set(cs, "k", 4);
  bsl_fault_configure(NULL);
  assert_true(bsl_changeset_failed(cs));
  bsl_changeset_destroy(cs);
  bsl_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_records_applied_in_order),
      cmocka_unit_test(test_applied_inside_callers_transaction),
      cmocka_unit_test(test_failing_record_stops_apply),
      cmocka_unit_test(test_clear_and_reuse),
      cmocka_unit_test(test_custom_drop_exactly_once),
      cmocka_unit_test(test_failed_changeset),
  };
  return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
