/*
 * Tailing for `boussole run`: the files of every configured source with a
 * `path`, watched on a libuv loop through rotations, read in rotation order
 * and handed to the caller line by line.
 *
 * What only the caller knows - the store, where a file is known by its
 * content and its committed offset - comes through callbacks: the tail asks
 * whether and where to read a file it found (open), and whether what it
 * read from a file is committed before letting it go (committed).  The tail
 * decides which file is read next, in the order the model must see the
 * lines; the reading itself is done by the caller's reader thread (read,
 * then bsl_tail_read_done()), so the loop thread is free for the model, or
 * here, line by line to the line callback.
 *
 * A tail owns its handles (an idle handle that reads, the rescan timer, a
 * directory watch per directory), its readers and its bookkeeping; it
 * borrows the loop and the configuration, which must outlive it.  The
 * caller owns the per-file handles its open callback returns.
 */
#ifndef BSL_TAIL_H
#define BSL_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "reader.h"

typedef struct bsl_tail bsl_tail;

/* What the open callback tells about a file it accepts. */
typedef struct bsl_tail_ident {
  void *file; /* the caller's handle, given to the other callbacks */
  /* the identity the file is known by: its first FP_LEN decompressed
   * bytes hash to FINGERPRINT (bsl_reader_fingerprint()) */
  int fp_len;
  char fingerprint[BSL_FINGERPRINT_HEX + 1];
} bsl_tail_ident;

typedef struct bsl_tail_callbacks {
  void *ctx; /* the first argument of every callback */
  /* One event worth logging; LEVEL is "info", "warn" or "error". */
  void (*log)(void *ctx, const char *level, const char *msg);
  /*
   * PATH, a file of SRC, is opened as R, at its start.  Returns 0 when it
   * is to be read: R skipped to where reading resumes, *ID filled in; 1
   * when it is to be left alone until it changes (known, nothing new to
   * read: the callback logs why); -1 when it cannot be looked up now (err
   * set): it is tried again at every rescan and, being maybe older than
   * the files after it in its rotation set, holds them back.
   */
  int (*open)(void *ctx, const bsl_source_conf *src, const char *path,
              bsl_reader *r, bsl_tail_ident *id, char *err, size_t errlen);
  /*
   * Reads FILE on another thread: up to BUDGET lines of R, in order (one
   * read at a time).  The caller calls bsl_tail_read_done() once the read
   * ended; until then the tail does not touch R.  Returns 0, or -1 when the
   * caller can take no more: the tail then stops reading, as paused by
   * bsl_tail_pause(), until it is stopped.  NULL: the tail reads here and
   * hands each line to the line callback.
   */
  int (*read)(void *ctx, void *file, bsl_reader *r, size_t budget);
  /* Asks the read in flight to end soon (bsl_tail_pause()). */
  void (*stop_read)(void *ctx);
  /*
   * Without a read callback: the next line of FILE (LINE valid during the
   * call only).  Returns 0, or -1 as the read callback does.
   */
  int (*line)(void *ctx, void *file, const bsl_line *line);
  /* FILE is now at PATH (renamed): its row takes the new path. */
  void (*renamed)(void *ctx, void *file, const char *path);
  /* True when everything read from FILE is committed; *OFFSET is then
   * the committed offset. */
  bool (*committed)(void *ctx, void *file, uint64_t *offset);
  /*
   * The tail lets FILE go.  KEEP: a compressed file read to its end, left
   * alone from now on, but whose renames (.2.gz -> .3.gz) still come
   * through renamed() until forget() is called for it; else FILE is gone.
   */
  void (*release)(void *ctx, void *file, bool keep);
  void (*forget)(void *ctx, void *file);
} bsl_tail_callbacks;

/*
 * Starts tailing the sources of CFG on LOOP: watches their directories,
 * lists their files (calling open for each new one) and reads them from
 * the next loop turn on.  Returns 0, or a negative libuv code with err set.
 */
int bsl_tail_start(bsl_tail **out, uv_loop_t *loop, const bsl_config *cfg,
                   const bsl_tail_callbacks *cb, char *err, size_t errlen);

/*
 * The read started by the read callback ended: GOT is 1 when its budget was
 * spent or it was asked to stop, 0 at the end of input, -1 on a read error
 * (ERR, logged; the file is then read no more).
 */
void bsl_tail_read_done(bsl_tail *t, int got, const char *err);

/*
 * Stops: releases every file (release() with KEEP false) and forgets every
 * kept one, then closes the handles; no callback comes after it.  No read
 * may be in flight (the caller ended it, or stopped the thread reading).
 * T is freed once the loop has run the close callbacks.  NULL is a no-op.
 */
void bsl_tail_stop(bsl_tail *t);

/* Pauses reading (a commit failed: memory must not grow) or resumes it. */
void bsl_tail_pause(bsl_tail *t, bool paused);

/*
 * After a commit: lets go of every file that is finished (read to its end
 * and deleted or renamed away, a compressed file read to its end, a file
 * seen truncated) and whose lines committed() says are committed.
 */
void bsl_tail_release_committed(bsl_tail *t);

/*
 * Calls EACH for every file being read (the bytes after its last line
 * read) and every file found but not opened yet (all its bytes), in no
 * particular order; one path may come more than once.
 */
void bsl_tail_unread(const bsl_tail *t,
                     void (*each)(void *ctx, const char *path, uint64_t bytes),
                     void *ctx);

#endif
