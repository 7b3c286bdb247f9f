/*
 * The ingestion core shared by `ingest` (batch.c) and `run` (live.c): one
 * store, one classifier, one model, the line formats, and the per-file
 * state (fingerprint identity, offset, counts).  Lines go in one at a time,
 * parsed and classified by a feeder (feeder.h) in both modes;
 * bsl_pipeline_commit() writes the model's changes and the read positions of
 * the given inputs in one transaction - the exactly-once guarantee.
 *
 * A pipeline owns its store, classifier, model and formats; an input is
 * embedded by the caller and owns nothing that needs freeing.
 */
#ifndef BSL_PIPELINE_H
#define BSL_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "feeder.h"
#include "model.h"
#include "reader.h"
#include "store.h"

typedef struct bsl_pipeline bsl_pipeline;

typedef struct bsl_input {
  bsl_file_state st;     /* identity, offset and per-file counts */
  uint64_t start_offset; /* where this session started reading */
  struct bsl_format *format;
  struct bsl_campaign_parser *campaign; /* type == BSL_SOURCE_CAMPAIGN */
  int site_id;
  enum bsl_source_type type;
  bool dirty;   /* lines consumed (or a new path) since the last commit */
  bool new_row; /* st.file_id assigned by the pending commit */
  bool renamed; /* the file was known under another path (st.path is the
                   new one, saved by the next commit) */
} bsl_input;

/* Counts since the pipeline was opened. */
typedef struct bsl_pipeline_stats {
  uint64_t lines, hits, rejects;
} bsl_pipeline_stats;

/*
 * Opens the database (DB_PATH, or the config's db when NULL) and builds the
 * classifier and model from CFG, which must outlive the pipeline.  Returns 0
 * or -1 with a one-line message in err.
 */
int bsl_pipeline_open(bsl_pipeline **out, const bsl_config *cfg,
                      const char *db_path, char *err, size_t errlen);
void bsl_pipeline_close(bsl_pipeline *p);

const bsl_pipeline_stats *bsl_pipeline_stats_get(const bsl_pipeline *p);
bsl_model *bsl_pipeline_model(bsl_pipeline *p);
/* The classifier, for a feeder (see feeder.h). */
struct bsl_classifier *bsl_pipeline_classifier(bsl_pipeline *p);
/* The pipeline's store, for work between commits (KPI evaluation). */
bsl_store *bsl_pipeline_store(bsl_pipeline *p);

/*
 * Prepares IN for reader R opened on PATH: looks the file up by its
 * fingerprint and skips what was already read.  SRC is the configured source
 * or NULL, in which case FORMAT (default "combined") and SITE (default "")
 * apply.  Returns 0 when lines should be read, 1 when the file must be left
 * alone (empty, or shorter than what was read from it: *why says so; then
 * in->st is its stored row, with the path it was read from, and
 * in->renamed says whether that is another path), -1 on a fatal error (err
 * set).
 */
int bsl_pipeline_input_begin(bsl_pipeline *p, bsl_input *in, bsl_reader *r,
                             const char *path, const bsl_source_conf *src,
                             const char *format, const char *site,
                             const char **why, char *err, size_t errlen);

/*
 * Accounts one line of IN as the feeder handed it out (feeder.h): parsed
 * and classified there for an access log (FL->parsed; a line that did not
 * parse is a reject with its reason), unparsed for a campaign log, whose
 * events are parsed here.  Returns 0, or -1 when memory ran out (err set):
 * the pipeline is then failed for good (bsl_pipeline_failed): every later
 * line and commit is refused, so no read position past a line whose
 * effects were lost is ever committed.  The caller stops; the next run
 * resumes at the last commit.
 */
int bsl_pipeline_fed_line(bsl_pipeline *p, bsl_input *in,
                          const bsl_fed_line *fl, char *err, size_t errlen);

/*
 * Commits the model's pending changes and the states of INPUTS (their
 * st.offset set by the caller to the reader's offset) in one transaction.
 * Returns 0, or -1 with err set; on failure nothing is lost: a later commit
 * writes the same changes again.
 */
int bsl_pipeline_commit(bsl_pipeline *p, bsl_input *const *inputs, size_t n,
                        char *err, size_t errlen);

