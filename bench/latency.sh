#!/usr/bin/env bash
# bench/latency.sh: live-mode benchmark of `boussole run`.
#
# THIS IS A BENCHMARK, NOT A TEST. It measures and prints numbers; it never
# passes or fails on them, and ctest does not run it. Run it on a quiet
# machine from a Release build, e.g.:
#
#   cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build
#   bench/latency.sh
#
# It prints:
#  1. append-to-visible latency, p50/p90/p99/max over PROBES probes on an
#     idle log.  A probe appends one line with a unique path to a watched
#     file and polls `SELECT count(*) FROM pages_daily WHERE path = ...`
#     (sqlite3 shell, every POLL_MS) until it is 1.
#  2. the same while LINES generated lines are appended to another watched
#     file at a steady RATE lines/s (1 MiB chunks, cut anywhere, so a partial
#     line waits for its newline like in real life; rotated every segment
#     by rename + create) - fewer probes (LOAD_PROBES);
#  3. RSS of `boussole run` (VmRSS sampled each second: max, and at the end,
#     plus VmHWM), how long it took to catch up after the last append, and
#     the rate it read at.
#
# environment: BUILD (./build)     holds boussole and boussole-genlog
#              FLUSH (1s)          flush_interval (ms or s)
#              PROBES (1000)       idle probes
#              LOAD_PROBES (200)   probes during the load
#              LINES (5000000)     lines appended in phase 2
#              RATE (50000)        lines per second appended
#              SEGMENT (500000)    lines per generated segment (one day each)
#              POLL_MS (2)         poll period of a probe
#              KEEP (unset)        keep the work directory
set -euo pipefail

BUILD=${BUILD:-./build}
FLUSH=${FLUSH:-1s}
PROBES=${PROBES:-1000}
LOAD_PROBES=${LOAD_PROBES:-200}
LINES=${LINES:-5000000}
RATE=${RATE:-50000}
SEGMENT=${SEGMENT:-500000}
POLL_MS=${POLL_MS:-2}
BOUSSOLE=$BUILD/boussole
GENLOG=$BUILD/boussole-genlog

die() { echo "bench/latency.sh: $*" >&2; exit 2; }
[ -x "$BOUSSOLE" ] || die "$BOUSSOLE not built (set BUILD)"
[ -x "$GENLOG" ] || die "$GENLOG not built (set BUILD)"
command -v sqlite3 >/dev/null || die "the sqlite3 shell is needed"
[ -n "${EPOCHREALTIME:-}" ] || die "bash >= 5 is needed (EPOCHREALTIME)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bsl-latency.XXXXXX")
RUN_PID=
cleanup() {
  [ -n "$RUN_PID" ] && kill -TERM "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
mkdir -p "$WORK/logs"
DB=$WORK/b.db

us() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }
poll_sleep=$(awk -v m="$POLL_MS" 'BEGIN { printf "%.3f", m / 1000 }')
case $FLUSH in
  *ms) flush_ms=${FLUSH%ms} ;;
  *s) flush_ms=$(awk -v s="${FLUSH%s}" 'BEGIN { printf "%d", s * 1000 }') ;;
  *) die "FLUSH: give ms or s (e.g. 200ms, 1s)" ;;
esac
# a probe starts a random time after the previous one became visible (that
# is, just after a flush): otherwise every probe would wait a whole interval
decorrelate() { sleep "$(awk -v r="$RANDOM" -v f="$flush_ms" 'BEGIN { printf "%.3f", r / 32768 * f / 1000 }')"; }

cat > "$WORK/boussole.conf" <<EOF
[boussole]
db = $DB
flush_interval = $FLUSH
metrics_file = $WORK/boussole.prom

[source "www"]
path = $WORK/logs/access.log*
site = www.example.com

[source "probe"]
path = $WORK/logs/probe.log
site = www.example.com
EOF
: > "$WORK/logs/probe.log"
: > "$WORK/logs/access.log"
"$BOUSSOLE" run -c "$WORK/boussole.conf" 2> "$WORK/run.log" &
RUN_PID=$!
for _ in $(seq 1 200); do
  grep -q 'running with' "$WORK/run.log" && break
  sleep 0.05
done
sleep 1

# probe ID OUTFILE: appends one line, waits until it is visible, appends
# the latency in ms (3 decimals) to OUTFILE
probe() {
  local path=/probe/$1 ts t0 t1 n
  ts=$(date -u +%d/%b/%Y:%H:%M:%S)
  t0=$(us)
  printf '10.9.%d.%d - - [%s +0000] "GET %s HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"\n' \
    $(($1 / 250 % 250)) $(($1 % 250 + 1)) "$ts" "$path" >> "$WORK/logs/probe.log"
  while :; do
    n=$(sqlite3 -batch -noheader -cmd '.timeout 1000' "$DB" \
      "SELECT count(*) FROM pages_daily WHERE path = '$path'" 2>/dev/null || true)
    [ "$n" = 1 ] && break
    if [ $(($(us) - t0)) -gt 30000000 ]; then echo "probe $1 not visible after 30 s" >&2; return; fi
    sleep "$poll_sleep"
  done
  t1=$(us)
  awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f\n", d / 1000 }' >> "$2"
}

