/*
 * The PostgreSQL backend of the store (store.h; SPEC §9), chosen by a `db`
 * that is a libpq URI.  store.c's public functions hand over to the
 * bsl_store__pg_* functions here when the store is a PostgreSQL one; this is
 * the only file that includes libpq-fe.h.
 *
 * Every row a host writes carries its name (the host column), so hosts
 * never update the same rows.  Counter deltas, visits and conversions are
 * gathered while a changeset is applied and sent at commit as arrays (one
 * statement per table, keys in sorted order), then the commit fence, then
 * COMMIT: see bsl_store__pg_commit_begin().
 *
 * A lost connection is found by the next call: the store reconnects (once
 * per call) and, if that fails, the call fails with the URI (password
 * removed) and libpq's reason, so `run` pauses and retries.
 *
 * libpq is loaded when the first PostgreSQL store opens (pq_load()), not
 * linked: a SQLite store, every single host's `ingest` and `run`, then
 * never maps it and the twenty libraries it pulls in (TLS, Kerberos, LDAP),
 * about 5 MB of resident memory and a few milliseconds of relocations at every
 * start (README Performance).
 */
#include <dlfcn.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fault.h"
#include "store_internal.h"
#include "store_pg_sql.h"
#include "utf8.h"

#define BSL_STR_(x) #x
#define BSL_STR(x) BSL_STR_(x)

/* Every libpq function this file calls, loaded by pq_load(). */
#define PQ_FUNCTIONS(X)                                                        \
  X(PQclear)                                                                   \
  X(PQconnectdbParams)                                                         \
  X(PQerrorMessage)                                                            \
  X(PQexec)                                                                    \
  X(PQexecParams)                                                              \
  X(PQfinish)                                                                  \
  X(PQfname)                                                                   \
  X(PQgetisnull)                                                               \
  X(PQgetlength)                                                               \
  X(PQgetvalue)                                                                \
  X(PQnfields)                                                                 \
  X(PQntuples)                                                                 \
  X(PQreset)                                                                   \
  X(PQresultErrorMessage)                                                      \
  X(PQresultStatus)                                                            \
  X(PQsocket)                                                                  \
  X(PQstatus)

static struct {
#define PQ_POINTER(f) __typeof__(f) *f##_;
  PQ_FUNCTIONS(PQ_POINTER)
#undef PQ_POINTER
} libpq;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_error[512] = "libpq not loaded"; /* "" once loaded */

static void pq_load_once(void) {
  /* another libpq than the linker's (one outside its path, say) */
  const char *lib = getenv("BOUSSOLE_LIBPQ");
  if (!lib || !*lib)
    lib = "libpq.so.5";
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    snprintf(pq_error, sizeof pq_error,
             "a PostgreSQL store needs libpq, which could not be loaded (%s); "
             "install libpq5, or name the library in BOUSSOLE_LIBPQ",
             why ? why : lib);
    return;
  }
  void *sym;
