/*
 * The store's KPI statements (see store_kpi.h): reading the daily inputs of
 * KPI metrics from the aggregates, and persisting series, states, alerts and
 * adjustments.  The SQL text lives in store_kpi_sql.h; statements are
 * prepared once through the store's statement cache and reset on every path.
 */
#include "store_kpi.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "store_kpi_sql.h"
#include "store_pg_sql.h"

#define stmt bsl_store__stmt
#define run bsl_store__run
#define bind_text bsl_store__bind_text

static void bind_opt_text(sqlite3_stmt *st, int i, const char *text) {
  if (text)
    bsl_store__bind_text_copy(st, i, text);
  else
    sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, double v) {
  if (isnan(v) || isinf(v))
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_double(st, i, v);
}

/* Steps a read statement to its end, calling EACH per row; resets it. */
static int step_rows(bsl_store *s, sqlite3_stmt *st, const char *what,
                     int (*each)(sqlite3_stmt *, void *), void *ctx) {
  int rc, cb_rc = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if ((cb_rc = each(st, ctx)) != 0)
      break;
  if (cb_rc == 0 && rc != SQLITE_DONE) {
    bsl_store__fail(s, what);
    sqlite3_reset(st);
    return -1;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return cb_rc;
}

/* ---- PostgreSQL: the same statements as text parameters ---- */

typedef struct pgp {
  const char *v[24];
  char buf[24][32];
  int n;
} pgp;

static void p_opt(pgp *p, const char *t) {
  p->v[p->n++] = t;
}

static void p_text(pgp *p, const char *t) {
  p_opt(p, t ? t : "");
}

static void p_int(pgp *p, int64_t x) {
  snprintf(p->buf[p->n], sizeof p->buf[0], "%lld", (long long)x);
  p->v[p->n] = p->buf[p->n];
  p->n++;
}

static void p_real(pgp *p, double x) {
  if (isnan(x) || isinf(x)) {
    p->v[p->n++] = NULL;
    return;
  }
  snprintf(p->buf[p->n], sizeof p->buf[0], "%.17g", x);
  p->v[p->n] = p->buf[p->n];
  p->n++;
}

static int pg_exec(bsl_store *s, const char *sql, const pgp *p,
                   const char *what) {
  return bsl_store__pg_exec(s, sql, p->n, p->v, what);
}

/* the first column of the last row as an integer (RETURNING id) */
static int last_id(void *ctx, int ncol, const char *const *name,
                   const char *const *text) {
  (void)name;
  if (ncol > 0 && text[0])
    *(int64_t *)ctx = strtoll(text[0], NULL, 10);
  return 0;
}

static int pg_returning(bsl_store *s, const char *sql, const pgp *p,
                        int64_t *id, const char *what) {
  *id = 0;
  return bsl_store__pg_rows(s, sql, p->v, p->n, last_id, id, what);
}

struct days_ctx {
  bsl_kpi_day_cb cb;
  void *ctx;
  int ncol;
};

static int day_row(sqlite3_stmt *st, void *p) {
  struct days_ctx *d = p;
  const unsigned char *day = sqlite3_column_text(st, 0);
  double col[BSL_KPI_DAY_COLS];
  for (int i = 0; i < d->ncol; i++)
    col[i] = sqlite3_column_double(st, i + 1);
  return d->cb(d->ctx, day ? (const char *)day : "", col, d->ncol);
}

static int pg_day_row(void *p, int ncol, const char *const *name,
                      const char *const *text) {
  (void)name;
  struct days_ctx *d = p;
  double col[BSL_KPI_DAY_COLS];
  for (int i = 0; i < d->ncol; i++)
    col[i] = i + 1 < ncol && text[i + 1] ? strtod(text[i + 1], NULL) : 0;
  return d->cb(d->ctx, text[0] ? text[0] : "", col, d->ncol);
}

int bsl_store_kpi_has_campaigns(bsl_store *s) {
  if (s->pg)
    return 1; /* the PostgreSQL schema has every view from the start */
  sqlite3_stmt *st = stmt(s, SQL_KPI_HAS_CAMPAIGNS);
  if (!st)
    return -1;
  int rc = sqlite3_step(st);
  int has = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW)
    return bsl_store__fail(s, "looking for campaigns_daily");
  return has;
}

