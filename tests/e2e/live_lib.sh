# Helpers for the live-mode (`boussole run`) end-to-end tests, sourced after
# lib.sh.  Not a test itself (the CMake glob registers only test_*.sh).
#
# Everything a test starts in the background is registered with bg_track so
# the EXIT trap ends it (by pid, never by name) before the work dir goes.

BG_PIDS=()
bg_track() { BG_PIDS+=("$1"); }
PRE_CLEANUP=: # a test may set it to a command run first (e.g. stop nginx)
live_cleanup() {
  local p rc=$1
  $PRE_CLEANUP || true
  for p in "${BG_PIDS[@]}"; do
    kill -9 "$p" 2>/dev/null || true
  done
  for p in "${BG_PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  if [ -n "${BSL_KEEP_WORK:-}" ]; then
    echo "work dir kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit_guard "$rc" # lib.sh: an exit 0 before finish fails
}
trap 'live_cleanup $?' EXIT

GENLOG=${GENLOG:-$(dirname "$BOUSSOLE")/boussole-genlog}

# now_ms: wall clock in milliseconds
now_ms() { date +%s%3N; }

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds; 1 when
# the deadline passes first.
wait_until() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

# qs DB SQL: like q, but tolerates a database that does not exist yet or is
# busy (prints nothing then)
qs() { [ -f "$1" ] && sqlite3 -batch -noheader -cmd '.timeout 2000' "$1" "$2" 2>/dev/null || true; }

# lines_read DB: SUM(lines) over every file boussole committed
lines_read() { local n; n=$(qs "$1" 'SELECT COALESCE(SUM(lines),0) FROM sources'); echo "${n:-0}"; }
# hits_counted DB: SUM(hits) in traffic_daily
hits_counted() { local n; n=$(qs "$1" 'SELECT COALESCE(SUM(hits),0) FROM traffic_daily'); echo "${n:-0}"; }
db_has_hits() { [ "$(hits_counted "$1")" -eq "$2" ]; }
db_has_lines() { [ "$(lines_read "$1")" -eq "$2" ]; }

# follow_conf CONF DB PATH FLUSH SITE: a configuration following PATH
# (one source, "www") into DB, committing every FLUSH
follow_conf() {
  printf '[boussole]\ndb = %s\nflush_interval = %s\n\n[source "www"]\npath = %s\nsite = %s\n' \
    "$2" "$4" "$3" "$5" > "$1"
}

# run_start CONF LOG: starts `boussole run -c CONF` in the background, its
# stderr appended to LOG; sets RUN_PID
run_start() {
  "$BOUSSOLE" run -c "$1" 2>>"$2" &
  RUN_PID=$!
  bg_track "$RUN_PID"
}

# run_stop [PID]: SIGTERM; the process must exit 0 within 2 s.  Sets
# STOPPED to "ok", or to what went wrong (not in $(...): wait needs the
# shell that started it).
run_stop() {
  local pid=${1:-$RUN_PID} i rc t0
  t0=$(now_ms)
  kill -TERM "$pid" 2>/dev/null || { STOPPED="not running"; return 0; }
  for i in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    STOP_MS=">2000"
    STOPPED="still running 2 s after SIGTERM"
    return 0
  fi
  rc=0
  wait "$pid" || rc=$?
  STOP_MS=$(($(now_ms) - t0))
  if [ "$rc" -eq 0 ]; then STOPPED=ok; else STOPPED="exit status $rc"; fi
}

# metrics_ok FILE: every non-comment line is `name{labels} value` or
# `name value` in Prometheus text format, and there is at least one
metrics_ok() {
  [ -s "$1" ] || return 1
  awk '
    /^#/ { if ($0 !~ /^# (TYPE|HELP) [a-zA-Z_:][a-zA-Z0-9_:]* /) bad = 1; next }
    /^$/ { next }
    {
      n++
      if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eE]+(Inf|NaN)?$/) bad = 1
    }
    END { exit (bad || n == 0) }' "$1"
}

# metric FILE NAME{LABELS}: the value of one sample
metric() { awk -v k="$2" 'index($0, k " ") == 1 { print $2 }' "$1"; }

# logged LOG REGEX: the log has a matching line
logged() { grep -Eq "$2" "$1"; }

# views_compare REF DB: "same" when every view of DB equals REF's, else how
# they differ: rows of the aggregate views (all but visits and rejects) of
# DB not in REF, visits that differ, and visits/bounces per day
views_compare() {
  local ref=$1 db=$2 rows differ vdiff
  if cmp -s <(dump_views "$ref") <(dump_views "$db"); then echo same; return 0; fi
  aggregates() { dump_views "$1" | awk '/^== (visits|rejects)$/ { skip = 1 } /^== / && !/^== (visits|rejects)$/ { skip = 0 } !skip && !/^== /'; }
  rows=$(aggregates "$ref" | wc -l)
  differ=$(diff <(aggregates "$ref") <(aggregates "$db") | grep -c '^>' || true)
  vdiff=$(diff <(dump_views "$ref" | sed -n '/^== visits$/,/^== rejects$/p') \
               <(dump_views "$db" | sed -n '/^== visits$/,/^== rejects$/p') | grep -c '^>' || true)
  echo "$differ of $rows aggregate view rows differ, $vdiff visits rows;" \
    "day:visits/bounces clean" \
    "$(q "$ref" "SELECT group_concat(day || ':' || visits || '/' || bounces, ' ') FROM traffic_daily")" \
    "live $(q "$db" "SELECT group_concat(day || ':' || visits || '/' || bounces, ' ') FROM traffic_daily")"
}
