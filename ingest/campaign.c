/*
 * Campaign-log parsers (see campaign.h): campaign-csv, [format] regexes of
 * type campaign, and the JSON bodies of SendGrid's and Mailgun's event
 * webhooks, read with jansson.
 *
 * Event names are compared case-insensitively ("Processed" happens).  The
 * provider tables below say what each provider event becomes; an event left
 * out of them is a reject naming it.
 */
#include "campaign.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format.h" /* time helpers */
#include "reader.h" /* BSL_LINE_MAX */

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Latest accepted time: 9999-12-31T23:59:59Z. */
#define MAX_TIME 253402300799LL

enum parser_kind { P_CSV, P_REGEX, P_SENDGRID, P_MAILGUN };

enum group { G_TIME, G_CAMPAIGN, G_EVENT, G_RECIPIENT, G_URL, G_COST, G_N };
static const char *const group_names[G_N] = {"time",      "campaign", "event",
                                             "recipient", "url",      "cost"};

struct bsl_campaign_parser {
  enum parser_kind kind;
  char *name;
  char *time_format;
  pcre2_code *re;
  pcre2_match_data *md;
  int group[G_N]; /* capture numbers, -1 when absent */
  char *scratch;  /* CSV: unquoted fields (BSL_LINE_MAX + 1 bytes) */
  json_t *root;   /* JSON tree of the last line */
  bsl_campaign_item *items;
  size_t cap_items;
  char reason[BSL_CAMPAIGN_REASON_MAX];
};

static const char *const builtins[] = {"campaign-csv", "sendgrid-json",
                                       "mailgun-json"};

bool bsl_campaign_is_builtin(const char *name) {
  for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
    if (name && strcmp(name, builtins[i]) == 0)
      return true;
  return false;
}

/* ---- helpers ---- */

static bool eq_ci(const char *s, size_t len, const char *word) {
  size_t n = strlen(word);
  return len == n && strncasecmp(s, word, n) == 0;
}

/* Writes a printable excerpt of S (at most 40 bytes) for a reason. */
static void snippet(char *out, size_t cap, const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len && i < 40 && n + 1 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    out[n++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
  }
  out[n] = '\0';
}

/* The generic event words of campaign-csv and regex formats: SPEC's seven
 * plus their usual past-tense forms. */
static int generic_kind(const char *s, size_t len) {
  static const struct {
    const char *word;
    bsl_campaign_kind kind;
  } words[] = {
      {"sent", BSL_CEV_SENT},
      {"delivered", BSL_CEV_DELIVERED},
      {"open", BSL_CEV_OPEN},
      {"opened", BSL_CEV_OPEN},
      {"click", BSL_CEV_CLICK},
      {"clicked", BSL_CEV_CLICK},
      {"bounce", BSL_CEV_BOUNCE},
      {"bounced", BSL_CEV_BOUNCE},
      {"unsubscribe", BSL_CEV_UNSUBSCRIBE},
      {"unsubscribed", BSL_CEV_UNSUBSCRIBE},
      {"spend", BSL_CEV_SPEND},
  };
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (eq_ci(s, len, words[i].word))
      return (int)words[i].kind;
  return -1;
}

int bsl_campaign_parse_cost(const char *text, size_t len, int64_t *micros) {
  size_t i = 0;
  bool neg = false;
  while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
    len--;
  while (i < len && (text[i] == ' ' || text[i] == '\t'))
    i++;
  if (i < len && (text[i] == '-' || text[i] == '+'))
    neg = text[i++] == '-';
  int64_t units = 0, frac = 0;
  int digits = 0, frac_digits = 0;
  for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
    if (units >= 9000000000000LL / 10)
      return -1;
    units = units * 10 + (text[i] - '0');
  }
  if (i < len && text[i] == '.') {
    for (i++; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++)
      if (frac_digits < 6) {
        frac = frac * 10 + (text[i] - '0');
        frac_digits++;
      }
  }
  if (i != len || digits == 0)
    return -1;
  for (; frac_digits < 6; frac_digits++)
    frac *= 10;
  int64_t v = units * 1000000 + frac;
  *micros = neg ? -v : v;
  return 0;
}