/* 1 when the visits of days from..to are of one site (or none), 0 when of
 * several, -1 on error. */
static int single_site(bsl_store *s, const char *from, const char *to) {
  sqlite3_stmt *st = stmt(s, SQL_KPI_SITES);
  if (!st)
    return -1;
  bind_text(st, 1, from);
  bind_text(st, 2, to);
  int rc = sqlite3_step(st);
  int sites = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_reset(st);
  if (sites < 0)
    return bsl_store__fail(s, "counting the sites of the visits");
  return sites <= 1;
}

int bsl_store_kpi_days(bsl_store *s, enum bsl_kpi_source src,
                       const char *filter_key, const char *filter_value,
                       const char *goal, const char *from, const char *to,
                       bsl_kpi_day_cb cb, void *ctx) {
  const char *sql = NULL, *pg_sql = NULL;
  int ncol = 0;
  bool whole = !filter_key || strcmp(filter_key, "path") == 0;
  switch (src) {
  case BSL_KPI_SRC_VISITS:
    sql = SQL_KPI_DAYS_VISITS, ncol = 5;
    pg_sql = PG_SQL_KPI_DAYS_VISITS;
    break;
  case BSL_KPI_SRC_PAGES:
    sql = whole ? SQL_KPI_DAYS_PAGES : SQL_KPI_DAYS_PAGES_SEGMENT;
    pg_sql = whole ? PG_SQL_KPI_DAYS_PAGES : PG_SQL_KPI_DAYS_PAGES_SEGMENT;
    ncol = 3;
    break;
  case BSL_KPI_SRC_CLICKS:
    sql = SQL_KPI_DAYS_CLICKS, ncol = 1;
    pg_sql = PG_SQL_KPI_DAYS_CLICKS;
    break;
  case BSL_KPI_SRC_CAMPAIGNS:
    if (bsl_store_kpi_has_campaigns(s) != 1) {
      snprintf(s->error, sizeof s->error,
               "%s: this database has no campaigns_daily view (campaign "
               "logs are not supported by this build)",
               s->path);
      return -1;
    }
    sql = SQL_KPI_DAYS_CAMPAIGNS, ncol = 4;
    pg_sql = PG_SQL_KPI_DAYS_CAMPAIGNS;
    break;
  }
  if (!sql) {
    snprintf(s->error, sizeof s->error, "%s: unknown KPI source", s->path);
    return -1;
  }
  struct days_ctx d = {cb, ctx, ncol};
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, from);
    p_text(&p, to);
    if (src == BSL_KPI_SRC_VISITS || src == BSL_KPI_SRC_PAGES) {
      p_opt(&p, filter_key);
      p_opt(&p, filter_key ? filter_value : NULL);
      if (src == BSL_KPI_SRC_VISITS)
        p_opt(&p, goal);
    } else {
      p_opt(&p, filter_key ? filter_value : NULL);
    }
    return bsl_store__pg_rows(s, pg_sql, p.v, p.n, pg_day_row, &d,
                              "reading KPI inputs");
  }
  bool by_channel = filter_key && strcmp(filter_key, "channel") == 0;
  if (src == BSL_KPI_SRC_VISITS && (!filter_key || by_channel)) {
    int sites = single_site(s, from, to);
    if (sites < 0)
      return -1;
    if (sites)
      sql = by_channel ? SQL_KPI_DAYS_VISITS_CHANNEL : SQL_KPI_DAYS_VISITS_SITE;
  }
  sqlite3_stmt *st = stmt(s, sql);
  if (!st)
    return -1;
  bind_text(st, 1, from);
  bind_text(st, 2, to);
  if (src == BSL_KPI_SRC_VISITS || src == BSL_KPI_SRC_PAGES) {
    bind_opt_text(st, 3, filter_key);
    bind_opt_text(st, 4, filter_key ? filter_value : NULL);
    if (src == BSL_KPI_SRC_VISITS)
      bind_opt_text(st, 5, goal);
  } else {
    bind_opt_text(st, 3, filter_key ? filter_value : NULL);
  }
  return step_rows(s, st, "reading KPI inputs", day_row, &d);
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t cap) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(out, cap, "%s", t ? (const char *)t : "");
}

