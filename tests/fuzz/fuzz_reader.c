/*
 * Fuzz target for ingest/reader.c.  The input is written to a temporary file
 * and read back as the reader sees a log: plain or gzip by its magic, every
 * line framed, then read again after skipping to a line start.  It checks the
 * reader's promises on the way - lines tile the stream without gaps, none is
 * longer than the cap, damage comes at most once and last - and aborts on a
 * breach, so libFuzzer and the corpus replay both flag it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_reader: %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* Reads every line from FIRST on; returns a line start to skip to later. */
static uint64_t read_lines(bsl_reader *r, uint64_t first, uint64_t *lines) {
  bsl_line line;
  char err[256];
  uint64_t at = first, mid = first, n = 0;
  int rc;
  bool damaged = false;
  while ((rc = bsl_reader_next(r, &line, err, sizeof err)) == 1) {
    CHECK(!damaged);
    CHECK(line.offset >= at);
    CHECK(line.end >= line.offset + line.len);
    CHECK(line.len <= BSL_LINE_MAX + 1);
    CHECK(line.len == 0 || line.ptr != NULL);
    if (line.len > 0) { /* let the sanitizers see both ends of the slice */
      volatile char ends = (char)(line.ptr[0] ^ line.ptr[line.len - 1]);
      (void)ends;
    }
    CHECK(line.offset == at);
    switch (line.kind) {
    case BSL_LINE_OK:
      CHECK(line.len <= BSL_LINE_MAX);
      CHECK(line.reason == NULL);
      break;
    case BSL_LINE_TOO_LONG:
      CHECK(line.reason != NULL);
      break;
    case BSL_LINE_TRUNCATED:
      CHECK(line.reason != NULL);
      CHECK(bsl_reader_is_gzip(r));
      damaged = true;
      break;
    default:
      CHECK(0);
    }
    at = line.end;
    CHECK(bsl_reader_offset(r) == at);
    if (++n % 2 == 0 && line.kind == BSL_LINE_OK)
      mid = line.end;
  }
  CHECK(rc == 0);
  CHECK(bsl_reader_next(r, &line, err, sizeof err) == 0);
  *lines = n;
  return mid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[] = "/tmp/fuzz_reader.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    return 0;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0)
      break;
    done += (size_t)n;
  }
  close(fd);

  bsl_reader *r = NULL;
  char err[256];
  if (bsl_reader_open(&r, path, err, sizeof err) == 0) {
    size_t plen = bsl_reader_prefix_len(r);
    CHECK(plen <= BSL_FINGERPRINT_MAX);
    CHECK(bsl_reader_is_gzip(r) ||
          plen == (size < BSL_FINGERPRINT_MAX ? size : BSL_FINGERPRINT_MAX));
    char hex[BSL_FINGERPRINT_HEX + 1];
    bsl_reader_fingerprint(r, plen, hex);
    CHECK(strlen(hex) == BSL_FINGERPRINT_HEX);
    uint64_t lines, again;
    uint64_t mid = read_lines(r, 0, &lines);
    bsl_reader_close(r);

    /* Skipping to a line start must resume exactly there. */
    if (bsl_reader_open(&r, path, err, sizeof err) == 0) {
      if (bsl_reader_skip_to(r, mid, err, sizeof err) == 0)
        read_lines(r, mid, &again);
      bsl_reader_close(r);
    }
  }
  unlink(path);
  return 0;
}
