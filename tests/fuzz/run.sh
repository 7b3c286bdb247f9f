#!/usr/bin/env bash
# Runs the libFuzzer targets: tests/fuzz/run.sh SECONDS [TARGET...]
#
# Builds fuzz_<target> with clang (-fsanitize=fuzzer,address,undefined; the
# library carries the coverage instrumentation too), then runs each TARGET
# (default: all) for SECONDS, one after the other, seeded with
# tests/fuzz/corpus/<target>/.  New inputs go to a scratch directory under
# the build directory, never into the committed corpus; --merge adds the
# scratch inputs that bring new coverage to the corpus, within a size budget
# (BSL_FUZZ_CORPUS_KB, default 200 KB per target; at most BSL_FUZZ_MERGE_MAX
# new inputs per run, default 40, the smallest kept).  Prints executions,
# edge coverage (cov) and features (ft) per target.  Exits 1 when a target
# finds a crash, leak, timeout or sanitizer report, leaving the input under
# BUILD/fuzz-work/<target>/ and naming it; 2 on a usage or build error.
#
# Environment: BSL_FUZZ_BUILD (build directory, default build-fuzz),
# BSL_FUZZ_JOBS (build jobs), BSL_FUZZ_NICE (nice level for the fuzzers,
# default 0), CC (default clang).
set -uo pipefail
cd "$(dirname "$0")/../.."

usage() {
  echo "usage: tests/fuzz/run.sh [--merge] SECONDS [TARGET...]" >&2
  echo "targets: $(all_targets | tr '\n' ' ')" >&2
  exit 2
}
all_targets() {
  for f in tests/fuzz/fuzz_*.c; do
    f=${f##*/fuzz_}
    echo "${f%.c}"
  done
}

merge=0
if [ "${1:-}" = --merge ]; then
  merge=1
  shift
fi
[ $# -ge 1 ] && [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ] || usage
seconds=$1
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/fuzz_$t.c" ] || { echo "run.sh: no target '$t'" >&2; usage; }
done

build=${BSL_FUZZ_BUILD:-build-fuzz}
jobs=${BSL_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
budget_kb=${BSL_FUZZ_CORPUS_KB:-200}
merge_max=${BSL_FUZZ_MERGE_MAX:-40}
nice_level=${BSL_FUZZ_NICE:-0}
export CC=${CC:-clang}
command -v "$CC" >/dev/null || { echo "run.sh: $CC not found (apt-get install clang)" >&2; exit 2; }

echo "== building fuzz targets in $build with $CC"
if ! cmake -S . -B "$build" -DBSL_FUZZ=ON -DBSL_SANITIZE=ON -DBSL_WERROR=ON \
       -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.cmake.log" 2>&1; then
  cat "$build.cmake.log" >&2
  exit 2
fi
if ! cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}" \
       >"$build.build.log" 2>&1; then
  tail -40 "$build.build.log" >&2
  exit 2
fi

# The corpus directory's size in KB, as du counts it.
corpus_kb() { du -sk "$1" | cut -f1; }

# Adds scratch inputs that bring new features to the corpus, then drops the
# largest of the added ones until the corpus fits the budget and at most
# BSL_FUZZ_MERGE_MAX of them are left.
merge_into() {
  local bin=$1 corpus=$2 scratch=$3 before
  before=$(mktemp)
  ls "$corpus" | sort >"$before"
  "$bin" -merge=1 -max_len=65536 "$corpus" "$scratch" >/dev/null 2>&1 || {
    echo "   merge failed; corpus unchanged" >&2
    rm -f "$before"
    return
  }
  # the added inputs, largest first: those are dropped first
  comm -13 "$before" <(ls "$corpus" | sort) |
    while read -r f; do echo "$(stat -c %s "$corpus/$f") $f"; done |
    sort -rn | cut -d' ' -f2- >"$before.added"
  local added dropped=0 f
  added=$(wc -l <"$before.added")
  while read -r f; do
    [ $((added - dropped)) -gt "$merge_max" ] ||
      [ "$(corpus_kb "$corpus")" -gt "$budget_kb" ] || break
    rm -f "$corpus/$f"
    dropped=$((dropped + 1))
  done <"$before.added"
  rm -f "$before.added"
  rm -f "$before"
  echo "   merged $((added - dropped)) new inputs into $corpus ($dropped dropped for the budget, now $(corpus_kb "$corpus") KB)"
}

failed=()
summary=()
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz_$t
  corpus=tests/fuzz/corpus/$t
  work=$build/fuzz-work/$t
  mkdir -p "$corpus" "$work/scratch" "$work/artifacts"
  log=$work/fuzz.log
  echo "== fuzz_$t for ${seconds}s (corpus $corpus, scratch $work/scratch)"
  # -timeout: one input running 10 s is a hang worth reporting.
  # -rss_limit_mb: libFuzzer's default, said out loud.
  t0=$(date +%s)
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    nice -n "$nice_level" "$bin" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=70000 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" "$work/scratch" "$corpus" >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - t0))
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
  line="fuzz_$t: ${took}s, ${execs:-?} execs (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}"
  if [ $rc -ne 0 ]; then
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    grep -E 'ERROR: |SUMMARY: |runtime error|fuzz_[a-z]+: .*:[0-9]+:' "$log" | head -5 >&2
    line="$line -- FAILED (rc $rc): ${crash:-see $log}"
    failed+=("$t")
  elif [ $merge -eq 1 ]; then
    merge_into "$bin" "$corpus" "$work/scratch"
  fi
  echo "   $line"
  summary+=("$line")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (inputs left under $build/fuzz-work/*/artifacts/)" >&2
  exit 1
fi
exit 0
