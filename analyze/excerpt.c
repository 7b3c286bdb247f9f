/*
 * Reject samples (see excerpt.h): one pass over the start of the line that
 * masks addresses and cuts user agents, then the first 200 bytes of that,
 * escaped for terminals.  The masks work on the line's own bytes, so a line
 * that did not parse is masked as well as one that would have.
 */
#include "excerpt.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

/* How much of a line is looked at: masks shrink what they replace (a user
 * agent to a word), so 200 bytes out may take more than 200 in. */
#define SCAN_BYTES 4096

static const char ELLIPSIS[] = "\xe2\x80\xa6"; /* U+2026 */

typedef struct out_buf {
  char *p;
  size_t len, cap;
} out_buf;

static void put(out_buf *o, const char *s, size_t n) {
  if (n > o->cap - o->len)
    n = o->cap - o->len;
  memcpy(o->p + o->len, s, n);
  o->len += n;
}

static bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alnum(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the dotted quad at S (four groups of 1-3 digits, not followed
 * by another digit or ".digit"), or 0. */
static size_t ipv4_len(const char *s, size_t len) {
  size_t i = 0;
  for (int g = 0; g < 4; g++) {
    size_t d = 0;
    while (i < len && d < 4 && is_digit((unsigned char)s[i]))
      i++, d++;
    if (d == 0 || d > 3)
      return 0;
    if (g < 3) {
      if (i >= len || s[i] != '.')
        return 0;
      i++;
    }
  }
  if (i < len && is_digit((unsigned char)s[i]))
    return 0;
  if (i + 1 < len && s[i] == '.' && is_digit((unsigned char)s[i + 1]))
    return 0; /* 1.2.3.4.5: a version, not an address */
  return i;
}

/* Length of the start of the dotted quad at S that is kept: its first three
 * numbers and dots. */
static size_t ipv4_keep(const char *s) {
  size_t i = 0;
  for (int dots = 0; dots < 3; i++)
    if (s[i] == '.')
      dots++;
  return i;
}

/*
 * True when S[0..LEN) is an IPv6 address: groups of 1-4 hex digits joined
 * by ':', with one "::" standing for zero groups or eight groups without
 * it; the last group may be a dotted quad (two groups).  Sets *KEEP to the
 * length of what is kept: the first three groups, or what comes before the
 * "::" when it comes first ("2001:db8:85a3", "2001:db8::", "::").
 */
static bool ipv6_parse(const char *s, size_t len, size_t *keep) {
  size_t i = 0, groups = 0, kept = 0;
  bool gap = false;
  if (len >= 2 && s[0] == ':' && s[1] == ':') {
    gap = true;
    i = 2;
    kept = 2;
  } else if (len >= 1 && s[0] == ':') {
    return false;
  }
  while (i < len) {
    size_t q = ipv4_len(s + i, len - i);
    if (q > 0 && i + q == len && (groups <= 6 || gap)) {
      groups += 2;
      i += q;
      break;
    }
    size_t d = 0;
    while (i < len && d < 5 && is_hex((unsigned char)s[i]))
      i++, d++;
    if (d == 0 || d > 4)
      return false;
    groups++;
    if (groups == 3 && !kept)
      kept = i;
    if (i == len)
      break;
    if (s[i] != ':')
      return false;
    if (i + 1 < len && s[i + 1] == ':') {
      if (gap)
        return false;
      gap = true;
      if (!kept)
        kept = i + 2;
      i += 2;
      if (i == len)
        break;
    } else {
      i++;
      if (i == len)
        return false; /* a trailing single ':' */
    }
  }
  if (groups == 0 || (gap ? groups > 7 : groups != 8))
    return false;
  *keep = kept ? kept : len;
  return true;
}

/* Masks the address at S if there is one: writes its kept part and "x" and
 * returns the bytes consumed, else 0.  PREV is the byte before S (0 at the
 * start). */
static size_t mask_address(out_buf *o, const char *s, size_t len,
                           unsigned char prev) {
  unsigned char c = (unsigned char)s[0];
  if (!is_hex(c) && c != ':')
    return 0;
  /* IPv6: the run of hex digits, ':' and '.' from a boundary, dots and
   * colons at its end left out ("fe80::1:" in a sentence) */
  if (!is_alnum(prev) && prev != ':' && prev != '.' && prev != '_') {
    size_t run = 0;
    while (run < len &&
           (is_hex((unsigned char)s[run]) || s[run] == ':' || s[run] == '.'))
      run++;
    bool boundary = run == len || !is_alnum((unsigned char)s[run]);
    while (boundary && run > 0 &&
           (s[run - 1] == '.' ||
            (s[run - 1] == ':' && run >= 2 && s[run - 2] != ':')))
      run--;
    size_t keep;
    if (boundary && memchr(s, ':', run) && !(run == 2 && s[0] == ':') &&
        ipv6_parse(s, run, &keep)) {
      put(o, s, keep);
      if (s[keep - 1] == ':')
        put(o, "x", 1); /* "2001:db8::x" */
      else
        put(o, ":x", 2); /* "2001:db8:85a3:x" */
      return run;
    }
  }
  if (is_digit(c) && !is_digit(prev) && prev != '.') {
    size_t n = ipv4_len(s, len);
    if (n > 0) {
      size_t keep = ipv4_keep(s);
      put(o, s, keep);
      put(o, "x", 1);
      return n;
    }
  }
  return 0;
}

/* Length of the product token ("Name/version") at S, or 0; *NAME gets the
 * length of its name and slash ("Mozilla/"). */
static size_t product_token(const char *s, size_t len, size_t *name) {
  size_t i = 0;
  while (i < len && (is_alnum((unsigned char)s[i]) || s[i] == '.' ||
                     s[i] == '_' || s[i] == '-' || s[i] == '!'))
    i++;
  if (i == 0 || i >= len || s[i] != '/' || !is_alnum((unsigned char)s[0]))
    return 0;
  *name = ++i;
  while (i < len && (is_alnum((unsigned char)s[i]) || s[i] == '.' ||
                     s[i] == '_' || s[i] == '-'))
    i++;
  return i;
}

/* End of the quoted field whose content starts at S: the index of its
 * closing quote (a quote after a backslash is inside), or LEN. */
static size_t field_end(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\\')
      i++;
    else if (s[i] == '"')
      return i;
  }
  return len;
}

