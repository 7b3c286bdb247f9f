/*
 * Unit tests of analyze/stats.c against reference values computed
 * independently.  Unless stated otherwise, references come from SciPy 1.10.1
 * (Debian 12 package python3-scipy) run as:
 *
 *   from scipy import stats
 *   stats.theilslopes(y, x)                      # slope, intercept
 *   stats.mannwhitneyu(a, b, method=..., use_continuity=True,
 *                      alternative="two-sided")
 *   stats.kruskal(g1, g2, g3)
 *   stats.chi2.sf(x, df)
 *   stats.kendalltau(range(n), y)                # tau-b, to check S
 *
 * SciPy has no Mann-Kendall test with continuity correction; its S, var and
 * p were computed by a separate plain-Python implementation of the formulas
 * of Hirsch, Slack & Smith (1982), eq. 1-3 (loops over pairs, Counter for
 * ties, math.erfc), and S was cross-checked with scipy's Kendall tau-b:
 * S = tau_b * sqrt((n0 - n1)(n0 - n2)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "stats.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define CLOSE(got, want, tol)                                                  \
  do {                                                                         \
    double g_ = (got), w_ = (want);                                            \
    if (!(fabs(g_ - w_) <= (tol))) {                                           \
      print_error("%s = %.12g, expected %.12g\n", #got, g_, w_);               \
      fail();                                                                  \
    }                                                                          \
  } while (0)

static void test_median_mean(void **state) {
  (void)state;
  double odd[] = {3, 1, 2}, even[] = {4, 1, 3, 2}, m;
  assert_int_equal(bsl_stats_median(odd, 3, &m), 0);
  CLOSE(m, 2, 0);
  assert_int_equal(bsl_stats_median(even, 4, &m), 0);
  CLOSE(m, 2.5, 0);
  assert_int_equal(odd[0], 3); /* input untouched */
  assert_int_equal(bsl_stats_median(odd, 0, &m), -1);
  assert_int_equal(bsl_stats_mean(even, 4, &m), 0);
  CLOSE(m, 2.5, 1e-15);
}

static void test_mann_kendall_ties(void **state) {
  (void)state;
  /* two pairs of ties; kendalltau tau_b = 0.7956600627155523, n0 = 45,
   * n2 = 2 -> S = 35.0 */
  double y[] = {1.2, 2.3, 2.3, 3.1, 2.9, 4.0, 3.8, 5.1, 5.0, 5.0};
  bsl_mk_result r;
  assert_int_equal(bsl_stats_mann_kendall(y, N(y), &r), 0);
  CLOSE(r.s, 35, 0);
  CLOSE(r.var, 123.0, 1e-9);
  CLOSE(r.z, 3.06567675786927, 1e-9);
  CLOSE(r.p, 0.0021717796556988606, 1e-12);
  CLOSE(r.tau, 35.0 / 45.0, 1e-12);
}

static void test_mann_kendall_down_and_weak(void **state) {
  (void)state;
  double down[] = {5, 3, 4, 4, 2, 3, 1, 2, 2, 1, 0, 1};
  bsl_mk_result r;
  assert_int_equal(bsl_stats_mann_kendall(down, N(down), &r), 0);
  CLOSE(r.s, -46, 0);
  CLOSE(r.var, 203.33333333333334, 1e-9);
  CLOSE(r.z, -3.155790929932245, 1e-9);
  CLOSE(r.p, 0.0016006354791050612, 1e-12);

  double weak[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};
  assert_int_equal(bsl_stats_mann_kendall(weak, N(weak), &r), 0);
  CLOSE(r.s, 25, 0);
  CLOSE(r.var, 207.0, 1e-9);
  CLOSE(r.p, 0.09529283802345667, 1e-12);

  double flat[] = {2, 2, 2, 2, 2};
  assert_int_equal(bsl_stats_mann_kendall(flat, N(flat), &r), 0);
  CLOSE(r.s, 0, 0);
  CLOSE(r.p, 1, 0);
  assert_int_equal(bsl_stats_mann_kendall(flat, 2, &r), -1);
}

static void test_seasonal_mann_kendall(void **state) {
  (void)state;
  /* 3 seasons x 4 years; per season S = 6, 4, 4 and var = 4*3*13/18 each
   * (worked by hand, same as the Python implementation): S = 14, var = 26,
   * z = 13 / sqrt(26) = 2.5495097567963927, p = 0.010787449254670352. */
  double y[] = {10, 20, 30, 11, 19, 33, 13, 22, 31, 14, 25, 35};
  int season[] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
  bsl_mk_result r;
  assert_int_equal(bsl_stats_seasonal_mann_kendall(y, season, N(y), 3, &r), 0);
  CLOSE(r.s, 14, 0);
  CLOSE(r.var, 26, 1e-9);
  CLOSE(r.z, 2.5495097567963927, 1e-9);
  CLOSE(r.p, 0.010787449254670352, 1e-12);
  /* the plain test sees the seasonal swings, not the trend */
  assert_int_equal(bsl_stats_mann_kendall(y, N(y), &r), 0);
  assert_true(r.p > 0.05);
}

