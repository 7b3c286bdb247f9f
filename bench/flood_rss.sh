#!/usr/bin/env bash
# bench/flood_rss.sh: peak memory of `ingest` and `run` under an address
# flood (issue 12: 3M lines from ~2.6M distinct addresses in 20 minutes).
#
# THIS IS A BENCHMARK, NOT A TEST: it prints numbers and never fails on
# them.  For each round it runs, on the same bench/flood.sh file:
#   ingest          boussole ingest, built-in defaults (max_open_visits 300000)
#   ingest-nocap    the same with max_open_visits = 0 (the old behaviour)
#   run             boussole run with the file as its [source], from offset 0
#                   until every byte is committed, then SIGTERM
#   wc -l           the floor for reading the file
# and prints the median wall time, peak RSS (/usr/bin/time %M) and the
# visits counted, plus the visits closed early by the cap.
#
# usage: bench/flood_rss.sh [N]    (default N: 3000000)
# environment: BUILD (default ./build), RUNS (default 3), NOCAP=0 skips the
#              uncapped run (it needs ~1.4 GB)
set -euo pipefail
BUILD=${BUILD:-./build}
RUNS=${RUNS:-3}
N=${1:-3000000}
B=$(realpath "$BUILD/boussole")
HERE=$(dirname "$(realpath "$0")")
command -v /usr/bin/time >/dev/null || { echo "SKIP: /usr/bin/time (package time) missing"; exit 0; }
W=$(mktemp -d "${TMPDIR:-/tmp}/bsl-flood.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/logs"
"$HERE/flood.sh" "$N" > "$W/logs/access.log"
size=$(stat -c %s "$W/logs/access.log")
printf '[boussole]\nmax_open_visits = 0\n' > "$W/nocap.conf"
cat > "$W/run.conf" <<EOF
[boussole]
db = $W/run.db
[source "flood"]
path = $W/logs/access.log
EOF

declare -A T M V
measure() { # measure NAME CMD...: appends "seconds KB" for this round
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || true
  T[$name]+="$(cut -d' ' -f1 "$W/time") "
  M[$name]+="$(cut -d' ' -f2 "$W/time") "
}
run_until_caught_up() {
  rm -f "$W"/run.db*
  "$B" run -c "$W/run.conf" 2>"$W/run.log" & local pid=$!
  until [ "$(sqlite3 "$W/run.db" 'SELECT MAX(offset) FROM sources' 2>/dev/null)" = "$size" ]; do
    sleep 0.2
    kill -0 "$pid" 2>/dev/null || break
  done
  kill -TERM "$pid"; wait "$pid"
}
export -f run_until_caught_up
export B W size
for r in $(seq 1 "$RUNS"); do
  rm -f "$W"/a.db*; measure ingest "$B" ingest --no-progress --db "$W/a.db" "$W/logs/access.log"
  V[ingest]=$(sqlite3 "$W/a.db" 'SELECT visits FROM traffic_daily')
  if [ "${NOCAP:-1}" != 0 ]; then
    rm -f "$W"/u.db*; measure ingest-nocap "$B" ingest -c "$W/nocap.conf" --no-progress --db "$W/u.db" "$W/logs/access.log"
    V[ingest-nocap]=$(sqlite3 "$W/u.db" 'SELECT visits FROM traffic_daily')
  fi
  measure run bash -c run_until_caught_up
  V[run]=$(sqlite3 "$W/run.db" 'SELECT visits FROM traffic_daily')
  measure "wc -l" wc -l "$W/logs/access.log"
  echo "round $r done" >&2
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-14s %9s %12s %12s\n' tool "median s" "peak RSS MB" visits
for k in ingest ingest-nocap run "wc -l"; do
  [ -n "${T[$k]:-}" ] || continue
  printf '%-14s %9s %12.1f %12s\n' "$k" "$(median <<<"${T[$k]}")" \
    "$(echo "$(median <<<"${M[$k]}") / 1024" | bc -l)" "${V[$k]:--}"
done
echo "lines: $N, bytes: $size, cap: max_open_visits = 300000 (built-in default)"
