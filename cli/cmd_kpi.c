/*
 * `boussole kpi` and `boussole adjust`: the command-line face of analyze/
 * kpi.c.  `kpi` evaluates every configured KPI (as of now, or as of the end
 * of --at DAY for backtesting), prints a table or JSON, and exits 1 when a
 * KPI is flagged.  `adjust` records what the team changed for a KPI.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "config.h"
#include "escape.h"
#include "kpi.h"
#include "metrics.h"
#include "store.h"

#define EXIT_FLAGGED 1
#define EXIT_ERROR 2

static const char KPI_USAGE[] =
    "usage: boussole kpi [-c CONF] [--db PATH] [--json] [--at YYYY-MM-DD] "
    "[--reset]\n"
    "\n"
    "Evaluates every [kpi] of the configuration over its closed periods and\n"
    "prints its state (no_data, insufficient, met, improving, off_track,\n"
    "declining, stalled, grace), level vs target, trend, p-value, since "
    "when,\n"
    "and the projection at the deadline.  State changes are recorded and\n"
    "raise or resolve alerts (alerts view, stderr, alert_command).\n"
    "\n"
    "  -c, --config CONF   configuration file (default: built-in defaults)\n"
    "      --db PATH       database file (default: the config's db)\n"
    "      --json          one JSON object on stdout instead of the table\n"
    "      --at DAY        backtest: evaluate as of the end of DAY (today at "
    "the\n"
    "                      latest), with only the periods closed by then; "
    "once a\n"
    "                      real evaluation is recorded it only reports\n"
    "      --reset         start from scratch (after changing a [kpi]): "
    "forget the\n"
    "                      recorded status and series of every configured "
    "KPI,\n"
    "                      close its open alert as 'reset', then evaluate\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 nothing flagged, 1 a KPI is stalled, declining, "
    "off_track\n"
    "or no_data, 2 an error (message on stderr).\n";

static const char ADJUST_USAGE[] =
    "usage: boussole adjust [-c CONF] [--db PATH] KPI --note TEXT "
    "[--at TIMESTAMP]\n"
    "\n"
    "Records that the team changed something for KPI.  From 3 periods after\n"
    "it, `boussole kpi` reports the effect (mean after vs before, "
    "Mann-Whitney\n"
    "p-value); for window/2 periods the KPI is not flagged stalled.\n"
    "\n"
    "  -c, --config CONF   configuration file (default: built-in defaults)\n"
    "      --db PATH       database file (default: the config's db)\n"
    "      --note TEXT     what was changed (required)\n"
    "      --at TIME       when: YYYY-MM-DD or "
    "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]\n"
    "                      (default: now; without a zone, the configured "
    "one)\n"
    "  -h, --help          this help\n";

static int open_all(const char *prog, const char *conf, const char *db,
                    bsl_config **cfg, bsl_store **st) {
  char err[BSL_CLI_ERR_MAX], who[32];
  snprintf(who, sizeof who, "boussole %s", prog);
  if (bsl_config_load(cfg, conf, err, sizeof err) != 0) {
    bsl_cli_error(who, err);
    return -1;
  }
  /* never bsl_store_open(): a mistyped --db must not become an empty store
   * whose every KPI is no_data */
  if (bsl_store_open_existing(st, db ? db : (*cfg)->db, err, sizeof err) != 0) {
    fprintf(stderr, "boussole %s: %s\n", prog, err);
    bsl_config_destroy(*cfg);
    return -1;
  }
  return 0;
}

/* JSON string: an adjustment's note is free text from whoever ran `adjust`,
 * so everything goes through the reports' escaping (bad UTF-8, C1 controls
 * and bidirectional overrides included). */
static void jstr(FILE *o, const char *s) {
  bsl_json_string(o, s ? s : "");
}

static void jnum(FILE *o, double v) {
  if (isnan(v) || isinf(v))
    fputs("null", o);
  else
    fprintf(o, "%.10g", v);
}

