/*
 * The feeder (see feeder.h): a ring of line batches passed along a
 * two-stage pipeline.  The producer copies each framed line into a batch's
 * byte arena (the reader reuses its buffer); the parser thread parses the
 * batch in place, so the hits' slices point into memory the batch owns;
 * then the consumer reads it.  The producer is the feeder's reader thread
 * (reading its reader, or, without one, serving the reads the caller asks
 * for) and, without a reader, also the caller (bsl_feeder_add()): the
 * batch being filled is shared under fill_mu.  Two stages rather
 * than one because inflating a .gz costs as much as parsing: split, they
 * keep both cores busy alongside the model and the writer.
 */
#include "feeder.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "format.h"
#include "url.h"

/* Large enough that the hand-over costs nothing per line, small enough
 * that the ring stays in the caches' neighbourhood and bounded: at most
 * RING * (BATCH_BYTES + BSL_LINE_MAX) bytes of lines are in flight. */
#define BATCH_LINES 2048
#define BATCH_BYTES (512 * 1024)
#define RING 4

typedef struct batch_slot {
  bsl_fed_batch pub;
  bsl_fed_line *lines;  /* BATCH_LINES of them */
  bsl_format **formats; /* each line's, NULL: not parsed */
  char *arena;          /* BATCH_BYTES + BSL_LINE_MAX */
  /* decoded beacon parameters, one per beacon line, in line order, their
   * strings one after the other in beacon_bytes: room for the longest
   * values of every line, of which a batch touches (makes resident) only
   * what its beacons decode to, ~100 bytes each instead of the 1.6 KB of
   * fixed fields they had (6 MB of the ring at 10M realistic lines) */
  bsl_beacon_params *beacons; /* BATCH_LINES of them */
  char *beacon_bytes;         /* BATCH_LINES * BSL_BEACON_BYTES */
} batch_slot;

struct bsl_feeder {
  bsl_reader *reader; /* NULL: the caller adds the lines */
  bsl_format *format; /* the reader's lines' */
  bsl_classifier *cls;
  const char *beacon_path; /* NULL: beacons are not decoded here */
  size_t beacon_len;
  void (*notify)(void *); /* after each parsed batch, on the parser thread */
  void *notify_ctx;
  pthread_t reader_thread, parser_thread;
  bool parser_started, reader_started;
  /* without a reader: the slot being filled (produced % RING) and its
   * bytes used, under fill_mu: the caller fills it (bsl_feeder_add()), and
   * so does the reader thread while it serves a read (bsl_feeder_read()) */
  bool filling;
  size_t used;
  pthread_mutex_t fill_mu;
  int fill_waiting; /* callers waiting for fill_mu (atomic) */
  /* the read being served (req_active) or done (req_done), under mu; the
   * reader thread started by bsl_feeder_start_lines() waits for one */
  bsl_feeder_read_req req;
  bool req_active, req_done, req_stop;
  bsl_feeder_read_result res;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  batch_slot ring[RING];
  /* Batch counts; slot = count % RING.  A slot is filled by the reader
   * thread (produced), then parsed by the parser thread (parsed), then
   * read by the consumer (consumed): consumed <= parsed <= produced. */
  size_t produced, parsed, consumed;
  bool read_done; /* the reader thread handed over its last batch */
  bool stop;      /* the consumer wants no more */
  int result;     /* 0 clean end, -1 read error */
  char err[512];
};

/* Work the model would do per hit that depends only on the line: done
 * here, it runs on the feeder's core instead of the model's.  BP receives
 * the beacon's parameters when the path is BEACON_PATH (LEN bytes), their
 * strings in BUF from *USED on (*USED grows by what they take); returns
 * whether it did. */
