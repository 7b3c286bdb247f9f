#!/usr/bin/env bash
# Day salts out of the analysts' reach (issue 13, item 1; SPEC §5, §7
# "Privacy").  Whoever reads the analyst database (the .db file, its WAL and
# shm; group-readable, mode 0640) must not be able to re-identify a visitor:
# with a day's salt, a visitor key and a guessed user agent, all of IPv4 is
# ten minutes of SipHash.  So:
#   - the salts live in "<db>.salts", mode 0600, which only the writer
#     (ingest, run) opens; no salt byte is anywhere in the analyst files;
#   - a day's salt is deleted once the day after next begins, and then the
#     day's visitor keys are replaced by per-day numbers: a copy of an old
#     salt links nothing any more;
#   - the visitors of a day do not change when its keys are replaced;
#   - a crash right after the salts were saved, or right after the
#     aggregates were committed but before old salts were deleted, changes
#     no view (fault points crash-after-salts / crash-after-commit).
# The attack itself is run (SipHash-2-4 in Python over a /24 with the right
# user agent): it finds the client with the writer's salts file, and finds
# nothing with what an analyst can read, or with a salt kept after its day.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
export LC_ALL=C
umask 022

SITE=www.example.com
UA='Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0'
ME=203.0.113.77 # the client an attacker looks for, with a guessed UA
ingest() { local db=$1; shift; "$BOUSSOLE" ingest -q --no-progress --site "$SITE" --db "$db" "$@"; }
# hex_of FILE...: the existing files' bytes as one lowercase hex string
hex_of() { local f; for f in "$@"; do if [ -f "$f" ]; then cat "$f"; fi; done | od -An -tx1 -v | tr -d ' \n'; }

# attack SALT_HEX DB DAY: prints the addresses of 203.0.113.0/24 whose key
# under SALT (with $UA on $SITE) is a visitor of DAY in DB (model.c: SipHash
# of "site\0addr\0ua\0"; the stored key may be the 63-bit form)
attack() {
  python3 - "$1" "$2" "$3" "$SITE" "$UA" <<'PY'
import sqlite3, sys
salt, db, day, site, ua = bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
M = (1 << 64) - 1
def rotl(x, b): return ((x << b) | (x >> (64 - b))) & M
def siphash24(k, m):
    k0, k1 = int.from_bytes(k[:8], 'little'), int.from_bytes(k[8:16], 'little')
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d,
         k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]
    def rnd():
        v[0] = (v[0] + v[1]) & M; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & M; v[3] = rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & M; v[3] = rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & M; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)
    n = len(m) // 8 * 8
    for i in range(0, n, 8):
        w = int.from_bytes(m[i:i + 8], 'little'); v[3] ^= w; rnd(); rnd(); v[0] ^= w
    b = ((len(m) & 0xff) << 56) | int.from_bytes(m[n:], 'little')
    v[3] ^= b; rnd(); rnd(); v[0] ^= b
    v[2] ^= 0xff
    for _ in range(4): rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]
def signed(x): return x - (1 << 64) if x >= 1 << 63 else x
con = sqlite3.connect(db)
keys = {r[0] for r in con.execute("SELECT visitor FROM visit_log WHERE day = ?", (day,))}
for i in range(256):
    addr = "203.0.113.%d" % i
    h = siphash24(salt, b"\0".join(s.encode() for s in (site, addr, ua)) + b"\0") or 1
    if signed(h) in keys or ((h & (M >> 1)) or 1) in keys:
        print(addr)
PY
}

# salts_now: "day|salt hex" of the salts kept now (in the analyst file
# itself before issue 13)
salts_now() {
  if [ -f "$DB.salts" ]; then
    q "$DB.salts" "SELECT day, lower(hex(salt)) FROM day_salts"
  else
    q "$DB" "SELECT day, lower(hex(salt)) FROM day_salts" 2>/dev/null || true
  fi
}

