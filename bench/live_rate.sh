#!/usr/bin/env bash
# bench/live_rate.sh: how fast `boussole run` keeps up, and what it holds.
#
# THIS IS A BENCHMARK, NOT A TEST. It measures and prints numbers; it never
# passes or fails on them, and ctest does not run it. Run it on a quiet
# machine from a Release build, e.g.:
#
#   cmake -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel
#   BUILD=build-rel bench/live_rate.sh
#
# Part 1, rates: one `run` follows one file; for each rate of RATES,
# bench-append (bench/append.c) appends generated lines (boussole-genlog,
# cut anywhere every 5 ms: a partial line waits for its newline as in real
# life) at that rate for SECONDS_PER_RATE seconds, ending on a whole line,
# and the script waits until every byte is committed.  Every 100 ms it reads
# the committed offset (the `sources` view) and the process's VmRSS; the lag
# of a sample is how long ago the oldest uncommitted byte was appended (0
# when all is committed).  Per rate it prints the rate the appender reached
# and its own CPU, lag p50/p99/max over the samples of the phase and its
# drain, VmRSS max, VmHWM so far, and each thread's CPU share over the
# appending (threads are named: bsl-read reads, bsl-parse parses, the loop
# thread models, bsl-write writes SQLite).
#
# Part 2, catch-up: CATCHUP lines already in a file; `run` from offset 0
# until every byte is committed, against `ingest` of the same file, ROUNDS
# rounds; prints each round and the median of the per-round ratios
# (throughput of run / throughput of ingest).
#
# environment: BUILD (./build)         holds boussole, boussole-genlog and
#                                      bench-append
#              APPEND ($BUILD/bench-append)  the appender (to measure an older
#                                      build with today's appender)
#              MIX (unset)             boussole-genlog options, e.g. --realistic
#              RATES ("50000 200000 500000 1000000")  lines/s
#              SECONDS_PER_RATE (10)   append time per rate
#              FLUSH (1s)              flush_interval
#              CATCHUP (3000000)       lines of the catch-up file (0: skip)
#              ROUNDS (3)              catch-up rounds
#              DAYS (7)                days the generated traffic spans
#              KEEP (unset)            keep the work directory
set -euo pipefail

BUILD=${BUILD:-./build}
RATES=${RATES:-"50000 200000 500000 1000000"}
SECONDS_PER_RATE=${SECONDS_PER_RATE:-10}
FLUSH=${FLUSH:-1s}
CATCHUP=${CATCHUP:-3000000}
ROUNDS=${ROUNDS:-3}
DAYS=${DAYS:-7}
BOUSSOLE=$BUILD/boussole
GENLOG=$BUILD/boussole-genlog
APPEND=${APPEND:-$BUILD/bench-append}

die() { echo "bench/live_rate.sh: $*" >&2; exit 2; }
[ -x "$BOUSSOLE" ] || die "$BOUSSOLE not built (set BUILD)"
[ -x "$GENLOG" ] || die "$GENLOG not built (set BUILD)"
[ -x "$APPEND" ] || die "$APPEND not built (set BUILD or APPEND)"
command -v python3 >/dev/null || die "python3 is needed"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bsl-live-rate.XXXXXX")
cleanup() {
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

total=0
for r in $RATES; do total=$((total + r * SECONDS_PER_RATE)); done
[ "$CATCHUP" -le "$total" ] || total=$CATCHUP # the catch-up file is its head
echo "generating $total lines over $DAYS days (mix: ${MIX:-default})..."
# shellcheck disable=SC2086 # MIX holds options
"$GENLOG" -n "$total" --days "$DAYS" ${MIX:-} > "$WORK/source.log"

conf() { # conf DIR: a configuration following DIR/access.log
  cat > "$1/boussole.conf" <<EOF
[boussole]
db = $1/b.db
flush_interval = $FLUSH

[source "www"]
path = $1/access.log
site = www.example.com
EOF
}

# The appender, sampler and summary: one Python process per part, so the
# appending is not held up by forking a sqlite3 shell per sample.
cat > "$WORK/drive.py" <<'PY'
import bisect, os, sqlite3, subprocess, sys, time

def status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def threads(pid):
    """{tid: (name, cpu ticks)} of the process's threads"""
    out = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
            name = s[s.index("(") + 1:s.rindex(")")]
            rest = s[s.rindex(")") + 2:].split()
            out[tid] = (name, int(rest[11]) + int(rest[12]))
    except OSError:
        pass
    return out

def committed(db):
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        row = c.execute("SELECT max(offset) FROM sources").fetchone()
        c.close()
        return row[0] or 0
    except sqlite3.Error:
        return None

def pct(v, p):
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(p * len(v) + 0.999999) - 1))]

def start_run(boussole, conf, workdir):
    log = open(os.path.join(workdir, "run.log"), "w")
    p = subprocess.Popen([boussole, "run", "-c", conf], stderr=log)
    for _ in range(400):
        with open(os.path.join(workdir, "run.log")) as f:
            if "running with" in f.read():
                break
        time.sleep(0.05)
    return p

def stop_run(p):
    p.terminate()
    p.wait()

