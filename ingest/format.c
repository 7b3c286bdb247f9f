/*
 * Line formats: the hot path that turns one raw access-log line into a
 * bsl_hit.
 *
 * Every format, built-in or user-defined, is one PCRE2 pattern with named
 * groups; the group numbers are resolved once at creation, so the per-line
 * work is one JIT match into match data the format owns, followed by a few
 * scans over the captured slices (request split, status, bytes, timestamp).
 * Nothing is allocated per line.  The built-in patterns are written for the
 * logs real servers produce rather than for the documented formats: the
 * client field may be a forwarded-for list, a vhost prefix or IPv6; quoted
 * fields carry backslash escapes; `combined` also takes `common` lines; and
 * trailing fields after the user agent are ignored.  Timestamps are parsed by
 * hand (CLF, ISO 8601) or with strptime for user time formats, and converted
 * with days-from-civil arithmetic so the process time zone never matters.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strptime, tm_gmtoff */
#endif
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif

#include "format.h"
#include "civil.h"

#include <errno.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum group {
  G_REMOTE_ADDR,
  G_TIME,
  G_METHOD,
  G_PATH,
  G_QUERY,
  G_REQUEST,
  G_STATUS,
  G_BYTES,
  G_REFERER,
  G_USER_AGENT,
  G_HOST,
  G_COUNT
};

static const char *const group_names[G_COUNT] = {
    "remote_addr", "time",  "method",  "path",       "query", "request",
    "status",      "bytes", "referer", "user_agent", "host"};

enum time_mode {
  TIME_CLF,      /* built-ins: nothing else is valid there */
  TIME_CLF_ISO,  /* user format without time_format */
  TIME_STRPTIME, /* user time_format */
};

struct bsl_format {
  char *name;
  char *time_format;
  enum time_mode time_mode;
  pcre2_code *code;
  pcre2_match_data *md;
  pcre2_match_context *mctx;
  pcre2_jit_stack *jit_stack;
  PCRE2_SIZE *ovector; /* owned by md; the pointer is stable */
  bool jit;
  int group[G_COUNT]; /* capture number, 0 when the pattern lacks it */
  enum { FAST_NONE, FAST_COMBINED, FAST_COMMON } fast;
  /* the last CLF time text parsed in full, and its value less hh:mm:ss */
  char last_time[32];
  size_t last_time_len;
  int64_t last_time_base;
};

/*
 * The built-in patterns.  The only reliable anchor at the start of a line is
 * " ident user [", so the client is matched lazily, a printable word at a
 * time, and is whatever precedes it, as logged: an address, a hostname, a
 * forwarded-for list with spaces, a quoted list plus an address, a vhost
 * prefix.  Printable ASCII only, because servers escape everything else there
 * and a line glued to binary junk must not pass for a hit.  Quoted fields use
 * the unrolled loop [^"\\]*(?:\\.[^"\\]*)* with possessive quantifiers: a quote
 * ends the field unless escaped, so there is nothing to backtrack into, and
 * the JIT needs no stack frame per escape (garbage TLS requests are long runs
 * of \xHH).
 */
#define Q_FIELD(name) "\"(?<" name ">[^\"\\\\]*+(?:\\\\.[^\"\\\\]*+)*+)\""
#define CLIENT_TO_BYTES                                                        \
  "(?<remote_addr>[!-~]++(?: [!-~]++)*?) [!-~]++ [!-~]++ "                     \
  "\\[(?<time>[^\\]]*+)\\] " Q_FIELD("request") " (?<status>\\d{3}) "          \
                                                "(?<bytes>-|\\d++)"
/* Either the referer and user agent, then anything, or the common layout.  A
 * user agent missing its closing quote (a truncated line) matches neither. */
#define COMBINED_TAIL                                                          \
  "(?: " Q_FIELD("referer") " " Q_FIELD(                                       \
      "user_agent") "(?:[ \\t].*+)?+|[ \\t]*+)\\z"

static const struct builtin {
  const char *name;
  const char *regex;
} builtins[] = {
    {"combined", "^" CLIENT_TO_BYTES COMBINED_TAIL},
    /* trailing fields ignored, so common also reads combined lines */
    {"common", "^" CLIENT_TO_BYTES "(?:[ \\t].*+)?+\\z"},
    /* Apache's %v:%p or %v before the combined fields; the port is dropped */
    {"vcombined", "^(?<host>[!-~]+?)(?::\\d+)? " CLIENT_TO_BYTES COMBINED_TAIL},
};

#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

/* A user pattern on a 64 KiB line may need more than the JIT's default 32 KiB
 * machine-stack area; the stack grows lazily, so the cap costs nothing. */
#define JIT_STACK_START (32 * 1024)
#define JIT_STACK_MAX (4 * 1024 * 1024)

