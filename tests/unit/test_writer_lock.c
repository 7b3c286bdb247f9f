/*
 * Unit tests for analyze/writer_lock.c: a lock is refused to another
 * process (a fork()ed child, both ways round) with a message naming the
 * holder's pid and command and what to do; a holder killed by SIGKILL
 * leaves no stale lock; a child forked without exec does not keep its
 * parent's lock; the lock file is kept beside the database's real path, so
 * other spellings of that path and links to it are the same store while
 * another database is not; an unnamed holder is still refused; private
 * databases need no lock; a missing or unwritable directory, a path
 * through a plain file and a URI are clear errors.  Files live in a fresh
 * mkdtemp directory; children that hold a lock die with the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "writer_lock.h"

#define TMPDIR_PREFIX "/tmp/test_writer_lock.XXXXXX"
#include "tmpdir.h"

/* In a forked child that waits to be killed: a failed assertion in the
 * parent must not leave it holding a lock (or the test's output open). */
static void die_with_parent(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static char *db_path(const char *name) {
  static char paths[16][512];
  static int n;
  char *p = paths[n++ % 16];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  return p;
}

static char *read_all(const char *path) {
  static char buf[4096];
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f)
    return buf;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* Runs acquire(DB, ROLE) in a fork()ed child; returns its result and
 * copies its message into MSG. */
static int acquire_in_child(const char *db, const char *role, char *msg,
                            size_t len) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    char err[1024] = "";
    bsl_writer_lock *l;
    int rc = bsl_writer_lock_acquire(&l, db, role, err, sizeof err);
    ssize_t w = write(p[1], err, strlen(err));
    (void)w;
    _exit(rc == 0 ? 0 : rc == BSL_WRITER_LOCK_HELD ? 2 : 1);
  }
  close(p[1]);
  ssize_t n = read(p[0], msg, len - 1);
  msg[n > 0 ? n : 0] = '\0';
  close(p[0]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  switch (WEXITSTATUS(status)) {
  case 0:
    return 0;
  case 2:
    return BSL_WRITER_LOCK_HELD;
  default:
    return -1;
  }
}

/* A child that takes the lock as ROLE, says so on the returned pipe end
 * (*ready), and holds it until killed. */
static pid_t holder_child(const char *db, const char *role) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    die_with_parent();
    close(p[0]);
    char err[1024];
    bsl_writer_lock *l;
    char ok = bsl_writer_lock_acquire(&l, db, role, err, sizeof err) == 0;
    ssize_t w = write(p[1], &ok, 1);
    (void)w;
    for (;;)
      pause();
  }
  close(p[1]);
  char ok = 0;
  assert_int_equal(read(p[0], &ok, 1), 1);
  close(p[0]);
  assert_true(ok);
  return pid;
}

