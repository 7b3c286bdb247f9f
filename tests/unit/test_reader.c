/*
 * Unit tests for ingest/reader.c: line framing (LF, CRLF, empty lines, the
 * 64 KiB cap and what follows an over-long line), the plain-file rule that an
 * unterminated last line waits, gzip (multi-member, truncated, corrupt,
 * trailing garbage), skip_to, fingerprints, stdin, and a real sample log.
 * Every file is written under a fresh mkdtemp directory, removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "reader.h"
#include "skip.h"

#define TMPDIR_PREFIX "/tmp/test_reader.XXXXXX"
#include "tmpdir.h"

/* One line as seen by the test, with a copy so it outlives the next call. */
typedef struct {
  enum bsl_line_kind kind;
  size_t len;
  uint64_t offset, end;
  char text[96];
  const char *reason;
} rec;

/* MODE "wb" makes a one-member file, "ab" appends another member. */
/* The size of the file under R (0 for a pipe), as the progress bar sees it. */
static uint64_t file_size(const bsl_reader *r) {
  struct stat sb;
  return fstat(bsl_reader_fd(r), &sb) == 0 && S_ISREG(sb.st_mode)
             ? (uint64_t)sb.st_size
             : 0;
}

static void gzip_to(const char *path, const void *data, size_t len,
                    const char *mode) {
  gzFile g = gzopen(path, mode);
  assert_non_null(g);
  if (len > 0)
    assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
  assert_int_equal(gzclose(g), Z_OK);
}

static char *gzip_file(const void *data, size_t len) {
  char *p = tmp_path(".gz");
  gzip_to(p, data, len, "wb");
  return p;
}

static void *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static bsl_reader *open_ok(const char *path) {
  bsl_reader *r = NULL;
  char err[512] = "";
  int rc = bsl_reader_open(&r, path, err, sizeof err);
  if (rc != 0)
    fail_msg("open %s: %d %s", path, rc, err);
  return r;
}

/* Reads lines until end; returns how many were stored (up to cap). */
static size_t read_all(bsl_reader *r, rec *out, size_t cap) {
  size_t n = 0;
  bsl_line line;
  char err[512];
  int rc;
  while ((rc = bsl_reader_next(r, &line, err, sizeof err)) == 1) {
    if (n < cap) {
      out[n].kind = line.kind;
      out[n].len = line.len;
      out[n].offset = line.offset;
      out[n].end = line.end;
      out[n].reason = line.reason;
      size_t c =
          line.len < sizeof out[n].text - 1 ? line.len : sizeof out[n].text - 1;
      memcpy(out[n].text, line.ptr, c);
      out[n].text[c] = '\0';
    }
    n++;
  }
  if (rc != 0)
    fail_msg("next: %d %s", rc, err);
  return n;
}

static void expect(const rec *r, enum bsl_line_kind kind, const char *text,
                   uint64_t offset, uint64_t end) {
  assert_int_equal(r->kind, kind);
  if (text) {
    assert_int_equal(r->len, strlen(text));
    assert_string_equal(r->text, text);
  }
  assert_int_equal(r->offset, offset);
  assert_int_equal(r->end, end);
}

static void test_lf_and_empty_lines(void **state) {
  (void)state;
  const char data[] = "a\nbb\n\nccc\n";
  bsl_reader *r = open_ok(plain_file(data, sizeof data - 1));
  assert_false(bsl_reader_is_gzip(r));
  assert_int_equal(bsl_reader_offset(r), 0);
  rec l[8];
  assert_int_equal(read_all(r, l, 8), 4);
  expect(&l[0], BSL_LINE_OK, "a", 0, 2);
  expect(&l[1], BSL_LINE_OK, "bb", 2, 5);
  expect(&l[2], BSL_LINE_OK, "", 5, 6);
  expect(&l[3], BSL_LINE_OK, "ccc", 6, 10);
  assert_int_equal(bsl_reader_offset(r), 10);
  assert_int_equal(bsl_reader_pending(r), 0);
  assert_int_equal(file_size(r), 10);
  assert_int_equal(bsl_reader_raw_position(r), 10);
  bsl_reader_close(r);
}

