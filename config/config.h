/*
 * The configuration: an INI file (SPEC §3) read with inih, or the built-in
 * defaults when no file is given.  Loading validates everything a user can get
 * wrong - unknown sections and keys, bad values, regexes that do not compile,
 * names no parser or rule knows, programs and directories that are not
 * there - and reports every error, one line each: "FILE:LINE: [section]
 * key: reason".
 *
 * A bsl_config owns every string and array it points to; free it with
 * bsl_config_destroy().
 */
#ifndef BSL_CONFIG_H
#define BSL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum bsl_source_type { BSL_SOURCE_ACCESS = 0, BSL_SOURCE_CAMPAIGN };

typedef struct bsl_source_conf {
  char *name;
  char *path;   /* glob; NULL for a listen-only source */
  char *listen; /* "host:port" for syslog over UDP, or NULL */
  enum bsl_source_type type;
  char *format; /* built-in name or a [format] name; default per type */
  char *site;   /* "" by default */
  int line;     /* where the section starts, for messages */
} bsl_source_conf;

typedef struct bsl_format_conf {
  char *name;
  char *regex;
  char *time_format; /* NULL: CLF or ISO 8601 */
  int line;
  /* The optional `type` key: which kind of source this layout is for.  A
   * source naming this format takes it as its type when it sets none. */
  enum bsl_source_type type;
  bool has_type;
} bsl_format_conf;

typedef struct bsl_goal_conf {
  char *name;
  char *path; /* PCRE2 pattern matched against the request path */
  int line;
} bsl_goal_conf;

enum bsl_kpi_period { BSL_PERIOD_DAY = 0, BSL_PERIOD_WEEK };

typedef struct bsl_kpi_conf {
  char *name;
  char *metric;     /* one of the SPEC §8 catalogue */
  char *goal;       /* required by conversion metrics, else NULL */
  char *filter_key; /* channel|source|medium|campaign|path|device, or NULL */
  char *filter_value;
  enum bsl_kpi_period period;
  int direction; /* +1 up, -1 down */
  double target;
  bool has_target;
  char deadline[11]; /* YYYY-MM-DD or "" */
  int window;        /* periods; default 28 */
  double min_change; /* fraction: "5%" -> 0.05; default 0.05 */
  int line;
} bsl_kpi_conf;

/* 300k open visits keep `ingest` and `run` near 256 MB of RSS under an
 * address flood (bench/flood_rss.sh). */
#define BSL_DEFAULT_MAX_OPEN_VISITS 300000

typedef struct bsl_config {
  char *file; /* the file loaded, or NULL for built-in defaults */
  /* "FILE:LINE: [section] key: ..." lines, each ending in '\n', about what
   * loads but may be wrong (a metrics_file directory this user cannot
   * write to); NULL when none.  `check` prints them. */
  char *warnings;
  char *db;
  /* the instance's name in a fleet (SPEC §9), NULL: the machine's
   * hostname (with PostgreSQL only; a SQLite store has one writer) */
  char *host;
  char *timezone;
  int session_timeout; /* seconds */
  char *beacon_path;
  char **static_extensions;
  size_t n_static_extensions;
  double flush_interval; /* seconds */
  /* Open visits held in memory at most (0: no cap); past it the least
   * recently active are closed early.  See README "Memory cap". */
  size_t max_open_visits;
  char *metrics_file;  /* NULL when unset */
  char *alert_command; /* NULL when unset */
  char *bot_rules;     /* extra bot rules file, NULL when unset */
  char *channel_rules; /* extra channel rules file, NULL when unset */

  bsl_source_conf *sources;
  size_t n_sources;
  bsl_format_conf *formats;
  size_t n_formats;
  bsl_goal_conf *goals;
  size_t n_goals;
  bsl_kpi_conf *kpis;
  size_t n_kpis;
} bsl_config;

/*
 * Loads PATH, or the built-in defaults when PATH is NULL.  Returns 0, or a
 * negative value with every error in err, one line each ("FILE:LINE: ...",
 * in line order, joined by '\n'; when they do not all fit, a last line
 * says how many more there are).  The caller owns *out.
 */
int bsl_config_load(bsl_config **out, const char *path, char *err,
                    size_t errlen);

void bsl_config_destroy(bsl_config *cfg);

/* True when DB (a `db` value) names a PostgreSQL database: a libpq URI,
 * "postgresql://..." or "postgres://...".  Anything else is a SQLite file. */
bool bsl_config_db_is_postgres(const char *db);

/* Prints the effective settings as an INI file that loads back the same. */
void bsl_config_print(const bsl_config *cfg, FILE *out);

/* Looks up a [format] by name; NULL if absent. */
const bsl_format_conf *bsl_config_find_format(const bsl_config *cfg,
                                              const char *name);

/*
 * Parses a duration such as "30m", "1s", "250ms", "2h", "1d" or a bare number
 * of seconds.  Returns 0 and the value in seconds, or -1.
 */
int bsl_parse_duration(const char *text, double *seconds);

#endif
