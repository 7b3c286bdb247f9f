/*
 * Batch ingestion (`boussole ingest`): reads files once from where earlier
 * runs stopped, feeds the model and commits aggregates together with read
 * positions, so re-running over the same files never counts a line twice.
 */
#ifndef BSL_BATCH_H
#define BSL_BATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* Lines between two commits of `ingest` unless --flush-lines says. */
#define BSL_BATCH_FLUSH_LINES 131072

/* `run` reads a backlog this large, and larger than the database, as a
 * bulk load: visit_log_day built once when it is read (live.c,
 * bsl_store_day_index()), cheaper than maintaining it while its open
 * visits are rewritten at every commit.  `ingest` parks them (model.h)
 * and keeps the index up. */
#define BSL_BATCH_BULK_MIN_BYTES (64u << 20)

typedef struct bsl_batch_options {
  const char *db_path;  /* overrides the config's db when non-NULL */
  const char *format;   /* format of files matching no source (default
                           "combined") */
  const char *site;     /* site of files matching no source (default "") */
  bool progress;        /* draw a progress bar on stderr */
  FILE *log;            /* per-file notes and errors; NULL: stderr */
  uint64_t flush_lines; /* commit at least every N lines (0: default) */
} bsl_batch_options;

typedef struct bsl_batch_stats {
  uint64_t files;        /* files read (fully or from their last offset) */
  uint64_t files_known;  /* files with nothing new */
  uint64_t files_failed; /* files that could not be read or saved */
  uint64_t lines, hits, rejects;
  uint64_t bytes;               /* decompressed bytes read */
  uint64_t visits_closed_early; /* by the max_open_visits cap */
  double seconds;
  bool interrupted;
  bool unsaved; /* a commit failed: lines counted in `lines` since the
                   last good commit were not saved (the next run reads
                   them again) */
} bsl_batch_stats;

/*
 * Ingests FILES (N of them; N == 0: every configured source's files).
 * Returns 0 when everything was read, 1 when some files failed (each
 * reported on the log) or the run was interrupted by SIGINT/SIGTERM after
 * saving its progress, and -1 on a fatal error (configuration, storage) with
 * a one-line message in err.  Work committed before a failure is kept.
 */
int bsl_batch_ingest(const bsl_config *cfg, const bsl_batch_options *opts,
                     const char *const *files, size_t n, bsl_batch_stats *stats,
                     char *err, size_t errlen);

#endif
