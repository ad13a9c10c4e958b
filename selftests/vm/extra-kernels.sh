#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernels of other Debian releases that make check boots besides the
# installed ones (kernels.sh): the newest 5.10 of Debian 11 (bullseye) and
# the newest 7.x of Debian 13's backports.  Each is fetched into the cache
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

for spec in 'bullseye|linux-image-(5\.10\.0-[0-9]+-amd64)-unsigned' \
	'trixie-backports|linux-binary-(7\.[0-9]+\.[0-9]+\+deb13-amd64)'; do
	suite=${spec%%|*}
	k=$(newest "$suite" "${spec#*|}")
	if [ -z "$k" ]; then
		echo "extra-kernels: nothing matches ${spec#*|} in $suite" >&2
		echo "${spec#*|} -"
		continue
	fi
	if root=$("$here/fetch-kernel.sh" "$suite" "$k" | tail -n1); then
		echo "$k $root"
	else
		echo "$k -"
	fi
done
