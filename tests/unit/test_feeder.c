/*
 * Unit tests for analyze/feeder.c: every line of a plain or gzip file comes
 * back exactly once, in file order, with contiguous offsets, batch bounds
 * (2048 lines / 512 KiB) and end offsets; parsing and the derived fields
 * (bot, static, device, identity) match a parse and a classification done
 * here on the test's own thread; rejects (garbage, empty, over-long,
 * truncated gzip) travel with their reason; no format means no parsing; a
 * read error comes after every line read before it; stopping early at any
 * point returns promptly and leaks nothing; an empty file gives no line.
 * Without a reader (lines mode), lines added from three inputs, with two
 * formats and none, come back in order with their tags, the caller told
 * to consume when every batch is in flight; a file read by the reader
 * thread in pieces (one stopped at once) amid added lines comes back whole,
 * in order, each read saying where it ended, and a feeder stopped while a
 * read waits for room returns; bsl_hit_derive() derives a hand-built hit
 * as the parser thread does.
 * Every file is written under a fresh mkdtemp directory, removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "classify.h"
#include "feeder.h"
#include "format.h"
#include "reader.h"
#include "url.h"

/* The feeder's documented batch bounds. */
#define BATCH_LINES_MAX 2048
#define BATCH_BYTES_MAX (512 * 1024)
/* What the reader keeps of an over-long line. */
#define TOO_LONG_EXCERPT 1024

#define TMPDIR_PREFIX "/tmp/test_feeder.XXXXXX"
#include "tmpdir.h"

static const char UA_BROWSER[] =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/120.0.0.0 Safari/537.36";
static const char UA_BOT[] = "Googlebot/2.1 (+http://www.google.com/bot.html)";
static const char UA_MOBILE[] =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 "
    "Safari/604.1";

/* ---- the expected lines ------------------------------------------------- */

enum line_type {
  T_PAGE,        /* GET of a page by a desktop browser */
  T_BOT,         /* Googlebot */
  T_STATIC,      /* GET /.../app.css */
  T_POST_STATIC, /* POST /.../app.css: not static (only GETs are) */
  T_MOBILE,      /* an iPhone */
  T_GARBAGE,     /* not a combined line */
  T_EMPTY,       /* an empty line */
  T_LONG,        /* longer than BSL_LINE_MAX */
  T_TRUNC        /* what a damaged gzip stream left of its last line */
};

typedef struct {
  uint64_t off, end;
  size_t text_len; /* bytes handed out: no CR/LF, the excerpt when too long */
  enum bsl_line_kind kind;
  enum line_type type;
  size_t path_off, path_len; /* the path's place in the line */
  int64_t time_delta;        /* seconds after 01/Nov/2026:00:00:00 +0000 */
} exp_line;

/* The bytes of a file and the lines the reader frames in them. */
typedef struct {
  char *data;
  size_t len, cap;
  exp_line *l;
  size_t n, ncap;
} corpus;

static void corpus_free(corpus *c) {
  free(c->data);
  free(c->l);
  memset(c, 0, sizeof *c);
}

static void put(corpus *c, const void *p, size_t n) {
  if (c->len + n + 1 > c->cap) {
    size_t cap = c->cap ? c->cap : 1 << 16;
    while (cap < c->len + n + 1)
      cap *= 2;
    c->data = realloc(c->data, cap);
    assert_non_null(c->data);
    c->cap = cap;
  }
  memcpy(c->data + c->len, p, n);
  c->len += n;
  c->data[c->len] = '\0';
}

static exp_line *new_entry(corpus *c) {
  if (c->n == c->ncap) {
    c->ncap = c->ncap ? c->ncap * 2 : 1024;
    c->l = realloc(c->l, c->ncap * sizeof *c->l);
    assert_non_null(c->l);
  }
  exp_line *e = &c->l[c->n++];
  memset(e, 0, sizeof *e);
  e->off = c->len;
  e->kind = BSL_LINE_OK;
  return e;
}

/*
 * Appends the I-th generated combined line: every line distinct (its path
 * and client hold I), eight kinds of request in turn.  TERM is the line
 * terminator ("\n", "\r\n" or "" for an unterminated last line).
 */
static void add_std(corpus *c, size_t i, const char *term) {
  exp_line *e = new_entry(c);
  const char *method = "GET", *ua = UA_BROWSER, *ref = "-";
  char path[64], query[32] = "", bytes[24];
  snprintf(path, sizeof path, "/p/%zu", i);
  e->type = T_PAGE;
  switch (i % 8) {
  case 2:
    snprintf(query, sizeof query, "?q=%zu&x=1", i);
    ref = "https://example.com/from";
    break;
  case 4:
    e->type = T_BOT;
    ua = UA_BOT;
    break;
  case 5:
    e->type = T_STATIC;
    snprintf(path, sizeof path, "/assets/%zu/app.css", i);
    break;
  case 6:
    e->type = T_POST_STATIC;
    method = "POST";
    snprintf(path, sizeof path, "/assets/%zu/app.css", i);
    break;
  case 7:
    e->type = T_MOBILE;
    ua = UA_MOBILE;
    snprintf(path, sizeof path, "/m/%zu", i);
    break;
  default:
    break;
  }
  if (i % 5 == 3)
    snprintf(bytes, sizeof bytes, "-");
  else
    snprintf(bytes, sizeof bytes, "%zu", 100 + i % 977);
  e->time_delta = (int64_t)(i % 86400);
  char head[128], tail[512];
  int hn = snprintf(head, sizeof head,
                    "10.%zu.%zu.%zu - - [01/Nov/2026:%02zu:%02zu:%02zu +0000] "
                    "\"%s ",
                    i >> 16 & 255, i >> 8 & 255, i & 255, i % 86400 / 3600,
                    i % 3600 / 60, i % 60, method);
  int tn = snprintf(tail, sizeof tail, "%s HTTP/1.1\" %d %s \"%s\" \"%s\"",
                    query, i % 11 == 0 ? 404 : 200, bytes, ref, ua);
  assert_true(hn > 0 && (size_t)hn < sizeof head);
  assert_true(tn > 0 && (size_t)tn < sizeof tail);
  e->path_off = (size_t)hn;
  e->path_len = strlen(path);
  put(c, head, (size_t)hn);
  put(c, path, e->path_len);
  put(c, tail, (size_t)tn);
  e->text_len = c->len - e->off;
  put(c, term, strlen(term));
  e->end = c->len;
}

