/*
 * bench-parse: the floor for parsing a combined access log with PCRE2.
 *
 * bench/run.sh compares `boussole ingest` with this loop to show how much of
 * boussole's time goes to everything beyond matching lines (classification,
 * sessions, aggregation, SQLite). It does the least a regex-based parser must
 * do: read the file in large chunks, cut lines with memchr, and run one
 * JIT-compiled regex per line with match data allocated once. It keeps
 * nothing and prints only how many lines it saw and how many matched.
 *
 * usage: bench-parse FILE   (FILE may be "-" for stdin)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#define PROG "bench-parse"
#define CHUNK (4u << 20)

/* The combined format, as a typical hand-written parser would match it:
 * address, time, request, status, bytes, then optional referer and agent with
 * backslash escapes allowed inside quotes. */
static const char combined_re[] =
    "^(\\S+) \\S+ \\S+ \\[([^\\]]+)\\] \"((?:[^\"\\\\]|\\\\.)*)\" (\\d{3}) "
    "(\\d+|-)(?: \"((?:[^\"\\\\]|\\\\.)*)\" \"((?:[^\"\\\\]|\\\\.)*)\")?";

int main(int argc, char **argv) {
  if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    fprintf(argc == 2 ? stdout : stderr,
            "usage: " PROG " FILE\n"
            "Matches every line of FILE (\"-\" for stdin) against the "
            "combined-log regex\nwith PCRE2 JIT and prints the line and match "
            "counts.\n");
    return argc == 2 ? 0 : 2;
  }
  const char *path = argv[1];
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
    return 2;
  }

  int err;
  PCRE2_SIZE erroff;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)combined_re, PCRE2_ZERO_TERMINATED,
                                 0, &err, &erroff, NULL);
  if (!re) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    fprintf(stderr, PROG ": regex error at %zu: %s\n", (size_t)erroff,
            (char *)msg);
    return 2;
  }
  /* Without JIT the numbers would measure the interpreter instead. */
  int jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
  if (!jit)
    fprintf(stderr, PROG ": warning: PCRE2 JIT unavailable, interpreting\n");
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  if (!md) {
    fprintf(stderr, PROG ": out of memory\n");
    return 2;
  }

  size_t cap = CHUNK, len = 0;
  char *buf = malloc(cap);
  if (!buf) {
    fprintf(stderr, PROG ": out of memory\n");
    return 2;
  }
  unsigned long long lines = 0, matches = 0;
  for (;;) {
    /* A line longer than the buffer grows it; normal lines never do. */
    if (len == cap) {
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) {
        fprintf(stderr, PROG ": out of memory\n");
        return 2;
      }
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    if (got == 0 && ferror(f)) {
      fprintf(stderr, PROG ": %s: read error: %s\n", path, strerror(errno));
      return 2;
    }
    int eof = got == 0;
    len += got;
    char *p = buf, *end = buf + len;
    for (;;) {
      char *nl = memchr(p, '\n', (size_t)(end - p));
      if (!nl) {
        if (eof && p < end)
          nl = end; /* last line without a newline */
        else
          break;
      }
      size_t n = (size_t)(nl - p);
      if (n && p[n - 1] == '\r')
        n--;
      int rc = jit ? pcre2_jit_match(re, (PCRE2_SPTR)p, n, 0, 0, md, NULL)
                   : pcre2_match(re, (PCRE2_SPTR)p, n, 0, 0, md, NULL);
      lines++;
      if (rc > 0)
        matches++;
      p = nl < end ? nl + 1 : end;
    }
    /* Keep the incomplete tail for the next read. */
    len = (size_t)(end - p);
    memmove(buf, p, len);
    if (eof)
      break;
  }
  if (f != stdin)
    fclose(f);
  printf("lines %llu matches %llu\n", lines, matches);
  free(buf);
  pcre2_match_data_free(md);
  pcre2_code_free(re);
  return 0;
}
