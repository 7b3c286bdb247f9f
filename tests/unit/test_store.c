/*
 * Unit tests of the store: migrations (the day salts moved out of an older
 * database), transactions, additive counters, read positions, open-visit
 * persistence and the text rule, checked with plain SQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_sql.h" /* MIGRATIONS, to build a database of an older version */

static char dir[] = "/tmp/bsl-store-XXXXXX";
static char db_path[256];

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/bsl-store-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(db_path, sizeof db_path, "%s/t.db", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static long long query_int(const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  long long v = -1;
  assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

static void test_schema_and_views(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  bsl_store_close(s);
  assert_int_equal(query_int("PRAGMA user_version"), BSL_SCHEMA_VERSION);
  assert_int_equal(
      query_int("SELECT COUNT(*) FROM sqlite_master WHERE type = 'view' AND "
                "name IN ('traffic_daily', 'status_daily', 'pages_daily', "
                "'channels_daily', 'events_daily', 'goals_daily', 'visits', "
                "'sources', 'rejects', 'not_found_daily', 'devices_daily')"),
      11);
  /* reopening an up-to-date database migrates nothing and works */
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  bsl_store_close(s);
  /* a store that only reads never creates the salts file */
  char salts[300];
  snprintf(salts, sizeof salts, "%s.salts", db_path);
  assert_int_equal(access(salts, F_OK), -1);
}

/* The whole of FILE contains the LEN bytes of NEEDLE. */
static bool file_contains(const char *file, const void *needle, size_t len) {
  FILE *f = fopen(file, "rb");
  if (!f)
    return false;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return memmem(buf, n, needle, len) != NULL;
}

struct salts_seen {
  int n;
  char days[4][11];
  unsigned char first[4];
};

static void on_salt(void *ctx, const char *day, const uint8_t *salt,
                    size_t len) {
  struct salts_seen *s = ctx;
  assert_int_equal(len, 16);
  if (s->n < 4) {
    snprintf(s->days[s->n], sizeof s->days[0], "%s", day);
    s->first[s->n] = salt[0];
  }
  s->n++;
}

/* Migration 4 (issue 13): a database of version 3 held its day salts next
 * to the visitor keys.  Opening it moves them to "<db>.salts" (mode 0600),
 * leaves no salt byte in the database file, numbers the keys of the days
 * whose salt is gone, and keeps the visitors of every day. */
static void test_migration_moves_salts_out(void **state) {
  (void)state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL),
      SQLITE_OK);
  for (int i = 0; i < 3; i++)
    assert_int_equal(sqlite3_exec(db, MIGRATIONS[i], NULL, NULL, NULL),
                     SQLITE_OK);
  const char *old =
      "PRAGMA user_version = 3;"
      "INSERT INTO day_salts VALUES"
      " ('2026-11-02', x'a1a2a3a4a5a6a7a8a9aaabacadaeaf5a'),"
      " ('2026-11-03', x'b1b2b3b4b5b6b7b8b9babbbcbdbebf5b');"
      /* 1 Nov: salt already deleted; visitor -5 twice, then 7: 2 visitors */
      "INSERT INTO visit_log(visit_id, site, day, visitor, started_at,"
      " ended_at, pageviews, clicks, conversions, max_scroll, channel, source,"
      " medium, campaign, device, landing_path, exit_path, is_open) VALUES"
      " (1, 'a', '2026-11-01', -5, 0, 0, 1, 0, 0, 0, 'direct', '(direct)',"
      "  '(none)', '', 'desktop', '/', '/', 0),"
      " (2, 'a', '2026-11-01', 7, 0, 0, 1, 0, 0, 0, 'direct', '(direct)',"
      "  '(none)', '', 'desktop', '/', '/', 0),"
      " (3, 'a', '2026-11-01', -5, 0, 0, 1, 0, 0, 0, 'direct', '(direct)',"
      "  '(none)', '', 'desktop', '/', '/', 0),"
      /* 2 and 3 Nov keep their salts: keys stay keys, made positive */
      " (4, 'a', '2026-11-02', -9223372036854775807, 0, 0, 1, 0, 0, 0,"
      "  'direct', '(direct)', '(none)', '', 'desktop', '/', '/', 0),"
      " (5, 'a', '2026-11-03', 12, 0, 0, 1, 0, 0, 0, 'direct', '(direct)',"
      "  '(none)', '', 'desktop', '/', '/', 1);"
      "INSERT INTO hit_counts VALUES ('2026-11-01', 'a', 200, 3, 0),"
      " ('2026-11-02', 'a', 200, 1, 0), ('2026-11-03', 'a', 200, 1, 0);";
  assert_int_equal(sqlite3_exec(db, old, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);

  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  struct salts_seen seen = {0};
  assert_int_equal(bsl_store_load_salts(s, on_salt, &seen), 0);
  bsl_store_close(s);
  assert_int_equal(seen.n, 2);
  assert_string_equal(seen.days[0], "2026-11-02");
  assert_int_equal(seen.first[0], 0xa1);
  assert_string_equal(seen.days[1], "2026-11-03");
  assert_int_equal(seen.first[1], 0xb1);

  assert_int_equal(query_int("PRAGMA user_version"), BSL_SCHEMA_VERSION);
  assert_int_equal(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name = "
                             "'day_salts'"),
                   0);
  char salts[300], wal[300];
  snprintf(salts, sizeof salts, "%s.salts", db_path);
  snprintf(wal, sizeof wal, "%s-wal", db_path);
  struct stat sb;
  assert_int_equal(stat(salts, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  static const unsigned char a[] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
                                    0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac,
                                    0xad, 0xae, 0xaf, 0x5a};
  static const unsigned char b[] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
                                    0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc,
                                    0xbd, 0xbe, 0xbf, 0x5b};
  assert_false(file_contains(db_path, a, sizeof a));
  assert_false(file_contains(db_path, b, sizeof b));
  assert_false(file_contains(wal, a, sizeof a));
  assert_true(file_contains(salts, a, sizeof a));

  /* 1 Nov: numbers now, the same two visitors */
  assert_int_equal(query_int("SELECT COUNT(*) FROM visit_log WHERE day = "
                             "'2026-11-01' AND visitor >= 0"),
                   0);
  assert_int_equal(query_int("SELECT visitors FROM traffic_daily WHERE day = "
                             "'2026-11-01'"),
                   2);
  assert_int_equal(query_int("SELECT COUNT(DISTINCT visitor) FROM visit_log "
                             "WHERE visit_id IN (1, 3)"),
                   1);
  /* the live days: positive keys, the 63-bit form model.c computes */
  assert_int_equal(
      query_int("SELECT visitor FROM visit_log WHERE visit_id = 4"), 1);
  assert_int_equal(
      query_int("SELECT visitor FROM visit_log WHERE visit_id = 5"), 12);
  assert_int_equal(query_int("SELECT value FROM meta WHERE key = 'newest_day'"),
                   query_int("SELECT CAST(julianday('2026-11-03') - "
                             "2440587.5 AS INTEGER)"));
}

