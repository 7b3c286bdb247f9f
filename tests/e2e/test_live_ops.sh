#!/usr/bin/env bash
# Live mode, operations (issue 3, "done means" 3 and 4, scope 4, 5, 7):
#  (a) another process holds a write lock on the database for 10 s while
#      lines arrive: reading pauses, resumes, and every line counts once;
#  (b) SIGHUP reloads the configuration: a new source starts, a removed one
#      stops, a kept one goes on without loss or duplicate; a broken config
#      is logged and the running one kept;
#  (c) a `listen = host:port` source counts RFC 3164 syslog lines over UDP;
#  (d) each line appended becomes visible in the views (latency printed,
#      not asserted: see bench/latency.sh for the figures).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
T0=$(now_ms)

# gen N SEED SITE: N generated lines
gen() { "$GENLOG" -n "$1" -s "$2" --days 1 --site "$3"; }
# hits_of DB SITE
hits_of() { local n; n=$(qs "$1" "SELECT COALESCE(SUM(hits),0) FROM traffic_daily WHERE site = '$2'"); echo "${n:-0}"; }
site_has() { [ "$(hits_of "$1" "$2")" -eq "$3" ]; }
# config DIR FLUSH [SECTION...]: writes DIR/boussole.conf
config() {
  local dir=$1 flush=$2
  shift 2
  {
    printf '[boussole]\ndb = %s/b.db\nflush_interval = %s\nmetrics_file = %s/b.prom\n' "$dir" "$flush" "$dir"
    local s
    for s in "$@"; do printf '\n%b\n' "$s"; done
  } > "$dir/boussole.conf.new"
  mv "$dir/boussole.conf.new" "$dir/boussole.conf"
}
section() { printf '[source "%s"]\\npath = %s\\nsite = %s' "$1" "$2" "$3"; }
stop_and_check() {
  run_stop
  expect_eq "$1: boussole run exits 0 within 2 s of SIGTERM" "$STOPPED" ok
}
fail_with_log() { echo "FAIL: $1"; echo "--- boussole log"; cat "$2"; exit 1; }

# ---------------------------------------------------------------- (a) lock
A=$WORK/lock
mkdir -p "$A/logs"
gen 5000 31 www.example.com > "$A/all.log"
config "$A" 200ms "$(section www "$A/logs/access.log*" www.example.com)"
head -n 1000 "$A/all.log" > "$A/logs/access.log"
run_start "$A/boussole.conf" "$A/run.log"
wait_until 20 site_has "$A/b.db" www.example.com 1000 || fail_with_log "(a) first 1000 lines not counted" "$A/run.log"

# an analyst's write transaction, held 10 s (it says "locked" once it has it)
{ echo "BEGIN IMMEDIATE;"; echo "SELECT 'locked';"; sleep 10; echo "COMMIT;"; } \
  | sqlite3 -batch "$A/b.db" > "$A/sqlite.out" 2>&1 &
LOCK_PID=$!
bg_track "$LOCK_PID"
lock_held() { grep -q locked "$A/sqlite.out"; }
wait_until 20 lock_held || { echo "FAIL: (a) sqlite3 did not take the lock"; cat "$A/sqlite.out"; exit 1; }
lock_at=$(now_ms)
for k in 1 2 3; do # 3 x 1000 lines during the lock, in bursts
  sed -n "$((k * 1000 + 1)),$((k * 1000 + 1000))p" "$A/all.log" >> "$A/logs/access.log"
  sleep 1
done
during=$(hits_of "$A/b.db" www.example.com) # readers are not blocked (WAL)
wait "$LOCK_PID" || true
echo "(a) lock held $((($(now_ms) - lock_at) / 1000)) s; hits visible during it: $during"
wait_until 30 site_has "$A/b.db" www.example.com 4000 \
  || echo "(a) counted $(hits_of "$A/b.db" www.example.com) of 4000 30 s after the lock"