struct range_ctx {
  char *first, *last;
  int64_t *newest;
};

static int pg_range_row(void *p, int ncol, const char *const *name,
                        const char *const *text) {
  (void)name;
  struct range_ctx *r = p;
  if (ncol >= 3) {
    snprintf(r->first, 11, "%s", text[0] ? text[0] : "");
    snprintf(r->last, 11, "%s", text[1] ? text[1] : "");
    if (text[2])
      *r->newest = strtoll(text[2], NULL, 10);
  } else if (ncol == 1 && text[0] &&
             (!r->first[0] || strcmp(text[0], r->first) < 0)) {
    snprintf(r->first, 11, "%s", text[0]);
  }
  return 0;
}

int bsl_store_kpi_range(bsl_store *s, bool campaigns, char first[11],
                        char last[11], int64_t *newest) {
  first[0] = last[0] = '\0';
  *newest = INT64_MIN;
  if (s->pg) {
    struct range_ctx r = {first, last, newest};
    if (bsl_store__pg_rows(s, SQL_KPI_HIT_RANGE, NULL, 0, pg_range_row, &r,
                           "reading the data range") != 0)
      return -1;
    return campaigns ? bsl_store__pg_rows(s, SQL_KPI_CAMPAIGN_RANGE, NULL, 0,
                                          pg_range_row, &r,
                                          "reading the campaign range")
                     : 0;
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_HIT_RANGE);
  if (!st)
    return -1;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    copy_col(st, 0, first, 11);
    copy_col(st, 1, last, 11);
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
      *newest = sqlite3_column_int64(st, 2);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW)
    return bsl_store__fail(s, "reading the data range");
  if (!campaigns || bsl_store_kpi_has_campaigns(s) != 1)
    return 0;
  st = stmt(s, SQL_KPI_CAMPAIGN_RANGE);
  if (!st)
    return -1;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    char c[11];
    copy_col(st, 0, c, sizeof c);
    if (!first[0] || strcmp(c, first) < 0)
      memcpy(first, c, 11);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW)
    return bsl_store__fail(s, "reading the campaign range");
  return 0;
}

int bsl_store_kpi_series_clear(bsl_store *s, const char *kpi) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, kpi);
    return pg_exec(s, "DELETE FROM kpi_values WHERE kpi = $1", &p,
                   "clearing KPI series");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_VALUES_CLEAR);
  if (!st)
    return -1;
  bind_text(st, 1, kpi);
  return run(s, st, "clearing KPI series");
}

int bsl_store_kpi_series_put(bsl_store *s, const char *kpi, const char *period,
                             const char *period_start, double value,
                             int64_t n) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, kpi);
    p_text(&p, period);
    p_text(&p, period_start);
    p_real(&p, value);
    p_int(&p, n);
    return pg_exec(s, PG_SQL_KPI_VALUE_PUT, &p, "writing KPI series");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_VALUE_PUT);
  if (!st)
    return -1;
  bind_text(st, 1, kpi);
  bind_text(st, 2, period);
  bind_text(st, 3, period_start);
  bind_real(st, 4, value);
  sqlite3_bind_int64(st, 5, n);
  return run(s, st, "writing KPI series");
}

