#!/usr/bin/env bash
# The man pages (issue 17): boussole(1) and boussole.conf(5) render without
# a groff warning, and stay complete as the code grows: every key of every
# section table in config/config.c is in boussole.conf(5), and every command
# of the CLI, each of its options and every exit status are in boussole(1).
# Skipped with a message where groff is not installed.
source "$(dirname "$0")/lib.sh"
SRC=${BSL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MAN1=$SRC/docs/man/boussole.1
MAN5=$SRC/docs/man/boussole.conf.5
command -v groff >/dev/null || { echo "SKIP: groff not installed (groff-base)"; exit 77; }

for page in "$MAN1" "$MAN5"; do
  expect_eq "groff -ww -z -man $(basename "$page")" "$(groff -ww -z -man "$page" 2>&1)" ""
done
if command -v man >/dev/null; then
  expect_eq "man -l boussole.1 renders" \
    "$(MANWIDTH=80 man -l "$MAN1" 2>/dev/null | grep -c '^EXIT STATUS')" 1
  expect_eq "man -l boussole.conf.5 renders" \
    "$(MANWIDTH=80 man -l "$MAN5" 2>/dev/null | grep -c '^\[boussole\]')" 1
else
  skip_part "man not installed (man-db): rendering not checked"
fi

# the roff spelling of a word: "-" is written "\-"
roff() { sed 's/-/\\\\-/g' <<<"$1"; }

# --- boussole.conf(5): every key of config.c's tables, by section -------
# "static const struct key_def boussole_keys[] = { {"db", ...}, ... };"
tables=$(awk '/^static const struct key_def [a-z]+_keys\[\] = \{/ { t = $5; sub(/_keys.*/, "", t); on = 1; next }
              on && /^\};/ { on = 0 }
              on { while (match($0, /\{"[a-z_]+"/)) { print t, substr($0, RSTART + 2, RLENGTH - 3); $0 = substr($0, RSTART + RLENGTH) } }' \
         "$SRC/config/config.c")
expect_eq "key tables found in config.c" \
  "$(awk '{ print $1 }' <<<"$tables" | sort -u | tr '\n' ' ')" "boussole format goal kpi source "
# SPEC §3's [boussole] host (the PostgreSQL fleet), whether or not the
# loader has it yet
tables=$(printf '%s\nboussole host\n' "$tables" | sort -u)
while read -r section key; do
  # the key, documented inside its section's part of the page
  part=$(awk -v s="$section" '/^\.SH / { on = index($0, "[" s) > 0 } on' "$MAN5")
  expect_eq "boussole.conf(5) [$section] documents $key" \
    "$(grep -c "^\\\\fB$(roff "$key")\\\\fR = " <<<"$part" | awk '$1 >= 1 { print "yes" }')" yes
  expect_eq "boussole.conf(5) [$section] $key has a default or says required" \
    "$(awk -v k="\\\\fB$(roff "$key")\\\\fR = " 'index($0, k) == 1 { on = 1; next } on && /^\.(TP|SH)/ { exit } on' <<<"$part" |
       grep -Ec '^Default|^Required|Required:|required' | awk '$1 >= 1 { print "yes" }')" yes
done <<<"$tables"

# --- boussole(1): every command, option and exit status -------------------
commands=$(grep -ho '\.name = "[a-z]*"' "$SRC"/cli/cmd_*.c | sed 's/.*"\(.*\)"/\1/' | sort -u)
expect_eq "commands found in cli/" "$([ "$(wc -l <<<"$commands")" -ge 6 ] && echo yes)" yes
for cmd in $commands; do
  expect_eq "boussole(1) SYNOPSIS has $cmd" "$(grep -c "^\\\\fBboussole $cmd\\\\fR" "$MAN1")" 1
  expect_eq "boussole(1) COMMANDS has $cmd" \
    "$(grep -c "^\\\\fB$cmd\\\\fR" "$MAN1" | awk '$1 >= 1 { print "yes" }')" yes
done
# options: {"name", 'x' or 0, ...} in the tables, plus the shared -c and --db
options=$( (grep -ho '^ *{"[a-z][a-z-]*", ' "$SRC"/cli/cmd_*.c | sed 's/.*{"\(.*\)".*/\1/'
            grep -q BSL_CLI_OPT_CONFIG "$SRC"/cli/cmd_*.c && echo config
            grep -q BSL_CLI_OPT_DB "$SRC"/cli/cmd_*.c && echo db) | sort -u)
for opt in $options help version; do
  expect_eq "boussole(1) documents --$opt" \
    "$(grep -c "^\\\\fB\\\\-\\\\-$(roff "$opt")\\\\fR\|, \\\\fB\\\\-\\\\-$(roff "$opt")\\\\fR" "$MAN1" | awk '$1 >= 1 { print "yes" }')" yes
done
for code in $(grep -o '^#define BSL_EXIT_[A-Z]* [0-9]*' "$SRC/cli/commands.h" | awk '{ print $3 }'); do
  expect_eq "boussole(1) EXIT STATUS has $code" \
    "$(awk '/^\.SH EXIT STATUS/ { on = 1; next } /^\.SH/ { on = 0 } on' "$MAN1" | grep -cx "\.B $code")" 1
done
# and `boussole --help` lists every command with every one of its options,
# and each command's --help ends with its exit status
help=$("$BOUSSOLE" --help)
for cmd in $commands; do
  expect_eq "boussole --help lists $cmd" "$(grep -c "^  $cmd " <<<"$help")" 1
  entry=$(awk -v c="$cmd" '$1 == c && /^  [a-z]/ { on = 1; print; next } on && /^  [a-z]/ { on = 0 } on' <<<"$help" | tr '\n' ' ')
  for opt in $("$BOUSSOLE" "$cmd" --help | grep -o '^ *\(-[a-zA-Z], \)\{0,1\}--[a-z-]*' | grep -o -- '--[a-z-]*' | grep -v -- '--help'); do
    short=$("$BOUSSOLE" "$cmd" --help | grep -o "^  -[a-zA-Z], $opt\b" | cut -c3-4 || true)
    expect_eq "boussole --help: $cmd lists $opt" \
      "$(grep -c -- "\[$opt\b\|\[${short:-$opt}\b\| $opt [A-Z]" <<<"$entry" | awk '$1 >= 1 { print "yes" }')" yes
  done
  expect_eq "boussole $cmd --help gives the exit status" \
    "$("$BOUSSOLE" "$cmd" --help | grep -c '^Exit status: 0 ')" 1
done
finish
