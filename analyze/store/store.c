/*
 * The SQLite store (see store.h).  This file is the only one that includes
 * sqlite3.h: it turns SQLite result codes into -1 plus a message naming the
 * database and the operation, so callers never see a raw SQLite code.
 *
 * Every statement is prepared once (SQLITE_PREPARE_PERSISTENT) and reset on
 * every path, so the hot flush loop only binds and steps.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "store_sql.h"
#include "utf8.h"

enum stmt_id {
  ST_META_GET,
  ST_META_SET,
  ST_FP_LENS,
  ST_FILE_FIND,
  ST_FILE_INSERT,
  ST_FILE_UPDATE,
  ST_REJECT_ADD,
  ST_HITS_ADD,
  ST_EVENT_ADD,
  ST_VISIT_PUT,
  ST_VISIT_UPDATE,
  ST_PAGE_COUNTS_ADD,
  ST_VISIT_GOAL_PUT,
  ST_NOT_FOUND_ADD,
  ST_OPEN_VISITS,
  ST_OPEN_PAGES,
  ST_OPEN_GOALS,
  ST_GOAL_SYNC,
  ST_COUNT
};

_Static_assert(ST_COUNT <= BSL_STORE_CORE_STMTS, "raise BSL_STORE_CORE_STMTS");

static const char *const STMT_SQL[ST_COUNT] = {
    [ST_META_GET] = SQL_META_GET,
    [ST_META_SET] = SQL_META_SET,
    [ST_FP_LENS] = SQL_FP_LENS,
    [ST_FILE_FIND] = SQL_FILE_FIND,
    [ST_FILE_INSERT] = SQL_FILE_INSERT,
    [ST_FILE_UPDATE] = SQL_FILE_UPDATE,
    [ST_REJECT_ADD] = SQL_REJECT_ADD,
    [ST_HITS_ADD] = SQL_HITS_ADD,
    [ST_EVENT_ADD] = SQL_EVENT_ADD,
    [ST_VISIT_PUT] = SQL_VISIT_PUT,
    [ST_VISIT_UPDATE] = SQL_VISIT_UPDATE,
    [ST_PAGE_COUNTS_ADD] = SQL_PAGE_COUNTS_ADD,
    [ST_VISIT_GOAL_PUT] = SQL_VISIT_GOAL_PUT,
    [ST_NOT_FOUND_ADD] = SQL_NOT_FOUND_ADD,
    [ST_OPEN_VISITS] = SQL_OPEN_VISITS,
    [ST_OPEN_PAGES] = SQL_OPEN_PAGES,
    [ST_OPEN_GOALS] = SQL_OPEN_GOALS,
    [ST_GOAL_SYNC] = SQL_GOAL_SYNC,
};

/* fail() and the statement cache are shared with the store's other files
 * (store_*.c) through store_internal.h. */
int bsl_store__fail(bsl_store *s, const char *what) {
  const char *msg = s->db ? sqlite3_errmsg(s->db) : "out of memory";
  snprintf(s->error, sizeof s->error, "%s: %s: %s", s->path, what, msg);
  return -1;
}
#define fail bsl_store__fail

sqlite3_stmt *bsl_store__stmt(bsl_store *s, const char *sql) {
  if (s->pg) { /* the SQLite statements of store_kpi.c, store_report.c */
    snprintf(s->error, sizeof s->error,
             "%s: not available with PostgreSQL in this version", s->path);
    return NULL;
  }
  for (size_t i = 0; i < s->n_extra; i++)
    if (s->extra_sql[i] == sql)
      return s->extra[i];
  if (s->n_extra == BSL_STORE_EXTRA_MAX) {
    snprintf(s->error, sizeof s->error, "%s: too many statements", s->path);
    return NULL;
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                         NULL) != SQLITE_OK) {
    fail(s, "preparing statement");
    return NULL;
  }
  s->extra_sql[s->n_extra] = sql;
  s->extra[s->n_extra++] = st;
  return st;
}

bool bsl_store_threadsafe(void) {
  return sqlite3_threadsafe() != 0;
}

int bsl_store_fail_with(bsl_store *s, const char *what) {
  snprintf(s->error, sizeof s->error, "%s: %s", s->path, what);
  return -1;
}

const char *bsl_store_error(const bsl_store *s) {
  return s ? s->error : "";
}

/*
 * The page cache of a store that ingests (opened with create): 4 MiB, not
 * 16.  Its inserts go mostly to the right edge of the B-trees, and commits
 * come every 8,192 visits (BSL_PIPELINE_PENDING_VISITS), so a smaller cache
 * cost no measurable speed at 10M lines, and it was the largest single item
 * of a bulk load's peak memory (issue 18, README Performance).
 */
#define WRITER_CACHE "PRAGMA cache_size = -4096"

/*
 * The page size of a new database: 16 KiB, not SQLite's 4.  The writer
 * appends visit rows of a few hundred bytes each (with their pages JSON)
 * and rewrites them once when a day's visitors are numbered: with bigger
 * pages it splits, writes to the WAL and checkpoints a quarter as many
 * pages for the same bytes, and a long pages JSON stays in its leaf rather
 * than an overflow page.  The writer's CPU per line fell by ~15% (issue 18,
 * README Performance); the cache is set in bytes, so memory is the same.
 * It only applies before the first table: an existing database keeps the
 * size it was made with (in WAL mode SQLite never changes it).
 */
#define NEW_PAGE_SIZE "PRAGMA page_size = 16384"

static int exec(bsl_store *s, const char *sql, const char *what) {
  if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return fail(s, what);
  return 0;
}

