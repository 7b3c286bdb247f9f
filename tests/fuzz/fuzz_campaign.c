/*
 * Fuzz target for ingest/campaign.c and analyze/model/funnel.c: every input is
 * one campaign-log line, run through campaign-csv, a [format] regex and the
 * SendGrid and Mailgun JSON parsers; every event taken is then aggregated
 * (machine rule included) and flushed to a store in a temporary directory.
 * Beyond "no crash, no sanitizer report", it checks what the pipeline relies
 * on: a whole-line reject and every rejected event carry a reason, an
 * accepted line has at least one item, kinds are in range, and the regex
 * format's slices lie inside the line.  The line is copied to a buffer of
 * exactly its size so any read past the end is caught by ASan.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "campaign.h"
#include "changeset.h"
#include "funnel.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bsl_campaign_parser *parsers[4];
static bsl_store *store;
static bsl_funnel *agg;
static char tmp_dir[] = "/tmp/bsl-fuzz-campaign-XXXXXX";
static char db_path[sizeof tmp_dir + 8];

/* The store is a file in a private directory (the store resolves paths,
 * so ":memory:" would be a file in the working directory). */
static void remove_db(void) {
  bsl_funnel_destroy(agg);
  bsl_store_close(store);
  const char *const suffix[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    char path[sizeof db_path + 8];
    snprintf(path, sizeof path, "%s%s", db_path, suffix[i]);
    remove(path);
  }
  rmdir(tmp_dir);
}

static void utc_day(void *ctx, int64_t t, char out[11]) {
  (void)ctx;
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(out, 11, "%Y-%m-%d", &tm) == 0)
    strcpy(out, "0000-00-00");
}

static void init(void) {
  char err[256];
  static const char *const names[] = {"campaign-csv", "sendgrid-json",
                                      "mailgun-json"};
  for (size_t i = 0; i < 3; i++)
    if (bsl_campaign_create(&parsers[i], names[i], NULL, NULL, err,
                            sizeof err) != 0)
      abort();
  if (bsl_campaign_create(
          &parsers[3], "fuzz-regex",
          "^(?<time>[^|]*)\\|(?<campaign>[^|]*)\\|(?<event>[^|]*)"
          "(?:\\|(?<recipient>[^|]*))?(?:\\|(?<url>[^|]*))?"
          "(?:\\|(?<cost>[^|]*))?$",
          NULL, err, sizeof err) != 0)
    abort();
  bsl_funnel_options o = {.day_of = utc_day};
  if (!mkdtemp(tmp_dir))
    abort();
  snprintf(db_path, sizeof db_path, "%s/f.db", tmp_dir);
  if (bsl_store_open(&store, db_path, err, sizeof err) != 0)
    abort();
  atexit(remove_db);
  o.store = store;
  if (bsl_funnel_create(&agg, &o, err, sizeof err) != 0)
    abort();
}

/* INSIDE: the slice must point into the line (regex format). */
static void check_slice(bsl_str s, const char *line, size_t len, bool inside) {
  if (s.len > 0 && !s.ptr)
    abort();
  if (inside && s.len > 0 && (s.ptr < line || s.ptr + s.len > line + len))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!parsers[0])
    init();
  char *line = malloc(size ? size : 1);
  if (!line)
    return 0;
  if (size)
    memcpy(line, data, size);
  for (size_t k = 0; k < 4; k++) {
    const bsl_campaign_item *it;
    size_t n;
    const char *reason;
    int rc = bsl_campaign_parse(parsers[k], line, size, &it, &n, &reason);
    if (rc < 0) {
      if (!reason || !*reason)
        abort();
      continue;
    }
    if (rc == 1)
      continue;
    if (rc != 0 || n == 0)
      abort();
    for (size_t i = 0; i < n; i++) {
      if (!it[i].ok) {
        if (!it[i].reason[0])
          abort();
        continue;
      }
      const bsl_campaign_event *ev = &it[i].ev;
      if ((unsigned)ev->kind >= BSL_CEV_COUNT)
        abort();
      check_slice(ev->campaign, line, size, k == 3);
      check_slice(ev->recipient, line, size, k == 3);
      check_slice(ev->url, line, size, k == 3);
      if (bsl_funnel_add(agg, ev) != 0)
        abort();
    }
  }
  bsl_changeset *cs = bsl_changeset_create();
  if (!cs || bsl_funnel_flush_into(agg, cs) != 0 ||
      bsl_store_commit_changeset(store, cs) != 0)
    abort();
  bsl_funnel_flush_done(agg);
  bsl_changeset_destroy(cs);
  free(line);
  return 0;
}
