#!/usr/bin/env bash
# bench/pg.sh: ingest throughput of a fleet (SPEC §9) against SQLite, in the
# same rounds: one generated log (build/boussole-genlog) ingested
#   - into SQLite (one instance),
#   - into PostgreSQL by one host,
#   - into PostgreSQL by 3 hosts at once, the log split by a hash of the
#     client address (as a load balancer routing by client would),
# each round on a fresh database; prints lines/s per round and the median.
# The PostgreSQL is a throwaway one (tests/e2e/pg_lib.sh: unix socket in a
# temporary directory), run with its defaults but for fsync = off, like the
# test suite's: the figures are of boussole's write path and PostgreSQL's
# CPU, not of this machine's disk.
#
# usage: bench/pg.sh [LINES] [ROUNDS]   (default 1000000 lines, 3 rounds)
#        BUILD=build (the build directory)
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
ROUNDS=${2:-3}
BUILD=${BUILD:-build}
BOUSSOLE=$PWD/$BUILD/boussole
GENLOG=$PWD/$BUILD/boussole-genlog
export BOUSSOLE
[ -x "$BOUSSOLE" ] && [ -x "$GENLOG" ] || { echo "build first ($BUILD)"; exit 2; }
source tests/e2e/lib.sh
FINISHED=1 # lib.sh's guard is for tests
source tests/e2e/pg_lib.sh
trap 'pg_cleanup; rm -rf "$WORK"' EXIT
pg_start >/dev/null

"$GENLOG" -n "$LINES" -s 42 --days 7 > "$WORK/all.log"
python3 tests/e2e/split_by_client.py "$WORK/all.log" "$WORK/part" 3

now() { date +%s.%N; }
rate() { python3 -c "print(int($LINES / ($2 - $1)))"; }
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
fresh() { # fresh DB: a new PostgreSQL database, prints its URI
  "$PG_BIN/dropdb" --if-exists -h "$PG_DIR" -U postgres "$1" 2>/dev/null
  "$PG_BIN/createdb" -h "$PG_DIR" -U postgres "$1"
  "$PG_BIN/psql" -X -q -h "$PG_DIR" -U postgres -d "$1" -c "CREATE EXTENSION hll"
  echo "postgresql:///$1?host=$PG_DIR&user=postgres"
}
ing() { "$BOUSSOLE" ingest -q --no-progress "$@"; }

lite=() pg1=() pg3=()
for r in $(seq 1 "$ROUNDS"); do
  rm -f "$WORK/b.db"*
  t0=$(now); ing --db "$WORK/b.db" "$WORK/all.log"; t1=$(now)
  lite+=("$(rate "$t0" "$t1")")
  U=$(fresh one)
  printf '[boussole]\ndb = %s\nhost = h0\n' "$U" > "$WORK/one.conf"
  t0=$(now); ing -c "$WORK/one.conf" "$WORK/all.log"; t1=$(now)
  pg1+=("$(rate "$t0" "$t1")")
  U=$(fresh three)
  pids=()
  t0=$(now)
  for i in 0 1 2; do
    printf '[boussole]\ndb = %s\nhost = h%d\n' "$U" "$i" > "$WORK/h$i.conf"
    ing -c "$WORK/h$i.conf" "$WORK/part$i.log" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(now)
  pg3+=("$(rate "$t0" "$t1")")
  echo "round $r: SQLite ${lite[-1]} lines/s; PostgreSQL 1 host ${pg1[-1]}; 3 hosts ${pg3[-1]} (total)"
done
echo "median of $ROUNDS rounds, $LINES lines: SQLite $(echo "${lite[*]}" | median) lines/s;" \
  "PostgreSQL 1 host $(echo "${pg1[*]}" | median); 3 concurrent hosts $(echo "${pg3[*]}" | median) (total)"