/* strptime needs a NUL-terminated copy; no real timestamp comes close. */
#define TIME_TEXT_MAX 128

static const struct builtin *find_builtin(const char *name) {
  for (size_t i = 0; name && i < N_BUILTINS; i++)
    if (strcmp(builtins[i].name, name) == 0)
      return &builtins[i];
  return NULL;
}

bool bsl_format_is_builtin(const char *name) {
  return find_builtin(name) != NULL;
}

const char *bsl_format_name(const bsl_format *f) {
  return f->name;
}

void bsl_format_destroy(bsl_format *f) {
  if (!f)
    return;
  pcre2_match_context_free(f->mctx);
  pcre2_jit_stack_free(f->jit_stack);
  pcre2_match_data_free(f->md);
  pcre2_code_free(f->code);
  free(f->time_format);
  free(f->name);
  free(f);
}

/*
 * Compiles the pattern, prepares the JIT and the match data, and resolves the
 * named groups.  Errors name the format so a config loader can pass the
 * message through with only its file:line in front.
 */
int bsl_format_create(bsl_format **out, const char *name, const char *regex,
                      const char *time_format, char *err, size_t errlen) {
  *out = NULL;
  if (!name || !*name) {
    snprintf(err, errlen, "format: missing name");
    return -EINVAL;
  }
  const struct builtin *b = find_builtin(name);
  uint32_t options = PCRE2_NEVER_UTF; /* lines are bytes, not text */
  if (b) {
    if (regex || time_format) {
      snprintf(err, errlen,
               "format \"%s\": built-in format takes no regex or time_format",
               name);
      return -EINVAL;
    }
    regex = b->regex;
    options |= PCRE2_DOTALL; /* escaped or trailing bytes may be anything */
  } else if (!regex) {
    snprintf(err, errlen, "format \"%s\": unknown format (no regex given)",
             name);
    return -EINVAL;
  }

  bsl_format *f = calloc(1, sizeof *f);
  if (!f)
    goto out_nomem;
  f->name = strdup(name);
  if (!f->name)
    goto out_nomem;
  if (time_format) {
    f->time_format = strdup(time_format);
    if (!f->time_format)
      goto out_nomem;
  }
  f->time_mode = b ? TIME_CLF : time_format ? TIME_STRPTIME : TIME_CLF_ISO;

  int errcode;
  PCRE2_SIZE erroff;
  f->code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, options,
                          &errcode, &erroff, NULL);
  if (!f->code) {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0)
      snprintf((char *)msg, sizeof msg, "error %d", errcode);
    snprintf(err, errlen, "format \"%s\": bad regex at offset %zu: %s", name,
             (size_t)erroff, (const char *)msg);
    bsl_format_destroy(f);
    return -EINVAL;
  }

  for (int g = 0; g < G_COUNT; g++) {
    int n =
        pcre2_substring_number_from_name(f->code, (PCRE2_SPTR)group_names[g]);
    f->group[g] = n > 0 ? n : 0;
  }
  if (!f->group[G_TIME]) {
    snprintf(err, errlen, "format \"%s\": regex has no (?<time>...) group",
             name);
    bsl_format_destroy(f);
    return -EINVAL;
  }

  /* Without JIT (unsupported CPU, or SELinux forbidding executable memory)
   * the interpreter gives the same answers, only slower. */
  f->jit = pcre2_jit_compile(f->code, PCRE2_JIT_COMPLETE) == 0;
  f->md = pcre2_match_data_create_from_pattern(f->code, NULL);
  f->mctx = pcre2_match_context_create(NULL);
  if (!f->md || !f->mctx)
    goto out_nomem;
  /* A user regex that backtracks catastrophically on a hostile line must
   * cost a bounded amount of work and end as a reject, not a hang. */
  pcre2_set_match_limit(f->mctx, 1000000);
  pcre2_set_depth_limit(f->mctx, 100000);
  if (f->jit) {
    f->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
    if (f->jit_stack)
      pcre2_jit_stack_assign(f->mctx, NULL, f->jit_stack);
  }
  f->ovector = pcre2_get_ovector_pointer(f->md);
  if (b)
    f->fast = strcmp(b->name, "combined") == 0 ? FAST_COMBINED
              : strcmp(b->name, "common") == 0 ? FAST_COMMON
                                               : FAST_NONE;
  *out = f;
  return 0;

out_nomem:
  bsl_format_destroy(f);
  snprintf(err, errlen, "format \"%s\": out of memory", name);
  return -ENOMEM;
}

/* ---- time ---------------------------------------------------------------- */

static unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31};
  if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
    return 29;
  return dim[m - 1];
}

/* Validates the broken-down time and converts it; sec 60 (a leap second as
 * some servers log it) folds into the next minute like timegm does. */
