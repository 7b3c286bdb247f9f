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
#include <fnmatch.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classify.h"
#include "format.h"
#include "model.h"
#include "reader.h"
#include "store.h"

#define REJECT_SAMPLES_PER_FILE 1000
#define EXCERPT_BYTES 200
#define DEFAULT_FLUSH_LINES (1u << 20)

typedef struct job {
  char *path;
  const bsl_source_conf *source; /* NULL: a command-line file */
  char *group;                   /* rotation group: path without .N / .gz */
  long rotation;                 /* .N suffix; 0 for the live file */
  size_t order;                  /* position in the argument list */
  size_t group_order;            /* first position of its group */
  uint64_t size;
} job;

typedef struct format_slot {
  char *name;
  bsl_format *format;
} format_slot;

typedef struct batch {
  const bsl_config *cfg;
  const bsl_batch_options *opts;
  FILE *log;
  bsl_store *store;
  bsl_classifier *cls;
  bsl_model *model;
  format_slot *formats;
  size_t n_formats;
  bsl_batch_stats *stats;
  bool in_tx;
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

static void split_rotation(const char *path, char **group, long *rotation) {
  size_t len = strlen(path);
  if (len > 3 && strcmp(path + len - 3, ".gz") == 0)
    len -= 3;
  size_t digits = 0;
  while (digits < len && path[len - 1 - digits] >= '0' &&
         path[len - 1 - digits] <= '9')
    digits++;
  *rotation = 0;
  if (digits > 0 && digits < 6 && len > digits + 1 &&
      path[len - 1 - digits] == '.') {
    *rotation = strtol(path + len - digits, NULL, 10);
    len -= digits + 1;
  }
  *group = strndup(path, len);
}

/* Files of one rotation group are read oldest first (access.log.2.gz,
 * access.log.1, access.log) so visits continue across them; groups keep
 * the order they were given in. */
static int job_cmp(const void *a, const void *b) {
  const job *x = a, *y = b;
  if (x->group_order != y->group_order)
    return x->group_order < y->group_order ? -1 : 1;
  if (x->rotation != y->rotation)
    return x->rotation > y->rotation ? -1 : 1;
  return x->order < y->order ? -1 : (x->order > y->order);
}

static int add_job(job **jobs, size_t *n, size_t *cap, const char *path,
                   const bsl_source_conf *src) {
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
  split_rotation(path, &j->group, &j->rotation);
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
    if (fnmatch(s->path, path, 0) == 0 ||
        (abs && fnmatch(s->path, abs, 0) == 0))
      found = s;
  }
  free(abs);
  return found;
}

/* ---- formats ---- */

static bsl_format *format_get(batch *b, const char *name, char *err,
                              size_t errlen) {
  for (size_t i = 0; i < b->n_formats; i++)
    if (strcmp(b->formats[i].name, name) == 0)
      return b->formats[i].format;
  bsl_format *f = NULL;
  if (bsl_format_is_builtin(name)) {
    if (bsl_format_create(&f, name, NULL, NULL, err, errlen) != 0)
      return NULL;
  } else {
    const bsl_format_conf *fc = bsl_config_find_format(b->cfg, name);
    if (!fc) {
      snprintf(err, errlen,
               "unknown format \"%s\" (built in: combined, "
               "common, vcombined; or a [format] section)",
               name);
      return NULL;
    }
    if (bsl_format_create(&f, name, fc->regex, fc->time_format, err, errlen) !=
        0)
      return NULL;
  }
  format_slot *ns = realloc(b->formats, (b->n_formats + 1) * sizeof *ns);
  if (!ns) {
    bsl_format_destroy(f);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  b->formats = ns;
  b->formats[b->n_formats].name = strdup(name);
  b->formats[b->n_formats++].format = f;
  return f;
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
  double rate = elapsed > 0 ? (double)b->stats->lines / elapsed : 0;
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

/* ---- committing ---- */

static int ensure_tx(batch *b, char *err, size_t errlen) {
  if (b->in_tx)
    return 0;
  if (bsl_store_begin(b->store) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(b->store));
    return -1;
  }
  b->in_tx = true;
  return 0;
}

static int commit(batch *b, bsl_file_state *st, char *err, size_t errlen) {
  if (ensure_tx(b, err, errlen) != 0)
    return -1;
  if (bsl_model_flush(b->model) != 0 ||
      (st && bsl_store_file_save(b->store, st) != 0) ||
      bsl_store_commit(b->store) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(b->store));
    bsl_store_rollback(b->store);
    b->in_tx = false;
    return -1;
  }
  b->in_tx = false;
  bsl_model_flush_done(b->model);
  return 0;
}

