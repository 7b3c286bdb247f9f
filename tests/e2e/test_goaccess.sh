#!/usr/bin/env bash
# Cross-check against an independent implementation: for every real access log
# in shared/data/access_logs, Debian's goaccess (COMBINED format, JSON output)
# and `boussole ingest` must agree on
#   - the total number of hits   (goaccess general.valid_requests vs SUM(traffic_daily.hits))
#   - hits per day               (goaccess "visitors" panel vs traffic_daily)
#   - hits per status code       (goaccess "status_codes" panel vs status_daily)
# EXACTLY, except for the differences listed in ALLOW below. Each allowed
# difference names the line(s) concerned, which tool parses them and the exact
# delta (boussole minus goaccess) it causes; the test checks that the declared
# deltas add up to the observed ones, and re-derives every declared delta from
# the raw lines. A third, deliberately minimal reader written here in Python
# (timestamp + status only) checks both tools on the lines they share.
#
# goaccess buckets days by the date as written in the log (it ignores %z),
# boussole by the UTC date (timezone = UTC by default): logs with a non-zero
# offset get "tz" entries whose day shifts are recomputed from the raw lines.
#
# Needs: goaccess, python3 (stdlib only), sqlite3, and $BSL_SHARED_DATA.
source "$(dirname "$0")/lib.sh"

DATA=${BSL_SHARED_DATA:-}/access_logs
[ -n "${BSL_SHARED_DATA:-}" ] && [ -d "$DATA" ] || { echo "SKIP: shared data directory not found (BSL_SHARED_DATA=${BSL_SHARED_DATA:-unset})"; exit 77; }
GOACCESS=${GOACCESS:-$(command -v goaccess || true)}
[ -n "$GOACCESS" ] && [ -x "$GOACCESS" ] || { echo "SKIP: goaccess not installed"; exit 77; }
PYTHON=$(command -v python3 || true)
[ -n "$PYTHON" ] || { echo "SKIP: python3 not installed (needed to read goaccess JSON)"; exit 77; }

FILES=(
  advertools_combined_latin1_gzipjunk_2023.log.gz
  advertools_dreamhost_apache_trailing_space_2023.log
  advertools_nginx_scanners_2021.log.gz
  basjes_logparser_hackers_access_combined_2015.log.gz
  beats_apache_ipv6_408_vhost.log
  beats_nginx_access_vhost.log
  beats_nginx_xff_ipv6_oddities.log
  elastic_examples_apache_combined_2015.log.gz
  lnav_bad_access_log.log
  lnav_zanbil_shop_nginx_combined_xff_2019.log.gz
)
# every log of the directory must be covered (a new file needs its allow-list)
expect_eq "access_logs/ holds exactly the files this test knows" \
  "$(cd "$DATA" && ls -1 | LC_ALL=C sort | tr '\n' ' ')" "$(printf '%s\n' "${FILES[@]}" | LC_ALL=C sort | tr '\n' ' ')"

