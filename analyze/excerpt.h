/*
 * The sample kept of a line that did not parse (`rejects.excerpt`, SPEC §5):
 * enough of the line to see why its format did not match, and no client
 * address or full user agent (SPEC §7 "Privacy").  README "Reject samples"
 * states the rule:
 *   - IPv4 addresses keep their first three numbers (203.0.113.x); IPv6
 *     addresses their first three groups, or what comes before their "::"
 *     (2001:db8:85a3:x, 2001:db8::x, ::x); anywhere in the line, so
 *     forwarded-for lists and referers too;
 *   - user agents keep only the name of their first product token: a quoted
 *     field that starts with one ("Name/version ...") becomes "Mozilla/…";
 *     any other quoted field after the second that is not "-", a URL or an
 *     address list (where combined and its variants put the agent) becomes
 *     "…"; an unquoted word that starts with a product token and goes on
 *     with '+', '%' or '(' (W3C logs) becomes "Mozilla/…"; in a JSON line,
 *     the string values of a key naming an agent ("User-Agent",
 *     "http_user_agent") are cut the same way, and nothing else; a field
 *     without its closing quote runs to the end of the line;
 *   - then the first 200 bytes are kept, valid UTF-8 as it is and every
 *     other byte, control character, C1 control, bidirectional override and
 *     backslash as \xHH, so the sample is safe to print.
 * Nothing here allocates.
 */
#ifndef BSL_EXCERPT_H
#define BSL_EXCERPT_H

#include <stddef.h>

#define BSL_EXCERPT_BYTES 200
/* Room for an excerpt: every byte may become \xHH. */
#define BSL_EXCERPT_CAP (BSL_EXCERPT_BYTES * 4 + 8)

/*
 * Writes the excerpt of LINE (LEN bytes) to OUT (CAP bytes, at least
 * BSL_EXCERPT_CAP for a whole one), NUL-terminated; returns its length.
 */
size_t bsl_excerpt_make(const char *line, size_t len, char *out, size_t cap);

#endif
