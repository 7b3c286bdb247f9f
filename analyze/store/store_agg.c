/*
 * Per-day visit aggregates (store_agg_sql.h), counted by the writer.
 *
 * Every visit row the writer saves passes here first: a new visit adds to
 * the counters of its day, segment, device, quarter hour, device x channel
 * and landing page; a row of a visit saved open before replaces what that
 * visit counted (the open map keeps it); a closed visit leaves the open map,
 * since it never changes again.  Distinct
 * visitors are exact: for each day being written, the (segment, visitor),
 * (device x channel, visitor) and (day, visitor) pairs with their number of
 * visits; a pair's first visit adds a visitor, its last one leaving takes it
 * back.  The counters' differences go to SQL once per commit and segment
 * (bsl_store__agg_flush), so a visit costs hash lookups, not B-tree writes
 * (per-row triggers tripled the ingest time, README "Analyst queries").
 *
 * What memory holds is a cache of what SQL has: a day's pairs are read from
 * visit_log the first time the day is touched (nothing to read for a day
 * with no visit_days row yet: a bulk load of new days reads nothing; nor
 * numbered visitors, which no key can match); a day is dropped at the
 * first commit that touches other days but not it (bsl_store__agg_flush
 * says when else); a rollback drops everything (bsl_store__agg_reset), and
 * the open map is read again from the open rows.  Visitor keys that the
 * daily numbering renames (store.c) belong to closed days, whose rows never
 * change again.
 *
 * Owns all its memory; freed by bsl_store__agg_reset.
 */
#include "calendar.h"
#include "store_agg_sql.h"
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct bsl_agg bsl_agg;

enum {
  F_DAY,
  F_SITE,
  F_CHANNEL,
  F_SOURCE,
  F_MEDIUM,
  F_CAMPAIGN,
  F_SEGMENT, /* the fields of a segment */
  F_DEVICE = F_SEGMENT,
  F_QUARTER, /* started_at / 900, in decimal */
  F_LANDING,
  F_COUNT
};

/* The kinds of aggs: their key's first byte, table, fields and counters. */
enum { C_VISITS, C_VISITORS, C_PAGEVIEWS, C_BOUNCES, C_CLICKS, C_CONVERSIONS };
static const struct kind {
  char tag;
  const char *sql;
  int nf;          /* fields bound first: ?1.. */
  int fields[6];   /* which, in order */
  int n_counters;  /* counters bound next */
  int counters[6]; /* which, in order */
  bool pairs;      /* counts distinct visitors (C_VISITORS) */
} KINDS[] = {
    {'d',
     SQL_AGG_DAY_ADD,
     2,
     {F_DAY, F_SITE},
     6,
     {C_VISITS, C_VISITORS, C_PAGEVIEWS, C_BOUNCES, C_CLICKS, C_CONVERSIONS},
     true},
    {'s',
     SQL_AGG_SEGMENT_ADD,
     6,
     {F_DAY, F_SITE, F_CHANNEL, F_SOURCE, F_MEDIUM, F_CAMPAIGN},
     5,
     {C_VISITS, C_VISITORS, C_PAGEVIEWS, C_BOUNCES, C_CONVERSIONS},
     true},
    {'v',
     SQL_AGG_DEVICE_ADD,
     3,
     {F_DAY, F_SITE, F_DEVICE},
     3,
     {C_VISITS, C_BOUNCES, C_CONVERSIONS},
     false},
    {'q',
     SQL_AGG_QUARTER_ADD,
     3,
     {F_DAY, F_SITE, F_QUARTER},
     1,
     {C_VISITS},
     false},
    {'c',
     SQL_AGG_DEVCHAN_ADD,
     4,
     {F_DAY, F_SITE, F_DEVICE, F_CHANNEL},
     6,
     /* clicks too: a KPI filtered by channel reads its days from here */
     {C_VISITS, C_VISITORS, C_PAGEVIEWS, C_BOUNCES, C_CONVERSIONS, C_CLICKS},
     true},
    /* pages_daily's entries and bounces, in page_counts: the visits that
     * land on a page, from their rows as every visit count here (the
     * pageviews and the rest are the model's) */
    {'l',
     SQL_AGG_LANDING_ADD,
     3,
     {F_DAY, F_SITE, F_LANDING},
     2,
     {C_VISITS, C_BOUNCES},
     false},
};
enum { K_DAY, K_SEGMENT, K_DEVICE, K_QUARTER, K_DEVCHAN, K_LANDING, K_COUNT };

typedef struct agg {
  char *key; /* its kind's tag, then its fields (KINDS), each ending
                with '\0' */
  size_t key_len;
  uint32_t day;  /* the index of its (day, site) agg; its own for a day */
  uint8_t kind;  /* K_*: what it counts (KINDS) */
  bool loaded;   /* day: its pairs are in memory, or spilled */
  bool spilled;  /* day: its pairs are in temp.agg_pairs (spill()) */
  bool dirty;    /* deltas to flush */
  bool held;     /* day: visits of it are parked by this commit (kept) */
  bool touched;  /* day: a visit of it was counted since the last flush */
  uint16_t idle; /* day: commits since one touched it (counting only those
                    that touched another day) */
  uint32_t open; /* day: visits in the open map */
  int64_t visits, visitors, pageviews, bounces, clicks, conversions;
} agg;

