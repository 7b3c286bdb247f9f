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

#include "fasthash.h"

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
  /* Derived ahead of the model by the feeder's thread (bsl_hit_derive(),
   * feeder.h), so the model's thread does less per line and the model reads
   * only these; valid when derived is true. */
  bool derived;
  bool is_bot;
  bool is_static;
  unsigned char device; /* enum bsl_device */
  uint64_t identity[2]; /* bsl_hit_identity() */
  /* the beacon's parameters when the path is the beacon path, else NULL */
  const struct bsl_beacon_params *beacon;
} bsl_hit;

/* The client is the first address of a forwarded-for list. */
static inline bsl_str bsl_hit_client(const bsl_hit *hit) {
  bsl_str addr = hit->remote_addr;
  for (size_t i = 0; i < addr.len; i++)
    if (addr.ptr[i] == ',') {
      addr.len = i;
      break;
    }
  return addr;
}

/*
 * A 128-bit digest of the visitor identity (client address, user agent),
 * for in-memory lookups only: two independent 64-bit hashes, so two
 * identities share a digest with odds of about 2^-128.  The visitor key
 * stored anywhere is still the salted SipHash of the bytes (model.c).
 * UA_HASH, when not NULL, gets bsl_hash128() of the user agent.
 */
static inline void bsl_hit_identity(const bsl_hit *hit, uint64_t out[2],
                                    uint64_t ua_hash[2]) {
  bsl_str addr = bsl_hit_client(hit);
  uint64_t u[2], a[2];
  bsl_hash128(hit->user_agent.ptr ? hit->user_agent.ptr : "",
              hit->user_agent.len, u);
  bsl_hash128(addr.ptr ? addr.ptr : "", addr.len, a);
  out[0] = bsl_hash_fmix(u[0] ^ (a[0] * 0x9FB21C651E98DF25ULL));
  out[1] =
      bsl_hash_fmix(u[1] + ((a[1] << 23 | a[1] >> 41) ^ 0xD6E8FEB86659FD93ULL));
  if (ua_hash) {
    ua_hash[0] = u[0];
    ua_hash[1] = u[1];
  }
}

#endif