#define PQ_LOAD(f)                                                             \
  if (!(sym = dlsym(h, #f))) {                                                 \
    snprintf(pq_error, sizeof pq_error,                                        \
             "%s has no " #f ": it is not libpq, or too old a one", lib);      \
    dlclose(h);                                                                \
    memset(&libpq, 0, sizeof libpq);                                           \
    return;                                                                    \
  }                                                                            \
  memcpy(&libpq.f##_, &sym, sizeof sym);
  PQ_FUNCTIONS(PQ_LOAD)
#undef PQ_LOAD
  pq_error[0] = '\0';
}

/* Loads libpq once per process.  Returns 0, or -1 with pq_error set. */
static int pq_load(void) {
  pthread_once(&pq_once, pq_load_once);
  return pq_error[0] ? -1 : 0;
}

/* From here on, libpq's names call through what pq_load() found. */
#define PQclear (*libpq.PQclear_)
#define PQconnectdbParams (*libpq.PQconnectdbParams_)
#define PQerrorMessage (*libpq.PQerrorMessage_)
#define PQexec (*libpq.PQexec_)
#define PQexecParams (*libpq.PQexecParams_)
#define PQfinish (*libpq.PQfinish_)
#define PQfname (*libpq.PQfname_)
#define PQgetisnull (*libpq.PQgetisnull_)
#define PQgetlength (*libpq.PQgetlength_)
#define PQgetvalue (*libpq.PQgetvalue_)
#define PQnfields (*libpq.PQnfields_)
#define PQntuples (*libpq.PQntuples_)
#define PQreset (*libpq.PQreset_)
#define PQresultErrorMessage (*libpq.PQresultErrorMessage_)
#define PQresultStatus (*libpq.PQresultStatus_)
#define PQsocket (*libpq.PQsocket_)
#define PQstatus (*libpq.PQstatus_)

/* One text array literal being built: "{e1,e2,...". */
typedef struct pgarr {
  char *p;
  size_t len, cap;
} pgarr;

enum {
  HITS_COLS = 5,
  EVENTS_COLS = 6,
  PAGES_COLS = 7,
  NOT_FOUND_COLS = 4,
  VISIT_COLS = 19
};

struct bsl_pg {
  PGconn *conn;
  char *conninfo; /* as given */
  char *host;     /* this instance's name in the fleet */
  bool in_tx;
  bool failed_tx; /* a statement of the open transaction failed */
  /* the commit fence (see bsl_store__pg_commit_begin) */
  int64_t seq;        /* the host's commits known committed */
  bool seq_known;     /* seq read (at the first commit) */
  const void *cur;    /* the changeset being retried, NULL after a commit */
  size_t done_ops;    /* its records known committed */
  size_t unknown_ops; /* > 0: its last COMMIT got no answer */
  /* the salt connection: the model asks for salts on its own thread while
   * the writer thread may be committing on conn */
  pthread_mutex_t salt_mu;
  PGconn *salt_conn;
  /* what the transaction sends at commit */
  pgarr hits[HITS_COLS], events[EVENTS_COLS], pages[PAGES_COLS];
  pgarr not_found[NOT_FOUND_COLS];
  pgarr visits[VISIT_COLS], goals[2];
  size_t n_hits, n_events, n_pages, n_not_found, n_visits, n_goals;
  bool oom;
};

/* ---- array literals ---- */

static void arr_reserve(bsl_pg *pg, pgarr *a, size_t more) {
  if (a->len + more + 2 <= a->cap)
    return;
  size_t ncap = a->cap ? a->cap : 256;
  while (ncap < a->len + more + 2)
    ncap *= 2;
  char *np = realloc(a->p, ncap);
  if (!np) {
    pg->oom = true;
    return;
  }
  a->p = np;
  a->cap = ncap;
}

static void arr_sep(bsl_pg *pg, pgarr *a) {
  arr_reserve(pg, a, 1);
  if (pg->oom)
    return;
  if (a->len == 0)
    a->p[a->len++] = '{';
  else
    a->p[a->len++] = ',';
}

static void arr_int(bsl_pg *pg, pgarr *a, int64_t v) {
  arr_sep(pg, a);
  arr_reserve(pg, a, 24);
  if (!pg->oom)
    a->len += (size_t)snprintf(a->p + a->len, 24, "%lld", (long long)v);
}

/* TEXT under the store's text rule (utf8.h): invalid UTF-8 and NUL are
 * cleaned as the SQLite backend binds them. */
static void arr_text(bsl_pg *pg, pgarr *a, const char *s) {
  s = s ? s : "";
  size_t n = strlen(s);
  char *clean = NULL;
  if (!bsl_utf8_is_clean(s, n)) {
    size_t cn = bsl_utf8_clean_len(s, n);
    if (!(clean = malloc(cn + 1))) {
      pg->oom = true;
      return;
    }
    bsl_utf8_clean(s, n, clean, cn + 1);
    s = clean;
    n = cn;
  }
  arr_sep(pg, a);
  arr_reserve(pg, a, 2 * n + 2);
  if (!pg->oom) {
    a->p[a->len++] = '"';
    for (size_t i = 0; i < n; i++) {
      if (s[i] == '"' || s[i] == '\\')
        a->p[a->len++] = '\\';
      a->p[a->len++] = s[i];
    }
    a->p[a->len++] = '"';
  }
  free(clean);
}

/* The literal, closed ("{}" when empty); valid until the next add. */
static const char *arr_done(bsl_pg *pg, pgarr *a) {
  if (a->len == 0) {
    arr_reserve(pg, a, 2);
    if (pg->oom)
      return "{}";
    a->p[a->len++] = '{';
  }
  a->p[a->len] = '}';
  a->p[a->len + 1] = '\0';
  return a->p;
}

static void arrs_reset(pgarr *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    a[i].len = 0;
}

static void arrs_free(pgarr *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(a[i].p);
}

static void buffers_reset(bsl_pg *pg) {
  arrs_reset(pg->hits, HITS_COLS);
  arrs_reset(pg->events, EVENTS_COLS);
  arrs_reset(pg->not_found, NOT_FOUND_COLS);
  arrs_reset(pg->pages, PAGES_COLS);
  arrs_reset(pg->visits, VISIT_COLS);
  arrs_reset(pg->goals, 2);
  pg->n_hits = pg->n_events = pg->n_pages = pg->n_not_found = 0;
  pg->n_visits = pg->n_goals = 0;
  pg->oom = false;
}

/* ---- errors and connections ---- */

/* The first line of libpq's message for CONN. */
static void first_line(char *out, size_t cap, PGconn *conn) {
  const char *m = conn ? PQerrorMessage(conn) : "out of memory";
  size_t n = strcspn(m, "\n");
  snprintf(out, cap, "%.*s", (int)n, m);
}

static int pg_fail(bsl_store *s, const char *what) {
  char msg[384];
  first_line(msg, sizeof msg, s->pg->conn);
  snprintf(s->error, sizeof s->error, "%s: %s: %s", s->path, what,
           msg[0] ? msg : "connection lost");
  return -1;
}

static int res_fail(bsl_store *s, PGresult *r, const char *what) {
  const char *m = r ? PQresultErrorMessage(r) : "";
  if (!m || !*m) {
    PQclear(r);
    return pg_fail(s, what);
  }
  size_t n = strcspn(m, "\n");
  snprintf(s->error, sizeof s->error, "%s: %s: %.*s", s->path, what, (int)n, m);
  PQclear(r);
  if (s->pg->in_tx)
    s->pg->failed_tx = true;
  return -1;
}

/* The URI as shown in messages: without a password. */
static char *shown_uri(const char *uri) {
  char *u = strdup(uri);
  if (!u)
    return NULL;
  char *auth = strstr(u, "://");
  if (auth) {
    auth += 3;
    char *end = auth + strcspn(auth, "/?");
    char *at = memchr(auth, '@', (size_t)(end - auth));
    char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon)
      memmove(colon, at, strlen(at) + 1);
  }
  char *pw = strstr(u, "password=");
  if (pw) {
    char *end = pw + strcspn(pw, "&");
    memmove(pw, *end ? end + 1 : end, strlen(*end ? end + 1 : end) + 1);
    size_t n = strlen(u);
    if (n && (u[n - 1] == '&' || u[n - 1] == '?'))
      u[n - 1] = '\0';
  }
  return u;
}

static PGconn *connect_uri(const char *uri) {
  /* defaults first: whatever the URI says wins */
  const char *const keys[] = {"connect_timeout", "application_name", "dbname",
                              NULL};
  const char *const vals[] = {"10", "boussole", uri, NULL};
  return PQconnectdbParams(keys, vals, 1);
}

/* A working connection, reconnecting once if it was lost.  Returns 0 or -1
 * (error set). */
static int ensure(bsl_store *s) {
  bsl_pg *pg = s->pg;
  if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
    return 0;
  if (pg->conn)
    PQreset(pg->conn);
  else
    pg->conn = connect_uri(pg->conninfo);
  if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
    char msg[384];
    first_line(msg, sizeof msg, pg->conn);
    snprintf(s->error, sizeof s->error, "%s: cannot connect: %s", s->path, msg);
    return -1;
  }
  PQclear(PQexec(pg->conn, "SET client_min_messages = warning"));
  return 0;
}

/* Runs SQL with N text parameters; the result when its status is WANT,
 * else NULL with the error set. */
static PGresult *pq(bsl_store *s, const char *sql, int n,
                    const char *const *vals, ExecStatusType want,
                    const char *what) {
  if (!s->pg->in_tx && ensure(s) != 0)
    return NULL;
  if (s->pg->in_tx && s->pg->failed_tx) {
    snprintf(s->error, sizeof s->error, "%s: %s: transaction aborted", s->path,
             what);
    return NULL;
  }
  PGresult *r = PQexecParams(s->pg->conn, sql, n, NULL, vals, NULL, NULL, 0);
  if (!r || PQresultStatus(r) != want) {
    res_fail(s, r, what);
    if (s->pg->in_tx)
      s->pg->failed_tx = true;
    return NULL;
  }
  return r;
}

static int pq_cmd(bsl_store *s, const char *sql, int n, const char *const *vals,
                  const char *what) {
  PGresult *r = pq(s, sql, n, vals, PGRES_COMMAND_OK, what);
  PQclear(r);
  return r ? 0 : -1;
}

static void i64(char buf[24], int64_t v) {
  snprintf(buf, 24, "%lld", (long long)v);
}

static int64_t col_i64(PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0
                                  : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Text parameters are cleaned like array elements: the text rule. */
static const char *clean_param(const char *t, char **owned) {
  t = t ? t : "";
  *owned = NULL;
  size_t n = strlen(t);
  if (bsl_utf8_is_clean(t, n))
    return t;
  size_t cn = bsl_utf8_clean_len(t, n);
  if (!(*owned = malloc(cn + 1)))
    return "";
  bsl_utf8_clean(t, n, *owned, cn + 1);
  return *owned;
}

/* ---- schema ---- */

_Static_assert(sizeof PG_MIGRATIONS / sizeof PG_MIGRATIONS[0] ==
                   BSL_SCHEMA_VERSION - PG_SCHEMA_BASE,
               "a schema change adds its step to both MIGRATIONS lists");

static int migrate(bsl_store *s) {
  if (pq_cmd(s, "BEGIN", 0, NULL, "starting migration") != 0)
    return -1;
  s->pg->in_tx = true;
  PGresult *r = NULL;
  int version = 0;
  int rc = -1;
  if ((r = pq(s, PG_SQL_MIGRATE_LOCK, 0, NULL, PGRES_TUPLES_OK,
              "locking for migration")) != NULL) {
    PQclear(r);
    r = NULL;
    rc = pq_cmd(s, PG_SQL_VERSION_TABLE, 0, NULL, "creating schema_version");
  }
  if (rc == 0 && !(r = pq(s, PG_SQL_VERSION_GET, 0, NULL, PGRES_TUPLES_OK,
                          "reading schema version")))
    rc = -1;
  if (rc == 0) {
    version = (int)col_i64(r, 0, 0);
    PQclear(r);
  }
  if (rc == 0 && version > BSL_SCHEMA_VERSION) {
    snprintf(s->error, sizeof s->error,
             "%s: schema version %d is newer than this boussole (%d); "
             "upgrade boussole",
             s->path, version, BSL_SCHEMA_VERSION);
    rc = -1;
  }
  /* the base schema, then each later step, as SQLite's MIGRATIONS */
  for (int step = version < PG_SCHEMA_BASE ? PG_SCHEMA_BASE - 1 : version;
       rc == 0 && step < BSL_SCHEMA_VERSION; step++) {
    const char *sql = step < PG_SCHEMA_BASE
                          ? PG_SQL_SCHEMA
                          : PG_MIGRATIONS[step - PG_SCHEMA_BASE];
    char v[24];
    i64(v, step + 1);
    const char *vals[] = {v};
    /* libpq runs a multi-statement string as one simple query */
    PGresult *sr = PQexec(s->pg->conn, sql);
    if (!sr || PQresultStatus(sr) != PGRES_COMMAND_OK)
      rc = res_fail(s, sr, "migrating the schema");
    else
      PQclear(sr);
    if (rc == 0)
      rc = pq_cmd(s, PG_SQL_VERSION_SET, 1, vals, "recording schema version");
  }
  s->pg->in_tx = false;
  s->pg->failed_tx = false;
  if (rc != 0) {
    PQclear(PQexec(s->pg->conn, "ROLLBACK"));
    return -1;
  }
  return pq_cmd(s, "COMMIT", 0, NULL, "committing migration");
}

/* ---- open and close ---- */

bool bsl_store__is_pg(const char *path) {
  return bsl_config_db_is_postgres(path);
}

int bsl_store__pg_open(bsl_store *s, const char *uri, const char *host,
                       bool create) {
  bsl_pg *pg = calloc(1, sizeof *pg);
  if (!pg)
    return bsl_store_fail_with(s, "out of memory");
  s->pg = pg;
  pthread_mutex_init(&pg->salt_mu, NULL);
  free(s->path);
  char name[256] = "";
  if (!host || !*host) {
    if (gethostname(name, sizeof name - 1) != 0 || !name[0])
      snprintf(name, sizeof name, "localhost");
    host = name;
  }
  s->path = shown_uri(uri);
  pg->conninfo = strdup(uri);
  pg->host = strdup(host);
  if (!s->path || !pg->conninfo || !pg->host) {
    if (!s->path)
      s->path = strdup("postgresql");
    return bsl_store_fail_with(s, "out of memory");
  }
  if (sodium_init() < 0)
    return bsl_store_fail_with(s, "cannot initialise libsodium");
  if (pq_load() != 0)
    return bsl_store_fail_with(s, pq_error);
  if (ensure(s) != 0)
    return -1;
  if (!create) {
    /* A reader never creates the schema (an empty database is an error),
     * and may be an analyst role that reads the views and nothing else:
     * it migrates only a schema it can read the version of and finds
     * older than this build's. */
    PGresult *r = pq(s, "SELECT to_regclass('schema_version') IS NOT NULL", 0,
                     NULL, PGRES_TUPLES_OK, "reading schema version");
    if (!r)
      return -1;
    bool has = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!has) {
      snprintf(s->error, sizeof s->error,
               "%s: not a boussole database (no boussole schema in it; "
               "'boussole ingest' or 'boussole run' creates it)",
               s->path);
      return -1;
    }
    r = PQexec(pg->conn, "SELECT has_table_privilege('schema_version',"
                         " 'SELECT') AND (SELECT max(version) FROM"
                         " schema_version) < " BSL_STR(BSL_SCHEMA_VERSION));
    bool older = r && PQresultStatus(r) == PGRES_TUPLES_OK &&
                 strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return older ? migrate(s) : 0;
  }
  if (migrate(s) != 0)
    return -1;
  const char *vals[] = {pg->host};
  return pq_cmd(s, PG_SQL_HOST_ROW, 1, vals, "registering host");
}

void bsl_store__pg_close(bsl_store *s) {
  bsl_pg *pg = s->pg;
  if (!pg)
    return;
  if (pg->conn) /* NULL when libpq could not be loaded */
    PQfinish(pg->conn);
  if (pg->salt_conn)
    PQfinish(pg->salt_conn);
  pthread_mutex_destroy(&pg->salt_mu);
  arrs_free(pg->hits, HITS_COLS);
  arrs_free(pg->events, EVENTS_COLS);
  arrs_free(pg->not_found, NOT_FOUND_COLS);
  arrs_free(pg->pages, PAGES_COLS);
  arrs_free(pg->visits, VISIT_COLS);
  arrs_free(pg->goals, 2);
  free(pg->conninfo);
  free(pg->host);
  free(pg);
  s->pg = NULL;
}

const char *bsl_store__pg_host(const bsl_store *s) {
  return s->pg->host;
}

int bsl_store__pg_socket(const bsl_store *s) {
  return s->pg->conn ? PQsocket(s->pg->conn) : -1;
}

/* ---- one writer per host ---- */

int bsl_store__pg_writer_lock(bsl_store *s, const char *role,
                              const char *command, bsl_store_holder *holder) {
  const char *h[] = {s->pg->host};
  PGresult *r = pq(s, PG_SQL_WRITER_LOCK, 1, h, PGRES_TUPLES_OK,
                   "taking the host's writer lock");
  if (!r)
    return -1;
  bool got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
  PQclear(r);
  if (!got) {
    memset(holder, 0, sizeof *holder);
    if ((r = pq(s, PG_SQL_WRITER_GET, 1, h, PGRES_TUPLES_OK,
                "reading the host's writer")) != NULL) {
      if (PQntuples(r) == 1) {
        holder->pid = (long)col_i64(r, 0, 0);
        snprintf(holder->role, sizeof holder->role, "%s", PQgetvalue(r, 0, 1));
        snprintf(holder->command, sizeof holder->command, "%s",
                 PQgetvalue(r, 0, 2));
        snprintf(holder->machine, sizeof holder->machine, "%s",
                 PQgetvalue(r, 0, 3));
      }
      PQclear(r);
    }
    return BSL_STORE_HELD;
  }
  char pid[24], machine[256] = "";
  i64(pid, (int64_t)getpid());
  if (gethostname(machine, sizeof machine - 1) != 0)
    machine[0] = '\0';
  char *c1, *c2;
  const char *vals[] = {s->pg->host, pid, clean_param(role, &c1),
                        clean_param(command, &c2), machine};
  int rc = pq_cmd(s, PG_SQL_WRITER_SET, 5, vals, "recording the writer");
  free(c1);
  free(c2);
  return rc;
}

/* ---- transactions and the commit fence ---- */

int bsl_store__pg_begin(bsl_store *s) {
  bsl_pg *pg = s->pg;
  if (pg->in_tx)
    return bsl_store_fail_with(s, "transaction already open");
  buffers_reset(pg);
  /* a session that died while idle (server restart, terminated backend)
   * is only seen when used: reconnect and begin again, once */
  if (pq_cmd(s, "BEGIN", 0, NULL, "starting transaction") != 0 &&
      (PQstatus(pg->conn) != CONNECTION_BAD ||
       pq_cmd(s, "BEGIN", 0, NULL, "starting transaction") != 0))
    return -1;
  pg->in_tx = true;
  pg->failed_tx = false;
  return 0;
}

void bsl_store__pg_rollback(bsl_store *s) {
  bsl_pg *pg = s->pg;
  if (pg->in_tx && pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
    PQclear(PQexec(pg->conn, "ROLLBACK"));
  pg->in_tx = false;
  pg->failed_tx = false;
  buffers_reset(pg);
}

static int send_arrays(bsl_store *s, const char *sql, pgarr *cols, int n,
                       const char *what) {
  const char *vals[1 + VISIT_COLS];
  vals[0] = s->pg->host;
  for (int i = 0; i < n; i++)
    vals[1 + i] = arr_done(s->pg, &cols[i]);
  if (s->pg->oom)
    return bsl_store_fail_with(s, "out of memory");
  return pq_cmd(s, sql, 1 + n, vals, what);
}

/* The gathered rows, table by table (each in key order: see the SQL). */
static int flush(bsl_store *s) {
  bsl_pg *pg = s->pg;
  if (pg->oom)
    return bsl_store_fail_with(s, "out of memory");
  if (pg->n_hits &&
      send_arrays(s, PG_SQL_HITS_ADD, pg->hits, HITS_COLS, "adding hit counts"))
    return -1;
  if (pg->n_events && send_arrays(s, PG_SQL_EVENTS_ADD, pg->events, EVENTS_COLS,
                                  "adding event counts"))
    return -1;
  if (pg->n_pages && send_arrays(s, PG_SQL_PAGES_ADD, pg->pages, PAGES_COLS,
                                 "adding page counts"))
    return -1;
  if (pg->n_not_found && send_arrays(s, PG_SQL_NOT_FOUND_ADD, pg->not_found,
                                     NOT_FOUND_COLS, "adding 404 counts"))
    return -1;
  if (pg->n_visits && (send_arrays(s, PG_SQL_VISITS_PUT, pg->visits, VISIT_COLS,
                                   "saving visits") ||
                       send_arrays(s, PG_SQL_SKETCHES_ADD, pg->visits,
                                   VISIT_COLS, "adding visitors") ||
                       send_arrays(s, PG_SQL_DEVICE_SKETCHES_ADD, pg->visits,
                                   VISIT_COLS, "adding visitors by device")))
    return -1;
  if (pg->n_goals &&
      send_arrays(s, PG_SQL_GOALS_PUT, pg->goals, 2, "saving conversions"))
    return -1;
  buffers_reset(pg);
  return 0;
}

int bsl_store__pg_commit(bsl_store *s) {
  bsl_pg *pg = s->pg;
  if (flush(s) != 0) {
    bsl_store__pg_rollback(s);
    return -1;
  }
  PGresult *r = PQexec(pg->conn, "COMMIT");
  bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok)
    res_fail(s, r, "committing");
  else
    PQclear(r);
  pg->in_tx = false;
  pg->failed_tx = false;
  /* tests: the reply of a COMMIT that went through is lost, once */
  static atomic_bool lost;
  if (ok && bsl_fault("pg-commit-reply") && !atomic_exchange(&lost, true)) {
    PQfinish(pg->conn);
    pg->conn = NULL;
    snprintf(s->error, sizeof s->error,
             "%s: committing: server closed the connection unexpectedly",
             s->path);
    return -1;
  }
  return ok ? 0 : -1;
}

/*
 * The fence.  Each host numbers its commits (hosts.commit_seq); a commit
 * of changes moves the number from what this store last saw to the next,
 * compare-and-set, in its own transaction.  When a commit fails without
 * an answer (connection lost at COMMIT) its outcome is unknown: the
 * changeset and its length are remembered, and the caller retries the same
 * changeset with more records appended (pipeline.c).  The retry reads the
 * number: moved by one, the first attempt was committed and only the
 * records after its length are applied; unmoved, everything not known
 * committed is.  Anything else means another process wrote as this host:
 * refused.
 */
int bsl_store__pg_commit_begin(bsl_store *s, const void *cs, size_t n_ops,
                               size_t *first) {
  bsl_pg *pg = s->pg;
  *first = 0;
  if (pg->cur != cs) { /* a new changeset (or the old one, cleared, reused) */
    pg->cur = cs;
    pg->done_ops = 0;
    if (pg->unknown_ops)
      pg->seq_known = false; /* an abandoned attempt: take what is there */
    pg->unknown_ops = 0;
  }
  if (bsl_store__pg_begin(s) != 0)
    return -1;
  const char *h[] = {pg->host};
  PGresult *r = pq(s, PG_SQL_HOST_SEQ " FOR UPDATE", 1, h, PGRES_TUPLES_OK,
                   "reading the commit sequence");
  if (!r)
    goto fail;
  int64_t db_seq = PQntuples(r) ? col_i64(r, 0, 0) : 0;
  PQclear(r);
  if (!pg->seq_known) {
    pg->seq = db_seq;
    pg->seq_known = true;
  }
  if (db_seq == pg->seq + 1 && pg->unknown_ops && pg->unknown_ops <= n_ops) {
    pg->done_ops = pg->unknown_ops; /* the lost reply was a commit */
    pg->seq = db_seq;
  } else if (db_seq != pg->seq) {
    snprintf(s->error, sizeof s->error,
             "%s: host %s: its commit sequence moved (%lld, expected %lld): "
             "another process writes as this host; give each instance its "
             "own [boussole] host",
             s->path, pg->host, (long long)db_seq, (long long)pg->seq);
    goto fail;
  }
  pg->unknown_ops = 0;
  *first = pg->done_ops;
  char seq[24];
  i64(seq, pg->seq);
  const char *vals[] = {pg->host, seq};
  if (pq_cmd(s, PG_SQL_HOST_FENCE, 2, vals, "fencing the commit") != 0)
    goto fail;
  return 0;
fail:
  bsl_store__pg_rollback(s);
  return -1;
}

int bsl_store__pg_commit_end(bsl_store *s, const void *cs, size_t n_ops,
                             bool applied) {
  bsl_pg *pg = s->pg;
  if (!applied) {
    bsl_store__pg_rollback(s);
    return -1;
  }
  if (bsl_store__pg_commit(s) != 0) {
    /* unknown outcome: the retry of CS finds out (above) */
    pg->cur = cs;
    pg->unknown_ops = n_ops;
    return -1;
  }
  pg->seq++;
  pg->cur = NULL;
  pg->done_ops = 0;
  return 0;
}

/* ---- meta ---- */

int bsl_store__pg_meta_get(bsl_store *s, const char *key, int64_t def,
                           int64_t *out) {
  const char *vals[] = {s->pg->host, key};
  PGresult *r =
      pq(s, PG_SQL_META_GET, 2, vals, PGRES_TUPLES_OK, "reading meta");
  if (!r)
    return -1;
  *out = PQntuples(r) ? col_i64(r, 0, 0) : def;
  PQclear(r);
  return 0;
}

int bsl_store__pg_meta_set(bsl_store *s, const char *key, int64_t value) {
  char v[24];
  i64(v, value);
  const char *vals[] = {s->pg->host, key, v};
  return pq_cmd(s, PG_SQL_META_SET, 3, vals, "writing meta");
}

/* ---- day salts: shared by the fleet ---- */

int bsl_store__pg_load_salts(bsl_store *s, bsl_salt_cb cb, void *ctx) {
  PGresult *r = NULL;
  if (ensure(s) == 0)
    r = PQexecParams(s->pg->conn, PG_SQL_SALT_LOAD, 0, NULL, NULL, NULL, NULL,
                     1);
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
    return res_fail(s, r, "loading day salts");
  for (int i = 0; i < PQntuples(r); i++) {
    char day[11];
    int n = PQgetlength(r, i, 0);
    snprintf(day, sizeof day, "%.*s", n < 10 ? n : 10, PQgetvalue(r, i, 0));
    cb(ctx, day, (const uint8_t *)PQgetvalue(r, i, 1),
       (size_t)PQgetlength(r, i, 1));
  }
  PQclear(r);
  return 0;
}

/* Runs the salt statement SQL with (DAY, SALT) on the salt connection. */
static PGresult *salt_exec(bsl_store *s, const char *sql, const char *day,
                           const uint8_t *salt, size_t len) {
  bsl_pg *pg = s->pg;
  if (!pg->salt_conn || PQstatus(pg->salt_conn) != CONNECTION_OK) {
    if (pg->salt_conn)
      PQreset(pg->salt_conn);
    else
      pg->salt_conn = connect_uri(pg->conninfo);
  }
  const char *vals[] = {day, (const char *)salt};
  const int lens[] = {0, (int)len};
  const int fmts[] = {0, 1};
  return PQexecParams(pg->salt_conn, sql, 2, NULL, vals, lens, fmts, 1);
}

int bsl_store__pg_salt_claim(bsl_store *s, const char *day, uint8_t *salt,
                             size_t len) {
  bsl_pg *pg = s->pg;
  pthread_mutex_lock(&pg->salt_mu);
  PGresult *r = salt_exec(s, PG_SQL_SALT_CLAIM, day, salt, len);
  int rc = -1;
  if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1 &&
      (size_t)PQgetlength(r, 0, 0) == len) {
    memcpy(salt, PQgetvalue(r, 0, 0), len);
    rc = 0;
  } /* no message: s->error is the committing thread's */
  PQclear(r);
  pthread_mutex_unlock(&pg->salt_mu);
  return rc;
}

