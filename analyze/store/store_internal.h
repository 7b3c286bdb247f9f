/*
 * Internals of the store module, shared by its files (store.c and the
 * store_*.c files that hold the SQL of later features).  Nothing outside
 * analyze/store*.c includes this header: the rest of the program sees only
 * store.h.
 */
#ifndef BSL_STORE_INTERNAL_H
#define BSL_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "store.h"

#define BSL_STORE_CORE_STMTS 32
#define BSL_STORE_EXTRA_MAX 64

typedef struct bsl_pg bsl_pg;

struct bsl_store {
  sqlite3 *db; /* NULL for a PostgreSQL store */
  bsl_pg *pg;  /* the PostgreSQL backend (store_pg.c), NULL for SQLite */
  char *path;
  sqlite3_stmt *stmt[BSL_STORE_CORE_STMTS];
  /* statements of the store_*.c files, prepared on first use */
  const char *extra_sql[BSL_STORE_EXTRA_MAX];
  sqlite3_stmt *extra[BSL_STORE_EXTRA_MAX];
  size_t n_extra;
  bool in_tx;
  struct bsl_agg *agg;    /* store_agg.c: visit aggregates being counted */
  uint64_t agg_rows_read; /* store_agg.c: visit rows it read back */
  struct bsl_park *park;  /* store_park.c: this commit's parked visits */
  char error[512];
  /* the salts file (store.c), opened by the first salt operation */
  sqlite3 *salts;
  char *salts_path;
  sqlite3_stmt *salt_stmt[3];
  char salts_deleted_before[16]; /* the last cut applied, "" at first */
  /* bsl_number()'s key: random while one statement numbers, else zeros */
  unsigned char number_key[16];
  /* store_checkpoint.c: the writer's checkpoints, on their own thread;
   * NULL for a reader, a PostgreSQL store, or when it could not start */
  struct bsl_checkpointer *checkpointer;
};

/* The WAL's checkpoint cadence, in pages: SQLite's default, said out
 * loud.  Small checkpoints overlap with the writing; a big WAL would leave
 * one long checkpoint for the close, when nothing overlaps it. */
#define BSL_STORE_CHECKPOINT_PAGES 1000

typedef struct bsl_checkpointer bsl_checkpointer;
/* store_checkpoint.c: starts checkpointing S's log on a thread of its own
 * (SQLite's automatic checkpoints otherwise, silently); stops it, which
 * must come before S's connection closes. */
void bsl_store__checkpointer_start(bsl_store *s);
void bsl_store__checkpointer_stop(bsl_store *s);

/* Records "DB: WHAT: sqlite message" as the store's error; returns -1. */
int bsl_store__fail(bsl_store *s, const char *what);

/* The persistent prepared statement for SQL (compared by pointer: pass a
 * string constant), or NULL with the error recorded. */
sqlite3_stmt *bsl_store__stmt(bsl_store *s, const char *sql);
/* store_agg.c (SQLite only): counts visit row V into the per-day aggregates,
 * before it is written; flushes the counts into the transaction, before it
 * commits; forgets everything counted but not committed (after a rollback,
 * at close). */
int bsl_store__agg_visit(bsl_store *s, const bsl_visit_row *v);
int bsl_store__agg_flush(bsl_store *s);
/* Keeps the day's visitors in memory past this commit: visits of it are
 * parked (store_park.c), counted when they land in visit_log. */
int bsl_store__agg_hold(bsl_store *s, const char *day, const char *site);
void bsl_store__agg_reset(bsl_store *s);

/* store_park.c (SQLite only): adds parked row V to this commit's (after
 * bsl_store_park_reset()); writes them in place of the last commit's,
 * before the numbering and the commit (once a commit); drops them (after a
 * rollback); frees the module; calls CB for each row visit_parked holds,
 * strings valid during the call (CB's non-zero return stops it). */
int bsl_store__park_add(bsl_store *s, const bsl_visit_row *v);
int bsl_store__park_flush(bsl_store *s);
void bsl_store__park_forget(bsl_store *s);
void bsl_store__park_free(bsl_store *s);
int bsl_store__park_each(bsl_store *s,
                         int (*cb)(bsl_store *s, const bsl_visit_row *v,
                                   void *ctx),
                         void *ctx);

/* Steps a bound write statement to completion and resets it: 0 or -1. */
int bsl_store__run(bsl_store *s, sqlite3_stmt *st, const char *what);

/* Binds TEXT (NULL as "") under the text rule (utf8.h): as it is when it is
 * valid UTF-8 without NUL, which the caller keeps alive until the step, or
 * as a cleaned copy.  The _copy form always lets SQLite own a copy. */
void bsl_store__bind_text(sqlite3_stmt *st, int i, const char *text);
void bsl_store__bind_text_copy(sqlite3_stmt *st, int i, const char *text);

/* Runs the read-only query SQL (a string constant: the statement cache
 * keys on the pointer) with the text parameters P[0..np-1] and hands each
 * row to CB (store_report.h); WHAT names the query in an error.  Returns 0,
 * CB's non-zero return, or -1 with the error recorded. */