static void test_crlf(void **state) {
  (void)state;
  const char data[] = "a\r\nbb\r\n\r\nx\ry\n\r\r\n";
  bsl_reader *r = open_ok(plain_file(data, sizeof data - 1));
  rec l[8];
  assert_int_equal(read_all(r, l, 8), 5);
  expect(&l[0], BSL_LINE_OK, "a", 0, 3);
  expect(&l[1], BSL_LINE_OK, "bb", 3, 7);
  expect(&l[2], BSL_LINE_OK, "", 7, 9);
  expect(&l[3], BSL_LINE_OK, "x\ry", 9, 13);
  /* only one CR is a terminator */
  expect(&l[4], BSL_LINE_OK, "\r", 13, 16);
  bsl_reader_close(r);
}

static void test_nul_bytes(void **state) {
  (void)state;
  const char data[] = "a\0b\n\0\n";
  bsl_reader *r = open_ok(plain_file(data, sizeof data - 1));
  rec l[4];
  assert_int_equal(read_all(r, l, 4), 2);
  assert_int_equal(l[0].len, 3);
  assert_memory_equal(l[0].text, "a\0b", 3);
  assert_int_equal(l[1].len, 1);
  assert_int_equal(l[1].end, 6);
  bsl_reader_close(r);
}

static void test_plain_partial_last_line_waits(void **state) {
  (void)state;
  const char data[] = "a\nbc";
  char *path = plain_file(data, sizeof data - 1);
  bsl_reader *r = open_ok(path);
  rec l[4];
  assert_int_equal(read_all(r, l, 4), 1);
  expect(&l[0], BSL_LINE_OK, "a", 0, 2);
  assert_int_equal(bsl_reader_pending(r), 2);
  assert_int_equal(bsl_reader_offset(r), 2);
  /* asking again changes nothing until the writer finishes the line */
  assert_int_equal(read_all(r, l, 4), 0);
  assert_int_equal(bsl_reader_pending(r), 2);
  write_file(path, "d\ne", 3, "ab");
  assert_int_equal(read_all(r, l, 4), 1);
  expect(&l[0], BSL_LINE_OK, "bcd", 2, 6);
  assert_int_equal(bsl_reader_pending(r), 1);
  assert_int_equal(bsl_reader_offset(r), 6);
  bsl_reader_close(r);
}

static void test_gzip_last_line_ends_at_eof(void **state) {
  (void)state;
  const char data[] = "a\nbc\r";
  bsl_reader *r = open_ok(gzip_file(data, sizeof data - 1));
  assert_true(bsl_reader_is_gzip(r));
  rec l[4];
  assert_int_equal(read_all(r, l, 4), 2);
  expect(&l[0], BSL_LINE_OK, "a", 0, 2);
  expect(&l[1], BSL_LINE_OK, "bc", 2, 5);
  assert_int_equal(bsl_reader_offset(r), 5);
  assert_int_equal(bsl_reader_pending(r), 0);
  /* end is sticky */
  bsl_line line;
  assert_int_equal(bsl_reader_next(r, &line, NULL, 0), 0);
  bsl_reader_close(r);
}

static void test_empty_inputs(void **state) {
  (void)state;
  bsl_reader *r = open_ok(plain_file("", 0));
  rec l[1];
  assert_int_equal(read_all(r, l, 1), 0);
  assert_int_equal(bsl_reader_prefix_len(r), 0);
  bsl_reader_close(r);
  r = open_ok(gzip_file("", 0));
  assert_true(bsl_reader_is_gzip(r));
  assert_int_equal(read_all(r, l, 1), 0);
  assert_int_equal(bsl_reader_prefix_len(r), 0);
  bsl_reader_close(r);
}