static bsl_campaign_item *item_slot(bsl_campaign_parser *p, size_t n) {
  if (n >= p->cap_items) {
    size_t ncap = p->cap_items ? p->cap_items * 2 : 8;
    while (ncap <= n)
      ncap *= 2;
    bsl_campaign_item *ni = realloc(p->items, ncap * sizeof *ni);
    if (!ni)
      return NULL;
    p->items = ni;
    p->cap_items = ncap;
  }
  bsl_campaign_item *it = &p->items[n];
  memset(it, 0, sizeof *it);
  return it;
}

/* Rejects the whole line for PREFIX followed by ARG. */
static int line_reject(bsl_campaign_parser *p, const char **reason,
                       const char *prefix, const char *arg) {
  snprintf(p->reason, sizeof p->reason, "%s%.100s", prefix, arg);
  *reason = p->reason;
  return -1;
}

/* Fills EV from the text fields shared by campaign-csv and regex formats.
 * Returns NULL or the reason of a reject (written to BUF). */
static const char *text_event(const bsl_campaign_parser *p,
                              const bsl_str f[G_N], bsl_campaign_event *ev,
                              char *buf, size_t cap) {
  char sn[48];
  memset(ev, 0, sizeof *ev);
  const bsl_str *t = &f[G_TIME];
  int rc = -1;
  if (t->len > 0) {
    if (p->time_format)
      rc = bsl_time_parse_format(p->time_format, t->ptr, t->len, &ev->time);
    else if ((rc = bsl_time_parse_iso8601(t->ptr, t->len, &ev->time)) != 0 &&
             p->kind == P_REGEX)
      rc = bsl_time_parse_clf(t->ptr, t->len, &ev->time);
  }
  if (rc != 0) {
    snippet(sn, sizeof sn, t->ptr, t->len);
    snprintf(buf, cap, "bad timestamp \"%s\"", sn);
    return buf;
  }
  int kind = generic_kind(f[G_EVENT].ptr, f[G_EVENT].len);
  if (kind < 0) {
    snippet(sn, sizeof sn, f[G_EVENT].ptr, f[G_EVENT].len);
    snprintf(buf, cap,
             "unknown event \"%s\" (expected sent delivered open click bounce "
             "unsubscribe spend)",
             sn);
    return buf;
  }
  ev->kind = (bsl_campaign_kind)kind;
  ev->campaign = f[G_CAMPAIGN];
  ev->recipient = f[G_RECIPIENT];
  ev->url = f[G_URL];
  if (f[G_COST].len > 0 && bsl_campaign_parse_cost(f[G_COST].ptr, f[G_COST].len,
                                                   &ev->cost_micros) != 0) {
    snippet(sn, sizeof sn, f[G_COST].ptr, f[G_COST].len);
    snprintf(buf, cap, "bad cost \"%s\"", sn);
    return buf;
  }
  if (ev->kind == BSL_CEV_SPEND && f[G_COST].len == 0) {
    snprintf(buf, cap, "spend without a cost");
    return buf;
  }
  return NULL;
}

/* ---- campaign-csv ---- */

/* Splits LINE into at most G_N fields (RFC 4180 quoting, unquoted into the
 * scratch buffer).  Returns the field count or -1 with a reason. */