static bool derive(bsl_classifier *cls, const char *beacon_path,
                   size_t beacon_len, bsl_hit *hit, bsl_beacon_params *bp,
                   char *buf, size_t *used) {
  hit->derived = cls != NULL;
  hit->beacon = NULL;
  if (!cls)
    return false;
  uint64_t ua_hash[2];
  bsl_hit_identity(hit, hit->identity, ua_hash);
  bool bot;
  enum bsl_device device;
  bsl_classify_ua_hashed(cls, hit->user_agent.ptr, hit->user_agent.len, ua_hash,
                         &bot, &device);
  hit->is_bot = bot;
  hit->device = (unsigned char)device;
  /* the model asks only about successful GETs */
  hit->is_static = hit->method.len == 3 &&
                   memcmp(hit->method.ptr, "GET", 3) == 0 &&
                   bsl_classify_is_static(cls, hit->path.ptr, hit->path.len);
  if (!beacon_path || hit->path.len != beacon_len ||
      memcmp(hit->path.ptr, beacon_path, beacon_len) != 0)
    return false;
  *used +=
      bsl_beacon_params_parse(hit->query.ptr, hit->query.len, bp, buf + *used);
  hit->beacon = bp;
  return true;
}

void bsl_hit_derive(bsl_classifier *cls, const char *beacon_path, bsl_hit *hit,
                    bsl_beacon_params *bp, char *buf) {
  size_t used = 0;
  derive(cls, beacon_path, beacon_path ? strlen(beacon_path) : 0, hit, bp, buf,
         &used);
}

/* Copies LINE into SLOT; returns false when it does not fit (the caller
 * hands the batch over first and retries). */
static bool add_line(batch_slot *slot, size_t *used, const bsl_line *line,
                     bsl_format *format, void *tag) {
  if (slot->pub.n == BATCH_LINES ||
      (slot->pub.n > 0 && *used + line->len > BATCH_BYTES))
    return false;
  slot->formats[slot->pub.n] = format;
  bsl_fed_line *fl = &slot->lines[slot->pub.n++];
  char *copy = slot->arena + *used;
  if (line->len)
    memcpy(copy, line->ptr, line->len);
  *used += line->len;
  fl->line = *line;
  fl->line.ptr = copy;
  fl->reason = NULL;
  fl->parsed = false;
  fl->parse_rc = -1;
  fl->tag = tag;
  return true;
}

/* Parses every line of SLOT in place: the hits' slices point into it. */
static void parse_batch(bsl_feeder *f, batch_slot *slot) {
  size_t n_beacons = 0, used = 0;
  for (size_t i = 0; i < slot->pub.n; i++) {
    bsl_fed_line *fl = &slot->lines[i];
    if (!slot->formats[i])
      continue;
    fl->parsed = true;
    if (fl->line.kind != BSL_LINE_OK) {
      fl->reason = fl->line.reason;
      continue;
    }
    fl->parse_rc = bsl_format_parse(slot->formats[i], fl->line.ptr,
                                    fl->line.len, &fl->hit, &fl->reason);
    if (fl->parse_rc == 0 &&
        derive(f->cls, f->beacon_path, f->beacon_len, &fl->hit,
               &slot->beacons[n_beacons], slot->beacon_bytes, &used))
      n_beacons++;
  }
}

/* Waits for a free slot; NULL when the consumer asked to stop. */
static batch_slot *claim(bsl_feeder *f) {
  pthread_mutex_lock(&f->mu);
  while (f->produced - f->consumed >= RING && !f->stop)
    pthread_cond_wait(&f->cv, &f->mu);
  batch_slot *slot = f->stop ? NULL : &f->ring[f->produced % RING];
  pthread_mutex_unlock(&f->mu);
  if (slot)
    slot->pub.n = 0;
  return slot;
}

