/*
 * The ingestion core (see pipeline.h): file identity, line dispatch and the
 * commit that makes ingestion exactly-once.
 *
 * Reject samples are kept in memory until the commit so that a commit that
 * fails and is retried writes each sample exactly once, like the counters.
 */
#include "pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h" /* campaign logs */
#include "changeset.h"
#include "classify.h"
#include "excerpt.h"
#include "format.h"
#include "funnel.h" /* campaign logs */

#define REJECT_SAMPLES_PER_FILE 1000

typedef struct format_slot {
  char *name;
  bsl_format *format;
} format_slot;

/* campaign logs: one parser per campaign format in use */
typedef struct campaign_slot {
  char *name;
  bsl_campaign_parser *parser;
} campaign_slot;

typedef struct reject_sample {
  char *source, *path, *reason, *excerpt;
  size_t excerpt_len;
  int64_t offset;
} reject_sample;

struct bsl_pipeline {
  const bsl_config *cfg;
  bsl_store *store;
  bsl_classifier *cls;
  bsl_model *model;
  format_slot *formats;
  size_t n_formats;
  campaign_slot *campaign_parsers; /* campaign logs */
  size_t n_campaign_parsers;
  bsl_funnel *campaigns;
  reject_sample *samples;
  size_t n_samples, cap_samples;
  bsl_changeset *cs; /* changes of the next commit (and of a failed one) */
  /* the writer thread of bsl_pipeline_commit_async */
  pthread_t writer;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool writer_ok, quit;
  bsl_changeset *job;   /* being applied by the writer */
  atomic_bool writing;  /* job != NULL, read without mu */
  bsl_changeset *spare; /* applied, free for the next commit (or, after a
                           failure, the changes that failed) */
  int result;           /* first failure of the writer */
  char werr[1024];
  void (*on_commit)(void *); /* after each commit the writer applied */
  void *on_commit_ctx;
  bsl_pipeline_stats stats;
  uint64_t flush_lines;      /* bsl_pipeline_set_flush_lines(); 0: none */
  uint64_t lines_at_prepare; /* stats.lines when the last commit was made */
  /* Set when memory ran out while lines were accounted or a commit was
   * prepared: the in-memory state then lacks effects of lines already
   * consumed, so no commit may follow (a commit would record offsets past
   * them).  The next run resumes from the last commit. */
  bool failed;
  char failure[1024];
};

const bsl_pipeline_stats *bsl_pipeline_stats_get(const bsl_pipeline *p) {
  return &p->stats;
}

bsl_store *bsl_pipeline_store(bsl_pipeline *p) {
  return p->store;
}

bsl_classifier *bsl_pipeline_classifier(bsl_pipeline *p) {
  return p->cls;
}

bsl_model *bsl_pipeline_model(bsl_pipeline *p) {
  return p->model;
}

/* campaign logs: days are cut in the model's zone */
static void day_of(void *model, int64_t t, char out[11]) {
  bsl_model_day_string(model, t, out);
}

static void *writer_main(void *arg);