/* Builds N filler bytes then TAIL. */
static char *line_of(size_t n, const char *tail, size_t *len) {
  size_t t = strlen(tail);
  char *s = malloc(n + t + 1);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++)
    s[i] = (char)('a' + i % 26);
  memcpy(s + n, tail, t + 1);
  *len = n + t;
  return s;
}

static void test_line_cap(void **state) {
  (void)state;
  size_t len;
  /* exactly at the cap, with LF and with CRLF */
  for (int crlf = 0; crlf < 2; crlf++) {
    char *s = line_of(BSL_LINE_MAX, crlf ? "\r\nnext\n" : "\nnext\n", &len);
    bsl_reader *r = open_ok(plain_file(s, len));
    rec l[4];
    assert_int_equal(read_all(r, l, 4), 2);
    uint64_t end = BSL_LINE_MAX + 1 + (uint64_t)crlf;
    expect(&l[0], BSL_LINE_OK, NULL, 0, end);
    assert_int_equal(l[0].len, BSL_LINE_MAX);
    expect(&l[1], BSL_LINE_OK, "next", end, end + 5);
    bsl_reader_close(r);
    free(s);
  }
  /* one byte over, in a plain file and in gzip */
  char *s = line_of(BSL_LINE_MAX + 1, "\nnext\n", &len);
  for (int gz = 0; gz < 2; gz++) {
    bsl_reader *r = open_ok(gz ? gzip_file(s, len) : plain_file(s, len));
    rec l[4];
    assert_int_equal(read_all(r, l, 4), 2);
    expect(&l[0], BSL_LINE_TOO_LONG, NULL, 0, BSL_LINE_MAX + 2);
    assert_true(l[0].len >= 200);
    assert_memory_equal(l[0].text, s, 64);
    assert_string_equal(l[0].reason, "line longer than 65536 bytes");
    expect(&l[1], BSL_LINE_OK, "next", BSL_LINE_MAX + 2, BSL_LINE_MAX + 7);
    bsl_reader_close(r);
  }
  free(s);
}

static void test_very_long_line_then_normal(void **state) {
  (void)state;
  size_t n = 200 * 1024, len;
  char *s = line_of(n, "\r\nafter\n", &len);
  for (int gz = 0; gz < 2; gz++) {
    bsl_reader *r = open_ok(gz ? gzip_file(s, len) : plain_file(s, len));
    rec l[4];
    assert_int_equal(read_all(r, l, 4), 2);
    expect(&l[0], BSL_LINE_TOO_LONG, NULL, 0, n + 2);
    assert_true(l[0].len >= 200 && l[0].len <= BSL_LINE_MAX);
    expect(&l[1], BSL_LINE_OK, "after", n + 2, n + 8);
    assert_int_equal(bsl_reader_offset(r), n + 8);
    bsl_reader_close(r);
  }
  free(s);
}

/* A long line still being written is reported, then its tail is skipped. */
static void test_long_line_without_newline_yet(void **state) {
  (void)state;
  size_t n = 100 * 1024, len;
  char *s = line_of(n, "", &len);
  char *path = plain_file(s, len);
  bsl_reader *r = open_ok(path);
  rec l[4];
  assert_int_equal(read_all(r, l, 4), 1);
  expect(&l[0], BSL_LINE_TOO_LONG, NULL, 0, n);
  assert_int_equal(bsl_reader_pending(r), 0);
  write_file(path, s, len, "ab");
  assert_int_equal(read_all(r, l, 4), 0);
  write_file(path, "xyz\nok\n", 7, "ab");
  assert_int_equal(read_all(r, l, 4), 1);
  expect(&l[0], BSL_LINE_OK, "ok", 2 * n + 4, 2 * n + 7);
  bsl_reader_close(r);
  free(s);
}

/* The same, across readers: a later reader resuming at the offset where an
 * earlier one stopped, inside the over-long line, skips the rest of that
 * line instead of reading its tail as a line of its own. */
