/*
 * Fuzz target for ingest/format.c: every input is one log line, run through
 * each built-in format, two user regex formats (one splitting `request`
 * with a strptime time_format, one with named method/path groups and the
 * CLF-or-ISO default), and each time parser.  Beyond "no crash, no sanitizer
 * report", it checks what downstream code relies on: every slice of an
 * accepted hit lies inside the line, the status is 0 or 100..999, and a
 * reject always carries a reason.  The line is copied to a buffer of exactly
 * its size so any read past the end is caught by ASan.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bsl_format *formats[5];
/* the built-ins again with the hand-written fast path off: both must agree */
static bsl_format *regex_only[2];

static void init_formats(void) {
  static const struct {
    const char *name, *regex, *time_format;
  } defs[] = {
      {"combined", NULL, NULL},
      {"common", NULL, NULL},
      {"vcombined", NULL, NULL},
      {"fuzz-request",
       "^(?<remote_addr>\\S+) \\S+ \\S+ \\[(?<time>[^\\]]+)\\] "
       "\"(?<request>[^\"]*)\" (?<status>\\S+) (?<bytes>\\S+)"
       "(?: \"(?<referer>[^\"]*)\" \"(?<user_agent>[^\"]*)\")?",
       "%d/%b/%Y:%H:%M:%S %z"},
      {"fuzz-parts",
       "^(?<time>[^|]*)\\|(?<host>[^|]*)\\|(?<method>[^|]*)\\|(?<path>[^|]*)"
       "(?:\\|(?<query>[^|]*))?\\|(?<status>[^|]*)\\|(?<bytes>[^|]*)$",
       NULL},
  };
  char err[256];
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
    if (bsl_format_create(&formats[i], defs[i].name, defs[i].regex,
                          defs[i].time_format, err, sizeof err) != 0)
      abort();
  for (size_t i = 0; i < 2; i++) {
    if (bsl_format_create(&regex_only[i], defs[i].name, NULL, NULL, err,
                          sizeof err) != 0)
      abort();
    bsl_format_set_fastpath(regex_only[i], false);
  }
}

static bool same_slice(bsl_str a, bsl_str b) {
  return a.len == b.len && (a.len == 0 || a.ptr == b.ptr);
}

/* The fast path of combined/common must give exactly the regex's result. */
static void check_fast_path(size_t i, const char *line, size_t size) {
  bsl_hit a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  const char *ra = NULL, *rb = NULL;
  int ca = bsl_format_parse(formats[i], line, size, &a, &ra);
  int cb = bsl_format_parse(regex_only[i], line, size, &b, &rb);
  if (ca != cb)
    abort();
  if (ca != 0) {
    if (strcmp(ra, rb) != 0)
      abort();
    return;
  }
  if (!same_slice(a.remote_addr, b.remote_addr) ||
      !same_slice(a.method, b.method) || !same_slice(a.path, b.path) ||
      !same_slice(a.query, b.query) || !same_slice(a.protocol, b.protocol) ||
      !same_slice(a.referer, b.referer) ||
      !same_slice(a.user_agent, b.user_agent) || !same_slice(a.host, b.host) ||
      a.time != b.time || a.bytes != b.bytes || a.status != b.status ||
      a.has_request != b.has_request)
    abort();
}

static void check_slice(bsl_str s, const char *line, size_t len) {
  if (s.len == 0)
    return;
  if (s.ptr < line || s.ptr + s.len > line + len)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!formats[0])
    init_formats();
  char *line = malloc(size ? size : 1);
  if (!line)
    return 0;
  if (size)
    memcpy(line, data, size);

  for (size_t i = 0; i < 2; i++)
    check_fast_path(i, line, size);
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    bsl_hit h;
    const char *reason = NULL;
    if (bsl_format_parse(formats[i], line, size, &h, &reason) != 0) {
      if (!reason || !*reason)
        abort();
      continue;
    }
    const bsl_str *all[] = {&h.remote_addr, &h.method,  &h.path,       &h.query,
                            &h.protocol,    &h.referer, &h.user_agent, &h.host};
    for (size_t j = 0; j < sizeof all / sizeof all[0]; j++)
      check_slice(*all[j], line, size);
    if (h.status != 0 && (h.status < 100 || h.status > 999))
      abort();
    if (h.bytes < -1)
      abort();
    if (!h.has_request && (h.method.len || h.path.len))
      abort();
  }

  int64_t t;
  (void)bsl_time_parse_clf(line, size, &t);
  (void)bsl_time_parse_iso8601(line, size, &t);
  (void)bsl_time_parse_format("%Y-%m-%d %H:%M:%S", line, size, &t);
  (void)bsl_time_parse_format("%d/%b/%Y:%H:%M:%S %z", line, size, &t);
  free(line);
  return 0;
}