/* The text rule (utf8.h) at the store's door: whatever a caller binds, the
 * database holds valid UTF-8. */
static void test_text_is_valid_utf8(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_add_event(s, "2026-11-02", "a", "/caf\xe9",
                                       "cl\xff"
                                       "ck",
                                       "\xed\xa0\x80", 1),
                   0);
  assert_int_equal(
      bsl_store_add_reject(s, "cli", "/x\xfe.log", 0, "bad \xff", "a\0b", 3),
      0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_close(s);
  assert_int_equal(query_int("SELECT COUNT(*) FROM events_daily WHERE path = "
                             "'/caf\\xe9' AND event = 'cl\\xffck' AND "
                             "target = '\\xed\\xa0\\x80'"),
                   1);
  assert_int_equal(query_int("SELECT COUNT(*) FROM rejects WHERE path = "
                             "'/x\\xfe.log' AND reason = 'bad \\xff' AND "
                             "excerpt = 'a\\x00b'"),
                   1);
}

static void test_newer_schema_is_refused(void **state) {
  (void)state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
  sqlite3_close(db);
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), -1);
  assert_non_null(strstr(err, "newer than this boussole"));
  assert_non_null(strstr(err, db_path));
}

/* A new database gets 16 KiB pages (the writer's CPU per line, store.c
 * NEW_PAGE_SIZE); one made before keeps its 4 KiB pages and its rows. */
