#!/usr/bin/env bash
# bench/queries.sh: how long the analyst's typical queries take on a large
# database (issue 18).
#
# THIS IS A BENCHMARK, NOT A TEST. It measures and prints numbers; it never
# passes or fails on them, and ctest does not run it. Run it from a Release
# build:
#
#   cmake -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel
#   BUILD=build-rel bench/queries.sh 10000000
#
# usage: bench/queries.sh [N]          (default N: 10000000 lines)
# environment: BUILD (default ./build)  holds boussole and boussole-genlog
#              RUNS  (default 5)        rounds; the table shows medians
#              DIR   (default a temp directory, removed at the end)  where
#                                       the logs and databases go; an
#                                       existing DIR/default.db or
#                                       DIR/realistic.db is reused (delete
#                                       them after changing the schema)
#              MIXES (default "default realistic")  which generator mixes:
#                                       `boussole-genlog -n N --days 30`,
#                                       with --realistic for the second
#              PLANS=1                   also prints each query's plan
#
# Each database is built once with `boussole ingest` (one goal, five KPIs,
# see CONF below; the ingest time, rate and database size are printed),
# then every round runs each query once: the sqlite3 shell's queries time
# with `.timer on` (its "Run Time: real"), the commands (report over the
# last 28 days, kpi with 5 KPIs, diagnose) with /usr/bin/time.
set -euo pipefail

BUILD=${BUILD:-./build}
RUNS=${RUNS:-5}
MIXES=${MIXES:-default realistic}
N=${1:-10000000}
BOUSSOLE=$BUILD/boussole
GENLOG=$BUILD/boussole-genlog

die() {
  echo "bench/queries.sh: $*" >&2
  exit 2
}
for exe in "$BOUSSOLE" "$GENLOG"; do
  [ -x "$exe" ] || die "$exe not found; build first or set BUILD=dir"
done
command -v sqlite3 >/dev/null || die "the sqlite3 shell is needed"
BOUSSOLE=$(cd "$(dirname "$BOUSSOLE")" && pwd)/boussole
GENLOG=$(cd "$(dirname "$GENLOG")" && pwd)/boussole-genlog
if [ -n "${DIR:-}" ]; then
  mkdir -p "$DIR"
else
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/bsl-queries.XXXXXX")
  trap 'rm -rf "$DIR"' EXIT
fi
cd "$DIR"

FROM=2026-11-01
TO=2026-11-30
# The typical queries (issue 18): name|SQL, one a line; bounce by landing
# page and device x channel also on the visits view, as analysts wrote them
# before pages_daily.bounces and devices_daily (schema 9).
QUERIES="channels by channel, a month|SELECT channel, SUM(visits), SUM(visitors), SUM(pageviews), SUM(bounces), SUM(conversions) FROM channels_daily WHERE day BETWEEN '$FROM' AND '$TO' GROUP BY channel ORDER BY 2 DESC
traffic_daily, a month|SELECT * FROM traffic_daily WHERE day BETWEEN '$FROM' AND '$TO' ORDER BY day
goals_daily, a month|SELECT goal, channel, SUM(conversions), SUM(visits) FROM goals_daily WHERE day BETWEEN '$FROM' AND '$TO' GROUP BY goal, channel ORDER BY 3 DESC
top pages, a month|SELECT path, SUM(pageviews), SUM(entries) FROM pages_daily WHERE day BETWEEN '$FROM' AND '$TO' GROUP BY path ORDER BY 2 DESC LIMIT 20
bounce by landing page, a month|SELECT path, SUM(entries), SUM(bounces) * 1.0 / SUM(entries) FROM pages_daily WHERE day BETWEEN '$FROM' AND '$TO' GROUP BY path HAVING SUM(entries) > 0 ORDER BY 2 DESC, 1 LIMIT 20
bounce by landing page (visits), a month|SELECT landing_path, COUNT(*), AVG(bounced) FROM visits WHERE day BETWEEN '$FROM' AND '$TO' GROUP BY landing_path ORDER BY 2 DESC, 1 LIMIT 20
visits by device x channel, a month|SELECT device, channel, SUM(visits) FROM devices_daily WHERE day BETWEEN '$FROM' AND '$TO' GROUP BY device, channel ORDER BY 3 DESC, 1, 2
visits by device x channel (visits), a month|SELECT device, channel, COUNT(*) FROM visits WHERE day BETWEEN '$FROM' AND '$TO' GROUP BY device, channel ORDER BY 3 DESC, 1, 2"
# Each "(visits)" query is the one above it on visit rows: same output.
PAIRS="bounce by landing page
visits by device x channel"

