/*
 * KPI evaluation (see kpi.h for the rules): builds each KPI's series of
 * closed periods from the aggregates (through store_kpi.h), decides its state
 * with the tests of stats.h, replays earlier periods to know since when the
 * state holds, records status and alerts in one transaction, then hands the
 * alerts to alert_command.
 *
 * The state at a period depends only on the series up to that period and on
 * the adjustments made by then, so `kpi --at` walking through history gives
 * the same answers as a daemon that evaluated at each period's close.
 */
#include "kpi.h"
#include "calendar.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "metrics.h"
#include "stats.h"
#include "store_kpi.h"

static const char *const STATE_NAMES[] = {
    [BSL_KPI_NO_DATA] = "no_data",
    [BSL_KPI_INSUFFICIENT] = "insufficient",
    [BSL_KPI_MET] = "met",
    [BSL_KPI_IMPROVING] = "improving",
    [BSL_KPI_OFF_TRACK] = "off_track",
    [BSL_KPI_DECLINING] = "declining",
    [BSL_KPI_STALLED] = "stalled",
    [BSL_KPI_GRACE] = "grace",
};

const char *bsl_kpi_state_name(enum bsl_kpi_state st) {
  return (unsigned)st < sizeof STATE_NAMES / sizeof *STATE_NAMES
             ? STATE_NAMES[st]
             : "?";
}

bool bsl_kpi_state_flagged(enum bsl_kpi_state st) {
  return st == BSL_KPI_STALLED || st == BSL_KPI_DECLINING ||
         st == BSL_KPI_OFF_TRACK || st == BSL_KPI_NO_DATA;
}

static bool name_flagged(const char *state) {
  return strcmp(state, "stalled") == 0 || strcmp(state, "declining") == 0 ||
         strcmp(state, "off_track") == 0 || strcmp(state, "no_data") == 0;
}

/* Days are cut by config/calendar.c, the one day-cut of the model, KPIs and
 * reports. */

int bsl_kpi_parse_time(const char *text, const char *tz, int64_t *out) {
  int64_t day;
  char date[11];
  if (!text || strlen(text) < 10)
    return -1;
  memcpy(date, text, 10);
  date[10] = '\0';
  if (bsl_day_parse(date, &day) != 0)
    return -1;
  const char *p = text + 10;
  int sec = 0;
  if (*p == 'T' || *p == ' ') {
    p++;
    int h, mi, s = 0, used = 0;
    if (sscanf(p, "%2d:%2d%n", &h, &mi, &used) != 2 || used != 5)
      return -1;
    p += used;
    if (*p == ':') {
      if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
        return -1;
      s = (p[1] - '0') * 10 + (p[2] - '0');
      p += 3;
    }
    if (h > 23 || mi > 59 || s > 60)
      return -1;
    sec = h * 3600 + mi * 60 + s;
  }
  if (*p == 'Z' && !p[1]) {
    *out = day * 86400 + sec;
    return 0;
  }
  if (*p == '+' || *p == '-') {
    int32_t off;
    if (bsl_zone_parse_offset(p, &off) != 0)
      return -1;
    *out = day * 86400 + sec - off;
    return 0;
  }
  if (*p)
    return -1;
  bsl_zone z;
  bsl_zone_init(&z, tz);
  *out = bsl_zone_to_unix(&z, day, sec);
  return 0;
}

/* ---- metrics (the catalogue is config/metrics.c) ---- */

void bsl_kpi_format_slope(const bsl_kpi_conf *k, double slope, char *out,
                          size_t cap) {
  const char *per = k->period == BSL_PERIOD_WEEK ? "week" : "day";
  char change[32];
  bsl_metric_format_trend(k->metric, slope, change, sizeof change);
  if (isfinite(slope))
    snprintf(out, cap, "%s/%s", change, per);
  else
    snprintf(out, cap, "%s", change);
}

/* ---- assessment (pure) ---- */

static size_t period_len(const bsl_kpi_series *s) {
  return s->period == BSL_PERIOD_WEEK ? 7 : 1;
}

/* True when the window (T, Y, WD: period index, value, weekday) shows a
 * weekly cycle; see kpi.h. */
static bool weekly_cycle(const double *t, const double *y, const int *wd,
                         size_t n) {
  if (n < 14)
    return false;
  int per_day[7] = {0};
  for (size_t i = 0; i < n; i++)
    per_day[wd[i]]++;
  for (int d = 0; d < 7; d++)
    if (per_day[d] < 2)
      return false;
  double b, a;
  if (bsl_stats_theil_sen(t, y, NULL, n, &b, &a) != 0)
    return false;
  double *r = malloc(n * sizeof *r);
  if (!r)
    return false;
  for (size_t i = 0; i < n; i++)
    r[i] = y[i] - (a + b * t[i]);
  double h, p;
  int df;
  bool cycle = bsl_stats_kruskal_wallis(r, wd, n, 7, &h, &p, &df) == 0 &&
               p < BSL_KPI_ALPHA;
  free(r);
  return cycle;
}

int bsl_kpi_assess(const bsl_kpi_conf *k, const bsl_kpi_series *s, size_t upto,
                   const size_t *adj, size_t n_adj, bsl_kpi_assessment *out) {
  bsl_kpi_assessment a = {.state = BSL_KPI_NO_DATA,
                          .level = NAN,
                          .last = NAN,
                          .slope = NAN,
                          .intercept = NAN,
                          .p_value = NAN,
                          .s = NAN,
                          .projected = NAN,
                          .needed = NAN};
  if (upto > s->n)
    upto = s->n;
  size_t window = k->window > 0 ? (size_t)k->window : 28;
  size_t lo = upto > window ? upto - window : 0;
  double *t = malloc((upto - lo + 1) * sizeof *t);
  double *y = malloc((upto - lo + 1) * sizeof *y);
  int *wd = malloc((upto - lo + 1) * sizeof *wd);
  if (!t || !y || !wd) {
    free(t), free(y), free(wd);
    return -1;
  }
  size_t n = 0;
  for (size_t i = lo; i < upto; i++) {
    if (isnan(s->value[i]))
      continue;
    t[n] = (double)i;
    y[n] = s->value[i];
    wd[n] = bsl_day_weekday(s->first_day + (int64_t)i);
    n++;
  }
  a.observations = n;
  bool recent = false;
  for (size_t i = upto > BSL_KPI_SILENT_PERIODS ? upto - BSL_KPI_SILENT_PERIODS
                                                : 0;
       i < upto; i++)
    if (!isnan(s->value[i]))
      recent = true;
  if (n > 0) {
    size_t m = n < BSL_KPI_MIN_OBS ? n : BSL_KPI_MIN_OBS;
    bsl_stats_median(y + n - m, m, &a.level);
    a.last = y[n - 1];
  }
  for (size_t j = 0; j < n_adj; j++)
    if (upto > 0 && adj[j] <= upto - 1 && upto - 1 - adj[j] < window / 2)
      a.in_grace = true;
  if (!recent) {
    /* The series starts on the first day of data, so UPTO is the number of
     * periods since the data began: before 3 of them the silence says
     * nothing about tracking (a deployment's first days, a segment not
     * seen yet). */
    a.state =
        upto < BSL_KPI_SILENT_PERIODS ? BSL_KPI_INSUFFICIENT : BSL_KPI_NO_DATA;
    goto out;
  }
  if (n < BSL_KPI_MIN_OBS) {
    a.state = BSL_KPI_INSUFFICIENT;
    goto out;
  }

  /* The trend over the window: seasonal for a daily KPI with a weekly
   * cycle, plain otherwise. */
  bsl_mk_result mk;
  a.seasonal = s->period == BSL_PERIOD_DAY && weekly_cycle(t, y, wd, n);
  int rc = a.seasonal ? bsl_stats_seasonal_mann_kendall(y, wd, n, 7, &mk)
                      : bsl_stats_mann_kendall(y, n, &mk);
  if (rc != 0 || bsl_stats_theil_sen(t, y, a.seasonal ? wd : NULL, n, &a.slope,
                                     &a.intercept) != 0) {
    free(t), free(y), free(wd);
    return -1;
  }
  a.p_value = mk.p;
  a.s = mk.s;
  int64_t deadline;
  if (k->has_target && k->deadline[0] &&
      bsl_day_parse(k->deadline, &deadline) == 0) {
    double td = (double)(deadline - s->first_day) / (double)period_len(s);
    double now = (double)(upto - 1);
    if (td < now)
      td = now; /* past the deadline: where it is now */
    /* a straight line knows no bounds: a rate stays within 0-100% */
    a.projected = bsl_metric_clamp(k->metric, a.intercept + a.slope * td);
    if (td > now)
      a.needed = (k->target - (a.intercept + a.slope * now)) / (td - now);
  }
  bool met = k->has_target &&
             (k->direction >= 0 ? a.level >= k->target : a.level <= k->target);
  int dir = k->direction >= 0 ? 1 : -1;
  bool significant = mk.p < BSL_KPI_ALPHA && mk.s != 0;
  int trend = mk.s > 0 ? 1 : -1;
  double med;
  bsl_stats_median(y, n, &med);
  if (met) {
    a.state = BSL_KPI_MET;
  } else if (significant && trend == dir) {
    bool moves = fabs(a.slope) * (double)window >= k->min_change * fabs(med) &&
                 a.slope * dir > 0;
    if (!moves)
      a.state = BSL_KPI_STALLED;
    else if (!isnan(a.projected) &&
             (dir > 0 ? a.projected < k->target : a.projected > k->target))
      a.state = BSL_KPI_OFF_TRACK;
    else
      a.state = BSL_KPI_IMPROVING;
  } else if (significant) {
    a.state = BSL_KPI_DECLINING;
  } else {
    a.state = BSL_KPI_STALLED;
  }
  if (a.state == BSL_KPI_STALLED && a.in_grace)
    a.state = BSL_KPI_GRACE;

out:
  free(t), free(y), free(wd);
  *out = a;
  return 0;
}

