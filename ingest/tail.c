/*
 * Tailing (see tail.h).
 *
 * Files are tracked by inode while open, and by content fingerprint in the
 * caller's store, which is what makes rotation safe:
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
 * no line of a newer generation is handed out before every older one is read
 * to its end, or a visit would be cut in two when the daemon is behind at a
 * rotation.  Age comes from a file's current name (access.log.2.gz, then
 * access.log.1, then access.log; dateext names by date); a file whose name
 * is gone is older than every file still named (logrotate removes or
 * compresses the oldest).  Each loop turn reads a set from its oldest file
 * not at its end, and goes on to the next only once that one is.  A file
 * found but not readable yet that may hold older lines - a .gz that may
 * still be being written, a file the store could not look up, a file that
 * logrotate renamed or created while the scan was opening others (the scan
 * lists again after opening files) - holds back the newer generations of
 * its set until a later scan opens it; one that can never be read
 * (refused, unreadable) is logged and left out, so nothing waits for it
 * forever.
 */
#include "tail.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "source.h"

/* Lines per read: between two reads the next rotation set gets its turn,
 * and a read costs a hand-over between threads (bsl_tail_read_done()) */
#define READ_BUDGET 65536
#define SCAN_INTERVAL_MS 1000
#define GZIP_SETTLE_SECONDS 2 /* a .gz younger than this may be mid-write */
#define MAX_IGNORED 256
#define MAX_FINISHED 64

typedef struct tracked {
  const bsl_source_conf *src;
  char path[4096];
  char set[4096];     /* its rotation set (source.h) */
  bsl_generation gen; /* its place in the set, from its current name */
  uint64_t seq;       /* order in which files were opened */
  dev_t dev;
  ino_t ino;
  bsl_reader *r;
  void *file; /* the caller's handle */
  int fp_len; /* its identity (bsl_tail_ident) */
  char fingerprint[BSL_FINGERPRINT_HEX + 1];
  bool seen;      /* present at the last scan */
  bool gone;      /* its path no longer holds it */
  bool truncated; /* shrank or was rewritten: release after commit */
  bool eof;       /* the last read reached the end of input */
  /* bytes read (decompressed, or compressed for a .gz) when no read was in
   * flight: for bsl_tail_unread() while one is */
  uint64_t done;
  struct tracked *next;
} tracked;

/* A watched directory; freed from its handle's close callback. */
typedef struct dir_watch {
  uv_fs_event_t handle;
  struct dir_watch *next;
} dir_watch;

/* A file left alone until it changes (known and finished, or refused). */
typedef struct ignored {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  void *file; /* a .gz read to its end: the caller's kept handle, so that a
                 rename (.2.gz -> .3.gz) is reported; else NULL */
  char *path; /* the kept file's current path */
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
  char fingerprint[BSL_FINGERPRINT_HEX + 1];
} finished;

struct bsl_tail {
  uv_loop_t *loop;
  const bsl_config *cfg;
  bsl_tail_callbacks cb;
  tracked *files;
  dir_watch *dirs;
  uv_idle_t idle; /* reads while there is something to read */
  uv_timer_t scan_timer;
  int handles_open; /* of idle and scan_timer: T is freed at 0 */
  ignored ignore[MAX_IGNORED];
  size_t n_ignore;
  finished done[MAX_FINISHED];
  size_t n_done, next_done;
  waiting *waiting; /* from the last scan */
  size_t n_waiting, cap_waiting;
  tracked **order; /* scratch for on_idle: files in reading order */
  size_t cap_order;
  tracked *reading;    /* the file whose read is in flight (cb.read) */
  uint64_t wakes;      /* wake_all() calls, to tell one during a read */
  uint64_t read_wakes; /* wakes when the read in flight began */
  size_t turn;         /* which rotation set reads next: sets take turns once a
                         read spent its budget */
  uint64_t next_seq;
  bool lookup_failing; /* a file could not be looked up (logged once) */
  bool idle_on;
  bool paused;
  bool stopping;
};

