/*
 * Campaign funnel aggregation and the machine-activity rule (see
 * funnel.h for the rule and the memory bounds).
 *
 * Three hash tables, all open addressing over an entry array: counter
 * deltas per (day, campaign), human open/click deltas per (day, campaign,
 * recipient), and the machine-rule state per (campaign, recipient).  The
 * first two are emptied after each committed flush; the state table drops
 * entries whose last event is older than the TTL.  Campaign names are
 * interned once (ids in the entries).
 */
#include "funnel.h"

#include "changeset.h"
#include "url.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE INT64_MIN

/* ---- a small open-addressing table of fixed-size entries ---- */

/* Every entry type starts with its 64-bit hash. */
typedef struct table {
  uint32_t *slots; /* entry index + 1; 0 = empty */
  size_t mask;     /* slots - 1 (power of two), 0 before the first insert */
  char *entries;
  size_t n, cap, esize;
} table;

typedef bool (*entry_eq)(const void *entry, const void *key);

static uint64_t entry_hash(const table *t, size_t i) {
  uint64_t h;
  memcpy(&h, t->entries + i * t->esize, sizeof h);
  return h;
}

static void *table_find(const table *t, uint64_t h, entry_eq eq,
                        const void *key) {
  if (!t->mask)
    return NULL;
  for (size_t s = h & t->mask;; s = (s + 1) & t->mask) {
    uint32_t k = t->slots[s];
    if (!k)
      return NULL;
    void *e = t->entries + (size_t)(k - 1) * t->esize;
    if (entry_hash(t, k - 1) == h && eq(e, key))
      return e;
  }
}

/* Re-enters every entry into the slots (after entries were removed). */
static void table_reindex(table *t) {
  if (!t->mask)
    return;
  memset(t->slots, 0, (t->mask + 1) * sizeof *t->slots);
  for (size_t i = 0; i < t->n; i++) {
    size_t s = entry_hash(t, i) & t->mask;
    while (t->slots[s])
      s = (s + 1) & t->mask;
    t->slots[s] = (uint32_t)(i + 1);
  }
}

static int table_rehash(table *t, size_t nslots) {
  uint32_t *ns = calloc(nslots, sizeof *ns);
  if (!ns)
    return -1;
  free(t->slots);
  t->slots = ns;
  t->mask = nslots - 1;
  for (size_t i = 0; i < t->n; i++) {
    size_t s = entry_hash(t, i) & t->mask;
    while (t->slots[s])
      s = (s + 1) & t->mask;
    t->slots[s] = (uint32_t)(i + 1);
  }
  return 0;
}

/* Appends a zeroed entry with hash H (the caller fills the key); NULL on
 * OOM. */
static void *table_add(table *t, uint64_t h) {
  if (t->n >= UINT32_MAX - 1)
    return NULL;
  if ((t->n + 1) * 2 > t->mask + 1 &&
      table_rehash(t, t->mask ? (t->mask + 1) * 2 : 64) != 0)
    return NULL;
  if (t->n == t->cap) {
    size_t ncap = t->cap ? t->cap * 2 : 32;
    char *ne = realloc(t->entries, ncap * t->esize);
    if (!ne)
      return NULL;
    t->entries = ne;
    t->cap = ncap;
  }
  void *e = t->entries + t->n * t->esize;
  memset(e, 0, t->esize);
  memcpy(e, &h, sizeof h);
  size_t s = h & t->mask;
  while (t->slots[s])
    s = (s + 1) & t->mask;
  t->slots[s] = (uint32_t)(++t->n);
  return e;
}

/* Empties T; gives its memory back when it grew much larger than needed. */
static void table_clear(table *t) {
  if (t->cap > 4096 && t->n < t->cap / 8) {
    free(t->entries);
    free(t->slots);
    t->entries = NULL;
    t->slots = NULL;
    t->cap = 0;
    t->mask = 0;
  } else if (t->mask) {
    memset(t->slots, 0, (t->mask + 1) * sizeof *t->slots);
  }
  t->n = 0;
}

static void table_free(table *t) {
  free(t->slots);
  free(t->entries);
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 29);
}

static uint64_t hash_bytes(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h;
}

/* ---- entries ---- */

typedef struct count_entry {
  uint64_t h;
  uint32_t camp;
  char day[11];
  bsl_campaign_counts c;
} count_entry;

