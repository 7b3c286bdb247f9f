/*
 * Classification of hits: bots, devices, static files and traffic channels.
 *
 * Rules come from the files shipped in config/defaults/ (embedded in the
 * binary at build time) plus optional user files that extend them.  User-agent
 * results are cached because the same strings repeat endlessly.  A classifier
 * is used by one thread at a time; it owns all its memory.
 */
#ifndef BSL_CLASSIFY_H
#define BSL_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "hit.h"

typedef struct bsl_classifier bsl_classifier;

enum bsl_device {
  BSL_DEVICE_DESKTOP = 0,
  BSL_DEVICE_MOBILE,
  BSL_DEVICE_TABLET
};

enum bsl_channel {
  BSL_CHANNEL_DIRECT = 0,
  BSL_CHANNEL_PAID,
  BSL_CHANNEL_EMAIL,
  BSL_CHANNEL_SOCIAL,
  BSL_CHANNEL_CAMPAIGN,
  BSL_CHANNEL_ORGANIC_SEARCH,
  BSL_CHANNEL_REFERRAL
};

#define BSL_DIM_MAX 256 /* longest source/medium/campaign kept, with NUL */

typedef struct bsl_channel_info {
  enum bsl_channel channel;
  char source[BSL_DIM_MAX];
  char medium[BSL_DIM_MAX];
  char campaign[BSL_DIM_MAX];   /* utm_campaign, decoded and lower-cased */
  char utm_source[BSL_DIM_MAX]; /* decoded utm_source, "" when absent */
  bool has_utm_source;
  bool has_utm_campaign;
} bsl_channel_info;

typedef struct bsl_classifier_options {
  const char *const *static_extensions; /* without dots, e.g. "css" */
  size_t n_static_extensions;
  const char *extra_bot_rules;     /* path or NULL */
  const char *extra_channel_rules; /* path or NULL */
} bsl_classifier_options;

/*
 * Builds a classifier from the embedded default rules plus the optional user
 * rule files.  Errors (unreadable file, bad pattern) return a negative value
 * with "FILE:LINE: reason" in err.  The caller owns *out.
 */
int bsl_classifier_create(bsl_classifier **out,
                          const bsl_classifier_options *opts, char *err,
                          size_t errlen);
void bsl_classifier_destroy(bsl_classifier *c);

/* Bot test and device of a user agent (empty or "-" UA is a bot). */
void bsl_classify_ua(bsl_classifier *c, const char *ua, size_t len,
                     bool *is_bot, enum bsl_device *device);

/* The same with H = bsl_hash128(UA, LEN) already computed. */
void bsl_classify_ua_hashed(bsl_classifier *c, const char *ua, size_t len,
                            const uint64_t h[2], bool *is_bot,
                            enum bsl_device *device);

/* True when PATH ends in one of the static extensions (case-insensitive). */
bool bsl_classify_is_static(const bsl_classifier *c, const char *path,
                            size_t len);

/*
 * Channel, source, medium and campaign of a landing pageview from its query
 * string and referer (SPEC §5).  SITE_HOST is the site's own host (may be
 * NULL or "": then only empty referers are direct).
 */
void bsl_classify_channel(bsl_classifier *c, const bsl_str *query,
                          const bsl_str *referer, const char *site_host,
                          bsl_channel_info *out);

const char *bsl_channel_name(enum bsl_channel ch);
const char *bsl_device_name(enum bsl_device d);

#endif
