#!/usr/bin/env bash
# bench/flood.sh: writes an address flood to stdout - N lines (default
# 3000000) from about 6N/7 distinct client addresses within MINUTES (default 20)
# minutes, the traffic of a scanner, a botnet or a CDN that hides the real
# client.  Every 7th line is a second pageview of an address seen about
# GAP lines earlier, so closing visits early (max_open_visits) changes
# the numbers and the benchmark and tests can see it.  Deterministic: the
# same arguments give the same bytes.
#
# usage: bench/flood.sh [N] [MINUTES] [START] [GAP]  (START: Unix time, default
#        2026-11-02T10:00:00Z; GAP: lines between an address and its
#        return, default 997)
set -euo pipefail
N=${1:-3000000}
MINUTES=${2:-20}
START=${3:-1793613600}
GAP=${4:-997}
exec awk -v n="$N" -v span="$((MINUTES * 60))" -v start="$START" -v gap="$GAP" '
BEGIN {
  split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", mon, " ")
  ua[0] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
  ua[1] = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
  ua[2] = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
  path[0] = "/"; path[1] = "/pricing"; path[2] = "/blog/a"; path[3] = "/login"
  path[4] = "/wp-login.php"; path[5] = "/docs/start"
  last = -1
  for (i = 0; i < n; i++) {
    t = start + int(i * span / n)
    if (t != last) {       # strftime is a gawk extension: format by hand
      d = int(t / 86400); s = t % 86400
      # civil-from-days (H. Hinnant)
      z = d + 719468; era = int(z / 146097); doe = z - era * 146097
      yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
      y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
      mp = int((5 * doy + 2) / 153); dd = doy - int((153 * mp + 2) / 5) + 1
      mm = mp < 10 ? mp + 3 : mp - 9; if (mm <= 2) y++
      ts = sprintf("%02d/%s/%04d:%02d:%02d:%02d +0000", dd, mon[mm], y,
                   int(s / 3600), int(s % 3600 / 60), s % 60)
      last = t
    }
    k = (i % 7 == 6 && i >= gap) ? i - gap : i
    printf "10.%d.%d.%d - - [%s] \"GET %s HTTP/1.1\" 200 512 \"-\" \"%s\"\n", \
      int(k / 65536) % 256, int(k / 256) % 256, k % 256, ts, path[k % 6], ua[k % 3]
  }
}'
