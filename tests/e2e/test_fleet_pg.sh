#!/usr/bin/env bash
# SPEC §9 (fleet) on a throwaway PostgreSQL 15 with hll (pg_lib.sh): the
# same log gives the same views in SQLite and in PostgreSQL; split by client
# address over three concurrent `ingest`s with different hosts it gives the
# single instance's views (visitors within 2%); one writer per host, two
# hosts at once; SIGKILL at random moments resumes with identical views; a
# commit whose reply is lost (the connection closed after COMMIT) and one
# whose backend is terminated are retried without counting anything twice;
# an unreachable server is one clear line naming the URI (exit 2).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
source "$(dirname "$0")/pg_lib.sh"
trap 'rc=$?; pg_cleanup; live_cleanup $rc' EXIT
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
pg_start
VIEWS=$(dirname "$0")/pg_views.py
SITE=www.example.com

# conf FILE DB HOST: a configuration writing DB as HOST, with a goal
conf() {
  cat > "$1" <<EOF
[boussole]
db = $2
host = $3
flush_interval = 200ms

[goal "signup"]
path = ^/thank-you
EOF
}
# runconf FILE DB HOST: conf, and `run` tails $WORK/logs/access.log
runconf() {
  conf "$@"
  printf '\n[source "www"]\npath = %s\nsite = %s\n' "$WORK/logs/access.log" "$SITE" >> "$1"
}
# newdb NAME: an empty PostgreSQL database; prints its URI
newdb() {
  "$PG_BIN/createdb" -h "$PG_DIR" -U postgres "$1"
  pg_sql_db "$1" "CREATE EXTENSION hll" >/dev/null
  echo "postgresql:///$1?host=$PG_DIR&user=postgres"
}
pg_sql_db() { "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -U postgres -d "$1" -c "$2"; }
ingest() { "$BOUSSOLE" ingest -q --no-progress --site "$SITE" "$@"; }
# compare LITE URI [ARGS]: "same" or the differences
compare() { local out; if out=$(python3 "$VIEWS" "$@" 2>&1); then echo same; else echo "$out" | grep -v 'rows equal' | head -8; fi; }

"$GENLOG" -n 60000 -s 5 --days 3 --site "$SITE" --bad-rate 0.002 > "$WORK/full.log"
conf "$WORK/lite.conf" "$WORK/lite.db" lite
ingest -c "$WORK/lite.conf" "$WORK/full.log"

# 1. one host: every view equal to SQLite's
conf "$WORK/one.conf" "$PG_URI" web1
ingest -c "$WORK/one.conf" "$WORK/full.log"
expect_eq "one host: PostgreSQL views == SQLite views" "$(compare "$WORK/lite.db" "$PG_URI")" same
expect_eq "the host column says who wrote the visits" \
  "$(pg_sql "SELECT DISTINCT host FROM visits")" web1
# re-ingesting the same file adds nothing
ingest -c "$WORK/one.conf" "$WORK/full.log"
expect_eq "one host, file read again: views unchanged" "$(compare "$WORK/lite.db" "$PG_URI")" same
"$BOUSSOLE" report --db "$WORK/lite.db" > "$WORK/report-lite.txt"
"$BOUSSOLE" report --db "$PG_URI" > "$WORK/report-pg.txt"
expect_eq "report on PostgreSQL == report on SQLite" \
  "$(diff "$WORK/report-lite.txt" "$WORK/report-pg.txt" | head -5 || true)" ""
"$BOUSSOLE" diagnose --db "$WORK/lite.db" --json > "$WORK/diagnose-lite.json"
"$BOUSSOLE" diagnose --db "$PG_URI" --json > "$WORK/diagnose-pg.json"
# generated_at is when each ran: the two runs may straddle a second (a
# sanitizer build did, in CI), so it is left out of the comparison
no_clock() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("generated_at"); print(json.dumps(d, sort_keys=True, indent=1))' "$1"
}
expect_eq "diagnose on PostgreSQL == diagnose on SQLite" \
  "$(diff <(no_clock "$WORK/diagnose-lite.json") <(no_clock "$WORK/diagnose-pg.json") | head -5 || true)" ""
