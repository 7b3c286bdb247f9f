/*
 * Line framing over plain files, gzip files (multi-member) and stdin.
 *
 * The reader hands out one line at a time without copying when it can: the
 * returned slice points into the reader's buffer and is valid until the next
 * call.  Offsets are byte offsets in the *decompressed* stream, so a file keeps
 * its offsets when logrotate compresses it.  Memory is fixed at open: a read
 * buffer plus a line buffer capped at BSL_LINE_MAX; a longer line is reported
 * as too long as soon as it passes the cap and its remaining bytes are skipped.
 *
 * Line ends are LF or CRLF (the CR is stripped).  In a plain file a last line
 * without its newline is not returned: it may still be being written, and
 * bsl_reader_pending() says how many bytes wait.  In a gzip stream or on
 * stdin, end of input ends the line.
 *
 * Identity: bsl_reader_open() reads ahead up to BSL_FINGERPRINT_MAX
 * decompressed bytes; bsl_reader_fingerprint() hashes a prefix of them.
 */
#ifndef BSL_READER_H
#define BSL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BSL_LINE_MAX (64 * 1024)
#define BSL_FINGERPRINT_MAX 4096
/* hex digest length of a fingerprint, without the NUL */
#define BSL_FINGERPRINT_HEX 32

typedef struct bsl_reader bsl_reader;

enum bsl_line_kind {
  BSL_LINE_OK = 0,       /* a complete line */
  BSL_LINE_TOO_LONG = 1, /* passed BSL_LINE_MAX; line holds its first bytes */
  BSL_LINE_TRUNCATED = 2 /* input ended inside a damaged gzip stream; line
                            holds what was decoded of the last line (may be
                            empty); reason says why */
};

typedef struct bsl_line {
  const char *ptr;
  size_t len;      /* without the line terminator */
  uint64_t offset; /* decompressed offset of the first byte of the line */
  uint64_t end;    /* decompressed offset just after its terminator */
  enum bsl_line_kind kind;
  const char *reason; /* static string for kinds other than OK */
} bsl_line;

/*
 * Opens PATH ("-" for stdin).  Gzip is detected by its magic bytes, not the
 * name.  Reads ahead the fingerprint prefix.  On error returns a negative
 * errno-style value and writes "PATH: reason" to err.  The caller owns
 * *out and frees it with bsl_reader_close().
 */
int bsl_reader_open(bsl_reader **out, const char *path, char *err,
                    size_t errlen);

/* Closes the file and frees R; NULL is a no-op. */
void bsl_reader_close(bsl_reader *r);

/* True when the stream is gzip-compressed. */
bool bsl_reader_is_gzip(const bsl_reader *r);

/* Compressed/raw bytes consumed from the file so far (for progress). */
uint64_t bsl_reader_raw_position(const bsl_reader *r);

/*
 * Number of decompressed bytes available for the fingerprint (at most
 * BSL_FINGERPRINT_MAX; fewer only if the whole stream is shorter).
 */
size_t bsl_reader_prefix_len(const bsl_reader *r);

/*
 * Writes the hex fingerprint (BSL_FINGERPRINT_HEX chars + NUL) of the first
 * LEN decompressed bytes (LEN <= bsl_reader_prefix_len()) to hex.
 */
void bsl_reader_fingerprint(const bsl_reader *r, size_t len,
                            char hex[BSL_FINGERPRINT_HEX + 1]);

/*
 * Skips to decompressed offset OFFSET (a line start recorded earlier): seeks a
 * plain file, decompresses and discards for gzip/stdin.  Must be called before
 * the first bsl_reader_next().  Returns 0, or negative with err set (e.g. the
 * stream is shorter than OFFSET: the caller then treats the file as new).
 */
int bsl_reader_skip_to(bsl_reader *r, uint64_t offset, char *err,
                       size_t errlen);

/*
 * Returns the next line in *line: 1 when a line (of any kind) was produced,
 * 0 at end of input, negative on an I/O error (err set, "PATH: reason").
 * After 0, bsl_reader_pending() tells how many bytes of an unterminated last
 * line remain unread in a plain file.
 */
int bsl_reader_next(bsl_reader *r, bsl_line *line, char *err, size_t errlen);

/* Bytes after the last complete line (plain files only; 0 otherwise). */
uint64_t bsl_reader_pending(const bsl_reader *r);

/* Decompressed offset just after the last line returned (0 before any). */
uint64_t bsl_reader_offset(const bsl_reader *r);

/* The underlying file descriptor (for fstat by a tailer); -1 if none. */
int bsl_reader_fd(const bsl_reader *r);

#endif
