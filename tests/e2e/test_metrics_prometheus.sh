#!/usr/bin/env bash
# metrics_file as Prometheus tooling reads it (issue 17): the file `run`
# writes passes `promtool check metrics` (HELP and TYPE for every metric,
# counters ending in _total), carries the KPI state set, the flagged count,
# failed alert deliveries, visits closed early by the cap and the time of
# the last successful commit; and a real node_exporter serves the boussole
# series from it through its textfile collector.  Each tool missing skips
# its part with a message (Debian: prometheus, prometheus-node-exporter).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
D=$WORK/p
mkdir -p "$D/logs" "$D/textfile"
PROM=$D/textfile/boussole.prom
cat > "$D/alert" <<'EOF'
#!/bin/sh
cat >/dev/null
exit 3
EOF
chmod +x "$D/alert"
# A day of traffic, long closed: both KPIs have no observation in their
# last 3 periods (no_data, flagged), so alerts are raised and alert_command,
# which fails, counts delivery failures.  The visit cap at its minimum, with
# a long session_timeout keeping a day's visitors open, closes visits early.
cat > "$D/b.conf" <<EOF
[boussole]
db = $D/b.db
flush_interval = 200ms
metrics_file = $PROM
max_open_visits = 1000
session_timeout = 12h
alert_command = $D/alert

[source "www"]
path = $D/logs/access.log*
site = www.example.com

[kpi "pageviews"]
metric = pageviews

[kpi "email-visits"]
metric = visits
filter = channel=email
EOF
"$GENLOG" -n 40000 -s 5 --days 1 > "$D/logs/access.log"
run_start "$D/b.conf" "$D/run.log"
wait_until 60 db_has_lines "$D/b.db" 40000 || { echo "FAIL: lines not read"; cat "$D/run.log"; exit 1; }
failures() { local v; v=$(metric "$PROM" boussole_alert_delivery_failures_total); [ "${v:-0}" -ge 1 ]; }
wait_until 20 failures || echo "no alert delivery failure counted: $(grep -i alert "$D/run.log" | head -3)"
flagged_two() { [ "$(metric "$PROM" boussole_kpis_flagged)" = 2 ]; }
wait_until 10 flagged_two || true
cp "$PROM" "$D/snapshot.prom"
S=$D/snapshot.prom

expect_eq "the file parses" "$(metrics_ok "$S" && echo ok)" ok
# every metric has HELP and TYPE, counters end in _total
expect_eq "metrics without HELP" \
  "$(awk '/^# HELP/ { h[$3] = 1 } /^# TYPE/ { t[$3] = $4 } !/^#/ { n = $1; sub(/\{.*/, "", n); if (!h[n]) print n }' "$S" | sort -u)" ""
expect_eq "counters not ending in _total" \
  "$(awk '/^# TYPE/ && $4 == "counter" && $3 !~ /_total$/ { print $3 }' "$S")" ""
expect_eq "KPI state set: pageviews is no_data" \
  "$(metric "$S" 'boussole_kpi_state{kpi="pageviews",state="no_data"}')" 1
expect_eq "KPI state set: one state at 1 per KPI" \
  "$(awk '/^boussole_kpi_state\{/ && $2 == 1 { n++ } END { print n + 0 }' "$S")" 2
expect_eq "KPI state set: 8 states per KPI" "$(grep -c '^boussole_kpi_state{' "$S")" 16
expect_eq "KPI state set: email-visits is no_data" \
  "$(metric "$S" 'boussole_kpi_state{kpi="email-visits",state="no_data"}')" 1
expect_eq "boussole_kpis_flagged" "$(metric "$S" boussole_kpis_flagged)" 2
expect_eq "failed alert deliveries counted" \
  "$(awk '$1 == "boussole_alert_delivery_failures_total" && $2 >= 1 { print "yes" }' "$S")" yes
expect_eq "visits closed early by max_open_visits" \
  "$(awk '$1 == "boussole_visits_closed_early_total" && $2 > 0 { print "yes" }' "$S")" yes
expect_eq "boussole_open_visits_limit" "$(metric "$S" boussole_open_visits_limit)" 1000
expect_eq "last successful commit is recent" \
  "$(awk -v now="$(date +%s)" '$1 == "boussole_last_commit_success_timestamp_seconds" && now - $2 < 60 { print "yes" }' "$S")" yes
expect_eq "lines per source" "$(metric "$S" 'boussole_lines_total{source="www"}')" 40000

if command -v promtool >/dev/null; then
  if out=$(promtool check metrics < "$S" 2>&1); then prc=0; else prc=$?; fi
  echo "promtool check metrics: exit $prc${out:+: $out}"
  expect_eq "promtool check metrics exit status" "$prc" 0
  expect_eq "promtool check metrics output" "$out" ""
else
  skip_part "promtool not installed (Debian package prometheus)"
fi

NE=$(command -v prometheus-node-exporter || command -v node_exporter || true)
if [ -n "$NE" ] && command -v curl >/dev/null; then
  served() { curl -fsS "http://127.0.0.1:$PORT/metrics" > "$D/served" 2>/dev/null; }
  up=
  for attempt in 1 2 3; do
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$NE" --collector.disable-defaults --collector.textfile \
      --collector.textfile.directory="$D/textfile" \
      --web.listen-address="127.0.0.1:$PORT" > "$D/ne.log" 2>&1 &
    NE_PID=$!
    bg_track "$NE_PID"
    if wait_until 10 served; then up=1; break; fi
    kill "$NE_PID" 2>/dev/null || true
  done
  if [ -n "$up" ]; then
    # the file is rewritten at every flush: wait for a scrape of it
    expect_eq "node_exporter serves boussole_kpis_flagged" \
      "$(awk '$1 == "boussole_kpis_flagged" { print $2 }' "$D/served")" 2
    expect_eq "node_exporter serves the KPI state set" \
      "$(grep -c '^boussole_kpi_state{' "$D/served")" 16
    expect_eq "node_exporter serves the per-source counters" \
      "$(awk '$1 == "boussole_lines_total{source=\"www\"}" { print $2 }' "$D/served")" 40000
    expect_eq "node_exporter reports no textfile error" \
      "$(awk '$1 == "node_textfile_scrape_error" { print $2 }' "$D/served")" 0
  else
    echo "FAIL: node_exporter did not serve /metrics"; cat "$D/ne.log"
    expect_eq "node_exporter started" no yes
  fi
else
  skip_part "prometheus-node-exporter or curl not installed"
fi

run_stop
expect_eq "run stopped cleanly" "$STOPPED" ok
expect_eq "final metrics parse" "$(metrics_ok "$PROM" && echo ok)" ok
finish
