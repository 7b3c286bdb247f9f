/*
 * `boussole diagnose`: the command-line face of analyze/diagnose.  Prints
 * the diagnosis of a date range on the terminal (colour only on a TTY
 * without NO_COLOR), as one JSON object with --json, and/or writes the
 * self-contained HTML page with --html FILE (beside FILE, then renamed over
 * it).  Reads the views only and never creates a database.
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
#include "diagnose.h"
#include "publish.h"
#include "store.h"

#define WHO "boussole diagnose"

static int write_page(const void *d, FILE *f) {
  return bsl_diag_write_html(d, f);
}

struct diagnose_args {
  const char *config, *db, *html, *from, *to;
  bool json;
};

static int run_diagnose(const void *args, int argc, char **argv) {
  const struct diagnose_args *a = args;
  (void)argc, (void)argv;
  char err[BSL_CLI_ERR_MAX];
  bsl_config *cfg;
  if (bsl_config_load(&cfg, a->config, err, sizeof err) != 0) {
    bsl_cli_error(WHO, err);
    return BSL_EXIT_ERROR;
  }
  bsl_store *st;
  if (bsl_store_open_existing(&st, a->db ? a->db : cfg->db, err, sizeof err) !=
      0) {
    fprintf(stderr, WHO ": %s\n", err);
    bsl_config_destroy(cfg);
    return BSL_EXIT_ERROR;
  }
  /* the proposed blocks must paste beside the KPIs already configured */
  const char **names = calloc(cfg->n_kpis ? cfg->n_kpis : 1, sizeof *names);
  if (!names) {
    fprintf(stderr, WHO ": out of memory\n");
    bsl_store_close(st);
    bsl_config_destroy(cfg);
    return BSL_EXIT_ERROR;
  }
  for (size_t i = 0; i < cfg->n_kpis; i++)
    names[i] = cfg->kpis[i].name;
  bsl_diag_options o = {.from = a->from,
                        .to = a->to,
                        .now = (int64_t)time(NULL),
                        .kpi_names = names,
                        .n_kpi_names = cfg->n_kpis};
  bsl_diag *d;
  int rc = bsl_diag_gather(st, &o, &d, err, sizeof err);
  free(names);
  bsl_store_close(st);
  bsl_config_destroy(cfg);
  if (rc != 0) {
    fprintf(stderr, WHO ": %s\n", err);
    return BSL_EXIT_ERROR;
  }
  int status = BSL_EXIT_OK;
  if (a->html && bsl_cli_publish(WHO, a->html, write_page, d) != 0)
    status = BSL_EXIT_ERROR;
  if (a->json) {
    bsl_diag_write_json(d, stdout);
  } else if (!a->html) {
    const char *nc = getenv("NO_COLOR");
    bsl_diag_write_text(d, stdout, isatty(STDOUT_FILENO) && !(nc && *nc));
  } else if (status == BSL_EXIT_OK) {
    printf(WHO ": wrote %s (%s \u2192 %s: %zu findings, %zu movers, %zu "
               "leaks)\n",
           a->html, d->from, d->to, d->n_findings, d->n_movers, d->n_leaks);
  }
  bsl_diag_destroy(d);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, WHO ": standard output: write error\n");
    status = BSL_EXIT_ERROR;
  }
  return status;
}

#define A(member) offsetof(struct diagnose_args, member)
static const bsl_cli_opt diagnose_opts[] = {
    BSL_CLI_OPT_CONFIG(struct diagnose_args, config),
    BSL_CLI_OPT_DB(struct diagnose_args, db),
    {"from", 0, BSL_CLI_STRING, A(from), "D",
     "first day, YYYY-MM-DD (default: 27 days before --to)", 0},
    {"to", 0, BSL_CLI_STRING, A(to), "D",
     "last day, YYYY-MM-DD (default: the newest complete day, the one "
     "before the newest day with data)",
     0},
    {"json", 0, BSL_CLI_FLAG, A(json), NULL,
     "print one JSON object instead of the text", 0},
    {"html", 0, BSL_CLI_STRING, A(html), "FILE",
     "write a self-contained HTML page to FILE", 0},
    {0}};
#undef A

const bsl_cli_cmd bsl_cmd_diagnose = {
    .name = "diagnose",
    .summary = "the audit step: strengths, weak points, movers, leaks and "
               "proposed objectives",
    .max_operands = 0,
    .about =
        "Tests every segment (channel, source/medium, campaign, landing "
        "page,\n"
        "device and some pairs) against the rest of the site on conversion,\n"
        "bounce, scroll and click rates, compares the range with the period\n"
        "before it, lists leaks, and proposes a [kpi] block per top finding.\n"
        "Only segments with enough visits are tested, and the false-discovery\n"
        "rate is held at 5% over all the tests (README \"Diagnose\").\n",
    .epilog = "Exit status: 0 done, 2 an error (message on stderr).\n",
    .opts = diagnose_opts,
    .args_size = sizeof(struct diagnose_args),
    .run = run_diagnose,
};