static int civil_to_unix(int64_t y, unsigned mon, unsigned d, unsigned h,
                         unsigned mi, unsigned s, int64_t offset,
                         int64_t *out) {
  if (mon < 1 || mon > 12 || d < 1 || d > days_in_month(y, mon) || h > 23 ||
      mi > 59 || s > 60)
    return -1;
  *out =
      bsl_days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + s - offset;
  return 0;
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Reads N digits at P; -1 if any is not a digit. */
static int digits(const char *p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!is_digit(p[i]))
      return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

/* Case-insensitive English month abbreviation to 1..12, else 0.  Packing
 * the three lower-cased letters into one integer makes it a single switch. */
static unsigned month_abbr(const char *p) {
  uint32_t k = (uint32_t)(unsigned char)(p[0] | 0x20) << 16 |
               (uint32_t)(unsigned char)(p[1] | 0x20) << 8 |
               (uint32_t)(unsigned char)(p[2] | 0x20);
#define M3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
  switch (k) {
  case M3('j', 'a', 'n'):
    return 1;
  case M3('f', 'e', 'b'):
    return 2;
  case M3('m', 'a', 'r'):
    return 3;
  case M3('a', 'p', 'r'):
    return 4;
  case M3('m', 'a', 'y'):
    return 5;
  case M3('j', 'u', 'n'):
    return 6;
  case M3('j', 'u', 'l'):
    return 7;
  case M3('a', 'u', 'g'):
    return 8;
  case M3('s', 'e', 'p'):
    return 9;
  case M3('o', 'c', 't'):
    return 10;
  case M3('n', 'o', 'v'):
    return 11;
  case M3('d', 'e', 'c'):
    return 12;
  default:
    return 0;
  }
#undef M3
}

/* "+hhmm" or "-hhmm" (COLON false) / "+hh:mm" (COLON true) to seconds. */
static int parse_offset(const char *p, bool colon, int64_t *off) {
  if (p[0] != '+' && p[0] != '-')
    return -1;
  int hh = digits(p + 1, 2);
  int mm = digits(p + (colon ? 4 : 3), 2);
  if (hh < 0 || mm < 0 || hh > 23 || mm > 59 || (colon && p[3] != ':'))
    return -1;
  *off = (int64_t)(hh * 3600 + mm * 60) * (p[0] == '-' ? -1 : 1);
  return 0;
}

/*
 * "10/Oct/2000:13:55:36 -0700" or without the offset (UTC).  Fixed widths
 * only: every server that writes CLF zero-pads, and the strictness keeps
 * this a handful of compares per line.
 */
int bsl_time_parse_clf(const char *t, size_t len, int64_t *out) {
  if (len != 20 && len != 26)
    return -1;
  if (t[2] != '/' || t[6] != '/' || t[11] != ':' || t[14] != ':' ||
      t[17] != ':')
    return -1;
  int d = digits(t, 2), y = digits(t + 7, 4), h = digits(t + 12, 2),
      mi = digits(t + 15, 2), s = digits(t + 18, 2);
  unsigned mon = month_abbr(t + 3);
  if (d < 0 || y < 0 || h < 0 || mi < 0 || s < 0 || mon == 0)
    return -1;
  int64_t off = 0;
  if (len == 26 && (t[20] != ' ' || parse_offset(t + 21, false, &off) != 0))
    return -1;
  return civil_to_unix(y, mon, (unsigned)d, (unsigned)h, (unsigned)mi,
                       (unsigned)s, off, out);
}

/*
 * YYYY-MM-DD, optionally followed by 'T' or ' ' and HH:MM[:SS[.frac]], then
 * optionally Z or an offset (+hh:mm, +hhmm, +hh), possibly after one space.
 * Fractions are truncated: the pipeline counts in whole seconds.
 */
int bsl_time_parse_iso8601(const char *t, size_t len, int64_t *out) {
  if (len < 10 || t[4] != '-' || t[7] != '-')
    return -1;
  int y = digits(t, 4), mon = digits(t + 5, 2), d = digits(t + 8, 2);
  if (y < 0 || mon < 0 || d < 0)
    return -1;
  int h = 0, mi = 0, s = 0;
  int64_t off = 0;
  size_t i = 10;
  if (i < len) {
    if (len < i + 6 || (t[i] != 'T' && t[i] != 't' && t[i] != ' ') ||
        t[i + 3] != ':')
      return -1;
    h = digits(t + i + 1, 2);
    mi = digits(t + i + 4, 2);
    i += 6;
    if (i < len && t[i] == ':') {
      if (len < i + 3)
        return -1;
      s = digits(t + i + 1, 2);
      i += 3;
      if (i < len && (t[i] == '.' || t[i] == ',')) {
        size_t start = ++i;
        while (i < len && is_digit(t[i]))
          i++;
        if (i == start)
          return -1;
      }
    }
    if (h < 0 || mi < 0 || s < 0)
      return -1;
    if (i < len && t[i] == ' ')
      i++;
    if (i < len) {
      size_t rest = len - i;
      if ((t[i] == 'Z' || t[i] == 'z') && rest == 1)
        i = len;
      else if (rest == 6 && parse_offset(t + i, true, &off) == 0)
        i = len;
      else if (rest == 5 && parse_offset(t + i, false, &off) == 0)
        i = len;
      else if (rest == 3 && (t[i] == '+' || t[i] == '-') &&
               digits(t + i + 1, 2) >= 0 && digits(t + i + 1, 2) <= 23) {
        off = (int64_t)digits(t + i + 1, 2) * 3600 * (t[i] == '-' ? -1 : 1);
        i = len;
      } else
        return -1;
    }
  }
  return civil_to_unix(y, (unsigned)mon, (unsigned)d, (unsigned)h, (unsigned)mi,
                       (unsigned)s, off, out);
}

/*
 * glibc strptime fills a struct tm (tm_gmtoff from %z); the conversion is
 * ours, so TZ plays no part.  Fields absent from FMT default to
 * 1970-01-01 00:00:00 UTC.  Trailing text left unparsed is an error.
 */
int bsl_time_parse_format(const char *fmt, const char *text, size_t len,
                          int64_t *out) {
  char buf[TIME_TEXT_MAX];
  if (len >= sizeof buf || memchr(text, '\0', len))
    return -1;
  memcpy(buf, text, len);
  buf[len] = '\0';
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = 70;
  tm.tm_mday = 1;
  const char *end = strptime(buf, fmt, &tm);
  if (!end || *end != '\0')
    return -1;
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour < 0 ||
      tm.tm_min < 0 || tm.tm_sec < 0)
    return -1;
  return civil_to_unix((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                       (unsigned)tm.tm_mday, (unsigned)tm.tm_hour,
                       (unsigned)tm.tm_min, (unsigned)tm.tm_sec,
                       (int64_t)tm.tm_gmtoff, out);
}

/* ---- byte scans ---------------------------------------------------------- */

/*
 * Line fields are short (a method, a time, a referer), so a libc memchr call
 * per field costs more in call overhead than in scanning.  These scans test
 * 16 bytes a step: with SSE2 (always there on x86-64) a handful of
 * instructions, elsewhere a plain loop building the same mask.  No load
 * leaves the line: a tail shorter than a block is read as the 16 bytes that
 * end where it ends, reaching back into the line, or copied out when the
 * line itself is shorter.
 */
enum byteset {
  SET_QUOTE_ESC, /* '"' or '\\': where a quoted field may end */
  SET_SPACE,
  SET_RBRACKET,
  SET_QMARK,
  SET_NONWORD, /* outside [!-~] */
};

#ifndef __SSE2__
static bool in_set(char c, enum byteset set) {
  switch (set) {
  case SET_QUOTE_ESC:
    return c == '"' || c == '\\';
  case SET_SPACE:
    return c == ' ';
  case SET_RBRACKET:
    return c == ']';
  case SET_QMARK:
    return c == '?';
  default:
    return c < '!' || c > '~';
  }
}
#endif

/* The scans have to inline into the fast path with SET a constant, which
 * GCC's heuristics decline for this many call sites. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Unaligned loads, for compares GCC may leave to a memcmp call. */
static ALWAYS_INLINE uint64_t load64(const char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static ALWAYS_INLINE uint32_t load32(const char *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static ALWAYS_INLINE uint16_t load16(const char *p) {
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Bit I is set when P[I] is in SET, for the 16 bytes at P. */
static ALWAYS_INLINE unsigned block_mask(const char *p, enum byteset set) {
#ifdef __SSE2__
  __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
  switch (set) {
  case SET_QUOTE_ESC:
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                     _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  case SET_SPACE:
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
  case SET_RBRACKET:
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(']')));
  case SET_QMARK:
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('?')));
  default:
    /* signed compares: bytes from 0x80 up are negative, so not above ' ' */
    return ~(unsigned)_mm_movemask_epi8(
               _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(' ')),
                             _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f)))) &
           0xffffu;
  }
