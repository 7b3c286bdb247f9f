/*
 * Loads the INI configuration of SPEC §3 into a bsl_config, validating every
 * value so that a mistake stops the program at startup with one line naming
 * the file, line, section and key ("FILE:LINE: [section] key: reason"), rather
 * than surfacing later as missing data.
 *
 * inih does the key/value parsing, but its Debian build has limits that would
 * silently corrupt a config: lines are cut at 200 bytes (a log regex is often
 * longer), section and key names at 49, the handler is not told the line
 * number, and a section without keys never reaches the handler.  So inih reads
 * through our own line reader (read_line), which sees each physical line first:
 * it numbers lines, opens sections itself, rejects what inih would accept
 * silently (control bytes, indented continuation lines), and when a line would
 * not fit - or its value is quoted - stores the key and value in a side table
 * and hands inih the short line "key = \x01N" for the handler to resolve.
 *
 * Rules chosen here (documented in README):
 *  - Sections: [boussole], [source "NAME"], [format "NAME"], [goal "NAME"],
 *    [kpi "NAME"]; the name may also be written unquoted.  Names are letters,
 *    digits, . _ - : @ + and non-ASCII bytes, at most 100 bytes.  A duplicate
 *    section is an error, and so is a key repeated inside one section.
 *  - Values are trimmed; ';' after whitespace starts a comment.  A value
 *    written in double quotes keeps everything up to the last '"' on the
 *    line, ';' and spaces included, and loses the quotes.
 *  - Indented continuation lines are rejected: long values fit on one line.
 *  - timezone: "UTC", a zone with a TZif file under $TZDIR or
 *    /usr/share/zoneinfo, or a fixed ISO 8601 offset "+HH:MM"/"-HH:MM"
 *    (east of UTC is positive - the opposite of POSIX TZ strings).
 *  - Relative paths are relative to the working directory, not to the file.
 *  - Every error of the file is reported, one line each, in line order (up
 *    to MAX_ERRORS): a bad value is skipped and the rest of the file still
 *    checked; the keys of a section whose header is bad are ignored, and a
 *    key whose value was refused does not count as missing, so one mistake
 *    gives one line.  References between sections (a source's format, a
 *    KPI's goal) and required keys are checked once the whole file is read,
 *    since a section may refer to one defined later.
 *  - Mistakes that would otherwise pass silently are errors too: a filter on
 *    a channel no rule produces, a named group no parser reads, a percentage
 *    target on a metric that is not a rate (or a rate target over 1), an
 *    alert_command whose program does not exist or cannot be executed, a
 *    metrics_file whose directory does not exist.  A metrics_file directory
 *    this user cannot write to is only a warning (bsl_config.warnings):
 *    `check` may run as another user than the daemon.
 */
#include "config.h"
#include "calendar.h"
#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config is a few kilobytes; the cap keeps a wrong path (a log file, a
 * device) from being slurped whole. */
#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_NAME_LEN 100
/* inih copies section and key names into 50-byte buffers. */
#define INIH_MAX_NAME 50
#define MAX_KEYS 16
#define PLACEHOLDER '\x01'
#define MAX_ERRORS 100

static const char *const default_extensions[] = {
    "css",  "js",   "mjs",   "png", "jpg", "jpeg", "gif", "svg", "ico", "webp",
    "avif", "woff", "woff2", "ttf", "eot", "map",  "txt", "xml", "json"};

static const char *const filter_keys[] = {"channel",  "source", "medium",
                                          "campaign", "path",   "device"};

/* SPEC §5: the channels the classification rules produce. */
static const char *const channels[] = {"paid",     "email",          "social",
                                       "campaign", "organic_search", "direct",
                                       "referral"};

/* SPEC §4: the named groups the parsers read. */
static const char *const access_groups[] = {
    "remote_addr", "time",  "method",  "path",       "query", "request",
    "status",      "bytes", "referer", "user_agent", "host"};
static const char *const campaign_groups[] = {"time",      "campaign", "event",
                                              "recipient", "url",      "cost"};

static const char *const access_formats[] = {"combined", "common", "vcombined"};
#define CAMPAIGN_FORMAT "campaign-csv"
/* the built-in campaign formats (ingest/campaign.c), CAMPAIGN_FORMAT first */
static const char *const campaign_formats[] = {CAMPAIGN_FORMAT, "sendgrid-json",
                                               "mailgun-json"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum sec_kind {
  SEC_NONE,
  SEC_BOUSSOLE,
  SEC_SOURCE,
  SEC_FORMAT,
  SEC_GOAL,
  SEC_KPI
};

static const char *const kind_names[] = {"",       "boussole", "source",
                                         "format", "goal",     "kpi"};

/* One section as written in the file: where it is and where each of its keys
 * was set, for repeated-key errors and for messages after parsing. */
struct section {
  enum sec_kind kind;
  size_t index; /* into the cfg array of that kind */
  int line;
  int key_line[MAX_KEYS]; /* 0: not set (set, even when its value failed) */
  char target_text[32];   /* a KPI's target as written */
};

struct error {
  int line; /* 0: the file as a whole */
  int rc;
  char *msg; /* "FILE:LINE: ..." */
};

struct parser {
  bsl_config *cfg;
  const char *file;
  const char *text;
  size_t len, pos;
  int lineno;
  char *line; /* working copy of the current physical line */

  char **side; /* full keys and values of lines handed to inih shortened */
  size_t n_side, cap_side;

  struct section *secs;
  size_t n_secs, cap_secs;
  struct section *cur;
  bool have_prev_key; /* inih treats an indented line after a key as more of it
                       */
  char prev_key[64];

  char why[512]; /* reason from a setter */
  int rc;        /* a setter's error code (0: -EINVAL) */
  struct error *errs;
  size_t n_errs, more_errs;
  bool fatal;     /* out of memory, unreadable file: stop reading */
  bool skip_keys; /* the current section's header was refused */
  char *warnings; /* lines for bsl_config.warnings */
  size_t warnings_len;
  char label[MAX_NAME_LEN + 32];
};

typedef int (*setter)(struct parser *p, void *obj, const char *value);

struct key_def {
  const char *name;
  setter set;
};

/* Error reporting */

static void vfail(struct parser *p, int line, int rc, const char *fmt,
                  va_list ap) __attribute__((format(printf, 4, 0)));

/* "FILE:LINE: " + FMT into a new string, or NULL. */
static char *vformat_at(const struct parser *p, int line, const char *fmt,
                        va_list ap) __attribute__((format(printf, 3, 0)));
static char *vformat_at(const struct parser *p, int line, const char *fmt,
                        va_list ap) {
  char msg[1024];
  int n = line > 0 ? snprintf(msg, sizeof msg, "%s:%d: ", p->file, line)
                   : snprintf(msg, sizeof msg, "%s: ", p->file);
  if (n < 0 || (size_t)n >= sizeof msg)
    n = 0;
  vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
  return strdup(msg);
}

/* Records one error; reading goes on (unless it is fatal). */
static void vfail(struct parser *p, int line, int rc, const char *fmt,
                  va_list ap) {
  if (rc == -ENOMEM || line == 0)
    p->fatal = true; /* nothing sensible can follow */
  if (p->n_errs == MAX_ERRORS) {
    p->more_errs++;
    return;
  }
  if (!p->errs && !(p->errs = calloc(MAX_ERRORS, sizeof *p->errs))) {
    p->fatal = true;
    return;
  }
  struct error *e = &p->errs[p->n_errs];
  if (!(e->msg = vformat_at(p, line, fmt, ap))) {
    p->fatal = true;
    rc = -ENOMEM;
  }
  e->line = line;
  e->rc = rc;
  p->n_errs++;
}

static void fail(struct parser *p, int line, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct parser *p, int line, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(p, line, rc, fmt, ap);
  va_end(ap);
}

static bool failed(const struct parser *p) {
  return p->n_errs > 0 || p->fatal;
}

/* A warning at LINE: the file loads, `check` shows it. */
static void warn(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(struct parser *p, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = vformat_at(p, line, fmt, ap);
  va_end(ap);
  if (!msg)
    return;
  size_t n = strlen(msg);
  char *grown = realloc(p->warnings, p->warnings_len + n + 2);
  if (grown) {
    p->warnings = grown;
    memcpy(grown + p->warnings_len, msg, n);
    p->warnings_len += n;
    grown[p->warnings_len++] = '\n';
    grown[p->warnings_len] = '\0';
  }
  free(msg);
}

static const char *sec_name(const struct parser *p, const struct section *s) {
  const bsl_config *c = p->cfg;
  switch (s->kind) {
  case SEC_SOURCE:
    return c->sources[s->index].name;
  case SEC_FORMAT:
    return c->formats[s->index].name;
  case SEC_GOAL:
    return c->goals[s->index].name;
  case SEC_KPI:
    return c->kpis[s->index].name;
  default:
    return NULL;
  }
}

static const char *sec_label(struct parser *p, const struct section *s) {
  const char *name = sec_name(p, s);
  if (name)
    snprintf(p->label, sizeof p->label, "[%s \"%s\"]", kind_names[s->kind],
             name);
  else
    snprintf(p->label, sizeof p->label, "[%s]", kind_names[s->kind]);
  return p->label;
}

static int why(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int why(struct parser *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->why, sizeof p->why, fmt, ap);
  va_end(ap);
  return -1;
}

static int oom(struct parser *p) {
  p->rc = -ENOMEM;
  return why(p, "out of memory");
}

/* Value parsers, shared with bsl_parse_duration's callers */

static bool one_of(const char *v, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(v, list[i]) == 0)
      return true;
  return false;
}

/* Digits with an optional fraction; strtod alone would take "inf", hex and
 * leading spaces. */
static const char *scan_decimal(const char *s) {
  const char *q = s;
  while (isdigit((unsigned char)*q))
    q++;
  if (*q == '.') {
    q++;
    while (isdigit((unsigned char)*q))
      q++;
  }
  if (q == s || (q == s + 1 && *s == '.'))
    return NULL;
  return q;
}

int bsl_parse_duration(const char *text, double *seconds) {
  if (!text)
    return -1;
  const char *end = scan_decimal(text);
  if (!end)
    return -1;
  double v = strtod(text, NULL);
  if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
    ;
  else if (strcmp(end, "ms") == 0)
    v /= 1000.0;
  else if (strcmp(end, "m") == 0)
    v *= 60;
  else if (strcmp(end, "h") == 0)
    v *= 3600;
  else if (strcmp(end, "d") == 0)
    v *= 86400;
  else
    return -1;
  if (!isfinite(v))
    return -1;
  *seconds = v;
  return 0;
}

/* A number, or a percentage ("5%" is 0.05). */
static int parse_number(const char *text, double *out) {
  const char *s = text;
  if (*s == '-' || *s == '+')
    s++;
  const char *end = scan_decimal(s);
  if (!end)
    return -1;
  if (*end == 'e' || *end == 'E') {
    const char *e = end + 1;
    if (*e == '-' || *e == '+')
      e++;
    if (!isdigit((unsigned char)*e))
      return -1;
    while (isdigit((unsigned char)*e))
      e++;
    end = e;
  }
  double v = strtod(text, NULL);
  if (strcmp(end, "%") == 0)
    v /= 100.0;
  else if (*end)
    return -1;
  if (!isfinite(v))
    return -1;
  *out = v;
  return 0;
}

static bool valid_date(const char *s) {
  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
    return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
      return false;
  int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || m < 1 || m > 12 || d < 1)
    return false;
  int max = mdays[m - 1];
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    max = 29;
  return d <= max;
}