static int pg_state_row(void *p, int ncol, const char *const *name,
                        const char *const *text) {
  (void)name;
  bsl_kpi_stored *out = p;
  if (ncol < 5)
    return 0;
  snprintf(out->state, sizeof out->state, "%s", text[0] ? text[0] : "");
  snprintf(out->since, sizeof out->since, "%s", text[1] ? text[1] : "");
  out->evaluated_unix = text[2] ? strtoll(text[2], NULL, 10) : 0;
  snprintf(out->period, sizeof out->period, "%s", text[3] ? text[3] : "");
  out->backtest = text[4] && strtoll(text[4], NULL, 10) != 0;
  return 1;
}

int bsl_store_kpi_state_get(bsl_store *s, const char *kpi,
                            bsl_kpi_stored *out) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, kpi);
    return bsl_store__pg_rows(s, SQL_KPI_STATE_GET, p.v, p.n, pg_state_row, out,
                              "reading KPI state");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_STATE_GET);
  if (!st)
    return -1;
  bind_text(st, 1, kpi);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    copy_col(st, 0, out->state, sizeof out->state);
    copy_col(st, 1, out->since, sizeof out->since);
    out->evaluated_unix = sqlite3_column_int64(st, 2);
    copy_col(st, 3, out->period, sizeof out->period);
    out->backtest = sqlite3_column_int(st, 4) != 0;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return bsl_store__fail(s, "reading KPI state");
  return rc == SQLITE_ROW;
}

int bsl_store_kpi_state_put(bsl_store *s, const bsl_kpi_status_row *r) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, r->kpi);
    p_text(&p, r->metric);
    p_text(&p, r->state);
    p_text(&p, r->since);
    p_opt(&p, r->period);
    p_real(&p, r->value);
    p_real(&p, r->last_value);
    p_real(&p, r->slope);
    p_real(&p, r->intercept);
    p_real(&p, r->p_value);
    p_int(&p, r->seasonal);
    p_int(&p, r->observations);
    p_real(&p, r->target);
    p_opt(&p, r->deadline);
    p_real(&p, r->projected);
    p_opt(&p, r->adjusted_at);
    p_real(&p, r->effect);
    p_real(&p, r->effect_p_value);
    p_text(&p, r->message);
    p_text(&p, r->evaluated_at);
    p_int(&p, r->evaluated_unix);
    p_int(&p, r->backtest);
    return pg_exec(s, PG_SQL_KPI_STATE_PUT, &p, "writing KPI status");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_STATE_PUT);
  if (!st)
    return -1;
  bind_text(st, 1, r->kpi);
  bind_text(st, 2, r->metric);
  bind_text(st, 3, r->state);
  bind_text(st, 4, r->since);
  bind_opt_text(st, 5, r->period);
  bind_real(st, 6, r->value);
  bind_real(st, 7, r->last_value);
  bind_real(st, 8, r->slope);
  bind_real(st, 9, r->intercept);
  bind_real(st, 10, r->p_value);
  sqlite3_bind_int(st, 11, r->seasonal);
  sqlite3_bind_int64(st, 12, r->observations);
  bind_real(st, 13, r->target);
  bind_opt_text(st, 14, r->deadline);
  bind_real(st, 15, r->projected);
  bind_opt_text(st, 16, r->adjusted_at);
  bind_real(st, 17, r->effect);
  bind_real(st, 18, r->effect_p_value);
  bind_text(st, 19, r->message);
  bind_text(st, 20, r->evaluated_at);
  sqlite3_bind_int64(st, 21, r->evaluated_unix);
  sqlite3_bind_int(st, 22, r->backtest);
  return run(s, st, "writing KPI status");
}

