/*
 * Unit tests for ingest/url.c: query parameters and referer hosts and paths,
 * with the odd shapes real access logs contain (bare IPs, IPv6, userinfo,
 * Android app referers, junk) and the buffer limits callers rely on.
 */
/* cmocka.h needs these included before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "url.h"

static int param(const char *q, const char *name, char *out, size_t cap) {
  return bsl_query_param(q, strlen(q), name, out, cap);
}

static void test_query_basic(void **state) {
  (void)state;
  char v[64];
  assert_int_equal(param("a=1&b=2", "a", v, sizeof v), 1);
  assert_string_equal(v, "1");
  assert_int_equal(param("a=1&b=2", "b", v, sizeof v), 1);
  assert_string_equal(v, "2");
  assert_int_equal(param("a=1&b=2", "c", v, sizeof v), -1);
  assert_string_equal(v, "");
  assert_int_equal(param("", "a", v, sizeof v), -1);
  /* A name is not matched as a prefix or suffix of another. */
  assert_int_equal(
      param("utm_source_x=1&xutm_source=2", "utm_source", v, sizeof v), -1);
}

static void test_query_repeated_and_case(void **state) {
  (void)state;
  char v[64];
  assert_int_equal(param("a=1&a=2", "a", v, sizeof v), 1);
  assert_string_equal(v, "1");
  assert_int_equal(param("A=1&a=2", "a", v, sizeof v), 1);
  assert_string_equal(v, "2");
  assert_int_equal(param("A=1", "a", v, sizeof v), -1);
}

static void test_query_empty_values(void **state) {
  (void)state;
  char v[64];
  assert_int_equal(param("a=&b=2", "a", v, sizeof v), 0);
  assert_string_equal(v, "");
  assert_int_equal(param("a&b=2", "a", v, sizeof v), 0);
  assert_int_equal(param("b=2&a", "a", v, sizeof v), 0);
  assert_int_equal(param("&&a=3&", "a", v, sizeof v), 1);
  assert_string_equal(v, "3");
  assert_int_equal(param("=x&a=1", "", v, sizeof v), -1);
}

static void test_query_decoding(void **state) {
  (void)state;
  char v[64];
  assert_int_equal(param("q=hello+world%21", "q", v, sizeof v), 12);
  assert_string_equal(v, "hello world!");
  assert_int_equal(param("q=%2B%2b", "q", v, sizeof v), 2);
  assert_string_equal(v, "++");
  assert_int_equal(param("q=caf%C3%A9", "q", v, sizeof v), 5);
  assert_string_equal(v, "caf\xc3\xa9");
  /* Invalid or cut escapes are kept as they are. */
  assert_int_equal(param("q=%zz%4", "q", v, sizeof v), 5);
  assert_string_equal(v, "%zz%4");
  assert_int_equal(param("q=100%", "q", v, sizeof v), 4);
  assert_string_equal(v, "100%");
  assert_int_equal(param("q=%%41", "q", v, sizeof v), 2);
  assert_string_equal(v, "%A");
  /* '=' inside a value belongs to the value. */
  assert_int_equal(param("q=a=b", "q", v, sizeof v), 3);
  assert_string_equal(v, "a=b");
}

/* Decoded values follow the database's text rule (utf8.h): a %00 is not
 * decoded (it would end the value), and bytes that do not make well-formed
 * UTF-8, decoded or raw, come out as \xHH; truncation keeps characters and
 * escapes whole. */
static void test_query_text_rule(void **state) {
  (void)state;
  char v[64];
  assert_int_equal(param("q=a%00b", "q", v, sizeof v), 5);
  assert_string_equal(v, "a%00b");
  assert_int_equal(param("q=caf%E9", "q", v, sizeof v), 7);
  assert_string_equal(v, "caf\\xe9");
  assert_int_equal(param("q=%ff%FE", "q", v, sizeof v), 8);
  assert_string_equal(v, "\\xff\\xfe");
  assert_int_equal(param("q=%ed%a0%80x", "q", v, sizeof v), 13);
  assert_string_equal(v, "\\xed\\xa0\\x80x");
  assert_int_equal(param("q=%c0%af", "q", v, sizeof v), 8);
  assert_string_equal(v, "\\xc0\\xaf");
  assert_int_equal(param("q=\xe9t\xe9", "q", v, sizeof v), 9);
  assert_string_equal(v, "\\xe9t\\xe9");
  assert_int_equal(param("q=%F0%9F%98%80", "q", v, sizeof v), 4);
  assert_string_equal(v, "\xf0\x9f\x98\x80");
  assert_int_equal(param("q=%C3%A9%C3%A9", "q", v, 4), 2);
  assert_string_equal(v, "\xc3\xa9");
  assert_int_equal(param("q=a%ff", "q", v, 5), 1);
  assert_string_equal(v, "a");
  char p[64];
  const char *ref = "https://example.com/r\xe9"
                    "f?x";
  assert_true(bsl_referer_path(ref, strlen(ref), p, sizeof p));
  assert_string_equal(p, "/r\\xe9f");
}