/*
 * Like bsl_pipeline_commit(), but the transaction runs on the pipeline's
 * writer thread while the caller goes on reading.  Returns 0 once the
 * changes are handed over; a failure of an earlier handed-over commit is
 * returned here or by bsl_pipeline_sync() (-1 with err set), and nothing of
 * it was committed.  The store must not be used by the caller between the
 * two: call bsl_pipeline_sync() before bsl_pipeline_input_begin().
 */
int bsl_pipeline_commit_async(bsl_pipeline *p, bsl_input *const *inputs,
                              size_t n, char *err, size_t errlen);

/*
 * For the daemon: hands the model's pending changes and the states of
 * INPUTS over to the writer thread, like bsl_pipeline_commit_async(), but
 * a commit that fails is not given up: its changes are kept and go again,
 * ahead of the new ones, with the next call.  The writer calls the
 * function set by bsl_pipeline_on_commit() once the transaction is done;
 * bsl_pipeline_sync() then tells how it went (0, or -1 with err set) until
 * the next call.  Without a writer thread the transaction runs here (and
 * the function is called here).  Returns 0 once handed over, or -1 when
 * memory ran out (the pipeline is failed, see bsl_pipeline_fed_line).  The
 * store must not be used by the caller until the commit is done: call
 * bsl_pipeline_sync() before bsl_pipeline_input_begin().
 */
int bsl_pipeline_commit_start(bsl_pipeline *p, bsl_input *const *inputs,
                              size_t n, char *err, size_t errlen);

/* FN(CTX) is called on the writer thread after each transaction. */
void bsl_pipeline_on_commit(bsl_pipeline *p, void (*fn)(void *), void *ctx);

/* True while a commit handed over is not done (does not wait). */
bool bsl_pipeline_commit_pending(bsl_pipeline *p);

/*
 * True when so many visits were begun or closed since the last commit that
 * the caller should commit now rather than at its usual interval: under an
 * address flood every line is a visit, and the visits waiting for a commit
 * would otherwise hold more memory than the open-visit cap allows.  Also
 * true after the lines set by bsl_pipeline_set_flush_lines().
 * 8,192: memory then follows the visits a commit carries rather than the
 * lines (a busy site's 131,072 lines begin ~17,000 visits, and each waits
 * in the model and again in a changeset): 10M lines over 7 days of the
 * realistic mix peak at 91 MB instead of 109; 4,096 gave 85 MB but +10%
 * CPU, every commit paying for walks over whole tables (README
 * Performance).
 */
#define BSL_PIPELINE_PENDING_VISITS 8192
/*
 * While the writer thread still writes the last commit, the next one is
 * due only at twice as many visits (and twice the lines set by
 * bsl_pipeline_set_flush_lines()): the model goes on with its lines instead of
 * waiting for the writer, and that commit carries more visits for the same
 * per-commit work (the open visits parked again, the aggregates' rows
 * rewritten, the WAL's pages).  The first 3M lines of the realistic 10M
 * over 7 days load in ~0.8 of the time; memory is bounded by this count
 * instead of 8,192, paid for by libpq no longer being linked (README
 * Performance, issue 18 fifth round).
 */
#define BSL_PIPELINE_PENDING_VISITS_BUSY 16384
bool bsl_pipeline_commit_due(const bsl_pipeline *p);

/*
 * Makes bsl_pipeline_commit_due() true also once N lines (0: no limit) were
 * accounted since the last commit was prepared: the daemon commits by lines
 * as well as by time, so what waits for a commit (closed visits, the
 * changeset) follows N, not the read rate times the flush interval.
 */
void bsl_pipeline_set_flush_lines(bsl_pipeline *p, uint64_t n);

/* True once memory ran out (see bsl_pipeline_fed_line). */
bool bsl_pipeline_failed(const bsl_pipeline *p);
/* Visits closed early by the max_open_visits cap since opening. */
uint64_t bsl_pipeline_closed_early(const bsl_pipeline *p);

/* Waits for the writer thread; returns 0 or its first failure (err set). */
int bsl_pipeline_sync(bsl_pipeline *p, char *err, size_t errlen);

/*
 * Prepares IN for a stream without a file behind it (a syslog listener):
 * its counts live in the sources table under KEY ("listen:ADDR"), with no
 * offset.  Returns 0 or -1 with err set.
 */
int bsl_pipeline_input_stream(bsl_pipeline *p, bsl_input *in,
                              const bsl_source_conf *src, const char *key,
                              char *err, size_t errlen);

#endif