typedef struct rcpt_entry {
  uint64_t h;
  uint32_t camp;
  char day[11];
  uint64_t rcpt;
  int64_t opens, clicks;
} rcpt_entry;

typedef struct state_entry {
  uint64_t h;
  uint32_t camp;
  uint64_t rcpt;
  int64_t delivered_at, click_at, seen;
  uint64_t click_url;
  char click_day[11];
  bool click_human, dirty;
} state_entry;

typedef struct day_key {
  uint32_t camp;
  const char *day;
  uint64_t rcpt;
} day_key;

static bool count_eq(const void *e, const void *k) {
  const count_entry *a = e;
  const day_key *b = k;
  return a->camp == b->camp && strcmp(a->day, b->day) == 0;
}

static bool rcpt_eq(const void *e, const void *k) {
  const rcpt_entry *a = e;
  const day_key *b = k;
  return a->camp == b->camp && a->rcpt == b->rcpt &&
         strcmp(a->day, b->day) == 0;
}

static bool state_eq(const void *e, const void *k) {
  const state_entry *a = e;
  const day_key *b = k;
  return a->camp == b->camp && a->rcpt == b->rcpt;
}

typedef struct name_entry {
  uint64_t h;
  char *name;
} name_entry;

static bool name_eq(const void *e, const void *k) {
  return strcmp(((const name_entry *)e)->name, (const char *)k) == 0;
}

struct bsl_funnel {
  bsl_funnel_options o;
  uint8_t key[16];
  table names; /* name_entry; the id of a name is its index */
  table counts, rcpts, states;
  int64_t watermark;       /* newest event time seen */
  int64_t flush_watermark; /* the watermark at the last flush */
};

/* ---- names ---- */

void bsl_campaign_name_normalize(const char *s, size_t len,
                                 char out[BSL_CAMPAIGN_NAME_MAX]) {
  /* as the visit side reads utm_campaign, so the two join: url.c's
   * decoding (and text rule), then lower case */
  bsl_url_decode(s, len, out, BSL_CAMPAIGN_NAME_MAX);
  bsl_ascii_lower(out);
}

/* Id of NAME, interned on first use; -1 on OOM. */
static int64_t intern(bsl_funnel *c, const char *name) {
  uint64_t h = hash_bytes(name, strlen(name));
  name_entry *e = table_find(&c->names, h, name_eq, name);
  if (e)
    return (int64_t)(((char *)e - c->names.entries) / (ptrdiff_t)sizeof *e);
  char *copy = strdup(name);
  if (!copy || !(e = table_add(&c->names, h))) {
    free(copy);
    return -1;
  }
  e->name = copy;
  return (int64_t)(c->names.n - 1);
}

static const char *name_of(const bsl_funnel *c, uint32_t id) {
  return ((const name_entry *)c->names.entries)[id].name;
}

/* ---- lookups ---- */

static count_entry *counts_for(bsl_funnel *c, uint32_t camp, const char *day) {
  day_key k = {camp, day, 0};
  uint64_t h = mix(mix(camp, hash_bytes(day, strlen(day))), 0);
  count_entry *e = table_find(&c->counts, h, count_eq, &k);
  if (!e && (e = table_add(&c->counts, h))) {
    e->camp = camp;
    memcpy(e->day, day, sizeof e->day);
  }
  return e;
}

static rcpt_entry *rcpt_for(bsl_funnel *c, uint32_t camp, const char *day,
                            uint64_t rcpt) {
  day_key k = {camp, day, rcpt};
  uint64_t h = mix(mix(camp, hash_bytes(day, strlen(day))), rcpt);
  rcpt_entry *e = table_find(&c->rcpts, h, rcpt_eq, &k);
  if (!e && (e = table_add(&c->rcpts, h))) {
    e->camp = camp;
    memcpy(e->day, day, sizeof e->day);
    e->rcpt = rcpt;
  }
  return e;
}

static state_entry *state_for(bsl_funnel *c, uint32_t camp, uint64_t rcpt) {
  day_key k = {camp, NULL, rcpt};
  uint64_t h = mix(mix(camp, 1), rcpt);
  state_entry *e = table_find(&c->states, h, state_eq, &k);
  if (!e && (e = table_add(&c->states, h))) {
    e->camp = camp;
    e->rcpt = rcpt;
    e->delivered_at = e->click_at = e->seen = NONE;
  }
  return e;
}

