#!/usr/bin/env bash
# The service files follow the install prefix (issue 17): CMake configures
# the unit, the packaged boussole.conf and the sysusers.d/tmpfiles.d entries
# from CMAKE_INSTALL_PREFIX, FULL_SYSCONFDIR and FULL_LOCALSTATEDIR.  For a
# prefix of our own, `cmake --install` puts them in place, the unit passes
# `systemd-analyze verify` (skipped where systemd-analyze is missing) and
# `boussole check` accepts the installed configuration; for prefix /usr
# (the Debian package) they name /usr/bin, /etc/boussole, /var/lib/boussole.
source "$(dirname "$0")/lib.sh"
SRC=${BSL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v cmake >/dev/null || { echo "SKIP: cmake not installed"; exit 77; }

# configure PREFIX DIR: a configure-only build tree (nothing is compiled)
configure() {
  cmake -S "$SRC" -B "$2" -DCMAKE_INSTALL_PREFIX="$1" -DBUILD_TESTING=OFF >"$2.log" 2>&1 ||
    { cat "$2.log"; echo "FAIL: cmake configure"; exit 1; }
}

P=$WORK/prefix
configure "$P" "$WORK/b1"
C=$WORK/b1/configured
expect_eq "unit ExecStart follows the prefix" \
  "$(grep '^ExecStart=' "$C/boussole.service")" \
  "ExecStart=$P/bin/boussole run -c $P/etc/boussole/boussole.conf"
expect_eq "unit: the state directory outside /var/lib is made writable" \
  "$(grep -c "^ReadWritePaths=$P/var/lib/boussole$" "$C/boussole.service")" 1
expect_eq "unit: optional textfile directories marked '-'" \
  "$(grep -c '^ReadWritePaths=-/var/lib/prometheus/node-exporter -/var/lib/node_exporter/textfile$' "$C/boussole.service")" 1
expect_eq "config: db under the prefix's state directory" \
  "$(grep '^db = ' "$C/boussole.conf")" "db = $P/var/lib/boussole/boussole.db"
expect_eq "tmpfiles.d creates the state directory" \
  "$(grep -v '^#' "$C/boussole.tmpfiles")" "d $P/var/lib/boussole 0750 boussole boussole -"
expect_eq "sysusers.d: user boussole in group adm" \
  "$(grep -c '^m boussole adm$' "$C/boussole.sysusers")" 1

# install what the configuration names (the binary: the one under test)
cmake --install "$WORK/b1" --component files >/dev/null # the binary is not built here
mkdir -p "$P/bin" "$P/var/lib/boussole"
cp "$BOUSSOLE" "$P/bin/boussole"
for f in etc/boussole/boussole.conf etc/boussole/bots.local.rules etc/boussole/channels.local.rules \
         lib/systemd/system/boussole.service lib/sysusers.d/boussole.conf lib/tmpfiles.d/boussole.conf \
         share/man/man1/boussole.1 share/man/man5/boussole.conf.5 share/boussole/bots.rules \
         share/doc/boussole/examples/logrotate-nginx; do
  expect_eq "installed: $f" "$([ -f "$P/$f" ] && echo yes)" yes
done
if out=$("$P/bin/boussole" check -c "$P/etc/boussole/boussole.conf" 2>&1); then rc=0; else rc=$?; fi
[ "$rc" -eq 0 ] || echo "$out"
expect_eq "boussole check accepts the installed configuration" "$rc" 0
expect_eq "the installed configuration has a source" \
  "$(grep -cx 'path = /var/log/nginx/access.log\*' <<<"$out")" 1
if command -v systemd-analyze >/dev/null; then
  # --man=no: the man pages are under the prefix, not on man's path
  if out=$(systemd-analyze verify --man=no "$P/lib/systemd/system/boussole.service" 2>&1); then rc=0; else rc=$?; fi
  [ -z "$out" ] || echo "$out"
  expect_eq "systemd-analyze verify the installed unit" "$rc" 0
else
  skip_part "systemd-analyze not installed (package systemd)"
fi

# prefix /usr, as the Debian package builds it
configure /usr "$WORK/b2"
C=$WORK/b2/configured
expect_eq "prefix /usr: ExecStart" "$(grep '^ExecStart=' "$C/boussole.service")" \
  "ExecStart=/usr/bin/boussole run -c /etc/boussole/boussole.conf"
expect_eq "prefix /usr: StateDirectory" "$(grep -c '^StateDirectory=boussole$' "$C/boussole.service")" 1
expect_eq "prefix /usr: db" "$(grep '^db = ' "$C/boussole.conf")" "db = /var/lib/boussole/boussole.db"
expect_eq "prefix /usr: rules" "$(grep '^bot_rules = ' "$C/boussole.conf")" "bot_rules = /etc/boussole/bots.local.rules"
finish
