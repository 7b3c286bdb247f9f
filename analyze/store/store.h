/*
 * The store: the only module that talks SQL.  It owns the database
 * connection, the schema and its migrations (PRAGMA user_version), and one
 * persistent prepared statement per operation.  Its body is a backend:
 * SQLite (store.c, the default) or, for a `db` that is a PostgreSQL URI,
 * PostgreSQL through libpq (store_pg.c, SPEC §9), with the same functions,
 * the same views and the same changesets; a PostgreSQL store writes as one
 * host of a fleet (bsl_store_open_host).  Every write happens inside a
 * transaction opened with bsl_store_begin(): callers put the aggregate
 * deltas, the visit state and the read positions in the same transaction, which
 * is what makes ingestion exactly-once.
 *
 * Errors: functions return 0 (or a documented positive value) on success and
 * -1 on failure; bsl_store_error() then holds "DB: what failed: sqlite
 * message".  Strings passed in are copied by SQLite (bound as transient) and
 * stay owned by the caller.
 */
#ifndef BSL_STORE_H
#define BSL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bsl_store bsl_store;

/* Schema version this build writes; older databases are migrated at open. */
#define BSL_SCHEMA_VERSION 10

/*
 * Opens (creating if needed) the database at PATH, enables WAL, sets a busy
 * timeout and migrates the schema.  Returns 0, or -1 with "PATH: reason" in
 * err.  The caller owns *out.  The salts file "PATH.salts" is opened by the
 * first salt operation below, never by a store that only reads.
 */
int bsl_store_open(bsl_store **out, const char *path, char *err, size_t errlen);
/*
 * bsl_store_open() for the commands that read a store (`kpi`, `adjust`,
 * `report`): never creates one.  A missing path, a 0-byte file and a SQLite
 * file without boussole's schema are errors ("PATH: no such database ...",
 * "PATH: empty file, not a boussole database", "PATH: not a boussole
 * database ..."), found before anything is written to the file; an existing
 * store is migrated like bsl_store_open() does.
 */
int bsl_store_open_existing(bsl_store **out, const char *path, char *err,
                            size_t errlen);
/*
 * bsl_store_open() as the fleet instance HOST (NULL: the machine's
 * hostname).  PATH may be a PostgreSQL URI ("postgresql://..." or
 * "postgres://...", libpq's syntax; SPEC §9): the store is then the shared
 * database, every row this store writes is HOST's, and its error messages
 * name the URI without its password.  For a SQLite PATH, HOST is ignored.
 */
int bsl_store_open_host(bsl_store **out, const char *path, const char *host,
                        char *err, size_t errlen);
/* True for a PostgreSQL store. */
bool bsl_store_is_remote(const bsl_store *s);
void bsl_store_close(bsl_store *s);

/*
 * One writer per host on a PostgreSQL store (SPEC §7): opens a store of
 * its own (*out, closed to release) whose session holds HOST's advisory
 * lock, and records ROLE, COMMAND, this pid and machine as the holder.
 * Returns 0, BSL_STORE_HELD with *holder filled when another session holds
 * it, or -1 with err set.
 */
#define BSL_STORE_HELD (-2)
typedef struct bsl_store_holder {
  long pid;
  char role[16];
  char command[512];
  char machine[256];
} bsl_store_holder;
int bsl_store_host_lock(bsl_store **out, const char *uri, const char *host,
                        const char *role, const char *command,
                        bsl_store_holder *holder, char *err, size_t errlen);
/* The socket of a PostgreSQL store's session (-1 for SQLite or none): a
 * process that forks without exec closes it in the child, so a lock held
 * by that session dies with the holder (writer_lock.c). */
int bsl_store_session_fd(const bsl_store *s);

/*
 * Busy timeout in milliseconds of the stores opened from now on (10000
 * unless set).  `run` lowers it: a commit there runs on the event loop, and
 * waiting out an analyst's long write lock would freeze the loop (signals,
 * UDP, rescans); failing fast instead pauses reading until a commit succeeds.
 */
void bsl_store_set_busy_timeout(int ms);

/* True when one connection may be used from two threads in turn (SQLite
 * built thread-safe), as the pipeline's writer thread does. */
bool bsl_store_threadsafe(void);

/* The last error message, "" if none. */
const char *bsl_store_error(const bsl_store *s);
/* The database's size in bytes (pages in use times page size). */
int64_t bsl_store_bytes(bsl_store *s);

