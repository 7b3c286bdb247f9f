/*
 * Classification of hits: bots, devices, static files and traffic channels
 * (SPEC §5).
 *
 * Bot rules are PCRE2 patterns (config/defaults/bots.rules plus the user's
 * file) joined into one case-insensitive alternation and compiled once with
 * the JIT.  Even so a regex over a 150-byte user agent costs far more than a
 * log line's other work, and real logs hold a few thousand distinct agents
 * repeated millions of times, so results are cached per exact user agent in a
 * fixed table allocated once: the hot path allocates nothing.
 *
 * Channel rules (config/defaults/channels.rules plus the user's file) map
 * referer hosts to a kind (webmail, search, social) and a source name.  They
 * live in an open-addressing hash table keyed by the pattern text; a referer
 * host is looked up once per parent domain, most specific first.  The format
 * of both files is documented in their header comments.
 */
#include "classify.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "defaults.h"
#include "fasthash.h"
#include "url.h"

/* Kinds of referer host, in the precedence order of SPEC §5 rules 5-7. */
enum host_kind { KIND_WEBMAIL = 0, KIND_SEARCH, KIND_SOCIAL, KIND_COUNT };

static const char *const kind_names[KIND_COUNT] = {"webmail", "search",
                                                   "social"};

struct host_rule {
  char *key; /* pattern without ".*"; NULL marks an empty slot */
  size_t keylen;
  bool wildcard;
  const char *source[KIND_COUNT]; /* NULL when no rule of that kind */
};

/*
 * Agents are cached by a 128-bit digest (bsl_hit_identity's two hashes of
 * the agent) and their length, not by their bytes: 24-byte slots instead of
 * 528 (16k slots took 8.6 MiB once a site's thousands of agents had
 * arrived), so four times the slots cost a sixth of the memory.  Two agents
 * share a digest with odds of about 2^-128, as the visitor-key cache
 * accepts.  Longer agents are nearly all unique junk, not worth caching.
 */
#define UA_CACHE_SLOTS 65536
#define UA_CACHE_MAX 512
#define UA_CACHE_WAYS 4 /* a power of two dividing UA_CACHE_SLOTS */

struct ua_slot {
  uint64_t hash[2];
  uint16_t len;
  bool used;
  bool is_bot;
  uint8_t device;
};

#define EXT_MAX 32

struct bsl_classifier {
  pcre2_code *bots; /* NULL when there are no bot patterns */
  pcre2_match_data *match;

  struct host_rule *hosts; /* power-of-two table */
  size_t hosts_cap;
  size_t hosts_used;
  char **names; /* source names, owned; host_rule.source points here */
  size_t n_names;
  size_t names_cap;

  char (*exts)[EXT_MAX]; /* static extensions, lower-case, without dots */
  size_t n_exts;

  struct ua_slot *cache;
};

/* The SPEC §3 example list, for callers that pass no options. */
static const char *const default_static_exts[] = {
    "css",  "js",   "mjs",   "png", "jpg", "jpeg", "gif", "svg", "ico", "webp",
    "avif", "woff", "woff2", "ttf", "eot", "map",  "txt", "xml", "json"};

static void set_err(char *err, size_t errlen, const char *file, int line,
                    const char *reason) {
  if (!err || errlen == 0)
    return;
  if (line > 0)
    snprintf(err, errlen, "%s:%d: %s", file, line, reason);
  else
    snprintf(err, errlen, "%s: %s", file, reason);
}

