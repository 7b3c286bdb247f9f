/*
 * The diagnosis (diagnose.h): reads the segments of the range and of the
 * period before it from the views, tests every segment that is big enough
 * against the rest of the site, adjusts all the p-values of the run at once
 * (Benjamini–Hochberg), and derives the movers, the leaks and the proposed
 * objectives from what survives.  The renderers are in render.c and
 * html.c.
 */
#include "diagnose.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "prop.h"
#include "stats.h"
#include "store_diagnose.h"

/* ---- dimensions ---- */

/* The single dimensions, each a part of a visit row; pairs combine two. */
enum { D_CHANNEL, D_SOURCE_MEDIUM, D_CAMPAIGN, D_LANDING, D_DEVICE, D_SINGLE };
static const char *const SINGLE_NAME[D_SINGLE] = {
    "channel", "source_medium", "campaign", "landing_page", "device"};
/* Pairs: where an interaction is plausible and the segments stay readable
 * (a device inside a channel, a campaign, a page...). */
static const int PAIRS[][2] = {{D_CHANNEL, D_DEVICE},
                               {D_SOURCE_MEDIUM, D_DEVICE},
                               {D_CAMPAIGN, D_DEVICE},
                               {D_LANDING, D_DEVICE},
                               {D_CHANNEL, D_LANDING}};
#define N_PAIRS (sizeof PAIRS / sizeof PAIRS[0])
#define N_DIMS (D_SINGLE + (int)N_PAIRS)

static bool has_landing(int dim) {
  return dim == D_LANDING ||
         (dim >= D_SINGLE && (PAIRS[dim - D_SINGLE][0] == D_LANDING ||
                              PAIRS[dim - D_SINGLE][1] == D_LANDING));
}

/* Counters of a segment in a period, from the visits. */
enum { C_VISITS, C_BOUNCES, C_CONV, C_PV, C_CLICKS, C_SPV, C_S75, C_N };

typedef struct seg {
  int dim;
  char *key;     /* the parts joined by \x1f, for hashing */
  char *display; /* "google / organic", "spring + mobile" */
  char *part[3]; /* the values (source and medium are two parts) */
  int n_parts;
  double c[2][C_N]; /* [0] the range, [1] the previous period */
  double *goal[2];  /* converted visits per goal */
  /* landing_page: the page itself (pages_daily, events_daily) */
  double ppv, ps75, pclicks, entries;
} seg;

typedef struct seg_table {
  seg **slot;
  size_t cap, used;
  seg **list; /* in insertion order, for stable output */
  size_t n, list_cap;
} seg_table;

struct ctx {
  bsl_diag *d;
  const bsl_diag_options *opts;
  seg_table t;
  size_t n_goals;
  double tot[2][C_N];
  double *goal_tot[2];
  double ppv, ps75, pclicks; /* every page of the range */
  int period;                /* 0 or 1 while reading a period */
  char *err;
  size_t errlen;
  bool oom;
};

static uint64_t fnv(int dim, const char *s) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)dim;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static char *dup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p)
    memcpy(p, s, n);
  return p;
}

__attribute__((format(printf, 1, 2))) static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *p = malloc((size_t)n + 1);
  if (!p)
    return NULL;
  va_start(ap, f);
  vsnprintf(p, (size_t)n + 1, f, ap);
  va_end(ap);
  return p;
}

static void seg_free(seg *s) {
  if (!s)
    return;
  free(s->key);
  free(s->display);
  for (int i = 0; i < s->n_parts; i++)
    free(s->part[i]);
  free(s->goal[0]);
  free(s->goal[1]);
  free(s);
}

static int table_grow(seg_table *t) {
  size_t ncap = t->cap ? t->cap * 2 : 256;
  seg **ns = calloc(ncap, sizeof *ns);
  if (!ns)
    return -1;
  for (size_t i = 0; i < t->cap; i++) {
    seg *s = t->slot[i];
    if (!s)
      continue;
    size_t j = fnv(s->dim, s->key) & (ncap - 1);
    while (ns[j])
      j = (j + 1) & (ncap - 1);
    ns[j] = s;
  }
  free(t->slot);
  t->slot = ns;
  t->cap = ncap;
  return 0;
}

/* The segment of DIM made of PARTS, created on first sight; NULL when out
 * of memory. */
static seg *seg_get(struct ctx *c, int dim, const char *const *parts,
                    int n_parts) {
  char key[3 * 1100];
  size_t k = 0;
  for (int i = 0; i < n_parts; i++) {
    int w = snprintf(key + k, sizeof key - k, "%s%.1000s", i ? "\x1f" : "",
                     parts[i]);
    k += w > 0 ? (size_t)w : 0;
    if (k >= sizeof key)
      k = sizeof key - 1;
  }
  seg_table *t = &c->t;
  if ((t->used + 1) * 10 >= t->cap * 7 && table_grow(t) != 0)
    return NULL;
  size_t j = fnv(dim, key) & (t->cap - 1);
  for (; t->slot[j]; j = (j + 1) & (t->cap - 1))
    if (t->slot[j]->dim == dim && strcmp(t->slot[j]->key, key) == 0)
      return t->slot[j];
  if (t->n == t->list_cap) {
    size_t ncap = t->list_cap ? t->list_cap * 2 : 256;
    seg **nl = realloc(t->list, ncap * sizeof *nl);
    if (!nl)
      return NULL;
    t->list = nl;
    t->list_cap = ncap;
  }
  seg *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->dim = dim;
  s->key = dup(key);
  s->n_parts = n_parts;
  for (int i = 0; i < n_parts; i++)
    s->part[i] = dup(parts[i]);
  size_t ng = c->n_goals ? c->n_goals : 1;
  s->goal[0] = calloc(ng, sizeof(double));
  s->goal[1] = calloc(ng, sizeof(double));
  /* the display: a dimension's parts, then " + " between dimensions */
  const char *a = parts[0], *b = n_parts > 1 ? parts[1] : "",
             *e = n_parts > 2 ? parts[2] : "";
  int d0 = dim < D_SINGLE ? dim : PAIRS[dim - D_SINGLE][0];
  if (dim < D_SINGLE)
    s->display = d0 == D_SOURCE_MEDIUM ? fmt("%s / %s", a, b) : dup(a);
  else if (d0 == D_SOURCE_MEDIUM)
    s->display = fmt("%s / %s + %s", a, b, e);
  else
    s->display = fmt("%s + %s", a, b);
  bool ok = s->key && s->display && s->goal[0] && s->goal[1];
  for (int i = 0; i < n_parts; i++)
    ok = ok && s->part[i];
  if (!ok) {
    seg_free(s);
    return NULL;
  }
  t->slot[j] = s;
  t->used++;
  t->list[t->n++] = s;
  return s;
}

/* The segments a visit row belongs to: one per dimension and pair (the
 * campaign dimension only when it has a campaign).  Returns how many,
 * -1 when out of memory. */
static int segs_of(struct ctx *c, const bsl_report_row *row, seg **out) {
  const char *v[6];
  for (int i = 0; i < 6; i++)
    v[i] = row->text[i] ? row->text[i] : "";
  const char *parts[D_SINGLE][2] = {
      {v[0], NULL}, {v[1], v[2]}, {v[3], NULL}, {v[4], NULL}, {v[5], NULL}};
  const int np[D_SINGLE] = {1, 2, 1, 1, 1};
  bool has[D_SINGLE] = {true, true, v[3][0] != '\0', true, true};
  int n = 0;
  for (int d = 0; d < N_DIMS; d++) {
    const char *p[3];
    int k = 0;
    if (d < D_SINGLE) {
      if (!has[d])
        continue;
      for (int i = 0; i < np[d]; i++)
        p[k++] = parts[d][i];
    } else {
      int a = PAIRS[d - D_SINGLE][0], b = PAIRS[d - D_SINGLE][1];
      if (!has[a] || !has[b])
        continue;
      for (int i = 0; i < np[a]; i++)
        p[k++] = parts[a][i];
      for (int i = 0; i < np[b]; i++)
        p[k++] = parts[b][i];
    }
    if (!(out[n++] = seg_get(c, d, p, k)))
      return -1;
  }
  return n;
}