struct bsl_report_row;
int bsl_store__rows(bsl_store *s, const char *sql, const char *what,
                    const char *const *p, int np,
                    int (*cb)(void *ctx, const struct bsl_report_row *row),
                    void *ctx);

/* ---- the PostgreSQL backend (store_pg.c) ----
 * store.c's public functions hand over to these when s->pg is set; each
 * does what its store.h namesake does, with the host in every key. */
bool bsl_store__is_pg(const char *path);
/* Sets up S (path, error already there) as a PostgreSQL store; the caller
 * closes S on failure. */
int bsl_store__pg_open(bsl_store *s, const char *uri, const char *host,
                       bool create);
void bsl_store__pg_close(bsl_store *s);
int bsl_store__pg_writer_lock(bsl_store *s, const char *role,
                              const char *command, bsl_store_holder *holder);
int bsl_store__pg_begin(bsl_store *s);
int bsl_store__pg_commit(bsl_store *s);
void bsl_store__pg_rollback(bsl_store *s);
/* A changeset's commit (changeset.c): begins the transaction and fences
 * it; *FIRST is the first record of CS (N_OPS records) still to apply.
 * Then commit_end commits (APPLIED) or rolls back. */
int bsl_store__pg_commit_begin(bsl_store *s, const void *cs, size_t n_ops,
                               size_t *first);
int bsl_store__pg_commit_end(bsl_store *s, const void *cs, size_t n_ops,
                             bool applied);
int bsl_store__pg_meta_get(bsl_store *s, const char *key, int64_t def,
                           int64_t *out);
int bsl_store__pg_meta_set(bsl_store *s, const char *key, int64_t value);
int bsl_store__pg_load_salts(bsl_store *s, bsl_salt_cb cb, void *ctx);
int bsl_store__pg_salt_claim(bsl_store *s, const char *day, uint8_t *salt,
                             size_t len);
int bsl_store__pg_put_salt(bsl_store *s, const char *day, const uint8_t *salt,
                           size_t len);
int bsl_store__pg_delete_salts_before(bsl_store *s, const char *day);
int bsl_store__pg_number_visitors(bsl_store *s, const char *before);
int bsl_store__pg_fp_lengths(bsl_store *s, int *lens, size_t cap, size_t *n);
int bsl_store__pg_file_find(bsl_store *s, int fp_len, const char *fingerprint,
                            bsl_file_state *out);
int bsl_store__pg_file_save(bsl_store *s, bsl_file_state *f);
int bsl_store__pg_add_reject(bsl_store *s, const char *source, const char *path,
                             int64_t offset, const char *reason,
                             const char *excerpt, size_t excerpt_len);
int bsl_store__pg_add_hits(bsl_store *s, const char *day, const char *site,
                           int status, int64_t hits, int64_t bot_hits);
int bsl_store__pg_add_event(bsl_store *s, const char *day, const char *site,
                            const char *path, const char *event,
                            const char *target, int64_t events);
int bsl_store__pg_add_page_counts(bsl_store *s, const char *day,
                                  const char *site, const char *path,
                                  int64_t pageviews, int64_t entries,
                                  int64_t scroll_sum, int64_t scroll_75);
int bsl_store__pg_add_not_found(bsl_store *s, const char *day, const char *site,
                                const char *path, int64_t hits);
int bsl_store__pg_put_visit(bsl_store *s, const bsl_visit_row *v);
int bsl_store__pg_put_visit_goal(bsl_store *s, int64_t visit_id,
                                 const char *goal);
int bsl_store__pg_load_open_visits(bsl_store *s, const bsl_open_visit_cbs *cbs);
int bsl_store__pg_sync_goals(bsl_store *s, const char *const *names,
                             const char *const *patterns, size_t n);
int64_t bsl_store__pg_bytes(bsl_store *s);
/* A write statement with N text parameters ($1 is the host when the
 * caller passes it). */
int bsl_store__pg_exec(bsl_store *s, const char *sql, int n,
                       const char *const *vals, const char *what);
const char *bsl_store__pg_host(const bsl_store *s);
int bsl_store__pg_socket(const bsl_store *s);
int bsl_store__pg_fleet_serialize(bsl_store *s);
/* Runs the read-only query SQLITE_SQL (SQLite's text, ?N parameters; see
 * store_pg.c for what it may use) with NP text parameters and calls ROW
 * per result row (TEXT[c] NULL for SQL NULL); a non-zero ROW stops the
 * walk and is returned.  -1 on error. */
int bsl_store__pg_rows(bsl_store *s, const char *sqlite_sql,
                       const char *const *params, int np,
                       int (*row)(void *ctx, int ncol, const char *const *name,
                                  const char *const *text),
                       void *ctx, const char *what);
int bsl_store__pg_campaign_state_load(bsl_store *s,
                                      void (*row)(void *ctx, int ncols,
                                                  const char *const *cols,
                                                  const bool *nulls),
                                      void *ctx);

#endif