# summary FILE: "n=… p50=… p90=… p99=… max=… ms"
summary() {
  sort -n "$1" | awk '
    { v[NR] = $1 }
    function pct(p,  i) { i = int(p * NR + 0.999999); if (i < 1) i = 1; return v[i] }
    END {
      if (NR == 0) { print "no probe"; exit }
      printf "n=%d p50=%.1f p90=%.1f p99=%.1f max=%.1f ms\n", NR, pct(0.5), pct(0.9), pct(0.99), v[NR]
    }'
}

echo "boussole run, flush_interval $FLUSH; $(nproc) CPUs; $(uname -sr)"
echo "== 1. append-to-visible latency, idle ($PROBES probes, poll every $POLL_MS ms)"
: > "$WORK/idle.lat"
for i in $(seq 1 "$PROBES"); do
  probe "$i" "$WORK/idle.lat"
  decorrelate
done
echo "idle:       $(summary "$WORK/idle.lat")"

echo "== 2. $LINES lines appended at $RATE lines/s (segments of $SEGMENT lines, one day each)"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$RUN_PID/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$RUN_PID/status" 2>/dev/null || echo 0; }
rss0=$(rss_kb)
(
  while kill -0 "$RUN_PID" 2>/dev/null; do
    echo "$(us) $(rss_kb)"
    sleep 1
  done
) > "$WORK/rss.samples" &
SAMPLER=$!

feeder() {
  local seg=0 done_lines=0 n bytes per_line chunk off t_start target now day
  t_start=$(us)
  while [ "$done_lines" -lt "$LINES" ]; do
    n=$((LINES - done_lines < SEGMENT ? LINES - done_lines : SEGMENT))
    day=$(date -u -d "2026-11-01 + $seg days" +%Y-%m-%d)
    "$GENLOG" -n "$n" -s $((seg + 1)) --start "$day" --days 1 > "$WORK/segment"
    bytes=$(stat -c %s "$WORK/segment")
    chunk=1048576
    off=0
    while [ "$off" -lt "$bytes" ]; do
      dd if="$WORK/segment" of="$WORK/logs/access.log" bs=1M skip="$off" count="$chunk" \
        iflag=skip_bytes,count_bytes oflag=append conv=notrunc status=none
      off=$((off + chunk))
      # pace: lines appended so far (by bytes) against the target rate
      local sent=$((done_lines + n * (off < bytes ? off : bytes) / bytes))
      target=$((t_start + sent * 1000000 / RATE))
      now=$(us)
      if [ "$target" -gt "$now" ]; then
        sleep "$(awk -v d=$((target - now)) 'BEGIN { printf "%.6f", d / 1e6 }')"
      fi
    done
    done_lines=$((done_lines + n))
    seg=$((seg + 1))
    # rotate: rename + create, the generation before is deleted (read to its
    # end through boussole's open descriptor)
    rm -f "$WORK/logs/access.log.1"
    mv "$WORK/logs/access.log" "$WORK/logs/access.log.1"
    : > "$WORK/logs/access.log"
  done
  echo "$(( $(us) - t_start ))" > "$WORK/feed.us"
}
feeder &
FEEDER=$!
: > "$WORK/load.lat"
i=100000
while kill -0 "$FEEDER" 2>/dev/null; do
  [ "$(wc -l < "$WORK/load.lat")" -ge "$LOAD_PROBES" ] && { sleep 0.5; continue; }
  probe "$i" "$WORK/load.lat"
  i=$((i + 1))
  decorrelate
done
wait "$FEEDER"
t_fed=$(us)
feed_s=$(awk -v u="$(cat "$WORK/feed.us")" 'BEGIN { printf "%.1f", u / 1e6 }')
echo "appended $LINES lines in $feed_s s ($(awk -v u="$(cat "$WORK/feed.us")" -v n="$LINES" 'BEGIN { printf "%.0f", n / (u / 1e6) }') lines/s)"
echo "under load: $(summary "$WORK/load.lat")"

# caught up: every appended line (+ the probes) counted
want=$((LINES + PROBES + $(wc -l < "$WORK/load.lat")))
while :; do
  got=$(sqlite3 -batch -noheader -cmd '.timeout 2000' "$DB" 'SELECT COALESCE(SUM(lines),0) FROM sources' 2>/dev/null || echo 0)
  [ "${got:-0}" -ge "$want" ] && break
  if [ $(($(us) - t_fed)) -gt 300000000 ]; then echo "not caught up after 300 s: $got of $want lines"; break; fi
  sleep 0.1
done
echo "caught up $(awk -v d=$(($(us) - t_fed)) 'BEGIN { printf "%.2f", d / 1e6 }') s after the last append ($got lines in sources)"
rss_end=$(rss_kb)
hwm=$(hwm_kb)
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
rss_max=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$WORK/rss.samples")
echo "== 3. memory of boussole run"
echo "RSS before the load: $((rss0 / 1024)) MiB; during it, max of 1 s samples: $((rss_max / 1024)) MiB; after $LINES lines: $((rss_end / 1024)) MiB; peak (VmHWM): $((hwm / 1024)) MiB"
echo "metrics: $(grep -E '^boussole_(resident_memory_bytes|open_visits|commits_total|last_flush_duration_seconds) ' "$WORK/boussole.prom" | tr '\n' ' ')"
echo "database: $(du -h "$DB" | cut -f1)"
kill -TERM "$RUN_PID"
wait "$RUN_PID" || echo "boussole run exited with status $?"
RUN_PID=
if grep -E 'level=(warn|error)' "$WORK/run.log" | head -5 | grep .; then echo "(warnings above, from boussole's log)"; fi
