/*
 * Rank and trend statistics for KPI evaluation (see stats.h).  Series are
 * short (a KPI window, at most 1000 periods), so the pairwise O(n^2)
 * definitions are used directly: they are the definitions the tests and the
 * literature state, with no approximation beyond the documented normal ones.
 */
#include "stats.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of a scratch array that may be reordered. */
static double median_inplace(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

int bsl_stats_median(const double *x, size_t n, double *out) {
  if (n == 0)
    return -1;
  double *v = malloc(n * sizeof *v);
  if (!v)
    return -1;
  memcpy(v, x, n * sizeof *v);
  *out = median_inplace(v, n);
  free(v);
  return 0;
}

int bsl_stats_mean(const double *x, size_t n, double *out) {
  if (n == 0)
    return -1;
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += x[i];
  *out = sum / (double)n;
  return 0;
}

double bsl_stats_normal_sf(double z) {
  return 0.5 * erfc(z / sqrt(2.0));
}

/* Closed forms of the chi-square survival function for integer df
 * (Abramowitz & Stegun 26.4.4 and 26.4.5). */
double bsl_stats_chi2_sf(double x, int df) {
  if (df <= 0)
    return NAN;
  if (x <= 0)
    return 1.0;
  double half = x / 2.0;
  if (df % 2 == 0) {
    double term = 1.0, sum = 1.0;
    for (int j = 1; j < df / 2; j++) {
      term *= half / j;
      sum += term;
    }
    return exp(-half) * sum;
  }
  double q = erfc(sqrt(half));
  if (df == 1)
    return q;
  /* sqrt(2x/pi) e^{-x/2} sum_{j=1}^{(df-1)/2} x^{j-1} / (1*3*...*(2j-1)) */
  double term = 1.0, sum = 1.0;
  for (int j = 2; j <= (df - 1) / 2; j++) {
    term *= x / (2 * j - 1);
    sum += term;
  }
  return q + sqrt(2.0 * x / M_PI) * exp(-half) * sum;
}

static double sign(double d) {
  return (d > 0) - (d < 0);
}

/* Sum over groups of tied values of t (t - 1) (2t + 5): the tie term of the
 * Mann–Kendall variance.  V is a scratch copy that gets sorted. */
static double mk_tie_term(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  double term = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && v[j] == v[i])
      j++;
    double t = (double)(j - i);
    term += t * (t - 1) * (2 * t + 5);
    i = j;
  }
  return term;
}

static void mk_finish(double s, double var, double pairs, bsl_mk_result *out) {
  double z = 0;
  if (s > 0)
    z = (s - 1) / sqrt(var);
  else if (s < 0)
    z = (s + 1) / sqrt(var);
  double p = 2.0 * bsl_stats_normal_sf(fabs(z));
  out->s = s;
  out->var = var;
  out->z = z;
  out->p = p > 1.0 ? 1.0 : p;
  out->tau = pairs > 0 ? s / pairs : 0;
}

int bsl_stats_mann_kendall(const double *y, size_t n, bsl_mk_result *out) {
  if (n < 3)
    return -1;
  double s = 0;
  for (size_t i = 0; i + 1 < n; i++)
    for (size_t j = i + 1; j < n; j++)
      s += sign(y[j] - y[i]);
  double *v = malloc(n * sizeof *v);
  if (!v)
    return -1;
  memcpy(v, y, n * sizeof *v);
  double dn = (double)n;
  double var = (dn * (dn - 1) * (2 * dn + 5) - mk_tie_term(v, n)) / 18.0;
  free(v);
  if (var <= 0) /* every value tied: no evidence of anything */
    var = 0;
  if (var == 0) {
    *out = (bsl_mk_result){.s = s, .var = 0, .z = 0, .p = 1.0, .tau = 0};
    return 0;
  }
  mk_finish(s, var, dn * (dn - 1) / 2, out);
  return 0;
}

