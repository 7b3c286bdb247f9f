/*
 * Unit tests for config/config.c: the built-in defaults, a file using every
 * section and key, the shipped boussole.conf, each class of error with the
 * exact "FILE:LINE:" it must name, values longer than inih's 200-byte lines,
 * comments and quoting, and the print -> load round trip that `boussole
 * check` relies on.
 */
/* cmocka.h needs these first. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* Each test writes its file here; messages name it, so tests compare the
 * prefix "PATH:LINE: " exactly. */
static char conf_path[128];
static char tmp_dir[64]; /* mkdtemp under /tmp: short */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static int load_text(const char *text, bsl_config **cfg, char *err,
                     size_t errlen) {
  write_file(conf_path, text);
  return bsl_config_load(cfg, conf_path, err, errlen);
}

static bsl_config *load_ok(const char *text) {
  bsl_config *cfg = NULL;
  char err[1024];
  int rc = load_text(text, &cfg, err, sizeof err);
  if (rc != 0)
    fail_msg("unexpected error: %s", err);
  assert_non_null(cfg);
  return cfg;
}

/* Asserts that TEXT fails at LINE (0: no line) with a message containing
 * WHAT, and that the message is exactly one line. */
static void expect_error(const char *text, int line, const char *what) {
  bsl_config *cfg = (bsl_config *)1;
  char err[1024];
  assert_true(load_text(text, &cfg, err, sizeof err) < 0);
  assert_null(cfg);
  char prefix[PATH_MAX + 32];
  if (line > 0)
    snprintf(prefix, sizeof prefix, "%s:%d: ", conf_path, line);
  else
    snprintf(prefix, sizeof prefix, "%s: ", conf_path);
  if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what) ||
      strchr(err, '\n'))
    fail_msg("expected \"%s...%s\", got \"%s\"", prefix, what, err);
}

/* Asserts that TEXT fails with exactly the N lines WANT[i] = "LINE:what"
 * ("0:what" for no line), in that order: every error of a file is
 * reported, one per line, in line order. */
static void expect_errors(const char *text, size_t n, const char *const *want) {
  bsl_config *cfg = (bsl_config *)1;
  char err[8192];
  assert_true(load_text(text, &cfg, err, sizeof err) < 0);
  assert_null(cfg);
  const char *line = err;
  for (size_t i = 0; i < n; i++) {
    if (!*line)
      fail_msg("error %zu of %zu missing; got \"%s\"", i + 1, n, err);
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    int at = atoi(want[i]);
    const char *what = strchr(want[i], ':') + 1;
    char prefix[PATH_MAX + 32];
    if (at > 0)
      snprintf(prefix, sizeof prefix, "%s:%d: ", conf_path, at);
    else
      snprintf(prefix, sizeof prefix, "%s: ", conf_path);
    char one[2048];
    snprintf(one, sizeof one, "%.*s", (int)len, line);
    if (strncmp(one, prefix, strlen(prefix)) != 0 || !strstr(one, what))
      fail_msg("error %zu: expected \"%s...%s\", got \"%s\" (all: %s)", i + 1,
               prefix, what, one, err);
    line = nl ? nl + 1 : line + len;
  }
  if (*line)
    fail_msg("more errors than the %zu expected: \"%s\"", n, line);
}

