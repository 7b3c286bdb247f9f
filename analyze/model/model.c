/*
 * The audience model (see model.h).
 *
 * Visitors are keyed hashes (SipHash, keyed with a random salt per day) of
 * the site, the client address and the user agent, so no raw address ever
 * leaves this file.  Each visitor has at most one visit in memory; a visit is
 * written back at every flush while it changes and dropped from memory once
 * the site's clock has moved two session timeouts past it.
 *
 * Counter deltas (hits per status, beacon events) live in small hash tables
 * keyed by their dimensions and are added to the database at each flush.
 */
#include "model.h"
#include "calendar.h"

#include <pcre2.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changeset.h"
#include "fasthash.h"
#include "fault.h"
#include "feeder.h"
#include "url.h"
#include "utf8.h"

#define SALT_LEN crypto_shorthash_KEYBYTES
#define MAX_GOALS 64

/* ---- time zone: Unix time -> local day number ---- */

/* A stored YYYY-MM-DD as a day number (0 for a malformed one, as before). */
static int32_t day_number(const char *s) {
  int64_t d;
  return bsl_day_parse(s, &d) == 0 ? (int32_t)d : 0;
}

/* ---- a small open-addressing table for counter deltas ---- */

typedef struct counter {
  uint64_t hash;
  char *key; /* NULL for an empty slot */
  size_t key_len;
  int64_t a, b, c, d;
} counter;

typedef struct counter_table {
  counter *slots;
  size_t cap, used;
  counter *last; /* the last one returned: consecutive lines share keys */
} counter_table;

/* Inlined: with the constant length of a hits key, the compiler compares
 * and hashes it without calls (a tenth of the model's time per line). */
static inline __attribute__((always_inline)) counter *
counter_get(counter_table *t, const void *key, size_t len) {
  if (t->last && t->last->key_len == len) {
    /* keys of a table mostly share their first bytes (day, site): their
     * last eight tell a different key without a call to memcmp */
    uint64_t x = 0, y = 1;
    if (len >= sizeof x) {
      memcpy(&x, t->last->key + len - sizeof x, sizeof x);
      memcpy(&y, (const char *)key + len - sizeof y, sizeof y);
    }
    if ((len < sizeof x || x == y) && memcmp(t->last->key, key, len) == 0)
      return t->last;
  }
  if ((t->used + 1) * 4 >= t->cap * 3) {
    size_t ncap = t->cap ? t->cap * 2 : 256;
    counter *ns = calloc(ncap, sizeof *ns);
    if (!ns)
      return NULL;
    for (size_t i = 0; i < t->cap; i++) {
      if (!t->slots[i].key)
        continue;
      size_t j = t->slots[i].hash & (ncap - 1);
      while (ns[j].key)
        j = (j + 1) & (ncap - 1);
      ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    t->last = NULL;
  }
  uint64_t h = bsl_hash64(key, len);
  size_t i = h & (t->cap - 1);
  while (t->slots[i].key) {
    counter *c = &t->slots[i];
    if (c->hash == h && c->key_len == len && memcmp(c->key, key, len) == 0)
      return t->last = c;
    i = (i + 1) & (t->cap - 1);
  }
  char *copy = malloc(len ? len : 1);
  if (!copy)
    return NULL;
  memcpy(copy, key, len);
  t->slots[i] = (counter){.hash = h, .key = copy, .key_len = len};
  t->used++;
  return t->last = &t->slots[i];
}

static void counter_clear(counter_table *t) {
  for (size_t i = 0; i < t->cap; i++)
    free(t->slots[i].key);
  free(t->slots);
  *t = (counter_table){0};
}

/* ---- visits ---- */

typedef struct json_buf {
  char *p;
  size_t len, cap;
} json_buf;

typedef struct page_stat {
  char *path;
  size_t path_len; /* strlen(path), kept: pages are compared on every hit */
  int32_t pageviews, entries;
  int16_t max_scroll;
  bool dirty;
} page_stat;

/* Room inside each visit for its first pages and for short strings (page
 * paths, source, medium, campaign; a path is 15 bytes on average): most
 * visits then need no allocation besides their own, where a malloc and a
 * free per page and per string were a sixth of the model thread's work. */
#define VISIT_INLINE_PAGES 2
#define VISIT_INLINE_TEXT 80

typedef struct visit {
  int64_t id;
  uint64_t visitor;
  int32_t site, day;
  int64_t start, last, last_pageview;
  int32_t pageviews, clicks;
  int16_t max_scroll;
  enum bsl_channel channel;
  enum bsl_device device;
  /* each owned, or empty_str; landing and exit may instead point to the
   * path of one of the visit's pages (landing_page, exit_page): their
   * copies and the empty strings were a third of the model's mallocs */
  char *source, *medium, *campaign, *landing, *exit;
  bool landing_page, exit_page;
  page_stat *pages; /* inline_pages, or owned once they are too few */
  uint32_t n_pages, cap_pages;
  uint64_t goals, goals_written;
  bool dirty;
  bool saved;         /* a changeset already holds its row */
  bool parked;        /* the last changeset with its row parked it */
  uint16_t text_used; /* bytes of text[] handed out (visit_str()) */
  page_stat inline_pages[VISIT_INLINE_PAGES];
  char text[VISIT_INLINE_TEXT];
} visit;

typedef struct visit_map {
  visit **slots; /* NULL = empty */
  size_t cap, used;
} visit_map;

typedef struct day_salt {
  int32_t day;
  uint8_t salt[SALT_LEN];
  bool dirty;
} day_salt;

/* Visitor keys of recent (day, site, identity digest) triples: the same
 * visitor sends many lines, and SipHash over ~200 bytes was the model's
 * largest single cost.  Slots hold digests, not bytes, so the table stays
 * small enough for the caches.  Memory only; cleared when a day's salt is
 * dropped so a key never outlives its salt. */
#define VKEY_SLOTS 16384
typedef struct vkey_slot {
  uint64_t identity[2]; /* bsl_hit_identity() */
  uint64_t key;         /* 0: empty */
  int32_t day, site;
} vkey_slot;

typedef struct site_info {
  char *name;
  char *host;    /* name without scheme, port or path: the internal host */
  int64_t clock; /* newest hit time seen */
  /* the clock as of the last flush: it is saved with the visits so that a
   * resumed run sweeps and caps exactly as an uninterrupted one */
  int64_t clock_written;
} site_info;

struct bsl_model {
  int session_timeout;
  char *beacon_path;
  size_t beacon_len;
  bsl_classifier *cls;
  bsl_store *store;

  /* time zone */
  bsl_zone zone; /* config/calendar.c: the one day-cut */
  int64_t cached_block;
  int32_t cached_day;

  site_info *sites;
  size_t n_sites;

  counter_table hits;      /* key: day, site, status -> hits, bot hits */
  counter_table events;    /* key: day, site, path\0event\0target -> events */
  counter_table not_found; /* key: day, site, path -> people's 404s */
  counter_table pages;     /* key: day, site, path -> pageviews, entries,
                              sum of scroll depths, pageviews reaching 75% */
  bsl_changeset *cs;       /* the changeset being written by a flush */
  json_buf json;           /* scratch for a visit's pages */
  char *clean_buf;         /* scratch for a path that needed cleaning */
  size_t clean_cap;

  visit_map open;
  visit **closed; /* closed since the last flush, still to be written */
  size_t n_closed, cap_closed;

  day_salt *salts;
  size_t n_salts, cap_salts;
  vkey_slot *vkeys; /* VKEY_SLOTS of them */
  /* closed visits written by the writer thread, to be freed here */
  pthread_mutex_t retired_mu;
  struct closed_visits *retired;
  int32_t newest_day;
  int32_t newest_written; /* the newest day as saved (meta newest_day) */
  /* visitor keys of the days before this are numbers (meta numbered_before) */
  int32_t numbered_before;
  /* bsl_model_set_parking(); whether the last flush parked visits (or the
   * store had parked ones when they were loaded): the next flush empties
   * visit_parked and writes every open visit not in visit_log again */
  bool parking, parked_last;
  /* pages_daily's entries come from the visit rows (bsl_store_counts_
   * entries): a visit parked or not yet written counts there with them */
  bool entries_by_store;

  int64_t next_visit_id;
  int64_t hits_since_sweep;
  uint64_t hits_since_reclaim; /* bsl_model_hit(): freeing retired visits */
  visit **loading;             /* open visits by id, only while resuming */
  size_t n_loading, cap_loading;

  char **goal_names;
  pcre2_code **goal_re;
  size_t n_goals;
  pcre2_match_data *goal_md;

  /* the open-visit cap (0: none) and the visits it closed early */
  size_t max_open;
  uint64_t closed_early;
  size_t created_since_flush; /* visits begun since the last flush */
  visit **evict;              /* scratch for choosing which visits to close */
  size_t cap_evict;
  /* An allocation failed while a line was accounted: some of its effects
   * are missing, so nothing may be flushed any more (model.h). */
  bool failed;
};

/* The one copy of "": most visits have no source, medium or campaign. */
static char empty_str[1];

/* Whether S lies in V's own text[] (integers: S may be any pointer). */
static bool in_text(const visit *v, const char *s) {
  uintptr_t a = (uintptr_t)s, t = (uintptr_t)v->text;
  return a >= t && a < t + sizeof v->text;
}

/* Frees a string of V made by visit_str() (or str_dup()). */
static void str_free(visit *v, char *s) {
  if (s != empty_str && !in_text(v, s))
    free(s);
}

static visit *visit_new(void) {
  visit *v = bsl_fault("visit") ? NULL : calloc(1, sizeof *v);
  if (v) {
    v->pages = v->inline_pages;
    v->cap_pages = VISIT_INLINE_PAGES;
  }
  return v;
}

static void visit_free(visit *v) {
  if (!v)
    return;
  if (!v->landing_page)
    str_free(v, v->landing);
  if (!v->exit_page)
    str_free(v, v->exit);
  for (uint32_t i = 0; i < v->n_pages; i++)
    str_free(v, v->pages[i].path);
  if (v->pages != v->inline_pages)
    free(v->pages);
  str_free(v, v->source);
  str_free(v, v->medium);
  str_free(v, v->campaign);
  free(v);
}

static size_t map_index(const visit_map *m, uint64_t key) {
  return (size_t)(key * 0x9E3779B97F4A7C15ULL >> 7) & (m->cap - 1);
}

static visit *map_find(const visit_map *m, uint64_t key) {
  if (!m->cap)
    return NULL;
  for (size_t i = map_index(m, key); m->slots[i]; i = (i + 1) & (m->cap - 1))
    if (m->slots[i]->visitor == key)
      return m->slots[i];
  return NULL;
}

static int map_put(visit_map *m, visit *v) {
  if ((m->used + 1) * 4 >= m->cap * 3) {
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    visit **ns = calloc(ncap, sizeof *ns);
    if (!ns)
      return -1;
    visit_map nm = {.slots = ns, .cap = ncap};
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->slots[i])
        continue;
      size_t j = map_index(&nm, m->slots[i]->visitor);
      while (ns[j])
        j = (j + 1) & (ncap - 1);
      ns[j] = m->slots[i];
    }
    free(m->slots);
    nm.used = m->used;
    *m = nm;
  }
  size_t i = map_index(m, v->visitor);
  while (m->slots[i])
    i = (i + 1) & (m->cap - 1);
  m->slots[i] = v;
  m->used++;
  return 0;
}