static void test_resume_inside_long_line(void **state) {
  (void)state;
  size_t n = 100 * 1024, len;
  char *s = line_of(n, "", &len);
  char *path = plain_file("first\n", 6);
  write_file(path, s, len, "ab");
  bsl_reader *r = open_ok(path);
  rec l[4];
  assert_int_equal(read_all(r, l, 4), 2);
  expect(&l[1], BSL_LINE_TOO_LONG, NULL, 6, 6 + n);
  uint64_t stop = bsl_reader_offset(r);
  assert_int_equal(stop, 6 + n);
  bsl_reader_close(r);

  char err[256];
  write_file(path, "tail", 4, "ab"); /* still no newline */
  r = open_ok(path);
  assert_int_equal(bsl_reader_skip_to(r, stop, err, sizeof err), 0);
  assert_int_equal(read_all(r, l, 4), 0);
  assert_int_equal(bsl_reader_pending(r), 0);
  stop = bsl_reader_offset(r);
  bsl_reader_close(r);

  write_file(path, "\nnext\n", 6, "ab");
  r = open_ok(path);
  assert_int_equal(bsl_reader_skip_to(r, stop, err, sizeof err), 0);
  assert_int_equal(read_all(r, l, 4), 1);
  expect(&l[0], BSL_LINE_OK, "next", 6 + n + 5, 6 + n + 10);
  bsl_reader_close(r);

  /* at a line start nothing is skipped, also inside the read-ahead prefix */
  r = open_ok(path);
  assert_int_equal(bsl_reader_skip_to(r, 6, err, sizeof err), 0);
  assert_int_equal(read_all(r, l, 4), 2);
  expect(&l[0], BSL_LINE_TOO_LONG, NULL, 6, 6 + n + 5);
  bsl_reader_close(r);
  r = open_ok(path);
  assert_int_equal(bsl_reader_skip_to(r, 3, err, sizeof err), 0);
  /* "rst" is skipped; the long line and "next" follow */
  assert_int_equal(read_all(r, l, 4), 2);
  expect(&l[0], BSL_LINE_TOO_LONG, NULL, 6, 6 + n + 5);
  expect(&l[1], BSL_LINE_OK, "next", 6 + n + 5, 6 + n + 10);
  bsl_reader_close(r);
  free(s);
}

static void test_gzip_long_last_line(void **state) {
  (void)state;
  size_t len;
  char *s = line_of(BSL_LINE_MAX + 1, "", &len);
  bsl_reader *r = open_ok(gzip_file(s, len));
  rec l[4];
  assert_int_equal(read_all(r, l, 4), 1);
  expect(&l[0], BSL_LINE_TOO_LONG, NULL, 0, len);
  bsl_reader_close(r);
  free(s);
  s = line_of(300 * 1024, "", &len);
  r = open_ok(gzip_file(s, len));
  assert_int_equal(read_all(r, l, 4), 1);
  expect(&l[0], BSL_LINE_TOO_LONG, NULL, 0, len);
  bsl_reader_close(r);
  free(s);
}

/* Deterministic log-like text with varied line lengths, some CRLF. */
static char *make_log(size_t target, size_t *len) {
  char *s = malloc(target + 512);
  assert_non_null(s);
  size_t n = 0;
  uint32_t x = 12345;
  for (int i = 0; n < target; i++) {
    x = x * 1103515245u + 12345u;
    int pad = (int)(x >> 16) % 400;
    n += (size_t)snprintf(s + n, 512, "10.0.%d.%d - - [line %d] %.*s%s\n",
                          i % 256, (i / 256) % 256, i, pad,
                          "GET /path/with/a/fairly/long/name?and=query&more="
                          "parameters&to=make&it=longer&than=one&hundred="
                          "bytes&so=that&lines=vary&in=length&quite=a&lot=so"
                          "GET /path/with/a/fairly/long/name?and=query&more="
                          "parameters&to=make&it=longer&than=one&hundred="
                          "bytes&so=that&lines=vary&in=length&quite=a&lot=so"
                          "GET /path/with/a/fairly/long/name?and=query&more="
                          "parameters&to=make&it=longer&than=one&hundred="
                          "bytes&so=that&lines=vary&in=length&quite=a&lot=so"
                          "GET /path/with/a/fairly/long/name?and=query&more=",
                          (x & 7) == 0 ? "\r" : "");
  }
  *len = n;
  return s;
}

