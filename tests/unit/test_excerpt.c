/*
 * Unit tests for analyze/excerpt.c, the sample kept of a rejected line:
 * client addresses masked (IPv4, IPv6, forwarded-for lists), user agents cut
 * to the name of their first product token, the layout around them kept,
 * terminal-unsafe
 * bytes escaped, 200 bytes at most.  Real malformed lines from
 * $BSL_SHARED_DATA are checked too (skipped when it is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "excerpt.h"

static const char *ex(const char *line) {
  static char out[BSL_EXCERPT_CAP];
  size_t n = bsl_excerpt_make(line, strlen(line), out, sizeof out);
  assert_int_equal(n, strlen(out));
  return out;
}

static void test_ipv4(void **state) {
  (void)state;
  assert_string_equal(ex("203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] \"GET "
                         "/ HTTP/1.1\" 200 12"),
                      "203.0.113.x - - [10/Oct/2026:13:55:36 +0000] \"GET / "
                      "HTTP/1.1\" 200 12");
  /* a forwarded-for list, each address on its own */
  assert_string_equal(ex("10.0.0.2, 10.0.0.1, 127.0.0.1 - - [x]"),
                      "10.0.0.x, 10.0.0.x, 127.0.0.x - - [x]");
  assert_string_equal(ex("\"10.5.102.222, 199.96.1.1\" 10.2.1.185 -"),
                      "\"10.5.102.x, 199.96.1.x\" 10.2.1.x -");
  /* inside a referer, after "for=", at the end */
  assert_string_equal(ex("\"http://192.0.2.1:8080/a\" for=198.51.100.23"),
                      "\"http://192.0.2.x:8080/a\" for=198.51.100.x");
  /* not addresses: a timestamp, a version with five numbers, a date */
  assert_string_equal(ex("12:34:56 1.2.3.4.5 2026.11.02"),
                      "12:34:56 1.2.3.4.5 2026.11.02");
}

static void test_ipv6(void **state) {
  (void)state;
  assert_string_equal(ex("2001:41d0:8:f69::1 - - [25/Oct/2015:11:03:09 +0100]"),
                      "2001:41d0:8:x - - [25/Oct/2015:11:03:09 +0100]");
  assert_string_equal(ex("::1 - - [x]"), "::x - - [x]");
  assert_string_equal(ex("2001:db8::1 x"), "2001:db8::x x");
  assert_string_equal(ex("::ffff:192.0.2.1 x"), "::x x");
  assert_string_equal(ex("2001:0db8:85a3:0000:0000:8a2e:0370:7334 x"),
                      "2001:0db8:85a3:x x");
  assert_string_equal(ex("2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17"),
                      "2a03:0000:10ff:x, 10.225.192.x");
  assert_string_equal(ex("[fe80::1ff:fe23:4567:890a]:443"), "[fe80::x]:443");
  /* not addresses: times, a MAC, "::" alone, a C++ name */
  assert_string_equal(ex("[07/Dec/2016:11:05:07 +0100] 00:1a:2b:3c:4d:5e :: "
                         "std::string"),
                      "[07/Dec/2016:11:05:07 +0100] 00:1a:2b:3c:4d:5e :: "
                      "std::string");
}

static void test_user_agents(void **state) {
  (void)state;
  const char *line = "1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] \"GET /x "
                     "HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0 (X11; Linux x86_64) "
                     "Gecko/20100101 Firefox/120.0\"";
  assert_string_equal(ex(line), "1.2.3.x - - [10/Oct/2026:13:55:36 +0000] "
                                "\"GET /x HTTP/1.1\" 200 5 \"-\" \"Mozilla/"
                                "\xe2\x80\xa6\"");
  /* a lone product token loses its version too; the request and the
   * referer stay */
  assert_string_equal(ex("\"GET / HTTP/1.0\" 200 1 \"https://www.google.com/"
                         "search?q=a\" \"Go-http-client/1.1\""),
                      "\"GET / HTTP/1.0\" 200 1 \"https://www.google.com/"
                      "search?q=a\" \"Go-http-client/\xe2\x80\xa6\"");
  /* no product token, in the agent's place: nothing of it */
  assert_string_equal(ex("\"GET / HTTP/1.1\" 200 1 \"-\" \"Cloud mapping "
                         "experiment. Contact research@pdrlabs.net\""),
                      "\"GET / HTTP/1.1\" 200 1 \"-\" \"\xe2\x80\xa6\"");
  assert_string_equal(ex("\"GET / HTTP/1.1\" 200 1 \"-\" \"Feedfetcher-Google; "
                         "(+http://www.google.com/feedfetcher.html)\""),
                      "\"GET / HTTP/1.1\" 200 1 \"-\" \"\xe2\x80\xa6\"");
  /* an escaped quote inside, a trailing forwarded-for field after */
  assert_string_equal(ex("\"GET / HTTP/1.1\" 200 1 \"-\" \"Mozilla/5.0 "
                         "\\\"quoted\\\" x\" \"203.0.113.9\""),
                      "\"GET / HTTP/1.1\" 200 1 \"-\" \"Mozilla/"
                      "\xe2\x80\xa6\" \"203.0.113.x\"");
  /* no closing quote: to the end */
  assert_string_equal(ex("\"GET / HTTP/1.1\" 200 1 \"-\" \"Mozilla/5.0 "
                         "(compatible; Googlebot/2.1; +http://www.google.com/"
                         "bot.html"),
                      "\"GET / HTTP/1.1\" 200 1 \"-\" \"Mozilla/\xe2\x80\xa6");
  /* JSON: the values of an agent key, nothing else */
  assert_string_equal(
      ex("{\"ts\":1.5,\"remote_ip\":\"203.0.113.5\",\"proto\":\"HTTP/1.1\","
         "\"headers\":{\"User-Agent\":[\"Mozilla/5.0 (X11)\"],\"Accept\":"
         "[\"*/*\"]},\"http_user_agent\": \"Cloud mapping\"}"),
      "{\"ts\":1.5,\"remote_ip\":\"203.0.113.x\",\"proto\":\"HTTP/1.1\","
      "\"headers\":{\"User-Agent\":[\"Mozilla/\xe2\x80\xa6\"],\"Accept\":"
      "[\"*/*\"]},\"http_user_agent\": \"\xe2\x80\xa6\"}");
  /* W3C: spaces written as '+' */
  assert_string_equal(
      ex("2015-01-13 00:32:17 10.0.0.1 GET /x - 80 - 157.55.39.146 "
         "Mozilla/5.0+(compatible;+bingbot/2.0;+http://www.bing.com/"
         "bingbot.htm) 200 0 0 1"),
      "2015-01-13 00:32:17 10.0.0.x GET /x - 80 - 157.55.39.x "
      "Mozilla/\xe2\x80\xa6 200 0 0 1");
}

