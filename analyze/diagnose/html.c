/*
 * The HTML page of a diagnosis (bsl_diag_write_html), built like the
 * report's page (analyze/report/html.c): one self-contained file, inline
 * CSS and SVG, no script, and a Content-Security-Policy of default-src
 * 'none', so that nothing from the logs can make it load or run anything.
 * Every string from the logs goes through bsl_html_text.
 */
#include <math.h>
#include <string.h>

#include "diagnose.h"
#include "escape.h"
#include "report.h"

#define ESC(o, s) bsl_html_text((o), (s), 0)

static const char CSS[] =
    ":root{--bg:#f4f6f9;--card:#fff;--fg:#1c2230;--muted:#687185;"
    "--line:#e4e7ed;--accent:#3867f0;--good:#16955a;--bad:#d4413f;"
    "--warn:#c98a0c}"
    "@media (prefers-color-scheme:dark){:root{--bg:#0e1217;--card:#161b23;"
    "--fg:#e5e8ee;--muted:#8f98aa;--line:#28303c;--accent:#6b8ff7;"
    "--good:#3fc27f;--bad:#f0625f;--warn:#e8b33c}}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 "
    "system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}"
    "header{background:var(--card);border-bottom:1px solid var(--line)}"
    "header div,main{max-width:1200px;margin:0 auto;padding:14px 20px}"
    "header h1{font-size:18px;margin:0;display:inline;margin-right:16px}"
    "header h1 b{color:var(--accent)}.sub{color:var(--muted);font-size:13px}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(150px,1fr));gap:12px}"
    ".card,section{background:var(--card);border:1px solid var(--line);"
    "border-radius:10px}"
    ".card{padding:12px 14px}.card .k{color:var(--muted);font-size:12px;"
    "text-transform:uppercase;letter-spacing:.05em}"
    ".card .v{font-size:24px;font-weight:700;"
    "font-variant-numeric:tabular-nums}"
    "section{padding:16px 18px;margin-top:16px;overflow-x:auto}"
    "h2{font-size:13px;text-transform:uppercase;letter-spacing:.07em;"
    "color:var(--muted);margin:0 0 10px}"
    "table{width:100%;border-collapse:collapse;"
    "font-variant-numeric:tabular-nums}"
    "th{color:var(--muted);font-weight:600;font-size:12px;text-align:right}"
    "th,td{padding:6px 8px;border-bottom:1px solid var(--line);"
    "text-align:right;white-space:nowrap}"
    "th:first-child,td:first-child,th:nth-child(2),td:nth-child(2)"
    "{text-align:left}"
    "tr:last-child td{border-bottom:0}"
    "td.t{min-width:160px;max-width:320px;white-space:normal;"
    "overflow-wrap:anywhere;"
    "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}"
    ".d{color:var(--muted);font-size:12px;font-family:system-ui,sans-serif}"
    ".good{color:var(--good)}.bad{color:var(--bad)}.warn{color:var(--warn)}"
    "svg.ci{width:150px;height:16px;vertical-align:middle}"
    "svg.ci .r{stroke:var(--muted);stroke-width:2}"
    "svg.ci .s{stroke:var(--fg);stroke-width:2}"
    "svg.ci .good{fill:var(--good)}svg.ci .bad{fill:var(--bad)}"
    ".note{color:var(--muted);font-size:13px;margin:8px 0 0}"
    "ul.leaks{margin:0;padding-left:20px}ul.leaks li{margin:4px 0}"
    ".obj{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(420px,1fr));gap:14px}"
    ".obj div{border:1px solid var(--line);border-radius:8px;padding:10px}"
    "pre{background:var(--bg);padding:8px 10px;border-radius:6px;"
    "overflow-x:auto;font-size:12.5px;margin:6px 0 0}"
    "footer{color:var(--muted);font-size:12px;margin-top:18px}";

static void rate(FILE *o, const char *metric, double v) {
  if (isnan(v))
    fputs("-", o);
  else if (strcmp(metric, "click_rate") == 0)
    fprintf(o, "%.3f", v);
  else
    fprintf(o, "%.1f%%", 100 * v);
}

static void count(FILE *o, double v) {
  char b[32];
  bsl_report_format_count(v, b, sizeof b);
  fputs(b, o);
}

static void qval(FILE *o, double q) {
  if (q < 0.001)
    fputs("&lt; 0.001", o);
  else
    fprintf(o, "%.3f", q);
}

static void also(FILE *o, const char *also) {
  if (!also)
    return;
  fputs(" \u00b7 the same visits as ", o);
  bsl_html_text(o, also, 120);
}

/* The segment's 95% interval as a bar, its value as a dot, and the site's
 * value as a tick, on a scale from 0 to a little past the largest. */
