/*
 * Unit tests for the PostgreSQL side of the store that need no server
 * (the end-to-end tests, tests/e2e/test_fleet_pg.sh, start one): a
 * `db` is PostgreSQL only when it starts postgresql:// or postgres://; a
 * server that cannot be reached is one error naming the URI without its
 * password, whichever way the password was given, for writers, readers
 * and the writer lock alike; `host` and a password in the configuration
 * are refused with FILE:LINE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "store.h"
#include "writer_lock.h"

static void test_db_kind(void **state) {
  (void)state;
  assert_true(bsl_config_db_is_postgres("postgresql://u@h/db"));
  assert_true(bsl_config_db_is_postgres("postgres:///db?host=/run/pg"));
  assert_false(bsl_config_db_is_postgres("dbname=boussole host=x"));
  assert_false(bsl_config_db_is_postgres("./postgresql://x"));
  assert_false(bsl_config_db_is_postgres("/var/lib/boussole/boussole.db"));
  assert_false(bsl_config_db_is_postgres(NULL));
}

/* Opening URI fails (no server there) with a message that starts with
 * SHOWN, says it could not connect and holds no "secret". */
static void refused(const char *uri, const char *shown) {
  char err[1024];
  bsl_store *s = NULL;
  assert_int_equal(bsl_store_open_host(&s, uri, "web1", err, sizeof err), -1);
  assert_null(s);
  assert_non_null(strstr(err, shown));
  assert_ptr_equal(strstr(err, shown), err);
  assert_non_null(strstr(err, "cannot connect"));
  assert_null(strstr(err, "secret"));
  assert_null(strchr(err, '\n'));
  assert_int_equal(bsl_store_open_existing(&s, uri, err, sizeof err), -1);
  assert_null(strstr(err, "secret"));
  bsl_writer_lock *l = NULL;
  assert_int_equal(
      bsl_writer_lock_acquire_host(&l, uri, "web1", "ingest", err, sizeof err),
      -1);
  assert_null(l);
  assert_null(strstr(err, "secret"));
  assert_ptr_equal(strstr(err, shown), err);
}

static void test_unreachable_without_password(void **state) {
  (void)state;
  refused("postgresql://bob:secret@/boussole?host=/nonexistent/dir",
          "postgresql://bob@/boussole?host=/nonexistent/dir: ");
  refused("postgres:///boussole?host=/nonexistent/dir&password=secret",
          "postgres:///boussole?host=/nonexistent/dir: ");
  refused("postgresql:///b?password=secret&host=/nonexistent/dir",
          "postgresql:///b?host=/nonexistent/dir: ");
}

static int load(const char *text, char *err, size_t errlen, bsl_config **cfg) {
  char path[] = "/tmp/test_store_pg.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  int rc = bsl_config_load(cfg, path, err, errlen);
  unlink(path);
  return rc;
}

static void test_config(void **state) {
  (void)state;
  char err[2048];
  bsl_config *cfg = NULL;
  assert_true(load("[boussole]\ndb = postgresql://bob:secret@db/x\n", err,
                   sizeof err, &cfg) < 0);
  assert_non_null(strstr(err, ":2: [boussole] db: no password here"));
  assert_true(load("[boussole]\ndb = postgresql:///x?password=secret\n", err,
                   sizeof err, &cfg) < 0);
  assert_non_null(strstr(err, "no password here"));
  assert_true(load("[boussole]\nhost = a/b\n", err, sizeof err, &cfg) < 0);
  assert_non_null(strstr(err, ":2: [boussole] host: \"a/b\" is not a host"));
  assert_true(load("[boussole]\nhost =\n", err, sizeof err, &cfg) < 0);
  assert_int_equal(load("[boussole]\ndb = postgresql://bob@db:5433/x\n"
                        "host = web-1.eu_west\n",
                        err, sizeof err, &cfg),
                   0);
  assert_string_equal(cfg->host, "web-1.eu_west");
  bsl_config_destroy(cfg);
  /* a colon in the host part is a port, not a password */
  assert_int_equal(
      load("[boussole]\ndb = postgresql://db:5433/x\n", err, sizeof err, &cfg),
      0);
  assert_null(cfg->host);
  bsl_config_destroy(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_db_kind),
      cmocka_unit_test(test_unreachable_without_password),
      cmocka_unit_test(test_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
