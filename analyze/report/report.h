/*
 * Reports (`boussole report`): what the audience did over a date range,
 * gathered from the analyst views into one bsl_report, then rendered as
 * terminal text, JSON or a self-contained HTML page (html.c).
 *
 * The range defaults to the 28 days ending on the last complete day: the
 * newest day with data, unless that day has not ended yet in the configured
 * zone (then the day before it: a day still being logged would end every
 * chart in a cliff and bias the comparison).  The previous period is the
 * same number of days just before it.  Sections whose
 * views a database does not have (campaigns_daily, the KPI views) are
 * omitted with a note rather than failing.
 *
 * Everything that comes from logs (paths, sources, campaigns...) is kept as
 * stored and escaped by each renderer for its output: html.h has the
 * escaping helpers.
 *
 * Ownership: bsl_report_gather() returns a report owned by the caller, freed
 * with bsl_report_destroy() (NULL is a no-op).  Functions return 0 or -1
 * with a one-line message in the caller's buffer.
 */
#ifndef BSL_REPORT_H
#define BSL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

#define BSL_REPORT_DEFAULT_DAYS 28
#define BSL_REPORT_MAX_DAYS 3660
/* Rows gathered for the top tables (the terminal shows fewer). */
#define BSL_REPORT_TOP 20
/* KPI periods kept for charts (the newest, up to --to). */
#define BSL_REPORT_KPI_PERIODS 120

/* Channels in display order; anything else counts as "other". */
enum {
  BSL_CH_ORGANIC,
  BSL_CH_DIRECT,
  BSL_CH_REFERRAL,
  BSL_CH_SOCIAL,
  BSL_CH_EMAIL,
  BSL_CH_PAID,
  BSL_CH_CAMPAIGN,
  BSL_CH_OTHER,
  BSL_CH_COUNT
};
/* "organic_search", "direct", ... "other". */
const char *bsl_report_channel_name(int ch);

typedef struct bsl_report_totals {
  double hits, bot_hits, pageviews, visits, visitors, bounces, conversions;
} bsl_report_totals;

typedef struct bsl_report_day {
  char day[11];
  bsl_report_totals t;
  double channel_visits[BSL_CH_COUNT];
} bsl_report_day;

typedef struct bsl_report_channel {
  char *name;
  double visits, visitors, pageviews, bounces, conversions;
  double prev_visits, prev_conversions;
} bsl_report_channel;

typedef struct bsl_report_source {
  char *source, *medium;
  double visits, conversions;
} bsl_report_source;

typedef struct bsl_report_page {
  char *path;
  double pageviews, entries, avg_scroll, scroll_75;
} bsl_report_page;

typedef struct bsl_report_click {
  char *target, *path; /* the beacon's `t` label and page */
  double clicks;
} bsl_report_click;

typedef struct bsl_report_goal {
  char *goal;
  double conversions, visits, prev_conversions, prev_visits;
} bsl_report_goal;

typedef struct bsl_report_campaign {
  char *campaign;
  bool has_log; /* email-log columns are known (campaigns_daily exists) */
  double sent, delivered, opens, clicks, bounces, unsubscribes, spend;
  double visits, conversions;
} bsl_report_campaign;

typedef struct bsl_report_kpi_point {
  char period[16];
  char start[11];
  double value; /* NAN: missing observation */
  double n;
  size_t t; /* index in the KPI's whole stored series (the trend's x) */
} bsl_report_kpi_point;

typedef struct bsl_report_adjustment {
  char *at;
  char *note;
  double effect, p_value; /* NAN while not yet known */
} bsl_report_adjustment;

typedef struct bsl_report_span {
  char from[11], to[11]; /* days, inclusive; to "" while still open */
  char *state;
} bsl_report_span;

typedef struct bsl_report_kpi {
  char *name, *metric, *state, *since, *deadline, *message, *evaluated_at;
  char *period; /* "day"/"week" when known, else "" */
  bool flagged;
  double value, slope, intercept, p_value, target, projected;
  double effect, effect_p_value;
  bool trend_own; /* slope/intercept computed here (view lacked them) */
  bsl_report_kpi_point *pts;
  size_t n_pts;
  bsl_report_adjustment *adj;
  size_t n_adj;
  bsl_report_span *flags; /* flagged spans, from alerts and the state */
  size_t n_flags;
} bsl_report_kpi;

typedef struct bsl_report_status {
  int status;
  double hits, bot_hits;
} bsl_report_status;

typedef struct bsl_report_not_found {
  char *path;
  double hits; /* people's requests answered 404 */
} bsl_report_not_found;

typedef struct bsl_report_device {
  char *device;
  double visits, bounces, conversions;
} bsl_report_device;