int bsl_kpi_effect_of(const bsl_kpi_series *s, size_t upto, size_t p,
                      size_t end, bsl_kpi_effect *out) {
  if (upto > s->n)
    upto = s->n;
  if (end > upto)
    end = upto;
  size_t na = 0;
  for (size_t i = p + 1; i < end; i++)
    na += !isnan(s->value[i]);
  if (na < 3)
    return 0;
  double *after = malloc(na * sizeof *after);
  double *before = malloc(na * sizeof *before);
  if (!after || !before) {
    free(after), free(before);
    return -1;
  }
  size_t ia = 0, ib = 0;
  for (size_t i = p + 1; i < end; i++)
    if (!isnan(s->value[i]))
      after[ia++] = s->value[i];
  for (size_t i = p; i-- > 0 && ib < na;)
    if (!isnan(s->value[i]))
      before[ib++] = s->value[i];
  int found = 0;
  bsl_mwu_result mw;
  if (ib >= 3 && bsl_stats_mann_whitney(after, na, before, ib, &mw) == 0) {
    bsl_kpi_effect e = {.n_before = ib, .n_after = na, .p_value = mw.p};
    bsl_stats_mean(after, na, &e.mean_after);
    bsl_stats_mean(before, ib, &e.mean_before);
    e.effect = e.mean_after - e.mean_before;
    *out = e;
    found = 1;
  }
  free(after), free(before);
  return found;
}

/* ---- building a series from the store ---- */

struct builder {
  int64_t first; /* day number of index 0 */
  size_t ndays;
  double *visits, *visitors, *bounces, *conv, *vclicks;
  double *pv, *scroll_sum, *scroll75, *clicks;
  double *delivered, *opens, *cclicks, *spend;
  double *crow; /* 1 when the campaign logs have that day */
};

static int take_day(struct builder *b, const char *day, size_t *idx) {
  int64_t d;
  if (bsl_day_parse(day, &d) != 0 || d < b->first ||
      (size_t)(d - b->first) >= b->ndays)
    return 0;
  *idx = (size_t)(d - b->first);
  return 1;
}

static int visits_cb(void *ctx, const char *day, const double *c, int nc) {
  struct builder *b = ctx;
  size_t i;
  (void)nc;
  if (take_day(b, day, &i)) {
    b->visits[i] = c[0], b->visitors[i] = c[1], b->bounces[i] = c[2];
    b->conv[i] = c[3], b->vclicks[i] = c[4];
  }
  return 0;
}

static int pages_cb(void *ctx, const char *day, const double *c, int nc) {
  struct builder *b = ctx;
  size_t i;
  (void)nc;
  if (take_day(b, day, &i))
    b->pv[i] = c[0], b->scroll_sum[i] = c[1], b->scroll75[i] = c[2];
  return 0;
}

static int clicks_cb(void *ctx, const char *day, const double *c, int nc) {
  struct builder *b = ctx;
  size_t i;
  (void)nc;
  if (take_day(b, day, &i))
    b->clicks[i] = c[0];
  return 0;
}

static int campaigns_cb(void *ctx, const char *day, const double *c, int nc) {
  struct builder *b = ctx;
  size_t i;
  (void)nc;
  if (take_day(b, day, &i)) {
    b->delivered[i] = c[0], b->opens[i] = c[1], b->cclicks[i] = c[2];
    b->spend[i] = c[3];
    b->crow[i] = 1;
  }
  return 0;
}

static void kpi_where(const bsl_config *cfg, const bsl_kpi_conf *k, char *err,
                      size_t errlen, const char *what) {
  snprintf(err, errlen, "%s:%d: [kpi \"%s\"] %s",
           cfg->file ? cfg->file : "(defaults)", k->line, k->name, what);
}

/* A filter on a dimension of the visit (not the page's path): click
 * beacons are then counted from the visits. */
static bool segment_filter(const bsl_kpi_conf *k) {
  return k->filter_key && strcmp(k->filter_key, "path") != 0;
}

/* Numerator and denominator (or base) of metric M on day I. */
static void day_parts(const bsl_metric *m, bool segment,
                      const struct builder *b, size_t i, double *num,
                      double *den) {
  double clicks = segment ? b->vclicks[i] : b->clicks[i];
  *num = 0, *den = 0;
  switch (m->id) {
  case BSL_METRIC_PAGEVIEWS:
    *num = b->pv[i], *den = b->pv[i];
    break;
  case BSL_METRIC_VISITS:
    *num = b->visits[i], *den = b->visits[i];
    break;
  case BSL_METRIC_VISITORS:
    *num = b->visitors[i], *den = b->visits[i];
    break;
  case BSL_METRIC_BOUNCE_RATE:
    *num = b->bounces[i], *den = b->visits[i];
    break;
  case BSL_METRIC_CONVERSIONS:
  case BSL_METRIC_CONVERSION_RATE:
    *num = b->conv[i], *den = b->visits[i];
    break;
  case BSL_METRIC_AVG_SCROLL_DEPTH:
    *num = b->scroll_sum[i], *den = b->pv[i];
    break;
  case BSL_METRIC_SCROLL_RATE:
    *num = b->scroll75[i], *den = b->pv[i];
    break;
  case BSL_METRIC_CLICKS:
    *num = clicks, *den = segment ? b->visits[i] : b->pv[i] + clicks;
    break;
  case BSL_METRIC_CLICK_RATE:
    *num = clicks, *den = b->pv[i];
    break;
  case BSL_METRIC_OPEN_RATE:
    *num = b->opens[i], *den = b->delivered[i];
    break;
  case BSL_METRIC_CAMPAIGN_CLICK_RATE:
    *num = b->cclicks[i], *den = b->delivered[i];
    break;
  case BSL_METRIC_COST_PER_CONVERSION:
    *num = b->spend[i], *den = b->crow[i] ? b->conv[i] : 0;
    break;
  case BSL_METRIC_N:
    break;
  }
}

