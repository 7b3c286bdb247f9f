#!/usr/bin/env bash
# alert_command as a daemon must run it (issue 13 item 7): its output is
# captured - capped at 64 KiB, one prefixed log line per line of output,
# control characters escaped - so a command printing 30 MB cannot flood or
# forge the log; what it starts is killed when it exits, even a grandchild
# that left the process group with setsid; and a failed delivery is
# recorded in the alerts view (delivery, delivery_attempts, last_error,
# delivered_at), retried by the next `kpi`, then delivered once.  `run`
# delivers detached and records the outcome the same way.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"

run() { set +e; "$BOUSSOLE" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; RC=$?; set -e; }
UA='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
TODAY=$(date -u +%F)

# 10 days of direct traffic ending yesterday: the email segment is silent,
# so its KPI is no_data and the first evaluation raises one alert
for ago in $(seq 10 -1 1); do
  clf=$(date -u -d "$TODAY -$ago day" +%d/%b/%Y)
  for v in 1 2 3; do
    printf '10.2.%d.%d - - [%s:09:0%d:00 +0000] "GET / HTTP/1.1" 200 512 "-" "%s"\n' "$ago" "$v" "$clf" "$v" "$UA"
  done
done > "$WORK/access.log"
base_conf() { # base_conf DB COMMAND
  printf '[boussole]\ndb = %s\nalert_command = %s\nflush_interval = 200ms\n' "$1" "$2"
  printf '[source "www"]\npath = %s/access.log\n' "$WORK"
  printf '[kpi "email-visits"]\nmetric = visits\nfilter = channel=email\n'
}
base_conf "$WORK/base.db" true > "$WORK/base.conf"
"$BOUSSOLE" ingest -q -c "$WORK/base.conf"

# ---- a command that floods its output and tries to forge log lines ----
cat > "$WORK/flood.sh" <<'SH'
#!/bin/sh
cat > /dev/null
echo 'first line'
echo '2026-01-01T00:00:00Z level=error msg="forged by the command"'
printf 'esc \033[31mred\033[0m bell \007 tab\tend\n'
head -c 30000000 /dev/zero | tr '\0' x
printf '\nlast line\n'
SH
chmod +x "$WORK/flood.sh"
cp "$WORK/base.db" "$WORK/flood.db"
base_conf "$WORK/flood.db" "$WORK/flood.sh" > "$WORK/flood.conf"
t0=$(now_ms)
run kpi -c "$WORK/flood.conf"
expect_eq "flood: kpi exits 1 (no_data)" "$RC" 1
expect_eq "flood: done within 10 s" "$([ $(($(now_ms) - t0)) -lt 10000 ] && echo yes)" yes
ERR=$WORK/stderr
expect_eq "flood: the log stays under 100 KB" "$([ "$(wc -c < "$ERR")" -lt 100000 ] && echo yes || wc -c < "$ERR")" yes
expect_eq "flood: every log line is boussole's" "$(grep -vc '^boussole' "$ERR" || true)" 0
expect_eq "flood: output lines carry the delivery's prefix" \
  "$(grep -c '^boussole: alert [0-9]* raised: alert_command output: first line$' "$ERR")" 1
expect_eq "flood: a forged line is only ever shown prefixed" \
  "$(grep -c '^2026-01-01T00:00:00Z' "$ERR" || true)|$(grep -c 'alert_command output: 2026-01-01T00:00:00Z level=error msg="forged by the command"$' "$ERR")" "0|1"
expect_eq "flood: no raw control byte" "$(LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$ERR" || true)" 0
expect_eq "flood: control characters escaped" "$(grep -c -F 'alert_command output: esc \x1b[31mred\x1b[0m bell \x07 tab\tend' "$ERR")" 1
expect_eq "flood: the cut is said" "$(grep -c 'bytes of output not logged (64 KiB logged)' "$ERR")" 1
expect "$WORK/flood.db" "SELECT delivery, delivery_attempts, delivered_at IS NOT NULL, last_error IS NULL FROM alerts" "delivered|1|1|1"

# ---- a command that leaves processes behind, one of them in its own session ----
M=$((RANDOM % 9000 + 1000))
cat > "$WORK/detach.sh" <<SH
#!/bin/sh
cat > /dev/null
setsid sleep 7${M}1 &
setsid sh -c 'sleep 7${M}2 & exec sleep 7${M}3' &
sleep 7${M}4 &
echo handed over
SH
chmod +x "$WORK/detach.sh"
leftovers() { pgrep -f "sleep 7${M}[1-4]" || true; }
cleanup_leftovers() { local p; for p in $(leftovers); do kill -9 "$p" 2>/dev/null || true; done; }
PRE_CLEANUP=cleanup_leftovers
cp "$WORK/base.db" "$WORK/detach.db"
base_conf "$WORK/detach.db" "$WORK/detach.sh" > "$WORK/detach.conf"
t0=$(now_ms)
run kpi -c "$WORK/detach.conf"
expect_eq "detach: kpi exits 1" "$RC" 1
expect_eq "detach: kpi does not wait for the leftovers (< 5 s)" "$([ $(($(now_ms) - t0)) -lt 5000 ] && echo yes)" yes
sleep 0.3
expect_eq "detach: nothing it started survives, setsid or not" "$(leftovers | wc -l)" 0
expect "$WORK/detach.db" "SELECT delivery FROM alerts" delivered
cleanup_leftovers