static void test_page_size_of_new_and_existing(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  bsl_store_close(s);
  assert_int_equal(query_int("PRAGMA page_size"), 16384);
  unlink(db_path);

  sqlite3 *db;
  assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "PRAGMA page_size = 4096;"
                                "PRAGMA journal_mode = WAL;"
                                "CREATE TABLE t(x)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_add_hits(s, "2026-11-02", "a", 200, 3, 1), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_close(s);
  assert_int_equal(query_int("PRAGMA page_size"), 4096);
  assert_int_equal(query_int("SELECT hits FROM status_daily"), 3);
}

static void test_unwritable_path(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, "/nonexistent-dir/x.db", err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
}

static void test_counters_add_up_and_rollback(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_add_hits(s, "2026-11-02", "a", 200, 3, 1), 0);
  assert_int_equal(bsl_store_add_hits(s, "2026-11-02", "a", 200, 2, 0), 0);
  assert_int_equal(
      bsl_store_add_event(s, "2026-11-02", "a", "/p", "click", "x", 4), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  /* a rolled-back transaction leaves no trace */
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_add_hits(s, "2026-11-02", "a", 200, 100, 0), 0);
  bsl_store_rollback(s);
  bsl_store_close(s);
  assert_int_equal(query_int("SELECT hits FROM status_daily"), 5);
  assert_int_equal(query_int("SELECT bot_hits FROM traffic_daily"), 1);
  assert_int_equal(query_int("SELECT events FROM events_daily"), 4);
}

