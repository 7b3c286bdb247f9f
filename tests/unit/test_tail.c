/*
 * Unit tests for ingest/tail.c, on a real libuv loop and real files, with
 * a small store of their own behind the callbacks (files known by
 * fingerprint, committed offsets): the reading order of a rotation set
 * (oldest generation first, across two sets), a young .gz holding back the
 * newer generations until it settles, a partial last line held until its
 * newline, rename+create (the renamed file read to its end first, its row
 * told the new path), copytruncate (the live file released only once
 * committed, the copy read from the committed offset: nothing twice), a
 * gone file kept until its lines are committed, a line callback that
 * refuses (reading stops), generations renamed or copied while a scan
 * opens them (the newer ones wait for the next scan), and reads done by the
 * caller's thread (one at a time, stopped by a pause, a line appended
 * during a read that saw the end read at once).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "tail.h"

static char tmpdir[256];

/* ---- the test's store: rows by fingerprint, and the files being read ---- */

typedef struct row {
  int fp_len;
  char fp[BSL_FINGERPRINT_HEX + 1];
  uint64_t offset; /* committed */
} row;

typedef struct tfile {
  bsl_reader *r;
  row *row;
  char path[512];
  bool open, kept;
} tfile;

typedef struct fixture {
  uv_loop_t loop;
  bsl_config cfg;
  bsl_source_conf src[2];
  bsl_tail *tail;
  row rows[64];
  size_t n_rows;
  tfile files[64];
  size_t n_files;
  char lines[256][128]; /* "name:text" in the order handed out */
  size_t n_lines;
  char renames[16][512];
  size_t n_renames;
  int refuse_after;  /* the line callback refuses from then on (-1: never) */
  bool hold_commits; /* committed() says no */
  /* called at the first open, in the middle of the scan that listed the
   * files: logrotate renaming one that is listed but not opened yet */
  void (*during_scan)(void);
  /* reads are the test's to serve (read callback): the one asked for */
  bool deferred;
  tfile *pending;
  size_t pending_budget;
  int reads, stops_asked;
} fixture;

static fixture fx;

static void cb_log(void *ctx, const char *level, const char *msg) {
  (void)ctx;
  if (getenv("TEST_TAIL_VERBOSE"))
    fprintf(stderr, "  [%s] %s\n", level, msg);
}

/* Like bsl_pipeline_input_begin(): known by any stored prefix, re-keyed on
 * a longer one; resumes at the committed offset. */
static int cb_open(void *ctx, const bsl_source_conf *src, const char *path,
                   bsl_reader *r, bsl_tail_ident *id, char *err,
                   size_t errlen) {
  (void)ctx;
  (void)src;
  if (fx.during_scan) {
    void (*hook)(void) = fx.during_scan;
    fx.during_scan = NULL;
    hook();
  }
  size_t prefix = bsl_reader_prefix_len(r);
  row *found = NULL;
  for (size_t i = 0; i < fx.n_rows && !found; i++) {
    char hex[BSL_FINGERPRINT_HEX + 1];
    if ((size_t)fx.rows[i].fp_len > prefix)
      continue;
    bsl_reader_fingerprint(r, (size_t)fx.rows[i].fp_len, hex);
    if (strcmp(hex, fx.rows[i].fp) == 0)
      found = &fx.rows[i];
  }
  if (!found) {
    found = &fx.rows[fx.n_rows++];
    found->offset = 0;
  }
  found->fp_len = (int)prefix;
  bsl_reader_fingerprint(r, prefix, found->fp);
  if (found->offset > 0 &&
      bsl_reader_skip_to(r, found->offset, err, errlen) != 0)
    return 1; /* shorter than what was read: nothing new */
  tfile *f = &fx.files[fx.n_files++];
  f->r = r;
  f->row = found;
  f->open = true;
  snprintf(f->path, sizeof f->path, "%s", path);
  id->file = f;
  id->fp_len = found->fp_len;
  memcpy(id->fingerprint, found->fp, sizeof id->fingerprint);
  return 0;
}

