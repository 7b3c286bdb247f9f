/*
 * Unit tests for ingest/syslog.c: RFC 3164 header stripping (full header,
 * parts missing, no header, line ends), refused listen addresses, and a
 * datagram sent to a listener on 127.0.0.1 arriving as one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "syslog.h"

static const char LINE[] =
    "203.0.113.9 - - [26/Nov/2026:06:30:00 +0000] \"GET / HTTP/1.1\" 200 5 "
    "\"-\" \"curl/8\"";

static void expect_strip(const char *in, const char *want) {
  size_t len = strlen(in);
  const char *p = bsl_syslog_strip(in, &len);
  char got[512];
  snprintf(got, sizeof got, "%.*s", (int)len, p);
  assert_string_equal(got, want);
}

static void test_strip(void **state) {
  (void)state;
  char in[512];
  /* what nginx sends */
  snprintf(in, sizeof in, "<190>Nov 26 06:30:00 web1 nginx: %s", LINE);
  expect_strip(in, LINE);
  /* line ends go */
  snprintf(in, sizeof in, "<190>Nov 26 06:30:00 web1 nginx: %s\r\n", LINE);
  expect_strip(in, LINE);
  /* no priority */
  snprintf(in, sizeof in, "Nov  6 06:30:00 web1 nginx: %s", LINE);
  expect_strip(in, LINE);
  /* no timestamp */
  snprintf(in, sizeof in, "<13>web1 access: %s", LINE);
  expect_strip(in, LINE);
  /* no header at all: the access line's first space is followed by "-",
   * not by a tag ending in ": " */
  expect_strip(LINE, LINE);
  /* a priority too long to be one is kept */
  expect_strip("<123456>x", "<123456>x");
  expect_strip("", "");
  expect_strip("<1>", "");
}

static void test_bad_listen(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  char err[256];
  bsl_syslog *s;
  bsl_source_conf src = {.name = "www", .listen = "127.0.0.1"};
  assert_true(bsl_syslog_start(&s, &loop, &src, NULL, NULL, err, sizeof err) <
              0);
  assert_non_null(strstr(err, "expected host:port"));
  src.listen = "not-an-ip:514";
  assert_true(bsl_syslog_start(&s, &loop, &src, NULL, NULL, err, sizeof err) <
              0);
  assert_non_null(strstr(err, "source \"www\""));
  assert_non_null(strstr(err, "not an IP address"));
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

typedef struct got {
  char line[512];
  int n;
} got;

static void on_line(void *ctx, const bsl_line *line) {
  got *g = ctx;
  snprintf(g->line, sizeof g->line, "%.*s", (int)line->len, line->ptr);
  g->n++;
}

static void on_send(uv_udp_send_t *req, int status) {
  assert_int_equal(status, 0);
  uv_close((uv_handle_t *)req->handle, NULL);
}

static void on_deadline(uv_timer_t *t) {
  (void)t;
}

static void test_datagram(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  char err[256];
  got g = {0};
  bsl_syslog *s;
  bsl_source_conf src = {.name = "www", .listen = "127.0.0.1:0"};
  assert_int_equal(
      bsl_syslog_start(&s, &loop, &src, on_line, &g, err, sizeof err), 0);
  int port = bsl_syslog_port(s);
  assert_true(port > 0);

  uv_udp_t out;
  assert_int_equal(uv_udp_init(&loop, &out), 0);
  struct sockaddr_in to;
  assert_int_equal(uv_ip4_addr("127.0.0.1", port, &to), 0);
  char msg[512];
  snprintf(msg, sizeof msg, "<190>Nov 26 06:30:00 web1 nginx: %s\n", LINE);
  uv_buf_t buf = uv_buf_init(msg, (unsigned)strlen(msg));
  uv_udp_send_t req;
  assert_int_equal(
      uv_udp_send(&req, &out, &buf, 1, (const struct sockaddr *)&to, on_send),
      0);
  uv_timer_t deadline; /* a lost datagram fails the test, not hangs it */
  assert_int_equal(uv_timer_init(&loop, &deadline), 0);
  assert_int_equal(uv_timer_start(&deadline, on_deadline, 5000, 0), 0);
  while (g.n == 0 && uv_is_active((uv_handle_t *)&deadline))
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&deadline, NULL);
  assert_int_equal(g.n, 1);
  assert_string_equal(g.line, LINE);
  bsl_syslog_close(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strip),
      cmocka_unit_test(test_bad_listen),
      cmocka_unit_test(test_datagram),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
