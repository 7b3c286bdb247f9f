#!/usr/bin/env bash
# The Debian package (issue 17): built with dpkg-buildpackage from a copy of
# the source tree, lintian clean of errors, installed with apt-get, checked
# as an operator would (the unit verifies, the man pages render, the shipped
# configuration is valid, the boussole user and /var/lib/boussole exist and
# work), then removed and purged (state gone).  Needs root and the packaging
# tools (.ci/packages-test); skipped with a message otherwise.  It leaves the
# machine as it found it: it refuses to run where a boussole package or a
# /var/lib/boussole is already there, and purges what it installed even when
# a check fails.  The build runs without the unit tests (DEB_BUILD_OPTIONS=
# nocheck; ctest runs them anyway) to stay under a minute or two.
source "$(dirname "$0")/lib.sh"
SRC=${BSL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing a package needs root"; exit 77; }
# the package builds its own binary from the tree: once per suite is enough
if ldd "$BOUSSOLE" 2>/dev/null | grep -c 'lib[at]san' >/dev/null; then
  echo "SKIP: sanitizer build; the package is built and tested by the normal build's run"; exit 77
fi
for tool in dpkg-buildpackage dh lintian apt-get systemd-analyze man; do
  command -v "$tool" >/dev/null ||
    { echo "SKIP: $tool not installed (apt-get install \$(cat .ci/packages-test))"; exit 77; }
done
(cd "$SRC" && dpkg-checkbuilddeps -Pnocheck) >"$WORK/deps" 2>&1 ||
  { echo "SKIP: build dependencies missing: $(cat "$WORK/deps")"; exit 77; }

# One package test at a time on this machine (both builds' ctest may run it).
exec 9>/tmp/boussole-package-test.lock
flock -w 600 9 || { echo "FAIL: another package test holds the lock"; exit 1; }
if dpkg-query -W -f='${Status}' boussole 2>/dev/null | grep -q 'installed\|config-files'; then
  echo "SKIP: a boussole package is installed already; not touching it"; exit 77
fi
if [ -e /var/lib/boussole ]; then
  echo "SKIP: /var/lib/boussole exists and no package owns it; a purge would delete it"; exit 77
fi

INSTALLED=
cleanup() {
  if [ -n "$INSTALLED" ]; then
    apt-get purge -y -qq -o DPkg::Lock::Timeout=120 boussole >/dev/null 2>&1 || true
  fi
}
trap 'rc=$?; cleanup; rm -rf "$WORK"; exit_guard $rc' EXIT
APT=(apt-get -y -qq -o DPkg::Lock::Timeout=120)

# --- build, from a copy of the tree (the .deb lands in its parent) -------
T=$WORK/src/boussole
mkdir -p "$T"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$SRC" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$T"
else
  (cd "$SRC" && tar -cf - --exclude='./build*' --exclude=./.git --exclude=./debian/build .) | tar -xf - -C "$T"
fi
t0=$(date +%s)
if ! (cd "$T" && DEB_BUILD_OPTIONS="nocheck parallel=2" DEB_BUILD_PROFILES=nocheck \
      dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
  tail -30 "$WORK/build.log"
  echo "FAIL: dpkg-buildpackage"; exit 1
fi
echo "build: $(($(date +%s) - t0)) s"
DEB=$(ls "$WORK"/src/boussole_*_*.deb | grep -v dbgsym | head -1)
CHANGES=$(ls "$WORK"/src/boussole_*.changes | head -1)
expect_eq "a .deb was built" "$([ -f "$DEB" ] && echo yes)" yes

# --- lintian: no error ----------------------------------------------------
t0=$(date +%s)
lrc=0
lintian --fail-on error "$CHANGES" >"$WORK/lintian.log" 2>&1 || lrc=$?
echo "lintian: $(($(date +%s) - t0)) s, $(grep -c '^E:' "$WORK/lintian.log" || true) errors," \
  "$(grep -c '^W:' "$WORK/lintian.log" || true) warnings"
grep -E '^(E|W):' "$WORK/lintian.log" || true
expect_eq "lintian exit status (--fail-on error)" "$lrc" 0
expect_eq "lintian errors" "$(grep '^E:' "$WORK/lintian.log" || true)" ""
expect_eq "declared dependencies come from shlibs" \
  "$(dpkg-deb -f "$DEB" Depends | grep -o 'libpcre2-8-0\|libsqlite3-0\|libuv1' | sort | tr '\n' ' ')" \
  "libpcre2-8-0 libsqlite3-0 libuv1 "
expect_eq "libpq5, which boussole loads for a PostgreSQL store, is a dependency" \
  "$(dpkg-deb -f "$DEB" Depends | grep -o 'libpq5' || true)" libpq5

# --- install --------------------------------------------------------------
INSTALLED=1
if ! "${APT[@]}" install "$DEB" >"$WORK/install.log" 2>&1; then
  cat "$WORK/install.log"; echo "FAIL: apt-get install"; exit 1
fi
expect_eq "installed" "$(dpkg-query -W -f='${Status}' boussole)" "install ok installed"
expect_eq "/usr/bin/boussole runs" "$(/usr/bin/boussole --version | cut -d' ' -f1)" boussole
expect_eq "boussole.conf is a conffile" \
  "$(dpkg-query -W -f='${Conffiles}\n' boussole | awk '$1 == "/etc/boussole/boussole.conf" { print "yes" }')" yes
expect_eq "the boussole user exists" "$(getent passwd boussole | cut -d: -f1)" boussole
expect_eq "boussole is in group adm (reads /var/log/nginx)" \
  "$(id -nG boussole | tr ' ' '\n' | grep -x adm)" adm
expect_eq "/var/lib/boussole: owner and mode" "$(stat -c '%U %a' /var/lib/boussole 2>&1)" "boussole 750"

# the shipped configuration is valid, read as the service user
if check_out=$(runuser -u boussole -- boussole check -c /etc/boussole/boussole.conf 2>&1); then
  check_rc=0; else check_rc=$?; fi
expect_eq "boussole check -c /etc/boussole/boussole.conf (as boussole)" "$check_rc" 0
expect_eq "the packaged config reads nginx's log" \
  "$(echo "$check_out" | grep -x 'path = /var/log/nginx/access.log\*')" 'path = /var/log/nginx/access.log*'
expect_eq "the packaged config's database" \
  "$(echo "$check_out" | grep -x 'db = /var/lib/boussole/boussole.db')" 'db = /var/lib/boussole/boussole.db'

# the service user can write its database (purge must remove it below)
printf '%s\n' '192.0.2.1 - - [01/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"' |
  runuser -u boussole -- boussole ingest -q -c /etc/boussole/boussole.conf - >"$WORK/ingest.log" 2>&1 || cat "$WORK/ingest.log"
expect /var/lib/boussole/boussole.db "SELECT pageviews FROM traffic_daily" 1

# the unit: verified with its man pages (Documentation=) installed
if verify=$(systemd-analyze verify /lib/systemd/system/boussole.service 2>&1); then
  vrc=0; else vrc=$?; fi
[ -z "$verify" ] || echo "$verify"
expect_eq "systemd-analyze verify boussole.service" "$vrc" 0
unit=$(cat /lib/systemd/system/boussole.service)
for want in 'ExecStart=/usr/bin/boussole run -c /etc/boussole/boussole.conf' 'User=boussole' \
            'ProtectSystem=strict' 'NoNewPrivileges=yes' 'Restart=on-failure' \
            'ExecReload=/bin/kill -HUP $MAINPID' 'Documentation=man:boussole(1) man:boussole.conf(5)'; do
  expect_eq "unit has $want" "$(grep -Fx "$want" <<<"$unit")" "$want"
done

# man pages render, without warnings
for page in boussole boussole.conf; do
  expect_eq "man $page renders" \
    "$(MANWIDTH=80 man -P cat "$page" 2>/dev/null | grep -c 'boussole' | awk '$1 > 10 { print "yes" }')" yes
  f=$(man -w "$page")
  expect_eq "man -l $page: no groff warning" "$(zcat -f "$f" | groff -ww -z -man 2>&1)" ""
done

for f in /usr/share/doc/boussole/reference.md /usr/share/doc/boussole/examples/logrotate-nginx \
         /usr/lib/sysusers.d/boussole.conf /usr/lib/tmpfiles.d/boussole.conf \
         /etc/boussole/bots.local.rules /etc/boussole/channels.local.rules /usr/share/boussole/bots.rules; do
  expect_eq "installed: $f" "$([ -f "$f" ] && echo yes)" yes
done
expect_eq "no live logrotate policy (nginx's own rotates the logs)" \
  "$(dpkg -L boussole | grep -c '^/etc/logrotate.d' || true)" 0

# --- remove, then purge ---------------------------------------------------
"${APT[@]}" remove boussole >"$WORK/remove.log" 2>&1 || cat "$WORK/remove.log"
expect_eq "removed: the binary is gone" "$([ -e /usr/bin/boussole ] && echo present || echo gone)" gone
expect_eq "removed: the configuration stays" "$([ -f /etc/boussole/boussole.conf ] && echo kept)" kept
expect_eq "removed: the state stays" "$([ -f /var/lib/boussole/boussole.db ] && echo kept)" kept
"${APT[@]}" purge boussole >"$WORK/purge.log" 2>&1 || cat "$WORK/purge.log"
INSTALLED=
expect_eq "purged: dpkg forgets it" "$(dpkg-query -W -f='${Status}' boussole 2>/dev/null | grep -c installed || true)" 0
expect_eq "purged: /etc/boussole gone" "$([ -e /etc/boussole ] && echo present || echo gone)" gone
expect_eq "purged: /var/lib/boussole gone" "$([ -e /var/lib/boussole ] && echo present || echo gone)" gone
finish
