/*
 * Live mode (`boussole run`): one libuv loop tails every configured source
 * through rotations, feeds the pipeline, and commits aggregates together with
 * read positions every flush_interval, so a SIGKILL at any instant loses and
 * duplicates nothing.  SIGTERM/SIGINT flush and stop; SIGHUP reloads the
 * configuration (a broken new file is logged and the old one keeps running).
 */
#ifndef BSL_LIVE_H
#define BSL_LIVE_H

#include <stddef.h>

typedef struct bsl_live_options {
  const char *config_path; /* NULL: built-in defaults (SIGHUP reloads them) */
  const char *db_path;     /* overrides the config's db when non-NULL */
} bsl_live_options;

/*
 * Runs until SIGTERM/SIGINT.  Returns 0 after a clean stop, or -1 with a
 * one-line message in err when it cannot start (configuration, database).
 */
int bsl_live_run(const bsl_live_options *opts, char *err, size_t errlen);

#endif
