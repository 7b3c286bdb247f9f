/*
 * The HTML page of a bsl_report (bsl_report_write_html): one self-contained
 * file with inline CSS and SVG, no script and a Content-Security-Policy that
 * forbids every fetch, so it renders the same offline, from a mail attachment
 * or a web server, and no log content can make it load or run anything.
 */

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "escape.h"
#include "kpi.h"
#include "metrics.h"
#include "report.h"
#include "url.h"

/* ---- the HTML page ---- */

#define ESC(o, s) bsl_html_text((o), (s), 0)

static const char CSS[] =
    ":root{--bg:#f4f6f9;--card:#fff;--fg:#1c2230;--muted:#687185;"
    "--line:#e4e7ed;--grid:#eef0f4;--accent:#3867f0;--good:#16955a;"
    "--bad:#d4413f;--warn:#c98a0c;--flag:#d4413f;"
    "--c0:#3867f0;--c1:#8a93a6;--c2:#12a3a0;--c3:#e04d8b;--c4:#f0961c;"
    "--c5:#8e5cf5;--c6:#25a55f;--c7:#c0c6d1}"
    "@media (prefers-color-scheme:dark){:root{--bg:#0e1217;--card:#161b23;"
    "--fg:#e5e8ee;--muted:#8f98aa;--line:#28303c;--grid:#1f2630;"
    "--accent:#6b8ff7;--good:#3fc27f;--bad:#f0625f;--warn:#e8b33c;"
    "--flag:#f0625f;--c0:#6b8ff7;--c1:#7d879a;--c2:#2cc4c0;--c3:#f06aa3;"
    "--c4:#f5a83e;--c5:#a67ef8;--c6:#3fc27f;--c7:#59606d}}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--fg);"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,"
    "Arial,sans-serif;-webkit-text-size-adjust:100%}"
    "header{background:var(--card);border-bottom:1px solid var(--line)}"
    "header div{max-width:1200px;margin:0 auto;padding:14px 20px;"
    "display:flex;flex-wrap:wrap;gap:4px 18px;align-items:baseline}"
    "header h1{font-size:18px;margin:0;font-weight:700;letter-spacing:-.01em}"
    "header h1 b{color:var(--accent)}"
    "header .sub{color:var(--muted);font-size:13px}"
    "main{max-width:1200px;margin:0 auto;padding:16px 20px 40px}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(140px,1fr));gap:12px}"
    ".card,section{background:var(--card);border:1px solid var(--line);"
    "border-radius:10px}"
    ".card{padding:12px 14px 8px}"
    ".card .k{color:var(--muted);font-size:12px;text-transform:uppercase;"
    "letter-spacing:.05em}"
    ".card .v{font-size:25px;font-weight:700;margin:2px 0;"
    "font-variant-numeric:tabular-nums}"
    ".card .p{color:var(--muted);font-size:12px}"
    ".card svg{display:block;width:100%;height:34px;margin-top:4px}"
    ".up{color:var(--good)}.down{color:var(--bad)}.flat{color:var(--muted)}"
    "section{padding:16px 18px;margin-top:16px;min-width:0}"
    "h2{font-size:13px;text-transform:uppercase;letter-spacing:.07em;"
    "color:var(--muted);margin:0 0 12px;font-weight:650}"
    "h3{font-size:15px;margin:0}"
    ".row{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(440px,1fr));gap:0 16px}"
    ".tw{overflow-x:auto}"
    "table{width:100%;border-collapse:collapse;"
    "font-variant-numeric:tabular-nums}"
    "th{color:var(--muted);font-weight:600;font-size:12px;"
    "text-transform:uppercase;letter-spacing:.04em}"
    "th,td{padding:7px 8px;border-bottom:1px solid var(--line);"
    "text-align:right;white-space:nowrap}"
    "th:first-child,td:first-child{text-align:left}"
    "tr:last-child td{border-bottom:0}"
    "td.t{max-width:380px;overflow:hidden;text-overflow:ellipsis;"
    "text-align:left;"
    "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;"
    "font-size:13px}"
    ".m{display:inline-block;vertical-align:middle;width:56px;height:8px;"
    "background:var(--grid);border-radius:4px;overflow:hidden;"
    "margin-right:8px}"
    ".m i{display:block;height:100%;background:var(--accent);"
    "border-radius:4px}"
    ".sw{display:inline-block;width:10px;height:10px;border-radius:3px;"
    "margin-right:7px;vertical-align:-1px}"
    "svg.ch{display:block;width:100%;height:auto}"
    "svg text{fill:var(--muted);font-size:12px;paint-order:stroke;"
    "stroke:var(--card);stroke-width:3px;stroke-linejoin:round}"
    "svg .g{stroke:var(--grid);stroke-width:1}"
    "svg .ax{stroke:var(--line);stroke-width:1}"
    ".legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin-top:8px;"
    "font-size:13px;color:var(--muted)}"
    ".note{color:var(--muted);font-size:13px;margin:4px 0 0}"
    ".funnels{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(320px,1fr));gap:18px}"
    ".fn h3{margin-bottom:8px;overflow:hidden;text-overflow:ellipsis;"
    "white-space:nowrap}"
    ".st{display:grid;grid-template-columns:82px 1fr 120px;gap:8px;"
    "align-items:center;font-size:13px;margin:3px 0}"
    ".st .b{height:16px;background:var(--grid);border-radius:4px;"
    "overflow:hidden}"
    ".st .b i{display:block;height:100%;background:var(--c4);"
    "border-radius:4px}"
    ".st .b i.w{background:var(--c6)}"
    ".st span:last-child{text-align:right;color:var(--muted);"
    "font-variant-numeric:tabular-nums}"
    ".st b{color:var(--fg)}"
    ".kpis{display:grid;grid-template-columns:repeat(auto-fill,"
    "minmax(460px,1fr));gap:16px}"
    ".kpi{border:1px solid var(--line);border-radius:10px;padding:12px 14px}"
    ".kh{display:flex;flex-wrap:wrap;gap:6px 12px;align-items:center}"
    ".badge{font-size:12px;font-weight:700;padding:2px 8px;border-radius:999px;"
    "text-transform:uppercase;letter-spacing:.04em;border:1px solid}"
    ".s-good{color:var(--good)}.s-bad{color:var(--bad)}"
    ".s-warn{color:var(--warn)}.s-mute{color:var(--muted)}"
    ".kf{color:var(--muted);font-size:13px;margin:6px 0}"
    ".kf b{color:var(--fg);font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    ".kpi ol{margin:6px 0 0;padding-left:22px;font-size:13px}"
    ".kpi li{margin:2px 0}"
    "svg .ser{fill:none;stroke:var(--accent);stroke-width:2;"
    "stroke-linejoin:round}"
    "svg .dot{fill:var(--accent)}"
    "svg .trend{stroke:var(--fg);stroke-width:1.5;stroke-dasharray:6 4;"
    "opacity:.75}"
    "svg .tgt{stroke:var(--good);stroke-width:1.5;stroke-dasharray:2 3}"
    "svg .dl{stroke:var(--warn);stroke-width:1.5;stroke-dasharray:4 3}"
    "svg .flag{fill:var(--flag);opacity:.13}"
    "svg .adj{stroke:var(--c5);stroke-width:1.5}"
    "svg .adjm{fill:var(--c5)}svg .adjm+text{fill:#fff;font-size:11px;"
    "font-weight:700;stroke:none}"
    "svg .pv{fill:var(--c0);opacity:.35}"
    "svg .cr{fill:none;stroke:var(--c6);stroke-width:2}"
    "svg .sp{fill:none;stroke:var(--accent);stroke-width:1.5}"
    "svg .spa{fill:var(--accent);opacity:.12}"
    "footer{color:var(--muted);font-size:12px;text-align:center;"
    "margin-top:24px}"
    "@media (max-width:640px){main{padding:10px 10px 30px}"
    "header div{padding:12px}.row,.kpis,.funnels{grid-template-columns:1fr}"
    "section{padding:12px}.card .v{font-size:21px}"
    "td.t{max-width:170px}.m{width:56px}th,td{padding:6px 5px}"
    ".st{grid-template-columns:70px 1fr 100px}}";