static void add_raw(corpus *c, const char *text, enum line_type type) {
  exp_line *e = new_entry(c);
  e->type = type;
  e->text_len = strlen(text);
  put(c, text, e->text_len);
  put(c, "\n", 1);
  e->end = c->len;
}

/* A line of N bytes that starts like a combined line. */
static void add_long(corpus *c, size_t n) {
  exp_line *e = new_entry(c);
  e->type = T_LONG;
  e->kind = BSL_LINE_TOO_LONG;
  e->text_len = TOO_LONG_EXCERPT;
  static const char head[] =
      "10.9.9.9 - - [01/Nov/2026:00:00:13 +0000] \"GET /long/";
  put(c, head, sizeof head - 1);
  for (size_t i = sizeof head - 1; i < n; i++) {
    char ch = (char)('a' + i % 26);
    put(c, &ch, 1);
  }
  put(c, "\n", 1);
  e->end = c->len;
}

static void add_std_lines(corpus *c, size_t from, size_t to) {
  for (size_t i = from; i < to; i++)
    add_std(c, i, "\n");
}

/* Index of the first line that does not end at or before OFFSET. */
static size_t lines_within(const corpus *c, uint64_t offset) {
  size_t k = 0;
  while (k < c->n && c->l[k].end <= offset)
    k++;
  return k;
}

/* ---- files -------------------------------------------------------------- */

static char *gzip_file(const void *data, size_t len, const char *mode) {
  char *p = tmp_path(".gz");
  gzFile g = gzopen(p, mode);
  assert_non_null(g);
  const char *s = data;
  while (len > 0) {
    unsigned chunk = len > (1u << 20) ? 1u << 20 : (unsigned)len;
    assert_int_equal(gzwrite(g, s, chunk), (int)chunk);
    s += chunk;
    len -= chunk;
  }
  assert_int_equal(gzclose(g), Z_OK);
  return p;
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static uint64_t file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (uint64_t)st.st_size;
}

/* How many bytes zlib decodes from the first LEN bytes of a gzip stream. */
static size_t inflatable(const unsigned char *gz, size_t len, size_t cap) {
  char *out = malloc(cap);
  assert_non_null(out);
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  assert_int_equal(inflateInit2(&zs, 15 + 32), Z_OK);
  zs.next_in = (Bytef *)gz;
  zs.avail_in = (uInt)len;
  zs.next_out = (Bytef *)out;
  zs.avail_out = (uInt)cap;
  int ret;
  do
    ret = inflate(&zs, Z_NO_FLUSH);
  while (ret == Z_OK && zs.avail_in > 0 && zs.avail_out > 0);
  size_t got = cap - zs.avail_out;
  inflateEnd(&zs);
  free(out);
  return got;
}

static bsl_reader *open_ok(const char *path) {
  bsl_reader *r = NULL;
  char err[512] = "";
  if (bsl_reader_open(&r, path, err, sizeof err) != 0)
    fail_msg("open %s: %s", path, err);
  return r;
}

static bsl_format *make_format(const char *name) {
  bsl_format *f = NULL;
  char err[256] = "";
  if (bsl_format_create(&f, name, NULL, NULL, err, sizeof err) != 0)
    fail_msg("format %s: %s", name, err);
  return f;
}

