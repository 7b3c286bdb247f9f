/*
 * Changesets (see changeset.h): fixed-size records plus one string arena,
 * both grown by doubling and reused across commits, so building a changeset
 * costs no allocation once the buffers have reached their working size.
 */
#include "changeset.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "store_internal.h"

enum op_type {
  OP_HITS,
  OP_EVENT,
  OP_PAGES,
  OP_NOT_FOUND,
  OP_VISIT,
  OP_GOAL,
  OP_SALT,
  OP_SALT_DELETE,
  OP_META,
  OP_REJECT,
  OP_FILE,
  OP_NUMBER,
  OP_PARK_RESET,
  OP_CUSTOM
};

#define MAX_STR 10
#define MAX_NUM 8
/* OP_VISIT's flags */
#define F_OPEN 1u
#define F_SAVED_BEFORE 2u
#define F_PARKED 4u
#define F_PARKED_BEFORE 8u

/* 32-bit offsets, no lengths (the strings end with a NUL; the two binary
 * values keep theirs in a number) and a visit's two booleans as flags: an
 * op is 112 bytes instead of 264, and a commit holds one per visit changed
 * in its interval (tens of thousands at a bulk load's peak).  The arena
 * is refused past 4 GiB (a failure like running out of memory), far
 * beyond what one commit interval writes. */
#define NO_STR UINT32_MAX
typedef struct op {
  enum op_type type;
  uint32_t str[MAX_STR]; /* offsets into the arena; NO_STR for NULL */
  uint32_t flags;
  int64_t num[MAX_NUM];
} op;

/* The visit fields that repeat from one visit to the next (site, day,
 * channel, source, medium, campaign, device): a visit whose value is the
 * previous visit's points to the same bytes. */
#define SHARED_STR 7

typedef struct custom {
  int (*apply)(bsl_store *, void *);
  void (*drop)(void *);
  void *payload;
} custom;

struct bsl_changeset {
  op *ops;
  size_t n_ops, cap_ops;
  char *arena;
  size_t arena_len, arena_cap;
  custom *customs;
  size_t n_customs, cap_customs;
  uint32_t last[SHARED_STR], last_len[SHARED_STR]; /* NO_STR: none yet */
  bool failed;
};

static void forget_shared(bsl_changeset *cs) {
  for (int i = 0; i < SHARED_STR; i++)
    cs->last[i] = NO_STR;
}

bsl_changeset *bsl_changeset_create(void) {
  bsl_changeset *cs = calloc(1, sizeof(bsl_changeset));
  if (cs)
    forget_shared(cs);
  return cs;
}

void bsl_changeset_clear(bsl_changeset *cs) {
  for (size_t i = 0; i < cs->n_customs; i++)
    if (cs->customs[i].drop)
      cs->customs[i].drop(cs->customs[i].payload);
  cs->n_ops = cs->arena_len = cs->n_customs = 0;
  cs->failed = false;
  forget_shared(cs);
}

void bsl_changeset_destroy(bsl_changeset *cs) {
  if (!cs)
    return;
  bsl_changeset_clear(cs);
  free(cs->ops);
  free(cs->arena);
  free(cs->customs);
  free(cs);
}

bool bsl_changeset_failed(const bsl_changeset *cs) {
  return cs->failed;
}

static bool grow(void **buf, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return true;
  if (bsl_fault("changeset")) /* tests: this growth fails */
    return false;
  size_t ncap = *cap ? *cap : 64;
  while (ncap < need)
    ncap *= 2;
  void *nb = realloc(*buf, ncap * elem);
  if (!nb)
    return false;
  *buf = nb;
  *cap = ncap;
  return true;
}

static op *new_op(bsl_changeset *cs, enum op_type type) {
  if (cs->failed ||
      !grow((void **)&cs->ops, &cs->cap_ops, cs->n_ops + 1, sizeof *cs->ops)) {
    cs->failed = true;
    return NULL;
  }
  op *o = &cs->ops[cs->n_ops++];
  memset(o, 0, sizeof *o);
  o->type = type;
  return o;
}