static double num(const bsl_report_row *row, int i) {
  return i < row->ncol && !isnan(row->num[i]) ? row->num[i] : 0;
}

static int on_visits(void *vc, const bsl_report_row *row) {
  struct ctx *c = vc;
  seg *segs[N_DIMS];
  int n = segs_of(c, row, segs);
  if (n < 0)
    return c->oom = true, 1;
  double add[C_N] = {0};
  add[C_VISITS] = num(row, 6), add[C_BOUNCES] = num(row, 7);
  add[C_CONV] = num(row, 8), add[C_PV] = num(row, 9);
  add[C_CLICKS] = num(row, 10);
  for (int k = 0; k < C_SPV; k++) {
    c->tot[c->period][k] += add[k];
    for (int i = 0; i < n; i++)
      segs[i]->c[c->period][k] += add[k];
  }
  return 0;
}

static int goal_index(const struct ctx *c, const char *goal) {
  for (size_t g = 0; g < c->n_goals; g++)
    if (goal && strcmp(c->d->goals[g], goal) == 0)
      return (int)g;
  return -1;
}

static int on_goals(void *vc, const bsl_report_row *row) {
  struct ctx *c = vc;
  int g = goal_index(c, row->text[6]);
  if (g < 0)
    return 0;
  seg *segs[N_DIMS];
  int n = segs_of(c, row, segs);
  if (n < 0)
    return c->oom = true, 1;
  double x = num(row, 7);
  c->goal_tot[c->period][g] += x;
  for (int i = 0; i < n; i++)
    segs[i]->goal[c->period][g] += x;
  return 0;
}

static int on_scroll(void *vc, const bsl_report_row *row) {
  struct ctx *c = vc;
  seg *segs[N_DIMS];
  int n = segs_of(c, row, segs);
  if (n < 0)
    return c->oom = true, 1;
  c->tot[c->period][C_SPV] += num(row, 6);
  c->tot[c->period][C_S75] += num(row, 7);
  for (int i = 0; i < n; i++) {
    segs[i]->c[c->period][C_SPV] += num(row, 6);
    segs[i]->c[c->period][C_S75] += num(row, 7);
  }
  return 0;
}

static int on_pages(void *vc, const bsl_report_row *row) {
  struct ctx *c = vc;
  const char *path = row->text[0] ? row->text[0] : "";
  seg *s = seg_get(c, D_LANDING, &path, 1);
  if (!s)
    return c->oom = true, 1;
  s->ppv += num(row, 1), s->entries += num(row, 2);
  s->ps75 += num(row, 3), s->pclicks += num(row, 4);
  c->ppv += num(row, 1), c->ps75 += num(row, 3), c->pclicks += num(row, 4);
  return 0;
}

/* ---- the range ---- */

struct range_row {
  char first[11], last[11];
};

static int on_range(void *vr, const bsl_report_row *row) {
  struct range_row *r = vr;
  if (row->text[0] && row->text[1]) {
    snprintf(r->first, sizeof r->first, "%.10s", row->text[0]);
    snprintf(r->last, sizeof r->last, "%.10s", row->text[1]);
  }
  return 0;
}

struct goals_acc {
  bsl_diag *d;
  bool oom;
};

static int on_goal_names(void *vg, const bsl_report_row *row) {
  struct goals_acc *a = vg;
  bsl_diag *d = a->d;
  if (!row->text[0])
    return 0;
  char **ng = realloc(d->goals, (d->n_goals + 1) * sizeof *ng);
  if (!ng)
    return a->oom = true, 1;
  d->goals = ng;
  if (!(d->goals[d->n_goals] = dup(row->text[0])))
    return a->oom = true, 1;
  d->n_goals++;
  return 0;
}

static int resolve_range(bsl_store *st, const bsl_diag_options *o, bsl_diag *d,
                         char *err, size_t errlen) {
  struct range_row r = {"", ""};
  if (bsl_store_report_query(st, BSL_RQ_RANGE, NULL, 0, on_range, &r) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(st));
    return -1;
  }
  memcpy(d->data_first, r.first, sizeof r.first);
  memcpy(d->data_last, r.last, sizeof r.last);
  int64_t from, to, first = 0, last = 0;
  bool empty = !r.first[0] || bsl_day_parse(r.first, &first) != 0 ||
               bsl_day_parse(r.last, &last) != 0;
  if (o->from && bsl_day_parse(o->from, &from) != 0) {
    snprintf(err, errlen, "--from: not a date (YYYY-MM-DD): '%s'", o->from);
    return -1;
  }
  if (o->to && bsl_day_parse(o->to, &to) != 0) {
    snprintf(err, errlen, "--to: not a date (YYYY-MM-DD): '%s'", o->to);
    return -1;
  }
  if (!o->to) {
    /* The newest day is still being written (live mode) or cut short by
     * the end of a log: it is left out unless it is the only one. */
    if (empty)
      to = o->now / 86400 - 1;
    else
      to = last > first ? last - 1 : last;
    d->default_range = !o->from;
  }
  if (!o->from)
    from = to - (BSL_DIAG_DEFAULT_DAYS - 1);
  if (from > to) {
    snprintf(err, errlen, "--from %s is after --to %s", o->from ? o->from : "",
             o->to ? o->to : "the newest complete day");
    return -1;
  }
  if (to - from + 1 > BSL_DIAG_MAX_DAYS) {
    snprintf(err, errlen, "the range has %lld days, more than %d",
             (long long)(to - from + 1), BSL_DIAG_MAX_DAYS);
    return -1;
  }
  d->n_days = (int)(to - from + 1);
  bsl_day_format(from, d->from);
  bsl_day_format(to, d->to);
  bsl_day_format(from - d->n_days, d->prev_from);
  bsl_day_format(from - 1, d->prev_to);
  return 0;
}

/* ---- tests ---- */

enum { M_CONV, M_BOUNCE, M_SCROLL, M_CLICK };
static const char *const METRIC_NAME[] = {"conversion_rate", "bounce_rate",
                                          "scroll_rate", "click_rate"};
enum { MV_VISITS, MV_CONV, MV_BOUNCE, MV_CONVRATE };
static const char *const MOVER_NAME[] = {"visits", "conversions", "bounce_rate",
                                         "conversion_rate"};

/* One test of the run, a finding or a mover candidate. */
typedef struct test {
  bool mover;
  seg *s; /* NULL: the whole site (movers) */
  int metric, goal;
  double x, n, site_x, site_n; /* finding: segment and site */
  double x0, n0;               /* mover: the previous period */
  bsl_prop_test t;
  double effect; /* relative difference or change */
} test;

typedef struct test_list {
  test *v;
  size_t n, cap;
} test_list;

static int push_test(test_list *l, const test *t) {
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 512;
    test *nv = realloc(l->v, ncap * sizeof *nv);
    if (!nv)
      return -1;
    l->v = nv;
    l->cap = ncap;
  }
  l->v[l->n++] = *t;
  return 0;
}

/* The numerator and denominator of METRIC (goal G) for S in period P, or
 * of the site when S is NULL; false when the metric does not apply. */