static void tail_log(bsl_tail *t, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tail_log(bsl_tail *t, const char *level, const char *fmt, ...) {
  if (!t->cb.log)
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  t->cb.log(t->cb.ctx, level, msg);
}

/* ---- reading ---- */

static void start_idle(bsl_tail *t);

/* Bytes of F read so far, as bsl_tail_unread() counts them. */
static uint64_t read_so_far(const tracked *f) {
  return bsl_reader_is_gzip(f->r) ? bsl_reader_raw_position(f->r)
                                  : bsl_reader_offset(f->r);
}

/* copytruncate: a file that shrank below what was read is not read on
 * from the old position (that would cut new lines in the middle). */
static bool shrank(bsl_tail *t, tracked *f) {
  struct stat sb;
  if (bsl_reader_is_gzip(f->r) || fstat(bsl_reader_fd(f->r), &sb) != 0 ||
      (uint64_t)sb.st_size >= bsl_reader_raw_position(f->r))
    return false;
  if (!f->truncated)
    tail_log(t, "info", "%s was truncated; releasing it", f->path);
  f->truncated = f->eof = true;
  return true;
}

/* Reads F here, line by line to the line callback (a caller without a
 * reader thread: no read callback); returns as bsl_tail_read_done() wants. */
static int drain(bsl_tail *t, tracked *f, size_t budget, char *err,
                 size_t errlen) {
  bsl_line line;
  for (size_t n = 0; n < budget; n++) {
    int got = bsl_reader_next(f->r, &line, err, errlen);
    if (got <= 0)
      return got;
    if (t->cb.line(t->cb.ctx, f->file, &line) != 0) {
      t->paused = true; /* the caller stops the tail */
      break;
    }
  }
  return 1;
}

void bsl_tail_read_done(bsl_tail *t, int got, const char *err) {
  tracked *f = t->reading;
  if (!f)
    return;
  t->reading = NULL;
  f->done = read_so_far(f);
  if (got > 0)
    t->turn++; /* its budget spent: the next set's turn */
  if (got < 0) {
    tail_log(t, "error", "%s", err);
    f->eof = f->gone = true;
  } else if (got == 0 && t->wakes == t->read_wakes) {
    f->eof = true; /* else something came after the end was seen: read on */
  }
  start_idle(t);
}

/* Starts a read of F: on the caller's thread when it has a read callback,
 * else here. */
static void read_file(bsl_tail *t, tracked *f) {
  t->reading = f;
  t->read_wakes = t->wakes;
  if (t->cb.read) {
    if (t->cb.read(t->cb.ctx, f->file, f->r, READ_BUDGET) != 0) {
      t->reading = NULL;
      t->paused = true; /* the caller stops the tail */
    }
    return;
  }
  char err[512];
  int got = drain(t, f, READ_BUDGET, err, sizeof err);
  bsl_tail_read_done(t, got, err);
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

/* True when a file found but not opened yet may hold lines older than F's. */
static bool waits_for_older(const bsl_tail *t, const tracked *f) {
  if (f->gone)
    return false;
  for (size_t i = 0; i < t->n_waiting; i++) {
    const waiting *w = &t->waiting[i];
    if (w->src == f->src && strcmp(w->set, f->set) == 0 &&
        bsl_generation_cmp(&w->gen, &f->gen) < 0)
      return true;
  }
  return false;
}

/* Fills T->order with the files in reading order; returns how many, or 0
 * when out of memory (nothing is read this turn). */
static size_t reading_order(bsl_tail *t) {
  size_t n = 0;
  for (tracked *f = t->files; f; f = f->next)
    n++;
  if (n > t->cap_order) {
    tracked **v = realloc(t->order, n * sizeof *v);
    if (!v)
      return 0;
    t->order = v;
    t->cap_order = n;
  }
  size_t k = 0;
  for (tracked *f = t->files; f; f = f->next)
    t->order[k++] = f;
  if (n > 1) /* qsort(NULL, 0) is undefined */
    qsort(t->order, n, sizeof *t->order, reading_cmp);
  return n;
}

/* Starts a read of a rotation set's oldest file not at its end (a file is
 * read only once the older ones of its set are at their end); a set keeps
 * its turn until a read spends its budget.  One read at a time:
 * bsl_tail_read_done() comes back here. */
static void on_idle(uv_idle_t *h) {
  bsl_tail *t = h->data;
  bool more = false;
  while (!t->paused && !t->stopping && !t->reading) {
    size_t n = reading_order(t), n_sets = 0;
    /* each set's candidate, in place at the front of T->order */
    for (size_t i = 0, end; i < n; i = end) {
      for (end = i + 1; end < n && same_set(t->order[i], t->order[end]); end++)
        ;
      for (size_t k = i; k < end; k++) {
        tracked *f = t->order[k];
        if (f->eof || f->truncated)
          continue;
        if (!waits_for_older(t, f)) /* else the next scan opens the older
                                       one, or gives up on it */
          t->order[n_sets++] = f;
        break;
      }
    }
    if (n_sets == 0)
      break;
    tracked *f = t->order[t->turn % n_sets];
    if (shrank(t, f))
      continue;
    read_file(t, f);
    more = !t->reading && !t->paused; /* read here: the next in a turn */
    break;
  }
  if (!more) {
    (void)uv_idle_stop(&t->idle); /* never fails */
    t->idle_on = false;
  }
}

static void start_idle(bsl_tail *t) {
  if (t->idle_on || t->paused || t->stopping || t->reading)
    return;
  int rc = uv_idle_start(&t->idle, on_idle);
  if (rc != 0) { /* the rescan tries again */
    tail_log(t, "warn", "cannot read: %s", uv_strerror(rc));
    return;
  }
  t->idle_on = true;
}

static void wake_all(bsl_tail *t) {
  t->wakes++;
  for (tracked *f = t->files; f; f = f->next)
    f->eof = false;
  start_idle(t);
}

void bsl_tail_pause(bsl_tail *t, bool paused) {
  t->paused = paused;
  if (paused && t->reading && t->cb.stop_read)
    t->cb.stop_read(t->cb.ctx);
  if (!paused)
    start_idle(t);
}

/* ---- discovering files ---- */

static ignored *find_ignored(bsl_tail *t, const struct stat *sb) {
  for (size_t i = 0; i < t->n_ignore; i++) {
    ignored *g = &t->ignore[i];
    if (g->dev == sb->st_dev && g->ino == sb->st_ino &&
        g->size == sb->st_size && g->mtime.tv_sec == sb->st_mtim.tv_sec &&
        g->mtime.tv_nsec == sb->st_mtim.tv_nsec)
      return g;
  }
  return NULL;
}

static void forget(bsl_tail *t, ignored *g) {
  if (g->file)
    t->cb.forget(t->cb.ctx, g->file);
  free(g->path);
  g->file = NULL;
  g->path = NULL;
}

/* Leaves the file SB alone until it changes; FILE (or NULL) is the caller's
 * kept handle of it when it was read to its end, at PATH. */
static void ignore_file(bsl_tail *t, const struct stat *sb, void *file,
                        const char *path) {
  if (t->n_ignore == MAX_IGNORED) {
    forget(t, &t->ignore[0]);
    memmove(t->ignore, t->ignore + 1, (MAX_IGNORED - 1) * sizeof *t->ignore);
  } else {
    t->n_ignore++;
  }
  char *copy = file ? strdup(path) : NULL;
  if (file && !copy) { /* only the path shown for it is late */
    t->cb.forget(t->cb.ctx, file);
    file = NULL;
  }
  t->ignore[t->n_ignore - 1] =
      (ignored){sb->st_dev, sb->st_ino, sb->st_size, sb->st_mtim, file, copy};
}

static void forget_ignored(bsl_tail *t) {
  for (size_t i = 0; i < t->n_ignore; i++)
    forget(t, &t->ignore[i]);
  t->n_ignore = 0;
}

/* An ignored file read to its end is now at PATH. */
static void follow_rename(bsl_tail *t, ignored *g, const char *path) {
  char *copy = strdup(path);
  if (!copy)
    return; /* tried again at the next scan */
  tail_log(t, "info", "%s is now %s", g->path, path);
  free(g->path);
  g->path = copy;
  t->cb.renamed(t->cb.ctx, g->file, path);
}

static tracked *find_tracked(bsl_tail *t, dev_t dev, ino_t ino) {
  for (tracked *f = t->files; f; f = f->next)
    if (f->dev == dev && f->ino == ino)
      return f;
  return NULL;
}

/* True when reader R starts like a file being read right now: a copy made
 * by copytruncate, or a compressed copy of a file not finished yet.  A file
 * seen truncated still counts until it is released: its last lines may not
 * be committed yet, and a copy begun now would resume at the committed
 * offset and read them a second time. */
static bool copy_of_active(bsl_tail *t, bsl_reader *r) {
  size_t prefix = bsl_reader_prefix_len(r);
  for (tracked *f = t->files; f; f = f->next) {
    if (f->fp_len <= 0 || (size_t)f->fp_len > prefix)
      continue;
    char hex[BSL_FINGERPRINT_HEX + 1];
    bsl_reader_fingerprint(r, (size_t)f->fp_len, hex);
    if (strcmp(hex, f->fingerprint) == 0)
      return true;
  }
  return false;
}

/* True when reader R starts like a file read to its end and released. */
static bool copy_of_finished(bsl_tail *t, bsl_reader *r) {
  size_t prefix = bsl_reader_prefix_len(r);
  for (size_t i = 0; i < t->n_done; i++) {
    const finished *d = &t->done[i];
    if (d->fp_len <= 0 || (size_t)d->fp_len > prefix)
      continue;
    char hex[BSL_FINGERPRINT_HEX + 1];
    bsl_reader_fingerprint(r, (size_t)d->fp_len, hex);
    if (strcmp(hex, d->fingerprint) == 0)
      return true;
  }
  return false;
}

static void remember_finished(bsl_tail *t, const tracked *f) {
  if (f->fp_len <= 0)
    return;
  finished *d = &t->done[t->next_done];
  d->fp_len = f->fp_len;
  memcpy(d->fingerprint, f->fingerprint, sizeof d->fingerprint);
  t->next_done = (t->next_done + 1) % MAX_FINISHED;
  if (t->n_done < MAX_FINISHED)
    t->n_done++;
}

static void clear_waiting(bsl_tail *t) {
  for (size_t i = 0; i < t->n_waiting; i++) {
    free(t->waiting[i].path);
    free(t->waiting[i].set);
  }
  t->n_waiting = 0;
}

static void add_waiting(bsl_tail *t, const bsl_source_conf *src,
                        const bsl_source_file *f) {
  if (t->n_waiting == t->cap_waiting) {
    size_t ncap = t->cap_waiting ? t->cap_waiting * 2 : 8;
    waiting *v = realloc(t->waiting, ncap * sizeof *v);
    if (!v)
      return;
    t->waiting = v;
    t->cap_waiting = ncap;
  }
  waiting *w = &t->waiting[t->n_waiting];
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
  t->n_waiting++;
}

/* What consider() made of a file. */
typedef enum found {
  FOUND_READING, /* opened: it is read in its turn */
  FOUND_NOTHING, /* nothing to read in it (or never readable): left out */
  FOUND_WAIT     /* not readable yet, may hold older lines: newer ones wait */
} found;

static found consider(bsl_tail *t, const bsl_source_conf *src,
                      const bsl_source_file *f) {
  const char *path = f->path;
  const struct stat *sb = &f->st;
  ignored *g = find_ignored(t, sb);
  if (g) {
    if (g->file && strcmp(g->path, path) != 0)
      follow_rename(t, g, path);
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
    /* gone between the listing and the open: logrotate renaming it (.1 ->
     * .2) or compressing it.  Its lines may be older than those of the
     * files after it in the listing, which wait for the next scan: it
     * finds this one under its new name (or not at all: deleted, nothing
     * waits).  No warning: that is rotation, not trouble. */
    struct stat now;
    if (stat(path, &now) != 0 && errno == ENOENT)
      return FOUND_WAIT;
    tail_log(t, "warn", "%s", err);
    ignore_file(t, sb, NULL, NULL);
    return FOUND_NOTHING;
  }
  /* the name now holds another file (access.log renamed to the .1 just
   * listed): that one is newer than the file listed, which went on to a
   * name the next scan finds; both wait for it, and so do the newer ones */
  struct stat opened;
  if (fstat(bsl_reader_fd(r), &opened) == 0 &&
      (opened.st_dev != sb->st_dev || opened.st_ino != sb->st_ino)) {
    bsl_reader_close(r);
    return FOUND_WAIT;
  }
  if (settling) {
    bool copy = copy_of_active(t, r) || copy_of_finished(t, r);
    bsl_reader_close(r);
    return copy ? FOUND_NOTHING : FOUND_WAIT;
  }
  if (bsl_reader_prefix_len(r) == 0 || copy_of_active(t, r)) {
    bsl_reader_close(r); /* looked at again at the next scan */
    return FOUND_NOTHING;
  }
  tracked *tr = calloc(1, sizeof *tr);
  if (!tr) {
    bsl_reader_close(r);
    return FOUND_WAIT;
  }
  bsl_tail_ident id = {0};
  int rc = t->cb.open(t->cb.ctx, src, path, r, &id, err, sizeof err);
  if (rc != 0) {
    if (rc < 0 && !t->lookup_failing)
      tail_log(t, "warn", "%s not opened yet (%s); retried at every scan", path,
               err);
    if (rc < 0)
      t->lookup_failing = true;
    bsl_reader_close(r);
    free(tr);
    if (rc > 0) /* an error (database busy) is retried at the next scan */
      ignore_file(t, sb, NULL, NULL);
    return rc > 0 ? FOUND_NOTHING : FOUND_WAIT;
  }
  if (t->lookup_failing)
    tail_log(t, "info", "%s looked up again", path);
  t->lookup_failing = false;
  tr->src = src;
  snprintf(tr->path, sizeof tr->path, "%s", path);
  snprintf(tr->set, sizeof tr->set, "%s", f->set);
  tr->gen = f->gen;
  tr->seq = t->next_seq++;
  tr->dev = sb->st_dev;
  tr->ino = sb->st_ino;
  tr->r = r;
  tr->done = read_so_far(tr);
  tr->file = id.file;
  tr->fp_len = id.fp_len;
  memcpy(tr->fingerprint, id.fingerprint, sizeof tr->fingerprint);
  tr->fingerprint[BSL_FINGERPRINT_HEX] = '\0';
  tr->seen = true;
  tr->next = t->files;
  t->files = tr;
  tail_log(t, "info", "reading %s from offset %llu (source %s)", path,
           (unsigned long long)bsl_reader_offset(r), src->name);
  start_idle(t);
  return FOUND_READING;
}

/* Has the file at F's path been truncated or rewritten under us? */
static bool rewritten(tracked *f, const struct stat *sb) {
  if (bsl_reader_is_gzip(f->r))
    return false;
  if ((uint64_t)sb->st_size < bsl_reader_raw_position(f->r))
    return true;
  /* Same size or larger, but maybe truncated and refilled: the first bytes
   * must still be those the file was identified by. */
  if (f->fp_len <= 0)
    return false;
  char err[256];
  bsl_reader *probe;
  if (bsl_reader_open(&probe, f->path, err, sizeof err) != 0)
    return false;
  bool changed = bsl_reader_prefix_len(probe) < (size_t)f->fp_len;
  if (!changed) {
    char hex[BSL_FINGERPRINT_HEX + 1];
    bsl_reader_fingerprint(probe, (size_t)f->fp_len, hex);
    changed = strcmp(hex, f->fingerprint) != 0;
  }
  bsl_reader_close(probe);
  return changed;
}

/* True when the listing FILES (N of them) has SF: the same name for the
 * same file. */
static bool listed(const bsl_source_file *files, size_t n,
                   const bsl_source_file *sf) {
  for (size_t k = 0; k < n; k++)
    if (!files[k].vanished && files[k].st.st_dev == sf->st.st_dev &&
        files[k].st.st_ino == sf->st.st_ino &&
        strcmp(files[k].path, sf->path) == 0)
      return true;
  return false;
}

/* A scan that opened files of SRC lists them again: a file that came under
 * a name of a set while the scan went on (logrotate copying the live file
 * before truncating it, renaming .1 to .2) may hold lines older than one
 * just opened, which would be read first.  Such a newcomer (not in BEFORE,
 * the first listing, and neither read nor left alone) waits like a file
 * not readable yet: the next scan opens it, and the newer ones wait. */
static void wait_for_newcomers(bsl_tail *t, const bsl_source_conf *src,
                               const bsl_source_file *before, size_t n_before) {
  bsl_source_file *files;
  size_t n;
  if (bsl_source_list(src->path, &files, &n) != 0)
    return;
  for (size_t k = 0; k < n; k++) {
    const bsl_source_file *sf = &files[k];
    if (listed(before, n_before, sf))
      continue;
    if (sf->vanished || (!find_tracked(t, sf->st.st_dev, sf->st.st_ino) &&
                         !find_ignored(t, &sf->st)))
      add_waiting(t, src, sf);
  }
  bsl_source_list_free(files, n);
}

static void scan(bsl_tail *t) {
  for (tracked *f = t->files; f; f = f->next)
    f->seen = false;
  clear_waiting(t);
  for (size_t i = 0; i < t->cfg->n_sources; i++) {
    const bsl_source_conf *src = &t->cfg->sources[i];
    if (!src->path)
      continue;
    bsl_source_file *files;
    size_t n;
    if (bsl_source_list(src->path, &files, &n) != 0)
      continue;
    /* oldest first, so what is opened in one scan is in reading order */
    bool opened = false;
    for (size_t k = 0; k < n; k++) {
      const bsl_source_file *sf = &files[k];
      if (sf->vanished) { /* renamed meanwhile: see consider() */
        add_waiting(t, src, sf);
        continue;
      }
      tracked *f = find_tracked(t, sf->st.st_dev, sf->st.st_ino);
      if (!f) {
        found what = consider(t, src, sf);
        if (what == FOUND_WAIT)
          add_waiting(t, src, sf);
        opened |= what == FOUND_READING;
        continue;
      }
      f->seen = true;
      if (strcmp(f->path, sf->path) != 0) {
        tail_log(t, "info", "%s is now %s", f->path, sf->path);
        snprintf(f->path, sizeof f->path, "%s", sf->path);
        snprintf(f->set, sizeof f->set, "%s", sf->set);
        f->gen = sf->gen;
        t->cb.renamed(t->cb.ctx, f->file, f->path);
      }
      /* (a file being read is looked at again at the next scan) */
      if (!f->truncated && f != t->reading && rewritten(f, &sf->st)) {
        tail_log(t, "info", "%s was truncated; releasing it", f->path);
        f->truncated = true;
      }
    }
    if (opened)
      wait_for_newcomers(t, src, files, n);
    bsl_source_list_free(files, n);
  }
  for (tracked *f = t->files; f; f = f->next)
    if (!f->seen && !f->gone) {
      tail_log(t, "info", "%s is gone; reading it to its end", f->path);
      f->gone = true;
    }
  wake_all(t);
}

static void on_scan_timer(uv_timer_t *h) {
  bsl_tail *t = h->data;
  if (!t->stopping)
    scan(t);
}

static void on_dir_event(uv_fs_event_t *h, const char *filename, int events,
                         int status) {
  (void)filename;
  bsl_tail *t = h->data;
  if (status < 0 || t->stopping)
    return;
  if (events & UV_RENAME)
    scan(t);
  else
    wake_all(t);
}

/* ---- letting files go ---- */

/* Unlinks and frees F; SB, when not NULL, is a finished .gz to keep. */
static void release(bsl_tail *t, tracked *f, uint64_t offset,
                    const struct stat *sb) {
  tracked **pp = &t->files;
  while (*pp && *pp != f)
    pp = &(*pp)->next;
  if (*pp)
    *pp = f->next;
  tail_log(t, "info", "released %s at offset %llu", f->path,
           (unsigned long long)offset);
  t->cb.release(t->cb.ctx, f->file, sb != NULL);
  if (sb)
    ignore_file(t, sb, f->file, f->path);
  bsl_reader_close(f->r);
  free(f);
}

void bsl_tail_release_committed(bsl_tail *t) {
  for (tracked *f = t->files, *next; f; f = next) {
    next = f->next;
    if (f == t->reading)
      continue; /* the reader thread's until its read is done */
    bool finished_gz = bsl_reader_is_gzip(f->r) && f->eof;
    uint64_t offset;
    if ((f->truncated || (f->eof && (f->gone || finished_gz))) &&
        t->cb.committed(t->cb.ctx, f->file, &offset)) {
      struct stat sb;
      bool keep = finished_gz && stat(f->path, &sb) == 0 && sb.st_ino == f->ino;
      if (!f->truncated)
        remember_finished(t, f);
      release(t, f, offset, keep ? &sb : NULL);
    }
  }
  start_idle(t);
}

/* ---- metrics ---- */

void bsl_tail_unread(const bsl_tail *t,
                     void (*each)(void *ctx, const char *path, uint64_t bytes),
                     void *ctx) {
  /* through the descriptor: a file whose name is gone is still read; what
   * is not inflated yet of a .gz */
  for (const tracked *f = t->files; f; f = f->next) {
    struct stat sb;
    if (fstat(bsl_reader_fd(f->r), &sb) != 0)
      continue;
    /* a file being read: as of the end of its last read */
    uint64_t done = f == t->reading ? f->done : read_so_far(f);
    each(ctx, f->path,
         (uint64_t)sb.st_size > done ? (uint64_t)sb.st_size - done : 0);
  }
  for (size_t i = 0; i < t->n_waiting; i++)
    each(ctx, t->waiting[i].path, t->waiting[i].size);
}

/* ---- setup and teardown ---- */

static void close_dir_watch(uv_handle_t *h) {
  free(h->data);
}

static void watch_dirs(bsl_tail *t) {
  for (size_t i = 0; i < t->cfg->n_sources; i++) {
    const bsl_source_conf *src = &t->cfg->sources[i];
    if (!src->path)
      continue;
    char *copy = strdup(src->path);
    if (!copy)
      return; /* the rescan still finds every file */
    char *dir = dirname(copy);
    bool dup = false;
    for (dir_watch *d = t->dirs; d; d = d->next) {
      char buf[4096];
      size_t sz = sizeof buf;
      if (uv_fs_event_getpath(&d->handle, buf, &sz) == 0 &&
          strcmp(buf, dir) == 0)
        dup = true;
    }
    dir_watch *d = dup ? NULL : calloc(1, sizeof *d);
    if (d) {
      int rc = uv_fs_event_init(t->loop, &d->handle);
      if (rc == 0) {
        d->handle.data = t;
        rc = uv_fs_event_start(&d->handle, on_dir_event, dir, 0);
        if (rc != 0) {
          d->handle.data = d;
          uv_close((uv_handle_t *)&d->handle, close_dir_watch);
        }
      } else {
        free(d);
      }
      if (rc != 0) {
        tail_log(t, "warn",
                 "cannot watch %s (%s); polling every second instead", dir,
                 uv_strerror(rc));
      } else {
        d->next = t->dirs;
        t->dirs = d;
      }
    }
    free(copy);
  }
}

static void close_embedded(uv_handle_t *h) {
  bsl_tail *t = h->data;
  if (--t->handles_open > 0)
    return;
  clear_waiting(t);
  free(t->waiting);
  free(t->order);
  free(t);
}

int bsl_tail_start(bsl_tail **out, uv_loop_t *loop, const bsl_config *cfg,
                   const bsl_tail_callbacks *cb, char *err, size_t errlen) {
  *out = NULL;
  bsl_tail *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return UV_ENOMEM;
  }
  t->loop = loop;
  t->cfg = cfg;
  t->cb = *cb;
  int rc = uv_idle_init(loop, &t->idle);
  if (rc != 0) {
    free(t);
    snprintf(err, errlen, "cannot tail: %s", uv_strerror(rc));
    return rc;
  }
  t->idle.data = t;
  t->handles_open = 1;
  rc = uv_timer_init(loop, &t->scan_timer);
  if (rc == 0) {
    t->scan_timer.data = t;
    t->handles_open++;
    watch_dirs(t);
    scan(t);
    rc = uv_timer_start(&t->scan_timer, on_scan_timer, SCAN_INTERVAL_MS,
                        SCAN_INTERVAL_MS);
  }
  if (rc != 0) {
    snprintf(err, errlen, "cannot tail: %s", uv_strerror(rc));
    bsl_tail_stop(t);
    return rc;
  }
  *out = t;
  return 0;
}

void bsl_tail_stop(bsl_tail *t) {
  if (!t)
    return;
  t->stopping = true;
  while (t->files) {
    tracked *f = t->files;
    t->files = f->next;
    t->cb.release(t->cb.ctx, f->file, false);
    bsl_reader_close(f->r);
    free(f);
  }
  forget_ignored(t);
  while (t->dirs) {
    dir_watch *d = t->dirs;
    t->dirs = d->next;
    (void)uv_fs_event_stop(&d->handle); /* never fails */
    d->handle.data = d;
    uv_close((uv_handle_t *)&d->handle, close_dir_watch);
  }
  int open = t->handles_open;
  uv_close((uv_handle_t *)&t->idle, close_embedded);
  if (open > 1)
    uv_close((uv_handle_t *)&t->scan_timer, close_embedded);
}
