/*
 * Live mode (see live.h): the run driver.
 *
 * Lines come from the tail's files (tail.h: watching, rotation, which file
 * is read next) and from the syslog listeners (syslog.h), through a feeder
 * (feeder.h): its reader thread reads the file the tail names
 * (on_tail_read(), one read at a time), the listeners' lines are added
 * here, and its parser thread parses and classifies them, the same code
 * `ingest` runs; the loop thread models the parsed batches in the order the
 * lines came.  So the loop thread only models and dispatches, and the model
 * sees the lines in exactly the order it would without the threads.
 *
 * Exactly once: a file's committed offset is the end of the last of its
 * lines that was modelled, never of one read or parsed but not modelled
 * yet; once none of its lines is in flight and no read of it is, it is the
 * reader's offset (a reader may move on without a line: the tail of an
 * over-long line).  While a read is in flight the loop thread does not
 * touch the file's reader.  A file is released by the tail only once
 * nothing it read is in flight or uncommitted.  The feeder's ring bounds
 * memory: its reader thread waits while every batch is in flight, and the
 * loop thread models the oldest before adding a listener's line.
 *
 * Every flush_interval, and every BSL_BATCH_FLUSH_LINES lines, one
 * transaction commits the model and every file's offset.  The loop thread
 * records the changes and the pipeline's writer thread applies them while
 * reading goes on (as in `ingest`); the loop learns the outcome from the writer
 * (an async handle), and only then may the tail let go of a file: once the
 * commit that wrote its final offset is done.  The store is not used by the
 * loop thread while a commit is in flight.  If a commit fails (database locked,
 * disk full) its changes are kept and go again with the next one, and reading
 * pauses until a commit succeeds, so memory stays bounded and nothing is
 * dropped.  The driver also writes the metrics file at every tick, evaluates
 * the KPIs when a period closes, stops on SIGTERM/SIGINT and reloads on SIGHUP.
 */
#include "live.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "batch.h" /* BSL_BATCH_FLUSH_LINES, BSL_BATCH_BULK_MIN_BYTES */
#include "config.h"
#include "feeder.h"
#include "kpi.h"
#include "pipeline.h"
#include "reader.h"
#include "source.h"
#include "syslog.h"
#include "tail.h"
#include "writer_lock.h"

/* A commit waits at most this long for a lock held by another process, then
 * fails and reading pauses (the loop must not freeze: see store.h). */
#define COMMIT_BUSY_TIMEOUT_MS 200

/* The longest wait between two attempts to commit to a remote database
 * that fails (commit_done()). */
#define RETRY_MAX_S 10.0

typedef struct live live;

/* An input whose lines go through the feeder: a file of the tail, or the
 * stream of a syslog listener. */
typedef struct run_input {
  bsl_input in;
  const bsl_source_conf *src;
  const bsl_reader *r; /* the tail's reader of a file; NULL for a stream */
  /* where everything before is modelled (the end of the last line
   * modelled, or the start of the first line in flight) */
  uint64_t modelled;
  /* lines handed to the feeder, not modelled yet; a read in flight
   * (reading) adds its lines when it ends, so until then this may be below
   * 0 */
  int64_t in_flight;
  bool reading;  /* the feeder's reader thread reads it (on_tail_read) */
  uint64_t sent; /* the offset in commit number SENT_IN */
  uint64_t sent_in;
  uint64_t durable; /* the offset a successful commit wrote */
  struct run_input *next;
} run_input;

typedef struct stream {
  run_input ri;
  live *L;
  bsl_syslog *sys;
  struct stream *next;
} stream;

typedef struct source_counts {
  uint64_t lines, hits, rejects;
} source_counts;

struct live {
  uv_loop_t loop;
  const bsl_live_options *opts;
  bsl_config *cfg;
  bsl_pipeline *pipe;
  bsl_writer_lock *lock; /* held from start to exit, across reloads */
  bsl_tail *tail;
  bsl_feeder *feeder;
  run_input *files; /* the files the tail reads */
  run_input *kept;  /* finished .gz files whose rows follow their renames */
  stream *streams;
  uv_async_t parsed;     /* the feeder parsed a batch */
  uv_async_t committed;  /* the writer thread finished a commit */
  uv_prepare_t handover; /* before each poll: batched lines to the feeder */
  uv_timer_t flush_timer;
  uv_signal_t sig_int, sig_term, sig_hup;
  source_counts *counts; /* per configured source, since start/reload */
  bool paused;
  bool held;  /* reading waits for the commit in flight (hold_reading) */
  bool added; /* the loop thread gave the feeder lines (on_handover) */
  /* A commit came due by lines (or visits) rather than by time: reading is
   * behind.  Once it catches up (commit_if_caught_up()) the rest is
   * committed at once, not up to flush_interval later: the end of a
   * backlog or of a burst is visible as soon as it is read. */
  bool behind;
  bool at_end; /* the last read ended at the end of its file */
  bool bulk;   /* a backlog is read as a bulk load (bulk_check()) */
  bool stopping;
  /* memory ran out while a line was accounted (bsl_pipeline_fed_line):
   * the run must end without another commit; FAILURE says why */
  bool failed, failure_logged;
  char failure[1024];
  uint64_t closed_early_before; /* by pipelines closed at reloads */
  bool commit_in_flight;        /* handed to the writer thread, not done */
  /* PostgreSQL: failed commits in a row, and when the next may start */
  unsigned failed_commits;
  double retry_at;
  uint64_t commit_seq; /* commits handed over */
  double commit_started_at;
  double last_flush_at, last_flush_seconds;
  uint64_t commits, commit_failures;
  char kpi_closed[11]; /* last closed period the KPIs were evaluated for */
  /* per configured KPI, its state at the last evaluation (-1: none yet),
   * for the metrics */
  int *kpi_state;
};

/* ---- logging: one line per event, key=value ---- */

static void log_event(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_event(const char *level, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *c = msg; *c; c++)
    if (*c == '"' || *c == '\n')
      *c = '\'';
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fprintf(stderr, "%s level=%s msg=\"%s\"\n", ts, level, msg);
  fflush(stderr);
}

