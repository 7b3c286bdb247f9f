#!/usr/bin/env bash
# The first days of a deployment (SPEC §8, issue 13 item 5): a KPI whose data
# began fewer than 3 periods ago is `insufficient`, never `no_data` - no
# "tracking may be broken" alert on day one, for the whole site as for a
# segment that has not been seen yet.  From the third closed period on, a
# silent segment is no_data again.
source "$(dirname "$0")/lib.sh"

run() { set +e; "$BOUSSOLE" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; RC=$?; set -e; }
UA='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
TODAY=$(date -u +%F)

# visits DAYS_AGO...: 10 direct visits on each of those days (0 = today)
log_days() {
  for ago in "$@"; do
    clf=$(date -u -d "$TODAY -$ago day" +%d/%b/%Y)
    for v in $(seq 1 10); do
      printf '10.1.%d.%d - - [%s:00:%02d:00 +0000] "GET / HTTP/1.1" 200 512 "-" "%s"\n' "$ago" "$v" "$clf" "$v" "$UA"
    done
  done
}

# case NAME DAYS_AGO...: a fresh database with traffic on those days
setup() {
  DB=$WORK/$1.db
  shift
  log_days "$@" > "$WORK/access.log"
  cat > "$WORK/k.conf" <<CONF
[boussole]
db = $DB
alert_command = cat >> $WORK/sent.jsonl
[goal "signup"]
path = ^/thank-you
[kpi "visits"]
metric = visits
[kpi "signup-rate"]
metric = conversion_rate
goal = signup
[kpi "email-visits"]
metric = visits
filter = channel=email
[kpi "weekly-visits"]
metric = visits
period = week
CONF
  : > "$WORK/sent.jsonl"
  "$BOUSSOLE" ingest -q -c "$WORK/k.conf" "$WORK/access.log"
}

for days in "0" "1" "2 1" "2" "1 0"; do
  setup "d${days// /_}" $days
  run kpi -c "$WORK/k.conf" --json
  expect_eq "data from day(s) ago [$days]: kpi exits 0" "$RC" 0
  expect_eq "data from day(s) ago [$days]: every KPI insufficient" \
    "$(jq -r '[.kpis[].state] | unique | join(",")' "$WORK/stdout")" insufficient
  expect_eq "data from day(s) ago [$days]: no 'no data' message" "$(grep -c 'no data' "$WORK/stdout" || true)" 0
  expect "$DB" "SELECT COUNT(*) FROM alerts" 0
  expect_eq "data from day(s) ago [$days]: nothing sent" "$(wc -c < "$WORK/sent.jsonl")" 0
  expect "$DB" "SELECT DISTINCT state FROM kpi_status" insufficient
done

# three closed days or more since the data began, not one email visit: now
# the segment is silent
setup d3 4 3 2
run kpi -c "$WORK/k.conf" --json
expect_eq "3 closed periods: exits 1" "$RC" 1
expect_eq "3 closed periods: the silent segment is no_data" \
  "$(jq -r '.kpis[] | "\(.kpi)=\(.state)"' "$WORK/stdout" | sort | tr '\n' ' ')" \
  "email-visits=no_data signup-rate=insufficient visits=insufficient weekly-visits=insufficient "
expect "$DB" "SELECT kpi, state FROM alerts" "email-visits|no_data"

finish
