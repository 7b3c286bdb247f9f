/*
 * Parked open visits (store.h, "Parking"), SQLite only.
 *
 * A commit that parks (bsl_store_park_reset(), which drops the last
 * commit's, then its parked rows) encodes the rows one after the other and
 * writes them in blobs of PART_BYTES (the last one when the numbering or
 * the commit comes: bsl_store__park_flush): a few pages for thousands of
 * visits, where rows in a table cost as much to write as the visit_log
 * rewrites they replace.  Only a process resuming reads them (at its
 * start, bsl_store_load_open_visits).  A parked visit counts nowhere yet: the
 * per-day aggregates and the goal counts take it when its row lands in
 * visit_log (store.c), so every view agrees with visit_log at every
 * commit; meanwhile its day keeps its visitors in memory (agg hold) and,
 * in visit_parked_days, its visitor keys, which the numbering waits for.
 *
 * The blob: "BSLP", then per row the little-endian int64s visit_id,
 * visitor, started_at, ended_at, pageviews, clicks, conversions and
 * max_scroll, then the strings site, day, channel, source, medium,
 * campaign, device, landing_path, exit_path and pages, each a uint32
 * length, its bytes and a NUL.  Read back only by this file, which checks
 * every length against the blob's end.
 *
 * Owns its buffer; freed by bsl_store__park_free().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "store_sql.h"

#define PARK_MAGIC "BSLP"
enum { PARK_NUMS = 8, PARK_STRS = 10 };
/* A part's size: memory holds one, not all the visits a busy site's commit
 * parks (~2.5 MB at 10k open visits) */
#define PART_BYTES (256 * 1024)

typedef struct park_day {
  char day[11];
  char *site;
} park_day;

struct bsl_park {
  bool pending;       /* a reset came: rows to park, then a flush */
  unsigned char *buf; /* the part being filled */
  size_t len, cap;
  int parts;      /* written by this commit */
  park_day *days; /* distinct (day, site) of the rows: a few */
  size_t n_days, cap_days;
};

static int oom(bsl_store *s) {
  snprintf(s->error, sizeof s->error, "%s: out of memory parking visits",
           s->path);
  return -1;
}

static bool reserve(struct bsl_park *p, size_t more) {
  if (p->len + more <= p->cap)
    return true;
  size_t cap = p->cap ? p->cap : 64 * 1024;
  while (cap < p->len + more)
    cap *= 2;
  unsigned char *nb = realloc(p->buf, cap);
  if (!nb)
    return false;
  p->buf = nb;
  p->cap = cap;
  return true;
}

/* The blob's numbers: V in BYTES bytes, little-endian, and back. */
static void put_le(struct bsl_park *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++)
    p->buf[p->len++] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++)
    v |= (uint64_t)at[i] << (8 * i);
  return v;
}

static void put_str(struct bsl_park *p, const char *t, size_t n) {
  put_le(p, n, 4);
  memcpy(p->buf + p->len, t, n);
  p->len += n;
  p->buf[p->len++] = '\0';
}

static void days_clear(struct bsl_park *p) {
  for (size_t i = 0; i < p->n_days; i++)
    free(p->days[i].site);
  p->n_days = 0;
}

void bsl_store__park_free(bsl_store *s) {
  struct bsl_park *p = s->park;
  if (!p)
    return;
  days_clear(p);
  free(p->days);
  free(p->buf);
  free(p);
  s->park = NULL;
}

void bsl_store__park_forget(bsl_store *s) {
  if (s->park) {
    s->park->pending = false;
    s->park->len = 0;
    days_clear(s->park);
  }
}

/* Starts a part in the buffer (which has room for the magic). */
static void part_begin(struct bsl_park *p) {
  memcpy(p->buf, PARK_MAGIC, 4);
  p->len = 4;
}

/* Writes the part being filled, if it holds a row, and starts another. */
static int part_write(bsl_store *s) {
  struct bsl_park *p = s->park;
  if (p->len <= 4)
    return 0;
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_PARK_PUT);
  if (!st)
    return -1;
  sqlite3_bind_int(st, 1, ++p->parts);
  sqlite3_bind_blob64(st, 2, p->buf, p->len, SQLITE_STATIC);
  int rc = bsl_store__run(s, st, "parking open visits");
  sqlite3_clear_bindings(st);
  part_begin(p);
  return rc;
}

int bsl_store_park_reset(bsl_store *s) {
  if (s->pg)
    return 0; /* never parks: bsl_store_can_park() */
  if (!s->park && !(s->park = calloc(1, sizeof *s->park)))
    return oom(s);
  struct bsl_park *p = s->park;
  sqlite3_stmt *st;
  if (!(st = bsl_store__stmt(s, SQL_PARK_DROP)) ||
      bsl_store__run(s, st, "emptying visit_parked") != 0 ||
      !(st = bsl_store__stmt(s, SQL_PARK_DAYS_DROP)) ||
      bsl_store__run(s, st, "emptying visit_parked_days") != 0)
    return -1;
  days_clear(p);
  if (!reserve(p, 4))
    return oom(s);
  part_begin(p);
  p->parts = 0;
  p->pending = true;
  return 0;
}