/* Compares every line of PATH with a byte-by-byte split of DATA. */
static void check_against(const char *path, const char *data, size_t len) {
  bsl_reader *r = open_ok(path);
  bsl_line line;
  char err[256];
  size_t at = 0, lines = 0;
  while (at < len) {
    const char *nl = memchr(data + at, '\n', len - at);
    assert_non_null(nl);
    size_t full = (size_t)(nl - (data + at));
    size_t want = full > 0 && data[at + full - 1] == '\r' ? full - 1 : full;
    assert_int_equal(bsl_reader_next(r, &line, err, sizeof err), 1);
    assert_int_equal(line.kind, BSL_LINE_OK);
    assert_int_equal(line.offset, at);
    assert_int_equal(line.end, at + full + 1);
    assert_int_equal(line.len, want);
    assert_memory_equal(line.ptr, data + at, want);
    at += full + 1;
    lines++;
  }
  assert_int_equal(bsl_reader_next(r, &line, err, sizeof err), 0);
  assert_int_equal(bsl_reader_offset(r), len);
  assert_int_equal(bsl_reader_raw_position(r), file_size(r));
  assert_true(lines > 100);
  bsl_reader_close(r);
}

static void test_many_buffers(void **state) {
  (void)state;
  size_t len;
  char *s = make_log(3 * 1024 * 1024, &len);
  check_against(plain_file(s, len), s, len);
  check_against(gzip_file(s, len), s, len);
  free(s);
}

static void test_multi_member_gzip(void **state) {
  (void)state;
  /* a line split across two members, made by appending with gzopen "ab" */
  char *path = tmp_path(".gz");
  gzip_to(path, "a\nb", 3, "wb");
  gzip_to(path, "c\nd\n", 4, "ab");
  gzip_to(path, "", 0, "ab");
  gzip_to(path, "e\n", 2, "ab");
  bsl_reader *r = open_ok(path);
  rec l[8];
  assert_int_equal(read_all(r, l, 8), 4);
  expect(&l[0], BSL_LINE_OK, "a", 0, 2);
  expect(&l[1], BSL_LINE_OK, "bc", 2, 5);
  expect(&l[2], BSL_LINE_OK, "d", 5, 7);
  expect(&l[3], BSL_LINE_OK, "e", 7, 9);
  bsl_reader_close(r);

  /* two big files concatenated, as `cat a.gz b.gz` */
  size_t len, alen, blen;
  char *s = make_log(600 * 1024, &len);
  char *a = gzip_file(s, len / 2 + 17);
  char *b = gzip_file(s + len / 2 + 17, len - len / 2 - 17);
  char *ab = slurp(a, &alen), *bb = slurp(b, &blen);
  char *both = tmp_path(".gz");
  write_file(both, ab, alen, "wb");
  write_file(both, bb, blen, "ab");
  check_against(both, s, len);
  free(ab);
  free(bb);
  free(s);
}

