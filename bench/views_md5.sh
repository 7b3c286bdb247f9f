#!/usr/bin/env bash
# bench/views_md5.sh DB: one line per analyst view, "view md5 rows", of
# SELECT * ordered by every column: two databases built from the same log
# by two builds give the same lines when the views did not change (issue 18
# compares before and after the per-day aggregates this way).  `sources`
# leaves out updated_at, the time of the ingest.
set -euo pipefail
db=${1:?usage: bench/views_md5.sh DB}
sqlite3 -batch -noheader "$db" "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name" |
  while read -r v; do
    cols=$(sqlite3 -batch -noheader "$db" "SELECT group_concat(name, ', ') FROM pragma_table_info('$v') WHERE '$v' <> 'sources' OR name <> 'updated_at'")
    n=$(sqlite3 -batch -noheader "$db" "SELECT COUNT(*) FROM \"$v\"")
    printf '%s %s %s\n' "$v" "$(sqlite3 -batch -noheader "$db" "SELECT $cols FROM \"$v\" ORDER BY $cols" | md5sum | cut -c1-32)" "$n"
  done
