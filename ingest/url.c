/*
 * URL pieces as they appear in access logs: query parameters and the host
 * and path of a referer.  What comes out is text under the database's rule
 * (utf8.h): decoded or raw, it is valid UTF-8, and a %00 is never decoded.
 * Everything here runs on untrusted bytes at line
 * rate, so nothing allocates, every write is bounded by the caller's
 * capacity, and anything that does not look like a URL is reported as
 * unparsable rather than guessed at: a wrong host would invent a referral
 * source, while "unparsable" only makes the visit direct (SPEC §5 rule 8).
 */
#include "url.h"

#include <stdbool.h>
#include <string.h>

#include "utf8.h"

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/*
 * Decodes V (VLEN bytes) into out (CAP bytes), under the database's text
 * rule (utf8.h): the decoded bytes go through a sink that writes what is
 * not well-formed UTF-8 as \xHH and never splits a character.  A %00 is
 * not decoded: a NUL would end the value (a%00b read as "a"), so it stays
 * the three characters it was.
 */
static int decode_value(const char *v, size_t vlen, char *out, size_t cap) {
  if (cap == 0)
    return 0;
  /* Most values (an event name, a depth, a path) are plain ASCII with
   * nothing to decode: copied whole, they skip the byte-wise sink. */
  if (vlen < cap) {
    size_t i = 0;
    while (i < vlen) {
      unsigned char c = (unsigned char)v[i];
      if (c == '%' || c == '+' || c == 0 || c >= 0x80)
        break;
      i++;
    }
    if (i == vlen) {
      if (vlen > 0) /* v may be NULL for an empty value */
        memcpy(out, v, vlen);
      out[vlen] = '\0';
      return (int)vlen;
    }
  }
  bsl_utf8_sink k;
  bsl_utf8_sink_init(&k, out, cap);
  for (size_t i = 0; i < vlen && !k.full; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%' && i + 2 < vlen) {
      int hi = hex_value((unsigned char)v[i + 1]);
      int lo = hex_value((unsigned char)v[i + 2]);
      if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
        c = (unsigned char)(hi * 16 + lo);
        i += 2;
      }
    }
    bsl_utf8_sink_put(&k, c);
  }
  return (int)bsl_utf8_sink_end(&k);
}

int bsl_url_decode(const char *v, size_t vlen, char *out, size_t cap) {
  return decode_value(v, vlen, out, cap);
}

/*
 * The first occurrence of each of the N names in QUERY: its value
 * (vals[i], lens[i]), found[i] -1 absent, 0 present without '=', 1 with
 * one.  Names that are NULL or empty are not looked for.  Only '&'
 * separates parameters: ';' appears inside real values (Google's
 * "ved=1t:429,r:13" and friends) far more often than as a separator.
 */
static void find_params(const char *query, size_t qlen,
                        const char *const *names, size_t n, const char **vals,
                        size_t *lens, int *found) {
  size_t missing = 0;
  for (size_t i = 0; i < n; i++) {
    found[i] = -1;
    missing += names[i] && names[i][0];
  }
  if (!query)
    return;
  const char *p = query, *end = query + qlen;
  while (missing > 0) {
    /* Keys are short: scan them bytewise; values are skipped with memchr. */
    const char *k = p;
    while (p < end && *p != '=' && *p != '&')
      p++;
    size_t klen = (size_t)(p - k);
    bool has_eq = p < end && *p == '=';
    const char *v = has_eq ? p + 1 : p;
    const char *amp = v < end ? memchr(v, '&', (size_t)(end - v)) : NULL;
    const char *vend = amp ? amp : end;
    for (size_t i = 0; i < n && klen > 0; i++) {
      if (found[i] != -1 || !names[i] || names[i][0] != k[0] ||
          strlen(names[i]) != klen || memcmp(names[i], k, klen) != 0)
        continue;
      /* the first occurrence wins */
      found[i] = has_eq;
      vals[i] = v;
      lens[i] = (size_t)(vend - v);
      missing--;
    }
    if (!amp)
      break;
    p = amp + 1;
  }
}

/* The result of one name looked up by find_params(): its decoded value in
 * OUT (CAP bytes, "" when absent or empty) and its length, or -1 absent,
 * 0 present without '='. */
static int value_of(int found, const char *v, size_t vlen, char *out,
                    size_t cap) {
  if (cap > 0)
    out[0] = '\0';
  return found > 0 ? decode_value(v, vlen, out, cap) : found;
}

int bsl_query_param(const char *query, size_t qlen, const char *name, char *out,
                    size_t cap) {
  int rc;
  bsl_query_params(query, qlen, &name, 1, &out, &cap, &rc);
  return rc;
}

void bsl_query_params(const char *query, size_t qlen, const char *const *names,
                      size_t n, char *const *outs, const size_t *caps,
                      int *rcs) {
  enum { MAX_NAMES = 16 };
  const char *vals[MAX_NAMES];
  size_t lens[MAX_NAMES];
  int found[MAX_NAMES];
  for (size_t at = 0; at < n; at += MAX_NAMES) {
    size_t k = n - at < MAX_NAMES ? n - at : MAX_NAMES;
    find_params(query, qlen, names + at, k, vals, lens, found);
    for (size_t i = 0; i < k; i++)
      rcs[at + i] =
          value_of(found[i], vals[i], lens[i], outs[at + i], caps[at + i]);
  }
}