static bool measure(const struct ctx *c, const seg *s, int metric, int g,
                    double *x, double *n) {
  const double *k = s ? s->c[0] : c->tot[0];
  bool page = s && s->dim == D_LANDING;
  switch (metric) {
  case M_CONV:
    *x = s ? s->goal[0][g] : c->goal_tot[0][g], *n = k[C_VISITS];
    return true;
  case M_BOUNCE:
    *x = k[C_BOUNCES], *n = k[C_VISITS];
    return true;
  case M_SCROLL:
    if (s && has_landing(s->dim) && !page)
      return false;
    *x = page ? s->ps75 : k[C_S75], *n = page ? s->ppv : k[C_SPV];
    return true;
  case M_CLICK:
    if (s && has_landing(s->dim) && !page)
      return false;
    *x = page ? s->pclicks : k[C_CLICKS], *n = page ? s->ppv : k[C_PV];
    return true;
  }
  return false;
}

/* The site's side of METRIC for a segment of dimension DIM. */
static void site_measure(const struct ctx *c, int dim, int metric, int g,
                         double *x, double *n) {
  if (dim == D_LANDING && metric == M_SCROLL)
    *x = c->ps75, *n = c->ppv;
  else if (dim == D_LANDING && metric == M_CLICK)
    *x = c->pclicks, *n = c->ppv;
  else
    measure(c, NULL, metric, g, x, n);
}

static int add_finding_tests(struct ctx *c, test_list *l) {
  size_t ng = c->n_goals;
  for (size_t i = 0; i < c->t.n; i++) {
    seg *s = c->t.list[i];
    for (int m = M_CONV; m <= M_CLICK; m++) {
      size_t reps = m == M_CONV ? ng : 1;
      for (size_t g = 0; g < reps; g++) {
        test t = {.s = s, .metric = m, .goal = (int)g};
        if (!measure(c, s, m, (int)g, &t.x, &t.n))
          continue;
        site_measure(c, s->dim, m, (int)g, &t.site_x, &t.site_n);
        double rest_n = t.site_n - t.n, rest_x = t.site_x - t.x;
        if (t.n < BSL_DIAG_MIN_SIZE || rest_n < BSL_DIAG_MIN_SIZE ||
            !(t.site_x > 0))
          continue;
        /* a page's own scroll and clicks, for the pages people land on */
        if (s->dim == D_LANDING && s->c[0][C_VISITS] < BSL_DIAG_MIN_SIZE)
          continue;
        /* a page without a single click beacon has nothing tagged to
         * click: not a weak point, and no objective could start at 0 */
        if (m == M_CLICK && s->dim == D_LANDING && !(t.x > 0))
          continue;
        if (m != M_CLICK && !(t.site_x < t.site_n))
          continue;
        if (m == M_CLICK)
          bsl_prop_rate_compare(t.x, t.n, rest_x, rest_n, &t.t);
        else
          bsl_prop_compare(t.x, t.n, rest_x, rest_n, &t.t);
        double site = t.site_x / t.site_n;
        t.effect = (t.x / t.n - site) / site;
        if (push_test(l, &t) != 0)
          return -1;
      }
    }
  }
  return 0;
}

static int add_mover(test_list *l, seg *s, int metric, int g, double x,
                     double n, double x0, double n0, int days) {
  test t = {.mover = true,
            .s = s,
            .metric = metric,
            .goal = g,
            .x = x,
            .n = n,
            .x0 = x0,
            .n0 = n0};
  if (metric == MV_VISITS || metric == MV_CONV) {
    /* visits (or conversions) per day in two periods of the same length */
    if (fmax(n, n0) < BSL_DIAG_MIN_SIZE || !(x0 > 0) || x + x0 < 10)
      return 0;
    bsl_prop_rate_compare(x, days, x0, days, &t.t);
    t.effect = (x - x0) / x0;
  } else {
    if (n < BSL_DIAG_MIN_SIZE || n0 < BSL_DIAG_MIN_SIZE || !(x0 > 0))
      return 0;
    bsl_prop_compare(x, n, x0, n0, &t.t);
    t.effect = (x / n - x0 / n0) / (x0 / n0);
  }
  return push_test(l, &t);
}

static int add_mover_tests(struct ctx *c, test_list *l) {
  int days = c->d->n_days;
  for (size_t i = 0; i <= c->t.n; i++) {
    seg *s = i < c->t.n ? c->t.list[i] : NULL;
    if (s && s->dim >= D_SINGLE)
      continue;
    const double *k = s ? s->c[0] : c->tot[0], *k0 = s ? s->c[1] : c->tot[1];
    if (add_mover(l, s, MV_VISITS, 0, k[C_VISITS], k[C_VISITS], k0[C_VISITS],
                  k0[C_VISITS], days) ||
        add_mover(l, s, MV_BOUNCE, 0, k[C_BOUNCES], k[C_VISITS], k0[C_BOUNCES],
                  k0[C_VISITS], days))
      return -1;
    for (size_t g = 0; g < c->n_goals; g++) {
      double x = s ? s->goal[0][g] : c->goal_tot[0][g];
      double x0 = s ? s->goal[1][g] : c->goal_tot[1][g];
      if (add_mover(l, s, MV_CONV, (int)g, x, k[C_VISITS], x0, k0[C_VISITS],
                    days) ||
          add_mover(l, s, MV_CONVRATE, (int)g, x, k[C_VISITS], x0, k0[C_VISITS],
                    days))
        return -1;
    }
  }
  return 0;
}

static bool higher_is_better(int metric) {
  return metric != M_BOUNCE;
}

static const char *dim_name(int dim) {
  static char pair[N_PAIRS][40];
  if (dim < D_SINGLE)
    return SINGLE_NAME[dim];
  const int *p = PAIRS[dim - D_SINGLE];
  snprintf(pair[dim - D_SINGLE], sizeof pair[0], "%s+%s", SINGLE_NAME[p[0]],
           SINGLE_NAME[p[1]]);
  return pair[dim - D_SINGLE];
}

static int by_share(const void *a, const void *b) {
  const bsl_diag_finding *x = a, *y = b;
  double u = fabs(x->impact_share), v = fabs(y->impact_share);
  return u > v ? -1 : u < v ? 1 : strcmp(x->segment, y->segment);
}

static int by_mover_share(const void *a, const void *b) {
  const bsl_diag_mover *x = a, *y = b;
  double u = fabs(x->impact_share), v = fabs(y->impact_share);
  return u > v ? -1 : u < v ? 1 : strcmp(x->segment, y->segment);
}

/* Whether a single-dimension parent of the pair segment T is already a
 * finding of the same metric and direction (then the pair says nothing
 * new: every device of a page that bounces bounces). */
static bool parent_found(const test *all, size_t n, const test *t,
                         const bool *found) {
  int dim = t->s->dim;
  if (dim < D_SINGLE)
    return false;
  const int *pd = PAIRS[dim - D_SINGLE];
  int split = pd[0] == D_SOURCE_MEDIUM ? 2 : 1;
  for (size_t i = 0; i < n; i++) {
    const test *u = &all[i];
    if (!found[i] || u->mover || u->s->dim >= D_SINGLE ||
        u->metric != t->metric || u->goal != t->goal ||
        (u->effect > 0) != (t->effect > 0))
      continue;
    int which = u->s->dim == pd[0] ? 0 : u->s->dim == pd[1] ? 1 : -1;
    if (which < 0)
      continue;
    int from = which == 0 ? 0 : split, cnt = which == 0 ? split : 1;
    bool same = true;
    for (int k = 0; k < cnt && same; k++)
      same = strcmp(u->s->part[k], t->s->part[from + k]) == 0;
    if (same)
      return true;
  }
  return false;
}

