/*
 * Live mode (see live.h).
 *
 * Files are tracked by inode while open, and by content fingerprint in the
 * database, which is what makes rotation safe:
 *  - rename+create: the renamed file keeps its inode and is read to its end
 *    through the descriptor already open; the new file is a new inode;
 *  - delayed compression: the .gz copy has the fingerprint of a file already
 *    read, so it resumes at the committed offset (normally its end);
 *  - copytruncate: the copy has the fingerprint of the live file and is
 *    ignored while that file is open; once the truncation is seen the live
 *    file is committed and released, and the copy then resumes at the
 *    committed offset, picking up lines written before the truncation;
 *  - deletion: the open descriptor is read to its end, then released.
 * Directory events (inotify through uv_fs_event) wake the reader at once; a
 * rescan every second catches anything events miss and serves as the polling
 * fallback where inotify is unavailable.
 *
 * Order: a source's files fall in rotation sets (source.h), and within a set
 * no line of a newer generation is modelled before every older one is read
 * to its end, or a visit would be cut in two when the daemon is behind at a
 * rotation.  Age comes from a file's current name (access.log.2.gz, then
 * access.log.1, then access.log; dateext names by date); a file whose name
 * is gone is older than every file still named (logrotate removes or
 * compresses the oldest).  Each loop turn reads a set from its oldest file
 * not at its end, and goes on to the next only once that one is.  A file
 * found but not readable yet that may hold older lines - a .gz that may
 * still be being written, a file the database could not look up - holds
 * back the newer generations of its set until a later scan opens it; one
 * that can never be read (refused, unreadable) is logged and left out, so
 * nothing waits for it forever.
 *
 * Every flush_interval one transaction commits the model and every file's
 * offset.  If it fails (database locked, disk full) reading pauses until a
 * commit succeeds, so memory stays bounded and nothing is dropped.
 */
#include "live.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "kpi.h"
#include "pipeline.h"
#include "reader.h"
#include "source.h"
#include "writer_lock.h"

#define DRAIN_BUDGET 8192 /* lines per file per loop turn */
#define SCAN_INTERVAL_MS 1000
#define GZIP_SETTLE_SECONDS 2 /* a .gz younger than this may be mid-write */
#define MAX_IGNORED 256
#define MAX_FINISHED 64
/* A commit waits at most this long for a lock held by another process, then
 * fails and reading pauses (the loop must not freeze: see store.h). */
#define COMMIT_BUSY_TIMEOUT_MS 200

typedef struct live live;

typedef struct tracked {
  live *L;
  const bsl_source_conf *src;
  char path[4096];
  char set[4096];     /* its rotation set (source.h) */
  bsl_generation gen; /* its place in the set, from its current name */
  uint64_t seq;       /* order in which files were opened */
  dev_t dev;
  ino_t ino;
  bsl_reader *r;
  bsl_input in;
  bool seen;      /* present at the last scan */
  bool gone;      /* its path no longer holds it */
  bool truncated; /* shrank or was rewritten: release after commit */
  bool eof;       /* the last drain reached the end of input */
  struct tracked *next;
} tracked;

typedef struct dir_watch {
  uv_fs_event_t handle;
  live *L;
  struct dir_watch *next;
} dir_watch;

typedef struct listener {
  uv_udp_t handle;
  live *L;
  const bsl_source_conf *src;
  bsl_input in;
  char buf[65536];
  struct listener *next;
} listener;

/* A file left alone until it changes (known and finished, or refused). */
typedef struct ignored {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  bsl_file_state *row; /* a .gz read to its end: its row, so that a rename
                          (.2.gz -> .3.gz) is written to it; else NULL */
} ignored;

/* A file found but not opened yet that may hold lines older than the files
 * after it in its set: those wait (see the top of the file). */
typedef struct waiting {
  const bsl_source_conf *src;
  char *path, *set;
  bsl_generation gen;
  uint64_t size; /* all of it is unread (for the metrics) */
} waiting;

/* A file read to its end and released: its compressed copy holds nothing
 * new, so it need not be waited for while it settles. */
typedef struct finished {
  int fp_len;
  char fingerprint[sizeof((bsl_file_state *)0)->fingerprint];
} finished;

typedef struct source_counts {
  uint64_t lines, hits, rejects;
} source_counts;