static const char *const CH_VAR[BSL_CH_COUNT] = {
    "var(--c0)", "var(--c1)", "var(--c2)", "var(--c3)",
    "var(--c4)", "var(--c5)", "var(--c6)", "var(--c7)"};

static double fmax2(double a, double b) {
  return a > b ? a : b;
}
static double hratio(double a, double b) {
  return b > 0 ? a / b : NAN;
}

/* A round step for an axis covering RAW per step: 1, 2, 2.5 or 5 x 10^k
 * (a whole number when INTEGER), so every tick label is a round number. */
static double nice_step(double raw, bool integer) {
  if (!(raw > 0) || !isfinite(raw))
    return integer ? 1 : 0.01;
  double e = pow(10, floor(log10(raw)));
  static const double M[] = {1, 2, 2.5, 5, 10, 20};
  for (size_t i = 0; i < sizeof M / sizeof *M; i++) {
    double s = M[i] * e;
    if (s >= raw * 0.9999 && (!integer || fabs(s - rint(s)) < 1e-9))
      return integer && s < 1 ? 1 : s;
  }
  return integer ? 1 : 10 * e;
}

/* The top of a 4-tick axis from 0 that shows HI, at most CAP. */
static double axis_max(double hi, bool integer, double cap) {
  double m = 4 * nice_step(hi / 4, integer);
  return m > cap ? cap : m;
}

/* Digits after the point that X needs (at most 3). */
static int decimals_of(double x) {
  for (int d = 0; d < 3; d++) {
    double k = x * pow(10, d);
    if (fabs(k - rint(k)) < 1e-6)
      return d;
  }
  return 3;
}

/* A percentage tick: V (a fraction) with the digits STEP needs. */
static void percent_tick(double v, double step, char *out, size_t cap) {
  snprintf(out, cap, "%.*f%%", decimals_of(step * 100), v * 100);
}

/* Writes a path from a log as text: percent-decoded ("/caf%C3%A9" reads
 * "/café", a '+' stays a '+'), escaped, at most MAXCHARS characters.  The
 * bytes as logged go in the cell's title. */
static void path_text(FILE *o, const char *path, size_t maxchars) {
  char enc[2048], dec[2048];
  size_t n = 0;
  for (const char *p = path; *p && n + 4 < sizeof enc; p++) {
    if (*p == '+') {
      memcpy(enc + n, "%2B", 3);
      n += 3;
    } else {
      enc[n++] = *p;
    }
  }
  enc[n] = '\0';
  if (bsl_url_decode(enc, n, dec, sizeof dec) < 0)
    snprintf(dec, sizeof dec, "%s", path);
  bsl_html_text(o, dec, maxchars);
}

static void short_day(const char *day, char out[8]) {
  /* "2024-05-04" -> "05-04": a chart's x labels */
  snprintf(out, 8, "%.5s", strlen(day) >= 10 ? day + 5 : day);
}

/* The change badge of a card: GOOD_UP tells whether a rise is good. */
static void delta(FILE *o, double cur, double prev, bool good_up, bool points) {
  char c[32];
  if (points)
    bsl_report_format_points(cur, prev, c, sizeof c);
  else
    bsl_report_format_change(cur, prev, c, sizeof c);
  const char *cls = "flat";
  if (!isnan(cur) && !isnan(prev) && cur != prev && strcmp(c, "-") != 0 &&
      strcmp(c, "0.0%") != 0 && strcmp(c, "0.0 pt") != 0)
    cls = (cur > prev) == good_up ? "up" : "down";
  const char *arrow = strcmp(cls, "flat") == 0 ? ""
                      : cur > prev             ? "\u25b2 "
                                               : "\u25bc ";
  fprintf(o, "<span class=\"%s\">%s%s</span>", cls, arrow, c);
}

static void card_spark(FILE *o, const bsl_report *r, int f) {
  if (r->n_days < 2)
    return;
  double hi = 0;
  for (int i = 0; i < r->n_days; i++)
    hi = fmax2(hi, f == 0   ? r->days[i].t.visits
                   : f == 1 ? r->days[i].t.pageviews
                            : r->days[i].t.conversions);
  if (hi <= 0)
    hi = 1;
  fputs("<svg viewBox=\"0 0 200 34\" preserveAspectRatio=\"none\" "
        "aria-hidden=\"true\"><path class=\"spa\" d=\"M0 34",
        o);
  for (int i = 0; i < r->n_days; i++) {
    double v = f == 0   ? r->days[i].t.visits
               : f == 1 ? r->days[i].t.pageviews
                        : r->days[i].t.conversions;
    fprintf(o, " L%.1f %.1f", 200.0 * i / (r->n_days - 1), 33 - 31 * v / hi);
  }
  fputs(" L200 34Z\"/><path class=\"sp\" d=\"", o);
  for (int i = 0; i < r->n_days; i++) {
    double v = f == 0   ? r->days[i].t.visits
               : f == 1 ? r->days[i].t.pageviews
                        : r->days[i].t.conversions;
    fprintf(o, "%c%.1f %.1f", i ? 'L' : 'M', 200.0 * i / (r->n_days - 1),
            33 - 31 * v / hi);
  }
  fputs("\"/></svg>", o);
}