expect_eq "diagnose found something to compare" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["findings"]) + len(d["movers"]) > 0)' "$WORK/diagnose-pg.json")" True
"$BOUSSOLE" report --db "$PG_URI" --html "$WORK/report-pg.html" 2>/dev/null
expect_eq "HTML report on PostgreSQL" "$(grep -c '<html' "$WORK/report-pg.html")" 1
# the same numbered migrations as SQLite's PRAGMA user_version
expect_eq "schema version recorded, as SQLite's" \
  "$(pg_sql "SELECT max(version) FROM schema_version")" \
  "$(q "$WORK/lite.db" "PRAGMA user_version")"
expect_eq "not_found_daily and visit_conversions on PostgreSQL" \
  "$(pg_sql "SELECT COUNT(*) FROM pg_views WHERE viewname IN ('not_found_daily', 'visit_conversions')")" 2
# a version-8 database (no devices_daily, no pages_daily.bounces) is
# migrated: step 9 fills the device sketches from the visits already there
pg_sql "DROP VIEW devices_daily; DROP TABLE device_sketches; DROP VIEW pages_daily;
  CREATE VIEW pages_daily AS SELECT day, site, path, SUM(pageviews)::bigint AS pageviews,
   SUM(entries)::bigint AS entries, SUM(scroll_sum)::float8 / SUM(pageviews) AS avg_scroll_depth,
   SUM(scroll_75)::bigint AS scroll_75 FROM page_counts GROUP BY day, site, path HAVING SUM(pageviews) > 0;
  DELETE FROM schema_version WHERE version >= 9" > /dev/null
expect_eq "version-8 copy: no devices_daily" \
  "$(pg_sql "SELECT COUNT(*) FROM pg_views WHERE viewname = 'devices_daily'")" 0
"$BOUSSOLE" report --db "$PG_URI" > /dev/null
expect_eq "version 8 migrated to 10" "$(pg_sql "SELECT max(version) FROM schema_version")" 10
expect_eq "migrated from 8: PostgreSQL views == SQLite views" "$(compare "$WORK/lite.db" "$PG_URI")" same

# 2. three hosts, the log split by a hash of the client address, at once
python3 "$(dirname "$0")/split_by_client.py" "$WORK/full.log" "$WORK/part" 3
FLEET=$(newdb fleet)
pids=()
for i in 0 1 2; do
  conf "$WORK/h$i.conf" "$FLEET" "web$i"
  ingest -c "$WORK/h$i.conf" "$WORK/part$i.log" & pids+=($!)
done
rcs=""
for p in "${pids[@]}"; do rc=0; wait "$p" || rc=$?; rcs="$rcs$rc"; done
expect_eq "three concurrent hosts exit 0" "$rcs" 000
expect_eq "three hosts by client address == one instance (visitors within 2%)" \
  "$(compare "$WORK/lite.db" "$FLEET" --fleet)" same
expect_eq "each host's files in sources" \
  "$(pg_sql_db fleet "SELECT string_agg(host || ':' || lines, ' ' ORDER BY host) FROM sources")" \
  "web0:$(wc -l < "$WORK/part0.log") web1:$(wc -l < "$WORK/part1.log") web2:$(wc -l < "$WORK/part2.log")"
expect_eq "one day salt per day, shared" \
  "$(pg_sql_db fleet "SELECT count(*) FROM day_salts")" \
  "$(pg_sql_db fleet "SELECT count(*) FROM day_salts")"

# 3. one writer per host: a second writer as the same host is refused
# (exit 2, the holder named); another host writes at the same time
WDB=$(newdb writers)
mkdir -p "$WORK/logs"
head -n 2000 "$WORK/full.log" > "$WORK/logs/access.log"
runconf "$WORK/run.conf" "$WDB" alpha
run_start "$WORK/run.conf" "$WORK/run.log"
alpha_done() { [ "$(pg_sql_db writers "SELECT COALESCE(SUM(lines),0) FROM sources" 2>/dev/null)" = 2000 ]; }
wait_until 10 alpha_done ||
  expect_eq "run committed its lines" no yes
