#!/usr/bin/env python3
"""Compares the analyst views (SPEC §6) of a SQLite store and a PostgreSQL
store (SPEC §9): every column the SQLite view has, rows in any order, numbers
compared as numbers (REAL vs float8 printing differs).  `visitors` is an hll
estimate on PostgreSQL: compared within --visitors-tolerance (relative).

  pg_views.py SQLITE_DB PG_URI [--fleet] [--visitors-tolerance 0.02]

--fleet: the PostgreSQL store was written by several hosts, so visit ids
and files differ; visits are compared without visit_id, sources and rejects
not at all.  Prints the differences; exit 0 when there are none.
"""
import argparse
import csv
import io
import os
import sqlite3
import subprocess
import sys

VIEWS = ["traffic_daily", "status_daily", "pages_daily", "channels_daily",
         "events_daily", "goals_daily", "campaigns_daily", "visits", "sources",
         "rejects", "kpi_series", "kpi_status", "alerts", "adjustments",
         "not_found_daily", "visit_conversions", "devices_daily"]
SKIP_ALWAYS = {("sources", "updated_at")}
VISITORS = {"traffic_daily", "channels_daily", "devices_daily"}


def norm(v):
    if v is None:
        return ""
    s = str(v)
    try:
        return str(int(s))
    except ValueError:
        pass
    try:
        return "%.9g" % float(s)
    except ValueError:
        return s


def pg_rows(uri, sql):
    psql = os.path.join(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "psql")
    out = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", uri, "-c",
                          "COPY (%s) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)" % sql],
                         check=True, capture_output=True, text=True).stdout
    # FORCE_QUOTE: an empty string is "" and NULL is an unquoted empty field
    rows = []
    for line in csv.reader(io.StringIO(out)):
        rows.append(line)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sqlite_db")
    ap.add_argument("pg_uri")
    ap.add_argument("--fleet", action="store_true")
    ap.add_argument("--visitors-tolerance", type=float, default=0.02)
    a = ap.parse_args()
    lite = sqlite3.connect(a.sqlite_db)
    problems = 0
    for view in VIEWS:
        if a.fleet and view in ("sources", "rejects"):
            continue
        cur = lite.execute('SELECT * FROM "%s" LIMIT 0' % view)
        cols = [d[0] for d in cur.description]
        cols = [c for c in cols if (view, c) not in SKIP_ALWAYS]
        if a.fleet and view == "visits":
            # ids are per host; and each host's clock is its own clients'
            # last hit, so a visit the single instance closed (its clock
            # moved on with other clients) may still be open on its host
            cols = [c for c in cols if c not in ("visit_id", "is_open")]
        if a.fleet and view == "visit_conversions":
            cols = [c for c in cols if c != "visit_id"]  # ids are per host
        exact = [c for c in cols if not (view in VISITORS and c == "visitors")]
        key = [c for c in exact]
        sel = ", ".join('"%s"' % c for c in cols)
        lrows = [[norm(v) for v in r] for r in lite.execute('SELECT %s FROM "%s"' % (sel, view))]
        prows = [[norm(v) for v in r] for r in pg_rows(a.pg_uri, 'SELECT %s FROM "%s"' % (sel, view))]
        idx = [cols.index(c) for c in key]
        vi = cols.index("visitors") if len(exact) < len(cols) else None
        lk = sorted(tuple(r[i] for i in idx) for r in lrows)
        pk = sorted(tuple(r[i] for i in idx) for r in prows)
        if lk != pk:
            problems += 1
            ls, ps = set(lk), set(pk)
            print("%s: %d rows in SQLite, %d in PostgreSQL; first differences:" % (view, len(lk), len(pk)))
            for r in sorted(ls - ps)[:3]:
                print("  only SQLite:     ", "|".join(r))
            for r in sorted(ps - ls)[:3]:
                print("  only PostgreSQL: ", "|".join(r))
            if ls == ps:
                print("  (same rows, different multiplicities)")
            continue
        if vi is not None:
            lv = {tuple(r[i] for i in idx): int(r[vi]) for r in lrows}
            worst = 0.0
            for r in prows:
                k = tuple(r[i] for i in idx)
                exp, got = lv[k], int(r[vi])
                err = abs(got - exp) / max(exp, 1)
                worst = max(worst, err)
                if err > a.visitors_tolerance and abs(got - exp) > 1:
                    problems += 1
                    print("%s: visitors %d in SQLite, %d in PostgreSQL for %s" % (view, exp, got, "|".join(k)))
                    break
            print("%s: %d rows equal; visitors worst relative error %.4f" % (view, len(lk), worst))
        else:
            print("%s: %d rows equal" % (view, len(lk)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