static void card(FILE *o, const char *label, const char *value, double cur,
                 double prev, bool good_up, bool points, const bsl_report *r,
                 int spark) {
  fprintf(o,
          "<div class=\"card\"><div class=\"k\">%s</div>"
          "<div class=\"v\">%s</div><div class=\"p\">",
          label, value);
  delta(o, cur, prev, good_up, points);
  fputs(" vs prev.</div>", o);
  if (spark >= 0)
    card_spark(o, r, spark);
  fputs("</div>\n", o);
}

static void html_cards(FILE *o, const bsl_report *r) {
  const bsl_report_totals *c = &r->cur, *p = &r->prev;
  char v[32];
  fputs("<div class=\"cards\">\n", o);
  bsl_report_format_count(c->visits, v, sizeof v);
  card(o, "Visits", v, c->visits, p->visits, true, false, r, 0);
  bsl_report_format_count(c->visitors, v, sizeof v);
  card(o, "Visitors", v, c->visitors, p->visitors, true, false, r, -1);
  bsl_report_format_count(c->pageviews, v, sizeof v);
  card(o, "Pageviews", v, c->pageviews, p->pageviews, true, false, r, 1);
  double a = hratio(c->conversions, c->visits),
         b = hratio(p->conversions, p->visits);
  bsl_report_format_percent(a, v, sizeof v);
  card(o, "Conversion rate", v, a, b, true, true, r, 2);
  a = hratio(c->bounces, c->visits), b = hratio(p->bounces, p->visits);
  bsl_report_format_percent(a, v, sizeof v);
  card(o, "Bounce rate", v, a, b, false, true, r, -1);
  a = hratio(c->pageviews, c->visits), b = hratio(p->pageviews, p->visits);
  snprintf(v, sizeof v, isnan(a) ? "-" : "%.2f", a);
  card(o, "Pages / visit", v, a, b, true, false, r, -1);
  fputs("</div>\n<p class=\"note\">", o);
  bsl_report_format_count(c->hits, v, sizeof v);
  fprintf(o, "%s hits, ", v);
  bsl_report_format_count(c->bot_hits, v, sizeof v);
  fprintf(o, "%s from bots (", v);
  delta(o, c->hits, p->hits, true, false);
  fputs(" hits vs previous) \u00b7 visitors are counted per day and "
        "summed</p>\n",
        o);
}

/* Geometry of a time chart: N slots over the plot area. */
struct plot {
  double w, h, l, r, t, b; /* viewBox size and margins */
  int n;
  double ymax;
};

static double px(const struct plot *p, double i) {
  return p->l + (p->w - p->l - p->r) * (i + 0.5) / p->n;
}
static double py(const struct plot *p, double v) {
  return p->h - p->b - (p->h - p->t - p->b) * (v / p->ymax);
}

static void y_grid(FILE *o, const struct plot *p, bool right, double rmax) {
  for (int i = 0; i <= 4; i++) {
    double v = p->ymax * i / 4, y = py(p, v);
    char lab[32];
    bsl_report_format_compact(v, lab, sizeof lab);
    fprintf(o,
            "<line class=\"%s\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" "
            "y2=\"%.1f\"/><text x=\"%.0f\" y=\"%.1f\" "
            "text-anchor=\"end\">%s</text>",
            i ? "g" : "ax", p->l, p->w - p->r, y, y, p->l - 6, y + 4, lab);
    if (right) {
      percent_tick(rmax * i / 4, rmax / 4, lab, sizeof lab);
      fprintf(o, "<text x=\"%.0f\" y=\"%.1f\">%s</text>", p->w - p->r + 6,
              y + 4, lab);
    }
  }
}

static void x_labels(FILE *o, const struct plot *p, const bsl_report *r) {
  int step = r->n_days <= 8 ? 1 : (r->n_days + 6) / 7;
  for (int i = 0; i < r->n_days; i += step) {
    char d[8];
    short_day(r->days[i].day, d);
    fprintf(o, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>",
            px(p, i), p->h - p->b + 17, d);
  }
}

static void html_channels_chart(FILE *o, const bsl_report *r) {
  struct plot p = {
      .w = 720, .h = 260, .l = 44, .r = 10, .t = 10, .b = 26, .n = r->n_days};
  double hi = 0;
  for (int i = 0; i < r->n_days; i++) {
    double s = 0;
    for (int c = 0; c < BSL_CH_COUNT; c++)
      s += r->days[i].channel_visits[c];
    hi = fmax2(hi, s);
  }
  p.ymax = axis_max(hi, true, INFINITY);
  fputs("<section><h2>Daily visits by channel</h2>"
        "<svg class=\"ch\" viewBox=\"0 0 720 260\" role=\"img\" "
        "aria-label=\"Daily visits by channel\">",
        o);
  y_grid(o, &p, false, 0);
  double bw = (p.w - p.l - p.r) / p.n * 0.72;
  for (int i = 0; i < r->n_days; i++) {
    const bsl_report_day *d = &r->days[i];
    double base = 0, tot = 0;
    for (int c = 0; c < BSL_CH_COUNT; c++)
      tot += d->channel_visits[c];
    fputs("<g><title>", o);
    ESC(o, d->day);
    char n[32];
    bsl_report_format_count(tot, n, sizeof n);
    fprintf(o, ": %s visits", n);
    for (int c = 0; c < BSL_CH_COUNT; c++)
      if (d->channel_visits[c] > 0) {
        bsl_report_format_count(d->channel_visits[c], n, sizeof n);
        fprintf(o, "\n%s: %s", bsl_report_channel_name(c), n);
      }
    fputs("</title>", o);
    for (int c = 0; c < BSL_CH_COUNT; c++) {
      double v = d->channel_visits[c];
      if (v <= 0)
        continue;
      double y1 = py(&p, base), y2 = py(&p, base + v);
      fprintf(o,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
              "fill=\"%s\"/>",
              px(&p, i) - bw / 2, y2, bw, y1 - y2, CH_VAR[c]);
      base += v;
    }
    fputs("</g>", o);
  }
  x_labels(o, &p, r);
  fputs("</svg><div class=\"legend\">", o);
  double tot[BSL_CH_COUNT] = {0};
  for (int i = 0; i < r->n_days; i++)
    for (int c = 0; c < BSL_CH_COUNT; c++)
      tot[c] += r->days[i].channel_visits[c];
  for (int c = 0; c < BSL_CH_COUNT; c++)
    if (tot[c] > 0) {
      char n[32];
      bsl_report_format_count(tot[c], n, sizeof n);
      fprintf(o,
              "<span><i class=\"sw\" style=\"background:%s\"></i>%s "
              "<b>%s</b></span>",
              CH_VAR[c], bsl_report_channel_name(c), n);
    }
  fputs("</div></section>\n", o);
}

