#!/usr/bin/env bash
# Monitoring while reading is paused (issue 12, item 5): when commits fail
# (another process holds the write lock), metrics_file must still be written
# at every flush tick from the state as it is: boussole_reading_paused 1,
# boussole_unread_bytes of every tracked file and of a file found but not yet
# opened.  Once the lock goes, everything is read once: every view equals a
# clean, in-order ingest.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
T0=$(now_ms)
SITE=www.example.com
D=$WORK/m
mkdir -p "$D/logs"
PROM=$D/b.prom
cat > "$D/b.conf" <<EOF
[boussole]
db = $D/b.db
flush_interval = 200ms
metrics_file = $PROM

[source "www"]
path = $D/logs/access.log*
site = $SITE
EOF
"$GENLOG" -n 8000 -s 71 --days 1 --site "$SITE" > "$D/all"
sed -n '1,3000p' "$D/all" > "$D/l1"
sed -n '3001,3100p' "$D/all" > "$D/l2"
sed -n '3101,6000p' "$D/all" > "$D/l3"
sed -n '6001,8000p' "$D/all" > "$D/l4"
"$BOUSSOLE" ingest -q --no-progress -c "$D/b.conf" --db "$D/clean.db" --site "$SITE" "$D/all"

cp "$D/l1" "$D/logs/access.log"
run_start "$D/b.conf" "$D/run.log"
wait_until 20 db_has_lines "$D/b.db" 3000 || { echo "FAIL: first lines not read"; cat "$D/run.log"; exit 1; }
metric_is() { [ "$(metric "$PROM" "$1")" = "$2" ]; }
wait_until 5 metric_is boussole_reading_paused 0 || true
expect_eq "metrics parse" "$(metrics_ok "$PROM" && echo ok)" ok

{ echo "BEGIN IMMEDIATE;"; echo "SELECT 'locked';"
  while [ ! -e "$D/unlock" ]; do sleep 0.1; done; echo "COMMIT;"; } \
  | sqlite3 -batch "$D/b.db" > "$D/sqlite.out" 2>&1 &
LOCK_PID=$!
bg_track "$LOCK_PID"
lock_held() { grep -q locked "$D/sqlite.out"; }
wait_until 20 lock_held || { echo "FAIL: sqlite3 did not take the lock"; cat "$D/sqlite.out"; exit 1; }
cat "$D/l2" >> "$D/logs/access.log" # read; its commit fails: paused
wait_until 20 logged "$D/run.log" 'reading paused' || echo "reading did not pause"
cat "$D/l3" >> "$D/logs/access.log" # not read while paused
B3=$(wc -c < "$D/l3")
wait_until 5 metric_is boussole_reading_paused 1 || true
expect_eq "paused: boussole_reading_paused" "$(metric "$PROM" boussole_reading_paused)" 1
wait_until 5 metric_is "boussole_unread_bytes{path=\"$D/logs/access.log\"}" "$B3" || true
expect_eq "paused: unread bytes of the tracked file" \
  "$(metric "$PROM" "boussole_unread_bytes{path=\"$D/logs/access.log\"}")" "$B3"
# a rotation while paused: the new file is found but cannot be opened yet
mv "$D/logs/access.log" "$D/logs/access.log.1"
cp "$D/l4" "$D/logs/access.log"
B4=$(wc -c < "$D/l4")
wait_until 5 metric_is "boussole_unread_bytes{path=\"$D/logs/access.log\"}" "$B4" || true
expect_eq "paused: unread bytes of the renamed file" \
  "$(metric "$PROM" "boussole_unread_bytes{path=\"$D/logs/access.log.1\"}")" "$B3"
expect_eq "paused: unread bytes of a file not opened yet" \
  "$(metric "$PROM" "boussole_unread_bytes{path=\"$D/logs/access.log\"}")" "$B4"
expect_eq "paused: metrics parse" "$(metrics_ok "$PROM" && echo ok)" ok
# the metrics file keeps being rewritten while paused
m0=$(stat -c %y "$PROM")
sleep 1
expect_eq "paused: metrics_file rewritten every flush tick" \
  "$([ "$(stat -c %y "$PROM")" != "$m0" ] && echo yes)" yes

touch "$D/unlock"
wait "$LOCK_PID" || true
wait_until 20 db_has_lines "$D/b.db" 8000 || echo "read $(lines_read "$D/b.db") of 8000 lines after the lock"
wait_until 5 metric_is boussole_reading_paused 0 || true
unread_zero() { ! grep '^boussole_unread_bytes' "$PROM" | grep -vq ' 0$'; }
wait_until 5 unread_zero || true
expect_eq "resumed: boussole_reading_paused" "$(metric "$PROM" boussole_reading_paused)" 0
expect_eq "resumed: nothing unread" "$(grep '^boussole_unread_bytes' "$PROM" | grep -v ' 0$' || echo none)" none
run_stop
expect_eq "boussole run exits 0" "$STOPPED" ok
expect "$D/b.db" "SELECT SUM(lines) FROM sources" 8000
expect_eq "every view == one clean in-order ingest" "$(views_compare "$D/clean.db" "$D/b.db")" same
echo "took $((($(now_ms) - T0) / 1000)) s"
finish