int bsl_store_kpi_reset(bsl_store *s, const char *kpi, const char *at,
                        int *closed) {
  *closed = 0;
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, kpi);
    int64_t id;
    if (pg_exec(s, SQL_KPI_RESET_VALUES, &p, "clearing KPI series") != 0 ||
        pg_exec(s, SQL_KPI_RESET_STATE, &p, "clearing KPI status") != 0)
      return -1;
    p_text(&p, at);
    if (pg_returning(s, SQL_KPI_RESET_ALERTS, &p, &id, "closing alerts") != 0)
      return -1;
    *closed = id != 0;
    p.n = 1;
    return pg_exec(s, SQL_KPI_RESET_DELIVERIES, &p,
                   "cancelling alert deliveries");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_RESET_VALUES);
  if (!st)
    return -1;
  bind_text(st, 1, kpi);
  if (run(s, st, "clearing KPI series") != 0)
    return -1;
  if (!(st = stmt(s, SQL_KPI_RESET_STATE)))
    return -1;
  bind_text(st, 1, kpi);
  if (run(s, st, "clearing KPI status") != 0)
    return -1;
  if (!(st = stmt(s, SQL_KPI_RESET_ALERTS)))
    return -1;
  bind_text(st, 1, kpi);
  bind_text(st, 2, at);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    *closed = 1;
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return bsl_store__fail(s, "closing alerts");
  if (!(st = stmt(s, SQL_KPI_RESET_DELIVERIES)))
    return -1;
  bind_text(st, 1, kpi);
  return run(s, st, "cancelling alert deliveries");
}

int bsl_store_kpi_delivery_add(bsl_store *s, int64_t alert_id, const char *kpi,
                               const char *event, const char *payload,
                               int64_t now) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_int(&p, alert_id);
    p_text(&p, kpi);
    p_text(&p, event);
    p_text(&p, payload);
    p_int(&p, now);
    return pg_exec(s, SQL_KPI_DELIVERY_ADD, &p, "queueing alert delivery");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_DELIVERY_ADD);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, alert_id);
  bind_text(st, 2, kpi);
  bind_text(st, 3, event);
  bind_text(st, 4, payload);
  sqlite3_bind_int64(st, 5, now);
  return run(s, st, "queueing alert delivery");
}

struct delivery_ctx {
  bsl_kpi_delivery_cb cb;
  void *ctx;
};

static const char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : "";
}

static int delivery_row(sqlite3_stmt *st, void *p) {
  struct delivery_ctx *c = p;
  bsl_kpi_delivery d = {.delivery_id = sqlite3_column_int64(st, 0),
                        .alert_id = sqlite3_column_int64(st, 1),
                        .kpi = col_text(st, 2),
                        .event = col_text(st, 3),
                        .payload = col_text(st, 4),
                        .attempts = sqlite3_column_int(st, 5)};
  return c->cb(c->ctx, &d);
}

static int pg_delivery_row(void *p, int ncol, const char *const *name,
                           const char *const *text) {
  (void)name;
  struct delivery_ctx *c = p;
  if (ncol < 6)
    return 0;
  bsl_kpi_delivery d = {.delivery_id = strtoll(text[0], NULL, 10),
                        .alert_id = strtoll(text[1], NULL, 10),
                        .kpi = text[2] ? text[2] : "",
                        .event = text[3] ? text[3] : "",
                        .payload = text[4] ? text[4] : "",
                        .attempts = atoi(text[5])};
  return c->cb(c->ctx, &d);
}

int bsl_store_kpi_delivery_due(bsl_store *s, int64_t now, bool all, int limit,
                               bsl_kpi_delivery_cb cb, void *ctx) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_int(&p, now);
    p_int(&p, all);
    p_int(&p, limit);
    struct delivery_ctx c = {cb, ctx};
    return bsl_store__pg_rows(s, PG_SQL_KPI_DELIVERY_DUE, p.v, p.n,
                              pg_delivery_row, &c,
                              "reading pending alert deliveries");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_DELIVERY_DUE);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int(st, 2, all);
  sqlite3_bind_int(st, 3, limit);
  struct delivery_ctx c = {cb, ctx};
  return step_rows(s, st, "reading pending alert deliveries", delivery_row, &c);
}

