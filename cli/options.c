/*
 * The option parser and help writer of every boussole command (options.h),
 * driven by each command's table, and the CLI's multi-line error printer.
 * Nothing here knows a command: what an option means is in its cmd_*.c.
 */
#include "options.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Help lines stay within this many columns. */
#define WIDTH 79
/* The option column of --help, at least (wider when an option needs it). */
#define HELP_COLUMN 22

static const bsl_cli_opt HELP_OPT = {"help",      'h', BSL_CLI_FLAG, 0, NULL,
                                     "this help", 0};

__attribute__((format(printf, 4, 5))) static int
fail(const bsl_cli_cmd *cmd, char *err, size_t errlen, const char *fmt, ...) {
  int n = snprintf(err, errlen, "boussole %s: ", cmd->name);
  size_t used = n < 0 ? 0 : (size_t)n;
  if (used < errlen) {
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
    used += n < 0 ? 0 : (size_t)n;
  }
  if (used < errlen)
    snprintf(err + used, errlen - used, " (see boussole %s --help)", cmd->name);
  return -1;
}

static const bsl_cli_opt *find_long(const bsl_cli_cmd *cmd, const char *name,
                                    size_t len) {
  for (const bsl_cli_opt *o = cmd->opts; o->name; o++)
    if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
      return o;
  if (len == 4 && memcmp(name, "help", 4) == 0)
    return &HELP_OPT;
  return NULL;
}

static const bsl_cli_opt *find_short(const bsl_cli_cmd *cmd, char c) {
  for (const bsl_cli_opt *o = cmd->opts; o->name; o++)
    if (o->short_name == c)
      return o;
  return c == 'h' ? &HELP_OPT : NULL;
}

/* The one option whose name begins with NAME[0..LEN), or NULL: what a user
 * who abbreviated (getopt accepted that) most likely meant. */
static const char *suggest(const bsl_cli_cmd *cmd, const char *name,
                           size_t len) {
  const char *found = NULL;
  int n = 0;
  for (const bsl_cli_opt *o = cmd->opts; o->name; o++)
    if (len && strncmp(o->name, name, len) == 0)
      found = o->name, n++;
  if (len && strncmp(HELP_OPT.name, name, len) == 0)
    found = HELP_OPT.name, n++;
  return n == 1 ? found : NULL;
}

/* "--db" or "-c": how the user wrote the option, for messages. */
static void spelled(const bsl_cli_opt *o, bool as_long, char *buf, size_t len) {
  if (as_long)
    snprintf(buf, len, "--%s", o->name);
  else
    snprintf(buf, len, "-%c", o->short_name);
}

static int parse_count(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!*s)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  if (v == 0)
    return -1;
  *out = v;
  return 0;
}

static int store(const bsl_cli_cmd *cmd, const bsl_cli_opt *o, const char *val,
                 void *args, char *err, size_t errlen) {
  char *dest = (char *)args + o->offset;
  switch (o->type) {
  case BSL_CLI_FLAG:
    *(bool *)dest = true;
    return 0;
  case BSL_CLI_STRING:
    *(const char **)dest = val;
    return 0;
  case BSL_CLI_COUNT:
    if (parse_count(val, (uint64_t *)dest) != 0)
      return fail(cmd, err, errlen, "--%s: not a positive number: '%s'",
                  o->name, val);
    return 0;
  }
  return fail(cmd, err, errlen, "--%s: bad option table", o->name);
}

static bool missing(const bsl_cli_opt *o, const void *args) {
  const char *p = (const char *)args + o->offset;
  switch (o->type) {
  case BSL_CLI_FLAG:
    return !*(const bool *)p;
  case BSL_CLI_STRING:
    return *(const char *const *)p == NULL;
  case BSL_CLI_COUNT:
    return *(const uint64_t *)p == 0;
  }
  return true;
}

int bsl_cli_parse(const bsl_cli_cmd *cmd, int argc, char **argv, void *args,
                  int *noperands, char *err, size_t errlen) {
  memset(args, 0, cmd->args_size);
  int n = 0; /* operands so far, moved down to argv[1 + n]: never ahead of i */
  bool options_ended = false;
  char as[64];
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (options_ended || a[0] != '-' || a[1] == '\0') {
      argv[1 + n++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      options_ended = true;
      continue;
    }
    if (a[1] == '-') {
      const char *name = a + 2, *eq = strchr(name, '=');
      size_t len = eq ? (size_t)(eq - name) : strlen(name);
      const bsl_cli_opt *o = find_long(cmd, name, len);
      if (!o) {
        const char *s = suggest(cmd, name, len);
        if (s)
          return fail(cmd, err, errlen,
                      "unknown option '--%.*s', did you mean '--%s'?", (int)len,
                      name, s);
        return fail(cmd, err, errlen, "unknown option '--%.*s'", (int)len,
                    name);
      }
      if (o->type == BSL_CLI_FLAG) {
        if (eq)
          return fail(cmd, err, errlen, "option '--%s' takes no argument",
                      o->name);
        if (o == &HELP_OPT)
          return BSL_CLI_HELP;
        store(cmd, o, NULL, args, err, errlen);
        continue;
      }
      const char *val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
      if (!val)
        return fail(cmd, err, errlen, "option '--%s' needs an argument (%s)",
                    o->name, o->arg);
      if (store(cmd, o, val, args, err, errlen) != 0)
        return -1;
      continue;
    }
    /* -x, -xVALUE, -x VALUE, -xyz (flags, the last one may take a value) */
    for (const char *p = a + 1; *p; p++) {
      const bsl_cli_opt *o = find_short(cmd, *p);
      if (!o)
        return fail(cmd, err, errlen, "unknown option '-%c'", *p);
      if (o->type == BSL_CLI_FLAG) {
        if (o == &HELP_OPT)
          return BSL_CLI_HELP;
        store(cmd, o, NULL, args, err, errlen);
        continue;
      }
      const char *val = p[1] ? p + 1 : i + 1 < argc ? argv[++i] : NULL;
      if (!val) {
        spelled(o, false, as, sizeof as);
        return fail(cmd, err, errlen, "option '%s' needs an argument (%s)", as,
                    o->arg);
      }
      if (store(cmd, o, val, args, err, errlen) != 0)
        return -1;
      break;
    }
  }
  for (const bsl_cli_opt *o = cmd->opts; o->name; o++)
    if ((o->flags & BSL_CLI_REQUIRED) && missing(o, args)) {
      spelled(o, true, as, sizeof as);
      return fail(cmd, err, errlen, "%s%s%s is required", as, o->arg ? " " : "",
                  o->arg ? o->arg : "");
    }
  if (n < cmd->min_operands)
    return fail(cmd, err, errlen, "missing argument %s",
                cmd->operands ? cmd->operands : "");
  if (cmd->max_operands >= 0 && n > cmd->max_operands)
    return fail(cmd, err, errlen, "unexpected argument '%s'",
                argv[1 + cmd->max_operands]);
  *noperands = n;
  return 0;
}