/* 12 bytes, not 16: the visitor as two halves keeps the alignment at 4.
 * A day's pairs are the largest thing the writer holds. */
typedef struct pair {
  uint32_t agg1;   /* agg index + 1; 0: an empty slot */
  uint32_t n;      /* visits of the visitor in it */
  uint32_t vis[2]; /* the visitor (int64_t, memcpy'd) */
} pair;

/* The pairs are split by visitor into shards that grow one at a time, by
 * a quarter: a growth holds one shard's old and new slots, not a whole
 * table twice (that transient was the writer's peak, 8 MiB more at 7 days
 * of 10M realistic lines), and a shard is 64 to 80% full instead of 40 to
 * 80% (slots are picked by multiplying, so any number of them works). */
#define PAIR_SHARD_BITS 4
#define PAIR_SHARDS (1u << PAIR_SHARD_BITS)
#define PAIR_SHARD_MIN 256 /* slots; PAIR_SHARDS of them: 4,096 */
typedef struct pair_shard {
  pair *slots;
  size_t cap, n;
} pair_shard;

typedef struct contrib {
  int64_t id; /* visit_id; 0: an empty slot (ids start at 1) */
  uint32_t seg, day, dev, qtr, dch, lnd;
  int64_t visitor, pageviews, clicks, conversions;
} contrib;

struct bsl_agg {
  agg *aggs;
  uint32_t n_aggs, cap_aggs;
  uint32_t *index; /* agg index + 1 by key hash, 0 empty */
  size_t index_cap;
  pair_shard pairs[PAIR_SHARDS];
  size_t pairs_cap; /* slots of all shards */
  size_t pairs_max; /* slots; past it the loaded days spill (spill()) */
  bool spills;      /* temp.agg_pairs exists */
  contrib *open;
  size_t open_cap, n_open;
  bool open_loaded;
  char newest[11];    /* the newest day counted, YYYY-MM-DD */
  int64_t newest_day; /* the same as a day number (calendar.h) */
  char let_go[11];    /* the last day before the newest dropped while touched */
  /* the quarter hour of the last visit counted, in decimal: visits come in
   * id order, most in the same quarter as the one before (snprintf was a
   * fortieth of the writer's work) */
  int64_t quarter_of;
  char quarter[24];
};

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

/* 8 bytes a step: keys are hashed several times per visit row. */
static uint64_t hash_bytes(const char *p, size_t n) {
  uint64_t h = n * 0x9e3779b97f4a7c15ULL;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ mix(w)) * 0x9e3779b97f4a7c15ULL;
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  return mix(h ^ w);
}

/* The Nth field of A's key (after its tag). */
static const char *field(const agg *a, int f) {
  const char *p = a->key + 1;
  for (int i = 0; i < f; i++)
    p += strlen(p) + 1;
  return p;
}

/* PATH as pages_daily counts it: its first BSL_PAGE_PATH_MAX bytes (BUF
 * holds a longer one's). */
static const char *landing_key(const char *path, char *buf) {
  size_t n = strlen(path);
  if (n <= BSL_PAGE_PATH_MAX)
    return path;
  memcpy(buf, path, BSL_PAGE_PATH_MAX);
  buf[BSL_PAGE_PATH_MAX] = '\0';
  return buf;
}

static int oom(bsl_store *s) {
  snprintf(s->error, sizeof s->error, "%s: out of memory counting visits",
           s->path);
  return -1;
}

static int index_build(bsl_agg *g, size_t cap) {
  uint32_t *ix = calloc(cap, sizeof *ix);
  if (!ix)
    return -1;
  for (uint32_t i = 0; i < g->n_aggs; i++) {
    size_t h = hash_bytes(g->aggs[i].key, g->aggs[i].key_len) & (cap - 1);
    while (ix[h])
      h = (h + 1) & (cap - 1);
    ix[h] = i + 1;
  }
  free(g->index);
  g->index = ix;
  g->index_cap = cap;
  return 0;
}

/* The agg of KEY (LEN bytes: a day's 2 fields or a segment's 6), created
 * when new; UINT32_MAX when out of memory. */
