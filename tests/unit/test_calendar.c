/*
 * Unit tests of config/calendar.c: the one zone parser and day cut used by
 * the model, the KPIs, reports and `check`.  Offsets at both ends of the
 * real range (-12:00, +14:00), one past it (+15:00, refused everywhere),
 * and DST zones (Europe/Paris, America/New_York) on their change days.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"

/* 2026-11-02T10:00:00Z */
#define T0 1793613600
#define DAY_2026_11_02 20759

static void day_str(const bsl_zone *z, int64_t t, char out[11]) {
  bsl_day_format(bsl_zone_day_of(z, t), out);
}

static void test_offsets(void **state) {
  (void)state;
  int32_t s;
  assert_int_equal(bsl_zone_parse_offset("+02:00", &s), 0);
  assert_int_equal(s, 7200);
  assert_int_equal(bsl_zone_parse_offset("-12:00", &s), 0);
  assert_int_equal(s, -43200);
  assert_int_equal(bsl_zone_parse_offset("+14:00", &s), 0);
  assert_int_equal(s, 50400);
  assert_int_equal(bsl_zone_parse_offset("+0530", &s), 0);
  assert_int_equal(s, 19800);
  assert_int_equal(bsl_zone_parse_offset("-03", &s), 0);
  assert_int_equal(s, -10800);
  assert_int_equal(bsl_zone_parse_offset("+15:00", &s), -1);
  assert_int_equal(bsl_zone_parse_offset("-12:30", &s), -1);
  assert_int_equal(bsl_zone_parse_offset("+02:60", &s), -1);
  assert_int_equal(bsl_zone_parse_offset("+2:00", &s), -1);
  assert_int_equal(bsl_zone_parse_offset("+02:", &s), -1);
  assert_int_equal(bsl_zone_parse_offset("02:00", &s), -1);
}

static void test_check(void **state) {
  (void)state;
  char why[256];
  assert_int_equal(bsl_zone_check("UTC", NULL, why, sizeof why), 0);
  assert_int_equal(bsl_zone_check("-12:00", NULL, why, sizeof why), 0);
  assert_int_equal(bsl_zone_check("+14:00", NULL, why, sizeof why), 0);
  assert_int_equal(bsl_zone_check("+15:00", NULL, why, sizeof why), -1);
  assert_non_null(strstr(why, "-12:00 to +14:00"));
  assert_int_equal(bsl_zone_check("", NULL, why, sizeof why), -1);
  assert_int_equal(bsl_zone_check("../etc/passwd", NULL, why, sizeof why), -1);
  if (bsl_zone_check("Europe/Paris", NULL, why, sizeof why) == 0)
    assert_int_equal(bsl_zone_check("Europe", NULL, why, sizeof why), -1);
}

static void test_fixed_day_cut(void **state) {
  (void)state;
  bsl_zone z;
  char d[11];
  bsl_zone_init(&z, "+14:00"); /* 10:00Z is 00:00 next day there */
  day_str(&z, T0, d);
  assert_string_equal(d, "2026-11-03");
  day_str(&z, T0 - 1, d);
  assert_string_equal(d, "2026-11-02");
  bsl_zone_init(&z, "-12:00"); /* 10:00Z is 22:00 the day before */
  day_str(&z, T0, d);
  assert_string_equal(d, "2026-11-01");
  day_str(&z, T0 + 2 * 3600, d);
  assert_string_equal(d, "2026-11-02");
  /* and back: local midnight of the day */
  assert_int_equal(bsl_zone_to_unix(&z, DAY_2026_11_02, 0), T0 + 2 * 3600);
  bsl_zone_init(&z, "UTC");
  assert_int_equal(bsl_zone_day_of(&z, T0), DAY_2026_11_02);
  assert_int_equal(bsl_zone_day_of(&z, -1), -1); /* 1969-12-31 */
}

