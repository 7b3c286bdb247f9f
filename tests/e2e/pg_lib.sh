# Helpers for the PostgreSQL (fleet, SPEC §9) end-to-end tests, sourced after
# lib.sh (and live_lib.sh when the test uses it).  Not a test itself.
#
# pg_start starts a throwaway PostgreSQL 15 for this test alone: initdb in a
# directory under $WORK (as the `postgres` user when run as root: initdb
# refuses root), listening on a unix socket in that directory only (no TCP
# port, so parallel tests never collide), trust authentication.  pg_stop
# stops it by its postmaster's pid; the EXIT trap calls it too.  A machine
# without PostgreSQL 15 or the hll extension skips the test (exit 77).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=
PG_PID=
PG_URI=

# pg_sql SQL...: runs SQL (as the superuser) in the test database, rows '|'
# separated, no header
pg_sql() { "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -U postgres -d boussole -c "$*"; }

pg_as() { # runs a command as the postgres user when we are root (setpriv
  # execs it: the pid $! names is the command's own)
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else "$@"; fi
}

pg_stop() {
  [ -n "$PG_PID" ] || return 0
  kill -INT "$PG_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$PG_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$PG_PID" 2>/dev/null || true
  PG_PID=
}

# pg_run: starts the server on the data directory pg_start made (again,
# after pg_stop: a test of an unreachable server restarts it)
pg_run() {
  pg_as "$PG_BIN/postgres" -D "$PG_DIR/data" -k "$PG_DIR" -c listen_addresses='' \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c max_connections=50 >>"$PG_DIR/server.log" 2>&1 &
  local starter=$! i
  for i in $(seq 1 100); do
    "$PG_BIN/pg_isready" -q -h "$PG_DIR" -U postgres && break
    kill -0 "$starter" 2>/dev/null || { cat "$PG_DIR/server.log" >&2; echo "FAIL: postgres did not start"; exit 1; }
    sleep 0.1
  done
  # the postmaster's own pid (the background job may be a subshell)
  PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
}

pg_start() {
  [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/postgres" ] ||
    { echo "SKIP: PostgreSQL 15 not installed ($PG_BIN; apt-get install postgresql-15 postgresql-15-hll)"; exit 77; }
  [ -f /usr/share/postgresql/15/extension/hll.control ] ||
    { echo "SKIP: the hll extension is not installed (apt-get install postgresql-15-hll)"; exit 77; }
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "SKIP: running as root and no postgres user to run initdb as"; exit 77
  fi
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bsl-pg.XXXXXX")
  chmod 755 "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
  pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 \
    --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
    { cat "$PG_DIR/initdb.log" >&2; echo "FAIL: initdb"; exit 1; }
  pg_run
  "$PG_BIN/createdb" -h "$PG_DIR" -U postgres boussole
  pg_sql "CREATE EXTENSION hll" >/dev/null
  PG_URI="postgresql:///boussole?host=$PG_DIR&user=postgres"
}

# pg_cleanup RC: the EXIT trap; stops the server, removes its directory
pg_cleanup() {
  pg_stop
  [ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
  return 0
}
