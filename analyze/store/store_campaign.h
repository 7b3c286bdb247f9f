/*
 * Store operations of the campaign-log feature (the SQL lives in
 * store_campaign.c and store_campaign_sql.h).  Same rules as store.h: writes
 * happen inside the caller's transaction, 0 or -1 with bsl_store_error() set,
 * strings are copied by SQLite.
 */
#ifndef BSL_STORE_CAMPAIGN_H
#define BSL_STORE_CAMPAIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* Counters of one day and campaign (also used as deltas, which may be
 * negative when a click is reclassified as machine activity). */
typedef struct bsl_campaign_counts {
  int64_t sent, delivered, opens, clicks, bounces, unsubscribes;
  int64_t spend_micros; /* millionths of a currency unit */
  int64_t machine_opens, machine_clicks;
} bsl_campaign_counts;

/* Adds DELTA to the counters of (DAY, CAMPAIGN). */
int bsl_store_campaign_add(bsl_store *s, const char *day, const char *campaign,
                           const bsl_campaign_counts *delta);

/* Adds human opens and clicks of one recipient (a keyed hash). */
int bsl_store_campaign_recipient_add(bsl_store *s, const char *day,
                                     const char *campaign, int64_t recipient,
                                     int64_t opens, int64_t clicks);

/* What the machine-activity rule keeps per (campaign, recipient).  Times
 * are Unix seconds; INT64_MIN means none. */
typedef struct bsl_campaign_state_row {
  const char *campaign;
  int64_t recipient;
  int64_t delivered_at, click_at;
  int64_t click_url; /* hash of the last clicked URL */
  const char *click_day;
  bool click_human; /* the last click was counted as human */
  int64_t seen;     /* last event of this recipient */
} bsl_campaign_state_row;

int bsl_store_campaign_state_put(bsl_store *s, const bsl_campaign_state_row *r);
int bsl_store_campaign_state_delete(bsl_store *s, const char *campaign,
                                    int64_t recipient);
/* Calls CB for every saved state row (strings valid during the call). */
int bsl_store_campaign_state_load(bsl_store *s,
                                  void (*cb)(void *ctx,
                                             const bsl_campaign_state_row *r),
                                  void *ctx);

/*
 * The database's key for hashing recipients (16 bytes), created at random
 * on first use in its own transaction: call outside a transaction.
 */
int bsl_store_campaign_key(bsl_store *s, uint8_t key[16]);

#endif
