/*
 * The statistics behind KPI evaluation (SPEC §8): the Mann–Kendall trend test
 * (plain and seasonal, with tie correction), the Theil–Sen slope, the
 * Mann–Whitney U test, the Kruskal–Wallis test used to detect a weekly cycle,
 * and the median.  Pure functions on caller-owned arrays: nothing here keeps
 * state, and the only allocations are scratch buffers freed before return.
 *
 * Conventions: every function returns 0, or -1 when it cannot compute (too
 * few values, out of memory); outputs are then untouched.  p-values are
 * two-sided.  The normal approximations use the textbook formulas cited at
 * each function, which are what the unit tests check against.
 */
#ifndef BSL_STATS_H
#define BSL_STATS_H

#include <stdbool.h>
#include <stddef.h>

/* Median of X[0..n-1] (X is not modified).  -1 when n == 0. */
int bsl_stats_median(const double *x, size_t n, double *out);

/* Arithmetic mean.  -1 when n == 0. */
int bsl_stats_mean(const double *x, size_t n, double *out);

/* Upper tail of the standard normal distribution, P(Z > z). */
double bsl_stats_normal_sf(double z);

/* Upper tail of the chi-square distribution with DF > 0 degrees of freedom,
 * P(X > x), exact closed form for integer DF. */
double bsl_stats_chi2_sf(double x, int df);

typedef struct bsl_mk_result {
  double s;   /* Kendall's S: sum of sign(y_j - y_i) over i < j */
  double var; /* variance of S under H0, tie-corrected */
  double z;   /* (S -+ 1) / sqrt(var), continuity-corrected; 0 when S == 0 */
  double p;   /* two-sided p-value 2 * P(Z > |z|) */
  double tau; /* S / (n (n - 1) / 2) */
} bsl_mk_result;

/*
 * Mann–Kendall trend test of Y[0..n-1] taken in time order (Mann 1945,
 * Kendall 1975; the variance with the tie term of Kendall 1975, as in
 * Hirsch, Slack & Smith 1982, eq. 1-3).  Needs n >= 3.
 */
int bsl_stats_mann_kendall(const double *y, size_t n, bsl_mk_result *out);

/*
 * Seasonal Mann–Kendall (Hirsch, Slack & Smith 1982): S and var are summed
 * over seasons, each season's S computed on its own values in time order;
 * SEASON[i] in 0..n_seasons-1 labels Y[i].  tau is S over the number of
 * within-season pairs.  Needs at least one season with 2 values and var > 0.
 */
int bsl_stats_seasonal_mann_kendall(const double *y, const int *season,
                                    size_t n, int n_seasons,
                                    bsl_mk_result *out);

/*
 * Theil–Sen line through (T[i], Y[i]): SLOPE is the median of the pairwise
 * slopes (Y[j]-Y[i])/(T[j]-T[i]) over pairs with T[i] != T[j] (Sen 1968);
 * INTERCEPT is median(Y) - slope * median(T) (Conover 1980, the convention
 * of scipy.stats.theilslopes).  With SEASON non-NULL only pairs of the same
 * season count (the seasonal Kendall slope, Hirsch et al. 1982).  Needs at
 * least one usable pair.
 */
int bsl_stats_theil_sen(const double *t, const double *y, const int *season,
                        size_t n, double *slope, double *intercept);

typedef struct bsl_mwu_result {
  double u;   /* U of the first sample: R1 - n1 (n1 + 1) / 2 */
  double z;   /* continuity-corrected z (asymptotic method), else 0 */
  double p;   /* two-sided p-value */
  bool exact; /* p from the exact null distribution */
} bsl_mwu_result;

/*
 * Mann–Whitney U test of X against Y, two-sided.  Without ties and with a
 * sample of at most 8 values (and n1 * n2 <= 2500) the p-value is exact
 * (the recursion of Mann & Whitney 1947); otherwise it is the normal
 * approximation with tie and continuity corrections (the method of
 * scipy.stats.mannwhitneyu(method="asymptotic")).  Needs n1, n2 >= 1.
 */
int bsl_stats_mann_whitney(const double *x, size_t nx, const double *y,
                           size_t ny, bsl_mwu_result *out);

/*
 * Kruskal–Wallis H test of Y grouped by GROUP[i] in 0..n_groups-1, with the
 * tie correction; DF is the number of non-empty groups minus one and P the
 * chi-square upper tail.  Needs at least two non-empty groups and n > groups.
 */
int bsl_stats_kruskal_wallis(const double *y, const int *group, size_t n,
                             int n_groups, double *h, double *p, int *df);

#endif