/* Copies LEN bytes of S (NUL-terminated in the arena) as string I of O. */
static void put_bytes(bsl_changeset *cs, op *o, int i, const char *s,
                      size_t len) {
  if (!o)
    return;
  if (!s) {
    o->str[i] = NO_STR;
    return;
  }
  if (len >= NO_STR - 1 - cs->arena_len ||
      !grow((void **)&cs->arena, &cs->arena_cap, cs->arena_len + len + 1, 1)) {
    cs->failed = true;
    return;
  }
  memcpy(cs->arena + cs->arena_len, s, len);
  cs->arena[cs->arena_len + len] = '\0';
  o->str[i] = (uint32_t)cs->arena_len;
  cs->arena_len += len + 1;
}

static void put_str(bsl_changeset *cs, op *o, int i, const char *s) {
  put_bytes(cs, o, i, s, s ? strlen(s) : 0);
}

/* put_str() of visit field I (< SHARED_STR), reusing the previous visit's
 * copy when it is the same text. */
static void put_shared(bsl_changeset *cs, op *o, int i, const char *s) {
  if (!o)
    return;
  size_t len = s ? strlen(s) : 0;
  if (s && cs->last[i] != NO_STR && cs->last_len[i] == len &&
      memcmp(cs->arena + cs->last[i], s, len) == 0) {
    o->str[i] = cs->last[i];
    return;
  }
  put_bytes(cs, o, i, s, len);
  if (s && !cs->failed) {
    cs->last[i] = o->str[i];
    cs->last_len[i] = (uint32_t)len;
  }
}

void bsl_changeset_add_hits(bsl_changeset *cs, const char *day,
                            const char *site, int status, int64_t hits,
                            int64_t bot_hits) {
  op *o = new_op(cs, OP_HITS);
  put_str(cs, o, 0, day);
  put_str(cs, o, 1, site);
  if (o) {
    o->num[0] = status;
    o->num[1] = hits;
    o->num[2] = bot_hits;
  }
}

void bsl_changeset_add_event(bsl_changeset *cs, const char *day,
                             const char *site, const char *path,
                             const char *event, const char *target,
                             int64_t events) {
  op *o = new_op(cs, OP_EVENT);
  put_str(cs, o, 0, day);
  put_str(cs, o, 1, site);
  put_str(cs, o, 2, path);
  put_str(cs, o, 3, event);
  put_str(cs, o, 4, target);
  if (o)
    o->num[0] = events;
}

void bsl_changeset_add_page_counts(bsl_changeset *cs, const char *day,
                                   const char *site, const char *path,
                                   int64_t pageviews, int64_t entries,
                                   int64_t scroll_sum, int64_t scroll_75) {
  op *o = new_op(cs, OP_PAGES);
  put_str(cs, o, 0, day);
  put_str(cs, o, 1, site);
  put_str(cs, o, 2, path);
  if (o) {
    o->num[0] = pageviews;
    o->num[1] = entries;
    o->num[2] = scroll_sum;
    o->num[3] = scroll_75;
  }
}

void bsl_changeset_add_not_found(bsl_changeset *cs, const char *day,
                                 const char *site, const char *path,
                                 int64_t hits) {
  op *o = new_op(cs, OP_NOT_FOUND);
  put_str(cs, o, 0, day);
  put_str(cs, o, 1, site);
  put_str(cs, o, 2, path);
  if (o)
    o->num[0] = hits;
}