static int make_finding(struct ctx *c, const test *t, bsl_diag_finding *f) {
  bsl_diag *d = c->d;
  double site = t->site_x / t->site_n, rate = t->x / t->n;
  double rest_n = t->site_n - t->n, rest_x = t->site_x - t->x;
  *f = (bsl_diag_finding){0};
  f->dimension = dup(dim_name(t->s->dim));
  f->segment = dup(t->s->display);
  f->metric = dup(METRIC_NAME[t->metric]);
  f->goal = t->metric == M_CONV ? dup(d->goals[t->goal]) : NULL;
  if (!f->dimension || !f->segment || !f->metric ||
      (t->metric == M_CONV && !f->goal))
    return -1;
  f->unit = t->metric >= M_SCROLL ? "pageviews" : "visits";
  f->better = (rate > site) == higher_is_better(t->metric);
  f->segment_value = rate, f->site_value = site;
  f->rest_value = rest_n > 0 ? rest_x / rest_n : NAN;
  if (t->metric == M_CLICK)
    bsl_prop_poisson_ci(t->x, t->n, BSL_PROP_Z95, &f->ci_lo, &f->ci_hi);
  else
    bsl_prop_wilson(t->x, t->n, BSL_PROP_Z95, &f->ci_lo, &f->ci_hi);
  f->size = t->n, f->count = t->x;
  f->exact = t->t.exact;
  f->impact = (rate - site) * t->n;
  f->impact_share = f->impact / t->site_x;
  static const char *const units[] = {"conversions", "bounces",
                                      "pageviews reaching 75%", "clicks"};
  f->impact_unit = units[t->metric];
  return 0;
}

static int make_mover(struct ctx *c, const test *t, bsl_diag_mover *m) {
  bsl_diag *d = c->d;
  *m = (bsl_diag_mover){0};
  m->dimension = dup(t->s ? dim_name(t->s->dim) : "site");
  m->segment = dup(t->s ? t->s->display : "all visits");
  m->metric = dup(MOVER_NAME[t->metric]);
  bool goal = t->metric == MV_CONV || t->metric == MV_CONVRATE;
  m->goal = goal ? dup(d->goals[t->goal]) : NULL;
  if (!m->dimension || !m->segment || !m->metric || (goal && !m->goal))
    return -1;
  bool count = t->metric == MV_VISITS || t->metric == MV_CONV;
  m->value = count ? t->x : t->x / t->n;
  m->prev_value = count ? t->x0 : t->x0 / t->n0;
  m->size = t->n, m->prev_size = t->n0;
  m->exact = t->t.exact;
  bool up = m->value > m->prev_value;
  m->better = t->metric == MV_BOUNCE ? !up : up;
  m->impact = count ? t->x - t->x0 : (m->value - m->prev_value) * t->n;
  double base = t->metric == MV_VISITS   ? c->tot[1][C_VISITS]
                : t->metric == MV_BOUNCE ? c->tot[0][C_BOUNCES]
                : t->metric == MV_CONV   ? c->goal_tot[1][t->goal]
                                         : c->goal_tot[0][t->goal];
  m->impact_share = base > 0 ? m->impact / base : 0;
  m->impact_unit = t->metric == MV_VISITS   ? "visits"
                   : t->metric == MV_BOUNCE ? "bounces"
                                            : "conversions";
  return 0;
}

/* ---- one finding per set of visits ---- */

/* What tells two results apart: identical counts in the same metric are
 * the same visits under two names (channel email, source newsletter /
 * email and campaign spring-news often are). */
typedef struct dupkey {
  const char *metric, *goal, *dim;
  double v[4];
} dupkey;

/* The most specific name is kept: a campaign says more than a channel
 * (a pair by its first dimension). */
static int specificity(const char *dim) {
  static const char *const order[] = {"campaign", "landing_page",
                                      "source_medium", "device", "channel"};
  size_t len = strcspn(dim, "+");
  for (int i = 0; i < 5; i++)
    if (strlen(order[i]) == len && strncmp(dim, order[i], len) == 0)
      return i;
  return 5;
}

static bool same_key(const dupkey *a, const dupkey *b) {
  return strcmp(a->metric, b->metric) == 0 &&
         (a->goal == b->goal ||
          (a->goal && b->goal && strcmp(a->goal, b->goal) == 0)) &&
         memcmp(a->v, b->v, sizeof a->v) == 0 &&
         (strchr(a->dim, '+') == NULL) == (strchr(b->dim, '+') == NULL);
}

/* INTO[i]: the index result i merges into, or -1 when it is kept. */
static void merge_plan(const dupkey *k, size_t n, long *into) {
  for (size_t i = 0; i < n; i++)
    into[i] = -1;
  for (size_t i = 0; i < n; i++) {
    if (into[i] >= 0)
      continue;
    for (size_t j = i + 1; j < n; j++) {
      if (into[j] >= 0 || !same_key(&k[i], &k[j]))
        continue;
      if (specificity(k[j].dim) < specificity(k[i].dim)) {
        into[i] = (long)j;
        break;
      }
      into[j] = (long)i;
    }
  }
  /* follow chains to the one kept */
  for (size_t i = 0; i < n; i++)
    while (into[i] >= 0 && into[into[i]] >= 0)
      into[i] = into[into[i]];
}

/* Appends "DIM SEGMENT" to *ALSO ("; " between). */
static int add_also(char **also, const char *dim, const char *segment) {
  char *n = *also ? fmt("%s; %s %s", *also, dim, segment)
                  : fmt("%s %s", dim, segment);
  if (!n)
    return -1;
  free(*also);
  *also = n;
  return 0;
}

static void finding_free(bsl_diag_finding *f) {
  free(f->dimension), free(f->segment), free(f->metric), free(f->goal);
  free(f->also);
}

static void mover_free(bsl_diag_mover *m) {
  free(m->dimension), free(m->segment), free(m->metric), free(m->goal);
  free(m->also);
}

/* Merges, in the array BASE of N elements of SIZE bytes, the elements the
 * keys K say are the same visits: each one merged away is named in the
 * kept one's `also` (at offset ALSO_AT; its dimension and segment at
 * DIM_AT and SEG_AT) and freed with FREE_FN.  Returns 0 or -1 (out of memory).
 */
static int merge_same(void *base, size_t size, size_t *n, const dupkey *k,
                      size_t dim_at, size_t seg_at, size_t also_at,
                      void (*free_fn)(void *)) {
  long *into = malloc((*n ? *n : 1) * sizeof *into);
  if (!into)
    return -1;
  merge_plan(k, *n, into);
#define AT(i) ((char *)base + (i)*size)
#define STR(i, off) (*(char **)(AT(i) + (off)))
  int rc = 0;
  for (size_t i = 0; i < *n; i++)
    if (into[i] >= 0 && add_also((char **)(AT(into[i]) + also_at),
                                 STR(i, dim_at), STR(i, seg_at)) != 0)
      rc = -1;
  size_t w = 0;
  for (size_t i = 0; i < *n; i++) {
    if (into[i] >= 0)
      free_fn(AT(i));
    else if (w++ != i)
      memcpy(AT(w - 1), AT(i), size);
  }
#undef STR
#undef AT
  *n = w;
  free(into);
  return rc;
}

static void finding_free_v(void *f) {
  finding_free(f);
}
static void mover_free_v(void *m) {
  mover_free(m);
}

