#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install (idempotently) everything the VM-based selftests need on a Debian
# host: the Debian kernels we test against (image + headers), QEMU, the bits
# used to build the guest initramfs, and the user-space tools the tests run
# inside the guest.
#
# Fast path: when every package is already installed this only runs one
# dpkg-query and exits (well under a second).  Otherwise it runs
# `apt-get update` once and installs the missing packages non-interactively.
#
# Usage: selftests/vm/deps.sh          (must be root for the install path)
set -euo pipefail

PACKAGES=(
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-image-rt-amd64 linux-headers-rt-amd64
	qemu-system-x86 busybox-static kmod cpio
	iproute2 nftables tcpdump python3 python3-scapy python3-jsonschema ipvsadm ethtool tmux
	sparse zstd xz-utils make gcc linux-source-6.1
	linux-source-6.12 flex bison bc libelf-dev libssl-dev
)

die() {
	echo "deps.sh: ERROR: $*" >&2
	exit 1
}

# Print the packages that are not in state "install ok installed".
# dpkg-query exits non-zero for unknown packages, so ignore its status and
# look at what it printed: one "<name> <status>" line per known package.
missing_packages() {
	local status
	status=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
	local p
	for p in "${PACKAGES[@]}"; do
		# A package may be listed once per architecture; any installed
		# instance is good enough.
		if ! grep -qE "^${p//+/\\+} install ok installed$" <<<"$status"; then
			echo "$p"
		fi
	done
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script needs a Debian-based host"

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

echo "deps.sh: missing packages: ${missing[*]}" >&2
[ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found"

export DEBIAN_FRONTEND=noninteractive
# Never prompt, never read stdin (CI runs us without one).
APT_OPTS=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

echo "deps.sh: running apt-get update" >&2
apt-get "${APT_OPTS[@]}" update </dev/null >&2 ||
	die "apt-get update failed"

echo "deps.sh: installing: ${missing[*]}" >&2
apt-get "${APT_OPTS[@]}" install --no-install-recommends "${missing[@]}" </dev/null >&2 ||
	die "apt-get install failed for: ${missing[*]}"

# Verify: apt-get can succeed while leaving something unconfigured.
mapfile -t still < <(missing_packages)
if [ "${#still[@]}" -ne 0 ]; then
	die "still not installed after apt-get: ${still[*]}"
fi
echo "deps.sh: all packages installed" >&2
