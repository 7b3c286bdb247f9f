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
      fprintf(o, ",\"n_after\":%zu", k->has_effect ? k->effect.n_after : 0);
      char verdict[192];
      bsl_kpi_effect_verdict(
          k->metric, k->direction, k->has_effect ? k->effect.effect : NAN,
          k->has_effect ? k->effect.p_value : NAN, verdict, sizeof verdict);
      fputs(",\"verdict\":", o), jstr(o, verdict);
      fputc('}', o);
    } else {
      fputs("null", o);
    }
    fputs(",\"message\":", o), jstr(o, k->message);
    fputc('}', o);
  }
  fputs("]}\n", o);
}

#define TERM_WIDTH 100

static void print_table(FILE *o, const bsl_kpi_result *r, size_t n) {
  if (n == 0) {
    fputs("no [kpi] sections in the configuration\n", o);
    return;
  }
  fprintf(o, "as of the end of %s\n", r[0].horizon);
  fprintf(o, "%-24s %-12s %9s %9s %16s %7s %-10s %s\n", "KPI", "STATE", "VALUE",
          "TARGET", "TREND", "P", "SINCE", "AT DEADLINE");
  bool any_flagged = false;
  for (size_t i = 0; i < n; i++) {
    const bsl_kpi_result *k = &r[i];
    char val[32], tgt[32], proj[48], trend[48], p[16];
    bsl_metric_format(k->metric, k->a.level, val, sizeof val);
    bsl_metric_format(k->metric, k->target, tgt, sizeof tgt);
    bsl_kpi_conf kc = {.metric = (char *)k->metric, .period = k->period};
    bsl_kpi_format_slope(&kc, k->a.slope, trend, sizeof trend);
    bsl_metric_format_p(k->a.p_value, p, sizeof p);
    if (isnan(k->a.projected))
      snprintf(proj, sizeof proj, "-");
    else {
      char pv[32];
      bsl_metric_format(k->metric, k->a.projected, pv, sizeof pv);
      snprintf(proj, sizeof proj, "%s by %s", pv, k->deadline);
    }
    char name[128];
    bsl_term_text(k->name, 24, name, sizeof name);
    fprintf(o, "%-24s %-12s %9s %9s %16s %7s %-10s %s%s\n", name,
            bsl_kpi_state_name(k->state), val, tgt, trend, p, k->since, proj,
            k->flagged ? "  <-" : "");
    any_flagged = any_flagged || k->flagged;
  }
  /* the columns in words, once */
  fputs("\n", o);
  if (any_flagged)
    bsl_term_paragraph(
        o,
        "<- flagged (stalled, declining, off_track or no_data): needs "
        "a decision; what each means and the next step are below.",
        0, TERM_WIDTH);
  bsl_term_paragraph(
      o,
      "VALUE is the median of the last 7 periods; TREND how much it "
      "moves per period (the median slope over the window); P the "
      "chance of a trend that steep with nothing really changing: under "
      "0.05 the trend is real, above it could be chance. AT DEADLINE "
      "extends the trend to the deadline (a rate within 0-100%).",
      0, TERM_WIDTH);
  for (size_t i = 0; i < n; i++) {
    const bsl_kpi_result *k = &r[i];
    fputc('\n', o);
    bsl_term_paragraph(o, k->message, 2, TERM_WIDTH);
    if (k->adjusted) {
      /* the note is shown like log text in the report: never raw bytes a
       * terminal would act on (an ANSI escape, a title-setting OSC) */
      char note[4 * 1024];
      bsl_term_text(k->note, sizeof note / 4 - 1, note, sizeof note);
      fprintf(o, "  adjusted %s: %s\n", k->adjusted_at, note);
      char verdict[192];
      bsl_kpi_effect_verdict(
          k->metric, k->direction, k->has_effect ? k->effect.effect : NAN,
          k->has_effect ? k->effect.p_value : NAN, verdict, sizeof verdict);
      char line[512];
      if (k->has_effect) {
        char b[32], a[32];
        bsl_metric_format(k->metric, k->effect.mean_before, b, sizeof b);
        bsl_metric_format(k->metric, k->effect.mean_after, a, sizeof a);
        snprintf(line, sizeof line,
                 "effect: %s; %s before, %s after (means of %zu and %zu "
                 "periods)",
                 verdict, b, a, k->effect.n_before, k->effect.n_after);
      } else {
        snprintf(line, sizeof line, "effect: %s", verdict);
      }
      bsl_term_paragraph(o, line, 2, TERM_WIDTH);
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
  const char *config, *db, *note, *at, *remove;
  bool list;
};

/* A usage mistake the table cannot express, said like the parser says its
 * own (options.c): one line that points at --help. */
static int adjust_usage(const char *what) {
  fprintf(stderr, "boussole adjust: %s (see boussole adjust --help)\n", what);
  return BSL_EXIT_ERROR;
}

struct list_ctx {
  FILE *o;
  const bsl_config *cfg;
  size_t n;
};

static int direction_of(const bsl_config *cfg, const char *kpi) {
  for (size_t i = 0; i < cfg->n_kpis; i++)
    if (strcmp(cfg->kpis[i].name, kpi) == 0)
      return cfg->kpis[i].direction >= 0 ? 1 : -1;
  return 0;
}

static const char *metric_of(const bsl_config *cfg, const char *kpi) {
  for (size_t i = 0; i < cfg->n_kpis; i++)
    if (strcmp(cfg->kpis[i].name, kpi) == 0)
      return cfg->kpis[i].metric;
  return NULL;
}

static int list_row(void *ctx, const bsl_kpi_adjustment_row *row) {
  struct list_ctx *l = ctx;
  char kpi[160], note[4 * 1024], verdict[192];
  bsl_term_text(row->kpi, 40, kpi, sizeof kpi);
  bsl_term_text(row->note, sizeof note / 4 - 1, note, sizeof note);
  /* the effect as recorded by the last `kpi`; a KPI no longer configured
   * keeps its numbers, shown like counts */
  bsl_kpi_effect_verdict(metric_of(l->cfg, row->kpi),
                         direction_of(l->cfg, row->kpi), row->effect,
                         row->effect_p_value, verdict, sizeof verdict);
  fprintf(l->o, "%6lld  %-24s %.20s  %s\n", (long long)row->id, kpi, row->at,
          note);
  fprintf(l->o, "%8seffect: %s\n", "", verdict);
  l->n++;
  return 0;
}

/* What --remove took back, printed once the removal is committed. */
struct removed {
  char kpi[160], at[32], note[4 * 1024];
};

static int removed_row(void *ctx, const bsl_kpi_adjustment_row *row) {
  struct removed *r = ctx;
  bsl_term_text(row->kpi, 60, r->kpi, sizeof r->kpi);
  snprintf(r->at, sizeof r->at, "%s", row->at);
  bsl_term_text(row->note, sizeof r->note / 4 - 1, r->note, sizeof r->note);
  return 0;
}

static int list_adjustments(const struct adjust_args *a, const char *kpi) {
  bsl_config *cfg;
  bsl_store *st;
  if (open_all("adjust", a->config, a->db, &cfg, &st) != 0)
    return BSL_EXIT_ERROR;
  char err[1024];
  struct list_ctx l = {.o = stdout, .cfg = cfg};
  int rc = BSL_EXIT_OK;
  printf("%6s  %-24s %-20s  %s\n", "ID", "KPI", "AT (UTC)", "NOTE");
  if (bsl_kpi_adjustments(st, kpi, list_row, &l, err, sizeof err) != 0) {
    fprintf(stderr, "boussole adjust: %s\n", err);
    rc = BSL_EXIT_ERROR;
  } else if (l.n == 0) {
    char safe[256];
    bsl_term_text(kpi ? kpi : "", 120, safe, sizeof safe);
    printf("no adjustment recorded%s%s\n", kpi ? " for " : "", safe);
  }
  bsl_store_close(st);
  bsl_config_destroy(cfg);
  return rc;
}

static int remove_adjustment(const struct adjust_args *a) {
  char *end;
  long long id = strtoll(a->remove, &end, 10);
  if (!*a->remove || *end || id <= 0) {
    char what[160];
    snprintf(what, sizeof what,
             "--remove: not an adjustment id: '%.60s' (boussole adjust --list "
             "shows them)",
             a->remove);
    return adjust_usage(what);
  }
  bsl_config *cfg;
  bsl_store *st;
  if (open_all("adjust", a->config, a->db, &cfg, &st) != 0)
    return BSL_EXIT_ERROR;
  char err[1024];
  int rc = BSL_EXIT_OK;
  struct removed what = {0};
  int found =
      bsl_kpi_adjust_remove(st, id, removed_row, &what, err, sizeof err);
  if (found > 0) {
    printf("boussole: adjustment removed: %s at %s: %s\n", what.kpi, what.at,
           what.note);
  } else if (found < 0) {
    fprintf(stderr, "boussole adjust: %s\n", err);
    rc = BSL_EXIT_ERROR;
  } else if (found == 0) {
    fprintf(stderr,
            "boussole adjust: --remove %lld: no such adjustment (boussole "
            "adjust --list shows them)\n",
            id);
    rc = BSL_EXIT_ERROR;
  }
  bsl_store_close(st);
  bsl_config_destroy(cfg);
  return rc;
}

static int run_adjust(const void *args, int argc, char **argv) {
  const struct adjust_args *a = args;
  const char *conf = a->config, *db = a->db, *note = a->note, *at = a->at;
  if (a->list && a->remove)
    return adjust_usage("--list and --remove go one at a time");
  if ((a->list || a->remove) && (note || at))
    return adjust_usage(a->list ? "--list takes no --note or --at"
                                : "--remove takes no --note or --at");
  if (a->list)
    return list_adjustments(a, argc > 0 ? argv[0] : NULL);
  if (a->remove) {
    if (argc > 0) {
      char what[160];
      snprintf(what, sizeof what, "unexpected argument '%.60s'", argv[0]);
      return adjust_usage(what);
    }
    return remove_adjustment(a);
  }
  if (argc < 1)
    return adjust_usage("missing argument KPI");
  if (!note)
    return adjust_usage("--note TEXT is required");
  const char *kpi = argv[0];
  if (!*note) { /* given, but empty */
    fprintf(stderr, "boussole adjust: --note TEXT is required\n");
    return BSL_EXIT_ERROR;
  }
  bsl_config *cfg;
  bsl_store *st;
  if (open_all("adjust", conf, db, &cfg, &st) != 0)
    return BSL_EXIT_ERROR;
  int64_t now = (int64_t)time(NULL), when = now;
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
  if (bsl_kpi_adjust(cfg, st, kpi, note, when, now, &id, err, sizeof err) !=
      0) {
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
             "declining, stalled, grace), level vs target, trend per period, "
             "p-value\n"
             "(the chance of such a trend with nothing changing), since when, "
             "and the\n"
             "projection at the deadline; then, for each KPI, what its state "
             "means in\n"
             "words and, when it is flagged (<-), the next step.  State "
             "changes are\n"
             "recorded and raise or resolve alerts (alerts view, stderr, "
             "alert_command).\n",
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
    {"note", 0, BSL_CLI_STRING, A(note), "TEXT",
     "what was changed (required to record one)", 0},
    {"at", 0, BSL_CLI_STRING, A(at), "TIMESTAMP",
     "when: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM] (default: now; "
     "without a zone, the configured one); a time to come is refused",
     0},
    {"list", 0, BSL_CLI_FLAG, A(list), NULL,
     "list the recorded adjustments (of KPI only, when given) with their id "
     "and the verdict on their effect",
     0},
    {"remove", 0, BSL_CLI_STRING, A(remove), "ID",
     "remove a mistaken adjustment (its id from --list); the next `kpi` "
     "measures without it",
     0},
    {0}};
#undef A

const bsl_cli_cmd bsl_cmd_adjust = {
    .name = "adjust",
    .summary = "record what the team changed for a KPI; --list them, "
               "--remove a mistaken one",
    .operands = "[KPI]",
    .min_operands = 0,
    .max_operands = 1,
    .about = "Records that the team changed something for KPI:\n"
             "  boussole adjust KPI --note TEXT [--at TIMESTAMP]\n"
             "From 3 periods after it, `boussole kpi` gives the verdict on "
             "its effect, the\n"
             "mean after vs before in words (\"no measurable effect yet\", "
             "\"+2.1 pt,\n"
             "significant (p=0.01)\"); for window/2 periods the KPI is not "
             "flagged stalled.\n"
             "A change dated in the future is refused.  --list shows what "
             "was recorded,\n"
             "--remove ID takes back a mistaken one.\n",
    .epilog = "Exit status: 0 done, 2 an error (message on stderr).\n",
    .opts = adjust_opts,
    .args_size = sizeof(struct adjust_args),
    .run = run_adjust,
};
