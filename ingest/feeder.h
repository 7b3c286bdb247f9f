/*
 * The feeder: reads (and inflates) a file on one thread, parses and
 * classifies its lines on another, and hands them to the caller in batches,
 * in file order.  With it, `ingest` keeps both cores busy: decompression,
 * line framing and parsing run on the feeder's threads while the caller's
 * thread feeds the model, and the pipeline's writer thread commits.  The model
 * still sees every line in exactly the order of the file, so results do not
 * depend on threading.
 *
 * Memory: a feeder owns its batches (a fixed ring of them, each bounded in
 * lines and bytes) and its thread; it borrows the reader, the format and
 * the classifier's user-agent cache, which the caller must not touch from
 * bsl_feeder_start() until
 * bsl_feeder_stop() returns.  Everything a batch points to (line bytes,
 * hit fields) lives in that batch and is valid until bsl_feeder_release().
 */
#ifndef BSL_FEEDER_H
#define BSL_FEEDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hit.h"
#include "reader.h"

struct bsl_format;
struct bsl_classifier;

typedef struct bsl_feeder bsl_feeder;

/* One framed line and, when it was parsed, the result. */
typedef struct bsl_fed_line {
  bsl_line line;      /* ptr into the batch */
  bsl_hit hit;        /* valid when parsed and parse_rc == 0 */
  const char *reason; /* why parsing failed (static string) */
  int parse_rc;       /* bsl_format_parse()'s result */
  bool parsed;        /* false when no format was given */
} bsl_fed_line;

typedef struct bsl_fed_batch {
  const bsl_fed_line *lines;
  size_t n;
  uint64_t end_offset;   /* bsl_reader_offset() after the batch's last line */
  uint64_t raw_position; /* bsl_reader_raw_position() at the same point */
} bsl_fed_batch;

/*
 * Starts reading R on the feeder's threads.  FORMAT, when not NULL, parses
 * every complete line there.  CLS, when not NULL, also classifies each hit's
 * user agent and path there and fills its derived fields (hit.h), decoding
 * the parameters of hits to BEACON_PATH (when not NULL): the caller must
 * not use CLS's user-agent cache until bsl_feeder_stop().  Returns 0, or -1
 * with err set (no thread started).
 */
int bsl_feeder_start(bsl_feeder **out, bsl_reader *r, struct bsl_format *format,
                     struct bsl_classifier *cls, const char *beacon_path,
                     char *err, size_t errlen);

/*
 * Waits for the next batch.  Returns 1 with *batch set, 0 once the input
 * ended cleanly, -1 when reading failed: err holds the reader's message and
 * every line read before the failure was handed out first.  The previous
 * batch must have been released.
 */
int bsl_feeder_next(bsl_feeder *f, const bsl_fed_batch **batch, char *err,
                    size_t errlen);

/* Gives the batch from the last bsl_feeder_next() back for reuse. */
void bsl_feeder_release(bsl_feeder *f);

/* Stops the threads (they may be ahead of the caller), joins them, frees F.
 * NULL is a no-op.  The reader's position is then undefined: use the
 * end_offset of the last batch consumed. */
void bsl_feeder_stop(bsl_feeder *f);

#endif