int bsl_stats_seasonal_mann_kendall(const double *y, const int *season,
                                    size_t n, int n_seasons,
                                    bsl_mk_result *out) {
  if (n < 2 || n_seasons < 1)
    return -1;
  double *v = malloc(n * sizeof *v);
  if (!v)
    return -1;
  double s = 0, var = 0, pairs = 0;
  for (int g = 0; g < n_seasons; g++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      if (season[i] != g)
        continue;
      for (size_t j = i + 1; j < n; j++)
        if (season[j] == g)
          s += sign(y[j] - y[i]);
      v[m++] = y[i];
    }
    if (m < 2)
      continue;
    double dm = (double)m;
    var += (dm * (dm - 1) * (2 * dm + 5) - mk_tie_term(v, m)) / 18.0;
    pairs += dm * (dm - 1) / 2;
  }
  free(v);
  if (pairs == 0)
    return -1;
  if (var <= 0) {
    *out = (bsl_mk_result){.s = s, .var = 0, .z = 0, .p = 1.0, .tau = 0};
    return 0;
  }
  mk_finish(s, var, pairs, out);
  return 0;
}

int bsl_stats_theil_sen(const double *t, const double *y, const int *season,
                        size_t n, double *slope, double *intercept) {
  if (n < 2)
    return -1;
  size_t cap = n * (n - 1) / 2;
  double *slopes = malloc(cap * sizeof *slopes);
  double *scratch = malloc(n * sizeof *scratch);
  if (!slopes || !scratch) {
    free(slopes);
    free(scratch);
    return -1;
  }
  size_t m = 0;
  for (size_t i = 0; i + 1 < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      if (t[j] == t[i] || (season && season[i] != season[j]))
        continue;
      slopes[m++] = (y[j] - y[i]) / (t[j] - t[i]);
    }
  if (m == 0) {
    free(slopes);
    free(scratch);
    return -1;
  }
  double b = median_inplace(slopes, m);
  memcpy(scratch, y, n * sizeof *scratch);
  double my = median_inplace(scratch, n);
  memcpy(scratch, t, n * sizeof *scratch);
  double mt = median_inplace(scratch, n);
  free(slopes);
  free(scratch);
  *slope = b;
  *intercept = my - b * mt;
  return 0;
}

struct ranked {
  double v;
  size_t i;
};

static int cmp_ranked(const void *a, const void *b) {
  const struct ranked *x = a, *y = b;
  if (x->v != y->v)
    return (x->v > y->v) - (x->v < y->v);
  return (x->i > y->i) - (x->i < y->i);
}

/* Average ranks (1-based) of V[0..n-1] into RANK; returns the tie term
 * sum(t^3 - t) over groups of ties, or -1 when out of memory. */
static double rank_values(const double *v, size_t n, double *rank) {
  struct ranked *r = malloc(n * sizeof *r);
  if (!r)
    return -1;
  for (size_t i = 0; i < n; i++)
    r[i] = (struct ranked){v[i], i};
  qsort(r, n, sizeof *r, cmp_ranked);
  double ties = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && r[j].v == r[i].v)
      j++;
    double avg = (double)(i + 1 + j) / 2.0; /* mean of ranks i+1 .. j */
    for (size_t k = i; k < j; k++)
      rank[r[k].i] = avg;
    double t = (double)(j - i);
    ties += t * t * t - t;
    i = j;
  }
  free(r);
  return ties;
}

/* Exact two-sided p of U for samples of sizes M and N without ties:
 * counts of arrangements by the recursion f(m, n, u) = f(m-1, n, u-n) +
 * f(m, n-1, u) (Mann & Whitney 1947), then p = 2 P(U >= max(U, mn - U)). */
