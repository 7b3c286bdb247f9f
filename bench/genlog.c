/*
 * boussole-genlog: a deterministic generator of realistic web access logs.
 *
 * It writes an Apache/nginx "combined" access log to stdout so that the
 * benchmarks (bench/run.sh), the end-to-end tests and the README's first
 * command have a large, believable input without shipping one: human visitors
 * (IPv4 and IPv6, desktop/mobile/tablet browsers) arrive from direct, search,
 * social, webmail, referral and tagged (utm/gclid/msclkid) landings, browse
 * 1-10 pages with think times of seconds to minutes, load static assets,
 * send scroll/click beacons to the beacon path, sometimes sign up (/signup then
 * /thank-you) and sometimes come back later the same day; crawlers, monitors,
 * scanners and HTTP libraries add about 15% of the lines. Timestamps never go
 * backwards, and the output is byte-identical for identical arguments on any
 * platform: it uses its own PRNG and its own logarithm, never rand() or libm,
 * and does no per-line allocation so ten million lines take seconds.
 *
 * It is a standalone program on purpose: it must not share code with the
 * library it is used to test and measure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Byte-identical output needs the same floating-point rounding everywhere:
 * no fused multiply-add. GCC in ISO C mode already does not contract; clang
 * does unless told (and GCC warns about the pragma, hence the guard). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define PROG "boussole-genlog"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* PRNG: splitmix64 to expand the seed, xoshiro256** for the stream.         */