/* True when the field F (N bytes) is one of what combined's variants keep
 * besides the agent: "-", empty, a URL ("scheme://..."), an address or a
 * list of them. */
static bool not_an_agent(const char *f, size_t n) {
  if (n == 0 || (n == 1 && f[0] == '-'))
    return true;
  size_t i = 0;
  while (i < n && (is_alnum((unsigned char)f[i]) || f[i] == '+' ||
                   f[i] == '-' || f[i] == '.'))
    i++;
  if (i > 0 && i + 2 < n && f[i] == ':' && f[i + 1] == '/' && f[i + 2] == '/')
    return true;
  for (i = 0; i < n; i++)
    if (!is_hex((unsigned char)f[i]) && f[i] != ':' && f[i] != '.' &&
        f[i] != ',' && f[i] != ' ')
      return false;
  return true;
}

/* Copies S[0..LEN) to O with addresses masked. */
static void copy_masked(out_buf *o, const char *s, size_t len,
                        unsigned char prev) {
  for (size_t i = 0; i < len;) {
    size_t n =
        mask_address(o, s + i, len - i, i ? (unsigned char)s[i - 1] : prev);
    if (n) {
      i += n;
      continue;
    }
    put(o, s + i, 1);
    i++;
  }
}

/* Writes the line (LEN bytes) to O with addresses masked and user agents
 * cut (excerpt.h). */
/* True when F (N bytes) names a user agent field ("User-Agent",
 * "http_user_agent"): it holds "agent" in any case. */
static bool names_agent(const char *f, size_t n) {
  for (size_t i = 0; i + 5 <= n; i++)
    if (strncasecmp(f + i, "agent", 5) == 0)
      return true;
  return false;
}

