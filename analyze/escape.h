/*
 * Output escaping for text that comes from logs (SPEC §7 "Safe output"): the
 * one copy, for the three places boussole writes it: HTML (text and
 * attribute values), JSON string literals and the terminal.  Stateless.
 *
 * Common rules: input is taken as UTF-8; a byte that does not start a valid,
 * shortest-form sequence becomes U+FFFD.  C0 control characters and DEL are
 * never written raw: HTML and the terminal show them as the four characters
 * "\xHH" (so "\e[31m" reads as "\x1b[31m"; control pictures such as U+241B
 * are missing from many fonts), JSON as \u00XX.  C1 controls and the
 * bidirectional overrides (U+202A-202E, U+2066-2069), which could reorder what
 * a reader sees, become U+FFFD in HTML and on the terminal, and \uXXXX
 * escapes in JSON.
 */
#ifndef BSL_ESCAPE_H
#define BSL_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Writes S for HTML text or a quoted attribute value: & < > " ' as
 * entities, controls and bad bytes as above.  At most MAXCHARS characters
 * (0: no limit); a longer S ends with "…".
 */
void bsl_html_text(FILE *out, const char *s, size_t maxchars);

/* Writes S as a JSON string literal, quotes included; also escapes < > &
 * so the JSON can be embedded in HTML.  NULL is written as null. */
void bsl_json_string(FILE *out, const char *s);

/*
 * Copies S into OUT (CAP bytes, always NUL-terminated) as safe terminal text
 * of at most WIDTH columns (a character counts as one column, "\xHH" as
 * four; East Asian wide characters are not told apart), ending in "…" when
 * cut.  Returns the columns used.
 */
size_t bsl_term_text(const char *s, size_t width, char *out, size_t cap);

/* ANSI styles for the terminal renderers, written only when colour is on
 * (a TTY without NO_COLOR); never part of text from logs. */
#define BSL_ANSI_RESET "\x1b[0m"
#define BSL_ANSI_BOLD "\x1b[1m"
#define BSL_ANSI_DIM "\x1b[2m"
#define BSL_ANSI_RED "\x1b[31m"
#define BSL_ANSI_GREEN "\x1b[32m"
#define BSL_ANSI_YELLOW "\x1b[33m"

/*
 * Writes TEXT to OUT as safe terminal text (bsl_term_text's rules) in a
 * paragraph: words wrapped before column WIDTH, every line indented by
 * INDENT spaces and ended by a newline.  For messages of a few sentences.
 */
void bsl_term_paragraph(FILE *out, const char *text, int indent, int width);

#endif
