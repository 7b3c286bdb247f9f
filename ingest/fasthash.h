/*
 * A fast, unkeyed 64-bit hash for in-memory lookup tables (user-agent
 * cache, aggregate counters, visitor-key cache).  Eight bytes per step,
 * then murmur3's finaliser so every input bit reaches the low bits that
 * pick a slot.  Not for anything an attacker could exploit by colliding:
 * every table that uses it compares the full key after the hash.
 */
#ifndef BSL_FASTHASH_H
#define BSL_FASTHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t bsl_hash_fmix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

/* One pass computing one or two (LANES) independent 64-bit hashes; inlined
 * with a constant LANES, the unused lane costs nothing. */
static inline void bsl_hash_lanes(const void *data, size_t len, uint64_t out[2],
                                  int lanes) {
  const unsigned char *p = data;
  const uint64_t k1 = 0x9E3779B97F4A7C15ULL, k2 = 0xC2B2AE3D27D4EB4FULL;
  uint64_t h1 = len * k1, h2 = ~len * k2;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h1 = (h1 ^ w) * k1;
    h1 = (h1 << 31) | (h1 >> 33);
    if (lanes > 1) {
      h2 = (h2 + w) * k2;
      h2 = (h2 << 27) | (h2 >> 37);
    }
  }
  uint64_t w = 0;
  if (len > i)
    memcpy(&w, p + i, len - i);
  out[0] = bsl_hash_fmix(h1 ^ w);
  if (lanes > 1)
    out[1] = bsl_hash_fmix(h2 + w);
}

/* Two independent 64-bit hashes of DATA; out[0] is bsl_hash64(DATA). */
static inline void bsl_hash128(const void *data, size_t len, uint64_t out[2]) {
  bsl_hash_lanes(data, len, out, 2);
}

static inline uint64_t bsl_hash64(const void *data, size_t len) {
  uint64_t out[2];
  bsl_hash_lanes(data, len, out, 1);
  return out[0];
}

#endif