cat > bench.conf <<'CONF'
[boussole]
db = bench.db

[goal "signup"]
path = ^/thank-you

[kpi "signup-rate"]
metric = conversion_rate
goal = signup
target = 5%

[kpi "bounce"]
metric = bounce_rate
target = 30%

[kpi "visitors"]
metric = visitors

[kpi "search-signups"]
metric = conversion_rate
goal = signup
filter = channel=organic_search

[kpi "scroll"]
metric = avg_scroll_depth
CONF

median() { sort -g | awk '{a[NR] = $1} END {if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

for mix in $MIXES; do
  db=$mix.db
  opt=
  [ "$mix" = realistic ] && opt=--realistic
  if [ ! -s "$db" ]; then
    "$GENLOG" -n "$N" --days 30 $opt > "$mix.log"
    sed "s|^db = .*|db = $db|" bench.conf > "$mix.conf"
    /usr/bin/time -f '%e %M' -o ingest.time \
      "$BOUSSOLE" ingest --no-progress -q -c "$mix.conf" --site www.example.com "$mix.log"
    read -r secs rss < ingest.time
    rm -f "$mix.log"
    echo "== $mix: $N lines ingested in ${secs}s ($(awk -v n="$N" -v s="$secs" 'BEGIN{printf "%.0f", n / s}') lines/s, peak RSS $((rss / 1024)) MiB)"
  else
    sed "s|^db = .*|db = $db|" bench.conf > "$mix.conf"
    echo "== $mix: reusing $DIR/$db"
  fi
  echo "   database $(($(stat -c %s "$db") / 1048576)) MiB; $(sqlite3 "$db" 'SELECT COUNT(*) FROM visit_log') visits"
  rm -f times.txt
  for _ in $(seq "$RUNS"); do
    while IFS='|' read -r name sql; do
      t=$(printf '.timer on\n%s;\n' "$sql" | sqlite3 "$db" | awk '/^Run Time/ {print $4}')
      echo "$name|$t" >> times.txt
    done <<< "$QUERIES"
    for cmd in "report --from 2026-11-03 --to $TO" kpi "diagnose --from 2026-11-03 --to $TO"; do
      # shellcheck disable=SC2086
      /usr/bin/time -f '%e' -o cmd.time "$BOUSSOLE" $cmd -c "$mix.conf" > /dev/null 2>&1 || true
      echo "boussole ${cmd%% *}|$(tail -1 cmd.time)" >> times.txt
    done
  done
  printf '   %-40s %10s\n' query "median s"
  cut -d'|' -f1 times.txt | awk '!seen[$0]++' | while read -r name; do
    printf '   %-40s %10s\n' "$name" "$(grep -F "$name|" times.txt | cut -d'|' -f2 | median)"
  done
  while read -r name; do
    a=$(grep -F "$name, a month|" <<< "$QUERIES" | cut -d'|' -f2- | sqlite3 "$db" | md5sum)
    b=$(grep -F "$name (visits), a month|" <<< "$QUERIES" | cut -d'|' -f2- | sqlite3 "$db" | md5sum)
    [ "$a" = "$b" ] && same=same || same=DIFFERENT
    echo "   $name: view and visit rows give the $same output"
  done <<< "$PAIRS"
  if [ -n "${PLANS:-}" ]; then
    while IFS='|' read -r name sql; do
      echo "-- plan: $name"
      sqlite3 "$db" "EXPLAIN QUERY PLAN $sql" | sed 's/^/   /'
    done <<< "$QUERIES"
  fi
done