#else
  unsigned m = 0;
  for (int i = 0; i < 16; i++)
    m |= (unsigned)in_set(p[i], set) << i;
  return m;
#endif
}

/* tail_mask on a line shorter than a block: copied out, so that the load
 * stays in bounds.  Kept out of line, as such lines are rare. */
static __attribute__((noinline, cold)) unsigned
short_tail_mask(const char *p, size_t n, enum byteset set) {
  char buf[16] = {0};
  memcpy(buf, p, n);
  return block_mask(buf, set) & ((1u << n) - 1);
}

/* The mask of the N < 16 bytes at P (bit 0 for P) when P + N ends the range
 * scanned; LO is the start of the line. */
static ALWAYS_INLINE unsigned tail_mask(const char *lo, const char *p, size_t n,
                                        enum byteset set) {
  if (p + n - lo >= 16)
    return block_mask(p + n - 16, set) >> (16 - n);
  return short_tail_mask(p, n, set);
}

/* The first byte of [P, END) in SET, or END.  LO <= P is the start of the
 * line: bytes from there may be loaded. */
static ALWAYS_INLINE const char *scan(const char *lo, const char *p,
                                      const char *end, enum byteset set) {
  /* two blocks a step halve the loop overhead on long user agents */
  for (; end - p >= 32; p += 32) {
    unsigned m = block_mask(p, set) | block_mask(p + 16, set) << 16;
    if (m)
      return p + __builtin_ctz(m);
  }
  if (end - p >= 16) {
    unsigned m = block_mask(p, set);
    if (m)
      return p + __builtin_ctz(m);
    p += 16;
  }
  if (p == end)
    return end;
  unsigned m = tail_mask(lo, p, (size_t)(end - p), set);
  return m ? p + __builtin_ctz(m) : end;
}

