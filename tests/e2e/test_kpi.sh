#!/usr/bin/env bash
# KPIs end to end (SPEC §8, issue 4): 70 days of generated access logs with
# one segment per scenario, each with a conversion rate built to have a known
# shape; `boussole kpi --at DAY` walks through every day (backtesting) and the
# state of each KPI is checked day by day, with the alerts it raised and
# resolved and what alert_command received.
#
# Segments (500 visits a day each; day d = 0 is 2026-01-05, a Monday):
#   plateau   email (utm)        2% + 0.1 pt/day until day 30, then flat 5%
#   rising    social (utm)       1% + 0.1 pt/day throughout
#   slow      paid (utm cpc)     2% + 0.02 pt/day, target 10% by 2026-04-30
#   falling   organic (google)   6% - 0.06 pt/day
#   silent    referral           flat 3%, no visits at all from day 50
#   weekly    direct             4% on weekdays, 2% on weekends, no trend
#   adjusted  campaign (utm)     3% until day 44, 5% from day 45 (adjusted)
source "$(dirname "$0")/lib.sh"
command -v jq > /dev/null || { echo "SKIP: jq not installed"; exit 77; }

DAYS=70
START=2026-01-05
declare -a DAY CLF
for ((d = 0; d < DAYS; d++)); do
  DAY[d]=$(date -u -d "$START +$d day" +%F)
  CLF[d]=$(date -u -d "$START +$d day" +%d/%b/%Y)
done

LOG=$WORK/access.log
awk -v days=$DAYS -v clf="${CLF[*]}" '
function rate(seg, d) {
  if (seg == 0) return 0.02 + 0.001 * (d < 30 ? d : 30)
  if (seg == 1) return 0.01 + 0.001 * d
  if (seg == 2) return 0.02 + 0.0002 * d
  if (seg == 3) return 0.06 - 0.0006 * d
  if (seg == 4) return d < 50 ? 0.03 : -1
  if (seg == 5) return (d % 7 >= 5) ? 0.02 : 0.04
  return d < 45 ? 0.03 : 0.05
}
BEGIN {
  split(clf, D, " ")
  q[0] = "/landing?utm_source=newsletter&utm_medium=email"
  q[1] = "/landing?utm_source=fb&utm_medium=social"
  q[2] = "/landing?utm_source=google&utm_medium=cpc"
  q[3] = "/landing"; q[4] = "/landing"; q[5] = "/landing"
  q[6] = "/landing?utm_campaign=promo"
  ref[0] = "-"; ref[1] = "-"; ref[2] = "-"; ref[3] = "https://www.google.com/"
  ref[4] = "http://blog.partner.org/review"; ref[5] = "-"; ref[6] = "-"
  ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
  N = 500
  for (d = 0; d < days; d++) {
    for (s = 0; s < 7; s++) {
      r = rate(s, d)
      # a deterministic wobble of less than half a conversion
      conv[s] = r < 0 ? -1 : int(N * r + 0.5 + ((d * 37 + s * 11) % 7 - 3) * 0.14)
    }
    for (v = 0; v < N; v++) {
      t = 28800 + v * 60
      ts = sprintf("%s:%02d:%02d:%02d +0000", D[d + 1], int(t / 3600), int(t / 60) % 60, t % 60)
      ts2 = sprintf("%s:%02d:%02d:%02d +0000", D[d + 1], int(t / 3600), int(t / 60) % 60, t % 60 + 30)
      for (s = 0; s < 7; s++) {
        if (conv[s] < 0) continue
        ip = sprintf("10.%d.%d.%d", s + 1, int(v / 250), v % 250)
        printf "%s - - [%s] \"GET %s HTTP/1.1\" 200 512 \"%s\" \"%s\"\n", ip, ts, q[s], ref[s], ua
        if (v < conv[s])
          printf "%s - - [%s] \"GET /thank-you HTTP/1.1\" 200 512 \"https://www.example.com/landing\" \"%s\"\n", ip, ts2, ua
      }
    }
  }
}' > "$LOG"

