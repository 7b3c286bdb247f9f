/* The calendar (see calendar.h). */
#include "calendar.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool digit(char c) {
  return c >= '0' && c <= '9';
}

int bsl_zone_parse_offset(const char *s, int32_t *seconds) {
  if (!s || (s[0] != '+' && s[0] != '-') || !digit(s[1]) || !digit(s[2]))
    return -1;
  int h = (s[1] - '0') * 10 + (s[2] - '0'), mi = 0;
  const char *p = s + 3;
  if (*p == ':')
    p++;
  if (digit(p[0]) && digit(p[1])) {
    mi = (p[0] - '0') * 10 + (p[1] - '0');
    p += 2;
  } else if (p != s + 3) {
    return -1; /* "+05:" */
  }
  if (*p || mi > 59)
    return -1;
  int32_t v = (s[0] == '-' ? -1 : 1) * (h * 3600 + mi * 60);
  if (v < BSL_ZONE_MIN_OFFSET || v > BSL_ZONE_MAX_OFFSET)
    return -1;
  *seconds = v;
  return 0;
}

static bool is_utc(const char *tz) {
  return !tz || strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0;
}

int bsl_zone_check(const char *tz, const char *zoneinfo_dir, char *why,
                   size_t whylen) {
  int32_t off;
  if (!tz || !*tz) {
    snprintf(why, whylen, "must not be empty");
    return -1;
  }
  if (is_utc(tz) || bsl_zone_parse_offset(tz, &off) == 0)
    return 0;
  if (tz[0] == '+' || tz[0] == '-') {
    snprintf(why, whylen,
             "bad time zone offset \"%s\" (from -12:00 to +14:00, e.g. +02:00)",
             tz);
    return -1;
  }
  /* a name, never a path out of the zone directory */
  for (const char *c = tz; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || digit(*c) ||
          strchr("/_+-.", *c))) {
      snprintf(why, whylen, "not a time zone name");
      return -1;
    }
  if (tz[0] == '/' || tz[0] == '.' || strstr(tz, "/.") || strstr(tz, "..")) {
    snprintf(why, whylen, "not a time zone name");
    return -1;
  }
  const char *dir = zoneinfo_dir;
  if (!dir || !*dir)
    dir = getenv("TZDIR"); /* as the C library reads it */
  if (!dir || !*dir)
    dir = "/usr/share/zoneinfo";
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, tz) >= sizeof path) {
    snprintf(why, whylen, "not a time zone name");
    return -1;
  }
  /* A zone name must name a compiled zone file, not merely any file:
   * reading the TZif magic rules out directories ("Europe") and strays. */
  char magic[4] = {0};
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t got = fd >= 0 ? read(fd, magic, sizeof magic) : -1;
  if (fd >= 0)
    close(fd);
  if (got != 4 || memcmp(magic, "TZif", 4) != 0) {
    snprintf(why, whylen,
             "unknown time zone (use UTC, +HH:MM, or a zone under %s)", dir);
    return -1;
  }
  return 0;
}

void bsl_zone_init(bsl_zone *z, const char *tz) {
  z->fixed = true;
  z->offset_seconds = 0;
  if (is_utc(tz) || bsl_zone_parse_offset(tz, &z->offset_seconds) == 0)
    return;
  z->fixed = false;
  setenv("TZ", tz, 1);
  tzset();
}

int64_t bsl_zone_day_of(const bsl_zone *z, int64_t t) {
  if (z->fixed) {
    int64_t local = t + z->offset_seconds;
    return local >= 0 ? local / 86400 : (local - 86399) / 86400;
  }
  time_t tt = (time_t)t;
  struct tm tm;
  if (!localtime_r(&tt, &tm))
    return t >= 0 ? t / 86400 : (t - 86399) / 86400;
  return bsl_days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                             (unsigned)tm.tm_mday);
}

int bsl_zone_hour_of(const bsl_zone *z, int64_t t) {
  if (z->fixed) {
    int64_t local = t + z->offset_seconds;
    int64_t in_day =
        local - bsl_zone_day_of(&(bsl_zone){.fixed = true}, local) * 86400;
    return (int)(in_day / 3600);
  }
  time_t tt = (time_t)t;
  struct tm tm;
  if (!localtime_r(&tt, &tm))
    return (int)(((t % 86400) + 86400) % 86400 / 3600);
  return tm.tm_hour;
}

int64_t bsl_zone_to_unix(const bsl_zone *z, int64_t day, int sec) {
  if (z->fixed)
    return day * 86400 + sec - z->offset_seconds;
  int y;
  unsigned m, d;
  bsl_civil_from_days(day, &y, &m, &d);
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = (int)m - 1,
                  .tm_mday = (int)d,
                  .tm_hour = sec / 3600,
                  .tm_min = sec / 60 % 60,
                  .tm_sec = sec % 60,
                  .tm_isdst = -1};
  return (int64_t)mktime(&tm);
}

void bsl_day_format(int64_t day, char out[11]) {
  int y;
  unsigned m, d;
  bsl_civil_from_days(day, &y, &m, &d);
  if (y < 0 || y > 9999) /* never for real data; keeps the width fixed */
    y = y < 0 ? 0 : 9999;
  /* by hand: the model formats a day per flushed row */
  out[0] = (char)('0' + y / 1000);
  out[1] = (char)('0' + y / 100 % 10);
  out[2] = (char)('0' + y / 10 % 10);
  out[3] = (char)('0' + y % 10);
  out[4] = '-';
  out[5] = (char)('0' + m / 10);
  out[6] = (char)('0' + m % 10);
  out[7] = '-';
  out[8] = (char)('0' + d / 10);
  out[9] = (char)('0' + d % 10);
  out[10] = '\0';
}

int bsl_day_parse(const char *s, int64_t *day) {
  if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
    return -1;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !digit(s[i]))
      return -1;
  int y = atoi(s);
  unsigned m = (unsigned)atoi(s + 5), d = (unsigned)atoi(s + 8);
  if (m < 1 || m > 12 || d < 1 || d > 31)
    return -1;
  int64_t z = bsl_days_from_civil(y, m, d);
  int yy;
  unsigned mm, dd;
  bsl_civil_from_days(z, &yy, &mm, &dd);
  if (yy != y || mm != m || dd != d)
    return -1; /* 2026-02-30 */
  *day = z;
  return 0;
}

int bsl_day_weekday(int64_t day) {
  int w = (int)((day + 3) % 7); /* 1970-01-01 was a Thursday */
  return w < 0 ? w + 7 : w;
}

void bsl_week_label(int64_t monday, char out[16]) {
  int64_t thursday = monday + 3; /* the ISO year is the Thursday's */
  int y;
  unsigned m, d;
  bsl_civil_from_days(thursday, &y, &m, &d);
  int64_t jan1 = bsl_days_from_civil(y, 1, 1);
  snprintf(out, 16, "%04d-W%02d", y % 10000, (int)((thursday - jan1) / 7 + 1));
}

void bsl_time_format_utc(int64_t t, char out[32]) {
  int64_t day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t sec = t - day * 86400;
  char d[11];
  bsl_day_format(day, d);
  snprintf(out, 32, "%sT%02d:%02d:%02dZ", d, (int)(sec / 3600),
           (int)(sec / 60 % 60), (int)(sec % 60));
}
