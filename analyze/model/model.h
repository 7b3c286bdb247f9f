/*
 * The audience model (SPEC §5): turns parsed hits into hit counts, visits,
 * pageviews per page, scroll depth, beacon events and conversions.
 *
 * The model keeps open visits and not-yet-written counter deltas in memory;
 * its memory depends on the number of open visits and on how often it is
 * flushed, never on the size of the input.  A flush records every pending
 * change into a changeset (changeset.h), which the caller applies to the
 * store in the same transaction as the read positions - possibly on another
 * thread, while the model goes on with the next lines:
 *   bsl_model_flush(cs) -> bsl_model_flush_done -> ... bsl_store_apply(cs)
 * The model borrows the store (read at creation only) and the classifier; it
 * owns everything else.
 */
#ifndef BSL_MODEL_H
#define BSL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "hit.h"
#include "store.h"

typedef struct bsl_model bsl_model;

typedef struct bsl_model_options {
  int session_timeout;     /* seconds */
  const char *beacon_path; /* e.g. "/collect" */
  const char *timezone;    /* zoneinfo name, "UTC" or "+HH:MM"/"-HH:MM" */
  const char *const *goal_names;
  const char *const *goal_patterns; /* PCRE2, matched against the path */
  size_t n_goals;                   /* at most 64 */
  bsl_classifier *classifier;       /* borrowed */
  bsl_store *store;                 /* borrowed */
  size_t max_open_visits;           /* 0: no cap (see bsl_model_hit) */
} bsl_model_options;

/*
 * Creates a model and resumes its state from the store: day salts, the next
 * visit id and the visits left open by an earlier run.  Returns 0, or -1 with
 * a message in err.
 */
int bsl_model_create(bsl_model **out, const bsl_model_options *opts, char *err,
                     size_t errlen);
void bsl_model_destroy(bsl_model *m);

/* The tracking beacon's path ("/collect" unless configured). */
const char *bsl_model_beacon_path(const bsl_model *m);

/* Interns a site name; returns its id for bsl_model_hit(), or -1 (OOM). */
int bsl_model_site(bsl_model *m, const char *site);

/*
 * Accounts one parsed hit of site SITE_ID, derived by the feeder (hit.h);
 * a hit built otherwise is derived first, as bsl_hit_derive() does, with
 * the model's classifier.  When more than max_open_visits visits are open,
 * those no line can extend are dropped from memory and, if still too many,
 * the least recently active are closed early (counted by
 * bsl_model_closed_early()).  Returns 0, or -1 when an allocation failed:
 * some effects of this hit (or of an earlier one) are missing, and from then
 * on the model refuses hits and flushes, so that nothing partial is ever
 * committed; the caller must stop and a new model resumes from the store.
 */
int bsl_model_hit(bsl_model *m, int site_id, const bsl_hit *hit);

/* Visits closed early by the max_open_visits cap since creation. */
uint64_t bsl_model_closed_early(const bsl_model *m);

/* Records all pending changes into CS.  Returns 0, or -1 when out of
 * memory now or during an earlier hit (CS must then not be applied). */
struct bsl_changeset;
int bsl_model_flush(bsl_model *m, struct bsl_changeset *cs);
/* Forgets what the last flush recorded: the changeset now holds it. */
void bsl_model_flush_done(bsl_model *m);

/* Visits begun or closed since the last flush: what the next flush writes
 * and, for closed ones, what memory it frees.  Callers commit early when it
 * grows large (an address flood), so memory stays bounded by the cap. */
size_t bsl_model_pending_visits(const bsl_model *m);

/*
 * Parking (store.h): with ON, each flush writes the open visits not yet in
 * visit_log to visit_parked, all of them, rather than each changed one to
 * visit_log; a visit's row then goes to visit_log once, when it closes.
 * For a bulk load, whose readers look at the end: a flush after parking
 * is turned off writes the parked visits to visit_log (bsl_model_parked()
 * says that one is needed: parked visits wait, parking is off).  Parking pauses
 * while more than BSL_MODEL_PARK_MAX visits, or mostly unchanged ones, are open
 * (an address flood: writing them all at every commit would cost more
 * than the rewrites it saves, and hold them all in the changeset).
 */
#define BSL_MODEL_PARK_MAX 32768
void bsl_model_set_parking(bsl_model *m, bool on);
bool bsl_model_parked(const bsl_model *m);

/* Number of visits currently held in memory. */
size_t bsl_model_open_visits(const bsl_model *m);

/* Day (YYYY-MM-DD, in the model's time zone) of Unix time T. */
void bsl_model_day_string(bsl_model *m, int64_t t, char out[11]);

#endif