static void test_truncated_gzip(void **state) {
  (void)state;
  size_t len, glen;
  char *s = make_log(300 * 1024, &len);
  char *full = gzip_file(s, len);
  unsigned char *g = slurp(full, &glen);
  /* cut inside the deflate data, and cut only the 8-byte trailer */
  size_t cuts[] = {glen / 2, glen - 4, glen - 8, 12};
  for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
    char *path = tmp_path(".gz");
    write_file(path, g, cuts[c], "wb");
    bsl_reader *r = open_ok(path);
    bsl_line line;
    char err[256];
    uint64_t at = 0;
    int rc, truncated = 0;
    while ((rc = bsl_reader_next(r, &line, err, sizeof err)) == 1) {
      assert_int_equal(truncated, 0);
      assert_int_equal(line.offset, at);
      assert_true(line.end <= len);
      assert_memory_equal(line.ptr, s + at, line.len);
      if (line.kind == BSL_LINE_TRUNCATED) {
        truncated++;
        assert_string_equal(line.reason, "truncated gzip stream");
        assert_int_equal(line.end, line.offset + line.len);
      } else {
        assert_int_equal(line.kind, BSL_LINE_OK);
      }
      at = line.end;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(truncated, 1);
    if (cuts[c] >= glen - 8)
      assert_int_equal(at, len);
    assert_int_equal(bsl_reader_next(r, &line, err, sizeof err), 0);
    bsl_reader_close(r);
  }
  free(g);
  free(s);
}

static void test_corrupt_gzip(void **state) {
  (void)state;
  size_t len, glen;
  char *s = make_log(100 * 1024, &len);
  unsigned char *g = slurp(gzip_file(s, len), &glen);
  for (size_t i = glen / 3; i < glen / 3 + 64; i++)
    g[i] ^= 0x5a;
  char *path = tmp_path(".gz");
  write_file(path, g, glen, "wb");
  bsl_reader *r = open_ok(path);
  bsl_line line;
  char err[256];
  int rc, truncated = 0;
  while ((rc = bsl_reader_next(r, &line, err, sizeof err)) == 1) {
    if (line.kind == BSL_LINE_TRUNCATED) {
      truncated++;
      assert_non_null(strstr(line.reason, "corrupt gzip data: "));
    }
  }
  assert_int_equal(rc, 0);
  assert_int_equal(truncated, 1);
  bsl_reader_close(r);
  free(g);
  free(s);
}

static void test_trailing_garbage(void **state) {
  (void)state;
  const char *garbage[] = {"garbage\n", "x", "\x1f"};
  for (size_t i = 0; i < 3; i++) {
    char *path = gzip_file("a\nb\n", 4);
    write_file(path, garbage[i], strlen(garbage[i]), "ab");
    bsl_reader *r = open_ok(path);
    rec l[4];
    assert_int_equal(read_all(r, l, 4), 3);
    expect(&l[0], BSL_LINE_OK, "a", 0, 2);
    expect(&l[1], BSL_LINE_OK, "b", 2, 4);
    expect(&l[2], BSL_LINE_TRUNCATED, "", 4, 4);
    assert_string_equal(l[2].reason, "trailing garbage after gzip data");
    bsl_reader_close(r);
  }
  /* with an unterminated last line, the truncated line carries it */
  char *path = gzip_file("a\nbc", 4);
  write_file(path, "zz", 2, "ab");
  bsl_reader *r = open_ok(path);
  rec l[4];
  assert_int_equal(read_all(r, l, 4), 2);
  expect(&l[1], BSL_LINE_TRUNCATED, "bc", 2, 4);
  bsl_reader_close(r);
}

