/*
 * The calendar: the one place where days are cut.  Day numbers count days
 * since 1970-01-01 on the proleptic Gregorian calendar; `timezone` is
 * parsed here once (UTC, a fixed offset from -12:00 to +14:00, or a
 * zoneinfo name) and every module that needs a day - the model filing a
 * hit, the KPI series, reports, `check` validating the key - asks this one.
 *
 * It lives in config/, the lowest layer, so that validating `timezone` and
 * cutting days cannot disagree.  A named zone is applied through the C
 * library (TZ + localtime_r/mktime), so a process uses one named zone.
 * Nothing here allocates.
 */
#ifndef BSL_CALENDAR_H
#define BSL_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "civil.h"

/* Real offsets run from UTC-12:00 (Baker Island) to UTC+14:00 (Kiribati). */
#define BSL_ZONE_MIN_OFFSET (-12 * 3600)
#define BSL_ZONE_MAX_OFFSET (14 * 3600)

typedef struct bsl_zone {
  bool fixed;             /* UTC or a fixed offset: no C library involved */
  int32_t offset_seconds; /* east of UTC, when fixed */
} bsl_zone;

/*
 * Parses a fixed offset "+HH:MM" / "-HH:MM" (also "+HHMM", "+HH") into
 * seconds east of UTC.  Returns 0, or -1 when it is not one or lies outside
 * -12:00..+14:00.
 */
int bsl_zone_parse_offset(const char *s, int32_t *seconds);

/*
 * Checks a `timezone` value: "UTC", "Etc/UTC", a fixed offset, or the name
 * of a compiled zone file under ZONEINFO_DIR (NULL: $TZDIR, else
 * /usr/share/zoneinfo).
 * Returns 0, or -1 with the reason in why.
 */
int bsl_zone_check(const char *tz, const char *zoneinfo_dir, char *why,
                   size_t whylen);

/*
 * Makes Z the zone TZ names (NULL: UTC); a named zone becomes the process's
 * TZ.  The value is expected to have passed bsl_zone_check().
 */
void bsl_zone_init(bsl_zone *z, const char *tz);

/* The local day number of Unix time T in Z. */
int64_t bsl_zone_day_of(const bsl_zone *z, int64_t t);

/* Unix time of SEC seconds after local midnight of day DAY in Z (for a
 * named zone, through mktime: the first of an ambiguous hour). */
int64_t bsl_zone_to_unix(const bsl_zone *z, int64_t day, int sec);

/* The local hour (0-23) of Unix time T in Z. */
int bsl_zone_hour_of(const bsl_zone *z, int64_t t);

/* DAY as YYYY-MM-DD (years clamped to 0000..9999) into OUT (11 bytes). */
void bsl_day_format(int64_t day, char out[11]);

/* Parses exactly YYYY-MM-DD, a real calendar date.  Returns 0 or -1. */
int bsl_day_parse(const char *s, int64_t *day);

/* Monday = 0 ... Sunday = 6. */
int bsl_day_weekday(int64_t day);

/* The ISO week that starts on Monday MONDAY, as "2026-W09", into OUT. */
void bsl_week_label(int64_t monday, char out[16]);

/* Unix time T as ISO 8601 UTC, "YYYY-MM-DDTHH:MM:SSZ", into OUT (21+ bytes). */
void bsl_time_format_utc(int64_t t, char out[32]);

#endif