static int set_str(struct parser *p, char **dst, const char *v) {
  char *copy = strdup(v);
  if (!copy)
    return oom(p);
  free(*dst);
  *dst = copy;
  return 0;
}

/* Optional settings: an empty value means unset, as when the key is absent. */
static int set_opt_str(struct parser *p, char **dst, const char *v) {
  if (*v)
    return set_str(p, dst, v);
  free(*dst);
  *dst = NULL;
  return 0;
}

static int set_nonempty(struct parser *p, char **dst, const char *v) {
  if (!*v)
    return why(p, "must not be empty");
  return set_str(p, dst, v);
}

static int compile_regex(struct parser *p, const char *v, bool need_time) {
  int code;
  PCRE2_SIZE off;
  pcre2_code *re =
      pcre2_compile((PCRE2_SPTR)v, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
  if (!re) {
    PCRE2_UCHAR buf[256];
    if (pcre2_get_error_message(code, buf, sizeof buf) < 0)
      snprintf((char *)buf, sizeof buf, "error %d", code);
    return why(p, "bad regex at offset %zu: %s", (size_t)off, (char *)buf);
  }
  int rc =
      need_time ? pcre2_substring_number_from_name(re, (PCRE2_SPTR) "time") : 0;
  pcre2_code_free(re);
  if (rc < 0)
    return why(p, "regex needs a named group (?<time>...)");
  return 0;
}

/* [boussole] */

static int set_db(struct parser *p, void *obj, const char *v) {
  /* SPEC §3: a PostgreSQL password comes from ~/.pgpass or PGPASSWORD,
   * never from this file (it is often world-readable, and `check` prints
   * it back) */
  if (bsl_config_db_is_postgres(v)) {
    const char *auth = v + strcspn(v, ":") + 3;
    const char *at = strchr(auth, '@');
    const char *slash = strchr(auth, '/');
    const char *colon = strchr(auth, ':');
    if ((at && (!slash || at < slash) && colon && colon < at) ||
        strstr(v, "password="))
      return why(p, "no password here: put it in ~/.pgpass or PGPASSWORD");
  }
  return set_nonempty(p, &((bsl_config *)obj)->db, v);
}

bool bsl_config_db_is_postgres(const char *db) {
  return db && (strncmp(db, "postgresql://", 13) == 0 ||
                strncmp(db, "postgres://", 11) == 0);
}

/* The fleet name of this instance: a hostname-like word, so that it reads
 * well in the views' host column and in a lock refusal. */
static int set_host(struct parser *p, void *obj, const char *v) {
  size_t n = strlen(v);
  if (n == 0 || n > 255 ||
      strspn(v, "abcdefghijklmnopqrstuvwxyz"
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
    return why(p,
               "\"%s\" is not a host name (letters, digits, '.', '_', '-'; "
               "at most 255)",
               v);
  return set_str(p, &((bsl_config *)obj)->host, v);
}

static int set_timezone(struct parser *p, void *obj, const char *v) {
  char reason[256];
  if (bsl_zone_check(v, NULL, reason, sizeof reason) != 0)
    return why(p, "%s", reason);
  return set_str(p, &((bsl_config *)obj)->timezone, v);
}

static int set_session_timeout(struct parser *p, void *obj, const char *v) {
  double s;
  if (bsl_parse_duration(v, &s) < 0)
    return why(p, "bad duration \"%s\" (e.g. 30m, 1800, 90s, 1h)", v);
  if (s < 1 || s > INT_MAX || s != floor(s))
    return why(p, "must be a whole number of seconds, at least 1");
  ((bsl_config *)obj)->session_timeout = (int)s;
  return 0;
}

static int set_beacon_path(struct parser *p, void *obj, const char *v) {
  if (v[0] != '/')
    return why(p, "must start with '/'");
  return set_str(p, &((bsl_config *)obj)->beacon_path, v);
}

static void free_list(char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i]);
  free(list);
}

static int set_static_extensions(struct parser *p, void *obj, const char *v) {
  bsl_config *c = obj;
  char **list = NULL;
  size_t n = 0, cap = 0;
  const char *s = v;
  for (;;) {
    while (*s == ' ' || *s == '\t')
      s++;
    if (!*s)
      break;
    size_t len = strcspn(s, " \t");
    const char *word = s;
    s += len;
    while (len && *word == '.')
      word++, len--;
    if (!len)
      goto out_bad;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      char **grown = realloc(list, cap * sizeof *list);
      if (!grown)
        goto out_oom;
      list = grown;
    }
    if (!(list[n] = strndup(word, len)))
      goto out_oom;
    for (char *q = list[n]; *q; q++)
      *q = (char)tolower((unsigned char)*q);
    if (strchr(list[n++], '/'))
      goto out_bad;
  }
  free_list(c->static_extensions, c->n_static_extensions);
  c->static_extensions = list;
  c->n_static_extensions = n;
  return 0;
out_bad:
  free_list(list, n);
  return why(p, "bad extension in list (expected e.g. \"css js png\")");
out_oom:
  free_list(list, n);
  return oom(p);
}

static int set_flush_interval(struct parser *p, void *obj, const char *v) {
  double s;
  if (bsl_parse_duration(v, &s) < 0)
    return why(p, "bad duration \"%s\" (e.g. 1s, 250ms)", v);
  if (s < 0.001 || s > 86400)
    return why(p, "must be between 1ms and 1d");
  ((bsl_config *)obj)->flush_interval = s;
  return 0;
}

