#!/usr/bin/env bash
# `boussole diagnose` on planted data (gen_diagnose.py says what is planted
# and how big): each planted finding is reported with the right sign and
# order of magnitude, the small decoy is not, the campaign whose clicks
# bring no visits is a leak; the proposed [kpi] blocks pass `boussole
# check` once pasted into the configuration; the JSON is valid; the text
# fits 100 columns; the HTML has no script and no external URL and renders
# in headless Chromium; diagnose never creates a database.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
run() { set +e; "$BOUSSOLE" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; RC=$?; set -e; }

python3 "$BSL_E2E_DIR/gen_diagnose.py" "$WORK"
CONF="$WORK/boussole.conf"
cat > "$CONF" <<EOF
[boussole]
db = $WORK/d.db

[source "www"]
path = $WORK/access.log
site = www.example.com

[source "mail"]
path = $WORK/campaign.csv
type = campaign
format = campaign-csv

[goal "signup"]
path = ^/thank-you
EOF

# never creates a database, and says so in one line
run diagnose -c "$CONF"
expect_eq "diagnose without a database: exit 2" "$RC" 2
expect_eq "no database created" "$([ -e "$WORK/d.db" ] && echo yes || echo no)" no
expect_eq "one line on stderr" "$(wc -l < "$WORK/stderr")" 1

"$BOUSSOLE" ingest -c "$CONF" > /dev/null 2>&1

run diagnose -c "$CONF" --json
expect_eq "diagnose --json exit" "$RC" 0
cp "$WORK/stdout" "$WORK/d.json"

# The planted findings, the decoy, the leak, from the JSON.
python3 - "$WORK/d.json" > "$WORK/checks" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
F, M, L = d["findings"], d["movers"], d["leaks"]

def find(dim, seg, metric, lst=F):
    for f in lst:
        names = [(f["dimension"], f["segment"])]
        for a in (f.get("also") or "").split("; "):
            if " " in a:
                names.append(tuple(a.split(" ", 1)))
        if (dim, seg) in names and f["metric"] == metric:
            return f
    return None

def say(name, ok):
    print("%s %s" % ("ok" if ok else "FAIL", name))

# the range: the 28 days before the partial newest day
say("range", d["from"] == "2026-09-29" and d["to"] == "2026-10-26"
    and d["previous_from"] == "2026-09-01" and d["previous_to"] == "2026-09-28")
for k in ("dimension", "segment", "metric", "direction", "segment_value",
          "site_value", "size", "p_value", "q_value", "ci", "impact"):
    say("every finding has " + k, all(k in f for f in F))
# /promo bounces at ~70% against ~35% (the site's, /promo included, ~40%)
f = find("landing_page", "/promo", "bounce_rate")
say("/promo bounce is a weak point", f is not None and f["direction"] == "worse")
say("/promo bounce ~70%", f is not None and 0.6 < f["segment_value"] < 0.8)
say("site bounce ~40%", f is not None and 0.3 < f["site_value"] < 0.45)
say("/promo ci holds its value", f is not None and f["ci"][0] < f["segment_value"] < f["ci"][1])
say("/promo worth more bounces", f is not None and f["impact"] > 100)
# the email campaign converts ~3x the site
f = find("campaign", "spring-news", "conversion_rate")
say("spring-news conversion is a strength", f is not None and f["direction"] == "better"
    and f["goal"] == "signup")
say("spring-news ~3x the site", f is not None and 2 < f["segment_value"] / f["site_value"] < 5)
say("spring-news is also channel email", f is not None and "channel email" in (f.get("also") or ""))
# mobile conversion collapsed in the second half: a mover and a weak point
m = find("device", "mobile", "conversion_rate", M)
say("mobile conversion rate is a mover down", m is not None and m["direction"] == "worse")
say("mobile conversion rate fell ~6x",
    m is not None and 0.5 < m["value"] * 100 < 2 and 2.5 < m["previous_value"] * 100 < 4.5)
m = find("device", "mobile", "conversions", M)
say("mobile conversions fell by more than half",
    m is not None and m["value"] < 0.5 * m["previous_value"])
f = find("device", "mobile", "conversion_rate")
say("mobile conversion is a weak point", f is not None and f["direction"] == "worse")
# the decoy: 14 visits converting at ~50% are never a finding or a mover
say("the decoy is not reported",
    not any("tiny.example.net" in json.dumps(x) for x in F + M))
# only segments big enough are findings
say("every finding has >= 100 in its segment", all(f["size"] >= 100 for f in F))
say("every finding has q < 0.05", all(f["q_value"] < 0.05 for f in F + M))
# the campaign whose clicks bring no visits
leak = [l for l in L if l["kind"] == "campaign_no_visits" and l["subject"] == "autumn-sale"]
say("autumn-sale is a leak", len(leak) == 1 and leak[0]["size"] == 300)
say("/promo is a page leak", any(l["kind"] == "page" and l["subject"] == "/promo" for l in L))
say("spring-news is no leak", not any(l["subject"] == "spring-news" for l in L))
say("the hostile campaign is a leak, as stored",
    any(l["subject"] == "<img src=x onerror=alert(1)>\x1b[31mred" for l in L))
