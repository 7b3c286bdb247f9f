/*
 * The parsed form of one access-log line, shared by the parsers (format.c)
 * and everything downstream.  A bsl_hit never owns memory: every bsl_str
 * points into the line buffer it was parsed from and is valid only until the
 * reader hands out the next line.
 */
#ifndef BSL_HIT_H
#define BSL_HIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A byte slice; not NUL-terminated.  len == 0 means empty or absent. */
typedef struct bsl_str {
  const char *ptr;
  size_t len;
} bsl_str;

typedef struct bsl_hit {
  bsl_str remote_addr; /* as logged: IP, hostname or forwarded-for list */
  bsl_str method;      /* "GET", ... ; empty when the request is empty or "-" */
  bsl_str path;        /* request target up to '?', as logged (no decoding) */
  bsl_str query;       /* after '?', without the '?'; empty if none */
  bsl_str protocol;    /* "HTTP/1.1"; may be empty */
  bsl_str referer;     /* empty when absent or "-" */
  bsl_str user_agent;  /* empty when absent or "-" */
  bsl_str host;        /* virtual host when the format has one */
  int64_t time;        /* Unix seconds, UTC */
  int64_t bytes;       /* -1 when absent or "-" */
  int status;          /* 100..999, 0 when the format has no status */
  bool has_request;    /* false when the request is "" or "-" (400/408) */
} bsl_hit;

#endif