/* Linear-probing delete with backward shift, so lookups need no tombstones. */
static void map_remove(visit_map *m, uint64_t key) {
  if (!m->cap)
    return;
  size_t i = map_index(m, key);
  while (m->slots[i] && m->slots[i]->visitor != key)
    i = (i + 1) & (m->cap - 1);
  if (!m->slots[i])
    return;
  m->slots[i] = NULL;
  m->used--;
  for (size_t j = (i + 1) & (m->cap - 1); m->slots[j];
       j = (j + 1) & (m->cap - 1)) {
    size_t home = map_index(m, m->slots[j]->visitor);
    /* move j back to i when its home is not in the cyclic range (i, j] */
    bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!between) {
      m->slots[i] = m->slots[j];
      m->slots[j] = NULL;
      i = j;
    }
  }
}

/* ---- helpers ---- */

static char *dup_slice(const char *p, size_t len) {
  char *s = malloc(len + 1);
  if (s) {
    memcpy(s, p, len);
    s[len] = '\0';
  }
  return s;
}

/* A copy of P (LEN bytes), empty_str when empty; NULL when out of memory. */
static char *str_dup(const char *p, size_t len) {
  return len ? dup_slice(p, len) : empty_str;
}

/* A copy of P (LEN bytes) for visit V: in V's own text while it has room
 * (never reused: a replaced string's bytes stay until the visit goes),
 * else str_dup(); NULL when out of memory. */
static char *visit_str(visit *v, const char *p, size_t len) {
  if (len && len < sizeof v->text - v->text_used) {
    char *s = v->text + v->text_used;
    memcpy(s, p, len);
    s[len] = '\0';
    v->text_used = (uint16_t)(v->text_used + len + 1);
    return s;
  }
  return str_dup(p, len);
}

/* Sets *DST, a string of V, to a copy of P; false (and *DST unchanged) when
 * out of memory. */
static bool replace_str(visit *v, char **dst, const char *p, size_t len) {
  if (*dst && strlen(*dst) == len && memcmp(*dst, p, len) == 0)
    return true;
  char *s = visit_str(v, p, len);
  if (!s)
    return false;
  str_free(v, *dst);
  *dst = s;
  return true;
}

/* Points *DST (V's landing or exit, *ON_PAGE saying which it is) to the
 * path of V's page P: pages are freed only with their visit. */
static void point_to_page(visit *v, char **dst, bool *on_page,
                          const page_stat *p) {
  if (!*on_page)
    str_free(v, *dst);
  *dst = p->path;
  *on_page = true;
}

/* strcmp(S, LIT) == 0, inlined: for the beacon's short event names. */
static inline bool str_is(const char *s, const char *lit) {
  while (*lit && *s == *lit)
    s++, lit++;
  return *s == *lit;
}

static bool slice_eq(bsl_str s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* The request path under the database's text rule (utf8.h), so that pages,
 * landings and exits compare in memory as they are stored (a resumed visit
 * finds its pages again).  Almost every path is clean and returned as it
 * is; others are cleaned into a scratch buffer valid until the next call.
 * Out of memory fails the model (and returns PATH). */
static bsl_str clean_path(bsl_model *m, bsl_str path) {
  if (bsl_utf8_is_clean(path.ptr, path.len))
    return path;
  size_t need = bsl_utf8_clean_len(path.ptr, path.len) + 1;
  if (need > m->clean_cap) {
    char *nb = realloc(m->clean_buf, need);
    if (!nb) {
      m->failed = true;
      return path;
    }
    m->clean_buf = nb;
    m->clean_cap = need;
  }
  size_t n = bsl_utf8_clean(path.ptr, path.len, m->clean_buf, m->clean_cap);
  return (bsl_str){m->clean_buf, n};
}

static int32_t day_of(bsl_model *m, int64_t t) {
  if (m->zone.fixed) {
    /* A fixed zone's day is the 86400 s from its local midnight: remember
     * the current one by its start (in cached_block), a call per line less.
     * Unsigned: a wrapped difference is a miss, never an overflow. */
    if ((uint64_t)t - (uint64_t)m->cached_block < 86400)
      return m->cached_day;
    m->cached_day = (int32_t)bsl_zone_day_of(&m->zone, t);
    if (t > -((int64_t)1 << 40) && t < ((int64_t)1 << 40)) /* ~34800 years */
      m->cached_block = bsl_zone_to_unix(&m->zone, m->cached_day, 0);
    return m->cached_day;
  }
  /* Every zone offset in use is a multiple of 15 minutes, so a quarter of an
   * hour never straddles midnight: cache the day per quarter. */
  int64_t block = t >= 0 ? t / 900 : (t - 899) / 900;
  if (block == m->cached_block)
    return m->cached_day;
  m->cached_block = block;
  m->cached_day = (int32_t)bsl_zone_day_of(&m->zone, t);
  return m->cached_day;
}

void bsl_model_day_string(bsl_model *m, int64_t t, char out[11]) {
  bsl_day_format(day_of(m, t), out);
}

static day_salt *salt_for(bsl_model *m, int32_t day) {
  for (size_t i = 0; i < m->n_salts; i++)
    if (m->salts[i].day == day)
      return &m->salts[i];
  if (m->n_salts == m->cap_salts) {
    size_t ncap = m->cap_salts ? m->cap_salts * 2 : 8;
    day_salt *ns = realloc(m->salts, ncap * sizeof *ns);
    if (!ns) {
      m->failed = true; /* the key below would be salted with zeros */
      return NULL;
    }
    m->salts = ns;
    m->cap_salts = ncap;
  }
  day_salt *s = &m->salts[m->n_salts++];
  s->day = day;
  randombytes_buf(s->salt, sizeof s->salt);
  s->dirty = true;
  /* A fleet shares the day's salt (SPEC §9): the first host's wins.  When
   * the database cannot be reached now, this salt stays (saved with the
   * next commit unless another host's got there first: README "Fleet"). */
  char d[11];
  bsl_day_format(day, d);
  (void)bsl_store_salt_claim(m->store, d, s->salt, sizeof s->salt);
  return s;
}

static uint64_t visitor_key(bsl_model *m, int site, int32_t day,
                            const bsl_hit *hit) {
  const uint64_t *ident = hit->identity;
  uint64_t h = ident[0] ^ ((uint64_t)(uint32_t)day * 0x9E3779B97F4A7C15ULL) ^
               ((uint64_t)(uint32_t)site << 32);
  vkey_slot *slot = &m->vkeys[(h ^ (h >> 29)) & (VKEY_SLOTS - 1)];
  if (slot->key && slot->identity[0] == ident[0] &&
      slot->identity[1] == ident[1] && slot->day == day && slot->site == site)
    return slot->key;

  day_salt *salt = salt_for(m, day);
  unsigned char buf[2048];
  size_t n = 0;
  const site_info *si = &m->sites[site];
  bsl_str addr = bsl_hit_client(hit);
  /* Truncating a huge user agent only merges visitors whose first bytes
   * all agree: harmless, and it keeps the key computation allocation-free. */
  const struct {
    const char *p;
    size_t len;
  } parts[3] = {{si->name, strlen(si->name)},
                {addr.ptr, addr.len},
                {hit->user_agent.ptr, hit->user_agent.len}};
  for (int i = 0; i < 3; i++) {
    size_t take = parts[i].len;
    if (take > sizeof buf - n - 1)
      take = sizeof buf - n - 1;
    if (take)
      memcpy(buf + n, parts[i].p, take);
    n += take;
    buf[n++] = 0;
    if (n >= sizeof buf - 1)
      break;
  }
  static const uint8_t zero_key[SALT_LEN];
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, buf, n, salt ? salt->salt : zero_key);
  uint64_t key;
  memcpy(&key, out, sizeof key);
  /* Keys are positive (63 bits) and non-zero: once a day's salt is gone
   * its keys are replaced by negative numbers (bsl_store_number_visitors),
   * and the sign tells them apart. */
  key &= INT64_MAX;
  key = key ? key : 1;
  if (salt) {
    memcpy(slot->identity, ident, sizeof slot->identity);
    slot->key = key;
    slot->day = day;
    slot->site = site;
  }
  return key;
}