static uint64_t recipient_hash(const bsl_funnel *c, bsl_str r) {
  crypto_generichash_state st;
  char buf[256];
  uint8_t out[8];
  crypto_generichash_init(&st, c->key, sizeof c->key, sizeof out);
  for (size_t i = 0; i < r.len;) {
    size_t n = 0;
    for (; n < sizeof buf && i < r.len; n++, i++) {
      char ch = r.ptr[i];
      buf[n] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
    }
    crypto_generichash_update(&st, (const unsigned char *)buf, n);
  }
  crypto_generichash_final(&st, out, sizeof out);
  uint64_t h;
  memcpy(&h, out, sizeof h);
  return h;
}

/* ---- lifecycle ---- */

static void load_state(void *ctx, const bsl_campaign_state_row *r) {
  bsl_funnel *c = ctx;
  int64_t camp = intern(c, r->campaign);
  state_entry *e =
      camp < 0 ? NULL : state_for(c, (uint32_t)camp, (uint64_t)r->recipient);
  if (!e)
    return; /* OOM: the rule forgets this recipient, counts stay right */
  e->delivered_at = r->delivered_at;
  e->click_at = r->click_at;
  e->click_url = (uint64_t)r->click_url;
  snprintf(e->click_day, sizeof e->click_day, "%s", r->click_day);
  e->click_human = r->click_human;
  e->seen = r->seen;
  if (r->seen > c->watermark)
    c->watermark = r->seen;
}

int bsl_funnel_create(bsl_funnel **out, const bsl_funnel_options *o, char *err,
                      size_t errlen) {
  *out = NULL;
  bsl_funnel *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  c->o = *o;
  c->names.esize = sizeof(name_entry);
  c->counts.esize = sizeof(count_entry);
  c->rcpts.esize = sizeof(rcpt_entry);
  c->states.esize = sizeof(state_entry);
  c->watermark = c->flush_watermark = NONE;
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    goto out_free;
  }
  if (bsl_store_campaign_key(o->store, c->key) != 0 ||
      bsl_store_campaign_state_load(o->store, load_state, c) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(o->store));
    goto out_free;
  }
  *out = c;
  return 0;
out_free:
  bsl_funnel_destroy(c);
  return -1;
}

void bsl_funnel_destroy(bsl_funnel *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->names.n; i++)
    free(((name_entry *)c->names.entries)[i].name);
  table_free(&c->names);
  table_free(&c->counts);
  table_free(&c->rcpts);
  table_free(&c->states);
  free(c);
}

/* ---- the rule ---- */

/* Moves the human click remembered in S to machine_clicks. */
static int demote_click(bsl_funnel *c, state_entry *s) {
  count_entry *ce = counts_for(c, s->camp, s->click_day);
  rcpt_entry *re = ce ? rcpt_for(c, s->camp, s->click_day, s->rcpt) : NULL;
  if (!re)
    return -1;
  ce->c.clicks--;
  ce->c.machine_clicks++;
  re->clicks--;
  s->click_human = false;
  s->dirty = true;
  return 0;
}

