#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch a Debian kernel of another suite (image, headers, kbuild) into a
# cache, without installing it: the host's apt sources and packages stay
# as they are.  The module builds against the headers there, and run-vm.sh
# boots the image from there (VM_KERNEL_ROOT).
#
#   selftests/vm/fetch-kernel.sh SUITE KVER
#   e.g. selftests/vm/fetch-kernel.sh bullseye 5.10.0-46-amd64
#        selftests/vm/fetch-kernel.sh trixie-backports 7.3.4+deb13-amd64
#
# Prints the kernel root (/var/cache/tcptrace/kernels/KVER/root: boot/,
# lib/modules/KVER/, usr/src/linux-headers-KVER/) as its last line.
# With SUITE alone, only brings SUITE's package lists up to date.
#
#   selftests/vm/fetch-kernel.sh --source SUITE
#
# fetches the newest linux-source-X.Y of SUITE (for the KUnit kernel) and
# prints the path of its tarball (/var/cache/tcptrace/src/X.Y/...tar.xz).
#
#   selftests/vm/fetch-kernel.sh --package SUITE PKG
#
# fetches SUITE's newest PKG (a tool a guest test runs, such as
# prometheus: extracted, never installed, so no service of it starts on
# the host) and prints the directory it is extracted in
# (/var/cache/tcptrace/pkgs/PKG-VERSION).
# SUITE's own apt lists live in /var/cache/tcptrace/apt-SUITE.
set -euo pipefail