DB=$WORK/k.db
ALERTS=$WORK/alerts.jsonl
cat > "$WORK/notify.sh" <<SH
#!/bin/sh
cat >> "$ALERTS"
SH
chmod +x "$WORK/notify.sh"
CONF=$WORK/k.conf
cat > "$CONF" <<CONF
[boussole]
db = $DB
alert_command = $WORK/notify.sh
[goal "signup"]
path = ^/thank-you
[kpi "plateau"]
metric = conversion_rate
goal = signup
filter = channel=email
target = 8%
deadline = 2026-12-31
[kpi "rising"]
metric = conversion_rate
goal = signup
filter = channel=social
target = 20%
deadline = 2026-12-31
[kpi "slow"]
metric = conversion_rate
goal = signup
filter = channel=paid
target = 10%
deadline = 2026-04-30
[kpi "falling"]
metric = conversion_rate
goal = signup
filter = channel=organic_search
target = 8%
[kpi "silent"]
metric = conversion_rate
goal = signup
filter = channel=referral
[kpi "weekly"]
metric = conversion_rate
goal = signup
filter = channel=direct
target = 10%
[kpi "adjusted"]
metric = conversion_rate
goal = signup
filter = channel=campaign
target = 10%
CONF

"$BOUSSOLE" ingest -q -c "$CONF" "$LOG" 2> "$WORK/ingest.err" || { cat "$WORK/ingest.err"; echo "ingest failed"; exit 1; }
expect "$DB" "SELECT COUNT(DISTINCT day) FROM goals_daily WHERE channel = 'email'" "$DAYS"

run() { set +e; "$BOUSSOLE" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; RC=$?; set -e; }

# the team changes something for "adjusted" on day 45 (recorded before the
# walk; adjustments only count from their time on)
run adjust -c "$CONF" adjusted --note 'new "promo" landing page' --at "${DAY[45]}T09:00:00Z"
expect_eq "adjust exits 0" "$RC" 0
run adjust -c "$CONF" nosuchkpi --note x
expect_eq "adjust of an unknown KPI exits 2" "$RC" 2
expect_eq "adjust names the KPI" "$(grep -c 'nosuchkpi' "$WORK/stderr")" 1
run adjust -c "$CONF" adjusted
expect_eq "adjust without --note exits 2" "$RC" 2

# walk through history: STATE[kpi,d], exit codes, one JSON per day
declare -A STATE
for ((d = 0; d < DAYS; d++)); do
  run kpi -c "$CONF" --json --at "${DAY[d]}"
  [ "$RC" -le 1 ] || { cat "$WORK/stderr"; echo "kpi --at ${DAY[d]} failed ($RC)"; exit 1; }
  flagged=$(jq '[.kpis[] | select(.flagged)] | length' "$WORK/stdout")
  expect_eq "exit code on ${DAY[d]} follows the flags" "$RC" "$([ "$flagged" -gt 0 ] && echo 1 || echo 0)"
  while read -r k s; do STATE[$k,$d]=$s; done < <(jq -r '.kpis[] | "\(.kpi) \(.state)"' "$WORK/stdout")
  cp "$WORK/stdout" "$WORK/day$d.json"
done

# states_of KPI FROM TO: the distinct states over days FROM..TO
states_of() {
  local k=$1 out=() d
  for ((d = $2; d <= $3; d++)); do out+=("${STATE[$k,$d]}"); done
  printf '%s\n' "${out[@]}" | sort -u | tr '\n' ' ' | sed 's/ $//'
}
first_day_in() {
  local k=$1 want=$2 d
  for ((d = 0; d < DAYS; d++)); do
    [ "${STATE[$k,$d]}" = "$want" ] && { echo "$d"; return; }
  done
  echo none
}