int64_t bsl_store_bytes(bsl_store *s) {
  if (s->pg)
    return bsl_store__pg_bytes(s);
  sqlite3_stmt *st = NULL;
  int64_t bytes = 0;
  if (sqlite3_prepare_v2(s->db, SQL_DB_BYTES, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    bytes = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return bytes;
}

int bsl_store_day_index(bsl_store *s, bool present) {
  if (s->pg)
    return 0; /* PostgreSQL maintains its indexes as it goes */
  if (!present)
    return exec(s, SQL_DAY_INDEX_DROP,
                "dropping visit_log_day for a bulk load");
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, SQL_DAY_INDEX_EXISTS, -1, &st, NULL) !=
      SQLITE_OK)
    return fail(s, "looking for visit_log_day");
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW)
    return 0;
  if (rc != SQLITE_DONE)
    return fail(s, "looking for visit_log_day");
  /* The sort behind the build may hold cache_size in memory: a smaller
   * cache keeps the peak RSS where a load's steady state is. */
  if (exec(s, "PRAGMA cache_size = -4096", "setting cache size") != 0)
    return -1;
  rc = exec(s, SQL_DAY_INDEX_CREATE, "building visit_log_day");
  if (exec(s, WRITER_CACHE, "setting cache size") != 0)
    return -1;
  return rc;
}

/*
 * bsl_number(KEY), the number that replaces a visitor key once its salt is
 * gone (store_sql.h, SQL_NUMBER_VISITORS): SipHash of the key under
 * s->number_key, made negative.  The key is random for each statement that
 * numbers (number_begin) and wiped after it (number_end): each visitor's
 * visits get the same number because they are numbered by one statement,
 * and nothing kept anywhere can turn a number back into a key.
 */
static void number_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const bsl_store *s = sqlite3_user_data(ctx);
  uint64_t key = (uint64_t)sqlite3_value_int64(argv[0]);
  unsigned char in[8], out[crypto_shorthash_BYTES];
  for (int i = 0; i < 8; i++)
    in[i] = (unsigned char)(key >> (8 * i));
  crypto_shorthash(out, in, sizeof in, s->number_key);
  uint64_t h;
  memcpy(&h, out, sizeof h);
  sqlite3_result_int64(ctx, -1 - (int64_t)(h >> 1));
}

static void number_begin(bsl_store *s) {
  randombytes_buf(s->number_key, sizeof s->number_key);
}

static void number_end(bsl_store *s) {
  sodium_memzero(s->number_key, sizeof s->number_key);
}

static int salts_open(bsl_store *s);
static int move_salts_out(bsl_store *s);

/* Brings the schema to BSL_SCHEMA_VERSION, one migration per transaction so
 * an interrupted upgrade resumes where it stopped. */
static int migrate(bsl_store *s) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) !=
      SQLITE_OK)
    return fail(s, "reading schema version");
  int version = 0;
  if (sqlite3_step(st) == SQLITE_ROW)
    version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  int known = (int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]);
  if (version > known) {
    snprintf(s->error, sizeof s->error,
             "%s: schema version %d is newer than this boussole (%d); "
             "upgrade boussole",
             s->path, version, known);
    return -1;
  }
  bool salts_moved = false;
  for (; version < known; version++) {
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version + 1);
    /* The salts are in the salts file, durably, before the migration that
     * drops them here commits: a crash in between leaves them in both, and
     * the next open moves them again. */
    bool salts_out = version + 1 == SALTS_OUT_VERSION;
    if (salts_out && move_salts_out(s) != 0)
      return -1;
    /* zeros, not free pages, where the salts were */
    if (salts_out && exec(s, "PRAGMA secure_delete = ON", "secure_delete") != 0)
      return -1;
    if (exec(s, "BEGIN IMMEDIATE", "starting migration") != 0)
      return -1;
    number_begin(s);
    int mrc = exec(s, MIGRATIONS[version], "migrating schema");
    number_end(s);
    if (mrc != 0 || exec(s, pragma, "recording schema version") != 0) {
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
    if (exec(s, "COMMIT", "committing migration") != 0)
      return -1;
    if (salts_out && exec(s, "PRAGMA secure_delete = FAST", "secure_delete"))
      return -1;
    salts_moved = salts_moved || salts_out;
  }
  /* the WAL still holds the pages that had the salts: copy them back and
   * empty it (best effort: a reader may hold it, then the next checkpoints
   * overwrite them) */
  if (salts_moved)
    sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  return 0;
}

static int busy_timeout_ms = 10000;

void bsl_store_set_busy_timeout(int ms) {
  busy_timeout_ms = ms;
}

/* Before SQLite initialises: its memory statistics take a global mutex
 * on every allocation, and nothing here reads them. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
static void configure_sqlite(void) {
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* For bsl_store_open_existing(): 0 when PATH may be opened as an existing
 * store, or -1 with "PATH: reason" in S's error.  A 0-byte file is a
 * database only while a writer that just created it keeps everything in
 * its WAL. */
static int check_existing(bsl_store *s, const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      snprintf(s->error, sizeof s->error,
               "%s: no such database (create it with 'boussole ingest' or "
               "'boussole run')",
               path);
    else
      snprintf(s->error, sizeof s->error, "%s: %s", path, strerror(errno));
    return -1;
  }
  if (!S_ISREG(sb.st_mode)) {
    snprintf(s->error, sizeof s->error, "%s: not a regular file", path);
    return -1;
  }
  if (sb.st_size == 0) {
    char wal[4200];
    struct stat wb;
    snprintf(wal, sizeof wal, "%s-wal", path);
    if (stat(wal, &wb) != 0 || wb.st_size == 0) {
      snprintf(s->error, sizeof s->error,
               "%s: empty file, not a boussole database", path);
      return -1;
    }
  }
  return 0;
}

/* Whether the open database has a boussole schema (user_version > 0):
 * checked before any pragma that would change somebody else's file. */
