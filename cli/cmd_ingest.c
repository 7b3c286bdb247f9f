/*
 * `boussole ingest`: batch reading.  Reads each FILE once (or, with no FILE,
 * every configured source) through analyze/run/batch.c and prints the
 * one-line summary.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "batch.h"
#include "campaign.h"
#include "commands.h"
#include "config.h"
#include "format.h"

/* the default in the help comes from the one constant */
#define BSL_STR_(x) #x
#define BSL_STR(x) BSL_STR_(x)

struct ingest_args {
  const char *config, *db, *format, *site;
  bool no_progress, quiet;
  uint64_t flush_lines;
};

static int run_ingest(const void *args, int argc, char **argv) {
  const struct ingest_args *a = args;
  bsl_batch_options bo = {.db_path = a->db,
                          .format = a->format,
                          .site = a->site,
                          .progress = !a->no_progress && isatty(STDERR_FILENO),
                          .flush_lines = a->flush_lines};
  bsl_config *cfg;
  char err[BSL_CLI_ERR_MAX];
  if (bsl_config_load(&cfg, a->config, err, sizeof err) != 0) {
    bsl_cli_error("boussole", err);
    return BSL_EXIT_ERROR;
  }
  if (bo.format && !bsl_config_find_format(cfg, bo.format) &&
      !bsl_format_is_builtin(bo.format) &&
      !bsl_campaign_is_builtin(bo.format)) {
    fprintf(stderr,
            "boussole ingest: --format: unknown format '%s' (built in: "
            "combined, common, vcombined, campaign-csv, sendgrid-json, "
            "mailgun-json; or a [format] of the config)\n",
            bo.format);
    bsl_config_destroy(cfg);
    return BSL_EXIT_ERROR;
  }
  bsl_batch_stats st;
  err[0] = '\0';
  int rc = bsl_batch_ingest(cfg, &bo, (const char *const *)argv, (size_t)argc,
                            &st, err, sizeof err);
  bsl_config_destroy(cfg);
  if (rc < 0)
    fprintf(stderr, "boussole: %s\n", err);
  if (!a->quiet) {
    double rate = st.seconds > 0 ? (double)st.lines / st.seconds : 0;
    /* lines and hits count what was read; after a failed commit part of
     * it is not in the database, and the line must not suggest it is */
    printf("boussole: %s%llu file%s read, %llu unchanged, %llu failed: "
           "%llu lines, %llu hits, %llu rejects in %.2f s (%.0f lines/s)%s\n",
           st.interrupted ? "interrupted, progress saved; " : "",
           (unsigned long long)st.files, st.files == 1 ? "" : "s",
           (unsigned long long)st.files_known,
           (unsigned long long)st.files_failed, (unsigned long long)st.lines,
           (unsigned long long)st.hits, (unsigned long long)st.rejects,
           st.seconds, rate,
           st.unsaved ? "; the lines read since the last commit were not "
                        "saved: the next ingest reads them again"
                      : "");
    if (st.visits_closed_early)
      printf("boussole: %llu visits closed early: more than max_open_visits "
             "were open at once (see README, \"Memory cap\")\n",
             (unsigned long long)st.visits_closed_early);
  }
  return rc == 0 ? BSL_EXIT_OK : BSL_EXIT_ERROR;
}

#define A(member) offsetof(struct ingest_args, member)
static const bsl_cli_opt ingest_opts[] = {
    BSL_CLI_OPT_CONFIG(struct ingest_args, config),
    BSL_CLI_OPT_DB(struct ingest_args, db),
    {"format", 0, BSL_CLI_STRING, A(format), "NAME",
     "combined (default), common, vcombined or a [format]", 0},
    {"site", 0, BSL_CLI_STRING, A(site), "HOST",
     "the site column, and the host counted as internal", 0},
    {"no-progress", 0, BSL_CLI_FLAG, A(no_progress), NULL,
     "never draw the progress bar", 0},
    {"flush-lines", 0, BSL_CLI_COUNT, A(flush_lines), "N",
     "commit at least every N lines (default: " BSL_STR(
         BSL_BATCH_FLUSH_LINES) ")",
     0},
    {"quiet", 'q', BSL_CLI_FLAG, A(quiet), NULL, "no summary line", 0},
    {0}};
#undef A

const bsl_cli_cmd bsl_cmd_ingest = {
    .name = "ingest",
    .summary = "read access logs once (plain, .gz or - for stdin); with no "
               "FILE, catch up every configured source",
    .operands = "[FILE...]",
    .max_operands = -1,
    .about =
        "Reads each FILE once and adds its lines to the database.  Files "
        "already\n"
        "read add nothing; a file that grew is read from where it stopped; "
        "a\n"
        "rotated or compressed copy of a file is recognised by its content.\n"
        "FILE may be gzip-compressed or - for standard input.  A FILE "
        "matching a\n"
        "configured source's path takes that source's format and site; any "
        "other\n"
        "uses --format and --site.  With no FILE, every configured source is "
        "read.\n"
        "One ingest or run writes a database at a time: while another does, "
        "this\n"
        "exits 2 naming it (a running daemon reads more files once they are "
        "in a\n"
        "[source] of its configuration and it is sent SIGHUP).\n",
    .epilog = "Exit status: 0 all read, 2 an error (message on stderr).\n",
    .opts = ingest_opts,
    .args_size = sizeof(struct ingest_args),
    .run = run_ingest,
};
