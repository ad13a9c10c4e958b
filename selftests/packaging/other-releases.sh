#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The packages on the other Debian releases of the kernel matrix: Debian 11
# (5.10) and Debian 13 with backports (7.x).  Called by run.sh with the
# packages it built; TAP lines on stdout ("ok"/"not ok" without numbers,
# run.sh numbers them).
#
#   selftests/packaging/other-releases.sh DKMS_DEB CLI_DEB
#
# For each kernel of selftests/vm/extra-kernels.sh, a chroot of that
# kernel's release (made once with mmdebstrap from Debian's archive, with
# dkms, the compiler and that kernel's headers, cached in
# /var/cache/tcptrace/pkgtest/KVER) stands for a host of that release.  A
# scratch copy of it gets tcptrace-dkms installed with apt-get while
# KVER's headers are hidden, then the kernel hook that runs when a
# kernel's headers arrive (/etc/kernel/header_postinst.d/dkms) builds the
# module for KVER, as on a fleet host that installs a new kernel.  The module DKMS built is then loaded in a
# guest booting that kernel and traces connections there; the CLI package
# is installed where its libc allows; the purge leaves nothing behind.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
DKMS_DEB=$1
CLI_DEB=$2
OUT=$ROOT/selftests/out/packaging
cache=${TCPTRACE_KERNEL_CACHE:-/var/cache/tcptrace}
mirror=http://deb.debian.org/debian

ok() { echo "ok $*"; }
notok() {
	echo "not ok $1"
	shift
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | tail -n 30 | sed 's/^/#   /'
	done
}

# release KVER: the Debian suite whose kernel KVER is, and its apt lines
release() {
	case $1 in
	5.10.*) echo bullseye ;;
	7.*) echo trixie ;;
	*) return 1 ;;
	esac
}
sources() {
	case $1 in
	bullseye)
		echo "deb $mirror bullseye main"
		echo "deb http://deb.debian.org/debian-security bullseye-security main"
		;;
	trixie)
		echo "deb $mirror trixie main"
		echo "deb $mirror trixie-backports main"
		;;
	esac
}

# base KVER SUITE: the cached chroot of SUITE with dkms and KVER's headers
base() {
	local k=$1 suite=$2 dir=$cache/pkgtest/$1 src=()
	if [ -s "$dir/complete" ]; then
		echo "$dir/root"
		return 0
	fi
	command -v mmdebstrap >/dev/null ||
		apt-get install -y -q --no-install-recommends mmdebstrap \
			</dev/null >&2 || return 1
	rm -rf --one-file-system "$dir"
	mkdir -p "$dir"
	mapfile -t src < <(sources "$suite")
	echo "# making a $suite chroot with dkms and linux-headers-$k (once)" >&2
	mmdebstrap --variant=minbase --mode=root \
		--include="dkms,gcc,make,libc6-dev,kmod,xz-utils,zstd,linux-headers-$k" \
		--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		"$suite" "$dir/root" "${src[@]}" >"$dir/mmdebstrap.log" 2>&1 \
		</dev/null || { cat "$dir/mmdebstrap.log" >&2; return 1; }
	echo "$suite" >"$dir/complete"
	echo "$dir/root"
}

# the scratch chroot's /proc is unmounted however this script ends
scratch=
unmount_scratch() {
	[ -n "$scratch" ] || return 0
	if mountpoint -q "$scratch/proc" 2>/dev/null; then
		umount -l "$scratch/proc"
	fi
}
trap unmount_scratch EXIT

in_root() {	# in_root DIR CMD...: run CMD in the chroot DIR, /proc mounted
	local dir=$1 rc
	shift
	mount -t proc proc "$dir/proc" || return 1
	DEBIAN_FRONTEND=noninteractive chroot "$dir" "$@"
	rc=$?
	umount "$dir/proc"
	return $rc
}