static page_stat *visit_page(visit *v, const char *path, size_t len) {
  for (uint32_t i = 0; i < v->n_pages; i++)
    if (v->pages[i].path_len == len && memcmp(v->pages[i].path, path, len) == 0)
      return &v->pages[i];
  if (v->n_pages == v->cap_pages) {
    uint32_t ncap = v->cap_pages * 2;
    bool was_inline = v->pages == v->inline_pages;
    page_stat *np = realloc(was_inline ? NULL : v->pages, ncap * sizeof *np);
    if (!np)
      return NULL;
    if (was_inline)
      memcpy(np, v->inline_pages, sizeof v->inline_pages);
    v->pages = np;
    v->cap_pages = ncap;
  }
  char *copy = visit_str(v, path, len);
  if (!copy)
    return NULL;
  page_stat *p = &v->pages[v->n_pages++];
  *p = (page_stat){.path = copy, .path_len = strlen(copy), .dirty = true};
  return p;
}

static int close_visit(bsl_model *m, visit *v) {
  map_remove(&m->open, v->visitor);
  if (m->n_closed == m->cap_closed) {
    size_t ncap = m->cap_closed ? m->cap_closed * 2 : 256;
    visit **nc = realloc(m->closed, ncap * sizeof *nc);
    if (!nc) {
      /* Out of memory: keep it open rather than lose it. */
      map_put(&m->open, v);
      m->failed = true;
      return -1;
    }
    m->closed = nc;
    m->cap_closed = ncap;
  }
  m->closed[m->n_closed++] = v;
  return 0;
}

/* The channel of a visit's landing; the landing path itself is the page's
 * (pageview() points to it). */
static void set_landing(bsl_model *m, visit *v, int site, const bsl_hit *hit,
                        enum bsl_device device) {
  bsl_channel_info ci;
  bsl_classify_channel(m->cls, &hit->query, &hit->referer, m->sites[site].host,
                       &ci);
  v->channel = ci.channel;
  v->device = device;
  if (!replace_str(v, &v->source, ci.source, strlen(ci.source)) ||
      !replace_str(v, &v->medium, ci.medium, strlen(ci.medium)) ||
      !replace_str(v, &v->campaign, ci.campaign, strlen(ci.campaign)))
    m->failed = true;
}

/* pages_daily is kept as counters: each change to a visit's page adds its
 * delta, so a scroll beacon arriving after the pageview still counts. */
static void page_delta(bsl_model *m, const visit *v, const page_stat *p,
                       int64_t pageviews, int64_t entries, int64_t scroll_sum,
                       int64_t scroll_75) {
  char key[8 + BSL_PAGE_PATH_MAX];
  int32_t dims[2] = {v->day, v->site};
  size_t len = p->path_len;
  if (len > sizeof key - sizeof dims)
    len = sizeof key - sizeof dims;
  memcpy(key, dims, sizeof dims);
  memcpy(key + sizeof dims, p->path, len);
  counter *c = counter_get(&m->pages, key, sizeof dims + len);
  if (!c) {
    m->failed = true;
    return;
  }
  c->a += pageviews;
  c->b += m->entries_by_store ? 0 : entries;
  c->c += scroll_sum;
  c->d += scroll_75;
}

static visit *new_visit(bsl_model *m, uint64_t key, int site, int32_t day,
                        const bsl_hit *hit, enum bsl_device device) {
  visit *v = visit_new();
  if (!v) {
    m->failed = true;
    return NULL;
  }
  v->id = m->next_visit_id++;
  m->created_since_flush++;
  v->visitor = key;
  v->site = site;
  v->day = day;
  v->start = v->last = v->last_pageview = hit->time;
  v->landing = v->exit = empty_str; /* until pageview() has the page */
  set_landing(m, v, site, hit, device);
  if (!v->source || !v->medium || !v->campaign || map_put(&m->open, v) != 0) {
    m->failed = true;
    visit_free(v);
    return NULL;
  }
  return v;
}

/* A pageview carrying a utm_source or utm_campaign different from the
 * visit's own starts a new visit (SPEC §5). */
static bool campaign_changes(const visit *v, const bsl_hit *hit) {
  if (hit->query.len < 4 || !memmem(hit->query.ptr, hit->query.len, "utm_", 4))
    return false;
  char value[BSL_DIM_MAX];
  int n = bsl_query_param(hit->query.ptr, hit->query.len, "utm_source", value,
                          sizeof value);
  if (n > 0) {
    bsl_ascii_lower(value);
    if (strcmp(value, v->source) != 0)
      return true;
  }
  n = bsl_query_param(hit->query.ptr, hit->query.len, "utm_campaign", value,
                      sizeof value);
  if (n > 0) {
    bsl_ascii_lower(value);
    if (strcmp(value, v->campaign) != 0)
      return true;
  }
  return false;
}

/* True when T belongs to visit V's stretch of activity: no gap longer than
 * the timeout on either side (lines may arrive slightly out of order). */
static bool within_visit(const bsl_model *m, const visit *v, int64_t t) {
  return t >= v->start - m->session_timeout &&
         t <= v->last + m->session_timeout;
}

static void count_goals(bsl_model *m, visit *v, const bsl_hit *hit) {
  for (size_t g = 0; g < m->n_goals; g++) {
    if (v->goals & (1ULL << g))
      continue;
    int rc = pcre2_match(m->goal_re[g], (PCRE2_SPTR)hit->path.ptr,
                         hit->path.len, 0, 0, m->goal_md, NULL);
    if (rc >= 0) {
      v->goals |= 1ULL << g;
      v->dirty = true;
    }
  }
}

