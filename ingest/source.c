/*
 * Sources on disk (see source.h): which files a source's path stands for,
 * how they group into rotation sets, and which generation is older.
 *
 * A source's files are found with one glob of its path followed by "*"
 * (which matches everything the path matches, and the rotation suffixes
 * after it), keeping what is the path itself or a rotated generation of it.
 */
#include "source.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A rotation suffix of at most this many digits is .N, not a date. */
#define MAX_NUMBER_DIGITS 5
/* A dated suffix has at least this many digits (%Y%m%d). */
#define MIN_DATE_DIGITS 8

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

void bsl_generation_parse(const char *path, size_t *base_len,
                          bsl_generation *gen) {
  memset(gen, 0, sizeof *gen);
  size_t len = strlen(path);
  *base_len = len;
  if (len > 3 && strcmp(path + len - 3, ".gz") == 0) {
    gen->gz = true;
    len -= 3;
    *base_len = len;
  }
  /* the suffix is in the file's name, never in a directory's */
  const char *slash = memrchr(path, '/', len);
  size_t name = slash ? (size_t)(slash - path) + 1 : 0;

  size_t digits = 0;
  while (len - digits > name && is_digit(path[len - 1 - digits]))
    digits++;
  if (digits > 0 && digits <= MAX_NUMBER_DIGITS && len - digits > name + 1 &&
      path[len - 1 - digits] == '.') {
    gen->kind = BSL_GEN_NUMBERED;
    gen->number = strtol(path + len - digits, NULL, 10);
    *base_len = len - digits - 1;
    return;
  }

  /* dateext: a separator, then digits (and - or _ between them) */
  size_t i = len, n_digits = 0;
  while (i > name &&
         (is_digit(path[i - 1]) || path[i - 1] == '-' || path[i - 1] == '_')) {
    i--;
    n_digits += is_digit(path[i]);
  }
  size_t base, start;
  if (i < len && (path[i] == '-' || path[i] == '_')) {
    base = i;
    start = i + 1;
  } else if (i > name && i < len && path[i - 1] == '.') {
    base = i - 1;
    start = i;
  } else {
    return;
  }
  if (base <= name || start >= len || !is_digit(path[start]) ||
      n_digits < MIN_DATE_DIGITS)
    return;
  size_t k = 0;
  for (size_t j = start; j < len && k + 1 < sizeof gen->date; j++)
    if (is_digit(path[j]))
      gen->date[k++] = path[j];
  gen->date[k] = '\0';
  gen->kind = BSL_GEN_DATED;
  *base_len = base;
}

int bsl_generation_cmp(const bsl_generation *a, const bsl_generation *b) {
  /* numbered generations are older than dated ones (a switch to dateext
   * leaves the numbered ones behind), both older than the live file */
  if (a->kind != b->kind)
    return a->kind > b->kind ? -1 : 1;
  if (a->kind == BSL_GEN_NUMBERED && a->number != b->number)
    return a->number > b->number ? -1 : 1;
  if (a->kind == BSL_GEN_DATED) {
    int c = strcmp(a->date, b->date);
    if (c != 0)
      return c;
  }
  /* access.log.1.gz next to access.log.1 is being compressed from it */
  if (a->gz != b->gz)
    return a->gz ? -1 : 1;
  return 0;
}

/* True when the first LEN bytes of PATH match PATTERN. */
static bool prefix_matches(const char *pattern, const char *path, size_t len) {
  char *base = strndup(path, len);
  bool m = base && fnmatch(pattern, base, 0) == 0;
  free(base);
  return m;
}

bool bsl_source_matches(const char *pattern, const char *path) {
  if (fnmatch(pattern, path, 0) == 0)
    return true;
  size_t base;
  bsl_generation gen;
  bsl_generation_parse(path, &base, &gen);
  return base < strlen(path) && prefix_matches(pattern, path, base);
}

