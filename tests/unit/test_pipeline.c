/*
 * Unit tests of the exactly-once pipeline (analyze/run/pipeline.c), through
 * its public calls on a real file and a real database:
 *
 *  - a commit that fails (the database locked by another connection's
 *    BEGIN IMMEDIATE; a write failing half-way through the transaction) is
 *    retried by the next commit: nothing lost, nothing doubled;
 *  - a failure of the writer thread is reported by the next
 *    bsl_pipeline_commit_async or bsl_pipeline_sync, and nothing after it
 *    is committed;
 *  - memory running out (a visit, or a changeset being prepared; see
 *    fault.h) fails the pipeline for good: every later line and commit is
 *    refused, nothing of the failed commit reaches the database, and a new
 *    pipeline resumes from the last commit.
 *
 * "Nothing lost, nothing doubled" is checked against a clean run: every
 * view of the database must equal that of one pipeline that read the same
 * file and committed once.
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
#include <time.h>

#include "config.h"
#include "fault.h"
#include "feeder.h"
#include "format.h"
#include "pipeline.h"
#include "reader.h"
#include "skip.h"
#include "store.h"

#define TMPDIR_PREFIX "/tmp/test_pipeline.XXXXXX"
#include "tmpdir.h"

#define SITE "www.example.com"
#define N_LINES 300
/* 2026-11-02T22:00:00Z: the lines run past midnight */
#define T0 1793656800

static bsl_config *cfg;
static char log_path[512];
static char *clean; /* the views after one clean run */

/* ---- the input ---- */

/*
 * Line I of the log: one a minute; even lines come from 7 returning
 * visitors (their visits go on), odd ones each from a new address (a
 * one-page visit, closed half an hour later, so closed visits are committed
 * as the file is read); every tenth line is garbage (a reject).
 */
static void log_line(FILE *f, int i) {
  if (i % 10 == 9) {
    fprintf(f, "garbage line %d\n", i);
    return;
  }
  char addr[32], when[64];
  if (i % 2 == 0)
    snprintf(addr, sizeof addr, "192.0.2.%d", i % 7 + 1);
  else
    snprintf(addr, sizeof addr, "10.0.%d.%d", i / 256, i % 256);
  time_t t = T0 + 60 * (time_t)i;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  fprintf(f,
          "%s - - [%s] \"GET /p%d HTTP/1.1\" %d 512 \"-\" \"Mozilla/5.0 "
          "(X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\"\n",
          addr, when, i % 13, i % 17 == 0 ? 404 : 200);
}

/* ---- driving a pipeline ---- */

typedef struct feed {
  bsl_reader *r;
  bsl_input in;
  size_t lines; /* accounted so far */
} feed;

static bsl_pipeline *open_pipeline(const char *db) {
  bsl_pipeline *p;
  char err[1024];
  int rc = bsl_pipeline_open(&p, cfg, db, err, sizeof err);
  if (rc != 0)
    fail_msg("bsl_pipeline_open: %s", err);
  return p;
}

/* Opens the log for P; a resumed file skips what was committed. */
static void begin(bsl_pipeline *p, feed *f) {
  char err[1024];
  const char *why;
  memset(f, 0, sizeof *f);
  assert_int_equal(bsl_reader_open(&f->r, log_path, err, sizeof err), 0);
  int rc = bsl_pipeline_input_begin(p, &f->in, f->r, log_path, NULL, "combined",
                                    SITE, &why, err, sizeof err);
  if (rc != 0)
    fail_msg("bsl_pipeline_input_begin: %d %s %s", rc, why ? why : "", err);
}

static void end(feed *f) {
  bsl_reader_close(f->r);
}

/* Accounts up to N more lines (all that are left when N is 0); returns
 * -1 with ERR set when the pipeline refused one, else 0. */
