# SPDX-License-Identifier: GPL-2.0
# Sourced by the test runners (selftests/run.sh, stress/run.sh,
# debug/check.sh): count one suite's TAP results into $passed/$failed.

# tally NAME RC TAPFILE: a suite that died without reporting a failure
# still counts as one failed test; a suite that counts its own cases
# (KUnit's nested KTAP, a runner of runners) says "N passed, N failed"
# last, and that line counts instead of the ok/not ok lines.
tally() {
	local p f sum
	p=$(grep -cE '^ok ' "$3")
	f=$(grep -cE '^not ok ' "$3")
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
