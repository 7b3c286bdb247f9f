/*
 * Unit tests of cli/options.c, the option parser and help writer of every
 * command: the spellings it accepts, the one-line messages of what it
 * refuses, and, for each real command's table, that its --help lists every
 * option the parser accepts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* gcc 12 at -O3 takes the buffer open_memstream() fills for a pointer to
 * the local that holds it (-Wdangling-pointer false positive). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "options.h"

struct targs {
  const char *config, *db, *name;
  bool json, jobs, quiet;
  uint64_t lines;
};

#define A(member) offsetof(struct targs, member)
static const bsl_cli_opt topts[] = {
    BSL_CLI_OPT_CONFIG(struct targs, config),
    BSL_CLI_OPT_DB(struct targs, db),
    {"json", 0, BSL_CLI_FLAG, A(json), NULL, "JSON out", 0},
    {"jobs", 'j', BSL_CLI_FLAG, A(jobs), NULL, "jobs", 0},
    {"quiet", 'q', BSL_CLI_FLAG, A(quiet), NULL, "no summary line", 0},
    {"lines", 'n', BSL_CLI_COUNT, A(lines), "N",
     "a long help text that has to be wrapped because it is much longer than "
     "the width of a terminal line, twice over, so that it needs two breaks "
     "at least",
     0},
    {0}};
static const bsl_cli_cmd tcmd = {
    .name = "test",
    .summary = "a command for the tests",
    .operands = "[FILE...]",
    .max_operands = -1,
    .about = "About the test command.\n",
    .epilog = "Exit status: 0.\n",
    .opts = topts,
    .args_size = sizeof(struct targs),
};

/* one operand, one required option */
static const bsl_cli_opt ropts[] = {
    {"name", 0, BSL_CLI_STRING, A(name), "TEXT", "the name", BSL_CLI_REQUIRED},
    {0}};
static const bsl_cli_cmd rcmd = {
    .name = "req",
    .operands = "KPI",
    .min_operands = 1,
    .max_operands = 1,
    .opts = ropts,
    .args_size = sizeof(struct targs),
};
#undef A

static char err[512];
static int nops;

/* Parses the NULL-terminated ARGV (argv[0] the command's name). */
static int parse_argv(const bsl_cli_cmd *cmd, struct targs *a, char **argv) {
  int argc = 0;
  while (argv[argc])
    argc++;
  err[0] = '\0';
  nops = -1;
  memset(a, 0x5a, sizeof *a); /* the parser zeroes it */
  return bsl_cli_parse(cmd, argc, argv, a, &nops, err, sizeof err);
}
#define ARGV(...) ((char *[]){"cmd", __VA_ARGS__, NULL})
#define PARSE(cmd, a, ...) parse_argv(cmd, a, ARGV(__VA_ARGS__))

static void test_long_and_short(void **state) {
  (void)state;
  struct targs a;
  assert_int_equal(PARSE(&tcmd, &a, "--db", "x.db", "--config=my.conf"), 0);
  assert_string_equal(a.db, "x.db");
  assert_string_equal(a.config, "my.conf");
  assert_false(a.json);
  assert_false(a.quiet);
  assert_int_equal(a.lines, 0);
  assert_int_equal(nops, 0);

  assert_int_equal(PARSE(&tcmd, &a, "-c", "a.conf"), 0);
  assert_string_equal(a.config, "a.conf");
  assert_int_equal(PARSE(&tcmd, &a, "-cb.conf"), 0);
  assert_string_equal(a.config, "b.conf");
  /* bundled flags, the last one taking the next argument */
  assert_int_equal(PARSE(&tcmd, &a, "-qjc", "c.conf", "-n7"), 0);
  assert_true(a.quiet);
  assert_true(a.jobs);
  assert_string_equal(a.config, "c.conf");
  assert_int_equal(a.lines, 7);
  /* an argument may look like an option or be empty */
  assert_int_equal(PARSE(&tcmd, &a, "--db", "--json", "--config="), 0);
  assert_string_equal(a.db, "--json");
  assert_string_equal(a.config, "");
  assert_false(a.json);
  /* the last of a repeated option wins */
  assert_int_equal(PARSE(&tcmd, &a, "--db=1", "--db", "2", "--lines=3",
                         "--lines", "18446744073709551615"),
                   0);
  assert_string_equal(a.db, "2");
  assert_true(a.lines == UINT64_MAX);
}

static void test_operands(void **state) {
  (void)state;
  struct targs a;
  char **argv = ARGV("a", "--json", "b", "-", "-q", "--", "--db", "-c", "c");
  assert_int_equal(parse_argv(&tcmd, &a, argv), 0);
  assert_true(a.json);
  assert_true(a.quiet);
  assert_null(a.db);
  assert_null(a.config);
  assert_int_equal(nops, 6);
  const char *want[] = {"a", "b", "-", "--db", "-c", "c"};
  for (int i = 0; i < 6; i++)
    assert_string_equal(argv[1 + i], want[i]);

  assert_int_equal(PARSE(&rcmd, &a, "K", "--name", "n"), 0);
  assert_int_equal(nops, 1);
  assert_string_equal(a.name, "n");
}