int bsl_store_kpi_delivery_claim(bsl_store *s, int64_t id, int attempts,
                                 int64_t next, int64_t lease) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_int(&p, id);
    p_int(&p, attempts);
    p_int(&p, next);
    p_int(&p, lease);
    int64_t got;
    if (pg_returning(s, PG_SQL_KPI_DELIVERY_CLAIM, &p, &got,
                     "starting alert delivery") != 0)
      return -1;
    return got != 0;
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_DELIVERY_CLAIM);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int(st, 2, attempts);
  sqlite3_bind_int64(st, 3, next);
  sqlite3_bind_int64(st, 4, lease);
  if (run(s, st, "starting alert delivery") != 0)
    return -1;
  return sqlite3_changes(s->db) > 0;
}

int bsl_store_kpi_delivery_done(bsl_store *s, int64_t id, const char *status,
                                const char *delivered_at, const char *error) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_int(&p, id);
    p_text(&p, status);
    p_opt(&p, delivered_at);
    p_opt(&p, error);
    return pg_exec(s, SQL_KPI_DELIVERY_DONE, &p, "recording alert delivery");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_DELIVERY_DONE);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, id);
  bind_text(st, 2, status);
  bind_opt_text(st, 3, delivered_at);
  bind_opt_text(st, 4, error);
  return run(s, st, "recording alert delivery");
}

int bsl_store_kpi_alert_resolve(bsl_store *s, const char *kpi, const char *at,
                                const char *state, int64_t *alert_id) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, kpi);
    p_text(&p, at);
    p_text(&p, state);
    return pg_returning(s, SQL_KPI_ALERT_RESOLVE, &p, alert_id,
                        "resolving alert");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_ALERT_RESOLVE);
  if (!st)
    return -1;
  bind_text(st, 1, kpi);
  bind_text(st, 2, at);
  bind_text(st, 3, state);
  *alert_id = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    *alert_id = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return bsl_store__fail(s, "resolving alert");
  return 0;
}

int bsl_store_kpi_alert_raise(bsl_store *s, const char *kpi, const char *state,
                              const char *previous_state, const char *at,
                              const char *message, int64_t *alert_id) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, kpi);
    p_text(&p, state);
    p_text(&p, previous_state);
    p_text(&p, at);
    p_text(&p, message);
    return pg_returning(s, PG_SQL_KPI_ALERT_RAISE, &p, alert_id,
                        "raising alert");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_ALERT_RAISE);
  if (!st)
    return -1;
  bind_text(st, 1, kpi);
  bind_text(st, 2, state);
  bind_text(st, 3, previous_state);
  bind_text(st, 4, at);
  bind_text(st, 5, message);
  if (run(s, st, "raising alert") != 0)
    return -1;
  *alert_id = sqlite3_last_insert_rowid(s->db);
  return 0;
}

int bsl_store_kpi_adjust_add(bsl_store *s, const char *kpi, int64_t at,
                             const char *note, int64_t *adjustment_id) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, kpi);
    p_int(&p, at);
    p_text(&p, note);
    return pg_returning(s, PG_SQL_KPI_ADJUST_ADD, &p, adjustment_id,
                        "recording adjustment");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_ADJUST_ADD);
  if (!st)
    return -1;
  bind_text(st, 1, kpi);
  sqlite3_bind_int64(st, 2, at);
  bind_text(st, 3, note);
  if (run(s, st, "recording adjustment") != 0)
    return -1;
  *adjustment_id = sqlite3_last_insert_rowid(s->db);
  return 0;
}

struct adjust_ctx {
  bsl_kpi_adjust_cb cb;
  void *ctx;
};

static int adjust_row(sqlite3_stmt *st, void *p) {
  struct adjust_ctx *a = p;
  const unsigned char *at = sqlite3_column_text(st, 1);
  const unsigned char *note = sqlite3_column_text(st, 3);
  return a->cb(a->ctx, sqlite3_column_int64(st, 0), at ? (const char *)at : "",
               sqlite3_column_int64(st, 2), note ? (const char *)note : "");
}

static int pg_adjust_row(void *p, int ncol, const char *const *name,
                         const char *const *text) {
  (void)name;
  struct adjust_ctx *a = p;
  if (ncol < 4)
    return 0;
  return a->cb(a->ctx, strtoll(text[0], NULL, 10), text[1] ? text[1] : "",
               strtoll(text[2], NULL, 10), text[3] ? text[3] : "");
}