int bsl_store__pg_put_salt(bsl_store *s, const char *day, const uint8_t *salt,
                           size_t len) {
  char hex[2 * 64 + 3];
  if (len > 64)
    return bsl_store_fail_with(s, "salt too long");
  snprintf(hex, sizeof hex, "\\x");
  sodium_bin2hex(hex + 2, sizeof hex - 2, salt, len);
  const char *vals[] = {day, hex};
  return pq_cmd(s, PG_SQL_SALT_PUT, 2, vals, "saving day salt");
}

int bsl_store__pg_delete_salts_before(bsl_store *s, const char *day) {
  const char *vals[] = {day};
  return pq_cmd(s, PG_SQL_SALT_DELETE, 1, vals, "deleting old day salts");
}

int bsl_store__pg_number_visitors(bsl_store *s, const char *before) {
  unsigned char key[16];
  char hex[33];
  randombytes_buf(key, sizeof key);
  sodium_bin2hex(hex, sizeof hex, key, sizeof key);
  sodium_memzero(key, sizeof key);
  /* the visits this transaction wrote must be there first */
  if (flush(s) != 0)
    return -1;
  const char *vals[] = {s->pg->host, before, hex};
  int rc = pq_cmd(s, PG_SQL_NUMBER_VISITORS, 3, vals, "numbering visitors");
  sodium_memzero(hex, sizeof hex);
  return rc;
}

