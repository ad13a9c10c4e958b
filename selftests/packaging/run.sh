#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Packaging tests, as root on a Debian 12 host, TAP on stdout, ending with
# "# N passed, N failed"; exits non-zero on any failure.
#
#   selftests/packaging/run.sh
#
# 1. installs what it needs (packaging/deps.sh test), builds the packages
#    (make deb), runs lintian on them and checks that no package name,
#    file or command of theirs is one of Debian's (clash.sh);
# 2. installs tcptrace-dkms and tcpwhy with apt-get and checks that DKMS
#    built and installed the module for every supported installed kernel
#    (selftests/vm/kernels.sh: 6.1 and 6.12);
# 3. for each of those kernels boots a guest (selftests/vm/run-vm.sh; the
#    guest sees this host's root, so the installed packages) and runs
#    selftests/packaging/guest.sh there: modprobe from the DKMS location,
#    device mode, parameters, events read by the packaged CLI, the udev
#    rule under a real udevd, the modprobe.d example;
# 4. purges both packages and checks nothing is left behind;
# 5. make dkms-install / make dkms-remove from this checkout;
# 6. the same packages on Debian 11 (5.10) and 13 (7.x): in a cached chroot
#    of that release, apt-get install, DKMS builds for that kernel, a
#    guest loads what it built, purge (selftests/packaging/other-releases.sh).
#
# The host is left as it was found, also on failure or interruption: an
# EXIT trap purges the packages, removes any tcptrace DKMS state, and
# removes what DKMS created for it (the signing key in /var/lib/dkms and
# updates/dkms directories) if they did not exist before.  Refuses to run
# (one failed test) if tcptrace is already installed by package or DKMS.
# Logs: selftests/out/packaging/.  Takes about 5 minutes (and, once, 2
# for the chroots).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
OUT=$ROOT/selftests/out/packaging
PKGS=(tcpwhy tcptrace-dkms)

n=0
passed=0
failed=0
pass() {
	n=$((n + 1))
	passed=$((passed + 1))
	echo "ok $n $1"
}
fail() {	# fail NAME [DETAIL...]
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n $1"
	shift
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | tail -n 40 | sed 's/^/#   /'
	done
}
check() {	# check NAME CMD...: pass if CMD succeeds, else its output
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$out"
	fi
}
relay() {	# relay NAME TAP RC: another script's "ok X"/"not ok X" lines
	local line
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok }" ;;
		"not ok "*) fail "${line#not ok }" ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done <"$2"
	if [ "$3" -ne 0 ] && ! grep -q '^not ok ' "$2"; then
		fail "$1 exited with $3" "$(tail -n 20 "$2")"
	fi
}
summary() {
	echo "# $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
diag() { sed 's/^/# /'; }

if [ "$(id -u)" -ne 0 ]; then
	fail "running as root (installs packages)"
	summary
	exit 1
fi
mkdir -p "$OUT"
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef
	-o Dpkg::Options::=--force-confold)

# --- what the host looks like before ------------------------------------------

installed() {	# installed PKG: dpkg knows it in any state but purged
	local s
	s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "${s:1:1}" != n ]
}