/* Keys of the findings and the movers; merged away, the duplicates. */
static int merge_all(bsl_diag *d) {
  size_t n = d->n_findings > d->n_movers ? d->n_findings : d->n_movers;
  dupkey *k = calloc(n ? n : 1, sizeof *k);
  if (!k)
    return -1;
  for (size_t i = 0; i < d->n_findings; i++) {
    const bsl_diag_finding *f = &d->findings[i];
    k[i] = (dupkey){f->metric, f->goal, f->dimension, {f->size, f->count}};
  }
  int rc = merge_same(d->findings, sizeof *d->findings, &d->n_findings, k,
                      offsetof(bsl_diag_finding, dimension),
                      offsetof(bsl_diag_finding, segment),
                      offsetof(bsl_diag_finding, also), finding_free_v);
  for (size_t i = 0; i < d->n_movers; i++) {
    const bsl_diag_mover *m = &d->movers[i];
    k[i] = (dupkey){m->metric,
                    m->goal,
                    m->dimension,
                    {m->value, m->prev_value, m->size, m->prev_size}};
  }
  if (rc == 0)
    rc = merge_same(d->movers, sizeof *d->movers, &d->n_movers, k,
                    offsetof(bsl_diag_mover, dimension),
                    offsetof(bsl_diag_mover, segment),
                    offsetof(bsl_diag_mover, also), mover_free_v);
  free(k);
  return rc;
}

/* Runs every test, adjusts the p-values together and keeps the findings
 * and movers that pass. */
static int run_tests(struct ctx *c) {
  bsl_diag *d = c->d;
  test_list l = {0};
  double *p = NULL, *q = NULL;
  bool *found = NULL;
  int rc = -1;
  if (add_finding_tests(c, &l) != 0 || add_mover_tests(c, &l) != 0)
    goto out;
  d->n_tests = l.n;
  p = malloc((l.n ? l.n : 1) * sizeof *p);
  q = malloc((l.n ? l.n : 1) * sizeof *q);
  found = calloc(l.n ? l.n : 1, sizeof *found);
  if (!p || !q || !found)
    goto out;
  for (size_t i = 0; i < l.n; i++)
    p[i] = l.v[i].t.p;
  if (bsl_prop_bh(p, l.n, q) != 0)
    goto out;
  size_t nf = 0, nm = 0;
  for (size_t i = 0; i < l.n; i++) {
    const test *t = &l.v[i];
    double floor = t->mover && (t->metric == MV_VISITS || t->metric == MV_CONV)
                       ? BSL_DIAG_MOVER_COUNT
                       : BSL_DIAG_MIN_EFFECT;
    found[i] = q[i] < BSL_DIAG_FDR && fabs(t->effect) >= floor;
  }
  for (size_t i = 0; i < l.n; i++) {
    if (found[i] && !l.v[i].mover && parent_found(l.v, l.n, &l.v[i], found))
      found[i] = false;
    if (found[i])
      l.v[i].mover ? nm++ : nf++;
  }
  d->findings = calloc(nf ? nf : 1, sizeof *d->findings);
  d->movers = calloc(nm ? nm : 1, sizeof *d->movers);
  if (!d->findings || !d->movers)
    goto out;
  for (size_t i = 0; i < l.n; i++) {
    if (!found[i])
      continue;
    const test *t = &l.v[i];
    if (t->mover) {
      bsl_diag_mover *m = &d->movers[d->n_movers++];
      if (make_mover(c, t, m) != 0)
        goto out;
      m->p_value = p[i], m->q_value = q[i];
    } else {
      bsl_diag_finding *f = &d->findings[d->n_findings++];
      if (make_finding(c, t, f) != 0)
        goto out;
      f->p_value = p[i], f->q_value = q[i];
    }
  }
  qsort(d->findings, d->n_findings, sizeof *d->findings, by_share);
  qsort(d->movers, d->n_movers, sizeof *d->movers, by_mover_share);
  if (merge_all(d) != 0)
    goto out;
  rc = 0;
out:
  free(l.v);
  free(p);
  free(q);
  free(found);
  return rc;
}

/* ---- leaks ---- */

static int add_leak(bsl_diag *d, const char *kind, const char *subject,
                    char *message, double size) {
  bsl_diag_leak *nl = realloc(d->leaks, (d->n_leaks + 1) * sizeof *nl);
  if (!nl || !message) {
    free(message);
    return -1;
  }
  d->leaks = nl;
  bsl_diag_leak *l = &d->leaks[d->n_leaks];
  l->kind = dup(kind), l->subject = dup(subject), l->message = message;
  l->size = size;
  d->n_leaks++;
  return l->kind && l->subject ? 0 : -1;
}

static void pct(double v, char *out, size_t cap) {
  snprintf(out, cap, "%.1f%%", 100 * v);
}

static int page_leaks(struct ctx *c) {
  bsl_diag *d = c->d;
  for (size_t i = 0; i < d->n_findings; i++) {
    const bsl_diag_finding *f = &d->findings[i];
    if (f->better || strcmp(f->dimension, "landing_page") != 0 ||
        (strcmp(f->metric, "bounce_rate") && strcmp(f->metric, "scroll_rate")))
      continue;
    const char *path = f->segment;
    seg *s = seg_get(c, D_LANDING, &path, 1);
    if (!s)
      return -1;
    double entries = s->c[0][C_VISITS];
    if (entries < BSL_DIAG_MIN_SIZE || entries < 0.01 * c->tot[0][C_VISITS])
      continue;
    char a[32], b[32];
    pct(f->segment_value, a, sizeof a), pct(f->site_value, b, sizeof b);
    char *msg;
    if (strcmp(f->metric, "bounce_rate") == 0)
      msg = fmt("%.0f entries, %s of them leave without a second page or a "
                "click (the site: %s): about %.0f visits lost; check what the "
                "page promises against the link or ad that brings them",
                entries, a, b, f->impact);
    else
      msg = fmt("%.0f entries, only %s of its pageviews reach 75%% of the page "
                "(the site: %s): the content below the fold is not read; "
                "shorten the page or move what matters up",
                entries, a, b);
    if (add_leak(d, "page", path, msg, entries) != 0)
      return -1;
  }
  return 0;
}

struct camp_acc {
  struct ctx *c;
  int rc;
};

static int on_campaign(void *va, const bsl_report_row *row) {
  struct camp_acc *a = va;
  bsl_diag *d = a->c->d;
  const char *name = row->text[0] ? row->text[0] : "";
  double clicks = num(row, 4), opens = num(row, 3), visits = num(row, 8);
  if (!name[0] || clicks < 20 || visits >= 0.25 * clicks)
    return 0;
  char *msg = fmt("%.0f clicks (%.0f opens) in the campaign log but %.0f "
                  "visits tagged utm_campaign=%s: are the links tagged with "
                  "that name, and do they reach this site?",
                  clicks, opens, visits, name);
  if (add_leak(d, "campaign_no_visits", name, msg, clicks) != 0)
    return a->rc = -1, 1;
  return 0;
}

static int campaign_leaks(struct ctx *c, bsl_store *st) {
  bsl_diag *d = c->d;
  const char *p[] = {d->from, d->to, "1000"};
  int has = bsl_store_report_has(st, "campaigns_daily");
  if (has < 0)
    return -1;
  struct camp_acc a = {c, 0};
  if (has &&
      bsl_store_report_query(st, BSL_RQ_CAMPAIGNS, p, 3, on_campaign, &a) != 0)
    return -1;
  if (a.rc)
    return -1;
  /* visits but no conversion where the site's rate expected some: the
   * chance of none at all, (1 - rate)^visits, under 1% */
  double rate =
      c->tot[0][C_VISITS] > 0 ? c->tot[0][C_CONV] / c->tot[0][C_VISITS] : 0;
  for (size_t i = 0; i < c->t.n && rate > 0; i++) {
    seg *s = c->t.list[i];
    double v = s->c[0][C_VISITS];
    if (s->dim != D_CAMPAIGN || s->c[0][C_CONV] > 0 || v < 30 ||
        pow(1 - rate, v) >= 0.01)
      continue;
    char r[32];
    pct(rate, r, sizeof r);
    char *msg = fmt("%.0f visits and no conversion, where the site's rate "
                    "(%s) would give about %.0f: check the landing page "
                    "and the offer",
                    v, r, v * rate);
    if (add_leak(d, "campaign_no_conversions", s->part[0], msg, v) != 0)
      return -1;
  }
  return 0;
}