typedef struct {
  uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Uniform in [0, n): Lemire's multiply-shift; the tiny bias is irrelevant
 * here and it avoids a division per draw. */
static inline uint32_t rng_below(rng_t *r, uint32_t n) {
  return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline uint32_t rng_range(rng_t *r, uint32_t lo, uint32_t hi) {
  return lo + rng_below(r, hi - lo + 1);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double rng_unit(rng_t *r) {
  return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static inline bool rng_chance(rng_t *r, double p) {
  return rng_unit(r) < p;
}

/* Natural logarithm of x in (0, 1], written out with + - * / only so that the
 * output does not depend on the C library's libm (whose last-ulp results
 * differ between implementations and would break byte-identical output). */
static double det_log(double x) {
  int e = 0;
  while (x < 0.5) {
    x *= 2.0;
    e--;
  }
  /* x in [0.5, 1]: ln x = 2 atanh(s), s = (x-1)/(x+1), |s| <= 1/3. */
  double s = (x - 1.0) / (x + 1.0), s2 = s * s, term = s, sum = 0.0;
  for (int k = 1; k <= 29; k += 2) {
    sum += term / k;
    term *= s2;
  }
  return 2.0 * sum + e * 0.69314718055994530942;
}

/* Exponentially distributed with the given mean. */
static double rng_exp(rng_t *r, double mean) {
  return -mean * det_log(1.0 - rng_unit(r));
}

/* Index drawn from integer weights. */
static unsigned rng_weighted(rng_t *r, const unsigned *w, unsigned n) {
  unsigned total = 0;
  for (unsigned i = 0; i < n; i++)
    total += w[i];
  unsigned x = rng_below(r, total);
  for (unsigned i = 0; i < n; i++) {
    if (x < w[i])
      return i;
    x -= w[i];
  }
  return n - 1;
}

/* ------------------------------------------------------------------------ */
/* Output: one big buffer, flushed when less than a worst-case line is left. */

#define OUT_SIZE (4u << 20)
#define LINE_MAX_BYTES 4096 /* every field is bounded well below this */

static char out_buf[OUT_SIZE];
static size_t out_pos;

static void out_flush(void) {
  if (out_pos && fwrite(out_buf, 1, out_pos, stdout) != out_pos) {
    fprintf(stderr, PROG ": write error on stdout: %s\n", strerror(errno));
    exit(1);
  }
  out_pos = 0;
}

static inline void put(const char *s, size_t n) {
  memcpy(out_buf + out_pos, s, n);
  out_pos += n;
}

static inline void puts_(const char *s) {
  put(s, strlen(s));
}

static inline void putc_(char c) {
  out_buf[out_pos++] = c;
}

static inline void put_u(uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    out_buf[out_pos++] = tmp[--n];
}

/* Small bounded string builder for targets and referers kept in sessions. */
typedef struct {
  char *p;
  size_t len, cap;
} sb_t;

static void sb_init(sb_t *b, char *p, size_t cap) {
  b->p = p;
  b->cap = cap;
  b->len = 0;
  p[0] = '\0';
}

static void sb_add(sb_t *b, const char *s) {
  size_t n = strlen(s);
  if (n > b->cap - 1 - b->len)
    n = b->cap - 1 - b->len; /* truncate rather than overflow; never hit */
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_u(sb_t *b, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  char rev[24];
  for (int i = 0; i < n; i++)
    rev[i] = tmp[n - 1 - i];
  rev[n] = '\0';
  sb_add(b, rev);
}

static void sb_rand(sb_t *b, rng_t *r, const char *alphabet, unsigned n) {
  size_t an = strlen(alphabet);
  char tmp[96];
  if (n >= sizeof tmp)
    n = sizeof tmp - 1;
  for (unsigned i = 0; i < n; i++)
    tmp[i] = alphabet[rng_below(r, (uint32_t)an)];
  tmp[n] = '\0';
  sb_add(b, tmp);
}

/* ------------------------------------------------------------------------ */
/* Calendar: days since 1970-01-01 <-> civil date (H. Hinnant's algorithms),
 * so no dependency on timegm() or the process time zone. */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yy + (*m <= 2));
}

static const char *const month_abbr[12] = {"Jan", "Feb", "Mar", "Apr",
                                           "May", "Jun", "Jul", "Aug",
                                           "Sep", "Oct", "Nov", "Dec"};

/* The "dd/Mon/yyyy:" prefix only changes once a day, so it is cached. */
static int64_t ts_cached_day = INT64_MIN;
static char ts_day_str[16];

static void put_timestamp(int64_t ms) {
  int64_t secs = ms / 1000;
  int64_t day = secs / 86400;
  unsigned sod = (unsigned)(secs - day * 86400);
  if (day != ts_cached_day) {
    int y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(ts_day_str, sizeof ts_day_str, "%02u/%s/%04d:", d,
             month_abbr[m - 1], y);
    ts_cached_day = day;
  }
  putc_('[');
  put(ts_day_str, 12);
  unsigned hh = sod / 3600, mm = sod / 60 % 60, ss = sod % 60;
  char t[8] = {(char)('0' + hh / 10), (char)('0' + hh % 10), ':',
               (char)('0' + mm / 10), (char)('0' + mm % 10), ':',
               (char)('0' + ss / 10), (char)('0' + ss % 10)};
  put(t, 8);
  put(" +0000]", 7);
}

/* ------------------------------------------------------------------------ */
/* The simulated site.                                                       */

enum {
  PG_HOME,
  PG_PRICING,
  PG_FEATURES,
  PG_FEAT_SCROLL,
  PG_FEAT_CAMPAIGNS,
  PG_ABOUT,
  PG_CONTACT,
  PG_SIGNUP,
  PG_LOGIN,
  PG_BLOG,
  PG_BLOG_MEASURE,
  PG_BLOG_UTM,
  PG_BLOG_CAFE,
  PG_BLOG_KPI,
  PG_DOCS,
  PG_DOCS_START,
  PG_DOCS_INSTALL,
  PG_DOCS_CONFIG,
  PG_DOCS_VIEWS,
  PG_CAREERS,
  PG_PRIVACY,
  PG_SEARCH,  /* dynamic query string */
  PG_PRODUCT, /* dynamic query string */
  PG_THANKYOU,
  PG_COUNT
};

typedef struct {
  const char *path; /* as logged: already percent-encoded where needed */
  unsigned nav;     /* weight as an internal-navigation destination */
  unsigned size;    /* typical compressed HTML size in bytes */
  bool hero;        /* has a large page-specific image */
} page_t;

static const page_t pages[PG_COUNT] = {
    [PG_HOME] = {"/", 120, 18420, true},
    [PG_PRICING] = {"/pricing", 90, 14210, false},
    [PG_FEATURES] = {"/features", 60, 16890, true},
    [PG_FEAT_SCROLL] = {"/features/scroll-depth", 25, 12770, true},
    [PG_FEAT_CAMPAIGNS] = {"/features/campaigns", 25, 13050, true},
    [PG_ABOUT] = {"/about", 20, 9120, false},
    [PG_CONTACT] = {"/contact", 18, 7340, false},
    [PG_SIGNUP] = {"/signup", 28, 8810, false},
    [PG_LOGIN] = {"/login", 20, 6120, false},
    [PG_BLOG] = {"/blog/", 45, 15530, false},
    [PG_BLOG_MEASURE] = {"/blog/measuring-what-matters", 30, 24310, true},
    [PG_BLOG_UTM] = {"/blog/utm-parameters-explained", 30, 27740, true},
    [PG_BLOG_CAFE] = {"/blog/caf%C3%A9-analytics-without-cookies", 20, 21980,
                      true},
    [PG_BLOG_KPI] = {"/blog/2026/10/when-kpis-stall", 22, 23150, true},
    [PG_DOCS] = {"/docs/", 40, 11200, false},
    [PG_DOCS_START] = {"/docs/getting-started", 35, 19870, false},
    [PG_DOCS_INSTALL] = {"/docs/install%20guide", 20, 17640, false},
    [PG_DOCS_CONFIG] = {"/docs/configuration", 25, 26410, false},
    [PG_DOCS_VIEWS] = {"/docs/api/views", 18, 22030, false},
    [PG_CAREERS] = {"/careers", 8, 8450, false},
    [PG_PRIVACY] = {"/legal/privacy", 6, 12990, false},
    [PG_SEARCH] = {"/search", 22, 10340, false},
    [PG_PRODUCT] = {"/products/widget", 15, 13380, true},
    [PG_THANKYOU] = {"/thank-you", 0, 5230, false},
};

static const char *const search_queries[] = {
    "web+analytics",
    "scroll+depth",
    "%22scroll%20depth%22",
    "utm",
    "caf%C3%A9",
    "kpi+stall&page=2",
    "gdpr%20cookies",
    "nginx+log+format",
    "conversion+rate",
    "self-hosted",
    "sqlite",
    "r%C3%A9sum%C3%A9",
};

static const char *const product_queries[] = {
    "color=blue&size=m",
    "color=red&size=l",
    "color=black&size=s",
    "color=blue&size=xl&ref=home",
};

/* Links that used to exist: 404s from stale links and typed URLs. */
static const char *const broken_paths[] = {
    "/blog/old-post-2019",       "/docs/v1/install",   "/pricing/enterprise",
    "/careers/senior-engineer",  "/features/heatmaps", "/index.php",
    "/blog/caf%C3%A9-analytics", "/docs/api/views/",
};

typedef struct {
  const char *path;
  unsigned size;
} asset_t;

enum {
  AS_CSS,
  AS_APPJS,
  AS_VENDORJS,
  AS_TAGJS,
  AS_LOGO,
  AS_FONT,
  AS_FONT_BOLD,
  AS_FAVICON,
  AS_HERO, /* page-specific: path derived from the page */
  AS_BROKEN,
  AS_COUNT
};

static const asset_t assets[AS_COUNT] = {
    [AS_CSS] = {"/assets/app.3f9a1c.css", 28714},
    [AS_APPJS] = {"/assets/app.8b2e4d.js", 61233},
    [AS_VENDORJS] = {"/assets/vendor.1c7f0a.js", 148902},
    [AS_TAGJS] = {"/js/tag.min.js", 1874},
    [AS_LOGO] = {"/img/logo.png", 6421},
    [AS_FONT] = {"/fonts/inter-var.woff2", 48256},
    [AS_FONT_BOLD] = {"/fonts/inter-bold.woff2", 31022},
    [AS_FAVICON] = {"/favicon.ico", 4286},
    [AS_HERO] = {"/img/hero-", 0},
    [AS_BROKEN] = {"/img/banner-black-friday-2025.png", 0},
};

static const char *const click_targets[] = {"cta-signup", "nav-pricing",
                                            "download-pdf", "play-demo",
                                            "outbound-github"};

/* ------------------------------------------------------------------------ */
/* User agents.                                                              */

static const char *const ua_desktop[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/141.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 "
    "Firefox/145.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/26.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:144.0) Gecko/20100101 "
    "Firefox/144.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:145.0) Gecko/20100101 "
    "Firefox/145.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/142.0.0.0 Safari/537.36 OPR/124.0.0.0",
};

static const char *const ua_mobile[] = {
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Mobile/15E148 "
    "Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 26_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Mobile/15E148 "
    "Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/142.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/141.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/142.0.7444.46 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Android 15; Mobile; rv:145.0) Gecko/145.0 Firefox/145.0",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-A546B) AppleWebKit/537.36 "
    "(KHTML, like Gecko) SamsungBrowser/28.0 Chrome/130.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "[FBAN/FBIOS;FBAV/487.0.0.45.109;FBBV/712343601;FBDV/iPhone15,2;FBMD/"
    "iPhone;FBSN/iOS;FBSV/18.5;FBSS/3;FBCR/;FBID/phone;FBLC/fr_FR;FBOP/80]",
};

static const char *const ua_tablet[] = {
    "Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/141.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Lenovo TB-X606F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36",
};

enum {
  BOT_GOOGLE,
  BOT_GOOGLE_MOBILE,
  BOT_BING,
  BOT_AHREFS,
  BOT_CURL,
  BOT_PYTHON,
  BOT_UPTIME,
  BOT_EMPTY,
  BOT_COUNT
};

static const char *const ua_bot[BOT_COUNT] = {
    [BOT_GOOGLE] = "Mozilla/5.0 (compatible; Googlebot/2.1; "
                   "+http://www.google.com/bot.html)",
    [BOT_GOOGLE_MOBILE] =
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.7444.59 Mobile "
        "Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
    [BOT_BING] = "Mozilla/5.0 (compatible; bingbot/2.0; "
                 "+http://www.bing.com/bingbot.htm)",
    [BOT_AHREFS] =
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    [BOT_CURL] = "curl/8.5.0",
    [BOT_PYTHON] = "python-requests/2.32.3",
    [BOT_UPTIME] = "Mozilla/5.0+(http://www.uptimerobot.com/)",
    [BOT_EMPTY] = "-",
};

/* How often each kind of bot visit starts. */
static const unsigned bot_weight[BOT_COUNT] = {
    [BOT_GOOGLE] = 16, [BOT_GOOGLE_MOBILE] = 10, [BOT_BING] = 12,
    [BOT_AHREFS] = 8,  [BOT_CURL] = 8,           [BOT_PYTHON] = 7,
    [BOT_UPTIME] = 30, [BOT_EMPTY] = 6,
};

static const char *const scanner_paths[] = {
    "/wp-login.php",
    "/.env",
    "/xmlrpc.php",
    "/.git/config",
    "/admin/",
    "/phpmyadmin/index.php",
    "/wp-admin/setup-config.php",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/config.json",
    "/backup.zip",
};

/* ------------------------------------------------------------------------ */
/* Sessions: one per simulated visitor visit (human) or crawl (bot).         */

enum {
  ST_PAGE,   /* the next pageview (target in s->next) */
  ST_STATIC, /* arg = asset, status in st */
  ST_SCROLL, /* arg = depth */
  ST_CLICK,  /* arg = click target */
  ST_POST,   /* the signup form submission */
  ST_RETURN, /* the same visitor comes back: start a new visit */
};

typedef struct {
  int64_t t; /* ms */
  uint8_t kind;
  uint8_t arg;
  uint16_t status;
} step_t;

#define PLAN_MAX 24

typedef struct {
  char ip[40];
  const char *ua; /* NULL: ua_buf */
  const char *proto;
  bool bot, js, in_use;
  uint8_t bot_kind;
  uint8_t pv_done, pv_max, returns;
  uint8_t page, next_page; /* PG_* of the current / next pageview */
  uint16_t next_status;
  uint32_t seen;    /* bitmask of PG_* viewed today: HTML revalidation -> 304 */
  char cur[256];    /* current page target (path + query) */
  char next[256];   /* next pageview target */
  char ref[320];    /* referer of the next pageview when it is a landing */
  char ua_buf[320]; /* --realistic: this visitor's own user agent */
  step_t plan[PLAN_MAX];
  uint8_t plan_len, plan_pos;
} sess_t;

/* ------------------------------------------------------------------------ */
/* Generator state.                                                          */

typedef struct {
  int64_t t;
  uint64_t seq; /* FIFO among equal times keeps the order deterministic */
  int32_t id;   /* session index, or -1 for the arrival process */
} event_t;

typedef struct {
  /* options */
  uint64_t lines;
  uint64_t seed;
  int64_t start_day;
  unsigned days;
  const char *site;
  const char *beacon;
  double bad_rate;
  bool stats;
  bool realistic; /* see realistic_* below */
  /* derived */
  char site_url[300]; /* "https://HOST" */
  size_t site_url_len;
  int64_t start_ms, end_ms;
  /* state */
  rng_t rng, bad_rng;
  rng_t real_rng; /* --realistic draws only: the default output is unchanged */
  uint64_t emitted, bot_lines, arrivals, human_visits, bot_visits, pageviews,
      conversions, beacons, malformed;
  sess_t *sess;
  uint32_t nsess, cap_sess;
  uint32_t *free_ids;
  uint32_t nfree;
  event_t *heap;
  uint32_t nheap, cap_heap;
  uint64_t seq;
  double *cum; /* see build_intensity() */
  uint32_t nhours;
} gen_t;

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) {
    fprintf(stderr, PROG ": out of memory\n");
    exit(1);
  }
  return q;
}

static inline bool ev_less(const event_t *a, const event_t *b) {
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(gen_t *g, int64_t t, int32_t id) {
  if (g->nheap == g->cap_heap) {
    g->cap_heap = g->cap_heap ? g->cap_heap * 2 : 1024;
    g->heap = xrealloc(g->heap, g->cap_heap * sizeof *g->heap);
  }
  event_t e = {t, g->seq++, id};
  uint32_t i = g->nheap++;
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (!ev_less(&e, &g->heap[p]))
      break;
    g->heap[i] = g->heap[p];
    i = p;
  }
  g->heap[i] = e;
}

static event_t heap_pop(gen_t *g) {
  event_t top = g->heap[0];
  event_t last = g->heap[--g->nheap];
  uint32_t i = 0, n = g->nheap;
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && ev_less(&g->heap[c + 1], &g->heap[c]))
      c++;
    if (!ev_less(&g->heap[c], &last))
      break;
    g->heap[i] = g->heap[c];
    i = c;
  }
  if (n)
    g->heap[i] = last;
  return top;
}