typedef struct bsl_report {
  char from[11], to[11], prev_from[11], prev_to[11];
  char data_first[11], data_last[11]; /* "" when the database is empty */
  /* the newest day with data when the default range left it out because it
   * has not ended yet, else "" */
  char partial_day[11];
  char zone[64]; /* the configured timezone, for the hours */
  int n_days;
  char *sites; /* "a.example, b.example" or "" */
  char generated_at[32];
  bsl_report_totals cur, prev;
  bsl_report_day *days; /* n_days, one per day of the range */
  bsl_report_day *prev_days;
  bsl_report_channel *channels;
  size_t n_channels;
  bsl_report_source *sources;
  size_t n_sources;
  bsl_report_page *pages;
  size_t n_pages;
  bsl_report_click *clicks;
  size_t n_clicks;
  bsl_report_goal *goals;
  size_t n_goals;
  bool has_campaign_logs; /* campaigns_daily exists */
  bsl_report_campaign *campaigns;
  size_t n_campaigns;
  bsl_report_status *statuses; /* by hits, bots included */
  size_t n_statuses;
  bool has_not_found;              /* not_found_daily exists */
  bsl_report_not_found *not_found; /* the top 404 paths */
  size_t n_not_found;
  bsl_report_device *devices; /* by visits */
  size_t n_devices;
  double hours[24]; /* visits begun in each local hour of the day */
  bool has_kpis;    /* kpi_status and kpi_series exist */
  bool has_adjustments, has_alerts;
  bsl_report_kpi *kpis;
  size_t n_kpis;
} bsl_report;

typedef struct bsl_report_options {
  const char *from, *to; /* YYYY-MM-DD or NULL for the defaults */
  int64_t now;           /* the clock: generated_at, today */
  const char *timezone;  /* the configured zone (NULL: UTC): today, hours */
} bsl_report_options;

/*
 * Reads the report for OPTS's range from the store.  Errors: a bad --from or
 * --to (the message names the option), a range over BSL_REPORT_MAX_DAYS,
 * storage errors, out of memory.
 */
int bsl_report_gather(bsl_store *st, const bsl_report_options *opts,
                      bsl_report **out, char *err, size_t errlen);
void bsl_report_destroy(bsl_report *r);

/* Terminal text, at most 100 columns; ANSI colours when COLOR. */
int bsl_report_write_text(const bsl_report *r, FILE *out, bool color);
/* One JSON object. */
int bsl_report_write_json(const bsl_report *r, FILE *out);
/* The self-contained HTML page (html.c). */
int bsl_report_write_html(const bsl_report *r, FILE *out);

/* ---- helpers shared by the renderers (and unit-tested) ---- */

/* Days since 1970-01-01 of a valid YYYY-MM-DD, or -1 with *OK false. */
int64_t bsl_report_parse_day(const char *s, bool *ok);
/* The day DAYS since 1970-01-01 as YYYY-MM-DD. */
void bsl_report_format_day(int64_t days, char out[11]);

/*
 * Unicode sparkline of V[0..n-1] (NAN: a gap, drawn as a space) in WIDTH
 * cells: values are averaged into WIDTH buckets when n > WIDTH, scaled from
 * the minimum (▁) to the maximum (█).  Writes UTF-8 to OUT (CAP bytes,
 * NUL-terminated, truncated at a cell boundary) and returns the cells
 * drawn.
 */
size_t bsl_report_sparkline(const double *v, size_t n, size_t width, char *out,
                            size_t cap);

/* 1234567 -> "1,234,567"; fractions rounded; NAN -> "-". */
void bsl_report_format_count(double v, char *out, size_t cap);
/* Compact: 950 -> "950", 12345 -> "12.3k", 4.5e6 -> "4.5M". */
void bsl_report_format_compact(double v, char *out, size_t cap);
/* Fraction as percent with one decimal: 0.4123 -> "41.2%"; NAN -> "-". */
void bsl_report_format_percent(double v, char *out, size_t cap);
/*
 * Relative change of CUR against PREV: "+12.3%", "-4.0%", "0.0%"; "new"
 * when PREV is 0 and CUR is not; "-" when both are 0 or unknown.
 */
void bsl_report_format_change(double cur, double prev, char *out, size_t cap);
/* The reason phrase of an HTTP status ("Not Found"), "" when unknown. */
const char *bsl_report_status_text(int status);
/* Change of a rate in percentage points: "+1.8 pt". */
void bsl_report_format_points(double cur, double prev, char *out, size_t cap);

/*
 * Opens a self-contained HTML page of boussole WHAT ("report", "diagnose")
 * for FROM..TO: doctype, the Content-Security-Policy (no script, nothing
 * fetched; DATA_IMAGES allows data: images), CSS inline, the title and the
 * header up to its open <span class="sub">, which the caller fills.
 */
void bsl_html_page_start(FILE *o, const char *what, const char *from,
                         const char *to, const char *css, bool data_images);

#endif
