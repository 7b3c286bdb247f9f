/*
 * All SQL of the campaign-log feature (statements in store_campaign_sql.h):
 * additive campaign counters, per-recipient unique counts and the saved
 * state of the machine-activity rule.
 */
#include "store_campaign.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_campaign_sql.h"
#include "store_internal.h"
#include "store_pg_sql.h"

/* ---- PostgreSQL: the same rows, the host's (store_pg_sql.h) ---- */

static void num(char buf[24], int64_t v) {
  snprintf(buf, 24, "%lld", (long long)v);
}

static int pg_campaign_add(bsl_store *s, const char *day, const char *campaign,
                           const bsl_campaign_counts *d) {
  const int64_t v[] = {d->sent,         d->delivered,     d->opens,
                       d->clicks,       d->bounces,       d->unsubscribes,
                       d->spend_micros, d->machine_opens, d->machine_clicks};
  char b[9][24];
  const char *vals[12] = {bsl_store__pg_host(s), day, campaign};
  for (int i = 0; i < 9; i++) {
    num(b[i], v[i]);
    vals[3 + i] = b[i];
  }
  return bsl_store__pg_exec(s, PG_SQL_CAMPAIGN_ADD, 12, vals,
                            "adding campaign counts");
}

static int pg_recipient_add(bsl_store *s, const char *day, const char *campaign,
                            int64_t recipient, int64_t opens, int64_t clicks) {
  char b[3][24];
  num(b[0], recipient);
  num(b[1], opens);
  num(b[2], clicks);
  const char *vals[] = {bsl_store__pg_host(s), day, campaign, b[0], b[1], b[2]};
  return bsl_store__pg_exec(s, PG_SQL_CAMPAIGN_RECIPIENT_ADD, 6, vals,
                            "adding campaign recipient");
}

static int pg_state_put(bsl_store *s, const bsl_campaign_state_row *r) {
  char b[6][24];
  num(b[0], r->recipient);
  num(b[1], r->delivered_at);
  num(b[2], r->click_at);
  num(b[3], r->click_url);
  num(b[4], r->click_human);
  num(b[5], r->seen);
  const char *vals[] = {bsl_store__pg_host(s),
                        r->campaign,
                        b[0],
                        r->delivered_at == INT64_MIN ? NULL : b[1],
                        r->click_at == INT64_MIN ? NULL : b[2],
                        b[3],
                        r->click_day ? r->click_day : "",
                        b[4],
                        b[5]};
  return bsl_store__pg_exec(s, PG_SQL_CAMPAIGN_STATE_PUT, 9, vals,
                            "saving campaign state");
}

static int pg_state_delete(bsl_store *s, const char *campaign,
                           int64_t recipient) {
  char b[24];
  num(b, recipient);
  const char *vals[] = {bsl_store__pg_host(s), campaign, b};
  return bsl_store__pg_exec(s, PG_SQL_CAMPAIGN_STATE_DELETE, 3, vals,
                            "deleting campaign state");
}

typedef struct pg_load {
  void (*cb)(void *ctx, const bsl_campaign_state_row *r);
  void *ctx;
} pg_load;

static void pg_state_row(void *arg, int ncols, const char *const *c,
                         const bool *null) {
  (void)ncols;
  pg_load *l = arg;
  bsl_campaign_state_row r = {
      .campaign = c[0],
      .recipient = strtoll(c[1], NULL, 10),
      .delivered_at = null[2] ? INT64_MIN : strtoll(c[2], NULL, 10),
      .click_at = null[3] ? INT64_MIN : strtoll(c[3], NULL, 10),
      .click_url = strtoll(c[4], NULL, 10),
      .click_day = c[5],
      .click_human = strtoll(c[6], NULL, 10) != 0,
      .seen = strtoll(c[7], NULL, 10),
  };
  l->cb(l->ctx, &r);
}

int bsl_store_campaign_add(bsl_store *s, const char *day, const char *campaign,
                           const bsl_campaign_counts *d) {
  if (s->pg)
    return pg_campaign_add(s, day, campaign, d);
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_CAMPAIGN_ADD);
  if (!st)
    return -1;
  bsl_store__bind_text(st, 1, day);
  bsl_store__bind_text(st, 2, campaign);
  const int64_t v[] = {d->sent,         d->delivered,     d->opens,
                       d->clicks,       d->bounces,       d->unsubscribes,
                       d->spend_micros, d->machine_opens, d->machine_clicks};
  for (int i = 0; i < (int)(sizeof v / sizeof v[0]); i++)
    sqlite3_bind_int64(st, 3 + i, v[i]);
  return bsl_store__run(s, st, "adding campaign counts");
}