static int set_max_open_visits(struct parser *p, void *obj, const char *v) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (!*v || *end || errno || v[0] == '-')
    return why(p, "not a whole number: \"%s\" (e.g. 250000; 0 = no cap)", v);
  if (n != 0 && (n < 1000 || n > 100000000))
    return why(p, "must be 0 (no cap) or between 1000 and 100000000");
  ((bsl_config *)obj)->max_open_visits = (size_t)n;
  return 0;
}

/* `run` rewrites the file at every flush through FILE.tmp in the same
 * directory: a directory that does not exist would only show as a warning
 * a second in the log.  One this user cannot write to may be right for the
 * daemon's user (`check` as another), so that is a warning. */
static int set_metrics_file(struct parser *p, void *obj, const char *v) {
  if (!*v)
    return set_opt_str(p, &((bsl_config *)obj)->metrics_file, v);
  char dir[PATH_MAX];
  const char *slash = strrchr(v, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == v)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - v), v);
  struct stat st;
  if (slash && !slash[1])
    return why(p, "%s is a directory, not a file", v);
  if (stat(dir, &st) != 0)
    return why(p, "directory %s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return why(p, "directory %s: %s", dir, strerror(ENOTDIR));
  if (stat(v, &st) == 0 && S_ISDIR(st.st_mode))
    return why(p, "%s is a directory, not a file", v);
  if (access(dir, W_OK | X_OK) != 0)
    warn(p, p->lineno,
         "[boussole] metrics_file: directory %s is not writable by this user "
         "(uid %d); `run` must run as a user who can write there",
         dir, (int)geteuid());
  return set_str(p, &((bsl_config *)obj)->metrics_file, v);
}

/* Shell words that are not programs on PATH. */
static const char *const shell_words[] = {
    "!",       "{",        "}",       "[[",       "]]",     "case",  "do",
    "done",    "elif",     "else",    "esac",     "fi",     "for",   "function",
    "if",      "in",       "select",  "then",     "time",   "until", "while",
    ".",       ":",        "[",       "alias",    "bg",     "break", "cd",
    "command", "continue", "echo",    "eval",     "exec",   "exit",  "export",
    "false",   "fg",       "getopts", "hash",     "jobs",   "kill",  "local",
    "printf",  "pwd",      "read",    "readonly", "return", "set",   "shift",
    "source",  "test",     "times",   "trap",     "true",   "type",  "ulimit",
    "umask",   "unalias",  "unset",   "wait"};

/* 0 when PATH (a regular file) may be executed, else -1 with errno. */
static int executable(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return -1;
  if (S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    return -1;
  }
  if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0) {
    errno = EACCES;
    return -1;
  }
  return 0;
}

/* The command runs under /bin/sh -c at each alert: a program that is not
 * there (a typo, a path not deployed) would fail only then, when the alert
 * matters.  Its first word is checked when it is a plain word: a path must
 * name an executable file, a bare name one on PATH (that of this process,
 * which is the one `run` passes on); shell syntax (quotes, expansions,
 * keywords, builtins) is left to the shell. */
static int check_command(struct parser *p, const char *v) {
  const char *c = v;
  for (;;) {
    while (*c == ' ' || *c == '\t')
      c++;
    /* NAME=value prefixes set the environment of the command */
    const char *e = c;
    if (isalpha((unsigned char)*e) || *e == '_') {
      while (isalnum((unsigned char)*e) || *e == '_')
        e++;
      if (*e == '=') {
        c = e + 1 + strcspn(e + 1, " \t");
        continue;
      }
    }
    break;
  }
  size_t n = strcspn(c, " \t;&|<>()\n");
  if (n == 0 || n >= PATH_MAX)
    return 0;
  char word[PATH_MAX];
  memcpy(word, c, n);
  word[n] = '\0';
  if (strpbrk(word, "$`'\"\\*?[]~{}=") ||
      one_of(word, shell_words, COUNT(shell_words)))
    return 0;
  if (strchr(word, '/')) {
    if (executable(word) != 0)
      return why(p, "%s: %s", word,
                 errno == EACCES ? "not executable" : strerror(errno));
    return 0;
  }
  const char *path = getenv("PATH");
  if (!path)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const char *d = path;;) {
    size_t len = strcspn(d, ":");
    char full[PATH_MAX];
    if (snprintf(full, sizeof full, "%.*s%s%s", (int)len, d, len ? "/" : "",
                 word) < (int)sizeof full &&
        executable(full) == 0)
      return 0;
    if (!d[len])
      break;
    d += len + 1;
  }
  return why(p, "%s: command not found in PATH (%s)", word, path);
}

static int set_alert_command(struct parser *p, void *obj, const char *v) {
  if (*v && check_command(p, v) < 0)
    return -1;
  return set_opt_str(p, &((bsl_config *)obj)->alert_command, v);
}

/* Rule files are read when the pipeline starts; checking now turns a typo
 * into a config error with a line number instead of a later failure. */
static int set_readable(struct parser *p, char **dst, const char *v) {
  if (!*v)
    return set_opt_str(p, dst, v);
  int fd = open(v, O_RDONLY | O_CLOEXEC);
  struct stat st;
  int err = 0;
  if (fd < 0)
    err = errno;
  else if (fstat(fd, &st) != 0)
    err = errno;
  else if (S_ISDIR(st.st_mode))
    err = EISDIR;
  if (fd >= 0)
    close(fd);
  if (err)
    return why(p, "%s: %s", v, strerror(err));
  return set_str(p, dst, v);
}

static int set_bot_rules(struct parser *p, void *obj, const char *v) {
  return set_readable(p, &((bsl_config *)obj)->bot_rules, v);
}

static int set_channel_rules(struct parser *p, void *obj, const char *v) {
  return set_readable(p, &((bsl_config *)obj)->channel_rules, v);
}

static const struct key_def boussole_keys[] = {
    {"db", set_db},
    {"host", set_host},
    {"timezone", set_timezone},
    {"session_timeout", set_session_timeout},
    {"beacon_path", set_beacon_path},
    {"static_extensions", set_static_extensions},
    {"flush_interval", set_flush_interval},
    {"max_open_visits", set_max_open_visits},
    {"metrics_file", set_metrics_file},
    {"alert_command", set_alert_command},
    {"bot_rules", set_bot_rules},
    {"channel_rules", set_channel_rules},
};

/* [source "NAME"] */

static int parse_type(struct parser *p, const char *v,
                      enum bsl_source_type *out) {
  if (strcmp(v, "access") == 0)
    *out = BSL_SOURCE_ACCESS;
  else if (strcmp(v, "campaign") == 0)
    *out = BSL_SOURCE_CAMPAIGN;
  else
    return why(p, "must be access or campaign");
  return 0;
}

static int set_source_path(struct parser *p, void *obj, const char *v) {
  return set_nonempty(p, &((bsl_source_conf *)obj)->path, v);
}

static int set_source_listen(struct parser *p, void *obj, const char *v) {
  const char *colon, *host_end;
  if (v[0] == '[') {
    host_end = strchr(v, ']');
    if (!host_end || host_end[1] != ':' || host_end == v + 1)
      return why(p, "expected host:port or [ipv6]:port");
    colon = host_end + 1;
  } else {
    colon = strrchr(v, ':');
    if (!colon || colon == v)
      return why(p, "expected host:port");
    if (memchr(v, ':', (size_t)(colon - v)))
      return why(p, "an IPv6 address needs brackets: [addr]:port");
  }
  const char *port = colon + 1;
  size_t digits = strspn(port, "0123456789");
  if (!digits || port[digits] || digits > 5 || atoi(port) < 1 ||
      atoi(port) > 65535)
    return why(p, "port must be a number from 1 to 65535");
  return set_str(p, &((bsl_source_conf *)obj)->listen, v);
}

static int set_source_type(struct parser *p, void *obj, const char *v) {
  return parse_type(p, v, &((bsl_source_conf *)obj)->type);
}

static int set_source_format(struct parser *p, void *obj, const char *v) {
  return set_nonempty(p, &((bsl_source_conf *)obj)->format, v);
}

static int set_source_site(struct parser *p, void *obj, const char *v) {
  return set_str(p, &((bsl_source_conf *)obj)->site, v);
}

enum { SRC_PATH, SRC_LISTEN, SRC_TYPE, SRC_FORMAT, SRC_SITE };
static const struct key_def source_keys[] = {
    [SRC_PATH] = {"path", set_source_path},
    [SRC_LISTEN] = {"listen", set_source_listen},
    [SRC_TYPE] = {"type", set_source_type},
    [SRC_FORMAT] = {"format", set_source_format},
    [SRC_SITE] = {"site", set_source_site},
};

/* [format "NAME"] */

