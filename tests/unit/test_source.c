/*
 * Unit tests for ingest/source.c: rotation suffixes (.N, .N.gz, dateext
 * with and without .gz, separators - _ .), the age order within a rotation
 * set, which names belong to a source with and without a glob, the set a
 * name falls in, and the listing of a directory: siblings included,
 * strangers left out, sets in order and each set oldest first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "source.h"

#define TMPDIR_PREFIX "/tmp/test_source.XXXXXX"
#include "tmpdir.h"

static bsl_generation gen_of(const char *path, size_t *base) {
  bsl_generation g;
  bsl_generation_parse(path, base, &g);
  return g;
}

static void test_parse(void **state) {
  (void)state;
  size_t base;
  bsl_generation g = gen_of("/var/log/access.log", &base);
  assert_int_equal(g.kind, BSL_GEN_LIVE);
  assert_int_equal(base, strlen("/var/log/access.log"));
  assert_false(g.gz);

  g = gen_of("/var/log/access.log.1", &base);
  assert_int_equal(g.kind, BSL_GEN_NUMBERED);
  assert_int_equal(g.number, 1);
  assert_int_equal(base, strlen("/var/log/access.log"));

  g = gen_of("/var/log/access.log.12.gz", &base);
  assert_int_equal(g.kind, BSL_GEN_NUMBERED);
  assert_int_equal(g.number, 12);
  assert_true(g.gz);
  assert_int_equal(base, strlen("/var/log/access.log"));

  g = gen_of("/var/log/access.log-20261203", &base);
  assert_int_equal(g.kind, BSL_GEN_DATED);
  assert_string_equal(g.date, "20261203");
  assert_int_equal(base, strlen("/var/log/access.log"));

  g = gen_of("/var/log/access.log-20261203.gz", &base);
  assert_int_equal(g.kind, BSL_GEN_DATED);
  assert_string_equal(g.date, "20261203");
  assert_true(g.gz);

  g = gen_of("/var/log/access.log-2026-12-03_14", &base);
  assert_int_equal(g.kind, BSL_GEN_DATED);
  assert_string_equal(g.date, "2026120314");
  assert_int_equal(base, strlen("/var/log/access.log"));

  g = gen_of("/var/log/access.log.20261203", &base);
  assert_int_equal(g.kind, BSL_GEN_DATED);
  assert_int_equal(base, strlen("/var/log/access.log"));

  g = gen_of("/var/log/access.log.gz", &base);
  assert_int_equal(g.kind, BSL_GEN_LIVE);
  assert_true(g.gz);
  assert_int_equal(base, strlen("/var/log/access.log"));

  /* not rotation suffixes */
  g = gen_of("/var/log/access.log-1", &base);
  assert_int_equal(g.kind, BSL_GEN_LIVE);
  assert_int_equal(base, strlen("/var/log/access.log-1"));
  g = gen_of("/var/log/access.log.bak", &base);
  assert_int_equal(g.kind, BSL_GEN_LIVE);
  g = gen_of("/var/log/20261203", &base);
  assert_int_equal(g.kind, BSL_GEN_LIVE);
  g = gen_of("/var/log.1/access", &base); /* a directory's suffix */
  assert_int_equal(g.kind, BSL_GEN_LIVE);
  g = gen_of("/var/log/.1", &base);
  assert_int_equal(g.kind, BSL_GEN_LIVE);
}

/* A is read before B */
static void older(const char *a, const char *b) {
  size_t base;
  bsl_generation x = gen_of(a, &base), y = gen_of(b, &base);
  if (bsl_generation_cmp(&x, &y) >= 0 || bsl_generation_cmp(&y, &x) <= 0)
    fail_msg("%s should be older than %s", a, b);
}

static void test_order(void **state) {
  (void)state;
  older("access.log.1", "access.log");
  older("access.log.2.gz", "access.log.1");
  older("access.log.10.gz", "access.log.9.gz");
  older("access.log.1.gz", "access.log.1");
  older("access.log-20261202.gz", "access.log-20261203");
  older("access.log-20261203", "access.log");
  older("access.log-20261203", "access.log-2026120301");
  older("access.log.1", "access.log-20261203"); /* left from before dateext */
  older("access.log.gz", "access.log");
  size_t base;
  bsl_generation x = gen_of("a.log.3", &base), y = gen_of("b.log.3", &base);
  assert_int_equal(bsl_generation_cmp(&x, &y), 0);
}

static void test_matches(void **state) {
  (void)state;
  assert_true(bsl_source_matches("/l/access.log", "/l/access.log"));
  assert_true(bsl_source_matches("/l/access.log", "/l/access.log.1"));
  assert_true(bsl_source_matches("/l/access.log", "/l/access.log.2.gz"));
  assert_true(bsl_source_matches("/l/access.log", "/l/access.log-20261203"));
  assert_true(bsl_source_matches("/l/access.log", "/l/access.log-20261203.gz"));
  assert_false(bsl_source_matches("/l/access.log", "/l/access.log.bak"));
  assert_false(bsl_source_matches("/l/access.log", "/l/access.log2"));
  assert_false(bsl_source_matches("/l/access.log", "/l/other.log.1"));
  assert_true(bsl_source_matches("/l/*.log", "/l/a.log.1"));
  assert_true(bsl_source_matches("/l/*.log", "/l/b.log-20261203.gz"));
  assert_false(bsl_source_matches("/l/*.log", "/l/a.txt.1"));
  assert_true(bsl_source_matches("/l/access.log*", "/l/access.log.bak"));
}