struct day_pv {
  char (*day)[11];
  double *pv;
  size_t n, cap;
  bool oom;
};

static int on_day(void *vd, const bsl_report_row *row) {
  struct day_pv *a = vd;
  if (a->n == a->cap) {
    size_t ncap = a->cap ? a->cap * 2 : 64;
    char(*nd)[11] = realloc(a->day, ncap * sizeof *nd);
    if (nd)
      a->day = nd;
    double *np = realloc(a->pv, ncap * sizeof *np);
    if (np)
      a->pv = np;
    if (!nd || !np)
      return a->oom = true, 1;
    a->cap = ncap;
  }
  snprintf(a->day[a->n], 11, "%.10s", row->text[0] ? row->text[0] : "");
  a->pv[a->n++] = num(row, 3);
  return 0;
}

struct beacon_acc {
  struct ctx *c;
  struct day_pv *days;
  int rc;
};

static int on_beacon(void *vb, const bsl_report_row *row) {
  struct beacon_acc *a = vb;
  bsl_diag *d = a->c->d;
  const char *event = row->text[0], *first = row->text[1], *last = row->text[2];
  if (!event || !first || !last || strcmp(last, d->to) >= 0)
    return 0;
  double before = 0, after = 0;
  int days_after = 0;
  for (size_t i = 0; i < a->days->n; i++) {
    if (strcmp(a->days->day[i], first) >= 0 &&
        strcmp(a->days->day[i], last) <= 0)
      before += a->days->pv[i];
    else if (strcmp(a->days->day[i], last) > 0 &&
             strcmp(a->days->day[i], d->to) <= 0 && a->days->pv[i] > 0)
      after += a->days->pv[i], days_after++;
  }
  double expected = before > 0 ? num(row, 4) / before * after : 0;
  if (days_after < 2 || expected < 20)
    return 0;
  char *msg = fmt("no %s beacon since %s, while %.0f pageviews came in %d "
                  "days after it (about %.0f beacons were expected): is the "
                  "tag still on the pages, and beacon_path still logged?",
                  event, last, after, days_after, expected);
  if (add_leak(d, "beacons_stopped", event, msg, after) != 0)
    return a->rc = -1, 1;
  return 0;
}

static int beacon_leaks(struct ctx *c, bsl_store *st) {
  bsl_diag *d = c->d;
  struct day_pv days = {0};
  const char *first = d->data_first[0] ? d->data_first : d->prev_from;
  const char *p[] = {first, d->to};
  int rc = bsl_store_report_query(st, BSL_RQ_DAYS, p, 2, on_day, &days);
  struct beacon_acc a = {c, &days, 0};
  const char *q[] = {d->from, d->to};
  if (rc == 0 && !days.oom)
    rc = bsl_store_diag_query(st, BSL_DQ_BEACONS, q, 2, on_beacon, &a);
  free(days.day);
  free(days.pv);
  return rc != 0 || days.oom || a.rc ? -1 : 0;
}

/* ---- proposed objectives ---- */

struct series {
  double num[BSL_DIAG_MAX_DAYS * 2], den[BSL_DIAG_MAX_DAYS * 2];
  int64_t start;
  int metric;
  int n;
};

static int on_series(void *vs, const bsl_report_row *row) {
  struct series *s = vs;
  int64_t day;
  if (!row->text[0] || bsl_day_parse(row->text[0], &day) != 0)
    return 0;
  int64_t i = day - s->start;
  if (i < 0 || i >= s->n)
    return 0;
  bool page = row->ncol == 4; /* SERIES_PAGE */
  bool scroll = row->ncol == 3;
  double x = 0, n = 0;
  if (page)
    n = num(row, 1), x = s->metric == M_SCROLL ? num(row, 2) : num(row, 3);
  else if (scroll)
    n = num(row, 1), x = num(row, 2);
  else if (s->metric == M_CONV)
    n = num(row, 1), x = num(row, 3);
  else if (s->metric == M_BOUNCE)
    n = num(row, 1), x = num(row, 2);
  else
    n = num(row, 4), x = num(row, 5);
  s->num[i] += x, s->den[i] += n;
  return 0;
}

/* A filter value a configuration can carry as it is: inih would cut it at
 * " ;" or " #", trim its spaces, and a line cannot hold a control
 * character. */
static bool ini_safe(const char *v) {
  size_t n = strlen(v);
  if (!n || n > 200 || v[0] == ' ' || v[n - 1] == ' ')
    return false;
  for (const char *p = v; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ';' || *p == '#' ||
        *p == '"')
      return false;
  return true;
}

static bool known_channel(const char *v) {
  static const char *const ch[] = {"paid",          "email",  "social",
                                   "campaign",      "direct", "referral",
                                   "organic_search"};
  for (size_t i = 0; i < sizeof ch / sizeof ch[0]; i++)
    if (strcmp(ch[i], v) == 0)
      return true;
  return false;
}

/* The [kpi] filter that selects exactly S: key and value, or false with
 * the reason in WHY. */
static bool filter_of(const struct ctx *c, const seg *s, const char **key,
                      const char **value, char *why, size_t whylen) {
  switch (s->dim) {
  case D_CHANNEL:
    *key = "channel", *value = s->part[0];
    if (!known_channel(s->part[0])) {
      snprintf(why, whylen,
               "a [kpi] filter takes only the channels of "
               "SPEC §5");
      return false;
    }
    break;
  case D_CAMPAIGN:
    *key = "campaign", *value = s->part[0];
    break;
  case D_LANDING:
    *key = "path", *value = s->part[0];
    break;
  case D_DEVICE:
    *key = "device", *value = s->part[0];
    if (strcmp(*value, "desktop") && strcmp(*value, "mobile") &&
        strcmp(*value, "tablet")) {
      snprintf(why, whylen,
               "a [kpi] filter takes only desktop, mobile or "
               "tablet");
      return false;
    }
    break;
  case D_SOURCE_MEDIUM: {
    /* source=X selects this segment when X comes with no other medium;
     * medium=Y when Y comes from no other source */
    int same_source = 0, same_medium = 0;
    for (size_t i = 0; i < c->t.n; i++) {
      const seg *u = c->t.list[i];
      if (u->dim != D_SOURCE_MEDIUM ||
          u->c[0][C_VISITS] + u->c[1][C_VISITS] <= 0)
        continue;
      same_source += strcmp(u->part[0], s->part[0]) == 0;
      same_medium += strcmp(u->part[1], s->part[1]) == 0;
    }
    if (same_source == 1)
      *key = "source", *value = s->part[0];
    else if (same_medium == 1)
      *key = "medium", *value = s->part[1];
    else {
      snprintf(why, whylen,
               "a [kpi] filter has one key: source=%.60s also takes other "
               "media, and medium=%.60s other sources",
               s->part[0], s->part[1]);
      return false;
    }
    break;
  }
  default:
    snprintf(why, whylen,
             "a [kpi] filter has one key, and this segment is a "
             "pair of dimensions: watch each part on its own");
    return false;
  }
  if (!ini_safe(*value)) {
    snprintf(why, whylen,
             "the value cannot be written on a configuration "
             "line (spaces at its ends, ';', '#', '\"' or a "
             "control character)");
    return false;
  }
  return true;
}

/* "email-campaign-signup-rate": a [kpi] name from the segment and the
 * metric, letters, digits and '-' only, unique among the objectives. */
