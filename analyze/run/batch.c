/*
 * Batch ingestion (see batch.h).
 *
 * For each file: find it by content fingerprint, skip what earlier runs
 * read, frame lines, parse, feed the model, and every so often commit the
 * model's deltas and the file's new offset in one transaction.  A crash
 * between two commits loses nothing: the next run resumes at the last
 * committed offset with the model state of that same commit.
 */
#include "batch.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "feeder.h"
#include "pipeline.h"
#include "reader.h"
#include "source.h"
#include "writer_lock.h"

typedef struct job {
  char *path;
  const bsl_source_conf *source; /* NULL: a command-line file */
  char *group;                   /* rotation set (see source.h) */
  bsl_generation gen;            /* its place in the set */
  size_t order;                  /* position in the argument list */
  size_t group_order;            /* first position of its group */
  uint64_t size;
} job;

typedef struct batch {
  const bsl_batch_options *opts;
  FILE *log;
  bsl_pipeline *pipe;
  bsl_batch_stats *stats;
  bool last_file; /* the one being read is the last: its commit unparks */
  /* progress */
  uint64_t total_bytes, done_bytes;
  double started, last_draw;
  bool drew;
} batch;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- choosing and ordering files ---- */

/* Files of one rotation set are read oldest first (access.log.2.gz,
 * access.log.1, access.log) so visits continue across them; sets keep the
 * order they were given in. */
static int job_cmp(const void *a, const void *b) {
  const job *x = a, *y = b;
  if (x->group_order != y->group_order)
    return x->group_order < y->group_order ? -1 : 1;
  int c = bsl_generation_cmp(&x->gen, &y->gen);
  if (c != 0)
    return c;
  return x->order < y->order ? -1 : (x->order > y->order);
}

/* Adds PATH, of source SRC (or NULL); PATTERN is the source's path when
 * PATH was listed from it, NULL for a file named on the command line (whose
 * rotation set then comes from its name alone). */
static int add_job(job **jobs, size_t *n, size_t *cap, const char *path,
                   const bsl_source_conf *src, const char *pattern) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*jobs)[i].path, path) == 0)
      return 0; /* the same file twice on the command line */
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    job *nj = realloc(*jobs, ncap * sizeof *nj);
    if (!nj)
      return -1;
    *jobs = nj;
    *cap = ncap;
  }
  job *j = &(*jobs)[*n];
  memset(j, 0, sizeof *j);
  j->path = strdup(path);
  j->source = src;
  j->group = malloc(strlen(path) + 1); /* a prefix of the path */
  if (j->group)
    bsl_source_set_of(pattern, path, j->group, strlen(path) + 1, &j->gen);
  j->order = *n;
  struct stat st;
  if (strcmp(path, "-") != 0 && stat(path, &st) == 0)
    j->size = (uint64_t)st.st_size;
  if (!j->path || !j->group)
    return -1;
  (*n)++;
  return 0;
}

static const bsl_source_conf *source_for(const bsl_config *cfg,
                                         const char *path) {
  char *abs = realpath(path, NULL);
  const bsl_source_conf *found = NULL;
  for (size_t i = 0; i < cfg->n_sources && !found; i++) {
    const bsl_source_conf *s = &cfg->sources[i];
    if (!s->path)
      continue;
    if (bsl_source_matches(s->path, path) ||
        (abs && bsl_source_matches(s->path, abs)))
      found = s;
  }
  free(abs);
  return found;
}

/* ---- progress ---- */