static void log_failure(live *L) {
  if (L->failed && !L->failure_logged)
    log_event("error", "%s", L->failure);
  L->failure_logged = L->failed;
}

static double wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t source_index(const live *L, const bsl_source_conf *src) {
  return (size_t)(src - L->cfg->sources);
}

static void unlink_input(run_input **head, run_input *ri) {
  while (*head && *head != ri)
    head = &(*head)->next;
  if (*head)
    *head = ri->next;
}

/* ---- modelling: parsed batches, in order ---- */

static void stop_failed(live *L);
static int commit_start(live *L);
static void bulk_check(live *L);
static void hold_reading(live *L);
static void release_reading(live *L);

static void model_batch(live *L, const bsl_fed_batch *b) {
  char err[1024];
  for (size_t i = 0; i < b->n; i++) {
    const bsl_fed_line *fl = &b->lines[i];
    /* The lines were written on another core: ask for a later line's
     * bytes now so they are here when the model reads them. */
    if (i + 8 < b->n) {
      const bsl_fed_line *ahead = &b->lines[i + 8];
      __builtin_prefetch(ahead->line.ptr);
      __builtin_prefetch(ahead->hit.path.ptr);
      __builtin_prefetch(ahead->hit.user_agent.ptr);
    }
    run_input *ri = fl->tag;
    ri->in_flight--;
    ri->modelled = fl->line.end;
    if (L->failed)
      continue; /* the run ends; nothing more is committed */
    source_counts *c = &L->counts[source_index(L, ri->src)];
    int64_t lines0 = ri->in.st.lines, hits0 = ri->in.st.hits,
            rejects0 = ri->in.st.rejects;
    if (bsl_pipeline_fed_line(L->pipe, &ri->in, fl, err, sizeof err) != 0) {
      snprintf(L->failure, sizeof L->failure, "%s", err);
      L->failed = true;
    }
    c->lines += (uint64_t)(ri->in.st.lines - lines0);
    c->hits += (uint64_t)(ri->in.st.hits - hits0);
    c->rejects += (uint64_t)(ri->in.st.rejects - rejects0);
  }
}

/* Models the batches parsed so far, without waiting for more, and stops
 * early once a commit is due: the reader and parser threads keep handing
 * over batches while this runs, so without the stop a whole read (up to
 * 65,536 lines of an address flood, as many new visits) would go into one
 * commit, and memory would follow the read budget instead of
 * BSL_PIPELINE_PENDING_VISITS.  What is left stays parsed in the feeder's
 * ring for the next call. */
static void model_parsed(live *L) {
  const bsl_fed_batch *b;
  while (L->feeder && (L->paused || !bsl_pipeline_commit_due(L->pipe)) &&
         bsl_feeder_poll(L->feeder, &b) == 1) {
    model_batch(L, b);
    bsl_feeder_release(L->feeder);
  }
}

/* The read the tail asked of the feeder's reader thread ended: its lines
 * are counted in flight, and the tail decides what to read next. */
static void read_ended(live *L) {
  bsl_feeder_read_result res;
  if (!L->feeder || bsl_feeder_read_done(L->feeder, &res) != 1)
    return;
  run_input *ri = res.tag;
  ri->reading = false;
  ri->in_flight += (int64_t)res.lines;
  L->at_end = res.rc == 0;
  if (L->tail)
    bsl_tail_read_done(L->tail, res.rc, res.err);
}

/* Ends the read in flight, hands over the batch being filled and models
 * every line handed over. */
static void model_all(live *L) {
  const bsl_fed_batch *b;
  char err[512];
  bsl_feeder_read_stop(L->feeder);
  bsl_feeder_submit(L->feeder);
  while (bsl_feeder_next(L->feeder, &b, err, sizeof err) == 1) {
    model_batch(L, b);
    bsl_feeder_release(L->feeder);
  }
  read_ended(L);
}

/* A line of RI for the feeder.  Returns 0, or -1 once the run failed (it
 * ends from on_parsed(), outside the caller's callback). */
static int enqueue(live *L, run_input *ri, const bsl_line *line) {
  struct bsl_format *format =
      ri->in.type == BSL_SOURCE_CAMPAIGN ? NULL : ri->in.format;
  while (!L->failed && bsl_feeder_add(L->feeder, line, format, ri) != 0) {
    /* every batch is in flight: model the oldest (the parser is on it) */
    const bsl_fed_batch *b;
    char err[512];
    if (bsl_feeder_next(L->feeder, &b, err, sizeof err) != 1) {
      snprintf(L->failure, sizeof L->failure, "the feeder stalled");
      L->failed = true;
      break;
    }
    model_batch(L, b);
    bsl_feeder_release(L->feeder);
    /* A commit cannot start inside the tail's callback (the reader is
     * past this line, not yet modelled): reading waits, on_parsed()
     * commits. */
    if (!L->paused && bsl_pipeline_commit_due(L->pipe)) {
      hold_reading(L);
      (void)uv_async_send(&L->parsed); /* fails only once closing */
    }
  }
  if (L->failed) {
    (void)uv_async_send(&L->parsed); /* fails only once closing */
    return -1;
  }
  if (ri->in_flight++ == 0)
    ri->modelled = line->offset; /* everything before it is modelled */
  L->added = true;
  return 0;
}

/* The feeder's thread parsed a batch (called there). */
static void notify_parsed(void *async) {
  (void)uv_async_send(async); /* fails only once closing */
}

/* True when every line handed to the feeder is modelled. */
static bool all_modelled(const live *L) {
  for (const run_input *ri = L->files; ri; ri = ri->next)
    if (ri->reading || ri->in_flight != 0)
      return false;
  for (const stream *s = L->streams; s; s = s->next)
    if (s->ri.in_flight != 0)
      return false;
  return true;
}

/* See live.behind. */
static void commit_if_caught_up(live *L) {
  if (L->behind && L->at_end && !L->commit_in_flight && !L->paused &&
      !L->stopping && !L->failed && all_modelled(L)) {
    L->behind = false;
    commit_start(L);
  }
}