expect_eq "first 6 days: insufficient" "$(states_of plateau 0 5)" "insufficient"
# plateau: improving while it rises; stalled within a window of the plateau
# (day 30), never before it
expect_eq "plateau never stalled before the plateau" "$(states_of plateau 0 29 | grep -c stalled)" 0
P=$(first_day_in plateau stalled)
expect_eq "plateau flagged stalled by day 58 (30 + window)" "$([ "$P" != none ] && [ "$P" -ge 30 ] && [ "$P" -le 58 ] && echo yes)" yes
expect_eq "plateau stays stalled once stalled" "$(states_of plateau "${P/none/69}" 69)" "stalled"
expect_eq "plateau improving while rising" "$(states_of plateau 7 29)" "improving"
# steady rise: improving throughout
expect_eq "rising stays improving" "$(states_of rising 7 69)" "improving"
# too slow for its deadline
expect_eq "slow is off_track" "$(states_of slow 20 69)" "off_track"
# falling
expect_eq "falling is declining" "$(states_of falling 14 69)" "declining"
# tracking stops on day 50: no_data within 3 periods, not before
expect_eq "silent not no_data while tracked" "$(states_of silent 7 51 | grep -c no_data)" 0
expect_eq "silent no_data from day 52" "$(states_of silent 52 69)" "no_data"
# a flat KPI with a strong weekly cycle is never improving
expect_eq "weekly never improving" "$(states_of weekly 0 69 | grep -c improving)" 0
expect_eq "weekly uses the seasonal test" "$(jq -r '.kpis[] | select(.kpi == "weekly") | .seasonal' "$WORK/day69.json")" true
# adjusted: stalled before the change, grace rule after it, effect measured
expect_eq "adjusted stalled before the change" "$(states_of adjusted 14 44)" "stalled"
expect_eq "adjusted not stalled within window/2 of the adjustment" "$(states_of adjusted 45 58 | grep -c stalled)" 0
expect_eq "no effect before 3 periods" "$(jq -r '.kpis[] | select(.kpi == "adjusted") | .adjustment.effect' "$WORK/day47.json")" null
expect_eq "effect known after 3 periods" "$(jq -r '.kpis[] | select(.kpi == "adjusted") | .adjustment.n_after' "$WORK/day48.json")" 3
expect_eq "--json gives the verdict in words" "$(jq -r '.kpis[] | select(.kpi == "adjusted") | .adjustment.verdict' "$WORK/day47.json")|$(jq -r '.kpis[] | select(.kpi == "adjusted") | .adjustment.verdict' "$WORK/day69.json")" "not measured yet (3 periods after it are needed)|+2.0 pt, significant (p<0.001): an improvement"
expect "$DB" "SELECT effect > 0.015 AND effect < 0.025, effect_p_value < 0.001, n_after FROM adjustments WHERE kpi = 'adjusted'" "1|1|24"
expect "$DB" "SELECT note FROM adjustments" 'new "promo" landing page'

# alerts: one row per episode, raised on entering a flagged state and
# resolved on leaving it
# (an evaluation --at D is as of the end of D: midnight after it)
[ "$P" != none ] && expect "$DB" "SELECT state, raised_at, resolved_at IS NULL FROM alerts WHERE kpi = 'plateau'" "stalled|$(date -u -d "${DAY[P]} +1 day" +%F)T00:00:00Z|1"
expect "$DB" "SELECT COUNT(*) FROM alerts WHERE kpi = 'plateau'" 1
expect "$DB" "SELECT COUNT(*) FROM alerts WHERE kpi = 'rising'" 0
expect "$DB" "SELECT state, resolved_state FROM alerts WHERE kpi = 'silent' ORDER BY alert_id" "stalled|no_data
no_data|"
expect "$DB" "SELECT COUNT(*) FROM alerts WHERE kpi = 'adjusted' AND state = 'stalled' AND resolved_at = '${DAY[46]}T00:00:00Z' AND resolved_state = 'grace'" 1
# alert_command: one raise per alert row, one resolve per resolved row,
# never twice for the same alert
raised=$(jq -s '[.[] | select(.event == "raised")] | length' "$ALERTS")
resolved=$(jq -s '[.[] | select(.event == "resolved")] | length' "$ALERTS")
expect "$DB" "SELECT COUNT(*) FROM alerts" "$raised"
expect "$DB" "SELECT COUNT(*) FROM alerts WHERE resolved_at IS NOT NULL" "$resolved"
expect_eq "no alert delivered twice" "$(jq -r '"\(.alert_id) \(.event)"' "$ALERTS" | sort | uniq -d | wc -l)" 0
expect_eq "alert JSON has every field" "$(jq -s '[.[] | select(has("kpi") and has("state") and has("previous_state") and has("value") and has("target") and has("slope") and has("p_value") and has("since") and has("message"))] | length' "$ALERTS")" "$((raised + resolved))"
# (issue 16: a sentence instead of "slope ..., p=...", and a next step)
expect_eq "plateau's alert message in words" "$(jq -r 'select(.kpi == "plateau") | .message' "$ALERTS" | grep -cE '^plateau has stalled at 5\.0% for [0-9]+ days?: (no real trend over the last 28 days \((it is flat|its drift of [-+]?[0-9.]+ pt/day could be chance), p[=<][0-9.]+\)|it moves only [-+]?[0-9.]+ pt/day \(a real trend, p[=<][0-9.]+, but less than 5% of its level over 28 days: too little to count as progress\)); target 8\.0% by 2026-12-31\. Nothing has been recorded as tried for it\. Next step: .*boussole adjust plateau --note TEXT')" 1
# every alert says what to do, in plain numbers (issue 16)
expect "$DB" "SELECT COUNT(*) FROM alerts WHERE message NOT LIKE '%Next step: %'" 0
expect_eq "every raise sent to alert_command has a next step" "$(jq -r 'select(.event == "raised") | .message' "$ALERTS" | grep -vc 'Next step: ' || true)" 0
expect_eq "no p=0.000 in any message" "$(jq -r .message "$ALERTS" | grep -c 'p=0\.000' || true)" 0
expect_eq "no percent per day in any message" "$(jq -r .message "$ALERTS" | grep -cE '[0-9]%/(day|week)' || true)" 0
expect_eq "declining says where to look" "$(jq -r 'select(.kpi == "falling" and .event == "raised") | .message' "$ALERTS" | grep -c 'Next step: run boussole diagnose --from 20[0-9-]* to find the segment')" 1
expect_eq "no_data says what to check" "$(jq -r 'select(.kpi == "silent" and .state == "no_data" and .event == "raised") | .message' "$ALERTS" | grep -c 'Next step: check that .*access log is still read')" 1

