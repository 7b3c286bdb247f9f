/*
 * Line formats: turn one raw log line into a bsl_hit.
 *
 * Built-in access formats ("combined", "common", "vcombined") and
 * user-defined ones ([format] sections: a PCRE2 regex with named groups plus an
 * optional strptime-style time_format).  Each pattern is compiled once with the
 * PCRE2 JIT; a bsl_format owns its match data, so one bsl_format must be used
 * by one thread at a time.  Parsing allocates nothing.
 *
 * Named groups understood (access): remote_addr, time, method, path, query,
 * request, status, bytes, referer, user_agent, host.  When `request` is given
 * and method/path are not, the request is split into method, target and
 * protocol; a target containing '?' is split into path and query.
 */
#ifndef BSL_FORMAT_H
#define BSL_FORMAT_H

#include "hit.h"

typedef struct bsl_format bsl_format;

/* Returns true when NAME is one of the built-in access formats. */
bool bsl_format_is_builtin(const char *name);

/*
 * Creates the format called NAME.  For a built-in, regex and time_format must
 * be NULL.  For a user format, regex is required and time_format is optional
 * (NULL: accept the common log time "%d/%b/%Y:%H:%M:%S %z" and ISO 8601).
 * On error returns a negative value and writes a one-line reason (including
 * the PCRE2 message and offset) to err.  The caller owns *out and frees it
 * with bsl_format_destroy().
 */
int bsl_format_create(bsl_format **out, const char *name, const char *regex,
                      const char *time_format, char *err, size_t errlen);

/* Frees F; NULL is a no-op. */
void bsl_format_destroy(bsl_format *f);

const char *bsl_format_name(const bsl_format *f);

/*
 * Parses LINE (LEN bytes, no line terminator, may contain NUL and invalid
 * UTF-8) into *hit, whose slices point into LINE.  Returns 0 on success, or
 * -1 with *reason set to a static string ("no match", "bad timestamp",
 * "bad status", ...) when the line is a reject.
 */
int bsl_format_parse(bsl_format *f, const char *line, size_t len, bsl_hit *hit,
                     const char **reason);

/*
 * The built-in combined and common formats parse the usual line shape by
 * hand and leave anything unusual to their regex, with identical results.
 * Tests and the fuzz target turn the hand path off to compare both.
 */
void bsl_format_set_fastpath(bsl_format *f, bool on);

/*
 * Time helpers, exposed for the campaign parsers and tests.  Each returns 0
 * and stores Unix seconds (UTC) in *out, or -1 if TEXT is not a valid time.
 *  - clf: "10/Oct/2000:13:55:36 -0700" (offset optional: UTC)
 *  - iso8601: "2026-11-26T05:58:50Z", "...+01:00", "2026-11-26 05:58:50",
 *    fractional seconds allowed, a date alone means midnight UTC
 *  - strptime: a user time_format (glibc strptime conversions, %z honoured)
 */
int bsl_time_parse_clf(const char *text, size_t len, int64_t *out);
int bsl_time_parse_iso8601(const char *text, size_t len, int64_t *out);
int bsl_time_parse_format(const char *fmt, const char *text, size_t len,
                          int64_t *out);

#endif