static int csv_split(bsl_campaign_parser *p, const char *line, size_t len,
                     bsl_str f[G_N], const char **why) {
  size_t n = 0, i = 0, out = 0;
  for (;;) {
    if (n == G_N) {
      *why = "too many fields (expected timestamp,campaign,event,recipient,"
             "url,cost)";
      return -1;
    }
    if (i < len && line[i] == '"') {
      char *start = p->scratch + out;
      size_t flen = 0;
      for (i++;; i++) {
        if (i >= len) {
          *why = "unterminated quoted field";
          return -1;
        }
        if (line[i] == '"') {
          if (i + 1 < len && line[i + 1] == '"') {
            start[flen++] = '"';
            i++;
            continue;
          }
          i++;
          break;
        }
        start[flen++] = line[i];
      }
      if (i < len && line[i] != ',') {
        *why = "text after a closing quote";
        return -1;
      }
      f[n].ptr = start;
      f[n].len = flen;
      out += flen;
    } else {
      size_t s = i;
      while (i < len && line[i] != ',') {
        if (line[i] == '"') {
          *why = "quote inside an unquoted field";
          return -1;
        }
        i++;
      }
      f[n].ptr = line + s;
      f[n].len = i - s;
    }
    n++;
    if (i >= len)
      return (int)n;
    i++; /* the comma */
  }
}

static int parse_csv(bsl_campaign_parser *p, const char *line, size_t len,
                     size_t *n_items, const char **reason) {
  bsl_str f[G_N];
  const char *why = NULL;
  memset(f, 0, sizeof f);
  if (len == 0)
    return line_reject(p, reason, "", "empty line");
  if (len > BSL_LINE_MAX)
    return line_reject(p, reason, "", "line too long");
  int n = csv_split(p, line, len, f, &why);
  if (n < 0)
    return line_reject(p, reason, "", why);
  if (eq_ci(f[0].ptr, f[0].len, "timestamp"))
    return 1;
  if (n < 3)
    return line_reject(p, reason, "",
                       "too few fields (expected timestamp,campaign,event,"
                       "recipient,url,cost)");
  /* CSV order is time, campaign, event, recipient, url, cost = enum group */
  bsl_campaign_item *it = item_slot(p, 0);
  if (!it)
    return line_reject(p, reason, "", "out of memory");
  const char *bad = text_event(p, f, &it->ev, p->reason, sizeof p->reason);
  if (bad) {
    *reason = bad;
    return -1;
  }
  it->ok = true;
  *n_items = 1;
  return 0;
}

/* ---- [format] regex ---- */

static int parse_regex(bsl_campaign_parser *p, const char *line, size_t len,
                       size_t *n_items, const char **reason) {
  int rc = pcre2_match(p->re, (PCRE2_SPTR)line, len, 0, 0, p->md, NULL);
  if (rc < 0)
    return line_reject(p, reason, "",
                       rc == PCRE2_ERROR_NOMATCH ? "no match" : "match error");
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
  bsl_str f[G_N];
  memset(f, 0, sizeof f);
  for (int g = 0; g < G_N; g++) {
    int k = p->group[g];
    if (k < 0 || k >= rc || ov[2 * k] == PCRE2_UNSET)
      continue;
    f[g].ptr = line + ov[2 * k];
    f[g].len = ov[2 * k + 1] - ov[2 * k];
  }
  bsl_campaign_item *it = item_slot(p, 0);
  if (!it)
    return line_reject(p, reason, "", "out of memory");
  const char *bad = text_event(p, f, &it->ev, p->reason, sizeof p->reason);
  if (bad) {
    *reason = bad;
    return -1;
  }
  it->ok = true;
  *n_items = 1;
  return 0;
}

/* ---- JSON webhooks ---- */

static bsl_str jstr(const json_t *v) {
  bsl_str s = {0};
  if (json_is_string(v)) {
    s.ptr = json_string_value(v);
    s.len = json_string_length(v);
  }
  return s;
}

/* First non-empty string of V (a string, or an array of strings). */
static bsl_str first_string(const json_t *v) {
  if (json_is_string(v))
    return jstr(v);
  if (json_is_array(v)) {
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
      bsl_str s = jstr(e);
      if (s.len > 0)
        return s;
    }
  }
  return (bsl_str){0};
}

/* Unix seconds from a JSON number or a numeric string ("1461261330",
 * "1534108637.15").  Returns 0, -1 when absent, -2 when not a time. */