static int feed_lines(bsl_pipeline *p, feed *f, size_t n, char *err,
                      size_t errlen) {
  bsl_line line;
  for (size_t k = 0; n == 0 || k < n; k++) {
    int rc = bsl_reader_next(f->r, &line, err, errlen);
    assert_true(rc >= 0);
    if (rc == 0)
      break;
    /* parsed here as the feeder's thread would; the model derives the
     * rest of the hit at its door */
    bsl_fed_line fl = {.line = line, .parsed = true};
    fl.hit.derived = false;
    fl.parse_rc = line.kind == BSL_LINE_OK
                      ? bsl_format_parse(f->in.format, line.ptr, line.len,
                                         &fl.hit, &fl.reason)
                      : -1;
    if (fl.parse_rc != 0 && !fl.reason)
      fl.reason = line.reason ? line.reason : "unparsable line";
    if (bsl_pipeline_fed_line(p, &f->in, &fl, err, errlen) != 0)
      return -1;
    f->in.st.offset = (int64_t)line.end;
    f->lines++;
  }
  return 0;
}

static void feed_ok(bsl_pipeline *p, feed *f, size_t n) {
  char err[1024];
  if (feed_lines(p, f, n, err, sizeof err) != 0)
    fail_msg("bsl_pipeline_fed_line: %s", err);
}

static int commit(bsl_pipeline *p, feed *f, char *err, size_t errlen) {
  bsl_input *inputs[1] = {&f->in};
  return bsl_pipeline_commit(p, inputs, 1, err, errlen);
}

static int commit_async(bsl_pipeline *p, feed *f, char *err, size_t errlen) {
  bsl_input *inputs[1] = {&f->in};
  return bsl_pipeline_commit_async(p, inputs, 1, err, errlen);
}

static void commit_ok(bsl_pipeline *p, feed *f) {
  char err[1024];
  if (commit(p, f, err, sizeof err) != 0)
    fail_msg("bsl_pipeline_commit: %s", err);
}

/* Reads the rest of the log with a new pipeline on DB, commits, closes. */
static void resume(const char *db) {
  bsl_pipeline *p = open_pipeline(db);
  feed f;
  begin(p, &f);
  feed_ok(p, &f, 0);
  commit_ok(p, &f);
  end(&f);
  bsl_pipeline_close(p);
}

/* ---- reading the database ---- */

static void append_rows(sqlite3 *h, const char *sql, FILE *out) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  fprintf(out, "== %s\n", sql);
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const unsigned char *t = sqlite3_column_text(st, c);
      fprintf(out, "%s%s", c ? "|" : "", t ? (const char *)t : "NULL");
    }
    fputc('\n', out);
  }
  sqlite3_finalize(st);
}

/* Every view an analyst reads, in a stable order (malloc'd).  Visitor
 * hashes are left out: each database has its own day salts. */
static char *dump(const char *db) {
  static const char *const queries[] = {
      "SELECT day, site, hits, bot_hits, pageviews, visits, bounces "
      "FROM traffic_daily ORDER BY 1, 2",
      "SELECT * FROM status_daily ORDER BY 1, 2, 3",
      "SELECT * FROM pages_daily ORDER BY 1, 2, 3",
      "SELECT visit_id, site, day, started_at, ended_at, pageviews, channel, "
      "device, landing_path, exit_path, bounced, is_open FROM visits "
      "ORDER BY visit_id",
      "SELECT path, offset, lines, hits, rejects FROM sources ORDER BY path",
      "SELECT offset, reason, excerpt FROM rejects ORDER BY offset",
      "SELECT key, value FROM meta WHERE key = 'next_visit_id'",
  };
  sqlite3 *h;
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  assert_non_null(out);
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
    append_rows(h, queries[i], out);
  sqlite3_close(h);
  fclose(out);
  return buf;
}

static long long query_int(const char *db, const char *sql) {
  sqlite3 *h;
  sqlite3_stmt *st;
  long long v = -1;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

static long long lines_committed(const char *db) {
  return query_int(db, "SELECT COALESCE(SUM(lines), 0) FROM sources");
}

static void assert_same_as_clean(const char *db) {
  char *got = dump(db);
  assert_string_equal(got, clean);
  free(got);
}

/* Another connection's write transaction on DB, as an analyst's would be. */
static sqlite3 *lock_db(const char *db) {
  sqlite3 *h;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                   SQLITE_OK);
  return h;
}