static void mask_line(out_buf *o, const char *s, size_t len) {
  int quoted = 0; /* quoted fields seen so far */
  /* JSON lines (Caddy, Traefik, nginx escape=json) quote every key and
   * value: there the agent is what follows a key naming one */
  size_t lead = 0;
  while (lead < len && (s[lead] == ' ' || s[lead] == '\t'))
    lead++;
  bool json = lead < len && s[lead] == '{', agent_values = false;
  for (size_t i = 0; i < len;) {
    unsigned char prev = i ? (unsigned char)s[i - 1] : 0;
    if (s[i] == '"') {
      quoted++;
      size_t start = i + 1;
      size_t end = start + field_end(s + start, len - start);
      const char *f = s + start;
      size_t n = end - start, name = 0, after = end + 1;
      while (after < len && s[after] == ' ')
        after++;
      bool is_key = json && after < len && s[after] == ':';
      bool agent = json ? !is_key && agent_values
                        : product_token(f, n, &name) > 0 ||
                              (quoted >= 3 && !not_an_agent(f, n));
      if (is_key)
        agent_values = names_agent(f, n);
      put(o, "\"", 1);
      if (agent && product_token(f, n, &name) > 0) {
        put(o, f, name); /* "Mozilla/…" */
        put(o, ELLIPSIS, sizeof ELLIPSIS - 1);
      } else if (agent) {
        put(o, ELLIPSIS, sizeof ELLIPSIS - 1); /* an agent without one */
      } else {
        copy_masked(o, f, n, '"');
      }
      if (end < len)
        put(o, "\"", 1);
      i = end < len ? end + 1 : len;
      continue;
    }
    /* an unquoted agent (W3C: '+' for spaces) */
    if (prev == 0 || prev == ' ' || prev == '\t') {
      size_t name = 0, tok = product_token(s + i, len - i, &name);
      if (tok > 0 && i + tok < len &&
          (s[i + tok] == '+' || s[i + tok] == '%' || s[i + tok] == '(')) {
        put(o, s + i, name);
        put(o, ELLIPSIS, sizeof ELLIPSIS - 1);
        i += tok;
        while (i < len && s[i] != ' ' && s[i] != '\t')
          i++;
        continue;
      }
    }
    size_t n = mask_address(o, s + i, len - i, prev);
    if (n) {
      i += n;
      continue;
    }
    put(o, s + i, 1);
    i++;
  }
}

/* Copies at most BSL_EXCERPT_BYTES of S, keeping valid UTF-8 and writing
 * every other byte as \xHH so the sample is safe to display. */
static size_t escape(const char *s, size_t len, char *out, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  if (cap == 0)
    return 0;
  if (len > BSL_EXCERPT_BYTES)
    len = BSL_EXCERPT_BYTES;
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)s[i];
    size_t seq =
        c >= 0x80 ? bsl_utf8_seq_len((const unsigned char *)s + i, len - i) : 0;
    unsigned cp = 0;
    if (seq > 1) {
      cp = seq == 2 ? c & 0x1fu : seq == 3 ? c & 0x0fu : c & 0x07u;
      for (size_t k = 1; k < seq; k++)
        cp = cp << 6 | ((unsigned char)s[i + k] & 0x3fu);
    }
    /* Well-formed is not enough for a terminal: C1 controls (CSI is
     * U+009B) and bidi overrides act on it.  Those go out as \xHH. */
    bool keep = seq > 1 && cp > 0x9f && !(cp >= 0x202a && cp <= 0x202e) &&
                !(cp >= 0x2066 && cp <= 0x2069);
    size_t need = keep ? seq : (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;
    if (n + need + 1 > cap)
      break;
    if (keep) {
      memcpy(out + n, s + i, seq);
      n += seq;
      i += seq;
    } else if (need == 1) {
      out[n++] = (char)c;
      i++;
    } else {
      out[n++] = '\\';
      out[n++] = 'x';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
      i++;
    }
  }
  out[n] = '\0';
  return n;
}

size_t bsl_excerpt_make(const char *line, size_t len, char *out, size_t cap) {
  char masked[SCAN_BYTES + 64];
  out_buf o = {masked, 0, sizeof masked};
  mask_line(&o, line, len < SCAN_BYTES ? len : SCAN_BYTES);
  return escape(masked, o.len, out, cap);
}