static void print_json(FILE *o, const bsl_kpi_result *r, size_t n,
                       const char *at) {
  fputs("{\"as_of\":", o);
  jstr(o, n ? r[0].horizon : (at ? at : ""));
  fputs(",\"kpis\":[", o);
  for (size_t i = 0; i < n; i++) {
    const bsl_kpi_result *k = &r[i];
    if (i)
      fputc(',', o);
    fputs("{\"kpi\":", o), jstr(o, k->name);
    fputs(",\"metric\":", o), jstr(o, k->metric);
    fputs(",\"period\":", o),
        jstr(o, k->period == BSL_PERIOD_WEEK ? "week" : "day");
    fputs(",\"state\":", o), jstr(o, bsl_kpi_state_name(k->state));
    fprintf(o, ",\"flagged\":%s", k->flagged ? "true" : "false");
    fputs(",\"previous_state\":", o), jstr(o, k->previous_state);
    fputs(",\"event\":", o), jstr(o, k->event);
    fputs(",\"value\":", o), jnum(o, k->a.level);
    fputs(",\"last_value\":", o), jnum(o, k->a.last);
    fputs(",\"target\":", o), jnum(o, k->target);
    fputs(",\"deadline\":", o);
    if (k->deadline[0])
      jstr(o, k->deadline);
    else
      fputs("null", o);
    fputs(",\"slope\":", o), jnum(o, k->a.slope);
    fputs(",\"intercept\":", o), jnum(o, k->a.intercept);
    fputs(",\"p_value\":", o), jnum(o, k->a.p_value);
    fprintf(o, ",\"seasonal\":%s", k->a.seasonal ? "true" : "false");
    fprintf(o, ",\"observations\":%zu", k->a.observations);
    fputs(",\"projected\":", o), jnum(o, k->a.projected);
    fputs(",\"since\":", o), jstr(o, k->since);
    fprintf(o, ",\"periods_in_state\":%d", k->periods_in_state);
    fprintf(o, ",\"periods\":%zu", k->n_periods);
    fputs(",\"adjustment\":", o);
    if (k->adjusted) {
      fputs("{\"at\":", o), jstr(o, k->adjusted_at);
      fputs(",\"note\":", o), jstr(o, k->note);
      fputs(",\"effect\":", o), jnum(o, k->has_effect ? k->effect.effect : NAN);
      fputs(",\"effect_p_value\":", o),
          jnum(o, k->has_effect ? k->effect.p_value : NAN);
      fputs(",\"mean_before\":", o),
          jnum(o, k->has_effect ? k->effect.mean_before : NAN);
      fputs(",\"mean_after\":", o),
          jnum(o, k->has_effect ? k->effect.mean_after : NAN);
      fprintf(o, ",\"n_after\":%zu}", k->has_effect ? k->effect.n_after : 0);
    } else {
      fputs("null", o);
    }
    fputs(",\"message\":", o), jstr(o, k->message);
    fputc('}', o);
  }
  fputs("]}\n", o);
}

