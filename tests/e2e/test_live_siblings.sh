#!/usr/bin/env bash
# A source's rotated siblings and the `sources` rows (issue 12, items 3, 6a,
# 6b):
#  (a) `ingest` catch-up with a glob-less path reads the rotated siblings
#      (.1, .2.gz, dateext -YYYYMMDD[.gz]) oldest first;
#  (b) `run` with a glob-less path: lines written to a file that is rotated
#      before any scan saw them are read from the rotated name;
#  (c) after access.log -> access.log.1 -> access.log.2.gz -> access.log.3.gz
#      each file's row in `sources` carries its current path, even when
#      nothing was read after the rename;
#  (d) a copytruncate whose copy is shorter than what was read from the live
#      file is logged at info level, not as a warning; a file that really
#      shrank under the same name still is a warning.
# Every case compares every view with one clean, in-order ingest.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
command -v gzip >/dev/null || { echo "SKIP: gzip not installed"; exit 77; }
T0=$(now_ms)
SITE=www.example.com

# conf DIR PATH [FLUSH]: DIR/b.conf with one source "www" on PATH
conf() {
  cat > "$1/b.conf" <<EOF
[boussole]
db = $1/b.db
flush_interval = ${3:-200ms}

[source "www"]
path = $2
site = $SITE
EOF
}
# clean DIR FILE...: DIR/clean.db from one in-order ingest of FILE...
clean() {
  local d=$1
  shift
  cat "$@" > "$d/all.ref"
  "$BOUSSOLE" ingest -q --no-progress -c "$d/b.conf" --db "$d/clean.db" --site "$SITE" "$d/all.ref"
}
same_views() { # NAME DIR
  local cmp
  cmp=$(views_compare "$2/clean.db" "$2/b.db")
  expect_eq "($1) every view == one clean in-order ingest" "$cmp" same
}
no_errors() { # NAME LOG
  if grep -E 'level=error' "$2"; then expect_eq "($1) no error logged" "see above" none; fi
}

# ------------------------------------------------ (a) ingest catch-up
A=$WORK/catchup
mkdir -p "$A/logs"
"$GENLOG" -n 60000 -s 61 --days 2 --site "$SITE" > "$A/w.all"
"$GENLOG" -n 40000 -s 62 --days 2 --site other.example > "$A/o.all"
(cd "$A" && split -n l/4 -d -a 1 w.all w. && split -n l/4 -d -a 1 o.all o.)
gzip -c "$A/w.0" > "$A/logs/access.log.3.gz"
gzip -c "$A/w.1" > "$A/logs/access.log.2.gz"
cp "$A/w.2" "$A/logs/access.log.1"
cp "$A/w.3" "$A/logs/access.log"
gzip -c "$A/o.0" > "$A/logs/other.log-20261101.gz"
cp "$A/o.1" "$A/logs/other.log-20261102"
gzip -c "$A/o.2" > "$A/logs/other.log-20261103.gz"
cp "$A/o.3" "$A/logs/other.log"
cp "$A/o.3" "$A/logs/other.log.bak" # not a rotated sibling: not read
cat > "$A/b.conf" <<EOF
[boussole]
db = $A/b.db

[source "www"]
path = $A/logs/access.log
site = $SITE

[source "other"]
path = $A/logs/other.log
site = other.example
EOF
"$BOUSSOLE" ingest -q --no-progress -c "$A/b.conf" --db "$A/clean.db" --site "$SITE" "$A/w.all"
"$BOUSSOLE" ingest -q --no-progress -c "$A/b.conf" --db "$A/clean.db" --site other.example "$A/o.all"
"$BOUSSOLE" ingest -q --no-progress -c "$A/b.conf" 2> "$A/ingest.log" || true
expect "$A/b.db" "SELECT source, SUM(lines) FROM sources GROUP BY source ORDER BY source" "other|40000
www|60000"
expect "$A/b.db" "SELECT COUNT(*) FROM sources" 8
same_views a "$A"
# a FILE argument that is a sibling of a source takes that source's settings
"$BOUSSOLE" ingest -q --no-progress -c "$A/b.conf" --db "$A/args.db" \
  "$A/logs/access.log.1" 2>> "$A/ingest.log" || true
