/*
 * Unit tests of the campaign-log parsers (ingest/campaign.c): campaign-csv
 * with RFC 4180 quoting, [format] regexes, SendGrid and Mailgun webhook
 * bodies, the provider event mapping (which events are taken and which are
 * rejected, and why), and the real payloads of ../shared/data/email_events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "skip.h"

static bsl_campaign_parser *make(const char *name, const char *regex,
                                 const char *tf) {
  bsl_campaign_parser *p = NULL;
  char err[256];
  int rc = bsl_campaign_create(&p, name, regex, tf, err, sizeof err);
  if (rc != 0)
    fail_msg("create %s: %s", name, err);
  return p;
}

/* Parses S; returns the rc, items through *it. */
static int parse(bsl_campaign_parser *p, const char *s,
                 const bsl_campaign_item **it, size_t *n, const char **reason) {
  return bsl_campaign_parse(p, s, strlen(s), it, n, reason);
}

static void assert_str(bsl_str s, const char *want) {
  char buf[512];
  snprintf(buf, sizeof buf, "%.*s", (int)s.len, s.ptr ? s.ptr : "");
  assert_string_equal(buf, want);
}

static void test_csv(void **state) {
  (void)state;
  bsl_campaign_parser *p = make("campaign-csv", NULL, NULL);
  const bsl_campaign_item *it;
  size_t n;
  const char *why;
  assert_int_equal(
      parse(p, "timestamp,campaign,event,recipient,url,cost", &it, &n, &why),
      1);
  assert_int_equal(parse(p,
                         "2026-11-02T10:00:00Z,Nov Promo,click,a@x.org,"
                         "https://x.org/a,",
                         &it, &n, &why),
                   0);
  assert_int_equal(n, 1);
  assert_true(it[0].ok);
  assert_int_equal(it[0].ev.kind, BSL_CEV_CLICK);
  assert_int_equal(it[0].ev.time, 1793613600);
  assert_str(it[0].ev.campaign, "Nov Promo");
  assert_str(it[0].ev.recipient, "a@x.org");
  assert_str(it[0].ev.url, "https://x.org/a");
  /* quoted fields: commas and doubled quotes inside; offset timestamps */
  assert_int_equal(parse(p,
                         "2026-11-02T11:00:00+01:00,\"Sale, \"\"big\"\"\","
                         "spend,,,\"12.5\"",
                         &it, &n, &why),
                   0);
  assert_int_equal(it[0].ev.kind, BSL_CEV_SPEND);
  assert_int_equal(it[0].ev.time, 1793613600);
  assert_str(it[0].ev.campaign, "Sale, \"big\"");
  assert_int_equal(it[0].ev.cost_micros, 12500000);
  /* trailing fields may be left out; event names ignore case */
  assert_int_equal(parse(p, "2026-11-02,spring,DELIVERED", &it, &n, &why), 0);
  assert_int_equal(it[0].ev.kind, BSL_CEV_DELIVERED);
  assert_int_equal(it[0].ev.recipient.len, 0);

  static const struct {
    const char *line, *reason;
  } bad[] = {
      {"", "empty line"},
      {"yesterday,c,open,,,", "bad timestamp \"yesterday\""},
      {"2026-11-02T10:00:00Z,c,forwarded,,,",
       "unknown event \"forwarded\" (expected sent delivered open click bounce "
       "unsubscribe spend)"},
      {"2026-11-02T10:00:00Z,c,spend,,,", "spend without a cost"},
      {"2026-11-02T10:00:00Z,c,spend,,,12,5",
       "too many fields (expected timestamp,campaign,event,recipient,url,"
       "cost)"},
      {"2026-11-02T10:00:00Z,c,spend,,,1e3", "bad cost \"1e3\""},
      {"2026-11-02T10:00:00Z,\"c,open,,,", "unterminated quoted field"},
      {"2026-11-02T10:00:00Z,\"c\"x,open", "text after a closing quote"},
      {"2026-11-02T10:00:00Z,c\"x,open", "quote inside an unquoted field"},
      {"2026-11-02T10:00:00Z,c", "too few fields (expected timestamp,campaign,"
                                 "event,recipient,url,cost)"},
      {"\x01\xff\0", "too few fields (expected timestamp,campaign,event,"
                     "recipient,url,cost)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(parse(p, bad[i].line, &it, &n, &why), -1);
    assert_string_equal(why, bad[i].reason);
  }
  bsl_campaign_destroy(p);
}

static void test_cost(void **state) {
  (void)state;
  int64_t v;
  assert_int_equal(bsl_campaign_parse_cost("0.125", 5, &v), 0);
  assert_int_equal(v, 125000);
  assert_int_equal(bsl_campaign_parse_cost(" -3 ", 4, &v), 0);
  assert_int_equal(v, -3000000);
  assert_int_equal(bsl_campaign_parse_cost("1.2345678", 9, &v), 0);
  assert_int_equal(v, 1234567);
  assert_int_equal(bsl_campaign_parse_cost(".5", 2, &v), 0);
  assert_int_equal(v, 500000);
  assert_int_equal(bsl_campaign_parse_cost("", 0, &v), -1);
  assert_int_equal(bsl_campaign_parse_cost(".", 1, &v), -1);
  assert_int_equal(bsl_campaign_parse_cost("1,5", 3, &v), -1);
  assert_int_equal(bsl_campaign_parse_cost("99999999999999", 14, &v), -1);
}

static void test_regex(void **state) {
  (void)state;
  bsl_campaign_parser *p =
      make("ads",
           "^(?<time>\\S+ \\S+) \\[(?<campaign>[^\\]]*)\\] (?<event>\\w+)"
           "(?: (?!cost=)(?<recipient>\\S+))?(?: cost=(?<cost>\\S+))?$",
           "%Y-%m-%d %H:%M:%S");
  const bsl_campaign_item *it;
  size_t n;
  const char *why;
  assert_int_equal(
      parse(p, "2026-11-02 10:00:00 [Brand] spend cost=3.25", &it, &n, &why),
      0);
  assert_int_equal(it[0].ev.kind, BSL_CEV_SPEND);
  assert_int_equal(it[0].ev.cost_micros, 3250000);
  assert_str(it[0].ev.campaign, "Brand");
  assert_int_equal(it[0].ev.time, 1793613600);
  assert_int_equal(
      parse(p, "2026-11-02 10:00:00 [Brand] opened r1", &it, &n, &why), 0);
  assert_int_equal(it[0].ev.kind, BSL_CEV_OPEN);
  assert_str(it[0].ev.recipient, "r1");
  assert_int_equal(parse(p, "garbage", &it, &n, &why), -1);
  assert_string_equal(why, "no match");
  assert_int_equal(parse(p, "2026-13-02 10:00:00 [B] open", &it, &n, &why), -1);
  assert_string_equal(why, "bad timestamp \"2026-13-02 10:00:00\"");
  bsl_campaign_destroy(p);

  /* time and event groups are required */
  char err[256];
  assert_int_equal(
      bsl_campaign_create(&p, "x", "^(?<time>\\S+)", NULL, err, sizeof err),
      -1);
  assert_non_null(strstr(err, "(?<event>...)"));
  assert_int_equal(
      bsl_campaign_create(&p, "x", "(?<time>", NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "bad regex"));
}

/* Every SendGrid event name: what it becomes, or why it is rejected. */
static void test_sendgrid_mapping(void **state) {
  (void)state;
  static const struct {
    const char *event;
    int kind; /* -1: rejected */
    const char *reason;
  } map[] = {
      {"processed", BSL_CEV_SENT, NULL},
      {"Processed", BSL_CEV_SENT, NULL},
      {"delivered", BSL_CEV_DELIVERED, NULL},
      {"open", BSL_CEV_OPEN, NULL},
      {"click", BSL_CEV_CLICK, NULL},
      {"bounce", BSL_CEV_BOUNCE, NULL},
      {"dropped", BSL_CEV_BOUNCE, NULL},
      {"spamreport", BSL_CEV_UNSUBSCRIBE, NULL},
      {"unsubscribe", BSL_CEV_UNSUBSCRIBE, NULL},
      {"group_unsubscribe", BSL_CEV_UNSUBSCRIBE, NULL},
      {"deferred", -1,
       "sendgrid: deferred: not counted (a temporary delay; its final "
       "delivered or bounce counts)"},
      {"group_resubscribe", -1,
       "sendgrid: group_resubscribe: not counted (a resubscription has no "
       "campaign column)"},
      {"send", -1, "sendgrid: unknown event \"send\""},
  };
  bsl_campaign_parser *p = make("sendgrid-json", NULL, NULL);
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    char line[256];
    snprintf(
        line, sizeof line,
        "[{\"email\":\"a@x.org\",\"timestamp\":1513299569,\"event\":\"%s\","
        "\"category\":\"cat facts\"}]",
        map[i].event);
    const bsl_campaign_item *it;
    size_t n;
    const char *why;
    assert_int_equal(parse(p, line, &it, &n, &why), 0);
    assert_int_equal(n, 1);
    if (map[i].kind < 0) {
      assert_false(it[0].ok);
      assert_string_equal(it[0].reason, map[i].reason);
    } else {
      assert_true(it[0].ok);
      assert_int_equal(it[0].ev.kind, map[i].kind);
    }
  }
  bsl_campaign_destroy(p);
}

