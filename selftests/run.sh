#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: every test.  Host-side tests first (CLI decoder, style),
# then, for every supported kernel (6.1, 6.1-rt and 6.12 installed; 5.10
# and 7.x fetched), build the module and run the module tests in a QEMU
# guest booting that kernel; beside them, the same under the debug kernel
# (selftests/debug/check.sh).  Ends with
# "N passed, N failed"; exits non-zero on any failure.
#
#   selftests/run.sh [TEST ...]     (TEST: a guest test name, to run only it)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/selftests/out
mkdir -p "$OUT"
passed=0
failed=0

# shellcheck source=selftests/tally.sh
. "$ROOT/selftests/tally.sh"

suite() {	# suite NAME CMD...
	local name=$1 rc
	shift
	echo "# === $name"
	"$@" 2>&1 | tee "$OUT/$name.tap"
	rc=${PIPESTATUS[0]}
	tally "$name" "$rc" "$OUT/$name.tap"
}

make -s cli || { echo "not ok - building the CLI"; echo "0 passed, 1 failed"; exit 1; }
export TCPTRACE_CLI=$ROOT/tools/tcptrace

suite cli python3 selftests/cli/test_cli.py
suite style selftests/style.sh
[ $# -gt 0 ] || suite kunit selftests/kunit/run.sh

# The debug kernel's run (selftests/debug/check.sh) is the longest part
# and needs one CPU: it runs beside the rest, after the load-sensitive
# KUnit run, and is counted last.
# Once the rest is done, this run takes the debug pieces not yet started
# (check.sh --steal), so both CPUs finish together.
debug_pid=
if [ $# -eq 0 ]; then
	export TCPTRACE_DEBUG_CLAIMS=$OUT/debug-claims
	rm -rf "$TCPTRACE_DEBUG_CLAIMS"
	mkdir -p "$TCPTRACE_DEBUG_CLAIMS"
	echo "# === debug (in the background: $OUT/debug.tap)"
	selftests/debug/check.sh >"$OUT/debug.tap" 2>&1 </dev/null &
	debug_pid=$!
fi

# A guest suite takes about 5 minutes; beside a cold build of the debug
# kernel (a fresh machine) it took 13.  The bound catches hangs.
guest_timeout=${VM_TIMEOUT:-1800}

kernels=$(selftests/vm/kernels.sh)
nk=$(echo "$kernels" | grep -c .)
if [ "$nk" -lt 3 ] || ! grep -q -- '-rt-' <<<"$kernels"; then
	echo "not ok - need 6.1, 6.1-rt and 6.12 kernels installed, found: $kernels"
	failed=$((failed + 1))
fi
# The PREEMPT_RT kernel runs every suite but test_topology: its NAT,
# bridge and forwarding cases take the module paths they take on 6.1, and
# the debug kernel (PREEMPT_RT with lockdep) runs DNAT, forwarding and a
# bridge (selftests/debug/check.sh).
RT_SUITES=(test_foundation test_handshake test_diag test_edges test_reasons)
for k in $kernels; do
	suites=("$@")
	if [ $# -eq 0 ] && [[ $k == *-rt-* ]]; then
		suites=("${RT_SUITES[@]}")
	fi
	if ! make -s module KVER="$k" >"$OUT/build-$k.log" 2>&1; then
		cat "$OUT/build-$k.log"
		echo "not ok - build module for $k"
		failed=$((failed + 1))
		continue
	fi
	TCPTRACE_KO=$ROOT/build/$k/tcptrace.ko VM_TIMEOUT=$guest_timeout \
		suite "guest-$k" selftests/vm/run-vm.sh "$k" \
		"$ROOT/selftests/guest.sh" "${suites[@]}"
done

# Kernels of other Debian releases, fetched into a cache, never installed
# (selftests/vm/extra-kernels.sh): Debian 11's 5.10, Debian 13's newest 7.x
# (built in a trixie chroot, selftests/vm/build-chroot.sh).
mapfile -t extra < <(selftests/vm/extra-kernels.sh)
for line in "${extra[@]}"; do
	read -r k root <<<"$line"
	if [ "$root" = - ]; then
		echo "not ok - fetch kernel $k"
		failed=$((failed + 1))
		continue
	fi
	if ! make -s module KVER="$k" >"$OUT/build-$k.log" 2>&1; then
		cat "$OUT/build-$k.log"
		echo "not ok - build module for $k"
		failed=$((failed + 1))
		continue
	fi
	VM_KERNEL_ROOT=$root TCPTRACE_KO=$ROOT/build/$k/tcptrace.ko \
		VM_TIMEOUT=$guest_timeout \
		suite "guest-$k" selftests/vm/run-vm.sh "$k" \
		"$ROOT/selftests/guest.sh" "$@"
done

if [ $# -eq 0 ]; then
	suite fuzz ./fuzz/run.sh --seconds 20
	suite stress selftests/stress/run.sh --quick
	suite packaging selftests/packaging/run.sh
	suite bench-quick selftests/bench/bench.sh --quick
fi

if [ -n "$debug_pid" ]; then
	echo "# === debug: the pieces not started yet, here"
	suite debug-stolen selftests/debug/check.sh --steal
	echo "# === debug"
	wait "$debug_pid"
	rc=$?
	cat "$OUT/debug.tap"
	tally debug "$rc" "$OUT/debug.tap"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
