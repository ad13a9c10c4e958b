#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernels of other Debian releases that make check boots besides the
# installed ones (kernels.sh): the newest 5.10 of Debian 11 (bullseye) and
# the newest 7.2 or 7.3 of Debian 13's backports (the range dkms.conf
# admits).  Each is fetched into the cache
# (fetch-kernel.sh; never installed) and printed as "KVER ROOT", one per
# line; a kernel that cannot be had is printed as "KVER -" with the reason
# on stderr.
#
# Usage: selftests/vm/extra-kernels.sh
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TCPTRACE_KERNEL_CACHE:-/var/cache/tcptrace}

# newest SUITE PATTERN: the newest package name matching the extended
# regular expression PATTERN in SUITE (its lists as fetch-kernel.sh keeps
# them), with the version part as the first group.
newest() {
	local suite=$1 re=$2 apt=$cache/apt-$1
	apt-cache -o "Dir::Etc::SourceList=$apt/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" \
		pkgnames 2>/dev/null | sed -nE "s/^$re\$/\\1/p" | sort -V | tail -n1
}

# today's lists: yesterday's newest may be gone from the archive
for suite in bullseye trixie-backports; do
	"$here/fetch-kernel.sh" "$suite" >/dev/null ||
		echo "extra-kernels: cannot update the $suite lists" >&2
done

# cached KRE: the newest kernel matching KRE fetched before, if any (the
# archive may be unreachable, or have dropped that ABI)
cached() {
	local k
	k=$(find "$cache/kernels" -mindepth 2 -maxdepth 2 -name complete \
		-printf '%h\n' 2>/dev/null | sed 's|.*/||' | grep -E "^$1\$" |
		sort -V | tail -n1)
	[ -n "$k" ] && echo "$k $cache/kernels/$k/root"
}

# suite | package name, its version as \1 | the kernel release alone
for spec in 'bullseye|linux-image-(5\.10\.0-[0-9]+-amd64)-unsigned|5\.10\.0-[0-9]+-amd64' \
	'trixie-backports|linux-binary-(7\.[23]\.[0-9]+\+deb13-amd64)|7\.[23]\.[0-9]+\+deb13-amd64'; do
	IFS='|' read -r suite pkgre kre <<<"$spec"
	k=$(newest "$suite" "$pkgre")
	if [ -n "$k" ] && root=$("$here/fetch-kernel.sh" "$suite" "$k" | tail -n1); then
		echo "$k $root"
	elif cached "$kre"; then
		echo "extra-kernels: ${k:-$kre} unavailable, using one fetched before" >&2
	else
		echo "extra-kernels: no kernel matching $kre in $suite" >&2
		echo "${k:-$kre} -"
	fi
done