static void unlock_db(sqlite3 *h) {
  assert_int_equal(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
}

static void exec_sql(const char *db, const char *sql) {
  sqlite3 *h;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
}

/* ---- fixtures ---- */

static int setup(void **state) {
  char err[512];
  if (setup_dir(state) != 0)
    return -1;
  /* a locked database fails a commit after 100 ms, not 10 s */
  bsl_store_set_busy_timeout(100);
  if (bsl_config_load(&cfg, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "config: %s\n", err);
    return -1;
  }
  snprintf(log_path, sizeof log_path, "%s/access.log", tmpdir);
  FILE *f = fopen(log_path, "w");
  if (!f)
    return -1;
  for (int i = 0; i < N_LINES; i++)
    log_line(f, i);
  fclose(f);
  return 0;
}

static int teardown(void **state) {
  free(clean);
  bsl_config_destroy(cfg);
  return remove_dir(state);
}

/* The reference, and a check of the input itself: every line counted, the
 * garbage rejected, visits closed along the way and some still open. */
static void test_clean_run(void **state) {
  (void)state;
  const char *db = tmp_path(".db");
  resume(db);
  assert_int_equal(lines_committed(db), N_LINES);
  assert_int_equal(query_int(db, "SELECT SUM(rejects) FROM sources"),
                   N_LINES / 10);
  assert_int_equal(query_int(db, "SELECT SUM(hits) FROM traffic_daily"),
                   N_LINES - N_LINES / 10);
  assert_int_equal(query_int(db, "SELECT COUNT(DISTINCT day) FROM visits"), 2);
  assert_true(query_int(db, "SELECT COUNT(*) FROM visits WHERE is_open = 0") >
              50);
  assert_true(query_int(db, "SELECT COUNT(*) FROM visits WHERE is_open = 1") >
              0);
  clean = dump(db);
}

/* A commit refused by a locked database commits nothing; the next one,
 * once the lock is gone, commits its lines and the failed commit's. */
static void test_commit_retried_after_locked_database(void **state) {
  (void)state;
  assert_non_null(clean);
  const char *db = tmp_path(".db");
  char err[1024];
  bsl_pipeline *p = open_pipeline(db);
  feed f;
  begin(p, &f);
  feed_ok(p, &f, 100);
  commit_ok(p, &f);

  sqlite3 *lock = lock_db(db);
  feed_ok(p, &f, 100);
  assert_int_equal(commit(p, &f, err, sizeof err), -1);
  assert_non_null(strstr(err, "locked"));
  assert_true(f.in.dirty); /* its state is still to be committed */
  assert_false(bsl_pipeline_failed(p));
  unlock_db(lock);
  assert_int_equal(lines_committed(db), 100);

  feed_ok(p, &f, 0);
  commit_ok(p, &f);
  end(&f);
  bsl_pipeline_close(p);
  assert_same_as_clean(db);
}

/* A commit whose transaction fails half-way (a trigger aborts the update
 * of the read positions, after the counters and visits were written) is
 * rolled back whole, and retried whole by the next commit. */
static void test_commit_retried_after_failure_mid_transaction(void **state) {
  (void)state;
  assert_non_null(clean);
  const char *db = tmp_path(".db");
  char err[1024];
  bsl_pipeline *p = open_pipeline(db);
  feed f;
  begin(p, &f);
  feed_ok(p, &f, 100);
  commit_ok(p, &f);

  exec_sql(db, "CREATE TABLE fail_now(x);"
               "INSERT INTO fail_now VALUES (1);"
               "CREATE TRIGGER fail_files BEFORE UPDATE ON files"
               " WHEN EXISTS (SELECT 1 FROM fail_now)"
               " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  feed_ok(p, &f, 100);
  assert_int_equal(commit(p, &f, err, sizeof err), -1);
  assert_non_null(strstr(err, "injected failure"));
  feed_ok(p, &f, 50);
  assert_int_equal(commit(p, &f, err, sizeof err), -1); /* again */
  assert_int_equal(lines_committed(db), 100);
  assert_int_equal(query_int(db, "SELECT SUM(hits) FROM hit_counts"),
                   100 - 100 / 10);

  exec_sql(db, "DELETE FROM fail_now");
  feed_ok(p, &f, 0);
  commit_ok(p, &f);
  end(&f);
  bsl_pipeline_close(p);
  assert_same_as_clean(db);
}

/*
 * The writer thread's commit fails (locked database): the failure comes
 * back from the next bsl_pipeline_commit_async (first pipeline) or from
 * bsl_pipeline_sync (second), and from every later commit, even once the
 * lock is gone: the failed commit's changes are lost, so no later read
 * position may be committed.  The next run resumes from the last commit.
 */
static void test_writer_failure_reported(void **state) {
  (void)state;
  assert_non_null(clean);
  if (!bsl_store_threadsafe())
    SKIP_BECAUSE("SQLite is built single-threaded: the pipeline has no "
                 "writer thread\n");
  char err[1024];
  for (int sync_first = 0; sync_first < 2; sync_first++) {
    const char *db = tmp_path(".db");
    bsl_pipeline *p = open_pipeline(db);
    feed f;
    begin(p, &f);
    feed_ok(p, &f, 100);
    assert_int_equal(commit_async(p, &f, err, sizeof err), 0);
    assert_int_equal(bsl_pipeline_sync(p, err, sizeof err), 0);
    assert_int_equal(lines_committed(db), 100);
    int64_t committed_offset = f.in.st.offset;

    sqlite3 *lock = lock_db(db);
    feed_ok(p, &f, 100);
    /* handed over: the writer fails on it after the busy timeout */
    assert_int_equal(commit_async(p, &f, err, sizeof err), 0);
    feed_ok(p, &f, 50);
    err[0] = '\0';
    if (sync_first) {
      assert_int_equal(bsl_pipeline_sync(p, err, sizeof err), -1);
      assert_non_null(strstr(err, "locked"));
      err[0] = '\0';
    }
    assert_int_equal(commit_async(p, &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "locked"));
    err[0] = '\0';
    assert_int_equal(bsl_pipeline_sync(p, err, sizeof err), -1);
    assert_non_null(strstr(err, "locked"));
    unlock_db(lock);

    /* the lock is gone, but the pipeline lost a commit: nothing more */
    feed_ok(p, &f, 0);
    assert_int_equal(commit(p, &f, err, sizeof err), -1);
    assert_int_equal(commit_async(p, &f, err, sizeof err), -1);
    assert_int_equal(bsl_pipeline_sync(p, err, sizeof err), -1);
    end(&f);
    bsl_pipeline_close(p);
    assert_int_equal(lines_committed(db), 100);
    assert_int_equal(query_int(db, "SELECT MAX(offset) FROM sources"),
                     committed_offset);
    assert_int_equal(query_int(db, "SELECT SUM(hits) FROM hit_counts"),
                     100 - 100 / 10);

    resume(db);
    assert_same_as_clean(db);
  }
}

/*
 * Memory runs out for a visit (BSL_FAIL_ALLOC=visit:N): the line is
 * refused with a message, the pipeline is failed for good (memory coming
 * back changes nothing): every later line and commit is refused, so the
 * read position of a line whose effects were lost is never committed.
 */
static void test_out_of_memory_refuses_commits(void **state) {
  (void)state;
  assert_non_null(clean);
  const char *db = tmp_path(".db");
  char err[1024];
  bsl_pipeline *p = open_pipeline(db);
  feed f;
  begin(p, &f);
  feed_ok(p, &f, 100);
  commit_ok(p, &f);
  int64_t committed_offset = f.in.st.offset;

  bsl_fault_configure("visit:5");
  size_t before = f.lines;
  assert_int_equal(feed_lines(p, &f, 50, err, sizeof err), -1);
  bsl_fault_configure(NULL);
  assert_true(f.lines - before < 20); /* the fifth new visit, about */
  assert_non_null(strstr(err, "out of memory"));
  assert_true(bsl_pipeline_failed(p));

  /* every later line is refused, a reject as much as a hit */
  for (int i = 0; i < 10; i++)
    assert_int_equal(feed_lines(p, &f, 1, err, sizeof err), -1);
  err[0] = '\0';
  assert_int_equal(commit(p, &f, err, sizeof err), -1);
  assert_non_null(strstr(err, "out of memory"));
  err[0] = '\0';
  assert_int_equal(commit_async(p, &f, err, sizeof err), -1);
  assert_non_null(strstr(err, "out of memory"));
  end(&f);
  bsl_pipeline_close(p);
  assert_int_equal(lines_committed(db), 100);
  assert_int_equal(query_int(db, "SELECT MAX(offset) FROM sources"),
                   committed_offset);

  resume(db);
  assert_same_as_clean(db);
}

/*
 * Memory runs out while a commit is prepared (BSL_FAIL_ALLOC=changeset:N,
 * a few records into it): the half-built changeset is never applied - not
 * one counter of it reaches the database - and the pipeline is failed for
 * good, by either commit call.
 */
static void test_failed_changeset_not_committed(void **state) {
  (void)state;
  assert_non_null(clean);
  for (int async = 0; async < 2; async++) {
    const char *db = tmp_path(".db");
    char err[1024];
    bsl_pipeline *p = open_pipeline(db);
    feed f;
    begin(p, &f);
    feed_ok(p, &f, 100);
    /* growths 1 and 2 (records, strings) succeed, the next one fails */
    bsl_fault_configure("changeset:3");
    err[0] = '\0';
    int rc = async ? commit_async(p, &f, err, sizeof err)
                   : commit(p, &f, err, sizeof err);
    bsl_fault_configure(NULL);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "out of memory"));
    assert_true(bsl_pipeline_failed(p));
    assert_int_equal(commit(p, &f, err, sizeof err), -1);
    assert_int_equal(commit_async(p, &f, err, sizeof err), -1);
    assert_int_equal(bsl_pipeline_sync(p, err, sizeof err), 0);
    end(&f);
    bsl_pipeline_close(p);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM hit_counts"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM visit_log"), 0);
    char salts[4200];
    snprintf(salts, sizeof salts, "%s.salts", db);
    assert_int_equal(query_int(salts, "SELECT COUNT(*) FROM day_salts"), 0);
    assert_int_equal(lines_committed(db), 0);
    assert_int_equal(query_int(db, "SELECT MAX(offset) FROM sources"), 0);

    resume(db);
    assert_same_as_clean(db);
  }
}