void bsl_changeset_put_visit(bsl_changeset *cs, const bsl_visit_row *v) {
  op *o = new_op(cs, OP_VISIT);
  const char *shared[SHARED_STR] = {v->site,   v->day,    v->channel,
                                    v->source, v->medium, v->campaign,
                                    v->device};
  for (int i = 0; i < SHARED_STR; i++)
    put_shared(cs, o, i, shared[i]);
  put_str(cs, o, 7, v->landing_path);
  put_str(cs, o, 8, v->exit_path);
  if (!o)
    return;
  o->num[0] = v->visit_id;
  o->num[1] = v->visitor;
  o->num[2] = v->started_at;
  o->num[3] = v->ended_at;
  o->num[4] = v->pageviews;
  o->num[5] = v->clicks;
  o->num[6] = v->conversions;
  o->num[7] = v->max_scroll;
  o->flags =
      (v->is_open ? F_OPEN : 0) | (v->saved_before ? F_SAVED_BEFORE : 0) |
      (v->parked ? F_PARKED : 0) | (v->parked_before ? F_PARKED_BEFORE : 0);
  put_str(cs, o, 9, v->pages_json ? v->pages_json : "[]");
}

void bsl_changeset_put_visit_goal(bsl_changeset *cs, int64_t visit_id,
                                  const char *goal) {
  op *o = new_op(cs, OP_GOAL);
  put_str(cs, o, 0, goal);
  if (o)
    o->num[0] = visit_id;
}

void bsl_changeset_put_salt(bsl_changeset *cs, const char *day,
                            const uint8_t *salt, size_t len) {
  op *o = new_op(cs, OP_SALT);
  put_str(cs, o, 0, day);
  put_bytes(cs, o, 1, (const char *)salt, len);
  if (o)
    o->num[0] = (int64_t)len;
}

void bsl_changeset_delete_salts_before(bsl_changeset *cs, const char *day) {
  op *o = new_op(cs, OP_SALT_DELETE);
  put_str(cs, o, 0, day);
}

void bsl_changeset_number_visitors(bsl_changeset *cs, const char *before) {
  op *o = new_op(cs, OP_NUMBER);
  put_str(cs, o, 0, before);
}

void bsl_changeset_park_reset(bsl_changeset *cs) {
  (void)new_op(cs, OP_PARK_RESET);
}

void bsl_changeset_meta_set(bsl_changeset *cs, const char *key, int64_t value) {
  op *o = new_op(cs, OP_META);
  put_str(cs, o, 0, key);
  if (o)
    o->num[0] = value;
}

void bsl_changeset_add_reject(bsl_changeset *cs, const char *source,
                              const char *path, int64_t offset,
                              const char *reason, const char *excerpt,
                              size_t excerpt_len) {
  op *o = new_op(cs, OP_REJECT);
  put_str(cs, o, 0, source);
  put_str(cs, o, 1, path);
  put_str(cs, o, 2, reason);
  put_bytes(cs, o, 3, excerpt, excerpt_len);
  if (o) {
    o->num[0] = offset;
    o->num[1] = (int64_t)excerpt_len;
  }
}

void bsl_changeset_file_update(bsl_changeset *cs, const bsl_file_state *st) {
  op *o = new_op(cs, OP_FILE);
  put_str(cs, o, 0, st->source);
  put_str(cs, o, 1, st->path);
  put_str(cs, o, 2, st->fingerprint);
  if (!o)
    return;
  o->num[0] = st->file_id;
  o->num[1] = st->fp_len;
  o->num[2] = st->offset;
  o->num[3] = st->lines;
  o->num[4] = st->hits;
  o->num[5] = st->rejects;
}

void bsl_changeset_custom(bsl_changeset *cs, int (*apply)(bsl_store *, void *),
                          void (*drop)(void *), void *payload) {
  op *o = new_op(cs, OP_CUSTOM);
  if (!o || !grow((void **)&cs->customs, &cs->cap_customs, cs->n_customs + 1,
                  sizeof *cs->customs)) {
    cs->failed = true;
    if (o)
      cs->n_ops--;
    if (drop)
      drop(payload);
    return;
  }
  o->num[0] = (int64_t)cs->n_customs;
  cs->customs[cs->n_customs++] = (custom){apply, drop, payload};
}

static const char *S(const bsl_changeset *cs, const op *o, int i) {
  return o->str[i] == NO_STR ? NULL : cs->arena + o->str[i];
}

