/*
 * A scratch directory per test program, shared by the unit tests that write
 * files: setup_dir()/remove_dir() are cmocka group fixtures, tmp_path()
 * names a fresh file in it, plain_file() writes one.  Include after
 * cmocka.h; define TMPDIR_PREFIX ("/tmp/NAME.XXXXXX") first.
 */
#ifndef BSL_TEST_TMPDIR_H
#define BSL_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir[256];
static int file_seq;

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "%s", TMPDIR_PREFIX);
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state) {
  (void)state;
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
    unlink(p);
  }
  if (d)
    closedir(d);
  return rmdir(tmpdir);
}

static inline char *tmp_path(const char *suffix) {
  static char paths[64][512];
  char *p = paths[file_seq % 64];
  snprintf(p, 512, "%s/f%d%s", tmpdir, file_seq++, suffix);
  return p;
}

static inline void write_file(const char *path, const void *data, size_t len,
                              const char *mode) {
  FILE *f = fopen(path, mode);
  assert_non_null(f);
  if (len > 0)
    assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static inline char *plain_file(const void *data, size_t len) {
  char *p = tmp_path(".log");
  write_file(p, data, len, "wb");
  return p;
}

#endif
