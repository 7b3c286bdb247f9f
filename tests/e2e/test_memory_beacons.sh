#!/usr/bin/env bash
# Decoded beacon parameters cost the memory of what they decode to (issue
# 18, peak RSS at 10M realistic lines, half of them beacons).  The feeder
# used to give every line of a batch a 1.6 KB fixed slot for them: a log of
# beacons held 13 MB more than the same lines at another path.
#
# Two logs of the same 200k lines from the same clients: the beacon path
# (decoded, counted in events_daily, no visit opened) and another path
# answered 404 (not decoded, counted in not_found_daily, no visit either).
# Their peak RSS must be within 3 MB of each other.
source "$(dirname "$0")/lib.sh"

B=$BOUSSOLE
command -v /usr/bin/time >/dev/null || { echo "SKIP: /usr/bin/time (package time) missing"; exit 77; }
if ldd "$B" 2>/dev/null | grep -q 'lib[at]san'; then
  # ASan's quarantine and shadow memory make RSS say nothing here
  echo "SKIP: sanitizer build, RSS is not compared"
  exit 77
fi

# LOG PATH STATUS: 200,000 lines over one day, 50 clients, 5 pages
gen() {
  awk -v path="$1" -v status="$2" 'BEGIN {
    split("/ /pricing /blog/a%20long%20title /docs/install /caf%C3%A9", pages, " ")
    for (i = 0; i < 200000; i++) {
      s = int(i * 86400 / 200000)
      printf "10.0.%d.%d - - [01/Nov/2026:%02d:%02d:%02d +0000] ", i % 7, i % 50,
        s / 3600, (s / 60) % 60, s % 60
      printf "\"GET %s?e=%s&p=%s&d=%d&t=btn-%d HTTP/1.1\" %d 0 ", path,
        (i % 3 ? "scroll" : "click"), pages[i % 5 + 1], (i % 4 + 1) * 25, i % 3, status
      printf "\"https://www.example.com/\" \"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0\"\n"
    }
  }'
}
gen /collect 204 > "$WORK/beacons.log"
gen /collectx 404 > "$WORK/other.log"
printf '[boussole]\n' > "$WORK/b.conf"

for f in beacons other; do
  /usr/bin/time -f %M -o "$WORK/$f.kb" "$B" ingest -c "$WORK/b.conf" -q \
    --no-progress --db "$WORK/$f.db" --site www.example.com "$WORK/$f.log"
done
# the beacons were decoded and counted, the other lines not
expect "$WORK/beacons.db" "SELECT SUM(events) FROM events_daily" 200000
expect "$WORK/beacons.db" "SELECT COUNT(*) FROM events_daily WHERE target = 'btn-1'" 5
expect "$WORK/beacons.db" "SELECT COUNT(DISTINCT path) FROM events_daily WHERE path = '/café'" 1
expect "$WORK/other.db" "SELECT COUNT(*) FROM events_daily" 0
b_kb=$(cat "$WORK/beacons.kb")
o_kb=$(cat "$WORK/other.kb")
echo "peak RSS: 200k beacons $b_kb KB, the same lines not decoded $o_kb KB"
expect_eq "decoded beacons hold no more than 3 MB more than undecoded lines" \
  "$([ "$b_kb" -le $((o_kb + 3072)) ] && echo yes)" yes
finish