static uint32_t agg_find(bsl_agg *g, const char *key, size_t len,
                         uint8_t kind) {
  if ((g->n_aggs + 1) * 2 > g->index_cap &&
      index_build(g, g->index_cap ? g->index_cap * 2 : 1024) != 0)
    return UINT32_MAX;
  size_t h = hash_bytes(key, len) & (g->index_cap - 1);
  for (; g->index[h]; h = (h + 1) & (g->index_cap - 1)) {
    agg *a = &g->aggs[g->index[h] - 1];
    if (a->key_len == len && memcmp(a->key, key, len) == 0)
      return g->index[h] - 1;
  }
  if (g->n_aggs == g->cap_aggs) {
    uint32_t cap = g->cap_aggs ? g->cap_aggs * 2 : 256;
    agg *na = realloc(g->aggs, cap * sizeof *na);
    if (!na)
      return UINT32_MAX;
    g->aggs = na;
    g->cap_aggs = cap;
  }
  char *k = malloc(len);
  if (!k)
    return UINT32_MAX;
  memcpy(k, key, len);
  uint32_t i = g->n_aggs++;
  g->aggs[i] = (agg){.key = k, .key_len = len, .kind = kind, .day = i};
  g->index[h] = i + 1;
  return i;
}

/* The agg of kind K for the fields F; UINT32_MAX when out of memory. */
static uint32_t agg_of_kind(bsl_agg *g, int k, const char *const *f) {
  char key[BSL_PAGE_PATH_MAX + 2048];
  size_t len = 1;
  key[0] = KINDS[k].tag;
  for (int i = 0; i < KINDS[k].nf; i++) {
    const char *v = f[KINDS[k].fields[i]];
    size_t n = strlen(v) + 1;
    if (len + n > sizeof key)
      return UINT32_MAX; /* never hit: fields are short */
    memcpy(key + len, v, n);
    len += n;
  }
  return agg_find(g, key, len, (uint8_t)k);
}

/* C's aggs, in the order of the K_* kinds. */
static void contrib_aggs(const contrib *c, uint32_t at[K_COUNT]) {
  const uint32_t v[K_COUNT] = {c->day, c->seg, c->dev, c->qtr, c->dch, c->lnd};
  memcpy(at, v, sizeof v);
}

/* The aggs of the fields F, of each kind whose fields F all has (a NULL
 * field: not wanted); -1 when out of memory. */
static int aggs_get(bsl_agg *g, const char *const *f, contrib *c) {
  uint32_t *at[K_COUNT] = {&c->day, &c->seg, &c->dev,
                           &c->qtr, &c->dch, &c->lnd};
  for (int k = 0; k < K_COUNT; k++) {
    bool all = true;
    for (int i = 0; i < KINDS[k].nf; i++)
      all = all && f[KINDS[k].fields[i]];
    if (!all)
      continue;
    if ((*at[k] = agg_of_kind(g, k, f)) == UINT32_MAX)
      return -1;
    g->aggs[*at[k]].day = c->day;
  }
  return 0;
}

static uint64_t pair_hash(uint32_t agg1, int64_t visitor) {
  return mix((uint64_t)visitor ^ (uint64_t)agg1 << 40);
}

/* A pair's shard follows its visitor alone: a rehash renumbers the aggs,
 * and a pair must stay in its shard. */
static pair_shard *pair_shard_of(bsl_agg *g, int64_t visitor) {
  return &g->pairs[((uint64_t)visitor * 0x9e3779b97f4a7c15ULL) >>
                   (64 - PAIR_SHARD_BITS)];
}

/* The first slot to probe for HASH among CAP. */
static size_t pair_slot(uint64_t hash, size_t cap) {
  return (size_t)(((hash & 0xffffffffu) * (uint64_t)cap) >> 32);
}

static int64_t pair_visitor(const pair *p) {
  int64_t v;
  memcpy(&v, p->vis, sizeof v);
  return v;
}

/* Whether pair P stays at a rehash renumbering the aggs by MAP (NULL:
 * unchanged): pairs of days no longer loaded, and emptied ones, go. */
static bool pair_keeps(const bsl_agg *g, const pair *p, const uint32_t *map) {
  if (!p->agg1 || !p->n)
    return false;
  uint32_t old = p->agg1 - 1;
  const agg *day = &g->aggs[g->aggs[old].day];
  return (!map || map[old] != UINT32_MAX) && day->loaded && !day->spilled;
}

/* A shard's slots.  Past 128 KiB they are a mapping of their own (glibc's
 * mmap threshold in ingest and run, main.c), which MAP_POPULATE fills at
 * once: faulting its pages in one at a time, at each growth, was a sixth
 * of the writer's time on a busy site (3M lines of 10M-line density), the
 * page faults of a virtual machine being dear. */
