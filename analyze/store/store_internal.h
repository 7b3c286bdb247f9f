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

struct bsl_store {
  sqlite3 *db;
  char *path;
  sqlite3_stmt *stmt[BSL_STORE_CORE_STMTS];
  /* statements of the store_*.c files, prepared on first use */
  const char *extra_sql[BSL_STORE_EXTRA_MAX];
  sqlite3_stmt *extra[BSL_STORE_EXTRA_MAX];
  size_t n_extra;
  bool in_tx;
  char error[512];
  /* the salts file (store.c), opened by the first salt operation */
  sqlite3 *salts;
  char *salts_path;
  sqlite3_stmt *salt_stmt[3];
  char salts_deleted_before[16]; /* the last cut applied, "" at first */
  /* bsl_number()'s key: random while one statement numbers, else zeros */
  unsigned char number_key[16];
};

/* Records "DB: WHAT: sqlite message" as the store's error; returns -1. */
int bsl_store__fail(bsl_store *s, const char *what);

/* The persistent prepared statement for SQL (compared by pointer: pass a
 * string constant), or NULL with the error recorded. */
sqlite3_stmt *bsl_store__stmt(bsl_store *s, const char *sql);

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

#endif