sleep 0.5
stop_and_check "(a)"
expect "$A/b.db" "SELECT SUM(hits) FROM traffic_daily" 4000
expect "$A/b.db" "SELECT SUM(lines) FROM sources" 4000
expect_eq "(a) logged that reading paused" "$(logged "$A/run.log" 'reading paused' && echo yes)" yes
expect_eq "(a) logged that reading resumed" "$(logged "$A/run.log" 'reading resumed' && echo yes)" yes
echo "(a) $(grep -E 'paused|resumed' "$A/run.log" | sed 's/^[^ ]* //' | tr '\n' ' ')"
# SIGTERM while the lock is held: exit 0 within 2 s all the same; what could
# not be committed is read again by the next run, once
run_start "$A/boussole.conf" "$A/run.log"
started_twice() { [ "$(grep -c 'running with' "$A/run.log")" -ge 2 ]; }
wait_until 20 started_twice || true
{ echo "BEGIN IMMEDIATE;"; echo "SELECT 'locked';"; sleep 5; echo "COMMIT;"; } \
  | sqlite3 -batch "$A/b.db" > "$A/sqlite.out" 2>&1 &
LOCK_PID=$!
bg_track "$LOCK_PID"
wait_until 20 lock_held || { echo "FAIL: (a) sqlite3 did not take the lock again"; cat "$A/sqlite.out"; exit 1; }
sed -n '4001,5000p' "$A/all.log" >> "$A/logs/access.log"
sleep 1
stop_and_check "(a) SIGTERM during the lock"
echo "(a) SIGTERM during the lock: exit after ${STOP_MS:-?} ms"
wait "$LOCK_PID" || true
run_start "$A/boussole.conf" "$A/run.log"
wait_until 30 site_has "$A/b.db" www.example.com 5000 \
  || echo "(a) counted $(hits_of "$A/b.db" www.example.com) of 5000 after the restart"
sleep 0.5
stop_and_check "(a) restart"
expect "$A/b.db" "SELECT SUM(hits) FROM traffic_daily" 5000
ingest_ref() { "$BOUSSOLE" ingest -q --no-progress -c "$1/boussole.conf" --db "$1/ref.db" --site "$2" "$3"; }
ingest_ref "$A" www.example.com "$A/all.log"
expect_eq "(a) views == one clean ingest" \
  "$(cmp -s <(dump_views "$A/ref.db") <(dump_views "$A/b.db") && echo same || diff <(dump_views "$A/ref.db") <(dump_views "$A/b.db") | head -10)" same

# -------------------------------------------------------------- (b) SIGHUP
B=$WORK/hup
mkdir -p "$B/logs"
gen 800 41 a.example > "$B/a.all"
gen 500 42 b.example > "$B/b.all"
gen 300 43 c.example > "$B/c.all"
head -n 500 "$B/a.all" > "$B/logs/a.log"
head -n 400 "$B/b.all" > "$B/logs/b.log"
head -n 200 "$B/c.all" > "$B/logs/c.log" # there before C is configured
SA=$(section a "$B/logs/a.log" a.example)
SB=$(section b "$B/logs/b.log" b.example)
SC=$(section c "$B/logs/c.log" c.example)
config "$B" 200ms "$SA" "$SB"
run_start "$B/boussole.conf" "$B/run.log"
wait_until 20 site_has "$B/b.db" a.example 500 || fail_with_log "(b) A not read" "$B/run.log"
wait_until 20 site_has "$B/b.db" b.example 400 || fail_with_log "(b) B not read" "$B/run.log"
sed -n '401,500p' "$B/b.all" >> "$B/logs/b.log"
wait_until 20 site_has "$B/b.db" b.example 500 || fail_with_log "(b) B's append not read" "$B/run.log"
expect_eq "(b) C not read before it is configured" "$(hits_of "$B/b.db" c.example)" 0