static int check_schema(bsl_store *s) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) !=
      SQLITE_OK)
    return fail(s, "reading schema version");
  int rc = sqlite3_step(st);
  int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW)
    return fail(s, "reading schema version");
  if (version <= 0) {
    snprintf(s->error, sizeof s->error,
             "%s: not a boussole database (no boussole schema in it)", s->path);
    return -1;
  }
  return 0;
}

static int open_store(bsl_store **out, const char *path, const char *host,
                      bool create, char *err, size_t errlen) {
  *out = NULL;
  bsl_store *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    free(s);
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  if (bsl_store__is_pg(path)) {
    if (bsl_store__pg_open(s, path, host, create) != 0)
      goto out_fail;
    *out = s;
    return 0;
  }
  if (!create && check_existing(s, path) != 0)
    goto out_fail;
  /* Created 0640: aggregates are not for every local user to read. */
  int fd = create ? open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640) : -1;
  if (fd >= 0)
    close(fd);
  pthread_once(&sqlite_once, configure_sqlite);
  /* NOMUTEX: a store is used by one thread at a time (the pipeline hands
   * it to its writer thread and waits), so SQLite's per-call connection
   * mutex only cost time. */
  int rc = sqlite3_open_v2(path, &s->db,
                           SQLITE_OPEN_READWRITE |
                               (create ? SQLITE_OPEN_CREATE : 0) |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
  if (rc != SQLITE_OK) {
    fail(s, "cannot open database");
    goto out_fail;
  }
  sqlite3_extended_result_codes(s->db, 1);
  /* An analyst's long read must not fail ingestion: WAL lets readers and the
   * writer proceed together, and the busy timeout rides out short locks. */
  sqlite3_busy_timeout(s->db, busy_timeout_ms);
  if (!create && check_schema(s) != 0)
    goto out_fail;
  if ((create && exec(s, NEW_PAGE_SIZE, "setting the page size") != 0) ||
      exec(s, "PRAGMA journal_mode = WAL", "enabling WAL") != 0 ||
      exec(s, "PRAGMA synchronous = NORMAL", "setting synchronous") != 0 ||
      exec(s, "PRAGMA foreign_keys = OFF", "setting pragmas") != 0 ||
      /* a deleted day salt must not linger in a page's free space (SPEC §5:
       * salts are deleted after two days); FAST costs no extra I/O */
      exec(s, "PRAGMA secure_delete = FAST", "setting secure_delete") != 0 ||
      /* big flushes would otherwise spill pages to the WAL mid-transaction;
       * the writer's is smaller (WRITER_CACHE), readers' queries keep 16 MiB */
      exec(s, create ? WRITER_CACHE : "PRAGMA cache_size = -16384",
           "setting cache size") != 0)
    goto out_fail;
  /* on the committing thread until a writer's checkpointer takes over
   * (bsl_store__checkpointer_start(), after the migrations) */
  if (sqlite3_wal_autocheckpoint(s->db, BSL_STORE_CHECKPOINT_PAGES) !=
      SQLITE_OK) {
    fail(s, "setting checkpoints");
    goto out_fail;
  }
  if (sodium_init() < 0) {
    bsl_store_fail_with(s, "cannot initialise libsodium");
    goto out_fail;
  }
  if (sqlite3_create_function(s->db, "bsl_number", 1,
                              SQLITE_UTF8 | SQLITE_DIRECTONLY, s, number_fn,
                              NULL, NULL) != SQLITE_OK) {
    fail(s, "registering functions");
    goto out_fail;
  }
  if (migrate(s) != 0)
    goto out_fail;
  if (create)
    bsl_store__checkpointer_start(s);
  for (int i = 0; i < ST_COUNT; i++) {
    if (sqlite3_prepare_v3(s->db, STMT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->stmt[i], NULL) != SQLITE_OK) {
      fail(s, "preparing statement");
      goto out_fail;
    }
  }
  *out = s;
  return 0;

out_fail:
  snprintf(err, errlen, "%s", s->error);
  bsl_store_close(s);
  return -1;
}

int bsl_store_open(bsl_store **out, const char *path, char *err,
                   size_t errlen) {
  return open_store(out, path, NULL, true, err, errlen);
}

int bsl_store_open_host(bsl_store **out, const char *path, const char *host,
                        char *err, size_t errlen) {
  return open_store(out, path, host, true, err, errlen);
}

int bsl_store_open_existing(bsl_store **out, const char *path, char *err,
                            size_t errlen) {
  return open_store(out, path, NULL, false, err, errlen);
}

bool bsl_store_is_remote(const bsl_store *s) {
  return s->pg != NULL;
}