expect "$A/args.db" "SELECT source, lines FROM sources" "www|$(wc -l < "$A/w.2")"
expect "$A/args.db" "SELECT DISTINCT site FROM traffic_daily" "$SITE"

# ------------------------------------------------ (b) run, glob-less path
B=$WORK/run
mkdir -p "$B/logs"
"$GENLOG" -n 5000 -s 63 --days 1 --site "$SITE" > "$B/all"
head -n 3000 "$B/all" > "$B/l1"
tail -n +3001 "$B/all" > "$B/l2"
conf "$B" "$B/logs/access.log"
clean "$B" "$B/l1" "$B/l2"
: > "$B/logs/access.log"
run_start "$B/b.conf" "$B/run.log"
wait_until 20 logged "$B/run.log" 'running with' || echo "(b) did not start"
sleep 0.3
cat "$B/l1" >> "$B/logs/access.log"
mv "$B/logs/access.log" "$B/logs/access.log.1"
cat "$B/l2" > "$B/logs/access.log"
wait_until 20 db_has_lines "$B/b.db" 5000 || echo "(b) read $(lines_read "$B/b.db") of 5000 lines"
sleep 1.2
run_stop
expect_eq "(b) boussole run exits 0" "$STOPPED" ok
expect "$B/b.db" "SELECT SUM(lines) FROM sources" 5000
same_views b "$B"
no_errors b "$B/run.log"

# ------------------------------------------------ (c) sources rows after renames
C=$WORK/rows
mkdir -p "$C/logs"
"$GENLOG" -n 12000 -s 64 --days 1 --site "$SITE" > "$C/all"
(cd "$C" && split -l 3000 -d -a 1 all l.)
conf "$C" "$C/logs/access.log*"
clean "$C" "$C/l.0" "$C/l.1" "$C/l.2" "$C/l.3"
row_path() { qs "$C/b.db" "SELECT path FROM sources WHERE lines = $1 ORDER BY path" | tr '\n' ' '; }
has_row() { [ "$(row_path "$1")" = "$2 " ]; }
cp "$C/l.0" "$C/logs/access.log"
run_start "$C/b.conf" "$C/run.log"
wait_until 20 db_has_lines "$C/b.db" 3000 || echo "(c) first lines not read"
# a rename with nothing new to read: the row follows it all the same
mv "$C/logs/access.log" "$C/logs/access.log.1"
wait_until 5 has_row 3000 "$C/logs/access.log.1" || true
expect_eq "(c) after the rename, with the daemon idle" "$(row_path 3000)" "$C/logs/access.log.1 "
cat "$C/l.1" > "$C/logs/access.log"
wait_until 20 db_has_lines "$C/b.db" 6000 || echo "(c) second lines not read"
# logrotate with delaycompress: .1 -> .2, compressed; the live file -> .1
mv "$C/logs/access.log.1" "$C/logs/access.log.2"
gzip "$C/logs/access.log.2"
mv "$C/logs/access.log" "$C/logs/access.log.1"
cat "$C/l.2" > "$C/logs/access.log"
wait_until 20 db_has_lines "$C/b.db" 9000 || echo "(c) third lines not read"
wait_until 8 has_row 3000 "$C/logs/access.log.2.gz" || true
expect "$C/b.db" "SELECT path, lines FROM sources ORDER BY path" "$C/logs/access.log|3000
$C/logs/access.log.1|3000
$C/logs/access.log.2.gz|3000"
# once more: .2.gz -> .3.gz (a file read to its end and left alone)
mv "$C/logs/access.log.2.gz" "$C/logs/access.log.3.gz"
mv "$C/logs/access.log.1" "$C/logs/access.log.2"
gzip "$C/logs/access.log.2"
mv "$C/logs/access.log" "$C/logs/access.log.1"
cat "$C/l.3" > "$C/logs/access.log"
wait_until 20 db_has_lines "$C/b.db" 12000 || echo "(c) fourth lines not read"
wait_until 8 has_row 3000 "$C/logs/access.log.2.gz $C/logs/access.log.3.gz" || true
run_stop
expect_eq "(c) boussole run exits 0" "$STOPPED" ok
expect "$C/b.db" "SELECT path, lines FROM sources ORDER BY path" "$C/logs/access.log|3000
$C/logs/access.log.1|3000
$C/logs/access.log.2.gz|3000
$C/logs/access.log.3.gz|3000"
same_views c "$C"
no_errors c "$C/run.log"

