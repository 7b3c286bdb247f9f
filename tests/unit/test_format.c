/*
 * Unit tests for ingest/format.c: the built-in access formats against the
 * oddities of real logs (lines copied from the samples under
 * $BSL_SHARED_DATA/access_logs, see SOURCES.md there), user regex formats,
 * and the three time parsers.  Expected epoch values were computed
 * independently with `date -u -d '...' +%s`.  The whole-file tests read the
 * shared samples and skip when they are not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "format.h"
#include "skip.h"

/* ---- helpers ------------------------------------------------------------- */

static bsl_format *make(const char *name, const char *regex,
                        const char *time_format) {
  bsl_format *f = NULL;
  char err[256] = "";
  int rc = bsl_format_create(&f, name, regex, time_format, err, sizeof err);
  if (rc != 0)
    fail_msg("create %s: %s", name, err);
  assert_non_null(f);
  return f;
}

/* Parses a NUL-terminated LINE and fails the test if it is rejected. */
static bsl_hit parse_ok_n(bsl_format *f, const char *line, size_t len) {
  bsl_hit h;
  const char *reason = NULL;
  memset(&h, 0xa5, sizeof h); /* nothing may be left uninitialised */
  if (bsl_format_parse(f, line, len, &h, &reason) != 0)
    fail_msg("rejected (%s): %s", reason, line);
  return h;
}

static bsl_hit parse_ok(bsl_format *f, const char *line) {
  return parse_ok_n(f, line, strlen(line));
}

static const char *parse_reject(bsl_format *f, const char *line) {
  bsl_hit h;
  const char *reason = NULL;
  if (bsl_format_parse(f, line, strlen(line), &h, &reason) == 0)
    fail_msg("accepted: %s", line);
  assert_non_null(reason);
  return reason;
}

#define assert_slice(s, lit)                                                   \
  do {                                                                         \
    bsl_str s_ = (s);                                                          \
    const char *l_ = (lit);                                                    \
    if (s_.len != strlen(l_) || (s_.len && memcmp(s_.ptr, l_, s_.len) != 0))   \
      fail_msg("%s is \"%.*s\", expected \"%s\"", #s, (int)s_.len,             \
               s_.len ? s_.ptr : "", l_);                                      \
  } while (0)

static int setup_combined(void **state) {
  *state = make("combined", NULL, NULL);
  return 0;
}

static int teardown_format(void **state) {
  bsl_format_destroy(*state);
  return 0;
}

/* ---- combined: ordinary lines -------------------------------------------- */

static void combined_plain_line(void **state) {
  bsl_hit h = parse_ok(
      *state,
      "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET "
      "/presentations/logstash-monitorama-2013/images/kibana-search.png "
      "HTTP/1.1\" 200 203023 "
      "\"http://semicomplete.com/presentations/"
      "logstash-monitorama-2013/\" \"Mozilla/5.0 (Macintosh; Intel "
      "Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/32.0.1700.77 Safari/537.36\"");
  assert_slice(h.remote_addr, "83.149.9.216");
  assert_int_equal(h.time, 1431857103);
  assert_slice(h.method, "GET");
  assert_slice(
      h.path,
      "/presentations/logstash-monitorama-2013/images/kibana-search.png");
  assert_slice(h.query, "");
  assert_slice(h.protocol, "HTTP/1.1");
  assert_int_equal(h.status, 200);
  assert_int_equal(h.bytes, 203023);
  assert_slice(
      h.referer,
      "http://semicomplete.com/presentations/logstash-monitorama-2013/");
  assert_slice(h.user_agent,
               "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) "
               "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 "
               "Safari/537.36");
  assert_slice(h.host, "");
  assert_true(h.has_request);
}

static void combined_query_split(void **state) {
  bsl_hit h = parse_ok(
      *state, "\"10.5.102.222, 199.96.1.1, 204.246.1.1\" 10.2.1.185 - "
              "- [22/Jan/2016:13:18:29 +0000] \"GET /assets/xxxx?q=100 "
              "HTTP/1.1\" 200 25507 \"-\" \"Amazon CloudFront\"");
  /* a quoted forwarded-for list then an address: the client as logged */
  assert_slice(h.remote_addr,
               "\"10.5.102.222, 199.96.1.1, 204.246.1.1\" 10.2.1.185");
  assert_int_equal(h.time, 1453468709);
  assert_slice(h.path, "/assets/xxxx");
  assert_slice(h.query, "q=100");
  assert_slice(h.referer, "");
  assert_slice(h.user_agent, "Amazon CloudFront");
}

static void combined_forwarded_for_list(void **state) {
  bsl_hit h = parse_ok(
      *state, "10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "
              "\"GET /ocelot HTTP/1.1\" 200 571 \"-\" \"Mozilla/5.0 "
              "(Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 "
              "Firefox/49.0\"");
  assert_slice(h.remote_addr, "10.0.0.2, 10.0.0.1, 127.0.0.1");
  assert_int_equal(h.time, 1481105107);
  assert_slice(h.path, "/ocelot");
  assert_int_equal(h.status, 200);
  assert_int_equal(h.bytes, 571);

  h = parse_ok(*state,
               "2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121 "
               "- - [30/Dec/2016:06:47:09 +0000] \"GET /test.html HTTP/1.1\" "
               "404 8571 \"-\" \"Mozilla/5.0 (compatible; Facebot 1.0; "
               "https://developers.facebook.com/docs/sharing/webmasters/"
               "crawler)\"");
  assert_slice(
      h.remote_addr,
      "2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121");
  assert_int_equal(h.status, 404);
}