int bsl_store_host_lock(bsl_store **out, const char *uri, const char *host,
                        const char *role, const char *command,
                        bsl_store_holder *holder, char *err, size_t errlen) {
  *out = NULL;
  if (!bsl_store__is_pg(uri)) {
    snprintf(err, errlen, "%s: not a PostgreSQL URI", uri);
    return -1;
  }
  bsl_store *s;
  if (open_store(&s, uri, host, true, err, errlen) != 0)
    return -1;
  int rc = bsl_store__pg_writer_lock(s, role, command, holder);
  if (rc == BSL_STORE_HELD)
    snprintf(err, errlen, "%s (host %s)", s->path, bsl_store__pg_host(s));
  else if (rc != 0)
    snprintf(err, errlen, "%s", s->error);
  if (rc != 0) {
    bsl_store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

int bsl_store_session_fd(const bsl_store *s) {
  return s->pg ? bsl_store__pg_socket(s) : -1;
}

int bsl_store_salt_claim(bsl_store *s, const char *day, uint8_t *salt,
                         size_t len) {
  return s->pg ? bsl_store__pg_salt_claim(s, day, salt, len) : 0;
}

void bsl_store_close(bsl_store *s) {
  if (!s)
    return;
  if (s->pg) {
    bsl_store__pg_close(s);
    free(s->path);
    free(s);
    return;
  }
  if (s->in_tx)
    bsl_store_rollback(s);
  bsl_store__agg_reset(s);
  bsl_store__park_free(s);
  for (int i = 0; i < ST_COUNT; i++)
    sqlite3_finalize(s->stmt[i]);
  for (size_t i = 0; i < s->n_extra; i++)
    sqlite3_finalize(s->extra[i]);
  for (size_t i = 0; i < sizeof s->salt_stmt / sizeof s->salt_stmt[0]; i++)
    sqlite3_finalize(s->salt_stmt[i]);
  sqlite3_close(s->salts);
  bsl_store__checkpointer_stop(s);
  sqlite3_close(s->db);
  free(s->salts_path);
  free(s->path);
  free(s);
}

int bsl_store_begin(bsl_store *s) {
  if (s->pg)
    return bsl_store__pg_begin(s);
  /* IMMEDIATE takes the write lock now, so a busy database is reported here
   * rather than half-way through a flush. */
  if (exec(s, "BEGIN IMMEDIATE", "starting transaction") != 0)
    return -1;
  s->in_tx = true;
  return 0;
}

int bsl_store_fleet_serialize(bsl_store *s) {
  return s->pg ? bsl_store__pg_fleet_serialize(s) : 0;
}

int bsl_store_commit(bsl_store *s) {
  if (s->pg)
    return bsl_store__pg_commit(s);
  if (bsl_store__park_flush(s) != 0 || bsl_store__agg_flush(s) != 0 ||
      exec(s, "COMMIT", "committing") != 0) {
    bsl_store_rollback(s);
    return -1;
  }
  s->in_tx = false;
  return 0;
}

void bsl_store_rollback(bsl_store *s) {
  if (s->pg) {
    bsl_store__pg_rollback(s);
    return;
  }
  if (s->in_tx || !sqlite3_get_autocommit(s->db))
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  s->in_tx = false;
  bsl_store__agg_reset(s); /* it counted what was rolled back */
  bsl_store__park_forget(s);
}

/* Steps a bound write statement to completion and resets it. */
int bsl_store__run(bsl_store *s, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fail(s, what);
    sqlite3_reset(st);
    return -1;
  }
  sqlite3_reset(st);
  return 0;
}

/*
 * Every TEXT the store writes goes through here, so none can bypass the text
 * rule (utf8.h): clean text is bound as it is (STATIC: callers keep it alive
 * until the step; COPY asks SQLite for its own copy), anything else as a
 * cleaned copy that SQLite frees.  Out of memory binds NULL, which the NOT
 * NULL columns refuse, so the commit fails and is retried rather than
 * storing a wrong value.
 */
static void bind_text_n(sqlite3_stmt *st, int i, const char *text, size_t len,
                        bool copy) {
  if (bsl_utf8_is_clean(text, len)) {
    sqlite3_bind_text64(st, i, text, len,
                        copy ? SQLITE_TRANSIENT : SQLITE_STATIC, SQLITE_UTF8);
    return;
  }
  size_t n = bsl_utf8_clean_len(text, len);
  char *clean = sqlite3_malloc64(n + 1);
  if (!clean) {
    sqlite3_bind_null(st, i);
    return;
  }
  bsl_utf8_clean(text, len, clean, n + 1);
  sqlite3_bind_text64(st, i, clean, n, sqlite3_free, SQLITE_UTF8);
}

void bsl_store__bind_text(sqlite3_stmt *st, int i, const char *text) {
  text = text ? text : "";
  bind_text_n(st, i, text, strlen(text), false);
}

void bsl_store__bind_text_copy(sqlite3_stmt *st, int i, const char *text) {
  text = text ? text : "";
  bind_text_n(st, i, text, strlen(text), true);
}
#define run bsl_store__run
#define bind_text bsl_store__bind_text

int bsl_store_meta_get(bsl_store *s, const char *key, int64_t def,
                       int64_t *out) {
  if (s->pg)
    return bsl_store__pg_meta_get(s, key, def, out);
  sqlite3_stmt *st = s->stmt[ST_META_GET];
  bind_text(st, 1, key);
  int rc = sqlite3_step(st);
  *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : def;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail(s, "reading meta");
  return 0;
}

int bsl_store_meta_set(bsl_store *s, const char *key, int64_t value) {
  if (s->pg)
    return bsl_store__pg_meta_set(s, key, value);
  sqlite3_stmt *st = s->stmt[ST_META_SET];
  bind_text(st, 1, key);
  sqlite3_bind_int64(st, 2, value);
  return run(s, st, "writing meta");
}

/* ---- the salts file ----
 *
 * Day salts are what turns a visitor key back into an address (with a
 * guessed user agent, all of IPv4 is minutes of SipHash), so they are kept
 * apart from everything analysts read: in "<db>.salts", its own SQLite
 * database, mode 0600, opened only by the salt operations (the writer's
 * model), never by a store that only reads.  A rollback journal with
 * synchronous = FULL makes each write durable when it returns: the salts of
 * a commit are written before it (bsl_store_commit_changeset), so a visit
 * that is committed always finds its salt. */

enum { SALT_LOAD, SALT_PUT, SALT_DELETE };

static int fail_salts(bsl_store *s, const char *what) {
  const char *msg = s->salts ? sqlite3_errmsg(s->salts) : "out of memory";
  snprintf(s->error, sizeof s->error, "%s: %s: %s",
           s->salts_path ? s->salts_path : s->path, what, msg);
  return -1;
}

/* True for a database no other process can open: its salts stay in
 * memory too. */
static bool private_db(const char *path) {
  return path[0] == '\0' || strcmp(path, ":memory:") == 0 ||
         strncmp(path, "file:", 5) == 0;
}

/* Creates PATH mode 0600 (or makes it 0600), owned like the database when
 * root creates it for the daemon's user.  Returns 0 or -1 (errno). */
static int make_private_file(const char *path, const char *db_path) {
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  bool created = fd >= 0;
  if (!created && errno == EEXIST)
    fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  int rc = fchmod(fd, 0600);
  struct stat db;
  if (rc == 0 && created && geteuid() == 0 && stat(db_path, &db) == 0)
    rc = fchown(fd, db.st_uid, db.st_gid);
  close(fd);
  if (rc == 0 && created) {
    /* the file's name is durable before any salt relies on it */
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (dir) {
      if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
      int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
      }
      free(dir);
    }
  }
  return rc;
}

