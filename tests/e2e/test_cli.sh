#!/usr/bin/env bash
# The command line as ops meet it: help, exit codes, one-line errors that
# name the file/line/key, configured sources caught up with no FILE, a locked
# database, damaged gzip input.
source "$(dirname "$0")/lib.sh"

run() { set +e; "$BOUSSOLE" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; RC=$?; set -e; }

run --help;            expect_eq "--help exits 0" "$RC" 0
run --version;         expect_eq "--version exits 0" "$RC" 0
expect_eq "--version prints the version" "$(grep -c '^boussole [0-9]' "$WORK/stdout")" 1
run ingest --help;     expect_eq "ingest --help exits 0" "$RC" 0
run check --help;      expect_eq "check --help exits 0" "$RC" 0
run frobnicate;        expect_eq "unknown command exits 2" "$RC" 2
run ingest --bogus x;  expect_eq "unknown option exits 2" "$RC" 2
run check;             expect_eq "check of the defaults exits 0" "$RC" 0
expect_eq "check prints the effective db" "$(grep -c '^db = ./boussole.db' "$WORK/stdout")" 1

# configuration errors name file:line and key, and exit 2
printf '[boussole]\nsession_timeout = 30m\nsesion_timeout = 1h\n' > "$WORK/bad.conf"
run check -c "$WORK/bad.conf"
expect_eq "bad key exits 2" "$RC" 2
expect_eq "bad key names file:line and key" "$(grep -c "$WORK/bad.conf:3:.*sesion_timeout" "$WORK/stderr")" 1
expect_eq "the error is one line" "$(wc -l < "$WORK/stderr")" 1
printf '[goal "x"]\npath = ^/(unclosed\n' > "$WORK/badre.conf"
run ingest -c "$WORK/badre.conf" /dev/null
expect_eq "bad regex exits 2" "$RC" 2
expect_eq "bad regex names file:line" "$(grep -c "$WORK/badre.conf:2:" "$WORK/stderr")" 1
run check -c "$WORK/missing.conf"
expect_eq "missing config exits 2" "$RC" 2
expect_eq "missing config is named" "$(grep -c "$WORK/missing.conf" "$WORK/stderr")" 1
run ingest --db "$WORK/x.db" --format nosuch /dev/null
expect_eq "unknown --format exits 2" "$RC" 2

LINE='1.1.1.1 - - [02/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"'
mkdir "$WORK/logs"
for i in 1 2 3; do echo "${LINE/10:00:00/10:0$i:00}"; done > "$WORK/logs/access.log"
for i in 1 2; do echo "${LINE/02\/Nov/01\/Nov}" | sed "s/1.1.1.1/9.9.9.$i/"; done | gzip -n > "$WORK/logs/access.log.2.gz"

# an unreadable file is reported and does not stop the others
run ingest --db "$WORK/a.db" "$WORK/logs/nope.log" "$WORK/logs/access.log"
expect_eq "missing input exits 2" "$RC" 2
expect_eq "missing input is named" "$(grep -c "$WORK/logs/nope.log" "$WORK/stderr")" 1
expect "$WORK/a.db" "SELECT SUM(hits) FROM traffic_daily" 3

# no FILE: every configured source is caught up, with its site and format
cat > "$WORK/src.conf" <<CONF
[boussole]
db = $WORK/src.db
[source "www"]
path = $WORK/logs/access.log*
site = www.example.com
CONF
run ingest -c "$WORK/src.conf"
expect_eq "catch-up exits 0" "$RC" 0
expect "$WORK/src.db" "SELECT day, site, hits FROM traffic_daily ORDER BY day" \
"2026-11-01|www.example.com|2
2026-11-02|www.example.com|3"
expect "$WORK/src.db" "SELECT source, lines FROM sources ORDER BY path" "www|3
www|2"
# a FILE matching the source's glob takes its site
echo "${LINE/10:00:00/11:00:00}" >> "$WORK/logs/access.log"
run ingest -c "$WORK/src.conf" "$WORK/logs/access.log"
expect "$WORK/src.db" "SELECT site, hits FROM traffic_daily WHERE day = '2026-11-02'" "www.example.com|4"

# a truncated gzip keeps its complete lines and counts one reject
for i in $(seq 1 2000); do echo "${LINE/1.1.1.1/10.0.$((i / 250)).$((i % 250))}"; done | gzip -n > "$WORK/full.gz"
head -c $(( $(stat -c %s "$WORK/full.gz") - 200 )) "$WORK/full.gz" > "$WORK/cut.gz"
run ingest --db "$WORK/gz.db" "$WORK/cut.gz"
got=$(q "$WORK/gz.db" "SELECT hits < 2000 AND hits > 1000, rejects FROM sources")
expect_eq "truncated gzip: lines kept, one reject" "$got" "1|1"
expect "$WORK/gz.db" "SELECT reason LIKE '%gzip%' FROM rejects" 1
run ingest --db "$WORK/gz.db" "$WORK/cut.gz"
expect "$WORK/gz.db" "SELECT rejects FROM sources" 1

# a locked database: the ingest waits, then fails with a clear message and
# commits nothing; once the lock is gone the same command reads everything
run ingest --db "$WORK/lock.db" /dev/null
# the lock is held until the ingest has given up (a fixed sleep lost the
# race on a loaded machine: the ingest outwaited it and succeeded)
mkfifo "$WORK/unlock"
( echo "BEGIN IMMEDIATE;"; read -r _ < "$WORK/unlock"; echo "COMMIT;" ) | sqlite3 "$WORK/lock.db" &
locker=$!
for _ in $(seq 1 300); do # until the lock is held (the shell has no busy timeout)
  sqlite3 "$WORK/lock.db" "BEGIN IMMEDIATE; ROLLBACK;" 2>/dev/null || break
  sleep 0.1
done
run ingest --db "$WORK/lock.db" "$WORK/logs/access.log"
echo > "$WORK/unlock"
expect_eq "locked database exits 2" "$RC" 2
expect_eq "locked database is named" "$(grep -c "$WORK/lock.db.*locked" "$WORK/stderr")" 1
wait "$locker"
run ingest --db "$WORK/lock.db" "$WORK/logs/access.log"
expect_eq "after the lock, ingest succeeds" "$RC" 0
expect "$WORK/lock.db" "SELECT SUM(hits) FROM traffic_daily" 4

finish
