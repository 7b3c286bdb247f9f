/*
 * The syslog listener (see syslog.h): one UDP handle per listening source,
 * each datagram one line.
 */
#include "syslog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bsl_syslog {
  uv_udp_t handle;
  bsl_syslog_line_cb line_cb;
  void *ctx;
  char buf[65536]; /* a datagram's largest payload */
};

const char *bsl_syslog_strip(const char *p, size_t *len) {
  const char *end = p + *len;
  if (p < end && *p == '<') {
    const char *q = memchr(p, '>', (size_t)(end - p));
    if (q && q - p <= 4)
      p = q + 1;
  }
  /* "Nov 26 06:30:00 " */
  if (end - p >= 16 && p[3] == ' ' && p[6] == ' ' && p[9] == ':' &&
      p[12] == ':' && p[15] == ' ')
    p += 16;
  /* hostname, then a tag ending in ':' */
  const char *sp = memchr(p, ' ', (size_t)(end - p));
  if (sp) {
    const char *tag = sp + 1;
    const char *colon = memchr(tag, ':', (size_t)(end - tag));
    const char *space = memchr(tag, ' ', (size_t)(end - tag));
    if (colon && (!space || colon < space) && colon + 1 < end &&
        colon[1] == ' ')
      p = colon + 2;
  }
  while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
    end--;
  *len = (size_t)(end - p);
  return p;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  bsl_syslog *s = h->data;
  *buf = uv_buf_init(s->buf, sizeof s->buf);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags) {
  (void)addr;
  (void)flags;
  bsl_syslog *s = h->data;
  if (nread <= 0)
    return;
  size_t len = (size_t)nread;
  const char *p = bsl_syslog_strip(buf->base, &len);
  bsl_line line = {.ptr = p, .len = len, .kind = BSL_LINE_OK};
  s->line_cb(s->ctx, &line);
}

static void on_close(uv_handle_t *h) {
  free(h->data);
}

int bsl_syslog_start(bsl_syslog **out, uv_loop_t *loop,
                     const bsl_source_conf *src, bsl_syslog_line_cb line_cb,
                     void *ctx, char *err, size_t errlen) {
  *out = NULL;
  char host[256];
  const char *colon = strrchr(src->listen, ':');
  if (!colon) {
    snprintf(err, errlen, "source \"%s\": listen = %s: expected host:port",
             src->name, src->listen);
    return UV_EINVAL;
  }
  int port = atoi(colon + 1);
  snprintf(host, sizeof host, "%.*s", (int)(colon - src->listen), src->listen);
  if (host[0] == '[') {
    memmove(host, host + 1, strlen(host));
    host[strcspn(host, "]")] = '\0';
  }
  struct sockaddr_storage sa;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0) {
    snprintf(err, errlen, "source \"%s\": listen = %s: not an IP address",
             src->name, src->listen);
    return UV_EINVAL;
  }
  bsl_syslog *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return UV_ENOMEM;
  }
  s->line_cb = line_cb;
  s->ctx = ctx;
  int rc = uv_udp_init(loop, &s->handle);
  if (rc != 0) {
    free(s);
    snprintf(err, errlen, "source \"%s\": listen = %s: %s", src->name,
             src->listen, uv_strerror(rc));
    return rc;
  }
  s->handle.data = s;
  rc = uv_udp_bind(&s->handle, (const struct sockaddr *)&sa, 0);
  if (rc == 0)
    rc = uv_udp_recv_start(&s->handle, on_alloc, on_recv);
  if (rc != 0) {
    snprintf(err, errlen, "source \"%s\": listen = %s: %s", src->name,
             src->listen, uv_strerror(rc));
    uv_close((uv_handle_t *)&s->handle, on_close);
    return rc;
  }
  *out = s;
  return 0;
}

void bsl_syslog_close(bsl_syslog *s) {
  if (!s)
    return;
  (void)uv_udp_recv_stop(&s->handle); /* fails only on a closing handle */
  uv_close((uv_handle_t *)&s->handle, on_close);
}

int bsl_syslog_port(const bsl_syslog *s) {
  struct sockaddr_storage sa;
  int len = sizeof sa;
  int rc = uv_udp_getsockname(&s->handle, (struct sockaddr *)&sa, &len);
  if (rc != 0)
    return rc;
  return ntohs(sa.ss_family == AF_INET6
                   ? ((const struct sockaddr_in6 *)&sa)->sin6_port
                   : ((const struct sockaddr_in *)&sa)->sin_port);
}