/* ---- files and rejects ---- */

int bsl_store__pg_fp_lengths(bsl_store *s, int *lens, size_t cap, size_t *n) {
  const char *vals[] = {s->pg->host};
  PGresult *r =
      pq(s, PG_SQL_FP_LENS, 1, vals, PGRES_TUPLES_OK, "listing fingerprints");
  *n = 0;
  if (!r)
    return -1;
  for (int i = 0; i < PQntuples(r) && *n < cap; i++)
    lens[(*n)++] = (int)col_i64(r, i, 0);
  PQclear(r);
  return 0;
}

int bsl_store__pg_file_find(bsl_store *s, int fp_len, const char *fingerprint,
                            bsl_file_state *out) {
  char len[24];
  i64(len, fp_len);
  char *c;
  const char *vals[] = {s->pg->host, len, clean_param(fingerprint, &c)};
  PGresult *r =
      pq(s, PG_SQL_FILE_FIND, 3, vals, PGRES_TUPLES_OK, "looking up file");
  free(c);
  if (!r)
    return -1;
  int found = PQntuples(r) > 0;
  if (found) {
    out->file_id = col_i64(r, 0, 0);
    snprintf(out->source, sizeof out->source, "%s", PQgetvalue(r, 0, 1));
    snprintf(out->path, sizeof out->path, "%s", PQgetvalue(r, 0, 2));
    snprintf(out->fingerprint, sizeof out->fingerprint, "%s",
             PQgetvalue(r, 0, 3));
    out->fp_len = (int)col_i64(r, 0, 4);
    out->offset = col_i64(r, 0, 5);
    out->lines = col_i64(r, 0, 6);
    out->hits = col_i64(r, 0, 7);
    out->rejects = col_i64(r, 0, 8);
  }
  PQclear(r);
  return found;
}