def rates(boussole, appender, source, workdir, rate_list, seconds):
    db = os.path.join(workdir, "b.db")
    log_path = os.path.join(workdir, "access.log")
    open(log_path, "wb").close()
    p = start_run(boussole, os.path.join(workdir, "boussole.conf"), workdir)
    print(f"{'lines/s':>9} {'reached':>9} {'appender':>8} {'lag p50':>8}"
          f" {'p99':>7} {'max':>7} {'RSS max':>8} {'HWM':>7}  CPU% by thread")
    for rate in rate_list:
        marks_path = os.path.join(workdir, "marks")
        t0 = time.time()
        cpu0 = threads(p.pid)
        with open(marks_path, "w") as mf:
            a = subprocess.Popen([appender, source, log_path, str(rate),
                                  str(seconds)], stdout=mf,
                                 stderr=subprocess.PIPE, text=True)
        samples, rss_max = [], 0  # (time, committed offset)
        drain_until = None
        while True:
            now = time.time()
            c = committed(db)
            if c is not None:
                samples.append((now, c))
            rss_max = max(rss_max, status(p.pid, "VmRSS"))
            if drain_until is None and a.poll() is not None:
                drain_until = time.time() + 60
                appended = os.path.getsize(log_path)
                elapsed = time.time() - t0
                cpu1 = threads(p.pid)
            if drain_until is not None and (
                    (c is not None and c >= appended) or now > drain_until):
                break
            time.sleep(max(0.0, now + 0.1 - time.time()))
        report = a.stderr.read().strip()
        if a.returncode != 0:
            sys.exit(f"bench-append failed: {report}")
        # "appended N lines in T s: R lines/s, CPU C%"
        reached = report.split(": ")[1].split(" lines/s")[0]
        app_cpu = report.rsplit("CPU ", 1)[1]
        marks = []
        with open(marks_path) as mf:
            for line in mf:
                t, b = line.split()
                marks.append((float(t), int(b)))
        times = [m[0] for m in marks]
        lags = []
        for now, c in samples:
            # bytes appended by NOW, and when the first uncommitted one was
            i = bisect.bisect_right(times, now)
            if i == 0 or c >= marks[i - 1][1]:
                lags.append(0.0)
                continue
            j = bisect.bisect_right([m[1] for m in marks[:i]], c)
            lags.append(now - marks[j][0])
        hz = os.sysconf("SC_CLK_TCK")
        busy = []
        for tid, (name, ticks) in sorted(cpu1.items()):
            d = ticks - cpu0.get(tid, (name, 0))[1]
            if d > 0:
                busy.append(f"{name} {100.0 * d / hz / elapsed:.0f}")
        c = committed(db) or 0
        print(f"{rate:>9} {reached:>9} {app_cpu:>8} {pct(lags, .5):>7.2f}s"
              f" {pct(lags, .99):>6.2f}s {max(lags) if lags else 0:>6.2f}s"
              f" {rss_max / 1024:>6.1f}MB {status(p.pid, 'VmHWM') / 1024:>5.1f}MB"
              f"  {', '.join(busy)}"
              + ("" if c >= appended else "  (not caught up after 60 s)"),
              flush=True)
    stop_run(p)

def catchup(boussole, path, workdir, rounds):
    size = os.path.getsize(path)
    ratios = []
    for r in range(rounds):
        for f in os.listdir(workdir):
            if f.startswith("b.db"):
                os.remove(os.path.join(workdir, f))
        t0 = time.time()
        p = subprocess.Popen([boussole, "run", "-c",
                              os.path.join(workdir, "boussole.conf")],
                             stderr=subprocess.DEVNULL)
        db = os.path.join(workdir, "b.db")
        while True:
            c = committed(db) if os.path.exists(db) else None
            if c is not None and c >= size:
                break
            time.sleep(0.02)
        t_run = time.time() - t0
        hwm = status(p.pid, "VmHWM")
        stop_run(p)
        for f in os.listdir(workdir):
            if f.startswith("i.db"):
                os.remove(os.path.join(workdir, f))
        t0 = time.time()
        subprocess.run([boussole, "ingest", "--no-progress", "-q", "--site",
                        "www.example.com", "--db",
                        os.path.join(workdir, "i.db"), path], check=True)
        t_ingest = time.time() - t0
        ratios.append(t_ingest / t_run)
        print(f"round {r + 1}: run {t_run:.2f} s (VmHWM {hwm / 1024:.1f} MB),"
              f" ingest {t_ingest:.2f} s, run/ingest throughput {t_ingest / t_run:.3f}",
              flush=True)
    ratios.sort()
    print(f"median ratio (run / ingest throughput): {ratios[len(ratios) // 2]:.3f}")

if sys.argv[1] == "rates":
    rates(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
          [int(x) for x in sys.argv[6].split()], float(sys.argv[7]))
else:
    catchup(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
PY

echo
echo "== rates (flush_interval = $FLUSH, $SECONDS_PER_RATE s each) =="
mkdir -p "$WORK/rates"
conf "$WORK/rates"
python3 "$WORK/drive.py" rates "$BOUSSOLE" "$APPEND" "$WORK/source.log" \
  "$WORK/rates" \
  "$RATES" "$SECONDS_PER_RATE"

if [ "$CATCHUP" -gt 0 ]; then
  echo
  echo "== catch-up: $CATCHUP lines from offset 0, run vs ingest =="
  mkdir -p "$WORK/catchup"
  conf "$WORK/catchup"
  head -n "$CATCHUP" "$WORK/source.log" > "$WORK/catchup/access.log"
  rm -f "$WORK/source.log"
  python3 "$WORK/drive.py" catchup "$BOUSSOLE" "$WORK/catchup/access.log" \
    "$WORK/catchup" "$ROUNDS"
fi
