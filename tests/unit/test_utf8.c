/*
 * Unit tests for ingest/utf8.c, the rule for text in the database: NUL and
 * every byte outside well-formed UTF-8 become \xHH, well-formed text is
 * unchanged, truncation never splits a character or an escape, and the
 * streaming sink gives what the one-shot function gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "utf8.h"

/* clean(S, LEN) with room enough; a static buffer */
static const char *clean_n(const char *s, size_t len) {
  static char out[1024];
  size_t n = bsl_utf8_clean(s, len, out, sizeof out);
  assert_int_equal(n, strlen(out));
  assert_int_equal(n, bsl_utf8_clean_len(s, len));
  assert_true(bsl_utf8_is_clean(out, n));
  /* idempotent: clean text stays as it is */
  static char again[1024];
  assert_int_equal(bsl_utf8_clean(out, n, again, sizeof again), n);
  assert_string_equal(again, out);
  /* the sink, byte by byte, agrees */
  static char streamed[1024];
  bsl_utf8_sink k;
  bsl_utf8_sink_init(&k, streamed, sizeof streamed);
  for (size_t i = 0; i < len; i++)
    bsl_utf8_sink_put(&k, (unsigned char)s[i]);
  assert_int_equal(bsl_utf8_sink_end(&k), n);
  assert_string_equal(streamed, out);
  return out;
}

static const char *clean(const char *s) {
  return clean_n(s, strlen(s));
}

static void test_valid_text_unchanged(void **state) {
  (void)state;
  const char *ok[] = {
      "",
      "/plain/ascii?x=1",
      "caf\xc3\xa9",                   /* U+00E9 */
      "\xe2\x82\xac 10",               /* U+20AC */
      "\xf0\x9f\x98\x80",              /* U+1F600 */
      "\xf4\x8f\xbf\xbf",              /* U+10FFFF, the last one */
      "\xed\x9f\xbf",                  /* U+D7FF, just below surrogates */
      "\xee\x80\x80",                  /* U+E000, just above them */
      "tab\there \x01 \x7f",           /* controls are valid UTF-8 */
      "\\x41 stays a backslash and x", /* a literal \x is not touched */
      "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    assert_true(bsl_utf8_is_clean(ok[i], strlen(ok[i])));
    assert_string_equal(clean(ok[i]), ok[i]);
  }
}

static void test_invalid_bytes_escaped(void **state) {
  (void)state;
  assert_string_equal(clean("caf\xe9"), "caf\\xe9");    /* Latin-1 */
  assert_string_equal(clean("\xff\xfe"), "\\xff\\xfe"); /* never */
  assert_string_equal(clean("a\x80z"), "a\\x80z");      /* stray */
  assert_string_equal(clean("\xc0\xaf"), "\\xc0\\xaf"); /* overlong / */
  assert_string_equal(clean("\xc1\xbf"), "\\xc1\\xbf"); /* overlong */
  assert_string_equal(clean("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");
  assert_string_equal(clean("\xf0\x80\x80\xaf"), "\\xf0\\x80\\x80\\xaf");
  assert_string_equal(clean("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* D800 */
  assert_string_equal(clean("\xed\xbf\xbf"), "\\xed\\xbf\\xbf"); /* DFFF */
  assert_string_equal(clean("\xf4\x90\x80\x80"),
                      "\\xf4\\x90\\x80\\x80"); /* 110000 */
  assert_string_equal(clean("\xf5\x80\x80\x80"), "\\xf5\\x80\\x80\\x80");
  /* a sequence cut short, then good text resumes at once */
  assert_string_equal(clean("\xe2\x82z"), "\\xe2\\x82z");
  assert_string_equal(clean("\xe2\x82"), "\\xe2\\x82");
  assert_string_equal(clean("\xc3\xc3\xa9"), "\\xc3\xc3\xa9");
  assert_string_equal(clean("\xf0\x9f\x98\xc3\xa9"), "\\xf0\\x9f\\x98\xc3\xa9");
  assert_false(bsl_utf8_is_clean("caf\xe9", 4));
}

static void test_nul(void **state) {
  (void)state;
  assert_string_equal(clean_n("a\0b", 3), "a\\x00b");
  assert_false(bsl_utf8_is_clean("a\0b", 3));
  assert_int_equal(bsl_utf8_seq_len((const unsigned char *)"\0", 1), 1);
}

/* Every length and position, the short tail of a text included (the last
 * bytes, read as one padded word): one bad byte or NUL makes it unclean. */
static void test_clean_at_every_position(void **state) {
  (void)state;
  char buf[32];
  for (size_t len = 1; len <= 24; len++) {
    memset(buf, 'a', len);
    assert_true(bsl_utf8_is_clean(buf, len));
    for (size_t at = 0; at < len; at++) {
      memset(buf, 'a', len);
      buf[at] = '\xe9'; /* Latin-1, or a sequence cut short at the end */
      assert_false(bsl_utf8_is_clean(buf, len));
      buf[at] = '\0';
      assert_false(bsl_utf8_is_clean(buf, len));
      if (at + 1 < len) { /* a whole sequence anywhere is fine */
        buf[at] = '\xc3', buf[at + 1] = '\xa9';
        assert_true(bsl_utf8_is_clean(buf, len));
      }
    }
  }
}

static void test_seq_len(void **state) {
  (void)state;
  assert_int_equal(bsl_utf8_seq_len((const unsigned char *)"a", 1), 1);
  assert_int_equal(bsl_utf8_seq_len((const unsigned char *)"\xc3\xa9", 2), 2);
  assert_int_equal(bsl_utf8_seq_len((const unsigned char *)"\xc3\xa9", 1), 0);
  assert_int_equal(
      bsl_utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
  assert_int_equal(bsl_utf8_seq_len((const unsigned char *)"\xed\xa0\x80", 3),
                   0);
  assert_int_equal(bsl_utf8_seq_len((const unsigned char *)"\x80", 1), 0);
}

static void test_truncation_keeps_units_whole(void **state) {
  (void)state;
  char out[8];
  memset(out, 'Z', sizeof out);
  /* "ab" + an escape (4) does not fit in 5 bytes with the NUL: dropped */
  assert_int_equal(bsl_utf8_clean("ab\xffz", 4, out, 5), 2);
  assert_string_equal(out, "ab");
  assert_int_equal(out[5], 'Z');
  /* a 2-byte character does not fit in 2 bytes with the NUL */
  assert_int_equal(bsl_utf8_clean("a\xc3\xa9", 3, out, 3), 1);
  assert_string_equal(out, "a");
  assert_int_equal(bsl_utf8_clean("a\xc3\xa9", 3, out, 4), 3);
  assert_string_equal(out, "a\xc3\xa9");
  assert_int_equal(bsl_utf8_clean("abc", 3, out, 1), 0);
  assert_string_equal(out, "");
  /* once something did not fit, what follows is dropped too */
  assert_int_equal(bsl_utf8_clean("a\xffzz", 4, out, 4), 1);
  assert_string_equal(out, "a");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_text_unchanged),
      cmocka_unit_test(test_invalid_bytes_escaped),
      cmocka_unit_test(test_nul),
      cmocka_unit_test(test_clean_at_every_position),
      cmocka_unit_test(test_seq_len),
      cmocka_unit_test(test_truncation_keeps_units_whole),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