static uint32_t sess_alloc(gen_t *g) {
  uint32_t id;
  if (g->nfree) {
    id = g->free_ids[--g->nfree];
  } else {
    if (g->nsess == g->cap_sess) {
      g->cap_sess = g->cap_sess ? g->cap_sess * 2 : 256;
      g->sess = xrealloc(g->sess, g->cap_sess * sizeof *g->sess);
      g->free_ids = xrealloc(g->free_ids, g->cap_sess * sizeof *g->free_ids);
    }
    id = g->nsess++;
  }
  sess_t *s = &g->sess[id];
  memset(s, 0, offsetof(sess_t, cur));
  s->cur[0] = s->next[0] = s->ref[0] = '\0';
  s->in_use = true;
  return id;
}

static void sess_free(gen_t *g, uint32_t id) {
  g->sess[id].in_use = false;
  g->free_ids[g->nfree++] = id;
}

/* ------------------------------------------------------------------------ */
/* Emitting one line.                                                        */

static void emit(gen_t *g, const sess_t *s, int64_t t, const char *method,
                 const char *target, const char *proto, unsigned status,
                 int64_t bytes, const char *referer) {
  if (out_pos > OUT_SIZE - LINE_MAX_BYTES)
    out_flush();
  size_t start = out_pos;
  puts_(s->ip);
  put(" - - ", 5);
  put_timestamp(t);
  put(" \"", 2);
  puts_(method);
  putc_(' ');
  puts_(target);
  putc_(' ');
  puts_(proto);
  putc_('"');
  size_t req_end = out_pos;
  putc_(' ');
  put_u(status);
  putc_(' ');
  if (bytes < 0)
    putc_('-'); /* Apache's %b for an empty body */
  else
    put_u((uint64_t)bytes);
  put(" \"", 2);
  puts_(referer);
  put("\" \"", 3);
  puts_(s->ua ? s->ua : s->ua_buf);
  put("\"\n", 2);
  /* A separate stream decides malformed lines so that --bad-rate changes
   * nothing but the truncated lines themselves. The cut falls before the
   * request's closing quote, so no parser can still read a valid prefix. */
  if (g->bad_rate > 0 && rng_chance(&g->bad_rng, g->bad_rate)) {
    size_t cut =
        start + 1 + rng_below(&g->bad_rng, (uint32_t)(req_end - start - 1));
    out_pos = cut;
    putc_('\n');
    g->malformed++;
  }
  g->emitted++;
  if (s->bot)
    g->bot_lines++;
}

/* ------------------------------------------------------------------------ */
/* Visitors.                                                                 */

static void make_ip(rng_t *r, char *ip, bool v6) {
  sb_t b;
  sb_init(&b, ip, 40);
  if (v6) {
    /* Common residential/mobile prefixes; the interface part is random. */
    static const char *const pfx[] = {
        "2a01:cb00:", "2a01:e0a:",  "2001:861:", "2600:1700:",
        "2a02:8440:", "2603:8080:", "2a00:23c7:"};
    static const char hex[] = "0123456789abcdef";
    sb_add(&b, pfx[rng_below(r, ARRAY_LEN(pfx))]);
    for (int grp = 0; grp < 5; grp++) {
      char h[6];
      unsigned v = rng_below(r, 0x10000), n = 0;
      char tmp[4];
      do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
      } while (v);
      for (unsigned i = 0; i < n; i++)
        h[i] = tmp[n - 1 - i];
      h[n] = '\0';
      sb_add(&b, h);
      if (grp < 4)
        sb_add(&b, grp == 0 ? "::" : ":");
    }
    return;
  }
  /* First octets of large consumer ISP allocations, to look real. */
  static const uint8_t first[] = {2,   5,   24,  31,  37,  46,  67,  71,  73,
                                  77,  78,  79,  80,  81,  82,  83,  84,  86,
                                  88,  90,  91,  92,  93,  95,  98,  109, 151,
                                  174, 176, 178, 185, 188, 193, 212, 217};
  sb_u(&b, first[rng_below(r, ARRAY_LEN(first))]);
  sb_add(&b, ".");
  sb_u(&b, rng_below(r, 256));
  sb_add(&b, ".");
  sb_u(&b, rng_below(r, 256));
  sb_add(&b, ".");
  sb_u(&b, rng_range(r, 1, 254));
}

static void bot_ip(rng_t *r, char *ip, unsigned kind) {
  sb_t b;
  sb_init(&b, ip, 40);
  switch (kind) {
  case BOT_GOOGLE:
  case BOT_GOOGLE_MOBILE:
    sb_add(&b, "66.249.");
    sb_u(&b, rng_range(r, 64, 79));
    break;
  case BOT_BING:
    sb_add(&b, rng_chance(r, 0.5) ? "40.77.167" : "157.55.39");
    break;
  case BOT_AHREFS:
    sb_add(&b, rng_chance(r, 0.5) ? "54.36.148" : "5.39.1");
    break;
  case BOT_UPTIME:
    sb_add(&b, rng_chance(r, 0.5) ? "69.162.124" : "216.144.250");
    break;
  default:
    make_ip(r, ip, rng_chance(r, 0.1));
    return;
  }
  sb_add(&b, ".");
  sb_u(&b, rng_range(r, 1, 254));
}

/* ------------------------------------------------------------------------ */
/* Page choice.                                                              */

/* Writes the request target of page pg (with a query for dynamic pages). */
static void page_target(rng_t *r, unsigned pg, char *dst, size_t cap) {
  sb_t b;
  sb_init(&b, dst, cap);
  sb_add(&b, pages[pg].path);
  if (pg == PG_SEARCH) {
    sb_add(&b, "?q=");
    sb_add(&b, search_queries[rng_below(r, ARRAY_LEN(search_queries))]);
  } else if (pg == PG_PRODUCT) {
    sb_add(&b, "?");
    sb_add(&b, product_queries[rng_below(r, ARRAY_LEN(product_queries))]);
  } else if (pg == PG_BLOG && rng_chance(r, 0.15)) {
    sb_add(&b, "?page=");
    sb_u(&b, rng_range(r, 2, 5));
  }
}

static unsigned pick_nav(rng_t *r, unsigned from) {
  unsigned w[PG_COUNT];
  for (unsigned i = 0; i < PG_COUNT; i++)
    w[i] = pages[i].nav;
  w[from] /= 4; /* reloads and self-links happen, but rarely */
  /* Pricing and feature pages are where sign-ups come from. */
  if (from == PG_PRICING)
    w[PG_SIGNUP] *= 4;
  else if (from == PG_FEATURES || from == PG_FEAT_SCROLL ||
           from == PG_FEAT_CAMPAIGNS || from == PG_HOME)
    w[PG_SIGNUP] *= 2;
  if (from >= PG_BLOG && from <= PG_BLOG_KPI)
    w[PG_BLOG_MEASURE] += 30, w[PG_BLOG_UTM] += 30, w[PG_BLOG_KPI] += 20;
  if (from >= PG_DOCS && from <= PG_DOCS_VIEWS)
    w[PG_DOCS_START] += 40, w[PG_DOCS_CONFIG] += 40, w[PG_DOCS_VIEWS] += 20;
  if (from == PG_SIGNUP)
    w[PG_PRICING] += 60, w[PG_LOGIN] += 30;
  return rng_weighted(r, w, PG_COUNT);
}

/* ------------------------------------------------------------------------ */
/* --realistic: the mix of a busier, more varied site.  The default output
 * has 29 user agents and ~55k visits per 1M lines, which understates every
 * per-visit and per-visitor cost; this mode gives each visitor one of
 * thousands of user agents, serves the static assets from a CDN (so the
 * access log holds mostly pages and beacons: ~140k visits per 1M lines),
 * and spreads landings, referrers and campaigns over long tails.  Its draws
 * come from their own stream (real_rng), or replace a default draw only
 * when the option is on, so the output without it stays byte-identical. */

/* A skewed pick in [0, n): nested uniform draws, so a few values are common
 * and most are rare (a long tail, like user agents or blog posts). */