#define SLOTS_MAPPED_MIN (128 * 1024)
static pair *slots_alloc(size_t cap) {
  size_t bytes = cap * sizeof(pair);
  if (bytes < SLOTS_MAPPED_MIN)
    return calloc(cap, sizeof(pair));
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void slots_free(pair *slots, size_t cap) {
  if (!slots)
    return;
  if (cap * sizeof(pair) < SLOTS_MAPPED_MIN)
    free(slots);
  else
    munmap(slots, cap * sizeof(pair));
}

/* Rehashes shard SH into CAP slots, renumbering the aggs by MAP (NULL:
 * unchanged), keeping what pair_keeps() keeps. */
static int shard_rehash(bsl_agg *g, pair_shard *sh, size_t cap,
                        const uint32_t *map) {
  pair *np = slots_alloc(cap);
  if (!np)
    return -1;
  size_t n = 0;
  for (size_t i = 0; i < sh->cap; i++) {
    pair p = sh->slots[i];
    if (!pair_keeps(g, &p, map))
      continue;
    if (map)
      p.agg1 = map[p.agg1 - 1] + 1;
    size_t h = pair_slot(pair_hash(p.agg1, pair_visitor(&p)), cap);
    while (np[h].agg1)
      h = h + 1 == cap ? 0 : h + 1;
    np[h] = p;
    n++;
  }
  slots_free(sh->slots, sh->cap);
  sh->slots = np;
  g->pairs_cap = g->pairs_cap - sh->cap + cap;
  sh->cap = cap;
  sh->n = n;
  return 0;
}

/* Rehashes every shard (renumbering by MAP, see shard_rehash()) into as
 * many slots as its pairs need: the next commit brings about as many pairs
 * as this one, so a shard keeps its size (growing it again, doubling from
 * a few hundred slots, was a fifth of the counting) unless it is mostly
 * empty for good. */
static int pairs_rehash(bsl_agg *g, const uint32_t *map) {
  for (size_t s = 0; s < PAIR_SHARDS; s++) {
    pair_shard *sh = &g->pairs[s];
    size_t keep = 0;
    for (size_t i = 0; i < sh->cap; i++)
      keep += pair_keeps(g, &sh->slots[i], map);
    size_t cap =
        keep + keep / 2 > PAIR_SHARD_MIN ? keep + keep / 2 : PAIR_SHARD_MIN;
    if (sh->cap > cap && keep * 16 >= sh->cap)
      cap = sh->cap;
    if (shard_rehash(g, sh, cap, map) != 0)
      return -1;
  }
  return 0;
}

/* Moves the visitors of agg A by D when a pair appeared (N became 1 on
 * D = 1) or went (N became 0 on D = -1). */
static void pair_moved(bsl_agg *g, uint32_t a, int64_t n, int d) {
  if ((d > 0 && n == 1) || (d < 0 && n == 0)) {
    g->aggs[a].visitors += d;
    g->aggs[a].dirty = true;
  }
}

/* Adds N (> 0) to, or takes 1 (N < 0) from, the visits of VISITOR in agg A
 * in temp.agg_pairs; *AFTER is the count after it, -1 when there was
 * nothing to take.  Returns 0, or -1 with the store's error set. */
static int spilled_step(bsl_store *s, uint32_t a, int64_t visitor, int64_t n,
                        int64_t *after) {
  const agg *ag = &s->agg->aggs[a], *day = &s->agg->aggs[ag->day];
  sqlite3_stmt *st =
      bsl_store__stmt(s, n > 0 ? SQL_AGG_SPILL_ADD : SQL_AGG_SPILL_TAKE);
  if (!st)
    return -1;
  int i = 1;
  if (n > 0)
    sqlite3_bind_blob(st, i++, day->key, (int)day->key_len, SQLITE_STATIC);
  sqlite3_bind_blob(st, i++, ag->key, (int)ag->key_len, SQLITE_STATIC);
  sqlite3_bind_int64(st, i++, visitor);
  if (n > 0)
    sqlite3_bind_int64(st, i, n);
  int rc = sqlite3_step(st);
  *after = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  while (rc == SQLITE_ROW)
    rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE)
    return bsl_store__fail(s, "counting the visitors of a spilled day");
  return 0;
}

/* pair_add() for a spilled day: the same counts, in temp.agg_pairs. */
static int pair_add_spilled(bsl_store *s, uint32_t a, int64_t visitor, int d) {
  int64_t n;
  if (spilled_step(s, a, visitor, d, &n) != 0)
    return -1;
  if (n >= 0) /* -1: taking back a pair that is not there, as in memory */
    pair_moved(s->agg, a, n, d);
  return 0;
}

/*
 * More distinct (visitor, agg) pairs than pairs_max slots hold, at 80%:
 * an address flood, where every line is a new visitor of the same day.
 * The pairs of every loaded day move to a temporary table, and those days
 * count there from now on (pair_add_spilled()), until they are forgotten
 * like any day (bsl_store__agg_flush()).  Memory stays bounded by the
 * budget, not by a day's visitors, and the counts do not change.
 */
static int spill(bsl_store *s) {
  bsl_agg *g = s->agg;
  if (sqlite3_exec(s->db, SQL_AGG_SPILL_CREATE, NULL, NULL, NULL) != SQLITE_OK)
    return bsl_store__fail(s, "making room for a day's visitors");
  g->spills = true;
  for (size_t sh = 0; sh < PAIR_SHARDS; sh++)
    for (size_t i = 0; i < g->pairs[sh].cap; i++) {
      const pair *p = &g->pairs[sh].slots[i];
      int64_t n;
      if (p->agg1 && p->n &&
          spilled_step(s, p->agg1 - 1, pair_visitor(p), p->n, &n) != 0)
        return -1;
    }
  for (uint32_t i = 0; i < g->n_aggs; i++)
    if (g->aggs[i].kind == K_DAY && g->aggs[i].loaded)
      g->aggs[i].spilled = true;
  return pairs_rehash(g, NULL); /* keeps none: all spilled */
}

