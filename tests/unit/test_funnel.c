/*
 * Unit tests of the campaign aggregation (analyze/model/funnel.c): counters per
 * day and campaign, name normalisation, unique opens/clicks, each branch of
 * the machine-activity rule (including a click demoted after it was
 * committed), state expiry, state surviving a restart, and a failed commit
 * retried without double counting.  Checked in memory and with plain SQL
 * on campaigns_daily.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changeset.h"
#include "funnel.h"
#include "store.h"

static char dir[] = "/tmp/bsl-campaigns-XXXXXX";
static char db_path[256];
static bsl_store *store;

static void utc_day(void *ctx, int64_t t, char out[11]) {
  (void)ctx;
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, 11, "%Y-%m-%d", &tm);
}

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/bsl-campaigns-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(db_path, sizeof db_path, "%s/t.db", dir);
  char err[256];
  return bsl_store_open(&store, db_path, err, sizeof err);
}

static int teardown(void **state) {
  (void)state;
  bsl_store_close(store);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static bsl_funnel *make(void) {
  bsl_funnel *c = NULL;
  char err[256];
  bsl_funnel_options o = {.day_of = utc_day, .store = store};
  assert_int_equal(bsl_funnel_create(&c, &o, err, sizeof err), 0);
  return c;
}

/* The production path: the pending changes into a changeset, committed in
 * one transaction, then forgotten. */
static void commit(bsl_funnel *c) {
  bsl_changeset *cs = bsl_changeset_create();
  assert_non_null(cs);
  assert_int_equal(bsl_funnel_flush_into(c, cs), 0);
  assert_int_equal(bsl_store_commit_changeset(store, cs), 0);
  bsl_funnel_flush_done(c);
  bsl_changeset_destroy(cs);
}

#define T0 1793613600 /* 2026-11-02T10:00:00Z */

static void add(bsl_funnel *c, int64_t t, bsl_campaign_kind kind,
                const char *campaign, const char *rcpt, const char *url,
                bool machine) {
  bsl_campaign_event ev = {
      .time = t,
      .kind = kind,
      .campaign = {campaign, strlen(campaign)},
      .recipient = {rcpt, strlen(rcpt)},
      .url = {url, strlen(url)},
      .machine = machine,
  };
  if (kind == BSL_CEV_SPEND)
    ev.cost_micros = 2500000;
  assert_int_equal(bsl_funnel_add(c, &ev), 0);
}

/* One row of campaigns_daily as "col|col|..." for (day, campaign). */
static void row(const char *day, const char *campaign, char *out, size_t cap) {
  sqlite3 *db;
  sqlite3_stmt *st;
  out[0] = '\0';
  assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "SELECT sent, delivered, opens, clicks, bounces,"
                         " unsubscribes, spend, unique_opens, unique_clicks,"
                         " machine_opens, machine_clicks FROM campaigns_daily"
                         " WHERE day = ?1 AND campaign = ?2",
                         -1, &st, NULL),
      SQLITE_OK);
  sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, campaign, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    size_t n = 0;
    for (int i = 0; i < 11 && n < cap; i++)
      n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "|" : "",
                            (const char *)sqlite3_column_text(st, i));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void test_normalize(void **state) {
  (void)state;
  char out[BSL_CAMPAIGN_NAME_MAX];
  bsl_campaign_name_normalize("Nov%20Promo+2026", 16, out);
  assert_string_equal(out, "nov promo 2026");
  bsl_campaign_name_normalize("50%", 3, out);
  assert_string_equal(out, "50%");
  bsl_campaign_name_normalize("a%zzB", 5, out);
  assert_string_equal(out, "a%zzb");
  /* the text rule (utf8.h): %00 stays as written, invalid bytes \xHH */
  bsl_campaign_name_normalize("x%00y", 5, out);
  assert_string_equal(out, "x%00y");
  bsl_campaign_name_normalize("Pro%FFmo\xe9", 9, out);
  assert_string_equal(out, "pro\\xffmo\\xe9");
  char big[600];
  memset(big, 'A', sizeof big);
  bsl_campaign_name_normalize(big, sizeof big, out);
  assert_int_equal(strlen(out), BSL_CAMPAIGN_NAME_MAX - 1);
  assert_int_equal(out[0], 'a');
}

