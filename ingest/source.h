/*
 * The files of a configured source on disk, and their rotation order.
 *
 * A source's `path` (a glob or a plain name) names its live files; their
 * rotated generations belong to the source too, whether or not the path has
 * a glob: access.log.1, access.log.2.gz, and logrotate's dateext names
 * (access.log-20261203, access.log-20261203.gz, any "-", "_" or "." followed
 * by a date of at least 8 digits).  The files of one live file - the live
 * file and its generations - form a rotation set, named by the live file's
 * path; within a set the generations are ordered oldest first: the highest
 * .N, then dated names by date, then the live file.  `ingest` and `run` both
 * read a set in that order so visits continue across it.
 */
#ifndef BSL_SOURCE_H
#define BSL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Where a file stands in its rotation set. */
typedef enum bsl_generation_kind {
  BSL_GEN_LIVE = 0, /* no rotation suffix */
  BSL_GEN_DATED,    /* a dateext suffix */
  BSL_GEN_NUMBERED  /* .N */
} bsl_generation_kind;

typedef struct bsl_generation {
  bsl_generation_kind kind;
  long number;   /* BSL_GEN_NUMBERED: N */
  char date[24]; /* BSL_GEN_DATED: the suffix's digits, at most 23 */
  bool gz;       /* the name ends in .gz */
} bsl_generation;

/*
 * Splits PATH into the length of its rotation set's name (PATH without its
 * rotation suffix and .gz: *BASE_LEN, equal to strlen(PATH) for a live file)
 * and its generation.
 */
void bsl_generation_parse(const char *path, size_t *base_len,
                          bsl_generation *gen);

/*
 * Orders two generations of one rotation set: negative when A is older than
 * B (is to be read first), positive when newer, 0 when they rank alike.
 */
int bsl_generation_cmp(const bsl_generation *a, const bsl_generation *b);

/*
 * True when PATH belongs to a source whose path is PATTERN: PATH matches
 * PATTERN, or PATH is a rotated generation of a name that does.
 */
bool bsl_source_matches(const char *pattern, const char *path);

/*
 * The rotation set of PATH (which bsl_source_matches(PATTERN, PATH)) for a
 * source whose path is PATTERN, or, with PATTERN NULL, for a file named on
 * its own.  Writes the set's name to SET (CAP bytes, truncated if need be)
 * and PATH's generation to *GEN.  A PATTERN without glob characters names
 * a live file: PATH equal to it is that live file even if its name looks
 * rotated (a path of /logs/app.2026 is a live file, not generation 2026 of
 * /logs/app).  Otherwise the set comes from PATH's name (with a path of
 * /logs/access.log.*, access.log.1 and access.log.2.gz are one set).
 */
void bsl_source_set_of(const char *pattern, const char *path, char *set,
                       size_t cap, bsl_generation *gen);

/* True when A and B fall in the same rotation set (see bsl_source_set_of). */
bool bsl_source_same_set(const char *pattern, const char *a, const char *b);

/* One file of a source, as listed by bsl_source_list(). */
typedef struct bsl_source_file {
  char *path;
  char *set; /* name of its rotation set */
  bsl_generation gen;
  struct stat st; /* as listed */
  /* its name was listed but was gone by the time it was looked at (st is
   * zeroed): renamed (logrotate's .1 -> .2) or deleted meanwhile */
  bool vanished;
} bsl_source_file;

/*
 * Lists the existing regular files of a source whose path is PATTERN, its
 * rotated generations included: grouped by rotation set (sets in the order
 * of their first name), oldest first within a set; a name gone between the
 * directory listing and its stat() is there too, marked vanished (it may
 * hold older lines than the names after it).  Returns 0 with the list
 * in *OUT (N entries, NULL when none; the caller frees it with
 * bsl_source_list_free()), or -1 when out of memory or the pattern cannot
 * be expanded (a read error on the directory).
 */
int bsl_source_list(const char *pattern, bsl_source_file **out, size_t *n);

/* Frees a list from bsl_source_list(); NULL is a no-op. */
void bsl_source_list_free(bsl_source_file *files, size_t n);

#endif
