#!/usr/bin/env bash
# Campaign logs end to end (SPEC §4, §6 campaigns_daily): campaign-csv, a
# [format] regex, SendGrid and Mailgun webhook bodies, plus an access log
# whose visits carry utm_campaign and reach a goal.  Every campaigns_daily
# column is checked against values worked out by hand below; malformed lines
# are rejects with reasons and lose nothing around them; re-ingesting adds
# nothing; every real payload of $BSL_SHARED_DATA/email_events either becomes
# the right events or is a counted reject with its reason.
source "$(dirname "$0")/lib.sh"

FF='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
GBOT='Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
S=https://www.example.com
# L IP DAY TIME REQUEST REFERER UA
L() { printf '%s - - [%s/Nov/2026:%s +0000] "%s" 200 512 "%s" "%s"\n' "$1" "$2" "$3" "$4" "$5" "$6"; }

# The zone is +01:00: 2026-11-02T23:30Z is already the 3rd.
CONF=$WORK/boussole.conf
cat > "$CONF" <<CONF
[boussole]
db = $WORK/b.db
timezone = +01:00
[goal "signup"]
path = ^/thank-you
[source "web"]
path = $WORK/access.log
site = www.example.com
[source "csv"]
path = $WORK/campaign*.csv
type = campaign
[source "sg"]
path = $WORK/sg.jsonl
format = sendgrid-json
[source "mg"]
path = $WORK/mg.jsonl
format = mailgun-json
[format "adlog"]
type = campaign
regex = ^(?<time>\S+ \S+ \S+) campaign=(?<campaign>\S+) (?<event>\w+)(?: cost=(?<cost>\S+))?$
time_format = %Y-%m-%d %H:%M:%S %z
[source "ads"]
path = $WORK/ads.log
format = adlog
CONF
DB=$WORK/b.db

# ---- campaign-csv: "Nov Promo" (decoded + lower-cased: "nov promo") ----
cat > "$WORK/campaign.csv" <<'CSV'
timestamp,campaign,event,recipient,url,cost
2026-11-02T08:00:00Z,Nov%20Promo,sent,a@x.org,,
2026-11-02T08:00:00Z,Nov Promo,sent,b@x.org,,
2026-11-02T08:00:00Z,Nov Promo,sent,c@x.org,,
2026-11-02T08:00:00Z,Nov Promo,sent,d@x.org,,
2026-11-02T08:00:05Z,Nov Promo,delivered,a@x.org,,
2026-11-02T08:00:05Z,Nov Promo,delivered,b@x.org,,
2026-11-02T08:00:05Z,Nov Promo,delivered,d@x.org,,
2026-11-02T08:00:06Z,Nov Promo,bounce,c@x.org,,
2026-11-02T08:00:08Z,Nov Promo,click,a@x.org,https://www.example.com/landing,
2026-11-02T09:00:00Z,NOV PROMO,open,a@x.org,,
2026-11-02T09:05:00Z,Nov Promo,open,A@X.ORG,,
this line is not a campaign event
2026-11-02T09:06:00Z,Nov Promo,click,a@x.org,https://www.example.com/landing,
2026-11-02T09:10:00Z,Nov Promo,open,b@x.org,,
2026-11-02T09:20:00Z,Nov Promo,unsubscribe,b@x.org,,
2026-11-02T10:00:00Z,Nov Promo,click,d@x.org,https://www.example.com/landing,
2026-11-02T10:00:01Z,Nov Promo,click,d@x.org,https://www.example.com/pricing,
2026-11-02T12:30:00Z,Nov Promo,forwarded,a@x.org,,
2026-11-02T12:00:00Z,Nov Promo,spend,,,30.00
2026-11-02T12:00:00Z,"Nov Promo",spend,,,"12.5"
yesterday,Nov Promo,open,a@x.org,,
2026-11-02T23:30:00Z,nov promo,open,e@x.org,,
CSV
# nov promo, 2026-11-02:
#   sent 4 (a b c d); delivered 3 (a b d); bounces 1 (c); unsubscribes 1 (b)
#   opens 3 (a twice - A@X.ORG is a - and b), unique_opens 2 (a, b)
#   clicks: a 08:00:08 is 3 s after its delivery -> machine; a 09:06 human;
#   d 10:00:00 and 10:00:01 are two links within 1 s -> both machine
#   => clicks 1, unique_clicks 1, machine_clicks 3, machine_opens 0
#   spend 30 + 12.5 = 42.5
# nov promo, 2026-11-03 (23:30Z is 00:30 at +01:00): opens 1, unique_opens 1
# rejects: line 13 (too few fields), line 19 (unknown event), line 22 (bad
# timestamp): 3; hits 23 lines - header - 3 = 19

