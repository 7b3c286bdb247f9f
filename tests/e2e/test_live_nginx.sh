#!/usr/bin/env bash
# Live mode against a real nginx (issue 3, "done means" 1): boussole run
# tails nginx's access log while requests flow and the real logrotate
# rotates it twice - once create + compress + delaycompress with a
# postrotate USR1 (nginx reopens its logs), once copytruncate.  At the end
# traffic_daily.hits must equal the lines nginx wrote across every
# generation (no loss, no duplicate), SIGTERM must stop it with status 0
# within 2 s, and metrics_file must be valid Prometheus text.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
for tool in nginx curl logrotate gzip; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

T0=$(now_ms)
mkdir -p "$WORK/logs" "$WORK/tmp"
DB=$WORK/b.db
LOG=$WORK/boussole.log

# ---- nginx, in the work dir, on a free port of 127.0.0.1 ----
NGINX_PID=
start_nginx() {
  local port=$1
  local user_line=
  [ "$(id -u)" -eq 0 ] && user_line="user root;"
  cat > "$WORK/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 256; }
http {
  access_log $WORK/logs/access.log combined;
  client_body_temp_path $WORK/tmp/body;
  proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi;
  uwsgi_temp_path $WORK/tmp/uwsgi;
  scgi_temp_path $WORK/tmp/scgi;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$port;
    location / { return 200 "ok\n"; }
    location = /missing { return 404; }
  }
}
EOF
  rm -f "$WORK/nginx.pid"
  # (its output away from the test's: a worker must not hold the test's stdout)
  nginx -p "$WORK/" -c "$WORK/nginx.conf" -e "$WORK/error.log" \
    </dev/null >>"$WORK/error.log" 2>&1 &
  NGINX_PID=$!
  # up when the pid file exists and the port answers
  local i
  for i in $(seq 1 100); do
    kill -0 "$NGINX_PID" 2>/dev/null || return 1
    if [ -s "$WORK/nginx.pid" ] && curl -s -o /dev/null "http://127.0.0.1:$port/ready"; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}
# nginx stops with its workers on SIGTERM (a SIGKILL would orphan them)
stop_nginx() {
  [ -n "$NGINX_PID" ] || return 0
  kill -TERM "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
  NGINX_PID=
}
PRE_CLEANUP=stop_nginx
PORT=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  p=$((20000 + RANDOM % 40000))
  if start_nginx "$p"; then PORT=$p; break; fi
  stop_nginx
done
[ -n "$PORT" ] || { echo "FAIL: nginx did not start"; cat "$WORK/error.log"; exit 1; }
echo "nginx on 127.0.0.1:$PORT"

# ---- boussole run ----
cat > "$WORK/boussole.conf" <<EOF
[boussole]
db = $DB
flush_interval = 200ms
metrics_file = $WORK/boussole.prom

[source "www"]
path = $WORK/logs/access.log*
site = www.example.com
EOF
run_start "$WORK/boussole.conf" "$LOG"
# the first line (the readiness probe) is read: boussole is watching
wait_until 20 db_has_hits "$DB" 1 || { echo "FAIL: boussole did not read the first line"; cat "$LOG"; exit 1; }

# ---- traffic: a background loop of curl batches (keep-alive, 25 per call) ----
UAS=("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
     "curl/7.88.1")
REFS=("-" "https://www.google.com/" "https://t.co/abc" "https://www.example.com/")
traffic() {
  local batch=0 i urls
  while [ ! -e "$WORK/stop-traffic" ]; do
    urls=()
    for i in $(seq 1 25); do
      urls+=(-o /dev/null "http://127.0.0.1:$PORT/page/$batch/$i?utm_source=t$((i % 3))")
    done
    [ $((batch % 7)) -eq 3 ] && urls+=(-o /dev/null "http://127.0.0.1:$PORT/missing")
    curl -s -w '%{http_code}\n' -A "${UAS[$((batch % 4))]}" \
      -e "${REFS[$((batch % 4))]}" "${urls[@]}" >> "$WORK/codes" || true
    batch=$((batch + 1))
    sleep 0.02
  done
}
: > "$WORK/codes"
traffic &
TRAFFIC_PID=$!
bg_track "$TRAFFIC_PID"
responses() { wc -l < "$WORK/codes"; }
at_least_responses() { [ "$(responses)" -ge "$1" ]; }

# ---- two rotations with the real logrotate while traffic flows ----
cat > "$WORK/rotate-create.conf" <<EOF
$WORK/logs/access.log {
  rotate 10
  create 0640
  compress
  delaycompress
  missingok
  postrotate
    kill -USR1 \$(cat $WORK/nginx.pid)
  endscript
}
EOF
cat > "$WORK/rotate-copytruncate.conf" <<EOF
$WORK/logs/access.log {
  rotate 10
  copytruncate
  compress
  delaycompress
  missingok
}
EOF
wait_until 30 at_least_responses 1000 || { echo "FAIL: no traffic"; cat "$WORK/error.log"; exit 1; }
logrotate -f -s "$WORK/logrotate.state" "$WORK/rotate-create.conf" \
  || { echo "FAIL: logrotate (create) failed"; exit 1; }