static void check_skip(const char *path, const char *data, size_t len) {
  char err[512];
  bsl_line line;
  /* to a line start inside the read-ahead, past it, at the very end */
  const char *mid = memchr(data + len / 2, '\n', len / 2);
  uint64_t targets[] = {0, 0, (uint64_t)(mid - data) + 1, len};
  const char *third = memchr(memchr(data, '\n', len) + 1, '\n', len) + 1;
  targets[1] = (uint64_t)(third - data);
  for (size_t t = 0; t < 4; t++) {
    bsl_reader *r = open_ok(path);
    assert_int_equal(bsl_reader_skip_to(r, targets[t], err, sizeof err), 0);
    assert_int_equal(bsl_reader_offset(r), targets[t]);
    int rc = bsl_reader_next(r, &line, err, sizeof err);
    if (targets[t] == len) {
      assert_int_equal(rc, 0);
      assert_int_equal(bsl_reader_offset(r), len);
    } else {
      assert_int_equal(rc, 1);
      assert_int_equal(line.offset, targets[t]);
      const char *nl = memchr(data + targets[t], '\n', len - targets[t]);
      assert_int_equal(line.end, (uint64_t)(nl - data) + 1);
      assert_memory_equal(line.ptr, data + targets[t], line.len);
      /* too late to skip now */
      assert_true(bsl_reader_skip_to(r, len, err, sizeof err) < 0);
    }
    bsl_reader_close(r);
  }
  bsl_reader *r = open_ok(path);
  err[0] = '\0';
  assert_true(bsl_reader_skip_to(r, len + 1, err, sizeof err) < 0);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "before offset"));
  bsl_reader_close(r);
}

static void test_skip_to(void **state) {
  (void)state;
  size_t len;
  char *s = make_log(700 * 1024, &len);
  check_skip(plain_file(s, len), s, len);
  check_skip(gzip_file(s, len), s, len);
  free(s);
}

static void test_fingerprint(void **state) {
  (void)state;
  size_t len;
  char *s = make_log(64 * 1024, &len);
  char a[BSL_FINGERPRINT_HEX + 1], b[BSL_FINGERPRINT_HEX + 1];

  bsl_reader *p = open_ok(plain_file(s, len));
  bsl_reader *g = open_ok(gzip_file(s, len));
  assert_int_equal(bsl_reader_prefix_len(p), BSL_FINGERPRINT_MAX);
  assert_int_equal(bsl_reader_prefix_len(g), BSL_FINGERPRINT_MAX);
  bsl_reader_fingerprint(p, BSL_FINGERPRINT_MAX, a);
  bsl_reader_fingerprint(g, BSL_FINGERPRINT_MAX, b);
  assert_int_equal(strlen(a), BSL_FINGERPRINT_HEX);
  assert_int_equal(strspn(a, "0123456789abcdef"), BSL_FINGERPRINT_HEX);
  assert_string_equal(a, b);
  /* the read-ahead is not lost for line reading */
  check_against(plain_file(s, len), s, len);
  bsl_reader_close(g);

  /* the same file while it was shorter */
  bsl_reader *small = open_ok(plain_file(s, 1000));
  assert_int_equal(bsl_reader_prefix_len(small), 1000);
  bsl_reader_fingerprint(small, 1000, a);
  bsl_reader_fingerprint(p, 1000, b);
  assert_string_equal(a, b);
  bsl_reader_fingerprint(p, 999, b);
  assert_string_not_equal(a, b);
  bsl_reader_close(small);
  bsl_reader_close(p);

  /* a gzip made of many small members still fills the whole prefix */
  char *path = tmp_path(".gz");
  for (size_t at = 0; at < 8192; at += 100)
    gzip_to(path, s + at, 100, at == 0 ? "wb" : "ab");
  g = open_ok(path);
  assert_int_equal(bsl_reader_prefix_len(g), BSL_FINGERPRINT_MAX);
  bsl_reader_fingerprint(g, BSL_FINGERPRINT_MAX, b);
  p = open_ok(plain_file(s, len));
  bsl_reader_fingerprint(p, BSL_FINGERPRINT_MAX, a);
  assert_string_equal(a, b);
  bsl_reader_close(p);
  bsl_reader_close(g);
  free(s);
}