/*
 * Builds K's series over days FIRST..LAST (day numbers; periods aligned to
 * Monday for weeks, only complete-by-LAST weeks kept).  Returns 0 or -1.
 */
static int build_series(const bsl_config *cfg, bsl_store *st,
                        const bsl_kpi_conf *k, int64_t first, int64_t last,
                        bsl_kpi_series *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->period = k->period;
  size_t L = k->period == BSL_PERIOD_WEEK ? 7 : 1;
  if (L == 7) {
    first -= bsl_day_weekday(first);         /* Monday of the first week */
    last = last - bsl_day_weekday(last + 1); /* last closed Sunday */
  }
  s->first_day = (int32_t)first;
  if (last < first)
    return 0;
  size_t ndays = (size_t)(last - first + 1);
  s->n = ndays / L;
  s->value = malloc((s->n ? s->n : 1) * sizeof *s->value);
  s->count = malloc((s->n ? s->n : 1) * sizeof *s->count);
  struct builder b = {.first = first, .ndays = ndays};
  double **cols[] = {&b.visits,  &b.visitors,  &b.bounces,    &b.conv,
                     &b.vclicks, &b.pv,        &b.scroll_sum, &b.scroll75,
                     &b.clicks,  &b.delivered, &b.opens,      &b.cclicks,
                     &b.spend,   &b.crow};
  size_t ncols = sizeof cols / sizeof *cols;
  bool oom = !s->value || !s->count;
  for (size_t c = 0; c < ncols; c++)
    if (!(*cols[c] = calloc(ndays, sizeof(double))))
      oom = true;
  int rc = 0;
  if (oom) {
    kpi_where(cfg, k, err, errlen, "out of memory");
    rc = -1;
    goto out;
  }
  char from[11], to[11];
  bsl_day_format(first, from);
  bsl_day_format(last, to);
  const char *m = k->metric;
  const char *fk = k->filter_key, *fv = k->filter_value;
  const bsl_metric *metric = bsl_metric_find(m);
  if (!metric || (bsl_metric_reads_campaigns(metric) && fk &&
                  strcmp(fk, "campaign") != 0)) {
    char what[256];
    if (!metric)
      snprintf(what, sizeof what, "metric: unknown metric \"%s\"", m);
    else
      snprintf(what, sizeof what,
               "filter: %s is not available for metric %s (only campaign)", fk,
               m);
    kpi_where(cfg, k, err, errlen, what);
    rc = -1;
    goto out;
  }
  bool segment = segment_filter(k);
  unsigned src = segment ? metric->segment_sources : metric->sources;
  if ((src & BSL_METRIC_SRC_VISITS) &&
      bsl_store_kpi_days(st, BSL_KPI_SRC_VISITS, fk, fv, k->goal, from, to,
                         visits_cb, &b) != 0)
    rc = -1;
  if (rc == 0 && (src & BSL_METRIC_SRC_PAGES) &&
      bsl_store_kpi_days(st, BSL_KPI_SRC_PAGES, fk, fv, NULL, from, to,
                         pages_cb, &b) != 0)
    rc = -1;
  if (rc == 0 && (src & BSL_METRIC_SRC_CLICKS) &&
      bsl_store_kpi_days(st, BSL_KPI_SRC_CLICKS, fk, fv, NULL, from, to,
                         clicks_cb, &b) != 0)
    rc = -1;
  if (rc == 0 && (src & BSL_METRIC_SRC_CAMPAIGNS) &&
      bsl_store_kpi_days(st, BSL_KPI_SRC_CAMPAIGNS, fk, fv, NULL, from, to,
                         campaigns_cb, &b) != 0)
    rc = -1;
  if (rc != 0) {
    char what[700];
    snprintf(what, sizeof what, "metric %s: %s", m, bsl_store_error(st));
    kpi_where(cfg, k, err, errlen, what);
    goto out;
  }
  bool sum = metric->kind == BSL_METRIC_COUNT;
  for (size_t p = 0; p < s->n; p++) {
    double num = 0, den = 0;
    for (size_t d = p * L; d < (p + 1) * L; d++) {
      double a, c;
      day_parts(metric, segment, &b, d, &a, &c);
      num += a, den += c;
    }
    s->count[p] = (int64_t)llround(den);
    if (den <= 0)
      s->value[p] = NAN;
    else
      s->value[p] = sum ? num : num / den;
  }
out:
  for (size_t c = 0; c < ncols; c++)
    free(*cols[c]);
  if (rc != 0) {
    free(s->value), free(s->count);
    s->value = NULL, s->count = NULL, s->n = 0;
  }
  return rc;
}

static void series_free(bsl_kpi_series *s) {
  free(s->value);
  free(s->count);
}

/* ---- evaluation ---- */

struct adj_list {
  size_t n, cap;
  int64_t *id;
  int64_t *at_unix;
  char (*at)[32];
  char (*note)[256];
};

static int adj_cb(void *ctx, int64_t id, const char *at, int64_t at_unix,
                  const char *note) {
  struct adj_list *l = ctx;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 8;
    int64_t *ni = realloc(l->id, nc * sizeof *ni);
    if (!ni)
      return -1;
    l->id = ni;
    int64_t *nu = realloc(l->at_unix, nc * sizeof *nu);
    if (!nu)
      return -1;
    l->at_unix = nu;
    char(*na)[32] = realloc(l->at, nc * sizeof *na);
    if (!na)
      return -1;
    l->at = na;
    char(*nn)[256] = realloc(l->note, nc * sizeof *nn);
    if (!nn)
      return -1;
    l->note = nn;
    l->cap = nc;
  }
  l->id[l->n] = id;
  l->at_unix[l->n] = at_unix;
  snprintf(l->at[l->n], 32, "%s", at);
  snprintf(l->note[l->n], 256, "%s", note);
  l->n++;
  return 0;
}

static void adj_free(struct adj_list *l) {
  free(l->id), free(l->at_unix), free(l->at), free(l->note);
}

void bsl_kpi_effect_verdict(const char *metric, int direction, double effect,
                            double p_value, char *out, size_t cap) {
  char d[32], p[16];
  if (isnan(effect)) {
    snprintf(out, cap, "not measured yet (3 periods after it are needed)");
    return;
  }
  bsl_metric_format_change(metric, effect, d, sizeof d);
  bsl_metric_format_p(p_value, p, sizeof p);
  if (!(p_value < BSL_KPI_ALPHA)) {
    snprintf(out, cap, "no measurable effect yet (%s, %s: could be chance)", d,
             p);
    return;
  }
  const char *judged = "";
  if (direction != 0 && effect != 0)
    judged =
        (effect > 0) == (direction > 0) ? ": an improvement" : ": a setback";
  snprintf(out, cap, "%s, significant (%s)%s", d, p, judged);
}

