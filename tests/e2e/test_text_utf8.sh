#!/usr/bin/env bash
# Every TEXT value in the database is valid UTF-8 (issue 13, item 3).  One
# crafted request used to break every notebook: Python's sqlite3 (pandas,
# Jupyter) raises "OperationalError: Could not decode to UTF-8" on a SELECT
# that meets an invalid byte.  The rule (README "Text in the database"):
# NUL and every byte that is not part of well-formed UTF-8 (invalid,
# overlong, surrogate, past U+10FFFF, truncated) is stored as the four
# characters \xHH; percent-decoding never decodes %00 (it stays "%00").
#
# A hostile corpus puts such bytes, raw and percent-encoded, in the path, the
# utm values, the referer, the beacon's e/t/p, the user agent, the site, the
# file name, a campaign log and an adjustment note; then Python reads
# `SELECT *` of every view and table, and the values follow the rule.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
export LC_ALL=C

UA='Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0'
S=https://www.example.com
# L IP MINUTE TARGET REFERER UA: one combined line on 2 Nov 2026
L() { printf '%s - - [02/Nov/2026:10:%02d:00 +0000] "GET %s HTTP/1.1" 200 10 "%s" "%s"\n' "$@"; }

mkdir "$WORK/logs"
CONF=$WORK/b.conf
cat > "$CONF" <<CONF
[boussole]
db = $WORK/b.db
[goal "signup"]
path = ^/thank-you
[source "www"]
path = $WORK/logs/*.log
site = www.example.com
[source "mail"]
path = $WORK/logs/*.csv
type = campaign
[kpi "conv"]
metric = conversion_rate
goal = signup
period = day
direction = up
target = 0.05
deadline = 2027-03-31
window = 28
min_change = 5%
CONF
DB=$WORK/b.db

# a file whose name is not UTF-8 either (sources.path)
LOG=$WORK/logs/acc$'\xff\xfe'ss.log
{
  L 10.0.0.1 1 $'/caf\xe9\xff' - "$UA"                       # raw invalid bytes
  L 10.0.0.2 2 $'/over\xc0\xaf' - "$UA"                      # overlong '/'
  L 10.0.0.3 3 $'/sur\xed\xa0\x80' - "$UA"                   # a surrogate
  L 10.0.0.4 4 $'/big\xf4\x90\x80\x80' - "$UA"               # past U+10FFFF
  L 10.0.0.5 5 $'/cut\xe2\x82' - "$UA"                       # truncated
  L 10.0.0.6 6 $'/ctl\x01' - "$UA"                           # valid: kept
  L 10.0.0.15 6 /nul0 - "$UA" | sed 's|/nul0|/nul\x00x|'      # a raw NUL
  L 10.0.0.7 7 '/ok-caf%C3%A9' - "$UA"                       # valid, encoded
  L 10.0.0.8 8 '/q?utm_source=%ff%fe&utm_medium=cpc%c0%af&utm_campaign=a%00b' - "$UA"
  L 10.0.0.9 9 $'/r?utm_source=n\xe9ws&utm_campaign=\xed\xb0\x80x' - "$UA"
  L 10.0.0.10 10 '/s?utm_source=x&utm_campaign=%F0%9F%98%80' - "$UA" # valid emoji
  L 10.0.0.11 11 /ref $'https://search.example/p\xff' "$UA"
  L 10.0.0.12 12 /ref2 $'https://ex\xe9mple.org/' "$UA"
  L 10.0.0.13 13 /land - "$UA"
  L 10.0.0.13 14 '/collect?e=click&t=%ff%00x&p=/pp%ed%a0%80' "$S/land" "$UA"
  L 10.0.0.13 15 $'/collect?e=cl\xffck&t=\xe9' "$S/land" "$UA"
  L 10.0.0.13 16 '/collect?e=%fe&d=50' $'https://www.example.com/r\xe9f' "$UA"
  L 10.0.0.13 17 '/collect?e=click&t=a%00b' "$S/land" "$UA"
  L 10.0.0.14 18 /ua - $'Mozilla/5.0 \xff\xfe (Linux; Android 14; Pixel 8) Mobile'
  printf 'garbage \xff\xfe\xc0\xaf\n'                          # a reject
} > "$LOG"
printf 'timestamp,campaign,event,recipient,url,cost\n2026-11-02T08:00:00Z,Pro%%FFmo\xe9,sent,a@x.org,,\n2026-11-02T08:00:01Z,x%%00y,sent,b@x.org,,\n' \
  > "$WORK/logs/mail.csv"
"$BOUSSOLE" ingest -q -c "$CONF" > /dev/null
# a site given on the command line, and a note from `adjust`
L 10.0.1.1 20 /other - "$UA" > "$WORK/other.log"
"$BOUSSOLE" ingest -q -c "$CONF" --site $'www.\xffexample.com' "$WORK/other.log" > /dev/null
"$BOUSSOLE" adjust -c "$CONF" conv --note $'new \xff banner' --at 2026-11-02 > /dev/null

# ---- Python reads every view and every table
python3 - "$DB" > "$WORK/py.out" 2>&1 <<'PY' || true
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
names = [r[0] for r in con.execute(
    "SELECT name FROM sqlite_master WHERE type IN ('view', 'table')"
    " AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, name")]
bad = 0
for n in names:
    try:
        rows = con.execute('SELECT * FROM "%s"' % n).fetchall()
        print("ok %s %d" % (n, len(rows)))
    except Exception as e:
        bad += 1
        print("FAIL %s: %s: %s" % (n, type(e).__name__, e))
print("unreadable", bad)
PY
cat "$WORK/py.out"
expect_eq "Python reads every view and table" "$(grep -c '^FAIL' "$WORK/py.out" || true)" 0
expect_eq "Python ran" "$(grep -c '^unreadable ' "$WORK/py.out" || true)" 1
for v in visits channels_daily pages_daily events_daily traffic_daily sources rejects campaigns_daily adjustments; do
  expect_eq "Python reads $v" "$(grep -c "^ok $v " "$WORK/py.out" || true)" 1
done

# ---- the rule, value by value (\xHH: lower-case hex; valid text unchanged)
expect "$DB" "SELECT path FROM pages_daily WHERE path LIKE '/caf%'" '/caf\xe9\xff'
expect "$DB" "SELECT path FROM pages_daily WHERE path LIKE '/over%'" '/over\xc0\xaf'
expect "$DB" "SELECT path FROM pages_daily WHERE path LIKE '/sur%'" '/sur\xed\xa0\x80'
expect "$DB" "SELECT path FROM pages_daily WHERE path LIKE '/big%'" '/big\xf4\x90\x80\x80'
expect "$DB" "SELECT path FROM pages_daily WHERE path LIKE '/cut%'" '/cut\xe2\x82'
expect "$DB" "SELECT hex(path) FROM pages_daily WHERE path LIKE '/ctl%'" 2F63746C01
expect "$DB" "SELECT path FROM pages_daily WHERE path LIKE '/nul%'" '/nul\x00x'
expect "$DB" "SELECT path FROM pages_daily WHERE path LIKE '/ok-caf%'" '/ok-caf%C3%A9'
expect "$DB" "SELECT landing_path, exit_path FROM visits WHERE landing_path LIKE '/caf%'" '/caf\xe9\xff|/caf\xe9\xff'
expect "$DB" "SELECT source, medium, campaign FROM visits WHERE landing_path = '/q'" '\xff\xfe|cpc\xc0\xaf|a%00b'
expect "$DB" "SELECT source, campaign FROM channels_daily WHERE source LIKE 'n%ws'" 'n\xe9ws|\xed\xb0\x80x'
expect "$DB" "SELECT campaign FROM visits WHERE landing_path = '/s'" $'\xf0\x9f\x98\x80'
expect "$DB" "SELECT channel, source FROM visits WHERE landing_path = '/ref'" 'referral|search.example'
expect "$DB" "SELECT channel FROM visits WHERE landing_path = '/ref2'" 'direct'
expect "$DB" "SELECT path, event, target, events FROM events_daily ORDER BY path, event, target" \
'/land|cl\xffck|\xe9|1
/land|click|a%00b|1
/pp\xed\xa0\x80|click|\xff%00x|1
/r\xe9f|\xfe|50|1'
expect "$DB" "SELECT device FROM visits WHERE landing_path = '/ua'" mobile
expect "$DB" "SELECT path FROM sources WHERE path LIKE '%acc%'" "$WORK/logs/acc\\xff\\xfess.log"
expect "$DB" "SELECT excerpt FROM rejects" 'garbage \xff\xfe\xc0\xaf'
expect "$DB" "SELECT campaign, sent FROM campaigns_daily ORDER BY campaign" 'pro\xffmo\xe9|1
x%00y|1'
expect "$DB" "SELECT site FROM traffic_daily WHERE site LIKE 'www.%example.com' AND site <> 'www.example.com'" 'www.\xffexample.com'
expect "$DB" "SELECT note FROM adjustments" 'new \xff banner'
# a%00b is not cut to "a"
expect "$DB" "SELECT COUNT(*) FROM visits WHERE campaign = 'a'" 0

# ---- a second run over the same bytes adds nothing; when the file grows,
# the resumed open visits match their stored (cleaned) pages and campaign
"$BOUSSOLE" ingest -q -c "$CONF" > /dev/null
expect "$DB" "SELECT SUM(hits) FROM traffic_daily" 20
{
  L 10.0.0.1 21 $'/caf\xe9\xff' - "$UA"
  L 10.0.0.9 22 $'/r?utm_source=n\xe9ws&utm_campaign=\xed\xb0\x80x' - "$UA"
} >> "$LOG"
"$BOUSSOLE" ingest -q -c "$CONF" > /dev/null
expect "$DB" "SELECT COUNT(*), SUM(pageviews) FROM visits WHERE landing_path LIKE '/caf%'" '1|2'
expect "$DB" "SELECT path, pageviews FROM visit_pages WHERE path LIKE '/caf%'" '/caf\xe9\xff|2'
expect "$DB" "SELECT COUNT(*), SUM(pageviews) FROM visits WHERE landing_path = '/r'" '1|2'

# ---- real files with non-UTF-8 bytes
REAL=${BSL_SHARED_DATA:-}
if [ -n "$REAL" ] && [ -d "$REAL/access_logs" ]; then
  for f in "$REAL"/access_logs/*.log* "$REAL"/other_formats/lnav_w3c/logfile_w3c.6.log; do
    [ -f "$f" ] && "$BOUSSOLE" ingest -q --db "$WORK/real.db" "$f" > /dev/null 2>&1 || true
  done
  python3 - "$WORK/real.db" > "$WORK/real.out" 2>&1 <<'PY' || true
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type IN ('view', 'table')"
                        " AND name NOT LIKE 'sqlite_%'").fetchall():
    try:
        con.execute('SELECT * FROM "%s"' % n).fetchall()
    except Exception as e:
        print("FAIL %s: %s" % (n, e))
PY
  cat "$WORK/real.out"
  expect_eq "real logs: Python reads every view and table" "$(grep -c '^FAIL' "$WORK/real.out" || true)" 0
  expect "$WORK/real.db" "SELECT SUM(lines) > 10000 FROM sources" 1
else
  echo "note: \$BSL_SHARED_DATA not found: real logs not read"
fi

finish