int bsl_funnel_add(bsl_funnel *c, const bsl_campaign_event *ev) {
  char name[BSL_CAMPAIGN_NAME_MAX], day[11];
  bsl_campaign_name_normalize(ev->campaign.ptr, ev->campaign.len, name);
  int64_t id = intern(c, name);
  if (id < 0)
    return -1;
  uint32_t camp = (uint32_t)id;
  c->o.day_of(c->o.day_ctx, ev->time, day);
  count_entry *ce = counts_for(c, camp, day);
  if (!ce)
    return -1;
  bool has_rcpt = ev->recipient.len > 0;
  uint64_t rcpt = has_rcpt ? recipient_hash(c, ev->recipient) : 0;
  state_entry *st = NULL;
  if (has_rcpt &&
      (ev->kind == BSL_CEV_DELIVERED || ev->kind == BSL_CEV_CLICK)) {
    if (!(st = state_for(c, camp, rcpt)))
      return -1;
    st->dirty = true;
    if (ev->time > st->seen)
      st->seen = ev->time;
  }
  rcpt_entry *re = NULL;
  if (has_rcpt && (ev->kind == BSL_CEV_OPEN || ev->kind == BSL_CEV_CLICK) &&
      !(re = rcpt_for(c, camp, day, rcpt)))
    return -1;
  if (ev->time > c->watermark)
    c->watermark = ev->time;

  ce->c.spend_micros += ev->cost_micros;
  switch (ev->kind) {
  case BSL_CEV_SENT:
    ce->c.sent++;
    break;
  case BSL_CEV_BOUNCE:
    ce->c.bounces++;
    break;
  case BSL_CEV_UNSUBSCRIBE:
    ce->c.unsubscribes++;
    break;
  case BSL_CEV_SPEND:
  case BSL_CEV_COUNT:
    break;
  case BSL_CEV_DELIVERED:
    ce->c.delivered++;
    if (st) {
      st->delivered_at = ev->time;
      /* a click logged before its delivery (out-of-order webhooks) */
      if (st->click_human && st->click_at != NONE && st->click_at >= ev->time &&
          st->click_at - ev->time <= BSL_MACHINE_CLICK_DELAY &&
          demote_click(c, st) != 0)
        return -1;
    }
    break;
  case BSL_CEV_OPEN:
    if (ev->machine) {
      ce->c.machine_opens++;
    } else {
      ce->c.opens++;
      if (re)
        re->opens++;
    }
    break;
  case BSL_CEV_CLICK: {
    bool machine = false;
    if (st) {
      uint64_t url = hash_bytes(ev->url.ptr, ev->url.len);
      if (st->delivered_at != NONE && ev->time >= st->delivered_at &&
          ev->time - st->delivered_at <= BSL_MACHINE_CLICK_DELAY)
        machine = true;
      if (st->click_at != NONE && url != st->click_url &&
          (ev->time > st->click_at
               ? ev->time - st->click_at
               : st->click_at - ev->time) <= BSL_MACHINE_CLICK_BURST) {
        machine = true;
        if (st->click_human && demote_click(c, st) != 0)
          return -1;
        /* demote_click may have grown the tables */
        ce = counts_for(c, camp, day);
        re = rcpt_for(c, camp, day, rcpt);
        if (!ce || !re)
          return -1;
      }
      st->click_at = ev->time;
      st->click_url = url;
      st->click_human = !machine;
      memcpy(st->click_day, day, sizeof day);
    }
    if (machine) {
      ce->c.machine_clicks++;
    } else {
      ce->c.clicks++;
      if (re)
        re->clicks++;
    }
    break;
  }
  }
  return 0;
}

/* ---- flush ---- */

static bool expired(const bsl_funnel *c, const state_entry *s) {
  return c->flush_watermark != NONE &&
         s->seen < c->flush_watermark - BSL_MACHINE_STATE_TTL;
}

/* ---- flushing into a changeset: a snapshot applied later ---- */

typedef struct snap_count {
  char day[11];
  char *camp;
  bsl_campaign_counts c;
} snap_count;

typedef struct snap_rcpt {
  char day[11];
  char *camp;
  int64_t rcpt, opens, clicks;
} snap_rcpt;

typedef struct snap_state {
  bool del;
  char *camp;
  char click_day[11];
  bsl_campaign_state_row r;
} snap_state;

typedef struct snapshot {
  snap_count *counts;
  snap_rcpt *rcpts;
  snap_state *states;
  size_t n_counts, n_rcpts, n_states;
} snapshot;

static void snapshot_drop(void *payload) {
  snapshot *sn = payload;
  if (!sn)
    return;
  for (size_t i = 0; i < sn->n_counts; i++)
    free(sn->counts[i].camp);
  for (size_t i = 0; i < sn->n_rcpts; i++)
    free(sn->rcpts[i].camp);
  for (size_t i = 0; i < sn->n_states; i++)
    free(sn->states[i].camp);
  free(sn->counts);
  free(sn->rcpts);
  free(sn->states);
  free(sn);
}

static int snapshot_apply(bsl_store *s, void *payload) {
  snapshot *sn = payload;
  for (size_t i = 0; i < sn->n_counts; i++)
    if (bsl_store_campaign_add(s, sn->counts[i].day, sn->counts[i].camp,
                               &sn->counts[i].c) != 0)
      return -1;
  for (size_t i = 0; i < sn->n_rcpts; i++) {
    snap_rcpt *r = &sn->rcpts[i];
    if (bsl_store_campaign_recipient_add(s, r->day, r->camp, r->rcpt, r->opens,
                                         r->clicks) != 0)
      return -1;
  }
  for (size_t i = 0; i < sn->n_states; i++) {
    snap_state *st = &sn->states[i];
    st->r.campaign = st->camp;
    st->r.click_day = st->click_day;
    int rc = st->del
                 ? bsl_store_campaign_state_delete(s, st->camp, st->r.recipient)
                 : bsl_store_campaign_state_put(s, &st->r);
    if (rc != 0)
      return -1;
  }
  return 0;
}

