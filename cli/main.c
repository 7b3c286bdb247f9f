/*
 * The boussole command line: argv -> configuration -> one command.  This is
 * the only place that prints usage, decides exit codes (0 ok, 1 a flagged
 * KPI, 2 usage/config/input/storage error) and talks to the terminal.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "campaign.h"
#include "commands.h"
#include "config.h"
#include "format.h"
#include "live.h"

#define EXIT_FLAGGED 1
#define EXIT_ERROR 2

static const char USAGE[] =
    "usage: boussole COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  ingest  [-c CONF] [--db PATH] [--format NAME] [--site HOST] FILE...\n"
    "          read access logs once (plain, .gz or - for stdin); with no "
    "FILE,\n"
    "          catch up every configured source\n"
    "  run     [-c CONF] [--db PATH]        tail sources as a daemon\n"
    "  kpi     [-c CONF] [--db PATH] [--json] [--at YYYY-MM-DD] [--reset]\n"
    "  adjust  [-c CONF] [--db PATH] KPI --note TEXT [--at TIMESTAMP]\n"
    "  report  [-c CONF] [--db PATH] [--html FILE] [--from D] [--to D]\n"
    "  check   [-c CONF]                    validate the configuration and "
    "print\n"
    "                                       the effective settings\n"
    "\n"
    "Without -c, built-in defaults apply (combined format, ./boussole.db, "
    "UTC).\n"
    "Run 'boussole COMMAND --help' for a command's options.\n";

static const char INGEST_USAGE[] =
    "usage: boussole ingest [-c CONF] [--db PATH] [--format NAME] "
    "[--site HOST] [FILE...]\n"
    "\n"
    "Reads each FILE once and adds its lines to the database.  Files already\n"
    "read add nothing; a file that grew is read from where it stopped; a\n"
    "rotated or compressed copy of a file is recognised by its content.\n"
    "FILE may be gzip-compressed or - for standard input.  A FILE matching a\n"
    "configured source's path takes that source's format and site; any other\n"
    "uses --format and --site.  With no FILE, every configured source is "
    "read.\n"
    "One ingest or run writes a database at a time: while another does, this\n"
    "exits 2 naming it (a running daemon reads more files once they are in a\n"
    "[source] of its configuration and it is sent SIGHUP).\n"
    "\n"
    "  -c, --config CONF   configuration file (default: built-in defaults)\n"
    "      --db PATH       database file (default: the config's db)\n"
    "      --format NAME   combined (default), common, vcombined or a "
    "[format]\n"
    "      --site HOST     the site column, and the host counted as internal\n"
    "      --no-progress   never draw the progress bar\n"
    "  -q, --quiet         no summary line\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 all read, 2 an error (message on stderr).\n";

static const char CHECK_USAGE[] =
    "usage: boussole check [-c CONF]\n"
    "\n"
    "Loads and validates the configuration (built-in defaults without -c) "
    "and\n"
    "prints the effective settings.  Exit status 0 when valid, 2 otherwise.\n";

void bsl_cli_error(const char *who, const char *msg) {
  for (const char *line = msg;;) {
    const char *nl = strchr(line, '\n');
    int len = nl ? (int)(nl - line) : (int)strlen(line);
    fprintf(stderr, "%s: %.*s\n", who, len, line);
    if (!nl)
      break;
    line = nl + 1;
  }
}

static int load_config(const char *path, bsl_config **cfg) {
  char err[BSL_CLI_ERR_MAX];
  if (bsl_config_load(cfg, path, err, sizeof err) != 0) {
    bsl_cli_error("boussole", err);
    return -1;
  }
  return 0;
}

static int cmd_check(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *conf = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c':
      conf = optarg;
      break;
    case 'h':
      fputs(CHECK_USAGE, stdout);
      return 0;
    default:
      fputs(CHECK_USAGE, stderr);
      return EXIT_ERROR;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "boussole check: unexpected argument '%s'\n%s",
            argv[optind], CHECK_USAGE);
    return EXIT_ERROR;
  }
  bsl_config *cfg;
  if (load_config(conf, &cfg) != 0)
    return EXIT_ERROR;
  if (cfg->warnings) {
    char *w = cfg->warnings;
    w[strlen(w) - 1] = '\0'; /* its last newline */
    bsl_cli_error("boussole: warning", w);
  }
  printf("# %s: configuration is valid\n",
         cfg->file ? cfg->file : "built-in defaults");
  bsl_config_print(cfg, stdout);
  bsl_config_destroy(cfg);
  return 0;
}