static uint64_t hash_bytes(const void *p, size_t len, uint64_t seed) {
  /* FNV-1a: create-time and per-referer use only; the UA cache has its own. */
  const unsigned char *s = p;
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (size_t i = 0; i < len; i++) {
    h ^= s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* ---- reading rule text ------------------------------------------------ */

/* Calls FN for each line of TEXT (trimmed, without comments and blanks). */
typedef int (*line_fn)(bsl_classifier *c, const char *file, int lineno,
                       const char *line, size_t len, void *ctx, char *err,
                       size_t errlen);

static bool is_blank(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' ||
         ch == '\f';
}

static int for_each_line(bsl_classifier *c, const char *file, const char *text,
                         size_t len, line_fn fn, void *ctx, char *err,
                         size_t errlen) {
  int lineno = 0;
  size_t pos = 0;
  while (pos < len) {
    const char *start = text + pos;
    const char *nl = memchr(start, '\n', len - pos);
    size_t llen = nl ? (size_t)(nl - start) : len - pos;
    pos += llen + (nl ? 1 : 0);
    lineno++;
    while (llen > 0 && is_blank(*start)) {
      start++;
      llen--;
    }
    while (llen > 0 && is_blank(start[llen - 1]))
      llen--;
    if (llen == 0 || start[0] == '#')
      continue;
    int rc = fn(c, file, lineno, start, llen, ctx, err, errlen);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* Reads a whole user rules file into a malloc'ed buffer owned by the caller. */
static int read_file(const char *path, char **out, size_t *outlen, char *err,
                     size_t errlen) {
  /* Rule files are hand-written lists; anything bigger is a wrong path. */
  const long max = 16L << 20;
  char reason[256];
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(reason, sizeof reason, "cannot open: %s", strerror(errno));
    set_err(err, errlen, path, 0, reason);
    return -1;
  }
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0)
    size = ftell(f);
  if (size < 0 || size > max || fseek(f, 0, SEEK_SET) != 0) {
    set_err(err, errlen, path, 0,
            size > max ? "file too large (over 16 MiB)" : "cannot read");
    fclose(f);
    return -1;
  }
  char *buf = malloc((size_t)size + 1);
  if (!buf) {
    set_err(err, errlen, path, 0, "out of memory");
    fclose(f);
    return -1;
  }
  size_t got = fread(buf, 1, (size_t)size, f);
  bool bad = ferror(f);
  fclose(f);
  if (bad) {
    snprintf(reason, sizeof reason, "cannot read: %s", strerror(errno));
    set_err(err, errlen, path, 0, reason);
    free(buf);
    return -1;
  }
  buf[got] = '\0';
  *out = buf;
  *outlen = got;
  return 0;
}

/* ---- bot rules ------------------------------------------------------------
 */

/*
 * No capture groups: the match only answers yes or no, and numbered groups
 * from different lines would otherwise collide.  No PCRE2_UTF: user agents
 * are arbitrary bytes and must not fail a UTF-8 check.
 */
#define BOT_FLAGS (PCRE2_CASELESS | PCRE2_NO_AUTO_CAPTURE | PCRE2_DUPNAMES)

struct alternation {
  char *buf;
  size_t len;
  size_t cap;
};

static int alt_append(struct alternation *a, const char *s, size_t n) {
  if (a->len + n + 1 > a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 1024;
    while (cap < a->len + n + 1)
      cap *= 2;
    char *p = realloc(a->buf, cap);
    if (!p)
      return -1;
    a->buf = p;
    a->cap = cap;
  }
  memcpy(a->buf + a->len, s, n);
  a->len += n;
  a->buf[a->len] = '\0';
  return 0;
}

/*
 * A plain alternation of a thousand patterns is slow: PCRE2 tries every
 * alternative at every position of the agent, about 200 us per new agent.
 * So the alternatives are bucketed by their first literal character and
 * each bucket is guarded by a one-character lookahead, "(?=[gG])(?:...)":
 * at a given position only the bucket of that character is tried.  Buckets
 * 0-35 are a-z and 0-9; the last holds alternatives with no literal first
 * character (anchors, classes, lookbehinds...).
 */
#define BOT_BUCKETS 37

struct bot_builder {
  struct alternation bucket[BOT_BUCKETS];
};

static int first_char_bucket(const char *alt, size_t len) {
  size_t i = 0;
  while (i + 1 < len && alt[i] == '\\' && alt[i + 1] == 'b')
    i += 2; /* a word boundary does not consume the character after it */
  if (i >= len)
    return BOT_BUCKETS - 1;
  char ch = alt[i];
  char next = i + 1 < len ? alt[i + 1] : '\0';
  if (next == '?' || next == '*' || next == '{')
    return BOT_BUCKETS - 1; /* the character is optional */
  if (ch >= 'A' && ch <= 'Z')
    ch = (char)(ch + 32);
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a';
  if (ch >= '0' && ch <= '9')
    return 26 + (ch - '0');
  return BOT_BUCKETS - 1;
}

/*
 * Splits LINE at its top-level '|' into the builder's buckets.  A line with
 * a top-level inline option such as "(?-i)", a \Q quote or a (*VERB) is kept
 * whole: splitting would change what the option or quote applies to.
 */
static int add_alternatives(struct bot_builder *b, const char *line,
                            size_t len) {
  bool whole = false;
  size_t cuts[512], ncuts = 0;
  int depth = 0;
  for (size_t i = 0; i < len && !whole; i++) {
    char ch = line[i];
    if (ch == '\\') {
      if (i + 1 < len && line[i + 1] == 'Q')
        whole = true;
      i++;
    } else if (ch == '[') {
      size_t j = i + 1;
      if (j < len && line[j] == '^')
        j++;
      if (j < len && line[j] == ']')
        j++; /* a leading ']' is literal */
      while (j < len && line[j] != ']') {
        if (line[j] == '\\')
          j++;
        j++;
      }
      i = j;
    } else if (ch == '(') {
      if (i + 1 < len && line[i + 1] == '*')
        whole = true;
      if (depth == 0 && i + 2 < len && line[i + 1] == '?') {
        size_t j = i + 2;
        while (j < len && ((line[j] >= 'a' && line[j] <= 'z') ||
                           (line[j] >= 'A' && line[j] <= 'Z') ||
                           line[j] == '-' || line[j] == '^'))
          j++;
        if (j > i + 2 && j < len && line[j] == ')')
          whole = true;
      }
      depth++;
    } else if (ch == ')') {
      depth--;
    } else if (ch == '|' && depth == 0) {
      if (ncuts == sizeof cuts / sizeof cuts[0])
        whole = true;
      else
        cuts[ncuts++] = i;
    }
  }
  if (whole)
    ncuts = 0;
  size_t from = 0;
  for (size_t k = 0; k <= ncuts; k++) {
    size_t to = k < ncuts ? cuts[k] : len;
    const char *alt = line + from;
    size_t n = to - from;
    struct alternation *a =
        &b->bucket[whole ? BOT_BUCKETS - 1 : first_char_bucket(alt, n)];
    if ((a->len > 0 && alt_append(a, "|", 1) != 0) ||
        alt_append(a, "(?:", 3) != 0 || alt_append(a, alt, n) != 0 ||
        alt_append(a, ")", 1) != 0)
      return -1;
    from = to + 1;
  }
  return 0;
}

/* Joins the buckets into one pattern in out. */
static int join_buckets(const struct bot_builder *b, struct alternation *out) {
  for (int k = 0; k < BOT_BUCKETS; k++) {
    const struct alternation *a = &b->bucket[k];
    if (a->len == 0)
      continue;
    if (out->len > 0 && alt_append(out, "|", 1) != 0)
      return -1;
    char guard[16];
    if (k < 26)
      snprintf(guard, sizeof guard, "(?=[%c%c])(?:", 'a' + k, 'A' + k);
    else if (k < 36)
      snprintf(guard, sizeof guard, "(?=%c)(?:", '0' + (k - 26));
    else
      snprintf(guard, sizeof guard, "(?:");
    if (alt_append(out, guard, strlen(guard)) != 0 ||
        alt_append(out, a->buf, a->len) != 0 || alt_append(out, ")", 1) != 0)
      return -1;
  }
  return 0;
}

static int bot_line(bsl_classifier *c, const char *file, int lineno,
                    const char *line, size_t len, void *ctx, char *err,
                    size_t errlen) {
  (void)c;
  struct bot_builder *b = ctx;
  /*
   * Compiling each line alone (without the JIT) finds its errors with a line
   * number, and catches a line that would leak into its neighbours once
   * joined, such as an unbalanced ')' or a \Q without \E.
   */
  struct alternation one = {0};
  if (alt_append(&one, "(?:", 3) != 0 || alt_append(&one, line, len) != 0 ||
      alt_append(&one, ")", 1) != 0) {
    free(one.buf);
    set_err(err, errlen, file, lineno, "out of memory");
    return -1;
  }
  int code;
  PCRE2_SIZE where;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)one.buf, one.len, BOT_FLAGS, &code,
                                 &where, NULL);
  free(one.buf);
  if (!re) {
    char msg[160], reason[256];
    pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
    size_t col = where > 3 ? where - 3 : 0;
    snprintf(reason, sizeof reason, "bad pattern: %s at offset %zu", msg,
             col > len ? len : col);
    set_err(err, errlen, file, lineno, reason);
    return -1;
  }
  pcre2_code_free(re);
  if (add_alternatives(b, line, len) != 0) {
    set_err(err, errlen, file, lineno, "out of memory");
    return -1;
  }
  return 0;
}