static void draw_progress(batch *b, uint64_t current_raw, bool final) {
  if (!b->opts->progress)
    return;
  double t = now_seconds();
  if (!final && t - b->last_draw < 0.2)
    return;
  b->last_draw = t;
  double elapsed = t - b->started;
  uint64_t done = b->done_bytes + current_raw;
  double frac = b->total_bytes ? (double)done / (double)b->total_bytes : 0;
  if (frac > 1)
    frac = 1;
  uint64_t lines = b->pipe ? bsl_pipeline_stats_get(b->pipe)->lines : 0;
  double rate = elapsed > 0 ? (double)lines / elapsed : 0;
  double eta = frac > 0.001 ? elapsed * (1 - frac) / frac : 0;
  char bar[31];
  int fill = (int)(frac * 30);
  for (int i = 0; i < 30; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[30] = '\0';
  fprintf(stderr, "\r[%s] %3.0f%% %7.1f/%.1f MB %9.0f lines/s ETA %4.0fs ", bar,
          frac * 100, (double)done / 1e6, (double)b->total_bytes / 1e6, rate,
          eta);
  b->drew = true;
  if (final)
    fputc('\n', stderr);
}

/* ---- one file ---- */

/* Returns 0 when the file was read, 1 when it failed (logged), -1 fatal
 * (err set; the file counts as failed too, and what it read since its last
 * commit as unsaved). */
static int ingest_file(batch *b, const job *j, char *err, size_t errlen) {
  char ferr[512];
  bsl_reader *r = NULL;
  if (bsl_reader_open(&r, j->path, ferr, sizeof ferr) != 0) {
    fprintf(b->log, "boussole: %s\n", ferr);
    b->stats->files_failed++;
    return 1;
  }
  int rc = 0;
  bsl_input in;
  const char *why;
  int begin = bsl_pipeline_input_begin(b->pipe, &in, r, j->path, j->source,
                                       b->opts->format, b->opts->site, &why,
                                       err, errlen);
  if (begin != 0) {
    if (begin > 0) {
      /* a copytruncate copy ends before what was read from the live file
       * (the lines written meanwhile were read there): nothing is amiss */
      if (in.renamed && bsl_source_same_set(j->source ? j->source->path : NULL,
                                            j->path, in.st.path))
        fprintf(b->log,
                "boussole: %s is a copy of %s (copytruncate) that ends "
                "before what was already read from it; nothing new to read\n",
                j->path, in.st.path);
      else if (strcmp(why, "empty") != 0)
        fprintf(b->log, "boussole: %s: %s; skipped\n", j->path, why);
      b->stats->files_known++;
    }
    rc = begin < 0 ? -1 : 0;
    goto out_fatal;
  }

  /* --flush-lines is kept to the letter; the default, BSL_BATCH_FLUSH_LINES,
   * is the pipeline's (set below bsl_pipeline_open(): twice that while the
   * writer writes) */
  uint64_t flush_every = b->opts->flush_lines;
  uint64_t since_flush = 0;
  double flush_deadline = now_seconds() + 5.0;
  bsl_input *inputs[1] = {&in};
  /* Reading, inflating and parsing run on the feeder's thread; the model
   * and the commits stay here, in file order. */
  bsl_feeder *feeder = NULL;
  if (bsl_feeder_start(&feeder, r,
                       in.type == BSL_SOURCE_CAMPAIGN ? NULL : in.format,
                       bsl_pipeline_classifier(b->pipe),
                       bsl_model_beacon_path(bsl_pipeline_model(b->pipe)), err,
                       errlen) != 0) {
    rc = -1;
    goto out_fatal;
  }
  uint64_t consumed_offset = in.start_offset;
  const bsl_fed_batch *fb;
  int got;
  while ((got = bsl_feeder_next(feeder, &fb, ferr, sizeof ferr)) > 0) {
    for (size_t i = 0; i < fb->n; i++) {
      const bsl_fed_line *fl = &fb->lines[i];
      /* The lines were written on another core: ask for a later line's
       * bytes now so they are here when the model reads them. */
      if (i + 8 < fb->n) {
        const bsl_fed_line *ahead = &fb->lines[i + 8];
        __builtin_prefetch(ahead->line.ptr);
        __builtin_prefetch(ahead->hit.path.ptr);
        __builtin_prefetch(ahead->hit.user_agent.ptr);
      }
      if (bsl_pipeline_fed_line(b->pipe, &in, fl, err, errlen) != 0) {
        bsl_feeder_stop(feeder);
        rc = -1;
        goto out_unsaved;
      }
    }
    consumed_offset = fb->end_offset;
    uint64_t raw = fb->raw_position;
    since_flush += fb->n;
    bsl_feeder_release(feeder);
    draw_progress(b, raw, false);
    if (stop_requested)
      break;
    if ((flush_every && since_flush >= flush_every) ||
        bsl_pipeline_commit_due(b->pipe) || now_seconds() >= flush_deadline) {
      in.st.offset = (int64_t)consumed_offset;
      if (bsl_pipeline_commit_async(b->pipe, inputs, 1, err, errlen) != 0) {
        bsl_feeder_stop(feeder);
        rc = -1;
        goto out_unsaved;
      }
      since_flush = 0;
      flush_deadline = now_seconds() + 5.0;
    }
  }
  bsl_feeder_stop(feeder);
  if (got < 0) {
    fprintf(b->log, "boussole: %s\n", ferr);
    rc = 1; /* what was read so far is still committed below */
  }
  in.st.offset = (int64_t)consumed_offset;
  /* the last commit of a load leaves no visit parked (model.h) */
  if (b->last_file || stop_requested)
    bsl_model_set_parking(bsl_pipeline_model(b->pipe), false);
  if (bsl_pipeline_commit_async(b->pipe, inputs, 1, err, errlen) != 0 ||
      bsl_pipeline_sync(b->pipe, err, errlen) != 0) {
    rc = -1;
    goto out_unsaved;
  }
  if (got < 0)
    b->stats->files_failed++;
  b->stats->bytes += (uint64_t)in.st.offset - in.start_offset;
  if ((uint64_t)in.st.offset == in.start_offset && got == 0)
    b->stats->files_known++;
  else
    b->stats->files++;
  uint64_t pending = bsl_reader_pending(r);
  if (pending > 0 && !stop_requested)
    fprintf(b->log,
            "boussole: %s: last line (%llu bytes) has no newline yet; it "
            "will be read once complete\n",
            j->path, (unsigned long long)pending);
  goto out_close;

out_unsaved:
  /* A failed commit saved nothing of this file since its last commit (nor
   * the earlier commit handed to the writer thread): the summary must not
   * let those lines pass for saved. */
  b->stats->unsaved = true;
out_fatal:
  if (rc < 0)
    b->stats->files_failed++;
out_close:
  bsl_reader_close(r);
  return rc;
}

/* ---- the run ---- */

static int collect_jobs(const bsl_config *cfg, const char *const *files,
                        size_t n, job **jobs, size_t *n_jobs, FILE *log,
                        char *err, size_t errlen) {
  size_t cap = 0;
  if (n > 0) {
    for (size_t i = 0; i < n; i++)
      if (add_job(jobs, n_jobs, &cap, files[i],
                  strcmp(files[i], "-") == 0 ? NULL : source_for(cfg, files[i]),
                  NULL) != 0)
        goto out_oom;
  } else {
    if (cfg->n_sources == 0) {
      snprintf(err, errlen,
               "nothing to ingest: give FILE arguments or configure a "
               "[source] (see boussole check)");
      return -1;
    }
    for (size_t i = 0; i < cfg->n_sources; i++) {
      const bsl_source_conf *s = &cfg->sources[i];
      if (!s->path)
        continue;
      bsl_source_file *listed;
      size_t n_files;
      if (bsl_source_list(s->path, &listed, &n_files) != 0) {
        snprintf(err, errlen, "source \"%s\": cannot expand %s", s->name,
                 s->path);
        return -1;
      }
      if (n_files == 0)
        fprintf(log, "boussole: source \"%s\": no file matches %s\n", s->name,
                s->path);
      for (size_t k = 0; k < n_files; k++)
        if (!listed[k].vanished &&
            add_job(jobs, n_jobs, &cap, listed[k].path, s, s->path) != 0) {
          bsl_source_list_free(listed, n_files);
          goto out_oom;
        }
      bsl_source_list_free(listed, n_files);
    }
  }
  for (size_t i = 0; i < *n_jobs; i++) {
    job *j = &(*jobs)[i];
    j->group_order = j->order;
    for (size_t k = 0; k < i; k++)
      if (strcmp((*jobs)[k].group, j->group) == 0) {
        j->group_order = (*jobs)[k].group_order;
        break;
      }
  }
  if (*n_jobs > 1) /* qsort(NULL, 0) is undefined */
    qsort(*jobs, *n_jobs, sizeof **jobs, job_cmp);
  return 0;
out_oom:
  snprintf(err, errlen, "out of memory");
  return -1;
}

int bsl_batch_ingest(const bsl_config *cfg, const bsl_batch_options *opts,
                     const char *const *files, size_t n, bsl_batch_stats *stats,
                     char *err, size_t errlen) {
  memset(stats, 0, sizeof *stats);
  batch b = {.opts = opts, .stats = stats};
  b.log = opts->log ? opts->log : stderr;
  b.started = now_seconds();
  job *jobs = NULL;
  size_t n_jobs = 0;
  bsl_writer_lock *lock = NULL;
  int rc = -1;

  if (collect_jobs(cfg, files, n, &jobs, &n_jobs, b.log, err, errlen) != 0)
    goto out;
  for (size_t i = 0; i < n_jobs; i++)
    b.total_bytes += jobs[i].size;

  /* One writer per store (SPEC §7): taken before the store is opened (the
   * open itself may write: migrations, the day index) and held until it is
   * closed. */
  const char *db = opts->db_path ? opts->db_path : cfg->db;
  if (bsl_writer_lock_acquire_host(&lock, db, cfg->host, "ingest", err,
                                   errlen) != 0)
    goto out;
  if (bsl_pipeline_open(&b.pipe, cfg, opts->db_path, err, errlen) != 0)
    goto out;
  if (!opts->flush_lines)
    bsl_pipeline_set_flush_lines(b.pipe, BSL_BATCH_FLUSH_LINES);
  bsl_store *store = bsl_pipeline_store(b.pipe);
  /* Nobody watches the visits of a load go by: open ones are parked
   * (model.h) until the end, and each visit row is written once.  So
   * visit_log_day is kept up row by row, as cheap as building it once
   * at the end now that rows are not rewritten (1M lines: -0.6 to -3.7%,
   * 10M: -1.7 to -4.4%, README Performance), and without the serial
   * build after the last commit. */
  bsl_model *model = bsl_pipeline_model(b.pipe);
  bsl_model_set_parking(model, bsl_store_can_park(store));

  stop_requested = 0;
  struct sigaction sa = {.sa_handler = on_stop_signal}, old_int, old_term;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  rc = 0;
  for (size_t i = 0; i < n_jobs && !stop_requested; i++) {
    b.last_file = i + 1 == n_jobs;
    int frc = ingest_file(&b, &jobs[i], err, errlen);
    b.done_bytes += jobs[i].size;
    if (frc < 0) {
      rc = -1;
      break;
    }
    if (frc > 0)
      rc = 1;
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  /* the visits still open go where readers see them, if the last file's
   * commit did not (after a failed commit they stay parked: the next run
   * takes them from there) */
  bsl_model_set_parking(model, false);
  if (rc >= 0 && bsl_model_parked(model) &&
      bsl_pipeline_commit(b.pipe, NULL, 0, err, errlen) != 0)
    rc = -1;
  if (stop_requested && rc >= 0) {
    stats->interrupted = true;
    rc = 1;
  }
  if (b.drew)
    draw_progress(&b, 0, true);

out:
  stats->seconds = now_seconds() - b.started;
  for (size_t i = 0; i < n_jobs; i++) {
    free(jobs[i].path);
    free(jobs[i].group);
  }
  free(jobs);
  if (b.pipe) {
    const bsl_pipeline_stats *ps = bsl_pipeline_stats_get(b.pipe);
    stats->lines = ps->lines;
    stats->hits = ps->hits;
    stats->rejects = ps->rejects;
    stats->visits_closed_early = bsl_pipeline_closed_early(b.pipe);
  }
  bsl_pipeline_close(b.pipe);
  bsl_writer_lock_release(lock);
  return rc;
}