int bsl_store__pg_file_save(bsl_store *s, bsl_file_state *f) {
  bool insert = f->file_id == 0;
  char nums[6][24];
  i64(nums[0], f->fp_len);
  i64(nums[1], f->offset);
  i64(nums[2], f->lines);
  i64(nums[3], f->hits);
  i64(nums[4], f->rejects);
  i64(nums[5], f->file_id);
  char *c[3];
  const char *vals[] = {s->pg->host,
                        clean_param(f->source, &c[0]),
                        clean_param(f->path, &c[1]),
                        clean_param(f->fingerprint, &c[2]),
                        nums[0],
                        nums[1],
                        nums[2],
                        nums[3],
                        nums[4],
                        nums[5]};
  int rc;
  if (insert) {
    /* the insert's parameters are $1..$9 */
    PGresult *r = pq(s, PG_SQL_FILE_INSERT, 9, vals, PGRES_TUPLES_OK,
                     "saving read position");
    rc = r ? 0 : -1;
    if (r)
      f->file_id = col_i64(r, 0, 0);
    PQclear(r);
  } else {
    rc = pq_cmd(s, PG_SQL_FILE_UPDATE, 10, vals, "saving read position");
  }
  for (int i = 0; i < 3; i++)
    free(c[i]);
  return rc;
}