static bsl_classifier *make_classifier(void) {
  bsl_classifier *c = NULL;
  char err[256] = "";
  if (bsl_classifier_create(&c, NULL, err, sizeof err) != 0)
    fail_msg("classifier: %s", err);
  return c;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- checking what the feeder hands out --------------------------------- */

typedef struct {
  const char *format; /* NULL: the feeder parses nothing */
  bool classify;      /* give the feeder a classifier */
  size_t first;       /* index of the first expected line */
  int hold_us;        /* sleep holding each batch before reading it */
  size_t max_batches; /* stop after that many (0: read to the end) */
} run_opts;

typedef struct {
  size_t lines, batches, empty_batches;
  uint64_t last_end;    /* end_offset of the last batch */
  uint64_t last_raw;    /* raw_position of the last batch */
  int rc;               /* bsl_feeder_next()'s final result */
  char err[512];        /* its message */
  double stop_seconds;  /* time bsl_feeder_stop() took */
  uint64_t raw_after;   /* the reader's raw position after the stop */
  bool stopped_holding; /* stopped with a batch not released */
} run_result;

typedef struct {
  const corpus *c;
  const run_opts *o;
  bsl_format *ref_fmt;     /* parses here what the feeder parsed there */
  bsl_classifier *ref_cls; /* classifies here what the feeder did there */
  size_t next;             /* index of the next expected line */
  int64_t base_time;       /* 01/Nov/2026:00:00:00 +0000 */
  uint64_t size;           /* of the file */
} checker;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      fail_msg("line %zu (offset %llu): %s", k->next,                          \
               (unsigned long long)e->off, #cond);                             \
  } while (0)

static bool slice_eq(bsl_str a, const char *abase, bsl_str b,
                     const char *bbase) {
  if (a.len != b.len)
    return false;
  if (a.len == 0)
    return true;
  return a.ptr - abase == b.ptr - bbase && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static bool slice_inside(bsl_str s, const bsl_line *line) {
  return s.len == 0 ||
         (s.ptr >= line->ptr && s.ptr + s.len <= line->ptr + line->len);
}

static void check_hit(checker *k, const exp_line *e, const bsl_fed_line *fl) {
  const char *want = k->c->data + e->off;
  const bsl_hit *h = &fl->hit;
  bsl_hit ref;
  const char *why = NULL;
  memset(&ref, 0, sizeof ref);
  CHECK(bsl_format_parse(k->ref_fmt, want, e->text_len, &ref, &why) == 0);
  /* the hit's slices point into the batch's copy of the line */
  const bsl_str *ss[] = {&h->remote_addr, &h->method,   &h->path,
                         &h->query,       &h->protocol, &h->referer,
                         &h->user_agent,  &h->host};
  const bsl_str *rs[] = {&ref.remote_addr, &ref.method,   &ref.path,
                         &ref.query,       &ref.protocol, &ref.referer,
                         &ref.user_agent,  &ref.host};
  for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++) {
    CHECK(slice_inside(*ss[i], &fl->line));
    CHECK(slice_eq(*ss[i], fl->line.ptr, *rs[i], want));
  }
  CHECK(h->path.len == e->path_len);
  CHECK(memcmp(h->path.ptr, want + e->path_off, e->path_len) == 0);
  CHECK(h->time == ref.time && h->time == k->base_time + e->time_delta);
  CHECK(h->status == ref.status);
  CHECK(h->bytes == ref.bytes);
  CHECK(h->has_request == ref.has_request && h->has_request);

  CHECK(h->derived == (k->ref_cls != NULL));
  if (!k->ref_cls)
    return;
  uint64_t id[2], ua_hash[2];
  bsl_hit_identity(h, id, ua_hash);
  CHECK(h->identity[0] == id[0] && h->identity[1] == id[1]);
  bsl_hit_identity(&ref, id, NULL);
  CHECK(h->identity[0] == id[0] && h->identity[1] == id[1]);
  bool bot;
  enum bsl_device device;
  bsl_classify_ua(k->ref_cls, ref.user_agent.ptr, ref.user_agent.len, &bot,
                  &device);
  bool is_static =
      ref.method.len == 3 && memcmp(ref.method.ptr, "GET", 3) == 0 &&
      bsl_classify_is_static(k->ref_cls, ref.path.ptr, ref.path.len);
  CHECK(h->is_bot == bot);
  CHECK(h->device == (unsigned char)device);
  CHECK(h->is_static == is_static);
  /* and what the rules are known to say */
  switch (e->type) {
  case T_PAGE:
    CHECK(!h->is_bot && !h->is_static && h->device == BSL_DEVICE_DESKTOP);
    break;
  case T_BOT:
    CHECK(h->is_bot && !h->is_static);
    break;
  case T_STATIC:
    CHECK(!h->is_bot && h->is_static);
    break;
  case T_POST_STATIC:
    CHECK(!h->is_bot && !h->is_static);
    break;
  case T_MOBILE:
    CHECK(!h->is_bot && !h->is_static && h->device == BSL_DEVICE_MOBILE);
    break;
  default:
    CHECK(!"a reject was classified");
  }
}

static void check_line(checker *k, const bsl_fed_line *fl) {
  if (k->next >= k->c->n)
    fail_msg("line %zu handed out, only %zu expected", k->next, k->c->n);
  const exp_line *e = &k->c->l[k->next];
  const char *want = k->c->data + e->off;
  CHECK(fl->line.offset == e->off);
  CHECK(fl->line.end == e->end);
  CHECK(fl->line.kind == e->kind);
  CHECK(fl->line.len == e->text_len);
  CHECK(fl->line.len == 0 || memcmp(fl->line.ptr, want, fl->line.len) == 0);
  if (!k->o->format) {
    CHECK(!fl->parsed);
    CHECK(fl->reason == NULL);
  } else {
    CHECK(fl->parsed);
    switch (e->type) {
    case T_LONG:
    case T_TRUNC:
      CHECK(fl->parse_rc != 0);
      CHECK(fl->reason != NULL && fl->line.reason != NULL);
      CHECK(strcmp(fl->reason, fl->line.reason) == 0);
      CHECK(strcmp(fl->reason, e->type == T_LONG
                                   ? "line longer than 65536 bytes"
                                   : "truncated gzip stream") == 0);
      break;
    case T_GARBAGE:
    case T_EMPTY:
      CHECK(fl->parse_rc != 0);
      CHECK(fl->reason != NULL && fl->reason[0] != '\0');
      break;
    default:
      CHECK(fl->parse_rc == 0);
      check_hit(k, e, fl);
    }
  }
  k->next++;
}

static void check_batch(checker *k, run_result *res, const bsl_fed_batch *b) {
  assert_non_null(b);
  if (k->o->hold_us)
    usleep((useconds_t)k->o->hold_us); /* the threads run ahead meanwhile */
  res->batches++;
  if (b->n == 0)
    res->empty_batches++;
  if (b->n > BATCH_LINES_MAX)
    fail_msg("batch %zu holds %zu lines", res->batches, b->n);
  assert_non_null(b->lines);
  size_t bytes = 0;
  for (size_t i = 0; i < b->n; i++) {
    bytes += b->lines[i].line.len;
    check_line(k, &b->lines[i]);
  }
  if (b->n > 1 && bytes > BATCH_BYTES_MAX)
    fail_msg("batch %zu holds %zu bytes of lines", res->batches, bytes);
  if (b->n > 0)
    assert_int_equal(b->end_offset, b->lines[b->n - 1].line.end);
  else
    assert_int_equal(b->end_offset, res->last_end);
  assert_true(b->raw_position >= res->last_raw);
  assert_true(b->raw_position <= k->size);
  res->lines += b->n;
  res->last_end = b->end_offset;
  res->last_raw = b->raw_position;
}

/* Runs a feeder over R (which it closes) and checks every batch. */
static run_result run_reader(bsl_reader *r, const char *path, const corpus *c,
                             const run_opts *o) {
  run_result res;
  memset(&res, 0, sizeof res);
  checker k = {.c = c, .o = o, .next = o->first, .size = file_size(path)};
  assert_int_equal(
      bsl_time_parse_clf("01/Nov/2026:00:00:00 +0000", 26, &k.base_time), 0);
  if (o->first > 0)
    res.last_end = c->l[o->first].off;
  bsl_format *fmt = o->format ? make_format(o->format) : NULL;
  bsl_classifier *cls = o->classify ? make_classifier() : NULL;
  if (o->format) {
    k.ref_fmt = make_format(o->format);
    k.ref_cls = cls ? make_classifier() : NULL;
  }
  bsl_feeder *f = NULL;
  char err[512] = "";
  if (bsl_feeder_start(&f, r, fmt, cls, "/collect", err, sizeof err) != 0)
    fail_msg("bsl_feeder_start: %s", err);
  assert_non_null(f);
  const bsl_fed_batch *b = NULL;
  int rc;
  for (;;) {
    b = NULL;
    rc = bsl_feeder_next(f, &b, res.err, sizeof res.err);
    if (rc != 1)
      break;
    check_batch(&k, &res, b);
    if (o->max_batches && res.batches == o->max_batches) {
      if (res.batches % 2 == 0)
        bsl_feeder_release(f);
      else
        res.stopped_holding = true; /* as batch.c does on an error */
      break;
    }
    bsl_feeder_release(f);
  }
  res.rc = rc;
  double t0 = now_s();
  bsl_feeder_stop(f);
  res.stop_seconds = now_s() - t0;
  res.raw_after = bsl_reader_raw_position(r);
  bsl_reader_close(r);
  bsl_format_destroy(fmt);
  bsl_format_destroy(k.ref_fmt);
  bsl_classifier_destroy(cls);
  bsl_classifier_destroy(k.ref_cls);
  if (!o->max_batches && rc >= 0)
    assert_int_equal(k.next, c->n);
  return res;
}

static run_result run_file(const char *path, const corpus *c,
                           const run_opts *o) {
  return run_reader(open_ok(path), path, c, o);
}

static const run_opts full = {.format = "combined", .classify = true};

/* A clean run: every expected line, the last batch ending at END. */
static void expect_clean(const run_result *res, const corpus *c, uint64_t end,
                         uint64_t raw) {
  if (res->rc != 0)
    fail_msg("feeder ended with %d: %s", res->rc, res->err);
  assert_int_equal(res->lines, c->n);
  assert_int_equal(res->empty_batches, 0);
  assert_true(res->batches >= (c->n + BATCH_LINES_MAX - 1) / BATCH_LINES_MAX);
  assert_int_equal(res->last_end, end);
  assert_int_equal(res->last_raw, raw);
}

/* ---- tests -------------------------------------------------------------- */

/* N standard lines, written plain (paths[0]) and gzipped (paths[1]). */
static void std_files(corpus *c, size_t n, const char *gzmode, char *paths[2]) {
  add_std_lines(c, 0, n);
  paths[0] = plain_file(c->data, c->len);
  paths[1] = gzip_file(c->data, c->len, gzmode);
}

static void test_order_plain(void **state) {
  (void)state;
  corpus c = {0};
  add_std_lines(&c, 0, 10000);
  char *path = plain_file(c.data, c.len);
  run_result res = run_file(path, &c, &full);
  expect_clean(&res, &c, c.len, c.len);
  assert_true(res.batches >= 5);

  /* the same while the consumer holds each batch a while: the threads
   * fill the ring meanwhile and must not touch the batch being read */
  run_opts slow = full;
  slow.hold_us = 3000;
  res = run_file(path, &c, &slow);
  expect_clean(&res, &c, c.len, c.len);

  /* parsing without a classifier derives nothing */
  run_opts no_cls = {.format = "combined"};
  res = run_file(path, &c, &no_cls);
  expect_clean(&res, &c, c.len, c.len);
  corpus_free(&c);
}

static void test_order_gzip(void **state) {
  (void)state;
  corpus c = {0};
  add_std_lines(&c, 0, 10000);
  char *path = gzip_file(c.data, c.len, "wb");
  run_result res = run_file(path, &c, &full);
  expect_clean(&res, &c, c.len, file_size(path));

  /* a member per half, as `cat a.gz b.gz` */
  size_t half = (size_t)c.l[c.n / 2].off, alen, blen;
  unsigned char *a = slurp(gzip_file(c.data, half, "wb"), &alen);
  unsigned char *b =
      slurp(gzip_file(c.data + half, c.len - half, "wb9"), &blen);
  a = realloc(a, alen + blen);
  assert_non_null(a);
  memcpy(a + alen, b, blen);
  path = plain_file(a, alen + blen);
  res = run_file(path, &c, &full);
  expect_clean(&res, &c, c.len, alen + blen);
  free(a);
  free(b);
  corpus_free(&c);
}

static void test_batch_bounds(void **state) {
  (void)state;
  /* long lines: the byte bound, not the line bound, ends the batches */
  corpus c = {0};
  char line[3000];
  for (size_t i = 0; i < 2500; i++) {
    size_t n = 1000 + i * 7919 % 1900;
    memset(line, 'a' + (int)(i % 26), n);
    snprintf(line, 24, "%zu:", i);
    line[strlen(line)] = 'z';
    line[n] = '\0';
    add_raw(&c, line, T_GARBAGE);
  }
  char *path = plain_file(c.data, c.len);
  run_result res = run_file(path, &c, &full);
  expect_clean(&res, &c, c.len, c.len);
  assert_true(res.batches >= c.len / BATCH_BYTES_MAX + 1);
  corpus_free(&c);

  /* exactly two full batches of short lines, and one line more */
  for (size_t extra = 0; extra < 2; extra++) {
    corpus s = {0};
    add_std_lines(&s, 0, 2 * BATCH_LINES_MAX + extra);
    path = plain_file(s.data, s.len);
    res = run_file(path, &s, &full);
    expect_clean(&res, &s, s.len, s.len);
    corpus_free(&s);
  }
}

/* Rejects in the middle of good lines, and a partial last line. */
static void build_mixed(corpus *c, bool unterminated_tail) {
  add_std_lines(c, 0, 3000);
  add_raw(c, "this is not an access log line", T_GARBAGE);
  add_std_lines(c, 3000, 3100);
  add_raw(c, "", T_EMPTY);
  add_std(c, 3100, "\r\n");
  add_long(c, 70000);
  add_std_lines(c, 3101, 5000);
  add_raw(c, "\"GET / HTTP/1.1\" 200", T_GARBAGE);
  add_long(c, 300000); /* longer than the reader's buffer */
  add_long(c, BSL_LINE_MAX + 1);
  add_std_lines(c, 5000, 7000);
  if (unterminated_tail)
    add_std(c, 7000, "");
}

static void test_rejects_in_the_middle(void **state) {
  (void)state;
  corpus c = {0};
  build_mixed(&c, true);
  /* in a plain file the unterminated last line waits: not handed out */
  char *path = plain_file(c.data, c.len);
  corpus plain = c;
  plain.n--;
  run_result res = run_file(path, &plain, &full);
  expect_clean(&res, &plain, c.l[c.n - 1].off, c.len);

  /* in a gzip stream, the end of input ends the line */
  path = gzip_file(c.data, c.len, "wb");
  res = run_file(path, &c, &full);
  expect_clean(&res, &c, c.len, file_size(path));
  corpus_free(&c);
}

static void test_no_format(void **state) {
  (void)state;
  corpus c = {0};
  build_mixed(&c, false);
  char *path = plain_file(c.data, c.len);
  /* campaign-style: a classifier but no format, and neither */
  run_opts campaign = {.classify = true};
  run_result res = run_file(path, &c, &campaign);
  expect_clean(&res, &c, c.len, c.len);
  run_opts bare = {0};
  res = run_file(path, &c, &bare);
  expect_clean(&res, &c, c.len, c.len);
  path = gzip_file(c.data, c.len, "wb1");
  res = run_file(path, &c, &campaign);
  expect_clean(&res, &c, c.len, file_size(path));
  corpus_free(&c);
}

static void test_derived_fields(void **state) {
  (void)state;
  static const char *const lines[] = {
      "1.2.3.4 - - [01/Nov/2026:00:00:13 +0000] \"GET /p/1 HTTP/1.1\" 200 "
      "512 \"-\" \"Googlebot/2.1 (+http://www.google.com/bot.html)\"",
      "1.2.3.4 - - [01/Nov/2026:00:00:13 +0000] \"GET /app.css HTTP/1.1\" "
      "200 512 \"-\" \"Mozilla/5.0 test\"",
      "1.2.3.4 - - [01/Nov/2026:00:00:13 +0000] \"GET /p/123 HTTP/1.1\" 200 "
      "512 \"-\" \"Mozilla/5.0 test\"",
      "1.2.3.4 - - [01/Nov/2026:00:00:13 +0000] \"POST /app.css HTTP/1.1\" "
      "200 512 \"-\" \"Mozilla/5.0 test\"",
      "5.6.7.8 - - [01/Nov/2026:00:00:13 +0000] \"GET /p/123 HTTP/1.1\" 200 "
      "512 \"-\" \"Mozilla/5.0 test\"",
      "5.6.7.8 - - [01/Nov/2026:00:00:14 +0000] \"GET "
      "/collect?e=scroll&p=/caf%C3%A9&d=75&e=click HTTP/1.1\" 204 0 \"-\" "
      "\"Mozilla/5.0 test\"",
  };
  enum { N_LINES = sizeof lines / sizeof lines[0] };
  char text[2048] = "";
  for (size_t i = 0; i < N_LINES; i++) {
    strcat(text, lines[i]);
    strcat(text, "\n");
  }
  char *path = plain_file(text, strlen(text));
  bsl_reader *r = open_ok(path);
  bsl_format *fmt = make_format("combined");
  bsl_classifier *cls = make_classifier();
  bsl_feeder *f = NULL;
  char err[512] = "";
  assert_int_equal(
      bsl_feeder_start(&f, r, fmt, cls, "/collect", err, sizeof err), 0);
  const bsl_fed_batch *b = NULL;
  assert_int_equal(bsl_feeder_next(f, &b, err, sizeof err), 1);
  assert_int_equal(b->n, N_LINES);
  for (size_t i = 0; i < N_LINES; i++) {
    const bsl_fed_line *fl = &b->lines[i];
    assert_true(fl->parsed);
    assert_int_equal(fl->parse_rc, 0);
    assert_true(fl->hit.derived);
    uint64_t id[2];
    bsl_hit_identity(&fl->hit, id, NULL);
    assert_memory_equal(fl->hit.identity, id, sizeof id);
  }
  assert_true(b->lines[0].hit.is_bot);
  assert_false(b->lines[0].hit.is_static);
  assert_true(b->lines[1].hit.is_static);
  assert_false(b->lines[2].hit.is_static);
  assert_false(b->lines[3].hit.is_static); /* not a GET */
  /* same user agent, same client: same identity; another client: not */
  assert_memory_equal(b->lines[1].hit.identity, b->lines[2].hit.identity,
                      sizeof b->lines[1].hit.identity);
  assert_memory_not_equal(b->lines[2].hit.identity, b->lines[4].hit.identity,
                          sizeof b->lines[2].hit.identity);
  assert_memory_not_equal(b->lines[0].hit.identity, b->lines[2].hit.identity,
                          sizeof b->lines[0].hit.identity);
  assert_int_equal(b->lines[0].hit.user_agent.len, strlen(UA_BOT));
  /* the beacon's parameters come decoded, the first of each name winning,
   * exactly as bsl_beacon_params_parse() gives them; other lines have none */
  for (size_t i = 0; i + 1 < N_LINES; i++)
    assert_null(b->lines[i].hit.beacon);
  const bsl_hit *bh = &b->lines[N_LINES - 1].hit;
  assert_non_null(bh->beacon);
  assert_string_equal(bh->beacon->event, "scroll");
  assert_string_equal(bh->beacon->page, "/caf\xc3\xa9");
  assert_string_equal(bh->beacon->depth, "75");
  assert_int_equal(bh->beacon->rc_target, -1);
  bsl_beacon_params want;
  char wbuf[BSL_BEACON_BYTES];
  bsl_beacon_params_parse(bh->query.ptr, bh->query.len, &want, wbuf);
  assert_int_equal(bh->beacon->rc_page, want.rc_page);
  assert_string_equal(bh->beacon->page, want.page);
  bsl_feeder_release(f);
  assert_int_equal(bsl_feeder_next(f, &b, err, sizeof err), 0);
  bsl_feeder_stop(f);
  bsl_reader_close(r);
  bsl_format_destroy(fmt);
  bsl_classifier_destroy(cls);
}

static void test_after_skip_to(void **state) {
  (void)state;
  corpus c = {0};
  char *paths[2];
  std_files(&c, 6000, "wb", paths);
  for (size_t p = 0; p < 2; p++) {
    bsl_reader *r = open_ok(paths[p]);
    char err[512] = "";
    assert_int_equal(bsl_reader_skip_to(r, c.l[4321].off, err, sizeof err), 0);
    run_opts o = full;
    o.first = 4321;
    run_result res = run_reader(r, paths[p], &c, &o);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.lines, c.n - 4321);
    assert_int_equal(res.last_end, c.len);
  }
  corpus_free(&c);
}

