#!/usr/bin/env bash
# `kpi --at` as a backtest (SPEC §8, issue 13 item 4): a day after today is
# refused (exit 2, one line) and changes nothing; a backtest after a real
# evaluation leaves the recorded state, alerts and series byte for byte,
# even as of today (whose end is still to come); a state stamped in the
# future by an older build does not freeze later real evaluations; and
# `kpi --reset` re-evaluates from scratch after a configuration change.
source "$(dirname "$0")/lib.sh"

run() { set +e; "$BOUSSOLE" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; RC=$?; set -e; }

# 12 days of traffic ending yesterday: 20 direct visits a day, 2 signups
TODAY=$(date -u +%F)
declare -a DAY
for d in $(seq 0 11); do DAY[d]=$(date -u -d "$TODAY -$((12 - d)) day" +%F); done
UA='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
for d in $(seq 0 11); do
  clf=$(date -u -d "${DAY[d]}" +%d/%b/%Y)
  for v in $(seq 1 20); do
    printf '10.0.%d.%d - - [%s:10:%02d:00 +0000] "GET /landing HTTP/1.1" 200 512 "-" "%s"\n' "$d" "$v" "$clf" "$v" "$UA"
    [ "$v" -le 2 ] && printf '10.0.%d.%d - - [%s:10:%02d:30 +0000] "GET /thank-you HTTP/1.1" 200 512 "-" "%s"\n' "$d" "$v" "$clf" "$v" "$UA"
  done
done > "$WORK/access.log"

DB=$WORK/k.db
SENT=$WORK/sent.jsonl
: > "$SENT"
printf '#!/bin/sh\ncat >> "%s"; echo >> "%s"\n' "$SENT" "$SENT" > "$WORK/notify.sh"
chmod +x "$WORK/notify.sh"
write_conf() {
  cat > "$WORK/k.conf" <<CONF
[boussole]
db = $DB
alert_command = $WORK/notify.sh
[goal "signup"]
path = ^/thank-you
[kpi "visits"]
metric = visits
target = $1
[kpi "signup-rate"]
metric = conversion_rate
goal = signup
target = 50%
[kpi "email-visits"]
metric = visits
filter = channel=email
CONF
}
write_conf 1000
"$BOUSSOLE" ingest -q -c "$WORK/k.conf" "$WORK/access.log"

snapshot() {
  q "$DB" "SELECT * FROM kpi_status ORDER BY kpi"
  q "$DB" "SELECT * FROM alerts ORDER BY alert_id"
  q "$DB" "SELECT * FROM kpi_series ORDER BY kpi, period"
}
sent() { grep -c . "$SENT" || true; }

# a real evaluation: visits stalled below target, email-visits no_data
run kpi -c "$WORK/k.conf"
expect_eq "real evaluation exits 1 (flagged)" "$RC" 1
expect "$DB" "SELECT kpi, state FROM kpi_status ORDER BY kpi" "email-visits|no_data
signup-rate|stalled
visits|stalled"
expect "$DB" "SELECT COUNT(*) FROM alerts WHERE resolved_at IS NULL" 3
expect_eq "3 alerts sent" "$(sent)" 3
snapshot > "$WORK/real.snap"

# a day after today: refused before anything is touched
for at in 2030-01-01 "$(date -u -d "$TODAY +1 day" +%F)"; do
  run kpi -c "$WORK/k.conf" --at "$at"
  expect_eq "--at $at exits 2" "$RC" 2
  expect_eq "--at $at: one line" "$(wc -l < "$WORK/stderr")" 1
  expect_eq "--at $at: names the date and today" "$(grep -c -- "--at $at: .*after today ($TODAY" "$WORK/stderr")" 1
  expect_eq "--at $at: nothing on stdout" "$(wc -c < "$WORK/stdout")" 0
  snapshot > "$WORK/after.snap"
  expect_eq "--at $at: kpi_status, alerts, kpi_series unchanged" "$(cmp -s "$WORK/real.snap" "$WORK/after.snap" && echo same)" same
  expect_eq "--at $at: no alert sent" "$(sent)" 3
done

# backtests of the past and of today only report
for at in "${DAY[3]}" "${DAY[11]}" "$TODAY"; do
  run kpi -c "$WORK/k.conf" --json --at "$at"
  expect_eq "--at $at runs" "$([ "$RC" -le 1 ] && echo ok)" ok
  expect_eq "--at $at: as of that day" "$(jq -r .as_of "$WORK/stdout")" "$at"
  snapshot > "$WORK/after.snap"
  expect_eq "--at $at: recorded state left as the real evaluation made it" "$(cmp -s "$WORK/real.snap" "$WORK/after.snap" && echo same)" same
  expect_eq "--at $at: no alert sent" "$(sent)" 3
done
run kpi -c "$WORK/k.conf" --json --at "${DAY[3]}"
expect_eq "an early backtest sees its own past" "$(jq -r '.kpis[] | select(.kpi == "visits") | .state' "$WORK/stdout")" insufficient

# a state stamped in the future (as `--at 2030-01-01` did before) does not
# freeze the real evaluations
sqlite3 "$DB" "UPDATE kpi_state SET evaluated_unix = 1893542400, evaluated_at = '2030-01-02T00:00:00Z'"
run kpi -c "$WORK/k.conf"
expect_eq "real evaluation after a future stamp exits 1" "$RC" 1
expect "$DB" "SELECT COUNT(*) FROM kpi_status WHERE evaluated_at LIKE '$TODAY%'" 3
expect_eq "no alert repeated" "$(sent)" 3

# --reset: after a configuration change, start from scratch
run kpi --help
expect_eq "--help documents --reset" "$(grep -c -- "^      --reset " "$WORK/stdout")" 1
write_conf 10
run kpi -c "$WORK/k.conf" --reset
expect_eq "kpi --reset exits 1 (email-visits still no_data)" "$RC" 1
expect_eq "--reset says what it cleared" "$(grep -c 'reset 3 KPIs' "$WORK/stderr")" 1
expect "$DB" "SELECT kpi, state, target FROM kpi_status ORDER BY kpi" "email-visits|no_data|
signup-rate|stalled|0.5
visits|met|10.0"
# the alerts of the old definitions are closed as reset, without a message;
# still-flagged KPIs raise anew
expect "$DB" "SELECT kpi, resolved_state FROM alerts WHERE resolved_at IS NOT NULL ORDER BY kpi" "email-visits|reset
signup-rate|reset
visits|reset"
expect "$DB" "SELECT kpi, state FROM alerts WHERE resolved_at IS NULL ORDER BY kpi" "email-visits|no_data
signup-rate|stalled"
expect_eq "two new raises sent, no resolve" "$(sent)|$(grep -c '"resolved"' "$SENT" || true)" "5|0"
expect "$DB" "SELECT COUNT(*) > 10 AND COUNT(*) = (SELECT COUNT(*) FROM kpi_series WHERE kpi = 'signup-rate') FROM kpi_series WHERE kpi = 'visits'" 1

finish