conf "$WORK/alpha.conf" "$WDB" alpha
rc=0
ingest -c "$WORK/alpha.conf" "$WORK/part0.log" 2> "$WORK/refused.txt" || rc=$?
expect_eq "a second writer as the same host exits 2" "$rc" 2
expect_eq "the refusal is one line naming the holder's pid and command" \
  "$(wc -l < "$WORK/refused.txt"):$(grep -c "pid $RUN_PID (.*boussole run -c" "$WORK/refused.txt")" "1:1"
expect_eq "the refusal names the URI without secrets and the host" \
  "$(grep -c "postgresql:///writers?host=$PG_DIR&user=postgres (host alpha) is being written" "$WORK/refused.txt")" 1
conf "$WORK/beta.conf" "$WDB" beta
rc=0
ingest -c "$WORK/beta.conf" "$WORK/part1.log" || rc=$?
expect_eq "another host writes while alpha runs" "$rc" 0
# a reload keeps the host's lock and goes on writing
kill -HUP "$RUN_PID"
sed -n '2001,3000p' "$WORK/full.log" >> "$WORK/logs/access.log"
alpha_3000() { [ "$(pg_sql_db writers "SELECT COALESCE(SUM(lines),0) FROM sources WHERE host = 'alpha'" 2>/dev/null)" = 3000 ]; }
expect_eq "after SIGHUP, run reloads and writes on" \
  "$(wait_until 10 logged "$WORK/run.log" 'reloading' && wait_until 10 alpha_3000 && echo yes)" yes
rc=0
ingest -c "$WORK/alpha.conf" "$WORK/part0.log" 2> /dev/null || rc=$?
expect_eq "after the reload, a second writer as alpha is still refused" "$rc" 2
run_stop
expect_eq "run stops cleanly" "$STOPPED" ok

# 4. SIGKILL at random moments, commits every 1000 lines, then finish.  A
# run that finished before its kill starts the database over, so the kills
# that count all interrupt one load (as test_exactly_once.sh does)
"$GENLOG" -n 200000 -s 9 --days 2 --site "$SITE" > "$WORK/big.log"
ingest -c "$WORK/lite.conf" --db "$WORK/big-lite.db" "$WORK/big.log"
KDB=$(newdb killed)
conf "$WORK/kill.conf" "$KDB" web1
t0=$(now_ms)
ingest -c "$WORK/kill.conf" --db "$(newdb timed)" "$WORK/big.log"
T=$(($(now_ms) - t0))
lo=$((T / 10 > 20 ? T / 10 : 20))
hi=$((T * 6 / 10 > lo + 50 ? T * 6 / 10 : lo + 50))
kills=0 between=0
committed() { pg_sql_db killed "SELECT COALESCE(SUM(lines), 0) FROM sources" 2>/dev/null || echo 0; }
for i in $(seq 1 40); do
  [ "$kills" -ge 6 ] && break
  before=$(committed)
  ms=$((lo + RANDOM % (hi - lo)))
  # the binary itself, not a function: $! must be the pid SIGKILL hits
  "$BOUSSOLE" ingest -q --no-progress --site "$SITE" -c "$WORK/kill.conf" \
    --flush-lines 1000 "$WORK/big.log" &
  pid=$!
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
  case $rc in
    137)
      kills=$((kills + 1))
      after=$(committed)
      if [ "$after" -gt "$before" ] && [ "$after" -lt 200000 ]; then between=$((between + 1)); fi ;;
    0)
      "$PG_BIN/dropdb" -h "$PG_DIR" -U postgres killed
      KDB=$(newdb killed) ;;
    *) expect_eq "a killed ingest exits 0 or dies of SIGKILL" "$rc" "0 or 137" ;;
  esac
done
ingest -c "$WORK/kill.conf" "$WORK/big.log"
echo "killed $kills times mid-ingest, $between after a commit of their run (delays $lo-$hi ms, a clean run $T ms)"
expect_eq "kills that landed mid-ingest: at least 6" "$([ "$kills" -ge 6 ] && echo yes || echo "no: $kills")" yes
expect_eq "kills between two commits of a run: at least 3" "$([ "$between" -ge 3 ] && echo yes || echo "no: $between")" yes
expect_eq "SIGKILLed and resumed == SQLite" "$(compare "$WORK/big-lite.db" "$KDB")" same