static void combined_vhost_prefix(void **state) {
  bsl_hit h = parse_ok(
      *state, "vhost1.domaine.fr 123.123.123.123 - - [04/Jul/2019:09:20:46 "
              "+0200] \"GET / HTTP/1.1\" 200 32953 \"-\" \"Mozilla/5.0 (X11; "
              "Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/75.0.3770.100 Safari/537.36\"");
  assert_slice(h.remote_addr, "vhost1.domaine.fr 123.123.123.123");
  assert_int_equal(h.time, 1562224846);
  assert_slice(h.path, "/");
  assert_slice(h.host, "");
}

static void combined_ipv6_and_common_line(void **state) {
  /* Apache mixes common and combined lines in one file */
  bsl_hit h = parse_ok(*state, "::1 - - [26/Dec/2016:16:16:29 +0200] \"GET "
                               "/favicon.ico HTTP/1.1\" 404 209");
  assert_slice(h.remote_addr, "::1");
  assert_int_equal(h.time, 1482761789);
  assert_slice(h.path, "/favicon.ico");
  assert_int_equal(h.status, 404);
  assert_int_equal(h.bytes, 209);
  assert_slice(h.referer, "");
  assert_slice(h.user_agent, "");

  h = parse_ok(*state,
               "2001:41d0:8:f69::1 - - [29/Oct/2015:06:47:36 +0100] \"GET / "
               "HTTP/1.1\" 200 20526 \"http://niels.basjes.nl/\" \"Mozilla/5.0 "
               "(Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Dragon/36.1.1.21 Chrome/36.0.1985.97 Safari/537.36\"");
  assert_slice(h.remote_addr, "2001:41d0:8:f69::1");
  assert_int_equal(h.time, 1446097656);
  assert_slice(h.referer, "http://niels.basjes.nl/");
}

static void combined_hostname_and_trailing_field(void **state) {
  bsl_hit h = parse_ok(
      *state, "monitoring-server - - [29/May/2017:19:02:48 +0000] \"GET "
              "/status HTTP/1.1\" 200 612 \"-\" \"Mozilla/5.0 (Windows NT 6.1; "
              "rv:15.0) Gecko/20120716 Firefox/15.0a2\" \"-\"");
  assert_slice(h.remote_addr, "monitoring-server");
  assert_slice(h.path, "/status");
  assert_slice(h.user_agent, "Mozilla/5.0 (Windows NT 6.1; rv:15.0) "
                             "Gecko/20120716 Firefox/15.0a2");

  /* nginx with "$http_x_forwarded_for" last, +0330, encoded path kept */
  h = parse_ok(*state,
               "54.36.149.41 - - [22/Jan/2019:03:56:14 +0330] \"GET "
               "/filter/27|13%20%D9%85%DA%AF,p53 HTTP/1.1\" 200 30577 \"-\" "
               "\"Mozilla/5.0 (compatible; AhrefsBot/6.1; "
               "+http://ahrefs.com/robot/)\" \"-\"");
  assert_int_equal(h.time, 1548116774);
  assert_slice(h.path, "/filter/27|13%20%D9%85%DA%AF,p53");
  assert_slice(
      h.user_agent,
      "Mozilla/5.0 (compatible; AhrefsBot/6.1; +http://ahrefs.com/robot/)");

  h = parse_ok(*state, "1.2.3.4 - - [22/Jan/2019:03:56:14 +0330] \"GET / "
                       "HTTP/1.1\" 200 1 \"-\" \"ua\" \"5.6.7.8\" 0.004");
  assert_slice(h.user_agent, "ua");
}

static void combined_trailing_space(void **state) {
  bsl_hit h = parse_ok(*state, "107.20.105.74 - - [25/Apr/2023:01:45:43 -0700] "
                               "\"HEAD / HTTP/1.1\" 200 5640 "
                               "\"http://208.113.171.66\" \"DreamHost "
                               "SiteMonitor 1.0\" ");
  assert_int_equal(h.time, 1682412343);
  assert_slice(h.method, "HEAD");
  assert_slice(h.referer, "http://208.113.171.66");
  assert_slice(h.user_agent, "DreamHost SiteMonitor 1.0");

  h = parse_ok(*state, "::1 - - [26/Dec/2016:16:16:29 +0200] \"GET "
                       "/favicon.ico HTTP/1.1\" 404 209  ");
  assert_int_equal(h.bytes, 209);
}

static void combined_user_field(void **state) {
  bsl_hit h = parse_ok(*state, "1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "
                               "\"GET /apache_pb.gif HTTP/1.0\" 200 2326");
  assert_int_equal(h.time, 971211336);
  assert_slice(h.path, "/apache_pb.gif");
  assert_slice(h.protocol, "HTTP/1.0");
}

/* ---- combined: requests that are not requests ---------------------------- */

static void combined_request_dash_408(void **state) {
  bsl_hit h =
      parse_ok(*state, "::1 - - [26/Dec/2016:16:16:48 +0200] \"-\" 408 -");
  assert_false(h.has_request);
  assert_slice(h.method, "");
  assert_slice(h.path, "");
  assert_slice(h.query, "");
  assert_int_equal(h.status, 408);
  assert_int_equal(h.bytes, -1);

  h = parse_ok(*state, "127.0.0.1 - - [02/Feb/2019:05:38:45 +0100] \"-\" 408 "
                       "152 \"-\" \"-\"");
  assert_false(h.has_request);
  assert_int_equal(h.bytes, 152);
  assert_slice(h.user_agent, "");
}

static void combined_empty_request_400(void **state) {
  bsl_hit h = parse_ok(*state, "116.206.228.70 - - [22/Nov/2021:05:47:23 "
                               "+0000] \"\" 400 0 \"-\" \"-\"");
  assert_false(h.has_request);
  assert_slice(h.method, "");
  assert_slice(h.path, "");
  assert_int_equal(h.time, 1637560043);
  assert_int_equal(h.status, 400);
  assert_int_equal(h.bytes, 0);
}