/* The visit row of record O (OP_VISIT), pointing into CS's arena. */
static void visit_of(const bsl_changeset *cs, const op *o, bsl_visit_row *v) {
  const int64_t *n = o->num;
  *v = (bsl_visit_row){
      .visit_id = n[0],
      .site = S(cs, o, 0),
      .day = S(cs, o, 1),
      .visitor = n[1],
      .started_at = n[2],
      .ended_at = n[3],
      .pageviews = n[4],
      .clicks = n[5],
      .conversions = n[6],
      .max_scroll = (int)n[7],
      .channel = S(cs, o, 2),
      .source = S(cs, o, 3),
      .medium = S(cs, o, 4),
      .campaign = S(cs, o, 5),
      .device = S(cs, o, 6),
      .landing_path = S(cs, o, 7),
      .exit_path = S(cs, o, 8),
      .pages_json = S(cs, o, 9),
      /* ops keep no lengths (see op): bound as a C string */
      .pages_json_len = 0,
      .is_open = (o->flags & F_OPEN) != 0,
      .saved_before = (o->flags & F_SAVED_BEFORE) != 0,
      .parked = (o->flags & F_PARKED) != 0,
      .parked_before = (o->flags & F_PARKED_BEFORE) != 0,
  };
}

/* Runs records FIRST.. of CS.  REMOTE: a PostgreSQL store, whose day
 * salts are in the database, written in the transaction with the rest. */
static int apply_from(bsl_store *s, const bsl_changeset *cs, size_t first,
                      bool remote) {
  for (size_t i = first; i < cs->n_ops; i++) {
    const op *o = &cs->ops[i];
    const int64_t *n = o->num;
    int rc = 0;
    switch (o->type) {
    case OP_HITS:
      rc = bsl_store_add_hits(s, S(cs, o, 0), S(cs, o, 1), (int)n[0], n[1],
                              n[2]);
      break;
    case OP_EVENT:
      rc = bsl_store_add_event(s, S(cs, o, 0), S(cs, o, 1), S(cs, o, 2),
                               S(cs, o, 3), S(cs, o, 4), n[0]);
      break;
    case OP_PAGES:
      rc = bsl_store_add_page_counts(s, S(cs, o, 0), S(cs, o, 1), S(cs, o, 2),
                                     n[0], n[1], n[2], n[3]);
      break;
    case OP_NOT_FOUND:
      rc = bsl_store_add_not_found(s, S(cs, o, 0), S(cs, o, 1), S(cs, o, 2),
                                   n[0]);
      break;
    case OP_VISIT: {
      /* a run of visit records (the open visits of a flush) goes to the
       * store together: its new rows are written several per statement,
       * as the closed ones are, rather than one INSERT each */
      enum { RUN = 64 };
      bsl_visit_row v[RUN];
      size_t k = 0;
      for (; k < RUN && i + k < cs->n_ops && cs->ops[i + k].type == OP_VISIT;
           k++)
        visit_of(cs, &cs->ops[i + k], &v[k]);
      rc = bsl_store_put_visits(s, v, k);
      i += k - 1;
      break;
    }
    case OP_GOAL:
      rc = bsl_store_put_visit_goal(s, n[0], S(cs, o, 0));
      break;
    case OP_SALT:
      if (remote) /* claimed already (bsl_store_salt_claim): a no-op */
        rc = bsl_store_put_salt(s, S(cs, o, 0), (const uint8_t *)S(cs, o, 1),
                                (size_t)n[0]);
      break; /* else the salts file's, around the transaction: see below */
    case OP_SALT_DELETE:
      if (remote)
        rc = bsl_store_delete_salts_before(s, S(cs, o, 0));
      break;
    case OP_NUMBER:
      rc = bsl_store_number_visitors(s, S(cs, o, 0));
      break;
    case OP_PARK_RESET:
      rc = bsl_store_park_reset(s);
      break;
    case OP_META:
      rc = bsl_store_meta_set(s, S(cs, o, 0), n[0]);
      break;
    case OP_REJECT:
      rc = bsl_store_add_reject(s, S(cs, o, 0), S(cs, o, 1), n[0], S(cs, o, 2),
                                S(cs, o, 3), (size_t)n[1]);
      break;
    case OP_FILE: {
      bsl_file_state st = {.file_id = n[0],
                           .fp_len = (int)n[1],
                           .offset = n[2],
                           .lines = n[3],
                           .hits = n[4],
                           .rejects = n[5]};
      snprintf(st.source, sizeof st.source, "%s", S(cs, o, 0));
      snprintf(st.path, sizeof st.path, "%s", S(cs, o, 1));
      snprintf(st.fingerprint, sizeof st.fingerprint, "%s", S(cs, o, 2));
      rc = bsl_store_file_save(s, &st);
      break;
    }
    case OP_CUSTOM: {
      const custom *c = &cs->customs[n[0]];
      rc = c->apply(s, c->payload);
      break;
    }
    }
    if (rc != 0)
      return -1;
  }
  return 0;
}