# 5. the reply of a COMMIT lost (the connection closes once the commit went
# through): `run` retries its changes, the fence applies only the new part
LDB=$(newdb lost)
rm -rf "$WORK/logs" && mkdir -p "$WORK/logs"
runconf "$WORK/lost.conf" "$LDB" web1
: > "$WORK/logs/access.log"
BSL_FAIL_ALLOC=pg-commit-reply:3 run_start "$WORK/lost.conf" "$WORK/lost.log"
lost_lines() { pg_sql_db lost "SELECT COALESCE(SUM(lines),0) FROM sources" 2>/dev/null || echo 0; }
for k in 0 1 2 3 4 5; do
  sed -n "$((k * 10000 + 1)),$((k * 10000 + 10000))p" "$WORK/full.log" >> "$WORK/logs/access.log"
  sleep 0.3
done
lost_done() { [ "$(lost_lines)" = 60000 ]; }
wait_until 20 lost_done ||
  echo "lost: only $(lost_lines) lines committed"
run_stop
expect_eq "run stops cleanly after a lost COMMIT reply" "$STOPPED" ok
expect_eq "the lost reply was seen and retried" \
  "$(grep -c 'server closed the connection' "$WORK/lost.log" | tr -d ' ' | sed 's/^[1-9][0-9]*$/yes/')" yes
LREF=$WORK/lost-ref.db
runconf "$WORK/lostref.conf" "$LREF" ref
run_start "$WORK/lostref.conf" "$WORK/lostref.log"
wait_until 20 db_has_lines "$LREF" 60000 || echo "ref: only $(lines_read "$LREF") lines"
run_stop
expect_eq "lost COMMIT reply, retried: views == an uninterrupted run (SQLite)" \
  "$(compare "$LREF" "$LDB")" same

# 6. the backend killed (pg_terminate_backend) while `run` commits: the
# commit fails or the next one reconnects; nothing counted twice
TDB=$(newdb term)
rm -rf "$WORK/logs" && mkdir -p "$WORK/logs" && : > "$WORK/logs/access.log"
runconf "$WORK/term.conf" "$TDB" web1
run_start "$WORK/term.conf" "$WORK/term.log"
term_lines() { pg_sql_db term "SELECT COALESCE(SUM(lines),0) FROM sources" 2>/dev/null || echo 0; }
wait_until 10 logged "$WORK/term.log" 'running with' || echo "term: the run did not start"
for k in 0 1 2 3 4 5; do
  sed -n "$((k * 10000 + 1)),$((k * 10000 + 10000))p" "$WORK/full.log" >> "$WORK/logs/access.log"
  sleep 0.15
  pg_sql_db term "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'term' AND application_name = 'boussole' AND pid <> pg_backend_pid()" >/dev/null
done
term_done() { [ "$(term_lines)" = 60000 ]; }
wait_until 20 term_done ||
  echo "term: only $(term_lines) lines committed"
run_stop
expect_eq "run stops cleanly after its backends were terminated" "$STOPPED" ok
expect_eq "backends terminated mid-run: views == an uninterrupted run" \
  "$(compare "$LREF" "$TDB")" same

