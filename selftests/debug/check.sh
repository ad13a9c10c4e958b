#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make debug-check`: the guest suites and a stress subset under the debug
# kernel (selftests/debug/kernel.sh: PREEMPT_RT, lockdep, atomic-sleep,
# PROVE_RCU, KASAN, kmemleak).  Any report of those, a soft lockup or an
# RCU stall in the guest's log fails the guest (run-vm.sh), a suspected
# leak after unload fails its kmemleak test (selftests/debug/guest.sh).
# Ends with "N passed, N failed".
#
#   selftests/debug/check.sh [GUEST-SUITE ...]
#   selftests/debug/check.sh --piece NAME
#
# The work is six pieces, each one guest (see PIECES below).  A run
# without arguments takes them in turn; make check (selftests/run.sh)
# runs them one at a time with --piece, beside its other jobs, so that
# both CPUs share the work.  With TCPTRACE_DEBUG_CLAIMS naming a
# directory shared by those runs, a failure to set up (the kernel build)
# is counted once: the runs after it find the marker and stop at once.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/selftests/out/debug
mkdir -p "$OUT"
passed=0
failed=0
only=
if [ "${1:-}" = --piece ]; then
	only=${2:?--piece needs a name}
	shift 2
fi
claims=${TCPTRACE_DEBUG_CLAIMS:-}
if [ -z "$claims" ]; then
	claims=$(mktemp -d)
	trap 'rm -rf "$claims"' EXIT
fi

# shellcheck source=selftests/tally.sh
. "$ROOT/selftests/tally.sh"

# setup_failed WHAT: one failure, counted once: the runs after it find
# the marker and do not try again
setup_failed() {
	echo "not ok - $1"
	touch "$claims/.setup-failed"
	echo "0 passed, 1 failed"
	exit 1
}
if [ -e "$claims/.setup-failed" ]; then
	echo "# an earlier debug run failed to set up: nothing to run here"
	echo "0 passed, 0 failed"
	exit 0
fi

t0=$SECONDS
tree=$(selftests/debug/kernel.sh | tail -n1) && [ -d "$tree" ] ||
	setup_failed "building the debug kernel"
root=${tree%/build}
k=$(cat "$root/release")
echo "# debug kernel $k ($tree), ready after $((SECONDS - t0)) s" \
	"(cold build: $(cat "$root/build-seconds") s)"
# one build at a time: another piece may start while this one builds
exec 8>"$OUT/.build.lock"
flock 8
make -s cli || setup_failed "building the CLI"
# a build directory per debug kernel build: the release string stays the
# same when the config changes, and a module built for another config
# (another HZ, another task_struct) must not look up to date
kbuild=$ROOT/build/debug-kernel-$(basename "$root")
if ! make -s module KVER="$k" KDIR="$tree" BUILD="$kbuild" >"$OUT/build.log" 2>&1; then
	cat "$OUT/build.log"
	setup_failed "build module for $k"
fi
# private copies, per run: a guest of another run may be reading its own
sb=build/debug-${only:-all}
mkdir -p "$sb"
cp "$kbuild/tcptrace.ko" "$sb/tcptrace.ko" && cp tools/tcpwhy "$sb/tcpwhy" ||
	setup_failed "copying the module and the CLI"
flock -u 8
export VM_KERNEL_ROOT=$root TCPTRACE_KDIR=$tree STRESS_BUILD=build/stress-debug-${only:-all}