/* Adds D (+1 or -1) to the visits of VISITOR in agg A; its visitors move
 * when the pair appears or goes. */
static int pair_add(bsl_store *s, uint32_t a, int64_t visitor, int d) {
  bsl_agg *g = s->agg;
  if (g->aggs[g->aggs[a].day].spilled)
    return pair_add_spilled(s, a, visitor, d);
  uint32_t a1 = a + 1;
  uint64_t hash = pair_hash(a1, visitor);
  pair_shard *sh = pair_shard_of(g, visitor);
  /* up to 80% full: a day's pairs are most of the aggregates' memory */
  if ((sh->n + 1) * 10 > sh->cap * 8) {
    size_t grown = sh->cap ? sh->cap + sh->cap / 4 : PAIR_SHARD_MIN;
    if (sh->cap && g->pairs_cap - sh->cap + grown > g->pairs_max) {
      if (spill(s) != 0)
        return -1;
      return pair_add_spilled(s, a, visitor, d);
    }
    if (shard_rehash(g, sh, grown, NULL) != 0)
      return -1;
  }
  uint32_t vis[2];
  memcpy(vis, &visitor, sizeof vis);
  size_t h = pair_slot(hash, sh->cap);
  for (; sh->slots[h].agg1; h = h + 1 == sh->cap ? 0 : h + 1)
    if (sh->slots[h].agg1 == a1 && sh->slots[h].vis[0] == vis[0] &&
        sh->slots[h].vis[1] == vis[1])
      break;
  pair *p = &sh->slots[h];
  if (!p->agg1) {
    if (d < 0)
      return 0; /* not counted here (cannot happen: loaded days are whole) */
    *p = (pair){.agg1 = a1, .vis = {vis[0], vis[1]}};
    sh->n++;
  }
  if (d < 0 && p->n == 0)
    return 0;
  p->n = (uint32_t)((int64_t)p->n + d);
  pair_moved(g, a, p->n, d);
  return 0;
}

static contrib *open_find(bsl_agg *g, int64_t id) {
  if (!g->open_cap)
    return NULL;
  size_t h = mix((uint64_t)id) & (g->open_cap - 1);
  for (; g->open[h].id; h = (h + 1) & (g->open_cap - 1))
    if (g->open[h].id == id)
      return &g->open[h];
  return NULL;
}

static int open_put(bsl_agg *g, const contrib *c) {
  contrib *o = open_find(g, c->id);
  if (o) {
    *o = *c;
    return 0;
  }
  if ((g->n_open + 1) * 2 > g->open_cap) {
    size_t cap = g->open_cap ? g->open_cap * 2 : 1024;
    contrib *no = calloc(cap, sizeof *no);
    if (!no)
      return -1;
    for (size_t i = 0; i < g->open_cap; i++) {
      if (!g->open[i].id)
        continue;
      size_t h = mix((uint64_t)g->open[i].id) & (cap - 1);
      while (no[h].id)
        h = (h + 1) & (cap - 1);
      no[h] = g->open[i];
    }
    free(g->open);
    g->open = no;
    g->open_cap = cap;
  }
  size_t h = mix((uint64_t)c->id) & (g->open_cap - 1);
  while (g->open[h].id)
    h = (h + 1) & (g->open_cap - 1);
  g->open[h] = *c;
  g->n_open++;
  g->aggs[c->day].open++;
  return 0;
}

/* Linear probing: the entries after the hole move back into it. */
static void open_remove(bsl_agg *g, contrib *o) {
  g->aggs[o->day].open--;
  size_t mask = g->open_cap - 1, i = (size_t)(o - g->open);
  g->open[i].id = 0;
  g->n_open--;
  for (size_t j = (i + 1) & mask; g->open[j].id; j = (j + 1) & mask) {
    size_t home = mix((uint64_t)g->open[j].id) & mask;
    /* j's entry may move to i when home is not in (i, j] cyclically */
    if ((j > i && (home <= i || home > j)) ||
        (j < i && (home <= i && home > j))) {
      g->open[i] = g->open[j];
      g->open[j].id = 0;
      i = j;
    }
  }
}

/* The pairs' memory budget: 2^21 slots (24 MiB, and a shard's growth),
 * about 1.6M pairs, three times a busy realistic day's.  Tests set a small
 * one (BSL_AGG_PAIR_SLOTS, a power of two) to spill at once. */
static size_t pairs_budget(void) {
  const char *e = getenv("BSL_AGG_PAIR_SLOTS");
  size_t max = (size_t)1 << 21;
  if (e && *e) {
    unsigned long long v = strtoull(e, NULL, 10);
    if (v >= 4096 && (v & (v - 1)) == 0 && v <= max)
      max = (size_t)v;
  }
  return max;
}

static bsl_agg *agg_of(bsl_store *s) {
  if (!s->agg) {
    s->agg = calloc(1, sizeof *s->agg);
    if (s->agg)
      s->agg->pairs_max = pairs_budget();
  }
  return s->agg;
}