/* Appends to the message being written (cut at its end). */
__attribute__((format(printf, 2, 3))) static void add(bsl_kpi_result *r,
                                                      const char *fmt, ...) {
  size_t used = strlen(r->message);
  if (used + 1 >= sizeof r->message)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->message + used, sizeof r->message - used, fmt, ap);
  va_end(ap);
}

/* A note quoted in a message: at most 80 bytes, cut at a character. */
static void short_note(const char *note, char out[96]) {
  size_t n = strlen(note);
  if (n <= 80) {
    snprintf(out, 96, "%s", note);
    return;
  }
  n = 77;
  while (n > 0 && ((unsigned char)note[n] & 0xC0) == 0x80)
    n--;
  snprintf(out, 96, "%.*s...", (int)n, note);
}

/* What to check when K has no data: where its observations come from. */
static const char *no_data_check(const bsl_config *cfg, const bsl_kpi_conf *k,
                                 char *buf, size_t cap) {
  const bsl_metric *m = bsl_metric_find(k->metric);
  unsigned src = m ? m->sources : 0;
  if (src & BSL_METRIC_SRC_CAMPAIGNS)
    return "check that the campaign log source is still read and still "
           "lists this campaign (boussole check, the sources view)";
  if (src & (BSL_METRIC_SRC_CLICKS)) {
    snprintf(buf, cap,
             "check that the tracking beacon (%s) is still on the pages and "
             "that the access log is still read (boussole check, the sources "
             "view)",
             cfg && cfg->beacon_path ? cfg->beacon_path : "/collect");
    return buf;
  }
  if (k->filter_key) {
    snprintf(buf, cap,
             "check that the pages still carry the tag behind %s=%s, and that "
             "the access log is still read (boussole check, the sources view)",
             k->filter_key, k->filter_value ? k->filter_value : "");
    return buf;
  }
  return "check that the site still writes the access log boussole reads, "
         "and that the tracking tag/beacon is still on the pages (boussole "
         "check, the sources view)";
}

/* Whether VALUE meets K's target. */
static bool meets(const bsl_kpi_conf *k, double value) {
  return k->has_target && !isnan(value) &&
         (k->direction >= 0 ? value >= k->target : value <= k->target);
}

/* Every number goes through the metric catalogue (a change of a
 * percentage in points) and every p-value through bsl_metric_format_p. */
void bsl_kpi_describe(const bsl_config *cfg, const bsl_kpi_conf *k,
                      bsl_kpi_result *r) {
  char val[32], tgt[32], slope[48], proj[32], p[16], tail[160] = "";
  bsl_metric_format(k->metric, r->a.level, val, sizeof val);
  bsl_metric_format(k->metric, r->target, tgt, sizeof tgt);
  bsl_metric_format(k->metric, r->a.projected, proj, sizeof proj);
  bsl_kpi_format_slope(k, r->a.slope, slope, sizeof slope);
  bsl_metric_format_p(r->a.p_value, p, sizeof p);
  int len = k->period == BSL_PERIOD_WEEK ? 7 : 1;
  const char *per = len == 7 ? "week" : "day";
  int days = r->periods_in_state * len;
  const char *unit = days == 1 ? "day" : "days";
  int window = (k->window > 0 ? k->window : 28) * len;
  if (k->has_target && k->deadline[0])
    snprintf(tail, sizeof tail, "; target %s by %s", tgt, k->deadline);
  else if (k->has_target)
    snprintf(tail, sizeof tail, "; target %s", tgt);
  const char *n = k->name;
  r->message[0] = '\0';
  switch (r->state) {
  case BSL_KPI_NO_DATA: {
    char buf[256];
    add(r,
        "%s has had no data for %d %s (not one measurement in %d %ss or "
        "more), "
        "so its tracking is probably broken%s. Next step: %s.",
        n, days, unit, BSL_KPI_SILENT_PERIODS, per, tail,
        no_data_check(cfg, k, buf, sizeof buf));
    break;
  }
  case BSL_KPI_INSUFFICIENT:
    add(r,
        "%s has %zu of the %d measured %ss needed before its trend can be "
        "judged",
        n, r->a.observations, BSL_KPI_MIN_OBS, per);
    if (r->n_periods < BSL_KPI_SILENT_PERIODS)
      add(r, " (%zu closed %s%s since the data began)", r->n_periods, per,
          r->n_periods == 1 ? "" : "s");
    add(r, "%s.", tail);
    break;
  case BSL_KPI_MET:
    add(r,
        "%s meets its target: %s (the median of its last %d %ss) against "
        "%s, for %d %s.",
        n, val, BSL_KPI_MIN_OBS, per, tgt, days, unit);
    break;
  case BSL_KPI_IMPROVING:
    add(r, "%s is improving: %s, moving %s, a real trend (%s), not chance", n,
        val, slope, p);
    if (!isnan(r->a.projected))
      add(r, "; at this pace it reaches %s by %s (target %s)", proj,
          k->deadline, tgt);
    else
      add(r, "%s", tail);
    add(r, ".");
    break;
  case BSL_KPI_OFF_TRACK: {
    char need[48];
    bsl_kpi_format_slope(k, r->a.needed, need, sizeof need);
    add(r,
        "%s is improving, but too slowly: %s, moving %s (a real trend, %s); "
        "at this pace it reaches %s by %s, short of the target %s, off "
        "track for %d %s.",
        n, val, slope, p, proj, k->deadline, tgt, days, unit);
    if (!isnan(r->a.needed))
      add(r, " To reach the target it needs about %s from now on.", need);
    add(r,
        " Next step: look for a bigger lever (boussole diagnose shows the "
        "segments that convert or bounce differently) and record the change "
        "with boussole adjust %s --note TEXT.",
        n);
    break;
  }
  case BSL_KPI_DECLINING:
    add(r,
        "%s is declining: %s, moving %s for %d %s, a real trend (%s), not "
        "chance%s. Next step: run boussole diagnose --from %s to find the "
        "segment (channel, campaign, landing page, device) driving it.",
        n, val, slope, days, unit, p, tail, r->since);
    break;
  case BSL_KPI_STALLED: {
    int dir = k->direction >= 0 ? 1 : -1;
    bool real = r->a.p_value < BSL_KPI_ALPHA && r->a.s != 0 &&
                (r->a.s > 0 ? 1 : -1) == dir;
    add(r, "%s has stalled at %s for %d %s: ", n, val, days, unit);
    if (real)
      add(r,
          "it moves only %s (a real trend, %s, but less than %.0f%% of its "
          "level over %d days: too little to count as progress)",
          slope, p, k->min_change * 100, window);
    else if (r->a.slope == 0)
      add(r, "no real trend over the last %d days (it is flat, %s)", window, p);
    else
      add(r,
          "no real trend over the last %d days (its drift of %s could be "
          "chance, %s)",
          window, slope, p);
    add(r, "%s.", tail);
    if (!isnan(r->a.projected) && meets(k, r->a.projected))
      add(r,
          " The straight line through those days would reach %s by %s, but "
          "%s, so that projection is not to be relied on.",
          proj, k->deadline,
          real ? "at a pace too small to count"
               : "the trend is not significant");
    if (r->n_adjustments > 0) {
      char note[96], verdict[160];
      short_note(r->note, note);
      bsl_kpi_effect_verdict(
          k->metric, dir, r->has_effect ? r->effect.effect : NAN,
          r->has_effect ? r->effect.p_value : NAN, verdict, sizeof verdict);
      add(r,
          " Tried so far: %zu recorded change%s, the last on %.10s (\"%s\"): "
          "%s. Next step: try something else and record it with boussole "
          "adjust %s --note TEXT.",
          r->n_adjustments, r->n_adjustments == 1 ? "" : "s", r->adjusted_at,
          note, verdict, n);
    } else {
      add(r,
          " Nothing has been recorded as tried for it. Next step: change "
          "something (the page, the offer, the campaign) and record it with "
          "boussole adjust %s --note TEXT, so that its effect is measured.",
          n);
    }
    break;
  }
  case BSL_KPI_GRACE:
    add(r,
        "%s is not moving yet, but it was adjusted on %.10s: the effect is "
        "being measured, and it is not flagged stalled for %d %ss after the "
        "change%s.",
        n, r->adjusted_at, (k->window > 0 ? k->window : 28) / 2, per, tail);
    break;
  }
}