static void test_help(void **state) {
  (void)state;
  struct targs a;
  assert_int_equal(PARSE(&tcmd, &a, "--help"), BSL_CLI_HELP);
  assert_int_equal(PARSE(&tcmd, &a, "-h"), BSL_CLI_HELP);
  assert_int_equal(PARSE(&tcmd, &a, "-qh"), BSL_CLI_HELP);
  assert_int_equal(PARSE(&tcmd, &a, "--db", "x", "--help", "--bogus"),
                   BSL_CLI_HELP);
  /* help wins over what is checked at the end: operands, required options */
  assert_int_equal(PARSE(&rcmd, &a, "--help"), BSL_CLI_HELP);
  /* a mistake before it does not */
  assert_int_equal(PARSE(&tcmd, &a, "--bogus", "--help"), -1);
  assert_int_equal(PARSE(&tcmd, &a, "--help=yes"), -1);
  assert_string_equal(err, "boussole test: option '--help' takes no argument "
                           "(see boussole test --help)");
  /* after --, it is an operand */
  assert_int_equal(PARSE(&tcmd, &a, "--", "--help"), 0);
  assert_int_equal(nops, 1);
}

#define REFUSED(want, cmd, ...)                                                \
  do {                                                                         \
    struct targs a_;                                                           \
    assert_int_equal(PARSE(cmd, &a_, __VA_ARGS__), -1);                        \
    assert_string_equal(err, want);                                            \
  } while (0)

static void test_refused(void **state) {
  (void)state;
  const char *hint = " (see boussole test --help)";
  char want[256];
#define T(msg, ...)                                                            \
  do {                                                                         \
    snprintf(want, sizeof want, "boussole test: %s%s", msg, hint);             \
    REFUSED(want, &tcmd, __VA_ARGS__);                                         \
  } while (0)
  T("unknown option '--bogus'", "--bogus", "x");
  T("unknown option '--bogus'", "--bogus=x");
  T("unknown option '-x'", "-x");
  T("unknown option '-x'", "-qx");
  T("unknown option '--'", "--=x");
  /* no abbreviations, but a unique prefix is named */
  T("unknown option '--conf', did you mean '--config'?", "--conf", "x");
  T("unknown option '--he', did you mean '--help'?", "--he");
  T("unknown option '--j'", "--j"); /* --json or --jobs */
  T("option '--json' takes no argument", "--json=yes");
  T("option '--db' needs an argument (PATH)", "--db");
  T("option '-c' needs an argument (CONF)", "-c");
  T("option '-c' needs an argument (CONF)", "-qc");
  T("--lines: not a positive number: '0'", "--lines", "0");
  T("--lines: not a positive number: '-1'", "--lines=-1");
  T("--lines: not a positive number: ''", "--lines=");
  T("--lines: not a positive number: '12x'", "-n", "12x");
  T("--lines: not a positive number: ' 12'", "-n", " 12");
  T("--lines: not a positive number: '18446744073709551616'", "-n",
    "18446744073709551616");
#undef T
  REFUSED("boussole req: --name TEXT is required (see boussole req --help)",
          &rcmd, "K");
  REFUSED("boussole req: missing argument KPI (see boussole req --help)", &rcmd,
          "--name", "n");
  REFUSED("boussole req: unexpected argument 'L' (see boussole req --help)",
          &rcmd, "--name", "n", "K", "L");
  REFUSED("boussole req: unexpected argument '-' (see boussole req --help)",
          &rcmd, "--name=n", "K", "--", "-", "M");
}

static void test_message_fits(void **state) {
  (void)state;
  struct targs a;
  char small[24];
  char *argv[] = {"cmd", "--a-very-long-unknown-option-name", NULL};
  memset(small, 'x', sizeof small);
  assert_int_equal(bsl_cli_parse(&tcmd, 2, argv, &a, &nops, small, 20), -1);
  assert_int_equal(strlen(small), 19);
  assert_int_equal(small[20], 'x');
}

static char *help_of(const bsl_cli_cmd *cmd) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  bsl_cli_help(cmd, f);
  assert_int_equal(fclose(f), 0);
  return buf;
}

/* Every line of TEXT fits a terminal: 79 columns. */
static void assert_fits(const char *text) {
  for (const char *l = text; *l;) {
    size_t n = strcspn(l, "\n");
    if (n > 79)
      fail_msg("line over 79 columns: %.*s", (int)n, l);
    l += n + (l[n] == '\n');
  }
}