# ------------------------------------------------------------ day by day
"$GENLOG" -n 24000 -s 31 --days 4 --site "$SITE" > "$WORK/gen.log"
DB=$WORK/d/a.db
mkdir "$WORK/d"
: > "$WORK/kept"
n=0
for d in 01 02 03 04; do
  n=$((n + 1))
  {
    grep -F "[$d/Nov/2026:" "$WORK/gen.log"
    # the client looked for: two visits a day, same address and agent
    for h in 11 15; do
      printf '%s - - [%s/Nov/2026:%s:00:00 +0000] "GET /me-%s HTTP/1.1" 200 10 "-" "%s"\n' \
        "$ME" "$d" "$h" "$h" "$UA"
    done
  } > "$WORK/day$d.log"
  ingest "$DB" "$WORK/day$d.log"
  expect_eq "day $d: the salts file exists" "$([ -f "$DB.salts" ] && echo yes)" yes
  expect_eq "day $d: the salts file is mode 0600" "$(stat -c %a "$DB.salts" 2>/dev/null)" 600
  expect_eq "day $d: the database is mode 0640" "$(stat -c %a "$DB")" 640
  expect "$DB" "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%salt%'" 0
  # no 16-byte blob (a salt's size) in any column of any table
  blobs=0
  for t in $(q "$DB" "SELECT name FROM sqlite_master WHERE type = 'table'"); do
    for c in $(q "$DB" "SELECT name FROM pragma_table_info('$t')"); do
      blobs=$((blobs + $(q "$DB" "SELECT COUNT(*) FROM \"$t\" WHERE typeof(\"$c\") = 'blob' AND length(\"$c\") = 16")))
    done
  done
  expect_eq "day $d: no salt-sized blob in the analyst database" "$blobs" 0
  salts_now >> "$WORK/kept"
  expect_eq "day $d: the salts of the newest two days are kept" \
    "$(salts_now | cut -d'|' -f1 | sort | tr '\n' ' ')" "$([ $n -gt 1 ] && printf '2026-11-%02d ' $((n - 1)))2026-11-$d "
  bytes=$(hex_of "$DB" "$DB-wal" "$DB-shm")
  while IFS='|' read -r day salt; do
    CHECKS=$((CHECKS + 1))
    case $bytes in *"$salt"*) FAILS=$((FAILS + 1)); echo "FAIL: day $d: the salt of $day is in the analyst files" >&2 ;; esac
  done < <(sort -u "$WORK/kept")
  # visitors of the day before yesterday, before and after its keys go
  [ "$d" = 03 ] && before=$(q "$DB" "SELECT visitors FROM traffic_daily WHERE day = '2026-11-01'")
done
expect_eq "the visitors of 1 Nov survive the replacement of its keys" \
  "$(q "$DB" "SELECT visitors FROM traffic_daily WHERE day = '2026-11-01'")" "${before:-none}"
expect "$DB" "SELECT COUNT(*) FROM visit_log WHERE day < '2026-11-03' AND visitor > 0" 0
expect "$DB" "SELECT COUNT(*) > 0 FROM visit_log WHERE day >= '2026-11-03' AND visitor > 0" 1
# the deleted salts are gone from the salts file and its journal too
bytes=$(hex_of "$DB.salts" "$DB.salts-journal")
while IFS='|' read -r day salt; do
  case $day in 2026-11-0[12])
    CHECKS=$((CHECKS + 1))
    case $bytes in *"$salt"*) FAILS=$((FAILS + 1)); echo "FAIL: the deleted salt of $day is still in the salts file" >&2 ;; esac
  esac
done < <(sort -u "$WORK/kept")

# one-shot ingest of the same lines gives the same views
cat "$WORK"/day0[1-4].log > "$WORK/all.log"
ingest "$WORK/one.db" "$WORK/all.log"
dump_views "$WORK/one.db" > "$WORK/one.txt"
dump_views "$DB" > "$WORK/days.txt"
expect_eq "day by day == one shot" "$(cmp -s "$WORK/one.txt" "$WORK/days.txt" && echo same || diff "$WORK/one.txt" "$WORK/days.txt" | head -5)" same

# ------------------------------------------------------------ the attack
live_salt=$(salts_now | grep '^2026-11-04|' | cut -d'|' -f2 || true)
expect_eq "with the writer's salts file, the attack finds the client (positive control)" \
  "$([ -n "$live_salt" ] && attack "$live_salt" "$DB" 2026-11-04)" "$ME"
old_salt=$(grep '^2026-11-01|' "$WORK/kept" | head -1 | cut -d'|' -f2 || true)
expect_eq "a copy of 1 Nov's salt kept after its deletion links nothing" \
  "$([ -n "$old_salt" ] && attack "$old_salt" "$DB" 2026-11-01 || echo "no salt kept")" ""
# what an analyst can read holds no salt to try
found=
while IFS='|' read -r day salt; do
  [ -n "$(attack "$salt" "$DB" "$day" 2>/dev/null)" ] || continue
  case $(hex_of "$DB" "$DB-wal" "$DB-shm") in *"$salt"*) found="$found $day" ;; esac
done < <(sort -u "$WORK/kept")
expect_eq "no salt that finds the client is in the analyst files" "$found" ""

# ------------------------------------------------------------ another user
# An analyst: another uid in the database's group.  It reads every view and
# cannot read the salts.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 711 "$WORK"
  chmod 2770 "$WORK/d" # the analyst may create the -shm beside the database
  as_analyst() { setpriv --reuid=65534 --regid="$(stat -c %g "$DB")" --clear-groups "$@"; }
  expect_eq "the analyst reads the views" \
    "$(as_analyst sqlite3 -batch -noheader "$DB" "SELECT COUNT(*) > 0 FROM traffic_daily" 2>&1)" 1
  rc=0
  as_analyst cat "$DB.salts" > /dev/null 2>&1 || rc=$?
  expect_eq "the analyst cannot read the salts file" "$((rc != 0))" 1
  rc=0
  as_analyst sqlite3 -batch "$DB" "ATTACH '$DB.salts' AS k; SELECT * FROM k.day_salts" > /dev/null 2>&1 || rc=$?
  expect_eq "the analyst cannot attach the salts file" "$((rc != 0))" 1
  chmod 700 "$WORK"
else
  echo "note: not root or no setpriv: the other-user checks are skipped"
