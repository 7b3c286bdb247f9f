#!/usr/bin/env bash
# SPEC §7 "exactly once" in batch: a grown file, rotation then compression,
# stdin and gzip input, and SIGKILL at random moments must all give the same
# views as one clean run over the same lines.
source "$(dirname "$0")/lib.sh"
GENLOG=${GENLOG:-$(dirname "$BOUSSOLE")/boussole-genlog}
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }

ingest() { local db=$1; shift; "$BOUSSOLE" ingest -q --no-progress --site www.example.com --db "$db" "$@"; }

"$GENLOG" -n 60000 -s 7 --days 3 --site www.example.com > "$WORK/full.log"
ingest "$WORK/clean.db" "$WORK/full.log"
dump_views "$WORK/clean.db" > "$WORK/clean.txt"
[ "$(q "$WORK/clean.db" 'SELECT SUM(hits) FROM traffic_daily')" = 60000 ] || { echo "FAIL: clean run did not count 60000 hits"; exit 1; }

# a file read, then grown, then read again
head -n 20000 "$WORK/full.log" > "$WORK/grow.log"
ingest "$WORK/grow.db" "$WORK/grow.log"
tail -n +20001 "$WORK/full.log" >> "$WORK/grow.log"
ingest "$WORK/grow.db" "$WORK/grow.log"
ingest "$WORK/grow.db" "$WORK/grow.log"
dump_views "$WORK/grow.db" > "$WORK/grow.txt"
expect_eq "grown file == one clean run" "$(cmp -s "$WORK/clean.txt" "$WORK/grow.txt" && echo same || diff "$WORK/clean.txt" "$WORK/grow.txt" | head -5)" same

# logrotate: access.log read, grows, is renamed to access.log.1 while a new
# access.log starts, then access.log.1 becomes access.log.2.gz
mkdir "$WORK/rot"
cd "$WORK/rot"
sed -n '1,15000p' "$WORK/full.log" > access.log
ingest "$WORK/rot.db" access.log
sed -n '15001,25000p' "$WORK/full.log" >> access.log
mv access.log access.log.1
sed -n '25001,40000p' "$WORK/full.log" > access.log
ingest "$WORK/rot.db" access.log access.log.1
gzip -n access.log.1 && mv access.log.1.gz access.log.2.gz
mv access.log access.log.1
sed -n '40001,60000p' "$WORK/full.log" > access.log
ingest "$WORK/rot.db" access.log access.log.1 access.log.2.gz
ingest "$WORK/rot.db" access.log access.log.1 access.log.2.gz
cd "$WORK"
dump_views "$WORK/rot.db" > "$WORK/rot.txt"
expect_eq "rotated + compressed == one clean run" "$(cmp -s "$WORK/clean.txt" "$WORK/rot.txt" && echo same || diff "$WORK/clean.txt" "$WORK/rot.txt" | head -5)" same
expect "$WORK/rot.db" "SELECT COUNT(*), SUM(lines) FROM sources" "3|60000"

# the same lines through gzip and through stdin
gzip -n -c "$WORK/full.log" > "$WORK/full.log.gz"
ingest "$WORK/gz.db" "$WORK/full.log.gz"
dump_views "$WORK/gz.db" > "$WORK/gz.txt"
expect_eq "gzip == plain" "$(cmp -s "$WORK/clean.txt" "$WORK/gz.txt" && echo same)" same
ingest "$WORK/stdin.db" - < "$WORK/full.log"
dump_views "$WORK/stdin.db" > "$WORK/stdin.txt"
expect_eq "stdin == plain" "$(cmp -s "$WORK/clean.txt" "$WORK/stdin.txt" && echo same)" same
# the compressed copy of a file already read adds nothing
ingest "$WORK/clean.db" "$WORK/full.log.gz"
dump_views "$WORK/clean.db" > "$WORK/clean2.txt"
expect_eq "compressed copy of a read file adds nothing" "$(cmp -s "$WORK/clean.txt" "$WORK/clean2.txt" && echo same)" same

# SIGKILL at random moments, with frequent commits, then finish the job
"$GENLOG" -n 300000 -s 11 --days 2 --site www.example.com > "$WORK/big.log"
ingest "$WORK/big-clean.db" "$WORK/big.log"
dump_views "$WORK/big-clean.db" > "$WORK/big-clean.txt"
kills=0
for i in $(seq 1 12); do
  "$BOUSSOLE" ingest -q --no-progress --flush-lines 3000 --site www.example.com --db "$WORK/big-kill.db" "$WORK/big.log" &
  pid=$!
  sleep "0.$((RANDOM % 25 + 5))"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
done
ingest "$WORK/big-kill.db" "$WORK/big.log"
dump_views "$WORK/big-kill.db" > "$WORK/big-kill.txt"
echo "killed $kills times mid-ingest"
expect_eq "killed and resumed == one clean run" "$(cmp -s "$WORK/big-clean.txt" "$WORK/big-kill.txt" && echo same || diff "$WORK/big-clean.txt" "$WORK/big-kill.txt" | head -5)" same

finish