static unsigned real_tail(gen_t *g, unsigned n) {
  rng_t *r = &g->real_rng;
  return rng_below(r, 1 + rng_below(r, 1 + rng_below(r, n)));
}

#define REAL_UA_POOL 8000

/* Fills s->ua_buf with user agent number k of the pool for device class dev
 * (0 desktop, 1 mobile, 2 tablet): the same k always gives the same string,
 * so a pool entry is one browser build on one device model. */
static void real_ua(gen_t *g, sess_t *s, unsigned dev) {
  static const char *const phones[] = {
      "SM-S918B", "SM-A546B", "SM-G991B",  "SM-A146P", "SM-S911U",
      "Pixel 7",  "Pixel 8",  "Pixel 8a",  "Pixel 9",  "2201117TG",
      "M2101K6G", "CPH2449",  "RMX3630",   "V2227A",   "moto g84 5G",
      "XQ-DQ72",  "A063",     "22111317G", "SM-A256B", "NE2213"};
  static const char *const tabs[] = {"SM-X710",        "SM-X210",
                                     "SM-T870",        "Lenovo TB-X606F",
                                     "Lenovo TB328FU", "2209129SC"};
  rng_t k;
  rng_seed(&k, real_tail(g, REAL_UA_POOL), 3 + dev);
  unsigned chrome = rng_range(&k, 128, 143), build = rng_range(&k, 6500, 7500),
           patch = rng_range(&k, 0, 250), ios = rng_range(&k, 16, 18),
           ios_minor = rng_range(&k, 0, 7), android = rng_range(&k, 10, 15),
           tmpl = rng_below(&k, 4);
  char *b = s->ua_buf;
  size_t cap = sizeof s->ua_buf;
  if (dev == 0 && tmpl == 0)
    snprintf(b, cap,
             "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Chrome/%u.0.%u.%u Safari/537.36",
             chrome, build, patch);
  else if (dev == 0 && tmpl == 1)
    snprintf(b, cap,
             "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
             "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%u.0.%u.%u "
             "Safari/537.36",
             chrome, build, patch);
  else if (dev == 0 && tmpl == 2)
    snprintf(b, cap,
             "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:%u.0) "
             "Gecko/20100101 Firefox/%u.0.%u",
             chrome, chrome, patch % 4);
  else if (dev == 0)
    snprintf(b, cap,
             "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Chrome/%u.0.0.0 Safari/537.36 "
             "Edg/%u.0.%u.%u",
             chrome, chrome, build - 3000, patch);
  else if (dev == 1 && tmpl <= 1)
    snprintf(b, cap,
             "Mozilla/5.0 (Linux; Android %u; %s) AppleWebKit/537.36 (KHTML, "
             "like Gecko) Chrome/%u.0.%u.%u Mobile Safari/537.36",
             android, phones[rng_below(&k, ARRAY_LEN(phones))], chrome, build,
             patch);
  else if (dev == 1 && tmpl == 2)
    snprintf(b, cap,
             "Mozilla/5.0 (iPhone; CPU iPhone OS %u_%u like Mac OS X) "
             "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%u.%u "
             "Mobile/15E148 Safari/604.1",
             ios, ios_minor, ios, ios_minor);
  else if (dev == 1)
    snprintf(b, cap,
             "Mozilla/5.0 (iPhone; CPU iPhone OS %u_%u like Mac OS X) "
             "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
             "Instagram %u.0.0.%u.%u (iPhone%u,%u; iOS %u_%u; fr_FR; fr; "
             "scale=3.00; 1179x2556; %u)",
             ios, ios_minor, 300 + patch % 60, build % 40, patch, 12 + ios % 5,
             1 + patch % 4, ios, ios_minor, 500000000 + build * 1000 + patch);
  else if (tmpl <= 1)
    snprintf(b, cap,
             "Mozilla/5.0 (iPad; CPU OS %u_%u like Mac OS X) "
             "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%u.%u "
             "Mobile/15E148 Safari/604.1",
             ios, ios_minor, ios, ios_minor);
  else
    snprintf(b, cap,
             "Mozilla/5.0 (Linux; Android %u; %s) AppleWebKit/537.36 (KHTML, "
             "like Gecko) Chrome/%u.0.%u.%u Safari/537.36",
             android, tabs[rng_below(&k, ARRAY_LEN(tabs))], chrome, build,
             patch);
  s->ua = NULL; /* emit() reads ua_buf: sessions move when they grow */
}

/* Static assets come from a CDN: most never reach this access log. */
static bool real_cdn(gen_t *g) {
  return g->realistic && rng_chance(&g->real_rng, 0.9);
}

/* A landing on one of a long tail of articles and docs pages instead of the
 * page drawn (which keeps its role for navigation and hero images). */
static void real_landing_path(gen_t *g, sess_t *s, unsigned pg) {
  static const char *const topics[] = {"analytics", "utm",      "kpi",
                                       "privacy",   "campaign", "scroll",
                                       "seo",       "nginx",    "sql"};
  if (!g->realistic || rng_chance(&g->real_rng, 0.35))
    return;
  unsigned n = real_tail(g, 2500);
  if (pg >= PG_BLOG_MEASURE && pg <= PG_BLOG_KPI)
    snprintf(s->next, sizeof s->next, "/blog/%s-notes-%u",
             topics[n % ARRAY_LEN(topics)], n);
  else if (pg >= PG_DOCS_START && pg <= PG_DOCS_VIEWS)
    snprintf(s->next, sizeof s->next, "/docs/reference/%s-%u",
             topics[n % ARRAY_LEN(topics)], n % 300);
}

/* A campaign name among many (weekly newsletters, ad groups, launches)
 * instead of dflt. */
static const char *real_campaign(gen_t *g, const char *kind, const char *dflt,
                                 char *buf, size_t cap) {
  if (!g->realistic)
    return dflt;
  unsigned n = real_tail(g, 120);
  snprintf(buf, cap, "%s-%s-%u", kind, dflt, n);
  return buf;
}

/* ------------------------------------------------------------------------ */
/* Landings: referer and tagged URL of a visit's first pageview.             */

enum {
  CH_DIRECT,
  CH_GOOGLE,
  CH_BING,
  CH_DDG,
  CH_FACEBOOK,
  CH_TCO,
  CH_LINKEDIN,
  CH_REDDIT,
  CH_WEBMAIL,
  CH_REFERRAL,
  CH_UTM_NEWSLETTER,
  CH_UTM_CPC,
  CH_GCLID,
  CH_MSCLKID,
  CH_UTM_SOCIAL,
  CH_UTM_OTHER,
  CH_COUNT
};

static const unsigned channel_weight[CH_COUNT] = {
    [CH_DIRECT] = 24,   [CH_GOOGLE] = 22,        [CH_BING] = 4,
    [CH_DDG] = 3,       [CH_FACEBOOK] = 4,       [CH_TCO] = 2,
    [CH_LINKEDIN] = 2,  [CH_REDDIT] = 1,         [CH_WEBMAIL] = 2,
    [CH_REFERRAL] = 7,  [CH_UTM_NEWSLETTER] = 8, [CH_UTM_CPC] = 4,
    [CH_GCLID] = 3,     [CH_MSCLKID] = 1,        [CH_UTM_SOCIAL] = 4,
    [CH_UTM_OTHER] = 2,
};

static const char *const referral_sites[] = {
    "https://news.ycombinator.com/",
    "https://github.com/boussole-analytics/boussole",
    "https://stackoverflow.com/questions/48213477/measure-scroll-depth",
    "https://blog.example.org/2026/10/tools-we-use",
    "https://dev.to/mlefevre/self-hosted-analytics-in-2026-3k2j",
    "https://www.producthunt.com/products/boussole",
    "https://alternativeto.net/software/google-analytics/",
    "http://old-partner.example.net/links.html",
};

static const char *const newsletter_campaigns[] = {
    "2026-11-weekly-digest", "black-friday-2026", "onboarding-day-3",
    "Black+Friday+2026", "product%20update%20november"};

static const char *const b64url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
static const char *const alnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static unsigned pick_of(rng_t *r, const unsigned *pg, unsigned n) {
  return pg[rng_below(r, n)];
}