/* Number of periods the replay for `since` may cover: keeps a large window
 * (Theil–Sen is O(window^2 log window)) from stalling an evaluation. */
static size_t replay_budget(const bsl_kpi_conf *k) {
  double w = k->window > 0 ? k->window : 28;
  double b = 5e7 / (w * w + 1);
  return b < 1 ? 1 : (size_t)b;
}

static int period_index_of(const bsl_kpi_series *s, const bsl_zone *z,
                           int64_t t, size_t *out) {
  int64_t d = bsl_zone_day_of(z, t) - s->first_day;
  if (d < 0) {
    *out = 0;
    return -1; /* before the series: never in it */
  }
  *out = (size_t)d / period_len(s);
  return 0;
}

static void period_names(const bsl_kpi_series *s, size_t i, char label[16],
                         char start[11]) {
  int64_t day = s->first_day + (int64_t)(i * period_len(s));
  bsl_day_format(day, start);
  if (s->period == BSL_PERIOD_WEEK)
    bsl_week_label(day, label);
  else
    snprintf(label, 16, "%s", start);
}

/* Whether an evaluation at EVAL_UNIX (a backtest when BACKTEST, at clock
 * NOW) becomes the recorded one, given the recorded state (HAVE, STORED). */
static bool records(bool backtest, int64_t eval_unix, int64_t now, bool have,
                    const bsl_kpi_stored *stored) {
  if (!backtest)
    return true;
  /* A backtest replays history into a store no real evaluation has written
   * to, day after day; it never stamps a state in the future, where it
   * would freeze the real evaluations to come. */
  if (eval_unix > now)
    return false;
  return !have || (stored->backtest && eval_unix >= stored->evaluated_unix);
}

/* The text of a raise, or of a resolve ("KPI is no longer STATE: ..."). */
static void event_message(const bsl_kpi_result *r, const char *event, char *out,
                          size_t cap) {
  if (strcmp(event, "raised") == 0)
    snprintf(out, cap, "%s", r->message);
  else
    snprintf(out, cap, "%s is no longer %s: %s", r->name, r->previous_state,
             r->message);
}

/* Queues the delivery of one raise or resolve (in the evaluation's
 * transaction, so a crash never loses nor duplicates it). */
static int queue_delivery(bsl_store *st, const bsl_kpi_result *r,
                          const char *event, long long id, const char *at,
                          int64_t now, char *err, size_t errlen) {
  char message[1400];
  event_message(r, event, message, sizeof message);
  bsl_alert_event ev = {
      .event = event,
      .kpi = r->name,
      .state = bsl_kpi_state_name(r->state),
      .previous_state = r->previous_state[0] ? r->previous_state : NULL,
      .value = r->a.level,
      .target = r->target,
      .slope = r->a.slope,
      .p_value = r->a.p_value,
      .since = r->since,
      .message = message,
      .alert_id = id,
      .at = at,
  };
  char json[4096];
  if (bsl_alert_json(&ev, json, sizeof json) < 0) {
    snprintf(err, errlen, "alert for %s: message too long", r->name);
    return -1;
  }
  if (bsl_store_kpi_delivery_add(st, id, r->name, event, json, now) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(st));
    return -1;
  }
  return 0;
}