/* The last byte of [P, END) in SET, or NULL. */
static ALWAYS_INLINE const char *rscan(const char *lo, const char *p,
                                       const char *end, enum byteset set) {
  for (; end - p >= 16; end -= 16) {
    unsigned m = block_mask(end - 16, set);
    if (m)
      return end - 16 + (31 - __builtin_clz(m));
  }
  if (p == end)
    return NULL;
  unsigned m = tail_mask(lo, p, (size_t)(end - p), set);
  return m ? p + (31 - __builtin_clz(m)) : NULL;
}

/* ---- line parsing -------------------------------------------------------- */

/* The slice of group G; ptr is NULL when the pattern lacks the group or it
 * did not take part in the match, non-NULL (perhaps with len 0) otherwise. */
static bsl_str slice(const char *line, const bsl_format *f, int rc,
                     enum group g) {
  int n = f->group[g];
  if (n <= 0 || n >= rc)
    return (bsl_str){NULL, 0};
  PCRE2_SIZE a = f->ovector[2 * n], b = f->ovector[2 * n + 1];
  if (a == PCRE2_UNSET || b < a)
    return (bsl_str){NULL, 0};
  return (bsl_str){line + a, b - a};
}

/* A logged "-" stands for an absent value. */
static bsl_str dash_is_empty(bsl_str s) {
  if (s.len == 1 && s.ptr[0] == '-')
    s.len = 0;
  return s;
}

/* TARGET lies in the line starting at LO. */
static ALWAYS_INLINE void split_target(const char *lo, bsl_str target,
                                       bsl_str *path, bsl_str *query) {
  *path = target;
  query->ptr = NULL;
  query->len = 0;
  if (!target.len)
    return;
  const char *end = target.ptr + target.len;
  const char *q = scan(lo, target.ptr, end, SET_QMARK);
  if (q != end) {
    path->len = (size_t)(q - target.ptr);
    query->ptr = q + 1;
    query->len = target.len - path->len - 1;
  }
}

/*
 * "METHOD TARGET PROTOCOL".  A last word starting "HTTP/" is the protocol
 * and everything between it and the method is the target, so a target with
 * an unescaped space survives; otherwise the second word is the target.
 * Scanner garbage without spaces becomes a method nobody counts.  REQ lies in
 * the line starting at LO.
 */
static ALWAYS_INLINE void split_request(const char *lo, bsl_str req,
                                        bsl_str *method, bsl_str *target,
                                        bsl_str *protocol) {
  const char *p = req.ptr, *end = req.ptr + req.len;
  *method = *target = *protocol = (bsl_str){NULL, 0};
  if (req.len == 0 || (req.len == 1 && p[0] == '-'))
    return;
  const char *sp = scan(lo, p, end, SET_SPACE);
  *method = (bsl_str){p, (size_t)(sp - p)};
  if (sp == end)
    return;
  const char *t = sp;
  while (t < end && *t == ' ')
    t++;
  if (t == end)
    return;
  const char *last = rscan(lo, t, end, SET_SPACE);
  if (last && end - last > 5 && load32(last + 1) == load32("HTTP") &&
      last[5] == '/') {
    const char *tend = last;
    while (tend > t && tend[-1] == ' ')
      tend--;
    *target = (bsl_str){t, (size_t)(tend - t)};
    *protocol = (bsl_str){last + 1, (size_t)(end - last - 1)};
    return;
  }
  const char *sp2 = scan(lo, t, end, SET_SPACE);
  *target = (bsl_str){t, (size_t)(sp2 - t)};
  if (sp2 != end) {
    while (sp2 < end && *sp2 == ' ')
      sp2++;
    *protocol = (bsl_str){sp2, (size_t)(end - sp2)};
  }
}