# objectives: each with a block
O = d["objectives"]
say("objectives proposed", 1 <= len(O) <= 5 and all(o["kpi_block"].startswith("[kpi \"") for o in O))
say("an objective for mobile", any("filter = device=mobile" in o["kpi_block"] for o in O))
with open(sys.argv[1] + ".kpi", "w") as out:
    for o in O:
        out.write("\n" + o["kpi_block"])
EOF
while read -r verdict name; do
  expect_eq "$name" "$verdict" ok
done < "$WORK/checks"

# The proposed blocks, pasted into the configuration, pass `check`.
cat "$CONF" "$WORK/d.json.kpi" > "$WORK/with-kpis.conf"
run check -c "$WORK/with-kpis.conf"
expect_eq "check accepts the proposed [kpi] blocks" "$RC" 0
expect_eq "every block is a kpi of check's output" \
  "$(grep -c '^\[kpi ' "$WORK/stdout")" "$(grep -c '^\[kpi ' "$WORK/d.json.kpi")"
# ... and the KPIs they define evaluate
run kpi -c "$WORK/with-kpis.conf"
expect_eq "kpi runs on the proposed objectives (0 or 1)" "$([ "$RC" -le 1 ] && echo ok || echo "exit $RC")" ok

# A second diagnosis with those KPIs configured proposes names beside them:
# its blocks paste into the same configuration.
run diagnose -c "$WORK/with-kpis.conf" --json
python3 -c 'import json,sys; print("".join("\n" + o["kpi_block"] for o in json.load(open(sys.argv[1]))["objectives"]))' \
  "$WORK/stdout" > "$WORK/again.kpi"
cat "$WORK/with-kpis.conf" "$WORK/again.kpi" > "$WORK/twice.conf"
run check -c "$WORK/twice.conf"
expect_eq "blocks proposed again take new names" "$RC" 0

# The terminal text: its sections, within 100 columns, no colour off a TTY.
run diagnose -c "$CONF"
expect_eq "diagnose exit" "$RC" 0
for s in STRENGTHS 'WEAK POINTS' MOVERS LEAKS 'PROPOSED OBJECTIVES'; do
  expect_eq "text has $s" "$(grep -c "^$s" "$WORK/stdout")" 1
done
expect_eq "text within 100 columns" "$(python3 -c '
import sys; print(max(len(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")))' "$WORK/stdout" |
  awk '{print ($1 <= 100) ? "ok" : $1}')" ok
expect_eq "no ESC off a TTY" "$(grep -c $'\e' "$WORK/stdout" || true)" 0
# the text's blocks paste too (the explanations are ';' comments)
sed -n '/^PROPOSED OBJECTIVES/,$p' "$WORK/stdout" | tail -n +2 > "$WORK/text.kpi"
cat "$CONF" "$WORK/text.kpi" > "$WORK/with-text.conf"
run check -c "$WORK/with-text.conf"
expect_eq "check accepts the text's objectives as pasted" "$RC" 0

# A range of the options; a bad date is one line naming the option.
run diagnose -c "$CONF" --from 2026-10-01 --to 2026-10-14 --json
expect_eq "explicit range" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["from"], d["to"], d["previous_from"], d["days"])' "$WORK/stdout")" \
  "2026-10-01 2026-10-14 2026-09-17 14"
run diagnose -c "$CONF" --from 2026-13-01
expect_eq "bad --from: exit 2" "$RC" 2
expect_eq "bad --from: names it" "$(grep -c -- '--from' "$WORK/stderr")" 1

# The HTML page: self-contained, no script, no URL out, and it renders.
run diagnose -c "$CONF" --html "$WORK/d.html"
expect_eq "diagnose --html exit" "$RC" 0
expect_eq "no script" "$(grep -ci '<script' "$WORK/d.html" || true)" 0
expect_eq "no external URL" "$(grep -Eci '(src|href)=["'"'"']|url\(|https?://' "$WORK/d.html" || true)" 0
expect_eq "CSP default-src none" "$(grep -c "default-src 'none'" "$WORK/d.html")" 1
expect_eq "no raw markup from the logs" "$(grep -c '<img' "$WORK/d.html" || true)" 0
expect_eq "the hostile name escaped" "$(grep -c '&lt;img src=x onerror=alert(1)&gt;\\x1b\[31mred' "$WORK/d.html" | awk '{print ($1 > 0)}')" 1
expect_eq "HTML names /promo" "$(grep -c '/promo' "$WORK/d.html" | awk '{print ($1 > 0)}')" 1
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROME" ]; then
  set +e
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1280,1800 --screenshot="$WORK/d.png" "file://$WORK/d.html" \
    > "$WORK/chrome.log" 2>&1
  set -e
  expect_eq "chromium rendered a screenshot" "$([ -s "$WORK/d.png" ] && echo yes || echo no)" yes
  if [ -n "${BSL_DIAGNOSE_PNG:-}" ]; then cp "$WORK/d.png" "$BSL_DIAGNOSE_PNG"; fi
else
  skip_part "chromium not installed: the page is not rendered"
fi

finish