static void test_sendgrid_fields(void **state) {
  (void)state;
  bsl_campaign_parser *p = make("sendgrid-json", NULL, NULL);
  const bsl_campaign_item *it;
  size_t n;
  const char *why;
  /* several events per body; category array; string timestamp; campaign
   * name preferred over category; Apple MPP flag; a non-object element */
  const char *body =
      "[{\"email\":\"a@x.org\",\"timestamp\":\"123456789\",\"event\":\"open\","
      "\"category\":[\"newuser\",\"transactional\"],\"sg_machine_open\":true},"
      "{\"email\":\"b@x.org\",\"timestamp\":1442349428.7,\"event\":\"click\","
      "\"url\":\"https://x.org/?a=1\",\"category\":[],"
      "\"marketing_campaign_name\":\"Spring Sale\"},"
      "42,"
      "{\"email\":\"c@x.org\",\"event\":\"open\"},"
      "{\"email\":\"c@x.org\",\"timestamp\":\"soon\",\"event\":\"open\"},"
      "{\"timestamp\":1,\"event\":7}]";
  assert_int_equal(parse(p, body, &it, &n, &why), 0);
  assert_int_equal(n, 6);
  assert_true(it[0].ok);
  assert_int_equal(it[0].ev.time, 123456789);
  assert_str(it[0].ev.campaign, "newuser");
  assert_true(it[0].ev.machine);
  assert_true(it[1].ok);
  assert_int_equal(it[1].ev.time, 1442349428);
  assert_str(it[1].ev.campaign, "Spring Sale");
  assert_str(it[1].ev.url, "https://x.org/?a=1");
  assert_false(it[1].ev.machine);
  assert_false(it[2].ok);
  assert_string_equal(it[2].reason, "event is not a JSON object");
  assert_false(it[3].ok);
  assert_string_equal(it[3].reason, "sendgrid: no timestamp");
  assert_false(it[4].ok);
  assert_string_equal(it[4].reason, "sendgrid: bad timestamp");
  assert_false(it[5].ok);
  assert_string_equal(it[5].reason, "sendgrid: no event name");
  /* a single object is one event */
  assert_int_equal(
      parse(p, "{\"event\":\"delivered\",\"timestamp\":5}", &it, &n, &why), 0);
  assert_int_equal(n, 1);
  assert_true(it[0].ok);
  assert_int_equal(it[0].ev.campaign.len, 0);
  /* whole-line rejects */
  assert_int_equal(parse(p, "[]", &it, &n, &why), -1);
  assert_string_equal(why, "empty array: no events");
  assert_int_equal(parse(p, "[{\"event\":", &it, &n, &why), -1);
  assert_non_null(strstr(why, "bad JSON: "));
  assert_int_equal(parse(p, "{\"event\":\"open\"} trailing", &it, &n, &why),
                   -1);
  assert_int_equal(bsl_campaign_parse(p, "{\"a\":\"\xff\"}", 9, &it, &n, &why),
                   -1);
  assert_non_null(strstr(why, "bad JSON: "));
  bsl_campaign_destroy(p);
}