leftovers() {	# print what tcptrace left on the host
	local p f
	for p in "${PKGS[@]}"; do
		if installed "$p"; then
			echo "package $p: $(dpkg-query -W -f='${db:Status-Abbrev}' "$p")"
		fi
	done
	for f in /usr/src/tcptrace-* /var/lib/dkms/tcptrace \
		/lib/modules/*/updates/dkms/tcptrace.ko* /usr/sbin/tcpwhy \
		/usr/lib/udev/rules.d/60-tcptrace.rules /lib/udev/rules.d/60-tcptrace.rules \
		/usr/lib/systemd/system/tcpwhy-export.service \
		/lib/systemd/system/tcpwhy-export.service \
		/usr/lib/systemd/system/tcpwhy-metrics.service \
		/lib/systemd/system/tcpwhy-metrics.service \
		/usr/share/doc/tcpwhy /usr/share/doc/tcptrace-dkms /usr/share/tcpwhy \
		/usr/share/man/man8/tcpwhy.8.gz; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			echo "file $f"
		fi
	done
	if command -v dkms >/dev/null && [ -n "$(dkms status tcptrace 2>/dev/null)" ]; then
		dkms status tcptrace 2>/dev/null | sed 's/^/dkms status: /'
	fi
	return 0
}

before=$(leftovers)
if [ -n "$before" ]; then
	fail "host has no tcptrace installed before the test (not touching it)" "$before"
	summary
	exit 1
fi

had_mok=0
[ -e /var/lib/dkms/mok.key ] || [ -e /var/lib/dkms/mok.pub ] && had_mok=1
new_dirs=()	# updates/dkms directories DKMS may create
for d in /lib/modules/*/; do
	for sub in updates updates/dkms; do
		[ -d "$d$sub" ] || new_dirs=("$d$sub" "${new_dirs[@]}")
	done
done

cleanup() {
	local p v k
	set +e
	for p in "${PKGS[@]}"; do
		if installed "$p"; then
			echo "# cleanup: purging $p"
			"${APT[@]}" purge "${PKGS[@]}" </dev/null >>"$OUT/cleanup.log" 2>&1 ||
				dpkg --purge --force-all "${PKGS[@]}" >>"$OUT/cleanup.log" 2>&1
			break
		fi
	done
	if [ -d /var/lib/dkms/tcptrace ]; then
		echo "# cleanup: removing tcptrace from DKMS"
		for v in /var/lib/dkms/tcptrace/*/; do
			[ -L "${v%/}" ] && continue
			dkms remove -m tcptrace -v "$(basename "$v")" --all >>"$OUT/cleanup.log" 2>&1
		done
		rm -rf /var/lib/dkms/tcptrace
	fi
	rm -rf /usr/src/tcptrace-*
	for k in /lib/modules/*/updates/dkms/tcptrace.ko*; do
		[ -e "$k" ] || continue
		rm -f "$k"
		k=${k#/lib/modules/}
		depmod -a "${k%%/*}"
	done
	if [ "$had_mok" = 0 ]; then
		rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	fi
	for d in "${new_dirs[@]}"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	[ -z "${TMPD:-}" ] || rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 130' INT TERM
TMPD=$(mktemp -d)

# --- build --------------------------------------------------------------------

if ! packaging/deps.sh test >"$OUT/deps.log" 2>&1; then
	fail "packaging dependencies installed" "$(cat "$OUT/deps.log")"
	summary
	exit 1
fi
pass "packaging dependencies installed"

VERSION=$(packaging/dkms-source.sh version)
ARCH=$(dpkg --print-architecture)
DEB_DIR=$ROOT/build/deb
DKMS_DEB=$DEB_DIR/tcptrace-dkms_${VERSION}_all.deb
CLI_DEB=$DEB_DIR/tcpwhy_${VERSION}_${ARCH}.deb
CHANGES=$DEB_DIR/tcpwhy_${VERSION}_${ARCH}.changes

# `make deb` once the top-level Makefile includes packaging.mk
if make -n deb >/dev/null 2>&1; then
	build=(make deb)
else
	build=(make -f packaging.mk deb)
fi
# what dpkg-buildpackage would write next to the tree: its packages'
# names then "_" (not ../tcptrace-vm.*, a guest's temporary directory:
# the parent of a checkout in /tmp holds those while other jobs run)
parent_files() {
	local f
	for f in ../tcptrace-dkms_* ../tcpwhy_*; do
		if [ -e "$f" ]; then echo "$f"; fi
	done
	return 0
}
parent_before=$(parent_files)
start=$SECONDS
if "${build[@]}" >"$OUT/build.log" 2>&1 && [ -f "$DKMS_DEB" ] && [ -f "$CLI_DEB" ]; then
	pass "${build[*]}: tcptrace-dkms and tcpwhy built ($((SECONDS - start)) s)"
else
	fail "${build[*]}: tcptrace-dkms and tcpwhy built" "$(tail -n 40 "$OUT/build.log")"
	summary
	exit 1
fi

# dpkg-buildpackage's by-products, in the tree or next to it
junk=()
for f in debian/.debhelper debian/files debian/debhelper-build-stamp \
	debian/tcpwhy debian/tcptrace-dkms debian/dkms.conf.generated \
	debian/*.substvars debian/*.debhelper debian/*.debhelper.log; do
	if [ -e "$f" ]; then junk+=("$f"); fi
done
parent_after=$(parent_files)
if [ "$parent_after" != "$parent_before" ]; then junk+=("in ..: $parent_after"); fi
if [ "${#junk[@]}" -eq 0 ]; then
	pass "make deb leaves the checkout and its parent directory clean"
else
	fail "make deb leaves the checkout and its parent directory clean" "${junk[@]}"
fi

# no name, file or command of ours is one of Debian's
selftests/packaging/clash.sh "$CLI_DEB" "$DKMS_DEB" >"$OUT/clash.tap" 2>&1
relay clash.sh "$OUT/clash.tap" $?

conf=$(dpkg-deb --fsys-tarfile "$DKMS_DEB" | tar -xOf - "./usr/src/tcptrace-$VERSION/dkms.conf" 2>&1)
if grep -qx "PACKAGE_VERSION=\"$VERSION\"" <<<"$conf" &&
	grep -qx 'AUTOINSTALL="yes"' <<<"$conf" &&
	grep -q '^BUILD_EXCLUSIVE_KERNEL=' <<<"$conf"; then
	pass "packaged dkms.conf: version $VERSION (from VERSION), AUTOINSTALL, BUILD_EXCLUSIVE_KERNEL"
else
	fail "packaged dkms.conf: version $VERSION (from VERSION), AUTOINSTALL, BUILD_EXCLUSIVE_KERNEL" "$conf"
fi

# BUILD_EXCLUSIVE_KERNEL: exactly 5.10, 6.1 .. 6.12, 7.2 and 7.3
re=$(sed -n 's/^BUILD_EXCLUSIVE_KERNEL="\(.*\)"$/\1/p' <<<"$conf")
bad=()
for k in 5.10.0-46-amd64 6.1.0-56-amd64 6.1.0-57-rt-amd64 6.5.0-1-amd64 \
	6.10.3 6.12.117+deb12-amd64 7.2.12+deb13-amd64 7.3.4+deb13-amd64; do
	grep -qE "$re" <<<"$k" || bad+=("$k should match $re")
done
for k in 6.0.12-1-amd64 5.15.0-30-generic 5.1.0 6.13.1 6.18.44 7.1.0 \
	7.4.0 16.1.0 15.10.0; do
	grep -qE "$re" <<<"$k" && bad+=("$k should not match $re")
done
if [ "${#bad[@]}" -eq 0 ]; then
	pass "BUILD_EXCLUSIVE_KERNEL matches 5.10, 6.1 .. 6.12, 7.2 and 7.3 only"
else
	fail "BUILD_EXCLUSIVE_KERNEL matches 5.10, 6.1 .. 6.12, 7.2 and 7.3 only" "${bad[@]}"
fi

lint=$(lintian --fail-on error --display-info "$CHANGES" 2>&1)
rc=$?
lint=$(grep -v '^running with root privileges' <<<"$lint")
if [ "$rc" -eq 0 ]; then
	pass "lintian: no errors"
	[ -z "$lint" ] || diag <<<"$lint"
else
	fail "lintian: no errors" "$lint"
fi

# --- install --------------------------------------------------------------------

start=$SECONDS
if "${APT[@]}" install "$DKMS_DEB" "$CLI_DEB" </dev/null >"$OUT/install.log" 2>&1; then
	pass "apt-get install tcptrace-dkms tcpwhy ($((SECONDS - start)) s)"
else
	fail "apt-get install tcptrace-dkms tcpwhy" "$(tail -n 40 "$OUT/install.log")"
	summary
	exit 1
fi

mapfile -t kernels < <(selftests/vm/kernels.sh)
if [ "${#kernels[@]}" -lt 2 ]; then
	fail "6.1 and 6.12 kernels with headers installed" "found: ${kernels[*]}"
fi
status=$(dkms status tcptrace 2>/dev/null)
diag <<<"$status"
for k in "${kernels[@]}"; do
	if grep -qx "tcptrace/$VERSION, $k, [^:]*: installed" <<<"$status"; then
		pass "dkms status: tcptrace/$VERSION installed for $k"
	else
		fail "dkms status: tcptrace/$VERSION installed for $k" "$status"
	fi
	ko=$(modinfo -k "$k" -n tcptrace 2>&1)
	vermagic=$(modinfo -k "$k" -F vermagic tcptrace 2>&1)
	version=$(modinfo -k "$k" -F version tcptrace 2>&1)
	if [[ $ko == /lib/modules/$k/updates/dkms/tcptrace.ko* ]] && [ -f "$ko" ] &&
		[[ $vermagic == "$k "* ]] && [ "$version" = "$VERSION" ]; then
		pass "$k: $ko, version $VERSION, vermagic $k"
	else
		fail "$k: module in /lib/modules/$k/updates/dkms" "modinfo -n: $ko" \
			"vermagic: $vermagic" "version: $version"
	fi
done

for name in tcpwhy-export.service tcpwhy-metrics.service; do
	unit=/usr/lib/systemd/system/$name
	if [ -f "$unit" ] && ! ls /etc/systemd/system/*.wants/"$name" >/dev/null 2>&1; then
		pass "$name installed in /usr/lib/systemd/system, not enabled"
	else
		fail "$name installed in /usr/lib/systemd/system, not enabled" \
			"$(ls -l "$unit" /etc/systemd/system/*.wants/"$name" 2>&1)"
	fi
	check "systemd-analyze verify $name" systemd-analyze verify "$unit"
done
rules=/usr/share/doc/tcpwhy/examples/prometheus/tcptrace.rules.yml
if [ -f "$rules" ]; then
	pass "example Prometheus rules in $rules"
else
	fail "example Prometheus rules in $rules" \
		"$(find /usr/share/doc/tcpwhy/examples 2>&1)"
fi

check "tcpwhy(8) renders without warnings" sh -c \
	'out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l /usr/share/man/man8/tcpwhy.8.gz 2>&1 >/dev/null); [ -z "$out" ] || { echo "$out"; exit 1; }'

# Every option the packaged CLI lists is in the man page.
help=$(/usr/sbin/tcpwhy -h 2>&1)
man_src=$(zcat /usr/share/man/man8/tcpwhy.8.gz | sed 's/\\-/-/g')
missing=()
for o in $(grep -oE '(^|[ ,])--?[A-Za-z0-9][-A-Za-z0-9]*' <<<"$help" | tr -d ' ,' | sort -u); do
	grep -qE "(^|[^-A-Za-z0-9])$o([^-A-Za-z0-9]|\$)" <<<"$man_src" || missing+=("$o")
done
for c in $(sed -n 's/^ *tcpwhy \([a-z][a-z-]*\) .*/\1/p' <<<"$help" | sort -u); do
	grep -qE "(^|[^-A-Za-z0-9])$c([^-A-Za-z0-9]|\$)" <<<"$man_src" || missing+=("subcommand $c")
done
if [ "${#missing[@]}" -eq 0 ]; then
	pass "every option of tcpwhy -h is in tcpwhy(8)"
else
	fail "every option of tcpwhy -h is in tcpwhy(8)" "missing: ${missing[*]}"
fi

# --- in a guest, per kernel ----------------------------------------------------------

for k in "${kernels[@]}"; do
	vmout=$OUT/vm-$k
	rm -rf "$vmout"
	mkdir -p "$vmout"
	start=$SECONDS
	VM_OUT_DIR=$vmout VM_TIMEOUT=${VM_TIMEOUT:-600} selftests/vm/run-vm.sh "$k" \
		"$ROOT/selftests/packaging/guest.sh" "$VERSION" >"$vmout/run.log" 2>&1
	rc=$?
	if [ -f "$vmout/results" ]; then
		while IFS= read -r line; do
			case $line in
			"ok "*) pass "${line#ok }" ;;
			"not ok "*) fail "${line#not ok }" ;;
			*) echo "$line" ;;
			esac
		done <"$vmout/results"
	fi
	if [ "$rc" -eq 0 ]; then
		pass "$k: guest ran cleanly, no kernel splat ($((SECONDS - start)) s)"
	else
		fail "$k: guest ran cleanly, no kernel splat (run-vm.sh exit $rc)" \
			"$(grep -v '^\[' "$vmout/run.log" | tail -n 30)"
	fi