static char *kpi_name(const struct ctx *c, const char *value,
                      const char *metric, const char *goal) {
  const bsl_diag *d = c->d;
  char base[96];
  size_t n = 0;
  bool dash = true;
  for (const char *p = value; *p && n < 40; p++) {
    unsigned char ch = (unsigned char)*p;
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
      base[n++] = (char)ch, dash = false;
    } else if (ch >= 'A' && ch <= 'Z') {
      base[n++] = (char)(ch - 'A' + 'a'), dash = false;
    } else if (!dash) {
      base[n++] = '-', dash = true;
    }
  }
  while (n && base[n - 1] == '-')
    n--;
  if (!n) /* "/" and names without a letter or digit */
    n = (size_t)snprintf(base, sizeof base, "%s",
                         strcmp(value, "/") == 0 ? "home" : "segment");
  base[n] = '\0';
  char tail[64];
  if (goal)
    snprintf(tail, sizeof tail, "%.30s-rate", goal);
  else
    snprintf(tail, sizeof tail, "%.*s", (int)strcspn(metric, "_"), metric);
  for (char *p = tail; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
      *p = '-';
  for (int k = 1;; k++) {
    char *name =
        k == 1 ? fmt("%s-%s", base, tail) : fmt("%s-%s-%d", base, tail, k);
    if (!name)
      return NULL;
    bool taken = false;
    for (size_t i = 0; i < d->n_objectives && !taken; i++)
      taken = strcmp(d->objectives[i].name, name) == 0;
    for (size_t i = 0; i < c->opts->n_kpi_names && !taken; i++)
      taken = strcmp(c->opts->kpi_names[i], name) == 0;
    if (!taken)
      return name;
    free(name);
  }
}

/* Mean and sample standard deviation of the per-period rates of S over
 * [lo, hi) aggregated by LEN days; the Theil–Sen slope per day and the
 * Mann–Kendall p over the whole series. */
struct trend {
  double sd, slope, p;
  int periods;
};

static void trend_of(const struct series *s, int len, struct trend *tr) {
  double y[BSL_DIAG_MAX_DAYS * 2], t[BSL_DIAG_MAX_DAYS * 2];
  int n = 0;
  for (int i = 0; i + len <= s->n; i += len) {
    double x = 0, den = 0;
    for (int k = i; k < i + len; k++)
      x += s->num[k], den += s->den[k];
    if (den > 0)
      y[n] = x / den, t[n] = i + (len - 1) / 2.0, n++;
  }
  *tr = (struct trend){.sd = NAN, .slope = 0, .p = 1, .periods = n};
  if (n >= 2) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++)
      m += y[i];
    m /= n;
    for (int i = 0; i < n; i++)
      v += (y[i] - m) * (y[i] - m);
    tr->sd = sqrt(v / (n - 1));
  }
  bsl_mk_result mk;
  double slope, icpt;
  if (n >= 3 && bsl_stats_mann_kendall(y, (size_t)n, &mk) == 0 &&
      bsl_stats_theil_sen(t, y, NULL, (size_t)n, &slope, &icpt) == 0)
    tr->slope = slope, tr->p = mk.p;
}

static int propose(struct ctx *c, bsl_store *st, size_t fi, struct series *sr) {
  bsl_diag *d = c->d;
  const bsl_diag_finding *f = &d->findings[fi];
  int metric = 0;
  while (strcmp(METRIC_NAME[metric], f->metric) != 0)
    metric++;
  /* find the segment again */
  seg *s = NULL;
  for (size_t i = 0; i < c->t.n && !s; i++)
    if (strcmp(c->t.list[i]->display, f->segment) == 0 &&
        strcmp(dim_name(c->t.list[i]->dim), f->dimension) == 0)
      s = c->t.list[i];
  bsl_diag_objective *nv =
      realloc(d->objectives, (d->n_objectives + 1) * sizeof *nv);
  if (!nv || !s)
    return -1;
  d->objectives = nv;
  bsl_diag_objective *o = &d->objectives[d->n_objectives];
  *o = (bsl_diag_objective){
      .finding = fi, .baseline = f->segment_value, .target = NAN};
  const char *key = NULL, *value = NULL;
  char why[256];
  if (!filter_of(c, s, &key, &value, why, sizeof why)) {
    o->name = kpi_name(c, f->segment, f->metric, f->goal);
    o->how = fmt("no [kpi] block: %s", why);
    d->n_objectives++;
    return o->name && o->how ? 0 : -1;
  }
  /* the segment's days over the range and the period before it */
  int64_t lo, hi;
  bsl_day_parse(d->prev_from, &lo);
  bsl_day_parse(d->to, &hi);
  memset(sr->num, 0, sizeof sr->num);
  memset(sr->den, 0, sizeof sr->den);
  sr->start = lo, sr->n = (int)(hi - lo + 1), sr->metric = metric;
  const char *goal = f->goal ? f->goal : "";
  int rc;
  if (s->dim == D_LANDING && (metric == M_SCROLL || metric == M_CLICK)) {
    const char *p[] = {d->prev_from, d->to, value};
    rc = bsl_store_diag_query(st, BSL_DQ_SERIES_PAGE, p, 3, on_series, sr);
  } else if (metric == M_SCROLL) {
    const char *p[] = {d->prev_from, d->to, key, value};
    rc = bsl_store_diag_query(st, BSL_DQ_SERIES_SCROLL, p, 4, on_series, sr);
  } else {
    const char *p[] = {d->prev_from, d->to, key, value, goal};
    rc = bsl_store_diag_query(st, BSL_DQ_SERIES_VISITS, p, 5, on_series, sr);
  }
  if (rc != 0)
    return -1;
  /* a week per period when a day holds too few visits to read a rate */
  double per_day = f->size / d->n_days;
  bool weekly = per_day < 30;
  int len = weekly ? 7 : 1, window = weekly ? 8 : 28;
  struct trend tr;
  trend_of(sr, len, &tr);
  int dir = higher_is_better(metric) ? 1 : -1;
  double b = f->segment_value, site = f->site_value;
  /* the smallest change of a window's mean that stands out of the
   * period-to-period noise (two standard errors) */
  double noise = isnan(tr.sd) ? 0.1 * b : 2 * tr.sd / sqrt(window);
  double gap = dir * (site - b); /* > 0: room up to the site's level */
  double step;
  const char *rule;
  if (!f->better && gap > 0) {
    step = fmax(gap / 2, fmin(noise, gap));
    rule = step > gap / 2 ? "the site's level (half the gap would be lost in "
                            "the noise)"
                          : "half the gap to the site's level";
  } else {
    /* at least the smallest movement a [kpi] counts by default (5%) */
    step = fmax(noise, 0.05 * b);
    rule = "a gain the KPI's window can tell from noise (keep the lead and "
           "extend it)";
  }
  /* a significant trend in the good direction carries the target further
   * over the horizon, up to the site's level for a weak point */
  int horizon = BSL_DIAG_OBJECTIVE_DAYS;
  double per_day_slope = tr.slope / len;
  bool good_trend = tr.p < 0.05 && dir * per_day_slope > 0;
  bool bad_trend = tr.p < 0.05 && dir * per_day_slope < 0;
  if (good_trend) {
    double gain = dir * per_day_slope * horizon;
    double cap = !f->better && gap > 0 ? gap : 2 * step;
    if (gain > step)
      step = fmin(gain, cap), rule = "where its trend leads in 90 days";
  }
  if (bad_trend)
    horizon *= 2;
  double target = b + dir * step;
  /* a rate stays within 0-100%; clicks per pageview only above 0 */
  target = metric == M_CLICK ? fmax(0, target) : fmin(1, fmax(0, target));
  int64_t deadline = hi + horizon;
  bsl_day_format(deadline, o->deadline);
  o->target = target;
  double rel = b > 0 ? noise / b : 0.05;
  int min_change = (int)ceil(100 * fmin(0.5, fmax(0.05, rel)));
  o->name = kpi_name(c, value, f->metric, f->goal);
  if (!o->name)
    return -1;
  char goal_line[160] = "";
  if (f->goal)
    snprintf(goal_line, sizeof goal_line, "goal = %s\n", f->goal);
  char tgt[32];
  if (metric == M_CLICK)
    snprintf(tgt, sizeof tgt, "%.4f", target);
  else
    snprintf(tgt, sizeof tgt, "%.2f%%", 100 * target);
  o->kpi_block =
      fmt("[kpi \"%s\"]\nmetric = %s\n%sfilter = %s=%s\n"
          "period = %s\ndirection = %s\ntarget = %s\n"
          "deadline = %s\nwindow = %d\nmin_change = %d%%\n",
          o->name, f->metric, goal_line, key, value, weekly ? "week" : "day",
          dir > 0 ? "up" : "down", tgt, o->deadline, window, min_change);
  char bs[32], ss[32], ns[32], sd[32];
  pct(b, bs, sizeof bs), pct(site, ss, sizeof ss);
  snprintf(ns, sizeof ns, "%.2f", 100 * noise);
  snprintf(sd, sizeof sd, "%.2f", isnan(tr.sd) ? 0 : 100 * tr.sd);
  o->how = fmt(
      "baseline %s over %s..%s (%.0f %s; the site: %s); a %s's value varies "
      "by %s pt, so the mean of %d %ss moves by about %s pt on noise alone; "
      "target: "
      "%s; trend over the last %d days: %s; deadline %d days after the range%s",
      bs, d->from, d->to, f->size, f->unit, ss, weekly ? "week" : "day", sd,
      window, weekly ? "week" : "day", ns, rule, sr->n,
      good_trend  ? "improving (p < 0.05)"
      : bad_trend ? "worsening (p < 0.05)"
                  : "no significant trend",
      horizon, bad_trend ? " (doubled: the trend runs the wrong way)" : "");
  d->n_objectives++;
  return o->kpi_block && o->how ? 0 : -1;
}

