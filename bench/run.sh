#!/usr/bin/env bash
# bench/run.sh: throughput benchmark of `boussole ingest`.
#
# THIS IS A BENCHMARK, NOT A TEST. It measures and prints numbers; it never
# passes or fails on them, and ctest does not run it. Run it on a quiet
# machine from a Release build, e.g.:
#
#   cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build
#   bench/run.sh 1000000 10000000
#
# usage: bench/run.sh [N ...]        (default N: 1000000)
# environment: BUILD (default ./build)  the build directory holding boussole,
#                                        boussole-genlog and bench-parse
#              RUNS  (default 5)        rounds; each runs every tool once
#              SKIP_GOACCESS=1           leaves goaccess out (it takes ~9 min
#                                        per run on 10M lines)
#              SITE  (default www.example.com)  --site given to genlog and
#                                        boussole, so internal referers match
#              BASELINE (unset)          another build directory (an older
#                                        commit's): its boussole runs in the
#                                        same rounds, and the ratio
#                                        boussole / baseline is printed
#              MIXES (default "default realistic")  genlog mixes measured
#                                        for each N: "default" (29 user
#                                        agents, ~55k visits per 1M lines,
#                                        static assets in the log) and
#                                        "realistic" (genlog --realistic:
#                                        thousands of user agents, assets on
#                                        a CDN, ~140k visits per 1M lines)
#
# For each N and mix it generates a deterministic combined log of N lines with
# boussole-genlog (seed 1, 7 days), gzips a copy, then times on the same files:
#   boussole       boussole ingest on f.log, into a fresh database each run
#   boussole.gz    the same on f.log.gz
#   goaccess       goaccess f.log --log-format=COMBINED -o out.json (if found)
#   zcat|wc -l     the floor for just decompressing the .gz
#   wc -l          the floor for just reading the file
#   bare-parse     bench-parse: one PCRE2-JIT regex per line, nothing kept
# Times are wall-clock seconds from /usr/bin/time (%e), memory is its peak
# RSS (%M) of the largest process; for a pipeline that is its largest member.
# Each round runs every tool once; the table shows each tool's median over
# the rounds.  Ratios are throughput ratios (above 1: boussole faster), the
# median of the per-round ratios, so drift in a shared machine's speed hits
# both sides of a ratio alike.
set -euo pipefail

BUILD=${BUILD:-./build}
RUNS=${RUNS:-5}
SITE=${SITE:-www.example.com}
MIXES=${MIXES:-default realistic}
BOUSSOLE=$BUILD/boussole
GENLOG=$BUILD/boussole-genlog
PARSE=$BUILD/bench-parse
TIME=/usr/bin/time

die() {
  echo "bench/run.sh: $*" >&2
  exit 2
}

for exe in "$BOUSSOLE" "$GENLOG" "$PARSE"; do
  [ -x "$exe" ] || die "$exe not found; build first or set BUILD=dir"
done
BASE_BOUSSOLE=
if [ -n "${BASELINE:-}" ]; then
  BASE_BOUSSOLE=$BASELINE/boussole
  [ -x "$BASE_BOUSSOLE" ] || die "BASELINE: $BASE_BOUSSOLE not found"
fi
[ -x "$TIME" ] || die "$TIME (GNU time) is required for wall time and peak RSS"
"$TIME" -f '%e %M' true 2>/dev/null || die "$TIME does not accept -f (need GNU time)"
case $RUNS in '' | *[!0-9]* | 0) die "RUNS must be a positive integer" ;; esac
for n in "$@"; do
  case $n in '' | *[!0-9]* | 0) die "size '$n' is not a positive integer" ;; esac
done
[ $# -gt 0 ] || set -- 1000000
for mix in $MIXES; do
  case $mix in default | realistic) ;; *) die "MIXES: unknown mix '$mix' (default, realistic)" ;; esac
done

# Absolute paths: the timed commands run from the scratch directory.
abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$PWD" "$(basename "$1")"); }
BOUSSOLE=$(abs "$BOUSSOLE")
GENLOG=$(abs "$GENLOG")
PARSE=$(abs "$PARSE")
[ -z "$BASE_BOUSSOLE" ] || BASE_BOUSSOLE=$(abs "$BASE_BOUSSOLE")

HAVE_GOACCESS=0
if [ "${SKIP_GOACCESS:-0}" != 1 ] && command -v goaccess >/dev/null 2>&1; then HAVE_GOACCESS=1; fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/boussole-bench.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$TMP"

echo "boussole benchmark (a benchmark, not a test): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(uname -srm), $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs; build: $BUILD; $RUNS rounds, medians shown"
"$BOUSSOLE" --version 2>&1 | head -n 1 || true
if [ "$HAVE_GOACCESS" = 1 ]; then
  goaccess --version 2>&1 | head -n 1 || true
else
  echo "note: goaccess not found or SKIP_GOACCESS=1: its row and the boussole/goaccess ratio are skipped"
fi

# once NAME CMD...: runs CMD once (stdout/stderr to files; a fresh database
# before the run) and appends its seconds to SECS[NAME], raising PEAK[NAME]
# to its peak RSS when larger.
declare -A SECS=() PEAK=()
once() {
  local name=$1
  shift
  local s kb
  rm -f fresh.db fresh.db-wal fresh.db-shm fresh.db-journal out.json
  if ! "$TIME" -f '%e %M' -o time.txt "$@" >out.txt 2>err.txt; then
    echo "bench/run.sh: '$name' failed: $*" >&2
    tail -n 5 err.txt >&2
    exit 1
  fi
  read -r s kb <time.txt
  SECS[$name]="${SECS[$name]:-} $s"
  if [ "$kb" -gt "${PEAK[$name]:-0}" ]; then PEAK[$name]=$kb; fi
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1}
    END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# A single number from a tool's output, to check it saw every line.