static void test_escaping_and_length(void **state) {
  (void)state;
  assert_string_equal(ex("a\x1b[31m \xff \xc2\x9b \xe2\x80\xae \\ ok \xc3\xa9"),
                      "a\\x1b[31m \\xff \\xc2\\x9b \\xe2\\x80\\xae \\x5c ok "
                      "\xc3\xa9");
  char big[1000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(strlen(ex(big)), BSL_EXCERPT_BYTES);
  /* an address at the 200-byte edge is masked before the cut */
  memset(big, 'a', 195);
  strcpy(big + 195, " 203.0.113.77 tail");
  const char *e = ex(big);
  assert_int_equal(strlen(e), BSL_EXCERPT_BYTES);
  assert_null(strstr(e, "203.0.1"));
  assert_non_null(strstr(e, " 203"));
  char out[16];
  assert_int_equal(bsl_excerpt_make("abcdef", 6, out, 4), 3);
  assert_string_equal(out, "abc");
}

/* Line NO (1-based) of FILE under $BSL_SHARED_DATA, plain or gzip; NULL
 * when the data is absent. */
static char *shared_line(const char *file, int no) {
  const char *dir = getenv("BSL_SHARED_DATA");
  if (!dir)
    return NULL;
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  gzFile f = gzopen(path, "rb");
  if (!f)
    return NULL;
  static char line[70000];
  char *got = NULL;
  for (int i = 0; i < no && (got = gzgets(f, line, sizeof line)); i++)
    ;
  gzclose(f);
  if (!got)
    return NULL;
  line[strcspn(line, "\n")] = '\0';
  return line;
}

static void test_real_malformed_lines(void **state) {
  (void)state;
  /* line 2 lacks the ident and user fields */
  char *l = shared_line("access_logs/lnav_bad_access_log.log", 2);
  if (!l)
    skip();
  assert_string_equal(ex(l), "192.168.202.x [20/Jul/2009:22:59:29 +0000] "
                             "\"GET /vmw/vSphere/default/vmkboot.gz "
                             "HTTP/1.0\" 404 46210 \"-\" \"gPXE/"
                             "\xe2\x80\xa6\"");
  /* the user agent has no closing quote */
  l = shared_line("access_logs/elastic_examples_apache_combined_2015.log.gz",
                  8899);
  assert_non_null(l);
  assert_string_equal(ex(l), "46.118.127.x - - [20/May/2015:12:05:17 +0000] "
                             "\"GET /scripts/grok-py-test/configlib.py "
                             "HTTP/1.1\" 200 235 \"-\" \"Mozilla/"
                             "\xe2\x80\xa6");
  /* forwarded-for lists, IPv6 among them */
  l = shared_line("access_logs/beats_nginx_xff_ipv6_oddities.log", 5);
  assert_non_null(l);
  assert_string_equal(ex(l), "\"10.5.102.x, 199.96.1.x, 204.246.1.x\" "
                             "10.2.1.x - - [22/Jan/2016:13:18:29 +0000] \"GET "
                             "/assets/xxxx?q=100 HTTP/1.1\" 200 25507 \"-\" "
                             "\"\xe2\x80\xa6\"");
  l = shared_line("access_logs/beats_nginx_xff_ipv6_oddities.log", 6);
  assert_non_null(l);
  assert_string_equal(ex(l), "2a03:0000:10ff:x, 10.225.192.x 10.2.2.x - - "
                             "[30/Dec/2016:06:47:09 +0000] \"GET /test.html "
                             "HTTP/1.1\" 404 8571 \"-\" \"Mozilla/"
                             "\xe2\x80\xa6\"");
  /* IIS W3C: the agent's spaces are '+' */
  l = shared_line("other_formats/lnav_iis85_w3c_big.log", 5);
  assert_non_null(l);
  const char *e = ex(l);
  assert_null(strstr(e, "bingbot"));
  assert_null(strstr(e, "compatible"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ipv4),
      cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_user_agents),
      cmocka_unit_test(test_escaping_and_length),
      cmocka_unit_test(test_real_malformed_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