size_t bsl_beacon_params_parse(const char *query, size_t qlen,
                               bsl_beacon_params *out, char *buf) {
  static const char *const names[4] = {"e", "p", "d", "t"};
  static const size_t caps[4] = {BSL_BEACON_EVENT_CAP, BSL_BEACON_PAGE_CAP,
                                 BSL_BEACON_DEPTH_CAP, BSL_BEACON_TARGET_CAP};
  const char *vals[4];
  size_t lens[4];
  int found[4];
  find_params(query, qlen, names, 4, vals, lens, found);
  /* one value after the other, each as long as it is: a batch's beacons
   * take their decoded bytes, not four fixed-size fields each */
  const char **ptrs[4] = {&out->event, &out->page, &out->depth, &out->target};
  int *rcs[4] = {&out->rc_event, &out->rc_page, &out->rc_depth,
                 &out->rc_target};
  size_t used = 0;
  for (int i = 0; i < 4; i++) {
    char *o = buf + used;
    int rc = value_of(found[i], vals[i], lens[i], o, caps[i]);
    *ptrs[i] = o;
    *rcs[i] = rc;
    used += (rc > 0 ? (size_t)rc : 0) + 1;
  }
  return used;
}

void bsl_ascii_lower(char *s) {
  for (; *s; s++)
    *s = (char)lower((unsigned char)*s);
}

/*
 * Locates the authority of REF: after "scheme://" (or "//"), up to the first
 * '/', '\\', '?' or '#'.  Browsers treat '\\' as '/' in http URLs, so a
 * referer forged with one must not smuggle its path into the host.
 */
static bool find_authority(const char *ref, size_t len, size_t *a_start,
                           size_t *a_end) {
  size_t i = 0;
  if (len >= 2 && ref[0] == '/' && ref[1] == '/') {
    i = 2;
  } else {
    unsigned char c0 = len ? (unsigned char)ref[0] : 0;
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z')))
      return false;
    for (i = 1; i < len; i++) {
      unsigned char c = (unsigned char)ref[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
        break;
    }
    if (len - i < 3 || memcmp(ref + i, "://", 3) != 0)
      return false;
    i += 3;
  }
  size_t s = i;
  while (i < len && ref[i] != '/' && ref[i] != '\\' && ref[i] != '?' &&
         ref[i] != '#')
    i++;
  *a_start = s;
  *a_end = i;
  return true;
}

static bool host_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool bsl_referer_host(const char *ref, size_t len, char *out, size_t cap) {
  if (cap > 0)
    out[0] = '\0';
  if (!ref || len == 0 || (len == 1 && ref[0] == '-') || cap == 0)
    return false;
  size_t as, ae;
  if (!find_authority(ref, len, &as, &ae))
    return false;
  /* The last '@' ends the userinfo: passwords may contain '@' unescaped. */
  for (size_t i = ae; i > as; i--) {
    if (ref[i - 1] == '@') {
      as = i;
      break;
    }
  }
  size_t hs = as, he = ae;
  bool ipv6 = false;
  if (hs < he && ref[hs] == '[') {
    const char *close = memchr(ref + hs, ']', he - hs);
    if (!close)
      return false;
    he = (size_t)(close - ref) + 1;
    ipv6 = true;
  } else {
    const char *colon = memchr(ref + hs, ':', he - hs);
    if (colon)
      he = (size_t)(colon - ref);
  }
  while (he > hs && ref[he - 1] == '.') /* "example.com." is example.com */
    he--;
  if (he - hs >= 4 && !ipv6) {
    if (lower((unsigned char)ref[hs]) == 'w' &&
        lower((unsigned char)ref[hs + 1]) == 'w' &&
        lower((unsigned char)ref[hs + 2]) == 'w' && ref[hs + 3] == '.')
      hs += 4;
  }
  if (he <= hs || he - hs >= cap)
    return false;
  for (size_t i = hs; i < he; i++) {
    unsigned char c = lower((unsigned char)ref[i]);
    bool ok = ipv6 ? (c == '[' || c == ']' || c == ':' || c == '.' ||
                      (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
                   : host_char(c);
    if (!ok)
      return false;
    out[i - hs] = (char)c;
  }
  out[he - hs] = '\0';
  if (!ipv6 && (out[0] == '.' || strstr(out, "..")))
    return false;
  return true;
}

bool bsl_referer_path(const char *ref, size_t len, char *out, size_t cap) {
  char host[256];
  if (cap > 0)
    out[0] = '\0';
  if (cap < 2 || !bsl_referer_host(ref, len, host, sizeof host))
    return false;
  size_t as, ae;
  find_authority(ref, len, &as, &ae);
  size_t end = ae;
  while (end < len && ref[end] != '?' && ref[end] != '#')
    end++;
  if (end == ae) {
    out[0] = '/';
    out[1] = '\0';
    return true;
  }
  /* the path is raw bytes from the log: cleaned by the text rule */
  bsl_utf8_clean(ref + ae, end - ae, out, cap);
  if (out[0] == '\\') /* browsers read a leading backslash as '/' */
    out[0] = '/';
  return true;
}
