/*
 * `boussole report`: gathers what the audience did over a date range from
 * the analyst views (through store_report.c) into a bsl_report, and renders
 * it as terminal text or JSON; the HTML page is html.c's.
 *
 * The report reads views only, never internal tables, so it shows exactly
 * what an analyst querying the database would find, and it degrades section
 * by section when a database lacks a later feature's views.
 */
#include "report.h"
#include "calendar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "kpi.h"
#include "metrics.h"
#include "stats.h"
#include "store_report.h"

static const char *const CHANNEL_NAMES[BSL_CH_COUNT] = {
    "organic_search", "direct", "referral", "social",
    "email",          "paid",   "campaign", "other"};

const char *bsl_report_channel_name(int ch) {
  return ch >= 0 && ch < BSL_CH_COUNT ? CHANNEL_NAMES[ch] : "other";
}

static int channel_index(const char *name) {
  for (int i = 0; i < BSL_CH_OTHER; i++)
    if (name && strcmp(name, CHANNEL_NAMES[i]) == 0)
      return i;
  return BSL_CH_OTHER;
}

/* ---- days: config/calendar.c's, the one day-cut ---- */

int64_t bsl_report_parse_day(const char *s, bool *ok) {
  int64_t day;
  *ok = bsl_day_parse(s, &day) == 0;
  return *ok ? day : -1;
}

void bsl_report_format_day(int64_t z, char out[11]) {
  bsl_day_format(z, out);
}

/* ---- number formatting ---- */

void bsl_report_format_count(double v, char *out, size_t cap) {
  if (isnan(v) || isinf(v)) {
    snprintf(out, cap, "-");
    return;
  }
  char digits[32];
  snprintf(digits, sizeof digits, "%.0f", fabs(v) < 1e18 ? fabs(v) : 1e18);
  size_t n = strlen(digits), o = 0;
  char buf[48];
  if (v <= -0.5)
    buf[o++] = '-';
  for (size_t i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0)
      buf[o++] = ',';
    buf[o++] = digits[i];
  }
  buf[o] = '\0';
  snprintf(out, cap, "%s", buf);
}

void bsl_report_format_compact(double v, char *out, size_t cap) {
  double a = fabs(v);
  if (isnan(v) || isinf(v))
    snprintf(out, cap, "-");
  else if (a < 10000)
    bsl_report_format_count(v, out, cap);
  else if (a < 999500)
    snprintf(out, cap, "%.*fk", a < 99950 ? 1 : 0, v / 1e3);
  else if (a < 999.5e6)
    snprintf(out, cap, "%.*fM", a < 99.95e6 ? 1 : 0, v / 1e6);
  else
    snprintf(out, cap, "%.1fG", v / 1e9);
}

void bsl_report_format_percent(double v, char *out, size_t cap) {
  if (isnan(v) || isinf(v))
    snprintf(out, cap, "-");
  else
    snprintf(out, cap, "%.1f%%", v * 100.0);
}

void bsl_report_format_change(double cur, double prev, char *out, size_t cap) {
  if (isnan(cur) || isnan(prev) || (cur == 0 && prev == 0)) {
    snprintf(out, cap, "-");
    return;
  }
  if (prev == 0) {
    snprintf(out, cap, "new");
    return;
  }
  double pct = (cur - prev) / fabs(prev) * 100.0;
  if (fabs(pct) < 0.05)
    snprintf(out, cap, "0.0%%");
  else if (fabs(pct) >= 1000)
    snprintf(out, cap, "%+.0fx", cur / prev);
  else
    snprintf(out, cap, "%+.1f%%", pct);
}

void bsl_report_format_points(double cur, double prev, char *out, size_t cap) {
  if (isnan(cur) || isnan(prev))
    snprintf(out, cap, "-");
  else if (fabs(cur - prev) < 0.0005)
    snprintf(out, cap, "0.0 pt");
  else
    snprintf(out, cap, "%+.1f pt", (cur - prev) * 100.0);
}

const char *bsl_report_status_text(int status) {
  static const struct {
    int code;
    const char *text;
  } T[] = {{200, "OK"},
           {201, "Created"},
           {204, "No Content"},
           {206, "Partial Content"},
           {301, "Moved Permanently"},
           {302, "Found"},
           {303, "See Other"},
           {304, "Not Modified"},
           {307, "Temporary Redirect"},
           {308, "Permanent Redirect"},
           {400, "Bad Request"},
           {401, "Unauthorized"},
           {403, "Forbidden"},
           {404, "Not Found"},
           {405, "Method Not Allowed"},
           {408, "Request Timeout"},
           {410, "Gone"},
           {413, "Content Too Large"},
           {414, "URI Too Long"},
           {429, "Too Many Requests"},
           {444, "No Response (nginx)"},
           {499, "Client Closed Request (nginx)"},
           {500, "Internal Server Error"},
           {502, "Bad Gateway"},
           {503, "Service Unavailable"},
           {504, "Gateway Timeout"}};
  for (size_t i = 0; i < sizeof T / sizeof *T; i++)
    if (T[i].code == status)
      return T[i].text;
  return "";
}

size_t bsl_report_sparkline(const double *v, size_t n, size_t width, char *out,
                            size_t cap) {
  static const char *const BARS[8] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                      "\u2585", "\u2586", "\u2587", "\u2588"};
  if (cap == 0)
    return 0;
  out[0] = '\0';
  if (n == 0 || width == 0)
    return 0;
  size_t cells = n < width ? n : width;
  double lo = INFINITY, hi = -INFINITY;
  /* first pass: bucket means into a small fixed array chunk by chunk */
  double b[256];
  if (cells > 256)
    cells = 256;
  for (size_t c = 0; c < cells; c++) {
    size_t a = c * n / cells, z = (c + 1) * n / cells;
    double sum = 0;
    size_t k = 0;
    for (size_t i = a; i < z; i++)
      if (!isnan(v[i]) && !isinf(v[i]))
        sum += v[i], k++;
    b[c] = k ? sum / (double)k : NAN;
    if (k) {
      lo = b[c] < lo ? b[c] : lo;
      hi = b[c] > hi ? b[c] : hi;
    }
  }
  size_t o = 0, drawn = 0;
  for (size_t c = 0; c < cells; c++) {
    const char *g;
    if (isnan(b[c]))
      g = " ";
    else if (hi - lo <= 0)
      g = hi == 0 ? BARS[0] : BARS[3];
    else
      g = BARS[(int)lrint((b[c] - lo) / (hi - lo) * 7.0)];
    size_t k = strlen(g);
    if (o + k + 1 > cap)
      break;
    memcpy(out + o, g, k);
    o += k, drawn++;
  }
  out[o] = '\0';
  return drawn;
}

/* ---- gathering ---- */

struct gather {
  bsl_report *r;
  int64_t day0;      /* prev_from as days */
  bool prev;         /* second pass of a cur/prev query */
  bsl_report_kpi *k; /* the KPI being read */
  size_t k_index;    /* rows of its series seen */
  int64_t to_day;
  bsl_zone zone; /* the configured one */
  bool oom;
};

static char *dup(const char *s) {
  char *d = strdup(s ? s : "");
  return d;
}

static double num0(const bsl_report_row *row, int i) {
  return i < row->ncol && !isnan(row->num[i]) ? row->num[i] : 0;
}

static const char *text0(const bsl_report_row *row, int i) {
  return i < row->ncol && row->text[i] ? row->text[i] : "";
}

static int col(const bsl_report_row *row, const char *name) {
  for (int i = 0; i < row->ncol; i++)
    if (strcmp(row->name[i], name) == 0)
      return i;
  return -1;
}

/* Grows *ARR (of *N elements of SIZE) by one zeroed element. */
static void *push(void *arr_p, size_t *n, size_t size) {
  void **arr = arr_p;
  void *grown = realloc(*arr, (*n + 1) * size);
  if (!grown)
    return NULL;
  *arr = grown;
  void *e = (char *)grown + *n * size;
  memset(e, 0, size);
  (*n)++;
  return e;
}

static bsl_report_day *day_slot(struct gather *g, const char *day) {
  bool ok;
  int64_t d = bsl_report_parse_day(day, &ok);
  if (!ok)
    return NULL;
  int64_t i = d - g->day0;
  bsl_report *r = g->r;
  if (i < 0 || i >= 2 * (int64_t)r->n_days)
    return NULL;
  return i < r->n_days ? &r->prev_days[i] : &r->days[i - r->n_days];
}

static int on_range(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  snprintf(g->r->data_first, sizeof g->r->data_first, "%s", text0(row, 0));
  snprintf(g->r->data_last, sizeof g->r->data_last, "%s", text0(row, 1));
  free(g->r->sites);
  if (!(g->r->sites = dup(text0(row, 2))))
    g->oom = true;
  return 0;
}