static void pageview(bsl_model *m, int site, int32_t day, const bsl_hit *hit,
                     enum bsl_device device) {
  bsl_str path = clean_path(m, hit->path);
  if (m->failed)
    return;
  uint64_t key = visitor_key(m, site, day, hit);
  visit *v = map_find(&m->open, key);
  if (v && (!within_visit(m, v, hit->time) || campaign_changes(v, hit))) {
    if (close_visit(m, v) != 0)
      return;
    v = NULL;
  }
  bool fresh = false;
  if (!v) {
    v = new_visit(m, key, site, day, hit, device);
    if (!v)
      return;
    fresh = true;
  }
  page_stat *p = visit_page(v, path.ptr, path.len);
  if (!p) {
    m->failed = true;
    return;
  }
  p->pageviews++;
  p->dirty = true;
  v->pageviews++;
  v->dirty = true;
  /* a fresh visit's pageview is also its entry: one delta for both */
  page_delta(m, v, p, 1, fresh, p->max_scroll, p->max_scroll >= 75);
  if (fresh) {
    p->entries = 1;
    point_to_page(v, &v->landing, &v->landing_page, p);
  } else if (hit->time < v->start) {
    /* An earlier pageview arrived late: it is the real landing. */
    page_stat *old = visit_page(v, v->landing, strlen(v->landing));
    if (!old)
      m->failed = true;
    if (old && old->entries) {
      old->entries = 0;
      old->dirty = true;
      page_delta(m, v, old, 0, -1, 0, 0);
    }
    p = visit_page(v, path.ptr, path.len); /* may have moved */
    if (!p) {
      m->failed = true;
      return;
    }
    p->entries = 1;
    page_delta(m, v, p, 0, 1, 0, 0);
    set_landing(m, v, site, hit, device);
    point_to_page(v, &v->landing, &v->landing_page, p);
  }
  if (hit->time < v->start)
    v->start = hit->time;
  if (hit->time > v->last)
    v->last = hit->time;
  if (hit->time >= v->last_pageview) {
    v->last_pageview = hit->time;
    point_to_page(v, &v->exit, &v->exit_page, p);
  }
  count_goals(m, v, hit);
}

static int parse_depth(const char *s) {
  /* the tag sends whole numbers: read them without strtod */
  if (s[0] >= '0' && s[0] <= '9' &&
      (!s[1] || (s[1] >= '0' && s[1] <= '9' &&
                 (!s[2] || (s[2] >= '0' && s[2] <= '9' && !s[3]))))) {
    int v = 0;
    for (const char *c = s; *c; c++)
      v = v * 10 + (*c - '0');
    return v > 100 ? 100 : v;
  }
  char *end;
  double d = strtod(s, &end);
  if (end == s || (*end && *end != ' '))
    return -1;
  if (!(d >= 0))
    return d < 0 ? 0 : -1;
  return d > 100 ? 100 : (int)d;
}

static void beacon(bsl_model *m, int site, int32_t day, const bsl_hit *hit) {
  const bsl_beacon_params *bp = hit->beacon; /* derived (bsl_model_hit) */
  const char *event = bp->event, *depth = bp->depth, *page = bp->page;
  char referer_page[BSL_BEACON_PAGE_CAP];
  if (bp->rc_page <= 0)
    page = bsl_referer_path(hit->referer.ptr, hit->referer.len, referer_page,
                            sizeof referer_page)
               ? referer_page
               : "";
  const char *target = bp->rc_target > 0 ? bp->target : depth;

  /* events_daily key: day, site, then path\0event\0target */
  char key[8 + BSL_BEACON_PAGE_CAP + BSL_BEACON_EVENT_CAP +
           BSL_BEACON_TARGET_CAP];
  int32_t dims[2] = {day, site};
  memcpy(key, dims, sizeof dims);
  size_t n = sizeof dims;
  const char *parts[3] = {page, event, target};
  size_t lens[3];
  for (int i = 0; i < 3; i++) {
    lens[i] = strlen(parts[i]);
    memcpy(key + n, parts[i], lens[i] + 1);
    n += lens[i] + 1;
  }
  counter *c = counter_get(&m->events, key, n);
  if (!c) {
    m->failed = true;
    return;
  }
  c->a++;

  uint64_t vkey = visitor_key(m, site, day, hit);
  visit *v = map_find(&m->open, vkey);
  if (!v || !within_visit(m, v, hit->time))
    return; /* no open visit: the event still counts above */
  if (hit->time > v->last)
    v->last = hit->time;
  if (hit->time < v->start)
    v->start = hit->time;
  v->dirty = true;
  if (str_is(event, "click")) {
    v->clicks++;
  } else if (str_is(event, "scroll") && depth[0]) {
    int d = parse_depth(depth);
    if (d < 0)
      return;
    if (d > v->max_scroll)
      v->max_scroll = (int16_t)d;
    page_stat *p = visit_page(v, page, lens[0]);
    if (!p)
      m->failed = true;
    if (p && d > p->max_scroll) {
      page_delta(m, v, p, 0, 0, (int64_t)p->pageviews * (d - p->max_scroll),
                 p->max_scroll < 75 && d >= 75 ? p->pageviews : 0);
      p->max_scroll = (int16_t)d;
      p->dirty = true;
    }
  }
}

/* Drops from memory the visits no line can extend any more: their site's
 * clock is two timeouts past their last activity. */
static void sweep(bsl_model *m) {
  for (size_t i = 0; i < m->open.cap;) {
    visit *v = m->open.slots[i];
    if (v &&
        v->last + 2 * (int64_t)m->session_timeout < m->sites[v->site].clock) {
      if (close_visit(m, v) != 0)
        break;
      continue; /* backward shift may have moved another visit into i */
    }
    i++;
  }
}

/* (last activity, id): a strict order, so which visits the cap closes does
 * not depend on the order they sit in memory. */
static bool older(const visit *a, const visit *b) {
  return a->last != b->last ? a->last < b->last : a->id < b->id;
}

/* Reorders V[0..N) so that its K oldest (see older()) come first
 * (quickselect, Hoare partition). */
static void select_oldest(visit **v, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    visit *a = v[lo], *b = v[lo + (hi - lo) / 2], *c = v[hi];
    visit *pivot = older(a, b) ? (older(b, c)   ? b
                                  : older(a, c) ? c
                                                : a)
                               : (older(a, c)   ? a
                                  : older(b, c) ? c
                                                : b);
    size_t i = lo, j = hi;
    for (;;) {
      while (older(v[i], pivot))
        i++;
      while (older(pivot, v[j]))
        j--;
      if (i >= j)
        break;
      visit *t = v[i];
      v[i++] = v[j];
      v[j--] = t;
    }
    if (k <= j)
      hi = j;
    else
      lo = j + 1;
  }
}

/*
 * Keeps at most max_open visits open.  What it closes must not depend on
 * when earlier sweeps ran (a resumed run sweeps at other moments than an
 * uninterrupted one), so it first sweeps everything no line can extend:
 * what remains is the same set in both runs.  Only then, if that is still
 * over the cap, the least recently active visits are closed, down to 15/16
 * of the cap so the work is done once per cap/16 new visits.
 */
static void enforce_cap(bsl_model *m) {
  sweep(m);
  if (m->failed || m->open.used <= m->max_open)
    return;
  size_t n = 0, target = m->max_open - m->max_open / 16;
  if (m->cap_evict < m->open.used) {
    visit **nv = realloc(m->evict, m->open.used * sizeof *nv);
    if (!nv) {
      m->failed = true;
      return;
    }
    m->evict = nv;
    m->cap_evict = m->open.used;
  }
  for (size_t i = 0; i < m->open.cap; i++)
    if (m->open.slots[i])
      m->evict[n++] = m->open.slots[i];
  size_t k = n - target;
  select_oldest(m->evict, n, k - 1);
  for (size_t i = 0; i < k; i++) {
    if (close_visit(m, m->evict[i]) != 0)
      return;
    m->closed_early++;
  }
}

/* not_found_daily: a person's request answered 404, by its path. */
static void not_found(bsl_model *m, int site, int32_t day, const bsl_hit *hit) {
  bsl_str path = clean_path(m, hit->path);
  char key[8 + 4096];
  int32_t dims[2] = {day, site};
  size_t len = path.len;
  if (len > sizeof key - sizeof dims)
    len = sizeof key - sizeof dims;
  memcpy(key, dims, sizeof dims);
  if (len)
    memcpy(key + sizeof dims, path.ptr, len);
  counter *c = counter_get(&m->not_found, key, sizeof dims + len);
  if (!c) {
    m->failed = true;
    return;
  }
  c->a++;
}

/* A hit that did not come through a feeder (built by hand) is derived
 * here, the way the feeder does it, so the model has one path. */
static __attribute__((noinline)) int underived_hit(bsl_model *m, int site,
                                                   const bsl_hit *hit) {
  bsl_hit derived = *hit;
  bsl_beacon_params bp;
  char buf[BSL_BEACON_BYTES];
  bsl_hit_derive(m->cls, m->beacon_path, &derived, &bp, buf);
  return bsl_model_hit(m, site, &derived);
}

static void free_retired(bsl_model *m);