static void combined_garbage_requests(void **state) {
  /* a TLS handshake sent to port 80, escaped by nginx */
  bsl_hit h = parse_ok(
      *state,
      "178.62.3.221 - - [21/Nov/2021:10:48:12 +0000] "
      "\"\\x16\\x03\\x01\\x01\\xFD\\x01\\x00\\x01\\xF9\\x03\\x03b\\x8Dp"
      "\\x17\\xF5\\xA4u\\x7F\\xA3T6\\xC6\\xC5e\\xF7\\x1DyOhl$}\\xD4\\xC8+"
      "\\xA4\\x9E\\xA8\\xE5\\x82,\\x8A\\x00\\x01<\\xCC\\x14\\xCC\\x13"
      "\\xCC\\x15\\xC00\\xC0,\\xC0(\\xC0$\\xC0\\x14\\xC0\" 400 166 \"-\" "
      "\"-\"");
  assert_true(h.has_request);
  assert_true(h.method.len > 10);
  assert_memory_equal(h.method.ptr, "\\x16\\x03", 8);
  assert_slice(h.path, "");
  assert_int_equal(h.time, 1637491692);
  assert_int_equal(h.status, 400);

  h = parse_ok(*state,
               "94.232.43.63 - - [22/Nov/2021:01:32:31 +0000] "
               "\"\\x03\\x00\\x00,'\\xE0\\x00\\x00\\x00\\x00\\x00Cookie: "
               "mstshash=Domain\" 400 166 \"-\" \"-\"");
  assert_slice(h.method,
               "\\x03\\x00\\x00,'\\xE0\\x00\\x00\\x00\\x00\\x00Cookie:");
  assert_slice(h.path, "mstshash=Domain");
  assert_slice(h.protocol, "");

  h = parse_ok(*state, "79.20.83.217 - - [21/Nov/2021:10:34:59 +0000] "
                       "\"h+/tmp/gpon80&ipv=0\" 400 166 \"-\" \"-\"");
  assert_slice(h.method, "h+/tmp/gpon80&ipv=0");
  assert_slice(h.path, "");
}

static void combined_request_without_protocol(void **state) {
  bsl_hit h = parse_ok(*state, "1.2.3.4 - - [21/Nov/2021:10:34:59 +0000] "
                               "\"GET /x?a=1\" 200 5 \"-\" \"curl/8\"");
  assert_slice(h.method, "GET");
  assert_slice(h.path, "/x");
  assert_slice(h.query, "a=1");
  assert_slice(h.protocol, "");
  assert_true(h.has_request);
}

static void combined_absolute_target_and_connect(void **state) {
  bsl_hit h = parse_ok(
      *state, "1.2.3.4 - - [21/Nov/2021:10:34:59 +0000] \"GET "
              "http://example.com/p/q?x=1&y HTTP/1.1\" 200 5 \"-\" \"-\"");
  assert_slice(h.path, "http://example.com/p/q");
  assert_slice(h.query, "x=1&y");

  h = parse_ok(*state, "89.248.165.52 - - [21/Nov/2021:18:47:53 +0000] "
                       "\"CONNECT 85.206.160.115:80 HTTP/1.1\" 400 166 \"-\" "
                       "\"-\"");
  assert_slice(h.method, "CONNECT");
  assert_slice(h.path, "85.206.160.115:80");
  assert_slice(h.protocol, "HTTP/1.1");

  /* an unescaped space in the target stays in the path */
  h = parse_ok(*state, "1.2.3.4 - - [21/Nov/2021:10:34:59 +0000] \"GET /a b?c "
                       "HTTP/1.1\" 404 5 \"-\" \"-\"");
  assert_slice(h.path, "/a b");
  assert_slice(h.query, "c");
  assert_slice(h.protocol, "HTTP/1.1");
}

static void combined_escapes_in_quoted_fields(void **state) {
  bsl_hit h = parse_ok(
      *state,
      "45.146.164.110 - - [22/Nov/2021:03:32:01 +0000] \"GET "
      "/index.php?s=/Index/\\x5Cthink\\x5Capp/invokefunction HTTP/1.1\" "
      "404 209 \"-\" \"Mozilla/5.0 \\\"quoted\\\" agent\"");
  assert_slice(h.path, "/index.php");
  assert_slice(h.query, "s=/Index/\\x5Cthink\\x5Capp/invokefunction");
  assert_slice(h.user_agent, "Mozilla/5.0 \\\"quoted\\\" agent");

  h = parse_ok(*state, "1.2.3.4 - - [22/Nov/2021:03:32:01 +0000] \"GET "
                       "/a\\\"b HTTP/1.1\" 200 1 \"x\\\\\" \"y\"");
  assert_slice(h.path, "/a\\\"b");
  assert_slice(h.referer, "x\\\\");
  assert_slice(h.user_agent, "y");
}

static void combined_nul_and_invalid_utf8(void **state) {
  static const char line[] = "1.2.3.4 - - [22/Nov/2021:03:32:01 +0000] \"GET "
                             "/caf\xe9\xff HTTP/1.1\" 200 1 \"-\" \"a\0b\xc3\"";
  bsl_hit h = parse_ok_n(*state, line, sizeof line - 1);
  assert_int_equal(h.path.len, 6);
  assert_memory_equal(h.path.ptr, "/caf\xe9\xff", 6);
  assert_int_equal(h.user_agent.len, 4);
  assert_memory_equal(h.user_agent.ptr, "a\0b\xc3", 4);
}

