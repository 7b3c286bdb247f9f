/*
 * Tests and intervals for proportions and counts (prop.h), for `diagnose`.
 * Exact tests work in log space through lgamma so that a table of a few
 * thousand visits neither overflows nor loses the tail.
 */
#include "prop.h"

#include <math.h>
#include <stdlib.h>

#include "stats.h"

/* R's relative tolerance for "no more likely than the observed table". */
#define REL_TOL (1 + 1e-7)

void bsl_prop_wilson(double x, double n, double z, double *lo, double *hi) {
  if (!(n > 0)) {
    *lo = 0, *hi = 1;
    return;
  }
  double ph = x / n, z2 = z * z;
  double centre = (ph + z2 / (2 * n)) / (1 + z2 / n);
  double half = z * sqrt(ph * (1 - ph) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  *lo = fmax(0, centre - half);
  *hi = fmin(1, centre + half);
}

void bsl_prop_poisson_ci(double x, double t, double z, double *lo, double *hi) {
  if (!(t > 0)) {
    *lo = 0, *hi = INFINITY;
    return;
  }
  double z2 = z * z, half = z * sqrt(x + z2 / 4);
  *lo = fmax(0, (x + z2 / 2 - half) / t);
  *hi = (x + z2 / 2 + half) / t;
}

int bsl_prop_ztest(double x1, double n1, double x2, double n2, double *z,
                   double *p) {
  if (!(n1 > 0) || !(n2 > 0))
    return -1;
  double pool = (x1 + x2) / (n1 + n2);
  double var = pool * (1 - pool) * (1 / n1 + 1 / n2);
  if (!(var > 0))
    return -1;
  *z = (x1 / n1 - x2 / n2) / sqrt(var);
  *p = fmin(1, 2 * bsl_stats_normal_sf(fabs(*z)));
  return 0;
}

static double lchoose(int64_t n, int64_t k) {
  return lgamma((double)n + 1) - lgamma((double)k + 1) -
         lgamma((double)(n - k) + 1);
}

int bsl_prop_fisher(int64_t a, int64_t b, int64_t c, int64_t d, double *p) {
  if (a < 0 || b < 0 || c < 0 || d < 0)
    return -1;
  int64_t row1 = a + b, row2 = c + d, col1 = a + c, n = row1 + row2;
  int64_t lo = col1 - row2 > 0 ? col1 - row2 : 0;
  int64_t hi = row1 < col1 ? row1 : col1;
  double base = lchoose(n, row1);
  double obs = lchoose(col1, a) + lchoose(n - col1, row1 - a) - base;
  double limit = obs + log(REL_TOL), sum = 0;
  for (int64_t k = lo; k <= hi; k++) {
    double lp = lchoose(col1, k) + lchoose(n - col1, row1 - k) - base;
    if (lp <= limit)
      sum += exp(lp);
  }
  *p = fmin(1, sum);
  return 0;
}

int bsl_prop_binom(int64_t x, int64_t n, double p0, double *p) {
  if (n < 0 || x < 0 || x > n || !(p0 > 0 && p0 < 1))
    return -1;
  double l0 = log(p0), l1 = log1p(-p0);
  double obs = lchoose(n, x) + (double)x * l0 + (double)(n - x) * l1;
  double limit = obs + log(REL_TOL), sum = 0;
  for (int64_t k = 0; k <= n; k++) {
    double lp = lchoose(n, k) + (double)k * l0 + (double)(n - k) * l1;
    if (lp <= limit)
      sum += exp(lp);
  }
  *p = fmin(1, sum);
  return 0;
}

static int64_t whole(double v) {
  return v > 0 ? (int64_t)llround(v) : 0;
}

void bsl_prop_compare(double x1, double n1, double x2, double n2,
                      bsl_prop_test *out) {
  *out = (bsl_prop_test){.p = 1, .z = 0, .exact = false};
  int64_t a = whole(x1), b = whole(n1) - a, c = whole(x2), d = whole(n2) - c;
  if (b < 0 || d < 0)
    return;
  double n = (double)(a + b + c + d), r1 = (double)(a + b),
         r2 = (double)(c + d), k1 = (double)(a + c), k2 = (double)(b + d);
  if (!(r1 > 0 && r2 > 0 && k1 > 0 && k2 > 0))
    return;
  double emin = fmin(r1, r2) * fmin(k1, k2) / n; /* the smallest cell's */
  if (emin >= 5) {
    double z, p;
    if (bsl_prop_ztest((double)a, r1, (double)c, r2, &z, &p) == 0)
      out->p = p, out->z = z;
    return;
  }
  out->exact = true;
  bsl_prop_fisher(a, b, c, d, &out->p);
}

void bsl_prop_rate_compare(double c1, double t1, double c2, double t2,
                           bsl_prop_test *out) {
  *out = (bsl_prop_test){.p = 1, .z = 0, .exact = false};
  int64_t a = whole(c1), b = whole(c2);
  if (!(t1 > 0 && t2 > 0) || a + b == 0)
    return;
  double total = (double)(a + b), p0 = t1 / (t1 + t2);
  if (total * p0 >= 5 && total * (1 - p0) >= 5) {
    out->z = ((double)a - total * p0) / sqrt(total * p0 * (1 - p0));
    out->p = fmin(1, 2 * bsl_stats_normal_sf(fabs(out->z)));
    return;
  }
  out->exact = true;
  bsl_prop_binom(a, a + b, p0, &out->p);
}

struct ranked {
  double p;
  size_t i;
};

static int by_p(const void *x, const void *y) {
  const struct ranked *a = x, *b = y;
  return a->p < b->p ? -1 : a->p > b->p ? 1 : (a->i > b->i) - (a->i < b->i);
}

int bsl_prop_bh(const double *p, size_t n, double *q) {
  struct ranked *r = malloc((n ? n : 1) * sizeof *r);
  if (!r)
    return -1;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (!isnan(p[i]))
      r[m++] = (struct ranked){p[i], i};
  qsort(r, m, sizeof *r, by_p);
  for (size_t i = 0; i < n; i++)
    if (isnan(p[i]))
      q[i] = NAN;
  double run = 1;
  for (size_t k = m; k-- > 0;) {
    double v = r[k].p * (double)m / (double)(k + 1);
    if (v < run)
      run = v;
    q[r[k].i] = run;
  }
  free(r);
  return 0;
}
