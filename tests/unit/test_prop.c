/*
 * Unit tests of analyze/diagnose/prop.c (the statistics of `diagnose`)
 * against published values:
 *
 *  - Wilson intervals: Newcombe, R. G. (1998), "Two-sided confidence
 *    intervals for the single proportion: comparison of seven methods",
 *    Statistics in Medicine 17, 857-872, Table I, method 3 (score, no
 *    continuity correction): 81/263, 15/148, 0/20, 1/29.
 *  - z test: R, prop.test(c(15, 25), c(50, 50), correct = FALSE):
 *    X-squared = 4.1667, p-value = 0.04123 (z = -sqrt(X-squared)).
 *  - Fisher's exact test, two-sided: R, fisher.test on Fisher's tea
 *    tasting table matrix(c(3, 1, 1, 3), 2): p = 0.4857; and the example of
 *    the Wikipedia article "Fisher's exact test" (1 9 / 11 3): p = 0.002759.
 *  - exact binomial test: R's binom.test documentation example (Mendel's
 *    peas), binom.test(682, 925, p = 3/4): p-value = 0.3825; and
 *    binom.test(7, 20): p-value = 0.2632.
 *  - Benjamini-Hochberg: the 15 p-values of Benjamini & Hochberg (1995),
 *    J. R. Statist. Soc. B 57, 289-300, section 4.2, of which the procedure
 *    rejects the 4 smallest at q = 0.05; the adjusted values are R's
 *    p.adjust(p, "BH").
 *  - Poisson score interval and the conditional test of two rates: the
 *    closed forms of prop.h, computed by hand (python3 math).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "prop.h"

static void near(double got, double want, double tol, const char *what) {
  if (!(fabs(got - want) <= tol)) {
    print_error("%s = %.10g, expected %.10g (+-%g)\n", what, got, want, tol);
    fail();
  }
}

static void test_wilson(void **state) {
  (void)state;
  static const struct {
    double x, n, lo, hi;
  } cases[] = {{81, 263, 0.2553, 0.3662},
               {15, 148, 0.0624, 0.1605},
               {0, 20, 0.0, 0.1611},
               {1, 29, 0.0061, 0.1718}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double lo, hi;
    bsl_prop_wilson(cases[i].x, cases[i].n, BSL_PROP_Z95, &lo, &hi);
    near(lo, cases[i].lo, 5e-5, "wilson lo");
    near(hi, cases[i].hi, 5e-5, "wilson hi");
  }
  double lo, hi;
  bsl_prop_wilson(3, 0, BSL_PROP_Z95, &lo, &hi);
  near(lo, 0, 0, "empty lo"), near(hi, 1, 0, "empty hi");
}

static void test_ztest(void **state) {
  (void)state;
  double z, p;
  assert_int_equal(bsl_prop_ztest(15, 50, 25, 50, &z, &p), 0);
  near(z * z, 4.1667, 5e-5, "chi-square");
  assert_true(z < 0);
  near(p, 0.04123, 5e-6, "p");
  /* nothing to compare: an empty sample, or no success anywhere */
  assert_int_equal(bsl_prop_ztest(1, 0, 2, 10, &z, &p), -1);
  assert_int_equal(bsl_prop_ztest(0, 10, 0, 10, &z, &p), -1);
}

static void test_fisher(void **state) {
  (void)state;
  double p;
  assert_int_equal(bsl_prop_fisher(3, 1, 1, 3, &p), 0);
  near(p, 0.4857, 5e-5, "tea tasting");
  assert_int_equal(bsl_prop_fisher(1, 9, 11, 3, &p), 0);
  near(p, 0.002759, 5e-7, "wikipedia");
  /* symmetric in the table's transposition */
  double q;
  bsl_prop_fisher(1, 11, 9, 3, &q);
  near(q, p, 1e-12, "transposed");
  assert_int_equal(bsl_prop_fisher(0, 0, 0, 0, &p), 0);
  near(p, 1, 1e-12, "empty table");
  assert_int_equal(bsl_prop_fisher(-1, 0, 0, 0, &p), -1);
}

