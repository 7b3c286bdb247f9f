/*
 * One writer per store (SPEC §7): the commands that write a database
 * (`ingest`, `run`) hold an exclusive lock on it for as long as they may
 * write, so a second writer is refused at once with a message naming the
 * holder instead of counting the same lines twice.  Readers (kpi, report,
 * adjust, sqlite3) never take it: SQLite's own locking serialises their
 * short transactions, and WAL keeps them from blocking the writer.
 *
 * The lock is flock(2) on "<database's real path>.lock", a file beside the
 * database that holds "PID ROLE\nCOMMAND LINE\n" of the holder.  The kernel
 * drops the lock when the holder dies, even by SIGKILL, so a lock is never
 * stale; the file itself is left in place (like the database's -wal and -shm
 * files): deleting it would let a newcomer lock a fresh inode while the
 * holder still locks the unlinked one (a file deleted by hand under a
 * running daemon is taken again at its next reload).
 *
 * A lock is owned by the caller of bsl_writer_lock_acquire() and freed by
 * bsl_writer_lock_release().  A process that forks without exec (the alert
 * supervisor) does not keep the lock in its child: children close the
 * descriptor at fork.
 */
#ifndef BSL_WRITER_LOCK_H
#define BSL_WRITER_LOCK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bsl_writer_lock bsl_writer_lock;

/* bsl_writer_lock_acquire(): another process writes the database. */
#define BSL_WRITER_LOCK_HELD (-2)

/*
 * Takes the writer lock of the database at DB_PATH (as given to SQLite,
 * relative to the working directory) for a command ROLE ("run", "ingest"),
 * without waiting.  Returns 0 with *out set - NULL when no lock is needed:
 * for a database no other process can open (":memory:", "": SQLite's
 * private temporary database), and for a process that may not write the
 * database nor its lock file (it cannot be a second writer; SQLite reports
 * the read-only database when it tries) - or BSL_WRITER_LOCK_HELD with a
 * one-line message in err naming the holder (pid and command line) and what to
 * do instead, or -1 with a one-line message naming the lock file (its directory
 * is not writable, a URI name was given, ...).  Another lock on the same
 * database in this process also counts as held: see bsl_writer_lock_covers().
 */
int bsl_writer_lock_acquire(bsl_writer_lock **out, const char *db_path,
                            const char *role, char *err, size_t errlen);

/*
 * bsl_writer_lock_acquire() as fleet instance HOST (NULL: the machine's
 * hostname).  For a PostgreSQL DB_PATH (SPEC §7, §9) the lock is HOST's
 * advisory lock in that database, held by a session of the lock's own; the
 * refusal names the holder's pid, command line and machine.  For a SQLite
 * file HOST is ignored.
 */
int bsl_writer_lock_acquire_host(bsl_writer_lock **out, const char *db_path,
                                 const char *host, const char *role, char *err,
                                 size_t errlen);
bool bsl_writer_lock_covers_host(const bsl_writer_lock *l, const char *db_path,
                                 const char *host);

/*
 * True when L (NULL: no lock held) is the lock a writer of DB_PATH needs
 * (the same lock file, by inode), so a daemon that reopens its store on
 * reload keeps the lock it has rather than refusing itself.
 */
bool bsl_writer_lock_covers(const bsl_writer_lock *l, const char *db_path);

/* The lock file's path (for logs). */
const char *bsl_writer_lock_path(const bsl_writer_lock *l);

/* Releases and frees L; NULL is a no-op. */
void bsl_writer_lock_release(bsl_writer_lock *l);

#endif