static void test_truncated_gzip(void **state) {
  (void)state;
  corpus c = {0};
  add_std_lines(&c, 0, 20000);
  size_t glen;
  unsigned char *g = slurp(gzip_file(c.data, c.len, "wb"), &glen);
  /* cut inside the deflate data, and cut only the trailer */
  size_t cuts[] = {glen / 2, glen / 3 + 1, glen - 4, glen - 8};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    char *path = plain_file(g, cuts[i]);
    size_t decoded = inflatable(g, cuts[i], c.len + 1);
    size_t whole = lines_within(&c, decoded);
    assert_true(whole > 2 * BATCH_LINES_MAX);
    if (cuts[i] >= glen - 8)
      assert_int_equal(whole, c.n);
    /* every complete line, then what is left of the next one */
    corpus exp = c;
    exp.l = malloc((whole + 1) * sizeof *exp.l);
    assert_non_null(exp.l);
    memcpy(exp.l, c.l, whole * sizeof *exp.l);
    exp.n = exp.ncap = whole + 1;
    exp_line *t = &exp.l[whole];
    memset(t, 0, sizeof *t);
    t->off = whole ? c.l[whole - 1].end : 0;
    t->end = decoded;
    t->text_len = decoded - (size_t)t->off;
    t->kind = BSL_LINE_TRUNCATED;
    t->type = T_TRUNC;
    run_result res = run_file(path, &exp, &full);
    /* the reader counts damage as a reject, not a read error */
    expect_clean(&res, &exp, decoded, cuts[i]);
    free(exp.l);
  }
  free(g);
  corpus_free(&c);
}