static void test_binom(void **state) {
  (void)state;
  double p;
  assert_int_equal(bsl_prop_binom(682, 925, 0.75, &p), 0);
  near(p, 0.3825, 5e-5, "Mendel's peas");
  assert_int_equal(bsl_prop_binom(7, 20, 0.5, &p), 0);
  near(p, 0.2632, 5e-5, "7 of 20");
  assert_int_equal(bsl_prop_binom(21, 20, 0.5, &p), -1);
  assert_int_equal(bsl_prop_binom(1, 20, 1.0, &p), -1);
}

static void test_compare_picks_the_test(void **state) {
  (void)state;
  bsl_prop_test t;
  /* expected cells of 20 and more: the z test */
  bsl_prop_compare(15, 50, 25, 50, &t);
  assert_false(t.exact);
  near(t.p, 0.04123, 5e-6, "z");
  assert_true(t.z < 0);
  /* 3/4 against 1/4 (the tea tasting): expected cells of 2, Fisher */
  bsl_prop_compare(3, 4, 1, 4, &t);
  assert_true(t.exact);
  near(t.p, 0.4857, 5e-5, "fisher");
  /* 1/10 against 11/14: the smallest expected cell is 5 exactly, z */
  bsl_prop_compare(1, 10, 11, 14, &t);
  assert_false(t.exact);
  /* degenerate: every visit converted, or nobody in a sample */
  bsl_prop_compare(10, 10, 20, 20, &t);
  near(t.p, 1, 0, "no failure at all");
  bsl_prop_compare(0, 0, 2, 20, &t);
  near(t.p, 1, 0, "empty sample");
}

static void test_rates(void **state) {
  (void)state;
  bsl_prop_test t;
  /* 30 against 10 with the same exposure: z = 10 / sqrt(40 / 4) */
  bsl_prop_rate_compare(30, 100, 10, 100, &t);
  assert_false(t.exact);
  near(t.z, 3.16227766, 1e-7, "z");
  near(t.p, 0.0015654, 5e-7, "p");
  /* small counts: the exact binomial, 7 of 20 at even exposure */
  bsl_prop_rate_compare(7, 50, 13, 50, &t);
  assert_false(t.exact); /* 10 expected on each side */
  bsl_prop_rate_compare(1, 50, 3, 50, &t);
  assert_true(t.exact);
  double p;
  bsl_prop_binom(1, 4, 0.5, &p);
  near(t.p, p, 1e-12, "exact");
  double lo, hi;
  bsl_prop_poisson_ci(10, 2, BSL_PROP_Z95, &lo, &hi);
  near(lo, 2.71599305, 1e-7, "poisson lo");
  near(hi, 9.20473636, 1e-7, "poisson hi");
}

static void test_bh(void **state) {
  (void)state;
  const double p[15] = {0.0001, 0.0004, 0.0019, 0.0095, 0.0201,
                        0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
                        0.4262, 0.5719, 0.6528, 0.7590, 1.000};
  const double want[15] = {0.0015,   0.003,    0.0095,   0.035625, 0.0603,
                           0.063857, 0.063857, 0.0645,   0.0765,   0.486,
                           0.581182, 0.714875, 0.753231, 0.813214, 1};
  /* shuffled: the adjustment follows each value to its place */
  static const int order[15] = {7,  3, 14, 0, 9, 12, 1, 5,
                                11, 2, 13, 4, 8, 10, 6};
  double in[15], q[15];
  for (int i = 0; i < 15; i++)
    in[i] = p[order[i]];
  assert_int_equal(bsl_prop_bh(in, 15, q), 0);
  int rejected = 0;
  for (int i = 0; i < 15; i++) {
    near(q[i], want[order[i]], 5e-7, "q");
    rejected += q[i] < 0.05;
  }
  assert_int_equal(rejected, 4);
  /* a NAN is left out of the count */
  double with_nan[3] = {0.01, NAN, 0.04}, q2[3];
  assert_int_equal(bsl_prop_bh(with_nan, 3, q2), 0);
  near(q2[0], 0.02, 1e-12, "q0");
  assert_true(isnan(q2[1]));
  near(q2[2], 0.04, 1e-12, "q2");
  assert_int_equal(bsl_prop_bh(NULL, 0, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wilson),
      cmocka_unit_test(test_ztest),
      cmocka_unit_test(test_fisher),
      cmocka_unit_test(test_binom),
      cmocka_unit_test(test_compare_picks_the_test),
      cmocka_unit_test(test_rates),
      cmocka_unit_test(test_bh),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