static int on_day(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report_day *d = day_slot(g, text0(row, 0));
  if (!d)
    return 0;
  d->t.hits = num0(row, 1);
  d->t.bot_hits = num0(row, 2);
  d->t.pageviews = num0(row, 3);
  d->t.visits = num0(row, 4);
  d->t.visitors = num0(row, 5);
  d->t.bounces = num0(row, 6);
  return 0;
}

static int on_day_channel(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report_day *d = day_slot(g, text0(row, 0));
  if (!d)
    return 0;
  d->channel_visits[channel_index(text0(row, 1))] += num0(row, 2);
  d->t.conversions += num0(row, 3);
  return 0;
}

static int on_channel(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  const char *name = text0(row, 0);
  if (g->prev) {
    for (size_t i = 0; i < r->n_channels; i++)
      if (strcmp(r->channels[i].name, name) == 0) {
        r->channels[i].prev_visits = num0(row, 1);
        r->channels[i].prev_conversions = num0(row, 5);
      }
    return 0;
  }
  bsl_report_channel *c = push(&r->channels, &r->n_channels, sizeof *c);
  if (!c || !(c->name = dup(name)))
    return g->oom = true, 1;
  c->visits = num0(row, 1);
  c->visitors = num0(row, 2);
  c->pageviews = num0(row, 3);
  c->bounces = num0(row, 4);
  c->conversions = num0(row, 5);
  return 0;
}

static int on_source(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  bsl_report_source *s = push(&r->sources, &r->n_sources, sizeof *s);
  if (!s || !(s->source = dup(text0(row, 0))) ||
      !(s->medium = dup(text0(row, 1))))
    return g->oom = true, 1;
  s->visits = num0(row, 2);
  s->conversions = num0(row, 3);
  return 0;
}

static int on_page(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  bsl_report_page *p = push(&r->pages, &r->n_pages, sizeof *p);
  if (!p || !(p->path = dup(text0(row, 0))))
    return g->oom = true, 1;
  p->pageviews = num0(row, 1);
  p->entries = num0(row, 2);
  p->avg_scroll = num0(row, 3);
  p->scroll_75 = num0(row, 4);
  return 0;
}

static int on_click(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  bsl_report_click *c = push(&r->clicks, &r->n_clicks, sizeof *c);
  if (!c || !(c->target = dup(text0(row, 0))) ||
      !(c->path = dup(text0(row, 1))))
    return g->oom = true, 1;
  c->clicks = num0(row, 2);
  return 0;
}

static int on_goal(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  const char *name = text0(row, 0);
  if (g->prev) {
    for (size_t i = 0; i < r->n_goals; i++)
      if (strcmp(r->goals[i].goal, name) == 0) {
        r->goals[i].prev_conversions = num0(row, 1);
        r->goals[i].prev_visits = num0(row, 2);
      }
    return 0;
  }
  bsl_report_goal *x = push(&r->goals, &r->n_goals, sizeof *x);
  if (!x || !(x->goal = dup(name)))
    return g->oom = true, 1;
  x->conversions = num0(row, 1);
  x->visits = num0(row, 2);
  return 0;
}

static int on_campaign(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  bsl_report_campaign *c = push(&r->campaigns, &r->n_campaigns, sizeof *c);
  if (!c || !(c->campaign = dup(text0(row, 0))))
    return g->oom = true, 1;
  if (r->has_campaign_logs) {
    c->sent = num0(row, 1);
    c->delivered = num0(row, 2);
    c->opens = num0(row, 3);
    c->clicks = num0(row, 4);
    c->bounces = num0(row, 5);
    c->unsubscribes = num0(row, 6);
    c->spend = num0(row, 7);
    c->visits = num0(row, 8);
    c->conversions = num0(row, 9);
    c->has_log = c->sent > 0 || c->delivered > 0 || c->opens > 0 ||
                 c->clicks > 0 || c->spend > 0;
  } else {
    c->visits = num0(row, 1);
    c->conversions = num0(row, 2);
  }
  return 0;
}

static int on_status(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  bsl_report_status *x = push(&r->statuses, &r->n_statuses, sizeof *x);
  if (!x)
    return g->oom = true, 1;
  x->status = (int)num0(row, 0);
  x->hits = num0(row, 1);
  x->bot_hits = num0(row, 2);
  return 0;
}

static int on_not_found(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  bsl_report_not_found *x = push(&r->not_found, &r->n_not_found, sizeof *x);
  if (!x || !(x->path = dup(text0(row, 0))))
    return g->oom = true, 1;
  x->hits = num0(row, 1);
  return 0;
}

static int on_device(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  bsl_report_device *d = push(&r->devices, &r->n_devices, sizeof *d);
  if (!d || !(d->device = dup(text0(row, 0))))
    return g->oom = true, 1;
  d->visits = num0(row, 1);
  d->bounces = num0(row, 2);
  d->conversions = num0(row, 3);
  return 0;
}

static int on_quarter(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  if (!(fabs(row->num[0]) < 1e12)) /* NULL, or no time a log can hold */
    return 0;
  int64_t t = (int64_t)row->num[0] * 900;
  g->r->hours[bsl_zone_hour_of(&g->zone, t)] += num0(row, 1);
  return 0;
}

static bool state_flagged(const char *s) {
  return s && (strcmp(s, "stalled") == 0 || strcmp(s, "declining") == 0 ||
               strcmp(s, "off_track") == 0 || strcmp(s, "no_data") == 0);
}

static int on_kpi(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report *r = g->r;
  bsl_report_kpi *k = push(&r->kpis, &r->n_kpis, sizeof *k);
  if (!k)
    return g->oom = true, 1;
#define KTEXT(field, name)                                                     \
  do {                                                                         \
    int i_ = col(row, name);                                                   \
    if (!(k->field = dup(i_ >= 0 ? row->text[i_] : NULL)))                     \
      return g->oom = true, 1;                                                 \
  } while (0)
#define KNUM(field, name)                                                      \
  do {                                                                         \
    int i_ = col(row, name);                                                   \
    k->field = i_ >= 0 ? row->num[i_] : NAN;                                   \
  } while (0)
  KTEXT(name, "kpi");
  KTEXT(metric, "metric");
  KTEXT(state, "state");
  KTEXT(since, "since");
  KTEXT(deadline, "deadline");
  KTEXT(message, "message");
  KTEXT(evaluated_at, "evaluated_at");
  KTEXT(period, "period");
  KNUM(value, "value");
  KNUM(slope, "slope");
  KNUM(intercept, "intercept");
  KNUM(p_value, "p_value");
  KNUM(target, "target");
  KNUM(projected, "projected");
  KNUM(effect, "effect");
  KNUM(effect_p_value, "effect_p_value");
#undef KTEXT
#undef KNUM
  /* a projection recorded by an older build may lie outside what the
   * metric can be */
  k->projected = bsl_metric_clamp(k->metric, k->projected);
  int f = col(row, "flagged");
  k->flagged = f >= 0 && !isnan(row->num[f]) ? row->num[f] != 0
                                             : state_flagged(k->state);
  return 0;
}

static int on_kpi_point(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report_kpi *k = g->k;
  size_t t = g->k_index++;
  bool ok;
  int64_t start = bsl_report_parse_day(text0(row, 1), &ok);
  if (!ok || start > g->to_day)
    return 0;
  if (k->n_pts == BSL_REPORT_KPI_PERIODS) {
    memmove(k->pts, k->pts + 1, (k->n_pts - 1) * sizeof *k->pts);
    k->n_pts--;
  }
  bsl_report_kpi_point *p = push(&k->pts, &k->n_pts, sizeof *p);
  if (!p)
    return g->oom = true, 1;
  snprintf(p->period, sizeof p->period, "%s", text0(row, 0));
  snprintf(p->start, sizeof p->start, "%s", text0(row, 1));
  p->value = row->num[2];
  p->n = num0(row, 3);
  p->t = t;
  return 0;
}

static int on_kpi_adjustment(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  bsl_report_kpi *k = g->k;
  bsl_report_adjustment *a = push(&k->adj, &k->n_adj, sizeof *a);
  if (!a || !(a->at = dup(text0(row, 0))) || !(a->note = dup(text0(row, 1))))
    return g->oom = true, 1;
  a->effect = row->num[2];
  a->p_value = row->num[3];
  return 0;
}

static int add_span(struct gather *g, const char *from, const char *to,
                    const char *state) {
  bsl_report_kpi *k = g->k;
  bsl_report_span *s = push(&k->flags, &k->n_flags, sizeof *s);
  if (!s || !(s->state = dup(state)))
    return g->oom = true, 1;
  snprintf(s->from, sizeof s->from, "%.10s", from ? from : "");
  snprintf(s->to, sizeof s->to, "%.10s", to ? to : "");
  return 0;
}

