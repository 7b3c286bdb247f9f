/*
 * Campaign funnel aggregation (SPEC §6 campaigns_daily): counts campaign
 * events per day (in the configured zone) and campaign, unique opens and
 * clicks per recipient, and sets apart the opens and clicks of machines
 * (security scanners, privacy proxies).
 *
 * Machine-activity rule (documented in the README too):
 *  1. an open the provider flags as a machine open (SendGrid
 *     sg_machine_open, e.g. Apple Mail Privacy Protection) is a machine open;
 *  2. a click at most BSL_MACHINE_CLICK_DELAY seconds after the delivery of
 *     the same campaign to the same recipient is a machine click (link
 *     scanners follow every link as the message arrives);
 *  3. two clicks of the same campaign and recipient on different URLs at
 *     most BSL_MACHINE_CLICK_BURST second apart are both machine clicks (no
 *     person clicks two links within a second; a scanner clicks them all) -
 *     a click already counted as human is moved to machine_clicks.
 * Machine opens and clicks count only in machine_opens / machine_clicks, not
 * in opens, clicks, the unique counts or the rates.  Events without a
 * recipient count in the totals but cannot be unique nor machine by rules
 * 2-3.
 *
 * Campaign names are keyed as utm_campaign is for visits: percent-decoded,
 * '+' read as space, ASCII lower-cased, cut at 255 bytes.  Recipients are
 * kept only as a keyed 64-bit hash (BLAKE2b, key stored in the database),
 * ASCII lower-cased first.
 *
 * Memory: counter deltas live until the next flush; the per-recipient state
 * of the machine rule is forgotten BSL_MACHINE_STATE_TTL seconds (event
 * time) after the recipient's last event.  Flushing is two-phase like the
 * model's: bsl_funnel_flush_into a changeset, committed by the caller, then
 * bsl_funnel_flush_done once it is committed; skip flush_done after a
 * failed commit and the next flush writes the same deltas again.  The state
 * of the machine rule is saved in the same transaction and reloaded at
 * creation.  The module borrows the store.
 */
#ifndef BSL_FUNNEL_H
#define BSL_FUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "campaign.h"
#include "store.h"
#include "store_campaign.h"

#define BSL_MACHINE_CLICK_DELAY 10 /* seconds after delivery */
#define BSL_MACHINE_CLICK_BURST 1  /* seconds between clicks on two links */
#define BSL_MACHINE_STATE_TTL 900  /* seconds of event time */
#define BSL_CAMPAIGN_NAME_MAX 256  /* with the NUL, like BSL_DIM_MAX */

typedef struct bsl_funnel bsl_funnel;

typedef struct bsl_funnel_options {
  /* Day (YYYY-MM-DD) of Unix time T in the configured zone. */
  void (*day_of)(void *ctx, int64_t t, char out[11]);
  void *day_ctx;
  bsl_store *store; /* borrowed */
} bsl_funnel_options;

/*
 * Creates the aggregator, loading the recipient key and the machine-rule
 * state from the store (opens its own transaction: call outside one).
 * Returns 0, or -1 with a message in err.  The caller owns *out.
 */
int bsl_funnel_create(bsl_funnel **out, const bsl_funnel_options *o, char *err,
                      size_t errlen);
void bsl_funnel_destroy(bsl_funnel *c);

/* Accounts one event.  Returns 0, or -1 when out of memory (the event is
 * not counted). */
int bsl_funnel_add(bsl_funnel *c, const bsl_campaign_event *ev);

/* Records the pending changes into CS, as a snapshot applied with it (the
 * changeset owns the snapshot).  Returns 0, or -1 when out of memory.  Call
 * bsl_funnel_flush_done() once CS is committed. */
struct bsl_changeset;
int bsl_funnel_flush_into(bsl_funnel *c, struct bsl_changeset *cs);

/* Forgets what the last flush wrote, once committed; drops expired state. */
void bsl_funnel_flush_done(bsl_funnel *c);

/* Pending (not yet flushed) counters of DAY and CAMPAIGN (normalised name);
 * false when there are none.  For tests and diagnostics. */
bool bsl_funnel_pending(const bsl_funnel *c, const char *day,
                        const char *campaign, bsl_campaign_counts *out);

/* Recipients whose machine-rule state is held in memory. */
size_t bsl_funnel_tracked(const bsl_funnel *c);

/* Normalises a campaign name as above into OUT (NUL-terminated). */
void bsl_campaign_name_normalize(const char *s, size_t len,
                                 char out[BSL_CAMPAIGN_NAME_MAX]);

#endif