/* Reads the pairs of day agg D from visit_log when SQL counted some. */
static int day_load(bsl_store *s, uint32_t d) {
  bsl_agg *g = s->agg;
  if (g->aggs[d].loaded)
    return 0;
  g->aggs[d].loaded = true;
  char day[11], site[512];
  snprintf(day, sizeof day, "%s", field(&g->aggs[d], F_DAY));
  snprintf(site, sizeof site, "%s", field(&g->aggs[d], F_SITE));
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_AGG_DAY_COUNTED);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, site, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return 0;
  if (rc != SQLITE_ROW)
    return bsl_store__fail(s, "reading the visit aggregates");
  if (!(st = bsl_store__stmt(s, SQL_AGG_DAY_LOAD)))
    return -1;
  sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, site, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *f[F_COUNT] = {day, site}; /* no quarter, no landing */
    contrib c = {0};
    for (int i = 0; i < 4; i++) {
      const unsigned char *t = sqlite3_column_text(st, i);
      f[F_CHANNEL + i] = t ? (const char *)t : "";
    }
    s->agg_rows_read++;
    int64_t visitor = sqlite3_column_int64(st, 4);
    const unsigned char *dev = sqlite3_column_text(st, 5);
    f[F_DEVICE] = dev ? (const char *)dev : "";
    if (aggs_get(g, f, &c) != 0) {
      sqlite3_reset(st);
      return oom(s);
    }
    uint32_t at[K_COUNT];
    contrib_aggs(&c, at);
    for (int k = 0; k < K_COUNT; k++) {
      if (!KINDS[k].pairs) /* the others need no pairs */
        continue;
      /* counted in SQL already: the pairs only, not their visitors */
      agg *a = &g->aggs[at[k]];
      int64_t visitors = a->visitors;
      bool dirty = a->dirty;
      if (pair_add(s, at[k], visitor, 1) != 0) {
        sqlite3_reset(st);
        return oom(s);
      }
      a = &g->aggs[at[k]];
      a->visitors = visitors, a->dirty = dirty;
    }
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return bsl_store__fail(s, "reading the visits of a day");
  return 0;
}

/* The segment and day aggs of a visit, its day loaded. */
static int place(bsl_store *s, const char *const *f, contrib *c) {
  if (aggs_get(s->agg, f, c) != 0)
    return oom(s);
  return day_load(s, c->day);
}

/* Adds contribution C once (D = 1) or takes it back (D = -1); its
 * visitor's pairs too unless PAIRS is false. */
static int count(bsl_store *s, const contrib *c, int d, bool pairs) {
  bsl_agg *g = s->agg;
  int64_t bounce = c->pageviews == 1 && c->clicks == 0;
  uint32_t at[K_COUNT];
  contrib_aggs(c, at);
  for (int i = 0; i < K_COUNT; i++) {
    agg *a = &g->aggs[at[i]];
    a->visits += d;
    a->pageviews += d * c->pageviews;
    a->bounces += d * bounce;
    a->clicks += d * c->clicks;
    a->conversions += d * c->conversions;
    a->dirty = true;
    if (pairs && KINDS[i].pairs && pair_add(s, at[i], c->visitor, d) != 0)
      return -1;
  }
  return 0;
}

static int open_load(bsl_store *s) {
  bsl_agg *g = s->agg;
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_AGG_OPEN_LOAD);
  if (!st)
    return -1;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *f[F_COUNT];
    for (int i = 0; i < F_QUARTER; i++) {
      const unsigned char *t = sqlite3_column_text(st, 1 + i);
      f[i] = t ? (const char *)t : "";
    }
    char quarter[24];
    snprintf(quarter, sizeof quarter, "%lld",
             (long long)(sqlite3_column_int64(st, 12) / 900));
    f[F_QUARTER] = quarter;
    const unsigned char *landing = sqlite3_column_text(st, 13);
    char cut[BSL_PAGE_PATH_MAX + 1];
    f[F_LANDING] = landing_key(landing ? (const char *)landing : "", cut);
    contrib c = {.id = sqlite3_column_int64(st, 0),
                 .visitor = sqlite3_column_int64(st, 8),
                 .pageviews = sqlite3_column_int64(st, 9),
                 .clicks = sqlite3_column_int64(st, 10),
                 .conversions = sqlite3_column_int64(st, 11)};
    if (aggs_get(g, f, &c) != 0 || open_put(g, &c) != 0) {
      sqlite3_reset(st);
      return oom(s);
    }
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return bsl_store__fail(s, "reading the open visits");
  g->open_loaded = true;
  return 0;
}

/* Goal conversions of visit ID counted under (day, site, channel) of
 * segment SEG, D = 1 or -1. */
