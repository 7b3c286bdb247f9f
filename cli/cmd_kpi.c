/*
 * `boussole kpi` and `boussole adjust`: the command-line face of analyze/
 * kpi.c.  `kpi` evaluates every configured KPI (as of now, or as of the end
 * of --at DAY for backtesting), prints a table or JSON, and exits 1 when a
 * KPI is flagged.  `adjust` records what the team changed for a KPI.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
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

struct kpi_args {
  const char *config, *db, *at;
  bool json, reset;
};

static int run_kpi(const void *args, int argc, char **argv) {
  const struct kpi_args *a = args;
  (void)argc, (void)argv;
  const char *conf = a->config, *db = a->db, *at = a->at;
  bool json = a->json, reset = a->reset;
  int64_t ignored;
  if (at && (strlen(at) != 10 || bsl_kpi_parse_time(at, "UTC", &ignored))) {
    fprintf(stderr, "boussole kpi: --at: \"%s\" is not a date YYYY-MM-DD\n",
            at);
    return BSL_EXIT_ERROR;
  }
  int64_t now = (int64_t)time(NULL);
  bsl_config *cfg;
  bsl_store *st;
  char err[BSL_CLI_ERR_MAX];
  if (at) {
    /* refused before the store is even opened: nothing to undo */
    if (bsl_config_load(&cfg, conf, err, sizeof err) != 0) {
      bsl_cli_error("boussole kpi", err);
      return BSL_EXIT_ERROR;
    }
    int bad = bsl_kpi_check_at(cfg, at, now, err, sizeof err);
    bsl_config_destroy(cfg);
    if (bad) {
      fprintf(stderr, "boussole kpi: %s\n", err);
      return BSL_EXIT_ERROR;
    }
  }
  if (open_all("kpi", conf, db, &cfg, &st) != 0)
    return BSL_EXIT_ERROR;
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
    return BSL_EXIT_ERROR;
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
  int status = BSL_EXIT_OK;
  for (size_t i = 0; i < n; i++)
    if (res[i].flagged)
      status = BSL_EXIT_FLAGGED;
  bsl_kpi_results_free(res, n);
  bsl_store_close(st);
  bsl_config_destroy(cfg);
  if (fflush(stdout) != 0)
    return BSL_EXIT_ERROR;
  return status;
}

struct adjust_args {
  const char *config, *db, *note, *at;
};

static int run_adjust(const void *args, int argc, char **argv) {
  const struct adjust_args *a = args;
  (void)argc;
  const char *conf = a->config, *db = a->db, *note = a->note, *at = a->at;
  const char *kpi = argv[0];
  if (!*note) { /* given, but empty */
    fprintf(stderr, "boussole adjust: --note TEXT is required\n");
    return BSL_EXIT_ERROR;
  }
  bsl_config *cfg;
  bsl_store *st;
  if (open_all("adjust", conf, db, &cfg, &st) != 0)
    return BSL_EXIT_ERROR;
  int64_t when = (int64_t)time(NULL);
  int rc = BSL_EXIT_ERROR;
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
  rc = BSL_EXIT_OK;
out:
  bsl_store_close(st);
  bsl_config_destroy(cfg);
  return rc;
}

#define A(member) offsetof(struct kpi_args, member)
static const bsl_cli_opt kpi_opts[] = {
    BSL_CLI_OPT_CONFIG(struct kpi_args, config),
    BSL_CLI_OPT_DB(struct kpi_args, db),
    {"json", 0, BSL_CLI_FLAG, A(json), NULL,
     "one JSON object on stdout instead of the table", 0},
    {"at", 0, BSL_CLI_STRING, A(at), "YYYY-MM-DD",
     "backtest: evaluate as of the end of that day (today at the latest), "
     "with only the periods closed by then; once a real evaluation is "
     "recorded it only reports",
     0},
    {"reset", 0, BSL_CLI_FLAG, A(reset), NULL,
     "start from scratch (after changing a [kpi]): forget the recorded status "
     "and series of every configured KPI, close its open alert as 'reset', "
     "then evaluate",
     0},
    {0}};
#undef A

const bsl_cli_cmd bsl_cmd_kpi = {
    .name = "kpi",
    .summary = "evaluate every KPI and print its state; exit 1 when one is "
               "flagged",
    .max_operands = 0,
    .about = "Evaluates every [kpi] of the configuration over its closed "
             "periods and\n"
             "prints its state (no_data, insufficient, met, improving, "
             "off_track,\n"
             "declining, stalled, grace), level vs target, trend, p-value, "
             "since when,\n"
             "and the projection at the deadline.  State changes are recorded "
             "and\n"
             "raise or resolve alerts (alerts view, stderr, alert_command).\n",
    .epilog = "Exit status: 0 nothing flagged, 1 a KPI is stalled, declining, "
              "off_track\n"
              "or no_data, 2 an error (message on stderr).\n",
    .opts = kpi_opts,
    .args_size = sizeof(struct kpi_args),
    .run = run_kpi,
};

#define A(member) offsetof(struct adjust_args, member)
static const bsl_cli_opt adjust_opts[] = {
    BSL_CLI_OPT_CONFIG(struct adjust_args, config),
    BSL_CLI_OPT_DB(struct adjust_args, db),
    {"note", 0, BSL_CLI_STRING, A(note), "TEXT", "what was changed (required)",
     BSL_CLI_REQUIRED},
    {"at", 0, BSL_CLI_STRING, A(at), "TIMESTAMP",
     "when: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM] (default: now; "
     "without a zone, the configured one)",
     0},
    {0}};
#undef A

const bsl_cli_cmd bsl_cmd_adjust = {
    .name = "adjust",
    .summary = "record what the team changed for a KPI",
    .operands = "KPI",
    .min_operands = 1,
    .max_operands = 1,
    .about = "Records that the team changed something for KPI.  From 3 "
             "periods after\n"
             "it, `boussole kpi` reports the effect (mean after vs before, "
             "Mann-Whitney\n"
             "p-value); for window/2 periods the KPI is not flagged stalled.\n",
    .epilog = "Exit status: 0 recorded, 2 an error (message on stderr).\n",
    .opts = adjust_opts,
    .args_size = sizeof(struct adjust_args),
    .run = run_adjust,
};
