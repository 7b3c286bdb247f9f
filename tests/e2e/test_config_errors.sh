#!/usr/bin/env bash
# Configuration mistakes that used to load silently (issue 13 item 8) are
# errors naming file:line and key - a channel that cannot exist, a named
# group no parser reads, a percentage target on a count, an alert_command
# that does not exist or cannot run, a metrics_file in a missing directory -
# and every error of the file is reported, one per line, before `check`,
# `ingest` and `run` exit 2.
source "$(dirname "$0")/lib.sh"

# (bounded: a `run` that accepted the file would tail it for ever)
run() { set +e; timeout 20 "$BOUSSOLE" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; RC=$?; set -e; }

printf 'not a program\n' > "$WORK/notify.txt"
C=$WORK/bad.conf
cat > "$C" <<CONF
[boussole]
db = $WORK/b.db
metrics_file = $WORK/no/such/dir/boussole.prom
alert_command = $WORK/notify.txt --to ops
[source "www"]
path = $WORK/access.log
format = mine
[format "mine"]
regex = ^(?<ip>\S+) \S+ \S+ \[(?<time>[^]]+)\] "(?<request>[^"]*)" (?<status>\d{3})
[kpi "email-visits"]
metric = visits
filter = channel=emial
target = 5%
[kpi "typo-command"]
metric = visits
CONF
WANT="$C:3: [boussole] metrics_file: directory $WORK/no/such/dir: No such file or directory
$C:4: [boussole] alert_command: $WORK/notify.txt: not executable
$C:9: [format \"mine\"] regex: unknown named group (?<ip>...)
$C:12: [kpi \"email-visits\"] filter: unknown channel \"emial\"
$C:13: [kpi \"email-visits\"] target: \"5%\" is a percentage, but visits is a count"

: > "$WORK/access.log"
for cmd in check ingest run; do
  run "$cmd" -c "$C"
  expect_eq "$cmd exits 2" "$RC" 2
  expect_eq "$cmd: one line per error" "$(wc -l < "$WORK/stderr")" 5
  expect_eq "$cmd: each error named, in line order" \
    "$(sed 's/^boussole: //; s/ ([^()]*)$//' "$WORK/stderr")" "$WANT"
  expect_eq "$cmd: nothing else" "$(grep -vc '^boussole: ' "$WORK/stderr" || true)" 0
done
expect_eq "no database created" "$([ -e "$WORK/b.db" ] && echo yes || echo no)" no

# fixed, the same file loads
chmod +x "$WORK/notify.txt"
mkdir -p "$WORK/no/such/dir"
sed -i 's/(?<ip>/(?<remote_addr>/; s/emial/email/; s/^target = 5%$/target = 5/' "$C"
run check -c "$C"
expect_eq "the fixed file checks" "$RC|$(cat "$WORK/stderr")" "0|"

# a metrics_file directory this user cannot write to: a warning from check
# (the daemon may run as another user), not an error; seen as nobody
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  P=$WORK/pub
  mkdir -p "$P/textfile"
  chmod 755 "$WORK" "$P" "$P/textfile"
  cp "$BOUSSOLE" "$P/boussole"
  printf '[boussole]\nmetrics_file = %s/textfile/boussole.prom\n' "$P" > "$P/w.conf"
  chmod 644 "$P/w.conf"
  set +e
  setpriv --reuid=65534 --regid=65534 --clear-groups "$P/boussole" check -c "$P/w.conf" > "$WORK/stdout" 2> "$WORK/stderr"
  RC=$?
  set -e
  expect_eq "unwritable metrics_file directory: check exits 0" "$RC" 0
  expect_eq "unwritable metrics_file directory: one warning naming file:line" \
    "$(grep -c "^boussole: warning: $P/w.conf:2: \[boussole\] metrics_file: directory $P/textfile is not writable by this user" "$WORK/stderr")|$(wc -l < "$WORK/stderr")" "1|1"
else
  echo "note: not root or no setpriv: the unwritable-directory warning is not checked"
fi

finish
