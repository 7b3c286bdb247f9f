/*
 * `boussole run`: the daemon.  Tails every configured source and commits
 * aggregates with read positions (analyze/run/live.c) until SIGTERM/SIGINT.
 */
#include <stddef.h>

#include "commands.h"
#include "live.h"

struct run_args {
  const char *config, *db;
};

static int run_run(const void *args, int argc, char **argv) {
  const struct run_args *a = args;
  (void)argc, (void)argv;
  bsl_live_options lo = {.config_path = a->config, .db_path = a->db};
  char err[BSL_CLI_ERR_MAX];
  if (bsl_live_run(&lo, err, sizeof err) != 0) {
    bsl_cli_error("boussole", err);
    return BSL_EXIT_ERROR;
  }
  return BSL_EXIT_OK;
}

static const bsl_cli_opt run_opts[] = {
    BSL_CLI_OPT_CONFIG(struct run_args, config),
    BSL_CLI_OPT_DB(struct run_args, db),
    {0}};

const bsl_cli_cmd bsl_cmd_run = {
    .name = "run",
    .summary = "tail sources as a daemon",
    .max_operands = 0,
    .about =
        "Tails every configured source (files through rotations, syslog over "
        "UDP)\n"
        "and commits aggregates with read positions every flush_interval.  "
        "Logs go\n"
        "to stderr, one line per event.  SIGTERM/SIGINT: commit and stop.  "
        "SIGHUP:\n"
        "reload the configuration (a broken one is logged and ignored).\n"
        "One ingest or run writes a database at a time: while another does, "
        "this\n"
        "exits 2 naming it.\n",
    .epilog = "Exit status: 0 after a clean stop (SIGTERM/SIGINT), 2 an error "
              "(message on\n"
              "stderr).\n",
    .opts = run_opts,
    .args_size = sizeof(struct run_args),
    .run = run_run,
};