int bsl_store__pg_add_reject(bsl_store *s, const char *source, const char *path,
                             int64_t offset, const char *reason,
                             const char *excerpt, size_t excerpt_len) {
  char off[24];
  i64(off, offset);
  char *ex = malloc(excerpt_len + 1);
  if (!ex)
    return bsl_store_fail_with(s, "out of memory");
  if (excerpt_len)
    memcpy(ex, excerpt, excerpt_len);
  ex[excerpt_len] = '\0';
  /* an excerpt may hold NUL bytes: cleaned from the whole length */
  size_t cn = bsl_utf8_clean_len(ex, excerpt_len);
  char *clean = malloc(cn + 1);
  if (!clean) {
    free(ex);
    return bsl_store_fail_with(s, "out of memory");
  }
  bsl_utf8_clean(ex, excerpt_len, clean, cn + 1);
  free(ex);
  char *c[3];
  const char *vals[] = {
      s->pg->host, clean_param(source, &c[0]), clean_param(path, &c[1]),
      off,         clean_param(reason, &c[2]), clean};
  int rc = pq_cmd(s, PG_SQL_REJECT_ADD, 6, vals, "saving reject sample");
  for (int i = 0; i < 3; i++)
    free(c[i]);
  free(clean);
  return rc;
}

/* ---- counters, visits, conversions: gathered until commit ---- */