static int goals_move(bsl_store *s, int64_t id, uint32_t seg, int d) {
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_AGG_GOALS_MOVE);
  if (!st)
    return -1;
  const agg *a = &s->agg->aggs[seg];
  for (int i = 0; i < 3; i++)
    sqlite3_bind_text(st, 1 + i, field(a, i), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 4, id);
  sqlite3_bind_int(st, 5, d);
  return bsl_store__run(s, st, "moving goal conversions");
}

int bsl_store__agg_visit(bsl_store *s, const bsl_visit_row *v) {
  bsl_agg *g = agg_of(s);
  if (!g)
    return oom(s);
  if (!g->open_loaded && open_load(s) != 0)
    return -1;
  int64_t quarter = v->started_at / 900;
  if (!g->quarter[0] || quarter != g->quarter_of) {
    snprintf(g->quarter, sizeof g->quarter, "%lld", (long long)quarter);
    g->quarter_of = quarter;
  }
  char cut[BSL_PAGE_PATH_MAX + 1];
  const char *landing =
      landing_key(v->landing_path ? v->landing_path : "", cut);
  const char *f[F_COUNT] = {v->day,    v->site,    v->channel,
                            v->source, v->medium,  v->campaign,
                            v->device, g->quarter, landing};
  contrib c = {.id = v->visit_id,
               .visitor = v->visitor,
               .pageviews = v->pageviews,
               .clicks = v->clicks,
               .conversions = v->conversions};
  if (place(s, f, &c) != 0)
    return -1;
  g->aggs[c.day].touched = true;
  if (strcmp(v->day, g->newest) > 0 &&
      bsl_day_parse(v->day, &g->newest_day) == 0)
    snprintf(g->newest, sizeof g->newest, "%s", v->day);
  contrib *o = open_find(g, v->visit_id);
  if (o) {
    contrib old = *o;
    if (old.day != c.day && day_load(s, old.day) != 0)
      return -1;
    g->aggs[old.day].touched = true;
    /* an open visit grows in place: its pairs stay */
    bool moves = old.seg != c.seg || old.visitor != c.visitor ||
                 old.dev != c.dev || old.qtr != c.qtr || old.dch != c.dch ||
                 old.lnd != c.lnd;
    if (count(s, &old, -1, moves) != 0)
      return oom(s);
    /* goals are counted by channel: they follow a visit that moves */
    if (old.seg != c.seg && old.conversions > 0 &&
        (goals_move(s, old.id, old.seg, -1) != 0 ||
         goals_move(s, old.id, c.seg, 1) != 0))
      return -1;
    open_remove(g, open_find(g, v->visit_id));
    if (count(s, &c, 1, moves) != 0)
      return oom(s);
  } else if (count(s, &c, 1, true) != 0) {
    return oom(s);
  }
  if (v->is_open && open_put(g, &c) != 0)
    return oom(s);
  return 0;
}

/* Forgets the days no longer loaded and without open visits (their aggs
 * and pairs), all flushed: memory holds the days being written, never the
 * history. */
static int compact(bsl_agg *g) {
  uint32_t *map = malloc((g->n_aggs ? g->n_aggs : 1) * sizeof *map);
  if (!map)
    return -1;
  uint32_t n = 0;
  for (uint32_t i = 0; i < g->n_aggs; i++) {
    const agg *d = &g->aggs[g->aggs[i].day];
    map[i] = d->loaded || d->open ? n++ : UINT32_MAX;
  }
  /* the pairs first: they read the aggs' days by the old numbers */
  if (pairs_rehash(g, map) != 0) {
    free(map);
    return -1;
  }
  for (uint32_t i = 0; i < g->n_aggs; i++) {
    if (map[i] == UINT32_MAX) {
      free(g->aggs[i].key);
      continue;
    }
    agg a = g->aggs[i];
    a.day = map[a.day];
    g->aggs[map[i]] = a; /* map[i] <= i: nothing unread is overwritten */
  }
  g->n_aggs = n;
  for (size_t i = 0; i < g->open_cap; i++)
    if (g->open[i].id) {
      g->open[i].seg = map[g->open[i].seg];
      g->open[i].day = map[g->open[i].day];
      g->open[i].dev = map[g->open[i].dev];
      g->open[i].qtr = map[g->open[i].qtr];
      g->open[i].dch = map[g->open[i].dch];
      g->open[i].lnd = map[g->open[i].lnd];
    }
  free(map);
  size_t icap = 1024;
  while (icap < (size_t)n * 2 + 2)
    icap *= 2;
  return index_build(g, icap);
}