static int cb_line(void *ctx, void *file, const bsl_line *line) {
  (void)ctx;
  tfile *f = file;
  if (fx.refuse_after >= 0 && fx.n_lines >= (size_t)fx.refuse_after)
    return -1;
  assert_true(fx.n_lines < 256);
  snprintf(fx.lines[fx.n_lines++], sizeof fx.lines[0], "%s:%.*s",
           strrchr(f->path, '/') + 1, (int)line->len, line->ptr);
  return 0;
}

/* The read callback of a caller with a reader thread: the test serves the
 * read (serve()) when it likes. */
static int cb_read(void *ctx, void *file, bsl_reader *r, size_t budget) {
  (void)ctx;
  tfile *f = file;
  assert_null(fx.pending); /* one read at a time */
  assert_ptr_equal(f->r, r);
  fx.pending = f;
  fx.pending_budget = budget;
  fx.reads++;
  return 0;
}

static void cb_stop_read(void *ctx) {
  (void)ctx;
  fx.stops_asked++;
}

/* Reads the pending read's lines as a reader thread would; with AFTER (not
 * NULL) called once it saw the end, before the tail learns so. */
static void serve(void (*after)(void)) {
  tfile *f = fx.pending;
  assert_non_null(f);
  char err[256] = "";
  bsl_line line;
  int got = 1;
  for (size_t n = 0; n < fx.pending_budget; n++) {
    got = bsl_reader_next(f->r, &line, err, sizeof err);
    if (got <= 0)
      break;
    assert_int_equal(cb_line(NULL, f, &line), 0);
  }
  if (after)
    after();
  fx.pending = NULL;
  bsl_tail_read_done(fx.tail, got > 0 ? 1 : got, err);
}

static void cb_renamed(void *ctx, void *file, const char *path) {
  (void)ctx;
  tfile *f = file;
  snprintf(f->path, sizeof f->path, "%s", path);
  snprintf(fx.renames[fx.n_renames++], sizeof fx.renames[0], "%s",
           strrchr(path, '/') + 1);
}

static bool cb_committed(void *ctx, void *file, uint64_t *offset) {
  (void)ctx;
  tfile *f = file;
  *offset = f->row->offset;
  return !fx.hold_commits && f->row->offset == bsl_reader_offset(f->r);
}

static void cb_release(void *ctx, void *file, bool keep) {
  (void)ctx;
  tfile *f = file;
  f->open = false;
  f->kept = keep;
  f->r = NULL;
}

static void cb_forget(void *ctx, void *file) {
  (void)ctx;
  ((tfile *)file)->kept = false;
}

/* Commits every open file's offset, then lets the tail release. */
static void commit(void) {
  if (fx.hold_commits)
    return;
  for (size_t i = 0; i < fx.n_files; i++)
    if (fx.files[i].open)
      fx.files[i].row->offset = bsl_reader_offset(fx.files[i].r);
  bsl_tail_release_committed(fx.tail);
}

/* Runs the loop for about MS milliseconds, committing every 100 ms. */
static void spin(int ms) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int next_commit = 100;
  for (;;) {
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    clock_gettime(CLOCK_MONOTONIC, &t);
    long el =
        (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
    if (el >= next_commit) {
      commit();
      next_commit += 100;
    }
    if (el >= ms)
      break;
    struct timespec nap = {0, 2 * 1000000};
    nanosleep(&nap, NULL);
  }
}

static char *in_dir(const char *name) {
  static char paths[16][512];
  static int k;
  char *p = paths[k++ % 16];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  return p;
}

