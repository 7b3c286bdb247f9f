/*
 * Campaign-log parsers (SPEC §4, type = campaign): turn one raw line into
 * marketing events (sent, delivered, open, click, bounce, unsubscribe, spend).
 *
 * Formats:
 *  - "campaign-csv": timestamp,campaign,event,recipient,url,cost with RFC 4180
 *    quoting ("a, b" and "" inside quotes); a header line is skipped.
 *  - a [format] of type campaign: a PCRE2 regex with the named groups time,
 *    campaign, event, recipient, url, cost (time and event required) and an
 *    optional time_format.
 *  - "sendgrid-json": one SendGrid event-webhook POST body per line (an array
 *    of events or a single event object).
 *  - "mailgun-json": one Mailgun webhook body per line, current
 *    ({"signature":..., "event-data":{...}}) or legacy flat form.
 *
 * A line can carry several events (a webhook body is an array), and each of
 * them is taken or rejected on its own: bsl_campaign_parse() returns a list
 * of items, each an event or a reject with its reason.  The provider's event
 * names are mapped onto SPEC's seven (see the table in campaign.c and the
 * README); events with no SPEC meaning (deferred, group_resubscribe, ...) are
 * rejects that say so.
 *
 * A parser owns its compiled regex, its scratch buffers and the JSON tree of
 * the last line: event slices point into the line or into those and are
 * valid until the next call.  One parser is used by one thread at a time.
 * Memory is allocated at creation and grown only when a line carries more
 * events than any line before it.
 */
#ifndef BSL_CAMPAIGN_H
#define BSL_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hit.h" /* bsl_str */

typedef enum bsl_campaign_kind {
  BSL_CEV_SENT = 0,
  BSL_CEV_DELIVERED,
  BSL_CEV_OPEN,
  BSL_CEV_CLICK,
  BSL_CEV_BOUNCE,
  BSL_CEV_UNSUBSCRIBE,
  BSL_CEV_SPEND,
  BSL_CEV_COUNT
} bsl_campaign_kind;

typedef struct bsl_campaign_event {
  int64_t time; /* Unix seconds, UTC */
  bsl_campaign_kind kind;
  bsl_str campaign;    /* as logged; may be empty (no campaign given) */
  bsl_str recipient;   /* address or hash as logged; may be empty */
  bsl_str url;         /* clicked link; may be empty */
  int64_t cost_micros; /* cost in millionths of a currency unit; 0 if none */
  bool machine;        /* the provider flagged it as machine activity
                          (SendGrid sg_machine_open) */
} bsl_campaign_event;

#define BSL_CAMPAIGN_REASON_MAX 128

typedef struct bsl_campaign_item {
  bool ok;                              /* false: a rejected event */
  char reason[BSL_CAMPAIGN_REASON_MAX]; /* why, when !ok */
  bsl_campaign_event ev;                /* when ok */
} bsl_campaign_item;

typedef struct bsl_campaign_parser bsl_campaign_parser;

/* True for the built-in campaign formats ("campaign-csv", "sendgrid-json",
 * "mailgun-json"). */
bool bsl_campaign_is_builtin(const char *name);

/*
 * Creates the parser called NAME.  For a built-in, regex and time_format
 * must be NULL; for a [format], regex is required (it must have the named
 * groups time and event) and time_format is optional (NULL: ISO 8601 or the
 * common log time).  Returns 0, or -1 with a one-line reason in err.  The
 * caller owns *out and frees it with bsl_campaign_destroy().
 */
int bsl_campaign_create(bsl_campaign_parser **out, const char *name,
                        const char *regex, const char *time_format, char *err,
                        size_t errlen);

/* Frees P; NULL is a no-op. */
void bsl_campaign_destroy(bsl_campaign_parser *p);

/*
 * Parses LINE (LEN bytes, no terminator; may hold NUL and invalid UTF-8).
 * Returns:
 *   0  with *items / *n_items (n >= 1) set: each item an event or a reject;
 *   1  the line is a header (campaign-csv) and carries no event;
 *  -1  the whole line is a reject, *reason says why (valid until the next
 *      call).
 * The items array belongs to the parser.
 */
int bsl_campaign_parse(bsl_campaign_parser *p, const char *line, size_t len,
                       const bsl_campaign_item **items, size_t *n_items,
                       const char **reason);

/*
 * Parses a decimal amount such as "12", "-3.5" or "0.125" (at most six
 * decimals kept, the rest truncated) into millionths.  Returns 0, or -1 when
 * TEXT is not a plain number or is out of range (|x| >= 9e12).
 */
int bsl_campaign_parse_cost(const char *text, size_t len, int64_t *micros);

#endif