/* Fills s->ref, s->next and s->next_page for a visit's landing. */
static void make_landing(gen_t *g, sess_t *s, bool returning) {
  rng_t *r = &g->rng;
  char camp[96];
  static const unsigned search_pages[] = {
      PG_HOME,        PG_HOME,     PG_BLOG_MEASURE, PG_BLOG_UTM,
      PG_BLOG_CAFE,   PG_BLOG_KPI, PG_DOCS_START,   PG_DOCS_INSTALL,
      PG_DOCS_CONFIG, PG_FEATURES, PG_PRICING,      PG_FEAT_SCROLL};
  static const unsigned direct_pages[] = {
      PG_HOME, PG_HOME,  PG_HOME,  PG_HOME,        PG_PRICING,
      PG_DOCS, PG_LOGIN, PG_LOGIN, PG_DOCS_CONFIG, PG_BLOG};
  static const unsigned social_pages[] = {PG_BLOG_MEASURE, PG_BLOG_UTM,
                                          PG_BLOG_KPI,     PG_BLOG_CAFE,
                                          PG_HOME,         PG_FEATURES};
  static const unsigned campaign_pages[] = {
      PG_PRICING,        PG_PRICING, PG_HOME,  PG_FEATURES,
      PG_FEAT_CAMPAIGNS, PG_PRODUCT, PG_SIGNUP};
  static const unsigned news_pages[] = {
      PG_BLOG_MEASURE, PG_BLOG_KPI, PG_PRICING, PG_FEATURES, PG_FEAT_SCROLL};
  unsigned ch = returning ? (rng_chance(r, 0.7) ? CH_DIRECT : CH_GOOGLE)
                          : rng_weighted(r, channel_weight, CH_COUNT);
  sb_t ref;
  sb_init(&ref, s->ref, sizeof s->ref);
  unsigned pg;
  const char *utm = NULL; /* fixed tag string */
  char tag[200];
  sb_t tb;
  sb_init(&tb, tag, sizeof tag);
  switch (ch) {
  case CH_DIRECT:
    sb_add(&ref, "-");
    pg = pick_of(r, direct_pages, ARRAY_LEN(direct_pages));
    break;
  case CH_GOOGLE:
    sb_add(&ref, rng_chance(r, 0.85) ? "https://www.google.com/"
                                     : "https://www.google.fr/");
    pg = pick_of(r, search_pages, ARRAY_LEN(search_pages));
    break;
  case CH_BING:
    sb_add(&ref, "https://www.bing.com/");
    pg = pick_of(r, search_pages, ARRAY_LEN(search_pages));
    break;
  case CH_DDG:
    sb_add(&ref, "https://duckduckgo.com/");
    pg = pick_of(r, search_pages, ARRAY_LEN(search_pages));
    break;
  case CH_FACEBOOK:
    sb_add(&ref, rng_chance(r, 0.5) ? "https://l.facebook.com/"
                                    : "https://m.facebook.com/");
    pg = pick_of(r, social_pages, ARRAY_LEN(social_pages));
    break;
  case CH_TCO:
    sb_add(&ref, "https://t.co/");
    sb_rand(&ref, r, alnum, 10);
    pg = pick_of(r, social_pages, ARRAY_LEN(social_pages));
    break;
  case CH_LINKEDIN:
    sb_add(&ref, rng_chance(r, 0.7) ? "https://www.linkedin.com/"
                                    : "https://lnkd.in/");
    pg = pick_of(r, social_pages, ARRAY_LEN(social_pages));
    break;
  case CH_REDDIT:
    sb_add(&ref, "https://www.reddit.com/r/analytics/comments/1gq2x7k/");
    pg = pick_of(r, social_pages, ARRAY_LEN(social_pages));
    break;
  case CH_WEBMAIL:
    sb_add(&ref, rng_chance(r, 0.7) ? "https://mail.google.com/"
                                    : "https://outlook.live.com/");
    pg = pick_of(r, news_pages, ARRAY_LEN(news_pages));
    break;
  case CH_REFERRAL:
    sb_add(&ref, referral_sites[rng_below(r, ARRAY_LEN(referral_sites))]);
    if (g->realistic && rng_chance(&g->real_rng, 0.6)) {
      ref.len = 0; /* a long tail of blogs and forums linking here */
      sb_add(&ref, "https://blog");
      sb_u(&ref, real_tail(g, 3000));
      sb_add(&ref, ".example.net/");
    }
    pg = pick_of(r, search_pages, ARRAY_LEN(search_pages));
    break;
  case CH_UTM_NEWSLETTER:
    sb_add(&ref, rng_chance(r, 0.6) ? "-" : "https://mail.google.com/");
    pg = pick_of(r, news_pages, ARRAY_LEN(news_pages));
    sb_add(&tb, rng_chance(r, 0.9) ? "utm_source=newsletter&utm_medium=email"
                                   : "utm_source=Newsletter&utm_medium=Email");
    sb_add(&tb, "&utm_campaign=");
    sb_add(
        &tb,
        real_campaign(
            g, "nl",
            newsletter_campaigns[rng_below(r, ARRAY_LEN(newsletter_campaigns))],
            camp, sizeof camp));
    break;
  case CH_UTM_CPC:
    sb_add(&ref, "https://www.google.com/");
    pg = pick_of(r, campaign_pages, ARRAY_LEN(campaign_pages));
    sb_add(&tb, "utm_source=google&utm_medium=cpc&utm_campaign=");
    sb_add(&tb, real_campaign(g, "ads",
                              rng_chance(r, 0.6) ? "brand-search"
                                                 : "competitor-terms",
                              camp, sizeof camp));
    sb_add(&tb, "&gclid=Cj0KCQiA");
    sb_rand(&tb, r, b64url, 48);
    break;
  case CH_GCLID:
    sb_add(&ref, "https://www.google.com/");
    pg = pick_of(r, campaign_pages, ARRAY_LEN(campaign_pages));
    sb_add(&tb, "gclid=EAIaIQob");
    sb_rand(&tb, r, b64url, 52);
    break;
  case CH_MSCLKID:
    sb_add(&ref, "https://www.bing.com/");
    pg = pick_of(r, campaign_pages, ARRAY_LEN(campaign_pages));
    sb_add(&tb, "msclkid=");
    sb_rand(&tb, r, "0123456789abcdef", 32);
    break;
  case CH_UTM_SOCIAL: {
    static const char *const nets[][2] = {
        {"facebook", "https://l.facebook.com/"},
        {"linkedin", "https://www.linkedin.com/"},
        {"twitter", "https://t.co/"},
        {"instagram", "https://l.instagram.com/"}};
    unsigned n = rng_below(r, ARRAY_LEN(nets));
    sb_add(&ref, nets[n][1]);
    if (n == 2)
      sb_rand(&ref, r, alnum, 10);
    pg = pick_of(r, social_pages, ARRAY_LEN(social_pages));
    sb_add(&tb, "utm_source=");
    sb_add(&tb, nets[n][0]);
    sb_add(&tb, rng_chance(r, 0.85) ? "&utm_medium=social"
                                    : "&utm_medium=social-media");
    sb_add(&tb, "&utm_campaign=");
    sb_add(&tb, real_campaign(g, "social", "launch-week", camp, sizeof camp));
    break;
  }
  default: /* CH_UTM_OTHER: partner links, QR codes on print */
    if (rng_chance(r, 0.5)) {
      sb_add(&ref, "https://partner-blog.example.com/review");
      utm = "utm_source=partner-blog&utm_campaign=black%20friday";
    } else {
      sb_add(&ref, "-");
      utm = "utm_source=flyer&utm_medium=qr&utm_campaign=salon-2026";
    }
    pg = pick_of(r, campaign_pages, ARRAY_LEN(campaign_pages));
    sb_add(&tb, utm);
    break;
  }
  s->next_page = (uint8_t)pg;
  page_target(r, pg, s->next, sizeof s->next);
  real_landing_path(g, s, pg);
  if (tb.len) {
    sb_t nb = {s->next, strlen(s->next), sizeof s->next};
    sb_add(&nb, strchr(s->next, '?') ? "&" : "?");
    sb_add(&nb, tag);
  }
}

/* ------------------------------------------------------------------------ */
/* Scheduling.                                                               */

static const unsigned hour_weight[24] = {25,  18,  14,  12,  12,  16,  30,  55,
                                         85,  110, 125, 130, 125, 130, 140, 145,
                                         140, 130, 120, 115, 110, 95,  70,  45};

/* Relative traffic intensity during the hour starting at hour index h since
 * the epoch: busy afternoons, quiet nights, calmer weekends. */
static double hour_intensity(int64_t h) {
  double f = hour_weight[h % 24] / 87.0;
  unsigned wday = (unsigned)((h / 24 + 4) % 7); /* 1970-01-01: a Thursday */
  if (wday == 0 || wday == 6)
    f *= 0.7;
  return f;
}

/* Precomputes the running integral of the intensity over the span, one entry
 * per hour, so each arrival knows how much "traffic time" is left. */
static void build_intensity(gen_t *g) {
  g->nhours = (uint32_t)g->days * 24;
  g->cum = xrealloc(NULL, (g->nhours + 1) * sizeof *g->cum);
  g->cum[0] = 0.0;
  int64_t h0 = g->start_ms / 3600000;
  for (uint32_t i = 0; i < g->nhours; i++)
    g->cum[i + 1] = g->cum[i] + hour_intensity(h0 + i) * 3600000.0;
}

/* Next visit start: an inhomogeneous Poisson process whose rate is set at
 * each arrival from the lines still to write and the weighted time left, so
 * any -n fills --days with a daily rhythm and ends near the last midnight. */