static void test_stdin(void **state) {
  (void)state;
  int saved = dup(STDIN_FILENO);
  assert_true(saved >= 0);
  const char data[] = "one\r\ntwo\nthree";
  const char *paths[] = {plain_file(data, sizeof data - 1),
                         gzip_file(data, sizeof data - 1)};
  for (int i = 0; i < 2; i++) {
    int fd = open(paths[i], O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    bsl_reader *r = open_ok("-");
    assert_int_equal(bsl_reader_is_gzip(r), i == 1);
    rec l[4];
    assert_int_equal(read_all(r, l, 4), 3);
    expect(&l[0], BSL_LINE_OK, "one", 0, 5);
    expect(&l[1], BSL_LINE_OK, "two", 5, 9);
    expect(&l[2], BSL_LINE_OK, "three", 9, 14);
    assert_int_equal(bsl_reader_pending(r), 0);
    bsl_reader_close(r);
  }
  /* a pipe, skipped into */
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(write(p[1], data, sizeof data - 1), sizeof data - 1);
  close(p[1]);
  assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
  close(p[0]);
  bsl_reader *r = open_ok("-");
  char err[256];
  assert_int_equal(bsl_reader_skip_to(r, 5, err, sizeof err), 0);
  rec l[4];
  assert_int_equal(read_all(r, l, 4), 2);
  expect(&l[0], BSL_LINE_OK, "two", 5, 9);
  bsl_reader_close(r);
  assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
  close(saved);
}

static void test_open_errors(void **state) {
  (void)state;
  bsl_reader *r = (bsl_reader *)1;
  char err[512] = "";
  char missing[300];
  snprintf(missing, sizeof missing, "%s/no-such.log", tmpdir);
  assert_true(bsl_reader_open(&r, missing, err, sizeof err) < 0);
  assert_null(r);
  assert_non_null(strstr(err, missing));
  assert_non_null(strstr(err, "No such file"));
  assert_true(bsl_reader_open(&r, tmpdir, err, sizeof err) < 0);
  assert_non_null(strstr(err, "directory"));
  bsl_reader_close(NULL);
}

static void count_real(const char *name, size_t want) {
  const char *dir = getenv("BSL_SHARED_DATA");
  char path[1024];
  snprintf(path, sizeof path, "%s/access_logs/%s", dir ? dir : "", name);
  if (!dir || access(path, R_OK) != 0)
    SKIP_BECAUSE("%s not found (set BSL_SHARED_DATA)\n", path);
  bsl_reader *r = open_ok(path);
  assert_true(bsl_reader_is_gzip(r));
  bsl_line line;
  char err[256];
  size_t n = 0;
  uint64_t at = 0;
  int rc;
  while ((rc = bsl_reader_next(r, &line, err, sizeof err)) == 1) {
    assert_int_equal(line.kind, BSL_LINE_OK);
    assert_int_equal(line.offset, at);
    at = line.end;
    n++;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(n, want);
  assert_int_equal(bsl_reader_raw_position(r), file_size(r));
  bsl_reader_close(r);
}

static void test_real_elastic_log(void **state) {
  (void)state;
  count_real("elastic_examples_apache_combined_2015.log.gz", 10000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lf_and_empty_lines),
      cmocka_unit_test(test_crlf),
      cmocka_unit_test(test_nul_bytes),
      cmocka_unit_test(test_plain_partial_last_line_waits),
      cmocka_unit_test(test_gzip_last_line_ends_at_eof),
      cmocka_unit_test(test_empty_inputs),
      cmocka_unit_test(test_line_cap),
      cmocka_unit_test(test_very_long_line_then_normal),
      cmocka_unit_test(test_long_line_without_newline_yet),
      cmocka_unit_test(test_resume_inside_long_line),
      cmocka_unit_test(test_gzip_long_last_line),
      cmocka_unit_test(test_many_buffers),
      cmocka_unit_test(test_multi_member_gzip),
      cmocka_unit_test(test_truncated_gzip),
      cmocka_unit_test(test_corrupt_gzip),
      cmocka_unit_test(test_trailing_garbage),
      cmocka_unit_test(test_skip_to),
      cmocka_unit_test(test_fingerprint),
      cmocka_unit_test(test_stdin),
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_real_elastic_log),
  };
  return unit_exit(cmocka_run_group_tests(tests, setup_dir, remove_dir));
}