static void put(const char *name, const char *text, const char *mode) {
  FILE *f = fopen(in_dir(name), mode);
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static void put_gz(const char *name, const char *text, time_t age) {
  gzFile g = gzopen(in_dir(name), "wb");
  assert_non_null(g);
  assert_int_equal(gzwrite(g, text, (unsigned)strlen(text)), (int)strlen(text));
  assert_int_equal(gzclose(g), Z_OK);
  struct timespec ts[2];
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= age;
  ts[1] = ts[0];
  assert_int_equal(utimensat(AT_FDCWD, in_dir(name), ts, 0), 0);
}

/* Starts a tail on source "www" = PATTERN (and "b" = PATTERN2 if any), HOOK
 * (or NULL) run during its first scan (fixture.during_scan). */
static void start_with(const char *pattern, const char *pattern2,
                       void (*hook)(void)) {
  char err[512];
  bool deferred = fx.deferred;
  memset(&fx, 0, sizeof fx);
  fx.deferred = deferred;
  fx.refuse_after = -1;
  fx.during_scan = hook;
  assert_int_equal(uv_loop_init(&fx.loop), 0);
  fx.src[0].name = "www";
  fx.src[0].path = in_dir(pattern);
  fx.src[1].name = "b";
  fx.src[1].path = pattern2 ? in_dir(pattern2) : NULL;
  fx.cfg.sources = fx.src;
  fx.cfg.n_sources = pattern2 ? 2 : 1;
  bsl_tail_callbacks cb = {.log = cb_log,
                           .open = cb_open,
                           .read = deferred ? cb_read : NULL,
                           .stop_read = deferred ? cb_stop_read : NULL,
                           .line = cb_line,
                           .renamed = cb_renamed,
                           .committed = cb_committed,
                           .release = cb_release,
                           .forget = cb_forget};
  assert_int_equal(
      bsl_tail_start(&fx.tail, &fx.loop, &fx.cfg, &cb, err, sizeof err), 0);
}

static void start(const char *pattern, const char *pattern2) {
  start_with(pattern, pattern2, NULL);
}

static void start_hooked(const char *pattern, void (*hook)(void)) {
  start_with(pattern, NULL, hook);
}

static void stop(void) {
  bsl_tail_stop(fx.tail);
  for (size_t i = 0; i < fx.n_files; i++)
    assert_false(fx.files[i].open || fx.files[i].kept);
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&fx.loop), 0);
}

static void expect_lines(const char *const *want, size_t n) {
  for (size_t i = 0; i < n && i < fx.n_lines; i++)
    assert_string_equal(fx.lines[i], want[i]);
  assert_int_equal(fx.n_lines, n);
}