int bsl_model_hit(bsl_model *m, int site, const bsl_hit *hit) {
  if (m->failed)
    return -1;
  /* Closed visits are freed as soon as the writer has made them rows, not
   * at the next flush: they used to stay a whole interval longer, the
   * largest share of the peak memory of a bulk load. */
  if ((++m->hits_since_reclaim & 4095) == 0 &&
      __atomic_load_n(&m->retired, __ATOMIC_ACQUIRE))
    free_retired(m);
  if (!hit->derived)
    return underived_hit(m, site, hit);
  int32_t day = day_of(m, hit->time);
  if (day > m->newest_day)
    m->newest_day = day;
  site_info *si = &m->sites[site];
  if (hit->time > si->clock)
    si->clock = hit->time;

  bool bot = hit->is_bot;
  enum bsl_device device = (enum bsl_device)hit->device;

  struct {
    int32_t day, site, status;
  } hk = {day, site, hit->status};
  counter *c = counter_get(&m->hits, &hk, sizeof hk);
  if (!c)
    return m->failed = true, -1;
  c->a++;
  c->b += bot;
  if (hit->status == 404 && !bot && hit->has_request)
    not_found(m, site, day, hit);
  if (bot || !hit->has_request || !slice_eq(hit->method, "GET"))
    return 0;
  if (hit->path.len == m->beacon_len &&
      memcmp(hit->path.ptr, m->beacon_path, m->beacon_len) == 0) {
    beacon(m, site, day, hit);
    return m->failed ? -1 : 0;
  }
  bool ok_status =
      (hit->status >= 200 && hit->status <= 299) || hit->status == 304;
  if (!ok_status || hit->is_static)
    return 0;
  pageview(m, site, day, hit, device);
  if (m->max_open && m->open.used > m->max_open)
    enforce_cap(m);
  else if (++m->hits_since_sweep >= 65536) {
    m->hits_since_sweep = 0;
    sweep(m);
  }
  return m->failed ? -1 : 0;
}

uint64_t bsl_model_closed_early(const bsl_model *m) {
  return m->closed_early;
}

/* ---- persistence ---- */

/* Makes room for LEN more bytes in J; false when out of memory. */
static bool json_reserve(json_buf *j, size_t len) {
  if (j->len + len <= j->cap)
    return true;
  size_t ncap = j->cap ? j->cap : 1024;
  while (ncap < j->len + len)
    ncap *= 2;
  char *nj = realloc(j->p, ncap);
  if (!nj)
    return false;
  j->p = nj;
  j->cap = ncap;
  return true;
}

/* Writes S (LEN bytes) to OUT as a JSON string for SQLite's json_each:
 * quotes, backslashes and control bytes escaped; other bytes pass, and
 * are valid UTF-8 (paths are cleaned on the way in, clean_path()).  OUT
 * has room for LEN * 6 + 2 bytes; returns the end. */
static char *json_string(char *out, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  *out++ = '"';
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') {
      *out++ = (char)c;
    } else if (c == '"' || c == '\\') {
      *out++ = '\\';
      *out++ = (char)c;
    } else {
      memcpy(out, "\\u00", 4);
      out[4] = hex[c >> 4];
      out[5] = hex[c & 15];
      out += 6;
    }
  }
  *out++ = '"';
  return out;
}