done

# --- uninstall --------------------------------------------------------------------

start=$SECONDS
if "${APT[@]}" purge "${PKGS[@]}" </dev/null >"$OUT/purge.log" 2>&1; then
	pass "apt-get purge tcpwhy tcptrace-dkms ($((SECONDS - start)) s)"
else
	fail "apt-get purge tcpwhy tcptrace-dkms" "$(tail -n 40 "$OUT/purge.log")"
fi
left=$(leftovers)
if [ -z "$left" ]; then
	pass "nothing left behind (packages, /usr/src, /var/lib/dkms, modules, CLI, dkms status)"
else
	fail "nothing left behind (packages, /usr/src, /var/lib/dkms, modules, CLI, dkms status)" "$left"
fi
notfound=()
for k in "${kernels[@]}"; do
	modinfo -k "$k" -n tcptrace >/dev/null 2>&1 && notfound+=("$k: modinfo still finds tcptrace")
done
if [ "${#notfound[@]}" -eq 0 ]; then
	pass "depmod forgot tcptrace on every kernel"
else
	fail "depmod forgot tcptrace on every kernel" "${notfound[@]}"
fi

# --- from a checkout ------------------------------------------------------------------

start=$SECONDS
if make -n dkms-install >/dev/null 2>&1; then
	mk=(make)