/* The file descriptor starts failing once the reader has read ahead: the
 * lines it read come out, then the error, naming the file. */
static void test_read_error(void **state) {
  (void)state;
  corpus c = {0};
  char *paths[2];
  std_files(&c, 20000, "wb", paths);
  for (size_t p = 0; p < 2; p++) {
    bsl_reader *r = open_ok(paths[p]);
    int fd = bsl_reader_fd(r);
    off_t read_ahead = lseek(fd, 0, SEEK_CUR);
    assert_true(read_ahead > 0 && (uint64_t)read_ahead < file_size(paths[p]));
    size_t decoded = (size_t)read_ahead;
    if (p == 1) {
      size_t glen;
      unsigned char *g = slurp(paths[p], &glen);
      decoded = inflatable(g, (size_t)read_ahead, c.len + 1);
      free(g);
    }
    corpus exp = c;
    exp.n = lines_within(&c, decoded);
    assert_true(exp.n > 100);
    /* reading a directory fails with EISDIR */
    int dir = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir >= 0);
    assert_int_equal(dup2(dir, fd), fd);
    close(dir);
    run_result res = run_reader(r, paths[p], &exp, &full);
    assert_int_equal(res.rc, -1);
    assert_int_equal(res.lines, exp.n);
    assert_int_equal(res.last_end, c.l[exp.n - 1].end);
    if (strncmp(res.err, paths[p], strlen(paths[p])) != 0 ||
        strstr(res.err, "directory") == NULL)
      fail_msg("error message: %s", res.err);
  }
  corpus_free(&c);
}