static int set_format_regex(struct parser *p, void *obj, const char *v) {
  if (compile_regex(p, v, true) < 0)
    return -1;
  return set_str(p, &((bsl_format_conf *)obj)->regex, v);
}

static int set_format_time(struct parser *p, void *obj, const char *v) {
  return set_nonempty(p, &((bsl_format_conf *)obj)->time_format, v);
}

static int set_format_type(struct parser *p, void *obj, const char *v) {
  bsl_format_conf *f = obj;
  if (parse_type(p, v, &f->type) < 0)
    return -1;
  f->has_type = true;
  return 0;
}

enum { FMT_REGEX };
static const struct key_def format_keys[] = {
    [FMT_REGEX] = {"regex", set_format_regex},
    {"time_format", set_format_time},
    {"type", set_format_type},
};

/* [goal "NAME"] */

static int set_goal_path(struct parser *p, void *obj, const char *v) {
  if (!*v)
    return why(p, "must not be empty");
  if (compile_regex(p, v, false) < 0)
    return -1;
  return set_str(p, &((bsl_goal_conf *)obj)->path, v);
}

static const struct key_def goal_keys[] = {
    {"path", set_goal_path},
};

/* [kpi "NAME"] */

static int set_kpi_metric(struct parser *p, void *obj, const char *v) {
  if (!bsl_metric_find(v)) {
    char names[512];
    bsl_metric_names(false, " ", " ", names, sizeof names);
    return why(p, "unknown metric \"%s\" (%s)", v, names);
  }
  return set_str(p, &((bsl_kpi_conf *)obj)->metric, v);
}

static int set_kpi_goal(struct parser *p, void *obj, const char *v) {
  return set_nonempty(p, &((bsl_kpi_conf *)obj)->goal, v);
}

static int set_kpi_filter(struct parser *p, void *obj, const char *v) {
  bsl_kpi_conf *k = obj;
  const char *eq = strchr(v, '=');
  if (!eq)
    return why(p, "expected key=value, key one of channel source medium "
                  "campaign path device");
  char key[16];
  size_t klen = (size_t)(eq - v);
  while (klen && isspace((unsigned char)v[klen - 1]))
    klen--;
  const char *val = eq + 1;
  while (isspace((unsigned char)*val))
    val++;
  if (klen >= sizeof key)
    klen = sizeof key - 1;
  memcpy(key, v, klen);
  key[klen] = '\0';
  if (!one_of(key, filter_keys, COUNT(filter_keys)))
    return why(p,
               "unknown filter key \"%s\" (channel source medium campaign "
               "path device)",
               key);
  if (!*val)
    return why(p, "filter value must not be empty");
  if (strcmp(key, "channel") == 0 && !one_of(val, channels, COUNT(channels)))
    return why(p,
               "unknown channel \"%s\" (paid email social campaign "
               "organic_search direct referral)",
               val);
  static const char *const devices[] = {"desktop", "mobile", "tablet"};
  if (strcmp(key, "device") == 0 && !one_of(val, devices, COUNT(devices)))
    return why(p, "device must be desktop, mobile or tablet");
  if (set_str(p, &k->filter_key, key) < 0 ||
      set_str(p, &k->filter_value, val) < 0)
    return -1;
  return 0;
}

static int set_kpi_period(struct parser *p, void *obj, const char *v) {
  bsl_kpi_conf *k = obj;
  if (strcmp(v, "day") == 0)
    k->period = BSL_PERIOD_DAY;
  else if (strcmp(v, "week") == 0)
    k->period = BSL_PERIOD_WEEK;
  else
    return why(p, "must be day or week");
  return 0;
}

static int set_kpi_direction(struct parser *p, void *obj, const char *v) {
  bsl_kpi_conf *k = obj;
  if (strcmp(v, "up") == 0)
    k->direction = 1;
  else if (strcmp(v, "down") == 0)
    k->direction = -1;
  else
    return why(p, "must be up or down");
  return 0;
}

static int set_kpi_target(struct parser *p, void *obj, const char *v) {
  bsl_kpi_conf *k = obj;
  if (parse_number(v, &k->target) < 0)
    return why(p, "expected a number such as 0.05 or 5%%");
  k->has_target = true;
  /* checked against the metric once the section is read */
  snprintf(p->cur->target_text, sizeof p->cur->target_text, "%s", v);
  return 0;
}

static int set_kpi_deadline(struct parser *p, void *obj, const char *v) {
  bsl_kpi_conf *k = obj;
  if (!valid_date(v))
    return why(p, "\"%s\" is not a calendar date YYYY-MM-DD", v);
  memcpy(k->deadline, v, 11);
  return 0;
}

static int set_kpi_window(struct parser *p, void *obj, const char *v) {
  size_t digits = strspn(v, "0123456789");
  if (!digits || v[digits] || digits > 4 || atoi(v) < 3 || atoi(v) > 1000)
    return why(p, "must be a whole number from 3 to 1000");
  ((bsl_kpi_conf *)obj)->window = atoi(v);
  return 0;
}

static int set_kpi_min_change(struct parser *p, void *obj, const char *v) {
  double x;
  if (parse_number(v, &x) < 0 || x < 0)
    return why(p, "expected a fraction or percentage such as 0.05 or 5%%");
  ((bsl_kpi_conf *)obj)->min_change = x;
  return 0;
}

enum { KPI_METRIC, KPI_GOAL, KPI_TARGET, KPI_DEADLINE };
static const struct key_def kpi_keys[] = {
    [KPI_METRIC] = {"metric", set_kpi_metric},
    [KPI_GOAL] = {"goal", set_kpi_goal},
    [KPI_TARGET] = {"target", set_kpi_target},
    [KPI_DEADLINE] = {"deadline", set_kpi_deadline},
    {"filter", set_kpi_filter},
    {"period", set_kpi_period},
    {"direction", set_kpi_direction},
    {"window", set_kpi_window},
    {"min_change", set_kpi_min_change},
};

static const struct key_def *keys_of(enum sec_kind kind, size_t *n) {
  switch (kind) {
  case SEC_BOUSSOLE:
    return *n = COUNT(boussole_keys), boussole_keys;
  case SEC_SOURCE:
    return *n = COUNT(source_keys), source_keys;
  case SEC_FORMAT:
    return *n = COUNT(format_keys), format_keys;
  case SEC_GOAL:
    return *n = COUNT(goal_keys), goal_keys;
  case SEC_KPI:
    return *n = COUNT(kpi_keys), kpi_keys;
  default:
    return *n = 0, NULL;
  }
}

static void *sec_object(struct parser *p, const struct section *s) {
  bsl_config *c = p->cfg;
  switch (s->kind) {
  case SEC_BOUSSOLE:
    return c;
  case SEC_SOURCE:
    return &c->sources[s->index];
  case SEC_FORMAT:
    return &c->formats[s->index];
  case SEC_GOAL:
    return &c->goals[s->index];
  case SEC_KPI:
    return &c->kpis[s->index];
  default:
    return NULL;
  }
}

/* Sections */

static bool valid_name(const char *s, size_t len) {
  if (!len)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!isalnum(c) && !strchr("._-:@+", c) && c < 0x80)
      return false;
  }
  return true;
}

/* Returns ARR (N elements of SZ bytes) grown by one zeroed element, or NULL
 * with ARR untouched. */
static void *grow_one(void *arr, size_t n, size_t sz) {
  char *grown = realloc(arr, (n + 1) * sz);
  if (grown)
    memset(grown + n * sz, 0, sz);
  return grown;
}