n1=$(responses)
wait_until 30 at_least_responses $((n1 + 1000)) || { echo "FAIL: traffic stopped after the first rotation"; exit 1; }
logrotate -f -s "$WORK/logrotate.state" "$WORK/rotate-copytruncate.conf" \
  || { echo "FAIL: logrotate (copytruncate) failed"; exit 1; }
n2=$(responses)
wait_until 30 at_least_responses $((n2 + 1000)) || { echo "FAIL: traffic stopped after the second rotation"; exit 1; }
touch "$WORK/stop-traffic"
wait "$TRAFFIC_PID" 2>/dev/null || true
ls -l "$WORK/logs"

# ---- what nginx wrote, across all generations ----
written=0
for f in "$WORK"/logs/access.log*; do
  written=$((written + $(zcat -f "$f" | wc -l)))
done
answered=$(grep -vc '^000$' "$WORK/codes" || true)
served=$((answered + 1)) # + the readiness probe
echo "requests served: $served, lines in all generations: $written"
# nginx writes one line per request it serves.  copytruncate loses from the
# files the lines written between logrotate's copy and its truncate (its own
# window, a few lines at most); boussole may have read them from the live
# file before the truncate, and then rightly counts them: what nginx wrote
# is what was served, and the files hold between that less the window and it.
[ "$written" -le "$served" ] && [ "$written" -ge $((served - 200)) ] \
  || { echo "FAIL: nginx wrote $written lines for $served requests"; exit 1; }
[ "$written" -lt "$served" ] && echo "note: logrotate's copytruncate window lost $((served - written)) lines from the files"

# ---- boussole caught up: every line, then a clean stop ----
# (.gz files are looked at 2 s after their last change)
# Every line counts once: the lines of all generations, plus those of the
# copytruncate window that boussole read before the truncate, never more
# than were written.
caught_up() { local h; h=$(hits_counted "$DB"); [ "$h" -ge "$written" ] && [ "$(lines_read "$DB")" -eq "$h" ]; }
if ! wait_until 40 caught_up; then
  echo "boussole counted $(hits_counted "$DB") of $written after 40 s"
fi
sleep 2.5 # a .gz is looked at 2 s after its last change: a late duplicate would show up here
run_stop
expect_eq "boussole run exits 0 within 2 s of SIGTERM" "$STOPPED" ok
echo "SIGTERM to exit: ${STOP_MS:-?} ms"
hits=$(q "$DB" "SELECT SUM(hits) FROM traffic_daily")
echo "boussole counted $hits hits"
expect_eq "no line lost: hits >= lines in all generations ($written)" "$([ "$hits" -ge "$written" ] && echo yes || echo "no: $hits")" yes
expect_eq "no line counted twice: hits <= requests served ($served)" "$([ "$hits" -le "$served" ] && echo yes || echo "no: $hits")" yes
if [ "$written" -eq "$served" ]; then
  expect "$DB" "SELECT SUM(hits) FROM traffic_daily" "$written"
fi
expect "$DB" "SELECT SUM(hits) FROM status_daily" "$hits"
expect "$DB" "SELECT SUM(lines), SUM(rejects) FROM sources" "$hits|0"
expect "$DB" "SELECT DISTINCT source FROM sources" "www"
# one row per generation nginx wrote to (access.log, .1, .2.gz): the
# compressed and copied files were recognized, not added
gens=0
for f in "$WORK"/logs/access.log*; do [ -s "$f" ] && gens=$((gens + 1)); done
expect "$DB" "SELECT COUNT(*) FROM sources" "$gens"
expect "$DB" "SELECT COUNT(*) FROM status_daily WHERE status = 404 AND hits > 0" "1"

# ---- metrics ----
PROM=$WORK/boussole.prom
expect_eq "metrics_file exists and parses" "$(metrics_ok "$PROM" && echo ok || { echo bad; cat "$PROM"; })" ok
expect_eq "metrics lines_total" "$(metric "$PROM" 'boussole_lines_total{source="www"}')" "$hits"
expect_eq "metrics hits_total" "$(metric "$PROM" 'boussole_hits_total{source="www"}')" "$hits"
expect_eq "metrics rejects_total" "$(metric "$PROM" 'boussole_rejects_total{source="www"}')" "0"

# nothing went wrong on the way
# (the copytruncate copy is rightly skipped with a warning when boussole had
# read the live file past the copy's end)
if grep -E 'level=(error|warn)' "$LOG" | grep -v 'shorter than what was already read'; then
  expect_eq "no error or warning logged" "see above" "none"
fi
grep -q 'was truncated' "$LOG" || echo "note: the copytruncate was not seen as a truncation (read before it happened)"
echo "took $((($(now_ms) - T0) / 1000)) s"
[ "$FAILS" -ne 0 ] && { echo "--- boussole log"; cat "$LOG"; }
finish
