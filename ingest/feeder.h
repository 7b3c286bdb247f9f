/*
 * The feeder: the one place where lines become hits.  It parses and
 * classifies lines on a thread of its own and hands them to the caller in
 * batches, in the order they came.  The lines come either from a file read
 * (and inflated) on a second thread of the feeder (bsl_feeder_start(), for
 * `ingest`), or from any number of inputs (bsl_feeder_start_lines(), for
 * `run`): reads the caller asks for one at a time (bsl_feeder_read(): the
 * tail decides what to read, in rotation order, and the feeder's reader
 * thread reads it), and lines the caller hands over itself
 * (bsl_feeder_add(): syslog).  Either way the caller's thread only feeds
 * the model, so both cores are busy, and the model still sees every line in
 * exactly the order it was read: results do not depend on threading.
 *
 * Memory: a feeder owns its batches (a fixed ring of them, each bounded in
 * lines and bytes) and its threads; it borrows the reader, the formats and
 * the classifier's user-agent cache, which the caller must not touch from
 * bsl_feeder_start() until bsl_feeder_stop() returns.  Everything a batch
 * points to (line bytes, hit fields) lives in that batch and is valid until
 * bsl_feeder_release().
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
struct bsl_beacon_params;

typedef struct bsl_feeder bsl_feeder;

/* One framed line and, when it was parsed, the result. */
typedef struct bsl_fed_line {
  bsl_line line;      /* ptr into the batch */
  bsl_hit hit;        /* valid when parsed and parse_rc == 0 */
  const char *reason; /* why parsing failed (static string) */
  int parse_rc;       /* bsl_format_parse()'s result */
  bool parsed;        /* false when no format was given */
  void *tag;          /* as given to bsl_feeder_add(); NULL from a reader */
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
 * Starts a feeder without a reader: the caller has it read files
 * (bsl_feeder_read()) or hands it lines with bsl_feeder_add(), each with
 * its own format, and gets them back parsed, in the same order.  CLS and
 * BEACON_PATH are as for bsl_feeder_start().  NOTIFY, when not NULL, is
 * called with NOTIFY_CTX on the parser thread each time a batch is parsed
 * and on the reader thread each time a read ends (uv_async_send(), say).
 * Returns 0, or -1 with err set (no thread started).
 */
int bsl_feeder_start_lines(bsl_feeder **out, struct bsl_classifier *cls,
                           const char *beacon_path, void (*notify)(void *),
                           void *notify_ctx, char *err, size_t errlen);

/*
 * Copies LINE into the batch being filled (feeders from
 * bsl_feeder_start_lines() only), to be parsed with FORMAT (NULL: handed
 * out unparsed, as a campaign line) and given back with TAG.  A batch that
 * fills up goes to the parser thread at once.  Returns 0 when LINE was
 * taken, 1 when every batch is in flight and nothing was taken: the caller
 * consumes one (bsl_feeder_next(), bsl_feeder_release()) and adds LINE
 * again.
 */
int bsl_feeder_add(bsl_feeder *f, const bsl_line *line,
                   struct bsl_format *format, void *tag);

/* Hands the batch being filled, if it holds a line, to the parser thread. */
void bsl_feeder_submit(bsl_feeder *f);

/* A read for the reader thread (bsl_feeder_read()). */
typedef struct bsl_feeder_read_req {
  bsl_reader *r;
  struct bsl_format *format; /* NULL: handed out unparsed (campaign lines) */
  void *tag;                 /* given back with each line */
  size_t max_lines;
} bsl_feeder_read_req;

/* How a read ended (bsl_feeder_read_done()). */
typedef struct bsl_feeder_read_result {
  void *tag;
  int rc;          /* 1: MAX_LINES read or asked to stop, 0: end of input,
                      -1: a read error (err) */
  size_t lines;    /* lines it added to the batches */
  uint64_t offset; /* bsl_reader_offset() where it ended */
  char err[512];
} bsl_feeder_read_result;

/*
 * Has the reader thread read up to REQ->max_lines lines of REQ->r into the
 * batches (feeders from bsl_feeder_start_lines() only), in order with
 * those of bsl_feeder_add(); the batch being filled goes to the parser
 * when the read ends.  One read at a time: the reader is the thread's
 * until bsl_feeder_read_done() gave the result.  Returns 0, or -1 when a
 * read is in flight or its result not collected.
 */
int bsl_feeder_read(bsl_feeder *f, const bsl_feeder_read_req *req);

/* Asks the read in flight, if any, to end after the line it is on. */
void bsl_feeder_read_stop(bsl_feeder *f);

/* 1 with *RES set when a read ended since the last call, else 0. */
int bsl_feeder_read_done(bsl_feeder *f, bsl_feeder_read_result *res);

/*
 * Waits for the next batch.  Returns 1 with *batch set, 0 once the input
 * ended cleanly, -1 when reading failed: err holds the reader's message and
 * every line read before the failure was handed out first.  Without a
 * reader, 0 means that every batch submitted was consumed and no read is
 * in flight (it returns at once then).  The previous batch must have been
 * released.
 */
int bsl_feeder_next(bsl_feeder *f, const bsl_fed_batch **batch, char *err,
                    size_t errlen);

/* Like bsl_feeder_next() without waiting: 1 with *batch set when a parsed
 * batch is ready, else 0. */
int bsl_feeder_poll(bsl_feeder *f, const bsl_fed_batch **batch);

/* Gives the batch from the last bsl_feeder_next() back for reuse. */
void bsl_feeder_release(bsl_feeder *f);

/* Stops the threads (they may be ahead of the caller), joins them, frees F.
 * NULL is a no-op.  The reader's position is then undefined: use the
 * end_offset of the last batch consumed. */
void bsl_feeder_stop(bsl_feeder *f);

/*
 * Fills the derived fields of HIT (hit.h) as the feeder's parser thread
 * does: its identity digest, bot and device from CLS, whether a GET asks
 * for a static file and, when its path is BEACON_PATH (not NULL), the
 * beacon's parameters decoded into *BP and BUF (BSL_BEACON_BYTES, url.h),
 * which HIT->beacon then points to.
 * For hits that did not come through a feeder (built by hand); it uses
 * CLS's user-agent cache, so not while a feeder runs on CLS.
 */
void bsl_hit_derive(struct bsl_classifier *cls, const char *beacon_path,
                    bsl_hit *hit, struct bsl_beacon_params *bp, char *buf);

#endif