/* Copies at most EXCERPT_BYTES of a bad line, keeping valid UTF-8 and
 * writing every other byte as \xHH so the sample is safe to display. */
static size_t make_excerpt(const char *p, size_t len, char *out, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  if (len > EXCERPT_BYTES)
    len = EXCERPT_BYTES;
  for (size_t i = 0; i < len && n + 5 < cap;) {
    unsigned char c = (unsigned char)p[i];
    size_t seq = c >= 0xf0 && c <= 0xf4   ? 4
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xc2 && c <= 0xdf ? 2
                                          : 1;
    bool valid = seq > 1 && i + seq <= len;
    for (size_t k = 1; valid && k < seq; k++)
      valid = ((unsigned char)p[i + k] & 0xc0) == 0x80;
    if (valid && n + seq < cap) {
      memcpy(out + n, p + i, seq);
      n += seq;
      i += seq;
    } else if (c >= 0x20 && c < 0x7f && c != '\\') {
      out[n++] = (char)c;
      i++;
    } else {
      out[n++] = '\\';
      out[n++] = 'x';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
      i++;
    }
  }
  out[n] = '\0';
  return n;
}

static int reject(batch *b, bsl_file_state *st, const bsl_line *line,
                  const char *reason, char *err, size_t errlen) {
  b->stats->rejects++;
  if (st->rejects++ >= REJECT_SAMPLES_PER_FILE)
    return 0;
  char excerpt[EXCERPT_BYTES * 4 + 8];
  size_t n = make_excerpt(line->ptr, line->len, excerpt, sizeof excerpt);
  if (ensure_tx(b, err, errlen) != 0)
    return -1;
  if (bsl_store_add_reject(b->store, st->source, st->path,
                           (int64_t)line->offset, reason, excerpt, n) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(b->store));
    return -1;
  }
  return 0;
}

/* ---- one file ---- */

/* Finds the file's stored state by fingerprint, or starts a new one.
 * Returns 0, or -1 on a storage error. */
static int identify(batch *b, bsl_reader *r, bsl_file_state *st, char *err,
                    size_t errlen) {
  size_t prefix = bsl_reader_prefix_len(r);
  int lens[64];
  size_t n_lens = 0;
  if (bsl_store_fp_lengths(b->store, lens, 64, &n_lens) != 0)
    goto out_store;
  memset(st, 0, sizeof *st);
  for (size_t i = n_lens; i-- > 0;) {
    if (lens[i] <= 0 || (size_t)lens[i] > prefix)
      continue;
    char hex[BSL_FINGERPRINT_HEX + 1];
    bsl_reader_fingerprint(r, (size_t)lens[i], hex);
    int found = bsl_store_file_find(b->store, lens[i], hex, st);
    if (found < 0)
      goto out_store;
    if (found)
      break;
  }
  /* A file first seen short is re-keyed on a longer prefix once it grows,
   * so two files that merely start alike are not confused. */
  if (st->fp_len < (int)prefix) {
    st->fp_len = (int)prefix;
    bsl_reader_fingerprint(r, prefix, st->fingerprint);
  }
  return 0;
out_store:
  snprintf(err, errlen, "%s", bsl_store_error(b->store));
  return -1;
}

