#!/usr/bin/env python3
"""Planted data for test_diagnose.sh: 56 complete days and a partial one
of combined-log lines (visits, scroll and click beacons to /collect) and a
campaign-csv log, with findings worked out when the data is made:

  * landing page /promo bounces at 70% against 35% elsewhere;
  * the email campaign spring-news converts at 9%, ~3x the site;
  * mobile converts at 3% in the first 28 days and 0.5% in the last 28
    (a mover, and a weak point of the range);
  * a decoy: 14 referral visits from tiny.example.net converting at 50%,
    too small to be a finding;
  * the campaign autumn-sale: 300 clicks in its log, no visit tagged
    with it (a leak); and one whose name is markup and an ANSI escape,
    40 clicks, no visit (a leak to show escaped).

usage: gen_diagnose.py OUTDIR  (writes access.log and campaign.csv)
"""
import datetime
import random
import sys

OUT = sys.argv[1]
START = datetime.date(2026, 9, 1)
DAYS = 56  # complete days; day 56 is the partial newest one
VISITS_PER_DAY = 220

rng = random.Random(1)
UAS = {
    "desktop": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
}
# channel: (share, referer, query)
CHANNELS = [
    ("organic", 0.40, "https://www.google.com/", ""),
    ("direct", 0.25, "-", ""),
    ("referral", 0.10, "https://blog.example.org/post", ""),
    ("social", 0.10, "https://www.facebook.com/", ""),
    ("email", 0.08, "-", "utm_source=newsletter&utm_medium=email&utm_campaign=spring-news"),
    ("paid", 0.07, "https://www.google.com/", "utm_source=google&utm_medium=cpc&utm_campaign=brand"),
]
LANDINGS = [("/", 0.35), ("/pricing", 0.20), ("/blog/a", 0.15), ("/blog/b", 0.15), ("/promo", 0.15)]
DEVICES = [("desktop", 0.60), ("mobile", 0.35), ("tablet", 0.05)]

lines = []
ip_counter = [0]


def pick(items):
    r, acc = rng.random(), 0.0
    for item in items:
        acc += item[1]
        if r < acc:
            return item
    return items[-1]


def ip():
    ip_counter[0] += 1
    n = ip_counter[0]
    return "10.%d.%d.%d" % (n >> 16 & 255, n >> 8 & 255, n & 255 or 1)


def clf(t):
    return t.strftime("%d/%b/%Y:%H:%M:%S +0000")


def hit(t, addr, path, status, referer, ua):
    lines.append((t, '%s - - [%s] "GET %s HTTP/1.1" %d 512 "%s" "%s"'
                  % (addr, clf(t), path, status, referer, ua)))


def visit(day, landing, referer, query, device, converts, bounces):
    t = datetime.datetime.combine(START + datetime.timedelta(days=day),
                                  datetime.time()) + datetime.timedelta(seconds=rng.randrange(3600, 80000))
    addr, ua = ip(), UAS[device]
    site = "https://www.example.com"
    hit(t, addr, landing + ("?" + query if query else ""), 200, referer, ua)
    pages = [landing]
    if not bounces:
        t += datetime.timedelta(seconds=30)
        nxt = "/features" if landing != "/features" else "/pricing"
        hit(t, addr, nxt, 200, site + landing, ua)
        pages.append(nxt)
        if converts:
            t += datetime.timedelta(seconds=30)
            hit(t, addr, "/thank-you", 200, site + nxt, ua)
            pages.append("/thank-you")
        elif rng.random() < 0.2:
            t += datetime.timedelta(seconds=5)
            hit(t, addr, "/collect?e=click&t=cta", 204, site + nxt, ua)
    for p in pages:
        t += datetime.timedelta(seconds=3)
        depth = 90 if rng.random() < 0.5 else 30
        hit(t, addr, "/collect?e=scroll&p=%s&d=%d" % (p, depth), 204, site + p, ua)


for day in range(DAYS + 1):
    n = VISITS_PER_DAY if day < DAYS else 20  # the newest day is partial
    for _ in range(n):
        ch = pick(CHANNELS)
        landing = pick(LANDINGS)[0]
        device = pick(DEVICES)[0]
        second_half = day >= DAYS // 2
        if ch[0] == "email":
            conv = 0.09
        elif device == "mobile" and second_half:
            conv = 0.005
        else:
            conv = 0.03
        converts = rng.random() < conv
        bounce_p = 0.70 if landing == "/promo" else 0.35
        bounces = not converts and rng.random() < bounce_p
        visit(day, landing, ch[2], ch[3], device, converts, bounces)
    # the decoy: one visit every other day of the range, half converting
    if day >= DAYS // 2 and day < DAYS and day % 2 == 0:
        visit(day, "/", "https://tiny.example.net/", "", "desktop",
              rng.random() < 0.5, False)

lines.sort(key=lambda x: x[0])
with open(OUT + "/access.log", "w") as f:
    for _, line in lines:
        f.write(line + "\n")

# The campaign log: spring-news is mailed every week and its clicks come
# as visits (above); autumn-sale is mailed in the range and clicked, but
# its links carry no utm_campaign, so no visit is ever tagged with it.
with open(OUT + "/campaign.csv", "w") as f:
    f.write("timestamp,campaign,event,recipient,url,cost\n")
    for day in range(0, DAYS, 7):
        d = START + datetime.timedelta(days=day)
        for r in range(200):
            ts = "%sT08:%02d:%02dZ" % (d.isoformat(), r // 60, r % 60)
            who = "r%d@example.com" % r
            f.write("%s,spring-news,sent,%s,,\n" % (ts, who))
            f.write("%s,spring-news,delivered,%s,,\n" % (ts, who))
    # a hostile campaign name (markup and an ANSI escape) that is clicked
    # and never visited: a leak every output must show escaped
    d = START + datetime.timedelta(days=DAYS // 2 + 5)
    for r in range(40):
        f.write("%sT10:00:%02dZ,<img src=x onerror=alert(1)>\x1b[31mred,click,"
                "h%d@example.com,,\n" % (d.isoformat(), r, r))
    for r in range(2000):
        d = START + datetime.timedelta(days=DAYS // 2 + 3)
        ts = "%sT09:%02d:%02dZ" % (d.isoformat(), r // 60 % 60, r % 60)
        who = "a%d@example.com" % r
        f.write("%s,autumn-sale,sent,%s,,\n" % (ts, who))
        f.write("%s,autumn-sale,delivered,%s,,\n" % (ts, who))
        if r < 800:
            ts2 = "%sT15:%02d:%02dZ" % (d.isoformat(), r // 60 % 60, r % 60)
            f.write("%s,autumn-sale,open,%s,,\n" % (ts2, who))
        if r < 300:
            ts3 = "%sT16:%02d:%02dZ" % (d.isoformat(), r // 60 % 60, r % 60)
            f.write("%s,autumn-sale,click,%s,https://www.example.com/sale,\n"
                    % (ts3, who))
