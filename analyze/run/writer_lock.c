/*
 * The writer lock (see writer_lock.h).
 *
 * Why a separate file and flock(2), not a lock on the database itself:
 * SQLite locks the database with POSIX (fcntl) record locks, which a process
 * loses as soon as it closes any descriptor of that file, and which NFS
 * emulates flock with; a lock file of our own interferes with neither.  The
 * file is keyed on the database's real path (symbolic links resolved, as
 * SQLite itself does to name its -wal file), so "b.db", "./b.db" and a link
 * to it are one store, and `--db` naming the config's database by another
 * path is refused like the config itself.
 *
 * The holder writes "PID ROLE\nCOMMAND LINE\n" into the file after locking
 * it.  A refused process reads it back; an empty, half-written or stale
 * text (its pid gone: the holder died, or could not write the file) makes it
 * try the lock again a few times before giving up without a name.
 */
#include "writer_lock.h"

#include "config.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a refused process keeps trying when the holder cannot be named
 * (it is between locking and writing its name, or just died). */
#define RETRIES 50
#define RETRY_NS (10 * 1000 * 1000)
#define COMMAND_SHOWN 300 /* characters of the holder's command line */
#define MAX_HELD 8

struct bsl_writer_lock {
  int fd; /* for PostgreSQL, the lock session's socket (or -1) */
  dev_t dev;
  ino_t ino;
  char *path; /* the lock file; the URI and host for PostgreSQL */
  /* PostgreSQL: the session holding the host's advisory lock */
  bsl_store *pg;
  char *host;
};

/* ---- not inherited by forked children ----
 * A child forked without exec (the alert supervisor, see alert.c) shares
 * the open file description and so the lock: were the daemon killed, its
 * child would keep the store locked under a dead pid.  Children close the
 * descriptors at fork; close() is async-signal-safe and, unlike LOCK_UN,
 * leaves the parent's lock alone.  Beyond MAX_HELD locks (never, in
 * practice) a child would keep the extra ones until it exits. */
static atomic_int held[MAX_HELD]; /* fd + 1; 0: free */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void close_in_child(void) {
  for (int i = 0; i < MAX_HELD; i++) {
    int v = atomic_exchange(&held[i], 0);
    if (v > 0)
      close(v - 1);
  }
}

static void register_atfork(void) {
  pthread_atfork(NULL, NULL, close_in_child);
}

static void track(int fd) {
  pthread_once(&atfork_once, register_atfork);
  for (int i = 0; i < MAX_HELD; i++) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&held[i], &expected, fd + 1))
      return;
  }
}

static void untrack(int fd) {
  for (int i = 0; i < MAX_HELD; i++) {
    int expected = fd + 1;
    if (atomic_compare_exchange_strong(&held[i], &expected, 0))
      return;
  }
}

/* ---- the lock file's name ---- */

/* Databases no other process can open: SQLite's in-memory and private
 * temporary databases. */
static bool private_db(const char *db) {
  return db[0] == '\0' || strcmp(db, ":memory:") == 0;
}

/* Sets *out to the malloced path of DB's lock file.  Returns 0 or -1 with
 * err set. */
static int lock_path_of(const char *db, char **out, char *err, size_t errlen) {
  *out = NULL;
  /* SQLite would open the file the URI names, not a file of that name: a
   * lock beside the literal name would guard nothing. */
  if (strncmp(db, "file:", 5) == 0) {
    snprintf(err, errlen,
             "%s: a URI cannot be written by ingest or run (one writer per "
             "database needs its path): give the database's file path",
             db);
    return -1;
  }
  char *real = realpath(db, NULL);
  if (!real && errno != ENOENT) {
    snprintf(err, errlen, "%s: cannot resolve the database's path: %s", db,
             strerror(errno));
    return -1;
  }
  if (!real) { /* not created yet: its directory must exist */
    char *d = strdup(db), *b = strdup(db);
    char *dir_real = d ? realpath(dirname(d), NULL) : NULL;
    int saved = errno;
    if (dir_real && b && (real = malloc(strlen(dir_real) + strlen(b) + 2)))
      sprintf(real, "%s/%s", dir_real, basename(b));
    else if (d && b && !dir_real)
      snprintf(err, errlen, "%s: cannot resolve the database's directory: %s",
               db, strerror(saved));
    else
      snprintf(err, errlen, "out of memory");
    free(dir_real);
    free(d);
    free(b);
    if (!real)
      return -1;
  }
  size_t n = strlen(real);
  char *lock = malloc(n + sizeof ".lock");
  if (!lock) {
    free(real);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  memcpy(lock, real, n);
  memcpy(lock + n, ".lock", sizeof ".lock");
  free(real);
  *out = lock;
  return 0;
}

/* ---- the holder's name ---- */

/* This process's command line, arguments joined by spaces, anything that
 * is not printable ASCII shown as '?' (the message is one line). */
static void own_command(char *buf, size_t len, const char *role) {
  snprintf(buf, len, "boussole %s", role);
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n <= 0) {
    snprintf(buf, len, "boussole %s", role);
    return;
  }
  while (n > 0 && buf[n - 1] == '\0')
    n--;
  for (ssize_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)buf[i];
    buf[i] = c == '\0' ? ' ' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
  }
  buf[n] = '\0';
}