int bsl_store_kpi_adjust_list(bsl_store *s, const char *kpi, int64_t until,
                              bsl_kpi_adjust_cb cb, void *ctx) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_text(&p, kpi);
    p_int(&p, until);
    struct adjust_ctx a = {cb, ctx};
    return bsl_store__pg_rows(s, SQL_KPI_ADJUST_LIST, p.v, p.n, pg_adjust_row,
                              &a, "reading adjustments");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_ADJUST_LIST);
  if (!st)
    return -1;
  bind_text(st, 1, kpi);
  sqlite3_bind_int64(st, 2, until);
  struct adjust_ctx a = {cb, ctx};
  return step_rows(s, st, "reading adjustments", adjust_row, &a);
}

static double col_real(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL
             ? NAN
             : sqlite3_column_double(st, i);
}

struct adjustment_ctx {
  bsl_kpi_adjustment_cb cb;
  void *ctx;
  bool full; /* the row has effect columns */
};

static int adjustment_row(sqlite3_stmt *st, void *p) {
  struct adjustment_ctx *a = p;
  bsl_kpi_adjustment_row row = {.id = a->full ? sqlite3_column_int64(st, 0) : 0,
                                .effect = NAN,
                                .effect_p_value = NAN};
  int c = a->full ? 1 : 0;
  row.kpi = col_text(st, c);
  row.at = col_text(st, c + 1);
  row.note = col_text(st, c + 2);
  if (a->full) {
    row.effect = col_real(st, 4);
    row.effect_p_value = col_real(st, 5);
    row.n_after = sqlite3_column_int64(st, 6);
  }
  return a->cb(a->ctx, &row);
}

int bsl_store_kpi_adjust_all(bsl_store *s, const char *kpi,
                             bsl_kpi_adjustment_cb cb, void *ctx) {
  sqlite3_stmt *st = stmt(s, SQL_KPI_ADJUST_ALL);
  if (!st)
    return -1;
  bind_opt_text(st, 1, kpi);
  struct adjustment_ctx a = {cb, ctx, true};
  return step_rows(s, st, "reading adjustments", adjustment_row, &a);
}

int bsl_store_kpi_adjust_remove(bsl_store *s, int64_t id,
                                bsl_kpi_adjustment_cb cb, void *ctx) {
  sqlite3_stmt *st = stmt(s, SQL_KPI_ADJUST_REMOVE);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, id);
  struct adjustment_ctx a = {cb, ctx, false};
  int rows = 0, rc;
  /* RETURNING: the delete is done once the statement has run to its end */
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    rows++;
    adjustment_row(st, &a);
  }
  if (rc != SQLITE_DONE) {
    bsl_store__fail(s, "removing adjustment");
    sqlite3_reset(st);
    return -1;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rows > 0;
}

int bsl_store_kpi_adjust_effect(bsl_store *s, int64_t id, double effect,
                                double p_value, double mean_before,
                                double mean_after, int64_t n_before,
                                int64_t n_after) {
  if (s->pg) {
    pgp p = {.n = 0};
    p_int(&p, id);
    p_real(&p, effect);
    p_real(&p, p_value);
    p_real(&p, mean_before);
    p_real(&p, mean_after);
    p_int(&p, n_before);
    p_int(&p, n_after);
    return pg_exec(s, SQL_KPI_ADJUST_EFFECT, &p, "recording adjustment effect");
  }
  sqlite3_stmt *st = stmt(s, SQL_KPI_ADJUST_EFFECT);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, id);
  bind_real(st, 2, effect);
  bind_real(st, 3, p_value);
  bind_real(st, 4, mean_before);
  bind_real(st, 5, mean_after);
  sqlite3_bind_int64(st, 6, n_before);
  sqlite3_bind_int64(st, 7, n_after);
  return run(s, st, "recording adjustment effect");
}