static int cmd_ingest(int argc, char **argv) {
  enum { OPT_DB = 256, OPT_FORMAT, OPT_SITE, OPT_NO_PROGRESS, OPT_FLUSH };
  static const struct option opts[] = {
      {"config", required_argument, 0, 'c'},
      {"db", required_argument, 0, OPT_DB},
      {"format", required_argument, 0, OPT_FORMAT},
      {"site", required_argument, 0, OPT_SITE},
      {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
      {"flush-lines", required_argument, 0, OPT_FLUSH},
      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *conf = NULL;
  bsl_batch_options bo = {.progress = isatty(STDERR_FILENO)};
  bool quiet = false;
  int c;
  while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'c':
      conf = optarg;
      break;
    case OPT_DB:
      bo.db_path = optarg;
      break;
    case OPT_FORMAT:
      bo.format = optarg;
      break;
    case OPT_SITE:
      bo.site = optarg;
      break;
    case OPT_NO_PROGRESS:
      bo.progress = false;
      break;
    case OPT_FLUSH: {
      char *end;
      unsigned long long v = strtoull(optarg, &end, 10);
      if (*end || v == 0) {
        fprintf(stderr,
                "boussole ingest: --flush-lines: not a positive "
                "number: '%s'\n",
                optarg);
        return EXIT_ERROR;
      }
      bo.flush_lines = v;
      break;
    }
    case 'q':
      quiet = true;
      break;
    case 'h':
      fputs(INGEST_USAGE, stdout);
      return 0;
    default:
      fputs(INGEST_USAGE, stderr);
      return EXIT_ERROR;
    }
  }
  bsl_config *cfg;
  if (load_config(conf, &cfg) != 0)
    return EXIT_ERROR;
  if (bo.format && !bsl_config_find_format(cfg, bo.format) &&
      !bsl_format_is_builtin(bo.format) &&
      !bsl_campaign_is_builtin(bo.format)) {
    fprintf(stderr,
            "boussole ingest: --format: unknown format '%s' (built in: "
            "combined, common, vcombined, campaign-csv, sendgrid-json, "
            "mailgun-json; or a [format] of the config)\n",
            bo.format);
    bsl_config_destroy(cfg);
    return EXIT_ERROR;
  }
  char err[1024] = "";
  bsl_batch_stats st;
  int rc = bsl_batch_ingest(cfg, &bo, (const char *const *)argv + optind,
                            (size_t)(argc - optind), &st, err, sizeof err);
  bsl_config_destroy(cfg);
  if (rc < 0)
    fprintf(stderr, "boussole: %s\n", err);
  if (!quiet) {
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
  return rc == 0 ? 0 : EXIT_ERROR;
}

static const char RUN_USAGE[] =
    "usage: boussole run [-c CONF] [--db PATH]\n"
    "\n"
    "Tails every configured source (files through rotations, syslog over "
    "UDP)\n"
    "and commits aggregates with read positions every flush_interval.  "
    "Logs go\n"
    "to stderr, one line per event.  SIGTERM/SIGINT: commit and stop.  "
    "SIGHUP:\n"
    "reload the configuration (a broken one is logged and ignored).\n"
    "One ingest or run writes a database at a time: while another does, this\n"
    "exits 2 naming it.\n"
    "\n"
    "  -c, --config CONF   configuration file (default: built-in defaults)\n"
    "      --db PATH       database file (default: the config's db)\n"
    "  -h, --help          this help\n";

static int cmd_run(int argc, char **argv) {
  enum { OPT_DB = 256 };
  static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                       {"db", required_argument, 0, OPT_DB},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  bsl_live_options lo = {0};
  int c;
  while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c':
      lo.config_path = optarg;
      break;
    case OPT_DB:
      lo.db_path = optarg;
      break;
    case 'h':
      fputs(RUN_USAGE, stdout);
      return 0;
    default:
      fputs(RUN_USAGE, stderr);
      return EXIT_ERROR;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "boussole run: unexpected argument '%s'\n%s", argv[optind],
            RUN_USAGE);
    return EXIT_ERROR;
  }
  char err[BSL_CLI_ERR_MAX];
  if (bsl_live_run(&lo, err, sizeof err) != 0) {
    bsl_cli_error("boussole", err);
    return EXIT_ERROR;
  }
  return 0;
}

int main(int argc, char **argv) {
  /* A file-size limit (RLIMIT_FSIZE) must fail the write with EFBIG, which
   * SQLite reports and the commit path handles like a full disk, instead of
   * killing the process with SIGXFSZ. */
  signal(SIGXFSZ, SIG_IGN);
  if (argc < 2) {
    fputs(USAGE, stderr);
    return EXIT_ERROR;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
      strcmp(cmd, "help") == 0) {
    fputs(USAGE, stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    printf("boussole %s\n", BSL_VERSION);
    return 0;
  }
  /* Each command parses its own options from argv[1] on. */
  argc--;
  argv++;
  if (strcmp(cmd, "ingest") == 0)
    return cmd_ingest(argc, argv);
  if (strcmp(cmd, "check") == 0)
    return cmd_check(argc, argv);
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc, argv);
  if (strcmp(cmd, "kpi") == 0) /* cli/cmd_kpi.c */
    return bsl_cmd_kpi(argc, argv);
  if (strcmp(cmd, "adjust") == 0)
    return bsl_cmd_adjust(argc, argv);
  if (strcmp(cmd, "report") == 0)
    return bsl_cmd_report(argc, argv);
  fprintf(stderr, "boussole: unknown command '%s'\n%s", cmd, USAGE);
  return EXIT_ERROR;
}