# ---- SendGrid: "Spring Sale" (marketing_campaign_name and a category) ----
{
  # processed + delivered + an Apple MPP machine open for r1; r2 deferred
  echo '[{"email":"r1@x.org","timestamp":1793610000,"event":"processed","marketing_campaign_name":"Spring Sale"},{"email":"r1@x.org","timestamp":1793610002,"event":"delivered","marketing_campaign_name":"Spring Sale"},{"email":"r1@x.org","timestamp":1793610060,"event":"open","sg_machine_open":true,"marketing_campaign_name":"Spring Sale"},{"email":"r2@x.org","timestamp":1793610000,"event":"deferred","marketing_campaign_name":"Spring Sale","attempt":"1"}]'
  echo '{"event": "open", "timestamp": '
  # capitalised event, string timestamp, category array (first element)
  echo '[{"event":"Processed","timestamp":"1793610000","email":"r2@x.org","category":["Spring%20Sale","x"]}]'
  echo '[{"event":"open","timestamp":1793613500,"email":"r1@x.org","marketing_campaign_name":"Spring Sale"}]'
  echo '[{"event":"click","timestamp":1793613600,"email":"r1@x.org","url":"https://www.example.com/landing","marketing_campaign_name":"Spring Sale"}]'
} > "$WORK/sg.jsonl"
# spring sale, 2026-11-02: sent 2, delivered 1, opens 1 (unique 1),
# machine_opens 1, clicks 1 (unique 1, an hour after delivery: human)
# rejects: deferred, bad JSON -> 2; hits 6

# ---- Mailgun: "Autumn" (event-data campaigns, legacy tag) ----
{
  echo '{"signature":{"timestamp":"1793610000"},"event-data":{"event":"delivered","timestamp":1793610000.5,"recipient":"r9@x.org","campaigns":[{"id":"a1","name":"Autumn"}]}}'
  echo '{"event-data":{"event":"failed","severity":"temporary","timestamp":1793610001,"recipient":"r8@x.org","campaigns":[{"name":"Autumn"}]}}'
  echo '{"event-data":{"event":"failed","severity":"permanent","timestamp":1793610002,"recipient":"r8@x.org","campaigns":[{"name":"Autumn"}]}}'
  echo '{"event":"complained","recipient":"r9@x.org","timestamp":"1793620000","tag":["Autumn"]}'
} > "$WORK/mg.jsonl"
# autumn, 2026-11-02: delivered 1, bounces 1, unsubscribes 1; 1 reject

# ---- the ad platform, through the [format] regex ----
cat > "$WORK/ads.log" <<'ADS'
2026-11-02 10:00:00 +0000 campaign=brand_search spend cost=20
2026-11-02 11:00:00 +0000 campaign=brand_search click
2026-11-02 11:00:00 +0000 campaign=brand_search
2026-11-03 10:00:00 +0000 campaign=Brand_Search spend cost=5.25
ADS
# brand_search: 2026-11-02 clicks 1 (no recipient: not unique), spend 20;
# 2026-11-03 spend 5.25; 1 reject (no match)

# ---- site visits ----
{
  L 1.1.1.1 02 10:00:00 "GET /landing?utm_source=newsletter&utm_medium=email&utm_campaign=Nov%20Promo HTTP/1.1" - "$FF"
  L 1.1.1.1 02 10:01:00 "GET /thank-you HTTP/1.1" "$S/landing" "$FF"
  L 2.2.2.2 02 11:00:00 "GET /landing?utm_campaign=NOV+PROMO HTTP/1.1" - "$FF"
  L 3.3.3.3 02 12:00:00 "GET /landing?utm_campaign=spring%20sale HTTP/1.1" - "$FF"
  L 3.3.3.3 02 12:02:00 "GET /thank-you HTTP/1.1" "$S/landing" "$FF"
  L 4.4.4.4 02 13:00:00 "GET /landing?utm_source=google&utm_medium=cpc&utm_campaign=brand_search HTTP/1.1" - "$FF"
  L 4.4.4.4 02 13:05:00 "GET /thank-you HTTP/1.1" "$S/landing" "$FF"
  L 5.5.5.5 02 13:10:00 "GET /landing?utm_campaign=brand_search HTTP/1.1" - "$FF"
  L 7.7.7.7 02 14:00:00 "GET /landing?utm_campaign=other HTTP/1.1" - "$FF"
  L 9.9.9.9 02 14:00:00 "GET /landing?utm_campaign=Nov%20Promo HTTP/1.1" - "$GBOT"
  L 6.6.6.6 04 10:00:00 "GET /landing?utm_campaign=nov%20promo HTTP/1.1" - "$FF"
} > "$WORK/access.log"
# visits: nov promo 11-02: 2 (1.1.1.1 converts, 2.2.2.2 not; the bot is
# no visit) -> cost_per_conversion 42.5; 11-04: 1 visit, no campaign events
# spring sale 11-02: 1 visit, 1 conversion, spend 0 -> cost 0.0
# brand_search 11-02: 2 visits, 1 conversion -> 20.0 per conversion
# "other" is no campaign of the logs: no row

