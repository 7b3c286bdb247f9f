#!/usr/bin/env bash
# Every command's options as users meet them (cli/options.c): its --help
# lists exactly the options the parser accepts, each accepted as --opt VALUE,
# --opt=VALUE and -x VALUE; whatever else is refused with exit 2 and one line
# naming the command and its --help.
source "$(dirname "$0")/lib.sh"

run() { set +e; "$BOUSSOLE" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; RC=$?; set -e; }

# The command line's surface, pinned: an option added to a table shows up in
# its --help by itself, and must be added here too.
declare -A OPTS=(
  [ingest]="-c --config --db --format --site --no-progress --flush-lines -q --quiet -h --help"
  [run]="-c --config --db -h --help"
  [kpi]="-c --config --db --json --at --reset -h --help"
  [adjust]="-c --config --db --note --at --list --remove -h --help"
  [report]="-c --config --db --from --to --json --html -h --help"
  [check]="-c --config -h --help"
)
ALL=$(printf '%s\n' "${OPTS[@]}" | tr ' ' '\n' | grep -- '^--' | sort -u)
sorted() { tr ' ' '\n' | grep . | sort; }

# refused CMD ARGS...: exit 2, nothing on stdout, one line on stderr that
# names the command and ends with the hint
refused() {
  local cmd=$1
  run "$@"
  expect_eq "$*: exits 2" "$RC" 2
  expect_eq "$*: nothing on stdout" "$(wc -c < "$WORK/stdout")" 0
  expect_eq "$*: one line on stderr" "$(wc -l < "$WORK/stderr")" 1
  expect_eq "$*: names the command, points at its --help" \
    "$(grep -c "^boussole $cmd: .* (see boussole $cmd --help)\$" "$WORK/stderr")" 1
}

for cmd in "${!OPTS[@]}"; do
  run "$cmd" --help
  expect_eq "$cmd --help exits 0" "$RC" 0
  expect_eq "$cmd --help: nothing on stderr" "$(wc -c < "$WORK/stderr")" 0
  cp "$WORK/stdout" "$WORK/help"
  expect_eq "$cmd --help starts with its usage line" \
    "$(head -c $((16 + ${#cmd})) "$WORK/help")" "usage: boussole $cmd"
  run "$cmd" -h
  expect_eq "$cmd -h is --help" "$(cmp -s "$WORK/stdout" "$WORK/help" && echo same)" same

  # the options the help lists: "  -x, --name ARG   help" or "      --name ..."
  listed=$(grep -E '^  (-[a-zA-Z], |    )--[a-z]' "$WORK/help" |
    sed -E 's/^  (-[a-zA-Z]), /\1 /; s/^ +//' | awk '{ print $1; if ($2 ~ /^--/) print $2 }')
  expect_eq "$cmd --help lists exactly its options" \
    "$(sorted <<<"$listed")" "$(sorted <<<"${OPTS[$cmd]}")"

  # each listed option is accepted in each spelling: parsed, then --help
  # stops the command before it runs
  while read -r line; do
    short= long= arg=
    if [[ $line =~ ^\ \ (-[a-zA-Z]),\ (--[a-z][-a-z]*)(\ ([A-Z][-A-Z]*))? ]]; then
      short=${BASH_REMATCH[1]} long=${BASH_REMATCH[2]} arg=${BASH_REMATCH[4]}
    elif [[ $line =~ ^\ {6}(--[a-z][-a-z]*)(\ ([A-Z][-A-Z]*))? ]]; then
      long=${BASH_REMATCH[1]} arg=${BASH_REMATCH[3]}
    else
      continue
    fi
    [ "$long" = --help ] && continue
    val=${arg:+1}
    forms=("$long${val:+ $val}")
    [ -n "$val" ] && forms+=("$long=$val")
    [ -n "$short" ] && forms+=("$short${val:+ $val}")
    for form in "${forms[@]}"; do
      # shellcheck disable=SC2086 # the form is the option and its value
      run "$cmd" $form --help
      expect_eq "$cmd $form: accepted" "$RC|$(cmp -s "$WORK/stdout" "$WORK/help" && echo help)" "0|help"
    done
    if [ -n "$arg" ]; then
      refused "$cmd" "$long"
      [ -n "$short" ] && refused "$cmd" "$short"
    else
      refused "$cmd" "$long=1"
    fi
  done < "$WORK/help"

  # every other command's option, and anything else, is unknown here
  for opt in $ALL --bogus --conf --no-such-option; do
    grep -qx -- "$opt" <<<"$(tr ' ' '\n' <<<"${OPTS[$cmd]}")" && continue
    refused "$cmd" "$opt" x
    expect_eq "$cmd $opt: unknown" "$(grep -c "unknown option '$opt'" "$WORK/stderr")" 1
  done
  refused "$cmd" -Z
done

# operands: none for most commands, exactly one KPI for adjust
for cmd in run kpi report check; do
  refused "$cmd" extra
  expect_eq "$cmd extra: named" "$(grep -c "unexpected argument 'extra'" "$WORK/stderr")" 1
done
refused adjust --note n
refused adjust a b --note n
refused adjust a
expect_eq "adjust without --note: says so" "$(grep -c -- "--note TEXT is required" "$WORK/stderr")" 1
refused ingest --flush-lines 0

# the main help lists every command with its usage
run --help
for cmd in "${!OPTS[@]}"; do
  expect_eq "boussole --help lists $cmd" "$(grep -c "^  $cmd  *\[-c CONF\]" "$WORK/stdout")" 1
done
run frobnicate
expect_eq "unknown command: exit 2, one line" "$RC|$(wc -l < "$WORK/stderr")" "2|1"

# --opt=value does what --opt value does
LINE='1.1.1.1 - - [02/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"'
echo "$LINE" > "$WORK/access.log"
run ingest -q --no-progress --db="$WORK/eq.db" --site=www.example.com "$WORK/access.log"
expect_eq "ingest --db=PATH exits 0" "$RC" 0
expect "$WORK/eq.db" "SELECT site, hits FROM traffic_daily" "www.example.com|1"
printf '[boussole]\ndb = %s/conf.db\n' "$WORK" > "$WORK/eq.conf"
run check --config="$WORK/eq.conf"
expect_eq "check --config=FILE reads FILE" "$(grep -c "^# $WORK/eq.conf: configuration is valid" "$WORK/stdout")" 1
run check -c"$WORK/eq.conf"
expect_eq "check -cFILE reads FILE" "$(grep -c "^# $WORK/eq.conf: configuration is valid" "$WORK/stdout")" 1

finish