static void combined_long_escaped_request(void **state) {
  /* a 64 KiB run of escapes must not exhaust the JIT stack */
  const char *head = "1.2.3.4 - - [22/Nov/2021:03:32:01 +0000] \"";
  const char *tail = "\" 400 166 \"-\" \"-\"";
  size_t n = 64 * 1024;
  char *line = malloc(strlen(head) + n + strlen(tail) + 1);
  assert_non_null(line);
  strcpy(line, head);
  char *p = line + strlen(head);
  for (size_t i = 0; i < n / 4; i++, p += 4)
    memcpy(p, "\\x00", 4);
  strcpy(p, tail);
  bsl_hit h = parse_ok(*state, line);
  assert_int_equal(h.method.len, n);
  assert_int_equal(h.status, 400);
  free(line);
}

/* ---- combined: rejects --------------------------------------------------- */

static void combined_rejects(void **state) {
  assert_string_equal(parse_reject(*state, ""), "empty line");
  assert_string_equal(parse_reject(*state, "   "), "empty line");
  /* missing ident and user fields */
  assert_string_equal(
      parse_reject(*state, "192.168.202.254 [20/Jul/2009:22:59:29 +0000] \"GET "
                           "/vmw/vSphere/default/vmkboot.gz HTTP/1.0\" 404 "
                           "46210 \"-\" \"gPXE/0.9.7\""),
      "no match");
  /* user agent without its closing quote */
  assert_string_equal(
      parse_reject(
          *state, "46.118.127.106 - - [20/May/2015:12:05:17 +0000] \"GET "
                  "/scripts/grok-py-test/configlib.py HTTP/1.1\" 200 235 \"-\" "
                  "\"Mozilla/5.0 (compatible; Googlebot/2.1; "
                  "+http://www.google.com/bot.html"),
      "no match");
  /* status must be three digits */
  assert_string_equal(parse_reject(*state, "1.2.3.4 - - [20/May/2015:12:05:17 "
                                           "+0000] \"GET / HTTP/1.1\" 20 5"),
                      "no match");
  assert_string_equal(parse_reject(*state, "1.2.3.4 - - [20/May/2015:12:05:17 "
                                           "+0000] \"GET / HTTP/1.1\" 2000 5"),
                      "no match");
  /* a log line glued to binary junk is not a hit */
  assert_string_equal(
      parse_reject(*state,
                   "\x1f\x8b\x08\x08\xd0\xd1x`\x03 1.2.3.4 - - "
                   "[20/May/2015:12:05:17 +0000] \"GET / HTTP/1.1\" 200 "
                   "5 \"-\" \"-\""),
      "no match");
  assert_string_equal(parse_reject(*state, "not a log line at all"),
                      "no match");
}

