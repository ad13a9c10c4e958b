#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the module for a kernel whose headers need a newer toolchain than
# this host's: Debian 13's 7.x kernels from trixie-backports want gcc-14
# and glibc >= 2.38.  A trixie chroot, made once with mmdebstrap from
# Debian's archive and cached, holds the compiler and those headers (it
# installs them, not the host).  `make module KVER=7.x...` calls this.
#
#   selftests/vm/build-chroot.sh KVER OUTDIR
#
# Leaves OUTDIR/tcptrace.ko.  The chroot: /var/cache/tcptrace/trixie-chroot.
set -euo pipefail

[ $# -eq 2 ] || { sed -n '3,11s/^# \{0,1\}//p' "$0" >&2; exit 2; }
kver=$1
out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${TCPTRACE_CHROOT:-/var/cache/tcptrace/trixie-chroot}
mirror=http://deb.debian.org/debian

log() { echo "build-chroot: $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9

if ! chroot "$dir" gcc-14 --version >/dev/null 2>&1; then
	command -v mmdebstrap >/dev/null ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends mmdebstrap </dev/null >&2 ||
		die "cannot install mmdebstrap"
	log "making a trixie chroot in $dir (once)"
	umount "$dir.tmp/proc" "$dir/proc" 2>/dev/null || true
	rm -rf --one-file-system "$dir.tmp"
	mmdebstrap --variant=minbase --mode=root \
		--include=gcc-14,gcc,make,libc6-dev,libelf-dev,bc,bison,flex,kmod,xz-utils,zstd,ca-certificates \
		--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		trixie "$dir.tmp" "deb $mirror trixie main" \
		"deb $mirror trixie-backports main" >&2 </dev/null ||
		die "mmdebstrap failed"
	rm -rf --one-file-system "$dir"
	mv "$dir.tmp" "$dir"
fi

hdr=/usr/src/linux-headers-$kver
if [ ! -f "$dir$hdr/Makefile" ]; then
	log "installing linux-headers-$kver in the chroot"
	cp /etc/resolv.conf "$dir/etc/resolv.conf"
	chroot "$dir" apt-get update -q >&2 </dev/null ||
		die "apt-get update in the chroot failed"
	DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -q \
		--no-install-recommends "linux-headers-$kver" >&2 </dev/null ||
		die "no linux-headers-$kver in trixie or trixie-backports"
fi

src=/build/tcptrace-$kver
rm -rf "${dir:?}$src"
mkdir -p "$dir$src/module/uapi"
cp "$repo/Kbuild" "$repo/VERSION" "$dir$src/"
cp "$repo"/module/*.c "$repo"/module/*.h "$repo"/module/compat.mk "$dir$src/module/"
cp "$repo"/module/uapi/*.h "$dir$src/module/uapi/"
# objtool reads /proc; unmounted however the build ends
mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
trap 'umount "$dir/proc" 2>/dev/null || true' EXIT
chroot "$dir" make -C "$hdr" M="$src" W=1 modules ||
	die "module build for $kver failed"
mkdir -p "$out"
cp "$dir$src/tcptrace.ko" "$out/tcptrace.ko"
log "built $out/tcptrace.ko for $kver"
