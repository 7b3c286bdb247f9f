/*
 * Line framing over plain files, gzip streams and stdin (see reader.h).
 *
 * All input lands in one fixed read buffer, four times the line cap, and lines
 * are handed out as slices of it: the hot path is one memchr per line and a
 * large read() or inflate() per buffer, with no allocation and no copy.  When
 * no newline is left in the buffer, the partial line (at most BSL_LINE_MAX + 1
 * bytes, usually a few hundred) is moved to the front and the rest is refilled.
 * A line that passes the cap is reported at once with a short excerpt kept
 * aside, and its tail is skipped as far as the input goes, so its end offset
 * is exact whenever its newline is already there and memory never grows.
 *
 * Gzip is inflated member by member, by ISA-L's igzip when the build found it
 * (BSL_HAVE_ISAL: three times zlib's speed on x86-64, so a .gz reads
 * at the pace of a plain file) and by zlib otherwise; both check each
 * member's CRC-32 and length, and the rest below is the same.  Damage
 * - a stream cut short, corrupt deflate data, bytes after the last member that
 * are not another member - is not an error: the lines decoded before it are
 * returned, then one BSL_LINE_TRUNCATED line with the partial data and why,
 * so the caller counts a reject and moves on to its other inputs.
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef BSL_HAVE_ISAL
#include <isa-l/igzip_lib.h>
typedef struct inflate_state gz_stream;
#else
#include <zlib.h>
typedef z_stream gz_stream;
#endif

/* Large enough that refills are rare next to the lines they carry, and that
 * moving a maximal partial line to the front still leaves most of it free. */
#define BUF_CAP (256 * 1024)
#define ZIN_CAP (64 * 1024)
/* Excerpt of an over-long line kept for the reject sample. */
#define TOO_LONG_KEEP 1024

_Static_assert(BUF_CAP >= 2 * (BSL_LINE_MAX + 2), "buffer must hold 2 lines");
_Static_assert(BSL_FINGERPRINT_MAX <= BUF_CAP, "prefix must fit the buffer");
_Static_assert(TOO_LONG_KEEP >= 200 && TOO_LONG_KEEP <= BSL_LINE_MAX,
               "excerpt size");
_Static_assert(BSL_LINE_MAX == 65536, "update the too-long reason text");

static const char reason_too_long[] = "line longer than 65536 bytes";
static const char reason_truncated[] = "truncated gzip stream";
static const char reason_garbage[] = "trailing garbage after gzip data";

struct bsl_reader {
  int fd;
  bool is_stdin;
  bool regular;       /* fd is a regular file: seekable, has a size */
  bool gz;            /* inflating; zs is initialised */
  bool hold_partial;  /* plain regular file: an unterminated tail waits */
  bool eof;           /* no more input will ever come (never set for plain) */
  bool raw_eof;       /* gzip: read() returned 0 */
  bool member_end;    /* gzip: between members */
  bool skipping;      /* inside the tail of an over-long line */
  bool started;       /* bsl_reader_next() was called */
  const char *damage; /* reason for the pending TRUNCATED line, or NULL */
  char *path;         /* for messages */
  uint64_t raw_pos;
  /* Unconsumed data is buf[pos, lim); buf[pos] is at stream offset pos_off.
   * buf[pos, pos + scan) is known to hold no newline. */
  size_t pos, lim, scan;
  uint64_t pos_off;
  uint64_t offset; /* bsl_reader_offset() */
  size_t prefix_len;
  gz_stream zs;     /* next_in, avail_in: the same in both libraries */
  char reason[160]; /* "corrupt gzip data: ..." lives as long as the reader */
  unsigned char prefix[BSL_FINGERPRINT_MAX];
  char excerpt[TOO_LONG_KEEP];
  unsigned char zin[ZIN_CAP];
  char buf[BUF_CAP];
};