static void html_pv_chart(FILE *o, const bsl_report *r) {
  struct plot p = {
      .w = 720, .h = 260, .l = 44, .r = 46, .t = 10, .b = 26, .n = r->n_days};
  double hi = 0, rhi = 0;
  for (int i = 0; i < r->n_days; i++) {
    hi = fmax2(hi, r->days[i].t.pageviews);
    double cr = hratio(r->days[i].t.conversions, r->days[i].t.visits);
    if (!isnan(cr))
      rhi = fmax2(rhi, cr);
  }
  p.ymax = axis_max(hi, true, INFINITY);
  /* a rate's axis never passes 100% */
  double rmax = axis_max(rhi > 0 ? rhi : 0.01, false, 1);
  fputs("<section><h2>Pageviews and conversion rate</h2>"
        "<svg class=\"ch\" viewBox=\"0 0 720 260\" role=\"img\" "
        "aria-label=\"Pageviews and conversion rate per day\">",
        o);
  y_grid(o, &p, true, rmax);
  double bw = (p.w - p.l - p.r) / p.n * 0.72;
  for (int i = 0; i < r->n_days; i++) {
    const bsl_report_day *d = &r->days[i];
    double y = py(&p, d->t.pageviews);
    char n[32], cr[32];
    bsl_report_format_count(d->t.pageviews, n, sizeof n);
    bsl_report_format_percent(hratio(d->t.conversions, d->t.visits), cr,
                              sizeof cr);
    fputs("<rect class=\"pv\"", o);
    fprintf(o, " x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">",
            px(&p, i) - bw / 2, y, bw, p.h - p.b - y);
    fputs("<title>", o);
    ESC(o, d->day);
    fprintf(o, ": %s pageviews, conversion rate %s</title></rect>", n, cr);
  }
  /* the rate on the right axis, gaps where a day had no visits */
  fputs("<path class=\"cr\" d=\"", o);
  bool pen = false;
  for (int i = 0; i < r->n_days; i++) {
    double cr = hratio(r->days[i].t.conversions, r->days[i].t.visits);
    if (isnan(cr)) {
      pen = false;
      continue;
    }
    double y = p.h - p.b - (p.h - p.t - p.b) * (fmin(cr, rmax) / rmax);
    fprintf(o, "%c%.1f %.1f", pen ? 'L' : 'M', px(&p, i), y);
    pen = true;
  }
  fputs("\"/>", o);
  x_labels(o, &p, r);
  fputs("</svg><div class=\"legend\"><span><i class=\"sw\" "
        "style=\"background:var(--c0);opacity:.5\"></i>pageviews (left)"
        "</span><span><i class=\"sw\" style=\"background:var(--c6)\"></i>"
        "conversion rate (right)</span></div></section>\n",
        o);
}

static void meter(FILE *o, double frac, const char *color) {
  if (isnan(frac) || frac < 0)
    frac = 0;
  if (frac > 1)
    frac = 1;
  fprintf(o, "<span class=\"m\"><i style=\"width:%.1f%%%s%s\"></i></span>",
          frac * 100, color ? ";background:" : "", color ? color : "");
}

static void html_channels_table(FILE *o, const bsl_report *r) {
  fputs("<div class=\"row\"><section><h2>Channels</h2><div class=\"tw\">"
        "<table><tr><th>Channel</th><th>Visits</th><th>Share</th>"
        "<th>Conv. rate</th><th>Change</th></tr>\n",
        o);
  if (!r->n_channels)
    fputs("<tr><td colspan=\"5\">No visits in this period</td></tr>", o);
  for (size_t i = 0; i < r->n_channels; i++) {
    const bsl_report_channel *c = &r->channels[i];
    int ch = BSL_CH_OTHER;
    for (int j = 0; j < BSL_CH_COUNT; j++)
      if (strcmp(c->name, bsl_report_channel_name(j)) == 0)
        ch = j;
    char v[32], s[32], cr[32];
    bsl_report_format_count(c->visits, v, sizeof v);
    double share = hratio(c->visits, r->cur.visits);
    bsl_report_format_percent(share, s, sizeof s);
    bsl_report_format_percent(hratio(c->conversions, c->visits), cr, sizeof cr);
    fprintf(o, "<tr><td><i class=\"sw\" style=\"background:%s\"></i>",
            CH_VAR[ch]);
    ESC(o, c->name);
    fprintf(o, "</td><td>%s</td><td>", v);
    meter(o, share, CH_VAR[ch]);
    fprintf(o, "%s</td><td>%s</td><td>", s, cr);
    delta(o, c->visits, c->prev_visits, true, false);
    fputs("</td></tr>\n", o);
  }
  fputs("</table></div></section>\n<section><h2>Top sources</h2>"
        "<div class=\"tw\"><table><tr><th>Source / medium</th><th>Visits</th>"
        "<th>Conversions</th></tr>\n",
        o);
  if (!r->n_sources)
    fputs("<tr><td colspan=\"3\">No visits in this period</td></tr>", o);
  for (size_t i = 0; i < r->n_sources && i < 12; i++) {
    const bsl_report_source *s = &r->sources[i];
    char v[32], c[32];
    bsl_report_format_count(s->visits, v, sizeof v);
    bsl_report_format_count(s->conversions, c, sizeof c);
    fputs("<tr><td class=\"t\" title=\"", o);
    ESC(o, s->source);
    fputs(" / ", o);
    ESC(o, s->medium);
    fputs("\">", o);
    bsl_html_text(o, s->source, 60);
    fputs(" / ", o);
    bsl_html_text(o, s->medium, 30);
    fprintf(o, "</td><td>%s</td><td>%s</td></tr>\n", v, c);
  }
  fputs("</table></div></section></div>\n", o);
}

static void html_pages(FILE *o, const bsl_report *r) {
  fputs("<section><h2>Top pages</h2><div class=\"tw\"><table><tr>"
        "<th>Page</th><th>Pageviews</th><th>Entries</th>"
        "<th>Avg scroll depth</th><th>Reached 75%</th></tr>\n",
        o);
  if (!r->n_pages)
    fputs("<tr><td colspan=\"5\">No pageviews in this period</td></tr>", o);
  for (size_t i = 0; i < r->n_pages; i++) {
    const bsl_report_page *p = &r->pages[i];
    char v[32], e[32], s75[32];
    bsl_report_format_count(p->pageviews, v, sizeof v);
    bsl_report_format_count(p->entries, e, sizeof e);
    bsl_report_format_percent(hratio(p->scroll_75, p->pageviews), s75,
                              sizeof s75);
    fputs("<tr><td class=\"t\" title=\"", o);
    ESC(o, p->path);
    fputs("\">", o);
    path_text(o, p->path, 90);
    fprintf(o, "</td><td>%s</td><td>%s</td><td>", v, e);
    meter(o, p->avg_scroll / 100.0, NULL);
    fprintf(o, "%.0f%%</td><td>%s</td></tr>\n", p->avg_scroll, s75);
  }
  fputs("</table></div></section>\n", o);
}