static int on_kpi_alert(void *ctx, const bsl_report_row *row) {
  struct gather *g = ctx;
  if (!row->text[2] && g->k->flagged && g->k->since[0])
    return 0; /* still open: drawn from `since` instead */
  return add_span(g, text0(row, 1), row->text[2], text0(row, 0));
}

/* The Theil–Sen line of the shown points, for a kpi_status without one. */
static void own_trend(bsl_report_kpi *k) {
  if (!isnan(k->slope) && !isnan(k->intercept))
    return;
  double *t = malloc((k->n_pts + 1) * sizeof *t);
  double *y = malloc((k->n_pts + 1) * sizeof *y);
  size_t n = 0;
  for (size_t i = 0; t && y && i < k->n_pts; i++)
    if (!isnan(k->pts[i].value)) {
      t[n] = (double)k->pts[i].t;
      y[n] = k->pts[i].value;
      n++;
    }
  double slope, icept;
  if (n >= 2 && bsl_stats_theil_sen(t, y, NULL, n, &slope, &icept) == 0) {
    k->slope = slope;
    k->intercept = icept;
    k->trend_own = true;
  }
  free(t);
  free(y);
}

static int gather_kpis(bsl_store *st, struct gather *g, char *err,
                       size_t errlen) {
  bsl_report *r = g->r;
  if (bsl_store_report_query(st, BSL_RQ_KPI_STATUS, NULL, 0, on_kpi, g) < 0)
    goto out_store;
  for (size_t i = 0; i < r->n_kpis && !g->oom; i++) {
    bsl_report_kpi *k = &r->kpis[i];
    const char *p[1] = {k->name};
    g->k = k;
    g->k_index = 0;
    if (bsl_store_report_query(st, BSL_RQ_KPI_SERIES, p, 1, on_kpi_point, g) <
        0)
      goto out_store;
    if (r->has_adjustments &&
        bsl_store_report_query(st, BSL_RQ_KPI_ADJUSTMENTS, p, 1,
                               on_kpi_adjustment, g) < 0)
      goto out_store;
    if (r->has_alerts && bsl_store_report_query(st, BSL_RQ_KPI_ALERTS, p, 1,
                                                on_kpi_alert, g) < 0)
      goto out_store;
    /* the current flagged state runs from `since` (a period of the data),
     * which the open alert's raise (an evaluation time) would misplace */
    if (k->flagged && k->since[0])
      add_span(g, k->since, NULL, k->state);
    /* kpi_status.period names the last period ("2024-W22"): the chart
     * wants the kind, which the spacing of the series tells */
    const char *kind = "day";
    if (k->n_pts >= 2) {
      bool ok1, ok2;
      int64_t a = bsl_report_parse_day(k->pts[0].start, &ok1);
      int64_t b = bsl_report_parse_day(k->pts[1].start, &ok2);
      if (ok1 && ok2 && b - a >= 7)
        kind = "week";
    } else if (k->period && strchr(k->period, 'W')) {
      kind = "week";
    }
    free(k->period);
    if (!(k->period = dup(kind)))
      goto out_oom;
    own_trend(k);
  }
  if (g->oom)
    goto out_oom;
  return 0;
out_store:
  snprintf(err, errlen, "%s", bsl_store_error(st));
  return -1;
out_oom:
  snprintf(err, errlen, "out of memory");
  return -1;
}

/* Resolves the range: explicit days, else 28 days ending on the last
 * complete day (report.h; today when the database is empty). */
static int resolve_range(bsl_report *r, const bsl_report_options *o,
                         const bsl_zone *z, char *err, size_t errlen) {
  bool ok;
  int64_t to, from, today = bsl_zone_day_of(z, o->now);
  if (o->to) {
    to = bsl_report_parse_day(o->to, &ok);
    if (!ok) {
      snprintf(err, errlen, "--to: not a date (YYYY-MM-DD): '%s'", o->to);
      return -1;
    }
  } else if (r->data_last[0]) {
    to = bsl_report_parse_day(r->data_last, &ok);
    if (!ok) {
      snprintf(err, errlen, "traffic_daily: bad day '%s'", r->data_last);
      return -1;
    }
    /* the last complete day: one that has ended in the configured zone
     * (the newest day with data is still being logged while it is today,
     * and one after today is clock skew, data after a day ended it) */
    if (to >= today) {
      snprintf(r->partial_day, sizeof r->partial_day, "%s", r->data_last);
      to--;
    }
  } else {
    to = today;
  }
  if (o->from) {
    from = bsl_report_parse_day(o->from, &ok);
    if (!ok) {
      snprintf(err, errlen, "--from: not a date (YYYY-MM-DD): '%s'", o->from);
      return -1;
    }
  } else {
    from = to - (BSL_REPORT_DEFAULT_DAYS - 1);
  }
  if (from > to) {
    char t[11];
    bsl_report_format_day(to, t);
    snprintf(err, errlen, "--from: %s is after the end of the range, %s%s",
             o->from, t, o->to ? "" : " (the last complete day with data)");
    return -1;
  }
  if (to - from + 1 > BSL_REPORT_MAX_DAYS) {
    snprintf(err, errlen, "--from/--to: %lld days; at most %d",
             (long long)(to - from + 1), BSL_REPORT_MAX_DAYS);
    return -1;
  }
  r->n_days = (int)(to - from + 1);
  bsl_report_format_day(from, r->from);
  bsl_report_format_day(to, r->to);
  bsl_report_format_day(from - r->n_days, r->prev_from);
  bsl_report_format_day(from - 1, r->prev_to);
  return 0;
}

static void sum_days(const bsl_report_day *d, int n, bsl_report_totals *t) {
  memset(t, 0, sizeof *t);
  for (int i = 0; i < n; i++) {
    t->hits += d[i].t.hits;
    t->bot_hits += d[i].t.bot_hits;
    t->pageviews += d[i].t.pageviews;
    t->visits += d[i].t.visits;
    t->visitors += d[i].t.visitors;
    t->bounces += d[i].t.bounces;
    t->conversions += d[i].t.conversions;
  }
}