static int64_t next_arrival(gen_t *g, int64_t now) {
  int64_t h = now / 3600000;
  double f = hour_intensity(h);
  double left = 0.0;
  int64_t i = h - g->start_ms / 3600000;
  if (i >= 0 && i < (int64_t)g->nhours) {
    double into = (double)(now - h * 3600000);
    left = g->cum[g->nhours] - g->cum[i] - into * f;
  }
  if (left < 600000.0 * f)
    left = 600000.0 * f; /* past the end: keep a sane pace */
  uint64_t remaining = g->lines > g->emitted ? g->lines - g->emitted : 1;
  /* lines per arrival, learnt from what has been written so far */
  double per = ((double)g->emitted + 12.0 * 50) / ((double)g->arrivals + 50);
  /* Visits in progress are not subtracted: they make the output reach
   * LINES a little before the end rather than trail past it. */
  double mean_gap = left * per / (double)remaining / f;
  return now + 1 + (int64_t)rng_exp(&g->rng, mean_gap);
}

static void plan_add(sess_t *s, int64_t t, unsigned kind, unsigned arg,
                     unsigned status) {
  if (s->plan_len < PLAN_MAX)
    s->plan[s->plan_len++] =
        (step_t){t, (uint8_t)kind, (uint8_t)arg, (uint16_t)status};
}

/* Plans the lines caused by the pageview just written at time t: assets,
 * beacons, then the next pageview (or nothing: the visit ends). */
static void plan_after_page(gen_t *g, sess_t *s, int64_t t, unsigned status) {
  rng_t *r = &g->rng;
  s->plan_len = s->plan_pos = 0;
  unsigned pg = s->page;
  bool ok = status == 200 || status == 304;
  int64_t at = t;

  /* Static assets, fetched within the first second or two. A first view
   * loads them all (200), a page view in the same visit mostly hits the
   * browser cache (no request) or revalidates (304). */
  if (status != 500) {
    bool cold = s->pv_done == 1;
    bool revisit = s->returns > 0;
    static const unsigned cold_set[] = {AS_CSS,       AS_APPJS,  AS_VENDORJS,
                                        AS_TAGJS,     AS_LOGO,   AS_FONT,
                                        AS_FONT_BOLD, AS_FAVICON};
    if (cold) {
      for (unsigned i = 0; i < ARRAY_LEN(cold_set); i++) {
        unsigned a = cold_set[i];
        if (a == AS_VENDORJS && rng_chance(r, 0.3))
          continue;
        if (a == AS_TAGJS && !s->js)
          continue;
        if (a == AS_FONT_BOLD && rng_chance(r, 0.5))
          continue;
        if (a == AS_FAVICON && rng_chance(r, 0.4))
          continue;
        at += rng_range(r, 20, 400);
        unsigned st =
            revisit && a != AS_TAGJS && rng_chance(r, 0.8) ? 304 : 200;
        if (!real_cdn(g))
          plan_add(s, at, ST_STATIC, a, st);
      }
    } else if (rng_chance(r, 0.35)) {
      at += rng_range(r, 20, 400);
      unsigned a = rng_chance(r, 0.5) ? AS_CSS : AS_APPJS;
      if (!real_cdn(g))
        plan_add(s, at, ST_STATIC, a, 304);
    }
    if (ok && pages[pg].hero && rng_chance(r, cold ? 0.9 : 0.5)) {
      at += rng_range(r, 50, 900);
      if (!real_cdn(g))
        plan_add(s, at, ST_STATIC, AS_HERO, revisit ? 304 : 200);
    }
    if (ok && rng_chance(r, 0.01)) {
      at += rng_range(r, 20, 300);
      plan_add(s, at, ST_STATIC, AS_BROKEN, 404);
    }
  }

  /* Decide what comes next. */
  bool convert = pg == PG_SIGNUP && status == 200 && rng_chance(r, 0.3);
  bool more = s->pv_done < s->pv_max || (convert && s->pv_done < 10);
  if (pg == PG_THANKYOU)
    more = s->pv_done < 10 && rng_chance(r, 0.3);
  if (status >= 400 && s->pv_done < 10 && rng_chance(r, 0.6))
    more = true; /* people go back after an error page */

  /* Time on page: mostly tens of seconds, sometimes long reads. */
  double dwell_s = 2.0 + rng_exp(r, 40.0);
  if (rng_chance(r, 0.08))
    dwell_s = 120.0 + rng_unit(r) * 1200.0;
  if (convert)
    dwell_s = 20.0 + rng_unit(r) * 130.0; /* filling in the form */
  if (dwell_s > 1500.0)
    dwell_s = 1500.0; /* < session_timeout: the visit goes on */
  int64_t dwell = (int64_t)(dwell_s * 1000.0);
  int64_t next_t = t + dwell;
  if (next_t <= at + 1000)
    next_t = at + 1000 + rng_range(r, 0, 2000);

  unsigned next_pg = PG_HOME;
  if (more && !convert) {
    next_pg = pick_nav(r, pg);
    s->next_status = 200;
    if (rng_chance(r, 0.015)) {
      /* a stale link */
      snprintf(s->next, sizeof s->next, "%s",
               broken_paths[rng_below(r, ARRAY_LEN(broken_paths))]);
      s->next_status = 404;
    } else {
      page_target(r, next_pg, s->next, sizeof s->next);
      if ((s->seen >> next_pg & 1) && rng_chance(r, 0.25))
        s->next_status = 304;
      else if (rng_chance(r, next_pg == PG_SEARCH ? 0.01 : 0.001))
        s->next_status = 500;
    }
    s->next_page = (uint8_t)next_pg;
  }

  /* Beacons from the tag: scroll thresholds as the reader goes down the
   * page, and a click on the sign-up button before going to /signup. */
  if (s->js && ok) {
    static const unsigned depth_w[5] = {22, 20, 20, 18, 20};
    unsigned levels = rng_weighted(r, depth_w, 5);
    if (dwell_s < 8.0 && levels > 1)
      levels = 1; /* a glance does not reach the bottom */
    int64_t span = next_t - at;
    for (unsigned k = 1; k <= levels; k++)
      plan_add(s, at + span * k / (levels + 2), ST_SCROLL, 25 * k, 204);
    if (more && !convert && next_pg == PG_SIGNUP && rng_chance(r, 0.8))
      plan_add(s, next_t - rng_range(r, 150, 900), ST_CLICK, 0, 204);
    else if (rng_chance(r, 0.05))
      plan_add(s, at + span * 3 / 4, ST_CLICK,
               rng_range(r, 1, ARRAY_LEN(click_targets) - 1), 204);
  }

  if (more) {
    if (convert) {
      plan_add(s, next_t, ST_POST, 0, 302);
      s->next_page = PG_THANKYOU;
      s->next_status = 200;
      snprintf(s->next, sizeof s->next, "%s", pages[PG_THANKYOU].path);
      next_t += rng_range(r, 150, 900);
    }
    plan_add(s, next_t, ST_PAGE, 0, s->next_status);
  } else if (!s->bot && s->returns < (g->realistic ? 4 : 2) &&
             rng_chance(r, g->realistic ? 0.3 : 0.12)) {
    /* Comes back later today, after the session timeout. */
    int64_t back = next_t + (int64_t)rng_range(r, 31 * 60, 240 * 60) * 1000;
    if (back / 86400000 == t / 86400000)
      plan_add(s, back, ST_RETURN, 0, 0);
  }

  /* Assets, beacons and click were appended in roughly increasing time;
   * an insertion sort makes it exact (stable, so ties keep their order). */
  for (unsigned i = 1; i < s->plan_len; i++) {
    step_t x = s->plan[i];
    unsigned j = i;
    while (j > 0 && s->plan[j - 1].t > x.t) {
      s->plan[j] = s->plan[j - 1];
      j--;
    }
    s->plan[j] = x;
  }
}

static void start_human_visit(gen_t *g, sess_t *s, bool returning) {
  rng_t *r = &g->rng;
  /* 1-10 pageviews: about 40% bounce, a long tail of engaged readers. */
  unsigned n = 1;
  while (n < 10 && rng_chance(r, g->realistic ? 0.5 : 0.62))
    n++;
  s->pv_max = (uint8_t)n;
  s->pv_done = 0;
  make_landing(g, s, returning);
  s->next_status =
      (s->seen >> s->next_page & 1) && rng_chance(r, 0.3) ? 304 : 200;
  if (rng_chance(r, 0.004)) {
    snprintf(s->next, sizeof s->next, "%s",
             broken_paths[rng_below(r, ARRAY_LEN(broken_paths))]);
    s->next_status = 404;
  }
  g->human_visits++;
}