int bsl_pipeline_open(bsl_pipeline **out, const bsl_config *cfg,
                      const char *db_path, char *err, size_t errlen) {
  *out = NULL;
  bsl_pipeline *p = calloc(1, sizeof *p);
  const char **goal_names = calloc(cfg->n_goals + 1, sizeof *goal_names);
  const char **goal_paths = calloc(cfg->n_goals + 1, sizeof *goal_paths);
  if (!p || !goal_names || !goal_paths) {
    free(p);
    free(goal_names);
    free(goal_paths);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  p->cfg = cfg;
  p->cs = bsl_changeset_create();
  if (!p->cs) {
    free(p);
    free(goal_names);
    free(goal_paths);
    snprintf(err, errlen, "out of memory");
    return -1;
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
  int rc = bsl_store_open_host(&p->store, db_path ? db_path : cfg->db,
                               cfg->host, err, errlen);
  /* An index a killed bulk load dropped is rebuilt here; if the database
   * is busy it is rebuilt next time (queries stay right, only slower). */
  if (rc == 0)
    (void)bsl_store_day_index(p->store, true);
  if (rc == 0)
    rc = bsl_classifier_create(&p->cls, &copts, err, errlen);
  if (rc == 0) {
    bsl_model_options mopts = {
        .session_timeout = cfg->session_timeout,
        .beacon_path = cfg->beacon_path,
        .timezone = cfg->timezone,
        .goal_names = goal_names,
        .goal_patterns = goal_paths,
        .n_goals = cfg->n_goals,
        .classifier = p->cls,
        .store = p->store,
        .max_open_visits = cfg->max_open_visits,
    };
    rc = bsl_model_create(&p->model, &mopts, err, errlen);
  }
  if (rc == 0) { /* campaign logs */
    bsl_funnel_options copt = {
        .day_of = day_of, .day_ctx = p->model, .store = p->store};
    rc = bsl_funnel_create(&p->campaigns, &copt, err, errlen);
  }
  free(goal_names);
  free(goal_paths);
  if (rc != 0) {
    bsl_pipeline_close(p);
    return -1;
  }
  /* Commits of a batch ingest run on a writer thread, overlapping with the
   * reading of the next lines, when SQLite may be used from two threads. */
  p->spare = bsl_changeset_create();
  if (p->spare && bsl_store_threadsafe() &&
      pthread_mutex_init(&p->mu, NULL) == 0) {
    if (pthread_cond_init(&p->cv, NULL) == 0) {
      if (pthread_create(&p->writer, NULL, writer_main, p) == 0) {
        p->writer_ok = true;
        (void)pthread_setname_np(p->writer, "bsl-write");
      } else
        pthread_cond_destroy(&p->cv);
    }
    if (!p->writer_ok)
      pthread_mutex_destroy(&p->mu);
  }
  *out = p;
  return 0;
}

static void free_samples(bsl_pipeline *p) {
  for (size_t i = 0; i < p->n_samples; i++) {
    free(p->samples[i].source);
    free(p->samples[i].path);
    free(p->samples[i].reason);
    free(p->samples[i].excerpt);
  }
  p->n_samples = 0;
}

void bsl_pipeline_close(bsl_pipeline *p) {
  if (!p)
    return;
  if (p->writer_ok) {
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->writer, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
  }
  bsl_changeset_destroy(p->spare);
  for (size_t i = 0; i < p->n_formats; i++) {
    free(p->formats[i].name);
    bsl_format_destroy(p->formats[i].format);
  }
  free(p->formats);
  for (size_t i = 0; i < p->n_campaign_parsers; i++) { /* campaign logs */
    free(p->campaign_parsers[i].name);
    bsl_campaign_destroy(p->campaign_parsers[i].parser);
  }
  free(p->campaign_parsers);
  bsl_funnel_destroy(p->campaigns);
  free_samples(p);
  free(p->samples);
  bsl_changeset_destroy(p->cs);
  bsl_model_destroy(p->model);
  bsl_classifier_destroy(p->cls);
  bsl_store_close(p->store);
  free(p);
}

static bsl_format *format_get(bsl_pipeline *p, const char *name, char *err,
                              size_t errlen) {
  for (size_t i = 0; i < p->n_formats; i++)
    if (strcmp(p->formats[i].name, name) == 0)
      return p->formats[i].format;
  bsl_format *f = NULL;
  if (bsl_format_is_builtin(name)) {
    if (bsl_format_create(&f, name, NULL, NULL, err, errlen) != 0)
      return NULL;
  } else {
    const bsl_format_conf *fc = bsl_config_find_format(p->cfg, name);
    if (!fc) {
      snprintf(err, errlen,
               "unknown format \"%s\" (built in: combined, common, "
               "vcombined; or a [format] section)",
               name);
      return NULL;
    }
    if (bsl_format_create(&f, name, fc->regex, fc->time_format, err, errlen) !=
        0)
      return NULL;
  }
  format_slot *ns = realloc(p->formats, (p->n_formats + 1) * sizeof *ns);
  char *copy = strdup(name);
  if (!ns || !copy) {
    if (ns)
      p->formats = ns;
    free(copy);
    bsl_format_destroy(f);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  p->formats = ns;
  p->formats[p->n_formats].name = copy;
  p->formats[p->n_formats++].format = f;
  return f;
}

/* ---- campaign logs: parser selection ---- */

/* True when NAME is a campaign format: a built-in one or a [format] with
 * type = campaign. */
static bool is_campaign_format(const bsl_pipeline *p, const char *name) {
  if (bsl_campaign_is_builtin(name))
    return true;
  const bsl_format_conf *fc = bsl_config_find_format(p->cfg, name);
  return fc && fc->has_type && fc->type == BSL_SOURCE_CAMPAIGN;
}

static bsl_campaign_parser *campaign_get(bsl_pipeline *p, const char *name,
                                         char *err, size_t errlen) {
  for (size_t i = 0; i < p->n_campaign_parsers; i++)
    if (strcmp(p->campaign_parsers[i].name, name) == 0)
      return p->campaign_parsers[i].parser;
  bsl_campaign_parser *cp = NULL;
  const bsl_format_conf *fc = NULL;
  if (!bsl_campaign_is_builtin(name) &&
      !(fc = bsl_config_find_format(p->cfg, name))) {
    snprintf(err, errlen,
             "unknown campaign format \"%s\" (built in: campaign-csv, "
             "sendgrid-json, mailgun-json; or a [format] section)",
             name);
    return NULL;
  }
  if (bsl_campaign_create(&cp, name, fc ? fc->regex : NULL,
                          fc ? fc->time_format : NULL, err, errlen) != 0)
    return NULL;
  campaign_slot *ns =
      realloc(p->campaign_parsers, (p->n_campaign_parsers + 1) * sizeof *ns);
  char *copy = strdup(name);
  if (!ns || !copy) {
    if (ns)
      p->campaign_parsers = ns;
    free(copy);
    bsl_campaign_destroy(cp);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  p->campaign_parsers = ns;
  p->campaign_parsers[p->n_campaign_parsers].name = copy;
  p->campaign_parsers[p->n_campaign_parsers++].parser = cp;
  return cp;
}

/* Finds the file's stored state by fingerprint, or starts a new one. */
static int identify(bsl_pipeline *p, bsl_reader *r, bsl_file_state *st,
                    char *err, size_t errlen) {
  size_t prefix = bsl_reader_prefix_len(r);
  int lens[64];
  size_t n_lens = 0;
  memset(st, 0, sizeof *st);
  if (bsl_store_fp_lengths(p->store, lens, 64, &n_lens) != 0)
    goto out_store;
  for (size_t i = n_lens; i-- > 0;) {
    if (lens[i] <= 0 || (size_t)lens[i] > prefix)
      continue;
    char hex[BSL_FINGERPRINT_HEX + 1];
    bsl_reader_fingerprint(r, (size_t)lens[i], hex);
    int found = bsl_store_file_find(p->store, lens[i], hex, st);
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
  snprintf(err, errlen, "%s", bsl_store_error(p->store));
  return -1;
}

int bsl_pipeline_input_begin(bsl_pipeline *p, bsl_input *in, bsl_reader *r,
                             const char *path, const bsl_source_conf *src,
                             const char *format, const char *site,
                             const char **why, char *err, size_t errlen) {
  memset(in, 0, sizeof *in);
  *why = NULL;
  const char *format_name = src ? src->format : (format ? format : "combined");
  char ferr[512];
  if (!format_name)
    format_name = "combined";
  in->type = src ? src->type : BSL_SOURCE_ACCESS;
  if (src ? src->type == BSL_SOURCE_CAMPAIGN
          : is_campaign_format(p, format_name)) { /* campaign logs */
    in->type = BSL_SOURCE_CAMPAIGN;
    in->campaign = campaign_get(p, format_name, ferr, sizeof ferr);
    if (!in->campaign) {
      snprintf(err, errlen, "%s: %s", path, ferr);
      return -1;
    }
  } else {
    in->format = format_get(p, format_name, ferr, sizeof ferr);
    if (!in->format) {
      snprintf(err, errlen, "%s: %s", path, ferr);
      return -1;
    }
  }
  in->site_id = bsl_model_site(p->model, src ? src->site : site ? site : "");
  if (in->site_id < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (bsl_reader_prefix_len(r) == 0) {
    *why = "empty";
    return 1;
  }
  if (identify(p, r, &in->st, err, errlen) != 0)
    return -1;
  char stored[sizeof in->st.path];
  memcpy(stored, in->st.path, sizeof stored);
  snprintf(in->st.source, sizeof in->st.source, "%s", src ? src->name : "cli");
  snprintf(in->st.path, sizeof in->st.path, "%s", path);
  in->renamed = in->st.file_id != 0 && strcmp(stored, in->st.path) != 0;
  /* The row exists before any commit names it (commits update it by id);
   * offset 0 claims nothing read yet. */
  if (in->st.file_id == 0 && bsl_store_file_save(p->store, &in->st) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(p->store));
    return -1;
  }
  in->start_offset = (uint64_t)in->st.offset;
  if (in->st.offset > 0 &&
      bsl_reader_skip_to(r, (uint64_t)in->st.offset, ferr, sizeof ferr) != 0) {
    *why = "shorter than what was already read from it";
    memcpy(in->st.path, stored, sizeof stored);
    return 1;
  }
  /* a renamed file's row takes its new path at the next commit, even if
   * nothing is left to read in it */
  in->dirty = in->renamed;
  return 0;
}

static void reject(bsl_pipeline *p, bsl_input *in, const bsl_line *line,
                   const char *reason) {
  p->stats.rejects++;
  if (in->st.rejects++ >= REJECT_SAMPLES_PER_FILE)
    return;
  if (p->n_samples == p->cap_samples) {
    size_t ncap = p->cap_samples ? p->cap_samples * 2 : 64;
    reject_sample *ns = realloc(p->samples, ncap * sizeof *ns);
    if (!ns)
      return; /* the count stays right; only the sample is lost */
    p->samples = ns;
    p->cap_samples = ncap;
  }
  /* addresses masked, agents cut (excerpt.h): SPEC §7 "Privacy" */
  char excerpt[BSL_EXCERPT_CAP];
  size_t n = bsl_excerpt_make(line->ptr, line->len, excerpt, sizeof excerpt);
  reject_sample *s = &p->samples[p->n_samples];
  s->source = strdup(in->st.source);
  s->path = strdup(in->st.path);
  s->reason = strdup(reason);
  s->excerpt = strndup(excerpt, n);
  s->excerpt_len = n;
  s->offset = (int64_t)line->offset;
  if (!s->source || !s->path || !s->reason || !s->excerpt) {
    free(s->source);
    free(s->path);
    free(s->reason);
    free(s->excerpt);
    return;
  }
  p->n_samples++;
}

/* Marks the pipeline failed for want of memory at LINE of IN (see
 * bsl_pipeline.failed); returns -1 with the message in err. */
/* Fails P for good for want of memory WHERE (first failure wins: it is the
 * one that lost data); returns -1 with the message in err. */
static int fail_for_memory(bsl_pipeline *p, const char *where, char *err,
                           size_t errlen) {
  if (!p->failed) {
    p->failed = true;
    snprintf(p->failure, sizeof p->failure,
             "out of memory %s; stopped without saving anything read since "
             "the last commit, which the next run reads again (lower "
             "max_open_visits or give the process more memory)",
             where);
  }
  snprintf(err, errlen, "%s", p->failure);
  return -1;
}

static int out_of_memory(bsl_pipeline *p, const bsl_input *in,
                         const bsl_line *line, char *err, size_t errlen) {
  char where[700];
  snprintf(where, sizeof where, "at %.600s offset %llu", in->st.path,
           (unsigned long long)line->offset);
  return fail_for_memory(p, where, err, errlen);
}

/* campaign logs: a line may carry several events, each taken (a hit) or
 * rejected (a reject with its reason) on its own.  Returns 0, or -1 when an
 * event could not be kept for want of memory. */
static int campaign_line(bsl_pipeline *p, bsl_input *in, const bsl_line *line) {
  const bsl_campaign_item *items;
  size_t n = 0;
  const char *reason = line->reason;
  int rc = line->kind != BSL_LINE_OK
               ? -1
               : bsl_campaign_parse(in->campaign, line->ptr, line->len, &items,
                                    &n, &reason);
  if (rc == 1)
    return 0; /* a header line */
  if (rc != 0) {
    reject(p, in, line, reason ? reason : "unparsable line");
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (!items[i].ok) {
      reject(p, in, line, items[i].reason);
      continue;
    }
    if (bsl_funnel_add(p->campaigns, &items[i].ev) != 0)
      return -1;
    in->st.hits++;
    p->stats.hits++;
  }
  return 0;
}

/* A parsed line (HIT) goes to the model, anything else is a reject.
 * Returns 0, or -1 when the model ran out of memory. */
static int account(bsl_pipeline *p, bsl_input *in, const bsl_line *line,
                   const bsl_hit *hit, const char *reason) {
  if (!hit) {
    reject(p, in, line, reason ? reason : "unparsable line");
    return 0;
  }
  in->st.hits++;
  p->stats.hits++;
  return bsl_model_hit(p->model, in->site_id, hit);
}

/* Counts LINE as read; false when it must be skipped: damage at the end of
 * a gzip file read before, counted then. */
static bool count_line(bsl_pipeline *p, bsl_input *in, const bsl_line *line) {
  if (line->kind == BSL_LINE_TRUNCATED && line->len == 0 &&
      line->offset == in->start_offset && in->start_offset > 0)
    return false;
  in->dirty = true;
  in->st.lines++;
  p->stats.lines++;
  return true;
}

int bsl_pipeline_fed_line(bsl_pipeline *p, bsl_input *in,
                          const bsl_fed_line *fl, char *err, size_t errlen) {
  const bsl_line *line = &fl->line;
  if (p->failed) {
    snprintf(err, errlen, "%s", p->failure);
    return -1;
  }
  if (!count_line(p, in, line))
    return 0;
  int rc = in->type == BSL_SOURCE_CAMPAIGN /* campaign logs */
               ? campaign_line(p, in, line)
               : account(p, in, line,
                         fl->parsed && fl->parse_rc == 0 ? &fl->hit : NULL,
                         fl->reason);
  if (rc != 0)
    return out_of_memory(p, in, line, err, errlen);
  return 0;
}

bool bsl_pipeline_commit_due(const bsl_pipeline *p) {
  bool writing = atomic_load_explicit(&p->writing, memory_order_relaxed);
  size_t visits = bsl_model_pending_visits(p->model);
  uint64_t lines = p->stats.lines - p->lines_at_prepare;
  return visits >= (writing ? BSL_PIPELINE_PENDING_VISITS_BUSY
                            : BSL_PIPELINE_PENDING_VISITS) ||
         (p->flush_lines && lines >= (writing ? 2 : 1) * p->flush_lines);
}

void bsl_pipeline_set_flush_lines(bsl_pipeline *p, uint64_t n) {
  p->flush_lines = n;
}

bool bsl_pipeline_failed(const bsl_pipeline *p) {
  return p->failed;
}

uint64_t bsl_pipeline_closed_early(const bsl_pipeline *p) {
  return bsl_model_closed_early(p->model);
}

/* Records everything to commit into CS.  Returns 0, or -1 out of memory. */
static int prepare(bsl_pipeline *p, bsl_changeset *cs, bsl_input *const *inputs,
                   size_t n) {
  p->lines_at_prepare = p->stats.lines;
  if (bsl_model_flush(p->model, cs) != 0)
    return -1;
  bsl_model_flush_done(p->model);
  if (bsl_funnel_flush_into(p->campaigns, cs) != 0) /* campaign logs */
    return -1;
  bsl_funnel_flush_done(p->campaigns);
  for (size_t i = 0; i < p->n_samples; i++) {
    reject_sample *s = &p->samples[i];
    bsl_changeset_add_reject(cs, s->source, s->path, s->offset, s->reason,
                             s->excerpt, s->excerpt_len);
  }
  free_samples(p);
  for (size_t i = 0; i < n; i++) {
    bsl_changeset_file_update(cs, &inputs[i]->st);
    inputs[i]->dirty = false;
  }
  return bsl_changeset_failed(cs) ? -1 : 0;
}

/* Applies CS in one transaction (its salts around it, changeset.h).
 * Returns 0, or -1 with err set. */
static int apply(bsl_store *store, const bsl_changeset *cs, char *err,
                 size_t errlen) {
  if (bsl_store_commit_changeset(store, cs) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(store));
    return -1;
  }
  return 0;
}

/* The commit refused because memory ran out earlier, or while preparing
 * this one (the model's pending changes are then half in CS): either way
 * the pipeline is failed for good. */
static int refuse_commit(bsl_pipeline *p, char *err, size_t errlen) {
  return fail_for_memory(p, "while preparing a commit", err, errlen);
}

int bsl_pipeline_commit(bsl_pipeline *p, bsl_input *const *inputs, size_t n,
                        char *err, size_t errlen) {
  if (p->failed)
    return refuse_commit(p, err, errlen);
  if (bsl_pipeline_sync(p, err, errlen) != 0)
    return -1;
  /* p->cs may still hold an earlier attempt that failed: the new changes are
   * appended and everything is applied in order, so nothing is lost. */
  if (prepare(p, p->cs, inputs, n) != 0)
    return refuse_commit(p, err, errlen);
  if (apply(p->store, p->cs, err, errlen) != 0) {
    for (size_t i = 0; i < n; i++)
      inputs[i]->dirty = true; /* their state is still to be committed */
    return -1;
  }
  bsl_changeset_clear(p->cs);
  return 0;
}

/* ---- the writer thread: commits overlap with reading the next lines ---- */

static void *writer_main(void *arg) {
  bsl_pipeline *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->job && !p->quit)
      pthread_cond_wait(&p->cv, &p->mu);
    if (!p->job)
      break;
    bsl_changeset *job = p->job;
    pthread_mutex_unlock(&p->mu);
    char err[1024];
    int rc = apply(p->store, job, err, sizeof err);
    if (rc == 0) /* a failed one is kept: bsl_pipeline_commit_start() */
      bsl_changeset_clear(job);
    pthread_mutex_lock(&p->mu);
    if (rc != 0 && p->result == 0) {
      p->result = -1;
      snprintf(p->werr, sizeof p->werr, "%s", err);
    }
    p->spare = job;
    p->job = NULL;
    atomic_store_explicit(&p->writing, false, memory_order_relaxed);
    pthread_cond_broadcast(&p->cv);
    if (p->on_commit) {
      pthread_mutex_unlock(&p->mu);
      p->on_commit(p->on_commit_ctx);
      pthread_mutex_lock(&p->mu);
    }
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* Gives the writer thread the changeset just prepared and takes the spare
 * one to fill; with p->mu held and no job in flight.  `writing` mirrors
 * p->job for bsl_pipeline_commit_due(), which reads it without the lock. */
static void hand_to_writer(bsl_pipeline *p) {
  p->job = p->cs;
  atomic_store_explicit(&p->writing, true, memory_order_relaxed);
  p->cs = p->spare;
  p->spare = NULL;
  pthread_cond_broadcast(&p->cv);
}

int bsl_pipeline_commit_async(bsl_pipeline *p, bsl_input *const *inputs,
                              size_t n, char *err, size_t errlen) {
  if (!p->writer_ok)
    return bsl_pipeline_commit(p, inputs, n, err, errlen);
  if (p->failed || prepare(p, p->cs, inputs, n) != 0)
    return refuse_commit(p, err, errlen);
  pthread_mutex_lock(&p->mu);
  while (p->job)
    pthread_cond_wait(&p->cv, &p->mu);
  int rc = p->result;
  if (rc != 0) {
    snprintf(err, errlen, "%s", p->werr);
  } else {
    hand_to_writer(p); /* one changeset in flight, the other being filled */
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

void bsl_pipeline_on_commit(bsl_pipeline *p, void (*fn)(void *), void *ctx) {
  p->on_commit = fn;
  p->on_commit_ctx = ctx;
}

int bsl_pipeline_commit_start(bsl_pipeline *p, bsl_input *const *inputs,
                              size_t n, char *err, size_t errlen) {
  if (p->failed)
    return refuse_commit(p, err, errlen);
  if (!p->writer_ok) { /* the same, on the caller's thread */
    p->result = 0;     /* a failed commit's changes are still in p->cs */
    if (prepare(p, p->cs, inputs, n) != 0)
      return refuse_commit(p, err, errlen);
    if (apply(p->store, p->cs, p->werr, sizeof p->werr) == 0)
      bsl_changeset_clear(p->cs);
    else
      p->result = -1;
    if (p->on_commit)
      p->on_commit(p->on_commit_ctx);
    return 0;
  }
  pthread_mutex_lock(&p->mu);
  while (p->job)
    pthread_cond_wait(&p->cv, &p->mu);
  if (p->result != 0) {
    /* The last commit failed: its changes (in spare) go first, and the new
     * ones are appended, as bsl_pipeline_commit() does.  p->cs is empty:
     * only commits prepare into it, and each hands it over. */
    bsl_changeset *failed = p->spare;
    p->spare = p->cs;
    p->cs = failed;
    p->result = 0;
  }
  pthread_mutex_unlock(&p->mu);
  if (prepare(p, p->cs, inputs, n) != 0)
    return refuse_commit(p, err, errlen);
  pthread_mutex_lock(&p->mu);
  hand_to_writer(p);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

bool bsl_pipeline_commit_pending(bsl_pipeline *p) {
  if (!p->writer_ok)
    return false;
  pthread_mutex_lock(&p->mu);
  bool pending = p->job != NULL;
  pthread_mutex_unlock(&p->mu);
  return pending;
}

int bsl_pipeline_sync(bsl_pipeline *p, char *err, size_t errlen) {
  if (!p->writer_ok) { /* set by bsl_pipeline_commit_start() only */
    if (p->result != 0)
      snprintf(err, errlen, "%s", p->werr);
    return p->result;
  }
  pthread_mutex_lock(&p->mu);
  while (p->job)
    pthread_cond_wait(&p->cv, &p->mu);
  int rc = p->result;
  if (rc != 0)
    snprintf(err, errlen, "%s", p->werr);
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int bsl_pipeline_input_stream(bsl_pipeline *p, bsl_input *in,
                              const bsl_source_conf *src, const char *key,
                              char *err, size_t errlen) {
  memset(in, 0, sizeof *in);
  char ferr[512];
  in->format =
      format_get(p, src->format ? src->format : "combined", ferr, sizeof ferr);
  if (!in->format) {
    snprintf(err, errlen, "source \"%s\": %s", src->name, ferr);
    return -1;
  }
  in->type = src->type;
  in->site_id = bsl_model_site(p->model, src->site ? src->site : "");
  if (in->site_id < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* fp_len 0 never collides with a file's fingerprint */
  int found = bsl_store_file_find(p->store, 0, key, &in->st);
  if (found < 0) {
    snprintf(err, errlen, "%s", bsl_store_error(p->store));
    return -1;
  }
  if (!found) {
    snprintf(in->st.fingerprint, sizeof in->st.fingerprint, "%s", key);
    in->st.fp_len = 0;
  }
  snprintf(in->st.source, sizeof in->st.source, "%s", src->name);
  snprintf(in->st.path, sizeof in->st.path, "%s", key);
  if (in->st.file_id == 0 && bsl_store_file_save(p->store, &in->st) != 0) {
    snprintf(err, errlen, "%s", bsl_store_error(p->store));
    return -1;
  }
  return 0;
}