static void kill_child(pid_t pid) {
  kill(pid, SIGKILL);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_refused_to_another_process(void **state) {
  (void)state;
  const char *db = db_path("a.db");
  char err[1024], msg[1024], want[64];
  bsl_writer_lock *l;
  assert_int_equal(bsl_writer_lock_acquire(&l, db, "ingest", err, sizeof err),
                   0);
  assert_non_null(l);
  /* the holder's name, for whoever is refused */
  char lock_file[600];
  snprintf(lock_file, sizeof lock_file, "%s.lock", db);
  assert_string_equal(bsl_writer_lock_path(l), lock_file);
  char first[64];
  snprintf(first, sizeof first, "%ld ingest\n", (long)getpid());
  assert_true(strncmp(read_all(lock_file), first, strlen(first)) == 0);

  assert_int_equal(acquire_in_child(db, "run", msg, sizeof msg),
                   BSL_WRITER_LOCK_HELD);
  snprintf(want, sizeof want, "is being written by pid %ld (", (long)getpid());
  assert_non_null(strstr(msg, db));
  assert_non_null(strstr(msg, want));
  assert_non_null(strstr(msg, "test_writer_lock"));     /* its command line */
  assert_non_null(strstr(msg, "once it has finished")); /* an ingest ends */
  assert_null(strchr(msg, '\n'));

  bsl_writer_lock_release(l);
  assert_int_equal(acquire_in_child(db, "run", msg, sizeof msg), 0);
  /* not deleted: see writer_lock.h */
  assert_int_equal(access(lock_file, F_OK), 0);
}

static void test_child_holder_then_sigkill(void **state) {
  (void)state;
  const char *db = db_path("b.db");
  char err[1024], want[128];
  pid_t child = holder_child(db, "run");
  bsl_writer_lock *l = NULL;
  assert_int_equal(bsl_writer_lock_acquire(&l, db, "ingest", err, sizeof err),
                   BSL_WRITER_LOCK_HELD);
  assert_null(l);
  snprintf(want, sizeof want, "pid %ld (", (long)child);
  assert_non_null(strstr(err, want));
  /* a daemon can read the files itself: say how */
  snprintf(want, sizeof want,
           "add them to a [source] of that daemon's "
           "configuration and reload it (kill -HUP %ld)",
           (long)child);
  assert_non_null(strstr(err, want));

  kill_child(child); /* no stale lock: the kernel dropped it */
  assert_int_equal(bsl_writer_lock_acquire(&l, db, "ingest", err, sizeof err),
                   0);
  assert_non_null(l);
  bsl_writer_lock_release(l);
}

static void test_fork_without_exec_does_not_keep_it(void **state) {
  (void)state;
  const char *db = db_path("c.db");
  char err[1024], msg[1024];
  bsl_writer_lock *l;
  assert_int_equal(bsl_writer_lock_acquire(&l, db, "run", err, sizeof err), 0);
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t child = fork(); /* like alert.c's supervisor */
  assert_true(child >= 0);
  if (child == 0) {
    die_with_parent();
    /* fork() has returned here, so the atfork handler has run */
    if (write(ready[1], "x", 1) != 1)
      _exit(1);
    for (;;)
      pause();
  }
  char byte;
  assert_int_equal(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  close(ready[1]);
  bsl_writer_lock_release(l);
  /* the child lives on, yet the store is free */
  assert_int_equal(acquire_in_child(db, "ingest", msg, sizeof msg), 0);
  kill_child(child);
}

static void test_same_store_other_spellings(void **state) {
  (void)state;
  const char *db = db_path("d.db");
  char err[1024], msg[1024];
  bsl_writer_lock *l;
  assert_int_equal(bsl_writer_lock_acquire(&l, db, "run", err, sizeof err), 0);
  char dotted[600], link[600], rel[600], cwd[600];
  snprintf(dotted, sizeof dotted, "%s/./sub/../d.db", tmpdir);
  assert_int_equal(mkdir(db_path("sub"), 0755), 0);
  snprintf(link, sizeof link, "%s/link.db", tmpdir);
  write_file(db, "", 0, "wb"); /* the database exists: links resolve */
  assert_int_equal(symlink(db, link), 0);
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(tmpdir), 0);
  snprintf(rel, sizeof rel, "d.db");

  assert_true(bsl_writer_lock_covers(l, db));
  assert_true(bsl_writer_lock_covers(l, dotted));
  assert_true(bsl_writer_lock_covers(l, link));
  assert_true(bsl_writer_lock_covers(l, rel));
  assert_false(bsl_writer_lock_covers(l, db_path("other.db")));
  assert_false(bsl_writer_lock_covers(NULL, db));
  assert_false(bsl_writer_lock_covers(l, ":memory:"));
  assert_int_equal(acquire_in_child(dotted, "run", msg, sizeof msg),
                   BSL_WRITER_LOCK_HELD);
  assert_int_equal(acquire_in_child(link, "run", msg, sizeof msg),
                   BSL_WRITER_LOCK_HELD);
  assert_int_equal(acquire_in_child(rel, "run", msg, sizeof msg),
                   BSL_WRITER_LOCK_HELD);
  /* another database is another store */
  assert_int_equal(acquire_in_child("other.db", "run", msg, sizeof msg), 0);
  /* in this process too a second lock on it is refused: a reload must
   * keep the one it has (bsl_writer_lock_covers) */
  bsl_writer_lock *again = NULL;
  assert_int_equal(bsl_writer_lock_acquire(&again, rel, "run", err, sizeof err),
                   BSL_WRITER_LOCK_HELD);
  assert_null(again);
  assert_int_equal(chdir(cwd), 0);
  /* a lock file deleted and made anew is not the one held */
  char lock_file[600];
  snprintf(lock_file, sizeof lock_file, "%s.lock", db);
  assert_int_equal(unlink(lock_file), 0);
  assert_false(bsl_writer_lock_covers(l, db));
  bsl_writer_lock *fresh = NULL;
  assert_int_equal(bsl_writer_lock_acquire(&fresh, db, "run", err, sizeof err),
                   0);
  assert_true(bsl_writer_lock_covers(fresh, db));
  bsl_writer_lock_release(fresh);
  bsl_writer_lock_release(l);
  unlink(link);
  rmdir(db_path("sub"));
}

static void test_unnamed_holder(void **state) {
  (void)state;
  /* a holder that locked the file but wrote no name (say, disk full) */
  const char *db = db_path("e.db");
  char lock_file[600];
  snprintf(lock_file, sizeof lock_file, "%s.lock", db);
  int fd = open(lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  assert_true(fd >= 0);
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    die_with_parent();
    close(p[0]);
    int cfd = open(lock_file, O_RDWR);
    char ok = cfd >= 0 && flock(cfd, LOCK_EX) == 0;
    ssize_t w = write(p[1], &ok, 1);
    (void)w;
    for (;;)
      pause();
  }
  close(p[1]);
  char ok = 0;
  assert_int_equal(read(p[0], &ok, 1), 1);
  assert_true(ok);
  close(p[0]);
  close(fd);
  char err[1024];
  bsl_writer_lock *l = NULL;
  assert_int_equal(bsl_writer_lock_acquire(&l, db, "run", err, sizeof err),
                   BSL_WRITER_LOCK_HELD);
  assert_non_null(strstr(err, "is being written by another process"));
  assert_non_null(strstr(err, lock_file));
  kill_child(child);
  assert_int_equal(bsl_writer_lock_acquire(&l, db, "run", err, sizeof err), 0);
  bsl_writer_lock_release(l);
}

static void test_private_databases(void **state) {
  (void)state;
  char err[256];
  bsl_writer_lock *l = (bsl_writer_lock *)&err; /* must be reset */
  assert_int_equal(
      bsl_writer_lock_acquire(&l, ":memory:", "ingest", err, sizeof err), 0);
  assert_null(l);
  assert_int_equal(bsl_writer_lock_acquire(&l, "", "ingest", err, sizeof err),
                   0);
  assert_null(l);
  assert_true(bsl_writer_lock_covers(NULL, ":memory:"));
  assert_int_equal(access(":memory:.lock", F_OK), -1);
  bsl_writer_lock_release(NULL);
}

static void test_errors(void **state) {
  (void)state;
  char err[1024];
  bsl_writer_lock *l;
  char missing[600];
  snprintf(missing, sizeof missing, "%s/no/such/dir/x.db", tmpdir);
  assert_int_equal(bsl_writer_lock_acquire(&l, missing, "run", err, sizeof err),
                   -1);
  assert_null(l);
  assert_non_null(strstr(err, missing));
  assert_non_null(strstr(err, "directory"));

  char not_dir[600];
  snprintf(not_dir, sizeof not_dir, "%s/x.db", plain_file("x", 1));
  assert_int_equal(bsl_writer_lock_acquire(&l, not_dir, "run", err, sizeof err),
                   -1);
  assert_non_null(strstr(err, not_dir));

  assert_int_equal(
      bsl_writer_lock_acquire(&l, "file:x.db?mode=rwc", "run", err, sizeof err),
      -1);
  assert_non_null(strstr(err, "URI"));

  /* a directory where the lock cannot be created: permissions apply to
   * anyone but root; as root, /proc refuses new files */
  char ro[600];
  if (geteuid() != 0) {
    snprintf(ro, sizeof ro, "%s/ro", tmpdir);
    assert_int_equal(mkdir(ro, 0555), 0);
    snprintf(ro, sizeof ro, "%s/ro/x.db", tmpdir);
  } else {
    snprintf(ro, sizeof ro, "/proc/x.db");
  }
  assert_int_equal(bsl_writer_lock_acquire(&l, ro, "run", err, sizeof err), -1);
  char lock_file[640];
  snprintf(lock_file, sizeof lock_file, "%s.lock", ro);
  assert_non_null(strstr(err, lock_file));
  assert_non_null(strstr(err, "write access to the database's directory"));
  if (geteuid() != 0)
    rmdir(db_path("ro"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refused_to_another_process),
      cmocka_unit_test(test_child_holder_then_sigkill),
      cmocka_unit_test(test_fork_without_exec_does_not_keep_it),
      cmocka_unit_test(test_same_store_other_spellings),
      cmocka_unit_test(test_unnamed_holder),
      cmocka_unit_test(test_private_databases),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