/*
 * Bulk loads: maintaining the visit_log_day index costs a third of writing
 * a visit and grows with the database, while building it once from sorted
 * keys is cheap.  PRESENT false drops it (before a load larger than the
 * database), true builds it when missing (after the load, and at every
 * start, which repairs a load that was killed).  Outside a transaction,
 * with no other thread using the store.  Returns 0 or -1 (error set).
 */
int bsl_store_day_index(bsl_store *s, bool present);

/* Records a failure that happened outside SQLite ("DB: WHAT"); returns -1. */
int bsl_store_fail_with(bsl_store *s, const char *what);

int bsl_store_begin(bsl_store *s);
/*
 * In the open transaction, waits for the fleet's KPI lock (PostgreSQL: a
 * transaction advisory lock, released at commit or rollback), so that KPI
 * evaluations of several hosts run one after the other and the later ones
 * find the states and alerts the first recorded: an alert is raised once
 * per fleet.  SQLite: nothing to do (one writer at a time already).
 */
int bsl_store_fleet_serialize(bsl_store *s);
int bsl_store_commit(bsl_store *s);
/* Rolls back if a transaction is open; never fails visibly. */
void bsl_store_rollback(bsl_store *s);

/* meta: small named integers (next visit id, ...). */
int bsl_store_meta_get(bsl_store *s, const char *key, int64_t def,
                       int64_t *out);
int bsl_store_meta_set(bsl_store *s, const char *key, int64_t value);

/*
 * Day salts for visitor hashing, in "PATH.salts" (mode 0600; in memory for
 * ":memory:"), apart from what analysts read.  Each put or delete is its
 * own durable transaction in that file, outside any transaction of the
 * database: bsl_store_commit_changeset() (changeset.h) orders them around
 * the commit that needs them.
 */
typedef void (*bsl_salt_cb)(void *ctx, const char *day, const uint8_t *salt,
                            size_t len);
int bsl_store_load_salts(bsl_store *s, bsl_salt_cb cb, void *ctx);
int bsl_store_put_salt(bsl_store *s, const char *day, const uint8_t *salt,
                       size_t len);
int bsl_store_delete_salts_before(bsl_store *s, const char *day);
/*
 * Before the first use of a new day's salt: on PostgreSQL, SALT (LEN
 * bytes, fresh random) becomes the day's salt unless a host made one
 * first, in which case SALT is overwritten with that one (get-or-create),
 * so every host keys a visitor alike.  Safe to call from another thread
 * than the one committing (its own connection).  SQLite: nothing to do.
 * Returns 0 or -1 (error set).
 */
int bsl_store_salt_claim(bsl_store *s, const char *day, uint8_t *salt,
                         size_t len);

/*
 * Replaces the visitor keys of the days before BEFORE (YYYY-MM-DD), whose
 * salts are gone, by per-day numbers that count the same (store_sql.h,
 * SQL_NUMBER_VISITORS); a (day, site) with an open visit waits.  Inside the
 * caller's transaction.  Returns 0 or -1.
 */
int bsl_store_number_visitors(bsl_store *s, const char *before);

/* Read positions of known files, identified by content fingerprint. */
typedef struct bsl_file_state {
  int64_t file_id; /* 0 for a file not yet stored */
  char source[128];
  char path[4096];
  char fingerprint[64];
  int fp_len;
  int64_t offset;
  int64_t lines;
  int64_t hits;
  int64_t rejects;
} bsl_file_state;

/* Distinct fingerprint lengths in use (at most CAP), for lookups. */
int bsl_store_fp_lengths(bsl_store *s, int *lens, size_t cap, size_t *n);
/* Returns 1 and fills *out when (fp_len, fingerprint) is known, 0 if not. */
int bsl_store_file_find(bsl_store *s, int fp_len, const char *fingerprint,
                        bsl_file_state *out);
/* Inserts (file_id == 0, then set) or updates the file's row. */
int bsl_store_file_save(bsl_store *s, bsl_file_state *st);

/* Sampled bad lines. */
int bsl_store_add_reject(bsl_store *s, const char *source, const char *path,
                         int64_t offset, const char *reason,
                         const char *excerpt, size_t excerpt_len);

/* Additive counters. */
int bsl_store_add_hits(bsl_store *s, const char *day, const char *site,
                       int status, int64_t hits, int64_t bot_hits);
int bsl_store_add_event(bsl_store *s, const char *day, const char *site,
                        const char *path, const char *event, const char *target,
                        int64_t events);