# 7. KPIs on PostgreSQL: the same statuses, series and alerts as SQLite's;
# two hosts evaluating at once raise each alert once (the fleet's lock)
"$GENLOG" -n 80000 -s 4 --days 30 --start 2026-10-01 --site "$SITE" > "$WORK/kpi.log"
KDB2=$(newdb kpis)
kpis() {
  conf "$1" "$2" "$3"
  cat >> "$1" <<'EOF'

[kpi "pv"]
metric = pageviews
period = day
direction = up
window = 14

[kpi "conv"]
metric = conversion_rate
goal = signup
period = day
target = 0.5
deadline = 2027-06-30
window = 14

[kpi "visitors-email"]
metric = visitors
filter = channel=email
period = day
window = 14

[kpi "scroll"]
metric = scroll_rate
filter = path=/pricing
period = week
window = 4

[kpi "bounce"]
metric = bounce_rate
filter = device=mobile
direction = down
window = 14

[kpi "clicks"]
metric = click_rate
window = 14
EOF
}
kpis "$WORK/kl.conf" "$WORK/kpi.db" lite
kpis "$WORK/k1.conf" "$KDB2" k1
kpis "$WORK/k2.conf" "$KDB2" k2
ingest -c "$WORK/kl.conf" "$WORK/kpi.log"
ingest -c "$WORK/k1.conf" "$WORK/kpi.log"
for d in 2026-10-20 2026-10-30; do
  "$BOUSSOLE" kpi -c "$WORK/kl.conf" --json --at $d > "$WORK/kl.json" 2>/dev/null || true
  "$BOUSSOLE" kpi -c "$WORK/k1.conf" --json --at $d > "$WORK/k1.json" 2>/dev/null &
  p1=$!
  "$BOUSSOLE" kpi -c "$WORK/k2.conf" --json --at $d > "$WORK/k2.json" 2>/dev/null || true
  wait $p1 || true
  # the second evaluation finds what the first recorded: same statuses,
  # and the transitions (raised, resolved) are the first one's alone
  expect_eq "kpi --at $d: PostgreSQL (two hosts at once) == SQLite" "$(python3 - "$WORK/kl.json" "$WORK/k1.json" "$WORK/k2.json" <<'EOF'
import json, sys
lite, a, b = (json.load(open(f)) for f in sys.argv[1:])
def states(r):
    return [{k: v for k, v in x.items() if k not in ("event", "previous_state")} for x in r["kpis"]]
quiet = lambda r: all(not x["event"] for x in r["kpis"])
ok = states(a) == states(lite) and states(b) == states(lite) and \
     ((a == lite and (quiet(b) or b == lite)) or (b == lite and (quiet(a) or a == lite)))
print("same" if ok else "differ: %s" % json.dumps([states(a) == states(lite), states(b) == states(lite), a == lite, b == lite]))
EOF
)" same
done
"$BOUSSOLE" adjust -c "$WORK/kl.conf" pv --note "new landing page" --at 2026-10-15T00:00:00Z
"$BOUSSOLE" adjust -c "$WORK/k2.conf" pv --note "new landing page" --at 2026-10-15T00:00:00Z
"$BOUSSOLE" kpi -c "$WORK/kl.conf" --at 2026-10-30 > /dev/null 2>&1 || true
"$BOUSSOLE" kpi -c "$WORK/k1.conf" --at 2026-10-30 > /dev/null 2>&1 || true
expect_eq "KPI views (series, status, alerts, adjustments) == SQLite's" \
  "$(compare "$WORK/kpi.db" "$KDB2")" same
expect_eq "each alert raised once though two hosts evaluated" \
  "$(pg_sql_db kpis "SELECT count(*) FROM alerts")" "$(q "$WORK/kpi.db" "SELECT count(*) FROM alerts")"

# 8. roles (README "Fleet"): a writer role that owns the database (not a
# superuser), an analyst role that reads the views and nothing else
"$PG_BIN/psql" -X -q -h "$PG_DIR" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE boussole_writer LOGIN" -c "CREATE ROLE analyst LOGIN" \
  -c "CREATE DATABASE roles OWNER boussole_writer"
pg_sql_db roles "CREATE EXTENSION hll; REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT ALL ON SCHEMA public TO boussole_writer"
RDB="postgresql:///roles?host=$PG_DIR&user=boussole_writer"
conf "$WORK/roles.conf" "$RDB" web1
rc=0
ingest -c "$WORK/roles.conf" "$WORK/part0.log" || rc=$?
expect_eq "the writer role (no superuser) creates the schema and writes" "$rc" 0
pg_sql_db roles "GRANT USAGE ON SCHEMA public TO analyst; GRANT SELECT ON traffic_daily, status_daily, pages_daily, channels_daily, events_daily, goals_daily, campaigns_daily, visits, visit_pages, sources, rejects, kpi_series, kpi_status, alerts, adjustments TO analyst"
as_analyst() { "$PG_BIN/psql" -X -q -A -t -h "$PG_DIR" -U analyst -d roles -c "$1" 2>&1; }
expect_eq "the analyst reads the views" \
  "$(as_analyst "SELECT SUM(hits) > 20000 FROM traffic_daily")" t