static void new_human(gen_t *g, sess_t *s) {
  rng_t *r = &g->rng;
  static const unsigned dev_w[3] = {50, 42, 8};
  unsigned dev = rng_weighted(r, dev_w, 3);
  if (dev == 0)
    s->ua = ua_desktop[rng_below(r, ARRAY_LEN(ua_desktop))];
  else if (dev == 1)
    s->ua = ua_mobile[rng_below(r, ARRAY_LEN(ua_mobile))];
  else
    s->ua = ua_tablet[rng_below(r, ARRAY_LEN(ua_tablet))];
  if (g->realistic)
    real_ua(g, s, dev);
  make_ip(r, s->ip, rng_chance(r, 0.12));
  s->proto = rng_chance(r, 0.7) ? "HTTP/2.0" : "HTTP/1.1";
  s->js = rng_chance(r, 0.95); /* blockers and no-JS readers send no beacon */
  start_human_visit(g, s, false);
}

static void new_bot(gen_t *g, sess_t *s) {
  rng_t *r = &g->rng;
  unsigned k = rng_weighted(r, bot_weight, BOT_COUNT);
  s->bot = true;
  s->bot_kind = (uint8_t)k;
  s->ua = ua_bot[k];
  s->proto = k == BOT_EMPTY ? "HTTP/1.0" : "HTTP/1.1";
  bot_ip(r, s->ip, k);
  switch (k) {
  case BOT_GOOGLE:
  case BOT_GOOGLE_MOBILE:
  case BOT_BING:
  case BOT_AHREFS:
    s->pv_max = (uint8_t)rng_range(r, 1, 25);
    break;
  case BOT_PYTHON:
    s->pv_max = (uint8_t)rng_range(r, 1, 8);
    break;
  case BOT_EMPTY:
    s->pv_max = (uint8_t)rng_range(r, 1, 3);
    break;
  default:
    s->pv_max = 1;
    break;
  }
  g->bot_visits++;
}

/* One bot request. */
static void bot_step(gen_t *g, uint32_t id, int64_t t) {
  rng_t *r = &g->rng;
  sess_t *s = &g->sess[id];
  char target[256];
  const char *method = "GET";
  unsigned status = 200;
  int64_t bytes;
  unsigned k = s->bot_kind;
  int64_t gap = 0;
  if (k == BOT_UPTIME) {
    method = "HEAD";
    snprintf(target, sizeof target, "/");
    bytes = 0;
  } else if (k == BOT_CURL) {
    if (rng_chance(r, 0.4))
      method = "HEAD";
    unsigned pg = rng_chance(r, 0.7) ? PG_HOME : PG_PRICING;
    page_target(r, pg, target, sizeof target);
    bytes = *method == 'H' ? 0 : pages[pg].size + rng_below(r, 200);
  } else if (k == BOT_PYTHON || k == BOT_EMPTY) {
    if (k == BOT_EMPTY && s->pv_done == 0) {
      snprintf(target, sizeof target, "/");
      bytes = pages[PG_HOME].size;
    } else {
      snprintf(target, sizeof target, "%s",
               scanner_paths[rng_below(r, ARRAY_LEN(scanner_paths))]);
      status = 404;
      bytes = 153;
    }
    gap = rng_range(r, 100, 1500);
  } else {
    /* Crawlers: robots.txt first, then sitemap and pages. */
    gap = k == BOT_AHREFS ? rng_range(r, 300, 4000) : rng_range(r, 1000, 45000);
    if (s->pv_done == 0 && rng_chance(r, 0.6)) {
      snprintf(target, sizeof target, "/robots.txt");
      bytes = 68;
    } else if (rng_chance(r, 0.08)) {
      snprintf(target, sizeof target, "/sitemap.xml");
      bytes = 2317;
    } else if (rng_chance(r, 0.04)) {
      snprintf(target, sizeof target, "%s",
               broken_paths[rng_below(r, ARRAY_LEN(broken_paths))]);
      status = 404;
      bytes = 1240;
    } else if (rng_chance(r, 0.03)) {
      snprintf(target, sizeof target, "/blog");
      status = 301; /* canonical trailing slash */
      bytes = 169;
    } else if (k != BOT_AHREFS && rng_chance(r, 0.06)) {
      unsigned a = rng_chance(r, 0.5) ? AS_CSS : AS_APPJS;
      snprintf(target, sizeof target, "%s", assets[a].path);
      bytes = assets[a].size;
    } else {
      unsigned pg = rng_below(r, PG_COUNT);
      page_target(r, pg, target, sizeof target);
      bytes = pages[pg].size + rng_below(r, 200);
      if (rng_chance(r, 0.1)) {
        status = 304;
        bytes = -1;
      }
    }
  }
  emit(g, s, t, method, target, s->proto, status, bytes, "-");
  s->pv_done++;
  if (s->pv_done < s->pv_max)
    heap_push(g, t + gap, (int32_t)id);
  else
    sess_free(g, id);
}

/* Writes "https://HOST" + target into dst. */
static void site_ref(const gen_t *g, const char *target, char *dst,
                     size_t cap) {
  sb_t b;
  sb_init(&b, dst, cap);
  sb_add(&b, g->site_url);
  sb_add(&b, target);
}

/* Beacon parameter p: the page path without its query, encoded like the
 * tag's encodeURIComponent(location.pathname) except that '/' is kept, so
 * that decoding p once gives back the path exactly as it was logged. */
static void beacon_path_param(const char *target, sb_t *b) {
  char tmp[300];
  size_t n = 0;
  for (const char *p = target; *p && *p != '?' && n < sizeof tmp - 4; p++) {
    if (*p == '%') {
      memcpy(tmp + n, "%25", 3);
      n += 3;
    } else {
      tmp[n++] = *p;
    }
  }
  tmp[n] = '\0';
  sb_add(b, tmp);
}

/* One human step: the next line of the session's plan. */
static void human_step(gen_t *g, uint32_t id, int64_t t) {
  rng_t *r = &g->rng;
  sess_t *s = &g->sess[id];
  step_t st = s->plan[s->plan_pos++];
  char target[400], referer[400];
  sb_t tb;
  switch (st.kind) {
  case ST_PAGE: {
    if (s->pv_done == 0) {
      snprintf(referer, sizeof referer, "%s", s->ref);
    } else {
      site_ref(g, s->cur, referer, sizeof referer);
    }
    memcpy(s->cur, s->next, sizeof s->cur);
    s->page = s->next_page;
    s->pv_done++;
    unsigned status = st.status;
    int64_t bytes = 581; /* the 500 error page */
    if (status == 200)
      bytes = (int64_t)pages[s->page].size + rng_below(r, 400);
    else if (status == 304)
      bytes = -1;
    else if (status == 404)
      bytes = 3120;
    emit(g, s, t, "GET", s->cur, s->proto, status, bytes, referer);
    if (status == 200 || status == 304) {
      s->seen |= 1u << s->page;
      g->pageviews++;
      if (s->page == PG_THANKYOU)
        g->conversions++;
    }
    plan_after_page(g, s, t, status);
    break;
  }
  case ST_STATIC: {
    site_ref(g, s->cur, referer, sizeof referer);
    int64_t bytes = st.status == 304 ? -1 : (int64_t)assets[st.arg].size;
    if (st.arg == AS_HERO) {
      /* page-specific image named after the page's last path segment */
      sb_init(&tb, target, sizeof target);
      sb_add(&tb, assets[AS_HERO].path);
      const char *p = pages[s->page].path;
      const char *slash = strrchr(p, '/');
      sb_add(&tb, slash && slash[1] ? slash + 1 : "home");
      sb_add(&tb, "-1200.png");
      if (bytes >= 0)
        bytes = 80000 + (int64_t)(s->page * 7919u % 90000u);
    } else if (st.arg == AS_BROKEN) {
      snprintf(target, sizeof target, "%s", assets[AS_BROKEN].path);
      bytes = 3120;
    } else {
      snprintf(target, sizeof target, "%s", assets[st.arg].path);
    }
    emit(g, s, t, "GET", target, s->proto, st.status, bytes, referer);
    break;
  }
  case ST_SCROLL:
  case ST_CLICK:
    site_ref(g, s->cur, referer, sizeof referer);
    sb_init(&tb, target, sizeof target);
    sb_add(&tb, g->beacon);
    sb_add(&tb, st.kind == ST_SCROLL ? "?e=scroll&p=" : "?e=click&p=");
    beacon_path_param(s->cur, &tb);
    if (st.kind == ST_SCROLL) {
      sb_add(&tb, "&d=");
      sb_u(&tb, st.arg);
    } else {
      sb_add(&tb, "&t=");
      sb_add(&tb, click_targets[st.arg]);
    }
    emit(g, s, t, "GET", target, s->proto, 204, 0, referer);
    g->beacons++;
    break;
  case ST_POST:
    site_ref(g, s->cur, referer, sizeof referer);
    emit(g, s, t, "POST", s->cur, s->proto, 302, 0, referer);
    break;
  case ST_RETURN:
    s->returns++;
    start_human_visit(g, s, true);
    s->plan_len = s->plan_pos = 0;
    plan_add(s, t, ST_PAGE, 0, s->next_status);
    heap_push(g, t, (int32_t)id);
    return;
  }
  if (s->plan_pos < s->plan_len)
    heap_push(g, s->plan[s->plan_pos].t, (int32_t)id);
  else
    sess_free(g, id);
}