static void publish(bsl_feeder *f, bool last, int result) {
  batch_slot *slot = &f->ring[f->produced % RING];
  /* A full batch is handed over after the reader returned the line that
   * did not fit: the batch ends where its own last line ends. */
  slot->pub.end_offset =
      (last || slot->pub.n == 0) && f->reader ? bsl_reader_offset(f->reader)
      : slot->pub.n > 0 ? slot->lines[slot->pub.n - 1].line.end
                        : 0;
  slot->pub.raw_position = f->reader ? bsl_reader_raw_position(f->reader) : 0;
  pthread_mutex_lock(&f->mu);
  f->produced++;
  if (last) {
    f->read_done = true;
    f->result = result;
  }
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

/* Stage 1: reading, inflating and framing. */
static void *reader_main(void *arg) {
  bsl_feeder *f = arg;
  batch_slot *slot = claim(f);
  size_t used = 0;
  bsl_line line;
  char err[sizeof f->err];
  int got;
  while (slot) {
    got = bsl_reader_next(f->reader, &line, err, sizeof err);
    if (got <= 0) {
      if (got < 0)
        memcpy(f->err, err, sizeof err);
      publish(f, true, got < 0 ? -1 : 0);
      return NULL;
    }
    if (!add_line(slot, &used, &line, f->format, NULL)) {
      publish(f, false, 0);
      slot = claim(f);
      used = 0;
      if (slot) /* always fits an empty batch */
        add_line(slot, &used, &line, f->format, NULL);
    }
  }
  return NULL;
}

/* Adds LINE to the batch being filled; fill_mu is held.  When every batch
 * is in flight, WAIT waits for one (without fill_mu, so that the caller
 * can go on adding and consuming) rather than returning 1.  Returns 0 when
 * LINE was taken, 1 when not (no batch free and not WAIT, or stopping). */
static int fill_add(bsl_feeder *f, const bsl_line *line, bsl_format *format,
                    void *tag, bool wait) {
  for (;;) {
    if (f->filling &&
        add_line(&f->ring[f->produced % RING], &f->used, line, format, tag))
      return 0;
    if (f->filling) { /* full: on to the parser, and a fresh batch */
      publish(f, false, 0);
      f->filling = false;
    }
    pthread_mutex_lock(&f->mu);
    bool free_slot = f->produced - f->consumed < RING;
    if (!free_slot && wait) {
      pthread_mutex_unlock(&f->fill_mu);
      while (f->produced - f->consumed >= RING && !f->stop)
        pthread_cond_wait(&f->cv, &f->mu);
      bool stop = f->stop;
      pthread_mutex_unlock(&f->mu);
      pthread_mutex_lock(&f->fill_mu);
      if (stop)
        return 1;
      continue; /* the caller may have begun a batch meanwhile */
    }
    pthread_mutex_unlock(&f->mu);
    if (!free_slot)
      return 1;
    f->ring[f->produced % RING].pub.n = 0;
    f->used = 0;
    f->filling = true;
  }
}

/* Hands the batch being filled, if any, to the parser; fill_mu is held. */
static void fill_submit(bsl_feeder *f) {
  if (!f->filling)
    return;
  publish(f, false, 0);
  f->filling = false;
}

/* The caller's side of fill_mu: the reader thread holds it through a read
 * and lets it go between two lines when the caller waits for it (a mutex
 * let go and taken again at once would not let the caller in). */
static void fill_lock(bsl_feeder *f) {
  __atomic_add_fetch(&f->fill_waiting, 1, __ATOMIC_ACQ_REL);
  pthread_mutex_lock(&f->fill_mu);
  __atomic_sub_fetch(&f->fill_waiting, 1, __ATOMIC_ACQ_REL);
}

/* The reader thread's side: hands fill_mu over to a waiting caller. */
static void fill_yield(bsl_feeder *f) {
  if (__atomic_load_n(&f->fill_waiting, __ATOMIC_ACQUIRE) == 0)
    return;
  pthread_mutex_unlock(&f->fill_mu);
  while (__atomic_load_n(&f->fill_waiting, __ATOMIC_ACQUIRE) > 0)
    sched_yield();
  pthread_mutex_lock(&f->fill_mu);
}

/* Serves one read (bsl_feeder_read()) on the reader thread. */
static void serve_read(bsl_feeder *f, const bsl_feeder_read_req *req,
                       bsl_feeder_read_result *res) {
  *res = (bsl_feeder_read_result){.tag = req->tag, .rc = 1};
  bsl_line line;
  pthread_mutex_lock(&f->fill_mu);
  while (res->lines < req->max_lines &&
         !__atomic_load_n(&f->req_stop, __ATOMIC_RELAXED) &&
         !__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
    int got = bsl_reader_next(req->r, &line, res->err, sizeof res->err);
    if (got <= 0) {
      res->rc = got < 0 ? -1 : 0;
      break;
    }
    if (fill_add(f, &line, req->format, req->tag, true) != 0)
      break; /* stopping: nothing more is consumed */
    res->lines++;
    fill_yield(f);
  }
  fill_submit(f); /* what was read is parsed now, not when more comes */
  pthread_mutex_unlock(&f->fill_mu);
  res->offset = bsl_reader_offset(req->r);
}

/* After a batch parsed or a read done, with mu held: wakes the threads
 * waiting for it and tells the caller (without mu: NOTIFY may take time). */
static void wake_and_notify(bsl_feeder *f) {
  pthread_cond_broadcast(&f->cv);
  if (f->notify) {
    pthread_mutex_unlock(&f->mu);
    f->notify(f->notify_ctx);
    pthread_mutex_lock(&f->mu);
  }
}

/* Stage 1 without a reader of its own: the reads the caller asks for. */
static void *request_main(void *arg) {
  bsl_feeder *f = arg;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (!f->req_active && !f->stop)
      pthread_cond_wait(&f->cv, &f->mu);
    if (f->stop)
      break;
    bsl_feeder_read_req req = f->req;
    pthread_mutex_unlock(&f->mu);
    bsl_feeder_read_result res;
    serve_read(f, &req, &res);
    pthread_mutex_lock(&f->mu);
    f->res = res;
    f->req_active = false;
    f->req_done = true;
    wake_and_notify(f);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

/* Stage 2: parsing and classifying, batch by batch, in order. */
static void *parser_main(void *arg) {
  bsl_feeder *f = arg;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (f->parsed == f->produced && !f->read_done && !f->stop)
      pthread_cond_wait(&f->cv, &f->mu);
    if (f->stop || f->parsed == f->produced)
      break; /* stopped, or every batch of a finished read is parsed */
    batch_slot *slot = &f->ring[f->parsed % RING];
    pthread_mutex_unlock(&f->mu);
    parse_batch(f, slot);
    pthread_mutex_lock(&f->mu);
    f->parsed++;
    wake_and_notify(f);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

static void free_ring(bsl_feeder *f) {
  for (size_t i = 0; i < RING; i++) {
    free(f->ring[i].lines);
    free(f->ring[i].formats);
    free(f->ring[i].arena);
    free(f->ring[i].beacons);
    free(f->ring[i].beacon_bytes);
  }
}

/* Allocates the ring and starts the parser thread, then the reader thread
 * when F has a reader.  Frees F on failure. */
static int start(bsl_feeder *f, char *err, size_t errlen) {
  f->beacon_path = f->cls ? f->beacon_path : NULL;
  f->beacon_len = f->beacon_path ? strlen(f->beacon_path) : 0;
  for (size_t i = 0; i < RING; i++) {
    batch_slot *s = &f->ring[i];
    s->lines = malloc(BATCH_LINES * sizeof *s->lines);
    s->formats = malloc(BATCH_LINES * sizeof *s->formats);
    s->arena = malloc(BATCH_BYTES + BSL_LINE_MAX);
    s->beacons = malloc(BATCH_LINES * sizeof *s->beacons);
    s->beacon_bytes = malloc((size_t)BATCH_LINES * BSL_BEACON_BYTES);
    if (!s->lines || !s->formats || !s->arena || !s->beacons ||
        !s->beacon_bytes) {
      snprintf(err, errlen, "out of memory");
      goto out_free;
    }
    s->pub.lines = s->lines;
  }
  pthread_mutex_init(&f->mu, NULL);
  pthread_mutex_init(&f->fill_mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  int rc = pthread_create(&f->parser_thread, NULL, parser_main, f);
  if (rc == 0) {
    f->parser_started = true;
    /* named for top -H, perf and bench/live_rate.sh's per-thread CPU */
    (void)pthread_setname_np(f->parser_thread, "bsl-parse");
    rc = pthread_create(&f->reader_thread, NULL,
                        f->reader ? reader_main : request_main, f);
    f->reader_started = rc == 0;
    if (rc == 0)
      (void)pthread_setname_np(f->reader_thread, "bsl-read");
  }
  if (rc != 0) {
    if (f->parser_started) {
      pthread_mutex_lock(&f->mu);
      __atomic_store_n(&f->stop, true, __ATOMIC_RELAXED);
      pthread_cond_broadcast(&f->cv);
      pthread_mutex_unlock(&f->mu);
      pthread_join(f->parser_thread, NULL);
    }
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->fill_mu);
    pthread_mutex_destroy(&f->mu);
    snprintf(err, errlen, "cannot start a %s thread: %s",
             f->parser_started ? "reader" : "parser", strerror(rc));
    goto out_free;
  }
  return 0;
out_free:
  free_ring(f);
  free(f);
  return -1;
}

int bsl_feeder_start(bsl_feeder **out, bsl_reader *r, bsl_format *format,
                     bsl_classifier *cls, const char *beacon_path, char *err,
                     size_t errlen) {
  *out = NULL;
  bsl_feeder *f = calloc(1, sizeof *f);
  if (!f) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  f->reader = r;
  f->format = format;
  f->cls = cls;
  f->beacon_path = beacon_path;
  if (start(f, err, errlen) != 0)
    return -1;
  *out = f;
  return 0;
}

int bsl_feeder_start_lines(bsl_feeder **out, bsl_classifier *cls,
                           const char *beacon_path, void (*notify)(void *),
                           void *notify_ctx, char *err, size_t errlen) {
  *out = NULL;
  bsl_feeder *f = calloc(1, sizeof *f);
  if (!f) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  f->cls = cls;
  f->beacon_path = beacon_path;
  f->notify = notify;
  f->notify_ctx = notify_ctx;
  if (start(f, err, errlen) != 0)
    return -1;
  *out = f;
  return 0;
}

int bsl_feeder_add(bsl_feeder *f, const bsl_line *line, bsl_format *format,
                   void *tag) {
  fill_lock(f);
  int rc = fill_add(f, line, format, tag, false);
  pthread_mutex_unlock(&f->fill_mu);
  return rc;
}

void bsl_feeder_submit(bsl_feeder *f) {
  fill_lock(f);
  fill_submit(f);
  pthread_mutex_unlock(&f->fill_mu);
}

int bsl_feeder_read(bsl_feeder *f, const bsl_feeder_read_req *req) {
  pthread_mutex_lock(&f->mu);
  int rc = f->reader || f->req_active || f->req_done ? -1 : 0;
  if (rc == 0) {
    f->req = *req;
    f->req_active = true;
    __atomic_store_n(&f->req_stop, false, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&f->cv);
  }
  pthread_mutex_unlock(&f->mu);
  return rc;
}

void bsl_feeder_read_stop(bsl_feeder *f) {
  __atomic_store_n(&f->req_stop, true, __ATOMIC_RELAXED);
}

int bsl_feeder_read_done(bsl_feeder *f, bsl_feeder_read_result *res) {
  pthread_mutex_lock(&f->mu);
  int rc = f->req_done;
  if (rc) {
    *res = f->res;
    f->req_done = false;
  }
  pthread_mutex_unlock(&f->mu);
  return rc;
}

int bsl_feeder_next(bsl_feeder *f, const bsl_fed_batch **batch, char *err,
                    size_t errlen) {
  pthread_mutex_lock(&f->mu);
  while (f->parsed == f->consumed &&
         !(f->read_done && f->parsed == f->produced) &&
         !(!f->reader && f->produced == f->consumed && !f->req_active))
    pthread_cond_wait(&f->cv, &f->mu);
  int rc = 1;
  if (f->parsed == f->consumed) {
    rc = f->result;
    if (rc < 0)
      snprintf(err, errlen, "%s", f->err);
  } else {
    *batch = &f->ring[f->consumed % RING].pub;
  }
  pthread_mutex_unlock(&f->mu);
  return rc;
}

int bsl_feeder_poll(bsl_feeder *f, const bsl_fed_batch **batch) {
  pthread_mutex_lock(&f->mu);
  int rc = f->parsed > f->consumed;
  if (rc)
    *batch = &f->ring[f->consumed % RING].pub;
  pthread_mutex_unlock(&f->mu);
  return rc;
}

void bsl_feeder_release(bsl_feeder *f) {
  pthread_mutex_lock(&f->mu);
  f->consumed++;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

void bsl_feeder_stop(bsl_feeder *f) {
  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  __atomic_store_n(&f->stop, true, __ATOMIC_RELAXED);
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  if (f->reader_started)
    pthread_join(f->reader_thread, NULL);
  pthread_join(f->parser_thread, NULL);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->fill_mu);
  pthread_mutex_destroy(&f->mu);
  free_ring(f);
  free(f);
}