static int empty_dir(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -f '%s'/*", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- the tests ---- */

static void test_order(void **state) {
  (void)state;
  /* created newest first: the order must come from the names */
  put("access.log", "c1\nc2\n", "w");
  put("access.log.1", "b1\n", "w");
  put_gz("access.log.2.gz", "a1\na2\n", 60);
  put_gz("access.log.10.gz", "z1\n", 60);
  put("other.log", "o1\n", "w");
  put("other.log-20261203", "n1\n", "w");
  start("access.log*", "other.log");
  spin(200);
  const char *want[] = {"access.log.10.gz:z1",   "access.log.2.gz:a1",
                        "access.log.2.gz:a2",    "access.log.1:b1",
                        "access.log:c1",         "access.log:c2",
                        "other.log-20261203:n1", "other.log:o1"};
  expect_lines(want, 8);
  /* the .gz read to its end are let go (and kept for their renames) */
  size_t kept = 0;
  for (size_t i = 0; i < fx.n_files; i++)
    kept += fx.files[i].kept;
  assert_int_equal(kept, 2);
  stop();
}

static void test_young_gz_holds_back(void **state) {
  (void)state;
  put("access.log", "c1\n", "w");
  put("access.log.1", "b1\n", "w");
  put_gz("access.log.2.gz", "a1\n", 0); /* may still be being written */
  start("access.log*", NULL);
  spin(300);
  assert_int_equal(fx.n_lines, 0);       /* nothing newer before it */
  put_gz("access.log.2.gz", "a1\n", 10); /* settled */
  spin(1200);                            /* the next rescan */
  const char *want[] = {"access.log.2.gz:a1", "access.log.1:b1",
                        "access.log:c1"};
  expect_lines(want, 3);
  stop();
}

static void test_partial_line(void **state) {
  (void)state;
  put("access.log", "x1\nx2", "w");
  start("access.log", NULL);
  spin(200);
  const char *want1[] = {"access.log:x1"};
  expect_lines(want1, 1);
  put("access.log", "-end\nx3\n", "a");
  spin(1200); /* an inotify event, or at worst the rescan */
  const char *want2[] = {"access.log:x1", "access.log:x2-end", "access.log:x3"};
  expect_lines(want2, 3);
  stop();
}

/* Lines appended while a read is in flight, after it saw the end of the
 * file: the tail must read again at once, not at the next rescan. */
static void append_x3(void) {
  put("access.log", "x3\n", "a");
  spin(100); /* the directory event comes during the read */
}

/* Reads done by the caller's thread (the read callback): one at a time, the
 * reader left alone meanwhile, a pause asks the read to stop, and a line
 * appended while a read that saw the end was in flight is read at once. */
static void test_read_elsewhere(void **state) {
  (void)state;
  put("access.log", "x1\nx2\n", "w");
  fx.deferred = true;
  start("access.log", NULL);
  fx.deferred = false; /* for the next tests */
  spin(100);
  assert_int_equal(fx.reads, 1);
  assert_int_equal(fx.n_lines, 0); /* not read until served */
  bsl_tail_pause(fx.tail, true);
  assert_int_equal(fx.stops_asked, 1);
  bsl_tail_pause(fx.tail, false);
  serve(append_x3);
  uv_run(&fx.loop, UV_RUN_NOWAIT); /* one turn, far from the rescan */
  assert_int_equal(fx.reads, 2);
  serve(NULL);
  const char *want[] = {"access.log:x1", "access.log:x2", "access.log:x3"};
  expect_lines(want, 3);
  spin(100);
  if (fx.pending) /* the end of the file, seen by a read of its own */
    serve(NULL);
  expect_lines(want, 3);
  stop();
}

static void test_rename_create(void **state) {
  (void)state;
  put("access.log", "r1\n", "w");
  start("access.log", NULL);
  spin(200);
  assert_int_equal(rename(in_dir("access.log"), in_dir("access.log.1")), 0);
  put("access.log.1", "r2\n", "a"); /* the writer still had it open */
  put("access.log", "n1\n", "w");
  spin(1200);
  const char *want[] = {"access.log:r1", "access.log.1:r2", "access.log:n1"};
  expect_lines(want, 3);
  assert_int_equal(fx.n_renames, 1);
  assert_string_equal(fx.renames[0], "access.log.1");
  stop();
}

/* logrotate shifting the generations (.2 -> .3, .1 -> .2) while the scan
 * opens the oldest: .1 is listed, but gone when its turn comes */
static void shift_generations(void) {
  assert_int_equal(rename(in_dir("access.log.2"), in_dir("access.log.3")), 0);
  assert_int_equal(rename(in_dir("access.log.1"), in_dir("access.log.2")), 0);
}

/* the same, and then the live file renamed to .1 and a new one created: the
 * name .1 is listed for one file and opened as another */
static void rotate(void) {
  shift_generations();
  assert_int_equal(rename(in_dir("access.log"), in_dir("access.log.1")), 0);
  put("access.log", "d1\n", "w");
}

/* Three generations a1, b1, c1; HOOK renames them during the first scan.
 * No line is read before an older one that only changed its name: the
 * next rescan finds it under its new name. */
static void rotated_during_scan(void (*hook)(void), const char *const *want,
                                size_t n) {
  put("access.log", "c1\n", "w");
  put("access.log.1", "b1\n", "w");
  put("access.log.2", "a1\n", "w");
  start_hooked("access.log*", hook);
  spin(1300);
  expect_lines(want, n);
  stop();
}

/* logrotate's copytruncate (copy, then truncate), then the server writes
 * LINE to the live file */
static void copytruncate_then(const char *line) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", in_dir("access.log"),
           in_dir("access.log.1"));
  assert_int_equal(system(cmd), 0);
  assert_int_equal(truncate(in_dir("access.log"), 0), 0);
  put("access.log", line, "a");
}

