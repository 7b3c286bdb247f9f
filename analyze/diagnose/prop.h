/*
 * The statistics of `boussole diagnose`: tests and intervals for counts and
 * proportions (a segment against the rest of the site, a period against the
 * one before), and the Benjamini–Hochberg false-discovery-rate adjustment
 * across all the tests of one diagnosis.  The normal tail comes from
 * analyze/kpi/stats.c.
 *
 * Pure functions on numbers: nothing here keeps state; bsl_prop_bh() is the
 * only one that allocates (scratch, freed before it returns).  p-values are
 * two-sided.  Each function cites the formula its unit test checks.
 */
#ifndef BSL_PROP_H
#define BSL_PROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* z of a two-sided 95% interval. */
#define BSL_PROP_Z95 1.959963984540054

/*
 * Wilson score interval for X successes in N trials (Wilson 1927; the
 * "score" method of Newcombe 1998, without continuity correction).  N <= 0
 * gives [0, 1].
 */
void bsl_prop_wilson(double x, double n, double z, double *lo, double *hi);

/*
 * Score interval for a Poisson rate X / T (X events over an exposure T):
 * the roots of (X - lambda T)^2 = z^2 lambda T, i.e.
 * (X + z^2/2 -+ z sqrt(X + z^2/4)) / T.  T <= 0 gives [0, +inf].
 */
void bsl_prop_poisson_ci(double x, double t, double z, double *lo, double *hi);

/*
 * Two-proportion z test of X1/N1 against X2/N2 with the pooled variance
 * (the test of prop.test(correct = FALSE), whose chi-square is z^2).
 * -1 when a sample is empty or the pooled proportion is 0 or 1 (then
 * nothing differs: callers take p = 1).
 */
int bsl_prop_ztest(double x1, double n1, double x2, double n2, double *z,
                   double *p);

/*
 * Fisher's exact test of the 2x2 table [[A, B], [C, D]], two-sided: the
 * sum of the probabilities of the tables with the same margins that are no
 * more likely than the one observed (relative tolerance 1e-7, as
 * R's fisher.test).  -1 on a negative cell.
 */
int bsl_prop_fisher(int64_t a, int64_t b, int64_t c, int64_t d, double *p);

/*
 * Exact binomial test of X successes in N trials against P0, two-sided by
 * the same rule as Fisher's (R's binom.test).  -1 when X > N, N < 0 or P0
 * is outside (0, 1).
 */
int bsl_prop_binom(int64_t x, int64_t n, double p0, double *p);

typedef struct bsl_prop_test {
  double p;   /* two-sided p-value */
  double z;   /* signed: > 0 when the first sample is higher; 0 if exact */
  bool exact; /* Fisher or binomial, not the normal approximation */
} bsl_prop_test;

/*
 * Compares the proportion X1/N1 with X2/N2: the z test when every expected
 * cell of the 2x2 table is at least 5 (Cochran's rule), Fisher's exact
 * test otherwise.  Counts are rounded to integers.  A degenerate table
 * (an empty sample, no success or no failure at all) gives p = 1.
 */
void bsl_prop_compare(double x1, double n1, double x2, double n2,
                      bsl_prop_test *out);

/*
 * Compares two Poisson rates C1/T1 and C2/T2 (click beacons per pageview, or
 * a count in two periods of equal length with T1 = T2): conditionally on
 * C1 + C2, C1 is binomial with p0 = T1 / (T1 + T2) under equal rates.  The
 * normal approximation when both expected counts are at least 5, the exact
 * binomial test otherwise.
 */
void bsl_prop_rate_compare(double c1, double t1, double c2, double t2,
                           bsl_prop_test *out);

/*
 * Benjamini–Hochberg adjusted p-values (q-values) of P[0..n-1] into Q
 * (may be P): q_(i) = min over j >= i of p_(j) n / j, capped at 1
 * (Benjamini & Hochberg 1995; R's p.adjust(method = "BH")).  A NAN p is
 * left out of the count and gets a NAN q.  Returns 0, or -1 when out of
 * memory (Q untouched).
 */
int bsl_prop_bh(const double *p, size_t n, double *q);

#endif