static int gathered(bsl_store *s) {
  if (!s->pg->in_tx)
    return bsl_store_fail_with(s, "write outside a transaction");
  return s->pg->oom ? bsl_store_fail_with(s, "out of memory") : 0;
}

int bsl_store__pg_add_hits(bsl_store *s, const char *day, const char *site,
                           int status, int64_t hits, int64_t bot_hits) {
  bsl_pg *pg = s->pg;
  arr_text(pg, &pg->hits[0], day);
  arr_text(pg, &pg->hits[1], site);
  arr_int(pg, &pg->hits[2], status);
  arr_int(pg, &pg->hits[3], hits);
  arr_int(pg, &pg->hits[4], bot_hits);
  pg->n_hits++;
  return gathered(s);
}

int bsl_store__pg_add_event(bsl_store *s, const char *day, const char *site,
                            const char *path, const char *event,
                            const char *target, int64_t events) {
  bsl_pg *pg = s->pg;
  arr_text(pg, &pg->events[0], day);
  arr_text(pg, &pg->events[1], site);
  arr_text(pg, &pg->events[2], path);
  arr_text(pg, &pg->events[3], event);
  arr_text(pg, &pg->events[4], target);
  arr_int(pg, &pg->events[5], events);
  pg->n_events++;
  return gathered(s);
}

int bsl_store__pg_add_not_found(bsl_store *s, const char *day, const char *site,
                                const char *path, int64_t hits) {
  bsl_pg *pg = s->pg;
  arr_text(pg, &pg->not_found[0], day);
  arr_text(pg, &pg->not_found[1], site);
  arr_text(pg, &pg->not_found[2], path);
  arr_int(pg, &pg->not_found[3], hits);
  pg->n_not_found++;
  return gathered(s);
}

int bsl_store__pg_add_page_counts(bsl_store *s, const char *day,
                                  const char *site, const char *path,
                                  int64_t pageviews, int64_t entries,
                                  int64_t scroll_sum, int64_t scroll_75) {
  bsl_pg *pg = s->pg;
  arr_text(pg, &pg->pages[0], day);
  arr_text(pg, &pg->pages[1], site);
  arr_text(pg, &pg->pages[2], path);
  arr_int(pg, &pg->pages[3], pageviews);
  arr_int(pg, &pg->pages[4], entries);
  arr_int(pg, &pg->pages[5], scroll_sum);
  arr_int(pg, &pg->pages[6], scroll_75);
  pg->n_pages++;
  return gathered(s);
}

int bsl_store__pg_put_visit(bsl_store *s, const bsl_visit_row *v) {
  bsl_pg *pg = s->pg;
  pgarr *a = pg->visits;
  arr_int(pg, &a[0], v->visit_id);
  arr_text(pg, &a[1], v->site);
  arr_text(pg, &a[2], v->day);
  arr_int(pg, &a[3], v->visitor);
  arr_int(pg, &a[4], v->started_at);
  arr_int(pg, &a[5], v->ended_at);
  arr_int(pg, &a[6], v->pageviews);
  arr_int(pg, &a[7], v->clicks);
  arr_int(pg, &a[8], v->conversions);
  arr_int(pg, &a[9], v->max_scroll);
  arr_text(pg, &a[10], v->channel);
  arr_text(pg, &a[11], v->source);
  arr_text(pg, &a[12], v->medium);
  arr_text(pg, &a[13], v->campaign);
  arr_text(pg, &a[14], v->device);
  arr_text(pg, &a[15], v->landing_path);
  arr_text(pg, &a[16], v->exit_path);
  arr_int(pg, &a[17], v->is_open);
  arr_text(pg, &a[18], v->pages_json ? v->pages_json : "[]");
  pg->n_visits++;
  return gathered(s);
}

int bsl_store__pg_put_visit_goal(bsl_store *s, int64_t visit_id,
                                 const char *goal) {
  bsl_pg *pg = s->pg;
  arr_int(pg, &pg->goals[0], visit_id);
  arr_text(pg, &pg->goals[1], goal);
  pg->n_goals++;
  return gathered(s);
}

