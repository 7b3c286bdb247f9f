#!/usr/bin/env bash
# Every rule of SPEC §5 on a small log written here, with each view's
# expected values worked out by hand in the comments.
source "$(dirname "$0")/lib.sh"

FF='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
IPHONE='Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1'
CHROME='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
IPAD='Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1'
GBOT='Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'
S=https://www.example.com

# L IP DAY TIME REQUEST STATUS REFERER UA
L() { printf '%s - - [%s/Nov/2026:%s +0000] "%s" %s 512 "%s" "%s"\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7"; }

LOG=$WORK/access.log
{
  # visitor A: email landing (utm, decoded + lower-cased), a static, a scroll
  # beacon, two more pages, the goal, a click; then 33m50s idle -> visit A2
  L 1.1.1.1 02 10:00:00 "GET /landing?utm_source=Newsletter&utm_medium=email&utm_campaign=Nov%20Promo HTTP/1.1" 200 - "$FF"  # 1
  L 1.1.1.1 02 10:00:01 "GET /style.css HTTP/1.1" 200 "$S/landing" "$FF"                      # 2
  L 1.1.1.1 02 10:00:30 "GET /collect?e=scroll&p=/landing&d=80 HTTP/1.1" 204 "$S/landing" "$FF" # 3
  L 1.1.1.1 02 10:05:00 "GET /signup HTTP/1.1" 200 "$S/landing" "$FF"                         # 4
  L 1.1.1.1 02 10:06:00 "GET /thank-you HTTP/1.1" 200 "$S/signup" "$FF"                       # 5
  L 1.1.1.1 02 10:06:10 "GET /collect?e=click&t=share HTTP/1.1" 204 "$S/thank-you" "$FF"      # 6
  # visitor B (mobile): organic search, a reload, a scroll beacon whose page
  # comes from the referer, then a new utm_campaign -> visit B2
  L 2.2.2.2 02 10:10:00 "GET /blog/post HTTP/1.1" 200 "https://www.google.com/search?q=x" "$IPHONE" # 7
  L 2.2.2.2 02 10:20:00 "GET /blog/post HTTP/1.1" 200 "$S/blog/post" "$IPHONE"                # 8
  L 2.2.2.2 02 10:25:00 "GET /collect?e=scroll&d=50 HTTP/1.1" 204 "$S/blog/post" "$IPHONE"   # 9
  L 2.2.2.2 02 10:26:00 "GET /blog/other?utm_campaign=spring HTTP/1.1" 200 "$S/blog/post" "$IPHONE" # 10
  L 1.1.1.1 02 10:40:00 "GET /pricing HTTP/1.1" 200 - "$FF"                                   # 11
  # bots: a crawler, an empty user agent, an HTTP library hitting the beacon
  L 9.9.9.9 02 10:30:00 "GET / HTTP/1.1" 200 - "$GBOT"                                        # 12
  L 8.8.8.8 02 10:31:00 "GET /landing HTTP/1.1" 200 - "-"                                     # 13
  L 7.7.7.7 02 10:32:00 "GET /collect?e=click HTTP/1.1" 204 - "curl/8.4.0"                    # 14
  # visitor D: paid (gclid), then a 404, a HEAD and a POST: no pageviews
  L 4.4.4.4 02 11:00:00 "GET /landing?gclid=abc123 HTTP/1.1" 200 "https://www.google.com/" "$CHROME" # 15
  L 4.4.4.4 02 11:00:05 "GET /missing HTTP/1.1" 404 - "$CHROME"                               # 16
  L 4.4.4.4 02 11:01:00 "HEAD /landing HTTP/1.1" 200 - "$CHROME"                              # 17
  L 4.4.4.4 02 11:02:00 "POST /signup HTTP/1.1" 200 - "$CHROME"                               # 18
  # visitor E (tablet): referral, then a 304 (a pageview too)
  L 5.5.5.5 02 12:00:00 "GET /landing HTTP/1.1" 200 "http://blog.partner.org/review" "$IPAD"  # 19
  L 5.5.5.5 02 12:00:30 "GET /landing HTTP/1.1" 304 "http://blog.partner.org/review" "$IPAD"  # 20
  # visitor F: from a webmail
  L 6.6.6.6 02 13:00:00 "GET / HTTP/1.1" 200 "https://mail.google.com/mail/u/0/" "$FF"        # 21
  # beacons with no open visit still count as events
  L 11.11.11.11 02 14:00:00 "GET /collect?e=click&p=/orphan&t=buy HTTP/1.1" 204 - "$FF"       # 22
  L 11.11.11.11 02 14:00:01 "GET /collect?e=video_play&p=/landing HTTP/1.1" 204 - "$FF"       # 23
  # empty and "-" requests (400/408) are hits, not pageviews
  printf '10.0.0.1 - - [02/Nov/2026:15:00:00 +0000] "" 400 0 "-" "-"\n'                        # 24
  printf '10.0.0.2 - - [02/Nov/2026:15:00:01 +0000] "-" 408 -\n'                               # 25
  printf 'this is not a log line\n'                                                            # 26
  printf '1.2.3.4 - - [32/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n'          # 27
  # visitor C: social late on the 2nd, then after midnight a new visit whose
  # referer is the site itself: direct
  L 3.3.3.3 02 23:50:00 "GET / HTTP/1.1" 200 "https://m.facebook.com/" "$CHROME"              # 28
  L 3.3.3.3 03 00:05:00 "GET /about HTTP/1.1" 200 "$S/" "$CHROME"                             # 29
  # visitor H: social via utm (CRLF line end), the goal, a click beacon
  # with a 500 status (beacons count whatever their status)
  L 12.12.12.12 03 00:10:00 "GET /landing?utm_source=fb&utm_medium=social&utm_campaign=Launch HTTP/1.1" 200 "https://l.facebook.com/" "$IPHONE" | sed 's/$/\r/' # 30
  L 12.12.12.12 03 00:11:00 "GET /thank-you HTTP/1.1" 200 "$S/landing" "$IPHONE"             # 31
  L 12.12.12.12 03 00:12:00 "GET /collect?e=click&t=cta HTTP/1.1" 500 "$S/thank-you" "$IPHONE" # 32
  head -c 70000 /dev/zero | tr '\0' a; echo                                                    # 33
  # an unterminated last line: still being written, not read yet
  L 13.13.13.13 03 01:00:00 "GET /late HTTP/1.1" 200 - "$FF" | tr -d '\n'                     # 34
} > "$LOG"

CONF=$WORK/boussole.conf
cat > "$CONF" <<CONF
[boussole]
db = $WORK/b.db
[goal "signup"]
path = ^/thank-you
CONF
DB=$WORK/b.db

"$BOUSSOLE" ingest -c "$CONF" --site www.example.com "$LOG" > "$WORK/out.txt" 2> "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; echo "ingest failed"; exit 1; }
expect_eq "summary line" "$(grep -c '33 lines, 30 hits, 3 rejects' "$WORK/out.txt")" 1

# traffic: the 2nd has lines 1-25 and 28 (26 hits, bots 12,13,14,24,25);
# visits A1 A2 B1 B2 D1 E1 F1 C1 with 3+1+2+1+1+2+1+1 pageviews; bounces
# A2 B2 D1 F1 C1.  The 3rd: lines 29-32; visits C2 (bounce) and H1.
expect "$DB" "SELECT day, site, hits, bot_hits, pageviews, visits, visitors, bounces FROM traffic_daily ORDER BY day" \
"2026-11-02|www.example.com|26|5|12|8|6|5
2026-11-03|www.example.com|4|0|3|2|2|1"

expect "$DB" "SELECT day, status, hits, bot_hits FROM status_daily ORDER BY day, status" \
"2026-11-02|200|16|2
2026-11-02|204|6|1
2026-11-02|304|1|0
2026-11-02|400|1|1
2026-11-02|404|1|0
2026-11-02|408|1|1
2026-11-03|200|3|0
2026-11-03|500|1|0"

# /landing: A1 (entry, scroll 80), D1 (entry), E1 (entry, 2 pageviews):
# 4 pageviews, 3 entries, avg scroll (80+0+0+0)/4 = 20, one >= 75.
expect "$DB" "SELECT day, path, pageviews, entries, round(avg_scroll_depth, 2), scroll_75 FROM pages_daily ORDER BY day, path" \
"2026-11-02|/|2|2|0.0|0
2026-11-02|/blog/other|1|1|0.0|0
2026-11-02|/blog/post|2|1|50.0|0
2026-11-02|/landing|4|3|20.0|1
2026-11-02|/pricing|1|1|0.0|0
2026-11-02|/signup|1|0|0.0|0
2026-11-02|/thank-you|1|0|0.0|0
2026-11-03|/about|1|1|0.0|0
2026-11-03|/landing|1|1|0.0|0
2026-11-03|/thank-you|1|0|0.0|0"

WEBMAIL_SOURCE=$(q "$DB" "SELECT source FROM visits WHERE landing_path = '/' AND channel = 'email'")
expect "$DB" "SELECT day, channel, source, medium, campaign, visits, visitors, pageviews, bounces, conversions FROM channels_daily ORDER BY day, channel, source, campaign" \
"2026-11-02|campaign|(direct)|(none)|spring|1|1|1|1|0
2026-11-02|direct|(direct)|(none)||1|1|1|1|0
2026-11-02|email|$WEBMAIL_SOURCE|email||1|1|1|1|0
2026-11-02|email|newsletter|email|nov promo|1|1|3|0|1
2026-11-02|organic_search|google|organic||1|1|2|0|0
2026-11-02|paid|google|cpc||1|1|1|1|0
2026-11-02|referral|blog.partner.org|referral||1|1|2|0|0
2026-11-02|social|facebook|social||1|1|1|1|0
2026-11-03|direct|(direct)|(none)||1|1|1|1|0
2026-11-03|social|fb|social|launch|1|1|2|0|1"
case "$WEBMAIL_SOURCE" in ""|"(direct)"|mail.google.com) expect_eq "webmail source is the list name" "$WEBMAIL_SOURCE" "gmail" ;; esac