/* Returns 0 when the file was read, 1 when it failed (logged), -1 fatal. */
static int ingest_file(batch *b, const job *j, char *err, size_t errlen) {
  const bsl_config *cfg = b->cfg;
  const char *format_name =
      j->source ? j->source->format
                : (b->opts->format ? b->opts->format : "combined");
  const char *site =
      j->source ? j->source->site : (b->opts->site ? b->opts->site : "");
  const char *source_name = j->source ? j->source->name : "cli";
  (void)cfg;

  char ferr[512];
  bsl_format *fmt =
      format_get(b, format_name ? format_name : "combined", ferr, sizeof ferr);
  if (!fmt) {
    snprintf(err, errlen, "%s: %s", j->path, ferr);
    return -1;
  }
  int site_id = bsl_model_site(b->model, site ? site : "");
  if (site_id < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }

  bsl_reader *r = NULL;
  if (bsl_reader_open(&r, j->path, ferr, sizeof ferr) != 0) {
    fprintf(b->log, "boussole: %s\n", ferr);
    b->stats->files_failed++;
    return 1;
  }
  int rc = 0;
  bsl_file_state st;
  if (bsl_reader_prefix_len(r) == 0) {
    /* An empty file has no identity yet; it is read once it has lines. */
    b->stats->files_known++;
    goto out_close;
  }
  if (identify(b, r, &st, err, errlen) != 0) {
    rc = -1;
    goto out_close;
  }
  snprintf(st.source, sizeof st.source, "%s", source_name);
  snprintf(st.path, sizeof st.path, "%s", j->path);
  if (st.offset > 0 &&
      bsl_reader_skip_to(r, (uint64_t)st.offset, ferr, sizeof ferr) != 0) {
    fprintf(b->log,
            "boussole: %s: shorter than the %lld bytes already read from "
            "it; skipped (%s)\n",
            j->path, (long long)st.offset, ferr);
    b->stats->files_known++;
    goto out_close;
  }

  uint64_t start_offset = (uint64_t)st.offset;
  uint64_t flush_every =
      b->opts->flush_lines ? b->opts->flush_lines : DEFAULT_FLUSH_LINES;
  uint64_t since_flush = 0;
  double flush_deadline = now_seconds() + 5.0;
  bsl_line line;
  bsl_hit hit;
  int got;
  while ((got = bsl_reader_next(r, &line, ferr, sizeof ferr)) > 0) {
    st.lines++;
    b->stats->lines++;
    const char *reason = line.reason;
    if (line.kind == BSL_LINE_TRUNCATED && line.len == 0 &&
        line.offset == start_offset && start_offset > 0) {
      /* the damage at the end of a gzip file read before: counted then */
      st.lines--;
      b->stats->lines--;
      continue;
    }
    if (line.kind == BSL_LINE_OK &&
        bsl_format_parse(fmt, line.ptr, line.len, &hit, &reason) == 0) {
      st.hits++;
      b->stats->hits++;
      bsl_model_hit(b->model, site_id, &hit);
    } else if (reject(b, &st, &line, reason ? reason : "unparsable line", err,
                      errlen) != 0) {
      rc = -1;
      goto out_close;
    }
    if ((++since_flush & 0xffff) == 0) {
      draw_progress(b, bsl_reader_raw_position(r), false);
      if (stop_requested)
        break;
      if (since_flush >= flush_every || now_seconds() >= flush_deadline) {
        st.offset = (int64_t)bsl_reader_offset(r);
        if (commit(b, &st, err, errlen) != 0) {
          rc = -1;
          goto out_close;
        }
        since_flush = 0;
        flush_deadline = now_seconds() + 5.0;
      }
    }
  }
  if (got < 0) {
    fprintf(b->log, "boussole: %s\n", ferr);
    b->stats->files_failed++;
    rc = 1; /* what was read so far is still committed below */
  }
  st.offset = (int64_t)bsl_reader_offset(r);
  if (commit(b, &st, err, errlen) != 0) {
    rc = -1;
    goto out_close;
  }
  b->stats->bytes += (uint64_t)st.offset - start_offset;
  if ((uint64_t)st.offset == start_offset && got == 0)
    b->stats->files_known++;
  else
    b->stats->files++;
  uint64_t pending = bsl_reader_pending(r);
  if (pending > 0 && !stop_requested)
    fprintf(b->log,
            "boussole: %s: last line (%llu bytes) has no newline yet; it "
            "will be read once complete\n",
            j->path, (unsigned long long)pending);

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
                  strcmp(files[i], "-") == 0 ? NULL
                                             : source_for(cfg, files[i])) != 0)
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
      if (s->type != BSL_SOURCE_ACCESS) {
        fprintf(log,
                "boussole: source \"%s\": campaign logs are not supported by "
                "this version; skipped\n",
                s->name);
        continue;
      }
      glob_t g;
      int grc = glob(s->path, 0, NULL, &g);
      if (grc == GLOB_NOMATCH) {
        fprintf(log, "boussole: source \"%s\": no file matches %s\n", s->name,
                s->path);
        continue;
      }
      if (grc != 0) {
        snprintf(err, errlen, "source \"%s\": cannot expand %s", s->name,
                 s->path);
        return -1;
      }
      for (size_t k = 0; k < g.gl_pathc; k++) {
        struct stat sb;
        if (stat(g.gl_pathv[k], &sb) == 0 && S_ISREG(sb.st_mode) &&
            add_job(jobs, n_jobs, &cap, g.gl_pathv[k], s) != 0) {
          globfree(&g);
          goto out_oom;
        }
      }
      globfree(&g);
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
  batch b = {.cfg = cfg, .opts = opts, .stats = stats};
  b.log = opts->log ? opts->log : stderr;
  b.started = now_seconds();
  job *jobs = NULL;
  size_t n_jobs = 0;
  int rc = -1;

  if (collect_jobs(cfg, files, n, &jobs, &n_jobs, b.log, err, errlen) != 0)
    goto out;
  for (size_t i = 0; i < n_jobs; i++)
    b.total_bytes += jobs[i].size;

  const char *db = opts->db_path ? opts->db_path : cfg->db;
  if (bsl_store_open(&b.store, db, err, errlen) != 0)
    goto out;
  const char **goal_names = calloc(cfg->n_goals + 1, sizeof *goal_names);
  const char **goal_paths = calloc(cfg->n_goals + 1, sizeof *goal_paths);
  if (!goal_names || !goal_paths) {
    free(goal_names);
    free(goal_paths);
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < cfg->n_goals; i++) {
    goal_names[i] = cfg->goals[i].name;
    goal_paths[i] = cfg->goals[i].path;
  }
  bsl_classifier_options copts = {
      .static_extensions = (const char *const *)cfg->static_extensions,
      .n_static_extensions = cfg->n_static_extensions,
      .extra_bot_rules = cfg->bot_rules,
      .extra_channel_rules = cfg->channel_rules,
  };
  bsl_model_options mopts = {
      .session_timeout = cfg->session_timeout,
      .beacon_path = cfg->beacon_path,
      .timezone = cfg->timezone,
      .goal_names = goal_names,
      .goal_patterns = goal_paths,
      .n_goals = cfg->n_goals,
      .store = b.store,
  };
  int setup = bsl_classifier_create(&b.cls, &copts, err, errlen);
  mopts.classifier = b.cls;
  if (setup == 0)
    setup = bsl_model_create(&b.model, &mopts, err, errlen);
  free(goal_names);
  free(goal_paths);
  if (setup != 0)
    goto out;

  stop_requested = 0;
  struct sigaction sa = {.sa_handler = on_stop_signal}, old_int, old_term;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  rc = 0;
  for (size_t i = 0; i < n_jobs && !stop_requested; i++) {
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
  for (size_t i = 0; i < b.n_formats; i++) {
    free(b.formats[i].name);
    bsl_format_destroy(b.formats[i].format);
  }
  free(b.formats);
  bsl_model_destroy(b.model);
  bsl_classifier_destroy(b.cls);
  bsl_store_close(b.store);
  return rc;
}