/* Opens the salts file if it is not open yet.  Returns 0 or -1 (error). */
static int salts_open(bsl_store *s) {
  if (s->salts)
    return 0;
  bool mem = private_db(s->path);
  size_t n = strlen(s->path) + sizeof ".salts";
  if (!s->salts_path && !(s->salts_path = malloc(n)))
    return bsl_store_fail_with(s, "out of memory");
  snprintf(s->salts_path, n, "%s.salts", s->path);
  if (!mem && make_private_file(s->salts_path, s->path) != 0) {
    snprintf(s->error, sizeof s->error, "%s: cannot open the salts file: %s",
             s->salts_path, strerror(errno));
    return -1;
  }
  if (sqlite3_open_v2(mem ? ":memory:" : s->salts_path, &s->salts,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK)
    goto out_fail;
  sqlite3_extended_result_codes(s->salts, 1);
  sqlite3_busy_timeout(s->salts, busy_timeout_ms);
  /* DELETE: a transaction of the salts alone is atomic and, with FULL,
   * durable when it returns; secure_delete: a deleted salt leaves no bytes
   * in the file */
  static const char *const setup[] = {
      "PRAGMA journal_mode = DELETE", "PRAGMA synchronous = FULL",
      "PRAGMA secure_delete = ON", SQL_SALTS_SCHEMA};
  for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++)
    if (sqlite3_exec(s->salts, setup[i], NULL, NULL, NULL) != SQLITE_OK)
      goto out_fail;
  static const char *const sql[] = {
      [SALT_LOAD] = SQL_SALT_LOAD,
      [SALT_PUT] = SQL_SALT_PUT,
      [SALT_DELETE] = SQL_SALT_DELETE,
  };
  for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
    if (sqlite3_prepare_v3(s->salts, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->salt_stmt[i], NULL) != SQLITE_OK)
      goto out_fail;
  return 0;
out_fail:
  fail_salts(s, "opening the salts file");
  for (size_t i = 0; i < sizeof s->salt_stmt / sizeof s->salt_stmt[0]; i++) {
    sqlite3_finalize(s->salt_stmt[i]);
    s->salt_stmt[i] = NULL;
  }
  sqlite3_close(s->salts);
  s->salts = NULL;
  return -1;
}

/* Migration 4's first step: copies the salts still in the analyst database
 * to the salts file, durably.  A process that neither owns the database nor
 * is root would create a salts file the writer cannot open: it leaves them,
 * and the migration deletes them (visitors of the last two days may then
 * count twice, README).  Returns 0 or -1 (error set). */