static int add_section(struct parser *p, enum sec_kind kind, const char *name,
                       int line) {
  bsl_config *c = p->cfg;
  for (size_t i = 0; i < p->n_secs; i++) {
    const struct section *o = &p->secs[i];
    const char *oname = sec_name(p, o);
    if (o->kind == kind && (!name || strcmp(oname, name) == 0)) {
      fail(p, line, -EINVAL, "duplicate section %s (first on line %d)",
           sec_label(p, o), o->line);
      return -1;
    }
  }
  if (p->n_secs == p->cap_secs) {
    size_t cap = p->cap_secs ? p->cap_secs * 2 : 16;
    struct section *grown = realloc(p->secs, cap * sizeof *grown);
    if (!grown)
      goto out_oom;
    p->secs = grown;
    p->cap_secs = cap;
  }
  struct section *s = &p->secs[p->n_secs];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->line = line;
  char *copy = NULL;
  if (name && !(copy = strdup(name)))
    goto out_oom;
  switch (kind) {
  case SEC_SOURCE: {
    s->index = c->n_sources;
    bsl_source_conf *grown = grow_one(c->sources, c->n_sources, sizeof *grown);
    if (!grown)
      goto out_free_copy;
    c->sources = grown;
    bsl_source_conf *src = &grown[c->n_sources++];
    src->name = copy;
    src->line = line;
    break;
  }
  case SEC_FORMAT: {
    s->index = c->n_formats;
    bsl_format_conf *grown = grow_one(c->formats, c->n_formats, sizeof *grown);
    if (!grown)
      goto out_free_copy;
    c->formats = grown;
    bsl_format_conf *f = &grown[c->n_formats++];
    f->name = copy;
    f->line = line;
    break;
  }
  case SEC_GOAL: {
    s->index = c->n_goals;
    bsl_goal_conf *grown = grow_one(c->goals, c->n_goals, sizeof *grown);
    if (!grown)
      goto out_free_copy;
    c->goals = grown;
    bsl_goal_conf *g = &grown[c->n_goals++];
    g->name = copy;
    g->line = line;
    break;
  }
  case SEC_KPI: {
    s->index = c->n_kpis;
    bsl_kpi_conf *grown = grow_one(c->kpis, c->n_kpis, sizeof *grown);
    if (!grown)
      goto out_free_copy;
    c->kpis = grown;
    bsl_kpi_conf *k = &grown[c->n_kpis++];
    k->name = copy;
    k->line = line;
    k->direction = 1;
    k->window = 28;
    k->min_change = 0.05;
    break;
  }
  default:
    break;
  }
  p->cur = &p->secs[p->n_secs++];
  return 0;
out_free_copy:
  free(copy);
out_oom:
  fail(p, line, -ENOMEM, "out of memory");
  return -1;
}

/* Parses the text between '[' and ']': a kind, then a name quoted or not. */
static int open_section(struct parser *p, char *text) {
  int line = p->lineno;
  char *s = text;
  while (isspace((unsigned char)*s))
    s++;
  char *kind_end = s;
  while (isalpha((unsigned char)*kind_end))
    kind_end++;
  char *name = kind_end;
  while (isspace((unsigned char)*name))
    name++;
  char *end = name + strlen(name);
  while (end > name && isspace((unsigned char)end[-1]))
    end--;
  bool quoted = end - name >= 2 && *name == '"' && end[-1] == '"';
  if (quoted)
    name++, end--;
  bool has_name = end > name || quoted;
  if (has_name && name == kind_end)
    goto out_bad;
  *kind_end = '\0';
  *end = '\0';

  enum sec_kind kind = SEC_NONE;
  for (int k = SEC_BOUSSOLE; k <= SEC_KPI; k++)
    if (strcmp(s, kind_names[k]) == 0)
      kind = (enum sec_kind)k;
  if (kind == SEC_NONE) {
    fail(p, line, -EINVAL,
         "unknown section [%s] (expected boussole, source, format, goal or "
         "kpi)",
         s);
    return -1;
  }
  if (kind == SEC_BOUSSOLE) {
    if (has_name) {
      fail(p, line, -EINVAL, "section [boussole] takes no name");
      return -1;
    }
    return add_section(p, kind, NULL, line);
  }
  if (!has_name) {
    fail(p, line, -EINVAL, "section [%s] needs a name: [%s \"NAME\"]", s, s);
    return -1;
  }
  if (!valid_name(name, (size_t)(end - name)) || end - name > MAX_NAME_LEN) {
    fail(p, line, -EINVAL,
         "bad %s name \"%s\" (up to %d letters, digits or . _ - : @ +)", s,
         name, MAX_NAME_LEN);
    return -1;
  }
  if (kind == SEC_FORMAT &&
      (one_of(name, access_formats, COUNT(access_formats)) ||
       one_of(name, campaign_formats, COUNT(campaign_formats)))) {
    fail(p, line, -EINVAL, "[format \"%s\"]: that name is a built-in format",
         name);
    return -1;
  }
  return add_section(p, kind, name, line);
out_bad:
  fail(p, line, -EINVAL, "bad section header (expected [kind \"NAME\"])");
  return -1;
}

/* The line reader handed to inih */

/* inih's rule: the first of CHARS, or a ';' that follows whitespace. */
static char *find_chars_or_comment(char *s, const char *chars) {
  bool was_space = false;
  while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
    was_space = isspace((unsigned char)*s);
    s++;
  }
  return s;
}

static char *lskip(char *s) {
  while (*s && isspace((unsigned char)*s))
    s++;
  return s;
}

static char *rstrip(char *s) {
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

/* Stores S in the side table; returns its index or -1. */
static int side_put(struct parser *p, const char *s) {
  if (p->n_side == p->cap_side) {
    size_t cap = p->cap_side ? p->cap_side * 2 : 16;
    char **grown = realloc(p->side, cap * sizeof *grown);
    if (!grown)
      return -1;
    p->side = grown;
    p->cap_side = cap;
  }
  if (!(p->side[p->n_side] = strdup(s)))
    return -1;
  return (int)p->n_side++;
}

static const char *side_get(const struct parser *p, const char *s) {
  if (s[0] != PLACEHOLDER)
    return s;
  size_t i = (size_t)strtoul(s + 1, NULL, 10);
  return i < p->n_side ? p->side[i] : "";
}

/* Splits a "key = value" line the way inih does, except that a value in
 * double quotes runs to the last quote on the line.  Returns false when the
 * line has no '=' or ':' before a comment. */
static bool split_pair(char *start, char **key, char **value, bool *quoted) {
  char *sep = find_chars_or_comment(start, "=:");
  if (*sep != '=' && *sep != ':')
    return false;
  *sep = '\0';
  *key = rstrip(start);
  char *v = lskip(sep + 1);
  char *last = strrchr(v, '"');
  *quoted = false;
  if (*v == '"' && last > v) {
    char *rest = lskip(last + 1);
    if (!*rest || *rest == ';') {
      *last = '\0';
      *value = v + 1;
      *quoted = true;
      return true;
    }
  }
  char *end = find_chars_or_comment(sep + 1, NULL);
  *end = '\0';
  *value = rstrip(lskip(sep + 1));
  return true;
}

/*
 * Whatever a config holds may be printed back (`check`, error messages, the
 * KPI names in `kpi` and reports), so it must not carry bytes a terminal
 * acts on: C0 controls but tab, DEL, C1 controls (U+0080-U+009F, CSI among
 * them), bidirectional overrides and isolates (U+202A-U+202E,
 * U+2066-U+2069), or invalid UTF-8.  Fails the parse and returns false.
 */
static bool safe_text(struct parser *p, const char *text, size_t n) {
  const unsigned char *s = (const unsigned char *)text;
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      fail(p, p->lineno, -EINVAL, "control character 0x%02x in line", c);
      return false;
    }
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    unsigned cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < len; k++) {
      if (i + k >= n || (s[i + k] & 0xc0) != 0x80) {
        len = 0;
        break;
      }
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    /* overlong forms, surrogates and code points past U+10FFFF */
    if (len == 0 || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      fail(p, p->lineno, -EINVAL, "invalid UTF-8 at byte %zu of the line",
           i + 1);
      return false;
    }
    if (cp <= 0x9f || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069)) {
      fail(p, p->lineno, -EINVAL, "control character U+%04X in line", cp);
      return false;
    }
    i += len;
  }
  return true;
}

/* A line that was refused (its error recorded): inih sees an empty line,
 * and reading goes on. */
static char *skip_line(char *buf) {
  buf[0] = '\0';
  return buf;
}

/* A section header that was refused: its keys are ignored until the next
 * section, rather than each reported as misplaced. */
static char *skip_section(struct parser *p, char *buf) {
  p->cur = NULL;
  p->skip_keys = true;
  p->have_prev_key = false;
  return skip_line(buf);
}