static int day_note(bsl_store *s, const char *day, const char *site) {
  struct bsl_park *p = s->park;
  for (size_t i = 0; i < p->n_days; i++)
    if (strcmp(p->days[i].day, day) == 0 && strcmp(p->days[i].site, site) == 0)
      return 0;
  if (p->n_days == p->cap_days) {
    size_t cap = p->cap_days ? p->cap_days * 2 : 8;
    park_day *nd = realloc(p->days, cap * sizeof *nd);
    if (!nd)
      return oom(s);
    p->days = nd;
    p->cap_days = cap;
  }
  park_day *d = &p->days[p->n_days];
  snprintf(d->day, sizeof d->day, "%s", day);
  if (!(d->site = strdup(site)))
    return oom(s);
  p->n_days++;
  return bsl_store__agg_hold(s, day, site);
}

int bsl_store__park_add(bsl_store *s, const bsl_visit_row *v) {
  struct bsl_park *p = s->park;
  if (!p || !p->pending) {
    snprintf(s->error, sizeof s->error,
             "%s: a parked visit came without its commit's reset", s->path);
    return -1;
  }
  const char *str[PARK_STRS] = {
      v->site,      v->day,
      v->channel,   v->source,
      v->medium,    v->campaign,
      v->device,    v->landing_path,
      v->exit_path, v->pages_json ? v->pages_json : "[]"};
  size_t len[PARK_STRS], need = PARK_NUMS * 8;
  for (int i = 0; i < PARK_STRS; i++) {
    str[i] = str[i] ? str[i] : "";
    len[i] = i == PARK_STRS - 1 && v->pages_json && v->pages_json_len
                 ? v->pages_json_len
                 : strlen(str[i]);
    if (len[i] > UINT32_MAX)
      return oom(s);
    need += 4 + len[i] + 1;
  }
  if (p->len + need > PART_BYTES && part_write(s) != 0)
    return -1;
  if (!reserve(p, need))
    return oom(s);
  const int64_t num[PARK_NUMS] = {v->visit_id,    v->visitor,   v->started_at,
                                  v->ended_at,    v->pageviews, v->clicks,
                                  v->conversions, v->max_scroll};
  for (int i = 0; i < PARK_NUMS; i++)
    put_le(p, (uint64_t)num[i], 8);
  for (int i = 0; i < PARK_STRS; i++)
    put_str(p, str[i], len[i]);
  return day_note(s, str[1], str[0]);
}

int bsl_store__park_flush(bsl_store *s) {
  struct bsl_park *p = s->park;
  if (!p || !p->pending)
    return 0;
  if (part_write(s) != 0)
    return -1;
  sqlite3_stmt *st;
  for (size_t i = 0; i < p->n_days; i++) {
    if (!(st = bsl_store__stmt(s, SQL_PARK_DAY_PUT)))
      return -1;
    bsl_store__bind_text(st, 1, p->days[i].day);
    bsl_store__bind_text(st, 2, p->days[i].site);
    if (bsl_store__run(s, st, "parking open visits") != 0)
      return -1;
  }
  bsl_store__park_forget(s);
  return 0;
}

/* Decodes the row at *AT of BLOB (LEN bytes) into V, its strings pointing
 * into BLOB; false at a malformed one. */
static bool row_at(const unsigned char *blob, size_t len, size_t *at,
                   bsl_visit_row *v) {
  int64_t num[PARK_NUMS];
  const char *str[PARK_STRS];
  size_t str_len[PARK_STRS];
  size_t i = *at;
  for (int k = 0; k < PARK_NUMS; k++) {
    if (len - i < 8)
      return false;
    num[k] = (int64_t)get_le(blob + i, 8);
    i += 8;
  }
  for (int k = 0; k < PARK_STRS; k++) {
    if (len - i < 4)
      return false;
    uint64_t n = get_le(blob + i, 4);
    i += 4;
    if (len - i < n + 1 || blob[i + n] != '\0')
      return false;
    str[k] = (const char *)blob + i;
    str_len[k] = n;
    i += n + 1;
  }
  *at = i;
  *v = (bsl_visit_row){
      .visit_id = num[0],
      .visitor = num[1],
      .started_at = num[2],
      .ended_at = num[3],
      .pageviews = num[4],
      .clicks = num[5],
      .conversions = num[6],
      .max_scroll = (int)num[7],
      .site = str[0],
      .day = str[1],
      .channel = str[2],
      .source = str[3],
      .medium = str[4],
      .campaign = str[5],
      .device = str[6],
      .landing_path = str[7],
      .exit_path = str[8],
      .pages_json = str[9],
      .pages_json_len = str_len[9],
      .is_open = true,
      .parked = true,
  };
  return true;
}

int bsl_store__park_each(bsl_store *s,
                         int (*cb)(bsl_store *s, const bsl_visit_row *v,
                                   void *ctx),
                         void *ctx) {
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_PARK_GET);
  if (!st)
    return -1;
  int rc, out = 0;
  while (out == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *blob = sqlite3_column_blob(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    if (len < 4 || memcmp(blob, PARK_MAGIC, 4) != 0) {
      out = -2;
      break;
    }
    for (size_t at = 4; out == 0 && at < len;) {
      bsl_visit_row v;
      if (!row_at(blob, len, &at, &v))
        out = -2;
      else
        out = cb(s, &v, ctx);
    }
  }
  if (out == 0 && rc != SQLITE_DONE)
    out = bsl_store__fail(s, "reading parked visits");
  sqlite3_reset(st);
  if (out == -2) {
    snprintf(s->error, sizeof s->error,
             "%s: visit_parked holds a malformed row; its open visits are "
             "lost (delete its rows to go on without them)",
             s->path);
    return -1;
  }
  return out;
}