static int evaluate_one(const bsl_config *cfg, bsl_store *st,
                        const bsl_kpi_conf *k, const bsl_zone *z, int64_t first,
                        int64_t horizon, int64_t eval_unix,
                        const char *eval_iso, const bsl_kpi_eval_options *o,
                        bool *recording, bsl_kpi_result *r, char *err,
                        size_t errlen) {
  bool backtest = o->at_day != NULL;
  bsl_kpi_series s;
  if (build_series(cfg, st, k, first, horizon, &s, err, errlen) != 0)
    return -1;
  struct adj_list adj = {0};
  size_t *adj_p = NULL, n_adj = 0;
  int rc = -1;
  if (bsl_store_kpi_adjust_list(st, k->name, eval_unix, adj_cb, &adj) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(st));
    goto out;
  }
  adj_p = malloc((adj.n ? adj.n : 1) * sizeof *adj_p);
  if (!adj_p) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  for (size_t j = 0; j < adj.n; j++) {
    size_t p;
    if (period_index_of(&s, z, adj.at_unix[j], &p) == 0)
      adj_p[n_adj++] = p;
  }

  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", k->name);
  snprintf(r->metric, sizeof r->metric, "%s", k->metric);
  r->period = k->period;
  r->target = k->has_target ? k->target : NAN;
  snprintf(r->deadline, sizeof r->deadline, "%s", k->deadline);
  bsl_day_format(horizon, r->horizon);
  r->n_periods = s.n;
  r->n_adjustments = adj.n;
  r->window = k->window > 0 ? k->window : 28;
  r->direction = k->direction >= 0 ? 1 : -1;
  if (adj.n) {
    r->adjusted = true;
    snprintf(r->adjusted_at, sizeof r->adjusted_at, "%s", adj.at[adj.n - 1]);
    snprintf(r->note, sizeof r->note, "%s", adj.note[adj.n - 1]);
  }
  if (bsl_kpi_assess(k, &s, s.n, adj_p, n_adj, &r->a) != 0) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  r->state = r->a.state;
  r->flagged = bsl_kpi_state_flagged(r->state);

  bsl_kpi_stored stored;
  int have = bsl_store_kpi_state_get(st, k->name, &stored);
  if (have < 0) {
    snprintf(err, errlen, "%s", bsl_store_error(st));
    goto out;
  }
  *recording = records(backtest, eval_unix, o->now, have == 1, &stored);
  r->recorded = *recording;
  if (have)
    snprintf(r->previous_state, sizeof r->previous_state, "%s", stored.state);

  /* since: the earliest period of the current run of this state */
  const char *name = bsl_kpi_state_name(r->state);
  size_t since_i = s.n ? s.n - 1 : 0;
  bool from_store = false;
  if (*recording && have && strcmp(stored.state, name) == 0) {
    snprintf(r->since, sizeof r->since, "%s", stored.since);
    from_store = true;
  }
  if (from_store) {
    int64_t sd;
    if (s.n > 0 && bsl_day_parse(stored.since, &sd) == 0 && sd >= s.first_day &&
        (size_t)(sd - s.first_day) / period_len(&s) < s.n)
      since_i = (size_t)(sd - s.first_day) / period_len(&s);
    r->periods_in_state = s.n ? (int)(s.n - since_i) : 0;
  } else if (s.n > 0) {
    /* Replay earlier periods back to the last change of state. */
    size_t lower = 0, budget = replay_budget(k);
    if (s.n - 1 > budget)
      lower = s.n - 1 - budget;
    for (size_t i = s.n - 1; i-- > lower;) {
      bsl_kpi_assessment prev;
      if (bsl_kpi_assess(k, &s, i + 1, adj_p, n_adj, &prev) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
      }
      if (prev.state != r->state)
        break;
      since_i = i;
    }
    char label[16];
    period_names(&s, since_i, label, r->since);
    r->periods_in_state = (int)(s.n - since_i);
  } else {
    bsl_day_format(horizon, r->since);
    r->periods_in_state = 0;
  }

  /* the latest adjustment's effect */
  for (size_t j = 0; j < n_adj; j++) {
    size_t end = j + 1 < n_adj ? adj_p[j + 1] : SIZE_MAX;
    bsl_kpi_effect e;
    int found = bsl_kpi_effect_of(&s, s.n, adj_p[j], end, &e);
    if (found < 0) {
      snprintf(err, errlen, "out of memory");
      goto out;
    }
    if (j + 1 == n_adj && found) {
      r->has_effect = true;
      r->effect = e;
    }
    if (*recording &&
        bsl_store_kpi_adjust_effect(
            st, adj.id[j], found ? e.effect : NAN, found ? e.p_value : NAN,
            found ? e.mean_before : NAN, found ? e.mean_after : NAN,
            found ? (int64_t)e.n_before : 0,
            found ? (int64_t)e.n_after : 0) != 0) {
      snprintf(err, errlen, "%s", bsl_store_error(st));
      goto out;
    }
  }
  bsl_kpi_describe(cfg, k, r);

  if (*recording) {
    if (bsl_store_kpi_series_clear(st, k->name) != 0)
      goto out_store;
    for (size_t i = 0; i < s.n; i++) {
      char label[16], start[11];
      period_names(&s, i, label, start);
      if (bsl_store_kpi_series_put(st, k->name, label, start, s.value[i],
                                   s.count[i]) != 0)
        goto out_store;
    }
    char plabel[16] = "", pstart[11];
    if (s.n)
      period_names(&s, s.n - 1, plabel, pstart);
    bsl_kpi_status_row row = {
        .kpi = k->name,
        .metric = k->metric,
        .state = name,
        .since = r->since,
        .period = s.n ? plabel : NULL,
        .value = r->a.level,
        .last_value = r->a.last,
        .slope = r->a.slope,
        .intercept = r->a.intercept,
        .p_value = r->a.p_value,
        .seasonal = r->a.seasonal,
        .observations = (int64_t)r->a.observations,
        .target = r->target,
        .deadline = k->deadline[0] ? k->deadline : NULL,
        .projected = r->a.projected,
        .adjusted_at = r->adjusted ? r->adjusted_at : NULL,
        .effect = r->has_effect ? r->effect.effect : NAN,
        .effect_p_value = r->has_effect ? r->effect.p_value : NAN,
        .message = r->message,
        .evaluated_at = eval_iso,
        .evaluated_unix = eval_unix,
        .backtest = backtest,
    };
    if (bsl_store_kpi_state_put(st, &row) != 0)
      goto out_store;
    const char *prev = have ? stored.state : "";
    if (strcmp(prev, name) != 0) {
      int64_t id = 0;
      if (*prev && name_flagged(prev)) {
        if (bsl_store_kpi_alert_resolve(st, k->name, eval_iso, name, &id) != 0)
          goto out_store;
        r->resolved_id = id;
      }
      if (r->flagged) {
        if (bsl_store_kpi_alert_raise(st, k->name, name, prev, eval_iso,
                                      r->message, &id) != 0)
          goto out_store;
        r->raised_id = id;
      }
      if (r->raised_id || r->resolved_id)
        snprintf(r->event, sizeof r->event, "%s",
                 r->raised_id ? "raised" : "resolved");
      bool deliver = o->fire_alerts && cfg->alert_command;
      if (deliver && r->resolved_id &&
          queue_delivery(st, r, "resolved", r->resolved_id, eval_iso, o->now,
                         err, errlen) != 0)
        goto out;
      if (deliver && r->raised_id &&
          queue_delivery(st, r, "raised", r->raised_id, eval_iso, o->now, err,
                         errlen) != 0)
        goto out;
    }
  }
  rc = 0;
  goto out;
out_store:
  snprintf(err, errlen, "%s", bsl_store_error(st));
out:
  free(adj_p);
  adj_free(&adj);
  series_free(&s);
  return rc;
}

/* Parses and checks a backtest day (see bsl_kpi_check_at) into *DAY. */
static int check_at(const bsl_config *cfg, const bsl_zone *z,
                    const char *at_day, int64_t now, int64_t *day, char *err,
                    size_t errlen) {
  if (strlen(at_day) != 10 || bsl_day_parse(at_day, day) != 0) {
    snprintf(err, errlen, "--at: \"%s\" is not a date YYYY-MM-DD", at_day);
    return -1;
  }
  int64_t today = bsl_zone_day_of(z, now);
  if (*day > today) {
    char t[11];
    bsl_day_format(today, t);
    snprintf(err, errlen,
             "--at %s: after today (%s, %s); a backtest evaluates a day that "
             "has begun",
             at_day, t, cfg->timezone ? cfg->timezone : "UTC");
    return -1;
  }
  return 0;
}

int bsl_kpi_check_at(const bsl_config *cfg, const char *at_day, int64_t now,
                     char *err, size_t errlen) {
  bsl_zone z;
  bsl_zone_init(&z, cfg->timezone);
  int64_t day;
  return check_at(cfg, &z, at_day, now, &day, err, errlen);
}

/* First and last closed day (day numbers) for the options; *none when the
 * database holds no data at all. */
static int horizon_of(const bsl_config *cfg, bsl_store *st, const bsl_zone *z,
                      const bsl_kpi_eval_options *o, int64_t *first,
                      int64_t *horizon, bool *none, char *err, size_t errlen) {
  bool campaigns = false;
  for (size_t i = 0; i < cfg->n_kpis; i++)
    campaigns = campaigns || bsl_metric_reads_campaigns(
                                 bsl_metric_find(cfg->kpis[i].metric));
  char f[11], l[11];
  int64_t newest;
  if (bsl_store_kpi_range(st, campaigns, f, l, &newest) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(st));
    return -1;
  }
  if (o->at_day) {
    if (check_at(cfg, z, o->at_day, o->now, horizon, err, errlen) != 0)
      return -1;
  } else {
    int64_t x = o->now;
    if (newest != INT64_MIN && newest > x)
      x = newest;
    *horizon = bsl_zone_day_of(z, x - BSL_KPI_GRACE_SECONDS) - 1;
  }
  *none = !f[0] || bsl_day_parse(f, first) != 0;
  if (*none)
    *first = *horizon + 1;
  return 0;
}

int bsl_kpi_closed_through(const bsl_config *cfg, bsl_store *store, int64_t now,
                           char day[11], char *err, size_t errlen) {
  bsl_zone z;
  bsl_zone_init(&z, cfg->timezone);
  bsl_kpi_eval_options o = {.now = now};
  int64_t first, horizon;
  bool none;
  if (horizon_of(cfg, store, &z, &o, &first, &horizon, &none, err, errlen) != 0)
    return -1;
  if (none || horizon < first)
    day[0] = '\0';
  else
    bsl_day_format(horizon, day);
  return 0;
}

/* The log line of one recorded raise or resolve. */
static void log_transition(const bsl_kpi_result *r, const char *event) {
  char message[1400];
  event_message(r, event, message, sizeof message);
  fprintf(stderr, "boussole: alert %s: %s\n", event, message);
}