static char *read_line(char *buf, int num, void *stream) {
  struct parser *p = stream;
  if (p->fatal || p->pos >= p->len || num < 32)
    return NULL;
  const char *s = p->text + p->pos;
  const char *nl = memchr(s, '\n', p->len - p->pos);
  size_t n = nl ? (size_t)(nl - s) : p->len - p->pos;
  p->pos += n + (nl ? 1 : 0);
  p->lineno++;
  if (n && s[n - 1] == '\r')
    n--;
  if (p->lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
    s += 3, n -= 3;
  if (!safe_text(p, s, n))
    return skip_line(buf);
  char *line = realloc(p->line, n + 1);
  if (!line) {
    fail(p, p->lineno, -ENOMEM, "out of memory");
    return NULL;
  }
  p->line = line;
  memcpy(line, s, n);
  line[n] = '\0';

  char *start = lskip(line);
  if (!*start || *start == ';' || *start == '#') {
    buf[0] = '\0';
    return buf;
  }
  if (*start == '[') {
    char *close = find_chars_or_comment(start + 1, "]");
    if (*close != ']') {
      fail(p, p->lineno, -EINVAL, "section header without ']'");
      return skip_section(p, buf);
    }
    *close = '\0';
    char *rest = lskip(close + 1);
    if (*rest && *rest != ';' && *rest != '#') {
      fail(p, p->lineno, -EINVAL, "unexpected text after ']'");
      return skip_section(p, buf);
    }
    if (open_section(p, start + 1) < 0)
      return p->fatal ? NULL : skip_section(p, buf);
    p->skip_keys = false;
    p->have_prev_key = false;
    /* inih only needs to see a section start, to end any multi-line value. */
    strcpy(buf, "[s]");
    return buf;
  }
  if (start > line && p->have_prev_key) {
    fail(p, p->lineno, -EINVAL,
         "%s %s: indented line continues the previous value; continuation "
         "lines are not supported, write the value on one line",
         p->cur ? sec_label(p, p->cur) : "[]", p->prev_key);
    return skip_line(buf);
  }
  char *key, *value;
  bool quoted;
  if (!split_pair(start, &key, &value, &quoted)) {
    fail(p, p->lineno, -EINVAL,
         "expected \"key = value\", \"[section]\" or a comment");
    return skip_line(buf);
  }
  if (!*key) {
    fail(p, p->lineno, -EINVAL, "missing key before '='");
    return skip_line(buf);
  }
  p->have_prev_key = true;
  snprintf(p->prev_key, sizeof p->prev_key, "%s", key);
  size_t key_len = strlen(key);
  if (!quoted && key_len < INIH_MAX_NAME && n < (size_t)num) {
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* The BOM and CR are gone; inih strips the rest as we did. */
    return buf;
  }
  int vi = side_put(p, value);
  int ki = key_len < INIH_MAX_NAME ? 0 : side_put(p, key);
  if (vi < 0 || ki < 0) {
    fail(p, p->lineno, -ENOMEM, "out of memory");
    return NULL;
  }
  if (key_len < INIH_MAX_NAME)
    snprintf(buf, (size_t)num, "%s = %c%d", key, PLACEHOLDER, vi);
  else
    snprintf(buf, (size_t)num, "%c%d = %c%d", PLACEHOLDER, ki, PLACEHOLDER, vi);
  return buf;
}

static int on_pair(void *user, const char *section, const char *name,
                   const char *value) {
  struct parser *p = user;
  (void)section; /* read_line tracks sections; inih's copy is truncated */
  /* errors are recorded here, never returned: inih would stop reading */
  if (p->fatal || p->skip_keys)
    return 1;
  name = side_get(p, name);
  value = side_get(p, value);
  int line = p->lineno;
  struct section *s = p->cur;
  if (!s) {
    fail(p, line, -EINVAL, "%s: key outside any section", name);
    return 1;
  }
  size_t n;
  const struct key_def *keys = keys_of(s->kind, &n);
  size_t k = 0;
  while (k < n && strcmp(keys[k].name, name) != 0)
    k++;
  if (k == n) {
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
      size_t used = strlen(list);
      snprintf(list + used, sizeof list - used, "%s%s", i ? " " : "",
               keys[i].name);
    }
    fail(p, line, -EINVAL, "%s %s: unknown key (expected one of: %s)",
         sec_label(p, s), name, list);
    return 1;
  }
  if (s->key_line[k]) {
    fail(p, line, -EINVAL, "%s %s: repeated key (first set on line %d)",
         sec_label(p, s), name, s->key_line[k]);
    return 1;
  }
  s->key_line[k] = line;
  p->why[0] = '\0';
  p->rc = 0;
  if (keys[k].set(p, sec_object(p, s), value) < 0)
    fail(p, line, p->rc ? p->rc : -EINVAL, "%s %s: %s", sec_label(p, s), name,
         p->why);
  return 1;
}

/* Checks after the whole file is read */

static const bsl_format_conf *find_format(const bsl_config *c,
                                          const char *name) {
  for (size_t i = 0; i < c->n_formats; i++)
    if (strcmp(c->formats[i].name, name) == 0)
      return &c->formats[i];
  return NULL;
}

static bool has_goal(const bsl_config *c, const char *name) {
  for (size_t i = 0; i < c->n_goals; i++)
    if (strcmp(c->goals[i].name, name) == 0)
      return true;
  return false;
}

static void check_source(struct parser *p, struct section *s) {
  bsl_source_conf *src = &p->cfg->sources[s->index];
  const char *label = sec_label(p, s);
  if (!src->path && !src->listen) {
    if (!s->key_line[SRC_PATH] && !s->key_line[SRC_LISTEN])
      fail(p, s->line, -EINVAL,
           "%s path: missing (a source needs path or "
           "listen)",
           label);
    return;
  }
  if (!src->site && set_str(p, &src->site, "") < 0) {
    fail(p, s->line, -ENOMEM, "out of memory");
    return;
  }
  if (!src->format) {
    const char *def =
        src->type == BSL_SOURCE_CAMPAIGN ? CAMPAIGN_FORMAT : access_formats[0];
    if (set_str(p, &src->format, def) < 0)
      fail(p, s->line, -ENOMEM, "out of memory");
    return;
  }
  int kind = -1;
  if (one_of(src->format, access_formats, COUNT(access_formats)))
    kind = BSL_SOURCE_ACCESS;
  else if (one_of(src->format, campaign_formats, COUNT(campaign_formats)))
    kind = BSL_SOURCE_CAMPAIGN;
  else {
    const bsl_format_conf *f = find_format(p->cfg, src->format);
    if (!f) {
      fail(p, s->key_line[SRC_FORMAT], -EINVAL,
           "%s format: unknown format \"%s\" (built in: combined common "
           "vcombined campaign-csv sendgrid-json mailgun-json; or define "
           "[format \"%s\"])",
           label, src->format, src->format);
      return;
    }
    if (f->has_type)
      kind = (int)f->type;
  }
  if (kind < 0)
    return;
  if (!s->key_line[SRC_TYPE])
    src->type = (enum bsl_source_type)kind;
  else if ((int)src->type != kind)
    fail(p, s->key_line[SRC_FORMAT], -EINVAL,
         "%s format: \"%s\" is a%s format but type is %s", label, src->format,
         kind == BSL_SOURCE_CAMPAIGN ? " campaign" : "n access",
         src->type == BSL_SOURCE_CAMPAIGN ? "campaign" : "access");
}

/* A target written as a percentage means a fraction: right for a rate,
 * wrong for a count, a scroll depth in points or an amount; and a rate
 * target above 1 is a percentage written without its sign. */
static void check_target(struct parser *p, struct section *s,
                         const bsl_kpi_conf *k, const bsl_metric *m,
                         const char *label) {
  const char *text = s->target_text;
  bool percent = strchr(text, '%') != NULL;
  int line = s->key_line[KPI_TARGET];
  if (percent && !m->percent) {
    char number[32];
    snprintf(number, sizeof number, "%.*s", (int)strcspn(text, "%"), text);
    const char *advice =
        m->kind == BSL_METRIC_MONEY  ? "write it in currency units, e.g. target"
        : m->kind == BSL_METRIC_MEAN ? "write target"
                                     : "write the number, e.g. target";
    fail(p, line, -EINVAL,
         "%s target: \"%s\" is a percentage, but %s is %s (%s = %s)", label,
         text, m->name, m->scale, advice, number);
  } else if (m->percent && !percent && (k->target > 1 || k->target < 0)) {
    fail(p, line, -EINVAL,
         "%s target: %s is not a rate (%s is %s: write %s%% or %g)", label,
         text, m->name, m->scale, text, k->target / 100);
  }
}

static void check_kpi(struct parser *p, struct section *s) {
  bsl_kpi_conf *k = &p->cfg->kpis[s->index];
  const char *label = sec_label(p, s);
  if (!k->metric) {
    if (!s->key_line[KPI_METRIC]) /* a refused metric is reported already */
      fail(p, s->line, -EINVAL, "%s metric: missing (required)", label);
    return;
  }
  const bsl_metric *m = bsl_metric_find(k->metric);
  if (k->has_target)
    check_target(p, s, k, m, label);
  if (m->needs_goal && !k->goal) {
    if (!s->key_line[KPI_GOAL])
      fail(p, s->line, -EINVAL, "%s goal: missing (required by metric %s)",
           label, k->metric);
  } else if (k->goal && !m->needs_goal) {
    char names[256];
    bsl_metric_names(true, ", ", " and ", names, sizeof names);
    fail(p, s->key_line[KPI_GOAL], -EINVAL,
         "%s goal: not used by metric %s (only %s take a goal)", label,
         k->metric, names);
  } else if (k->goal && !has_goal(p->cfg, k->goal))
    fail(p, s->key_line[KPI_GOAL], -EINVAL,
         "%s goal: unknown goal \"%s\" (no [goal \"%s\"] section)", label,
         k->goal, k->goal);
  if (k->deadline[0] && !k->has_target && !s->key_line[KPI_TARGET])
    fail(p, s->key_line[KPI_DEADLINE], -EINVAL, "%s deadline: needs a target",
         sec_label(p, s));
}