/* ---- channel rules ------------------------------------------------------ */

static struct host_rule *host_find(const bsl_classifier *c, const char *key,
                                   size_t keylen, bool wildcard) {
  if (c->hosts_cap == 0)
    return NULL;
  size_t mask = c->hosts_cap - 1;
  size_t i = (size_t)hash_bytes(key, keylen, wildcard) & mask;
  for (;;) {
    struct host_rule *r = &c->hosts[i];
    if (!r->key)
      return NULL;
    if (r->wildcard == wildcard && r->keylen == keylen &&
        memcmp(r->key, key, keylen) == 0)
      return r;
    i = (i + 1) & mask;
  }
}

static int host_grow(bsl_classifier *c) {
  size_t cap = c->hosts_cap ? c->hosts_cap * 2 : 512;
  struct host_rule *t = calloc(cap, sizeof *t);
  if (!t)
    return -1;
  for (size_t i = 0; i < c->hosts_cap; i++) {
    struct host_rule *r = &c->hosts[i];
    if (!r->key)
      continue;
    size_t j = (size_t)hash_bytes(r->key, r->keylen, r->wildcard) & (cap - 1);
    while (t[j].key)
      j = (j + 1) & (cap - 1);
    t[j] = *r;
  }
  free(c->hosts);
  c->hosts = t;
  c->hosts_cap = cap;
  return 0;
}

