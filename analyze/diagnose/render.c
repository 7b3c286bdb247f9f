/*
 * The terminal text and the JSON of a diagnosis (diagnose.h).  Text from
 * logs goes through escape.c: bsl_term_text on the terminal,
 * bsl_json_string in JSON.  The terminal output stays within 100 columns.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "diagnose.h"
#include "escape.h"
#include "report.h"

#define WIDTH 100
/* Rows of each list on the terminal; --json and --html list all. */
#define TEXT_ROWS 10

struct tout {
  FILE *f;
  bool color;
};

static const char *col(const struct tout *o, const char *c) {
  return o->color ? c : "";
}

/* "q < 0.001", "q = 0.012" */
static void format_q(const char *name, double q, char *out, size_t cap) {
  if (q < 0.001)
    snprintf(out, cap, "%s < 0.001", name);
  else
    snprintf(out, cap, "%s = %.3f", name, q);
}

/* A rate: a percentage for proportions, "0.42" clicks per pageview. */
static void format_rate(const char *metric, double v, char *out, size_t cap) {
  if (isnan(v))
    snprintf(out, cap, "-");
  else if (strcmp(metric, "click_rate") == 0)
    snprintf(out, cap, "%.3f", v);
  else
    snprintf(out, cap, "%.1f%%", 100 * v);
}

/* Columns S takes on the terminal (UTF-8 code points). */
static size_t columns(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    n += ((unsigned char)s[i] & 0xc0) != 0x80;
  return n;
}

/* Writes TEXT (already safe) word-wrapped within WIDTH, every line after
 * the first indented by INDENT columns; the first starts at column AT. */
static void wrap(FILE *f, const char *text, size_t at, size_t indent) {
  size_t colno = at;
  bool fresh = true;
  for (const char *p = text; *p;) {
    while (*p == ' ')
      p++;
    size_t len = strcspn(p, " ");
    if (!len)
      break;
    size_t w = columns(p, len);
    if (!fresh && colno + 1 + w > WIDTH) {
      fprintf(f, "\n%*s", (int)indent, "");
      colno = indent;
      fresh = true;
    }
    if (!fresh)
      fputc(' ', f), colno++;
    fwrite(p, 1, len, f);
    colno += w;
    fresh = false;
    p += len;
  }
  fputc('\n', f);
}

static void heading(const struct tout *o, const char *title) {
  fprintf(o->f, "\n%s%s%s\n", col(o, BSL_ANSI_BOLD), title,
          col(o, BSL_ANSI_RESET));
}

/* "the same visits as: campaign spring-news; channel email" */
static void also_text(const struct tout *o, const char *also) {
  if (!also)
    return;
  char safe[1024], line[1100];
  bsl_term_text(also, 300, safe, sizeof safe);
  snprintf(line, sizeof line, "%sthe same visits as: %s%s",
           col(o, BSL_ANSI_DIM), safe, col(o, BSL_ANSI_RESET));
  fputs("     ", o->f);
  wrap(o->f, line, 5, 5);
}

static void finding_text(const struct tout *o, const bsl_diag_finding *f) {
  char seg[256], words[96], v[32], s[32], lo[32], hi[32], size[32], imp[32],
      q[32];
  bsl_term_text(f->segment, 60, seg, sizeof seg);
  bsl_diag_metric_words(f->metric, f->goal, words, sizeof words);
  format_rate(f->metric, f->segment_value, v, sizeof v);
  format_rate(f->metric, f->site_value, s, sizeof s);
  format_rate(f->metric, f->ci_lo, lo, sizeof lo);
  format_rate(f->metric, f->ci_hi, hi, sizeof hi);
  bsl_report_format_count(f->size, size, sizeof size);
  bsl_report_format_count(fabs(f->impact), imp, sizeof imp);
  format_q("q", f->q_value, q, sizeof q);
  const char *c = f->better ? BSL_ANSI_GREEN : BSL_ANSI_RED;
  fprintf(o->f, " %s%s%s %-14s %s\n", col(o, c), f->better ? "▲" : "▼",
          col(o, BSL_ANSI_RESET), f->dimension, seg);
  char line[512];
  snprintf(line, sizeof line,
           "%s %s%s%s [%s–%s] against %s for the site, over %s %s; worth %s%s "
           "%s (%.0f%% of the site's); %s%s",
           words, col(o, BSL_ANSI_BOLD), v, col(o, BSL_ANSI_RESET), lo, hi, s,
           size, f->unit, f->impact >= 0 ? "+" : "-", imp, f->impact_unit,
           100 * fabs(f->impact_share), q, f->exact ? " (exact test)" : "");
  fputs("     ", o->f);
  wrap(o->f, line, 5, 5);
  also_text(o, f->also);
}