static void on_parsed(uv_async_t *h) {
  live *L = h->data;
  if (L->stopping || !L->pipe)
    return;
  model_parsed(L);
  read_ended(L);
  if (L->failed) {
    stop_failed(L);
    return;
  }
  /* An address flood: commit now rather than hold every new visit until
   * the next tick (memory would grow with the rate times the interval). */
  if (L->paused || !bsl_pipeline_commit_due(L->pipe)) {
    release_reading(L);
    commit_if_caught_up(L);
    return;
  }
  L->behind = true;
  if (!L->commit_in_flight && commit_start(L) == 0 && L->commit_in_flight) {
    /* the batches model_parsed() left go into the next commit, which builds
     * up while the writer thread writes this one */
    model_parsed(L);
    if (!bsl_pipeline_commit_due(L->pipe)) {
      release_reading(L);
      return;
    }
  }
  if (L->commit_in_flight)
    hold_reading(L); /* released by commit_done(); on_committed() models on */
  else
    release_reading(L);
}

/* Before the loop waits for events: what the listeners gave goes to the
 * parser even if the batch is not full (or a line read in the last turn
 * would wait for the next timer to wake the loop).  Only then: a read
 * hands over its own last batch, and a partial batch handed over at every
 * turn would cost a hand-over per wakeup. */
static void on_handover(uv_prepare_t *h) {
  live *L = h->data;
  if (L->feeder && !L->stopping && L->added)
    bsl_feeder_submit(L->feeder);
  L->added = false;
}

/* ---- the tail's callbacks ---- */

static void on_tail_log(void *ctx, const char *level, const char *msg) {
  (void)ctx;
  log_event(level, "%s", msg);
}

/* Logs why input_begin() left PATH alone.  A copytruncate copy that ends
 * before what was already read from the live file (the lines written
 * between the copy and the truncation were read there) is normal. */
static void log_left_alone(const bsl_source_conf *src, const char *path,
                           const bsl_input *in, const char *why) {
  if (in->renamed && bsl_source_same_set(src->path, path, in->st.path))
    log_event("info",
              "%s is a copy of %s (copytruncate) that ends before what was "
              "already read from it; nothing new to read",
              path, in->st.path);
  else
    log_event("warn", "%s: %s; skipped", path, why);
}

/* The store knows the file by its content: where to resume, if at all. */
static int on_tail_open(void *ctx, const bsl_source_conf *src, const char *path,
                        bsl_reader *r, bsl_tail_ident *id, char *err,
                        size_t errlen) {
  live *L = ctx;
  run_input *ri = calloc(1, sizeof *ri);
  if (!ri) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (L->commit_in_flight) { /* the store is the writer's until it is done */
    char serr[1024];
    (void)bsl_pipeline_sync(L->pipe, serr, sizeof serr); /* see commit_done */
  }
  const char *why = NULL;
  int rc = bsl_pipeline_input_begin(L->pipe, &ri->in, r, path, src, NULL, NULL,
                                    &why, err, errlen);
  if (rc > 0)
    log_left_alone(src, path, &ri->in, why);
  if (rc != 0) {
    free(ri);
    return rc;
  }
  ri->src = src;
  ri->r = r;
  ri->modelled = ri->durable = (uint64_t)ri->in.st.offset;
  ri->next = L->files;
  L->files = ri;
  id->file = ri;
  id->fp_len = ri->in.st.fp_len;
  snprintf(id->fingerprint, sizeof id->fingerprint, "%.*s", BSL_FINGERPRINT_HEX,
           ri->in.st.fingerprint);
  return 0;
}

/* The tail's turn to read FILE: the feeder's reader thread reads it. */
static int on_tail_read(void *ctx, void *file, bsl_reader *r, size_t budget) {
  live *L = ctx;
  run_input *ri = file;
  if (L->failed || !L->feeder)
    return -1;
  if (ri->in_flight == 0)
    ri->modelled = bsl_reader_offset(r); /* everything before is modelled */
  bsl_feeder_read_req req = {
      .r = r,
      .format = ri->in.type == BSL_SOURCE_CAMPAIGN ? NULL : ri->in.format,
      .tag = ri,
      .max_lines = budget};
  if (bsl_feeder_read(L->feeder, &req) != 0)
    return -1; /* cannot happen: the tail reads one file at a time */
  ri->reading = true;
  L->at_end = false;
  return 0;
}

static void on_tail_stop_read(void *ctx) {
  live *L = ctx;
  if (L->feeder)
    bsl_feeder_read_stop(L->feeder);
}

static void on_tail_renamed(void *ctx, void *file, const char *path) {
  (void)ctx;
  run_input *ri = file;
  snprintf(ri->in.st.path, sizeof ri->in.st.path, "%s", path);
  ri->in.dirty = true; /* its row takes the new path at the next commit */
}

static uint64_t modelled_offset(const run_input *ri);

static bool on_tail_committed(void *ctx, void *file, uint64_t *offset) {
  const live *L = ctx;
  const run_input *ri = file;
  *offset = ri->durable;
  return !L->commit_in_flight && ri->in_flight == 0 && !ri->reading &&
         !ri->in.dirty && ri->durable == modelled_offset(ri);
}

static void on_tail_release(void *ctx, void *file, bool keep) {
  live *L = ctx;
  run_input *ri = file;
  unlink_input(&L->files, ri);
  if (!keep) {
    free(ri);
    return;
  }
  ri->r = NULL; /* closed by the tail */
  ri->next = L->kept;
  L->kept = ri;
}

static void on_tail_forget(void *ctx, void *file) {
  live *L = ctx;
  unlink_input(&L->kept, file);
  free(file);
}

/* ---- committing ---- */

static void write_metrics(live *L);

/* Evaluates the KPIs when a period has closed since the last evaluation
 * (alerts go to the log and, detached, to alert_command). */
