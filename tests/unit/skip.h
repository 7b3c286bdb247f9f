/*
 * Skips that ctest sees.  cmocka's skip() marks a test skipped but the
 * program still exits 0, so a test that could not run for want of its data
 * (or a tool) would be reported Passed.  Instead:
 *
 *   SKIP_BECAUSE("x.json not found under $BSL_SHARED_DATA\n");  ends the
 *       test as skipped, saying why;
 *   SKIPPED_PART("...\n");  notes that a part of a test that goes on could
 *       not run;
 *   return unit_exit(cmocka_run_group_tests(...));  in main(): 1 when a
 *       test failed, else 77 (ctest's SKIP_RETURN_CODE, set for every unit
 *       test) when anything was skipped, else 0.
 *
 * Include after cmocka.h.
 */
#ifndef BSL_TEST_SKIP_H
#define BSL_TEST_SKIP_H

static int skipped_parts;

#define SKIPPED_PART(...)                                                      \
  do {                                                                         \
    skipped_parts++;                                                           \
    print_message("SKIP: " __VA_ARGS__);                                       \
  } while (0)

#define SKIP_BECAUSE(...)                                                      \
  do {                                                                         \
    SKIPPED_PART(__VA_ARGS__);                                                 \
    skip();                                                                    \
  } while (0)

static inline int unit_exit(int failed) {
  return failed ? 1 : skipped_parts ? 77 : 0;
}

#endif
