#!/usr/bin/env bash
# libpq is loaded only when a PostgreSQL store opens (store_pg.c, README
# Performance): a SQLite `ingest` never maps it nor the libraries it pulls
# in (TLS, Kerberos, LDAP: ~4.8 MB resident, a few ms at every start).  A
# libpq that cannot be loaded is one clear line naming the store (without
# its password) and what to do, exit 2, no crash; BOUSSOLE_LIBPQ names
# another library file to load.
source "$(dirname "$0")/lib.sh"

printf '127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X11; Linux x86_64)"\n' \
  > "$WORK/a.log"

# loaded: every shared object the dynamic loader opens, dlopen() included
loaded() { LD_DEBUG=files "$@" 2>&1 >/dev/null | grep -o 'file=[^ ]*' | sort -u || true; }

# a SQLite store: libpq never loaded
objs=$(loaded "$BOUSSOLE" ingest --db "$WORK/a.db" "$WORK/a.log")
expect_eq "a SQLite ingest loads shared objects (LD_DEBUG works here)" \
  "$(printf '%s\n' "$objs" | grep -c 'libsqlite3')" 1
expect_eq "a SQLite ingest does not load libpq" \
  "$(printf '%s\n' "$objs" | grep -c 'libpq' || true)" 0
expect "$WORK/a.db" "SELECT SUM(pageviews) FROM traffic_daily" "1"
objs=$(loaded "$BOUSSOLE" report --db "$WORK/a.db" --days 28)
expect_eq "a SQLite report does not load libpq" \
  "$(printf '%s\n' "$objs" | grep -c 'libpq' || true)" 0

# a libpq that is not there: one line, the URI without its password, exit 2
rc=0
BOUSSOLE_LIBPQ="$WORK/nowhere/libpq.so.5" "$BOUSSOLE" ingest \
  --db 'postgresql://bob:secret@127.0.0.1:1/fleet' "$WORK/a.log" \
  > /dev/null 2> "$WORK/err.txt" || rc=$?
expect_eq "missing libpq: exit 2" "$rc" 2
expect_eq "missing libpq: one line says why and what to do" \
  "$(grep -c "postgresql://bob@127.0.0.1:1/fleet: a PostgreSQL store needs libpq, which could not be loaded ($WORK/nowhere/libpq.so.5: .*); install libpq5, or name the library in BOUSSOLE_LIBPQ" "$WORK/err.txt")" 1
expect_eq "missing libpq: the password is not shown" "$(grep -c secret "$WORK/err.txt" || true)" 0

# a library that is not libpq
rc=0
BOUSSOLE_LIBPQ=libz.so.1 "$BOUSSOLE" ingest --db 'postgresql://127.0.0.1:1/fleet' \
  "$WORK/a.log" > /dev/null 2> "$WORK/err2.txt" || rc=$?
expect_eq "not a libpq: exit 2" "$rc" 2
expect_eq "not a libpq: one line names it" \
  "$(grep -c 'postgresql://127.0.0.1:1/fleet: libz.so.1 has no PQclear: it is not libpq, or too old a one' "$WORK/err2.txt")" 1

# the real libpq: loaded when the store is a PostgreSQL one, and it is what
# answers (nothing listens on port 1)
# (grep -q on a pipe would end ldconfig with SIGPIPE: pipefail)
linker_libs=$(ldconfig -p 2> /dev/null || true)
if grep -q 'libpq\.so\.5 ' <<< "$linker_libs"; then
  rc=0
  objs=$(loaded "$BOUSSOLE" ingest --db 'postgresql://127.0.0.1:1/fleet?connect_timeout=2' "$WORK/a.log") || rc=$?
  expect_eq "a PostgreSQL store loads libpq" \
    "$(grep -q 'libpq\.so\.5' <<< "$objs" && echo loaded)" loaded
  rc=0
  "$BOUSSOLE" ingest --db 'postgresql://127.0.0.1:1/fleet?connect_timeout=2' "$WORK/a.log" \
    > /dev/null 2> "$WORK/err3.txt" || rc=$?
  expect_eq "unreachable PostgreSQL: exit 2" "$rc" 2
  expect_eq "unreachable PostgreSQL: libpq's reason" \
    "$(grep -c 'postgresql://127.0.0.1:1/fleet?connect_timeout=2: cannot connect: .*127.0.0.1.*port 1 failed' "$WORK/err3.txt")" 1
else
  skip_part "libpq.so.5 not installed: the PostgreSQL half is not tried"
fi

finish