static int json_time(const json_t *v, int64_t *out) {
  double d;
  if (!v)
    return -1;
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i < 0 || i > MAX_TIME)
      return -2;
    *out = (int64_t)i;
    return 0;
  }
  if (json_is_real(v)) {
    d = json_real_value(v);
  } else if (json_is_string(v)) {
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), i = 0, digits = 0;
    for (; i < len && isdigit((unsigned char)s[i]); i++)
      digits++;
    if (i < len && s[i] == '.')
      for (i++; i < len && isdigit((unsigned char)s[i]); i++)
        ;
    if (digits == 0 || digits > 12 || i != len)
      return -2;
    d = strtod(s, NULL);
  } else {
    return -2;
  }
  if (!(d >= 0 && d <= (double)MAX_TIME))
    return -2;
  *out = (int64_t)d;
  return 0;
}

typedef struct provider_map {
  const char *event;
  int kind;         /* bsl_campaign_kind, or -1: reject with note */
  const char *note; /* why a rejected event is not counted */
} provider_map;

/* SendGrid event webhook: processed -> sent (accepted for delivery);
 * dropped -> bounce (never delivered); spamreport -> unsubscribe (the
 * address is suppressed from then on). */
static const provider_map sendgrid_map[] = {
    {"processed", BSL_CEV_SENT, NULL},
    {"delivered", BSL_CEV_DELIVERED, NULL},
    {"open", BSL_CEV_OPEN, NULL},
    {"click", BSL_CEV_CLICK, NULL},
    {"bounce", BSL_CEV_BOUNCE, NULL},
    {"dropped", BSL_CEV_BOUNCE, NULL},
    {"spamreport", BSL_CEV_UNSUBSCRIBE, NULL},
    {"unsubscribe", BSL_CEV_UNSUBSCRIBE, NULL},
    {"group_unsubscribe", BSL_CEV_UNSUBSCRIBE, NULL},
    {"deferred", -1, "a temporary delay; its final delivered or bounce counts"},
    {"group_resubscribe", -1, "a resubscription has no campaign column"},
};

/* Mailgun: accepted -> sent; failed (permanent), rejected, dropped ->
 * bounce; complained -> unsubscribe. */
static const provider_map mailgun_map[] = {
    {"accepted", BSL_CEV_SENT, NULL},
    {"delivered", BSL_CEV_DELIVERED, NULL},
    {"opened", BSL_CEV_OPEN, NULL},
    {"clicked", BSL_CEV_CLICK, NULL},
    {"failed", BSL_CEV_BOUNCE, NULL}, /* temporary failures: see below */
    {"bounced", BSL_CEV_BOUNCE, NULL},
    {"dropped", BSL_CEV_BOUNCE, NULL},
    {"rejected", BSL_CEV_BOUNCE, NULL},
    {"complained", BSL_CEV_UNSUBSCRIBE, NULL},
    {"unsubscribed", BSL_CEV_UNSUBSCRIBE, NULL},
    {"stored", -1, "a stored inbound message is not a campaign event"},
    {"list_member_uploaded", -1, "a list upload is not a campaign event"},
};

static const provider_map *lookup(const provider_map *map, size_t n,
                                  bsl_str ev) {
  for (size_t i = 0; i < n; i++)
    if (eq_ci(ev.ptr, ev.len, map[i].event))
      return &map[i];
  return NULL;
}

/* Maps EVENT per MAP; returns the kind, or -1 with the reason in it->reason. */
static int map_event(bsl_campaign_item *it, const char *provider,
                     const provider_map *map, size_t n, bsl_str event) {
  char sn[48];
  snippet(sn, sizeof sn, event.ptr, event.len);
  if (event.len == 0) {
    snprintf(it->reason, sizeof it->reason, "%s: no event name", provider);
    return -1;
  }
  const provider_map *m = lookup(map, n, event);
  if (!m) {
    snprintf(it->reason, sizeof it->reason, "%s: unknown event \"%s\"",
             provider, sn);
    return -1;
  }
  if (m->kind < 0) {
    snprintf(it->reason, sizeof it->reason, "%s: %s: not counted (%s)",
             provider, sn, m->note);
    return -1;
  }
  return m->kind;
}