int bsl_store__pg_load_open_visits(bsl_store *s,
                                   const bsl_open_visit_cbs *cbs) {
  const char *h[] = {s->pg->host};
  PGresult *r =
      pq(s, PG_SQL_OPEN_VISITS, 1, h, PGRES_TUPLES_OK, "loading open visits");
  if (!r)
    return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    bsl_visit_row v = {
        .visit_id = col_i64(r, i, 0),
        .site = PQgetvalue(r, i, 1),
        .day = PQgetvalue(r, i, 2),
        .visitor = col_i64(r, i, 3),
        .started_at = col_i64(r, i, 4),
        .ended_at = col_i64(r, i, 5),
        .pageviews = col_i64(r, i, 6),
        .clicks = col_i64(r, i, 7),
        .conversions = col_i64(r, i, 8),
        .max_scroll = (int)col_i64(r, i, 9),
        .channel = PQgetvalue(r, i, 10),
        .source = PQgetvalue(r, i, 11),
        .medium = PQgetvalue(r, i, 12),
        .campaign = PQgetvalue(r, i, 13),
        .device = PQgetvalue(r, i, 14),
        .landing_path = PQgetvalue(r, i, 15),
        .exit_path = PQgetvalue(r, i, 16),
        .is_open = true,
    };
    cbs->visit(cbs->ctx, &v);
  }
  PQclear(r);
  if (!(r = pq(s, PG_SQL_OPEN_PAGES, 1, h, PGRES_TUPLES_OK,
               "loading open visit pages")))
    return -1;
  for (int i = 0; i < PQntuples(r); i++)
    cbs->page(cbs->ctx, col_i64(r, i, 0), PQgetvalue(r, i, 1), col_i64(r, i, 2),
              col_i64(r, i, 3), (int)col_i64(r, i, 4));
  PQclear(r);
  if (!(r = pq(s, PG_SQL_OPEN_GOALS, 1, h, PGRES_TUPLES_OK,
               "loading open visit goals")))
    return -1;
  for (int i = 0; i < PQntuples(r); i++)
    cbs->goal(cbs->ctx, col_i64(r, i, 0), PQgetvalue(r, i, 1));
  PQclear(r);
  return 0;
}

int bsl_store__pg_sync_goals(bsl_store *s, const char *const *names,
                             const char *const *patterns, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char *c[2];
    const char *vals[] = {clean_param(names[i], &c[0]),
                          clean_param(patterns[i], &c[1])};
    int rc = pq_cmd(s, PG_SQL_GOAL_SYNC, 2, vals, "saving goals");
    free(c[0]);
    free(c[1]);
    if (rc != 0)
      return -1;
  }
  return 0;
}

int64_t bsl_store__pg_bytes(bsl_store *s) {
  PGresult *r =
      pq(s, PG_SQL_DB_BYTES, 0, NULL, PGRES_TUPLES_OK, "measuring database");
  int64_t n = r ? col_i64(r, 0, 0) : 0;
  PQclear(r);
  return n;
}

/* ---- campaign logs ---- */

static char *dialect(const char *sql);

int bsl_store__pg_exec(bsl_store *s, const char *sql, int n,
                       const char *const *vals, const char *what) {
  char *pg_sql = dialect(sql);
  if (!pg_sql)
    return bsl_store_fail_with(s, "out of memory");
  int rc = pq_cmd(s, pg_sql, n, vals, what);
  free(pg_sql);
  return rc;
}

int bsl_store__pg_fleet_serialize(bsl_store *s) {
  PGresult *r = pq(s, PG_SQL_FLEET_XACT_LOCK, 0, NULL, PGRES_TUPLES_OK,
                   "waiting for the fleet's KPI evaluation lock");
  PQclear(r);
  return r ? 0 : -1;
}

int bsl_store__pg_campaign_state_load(bsl_store *s,
                                      void (*row)(void *ctx, int ncols,
                                                  const char *const *cols,
                                                  const bool *nulls),
                                      void *ctx) {
  const char *h[] = {s->pg->host};
  PGresult *r = pq(s, PG_SQL_CAMPAIGN_STATE_LOAD, 1, h, PGRES_TUPLES_OK,
                   "loading campaign state");
  if (!r)
    return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    const char *cols[8];
    bool nulls[8];
    for (int c = 0; c < 8; c++) {
      cols[c] = PQgetvalue(r, i, c);
      nulls[c] = PQgetisnull(r, i, c);
    }
    row(ctx, 8, cols, nulls);
  }
  PQclear(r);
  return 0;
}

/* ---- reading: the report's queries over the views ---- */

/* SQLite's text of a read-only query over the views in PostgreSQL's
 * dialect: ?N parameters become $N, group_concat string_agg.  Enough for
 * the report's statements (store_report.c), which use nothing else of
 * SQLite's own. */
static char *dialect(const char *sql) {
  size_t n = strlen(sql);
  char *out = malloc(2 * n + 1);
  if (!out)
    return NULL;
  size_t o = 0;
  bool quoted = false;
  for (size_t i = 0; i < n; i++) {
    if (sql[i] == '\'')
      quoted = !quoted;
    if (!quoted && sql[i] == '?') {
      out[o++] = '$';
      continue;
    }
    if (!quoted && strncmp(sql + i, "group_concat(", 13) == 0) {
      memcpy(out + o, "string_agg(", 11);
      o += 11;
      i += 12;
      continue;
    }
    out[o++] = sql[i];
  }
  out[o] = '\0';
  return out;
}

int bsl_store__pg_rows(bsl_store *s, const char *sqlite_sql,
                       const char *const *params, int np,
                       int (*row)(void *ctx, int ncol, const char *const *name,
                                  const char *const *text),
                       void *ctx, const char *what) {
  char *sql = dialect(sqlite_sql);
  if (!sql)
    return bsl_store_fail_with(s, "out of memory");
  PGresult *r = pq(s, sql, np, params, PGRES_TUPLES_OK, what);
  free(sql);
  if (!r)
    return -1;
  enum { MAXC = 64 };
  int ncol = PQnfields(r) < MAXC ? PQnfields(r) : MAXC;
  const char *name[MAXC], *text[MAXC];
  for (int c = 0; c < ncol; c++)
    name[c] = PQfname(r, c);
  int rc = 0;
  for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
    for (int c = 0; c < ncol; c++)
      text[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
    rc = row(ctx, ncol, name, text);
  }
  PQclear(r);
  return rc;
}