static void test_query_separators(void **state) {
  (void)state;
  char v[64];
  /* Only '&' separates: ';' is common inside values (Google's "ved"). */
  assert_int_equal(param("a=1;b=2", "b", v, sizeof v), -1);
  assert_int_equal(param("a=1;b=2", "a", v, sizeof v), 5);
  assert_string_equal(v, "1;b=2");
  /* qlen bounds the scan even without a NUL. */
  assert_int_equal(bsl_query_param("a=1&b=2", 3, "b", v, sizeof v), -1);
  assert_int_equal(bsl_query_param("a=123", 4, "a", v, sizeof v), 2);
  assert_string_equal(v, "12");
  const char raw[] = {'a', '=', 'x', '\0', 'y', '&', 'b', '=', '1'};
  assert_int_equal(bsl_query_param(raw, sizeof raw, "b", v, sizeof v), 1);
}

static void test_query_truncation(void **state) {
  (void)state;
  char v[8];
  memset(v, 'Z', sizeof v);
  assert_int_equal(param("q=abcdefghijkl", "q", v, 4), 3);
  assert_string_equal(v, "abc");
  assert_int_equal(v[4], 'Z'); /* nothing written past cap */
  assert_int_equal(param("q=%41%42%43%44", "q", v, 3), 2);
  assert_string_equal(v, "AB");
  assert_int_equal(param("q=abc", "q", v, 1), 0);
  assert_string_equal(v, "");
}

/* The beacon's four values come one after the other in the caller's
 * buffer, each as long as it decodes to; the longest of each still fit
 * in BSL_BEACON_BYTES, truncated as bsl_query_param() truncates. */
/* One pass for several names (the channel's six parameters) answers what
 * bsl_query_param() answers for each: value, empty, absent, bare key,
 * first occurrence, truncation. */
static void test_query_params_one_pass(void **state) {
  (void)state;
  static const char q[] = "utm_source=news%20letter&gclid&utm_medium=&a=1&"
                          "utm_source=second&utm_campaign=a+very+long+name";
  const char *names[] = {"utm_source", "gclid", "utm_medium",
                         "msclkid",    "",      "utm_campaign"};
  char b[6][8];
  char *outs[6] = {b[0], b[1], b[2], b[3], b[4], b[5]};
  size_t caps[6] = {8, 8, 8, 8, 8, 8};
  int rcs[6];
  bsl_query_params(q, strlen(q), names, 6, outs, caps, rcs);
  for (int i = 0; i < 6; i++) {
    char one[8];
    int rc = bsl_query_param(q, strlen(q), names[i], one, sizeof one);
    assert_int_equal(rcs[i], rc);
    assert_string_equal(outs[i], one);
  }
  assert_string_equal(b[0], "news le"); /* truncated to the cap */
  assert_int_equal(rcs[1], 0);          /* present without '=' */
  assert_int_equal(rcs[3], -1);         /* absent */
}