static void test_mailgun(void **state) {
  (void)state;
  bsl_campaign_parser *p = make("mailgun-json", NULL, NULL);
  const bsl_campaign_item *it;
  size_t n;
  const char *why;
  static const struct {
    const char *body;
    int kind;
    const char *reason_or_campaign;
  } cases[] = {
      {"{\"event-data\":{\"event\":\"accepted\",\"timestamp\":1534108637.15,"
       "\"recipient\":\"a@x.org\",\"campaigns\":[{\"id\":\"c1\",\"name\":"
       "\"Autumn\"}],\"tags\":[\"t\"]}}",
       BSL_CEV_SENT, "Autumn"},
      {"{\"event-data\":{\"event\":\"opened\",\"timestamp\":1,\"tags\":"
       "[\"welcome\",\"variation-A\"]}}",
       BSL_CEV_OPEN, "welcome"},
      {"{\"event-data\":{\"event\":\"failed\",\"severity\":\"permanent\","
       "\"timestamp\":1}}",
       BSL_CEV_BOUNCE, ""},
      {"{\"event-data\":{\"event\":\"failed\",\"severity\":\"temporary\","
       "\"timestamp\":1}}",
       -1,
       "mailgun: failed (temporary): not counted (retried; its final "
       "delivered or failed counts)"},
      {"{\"event-data\":{\"event\":\"rejected\",\"timestamp\":1}}",
       BSL_CEV_BOUNCE, ""},
      {"{\"event-data\":{\"event\":\"complained\",\"timestamp\":1}}",
       BSL_CEV_UNSUBSCRIBE, ""},
      {"{\"event-data\":{\"event\":\"unsubscribed\",\"timestamp\":1}}",
       BSL_CEV_UNSUBSCRIBE, ""},
      {"{\"event-data\":{\"event\":\"delivered\",\"timestamp\":1}}",
       BSL_CEV_DELIVERED, ""},
      {"{\"event-data\":{\"event\":\"stored\",\"timestamp\":1}}", -1,
       "mailgun: stored: not counted (a stored inbound message is not a "
       "campaign event)"},
      /* legacy flat form */
      {"{\"event\":\"clicked\",\"recipient\":\"r@x.org\",\"timestamp\":"
       "\"1461261330\",\"url\":\"http://c.example.com/\",\"tag\":[\"t1\","
       "\"t2\"]}",
       BSL_CEV_CLICK, "t1"},
      {"{\"event\":\"bounced\",\"timestamp\":\"1\",\"campaign-name\":\"Old\"}",
       BSL_CEV_BOUNCE, "Old"},
      {"{\"event\":\"dropped\",\"recipient\":\"c@x.org\"}", -1,
       "mailgun: no timestamp"},
      {"{\"event\":\"metadata-event\",\"timestamp\":\"metadata-timestamp\"}",
       -1, "mailgun: unknown event \"metadata-event\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_int_equal(parse(p, cases[i].body, &it, &n, &why), 0);
    assert_int_equal(n, 1);
    if (cases[i].kind < 0) {
      assert_false(it[0].ok);
      assert_string_equal(it[0].reason, cases[i].reason_or_campaign);
    } else {
      assert_true(it[0].ok);
      assert_int_equal(it[0].ev.kind, cases[i].kind);
      assert_str(it[0].ev.campaign, cases[i].reason_or_campaign);
    }
  }
  assert_int_equal(parse(p,
                         "{\"event\":\"clicked\",\"recipient\":\"r@x.org\","
                         "\"timestamp\":\"1461261330\",\"url\":\"http://u\"}",
                         &it, &n, &why),
                   0);
  assert_int_equal(it[0].ev.time, 1461261330);
  assert_str(it[0].ev.recipient, "r@x.org");
  assert_str(it[0].ev.url, "http://u");
  bsl_campaign_destroy(p);
}

/* Counts the events taken and rejected in a real payload file. */
static void count_file(const char *format, const char *file, size_t *lines,
                       size_t *ok, size_t *rejected) {
  const char *dir = getenv("BSL_SHARED_DATA");
  char path[1024];
  snprintf(path, sizeof path, "%s/email_events/%s", dir, file);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  bsl_campaign_parser *p = make(format, NULL, NULL);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  *lines = *ok = *rejected = 0;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n')
      len--;
    const bsl_campaign_item *it;
    size_t n;
    const char *why;
    (*lines)++;
    int rc = bsl_campaign_parse(p, line, (size_t)len, &it, &n, &why);
    if (rc != 0) {
      assert_non_null(why);
      (*rejected)++;
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      if (it[i].ok)
        (*ok)++;
      else {
        assert_true(it[i].reason[0] != '\0');
        (*rejected)++;
      }
    }
  }
  free(line);
  fclose(f);
  bsl_campaign_destroy(p);
}