/* Copies the pending changes; NULL when out of memory. */
static snapshot *take_snapshot(bsl_funnel *c) {
  c->flush_watermark = c->watermark;
  snapshot *sn = calloc(1, sizeof *sn);
  if (!sn)
    return NULL;
  sn->counts = calloc(c->counts.n + 1, sizeof *sn->counts);
  sn->rcpts = calloc(c->rcpts.n + 1, sizeof *sn->rcpts);
  sn->states = calloc(c->states.n + 1, sizeof *sn->states);
  if (!sn->counts || !sn->rcpts || !sn->states)
    goto out_oom;
  count_entry *ce = (count_entry *)c->counts.entries;
  for (size_t i = 0; i < c->counts.n; i++) {
    snap_count *d = &sn->counts[sn->n_counts];
    memcpy(d->day, ce[i].day, sizeof d->day);
    d->c = ce[i].c;
    if (!(d->camp = strdup(name_of(c, ce[i].camp))))
      goto out_oom;
    sn->n_counts++;
  }
  rcpt_entry *re = (rcpt_entry *)c->rcpts.entries;
  for (size_t i = 0; i < c->rcpts.n; i++) {
    if (!re[i].opens && !re[i].clicks)
      continue;
    snap_rcpt *d = &sn->rcpts[sn->n_rcpts];
    memcpy(d->day, re[i].day, sizeof d->day);
    d->rcpt = (int64_t)re[i].rcpt;
    d->opens = re[i].opens;
    d->clicks = re[i].clicks;
    if (!(d->camp = strdup(name_of(c, re[i].camp))))
      goto out_oom;
    sn->n_rcpts++;
  }
  state_entry *se = (state_entry *)c->states.entries;
  for (size_t i = 0; i < c->states.n; i++) {
    bool del = expired(c, &se[i]);
    if (!del && !se[i].dirty)
      continue;
    snap_state *d = &sn->states[sn->n_states];
    d->del = del;
    memcpy(d->click_day, se[i].click_day, sizeof d->click_day);
    d->r = (bsl_campaign_state_row){
        .recipient = (int64_t)se[i].rcpt,
        .delivered_at = se[i].delivered_at,
        .click_at = se[i].click_at,
        .click_url = (int64_t)se[i].click_url,
        .click_human = se[i].click_human,
        .seen = se[i].seen,
    };
    if (!(d->camp = strdup(name_of(c, se[i].camp))))
      goto out_oom;
    sn->n_states++;
  }
  return sn;
out_oom:
  snapshot_drop(sn);
  return NULL;
}

int bsl_funnel_flush_into(bsl_funnel *c, bsl_changeset *cs) {
  snapshot *sn = take_snapshot(c);
  if (!sn)
    return -1;
  bsl_changeset_custom(cs, snapshot_apply, snapshot_drop, sn);
  return bsl_changeset_failed(cs) ? -1 : 0;
}

void bsl_funnel_flush_done(bsl_funnel *c) {
  table_clear(&c->counts);
  table_clear(&c->rcpts);
  state_entry *se = (state_entry *)c->states.entries;
  size_t kept = 0;
  for (size_t i = 0; i < c->states.n; i++) {
    if (expired(c, &se[i]))
      continue;
    se[i].dirty = false;
    se[kept++] = se[i];
  }
  if (kept != c->states.n) {
    c->states.n = kept;
    table_reindex(&c->states);
  }
}

bool bsl_funnel_pending(const bsl_funnel *c, const char *day,
                        const char *campaign, bsl_campaign_counts *out) {
  memset(out, 0, sizeof *out);
  uint64_t h = hash_bytes(campaign, strlen(campaign));
  const name_entry *ne = table_find(&c->names, h, name_eq, campaign);
  if (!ne)
    return false;
  uint32_t camp =
      (uint32_t)(((const char *)ne - c->names.entries) / sizeof *ne);
  day_key k = {camp, day, 0};
  uint64_t ch = mix(mix(camp, hash_bytes(day, strlen(day))), 0);
  const count_entry *e = table_find(&c->counts, ch, count_eq, &k);
  if (!e)
    return false;
  *out = e->c;
  return true;
}

size_t bsl_funnel_tracked(const bsl_funnel *c) {
  return c->states.n;
}