/* Writes V in decimal to OUT (at least 12 bytes); returns the length. */
static size_t format_int(int32_t v, char *out) {
  char digits[12];
  size_t n = 0;
  uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
  do {
    digits[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  size_t len = 0;
  if (v < 0)
    out[len++] = '-';
  while (n)
    out[len++] = digits[--n];
  return len;
}

/* Appends the visit's pages as [[path, pageviews, entries, max_scroll],
 * ...] and a NUL to J: one column instead of one row per page keeps
 * flushes fast; the visit_pages view unpacks it.  Returns the JSON's offset
 * in J, or -1 when out of memory.  Room for the longest JSON is made once:
 * appending piece by piece was a third of its cost on the writer thread. */
static ptrdiff_t pages_json(json_buf *j, const visit *v) {
  size_t need = 3; /* [ ] NUL */
  for (uint32_t i = 0; i < v->n_pages; i++)
    need += v->pages[i].path_len * 6 + 2 + 3 * 12 + 6;
  if (!json_reserve(j, need))
    return -1;
  size_t at = j->len;
  char *o = j->p + at;
  *o++ = '[';
  for (uint32_t i = 0; i < v->n_pages; i++) {
    const page_stat *p = &v->pages[i];
    if (i)
      *o++ = ',';
    *o++ = '[';
    o = json_string(o, p->path, p->path_len);
    const int32_t values[3] = {p->pageviews, p->entries, p->max_scroll};
    for (int k = 0; k < 3; k++) {
      *o++ = ',';
      o += format_int(values[k], o);
    }
    *o++ = ']';
  }
  *o++ = ']';
  *o++ = '\0';
  j->len = (size_t)(o - j->p);
  return (ptrdiff_t)at;
}

/* Formats DAY into OUT unless OUT holds it already (*SHOWN says which
 * day it holds): a flush formats tens of thousands of days, nearly all
 * the same one or two. */
static void format_day(int32_t day, char out[11], int32_t *shown) {
  if (*shown != day) {
    bsl_day_format(day, out);
    *shown = day;
  }
}

/* Fills ROW from V, but for pages_json; DAY (11 bytes) holds its day. */
static void visit_row(const visit *v, const char *site, bool is_open,
                      const char day[11], bsl_visit_row *row) {
  *row = (bsl_visit_row){
      .visit_id = v->id,
      .site = site,
      .day = day,
      .visitor = (int64_t)v->visitor,
      .started_at = v->start,
      .ended_at = v->last,
      .pageviews = v->pageviews,
      .clicks = v->clicks,
      .conversions = __builtin_popcountll(v->goals),
      .max_scroll = v->max_scroll,
      .channel = bsl_channel_name(v->channel),
      .source = v->source,
      .medium = v->medium,
      .campaign = v->campaign,
      .device = bsl_device_name(v->device),
      .landing_path = v->landing,
      .exit_path = v->exit,
      .is_open = is_open,
      .saved_before = v->saved,
      .parked_before = v->parked,
  };
}

/* DAY and *SHOWN: format_day()'s, kept across the visits of a flush.  A
 * PARKED visit (open) goes to visit_parked and stays unsaved. */
static int write_visit(bsl_model *m, visit *v, bool is_open, bool parked,
                       char day[11], int32_t *shown) {
  format_day(v->day, day, shown);
  bsl_visit_row row;
  visit_row(v, m->sites[v->site].name, is_open, day, &row);
  row.parked = parked;
  m->json.len = 0;
  if (pages_json(&m->json, v) < 0)
    return -1;
  row.pages_json = m->json.p;
  row.pages_json_len = m->json.len - 1;
  bsl_changeset_put_visit(m->cs, &row);
  v->saved = v->saved || !parked;
  v->parked = parked;
  uint64_t fresh = v->goals & ~v->goals_written;
  for (size_t g = 0; g < m->n_goals; g++)
    if (fresh & (1ULL << g))
      bsl_changeset_put_visit_goal(m->cs, v->id, m->goal_names[g]);
  return 0;
}

/*
 * Closed visits never change again, so a flush hands them over whole: the
 * writer thread turns them into rows (the JSON, the copies) and frees them,
 * work that used to take a sixth of the model thread's time.  The payload
 * holds what it needs of the model: site and goal names, which live as long
 * as the model, and the model outlives every changeset.  Once written, the
 * visits go back to the model's thread to be freed there: glibc frees
 * memory of another thread's arena slowly, under that arena's lock.
 */
typedef struct closed_visits {
  struct closed_visits *next; /* in the model's retired list */
  bsl_model *model;
  visit **visits;
  size_t n;
  const char **site_names; /* by site id, a copy of the pointers */
  char *const *goal_names;
  size_t n_goals;
  json_buf json; /* the pages of a chunk of rows */
} closed_visits;

static int closed_visits_apply(bsl_store *store, void *arg) {
  closed_visits *cv = arg;
  enum { CHUNK = 64 };
  char days[CHUNK][11];
  ptrdiff_t json_at[CHUNK];
  bsl_visit_row rows[CHUNK];
  for (size_t first = 0; first < cv->n; first += CHUNK) {
    size_t n = cv->n - first < CHUNK ? cv->n - first : CHUNK;
    /* every row's JSON goes to one buffer, pointers fixed once it is done */
    cv->json.len = 0;
    for (size_t k = 0; k < n; k++) {
      const visit *v = cv->visits[first + k];
      bsl_day_format(v->day, days[k]);
      visit_row(v, cv->site_names[v->site], false, days[k], &rows[k]);
      json_at[k] = pages_json(&cv->json, v);
      if (json_at[k] < 0)
        return bsl_store_fail_with(store, "out of memory writing visits");
    }
    for (size_t k = 0; k < n; k++) {
      rows[k].pages_json = cv->json.p + json_at[k];
      /* the next JSON, or the buffer's end, follows this one's NUL */
      size_t end = k + 1 < n ? (size_t)json_at[k + 1] : cv->json.len;
      rows[k].pages_json_len = end - (size_t)json_at[k] - 1;
    }
    if (bsl_store_put_visits(store, rows, n) != 0)
      return -1;
    for (size_t k = 0; k < n; k++) {
      const visit *v = cv->visits[first + k];
      uint64_t fresh = v->goals & ~v->goals_written;
      for (size_t g = 0; g < cv->n_goals; g++)
        if ((fresh & (1ULL << g)) &&
            bsl_store_put_visit_goal(store, v->id, cv->goal_names[g]) != 0)
          return -1;
    }
  }
  return 0;
}

static void closed_visits_free(closed_visits *cv) {
  for (size_t i = 0; i < cv->n; i++)
    visit_free(cv->visits[i]);
  free(cv->visits);
  free(cv->site_names);
  free(cv->json.p);
  free(cv);
}

static void closed_visits_drop(void *arg) {
  closed_visits *cv = arg;
  bsl_model *m = cv->model;
  pthread_mutex_lock(&m->retired_mu);
  cv->next = m->retired;
  /* read without the lock by bsl_model_hit(), to see if there is any */
  __atomic_store_n(&m->retired, cv, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&m->retired_mu);
}

/* Frees the closed visits the writer is done with. */
static void free_retired(bsl_model *m) {
  pthread_mutex_lock(&m->retired_mu);
  closed_visits *cv = m->retired;
  __atomic_store_n(&m->retired, NULL, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&m->retired_mu);
  while (cv) {
    closed_visits *next = cv->next;
    closed_visits_free(cv);
    cv = next;
  }
}

static int by_id(const void *a, const void *b) {
  int64_t x = (*(visit *const *)a)->id, y = (*(visit *const *)b)->id;
  return (x > y) - (x < y);
}

/* Sorts V[0..N) by id (ids are unique): a radix sort of the ids' offsets
 * from the smallest, 11 bits per pass and only as many passes as their
 * range needs (one or two: ids are allocated in order), where qsort was a
 * third of a flush's time on the model's thread.  qsort when out of memory
 * or when the range is huge. */
static void sort_by_id(visit **v, size_t n) {
  if (n < 2)
    return;
  int64_t lo = v[0]->id, hi = v[0]->id;
  for (size_t i = 1; i < n; i++) {
    lo = v[i]->id < lo ? v[i]->id : lo;
    hi = v[i]->id > hi ? v[i]->id : hi;
  }
  uint64_t range = (uint64_t)hi - (uint64_t)lo;
  visit **tmp = range >> 44 ? NULL : malloc(n * sizeof *tmp);
  if (!tmp) {
    qsort(v, n, sizeof *v, by_id);
    return;
  }
  enum { BITS = 11, BUCKETS = 1 << BITS };
  visit **from = v, **to = tmp;
  for (int shift = 0; shift == 0 || range >> shift; shift += BITS) {
    size_t count[BUCKETS] = {0};
    for (size_t i = 0; i < n; i++)
      count[((uint64_t)from[i]->id - (uint64_t)lo) >> shift & (BUCKETS - 1)]++;
    size_t at = 0;
    for (size_t b = 0; b < BUCKETS; b++) {
      size_t c = count[b];
      count[b] = at;
      at += c;
    }
    for (size_t i = 0; i < n; i++)
      to[count[((uint64_t)from[i]->id - (uint64_t)lo) >> shift &
               (BUCKETS - 1)]++] = from[i];
    visit **t = from;
    from = to;
    to = t;
  }
  if (from != v)
    memcpy(v, from, n * sizeof *v);
  free(tmp);
}

/* Moves the closed visits into a changeset record.  -1 when out of memory
 * (the visits stay in the model for the next attempt). */
static int hand_over_closed(bsl_model *m) {
  free_retired(m);
  if (m->n_closed == 0)
    return 0;
  /* In id order, the rows go to the end of visit_log's B-tree: in the order
   * they closed, most inserts split a page in the middle, which was a
   * twelfth of the writer's work and left pages a third empty. */
  sort_by_id(m->closed, m->n_closed);
  closed_visits *cv = calloc(1, sizeof *cv);
  const char **names = malloc(m->n_sites * sizeof *names);
  if (!cv || !names) {
    free(cv);
    free(names);
    return -1;
  }
  for (size_t i = 0; i < m->n_sites; i++)
    names[i] = m->sites[i].name;
  cv->model = m;
  cv->visits = m->closed;
  cv->n = m->n_closed;
  cv->site_names = names;
  cv->goal_names = m->goal_names;
  cv->n_goals = m->n_goals;
  /* the next interval closes about as many: no growing from scratch */
  m->closed = malloc(m->cap_closed * sizeof *m->closed);
  m->cap_closed = m->closed ? m->cap_closed : 0;
  m->n_closed = 0;
  bsl_changeset_custom(m->cs, closed_visits_apply, closed_visits_drop, cv);
  return 0;
}

/* The day, site (returned) and path of a counter keyed (day, site, path). */
static const char *path_key(const bsl_model *m, const counter *c, char day[11],
                            int32_t *shown, char path[4097]) {
  int32_t dims[2];
  memcpy(dims, c->key, sizeof dims);
  format_day(dims[0], day, shown);
  size_t len = c->key_len - sizeof dims;
  memcpy(path, c->key + sizeof dims, len);
  path[len] = '\0';
  return m->sites[dims[1]].name;
}

int bsl_model_flush(bsl_model *m, bsl_changeset *cs) {
  if (m->failed)
    return -1;
  m->cs = cs;
  sweep(m);
  char day[11];
  int32_t shown = INT32_MIN; /* the day in DAY (format_day()) */
  bsl_day_format(shown, day);
  for (size_t i = 0; i < m->hits.cap; i++) {
    counter *c = &m->hits.slots[i];
    if (!c->key || (!c->a && !c->b))
      continue;
    int32_t dims[3];
    memcpy(dims, c->key, sizeof dims);
    format_day(dims[0], day, &shown);
    bsl_changeset_add_hits(m->cs, day, m->sites[dims[1]].name, dims[2], c->a,
                           c->b);
  }
  for (size_t i = 0; i < m->events.cap; i++) {
    counter *c = &m->events.slots[i];
    if (!c->key || !c->a)
      continue;
    int32_t dims[2];
    memcpy(dims, c->key, sizeof dims);
    format_day(dims[0], day, &shown);
    const char *path = c->key + sizeof dims;
    const char *event = path + strlen(path) + 1;
    const char *target = event + strlen(event) + 1;
    bsl_changeset_add_event(m->cs, day, m->sites[dims[1]].name, path, event,
                            target, c->a);
  }
  char path[4097];
  for (size_t i = 0; i < m->not_found.cap; i++) {
    counter *c = &m->not_found.slots[i];
    if (!c->key || !c->a)
      continue;
    const char *site = path_key(m, c, day, &shown, path);
    bsl_changeset_add_not_found(m->cs, day, site, path, c->a);
  }
  for (size_t i = 0; i < m->pages.cap; i++) {
    counter *c = &m->pages.slots[i];
    if (!c->key || (!c->a && !c->b && !c->c && !c->d))
      continue;
    const char *site = path_key(m, c, day, &shown, path);
    bsl_changeset_add_page_counts(m->cs, day, site, path, c->a, c->b, c->c,
                                  c->d);
  }
  /* a visit of a day whose salt is gone, closed now, is numbered below */
  bool late = false;
  for (size_t i = 0; i < m->n_closed && !late; i++)
    late = m->closed[i]->day < m->newest_day - 1;
  if (hand_over_closed(m) != 0)
    return -1;
  /* Parking (store.h): every open visit not in visit_log is written to
   * visit_parked, whose last contents this commit drops, when most of them
   * changed since the last commit (a busy site, whose visits span a few
   * commits each) and they are not many; not in an address flood, where
   * most are waiting to time out, unchanged, and writing them all again at
   * every commit would cost more than it saves. */
  size_t unsaved = 0, unsaved_dirty = 0;
  for (size_t i = 0; m->parking && i < m->open.cap; i++) {
    const visit *v = m->open.slots[i];
    if (v && !v->saved) {
      unsaved++;
      unsaved_dirty += v->dirty;
    }
  }
  bool park = m->parking && unsaved <= BSL_MODEL_PARK_MAX &&
              unsaved_dirty * 2 >= unsaved;
  if (park || m->parked_last)
    bsl_changeset_park_reset(m->cs);
  for (size_t i = 0; i < m->open.cap; i++) {
    visit *v = m->open.slots[i];
    bool again = v && !v->saved && (park || m->parked_last);
    if (v && (v->dirty || again) &&
        write_visit(m, v, true, park && !v->saved, day, &shown) != 0)
      return -1;
  }
  m->parked_last = park;
  /* The salts of the days before the day before the newest are deleted by
   * this commit: their keys become numbers in the same transaction, after
   * every visit it writes (README: who can re-identify what). */
  if (m->newest_day - 1 > m->numbered_before || late) {
    bsl_day_format(m->newest_day - 1, day);
    bsl_changeset_number_visitors(m->cs, day);
    if (m->newest_day - 1 > m->numbered_before) {
      m->numbered_before = m->newest_day - 1;
      bsl_changeset_meta_set(m->cs, "numbered_before", m->numbered_before);
    }
  }
  for (size_t i = 0; i < m->n_salts; i++) {
    day_salt *s = &m->salts[i];
    if (s->dirty && s->day >= m->newest_day - 1) {
      bsl_day_format(s->day, day);
      bsl_changeset_put_salt(m->cs, day, s->salt, sizeof s->salt);
    }
  }
  /* A day's salt is forgotten once the day after next has begun, so visitor
   * keys cannot be linked across days (SPEC §5). */
  bsl_day_format(m->newest_day - 1, day);
  bsl_changeset_delete_salts_before(m->cs, day);
  bsl_changeset_meta_set(m->cs, "next_visit_id", m->next_visit_id);
  /* A resumed model must drop the salts this commit drops, though the
   * salts file may still hold them (or hold newer ones, saved ahead of a
   * commit that did not happen): it goes by the newest day committed. */
  if (m->newest_day != m->newest_written)
    bsl_changeset_meta_set(m->cs, "newest_day", m->newest_day);
  for (size_t i = 0; i < m->n_sites; i++) {
    site_info *si = &m->sites[i];
    if (si->clock == si->clock_written)
      continue;
    char key[sizeof "clock:" + 256];
    if (strlen(si->name) >= 256) /* an absurd site name: resumes unsaved */
      continue;
    snprintf(key, sizeof key, "clock:%.255s", si->name);
    bsl_changeset_meta_set(m->cs, key, si->clock);
  }
  m->cs = NULL;
  return bsl_changeset_failed(cs) || m->failed ? -1 : 0;
}

void bsl_model_set_parking(bsl_model *m, bool on) {
  m->parking = on;
}

bool bsl_model_parked(const bsl_model *m) {
  return m->parked_last && !m->parking;
}

size_t bsl_model_pending_visits(const bsl_model *m) {
  return m->n_closed + m->created_since_flush;
}

void bsl_model_flush_done(bsl_model *m) {
  m->created_since_flush = 0;
  for (size_t i = 0; i < m->hits.cap; i++)
    m->hits.slots[i].a = m->hits.slots[i].b = 0;
  /* Dimensions repeat across flushes; drop the tables only when they grow
   * large so memory stays bounded by what one flush interval sees. */
  if (m->hits.used > 4096)
    counter_clear(&m->hits);
  for (size_t i = 0; i < m->events.cap; i++)
    m->events.slots[i].a = 0;
  if (m->events.used > 4096)
    counter_clear(&m->events);
  for (size_t i = 0; i < m->not_found.cap; i++)
    m->not_found.slots[i].a = 0;
  if (m->not_found.used > 4096)
    counter_clear(&m->not_found);
  for (size_t i = 0; i < m->pages.cap; i++)
    m->pages.slots[i].a = m->pages.slots[i].b = m->pages.slots[i].c =
        m->pages.slots[i].d = 0;
  if (m->pages.used > 16384)
    counter_clear(&m->pages);
  for (size_t i = 0; i < m->open.cap; i++) {
    visit *v = m->open.slots[i];
    if (!v || !v->dirty)
      continue;
    v->dirty = false;
    v->goals_written = v->goals;
    for (uint32_t j = 0; j < v->n_pages; j++)
      v->pages[j].dirty = false;
  }
  for (size_t i = 0; i < m->n_sites; i++)
    m->sites[i].clock_written = m->sites[i].clock;
  m->newest_written = m->newest_day;
  size_t keep = 0;
  for (size_t i = 0; i < m->n_salts; i++) {
    if (m->salts[i].day < m->newest_day - 1) {
      memset(m->vkeys, 0, VKEY_SLOTS * sizeof *m->vkeys);
      continue;
    }
    m->salts[i].dirty = false;
    m->salts[keep++] = m->salts[i];
  }
  m->n_salts = keep;
}

const char *bsl_model_beacon_path(const bsl_model *m) {
  return m->beacon_path;
}

size_t bsl_model_open_visits(const bsl_model *m) {
  return m->open.used;
}

/* ---- creation: resume from the store ---- */

static void load_salt(void *ctx, const char *day, const uint8_t *salt,
                      size_t len) {
  bsl_model *m = ctx;
  if (len != SALT_LEN || m->n_salts == m->cap_salts)
    return;
  day_salt *s = &m->salts[m->n_salts++];
  s->day = day_number(day);
  memcpy(s->salt, salt, SALT_LEN);
  s->dirty = false;
  if (s->day > m->newest_day)
    m->newest_day = s->day;
}

static enum bsl_channel channel_from_name(const char *name) {
  for (int c = BSL_CHANNEL_DIRECT; c <= BSL_CHANNEL_REFERRAL; c++)
    if (strcmp(bsl_channel_name((enum bsl_channel)c), name) == 0)
      return (enum bsl_channel)c;
  return BSL_CHANNEL_DIRECT;
}

static enum bsl_device device_from_name(const char *name) {
  for (int d = BSL_DEVICE_DESKTOP; d <= BSL_DEVICE_TABLET; d++)
    if (strcmp(bsl_device_name((enum bsl_device)d), name) == 0)
      return (enum bsl_device)d;
  return BSL_DEVICE_DESKTOP;
}

/* Open visits arrive ordered by id while resuming; pages and goals find
 * theirs by binary search in that order.  A parked visit's come right
 * after it (store.h), whatever its id. */
static visit *find_by_id(bsl_model *m, int64_t id) {
  if (m->n_loading && m->loading[m->n_loading - 1]->id == id)
    return m->loading[m->n_loading - 1];
  size_t lo = 0, hi = m->n_loading;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->loading[mid]->id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < m->n_loading && m->loading[lo]->id == id ? m->loading[lo] : NULL;
}

static void load_visit(void *ctx, const bsl_visit_row *row) {
  bsl_model *m = ctx;
  int site = bsl_model_site(m, row->site);
  visit *v = calloc(1, sizeof *v);
  if (v) {
    v->pages = v->inline_pages;
    v->cap_pages = VISIT_INLINE_PAGES;
  }
  if (!v || site < 0) {
    free(v);
    m->failed = true;
    return;
  }
  v->id = row->visit_id;
  v->saved = !row->parked;
  v->parked = row->parked;
  m->parked_last = m->parked_last || row->parked;
  v->visitor = (uint64_t)row->visitor;
  v->site = site;
  v->day = day_number(row->day);
  v->start = row->started_at;
  v->last = v->last_pageview = row->ended_at;
  v->pageviews = (int32_t)row->pageviews;
  v->clicks = (int32_t)row->clicks;
  v->max_scroll = (int16_t)row->max_scroll;
  v->channel = channel_from_name(row->channel);
  v->device = device_from_name(row->device);
  v->source = str_dup(row->source, strlen(row->source));
  v->medium = str_dup(row->medium, strlen(row->medium));
  v->campaign = str_dup(row->campaign, strlen(row->campaign));
  v->landing = str_dup(row->landing_path, strlen(row->landing_path));
  v->exit = str_dup(row->exit_path, strlen(row->exit_path));
  if (!v->source || !v->medium || !v->campaign || !v->landing || !v->exit) {
    visit_free(v);
    m->failed = true;
    return;
  }
  if (row->ended_at > m->sites[site].clock)
    m->sites[site].clock = row->ended_at;
  if (map_find(&m->open, v->visitor)) {
    visit_free(v); /* cannot happen: one open visit per visitor key */
    return;
  }
  if (map_put(&m->open, v) != 0) {
    visit_free(v);
    m->failed = true;
    return;
  }
  if (m->n_loading == m->cap_loading) {
    size_t ncap = m->cap_loading ? m->cap_loading * 2 : 1024;
    visit **nl = realloc(m->loading, ncap * sizeof *nl);
    if (!nl) {
      m->failed = true;
      return;
    }
    m->loading = nl;
    m->cap_loading = ncap;
  }
  m->loading[m->n_loading++] = v;
}

static void load_page(void *ctx, int64_t visit_id, const char *path,
                      int64_t pageviews, int64_t entries, int max_scroll) {
  bsl_model *m = ctx;
  visit *v = find_by_id(m, visit_id);
  page_stat *p = v ? visit_page(v, path, strlen(path)) : NULL;
  if (!p) {
    if (v)
      m->failed = true;
    return;
  }
  p->pageviews = (int32_t)pageviews;
  p->entries = (int32_t)entries;
  p->max_scroll = (int16_t)max_scroll;
  p->dirty = false;
}

static void load_goal(void *ctx, int64_t visit_id, const char *goal) {
  bsl_model *m = ctx;
  visit *v = find_by_id(m, visit_id);
  if (!v)
    return;
  for (size_t g = 0; g < m->n_goals; g++)
    if (strcmp(m->goal_names[g], goal) == 0)
      v->goals |= 1ULL << g;
  v->goals_written = v->goals;
}

int bsl_model_create(bsl_model **out, const bsl_model_options *o, char *err,
                     size_t errlen) {
  *out = NULL;
  if (sodium_init() < 0) {
    snprintf(err, errlen, "cannot initialise libsodium");
    return -1;
  }
  if (o->n_goals > MAX_GOALS) {
    snprintf(err, errlen, "too many goals (%zu; at most %d)", o->n_goals,
             MAX_GOALS);
    return -1;
  }
  bsl_model *m = calloc(1, sizeof *m);
  if (!m)
    goto out_oom;
  pthread_mutex_init(&m->retired_mu, NULL);
  m->session_timeout = o->session_timeout > 0 ? o->session_timeout : 1800;
  m->max_open = o->max_open_visits;
  m->beacon_path = strdup(o->beacon_path ? o->beacon_path : "/collect");
  if (!m->beacon_path)
    goto out_oom;
  m->beacon_len = strlen(m->beacon_path);
  m->vkeys = calloc(VKEY_SLOTS, sizeof *m->vkeys);
  if (!m->vkeys)
    goto out_oom;
  m->cls = o->classifier;
  m->store = o->store;
  m->entries_by_store = bsl_store_counts_entries(o->store);
  m->cached_block = INT64_MIN;
  m->newest_day = m->newest_written = INT32_MIN / 2;
  m->numbered_before = INT32_MIN / 2;
  bsl_zone_init(&m->zone, o->timezone);

  m->goal_names = calloc(o->n_goals + 1, sizeof *m->goal_names);
  m->goal_re = calloc(o->n_goals + 1, sizeof *m->goal_re);
  if (!m->goal_names || !m->goal_re)
    goto out_oom;
  for (size_t g = 0; g < o->n_goals; g++) {
    int ec;
    PCRE2_SIZE eo;
    m->goal_names[g] = strdup(o->goal_names[g]);
    m->goal_re[g] = pcre2_compile((PCRE2_SPTR)o->goal_patterns[g],
                                  PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
    m->n_goals = g + 1;
    if (!m->goal_re[g] || !m->goal_names[g]) {
      snprintf(err, errlen, "goal %s: invalid path pattern", o->goal_names[g]);
      bsl_model_destroy(m);
      return -1;
    }
    pcre2_jit_compile(m->goal_re[g], PCRE2_JIT_COMPLETE);
  }
  m->goal_md = pcre2_match_data_create(4, NULL);
  m->cap_salts = 64;
  m->salts = calloc(m->cap_salts, sizeof *m->salts);
  if (!m->goal_md || !m->salts)
    goto out_oom;

  /* goals_daily lists every configured goal, converted or not */
  int64_t newest, numbered;
  if (bsl_store_sync_goals(m->store, o->goal_names, o->goal_patterns,
                           o->n_goals) != 0 ||
      bsl_store_load_salts(m->store, load_salt, m) != 0 ||
      bsl_store_meta_get(m->store, "next_visit_id", 1, &m->next_visit_id) !=
          0 ||
      /* before issue 13 the newest salt stood for the newest day */
      bsl_store_meta_get(m->store, "newest_day", m->newest_day, &newest) != 0 ||
      bsl_store_meta_get(m->store, "numbered_before", INT32_MIN / 2,
                         &numbered) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(m->store));
    bsl_model_destroy(m);
    return -1;
  }
  m->newest_day = m->newest_written = (int32_t)newest;
  m->numbered_before = (int32_t)numbered;
  /* salts the last commit made old, still in the file if it stopped before
   * deleting them: never used again */
  size_t kept = 0;
  for (size_t i = 0; i < m->n_salts; i++)
    if (m->salts[i].day >= m->newest_day - 1)
      m->salts[kept++] = m->salts[i];
  if (kept < m->n_salts) {
    /* and deleted now rather than at the next commit, which may be far
     * off; a failure leaves that to the next commit */
    char cut[11];
    bsl_day_format(m->newest_day - 1, cut);
    (void)bsl_store_delete_salts_before(m->store, cut);
  }
  m->n_salts = kept;
  bsl_open_visit_cbs cbs = {load_visit, load_page, load_goal, m};
  int rc = bsl_store_load_open_visits(m->store, &cbs);
  free(m->loading);
  m->loading = NULL;
  m->n_loading = m->cap_loading = 0;
  if (rc != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(m->store));
    bsl_model_destroy(m);
    return -1;
  }
  if (m->failed) {
    snprintf(err, errlen, "out of memory while resuming the open visits");
    bsl_model_destroy(m);
    return -1;
  }
  *out = m;
  return 0;

out_oom:
  snprintf(err, errlen, "out of memory");
  bsl_model_destroy(m);
  return -1;
}

int bsl_model_site(bsl_model *m, const char *raw_site) {
  /* the name as the database stores it (utf8.h), so that a site named on
   * the command line finds the visits and clock it left there */
  char site[1024];
  bsl_utf8_clean(raw_site, strlen(raw_site), site, sizeof site);
  for (size_t i = 0; i < m->n_sites; i++)
    if (strcmp(m->sites[i].name, site) == 0)
      return (int)i;
  site_info *ns = realloc(m->sites, (m->n_sites + 1) * sizeof *ns);
  if (!ns)
    return -1;
  m->sites = ns;
  site_info *si = &m->sites[m->n_sites];
  si->name = strdup(site);
  /* "https://www.example.com:8443/x" -> "www.example.com" */
  const char *h = strstr(site, "://");
  h = h ? h + 3 : site;
  size_t len = strcspn(h, ":/?#");
  si->host = dup_slice(h, len);
  si->clock = INT64_MIN / 4;
  if (!si->name || !si->host) {
    free(si->name);
    free(si->host);
    return -1;
  }
  /* the clock an earlier run saved (see site_info); the open visits loaded
   * after this may only move it forward */
  char key[sizeof "clock:" + 256];
  if (m->store && strlen(site) < 256) {
    snprintf(key, sizeof key, "clock:%.255s", site);
    int64_t saved;
    if (bsl_store_meta_get(m->store, key, si->clock, &saved) == 0)
      si->clock = saved;
  }
  si->clock_written = si->clock;
  if (si->host)
    bsl_ascii_lower(si->host);
  return (int)m->n_sites++;
}

void bsl_model_destroy(bsl_model *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->open.cap; i++)
    visit_free(m->open.slots[i]);
  free(m->open.slots);
  for (size_t i = 0; i < m->n_closed; i++)
    visit_free(m->closed[i]);
  free(m->closed);
  counter_clear(&m->hits);
  counter_clear(&m->events);
  counter_clear(&m->not_found);
  counter_clear(&m->pages);
  free(m->json.p);
  free(m->clean_buf);
  for (size_t i = 0; i < m->n_sites; i++) {
    free(m->sites[i].name);
    free(m->sites[i].host);
  }
  free(m->sites);
  free(m->salts);
  free(m->vkeys);
  free(m->evict);
  free_retired(m);
  pthread_mutex_destroy(&m->retired_mu);
  for (size_t g = 0; g < m->n_goals; g++) {
    free(m->goal_names[g]);
    pcre2_code_free(m->goal_re[g]);
  }
  free(m->goal_names);
  free(m->goal_re);
  pcre2_match_data_free(m->goal_md);
  free(m->beacon_path);
  free(m);
}