static void mover_text(const struct tout *o, const bsl_diag_mover *m) {
  char seg[256], words[96], v[32], pv[32], ch[32], q[32];
  bsl_term_text(m->segment, 40, seg, sizeof seg);
  bsl_diag_metric_words(m->metric, m->goal, words, sizeof words);
  bool count =
      strcmp(m->metric, "visits") == 0 || strcmp(m->metric, "conversions") == 0;
  if (count) {
    bsl_report_format_count(m->value, v, sizeof v);
    bsl_report_format_count(m->prev_value, pv, sizeof pv);
    bsl_report_format_change(m->value, m->prev_value, ch, sizeof ch);
  } else {
    format_rate(m->metric, m->value, v, sizeof v);
    format_rate(m->metric, m->prev_value, pv, sizeof pv);
    bsl_report_format_points(m->value, m->prev_value, ch, sizeof ch);
  }
  format_q("q", m->q_value, q, sizeof q);
  const char *c = m->better ? BSL_ANSI_GREEN : BSL_ANSI_RED;
  fprintf(o->f, " %s%s%s %-14s %s\n", col(o, c), m->better ? "▲" : "▼",
          col(o, BSL_ANSI_RESET), m->dimension, seg);
  char line[384];
  snprintf(line, sizeof line, "%s %s%s%s, was %s (%s); %s", words,
           col(o, BSL_ANSI_BOLD), v, col(o, BSL_ANSI_RESET), pv, ch, q);
  fputs("     ", o->f);
  wrap(o->f, line, 5, 5);
  also_text(o, m->also);
}