SITE=logs.example.org
for f in "${FILES[@]}"; do
  src=$DATA/$f
  [ -f "$src" ] || { FAILS=$((FAILS + 1)); echo "FAIL: $src missing" >&2; continue; }
  d=$WORK/$f
  mkdir -p "$d"
  # both tools read the same bytes: boussole the file itself (.gz included),
  # goaccess its decompressed text (and the Python reader the same text)
  case $f in *.gz) gzip -dc "$src" > "$d/raw" ;; *) cp "$src" "$d/raw" ;; esac

  # goaccess: no global config (Debian's adds ignore-panel lines), no test of
  # the first lines (--num-tests=0: a log starting with junk is still read),
  # C locale for %b months, no crawler/static filtering (none is the default
  # without a config: no --ignore-crawlers, --ignore-statics, --444-as-404,
  # --ignore-status; --4xx-to-unique-count only affects visitor counts).
  if ! (cd "$d" && HOME=$d TZ=UTC LC_ALL=C "$GOACCESS" raw --no-global-config \
          --log-format=COMBINED --num-tests=0 --no-progress \
          --invalid-requests="$d/ga.inv" -o "$d/ga.json" </dev/null >"$d/ga.out" 2>&1); then
    FAILS=$((FAILS + 1)); echo "FAIL: goaccess failed on $f:" >&2; cat "$d/ga.out" >&2; continue
  fi
  [ -f "$d/ga.inv" ] || : > "$d/ga.inv"

  if ! "$BOUSSOLE" ingest -q --no-progress --site "$SITE" --db "$d/bsl.db" "$src" >"$d/bsl.out" 2>&1; then
    FAILS=$((FAILS + 1)); echo "FAIL: boussole ingest failed on $f:" >&2; cat "$d/bsl.out" >&2; continue
  fi
  q "$d/bsl.db" "SELECT day, SUM(hits) FROM traffic_daily GROUP BY day ORDER BY day" > "$d/bsl.days"
  q "$d/bsl.db" "SELECT status, SUM(hits) FROM status_daily GROUP BY status ORDER BY status" > "$d/bsl.status"
  q "$d/bsl.db" "SELECT offset, reason FROM rejects ORDER BY offset" > "$d/bsl.rejects"
  q "$d/bsl.db" "SELECT COALESCE(SUM(lines), 0), COALESCE(SUM(rejects), 0) FROM sources" > "$d/bsl.sources"
  # internal consistency: one site, and status_daily adds up to traffic_daily per day
  expect "$d/bsl.db" "SELECT COUNT(*) FROM traffic_daily WHERE site <> '$SITE'" 0
  expect "$d/bsl.db" "SELECT COUNT(*) FROM (SELECT day, SUM(hits) AS h FROM traffic_daily GROUP BY day) t
                      LEFT JOIN (SELECT day, SUM(hits) AS h FROM status_daily GROUP BY day) s USING (day)
                      WHERE s.h IS NOT t.h" 0
done

cat > "$WORK/compare.py" <<'PY'
import collections, datetime, json, re, sys

work, files = sys.argv[1], sys.argv[2:]

