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

# SIGKILL at random moments, with frequent commits, then finish the job.  A
# kill counts when it landed mid-ingest: the process died of it (wait says
# 137), it had not finished.  A run that finished before its kill starts the
# database over, so the kills that count all interrupt one load; the delays
# are spread over the first 60% of the time a clean run took here (300k
# lines take a fraction of a second).
"$GENLOG" -n 300000 -s 11 --days 2 --site www.example.com > "$WORK/big.log"
t0=$(date +%s%3N)
ingest "$WORK/big-clean.db" "$WORK/big.log"
T=$(($(date +%s%3N) - t0))
dump_views "$WORK/big-clean.db" > "$WORK/big-clean.txt"
MIN_KILLS=${BSL_EO_KILLS:-8}
lo=$((T / 10 > 20 ? T / 10 : 20))
hi=$((T * 6 / 10 > lo + 50 ? T * 6 / 10 : lo + 50))
KDB=$WORK/big-kill.db
committed() { if [ -f "$KDB" ]; then q "$KDB" 'SELECT COALESCE(SUM(lines), 0) FROM sources'; else echo 0; fi; }
kills=0     # died of the SIGKILL
between=0   # ... after committing some lines of its run, not all
finished=0  # ended before the SIGKILL came
for i in $(seq 1 60); do
  [ "$kills" -ge "$MIN_KILLS" ] && break
  before=$(committed)
  ms=$((lo + RANDOM % (hi - lo)))
  "$BOUSSOLE" ingest -q --no-progress --flush-lines 1000 --site www.example.com --db "$KDB" "$WORK/big.log" &
  pid=$!
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
  case $rc in
    137)
      kills=$((kills + 1))
      after=$(committed)
      if [ "$after" -gt "$before" ] && [ "$after" -lt 300000 ]; then between=$((between + 1)); fi
      ;;
    0)
      finished=$((finished + 1))
      rm -f "$KDB" "$KDB"-*
      ;;
    *) expect_eq "a killed ingest exits 0 or dies of SIGKILL" "$rc" "0 or 137" ;;
  esac
done
echo "killed $kills times mid-ingest, $between of them after a commit of their run;" \
  "$finished runs finished before the kill; delays $lo-$hi ms (a clean run: $T ms)"
expect_eq "kills that landed mid-ingest: at least $MIN_KILLS" "$([ "$kills" -ge "$MIN_KILLS" ] && echo yes || echo "no: $kills")" yes
expect_eq "kills that landed between two commits of a run: at least $((MIN_KILLS / 2))" \
  "$([ "$between" -ge $((MIN_KILLS / 2)) ] && echo yes || echo "no: $between")" yes
ingest "$KDB" "$WORK/big.log"
dump_views "$KDB" > "$WORK/big-kill.txt"
expect_eq "killed and resumed == one clean run" "$(cmp -s "$WORK/big-clean.txt" "$WORK/big-kill.txt" && echo same || diff "$WORK/big-clean.txt" "$WORK/big-kill.txt" | head -5)" same

finish