int bsl_report_gather(bsl_store *st, const bsl_report_options *o,
                      bsl_report **out, char *err, size_t errlen) {
  *out = NULL;
  bsl_report *r = calloc(1, sizeof *r);
  if (!r)
    goto out_oom;
  struct gather g = {.r = r};
  char generated[32];
  bsl_time_format_utc(o->now, generated);
  snprintf(r->generated_at, sizeof r->generated_at, "%s", generated);

  int has;
  if ((has = bsl_store_report_has(st, "campaigns_daily")) < 0)
    goto out_store;
  r->has_campaign_logs = has;
  int has_status = bsl_store_report_has(st, "kpi_status");
  int has_series = bsl_store_report_has(st, "kpi_series");
  int has_adj = bsl_store_report_has(st, "adjustments");
  int has_alerts = bsl_store_report_has(st, "alerts");
  if (has_status < 0 || has_series < 0 || has_adj < 0 || has_alerts < 0)
    goto out_store;
  r->has_kpis = has_status && has_series;
  int has_nf = bsl_store_report_has(st, "not_found_daily");
  if (has_nf < 0)
    goto out_store;
  r->has_not_found = has_nf;
  r->has_adjustments = has_adj;
  r->has_alerts = has_alerts;

  if (bsl_store_report_query(st, BSL_RQ_RANGE, NULL, 0, on_range, &g) < 0)
    goto out_store;
  if (g.oom)
    goto out_oom;
  if (!r->sites && !(r->sites = dup("")))
    goto out_oom;
  bsl_zone_init(&g.zone, o->timezone);
  snprintf(r->zone, sizeof r->zone, "%s", o->timezone ? o->timezone : "UTC");
  if (resolve_range(r, o, &g.zone, err, errlen) != 0)
    goto out_free;
  bool ok;
  g.day0 = bsl_report_parse_day(r->prev_from, &ok);
  g.to_day = bsl_report_parse_day(r->to, &ok);
  r->days = calloc((size_t)r->n_days, sizeof *r->days);
  r->prev_days = calloc((size_t)r->n_days, sizeof *r->prev_days);
  if (!r->days || !r->prev_days)
    goto out_oom;
  for (int i = 0; i < r->n_days; i++) {
    bsl_report_format_day(g.day0 + i, r->prev_days[i].day);
    bsl_report_format_day(g.day0 + r->n_days + i, r->days[i].day);
  }

  const char *both[3] = {r->prev_from, r->to, NULL};
  char top[8];
  snprintf(top, sizeof top, "%d", BSL_REPORT_TOP);
  const char *cur[3] = {r->from, r->to, top};
  const char *prev[3] = {r->prev_from, r->prev_to, top};
  if (bsl_store_report_query(st, BSL_RQ_DAYS, both, 2, on_day, &g) < 0 ||
      bsl_store_report_query(st, BSL_RQ_DAY_CHANNELS, both, 2, on_day_channel,
                             &g) < 0)
    goto out_store;
  sum_days(r->days, r->n_days, &r->cur);
  sum_days(r->prev_days, r->n_days, &r->prev);

  g.prev = false;
  if (bsl_store_report_query(st, BSL_RQ_CHANNELS, cur, 2, on_channel, &g) < 0 ||
      bsl_store_report_query(st, BSL_RQ_GOALS, cur, 2, on_goal, &g) < 0 ||
      bsl_store_report_query(st, BSL_RQ_SOURCES, cur, 3, on_source, &g) < 0 ||
      bsl_store_report_query(st, BSL_RQ_PAGES, cur, 3, on_page, &g) < 0 ||
      bsl_store_report_query(st, BSL_RQ_CLICKS, cur, 3, on_click, &g) < 0 ||
      bsl_store_report_query(
          st, r->has_campaign_logs ? BSL_RQ_CAMPAIGNS : BSL_RQ_CAMPAIGNS_VISITS,
          cur, 3, on_campaign, &g) < 0 ||
      bsl_store_report_query(st, BSL_RQ_STATUS, cur, 2, on_status, &g) < 0 ||
      bsl_store_report_query(st, BSL_RQ_DEVICES, cur, 2, on_device, &g) < 0 ||
      bsl_store_report_query(st, BSL_RQ_QUARTERS, cur, 2, on_quarter, &g) < 0 ||
      (r->has_not_found && bsl_store_report_query(st, BSL_RQ_NOT_FOUND, cur, 3,
                                                  on_not_found, &g) < 0))
    goto out_store;
  g.prev = true;
  if (!g.oom &&
      (bsl_store_report_query(st, BSL_RQ_CHANNELS, prev, 2, on_channel, &g) <
           0 ||
       bsl_store_report_query(st, BSL_RQ_GOALS, prev, 2, on_goal, &g) < 0))
    goto out_store;
  g.prev = false;
  if (g.oom)
    goto out_oom;
  if (r->has_kpis && gather_kpis(st, &g, err, errlen) != 0)
    goto out_free;
  *out = r;
  return 0;

out_store:
  if (g.oom)
    goto out_oom;
  snprintf(err, errlen, "%s", bsl_store_error(st));
  goto out_free;
out_oom:
  snprintf(err, errlen, "out of memory");
out_free:
  bsl_report_destroy(r);
  return -1;
}

void bsl_report_destroy(bsl_report *r) {
  if (!r)
    return;
  free(r->sites);
  free(r->days);
  free(r->prev_days);
  for (size_t i = 0; i < r->n_channels; i++)
    free(r->channels[i].name);
  free(r->channels);
  for (size_t i = 0; i < r->n_sources; i++)
    free(r->sources[i].source), free(r->sources[i].medium);
  free(r->sources);
  for (size_t i = 0; i < r->n_pages; i++)
    free(r->pages[i].path);
  free(r->pages);
  for (size_t i = 0; i < r->n_clicks; i++)
    free(r->clicks[i].target), free(r->clicks[i].path);
  free(r->clicks);
  for (size_t i = 0; i < r->n_goals; i++)
    free(r->goals[i].goal);
  free(r->goals);
  for (size_t i = 0; i < r->n_campaigns; i++)
    free(r->campaigns[i].campaign);
  free(r->campaigns);
  free(r->statuses);
  for (size_t i = 0; i < r->n_not_found; i++)
    free(r->not_found[i].path);
  free(r->not_found);
  for (size_t i = 0; i < r->n_devices; i++)
    free(r->devices[i].device);
  free(r->devices);
  for (size_t i = 0; i < r->n_kpis; i++) {
    bsl_report_kpi *k = &r->kpis[i];
    free(k->name), free(k->metric), free(k->state), free(k->since);
    free(k->deadline), free(k->message), free(k->evaluated_at);
    free(k->period);
    free(k->pts);
    for (size_t j = 0; j < k->n_adj; j++)
      free(k->adj[j].at), free(k->adj[j].note);
    free(k->adj);
    for (size_t j = 0; j < k->n_flags; j++)
      free(k->flags[j].state);
    free(k->flags);
  }
  free(r->kpis);
  free(r);
}

/* ---- terminal text ---- */

#define TERM_WIDTH 100

struct term {
  FILE *o;
  bool color;
};

static const char *sgr(const struct term *t, const char *code) {
  return t->color ? code : "";
}
#define C_RESET "\x1b[0m"
#define C_BOLD "\x1b[1m"
#define C_DIM "\x1b[2m"
#define C_RED "\x1b[31m"
#define C_GREEN "\x1b[32m"
#define C_YELLOW "\x1b[33m"
#define C_CYAN "\x1b[36m"

static size_t cols(const char *s) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    n += (*p & 0xC0) != 0x80;
  return n;
}

/* Writes safe text S in a cell of WIDTH columns (cut with "…"). */
static void cell(const struct term *t, const char *s, size_t width,
                 bool right) {
  char buf[1024];
  bsl_term_text(s, width, buf, sizeof buf);
  size_t w = cols(buf);
  if (right)
    fprintf(t->o, "%*s%s", (int)(width - w), "", buf);
  else
    fprintf(t->o, "%s%*s", buf, (int)(width - w), "");
}

/* A coloured change: GOOD_UP tells whether a rise is good. */
static void change_cell(const struct term *t, const char *text, double cur,
                        double prev, bool good_up, size_t width) {
  const char *c = "";
  if (!isnan(cur) && !isnan(prev) && cur != prev && strcmp(text, "-") != 0)
    c = (cur > prev) == good_up ? C_GREEN : C_RED;
  fputs(sgr(t, c), t->o);
  cell(t, text, width, true);
  fputs(sgr(t, *c ? C_RESET : ""), t->o);
}

static void heading(const struct term *t, const char *title,
                    const char *columns) {
  fprintf(t->o, "\n%s%s%s%s\n", sgr(t, C_BOLD), title, columns,
          sgr(t, C_RESET));
}

static void bar(const struct term *t, double frac, int width) {
  if (isnan(frac) || frac < 0)
    frac = 0;
  if (frac > 1)
    frac = 1;
  int eighths = (int)lrint(frac * width * 8);
  static const char *const PART[8] = {"",       "\u258f", "\u258e", "\u258d",
                                      "\u258c", "\u258b", "\u258a", "\u2589"};
  int full = eighths / 8, drawn = 0;
  fputs(sgr(t, C_CYAN), t->o);
  for (; drawn < full; drawn++)
    fputs("\u2588", t->o);
  if (drawn < width && eighths % 8) {
    fputs(PART[eighths % 8], t->o);
    drawn++;
  }
  fputs(sgr(t, C_RESET), t->o);
  fputs(sgr(t, C_DIM), t->o);
  for (; drawn < width; drawn++)
    fputs("\u00b7", t->o);
  fputs(sgr(t, C_RESET), t->o);
}

static double ratio(double a, double b) {
  return b > 0 ? a / b : NAN;
}

enum { F_NONE = -1, F_VISITS, F_VISITORS, F_PAGEVIEWS, F_CONV, F_HITS, F_BOTS };

static double field(const bsl_report_totals *t, int f) {
  switch (f) {
  case F_VISITS:
    return t->visits;
  case F_VISITORS:
    return t->visitors;
  case F_PAGEVIEWS:
    return t->pageviews;
  case F_CONV:
    return t->conversions;
  case F_HITS:
    return t->hits;
  case F_BOTS:
    return t->bot_hits;
  default:
    return NAN;
  }
}

static void spark_days(const struct term *t, const bsl_report *r, int f,
                       size_t width) {
  double *v = malloc((size_t)r->n_days * sizeof *v);
  if (!v)
    return;
  for (int i = 0; i < r->n_days; i++)
    v[i] = field(&r->days[i].t, f);
  char buf[1024];
  bsl_report_sparkline(v, (size_t)r->n_days, width, buf, sizeof buf);
  fprintf(t->o, "   %s%s%s", sgr(t, C_CYAN), buf, sgr(t, C_RESET));
  free(v);
}