int bsl_diag_write_text(const bsl_diag *d, FILE *f, bool color) {
  struct tout o = {f, color};
  char visits[32], ch[32], b[32];
  bsl_report_format_count(d->visits, visits, sizeof visits);
  bsl_report_format_change(d->visits, d->prev_visits, ch, sizeof ch);
  bsl_report_format_percent(d->visits > 0 ? d->bounces / d->visits : NAN, b,
                            sizeof b);
  fprintf(f, "%sboussole diagnose%s  %s → %s (%d days%s)\n",
          col(&o, BSL_ANSI_BOLD), col(&o, BSL_ANSI_RESET), d->from, d->to,
          d->n_days, d->default_range ? ", up to the newest complete day" : "");
  fprintf(f, "%s visits (%s against %s → %s), %s bounced", visits, ch,
          d->prev_from, d->prev_to, b);
  for (size_t g = 0; g < d->n_goals; g++) {
    char r[32], gname[64];
    bsl_report_format_percent(
        d->visits > 0 ? d->goal_conversions[g] / d->visits : NAN, r, sizeof r);
    bsl_term_text(d->goals[g], 24, gname, sizeof gname);
    fprintf(f, ", %s %s", gname, r);
  }
  fputc('\n', f);
  char line[512];
  snprintf(line, sizeof line,
           "%zu tests over %zu segments. A finding has at least %d visits (or "
           "pageviews) in and out of its segment, q < %.2f after "
           "Benjamini–Hochberg over every test, and a difference of at least "
           "%.0f%% from the site.",
           d->n_tests, d->n_segments, BSL_DIAG_MIN_SIZE, BSL_DIAG_FDR,
           100 * BSL_DIAG_MIN_EFFECT);
  fputs(col(&o, BSL_ANSI_DIM), f);
  wrap(f, line, 0, 0);
  fputs(col(&o, BSL_ANSI_RESET), f);
  if (d->visits <= 0) {
    fprintf(f, "\nNo visits in this range: nothing to diagnose.\n");
    return 0;
  }
  for (int better = 1; better >= 0; better--) {
    heading(&o, better ? "STRENGTHS" : "WEAK POINTS");
    size_t shown = 0, total = 0;
    for (size_t i = 0; i < d->n_findings; i++) {
      if (d->findings[i].better != (bool)better)
        continue;
      total++;
      if (shown < TEXT_ROWS)
        finding_text(&o, &d->findings[i]), shown++;
    }
    if (!total)
      fprintf(f, " none that passes the tests\n");
    else if (total > shown)
      fprintf(f, " … and %zu more (--json or --html lists them all)\n",
              total - shown);
  }
  snprintf(line, sizeof line, "MOVERS (against %s → %s)", d->prev_from,
           d->prev_to);
  heading(&o, line);
  for (size_t i = 0; i < d->n_movers && i < TEXT_ROWS; i++)
    mover_text(&o, &d->movers[i]);
  if (!d->n_movers)
    fprintf(f, " none that passes the tests\n");
  else if (d->n_movers > TEXT_ROWS)
    fprintf(f, " … and %zu more (--json or --html lists them all)\n",
            d->n_movers - TEXT_ROWS);
  heading(&o, "LEAKS");
  for (size_t i = 0; i < d->n_leaks; i++) {
    const bsl_diag_leak *l = &d->leaks[i];
    char subj[256], msg[2048];
    bsl_term_text(l->subject, 60, subj, sizeof subj);
    bsl_term_text(l->message, 1000, msg, sizeof msg);
    fprintf(f, " %s!%s %s %s\n", col(&o, BSL_ANSI_YELLOW),
            col(&o, BSL_ANSI_RESET), l->kind, subj);
    fputs("     ", f);
    wrap(f, msg, 5, 5);
  }
  if (!d->n_leaks)
    fprintf(f, " none found\n");
  heading(&o, "PROPOSED OBJECTIVES (paste into the configuration; it must "
              "define the goals named)");
  for (size_t i = 0; i < d->n_objectives; i++) {
    const bsl_diag_objective *ob = &d->objectives[i];
    char how[2048];
    bsl_term_text(ob->how, 1000, how, sizeof how);
    fputc('\n', f);
    fputs(col(&o, BSL_ANSI_DIM), f);
    fputs("; ", f);
    /* the explanation as INI comments, so the whole block pastes */
    size_t at = 2;
    for (const char *p = how; *p;) {
      while (*p == ' ')
        p++;
      size_t len = strcspn(p, " ");
      if (!len)
        break;
      size_t w = columns(p, len);
      if (at > 2 && at + 1 + w > WIDTH)
        fputs("\n; ", f), at = 2;
      else if (at > 2)
        fputc(' ', f), at++;
      fwrite(p, 1, len, f);
      at += w;
      p += len;
    }
    fputs(col(&o, BSL_ANSI_RESET), f);
    fputc('\n', f);
    if (ob->kpi_block) {
      /* the block's filter value is from logs: escaped line by line */
      for (const char *p = ob->kpi_block; *p;) {
        size_t len = strcspn(p, "\n");
        char raw[512], safe[1024];
        snprintf(raw, sizeof raw, "%.*s", (int)(len < 511 ? len : 511), p);
        bsl_term_text(raw, WIDTH, safe, sizeof safe);
        fprintf(f, "%s\n", safe);
        p += len + (p[len] == '\n');
      }
    }
  }
  if (!d->n_objectives)
    fprintf(f, " none: no finding to build one on\n");
  return ferror(f) ? -1 : 0;
}