void bsl_source_set_of(const char *pattern, const char *path, char *set,
                       size_t cap, bsl_generation *gen) {
  size_t base, len = strlen(path);
  bsl_generation_parse(path, &base, gen);
  if (pattern && base < len && strpbrk(pattern, "*?[") == NULL &&
      strcmp(pattern, path) == 0) {
    base = len; /* the source's path names this very file */
    bool gz = gen->gz;
    memset(gen, 0, sizeof *gen);
    gen->gz = gz;
  }
  snprintf(set, cap, "%.*s", (int)base, path);
}

bool bsl_source_same_set(const char *pattern, const char *a, const char *b) {
  size_t la = strlen(a) + 1, lb = strlen(b) + 1;
  char *sa = malloc(la), *sb = malloc(lb);
  bool same = false;
  if (sa && sb) {
    bsl_generation ga, gb;
    bsl_source_set_of(pattern, a, sa, la, &ga);
    bsl_source_set_of(pattern, b, sb, lb, &gb);
    same = strcmp(sa, sb) == 0;
  }
  free(sa);
  free(sb);
  return same;
}

typedef struct listed {
  bsl_source_file f;
  size_t set_order; /* index of the first file of its set */
  size_t order;     /* index in glob order */
} listed;

static int listed_cmp(const void *a, const void *b) {
  const listed *x = a, *y = b;
  if (x->set_order != y->set_order)
    return x->set_order < y->set_order ? -1 : 1;
  int c = bsl_generation_cmp(&x->f.gen, &y->f.gen);
  if (c != 0)
    return c;
  return x->order < y->order ? -1 : (x->order > y->order);
}

void bsl_source_list_free(bsl_source_file *files, size_t n) {
  if (!files)
    return;
  for (size_t i = 0; i < n; i++) {
    free(files[i].path);
    free(files[i].set);
  }
  free(files);
}

static void free_listed(listed *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].f.path);
    free(v[i].f.set);
  }
  free(v);
}

int bsl_source_list(const char *pattern, bsl_source_file **out, size_t *n) {
  *out = NULL;
  *n = 0;
  size_t plen = strlen(pattern);
  char *wide = malloc(plen + 2);
  if (!wide)
    return -1;
  memcpy(wide, pattern, plen);
  memcpy(wide + plen, "*", 2);
  glob_t g;
  int grc = glob(wide, 0, NULL, &g);
  free(wide);
  if (grc == GLOB_NOMATCH)
    return 0;
  if (grc != 0)
    return -1;
  listed *v = calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof *v);
  size_t k = 0;
  if (!v)
    goto out_oom;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *p = g.gl_pathv[i];
    struct stat st;
    if (!bsl_source_matches(pattern, p))
      continue;
    bool vanished = false;
    if (stat(p, &st) != 0) {
      /* the name itself gone (not a dangling link: that stays left out) */
      struct stat link;
      if (errno != ENOENT || lstat(p, &link) == 0 || errno != ENOENT)
        continue;
      vanished = true;
      memset(&st, 0, sizeof st);
    } else if (!S_ISREG(st.st_mode)) {
      continue;
    }
    listed *l = &v[k];
    size_t len = strlen(p);
    l->f.path = strdup(p);
    l->f.set = malloc(len + 1); /* the set's name is a prefix of the path */
    if (!l->f.path || !l->f.set) {
      free(l->f.path);
      free(l->f.set);
      goto out_oom;
    }
    bsl_source_set_of(pattern, p, l->f.set, len + 1, &l->f.gen);
    l->f.st = st;
    l->f.vanished = vanished;
    l->order = k;
    l->set_order = k;
    for (size_t j = 0; j < k; j++)
      if (strcmp(v[j].f.set, l->f.set) == 0) {
        l->set_order = v[j].set_order;
        break;
      }
    k++;
  }
  globfree(&g);
  if (k == 0) {
    free(v);
    return 0;
  }
  if (k > 1)
    qsort(v, k, sizeof *v, listed_cmp);
  bsl_source_file *files = calloc(k, sizeof *files);
  if (!files) {
    free_listed(v, k);
    return -1;
  }
  for (size_t i = 0; i < k; i++)
    files[i] = v[i].f;
  free(v);
  *out = files;
  *n = k;
  return 0;
out_oom:
  free_listed(v, k);
  globfree(&g);
  return -1;
}