/* A named zone: only when the zone file is installed (tzdata). */
static void test_dst_zones(void **state) {
  (void)state;
  char why[256], d[11];
  if (bsl_zone_check("Europe/Paris", NULL, why, sizeof why) != 0 ||
      bsl_zone_check("America/New_York", NULL, why, sizeof why) != 0)
    skip();
  bsl_zone z;
  bsl_zone_init(&z, "Europe/Paris");
  /* 2026-03-29: CET -> CEST at 01:00Z; 22:30Z on the 28th is 23:30 local,
   * 22:30Z on the 29th is 00:30 of the 30th */
  int64_t day28;
  assert_int_equal(bsl_day_parse("2026-03-28", &day28), 0);
  int64_t t = day28 * 86400 + 22 * 3600 + 1800;
  day_str(&z, t, d);
  assert_string_equal(d, "2026-03-28");
  day_str(&z, t + 86400, d);
  assert_string_equal(d, "2026-03-30");
  /* local midnight of the 30th is 22:00Z on the 29th (UTC+2) */
  assert_int_equal(bsl_zone_to_unix(&z, day28 + 2, 0),
                   (day28 + 1) * 86400 + 22 * 3600);
  bsl_zone_init(&z, "America/New_York");
  /* 2026-11-01: EDT -> EST at 06:00Z; 04:30Z is 00:30 EDT on the 1st,
   * 03:30Z is still 23:30 on Oct 31 */
  int64_t nov1;
  assert_int_equal(bsl_day_parse("2026-11-01", &nov1), 0);
  day_str(&z, nov1 * 86400 + 4 * 3600 + 1800, d);
  assert_string_equal(d, "2026-11-01");
  day_str(&z, nov1 * 86400 + 3 * 3600 + 1800, d);
  assert_string_equal(d, "2026-10-31");
  /* the 2nd begins at 05:00Z (EST, UTC-5) */
  assert_int_equal(bsl_zone_to_unix(&z, nov1 + 1, 0),
                   (nov1 + 1) * 86400 + 5 * 3600);
  /* the report's hours: 04:30Z is 00h EDT, 06:30Z 01h EST */
  assert_int_equal(bsl_zone_hour_of(&z, nov1 * 86400 + 4 * 3600 + 1800), 0);
  assert_int_equal(bsl_zone_hour_of(&z, nov1 * 86400 + 6 * 3600 + 1800), 1);
  bsl_zone_init(&z, "UTC");
}

static void test_hour_of(void **state) {
  (void)state;
  bsl_zone z;
  bsl_zone_init(&z, "UTC");
  assert_int_equal(bsl_zone_hour_of(&z, 0), 0);
  assert_int_equal(bsl_zone_hour_of(&z, 23 * 3600 + 3599), 23);
  assert_int_equal(bsl_zone_hour_of(&z, -1), 23); /* 1969-12-31 23:59:59 */
  bsl_zone_init(&z, "+05:30");
  assert_int_equal(bsl_zone_hour_of(&z, 0), 5);
  assert_int_equal(bsl_zone_hour_of(&z, 19 * 3600), 0); /* 00:30 local */
  bsl_zone_init(&z, "-05:00");
  assert_int_equal(bsl_zone_hour_of(&z, 3600), 20);
  bsl_zone_init(&z, "UTC");
}

static void test_days(void **state) {
  (void)state;
  int64_t day;
  char d[11], t[32];
  assert_int_equal(bsl_day_parse("2026-11-02", &day), 0);
  assert_int_equal(day, DAY_2026_11_02);
  bsl_day_format(day, d);
  assert_string_equal(d, "2026-11-02");
  assert_int_equal(bsl_day_parse("2028-02-29", &day), 0);
  assert_int_equal(bsl_day_parse("2026-02-29", &day), -1);
  assert_int_equal(bsl_day_parse("2026-13-01", &day), -1);
  assert_int_equal(bsl_day_parse("2026-11-2", &day), -1);
  assert_int_equal(bsl_day_parse("2026-11-02x", &day), -1);
  assert_int_equal(bsl_day_weekday(DAY_2026_11_02), 0); /* a Monday */
  assert_int_equal(bsl_day_weekday(0), 3);              /* Thursday */
  bsl_time_format_utc(T0 + 59, t);
  assert_string_equal(t, "2026-11-02T10:00:59Z");
  bsl_time_format_utc(-1, t);
  assert_string_equal(t, "1969-12-31T23:59:59Z");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_offsets),       cmocka_unit_test(test_check),
      cmocka_unit_test(test_fixed_day_cut), cmocka_unit_test(test_dst_zones),
      cmocka_unit_test(test_days),          cmocka_unit_test(test_hour_of),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