static bool set_time(bsl_campaign_item *it, const char *provider,
                     const json_t *v) {
  int rc = json_time(v, &it->ev.time);
  if (rc == 0)
    return true;
  snprintf(it->reason, sizeof it->reason, "%s: %s timestamp", provider,
           rc == -1 ? "no" : "bad");
  return false;
}

static void sendgrid_event(bsl_campaign_item *it, const json_t *o) {
  int kind = map_event(it, "sendgrid", sendgrid_map,
                       sizeof sendgrid_map / sizeof sendgrid_map[0],
                       jstr(json_object_get(o, "event")));
  if (kind < 0 || !set_time(it, "sendgrid", json_object_get(o, "timestamp")))
    return;
  bsl_campaign_event *ev = &it->ev;
  ev->kind = (bsl_campaign_kind)kind;
  ev->recipient = jstr(json_object_get(o, "email"));
  ev->url = jstr(json_object_get(o, "url"));
  ev->campaign = jstr(json_object_get(o, "marketing_campaign_name"));
  if (ev->campaign.len == 0)
    ev->campaign = first_string(json_object_get(o, "category"));
  ev->machine = json_is_true(json_object_get(o, "sg_machine_open"));
  it->ok = true;
}

static void mailgun_event(bsl_campaign_item *it, const json_t *o) {
  const json_t *d = json_object_get(o, "event-data");
  bool legacy = !json_is_object(d);
  if (legacy)
    d = o;
  bsl_str event = jstr(json_object_get(d, "event"));
  int kind = map_event(it, "mailgun", mailgun_map,
                       sizeof mailgun_map / sizeof mailgun_map[0], event);
  if (kind < 0)
    return;
  bsl_str sev = jstr(json_object_get(d, "severity"));
  if (eq_ci(event.ptr, event.len, "failed") &&
      eq_ci(sev.ptr, sev.len, "temporary")) {
    snprintf(it->reason, sizeof it->reason,
             "mailgun: failed (temporary): not counted (retried; its final "
             "delivered or failed counts)");
    return;
  }
  if (!set_time(it, "mailgun", json_object_get(d, "timestamp")))
    return;
  bsl_campaign_event *ev = &it->ev;
  ev->kind = (bsl_campaign_kind)kind;
  ev->recipient = jstr(json_object_get(d, "recipient"));
  ev->url = jstr(json_object_get(d, "url"));
  const json_t *camps = json_object_get(d, "campaigns");
  const json_t *c0 = json_is_array(camps) ? json_array_get(camps, 0) : NULL;
  ev->campaign = jstr(json_object_get(c0, "name"));
  if (ev->campaign.len == 0)
    ev->campaign = jstr(json_object_get(c0, "id"));
  if (ev->campaign.len == 0 && legacy) {
    ev->campaign = jstr(json_object_get(d, "campaign-name"));
    if (ev->campaign.len == 0)
      ev->campaign = jstr(json_object_get(d, "campaign-id"));
  }
  if (ev->campaign.len == 0)
    ev->campaign = first_string(json_object_get(d, legacy ? "tag" : "tags"));
  if (ev->campaign.len == 0 && legacy)
    ev->campaign = first_string(json_object_get(d, "X-Mailgun-Tag"));
  it->ok = true;
}