# ---- a command that fails, is retried, then succeeds ----
cat > "$WORK/flaky.sh" <<SH
#!/bin/sh
cat > "$WORK/last.json"
[ -e "$WORK/ok" ] || { echo 'smtp: connection refused' >&2; exit 1; }
cat "$WORK/last.json" >> "$WORK/delivered.jsonl"
SH
chmod +x "$WORK/flaky.sh"
: > "$WORK/delivered.jsonl"
cp "$WORK/base.db" "$WORK/flaky.db"
base_conf "$WORK/flaky.db" "$WORK/flaky.sh" > "$WORK/flaky.conf"
run kpi -c "$WORK/flaky.conf"
expect_eq "fail: kpi still exits 1" "$RC" 1
expect_eq "fail: the failure is logged with its attempt" "$(grep -c 'alert_command: exited with status 1: smtp: connection refused (attempt 1 of 10' "$WORK/stderr")" 1
expect "$WORK/flaky.db" "SELECT delivery, delivery_attempts, delivered_at IS NULL, last_error, next_attempt_at IS NOT NULL FROM alerts" \
  "pending|1|1|exited with status 1: smtp: connection refused|1"
run kpi -c "$WORK/flaky.conf"
expect "$WORK/flaky.db" "SELECT delivery, delivery_attempts FROM alerts" "pending|2"
expect_eq "fail: no repeat of the alert itself" "$(q "$WORK/flaky.db" "SELECT COUNT(*) FROM alerts")" 1
touch "$WORK/ok"
run kpi -c "$WORK/flaky.conf"
expect "$WORK/flaky.db" "SELECT delivery, delivery_attempts, delivered_at IS NOT NULL, last_error IS NULL, next_attempt_at IS NULL FROM alerts" "delivered|3|1|1|1"
expect_eq "fail: delivered once, the original alert" \
  "$(jq -r '"\(.event) \(.kpi) \(.alert_id)"' "$WORK/delivered.jsonl")" "raised email-visits $(q "$WORK/flaky.db" "SELECT alert_id FROM alerts")"
run kpi -c "$WORK/flaky.conf"
expect_eq "fail: not sent again once delivered" "$(wc -l < "$WORK/delivered.jsonl")" 1

# one attempt per delivery and `kpi` run, even while others get through
cat > "$WORK/picky.sh" <<'SH'
#!/bin/sh
grep -q '"kpi":"email-visits"' && exit 1
exit 0
SH
chmod +x "$WORK/picky.sh"
cp "$WORK/base.db" "$WORK/picky.db"
{ base_conf "$WORK/picky.db" "$WORK/picky.sh"; printf '[kpi "paid-visits"]\nmetric = visits\nfilter = channel=paid\n'; } > "$WORK/picky.conf"
run kpi -c "$WORK/picky.conf"
expect "$WORK/picky.db" "SELECT kpi, delivery, delivery_attempts FROM alerts ORDER BY kpi" "email-visits|pending|1
paid-visits|delivered|1"

# ---- run: delivered detached, output prefixed, outcome recorded ----
cat > "$WORK/chatty.sh" <<'SH'
#!/bin/sh
cat > /dev/null
echo 'level=error msg="forged in run"'
SH
chmod +x "$WORK/chatty.sh"
cp "$WORK/base.db" "$WORK/run.db"
base_conf "$WORK/run.db" "$WORK/chatty.sh" > "$WORK/run.conf"
run_start "$WORK/run.conf" "$WORK/run.log"
delivered() { [ "$(qs "$WORK/run.db" "SELECT delivery FROM alerts")" = delivered ]; }
wait_until 20 delivered || echo "run: no delivery recorded"
run_stop
expect_eq "run: exits 0" "$STOPPED" ok
expect "$WORK/run.db" "SELECT delivery, delivery_attempts FROM alerts" "delivered|1"
expect_eq "run: the command's output is prefixed" "$(grep -c '^boussole: alert [0-9]* raised: alert_command output: level=error msg="forged in run"$' "$WORK/run.log")" 1
expect_eq "run: never unprefixed" "$(grep -c '^level=error' "$WORK/run.log" || true)" 0

finish