fi

# ------------------------------------------------------------ crash points
# A crash after the salts of a commit were saved (visits not yet committed),
# or after the commit (old salts not yet deleted), N-th commit that saves a
# salt: the resumed run gives the views of a clean run.
"$GENLOG" -n 30000 -s 5 --days 3 --site "$SITE" > "$WORK/c.log"
ingest "$WORK/c-clean.db" "$WORK/c.log"
dump_views "$WORK/c-clean.db" > "$WORK/c-clean.txt"
for point in crash-after-salts crash-after-commit; do
  for k in 1 2 3; do
    db=$WORK/c-$point-$k.db
    # (in a subshell whose stderr is dropped: bash says "Killed" there)
    rc=$( (BSL_FAIL_ALLOC=$point:$k "$BOUSSOLE" ingest -q --no-progress --flush-lines 2000 \
      --site "$SITE" --db "$db" "$WORK/c.log" > /dev/null 2>&1 && echo 0 || echo $?) 2>/dev/null)
    expect_eq "$point:$k: the process stopped at the fault" "$((rc != 0))" 1
    ingest "$db" "$WORK/c.log"
    dump_views "$db" > "$WORK/c.txt"
    expect_eq "$point:$k: resumed == clean" \
      "$(cmp -s "$WORK/c-clean.txt" "$WORK/c.txt" && echo same || diff "$WORK/c-clean.txt" "$WORK/c.txt" | head -5)" same
    expect "$db.salts" "SELECT group_concat(day, ' ') FROM (SELECT day FROM day_salts ORDER BY day)" \
      "2026-11-02 2026-11-03"
  done
done

# A line that comes a day late, in the commit that saves the new day's salt:
# it needs the salt of its own day, which that commit deletes.  Deleted
# before the commit, a crash would give it a fresh salt in the resumed run
# (one more visitor); deleted after, the resumed run finds it.
L() { printf '%s - - [%s/Nov/2026:%s +0000] "GET %s HTTP/1.1" 200 10 "-" "%s"\n' "$1" "$2" "$3" "$4" "$UA"; }
# (each file ends with a commit: the first saves the salts of 1 and 2 Nov,
# the second the salt of 3 Nov)
{
  L 198.51.100.1 01 10:00:00 /a
  L 198.51.100.2 01 10:01:00 /b
  L 198.51.100.3 02 10:00:00 /c
} > "$WORK/late1.log"
{
  L 198.51.100.4 03 10:00:00 /d
  L 198.51.100.1 01 10:20:00 /late # the day before yesterday's visitor
  L 198.51.100.5 03 10:05:00 /e
} > "$WORK/late2.log"
ingest1() { "$BOUSSOLE" ingest -q --no-progress --site "$SITE" --db "$1" "$WORK/late1.log" "$WORK/late2.log"; }
ingest1 "$WORK/late-clean.db"
expect "$WORK/late-clean.db" "SELECT visits, visitors FROM traffic_daily WHERE day = '2026-11-01'" "3|2"
dump_views "$WORK/late-clean.db" > "$WORK/late-clean.txt"
for point in crash-after-salts crash-after-commit; do
  db=$WORK/late-$point.db
  rc=$( (export BSL_FAIL_ALLOC=$point:2; ingest1 "$db" > /dev/null 2>&1 && echo 0 || echo $?) 2>/dev/null)
  expect_eq "late line, $point: the process stopped at the fault" "$((rc != 0))" 1
  ingest1 "$db"
  dump_views "$db" > "$WORK/late.txt"
  expect_eq "late line, $point: resumed == clean" \
    "$(cmp -s "$WORK/late-clean.txt" "$WORK/late.txt" && echo same || diff "$WORK/late-clean.txt" "$WORK/late.txt" | head -5)" same
  # a resumed run deletes at once the salts the crashed commit made old
  expect "$db.salts" "SELECT group_concat(day, ' ') FROM (SELECT day FROM day_salts ORDER BY day)" \
    "2026-11-02 2026-11-03"
done

# ------------------------------------------------------------ SIGKILL
# Four days (keys replaced twice) with frequent commits, killed at random.
"$GENLOG" -n 400000 -s 17 --days 4 --site "$SITE" > "$WORK/k.log"
ingest "$WORK/k-clean.db" "$WORK/k.log"
dump_views "$WORK/k-clean.db" > "$WORK/k-clean.txt"
kills=0
for i in $(seq 1 8); do
  "$BOUSSOLE" ingest -q --no-progress --flush-lines 2500 --site "$SITE" --db "$WORK/k.db" "$WORK/k.log" &
  pid=$!
  sleep "0.$(printf %02d $((RANDOM % 20 + 2)))"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
done
ingest "$WORK/k.db" "$WORK/k.log"
dump_views "$WORK/k.db" > "$WORK/k.txt"
echo "killed $kills times mid-ingest"
expect_eq "killed and resumed == clean" \
  "$(cmp -s "$WORK/k-clean.txt" "$WORK/k.txt" && echo same || diff "$WORK/k-clean.txt" "$WORK/k.txt" | head -5)" same

finish