struct live {
  uv_loop_t loop;
  const bsl_live_options *opts;
  bsl_config *cfg;
  bsl_pipeline *pipe;
  bsl_writer_lock *lock; /* held from start to exit, across reloads */
  tracked *files;
  dir_watch *dirs;
  listener *listeners;
  uv_timer_t flush_timer, scan_timer;
  uv_idle_t idle;
  uv_signal_t sig_int, sig_term, sig_hup;
  ignored ignore[MAX_IGNORED];
  size_t n_ignore;
  finished done[MAX_FINISHED];
  size_t n_done, next_done;
  bsl_input *moved; /* rows of ignored files seen renamed, to commit */
  size_t n_moved, cap_moved;
  waiting *waiting; /* from the last scan */
  size_t n_waiting, cap_waiting;
  tracked **order; /* scratch for on_idle: files in reading order */
  size_t cap_order;
  uint64_t next_seq;
  bool lookup_failing;   /* a file could not be looked up (logged once) */
  source_counts *counts; /* per configured source, since start/reload */
  bool idle_on;
  bool paused;
  bool stopping;
  /* memory ran out while a line was accounted (bsl_pipeline_line): the run
   * must end without another commit; FAILURE says why */
  bool failed;
  char failure[1024];
  uint64_t closed_early_before; /* by pipelines closed at reloads */
  double last_flush_at, last_flush_seconds;
  uint64_t commits;
  char kpi_closed[11]; /* last closed period the KPIs were evaluated for */
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

static double wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t source_index(const live *L, const bsl_source_conf *src) {
  return (size_t)(src - L->cfg->sources);
}

/* ---- reading ---- */

static void start_idle(live *L);

/* Reads up to BUDGET lines of T; returns how many. */
static size_t drain(live *L, tracked *t, size_t budget) {
  char err[512];
  bsl_line line;
  size_t n = 0;
  source_counts *c = &L->counts[source_index(L, t->src)];
  int64_t lines0 = t->in.st.lines, hits0 = t->in.st.hits,
          rejects0 = t->in.st.rejects;
  /* copytruncate: a file that shrank below what was read is not read on
   * from the old position (that would cut new lines in the middle) */
  struct stat sb;
  if (!bsl_reader_is_gzip(t->r) && fstat(bsl_reader_fd(t->r), &sb) == 0 &&
      (uint64_t)sb.st_size < bsl_reader_raw_position(t->r)) {
    if (!t->truncated)
      log_event("info", "%s was truncated; releasing it", t->path);
    t->truncated = t->eof = true;
    return 0;
  }
  while (n < budget) {
    int got = bsl_reader_next(t->r, &line, err, sizeof err);
    if (got == 0) {
      t->eof = true;
      break;
    }
    if (got < 0) {
      log_event("error", "%s", err);
      t->eof = t->gone = true;
      break;
    }
    if (bsl_pipeline_line(L->pipe, &t->in, &line, err, sizeof err) != 0) {
      if (!L->failed)
        snprintf(L->failure, sizeof L->failure, "%s", err);
      L->failed = true; /* ended by on_idle, once T is no longer in use */
      break;
    }
    n++;
  }
  c->lines += (uint64_t)(t->in.st.lines - lines0);
  c->hits += (uint64_t)(t->in.st.hits - hits0);
  c->rejects += (uint64_t)(t->in.st.rejects - rejects0);
  return n;
}

/* Orders files by source, then rotation set, then age (oldest first). */
static int reading_cmp(const void *a, const void *b) {
  const tracked *x = *(tracked *const *)a, *y = *(tracked *const *)b;
  if (x->src != y->src)
    return x->src < y->src ? -1 : 1;
  int c = strcmp(x->set, y->set);
  if (c != 0)
    return c;
  if (x->gone != y->gone)
    return x->gone ? -1 : 1; /* a file whose name is gone is the oldest */
  c = bsl_generation_cmp(&x->gen, &y->gen);
  if (c != 0)
    return c;
  return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static bool same_set(const tracked *a, const tracked *b) {
  return a->src == b->src && strcmp(a->set, b->set) == 0;
}

/* True when a file found but not opened yet may hold lines older than T's. */
static bool waits_for_older(const live *L, const tracked *t) {
  if (t->gone)
    return false;
  for (size_t i = 0; i < L->n_waiting; i++) {
    const waiting *w = &L->waiting[i];
    if (w->src == t->src && strcmp(w->set, t->set) == 0 &&
        bsl_generation_cmp(&w->gen, &t->gen) < 0)
      return true;
  }
  return false;
}

/* Fills L->order with the files in reading order; returns how many, or 0
 * when out of memory (nothing is read this turn). */
static size_t reading_order(live *L) {
  size_t n = 0;
  for (tracked *t = L->files; t; t = t->next)
    n++;
  if (n > L->cap_order) {
    tracked **v = realloc(L->order, n * sizeof *v);
    if (!v)
      return 0;
    L->order = v;
    L->cap_order = n;
  }
  size_t k = 0;
  for (tracked *t = L->files; t; t = t->next)
    L->order[k++] = t;
  if (n > 1) /* qsort(NULL, 0) is undefined */
    qsort(L->order, n, sizeof *L->order, reading_cmp);
  return n;
}

static void stop_failed(live *L);
static int commit(live *L);

/* Reads every rotation set up to DRAIN_BUDGET lines, oldest file first: a
 * file is read only once the older ones of its set are at their end. */
static void on_idle(uv_idle_t *h) {
  live *L = h->data;
  bool more = false;
  if (!L->paused && !L->stopping && !L->failed) {
    size_t n = reading_order(L);
    for (size_t i = 0, end; i < n; i = end) {
      for (end = i + 1; end < n && same_set(L->order[i], L->order[end]); end++)
        ;
      size_t budget = DRAIN_BUDGET;
      for (size_t k = i; k < end; k++) {
        tracked *t = L->order[k];
        if (t->eof || t->truncated)
          continue;
        if (waits_for_older(L, t))
          break; /* the next scan opens the older one, or gives up on it */
        if (budget == 0) {
          more = true;
          break;
        }
        budget -= drain(L, t, budget);
        if (L->failed) {
          stop_failed(L);
          return;
        }
        if (!t->eof && !t->truncated) {
          more = true;
          break;
        }
      }
    }
  }
  if (!more) {
    uv_idle_stop(&L->idle);
    L->idle_on = false;
  }
  /* An address flood: commit now rather than hold every new visit until
   * the next tick (memory would grow with the rate times the interval). */
  if (!L->paused && !L->stopping && L->pipe && bsl_pipeline_commit_due(L->pipe))
    commit(L);
}

static void start_idle(live *L) {
  if (L->idle_on || L->paused || L->stopping)
    return;
  uv_idle_start(&L->idle, on_idle);
  L->idle_on = true;
}

static void wake_all(live *L) {
  for (tracked *t = L->files; t; t = t->next)
    t->eof = false;
  start_idle(L);
}

/* ---- discovering files ---- */

static ignored *find_ignored(live *L, const struct stat *sb) {
  for (size_t i = 0; i < L->n_ignore; i++) {
    ignored *g = &L->ignore[i];
    if (g->dev == sb->st_dev && g->ino == sb->st_ino &&
        g->size == sb->st_size && g->mtime.tv_sec == sb->st_mtim.tv_sec &&
        g->mtime.tv_nsec == sb->st_mtim.tv_nsec)
      return g;
  }
  return NULL;
}

/* Leaves the file SB alone until it changes; ROW (or NULL) is its row when
 * it was read to its end. */
static void ignore_file(live *L, const struct stat *sb,
                        const bsl_file_state *row) {
  if (L->n_ignore == MAX_IGNORED) {
    free(L->ignore[0].row);
    memmove(L->ignore, L->ignore + 1, (MAX_IGNORED - 1) * sizeof *L->ignore);
  } else {
    L->n_ignore++;
  }
  bsl_file_state *copy = row ? malloc(sizeof *copy) : NULL;
  if (copy)
    *copy = *row;
  L->ignore[L->n_ignore - 1] =
      (ignored){sb->st_dev, sb->st_ino, sb->st_size, sb->st_mtim, copy};
}

static void forget_ignored(live *L) {
  for (size_t i = 0; i < L->n_ignore; i++)
    free(L->ignore[i].row);
  L->n_ignore = 0;
}

/* An ignored file read to its end is now at PATH: its row follows at the
 * next commit. */
static void follow_rename(live *L, ignored *g, const char *path) {
  log_event("info", "%s is now %s", g->row->path, path);
  snprintf(g->row->path, sizeof g->row->path, "%s", path);
  size_t i = 0;
  while (i < L->n_moved && L->moved[i].st.file_id != g->row->file_id)
    i++;
  if (i == L->n_moved) {
    if (L->n_moved == L->cap_moved) {
      size_t ncap = L->cap_moved ? L->cap_moved * 2 : 8;
      bsl_input *v = realloc(L->moved, ncap * sizeof *v);
      if (!v)
        return; /* only the path shown in `sources` is late */
      L->moved = v;
      L->cap_moved = ncap;
    }
    L->n_moved++;
  }
  memset(&L->moved[i], 0, sizeof L->moved[i]);
  L->moved[i].st = *g->row;
}

static tracked *find_tracked(live *L, dev_t dev, ino_t ino) {
  for (tracked *t = L->files; t; t = t->next)
    if (t->dev == dev && t->ino == ino)
      return t;
  return NULL;
}

/* True when reader R starts like a file being read right now: a copy made
 * by copytruncate, or a compressed copy of a file not finished yet.  A file
 * seen truncated still counts until it is released: its last lines may not
 * be committed yet, and a copy begun now would resume at the committed
 * offset and read them a second time. */
static bool copy_of_active(live *L, bsl_reader *r) {
  size_t prefix = bsl_reader_prefix_len(r);
  for (tracked *t = L->files; t; t = t->next) {
    if (t->in.st.fp_len <= 0 || (size_t)t->in.st.fp_len > prefix)
      continue;
    char hex[BSL_FINGERPRINT_HEX + 1];
    bsl_reader_fingerprint(r, (size_t)t->in.st.fp_len, hex);
    if (strcmp(hex, t->in.st.fingerprint) == 0)
      return true;
  }
  return false;
}

/* True when reader R starts like a file read to its end and released. */
static bool copy_of_finished(live *L, bsl_reader *r) {
  size_t prefix = bsl_reader_prefix_len(r);
  for (size_t i = 0; i < L->n_done; i++) {
    const finished *d = &L->done[i];
    if (d->fp_len <= 0 || (size_t)d->fp_len > prefix)
      continue;
    char hex[BSL_FINGERPRINT_HEX + 1];
    bsl_reader_fingerprint(r, (size_t)d->fp_len, hex);
    if (strcmp(hex, d->fingerprint) == 0)
      return true;
  }
  return false;
}

static void remember_finished(live *L, const tracked *t) {
  if (t->in.st.fp_len <= 0)
    return;
  finished *d = &L->done[L->next_done];
  d->fp_len = t->in.st.fp_len;
  memcpy(d->fingerprint, t->in.st.fingerprint, sizeof d->fingerprint);
  L->next_done = (L->next_done + 1) % MAX_FINISHED;
  if (L->n_done < MAX_FINISHED)
    L->n_done++;
}

static void clear_waiting(live *L) {
  for (size_t i = 0; i < L->n_waiting; i++) {
    free(L->waiting[i].path);
    free(L->waiting[i].set);
  }
  L->n_waiting = 0;
}

static void add_waiting(live *L, const bsl_source_conf *src,
                        const bsl_source_file *f) {
  if (L->n_waiting == L->cap_waiting) {
    size_t ncap = L->cap_waiting ? L->cap_waiting * 2 : 8;
    waiting *v = realloc(L->waiting, ncap * sizeof *v);
    if (!v)
      return;
    L->waiting = v;
    L->cap_waiting = ncap;
  }
  waiting *w = &L->waiting[L->n_waiting];
  w->src = src;
  w->path = strdup(f->path);
  w->set = strdup(f->set);
  w->gen = f->gen;
  w->size = (uint64_t)f->st.st_size;
  if (!w->path || !w->set) {
    free(w->path);
    free(w->set);
    return;
  }
  L->n_waiting++;
}

/* What consider() made of a file. */
typedef enum found {
  FOUND_READING, /* opened: it is read in its turn */
  FOUND_NOTHING, /* nothing to read in it (or never readable): left out */
  FOUND_WAIT     /* not readable yet, may hold older lines: newer ones wait */
} found;

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

static found consider(live *L, const bsl_source_conf *src,
                      const bsl_source_file *f) {
  const char *path = f->path;
  const struct stat *sb = &f->st;
  ignored *g = find_ignored(L, sb);
  if (g) {
    if (g->row && strcmp(g->row->path, path) != 0)
      follow_rename(L, g, path);
    return FOUND_NOTHING;
  }
  /* logrotate may still be compressing a young .gz: it is opened only to
   * tell whether it is a copy of what is or was read already */
  time_t age = time(NULL) - sb->st_mtim.tv_sec;
  /* (a .gz dated in the future is no reason to wait: nothing would end it) */
  bool settling =
      f->gen.gz && age < GZIP_SETTLE_SECONDS && age > -GZIP_SETTLE_SECONDS;
  char err[512];
  bsl_reader *r;
  if (bsl_reader_open(&r, path, err, sizeof err) != 0) {
    if (settling)
      return FOUND_WAIT;
    log_event("warn", "%s", err);
    ignore_file(L, sb, NULL);
    return FOUND_NOTHING;
  }
  if (settling) {
    bool copy = copy_of_active(L, r) || copy_of_finished(L, r);
    bsl_reader_close(r);
    return copy ? FOUND_NOTHING : FOUND_WAIT;
  }
  if (bsl_reader_prefix_len(r) == 0 || copy_of_active(L, r)) {
    bsl_reader_close(r); /* looked at again at the next scan */
    return FOUND_NOTHING;
  }
  tracked *t = calloc(1, sizeof *t);
  if (!t) {
    bsl_reader_close(r);
    return FOUND_WAIT;
  }
  const char *why = NULL;
  int rc = bsl_pipeline_input_begin(L->pipe, &t->in, r, path, src, NULL, NULL,
                                    &why, err, sizeof err);
  if (rc != 0) {
    if (rc < 0 && !L->lookup_failing)
      log_event("warn", "%s not opened yet (%s); retried at every scan", path,
                err);
    if (rc < 0)
      L->lookup_failing = true;
    if (rc > 0)
      log_left_alone(src, path, &t->in, why);
    bsl_reader_close(r);
    free(t);
    if (rc > 0) /* an error (database busy) is retried at the next scan */
      ignore_file(L, sb, NULL);
    return rc > 0 ? FOUND_NOTHING : FOUND_WAIT;
  }
  if (L->lookup_failing)
    log_event("info", "%s looked up again", path);
  L->lookup_failing = false;
  t->L = L;
  t->src = src;
  snprintf(t->path, sizeof t->path, "%s", path);
  snprintf(t->set, sizeof t->set, "%s", f->set);
  t->gen = f->gen;
  t->seq = L->next_seq++;
  t->dev = sb->st_dev;
  t->ino = sb->st_ino;
  t->r = r;
  t->seen = true;
  t->next = L->files;
  L->files = t;
  log_event("info", "reading %s from offset %lld (source %s)", path,
            (long long)t->in.st.offset, src->name);
  start_idle(L);
  return FOUND_READING;
}

/* Has the file at T's path been truncated or rewritten under us? */
static bool rewritten(tracked *t, const struct stat *sb) {
  if (bsl_reader_is_gzip(t->r))
    return false;
  if ((uint64_t)sb->st_size < bsl_reader_raw_position(t->r))
    return true;
  /* Same size or larger, but maybe truncated and refilled: the first bytes
   * must still be those the file was identified by. */
  if (t->in.st.fp_len <= 0)
    return false;
  char err[256];
  bsl_reader *probe;
  if (bsl_reader_open(&probe, t->path, err, sizeof err) != 0)
    return false;
  bool changed = bsl_reader_prefix_len(probe) < (size_t)t->in.st.fp_len;
  if (!changed) {
    char hex[BSL_FINGERPRINT_HEX + 1];
    bsl_reader_fingerprint(probe, (size_t)t->in.st.fp_len, hex);
    changed = strcmp(hex, t->in.st.fingerprint) != 0;
  }
  bsl_reader_close(probe);
  return changed;
}

static void scan(live *L) {
  for (tracked *t = L->files; t; t = t->next)
    t->seen = false;
  clear_waiting(L);
  for (size_t i = 0; i < L->cfg->n_sources; i++) {
    const bsl_source_conf *src = &L->cfg->sources[i];
    if (!src->path)
      continue;
    bsl_source_file *files;
    size_t n;
    if (bsl_source_list(src->path, &files, &n) != 0)
      continue;
    /* oldest first, so what is opened in one scan is in reading order */
    for (size_t k = 0; k < n; k++) {
      const bsl_source_file *f = &files[k];
      tracked *t = find_tracked(L, f->st.st_dev, f->st.st_ino);
      if (!t) {
        if (consider(L, src, f) == FOUND_WAIT)
          add_waiting(L, src, f);
        continue;
      }
      t->seen = true;
      if (strcmp(t->path, f->path) != 0) {
        log_event("info", "%s is now %s", t->path, f->path);
        snprintf(t->path, sizeof t->path, "%s", f->path);
        snprintf(t->in.st.path, sizeof t->in.st.path, "%s", t->path);
        snprintf(t->set, sizeof t->set, "%s", f->set);
        t->gen = f->gen;
        t->in.dirty = true; /* its row takes the new path at the next commit */
      }
      if (!t->truncated && rewritten(t, &f->st)) {
        log_event("info", "%s was truncated; releasing it", t->path);
        t->truncated = true;
      }
    }
    bsl_source_list_free(files, n);
  }
  for (tracked *t = L->files; t; t = t->next)
    if (!t->seen && !t->gone) {
      log_event("info", "%s is gone; reading it to its end", t->path);
      t->gone = true;
    }
  wake_all(L);
}

static void on_scan_timer(uv_timer_t *h) {
  live *L = h->data;
  if (!L->stopping)
    scan(L);
}

static void on_dir_event(uv_fs_event_t *h, const char *filename, int events,
                         int status) {
  (void)filename;
  live *L = h->data;
  if (status < 0 || L->stopping)
    return;
  if (events & UV_RENAME)
    scan(L);
  else
    wake_all(L);
}

/* ---- committing ---- */

static void write_metrics(live *L);

static void release(live *L, tracked *t) {
  tracked **pp = &L->files;
  while (*pp && *pp != t)
    pp = &(*pp)->next;
  if (*pp)
    *pp = t->next;
  log_event("info", "released %s at offset %lld", t->path,
            (long long)t->in.st.offset);
  bsl_reader_close(t->r);
  free(t);
}

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
  bsl_kpi_results_free(res, n);
}

/* Commits everything read so far.  Returns 0, or -1 (reading paused). */
static int commit(live *L) {
  if (!L->pipe)
    return -1;
  size_t n = L->n_moved;
  bool dirty = L->n_moved > 0;
  for (tracked *t = L->files; t; t = t->next, n++)
    dirty |= t->in.dirty;
  for (listener *l = L->listeners; l; l = l->next, n++)
    dirty |= l->in.dirty;
  int rc = 0;
  if (dirty) {
    bsl_input **inputs = calloc(n ? n : 1, sizeof *inputs);
    if (!inputs)
      return -1;
    size_t k = 0;
    /* renamed rows first: should one be read again meanwhile, the state of
     * the input reading it comes after and wins */
    for (size_t i = 0; i < L->n_moved; i++)
      inputs[k++] = &L->moved[i];
    for (tracked *t = L->files; t; t = t->next) {
      t->in.st.offset = (int64_t)bsl_reader_offset(t->r);
      inputs[k++] = &t->in;
    }
    for (listener *l = L->listeners; l; l = l->next)
      inputs[k++] = &l->in;
    double t0 = wall_seconds();
    char err[1024];
    rc = bsl_pipeline_commit(L->pipe, inputs, k, err, sizeof err);
    free(inputs);
    if (rc != 0) {
      if (!L->paused)
        log_event("warn", "commit failed, reading paused until it succeeds: %s",
                  err);
      L->paused = true;
      return -1;
    }
    L->n_moved = 0;
    L->last_flush_at = wall_seconds();
    L->last_flush_seconds = L->last_flush_at - t0;
    L->commits++;
    if (L->paused)
      log_event("info", "commit succeeded again; reading resumed");
    L->paused = false;
  }
  /* A file is let go only once its last offset is committed. */
  for (tracked *t = L->files, *next; t; t = next) {
    next = t->next;
    bool finished_gz = bsl_reader_is_gzip(t->r) && t->eof;
    if (!t->in.dirty &&
        (t->truncated || (t->eof && (t->gone || finished_gz)))) {
      struct stat sb;
      if (finished_gz && stat(t->path, &sb) == 0 && sb.st_ino == t->ino)
        ignore_file(L, &sb, &t->in.st);
      if (!t->truncated)
        remember_finished(L, t);
      release(L, t);
    }
  }
  evaluate_kpis(L);
  start_idle(L);
  return rc;
}

/* Every flush tick commits, then reports the state as it is, committed or
 * not (paused, unread bytes). */
static void on_flush_timer(uv_timer_t *h) {
  live *L = h->data;
  if (L->stopping)
    return;
  commit(L);
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

/* Bytes of T not read yet: after the last line read of a plain file, not
 * yet inflated of a .gz (through the descriptor: a file whose name is gone
 * is still being read). */
static uint64_t unread_bytes(const tracked *t) {
  struct stat sb;
  if (fstat(bsl_reader_fd(t->r), &sb) != 0)
    return 0;
  uint64_t done = bsl_reader_is_gzip(t->r) ? bsl_reader_raw_position(t->r)
                                           : bsl_reader_offset(t->r);
  return (uint64_t)sb.st_size > done ? (uint64_t)sb.st_size - done : 0;
}

/* One boussole_unread_bytes sample per path: every file being read, and the
 * files found but not opened yet (all their bytes).  Two files under one
 * name (one deleted and still being read) add up. */
static void write_unread(live *L, FILE *f) {
  size_t n = 0;
  for (tracked *t = L->files; t; t = t->next)
    n++;
  n += L->n_waiting;
  const char **paths = calloc(n ? n : 1, sizeof *paths);
  uint64_t *bytes = calloc(n ? n : 1, sizeof *bytes);
  if (!paths || !bytes) {
    free(paths);
    free(bytes);
    return;
  }
  size_t k = 0;
  for (tracked *t = L->files; t; t = t->next, k++) {
    paths[k] = t->path;
    bytes[k] = unread_bytes(t);
  }
  for (size_t i = 0; i < L->n_waiting; i++, k++) {
    paths[k] = L->waiting[i].path;
    bytes[k] = L->waiting[i].size;
  }
  for (size_t i = 0; i < n; i++) {
    bool dup = false;
    for (size_t j = 0; j < i && !dup; j++)
      dup = strcmp(paths[i], paths[j]) == 0;
    if (dup)
      continue;
    uint64_t sum = bytes[i];
    for (size_t j = i + 1; j < n; j++)
      if (strcmp(paths[i], paths[j]) == 0)
        sum += bytes[j];
    fprintf(f, "boussole_unread_bytes{path=\"");
    label(f, paths[i]);
    fprintf(f, "\"} %llu\n", (unsigned long long)sum);
  }
  free(paths);
  free(bytes);
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
  for (int m = 0; m < 3; m++) {
    fprintf(f, "# TYPE boussole_%s_total counter\n", names[m]);
    for (size_t i = 0; i < L->cfg->n_sources; i++) {
      source_counts *c = &L->counts[i];
      uint64_t v = m == 0 ? c->lines : m == 1 ? c->hits : c->rejects;
      fprintf(f, "boussole_%s_total{source=\"", names[m]);
      label(f, L->cfg->sources[i].name);
      fprintf(f, "\"} %llu\n", (unsigned long long)v);
    }
  }
  fprintf(f, "# TYPE boussole_unread_bytes gauge\n");
  write_unread(L, f);
  fprintf(
      f,
      "# TYPE boussole_last_flush_timestamp_seconds gauge\n"
      "boussole_last_flush_timestamp_seconds %.3f\n"
      "# TYPE boussole_last_flush_duration_seconds gauge\n"
      "boussole_last_flush_duration_seconds %.6f\n"
      "# TYPE boussole_commits_total counter\n"
      "boussole_commits_total %llu\n"
      "# TYPE boussole_open_visits gauge\n"
      "boussole_open_visits %zu\n"
      "# TYPE boussole_visits_closed_early_total counter\n"
      "boussole_visits_closed_early_total %llu\n"
      "# TYPE boussole_resident_memory_bytes gauge\n"
      "boussole_resident_memory_bytes %ld\n"
      "# TYPE boussole_reading_paused gauge\n"
      "boussole_reading_paused %d\n",
      L->last_flush_at, L->last_flush_seconds, (unsigned long long)L->commits,
      L->pipe ? bsl_model_open_visits(bsl_pipeline_model(L->pipe)) : 0,
      (unsigned long long)(L->closed_early_before +
                           (L->pipe ? bsl_pipeline_closed_early(L->pipe) : 0)),
      resident_bytes(), L->paused ? 1 : 0);
  if (fclose(f) != 0 || rename(tmp, path) != 0)
    log_event("warn", "%s: %s", path, strerror(errno));
}

/* ---- syslog over UDP ---- */

/* Strips an RFC 3164 header ("<PRI>Mmm dd hh:mm:ss host tag: ") so the rest
 * is the access-log line nginx wrote. */
static const char *strip_syslog(const char *p, size_t *len) {
  const char *end = p + *len;
  if (p < end && *p == '<') {
    const char *q = memchr(p, '>', (size_t)(end - p));
    if (q && q - p <= 4)
      p = q + 1;
  }
  /* "Nov 26 06:30:00 " */
  if (end - p >= 16 && p[3] == ' ' && p[6] == ' ' && p[9] == ':' &&
      p[12] == ':' && p[15] == ' ')
    p += 16;
  /* hostname, then a tag ending in ':' */
  const char *sp = memchr(p, ' ', (size_t)(end - p));
  if (sp) {
    const char *tag = sp + 1;
    const char *colon = memchr(tag, ':', (size_t)(end - tag));
    const char *space = memchr(tag, ' ', (size_t)(end - tag));
    if (colon && (!space || colon < space) && colon + 1 < end &&
        colon[1] == ' ')
      p = colon + 2;
  }
  while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
    end--;
  *len = (size_t)(end - p);
  return p;
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  listener *l = h->data;
  *buf = uv_buf_init(l->buf, sizeof l->buf);
}

static void on_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags) {
  (void)addr;
  (void)flags;
  listener *l = h->data;
  live *L = l->L;
  if (nread <= 0 || L->stopping)
    return;
  size_t len = (size_t)nread;
  const char *p = strip_syslog(buf->base, &len);
  bsl_line line = {.ptr = p, .len = len, .kind = BSL_LINE_OK};
  char err[512];
  source_counts *c = &L->counts[source_index(L, l->src)];
  int64_t h0 = l->in.st.hits, r0 = l->in.st.rejects;
  if (bsl_pipeline_line(L->pipe, &l->in, &line, err, sizeof err) != 0) {
    if (!L->failed)
      snprintf(L->failure, sizeof L->failure, "%s", err);
    L->failed = true;
    stop_failed(L);
    return;
  }
  c->lines++;
  c->hits += (uint64_t)(l->in.st.hits - h0);
  c->rejects += (uint64_t)(l->in.st.rejects - r0);
}

static int start_listener(live *L, const bsl_source_conf *src, char *err,
                          size_t errlen) {
  char host[256];
  const char *colon = strrchr(src->listen, ':');
  if (!colon) {
    snprintf(err, errlen, "source \"%s\": listen = %s: expected host:port",
             src->name, src->listen);
    return -1;
  }
  int port = atoi(colon + 1);
  snprintf(host, sizeof host, "%.*s", (int)(colon - src->listen), src->listen);
  if (host[0] == '[') {
    memmove(host, host + 1, strlen(host));
    host[strcspn(host, "]")] = '\0';
  }
  struct sockaddr_storage sa;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0) {
    snprintf(err, errlen, "source \"%s\": listen = %s: not an IP address",
             src->name, src->listen);
    return -1;
  }
  listener *l = calloc(1, sizeof *l);
  if (!l) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  char key[300];
  snprintf(key, sizeof key, "listen:%s", src->listen);
  if (bsl_pipeline_input_stream(L->pipe, &l->in, src, key, err, errlen) != 0) {
    free(l);
    return -1;
  }
  l->L = L;
  l->src = src;
  uv_udp_init(&L->loop, &l->handle);
  l->handle.data = l;
  int rc = uv_udp_bind(&l->handle, (const struct sockaddr *)&sa, 0);
  if (rc == 0)
    rc = uv_udp_recv_start(&l->handle, on_udp_alloc, on_udp_recv);
  if (rc != 0) {
    snprintf(err, errlen, "source \"%s\": listen = %s: %s", src->name,
             src->listen, uv_strerror(rc));
    uv_close((uv_handle_t *)&l->handle, (uv_close_cb)free);
    return -1;
  }
  l->next = L->listeners;
  L->listeners = l;
  log_event("info",
            "listening for syslog on udp %s (source %s); UDP may drop lines "
            "under load",
            src->listen, src->name);
  return 0;
}