static void set_is(const char *pattern, const char *path, const char *set,
                   bsl_generation_kind kind) {
  char buf[256];
  bsl_generation g;
  bsl_source_set_of(pattern, path, buf, sizeof buf, &g);
  assert_string_equal(buf, set);
  assert_int_equal(g.kind, kind);
}

static void test_set_of(void **state) {
  (void)state;
  set_is("/l/access.log*", "/l/access.log", "/l/access.log", BSL_GEN_LIVE);
  set_is("/l/access.log*", "/l/access.log.1", "/l/access.log",
         BSL_GEN_NUMBERED);
  set_is("/l/access.log", "/l/access.log.2.gz", "/l/access.log",
         BSL_GEN_NUMBERED);
  set_is("/l/*.log", "/l/a.log-20261203", "/l/a.log", BSL_GEN_DATED);
  set_is("/l/*", "/l/b.log.3.gz", "/l/b.log", BSL_GEN_NUMBERED);
  /* the path names a file whose name only looks rotated */
  set_is("/l/app.2026", "/l/app.2026", "/l/app.2026", BSL_GEN_LIVE);
  set_is("/l/app.2026", "/l/app.2026.1", "/l/app.2026", BSL_GEN_NUMBERED);
  set_is("/l/access.log.*", "/l/access.log.1", "/l/access.log",
         BSL_GEN_NUMBERED);
  set_is("/l/access.log.*", "/l/access.log.2.gz", "/l/access.log",
         BSL_GEN_NUMBERED);
  set_is(NULL, "/l/x.log.4", "/l/x.log", BSL_GEN_NUMBERED);
  assert_true(bsl_source_same_set("/l/a.log", "/l/a.log", "/l/a.log.1"));
  assert_true(bsl_source_same_set(NULL, "/l/a.log.2.gz", "/l/a.log-20261203"));
  assert_false(bsl_source_same_set("/l/*.log", "/l/a.log.1", "/l/b.log.1"));
}

static void touch(const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  write_file(p, "x\n", 2, "wb");
}

static void test_list(void **state) {
  (void)state;
  const char *names[] = {
      "access.log",        "access.log.1",   "access.log.2.gz",
      "access.log.10.gz",  "access.log.bak", "b.log",
      "b.log-20261202.gz", "b.log-20261203", "c.txt"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    touch(names[i]);
  char dir[300];
  snprintf(dir, sizeof dir, "%s/sub.log", tmpdir);
  assert_int_equal(mkdir(dir, 0700), 0); /* not a regular file */
  char dangling[300], nowhere[300];
  snprintf(dangling, sizeof dangling, "%s/access.log.3", tmpdir);
  snprintf(nowhere, sizeof nowhere, "%s/nowhere", tmpdir);
  /* a link to nothing is no file, not one renamed away (vanished) */
  assert_int_equal(symlink(nowhere, dangling), 0);

  char pattern[300];
  bsl_source_file *f;
  size_t n;
  snprintf(pattern, sizeof pattern, "%s/access.log", tmpdir);
  assert_int_equal(bsl_source_list(pattern, &f, &n), 0);
  const char *want[] = {"access.log.10.gz", "access.log.2.gz", "access.log.1",
                        "access.log"};
  assert_int_equal(n, 4);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(strrchr(f[i].path, '/') + 1, want[i]);
    assert_string_equal(f[i].set, pattern);
    assert_true(S_ISREG(f[i].st.st_mode));
    assert_false(f[i].vanished);
  }
  bsl_source_list_free(f, n);

  snprintf(pattern, sizeof pattern, "%s/*.log", tmpdir);
  assert_int_equal(bsl_source_list(pattern, &f, &n), 0);
  const char *want2[] = {
      "access.log.10.gz",  "access.log.2.gz", "access.log.1", "access.log",
      "b.log-20261202.gz", "b.log-20261203",  "b.log"};
  assert_int_equal(n, 7);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(strrchr(f[i].path, '/') + 1, want2[i]);
  bsl_source_list_free(f, n);

  snprintf(pattern, sizeof pattern, "%s/none.log", tmpdir);
  assert_int_equal(bsl_source_list(pattern, &f, &n), 0);
  assert_int_equal(n, 0);
  assert_null(f);
  bsl_source_list_free(NULL, 0);
  rmdir(dir);
  unlink(dangling);
}

int main(void) {
  (void)plain_file; /* tmpdir.h's; this test names its files itself */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),   cmocka_unit_test(test_order),
      cmocka_unit_test(test_matches), cmocka_unit_test(test_set_of),
      cmocka_unit_test(test_list),
  };
  return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
