#!/usr/bin/env bash
# Privacy (issue 7, scope 4; SPEC §5, §7): no raw client address and no full
# user agent in the database - searched byte by byte in the database file,
# its WAL and its shared-memory index, both while a reader keeps the WAL
# alive and after the last connection has checkpointed it.  Day salts live
# in "<db>.salts" (test_salts.sh), never in the database; those older than
# the day before the newest are gone, their bytes included.  The database and
# its WAL are created mode 0640.
#
# Reject samples too (issue 13, item 2): a line that does not parse is
# sampled into `rejects` with its first 200 bytes (SPEC §5), with client
# addresses masked and user agents cut to their first product token (README
# "Reject samples"), so they are searched like everything else.  Real logs
# are also read with a format that matches nothing, so that every line of
# them is a reject sample.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
[ -x "$GENLOG" ] || { echo "SKIP: $GENLOG not built"; exit 77; }
export LC_ALL=C
umask 022

# cat_existing FILE...: the files that exist (a WAL may be gone)
cat_existing() {
  local f
  for f in "$@"; do [ -f "$f" ] && cat "$f"; done
  return 0
}
# hex_of FILE...: the files' bytes as one lowercase hex string
hex_of() { cat_existing "$@" | od -An -tx1 -v | tr -d ' \n'; }

# extract LOG...: writes $WORK/addrs and $WORK/uas, the client addresses and
# full user agents of the combined lines of the logs (gzip or plain)
extract() {
  local f
  for f in "$@"; do
    case $f in *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac
  done | tr -d '\r' > "$WORK/lines"
  # the first address of a forwarded-for list is the client; vcombined has
  # host:port first, so the second field is looked at too
  awk 'function ip(a) {
         sub(/,$/, "", a)
         return a ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ || (a ~ /^[0-9a-fA-F:.]+$/ && a ~ /:.*:/)
       }
       { if (ip($1)) print $1; else if (ip($2)) print $2 }' "$WORK/lines" \
    | sed 's/,$//' | sort -u > "$WORK/addrs"
  # the last quoted field, \" escapes included; "-" and short ones skipped
  # (a 6-byte agent may occur anywhere by chance)
  sed -nE 's/.*" "((\\.|[^"\\])*)"$/\1/p' "$WORK/lines" | awk 'length($0) >= 12' \
    | sort -u > "$WORK/uas"
}

# search_db NAME DB FILES...: fails for every address or user agent of the
# input found in FILES (reject excerpts included)
search_db() {
  local name=$1 db=$2
  shift 2
  cat "$WORK/addrs" "$WORK/uas" > "$WORK/patterns"
  local found
  found=$(cat_existing "$@" | grep -aoFf "$WORK/patterns" | sort -u | head -5 || true)
  CHECKS=$((CHECKS + 1))
  if [ -n "$found" ]; then
    FAILS=$((FAILS + 1))
    printf 'FAIL: %s: raw addresses or user agents in %s:\n%s\n' "$name" "$*" "$found" >&2
  fi
  echo "$name: searched $(wc -l < "$WORK/patterns") addresses and user agents in $(cat_existing "$@" | wc -c) bytes ($(q "$db" "SELECT COUNT(*) FROM rejects") reject samples)"
}

# ingest_and_search NAME DB LOG...: ingests while a reader holds a snapshot, so
# the WAL is still there afterwards; searches, then lets go and searches the
# checkpointed file
ingest_and_search() {
  local name=$1 db=$2
  shift 2
  "$BOUSSOLE" ingest -q --no-progress --db "$db" - < /dev/null
  mkfifo "$WORK/fifo.$name"
  sqlite3 -batch "$db" < "$WORK/fifo.$name" > "$WORK/reader.$name" 2>&1 &
  local reader=$!
  bg_track "$reader"
  exec 3> "$WORK/fifo.$name"
  echo "BEGIN; SELECT 'snapshot', COUNT(*) FROM sqlite_master;" >&3
  wait_until 10 grep -q snapshot "$WORK/reader.$name" || { echo "FAIL: reader did not start"; exit 1; }
  "$BOUSSOLE" ingest -q --no-progress --db "$db" "$@" || { echo "FAIL: $name: ingest failed"; exit 1; }
  expect_eq "$name: the WAL is kept while a reader holds it" "$([ -s "$db-wal" ] && echo yes)" yes
  extract "$@"
  search_db "$name (with WAL)" "$db" "$db" "$db-wal" "$db-shm"
  expect_eq "$name: the WAL is mode 0640" "$(stat -c %a "$db-wal")" 640
  echo "COMMIT;" >&3
  exec 3>&-
  wait "$reader" || true
  "$BOUSSOLE" ingest -q --no-progress --db "$db" - < /dev/null # checkpoints on close
  search_db "$name (checkpointed)" "$db" "$db" "$db-wal" "$db-shm"
  expect_eq "$name: the database is mode 0640" "$(stat -c %a "$db")" 640
}

