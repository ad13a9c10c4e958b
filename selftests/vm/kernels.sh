#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Print the installed kernels the VM selftests support, one per line, sorted
# by version: 6.1.* and 6.12.* kernels that have both a bootable image
# (/boot/vmlinuz-$K) and a module build tree (/lib/modules/$K/build).
# Debian's PREEMPT_RT flavour of 6.1 (6.1.0-N-rt-amd64, from deps.sh) is
# one of them.
#
# Usage: selftests/vm/kernels.sh
set -euo pipefail

shopt -s nullglob
for img in /boot/vmlinuz-6.1.* /boot/vmlinuz-6.12.*; do
	k=${img#/boot/vmlinuz-}
	# The glob "6.1.*" cannot match 6.12.* or 6.10.* (the dot after "1"
	# is literal), so the two patterns never overlap.
	[ -f "$img" ] || continue
	[ -d "/lib/modules/$k/build" ] || continue
	echo "$k"
done | sort -V -u
