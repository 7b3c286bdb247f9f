#!/usr/bin/env bash
# Output safety beyond the report (issue 7, scope 5; SPEC §7 "Safe output"):
# text that reaches a terminal from logs, the configuration or `adjust` never
# carries bytes a terminal acts on (ESC sequences, C1 controls such as CSI,
# bidirectional overrides, invalid UTF-8); JSON output stays valid; and SQL
# only ever sees log content as bound parameters, so an injection payload in
# a path, referer, campaign, source name or reject is stored verbatim.
# (tests/e2e/test_report.sh covers `report` in the terminal, JSON and HTML.)
source "$(dirname "$0")/lib.sh"
export LC_ALL=C

ESC=$'\e'
C1=$'\xc2\x9b'         # U+009B, CSI as one character
RLO=$'\xe2\x80\xae'    # U+202E RIGHT-TO-LEFT OVERRIDE
BAD=$'\xff'
HOSTILE="${ESC}[31mred${ESC}]0;owned${ESC}\\ ${C1}2J ${RLO}evil ${BAD}end"
# raw_bytes FILE: how many lines hold a byte sequence a terminal acts on
raw_bytes() { grep -c -e "$ESC" -e "$C1" -e "$RLO" -e "$BAD" "$1" || true; }

UA='Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0'
line() { printf '%s - - [02/Nov/2026:10:%02d:00 +0000] "GET %s HTTP/1.1" %s 10 "%s" "%s"\n' "$@"; }

# ------------------------------------------------------------- rejects
printf 'garbage %s\n' "$HOSTILE" > "$WORK/rej.log"
"$BOUSSOLE" ingest -q --db "$WORK/rej.db" "$WORK/rej.log"
q "$WORK/rej.db" "SELECT excerpt FROM rejects" > "$WORK/excerpt"
expect_eq "rejects: the excerpt holds no raw ESC" "$(grep -c "$ESC" "$WORK/excerpt" || true)" 0
expect_eq "rejects: ESC is written \\x1b" "$(grep -cF 'garbage \x1b[31mred\x1b]0;owned\x1b\x5c ' "$WORK/excerpt")" 1
expect_eq "rejects: an invalid byte is written \\xff" "$(grep -cF '\xffend' "$WORK/excerpt")" 1
expect_eq "rejects: no raw C1 control or bidi override" "$(raw_bytes "$WORK/excerpt")" 0
expect_eq "rejects: CSI and RLO are written as bytes" "$(grep -cF '\xc2\x9b2J \xe2\x80\xaeevil' "$WORK/excerpt")" 1

# ------------------------------------------------------------- check
# The configuration is printed back by `check` and named in messages: C0/C1
# controls, bidi overrides and invalid UTF-8 are refused, naming file:line,
# and the message itself carries none of them.
n=0
for bad in "$ESC[2J" "$C1" "$RLO" "$BAD"; do
  n=$((n + 1))
  printf '[boussole]\ndb = %s/x.db\n[goal "g%s"]\npath = ^/x\n' "$WORK" "$bad" > "$WORK/bad$n.conf"
  rc=0
  "$BOUSSOLE" check -c "$WORK/bad$n.conf" > "$WORK/out" 2> "$WORK/err" || rc=$?
  expect_eq "check #$n: refused" "$rc" 2
  expect_eq "check #$n: names file:line ($(cat -v "$WORK/err"))" "$(grep -c "bad$n.conf:3: " "$WORK/err")" 1
  expect_eq "check #$n: no raw control bytes in the message" "$(raw_bytes "$WORK/err")" 0
done
# printable markup is fine, and printed back as it is
cat > "$WORK/ok.conf" <<CONF
[boussole]
db = $WORK/k.db
[goal "signup"]
path = ^/signup
[kpi "conv"]
metric = conversion_rate
goal = signup
filter = campaign=<script>'");
period = day
direction = up
target = 0.05
deadline = 2027-03-31
window = 28
min_change = 5%
CONF
"$BOUSSOLE" check -c "$WORK/ok.conf" > "$WORK/out"
expect_eq "check: a printable filter value is printed back verbatim" \
  "$(grep -cF "filter = campaign=<script>'\");" "$WORK/out")" 1