/* Adds or updates the rule for KEY; returns -1 only when out of memory. */
static int host_add(bsl_classifier *c, const char *key, size_t keylen,
                    bool wildcard, enum host_kind kind, const char *source) {
  struct host_rule *r = host_find(c, key, keylen, wildcard);
  if (!r) {
    if ((c->hosts_used + 1) * 2 > c->hosts_cap && host_grow(c) != 0)
      return -1;
    char *k = malloc(keylen + 1);
    if (!k)
      return -1;
    memcpy(k, key, keylen);
    k[keylen] = '\0';
    size_t mask = c->hosts_cap - 1;
    size_t i = (size_t)hash_bytes(key, keylen, wildcard) & mask;
    while (c->hosts[i].key)
      i = (i + 1) & mask;
    r = &c->hosts[i];
    r->key = k;
    r->keylen = keylen;
    r->wildcard = wildcard;
    c->hosts_used++;
  }
  r->source[kind] = source;
  return 0;
}

static const char *keep_name(bsl_classifier *c, const char *s, size_t n) {
  if (c->n_names == c->names_cap) {
    size_t cap = c->names_cap ? c->names_cap * 2 : 64;
    char **p = realloc(c->names, cap * sizeof *p);
    if (!p)
      return NULL;
    c->names = p;
    c->names_cap = cap;
  }
  char *copy = malloc(n + 1);
  if (!copy)
    return NULL;
  for (size_t i = 0; i < n; i++)
    copy[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
  copy[n] = '\0';
  c->names[c->n_names++] = copy;
  return copy;
}

/* Next whitespace-separated token of LINE from *pos; false at the end. */
static bool next_token(const char *line, size_t len, size_t *pos,
                       const char **tok, size_t *tlen) {
  size_t i = *pos;
  while (i < len && is_blank(line[i]))
    i++;
  if (i == len)
    return false;
  size_t s = i;
  while (i < len && !is_blank(line[i]))
    i++;
  *tok = line + s;
  *tlen = i - s;
  *pos = i;
  return true;
}

/*
 * Normalises a host pattern into KEY (lower-case, no "www.", no ".*").
 * Returns a static reason when the pattern cannot match any host.
 */
static const char *parse_pattern(const char *p, size_t n, char *key,
                                 size_t *keylen, bool *wildcard) {
  *wildcard = false;
  if (n >= 2 && p[n - 2] == '.' && p[n - 1] == '*') {
    *wildcard = true;
    n -= 2;
  }
  if (n >= 4 && (p[0] == 'w' || p[0] == 'W') && (p[1] == 'w' || p[1] == 'W') &&
      (p[2] == 'w' || p[2] == 'W') && p[3] == '.') {
    p += 4; /* referer hosts lose their "www." too, so it could never match */
    n -= 4;
  }
  if (n == 0)
    return "empty host pattern";
  if (n >= 256)
    return "host pattern too long";
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (ch >= 'A' && ch <= 'Z')
      ch = (char)(ch + 32);
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_';
    if (!ok)
      return ch == '*' ? "'*' is only allowed as a final \".*\""
                       : "invalid character in host pattern";
    if (ch == '.' && (i == 0 || i == n - 1 || p[i - 1] == '.'))
      return "empty label in host pattern";
    key[i] = ch;
  }
  *keylen = n;
  return NULL;
}

static int channel_line(bsl_classifier *c, const char *file, int lineno,
                        const char *line, size_t len, void *ctx, char *err,
                        size_t errlen) {
  (void)ctx;
  size_t pos = 0, tlen;
  const char *tok;
  char reason[300];
  next_token(line, len, &pos, &tok, &tlen);
  int kind = -1;
  for (int k = 0; k < KIND_COUNT; k++)
    if (tlen == strlen(kind_names[k]) && memcmp(tok, kind_names[k], tlen) == 0)
      kind = k;
  if (kind < 0) {
    snprintf(reason, sizeof reason,
             "unknown kind \"%.*s\" (expected webmail, search or social)",
             (int)(tlen > 64 ? 64 : tlen), tok);
    set_err(err, errlen, file, lineno, reason);
    return -1;
  }
  if (!next_token(line, len, &pos, &tok, &tlen)) {
    set_err(err, errlen, file, lineno, "missing source name and hosts");
    return -1;
  }
  if (tlen >= BSL_DIM_MAX) {
    set_err(err, errlen, file, lineno, "source name too long");
    return -1;
  }
  const char *source = keep_name(c, tok, tlen);
  if (!source) {
    set_err(err, errlen, file, lineno, "out of memory");
    return -1;
  }
  int patterns = 0;
  while (next_token(line, len, &pos, &tok, &tlen)) {
    char key[256];
    size_t keylen = 0;
    bool wildcard;
    const char *why = parse_pattern(tok, tlen, key, &keylen, &wildcard);
    if (why) {
      snprintf(reason, sizeof reason, "%s: \"%.*s\"", why,
               (int)(tlen > 64 ? 64 : tlen), tok);
      set_err(err, errlen, file, lineno, reason);
      return -1;
    }
    if (host_add(c, key, keylen, wildcard, (enum host_kind)kind, source)) {
      set_err(err, errlen, file, lineno, "out of memory");
      return -1;
    }
    patterns++;
  }
  if (patterns == 0) {
    set_err(err, errlen, file, lineno, "no host pattern after the source");
    return -1;
  }
  return 0;
}