/* While the writer thread still writes a commit, the next one comes due at
 * twice the lines (and visits) it otherwise would: the model goes on with
 * its lines rather than waiting for the writer (pipeline.h).  The writer is
 * held by another connection's write transaction, as an analyst's. */
static void test_next_commit_due_later_while_writing(void **state) {
  (void)state;
  assert_non_null(clean);
  const char *db = tmp_path(".db");
  char err[1024];
  bsl_store_set_busy_timeout(30000); /* the writer waits for the lock */
  bsl_pipeline *p = open_pipeline(db);
  bsl_pipeline_set_flush_lines(p, 40);
  feed f;
  begin(p, &f);
  feed_ok(p, &f, 39);
  assert_false(bsl_pipeline_commit_due(p));
  feed_ok(p, &f, 1);
  assert_true(bsl_pipeline_commit_due(p)); /* the writer is idle: 40 */

  sqlite3 *lock = lock_db(db);
  bsl_input *inputs[1] = {&f.in};
  assert_int_equal(bsl_pipeline_commit_start(p, inputs, 1, err, sizeof err), 0);
  assert_true(bsl_pipeline_commit_pending(p));
  feed_ok(p, &f, 40);
  assert_false(bsl_pipeline_commit_due(p)); /* still writing: not at 40 */
  feed_ok(p, &f, 39);
  assert_false(bsl_pipeline_commit_due(p));
  feed_ok(p, &f, 1);
  assert_true(bsl_pipeline_commit_due(p)); /* at 80 even so */
  assert_true(bsl_pipeline_commit_pending(p));
  unlock_db(lock);
  assert_int_equal(bsl_pipeline_sync(p, err, sizeof err), 0);
  assert_int_equal(lines_committed(db), 40);
  assert_true(bsl_pipeline_commit_due(p)); /* idle again: 80 >= 40 */

  feed_ok(p, &f, 0);
  commit_ok(p, &f);
  end(&f);
  bsl_pipeline_close(p);
  bsl_store_set_busy_timeout(100);
  assert_same_as_clean(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clean_run),
      cmocka_unit_test(test_commit_retried_after_locked_database),
      cmocka_unit_test(test_commit_retried_after_failure_mid_transaction),
      cmocka_unit_test(test_writer_failure_reported),
      cmocka_unit_test(test_out_of_memory_refuses_commits),
      cmocka_unit_test(test_failed_changeset_not_committed),
      cmocka_unit_test(test_next_commit_due_later_while_writing),
  };
  return unit_exit(cmocka_run_group_tests(tests, setup, teardown));
}