static void html_clicks(FILE *o, const bsl_report *r) {
  fputs("<section><h2>Top clicks</h2><div class=\"tw\"><table><tr>"
        "<th>Target</th><th>Page</th><th>Clicks</th></tr>\n",
        o);
  if (!r->n_clicks)
    fputs("<tr><td colspan=\"3\">No click beacons in this period</td></tr>", o);
  for (size_t i = 0; i < r->n_clicks && i < 12; i++) {
    const bsl_report_click *c = &r->clicks[i];
    char n[32];
    bsl_report_format_count(c->clicks, n, sizeof n);
    fputs("<tr><td class=\"t\" title=\"", o);
    ESC(o, c->target);
    fputs("\">", o);
    bsl_html_text(o, *c->target ? c->target : "(none)", 50);
    fputs("</td><td class=\"t\" title=\"", o);
    ESC(o, c->path);
    fputs("\">", o);
    path_text(o, c->path, 60);
    fprintf(o, "</td><td>%s</td></tr>\n", n);
  }
  fputs("</table></div></section>\n", o);
}

static void html_goals(FILE *o, const bsl_report *r) {
  fputs("<section><h2>Goals</h2><div class=\"tw\"><table><tr><th>Goal</th>"
        "<th>Conversions</th><th>Conversion rate</th><th>Change</th></tr>\n",
        o);
  if (!r->n_goals)
    fputs("<tr><td colspan=\"4\">No goals configured, or no visits in this "
          "period</td></tr>",
          o);
  for (size_t i = 0; i < r->n_goals; i++) {
    const bsl_report_goal *g = &r->goals[i];
    char c[32], cr[32];
    bsl_report_format_count(g->conversions, c, sizeof c);
    bsl_report_format_percent(hratio(g->conversions, g->visits), cr, sizeof cr);
    fputs("<tr><td>", o);
    ESC(o, g->goal);
    fprintf(o, "</td><td>%s</td><td>%s</td><td>", c, cr);
    delta(o, g->conversions, g->prev_conversions, true, false);
    fputs("</td></tr>\n", o);
  }
  fputs("</table></div></section>\n", o);
}

static void stage(FILE *o, const char *label, double v, double top,
                  double before, bool web) {
  char n[32], pct[32] = "";
  bsl_report_format_count(v, n, sizeof n);
  if (!isnan(before) && before > 0)
    snprintf(pct, sizeof pct, " \u00b7 %.1f%%", 100 * v / before);
  double w = top > 0 ? 100 * v / top : 0;
  fprintf(o,
          "<div class=\"st\"><span>%s</span><span class=\"b\">"
          "<i%s style=\"width:%.1f%%\"></i></span><span><b>%s</b>%s"
          "</span></div>",
          label, web ? " class=\"w\"" : "", w > 100 ? 100 : w, n, pct);
}

static void html_status(FILE *o, const bsl_report *r) {
  fputs("<section><h2>Status codes</h2><div class=\"tw\"><table><tr>"
        "<th>Status</th><th>Hits</th><th>Share</th><th>Bot hits</th></tr>\n",
        o);
  if (!r->n_statuses)
    fputs("<tr><td colspan=\"4\">No hits in this period</td></tr>", o);
  for (size_t i = 0; i < r->n_statuses && i < 15; i++) {
    const bsl_report_status *x = &r->statuses[i];
    char h[32], sh[32], b[32];
    bsl_report_format_count(x->hits, h, sizeof h);
    double share = hratio(x->hits, r->cur.hits);
    bsl_report_format_percent(share, sh, sizeof sh);
    bsl_report_format_count(x->bot_hits, b, sizeof b);
    const char *cls = x->status >= 500   ? " class=\"down\""
                      : x->status >= 400 ? " style=\"color:var(--warn)\""
                                         : "";
    fprintf(o, "<tr><td><b%s>%d</b> %s</td><td>%s</td><td>", cls, x->status,
            bsl_report_status_text(x->status), h);
    meter(o, share,
          x->status >= 500   ? "var(--bad)"
          : x->status >= 400 ? "var(--warn)"
                             : NULL);
    fprintf(o, "%s</td><td>%s</td></tr>\n", sh, b);
  }
  fputs("</table></div><p class=\"note\">Every hit, bots included "
        "(status_daily).</p></section>\n",
        o);
}

static void html_not_found(FILE *o, const bsl_report *r) {
  if (!r->has_not_found)
    return;
  fputs("<section><h2>Top 404 paths</h2><div class=\"tw\"><table><tr>"
        "<th>Path</th><th>Hits</th></tr>\n",
        o);
  if (!r->n_not_found)
    fputs("<tr><td colspan=\"2\">No page was missing for a visitor in this "
          "period</td></tr>",
          o);
  for (size_t i = 0; i < r->n_not_found && i < 12; i++) {
    const bsl_report_not_found *x = &r->not_found[i];
    char n[32];
    bsl_report_format_count(x->hits, n, sizeof n);
    fputs("<tr><td class=\"t\" title=\"", o);
    ESC(o, x->path);
    fputs("\">", o);
    path_text(o, x->path, 70);
    fprintf(o, "</td><td>%s</td></tr>\n", n);
  }
  fputs("</table></div><p class=\"note\">People's requests only: bots' "
        "probes are left out (not_found_daily).</p></section>\n",
        o);
}

static void html_devices(FILE *o, const bsl_report *r) {
  fputs("<section><h2>Devices</h2><div class=\"tw\"><table><tr>"
        "<th>Device</th><th>Visits</th><th>Share</th><th>Bounce rate</th>"
        "<th>Conv. rate</th></tr>\n",
        o);
  if (!r->n_devices)
    fputs("<tr><td colspan=\"5\">No visits in this period</td></tr>", o);
  for (size_t i = 0; i < r->n_devices; i++) {
    const bsl_report_device *d = &r->devices[i];
    char v[32], sh[32], b[32], c[32];
    bsl_report_format_count(d->visits, v, sizeof v);
    double share = hratio(d->visits, r->cur.visits);
    bsl_report_format_percent(share, sh, sizeof sh);
    bsl_report_format_percent(hratio(d->bounces, d->visits), b, sizeof b);
    bsl_report_format_percent(hratio(d->conversions, d->visits), c, sizeof c);
    fputs("<tr><td>", o);
    ESC(o, *d->device ? d->device : "(unknown)");
    fprintf(o, "</td><td>%s</td><td>", v);
    meter(o, share, NULL);
    fprintf(o, "%s</td><td>%s</td><td>%s</td></tr>\n", sh, b, c);
  }
  fputs("</table></div></section>\n", o);
}