tested=0
mapfile -t extra < <(selftests/vm/extra-kernels.sh 2>/dev/null)
for line in "${extra[@]}"; do
	read -r k kroot <<<"$line"
	suite=$(release "$k") || continue
	if [ "$kroot" = - ]; then
		notok "$suite ($k): kernel fetched" "see selftests/vm/extra-kernels.sh"
		continue
	fi
	t0=$SECONDS
	if ! b=$(base "$k" "$suite" 2>"$OUT/base-$k.log"); then
		notok "$suite ($k): a $suite chroot with dkms and its headers" \
			"$(cat "$OUT/base-$k.log")"
		continue
	fi
	scratch=$cache/pkgtest/$k/scratch
	unmount_scratch
	if ! rm -rf --one-file-system "$scratch" || ! cp -a "$b" "$scratch" ||
		! cp "$DKMS_DEB" "$CLI_DEB" "$scratch/tmp/"; then
		notok "$suite ($k): a scratch copy of the chroot" "in $scratch"
		continue
	fi
	tested=$((tested + 1))
	log=$OUT/$suite-$k.log
	: >"$log"
	dk=/tmp/$(basename "$DKMS_DEB")
	cli=/tmp/$(basename "$CLI_DEB")

	built() {
		find "$scratch/lib/modules/$k/updates/dkms" \
			"$scratch/usr/lib/modules/$k/updates/dkms" \
			-name 'tcptrace.ko*' 2>/dev/null | head -n1
	}
	# A fleet host: the package first, the kernel's headers after it
	# (hidden while the package installs), whose hook then has DKMS
	# build for that kernel.
	bl=$scratch/lib/modules/$k/build
	if mv "$bl" "$bl.hidden" &&
		in_root "$scratch" apt-get install -y -q --no-install-recommends \
			"$dk" >>"$log" 2>&1 </dev/null && [ -z "$(built)" ]; then
		ok "$suite: apt-get install tcptrace-dkms without $k's headers"
	else
		notok "$suite: apt-get install tcptrace-dkms without $k's headers" \
			"$(tail -n 30 "$log")"
	fi
	if mv "$bl.hidden" "$bl" &&
		in_root "$scratch" /etc/kernel/header_postinst.d/dkms "$k" \
			>>"$log" 2>&1 </dev/null && [ -n "$(built)" ]; then
		ok "$suite: $k's headers arrive, their hook has DKMS build for it"
	else
		notok "$suite: $k's headers arrive, their hook has DKMS build for it" \
			"$(tail -n 30 "$log")"
	fi
	status=$(in_root "$scratch" dkms status tcptrace 2>&1)
	ko=$(built)
	vermagic=$( [ -n "$ko" ] && modinfo -F vermagic "$ko" 2>&1)
	# dkms 2.8 (bullseye) says "tcptrace, V, K, arch", 3.x "tcptrace/V, K, arch"
	kre=$(sed 's/[].+*?^$[]/\\&/g' <<<"$k")
	if grep -qE "^tcptrace[/,] ?[^,]*, $kre, .*: installed" <<<"$status" &&
		[[ $vermagic == "$k "* ]]; then
		ok "$suite: dkms status installed for $k, vermagic $k"
	else
		notok "$suite: dkms status installed for $k, vermagic $k" \
			"$status" "module: ${ko:-none} vermagic: $vermagic"
	fi

	# the module DKMS built, in a guest booting that kernel
	if [ -n "$ko" ]; then
		plain=$OUT/$k-dkms-tcptrace.ko
		case $ko in
		*.xz) xz -dc "$ko" >"$plain" ;;
		*.zst) zstd -qdc "$ko" >"$plain" ;;
		*) cp "$ko" "$plain" ;;
		esac
		vmout=$OUT/vm-$k
		rm -rf "$vmout"
		mkdir -p "$vmout"
		VM_OUT_DIR=$vmout VM_KERNEL_ROOT=$kroot VM_TIMEOUT=${VM_TIMEOUT:-600} \
			TCPTRACE_KO=$plain TCPTRACE_CLI=$ROOT/tools/tcpwhy \
			selftests/vm/run-vm.sh "$k" "$ROOT/selftests/guest.sh" \
			test_foundation:ipv4_loopback_handshake_data_close,ipv6_loopback_handshake_data_close \
			>"$vmout/run.log" 2>&1
		rc=$?
		n=$(grep -c '^ok ' "$vmout/run.log")
		if [ "$rc" -eq 0 ] && [ "$n" -eq 2 ]; then
			ok "$k: the module DKMS built loads and traces IPv4 and IPv6 connections"
		else
			notok "$k: the module DKMS built loads and traces IPv4 and IPv6 connections" \
				"run-vm.sh exit $rc, $n of 2 tests passed" \
				"$(grep -v '^\[' "$vmout/run.log" | tail -n 30)"
		fi
	fi

	# the CLI package: built on this host (bookworm), for its libc or newer
	need=$(dpkg-deb -f "$CLI_DEB" Depends |
		sed -n 's/.*libc6 (>= \([^)]*\)).*/\1/p')
	have=$(chroot "$scratch" dpkg-query -W -f='${Version}' libc6)
	if dpkg --compare-versions "$have" ge "${need:-0}"; then
		if in_root "$scratch" apt-get install -y -q --no-install-recommends \
			"$cli" >>"$log" 2>&1 </dev/null &&
			chroot "$scratch" /usr/sbin/tcpwhy -h >/dev/null 2>&1; then
			ok "$suite: apt-get install tcpwhy (the CLI) and run it"
		else
			notok "$suite: apt-get install tcpwhy (the CLI) and run it" \
				"$(tail -n 20 "$log")"
		fi
	else
		echo "# $suite: the CLI package needs libc6 >= $need, $suite has $have:" \
			"build it on $suite (make deb there)"
	fi

	if in_root "$scratch" apt-get purge -y -q tcptrace-dkms tcpwhy \
		>>"$log" 2>&1 </dev/null &&
		[ -z "$(find "$scratch"/lib/modules/ "$scratch"/usr/lib/modules/ \
			-name 'tcptrace.ko*' 2>/dev/null)" ] &&
		[ ! -e "$scratch/var/lib/dkms/tcptrace" ] &&
		[ -z "$(ls -d "$scratch"/usr/src/tcptrace-* 2>/dev/null)" ]; then
		ok "$suite: apt-get purge leaves no module, DKMS tree or source ($((SECONDS - t0)) s)"
	else
		notok "$suite: apt-get purge leaves no module, DKMS tree or source" \
			"$(tail -n 20 "$log")"
	fi
	unmount_scratch
	rm -rf --one-file-system "$scratch"
done
scratch=
# a run that tested nothing is no pass
if [ "$tested" -eq 0 ]; then
	notok "a kernel of another Debian release to install on" \
		"selftests/vm/extra-kernels.sh gave: ${extra[*]:-nothing}"
	exit 1
fi
echo "# other releases: $tested kernels"