/* ---- setup and teardown ---- */

static void close_free(uv_handle_t *h) {
  free(h->data);
}

static int watch_dirs(live *L) {
  for (size_t i = 0; i < L->cfg->n_sources; i++) {
    const bsl_source_conf *src = &L->cfg->sources[i];
    if (!src->path)
      continue;
    char *copy = strdup(src->path);
    if (!copy)
      return -1;
    char *dir = dirname(copy);
    bool dup = false;
    for (dir_watch *d = L->dirs; d; d = d->next) {
      char buf[4096];
      size_t sz = sizeof buf;
      if (uv_fs_event_getpath(&d->handle, buf, &sz) == 0 &&
          strcmp(buf, dir) == 0)
        dup = true;
    }
    if (!dup) {
      dir_watch *d = calloc(1, sizeof *d);
      if (d) {
        d->L = L;
        uv_fs_event_init(&L->loop, &d->handle);
        d->handle.data = L;
        int rc = uv_fs_event_start(&d->handle, on_dir_event, dir, 0);
        if (rc != 0) {
          log_event("warn",
                    "cannot watch %s (%s); polling every second instead", dir,
                    uv_strerror(rc));
          d->handle.data = d;
          uv_close((uv_handle_t *)&d->handle, close_free);
        } else {
          d->next = L->dirs;
          L->dirs = d;
        }
      }
    }
    free(copy);
  }
  return 0;
}