/* Stops after a few batches of a large file: promptly, without reading the
 * rest of it, whether the threads are busy or blocked on a full ring. */
static void test_stop_early(void **state) {
  (void)state;
  corpus c = {0};
  char *paths[2];
  std_files(&c, 150000, "wb1", paths);
  for (size_t p = 0; p < 2; p++) {
    for (size_t n = 1; n <= 3; n++) {
      for (int hold = 0; hold <= 50000; hold += 50000) {
        run_opts o = full;
        o.max_batches = n;
        o.hold_us = hold; /* 50 ms: the ring fills, the reader waits */
        run_result res = run_file(paths[p], &c, &o);
        assert_int_equal(res.rc, 1);
        assert_int_equal(res.batches, n);
        if (res.stop_seconds > 2.0)
          fail_msg("bsl_feeder_stop took %.2f s", res.stop_seconds);
        /* a few batches read ahead, not the whole file */
        if (res.raw_after >= file_size(paths[p]) / 2)
          fail_msg("read %llu of %llu bytes before stopping",
                   (unsigned long long)res.raw_after,
                   (unsigned long long)file_size(paths[p]));
      }
    }
    /* stopped before the first batch was even asked for */
    for (int wait = 0; wait <= 50000; wait += 50000) {
      bsl_reader *r = open_ok(paths[p]);
      bsl_format *fmt = make_format("combined");
      bsl_classifier *cls = make_classifier();
      bsl_feeder *f = NULL;
      char err[512] = "";
      assert_int_equal(
          bsl_feeder_start(&f, r, fmt, cls, "/collect", err, sizeof err), 0);
      usleep((useconds_t)wait);
      double t0 = now_s();
      bsl_feeder_stop(f);
      assert_true(now_s() - t0 < 2.0);
      bsl_reader_close(r);
      bsl_format_destroy(fmt);
      bsl_classifier_destroy(cls);
    }
  }
  bsl_feeder_stop(NULL);
  corpus_free(&c);
}

/* After the whole file, stopping is just as clean. */
static void test_stop_after_end(void **state) {
  (void)state;
  corpus c = {0};
  add_std_lines(&c, 0, 100);
  char *path = plain_file(c.data, c.len);
  bsl_reader *r = open_ok(path);
  bsl_feeder *f = NULL;
  char err[512] = "";
  assert_int_equal(bsl_feeder_start(&f, r, NULL, NULL, NULL, err, sizeof err),
                   0);
  const bsl_fed_batch *b = NULL;
  assert_int_equal(bsl_feeder_next(f, &b, err, sizeof err), 1);
  assert_int_equal(b->n, 100);
  bsl_feeder_release(f);
  assert_int_equal(bsl_feeder_next(f, &b, err, sizeof err), 0);
  assert_int_equal(bsl_feeder_next(f, &b, err, sizeof err), 0);
  bsl_feeder_stop(f);
  bsl_reader_close(r);
  corpus_free(&c);
}

/*
 * No line: the feeder hands out at most one batch, empty and ending where
 * the file's lines end (0: the partial line still waits), then 0.
 */
static void test_empty_file(void **state) {
  (void)state;
  char *paths[] = {plain_file("", 0), gzip_file("", 0, "wb"),
                   plain_file("no newline yet", 14)};
  for (size_t p = 0; p < 3; p++) {
    bsl_reader *r = open_ok(paths[p]);
    bsl_format *fmt = make_format("combined");
    bsl_classifier *cls = make_classifier();
    bsl_feeder *f = NULL;
    char err[512] = "";
    assert_int_equal(
        bsl_feeder_start(&f, r, fmt, cls, "/collect", err, sizeof err), 0);
    const bsl_fed_batch *b = NULL;
    int rc = bsl_feeder_next(f, &b, err, sizeof err);
    if (rc == 1) {
      if (b->n != 0)
        fail_msg("%s: a batch of %zu lines", paths[p], b->n);
      assert_int_equal(b->end_offset, 0);
      assert_int_equal(b->raw_position, file_size(paths[p]));
      bsl_feeder_release(f);
      rc = bsl_feeder_next(f, &b, err, sizeof err);
    }
    if (rc != 0)
      fail_msg("%s: bsl_feeder_next returned %d, not 0", paths[p], rc);
    assert_int_equal(bsl_feeder_next(f, &b, err, sizeof err), 0);
    bsl_feeder_stop(f);
    bsl_reader_close(r);
    bsl_format_destroy(fmt);
    bsl_classifier_destroy(cls);
  }
}