# replaying an earlier day only reports: no new alerts, status unchanged
before=$(q "$DB" "SELECT COUNT(*) FROM alerts")
run kpi -c "$CONF" --at "${DAY[20]}"
expect_eq "replay exits 1 (flagged then)" "$RC" 1
expect "$DB" "SELECT COUNT(*) FROM alerts" "$before"
expect "$DB" "SELECT evaluated_at FROM kpi_status WHERE kpi = 'plateau'" "2026-03-16T00:00:00Z"

# the views
expect "$DB" "SELECT COUNT(*), SUM(value IS NULL) FROM kpi_series WHERE kpi = 'silent'" "70|20"
expect "$DB" "SELECT period_start, n FROM kpi_series WHERE kpi = 'rising' AND period = '${DAY[3]}'" "${DAY[3]}|500"
expect "$DB" "SELECT state, since, target, deadline, projected > 0.08 FROM kpi_status WHERE kpi = 'slow'" "off_track|$(q "$DB" "SELECT since FROM kpi_status WHERE kpi='slow'")|0.1|2026-04-30|0"
expect "$DB" "SELECT since FROM kpi_status WHERE kpi = 'silent'" "${DAY[52]}"

# the table, exit codes, errors
run kpi -c "$CONF" --at "${DAY[69]}"
expect_eq "kpi with flagged KPIs exits 1" "$RC" 1
expect_eq "table lists every KPI" "$(grep -cE '^(plateau|rising|slow|falling|silent|weekly|adjusted) ' "$WORK/stdout")" 7
sed -n '/^\[kpi "rising"\]/,/^deadline/p' "$CONF" > "$WORK/rising.conf"
printf '[boussole]\ndb = %s\n[goal "signup"]\npath = ^/thank-you\n' "$DB" | cat - "$WORK/rising.conf" > "$WORK/one.conf"
run kpi -c "$WORK/one.conf" --at "${DAY[69]}"
expect_eq "kpi with nothing flagged exits 0" "$RC" 0
run kpi -c "$CONF" --at 2026-02-30
expect_eq "bad --at exits 2" "$RC" 2
expect_eq "bad --at is one line" "$(wc -l < "$WORK/stderr")" 1

# a failing alert_command is logged and changes nothing else
sed "s|^alert_command = .*|alert_command = exit 7|" "$CONF" > "$WORK/fail.conf"
cp "$DB" "$WORK/fail.db"
run kpi -c "$WORK/fail.conf" --db "$WORK/fail.db" --at 2026-04-10
expect_eq "failing alert_command: kpi still exits 1" "$RC" 1
expect_eq "failing alert_command is logged" "$([ "$(grep -c 'alert_command: exited with status 7' "$WORK/stderr")" -ge 1 ] && echo yes)" yes