static void test_theil_sen(void **state) {
  (void)state;
  double y[] = {1.2, 2.3, 2.3, 3.1, 2.9, 4.0, 3.8, 5.1, 5.0, 5.0};
  double t[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  double b, a;
  assert_int_equal(bsl_stats_theil_sen(t, y, NULL, N(y), &b, &a), 0);
  CLOSE(b, 0.425, 1e-12);
  CLOSE(a, 1.5375000000000003, 1e-12);
  /* uneven spacing */
  double x4[] = {1, 2, 4, 5, 7, 9, 10};
  double y4[] = {2.0, 3.9, 8.5, 9.9, 14.2, 18.0, 30.0};
  assert_int_equal(bsl_stats_theil_sen(x4, y4, NULL, N(y4), &b, &a), 0);
  CLOSE(b, 2.033333333333333, 1e-12);
  CLOSE(a, -0.2666666666666657, 1e-12);
  /* seasonal: within-season slopes only.  Seasons {0,2,4} and {1,3,5} of
   * y = 10*(season) + t: every within-season slope is 1. */
  double ts[] = {0, 1, 2, 3, 4, 5}, ys[] = {0, 11, 2, 13, 4, 15};
  int se[] = {0, 1, 0, 1, 0, 1};
  assert_int_equal(bsl_stats_theil_sen(ts, ys, se, 6, &b, &a), 0);
  CLOSE(b, 1, 0);
  assert_int_equal(bsl_stats_theil_sen(ts, ys, NULL, 1, &b, &a), -1);
}

static void test_mann_whitney_asymptotic(void **state) {
  (void)state;
  /* no ties but n > 8: normal approximation */
  double a[] = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
  double b[] = {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};
  bsl_mwu_result r;
  /* b has ties (1.06, 1.29) so the asymptotic method applies */
  assert_int_equal(bsl_stats_mann_whitney(a, N(a), b, N(b), &r), 0);
  assert_false(r.exact);
  CLOSE(r.u, 58.0, 0);
  CLOSE(r.p, 0.13291945818531892, 1e-12);
  /* heavy ties */
  double c[] = {3, 4, 2, 6, 2, 5, 5, 5, 7, 8, 1, 3};
  double d[] = {9, 7, 5, 10, 6, 8, 8, 8, 4, 9};
  assert_int_equal(bsl_stats_mann_whitney(c, N(c), d, N(d), &r), 0);
  CLOSE(r.u, 16.5, 0);
  CLOSE(r.p, 0.004285008913787365, 1e-12);
}

static void test_mann_whitney_exact(void **state) {
  (void)state;
  /* the example of the scipy.stats.mannwhitneyu documentation:
   * U = 17, exact p = 0.1111111111111111 */
  double g[] = {19, 22, 16, 29, 24}, h[] = {20, 11, 17, 12};
  bsl_mwu_result r;
  assert_int_equal(bsl_stats_mann_whitney(g, N(g), h, N(h), &r), 0);
  assert_true(r.exact);
  CLOSE(r.u, 17, 0);
  CLOSE(r.p, 0.1111111111111111, 1e-12);
  /* complete separation of 3 vs 3: p = 2 / C(6,3) = 0.1 */
  double e[] = {1.1, 2.2, 3.3}, f[] = {4.4, 5.5, 6.6};
  assert_int_equal(bsl_stats_mann_whitney(e, 3, f, 3, &r), 0);
  CLOSE(r.u, 0, 0);
  CLOSE(r.p, 0.1, 1e-12);
}

static void test_kruskal_wallis(void **state) {
  (void)state;
  double y[] = {2.9, 3.0, 2.5, 2.6, 3.2, 3.8, 2.7,
                4.0, 2.4, 2.8, 3.4, 3.7, 2.2, 2.0};
  int g[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2};
  double h, p;
  int df;
  assert_int_equal(bsl_stats_kruskal_wallis(y, g, N(y), 3, &h, &p, &df), 0);
  assert_int_equal(df, 2);
  CLOSE(h, 0.7714285714285722, 1e-12);
  CLOSE(p, 0.6799647735788936, 1e-12);
  double yt[] = {1, 1, 2, 2, 3, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6};
  int gt[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2};
  assert_int_equal(bsl_stats_kruskal_wallis(yt, gt, N(yt), 3, &h, &p, &df), 0);
  CLOSE(h, 10.932844036697263, 1e-9);
  CLOSE(p, 0.004226326857563575, 1e-12);
}

static void test_chi2_sf(void **state) {
  (void)state;
  static const double at37[] = {0.054412467991601404, 0.1572371663136276,
                                0.29573403237527585,  0.44812592399383866,
                                0.5933639617818078,   0.717198024848034,
                                0.8136101095426413};
  static const double at125[] = {0.00040695201744495946, 0.0019304541362277095,
                                 0.005852662593326735,   0.013995792487650894,
                                 0.028543123326167485,   0.051699974835848345,
                                 0.08526927515826925};
  for (int df = 1; df <= 7; df++) {
    CLOSE(bsl_stats_chi2_sf(3.7, df), at37[df - 1], 1e-13);
    CLOSE(bsl_stats_chi2_sf(12.5, df), at125[df - 1], 1e-13);
  }
  CLOSE(bsl_stats_chi2_sf(0, 6), 1, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_median_mean),
      cmocka_unit_test(test_mann_kendall_ties),
      cmocka_unit_test(test_mann_kendall_down_and_weak),
      cmocka_unit_test(test_seasonal_mann_kendall),
      cmocka_unit_test(test_theil_sen),
      cmocka_unit_test(test_mann_whitney_asymptotic),
      cmocka_unit_test(test_mann_whitney_exact),
      cmocka_unit_test(test_kruskal_wallis),
      cmocka_unit_test(test_chi2_sf),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
