#!/usr/bin/env bash
# bench/threads.sh: where `boussole ingest`'s time goes, thread by thread.
#
# THIS IS A BENCHMARK, NOT A TEST. It measures and prints numbers; it never
# passes or fails on them, and ctest does not run it.  Run it on a quiet
# machine from a Release build, e.g.:
#
#   BUILD=build-rel bench/threads.sh /tmp/f.log
#
# usage: bench/threads.sh FILE...
# environment: BUILD (./build)  the build directory holding boussole
#              RUNS (3)         rounds per file; medians are printed
#              SITE (www.example.com)  --site given to boussole
#
# For each FILE, each round ingests it into a fresh database while sampling
# /proc/PID/task/*/stat every 5 ms; a thread's CPU time (user + system) is
# its last sample before it ended.  The threads are named: bsl-read reads
# (and inflates), bsl-parse parses and classifies, the main thread
# ("boussole") models visits, bsl-write applies each commit to SQLite.  It
# prints per thread the median CPU seconds, microseconds per line and share
# of the wall time, then the total CPU and "cores busy" (total CPU / wall):
# on a 2-core machine, 2.0 would mean no thread ever waited for another.
set -euo pipefail

BUILD=${BUILD:-./build}
RUNS=${RUNS:-3}
SITE=${SITE:-www.example.com}
BOUSSOLE=$BUILD/boussole
die() { echo "bench/threads.sh: $*" >&2; exit 2; }
[ -x "$BOUSSOLE" ] || die "$BOUSSOLE not found; build first or set BUILD=dir"
[ $# -gt 0 ] || die "usage: bench/threads.sh FILE..."
case $RUNS in '' | *[!0-9]* | 0) die "RUNS must be a positive integer" ;; esac
command -v python3 >/dev/null || die "python3 is needed"
for f in "$@"; do [ -r "$f" ] || die "$f: cannot read"; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bsl-threads.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
printf '[boussole]\ndb = %s/t.db\n' "$WORK" >"$WORK/t.conf"

python3 - "$BOUSSOLE" "$WORK" "$RUNS" "$SITE" "$@" <<'PY'
import os, statistics, subprocess, sys, time

boussole, work, runs, site, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
hz = os.sysconf("SC_CLK_TCK")
order = ["bsl-read", "bsl-parse", "boussole", "bsl-write"]
role = {"bsl-read": "reads", "bsl-parse": "parses", "boussole": "models",
        "bsl-write": "writes SQLite"}

def one(path):
    for f in os.listdir(work):
        if f.startswith("t.db"):
            os.remove(os.path.join(work, f))
    last = {}
    t0 = time.monotonic()
    p = subprocess.Popen([boussole, "ingest", "-q", "--no-progress", "-c",
                          os.path.join(work, "t.conf"), "--site", site, path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    task = f"/proc/{p.pid}/task"
    while p.poll() is None:
        try:
            tids = os.listdir(task)
        except OSError:
            tids = []
        for tid in tids:
            try:
                with open(f"{task}/{tid}/stat") as fh:
                    s = fh.read()
            except OSError:
                continue
            name = s[s.index("(") + 1:s.rindex(")")]
            fields = s[s.rindex(")") + 2:].split()
            last[tid] = (name, (int(fields[11]) + int(fields[12])) / hz)
        time.sleep(0.005)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 0:
        sys.exit(f"bench/threads.sh: boussole ingest {path} failed: {err.strip()}")
    cpu = {}
    for name, sec in last.values():
        cpu[name] = cpu.get(name, 0.0) + sec
    return wall, cpu

for path in files:
    with open(path, "rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    rounds = [one(path) for _ in range(runs)]
    wall = statistics.median(r[0] for r in rounds)
    names = order + sorted({n for _, c in rounds for n in c} - set(order))
    print(f"== {path}: {lines} lines, {runs} rounds, medians ==")
    print(f"{'thread':<11} {'role':<14} {'CPU s':>7} {'us/line':>8} {'of wall':>8}")
    total = []
    for _, c in rounds:
        total.append(sum(c.values()))
    for n in names:
        sec = statistics.median(c.get(n, 0.0) for _, c in rounds)
        print(f"{n:<11} {role.get(n, ''):<14} {sec:7.2f} {1e6 * sec / max(lines, 1):8.3f} {100 * sec / wall:7.0f}%")
    tot = statistics.median(total)
    busy = statistics.median(t / w for (w, _), t in zip(rounds, total))
    print(f"{'total':<26} {tot:7.2f} {1e6 * tot / max(lines, 1):8.3f}")
    print(f"wall {wall:.2f} s ({lines / wall:,.0f} lines/s), cores busy {busy:.2f} "
          f"(rounds: {' '.join(f'{w:.2f}' for w, _ in rounds)} s)")
PY