static int move_salts_out(bsl_store *s) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, SQL_OLD_SALTS, -1, &st, NULL) != SQLITE_OK)
    return fail(s, "reading the old day salts");
  int rc = sqlite3_step(st);
  struct stat db;
  bool may = rc == SQLITE_ROW && stat(s->path, &db) == 0 &&
             (geteuid() == 0 || geteuid() == db.st_uid);
  if (may &&
      (salts_open(s) != 0 || sqlite3_exec(s->salts, "BEGIN IMMEDIATE", NULL,
                                          NULL, NULL) != SQLITE_OK)) {
    sqlite3_finalize(st);
    return s->salts ? fail_salts(s, "moving the day salts") : -1;
  }
  for (; may && rc == SQLITE_ROW; rc = sqlite3_step(st)) {
    sqlite3_stmt *put = s->salt_stmt[SALT_PUT];
    sqlite3_bind_text(put, 1, (const char *)sqlite3_column_text(st, 0), -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_blob(put, 2, sqlite3_column_blob(st, 1),
                      sqlite3_column_bytes(st, 1), SQLITE_TRANSIENT);
    int prc = sqlite3_step(put);
    sqlite3_reset(put);
    if (prc != SQLITE_DONE)
      break;
  }
  sqlite3_finalize(st);
  if (!may)
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : fail(s, "reading the old day salts");
  if (rc != SQLITE_DONE ||
      sqlite3_exec(s->salts, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    fail_salts(s, "moving the day salts");
    sqlite3_exec(s->salts, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

int bsl_store_load_salts(bsl_store *s, bsl_salt_cb cb, void *ctx) {
  if (s->pg)
    return bsl_store__pg_load_salts(s, cb, ctx);
  if (salts_open(s) != 0)
    return -1;
  sqlite3_stmt *st = s->salt_stmt[SALT_LOAD];
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    cb(ctx, (const char *)sqlite3_column_text(st, 0),
       sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : fail_salts(s, "loading day salts");
}

int bsl_store_put_salt(bsl_store *s, const char *day, const uint8_t *salt,
                       size_t len) {
  if (s->pg)
    return bsl_store__pg_put_salt(s, day, salt, len);
  if (salts_open(s) != 0)
    return -1;
  sqlite3_stmt *st = s->salt_stmt[SALT_PUT];
  sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(st, 2, salt, (int)len, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : fail_salts(s, "saving day salt");
}

int bsl_store_delete_salts_before(bsl_store *s, const char *day) {
  if (s->pg)
    return bsl_store__pg_delete_salts_before(s, day);
  /* runs at every commit: only a later cut has anything to delete */
  if (strcmp(day, s->salts_deleted_before) <= 0)
    return 0;
  if (salts_open(s) != 0)
    return -1;
  sqlite3_stmt *st = s->salt_stmt[SALT_DELETE];
  sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return fail_salts(s, "deleting old day salts");
  snprintf(s->salts_deleted_before, sizeof s->salts_deleted_before, "%s", day);
  return 0;
}

int bsl_store_number_visitors(bsl_store *s, const char *before) {
  if (s->pg)
    return bsl_store__pg_number_visitors(s, before);
  /* the days of the visits this commit parks wait, as open ones do */
  if (bsl_store__park_flush(s) != 0)
    return -1;
  int64_t from;
  if (bsl_store_meta_get(s, "keyed_from", 0, &from) != 0)
    return -1;
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_OPEN_BEFORE);
  if (!st)
    return -1;
  bind_text(st, 1, before);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail(s, "numbering visitors");
  st = bsl_store__stmt(s, rc == SQLITE_ROW ? SQL_NUMBER_VISITORS
                                           : SQL_NUMBER_VISITORS_NONE_OPEN);
  if (!st)
    return -1;
  bind_text(st, 1, before);
  sqlite3_bind_int64(st, 2, from);
  number_begin(s);
  rc = run(s, st, "numbering visitors");
  number_end(s);
  if (rc != 0)
    return -1;
  if (!(st = bsl_store__stmt(s, SQL_KEYED_FROM)))
    return -1;
  sqlite3_bind_int64(st, 1, from);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    from = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc != SQLITE_ROW)
    return fail(s, "numbering visitors");
  return bsl_store_meta_set(s, "keyed_from", from);
}

int bsl_store_fp_lengths(bsl_store *s, int *lens, size_t cap, size_t *n) {
  if (s->pg)
    return bsl_store__pg_fp_lengths(s, lens, cap, n);
  sqlite3_stmt *st = s->stmt[ST_FP_LENS];
  int rc;
  *n = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (*n < cap)
      lens[(*n)++] = sqlite3_column_int(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : fail(s, "listing fingerprints");
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int bsl_store_file_find(bsl_store *s, int fp_len, const char *fingerprint,
                        bsl_file_state *out) {
  if (s->pg)
    return bsl_store__pg_file_find(s, fp_len, fingerprint, out);
  sqlite3_stmt *st = s->stmt[ST_FILE_FIND];
  sqlite3_bind_int(st, 1, fp_len);
  bind_text(st, 2, fingerprint);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->file_id = sqlite3_column_int64(st, 0);
    copy_col(out->source, sizeof out->source, st, 1);
    copy_col(out->path, sizeof out->path, st, 2);
    copy_col(out->fingerprint, sizeof out->fingerprint, st, 3);
    out->fp_len = sqlite3_column_int(st, 4);
    out->offset = sqlite3_column_int64(st, 5);
    out->lines = sqlite3_column_int64(st, 6);
    out->hits = sqlite3_column_int64(st, 7);
    out->rejects = sqlite3_column_int64(st, 8);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail(s, "looking up file");
  return rc == SQLITE_ROW ? 1 : 0;
}

int bsl_store_file_save(bsl_store *s, bsl_file_state *f) {
  if (s->pg)
    return bsl_store__pg_file_save(s, f);
  bool insert = f->file_id == 0;
  sqlite3_stmt *st = s->stmt[insert ? ST_FILE_INSERT : ST_FILE_UPDATE];
  bind_text(st, 1, f->source);
  bind_text(st, 2, f->path);
  bind_text(st, 3, f->fingerprint);
  sqlite3_bind_int(st, 4, f->fp_len);
  sqlite3_bind_int64(st, 5, f->offset);
  sqlite3_bind_int64(st, 6, f->lines);
  sqlite3_bind_int64(st, 7, f->hits);
  sqlite3_bind_int64(st, 8, f->rejects);
  if (!insert)
    sqlite3_bind_int64(st, 9, f->file_id);
  if (run(s, st, "saving read position") != 0)
    return -1;
  if (insert)
    f->file_id = sqlite3_last_insert_rowid(s->db);
  return 0;
}

int bsl_store_add_reject(bsl_store *s, const char *source, const char *path,
                         int64_t offset, const char *reason,
                         const char *excerpt, size_t excerpt_len) {
  if (s->pg)
    return bsl_store__pg_add_reject(s, source, path, offset, reason, excerpt,
                                    excerpt_len);
  sqlite3_stmt *st = s->stmt[ST_REJECT_ADD];
  bind_text(st, 1, source);
  bind_text(st, 2, path);
  sqlite3_bind_int64(st, 3, offset);
  bind_text(st, 4, reason);
  bind_text_n(st, 5, excerpt ? excerpt : "", excerpt ? excerpt_len : 0, true);
  return run(s, st, "saving reject sample");
}

int bsl_store_add_hits(bsl_store *s, const char *day, const char *site,
                       int status, int64_t hits, int64_t bot_hits) {
  if (s->pg)
    return bsl_store__pg_add_hits(s, day, site, status, hits, bot_hits);
  sqlite3_stmt *st = s->stmt[ST_HITS_ADD];
  bind_text(st, 1, day);
  bind_text(st, 2, site);
  sqlite3_bind_int(st, 3, status);
  sqlite3_bind_int64(st, 4, hits);
  sqlite3_bind_int64(st, 5, bot_hits);
  return run(s, st, "adding hit counts");
}

int bsl_store_add_event(bsl_store *s, const char *day, const char *site,
                        const char *path, const char *event, const char *target,
                        int64_t events) {
  if (s->pg)
    return bsl_store__pg_add_event(s, day, site, path, event, target, events);
  sqlite3_stmt *st = s->stmt[ST_EVENT_ADD];
  bind_text(st, 1, day);
  bind_text(st, 2, site);
  bind_text(st, 3, path);
  bind_text(st, 4, event);
  bind_text(st, 5, target);
  sqlite3_bind_int64(st, 6, events);
  return run(s, st, "adding event counts");
}

/* Binds V to parameters BASE+1 .. BASE+19 of ST. */
static void bind_visit_at(sqlite3_stmt *st, const bsl_visit_row *v, int base) {
  sqlite3_bind_int64(st, base + 1, v->visit_id);
  bind_text(st, base + 2, v->site);
  bind_text(st, base + 3, v->day);
  sqlite3_bind_int64(st, base + 4, v->visitor);
  sqlite3_bind_int64(st, base + 5, v->started_at);
  sqlite3_bind_int64(st, base + 6, v->ended_at);
  sqlite3_bind_int64(st, base + 7, v->pageviews);
  sqlite3_bind_int64(st, base + 8, v->clicks);
  sqlite3_bind_int64(st, base + 9, v->conversions);
  sqlite3_bind_int(st, base + 10, v->max_scroll);
  bind_text(st, base + 11, v->channel);
  bind_text(st, base + 12, v->source);
  bind_text(st, base + 13, v->medium);
  bind_text(st, base + 14, v->campaign);
  bind_text(st, base + 15, v->device);
  bind_text(st, base + 16, v->landing_path);
  bind_text(st, base + 17, v->exit_path);
  sqlite3_bind_int(st, base + 18, v->is_open);
  /* the longest text of a row: its length comes with it when known */
  if (v->pages_json && v->pages_json_len)
    bind_text_n(st, base + 19, v->pages_json, v->pages_json_len, false);
  else
    bind_text(st, base + 19, v->pages_json ? v->pages_json : "[]");
}

static void bind_visit(sqlite3_stmt *st, const bsl_visit_row *v) {
  bind_visit_at(st, v, 0);
}

/* Runs the visit update; 1 when a row was there, 0 when not, -1 on error. */
static int update_visit(bsl_store *s, const bsl_visit_row *v) {
  sqlite3_stmt *st = s->stmt[ST_VISIT_UPDATE];
  bind_visit(st, v);
  if (run(s, st, "saving visit") != 0)
    return -1;
  return sqlite3_changes(s->db) > 0;
}

/* Outside a transaction each write commits alone: so do its counts. */
static int agg_autocommit(bsl_store *s) {
  return s->in_tx || !sqlite3_get_autocommit(s->db) ? 0
                                                    : bsl_store__agg_flush(s);
}

static int put_visit_row(bsl_store *s, const bsl_visit_row *v) {
  if (v->saved_before) {
    int rc = update_visit(s, v);
    if (rc != 0)
      return rc < 0 ? -1 : 0;
  }
  sqlite3_stmt *st = s->stmt[ST_VISIT_PUT];
  bind_visit(st, v);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return 0;
  if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY &&
      update_visit(s, v) == 1)
    return 0; /* the hint was wrong: the row was there already */
  return fail(s, "saving visit");
}

static bool is_parked(const bsl_visit_row *v) {
  return v->parked && v->is_open;
}

bool bsl_store_can_park(const bsl_store *s) {
  return s && s->db && !s->pg;
}

bool bsl_store_counts_entries(const bsl_store *s) {
  return s && s->db && !s->pg;
}

/* A visit parked until this commit lands in visit_log: its goals, saved
 * while it was parked, count now (its counts: bsl_store__agg_visit). */
static int landed(bsl_store *s, const bsl_visit_row *v) {
  if (!v->parked_before || v->conversions <= 0)
    return 0;
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_AGG_GOALS_MOVE);
  if (!st)
    return -1;
  bind_text(st, 1, v->day);
  bind_text(st, 2, v->site);
  bind_text(st, 3, v->channel);
  sqlite3_bind_int64(st, 4, v->visit_id);
  sqlite3_bind_int(st, 5, 1);
  return run(s, st, "counting a parked visit's goals");
}

int bsl_store_put_visit(bsl_store *s, const bsl_visit_row *v) {
  if (s->pg)
    return bsl_store__pg_put_visit(s, v);
  if (is_parked(v))
    return bsl_store__park_add(s, v);
  if (bsl_store__agg_visit(s, v) != 0 || put_visit_row(s, v) != 0 ||
      landed(s, v) != 0)
    return -1;
  return agg_autocommit(s);
}

int bsl_store_put_visits(bsl_store *s, const bsl_visit_row *rows, size_t n) {
  for (size_t i = 0; s->pg && i < n; i++)
    if (bsl_store__pg_put_visit(s, &rows[i]) != 0)
      return -1;
  if (s->pg)
    return 0;
  /* counted first: a day's first count reads the day's rows already saved
   * (parked visits count when they land) */
  for (size_t i = 0; i < n; i++)
    if (!is_parked(&rows[i]) && bsl_store__agg_visit(s, &rows[i]) != 0)
      return -1;
  enum { CHUNK = SQL_VISIT_PUT_MANY_ROWS };
  const bsl_visit_row *fresh[CHUNK];
  size_t n_fresh = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && is_parked(&rows[i])) {
      if (bsl_store__park_add(s, &rows[i]) != 0)
        return -1;
      continue;
    }
    if (i < n && rows[i].saved_before) {
      if (put_visit_row(s, &rows[i]) != 0)
        return -1;
      continue;
    }
    if (i < n)
      fresh[n_fresh++] = &rows[i];
    if (n_fresh < CHUNK && i < n)
      continue;
    if (n_fresh == CHUNK) {
      sqlite3_stmt *st = bsl_store__stmt(s, SQL_VISIT_PUT_MANY);
      if (!st)
        return -1;
      for (size_t k = 0; k < CHUNK; k++)
        bind_visit_at(st, fresh[k], (int)k * 19);
      int rc = sqlite3_step(st);
      sqlite3_reset(st);
      if (rc == SQLITE_DONE) {
        n_fresh = 0;
        continue;
      }
      if (sqlite3_extended_errcode(s->db) != SQLITE_CONSTRAINT_PRIMARYKEY)
        return fail(s, "saving visits");
      /* one of them exists after all: row by row, which updates it */
    }
    for (size_t k = 0; k < n_fresh; k++)
      if (put_visit_row(s, fresh[k]) != 0)
        return -1;
    n_fresh = 0;
  }
  for (size_t i = 0; i < n; i++)
    if (!is_parked(&rows[i]) && landed(s, &rows[i]) != 0)
      return -1;
  return agg_autocommit(s);
}

int bsl_store_add_page_counts(bsl_store *s, const char *day, const char *site,
                              const char *path, int64_t pageviews,
                              int64_t entries, int64_t scroll_sum,
                              int64_t scroll_75) {
  if (s->pg)
    return bsl_store__pg_add_page_counts(s, day, site, path, pageviews, entries,
                                         scroll_sum, scroll_75);
  sqlite3_stmt *st = s->stmt[ST_PAGE_COUNTS_ADD];
  bind_text(st, 1, day);
  bind_text(st, 2, site);
  bind_text(st, 3, path);
  sqlite3_bind_int64(st, 4, pageviews);
  sqlite3_bind_int64(st, 5, entries);
  sqlite3_bind_int64(st, 6, scroll_sum);
  sqlite3_bind_int64(st, 7, scroll_75);
  return run(s, st, "adding page counts");
}

int bsl_store_add_not_found(bsl_store *s, const char *day, const char *site,
                            const char *path, int64_t hits) {
  if (s->pg)
    return bsl_store__pg_add_not_found(s, day, site, path, hits);
  sqlite3_stmt *st = s->stmt[ST_NOT_FOUND_ADD];
  bind_text(st, 1, day);
  bind_text(st, 2, site);
  bind_text(st, 3, path);
  sqlite3_bind_int64(st, 4, hits);
  return run(s, st, "adding 404 counts");
}

int bsl_store_put_visit_goal(bsl_store *s, int64_t visit_id, const char *goal) {
  if (s->pg)
    return bsl_store__pg_put_visit_goal(s, visit_id, goal);
  sqlite3_stmt *st = s->stmt[ST_VISIT_GOAL_PUT];
  sqlite3_bind_int64(st, 1, visit_id);
  bind_text(st, 2, goal);
  return run(s, st, "saving conversion");
}

static const char *col_text(sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  return t ? (const char *)t : "";
}

/* A visit a killed ingest parked (store_park.c): resumed with its pages
 * and goals right after it, .parked set. */
static int load_parked(bsl_store *s, const bsl_visit_row *v, void *ctx) {
  const bsl_open_visit_cbs *cbs = ctx;
  cbs->visit(cbs->ctx, v);
  sqlite3_stmt *st = bsl_store__stmt(s, SQL_PARKED_PAGES);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, v->pages_json, (int)v->pages_json_len,
                    SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    cbs->page(cbs->ctx, v->visit_id, col_text(st, 0),
              sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
              sqlite3_column_int(st, 3));
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return fail(s, "loading parked visit pages");
  if (!(st = bsl_store__stmt(s, SQL_PARKED_GOALS)))
    return -1;
  sqlite3_bind_int64(st, 1, v->visit_id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    cbs->goal(cbs->ctx, v->visit_id, col_text(st, 0));
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : fail(s, "loading parked visit goals");
}

int bsl_store_load_open_visits(bsl_store *s, const bsl_open_visit_cbs *cbs) {
  if (s->pg)
    return bsl_store__pg_load_open_visits(s, cbs);
  sqlite3_stmt *st = s->stmt[ST_OPEN_VISITS];
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    bsl_visit_row v = {
        .visit_id = sqlite3_column_int64(st, 0),
        .site = col_text(st, 1),
        .day = col_text(st, 2),
        .visitor = sqlite3_column_int64(st, 3),
        .started_at = sqlite3_column_int64(st, 4),
        .ended_at = sqlite3_column_int64(st, 5),
        .pageviews = sqlite3_column_int64(st, 6),
        .clicks = sqlite3_column_int64(st, 7),
        .conversions = sqlite3_column_int64(st, 8),
        .max_scroll = sqlite3_column_int(st, 9),
        .channel = col_text(st, 10),
        .source = col_text(st, 11),
        .medium = col_text(st, 12),
        .campaign = col_text(st, 13),
        .device = col_text(st, 14),
        .landing_path = col_text(st, 15),
        .exit_path = col_text(st, 16),
        .is_open = true,
    };
    cbs->visit(cbs->ctx, &v);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return fail(s, "loading open visits");
  st = s->stmt[ST_OPEN_PAGES];
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    cbs->page(cbs->ctx, sqlite3_column_int64(st, 0), col_text(st, 1),
              sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
              sqlite3_column_int(st, 4));
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return fail(s, "loading open visit pages");
  st = s->stmt[ST_OPEN_GOALS];
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    cbs->goal(cbs->ctx, sqlite3_column_int64(st, 0), col_text(st, 1));
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return fail(s, "loading open visit goals");
  return bsl_store__park_each(s, load_parked, (void *)cbs);
}

int bsl_store_sync_goals(bsl_store *s, const char *const *names,
                         const char *const *patterns, size_t n) {
  if (s->pg)
    return bsl_store__pg_sync_goals(s, names, patterns, n);
  sqlite3_stmt *st = s->stmt[ST_GOAL_SYNC];
  for (size_t i = 0; i < n; i++) {
    bind_text(st, 1, names[i]);
    bind_text(st, 2, patterns[i]);
    if (run(s, st, "saving goals") != 0)
      return -1;
  }
  return 0;
}