/* A new visit arrives: a bot about 15% of the lines, a human otherwise. */
static void arrival(gen_t *g, int64_t t) {
  uint32_t id = sess_alloc(g);
  sess_t *s = &g->sess[id];
  /* Bot visits are short, so steer by the observed line share rather than
   * a fixed visit share; the mix settles near 15% of the lines. */
  double share = g->emitted ? (double)g->bot_lines / (double)g->emitted : 0;
  bool bot = rng_chance(&g->rng, share < 0.15 ? 0.55 : 0.2);
  if (bot) {
    new_bot(g, s);
  } else {
    new_human(g, s);
    s->plan_len = s->plan_pos = 0;
    plan_add(s, t, ST_PAGE, 0, s->next_status);
  }
  g->arrivals++;
  heap_push(g, t, (int32_t)id);
}

static void run(gen_t *g) {
  heap_push(g, g->start_ms + rng_below(&g->rng, 20000), -1);
  while (g->emitted < g->lines) {
    event_t e = heap_pop(g);
    if (e.id < 0) {
      arrival(g, e.t);
      heap_push(g, next_arrival(g, e.t), -1);
    } else if (g->sess[e.id].bot) {
      bot_step(g, (uint32_t)e.id, e.t);
    } else {
      human_step(g, (uint32_t)e.id, e.t);
    }
  }
  out_flush();
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, PROG ": write error on stdout: %s\n", strerror(errno));
    exit(1);
  }
}

/* ------------------------------------------------------------------------ */
/* Command line.                                                             */

static void usage(FILE *f) {
  fputs(
      "usage: " PROG " [-n LINES] [-s SEED] [--start YYYY-MM-DD] [--days D]\n"
      "                      [--site HOST] [--beacon-path PATH] "
      "[--bad-rate R] [--realistic] [--stats]\n"
      "\n"
      "Writes a synthetic, deterministic access log in the combined format\n"
      "to stdout: the same arguments always give the same bytes.\n"
      "\n"
      "  -n LINES            number of lines to write (default 100000)\n"
      "  -s SEED             random seed, 0..2^64-1 (default 1)\n"
      "  --start YYYY-MM-DD  first day, UTC (default 2026-11-01)\n"
      "  --days D            days the traffic spreads over, 1..3660 "
      "(default 7)\n"
      "  --site HOST         site host for internal referers "
      "(default www.example.com)\n"
      "  --beacon-path PATH  path of the tag's beacon (default /collect)\n"
      "  --bad-rate R        share of lines truncated mid-request, 0..1 "
      "(default 0)\n"
      "  --realistic         thousands of user agents, assets on a CDN (~140k\n"
      "                      visits per 1M lines), long tails of landings,\n"
      "                      referrers and campaigns (the benchmarks' mix)\n"
      "  --stats             print a summary of what was generated to stderr\n"
      "  -h, --help          show this help\n",
      f);
}

static _Noreturn void bad_arg(const char *opt, const char *val,
                              const char *why) {
  fprintf(stderr, PROG ": %s '%s': %s\n", opt, val, why);
  fprintf(stderr, "Try '" PROG " --help'.\n");
  exit(2);
}

static uint64_t parse_u64(const char *opt, const char *v, uint64_t lo,
                          uint64_t hi) {
  if (!*v || *v < '0' || *v > '9')
    bad_arg(opt, v, "expected a non-negative integer");
  errno = 0;
  char *end;
  unsigned long long x = strtoull(v, &end, 10);
  if (*end)
    bad_arg(opt, v, "expected a non-negative integer");
  if (errno == ERANGE || x < lo || x > hi) {
    char why[96];
    snprintf(why, sizeof why, "out of range %llu..%llu", (unsigned long long)lo,
             (unsigned long long)hi);
    bad_arg(opt, v, why);
  }
  return (uint64_t)x;
}

static int64_t parse_date(const char *opt, const char *v) {
  unsigned y, m, d;
  char extra;
  if (strlen(v) != 10 || v[4] != '-' || v[7] != '-' ||
      sscanf(v, "%4u-%2u-%2u%c", &y, &m, &d, &extra) != 3)
    bad_arg(opt, v, "expected a date YYYY-MM-DD");
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
      bad_arg(opt, v, "expected a date YYYY-MM-DD");
  static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
      (m == 2 && d == 29 && !leap))
    bad_arg(opt, v, "no such date (years 1970..9999)");
  return days_from_civil(y, m, d);
}

static bool valid_host(const char *h) {
  size_t n = strlen(h);
  if (n == 0 || n > 253)
    return false;
  for (const char *p = h; *p; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':' ||
          c == '[' || c == ']'))
      return false;
  }
  return true;
}

static bool valid_beacon(const char *p) {
  size_t n = strlen(p);
  if (n < 2 || n > 200 || p[0] != '/')
    return false;
  for (; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '"' ||
        *p == '?' || *p == '#' || *p == '\\')
      return false;
  return true;
}

/* Accepts "--opt VALUE" and "--opt=VALUE"; returns the value or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0)
    return NULL;
  if (a[n] == '=')
    return a + n + 1;
  if (a[n] != '\0')
    return NULL;
  if (*i + 1 >= argc) {
    fprintf(stderr, PROG ": %s needs a value\nTry '" PROG " --help'.\n", name);
    exit(2);
  }
  return argv[++*i];
}

int main(int argc, char **argv) {
  static gen_t g; /* static: zeroed, and off the stack */
  g.lines = 100000;
  g.seed = 1;
  g.start_day = days_from_civil(2026, 11, 1);
  g.days = 7;
  g.site = "www.example.com";
  g.beacon = "/collect";

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--stats")) {
      g.stats = true;
    } else if (!strcmp(a, "--realistic")) {
      g.realistic = true;
    } else if ((v = opt_value(argc, argv, &i, "-n")) ||
               (v = opt_value(argc, argv, &i, "--lines"))) {
      g.lines = parse_u64("-n", v, 0, UINT64_C(1000000000000));
    } else if ((v = opt_value(argc, argv, &i, "-s")) ||
               (v = opt_value(argc, argv, &i, "--seed"))) {
      g.seed = parse_u64("-s", v, 0, UINT64_MAX);
    } else if ((v = opt_value(argc, argv, &i, "--start"))) {
      g.start_day = parse_date("--start", v);
    } else if ((v = opt_value(argc, argv, &i, "--days"))) {
      g.days = (unsigned)parse_u64("--days", v, 1, 3660);
    } else if ((v = opt_value(argc, argv, &i, "--site"))) {
      if (!valid_host(v))
        bad_arg("--site", v, "expected a host name such as www.example.com");
      g.site = v;
    } else if ((v = opt_value(argc, argv, &i, "--beacon-path"))) {
      if (!valid_beacon(v))
        bad_arg("--beacon-path", v,
                "expected a path such as /collect (no spaces, quotes, '?')");
      g.beacon = v;
    } else if ((v = opt_value(argc, argv, &i, "--bad-rate"))) {
      char *end;
      errno = 0;
      double x = strtod(v, &end);
      if (!*v || *end || errno || !(x >= 0.0 && x <= 1.0))
        bad_arg("--bad-rate", v, "expected a number between 0 and 1");
      g.bad_rate = x;
    } else {
      fprintf(stderr, PROG ": unknown argument '%s'\nTry '" PROG " --help'.\n",
              a);
      return 2;
    }
  }
  if (g.start_day + g.days > days_from_civil(10000, 1, 1)) {
    fprintf(stderr, PROG ": --start + --days goes past year 9999\n");
    return 2;
  }

  snprintf(g.site_url, sizeof g.site_url, "https://%s", g.site);
  g.site_url_len = strlen(g.site_url);
  g.start_ms = g.start_day * 86400000;
  g.end_ms = g.start_ms + (int64_t)g.days * 86400000;
  rng_seed(&g.rng, g.seed, 1);
  rng_seed(&g.bad_rng, g.seed, 2);
  rng_seed(&g.real_rng, g.seed, 3);

  build_intensity(&g);
  run(&g);

  if (g.stats)
    fprintf(stderr,
            "lines %llu  bot lines %llu (%.1f%%)  malformed %llu\n"
            "human visits %llu  bot visits %llu  pageviews %llu  "
            "beacons %llu  thank-you %llu (%.2f%% of human visits)\n",
            (unsigned long long)g.emitted, (unsigned long long)g.bot_lines,
            g.emitted ? 100.0 * (double)g.bot_lines / (double)g.emitted : 0.0,
            (unsigned long long)g.malformed, (unsigned long long)g.human_visits,
            (unsigned long long)g.bot_visits, (unsigned long long)g.pageviews,
            (unsigned long long)g.beacons, (unsigned long long)g.conversions,
            g.human_visits
                ? 100.0 * (double)g.conversions / (double)g.human_visits
                : 0.0);
  free(g.sess);
  free(g.free_ids);
  free(g.heap);
  free(g.cum);
  return 0;
}