# ------------------------------------------------ (d) copytruncate log levels
D=$WORK/copy
mkdir -p "$D/logs"
"$GENLOG" -n 9000 -s 65 --days 1 --site "$SITE" > "$D/all"
(cd "$D" && split -l 3000 -d -a 1 all l.)
conf "$D" "$D/logs/access.log*"
clean "$D" "$D/l.0" "$D/l.1" "$D/l.2"
cp "$D/l.0" "$D/logs/access.log"
run_start "$D/b.conf" "$D/run.log"
wait_until 20 db_has_lines "$D/b.db" 3000 || echo "(d) first lines not read"
cp "$D/logs/access.log" "$D/logs/access.log.1" # copy ...
cat "$D/l.1" >> "$D/logs/access.log"          # (lines written meanwhile: read from the live file)
wait_until 20 db_has_lines "$D/b.db" 6000 || echo "(d) second lines not read"
: > "$D/logs/access.log" # ... truncate
sleep 0.5
cat "$D/l.2" >> "$D/logs/access.log"
wait_until 20 db_has_lines "$D/b.db" 9000 || echo "(d) third lines not read"
sleep 1.5
run_stop
expect_eq "(d) boussole run exits 0" "$STOPPED" ok
expect "$D/b.db" "SELECT SUM(lines) FROM sources" 9000
same_views d "$D"
expect_eq "(d) a normal copytruncate is no warning" \
  "$(grep 'level=warn' "$D/run.log" || echo none)" none
expect_eq "(d) a normal copytruncate is logged at info level" \
  "$(grep 'level=info' "$D/run.log" | grep -c 'access.log.1.*copytruncate')" 1
no_errors d "$D/run.log"
# a file that shrank under its own name (its first bytes unchanged): a warning
head -n 1000 "$D/l.2" > "$D/logs/access.log.new"
mv "$D/logs/access.log.new" "$D/logs/access.log"
run_start "$D/b.conf" "$D/run.log"
wait_until 5 logged "$D/run.log" 'level=warn.*access.log[^.].*shorter' || true
run_stop
expect_eq "(d) a file that shrank is a warning" \
  "$(logged "$D/run.log" 'level=warn.*/access.log[^.].*shorter' && echo yes)" yes
expect "$D/b.db" "SELECT SUM(lines) FROM sources" 9000
# the same two files seen by an ingest catch-up
"$BOUSSOLE" ingest -q --no-progress -c "$D/b.conf" 2> "$D/ingest.log" || true
expect_eq "(d) ingest: the copy is no skipped file" \
  "$(grep 'access.log.1' "$D/ingest.log" | grep -c 'copytruncate.*nothing new to read')" 1
expect_eq "(d) ingest: the file that shrank is reported" \
  "$(grep -c '/access.log: shorter than what was already read from it; skipped' "$D/ingest.log")" 1
expect "$D/b.db" "SELECT SUM(lines) FROM sources" 9000

echo "took $((($(now_ms) - T0) / 1000)) s"
finish