/*
 * Finds the rule for HOST (lower-case, no "www."): the pattern matching the
 * longest tail of the host wins; at equal tails a plain host beats a ".*"
 * pattern and the kinds go in SPEC order.  Returns false when none matches.
 */
static bool host_lookup(const bsl_classifier *c, const char *host,
                        enum host_kind *kind, const char **source) {
  size_t len = strlen(host);
  size_t starts[130];
  size_t n = 0;
  starts[n++] = 0;
  for (size_t i = 0; i < len; i++) {
    if (host[i] == '.') {
      if (n == sizeof starts / sizeof starts[0])
        return false;
      starts[n++] = i + 1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const struct host_rule *hit =
        host_find(c, host + starts[i], len - starts[i], false);
    /* "google.*" at label i: one or two labels follow "google". */
    for (size_t tail = 1; !hit && tail <= 2 && i + tail < n; tail++) {
      size_t end = starts[n - tail] - 1;
      hit = host_find(c, host + starts[i], end - starts[i], true);
    }
    if (!hit)
      continue;
    for (int k = 0; k < KIND_COUNT; k++) {
      if (hit->source[k]) {
        *kind = (enum host_kind)k;
        *source = hit->source[k];
        return true;
      }
    }
  }
  return false;
}

/* ---- life cycle --------------------------------------------------------- */

static int load_rules(bsl_classifier *c, const char *name, const char *text,
                      const char *path, line_fn fn, void *ctx, char *err,
                      size_t errlen) {
  int rc = for_each_line(c, name, text, strlen(text), fn, ctx, err, errlen);
  if (rc != 0 || !path)
    return rc;
  char *buf;
  size_t len;
  if (read_file(path, &buf, &len, err, errlen) != 0)
    return -1;
  rc = for_each_line(c, path, buf, len, fn, ctx, err, errlen);
  free(buf);
  return rc;
}

static int set_extensions(bsl_classifier *c, const bsl_classifier_options *o,
                          char *err, size_t errlen) {
  const char *const *list = default_static_exts;
  size_t n = sizeof default_static_exts / sizeof default_static_exts[0];
  if (o && o->static_extensions) {
    list = o->static_extensions;
    n = o->n_static_extensions;
  }
  c->exts = calloc(n ? n : 1, sizeof *c->exts);
  if (!c->exts) {
    set_err(err, errlen, "static_extensions", 0, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const char *e = list[i];
    while (*e == '.') /* tolerate ".css" */
      e++;
    size_t len = strlen(e);
    if (len == 0 || len >= EXT_MAX)
      continue;
    for (size_t j = 0; j <= len; j++)
      c->exts[c->n_exts][j] =
          (e[j] >= 'A' && e[j] <= 'Z') ? (char)(e[j] + 32) : e[j];
    c->n_exts++;
  }
  return 0;
}

static void free_builder(struct bot_builder *b) {
  if (!b)
    return;
  for (int k = 0; k < BOT_BUCKETS; k++)
    free(b->bucket[k].buf);
  free(b);
}

int bsl_classifier_create(bsl_classifier **out,
                          const bsl_classifier_options *opts, char *err,
                          size_t errlen) {
  *out = NULL;
  if (err && errlen)
    err[0] = '\0';
  bsl_classifier *c = calloc(1, sizeof *c);
  if (!c) {
    set_err(err, errlen, "classifier", 0, "out of memory");
    return -1;
  }
  int rc = 0;
  struct bot_builder *bots = calloc(1, sizeof *bots);
  struct alternation alt = {0};
  if (!bots) {
    set_err(err, errlen, "bots.rules", 0, "out of memory");
    rc = -1;
    goto out_free_alt;
  }
  rc = load_rules(c, "bots.rules", bsl_default_bots_rules,
                  opts ? opts->extra_bot_rules : NULL, bot_line, bots, err,
                  errlen);
  if (rc != 0)
    goto out_free_alt;
  if (join_buckets(bots, &alt) != 0) {
    set_err(err, errlen, "bots.rules", 0, "out of memory");
    rc = -1;
    goto out_free_alt;
  }
  if (alt.len > 0) {
    int code;
    PCRE2_SIZE where;
    c->bots = pcre2_compile((PCRE2_SPTR)alt.buf, alt.len, BOT_FLAGS, &code,
                            &where, NULL);
    if (!c->bots) {
      char msg[160], reason[256];
      pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
      snprintf(reason, sizeof reason, "bot patterns, once joined: %s", msg);
      set_err(err, errlen, "bots.rules", 0, reason);
      rc = -1;
      goto out_free_alt;
    }
    /* Without the JIT pcre2_match interprets: slower but still correct. */
    (void)pcre2_jit_compile(c->bots, PCRE2_JIT_COMPLETE);
    c->match = pcre2_match_data_create(1, NULL);
    if (!c->match) {
      set_err(err, errlen, "bots.rules", 0, "out of memory");
      rc = -1;
      goto out_free_alt;
    }
  }
  rc = load_rules(c, "channels.rules", bsl_default_channels_rules,
                  opts ? opts->extra_channel_rules : NULL, channel_line, NULL,
                  err, errlen);
  if (rc != 0)
    goto out_free_alt;
  rc = set_extensions(c, opts, err, errlen);
  if (rc != 0)
    goto out_free_alt;
  c->cache = calloc(UA_CACHE_SLOTS, sizeof *c->cache);
  if (!c->cache) {
    set_err(err, errlen, "classifier", 0, "out of memory");
    rc = -1;
    goto out_free_alt;
  }
  free_builder(bots);
  free(alt.buf);
  *out = c;
  return 0;

out_free_alt:
  free_builder(bots);
  free(alt.buf);
  bsl_classifier_destroy(c);
  return rc;
}

void bsl_classifier_destroy(bsl_classifier *c) {
  if (!c)
    return;
  pcre2_match_data_free(c->match);
  pcre2_code_free(c->bots);
  for (size_t i = 0; i < c->hosts_cap; i++)
    free(c->hosts[i].key);
  free(c->hosts);
  for (size_t i = 0; i < c->n_names; i++)
    free(c->names[i]);
  free(c->names);
  free(c->exts);
  free(c->cache);
  free(c);
}

/* ---- user agents -------------------------------------------------------- */

static bool has(const char *ua, size_t len, const char *tok) {
  return memmem(ua, len, tok, strlen(tok)) != NULL;
}

/* "Tablet PC" is how old Windows desktops announce pen support. */
static bool has_tablet_word(const char *ua, size_t len) {
  const char *p = ua, *end = ua + len;
  while ((p = memmem(p, (size_t)(end - p), "Tablet", 6)) != NULL) {
    if ((size_t)(end - p) < 9 || memcmp(p + 6, " PC", 3) != 0)
      return true;
    p += 6;
  }
  return false;
}

/*
 * Tablets first: their agents often also say "Mobile" (iPad Safari,
 * Kindle's Silk).  An Android agent without "Mobile" is a tablet by
 * Google's own convention for Chrome on Android.
 */
static enum bsl_device detect_device(const char *ua, size_t len) {
  if (len == 0)
    return BSL_DEVICE_DESKTOP;
  if (has(ua, len, "iPad") || has_tablet_word(ua, len) ||
      has(ua, len, "Kindle") || has(ua, len, "Silk/") ||
      has(ua, len, "PlayBook") || has(ua, len, "Nexus 7") ||
      has(ua, len, "Nexus 9") || has(ua, len, "Nexus 10"))
    return BSL_DEVICE_TABLET;
  if (has(ua, len, "Mobi") || has(ua, len, "iPhone") || has(ua, len, "iPod") ||
      has(ua, len, "Windows Phone") || has(ua, len, "BlackBerry") ||
      has(ua, len, "BB10") || has(ua, len, "Opera Mini") ||
      has(ua, len, "IEMobile") || has(ua, len, "J2ME") ||
      has(ua, len, "Symbian") || has(ua, len, "BREW") || has(ua, len, "iphone"))
    return BSL_DEVICE_MOBILE;
  if (has(ua, len, "Android"))
    return BSL_DEVICE_TABLET;
  return BSL_DEVICE_DESKTOP;
}

static bool detect_bot(bsl_classifier *c, const char *ua, size_t len) {
  if (len == 0 || (len == 1 && ua[0] == '-'))
    return true;
  if (!c->bots)
    return false;
  int rc = pcre2_match(c->bots, (PCRE2_SPTR)ua, len, 0, 0, c->match, NULL);
  /* A match error (limits hit on a pathological agent) is not evidence. */
  return rc >= 0;
}

void bsl_classify_ua(bsl_classifier *c, const char *ua, size_t len,
                     bool *is_bot, enum bsl_device *device) {
  if (!ua)
    len = 0;
  uint64_t h[2];
  bsl_hash128(ua ? ua : "", len, h);
  bsl_classify_ua_hashed(c, ua, len, h, is_bot, device);
}

void bsl_classify_ua_hashed(bsl_classifier *c, const char *ua, size_t len,
                            const uint64_t h[2], bool *is_bot,
                            enum bsl_device *device) {
  if (!ua)
    len = 0;
  if (len > UA_CACHE_MAX) {
    *is_bot = detect_bot(c, ua, len);
    *device = detect_device(ua, len);
    return;
  }
  /*
   * Four-way sets: with one slot per hash, a few busy agents that collide
   * would evict each other on every line.  A miss shifts the set down one
   * way, dropping the entry inserted longest ago.
   */
  struct ua_slot *set = &c->cache[h[0] & (UA_CACHE_SLOTS - UA_CACHE_WAYS)];
  for (int w = 0; w < UA_CACHE_WAYS; w++) {
    struct ua_slot *s = &set[w];
    if (s->used && s->hash[0] == h[0] && s->hash[1] == h[1] && s->len == len) {
      *is_bot = s->is_bot;
      *device = (enum bsl_device)s->device;
      return;
    }
  }
  *is_bot = detect_bot(c, ua, len);
  *device = detect_device(ua, len);
  memmove(&set[1], &set[0], (UA_CACHE_WAYS - 1) * sizeof *set);
  set[0] = (struct ua_slot){.hash = {h[0], h[1]},
                            .len = (uint16_t)len,
                            .used = true,
                            .is_bot = *is_bot,
                            .device = (uint8_t)*device};
}

/* ---- static files ------------------------------------------------------- */

bool bsl_classify_is_static(const bsl_classifier *c, const char *path,
                            size_t len) {
  if (!path)
    return false;
  size_t i = len;
  while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/')
    i--;
  if (i == 0 || path[i - 1] != '.')
    return false;
  size_t elen = len - i;
  if (elen == 0 || elen >= EXT_MAX)
    return false;
  char ext[EXT_MAX];
  for (size_t j = 0; j < elen; j++) {
    char ch = path[i + j];
    ext[j] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
  }
  ext[elen] = '\0';
  for (size_t j = 0; j < c->n_exts; j++)
    if (c->exts[j][0] == ext[0] && strcmp(ext, c->exts[j]) == 0)
      return true;
  return false;
}

/* ---- channels ----------------------------------------------------------- */

/*
 * Trims and lower-cases utm value OUT as read (N from bsl_query_params()).
 * Returns true when it is present with a non-empty value (SPEC: "present").
 */
static bool utm(int n, char out[BSL_DIM_MAX]) {
  if (n <= 0) {
    out[0] = '\0';
    return false;
  }
  size_t len = (size_t)n; /* no NUL inside: %00 is not decoded (url.c) */
  size_t s = 0;
  while (s < len && is_blank(out[s]))
    s++;
  while (len > s && is_blank(out[len - 1]))
    len--;
  memmove(out, out + s, len - s);
  out[len - s] = '\0';
  bsl_ascii_lower(out);
  return out[0] != '\0';
}

/* The site's own host, normalised like a referer host; "" when none. */
static void site_key(const char *site, char *out, size_t cap) {
  out[0] = '\0';
  if (!site || !*site)
    return;
  size_t len = strlen(site);
  if (strstr(site, "//")) {
    if (!bsl_referer_host(site, len, out, cap))
      out[0] = '\0';
    return;
  }
  /* A bare "www.example.com:8080": let the URL parser do the work. */
  char url[300];
  if (len + 8 >= sizeof url)
    return;
  memcpy(url, "http://", 7);
  memcpy(url + 7, site, len + 1);
  if (!bsl_referer_host(url, len + 7, out, cap))
    out[0] = '\0';
}

static bool is_one_of(const char *v, const char *const *list) {
  for (; *list; list++)
    if (strcmp(v, *list) == 0)
      return true;
  return false;
}

/* snprintf's truncation without its cost: this runs once per visit. */
static void copy_dim(char dst[BSL_DIM_MAX], const char *src) {
  size_t len = strnlen(src, BSL_DIM_MAX - 1);
  memcpy(dst, src, len);
  dst[len] = '\0';
}

void bsl_classify_channel(bsl_classifier *c, const bsl_str *query,
                          const bsl_str *referer, const char *site_host,
                          bsl_channel_info *out) {
  static const char *const paid_media[] = {"cpc", "ppc", "paidsearch", NULL};
  static const char *const email_media[] = {"email", "e-mail", "newsletter",
                                            NULL};
  static const char *const email_sources[] = {"newsletter", "email", NULL};
  static const char *const social_media[] = {"social", "social-network",
                                             "social-media", "sm", NULL};
  bsl_str noq = {"", 0};
  if (!query || !query->ptr)
    query = &noq;

  /* one pass over the query for all six parameters */
  static const char *const names[6] = {
      "utm_medium", "utm_source", "utm_campaign", "gclid", "dclid", "msclkid"};
  char medium[BSL_DIM_MAX], click[3][8];
  char *const outs[6] = {medium,   out->utm_source, out->campaign,
                         click[0], click[1],        click[2]};
  static const size_t caps[6] = {BSL_DIM_MAX, BSL_DIM_MAX, BSL_DIM_MAX,
                                 8,           8,           8};
  int rcs[6];
  bsl_query_params(query->ptr, query->len, names, 6, outs, caps, rcs);
  bool has_medium = utm(rcs[0], medium);
  out->has_utm_source = utm(rcs[1], out->utm_source);
  out->has_utm_campaign = utm(rcs[2], out->campaign);
  bool gclid = rcs[3] > 0, dclid = rcs[4] > 0, msclkid = rcs[5] > 0;

  /* What the referer says, needed for rules 5-9 and for source fallbacks. */
  char host[256], self[256];
  bool has_host =
      referer && referer->ptr &&
      bsl_referer_host(referer->ptr, referer->len, host, sizeof host);
  if (has_host) {
    site_key(site_host, self, sizeof self);
    if (self[0] && strcmp(host, self) == 0)
      has_host = false; /* a self-referral says nothing about the landing */
  }
  enum host_kind kind = KIND_COUNT;
  const char *known = NULL;
  if (has_host && !host_lookup(c, host, &kind, &known))
    kind = KIND_COUNT;

  if ((has_medium &&
       (is_one_of(medium, paid_media) || strncmp(medium, "paid", 4) == 0)) ||
      gclid || dclid || msclkid)
    out->channel = BSL_CHANNEL_PAID;
  else if ((has_medium && is_one_of(medium, email_media)) ||
           (out->has_utm_source && is_one_of(out->utm_source, email_sources)))
    out->channel = BSL_CHANNEL_EMAIL;
  else if (has_medium && is_one_of(medium, social_media))
    out->channel = BSL_CHANNEL_SOCIAL;
  else if (has_medium || out->has_utm_source || out->has_utm_campaign)
    out->channel = BSL_CHANNEL_CAMPAIGN;
  else if (kind == KIND_WEBMAIL)
    out->channel = BSL_CHANNEL_EMAIL;
  else if (kind == KIND_SEARCH)
    out->channel = BSL_CHANNEL_ORGANIC_SEARCH;
  else if (kind == KIND_SOCIAL)
    out->channel = BSL_CHANNEL_SOCIAL;
  else if (!has_host)
    out->channel = BSL_CHANNEL_DIRECT;
  else
    out->channel = BSL_CHANNEL_REFERRAL;

  if (out->has_utm_source)
    copy_dim(out->source, out->utm_source);
  else if (gclid || dclid)
    copy_dim(out->source, "google");
  else if (msclkid)
    copy_dim(out->source, "bing");
  else if (known)
    copy_dim(out->source, known);
  else if (has_host)
    copy_dim(out->source, host);
  else
    copy_dim(out->source, "(direct)");

  static const char *const kind_medium[KIND_COUNT] = {"email", "organic",
                                                      "social"};
  if (has_medium)
    copy_dim(out->medium, medium);
  else if (gclid || dclid || msclkid)
    copy_dim(out->medium, "cpc");
  else if (kind < KIND_COUNT)
    copy_dim(out->medium, kind_medium[kind]);
  else if (has_host)
    copy_dim(out->medium, "referral");
  else
    copy_dim(out->medium, "(none)");
}

const char *bsl_channel_name(enum bsl_channel ch) {
  switch (ch) {
  case BSL_CHANNEL_DIRECT:
    return "direct";
  case BSL_CHANNEL_PAID:
    return "paid";
  case BSL_CHANNEL_EMAIL:
    return "email";
  case BSL_CHANNEL_SOCIAL:
    return "social";
  case BSL_CHANNEL_CAMPAIGN:
    return "campaign";
  case BSL_CHANNEL_ORGANIC_SEARCH:
    return "organic_search";
  case BSL_CHANNEL_REFERRAL:
    return "referral";
  }
  return "unknown";
}

const char *bsl_device_name(enum bsl_device d) {
  switch (d) {
  case BSL_DEVICE_DESKTOP:
    return "desktop";
  case BSL_DEVICE_MOBILE:
    return "mobile";
  case BSL_DEVICE_TABLET:
    return "tablet";
  }
  return "unknown";
}