/* The kind of source a [format] serves: its own type, else that of a
 * source naming it with an explicit type campaign, else access (what a
 * source or `ingest --format` takes it for). */
static enum bsl_source_type format_kind(const struct parser *p,
                                        const bsl_format_conf *f) {
  if (f->has_type)
    return f->type;
  for (size_t i = 0; i < p->n_secs; i++) {
    const struct section *s = &p->secs[i];
    if (s->kind != SEC_SOURCE || !s->key_line[SRC_TYPE])
      continue;
    const bsl_source_conf *src = &p->cfg->sources[s->index];
    if (src->format && strcmp(src->format, f->name) == 0 &&
        src->type == BSL_SOURCE_CAMPAIGN)
      return BSL_SOURCE_CAMPAIGN;
  }
  return BSL_SOURCE_ACCESS;
}

/* A named group that no parser reads is a typo (?<ip> for ?<remote_addr>)
 * that would leave the field empty on every line. */
static void check_format(struct parser *p, struct section *s) {
  bsl_format_conf *f = &p->cfg->formats[s->index];
  const char *label = sec_label(p, s);
  if (!f->regex) {
    if (!s->key_line[FMT_REGEX])
      fail(p, s->line, -EINVAL, "%s regex: missing (required)", label);
    return;
  }
  int line = s->key_line[FMT_REGEX];
  enum bsl_source_type kind = format_kind(p, f);
  const char *const *groups =
      kind == BSL_SOURCE_CAMPAIGN ? campaign_groups : access_groups;
  size_t n_groups = kind == BSL_SOURCE_CAMPAIGN ? COUNT(campaign_groups)
                                                : COUNT(access_groups);
  int code;
  PCRE2_SIZE off;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)f->regex, PCRE2_ZERO_TERMINATED, 0,
                                 &code, &off, NULL);
  if (!re)
    return; /* reported when the key was read */
  uint32_t count = 0, size = 0;
  PCRE2_SPTR table = NULL;
  pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
  pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &size);
  pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
  char unknown[256] = "";
  size_t used = 0;
  for (uint32_t i = 0; i < count && table; i++) {
    /* each entry: the group number (2 bytes), then the name */
    const char *name = (const char *)table + (size_t)i * size + 2;
    if (!one_of(name, groups, n_groups) && used < sizeof unknown)
      used += (size_t)snprintf(unknown + used, sizeof unknown - used,
                               "%s(?<%s>...)", used ? " " : "", name);
  }
  bool has_event =
      pcre2_substring_number_from_name(re, (PCRE2_SPTR) "event") > 0;
  pcre2_code_free(re);
  if (used) {
    char list[160] = "";
    for (size_t i = 0, n = 0; i < n_groups; i++)
      n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? " " : "",
                            groups[i]);
    fail(p, line, -EINVAL, "%s regex: unknown named group%s %s (%s uses %s)",
         label, strchr(unknown, ' ') ? "s" : "", unknown,
         kind == BSL_SOURCE_CAMPAIGN ? "a campaign format" : "an access format",
         list);
  } else if (kind == BSL_SOURCE_CAMPAIGN && !has_event) {
    fail(p, line, -EINVAL,
         "%s regex: a campaign format needs the named group (?<event>...)",
         label);
  }
}

static void check_sections(struct parser *p) {
  for (size_t i = 0; i < p->n_secs; i++) {
    struct section *s = &p->secs[i];
    switch (s->kind) {
    case SEC_SOURCE:
      check_source(p, s);
      break;
    case SEC_FORMAT:
      check_format(p, s);
      break;
    case SEC_GOAL:
      if (!p->cfg->goals[s->index].path && !s->key_line[0])
        fail(p, s->line, -EINVAL, "%s path: missing (required)",
             sec_label(p, s));
      break;
    case SEC_KPI:
      check_kpi(p, s);
      break;
    default:
      break;
    }
  }
}

/* Loading */

static int set_defaults(bsl_config *c) {
  c->db = strdup("./boussole.db");
  c->timezone = strdup("UTC");
  c->beacon_path = strdup("/collect");
  c->session_timeout = 30 * 60;
  c->flush_interval = 1.0;
  c->max_open_visits = BSL_DEFAULT_MAX_OPEN_VISITS;
  c->static_extensions = calloc(COUNT(default_extensions), sizeof(char *));
  if (!c->db || !c->timezone || !c->beacon_path || !c->static_extensions)
    return -ENOMEM;
  for (size_t i = 0; i < COUNT(default_extensions); i++) {
    if (!(c->static_extensions[i] = strdup(default_extensions[i])))
      return -ENOMEM;
    c->n_static_extensions++;
  }
  return 0;
}

/* Reads PATH whole; a config larger than MAX_FILE_BYTES is refused. */
static int slurp(struct parser *p, const char *path, char **text, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    int err = errno;
    fail(p, 0, -err, "%s", strerror(err));
    return -1;
  }
  char *buf = malloc(MAX_FILE_BYTES + 1);
  size_t got = buf ? fread(buf, 1, MAX_FILE_BYTES + 1, f) : 0;
  int err = buf ? (ferror(f) ? errno : 0) : ENOMEM;
  fclose(f);
  if (err) {
    free(buf);
    fail(p, 0, -err, "%s", strerror(err));
    return -1;
  }
  if (got > MAX_FILE_BYTES) {
    free(buf);
    fail(p, 0, -EFBIG, "larger than %d bytes; not a config file?",
         MAX_FILE_BYTES);
    return -1;
  }
  *text = buf;
  *len = got;
  return 0;
}

static bool has_error_at(const struct parser *p, int line) {
  for (size_t i = 0; i < p->n_errs; i++)
    if (p->errs[i].line == line)
      return true;
  return false;
}

static int by_line(const void *a, const void *b) {
  const struct error *x = a, *y = b;
  return (x->line > y->line) - (x->line < y->line);
}

/* Every error, one per line in line order, into ERR (as many as fit, then a
 * line saying how many more); returns the code of the first, -ENOMEM if any
 * is one. */
static int report_errors(struct parser *p, char *err, size_t errlen) {
  /* recorded in order of discovery: the checks after the read come last;
   * sorting by line is stable enough, as a line has one error */
  if (p->n_errs > 1)
    qsort(p->errs, p->n_errs, sizeof *p->errs, by_line);
  int rc = p->n_errs ? p->errs[0].rc : -ENOMEM;
  for (size_t i = 0; i < p->n_errs; i++)
    if (p->errs[i].rc == -ENOMEM)
      rc = -ENOMEM;
  if (!err || !errlen)
    return rc ? rc : -EINVAL;
  err[0] = '\0';
  size_t used = 0, shown = 0;
  for (; shown < p->n_errs; shown++) {
    const char *m = p->errs[shown].msg ? p->errs[shown].msg : "out of memory";
    size_t n = strlen(m) + (shown ? 1 : 0);
    /* keep room for the "more" line unless this is the last error */
    size_t room = shown + 1 < p->n_errs || p->more_errs ? 80 : 0;
    if (used + n + room >= errlen && shown > 0)
      break;
    used += (size_t)snprintf(err + used, errlen - used, "%s%s",
                             shown ? "\n" : "", m);
    if (used >= errlen)
      used = errlen - 1;
  }
  size_t more = p->n_errs - shown + p->more_errs;
  if (more && used + 1 < errlen)
    snprintf(err + used, errlen - used, "\n%s: %zu more error%s not shown",
             p->file, more, more == 1 ? "" : "s");
  return rc ? rc : -EINVAL;
}

/*
 * Loads PATH over the built-in defaults, or only the defaults when PATH is
 * NULL.  Returns 0, -ENOMEM, -errno when the file cannot be read, or -EINVAL
 * for a content error; on error *out is NULL and err holds one line.
 */