static int mwu_exact_p(size_t m, size_t n, double u, double *p) {
  size_t umax = m * n;
  size_t w = umax + 1;
  /* f[i][j][k] for i <= m, j <= n, k <= umax, stored flat */
  double *f = calloc((m + 1) * (n + 1) * w, sizeof *f);
  if (!f)
    return -1;
#define F(i, j, k) f[((i) * (n + 1) + (j)) * w + (k)]
  for (size_t i = 0; i <= m; i++)
    for (size_t j = 0; j <= n; j++) {
      if (i == 0 || j == 0) {
        F(i, j, 0) = 1;
        continue;
      }
      for (size_t k = 0; k <= i * j; k++) {
        double a = k >= j ? F(i - 1, j, k - j) : 0;
        F(i, j, k) = a + F(i, j - 1, k);
      }
    }
  double total = 0, tail = 0;
  double hi = fmax(u, (double)umax - u);
  for (size_t k = 0; k <= umax; k++) {
    total += F(m, n, k);
    if ((double)k >= hi)
      tail += F(m, n, k);
  }
#undef F
  free(f);
  double pp = 2.0 * tail / total;
  *p = pp > 1.0 ? 1.0 : pp;
  return 0;
}

int bsl_stats_mann_whitney(const double *x, size_t nx, const double *y,
                           size_t ny, bsl_mwu_result *out) {
  if (nx == 0 || ny == 0)
    return -1;
  size_t n = nx + ny;
  double *v = malloc(n * sizeof *v);
  double *rank = malloc(n * sizeof *rank);
  if (!v || !rank) {
    free(v);
    free(rank);
    return -1;
  }
  memcpy(v, x, nx * sizeof *v);
  memcpy(v + nx, y, ny * sizeof *v);
  double ties = rank_values(v, n, rank);
  double r1 = 0;
  for (size_t i = 0; i < nx; i++)
    r1 += rank[i];
  free(v);
  free(rank);
  if (ties < 0)
    return -1;
  double n1 = (double)nx, n2 = (double)ny, dn = (double)n;
  double u = r1 - n1 * (n1 + 1) / 2.0;
  bsl_mwu_result r = {.u = u};
  if (ties == 0 && (nx <= 8 || ny <= 8) && nx * ny <= 2500) {
    if (mwu_exact_p(nx, ny, u, &r.p) != 0)
      return -1;
    r.exact = true;
  } else {
    double mu = n1 * n2 / 2.0;
    double var = n1 * n2 / 12.0 * ((dn + 1) - ties / (dn * (dn - 1)));
    if (var <= 0) {
      r.p = 1.0;
    } else {
      double umax = fmax(u, n1 * n2 - u);
      r.z = (umax - mu - 0.5) / sqrt(var);
      double p = 2.0 * bsl_stats_normal_sf(r.z);
      r.p = p > 1.0 ? 1.0 : p;
    }
  }
  *out = r;
  return 0;
}

int bsl_stats_kruskal_wallis(const double *y, const int *group, size_t n,
                             int n_groups, double *h, double *p, int *df) {
  if (n_groups < 2 || n < 3)
    return -1;
  double *rank = malloc(n * sizeof *rank);
  double *rsum = calloc((size_t)n_groups, sizeof *rsum);
  size_t *cnt = calloc((size_t)n_groups, sizeof *cnt);
  if (!rank || !rsum || !cnt)
    goto out_fail;
  double ties = rank_values(y, n, rank);
  if (ties < 0)
    goto out_fail;
  for (size_t i = 0; i < n; i++) {
    if (group[i] < 0 || group[i] >= n_groups)
      goto out_fail;
    rsum[group[i]] += rank[i];
    cnt[group[i]]++;
  }
  double dn = (double)n, sum = 0;
  int nonempty = 0;
  for (int g = 0; g < n_groups; g++)
    if (cnt[g]) {
      sum += rsum[g] * rsum[g] / (double)cnt[g];
      nonempty++;
    }
  double corr = 1.0 - ties / (dn * dn * dn - dn);
  if (nonempty < 2 || corr <= 0)
    goto out_fail;
  double hh = (12.0 / (dn * (dn + 1)) * sum - 3.0 * (dn + 1)) / corr;
  *h = hh;
  *df = nonempty - 1;
  *p = bsl_stats_chi2_sf(hh, nonempty - 1);
  free(rank);
  free(rsum);
  free(cnt);
  return 0;

out_fail:
  free(rank);
  free(rsum);
  free(cnt);
  return -1;
}