static void total_row(const struct term *t, const bsl_report *r,
                      const char *label, double cur, double prev, bool is_rate,
                      bool good_up, int spark_field) {
  char a[32], b[32], c[32];
  if (is_rate) {
    bsl_report_format_percent(cur, a, sizeof a);
    bsl_report_format_percent(prev, b, sizeof b);
    bsl_report_format_points(cur, prev, c, sizeof c);
  } else if (spark_field == F_NONE) {
    snprintf(a, sizeof a, isnan(cur) ? "-" : "%.2f", cur);
    snprintf(b, sizeof b, isnan(prev) ? "-" : "%.2f", prev);
    bsl_report_format_change(cur, prev, c, sizeof c);
  } else {
    bsl_report_format_count(cur, a, sizeof a);
    bsl_report_format_count(prev, b, sizeof b);
    bsl_report_format_change(cur, prev, c, sizeof c);
  }
  fputs("  ", t->o);
  cell(t, label, 20, false);
  cell(t, a, 14, true);
  cell(t, b, 14, true);
  change_cell(t, c, cur, prev, good_up, 11);
  if (spark_field != F_NONE)
    spark_days(t, r, spark_field, 30);
  fputc('\n', t->o);
}

static void text_totals(const struct term *t, const bsl_report *r) {
  const bsl_report_totals *c = &r->cur, *p = &r->prev;
  heading(t, "TRAFFIC",
          "                    this period      previous"
          "     change   daily");
  total_row(t, r, "Visits", c->visits, p->visits, false, true, F_VISITS);
  total_row(t, r, "Visitors", c->visitors, p->visitors, false, true,
            F_VISITORS);
  total_row(t, r, "Pageviews", c->pageviews, p->pageviews, false, true,
            F_PAGEVIEWS);
  total_row(t, r, "Pages per visit", ratio(c->pageviews, c->visits),
            ratio(p->pageviews, p->visits), false, true, F_NONE);
  total_row(t, r, "Bounce rate", ratio(c->bounces, c->visits),
            ratio(p->bounces, p->visits), true, false, F_NONE);
  total_row(t, r, "Conversions", c->conversions, p->conversions, false, true,
            F_CONV);
  total_row(t, r, "Conversion rate", ratio(c->conversions, c->visits),
            ratio(p->conversions, p->visits), true, true, F_NONE);
  total_row(t, r, "Hits", c->hits, p->hits, false, true, F_HITS);
  total_row(t, r, "Bot hits", c->bot_hits, p->bot_hits, false, false, F_BOTS);
}

static void text_channels(const struct term *t, const bsl_report *r) {
  heading(t, "CHANNELS",
          "                    visits   share"
          "                          conv.   conv. rate"
          "     change");
  if (!r->n_channels)
    fprintf(t->o, "  %sno visits in this period%s\n", sgr(t, C_DIM),
            sgr(t, C_RESET));
  for (size_t i = 0; i < r->n_channels; i++) {
    const bsl_report_channel *ch = &r->channels[i];
    char a[32], b[32], c[32], d[32];
    bsl_report_format_count(ch->visits, a, sizeof a);
    double share = ratio(ch->visits, r->cur.visits);
    bsl_report_format_percent(share, b, sizeof b);
    bsl_report_format_count(ch->conversions, c, sizeof c);
    bsl_report_format_percent(ratio(ch->conversions, ch->visits), d, sizeof d);
    fputs("  ", t->o);
    cell(t, ch->name, 20, false);
    cell(t, a, 12, true);
    fputs("   ", t->o);
    bar(t, share, 20);
    cell(t, b, 7, true);
    cell(t, c, 10, true);
    cell(t, d, 13, true);
    bsl_report_format_change(ch->visits, ch->prev_visits, a, sizeof a);
    change_cell(t, a, ch->visits, ch->prev_visits, true, 11);
    fputc('\n', t->o);
  }
  if (!r->n_sources)
    return;
  heading(t, "TOP SOURCES",
          "                                   visits"
          "      conv.");
  for (size_t i = 0; i < r->n_sources && i < 10; i++) {
    const bsl_report_source *s = &r->sources[i];
    char name[512], a[32], b[32];
    snprintf(name, sizeof name, "%s / %s", s->source, s->medium);
    bsl_report_format_count(s->visits, a, sizeof a);
    bsl_report_format_count(s->conversions, b, sizeof b);
    fputs("  ", t->o);
    cell(t, name, 40, false);
    cell(t, a, 12, true);
    cell(t, b, 11, true);
    fputc('\n', t->o);
  }
}

static void text_pages(const struct term *t, const bsl_report *r) {
  heading(t, "TOP PAGES",
          "                                         "
          "pageviews     entries   avg scroll depth");
  if (!r->n_pages)
    fprintf(t->o, "  %sno pageviews in this period%s\n", sgr(t, C_DIM),
            sgr(t, C_RESET));
  for (size_t i = 0; i < r->n_pages && i < 10; i++) {
    const bsl_report_page *p = &r->pages[i];
    char a[32], b[32], c[32];
    bsl_report_format_count(p->pageviews, a, sizeof a);
    bsl_report_format_count(p->entries, b, sizeof b);
    snprintf(c, sizeof c, "%3.0f%%", p->avg_scroll);
    fputs("  ", t->o);
    cell(t, p->path, 48, false);
    cell(t, a, 11, true);
    cell(t, b, 12, true);
    fputs("   ", t->o);
    bar(t, p->avg_scroll / 100.0, 14);
    cell(t, c, 6, true);
    fputc('\n', t->o);
  }
}

static void text_clicks(const struct term *t, const bsl_report *r) {
  if (!r->n_clicks)
    return;
  heading(t, "TOP CLICKS",
          "                            page"
          "                                              clicks");
  for (size_t i = 0; i < r->n_clicks && i < 10; i++) {
    const bsl_report_click *c = &r->clicks[i];
    char a[32];
    bsl_report_format_count(c->clicks, a, sizeof a);
    fputs("  ", t->o);
    cell(t, *c->target ? c->target : "(none)", 34, false);
    fputs("  ", t->o);
    cell(t, c->path, 44, false);
    cell(t, a, 12, true);
    fputc('\n', t->o);
  }
}

static void text_goals(const struct term *t, const bsl_report *r) {
  heading(t, "GOALS",
          "                       conversions        rate"
          "     change");
  if (!r->n_goals)
    fprintf(t->o, "  %sno goals configured, or no visits%s\n", sgr(t, C_DIM),
            sgr(t, C_RESET));
  for (size_t i = 0; i < r->n_goals; i++) {
    const bsl_report_goal *g = &r->goals[i];
    char a[32], b[32], c[32];
    bsl_report_format_count(g->conversions, a, sizeof a);
    bsl_report_format_percent(ratio(g->conversions, g->visits), b, sizeof b);
    bsl_report_format_change(g->conversions, g->prev_conversions, c, sizeof c);
    fputs("  ", t->o);
    cell(t, g->goal, 24, false);
    cell(t, a, 12, true);
    cell(t, b, 12, true);
    change_cell(t, c, g->conversions, g->prev_conversions, true, 11);
    fputc('\n', t->o);
  }
}

static void text_campaigns(const struct term *t, const bsl_report *r) {
  heading(t, "CAMPAIGNS",
          "                  sent  delivered   opens  clicks"
          "  visits   conv.      spend  cost/conv.");
  if (!r->has_campaign_logs)
    fprintf(t->o,
            "  %s(no campaigns_daily view in this database: visits by "
            "utm_campaign only)%s\n",
            sgr(t, C_DIM), sgr(t, C_RESET));
  if (!r->n_campaigns)
    fprintf(t->o, "  %sno campaign activity in this period%s\n", sgr(t, C_DIM),
            sgr(t, C_RESET));
  for (size_t i = 0; i < r->n_campaigns && i < 10; i++) {
    const bsl_report_campaign *c = &r->campaigns[i];
    char v[8][32];
    double x[4] = {c->sent, c->delivered, c->opens, c->clicks};
    for (int j = 0; j < 4; j++)
      if (c->has_log)
        bsl_report_format_compact(x[j], v[j], sizeof v[j]);
      else
        snprintf(v[j], sizeof v[j], "-");
    bsl_report_format_compact(c->visits, v[4], sizeof v[4]);
    bsl_report_format_compact(c->conversions, v[5], sizeof v[5]);
    snprintf(v[6], sizeof v[6], c->has_log ? "%.2f" : "-", c->spend);
    if (c->has_log && c->conversions > 0)
      snprintf(v[7], sizeof v[7], "%.2f", c->spend / c->conversions);
    else
      snprintf(v[7], sizeof v[7], "-");
    fputs("  ", t->o);
    cell(t, c->campaign, 20, false);
    static const int W[8] = {10, 11, 8, 8, 8, 8, 11, 12};
    for (int j = 0; j < 8; j++)
      cell(t, v[j], (size_t)W[j], true);
    fputc('\n', t->o);
  }
}