config "$B" 200ms "$SA" "$SC" # B removed, C added
kill -HUP "$RUN_PID"
reloaded() { [ "$(grep -c 'reloading' "$B/run.log")" -ge "$1" ]; }
wait_until 20 reloaded 1 || fail_with_log "(b) SIGHUP not acted on" "$B/run.log"
sed -n '501,700p' "$B/a.all" >> "$B/logs/a.log"
printf '%s\n' "$(sed -n '1,50p' "$B/b.all")" >> "$B/logs/b.log" # B's later lines: not read
sed -n '201,250p' "$B/c.all" >> "$B/logs/c.log"
wait_until 20 site_has "$B/b.db" a.example 700 || echo "(b) A: $(hits_of "$B/b.db" a.example) of 700"
wait_until 20 site_has "$B/b.db" c.example 250 || echo "(b) C: $(hits_of "$B/b.db" c.example) of 250"

# a broken config: logged, the running one keeps going
printf '[boussole]\nflush_interval = soon\n[source "a"]\npath = %s\nbogus = 1\n' "$B/logs/a.log" > "$B/boussole.conf"
kill -HUP "$RUN_PID"
refused() { logged "$B/run.log" 'reload failed'; }
wait_until 20 refused || echo "(b) the broken config was not reported"
sed -n '701,800p' "$B/a.all" >> "$B/logs/a.log"
sed -n '251,300p' "$B/c.all" >> "$B/logs/c.log"
wait_until 20 site_has "$B/b.db" a.example 800 || echo "(b) A: $(hits_of "$B/b.db" a.example) of 800"
wait_until 20 site_has "$B/b.db" c.example 300 || echo "(b) C: $(hits_of "$B/b.db" c.example) of 300"
sleep 1.5 # one more rescan: B's late lines or a duplicate would show now
stop_and_check "(b)"
expect "$B/b.db" "SELECT site, SUM(hits) FROM traffic_daily GROUP BY site ORDER BY site" "a.example|800
b.example|500
c.example|300"
expect "$B/b.db" "SELECT source, lines FROM sources ORDER BY source" "a|800
b|500
c|300"
expect_eq "(b) the broken config was logged" "$(refused && echo yes)" yes
expect_eq "(b) the broken config names the bad key" "$(logged "$B/run.log" 'reload failed.*(flush_interval|bogus)' && echo yes)" yes
# A went on across both signals as if nothing happened
cp "$B/a.all" "$B/a.log.ref"
"$BOUSSOLE" ingest -q --no-progress --db "$B/ref.db" --site a.example "$B/a.log.ref"
expect_eq "(b) source A == one clean ingest of its lines" \
  "$(diff <(q "$B/ref.db" 'SELECT * FROM traffic_daily') <(q "$B/b.db" "SELECT * FROM traffic_daily WHERE site = 'a.example'") && echo same)" same

# -------------------------------------------------------------- (c) syslog
C=$WORK/syslog
mkdir -p "$C"
gen 40 51 s.example > "$C/all.log"
# bash's /dev/udp, else python3
send_udp() { # PORT MESSAGE
  if [ -z "${NO_DEV_UDP:-}" ] && (printf '%s' "$2" > "/dev/udp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
  NO_DEV_UDP=1
  python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))' "$1" "$2"
}
if ! (: > /dev/udp/127.0.0.1/9) 2>/dev/null && ! command -v python3 >/dev/null; then
  skip_part "(c) neither bash /dev/udp nor python3: syslog over UDP not checked"