static void print_table(FILE *o, const bsl_kpi_result *r, size_t n) {
  if (n == 0) {
    fputs("no [kpi] sections in the configuration\n", o);
    return;
  }
  fprintf(o, "as of the end of %s\n", r[0].horizon);
  fprintf(o, "%-24s %-12s %9s %9s %16s %6s %-10s %s\n", "KPI", "STATE", "VALUE",
          "TARGET", "TREND", "P", "SINCE", "AT DEADLINE");
  for (size_t i = 0; i < n; i++) {
    const bsl_kpi_result *k = &r[i];
    char val[32], tgt[32], proj[48], trend[40], p[16];
    bsl_metric_format(k->metric, k->a.level, val, sizeof val);
    bsl_metric_format(k->metric, k->target, tgt, sizeof tgt);
    bsl_kpi_conf kc = {.metric = (char *)k->metric, .period = k->period};
    bsl_kpi_format_slope(&kc, k->a.slope, trend, sizeof trend);
    if (isnan(k->a.p_value))
      snprintf(p, sizeof p, "-");
    else
      snprintf(p, sizeof p, "%.3f", k->a.p_value);
    if (isnan(k->a.projected))
      snprintf(proj, sizeof proj, "-");
    else {
      char pv[32];
      bsl_metric_format(k->metric, k->a.projected, pv, sizeof pv);
      snprintf(proj, sizeof proj, "%s by %s", pv, k->deadline);
    }
    fprintf(o, "%-24s %-12s %9s %9s %16s %6s %-10s %s%s\n", k->name,
            bsl_kpi_state_name(k->state), val, tgt, trend, p, k->since, proj,
            k->flagged ? "  <-" : "");
  }
  for (size_t i = 0; i < n; i++) {
    const bsl_kpi_result *k = &r[i];
    fprintf(o, "\n%s: %s\n", k->name, k->message);
    if (k->adjusted) {
      /* the note is shown like log text in the report: never raw bytes a
       * terminal would act on (an ANSI escape, a title-setting OSC) */
      char note[4 * 1024];
      bsl_term_text(k->note, sizeof note / 4 - 1, note, sizeof note);
      fprintf(o, "  adjusted %s: %s\n", k->adjusted_at, note);
      if (k->has_effect) {
        char d[32], b[32], a[32];
        bsl_metric_format_change(k->metric, k->effect.effect, d, sizeof d);
        bsl_metric_format(k->metric, k->effect.mean_before, b, sizeof b);
        bsl_metric_format(k->metric, k->effect.mean_after, a, sizeof a);
        fprintf(o,
                "  effect: %s -> %s (%s) over %zu periods after vs %zu "
                "before, Mann-Whitney p=%.3f\n",
                b, a, d, k->effect.n_after, k->effect.n_before,
                k->effect.p_value);
      } else {
        fputs("  effect: known after 3 observed periods\n", o);
      }
    }
  }
}

int bsl_cmd_kpi(int argc, char **argv) {
  enum { OPT_DB = 256, OPT_JSON, OPT_AT, OPT_RESET };
  static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                       {"db", required_argument, 0, OPT_DB},
                                       {"json", no_argument, 0, OPT_JSON},
                                       {"at", required_argument, 0, OPT_AT},
                                       {"reset", no_argument, 0, OPT_RESET},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *conf = NULL, *db = NULL, *at = NULL;
  bool json = false, reset = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c':
      conf = optarg;
      break;
    case OPT_DB:
      db = optarg;
      break;
    case OPT_JSON:
      json = true;
      break;
    case OPT_AT:
      at = optarg;
      break;
    case OPT_RESET:
      reset = true;
      break;
    case 'h':
      fputs(KPI_USAGE, stdout);
      return 0;
    default:
      fputs(KPI_USAGE, stderr);
      return EXIT_ERROR;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "boussole kpi: unexpected argument '%s'\n%s", argv[optind],
            KPI_USAGE);
    return EXIT_ERROR;
  }
  int64_t ignored;
  if (at && (strlen(at) != 10 || bsl_kpi_parse_time(at, "UTC", &ignored))) {
    fprintf(stderr, "boussole kpi: --at: \"%s\" is not a date YYYY-MM-DD\n",
            at);
    return EXIT_ERROR;
  }
  int64_t now = (int64_t)time(NULL);
  bsl_config *cfg;
  bsl_store *st;
  char err[BSL_CLI_ERR_MAX];
  if (at) {
    /* refused before the store is even opened: nothing to undo */
    if (bsl_config_load(&cfg, conf, err, sizeof err) != 0) {
      bsl_cli_error("boussole kpi", err);
      return EXIT_ERROR;
    }
    int bad = bsl_kpi_check_at(cfg, at, now, err, sizeof err);
    bsl_config_destroy(cfg);
    if (bad) {
      fprintf(stderr, "boussole kpi: %s\n", err);
      return EXIT_ERROR;
    }
  }
  if (open_all("kpi", conf, db, &cfg, &st) != 0)
    return EXIT_ERROR;
  bsl_kpi_eval_options o = {.now = now,
                            .at_day = at,
                            .reset = reset,
                            .fire_alerts = true,
                            .wait_alerts = true,
                            .retry_pending = true,
                            .alert_timeout_ms = BSL_KPI_ALERT_TIMEOUT_MS};
  bsl_kpi_result *res;
  size_t n;
  int rc = bsl_kpi_evaluate_ex(cfg, st, &o, &res, &n, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "boussole kpi: %s\n", err);
    bsl_store_close(st);
    bsl_config_destroy(cfg);
    return EXIT_ERROR;
  }
  if (reset) {
    size_t closed = 0;
    for (size_t i = 0; i < n; i++)
      closed += res[i].reset_closed;
    fprintf(stderr,
            "boussole kpi: --reset: reset %zu KPI%s: recorded status and "
            "series forgotten, %zu open alert%s closed as 'reset'\n",
            n, n == 1 ? "" : "s", closed, closed == 1 ? "" : "s");
  }
  if (json)
    print_json(stdout, res, n, at);
  else
    print_table(stdout, res, n);
  int status = 0;
  for (size_t i = 0; i < n; i++)
    if (res[i].flagged)
      status = EXIT_FLAGGED;
  bsl_kpi_results_free(res, n);
  bsl_store_close(st);
  bsl_config_destroy(cfg);
  if (fflush(stdout) != 0)
    return EXIT_ERROR;
  return status;
}