static void combined_bad_timestamps(void **state) {
  static const char *const bad[] = {
      "32/Jan/2020:10:00:00 +0000", "30/Feb/2020:10:00:00 +0000",
      "29/Feb/2023:10:00:00 +0000", "10/Foo/2020:10:00:00 +0000",
      "10/Jan/2020:24:00:00 +0000", "10/Jan/2020:10:60:00 +0000",
      "00/Jan/2020:10:00:00 +0000", "10/Jan/2020:10:00:00 +00",
      "10/Jan/2020 10:00:00 +0000", "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char line[256];
    snprintf(line, sizeof line,
             "1.2.3.4 - - [%s] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"", bad[i]);
    assert_string_equal(parse_reject(*state, line), "bad timestamp");
  }
}

/* ---- common, vcombined --------------------------------------------------- */

static void common_format(void **state) {
  (void)state;
  bsl_format *f = make("common", NULL, NULL);
  assert_string_equal(bsl_format_name(f), "common");
  bsl_hit h = parse_ok(f, "::1 - - [26/Dec/2016:16:16:48 +0200] \"-\" 408 -");
  assert_false(h.has_request);
  assert_int_equal(h.bytes, -1);
  /* a combined line read as common: referer and user agent ignored */
  h = parse_ok(f, "192.168.33.1 - - [26/Dec/2016:16:22:13 +0000] \"GET /hello "
                  "HTTP/1.1\" 404 499 \"-\" \"Mozilla/5.0 (Macintosh; Intel "
                  "Mac OS X 10.12; rv:50.0) Gecko/20100101 Firefox/50.0\"");
  assert_slice(h.path, "/hello");
  assert_slice(h.referer, "");
  assert_slice(h.user_agent, "");
  assert_int_equal(h.bytes, 499);
  bsl_format_destroy(f);
}

static void vcombined_format(void **state) {
  (void)state;
  bsl_format *f = make("vcombined", NULL, NULL);
  bsl_hit h = parse_ok(
      f, "lessons.example.com 192.168.0.1 - - [09/Jun/2020:12:10:39 -0700] "
         "\"GET /A%20Beka%20G1%20Howe/029_AND_30/15%20reading%20elephants.mp4 "
         "HTTP/1.1\" 206 7648063 \"http://lessons.example.com/A%20Beka\" "
         "\"Mozilla/5.0 (Linux; Android 5.1.1; KFFOWI)\"");
  assert_slice(h.host, "lessons.example.com");
  assert_slice(h.remote_addr, "192.168.0.1");
  assert_int_equal(h.time, 1591729839);
  assert_slice(h.path,
               "/A%20Beka%20G1%20Howe/029_AND_30/15%20reading%20elephants.mp4");
  assert_int_equal(h.status, 206);
  assert_int_equal(h.bytes, 7648063);

  h = parse_ok(f, "www.example.com:443 10.0.0.2, 10.0.0.1 - - "
                  "[07/Dec/2016:11:05:07 +0100] \"GET /a?b HTTP/1.1\" 200 5 "
                  "\"-\" \"ua\"");
  assert_slice(h.host, "www.example.com");
  assert_slice(h.remote_addr, "10.0.0.2, 10.0.0.1");
  assert_slice(h.query, "b");

  h = parse_ok(f, "www.example.com:80 ::1 - - [07/Dec/2016:11:05:07 +0100] "
                  "\"GET / HTTP/1.1\" 304 -");
  assert_slice(h.host, "www.example.com");
  assert_slice(h.remote_addr, "::1");
  bsl_format_destroy(f);
}

/* ---- user formats -------------------------------------------------------- */

static void user_format_request_split(void **state) {
  (void)state;
  bsl_format *f =
      make("mine",
           "^(?<remote_addr>\\S+) \\S+ \\S+ \\[(?<time>[^\\]]+)\\] "
           "\"(?<request>[^\"]*)\" (?<status>\\d{3}) (?<bytes>\\S+) "
           "\"(?<referer>[^\"]*)\" \"(?<user_agent>[^\"]*)\" (?<host>\\S+)$",
           "%d/%b/%Y:%H:%M:%S %z");
  assert_false(bsl_format_is_builtin("mine"));
  assert_string_equal(bsl_format_name(f), "mine");
  bsl_hit h = parse_ok(f, "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"POST "
                          "/join_form?x=1 HTTP/1.1\" 302 - \"-\" \"ua\" "
                          "www.example.com");
  assert_slice(h.remote_addr, "1.2.3.4");
  assert_int_equal(h.time, 971211336);
  assert_slice(h.method, "POST");
  assert_slice(h.path, "/join_form");
  assert_slice(h.query, "x=1");
  assert_slice(h.protocol, "HTTP/1.1");
  assert_int_equal(h.status, 302);
  assert_int_equal(h.bytes, -1);
  assert_slice(h.referer, "");
  assert_slice(h.user_agent, "ua");
  assert_slice(h.host, "www.example.com");
  assert_true(h.has_request);

  const char *reason = NULL;
  bsl_hit h2;
  const char *bad = "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / "
                    "HTTP/1.1\" 302 12x \"-\" \"ua\" h";
  assert_int_equal(bsl_format_parse(f, bad, strlen(bad), &h2, &reason), -1);
  assert_string_equal(reason, "bad bytes");
  bsl_format_destroy(f);
}

static void user_format_time_format(void **state) {
  (void)state;
  bsl_format *f =
      make("tsv",
           "^(?<time>[^\\t]+)\\t(?<remote_addr>[^\\t]+)\\t(?<method>"
           "[A-Z]+)\\t(?<path>[^\\t]*)\\t(?<status>[^\\t]*)$",
           "%Y-%m-%d %H:%M:%S");
  bsl_hit h = parse_ok(f, "2024-02-29 23:59:59\t10.1.2.3\tGET\t/p?utm_source=x"
                          "\t200");
  assert_int_equal(h.time, 1709251199);
  assert_slice(h.method, "GET");
  /* only `path` given: split at '?' */
  assert_slice(h.path, "/p");
  assert_slice(h.query, "utm_source=x");
  assert_slice(h.protocol, "");
  assert_int_equal(h.status, 200);
  assert_int_equal(h.bytes, -1);
  assert_true(h.has_request);

  assert_string_equal(parse_reject(f, "2024-02-30 23:59:59\t1\tGET\t/\t200"),
                      "bad timestamp");
  assert_string_equal(parse_reject(f, "2024-02-29 23:59:59x\t1\tGET\t/\t200"),
                      "bad timestamp");
  assert_string_equal(parse_reject(f, "2024-02-29 23:59:59\t1\tGET\t/\t20"),
                      "bad status");
  /* an empty status is still a status that is not three digits */
  assert_string_equal(parse_reject(f, "2024-02-29 23:59:59\t1\tGET\t/\t"),
                      "bad status");
  bsl_format_destroy(f);
}

static void user_format_defaults(void **state) {
  (void)state;
  /* no time_format: CLF or ISO 8601; no status group: status 0 */
  bsl_format *f = make("json-ish",
                       "^\\{\"t\":\"(?<time>[^\"]+)\",\"ip\":\"(?<remote_addr>"
                       "[^\"]+)\"(?:,\"req\":\"(?<request>[^\"]*)\")?\\}$",
                       NULL);
  bsl_hit h = parse_ok(f, "{\"t\":\"2026-11-26T05:58:50Z\",\"ip\":\"::1\","
                          "\"req\":\"GET /a?b=c HTTP/2.0\"}");
  assert_int_equal(h.time, 1795672730);
  assert_int_equal(h.status, 0);
  assert_int_equal(h.bytes, -1);
  assert_slice(h.method, "GET");
  assert_slice(h.path, "/a");
  assert_slice(h.query, "b=c");
  assert_slice(h.protocol, "HTTP/2.0");

  h = parse_ok(f, "{\"t\":\"10/Oct/2000:13:55:36 -0700\",\"ip\":\"::1\"}");
  assert_int_equal(h.time, 971211336);
  assert_false(h.has_request);
  assert_slice(h.path, "");

  assert_string_equal(parse_reject(f, "{\"t\":\"yesterday\",\"ip\":\"::1\"}"),
                      "bad timestamp");
  assert_string_equal(parse_reject(f, "{}"), "no match");
  bsl_format_destroy(f);
}

static void create_errors(void **state) {
  (void)state;
  bsl_format *f = (bsl_format *)1;
  char err[256];

  assert_true(
      bsl_format_create(&f, "bad", "^(?<time>[a-", NULL, err, sizeof err) < 0);
  assert_null(f);
  assert_non_null(strstr(err, "bad"));
  assert_non_null(strstr(err, "offset 12"));
  assert_non_null(strstr(err, "missing terminating ]"));
  assert_null(strchr(err, '\n'));

  assert_true(bsl_format_create(&f, "notime", "^(?<path>\\S+)$", NULL, err,
                                sizeof err) < 0);
  assert_null(f);
  assert_non_null(strstr(err, "time"));

  assert_true(bsl_format_create(&f, "combined", "^(?<time>.*)$", NULL, err,
                                sizeof err) < 0);
  assert_true(bsl_format_create(&f, "nosuch", NULL, NULL, err, sizeof err) < 0);
  assert_non_null(strstr(err, "nosuch"));
  /* (*UTF) would make invalid UTF-8 lines errors instead of bytes */
  assert_true(bsl_format_create(&f, "utf", "(*UTF)^(?<time>.*)$", NULL, err,
                                sizeof err) < 0);

  assert_true(bsl_format_is_builtin("combined"));
  assert_true(bsl_format_is_builtin("common"));
  assert_true(bsl_format_is_builtin("vcombined"));
  assert_false(bsl_format_is_builtin("campaign-csv"));
  assert_false(bsl_format_is_builtin(""));
  bsl_format_destroy(NULL);
}

/* ---- time parsers -------------------------------------------------------- */

static void time_clf(void **state) {
  (void)state;
  static const struct {
    const char *text;
    int64_t want;
  } ok[] = {
      {"10/Oct/2000:13:55:36 -0700", 971211336},
      {"22/Jan/2019:03:56:14 +0330", 1548116774},
      {"17/May/2015:10:05:03 +0000", 1431857103},
      {"17/May/2015:10:05:03", 1431857103},
      {"29/Feb/2024:23:59:59 +0000", 1709251199},
      {"31/Dec/1969:23:59:59 +0000", -1},
      {"07/dec/2016:11:05:07 +0100", 1481105107},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t t = 0;
    if (bsl_time_parse_clf(ok[i].text, strlen(ok[i].text), &t) != 0)
      fail_msg("rejected %s", ok[i].text);
    assert_int_equal(t, ok[i].want);
  }
  static const char *const bad[] = {
      "32/Jan/2020:10:00:00 +0000",  "30/Feb/2020:10:00:00 +0000",
      "29/Feb/2100:10:00:00 +0000",  "31/Apr/2020:10:00:00 +0000",
      "10/Oct/2000:24:00:00 -0700",  "10/Oct/2000:13:55:61 -0700",
      "10/Oct/2000:13:55:36 *0700",  "10/Oct/2000:13:55:36 -0760",
      "10/Oct/2000:13:55:36 -07:0",  "1/Oct/2000:13:55:36 -0700",
      "10/Oct/2000:13:55:36 -0700 ", "10/Okt/2000:13:55:36 -0700",
      "10/Oct/20x0:13:55:36 -0700",  "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t t;
    if (bsl_time_parse_clf(bad[i], strlen(bad[i]), &t) == 0)
      fail_msg("accepted %s", bad[i]);
  }
}

static void time_iso8601(void **state) {
  (void)state;
  static const struct {
    const char *text;
    int64_t want;
  } ok[] = {
      {"2026-11-26T05:58:50Z", 1795672730},
      {"2026-11-26T05:58:50+01:00", 1795669130},
      {"2026-11-26T05:58:50+0100", 1795669130},
      {"2026-11-26T05:58:50+01", 1795669130},
      {"2026-11-26 05:58:50", 1795672730},
      {"2026-11-26 05:58:50 +01:00", 1795669130},
      {"2026-11-26T05:58:50.123456Z", 1795672730},
      {"2026-11-26T05:58Z", 1795672680},
      {"2026-11-26", 1795651200},
      {"2000-10-10T13:55:36-07:00", 971211336},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t t = 0;
    if (bsl_time_parse_iso8601(ok[i].text, strlen(ok[i].text), &t) != 0)
      fail_msg("rejected %s", ok[i].text);
    assert_int_equal(t, ok[i].want);
  }
  static const char *const bad[] = {
      "2026-02-30",
      "2026-13-01",
      "2026-11-26T24:00:00Z",
      "2026-11-26T05:58:50Zjunk",
      "2026-11-26T05:58:50.Z",
      "2026-11-26X05:58",
      "2026-11-26T05",
      "26/11/2026",
      "2026-11-26T05:58:50+1",
      "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t t;
    if (bsl_time_parse_iso8601(bad[i], strlen(bad[i]), &t) == 0)
      fail_msg("accepted %s", bad[i]);
  }
}

static void time_strptime(void **state) {
  (void)state;
  int64_t t = 0;
  const char *s = "2024-02-29 23:59:59";
  assert_int_equal(bsl_time_parse_format("%Y-%m-%d %H:%M:%S", s, strlen(s), &t),
                   0);
  assert_int_equal(t, 1709251199);
  s = "10/Oct/2000:13:55:36 -0700";
  assert_int_equal(
      bsl_time_parse_format("%d/%b/%Y:%H:%M:%S %z", s, strlen(s), &t), 0);
  assert_int_equal(t, 971211336);
  s = "22/Jan/2019:03:56:14 +0330";
  assert_int_equal(
      bsl_time_parse_format("%d/%b/%Y:%H:%M:%S %z", s, strlen(s), &t), 0);
  assert_int_equal(t, 1548116774);
  /* only the first LEN bytes count */
  s = "2024-02-29 23:59:59 and more";
  assert_int_equal(bsl_time_parse_format("%Y-%m-%d %H:%M:%S", s, 19, &t), 0);
  assert_int_equal(t, 1709251199);

  static const char *const bad[] = {
      "2024-02-29 23:59:59 and more",
      "2023-02-29 10:00:00",
      "2024-02-30 10:00:00",
      "2024-02-29",
      "",
      "2024-02-29 24:00:00",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (bsl_time_parse_format("%Y-%m-%d %H:%M:%S", bad[i], strlen(bad[i]),
                              &t) == 0)
      fail_msg("accepted %s", bad[i]);
  assert_int_equal(bsl_time_parse_format("%Y-%m-%d", "2024-01-01\0x", 12, &t),
                   -1);
}

/* ---- whole sample files -------------------------------------------------- */

/* Parses every line of FILE under $BSL_SHARED_DATA/access_logs (plain or
 * gzip, LF or CRLF) with FORMAT; returns the reject count, or -1 to skip. */
static long count_rejects(const char *format, const char *file, long *lines) {
  const char *dir = getenv("BSL_SHARED_DATA");
  if (!dir || !*dir)
    return -1;
  char path[4096];
  snprintf(path, sizeof path, "%s/access_logs/%s", dir, file);
  gzFile gz = gzopen(path, "rb");
  if (!gz)
    return -1;
  bsl_format *f = make(format, NULL, NULL);
  static char buf[128 * 1024];
  long rejects = 0;
  *lines = 0;
  /* gzgets cannot report NUL bytes, so junk lines may be cut short; they
   * are rejects either way */
  while (gzgets(gz, buf, sizeof buf)) {
    size_t len = strlen(buf);
    if (len && buf[len - 1] == '\n')
      len--;
    if (len && buf[len - 1] == '\r')
      len--;
    bsl_hit h;
    const char *reason;
    (*lines)++;
    if (bsl_format_parse(f, buf, len, &h, &reason) != 0)
      rejects++;
  }
  gzclose(gz);
  bsl_format_destroy(f);
  return rejects;
}

static void elastic_sample_one_reject(void **state) {
  (void)state;
  long lines;
  long rejects = count_rejects(
      "combined", "elastic_examples_apache_combined_2015.log.gz", &lines);
  if (rejects < 0) {
    SKIP_BECAUSE("BSL_SHARED_DATA unset or access_logs/"
                 "elastic_examples_apache_combined_2015.log.gz absent\n");
  }
  assert_int_equal(lines, 10000);
  /* the 46.118.127.106 Googlebot line whose user agent is cut short */
  assert_int_equal(rejects, 1);
}

static void all_samples(void **state) {
  (void)state;
  static const struct {
    const char *file;
    long rejects;
  } want[] = {
      {"basjes_logparser_hackers_access_combined_2015.log.gz", 0},
      {"lnav_zanbil_shop_nginx_combined_xff_2019.log.gz", 0},
      {"advertools_nginx_scanners_2021.log.gz", 0},
      /* the lines after 169 are a pasted gzip member */
      {"advertools_combined_latin1_gzipjunk_2023.log.gz", -169},
      {"advertools_dreamhost_apache_trailing_space_2023.log", 1}, /* empty */
      {"beats_nginx_xff_ipv6_oddities.log", 0},
      {"beats_nginx_access_vhost.log", 0},
      {"beats_apache_ipv6_408_vhost.log", 0},
      {"lnav_bad_access_log.log", 1}, /* no ident/user */
  };
  int seen = 0;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    long lines;
    long rejects = count_rejects("combined", want[i].file, &lines);
    if (rejects < 0) {
      SKIPPED_PART("access_logs/%s not found (set BSL_SHARED_DATA)\n",
                   want[i].file);
      continue;
    }
    seen++;
    long expect = want[i].rejects >= 0 ? want[i].rejects
                                       : lines + want[i].rejects; /* valid */
    if (rejects != expect)
      fail_msg("%s: %ld rejects of %ld lines, expected %ld", want[i].file,
               rejects, lines, expect);
  }
  if (!seen)
    SKIP_BECAUSE("BSL_SHARED_DATA unset or access_logs absent\n");
}

/* ---- the hand-written fast path against the regex ---- */

static bool same_slice(bsl_str a, bsl_str b) {
  return a.len == b.len && (a.len == 0 || a.ptr == b.ptr);
}

/* Parses LINE with the fast path on (FAST) and off (SLOW): same answer. */
static void assert_same_parse(bsl_format *fast, bsl_format *slow,
                              const char *line, size_t len) {
  bsl_hit a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  const char *ra = NULL, *rb = NULL;
  int ca = bsl_format_parse(fast, line, len, &a, &ra);
  int cb = bsl_format_parse(slow, line, len, &b, &rb);
  if (ca != cb || (ca != 0 && strcmp(ra, rb) != 0) ||
      (ca == 0 &&
       (!same_slice(a.remote_addr, b.remote_addr) ||
        !same_slice(a.method, b.method) || !same_slice(a.path, b.path) ||
        !same_slice(a.query, b.query) || !same_slice(a.protocol, b.protocol) ||
        !same_slice(a.referer, b.referer) ||
        !same_slice(a.user_agent, b.user_agent) || a.time != b.time ||
        a.bytes != b.bytes || a.status != b.status ||
        a.has_request != b.has_request)))
    fail_msg("fast path and regex differ on: %.*s", (int)len, line);
}

static void fast_path_matches_regex(void **state) {
  (void)state;
  static const char *const names[] = {"combined", "common"};
  static const char *const templates[] = {
      "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /a?b=1 HTTP/1.1\" 200 "
      "2326 \"http://x.org/\" \"Mozilla/5.0 (X11)\"",
      "::1 - frank [26/Dec/2016:16:16:48 +0200] \"-\" 408 -",
      "h - - [01/Jan/2020:00:00:00 +0000] \"\" 400 0 \"-\" \"-\" \"-\"",
  };
  static const char specials[] = {'"',  '\\', ' ', '[', ']',    '-',
                                  '\t', '\0', 'x', '9', '\xff', '?'};
  char err[256];
  for (size_t n = 0; n < 2; n++) {
    bsl_format *fast, *slow;
    assert_int_equal(
        bsl_format_create(&fast, names[n], NULL, NULL, err, sizeof err), 0);
    assert_int_equal(
        bsl_format_create(&slow, names[n], NULL, NULL, err, sizeof err), 0);
    bsl_format_set_fastpath(slow, false);
    size_t checked = 0;
    /* every byte of each template replaced by each special byte, and every
     * prefix of it: the places where a hand parser goes wrong */
    for (size_t t = 0; t < sizeof templates / sizeof templates[0]; t++) {
      char line[512];
      size_t len = strlen(templates[t]);
      for (size_t pos = 0; pos < len; pos++) {
        for (size_t k = 0; k < sizeof specials; k++) {
          memcpy(line, templates[t], len);
          line[pos] = specials[k];
          assert_same_parse(fast, slow, line, len);
          checked++;
        }
        assert_same_parse(fast, slow, templates[t], pos);
        checked++;
      }
    }
    /* and every line of the real logs */
    const char *dir = getenv("BSL_SHARED_DATA");
    if (n == 0 && (!dir || !*dir))
      SKIPPED_PART("BSL_SHARED_DATA unset: the fast path was not compared "
                   "with the regex on the real logs\n");
    static const char *const logs[] = {
        "elastic_examples_apache_combined_2015.log.gz",
        "basjes_logparser_hackers_access_combined_2015.log.gz",
        "lnav_zanbil_shop_nginx_combined_xff_2019.log.gz",
        "advertools_nginx_scanners_2021.log.gz",
        "advertools_combined_latin1_gzipjunk_2023.log.gz",
        "advertools_dreamhost_apache_trailing_space_2023.log",
        "beats_nginx_xff_ipv6_oddities.log",
        "beats_nginx_access_vhost.log",
        "beats_apache_ipv6_408_vhost.log",
        "lnav_bad_access_log.log"};
    for (size_t l = 0; dir && *dir && l < sizeof logs / sizeof logs[0]; l++) {
      char path[1024], buf[8192];
      snprintf(path, sizeof path, "%s/access_logs/%s", dir, logs[l]);
      gzFile gz = gzopen(path, "rb");
      if (!gz) {
        if (n == 0)
          SKIPPED_PART("%s not found: the fast path was not compared with "
                       "the regex on it\n",
                       path);
        continue;
      }
      while (gzgets(gz, buf, sizeof buf)) {
        size_t len = strlen(buf);
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
          len--;
        assert_same_parse(fast, slow, buf, len);
        checked++;
      }
      gzclose(gz);
    }
    assert_true(checked > 1000);
    bsl_format_destroy(fast);
    bsl_format_destroy(slow);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(combined_plain_line, setup_combined,
                                      teardown_format),
      cmocka_unit_test_setup_teardown(combined_query_split, setup_combined,
                                      teardown_format),
      cmocka_unit_test_setup_teardown(combined_forwarded_for_list,
                                      setup_combined, teardown_format),
      cmocka_unit_test_setup_teardown(combined_vhost_prefix, setup_combined,
                                      teardown_format),
      cmocka_unit_test_setup_teardown(combined_ipv6_and_common_line,
                                      setup_combined, teardown_format),
      cmocka_unit_test_setup_teardown(combined_hostname_and_trailing_field,
                                      setup_combined, teardown_format),
      cmocka_unit_test_setup_teardown(combined_trailing_space, setup_combined,
                                      teardown_format),
      cmocka_unit_test_setup_teardown(combined_user_field, setup_combined,
                                      teardown_format),
      cmocka_unit_test_setup_teardown(combined_request_dash_408, setup_combined,
                                      teardown_format),
      cmocka_unit_test_setup_teardown(combined_empty_request_400,
                                      setup_combined, teardown_format),
      cmocka_unit_test_setup_teardown(combined_garbage_requests, setup_combined,
                                      teardown_format),
      cmocka_unit_test_setup_teardown(combined_request_without_protocol,
                                      setup_combined, teardown_format),
      cmocka_unit_test_setup_teardown(combined_absolute_target_and_connect,
                                      setup_combined, teardown_format),
      cmocka_unit_test_setup_teardown(combined_escapes_in_quoted_fields,
                                      setup_combined, teardown_format),
      cmocka_unit_test_setup_teardown(combined_nul_and_invalid_utf8,
                                      setup_combined, teardown_format),
      cmocka_unit_test_setup_teardown(combined_long_escaped_request,
                                      setup_combined, teardown_format),
      cmocka_unit_test_setup_teardown(combined_rejects, setup_combined,
                                      teardown_format),
      cmocka_unit_test_setup_teardown(combined_bad_timestamps, setup_combined,
                                      teardown_format),
      cmocka_unit_test(fast_path_matches_regex),
      cmocka_unit_test(common_format),
      cmocka_unit_test(vcombined_format),
      cmocka_unit_test(user_format_request_split),
      cmocka_unit_test(user_format_time_format),
      cmocka_unit_test(user_format_defaults),
      cmocka_unit_test(create_errors),
      cmocka_unit_test(time_clf),
      cmocka_unit_test(time_iso8601),
      cmocka_unit_test(time_strptime),
      cmocka_unit_test(elastic_sample_one_reject),
      cmocka_unit_test(all_samples),
  };
  return unit_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
