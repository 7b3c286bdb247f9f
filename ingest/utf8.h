/*
 * The one rule for text that reaches the database (README "Text in the
 * database"): every TEXT value boussole writes is valid UTF-8, so that any
 * client - Python's sqlite3, pandas, a BI tool - can read every view.  A
 * NUL byte, and every byte that is not part of a well-formed UTF-8 sequence
 * (a stray continuation byte, an overlong form, a surrogate, a code point
 * past U+10FFFF, a sequence cut short), is written as the four characters
 * \xHH with lower-case hex digits, the way nginx escapes bytes in its logs.
 * Well-formed text passes unchanged, so cleaning is idempotent.
 *
 * The store applies it to every TEXT it binds (store.c); the decoders and the
 * model apply it where text enters them, so that what is compared in memory
 * (a resumed visit's pages and campaign) is what the database holds.
 * Nothing here allocates.
 */
#ifndef BSL_UTF8_H
#define BSL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when S (LEN bytes) is already clean: well-formed UTF-8 and no NUL. */
bool bsl_utf8_is_clean(const char *s, size_t len);

/*
 * Length of the well-formed UTF-8 sequence at S (1 to 4 bytes; a NUL byte
 * counts as 1), or 0 when S[0] does not start one within LEN bytes.
 */
size_t bsl_utf8_seq_len(const unsigned char *s, size_t len);

/* Length bsl_utf8_clean() writes given room enough (without the NUL). */
size_t bsl_utf8_clean_len(const char *s, size_t len);

/*
 * Writes S (LEN bytes) cleaned to OUT, NUL-terminated, within CAP bytes
 * (CAP >= 1).  A character or a \xHH that does not fit is left out whole,
 * with everything after it, so a truncated result is still clean.  Returns
 * the length written.
 */
size_t bsl_utf8_clean(const char *s, size_t len, char *out, size_t cap);

/*
 * The same, one byte at a time, for decoders whose bytes appear as they
 * decode (url.c): init, put each byte, then end, which returns the length.
 * OUT stays NUL-terminated throughout.
 */
typedef struct bsl_utf8_sink {
  char *out;
  size_t cap, len;
  unsigned char pend[4]; /* the start of a sequence not yet complete */
  unsigned npend, need;
  bool full; /* something did not fit: the rest is dropped */
} bsl_utf8_sink;

void bsl_utf8_sink_init(bsl_utf8_sink *k, char *out, size_t cap);
void bsl_utf8_sink_put(bsl_utf8_sink *k, unsigned char c);
size_t bsl_utf8_sink_end(bsl_utf8_sink *k);

#endif