static void text_status(const struct term *t, const bsl_report *r) {
  char h[128];
  snprintf(h, sizeof h, "%*s%8s%23s%12s", 2 + 24 + 12 - 12, "hits", "share", "",
           "bot hits");
  heading(t, "STATUS CODES", h);
  if (!r->n_statuses)
    fprintf(t->o, "  %sno hits in this period%s\n", sgr(t, C_DIM),
            sgr(t, C_RESET));
  for (size_t i = 0; i < r->n_statuses && i < 12; i++) {
    const bsl_report_status *x = &r->statuses[i];
    char name[64], a[32], b[32], c[32];
    snprintf(name, sizeof name, "%d %s", x->status,
             bsl_report_status_text(x->status));
    bsl_report_format_count(x->hits, a, sizeof a);
    double share = ratio(x->hits, r->cur.hits);
    bsl_report_format_percent(share, b, sizeof b);
    bsl_report_format_count(x->bot_hits, c, sizeof c);
    fputs("  ", t->o);
    const char *col = x->status >= 500   ? C_RED
                      : x->status >= 400 ? C_YELLOW
                                         : "";
    fputs(sgr(t, col), t->o);
    cell(t, name, 24, false);
    fputs(sgr(t, *col ? C_RESET : ""), t->o);
    cell(t, a, 12, true);
    cell(t, b, 8, true);
    fputs("   ", t->o);
    bar(t, share, 20);
    cell(t, c, 12, true);
    fputc('\n', t->o);
  }
}

static void text_not_found(const struct term *t, const bsl_report *r) {
  if (!r->has_not_found)
    return;
  static const char title[] = "TOP 404 PATHS (people; bots left out)";
  char h[96];
  snprintf(h, sizeof h, "%*s", 2 + 78 + 10 - (int)(sizeof title - 1), "hits");
  heading(t, title, h);
  if (!r->n_not_found)
    fprintf(t->o, "  %sno page was missing for a visitor in this period%s\n",
            sgr(t, C_DIM), sgr(t, C_RESET));
  for (size_t i = 0; i < r->n_not_found && i < 10; i++) {
    char a[32];
    bsl_report_format_count(r->not_found[i].hits, a, sizeof a);
    fputs("  ", t->o);
    cell(t, r->not_found[i].path, 78, false);
    cell(t, a, 10, true);
    fputc('\n', t->o);
  }
}

static void text_devices(const struct term *t, const bsl_report *r) {
  char h[128];
  snprintf(h, sizeof h, "%*s%8s%23s%14s%13s", 2 + 20 + 12 - 7, "visits",
           "share", "", "bounce rate", "conv. rate");
  heading(t, "DEVICES", h);
  if (!r->n_devices)
    fprintf(t->o, "  %sno visits in this period%s\n", sgr(t, C_DIM),
            sgr(t, C_RESET));
  for (size_t i = 0; i < r->n_devices; i++) {
    const bsl_report_device *d = &r->devices[i];
    char a[32], b[32], c[32], e[32];
    bsl_report_format_count(d->visits, a, sizeof a);
    double share = ratio(d->visits, r->cur.visits);
    bsl_report_format_percent(share, b, sizeof b);
    bsl_report_format_percent(ratio(d->bounces, d->visits), c, sizeof c);
    bsl_report_format_percent(ratio(d->conversions, d->visits), e, sizeof e);
    fputs("  ", t->o);
    cell(t, *d->device ? d->device : "(unknown)", 20, false);
    cell(t, a, 12, true);
    cell(t, b, 8, true);
    fputs("   ", t->o);
    bar(t, share, 20);
    cell(t, c, 14, true);
    cell(t, e, 13, true);
    fputc('\n', t->o);
  }
}

/* Visits by hour of the day: one column per hour, bars of eighths. */
static void text_hours(const struct term *t, const bsl_report *r) {
  char title[160];
  snprintf(title, sizeof title,
           "VISITS BY HOUR OF DAY%s(%s, by the hour each visit began)", "   ",
           r->zone);
  char safe[200];
  bsl_term_text(title, 96, safe, sizeof safe);
  heading(t, safe, "");
  double hi = 0, total = 0;
  for (int h = 0; h < 24; h++)
    hi = r->hours[h] > hi ? r->hours[h] : hi, total += r->hours[h];
  if (total <= 0) {
    fprintf(t->o, "  %sno visits in this period%s\n", sgr(t, C_DIM),
            sgr(t, C_RESET));
    return;
  }
  static const char *const BARS[9] = {" ",      "\u2581", "\u2582",
                                      "\u2583", "\u2584", "\u2585",
                                      "\u2586", "\u2587", "\u2588"};
  /* three rows of eighths: 24 levels, each hour 3 columns wide */
  for (int row = 2; row >= 0; row--) {
    fputs("  ", t->o);
    fputs(sgr(t, C_CYAN), t->o);
    for (int h = 0; h < 24; h++) {
      int level = (int)lrint(r->hours[h] / hi * 24);
      int here = level - row * 8;
      const char *g = BARS[here <= 0 ? 0 : here >= 8 ? 8 : here];
      if (row == 0 && level == 0 && r->hours[h] > 0)
        g = BARS[1]; /* a visit is never drawn as none */
      fprintf(t->o, h < 23 ? "%s%s " : "%s%s", g, g);
    }
    fputs(sgr(t, C_RESET), t->o);
    fputc('\n', t->o);
  }
  fputs("  ", t->o);
  for (int h = 0; h < 24; h++)
    fprintf(t->o, h < 23 ? "%02d " : "%02d", h);
  fputc('\n', t->o);
  int peak = 0;
  for (int h = 1; h < 24; h++)
    if (r->hours[h] > r->hours[peak])
      peak = h;
  char n[32];
  bsl_report_format_count(r->hours[peak], n, sizeof n);
  fprintf(t->o, "  %sbusiest hour %02d:00-%02d:59 (%s visits, %.1f%%)%s\n",
          sgr(t, C_DIM), peak, peak, n, 100 * r->hours[peak] / total,
          sgr(t, C_RESET));
}

static const char *state_color(const bsl_report_kpi *k) {
  if (k->flagged)
    return strcmp(k->state, "no_data") == 0 ? C_YELLOW : C_RED;
  if (strcmp(k->state, "met") == 0 || strcmp(k->state, "improving") == 0)
    return C_GREEN;
  return C_DIM;
}

static void text_kpis(const struct term *t, const bsl_report *r) {
  heading(t, "KPIS",
          "                    state            value   target"
          "   trend                   recent periods");
  if (!r->has_kpis) {
    fprintf(t->o,
            "  %s(no KPI views in this database yet: run 'boussole kpi' "
            "with [kpi] sections)%s\n",
            sgr(t, C_DIM), sgr(t, C_RESET));
    return;
  }
  if (!r->n_kpis)
    fprintf(t->o,
            "  %sno KPI evaluated yet (configure [kpi] sections and run "
            "'boussole kpi')%s\n",
            sgr(t, C_DIM), sgr(t, C_RESET));
  for (size_t i = 0; i < r->n_kpis; i++) {
    const bsl_report_kpi *k = &r->kpis[i];
    char st[48], val[32], tgt[32], tr[96], sp[256];
    snprintf(st, sizeof st, "%s%s", k->state, k->flagged ? " \u2691" : "");
    bsl_metric_format(k->metric, k->value, val, sizeof val);
    bsl_metric_format(k->metric, k->target, tgt, sizeof tgt);
    if (isnan(k->slope)) {
      snprintf(tr, sizeof tr, "-");
    } else {
      char s1[32], p[16];
      bsl_metric_format_trend(k->metric, k->slope, s1, sizeof s1);
      bsl_metric_format_p(k->p_value, p, sizeof p);
      if (!isnan(k->p_value))
        snprintf(tr, sizeof tr, "%s/%s %s", s1,
                 *k->period ? k->period : "period", p);
      else
        snprintf(tr, sizeof tr, "%s/%s", s1, *k->period ? k->period : "period");
    }
    size_t n = k->n_pts > 28 ? 28 : k->n_pts;
    double v[28];
    for (size_t j = 0; j < n; j++)
      v[j] = k->pts[k->n_pts - n + j].value;
    bsl_report_sparkline(v, n, 18, sp, sizeof sp);
    fputs("  ", t->o);
    cell(t, k->name, 22, false);
    fputs(sgr(t, state_color(k)), t->o);
    cell(t, st, 13, false);
    fputs(sgr(t, C_RESET), t->o);
    cell(t, val, 9, true);
    cell(t, tgt, 9, true);
    fputs("   ", t->o);
    cell(t, tr, 23, false); /* "-0.0667 pt/week p=0.00" */
    fprintf(t->o, " %s%s%s\n", sgr(t, C_CYAN), sp, sgr(t, C_RESET));
    if (k->since[0] || k->deadline[0]) {
      char line[256];
      char proj[32];
      bsl_metric_format(k->metric, k->projected, proj, sizeof proj);
      snprintf(line, sizeof line, "since %s%s%s%s%s",
               *k->since ? k->since : "-",
               *k->deadline ? " \u00b7 deadline " : "", k->deadline,
               *k->deadline && !isnan(k->projected) ? " \u00b7 projected " : "",
               *k->deadline && !isnan(k->projected) ? proj : "");
      char safe[512];
      bsl_term_text(line, 94, safe, sizeof safe);
      fprintf(t->o, "    %s%s%s\n", sgr(t, C_DIM), safe, sgr(t, C_RESET));
    }
    for (size_t j = 0; j < k->n_adj; j++) {
      const bsl_report_adjustment *a = &k->adj[j];
      char head[96], verdict[160];
      snprintf(head, sizeof head, "adjusted %.16s: ", a->at);
      fprintf(t->o, "    %s", head);
      char note[512];
      bsl_term_text(a->note, 94 - cols(head), note, sizeof note);
      bsl_kpi_effect_verdict(k->metric, 0, a->effect, a->p_value, verdict,
                             sizeof verdict);
      fprintf(t->o, "%s\n      effect: %s\n", note, verdict);
    }
    /* a flagged KPI: what it means and the next step (kpi_status.message,
     * written by `boussole kpi`) */
    if (k->flagged && *k->message) {
      fputs(sgr(t, C_DIM), t->o);
      bsl_term_paragraph(t->o, k->message, 4, TERM_WIDTH);
      fputs(sgr(t, C_RESET), t->o);
    }
  }
}

