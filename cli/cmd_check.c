/*
 * `boussole check`: loads and validates the configuration (the built-in
 * defaults without -c), reports its warnings and prints the effective
 * settings.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"

struct check_args {
  const char *config;
};

static int run_check(const void *args, int argc, char **argv) {
  const struct check_args *a = args;
  (void)argc, (void)argv;
  bsl_config *cfg;
  char err[BSL_CLI_ERR_MAX];
  if (bsl_config_load(&cfg, a->config, err, sizeof err) != 0) {
    bsl_cli_error("boussole", err);
    return BSL_EXIT_ERROR;
  }
  if (cfg->warnings) {
    char *w = cfg->warnings;
    w[strlen(w) - 1] = '\0'; /* its last newline */
    bsl_cli_error("boussole: warning", w);
  }
  printf("# %s: configuration is valid\n",
         cfg->file ? cfg->file : "built-in defaults");
  bsl_config_print(cfg, stdout);
  bsl_config_destroy(cfg);
  return BSL_EXIT_OK;
}

static const bsl_cli_opt check_opts[] = {
    BSL_CLI_OPT_CONFIG(struct check_args, config), {0}};

const bsl_cli_cmd bsl_cmd_check = {
    .name = "check",
    .summary = "validate the configuration and print the effective settings",
    .max_operands = 0,
    .about = "Loads and validates the configuration (built-in defaults "
             "without -c) and\n"
             "prints the effective settings.\n",
    .epilog = "Exit status: 0 when valid, 2 otherwise.\n",
    .opts = check_opts,
    .args_size = sizeof(struct check_args),
    .run = run_check,
};