/* Visits by the hour of the day they began, in the configured zone. */
static void html_hours(FILE *o, const bsl_report *r) {
  struct plot p = {
      .w = 720, .h = 220, .l = 44, .r = 10, .t = 10, .b = 26, .n = 24};
  double hi = 0;
  for (int h = 0; h < 24; h++)
    hi = fmax2(hi, r->hours[h]);
  p.ymax = axis_max(hi, true, INFINITY);
  fputs("<section><h2>Visits by hour of day</h2>"
        "<svg class=\"ch\" viewBox=\"0 0 720 220\" role=\"img\" "
        "aria-label=\"Visits by hour of day\">",
        o);
  y_grid(o, &p, false, 0);
  double bw = (p.w - p.l - p.r) / p.n * 0.72;
  for (int h = 0; h < 24; h++) {
    double y = py(&p, r->hours[h]);
    char n[32];
    bsl_report_format_count(r->hours[h], n, sizeof n);
    fprintf(o,
            "<rect class=\"pv\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
            "height=\"%.1f\"><title>%02d:00\u2013%02d:59: %s visits</title>"
            "</rect>",
            px(&p, h) - bw / 2, y, bw, p.h - p.b - y, h, h, n);
    if (h % 3 == 0)
      fprintf(o,
              "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%02d:00"
              "</text>",
              px(&p, h), p.h - p.b + 17, h);
  }
  fputs("</svg><p class=\"note\">By the hour each visit began, in ", o);
  ESC(o, r->zone);
  fputs(" (the configured timezone).</p></section>\n", o);
}

static void html_campaigns(FILE *o, const bsl_report *r) {
  fputs("<section><h2>Campaign funnels</h2>", o);
  if (!r->has_campaign_logs)
    fputs("<p class=\"note\">This database has no campaigns_daily view: "
          "campaigns are shown from the visits' utm_campaign only.</p>",
          o);
  if (!r->n_campaigns) {
    fputs("<p class=\"note\">No campaign activity in this period.</p>"
          "</section>\n",
          o);
    return;
  }
  fputs("<div class=\"funnels\">", o);
  for (size_t i = 0; i < r->n_campaigns && i < 12; i++) {
    const bsl_report_campaign *c = &r->campaigns[i];
    fputs("<div class=\"fn\"><h3 title=\"", o);
    ESC(o, c->campaign);
    fputs("\">", o);
    bsl_html_text(o, c->campaign, 60);
    fputs("</h3>", o);
    double top = c->has_log ? fmax2(c->sent, c->delivered) : c->visits;
    if (c->has_log) {
      stage(o, "sent", c->sent, top, NAN, false);
      stage(o, "delivered", c->delivered, top, c->sent, false);
      stage(o, "opens", c->opens, top, c->delivered, false);
      stage(o, "clicks", c->clicks, top, c->opens, false);
      stage(o, "visits", c->visits, top, c->clicks, true);
    } else {
      stage(o, "visits", c->visits, top, NAN, true);
    }
    stage(o, "conversions", c->conversions, top, c->visits, true);
    if (c->has_log) {
      char extra[160];
      snprintf(extra, sizeof extra,
               "%.0f bounced \u00b7 %.0f unsubscribed \u00b7 spend %.2f%s",
               c->bounces, c->unsubscribes, c->spend,
               c->conversions > 0 ? " \u00b7 per conversion " : "");
      fprintf(o, "<p class=\"note\">%s", extra);
      if (c->conversions > 0)
        fprintf(o, "%.2f", c->spend / c->conversions);
      fputs("</p>", o);
    }
    fputs("</div>", o);
  }
  fputs("</div></section>\n", o);
}

static const char *state_class(const bsl_report_kpi *k) {
  if (strcmp(k->state, "met") == 0 || strcmp(k->state, "improving") == 0)
    return "s-good";
  if (strcmp(k->state, "no_data") == 0)
    return "s-warn";
  return k->flagged ? "s-bad" : "s-mute";
}

struct kchart {
  double w, h, l, r, t, b;
  double tmin, tmax, ymin, ymax, step;
  int64_t day0; /* start day of pts[0] */
  double t0;    /* its t */
  int len;      /* days per period */
};

static double kx(const struct kchart *c, double t) {
  double span = c->tmax - c->tmin;
  return c->l + (c->w - c->l - c->r) * (span > 0 ? (t - c->tmin) / span : 0.5);
}
static double ky(const struct kchart *c, double v) {
  return c->h - c->b -
         (c->h - c->t - c->b) * (v - c->ymin) / (c->ymax - c->ymin);
}
/* The (fractional) period index of DAY. */
static double kt(const struct kchart *c, const char *day, bool *ok) {
  char d[11];
  snprintf(d, sizeof d, "%.10s", day ? day : "");
  int64_t v = bsl_report_parse_day(d, ok);
  return c->t0 + (double)(v - c->day0) / c->len;
}

