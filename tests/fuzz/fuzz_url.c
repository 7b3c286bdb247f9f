/*
 * Fuzz target for the URL helpers and the classifier's per-hit entry points.
 * The input is split at its first newline: the part before is used as a
 * query string and a user agent, the part after as a referer (and both as
 * paths and site hosts).  Each piece is copied to a buffer of exactly its
 * size, so the sanitizers catch any read past a length the caller gave.
 * Small output capacities are exercised on purpose: truncation is where
 * off-by-one writes hide.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "url.h"

static bsl_classifier *classifier(void) {
  static bsl_classifier *c;
  if (!c) {
    char err[256];
    if (bsl_classifier_create(&c, NULL, err, sizeof err) != 0)
      abort(); /* the embedded defaults must always load */
  }
  return c;
}

static char *dup_exact(const uint8_t *p, size_t n) {
  char *s = malloc(n ? n : 1);
  if (s && n)
    memcpy(s, p, n);
  return s;
}

static void exercise_query(const char *q, size_t n) {
  static const char *const names[] = {
      "utm_source", "utm_medium", "utm_campaign", "gclid", "a", "", "="};
  static const size_t caps[] = {1, 2, 4, 17, BSL_DIM_MAX};
  char out[BSL_DIM_MAX + 1];
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    for (size_t j = 0; j < sizeof caps / sizeof *caps; j++) {
      out[caps[j]] = 0x7f; /* canary just past the capacity */
      int r = bsl_query_param(q, n, names[i], out, caps[j]);
      if (r >= (int)caps[j] || out[caps[j]] != 0x7f)
        abort();
      if (r >= 0 && strnlen(out, caps[j]) > (size_t)r)
        abort();
    }
  }
}

/* True when R holds "www.www." in any case: only then may a host keep a
 * leading "www." (one is stripped, as SPEC §5 says: "www.www.example.com"
 * is a different host from "example.com"). */
static bool has_double_www(const char *r, size_t n) {
  static const char pat[] = "www.www.";
  for (size_t i = 0; i + 8 <= n; i++) {
    size_t k = 0;
    while (k < 8 && (r[i + k] | 0x20) == pat[k])
      k++;
    if (k == 8)
      return true;
  }
  return false;
}

static void exercise_referer(const char *r, size_t n) {
  static const size_t caps[] = {1, 2, 5, 64, 256};
  char out[257];
  for (size_t j = 0; j < sizeof caps / sizeof *caps; j++) {
    out[caps[j]] = 0x7f;
    if (bsl_referer_host(r, n, out, caps[j])) {
      size_t len = strlen(out);
      if (len == 0 || len >= caps[j] ||
          (strncmp(out, "www.", 4) == 0 && !has_double_www(r, n)))
        abort();
    }
    if (out[caps[j]] != 0x7f)
      abort();
    if (bsl_referer_path(r, n, out, caps[j]) && out[0] != '/')
      abort();
    if (out[caps[j]] != 0x7f)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size);
  size_t alen = nl ? (size_t)(nl - data) : size;
  size_t blen = nl ? size - alen - 1 : 0;
  char *a = dup_exact(data, alen);
  char *b = dup_exact(nl ? nl + 1 : data, blen);
  char *whole = dup_exact(data, size);
  if (!a || !b || !whole)
    goto out;

  exercise_query(a, alen);
  exercise_query(whole, size);
  exercise_referer(b, blen);
  exercise_referer(whole, size);

  bsl_classifier *c = classifier();
  bool bot;
  enum bsl_device dev;
  bsl_classify_ua(c, a, alen, &bot, &dev);
  bsl_classify_ua(c, whole, size, &bot, &dev);
  (void)bsl_classify_is_static(c, b, blen);
  (void)bsl_classify_is_static(c, whole, size);

  /* The site host is a C string: cut the referer at its first NUL. */
  char site[128];
  size_t slen = strnlen(b, blen < sizeof site - 1 ? blen : sizeof site - 1);
  memcpy(site, b, slen);
  site[slen] = '\0';
  bsl_str q = {a, alen}, r = {b, blen};
  bsl_channel_info info;
  bsl_classify_channel(c, &q, &r, site, &info);
  if (strlen(info.source) >= BSL_DIM_MAX || info.source[0] == '\0' ||
      info.medium[0] == '\0' || !bsl_channel_name(info.channel))
    abort();
  bsl_classify_channel(c, &q, &r, NULL, &info);

out:
  free(a);
  free(b);
  free(whole);
  return 0;
}
