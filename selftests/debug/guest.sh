#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside a debug-kernel guest (selftests/debug/check.sh): a guest
# script (the module suites or the stress suites) with kmemleak watching.
#
#   guest.sh SCRIPT [ARGS...]
#
# Before: kmemleak forgets what boot left (echo clear).  After: the module
# is unloaded, kmemleak scans (twice: an object is reported only once it
# was seen unreferenced by two scans), and every suspected leak is a
# failed test, printed with its backtrace.  Lockdep, atomic-sleep, KASAN,
# RCU-stall and soft-lockup reports land in the kernel log, which
# run-vm.sh checks.
set -uo pipefail
KML=/sys/kernel/debug/kmemleak

if grep -qw 'kmemleak=off' /proc/cmdline; then
	# a run without it, for speed: the other checks still apply
	echo "# kmemleak off in this guest"
	"$@"
	exit
fi
if [ ! -w $KML ]; then
	echo "not ok - kmemleak: $KML missing (kernel without DEBUG_KMEMLEAK?)"
	exit 1
fi
echo clear >$KML
"$@"
rc=$?
rmmod tcptrace 2>/dev/null
# objects freed by RCU callbacks and deferred work after the unload
sleep 2
echo scan >$KML
sleep 1
echo scan >$KML
leaks=$(grep -c '^unreferenced object' $KML)
if [ "$leaks" -eq 0 ]; then
	echo "ok - kmemleak: no leak suspected after unload"
else
	echo "not ok - kmemleak: $leaks suspected leaks after unload"
	sed 's/^/# /' $KML | head -n 200
	cp $KML "${VM_OUT:-/tmp}/kmemleak.txt" 2>/dev/null
	rc=1
fi
exit $rc