static bool all_blank(const char *p, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
      return false;
  return true;
}

/* Eight digits or separators read as one little-endian word (SWAR) cost a
 * few operations instead of a compare and a branch each. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR_LE 1
#else
#define SWAR_LE 0
#endif

/* hh:mm:ss at T in seconds, or -1 when bsl_time_parse_clf would refuse it. */
static ALWAYS_INLINE int clf_time_of_day(const char *t) {
  unsigned h, mi, s;
#if SWAR_LE
  uint64_t y = load64(t);
  /* XOR leaves the digits as 0..9 and the colons as 0; adding 0x76 (0x7f
   * at the colons) then sets a byte's top bit exactly when it holds
   * anything else, and a carry only leaves a byte already flagged. */
  y ^= 0x30303a30303a3030u;
  if (((y + 0x76767f76767f7676u) | y) & 0x8080808080808080u)
    return -1;
  /* each byte becomes ten times itself plus the next: hh, mm and ss in
   * bytes 0, 3 and 6 */
  y = y * 10 + (y >> 8);
  h = (unsigned)(y & 0xff);
  mi = (unsigned)(y >> 24 & 0xff);
  s = (unsigned)(y >> 48 & 0xff);
#else
  unsigned h1 = (unsigned char)t[0] - '0', h2 = (unsigned char)t[1] - '0',
           m1 = (unsigned char)t[3] - '0', m2 = (unsigned char)t[4] - '0',
           s1 = (unsigned char)t[6] - '0', s2 = (unsigned char)t[7] - '0';
  /* a byte below '0' wraps around, so one compare tests each digit */
  if (h1 > 9 || h2 > 9 || m1 > 9 || m2 > 9 || s1 > 9 || s2 > 9 || t[2] != ':' ||
      t[5] != ':')
    return -1;
  h = h1 * 10 + h2;
  mi = m1 * 10 + m2;
  s = s1 * 10 + s2;
#endif
  if (h > 23 || mi > 59 || s > 60)
    return -1;
  return (int)(h * 3600 + mi * 60 + s);
}

/*
 * Consecutive lines mostly share the date and zone but not the second, so
 * the cache keeps the last text parsed in full with its value at midnight:
 * when a text differs from it only in hh:mm:ss, those are all that is read
 * and checked (the rest passed bsl_time_parse_clf already).
 */
static ALWAYS_INLINE int parse_clf_cached(bsl_format *f, bsl_str s,
                                          int64_t *out) {
  const char *t = s.ptr;
  const char *c = f->last_time;
  if (s.len >= 20 && s.len == f->last_time_len && load64(t) == load64(c) &&
      load32(t + 8) == load32(c + 8) &&
      (s.len == 20 || (load32(t + 20) == load32(c + 20) &&
                       load16(t + 24) == load16(c + 24)))) {
    int tod = clf_time_of_day(t + 12);
    if (tod >= 0) {
      *out = f->last_time_base + tod;
      return 0;
    }
  }
  if (bsl_time_parse_clf(t, s.len, out) != 0)
    return -1;
  /* only 20 and 26 bytes parse */
  memcpy(f->last_time, t, s.len);
  f->last_time_len = s.len;
  f->last_time_base = *out - clf_time_of_day(t + 12);
  return 0;
}

static int parse_time(const bsl_format *f, bsl_str s, int64_t *out) {
  switch (f->time_mode) {
  case TIME_CLF:
    return parse_clf_cached((bsl_format *)f, s, out);
  case TIME_CLF_ISO:
    if (bsl_time_parse_clf(s.ptr, s.len, out) == 0)
      return 0;
    return bsl_time_parse_iso8601(s.ptr, s.len, out);
  case TIME_STRPTIME:
    return bsl_time_parse_format(f->time_format, s.ptr, s.len, out);
  }
  return -1;
}

void bsl_format_set_fastpath(bsl_format *f, bool on) {
  if (!on)
    f->fast = FAST_NONE;
  else if (strcmp(f->name, "combined") == 0)
    f->fast = FAST_COMBINED;
  else if (strcmp(f->name, "common") == 0)
    f->fast = FAST_COMMON;
}

/* A maximal run of [!-~] from P; returns its end. */
static ALWAYS_INLINE const char *word_end(const char *lo, const char *p,
                                          const char *end) {
  return scan(lo, p, end, SET_NONWORD);
}

/* Q_FIELD: P is just past the opening quote; returns the closing quote, or
 * NULL when the field does not close on this line. */