static int parse_json(bsl_campaign_parser *p, const char *line, size_t len,
                      size_t *n_items, const char **reason) {
  json_error_t jerr;
  if (p->root) {
    json_decref(p->root);
    p->root = NULL;
  }
  if (len == 0)
    return line_reject(p, reason, "", "empty line");
  p->root = json_loadb(line, len, 0, &jerr);
  if (!p->root)
    return line_reject(p, reason, "bad JSON: ", jerr.text);
  size_t n = json_is_array(p->root) ? json_array_size(p->root) : 1;
  if (json_is_array(p->root) && n == 0)
    return line_reject(p, reason, "", "empty array: no events");
  for (size_t i = 0; i < n; i++) {
    const json_t *o =
        json_is_array(p->root) ? json_array_get(p->root, i) : p->root;
    bsl_campaign_item *it = item_slot(p, i);
    if (!it)
      return line_reject(p, reason, "", "out of memory");
    if (!json_is_object(o))
      snprintf(it->reason, sizeof it->reason, "event is not a JSON object");
    else if (p->kind == P_SENDGRID)
      sendgrid_event(it, o);
    else
      mailgun_event(it, o);
  }
  *n_items = n;
  return 0;
}

/* ---- lifecycle ---- */

int bsl_campaign_create(bsl_campaign_parser **out, const char *name,
                        const char *regex, const char *time_format, char *err,
                        size_t errlen) {
  *out = NULL;
  bsl_campaign_parser *p = calloc(1, sizeof *p);
  if (!p || !(p->name = strdup(name)))
    goto out_oom;
  if (strcmp(name, "campaign-csv") == 0) {
    p->kind = P_CSV;
    if (!(p->scratch = malloc(BSL_LINE_MAX + 1)))
      goto out_oom;
  } else if (strcmp(name, "sendgrid-json") == 0) {
    p->kind = P_SENDGRID;
  } else if (strcmp(name, "mailgun-json") == 0) {
    p->kind = P_MAILGUN;
  } else {
    if (!regex) {
      snprintf(err, errlen, "format \"%s\": no regex", name);
      goto out_free;
    }
    p->kind = P_REGEX;
    int code;
    PCRE2_SIZE off;
    p->re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, 0, &code,
                          &off, NULL);
    if (!p->re) {
      PCRE2_UCHAR buf[256];
      if (pcre2_get_error_message(code, buf, sizeof buf) < 0)
        snprintf((char *)buf, sizeof buf, "error %d", code);
      snprintf(err, errlen, "format \"%s\": bad regex at offset %zu: %s", name,
               (size_t)off, (char *)buf);
      goto out_free;
    }
    (void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); /* falls back */
    for (int g = 0; g < G_N; g++) {
      int k =
          pcre2_substring_number_from_name(p->re, (PCRE2_SPTR)group_names[g]);
      p->group[g] = k > 0 ? k : -1;
    }
    if (p->group[G_TIME] < 0 || p->group[G_EVENT] < 0) {
      snprintf(err, errlen,
               "format \"%s\": a campaign regex needs the named groups "
               "(?<time>...) and (?<event>...)",
               name);
      goto out_free;
    }
    if (!(p->md = pcre2_match_data_create_from_pattern(p->re, NULL)))
      goto out_oom;
    if (time_format && !(p->time_format = strdup(time_format)))
      goto out_oom;
  }
  if (!item_slot(p, 0))
    goto out_oom;
  *out = p;
  return 0;
out_oom:
  snprintf(err, errlen, "out of memory");
out_free:
  bsl_campaign_destroy(p);
  return -1;
}

void bsl_campaign_destroy(bsl_campaign_parser *p) {
  if (!p)
    return;
  if (p->root)
    json_decref(p->root);
  pcre2_match_data_free(p->md);
  pcre2_code_free(p->re);
  free(p->scratch);
  free(p->items);
  free(p->time_format);
  free(p->name);
  free(p);
}

int bsl_campaign_parse(bsl_campaign_parser *p, const char *line, size_t len,
                       const bsl_campaign_item **items, size_t *n_items,
                       const char **reason) {
  *items = NULL;
  *n_items = 0;
  *reason = NULL;
  int rc;
  switch (p->kind) {
  case P_CSV:
    rc = parse_csv(p, line, len, n_items, reason);
    break;
  case P_REGEX:
    rc = parse_regex(p, line, len, n_items, reason);
    break;
  default:
    rc = parse_json(p, line, len, n_items, reason);
    break;
  }
  if (rc == 0)
    *items = p->items;
  return rc;
}