static int propose_all(struct ctx *c, bsl_store *st) {
  struct series *sr = malloc(sizeof *sr);
  if (!sr)
    return -1;
  size_t written = 0;
  int rc = 0;
  /* the top findings, skipping those no [kpi] can express, and saying so
   * for at most as many again */
  for (size_t i = 0;
       i < c->d->n_findings && written < BSL_DIAG_MAX_OBJECTIVES &&
       c->d->n_objectives < 2 * BSL_DIAG_MAX_OBJECTIVES;
       i++) {
    if ((rc = propose(c, st, i, sr)) != 0)
      break;
    if (c->d->objectives[c->d->n_objectives - 1].kpi_block)
      written++;
  }
  free(sr);
  return rc;
}

/* ---- gather ---- */

static int read_period(struct ctx *c, bsl_store *st, int period,
                       const char *from, const char *to) {
  const char *p[] = {from, to};
  c->period = period;
  if (bsl_store_diag_query(st, BSL_DQ_VISITS, p, 2, on_visits, c) != 0 ||
      bsl_store_diag_query(st, BSL_DQ_GOALS, p, 2, on_goals, c) != 0)
    return -1;
  if (period == 0 &&
      (bsl_store_diag_query(st, BSL_DQ_SCROLL, p, 2, on_scroll, c) != 0 ||
       bsl_store_diag_query(st, BSL_DQ_PAGES, p, 2, on_pages, c) != 0))
    return -1;
  return 0;
}

int bsl_diag_gather(bsl_store *st, const bsl_diag_options *o, bsl_diag **out,
                    char *err, size_t errlen) {
  bsl_diag *d = calloc(1, sizeof *d);
  if (!d) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  struct ctx c = {.d = d, .opts = o, .err = err, .errlen = errlen};
  char now[32];
  bsl_time_format_utc(o->now, now);
  snprintf(d->generated_at, sizeof d->generated_at, "%s", now);
  if (resolve_range(st, o, d, err, errlen) != 0)
    goto fail;
  struct goals_acc ga = {d, false};
  const char *gp[] = {d->prev_from, d->to};
  if (bsl_store_report_query(st, BSL_RQ_GOALS, gp, 2, on_goal_names, &ga) !=
      0) {
    if (ga.oom)
      goto oom;
    goto store_fail;
  }
  c.n_goals = d->n_goals;
  size_t ng = c.n_goals ? c.n_goals : 1;
  c.goal_tot[0] = calloc(ng, sizeof(double));
  c.goal_tot[1] = calloc(ng, sizeof(double));
  if (!c.goal_tot[0] || !c.goal_tot[1])
    goto oom;
  if (read_period(&c, st, 0, d->from, d->to) != 0 ||
      read_period(&c, st, 1, d->prev_from, d->prev_to) != 0) {
    if (c.oom)
      goto oom;
    goto store_fail;
  }
  d->visits = c.tot[0][C_VISITS], d->prev_visits = c.tot[1][C_VISITS];
  d->bounces = c.tot[0][C_BOUNCES], d->converted = c.tot[0][C_CONV];
  d->pageviews = c.tot[0][C_PV];
  d->goal_conversions = calloc(ng, sizeof(double));
  if (!d->goal_conversions)
    goto oom;
  for (size_t g = 0; g < c.n_goals; g++)
    d->goal_conversions[g] = c.goal_tot[0][g];
  d->n_segments = c.t.n;
  if (run_tests(&c) != 0)
    goto oom;
  if (page_leaks(&c) != 0)
    goto oom;
  if (campaign_leaks(&c, st) != 0 || beacon_leaks(&c, st) != 0 ||
      propose_all(&c, st) != 0) {
    if (bsl_store_error(st)[0])
      goto store_fail;
    goto oom;
  }
  for (size_t i = 0; i < c.t.n; i++)
    seg_free(c.t.list[i]);
  free(c.t.list), free(c.t.slot);
  free(c.goal_tot[0]), free(c.goal_tot[1]);
  *out = d;
  return 0;
store_fail:
  snprintf(err, errlen, "%s", bsl_store_error(st));
  goto fail;
oom:
  snprintf(err, errlen, "out of memory");
fail:
  for (size_t i = 0; i < c.t.n; i++)
    seg_free(c.t.list[i]);
  free(c.t.list), free(c.t.slot);
  free(c.goal_tot[0]), free(c.goal_tot[1]);
  bsl_diag_destroy(d);
  return -1;
}

void bsl_diag_destroy(bsl_diag *d) {
  if (!d)
    return;
  for (size_t i = 0; i < d->n_goals; i++)
    free(d->goals[i]);
  free(d->goals);
  free(d->goal_conversions);
  for (size_t i = 0; i < d->n_findings; i++)
    finding_free(&d->findings[i]);
  free(d->findings);
  for (size_t i = 0; i < d->n_movers; i++)
    mover_free(&d->movers[i]);
  free(d->movers);
  for (size_t i = 0; i < d->n_leaks; i++)
    free(d->leaks[i].kind), free(d->leaks[i].subject),
        free(d->leaks[i].message);
  free(d->leaks);
  for (size_t i = 0; i < d->n_objectives; i++)
    free(d->objectives[i].name), free(d->objectives[i].kpi_block),
        free(d->objectives[i].how);
  free(d->objectives);
  free(d);
}

void bsl_diag_metric_words(const char *metric, const char *goal, char *out,
                           size_t cap) {
  char words[40];
  snprintf(words, sizeof words, "%s", metric ? metric : "");
  for (char *p = words; *p; p++)
    if (*p == '_')
      *p = ' ';
  if (goal)
    snprintf(out, cap, "%s (%s)", words, goal);
  else
    snprintf(out, cap, "%s", words);
}