int bsl_store__agg_flush(bsl_store *s) {
  bsl_agg *g = s->agg;
  if (!g)
    return 0;
  for (uint32_t i = 0; i < g->n_aggs; i++) {
    agg *a = &g->aggs[i];
    if (!a->dirty)
      continue;
    /* an open visit rewritten touches its landing page's counter without
     * moving its entries or bounces: no write */
    if (a->kind == K_LANDING && a->visits == 0 && a->bounces == 0) {
      a->visits = a->pageviews = a->clicks = a->conversions = 0;
      a->dirty = false;
      continue;
    }
    const struct kind *kd = &KINDS[a->kind];
    sqlite3_stmt *st = bsl_store__stmt(s, kd->sql);
    if (!st)
      return -1;
    const char *p = a->key + 1;
    /* the text rule, as page_counts' own writes: a landing path cut at
     * BSL_PAGE_PATH_MAX bytes may end inside a character */
    for (int j = 0; j < kd->nf; j++, p += strlen(p) + 1)
      bsl_store__bind_text(st, 1 + j, p);
    int64_t vals[6] = {a->visits,  a->visitors, a->pageviews,
                       a->bounces, a->clicks,   a->conversions};
    for (int j = 0; j < kd->n_counters; j++)
      sqlite3_bind_int64(st, kd->nf + 1 + j, vals[kd->counters[j]]);
    if (bsl_store__run(s, st, "saving visit aggregates") != 0)
      return -1;
    a->visits = a->visitors = a->pageviews = a->bounces = a->clicks =
        a->conversions = 0;
    a->dirty = false;
  }
  /* A loaded day that this commit did not touch, while it touched others,
   * is done: its pairs go (read again if a late visit comes); a day with
   * open visits only after BSL_STORE_OPEN_DAY_IDLE_COMMITS such commits, as
   * its open visits may still change.  Going by what commits touch, not
   * only by the calendar: older lines replayed after newer ones (a rotated
   * log ingested after the live one) touch an old day at every commit, and
   * reading its pairs back at each one was most of the time of such a load,
   * while the newest day, never touched again, kept its pairs to the end.
   * The day before the newest is done as soon as it has no open visit,
   * touched or not, the first time: in order, its last visits were closing,
   * and keeping it one more commit cost 2 MB and 4% at 1M realistic lines;
   * touched again after that, it is late data and stays while touched. */
  bool any_touched = false;
  for (uint32_t i = 0; i < g->n_aggs; i++)
    any_touched = any_touched || g->aggs[i].touched;
  bool dropped = false;
  for (uint32_t i = 0; i < g->n_aggs; i++) {
    agg *a = &g->aggs[i];
    bool held = a->held, touched = a->touched;
    a->held = a->touched = false;
    if (a->kind != K_DAY)
      continue;
    if (touched)
      a->idle = 0;
    else if (any_touched && a->idle < UINT16_MAX)
      a->idle++;
    bool idle =
        a->idle > 0 && (!a->open || a->idle >= BSL_STORE_OPEN_DAY_IDLE_COMMITS);
    int64_t day;
    bool let_go = a->loaded && !held && !idle && touched && !a->open &&
                  bsl_day_parse(field(a, F_DAY), &day) == 0 &&
                  day == g->newest_day - 1 &&
                  strcmp(field(a, F_DAY), g->let_go) != 0;
    if (let_go)
      snprintf(g->let_go, sizeof g->let_go, "%s", field(a, F_DAY));
    if (a->loaded && !held && (idle || let_go)) {
      if (a->spilled) {
        sqlite3_stmt *st = bsl_store__stmt(s, SQL_AGG_SPILL_FORGET);
        if (!st)
          return -1;
        sqlite3_bind_blob(st, 1, a->key, (int)a->key_len, SQLITE_STATIC);
        if (bsl_store__run(s, st, "forgetting a day's visitors") != 0)
          return -1;
        a->spilled = false;
      }
      a->loaded = false, dropped = true;
    }
  }
  if (dropped && compact(g) != 0)
    return oom(s);
  return 0;
}

int bsl_store__agg_hold(bsl_store *s, const char *day, const char *site) {
  bsl_agg *g = agg_of(s);
  if (!g)
    return oom(s);
  const char *f[F_COUNT] = {day, site};
  uint32_t d = agg_of_kind(g, K_DAY, f);
  if (d == UINT32_MAX)
    return oom(s);
  g->aggs[d].held = true;
  return 0;
}

void bsl_store_agg_stats_get(const bsl_store *s, bsl_store_agg_stats *out) {
  *out = (bsl_store_agg_stats){.rows_read = s->agg_rows_read};
  const bsl_agg *g = s->agg;
  if (!g)
    return;
  for (size_t sh = 0; sh < PAIR_SHARDS; sh++)
    for (size_t i = 0; i < g->pairs[sh].cap; i++)
      out->pairs += g->pairs[sh].slots[i].agg1 && g->pairs[sh].slots[i].n;
}

void bsl_store__agg_reset(bsl_store *s) {
  bsl_agg *g = s->agg;
  if (!g)
    return;
  /* spilled pairs go with the rest (the table is private to this
   * connection: nothing else can hold it) */
  if (g->spills)
    (void)sqlite3_exec(s->db, SQL_AGG_SPILL_DROP, NULL, NULL, NULL);
  for (uint32_t i = 0; i < g->n_aggs; i++)
    free(g->aggs[i].key);
  free(g->aggs);
  free(g->index);
  for (size_t i = 0; i < PAIR_SHARDS; i++)
    slots_free(g->pairs[i].slots, g->pairs[i].cap);
  free(g->open);
  free(g);
  s->agg = NULL;
}