static void evaluate_kpis(live *L) {
  if (L->cfg->n_kpis == 0 || !L->pipe)
    return;
  char day[11], err[1024];
  bsl_store *store = bsl_pipeline_store(L->pipe);
  int64_t now = (int64_t)time(NULL);
  /* alert_command: collect finished deliveries, retry failed ones whose
   * back-off has passed (cheap when there is nothing to do) */
  bsl_kpi_deliver_options d = {.now = now};
  if (bsl_kpi_deliver(L->cfg, store, &d, NULL, err, sizeof err) != 0)
    log_event("warn", "alert delivery: %s", err);
  if (bsl_kpi_closed_through(L->cfg, store, now, day, err, sizeof err) != 0) {
    log_event("warn", "kpi: %s", err);
    return;
  }
  if (strcmp(day, L->kpi_closed) == 0)
    return;
  bsl_kpi_result *res;
  size_t n;
  if (bsl_kpi_evaluate(L->cfg, store, now, true, &res, &n, err, sizeof err) !=
      0) {
    log_event("warn", "kpi: %s", err);
    return;
  }
  log_event("info", "evaluated %zu KPI(s) through %s", n, day);
  memcpy(L->kpi_closed, day, sizeof day);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < L->cfg->n_kpis; k++)
      if (strcmp(res[i].name, L->cfg->kpis[k].name) == 0)
        L->kpi_state[k] = (int)res[i].state;
  bsl_kpi_results_free(res, n);
}

/* Where RI's row may say reading stopped: see the top of the file. */
static uint64_t modelled_offset(const run_input *ri) {
  return ri->in_flight == 0 && !ri->reading ? bsl_reader_offset(ri->r)
                                            : ri->modelled;
}

static void set_paused(live *L, bool paused) {
  L->paused = paused;
  L->held = false;
  if (L->tail)
    bsl_tail_pause(L->tail, paused);
}

/* Back-pressure: while the writer thread is still busy with one commit and
 * the next is already due, reading waits, so memory follows the open
 * visits, not the read rate times the writer's lag (a backlog or an
 * address flood read at full speed grew `run` past 1.4 GB).  Not a pause:
 * nothing failed, and the metrics do not say paused. */
static void hold_reading(live *L) {
  if (L->tail && !L->held)
    bsl_tail_pause(L->tail, true);
  L->held = true;
}

static void release_reading(live *L) {
  if (L->held && !L->paused && L->tail)
    bsl_tail_pause(L->tail, false);
  L->held = false;
}

/* Hands everything modelled so far to the writer thread (commit_done()
 * follows), or, with nothing to commit, lets finished files go.  Returns 0,
 * or -1 when nothing can be committed any more (no pipeline, or memory ran
 * out: the run ends). */
static int commit_start(live *L) {
  if (!L->pipe)
    return -1;
  if (L->commit_in_flight)
    return 0; /* the next tick, or commit_now() */
  if (L->paused && wall_seconds() < L->retry_at)
    return 0; /* backing off: see commit_done() */
  model_parsed(L);
  size_t n = 0;
  /* a failed commit's changes wait for this one, and so do visits parked
   * while a backlog was read, once it is (bulk_check()) */
  bool dirty = L->paused || bsl_model_parked(bsl_pipeline_model(L->pipe));
  for (run_input *ri = L->kept; ri; ri = ri->next)
    if (ri->in.dirty)
      n++, dirty = true;
  for (run_input *ri = L->files; ri; ri = ri->next, n++)
    dirty |= ri->in.dirty;
  for (stream *s = L->streams; s; s = s->next, n++)
    dirty |= s->ri.in.dirty;
  if (!dirty && !L->failed) {
    if (L->tail)
      bsl_tail_release_committed(L->tail);
    evaluate_kpis(L);
    return 0;
  }
  bsl_input **inputs = calloc(n ? n : 1, sizeof *inputs);
  if (!inputs)
    return 0; /* tried again at the next tick */
  size_t k = 0;
  /* renamed rows first: should one be read again meanwhile, the state of
   * the input reading it comes after and wins */
  for (run_input *ri = L->kept; ri; ri = ri->next)
    if (ri->in.dirty)
      inputs[k++] = &ri->in;
  uint64_t seq = L->commit_seq + 1;
  for (run_input *ri = L->files; ri; ri = ri->next) {
    ri->sent = modelled_offset(ri);
    ri->sent_in = seq;
    ri->in.st.offset = (int64_t)ri->sent;
    inputs[k++] = &ri->in;
  }
  for (stream *s = L->streams; s; s = s->next)
    inputs[k++] = &s->ri.in;
  char err[1024];
  double t0 = wall_seconds();
  int rc = bsl_pipeline_commit_start(L->pipe, inputs, k, err, sizeof err);
  free(inputs);
  if (rc != 0) { /* out of memory, now or before: the run ends */
    if (!L->failed)
      snprintf(L->failure, sizeof L->failure, "%s", err);
    L->failed = true;
    if (!L->stopping)
      (void)uv_async_send(&L->parsed); /* on_parsed() ends the run */
    return -1;
  }
  L->commit_seq = seq;
  L->commit_started_at = t0;
  L->commit_in_flight = true;
  return 0;
}

/* Waits for the commit in flight (normally done already) and acts on how it
 * went.  Returns 0, or -1 when it failed (reading paused). */
static int commit_done(live *L) {
  char err[1024];
  int rc = bsl_pipeline_sync(L->pipe, err, sizeof err);
  L->commit_in_flight = false;
  if (rc != 0) {
    L->commit_failures++;
    if (!L->paused)
      log_event("warn", "commit failed, reading paused until it succeeds: %s",
                err);
    set_paused(L, true);
    /* A remote database that is down is retried at growing intervals (one
     * tick, two, four... at most RETRY_MAX_S), not at every tick; a local
     * one (locked, disk full) at every tick as before. */
    if (bsl_store_is_remote(bsl_pipeline_store(L->pipe))) {
      unsigned k = L->failed_commits < 8 ? L->failed_commits : 8;
      double wait = L->cfg->flush_interval * (double)(1u << k);
      L->retry_at = wall_seconds() + (wait < RETRY_MAX_S ? wait : RETRY_MAX_S);
    }
    L->failed_commits++;
    return -1;
  }
  L->failed_commits = 0;
  L->retry_at = 0;
  L->last_flush_at = wall_seconds();
  L->last_flush_seconds = L->last_flush_at - L->commit_started_at;
  L->commits++;
  for (run_input *ri = L->files; ri; ri = ri->next)
    if (ri->sent_in == L->commit_seq)
      ri->durable = ri->sent;
  if (L->paused)
    log_event("info", "commit succeeded again; reading resumed");
  set_paused(L, false);
  /* A file is let go only once its last offset is committed. */
  if (L->tail)
    bsl_tail_release_committed(L->tail);
  evaluate_kpis(L);
  bulk_check(L);
  return 0;
}