/* One visit, as persisted; times are Unix seconds UTC. */
typedef struct bsl_visit_row {
  int64_t visit_id;
  const char *site;
  const char *day;
  int64_t visitor; /* the key (> 0) or, once its salt is gone, a number */
  int64_t started_at, ended_at;
  int64_t pageviews, clicks, conversions;
  int max_scroll;
  const char *channel, *source, *medium, *campaign, *device;
  const char *landing_path, *exit_path;
  const char *pages_json; /* [[path, pageviews, entries, max_scroll], ...] */
  size_t pages_json_len;  /* strlen(pages_json), or 0: not known */
  bool is_open;
  bool saved_before; /* a hint: an earlier commit wrote this visit */
  /* An open visit kept in visit_parked rather than visit_log (see
   * "Parking" below); on load: it was there. */
  bool parked;
  /* The last commit parked it: it lands in visit_log now, counted then. */
  bool parked_before;
} bsl_visit_row;

int bsl_store_put_visit(bsl_store *s, const bsl_visit_row *v);
/* bsl_store_put_visit() for N rows, new ones several per statement. */
int bsl_store_put_visits(bsl_store *s, const bsl_visit_row *rows, size_t n);
/* pages_daily counts a path under its first BSL_PAGE_PATH_MAX bytes (the
 * model's counters, and the landing pages' bounces in store_agg.c). */
#define BSL_PAGE_PATH_MAX 4096
/* pages_daily counters: pageviews, entries, sum of the pageviews' scroll
 * depths, pageviews reaching 75%.  ENTRIES is 0 where the store counts
 * them from the visit rows (bsl_store_counts_entries()). */
int bsl_store_add_page_counts(bsl_store *s, const char *day, const char *site,
                              const char *path, int64_t pageviews,
                              int64_t entries, int64_t scroll_sum,
                              int64_t scroll_75);
int bsl_store_put_visit_goal(bsl_store *s, int64_t visit_id, const char *goal);
/* not_found_daily counters: people's requests of PATH answered 404. */
int bsl_store_add_not_found(bsl_store *s, const char *day, const char *site,
                            const char *path, int64_t hits);

/* What the writer's visit aggregates (store_agg.c) hold, for tests and
 * benchmarks: the distinct (day or segment, visitor) pairs in memory, and
 * the visit rows read back from visit_log to count them since the store
 * opened.  Zeros for a PostgreSQL store, which counts in SQL. */
typedef struct bsl_store_agg_stats {
  size_t pairs;
  uint64_t rows_read;
} bsl_store_agg_stats;
void bsl_store_agg_stats_get(const bsl_store *s, bsl_store_agg_stats *out);
/* A day's pairs leave memory at the first commit that touches other days
 * but not it, or after this many when visits of it are open (live,
 * yesterday's last open visits are written now and then for an hour). */
#define BSL_STORE_OPEN_DAY_IDLE_COMMITS 16

/*
 * Parking (SQLite only: bsl_store_can_park()).  An open visit is written
 * at every commit it is open and changed, and once more when it closes: on
 * a busy site most visits span a few commits, and those rewrites were a
 * third of the writer's work.  A parked visit goes to visit_parked, which
 * each commit empties (bsl_store_park_reset) and fills again with every
 * open visit not yet in visit_log, all in one blob; its row goes to
 * visit_log once, when it closes or when parking stops, and only then
 * counts (aggregates, goals): every view agrees with visit_log at every
 * commit, and leaves out the visits still parked, as it does visits not
 * read yet.  A day keeps its visitor keys while one of them is parked.
 */
bool bsl_store_can_park(const bsl_store *s);
/* Whether pages_daily's entries are counted from the visit rows the store
 * writes (SQLite: with the bounces, store_agg.c), rather than by the model
 * as its visits begin (PostgreSQL). */
bool bsl_store_counts_entries(const bsl_store *s);
int bsl_store_park_reset(bsl_store *s);

/* Open visits, with their pages and goals, to resume sessions (parked
 * ones too, with .parked set). */
typedef struct bsl_open_visit_cbs {
  void (*visit)(void *ctx, const bsl_visit_row *v);
  void (*page)(void *ctx, int64_t visit_id, const char *path, int64_t pageviews,
               int64_t entries, int max_scroll);
  void (*goal)(void *ctx, int64_t visit_id, const char *goal);
  void *ctx;
} bsl_open_visit_cbs;
int bsl_store_load_open_visits(bsl_store *s, const bsl_open_visit_cbs *cbs);

/* Makes the goals table list these goals (adds new ones, keeps history). */
int bsl_store_sync_goals(bsl_store *s, const char *const *names,
                         const char *const *patterns, size_t n);

#endif