static void test_counts_and_unique(void **state) {
  (void)state;
  bsl_funnel *c = make();
  add(c, T0, BSL_CEV_SENT, "Nov%20Promo", "a@x.org", "", false);
  add(c, T0, BSL_CEV_SENT, "nov promo", "b@x.org", "", false);
  add(c, T0 + 1, BSL_CEV_DELIVERED, "NOV PROMO", "a@x.org", "", false);
  add(c, T0 + 1, BSL_CEV_BOUNCE, "Nov Promo", "b@x.org", "", false);
  /* a opens three times (one unique), once more in another case */
  add(c, T0 + 600, BSL_CEV_OPEN, "Nov Promo", "a@x.org", "", false);
  add(c, T0 + 700, BSL_CEV_OPEN, "Nov Promo", "A@X.org", "", false);
  add(c, T0 + 800, BSL_CEV_OPEN, "Nov Promo", "a@x.org", "", false);
  /* an anonymous open counts but is not unique; a machine open apart */
  add(c, T0 + 900, BSL_CEV_OPEN, "Nov Promo", "", "", false);
  add(c, T0 + 901, BSL_CEV_OPEN, "Nov Promo", "c@x.org", "", true);
  add(c, T0 + 1000, BSL_CEV_CLICK, "Nov Promo", "a@x.org", "https://x/1",
      false);
  add(c, T0 + 1100, BSL_CEV_UNSUBSCRIBE, "Nov Promo", "a@x.org", "", false);
  add(c, T0 + 1200, BSL_CEV_SPEND, "Nov Promo", "", "", false);
  /* the next day (UTC) */
  add(c, T0 + 14 * 3600, BSL_CEV_OPEN, "Nov Promo", "a@x.org", "", false);

  bsl_campaign_counts k;
  assert_true(bsl_funnel_pending(c, "2026-11-02", "nov promo", &k));
  assert_int_equal(k.sent, 2);
  assert_int_equal(k.opens, 4);
  assert_int_equal(k.machine_opens, 1);
  assert_false(bsl_funnel_pending(c, "2026-11-02", "Nov Promo", &k));
  commit(c);
  assert_false(bsl_funnel_pending(c, "2026-11-02", "nov promo", &k));
  char got[256];
  /* sent delivered opens clicks bounces unsubs spend uopens uclicks mopens
   * mclicks */
  row("2026-11-02", "nov promo", got, sizeof got);
  assert_string_equal(got, "2|1|4|1|1|1|2.5|1|1|1|0");
  row("2026-11-03", "nov promo", got, sizeof got);
  assert_string_equal(got, "0|0|1|0|0|0|0.0|1|0|0|0");
  /* the same recipient later the same day stays one unique open */
  add(c, T0 + 2000, BSL_CEV_OPEN, "Nov Promo", "a@x.org", "", false);
  add(c, T0 + 2000, BSL_CEV_OPEN, "Nov Promo", "d@x.org", "", false);
  commit(c);
  row("2026-11-02", "nov promo", got, sizeof got);
  assert_string_equal(got, "2|1|6|1|1|1|2.5|2|1|1|0");
  bsl_funnel_destroy(c);
}