/* copytruncate between the listing and the open of the live file: its copy
 * (older lines) is not listed, the live file is opened with newer ones */
static void copytruncate(void) {
  copytruncate_then("d1\n");
}

static void test_copied_during_scan_holds_back(void **state) {
  (void)state;
  put("access.log", "c1\n", "w");
  put("access.log.2", "a1\n", "w");
  start_hooked("access.log*", copytruncate);
  spin(1300);
  const char *want[] = {"access.log.2:a1", "access.log.1:c1", "access.log:d1"};
  expect_lines(want, 3);
  stop();
}

static void test_renamed_during_scan_holds_back(void **state) {
  (void)state;
  const char *want[] = {"access.log.2:a1", "access.log.2:b1", "access.log:c1"};
  rotated_during_scan(shift_generations, want, 3);
}

static void test_name_reused_during_scan_holds_back(void **state) {
  (void)state;
  const char *want[] = {"access.log.2:a1", "access.log.2:b1", "access.log.1:c1",
                        "access.log:d1"};
  rotated_during_scan(rotate, want, 4);
}

static void test_copytruncate(void **state) {
  (void)state;
  put("access.log", "t1\nt2\n", "w");
  start("access.log*", NULL);
  spin(200);
  /* logrotate's copytruncate: copy, then truncate; a line in between
   * goes to the copy only */
  put("access.log", "t3\n", "a");
  copytruncate_then("u1\n");
  spin(2500);
  /* t3 may come from the live file (read before the truncation) or from
   * the copy, never twice */
  size_t t3 = 0;
  bool u1 = false;
  for (size_t i = 0; i < fx.n_lines; i++) {
    t3 += strstr(fx.lines[i], ":t3") != NULL;
    u1 |= strcmp(fx.lines[i], "access.log:u1") == 0;
  }
  assert_string_equal(fx.lines[0], "access.log:t1");
  assert_string_equal(fx.lines[1], "access.log:t2");
  assert_int_equal(t3, 1);
  assert_true(u1);
  assert_int_equal(fx.n_lines, 4);
  stop();
}

static void test_gone_waits_for_commit(void **state) {
  (void)state;
  put("access.log", "g1\n", "w");
  start("access.log", NULL);
  fx.hold_commits = true;
  spin(200);
  assert_int_equal(unlink(in_dir("access.log")), 0);
  spin(1200);
  assert_true(fx.files[0].open); /* its line is not committed yet */
  fx.hold_commits = false;
  spin(200);
  assert_false(fx.files[0].open);
  stop();
}

static void test_refusing_line_stops_reading(void **state) {
  (void)state;
  put("access.log", "s1\ns2\ns3\n", "w");
  start("access.log", NULL);
  fx.refuse_after = 1;
  spin(300);
  const char *want[] = {"access.log:s1"};
  expect_lines(want, 1);
  stop();
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tail.XXXXXX");
  if (!mkdtemp(tmpdir))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_order, empty_dir),
      cmocka_unit_test_setup(test_young_gz_holds_back, empty_dir),
      cmocka_unit_test_setup(test_partial_line, empty_dir),
      cmocka_unit_test_setup(test_read_elsewhere, empty_dir),
      cmocka_unit_test_setup(test_rename_create, empty_dir),
      cmocka_unit_test_setup(test_renamed_during_scan_holds_back, empty_dir),
      cmocka_unit_test_setup(test_name_reused_during_scan_holds_back,
                             empty_dir),
      cmocka_unit_test_setup(test_copied_during_scan_holds_back, empty_dir),
      cmocka_unit_test_setup(test_copytruncate, empty_dir),
      cmocka_unit_test_setup(test_gone_waits_for_commit, empty_dir),
      cmocka_unit_test_setup(test_refusing_line_stops_reading, empty_dir),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  empty_dir(NULL);
  rmdir(tmpdir);
  return rc;
}