# ----------------------------------------------------------- generated logs
"$GENLOG" -n 40000 -s 21 --days 6 --site www.example.com > "$WORK/gen.log"
ingest_and_search genlog "$WORK/gen.db" "$WORK/gen.log"
expect_eq "genlog: addresses were searched" "$(($(wc -l < "$WORK/addrs") > 100))" 1
expect_eq "genlog: user agents were searched" "$(($(wc -l < "$WORK/uas") > 10))" 1

# ----------------------------------------------------------- real logs
REAL=${BSL_SHARED_DATA:-}/access_logs
if [ -n "${BSL_SHARED_DATA:-}" ] && ls "$REAL"/*.log* > /dev/null 2>&1; then
  ingest_and_search real-logs "$WORK/real.db" "$REAL"/*.log*
  expect "$WORK/real.db" "SELECT COUNT(*) >= 3 FROM rejects" 1
  # every line a reject: the samples of real lines hold no address or agent
  cat > "$WORK/never.conf" <<CONF
[format "never"]
regex = ^NEVER (?<time>\\S+) (?<path>\\S+)\$
CONF
  "$BOUSSOLE" ingest -q --no-progress -c "$WORK/never.conf" --format never \
    --db "$WORK/rej.db" "$REAL"/*.log* || { echo "FAIL: rejects: ingest failed"; exit 1; }
  extract "$REAL"/*.log*
  search_db real-rejects "$WORK/rej.db" "$WORK/rej.db" "$WORK/rej.db-wal" "$WORK/rej.db-shm"
  expect "$WORK/rej.db" "SELECT COUNT(*) > 4000 FROM rejects" 1
  # what is kept: the layout around the masks (a bracketed time, the request)
  expect "$WORK/rej.db" "SELECT 100 * SUM(excerpt LIKE '%[__/___/____:__:__:__ _____]%') / COUNT(*) >= 90 FROM rejects" 1
  expect "$WORK/rej.db" "SELECT 100 * SUM(excerpt LIKE '%\"GET /% HTTP/1._\" ___ %') / SUM(excerpt LIKE '%\"GET /%') >= 90 FROM rejects" 1
else
  skip_part "\$BSL_SHARED_DATA/access_logs not found: real logs not searched"
fi

# ----------------------------------------------------------- day salts
# One day at a time: each day's salt is noted while it exists; once the data
# reaches two days later it must be gone from the table and from the file.
S=$WORK/salts.db
: > "$WORK/salts.seen"
for d in 01 02 03 04 05 06; do
  grep -F "/Nov/2026:" "$WORK/gen.log" | grep -F "[$d/Nov/2026:" > "$WORK/day$d.log" || true
  [ -s "$WORK/day$d.log" ] || continue
  "$BOUSSOLE" ingest -q --no-progress --db "$S" "$WORK/day$d.log"
  q "$S.salts" "SELECT day, lower(hex(salt)) FROM day_salts" >> "$WORK/salts.seen"
done
newest=$(q "$S" "SELECT MAX(day) FROM traffic_daily")
expect "$S" "SELECT COUNT(*) FROM sqlite_master WHERE name = 'day_salts'" 0
expect "$S.salts" "SELECT COUNT(*) FROM day_salts WHERE day < date('$newest', '-1 day')" 0
expect "$S.salts" "SELECT COUNT(*) FROM day_salts" 2
bytes=$(hex_of "$S" "$S-wal" "$S.salts" "$S.salts-journal")
gone=0
while IFS='|' read -r day salt; do
  [ "$day" \< "$(q "$S" "SELECT date('$newest', '-1 day')")" ] || continue
  gone=$((gone + 1))
  CHECKS=$((CHECKS + 1))
  case $bytes in
    *"$salt"*) FAILS=$((FAILS + 1)); echo "FAIL: the salt of $day is still in the database or salts file" >&2 ;;
  esac
done < <(sort -u "$WORK/salts.seen")
expect_eq "salts: old days were checked" "$((gone >= 4))" 1

finish
