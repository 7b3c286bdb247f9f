#!/usr/bin/env bash
# README "Fleet": the routing configurations it shows are the ones tested
# here, taken from the README itself.  HAProxy's and nginx's are checked by
# the tools (`haproxy -c`, `nginx -t`); rsyslog's run: a sender reading a
# generated log with imfile, hashing the client address with hash64mod, and
# three receivers (imtcp, supportOctetCountedFraming="off") writing the
# files three boussoles ingest.  Every line arrives once, every client on one
# receiver only, and the three hosts' views (SQLite each, summed) equal one
# instance's.  Also: `check` refuses a password in a PostgreSQL URI and a bad
# `host`, each with FILE:LINE.  Parts whose tool is not installed skip.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/live_lib.sh"
README=${BSL_SOURCE_DIR:-$(dirname "$0")/../..}/README.md
[ -f "$README" ] || { echo "SKIP: README.md not found"; exit 77; }

# block N: the Nth fenced block (1-based) of README's Fleet section
block() {
  awk -v want="$1" '
    /^## Fleet/ { in_fleet = 1; next }
    /^## / && in_fleet { exit }
    in_fleet && /^ *```/ { if (inside) { inside = 0; if (n == want) exit; next } n++; inside = 1; next }
    in_fleet && inside && n == want { print }
  ' "$README"
}
# the blocks in README order: 1 ini, 2 refusal message, 3 haproxy, 4 nginx,
# 5 rsyslog sender, 6 rsyslog receiver, 7 roles (SQL)
expect_eq "README Fleet: the HAProxy block is where this test looks" "$(block 3 | grep -c 'balance source')" 1
expect_eq "README Fleet: the nginx block is where this test looks" "$(block 4 | grep -c 'hash \$remote_addr consistent')" 1
expect_eq "README Fleet: the rsyslog blocks are where this test looks" \
  "$(block 5 | grep -c hash64mod):$(block 6 | grep -c 'supportOctetCountedFraming="off"')" 1:1

# check: a password in the URI, a bad host
cat > "$WORK/pw.conf" <<'EOF'
[boussole]
db = postgresql://bob:secret@db.internal/boussole
host = web one
EOF
rc=0
"$BOUSSOLE" check -c "$WORK/pw.conf" > /dev/null 2> "$WORK/pw.txt" || rc=$?
expect_eq "check: a password in the URI and a bad host are errors (exit 2)" "$rc" 2
expect_eq "check names the file and line of each" \
  "$(grep -c "pw.conf:2: \[boussole\] db: no password here" "$WORK/pw.txt"):$(grep -c "pw.conf:3: \[boussole\] host: \"web one\" is not a host name" "$WORK/pw.txt")" 1:1
printf '[boussole]\ndb = postgresql://bob@db.internal/boussole\nhost = web-1.eu\n' > "$WORK/ok.conf"
expect_eq "check prints the host back" "$("$BOUSSOLE" check -c "$WORK/ok.conf" | grep -c '^host = web-1.eu$')" 1

if command -v haproxy > /dev/null; then
  { printf 'defaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\n'
    printf 'frontend www\n    bind 127.0.0.1:8\n    default_backend web\n\n'
    block 3; } > "$WORK/haproxy.cfg"
  expect_eq "README's HAProxy backend passes haproxy -c" \
    "$(haproxy -c -f "$WORK/haproxy.cfg" > "$WORK/haproxy.txt" 2>&1 && echo valid || head -3 "$WORK/haproxy.txt")" valid
else
  skip_part "haproxy not installed (apt-get install haproxy)"
fi

if command -v nginx > /dev/null; then
  { echo 'events {}'; echo 'http {'; block 4
    echo 'server { listen 127.0.0.1:8; location / { proxy_pass http://web; } } }'; } > "$WORK/nginx.conf"
  expect_eq "README's nginx upstream passes nginx -t" \
    "$(nginx -q -t -p "$WORK" -c "$WORK/nginx.conf" -g "pid $WORK/nginx.pid; error_log $WORK/nginx-err.log;" > "$WORK/nginx.txt" 2>&1 && echo ok || head -3 "$WORK/nginx.txt")" ok
else
  skip_part "nginx not installed"
fi

if ! command -v rsyslogd > /dev/null; then
  skip_part "rsyslogd not installed (apt-get install rsyslog)"
  finish
fi
GENLOG=${GENLOG:-$(dirname "$BOUSSOLE")/boussole-genlog}
[ -x "$GENLOG" ] || { skip_part "$GENLOG not built"; finish; }
N=30000
"$GENLOG" -n $N -s 8 --days 2 --site www.example.com > "$WORK/all.log"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ports=()
for i in 0 1 2; do
  ports+=("$(free_port)")
  mkdir -p "$WORK/r$i"
  block 6 | sed -e "s|port=\"5514\"|port=\"${ports[$i]}\" address=\"127.0.0.1\"|" \
                -e "s|/var/log/fleet/access.log|$WORK/r$i/access.log|" > "$WORK/r$i/rsyslog.conf"
  printf 'global(workDirectory="%s")\n' "$WORK/r$i" >> "$WORK/r$i/rsyslog.conf"
  rsyslogd -n -f "$WORK/r$i/rsyslog.conf" -i "$WORK/r$i/pid" 2> "$WORK/r$i/err" &
  bg_track $!
done
for i in 0 1 2; do
  wait_until 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', ${ports[$i]}), 1)" 2>/dev/null ||
    { cat "$WORK/r$i/err" >&2; expect_eq "rsyslog receiver $i listens" no yes; finish; }
done
mkdir -p "$WORK/s"
block 5 | sed -e "s|/var/log/nginx/access.log|$WORK/all.log|" \
              -e "s|/var/spool/rsyslog|$WORK/s|" \
              -e "s|target=\"10.0.0.21\" port=\"5514\"|target=\"127.0.0.1\" port=\"${ports[0]}\"|" \
              -e "s|target=\"10.0.0.22\" port=\"5514\"|target=\"127.0.0.1\" port=\"${ports[1]}\"|" \
              -e "s|target=\"10.0.0.23\" port=\"5514\"|target=\"127.0.0.1\" port=\"${ports[2]}\"|" > "$WORK/s/rsyslog.conf"
rsyslogd -n -f "$WORK/s/rsyslog.conf" -i "$WORK/s/pid" 2> "$WORK/s/err" &
bg_track $!
received() { cat "$WORK"/r[012]/access.log 2>/dev/null | wc -l; }
all_received() { [ "$(received)" -ge $N ]; }
wait_until 60 all_received || echo "received only $(received) of $N lines"
sleep 0.5 # a line more than sent would show now
expect_eq "every line arrives once (rsyslog)" \
  "$(cat "$WORK"/r[012]/access.log | sort | cmp -s - <(sort "$WORK/all.log") && echo same || echo "differ: $(received) lines")" same
expect_eq "each client on one receiver only" \
  "$(for i in 0 1 2; do cut -d' ' -f1 "$WORK/r$i/access.log" | sort -u; done | sort | uniq -d | wc -l)" 0
expect_eq "all three receivers got lines" \
  "$(for i in 0 1 2; do [ -s "$WORK/r$i/access.log" ] && echo -n x; done)" xxx
"$BOUSSOLE" ingest -q --no-progress --site www.example.com --db "$WORK/one.db" "$WORK/all.log"
for i in 0 1 2; do
  "$BOUSSOLE" ingest -q --no-progress --site www.example.com --db "$WORK/h$i.db" "$WORK/r$i/access.log"
done
# visits, pageviews, bounces and hits of the three hosts summed == one instance
sums() {
  for db in "$@"; do q "$db" "SELECT day, site, hits, bot_hits, pageviews, visits, bounces FROM traffic_daily"; done |
    awk -F'|' '{ k = $1 "|" $2; for (i = 3; i <= 7; i++) s[k, i] += $i; keys[k] = 1 }
      END { for (k in keys) { printf "%s", k; for (i = 3; i <= 7; i++) printf "|%d", s[k, i]; print "" } }' | sort
}
expect_eq "three hosts routed by rsyslog == one instance (traffic_daily)" \
  "$(sums "$WORK/h0.db" "$WORK/h1.db" "$WORK/h2.db")" "$(sums "$WORK/one.db")"
finish
