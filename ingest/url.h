/*
 * Small, allocation-free helpers for URLs as they appear in logs: query
 * parameters (percent-decoded, '+' read as space) and referer hosts.
 */
#ifndef BSL_URL_H
#define BSL_URL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Finds parameter NAME in QUERY (QLEN bytes, without the leading '?').
 * Returns the decoded length (truncated to CAP-1 bytes at a character
 * boundary; out is always NUL-terminated) or -1 when the parameter is
 * absent.  A parameter present with an empty value returns 0.  Invalid
 * %-escapes and %00 are kept literally; decoded bytes that are not valid
 * UTF-8 come out as \xHH (the text rule of utf8.h).
 */
int bsl_query_param(const char *query, size_t qlen, const char *name, char *out,
                    size_t cap);

/*
 * bsl_query_param() for N names in one pass over QUERY: names[i]'s value
 * goes to outs[i] (caps[i] bytes) and rcs[i] gets what bsl_query_param()
 * would have returned for it.
 */
void bsl_query_params(const char *query, size_t qlen, const char *const *names,
                      size_t n, char *const *outs, const size_t *caps,
                      int *rcs);

/*
 * The tracking beacon's parameters e (event), p (page), d (depth) and
 * t (target), decoded as bsl_query_param() does with these capacities
 * (bytes, NUL included); rc_* are its results (-1 absent, 0 empty, else
 * the length).  The strings are NUL-terminated ("" when absent or empty)
 * and live in the caller's buffer given to bsl_beacon_params_parse().
 */
#define BSL_BEACON_EVENT_CAP 256
#define BSL_BEACON_PAGE_CAP 1024
#define BSL_BEACON_DEPTH_CAP 32
#define BSL_BEACON_TARGET_CAP 256
/* the most bsl_beacon_params_parse() writes */
#define BSL_BEACON_BYTES                                                       \
  (BSL_BEACON_EVENT_CAP + BSL_BEACON_PAGE_CAP + BSL_BEACON_DEPTH_CAP +         \
   BSL_BEACON_TARGET_CAP)

typedef struct bsl_beacon_params {
  const char *event, *page, *depth, *target;
  int rc_event, rc_page, rc_depth, rc_target;
} bsl_beacon_params;

/* Decodes the parameters into BUF (BSL_BEACON_BYTES at least), one value
 * after the other, and points OUT's strings there; returns the bytes used
 * (the four lengths plus their NULs). */
size_t bsl_beacon_params_parse(const char *query, size_t qlen,
                               bsl_beacon_params *out, char *buf);

/* Decodes a whole value as bsl_query_param() does ('+' as space, %XX,
 * the text rule); returns the length written to out. */
int bsl_url_decode(const char *v, size_t vlen, char *out, size_t cap);

/* Lower-cases ASCII letters of S in place. */
void bsl_ascii_lower(char *s);

/*
 * Extracts the host of a referer URL "scheme://[user@]host[:port]/...":
 * lower-cased, without port and without a leading "www.".  Writes it
 * NUL-terminated to out (CAP bytes) and returns true; returns false when the
 * referer is empty, "-" or has no parsable host.
 */
bool bsl_referer_host(const char *ref, size_t len, char *out, size_t cap);

/*
 * Path part of a referer URL (from the first '/' after the host up to '?' or
 * '#'), NUL-terminated in out and cleaned by the text rule (utf8.h); "/"
 * when the URL has no path.  Returns false when the referer has no parsable
 * host.  Used as the default page of a beacon.
 */
bool bsl_referer_path(const char *ref, size_t len, char *out, size_t cap);

#endif