static void test_beacon_params_compact(void **state) {
  (void)state;
  static const char q[] = "t=buy&x=1&e=click&p=%2Fcaf%C3%A9&d";
  char buf[BSL_BEACON_BYTES];
  memset(buf, 'z', sizeof buf);
  bsl_beacon_params bp;
  size_t used = bsl_beacon_params_parse(q, strlen(q), &bp, buf);
  assert_string_equal(bp.event, "click");
  assert_int_equal(bp.rc_event, 5);
  assert_string_equal(bp.page, "/caf\xc3\xa9");
  assert_int_equal(bp.rc_page, 6);
  assert_string_equal(bp.depth, ""); /* present without '=' */
  assert_int_equal(bp.rc_depth, 0);
  assert_string_equal(bp.target, "buy");
  assert_ptr_equal(bp.event, buf);
  assert_ptr_equal(bp.page, buf + 6);
  assert_ptr_equal(bp.depth, buf + 13);
  assert_ptr_equal(bp.target, buf + 14);
  assert_int_equal(used, 18);
  assert_int_equal(buf[used], 'z'); /* nothing written past it */

  used = bsl_beacon_params_parse(NULL, 0, &bp, buf);
  assert_int_equal(used, 4);
  assert_int_equal(bp.rc_event, -1);
  assert_int_equal(bp.rc_target, -1);
  assert_string_equal(bp.page, "");

  /* every value longer than its field, '%FF' 3 bytes decoding to 4 */
  static char big[4 * (3 * 2048 + 3)];
  size_t n = 0;
  const char *names = "epdt";
  for (int k = 0; k < 4; k++) {
    big[n++] = names[k];
    big[n++] = '=';
    for (int j = 0; j < 2048; j++) {
      memcpy(big + n, "%FF", 3);
      n += 3;
    }
    big[n++] = '&';
  }
  char *huge = malloc(BSL_BEACON_BYTES + 1);
  assert_non_null(huge);
  huge[BSL_BEACON_BYTES] = 'z';
  used = bsl_beacon_params_parse(big, n - 1, &bp, huge);
  assert_true(used <= BSL_BEACON_BYTES);
  assert_int_equal(huge[BSL_BEACON_BYTES], 'z');
  char one[BSL_BEACON_PAGE_CAP];
  assert_int_equal(bp.rc_page,
                   bsl_query_param(big, n - 1, "p", one, BSL_BEACON_PAGE_CAP));
  assert_string_equal(bp.page, one);
  assert_int_equal(bp.rc_depth,
                   bsl_query_param(big, n - 1, "d", one, BSL_BEACON_DEPTH_CAP));
  assert_string_equal(bp.depth, one);
  assert_true(bp.rc_target > 0 && bp.rc_target < BSL_BEACON_TARGET_CAP);
  free(huge);
}

static void test_ascii_lower(void **state) {
  (void)state;
  char s[] = "MiXeD-Case 123 \xc3\x89";
  bsl_ascii_lower(s);
  assert_string_equal(s, "mixed-case 123 \xc3\x89");
}

static bool host(const char *ref, char *out, size_t cap) {
  return bsl_referer_host(ref, strlen(ref), out, cap);
}

static void test_host_common(void **state) {
  (void)state;
  char h[256];
  assert_true(host("https://www.Google.com:443/search?q=x", h, sizeof h));
  assert_string_equal(h, "google.com");
  assert_true(host("http://m.facebook.com/l.php?u=x", h, sizeof h));
  assert_string_equal(h, "m.facebook.com");
  assert_true(host("HTTP://WWW.EXAMPLE.COM./", h, sizeof h));
  assert_string_equal(h, "example.com");
  assert_true(host("https://example.com?x=1", h, sizeof h));
  assert_string_equal(h, "example.com");
  assert_true(host("https://example.com#top", h, sizeof h));
  assert_string_equal(h, "example.com");
  assert_true(host("//cdn.example.com/x", h, sizeof h));
  assert_string_equal(h, "cdn.example.com");
  assert_true(host("https://www2.example.com/", h, sizeof h));
  assert_string_equal(h, "www2.example.com");
}

static void test_host_userinfo_ip(void **state) {
  (void)state;
  char h[256];
  assert_true(host("http://user@host/", h, sizeof h));
  assert_string_equal(h, "host");
  assert_true(host("http://user:p@ss@Evil.com:8080/", h, sizeof h));
  assert_string_equal(h, "evil.com");
  assert_true(host("http://208.113.171.66", h, sizeof h));
  assert_string_equal(h, "208.113.171.66");
  assert_true(host("http://[::1]:8080/", h, sizeof h));
  assert_string_equal(h, "[::1]");
  assert_true(host("http://[2001:DB8::1]/x", h, sizeof h));
  assert_string_equal(h, "[2001:db8::1]");
  assert_false(host("http://[::1/", h, sizeof h));
  assert_false(host("http://[::g]/", h, sizeof h));
}

static void test_host_app_referers(void **state) {
  (void)state;
  char h[256];
  assert_true(host("android-app://com.google.android.gm/", h, sizeof h));
  assert_string_equal(h, "com.google.android.gm");
  assert_true(host("android-app://com.google.android.googlequicksearchbox", h,
                   sizeof h));
  assert_string_equal(h, "com.google.android.googlequicksearchbox");
}

