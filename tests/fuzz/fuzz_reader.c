/*
 * Fuzz target for ingest/reader.c.  The input is written to a temporary file
 * and read back as the reader sees a log: plain or gzip by its magic, every
 * line framed, then read again after skipping to a line start.  It checks the
 * reader's promises on the way - lines tile the stream without gaps, none is
 * longer than the cap, damage comes at most once and last, a plain file
 * resumed inside a line starts at the next line - and aborts on a breach, so
 * libFuzzer and the corpus replay both flag it.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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

/*
 * Skips to OFF, which may be inside a line, and reads on.  In a plain file a
 * position that does not follow a newline is where an earlier reader
 * stopped inside an over-long line, so the reader must first skip to the
 * next line start; anywhere else (gzip) it starts at OFF.  Lines then tile.
 */
static void read_from_anywhere(const char *path, const uint8_t *data,
                               uint64_t off) {
  bsl_reader *r = NULL;
  char err[256];
  if (bsl_reader_open(&r, path, err, sizeof err) != 0)
    return;
  bool plain = !bsl_reader_is_gzip(r);
  if (bsl_reader_skip_to(r, off, err, sizeof err) == 0) {
    bsl_line line;
    uint64_t at = off;
    bool first = true;
    int rc;
    while ((rc = bsl_reader_next(r, &line, err, sizeof err)) == 1) {
      if (first && plain && off > 0 && data[off - 1] != '\n') {
        CHECK(line.offset > off);
        CHECK(data[line.offset - 1] == '\n');
      } else {
        CHECK(line.offset == at);
      }
      first = false;
      at = line.end;
    }
    CHECK(rc == 0);
  }
  bsl_reader_close(r);
}

/* One scratch file per process, rewritten for each input: creating and
 * removing a file per input costs more than the reading under test, and
 * would litter /tmp when a fuzzer is killed. */
static char path[64];

static void remove_scratch(void) {
  unlink(path);
}

/*
 * True when DATA is gzip that inflates past INFLATE_CAP bytes.  Such inputs
 * are read to their end like any other (a gzip bomb is one over-long line:
 * tests/e2e/test_hostile.sh), but at inflate speed they would spend the
 * fuzzing time in zlib, not in the reader, so they are left out of the corpus.
 */
#define INFLATE_CAP (1u << 20)
static bool inflates_past_cap(const uint8_t *data, size_t size) {
  if (size < 2 || data[0] != 0x1f || data[1] != 0x8b)
    return false;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 32) != Z_OK)
    return false;
  static unsigned char out[64 * 1024];
  size_t total = 0;
  zs.next_in = (Bytef *)data;
  zs.avail_in = (uInt)size;
  while (total <= INFLATE_CAP) {
    zs.next_out = out;
    zs.avail_out = sizeof out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    total += sizeof out - zs.avail_out;
    if (rc == Z_STREAM_END && zs.avail_in >= 2 && zs.next_in[0] == 0x1f &&
        zs.next_in[1] == 0x8b) {
      inflateReset(&zs);
      continue;
    }
    if (rc != Z_OK)
      break;
  }
  inflateEnd(&zs);
  return total > INFLATE_CAP;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (inflates_past_cap(data, size))
    return -1; /* libFuzzer: do not add to the corpus */
  int fd;
  if (!path[0]) {
    snprintf(path, sizeof path, "/tmp/fuzz_reader.XXXXXX");
    fd = mkstemp(path);
    if (fd >= 0)
      atexit(remove_scratch);
  } else {
    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  }
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
    /* ... and anywhere else, at the next line start (plain files). */
    if (size > 0)
      read_from_anywhere(path, data, (uint64_t)(data[size / 2] * 7919u) % size);
  }
  return 0;
}