int bsl_report_write_text(const bsl_report *r, FILE *out, bool color) {
  struct term t = {.o = out, .color = color};
  char head[256];
  snprintf(head, sizeof head, "%s \u2192 %s (%d day%s)", r->from, r->to,
           r->n_days, r->n_days == 1 ? "" : "s");
  fprintf(out, "%sboussole report%s  ", sgr(&t, C_BOLD), sgr(&t, C_RESET));
  cell(&t, *r->sites ? r->sites : "all sites", 80 - cols(head) - 1, false);
  fprintf(out, " %s\n", head);
  fprintf(out, "%scompared with %s \u2192 %s \u00b7 data %s \u2192 %s%s\n",
          sgr(&t, C_DIM), r->prev_from, r->prev_to,
          *r->data_first ? r->data_first : "-",
          *r->data_last ? r->data_last : "-", sgr(&t, C_RESET));
  if (*r->partial_day)
    fprintf(out,
            "%s%s is left out: it has not ended yet (%s), and a day still "
            "being logged is not comparable%s\n",
            sgr(&t, C_DIM), r->partial_day, r->zone, sgr(&t, C_RESET));
  text_totals(&t, r);
  text_channels(&t, r);
  text_pages(&t, r);
  text_clicks(&t, r);
  text_goals(&t, r);
  text_campaigns(&t, r);
  text_status(&t, r);
  text_not_found(&t, r);
  text_devices(&t, r);
  text_hours(&t, r);
  text_kpis(&t, r);
  return ferror(out) ? -1 : 0;
}

/* ---- JSON ---- */

static void jnum(FILE *o, double v) {
  if (isnan(v) || isinf(v))
    fputs("null", o);
  else if (fabs(v - rint(v)) < 1e-9 && fabs(v) < 9e15)
    fprintf(o, "%.0f", v);
  else
    fprintf(o, "%.6g", v);
}

static void jkey(FILE *o, bool *first, const char *key) {
  fputs(*first ? "" : ",", o);
  *first = false;
  bsl_json_string(o, key);
  fputc(':', o);
}

static void jtotals(FILE *o, const bsl_report_totals *t) {
  bool f = true;
  fputc('{', o);
  jkey(o, &f, "hits"), jnum(o, t->hits);
  jkey(o, &f, "bot_hits"), jnum(o, t->bot_hits);
  jkey(o, &f, "pageviews"), jnum(o, t->pageviews);
  jkey(o, &f, "visits"), jnum(o, t->visits);
  jkey(o, &f, "visitors"), jnum(o, t->visitors);
  jkey(o, &f, "bounces"), jnum(o, t->bounces);
  jkey(o, &f, "conversions"), jnum(o, t->conversions);
  jkey(o, &f, "bounce_rate"), jnum(o, ratio(t->bounces, t->visits));
  jkey(o, &f, "conversion_rate"), jnum(o, ratio(t->conversions, t->visits));
  jkey(o, &f, "pages_per_visit"), jnum(o, ratio(t->pageviews, t->visits));
  fputc('}', o);
}

static void json_kpi(FILE *o, const bsl_report_kpi *k) {
  bool f = true;
  fputc('{', o);
  jkey(o, &f, "kpi"), bsl_json_string(o, k->name);
  jkey(o, &f, "metric"), bsl_json_string(o, k->metric);
  jkey(o, &f, "state"), bsl_json_string(o, k->state);
  jkey(o, &f, "flagged"), fputs(k->flagged ? "true" : "false", o);
  jkey(o, &f, "since"), bsl_json_string(o, k->since);
  jkey(o, &f, "value"), jnum(o, k->value);
  jkey(o, &f, "target"), jnum(o, k->target);
  jkey(o, &f, "deadline"), bsl_json_string(o, k->deadline);
  jkey(o, &f, "slope"), jnum(o, k->slope);
  jkey(o, &f, "intercept"), jnum(o, k->intercept);
  jkey(o, &f, "p_value"), jnum(o, k->p_value);
  jkey(o, &f, "projected"), jnum(o, k->projected);
  jkey(o, &f, "evaluated_at"), bsl_json_string(o, k->evaluated_at);
  jkey(o, &f, "message"), bsl_json_string(o, k->message);
  jkey(o, &f, "series");
  fputc('[', o);
  for (size_t j = 0; j < k->n_pts; j++) {
    bool g = true;
    fputs(j ? ",{" : "{", o);
    jkey(o, &g, "period"), bsl_json_string(o, k->pts[j].period);
    jkey(o, &g, "period_start"), bsl_json_string(o, k->pts[j].start);
    jkey(o, &g, "value"), jnum(o, k->pts[j].value);
    jkey(o, &g, "n"), jnum(o, k->pts[j].n);
    fputc('}', o);
  }
  fputc(']', o);
  jkey(o, &f, "adjustments");
  fputc('[', o);
  for (size_t j = 0; j < k->n_adj; j++) {
    bool g = true;
    fputs(j ? ",{" : "{", o);
    jkey(o, &g, "at"), bsl_json_string(o, k->adj[j].at);
    jkey(o, &g, "note"), bsl_json_string(o, k->adj[j].note);
    jkey(o, &g, "effect"), jnum(o, k->adj[j].effect);
    jkey(o, &g, "effect_p_value"), jnum(o, k->adj[j].p_value);
    char v[160];
    bsl_kpi_effect_verdict(k->metric, 0, k->adj[j].effect, k->adj[j].p_value, v,
                           sizeof v);
    jkey(o, &g, "verdict"), bsl_json_string(o, v);
    fputc('}', o);
  }
  fputs("]}", o);
}