# events: target is t, else d, else empty; the page is p, else the
# referer's path; bot beacons (line 14) are not events.
expect "$DB" "SELECT day, path, event, target, events FROM events_daily ORDER BY day, path, event" \
"2026-11-02|/blog/post|scroll|50|1
2026-11-02|/landing|scroll|80|1
2026-11-02|/landing|video_play||1
2026-11-02|/orphan|click|buy|1
2026-11-02|/thank-you|click|share|1
2026-11-03|/thank-you|click|cta|1"

expect "$DB" "SELECT day, goal, channel, conversions, visits FROM goals_daily ORDER BY day, channel" \
"2026-11-02|signup|campaign|0|1
2026-11-02|signup|direct|0|1
2026-11-02|signup|email|1|2
2026-11-02|signup|organic_search|0|1
2026-11-02|signup|paid|0|1
2026-11-02|signup|referral|0|1
2026-11-02|signup|social|0|1
2026-11-03|signup|direct|0|1
2026-11-03|signup|social|1|1"

expect "$DB" "SELECT site, day, started_at, ended_at, pageviews, channel, device, landing_path, exit_path, max_scroll, bounced FROM visits ORDER BY started_at" \
"www.example.com|2026-11-02|2026-11-02T10:00:00Z|2026-11-02T10:06:10Z|3|email|desktop|/landing|/thank-you|80|0
www.example.com|2026-11-02|2026-11-02T10:10:00Z|2026-11-02T10:25:00Z|2|organic_search|mobile|/blog/post|/blog/post|50|0
www.example.com|2026-11-02|2026-11-02T10:26:00Z|2026-11-02T10:26:00Z|1|campaign|mobile|/blog/other|/blog/other|0|1
www.example.com|2026-11-02|2026-11-02T10:40:00Z|2026-11-02T10:40:00Z|1|direct|desktop|/pricing|/pricing|0|1
www.example.com|2026-11-02|2026-11-02T11:00:00Z|2026-11-02T11:00:00Z|1|paid|desktop|/landing|/landing|0|1
www.example.com|2026-11-02|2026-11-02T12:00:00Z|2026-11-02T12:00:30Z|2|referral|tablet|/landing|/landing|0|0
www.example.com|2026-11-02|2026-11-02T13:00:00Z|2026-11-02T13:00:00Z|1|email|desktop|/|/|0|1
www.example.com|2026-11-02|2026-11-02T23:50:00Z|2026-11-02T23:50:00Z|1|social|desktop|/|/|0|1
www.example.com|2026-11-03|2026-11-03T00:05:00Z|2026-11-03T00:05:00Z|1|direct|desktop|/about|/about|0|1
www.example.com|2026-11-03|2026-11-03T00:10:00Z|2026-11-03T00:12:00Z|2|social|mobile|/landing|/thank-you|0|0"