static bool pid_alive(long pid) {
  return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Parses "PID ROLE\nCOMMAND\n" (COMMAND complete up to its newline) of a
 * live process.  COMMAND is cut at COMMAND_SHOWN characters. */
static bool read_holder(int fd, long *pid, char role[16], char *cmd,
                        size_t cmdlen) {
  char buf[2048];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  char *nl = strchr(buf, '\n');
  if (!nl || sscanf(buf, "%ld %15s", pid, role) != 2)
    return false;
  char *start = nl + 1, *end = strchr(start, '\n');
  if (!end || end == start)
    return false;
  size_t len = (size_t)(end - start);
  if (len > COMMAND_SHOWN)
    snprintf(cmd, cmdlen, "%.*s...", COMMAND_SHOWN, start);
  else
    snprintf(cmd, cmdlen, "%.*s", (int)len, start);
  return pid_alive(*pid);
}

static void refusal(const char *db, const char *lock_path, bool named, long pid,
                    const char *role, const char *cmd, char *err,
                    size_t errlen) {
  if (!named)
    snprintf(err, errlen,
             "%s is being written by another process (it holds %s); one "
             "writer per database: stop it first",
             db, lock_path);
  else if (strcmp(role, "run") == 0)
    /* What the user came for is usually older files read while the daemon
     * runs: the daemon itself can read them, once they are in its config. */
    snprintf(err, errlen,
             "%s is being written by pid %ld (%s); one writer per database: "
             "to read other files, add them to a [source] of that daemon's "
             "configuration and reload it (kill -HUP %ld), or stop it first",
             db, pid, cmd, pid);
  else
    snprintf(err, errlen,
             "%s is being written by pid %ld (%s); one writer per database: "
             "run this again once it has finished, or stop it first",
             db, pid, cmd);
}

/* ---- acquire and release ---- */

/* Opens (creating) the lock file.  Returns the descriptor, -1 with err set,
 * or -2 when the caller may go on without a lock (see below). */
static int open_lock_file(const char *db, const char *lock_path, char *err,
                          size_t errlen) {
  /* Whoever may write the database may take its lock: the file gets the
   * database's permission bits (0640, as store.c creates it, when new). */
  struct stat st;
  mode_t mode = stat(db, &st) == 0 ? (st.st_mode & 0666) | 0600 : 0640;
  int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, mode);
  if (fd >= 0)
    return fd;
  int saved = errno;
  /* A process that may not write the database cannot be a second writer:
   * let it go on, so SQLite names the real fault ("readonly database"). */
  if ((saved == EACCES || saved == EPERM || saved == EROFS) &&
      stat(db, &st) == 0 && faccessat(AT_FDCWD, db, W_OK, AT_EACCESS) != 0)
    return -2;
  snprintf(err, errlen,
           "%s: cannot open the writer lock %s: %s (ingest and run need "
           "write access to the database's directory)",
           db, lock_path, strerror(saved));
  return -1;
}

/* One writer per host of a PostgreSQL store: the host's advisory lock, held
 * by a session of its own (reconnects of the store's own session cannot
 * drop it), the holder recorded in the hosts table. */