static void test_machine_clicks(void **state) {
  (void)state;
  bsl_funnel *c = make();
  char got[256];
  /* r1: clicked 10 s after delivery -> machine; 11 s -> human (r2) */
  add(c, T0, BSL_CEV_DELIVERED, "m", "r1", "", false);
  add(c, T0 + 10, BSL_CEV_CLICK, "m", "r1", "https://x/1", false);
  add(c, T0, BSL_CEV_DELIVERED, "m", "r2", "", false);
  add(c, T0 + 11, BSL_CEV_CLICK, "m", "r2", "https://x/1", false);
  /* r3: a human click, committed; then a second link 1 s later: both are
   * machine, the first moved out of clicks and unique_clicks */
  add(c, T0 + 100, BSL_CEV_CLICK, "m", "r3", "https://x/1", false);
  commit(c);
  row("2026-11-02", "m", got, sizeof got);
  assert_string_equal(got, "0|2|0|2|0|0|0.0|0|2|0|1");
  add(c, T0 + 101, BSL_CEV_CLICK, "m", "r3", "https://x/2", false);
  add(c, T0 + 101, BSL_CEV_CLICK, "m", "r3", "https://x/3", false);
  commit(c);
  row("2026-11-02", "m", got, sizeof got);
  assert_string_equal(got, "0|2|0|1|0|0|0.0|0|1|0|4");
  /* r4: the same link twice within a second stays human (a double click);
   * two links 2 s apart are human */
  add(c, T0 + 200, BSL_CEV_CLICK, "m", "r4", "https://x/1", false);
  add(c, T0 + 200, BSL_CEV_CLICK, "m", "r4", "https://x/1", false);
  add(c, T0 + 202, BSL_CEV_CLICK, "m", "r4", "https://x/2", false);
  /* r5: the click arrives before its delivery (out of order) */
  add(c, T0 + 305, BSL_CEV_CLICK, "m", "r5", "https://x/1", false);
  add(c, T0 + 300, BSL_CEV_DELIVERED, "m", "r5", "", false);
  /* anonymous clicks cannot be judged: human */
  add(c, T0 + 400, BSL_CEV_CLICK, "m", "", "https://x/1", false);
  add(c, T0 + 400, BSL_CEV_CLICK, "m", "", "https://x/2", false);
  commit(c);
  row("2026-11-02", "m", got, sizeof got);
  assert_string_equal(got, "0|3|0|6|0|0|0.0|0|2|0|5");
  bsl_funnel_destroy(c);
}

static void test_state_expires_and_survives_restart(void **state) {
  (void)state;
  bsl_funnel *c = make();
  char got[256];
  add(c, T0, BSL_CEV_DELIVERED, "s", "r1", "", false);
  add(c, T0, BSL_CEV_DELIVERED, "s", "r2", "", false);
  commit(c);
  assert_int_equal(bsl_funnel_tracked(c), 2);
  bsl_funnel_destroy(c);
  /* a restart: the delivery of r1 is remembered */
  c = make();
  assert_int_equal(bsl_funnel_tracked(c), 2);
  add(c, T0 + 5, BSL_CEV_CLICK, "s", "r1", "https://x/1", false);
  commit(c);
  row("2026-11-02", "s", got, sizeof got);
  assert_string_equal(got, "0|2|0|0|0|0|0.0|0|0|0|1");
  /* an event past the TTL expires both (the newest is kept) */
  add(c, T0 + BSL_MACHINE_STATE_TTL + 10, BSL_CEV_DELIVERED, "s", "r3", "",
      false);
  commit(c);
  assert_int_equal(bsl_funnel_tracked(c), 1);
  bsl_funnel_destroy(c);
  c = make();
  assert_int_equal(bsl_funnel_tracked(c), 1);
  bsl_funnel_destroy(c);
}

static void test_failed_commit_retried(void **state) {
  (void)state;
  bsl_funnel *c = make();
  char got[256];
  add(c, T0, BSL_CEV_SENT, "f", "r1", "", false);
  add(c, T0 + 50, BSL_CEV_OPEN, "f", "r1", "", false);
  bsl_changeset *lost = bsl_changeset_create();
  assert_non_null(lost);
  assert_int_equal(bsl_funnel_flush_into(c, lost), 0);
  assert_int_equal(bsl_store_begin(store), 0);
  assert_int_equal(bsl_store_apply(store, lost), 0);
  bsl_store_rollback(store); /* the commit failed: no flush_done */
  bsl_changeset_destroy(lost);
  add(c, T0 + 60, BSL_CEV_OPEN, "f", "r1", "", false);
  commit(c);
  row("2026-11-02", "f", got, sizeof got);
  assert_string_equal(got, "1|0|2|0|0|0|0.0|1|0|0|0");
  commit(c); /* nothing pending: nothing added */
  row("2026-11-02", "f", got, sizeof got);
  assert_string_equal(got, "1|0|2|0|0|0|0.0|1|0|0|0");
  bsl_funnel_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normalize),
      cmocka_unit_test_setup_teardown(test_counts_and_unique, setup, teardown),
      cmocka_unit_test_setup_teardown(test_machine_clicks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_state_expires_and_survives_restart,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_commit_retried, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