static int setup(void **state) {
  (void)state;
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_config.XXXXXX");
  if (!mkdtemp(tmp_dir))
    return -1;
  snprintf(conf_path, sizeof conf_path, "%s/boussole.conf", tmp_dir);
  /* A private zoneinfo keeps the tests independent of installed tzdata. */
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/zoneinfo", tmp_dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/zoneinfo/Europe", tmp_dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/zoneinfo/Europe/Paris", tmp_dir);
  write_file(path, "TZif2 not a real zone, only the magic is checked");
  snprintf(path, sizeof path, "%s/zoneinfo/NotAZone", tmp_dir);
  write_file(path, "garbage");
  snprintf(path, sizeof path, "%s/zoneinfo", tmp_dir);
  setenv("TZDIR", path, 1);
  snprintf(path, sizeof path, "%s/bots.rules", tmp_dir);
  write_file(path, "# extra bots\n");
  /* an alert_command that exists, and one that cannot run */
  snprintf(path, sizeof path, "%s/notify", tmp_dir);
  write_file(path, "#!/bin/sh\ncat > /dev/null\n");
  chmod(path, 0755);
  snprintf(path, sizeof path, "%s/notify.txt", tmp_dir);
  write_file(path, "not a program\n");
  chmod(path, 0644);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_defaults(void **state) {
  (void)state;
  bsl_config *cfg = NULL;
  char err[256] = "untouched";
  assert_int_equal(bsl_config_load(&cfg, NULL, err, sizeof err), 0);
  assert_string_equal(err, "");
  assert_null(cfg->file);
  assert_string_equal(cfg->db, "./boussole.db");
  assert_string_equal(cfg->timezone, "UTC");
  assert_int_equal(cfg->session_timeout, 1800);
  assert_string_equal(cfg->beacon_path, "/collect");
  assert_true(cfg->flush_interval == 1.0);
  static const char *const exts[] = {"css",  "js",   "mjs",   "png", "jpg",
                                     "jpeg", "gif",  "svg",   "ico", "webp",
                                     "avif", "woff", "woff2", "ttf", "eot",
                                     "map",  "txt",  "xml",   "json"};
  assert_int_equal(cfg->n_static_extensions, sizeof exts / sizeof exts[0]);
  for (size_t i = 0; i < cfg->n_static_extensions; i++)
    assert_string_equal(cfg->static_extensions[i], exts[i]);
  assert_null(cfg->metrics_file);
  assert_null(cfg->alert_command);
  assert_null(cfg->bot_rules);
  assert_null(cfg->channel_rules);
  assert_int_equal(cfg->n_sources, 0);
  assert_int_equal(cfg->n_formats, 0);
  assert_int_equal(cfg->n_goals, 0);
  assert_int_equal(cfg->n_kpis, 0);
  assert_null(bsl_config_find_format(cfg, "combined"));
  bsl_config_destroy(cfg);
  bsl_config_destroy(NULL);
}

static char *full_config(void) {
  static char text[8192];
  snprintf(text, sizeof text,
           "; every section and key\n"             /* 1 */
           "[boussole]\n"                          /* 2 */
           "db = /var/lib/boussole/b.db\n"         /* 3 */
           "timezone = Europe/Paris\n"             /* 4 */
           "session_timeout = 45m\n"               /* 5 */
           "beacon_path = /b.gif\n"                /* 6 */
           "static_extensions = .CSS js .Png\n"    /* 7 */
           "flush_interval = 250ms\n"              /* 8 */
           "metrics_file = /tmp/boussole.prom\n"   /* 9 */
           "alert_command = %s/notify --to team\n" /* 10 */
           "bot_rules = %s/bots.rules\n"           /* 11 */
           "channel_rules = %s/bots.rules\n"       /* 12 */
           "\n"                                    /* 13 */
           "[source \"www\"]\n"                    /* 14 */
           "path = /var/log/nginx/access.log*\n"   /* 15 */
           "listen = 127.0.0.1:5140\n"             /* 16 */
           "type = access\n"                       /* 17 */
           "format = myformat\n"                   /* 18 */
           "site = www.example.com\n"              /* 19 */
           "[source mail]\n"                       /* 20 */
           "path = /var/log/mail/*.csv\n"          /* 21 */
           "type = campaign\n"                     /* 22 */
           "[source \"events\"]\n"                 /* 23 */
           "listen = [::1]:514\n"                  /* 24 */
           "format = events\n"                     /* 25 */
           "[format \"myformat\"]\n"               /* 26 */
           "regex = ^(?<remote_addr>\\S+) \\[(?<time>[^\\]]+)\\] "
           "\"(?<request>[^\"]*)\" (?<status>\\d{3})\n"                 /* 27 */
           "time_format = %%d/%%b/%%Y:%%H:%%M:%%S %%z\n"                /* 28 */
           "type = access\n"                                            /* 29 */
           "[format events]\n"                                          /* 30 */
           "regex = ^(?<time>\\S+),(?<campaign>[^,]*),(?<event>\\w+)\n" /* 31 */
           "type = campaign\n"                                          /* 32 */
           "[goal \"signup\"]\n"                                        /* 33 */
           "path = ^/thank-you\n"                                       /* 34 */
           "[kpi \"email-signup-rate\"]\n"                              /* 35 */
           "metric = conversion_rate\n"                                 /* 36 */
           "goal = signup\n"                                            /* 37 */
           "filter = channel=email\n"                                   /* 38 */
           "period = week\n"                                            /* 39 */
           "direction = down\n"                                         /* 40 */
           "target = 5%%\n"                                             /* 41 */
           "deadline = 2028-02-29\n"                                    /* 42 */
           "window = 12\n"                                              /* 43 */
           "min_change = 0.1\n"                                         /* 44 */
           "[kpi \"visits\"]\n"                                         /* 45 */
           "metric = visits\n",                                         /* 46 */
           tmp_dir, tmp_dir, tmp_dir);
  return text;
}

static void test_full_file(void **state) {
  (void)state;
  bsl_config *cfg = load_ok(full_config());
  assert_string_equal(cfg->file, conf_path);
  assert_string_equal(cfg->db, "/var/lib/boussole/b.db");
  assert_string_equal(cfg->timezone, "Europe/Paris");
  assert_int_equal(cfg->session_timeout, 45 * 60);
  assert_string_equal(cfg->beacon_path, "/b.gif");
  assert_int_equal(cfg->n_static_extensions, 3);
  assert_string_equal(cfg->static_extensions[0], "css");
  assert_string_equal(cfg->static_extensions[1], "js");
  assert_string_equal(cfg->static_extensions[2], "png");
  assert_true(cfg->flush_interval == 0.25);
  assert_string_equal(cfg->metrics_file, "/tmp/boussole.prom");
  char notify[PATH_MAX];
  snprintf(notify, sizeof notify, "%s/notify --to team", tmp_dir);
  assert_string_equal(cfg->alert_command, notify);
  assert_non_null(strstr(cfg->bot_rules, "/bots.rules"));
  assert_non_null(strstr(cfg->channel_rules, "/bots.rules"));

  assert_int_equal(cfg->n_sources, 3);
  const bsl_source_conf *www = &cfg->sources[0];
  assert_string_equal(www->name, "www");
  assert_string_equal(www->path, "/var/log/nginx/access.log*");
  assert_string_equal(www->listen, "127.0.0.1:5140");
  assert_int_equal(www->type, BSL_SOURCE_ACCESS);
  assert_string_equal(www->format, "myformat");
  assert_string_equal(www->site, "www.example.com");
  assert_int_equal(www->line, 14);
  const bsl_source_conf *mail = &cfg->sources[1];
  assert_string_equal(mail->name, "mail");
  assert_int_equal(mail->type, BSL_SOURCE_CAMPAIGN);
  assert_string_equal(mail->format, "campaign-csv");
  assert_string_equal(mail->site, "");
  assert_null(mail->listen);
  const bsl_source_conf *events = &cfg->sources[2];
  assert_null(events->path);
  assert_string_equal(events->listen, "[::1]:514");
  /* No type of its own: it takes the type of its [format]. */
  assert_int_equal(events->type, BSL_SOURCE_CAMPAIGN);

  assert_int_equal(cfg->n_formats, 2);
  const bsl_format_conf *f = bsl_config_find_format(cfg, "myformat");
  assert_ptr_equal(f, &cfg->formats[0]);
  assert_string_equal(f->regex, "^(?<remote_addr>\\S+) \\[(?<time>[^\\]]+)\\] "
                                "\"(?<request>[^\"]*)\" (?<status>\\d{3})");
  assert_string_equal(f->time_format, "%d/%b/%Y:%H:%M:%S %z");
  assert_true(f->has_type);
  assert_int_equal(f->type, BSL_SOURCE_ACCESS);
  assert_int_equal(f->line, 26);
  assert_null(cfg->formats[1].time_format);
  assert_null(bsl_config_find_format(cfg, "nope"));

  assert_int_equal(cfg->n_goals, 1);
  assert_string_equal(cfg->goals[0].name, "signup");
  assert_string_equal(cfg->goals[0].path, "^/thank-you");
  assert_int_equal(cfg->goals[0].line, 33);

  assert_int_equal(cfg->n_kpis, 2);
  const bsl_kpi_conf *k = &cfg->kpis[0];
  assert_string_equal(k->name, "email-signup-rate");
  assert_string_equal(k->metric, "conversion_rate");
  assert_string_equal(k->goal, "signup");
  assert_string_equal(k->filter_key, "channel");
  assert_string_equal(k->filter_value, "email");
  assert_int_equal(k->period, BSL_PERIOD_WEEK);
  assert_int_equal(k->direction, -1);
  assert_true(k->has_target);
  assert_true(k->target == 0.05);
  assert_string_equal(k->deadline, "2028-02-29");
  assert_int_equal(k->window, 12);
  assert_true(k->min_change == 0.1);
  const bsl_kpi_conf *v = &cfg->kpis[1];
  assert_null(v->goal);
  assert_null(v->filter_key);
  assert_int_equal(v->period, BSL_PERIOD_DAY);
  assert_int_equal(v->direction, 1);
  assert_false(v->has_target);
  assert_string_equal(v->deadline, "");
  assert_int_equal(v->window, 28);
  assert_true(v->min_change == 0.05);
  bsl_config_destroy(cfg);
}

/* The shipped file, found from this source file's location. */
static char *read_shipped(void) {
  char src[PATH_MAX], path[PATH_MAX + 64];
  /* BSL_SOURCE_DIR (set by ctest) first: a build with -ffile-prefix-map
   * (as dpkg-buildflags sets) makes __FILE__ relative to the source tree,
   * while ctest runs in the build tree */
  const char *top = getenv("BSL_SOURCE_DIR");
  if (top)
    snprintf(path, sizeof path, "%s/config/defaults/boussole.conf", top);
  else {
    snprintf(src, sizeof src, "%s", __FILE__);
    snprintf(path, sizeof path, "%s/../../config/defaults/boussole.conf",
             dirname(src));
  }
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open %s", path);
  static char text[65536];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  return text;
}

static void print_to(const bsl_config *cfg, char **text) {
  size_t len;
  FILE *out = open_memstream(text, &len);
  assert_non_null(out);
  bsl_config_print(cfg, out);
  assert_int_equal(fclose(out), 0);
}

/* The output of print without its first line, which names the file. */
static const char *body(const char *printed) {
  const char *nl = strchr(printed, '\n');
  return nl ? nl + 1 : printed;
}

static void test_shipped_file(void **state) {
  (void)state;
  char *text = read_shipped();
  bsl_config *shipped = load_ok(text);
  bsl_config *defaults = NULL;
  char err[256];
  assert_int_equal(bsl_config_load(&defaults, NULL, err, sizeof err), 0);
  char *a, *b;
  print_to(shipped, &a);
  print_to(defaults, &b);
  assert_string_equal(body(a), body(b));
  free(a);
  free(b);
  bsl_config_destroy(shipped);
  bsl_config_destroy(defaults);

  /* Its examples ("#key = value", no space after '#') must be valid too. */
  static char uncommented[65536];
  char *o = uncommented;
  for (const char *line = text; *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
    if (line[0] == '#' && len > 1 && line[1] != ' ' && line[1] != '\n' &&
        line[1] != '#')
      line++, len--;
    memcpy(o, line, len);
    o += len;
    line += len;
  }
  *o = '\0';
  /* The examples name a notifier and a node_exporter directory that this
   * machine need not have; the loader checks both (they must exist). */
  static char here[65536 + 1024];
  char notify[PATH_MAX];
  snprintf(notify, sizeof notify, "%s/notify", tmp_dir);
  const struct {
    const char *from, *to;
  } swap[] = {{"/usr/local/bin/notify-team", notify},
              {"/var/lib/node_exporter/textfile", tmp_dir}};
  snprintf(here, sizeof here, "%s", uncommented);
  for (size_t i = 0; i < sizeof swap / sizeof swap[0]; i++) {
    char *at = strstr(here, swap[i].from);
    assert_non_null(at);
    char rest[65536];
    snprintf(rest, sizeof rest, "%s", at + strlen(swap[i].from));
    snprintf(at, sizeof here - (size_t)(at - here), "%s%s", swap[i].to, rest);
  }
  bsl_config *examples = load_ok(here);
  assert_int_equal(examples->n_sources, 1);
  assert_int_equal(examples->n_formats, 1);
  assert_int_equal(examples->n_goals, 1);
  assert_int_equal(examples->n_kpis, 1);
  assert_non_null(examples->metrics_file);
  assert_non_null(examples->alert_command);
  /* Its regex line is longer than inih's 200-byte line. */
  assert_true(strlen("regex = ") + strlen(examples->formats[0].regex) > 200);
  assert_string_equal(examples->sources[0].listen, "127.0.0.1:5140");
  bsl_config_destroy(examples);
}

static void test_missing_file(void **state) {
  (void)state;
  bsl_config *cfg = (bsl_config *)1;
  char err[512], want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s/absent.conf", tmp_dir);
  assert_true(bsl_config_load(&cfg, want, err, sizeof err) < 0);
  assert_null(cfg);
  snprintf(want, sizeof want, "%s/absent.conf: No such file or directory",
           tmp_dir);
  assert_string_equal(err, want);
}

static void test_unknown_key(void **state) {
  (void)state;
  expect_error("[boussole]\ndb = x\n\nsession_timeot = 5m\n", 4,
               "[boussole] session_timeot: unknown key");
  expect_error("[source \"www\"]\npath = a\nsite = b\ncolour = red\n", 4,
               "[source \"www\"] colour: unknown key");
  expect_error("db = x\n", 1, "db: key outside any section");
  /* A key longer than inih's 49-byte name buffer is reported in full. */
  expect_error("[goal g]\npath = x\n"
               "a_very_long_key_name_that_does_not_fit_in_inih_buffers_at_all "
               "= 1\n",
               3,
               "[goal \"g\"] "
               "a_very_long_key_name_that_does_not_fit_in_inih_buffers_at_all:"
               " unknown key");
}

static void test_unknown_section(void **state) {
  (void)state;
  expect_error("[boussole]\ndb = x\n[sauce \"www\"]\npath = y\n", 3,
               "unknown section [sauce]");
  /* Even an empty one, which inih never reports to its handler. */
  expect_error("[boussole]\n[output]\n", 2, "unknown section [output]");
  expect_error("[source]\npath = x\n", 1, "needs a name");
  expect_error("[boussole x]\n", 1, "takes no name");
  expect_error("[source \"a b\"]\npath = x\n", 1, "bad source name");
  expect_error("[format \"combined\"]\nregex = (?<time>x)\n", 1,
               "built-in format");
}

static void test_syntax_errors(void **state) {
  (void)state;
  expect_error("[boussole]\n[source \"www\"\npath = x\n", 2,
               "section header without ']'");
  expect_error("[boussole] extra\n", 1, "unexpected text after ']'");
  expect_error("[boussole]\ndb\n", 2, "expected \"key = value\"");
  expect_error("[boussole]\n= x\n", 2, "missing key");
  expect_error("[boussole]\ndb = x\x01y\n", 2, "control character 0x01");
  expect_error("[boussole]\ndb = x\n  more\n", 3,
               "[boussole] db: indented line continues");
}

static void test_duplicates(void **state) {
  (void)state;
  expect_error("[goal \"a\"]\npath = x\n\n[goal \"a\"]\npath = y\n", 4,
               "duplicate section [goal \"a\"] (first on line 1)");
  expect_error("[boussole]\n[boussole]\n", 2,
               "duplicate section [boussole] (first on line 1)");
  /* Quoted and bare spellings name the same section. */
  expect_error("[goal \"a\"]\npath = x\n[goal a]\npath = y\n", 3,
               "duplicate section");
  expect_error("[source \"www\"]\npath = a\n; c\npath = b\n", 4,
               "[source \"www\"] path: repeated key (first set on line 2)");
}

static void test_bad_values(void **state) {
  (void)state;
  expect_error("[boussole]\nsession_timeout = 30 minutes\n", 2,
               "[boussole] session_timeout: bad duration \"30 minutes\"");
  expect_error("[boussole]\nsession_timeout = -5m\n", 2, "bad duration");
  expect_error("[boussole]\nsession_timeout = 0\n", 2, "at least 1");
  expect_error("[boussole]\nsession_timeout = 250ms\n", 2, "whole number");
  expect_error("[boussole]\nflush_interval = 1w\n", 2,
               "[boussole] flush_interval: bad duration");
  expect_error("[boussole]\nflush_interval = 0\n", 2, "between 1ms and 1d");
  expect_error("[boussole]\nbeacon_path = collect\n", 2, "start with '/'");
  expect_error("[boussole]\ntimezone = Mars/Olympus\n", 2,
               "[boussole] timezone: unknown time zone");
  expect_error("[boussole]\ntimezone = NotAZone\n", 2, "unknown time zone");
  expect_error("[boussole]\ntimezone = ../../etc/passwd\n", 2,
               "not a time zone name");
  expect_error("[boussole]\ntimezone = +25:00\n", 2, "time zone");
  expect_error("[boussole]\nbot_rules = /nonexistent/bots.rules\n", 2,
               "[boussole] bot_rules: /nonexistent/bots.rules: No such file "
               "or directory");
  expect_error("[boussole]\nchannel_rules = /tmp\n", 2, "Is a directory");
  expect_error("[boussole]\ndb =\n", 2, "must not be empty");
  expect_error("[source s]\nlisten = localhost:99999\n", 2,
               "[source \"s\"] listen: port must be");
  expect_error("[source s]\nlisten = localhost\n", 2, "host:port");
  expect_error("[source s]\nlisten = ::1:514\n", 2, "brackets");
  expect_error("[source s]\npath = x\ntype = web\n", 3,
               "must be access or campaign");
  expect_error("[kpi k]\nmetric = revenue\n", 2,
               "[kpi \"k\"] metric: unknown metric \"revenue\"");
  expect_error("[kpi k]\nmetric = visits\nfilter = country=fr\n", 3,
               "unknown filter key \"country\"");
  expect_error("[kpi k]\nmetric = visits\nfilter = device=phone\n", 3,
               "desktop, mobile or tablet");
  expect_error("[kpi k]\nmetric = visits\nfilter = channel\n", 3,
               "expected key=value");
  expect_error("[kpi k]\nmetric = visits\nperiod = month\n", 3, "day or week");
  expect_error("[kpi k]\nmetric = visits\ndirection = sideways\n", 3,
               "up or down");
  expect_error("[kpi k]\nmetric = visits\ntarget = lots\n", 3,
               "[kpi \"k\"] target: expected a number");
  expect_error("[kpi k]\nmetric = visits\nwindow = 2\n", 3, "from 3 to 1000");
  expect_error("[kpi k]\nmetric = visits\nwindow = 1001\n", 3,
               "from 3 to 1000");
  expect_error("[kpi k]\nmetric = visits\nmin_change = -1%\n", 3,
               "min_change: expected a fraction");
}

static void test_bad_deadline(void **state) {
  (void)state;
  expect_error("[kpi k]\nmetric = visits\ntarget = 100\n"
               "deadline = 2027-02-30\n",
               4,
               "[kpi \"k\"] deadline: \"2027-02-30\" is not a calendar date");
  expect_error("[kpi k]\nmetric = visits\ntarget = 1\ndeadline = 2027-3-31\n",
               4, "not a calendar date");
  expect_error("[kpi k]\nmetric = visits\ndeadline = 2027-03-31\n", 3,
               "deadline: needs a target");
  bsl_config *cfg = load_ok("[kpi k]\nmetric = visits\ntarget = 1\n"
                            "deadline = 2024-02-29\n");
  assert_string_equal(cfg->kpis[0].deadline, "2024-02-29");
  bsl_config_destroy(cfg);
  expect_error("[kpi k]\nmetric = visits\ntarget = 1\ndeadline = 2100-02-29\n",
               4, "not a calendar date");
}

static void test_bad_regex(void **state) {
  (void)state;
  expect_error("[format \"f\"]\n\nregex = ^(?<time>\\S+) (unclosed\n", 3,
               "[format \"f\"] regex: bad regex at offset 23: missing closing "
               "parenthesis");
  expect_error("[format f]\nregex = ^(?<when>\\S+)$\n", 2,
               "needs a named group (?<time>");
  expect_error(
      "[goal g]\npath = ^/a[\n", 2,
      "[goal \"g\"] path: bad regex at offset 4: missing terminating ]");
}

static void test_references(void **state) {
  (void)state;
  expect_error("[source \"www\"]\npath = x\nformat = nosuch\n[goal g]\n"
               "path = y\n",
               3, "[source \"www\"] format: unknown format \"nosuch\"");
  expect_error("[goal \"signup\"]\npath = ^/ok\n[kpi \"k\"]\n"
               "metric = conversions\ngoal = sigup\n",
               5, "[kpi \"k\"] goal: unknown goal \"sigup\"");
  expect_error("[kpi \"k\"]\nmetric = conversion_rate\n", 1,
               "[kpi \"k\"] goal: missing (required by metric "
               "conversion_rate)");
  expect_error("[goal g]\npath = x\n[kpi \"k\"]\nmetric = visits\ngoal = g\n",
               5, "goal: not used by metric visits");
  expect_error("[kpi \"k\"]\nperiod = day\n", 1, "metric: missing");
  expect_error("[source s]\nsite = x\n", 1,
               "[source \"s\"] path: missing (a source needs path or listen)");
  expect_error("[format f]\ntime_format = %s\n", 1, "regex: missing");
  expect_error("[goal g]\n", 1, "[goal \"g\"] path: missing");
  expect_error("[source s]\npath = x\ntype = access\nformat = campaign-csv\n",
               4, "\"campaign-csv\" is a campaign format but type is access");
  /* A format defined after its user is found. */
  bsl_config *cfg = load_ok("[source s]\npath = x\nformat = late\n"
                            "[format late]\nregex = (?<time>.)\n");
  assert_string_equal(cfg->sources[0].format, "late");
  assert_int_equal(cfg->sources[0].type, BSL_SOURCE_ACCESS);
  bsl_config_destroy(cfg);
  /* Every error is reported, in line order, even when the earlier one is
   * found only after the whole file is read. */
  expect_errors("[kpi k]\nmetric = conversions\ngoal = nope\n[goal x]\n"
                "path = (\n",
                2,
                (const char *const[]){"3:[kpi \"k\"] goal: unknown goal",
                                      "5:[goal \"x\"] path: bad regex"});
  expect_errors("[source a]\npath = x\nformat = nope\n[kpi k]\n"
                "metric = conversions\ngoal = nope\n",
                2, (const char *const[]){"3:unknown format", "6:unknown goal"});
}

/* Mistakes that used to load silently (issue 13 item 8). */
static void test_silent_mistakes(void **state) {
  (void)state;
  /* a channel no rule produces */
  expect_error("[kpi k]\nmetric = visits\nfilter = channel=emial\n", 3,
               "[kpi \"k\"] filter: unknown channel \"emial\" (paid email "
               "social campaign organic_search direct referral)");
  bsl_config *cfg = load_ok("[kpi k]\nmetric = visits\n"
                            "filter = channel=organic_search\n");
  bsl_config_destroy(cfg);
  /* a named group no parser reads */
  expect_error("[format f]\nregex = ^(?<ip>\\S+) \\[(?<time>[^]]+)\\]\n", 2,
               "[format \"f\"] regex: unknown named group (?<ip>...) (an "
               "access format uses remote_addr time method path query "
               "request status bytes referer user_agent host)");
  expect_error("[format f]\ntype = campaign\n"
               "regex = ^(?<time>\\S+),(?<event>\\w+),(?<remote_addr>.*)\n",
               3,
               "[format \"f\"] regex: unknown named group "
               "(?<remote_addr>...) (a campaign format uses time campaign "
               "event recipient url cost)");
  /* the type may come from the source that uses the format */
  expect_error("[source s]\npath = x\ntype = campaign\nformat = f\n"
               "[format f]\nregex = ^(?<time>\\S+),(?<event>\\w+),"
               "(?<user_agent>.*)\n",
               6, "unknown named group (?<user_agent>...)");
  expect_error("[format f]\ntype = campaign\nregex = ^(?<time>\\S+)$\n", 3,
               "[format \"f\"] regex: a campaign format needs the named group "
               "(?<event>...)");
  cfg = load_ok("[format f]\nregex = ^(?<host>\\S+) (?<time>\\S+) "
                "(?<request>[^\"]*) (?<status>\\d+)\n");
  bsl_config_destroy(cfg);
  /* percent targets for rates only */
  expect_error("[kpi k]\nmetric = visits\ntarget = 5%\n", 3,
               "[kpi \"k\"] target: \"5%\" is a percentage, but visits is a "
               "count (write the number, e.g. target = 5)");
  expect_error("[kpi k]\ntarget = 60%\nmetric = avg_scroll_depth\n", 2,
               "[kpi \"k\"] target: \"60%\" is a percentage, but "
               "avg_scroll_depth is in points of 0-100 (write target = 60)");
  expect_error("[goal g]\npath = x\n[kpi k]\nmetric = cost_per_conversion\n"
               "goal = g\ntarget = 5%\n",
               6, "cost_per_conversion is an amount");
  expect_error("[kpi k]\nmetric = bounce_rate\ntarget = 40\n", 3,
               "[kpi \"k\"] target: 40 is not a rate (bounce_rate is a "
               "fraction from 0 to 1: write 40% or 0.4)");
  cfg = load_ok("[kpi k]\nmetric = bounce_rate\ntarget = 40%\n"
                "[kpi l]\nmetric = visits\ntarget = 5\nmin_change = 5%\n");
  assert_true(fabs(cfg->kpis[0].target - 0.4) < 1e-12);
  bsl_config_destroy(cfg);
  /* an alert_command that cannot run */
  expect_error("[boussole]\nalert_command = /nonexistent/notify --to ops\n", 2,
               "[boussole] alert_command: /nonexistent/notify: No such file "
               "or directory");
  char text[1024];
  snprintf(text, sizeof text, "[boussole]\nalert_command = %s/notify.txt\n",
           tmp_dir);
  expect_error(text, 2, "notify.txt: not executable");
  snprintf(text, sizeof text, "[boussole]\nalert_command = %s\n", tmp_dir);
  expect_error(text, 2, "Is a directory");
  setenv("PATH", "/usr/bin:/bin", 1);
  expect_error("[boussole]\nalert_command = notify-tem --to ops\n", 2,
               "[boussole] alert_command: notify-tem: command not found in "
               "PATH (/usr/bin:/bin)");
  /* shell words and found programs are fine */
  static const char *const ok[] = {"exit 7",
                                   "cat >> /tmp/alerts.jsonl",
                                   "MAILTO=ops sh -c 'cat > /dev/null'",
                                   "  true ; then log",
                                   "if true; then cat; fi",
                                   "$HOME/bin/notify",
                                   "\"/usr/bin/env\" cat",
                                   NULL};
  for (size_t i = 0; ok[i]; i++) {
    snprintf(text, sizeof text, "[boussole]\nalert_command = \"%s\"\n", ok[i]);
    cfg = load_ok(text);
    bsl_config_destroy(cfg);
  }
  snprintf(text, sizeof text, "[boussole]\nalert_command = %s/notify -x\n",
           tmp_dir);
  cfg = load_ok(text);
  bsl_config_destroy(cfg);
  /* a metrics_file whose directory is missing */
  expect_error("[boussole]\nmetrics_file = /nonexistent/textfile/b.prom\n", 2,
               "[boussole] metrics_file: directory /nonexistent/textfile: No "
               "such file or directory");
  snprintf(text, sizeof text, "[boussole]\nmetrics_file = %s/notify/b.prom\n",
           tmp_dir);
  expect_error(text, 2, "Not a directory");
  snprintf(text, sizeof text, "[boussole]\nmetrics_file = %s\n", tmp_dir);
  expect_error(text, 2, "is a directory");
  cfg = load_ok("[boussole]\nmetrics_file = b.prom\n");
  assert_null(cfg->warnings);
  bsl_config_destroy(cfg);
}

/* All the errors of a file, one per line, in line order. */
static void test_every_error(void **state) {
  (void)state;
  expect_errors("[boussole]\n"                             /* 1 */
                "metrics_file = /nonexistent/b.prom\n"     /* 2 */
                "alert_command = /nonexistent/notify\n"    /* 3 */
                "session_timeout = soon\n"                 /* 4 */
                "colour = red\n"                           /* 5 */
                "[format \"f\"]\n"                         /* 6 */
                "regex = ^(?<ip>\\S+) (?<time>\\S+)\n"     /* 7 */
                "[sauce s]\n"                              /* 8 */
                "path = ignored: the section is unknown\n" /* 9 */
                "[kpi \"k\"]\n"                            /* 10 */
                "metric = visits\n"                        /* 11 */
                "filter = channel=emial\n"                 /* 12 */
                "target = 5%\n"                            /* 13 */
                "[kpi \"m\"]\n"                            /* 14 */
                "metric = revenue\n"                       /* 15 */
                "db = x\x01\n"                             /* 16 */
                "[kpi \"k\"]\n"                            /* 17 */
                "metric = visits\n",                       /* 18 */
                11,
                (const char *const[]){
                    "2:metrics_file: directory /nonexistent",
                    "3:alert_command: /nonexistent/notify",
                    "4:session_timeout: bad duration",
                    "5:colour: unknown key",
                    "7:unknown named group (?<ip>...)",
                    "8:unknown section [sauce]",
                    "12:unknown channel \"emial\"",
                    "13:\"5%\" is a percentage",
                    "15:unknown metric \"revenue\"",
                    "16:control character 0x01",
                    "17:duplicate section [kpi \"k\"]",
                });
  /* a bad value is reported once: not also as a missing key */
  expect_errors(
      "[kpi k]\nmetric = revenue\n[goal g]\npath = (\n"
      "[format f]\nregex = (\n",
      3,
      (const char *const[]){"2:unknown metric", "4:bad regex", "6:bad regex"});
}

static void test_long_lines(void **state) {
  (void)state;
  char regex[600] = "^(?<time>\\S+)";
  while (strlen(regex) < 490)
    strcat(regex, " (?:alpha|beta|gamma)");
  strcat(regex, "$");
  assert_true(strlen(regex) >= 500 - 8);
  char text[2048];
  snprintf(text, sizeof text,
           "[format \"long\"]\nregex = %s ; a trailing comment\n"
           "time_format = %%s\n[goal g]\npath = ^/%0300d\n",
           regex, 7);
  assert_true(strlen(strchr(text, '\n') + 1) > 500);
  bsl_config *cfg = load_ok(text);
  assert_string_equal(cfg->formats[0].regex, regex);
  assert_string_equal(cfg->formats[0].time_format, "%s");
  assert_int_equal(strlen(cfg->goals[0].path), 302);
  bsl_config_destroy(cfg);

  /* The line numbers after a long line stay right. */
  snprintf(text, sizeof text, "[format \"long\"]\nregex = %s\nbogus = 1\n",
           regex);
  expect_error(text, 3, "[format \"long\"] bogus: unknown key");
  /* And an error in a long value names its own line and offset. */
  snprintf(text, sizeof text, "[goal g]\npath = %s(\n", regex);
  char want[64];
  snprintf(want, sizeof want, "bad regex at offset %zu", strlen(regex) + 1);
  expect_error(text, 2, want);
}

static void test_comments_and_quotes(void **state) {
  (void)state;
  expect_error("[boussole]\nflush_interval = 2s; x\n", 2, "bad duration");

  bsl_config *cfg =
      load_ok("# a comment\n"
              "; another\n"
              "[boussole] ; trailing\n"
              "session_timeout = 90s ; inline comment\n"
              "alert_command = \"true ; then log \" ; quoted keeps ';'\n"
              "db = \"quoted.db\"\n"
              "metrics_file = a\"b\n"
              "beacon_path = /c;x\n"
              "static_extensions = css\tjs ; tab-separated\n"
              "[kpi k]\nmetric = visits\nfilter = \"path=/a ;b\"\n");
  assert_int_equal(cfg->session_timeout, 90);
  assert_string_equal(cfg->alert_command, "true ; then log ");
  assert_string_equal(cfg->db, "quoted.db");
  assert_string_equal(cfg->metrics_file, "a\"b");
  assert_string_equal(cfg->beacon_path, "/c;x");
  assert_int_equal(cfg->n_static_extensions, 2);
  assert_string_equal(cfg->kpis[0].filter_value, "/a ;b");
  bsl_config_destroy(cfg);
}

static void test_crlf_bom_and_empty(void **state) {
  (void)state;
  bsl_config *cfg =
      load_ok("\xEF\xBB\xBF[boussole]\r\ndb = crlf.db\r\n\r\n[goal g]\r\n"
              "  path = ^/x\r\n");
  assert_string_equal(cfg->db, "crlf.db");
  assert_string_equal(cfg->goals[0].path, "^/x");
  bsl_config_destroy(cfg);
  cfg = load_ok("");
  assert_string_equal(cfg->db, "./boussole.db");
  bsl_config_destroy(cfg);
  cfg = load_ok("[boussole]\nstatic_extensions =\nmetrics_file =\n"
                "timezone = -03:30\n");
  assert_int_equal(cfg->n_static_extensions, 0);
  assert_null(cfg->metrics_file);
  assert_string_equal(cfg->timezone, "-03:30");
  bsl_config_destroy(cfg);
}

static void assert_same_config(const bsl_config *a, const bsl_config *b) {
  assert_string_equal(a->db, b->db);
  assert_string_equal(a->timezone, b->timezone);
  assert_int_equal(a->session_timeout, b->session_timeout);
  assert_string_equal(a->beacon_path, b->beacon_path);
  assert_int_equal(a->n_static_extensions, b->n_static_extensions);
  for (size_t i = 0; i < a->n_static_extensions; i++)
    assert_string_equal(a->static_extensions[i], b->static_extensions[i]);
  assert_true(a->flush_interval == b->flush_interval);
#define SAME_OPT(x, y)                                                         \
  do {                                                                         \
    assert_true(!(x) == !(y));                                                 \
    if (x)                                                                     \
      assert_string_equal(x, y);                                               \
  } while (0)
  SAME_OPT(a->metrics_file, b->metrics_file);
  SAME_OPT(a->alert_command, b->alert_command);
  SAME_OPT(a->bot_rules, b->bot_rules);
  SAME_OPT(a->channel_rules, b->channel_rules);
  assert_int_equal(a->n_sources, b->n_sources);
  for (size_t i = 0; i < a->n_sources; i++) {
    const bsl_source_conf *x = &a->sources[i], *y = &b->sources[i];
    assert_string_equal(x->name, y->name);
    SAME_OPT(x->path, y->path);
    SAME_OPT(x->listen, y->listen);
    assert_int_equal(x->type, y->type);
    assert_string_equal(x->format, y->format);
    assert_string_equal(x->site, y->site);
  }
  assert_int_equal(a->n_formats, b->n_formats);
  for (size_t i = 0; i < a->n_formats; i++) {
    const bsl_format_conf *x = &a->formats[i], *y = &b->formats[i];
    assert_string_equal(x->name, y->name);
    assert_string_equal(x->regex, y->regex);
    SAME_OPT(x->time_format, y->time_format);
    assert_int_equal(x->has_type, y->has_type);
    assert_int_equal(x->type, y->type);
  }
  assert_int_equal(a->n_goals, b->n_goals);
  for (size_t i = 0; i < a->n_goals; i++) {
    assert_string_equal(a->goals[i].name, b->goals[i].name);
    assert_string_equal(a->goals[i].path, b->goals[i].path);
  }
  assert_int_equal(a->n_kpis, b->n_kpis);
  for (size_t i = 0; i < a->n_kpis; i++) {
    const bsl_kpi_conf *x = &a->kpis[i], *y = &b->kpis[i];
    assert_string_equal(x->name, y->name);
    assert_string_equal(x->metric, y->metric);
    SAME_OPT(x->goal, y->goal);
    SAME_OPT(x->filter_key, y->filter_key);
    SAME_OPT(x->filter_value, y->filter_value);
    assert_int_equal(x->period, y->period);
    assert_int_equal(x->direction, y->direction);
    assert_int_equal(x->has_target, y->has_target);
    assert_true(x->target == y->target);
    assert_string_equal(x->deadline, y->deadline);
    assert_int_equal(x->window, y->window);
    assert_true(x->min_change == y->min_change);
  }
#undef SAME_OPT
}

/* Loads TEXT, prints it, loads the print, and checks both agree. */
static void round_trip(const char *text) {
  bsl_config *first = load_ok(text);
  char *printed, *again;
  print_to(first, &printed);
  bsl_config *second = load_ok(printed);
  assert_same_config(first, second);
  print_to(second, &again);
  assert_string_equal(body(printed), body(again));
  free(printed);
  free(again);
  bsl_config_destroy(first);
  bsl_config_destroy(second);
}

static void test_print_round_trip(void **state) {
  (void)state;
  round_trip(full_config());
  round_trip("");
  round_trip("[boussole]\nflush_interval = 1.5ms\nsession_timeout = 1.5h\n"
             "alert_command = \"  true ; out  \"\n"
             "static_extensions = \"\"gz tar\"\"\n"
             "metrics_file = \"\"quoted\"\"\n"
             "[format f]\nregex = \"(?<time>[^\"]*)\" x\n"
             "[goal g]\npath = \";leading\"\n"
             "[kpi k]\nmetric = conversions\ngoal = g\ntarget = 0.1\n"
             "min_change = 1e-7\nfilter = \"campaign=spring ; sale\"\n");

  /* The durations print in their natural unit. */
  bsl_config *cfg = load_ok("[boussole]\nsession_timeout = 1800\n"
                            "flush_interval = 250ms\n");
  char *printed;
  print_to(cfg, &printed);
  assert_non_null(strstr(printed, "session_timeout = 30m\n"));
  assert_non_null(strstr(printed, "flush_interval = 250ms\n"));
  free(printed);
  bsl_config_destroy(cfg);
}

static void test_parse_duration(void **state) {
  (void)state;
  static const struct {
    const char *text;
    double seconds;
  } good[] = {{"30m", 1800},  {"1800", 1800}, {"90s", 90},
              {"1h", 3600},   {"1d", 86400},  {"250ms", 0.25},
              {"1.5h", 5400}, {"0", 0},       {"0.5", 0.5}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    double s = -1;
    assert_int_equal(bsl_parse_duration(good[i].text, &s), 0);
    assert_true(s == good[i].seconds);
  }
  static const char *const bad[] = {"",    "-5s", "5 s", " 5s", "5x",
                                    "ms",  ".",   "inf", "nan", "0x10",
                                    "5mm", "1e3", "5s ", "+5s", NULL};
  for (size_t i = 0; bad[i]; i++) {
    double s = 42;
    if (bsl_parse_duration(bad[i], &s) != -1)
      fail_msg("\"%s\" was accepted", bad[i]);
    assert_true(s == 42);
  }
  assert_int_equal(bsl_parse_duration(NULL, &(double){0}), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_full_file),
      cmocka_unit_test(test_shipped_file),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_unknown_key),
      cmocka_unit_test(test_unknown_section),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_bad_deadline),
      cmocka_unit_test(test_bad_regex),
      cmocka_unit_test(test_references),
      cmocka_unit_test(test_silent_mistakes),
      cmocka_unit_test(test_every_error),
      cmocka_unit_test(test_long_lines),
      cmocka_unit_test(test_comments_and_quotes),
      cmocka_unit_test(test_crlf_bom_and_empty),
      cmocka_unit_test(test_print_round_trip),
      cmocka_unit_test(test_parse_duration),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