static int start_sources(live *L, char *err, size_t errlen) {
  free(L->counts);
  L->counts = calloc(L->cfg->n_sources + 1, sizeof *L->counts);
  if (!L->counts) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* One writer per store (SPEC §7).  A reload keeps the lock it has when
   * the database stays the same (locking it again would refuse ourselves);
   * a reload to another database takes that one's lock first and drops the
   * old one only once the new store is open, so a refused reload leaves the
   * running configuration with its lock. */
  const char *db = L->opts->db_path ? L->opts->db_path : L->cfg->db;
  bsl_writer_lock *fresh = NULL;
  bool keep = bsl_writer_lock_covers(L->lock, db);
  if (!keep && bsl_writer_lock_acquire(&fresh, db, "run", err, errlen) != 0)
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
  for (size_t i = 0; i < L->cfg->n_sources; i++)
    if (L->cfg->sources[i].listen &&
        start_listener(L, &L->cfg->sources[i], err, errlen) != 0)
      return -1;
  watch_dirs(L);
  scan(L);
  return 0;
}

/* Commits, then closes every file, watch and listener, and the pipeline. */
static void stop_sources(live *L) {
  if (commit(L) != 0 && L->pipe)
    log_event("warn", "last commit failed; the lines read since the previous "
                      "commit will be read again at the next start");
  write_metrics(L);
  clear_waiting(L);
  L->n_done = L->next_done = 0;
  L->lookup_failing = false;
  while (L->files) {
    tracked *t = L->files;
    L->files = t->next;
    bsl_reader_close(t->r);
    free(t);
  }
  while (L->dirs) {
    dir_watch *d = L->dirs;
    L->dirs = d->next;
    uv_fs_event_stop(&d->handle);
    d->handle.data = d;
    uv_close((uv_handle_t *)&d->handle, close_free);
  }
  while (L->listeners) {
    listener *l = L->listeners;
    L->listeners = l->next;
    uv_udp_recv_stop(&l->handle);
    l->handle.data = l;
    uv_close((uv_handle_t *)&l->handle, close_free);
  }
  if (L->pipe)
    L->closed_early_before += bsl_pipeline_closed_early(L->pipe);
  bsl_pipeline_close(L->pipe);
  L->pipe = NULL;
  forget_ignored(L);
  L->n_moved = 0;
}

