/*
 * A changeset: every write of one commit, recorded in memory so that it can
 * be applied to the store later, on another thread, or again after a failed
 * attempt.  Building one takes no lock and touches no database; committing
 * it (bsl_store_commit_changeset) runs the recorded writes in order: the
 * salts in their own file around one transaction of the database.
 *
 * Strings are copied into the changeset's own arena.  A changeset that ran
 * out of memory while being built says so (bsl_changeset_failed) and must
 * not be applied.
 */
#ifndef BSL_CHANGESET_H
#define BSL_CHANGESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct bsl_changeset bsl_changeset;

bsl_changeset *bsl_changeset_create(void);
void bsl_changeset_destroy(bsl_changeset *cs);
/* Forgets every record, keeping the memory for the next commit. */
void bsl_changeset_clear(bsl_changeset *cs);
bool bsl_changeset_failed(const bsl_changeset *cs);

void bsl_changeset_add_hits(bsl_changeset *cs, const char *day,
                            const char *site, int status, int64_t hits,
                            int64_t bot_hits);
void bsl_changeset_add_event(bsl_changeset *cs, const char *day,
                             const char *site, const char *path,
                             const char *event, const char *target,
                             int64_t events);
void bsl_changeset_add_page_counts(bsl_changeset *cs, const char *day,
                                   const char *site, const char *path,
                                   int64_t pageviews, int64_t entries,
                                   int64_t scroll_sum, int64_t scroll_75);
void bsl_changeset_add_not_found(bsl_changeset *cs, const char *day,
                                 const char *site, const char *path,
                                 int64_t hits);
void bsl_changeset_put_visit(bsl_changeset *cs, const bsl_visit_row *v);
void bsl_changeset_put_visit_goal(bsl_changeset *cs, int64_t visit_id,
                                  const char *goal);
void bsl_changeset_put_salt(bsl_changeset *cs, const char *day,
                            const uint8_t *salt, size_t len);
void bsl_changeset_delete_salts_before(bsl_changeset *cs, const char *day);
/* bsl_store_number_visitors(BEFORE) */
void bsl_changeset_number_visitors(bsl_changeset *cs, const char *before);
/* bsl_store_park_reset(): the open visits parked by the last commit go;
 * this commit's parked rows (bsl_visit_row.parked) follow. */
void bsl_changeset_park_reset(bsl_changeset *cs);
void bsl_changeset_meta_set(bsl_changeset *cs, const char *key, int64_t value);
void bsl_changeset_add_reject(bsl_changeset *cs, const char *source,
                              const char *path, int64_t offset,
                              const char *reason, const char *excerpt,
                              size_t excerpt_len);
/* Saves ST's row; ST->file_id must already exist (bsl_store_file_save). */
void bsl_changeset_file_update(bsl_changeset *cs, const bsl_file_state *st);

/*
 * A write the changeset cannot describe by itself: APPLY(store, payload) is
 * called in order when the changeset is applied (it returns 0 or -1 with the
 * store's error set) and DROP(payload) when the changeset is cleared.  The
 * changeset owns PAYLOAD from this call on.
 */
void bsl_changeset_custom(bsl_changeset *cs, int (*apply)(bsl_store *, void *),
                          void (*drop)(void *), void *payload);

/* Runs every record of CS in order inside the caller's transaction, but
 * for the salts (their own file: see bsl_store_commit_changeset).
 * Returns 0, or -1 with bsl_store_error() set. */
int bsl_store_apply(bsl_store *s, const bsl_changeset *cs);

/*
 * Commits CS: its new salts to the salts file first, then the rest in one
 * transaction, then the deletion of old salts (changeset.c says why in that
 * order).  On PostgreSQL everything, salts included, is one transaction,
 * fenced so that a retry of CS after a COMMIT whose answer was lost applies
 * only the records appended since (store_pg.c).  Returns 0, or -1 with
 * bsl_store_error() set when nothing of the transaction was committed (salts
 * saved ahead of it are harmless, and the same changeset may be committed
 * again).
 */
int bsl_store_commit_changeset(bsl_store *s, const bsl_changeset *cs);

#endif
