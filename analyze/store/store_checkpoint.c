/*
 * The writer's checkpoints, on a thread of their own (store_internal.h).
 *
 * In WAL mode SQLite copies the log back into the database file every 1,000
 * pages, by default on the connection that just committed: for boussole
 * that is the writer thread, the one every other thread waits for, and each
 * of those checkpoints syncs the log and the database (about 100 fsyncs per
 * million realistic lines, 0.1 s on a quiet disk, more when the disk is
 * shared with the web server's logs).  Here the writer's connection only
 * notes how long the log has grown (sqlite3_wal_hook) and a second
 * connection, on its own thread, runs the same PASSIVE checkpoint: it never
 * blocks the writer or a reader, and copies what it can.  The log restarts
 * from its beginning at the first write after a checkpoint that copied
 * everything, as before.
 *
 * Should the thread fall behind (a slow disk), the writer checkpoints
 * itself once the log passes four times the threshold, as SQLite would: the
 * log stays bounded either way.  A checkpoint that fails (disk full) loses
 * nothing: the pages stay in the log and the next one tries again.
 *
 * Memory: the checkpointer owns its connection and thread; the store owns
 * the checkpointer (bsl_store__checkpointer_stop() before the writer's
 * connection closes, so that the last close still checkpoints and removes
 * the log).
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>

#include "store_internal.h"

/* Past this many times BSL_STORE_CHECKPOINT_PAGES the writer stops waiting for
 * the thread and checkpoints itself. */
#define CHECKPOINT_BEHIND 4

struct bsl_checkpointer {
  sqlite3 *db; /* the checkpointer's own connection */
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool due;  /* the log passed BSL_STORE_CHECKPOINT_PAGES since the last request
              */
  bool quit; /* the store is closing */
};

static void *checkpointer_main(void *arg) {
  bsl_checkpointer *c = arg;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->due && !c->quit)
      pthread_cond_wait(&c->cv, &c->mu);
    if (c->quit)
      break;
    c->due = false;
    pthread_mutex_unlock(&c->mu);
    /* SQLITE_BUSY (another checkpoint is running) or an I/O error: the
     * frames stay in the log, the next request copies them */
    (void)sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE,
                                    NULL, NULL);
    pthread_mutex_lock(&c->mu);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* Called by SQLite on the writer's thread after each commit. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *schema,
                         int pages) {
  bsl_checkpointer *c = arg;
  if (pages >= CHECKPOINT_BEHIND * BSL_STORE_CHECKPOINT_PAGES) {
    (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                    NULL);
    return SQLITE_OK;
  }
  if (pages >= BSL_STORE_CHECKPOINT_PAGES) {
    pthread_mutex_lock(&c->mu);
    if (!c->due) {
      c->due = true;
      pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
  }
  return SQLITE_OK;
}

void bsl_store__checkpointer_start(bsl_store *s) {
  if (!s->db || !s->path || !sqlite3_threadsafe())
    return;
  bsl_checkpointer *c = calloc(1, sizeof *c);
  if (!c)
    return; /* SQLite's checkpoints on the writer's thread, as before */
  if (sqlite3_open_v2(s->path, &c->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK)
    goto out_close;
  /* it reads nothing through its cache: the log's frames are copied
   * straight to the file */
  if (sqlite3_exec(c->db, "PRAGMA cache_size = -64", NULL, NULL, NULL) !=
      SQLITE_OK)
    goto out_close;
  if (pthread_mutex_init(&c->mu, NULL) != 0)
    goto out_close;
  if (pthread_cond_init(&c->cv, NULL) != 0)
    goto out_mutex;
  if (pthread_create(&c->thread, NULL, checkpointer_main, c) != 0)
    goto out_cond;
  (void)pthread_setname_np(c->thread, "bsl-checkpoint");
  /* replaces the automatic checkpoints (sqlite3_wal_autocheckpoint) */
  sqlite3_wal_hook(s->db, on_wal_commit, c);
  s->checkpointer = c;
  return;

out_cond:
  pthread_cond_destroy(&c->cv);
out_mutex:
  pthread_mutex_destroy(&c->mu);
out_close:
  sqlite3_close(c->db);
  free(c);
}

void bsl_store__checkpointer_stop(bsl_store *s) {
  bsl_checkpointer *c = s->checkpointer;
  if (!c)
    return;
  /* back to SQLite's own checkpoints for whatever the connection still
   * writes (its close checkpoints and removes the log anyway) */
  sqlite3_wal_autocheckpoint(s->db, BSL_STORE_CHECKPOINT_PAGES);
  pthread_mutex_lock(&c->mu);
  c->quit = true;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->thread, NULL);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  sqlite3_close(c->db);
  free(c);
  s->checkpointer = NULL;
}