/* ---- delivering alerts ----
 *
 * Raises and resolves are queued in kpi_deliveries by the evaluation that
 * records them, and delivered after its commit: by `kpi` at once and
 * waiting for the command, by `run` through detached supervisors whose
 * outcome is collected at its next calls (every flush).  A failure is
 * retried after BSL_KPI_RETRY_FIRST seconds, doubling up to
 * BSL_KPI_RETRY_MAX, and given up after BSL_KPI_DELIVERY_ATTEMPTS attempts;
 * `kpi` retries every pending delivery it finds, without waiting for the
 * back-off.  A delivery in progress holds a lease (its timeout plus a
 * margin) so two processes never send it twice; one that was in progress
 * when its process died is retried once the lease runs out. */

/* The detached deliveries this process started and has not recorded yet:
 * process state by nature (the supervisors report to this process), so
 * kept here rather than in a store. */
#define MAX_INFLIGHT 8
static struct inflight {
  int handle;
  int64_t delivery_id;
  int attempts; /* including this one */
  bool finished, ok;
  char label[64];
  char error[320];
} inflight[MAX_INFLIGHT];
static size_t n_inflight;

static int64_t retry_delay(int attempts) {
  int64_t d = BSL_KPI_RETRY_FIRST;
  for (int i = 1; i < attempts && d < BSL_KPI_RETRY_MAX; i++)
    d *= 2;
  return d < BSL_KPI_RETRY_MAX ? d : BSL_KPI_RETRY_MAX;
}

/* Records (in its own transaction) and logs the outcome of one attempt. */
/* for bsl_kpi_delivery_failures(): deliveries run from one thread */
static uint64_t failed_attempts, given_up_deliveries;

void bsl_kpi_delivery_failures(uint64_t *attempts_failed, uint64_t *given_up) {
  if (attempts_failed)
    *attempts_failed = failed_attempts;
  if (given_up)
    *given_up = given_up_deliveries;
}

static int record_attempt(bsl_store *st, int64_t id, int attempts, bool ok,
                          const char *label, const char *error, int64_t now,
                          char *err, size_t errlen) {
  char when[32], next[32];
  bsl_time_format_utc(now, when);
  bool give_up = !ok && attempts >= BSL_KPI_DELIVERY_ATTEMPTS;
  const char *status = ok ? "delivered" : give_up ? "failed" : "pending";
  if (bsl_store_begin(st) != 0 ||
      bsl_store_kpi_delivery_done(st, id, status, ok ? when : NULL,
                                  ok ? NULL : error) != 0 ||
      bsl_store_commit(st) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(st));
    bsl_store_rollback(st);
    return -1;
  }
  if (ok)
    return 0;
  failed_attempts++;
  given_up_deliveries += give_up;
  if (give_up) {
    fprintf(stderr,
            "boussole: %s: alert_command: %s (attempt %d of %d; giving up)\n",
            label, error, attempts, BSL_KPI_DELIVERY_ATTEMPTS);
  } else {
    bsl_time_format_utc(now + retry_delay(attempts), next);
    fprintf(stderr,
            "boussole: %s: alert_command: %s (attempt %d of %d; next after "
            "%s)\n",
            label, error, attempts, BSL_KPI_DELIVERY_ATTEMPTS, next);
  }
  return 0;
}

/* Collects the detached deliveries that ended and records them. */
static int collect_inflight(bsl_store *st, int64_t now, char *err,
                            size_t errlen) {
  int rc = 0;
  for (size_t i = 0; i < n_inflight;) {
    struct inflight *f = &inflight[i];
    if (!f->finished) {
      bool done;
      f->ok = bsl_alert_poll(f->handle, &done, f->error, sizeof f->error) == 0;
      f->finished = done;
    }
    /* kept until recorded: a busy store must not turn into a resend */
    if (!f->finished || rc != 0 ||
        record_attempt(st, f->delivery_id, f->attempts, f->ok, f->label,
                       f->error, now, err, errlen) != 0) {
      if (f->finished)
        rc = -1;
      i++;
      continue;
    }
    inflight[i] = inflight[--n_inflight];
  }
  return rc;
}

static bool in_flight(int64_t id) {
  for (size_t i = 0; i < n_inflight; i++)
    if (inflight[i].delivery_id == id)
      return true;
  return false;
}

/* A batch of due deliveries, copied out of the statement. */
#define DUE_BATCH 16
#define MAX_TRIED 256
struct due {
  /* attempted by this call already: one attempt per call each */
  const int64_t *tried;
  size_t n_tried;
  size_t n;
  struct {
    int64_t id, alert_id;
    int attempts;
    char event[16];
    char *payload;
  } d[DUE_BATCH];
};

static int due_cb(void *ctx, const bsl_kpi_delivery *d) {
  struct due *b = ctx;
  if (b->n == DUE_BATCH || in_flight(d->delivery_id))
    return 0;
  for (size_t i = 0; i < b->n_tried; i++)
    if (b->tried[i] == d->delivery_id)
      return 0;
  char *payload = strdup(d->payload);
  if (!payload)
    return -1;
  b->d[b->n].id = d->delivery_id;
  b->d[b->n].alert_id = d->alert_id;
  b->d[b->n].attempts = d->attempts;
  snprintf(b->d[b->n].event, sizeof b->d[b->n].event, "%s", d->event);
  b->d[b->n].payload = payload;
  b->n++;
  return 0;
}

int bsl_kpi_deliver(const bsl_config *cfg, bsl_store *st,
                    const bsl_kpi_deliver_options *o, size_t *sent, char *err,
                    size_t errlen) {
  size_t n_sent = 0;
  if (sent)
    *sent = 0;
  int rc = collect_inflight(st, o->now, err, errlen);
  if (rc != 0 || !cfg->alert_command)
    return rc;
  int timeout = o->timeout_ms > 0 ? o->timeout_ms : BSL_KPI_ALERT_TIMEOUT_MS;
  /* in `kpi`, a delivered raise lets its KPI's resolve go next: rounds
   * until nothing more is due (bounded: each round sends or stops) */
  int64_t tried[MAX_TRIED];
  size_t n_tried = 0;
  for (int round = 0; round < 64 && n_tried + DUE_BATCH <= MAX_TRIED; round++) {
    struct due b = {.tried = tried, .n_tried = n_tried};
    int limit = o->wait ? DUE_BATCH : (int)(MAX_INFLIGHT - n_inflight);
    if (limit <= 0)
      break;
    if (bsl_store_kpi_delivery_due(st, o->now, o->all_pending, limit, due_cb,
                                   &b) != 0) {
      snprintf(err, errlen, "%s",
               bsl_store_error(st)[0] ? bsl_store_error(st) : "out of memory");
      for (size_t i = 0; i < b.n; i++)
        free(b.d[i].payload);
      return -1;
    }
    size_t progress = 0;
    for (size_t i = 0; i < b.n; i++) {
      tried[n_tried++] = b.d[i].id;
      int attempts = b.d[i].attempts + 1;
      int taken = -1;
      if (bsl_store_begin(st) == 0) {
        taken = bsl_store_kpi_delivery_claim(
            st, b.d[i].id, b.d[i].attempts, o->now + retry_delay(attempts),
            o->now + timeout / 1000 + BSL_KPI_LEASE_MARGIN);
        if (taken < 0 || bsl_store_commit(st) != 0)
          taken = -1;
      }
      if (taken < 0) {
        snprintf(err, errlen, "%s", bsl_store_error(st));
        bsl_store_rollback(st);
        rc = -1;
        break;
      }
      if (taken == 0)
        continue; /* another process has it */
      char label[64], aerr[320];
      snprintf(label, sizeof label, "alert %lld %s", (long long)b.d[i].alert_id,
               b.d[i].event);
      /* the payload is one line; the command reads it up to its newline */
      char line[4200];
      snprintf(line, sizeof line, "%s\n", b.d[i].payload);
      if (o->wait) {
        bool ok = bsl_alert_run(cfg->alert_command, line, strlen(line), timeout,
                                label, aerr, sizeof aerr) == 0;
        if (record_attempt(st, b.d[i].id, attempts, ok, label, aerr, o->now,
                           err, errlen) != 0) {
          rc = -1;
          break;
        }
        n_sent += ok;
        progress += ok;
      } else {
        struct inflight *f = &inflight[n_inflight];
        memset(f, 0, sizeof *f);
        f->delivery_id = b.d[i].id;
        f->attempts = attempts;
        snprintf(f->label, sizeof f->label, "%s", label);
        if (bsl_alert_start(cfg->alert_command, line, strlen(line), timeout,
                            label, &f->handle, aerr, sizeof aerr) != 0) {
          if (record_attempt(st, b.d[i].id, attempts, false, label, aerr,
                             o->now, err, errlen) != 0) {
            rc = -1;
            break;
          }
          continue;
        }
        n_inflight++;
        n_sent++;
      }
    }
    for (size_t i = 0; i < b.n; i++)
      free(b.d[i].payload);
    if (rc != 0 || !o->wait || progress == 0)
      break;
  }
  if (sent)
    *sent = n_sent;
  return rc;
}