# ---------------------------------------------------------------------------
# ALLOW-LIST: every line the two tools parse differently, and the timezone
# shifts. Deltas are boussole minus goaccess, exact counts (no tolerance).
#   parsed_by "boussole": boussole counts the line(s), goaccess rejects them
#   parsed_by "goaccess": goaccess counts them, boussole rejects them
#   parsed_by "neither" : both reject them (no delta; boussole must reject)
#   tz                  : goaccess uses the log's local date, boussole UTC
# Line numbers are 1-based in the decompressed file.
# ---------------------------------------------------------------------------
ALLOW = {
  "advertools_combined_latin1_gzipjunk_2023.log.gz": [
    dict(lines=range(170, 201), parsed_by="neither",
         why="lines 170-200 are raw gzip bytes (an access.log.1 gzip member pasted into the file): "
             "boussole rejects all 31 ('no match'), goaccess counts 31 failed requests",
         total=0, status={}, day={}),
  ],
  "advertools_dreamhost_apache_trailing_space_2023.log": [
    dict(lines=[87], parsed_by="neither",
         why="line 87 is empty: boussole counts it as a reject ('empty line'), goaccess skips it silently",
         total=0, status={}, day={}),
    dict(tz="-0700",
         why="41 lines logged 25 Apr 2023 17:00-23:59 -0700 are 26 Apr in UTC",
         day={"2023-04-25": -41, "2023-04-26": +41}),
  ],
  "advertools_nginx_scanners_2021.log.gz": [
    dict(lines=[44], parsed_by="boussole",
         why="line 44 is 4,158 bytes (a TLS handshake logged as \\xHH escapes, status 400): goaccess reads "
             "lines in 4,096-byte chunks, splits it in two and rejects both pieces (total_requests 1001, "
             "failed_requests 2); boussole accepts lines up to 64 KiB",
         total=+1, status={"400": +1}, day={"2021-11-22": +1}),
  ],
  "basjes_logparser_hackers_access_combined_2015.log.gz": [
    dict(tz="+0100",
         why="lines logged 00:00-00:59 +0100 belong to the previous UTC day: 41 move 26->25 Oct, "
             "24 27->26, 24 28->27, 28 29->28, 45 30->29",
         day={"2015-10-25": +41, "2015-10-26": -17, "2015-10-28": +4,
              "2015-10-29": +17, "2015-10-30": -45}),
  ],
  "beats_apache_ipv6_408_vhost.log": [
    dict(lines=[1], parsed_by="boussole",
         why="line 1 is common format (no referer/UA), client ::1: goaccess COMBINED requires the two "
             "quoted fields, boussole's combined reader accepts common lines",
         total=+1, status={"404": +1}, day={"2016-12-26": +1}),
    dict(lines=[3], parsed_by="boussole",
         why="line 3 is common format with request \"-\", status 408, bytes -: goaccess COMBINED rejects it "
             "(no referer/UA); boussole counts it as a hit (SPEC 5: an empty or - request is a hit)",
         total=+1, status={"408": +1}, day={"2016-12-26": +1}),
    dict(lines=[5], parsed_by="boussole",
         why="line 5's client is a hostname (monitoring-server): goaccess %h requires an IP address",
         total=+1, status={"200": +1}, day={"2017-05-29": +1}),
    dict(lines=[7], parsed_by="boussole",
         why="line 7 has a vhost prefix (vhost1.domaine.fr 123.123.123.123 ...): not COMBINED for goaccess, "
             "boussole skips the leading host",
         total=+1, status={"200": +1}, day={"2019-07-04": +1}),
  ],
  "beats_nginx_access_vhost.log": [
    dict(lines=[13], parsed_by="boussole",
         why="line 13 has a vhost prefix (lessons.example.com 192.168.0.1 ...): not COMBINED for goaccess",
         total=+1, status={"206": +1}, day={"2020-06-09": +1}),
  ],
  "beats_nginx_xff_ipv6_oddities.log": [
    dict(lines=[1, 3], parsed_by="boussole",
         why="lines 1 and 3 start with a comma-separated X-Forwarded-For list (10.0.0.2, 10.0.0.1, ...): "
             "goaccess %h takes '10.0.0.2,' and fails",
         total=+2, status={"200": +2}, day={"2016-12-07": +2}),
    dict(lines=[5], parsed_by="boussole",
         why="line 5 starts with a quoted XFF list then an IP: goaccess %h rejects the quoted field",
         total=+1, status={"200": +1}, day={"2016-01-22": +1}),
    dict(lines=[6], parsed_by="boussole",
         why="line 6 starts with an IPv6 + IPv4 list (2a03:...:8000, 10.225.192.17 10.2.2.121): goaccess rejects it",
         total=+1, status={"404": +1}, day={"2016-12-30": +1}),
  ],
  "elastic_examples_apache_combined_2015.log.gz": [
    dict(lines=[8899], parsed_by="goaccess",
         why="line 8899 is truncated: the UA has no closing quote (46.118.127.106, 20/May/2015:12:05:17, "
             "Googlebot); goaccess's %u reads to the end of line, boussole rejects it ('no match')",
         total=-1, status={"200": -1}, day={"2015-05-20": -1}),
  ],
  "lnav_bad_access_log.log": [
    dict(lines=[2], parsed_by="goaccess",
         why="line 2 lacks the ident/user fields (192.168.202.254 [20/Jul/2009:22:59:29 +0000] ...): "
             "boussole rejects it ('no match'), goaccess's '%h %^[' skips to the '[' and accepts it",
         total=-1, status={"404": -1}, day={"2009-07-20": -1}),
  ],
  "lnav_zanbil_shop_nginx_combined_xff_2019.log.gz": [
    # +0330, but every line is 22/Jan/2019 03:56-03:59 local = 00:26-00:29 UTC:
    # no day shift (checked below like every file: the computed shift must be empty)
  ],
}

# Known boussole bugs: same shape as ALLOW entries; each one is accounted for
# in the comparison but also FAILS the test until the parser is fixed (then
# delete the entry). None known at the time of writing.
KNOWN_BUGS = {
}

fails = checks = 0
def check(what, got, want):
    global fails, checks
    checks += 1
    if got != want:
        fails += 1
        print(f"FAIL: {what}\n  expected: {want}\n  got:      {got}", file=sys.stderr)

def nonzero(c):
    return {k: v for k, v in sorted(c.items()) if v != 0}