static void sum_unread(void *ctx, const char *path, uint64_t bytes) {
  (void)path;
  *(uint64_t *)ctx += bytes;
}

/*
 * A backlog (a first run on old logs, a long stop) is read as a bulk load:
 * while at least BSL_BATCH_BULK_MIN_BYTES, and more than the database
 * holds, are unread, visit_log_day is dropped (built once when less than an
 * eighth of that is left: kept up row by row, the index tripled the
 * writer's work of a catch-up) and open visits are parked as `ingest`
 * parks them (model.h: a visit's row written once; the commit after the
 * catch-up writes those still open).  Queries stay right meanwhile, only
 * slower, and the visits of the backlog appear as they close; a run killed
 * before the build leaves it to the next start (bsl_pipeline_open()).
 * Called with no commit in flight: the store is the loop thread's.
 */
static void bulk_check(live *L) {
  if (!L->tail || !L->pipe || L->commit_in_flight || L->stopping)
    return; /* stopping: the next start builds it, not the 2 s exit */
  uint64_t unread = 0;
  bsl_tail_unread(L->tail, sum_unread, &unread);
  bsl_store *store = bsl_pipeline_store(L->pipe);
  if (!L->bulk && unread >= BSL_BATCH_BULK_MIN_BYTES &&
      (int64_t)unread > bsl_store_bytes(store)) {
    if (bsl_store_day_index(store, false) == 0) {
      L->bulk = true;
      bsl_model_set_parking(bsl_pipeline_model(L->pipe),
                            bsl_store_can_park(store));
      log_event("info", "reading a backlog of %llu bytes as a bulk load",
                (unsigned long long)unread);
    }
  } else if (L->bulk && unread < BSL_BATCH_BULK_MIN_BYTES / 8) {
    bsl_model_set_parking(bsl_pipeline_model(L->pipe), false);
    if (bsl_store_day_index(store, true) == 0)
      L->bulk = false;
    else /* tried again after the next commit */
      log_event("warn", "building visit_log_day: %s", bsl_store_error(store));
  }
}

/* Commits everything modelled so far and waits for it.  Returns 0 or -1. */
static int commit_now(live *L) {
  if (!L->pipe)
    return -1;
  L->retry_at = 0; /* now, backing off or not */
  if (L->commit_in_flight)
    (void)commit_done(L); /* a failure is retried just below */
  if (commit_start(L) != 0)
    return -1;
  return L->commit_in_flight ? commit_done(L) : 0;
}

/* The writer thread finished a commit (called there). */
static void notify_committed(void *async) {
  (void)uv_async_send(async); /* fails only once closing */
}

static void on_committed(uv_async_t *h) {
  live *L = h->data;
  if (L->stopping || !L->pipe || !L->commit_in_flight ||
      bsl_pipeline_commit_pending(L->pipe))
    return; /* stale: the commit it was for is done already */
  commit_done(L);
  if (!L->paused && !L->stopping && !L->failed &&
      bsl_pipeline_commit_due(L->pipe)) {
    L->behind = true;
    commit_start(L);
  }
  commit_if_caught_up(L);
  /* batches left parsed while a commit was due are modelled there */
  if (!L->stopping)
    (void)uv_async_send(&L->parsed); /* fails only once closing */
}

/* Every flush tick commits, then reports the state as it is, committed or
 * not (paused, unread bytes). */
static void on_flush_timer(uv_timer_t *h) {
  live *L = h->data;
  if (L->stopping)
    return;
  commit_start(L);
  write_metrics(L);
}

/* ---- metrics (Prometheus text format, for node_exporter) ---- */

static void label(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"')
      fputc('\\', f);
    if (*s == '\n')
      fputs("\\n", f);
    else
      fputc(*s, f);
  }
}

static long resident_bytes(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
      rss = 0;
    fclose(f);
  }
  return rss * sysconf(_SC_PAGESIZE);
}

typedef struct unread_list {
  const char **paths;
  uint64_t *bytes;
  size_t n, cap;
} unread_list;

static void add_unread(void *ctx, const char *path, uint64_t bytes) {
  unread_list *u = ctx;
  if (u->n == u->cap) {
    size_t ncap = u->cap ? u->cap * 2 : 16;
    const char **p = realloc(u->paths, ncap * sizeof *p);
    if (p)
      u->paths = p;
    uint64_t *b = p ? realloc(u->bytes, ncap * sizeof *b) : NULL;
    if (b)
      u->bytes = b;
    if (!p || !b)
      return; /* one sample less */
    u->cap = ncap;
  }
  u->paths[u->n] = path;
  u->bytes[u->n++] = bytes;
}

/* One boussole_unread_bytes sample per path: every file being read, and the
 * files found but not opened yet (all their bytes).  Two files under one
 * name (one deleted and still being read) add up. */
static void write_unread(live *L, FILE *f) {
  unread_list u = {0};
  if (L->tail)
    bsl_tail_unread(L->tail, add_unread, &u);
  for (size_t i = 0; i < u.n; i++) {
    bool dup = false;
    for (size_t j = 0; j < i && !dup; j++)
      dup = strcmp(u.paths[i], u.paths[j]) == 0;
    if (dup)
      continue;
    uint64_t sum = u.bytes[i];
    for (size_t j = i + 1; j < u.n; j++)
      if (strcmp(u.paths[i], u.paths[j]) == 0)
        sum += u.bytes[j];
    fprintf(f, "boussole_unread_bytes{path=\"");
    label(f, u.paths[i]);
    fprintf(f, "\"} %llu\n", (unsigned long long)sum);
  }
  free(u.paths);
  free(u.bytes);
}