expect_eq "the analyst reads visitors (hll) and visit_pages" \
  "$(as_analyst "SELECT (SELECT SUM(visitors) > 0 FROM channels_daily) AND (SELECT count(*) > 0 FROM visit_pages)")" t
expect_eq "report runs as the analyst (views only)" \
  "$("$BOUSSOLE" report --db "postgresql:///roles?host=$PG_DIR&user=analyst" 2>&1 | grep -c '^TRAFFIC')" 1
expect_eq "the analyst cannot read the day salts" \
  "$(as_analyst "SELECT count(*) FROM day_salts" | grep -c 'permission denied')" 1
expect_eq "the analyst cannot read visitor keys" \
  "$(as_analyst "SELECT count(*) FROM visit_log" | grep -c 'permission denied')" 1

# 9. the server stops while `run` reads: commits fail, reading pauses (the
# log, the metrics file), the server comes back, reading resumes; nothing
# lost, nothing counted twice
DDB=$(newdb down)
rm -rf "$WORK/logs" && mkdir -p "$WORK/logs" && : > "$WORK/logs/access.log"
runconf "$WORK/down.conf" "$DDB" web1
sed -i "/^flush_interval/a metrics_file = $WORK/down.prom" "$WORK/down.conf"
down_lines() { pg_sql_db down "SELECT COALESCE(SUM(lines),0) FROM sources" 2>/dev/null || echo 0; }
down_has() { [ "$(down_lines)" = "$1" ]; }
paused() { [ "$(metric "$WORK/down.prom" boussole_reading_paused)" = "$1" ]; }
run_start "$WORK/down.conf" "$WORK/down.log"
wait_until 10 logged "$WORK/down.log" 'running with' || echo "down: the run did not start"
sed -n '1,20000p' "$WORK/full.log" >> "$WORK/logs/access.log"
wait_until 20 down_has 20000 || echo "down: $(down_lines) lines before the stop"
pg_stop
sed -n '20001,40000p' "$WORK/full.log" >> "$WORK/logs/access.log"
expect_eq "server stopped: reading pauses, logged" \
  "$(wait_until 20 logged "$WORK/down.log" 'commit failed, reading paused' && echo yes)" yes
expect_eq "server stopped: the metrics file says reading is paused" \
  "$(wait_until 10 paused 1 && echo yes)" yes
pg_run
sed -n '40001,60000p' "$WORK/full.log" >> "$WORK/logs/access.log"
expect_eq "server back: reading resumes" \
  "$(wait_until 30 logged "$WORK/down.log" 'reading resumed' && wait_until 30 down_has 60000 && echo yes || echo "no: $(down_lines) lines")" yes
expect_eq "server back: the metrics file says reading goes on" \
  "$(wait_until 10 paused 0 && echo yes)" yes
run_stop
expect_eq "run stops cleanly after the server came back" "$STOPPED" ok
expect_eq "server stopped and back mid-run: views == an uninterrupted run" \
  "$(compare "$LREF" "$DDB")" same

# 10. the server unreachable: one line naming the URI (no password), exit 2
rc=0
"$BOUSSOLE" ingest -q --no-progress --db "postgresql://bob:secret@$PG_DIR.none/x?host=$WORK/nosock" "$WORK/part0.log" 2> "$WORK/down.txt" || rc=$?
expect_eq "ingest with PostgreSQL unreachable exits 2" "$rc" 2
expect_eq "one line, naming the URI, no password" \
  "$(wc -l < "$WORK/down.txt"):$(grep -c 'postgresql://bob@.*cannot connect' "$WORK/down.txt"):$(grep -c secret "$WORK/down.txt")" "1:1:0"

finish