__attribute__((format(printf, 4, 5))) static void
set_err(char *err, size_t errlen, const char *path, const char *fmt, ...) {
  if (!err || errlen == 0)
    return;
  int n = snprintf(err, errlen, "%s: ", path);
  if (n < 0 || (size_t)n >= errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
  va_end(ap);
}

static ssize_t read_raw(bsl_reader *r, void *dst, size_t cap, char *err,
                        size_t errlen) {
  for (;;) {
    ssize_t n = read(r->fd, dst, cap);
    if (n >= 0) {
      r->raw_pos += (uint64_t)n;
      return n;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      /* stdin may have been left non-blocking by whoever shares it. */
      struct pollfd p = {.fd = r->fd, .events = POLLIN};
      if (poll(&p, 1, -1) >= 0 || errno == EINTR)
        continue;
    }
    int e = errno;
    set_err(err, errlen, r->path, "%s", strerror(e));
    return -e;
  }
}

/* What one step of inflating gave. */
enum gz_step {
  GZ_MORE,       /* went on, or waits for input or room */
  GZ_MEMBER_END, /* a member ended, its check and length verified */
  GZ_DAMAGE,     /* r->reason says why */
  GZ_NOMEM
};

#ifdef BSL_HAVE_ISAL
static int gz_begin(bsl_reader *r) {
  isal_inflate_init(&r->zs);
  r->zs.crc_flag = ISAL_GZIP; /* header parsed, CRC-32 and length checked */
  return 0;
}

static void gz_next_member(bsl_reader *r) {
  isal_inflate_reset(&r->zs);
  r->zs.crc_flag = ISAL_GZIP;
}

static void gz_end(bsl_reader *r) {
  (void)r;
}

/* zlib's words for the same damage, so messages do not depend on the build */
static const char *gz_damage(int ret) {
  switch (ret) {
  case ISAL_INVALID_BLOCK:
    return "invalid block";
  case ISAL_INVALID_SYMBOL:
    return "invalid code";
  case ISAL_INVALID_LOOKBACK:
    return "invalid distance too far back";
  case ISAL_INVALID_WRAPPER:
    return "incorrect header check";
  case ISAL_UNSUPPORTED_METHOD:
    return "unknown compression method";
  case ISAL_INCORRECT_CHECKSUM:
    return "incorrect data check";
  case ISAL_NEED_DICT:
    return "need dictionary";
  default:
    return "unknown error";
  }
}

static enum gz_step gz_inflate(bsl_reader *r, char *out, size_t room,
                               size_t *got) {
  r->zs.next_out = (uint8_t *)out;
  r->zs.avail_out = (uint32_t)room;
  int ret = isal_inflate(&r->zs);
  *got = room - r->zs.avail_out;
  if (ret != ISAL_DECOMP_OK) {
    snprintf(r->reason, sizeof r->reason, "corrupt gzip data: %s",
             gz_damage(ret));
    return GZ_DAMAGE;
  }
  return r->zs.block_state == ISAL_BLOCK_FINISH ? GZ_MEMBER_END : GZ_MORE;
}
#else
static int gz_begin(bsl_reader *r) {
  /* 15 + 32: any window, gzip header detected (it was: 1f 8b) */
  return inflateInit2(&r->zs, 15 + 32) == Z_OK ? 0 : -1;
}

static void gz_next_member(bsl_reader *r) {
  inflateReset(&r->zs);
}

static void gz_end(bsl_reader *r) {
  inflateEnd(&r->zs);
}

static enum gz_step gz_inflate(bsl_reader *r, char *out, size_t room,
                               size_t *got) {
  r->zs.next_out = (Bytef *)out;
  r->zs.avail_out = (uInt)room;
  int ret = inflate(&r->zs, Z_NO_FLUSH);
  *got = room - r->zs.avail_out;
  switch (ret) {
  case Z_STREAM_END:
    return GZ_MEMBER_END;
  case Z_OK:
  case Z_BUF_ERROR:
    return GZ_MORE;
  case Z_MEM_ERROR:
    return GZ_NOMEM;
  default:
    snprintf(r->reason, sizeof r->reason, "corrupt gzip data: %s",
             r->zs.msg ? r->zs.msg : "unknown error");
    return GZ_DAMAGE;
  }
}
#endif

/* Tops up zin, keeping its unconsumed bytes. */
static int refill_zin(bsl_reader *r, char *err, size_t errlen) {
  gz_stream *zs = &r->zs;
  if (zs->avail_in > 0 && zs->next_in != r->zin)
    memmove(r->zin, zs->next_in, zs->avail_in);
  zs->next_in = r->zin;
  ssize_t n =
      read_raw(r, r->zin + zs->avail_in, ZIN_CAP - zs->avail_in, err, errlen);
  if (n < 0)
    return (int)n;
  if (n == 0)
    r->raw_eof = true;
  zs->avail_in += (uint32_t)n;
  return 0;
}

/* Inflates into buf[lim, BUF_CAP).  Damage ends the stream with r->damage. */
static int fill_gzip(bsl_reader *r, char *err, size_t errlen) {
  gz_stream *zs = &r->zs;
  while (!r->eof) {
    if ((zs->avail_in == 0 || (r->member_end && zs->avail_in < 2)) &&
        !r->raw_eof) {
      int rc = refill_zin(r, err, errlen);
      if (rc < 0)
        return rc;
      continue;
    }
    if (r->member_end) {
      if (zs->avail_in == 0) {
        r->eof = true;
        break;
      }
      if (zs->avail_in < 2 || zs->next_in[0] != 0x1f ||
          zs->next_in[1] != 0x8b) {
        r->damage = reason_garbage;
        r->eof = true;
        break;
      }
      gz_next_member(r);
      r->member_end = false;
    }
    uint32_t in_before = zs->avail_in;
    size_t got;
    enum gz_step step = gz_inflate(r, r->buf + r->lim, BUF_CAP - r->lim, &got);
    r->lim += got;
    switch (step) {
    case GZ_MEMBER_END:
      r->member_end = true;
      break;
    case GZ_MORE:
      /* No output with all input used up means the inflater wants bytes
       * that will never come; no progress at all with input left cannot
       * happen with room in buf, but must not spin if it does. */
      if (got == 0 && zs->avail_in == 0 && r->raw_eof) {
        r->damage = reason_truncated;
        r->eof = true;
      } else if (got == 0 && zs->avail_in > 0 && zs->avail_in == in_before) {
        snprintf(r->reason, sizeof r->reason,
                 "corrupt gzip data: inflate made no progress");
        r->damage = r->reason;
        r->eof = true;
      }
      break;
    case GZ_NOMEM:
      set_err(err, errlen, r->path, "%s", strerror(ENOMEM));
      return -ENOMEM;
    case GZ_DAMAGE:
      r->damage = r->reason;
      r->eof = true;
      break;
    }
    if (got > 0)
      return 1;
  }
  return 0;
}

/*
 * Moves the unconsumed bytes to the front and reads more after them.  Returns
 * 1 when bytes were added, 0 when none are available (for now, in a plain
 * file), negative on an I/O error.
 */
static int fill(bsl_reader *r, char *err, size_t errlen) {
  if (r->pos > 0) {
    size_t n = r->lim - r->pos;
    memmove(r->buf, r->buf + r->pos, n);
    r->lim = n;
    r->pos = 0;
  }
  if (r->gz)
    return fill_gzip(r, err, errlen);
  if (r->eof)
    return 0;
  ssize_t n = read_raw(r, r->buf + r->lim, BUF_CAP - r->lim, err, errlen);
  if (n < 0)
    return (int)n;
  if (n == 0) {
    /* A plain file may grow; retry on the next call. */
    if (!r->hold_partial)
      r->eof = true;
    return 0;
  }
  r->lim += (size_t)n;
  return 1;
}

/* Discards input through the next newline, or as far as input goes. */
static int skip_tail(bsl_reader *r, char *err, size_t errlen) {
  for (;;) {
    char *start = r->buf + r->pos;
    size_t avail = r->lim - r->pos;
    char *nl = memchr(start, '\n', avail);
    if (nl) {
      size_t n = (size_t)(nl - start) + 1;
      r->pos += n;
      r->pos_off += n;
      r->scan = 0;
      r->skipping = false;
      r->offset = r->pos_off;
      return 0;
    }
    r->pos_off += avail;
    r->pos = r->lim;
    int rc = fill(r, err, errlen);
    if (rc <= 0)
      return rc;
  }
}

static void set_too_long(bsl_line *line) {
  line->kind = BSL_LINE_TOO_LONG;
  line->reason = reason_too_long;
  if (line->len > TOO_LONG_KEEP)
    line->len = TOO_LONG_KEEP;
}

/* Reports the over-long line at buf[pos, lim) (no newline in it yet). */
static int start_too_long(bsl_reader *r, bsl_line *line, char *err,
                          size_t errlen) {
  size_t avail = r->lim - r->pos;
  memcpy(r->excerpt, r->buf + r->pos, TOO_LONG_KEEP);
  line->ptr = r->excerpt;
  line->len = TOO_LONG_KEEP;
  line->offset = r->pos_off;
  line->kind = BSL_LINE_TOO_LONG;
  line->reason = reason_too_long;
  r->pos_off += avail;
  r->pos = r->lim;
  r->scan = 0;
  r->skipping = true;
  int rc = skip_tail(r, err, errlen);
  if (rc < 0)
    return rc;
  line->end = r->pos_off;
  r->offset = r->pos_off;
  return 1;
}

static void close_fd(bsl_reader *r) {
  if (!r->is_stdin && r->fd >= 0)
    close(r->fd);
  r->fd = -1;
}

int bsl_reader_open(bsl_reader **out, const char *path, char *err,
                    size_t errlen) {
  *out = NULL;
  int rc;
  if (sodium_init() < 0) {
    set_err(err, errlen, path, "cannot initialise libsodium");
    return -EIO;
  }
  bsl_reader *r = calloc(1, sizeof *r);
  if (!r) {
    set_err(err, errlen, path, "%s", strerror(ENOMEM));
    return -ENOMEM;
  }
  r->is_stdin = strcmp(path, "-") == 0;
  r->path = strdup(r->is_stdin ? "stdin" : path);
  if (!r->path) {
    set_err(err, errlen, path, "%s", strerror(ENOMEM));
    rc = -ENOMEM;
    goto out_free_reader;
  }
  r->fd = r->is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  if (r->fd < 0) {
    rc = -errno;
    set_err(err, errlen, r->path, "%s", strerror(-rc));
    goto out_free_path;
  }
  struct stat st;
  if (fstat(r->fd, &st) != 0) {
    rc = -errno;
    set_err(err, errlen, r->path, "%s", strerror(-rc));
    goto out_close;
  }
  if (S_ISDIR(st.st_mode)) {
    rc = -EISDIR;
    set_err(err, errlen, r->path, "%s", strerror(EISDIR));
    goto out_close;
  }
  r->regular = S_ISREG(st.st_mode);
  if (r->regular && !r->is_stdin)
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  r->hold_partial = r->regular && !r->is_stdin;

  /* Sniff the magic in zin (a pipe cannot be peeked), then hand what was read
   * to zlib, or to the line buffer if it is not gzip. */
  size_t got = 0;
  while (got < 2) {
    ssize_t n = read_raw(r, r->zin + got, ZIN_CAP - got, err, errlen);
    if (n < 0) {
      rc = (int)n;
      goto out_close;
    }
    if (n == 0) {
      r->raw_eof = true;
      break;
    }
    got += (size_t)n;
  }
  if (got >= 2 && r->zin[0] == 0x1f && r->zin[1] == 0x8b) {
    if (gz_begin(r) != 0) {
      set_err(err, errlen, r->path, "cannot initialise zlib");
      rc = -ENOMEM;
      goto out_close;
    }
    r->zs.next_in = r->zin;
    r->zs.avail_in = (uint32_t)got;
    r->gz = true;
    r->hold_partial = false;
  } else {
    memcpy(r->buf, r->zin, got);
    r->lim = got;
    r->eof = r->raw_eof && !r->hold_partial;
  }

  while (r->lim < BSL_FINGERPRINT_MAX) {
    rc = fill(r, err, errlen);
    if (rc < 0)
      goto out_inflate_end;
    if (rc == 0)
      break;
  }
  r->prefix_len = r->lim < BSL_FINGERPRINT_MAX ? r->lim : BSL_FINGERPRINT_MAX;
  memcpy(r->prefix, r->buf, r->prefix_len);
  *out = r;
  return 0;

out_inflate_end:
  if (r->gz)
    gz_end(r);
out_close:
  close_fd(r);
out_free_path:
  free(r->path);
out_free_reader:
  free(r);
  return rc;
}

void bsl_reader_close(bsl_reader *r) {
  if (!r)
    return;
  if (r->gz)
    gz_end(r);
  close_fd(r);
  free(r->path);
  free(r);
}

bool bsl_reader_is_gzip(const bsl_reader *r) {
  return r->gz;
}

uint64_t bsl_reader_raw_position(const bsl_reader *r) {
  return r->raw_pos;
}

size_t bsl_reader_prefix_len(const bsl_reader *r) {
  return r->prefix_len;
}

void bsl_reader_fingerprint(const bsl_reader *r, size_t len,
                            char hex[BSL_FINGERPRINT_HEX + 1]) {
  unsigned char h[BSL_FINGERPRINT_HEX / 2];
  if (len > r->prefix_len)
    len = r->prefix_len;
  crypto_generichash(h, sizeof h, r->prefix, len, NULL, 0);
  sodium_bin2hex(hex, BSL_FINGERPRINT_HEX + 1, h, sizeof h);
}

/*
 * A plain file's read position is always just after a newline, except where
 * an earlier reader stopped inside the unterminated tail of an over-long line
 * (already counted as one reject).  PREV is the byte before the position:
 * when it is not a newline, the rest of that line is skipped, not read as a
 * line of its own.
 */
static void resume_mid_line(bsl_reader *r, char prev) {
  if (r->hold_partial && prev != '\n')
    r->skipping = true;
}

int bsl_reader_skip_to(bsl_reader *r, uint64_t offset, char *err,
                       size_t errlen) {
  if (r->started || offset < r->pos_off) {
    set_err(err, errlen, r->path,
            "cannot skip to offset %" PRIu64 " after reading", offset);
    return -EINVAL;
  }
  if (!r->gz && r->regular && !r->is_stdin &&
      offset > r->pos_off + (r->lim - r->pos)) {
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
      int e = errno;
      set_err(err, errlen, r->path, "%s", strerror(e));
      return -e;
    }
    if ((uint64_t)st.st_size < offset) {
      set_err(err, errlen, r->path,
              "stream ends at %" PRIu64 ", before offset %" PRIu64,
              (uint64_t)st.st_size, offset);
      return -ENODATA;
    }
    char prev = '\n';
    ssize_t got = offset > 0 ? pread(r->fd, &prev, 1, (off_t)offset - 1) : 1;
    if (got != 1) {
      int e = got < 0 ? errno : EIO;
      set_err(err, errlen, r->path, "%s", strerror(e));
      return -e;
    }
    if (lseek(r->fd, (off_t)offset, SEEK_SET) < 0) {
      int e = errno;
      set_err(err, errlen, r->path, "%s", strerror(e));
      return -e;
    }
    r->pos = r->lim = r->scan = 0;
    r->pos_off = r->offset = r->raw_pos = offset;
    resume_mid_line(r, prev);
    return 0;
  }
  while (offset > r->pos_off + (r->lim - r->pos)) {
    r->pos_off += r->lim - r->pos;
    r->pos = r->lim;
    int rc = fill(r, err, errlen);
    if (rc < 0)
      return rc;
    if (rc == 0) {
      set_err(err, errlen, r->path,
              "stream ends at %" PRIu64 ", before offset %" PRIu64,
              r->pos_off + (r->lim - r->pos), offset);
      return -ENODATA;
    }
  }
  r->pos += (size_t)(offset - r->pos_off);
  r->pos_off = r->offset = offset;
  r->scan = 0;
  if (offset > 0 && r->pos > 0)
    resume_mid_line(r, r->buf[r->pos - 1]);
  return 0;
}