int bsl_kpi_evaluate_ex(const bsl_config *cfg, bsl_store *store,
                        const bsl_kpi_eval_options *o, bsl_kpi_result **results,
                        size_t *n, char *err, size_t errlen) {
  *results = NULL;
  *n = 0;
  bsl_zone z;
  bsl_zone_init(&z, cfg->timezone);
  bsl_kpi_result *res = calloc(cfg->n_kpis ? cfg->n_kpis : 1, sizeof *res);
  if (!res) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (bsl_store_begin(store) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(store));
    free(res);
    return -1;
  }
  /* once per fleet: see bsl_store_fleet_serialize() */
  if (bsl_store_fleet_serialize(store) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(store));
    goto out_rollback;
  }
  int64_t first, horizon;
  bool none;
  if (horizon_of(cfg, store, &z, o, &first, &horizon, &none, err, errlen) != 0)
    goto out_rollback;
  int64_t eval_unix = o->at_day ? bsl_zone_to_unix(&z, horizon + 1, 0) : o->now;
  char eval_iso[32], now_iso[32];
  bsl_time_format_utc(eval_unix, eval_iso);
  bsl_time_format_utc(o->now, now_iso);
  for (size_t i = 0; i < cfg->n_kpis; i++) {
    int closed = 0;
    if (o->reset &&
        bsl_store_kpi_reset(store, cfg->kpis[i].name, now_iso, &closed) != 0) {
      snprintf(err, errlen, "%s", bsl_store_error(store));
      goto out_rollback;
    }
    bool recording;
    if (evaluate_one(cfg, store, &cfg->kpis[i], &z, first, horizon, eval_unix,
                     eval_iso, o, &recording, &res[i], err, errlen) != 0)
      goto out_rollback;
    res[i].reset_closed = closed;
  }
  if (bsl_store_commit(store) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(store));
    free(res);
    return -1;
  }
  bool recorded = false;
  for (size_t i = 0; i < cfg->n_kpis; i++) {
    bsl_kpi_result *r = &res[i];
    recorded = recorded || r->recorded;
    if (r->resolved_id)
      log_transition(r, "resolved");
    if (r->raised_id)
      log_transition(r, "raised");
  }
  /* A backtest that recorded nothing has no side effect: it does not
   * deliver what other evaluations queued either. */
  if (o->fire_alerts && (!o->at_day || recorded)) {
    bsl_kpi_deliver_options d = {.now = o->now,
                                 .wait = o->wait_alerts,
                                 .all_pending = o->retry_pending,
                                 .timeout_ms = o->alert_timeout_ms};
    char derr[512];
    if (bsl_kpi_deliver(cfg, store, &d, NULL, derr, sizeof derr) != 0)
      fprintf(stderr, "boussole: alert delivery: %s\n", derr);
  }
  *results = res;
  *n = cfg->n_kpis;
  return 0;

out_rollback:
  bsl_store_rollback(store);
  free(res);
  return -1;
}

int bsl_kpi_evaluate(const bsl_config *cfg, bsl_store *store, int64_t now,
                     bool fire_alerts, bsl_kpi_result **results, size_t *n,
                     char *err, size_t errlen) {
  bsl_kpi_eval_options o = {.now = now,
                            .fire_alerts = fire_alerts,
                            .wait_alerts = false,
                            .alert_timeout_ms = BSL_KPI_ALERT_TIMEOUT_MS};
  return bsl_kpi_evaluate_ex(cfg, store, &o, results, n, err, errlen);
}

void bsl_kpi_results_free(bsl_kpi_result *results, size_t n) {
  (void)n;
  free(results);
}

int bsl_kpi_adjust(const bsl_config *cfg, bsl_store *store, const char *kpi,
                   const char *note, int64_t at, int64_t now, int64_t *id,
                   char *err, size_t errlen) {
  bool known = false;
  for (size_t i = 0; i < cfg->n_kpis; i++)
    known = known || strcmp(cfg->kpis[i].name, kpi) == 0;
  if (!known) {
    snprintf(err, errlen, "%s: no [kpi \"%s\"] section",
             cfg->file ? cfg->file : "built-in defaults", kpi);
    return -1;
  }
  if (!note || !*note) {
    snprintf(err, errlen, "--note must not be empty");
    return -1;
  }
  if (at > now) {
    /* its effect would be measured against periods that have not happened,
     * and it would put the KPI in grace from a day to come */
    char when[32], clock[32];
    bsl_time_format_utc(at, when);
    bsl_time_format_utc(now, clock);
    snprintf(err, errlen,
             "--at %s: in the future (now %s); record a change once it is "
             "made",
             when, clock);
    return -1;
  }
  if (bsl_store_begin(store) != 0 ||
      bsl_store_kpi_adjust_add(store, kpi, at, note, id) != 0 ||
      bsl_store_commit(store) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(store));
    bsl_store_rollback(store);
    return -1;
  }
  return 0;
}

int bsl_kpi_adjustments(bsl_store *store, const char *kpi,
                        bsl_kpi_adjustment_cb cb, void *ctx, char *err,
                        size_t errlen) {
  int rc = bsl_store_kpi_adjust_all(store, kpi, cb, ctx);
  if (rc < 0)
    snprintf(err, errlen, "%s", bsl_store_error(store));
  return rc < 0 ? -1 : 0;
}

int bsl_kpi_adjust_remove(bsl_store *store, int64_t id,
                          bsl_kpi_adjustment_cb cb, void *ctx, char *err,
                          size_t errlen) {
  int found = -1;
  if (bsl_store_begin(store) == 0 &&
      (found = bsl_store_kpi_adjust_remove(store, id, cb, ctx)) >= 0 &&
      bsl_store_commit(store) == 0)
    return found;
  snprintf(err, errlen, "%s", bsl_store_error(store));
  bsl_store_rollback(store);
  return -1;
}