"$BOUSSOLE" ingest -c "$CONF" > "$WORK/out.txt" 2> "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; echo "ingest failed"; exit 1; }
# lines 23 + 5 + 4 + 4 + 11 = 47; hits 19 + 6 + 3 + 3 + 11 = 42;
# rejects 3 + 2 + 1 + 1 + 0 = 7
expect_eq "summary" "$(grep -c '5 files read, 0 unchanged, 0 failed: 47 lines, 42 hits, 7 rejects' "$WORK/out.txt")" 1

COLS="day, campaign, sent, delivered, opens, clicks, bounces, unsubscribes, spend, visits, conversions, unique_opens, unique_clicks, machine_opens, machine_clicks, cost_per_conversion, round(open_rate, 4), round(campaign_click_rate, 4)"
expect "$DB" "SELECT $COLS FROM campaigns_daily ORDER BY campaign, day" \
"2026-11-02|autumn|0|1|0|0|1|1|0.0|0|0|0|0|0|0||0.0|0.0
2026-11-02|brand_search|0|0|0|1|0|0|20.0|2|1|0|0|0|0|20.0||
2026-11-03|brand_search|0|0|0|0|0|0|5.25|0|0|0|0|0|0|||
2026-11-02|nov promo|4|3|3|1|1|1|42.5|2|1|2|1|0|3|42.5|0.6667|0.3333
2026-11-03|nov promo|0|0|1|0|0|0|0.0|0|0|1|0|0|0|||
2026-11-04|nov promo|0|0|0|0|0|0|0.0|1|0|0|0|0|0|||
2026-11-02|spring sale|2|1|1|1|0|0|0.0|1|1|1|1|1|0|0.0|1.0|1.0"

# per-source counts and every reject with its reason
expect "$DB" "SELECT source, lines, hits, rejects FROM sources ORDER BY source" \
"ads|4|3|1
csv|23|19|3
mg|4|3|1
sg|5|6|2
web|11|11|0"
expect "$DB" "SELECT source, offset, reason FROM rejects ORDER BY source, offset" \
"ads|116|no match
csv|601|too few fields (expected timestamp,campaign,event,recipient,url,cost)
csv|968|unknown event \"forwarded\" (expected sent delivered open click bounce unsubscribe spend)
csv|1112|bad timestamp \"yesterday\"
mg|166|mailgun: failed (temporary): not counted (retried; its final delivered or failed counts)
sg|0|sendgrid: deferred: not counted (a temporary delay; its final delivered or bounce counts)
sg|449|bad JSON: unexpected token near end of file"

# exactly once: a second run reads nothing new and changes nothing
BEFORE=$(q "$DB" "SELECT * FROM campaigns_daily ORDER BY 1, 2")
"$BOUSSOLE" ingest -c "$CONF" > "$WORK/out2.txt" 2>&1 || { cat "$WORK/out2.txt"; exit 1; }
expect_eq "re-ingest summary" "$(grep -c '0 files read, 5 unchanged, 0 failed: 0 lines' "$WORK/out2.txt")" 1
expect_eq "re-ingest adds nothing" "$(q "$DB" "SELECT * FROM campaigns_daily ORDER BY 1, 2")" "$BEFORE"

# a file that grew is read from where it stopped: one more human open (f)
echo '2026-11-02T15:00:00Z,Nov Promo,open,f@x.org,,' >> "$WORK/campaign.csv"
"$BOUSSOLE" ingest -c "$CONF" > /dev/null 2>&1
expect "$DB" "SELECT opens, unique_opens FROM campaigns_daily WHERE day = '2026-11-02' AND campaign = 'nov promo'" "4|3"

# recipients are never stored in clear
expect "$DB" "SELECT COUNT(*) FROM campaign_recipients WHERE typeof(recipient) <> 'integer'" "0"