int bsl_report_write_json(const bsl_report *r, FILE *o) {
  bool f = true;
  fputc('{', o);
  jkey(o, &f, "from"), bsl_json_string(o, r->from);
  jkey(o, &f, "to"), bsl_json_string(o, r->to);
  jkey(o, &f, "days"), fprintf(o, "%d", r->n_days);
  jkey(o, &f, "previous_from"), bsl_json_string(o, r->prev_from);
  jkey(o, &f, "previous_to"), bsl_json_string(o, r->prev_to);
  jkey(o, &f, "data_first"), bsl_json_string(o, r->data_first);
  jkey(o, &f, "data_last"), bsl_json_string(o, r->data_last);
  jkey(o, &f, "partial_day_left_out");
  if (*r->partial_day)
    bsl_json_string(o, r->partial_day);
  else
    fputs("null", o);
  jkey(o, &f, "sites"), bsl_json_string(o, r->sites);
  jkey(o, &f, "generated_at"), bsl_json_string(o, r->generated_at);
  jkey(o, &f, "totals"), jtotals(o, &r->cur);
  jkey(o, &f, "previous_totals"), jtotals(o, &r->prev);

  jkey(o, &f, "daily");
  fputc('[', o);
  for (int i = 0; i < r->n_days; i++) {
    const bsl_report_day *d = &r->days[i];
    bool g = true;
    fputs(i ? ",{" : "{", o);
    jkey(o, &g, "day"), bsl_json_string(o, d->day);
    jkey(o, &g, "visits"), jnum(o, d->t.visits);
    jkey(o, &g, "visitors"), jnum(o, d->t.visitors);
    jkey(o, &g, "pageviews"), jnum(o, d->t.pageviews);
    jkey(o, &g, "bounces"), jnum(o, d->t.bounces);
    jkey(o, &g, "conversions"), jnum(o, d->t.conversions);
    jkey(o, &g, "hits"), jnum(o, d->t.hits);
    jkey(o, &g, "bot_hits"), jnum(o, d->t.bot_hits);
    jkey(o, &g, "visits_by_channel");
    bool h = true;
    fputc('{', o);
    for (int c = 0; c < BSL_CH_COUNT; c++)
      if (d->channel_visits[c] > 0)
        jkey(o, &h, CHANNEL_NAMES[c]), jnum(o, d->channel_visits[c]);
    fputs("}}", o);
  }
  fputc(']', o);

  jkey(o, &f, "channels");
  fputc('[', o);
  for (size_t i = 0; i < r->n_channels; i++) {
    const bsl_report_channel *c = &r->channels[i];
    bool g = true;
    fputs(i ? ",{" : "{", o);
    jkey(o, &g, "channel"), bsl_json_string(o, c->name);
    jkey(o, &g, "visits"), jnum(o, c->visits);
    jkey(o, &g, "visitors"), jnum(o, c->visitors);
    jkey(o, &g, "pageviews"), jnum(o, c->pageviews);
    jkey(o, &g, "bounces"), jnum(o, c->bounces);
    jkey(o, &g, "conversions"), jnum(o, c->conversions);
    jkey(o, &g, "previous_visits"), jnum(o, c->prev_visits);
    jkey(o, &g, "previous_conversions"), jnum(o, c->prev_conversions);
    fputc('}', o);
  }
  fputc(']', o);

  jkey(o, &f, "sources");
  fputc('[', o);
  for (size_t i = 0; i < r->n_sources; i++) {
    bool g = true;
    fputs(i ? ",{" : "{", o);
    jkey(o, &g, "source"), bsl_json_string(o, r->sources[i].source);
    jkey(o, &g, "medium"), bsl_json_string(o, r->sources[i].medium);
    jkey(o, &g, "visits"), jnum(o, r->sources[i].visits);
    jkey(o, &g, "conversions"), jnum(o, r->sources[i].conversions);
    fputc('}', o);
  }
  fputc(']', o);

  jkey(o, &f, "pages");
  fputc('[', o);
  for (size_t i = 0; i < r->n_pages; i++) {
    const bsl_report_page *p = &r->pages[i];
    bool g = true;
    fputs(i ? ",{" : "{", o);
    jkey(o, &g, "path"), bsl_json_string(o, p->path);
    jkey(o, &g, "pageviews"), jnum(o, p->pageviews);
    jkey(o, &g, "entries"), jnum(o, p->entries);
    jkey(o, &g, "avg_scroll_depth"), jnum(o, p->avg_scroll);
    jkey(o, &g, "scroll_75"), jnum(o, p->scroll_75);
    fputc('}', o);
  }
  fputc(']', o);

  jkey(o, &f, "clicks");
  fputc('[', o);
  for (size_t i = 0; i < r->n_clicks; i++) {
    bool g = true;
    fputs(i ? ",{" : "{", o);
    jkey(o, &g, "target"), bsl_json_string(o, r->clicks[i].target);
    jkey(o, &g, "path"), bsl_json_string(o, r->clicks[i].path);
    jkey(o, &g, "clicks"), jnum(o, r->clicks[i].clicks);
    fputc('}', o);
  }
  fputc(']', o);

  jkey(o, &f, "goals");
  fputc('[', o);
  for (size_t i = 0; i < r->n_goals; i++) {
    const bsl_report_goal *x = &r->goals[i];
    bool g = true;
    fputs(i ? ",{" : "{", o);
    jkey(o, &g, "goal"), bsl_json_string(o, x->goal);
    jkey(o, &g, "conversions"), jnum(o, x->conversions);
    jkey(o, &g, "visits"), jnum(o, x->visits);
    jkey(o, &g, "conversion_rate"), jnum(o, ratio(x->conversions, x->visits));
    jkey(o, &g, "previous_conversions"), jnum(o, x->prev_conversions);
    fputc('}', o);
  }
  fputc(']', o);

  jkey(o, &f, "campaign_logs"),
      fputs(r->has_campaign_logs ? "true" : "false", o);
  jkey(o, &f, "campaigns");
  fputc('[', o);
  for (size_t i = 0; i < r->n_campaigns; i++) {
    const bsl_report_campaign *c = &r->campaigns[i];
    bool g = true;
    fputs(i ? ",{" : "{", o);
    jkey(o, &g, "campaign"), bsl_json_string(o, c->campaign);
    if (c->has_log) {
      jkey(o, &g, "sent"), jnum(o, c->sent);
      jkey(o, &g, "delivered"), jnum(o, c->delivered);
      jkey(o, &g, "opens"), jnum(o, c->opens);
      jkey(o, &g, "clicks"), jnum(o, c->clicks);
      jkey(o, &g, "bounces"), jnum(o, c->bounces);
      jkey(o, &g, "unsubscribes"), jnum(o, c->unsubscribes);
      jkey(o, &g, "spend"), jnum(o, c->spend);
    }
    jkey(o, &g, "visits"), jnum(o, c->visits);
    jkey(o, &g, "conversions"), jnum(o, c->conversions);
    fputc('}', o);
  }
  fputc(']', o);

  jkey(o, &f, "status_codes");
  fputc('[', o);
  for (size_t i = 0; i < r->n_statuses; i++) {
    const bsl_report_status *x = &r->statuses[i];
    bool g = true;
    fputs(i ? ",{" : "{", o);
    jkey(o, &g, "status"), fprintf(o, "%d", x->status);
    jkey(o, &g, "text"), bsl_json_string(o, bsl_report_status_text(x->status));
    jkey(o, &g, "hits"), jnum(o, x->hits);
    jkey(o, &g, "bot_hits"), jnum(o, x->bot_hits);
    fputc('}', o);
  }
  fputc(']', o);

  jkey(o, &f, "not_found");
  if (r->has_not_found) {
    fputc('[', o);
    for (size_t i = 0; i < r->n_not_found; i++) {
      bool g = true;
      fputs(i ? ",{" : "{", o);
      jkey(o, &g, "path"), bsl_json_string(o, r->not_found[i].path);
      jkey(o, &g, "hits"), jnum(o, r->not_found[i].hits);
      fputc('}', o);
    }
    fputc(']', o);
  } else {
    fputs("null", o);
  }

  jkey(o, &f, "devices");
  fputc('[', o);
  for (size_t i = 0; i < r->n_devices; i++) {
    const bsl_report_device *d = &r->devices[i];
    bool g = true;
    fputs(i ? ",{" : "{", o);
    jkey(o, &g, "device"), bsl_json_string(o, d->device);
    jkey(o, &g, "visits"), jnum(o, d->visits);
    jkey(o, &g, "bounces"), jnum(o, d->bounces);
    jkey(o, &g, "conversions"), jnum(o, d->conversions);
    jkey(o, &g, "bounce_rate"), jnum(o, ratio(d->bounces, d->visits));
    jkey(o, &g, "conversion_rate"), jnum(o, ratio(d->conversions, d->visits));
    fputc('}', o);
  }
  fputc(']', o);

  jkey(o, &f, "visits_by_hour");
  fputc('[', o);
  for (int h = 0; h < 24; h++) {
    fputs(h ? "," : "", o);
    jnum(o, r->hours[h]);
  }
  fputc(']', o);
  jkey(o, &f, "timezone"), bsl_json_string(o, r->zone);

  jkey(o, &f, "kpis");
  if (!r->has_kpis) {
    fputs("null", o);
  } else {
    fputc('[', o);
    for (size_t i = 0; i < r->n_kpis; i++) {
      fputs(i ? "," : "", o);
      json_kpi(o, &r->kpis[i]);
    }
    fputc(']', o);
  }
  jkey(o, &f, "notes");
  fputc('[', o);
  bool first_note = true;
  if (!r->has_campaign_logs) {
    bsl_json_string(o, "campaigns_daily is missing: campaigns from visits' "
                       "utm_campaign only");
    first_note = false;
  }
  if (!r->has_kpis) {
    fputs(first_note ? "" : ",", o);
    bsl_json_string(o, "the KPI views are missing: no KPI section");
  }
  fputs("]}\n", o);
  return ferror(o) ? -1 : 0;
}
