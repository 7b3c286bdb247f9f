/*
 * `boussole report`: the command-line face of analyze/report.c.  Prints the
 * report of a date range on the terminal (colour only on a TTY without
 * NO_COLOR), as JSON with --json, and/or writes the self-contained HTML page
 * with --html FILE (written beside FILE and renamed over it, so a web server
 * never serves half a report).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "publish.h"
#include "report.h"
#include "store.h"

static int write_page(const void *r, FILE *f) {
  return bsl_report_write_html(r, f);
}

struct report_args {
  const char *config, *db, *html, *from, *to;
  bool json;
};

static int run_report(const void *args, int argc, char **argv) {
  const struct report_args *a = args;
  (void)argc, (void)argv;
  const char *conf = a->config, *db = a->db, *html = a->html;
  bsl_report_options ro = {
      .now = (int64_t)time(NULL), .from = a->from, .to = a->to};
  bool json = a->json;
  bool ok;
  if (ro.from && (bsl_report_parse_day(ro.from, &ok), !ok)) {
    fprintf(stderr, "boussole report: --from: not a date (YYYY-MM-DD): '%s'\n",
            ro.from);
    return BSL_EXIT_ERROR;
  }
  if (ro.to && (bsl_report_parse_day(ro.to, &ok), !ok)) {
    fprintf(stderr, "boussole report: --to: not a date (YYYY-MM-DD): '%s'\n",
            ro.to);
    return BSL_EXIT_ERROR;
  }
  char err[BSL_CLI_ERR_MAX];
  bsl_config *cfg;
  if (bsl_config_load(&cfg, conf, err, sizeof err) != 0) {
    bsl_cli_error("boussole report", err);
    return BSL_EXIT_ERROR;
  }
  ro.timezone = cfg->timezone;
  const char *path = db ? db : cfg->db;
  /* a report never creates a database, nor turns a 0-byte file into one */
  bsl_store *st;
  if (bsl_store_open_existing(&st, path, err, sizeof err) != 0) {
    fprintf(stderr, "boussole report: %s\n", err);
    bsl_config_destroy(cfg);
    return BSL_EXIT_ERROR;
  }
  bsl_report *r;
  int rc = bsl_report_gather(st, &ro, &r, err, sizeof err);
  bsl_store_close(st);
  bsl_config_destroy(cfg);
  if (rc != 0) {
    fprintf(stderr, "boussole report: %s\n", err);
    return BSL_EXIT_ERROR;
  }
  int status = BSL_EXIT_OK;
  if (html && bsl_cli_publish("boussole report", html, write_page, r) != 0)
    status = BSL_EXIT_ERROR;
  if (json) {
    bsl_report_write_json(r, stdout);
  } else if (!html) {
    const char *nc = getenv("NO_COLOR");
    bool color = isatty(STDOUT_FILENO) && !(nc && *nc);
    bsl_report_write_text(r, stdout, color);
  } else if (status == 0) {
    printf("boussole report: wrote %s (%s \u2192 %s)\n", html, r->from, r->to);
  }
  bsl_report_destroy(r);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "boussole report: standard output: write error\n");
    status = BSL_EXIT_ERROR;
  }
  return status;
}

#define A(member) offsetof(struct report_args, member)
static const bsl_cli_opt report_opts[] = {
    BSL_CLI_OPT_CONFIG(struct report_args, config),
    BSL_CLI_OPT_DB(struct report_args, db),
    {"from", 0, BSL_CLI_STRING, A(from), "D",
     "first day, YYYY-MM-DD (default: 27 days before --to)", 0},
    {"to", 0, BSL_CLI_STRING, A(to), "D",
     "last day, YYYY-MM-DD (default: the last complete day: the newest day "
     "with data, or the day before it while that day has not ended in the "
     "configured timezone)",
     0},
    {"json", 0, BSL_CLI_FLAG, A(json), NULL,
     "print one JSON object instead of the text report", 0},
    {"html", 0, BSL_CLI_STRING, A(html), "FILE",
     "write a self-contained HTML report to FILE", 0},
    {0}};
#undef A

const bsl_cli_cmd bsl_cmd_report = {
    .name = "report",
    .summary = "the report of a date range on the terminal, as JSON or as an "
               "HTML page",
    .max_operands = 0,
    .about = "Summarises a date range (by default the 28 days ending on "
             "the last\n"
             "complete day): traffic totals against the previous period of "
             "the same\n"
             "length, channel mix, top sources and pages (entries, scroll "
             "depth), clicks,\n"
             "goals, campaign funnels, status codes and the top 404 paths, "
             "devices,\n"
             "visits by hour of day, and each KPI's state with a sparkline "
             "and, when\n"
             "it is flagged, what to do.\n",
    .epilog = "Exit status: 0 done, 2 an error (message on stderr).\n",
    .opts = report_opts,
    .args_size = sizeof(struct report_args),
    .run = run_report,
};