int bsl_cmd_adjust(int argc, char **argv) {
  enum { OPT_DB = 256, OPT_NOTE, OPT_AT };
  static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                       {"db", required_argument, 0, OPT_DB},
                                       {"note", required_argument, 0, OPT_NOTE},
                                       {"at", required_argument, 0, OPT_AT},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *conf = NULL, *db = NULL, *note = NULL, *at = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c':
      conf = optarg;
      break;
    case OPT_DB:
      db = optarg;
      break;
    case OPT_NOTE:
      note = optarg;
      break;
    case OPT_AT:
      at = optarg;
      break;
    case 'h':
      fputs(ADJUST_USAGE, stdout);
      return 0;
    default:
      fputs(ADJUST_USAGE, stderr);
      return EXIT_ERROR;
    }
  }
  if (optind + 1 != argc) {
    fprintf(stderr, "boussole adjust: expected exactly one KPI name\n%s",
            ADJUST_USAGE);
    return EXIT_ERROR;
  }
  const char *kpi = argv[optind];
  if (!note || !*note) {
    fprintf(stderr, "boussole adjust: --note TEXT is required\n");
    return EXIT_ERROR;
  }
  bsl_config *cfg;
  bsl_store *st;
  if (open_all("adjust", conf, db, &cfg, &st) != 0)
    return EXIT_ERROR;
  int64_t when = (int64_t)time(NULL);
  int rc = EXIT_ERROR;
  char err[1024];
  if (at && bsl_kpi_parse_time(at, cfg->timezone, &when) != 0) {
    fprintf(stderr,
            "boussole adjust: --at: \"%s\" is not YYYY-MM-DD or "
            "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]\n",
            at);
    goto out;
  }
  int64_t id;
  if (bsl_kpi_adjust(cfg, st, kpi, note, when, &id, err, sizeof err) != 0) {
    fprintf(stderr, "boussole adjust: %s\n", err);
    goto out;
  }
  printf("boussole: adjustment %lld recorded for %s\n", (long long)id, kpi);
  rc = 0;
out:
  bsl_store_close(st);
  bsl_config_destroy(cfg);
  return rc;
}