static void close_loop_handles(live *L) {
  uv_idle_stop(&L->idle);
  uv_close((uv_handle_t *)&L->idle, NULL);
  uv_close((uv_handle_t *)&L->flush_timer, NULL);
  uv_close((uv_handle_t *)&L->scan_timer, NULL);
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
  log_event("error", "%s", L->failure);
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
      close_loop_handles(L);
    }
    return;
  }
  bsl_config_destroy(old);
  uv_timer_set_repeat(&L->flush_timer,
                      (uint64_t)(L->cfg->flush_interval * 1000 + 0.5));
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
  uv_loop_init(&L->loop);
  uv_idle_init(&L->loop, &L->idle);
  L->idle.data = L;
  if (start_sources(L, err, errlen) != 0) {
    L->stopping = true;
    stop_sources(L);
    uv_close((uv_handle_t *)&L->idle, NULL);
    uv_run(&L->loop, UV_RUN_DEFAULT);
    uv_loop_close(&L->loop);
    bsl_writer_lock_release(L->lock);
    bsl_config_destroy(L->cfg);
    free(L->counts);
    free(L->waiting);
    free(L->order);
    free(L->moved);
    free(L);
    return -1;
  }
  uv_timer_init(&L->loop, &L->flush_timer);
  L->flush_timer.data = L;
  uint64_t flush_ms = (uint64_t)(L->cfg->flush_interval * 1000 + 0.5);
  uv_timer_start(&L->flush_timer, on_flush_timer, flush_ms ? flush_ms : 1,
                 flush_ms ? flush_ms : 1);
  uv_timer_init(&L->loop, &L->scan_timer);
  L->scan_timer.data = L;
  uv_timer_start(&L->scan_timer, on_scan_timer, SCAN_INTERVAL_MS,
                 SCAN_INTERVAL_MS);
  uv_signal_init(&L->loop, &L->sig_int);
  uv_signal_init(&L->loop, &L->sig_term);
  uv_signal_init(&L->loop, &L->sig_hup);
  L->sig_int.data = L->sig_term.data = L->sig_hup.data = L;
  uv_signal_start(&L->sig_int, on_stop_signal, SIGINT);
  uv_signal_start(&L->sig_term, on_stop_signal, SIGTERM);
  uv_signal_start(&L->sig_hup, on_hup, SIGHUP);
  log_event("info", "running with %zu source(s), database %s",
            L->cfg->n_sources, opts->db_path ? opts->db_path : L->cfg->db);
  start_idle(L);

  uv_run(&L->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&L->loop) == 0 ? 0 : -1;
  if (rc != 0)
    snprintf(err, errlen, "event loop did not close cleanly");
  else if (L->failed)
    rc = -1, snprintf(err, errlen, "%s", L->failure);
  else
    log_event("info", "stopped");
  bsl_writer_lock_release(L->lock); /* the store is closed: another may write */
  bsl_config_destroy(L->cfg);
  free(L->counts);
  free(L->waiting);
  free(L->order);
  free(L->moved);
  free(L);
  return rc;
}