# ------------------------------------------------------------- kpi + adjust
for i in $(seq 0 30); do line 10.0.0.$i $((i % 60)) /signup 200 - "$UA"; done > "$WORK/k.log"
"$BOUSSOLE" ingest -q -c "$WORK/ok.conf" "$WORK/k.log"
"$BOUSSOLE" adjust -c "$WORK/ok.conf" conv --note "$HOSTILE" --at 2026-11-02 > /dev/null
rc=0
"$BOUSSOLE" kpi -c "$WORK/ok.conf" --at 2026-11-10 > "$WORK/kpi.out" 2> "$WORK/kpi.err" || rc=$?
expect_eq "kpi: runs (0 or 1)" "$((rc <= 1))" 1
expect_eq "kpi: the note is shown" "$(grep -cF 'adjusted 2026-11-02' "$WORK/kpi.out")" 1
expect_eq "kpi: no raw control bytes on the terminal" "$(raw_bytes "$WORK/kpi.out")$(raw_bytes "$WORK/kpi.err")" 00
expect_eq "kpi: ESC in the note shows as \\x1b" "$(grep -cF '\x1b[31mred\x1b]0;owned' "$WORK/kpi.out")" 1
"$BOUSSOLE" kpi -c "$WORK/ok.conf" --at 2026-11-10 --json > "$WORK/kpi.json" 2> /dev/null || true
expect_eq "kpi --json: valid JSON" "$(q "$WORK/k.db" "SELECT json_valid(readfile('$WORK/kpi.json'))")" 1
expect_eq "kpi --json: no raw control bytes" "$(raw_bytes "$WORK/kpi.json")" 0
expect_eq "kpi --json: the note's ESC survives as an escape" \
  "$(q "$WORK/k.db" "SELECT instr(json_extract(readfile('$WORK/kpi.json'), '\$.kpis[0].adjustment.note'), char(27) || '[31mred') > 0")" 1

# ------------------------------------------------------------- SQL injection
# Every place log text reaches SQL: request path, referer (the beacon's page),
# utm_campaign and the reject sample.  (Names in the configuration cannot
# carry one: a source name is letters, digits and . _ - : @ +.)
SQLI="'); DROP TABLE visit_log; --"
SQLI_URL="%27)%3B%20DROP%20TABLE%20visit_log%3B%20--"
cat > "$WORK/sqli.conf" <<CONF
[boussole]
db = $WORK/sqli.db
[source "www"]
path = $WORK/sqli/*.log
site = www.example.com
CONF
mkdir "$WORK/sqli"
{
  line 10.1.1.1 1 "/$SQLI" 200 - "$UA"
  line 10.1.1.2 2 "/landing?utm_source=x&utm_campaign=$SQLI_URL" 200 - "$UA"
  line 10.1.1.3 3 "/collect?e=click&t=$SQLI_URL" 204 "https://www.example.com/$SQLI" "$UA"
  echo "$SQLI"
} > "$WORK/sqli/access.log"
q "$WORK/rej.db" "SELECT name FROM sqlite_master ORDER BY name" > "$WORK/schema.before"
"$BOUSSOLE" ingest -q -c "$WORK/sqli.conf"
expect_eq "SQL: every table and view is still there" \
  "$(q "$WORK/sqli.db" "SELECT name FROM sqlite_master ORDER BY name" | cmp -s - "$WORK/schema.before" && echo same)" same
expect "$WORK/sqli.db" "SELECT COUNT(*) FROM pages_daily WHERE path = '/'') DROP TABLE visit_log; --'" 0
expect "$WORK/sqli.db" "SELECT path FROM pages_daily WHERE path LIKE '/''%'" "/$SQLI"
expect "$WORK/sqli.db" "SELECT campaign FROM visits WHERE landing_path = '/landing'" "$(tr 'A-Z' 'a-z' <<< "$SQLI")"
expect "$WORK/sqli.db" "SELECT path, target FROM events_daily" "/$SQLI|$SQLI"
expect "$WORK/sqli.db" "SELECT excerpt FROM rejects" "$SQLI"
expect "$WORK/sqli.db" "SELECT SUM(hits) FROM traffic_daily" 3

finish