static void test_host_unparsable(void **state) {
  (void)state;
  char h[256];
  assert_false(host("-", h, sizeof h));
  assert_string_equal(h, "");
  assert_false(host("", h, sizeof h));
  assert_false(bsl_referer_host(NULL, 0, h, sizeof h));
  assert_false(host("www.example.com/x", h, sizeof h));
  assert_false(host("example.com", h, sizeof h));
  assert_false(host("http://", h, sizeof h));
  assert_false(host("http:///path", h, sizeof h));
  assert_false(host("http://:80/", h, sizeof h));
  assert_false(host("http://user@/", h, sizeof h));
  assert_false(host("http://exa mple.com/", h, sizeof h));
  assert_false(host("http://ex%41mple.com/", h, sizeof h));
  assert_false(host("http://a..b/", h, sizeof h));
  assert_false(host("http://.a.b/", h, sizeof h));
  assert_false(host("javascript:alert(1)", h, sizeof h));
  assert_false(host("1http://example.com/", h, sizeof h));
  assert_false(host("http://\xc3\xa9t\xc3\xa9.fr/", h, sizeof h));
  assert_false(host("\\x16\\x03\\x01", h, sizeof h));
}

static void test_host_tricks_and_limits(void **state) {
  (void)state;
  char h[256];
  /* Browsers read '\\' as '/', so the host ends before it. */
  assert_true(host("http://example.com\\@evil.com/", h, sizeof h));
  assert_string_equal(h, "example.com");
  /* Hosts that do not fit are refused rather than cut. */
  char small[5];
  memset(small, 'Z', sizeof small);
  assert_false(host("http://example.com/", small, sizeof small));
  assert_int_equal(small[0], '\0');
  assert_true(host("http://abcd/", small, sizeof small));
  assert_string_equal(small, "abcd");
  char big[600] = "http://";
  memset(big + 7, 'a', 500);
  big[507] = '\0';
  assert_false(host(big, h, sizeof h));
  assert_false(host("http://example.com", h, 0));
  /* LEN bounds the parse. */
  assert_true(bsl_referer_host("http://example.com/x", 14, h, sizeof h));
  assert_string_equal(h, "example");
}

static bool path(const char *ref, char *out, size_t cap) {
  return bsl_referer_path(ref, strlen(ref), out, cap);
}

static void test_referer_path(void **state) {
  (void)state;
  char p[64];
  assert_true(path("https://example.com/a/b?x=1#f", p, sizeof p));
  assert_string_equal(p, "/a/b");
  assert_true(path("https://example.com/a/b#f", p, sizeof p));
  assert_string_equal(p, "/a/b");
  assert_true(path("https://example.com", p, sizeof p));
  assert_string_equal(p, "/");
  assert_true(path("https://example.com?x=1", p, sizeof p));
  assert_string_equal(p, "/");
  assert_true(path("http://[::1]:8080/x%20y", p, sizeof p));
  assert_string_equal(p, "/x%20y");
  assert_true(path("http://example.com\\foo", p, sizeof p));
  assert_string_equal(p, "/foo");
  assert_false(path("-", p, sizeof p));
  assert_false(path("/relative/path", p, sizeof p));
  assert_true(path("https://example.com/abcdef", p, 4));
  assert_string_equal(p, "/ab");
}

/* An empty campaign field reaches the decoder as (NULL, 0): CI's UBSan
 * build saw memcpy(out, NULL, 0) there. */
static void test_decode_empty_null(void **state) {
  (void)state;
  char v[8] = "x";
  assert_int_equal(bsl_url_decode(NULL, 0, v, sizeof v), 0);
  assert_string_equal(v, "");
  assert_int_equal(bsl_url_decode("", 0, v, sizeof v), 0);
  assert_string_equal(v, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_query_basic),
      cmocka_unit_test(test_query_repeated_and_case),
      cmocka_unit_test(test_query_empty_values),
      cmocka_unit_test(test_query_decoding),
      cmocka_unit_test(test_query_text_rule),
      cmocka_unit_test(test_query_separators),
      cmocka_unit_test(test_query_truncation),
      cmocka_unit_test(test_query_params_one_pass),
      cmocka_unit_test(test_beacon_params_compact),
      cmocka_unit_test(test_ascii_lower),
      cmocka_unit_test(test_host_common),
      cmocka_unit_test(test_host_userinfo_ip),
      cmocka_unit_test(test_host_app_referers),
      cmocka_unit_test(test_host_unparsable),
      cmocka_unit_test(test_host_tricks_and_limits),
      cmocka_unit_test(test_referer_path),
      cmocka_unit_test(test_decode_empty_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