int bsl_store_campaign_recipient_add(bsl_store *s, const char *day,
                                     const char *campaign, int64_t recipient,
                                     int64_t opens, int64_t clicks) {
  if (s->pg)
    return pg_recipient_add(s, day, campaign, recipient, opens, clicks);
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_CAMPAIGN_RECIPIENT_ADD);
  if (!st)
    return -1;
  bsl_store__bind_text(st, 1, day);
  bsl_store__bind_text(st, 2, campaign);
  sqlite3_bind_int64(st, 3, recipient);
  sqlite3_bind_int64(st, 4, opens);
  sqlite3_bind_int64(st, 5, clicks);
  return bsl_store__run(s, st, "adding campaign recipient");
}

static void bind_time(sqlite3_stmt *st, int i, int64_t t) {
  if (t == INT64_MIN)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, t);
}

int bsl_store_campaign_state_put(bsl_store *s,
                                 const bsl_campaign_state_row *r) {
  if (s->pg)
    return pg_state_put(s, r);
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_CAMPAIGN_STATE_PUT);
  if (!st)
    return -1;
  bsl_store__bind_text(st, 1, r->campaign);
  sqlite3_bind_int64(st, 2, r->recipient);
  bind_time(st, 3, r->delivered_at);
  bind_time(st, 4, r->click_at);
  sqlite3_bind_int64(st, 5, r->click_url);
  bsl_store__bind_text(st, 6, r->click_day);
  sqlite3_bind_int(st, 7, r->click_human);
  sqlite3_bind_int64(st, 8, r->seen);
  return bsl_store__run(s, st, "saving campaign state");
}

int bsl_store_campaign_state_delete(bsl_store *s, const char *campaign,
                                    int64_t recipient) {
  if (s->pg)
    return pg_state_delete(s, campaign, recipient);
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_CAMPAIGN_STATE_DELETE);
  if (!st)
    return -1;
  bsl_store__bind_text(st, 1, campaign);
  sqlite3_bind_int64(st, 2, recipient);
  return bsl_store__run(s, st, "deleting campaign state");
}

static int64_t column_time(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL
             ? INT64_MIN
             : sqlite3_column_int64(st, i);
}

int bsl_store_campaign_state_load(bsl_store *s,
                                  void (*cb)(void *ctx,
                                             const bsl_campaign_state_row *r),
                                  void *ctx) {
  if (s->pg) {
    pg_load l = {cb, ctx};
    return bsl_store__pg_campaign_state_load(s, pg_state_row, &l);
  }
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_CAMPAIGN_STATE_LOAD);
  if (!st)
    return -1;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *camp = (const char *)sqlite3_column_text(st, 0);
    const char *day = (const char *)sqlite3_column_text(st, 5);
    bsl_campaign_state_row r = {
        .campaign = camp ? camp : "",
        .recipient = sqlite3_column_int64(st, 1),
        .delivered_at = column_time(st, 2),
        .click_at = column_time(st, 3),
        .click_url = sqlite3_column_int64(st, 4),
        .click_day = day ? day : "",
        .click_human = sqlite3_column_int(st, 6) != 0,
        .seen = sqlite3_column_int64(st, 7),
    };
    cb(ctx, &r);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return bsl_store__fail(s, "loading campaign state");
  return 0;
}

int bsl_store_campaign_key(bsl_store *s, uint8_t key[16]) {
  int64_t half[2];
  if (bsl_store_begin(s) != 0)
    return -1;
  if (bsl_store_meta_get(s, "campaign_key_0", 0, &half[0]) != 0 ||
      bsl_store_meta_get(s, "campaign_key_1", 0, &half[1]) != 0)
    goto out_rollback;
  if (half[0] == 0 && half[1] == 0) {
    do
      randombytes_buf(half, sizeof half);
    while (half[0] == 0 && half[1] == 0);
    if (bsl_store_meta_set(s, "campaign_key_0", half[0]) != 0 ||
        bsl_store_meta_set(s, "campaign_key_1", half[1]) != 0)
      goto out_rollback;
  }
  if (bsl_store_commit(s) != 0)
    goto out_rollback;
  memcpy(key, half, 16);
  return 0;
out_rollback:
  bsl_store_rollback(s);
  return -1;
}