static int acquire_pg(bsl_writer_lock **out, const char *uri, const char *host,
                      const char *role, char *err, size_t errlen) {
  char me[COMMAND_SHOWN * 4];
  own_command(me, sizeof me, role);
  bsl_store_holder h;
  bsl_store *st;
  char machine[256] = "";
  if (gethostname(machine, sizeof machine - 1) != 0)
    machine[0] = '\0';
  int rc;
  /* A holder on this machine that is dead (a SIGKILL a moment ago) leaves
   * its session until PostgreSQL reads the closed socket: wait for that,
   * as for a lock file whose holder cannot be named yet. */
  for (int attempt = 0;; attempt++) {
    rc = bsl_store_host_lock(&st, uri, host, role, me, &h, err, errlen);
    if (rc != BSL_STORE_HELD || attempt >= RETRIES ||
        strcmp(h.machine, machine) != 0 || pid_alive(h.pid))
      break;
    struct timespec ts = {0, 4 * RETRY_NS};
    nanosleep(&ts, NULL);
  }
  if (rc == BSL_STORE_HELD) {
    char where[600];
    snprintf(where, sizeof where, "%s", err);
    if (strlen(h.command) > COMMAND_SHOWN)
      snprintf(h.command + COMMAND_SHOWN, 4, "...");
    snprintf(err, errlen,
             "%s is being written as this host by pid %ld (%s) on %s; one "
             "writer per host: stop it first, or give this instance another "
             "[boussole] host",
             where, h.pid, h.command[0] ? h.command : "boussole",
             h.machine[0] ? h.machine : "an unknown machine");
    return BSL_WRITER_LOCK_HELD;
  }
  if (rc != 0)
    return -1;
  bsl_writer_lock *l = calloc(1, sizeof *l);
  if (!l || !(l->path = strdup(uri)) || !(l->host = strdup(host ? host : ""))) {
    if (l)
      free(l->path);
    free(l);
    bsl_store_close(st);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* a forked child (the alert supervisor) must not keep the session, and
   * with it the lock, alive after we are gone */
  l->fd = bsl_store_session_fd(st);
  if (l->fd >= 0)
    track(l->fd);
  l->pg = st;
  *out = l;
  return 0;
}

int bsl_writer_lock_acquire(bsl_writer_lock **out, const char *db_path,
                            const char *role, char *err, size_t errlen) {
  return bsl_writer_lock_acquire_host(out, db_path, NULL, role, err, errlen);
}

int bsl_writer_lock_acquire_host(bsl_writer_lock **out, const char *db_path,
                                 const char *host, const char *role, char *err,
                                 size_t errlen) {
  *out = NULL;
  if (bsl_config_db_is_postgres(db_path))
    return acquire_pg(out, db_path, host, role, err, errlen);
  if (private_db(db_path))
    return 0;
  char *lock_path;
  if (lock_path_of(db_path, &lock_path, err, errlen) != 0)
    return -1;
  int fd = open_lock_file(db_path, lock_path, err, errlen);
  if (fd == -2) {
    free(lock_path);
    return 0;
  }
  if (fd < 0) {
    free(lock_path);
    return -1;
  }

  long pid = 0;
  char hrole[16] = "", cmd[COMMAND_SHOWN + 4] = "";
  bool named = false;
  int rc = -1;
  for (int attempt = 0;; attempt++) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      rc = 0;
      break;
    }
    if (errno == EINTR)
      continue;
    if (errno != EWOULDBLOCK) {
      snprintf(err, errlen, "%s: cannot lock %s: %s", db_path, lock_path,
               strerror(errno));
      goto out_close;
    }
    named = read_holder(fd, &pid, hrole, cmd, sizeof cmd);
    if (named || attempt >= RETRIES)
      break;
    struct timespec ts = {0, RETRY_NS};
    nanosleep(&ts, NULL);
  }
  if (rc != 0) {
    refusal(db_path, lock_path, named, pid, hrole, cmd, err, errlen);
    rc = BSL_WRITER_LOCK_HELD;
    goto out_close;
  }

  bsl_writer_lock *l = calloc(1, sizeof *l);
  struct stat st;
  if (!l || fstat(fd, &st) != 0) {
    free(l);
    snprintf(err, errlen, "%s: cannot lock %s: %s", db_path, lock_path,
             l ? strerror(errno) : "out of memory");
    rc = -1;
    goto out_close;
  }
  /* The name is a courtesy to whoever is refused: failing to write it
   * (disk full) leaves the lock held and the holder unnamed. */
  char me[COMMAND_SHOWN * 4], text[sizeof me + 64];
  own_command(me, sizeof me, role);
  int n = snprintf(text, sizeof text, "%ld %s\n%s\n", (long)getpid(), role, me);
  if (ftruncate(fd, 0) == 0 && n > 0) {
    ssize_t w = pwrite(
        fd, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1, 0);
    (void)w;
  }
  l->fd = fd;
  l->dev = st.st_dev;
  l->ino = st.st_ino;
  l->path = lock_path;
  track(fd);
  *out = l;
  return 0;

out_close:
  close(fd);
  free(lock_path);
  return rc;
}

bool bsl_writer_lock_covers(const bsl_writer_lock *l, const char *db_path) {
  return bsl_writer_lock_covers_host(l, db_path, NULL);
}

bool bsl_writer_lock_covers_host(const bsl_writer_lock *l, const char *db_path,
                                 const char *host) {
  if (bsl_config_db_is_postgres(db_path))
    return l && l->pg && strcmp(l->path, db_path) == 0 &&
           strcmp(l->host, host ? host : "") == 0;
  if (l && l->pg)
    return false;
  if (private_db(db_path))
    return l == NULL;
  if (!l)
    return false;
  char *path, err[256];
  if (lock_path_of(db_path, &path, err, sizeof err) != 0)
    return false;
  /* The same file, not only the same name: were the lock file deleted and
   * made anew, our lock would guard an inode no newcomer sees. */
  struct stat st;
  bool same =
      stat(path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino;
  free(path);
  return same;
}

const char *bsl_writer_lock_path(const bsl_writer_lock *l) {
  return l && !l->pg ? l->path : "";
}

void bsl_writer_lock_release(bsl_writer_lock *l) {
  if (!l)
    return;
  if (l->pg) { /* the session ends: PostgreSQL drops the lock */
    if (l->fd >= 0)
      untrack(l->fd);
    bsl_store_close(l->pg);
    free(l->host);
    free(l->path);
    free(l);
    return;
  }
  untrack(l->fd);
  close(l->fd); /* the last descriptor of it: the kernel drops the lock */
  free(l->path);
  free(l);
}