# ---- the real webhook payloads ----
EV=${BSL_SHARED_DATA:-}/email_events
if [ -d "$EV" ]; then
  R=$WORK/real && mkdir -p "$R"
  cp "$EV"/*.jsonl "$R"/
  cat > "$R/c.conf" <<CONF
[boussole]
db = $R/r.db
[source "sendgrid"]
path = $R/sendgrid_*.jsonl
format = sendgrid-json
[source "mailgun"]
path = $R/mailgun_*.jsonl
format = mailgun-json
; no parser for Mandrill or SparkPost bodies: read as SendGrid, every event
; is a counted reject that says why
[source "mandrill"]
path = $R/mandrill_*.jsonl
format = sendgrid-json
[source "sparkpost"]
path = $R/sparkpost_*.jsonl
format = sendgrid-json
CONF
  "$BOUSSOLE" ingest -c "$R/c.conf" > "$R/out.txt" 2>&1 || { cat "$R/out.txt"; exit 1; }
  # hits and rejects count events (a SendGrid body holds several):
  #  sendgrid docs  23 bodies, 35 events: 31 taken; deferred x2 and
  #                 group_resubscribe x2 rejected
  #  sendgrid anymail 10 bodies: 9 taken, deferred rejected
  #  mailgun 13 bodies: 7 taken; failed/temporary x2, legacy dropped x2 and
  #                 bounced without timestamp, the metadata-event stub
  #  mandrill 3, sparkpost 7: all rejected
  expect "$R/r.db" "SELECT replace(path, '$R/', ''), lines, hits, rejects FROM sources ORDER BY path" \
"mailgun_webhooks_anymail_tests.jsonl|13|7|6
mandrill_webhooks_anymail_tests.jsonl|3|0|3
sendgrid_event_webhook_docs.jsonl|23|31|4
sendgrid_webhooks_anymail_tests.jsonl|10|9|1
sparkpost_webhooks_anymail_tests.jsonl|7|0|7"
  expect "$R/r.db" "SELECT replace(path, '$R/', ''), reason, COUNT(*) FROM rejects GROUP BY 1, 2 ORDER BY 1, 2" \
"mailgun_webhooks_anymail_tests.jsonl|mailgun: failed (temporary): not counted (retried; its final delivered or failed counts)|2
mailgun_webhooks_anymail_tests.jsonl|mailgun: no timestamp|3
mailgun_webhooks_anymail_tests.jsonl|mailgun: unknown event \"metadata-event\"|1
mandrill_webhooks_anymail_tests.jsonl|sendgrid: no timestamp|1
mandrill_webhooks_anymail_tests.jsonl|sendgrid: unknown event \"hard_bounce\"|1
mandrill_webhooks_anymail_tests.jsonl|sendgrid: unknown event \"send\"|1
sendgrid_event_webhook_docs.jsonl|sendgrid: deferred: not counted (a temporary delay; its final delivered or bounce counts)|2
sendgrid_event_webhook_docs.jsonl|sendgrid: group_resubscribe: not counted (a resubscription has no campaign column)|2
sendgrid_webhooks_anymail_tests.jsonl|sendgrid: deferred: not counted (a temporary delay; its final delivered or bounce counts)|1
sparkpost_webhooks_anymail_tests.jsonl|sendgrid: no event name|7"
  # the events taken, by kind (opens and clicks with their machine share):
  #  sendgrid: sent 6+1, delivered 3+2, opens 6+1, clicks 4+1, bounces
  #  (bounce, blocked, dropped) 5+4, unsubscribes (unsubscribe,
  #  group_unsubscribe, spamreport) 7+0
  #  mailgun: delivered 1, opens 1, clicks 1, bounces (failed permanent,
  #  rejected) 2, unsubscribes (unsubscribed, complained) 2
  expect "$R/r.db" "SELECT SUM(sent), SUM(delivered), SUM(opens + machine_opens), SUM(clicks + machine_clicks), SUM(bounces), SUM(unsubscribes) FROM campaigns_daily" \
"7|6|8|6|11|9"
  # a few exactly: category "cat facts" on 2017-12-15, Mailgun's tag
  expect "$R/r.db" "SELECT sent, delivered, opens + machine_opens, clicks + machine_clicks, bounces, unsubscribes FROM campaigns_daily WHERE day = '2017-12-15' AND campaign = 'cat facts'" \
"2|2|2|2|6|6"
  expect "$R/r.db" "SELECT day, clicks + machine_clicks FROM campaigns_daily WHERE campaign = 'actual-tag-1'" "2016-04-21|1"
else
  skip_part "$EV absent (BSL_SHARED_DATA): the real webhook payloads were not checked"
fi

finish
