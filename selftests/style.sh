#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Style gates as TAP: checkpatch --strict and sparse on the module, for
# every supported kernel.  checkpatch comes from Debian's linux-source-6.1,
# extracted once into /var/cache/tcptrace.
#   style.sh [checkpatch|sparse]   (default: both)
set -uo pipefail
cd "$(dirname "$0")/.."

CACHE=${TCPTRACE_CACHE:-/var/cache/tcptrace}
TARBALL=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n1)
CP=$CACHE/linux-source-6.1/scripts/checkpatch.pl
what=${1:-all}
n=0
failed=0

result() {	# result RC NAME LOGFILE
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		sed 's/^/# /' "$3"
		echo "not ok $n $2"
		failed=$((failed + 1))
	fi
}

checkpatch() {
	local log
	log=$(mktemp)
	if [ ! -f "$CP" ]; then
		[ -n "$TARBALL" ] || { echo "no linux-source-6.1 tarball" >"$log"; result 1 checkpatch "$log"; return; }
		mkdir -p "$CACHE"
		tar -C "$CACHE" -xf "$TARBALL" linux-source-6.1/scripts/checkpatch.pl \
			linux-source-6.1/scripts/spelling.txt \
			linux-source-6.1/scripts/const_structs.checkpatch
	fi
	# The module is kernel code: --strict, no exceptions.
	perl "$CP" --strict --no-tree --quiet --file module/*.c module/*.h \
		module/uapi/*.h module/tests/*.c >"$log" 2>&1
	rc=$?
	[ -s "$log" ] && rc=1
	result $rc "checkpatch --strict module/" "$log"
	# The CLI is userspace C in kernel style; user-visible strings stay
	# greppable whole, PRIu64 is libc's name, and userspace has no
	# compiler_attributes.h (__printf) or side-effect-free macro idiom
	# beyond the plain one.  checkpatch's exit status is that of its last
	# file only: any output is a finding.
	perl "$CP" --strict --no-tree --quiet \
		--ignore SPLIT_STRING,CAMELCASE,VOLATILE \
		--ignore PREFER_DEFINED_ATTRIBUTE_MACRO,MACRO_ARG_REUSE \
		--file tools/*.c tools/*.h >"$log" 2>&1
	rc=$?
	[ -s "$log" ] && rc=1
	result $rc "checkpatch --strict tools/" "$log"
	rm -f "$log"
}

sparse() {
	local k log
	log=$(mktemp)
	for k in $(selftests/vm/kernels.sh); do
		make -s module KVER="$k" >/dev/null 2>&1
		make -C "/lib/modules/$k/build" M="$PWD/build/$k" C=2 W=1 \
			modules >"$log" 2>&1
		! grep -E "warning|error" "$log" >/dev/null
		result $? "sparse+W=1 $k" "$log"
	done
	rm -f "$log"
}

echo "TAP version 13"
case $what in
checkpatch) checkpatch ;;
sparse) sparse ;;
*) checkpatch; sparse ;;
esac
echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
