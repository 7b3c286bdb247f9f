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
# Part 1, rates: one `run` follows one file; for each rate of RATES it
# appends generated lines (boussole-genlog, cut anywhere: a partial line
# waits for its newline as in real life) at that rate for SECONDS seconds,
# then completes the last line and waits until every byte is committed.  Every 100 ms it reads the
# committed offset (the `sources` view) and the process's VmRSS; the lag of
# a sample is how long ago the oldest uncommitted byte was appended (0 when
# all is committed).  Per rate it prints the rate reached, lag p50/p99/max
# over the samples of the phase and its drain, VmRSS max, VmHWM so far, and
# each thread's CPU share over the phase (threads are named: the loop
# thread models, bsl-parse parses, bsl-write writes SQLite).
#
# Part 2, catch-up: CATCHUP lines already in a file; `run` from offset 0
# until every byte is committed, against `ingest` of the same file, ROUNDS
# rounds; prints each round and the median of the per-round ratios
# (throughput of run / throughput of ingest).
#
# environment: BUILD (./build)         holds boussole and boussole-genlog
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

die() { echo "bench/live_rate.sh: $*" >&2; exit 2; }
[ -x "$BOUSSOLE" ] || die "$BOUSSOLE not built (set BUILD)"
[ -x "$GENLOG" ] || die "$GENLOG not built (set BUILD)"
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
echo "generating $total lines over $DAYS days..."
"$GENLOG" -n "$total" --days "$DAYS" > "$WORK/source.log"

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
import os, sqlite3, subprocess, sys, time

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

def rates(boussole, source, workdir, rate_list, seconds):
    db = os.path.join(workdir, "b.db")
    log_path = os.path.join(workdir, "access.log")
    open(log_path, "wb").close()
    p = start_run(boussole, os.path.join(workdir, "boussole.conf"), workdir)
    src = open(source, "rb")
    # average line length, to turn a line rate into a byte rate
    head = src.read(1 << 20)
    avg = len(head) / max(1, head.count(b"\n"))
    src.seek(0)
    out = open(log_path, "ab", buffering=0)
    appended = 0   # bytes
    marks = []     # (time, bytes appended by then)
    print(f"{'lines/s':>9} {'reached':>9} {'lag p50':>8} {'p99':>7} {'max':>7}"
          f" {'RSS max':>8} {'HWM':>7}  CPU% by thread")
    for rate in rate_list:
        tick = 0.01
        per_tick = int(rate * avg * tick)
        t0 = time.time()
        cpu0 = threads(p.pid)
        lags, rss_max = [], 0
        next_sample = t0
        start_bytes = appended
        c0 = committed(db) or 0
        n = 0
        drain_until = None
        while True:
            now = time.time()
            if now - t0 < seconds:
                want = int((now - t0) / tick) + 1
                while n < want:
                    chunk = src.read(per_tick)
                    if not chunk:
                        break
                    out.write(chunk)
                    appended += len(chunk)
                    n += 1
                marks.append((time.time(), appended))
            elif drain_until is None:
                # the phase ends on a whole line, or its last bytes would
                # wait for a newline forever
                tail = src.readline()
                out.write(tail)
                appended += len(tail)
                marks.append((time.time(), appended))
                append_time = time.time() - t0
                drain_until = now + 60
            if now >= next_sample:
                next_sample = now + 0.1
                c = committed(db)
                if c is not None:
                    if c >= appended:
                        lags.append(0.0)
                    else:
                        # when was byte c appended?
                        lo, hi = 0, len(marks) - 1
                        while lo < hi:
                            mid = (lo + hi) // 2
                            if marks[mid][1] > c:
                                hi = mid
                            else:
                                lo = mid + 1
                        lags.append(now - marks[lo][0] if marks else 0.0)
                    if drain_until is not None and c >= appended:
                        break
                rss_max = max(rss_max, status(p.pid, "VmRSS"))
            if drain_until is not None and now > drain_until:
                break
            time.sleep(0.002)
        elapsed = time.time() - t0
        cpu1 = threads(p.pid)
        hz = os.sysconf("SC_CLK_TCK")
        busy = []
        for tid, (name, ticks) in sorted(cpu1.items()):
            d = ticks - cpu0.get(tid, (name, 0))[1]
            if d > 0:
                busy.append(f"{name} {100.0 * d / hz / elapsed:.0f}")
        lines = (appended - start_bytes) / avg
        c = committed(db) or 0
        reached = lines / append_time
        print(f"{rate:>9} {reached:>9.0f} {pct(lags, .5):>7.2f}s {pct(lags, .99):>6.2f}s"
              f" {max(lags) if lags else 0:>6.2f}s {rss_max / 1024:>6.1f}MB"
              f" {status(p.pid, 'VmHWM') / 1024:>5.1f}MB  {', '.join(busy)}"
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
    rates(sys.argv[2], sys.argv[3], sys.argv[4],
          [int(x) for x in sys.argv[5].split()], float(sys.argv[6]))
else:
    catchup(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
PY

echo
echo "== rates (flush_interval = $FLUSH, $SECONDS_PER_RATE s each) =="
mkdir -p "$WORK/rates"
conf "$WORK/rates"
python3 "$WORK/drive.py" rates "$BOUSSOLE" "$WORK/source.log" "$WORK/rates" \
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