# rejects: offsets are those of lines 26, 27 and 33
off26=$(grep -b -a -n '' "$LOG" | awk -F: '$1 == 26 {print $2}')
off27=$(grep -b -a -n '' "$LOG" | awk -F: '$1 == 27 {print $2}')
off33=$(grep -b -a -n '' "$LOG" | awk -F: '$1 == 33 {print $2}')
expect "$DB" "SELECT source, offset, reason <> '', substr(excerpt, 1, 30) FROM rejects ORDER BY offset" \
"cli|$off26|1|this is not a log line
cli|$off27|1|1.2.3.x - - [32/Nov/2026:10:00
cli|$off33|1|aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
size=$(stat -c %s "$LOG")
last=$(tail -c +1 "$LOG" | tail -n 1 | wc -c)
expect "$DB" "SELECT source, lines, rejects, offset FROM sources" "cli|33|3|$((size - last))"

# privacy: no raw address or user agent anywhere in the database
if strings "$DB" "$DB-wal" 2>/dev/null | grep -c -e '1\.1\.1\.1' -e 'Firefox/120' >/dev/null; then
  expect_eq "no raw address or user agent stored" found none
fi

# the held last line is read once its newline arrives; re-reading adds nothing
echo >> "$LOG"
"$BOUSSOLE" ingest -q -c "$CONF" --site www.example.com "$LOG"
expect "$DB" "SELECT hits, visits FROM traffic_daily WHERE day = '2026-11-03'" "5|3"
dump_views "$DB" > "$WORK/before.txt"
"$BOUSSOLE" ingest -c "$CONF" --site www.example.com "$LOG" > "$WORK/again.txt"
dump_views "$DB" > "$WORK/after.txt"
expect_eq "re-ingest changes nothing" "$(cmp -s "$WORK/before.txt" "$WORK/after.txt" && echo same)" same
expect_eq "re-ingest reports the file unchanged" "$(grep -c '0 files read, 1 unchanged' "$WORK/again.txt")" 1

finish