static void ci_svg(FILE *o, const bsl_diag_finding *f) {
  double top = fmax(fmax(f->ci_hi, f->site_value), f->segment_value) * 1.1;
  if (!(top > 0) || isinf(top))
    return;
  double w = 150, pad = 5;
#define X(v) (pad + (w - 2 * pad) * fmin(1, fmax(0, (v) / top)))
  fprintf(o,
          "<svg class=\"ci\" viewBox=\"0 0 150 16\" role=\"img\">"
          "<line class=\"r\" x1=\"%.1f\" y1=\"8\" x2=\"%.1f\" y2=\"8\"/>"
          "<line class=\"s\" x1=\"%.1f\" y1=\"1\" x2=\"%.1f\" y2=\"15\"/>"
          "<circle class=\"%s\" cx=\"%.1f\" cy=\"8\" r=\"4\"/></svg>",
          X(f->ci_lo), X(f->ci_hi), X(f->site_value), X(f->site_value),
          f->better ? "good" : "bad", X(f->segment_value));
#undef X
}

static void findings(FILE *o, const bsl_diag *d, bool better) {
  fprintf(o, "<section><h2>%s</h2>", better ? "Strengths" : "Weak points");
  size_t n = 0;
  for (size_t i = 0; i < d->n_findings; i++)
    n += d->findings[i].better == better;
  if (!n) {
    fputs("<p class=\"note\">None that passes the tests.</p></section>\n", o);
    return;
  }
  fputs("<table><tr><th>segment</th><th>metric</th><th>segment</th>"
        "<th>95% interval \u00b7 site</th><th>site</th><th>size</th>"
        "<th>worth</th><th>q</th></tr>\n",
        o);
  for (size_t i = 0; i < d->n_findings; i++) {
    const bsl_diag_finding *f = &d->findings[i];
    if (f->better != better)
      continue;
    char words[96];
    bsl_diag_metric_words(f->metric, f->goal, words, sizeof words);
    fputs("<tr><td class=\"t\" title=\"", o);
    ESC(o, f->segment);
    fputs("\">", o);
    bsl_html_text(o, f->segment, 60);
    fputs("<br><span class=\"d\">", o);
    ESC(o, f->dimension);
    also(o, f->also);
    fputs("</span></td><td>", o);
    ESC(o, words);
    fprintf(o, "</td><td class=\"%s\"><b>", better ? "good" : "bad");
    rate(o, f->metric, f->segment_value);
    fputs("</b></td><td>", o);
    ci_svg(o, f);
    fputs("</td><td>", o);
    rate(o, f->metric, f->site_value);
    fputs("</td><td>", o);
    count(o, f->size);
    fprintf(o, " %s</td><td>%s", f->unit, f->impact >= 0 ? "+" : "\u2212");
    count(o, fabs(f->impact));
    fprintf(o, " %s (%.0f%%)</td><td>", f->impact_unit,
            100 * fabs(f->impact_share));
    qval(o, f->q_value);
    fputs("</td></tr>\n", o);
  }
  fputs("</table></section>\n", o);
}

static void movers(FILE *o, const bsl_diag *d) {
  fputs("<section><h2>Movers against ", o);
  ESC(o, d->prev_from);
  fputs(" \u2192 ", o);
  ESC(o, d->prev_to);
  fputs("</h2>", o);
  if (!d->n_movers) {
    fputs("<p class=\"note\">None that passes the tests.</p></section>\n", o);
    return;
  }
  fputs("<table><tr><th>segment</th><th>metric</th><th>now</th>"
        "<th>before</th><th>change</th><th>q</th></tr>\n",
        o);
  for (size_t i = 0; i < d->n_movers; i++) {
    const bsl_diag_mover *m = &d->movers[i];
    bool cnt = strcmp(m->metric, "visits") == 0 ||
               strcmp(m->metric, "conversions") == 0;
    char words[96], ch[32];
    bsl_diag_metric_words(m->metric, m->goal, words, sizeof words);
    if (cnt)
      bsl_report_format_change(m->value, m->prev_value, ch, sizeof ch);
    else
      bsl_report_format_points(m->value, m->prev_value, ch, sizeof ch);
    fputs("<tr><td class=\"t\">", o);
    bsl_html_text(o, m->segment, 60);
    fputs("<br><span class=\"d\">", o);
    ESC(o, m->dimension);
    also(o, m->also);
    fputs("</span></td><td>", o);
    ESC(o, words);
    fprintf(o, "</td><td class=\"%s\"><b>", m->better ? "good" : "bad");
    if (cnt)
      count(o, m->value);
    else
      rate(o, m->metric, m->value);
    fputs("</b></td><td>", o);
    if (cnt)
      count(o, m->prev_value);
    else
      rate(o, m->metric, m->prev_value);
    fprintf(o, "</td><td class=\"%s\">", m->better ? "good" : "bad");
    ESC(o, ch);
    fputs("</td><td>", o);
    qval(o, m->q_value);
    fputs("</td></tr>\n", o);
  }
  fputs("</table></section>\n", o);
}