static void test_help_text(void **state) {
  (void)state;
  char *h = help_of(&tcmd);
  assert_fits(h);
  assert_non_null(strstr(h, "usage: boussole test [-c CONF] [--db PATH] "
                            "[--json] [-j] [-q] [-n N] [FILE...]\n"));
  assert_non_null(strstr(h, "\n\nAbout the test command.\n\n"));
  assert_non_null(strstr(h,
                         "\n  -c, --config CONF   configuration file (default: "
                         "built-in defaults)\n"));
  assert_non_null(strstr(h,
                         "\n      --db PATH       database file (default: the "
                         "config's db)\n"));
  assert_non_null(strstr(h, "\n  -j, --jobs          jobs\n"));
  assert_non_null(strstr(h, "\n  -n, --lines N       a long help text that "
                            "has to be wrapped because it is\n"
                            "                      much longer than the width "
                            "of a terminal line, twice\n"
                            "                      over, so that it needs two "
                            "breaks at least\n"));
  assert_non_null(strstr(h, "\n  -h, --help          this help\n\n"
                            "Exit status: 0.\n"));
  free(h);

  h = help_of(&rcmd);
  assert_non_null(strstr(h, "usage: boussole req --name TEXT KPI\n"));
  free(h);
}

static const bsl_cli_cmd *const REAL[] = {
    &bsl_cmd_ingest, &bsl_cmd_run,    &bsl_cmd_kpi,
    &bsl_cmd_adjust, &bsl_cmd_report, &bsl_cmd_check,
};

/* For every real command: each option of its table is parsed in each of its
 * spellings, and its --help and usage line list it. */
static void test_real_commands(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof REAL / sizeof REAL[0]; c++) {
    const bsl_cli_cmd *cmd = REAL[c];
    char *h = help_of(cmd);
    assert_fits(h);
    char usage[64];
    snprintf(usage, sizeof usage, "usage: boussole %s", cmd->name);
    assert_true(strncmp(h, usage, strlen(usage)) == 0);
    const char *options = strstr(h, "\n\n  -");
    assert_non_null(options);
    void *args = malloc(cmd->args_size);
    assert_non_null(args);
    int n_opts = 0;
    for (const bsl_cli_opt *o = cmd->opts; o->name; o++, n_opts++) {
      char line[96], item[96];
      if (o->short_name)
        snprintf(line, sizeof line, "\n  -%c, --%s%s%s ", o->short_name,
                 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
      else
        snprintf(line, sizeof line, "\n      --%s%s%s ", o->name,
                 o->arg ? " " : "", o->arg ? o->arg : "");
      if (!strstr(options, line))
        fail_msg("%s --help does not list '%s'", cmd->name, line + 1);
      if (o->short_name)
        snprintf(item, sizeof item, "-%c%s%s", o->short_name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
      else
        snprintf(item, sizeof item, "--%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
      char *end_of_usage = strstr(h, "\n\n");
      char *at = strstr(h, item);
      if (!at || at > end_of_usage)
        fail_msg("%s usage line lacks '%s'", cmd->name, item);

      /* --name VALUE, --name=VALUE, -x VALUE, with what the command needs
       * besides */
      const char *val = o->type == BSL_CLI_COUNT ? "1" : "v";
      char eq[64], shrt[4];
      snprintf(eq, sizeof eq, "--%s=%s", o->name, val);
      snprintf(shrt, sizeof shrt, "-%c", o->short_name);
      char lng[64];
      snprintf(lng, sizeof lng, "--%s", o->name);
      for (int form = 0; form < 3; form++) {
        if (form == 2 && !o->short_name)
          continue;
        if (form == 1 && o->type == BSL_CLI_FLAG)
          continue;
        char *argv[16];
        int argc = 0;
        argv[argc++] = (char *)cmd->name;
        if (form == 1) {
          argv[argc++] = eq;
        } else {
          argv[argc++] = form == 0 ? lng : shrt;
          if (o->type != BSL_CLI_FLAG)
            argv[argc++] = (char *)val;
        }
        char reqs[4][64];
        int nreq = 0;
        for (const bsl_cli_opt *r = cmd->opts; r->name; r++)
          if ((r->flags & BSL_CLI_REQUIRED) && r != o) {
            assert_true(nreq < 4);
            snprintf(reqs[nreq], sizeof reqs[nreq], "--%s=x", r->name);
            argv[argc++] = reqs[nreq++];
          }
        for (int i = 0; i < cmd->min_operands; i++)
          argv[argc++] = "operand";
        argv[argc] = NULL;
        int n;
        if (bsl_cli_parse(cmd, argc, argv, args, &n, err, sizeof err) != 0)
          fail_msg("%s: %s", cmd->name, err);
        assert_int_equal(n, cmd->min_operands);
      }
    }
    /* -c/--config everywhere; --db wherever there is a database */
    assert_true(n_opts >= 1);
    assert_string_equal(cmd->opts[0].name, "config");
    free(args);
    free(h);
  }

  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  bsl_cli_commands_help(REAL, sizeof REAL / sizeof REAL[0], f);
  fclose(f);
  assert_fits(buf);
  for (size_t c = 0; c < sizeof REAL / sizeof REAL[0]; c++) {
    char want[32];
    snprintf(want, sizeof want, "\n  %-8s[-c CONF]", REAL[c]->name);
    if (!strstr(buf, want))
      fail_msg("commands help lacks '%s'", want + 1);
  }
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_long_and_short), cmocka_unit_test(test_operands),
      cmocka_unit_test(test_help),           cmocka_unit_test(test_refused),
      cmocka_unit_test(test_message_fits),   cmocka_unit_test(test_help_text),
      cmocka_unit_test(test_real_commands),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
