/*
 * The boussole command line: argv -> one command (cmd_*.c), parsed by its
 * option table (options.c).  This is the one place that decides exit codes:
 * 0 ok, 1 a flagged KPI (only `kpi` returns it), 2 a usage, config, input or
 * storage error.  A usage mistake is one line on stderr, naming the command
 * and pointing at its --help.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

/* In the order of `boussole --help`. */
static const bsl_cli_cmd *const COMMANDS[] = {
    &bsl_cmd_ingest, &bsl_cmd_run,      &bsl_cmd_kpi,   &bsl_cmd_adjust,
    &bsl_cmd_report, &bsl_cmd_diagnose, &bsl_cmd_check,
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *out) {
  fputs("usage: boussole COMMAND [OPTIONS]\n"
        "       boussole --help | --version\n"
        "\n",
        out);
  bsl_cli_commands_help(COMMANDS, N_COMMANDS, out);
  fputs("\n"
        "Without -c, built-in defaults apply (combined format, ./boussole.db, "
        "UTC).\n"
        "Run 'boussole COMMAND --help' for a command's options.\n",
        out);
}

static int run_command(const bsl_cli_cmd *cmd, int argc, char **argv) {
  void *args = calloc(1, cmd->args_size ? cmd->args_size : 1);
  if (!args) {
    fprintf(stderr, "boussole %s: out of memory\n", cmd->name);
    return BSL_EXIT_ERROR;
  }
  char err[512];
  int n, rc = bsl_cli_parse(cmd, argc, argv, args, &n, err, sizeof err);
  int status;
  if (rc == BSL_CLI_HELP) {
    bsl_cli_help(cmd, stdout);
    status = BSL_EXIT_OK;
  } else if (rc != 0) {
    fprintf(stderr, "%s\n", err);
    status = BSL_EXIT_ERROR;
  } else {
    /* The commands that ingest free large blocks all the time (the
     * writer's visitor pairs as they grow, changesets, hash tables): with
     * glibc's default, each such free raises the size under which blocks
     * come from the threads' heaps instead of mmap, where freed blocks
     * then stay resident as holes.  A fixed threshold (which also turns
     * that adjustment off) gives them back: 5 MB less at the peak of 10M
     * realistic lines, and a block this large costs far more to fill than
     * to map. */
    if (cmd == &bsl_cmd_ingest || cmd == &bsl_cmd_run)
      (void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    status = cmd->run(args, n, argv + 1);
  }
  free(args);
  return status;
}

int main(int argc, char **argv) {
  /* A file-size limit (RLIMIT_FSIZE) must fail the write with EFBIG, which
   * SQLite reports and the commit path handles like a full disk, instead of
   * killing the process with SIGXFSZ. */
  signal(SIGXFSZ, SIG_IGN);
  if (argc < 2) {
    usage(stderr);
    return BSL_EXIT_ERROR;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
      strcmp(name, "help") == 0) {
    usage(stdout);
    return BSL_EXIT_OK;
  }
  if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
    printf("boussole %s\n", BSL_VERSION);
    return BSL_EXIT_OK;
  }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(name, COMMANDS[i]->name) == 0)
      return run_command(COMMANDS[i], argc - 1, argv + 1);
  fprintf(stderr, "boussole: unknown command '%s' (see boussole --help)\n",
          name);
  return BSL_EXIT_ERROR;
}