# ---- adjustments: the table's words, --list, --remove, a date to come (issue 16)
run kpi -c "$CONF" --at "${DAY[69]}"
expect_eq "the table's <- has a legend" "$(grep -c '^<- flagged (stalled, declining, off_track or no_data)' "$WORK/stdout")" 1
expect_eq "the name is not repeated before its message" "$(grep -cE '^ *(plateau|adjusted): ' "$WORK/stdout" || true)" 0
expect_eq "the effect has a verdict in words" "$(grep -cE '^  effect: \+2\.0 pt, significant \(p<0\.001\): an improvement; ' "$WORK/stdout")" 1
expect_eq "the stalled KPI says what was tried and when" "$(tr '\n' ' ' < "$WORK/stdout" | tr -s ' ' | grep -c 'Tried so far: 1 recorded change, the last on 2026-02-19 ("new "promo" landing page"): +2.0 pt, significant')" 1
expect_eq "no p=0.000 in the table" "$(grep -c 'p=0\.000' "$WORK/stdout" || true)" 0
cp "$DB" "$WORK/adj.db"
run adjust -c "$CONF" --db "$WORK/adj.db" adjusted --note 'launch next month' --at 2099-01-01
expect_eq "an adjustment dated in the future exits 2" "$RC" 2
expect_eq "... with one line saying so" "$(wc -l < "$WORK/stderr")$(grep -c '^boussole adjust: --at 2099-01-01T00:00:00Z: in the future' "$WORK/stderr")" 11
expect "$WORK/adj.db" "SELECT COUNT(*) FROM adjustments" 1
run adjust -c "$CONF" --db "$WORK/adj.db" plateau --note 'typo: meant adjusted' --at "${DAY[60]}"
expect_eq "a mistaken adjustment is recorded" "$RC" 0
MISTAKE=$(q "$WORK/adj.db" "SELECT adjustment_id FROM adjustments WHERE kpi = 'plateau'")
run adjust -c "$CONF" --db "$WORK/adj.db" --list
expect_eq "--list exits 0" "$RC" 0
expect_eq "--list shows both, with ids" "$(grep -cE "^ +(1 +adjusted +2026-02-19T09:00:00Z +new \"promo\" landing page|$MISTAKE +plateau +${DAY[60]}T00:00:00Z +typo: meant adjusted)\$" "$WORK/stdout")" 2
expect_eq "--list gives each effect a verdict" "$(grep -cE '^ +effect: (\+2\.0 pt, significant \(p<0\.001\): an improvement|not measured yet)' "$WORK/stdout")" 2
run adjust -c "$CONF" --db "$WORK/adj.db" --list plateau
expect_eq "--list KPI shows that KPI's only" "$(grep -cE '^ +1 +adjusted' "$WORK/stdout")$(grep -c 'typo' "$WORK/stdout")" 01
run adjust -c "$CONF" --db "$WORK/adj.db" --remove "$MISTAKE"
expect_eq "--remove exits 0" "$RC" 0
expect_eq "--remove says what it removed" "$(grep -c "^boussole: adjustment removed: plateau at ${DAY[60]}T00:00:00Z: typo: meant adjusted\$" "$WORK/stdout")" 1
expect "$WORK/adj.db" "SELECT kpi FROM adjustments" adjusted
run adjust -c "$CONF" --db "$WORK/adj.db" --remove "$MISTAKE"
expect_eq "--remove of an unknown id exits 2 with one line" "$RC$(wc -l < "$WORK/stderr")" 21
run adjust -c "$CONF" --db "$WORK/adj.db" --remove x1
expect_eq "--remove of a non-number exits 2 with one line" "$RC$(wc -l < "$WORK/stderr")$(grep -c 'see boussole adjust --help' "$WORK/stderr")" 211
run adjust -c "$CONF" --db "$WORK/adj.db" --list --remove 1
expect_eq "--list with --remove exits 2" "$RC" 2
run adjust -c "$CONF" --db "$WORK/adj.db" --list --note x
expect_eq "--list with --note exits 2" "$RC" 2
run adjust --help
expect_eq "--help documents --list and --remove" "$(grep -cE '^      --(list|remove)' "$WORK/stdout")" 2

finish