# Under TCG kmemleak (a stack trace per allocation) makes this kernel 2.5
# times slower than with the other checks only.  So the guest suites (in
# four guests) and the stress subset below run with kmemleak off
# (lockdep, atomic-sleep, PROVE_RCU, KASAN and the lockup and stall
# detectors on), and the tests that load, fail, unload and leave
# namespaces behind with kmemleak on (the kmemleak guest: all the other
# checks are on there too, so they are not run twice).
STRESS_SUITES=(
	test_scope:scoped_reader_loss_exact,scoped_reader_bounded_under_storm
	test_packets
	test_device:read_sizes_alignment_and_faults,fault_leftover_stays_in_its_namespace
	test_concurrency:readers_killed_while_blocked
	test_overflow:overflow_without_reader_exact
	test_conntable:syn_flood_exhausts_table
)
LEAK_SUITES=(
	test_lifecycle:init_failures_with_racing_opener,namespaces_die_in_time_wait_then_unload
	test_scope:container_reader_never_sees_host_tasks
)
export VM_TIMEOUT=${VM_TIMEOUT:-3600}
# the tests' time bounds and long loops, scaled (selftests/tcptrace/lib.py)
export TCPTRACE_SLOWDOWN=5

# stress_run NAME KMEMLEAK SUITE...: a stress guest; its "N passed, N
# failed" counts.
stress_run() {
	local name=$1 leak=$2 rc sum f t0=$SECONDS
	shift 2
	# kmemleak saves a stack trace per allocation: storms paced there
	STRESS_TAG=-$name VM_APPEND=$([ "$leak" = 1 ] || echo kmemleak=off) \
		TCPTRACE_STORM_RATE=$([ "$leak" = 1 ] && echo 50 || echo 0) \
		TCPTRACE_GUEST_WRAP=$ROOT/selftests/debug/guest.sh \
		selftests/stress/run.sh --quick --kernel "$k" "$@" 2>&1 |
		tee "$OUT/$name.tap"
	rc=${PIPESTATUS[0]}
	sum=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT/$name.tap" | tail -n1)
	if [ -n "$sum" ]; then
		passed=$((passed + ${sum%% passed*}))
		f=${sum#*passed, }
		failed=$((failed + ${f%% failed}))
	elif [ "$rc" -ne 0 ]; then
		echo "not ok - debug $name: exited with $rc"
		failed=$((failed + 1))
	fi
	echo "# debug $name: $((SECONDS - t0)) s"
}

# guest_run NAME SUITE...: guest suites in one guest, kmemleak off
guest_run() {
	local name=$1 rc t0=$SECONDS
	shift
	VM_OUT_DIR=$OUT/vm-$name VM_APPEND=kmemleak=off \
		TCPTRACE_KO=$ROOT/$sb/tcptrace.ko \
		TCPTRACE_CLI=$ROOT/$sb/tcpwhy \
		selftests/vm/run-vm.sh "$k" "$ROOT/selftests/debug/guest.sh" \
		"$ROOT/selftests/guest.sh" "$@" 2>&1 | tee "$OUT/$name.tap"
	rc=${PIPESTATUS[0]}
	[ "$rc" -ne 99 ] || echo "not ok - kernel report in the debug guest's log, see $OUT/vm-$name" | tee -a "$OUT/$name.tap"
	tally "debug-$name" "$rc" "$OUT/$name.tap"
	echo "# debug $name: $((SECONDS - t0)) s"
}

# The pieces: every guest suite, whole (at 100 Hz this kernel runs them
# 3 to 8 times faster than it did at 1000 Hz, when only subsets fitted);
# make check orders them longest first itself (selftests/run.sh).
PIECES=(diag topology kmemleak stress foundation handshake)
piece() {
	case $1 in
	diag) guest_run diag test_diag test_edges ;;
	topology) guest_run topology test_topology ;;
	stress) stress_run stress 0 "${STRESS_SUITES[@]}" ;;
	kmemleak) stress_run kmemleak 1 "${LEAK_SUITES[@]}" ;;
	foundation) guest_run foundation test_foundation test_reasons ;;
	handshake) guest_run handshake test_handshake ;;
	esac
}

if [ -n "$only" ]; then
	case " ${PIECES[*]} " in
	*" $only "*) piece "$only" ;;
	*) echo "not ok - no debug piece $only (${PIECES[*]})"; failed=$((failed + 1)) ;;
	esac
elif [ $# -gt 0 ]; then
	guest_run guest "$@"
else
	for p in "${PIECES[@]}"; do
		echo "# === debug piece $p"
		piece "$p"
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