static ALWAYS_INLINE const char *quoted_end(const char *lo, const char *p,
                                            const char *end) {
  for (;;) {
    p = scan(lo, p, end, SET_QUOTE_ESC);
    if (p == end)
      return NULL;
    if (*p == '"')
      return p;
    /* backslash: "\\." takes the next byte unless it is a newline */
    if (p + 1 >= end || p[1] == '\n')
      return NULL;
    p += 2;
  }
}

static bool blank_to_end(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  return p == end;
}

/* The run of digits at P (before END) as the bytes group takes it: stores
 * its value and returns its end, or NULL when it is empty or longer than 18
 * digits (the regex path reports those). */
static ALWAYS_INLINE const char *decimal(const char *p, const char *end,
                                         int64_t *value) {
#if SWAR_LE
  if (end - p >= 8) {
    uint64_t y = load64(p);
    /* as in clf_time_of_day; the lowest flagged byte ends the digits, as a
     * carry only ever comes from a flagged byte below */
    y ^= 0x3030303030303030u;
    uint64_t other = ((y + 0x7676767676767676u) | y) & 0x8080808080808080u;
    if (other) {
      unsigned n = (unsigned)__builtin_ctzll(other) / 8;
      if (n == 0)
        return NULL;
      /* the digits to the top bytes over zeros (leading zero digits), then
       * pairs of digits, of pairs, of quadruples */
      y <<= 64 - 8 * n;
      y = (y * 10 + (y >> 8)) & 0x00ff00ff00ff00ffu;
      y = (y * (1 + (100u << 16)) >> 16) & 0x0000ffff0000ffffu;
      *value = (int64_t)(y * (1 + (10000ull << 32)) >> 32);
      return p + n;
    }
  }
#endif
  const char *d = p;
  uint64_t v = 0; /* unsigned: a long run wraps harmlessly until refused */
  while (p < end && is_digit(*p))
    v = v * 10 + (uint64_t)(*p++ - '0');
  if (p == d || p - d > 18)
    return NULL;
  *value = (int64_t)v;
  return p;
}

/* fast_parse's answer for a line it leaves to the regex */
#define FAST_FALLBACK 1

/*
 * The built-in combined/common patterns by hand, for the shape nearly every
 * line has: "W1 W2 W3 [time] "request" status bytes" then the referer and
 * user agent (or nothing).  Where the regex's first attempt (a one-word
 * client) would succeed, it takes the same captures and finishes the hit as
 * bsl_format_parse does, returning 0 or -1; on anything else it returns
 * FAST_FALLBACK and the regex decides, so results never differ (the fuzz
 * target checks both paths against each other).  LEN > 0.
 */
static int fast_parse(bsl_format *f, const char *line, size_t len, bsl_hit *hit,
                      const char **reason) {
  const char *p = line, *end = line + len;
  const char *w = word_end(line, p, end);
  if (w == p || w + 1 >= end || *w != ' ')
    return FAST_FALLBACK;
  bsl_str client = {p, (size_t)(w - p)};
  if (end - w > 5 && load32(w) == load32(" - -") &&
      load16(w + 4) == load16(" [")) {
    p = w + 5; /* ident and user are nearly always "-" */
  } else {
    for (int i = 0; i < 2; i++) { /* ident, user */
      p = w + 1;
      w = word_end(line, p, end);
      if (w == p || w + 1 >= end || *w != ' ')
        return FAST_FALLBACK;
    }
    p = w + 1;
    if (*p != '[')
      return FAST_FALLBACK;
  }
  const char *tend = scan(line, p + 1, end, SET_RBRACKET);
  if (tend == end)
    return FAST_FALLBACK;
  bsl_str time = {p + 1, (size_t)(tend - p - 1)};
  p = tend + 1;
  if (end - p < 2 || p[0] != ' ' || p[1] != '"')
    return FAST_FALLBACK;
  const char *qend = quoted_end(line, p + 2, end);
  if (!qend)
    return FAST_FALLBACK;
  bsl_str req = {p + 2, (size_t)(qend - p - 2)};
  p = qend + 1;
  if (end - p < 5 || p[0] != ' ' || !is_digit(p[1]) || !is_digit(p[2]) ||
      !is_digit(p[3]) || p[4] != ' ')
    return FAST_FALLBACK;
  int status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
  p += 5;
  int64_t bytes = -1;
  if (p < end && *p == '-')
    p++;
  else if (!(p = decimal(p, end, &bytes)))
    return FAST_FALLBACK;
  bsl_str referer = {NULL, 0}, user_agent = {NULL, 0};
  if (f->fast == FAST_COMMON) {
    if (p != end && *p != ' ' && *p != '\t') /* (?:[ \t].*+)?+\z */
      return FAST_FALLBACK;
  } else if (end - p >= 2 && p[0] == ' ' && p[1] == '"') {
    /* combined: ' "referer" "user agent"' then [ \t] and anything, or end */
    const char *r = p + 2, *rend = quoted_end(line, r, end);
    if (!rend || end - rend < 3 || rend[1] != ' ' || rend[2] != '"')
      return FAST_FALLBACK;
    const char *u = rend + 3, *uend = quoted_end(line, u, end);
    if (!uend || (uend + 1 != end && uend[1] != ' ' && uend[1] != '\t'))
      return FAST_FALLBACK;
    referer = (bsl_str){r, (size_t)(rend - r)};
    user_agent = (bsl_str){u, (size_t)(uend - u)};
  } else if (!blank_to_end(p, end)) {
    return FAST_FALLBACK; /* the common layout inside combined */
  }

  /* what bsl_format_parse does with the regex's captures */
  if (parse_clf_cached(f, time, &hit->time) != 0) {
    *reason = "bad timestamp";
    return -1;
  }
  if (status < 100) {
    *reason = "bad status";
    return -1;
  }
  hit->status = status;
  hit->bytes = bytes;
  hit->remote_addr = client;
  hit->host = (bsl_str){NULL, 0};
  hit->referer = dash_is_empty(referer);
  hit->user_agent = dash_is_empty(user_agent);
  bsl_str target;
  split_request(line, req, &hit->method, &target, &hit->protocol);
  split_target(line, target, &hit->path, &hit->query);
  hit->has_request = hit->method.len > 0 || hit->path.len > 0;
  return 0;
}