/* Words put one after the other, a line broken before a word that would
 * pass WIDTH; continuation lines start at column INDENT. */
typedef struct {
  FILE *out;
  int col, indent;
  bool fresh; /* no word on this line yet */
} wrapper;

static void put(wrapper *w, const char *s, size_t len) {
  if (!w->fresh && w->col + 1 + (int)len > WIDTH) {
    fprintf(w->out, "\n%*s", w->indent, "");
    w->col = w->indent;
    w->fresh = true;
  }
  if (!w->fresh) {
    fputc(' ', w->out);
    w->col++;
  }
  fwrite(s, 1, len, w->out);
  w->col += (int)len;
  w->fresh = false;
}

static void put_text(wrapper *w, const char *text) {
  for (const char *p = text; *p;) {
    while (*p == ' ')
      p++;
    size_t len = strcspn(p, " ");
    if (len)
      put(w, p, len);
    p += len;
  }
}

/* "[-c CONF]", "[--json]", "--note TEXT" (a required option) */
static void put_usage_item(wrapper *w, const bsl_cli_opt *o) {
  char name[64], item[128];
  bool req = o->flags & BSL_CLI_REQUIRED;
  spelled(o, o->short_name == 0, name, sizeof name);
  snprintf(item, sizeof item, "%s%s%s%s%s", req ? "" : "[", name,
           o->arg ? " " : "", o->arg ? o->arg : "", req ? "" : "]");
  put(w, item, strlen(item));
}

/* The options and operands of CMD from column COL (after a space unless
 * FRESH); continuation lines at INDENT.  Ends the line. */
static void usage_items(const bsl_cli_cmd *cmd, FILE *out, int col, int indent,
                        bool fresh) {
  wrapper w = {out, col, indent, fresh};
  for (const bsl_cli_opt *o = cmd->opts; o->name; o++)
    put_usage_item(&w, o);
  if (cmd->operands)
    put_text(&w, cmd->operands);
  fputc('\n', out);
}

static int left_width(const bsl_cli_opt *o) {
  return 6 + 2 + (int)strlen(o->name) + (o->arg ? 1 + (int)strlen(o->arg) : 0);
}

static void option_line(const bsl_cli_opt *o, int column, FILE *out) {
  int n;
  if (o->short_name)
    n = fprintf(out, "  -%c, --%s", o->short_name, o->name);
  else
    n = fprintf(out, "      --%s", o->name);
  if (o->arg)
    n += fprintf(out, " %s", o->arg);
  fprintf(out, "%*s", column - n, "");
  wrapper w = {out, column, column, true};
  put_text(&w, o->help);
  fputc('\n', out);
}

void bsl_cli_help(const bsl_cli_cmd *cmd, FILE *out) {
  int col = fprintf(out, "usage: boussole %s", cmd->name);
  usage_items(cmd, out, col, col + 1, false);
  if (cmd->about)
    fprintf(out, "\n%s", cmd->about);
  int column = HELP_COLUMN;
  for (const bsl_cli_opt *o = cmd->opts; o->name; o++)
    if (left_width(o) + 2 > column)
      column = left_width(o) + 2;
  fputc('\n', out);
  for (const bsl_cli_opt *o = cmd->opts; o->name; o++)
    option_line(o, column, out);
  option_line(&HELP_OPT, column, out);
  if (cmd->epilog)
    fprintf(out, "\n%s", cmd->epilog);
}

void bsl_cli_commands_help(const bsl_cli_cmd *const *cmds, size_t n,
                           FILE *out) {
  int column = 0;
  for (size_t i = 0; i < n; i++)
    if ((int)strlen(cmds[i]->name) > column)
      column = (int)strlen(cmds[i]->name);
  column += 4;
  fputs("Commands:\n", out);
  for (size_t i = 0; i < n; i++) {
    fprintf(out, "  %-*s", column - 2, cmds[i]->name);
    usage_items(cmds[i], out, column, column, true);
    if (cmds[i]->summary) {
      fprintf(out, "%*s", column, "");
      wrapper w = {out, column, column, true};
      put_text(&w, cmds[i]->summary);
      fputc('\n', out);
    }
  }
}

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