/* # HELP and # TYPE of one metric (promtool wants both, HELP first). */
static void meta(FILE *f, const char *name, const char *type,
                 const char *help) {
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One gauge per KPI and state, 1 for the state it is in (a Prometheus
 * state set: alert on boussole_kpi_state{state="stalled"} == 1), and the
 * number flagged.  A KPI not evaluated yet has no samples. */
static void write_kpis(live *L, FILE *f) {
  static const enum bsl_kpi_state states[] = {
      BSL_KPI_NO_DATA,   BSL_KPI_INSUFFICIENT, BSL_KPI_MET,
      BSL_KPI_IMPROVING, BSL_KPI_OFF_TRACK,    BSL_KPI_DECLINING,
      BSL_KPI_STALLED,   BSL_KPI_GRACE};
  meta(f, "boussole_kpi_state", "gauge",
       "1 for the state each KPI was in at its last evaluation, 0 for the "
       "others");
  size_t flagged = 0;
  for (size_t k = 0; k < L->cfg->n_kpis; k++) {
    if (L->kpi_state[k] < 0)
      continue;
    flagged += bsl_kpi_state_flagged((enum bsl_kpi_state)L->kpi_state[k]);
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
      fputs("boussole_kpi_state{kpi=\"", f);
      label(f, L->cfg->kpis[k].name);
      fprintf(f, "\",state=\"%s\"} %d\n", bsl_kpi_state_name(states[i]),
              L->kpi_state[k] == (int)states[i]);
    }
  }
  meta(f, "boussole_kpis_flagged", "gauge",
       "KPIs stalled, declining, off_track or no_data at their last "
       "evaluation");
  fprintf(f, "boussole_kpis_flagged %zu\n", flagged);
  uint64_t failed, given_up;
  bsl_kpi_delivery_failures(&failed, &given_up);
  meta(f, "boussole_alert_delivery_failures_total", "counter",
       "alert_command attempts that failed (each is retried with back-off)");
  fprintf(f, "boussole_alert_delivery_failures_total %llu\n",
          (unsigned long long)failed);
  meta(f, "boussole_alert_deliveries_abandoned_total", "counter",
       "alerts whose delivery to alert_command was given up after every "
       "attempt failed");
  fprintf(f, "boussole_alert_deliveries_abandoned_total %llu\n",
          (unsigned long long)given_up);
}

static void write_metrics(live *L) {
  const char *path = L->cfg->metrics_file;
  if (!path)
    return;
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    log_event("warn", "%s: %s", tmp, strerror(errno));
    return;
  }
  static const char *const names[3] = {"lines", "hits", "rejects"};
  static const char *const helps[3] = {
      "lines read per source (since start or reload)",
      "parsed lines per source, bots included (since start or reload)",
      "lines that did not parse per source (since start or reload)"};
  for (int m = 0; m < 3; m++) {
    char name[64];
    snprintf(name, sizeof name, "boussole_%s_total", names[m]);
    meta(f, name, "counter", helps[m]);
    for (size_t i = 0; i < L->cfg->n_sources; i++) {
      source_counts *c = &L->counts[i];
      uint64_t v = m == 0 ? c->lines : m == 1 ? c->hits : c->rejects;
      fprintf(f, "%s{source=\"", name);
      label(f, L->cfg->sources[i].name);
      fprintf(f, "\"} %llu\n", (unsigned long long)v);
    }
  }
  meta(f, "boussole_unread_bytes", "gauge",
       "bytes of a file not read yet (files found but not opened included)");
  write_unread(L, f);
  meta(f, "boussole_last_commit_success_timestamp_seconds", "gauge",
       "Unix time of the last commit that succeeded (0: none yet)");
  fprintf(f, "boussole_last_commit_success_timestamp_seconds %.3f\n",
          L->last_flush_at);
  meta(f, "boussole_last_flush_timestamp_seconds", "gauge",
       "the same as boussole_last_commit_success_timestamp_seconds (older "
       "name)");
  fprintf(f, "boussole_last_flush_timestamp_seconds %.3f\n", L->last_flush_at);
  meta(f, "boussole_last_flush_duration_seconds", "gauge",
       "how long the last successful commit took");
  fprintf(f, "boussole_last_flush_duration_seconds %.6f\n",
          L->last_flush_seconds);
  meta(f, "boussole_commits_total", "counter", "commits that succeeded");
  fprintf(f, "boussole_commits_total %llu\n", (unsigned long long)L->commits);
  meta(f, "boussole_commit_failures_total", "counter",
       "commits that failed (database locked, disk full); reading pauses "
       "until one succeeds");
  fprintf(f, "boussole_commit_failures_total %llu\n",
          (unsigned long long)L->commit_failures);
  meta(f, "boussole_open_visits", "gauge", "visits open in memory");
  fprintf(f, "boussole_open_visits %zu\n",
          L->pipe ? bsl_model_open_visits(bsl_pipeline_model(L->pipe)) : 0);
  meta(f, "boussole_open_visits_limit", "gauge",
       "max_open_visits: past it the least recently active visits are "
       "closed early (0: no cap)");
  fprintf(f, "boussole_open_visits_limit %zu\n", L->cfg->max_open_visits);
  meta(f, "boussole_visits_closed_early_total", "counter",
       "open visits closed before their session_timeout because "
       "max_open_visits was reached");
  fprintf(
      f, "boussole_visits_closed_early_total %llu\n",
      (unsigned long long)(L->closed_early_before +
                           (L->pipe ? bsl_pipeline_closed_early(L->pipe) : 0)));
  meta(f, "boussole_resident_memory_bytes", "gauge",
       "resident memory of the boussole process");
  fprintf(f, "boussole_resident_memory_bytes %ld\n", resident_bytes());
  meta(f, "boussole_reading_paused", "gauge",
       "1 while reading waits for a commit to succeed");
  fprintf(f, "boussole_reading_paused %d\n", L->paused ? 1 : 0);
  write_kpis(L, f);
  if (fclose(f) != 0 || rename(tmp, path) != 0)
    log_event("warn", "%s: %s", path, strerror(errno));
}