/* A deadlock fails the test instead of hanging the run. */
/* ---- lines mode: the caller adds the lines (live mode's tail) ---- */

static int parsed_notices; /* bumped on the feeder's parser thread */

/* Slow on purpose: a notice runs after its batch is published, and a slow
 * one (a loaded machine, a busy loop) must not be counted on before the
 * parser thread is joined. */
static void count_notice(void *ctx) {
  nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
  __atomic_add_fetch((int *)ctx, 1, __ATOMIC_RELAXED);
}

/* Checks the lines of B against what was added: line K of input K % 3
 * (tags 0, 1, 2; input 2 unparsed), in order. */
static void check_lines_batch(const bsl_fed_batch *b, size_t *k, char *tags) {
  for (size_t i = 0; i < b->n; i++, (*k)++) {
    const bsl_fed_line *fl = &b->lines[i];
    assert_ptr_equal(fl->tag, &tags[*k % 3]);
    char want[64];
    int n = snprintf(want, sizeof want, "/p/%zu", *k);
    if (*k % 3 == 2) {
      assert_false(fl->parsed); /* no format: handed out as it came */
      continue;
    }
    assert_true(fl->parsed);
    assert_int_equal(fl->parse_rc, 0);
    assert_true(fl->hit.derived);
    assert_int_equal(fl->hit.path.len, (size_t)n);
    assert_memory_equal(fl->hit.path.ptr, want, (size_t)n);
    assert_int_equal(fl->line.offset, *k * 1000);
  }
}

static void test_lines_mode(void **state) {
  (void)state;
  enum { N = 12000 }; /* several batches, more than the ring holds */
  bsl_format *combined = make_format("combined");
  bsl_format *common = make_format("common");
  bsl_classifier *cls = make_classifier();
  bsl_feeder *f = NULL;
  char err[512] = "";
  parsed_notices = 0;
  assert_int_equal(bsl_feeder_start_lines(&f, cls, "/collect", count_notice,
                                          &parsed_notices, err, sizeof err),
                   0);
  const bsl_fed_batch *b = NULL;
  /* nothing handed over: nothing to wait for */
  assert_int_equal(bsl_feeder_next(f, &b, err, sizeof err), 0);
  assert_int_equal(bsl_feeder_poll(f, &b), 0);
  char tags[3];
  size_t consumed = 0, refusals = 0;
  for (size_t k = 0; k < N; k++) {
    char text[512];
    int len =
        snprintf(text, sizeof text,
                 "10.0.0.%zu - - [01/Nov/2026:00:00:13 +0000] \"GET "
                 "/p/%zu HTTP/1.1\" 200 5%s",
                 k % 250, k, k % 3 == 1 ? "" : " \"-\" \"Mozilla/5.0 test\"");
    bsl_line line = {.ptr = text,
                     .len = (size_t)len,
                     .offset = k * 1000,
                     .end = k * 1000 + (uint64_t)len + 1,
                     .kind = BSL_LINE_OK};
    bsl_format *fmt = k % 3 == 0 ? combined : k % 3 == 1 ? common : NULL;
    int rc;
    while ((rc = bsl_feeder_add(f, &line, fmt, &tags[k % 3])) == 1) {
      refusals++; /* every batch in flight: consume the oldest */
      assert_int_equal(bsl_feeder_next(f, &b, err, sizeof err), 1);
      check_lines_batch(b, &consumed, tags);
      bsl_feeder_release(f);
    }
    assert_int_equal(rc, 0);
  }
  assert_true(refusals > 0);
  bsl_feeder_submit(f);
  bsl_feeder_submit(f); /* nothing more: a no-op */
  int got;
  while ((got = bsl_feeder_next(f, &b, err, sizeof err)) == 1) {
    assert_true(b->n <= BATCH_LINES_MAX);
    check_lines_batch(b, &consumed, tags);
    bsl_feeder_release(f);
  }
  assert_int_equal(got, 0);
  assert_int_equal(consumed, N);
  /* The notice follows a batch's publication, so the last one may still be
   * on its way when the consumer has seen every batch; stop joins the
   * parser thread, after which every notice has been given. */
  bsl_feeder_stop(f);
  assert_true(__atomic_load_n(&parsed_notices, __ATOMIC_RELAXED) >=
              (N + BATCH_LINES_MAX - 1) / BATCH_LINES_MAX);
  bsl_format_destroy(combined);
  bsl_format_destroy(common);
  bsl_classifier_destroy(cls);
}

/* Consumes the batches parsed so far (WAIT: every batch, until nothing is
 * in flight): the
 * file's lines (tag FILE_TAG) must follow each other, from *END on, and
 * the added ones (tag ADD_TAG) come in their order, from *ADDED on. */
static void take_batches(bsl_feeder *f, bool wait, const void *file_tag,
                         const void *add_tag, uint64_t *end, size_t *lines,
                         size_t *added) {
  const bsl_fed_batch *b = NULL;
  char err[512];
  while (wait ? bsl_feeder_next(f, &b, err, sizeof err) == 1
              : bsl_feeder_poll(f, &b) == 1) {
    for (size_t i = 0; i < b->n; i++) {
      const bsl_fed_line *fl = &b->lines[i];
      if (fl->tag == add_tag) {
        assert_int_equal(fl->line.offset, *added * 1000);
        assert_false(fl->parsed);
        (*added)++;
        continue;
      }
      assert_ptr_equal(fl->tag, file_tag);
      assert_int_equal(fl->line.offset, *end);
      assert_true(fl->parsed);
      assert_int_equal(fl->parse_rc, 0);
      *end = fl->line.end;
      (*lines)++;
    }
    bsl_feeder_release(f);
  }
}

/* Reads asked of the reader thread (live mode's tail): a file read in
 * pieces of MAX_LINES, one stopped at once, with lines added by the caller
 * meanwhile, gives every line once, in order, and says where it ended. */