static void kpi_chart(FILE *o, const bsl_report_kpi *k) {
  struct kchart c = {.w = 560, .h = 230, .l = 58, .r = 14, .t = 14, .b = 24};
  bool ok;
  c.day0 = bsl_report_parse_day(k->pts[0].start, &ok);
  c.t0 = (double)k->pts[0].t;
  c.len = strcmp(k->period, "week") == 0 ? 7 : 1;
  c.tmin = c.t0;
  c.tmax = (double)k->pts[k->n_pts - 1].t;
  if (c.tmax <= c.tmin)
    c.tmax = c.tmin + 1;
  bool dl_in = false;
  double td = 0;
  if (*k->deadline) {
    td = kt(&c, k->deadline, &ok);
    if (ok && td >= c.tmin && td <= c.tmax + (c.tmax - c.tmin) * 0.75 + 3) {
      dl_in = true;
      if (td > c.tmax)
        c.tmax = td;
    }
  }
  bool trend = !isnan(k->slope) && !isnan(k->intercept);
  double lo = INFINITY, hi = -INFINITY;
#define SEE(v)                                                                 \
  do {                                                                         \
    double v_ = (v);                                                           \
    if (!isnan(v_) && !isinf(v_)) {                                            \
      lo = v_ < lo ? v_ : lo;                                                  \
      hi = v_ > hi ? v_ : hi;                                                  \
    }                                                                          \
  } while (0)
  for (size_t i = 0; i < k->n_pts; i++)
    SEE(k->pts[i].value);
  SEE(k->target);
  if (trend) {
    SEE(k->intercept + k->slope * c.tmin);
    SEE(k->intercept + k->slope * c.tmax);
  }
#undef SEE
  if (!(lo <= hi))
    lo = 0, hi = 1;
  /* round ticks over what the metric can be: a rate within 0-100% */
  double dlo = bsl_metric_clamp(k->metric, -INFINITY);
  double dhi = bsl_metric_clamp(k->metric, INFINITY);
  if (isnan(dlo))
    dlo = -INFINITY, dhi = INFINITY;
  lo = lo < dlo ? dlo : lo;
  hi = hi > dhi ? dhi : hi;
  double span = hi - lo > 0 ? hi - lo : (fabs(hi) > 0 ? fabs(hi) * 0.2 : 1);
  /* a count's ticks are whole numbers once they can be */
  const bsl_metric *km = bsl_metric_find(k->metric);
  c.step = nice_step(span / 4, km && km->kind == BSL_METRIC_COUNT && span >= 4);
  c.ymin = floor(lo / c.step) * c.step;
  c.ymax = ceil(hi / c.step) * c.step;
  if (c.ymax - c.ymin < c.step * 2) /* never a flat chart */
    c.ymax = c.ymin + c.step * 2;
  if (c.ymin < dlo)
    c.ymin = dlo;
  if (c.ymax > dhi)
    c.ymax = dhi;
  if (c.ymax <= c.ymin)
    c.ymax = c.ymin + c.step;

  fputs("<svg class=\"ch\" viewBox=\"0 0 560 230\" role=\"img\" "
        "aria-label=\"KPI series\">",
        o);
  /* flagged periods */
  for (size_t i = 0; i < k->n_flags; i++) {
    const bsl_report_span *s = &k->flags[i];
    double a = kt(&c, s->from, &ok);
    if (!ok)
      continue;
    double last = (double)k->pts[k->n_pts - 1].t;
    double b = *s->to ? kt(&c, s->to, &ok) : last + 0.5;
    if (!ok)
      continue;
    a = fmax2(a - 0.5, c.tmin - 0.5);
    b = b > c.tmax + 0.5 ? c.tmax + 0.5 : b;
    if (b < a)
      continue;
    double xa = fmax2(kx(&c, a), c.l), xb = kx(&c, b);
    if (xb > c.w - c.r)
      xb = c.w - c.r;
    if (xb <= xa)
      continue;
    fprintf(o,
            "<rect class=\"flag\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" "
            "height=\"%.0f\"><title>",
            xa, c.t, xb - xa, c.h - c.t - c.b);
    ESC(o, s->state);
    fputs(" from ", o);
    ESC(o, s->from);
    if (*s->to) {
      fputs(" to ", o);
      ESC(o, s->to);
    }
    fputs("</title></rect>", o);
  }
  /* grid and y labels, on the round ticks */
  for (int i = 0; i <= 12; i++) {
    double v = c.ymin + c.step * i, y = ky(&c, v);
    if (v > c.ymax + c.step * 1e-6)
      break;
    char lab[32];
    if (km && km->percent)
      percent_tick(v, c.step, lab, sizeof lab);
    else
      bsl_metric_format(k->metric, v, lab, sizeof lab);
    fprintf(o,
            "<line class=\"%s\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" "
            "y2=\"%.1f\"/><text x=\"%.0f\" y=\"%.1f\" "
            "text-anchor=\"end\">%s</text>",
            i ? "g" : "ax", c.l, c.w - c.r, y, y, c.l - 6, y + 4, lab);
  }
  /* x labels: first, middle, last period */
  size_t marks[3] = {0, k->n_pts / 2, k->n_pts - 1};
  for (int i = 0; i < 3; i++) {
    if (i && marks[i] == marks[i - 1])
      continue;
    const bsl_report_kpi_point *p = &k->pts[marks[i]];
    char d[8];
    short_day(p->start, d);
    fprintf(o, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"%s\">",
            kx(&c, (double)p->t), c.h - 6,
            i == 0   ? "start"
            : i == 2 ? "end"
                     : "middle");
    ESC(o, d);
    fputs("</text>", o);
  }
  if (!isnan(k->target)) {
    char t[32];
    bsl_metric_format(k->metric, k->target, t, sizeof t);
    double y = ky(&c, k->target);
    fprintf(o,
            "<line class=\"tgt\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" "
            "y2=\"%.1f\"/><text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" "
            "style=\"fill:var(--good)\">target %s</text>",
            c.l, c.w - c.r, y, y, c.w - c.r - 2, y - 5, t);
  }
  if (dl_in) {
    double x = kx(&c, td);
    fprintf(o,
            "<line class=\"dl\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" "
            "y2=\"%.0f\"/><text x=\"%.1f\" y=\"%.0f\" text-anchor=\"end\" "
            "style=\"fill:var(--warn)\">deadline</text>",
            x, x, c.t, c.h - c.b, x - 4, c.t + 12);
  }
  /* the trend line, cut where it leaves the chart (a rate's line below 0%
   * is no projection) */
  double t1 = c.tmin, t2 = c.tmax;
  if (trend && k->slope != 0) {
    double ta = (c.ymin - k->intercept) / k->slope;
    double tb = (c.ymax - k->intercept) / k->slope;
    t1 = fmax2(t1, ta < tb ? ta : tb);
    t2 = fmin(t2, ta < tb ? tb : ta);
  }
  if (trend && t2 > t1) {
    fprintf(o,
            "<line class=\"trend\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
            "y2=\"%.1f\"><title>trend: the median slope (Theil\u2013Sen)%s"
            "</title></line>",
            kx(&c, t1), ky(&c, k->intercept + k->slope * t1), kx(&c, t2),
            ky(&c, k->intercept + k->slope * t2),
            k->trend_own ? " of the periods shown" : "");
  }
  fputs("<path class=\"ser\" d=\"", o);
  bool pen = false;
  for (size_t i = 0; i < k->n_pts; i++) {
    if (isnan(k->pts[i].value)) {
      pen = false;
      continue;
    }
    fprintf(o, "%c%.1f %.1f", pen ? 'L' : 'M', kx(&c, (double)k->pts[i].t),
            ky(&c, k->pts[i].value));
    pen = true;
  }
  fputs("\"/>", o);
  if (k->n_pts <= 90)
    for (size_t i = 0; i < k->n_pts; i++) {
      if (isnan(k->pts[i].value))
        continue;
      char v[32];
      bsl_metric_format(k->metric, k->pts[i].value, v, sizeof v);
      fprintf(o,
              "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\">"
              "<title>",
              kx(&c, (double)k->pts[i].t), ky(&c, k->pts[i].value));
      ESC(o, k->pts[i].period);
      fprintf(o, ": %s</title></circle>", v);
    }
  for (size_t j = 0; j < k->n_adj; j++) {
    double t = kt(&c, k->adj[j].at, &ok);
    if (!ok || t < c.tmin - 0.5 || t > c.tmax + 0.5)
      continue;
    double x = kx(&c, t);
    fputs("<g><title>", o);
    ESC(o, k->adj[j].at);
    fputs(": ", o);
    ESC(o, k->adj[j].note);
    fprintf(o,
            "</title><line class=\"adj\" x1=\"%.1f\" x2=\"%.1f\" "
            "y1=\"%.0f\" y2=\"%.0f\"/><circle class=\"adjm\" cx=\"%.1f\" "
            "cy=\"%.0f\" r=\"8\"/><text x=\"%.1f\" y=\"%.0f\" "
            "text-anchor=\"middle\">%zu</text></g>",
            x, x, c.t + 8, c.h - c.b, x, c.t + 8, x, c.t + 12, j + 1);
  }
  fputs("</svg>", o);
}