source=
package=
if [ "${1:-}" = --source ]; then
	source=1
	shift
	[ $# -eq 1 ] || set --
elif [ "${1:-}" = --package ]; then
	shift
	[ $# -eq 2 ] || set --
	package=${2:-}
	set -- "${1:-}"
fi
[ $# -eq 1 ] || [ $# -eq 2 ] || { sed -n '3,27s/^# \{0,1\}//p' "$0" >&2; exit 2; }
suite=$1
kver=${2:-}
cache=${TCPTRACE_KERNEL_CACHE:-/var/cache/tcptrace}
apt=$cache/apt-$suite
dir=$cache/kernels/$kver
root=$dir/root

log() { echo "fetch-kernel: $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

if [ -n "$kver" ] && [ -s "$dir/complete" ]; then
	echo "$root"
	exit 0
fi

mkdir -p "$apt/lists/partial" "$apt/archives/partial"
# one run per suite at a time: they share the lists
exec 9>"$apt/.lock"
flock 9
if [ -n "$kver" ] && [ -s "$dir/complete" ]; then
	echo "$root"
	exit 0
fi
case $suite in
bullseye | bookworm | trixie)
	printf 'deb http://deb.debian.org/debian %s main\n' "$suite" \
		>"$apt/sources.list"
	printf 'deb http://deb.debian.org/debian-security %s-security main\n' \
		"$suite" >>"$apt/sources.list"
	;;
*)	# trixie-backports and the like
	printf 'deb http://deb.debian.org/debian %s main\n' "$suite" \
		>"$apt/sources.list"
	;;
esac
opts=(-q -o "Dir::Etc::SourceList=$apt/sources.list"
	-o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt/lists"
	-o "Dir::Cache=$apt" -o Debug::NoLocking=1)
# newest_cached_source: the tarball of the newest source fetched before
newest_cached_source() {
	local d
	d=$(find "$cache/src" -mindepth 2 -maxdepth 2 -name complete \
		-printf '%h\n' 2>/dev/null | sort -V | tail -n1)
	[ -n "$d" ] && ls "$d"/usr/src/linux-source-*.tar.xz 2>/dev/null | head -n1
}
# newest_cached_package: the newest $package extracted before
newest_cached_package() {
	find "$cache/pkgs" -mindepth 2 -maxdepth 2 -name complete \
		-path "$cache/pkgs/$package-[0-9]*" -printf '%h\n' 2>/dev/null |
		sort -V | tail -n1 | grep .
}
log "apt-get update ($suite)"
if ! apt-get "${opts[@]}" update >&2 </dev/null; then
	# the archive unreachable: a source fetched before still serves
	if [ -n "$source" ] && tarball=$(newest_cached_source); then
		log "apt-get update failed: using the cached $tarball"
		echo "$tarball"
		exit 0
	fi
	if [ -n "$package" ] && d=$(newest_cached_package); then
		log "apt-get update failed: using the cached $d"
		echo "$d"
		exit 0
	fi
	die "apt-get update failed"
fi
# newest PKG: the version of SUITE's newest PKG
newest() {
	apt-cache "${opts[@]}" show "$1" 2>/dev/null |
		sed -n 's/^Version: //p' | sort -V | tail -n1
}
# extract PKG VER DIR [FILE]: PKG=VER extracted in DIR, once (DIR/complete);
# FILE, if given, must be in it
extract() {
	[ ! -s "$3/complete" ] || return 0
	rm -rf "$3"
	mkdir -p "$3/debs"
	log "downloading $1 $2"
	(cd "$3/debs" && apt-get "${opts[@]}" download "$1=$2" >&2 </dev/null) ||
		die "apt-get download $1 failed"
	dpkg-deb -x "$3/debs/"*.deb "$3"
	rm -rf "$3/debs"
	[ -z "${4:-}" ] || [ -r "$4" ] || die "$1 has no $4"
	echo "$2" >"$3/complete"
}
if [ -n "$package" ]; then
	ver=$(newest "$package")
	[ -n "$ver" ] || die "no $package in $suite"
	extract "$package" "$ver" "$cache/pkgs/$package-$ver"
	echo "$cache/pkgs/$package-$ver"
	exit 0
fi
if [ -n "$source" ]; then
	pkg=$(apt-cache "${opts[@]}" pkgnames linux-source- 2>/dev/null |
		grep -E '^linux-source-[0-9]+\.[0-9]+$' | sort -V | tail -n1) || true
	[ -n "$pkg" ] || die "no linux-source-X.Y in $suite"
	ver=$(newest "$pkg")
	src=$cache/src/$pkg-$ver
	tarball=$src/usr/src/$pkg.tar.xz
	extract "$pkg" "$ver" "$src" "$tarball"
	echo "$tarball"
	exit 0
fi
[ -n "$kver" ] || exit 0
# an unfinished earlier try leaves nothing that counts
rm -rf "$dir"
mkdir -p "$dir/debs"

flavour=${kver##*-}                       # amd64
abi=${kver%-"$flavour"}                   # 5.10.0-46
series=${abi%%-*}                         # 5.10.0
series=${series%.0}                       # 5.10
if apt-cache "${opts[@]}" show "linux-binary-$kver" >/dev/null 2>&1; then
	# 7.x: the image split in three, under /usr/lib/modules; its headers
	# want a newer toolchain (build-chroot.sh has them)
	pkgs=("linux-binary-$kver" "linux-modules-$kver" "linux-base-$kver")
else
	pkgs=("linux-image-$kver-unsigned" "linux-headers-$kver"
		"linux-headers-$abi-common" "linux-kbuild-$series")
	# the signed image where there is no unsigned one of that name
	apt-cache "${opts[@]}" show "${pkgs[0]}" >/dev/null 2>&1 ||
		pkgs[0]=linux-image-$kver
fi
cd "$dir/debs"
log "downloading ${pkgs[*]}"
apt-get "${opts[@]}" download "${pkgs[@]}" >&2 </dev/null ||
	die "apt-get download failed"
for deb in ./*.deb; do
	dpkg-deb -x "$deb" "$root"
done

# The headers' Makefile includes the common headers by absolute path.
mk=$root/usr/src/linux-headers-$kver/Makefile
[ ! -f "$mk" ] || sed -i "s|^include /usr/src/|include $root/usr/src/|" "$mk"
# 7.x keeps the kernel and its modules in /usr/lib/modules only
if [ -d "$root/usr/lib/modules/$kver" ] && [ ! -e "$root/lib/modules" ]; then
	ln -s usr/lib "$root/lib"
	mkdir -p "$root/boot"
	ln -s "../usr/lib/modules/$kver/vmlinuz" "$root/boot/vmlinuz-$kver"
fi
[ -r "$root/boot/vmlinuz-$kver" ] || die "no kernel image in the packages"
depmod -b "$root" "$kver" || die "depmod failed"
echo "$suite" >"$dir/complete"
log "$kver ready in $root"
echo "$root"