static void leaks(FILE *o, const bsl_diag *d) {
  fputs("<section><h2>Leaks</h2>", o);
  if (!d->n_leaks) {
    fputs("<p class=\"note\">None found.</p></section>\n", o);
    return;
  }
  fputs("<ul class=\"leaks\">", o);
  for (size_t i = 0; i < d->n_leaks; i++) {
    fputs("<li><b class=\"warn\">", o);
    ESC(o, d->leaks[i].kind);
    fputs("</b> <code>", o);
    bsl_html_text(o, d->leaks[i].subject, 80);
    fputs("</code>: ", o);
    ESC(o, d->leaks[i].message);
    fputs("</li>", o);
  }
  fputs("</ul></section>\n", o);
}

static void objectives(FILE *o, const bsl_diag *d) {
  fputs("<section><h2>Proposed objectives</h2><p class=\"note\">Paste a "
        "block into the configuration (which must define the goal it "
        "names); <code>boussole check</code> validates it.</p>"
        "<div class=\"obj\">",
        o);
  for (size_t i = 0; i < d->n_objectives; i++) {
    const bsl_diag_objective *ob = &d->objectives[i];
    fputs("<div><b>", o);
    ESC(o, ob->name);
    fputs("</b><p class=\"note\">", o);
    ESC(o, ob->how);
    fputs("</p>", o);
    if (ob->kpi_block) {
      /* line by line: the escaper shows a raw newline as \x0a */
      fputs("<pre>", o);
      for (const char *p = ob->kpi_block; *p;) {
        size_t len = strcspn(p, "\n");
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(len < 511 ? len : 511), p);
        ESC(o, line);
        fputc('\n', o);
        p += len + (p[len] == '\n');
      }
      fputs("</pre>", o);
    }
    fputs("</div>", o);
  }
  if (!d->n_objectives)
    fputs("<p class=\"note\">None: no finding to build one on.</p>", o);
  fputs("</div></section>\n", o);
}

static void card(FILE *o, const char *k, const char *v) {
  fputs("<div class=\"card\"><div class=\"k\">", o);
  ESC(o, k);
  fputs("</div><div class=\"v\">", o);
  ESC(o, v);
  fputs("</div></div>", o);
}

int bsl_diag_write_html(const bsl_diag *d, FILE *o) {
  bsl_html_page_start(o, "diagnose", d->from, d->to, CSS, false);
  ESC(o, d->from);
  fputs(" \u2192 ", o);
  ESC(o, d->to);
  fprintf(o, " (%d days) \u00b7 compared with ", d->n_days);
  ESC(o, d->prev_from);
  fputs(" \u2192 ", o);
  ESC(o, d->prev_to);
  fputs("</span></div></header>\n<main>\n<div class=\"cards\">", o);
  char v[64];
  bsl_report_format_count(d->visits, v, sizeof v);
  card(o, "visits", v);
  bsl_report_format_percent(d->visits > 0 ? d->bounces / d->visits : NAN, v,
                            sizeof v);
  card(o, "bounce rate", v);
  for (size_t g = 0; g < d->n_goals && g < 4; g++) {
    char k[96];
    snprintf(k, sizeof k, "%.60s rate", d->goals[g]);
    bsl_report_format_percent(
        d->visits > 0 ? d->goal_conversions[g] / d->visits : NAN, v, sizeof v);
    card(o, k, v);
  }
  snprintf(v, sizeof v, "%zu / %zu", d->n_findings, d->n_tests);
  card(o, "findings / tests", v);
  fputs("</div>\n", o);
  findings(o, d, true);
  findings(o, d, false);
  movers(o, d);
  leaks(o, d);
  objectives(o, d);
  fprintf(o,
          "<footer>A segment is tested with at least %d visits (pageviews for "
          "scroll and click rates) in it and outside it: a two-proportion z "
          "test, or Fisher's exact test when an expected count is under 5. A "
          "finding has q &lt; %.2f after Benjamini\u2013Hochberg over all %zu "
          "tests and differs from the site by at least %.0f%%. The bar is the "
          "segment's 95%% Wilson interval, the tick the site. Generated by "
          "boussole " BSL_VERSION " at ",
          BSL_DIAG_MIN_SIZE, BSL_DIAG_FDR, d->n_tests,
          100 * BSL_DIAG_MIN_EFFECT);
  ESC(o, d->generated_at);
  fputs(".</footer>\n</main>\n</body></html>\n", o);
  return ferror(o) ? -1 : 0;
}