else
  started=
  for attempt in 1 2 3 4 5 6 7 8; do
    PORT=$((20000 + RANDOM % 40000))
    config "$C" 200ms "[source \"syslog\"]\nlisten = 127.0.0.1:$PORT\nsite = s.example"
    : > "$C/run.log"
    run_start "$C/boussole.conf" "$C/run.log"
    listening_or_dead() { logged "$C/run.log" 'listening for syslog' || ! kill -0 "$RUN_PID" 2>/dev/null; }
    wait_until 20 listening_or_dead || true
    if logged "$C/run.log" 'listening for syslog'; then started=1; break; fi
    wait "$RUN_PID" 2>/dev/null || true # could not bind: another port
  done
  [ -n "$started" ] || fail_with_log "(c) no syslog listener" "$C/run.log"
  sent=0
  while IFS= read -r line; do
    # nginx's access_log syslog: "<190>Mmm dd hh:mm:ss host tag: line"
    send_udp "$PORT" "<190>Nov 26 06:30:00 web1 nginx: $line"
    sent=$((sent + 1))
    sleep 0.02
  done < "$C/all.log"
  # one with a trailing newline, as some senders do
  send_udp "$PORT" "<190>Nov 26 06:30:01 web1 nginx: $(tail -n 1 "$C/all.log")
"
  sent=$((sent + 1))
  wait_until 20 site_has "$C/b.db" s.example "$sent" || echo "(c) $(hits_of "$C/b.db" s.example) of $sent datagrams counted"
  stop_and_check "(c)"
  expect "$C/b.db" "SELECT SUM(hits) FROM traffic_daily" "$sent"
  expect "$C/b.db" "SELECT COALESCE(SUM(rejects), 0) FROM sources" 0
  expect "$C/b.db" "SELECT COUNT(*) FROM sources WHERE source = 'syslog' AND lines = $sent" 1
  # the header was stripped: the same statuses and pages as the lines themselves
  { cat "$C/all.log"; tail -n 1 "$C/all.log"; } > "$C/ref.log"
  "$BOUSSOLE" ingest -q --no-progress --db "$C/ref.db" --site s.example "$C/ref.log"
  expect_eq "(c) statuses == the lines ingested from a file" \
    "$(diff <(q "$C/ref.db" 'SELECT * FROM status_daily ORDER BY 1,2,3') <(q "$C/b.db" 'SELECT * FROM status_daily ORDER BY 1,2,3') && echo same)" same
  expect_eq "(c) pages == the lines ingested from a file" \
    "$(diff <(q "$C/ref.db" 'SELECT * FROM pages_daily ORDER BY 1,2,3') <(q "$C/b.db" 'SELECT * FROM pages_daily ORDER BY 1,2,3') && echo same)" same
fi

# ------------------------------------------------------------- (d) latency
D=$WORK/latency
mkdir -p "$D/logs"
config "$D" 200ms "$(section www "$D/logs/access.log" www.example.com)"
: > "$D/logs/access.log"
run_start "$D/boussole.conf" "$D/run.log"
wait_until 20 logged "$D/run.log" 'running with' || fail_with_log "(d) did not start" "$D/run.log"
visible() { [ "$(qs "$D/b.db" "SELECT COUNT(*) FROM pages_daily WHERE path = '$1'")" = 1 ]; }
lat=()
seen=0
for i in $(seq 1 10); do
  ts=$(date -u +%d/%b/%Y:%H:%M:%S)
  printf '10.0.%d.%d - - [%s +0000] "GET /probe/%d HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"\n' \
    $((i / 250)) $((i % 250 + 1)) "$ts" "$i" >> "$D/logs/access.log"
  t=$(now_ms)
  if wait_until 20 visible "/probe/$i"; then
    lat+=($(($(now_ms) - t)))
    seen=$((seen + 1))
  fi
done
stop_and_check "(d)"
expect_eq "(d) appended lines visible in pages_daily" "$seen" 10
expect "$D/b.db" "SELECT SUM(hits), SUM(pageviews) FROM traffic_daily" "10|10"
echo "(d) append-to-visible latencies (ms, flush_interval 200ms, not asserted): ${lat[*]}"

for d in "$A" "$B" "$C" "$D"; do
  if grep -E 'level=error' "$d/run.log" | grep -v 'reload failed'; then
    expect_eq "no unexpected error logged in $d" "see above" none
  fi
done
echo "took $((($(now_ms) - T0) / 1000)) s"
finish