/* ---- syslog streams ---- */

static void on_stream_line(void *ctx, const bsl_line *line) {
  stream *s = ctx;
  if (!s->L->stopping && !s->L->failed)
    enqueue(s->L, &s->ri, line);
}

static int start_stream(live *L, const bsl_source_conf *src, char *err,
                        size_t errlen) {
  stream *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  char key[300];
  snprintf(key, sizeof key, "listen:%s", src->listen);
  if (bsl_pipeline_input_stream(L->pipe, &s->ri.in, src, key, err, errlen) !=
          0 ||
      bsl_syslog_start(&s->sys, &L->loop, src, on_stream_line, s, err,
                       errlen) != 0) {
    free(s);
    return -1;
  }
  s->ri.src = src;
  s->L = L;
  s->next = L->streams;
  L->streams = s;
  log_event("info",
            "listening for syslog on udp %s (source %s); UDP may drop lines "
            "under load",
            src->listen, src->name);
  return 0;
}

/* ---- setup and teardown ---- */

static int start_sources(live *L, char *err, size_t errlen) {
  free(L->counts);
  L->counts = calloc(L->cfg->n_sources + 1, sizeof *L->counts);
  free(L->kpi_state);
  L->kpi_state = malloc((L->cfg->n_kpis + 1) * sizeof *L->kpi_state);
  if (!L->counts || !L->kpi_state) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t k = 0; k < L->cfg->n_kpis; k++)
    L->kpi_state[k] = -1;
  /* a daemon with nothing to read would otherwise sit there silently */
  if (L->cfg->n_sources == 0 && L->opts->config_path)
    log_event("warn",
              "%s has no [source]: nothing to read; add a [source] section "
              "with a path (see boussole.conf(5)) and reload",
              L->opts->config_path);
  else if (L->cfg->n_sources == 0)
    log_event("warn", "the built-in defaults have no [source] (no -c): "
                      "nothing to read; run with -c CONF naming a [source] "
                      "(see boussole.conf(5))");
  /* One writer per store (SPEC §7).  A reload keeps the lock it has when
   * the database stays the same (locking it again would refuse ourselves);
   * a reload to another database takes that one's lock first and drops the
   * old one only once the new store is open, so a refused reload leaves the
   * running configuration with its lock. */
  const char *db = L->opts->db_path ? L->opts->db_path : L->cfg->db;
  bsl_writer_lock *fresh = NULL;
  bool keep = bsl_writer_lock_covers_host(L->lock, db, L->cfg->host);
  if (!keep && bsl_writer_lock_acquire_host(&fresh, db, L->cfg->host, "run",
                                            err, errlen) != 0)
    return -1;
  if (bsl_pipeline_open(&L->pipe, L->cfg, L->opts->db_path, err, errlen) != 0) {
    bsl_writer_lock_release(fresh);
    return -1;
  }
  if (!keep) {
    bsl_writer_lock_release(L->lock);
    L->lock = fresh;
  }
  L->kpi_closed[0] = '\0'; /* evaluate once at start and after a reload */
  /* by lines as well as by time, like `ingest`: a backlog or a fast log
   * would otherwise hold rate x flush_interval lines' worth of changes */
  bsl_pipeline_set_flush_lines(L->pipe, BSL_BATCH_FLUSH_LINES);
  bsl_pipeline_on_commit(L->pipe, notify_committed, &L->committed);
  if (bsl_feeder_start_lines(&L->feeder, bsl_pipeline_classifier(L->pipe),
                             bsl_model_beacon_path(bsl_pipeline_model(L->pipe)),
                             notify_parsed, &L->parsed, err, errlen) != 0)
    return -1;
  for (size_t i = 0; i < L->cfg->n_sources; i++)
    if (L->cfg->sources[i].listen &&
        start_stream(L, &L->cfg->sources[i], err, errlen) != 0)
      return -1;
  bsl_tail_callbacks cb = {
      .ctx = L,
      .log = on_tail_log,
      .open = on_tail_open,
      .read = on_tail_read,
      .stop_read = on_tail_stop_read,
      .renamed = on_tail_renamed,
      .committed = on_tail_committed,
      .release = on_tail_release,
      .forget = on_tail_forget,
  };
  if (bsl_tail_start(&L->tail, &L->loop, L->cfg, &cb, err, errlen) != 0)
    return -1;
  L->held = false; /* a new tail reads until a commit is due again */
  if (L->paused)   /* a commit still fails: reading waits for one to pass */
    bsl_tail_pause(L->tail, true);
  bulk_check(L); /* a backlog found at start: before its first line */
  return 0;
}

/* Models what is in flight, commits, then closes the tail, every listener,
 * the feeder and the pipeline. */
static void stop_sources(live *L) {
  if (L->feeder && L->pipe && !L->failed)
    model_all(L);
  if (L->pipe) /* the last commit leaves no visit parked */
    bsl_model_set_parking(bsl_pipeline_model(L->pipe), false);
  if (commit_now(L) != 0 && L->pipe)
    log_event("warn", "last commit failed; the lines read since the previous "
                      "commit will be read again at the next start");
  write_metrics(L);
  /* first: its reader thread may still be reading a file of the tail (the
   * run failed, nothing was modelled) */
  bsl_feeder_stop(L->feeder);
  L->feeder = NULL;
  bsl_tail_stop(L->tail); /* releases every file: L->files and L->kept */
  L->tail = NULL;
  while (L->streams) {
    stream *s = L->streams;
    L->streams = s->next;
    bsl_syslog_close(s->sys);
    free(s);
  }
  if (L->pipe)
    L->closed_early_before += bsl_pipeline_closed_early(L->pipe);
  bsl_pipeline_close(L->pipe);
  L->pipe = NULL;
  L->bulk = false; /* the next bsl_pipeline_open() builds visit_log_day */
}

static void close_loop_handles(live *L) {
  uv_close((uv_handle_t *)&L->parsed, NULL);
  uv_close((uv_handle_t *)&L->committed, NULL);
  uv_close((uv_handle_t *)&L->handover, NULL);
  uv_close((uv_handle_t *)&L->flush_timer, NULL);
  uv_close((uv_handle_t *)&L->sig_int, NULL);
  uv_close((uv_handle_t *)&L->sig_term, NULL);
  uv_close((uv_handle_t *)&L->sig_hup, NULL);
}