static void test_file_state_round_trip(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  bsl_file_state f = {0};
  strcpy(f.source, "www");
  strcpy(f.path, "/var/log/a.log");
  strcpy(f.fingerprint, "abc");
  f.fp_len = 100;
  f.offset = 42;
  f.lines = 3;
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_file_save(s, &f), 0);
  assert_true(f.file_id > 0);
  f.offset = 84;
  f.fp_len = 4096;
  strcpy(f.fingerprint, "def");
  assert_int_equal(bsl_store_file_save(s, &f), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_file_state g;
  assert_int_equal(bsl_store_file_find(s, 100, "abc", &g), 0);
  assert_int_equal(bsl_store_file_find(s, 4096, "def", &g), 1);
  assert_int_equal(g.offset, 84);
  assert_string_equal(g.path, "/var/log/a.log");
  int lens[4];
  size_t n;
  assert_int_equal(bsl_store_fp_lengths(s, lens, 4, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(lens[0], 4096);
  bsl_store_close(s);
}

struct loaded {
  int visits, pages, goals;
  int64_t pageviews;
};

static void on_visit(void *ctx, const bsl_visit_row *v) {
  struct loaded *l = ctx;
  l->visits++;
  l->pageviews += v->pageviews;
  assert_string_equal(v->landing_path, "/in");
}
static void on_page(void *ctx, int64_t id, const char *path, int64_t pv,
                    int64_t entries, int max_scroll) {
  (void)id;
  (void)path;
  (void)pv;
  (void)entries;
  (void)max_scroll;
  ((struct loaded *)ctx)->pages++;
}
static void on_goal(void *ctx, int64_t id, const char *goal) {
  (void)id;
  assert_string_equal(goal, "signup");
  ((struct loaded *)ctx)->goals++;
}

/* An open direct visit of site "a" from a phone: one pageview on LANDING
 * at 1000, no pages. */
static bsl_visit_row direct_visit(int64_t id, const char *day, int64_t visitor,
                                  const char *landing) {
  return (bsl_visit_row){.visit_id = id,
                         .site = "a",
                         .day = day,
                         .visitor = visitor,
                         .started_at = 1000,
                         .ended_at = 1000,
                         .pageviews = 1,
                         .channel = "direct",
                         .source = "(direct)",
                         .medium = "(none)",
                         .campaign = "",
                         .device = "mobile",
                         .landing_path = landing,
                         .exit_path = landing,
                         .pages_json = "[]",
                         .is_open = true};
}

static void test_open_visits_resume(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  bsl_visit_row v = direct_visit(1, "2026-11-02", 99, "/in");
  v.ended_at = 1100;
  v.pageviews = 2;
  v.device = "desktop";
  v.exit_path = "/out";
  assert_int_equal(bsl_store_begin(s), 0);
  v.pages_json = "[[\"/in\",1,1,50],[\"/out\",1,0,0]]";
  assert_int_equal(bsl_store_put_visit(s, &v), 0);
  v.visit_id = 2;
  v.is_open = false;
  v.pages_json = "[[\"/in\",2,1,0]]";
  assert_int_equal(bsl_store_put_visit(s, &v), 0);
  assert_int_equal(
      bsl_store_add_page_counts(s, "2026-11-02", "a", "/in", 3, 0, 50, 0), 0);
  assert_int_equal(
      bsl_store_add_page_counts(s, "2026-11-02", "a", "/out", 1, 0, 0, 0), 0);
  assert_int_equal(bsl_store_put_visit_goal(s, 1, "signup"), 0);
  assert_int_equal(bsl_store_put_visit_goal(s, 1, "signup"), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  struct loaded l = {0};
  bsl_open_visit_cbs cbs = {on_visit, on_page, on_goal, &l};
  assert_int_equal(bsl_store_load_open_visits(s, &cbs), 0);
  assert_int_equal(l.visits, 1); /* only the open one */
  assert_int_equal(l.pages, 2);
  assert_int_equal(l.goals, 1);
  assert_int_equal(l.pageviews, 2);
  bsl_store_close(s);
  assert_int_equal(query_int("SELECT SUM(pageviews) FROM pages_daily"), 4);
  assert_int_equal(query_int("SELECT SUM(pageviews) FROM visit_pages"), 4);
  assert_int_equal(query_int("SELECT entries FROM pages_daily WHERE path = "
                             "'/in'"),
                   2);
}

static void test_locked_database_reports_error(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  sqlite3 *other;
  assert_int_equal(sqlite3_open(db_path, &other), SQLITE_OK);
  assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                   SQLITE_OK);
  /* the store waits for its busy timeout, then reports the lock; nothing
   * is lost because nothing was written */
  assert_int_equal(bsl_store_begin(s), -1);
  assert_non_null(strstr(bsl_store_error(s), "locked"));
  sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(other);
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_close(s);
}

/* Visits written many per statement, with wrong hints both ways: a row
 * said to be new that exists already (the whole statement falls back to
 * row by row and updates it), and one said to exist that does not. */
static void test_put_visits_batches_and_hints(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  enum { N = 75 };
  bsl_visit_row rows[N];
  char landing[N][16];
  for (int i = 0; i < N; i++) {
    snprintf(landing[i], sizeof landing[i], "/p/%d", i);
    rows[i] = (bsl_visit_row){.visit_id = i + 1,
                              .site = "s",
                              .day = "2026-11-01",
                              .visitor = 100 + i,
                              .started_at = 1000 + i,
                              .ended_at = 2000 + i,
                              .pageviews = 1,
                              .channel = "direct",
                              .source = "(direct)",
                              .medium = "(none)",
                              .campaign = "",
                              .device = "desktop",
                              .landing_path = landing[i],
                              .exit_path = landing[i],
                              .pages_json = "[]"};
  }
  assert_int_equal(bsl_store_begin(s), 0);
  bsl_visit_row old = rows[40];
  old.pageviews = 99;
  assert_int_equal(bsl_store_put_visit(s, &old), 0);
  rows[70].saved_before = true; /* not there: the update finds nothing */
  assert_int_equal(bsl_store_put_visits(s, rows, N), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_close(s);
  assert_int_equal(query_int("SELECT COUNT(*) FROM visit_log"), N);
  assert_int_equal(query_int("SELECT SUM(pageviews) FROM visit_log"), N);
  assert_int_equal(
      query_int("SELECT COUNT(*) FROM visit_log WHERE landing_path = "
                "'/p/' || (visit_id - 1) AND visitor = 99 + visit_id"),
      N);
}

/* pages_daily's entries and bounces and devices_daily follow an open visit
 * whose landing page, channel and device change (an earlier pageview came
 * late), across a reopen (the counters' memory read back from visit_log);
 * a landing path longer than BSL_PAGE_PATH_MAX counts under its first
 * bytes, as its entries do. */
static void test_landing_and_device_counters(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  const char *day = "2026-11-03";
  bsl_visit_row v = direct_visit(1, day, 7, "/a");
  static char longpath[BSL_PAGE_PATH_MAX + 100];
  memset(longpath, 'x', sizeof longpath - 1);
  longpath[0] = '/';
  static char cut[BSL_PAGE_PATH_MAX + 1];
  memcpy(cut, longpath, BSL_PAGE_PATH_MAX);
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_put_visit(s, &v), 0);
  bsl_visit_row w = v;
  w.visit_id = 2;
  w.landing_path = w.exit_path = "/b";
  w.is_open = false;
  assert_int_equal(bsl_store_put_visit(s, &w), 0);
  bsl_visit_row x = w;
  x.visit_id = 3;
  x.visitor = 8;
  x.landing_path = x.exit_path = longpath;
  assert_int_equal(bsl_store_put_visit(s, &x), 0);
  assert_int_equal(bsl_store_add_page_counts(s, day, "a", "/a", 1, 0, 0, 0), 0);
  assert_int_equal(bsl_store_add_page_counts(s, day, "a", "/b", 1, 0, 0, 0), 0);
  assert_int_equal(bsl_store_add_page_counts(s, day, "a", cut, 1, 0, 0, 0), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_close(s);
  assert_int_equal(query_int("SELECT bounces FROM pages_daily WHERE path = "
                             "'/a'"),
                   1);
  assert_int_equal(query_int("SELECT bounces FROM pages_daily WHERE "
                             "length(path) = 4096"),
                   1);
  assert_int_equal(query_int("SELECT visits * 100 + visitors * 10 + bounces "
                             "FROM devices_daily WHERE device = 'mobile' AND "
                             "channel = 'direct'"),
                   3 * 100 + 2 * 10 + 3);

  /* reopened: visit 1 now lands on /c from a search, on a desktop, and has
   * two pageviews (no bounce) */
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  v.landing_path = "/c";
  v.channel = "organic_search";
  v.source = "google";
  v.medium = "organic";
  v.device = "desktop";
  v.pageviews = 2;
  v.started_at = 900;
  v.is_open = false;
  v.saved_before = true;
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_put_visit(s, &v), 0);
  assert_int_equal(bsl_store_add_page_counts(s, day, "a", "/c", 1, 0, 0, 0), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_close(s);
  assert_int_equal(
      query_int("SELECT group_concat(path || ':' || entries || ':' || bounces, "
                "' ') = '/a:0:0 /b:1:1 /c:1:0' FROM (SELECT * FROM pages_daily "
                "WHERE length(path) < 10 ORDER BY path)"),
      1);
  assert_int_equal(query_int("SELECT visits * 100 + visitors * 10 + bounces "
                             "FROM devices_daily WHERE device = 'mobile' AND "
                             "channel = 'direct'"),
                   2 * 100 + 2 * 10 + 2);
  assert_int_equal(query_int("SELECT visits * 1000 + visitors * 100 + "
                             "pageviews * 10 + bounces FROM devices_daily "
                             "WHERE device = 'desktop' AND channel = "
                             "'organic_search'"),
                   1000 + 100 + 20 + 0);
  assert_int_equal(query_int("SELECT COUNT(*) FROM devices_daily"), 2);
}

/* Puts a closed direct visit of VISITOR on DAY, with the next id. */
static void put_closed_visit(bsl_store *s, int64_t *id, const char *day,
                             int64_t visitor) {
  bsl_visit_row v = direct_visit((*id)++, day, visitor, "/");
  v.is_open = false;
  assert_int_equal(bsl_store_put_visit(s, &v), 0);
}

/* Older lines after newer ones (a rotated log ingested after the live
 * one): the late visits of an old day count against the visitors of that
 * day still keyed, never against its numbered ones (no key equals a
 * number), so those are not read back; the day stays in memory while
 * commits keep touching it, rather than being read again at each; and the
 * newest day, no commit touching it any more, leaves memory. */
static void test_late_day_pairs(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  static const char *days[] = {"2026-11-01", "2026-11-02", "2026-11-03",
                               "2026-11-04"};
  enum { PER_DAY = 200, LATE_COMMITS = 5, LATE_PER_COMMIT = 20 };
  int64_t id = 1;
  /* four days in order, one commit each, every visit closed */
  for (int d = 0; d < 4; d++) {
    assert_int_equal(bsl_store_begin(s), 0);
    for (int i = 0; i < PER_DAY; i++)
      put_closed_visit(s, &id, days[d], 1000 * (d + 1) + i);
    /* the salts of the days before the day before are gone */
    if (d >= 2)
      assert_int_equal(bsl_store_number_visitors(s, days[d - 1]), 0);
    assert_int_equal(bsl_store_commit(s), 0);
  }
  bsl_store_agg_stats st;
  bsl_store_agg_stats_get(s, &st);
  uint64_t read_before = st.rows_read;
  /* the first day again, under a fresh salt: new keys */
  for (int c = 0; c < LATE_COMMITS; c++) {
    assert_int_equal(bsl_store_begin(s), 0);
    for (int i = 0; i < LATE_PER_COMMIT; i++)
      put_closed_visit(s, &id, days[0], 90000 + c * LATE_PER_COMMIT + i);
    assert_int_equal(bsl_store_number_visitors(s, days[2]), 0);
    assert_int_equal(bsl_store_commit(s), 0);
  }
  bsl_store_agg_stats_get(s, &st);
  /* pairs: day, segment and device x channel of each late visitor */
  assert_int_equal(st.pairs, 3 * LATE_COMMITS * LATE_PER_COMMIT);
  /* the late rows of earlier commits were numbered: none is read back */
  assert_int_equal(st.rows_read - read_before, 0);
  bsl_store_close(s);
  assert_int_equal(query_int("SELECT visits * 1000 + visitors FROM "
                             "visit_days WHERE day = '2026-11-01'"),
                   (PER_DAY + LATE_COMMITS * LATE_PER_COMMIT) * 1001);
  assert_int_equal(query_int("SELECT COUNT(*) FROM visit_log WHERE visitor > 0"
                             " AND day < '2026-11-03'"),
                   0);
}

/* The day before the newest leaves memory at the first commit after its
 * last visits (in order, they were closing); lines of it that keep coming
 * after that (its salt still exists: the same keys) are late data, and it
 * stays while commits touch it: read back once more, not at every commit. */
static void test_late_day_before_newest(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  static const char *days[] = {"2026-11-03", "2026-11-04"};
  enum { PER_DAY = 200, LATE_COMMITS = 4, LATE_PER_COMMIT = 20 };
  int64_t id = 1;
  for (int d = 0; d < 2; d++) {
    assert_int_equal(bsl_store_begin(s), 0);
    for (int i = 0; i < PER_DAY; i++)
      put_closed_visit(s, &id, days[d], 1000 * (d + 1) + i);
    assert_int_equal(bsl_store_commit(s), 0);
  }
  bsl_store_agg_stats st;
  bsl_store_agg_stats_get(s, &st);
  uint64_t read_before = st.rows_read;
  for (int c = 0; c < LATE_COMMITS; c++) {
    assert_int_equal(bsl_store_begin(s), 0);
    for (int i = 0; i < LATE_PER_COMMIT; i++) {
      /* half of them visitors of the first copy, with their keys */
      int64_t visitor =
          i % 2 ? 1000 + c * LATE_PER_COMMIT + i : 90000 + c * 100 + i;
      put_closed_visit(s, &id, days[0], visitor);
    }
    assert_int_equal(bsl_store_commit(s), 0);
  }
  bsl_store_agg_stats_get(s, &st);
  /* read back at the first late commit (it had left with the second day's
   * commit) and at the second (let go once): 200, then 200 + 20 rows */
  assert_int_equal(st.rows_read - read_before, 2 * PER_DAY + LATE_PER_COMMIT);
  bsl_store_close(s);
  /* the returning visitors count once */
  assert_int_equal(query_int("SELECT visits * 1000 + visitors FROM visit_days "
                             "WHERE day = '2026-11-03'"),
                   (PER_DAY + LATE_COMMITS * LATE_PER_COMMIT) * 1000 + PER_DAY +
                       LATE_COMMITS * LATE_PER_COMMIT / 2);
}

/* A day with an open visit that commits stop touching leaves memory after
 * BSL_STORE_OPEN_DAY_IDLE_COMMITS of them, not before; when its open visit
 * is written again the day is read back whole, and counts as if it had
 * stayed. */
static void test_idle_open_day_leaves_memory(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  enum { PER_DAY = 200, LATE = 5 };
  const char *today = "2026-11-04", *late_day = "2026-11-01";
  int64_t id = 1;
  assert_int_equal(bsl_store_begin(s), 0);
  bsl_visit_row open_visit = {0};
  for (int i = 0; i < PER_DAY; i++) {
    bsl_visit_row v = direct_visit(id++, today, 1000 + i, "/");
    v.is_open = i == PER_DAY - 1;
    if (v.is_open)
      open_visit = v;
    assert_int_equal(bsl_store_put_visit(s, &v), 0);
  }
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_agg_stats st;
  for (int c = 1; c <= BSL_STORE_OPEN_DAY_IDLE_COMMITS; c++) {
    assert_int_equal(bsl_store_begin(s), 0);
    for (int i = 0; i < LATE; i++)
      put_closed_visit(s, &id, late_day, 90000 + c * LATE + i);
    assert_int_equal(bsl_store_commit(s), 0);
    bsl_store_agg_stats_get(s, &st);
    /* three pairs a visitor: day, segment, device x channel */
    size_t today_pairs = c < BSL_STORE_OPEN_DAY_IDLE_COMMITS ? 3 * PER_DAY : 0;
    assert_int_equal(st.pairs, today_pairs + 3 * LATE * c);
  }
  uint64_t read_before = st.rows_read;
  /* the open visit ends with a second pageview */
  assert_int_equal(bsl_store_begin(s), 0);
  open_visit.is_open = false;
  open_visit.saved_before = true;
  open_visit.pageviews = 2;
  assert_int_equal(bsl_store_put_visit(s, &open_visit), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_agg_stats_get(s, &st);
  assert_int_equal(st.rows_read - read_before, PER_DAY);
  bsl_store_close(s);
  assert_int_equal(query_int("SELECT visits * 1000000 + visitors * 1000 + "
                             "pageviews FROM visit_days WHERE day = "
                             "'2026-11-04'"),
                   PER_DAY * 1000000 + PER_DAY * 1000 + PER_DAY + 1);
}

/* Parking (store.h): a parked visit is in one blob, counts nowhere until
 * it lands, keeps its day from the numbering, comes back whole on resume,
 * and lands in visit_log once, its goals then counted. */
struct parked_seen {
  int visits, pages, goals;
  bool parked;
  int64_t pageviews;
};
static void parked_visit(void *ctx, const bsl_visit_row *v) {
  struct parked_seen *p = ctx;
  p->visits++;
  p->parked = v->parked;
  p->pageviews = v->pageviews;
  assert_string_equal(v->exit_path, "/out");
  assert_string_equal(v->channel, "direct");
}
static void parked_page(void *ctx, int64_t id, const char *path, int64_t pv,
                        int64_t entries, int max_scroll) {
  struct parked_seen *p = ctx;
  assert_int_equal(id, 5);
  assert_string_equal(path, p->pages == 0 ? "/in" : "/out");
  assert_int_equal(pv, 1);
  assert_int_equal(entries, p->pages == 0);
  assert_int_equal(max_scroll, p->pages == 0 ? 60 : 0);
  p->pages++;
}
static void parked_goal(void *ctx, int64_t id, const char *goal) {
  assert_int_equal(id, 5);
  assert_string_equal(goal, "signup");
  ((struct parked_seen *)ctx)->goals++;
}

static void test_parked_visits(void **state) {
  (void)state;
  char err[512];
  bsl_store *s;
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  assert_true(bsl_store_can_park(s));
  bsl_visit_row v = direct_visit(5, "2026-11-02", 77, "/in");
  v.pageviews = 2;
  v.conversions = 1;
  v.exit_path = "/out";
  v.pages_json = "[[\"/in\",1,1,60],[\"/out\",1,0,0]]";
  v.parked = true;
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_park_reset(s), 0);
  assert_int_equal(bsl_store_put_visits(s, &v, 1), 0);
  assert_int_equal(bsl_store_put_visit_goal(s, 5, "signup"), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_close(s);
  /* counted nowhere yet, its day held back from the numbering */
  assert_int_equal(query_int("SELECT COUNT(*) FROM visit_log"), 0);
  assert_int_equal(query_int("SELECT COUNT(*) FROM channels_daily"), 0);
  assert_int_equal(query_int("SELECT COUNT(*) FROM goal_counts"), 0);
  assert_int_equal(query_int("SELECT COUNT(*) FROM visit_parked"), 1);
  assert_int_equal(query_int("SELECT COUNT(*) FROM visit_parked_days WHERE "
                             "day = '2026-11-02' AND site = 'a'"),
                   1);

  /* resumed whole, marked parked */
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  struct parked_seen seen = {0};
  bsl_open_visit_cbs cbs = {parked_visit, parked_page, parked_goal, &seen};
  assert_int_equal(bsl_store_load_open_visits(s, &cbs), 0);
  assert_int_equal(seen.visits, 1);
  assert_true(seen.parked);
  assert_int_equal(seen.pageviews, 2);
  assert_int_equal(seen.pages, 2);
  assert_int_equal(seen.goals, 1);

  /* the next commit empties the parking and the visit lands, closed */
  v.parked = false;
  v.parked_before = true;
  v.is_open = false;
  assert_int_equal(bsl_store_begin(s), 0);
  assert_int_equal(bsl_store_park_reset(s), 0);
  assert_int_equal(bsl_store_put_visits(s, &v, 1), 0);
  assert_int_equal(bsl_store_commit(s), 0);
  bsl_store_close(s);
  assert_int_equal(query_int("SELECT COUNT(*) FROM visit_parked"), 0);
  assert_int_equal(query_int("SELECT COUNT(*) FROM visit_parked_days"), 0);
  assert_int_equal(query_int("SELECT COUNT(*) FROM visit_log WHERE "
                             "visit_id = 5 AND is_open = 0"),
                   1);
  assert_int_equal(query_int("SELECT visits * 10 + conversions FROM "
                             "channels_daily"),
                   11);
  assert_int_equal(query_int("SELECT conversions FROM goal_counts WHERE "
                             "goal = 'signup' AND channel = 'direct'"),
                   1);
  assert_int_equal(query_int("SELECT entries FROM page_counts WHERE "
                             "path = '/in'"),
                   1);

  /* a damaged blob is refused with a message, never read past its end */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO visit_parked(part, visits) "
                                "VALUES(1, X'42534C500100')",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(bsl_store_open(&s, db_path, err, sizeof err), 0);
  memset(&seen, 0, sizeof seen);
  assert_int_equal(bsl_store_load_open_visits(s, &cbs), -1);
  assert_non_null(strstr(bsl_store_error(s), "visit_parked holds a malformed"));
  assert_int_equal(seen.visits, 0);
  bsl_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_schema_and_views, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migration_moves_salts_out, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_text_is_valid_utf8, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_page_size_of_new_and_existing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_unwritable_path, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counters_add_up_and_rollback, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_file_state_round_trip, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_open_visits_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_locked_database_reports_error, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_put_visits_batches_and_hints, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_late_day_pairs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_late_day_before_newest, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_idle_open_day_leaves_memory, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_parked_visits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_landing_and_device_counters, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
