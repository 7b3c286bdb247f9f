/*
 * The command line's one option parser.  Each command declares its options
 * once, as a table (long name, short name, whether it takes an argument,
 * help text, where the value goes); the same table parses argv and writes
 * the command's usage line and --help, so the two cannot disagree.
 *
 * Accepted spellings: --name VALUE, --name=VALUE, -x VALUE, -xVALUE,
 * bundled flags (-qh), operands anywhere among the options (as with GNU
 * getopt), "--" ending the options and "-" as an operand.  -h/--help belongs
 * to every command and is not declared in its table.  Long names are never
 * abbreviated: a prefix is an unknown option, whose message suggests the
 * name it begins.
 */
#ifndef BSL_CLI_OPTIONS_H
#define BSL_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
  BSL_CLI_FLAG,   /* no argument: the bool at .offset becomes true */
  BSL_CLI_STRING, /* an argument: the const char * at .offset points to it */
  BSL_CLI_COUNT,  /* an argument, a decimal integer > 0: the uint64_t at
                     .offset */
} bsl_cli_type;

/* bsl_cli_opt.flags */
#define BSL_CLI_REQUIRED 1u /* parsing fails without it */

typedef struct {
  const char *name; /* long name, without the "--" */
  char short_name;  /* '\0': none */
  bsl_cli_type type;
  size_t offset;   /* where the value goes: offsetof(the command's struct, x) */
  const char *arg; /* the argument's name in the help (STRING and COUNT) */
  const char *help; /* one paragraph; the help output wraps it */
  unsigned flags;
} bsl_cli_opt;

/* The options most commands share, spelled once. */
#define BSL_CLI_OPT_CONFIG(type, member)                                       \
  {                                                                            \
    "config", 'c', BSL_CLI_STRING, offsetof(type, member), "CONF",             \
        "configuration file (default: built-in defaults)", 0                   \
  }
#define BSL_CLI_OPT_DB(type, member)                                           \
  {                                                                            \
    "db", 0, BSL_CLI_STRING, offsetof(type, member), "PATH",                   \
        "database file (default: the config's db)", 0                          \
  }

/* A command: its options, its operands, its help and its body. */
typedef struct bsl_cli_cmd {
  const char *name;        /* "ingest" */
  const char *summary;     /* under the command in `boussole --help` */
  const char *operands;    /* in the usage line after the options: "[FILE...]",
                              "KPI"; NULL: none */
  int min_operands;        /* fewer: "missing OPERANDS" */
  int max_operands;        /* more: "unexpected argument"; -1: no limit */
  const char *about;       /* between the usage line and the options */
  const char *epilog;      /* after the options (the exit status) */
  const bsl_cli_opt *opts; /* ends with {0} */
  size_t args_size;        /* size of the struct the options fill */
  /* The command, once parsed: ARGS is the filled struct, ARGV[0..ARGC) the
   * operands.  Returns a BSL_EXIT_* status (commands.h). */
  int (*run)(const void *args, int argc, char **argv);
} bsl_cli_cmd;

/* What bsl_cli_parse returns besides 0 and -1. */
#define BSL_CLI_HELP 1

/*
 * Parses ARGV[1..ARGC) (ARGV[0] is the command's name) with CMD's table into
 * ARGS (CMD->args_size bytes, zeroed here first; strings point into ARGV).
 * The operands are moved, in order, to ARGV[1..1 + *NOPERANDS) (OUT).
 * An option given twice keeps its last value.
 *
 * Returns 0; BSL_CLI_HELP when -h/--help comes before any mistake (nothing
 * else is checked then); or -1 with ERR holding one line, no newline:
 * "boussole CMD: unknown option '--x' (see boussole CMD --help)": an unknown
 * option, a missing or unwanted argument, a bad number, a missing required
 * option, too few or too many operands.
 */
int bsl_cli_parse(const bsl_cli_cmd *cmd, int argc, char **argv, void *args,
                  int *noperands, char *err, size_t errlen);

/* Writes CMD's --help to OUT: the usage line, CMD->about, every option
 * (then -h, --help) with its help text, CMD->epilog. */
void bsl_cli_help(const bsl_cli_cmd *cmd, FILE *out);

/* Writes the list of commands for `boussole --help`: each one's usage line
 * and summary. */
void bsl_cli_commands_help(const bsl_cli_cmd *const *cmds, size_t n, FILE *out);

/* Prints MSG on stderr, each of its lines prefixed "WHO: " (a config load
 * reports every error of the file, one per line). */
void bsl_cli_error(const char *who, const char *msg);

/* Room for every error of a configuration file. */
#define BSL_CLI_ERR_MAX 8192

#endif