/* Ends the run after memory ran out: the pipeline refuses every commit
 * (bsl_pipeline_failed), so stopping loses nothing committed and the next
 * start resumes at the last commit; bsl_live_run() returns the failure. */
static void stop_failed(live *L) {
  if (L->stopping)
    return;
  log_failure(L);
  L->stopping = true;
  stop_sources(L);
  close_loop_handles(L);
}

static void on_stop_signal(uv_signal_t *h, int signum) {
  live *L = h->data;
  if (L->stopping)
    return;
  log_event("info", "signal %d: committing and stopping", signum);
  L->stopping = true;
  stop_sources(L);
  log_failure(L); /* memory ran out while the last lines were modelled */
  close_loop_handles(L);
}

static void on_hup(uv_signal_t *h, int signum) {
  (void)signum;
  live *L = h->data;
  char err[1024];
  bsl_config *fresh;
  if (bsl_config_load(&fresh, L->opts->config_path, err, sizeof err) != 0) {
    log_event("error", "reload failed, keeping the running configuration: %s",
              err);
    return;
  }
  log_event("info", "reloading %s",
            L->opts->config_path ? L->opts->config_path : "built-in defaults");
  stop_sources(L);
  if (L->failed) { /* memory ran out while the last lines were modelled */
    bsl_config_destroy(fresh);
    log_failure(L);
    L->stopping = true;
    close_loop_handles(L);
    return;
  }
  bsl_config *old = L->cfg;
  L->cfg = fresh;
  if (start_sources(L, err, sizeof err) != 0) {
    log_event("error", "new configuration failed (%s); restoring the old one",
              err);
    stop_sources(L);
    bsl_config_destroy(fresh);
    L->cfg = old;
    if (start_sources(L, err, sizeof err) != 0) {
      log_event("error", "cannot restart: %s", err);
      L->stopping = true;
      stop_sources(L);
      close_loop_handles(L);
    }
    return;
  }
  bsl_config_destroy(old);
  uv_timer_set_repeat(&L->flush_timer,
                      (uint64_t)(L->cfg->flush_interval * 1000 + 0.5));
}

/* Initializes the driver's own handles (not started).  Returns 0 or a
 * libuv code. */
static int init_handles(live *L) {
  int rc;
  if ((rc = uv_async_init(&L->loop, &L->parsed, on_parsed)) != 0 ||
      (rc = uv_async_init(&L->loop, &L->committed, on_committed)) != 0 ||
      (rc = uv_prepare_init(&L->loop, &L->handover)) != 0 ||
      (rc = uv_timer_init(&L->loop, &L->flush_timer)) != 0 ||
      (rc = uv_signal_init(&L->loop, &L->sig_int)) != 0 ||
      (rc = uv_signal_init(&L->loop, &L->sig_term)) != 0 ||
      (rc = uv_signal_init(&L->loop, &L->sig_hup)) != 0) {
    /* what was initialized is closed by uv_walk */
    return rc;
  }
  L->parsed.data = L->committed.data = L;
  L->handover.data = L->flush_timer.data = L;
  L->sig_int.data = L->sig_term.data = L->sig_hup.data = L;
  return 0;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static int start_loop(live *L) {
  uint64_t flush_ms = (uint64_t)(L->cfg->flush_interval * 1000 + 0.5);
  int rc;
  if ((rc = uv_prepare_start(&L->handover, on_handover)) != 0 ||
      (rc = uv_timer_start(&L->flush_timer, on_flush_timer,
                           flush_ms ? flush_ms : 1, flush_ms ? flush_ms : 1)) !=
          0 ||
      (rc = uv_signal_start(&L->sig_int, on_stop_signal, SIGINT)) != 0 ||
      (rc = uv_signal_start(&L->sig_term, on_stop_signal, SIGTERM)) != 0 ||
      (rc = uv_signal_start(&L->sig_hup, on_hup, SIGHUP)) != 0)
    return rc;
  return 0;
}

static void free_live(live *L) {
  bsl_writer_lock_release(L->lock); /* the store is closed: another may write */
  bsl_config_destroy(L->cfg);
  free(L->counts);
  free(L->kpi_state);
  free(L);
}

int bsl_live_run(const bsl_live_options *opts, char *err, size_t errlen) {
  live *L = calloc(1, sizeof *L);
  if (!L) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  L->opts = opts;
  bsl_store_set_busy_timeout(COMMIT_BUSY_TIMEOUT_MS);
  if (bsl_config_load(&L->cfg, opts->config_path, err, errlen) != 0) {
    free(L);
    return -1;
  }
  int rc = uv_loop_init(&L->loop);
  bool loop_ok = rc == 0;
  if (rc == 0)
    rc = init_handles(L);
  if (rc != 0) {
    snprintf(err, errlen, "cannot start the event loop: %s", uv_strerror(rc));
  } else if (start_sources(L, err, errlen) != 0) {
    rc = -1;
  } else if ((rc = start_loop(L)) != 0) {
    snprintf(err, errlen, "cannot start the event loop: %s", uv_strerror(rc));
  }
  if (rc != 0) {
    L->stopping = true;
    stop_sources(L);
    if (loop_ok) {
      uv_walk(&L->loop, close_any, NULL);
      uv_run(&L->loop, UV_RUN_DEFAULT);
      (void)uv_loop_close(&L->loop);
    }
    free_live(L);
    return -1;
  }
  log_event("info", "running with %zu source(s), database %s",
            L->cfg->n_sources, opts->db_path ? opts->db_path : L->cfg->db);

  uv_run(&L->loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&L->loop) == 0 ? 0 : -1;
  if (rc != 0)
    snprintf(err, errlen, "event loop did not close cleanly");
  else if (L->failed)
    rc = -1, snprintf(err, errlen, "%s", L->failure);
  else
    log_event("info", "stopped");
  free_live(L);
  return rc;
}
