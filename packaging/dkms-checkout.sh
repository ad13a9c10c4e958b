#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make dkms-install` / `make dkms-remove`: DKMS from a checkout, for people
# working on tcptrace.  Needs root.
#
#   packaging/dkms-checkout.sh install   copy the module sources into
#       /usr/src/tcptrace-VERSION (dkms.conf from VERSION), register them
#       with DKMS, build and install for every installed kernel that has
#       headers (DKMS skips kernels outside 6.1..6.12).  Re-running
#       replaces the sources and rebuilds.  Other tcptrace versions
#       installed from a checkout are removed first.
#   packaging/dkms-checkout.sh remove    remove every tcptrace version
#       installed from a checkout, from all kernels, and its sources.
#
# Refuses to touch a version that the tcptrace-dkms package installed:
# use apt-get/dpkg for that one.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PROG=dkms-checkout

die() {
	echo "$PROG: ERROR: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root"

# versions DKMS knows about (real directories; kernel-* entries are links)
dkms_versions() {
	local d
	for d in /var/lib/dkms/tcptrace/*/; do
		[ -d "$d" ] && [ ! -L "${d%/}" ] && basename "$d"
	done
	return 0
}

packaged() {	# packaged VERSION: is /usr/src/tcptrace-VERSION a package's?
	dpkg-query -S "/usr/src/tcptrace-$1" >/dev/null 2>&1
}

remove_version() {
	local v=$1
	if packaged "$v"; then
		echo "$PROG: tcptrace $v belongs to the tcptrace-dkms package;" \
			"leaving it (apt-get purge tcptrace-dkms removes it)" >&2
		return 0
	fi
	if [ -d "/var/lib/dkms/tcptrace/$v" ]; then
		echo "$PROG: dkms remove tcptrace/$v --all" >&2
		dkms remove -m tcptrace -v "$v" --all
	fi
	rm -rf "/usr/src/tcptrace-$v"
}

install() {
	"$top/packaging/deps.sh" dkms
	local v k rc built=0
	v=$("$top/packaging/dkms-source.sh" version)
	packaged "$v" && die "tcptrace $v is installed by the tcptrace-dkms" \
		"package: remove it first (apt-get purge tcptrace-dkms)"
	for k in $(dkms_versions); do
		[ "$k" = "$v" ] || remove_version "$k"
	done
	remove_version "$v"
	"$top/packaging/dkms-source.sh" tree "/usr/src/tcptrace-$v"
	dkms add -m tcptrace -v "$v"
	for k in $(ls -1 /lib/modules | sort -V); do
		if [ ! -e "/lib/modules/$k/build/include" ]; then
			echo "$PROG: $k: no headers, skipped" >&2
			continue
		fi
		rc=0
		dkms install -m tcptrace -v "$v" -k "$k" || rc=$?
		case $rc in
		0) built=$((built + 1)) ;;
		77) echo "$PROG: $k: not a supported kernel, skipped" >&2 ;;
		*) die "dkms install for $k failed (exit $rc): see" \
			"/var/lib/dkms/tcptrace/$v/build/make.log" ;;
		esac
	done
	dkms status -m tcptrace
	[ "$built" -gt 0 ] || echo "$PROG: warning: no kernel with headers" \
		"in the supported range (6.1..6.12) is installed" >&2
}

remove() {
	local v
	for v in $(dkms_versions); do
		remove_version "$v"
	done
	# sources that were copied but never registered
	for v in /usr/src/tcptrace-*; do
		[ -d "$v" ] || continue
		packaged "${v#/usr/src/tcptrace-}" || rm -rf "$v"
	done
	if lsmod 2>/dev/null | grep -q '^tcptrace '; then
		echo "$PROG: note: the module is still loaded (rmmod tcptrace)" >&2
	fi
	return 0
}

case "${1:-}" in
install) install ;;
remove) remove ;;
*) echo "usage: $PROG install|remove" >&2; exit 2 ;;
esac