expect_lines() {
  local name=$1 got=$2 want=$3
  if [ "$got" != "$want" ]; then
    echo "warning: $name counted '$got' lines, expected $want" >&2
  fi
}

# row NAME: records NAME's median time as a table row and its lines/s.
ROWS=()
row() {
  local lps med
  # shellcheck disable=SC2086 # the list is meant to split
  med=$(median ${SECS[$1]})
  lps=$(awk -v n="$N" -v s="$med" 'BEGIN { if (s < 0.01) s = 0.01; printf "%.0f", n / s }')
  if awk -v s="$med" 'BEGIN { exit !(s < 0.1) }'; then COARSE=1; fi
  ROWS+=("$(printf '%-14s %10s %14s %12s' "$1" "$med" "$lps" \
    "$(awk -v k="${PEAK[$1]}" 'BEGIN { printf "%.1f", k / 1024 }')")")
}

# paired NAME_A NAME_B: the median over rounds of B's time / A's time, i.e.
# A's throughput relative to B measured seconds apart in the same round,
# then each round's ratio in parentheses.
paired() {
  local -a a b r=()
  read -ra a <<<"${SECS[$1]}"
  read -ra b <<<"${SECS[$2]}"
  local i
  for ((i = 0; i < ${#a[@]}; i++)); do
    r+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { if (x < 0.01) x = 0.01; printf "%.3f", y / x }')")
  done
  printf '%.2f  (rounds: %s)' "$(median "${r[@]}")" "${r[*]}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

for N in "$@"; do
for MIX in $MIXES; do
  MIXARG=()
  [ "$MIX" = default ] || MIXARG=(--"$MIX")
  echo
  echo "== $N lines, $MIX mix =="
  "$GENLOG" -n "$N" -s 1 --site "$SITE" "${MIXARG[@]}" >f.log
  gzip -n -c f.log >f.log.gz
  echo "input: f.log $(du -k f.log | cut -f1) KB, f.log.gz $(du -k f.log.gz | cut -f1) KB"

  ROWS=()
  SECS=()
  PEAK=()
  COARSE=0
  # Rounds, each running every tool once: on a shared machine whose speed
  # drifts, the tools of one round see the same conditions, and the paired
  # ratios below compare runs made seconds apart.
  for ((round = 1; round <= RUNS; round++)); do
    once boussole "$BOUSSOLE" ingest --no-progress -q --site "$SITE" --db fresh.db f.log
    once bare-parse "$PARSE" f.log
    expect_lines bare-parse "$(awk '{print $2}' out.txt)" "$N"
    once boussole.gz "$BOUSSOLE" ingest --no-progress -q --site "$SITE" --db fresh.db f.log.gz
    if [ -n "$BASE_BOUSSOLE" ]; then
      once baseline "$BASE_BOUSSOLE" ingest --no-progress -q --site "$SITE" --db fresh.db f.log
      once baseline.gz "$BASE_BOUSSOLE" ingest --no-progress -q --site "$SITE" --db fresh.db f.log.gz
    fi
    # shellcheck disable=SC2016 # $1 is expanded by the inner sh
    once "zcat|wc -l" sh -c 'zcat "$1" | wc -l' sh f.log.gz
    expect_lines "zcat|wc -l" "$(tr -d ' ' <out.txt)" "$N"
    once "wc -l" wc -l f.log
    expect_lines "wc -l" "$(awk '{print $1}' out.txt)" "$N"
    if [ "$HAVE_GOACCESS" = 1 ]; then
      # --no-progress only stops the progress display; the parsing is the same.
      once goaccess goaccess f.log --log-format=COMBINED --no-progress -o out.json
    fi
  done
  for tool in boussole boussole.gz baseline baseline.gz goaccess "zcat|wc -l" "wc -l" bare-parse; do
    [ -n "${SECS[$tool]:-}" ] && row "$tool"
  done

  printf '%-14s %10s %14s %12s\n' tool "median s" "lines/s" "peak RSS MB"
  printf '%s\n' "${ROWS[@]}"
  echo "throughput ratios (above 1: boussole faster), median of the per-round ratios:"
  if [ "$HAVE_GOACCESS" = 1 ]; then
    echo "  boussole / goaccess        $(paired boussole goaccess)"
  else
    echo "  boussole / goaccess        skipped (goaccess not run)"
  fi
  echo "  boussole / bare-parse      $(paired boussole bare-parse)"
  if [ -n "$BASE_BOUSSOLE" ]; then
    echo "  boussole / baseline        $(paired boussole baseline)   [$BASELINE]"
    echo "  boussole.gz / baseline.gz  $(paired boussole.gz baseline.gz)"
  fi
  echo "  boussole.gz / (zcat|wc -l) $(paired boussole.gz "zcat|wc -l")"
  if [ "$COARSE" = 1 ]; then
    echo "note: some medians are under 0.1 s, where 10 ms timer steps dominate; use a larger N"
  fi
  rm -f f.log f.log.gz fresh.db* out.json
done
done