def sub(a, b):
    c = collections.Counter(a); c.subtract(b); return nonzero(c)

def add(*cs):
    out = collections.Counter()
    for c in cs:
        for k, v in c.items(): out[k] += v
    return nonzero(out)

TS = re.compile(rb'\[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] '
                rb'"(?:[^"\\]|\\.)*" (\d{3})[ \t]')
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}

def read_line(b):
    """(local date, UTC date, status) of one raw line, or None."""
    m = TS.search(b)
    if not m:
        return None
    d, mon, y, hh, mm, ss, sign, oh, om, status = [x.decode("latin-1") for x in m.groups()]
    local = datetime.datetime(int(y), MONTHS[mon], int(d), int(hh), int(mm), int(ss))
    off = datetime.timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
    return local.date().isoformat(), (local - off).date().isoformat(), status

def kv_file(path):
    out = {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line:
            k, v = line.rsplit("|", 1)
            out[k] = int(v)
    return out

table = []
for f in files:
    d = f"{work}/{f}"
    try:
        g = json.load(open(f"{d}/ga.json", encoding="utf-8", errors="replace"))
        bsl_days = kv_file(f"{d}/bsl.days")
    except (OSError, ValueError) as e:
        check(f"{f}: outputs of both tools readable", str(e), "ok"); continue
    gen = g["general"]
    ga_total = gen["valid_requests"]
    ga_days = {}
    for it in g["visitors"]["data"]:
        s = it["data"]                                   # YYYYMMDD
        ga_days[f"{s[:4]}-{s[4:6]}-{s[6:]}"] = it["hits"]["count"]
    ga_status = collections.Counter()
    for cls in g["status_codes"]["data"]:               # "2xx Success" ...
        for it in cls.get("items", []):                 # "200 - OK: ..."
            ga_status[it["data"].split(" ", 1)[0]] += it["hits"]["count"]
    # goaccess ran unfiltered and its panels add up
    check(f"{f}: goaccess excluded_hits", gen.get("excluded_hits", 0), 0)
    check(f"{f}: goaccess visitors panel sums to valid_requests", sum(ga_days.values()), ga_total)
    check(f"{f}: goaccess status panel sums to valid_requests", sum(ga_status.values()), ga_total)

    bsl_status = kv_file(f"{d}/bsl.status")
    bsl_total = sum(bsl_days.values())
    b_lines, b_rejects = map(int, open(f"{d}/bsl.sources").read().split("|"))

    raw = open(f"{d}/raw", "rb").read()
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    starts, pos = {}, 0
    for i, l in enumerate(lines, 1):
        starts[pos] = i; pos += len(l) + 1

    entries = ALLOW.get(f, []) + KNOWN_BUGS.get(f, [])
    for e in KNOWN_BUGS.get(f, []):
        check(f"{f}: KNOWN BOUSSOLE BUG (fails until fixed): {e['why']}", "present", "fixed")
    by = {"boussole": set(), "goaccess": set(), "neither": set()}
    for e in entries:
        if "lines" in e:
            by[e["parsed_by"]].update(e["lines"])

    # 1. the observed differences are exactly the declared ones
    want_total = sum(e.get("total", 0) for e in entries)
    want_status = add(*[e.get("status", {}) for e in entries])
    want_day = add(*[e.get("day", {}) for e in entries])
    check(f"{f}: total hits boussole - goaccess", bsl_total - ga_total, want_total)
    check(f"{f}: hits per status boussole - goaccess", sub(bsl_status, ga_status), want_status)
    check(f"{f}: hits per day boussole - goaccess", sub(bsl_days, ga_days), want_day)
    table.append((f, ga_total, bsl_total, want_total))

    # 2. each declared line entry matches the raw line(s) it names
    for e in entries:
        if "lines" not in e or e["parsed_by"] == "neither":
            continue
        sign = +1 if e["parsed_by"] == "boussole" else -1
        st, dy = collections.Counter(), collections.Counter()
        for n in e["lines"]:
            r = read_line(lines[n - 1]) if 0 < n <= len(lines) else None
            check(f"{f}: line {n} has a timestamp and a status", r is not None, True)
            if r:
                st[r[2]] += sign
                dy[r[1] if sign > 0 else r[0]] += sign   # boussole: UTC day, goaccess: date as written
        check(f"{f}: lines {list(e['lines'])}: declared total", e["total"], sign * len(e["lines"]))
        check(f"{f}: lines {list(e['lines'])}: declared status delta", nonzero(e["status"]), nonzero(st))
        check(f"{f}: lines {list(e['lines'])}: declared day delta", nonzero(e["day"]), nonzero(dy))

    # 3. each tool rejected exactly the lines it is declared to reject
    rej = {}
    for line in open(f"{d}/bsl.rejects", encoding="utf-8", errors="replace"):
        off, reason = line.rstrip("\n").split("|", 1)
        rej[starts.get(int(off), f"offset {off} (not a line start)")] = reason
    check(f"{f}: boussole sources.lines", b_lines, len(lines))
    check(f"{f}: boussole sources.rejects", b_rejects, len(by["goaccess"] | by["neither"]))
    check(f"{f}: lines boussole rejects", sorted(rej, key=str), sorted(by["goaccess"] | by["neither"]))
    index = collections.defaultdict(list)
    for i, l in enumerate(lines, 1):
        index[l].append(i)
    inv = set()
    for l in open(f"{d}/ga.inv", "rb").read().split(b"\n"):
        inv.update(index.get(l, []) if l else [])
    # goaccess logs rejected lines whole (or as fragments, for binary junk)
    check(f"{f}: whole lines goaccess rejects (beyond 'neither' lines)", sorted(inv - by["neither"]),
          sorted(by["boussole"]))

    # 4. a third reader on the lines both tools parse: goaccess buckets by the
    #    date as written, boussole by UTC date; statuses must agree
    common = [n for n in range(1, len(lines) + 1)
              if n not in by["boussole"] | by["goaccess"] | by["neither"]]
    loc, utc, st = collections.Counter(), collections.Counter(), collections.Counter()
    unread = []
    for n in common:
        r = read_line(lines[n - 1])
        if r is None:
            unread.append(n); continue
        loc[r[0]] += 1; utc[r[1]] += 1; st[r[2]] += 1
    check(f"{f}: lines the reference reader cannot read", unread[:10], [])
    ga_only, bsl_only = collections.Counter(), collections.Counter()
    ga_only_st, bsl_only_st = collections.Counter(), collections.Counter()
    for n in by["goaccess"]:
        r = read_line(lines[n - 1])
        if r: ga_only[r[0]] += 1; ga_only_st[r[2]] += 1
    for n in by["boussole"]:
        r = read_line(lines[n - 1])
        if r: bsl_only[r[1]] += 1; bsl_only_st[r[2]] += 1
    check(f"{f}: goaccess per day == local dates of its lines", nonzero(ga_days), add(loc, ga_only))
    check(f"{f}: boussole per day == UTC dates of its lines", nonzero(bsl_days), add(utc, bsl_only))
    check(f"{f}: goaccess per status == reference", nonzero(ga_status), add(st, ga_only_st))
    check(f"{f}: boussole per status == reference", nonzero(bsl_status), add(st, bsl_only_st))
    tz_decl = add(*[e["day"] for e in entries if "tz" in e])
    check(f"{f}: declared timezone day shift == UTC - local dates of shared lines", tz_decl, sub(utc, loc))

print(f"{'file':55} {'goaccess':>9} {'boussole':>9} {'allowed':>8}")
for f, ga, b, w in table:
    print(f"{f:55} {ga:9} {b:9} {w:+8}")
print(f"CHECKS {checks} FAILS {fails}")
PY

out=$("$PYTHON" "$WORK/compare.py" "$WORK" "${FILES[@]}") || { echo "FAIL: compare.py crashed" >&2; FAILS=$((FAILS + 1)); }
printf '%s\n' "$out" | grep -v '^CHECKS '
read -r _ c _ fl <<<"$(printf '%s\n' "$out" | grep '^CHECKS ' || echo "CHECKS 0 FAILS 1")"
CHECKS=$((CHECKS + c))
FAILS=$((FAILS + fl))
finish