int bsl_store_apply(bsl_store *s, const bsl_changeset *cs) {
  return apply_from(s, cs, 0, false);
}

/* Applies the salt records of CS of type TYPE to the salts file.  Returns
 * 0 or -1 (error set); *N counts them. */
static int apply_salts(bsl_store *s, const bsl_changeset *cs, enum op_type type,
                       int *n) {
  *n = 0;
  for (size_t i = 0; i < cs->n_ops; i++) {
    const op *o = &cs->ops[i];
    if (o->type != type)
      continue;
    (*n)++;
    int rc = type == OP_SALT ? bsl_store_put_salt(s, S(cs, o, 0),
                                                  (const uint8_t *)S(cs, o, 1),
                                                  (size_t)o->num[0])
                             : bsl_store_delete_salts_before(s, S(cs, o, 0));
    if (rc != 0)
      return -1;
  }
  return 0;
}

/* A crash at POINT, for the tests (fault.h): no cleanup, like a kill. */
static void crash_point(const char *point) {
  if (bsl_fault(point))
    raise(SIGKILL);
}

/*
 * The salts file and the database are two files, and with the database in
 * WAL mode SQLite commits a transaction over both one file after the other,
 * not atomically: a crash could leave a visit without its salt, and the
 * resumed run would then give the visitor another key (a second visitor, a
 * split visit).  So the writes are ordered instead, each step durable
 * before the next:
 *   1. the new salts, in the salts file (synchronous = FULL);
 *   2. everything else, in one transaction of the database;
 *   3. the salts now too old, deleted from the salts file.
 * A crash after 1 leaves salts without their visits: the resumed run
 * replays the same lines and finds those salts (or never needs them).  A
 * crash after 2 leaves old salts one commit longer: the resumed model knows
 * the newest day (meta) and does not use them, and the next commit deletes
 * them.  A failed step 3 is retried by the next commit.
 */
int bsl_store_commit_changeset(bsl_store *s, const bsl_changeset *cs) {
  if (bsl_store_is_remote(s)) {
    /* one transaction holds everything, salts included; a retry after a
     * COMMIT without an answer applies only what did not commit (the
     * fence, store_pg.c) */
    size_t first;
    if (bsl_store__pg_commit_begin(s, cs, cs->n_ops, &first) != 0)
      return -1;
    bool applied = apply_from(s, cs, first, true) == 0;
    return bsl_store__pg_commit_end(s, cs, cs->n_ops, applied);
  }
  int puts, deletes;
  if (apply_salts(s, cs, OP_SALT, &puts) != 0)
    return -1;
  if (puts)
    crash_point("crash-after-salts");
  if (bsl_store_begin(s) != 0)
    return -1;
  if (bsl_store_apply(s, cs) != 0) {
    bsl_store_rollback(s);
    return -1;
  }
  if (bsl_store_commit(s) != 0)
    return -1;
  if (puts)
    crash_point("crash-after-commit");
  (void)apply_salts(s, cs, OP_SALT_DELETE, &deletes);
  return 0;
}