/*
 * Matches LINE and fills *hit.  The slices point into LINE; a reject leaves
 * *hit partly filled and sets *reason to a static string.
 */
int bsl_format_parse(bsl_format *f, const char *line, size_t len, bsl_hit *hit,
                     const char **reason) {
  if (len == 0) {
    *reason = "empty line";
    return -1;
  }
  if (f->fast != FAST_NONE) {
    int rc = fast_parse(f, line, len, hit, reason);
    if (rc != FAST_FALLBACK)
      return rc;
  }
  int rc = f->jit ? pcre2_jit_match(f->code, (PCRE2_SPTR)line, len, 0, 0, f->md,
                                    f->mctx)
                  : pcre2_match(f->code, (PCRE2_SPTR)line, len, 0, 0, f->md,
                                f->mctx);
  if (rc <= 0) {
    if (rc == PCRE2_ERROR_NOMATCH)
      *reason = all_blank(line, len) ? "empty line" : "no match";
    else
      *reason = "match limit exceeded";
    return -1;
  }
  bsl_str g[G_COUNT];
  for (int i = 0; i < G_COUNT; i++)
    g[i] = slice(line, f, rc, (enum group)i);

  bsl_str t = g[G_TIME];
  if (!t.ptr || parse_time(f, t, &hit->time) != 0) {
    *reason = "bad timestamp";
    return -1;
  }

  hit->status = 0;
  bsl_str st = g[G_STATUS];
  if (st.ptr) {
    int v = st.len == 3 ? digits(st.ptr, 3) : -1;
    if (v < 100) {
      *reason = "bad status";
      return -1;
    }
    hit->status = v;
  }

  hit->bytes = -1;
  bsl_str by = dash_is_empty(g[G_BYTES]);
  if (by.len) {
    int64_t v = 0;
    for (size_t i = 0; i < by.len; i++) {
      /* 18 digits keep the sum inside int64_t */
      if (!is_digit(by.ptr[i]) || i >= 18) {
        *reason = "bad bytes";
        return -1;
      }
      v = v * 10 + (by.ptr[i] - '0');
    }
    hit->bytes = v;
  }

  hit->remote_addr = g[G_REMOTE_ADDR];
  hit->host = g[G_HOST];
  hit->referer = dash_is_empty(g[G_REFERER]);
  hit->user_agent = dash_is_empty(g[G_USER_AGENT]);

  /* Request fields: explicit groups win; whatever is missing comes from
   * splitting `request`, and a path still holding '?' is split last. */
  bsl_str method = g[G_METHOD];
  bsl_str path = g[G_PATH];
  bsl_str query = g[G_QUERY];
  bsl_str protocol = {NULL, 0};
  bsl_str req = g[G_REQUEST];
  if (req.ptr && (!method.len || !path.len)) {
    bsl_str m, target;
    split_request(line, req, &m, &target, &protocol);
    if (!method.len)
      method = m;
    if (!path.len)
      path = target;
  }
  bsl_str p2, q2;
  split_target(line, path, &p2, &q2);
  if (q2.ptr) {
    path = p2;
    if (!query.len)
      query = q2;
  }
  hit->method = method;
  hit->path = path;
  hit->query = query;
  hit->protocol = protocol;
  hit->has_request = method.len > 0 || path.len > 0;
  return 0;
}
