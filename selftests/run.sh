#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: every test.  Host-side tests first (CLI decoder, style),
# then, for every supported kernel (6.1 and 6.12), build the module and run
# the module tests in a QEMU guest booting that kernel.  Ends with
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

# count TAP results of one suite; a suite that died without reporting a
# failure still counts as one failed test
tally() {	# tally NAME RC TAPFILE
	local p f sum
	p=$(grep -cE '^ok ' "$3")
	f=$(grep -cE '^not ok ' "$3")
	# a suite that counts its own cases (KUnit: nested KTAP) says so last
	sum=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$3" | tail -n1)
	if [ -n "$sum" ]; then
		p=${sum%% passed*}
		f=${sum#*passed, }
		f=${f%% failed}
	fi
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $1: exited with $2"
		f=1
	fi
	echo "# $1: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
}

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

kernels=$(selftests/vm/kernels.sh)
nk=$(echo "$kernels" | grep -c .)
if [ "$nk" -lt 2 ]; then
	echo "not ok - need 6.1 and 6.12 kernels installed, found: $kernels"
	failed=$((failed + 1))
fi
for k in $kernels; do
	if ! make -s module KVER="$k" >"$OUT/build-$k.log" 2>&1; then
		cat "$OUT/build-$k.log"
		echo "not ok - build module for $k"
		failed=$((failed + 1))
		continue
	fi
	TCPTRACE_KO=$ROOT/build/$k/tcptrace.ko \
		suite "guest-$k" selftests/vm/run-vm.sh "$k" \
		"$ROOT/selftests/guest.sh" "$@"
done

if [ $# -eq 0 ]; then
	suite fuzz ./fuzz/run.sh --seconds 30
	suite stress selftests/stress/run.sh --quick
	suite packaging selftests/packaging/run.sh
	suite bench-quick selftests/bench/bench.sh --quick
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