/* ---- JSON ---- */

static void jnum(FILE *f, double v) {
  if (isnan(v) || isinf(v))
    fputs("null", f);
  else
    fprintf(f, "%.6g", v);
}

static void jkey(FILE *f, bool *first, const char *k) {
  fprintf(f, "%s\"%s\":", *first ? "" : ",", k);
  *first = false;
}

static void jstr(FILE *f, bool *first, const char *k, const char *v) {
  jkey(f, first, k);
  bsl_json_string(f, v);
}

static void jval(FILE *f, bool *first, const char *k, double v) {
  jkey(f, first, k);
  jnum(f, v);
}

/* "KEY":[ */
static void jarr(FILE *f, bool *first, const char *k) {
  jkey(f, first, k);
  fputc('[', f);
}

/* Opens the I-th object of an array; true: its first member is next. */
static bool jobj(FILE *f, size_t i) {
  fputs(i ? ",{" : "{", f);
  return true;
}

/* What names a finding or a mover. */
static void j_names(FILE *f, bool *b, const char *dimension,
                    const char *segment, const char *metric, const char *goal,
                    bool better) {
  jstr(f, b, "dimension", dimension);
  jstr(f, b, "segment", segment);
  jstr(f, b, "metric", metric);
  jstr(f, b, "goal", goal);
  jstr(f, b, "direction", better ? "better" : "worse");
}

/* The test and the impact of a finding or a mover. */
struct j_test {
  double p, q;
  bool exact;
  double impact;
  const char *unit;
  double share;
  const char *also;
};

static void j_test(FILE *f, bool *b, const struct j_test *t) {
  jval(f, b, "p_value", t->p);
  jval(f, b, "q_value", t->q);
  jstr(f, b, "test", t->exact ? "exact" : "z");
  jval(f, b, "impact", t->impact);
  jstr(f, b, "impact_unit", t->unit);
  jval(f, b, "impact_share", t->share);
  jstr(f, b, "also", t->also);
}