int bsl_config_load(bsl_config **out, const char *path, char *err,
                    size_t errlen) {
  *out = NULL;
  if (err && errlen)
    err[0] = '\0';
  bsl_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg || set_defaults(cfg) < 0) {
    bsl_config_destroy(cfg);
    if (err && errlen)
      snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  if (!path) {
    *out = cfg;
    return 0;
  }
  struct parser p = {.cfg = cfg, .file = path};
  char *text = NULL;
  if (!(cfg->file = strdup(path)))
    fail(&p, 0, -ENOMEM, "out of memory");
  else if (slurp(&p, path, &text, &p.len) == 0) {
    p.text = text;
    int rc = ini_parse_stream(read_line, &p, on_pair, &p);
    if (rc == -2)
      fail(&p, 0, -ENOMEM, "out of memory");
    else if (rc > 0 && !has_error_at(&p, rc))
      fail(&p, rc, -EINVAL, "syntax error");
    if (!p.fatal)
      check_sections(&p);
  }
  free(text);
  free(p.line);
  for (size_t i = 0; i < p.n_side; i++)
    free(p.side[i]);
  free(p.side);
  free(p.secs);
  int rc = 0;
  if (failed(&p)) {
    rc = report_errors(&p, err, errlen);
    bsl_config_destroy(cfg);
    free(p.warnings);
  } else {
    cfg->warnings = p.warnings;
    *out = cfg;
  }
  for (size_t i = 0; i < p.n_errs; i++)
    free(p.errs[i].msg);
  free(p.errs);
  return rc;
}

void bsl_config_destroy(bsl_config *cfg) {
  if (!cfg)
    return;
  free(cfg->warnings);
  free(cfg->file);
  free(cfg->db);
  free(cfg->host);
  free(cfg->timezone);
  free(cfg->beacon_path);
  free_list(cfg->static_extensions, cfg->n_static_extensions);
  free(cfg->metrics_file);
  free(cfg->alert_command);
  free(cfg->bot_rules);
  free(cfg->channel_rules);
  for (size_t i = 0; i < cfg->n_sources; i++) {
    bsl_source_conf *s = &cfg->sources[i];
    free(s->name);
    free(s->path);
    free(s->listen);
    free(s->format);
    free(s->site);
  }
  free(cfg->sources);
  for (size_t i = 0; i < cfg->n_formats; i++) {
    free(cfg->formats[i].name);
    free(cfg->formats[i].regex);
    free(cfg->formats[i].time_format);
  }
  free(cfg->formats);
  for (size_t i = 0; i < cfg->n_goals; i++) {
    free(cfg->goals[i].name);
    free(cfg->goals[i].path);
  }
  free(cfg->goals);
  for (size_t i = 0; i < cfg->n_kpis; i++) {
    bsl_kpi_conf *k = &cfg->kpis[i];
    free(k->name);
    free(k->metric);
    free(k->goal);
    free(k->filter_key);
    free(k->filter_value);
  }
  free(cfg->kpis);
  free(cfg);
}

const bsl_format_conf *bsl_config_find_format(const bsl_config *cfg,
                                              const char *name) {
  return cfg && name ? find_format(cfg, name) : NULL;
}

/* Printing */

/* A value needs quotes when inih would otherwise trim, cut or unquote it. */
static bool needs_quotes(const char *v) {
  size_t len = strlen(v);
  if (!len)
    return false;
  if (isspace((unsigned char)v[0]) || isspace((unsigned char)v[len - 1]) ||
      v[0] == ';' || (len >= 2 && v[0] == '"' && v[len - 1] == '"'))
    return true;
  for (size_t i = 1; i < len; i++)
    if (v[i] == ';' && isspace((unsigned char)v[i - 1]))
      return true;
  return false;
}

static void put(FILE *out, const char *key, const char *v) {
  if (needs_quotes(v))
    fprintf(out, "%s = \"%s\"\n", key, v);
  else
    fprintf(out, "%s = %s\n", key, v);
}

/* The largest unit that states SECONDS exactly, so "30m" prints as 30m. */
static void put_duration(FILE *out, const char *key, double seconds) {
  static const struct {
    double size;
    const char *suffix;
  } units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (size_t i = 0; i < COUNT(units); i++) {
    if (seconds >= units[i].size && seconds < 1e15 &&
        fmod(seconds, units[i].size) == 0) {
      fprintf(out, "%s = %.0f%s\n", key, seconds / units[i].size,
              units[i].suffix);
      return;
    }
  }
  double ms = round(seconds * 1000);
  if (ms >= 1 && ms < 1e15 && ms / 1000.0 == seconds)
    fprintf(out, "%s = %.0fms\n", key, ms);
  else
    fprintf(out, "%s = %.17g\n", key, seconds);
}

/* The shortest text that parses back to exactly X. */
static void put_number(FILE *out, const char *key, double x) {
  char buf[64];
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (strtod(buf, NULL) == x)
      break;
  }
  fprintf(out, "%s = %s\n", key, buf);
}

static const char *type_name(enum bsl_source_type t) {
  return t == BSL_SOURCE_CAMPAIGN ? "campaign" : "access";
}

/*
 * Writes CFG as an INI file that bsl_config_load() reads back to the same
 * settings: every effective value, defaults included, unset options omitted.
 */
void bsl_config_print(const bsl_config *cfg, FILE *out) {
  fprintf(out, "; effective settings of ");
  if (cfg->file)
    for (const char *c = cfg->file; *c; c++)
      fputc((unsigned char)*c < 0x20 ? '?' : *c, out); /* keep it one line */
  else
    fprintf(out, "the built-in defaults");
  fprintf(out, "\n[boussole]\n");
  put(out, "db", cfg->db);
  if (cfg->host)
    put(out, "host", cfg->host);
  put(out, "timezone", cfg->timezone);
  put_duration(out, "session_timeout", cfg->session_timeout);
  put(out, "beacon_path", cfg->beacon_path);
  /* Joined first, so that quoting sees the whole list as it will be read. */
  char *list = NULL;
  size_t list_len = 0;
  FILE *joined = open_memstream(&list, &list_len);
  if (joined) {
    for (size_t i = 0; i < cfg->n_static_extensions; i++)
      fprintf(joined, "%s%s", i ? " " : "", cfg->static_extensions[i]);
    if (fclose(joined) == 0)
      put(out, "static_extensions", list);
    free(list);
  }
  put_duration(out, "flush_interval", cfg->flush_interval);
  fprintf(out, "max_open_visits = %zu\n", cfg->max_open_visits);
  if (cfg->metrics_file)
    put(out, "metrics_file", cfg->metrics_file);
  if (cfg->alert_command)
    put(out, "alert_command", cfg->alert_command);
  if (cfg->bot_rules)
    put(out, "bot_rules", cfg->bot_rules);
  if (cfg->channel_rules)
    put(out, "channel_rules", cfg->channel_rules);

  for (size_t i = 0; i < cfg->n_formats; i++) {
    const bsl_format_conf *f = &cfg->formats[i];
    fprintf(out, "\n[format \"%s\"]\n", f->name);
    put(out, "regex", f->regex);
    if (f->time_format)
      put(out, "time_format", f->time_format);
    if (f->has_type)
      put(out, "type", type_name(f->type));
  }
  for (size_t i = 0; i < cfg->n_sources; i++) {
    const bsl_source_conf *s = &cfg->sources[i];
    fprintf(out, "\n[source \"%s\"]\n", s->name);
    if (s->path)
      put(out, "path", s->path);
    if (s->listen)
      put(out, "listen", s->listen);
    put(out, "type", type_name(s->type));
    put(out, "format", s->format);
    if (s->site && *s->site)
      put(out, "site", s->site);
  }
  for (size_t i = 0; i < cfg->n_goals; i++) {
    fprintf(out, "\n[goal \"%s\"]\n", cfg->goals[i].name);
    put(out, "path", cfg->goals[i].path);
  }
  for (size_t i = 0; i < cfg->n_kpis; i++) {
    const bsl_kpi_conf *k = &cfg->kpis[i];
    fprintf(out, "\n[kpi \"%s\"]\n", k->name);
    put(out, "metric", k->metric);
    if (k->goal)
      put(out, "goal", k->goal);
    if (k->filter_key) {
      char *filter = NULL;
      if (asprintf(&filter, "%s=%s", k->filter_key, k->filter_value) >= 0) {
        put(out, "filter", filter);
        free(filter);
      }
    }
    put(out, "period", k->period == BSL_PERIOD_WEEK ? "week" : "day");
    put(out, "direction", k->direction < 0 ? "down" : "up");
    if (k->has_target)
      put_number(out, "target", k->target);
    if (k->deadline[0])
      put(out, "deadline", k->deadline);
    fprintf(out, "window = %d\n", k->window);
    put_number(out, "min_change", k->min_change);
  }
}