static void html_kpis(FILE *o, const bsl_report *r) {
  fputs("<section><h2>KPIs</h2>", o);
  if (!r->has_kpis) {
    fputs("<p class=\"note\">This database has no KPI views yet: configure "
          "[kpi] sections and run <code>boussole kpi</code>.</p></section>\n",
          o);
    return;
  }
  if (!r->n_kpis) {
    fputs("<p class=\"note\">No KPI has been evaluated yet: configure [kpi] "
          "sections and run <code>boussole kpi</code>.</p></section>\n",
          o);
    return;
  }
  fputs("<div class=\"kpis\">", o);
  for (size_t i = 0; i < r->n_kpis; i++) {
    const bsl_report_kpi *k = &r->kpis[i];
    char v[32], t[32], pr[32];
    bsl_metric_format(k->metric, k->value, v, sizeof v);
    bsl_metric_format(k->metric, k->target, t, sizeof t);
    bsl_metric_format(k->metric, k->projected, pr, sizeof pr);
    fputs("<div class=\"kpi\"><div class=\"kh\"><h3>", o);
    ESC(o, k->name);
    fprintf(o, "</h3><span class=\"badge %s\">", state_class(k));
    ESC(o, k->state);
    fputs(k->flagged ? " \u2691" : "", o);
    fputs("</span></div><div class=\"kf\">", o);
    ESC(o, k->metric);
    fprintf(o, " \u00b7 level <b>%s</b>", v);
    if (!isnan(k->target))
      fprintf(o, " \u00b7 target <b>%s</b>", t);
    if (*k->deadline) {
      fputs(" by <b>", o);
      ESC(o, k->deadline);
      fputs("</b>", o);
      if (!isnan(k->projected))
        fprintf(o, " (projected <b>%s</b>)", pr);
    }
    if (!isnan(k->p_value)) {
      char pv[16];
      bsl_metric_format_p(k->p_value, pv, sizeof pv);
      fprintf(o, " \u00b7 trend %s (%s)",
              k->p_value < BSL_KPI_ALPHA ? "<b>real</b>" : "could be chance",
              pv);
    }
    if (*k->since) {
      fputs(" \u00b7 since <b>", o);
      ESC(o, k->since);
      fputs("</b>", o);
    }
    fputs("</div>", o);
    if (k->n_pts)
      kpi_chart(o, k);
    else
      fputs("<p class=\"note\">No periods recorded up to this report's "
            "end.</p>",
            o);
    if (*k->message) {
      fputs("<p class=\"note\">", o);
      ESC(o, k->message);
      fputs("</p>", o);
    }
    if (k->n_adj) {
      fputs("<ol>", o);
      for (size_t j = 0; j < k->n_adj; j++) {
        const bsl_report_adjustment *a = &k->adj[j];
        fputs("<li><b>", o);
        ESC(o, a->at);
        fputs("</b> ", o);
        ESC(o, a->note);
        char verdict[160];
        bsl_kpi_effect_verdict(k->metric, 0, a->effect, a->p_value, verdict,
                               sizeof verdict);
        fputs(" \u2014 effect: <b>", o);
        ESC(o, verdict);
        fputs("</b>", o);
        fputs("</li>", o);
      }
      fputs("</ol>", o);
    }
    fputs("</div>", o);
  }
  fputs("</div><div class=\"legend\"><span><i class=\"sw\" "
        "style=\"background:var(--accent)\"></i>series</span><span>"
        "<i class=\"sw\" style=\"background:var(--fg);opacity:.6\"></i>"
        "trend (median slope)</span><span><i class=\"sw\" "
        "style=\"background:var(--good)\"></i>target</span><span>"
        "<i class=\"sw\" style=\"background:var(--warn)\"></i>deadline"
        "</span><span><i class=\"sw\" style=\"background:var(--flag);"
        "opacity:.3\"></i>flagged</span><span><i class=\"sw\" "
        "style=\"background:var(--c5)\"></i>adjustment</span></div>"
        "</section>\n",
        o);
}

void bsl_html_page_start(FILE *o, const char *what, const char *from,
                         const char *to, const char *css, bool data_images) {
  fprintf(o,
          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
          "'none'; style-src 'unsafe-inline'%s\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, "
          "initial-scale=1\">\n<meta name=\"color-scheme\" "
          "content=\"light dark\">\n<title>boussole %s ",
          data_images ? "; img-src data:" : "", what);
  ESC(o, from);
  fputs(" \u2013 ", o);
  ESC(o, to);
  fprintf(o,
          "</title>\n<style>%s</style></head>\n<body>\n<header><div>"
          "<h1><b>\u25c8</b> boussole %s</h1><span class=\"sub\">",
          css, what);
}

int bsl_report_write_html(const bsl_report *r, FILE *o) {
  bsl_html_page_start(o, "report", r->from, r->to, CSS, true);
  bsl_html_text(o, *r->sites ? r->sites : "all sites", 80);
  fputs(" \u00b7 ", o);
  ESC(o, r->from);
  fputs(" \u2192 ", o);
  ESC(o, r->to);
  fprintf(o, " (%d day%s) \u00b7 compared with ", r->n_days,
          r->n_days == 1 ? "" : "s");
  ESC(o, r->prev_from);
  fputs(" \u2192 ", o);
  ESC(o, r->prev_to);
  if (*r->partial_day) {
    fputs(" \u00b7 ", o);
    ESC(o, r->partial_day);
    fputs(" left out: not over yet", o);
  }
  fputs("</span></div></header>\n<main>\n", o);
  html_cards(o, r);
  html_kpis(o, r);
  fputs("<div class=\"row\">", o);
  html_channels_chart(o, r);
  html_pv_chart(o, r);
  fputs("</div>\n", o);
  html_channels_table(o, r);
  html_pages(o, r);
  fputs("<div class=\"row\">", o);
  html_clicks(o, r);
  html_goals(o, r);
  fputs("</div>\n", o);
  fputs("<div class=\"row\">", o);
  html_status(o, r);
  html_not_found(o, r);
  fputs("</div>\n<div class=\"row\">", o);
  html_devices(o, r);
  html_hours(o, r);
  fputs("</div>\n", o);
  html_campaigns(o, r);
  fputs("<footer>Generated by boussole " BSL_VERSION " at ", o);
  ESC(o, r->generated_at);
  fputs(" \u00b7 data ", o);
  ESC(o, *r->data_first ? r->data_first : "-");
  fputs(" \u2192 ", o);
  ESC(o, *r->data_last ? r->data_last : "-");
  fputs("</footer>\n</main>\n</body>"
        "</html>\n",
        o);
  return ferror(o) ? -1 : 0;
}