static void test_real_payloads(void **state) {
  (void)state;
  const char *dir = getenv("BSL_SHARED_DATA");
  char probe[1024];
  snprintf(probe, sizeof probe,
           "%s/email_events/mailgun_webhooks_anymail_tests.jsonl",
           dir ? dir : "");
  FILE *f = dir ? fopen(probe, "r") : NULL;
  if (!f)
    SKIP_BECAUSE("%s not found (set BSL_SHARED_DATA): real payloads not "
                 "counted\n",
                 probe);
  fclose(f);
  size_t lines, ok, rej;
  /* 23 bodies, 35 events: deferred x2 and group_resubscribe x2 rejected */
  count_file("sendgrid-json", "sendgrid_event_webhook_docs.jsonl", &lines, &ok,
             &rej);
  assert_int_equal(lines, 23);
  assert_int_equal(ok, 31);
  assert_int_equal(rej, 4);
  /* 10 bodies: one deferred */
  count_file("sendgrid-json", "sendgrid_webhooks_anymail_tests.jsonl", &lines,
             &ok, &rej);
  assert_int_equal(lines, 10);
  assert_int_equal(ok, 9);
  assert_int_equal(rej, 1);
  /* 13 bodies: two temporary failures, three legacy events without a
   * timestamp, the metadata-event test stub */
  count_file("mailgun-json", "mailgun_webhooks_anymail_tests.jsonl", &lines,
             &ok, &rej);
  assert_int_equal(lines, 13);
  assert_int_equal(ok, 7);
  assert_int_equal(rej, 6);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csv),
      cmocka_unit_test(test_cost),
      cmocka_unit_test(test_regex),
      cmocka_unit_test(test_sendgrid_mapping),
      cmocka_unit_test(test_sendgrid_fields),
      cmocka_unit_test(test_mailgun),
      cmocka_unit_test(test_real_payloads),
  };
  return unit_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