static void test_lines_mode_reads(void **state) {
  (void)state;
  enum { N = 10000 };
  corpus c = {0};
  add_std_lines(&c, 0, N);
  char *path = plain_file(c.data, c.len);
  bsl_reader *r = open_ok(path);
  bsl_format *fmt = make_format("combined");
  bsl_classifier *cls = make_classifier();
  bsl_feeder *f = NULL;
  char err[512] = "";
  int notices = 0;
  assert_int_equal(bsl_feeder_start_lines(&f, cls, "/collect", count_notice,
                                          &notices, err, sizeof err),
                   0);
  char file_tag, add_tag;
  uint64_t end = 0;
  size_t lines = 0, added = 0, n_added = 0, reads = 0;
  bsl_feeder_read_result res = {.rc = 1};
  bool stopped_one = false;
  while (res.rc == 1) {
    bsl_feeder_read_req req = {
        .r = r, .format = fmt, .tag = &file_tag, .max_lines = 3000};
    assert_int_equal(bsl_feeder_read(f, &req), 0);
    reads++;
    if (!stopped_one) { /* ends after the line it is on, or before any */
      bsl_feeder_read_stop(f);
      stopped_one = true;
    }
    assert_int_equal(bsl_feeder_read(f, &req), -1); /* one at a time */
    char text[64];
    int len = snprintf(text, sizeof text, "added %zu", n_added);
    bsl_line line = {.ptr = text,
                     .len = (size_t)len,
                     .offset = n_added * 1000,
                     .end = n_added * 1000 + (uint64_t)len + 1,
                     .kind = BSL_LINE_OK};
    while (bsl_feeder_add(f, &line, NULL, &add_tag) == 1)
      take_batches(f, true, &file_tag, &add_tag, &end, &lines, &added);
    n_added++;
    /* consume until the read is over (it waits for room in the ring) */
    while (bsl_feeder_read_done(f, &res) == 0)
      take_batches(f, false, &file_tag, &add_tag, &end, &lines, &added);
    assert_ptr_equal(res.tag, &file_tag);
    assert_true(res.lines <= req.max_lines);
    assert_true(res.rc == 0 || res.rc == 1);
    assert_int_equal(res.offset, bsl_reader_offset(r));
    assert_int_equal(bsl_feeder_read_done(f, &res), 0); /* given once */
  }
  bsl_feeder_submit(f);
  take_batches(f, true, &file_tag, &add_tag, &end, &lines, &added);
  assert_int_equal(lines, N);
  assert_int_equal(end, c.len);
  assert_int_equal(added, n_added);
  assert_true(reads >= N / 3000 + 1);
  bsl_feeder_stop(f);
  bsl_reader_close(r);
  bsl_format_destroy(fmt);
  bsl_classifier_destroy(cls);
  corpus_free(&c);
}

/* Stopping the feeder while a read waits for room in the ring returns
 * promptly (the alarm fails a hang) and leaks nothing. */
static void test_lines_mode_stop_reading(void **state) {
  (void)state;
  corpus c = {0};
  add_std_lines(&c, 0, 20000);
  char *path = plain_file(c.data, c.len);
  bsl_reader *r = open_ok(path);
  bsl_format *fmt = make_format("combined");
  bsl_feeder *f = NULL;
  char err[512] = "";
  assert_int_equal(
      bsl_feeder_start_lines(&f, NULL, NULL, NULL, NULL, err, sizeof err), 0);
  bsl_feeder_read_req req = {
      .r = r, .format = fmt, .tag = NULL, .max_lines = 20000};
  assert_int_equal(bsl_feeder_read(f, &req), 0);
  nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
  bsl_feeder_stop(f); /* nothing consumed: the ring is full */
  bsl_reader_close(r);
  bsl_format_destroy(fmt);
  corpus_free(&c);
}

/* bsl_hit_derive() gives a hand-built hit what the parser thread gives. */
static void test_hit_derive(void **state) {
  (void)state;
  static const char text[] =
      "5.6.7.8 - - [01/Nov/2026:00:00:14 +0000] \"GET /collect?e=click&t=buy "
      "HTTP/1.1\" 204 0 \"-\" \"Googlebot/2.1 "
      "(+http://www.google.com/bot.html)\"";
  bsl_format *fmt = make_format("combined");
  bsl_classifier *cls = make_classifier();
  bsl_feeder *f = NULL;
  char err[512] = "";
  assert_int_equal(
      bsl_feeder_start_lines(&f, cls, "/collect", NULL, NULL, err, sizeof err),
      0);
  bsl_line line = {.ptr = text, .len = strlen(text), .kind = BSL_LINE_OK};
  assert_int_equal(bsl_feeder_add(f, &line, fmt, NULL), 0);
  bsl_feeder_submit(f);
  const bsl_fed_batch *b = NULL;
  assert_int_equal(bsl_feeder_next(f, &b, err, sizeof err), 1);
  const bsl_hit *fed = &b->lines[0].hit;

  bsl_classifier *mine = make_classifier();
  bsl_hit hit;
  const char *reason = NULL;
  assert_int_equal(bsl_format_parse(fmt, text, strlen(text), &hit, &reason),
                   0); /* the feeder is idle: FMT is free */
  bsl_beacon_params bp;
  char bbuf[BSL_BEACON_BYTES];
  bsl_hit_derive(mine, "/collect", &hit, &bp, bbuf);
  assert_true(hit.derived);
  assert_int_equal(hit.is_bot, fed->is_bot);
  assert_true(hit.is_bot);
  assert_int_equal(hit.is_static, fed->is_static);
  assert_int_equal(hit.device, fed->device);
  assert_memory_equal(hit.identity, fed->identity, sizeof hit.identity);
  assert_ptr_equal(hit.beacon, &bp);
  assert_string_equal(bp.event, fed->beacon->event);
  assert_string_equal(bp.target, "buy");
  /* without a beacon path, no beacon */
  bsl_hit_derive(mine, NULL, &hit, &bp, bbuf);
  assert_null(hit.beacon);
  bsl_feeder_release(f);
  bsl_feeder_stop(f);
  bsl_classifier_destroy(mine);
  bsl_format_destroy(fmt);
  bsl_classifier_destroy(cls);
}

static int arm_alarm(void **state) {
  (void)state;
  alarm(100);
  return 0;
}

static int disarm_alarm(void **state) {
  (void)state;
  alarm(0);
  return 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, arm_alarm, disarm_alarm)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_order_plain),
      TEST(test_order_gzip),
      TEST(test_batch_bounds),
      TEST(test_rejects_in_the_middle),
      TEST(test_no_format),
      TEST(test_derived_fields),
      TEST(test_after_skip_to),
      TEST(test_truncated_gzip),
      TEST(test_read_error),
      TEST(test_stop_early),
      TEST(test_stop_after_end),
      TEST(test_empty_file),
      TEST(test_lines_mode),
      TEST(test_lines_mode_reads),
      TEST(test_lines_mode_stop_reading),
      TEST(test_hit_derive),
  };
  return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