int bsl_diag_write_json(const bsl_diag *d, FILE *f) {
  bool a = true;
  fputc('{', f);
  jstr(f, &a, "from", d->from), jstr(f, &a, "to", d->to);
  jstr(f, &a, "previous_from", d->prev_from);
  jstr(f, &a, "previous_to", d->prev_to);
  jval(f, &a, "days", d->n_days);
  jstr(f, &a, "data_first", d->data_first[0] ? d->data_first : NULL);
  jstr(f, &a, "data_last", d->data_last[0] ? d->data_last : NULL);
  jstr(f, &a, "generated_at", d->generated_at);
  jkey(f, &a, "site");
  bool s = true;
  fputc('{', f);
  jval(f, &s, "visits", d->visits);
  jval(f, &s, "previous_visits", d->prev_visits);
  jval(f, &s, "bounce_rate", d->visits > 0 ? d->bounces / d->visits : NAN);
  jval(f, &s, "pageviews", d->pageviews);
  jkey(f, &s, "goals");
  fputc('[', f);
  for (size_t g = 0; g < d->n_goals; g++) {
    bool b = jobj(f, g);
    jstr(f, &b, "goal", d->goals[g]);
    jval(f, &b, "conversions", d->goal_conversions[g]);
    jval(f, &b, "conversion_rate",
         d->visits > 0 ? d->goal_conversions[g] / d->visits : NAN);
    fputc('}', f);
  }
  fputs("]}", f);
  jkey(f, &a, "thresholds");
  bool t = true;
  fputc('{', f);
  jval(f, &t, "min_size", BSL_DIAG_MIN_SIZE);
  jval(f, &t, "fdr", BSL_DIAG_FDR);
  jval(f, &t, "min_effect", BSL_DIAG_MIN_EFFECT);
  jval(f, &t, "min_count_change", BSL_DIAG_MOVER_COUNT);
  fputc('}', f);
  jval(f, &a, "segments", (double)d->n_segments);
  jval(f, &a, "tests", (double)d->n_tests);
  jarr(f, &a, "findings");
  for (size_t i = 0; i < d->n_findings; i++) {
    const bsl_diag_finding *x = &d->findings[i];
    bool b = jobj(f, i);
    j_names(f, &b, x->dimension, x->segment, x->metric, x->goal, x->better);
    jval(f, &b, "segment_value", x->segment_value);
    jval(f, &b, "site_value", x->site_value);
    jval(f, &b, "rest_value", x->rest_value);
    jkey(f, &b, "ci");
    fputc('[', f), jnum(f, x->ci_lo), fputc(',', f), jnum(f, x->ci_hi);
    fputc(']', f);
    jval(f, &b, "size", x->size);
    jstr(f, &b, "size_unit", x->unit);
    jval(f, &b, "count", x->count);
    struct j_test jt = {x->p_value,     x->q_value,      x->exact, x->impact,
                        x->impact_unit, x->impact_share, x->also};
    j_test(f, &b, &jt);
    fputc('}', f);
  }
  fputc(']', f);
  jarr(f, &a, "movers");
  for (size_t i = 0; i < d->n_movers; i++) {
    const bsl_diag_mover *m = &d->movers[i];
    bool b = jobj(f, i);
    j_names(f, &b, m->dimension, m->segment, m->metric, m->goal, m->better);
    jval(f, &b, "value", m->value);
    jval(f, &b, "previous_value", m->prev_value);
    jval(f, &b, "size", m->size);
    jval(f, &b, "previous_size", m->prev_size);
    struct j_test jt = {m->p_value,     m->q_value,      m->exact, m->impact,
                        m->impact_unit, m->impact_share, m->also};
    j_test(f, &b, &jt);
    fputc('}', f);
  }
  fputc(']', f);
  jarr(f, &a, "leaks");
  for (size_t i = 0; i < d->n_leaks; i++) {
    bool b = jobj(f, i);
    jstr(f, &b, "kind", d->leaks[i].kind);
    jstr(f, &b, "subject", d->leaks[i].subject);
    jval(f, &b, "size", d->leaks[i].size);
    jstr(f, &b, "message", d->leaks[i].message);
    fputc('}', f);
  }
  fputc(']', f);
  /* "objectives" each have a kpi_block (SPEC §10); the top findings no
   * [kpi] can express go to "objectives_skipped" with the reason */
  for (int skipped = 0; skipped <= 1; skipped++) {
    jkey(f, &a, skipped ? "objectives_skipped" : "objectives");
    fputc('[', f);
    bool first = true;
    for (size_t i = 0; i < d->n_objectives; i++) {
      const bsl_diag_objective *o = &d->objectives[i];
      if ((o->kpi_block == NULL) != (skipped == 1))
        continue;
      const bsl_diag_finding *x = &d->findings[o->finding];
      bool b = true;
      fputs(first ? "{" : ",{", f);
      first = false;
      jstr(f, &b, "name", o->name);
      jstr(f, &b, "dimension", x->dimension);
      jstr(f, &b, "segment", x->segment);
      jstr(f, &b, "metric", x->metric);
      jstr(f, &b, "goal", x->goal);
      jval(f, &b, "finding", (double)o->finding);
      if (!skipped) {
        jval(f, &b, "baseline", o->baseline);
        jval(f, &b, "target", o->target);
        jstr(f, &b, "deadline", o->deadline);
        jstr(f, &b, "kpi_block", o->kpi_block);
      }
      jstr(f, &b, skipped ? "why" : "how", o->how);
      fputc('}', f);
    }
    fputc(']', f);
  }
  fputs("}\n", f);
  return ferror(f) ? -1 : 0;
}