int bsl_reader_next(bsl_reader *r, bsl_line *line, char *err, size_t errlen) {
  r->started = true;
  if (r->skipping) {
    int rc = skip_tail(r, err, errlen);
    if (rc < 0)
      return rc;
    if (r->skipping) {
      if (r->hold_partial)
        return 0;
      r->skipping = false; /* the input ended inside the over-long line */
    }
  }
  for (;;) {
    char *start = r->buf + r->pos;
    size_t avail = r->lim - r->pos;
    char *nl = memchr(start + r->scan, '\n', avail - r->scan);
    if (nl) {
      size_t len = (size_t)(nl - start);
      line->ptr = start;
      line->offset = r->pos_off;
      line->end = r->pos_off + len + 1;
      if (len > 0 && start[len - 1] == '\r')
        len--;
      line->len = len;
      line->kind = BSL_LINE_OK;
      line->reason = NULL;
      if (len > BSL_LINE_MAX)
        set_too_long(line);
      r->pos = (size_t)(nl - r->buf) + 1;
      r->pos_off = r->offset = line->end;
      r->scan = 0;
      return 1;
    }
    r->scan = avail;
    /* Even if the last byte is a CR, the line is already over the cap. */
    if (avail >= BSL_LINE_MAX + 2)
      return start_too_long(r, line, err, errlen);
    int rc = fill(r, err, errlen);
    if (rc > 0)
      continue;
    if (rc < 0)
      return rc;
    if (r->hold_partial || (avail == 0 && !r->damage))
      return 0;

    /* End of a gzip stream or of stdin: what is left is the last line. */
    start = r->buf + r->pos;
    line->ptr = start;
    line->len = avail;
    line->offset = r->pos_off;
    line->end = r->pos_off + avail;
    r->pos = r->lim;
    r->pos_off = r->offset = line->end;
    r->scan = 0;
    if (r->damage) {
      line->kind = BSL_LINE_TRUNCATED;
      line->reason = r->damage;
      r->damage = NULL;
      return 1;
    }
    if (line->len > 0 && start[line->len - 1] == '\r')
      line->len--;
    line->kind = BSL_LINE_OK;
    line->reason = NULL;
    if (line->len > BSL_LINE_MAX)
      set_too_long(line);
    return 1;
  }
}

uint64_t bsl_reader_pending(const bsl_reader *r) {
  return r->hold_partial && !r->skipping ? r->lim - r->pos : 0;
}

uint64_t bsl_reader_offset(const bsl_reader *r) {
  return r->offset;
}

int bsl_reader_fd(const bsl_reader *r) {
  return r->fd;
}