else
	mk=(make -f packaging.mk)
fi
if "${mk[@]}" dkms-install >"$OUT/dkms-install.log" 2>&1; then
	status=$(dkms status tcptrace 2>/dev/null)
	missing=()
	for k in "${kernels[@]}"; do
		grep -qx "tcptrace/$VERSION, $k, [^:]*: installed" <<<"$status" || missing+=("$k")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		pass "make dkms-install: installed for ${kernels[*]} ($((SECONDS - start)) s)"
	else
		fail "make dkms-install: installed for ${kernels[*]}" "not for: ${missing[*]}" "$status"
	fi
else
	fail "make dkms-install" "$(tail -n 40 "$OUT/dkms-install.log")"
fi
if "${mk[@]}" dkms-remove >"$OUT/dkms-remove.log" 2>&1 && left=$(leftovers) && [ -z "$left" ]; then
	pass "make dkms-remove: nothing left behind"
else
	fail "make dkms-remove: nothing left behind" "$(tail -n 20 "$OUT/dkms-remove.log")" "${left:-}"
fi

# --- the other Debian releases of the matrix (5.10, 7.x) ----------------------------

selftests/packaging/other-releases.sh "$DKMS_DEB" "$CLI_DEB" \
	>"$OUT/other-releases.tap" 2>&1
relay other-releases.sh "$OUT/other-releases.tap" $?

summary
